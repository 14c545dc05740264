#!/usr/bin/env bash
# /metrics: promtool accepts it, the handshake counter matches the handshakes edgetls-bench
# completed, and a real Prometheus started here on loopback scrapes it and returns the counter
# through its HTTP query API. Skipped when Debian's prometheus package is not installed.
# arguments: as lib.sh, then the edgetls-bench binary
source "$(dirname "$0")/lib.sh" "$@"
BENCH=${6:?edgetls-bench}
command -v promtool >/dev/null && command -v prometheus >/dev/null || { echo "skip: no prometheus"; exit 77; }
make_pki
D=$TMP/pki
MPORT=$(free_port)
start_control --metrics-listen "127.0.0.1:$MPORT"
ctl cert add www --chain "$D/old.pem" --key "$D/old.key" >/dev/null || fail "cert add"
PORT=$(free_port)
start_edgetls --control "$DPSOCK" --state-dir "$STATE" --listen "127.0.0.1:$PORT" --workers 2
wait_synced
N=300
"$BENCH" hs "127.0.0.1:$PORT" --sni www.example.test --count "$N" --concurrency 8 --request --json >"$TMP/bench.json" 2>"$TMP/bench.err" ||
    fail "edgetls-bench: $(cat "$TMP/bench.err")"
done_n=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["completed"])' "$TMP/bench.json")
[ "$done_n" = "$N" ] || fail "bench completed $done_n of $N"
curl -sf "http://127.0.0.1:$MPORT/metrics" >"$TMP/metrics" || fail "GET /metrics"
promtool check metrics <"$TMP/metrics" >"$TMP/promtool.out" 2>&1 || fail "promtool: $(cat "$TMP/promtool.out")"
got=$(awk '/^edgetls_handshakes_total\{.*outcome="ok"/ {s += $2} END {print s + 0}' "$TMP/metrics")
[ "$got" = "$N" ] || fail "handshakes_total ok = $got, bench completed $N: $(grep handshakes "$TMP/metrics")"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/nope")
[ "$code" = 404 ] || fail "unknown path answered $code"
pass "promtool accepts /metrics; handshake counter = $N = bench"

PPORT=$(free_port)
cat >"$TMP/prom.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: edgetls
    static_configs:
      - targets: ['127.0.0.1:$MPORT']
YML
start_bg prometheus prometheus --config.file="$TMP/prom.yml" --storage.tsdb.path="$TMP/prom-data" \
    --web.listen-address="127.0.0.1:$PPORT"
q='sum(edgetls_handshakes_total{outcome="ok"})'
for i in $(seq 1 60); do
    v=$(curl -sf "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$q" 2>/dev/null |
        python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null || true)
    [ "$v" = "$N" ] && break
    sleep 0.5
done
[ "$v" = "$N" ] || fail "Prometheus query returned '$v' (want $N): $(tail -5 "$TMP/prometheus.out")"
pass "a real Prometheus scraped /metrics and returned $q = $N"
