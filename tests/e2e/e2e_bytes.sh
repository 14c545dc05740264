#!/usr/bin/env bash
# Responder synthetic bodies (GET /bytes/N, response_size): curl downloads checked for length
# and content around the 16 KiB record boundary and well past it, keep-alive across replies,
# size 0, HEAD, over-limit (403) and malformed (400) sizes on a kept connection, concurrent
# downloads, pipelining and a slow reader through Python's ssl module, and configuration
# errors (exit 2).
source "$(dirname "$0")/lib.sh" "$@"
make_certs
PORT=$(free_port)
LIMIT=$((8 << 20))
start_edgetls --listen 127.0.0.1:$PORT --cert "$CERT" --key "$KEY" --mode responder --workers 2 \
    --response-size-max 8m
URL=https://localhost:$PORT

# The expected body of /bytes/N: the 61-byte pattern repeated, cut at N.
expect() {
    python3 -c 'import sys; p=b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX\n"; n=int(sys.argv[1]); sys.stdout.buffer.write((p*(n//61+1))[:n])' "$1"
}

for n in 0 1 61 16383 16384 16385 32768 49159 262144 262145 1000003 $LIMIT; do
    curl -sS --max-time 30 --cacert "$CA" -o "$TMP/got" "$URL/bytes/$n" || fail "curl /bytes/$n"
    size=$(stat -c %s "$TMP/got")
    [ "$size" = "$n" ] || fail "/bytes/$n: got $size bytes"
    expect "$n" >"$TMP/want"
    cmp -s "$TMP/got" "$TMP/want" || fail "/bytes/$n: content differs ($(cmp "$TMP/got" "$TMP/want" | head -1))"
done
pass "curl: /bytes/N for N in 0..8 MiB around record boundaries: length and content"

curl -sS --max-time 20 --cacert "$CA" -v "$URL/bytes/70000" "$URL/bytes/5" -o "$TMP/a" -o "$TMP/b" 2>"$TMP/ka.txt" || fail "curl keep-alive"
grep -q "Re-using existing connection" "$TMP/ka.txt" || fail "second request did not reuse the connection"
[ "$(stat -c %s "$TMP/a")/$(stat -c %s "$TMP/b")" = 70000/5 ] || fail "keep-alive bodies have the wrong sizes"
pass "keep-alive: a large body, then the next request on the same connection"

curl -sS --max-time 10 --cacert "$CA" -I "$URL/bytes/123456" >"$TMP/head.txt" || fail "curl HEAD"
grep -q 'Content-Length: 123456' "$TMP/head.txt" || fail "HEAD: wrong Content-Length: $(cat "$TMP/head.txt")"
pass "HEAD /bytes/N: Content-Length N, no body"

code=$(curl -sS --max-time 10 --cacert "$CA" -o "$TMP/over" -w '%{http_code}' "$URL/bytes/$((LIMIT + 1))") || true
[ "$code" = 403 ] || fail "over the limit: got $code, want 403"
grep -q response_size_max "$TMP/over" || fail "403 body does not name the limit"
for bad in abc 12x -5 1/2 ''; do
    code=$(curl -sS --max-time 10 --cacert "$CA" -o /dev/null -w '%{http_code}' "$URL/bytes/$bad") || true
    [ "$code" = 400 ] || fail "/bytes/$bad: got $code, want 400"
done
curl -sS --max-time 10 --cacert "$CA" -v "$URL/bytes/99999999999" "$URL/bytes/x" "$URL/bytes/7" \
    -o /dev/null -o /dev/null -o "$TMP/after" 2>"$TMP/err.txt" || fail "curl after errors"
[ "$(grep -c 'Re-using existing connection' "$TMP/err.txt")" = 2 ] || fail "a 4xx for a bad size closed the connection"
[ "$(cat "$TMP/after")" = "0123456" ] || fail "request after the 4xx: '$(cat "$TMP/after")'"
pass "over-limit size: 403, malformed size: 400, both keep the connection"

pids=()
for i in 1 2 3 4 5 6 7 8; do
    n=$((3000000 + i * 16384 + i))
    curl -sS --max-time 60 --cacert "$CA" -o "$TMP/c$i" "$URL/bytes/$n" &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent download failed"; done
for i in 1 2 3 4 5 6 7 8; do
    n=$((3000000 + i * 16384 + i))
    expect "$n" | cmp -s - "$TMP/c$i" || fail "concurrent download $i: wrong length or content"
done
pass "8 concurrent downloads of ~3 MB: length and content"

python3 "$E2E_DIR/bytes_client.py" sizes $PORT 0 16383 16384 16385 100000 1 --cafile "$CA" ||
    fail "python ssl client: sequential and pipelined sizes"
timeout 60 python3 "$E2E_DIR/bytes_client.py" slow $PORT 2000000 --cafile "$CA" || fail "python ssl client: slow reader"
pass "python ssl: sizes sequential and pipelined, slow reader"

stop_edgetls 10
[ "$ESTATUS" = 0 ] || fail "edgetls exit status $ESTATUS after SIGTERM"

# response_size from a configuration file: every other target gets that many pattern bytes.
cat >"$TMP/bytes.conf" <<CONF
mode responder
response_size 40000
response_size_max 64k
[listener]
address 127.0.0.1:$PORT
[cert]
chain $CERT
key $KEY
CONF
start_edgetls --config "$TMP/bytes.conf" --workers 1
curl -sS --max-time 10 --cacert "$CA" -o "$TMP/cfg" "$URL/anything" || fail "curl with response_size"
expect 40000 | cmp -s - "$TMP/cfg" || fail "response_size 40000: wrong body"
code=$(curl -sS --max-time 10 --cacert "$CA" -o /dev/null -w '%{http_code}' "$URL/bytes/65537") || true
[ "$code" = 403 ] || fail "response_size_max 64k: /bytes/65537 got $code"
pass "config file: response_size and response_size_max"
stop_edgetls 10
[ "$ESTATUS" = 0 ] || fail "edgetls exit status $ESTATUS after SIGTERM"

for bad in "--response-size -1" "--response-size 12q" "--response-size-max 2000g" "--response-size-max ''"; do
    # shellcheck disable=SC2086
    eval "\"$EDGETLS\" --listen 127.0.0.1:$PORT --cert \"$CERT\" --key \"$KEY\" $bad --check" >"$TMP/bad.out" 2>&1 && rc=0 || rc=$?
    [ "$rc" = 2 ] || fail "'$bad': exit $rc, want 2"
    grep -q "response_size" "$TMP/bad.out" || fail "'$bad': message does not name the key: $(cat "$TMP/bad.out")"
done
pass "bad sizes on the command line: exit 2 naming the key"
