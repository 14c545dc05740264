#!/bin/bash
# Two worker lcores, one queue pair each, on one net_tap port: 16 concurrent TLS 1.3 echo
# connections must all complete byte-exact, and (the kernel spreads tap flows over the queues
# by flow hash) both workers must have served some of them.
. "$(dirname "$0")/lib.sh"

[ "$(nproc)" -ge 2 ] || skip "needs 2 CPUs for 2 lcores"
make_cert
DPDK_LCORES=0-1 start_dpdk --listen "$DPDK_ADDR:8443" --cert "$WORK/cert.pem" \
    --key "$WORK/key.pem" --mode echo
pids=
for i in $(seq 16); do
    ip netns exec "$NS" timeout 60 python3 "$CLIENT_PY" tls-echo "$DPDK_ADDR" 8443 262144 \
        > "$WORK/client$i.log" 2>&1 &
    pids="$pids $!"
done
ok=0
for p in $pids; do wait "$p" && ok=$((ok + 1)); done
grep "queue pairs" "$WORK/dpdk.log"
[ "$ok" = 16 ] || { cat "$WORK"/client*.log; fail "$ok of 16 connections completed"; }
stop_dpdk
grep -q "dpdk worker 0: rx.* handshakes [1-9]" "$WORK/dpdk.log" || fail "worker 0 served nothing"
grep -q "dpdk worker 1: rx.* handshakes [1-9]" "$WORK/dpdk.log" || fail "worker 1 served nothing"
echo "PASS: 16 TLS connections over 2 lcores"
