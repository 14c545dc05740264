#!/usr/bin/env bash
# HelloRetryRequest with openssl s_client: the client sends a key share only for its first group,
# the server allows only the other one, so it must answer with an HRR naming that group; the
# client retries and the handshake completes (chain + hostname verified, request answered). The
# -msg transcript proves the HRR: two ClientHellos, and a ServerHello carrying the HRR random
# whose key_share extension selects the expected group. Run for each suite (the SHA-384 suite
# replaces ClientHello1 by a SHA-384 message_hash) and in both directions X25519 <-> P-256.
source "$(dirname "$0")/lib.sh" "$@"
make_ca
make_leaf ec ec localhost localhost IP:127.0.0.1
make_leaf rsa rsa localhost localhost IP:127.0.0.1
P256_PORT=$(free_port)
start_edgetls srv-p256 --listen "127.0.0.1:$P256_PORT" --cert "$PKI/ec.pem" --key "$PKI/ec.key" \
    --mode responder --groups secp256r1
X_PORT=$(free_port)
start_edgetls srv-x25519 --listen "127.0.0.1:$X_PORT" --cert "$PKI/rsa.pem" --key "$PKI/rsa.key" \
    --mode responder --groups x25519
BOTH_PORT=$(free_port)
start_edgetls srv-both --listen "127.0.0.1:$BOTH_PORT" --cert "$PKI/ec.pem" --key "$PKI/ec.key" \
    --mode responder --groups x25519:secp256r1

# hrr_case NAME PORT CLIENT_GROUPS SUITE WANT_GROUP_ID WANT_TEMPKEY
hrr_case() {
    local name=$1 out=$TMP/$1.txt
    PORT=$2
    sclient "$out" -servername localhost -verify_hostname localhost -groups "$3" -ciphersuites "$4" -msg ||
        fail "$name: handshake failed: $(grep -iE 'error|alert' "$out" | head -3)"
    local summary
    summary=$(python3 "$IDIR/sclient_msg.py" "$out")
    case " $summary " in
    *" ch=2 sh=2 hrr=1 "*"hrr_group=$5 "*) ;;
    *) fail "$name: expected one HRR selecting $5, got: $summary" ;;
    esac
    grep -q "Server Temp Key: $6" "$out" || fail "$name: key exchange is not $6"
    grep -q "Cipher is $4" "$out" || fail "$name: suite is not $4"
    grep -q "Verify return code: 0 (ok)" "$out" || fail "$name: verification"
    grep -q "HTTP/1.1 200 OK" "$out" || fail "$name: no 200 after the HRR"
}
for s in TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384 TLS_CHACHA20_POLY1305_SHA256; do
    hrr_case "x25519-to-p256-$s" "$P256_PORT" X25519:P-256 "$s" 0x0017 "ECDH, prime256v1"
    hrr_case "p256-to-x25519-$s" "$X_PORT" P-256:X25519 "$s" 0x001d X25519
done
pass "HRR X25519 -> P-256 and P-256 -> X25519 with all three suites, verified, 200 OK"

# A share the server accepts (P-256 while it prefers X25519) must not cost a round trip more
# than the RFC allows: at most one HRR, and the handshake completes either way.
PORT=$BOTH_PORT
sclient "$TMP/both.txt" -servername localhost -verify_hostname localhost -groups P-256:X25519 -msg ||
    fail "P-256 first against x25519:secp256r1: $(grep -iE 'error|alert' "$TMP/both.txt" | head -3)"
both=$(python3 "$IDIR/sclient_msg.py" "$TMP/both.txt")
case " $both " in *" hrr=0 "* | *" hrr=1 "*) ;; *) fail "more than one HRR: $both" ;; esac
grep -q "HTTP/1.1 200 OK" "$TMP/both.txt" || fail "P-256 first: no 200"
pass "P-256 share against a server preferring X25519: completes (${both%% ku_*})"

# No group in common at all: handshake_failure, not an HRR loop.
PORT=$P256_PORT
if sclient "$TMP/none.txt" -servername localhost -groups X25519:X448 -msg; then
    fail "handshake without a common group succeeded"
fi
grep -qE "alert handshake failure|alert number 40" "$TMP/none.txt" ||
    fail "no common group: expected alert 40: $(grep -i alert "$TMP/none.txt")"
none=$(python3 "$IDIR/sclient_msg.py" "$TMP/none.txt")
case " $none " in *" hrr=0 "*) ;; *) fail "HRR sent without a common group: $none" ;; esac
pass "no common group: handshake_failure without HRR"

for p in "${PIDS[@]}"; do
    stop_edgetls "$p" 10
    [ "$ESTATUS" = 0 ] || fail "edgetls $p: exit status $ESTATUS on SIGTERM"
done
grep -q "handshakes 3 hs_failures 1 " "$TMP/srv-p256.log" || fail "srv-p256: expected 3 handshakes, 1 failure: $(tail -1 "$TMP/srv-p256.log")"
pass "servers exit 0 on SIGTERM; handshakes counted"
