#!/usr/bin/env bash
# Graceful shutdown: on SIGTERM edgetls stops accepting, sends close_notify to idle
# established connections, drops half-done handshakes, waits for busy connections at most
# shutdown_timeout, prints per-worker stats and exits 0. SIGUSR1 prints stats without stopping.
source "$(dirname "$0")/lib.sh" "$@"
make_certs
PORT=$(free_port)
start_edgetls --listen 127.0.0.1:$PORT --cert "$CERT" --key "$KEY" --workers 2 --mode echo \
    --shutdown-timeout 2s
start_bg idle1 python3 "$E2E_DIR/client.py" idle $PORT 20 --cafile "$CA"
start_bg idle2 python3 "$E2E_DIR/client.py" idle $PORT 20 --cafile "$CA"
start_bg silent python3 -c "
import socket, time
s = socket.create_connection(('127.0.0.1', $PORT))
print('connected', flush=True)
s.settimeout(20)
print('eof' if s.recv(10) == b'' else 'data')"
# Python starts slowly on a loaded machine: signal only once every client is in place.
wait_for_output idle1 connected
wait_for_output idle2 connected
wait_for_output silent connected
sleep 0.2
kill -USR1 "$EPID"
sleep 0.3
kill -0 "$EPID" || fail "SIGUSR1 killed the process"
grep -q "worker 1: accepted" "$TMP/edgetls.log" || fail "no stats on SIGUSR1"
pass "SIGUSR1 prints stats and keeps running"
t0=$(date +%s.%N)
stop_edgetls 8
t1=$(date +%s.%N)
[ "$ESTATUS" = 0 ] || fail "exit status $ESTATUS"
python3 -c "import sys; sys.exit(0 if $t1 - $t0 < 3.5 else 1)" || fail "shutdown took too long"
for p in 1 2 3; do wait "${PIDS[$p]}" || true; done
grep -q '^close_notify' "$TMP/idle1.out" || fail "idle client 1: $(cat "$TMP/idle1.out")"
grep -q '^close_notify' "$TMP/idle2.out" || fail "idle client 2: $(cat "$TMP/idle2.out")"
grep -q '^eof' "$TMP/silent.out" || fail "handshaking client: $(cat "$TMP/silent.out")"
grep -q "shutting down" "$TMP/edgetls.log" || fail "no shutdown message"
pass "SIGTERM: close_notify to idle connections, handshakes dropped, exit 0 in time"
if (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; then fail "still accepting after exit"; fi

# A client that never reads: shutdown must still finish within the bound.
start_edgetls --listen 127.0.0.1:$PORT --cert "$CERT" --key "$KEY" --workers 1 --mode echo \
    --shutdown-timeout 1s
start_bg hog python3 -c "
import socket, ssl, time
ctx = ssl.create_default_context(cafile='$CA')
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', $PORT)), server_hostname='localhost')
s.setblocking(False)
sent = 0
t0 = time.time()
while time.time() - t0 < 3:
    try:
        sent += s.send(b'x' * 65536)
    except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
        time.sleep(0.01)
    except OSError:
        break
print('connected', sent, flush=True)
time.sleep(5)"
wait_for_output hog connected
t0=$(date +%s.%N)
stop_edgetls 6
t1=$(date +%s.%N)
[ "$ESTATUS" = 0 ] || fail "exit status $ESTATUS with a client that never reads"
python3 -c "import sys; sys.exit(0 if $t1 - $t0 < 3.0 else 1)" || fail "bounded shutdown took too long"
pass "SIGTERM with a stuck client: bounded by shutdown_timeout, exit 0"
