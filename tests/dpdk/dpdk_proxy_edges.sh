#!/bin/bash
# Proxy mode over DPDK, the edges of the backend ring (dataplane/dpdk/backend.c):
#  - a backend that refuses the connection: the client is closed at once, and the failure is
#    counted (bk_errors 1, errors 1);
#  - half-close forwarded both ways: the client's close_notify reaches an echo backend as a
#    FIN, and the backend's FIN comes back as close_notify;
#  - an idle proxied connection (its backend recv waiting in the kernel) costs no system call:
#    bk_syscalls stands still while it waits;
#  - a client that resets while the proxy's send to its backend waits in the kernel (the
#    backend, busy with the idle client, does not read);
#  - many short proxied connections in a row over 8 slots, every other one reset by the client
#    while backend operations are in flight, so slots are reused while completions of their
#    previous connection are due; the completed ones must be byte-exact, nothing may be
#    counted as a backend error, operations must have been cancelled (bk_cancels), and every
#    connection must be released.
. "$(dirname "$0")/lib.sh"

CHURN=${DPDK_CHURN:-40}
make_cert

# stop: stop_dpdk, and no sanitizer report in the log (it is emptied by the next start).
stop() {
    stop_dpdk
    ! grep -Eq "runtime error|Sanitizer" "$WORK/dpdk.log" || fail "sanitizer report"
}

# counter NAME: worker 0's counter NAME from telemetry.
counter() {
    python3 "$CLIENT_PY" telemetry "$PREFIX" /edgetls/worker,0 |
        python3 -c 'import json, sys; print(list(json.load(sys.stdin).values())[0][sys.argv[1]])' "$1"
}

start_dpdk --listen "$DPDK_ADDR:8443" --cert "$WORK/cert.pem" --key "$WORK/key.pem" \
    --mode proxy --backend 127.0.0.1:9001
out=$(in_ns timeout 20 python3 "$CLIENT_PY" tls-wait-close "$DPDK_ADDR" 8443 5) || fail "client"
echo "refused backend: $(echo "$out" | tail -1)"
case "$out" in *"close_notify after "[01].*|*"eof after "[01].*|*"reset after "[01].*) ;;
    *) fail "the client was not closed when the backend refused: $out" ;; esac
[ "$(counter bk_errors)" = 1 ] || fail "bk_errors is $(counter bk_errors), expected 1"
stop
grep -q " errors 1 " "$WORK/dpdk.log" || fail "the failed backend was not counted in errors"

ip netns exec "$NS" python3 "$CLIENT_PY" echo-backend 9002 > "$WORK/echo.log" 2>&1 &
BG_PIDS="$!"
ip netns exec "$NS" python3 "$CLIENT_PY" backend 9000 > "$WORK/backend.log" 2>&1 &
BG_PIDS="$BG_PIDS $!"
for _ in $(seq 50); do grep -q listening "$WORK/backend.log" && grep -q listening "$WORK/echo.log" && break; sleep 0.1; done
start_dpdk --listen "$DPDK_ADDR:8443" --cert "$WORK/cert.pem" --key "$WORK/key.pem" \
    --mode proxy --backend 127.0.0.1:9002
in_ns timeout 30 python3 "$CLIENT_PY" proxy-halfclose "$DPDK_ADDR" 8443 100000 || fail "half-close"
stop > /dev/null
start_dpdk --listen "$DPDK_ADDR:8443" --cert "$WORK/cert.pem" --key "$WORK/key.pem" \
    --mode proxy --backend 127.0.0.1:9000 --max-connections 8

# The backend waits for the idle client's header, and edgetls' recv from it waits with it.
ip netns exec "$NS" python3 "$CLIENT_PY" tls-wait-close "$DPDK_ADDR" 8443 30 > "$WORK/idle.log" 2>&1 &
client=$!
for _ in $(seq 50); do grep -q ready "$WORK/idle.log" && break; sleep 0.1; done
grep -q ready "$WORK/idle.log" || fail "the idle client did not connect"
sleep 0.5
s0=$(counter bk_syscalls)
sleep 1
s1=$(counter bk_syscalls)
echo "idle proxied connection: bk_syscalls $s0 -> $s1 over 1 s"
[ "$s0" -gt 0 ] || fail "no backend system call counted at all"
[ "$s0" = "$s1" ] || fail "system calls while the only connection was idle: $s0 -> $s1"
in_ns timeout 20 python3 "$CLIENT_PY" proxy-stall "$DPDK_ADDR" 8443 1 || fail "stalled upload"
kill "$client"
wait "$client" 2> /dev/null

in_ns timeout 150 python3 "$CLIENT_PY" proxy-churn "$DPDK_ADDR" 8443 "$CHURN" || fail "churn"
in_ns timeout 60 python3 "$CLIENT_PY" proxy "$DPDK_ADDR" 8443 1000003 1000033 || fail "transfer after the churn"
for _ in $(seq 50); do [ "$(counter active)" = 0 ] && break; sleep 0.1; done
[ "$(counter active)" = 0 ] || fail "$(counter active) connections still active"
[ "$(counter bk_errors)" = 0 ] || fail "bk_errors $(counter bk_errors) after the churn"
[ "$(counter bk_cancels)" -gt 0 ] || fail "no connection ended with backend operations in flight"
echo "backend sockets closed with operations in flight: $(counter bk_cancels)"
echo "backend system calls: $(counter bk_syscalls) for $((CHURN + 3)) proxied connections"
stop
grep -q "accepted $((CHURN + 3)) " "$WORK/dpdk.log" || fail "expected $((CHURN + 3)) connections"
echo "PASS: refused backend, half-close, idle without system calls, $CHURN proxied connections with resets over 8 slots"
