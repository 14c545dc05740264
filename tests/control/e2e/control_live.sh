#!/usr/bin/env bash
# Live replace under load (io_uring): edgetls-bench hs --verify at full load for 10 s while the
# certificate of the name under load is replaced 50 times and the ticket key rotated: no failed
# handshake (a mixed chain/key would fail verification), and after the last commit new handshakes
# see only the last chain. Prints the commit -> last-worker propagation p50/p99.
# arguments: as lib.sh, then the edgetls-bench binary
source "$(dirname "$0")/lib.sh" "$@"
BENCH=${6:?edgetls-bench}
make_pki
D=$TMP/pki
start_control
ctl cert add www --chain "$D/old.pem" --key "$D/old.key" >/dev/null || fail "cert add"
PORT=$(free_port)
start_edgetls --control "$DPSOCK" --state-dir "$STATE" --listen "127.0.0.1:$PORT" --workers 2
wait_synced
secs=10
[ "$SANITIZED" = 1 ] && secs=6
"$BENCH" hs "127.0.0.1:$PORT" --sni www.example.test --verify --cacert "$CA" --concurrency 16 \
    --duration "$secs" --json >"$TMP/bench.json" 2>"$TMP/bench.err" &
BPID=$!
PIDS+=("$BPID")
sleep 0.5
n=0
for i in $(seq 1 50); do
    g=new; [ $((i % 2)) = 0 ] && g=old
    ctl cert replace www --chain "$D/$g.pem" --key "$D/$g.key" >/dev/null || fail "replace $i"
    n=$((n + 1))
    [ "$i" = 25 ] && { ctl ticket rotate >/dev/null || fail "ticket rotate"; }
    sleep 0.1
done
wait "$BPID" || fail "edgetls-bench failed: $(cat "$TMP/bench.err")"
python3 - "$TMP/bench.json" <<'PY' || fail "handshakes failed during live replaces: $(cat "$TMP/bench.json")"
import json, sys
r = json.load(open(sys.argv[1]))
print("bench: %d handshakes, %d errors, %.0f/s" % (r["completed"], r["errors"]["total"], r["completed"] / r["elapsed_s"]))
sys.exit(0 if r["completed"] > 0 and r["errors"]["total"] == 0 else 1)
PY
wait_synced
[ "$(served_fp www.example.test)" = "$FP_OLD" ] || fail "after the last commit the last chain is not served"
ctl --json status | python3 -c '
import json, sys
p = json.load(sys.stdin)["propagation_ms"]
print("propagation commit -> last worker: %d samples, p50 %.1f ms, p99 %.1f ms" % (p["samples"], p["p50"], p["p99"]))
sys.exit(0 if p["samples"] >= 40 else 1)' || fail "propagation not measured"
pass "$n live replaces + a ticket rotation under load: 0 failed handshakes"
