#!/usr/bin/env bash
# Go crypto/tls client (tests/interop/goclient.go, standard library only, built here with
# GOPROXY=off): chain + hostname verified, TLS 1.3 only, ConnectionState checked, keep-alive
# requests in responder mode. Key exchange restricted with CurvePreferences: X25519 and P-256
# each work; against a P-256-only server an X25519-only client fails and X25519,P-256 goes
# through a HelloRetryRequest. Each server-chosen suite is seen by Go with each leaf type.
source "$(dirname "$0")/lib.sh" "$@"
make_ca
make_leaf ec ec localhost localhost IP:127.0.0.1
make_leaf rsa rsa localhost localhost IP:127.0.0.1
make_leaf ed ed25519 localhost localhost IP:127.0.0.1
build_goclient
GO=("$GOCLIENT" -ca "$CA" -name localhost -timeout "$((30 * SLOW))s")

PORT=$(free_port)
start_edgetls srv --listen "127.0.0.1:$PORT" --cert "$PKI/ec.pem" --key "$PKI/ec.key" \
    --mode responder --alpn http/1.1 --groups x25519:secp256r1
for c in x25519 p256 x25519,p256 p256,x25519; do
    "${GO[@]}" -addr "127.0.0.1:$PORT" -curves "$c" -n 5 >"$TMP/go-$c.out" 2>&1 ||
        fail "Go client, curves $c: $(cat "$TMP/go-$c.out")"
    grep -q 'request: 5 responses on one connection, TLS1.3 TLS_AES_128_GCM_SHA256 alpn="http/1.1" cn=localhost' \
        "$TMP/go-$c.out" || fail "Go client, curves $c: $(cat "$TMP/go-$c.out")"
done
cat "$TMP/go-x25519.out"
pass "Go: X25519, P-256 and both orders; 5 keep-alive requests each; ALPN http/1.1"

PPORT=$(free_port)
start_edgetls srv-p256 --listen "127.0.0.1:$PPORT" --cert "$PKI/ec.pem" --key "$PKI/ec.key" \
    --mode responder --groups secp256r1
"${GO[@]}" -addr "127.0.0.1:$PPORT" -curves p256 -n 2 >"$TMP/p-p256.out" 2>&1 || fail "P-256 only: $(cat "$TMP/p-p256.out")"
if "${GO[@]}" -addr "127.0.0.1:$PPORT" -curves x25519 -n 2 >"$TMP/p-x.out" 2>&1; then
    fail "X25519-only Go client accepted by a P-256-only server"
fi
grep -q "handshake failure" "$TMP/p-x.out" || fail "X25519 against P-256 only: $(cat "$TMP/p-x.out")"
"${GO[@]}" -addr "127.0.0.1:$PPORT" -curves x25519,p256 -n 2 >"$TMP/p-hrr.out" 2>&1 ||
    fail "X25519,P-256 (HRR) against P-256 only: $(cat "$TMP/p-hrr.out")"
pass "Go: CurvePreferences honoured (P-256 only server: P-256 ok, X25519 refused, HRR to P-256 ok)"

if "${GO[@]}" -addr "127.0.0.1:$PORT" -name wrong.example.test >"$TMP/wrong.out" 2>&1; then
    fail "Go client accepted a wrong hostname"
fi
grep -q "not wrong.example.test" "$TMP/wrong.out" || fail "wrong hostname: $(cat "$TMP/wrong.out")"
pass "Go: wrong hostname rejected (verification is effective)"

declare -A SUITE=([ec]=TLS_AES_256_GCM_SHA384 [rsa]=TLS_CHACHA20_POLY1305_SHA256 [ed]=TLS_AES_128_GCM_SHA256)
for k in ec rsa ed; do
    SP=$(free_port)
    start_edgetls "suite-$k" --listen "127.0.0.1:$SP" --cert "$PKI/$k.pem" --key "$PKI/$k.key" \
        --mode responder --ciphers "${SUITE[$k]}"
    for c in x25519 p256; do
        "${GO[@]}" -addr "127.0.0.1:$SP" -curves "$c" -want-cipher "${SUITE[$k]}" -n 3 >"$TMP/s-$k-$c.out" 2>&1 ||
            fail "Go, $k leaf, ${SUITE[$k]}, $c: $(cat "$TMP/s-$k-$c.out")"
    done
done
pass "Go: AES-256-GCM/ECDSA, ChaCha20/RSA-PSS, AES-128-GCM/Ed25519, each with X25519 and P-256"

for p in "${PIDS[@]}"; do
    stop_edgetls "$p" 10
    [ "$ESTATUS" = 0 ] || fail "edgetls $p: exit status $ESTATUS on SIGTERM"
done
grep -q "handshakes 4 hs_failures 1 timeouts 0 requests 20 " "$TMP/srv.log" || fail "stats: $(tail -1 "$TMP/srv.log")"
pass "SIGTERM: exit 0; handshakes and requests counted"
