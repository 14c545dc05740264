#!/usr/bin/env bash
# Bad input over the network, all against one edgetls (responder, handshake_timeout 2 s):
#  * a client that sends a real ClientHello, reads the server flight and stalls: closed after
#    about handshake_timeout, while 5 curl requests are served meanwhile;
#  * non-TLS and malformed TLS (HTTP text, random bytes, SSLv2, an oversized record, a bad
#    handshake body, records out of order, a second ClientHello): each gets an alert record or a
#    close (record_overflow for the oversized record), never a hang;
#  * ClientHellos truncated at several points then FIN, or RST;
#  * 240 connections reset before any byte, mid-ClientHello, or after the handshake with
#    pipelined requests in flight; 200 connections held open silently at once;
# afterwards edgetls is alive, has no connection left open, a fresh curl works, and SIGTERM
# exits 0. (interop_eof_partial_hello checks strictly that a FIN/RST after a partial
# ClientHello closes the connection at once.)
source "$(dirname "$0")/lib.sh" "$@"
make_ca
make_leaf ec ec localhost localhost IP:127.0.0.1
HS=2
PORT=$(free_port)
start_edgetls srv --listen "127.0.0.1:$PORT" --cert "$PKI/ec.pem" --key "$PKI/ec.key" \
    --mode responder --handshake-timeout "${HS}s" --idle-timeout 30s
SPID=$EPID
export BAD_TIMEOUT=$((15 * SLOW))
BAD=(timeout $((120 * SLOW)) python3 "$IDIR/badclient.py")
CURL=(curl -sS --max-time $((10 * SLOW)) --cacert "$CA" --resolve "localhost:$PORT:127.0.0.1")

start_bg stall "${BAD[@]}" stall "$PORT" "$CA" "$HS"
STALL=$BGPID
sleep 0.3
for i in 1 2 3 4 5; do
    "${CURL[@]}" "https://localhost:$PORT/$i" -o "$TMP/c$i.out" || fail "curl $i while a client stalls"
    grep -q "hello from edgetls" "$TMP/c$i.out" || fail "curl $i: body"
done
pass "5 requests served while a client stalls mid-handshake"
wait "$STALL" || fail "stalled client: $(cat "$TMP/stall.out")"
secs=$(sed -n 's/.*closed after \([0-9.]*\) s.*/\1/p' "$TMP/stall.out")
python3 -c "import sys; s=float('$secs'); sys.exit(0 if $HS*0.7 <= s <= $HS*2.5+2*$SLOW else 1)" ||
    fail "stalled handshake closed after $secs s (handshake_timeout ${HS} s)"
pass "stalled handshake closed after $secs s"

"${BAD[@]}" garbage "$PORT" >"$TMP/garbage.out" 2>&1 || fail "garbage: $(cat "$TMP/garbage.out")"
cat "$TMP/garbage.out"
grep -q "^huge-record: alert 22" "$TMP/garbage.out" || fail "oversized record: expected record_overflow (22)"
grep -q "^bad-handshake-body: alert 50" "$TMP/garbage.out" || fail "malformed ClientHello: expected decode_error (50)"
[ "$(grep -c ': alert\|: close\|: flight+close' "$TMP/garbage.out")" = 12 ] || fail "garbage: 12 reactions expected"
pass "garbage inputs: alert or close each"

"${BAD[@]}" truncated "$PORT" >"$TMP/trunc.out" 2>&1 || fail "truncated: $(cat "$TMP/trunc.out")"
[ "$(grep -c 'then FIN: close' "$TMP/trunc.out")" = 5 ] || fail "truncated: $(cat "$TMP/trunc.out")"
pass "truncated ClientHellos then FIN / RST: closed"

"${BAD[@]}" resets "$PORT" "$CA" 240 >"$TMP/resets.out" 2>&1 || fail "resets: $(cat "$TMP/resets.out")"
cat "$TMP/resets.out"
python3 - "$PORT" "$((10 * SLOW))" <<'PY' >"$TMP/hold.out" 2>&1 || fail "holding connections: $(cat "$TMP/hold.out")"
import socket, subprocess, sys
port, t = int(sys.argv[1]), sys.argv[2]
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(200)]
print("holding", len(held))
for s in held:
    s.close()
PY
pass "240 reset connections and 200 silent ones at once"

# Everything half-open ends by handshake_timeout at the latest: no connection may remain.
sleep $((HS + 1))
alive "$SPID" || fail "edgetls died"
for i in $(seq 1 $((50 * SLOW))); do
    kill -USR1 "$SPID"
    sleep 0.2
    tail -1 "$TMP/srv.log" | grep -q " active 0 " && break
done
tail -1 "$TMP/srv.log" | grep -q " active 0 " || fail "connections left open: $(tail -1 "$TMP/srv.log")"
"${CURL[@]}" "https://localhost:$PORT/after" -o "$TMP/after.out" || fail "fresh curl after the abuse"
grep -q "hello from edgetls" "$TMP/after.out" || fail "fresh curl: body"
pass "afterwards: alive, no connection left, a fresh curl works"
stop_edgetls "$SPID" 10
[ "$ESTATUS" = 0 ] || fail "exit status $ESTATUS on SIGTERM"
grep -q "handshakes 86 " "$TMP/srv.log" || fail "handshake count: $(tail -1 "$TMP/srv.log")"
tail -1 "$TMP/srv.log"
pass "SIGTERM: exit 0"
