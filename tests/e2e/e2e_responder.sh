#!/usr/bin/env bash
# Responder mode with real clients: curl (verifying against the test CA), keep-alive reuse,
# Connection: close, HTTP/1.0, HEAD, pipelined requests and a bad request through openssl
# s_client, and gnutls-cli for interop.
source "$(dirname "$0")/lib.sh" "$@"
make_certs
PORT=$(free_port)
start_edgetls --listen 127.0.0.1:$PORT --cert "$CERT" --key "$KEY" --mode responder --workers 2 \
    --response-body 'e2e says hi'
URL=https://localhost:$PORT/

body=$(curl -sS --max-time 10 --cacert "$CA" "$URL") || fail "curl failed"
[ "$body" = "e2e says hi" ] || fail "unexpected body '$body'"
pass "curl --cacert verified the chain and got the body"

curl -sS --max-time 10 --cacert "$CA" -v "$URL" "$URL" -o /dev/null -o /dev/null 2>"$TMP/ka.txt" || fail "curl keep-alive"
grep -q "Re-using existing connection" "$TMP/ka.txt" || fail "second request did not reuse the connection"
[ "$(grep -c '< HTTP/1.1 200 OK' "$TMP/ka.txt")" = 2 ] || fail "keep-alive: expected two 200s"
pass "HTTP/1.1 keep-alive: two requests on one connection"

curl -sS --max-time 10 --cacert "$CA" -v -H 'Connection: close' "$URL" -o /dev/null 2>"$TMP/close.txt" || fail "curl close"
grep -qi '< Connection: close' "$TMP/close.txt" || fail "no Connection: close in the response"
pass "Connection: close honoured"

curl -sS --max-time 10 --cacert "$CA" --http1.0 -v "$URL" -o /dev/null 2>"$TMP/h10.txt" || fail "curl http1.0"
grep -q '< HTTP/1.1 200 OK' "$TMP/h10.txt" || fail "HTTP/1.0 request not answered"
grep -qi '< Connection: keep-alive' "$TMP/h10.txt" && fail "HTTP/1.0 without keep-alive must not be kept alive"
pass "HTTP/1.0 answered and closed"

curl -sS --max-time 10 --cacert "$CA" -I "$URL" >"$TMP/head.txt" || fail "curl HEAD"
grep -q 'Content-Length: 11' "$TMP/head.txt" || fail "HEAD: wrong Content-Length"
pass "HEAD"

head -c 3000000 /dev/urandom >"$TMP/body.bin"
body=$(curl -sS --max-time 20 --cacert "$CA" --data-binary @"$TMP/body.bin" "$URL" "$URL") || fail "POST with a 3 MB body"
[ "$body" = "e2e says hie2e says hi" ] || fail "POST then GET on one connection: '$body'"
pass "3 MB request body consumed, next request on the same connection answered"

code=$(curl -sS --max-time 10 --cacert "$CA" -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)" "$URL") || true
[ "$code" = 431 ] || fail "oversized request head: got $code, want 431"
pass "oversized request head: 431"

# Two pipelined requests in one write, the second asking to close: two responses, then EOF.
printf 'GET /a HTTP/1.1\r\nHost: localhost\r\n\r\nGET /b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
    timeout 10 openssl s_client -quiet -verify_return_error -CAfile "$CA" \
        -servername localhost -connect 127.0.0.1:$PORT >"$TMP/pipe.txt" 2>"$TMP/pipe.err" ||
    fail "openssl s_client (pipelined): $(tail -3 "$TMP/pipe.err")"
[ "$(grep -o 'HTTP/1.1 200 OK' "$TMP/pipe.txt" | wc -l)" = 2 ] || fail "pipelining: expected two responses"
pass "openssl s_client: pipelined requests, verify ok, close after Connection: close"

printf 'BOGUS\r\n\r\n' | timeout 10 openssl s_client -quiet -CAfile "$CA" \
    -servername localhost -connect 127.0.0.1:$PORT >"$TMP/bad.txt" 2>/dev/null || true
grep -q 'HTTP/1.1 400 Bad Request' "$TMP/bad.txt" || fail "malformed request did not get 400"
pass "malformed request: 400 and close"

echo | timeout 10 openssl s_client -CAfile "$CA" -servername localhost -connect 127.0.0.1:$PORT \
    -tls1_3 -groups P-256 >"$TMP/p256.txt" 2>&1 || true
grep -q 'Verify return code: 0 (ok)' "$TMP/p256.txt" || fail "s_client with P-256 key share"
grep -q 'TLSv1.3' "$TMP/p256.txt" || fail "s_client: not TLS 1.3"
pass "openssl s_client with a P-256 key share"

if command -v gnutls-cli >/dev/null; then
    printf 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
        timeout 10 gnutls-cli --x509cafile "$CA" -p $PORT localhost >"$TMP/gnutls.txt" 2>&1 || true
    grep -q 'HTTP/1.1 200 OK' "$TMP/gnutls.txt" || fail "gnutls-cli: $(tail -5 "$TMP/gnutls.txt")"
    pass "gnutls-cli interop"
fi

stop_edgetls 10
[ "$ESTATUS" = 0 ] || fail "edgetls exit status $ESTATUS after SIGTERM"
grep -q "requests" "$TMP/edgetls.log" || fail "no stats printed on shutdown"
pass "SIGTERM: exit 0 with stats"
