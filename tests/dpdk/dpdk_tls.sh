#!/bin/bash
# TCP and TLS 1.3 over the DPDK transport (net_tap in a private namespace): plaintext echo of
# 1 MiB, TLS echo of 4 MiB with Python's OpenSSL client, then the responder answering curl
# (its static body and a 300 KB /bytes/N body) and openssl s_client with TLS 1.3; the handshake
# counter must match.
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
# A synthetic body across many records (GET /bytes/N, the same responder code as io_uring).
in_ns timeout 30 curl -sS --tlsv1.3 --cacert "$WORK/cert.pem" -o "$WORK/bytes.out" \
    "https://$DPDK_ADDR:8443/bytes/300007" || fail "curl /bytes/300007"
python3 -c 'import sys; p=b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX\n"
d=open(sys.argv[1],"rb").read(); sys.exit(0 if d==(p*5000)[:300007] else 1)' "$WORK/bytes.out" ||
    fail "/bytes/300007: wrong length or content"
out=$(echo | in_ns timeout 20 openssl s_client -connect "$DPDK_ADDR:8443" -tls1_3 \
    -CAfile "$WORK/cert.pem" -verify_return_error 2>&1)
echo "$out" | grep -q "New, TLSv1.3, Cipher is" || { echo "$out" | tail -20; fail "s_client: no TLS 1.3"; }
echo "$out" | grep -q "Verify return code: 0 (ok)" || fail "s_client: verification"
stop_dpdk
grep -q "handshakes 5 " "$WORK/dpdk.log" || fail "expected 5 handshakes"
echo "PASS: TCP and TLS 1.3 over DPDK (echo, curl, s_client)"
