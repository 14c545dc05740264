#!/usr/bin/env bash
# Python ssl (create_default_context with the test CA, TLS 1.3 minimum, SNI + hostname check):
# 20 keep-alive requests, 4 pipelined and a closing one on one connection in responder mode;
# a 16 MiB echo round trip (sent and received at once) for each suite with a different leaf
# type; a wrong hostname is rejected by the client.
source "$(dirname "$0")/lib.sh" "$@"
make_ca
make_leaf ec ec localhost localhost IP:127.0.0.1
make_leaf rsa rsa localhost localhost IP:127.0.0.1
make_leaf ed ed25519 localhost localhost IP:127.0.0.1
export PYCLIENT_TIMEOUT=$((30 * SLOW))
PY=(timeout $((60 * SLOW)) python3 "$IDIR/pyclient.py")
PORT=$(free_port)
start_edgetls srv --listen "127.0.0.1:$PORT" --cert "$PKI/ec.pem" --key "$PKI/ec.key" \
    --mode responder --alpn http/1.1
"${PY[@]}" requests "$PORT" "$CA" localhost 20 >"$TMP/req.out" 2>&1 || fail "requests: $(cat "$TMP/req.out")"
cat "$TMP/req.out"
"${PY[@]}" info "$PORT" "$CA" localhost >"$TMP/info.out" 2>&1 || fail "info: $(cat "$TMP/info.out")"
grep -q "version=TLSv1.3 cipher=TLS_AES_128_GCM_SHA256 alpn=http/1.1 cn=localhost" "$TMP/info.out" ||
    fail "connection info: $(cat "$TMP/info.out")"
"${PY[@]}" badname "$PORT" "$CA" wrong.example.test >"$TMP/bad.out" 2>&1 || fail "badname: $(cat "$TMP/bad.out")"
pass "keep-alive, pipelining, close; TLS 1.3 + ALPN; wrong hostname rejected"

declare -A SUITE=([ec]=TLS_AES_128_GCM_SHA256 [rsa]=TLS_CHACHA20_POLY1305_SHA256 [ed]=TLS_AES_256_GCM_SHA384)
for k in ec rsa ed; do
    EPORT=$(free_port)
    start_edgetls "echo-$k" --listen "127.0.0.1:$EPORT" --cert "$PKI/$k.pem" --key "$PKI/$k.key" \
        --mode echo --ciphers "${SUITE[$k]}"
    "${PY[@]}" echo "$EPORT" "$CA" localhost $((16 << 20)) >"$TMP/echo-$k.out" 2>&1 ||
        fail "16 MiB echo ($k): $(cat "$TMP/echo-$k.out")"
    grep -q "sha256 match.*(${SUITE[$k]})" "$TMP/echo-$k.out" || fail "echo ($k): $(cat "$TMP/echo-$k.out")"
    cat "$TMP/echo-$k.out"
done
pass "16 MiB echo round trips byte-exact with AES-128-GCM, ChaCha20-Poly1305, AES-256-GCM"

for p in "${PIDS[@]}"; do
    stop_edgetls "$p" 10
    [ "$ESTATUS" = 0 ] || fail "edgetls $p: exit status $ESTATUS on SIGTERM"
done
grep -q "requests 25 errors 0" "$TMP/srv.log" || fail "stats: $(tail -1 "$TMP/srv.log")"
pass "SIGTERM: exit 0; 25 requests counted"
