#!/usr/bin/env python3
"""Misbehaving TLS clients for the bad-input interop test (127.0.0.1 only). Each subcommand
prints result lines and exits non-zero when the server's reaction is wrong.
  badclient.py garbage PORT          non-TLS inputs: each must get a TLS alert record or a close,
                                     never application bytes and never a hang
  badclient.py stall PORT CA SECS    a real ClientHello (Python ssl over memory BIOs), the server's
                                     flight read, then silence: prints how long until the server
                                     closes (the caller compares with handshake_timeout)
  badclient.py truncated PORT        half a real ClientHello then FIN, and then RST, repeated
  badclient.py resets PORT CA N      N connections reset (SO_LINGER 0) at assorted points: before
                                     any byte, after part of a ClientHello, after the handshake
                                     with a request in flight"""
import os
import socket
import ssl
import struct
import sys
import threading
import time

TIMEOUT = float(os.environ.get("BAD_TIMEOUT", "15"))


def conn(port):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def reset(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def read_reaction(s, flight_ok=False):
    """Reads until EOF/reset; returns ("alert", desc) for an alert record, ("close", 0) for a
    close without bytes, or exits on anything else (including a timeout). With flight_ok (the
    input began with a valid ClientHello) the server's first flight followed by a close is also
    accepted: any alert after the ServerHello is encrypted, so it cannot be read here."""
    data = bytearray()
    t0 = time.time()
    try:
        while True:
            b = s.recv(4096)
            if not b:
                break
            data.extend(b)
    except ConnectionResetError:
        pass
    except socket.timeout:
        sys.exit("no reaction within %.0f s (got %r)" % (time.time() - t0, bytes(data[:16])))
    if not data:
        return "close", 0
    # RFC 8446 5.1: an alert record is type 21, legacy version 0x0303 (or 0x0301), length 2
    if len(data) == 7 and data[0] == 21 and data[1] == 3 and data[3:5] == b"\x00\x02":
        return "alert", data[6]
    if flight_ok and data[:3] == b"\x16\x03\x03" and data[5] == 2:
        return "flight+close", len(data)
    sys.exit("unexpected reply %r" % bytes(data[:32]))


def client_hello(name="localhost"):
    """The bytes of a real TLS 1.3 ClientHello from Python's ssl module."""
    ctx = ssl.create_default_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def cmd_garbage(port):
    ch = client_hello()
    cases = {
        "http-request": b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "random-64k": os.urandom(65536),
        "zeros": b"\0" * 4096,
        "sslv2-hello": bytes.fromhex("802b0103010012000000100000") + os.urandom(32),
        "huge-record": b"\x16\x03\x01\xff\xff" + b"\x01" * 20000,
        "bad-handshake-body": b"\x16\x03\x01\x00\x40" + b"\x01\x00\x00\x3c" + os.urandom(60),
        "appdata-first": b"\x17\x03\x03\x00\x20" + os.urandom(32),
        "alert-first": b"\x15\x03\x03\x00\x02\x02\x28",
        "ccs-first": b"\x14\x03\x03\x00\x01\x01",
        "hello-then-garbage": ch + b"\x17\x03\x03\x00\x10" + os.urandom(16),
        "hello-twice": ch + ch,
        "hello-bad-version": ch[:1] + b"\x09\x09" + ch[3:],
    }
    for name, data in cases.items():
        s = conn(port)
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may close before reading everything
        how, desc = read_reaction(s, flight_ok=name.startswith("hello"))
        s.close()
        print("%s: %s %s" % (name, how, desc if how != "close" else ""))


def cmd_stall(port, ca, secs):
    s = conn(port)
    s.sendall(client_hello())
    s.settimeout(float(secs) * 3 + 10)
    t0 = time.time()
    got = 0
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += len(b)
    except ConnectionResetError:
        pass
    except socket.timeout:
        sys.exit("stall: not closed within %.0f s" % (time.time() - t0))
    print("stall: server flight %d bytes, closed after %.2f s" % (got, time.time() - t0))
    if got < 100:
        sys.exit("stall: the server did not send its flight (%d bytes)" % got)


def cmd_truncated(port):
    ch = client_hello()
    for cut in (1, 5, 6, len(ch) // 2, len(ch) - 1):
        s = conn(port)
        s.sendall(ch[:cut])
        s.shutdown(socket.SHUT_WR)
        how, desc = read_reaction(s)
        s.close()
        print("truncated at %d/%d then FIN: %s %s" % (cut, len(ch), how, desc if how == "alert" else ""))
        s = conn(port)
        s.sendall(ch[:cut])
        time.sleep(0.01)
        reset(s)
    print("truncated then RST: %d connections" % 5)


def resets_worker(port, ca, n, counts, lock):
    ctx = ssl.create_default_context(cafile=ca)
    ch = client_hello()
    for i in range(n):
        kind = i % 3
        try:
            s = conn(port)
            if kind == 1:
                s.sendall(ch[: 1 + i % len(ch)])
            elif kind == 2:
                t = ctx.wrap_socket(s, server_hostname="localhost")
                t.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n" * 8)
                s = t
            reset(s)
        except OSError as e:
            with lock:
                counts["errors"] += 1
                counts["last"] = repr(e)
            continue
        with lock:
            counts[kind] += 1


def cmd_resets(port, ca, n):
    n = int(n)
    counts = {0: 0, 1: 0, 2: 0, "errors": 0, "last": ""}
    lock = threading.Lock()
    threads = [threading.Thread(target=resets_worker, args=(port, ca, n // 8, counts, lock)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("resets: %d before data, %d mid-ClientHello, %d after handshake+requests, %d errors %s"
          % (counts[0], counts[1], counts[2], counts["errors"], counts["last"]))
    if counts["errors"]:
        sys.exit("client-side errors while opening connections")


def main():
    cmds = {"garbage": cmd_garbage, "stall": cmd_stall, "truncated": cmd_truncated, "resets": cmd_resets}
    cmds[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()
