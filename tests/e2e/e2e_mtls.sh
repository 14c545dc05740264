#!/usr/bin/env bash
# Client certificates (TLS 1.3 mTLS): configuration errors, then proxy mode where the backend
# (backend.py, an independent PROXY v2 decoder) checks what edgetls says about the client: the
# SSL TLV's client bits and verify field, PP2_SUBTYPE_SSL_CN and the custom TLV 0xE0 (SHA-256 of
# the client leaf), on a full handshake, on a resumed one (the identity comes from the ticket),
# and without a certificate on an optional listener. Clients: openssl s_client -cert/-key.
source "$(dirname "$0")/lib.sh" "$@"
make_certs
P=$TMP/pki
bash "$E2E_DIR/mtls_pki.sh" "$P" || fail "client PKI"

# ---- configuration errors: exit 2 and a message naming the file and line ----
conf() { # FILE LISTENER-LINES...
    local f=$1
    shift
    { printf '[listener]\naddress 127.0.0.1:1\n'; printf '%s\n' "$@"
      printf '[cert]\nchain %s\nkey %s\n' "$CERT" "$KEY"; } >"$f"
}
conf "$TMP/m1.conf" "client_auth required"
expect_config_error "$TMP/m1.conf:1: [listener] client_auth required needs client_ca FILE" -c "$TMP/m1.conf" --check
conf "$TMP/m2.conf" "client_auth sometimes"
expect_config_error "$TMP/m2.conf:3: client_auth: expected off, optional or required, got 'sometimes'" -c "$TMP/m2.conf" --check
conf "$TMP/m3.conf" "client_auth optional" "client_ca $TMP/nope.pem"
expect_config_error "client_ca: cannot read '$TMP/nope.pem'" -c "$TMP/m3.conf" --check
: >"$TMP/empty.pem"
conf "$TMP/m4.conf" "client_auth required" "client_ca $TMP/empty.pem"
expect_config_error "$TMP/m4.conf:1: client_auth: $TMP/empty.pem: empty CA file" -c "$TMP/m4.conf" --check
conf "$TMP/m5.conf" "client_auth required" "client_ca $P/good.key"
expect_config_error "$P/good.key: no CERTIFICATE in the CA file" -c "$TMP/m5.conf" --check
conf "$TMP/m6.conf" "client_auth required" "client_ca $P/client-ca.pem" "client_crl $P/good.pem"
expect_config_error "$P/good.pem: no X509 CRL in the CRL file" -c "$TMP/m6.conf" --check
conf "$TMP/m7.conf" "client_ca $P/client-ca.pem"
expect_config_error "[listener] client_ca, client_crl or client_verify_depth without client_auth" -c "$TMP/m7.conf" --check
conf "$TMP/m8.conf" "client_auth required" "client_ca $P/client-ca.pem" "client_verify_depth 17"
expect_config_error "client_verify_depth: value '17' out of range (0..16)" -c "$TMP/m8.conf" --check
printf '[listener]\naddress 127.0.0.1:1\n[cert]\nchain %s\nkey %s\nclient_auth required\n' "$CERT" "$KEY" >"$TMP/m9.conf"
expect_config_error "$TMP/m9.conf:3: [cert] client_auth required needs client_ca" -c "$TMP/m9.conf" --check
conf "$TMP/ok.conf" "client_auth required" "client_ca $P/client-ca.pem" "client_crl $P/crl.pem" "client_verify_depth 2"
"$EDGETLS" -c "$TMP/ok.conf" --check >"$TMP/ok.out" 2>&1 || fail "valid mTLS configuration refused: $(cat "$TMP/ok.out")"
pass "configuration: missing, unreadable, empty or wrong CA/CRL files, bad values, stray keys"

# ---- proxy mode: the identity in the PROXY v2 header ----
start_bg backend python3 "$E2E_DIR/backend.py" --proxy-v2 --report "$TMP/pp2.jsonl"
for i in $(seq 1 50); do grep -q ready "$TMP/backend.out" && break; sleep 0.1; done
BPORT=$(awk '/ready/ {print $2}' "$TMP/backend.out")
[ -n "$BPORT" ] || fail "backend did not start"
PREQ=$(free_port)
POPT=$(free_port)
cat >"$TMP/proxy.conf" <<CONF
mode proxy
workers 2
[listener]
address 127.0.0.1:$PREQ
client_auth required
client_ca $P/client-ca.pem
client_crl $P/crl.pem
[listener]
address 127.0.0.1:$POPT
client_auth optional
client_ca $P/client-ca.pem
[cert]
chain $CERT
key $KEY
[backend]
address 127.0.0.1:$BPORT
proxy_protocol v2
CONF
start_edgetls -c "$TMP/proxy.conf"

sclient() { # PORT OUT [s_client args...]: sends "ping", waits for the echo
    local port=$1 out=$2
    shift 2
    (printf 'ping\n'; sleep 1) | timeout 10 openssl s_client -connect 127.0.0.1:$port -servername localhost \
        -CAfile "$CA" -quiet -no_ign_eof "$@" >"$TMP/$out.out" 2>&1 || true
}
sclient $PREQ full -cert "$P/good.pem" -key "$P/good.key" -sess_out "$TMP/sess.pem"
grep -q '^ping' "$TMP/full.out" || fail "full handshake with a client certificate: $(cat "$TMP/full.out")"
sclient $PREQ resumed -cert "$P/good.pem" -key "$P/good.key" -sess_in "$TMP/sess.pem"
grep -q '^ping' "$TMP/resumed.out" || fail "resumed handshake: $(cat "$TMP/resumed.out")"
sclient $POPT nocert
grep -q '^ping' "$TMP/nocert.out" || fail "optional listener without a certificate: $(cat "$TMP/nocert.out")"
sclient $PREQ refused
grep -q 'alert number 116' "$TMP/refused.out" || fail "required without a certificate: $(cat "$TMP/refused.out")"
sclient $PREQ revoked -cert "$P/revoked.pem" -key "$P/revoked.key"
grep -q 'alert number 44' "$TMP/revoked.out" || fail "revoked: $(cat "$TMP/revoked.out")"
FP=$(openssl x509 -in "$P/good.pem" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f')
python3 - "$TMP/pp2.jsonl" "$FP" "$PREQ" "$POPT" <<'PY' || fail "PROXY v2 client identity"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
fp, preq, popt = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
# the backend connection opens before the handshake ends: a refused client leaves one with no header
assert sum(1 for r in rows if "error" in r) == 2, rows
rows = [r for r in rows if "error" not in r]
assert len(rows) == 3, "expected 3 PROXY headers: %s" % rows
full, resumed, nocert = rows
for r in rows:
    assert r["ssl_version"] == "TLSv1.3", r
# PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS, verify 0
assert full["dst_port"] == preq and full["ssl_client"] == 0x07 and full["ssl_verify"] == 0, full
assert full["ssl_cn"] == "client-good" and full["client_sha256"] == fp, full
# resumed: the certificate was verified in the session, not sent on this connection
assert resumed["ssl_client"] == 0x05 and resumed["ssl_verify"] == 0, resumed
assert resumed["ssl_cn"] == "client-good" and resumed["client_sha256"] == fp, resumed
assert nocert["dst_port"] == popt and nocert["ssl_client"] == 0x01 and nocert["ssl_verify"] != 0, nocert
assert "ssl_cn" not in nocert and "client_sha256" not in nocert, nocert
PY
pass "PROXY v2: client bits, verify, CN and SHA-256 for a full and a resumed handshake; none without a certificate"

stop_edgetls 10
[ "$ESTATUS" = 0 ] || fail "exit status $ESTATUS"
pass "SIGTERM: exit 0"
