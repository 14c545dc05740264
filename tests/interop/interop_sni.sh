#!/usr/bin/env bash
# SNI certificate selection with openssl s_client: three certificates -- a.example.test (exact,
# ECDSA), *.wild.example.test (wildcard, RSA) and a default (Ed25519) -- each server name gets
# the right one (subject CN read from s_client; chain and hostname verified), names the wildcard
# must not cover (two labels, the bare parent) and unknown names get the default, as does a
# client without SNI. DNS names compare case-insensitively (RFC 6066 3, RFC 4343). Without
# --sni the certificates' SAN names are used. A chain with an intermediate CA (leaf + intermediate
# in the PEM file, only the root trusted) verifies with s_client, gnutls-cli and curl.
source "$(dirname "$0")/lib.sh" "$@"
make_ca
make_leaf exact ec a.example.test a.example.test
make_leaf wild rsa '*.wild.example.test' '*.wild.example.test'
make_leaf dflt ed25519 default.example.test default.example.test localhost
PORT=$(free_port)
start_edgetls srv --listen "127.0.0.1:$PORT" --mode responder \
    --cert "$PKI/exact.pem" --key "$PKI/exact.key" --sni a.example.test \
    --cert "$PKI/wild.pem" --key "$PKI/wild.key" --sni '*.wild.example.test' \
    --cert "$PKI/dflt.pem" --key "$PKI/dflt.key" --sni default

# sni_case SERVERNAME(or -) WANT_CN VERIFY_NAME SIGTYPE
sni_case() {
    local sn=$1 cn=$2 vn=$3 sig=$4 out=$TMP/sni-$1.txt args=()
    if [ "$sn" = - ]; then args=(-noservername); else args=(-servername "$sn"); fi
    sclient "$out" "${args[@]}" -verify_hostname "$vn" ||
        fail "SNI '$sn': handshake failed: $(grep -iE 'error|alert|verify' "$out" | head -3)"
    grep -qF "subject=O = edgetls interop, CN = $cn" "$out" ||
        fail "SNI '$sn': expected CN $cn, got $(grep '^subject=' "$out")"
    # with -verify_hostname, "Verified peername" is the certificate's name that matched
    if ! grep -q "Verify return code: 0 (ok)" "$out" || ! grep -q "Verified peername: " "$out"; then
        fail "SNI '$sn': hostname $vn not verified"
    fi
    grep -q "Peer signature type: $sig" "$out" || fail "SNI '$sn': signature is not $sig"
    grep -q "HTTP/1.1 200 OK" "$out" || fail "SNI '$sn': no 200"
}
sni_case a.example.test a.example.test a.example.test ECDSA
sni_case x.wild.example.test '*.wild.example.test' x.wild.example.test RSA-PSS
sni_case www-1.wild.example.test '*.wild.example.test' www-1.wild.example.test RSA-PSS
pass "exact and wildcard names get their certificates"
sni_case unknown.test default.example.test default.example.test ed25519
sni_case b.example.test default.example.test default.example.test ed25519
sni_case y.x.wild.example.test default.example.test default.example.test ed25519
sni_case wild.example.test default.example.test default.example.test ed25519
sni_case localhost default.example.test localhost ed25519
sni_case - default.example.test default.example.test ed25519
pass "unknown names, two-label and bare-parent wildcard misses, no SNI: default certificate"
sni_case A.Example.TEST a.example.test a.example.test ECDSA
sni_case X.WILD.example.test '*.wild.example.test' x.wild.example.test RSA-PSS
pass "server names match case-insensitively"

alive "$EPID" || fail "edgetls died"
SPID=$EPID

# Without --sni, each certificate answers for its own subjectAltName DNS names (wildcards
# included) and the first one is the default.
PORT=$(free_port)
start_edgetls srv-san --listen "127.0.0.1:$PORT" --mode responder \
    --cert "$PKI/wild.pem" --key "$PKI/wild.key" --cert "$PKI/exact.pem" --key "$PKI/exact.key"
sni_case a.example.test a.example.test a.example.test ECDSA
sni_case q.wild.example.test '*.wild.example.test' q.wild.example.test RSA-PSS
sni_case other.test '*.wild.example.test' z.wild.example.test RSA-PSS
pass "names from the certificates' SANs; the first certificate is the default"
stop_edgetls "$EPID" 10
[ "$ESTATUS" = 0 ] || fail "exit status $ESTATUS on SIGTERM (SAN names)"

make_intermediate inter
ISSUER=inter make_leaf chained ec chain.example.test chain.example.test
cat "$PKI/chained.pem" "$PKI/inter.pem" >"$PKI/chained-full.pem"
PORT=$(free_port)
start_edgetls srv-chain --listen "127.0.0.1:$PORT" --mode responder \
    --cert "$PKI/chained-full.pem" --key "$PKI/chained.key"
sclient "$TMP/chain.txt" -servername chain.example.test -verify_hostname chain.example.test ||
    fail "intermediate chain (s_client): $(grep -iE 'error|verify' "$TMP/chain.txt" | head -3)"
grep -q "^ 1 s:O = edgetls interop, CN = edgetls interop intermediate" "$TMP/chain.txt" ||
    fail "intermediate not sent: $(grep -E '^ [0-9] s:' "$TMP/chain.txt")"
grep -q "Verify return code: 0 (ok)" "$TMP/chain.txt" || fail "intermediate chain: verification"
http_get | timeout $((20 * SLOW)) gnutls-cli --x509cafile "$CA" -p "$PORT" --sni-hostname chain.example.test \
    --verify-hostname chain.example.test 127.0.0.1 >"$TMP/chain-gnutls.txt" 2>&1 ||
    fail "intermediate chain (gnutls-cli): $(grep -iE 'status|error' "$TMP/chain-gnutls.txt" | head -3)"
grep -q "HTTP/1.1 200 OK" "$TMP/chain-gnutls.txt" || fail "intermediate chain (gnutls-cli): no 200"
curl -sS --max-time $((20 * SLOW)) --cacert "$CA" --resolve "chain.example.test:$PORT:127.0.0.1" \
    "https://chain.example.test:$PORT/" -o "$TMP/chain-curl.txt" || fail "intermediate chain (curl)"
grep -q "hello from edgetls" "$TMP/chain-curl.txt" || fail "intermediate chain (curl): body"
pass "leaf + intermediate chain verified to the root by s_client, gnutls-cli and curl"
stop_edgetls "$EPID" 10
[ "$ESTATUS" = 0 ] || fail "exit status $ESTATUS on SIGTERM (chain)"
EPID=$SPID
stop_edgetls "$EPID" 10
[ "$ESTATUS" = 0 ] || fail "exit status $ESTATUS on SIGTERM"
grep -q "handshakes 11 hs_failures 0" "$TMP/srv.log" || fail "stats: $(tail -1 "$TMP/srv.log")"
pass "SIGTERM: exit 0, 11 handshakes counted"
