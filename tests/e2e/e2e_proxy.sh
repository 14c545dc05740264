#!/usr/bin/env bash
# Proxy mode: TLS clients -> edgetls -> plaintext echo backend with a PROXY protocol v2 header.
# 64 MiB each way byte-exact (SHA-256 compared) while small connections run alongside; the
# backend decodes the PROXY v2 header independently and the TLVs are checked; half-close is
# forwarded both ways (client close_notify -> backend FIN -> server close_notify); a dead
# backend closes the client connection.
source "$(dirname "$0")/lib.sh" "$@"
make_certs
BIG=$((64 << 20))
[ "$SANITIZED" = 1 ] && BIG=$((16 << 20))
start_bg backend python3 "$E2E_DIR/backend.py" --proxy-v2 --report "$TMP/pp2.jsonl"
BACKEND_PID=$BGPID
for i in $(seq 1 50); do grep -q ready "$TMP/backend.out" && break; sleep 0.1; done
BPORT=$(awk '/ready/ {print $2}' "$TMP/backend.out")
[ -n "$BPORT" ] || fail "backend did not start"
PORT=$(free_port)
start_edgetls --listen 127.0.0.1:$PORT --cert "$CERT" --key "$KEY" --mode proxy --workers 2 \
    --backend 127.0.0.1:$BPORT --proxy-protocol v2 --alpn h2,http/1.1 --buffer-size 64k

start_bg small python3 "$E2E_DIR/client.py" transfer $PORT 100000 --conns 8 --cafile "$CA" --alpn http/1.1
python3 "$E2E_DIR/client.py" transfer $PORT $BIG --cafile "$CA" --timeout 90 >"$TMP/big.out" 2>&1 ||
    fail "big transfer: $(cat "$TMP/big.out")"
cat "$TMP/big.out"
wait "$BGPID" || fail "small transfers: $(cat "$TMP/small.out")"
[ "$(grep -o 'sha256 match end close_notify' "$TMP/small.out" | wc -l)" = 8 ] || fail "small transfers: $(cat "$TMP/small.out")"
pass "$BIG bytes each way byte-exact, plus 8 concurrent connections, close_notify both ways"

python3 - "$TMP/pp2.jsonl" "$PORT" <<'PY' || fail "PROXY v2 header check"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 9, "expected 9 PROXY headers, got %d: %s" % (len(rows), rows)
for r in rows:
    assert "error" not in r, r
    assert r["ver_cmd"] == 0x21 and r["fam"] == 0x11, r
    assert r["src"] == "127.0.0.1" and r["dst"] == "127.0.0.1", r
    assert r["dst_port"] == int(sys.argv[2]) and r["src_port"] > 0, r
    assert r["authority"] == "localhost", r
    assert r["ssl_client"] == 1 and r["ssl_verify"] != 0, r
    assert r["ssl_version"] == "TLSv1.3", r
    assert r["ssl_cipher"].startswith("TLS_"), r
assert sum(1 for r in rows if r.get("alpn") == "http/1.1") == 8, rows
assert sum(1 for r in rows if "alpn" not in r) == 1, rows
PY
pass "PROXY v2: addresses, ALPN, authority (SNI) and SSL TLV with version and cipher"

# Backpressure: a client that writes without reading stalls (the whole chain fills up:
# edgetls -> backend -> edgetls -> client) while edgetls's memory stays bounded; when the
# client starts reading, every byte arrives intact.
python3 - "$PORT" "$CA" "$EPID" <<'PY' >"$TMP/bp.out" 2>&1 || fail "backpressure: $(cat "$TMP/bp.out")"
import hashlib, os, select, socket, ssl, sys, time
port, ca, pid = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def rss_kib():
    for line in open("/proc/%s/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
s.setblocking(False)
base = rss_kib()
block = os.urandom(65536)
sent = hashlib.sha256()
nsent, stalled_since = 0, None
while True:  # write until nothing has moved for 1 s
    _, w, _ = select.select([], [s], [], 0.2)
    try:
        k = s.send(block) if w else 0
    except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
        k = 0
    if k:
        sent.update(block[:k]); nsent += k; stalled_since = None
        block = block[k:] + block[:k]
    elif stalled_since is None:
        stalled_since = time.time()
    elif time.time() - stalled_since > 1.0:
        break
    if nsent > (256 << 20):
        sys.exit("never stalled: no backpressure")
grown = rss_kib() - base
print("stalled after %d bytes in flight; edgetls RSS grew %d KiB" % (nsent, grown))
assert grown < 64 * 1024, "edgetls memory grew by %d KiB while the client did not read" % grown
got, n = hashlib.sha256(), 0
deadline = time.time() + 60
while n < nsent and time.time() < deadline:
    select.select([s], [], [], 0.5)
    try:
        while True:
            b = s.recv(262144)
            if not b:
                break
            got.update(b); n += len(b)
    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
        pass
assert n == nsent and got.digest() == sent.digest(), "read back %d of %d bytes" % (n, nsent)
print("read back all %d bytes intact" % n)
PY
cat "$TMP/bp.out"
pass "backpressure: bounded memory while the client does not read, nothing lost afterwards"

# Backend gone: the client connection must be closed, not hang.
kill -9 "$BACKEND_PID"
sleep 0.3
rc=0
timeout 20 python3 "$E2E_DIR/client.py" transfer $PORT 1000 --cafile "$CA" --timeout 10 >"$TMP/dead.out" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "transfer to a dead backend succeeded"
[ "$rc" != 124 ] || fail "dead backend: the client connection hung"
pass "dead backend: client connection closed"

stop_edgetls 10
[ "$ESTATUS" = 0 ] || fail "exit status $ESTATUS"
grep -q "bk_errors [1-9]" "$TMP/edgetls.log" || fail "backend error not counted"
pass "SIGTERM: exit 0"
