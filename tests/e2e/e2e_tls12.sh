#!/usr/bin/env bash
# TLS 1.2 in the executable with real clients: openssl s_client -tls1_2 (EMS, downgrade sentinel
# absent from the client's view of a normal 1.2 handshake, ticket resumption), curl --tls-max 1.2,
# Python ssl with maximum_version TLSv1_2; --protocols tls1.3 refuses them; config errors.
source "$(dirname "$0")/lib.sh" "$@"
make_certs
PORT=$(free_port)
sclient() { # extra s_client flags -> the transcript
    (printf 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'; sleep 0.4) |
        timeout 10 openssl s_client -connect 127.0.0.1:$PORT -servername localhost -CAfile "$CA" \
            -verify_return_error -tls1_2 "$@" 2>&1 || true
}
start_edgetls --listen 127.0.0.1:$PORT --cert "$CERT" --key "$KEY" --workers 2
sclient -sess_out "$TMP/s1.pem" >"$TMP/a.out"
grep -q "^New, TLSv1.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256" "$TMP/a.out" ||
    fail "s_client: $(grep -E 'New|error|alert' "$TMP/a.out")"
grep -q "Extended master secret: yes" "$TMP/a.out" || fail "no extended master secret"
grep -q "HTTP/1.1 200" "$TMP/a.out" || fail "no response over TLS 1.2"
for i in 1 2 3; do
    sclient -sess_in "$TMP/s1.pem" >"$TMP/r.out"
    grep -q "^Reused, TLSv1.2" "$TMP/r.out" || fail "resumption $i: $(grep -E 'New|Reused|error' "$TMP/r.out")"
done
pass "openssl s_client -tls1_2: handshake, EMS, ticket resumption on two workers"
for c in ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-ECDSA-CHACHA20-POLY1305; do
    sclient -cipher "$c" >"$TMP/c.out"
    grep -q "^New, TLSv1.2, Cipher is $c" "$TMP/c.out" || fail "$c: $(grep -E 'New|error' "$TMP/c.out")"
done
sclient -fallback_scsv >"$TMP/f.out"
grep -q "inappropriate fallback" "$TMP/f.out" || fail "fallback SCSV accepted: $(grep -E 'New|alert' "$TMP/f.out")"
pass "suites and fallback SCSV (inappropriate_fallback)"
out=$(timeout 10 curl -s --cacert "$CA" --tls-max 1.2 https://localhost:$PORT/ --resolve localhost:$PORT:127.0.0.1 -w ' %{http_code}') ||
    fail "curl --tls-max 1.2 failed"
[[ "$out" == *" 200" ]] || fail "curl: $out"
python3 - "$PORT" "$CA" <<'PY' >"$TMP/py.out" 2>&1 || fail "python ssl: $(cat "$TMP/py.out")"
import socket, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5), server_hostname="localhost")
assert s.version() == "TLSv1.2", s.version()
s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
assert s.recv(4096).startswith(b"HTTP/1.1 200")
PY
pass "curl --tls-max 1.2 and Python ssl (maximum_version TLSv1_2)"
stop_edgetls
PORT=$(free_port)
start_edgetls --listen 127.0.0.1:$PORT --cert "$CERT" --key "$KEY" --workers 1 --protocols tls1.3
sclient >"$TMP/n.out"
grep -q "^New, TLSv1.2" "$TMP/n.out" && fail "--protocols tls1.3 still serves TLS 1.2"
grep -qi "protocol version" "$TMP/n.out" || fail "no protocol_version alert: $(grep -E 'New|alert' "$TMP/n.out")"
pass "--protocols tls1.3 refuses TLS 1.2 with protocol_version"
stop_edgetls
expect_config_error "unknown protocol 'tls1.1'" --check --listen 127.0.0.1:$PORT --cert "$CERT" --key "$KEY" --protocols tls1.1
expect_config_error "unknown cipher suite 'ECDHE-RSA-AES128-SHA'" --check --listen 127.0.0.1:$PORT --cert "$CERT" --key "$KEY" --ciphers ECDHE-RSA-AES128-SHA
expect_config_error "tls12_require_ems: expected on or off" --check --listen 127.0.0.1:$PORT --cert "$CERT" --key "$KEY" --tls12-require-ems maybe
pass "configuration errors for protocols, ciphers, tls12_require_ems"
