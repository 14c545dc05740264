#!/bin/bash
# TLS 1.2 over the DPDK transport (net_tap in a private namespace): the responder with an ECDSA
# P-256 certificate answers curl --tls-max 1.2 (chain and the IP name verified) and openssl
# s_client -tls1_2, whose session ticket then resumes a second s_client connection; a request
# on each; then the same over an RSA-2048 certificate for a PKCS#1 v1.5-only s_client. The
# handshake counters must match.
. "$(dirname "$0")/lib.sh"

make_cert
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -keyout "$WORK/rsa.key" -out "$WORK/rsa.pem" \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:$DPDK_ADDR" > /dev/null 2>&1 ||
    fail "openssl req (RSA)"

# s12 ARGS...: s_client -tls1_2 with one request, verified against $CERT; prints the transcript.
s12() {
    (printf 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'; sleep 0.5) |
        in_ns timeout 20 openssl s_client -connect "$DPDK_ADDR:8443" -tls1_2 -CAfile "$CERT" \
            -verify_return_error -verify_ip "$DPDK_ADDR" "$@" 2>&1
}

CERT=$WORK/cert.pem
start_dpdk --listen "$DPDK_ADDR:8443" --cert "$WORK/cert.pem" --key "$WORK/key.pem" \
    --mode responder --response-body "tls12 over dpdk"
out=$(in_ns timeout 20 curl -sS -v --tlsv1.2 --tls-max 1.2 --cacert "$CERT" "https://$DPDK_ADDR:8443/" 2>"$WORK/curl.err") ||
    fail "curl --tls-max 1.2: $(tail -3 "$WORK/curl.err")"
[ "$out" = "tls12 over dpdk" ] || fail "curl: body '$out'"
grep -q "SSL connection using TLSv1.2 / ECDHE-ECDSA-AES128-GCM-SHA256" "$WORK/curl.err" ||
    fail "curl: $(grep 'SSL connection' "$WORK/curl.err")"
s12 -sess_out "$WORK/sess.pem" > "$WORK/s1.out"
grep -q "^New, TLSv1.2, Cipher is ECDHE-ECDSA-" "$WORK/s1.out" || { tail -20 "$WORK/s1.out"; fail "s_client: no TLS 1.2"; }
grep -q "Verify return code: 0 (ok)" "$WORK/s1.out" || fail "s_client: verification"
grep -q "tls12 over dpdk" "$WORK/s1.out" || fail "s_client: no response"
s12 -sess_in "$WORK/sess.pem" > "$WORK/s2.out"
grep -q "^Reused, TLSv1.2" "$WORK/s2.out" || fail "s_client: ticket not resumed: $(grep -E 'New|Reused' "$WORK/s2.out")"
grep -q "tls12 over dpdk" "$WORK/s2.out" || fail "s_client (resumed): no response"
stop_dpdk
grep -q "handshakes 3 " "$WORK/dpdk.log" || fail "expected 3 handshakes (ECDSA)"

CERT=$WORK/rsa.pem
start_dpdk --listen "$DPDK_ADDR:8443" --cert "$WORK/rsa.pem" --key "$WORK/rsa.key" \
    --mode responder --response-body "tls12 rsa over dpdk"
s12 -sigalgs RSA+SHA256 > "$WORK/r.out"
grep -q "^New, TLSv1.2, Cipher is ECDHE-RSA-" "$WORK/r.out" || { tail -20 "$WORK/r.out"; fail "s_client RSA: no TLS 1.2"; }
grep -q "Peer signature type: RSA$" "$WORK/r.out" || fail "s_client RSA: $(grep 'Peer signature' "$WORK/r.out")"
grep -q "tls12 rsa over dpdk" "$WORK/r.out" || fail "s_client RSA: no response"
stop_dpdk
grep -q "handshakes 1 " "$WORK/dpdk.log" || fail "expected 1 handshake (RSA)"
echo "PASS: TLS 1.2 over DPDK (curl, s_client full + ticket resumption, PKCS#1 v1.5 RSA)"
