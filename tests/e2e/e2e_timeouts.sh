#!/usr/bin/env bash
# Timers: a client that connects and never speaks is dropped after handshake_timeout, one that
# sends half a ClientHello too, an idle established connection gets close_notify after
# idle_timeout -- and meanwhile other clients are served without delay.
source "$(dirname "$0")/lib.sh" "$@"
make_certs
PORT=$(free_port)
start_edgetls --listen 127.0.0.1:$PORT --cert "$CERT" --key "$KEY" --workers 1 \
    --handshake-timeout 4s --idle-timeout 4s --max-connections 8
stalled() { # seconds until the server closes a TCP connection that sent $1 bytes of a ClientHello
    python3 - "$PORT" "$1" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(bytes([0x16, 3, 1, 0x02, 0x00, 0x01, 0x00])[: int(sys.argv[2])])
t0 = time.time()
print("connected", flush=True)
s.settimeout(10)
try:
    b = s.recv(100)
except OSError:
    b = b""
print("%.2f %d" % (time.time() - t0, len(b)))
PY
}
start_bg silent stalled 0
start_bg partial stalled 7
wait_for_output silent connected
wait_for_output partial connected
t0=$(date +%s.%N)
for i in 1 2 3 4 5; do
    curl -sS --max-time 5 --cacert "$CA" https://localhost:$PORT/ >/dev/null || fail "curl while stalled clients wait"
done
t1=$(date +%s.%N)
# A server held up by the stalled clients would serve these only once the handshake timer (4 s)
# dropped them; the margin is wide because a loaded CI machine (ASan) is slow.
python3 -c "import sys; d=$t1-$t0; sys.exit(0 if d < 3.5 else 1)" || fail "5 requests took too long next to stalled clients"
kill -0 "${PIDS[1]}" 2>/dev/null && kill -0 "${PIDS[2]}" 2>/dev/null || fail "stalled clients were dropped before the handshake timeout"
pass "5 requests served while two clients stall"
wait "${PIDS[1]}" || true
wait "${PIDS[2]}" || true
for f in silent partial; do
    read -r secs n < <(tail -1 "$TMP/$f.out")
    python3 -c "import sys; sys.exit(0 if 3.8 <= $secs <= 6.5 else 1)" || fail "$f client closed after $secs s (want ~4 s)"
    [ "$n" = 0 ] || fail "$f client got $n bytes"
done
pass "stalled handshakes dropped after ~4 s"
python3 "$E2E_DIR/client.py" idle $PORT 10 --cafile "$CA" >"$TMP/idle.out" 2>&1 || fail "idle client"
read -r how secs < <(tail -1 "$TMP/idle.out")
[ "$how" = close_notify ] || fail "idle connection ended by '$how'"
python3 -c "import sys; sys.exit(0 if 3.5 <= $secs <= 6.5 else 1)" || fail "idle close after $secs s (want ~4 s)"
pass "idle connection closed after ~4 s ($how)"
# Keep-alive clients that close first (read the response, then FIN): the slot must be freed as
# soon as our FIN is out, not after the linger timer; with 8 slots, 40 such clients in a row are
# only all served if no slot is held after its client left.
python3 - "$PORT" "$CA" <<'PY' >"$TMP/closefirst.out" 2>&1 || fail "client-closes-first: $(cat "$TMP/closefirst.out")"
import socket, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
for i in range(40):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5), server_hostname="localhost")
    s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    got = b""
    while b"\r\n\r\n" not in got:
        b = s.recv(4096)
        assert b, "connection %d: no response" % i
        got += b
    assert got.startswith(b"HTTP/1.1 200"), got[:40]
    s.close()
print("40 served")
PY
pass "client closes first: $(cat "$TMP/closefirst.out")"
# Connection table full (max_connections 8 per worker): eight silent clients hold every slot,
# a ninth is closed at once, the eight are closed by the handshake timer.
python3 - "$PORT" <<'PY' >"$TMP/full.out" 2>&1 || fail "table full: $(cat "$TMP/full.out")"
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
time.sleep(0.3)
t0 = time.time()
extra = socket.create_connection(("127.0.0.1", port))
extra.settimeout(5)
try:
    got = extra.recv(10)
except OSError:
    got = b""
dt_extra = time.time() - t0
for h in held:
    h.settimeout(5)
    try:
        h.recv(10)
    except OSError:
        pass
dt_held = time.time() - t0
print("extra %.2f held %.2f" % (dt_extra, dt_held))
assert got == b"" and dt_extra < 0.5, "the ninth connection was not refused at once"
assert dt_held > 1.0, "held connections closed too early"
PY
pass "max_connections: $(cat "$TMP/full.out")"
stop_edgetls 10
[ "$ESTATUS" = 0 ] || fail "exit status $ESTATUS"
grep -q "rejected [1-9]" "$TMP/edgetls.log" || fail "rejected connection not counted"
grep -qE "timeouts ([3-9]|[1-9][0-9]+) " "$TMP/edgetls.log" || fail "timeouts not counted: $(tail -2 "$TMP/edgetls.log")"
pass "timeouts counted"
