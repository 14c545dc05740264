#!/bin/bash
# Connection lifecycle over DPDK: a client that never starts its handshake is dropped at the
# handshake timeout; an established TLS connection that stays quiet gets close_notify at the
# idle timeout; and on SIGTERM an open TLS connection gets close_notify before a clean exit.
. "$(dirname "$0")/lib.sh"

make_cert
start_dpdk --listen "$DPDK_ADDR:8443" --cert "$WORK/cert.pem" --key "$WORK/key.pem" \
    --mode echo --handshake-timeout 1s --idle-timeout 2s
out=$(in_ns python3 "$CLIENT_PY" wait-close "$DPDK_ADDR" 8443 8) || fail "client"
echo "no handshake: $out"
case "$out" in *"reset after "[12].*|*"eof after "[12].*) ;; *) fail "handshake timeout: $out" ;; esac
out=$(in_ns python3 "$CLIENT_PY" tls-wait-close "$DPDK_ADDR" 8443 8) || fail "client"
echo "idle: $out"
case "$out" in *"close_notify after "[23].*) ;; *) fail "idle timeout: $out" ;; esac
stop_dpdk
grep -q "hs_failures 1 " "$WORK/dpdk.log" || fail "the handshake timeout was not counted"

start_dpdk --listen "$DPDK_ADDR:8443" --cert "$WORK/cert.pem" --key "$WORK/key.pem" --mode echo
ip netns exec "$NS" python3 "$CLIENT_PY" tls-wait-close "$DPDK_ADDR" 8443 10 > "$WORK/idle.log" 2>&1 &
client=$!
for _ in $(seq 50); do grep -q ready "$WORK/idle.log" && break; sleep 0.1; done
sleep 0.3
stop_dpdk
wait "$client"
echo "shutdown: $(tail -1 "$WORK/idle.log")"
grep -q "close_notify after" "$WORK/idle.log" || fail "no close_notify on shutdown"
echo "PASS: handshake timeout, idle timeout and graceful shutdown over DPDK"
