#!/usr/bin/env bash
# The legacy TLS 1.2 RSA key exchange in the executable: off by default (s_client offering only
# AES128-GCM-SHA256 gets handshake_failure), on with --tls12-rsa-kx on and an RSA certificate
# (both suites with EMS, ticket resumption; ECDHE still preferred when offered);
# listing its suites without the flag stops start-up with exit status 2.
source "$(dirname "$0")/lib.sh" "$@"
make_certs
d=$TMP/certs
openssl req -newkey rsa:2048 -nodes -keyout "$d/rsa.key" -out "$d/rsa.csr" -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' >"$d/rsa.cnf"
openssl x509 -req -in "$d/rsa.csr" -CA "$CA" -CAkey "$d/ca.key" -CAcreateserial -out "$d/rsa.pem" \
    -days 2 -extfile "$d/rsa.cnf" 2>/dev/null
chmod 600 "$d/rsa.key"
PORT=$(free_port)
sclient() { # extra s_client flags -> the transcript
    (printf 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'; sleep 0.4) |
        timeout 10 openssl s_client -connect 127.0.0.1:$PORT -servername localhost -CAfile "$CA" \
            -verify_return_error -tls1_2 "$@" 2>&1 || true
}
start_edgetls --listen 127.0.0.1:$PORT --cert "$d/rsa.pem" --key "$d/rsa.key" --workers 1
sclient -cipher AES128-GCM-SHA256 >"$TMP/off.out"
grep -q "^New, TLSv1.2" "$TMP/off.out" && fail "RSA key exchange negotiated while off"
grep -qi "handshake failure" "$TMP/off.out" || fail "no handshake_failure: $(grep -E 'New|alert' "$TMP/off.out")"
pass "off by default: handshake_failure"
stop_edgetls
PORT=$(free_port)
start_edgetls --listen 127.0.0.1:$PORT --cert "$d/rsa.pem" --key "$d/rsa.key" --workers 2 --tls12-rsa-kx on
for c in AES128-GCM-SHA256 AES256-GCM-SHA384; do
    sclient -cipher "$c" >"$TMP/c.out"
    grep -q "^New, TLSv1.2, Cipher is $c" "$TMP/c.out" || fail "$c: $(grep -E 'New|error|alert' "$TMP/c.out")"
    grep -q "Extended master secret: yes" "$TMP/c.out" || fail "$c: no extended master secret"
    grep -q "HTTP/1.1 200" "$TMP/c.out" || fail "$c: no response"
done
sclient -cipher AES128-GCM-SHA256 -sess_out "$TMP/s.pem" >/dev/null
sclient -cipher AES128-GCM-SHA256 -sess_in "$TMP/s.pem" >"$TMP/r.out"
grep -q "^Reused, TLSv1.2, Cipher is AES128-GCM-SHA256" "$TMP/r.out" || fail "resumption: $(grep -E 'New|Reused|error' "$TMP/r.out")"
sclient -cipher AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256 >"$TMP/e.out"
grep -q "^New, TLSv1.2, Cipher is ECDHE-RSA-AES128-GCM-SHA256" "$TMP/e.out" || fail "ECDHE not preferred"
pass "--tls12-rsa-kx on: AES128-GCM-SHA256 and AES256-GCM-SHA384, EMS, resumption, ECDHE preferred"
stop_edgetls
expect_config_error "tls12_rsa_kx on" --check --listen 127.0.0.1:$PORT --cert "$d/rsa.pem" --key "$d/rsa.key" --ciphers AES256-GCM-SHA384
expect_config_error "tls12_rsa_kx: expected on or off" --check --listen 127.0.0.1:$PORT --cert "$d/rsa.pem" --key "$d/rsa.key" --tls12-rsa-kx maybe
pass "configuration errors for tls12_rsa_kx"
