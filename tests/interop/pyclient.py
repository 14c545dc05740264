#!/usr/bin/env python3
"""Python ssl client for the interop tests (127.0.0.1 only). Every connection uses
ssl.create_default_context(cafile=CA) -- chain and hostname verified -- with TLS 1.3 as the
minimum version and SNI NAME. Prints one line per check; exits non-zero on any failure.
  pyclient.py requests PORT CA NAME N    N keep-alive GETs on one connection, then 4 pipelined
                                         in one write, then "Connection: close" and the
                                         server's close_notify
  pyclient.py echo PORT CA NAME SIZE     SIZE random bytes to an echo server and back, sending
                                         and receiving at once (non-blocking); SHA-256 compared
  pyclient.py badname PORT CA NAME       the handshake must fail hostname verification
  pyclient.py info PORT CA NAME          prints version, cipher, ALPN and the peer's subject
  pyclient.py storm PORT CA THREADS N NAME...
                                         THREADS threads x N connections, each a handshake and a
                                         request with Connection: close; connection i uses server
                                         name NAME[i % len] and P-256 only on odd i (X25519
                                         preferred otherwise); counts per (name, peer CN) printed"""
import hashlib
import os
import selectors
import socket
import ssl
import sys
import threading
import time

TIMEOUT = float(os.environ.get("PYCLIENT_TIMEOUT", "30"))


def connect(port, ca, name, alpn=None):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if alpn:
        ctx.set_alpn_protocols(alpn)
    raw = socket.create_connection(("127.0.0.1", int(port)), timeout=TIMEOUT)
    s = ctx.wrap_socket(raw, server_hostname=name)
    assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    assert s.version() == "TLSv1.3", s.version()
    return s


class Reader:
    """Buffered HTTP/1.1 response reader over a TLS socket."""

    def __init__(self, s):
        self.s, self.buf = s, bytearray()

    def fill(self):
        b = self.s.recv(65536)
        if not b:
            raise EOFError("server closed the connection")
        self.buf.extend(b)

    def response(self):
        while b"\r\n\r\n" not in self.buf:
            self.fill()
        end = self.buf.index(b"\r\n\r\n")
        head = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
        del self.buf[:end + 4]
        status = head[0]
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:])}
        n = int(headers["content-length"])
        while len(self.buf) < n:
            self.fill()
        body = bytes(self.buf[:n])
        del self.buf[:n]
        return status, headers, body


def get(path, close=False):
    return ("GET %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n"
            % (path, "Connection: close\r\n" if close else "")).encode()


def check_ok(status, body, what):
    if not status.startswith("HTTP/1.1 200") or not body:
        sys.exit("%s: %s %r" % (what, status, body[:80]))


def cmd_requests(port, ca, name, n):
    s = connect(port, ca, name)
    r = Reader(s)
    for i in range(int(n)):
        s.sendall(get("/req/%d" % i))
        status, _, body = r.response()
        check_ok(status, body, "request %d" % i)
    print("keep-alive: %s requests on one connection (%s, %s)" % (n, s.version(), s.cipher()[0]))
    s.sendall(b"".join(get("/pipe/%d" % i) for i in range(4)))
    for i in range(4):
        status, _, body = r.response()
        check_ok(status, body, "pipelined %d" % i)
    print("pipelined: 4 requests in one write, 4 responses in order")
    s.sendall(get("/last", close=True))
    status, headers, body = r.response()
    check_ok(status, body, "last")
    if headers.get("connection", "").lower() != "close":
        sys.exit("Connection: close not echoed: %r" % headers)
    try:
        extra = s.recv(100)  # close_notify reads as b"" (suppress_ragged_eofs off below)
    except ssl.SSLZeroReturnError:
        extra = b""
    if extra:
        sys.exit("data after the last response: %r" % extra)
    s.close()
    print("close: server ended the connection cleanly after Connection: close")


def cmd_echo(port, ca, name, size):
    size = int(size)
    s = connect(port, ca, name)
    s.setblocking(False)
    data = os.urandom(1 << 20)
    sent_hash, recv_hash = hashlib.sha256(), hashlib.sha256()
    sent = received = 0
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    t0 = time.time()
    deadline = t0 + TIMEOUT
    while received < size:
        if time.time() > deadline:
            sys.exit("echo: timed out after sending %d and receiving %d of %d" % (sent, received, size))
        if sent == size:
            sel.modify(s, selectors.EVENT_READ)
        sel.select(1.0)
        if sent < size:
            chunk = data[sent % len(data):][: min(256 << 10, size - sent)]
            try:
                n = s.send(chunk)
                sent_hash.update(chunk[:n])
                sent += n
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                pass
        while True:
            try:
                b = s.recv(1 << 18)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                break
            if not b:
                sys.exit("echo: EOF after %d of %d bytes" % (received, size))
            recv_hash.update(b)
            received += len(b)
    dt = time.time() - t0
    if received != size or sent_hash.digest() != recv_hash.digest():
        sys.exit("echo: %d bytes back, SHA-256 mismatch" % received)
    print("echo: %d bytes each way, sha256 match, %.2f s (%s)" % (size, dt, s.cipher()[0]))
    s.close()


def cmd_badname(port, ca, name):
    try:
        connect(port, ca, name)
    except ssl.SSLCertVerificationError as e:
        print("rejected as expected: %s" % e.verify_message)
        return
    sys.exit("handshake with hostname %s succeeded" % name)


def cmd_info(port, ca, name):
    s = connect(port, ca, name, alpn=["http/1.1"])
    subject = dict(x[0] for x in s.getpeercert()["subject"])
    print("version=%s cipher=%s alpn=%s cn=%s" % (s.version(), s.cipher()[0], s.selected_alpn_protocol(),
                                                 subject.get("commonName")))
    s.close()


def storm_one(port, ca, name, p256):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if p256:
        ctx.set_ecdh_curve("prime256v1")  # OpenSSL: the group list becomes P-256 alone
    raw = socket.create_connection(("127.0.0.1", int(port)), timeout=TIMEOUT)
    with ctx.wrap_socket(raw, server_hostname=name) as s:
        cn = dict(x[0] for x in s.getpeercert()["subject"])["commonName"]
        s.sendall(get("/storm", close=True))
        status, _, body = Reader(s).response()
        check_ok(status, body, "storm " + name)
        return cn


def cmd_storm(port, ca, threads, n, *names):
    lock = threading.Lock()
    seen, errors = {}, []

    def worker(t):
        for i in range(int(n)):
            k = t * int(n) + i
            name = names[k % len(names)]
            try:
                cn = storm_one(port, ca, name, k % 2 == 1)
                with lock:
                    seen[(name, cn)] = seen.get((name, cn), 0) + 1
            except Exception as e:  # recorded and reported below, the run goes on
                with lock:
                    errors.append("%s: %r" % (name, e))

    t0 = time.time()
    ts = [threading.Thread(target=worker, args=(t,)) for t in range(int(threads))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    total = sum(seen.values())
    print("storm: %d handshakes+requests in %.1f s, %d errors" % (total, time.time() - t0, len(errors)))
    for (name, cn), count in sorted(seen.items()):
        print("  %s -> CN %s: %d" % (name, cn, count))
    if errors:
        sys.exit("storm errors, first: %s" % errors[:3])


def main():
    cmds = {"requests": cmd_requests, "echo": cmd_echo, "badname": cmd_badname, "info": cmd_info,
            "storm": cmd_storm}
    cmds[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()
