#!/usr/bin/env bash
# Go crypto/tls client (tests/interop/goclient.go, standard library only, built here with
# GOPROXY=off): chain + hostname verified, TLS 1.3 only, ConnectionState checked, keep-alive
# requests in responder mode. Key exchange restricted with CurvePreferences: X25519 and P-256
# each work; against a P-256-only server an X25519-only client fails and X25519,P-256 goes
# through a HelloRetryRequest. Each server-chosen suite is seen by Go with each leaf type.
# TLS 1.2 (-tls12: MaxVersion tls.VersionTLS12): every suite x group x ECDSA/RSA, resumption.
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

# TLS 1.2: MaxVersion tls.VersionTLS12, each suite of the certificate's type forced with
# CipherSuites, with X25519 (P-256 listed after it: RFC 8422 §5.1.1 for the ECDSA certificate)
# and P-256 alone; then a second connection offering the first one's session: resumed from a
# ticket (DidResume) by a Go with extended_master_secret (1.21 and later); Go 1.19/1.20 have no
# EMS, and a session without EMS is never resumed (RFC 7627 §5.3): a full handshake, no error.
declare -A SUITES12=(
    [ec]="TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
    [rsa]="TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256")
GOMINOR=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
WANT_RESUME=false
[ "$GOMINOR" -ge 21 ] && WANT_RESUME=true
for k in ec rsa; do
    SP=$(free_port)
    start_edgetls "tls12-$k" --listen "127.0.0.1:$SP" --cert "$PKI/$k.pem" --key "$PKI/$k.key" \
        --mode responder --alpn http/1.1 --groups x25519:secp256r1
    for s in ${SUITES12[$k]}; do
        for c in x25519,p256 p256; do
            "${GO[@]}" -addr "127.0.0.1:$SP" -tls12 -ciphers "$s" -want-cipher "$s" -curves "$c" -n 2 \
                >"$TMP/t12-$k-$s-$c.out" 2>&1 || fail "Go TLS 1.2, $k, $s, $c: $(cat "$TMP/t12-$k-$s-$c.out")"
            grep -q "request: 2 responses on one connection, TLS1.2 $s alpn=\"http/1.1\" cn=localhost" \
                "$TMP/t12-$k-$s-$c.out" || fail "Go TLS 1.2, $k, $s, $c: $(cat "$TMP/t12-$k-$s-$c.out")"
        done
    done
    "${GO[@]}" -addr "127.0.0.1:$SP" -tls12 -resume -n 2 >"$TMP/t12-$k-resume.out" 2>&1 ||
        fail "Go TLS 1.2 resumption, $k: $(cat "$TMP/t12-$k-resume.out")"
    grep -q "^resumed=$WANT_RESUME request: 2 responses on one connection, TLS1.2 " "$TMP/t12-$k-resume.out" ||
        fail "Go 1.$GOMINOR TLS 1.2 resumption (want resumed=$WANT_RESUME), $k: $(cat "$TMP/t12-$k-resume.out")"
done
if "${GO[@]}" -addr "127.0.0.1:$SP" -tls12 -name wrong.example.test >"$TMP/t12-wrong.out" 2>&1; then
    fail "Go TLS 1.2 client accepted a wrong hostname"
fi
grep -q "not wrong.example.test" "$TMP/t12-wrong.out" || fail "TLS 1.2 wrong hostname: $(cat "$TMP/t12-wrong.out")"
pass "Go MaxVersion TLS 1.2: 3 suites x {X25519, P-256} x {ECDSA, RSA}, ALPN, session offered again (resumed=$WANT_RESUME for Go 1.$GOMINOR), wrong name refused"

for p in "${PIDS[@]}"; do
    stop_edgetls "$p" 10
    [ "$ESTATUS" = 0 ] || fail "edgetls $p: exit status $ESTATUS on SIGTERM"
done
grep -q "handshakes 4 hs_failures 1 timeouts 0 requests 20 " "$TMP/srv.log" || fail "stats: $(tail -1 "$TMP/srv.log")"
pass "SIGTERM: exit 0; handshakes and requests counted"
