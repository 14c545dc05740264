#!/usr/bin/env bash
# openssl s_client matrix: every TLS 1.3 suite (GCM, ChaCha20, and the two CCM suites, which are
# enabled with --ciphers) x groups X25519 / P-256 x ECDSA P-256 / RSA-2048 / Ed25519 leaf. Each
# handshake verifies chain and hostname against the test CA; the negotiated suite, group and
# signature type are read back from s_client's output and an HTTP request must get the
# responder's 200. Negative cases: CCM when not enabled, no common group, and an
# RSA-PSS digest forced with -sigalgs.
source "$(dirname "$0")/lib.sh" "$@"
make_ca
make_leaf ec ec localhost localhost IP:127.0.0.1
make_leaf rsa rsa localhost localhost IP:127.0.0.1
make_leaf ed ed25519 localhost localhost IP:127.0.0.1
ALL=TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256
declare -A SPORT
for k in ec rsa ed; do
    SPORT[$k]=$(free_port)
    start_edgetls "srv-$k" --listen "127.0.0.1:${SPORT[$k]}" --cert "$PKI/$k.pem" --key "$PKI/$k.key" \
        --mode responder --ciphers "$ALL" --groups x25519:secp256r1 --response-body "matrix-$k"
done
declare -A SIGTYPE=([ec]=ECDSA [rsa]=RSA-PSS [ed]=ed25519)
declare -A GROUPOUT=([X25519]="Server Temp Key: X25519" [P-256]="Server Temp Key: ECDH, prime256v1")

# check_one KEY GROUP SUITE: one handshake + request; writes $TMP/m-KEY-GROUP-SUITE.res
# ("ok" or the reason).
check_one() {
    local k=$1 g=$2 s=$3 out=$TMP/m-$1-$2-$3
    local PORT=${SPORT[$k]}
    if ! sclient "$out.txt" -servername localhost -verify_hostname localhost -groups "$g" \
        -ciphersuites "$s"; then
        echo "s_client failed" >"$out.res"
        return
    fi
    want_lines "$out.res" "$out.txt" "New, TLSv1.3, Cipher is $s" "${GROUPOUT[$g]}" \
        "Peer signature type: ${SIGTYPE[$k]}" "Verify return code: 0 (ok)" "Verified peername: localhost" \
        "HTTP/1.1 200 OK" "matrix-$k"
}
show_one() { sed -n '/^---$/,$p' "${1%.res}.txt" | grep -vE '^ +[0-9a-f]{4} - ' | head -40; }

for k in ec rsa ed; do
    for g in X25519 P-256; do
        for s in ${ALL//:/ }; do
            matrix_run check_one "$k" "$g" "$s"
        done
    done
done
matrix_results 30 show_one "$TMP/m-*.res"
pass "30 combinations: 5 suites x {X25519, P-256} x {ECDSA, RSA-PSS, Ed25519}, verified, 200 OK"

# RSA-PSS: SHA-256 when the client insists on it. edgetls signs with one scheme per key
# (rsa_pss_rsae_sha256 for RSA), so a client offering only SHA-384 or SHA-512 must either get
# that digest or a clean handshake_failure (RFC 8446 4.4.2.2 allows either).
PORT=${SPORT[rsa]}
sclient "$TMP/pss256.txt" -servername localhost -verify_hostname localhost -sigalgs rsa_pss_rsae_sha256 ||
    fail "RSA-PSS SHA-256: $(tail -5 "$TMP/pss256.txt")"
grep -q "Peer signing digest: SHA256" "$TMP/pss256.txt" || fail "RSA-PSS SHA-256: digest not used"
grep -q "HTTP/1.1 200 OK" "$TMP/pss256.txt" || fail "RSA-PSS SHA-256: no 200"
pss_note=""
for d in 384 512; do
    if sclient "$TMP/pss$d.txt" -servername localhost -verify_hostname localhost -sigalgs "rsa_pss_rsae_sha$d"; then
        grep -q "Peer signing digest: SHA$d" "$TMP/pss$d.txt" || fail "RSA-PSS SHA-$d: other digest used"
        grep -q "HTTP/1.1 200 OK" "$TMP/pss$d.txt" || fail "RSA-PSS SHA-$d: no 200"
    else
        grep -qE "alert handshake failure|alert number 40" "$TMP/pss$d.txt" ||
            fail "RSA-PSS SHA-$d only: neither success nor alert 40: $(grep -i alert "$TMP/pss$d.txt")"
        pss_note+=" SHA-$d:refused(40)"
    fi
done
pass "RSA-PSS SHA-256 as the client demands;${pss_note:- SHA-384/512 also negotiated}"
# An ECDSA leaf cannot sign for a client that only accepts RSA-PSS: handshake_failure (40).
PORT=${SPORT[ec]}
if sclient "$TMP/nosig.txt" -servername localhost -sigalgs rsa_pss_rsae_sha256; then
    fail "ECDSA certificate used although the client only accepts RSA-PSS"
fi
grep -qE "alert handshake failure|alert number 40" "$TMP/nosig.txt" ||
    fail "no common signature algorithm: expected alert 40: $(grep -i alert "$TMP/nosig.txt")"
pass "no common signature algorithm: alert handshake_failure"

# Default suites (no CCM): a CCM-only client is refused with handshake_failure (40).
DPORT=$(free_port)
start_edgetls srv-default --listen "127.0.0.1:$DPORT" --cert "$PKI/ec.pem" --key "$PKI/ec.key" --mode responder
PORT=$DPORT
for s in TLS_AES_128_CCM_SHA256 TLS_AES_128_CCM_8_SHA256; do
    if sclient "$TMP/noccm.txt" -servername localhost -ciphersuites "$s"; then
        fail "$s accepted although not enabled"
    fi
    grep -qE "alert handshake failure|alert number 40" "$TMP/noccm.txt" ||
        fail "$s: expected alert 40: $(grep -i alert "$TMP/noccm.txt")"
done
sclient "$TMP/dflt.txt" -servername localhost -verify_hostname localhost ||
    fail "default client: $(tail -5 "$TMP/dflt.txt")"
grep -q "Cipher is TLS_AES_128_GCM_SHA256" "$TMP/dflt.txt" || fail "default suite is not AES-128-GCM"
grep -q "Server Temp Key: X25519" "$TMP/dflt.txt" || fail "default group is not X25519"
pass "CCM refused unless enabled; default negotiation AES-128-GCM / X25519"

# TLS 1.2-only client: served with TLS 1.2 by default (refusal with --protocols tls1.3 is in
# tests/e2e/e2e_tls12.sh). Only-P-384 client: handshake_failure (40).
sclient "$TMP/tls12.txt" -servername localhost -tls1_2 || fail "TLS 1.2 client: $(tail -5 "$TMP/tls12.txt")"
grep -q "Protocol  *: TLSv1.2" "$TMP/tls12.txt" || fail "TLS 1.2 client: not TLS 1.2: $(grep -i protocol "$TMP/tls12.txt")"
if sclient "$TMP/p384.txt" -servername localhost -groups P-384; then fail "P-384-only client accepted"; fi
grep -qE "alert handshake failure|alert number 40" "$TMP/p384.txt" ||
    fail "P-384-only client: expected alert 40: $(grep -i alert "$TMP/p384.txt")"
pass "TLS 1.2-only client gets TLS 1.2, no common group gets handshake_failure"

for p in "${PIDS[@]}"; do
    stop_edgetls "$p" 10
    [ "$ESTATUS" = 0 ] || fail "edgetls $p: exit status $ESTATUS on SIGTERM"
done
pass "all servers exit 0 on SIGTERM"
