#!/usr/bin/env bash
# Record-layer and extension variations from openssl s_client in an echo-mode session (64-byte
# and 12 kB lines must come back intact, chain + hostname verified): TLS 1.3 record padding
# (-record_padding), no middlebox-compatibility CCS (-no_middlebox), small records
# (-max_send_frag 512, -split_send_frag 128), the max_fragment_length extension, an external PSK
# the server does not know (must fall back to a certificate handshake), and post-handshake
# authentication offered but unused.
source "$(dirname "$0")/lib.sh" "$@"
make_ca
make_leaf ec ec localhost localhost IP:127.0.0.1
PORT=$(free_port)
start_edgetls srv --listen "127.0.0.1:$PORT" --cert "$PKI/ec.pem" --key "$PKI/ec.key" --mode echo
n=0
while IFS='|' read -r name args; do
    n=$((n + 1))
    # shellcheck disable=SC2086 # args is a list of s_client options
    KU_TIMEOUT=$((20 * SLOW)) timeout $((60 * SLOW)) python3 "$IDIR/keyupdate.py" "$PORT" "$CA" \
        "$TMP/rec-$n.txt" 0 $args >"$TMP/rec-$n.out" 2>&1 || fail "$name ($args): $(cat "$TMP/rec-$n.out")"
    grep -q "Verify return code: 0 (ok)" "$TMP/rec-$n.txt" || fail "$name: verification"
    echo "  $name: echoed"
done <<'LIST'
record padding to 512|-record_padding 512
no middlebox compatibility|-no_middlebox
512-byte records|-max_send_frag 512
128-byte split records|-split_send_frag 128 -max_send_frag 512
max_fragment_length 512|-maxfraglen 512
unknown external PSK|-psk 00112233445566778899aabbccddeeff -psk_identity nobody
post-handshake auth offered|-enable_pha
LIST
[ "$n" = 7 ] || fail "expected 7 variations, ran $n"
grep -q "Peer signature type: ECDSA" "$TMP/rec-6.txt" || fail "unknown PSK: no certificate authentication"
pass "7 record/extension variations: echo intact"
alive "$EPID" || fail "edgetls died"
stop_edgetls "$EPID" 10
[ "$ESTATUS" = 0 ] || fail "exit status $ESTATUS on SIGTERM"
grep -q "handshakes 7 hs_failures 0" "$TMP/srv.log" || fail "stats: $(tail -1 "$TMP/srv.log")"
pass "SIGTERM: exit 0"
