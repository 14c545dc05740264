#!/usr/bin/env bash
# Large transfers through proxy mode: two Go crypto/tls clients at once (one X25519 +
# AES-128-GCM, one P-256 + ChaCha20-Poly1305 by server preference on a second listener), each
# sending 64 MiB to a plaintext echo backend while reading it back concurrently; SHA-256 of what
# was sent and received must match, then CloseWrite (close_notify) must come back as EOF
# (half-close forwarded to the backend and back). Bounded: 60 s optimised.
# (tests/e2e/e2e_proxy covers the same path with Python ssl; this one uses Go's TLS stack.)
source "$(dirname "$0")/lib.sh" "$@"
make_ca
make_leaf ec ec localhost localhost IP:127.0.0.1
make_leaf rsa rsa localhost localhost IP:127.0.0.1
build_goclient
BIG=$((64 << 20))
LIMIT=$((60 * SLOW))
start_backend echo echo
P1=$(free_port)
start_edgetls proxy-gcm --listen "127.0.0.1:$P1" --cert "$PKI/ec.pem" --key "$PKI/ec.key" \
    --mode proxy --backend "127.0.0.1:$BPORT"
E1=$EPID
P2=$(free_port)
start_edgetls proxy-chacha --listen "127.0.0.1:$P2" --cert "$PKI/rsa.pem" --key "$PKI/rsa.key" \
    --mode proxy --backend "127.0.0.1:$BPORT" --ciphers TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256
E2=$EPID
t0=$(date +%s)
start_bg big1 "$GOCLIENT" -ca "$CA" -name localhost -addr "127.0.0.1:$P1" -curves x25519 \
    -want-cipher TLS_AES_128_GCM_SHA256 -mode echo -size "$BIG" -timeout "${LIMIT}s"
B1=$BGPID
start_bg big2 "$GOCLIENT" -ca "$CA" -name localhost -addr "127.0.0.1:$P2" -curves p256 \
    -want-cipher TLS_CHACHA20_POLY1305_SHA256 -mode echo -size "$BIG" -timeout "${LIMIT}s"
B2=$BGPID
wait "$B1" || fail "64 MiB via AES-128-GCM: $(cat "$TMP/big1.out")"
wait "$B2" || fail "64 MiB via ChaCha20-Poly1305: $(cat "$TMP/big2.out")"
t1=$(date +%s)
cat "$TMP/big1.out" "$TMP/big2.out"
[ $((t1 - t0)) -le "$LIMIT" ] || fail "transfers took $((t1 - t0)) s (limit $LIMIT s)"
pass "2 x 64 MiB each way at once through proxy mode, byte-exact, half-close, $((t1 - t0)) s"

for p in "$E1" "$E2"; do
    stop_edgetls "$p" 10
    [ "$ESTATUS" = 0 ] || fail "edgetls $p: exit status $ESTATUS on SIGTERM"
done
for n in proxy-gcm proxy-chacha; do
    grep -q "bk_in $BIG bk_out $BIG bk_errors 0" "$TMP/$n.log" || fail "$n backend byte counts: $(tail -1 "$TMP/$n.log")"
done
pass "SIGTERM: exit 0; backend byte counters exact"
