#!/usr/bin/env bash
# /metrics: promtool accepts it; the labelled handshake counters match what the clients did
# (edgetls-bench full handshakes with a known suite and group, resumed ones, an openssl s_client
# HelloRetryRequest), failed handshakes and the alerts sent for garbage and a bad ClientHello,
# the clients' close_notify among the alerts received, the latency histogram's count equals the
# completed handshakes; and a real Prometheus started here on loopback scrapes it and returns the
# counters through its HTTP query API. Skipped when Debian's prometheus package is not installed.
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
start_edgetls --control "$DPSOCK" --state-dir "$STATE" --listen "127.0.0.1:$PORT" --workers 2 \
    --ciphers TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384,TLS_CHACHA20_POLY1305_SHA256
wait_synced

bench_json() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$TMP/bench.json" "$1"; }
# Sum of the samples of metric $1 whose labels include every label="value" given after it.
msum() {
    python3 - "$TMP/metrics" "$@" <<'PY'
import re, sys
path, name, want = sys.argv[1], sys.argv[2], sys.argv[3:]
total = 0
for line in open(path):
    m = re.match(r'^([a-z_]+)\{(.*)\} (\S+)$', line.strip())
    if not m or m.group(1) != name:
        continue
    labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
    if all(labels.get(k) == v for k, v in (w.split('=', 1) for w in want)):
        total += float(m.group(3))
print(int(total) if total == int(total) else total)
PY
}
scrape() {
    curl -sf "http://127.0.0.1:$MPORT/metrics" >"$TMP/metrics" || fail "GET /metrics"
    promtool check metrics <"$TMP/metrics" >"$TMP/promtool.out" 2>&1 || fail "promtool: $(cat "$TMP/promtool.out")"
}
expect() { # what got want
    [ "$2" = "$3" ] || fail "$1 = $2, want $3: $(grep -E '^edgetls_(handshakes|alerts)' "$TMP/metrics" | head -40)"
}

# 1. Full handshakes with a suite and group that nothing else below uses.
N=300
"$BENCH" hs "127.0.0.1:$PORT" --sni www.example.test --count "$N" --concurrency 8 --request --json \
    --suite TLS_CHACHA20_POLY1305_SHA256 --group p256 >"$TMP/bench.json" 2>"$TMP/bench.err" ||
    fail "edgetls-bench: $(cat "$TMP/bench.err")"
[ "$(bench_json completed)" = "$N" ] || fail "bench completed $(bench_json completed) of $N"
# 2. Resumed handshakes (the first of each thread is full: it waits for its ticket).
M=60
"$BENCH" hs "127.0.0.1:$PORT" --sni www.example.test --count "$M" --concurrency 1 --resume --json \
    --suite TLS_AES_256_GCM_SHA384 >"$TMP/bench.json" 2>"$TMP/bench.err" || fail "edgetls-bench --resume: $(cat "$TMP/bench.err")"
[ "$(bench_json completed)" = "$M" ] || fail "resume bench completed $(bench_json completed) of $M"
R=$(bench_json resumed)
[ "$R" -gt 0 ] || fail "the bench resumed no handshake"
# 2b. TLS 1.2 full handshakes (a suite only TLS 1.2 has, so its own label).
K=40
"$BENCH" hs "127.0.0.1:$PORT" --sni www.example.test --count "$K" --concurrency 4 --tls12 --json \
    --suite ECDHE-ECDSA-CHACHA20-POLY1305 >"$TMP/bench.json" 2>"$TMP/bench.err" || fail "edgetls-bench --tls12: $(cat "$TMP/bench.err")"
[ "$(bench_json completed)" = "$K" ] || fail "TLS 1.2 bench completed $(bench_json completed) of $K"
# 3. HelloRetryRequest: the client's only key share is X448, which edgetls does not implement;
# it also offers X25519, so edgetls asks for that share and the handshake completes.
echo Q | openssl s_client -connect "127.0.0.1:$PORT" -servername www.example.test -tls1_3 -groups X448:X25519 \
    -ciphersuites TLS_AES_128_GCM_SHA256 >"$TMP/hrr.out" 2>&1 || true
grep -q "TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256" "$TMP/hrr.out" || fail "s_client HRR handshake: $(tail -5 "$TMP/hrr.out")"
# 3b. One TLS 1.2 handshake: its own version, suite and label values (P-256 offered too: in TLS 1.2
# supported_groups also limits the curve of the ECDSA certificate, RFC 8422 §5.1.1).
echo Q | openssl s_client -connect "127.0.0.1:$PORT" -servername www.example.test -tls1_2 -groups X25519:P-256 \
    -cipher ECDHE-ECDSA-AES256-GCM-SHA384 >"$TMP/tls12.out" 2>&1 || true
grep -q "TLSv1.2, Cipher is ECDHE-ECDSA-AES256-GCM-SHA384" "$TMP/tls12.out" || fail "s_client TLS 1.2 handshake: $(grep -E "New,|alert|error|Cipher" "$TMP/tls12.out")"
# 4. Garbage (an HTTP request on the TLS port: not a record type) and a ClientHello cut short
# (a 4-byte body: decode_error). Each gets its alert back before the connection closes.
python3 - "$PORT" <<'PY' || fail "bad clients: no alert came back"
import socket, sys
def alert_for(data):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    s.sendall(data)
    got = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        got += b
    s.close()
    return got[:7]
assert alert_for(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") == bytes([21, 3, 3, 0, 2, 2, 10]), "unexpected_message"
assert alert_for(bytes([22, 3, 1, 0, 8, 1, 0, 0, 4, 3, 3, 0, 0])) == bytes([21, 3, 3, 0, 2, 2, 50]), "decode_error"
PY

scrape
OK_TOTAL=$((N + M + K + 2))
expect "handshakes_total ok" "$(msum edgetls_handshakes_total outcome=ok)" "$OK_TOTAL"
expect "ok chacha20/secp256r1/ecdsa/full" "$(msum edgetls_handshakes_total outcome=ok version=TLSv1.3 \
    suite=TLS_CHACHA20_POLY1305_SHA256 group=secp256r1 scheme=ecdsa_secp256r1_sha256 kind=full)" "$N"
expect "ok aes256 resumed (scheme none)" "$(msum edgetls_handshakes_total outcome=ok suite=TLS_AES_256_GCM_SHA384 \
    group=x25519 scheme=none kind=resumed)" "$R"
expect "ok aes256 full" "$(msum edgetls_handshakes_total outcome=ok suite=TLS_AES_256_GCM_SHA384 kind=full)" "$((M - R))"
expect "ok TLS 1.2 chacha20/x25519/ecdsa/full" "$(msum edgetls_handshakes_total outcome=ok version=TLSv1.2 \
    suite=TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 group=x25519 scheme=ecdsa_secp256r1_sha256 kind=full)" "$K"
expect "ok hrr" "$(msum edgetls_handshakes_total outcome=ok kind=hrr)" 1
expect "ok hrr x25519 aes128" "$(msum edgetls_handshakes_total outcome=ok kind=hrr group=x25519 \
    suite=TLS_AES_128_GCM_SHA256 scheme=ecdsa_secp256r1_sha256)" 1
expect "ok TLS 1.2" "$(msum edgetls_handshakes_total outcome=ok version=TLSv1.2 \
    suite=TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 group=x25519 scheme=ecdsa_secp256r1_sha256 kind=full)" 1
expect "failed, nothing negotiated" "$(msum edgetls_handshakes_total outcome=failed version=none suite=none \
    group=none scheme=none kind=full)" 2
expect "failed" "$(msum edgetls_handshakes_total outcome=failed)" 2
expect "alerts_sent unexpected_message" "$(msum edgetls_alerts_sent_total description=unexpected_message)" 1
expect "alerts_sent decode_error" "$(msum edgetls_alerts_sent_total description=decode_error)" 1
# Every bench connection ends with the client's close_notify (s_client's may race its FIN).
cn=$(msum edgetls_alerts_received_total description=close_notify)
[ "$cn" -ge $((N + M + K)) ] && [ "$cn" -le $((N + M + K + 2)) ] || fail "close_notify received $cn, want $((N + M + K)) (+2)"
expect "histogram count" "$(msum edgetls_handshake_duration_seconds_count)" "$OK_TOTAL"
expect "histogram +Inf bucket" "$(msum edgetls_handshake_duration_seconds_bucket le=+Inf)" "$OK_TOTAL"
sum=$(msum edgetls_handshake_duration_seconds_sum)
python3 -c "import sys; s=float(sys.argv[1]); sys.exit(0 if 0 < s < $OK_TOTAL * 5 else 1)" "$sum" || fail "latency sum $sum"
fill=$(msum edgetls_crypto_batch_fill_count)
[ "$fill" -gt 0 ] && [ "$(msum edgetls_crypto_batch_fill_sum)" -ge "$fill" ] || fail "batch fill count $fill"
expect "accepted" "$(msum edgetls_connections_accepted_total)" "$((N + M + K + 4))"
# edgetlsctl stats shows the labelled lines as they are (keys within its 127 characters).
ctl stats >"$TMP/stats.txt" || fail "edgetlsctl stats"
grep -qE '^  worker\.[01]\.hs:ok:TLSv1\.3:TLS_CHACHA20_POLY1305_SHA256:secp256r1:ecdsa_secp256r1_sha256:full +[0-9]+$' \
    "$TMP/stats.txt" || fail "edgetlsctl stats: no labelled handshake line: $(head -20 "$TMP/stats.txt")"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/nope")
[ "$code" = 404 ] || fail "unknown path answered $code"
pass "promtool accepts /metrics; handshakes by suite/group/scheme/kind, failures, alerts and latency match the clients"

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
# query WANT EXPR: waits (up to 30 s) for Prometheus to return WANT
query() {
    local v= i
    for i in $(seq 1 60); do
        v=$(curl -sf "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$2" 2>/dev/null |
            python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null || true)
        [ "$v" = "$1" ] && return 0
        sleep 0.5
    done
    fail "Prometheus query $2 returned '$v' (want $1): $(tail -5 "$TMP/prometheus.out")"
}
query "$N" 'sum(edgetls_handshakes_total{outcome="ok",suite="TLS_CHACHA20_POLY1305_SHA256",group="secp256r1"})'
query "$R" 'sum(edgetls_handshakes_total{outcome="ok",kind="resumed"})'
query "$OK_TOTAL" 'sum(edgetls_handshake_duration_seconds_count)'
query 1 'sum(edgetls_alerts_sent_total{description="decode_error"})'
pass "a real Prometheus scraped /metrics and returned the handshakes by suite and group ($N), resumed ($R), the histogram count and an alert"
