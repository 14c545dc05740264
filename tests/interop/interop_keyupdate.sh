#!/usr/bin/env bash
# KeyUpdate: an interactive openssl s_client in an echo-mode session sends 'k' (KeyUpdate,
# update_not_requested) and 'K' (update_requested), twice each; after every one, small and
# 12 kB lines must still be echoed (both directions keep working under the new keys). The -msg
# transcript must show the client's 4 KeyUpdates (2 requesting) and exactly one KeyUpdate from
# the server per request, itself update_not_requested (RFC 8446 4.6.3). gnutls-cli --rehandshake
# (a KeyUpdate with update_requested in TLS 1.3) right after the handshake, then lines echoed.
source "$(dirname "$0")/lib.sh" "$@"
make_ca
make_leaf ec ec localhost localhost IP:127.0.0.1
PORT=$(free_port)
start_edgetls srv --listen "127.0.0.1:$PORT" --cert "$PKI/ec.pem" --key "$PKI/ec.key" --mode echo
for s in TLS_AES_128_GCM_SHA256 TLS_CHACHA20_POLY1305_SHA256; do
    KU_TIMEOUT=$((20 * SLOW)) timeout $((90 * SLOW)) python3 "$IDIR/keyupdate.py" "$PORT" "$CA" \
        "$TMP/ku-$s.txt" 2 -ciphersuites "$s" >"$TMP/ku-$s.out" 2>&1 || fail "key update session ($s): $(cat "$TMP/ku-$s.out")"
    summary=$(python3 "$IDIR/sclient_msg.py" "$TMP/ku-$s.txt")
    case " $summary " in
    *" ku_out=4 ku_in=2 ku_req_out=2 ku_req_in=0 "*) ;;
    *) fail "KeyUpdate exchange ($s): $summary" ;;
    esac
done
pass "KeyUpdate k/K x2 with AES-GCM and ChaCha20: echo flows after each, server answers requests"
tok1=ku-gnutls-$RANDOM-a
tok2=ku-gnutls-$RANDOM-b
{ echo "$tok1"; sleep 0.5; echo "$tok2"; sleep $((1 * SLOW)); } |
    timeout $((20 * SLOW)) gnutls-cli --rehandshake --x509cafile "$CA" -p "$PORT" --sni-hostname localhost \
        --verify-hostname localhost 127.0.0.1 >"$TMP/gnutls-ku.txt" 2>&1 ||
    fail "gnutls-cli --rehandshake: $(grep -E '^\*|Error|alert' "$TMP/gnutls-ku.txt" | head -3)"
grep -q "ReHandshake was completed" "$TMP/gnutls-ku.txt" || fail "gnutls-cli: key update not completed"
for tok in "$tok1" "$tok2"; do
    grep -qx "$tok" "$TMP/gnutls-ku.txt" || fail "gnutls-cli: no echo of $tok: $(tail -5 "$TMP/gnutls-ku.txt")"
done
pass "gnutls-cli KeyUpdate (--rehandshake), then echo"
alive "$EPID" || fail "edgetls died"
stop_edgetls "$EPID" 10
[ "$ESTATUS" = 0 ] || fail "exit status $ESTATUS on SIGTERM"
grep -q "handshakes 3 hs_failures 0" "$TMP/srv.log" || fail "stats: $(tail -1 "$TMP/srv.log")"
pass "SIGTERM: exit 0"
