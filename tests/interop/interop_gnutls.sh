#!/usr/bin/env bash
# gnutls-cli (a second, independent TLS stack) in responder mode: chain verified against the
# test CA (--x509cafile) and hostname checked (--verify-hostname), one HTTP request answered.
# --priority forces every suite (the CCM ones enabled on the server) x group X25519 / P-256 x
# ECDSA / RSA-PSS / Ed25519 leaf, and the negotiated combination is read from gnutls-cli's
# "Description" line. A wrong hostname must be rejected (so verification is really on).
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
        --mode responder --ciphers "$ALL" --response-body "gnutls-$k"
done
declare -A SIG=([ec]=ECDSA-SECP256R1-SHA256 [rsa]=RSA-PSS-RSAE-SHA256 [ed]=EdDSA-Ed25519)
declare -A GNAME=([GROUP-X25519]=X25519 [GROUP-SECP256R1]=SECP256R1)

# gtls OUT PORT PRIORITY [HOSTNAME]: gnutls-cli with one request; status of gnutls-cli.
gtls() {
    http_get | timeout $((20 * SLOW)) gnutls-cli --x509cafile "$CA" -p "$2" --sni-hostname localhost \
        --verify-hostname "${4:-localhost}" --priority "$3" 127.0.0.1 >"$1" 2>&1
}

check_one() { # KEY GROUP CIPHER
    local k=$1 g=$2 c=$3 out=$TMP/g-$1-$2-$3
    local prio="NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+$c:-GROUP-ALL:+$g"
    gtls "$out.txt" "${SPORT[$k]}" "$prio" || { echo "gnutls-cli failed" >"$out.res"; return; }
    want_lines "$out.res" "$out.txt" "Status: The certificate is trusted." \
        "Description: (TLS1.3-X.509)-(ECDHE-${GNAME[$g]})-(${SIG[$k]})-($c)" "HTTP/1.1 200 OK" "gnutls-$k"
}
show_one() { grep -E 'Description|Status|\*\*\*|Error|alert' "${1%.res}.txt" | head -8; }
for k in ec rsa ed; do
    for g in GROUP-X25519 GROUP-SECP256R1; do
        for c in AES-128-GCM AES-256-GCM CHACHA20-POLY1305 AES-128-CCM AES-128-CCM-8; do
            matrix_run check_one "$k" "$g" "$c"
        done
    done
done
matrix_results 30 show_one "$TMP/g-*.res"
pass "gnutls-cli: 5 suites x {X25519, P-256} x {ECDSA, RSA-PSS, Ed25519}, verified, 200 OK"

gtls "$TMP/default.txt" "${SPORT[ec]}" NORMAL || fail "gnutls-cli default priority: $(tail -5 "$TMP/default.txt")"
grep -q "Description: (TLS1.3-X.509)" "$TMP/default.txt" || fail "default priority: not TLS 1.3"
grep -q "HTTP/1.1 200 OK" "$TMP/default.txt" || fail "default priority: no 200"
pass "gnutls-cli default priority: TLS 1.3, 200 OK"

if gtls "$TMP/wrongname.txt" "${SPORT[ec]}" NORMAL wrong.example.test; then
    fail "gnutls-cli accepted the certificate for a wrong hostname"
fi
grep -q "NOT trusted" "$TMP/wrongname.txt" || fail "wrong hostname: $(grep -i status "$TMP/wrongname.txt")"
pass "gnutls-cli rejects a wrong hostname (verification is effective)"

for p in "${PIDS[@]}"; do
    alive "$p" || fail "edgetls $p died"
    stop_edgetls "$p" 10
    [ "$ESTATUS" = 0 ] || fail "edgetls $p: exit status $ESTATUS on SIGTERM"
done
pass "SIGTERM: exit 0"
