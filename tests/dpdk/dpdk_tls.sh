#!/bin/bash
# TCP and TLS 1.3 over the DPDK transport (net_tap in a private namespace): plaintext echo of
# 1 MiB, TLS echo of 4 MiB with Python's OpenSSL client, then the responder answering curl and
# openssl s_client with TLS 1.3; the handshake counter must match.
. "$(dirname "$0")/lib.sh"

make_cert
start_dpdk --listen "$DPDK_ADDR:8080" --plaintext --mode echo
in_ns timeout 60 python3 "$CLIENT_PY" echo "$DPDK_ADDR" 8080 1048576 || fail "plaintext echo"
stop_dpdk

start_dpdk --listen "$DPDK_ADDR:8443" --cert "$WORK/cert.pem" --key "$WORK/key.pem" --mode echo
in_ns timeout 60 python3 "$CLIENT_PY" tls-echo "$DPDK_ADDR" 8443 4194304 || fail "TLS echo"
stop_dpdk

start_dpdk --listen "$DPDK_ADDR:8443" --cert "$WORK/cert.pem" --key "$WORK/key.pem" \
    --mode responder --response-body "hello over dpdk"
for i in 1 2 3; do
    body=$(in_ns timeout 20 curl -sS --tlsv1.3 --cacert "$WORK/cert.pem" \
        "https://$DPDK_ADDR:8443/") || fail "curl $i"
    [ "$body" = "hello over dpdk" ] || fail "curl $i: body '$body'"
done
out=$(echo | in_ns timeout 20 openssl s_client -connect "$DPDK_ADDR:8443" -tls1_3 \
    -CAfile "$WORK/cert.pem" -verify_return_error 2>&1)
echo "$out" | grep -q "New, TLSv1.3, Cipher is" || { echo "$out" | tail -20; fail "s_client: no TLS 1.3"; }
echo "$out" | grep -q "Verify return code: 0 (ok)" || fail "s_client: verification"
stop_dpdk
grep -q "handshakes 4 " "$WORK/dpdk.log" || fail "expected 4 handshakes"
echo "PASS: TCP and TLS 1.3 over DPDK (echo, curl, s_client)"
