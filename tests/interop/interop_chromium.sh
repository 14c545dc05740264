#!/usr/bin/env bash
# Headless Chromium (Debian's `chromium`, which sends an X25519MLKEM768 key share by default)
# fetches a page from edgetls on loopback, trusting the test leaf by its SPKI hash
# (--ignore-certificate-errors-spki-list pins that one key; any other certificate would still
# be refused). edgetls runs with its default groups and --log-level debug; its log must show
# the handshake on x25519mlkem768, and the page body must arrive. Then the other side of the
# preference: an OpenSSL 3.0 client (no hybrid) still gets X25519 from the same server, and a
# server configured with x25519:secp256r1 gives Chromium X25519.
# Chromium runs in a network namespace of its own with only loopback (this script re-executes
# itself under `unshare -n`, so nothing it starts can reach any other address); every host
# name but localhost resolves to nothing. Skips (77) when chromium is missing or cannot start.
if [ -z "${ETLS_CHROMIUM_NETNS:-}" ] && command -v unshare >/dev/null 2>&1 &&
    unshare -n true 2>/dev/null; then
    ETLS_CHROMIUM_NETNS=1 exec unshare -n bash -c 'ip link set lo up && exec bash "$@"' bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh" "$@"
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
    echo "SKIP: chromium is not installed (scripts/setup installs it)"
    exit 77
fi
make_ca
make_leaf ec ec localhost localhost IP:127.0.0.1
SPKI=$(openssl x509 -in "$PKI/ec.pem" -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | base64)

# chrome_get NAME URL: headless Chromium, DOM of the page in $TMP/NAME.html (stderr: .err).
chrome_get() {
    local name=$1 url=$2
    timeout $((60 * SLOW)) "$CHROMIUM" --headless=new --no-sandbox --disable-gpu \
        --user-data-dir="$TMP/chrome-$name" --no-first-run --no-default-browser-check \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-default-apps --disable-domain-reliability --disable-extensions \
        --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE localhost" \
        --ignore-certificate-errors-spki-list="$SPKI" \
        --dump-dom "$url" >"$TMP/$name.html" 2>"$TMP/$name.err"
}

# Can this sandbox run it at all? A page Chromium makes itself, no network.
if ! chrome_get probe "data:text/html,<p>etls-probe</p>" || ! grep -q etls-probe "$TMP/probe.html"; then
    echo "SKIP: chromium cannot start here: $(grep -v dbus "$TMP/probe.err" | tail -3)"
    exit 77
fi

PORT=$(free_port)
BODY="edgetls-pq-page-$RANDOM"
start_edgetls srv --listen "127.0.0.1:$PORT" --cert "$PKI/ec.pem" --key "$PKI/ec.key" \
    --mode responder --response-body "$BODY" --log-level debug
chrome_get hybrid "https://localhost:$PORT/" || fail "chromium: status $?: $(grep -v dbus "$TMP/hybrid.err" | tail -3)"
grep -q "$BODY" "$TMP/hybrid.html" || fail "chromium did not get the page: $(head -c 300 "$TMP/hybrid.html")"
grep -q "handshake done: TLSv1.3 TLS_AES_128_GCM_SHA256 group x25519mlkem768 full" "$TMP/srv.log" ||
    fail "no X25519MLKEM768 handshake in the server log: $(grep 'handshake done' "$TMP/srv.log")"
if grep "handshake done" "$TMP/srv.log" | grep -qv "group x25519mlkem768"; then
    fail "a Chromium handshake on another group: $(grep 'handshake done' "$TMP/srv.log")"
fi
pass "chromium: page loaded over X25519MLKEM768 ($(grep -c 'group x25519mlkem768' "$TMP/srv.log") handshakes)"

http_get | openssl s_client -connect "127.0.0.1:$PORT" -tls1_3 -CAfile "$CA" -verify_return_error \
    -servername localhost -quiet >"$TMP/ossl.out" 2>&1 || fail "openssl s_client: $(tail -3 "$TMP/ossl.out")"
grep -q "$BODY" "$TMP/ossl.out" || fail "openssl s_client: no body: $(tail -3 "$TMP/ossl.out")"
grep "handshake done" "$TMP/srv.log" | tail -1 | grep -q "group x25519 full" ||
    fail "openssl 3.0 client not on X25519: $(grep 'handshake done' "$TMP/srv.log" | tail -1)"
pass "openssl s_client (no hybrid) on the same server: X25519"

XPORT=$(free_port)
start_edgetls srv-x --listen "127.0.0.1:$XPORT" --cert "$PKI/ec.pem" --key "$PKI/ec.key" \
    --mode responder --response-body "$BODY" --log-level debug --groups x25519:secp256r1
chrome_get classic "https://localhost:$XPORT/" || fail "chromium (x25519 server): status $?"
grep -q "$BODY" "$TMP/classic.html" || fail "chromium (x25519 server): no page"
grep -q "group x25519 full" "$TMP/srv-x.log" && ! grep -q "group x25519mlkem768" "$TMP/srv-x.log" ||
    fail "x25519:secp256r1 server: $(grep 'handshake done' "$TMP/srv-x.log")"
pass "chromium against a server without the hybrid: X25519, no HelloRetryRequest"

for p in "${PIDS[@]}"; do
    stop_edgetls "$p" 10
    [ "$ESTATUS" = 0 ] || fail "edgetls $p: exit status $ESTATUS on SIGTERM"
done
pass "SIGTERM: exit 0"
