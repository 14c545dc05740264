#!/usr/bin/env python3
"""HTTPS client for the responder's synthetic bodies (GET /bytes/N), for e2e_bytes.sh.

  sizes PORT N...            one TLS connection, every size requested one after another on it
                             (keep-alive), then the same requests pipelined in one write; each
                             body's length and content (the 61-byte pattern) checked.
  slow PORT N                one request read in small slices with pauses (the server must
                             hold the rest back, not buffer it or give up); content checked.
Verification uses --cafile and SNI localhost. Exits 1 on the first mismatch, printing why."""
import argparse
import socket
import ssl
import sys
import time

PATTERN = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX\n"


def expected(n):
    return (PATTERN * (n // len(PATTERN) + 1))[:n]


def connect(a):
    ctx = ssl.create_default_context(cafile=a.cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    raw = socket.create_connection(("127.0.0.1", a.port), timeout=20)
    return ctx.wrap_socket(raw, server_hostname="localhost")


class Reader:
    def __init__(self, s, chunk=1 << 16, pause=0.0):
        self.s, self.buf, self.chunk, self.pause = s, b"", chunk, pause

    def more(self):
        if self.pause:
            time.sleep(self.pause)
        d = self.s.recv(self.chunk)
        if not d:
            raise SystemExit("FAIL: connection closed early")
        self.buf += d

    def response(self):
        while b"\r\n\r\n" not in self.buf:
            self.more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        clen = None
        for l in lines[1:]:
            k, v = l.split(":", 1)
            if k.lower() == "content-length":
                clen = int(v)
        if clen is None:
            raise SystemExit("FAIL: no Content-Length in %r" % lines)
        body = bytearray()
        while len(body) < clen:
            if not self.buf:
                self.more()
            take = min(clen - len(body), len(self.buf))
            body += self.buf[:take]
            self.buf = self.buf[take:]
        return status, bytes(body)


def check(n, status, body):
    if status != 200:
        raise SystemExit("FAIL: /bytes/%d: status %d" % (n, status))
    if len(body) != n:
        raise SystemExit("FAIL: /bytes/%d: %d bytes" % (n, len(body)))
    if body != expected(n):
        i = next(k for k in range(n) if body[k] != expected(n)[k])
        raise SystemExit("FAIL: /bytes/%d: content differs at byte %d" % (n, i))


def req(n, close=False):
    return ("GET /bytes/%d HTTP/1.1\r\nHost: localhost\r\n%s\r\n" %
            (n, "Connection: close\r\n" if close else "")).encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["sizes", "slow"])
    ap.add_argument("port", type=int)
    ap.add_argument("sizes", type=int, nargs="+")
    ap.add_argument("--cafile", required=True)
    a = ap.parse_args()
    s = connect(a)
    if a.cmd == "sizes":
        r = Reader(s)
        for n in a.sizes:
            s.sendall(req(n))
            check(n, *r.response())
        print("ok: %d sequential responses on one connection" % len(a.sizes))
        s.sendall(b"".join(req(n, close=(i == len(a.sizes) - 1)) for i, n in enumerate(a.sizes)))
        for n in a.sizes:
            check(n, *r.response())
        if s.recv(1) != b"":
            raise SystemExit("FAIL: data after the last pipelined response")
        print("ok: %d pipelined responses, then close" % len(a.sizes))
    else:
        n = a.sizes[0]
        s.sendall(req(n))
        r = Reader(s, chunk=4096, pause=0.002)
        t0 = time.time()
        check(n, *r.response())
        print("ok: slow reader got %d bytes in %.1f s" % (n, time.time() - t0))
    s.close()


if __name__ == "__main__":
    sys.exit(main())
