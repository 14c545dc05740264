#!/usr/bin/env bash
# Client certificates (TLS 1.3) with real clients, responder mode: openssl s_client -cert/-key,
# curl --cert/--key, gnutls-cli --x509certfile/--x509keyfile, Python ssl (load_cert_chain) and
# Go crypto/tls (goclient -cert/-key), each with an accepted certificate (ECDSA, RSA, Ed25519 leaves)
# and refused ones; every alert is checked as the client reports it: certificate_required (116),
# certificate_expired (45), unsupported_certificate (43, no clientAuth EKU), certificate_revoked
# (44, through client_crl), unknown_ca (48). An optional listener serves clients without one;
# a TLS 1.2 client is refused where a certificate is required (no TLS 1.2 CertificateRequest yet).
source "$(dirname "$0")/lib.sh" "$@"
make_ca
make_leaf srv ec localhost localhost IP:127.0.0.1
P=$TMP/client-pki
bash "$IDIR/../e2e/mtls_pki.sh" "$P" || fail "client PKI"
REQ=$(free_port)
OPT=$(free_port)
cat >"$TMP/mtls.conf" <<CONF
mode responder
protocols tls1.2,tls1.3
[listener]
address 127.0.0.1:$REQ
client_auth required
client_ca $P/client-ca.pem
client_crl $P/crl.pem
[listener]
address 127.0.0.1:$OPT
client_auth optional
client_ca $P/client-ca.pem
[cert]
chain $PKI/srv.pem
key $PKI/srv.key
CONF
start_edgetls srv -c "$TMP/mtls.conf"
T=$((10 * SLOW))

sc() { # NAME PORT [args]: one GET through s_client
    local name=$1 port=$2
    shift 2
    printf 'GET / HTTP/1.0\r\n\r\n' | timeout $T openssl s_client -connect 127.0.0.1:$port -servername localhost \
        -CAfile "$CA" -quiet "$@" >"$TMP/sc-$name.out" 2>&1 || true
}
for leaf in good good-rsa good-ed; do
    sc $leaf $REQ -cert "$P/$leaf.pem" -key "$P/$leaf.key"
    grep -q "hello from edgetls" "$TMP/sc-$leaf.out" || fail "s_client $leaf: $(cat "$TMP/sc-$leaf.out")"
done
sc none $REQ
grep -q "alert certificate required.*alert number 116" "$TMP/sc-none.out" || fail "s_client none: $(cat "$TMP/sc-none.out")"
for c in expired:45 noeku:43 revoked:44 unknown:48; do
    leaf=${c%:*}
    sc $leaf $REQ -cert "$P/$leaf.pem" -key "$P/$leaf.key"
    grep -q "alert number ${c#*:}\$" "$TMP/sc-$leaf.out" || fail "s_client $leaf: want alert ${c#*:}: $(cat "$TMP/sc-$leaf.out")"
done
sc opt-none $OPT
grep -q "hello from edgetls" "$TMP/sc-opt-none.out" || fail "optional without a certificate: $(cat "$TMP/sc-opt-none.out")"
sc tls12 $REQ -tls1_2 -cert "$P/good.pem" -key "$P/good.key"
grep -q "alert number 70" "$TMP/sc-tls12.out" || fail "TLS 1.2 where required: $(cat "$TMP/sc-tls12.out")"
sc opt-tls12 $OPT -tls1_2
grep -q "hello from edgetls" "$TMP/sc-opt-tls12.out" || fail "TLS 1.2, optional: $(cat "$TMP/sc-opt-tls12.out")"
pass "s_client: ECDSA, RSA-PSS, Ed25519 accepted; alerts 116, 45, 43, 44, 48; optional without one; TLS 1.2 refused (70) only where required"

body=$(timeout $T curl -sS --cacert "$CA" --cert "$P/good.pem" --key "$P/good.key" https://localhost:$REQ/ 2>&1) ||
    fail "curl with a certificate: $body"
[ "$body" = "hello from edgetls" ] || fail "curl body: $body"
rc=0
timeout $T curl -sS --cacert "$CA" https://localhost:$REQ/ >"$TMP/curl-none.out" 2>&1 || rc=$?
[ "$rc" = 56 ] || fail "curl without a certificate: rc $rc: $(cat "$TMP/curl-none.out")"
grep -qi "certificate required" "$TMP/curl-none.out" || fail "curl without a certificate: $(cat "$TMP/curl-none.out")"
pass "curl: --cert/--key accepted; without one: certificate required (exit 56)"

gn() { # NAME LEAF
    printf 'GET / HTTP/1.0\r\n\r\n' | timeout $T gnutls-cli --x509cafile "$CA" --x509certfile "$P/$2.pem" \
        --x509keyfile "$P/$2.key" -p $REQ localhost >"$TMP/gn-$1.out" 2>&1 || true
}
gn good good-rsa
grep -q "hello from edgetls" "$TMP/gn-good.out" || fail "gnutls-cli: $(cat "$TMP/gn-good.out")"
gn expired expired
grep -q "Received alert \[45\]" "$TMP/gn-expired.out" || fail "gnutls-cli expired: $(cat "$TMP/gn-expired.out")"
pass "gnutls-cli: RSA client certificate accepted; expired one: alert 45"

python3 - "$REQ" "$CA" "$P" >"$TMP/py.out" 2>&1 <<'PY' || fail "Python: $(cat "$TMP/py.out")"
import socket, ssl, sys
port, ca, p = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def get(leaf):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if leaf:
        ctx.load_cert_chain(p + "/" + leaf + ".pem", p + "/" + leaf + ".key")
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="localhost") as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            b = s.recv(4096)
            if not b:
                return data
            data += b
assert b"hello from edgetls" in get("good-ed")
for leaf, want in ((None, "CERTIFICATE_REQUIRED"), ("unknown", "UNKNOWN_CA")):
    try:
        get(leaf)
    except ssl.SSLError as e:
        assert want in str(e), e
    else:
        raise SystemExit("%s: accepted" % leaf)
print("python ok")
PY
pass "Python ssl: load_cert_chain accepted (Ed25519); none: CERTIFICATE_REQUIRED; other CA: UNKNOWN_CA"

build_goclient
GO=("$GOCLIENT" -ca "$CA" -name localhost -timeout "$((30 * SLOW))s" -addr "127.0.0.1:$REQ" -n 2)
"${GO[@]}" -cert "$P/good.pem" -key "$P/good.key" >"$TMP/go.out" 2>&1 || fail "Go with a certificate: $(cat "$TMP/go.out")"
grep -q "2 responses on one connection" "$TMP/go.out" || fail "Go: $(cat "$TMP/go.out")"
if "${GO[@]}" >"$TMP/go-none.out" 2>&1; then
    fail "Go without a certificate accepted"
fi
grep -q "certificate required" "$TMP/go-none.out" || fail "Go without a certificate: $(cat "$TMP/go-none.out")"
"${GO[@]}" -cert "$P/revoked.pem" -key "$P/revoked.key" >"$TMP/go-rev.out" 2>&1 && fail "Go revoked accepted"
grep -q "revoked" "$TMP/go-rev.out" || fail "Go revoked: $(cat "$TMP/go-rev.out")"
pass "Go crypto/tls: -cert/-key accepted; none: certificate required; revoked: certificate revoked"

stop_edgetls "$EPID" 10
[ "$ESTATUS" = 0 ] || fail "exit status $ESTATUS"
pass "SIGTERM: exit 0"
