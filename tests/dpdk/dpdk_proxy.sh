#!/bin/bash
# Proxy mode over DPDK: a TLS 1.3 client in the namespace uploads 64 MiB and downloads 64 MiB
# through edgetls to a backend on the namespace's loopback (reached by edgetls over a kernel
# socket); both directions must be byte-exact (SHA-256), and the connection must end cleanly.
# Then six concurrent proxied connections over two lcores.
. "$(dirname "$0")/lib.sh"

MIB=$((1 << 20))
SIZE=$((${DPDK_PROXY_MIB:-64} * MIB))
make_cert
ip netns exec "$NS" python3 "$CLIENT_PY" backend 9000 > "$WORK/backend.log" 2>&1 &
BG_PIDS="$!"
for _ in $(seq 50); do grep -q listening "$WORK/backend.log" && break; sleep 0.1; done
start_dpdk --listen "$DPDK_ADDR:8443" --cert "$WORK/cert.pem" --key "$WORK/key.pem" \
    --mode proxy --backend 127.0.0.1:9000 --buffer-size 256k --max-connections 256
in_ns timeout 100 python3 "$CLIENT_PY" proxy "$DPDK_ADDR" 8443 "$SIZE" "$SIZE" || fail "proxy transfer"
in_ns timeout 30 python3 "$CLIENT_PY" proxy "$DPDK_ADDR" 8443 1000 0 || fail "small transfer"
stop_dpdk
grep -q "handshakes 2 " "$WORK/dpdk.log" || fail "expected 2 handshakes"
grep -q "errors 0" "$WORK/dpdk.log" || fail "errors counted"

# Concurrent proxied connections over two lcores, odd sizes both ways.
if [ "$(nproc)" -ge 2 ]; then
    DPDK_LCORES=0-1 start_dpdk --listen "$DPDK_ADDR:8443" --cert "$WORK/cert.pem" \
        --key "$WORK/key.pem" --mode proxy --backend 127.0.0.1:9000
    pids=
    for i in 1 2 3 4 5 6; do
        ip netns exec "$NS" timeout 60 python3 "$CLIENT_PY" proxy "$DPDK_ADDR" 8443 \
            $((1000000 + i * 4321)) $((2000000 - i * 777)) > "$WORK/client$i.log" 2>&1 &
        pids="$pids $!"
    done
    ok=0
    for p in $pids; do wait "$p" && ok=$((ok + 1)); done
    [ "$ok" = 6 ] || { cat "$WORK"/client*.log; fail "$ok of 6 concurrent proxied connections"; }
    stop_dpdk
fi
echo "PASS: proxy mode over DPDK, $((SIZE / MIB)) MiB each way byte-exact"
