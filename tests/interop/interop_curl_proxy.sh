#!/usr/bin/env bash
# curl through proxy mode to real plaintext backends (tests/interop/backend.py):
#  * an HTTP/1.1 backend: GET with a query, a 3 MiB POST (SHA-256 checked by the backend), and
#    two requests on one kept-alive TLS connection that must reach the backend on one connection;
#  * a backend that requires a PROXY protocol v2 header (--proxy-protocol v2): the header it
#    decodes must carry curl's own source port, the listener port, ALPN http/1.1, the SNI name
#    as AUTHORITY, and an SSL TLV with TLSv1.3 and exactly the suite curl was forced to use;
#    a client without ALPN must yield a header without the ALPN TLV.
source "$(dirname "$0")/lib.sh" "$@"
make_ca
make_leaf ec ec localhost localhost IP:127.0.0.1
T=$((30 * SLOW))
CURL=(curl -sS --http1.1 --max-time "$T" --cacert "$CA")

start_backend http http
PORT=$(free_port)
start_edgetls srv --listen "127.0.0.1:$PORT" --cert "$PKI/ec.pem" --key "$PKI/ec.key" \
    --mode proxy --backend "127.0.0.1:$BPORT" --alpn http/1.1
SPID=$EPID
R=(--resolve "localhost:$PORT:127.0.0.1")
U=https://localhost:$PORT

"${CURL[@]}" "${R[@]}" "$U/some/path?x=1&y=%20z" -o "$TMP/get.json" || fail "GET through the proxy"
python3 - "$TMP/get.json" <<'PY' || fail "GET: backend saw the wrong request: $(cat "$TMP/get.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["method"] == "GET" and d["path"] == "/some/path?x=1&y=%20z", d
assert d["headers"]["host"] == "localhost:" + d["headers"]["host"].split(":")[1], d
assert d["proxy"] is None and d["body_len"] == 0, d
PY
pass "GET through proxy mode reaches the backend unchanged"

head -c $((3 << 20)) /dev/urandom >"$TMP/post.bin"
want=$(sha256sum "$TMP/post.bin" | cut -d' ' -f1)
"${CURL[@]}" "${R[@]}" --data-binary "@$TMP/post.bin" -H 'Content-Type: application/octet-stream' \
    "$U/upload" -o "$TMP/post.json" || fail "POST through the proxy"
python3 - "$TMP/post.json" "$want" <<'PY' || fail "POST: $(cat "$TMP/post.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["method"] == "POST" and d["body_len"] == 3 << 20, d
assert d["body_sha256"] == sys.argv[2], d
PY
pass "3 MiB POST body byte-exact at the backend"

"${CURL[@]}" "${R[@]}" -w '%{num_connects}\n' "$U/one" -o "$TMP/ka1.json" "$U/two" -o "$TMP/ka2.json" \
    >"$TMP/ka.out" || fail "two requests on one connection"
[ "$(paste -sd' ' "$TMP/ka.out")" = "1 0" ] || fail "curl did not reuse its connection: $(cat "$TMP/ka.out")"
python3 - "$TMP/ka1.json" "$TMP/ka2.json" <<'PY' || fail "keep-alive: $(cat "$TMP/ka1.json" "$TMP/ka2.json")"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
assert a["path"] == "/one" and b["path"] == "/two", (a, b)
assert a["conn"] == b["conn"] and (a["request"], b["request"]) == (1, 2), (a, b)
PY
pass "keep-alive: two requests on one TLS connection share one backend connection"

start_backend pp2 http --proxy-v2
PP2_BPORT=$BPORT
PPORT=$(free_port)
start_edgetls srv-pp2 --listen "127.0.0.1:$PPORT" --cert "$PKI/ec.pem" --key "$PKI/ec.key" \
    --mode proxy --backend "127.0.0.1:$BPORT" --proxy-protocol v2 --alpn h2,http/1.1
PPID2=$EPID
R=(--resolve "localhost:$PPORT:127.0.0.1")
for s in TLS_AES_256_GCM_SHA384 TLS_CHACHA20_POLY1305_SHA256; do
    "${CURL[@]}" "${R[@]}" --tlsv1.3 --tls13-ciphers "$s" -w '%{local_port}\n' \
        "https://localhost:$PPORT/pp?$s" -o "$TMP/pp-$s.json" >"$TMP/pp-$s.port" || fail "curl PROXY v2 ($s)"
    python3 - "$TMP/pp-$s.json" "$(cat "$TMP/pp-$s.port")" "$PPORT" "$s" <<'PY' || fail "PROXY v2 header ($s): $(cat "$TMP/pp-$s.json")"
import json, sys
d = json.load(open(sys.argv[1]))
p = d["proxy"]
assert d["path"] == "/pp?" + sys.argv[4], d
assert p["ver_cmd"] == 0x21 and p["fam"] == 0x11, p
assert p["src"] == "127.0.0.1" and p["dst"] == "127.0.0.1", p
assert p["src_port"] == int(sys.argv[2]) and p["dst_port"] == int(sys.argv[3]), p
assert p["alpn"] == "http/1.1" and p["authority"] == "localhost", p
assert p["ssl_client"] & 1 and p["ssl_version"] == "TLSv1.3", p
assert p["ssl_cipher"] == sys.argv[4], p
assert p.get("crc32c_ok", True), p
PY
done
pass "PROXY v2: curl's address and port, listener port, ALPN, SNI authority, TLSv1.3 + forced suite"

"${CURL[@]}" "${R[@]}" --no-alpn "https://localhost:$PPORT/noalpn" -o "$TMP/pp-noalpn.json" || fail "curl --no-alpn"
python3 - "$TMP/pp-noalpn.json" <<'PY' || fail "PROXY v2 without ALPN: $(cat "$TMP/pp-noalpn.json")"
import json, sys
p = json.load(open(sys.argv[1]))["proxy"]
assert "alpn" not in p and p["authority"] == "localhost", p
PY
pass "PROXY v2: no ALPN TLV when the client offered none"
# A backend that speaks first: its banner must reach a client that has sent nothing yet.
start_backend banner banner
BNPORT=$(free_port)
start_edgetls srv-banner --listen "127.0.0.1:$BNPORT" --cert "$PKI/ec.pem" --key "$PKI/ec.key" \
    --mode proxy --backend "127.0.0.1:$BPORT"
BNPID=$EPID
PYCLIENT_TIMEOUT=$T python3 - "$BNPORT" "$CA" <<'PY' >"$TMP/banner.txt" 2>&1 || fail "server-first backend: $(cat "$TMP/banner.txt")"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10),
                    server_hostname="localhost")
line = s.recv(100)
assert line.startswith(b"220 edgetls-interop banner "), line
s.sendall(b"EHLO test\r\n")
assert s.recv(100) == b"EHLO test\r\n"
print("banner then echo ok")
PY
pass "server-speaks-first backend: banner delivered before the client sends anything"

# IPv6: a [::1] listener; the PROXY v2 header switches to the INET6 family.
V6PORT=$(free_port)
start_edgetls srv-v6 --listen "[::1]:$V6PORT" --cert "$PKI/ec.pem" --key "$PKI/ec.key" \
    --mode proxy --backend "127.0.0.1:$PP2_BPORT" --proxy-protocol v2
V6PID=$EPID
"${CURL[@]}" --resolve "localhost:$V6PORT:::1" -w '%{local_port}\n' "https://localhost:$V6PORT/v6" \
    -o "$TMP/pp-v6.json" >"$TMP/pp-v6.port" || fail "curl over IPv6"
python3 - "$TMP/pp-v6.json" "$(cat "$TMP/pp-v6.port")" "$V6PORT" <<'PY' || fail "PROXY v2 over IPv6: $(cat "$TMP/pp-v6.json")"
import json, sys
p = json.load(open(sys.argv[1]))["proxy"]
assert p["fam"] == 0x21 and p["src"] == "::1" and p["dst"] == "::1", p
assert p["src_port"] == int(sys.argv[2]) and p["dst_port"] == int(sys.argv[3]), p
assert p["authority"] == "localhost" and p["ssl_version"] == "TLSv1.3", p
PY
pass "IPv6 listener: PROXY v2 header with INET6 addresses"
grep -q "^conn" "$TMP/pp2.out" && fail "PROXY v2 backend reported errors: $(cat "$TMP/pp2.out")"

for p in "$SPID" "$PPID2" "$V6PID" "$BNPID"; do
    stop_edgetls "$p" 10
    [ "$ESTATUS" = 0 ] || fail "edgetls $p: exit status $ESTATUS on SIGTERM"
done
pass "SIGTERM: exit 0"
