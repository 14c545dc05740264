#!/usr/bin/env python3
"""Bad input on edgetls-control's admin socket: every case gets a clear reply or a clean close,
and the daemon keeps answering a well-behaved client throughout. Usage: abuse.py ADMIN_SOCKET"""
import socket
import sys
import threading
import time

PATH = sys.argv[1]


def connect():
    # A full listen backlog makes a Unix-socket connect fail with EAGAIN at once: retry (5 s).
    for _ in range(500):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(15)
        try:
            s.connect(PATH)
            return s
        except BlockingIOError:
            s.close()
            time.sleep(0.01)
    raise SystemExit("FAIL: could not connect within 5 s (backlog never drained)")


def reply(s):
    """Reads one reply: (status, body); ('closed', b'') when the daemon closed first."""
    buf = b""
    while b"\n" not in buf:
        d = s.recv(4096)
        if not d:
            return "closed", b""
        buf += d
    head, rest = buf.split(b"\n", 1)
    status, n = head.decode().split(" ")
    n = int(n)
    while len(rest) < n:
        d = s.recv(65536)
        if not d:
            break
        rest += d
    return status, rest[:n]


def ask(line, payload=b""):
    s = connect()
    s.sendall(line + payload)
    r = reply(s)
    s.close()
    return r


def expect(what, got, status, substring=None):
    st, body = got
    if st != status or (substring and substring.encode() not in body):
        print("FAIL: %s: got %s %r, want %s %r" % (what, st, body[:200], status, substring))
        sys.exit(1)
    print("ok: %s -> %s %s" % (what, st, body.decode(errors="replace").strip()[:90]))


def healthy(what):
    # The daemon may not have seen the previous clients leave yet: a busy answer is retried,
    # as a real client would.
    for _ in range(50):
        got = ask(b"status\n")
        if got[0] != "error":
            break
        time.sleep(0.02)
    expect("still serving after " + what, got, "ok", "version")


expect("unknown command", ask(b"frobnicate now\n"), "usage", "unknown command")
healthy("an unknown command")
expect("oversized line", ask(b"status " + b"x" * 9000 + b"\n"), "usage", "too long")
healthy("an oversized line")
expect("oversized payload", ask(b"cert add www --chain=@2000000 --key=@10\n"), "usage", "too large")
healthy("an oversized payload")
expect("binary garbage", ask(bytes(range(256)) * 4), "usage")
healthy("binary garbage")
expect("garbage PEM payloads", ask(b"cert add junk --chain=@5 --key=@5\n", b"\x00\x01\x02\x03\x04\xff\xfe\xfd\xfc\xfb"),
       "refused", "cert junk")
healthy("garbage PEM")
expect("cert show of nothing", ask(b"cert show nothing-here\n"), "refused", "no such entry")
expect("rollback to a version not kept", ask(b"rollback 999999\n"), "refused")

# half a command, then silence: the daemon answers within its 10 s deadline and closes
s = connect()
s.sendall(b"cert add www --chain=@100 --key=@100\n" + b"-----BEGIN")
t0 = time.time()
st, body = reply(s)
took = time.time() - t0
if st != "usage" or b"timed out" not in body or took > 14:
    print("FAIL: half a request: %s %r after %.1f s" % (st, body, took))
    sys.exit(1)
print("ok: half a request then silence -> %s after %.1f s" % (body.decode().strip(), took))
healthy("a silent client")

# 200 concurrent clients: at most 64 are served at once, the rest get a clear 'error' reply;
# no one hangs and the daemon keeps going
results = []
lock = threading.Lock()
hold = [connect() for _ in range(200)]
def one(sock):
    try:
        try:
            sock.sendall(b"status\n")
        except OSError:
            pass  # a client over the limit was already answered and closed: read that answer
        r = reply(sock)
    except OSError as e:
        r = ("oserror", str(e).encode())
    with lock:
        results.append(r[0])
threads = [threading.Thread(target=one, args=(h,)) for h in hold]
for t in threads:
    t.start()
for t in threads:
    t.join(30)
for h in hold:
    h.close()
served = results.count("ok")
refused = results.count("error")
if len(results) != 200 or served + refused != 200 or served < 1:
    print("FAIL: 200 clients: %d answers, %d ok, %d refused, others %r" % (len(results), served, refused,
          [r for r in results if r not in ("ok", "error")][:5]))
    sys.exit(1)
print("ok: 200 concurrent clients: %d served, %d told 'too many admin clients'" % (served, refused))
healthy("200 concurrent clients")
