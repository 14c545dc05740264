#!/usr/bin/env bash
# The executable's configuration handling: bad files and flags exit 2 with FILE:LINE (or
# "command line") messages; --check validates without serving; certificate problems found
# while loading (not parseable, key does not match) are configuration errors too.
source "$(dirname "$0")/lib.sh" "$@"
make_certs
printf 'mode responder\nworkers 2\nfrobnicate yes\n' >"$TMP/a.conf"
expect_config_error "$TMP/a.conf:3: unknown key 'frobnicate'" --config "$TMP/a.conf"
printf '[listener]\naddress 127.0.0.1:99999\n' >"$TMP/b.conf"
expect_config_error "$TMP/b.conf:2: address: bad address '127.0.0.1:99999'" -c "$TMP/b.conf"
printf '[listener]\naddress 127.0.0.1:8443\n[listener]\naddress 127.0.0.1:8443\n[cert]\nchain %s\nkey %s\n' "$CERT" "$KEY" >"$TMP/c.conf"
expect_config_error "$TMP/c.conf:3: duplicate listener 127.0.0.1:8443 (first declared at line 1)" -c "$TMP/c.conf"
expect_config_error "cannot open" --config "$TMP/missing.conf"
expect_config_error "command line: unknown option '--frobnicate'" --frobnicate
expect_config_error "needs a certificate" --listen 127.0.0.1:8443
expect_config_error "mode proxy needs a backend" --listen 127.0.0.1:8443 --cert "$CERT" --key "$KEY" --mode proxy
printf 'not a certificate\n' >"$TMP/bad.pem"
expect_config_error "[cert]" -c <(printf '[listener]\naddress 127.0.0.1:8443\n[cert]\nchain %s\nkey %s\n' "$TMP/bad.pem" "$KEY")
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/other.key" 2>/dev/null
expect_config_error "command line: --cert $CERT" --listen 127.0.0.1:8443 --cert "$CERT" --key "$TMP/other.key"
# TLS 1.2 suites are accepted now (e2e_tls12.sh); CBC suites remain unknown names
expect_config_error "unknown cipher suite 'ECDHE-ECDSA-AES128-SHA'" --check --listen 127.0.0.1:8443 \
    --cert "$CERT" --key "$KEY" --ciphers ECDHE-ECDSA-AES128-SHA
cp "$KEY" "$TMP/loose.key" && chmod 644 "$TMP/loose.key"
expect_config_error "private key is accessible to every user (mode 0644); run: chmod 600" \
    --check --listen 127.0.0.1:8443 --cert "$CERT" --key "$TMP/loose.key"
chmod 640 "$TMP/loose.key"
"$EDGETLS" --check --listen 127.0.0.1:8443 --cert "$CERT" --key "$TMP/loose.key" >"$TMP/gr" 2>&1 ||
    fail "a group-readable (0640) key must load: $(cat "$TMP/gr")"
grep -q "warning: .*readable by group" "$TMP/gr" || fail "no warning for a 0640 key: $(cat "$TMP/gr")"
pass "bad configurations exit 2 with precise messages"
"$EDGETLS" --check --listen 127.0.0.1:8443 --cert "$CERT" --key "$KEY" >"$TMP/ok" 2>&1 || fail "--check: $(cat "$TMP/ok")"
grep -q "configuration ok" "$TMP/ok" || fail "--check output"
"$EDGETLS" --help | grep -q -- "--listen" || fail "--help"
"$EDGETLS" --version | grep -q "^edgetls " || fail "--version"
pass "--check, --help, --version"
# The documented example configuration parses (certificate paths replaced by real files).
sed -e "s|/etc/edgetls/localhost.pem|$CERT|; s|/etc/edgetls/localhost.key|$KEY|" \
    -e "s|/etc/edgetls/example.pem|$CERT|; s|/etc/edgetls/example.key|$KEY|" \
    "$E2E_DIR/../../conf/edgetls.conf.example" >"$TMP/example.conf"
"$EDGETLS" --check -c "$TMP/example.conf" >"$TMP/ex" 2>&1 || fail "example configuration: $(cat "$TMP/ex")"
pass "conf/edgetls.conf.example is valid"
# Port already taken by something else: a runtime error (1), not a configuration error.
start_bg holder python3 -c "
import socket, time
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)
print('port', s.getsockname()[1], flush=True); time.sleep(30)"
wait_for_output holder port
PORT=$(awk '{print $2}' "$TMP/holder.out")
rc=0
timeout 20 "$EDGETLS" --listen 127.0.0.1:$PORT --cert "$CERT" --key "$KEY" --workers 1 >"$TMP/out" 2>"$TMP/err" || rc=$?
[ "$rc" = 1 ] || fail "port in use: exit $rc ($(cat "$TMP/err"))"
grep -q "Address already in use" "$TMP/err" || fail "port in use message: $(cat "$TMP/err")"
pass "listener bind failure: exit 1 with the reason"
