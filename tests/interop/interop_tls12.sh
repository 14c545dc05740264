#!/usr/bin/env bash
# Real clients held to TLS 1.2, verifying chain and hostname, against edgetls with an ECDSA
# P-256 and an RSA-2048 certificate (default `protocols`: TLS 1.2 and 1.3 both on):
#  * openssl s_client -tls1_2: every suite of the certificate's type x group X25519 / P-256,
#    negotiated suite, group, signature type and verification read back; PKCS#1 v1.5-only
#    (-sigalgs RSA+SHA256 / RSA+SHA384) against the RSA certificate, handshake_failure for it against the ECDSA one and for an
#    X25519-only supported_groups against the P-256 certificate (RFC 8422 §5.1.1); tickets;
#  * curl --tls-max 1.2, gnutls-cli --priority NORMAL:-VERS-TLS1.3 (also PKCS#1-only and
#    resumption), Python ssl with maximum_version TLSv1_2;
#  * proxy mode with --proxy-protocol v2: the backend's decoded header carries the SSL TLV with
#    VERSION "TLSv1.2" and the suite's IANA name (TLSv1.3 for a TLS 1.3 client on the same
#    listener).
# Go crypto/tls with MaxVersion TLS 1.2 is in interop_go.sh (one `go build` for both).
source "$(dirname "$0")/lib.sh" "$@"
make_ca
make_leaf ec ec localhost localhost IP:127.0.0.1
make_leaf rsa rsa localhost localhost IP:127.0.0.1
declare -A SPORT
for k in ec rsa; do
    SPORT[$k]=$(free_port)
    start_edgetls "srv-$k" --listen "127.0.0.1:${SPORT[$k]}" --cert "$PKI/$k.pem" --key "$PKI/$k.key" \
        --mode responder --groups x25519:secp256r1 --response-body "tls12-$k"
done
declare -A SUITES=(
    [ec]="ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-ECDSA-CHACHA20-POLY1305"
    [rsa]="ECDHE-RSA-AES128-GCM-SHA256 ECDHE-RSA-AES256-GCM-SHA384 ECDHE-RSA-CHACHA20-POLY1305")
declare -A TEMP=([X25519]="Server Temp Key: X25519" [P-256]="Server Temp Key: ECDH, prime256v1")
declare -A SIGTYPE=([ec]=ECDSA [rsa]=RSA-PSS)

# s12 OUT KEY ARGS...: s_client -tls1_2 to that server with SNI and hostname verification.
s12() {
    local out=$1 k=$2
    shift 2
    PORT=${SPORT[$k]} sclient "$out" -tls1_2 -servername localhost -verify_hostname localhost "$@"
}

# want FILE STRING...: every fixed string present ("ok" in FILE.res), else the reason there.
want() { want_lines "$1.res" "$@"; }

# RFC 8422 §5.1.1: supported_groups also names the curves of ECDSA certificates the client
# accepts, so an X25519 client of the P-256 certificate lists P-256 too (the server prefers X25519).
check_one() { # KEY GROUP SUITE
    local out=$TMP/s-$1-$2-$3 groups=$2
    [ "$1-$2" = ec-X25519 ] && groups=X25519:P-256
    s12 "$out" "$1" -groups "$groups" -cipher "$3" || { echo "s_client failed" >"$out.res"; return; }
    want "$out" "New, TLSv1.2, Cipher is $3" "${TEMP[$2]}" "Peer signature type: ${SIGTYPE[$1]}" \
        "Verify return code: 0 (ok)" "Extended master secret: yes" "HTTP/1.1 200 OK" "tls12-$1"
}
show_one() { grep -E 'New|Temp|Peer sig|Verify|error|alert' "${1%.res}" | head -8; }
for k in ec rsa; do
    for g in X25519 P-256; do
        for c in ${SUITES[$k]}; do
            matrix_run check_one "$k" "$g" "$c"
        done
    done
done
matrix_results 12 show_one "$TMP/s-*.res"
pass "s_client -tls1_2: 3 suites x {X25519, P-256} x {ECDSA P-256, RSA-2048}, verified, EMS, 200 OK"

for sa in RSA+SHA256 RSA+SHA384; do
    s12 "$TMP/pkcs1-$sa" rsa -sigalgs "$sa" || fail "s_client -sigalgs $sa: $(tail -5 "$TMP/pkcs1-$sa")"
    want "$TMP/pkcs1-$sa" "Peer signature type: RSA" "Peer signing digest: SHA${sa#RSA+SHA}" \
        "New, TLSv1.2, Cipher is ECDHE-RSA-" "Verify return code: 0 (ok)" "tls12-rsa"
    [ "$(cat "$TMP/pkcs1-$sa.res")" = ok ] || fail "PKCS#1 v1.5 client ($sa): $(cat "$TMP/pkcs1-$sa.res")"
    grep -q "Peer signature type: RSA-PSS" "$TMP/pkcs1-$sa" && fail "-sigalgs $sa got RSA-PSS"
done
if s12 "$TMP/pkcs1-ec" ec -sigalgs RSA+SHA256; then
    fail "an ECDSA-only server completed a handshake with a client accepting only RSA signatures"
fi
grep -qi "handshake failure" "$TMP/pkcs1-ec" || fail "PKCS#1-only vs ECDSA: $(grep -iE 'alert|error' "$TMP/pkcs1-ec" | head -3)"
if s12 "$TMP/x-only" ec -groups X25519; then
    fail "the P-256 certificate served to a client whose supported_groups lacks P-256"
fi
grep -qi "handshake failure" "$TMP/x-only" || fail "X25519-only vs ECDSA P-256: $(grep -iE 'alert|error' "$TMP/x-only" | head -3)"
pass "PKCS#1 v1.5-only clients (RSA+SHA256, RSA+SHA384) get PKCS#1 signatures; vs ECDSA, and X25519-only vs the P-256 certificate: handshake_failure"

for k in ec rsa; do
    s12 "$TMP/r1-$k" "$k" -sess_out "$TMP/sess-$k.pem" || fail "s_client ($k) for a ticket"
    grep -q "^New, TLSv1.2" "$TMP/r1-$k" || fail "first connection ($k) not a new TLS 1.2 session"
    s12 "$TMP/r2-$k" "$k" -sess_in "$TMP/sess-$k.pem" || fail "s_client -sess_in ($k)"
    grep -q "^Reused, TLSv1.2" "$TMP/r2-$k" || fail "ticket not resumed ($k): $(grep -E 'New|Reused' "$TMP/r2-$k")"
    grep -q "tls12-$k" "$TMP/r2-$k" || fail "no response on the resumed connection ($k)"
done
pass "s_client -tls1_2: ticket resumption with both certificates"

T=$((20 * SLOW))
for k in ec rsa; do
    c=${SUITES[$k]%% *}
    out=$(curl -sS -v --max-time "$T" --cacert "$CA" --tlsv1.2 --tls-max 1.2 \
        --resolve "localhost:${SPORT[$k]}:127.0.0.1" "https://localhost:${SPORT[$k]}/" 2>"$TMP/curl-$k.err") ||
        fail "curl --tls-max 1.2 ($k): $(tail -3 "$TMP/curl-$k.err")"
    [ "$out" = "tls12-$k" ] || fail "curl ($k): body '$out'"
    grep -q "SSL connection using TLSv1.2 / $c" "$TMP/curl-$k.err" ||
        fail "curl ($k): $(grep 'SSL connection' "$TMP/curl-$k.err")"
done
if curl -sS --max-time "$T" --cacert "$CA" --tls-max 1.2 --resolve "wrong.example.test:${SPORT[ec]}:127.0.0.1" \
    "https://wrong.example.test:${SPORT[ec]}/" >/dev/null 2>"$TMP/curl-wrong.err"; then
    fail "curl accepted a wrong hostname"
fi
pass "curl --tls-max 1.2: both certificates, 200 with the body; a wrong hostname refused"

gtls() { # OUT KEY PRIORITY [EXTRA...]
    local out=$1 k=$2 prio=$3
    shift 3
    http_get | timeout $((20 * SLOW)) gnutls-cli --x509cafile "$CA" -p "${SPORT[$k]}" --sni-hostname localhost \
        --verify-hostname localhost --priority "$prio" "$@" 127.0.0.1 >"$out" 2>&1
}
declare -A GSIG=([ec]=ECDSA-SECP256R1-SHA256 [rsa]=RSA-PSS-RSAE-SHA256)
for k in ec rsa; do
    for g in X25519 SECP256R1; do
        gg=+GROUP-$g
        [ "$k-$g" = ec-X25519 ] && gg=+GROUP-X25519:+GROUP-SECP256R1 # RFC 8422 §5.1.1, as above
        gtls "$TMP/g-$k-$g" "$k" "NORMAL:-VERS-TLS1.3:-GROUP-ALL:$gg" ||
            fail "gnutls-cli ($k, $g): $(tail -5 "$TMP/g-$k-$g")"
        want "$TMP/g-$k-$g" "Status: The certificate is trusted." "Description: (TLS1.2-X.509)-(ECDHE-$g)-" \
            "HTTP/1.1 200 OK" "tls12-$k"
        [ "$(cat "$TMP/g-$k-$g.res")" = ok ] || fail "gnutls-cli ($k, $g): $(cat "$TMP/g-$k-$g.res"); $(grep Description "$TMP/g-$k-$g")"
    done
    grep -qE "Description: .*-\((${GSIG[$k]}|ECDSA-SHA256)\)-" "$TMP/g-$k-X25519" ||
        fail "gnutls-cli ($k): signature $(grep Description "$TMP/g-$k-X25519")"
done
gtls "$TMP/g-pkcs1" rsa "NORMAL:-VERS-TLS1.3:-SIGN-ALL:+SIGN-RSA-SHA256" || fail "gnutls-cli PKCS#1: $(tail -5 "$TMP/g-pkcs1")"
grep -qF "Description: (TLS1.2-X.509)-(ECDHE-X25519)-(RSA-SHA256)-" "$TMP/g-pkcs1" ||
    fail "gnutls-cli PKCS#1: $(grep Description "$TMP/g-pkcs1")"
gtls "$TMP/g-resume" ec "NORMAL:-VERS-TLS1.3" --resume || fail "gnutls-cli --resume: $(tail -5 "$TMP/g-resume")"
grep -q "This is a resumed session" "$TMP/g-resume" || fail "gnutls-cli --resume: $(grep -iE 'resum|session' "$TMP/g-resume" | head -3)"
pass "gnutls-cli NORMAL:-VERS-TLS1.3: both certificates x {X25519, P-256}, PKCS#1-only RSA, resumption"

for k in ec rsa; do
    python3 - "${SPORT[$k]}" "$CA" "$k" <<'PY' >"$TMP/py-$k.out" 2>&1 || fail "python ssl ($k): $(cat "$TMP/py-$k.out")"
import socket, ssl, sys
port, ca, k = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)  # chain and hostname verified
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
for name in ("localhost", "127.0.0.1"):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname=name)
    assert s.version() == "TLSv1.2", s.version()
    want = "ECDHE-ECDSA-" if k == "ec" else "ECDHE-RSA-"
    assert s.cipher()[0].startswith(want), s.cipher()
    s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := s.recv(4096):
        data += chunk
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"tls12-" + k.encode()), data[-80:]
    s.close()
try:
    ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                    server_hostname="wrong.example.test")
    raise SystemExit("wrong hostname accepted")
except ssl.SSLCertVerificationError:
    pass
print("ok")
PY
done
pass "Python ssl (maximum_version TLSv1_2): both certificates, by name and by IP; wrong name refused"

# ---- proxy mode with PROXY v2 -----------------------------------------------------------------
start_backend pp2 http --proxy-v2
PPORT=$(free_port)
start_edgetls srv-pp2 --listen "127.0.0.1:$PPORT" --cert "$PKI/ec.pem" --key "$PKI/ec.key" \
    --mode proxy --backend "127.0.0.1:$BPORT" --proxy-protocol v2 --alpn http/1.1
PPID2=$EPID
declare -A IANA=([ECDHE-ECDSA-AES256-GCM-SHA384]=TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
    [ECDHE-ECDSA-CHACHA20-POLY1305]=TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256)
for c in "${!IANA[@]}"; do
    curl -sS --http1.1 --max-time "$T" --cacert "$CA" --tls-max 1.2 --ciphers "$c" -w '%{local_port}\n' \
        --resolve "localhost:$PPORT:127.0.0.1" "https://localhost:$PPORT/pp12" -o "$TMP/pp-$c.json" \
        >"$TMP/pp-$c.port" || fail "curl TLS 1.2 through proxy mode ($c)"
    python3 - "$TMP/pp-$c.json" "$(cat "$TMP/pp-$c.port")" "$PPORT" "${IANA[$c]}" <<'PY' ||
import json, sys
d = json.load(open(sys.argv[1]))
p = d["proxy"]
assert d["path"] == "/pp12", d
assert p["src_port"] == int(sys.argv[2]) and p["dst_port"] == int(sys.argv[3]), p
assert p["alpn"] == "http/1.1" and p["authority"] == "localhost", p
assert p["ssl_client"] & 1 and p["ssl_version"] == "TLSv1.2", p
assert p["ssl_cipher"] == sys.argv[4], p
assert p.get("crc32c_ok", True), p
PY
        fail "PROXY v2 header for TLS 1.2 ($c): $(cat "$TMP/pp-$c.json")"
done
curl -sS --http1.1 --max-time "$T" --cacert "$CA" --tlsv1.3 --resolve "localhost:$PPORT:127.0.0.1" \
    "https://localhost:$PPORT/pp13" -o "$TMP/pp-13.json" || fail "curl TLS 1.3 through proxy mode"
python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["proxy"]; assert p["ssl_version"] == "TLSv1.3" and p["ssl_cipher"].startswith("TLS_AES_"), p' \
    "$TMP/pp-13.json" || fail "PROXY v2 header for TLS 1.3 on the same listener: $(cat "$TMP/pp-13.json")"
grep -q "^conn" "$TMP/pp2.out" && fail "PROXY v2 backend reported errors: $(cat "$TMP/pp2.out")"
pass "proxy mode, PROXY v2: SSL TLV VERSION TLSv1.2 + the IANA suite name (and TLSv1.3 beside it)"

for p in "${PIDS[@]}"; do
    [ "$p" = "$BACKEND_PID" ] && continue
    alive "$p" || fail "edgetls $p died"
    stop_edgetls "$p" 10
    [ "$ESTATUS" = 0 ] || fail "edgetls $p: exit status $ESTATUS on SIGTERM"
done
pass "SIGTERM: exit 0"
