#!/usr/bin/env bash
# ALPN with openssl s_client against a server configured with "h2,http/1.1": the protocol is
# chosen in server preference order among the client's offers, an offer with nothing in common
# gets alert 120 (no_application_protocol, RFC 7301 3.2), a client without ALPN is served
# without it, and a server without --alpn ignores the extension.
source "$(dirname "$0")/lib.sh" "$@"
make_ca
make_leaf ec ec localhost localhost IP:127.0.0.1
APORT=$(free_port)
start_edgetls srv-alpn --listen "127.0.0.1:$APORT" --cert "$PKI/ec.pem" --key "$PKI/ec.key" \
    --mode responder --alpn h2,http/1.1
NPORT=$(free_port)
start_edgetls srv-noalpn --listen "127.0.0.1:$NPORT" --cert "$PKI/ec.pem" --key "$PKI/ec.key" --mode responder

# alpn_ok NAME OFFER(or -) WANT(or -)
alpn_ok() {
    local out=$TMP/alpn-$1.txt args=()
    [ "$2" = - ] || args=(-alpn "$2")
    sclient "$out" -servername localhost -verify_hostname localhost "${args[@]}" ||
        fail "ALPN $1 ($2): handshake failed: $(grep -iE 'error|alert' "$out" | head -3)"
    if [ "$3" = - ]; then
        grep -q "No ALPN negotiated" "$out" || fail "ALPN $1: expected none, got $(grep ALPN "$out")"
    else
        grep -q "^ALPN protocol: $3\$" "$out" || fail "ALPN $1: expected $3, got $(grep ALPN "$out")"
    fi
    grep -q "HTTP/1.1 200 OK" "$out" || fail "ALPN $1: no 200"
}
PORT=$APORT
alpn_ok http11 http/1.1 http/1.1
alpn_ok both h2,http/1.1 h2
alpn_ok reversed http/1.1,h2 h2
alpn_ok unknown-first foo,http/1.1 http/1.1
alpn_ok none - -
pass "server preference among the client's offers; no ALPN offered -> none"
if sclient "$TMP/alpn-foo.txt" -servername localhost -alpn foo; then
    fail "ALPN 'foo' only: handshake succeeded"
fi
grep -qE "alert no application protocol|alert number 120" "$TMP/alpn-foo.txt" ||
    fail "ALPN 'foo' only: expected alert 120: $(grep -iE 'alert|error' "$TMP/alpn-foo.txt" | head -3)"
pass "ALPN 'foo' only: alert 120 no_application_protocol"
curl -sS --http1.1 --max-time $((20 * SLOW)) --cacert "$CA" -w '%{http_version}' -o "$TMP/curl.body" \
    "https://localhost:$APORT/" >"$TMP/curl.ver" 2>&1 || fail "curl --http1.1: $(cat "$TMP/curl.ver")"
[ "$(cat "$TMP/curl.ver")" = 1.1 ] || fail "curl: HTTP version $(cat "$TMP/curl.ver")"
grep -q "hello from edgetls" "$TMP/curl.body" || fail "curl: body"
pass "curl --http1.1 (ALPN http/1.1) gets the response"

PORT=$NPORT
alpn_ok ignored foo -
alpn_ok ignored2 h2,http/1.1 -
pass "server without --alpn ignores the extension"

for p in "${PIDS[@]}"; do
    stop_edgetls "$p" 10
    [ "$ESTATUS" = 0 ] || fail "edgetls $p: exit status $ESTATUS on SIGTERM"
done
grep -q "handshakes 6 hs_failures 1" "$TMP/srv-alpn.log" || fail "stats: $(tail -1 "$TMP/srv-alpn.log")"
pass "SIGTERM: exit 0; 6 handshakes and 1 failure counted"
