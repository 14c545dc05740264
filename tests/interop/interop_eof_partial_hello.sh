#!/usr/bin/env bash
# A client that sends part of a ClientHello and then closes its side (FIN) or resets the
# connection must be closed at once, as it is when it sends nothing or a whole ClientHello,
# not held until handshake_timeout (each such half-open connection would cost a slot for the
# whole timeout). With handshake_timeout 10 s, each must be gone within 1 s (sanitizer builds:
# 4 s). Regression test for a bug found by this suite in dataplane/worker/conn.c.
source "$(dirname "$0")/lib.sh" "$@"
make_ca
make_leaf ec ec localhost localhost IP:127.0.0.1
PORT=$(free_port)
start_edgetls srv --listen "127.0.0.1:$PORT" --cert "$PKI/ec.pem" --key "$PKI/ec.key" \
    --mode responder --handshake-timeout 10s
SPID=$EPID
LIMIT=$((1 * SLOW))
python3 - "$PORT" "$LIMIT" "$IDIR" <<'PY' || fail "partial ClientHello then FIN kept open"
import socket, sys, threading, time
sys.path.insert(0, sys.argv[3])
import badclient
ch = badclient.client_hello()
port, limit = int(sys.argv[1]), float(sys.argv[2])
res = {}


def one(cut):  # all cases at once, so a failing run costs one handshake_timeout, not seven
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(ch[:cut])
    s.shutdown(socket.SHUT_WR)
    s.settimeout(12)
    t0 = time.time()
    try:
        while s.recv(4096):
            pass
    except OSError:
        pass
    res[cut] = time.time() - t0


cuts = (0, 1, 5, 6, len(ch) // 2, len(ch) - 1, len(ch))
threads = [threading.Thread(target=one, args=(c,)) for c in cuts]
for t in threads:
    t.start()
for t in threads:
    t.join()
for c in cuts:
    print("%3d of %d bytes then FIN: closed after %.2f s" % (c, len(ch), res[c]))
sys.exit(1 if any(v > limit for v in res.values()) else 0)
PY
pass "FIN after a partial ClientHello: closed at once"

# RST after a partial ClientHello: the server must drop the connection promptly.
python3 - "$PORT" "$IDIR" <<'PY'
import socket, struct, sys, time
sys.path.insert(0, sys.argv[2])
import badclient
ch = badclient.client_hello()
for cut in (1, len(ch) // 2):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(ch[:cut])
    time.sleep(0.1)
    badclient.reset(s)
PY
sleep "$LIMIT"
kill -USR1 "$SPID"
sleep 0.3
tail -1 "$TMP/srv.log" | grep -q " active 0 " ||
    fail "RST after a partial ClientHello: still open: $(tail -1 "$TMP/srv.log")"
pass "RST after a partial ClientHello: dropped at once"
stop_edgetls "$SPID" 10
[ "$ESTATUS" = 0 ] || fail "exit status $ESTATUS on SIGTERM"
