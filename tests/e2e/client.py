#!/usr/bin/env python3
"""TLS (or plaintext) client for the end-to-end tests.

  transfer PORT BYTES [--conns N] [--plain]   send BYTES of random data on each of N parallel
        connections, read the echo, compare SHA-256 of what was sent and what came back, then
        close (close_notify / FIN) and expect the peer's close_notify / FIN. Prints one line per
        connection and exits 1 on any mismatch.
  idle PORT SECONDS                           handshake, then wait for the server to end the
        connection; prints how it ended ("close_notify", "eof") and after how long.
Verification uses --cafile (the test's CA) and --name (SNI, default localhost)."""
import argparse
import hashlib
import os
import select
import socket
import ssl
import sys
import threading
import time


PRINT_LOCK = threading.Lock()


def connect(args):
    raw = socket.create_connection(("127.0.0.1", args.port), timeout=args.timeout)
    if args.plain:
        return raw
    ctx = ssl.create_default_context(cafile=args.cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if args.alpn:
        ctx.set_alpn_protocols(args.alpn.split(","))
    # Without ragged-EOF suppression a FIN without close_notify raises SSLEOFError, so b""
    # from recv means a real close_notify.
    return ctx.wrap_socket(raw, server_hostname=args.name, suppress_ragged_eofs=False)


def pump(s, n, err):
    """Sends n bytes and reads their echo on one non-blocking socket from one thread (an
    ssl.SSLSocket must not be used by two threads at once). Returns (sent, got, received)."""
    sent, got = hashlib.sha256(), hashlib.sha256()
    chunk = os.urandom(1 << 16)
    pending = b""
    left, received = n, 0
    s.setblocking(False)
    deadline = time.time() + 120
    while received < n and time.time() < deadline:
        if not pending and left:
            k = min(left, len(chunk))
            pending = chunk[:k]
            sent.update(pending)
            left -= k
            chunk = chunk[7:] + chunk[:7]
        want_w = bool(pending)
        r, w, _ = select.select([s], [s] if want_w else [], [], 1.0)
        try:
            while True:  # drain everything readable, including what the TLS layer buffered
                b = s.recv(262144)
                if not b:
                    err.append("recv: unexpected EOF")
                    return sent, got, received
                got.update(b)
                received += len(b)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            pass
        if pending:
            try:
                k = s.send(pending)
                pending = pending[k:]
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                pass
    if received < n:
        err.append("timed out")
    return sent, got, received


def transfer_one(args, idx, results):
    s = connect(args)
    n = args.bytes
    err = []
    t0 = time.time()
    try:
        sent, got, received = pump(s, n, err)
    except OSError as e:
        err.append(str(e))
        sent, got, received = hashlib.sha256(), None, 0
    s.setblocking(True)
    s.settimeout(args.timeout)
    # Every byte came back: now close. TLS: our close_notify, then the server's (unwrap
    # waits for it). Plaintext: FIN, then the server's FIN.
    end = "?"
    try:
        if args.plain:
            s.shutdown(socket.SHUT_WR)
            end = "eof" if s.recv(1) == b"" else "data"
        else:
            s = s.unwrap()
            end = "close_notify"
    except (OSError, ValueError) as e:
        err.append("close: " + str(e))
    dt = time.time() - t0
    match = got is not None and got.digest() == sent.digest()
    ok = received == n and match and not err
    with PRINT_LOCK:  # one whole line per connection, never interleaved
        print("conn %d: sent %d received %d sha256 %s end %s %.2fs %s" % (
            idx, n, received, "match" if match else "MISMATCH", end, dt,
            ("errors: " + "; ".join(err)) if err else ""), flush=True)
    results.append(ok)
    s.close()


def cmd_transfer(args):
    results = []
    ths = [threading.Thread(target=transfer_one, args=(args, i, results)) for i in range(args.conns)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    return 0 if len(results) == args.conns and all(results) else 1


def cmd_idle(args):
    s = connect(args)
    if not args.plain:
        s.do_handshake()
    print("connected", flush=True)
    t0 = time.time()
    how = "timeout"
    try:
        s.settimeout(args.seconds)
        b = s.recv(1)
        how = ("eof" if args.plain else "close_notify") if not b else "data"
    except ssl.SSLZeroReturnError:
        how = "close_notify"
    except ssl.SSLEOFError:
        how = "eof_without_close_notify"
    except socket.timeout:
        how = "timeout"
    except OSError as e:
        how = "error " + str(e)
    print("%s %.2f" % (how, time.time() - t0), flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["transfer", "idle"])
    ap.add_argument("port", type=int)
    ap.add_argument("amount", type=float)
    ap.add_argument("--conns", type=int, default=1)
    ap.add_argument("--plain", action="store_true")
    ap.add_argument("--cafile", default="")
    ap.add_argument("--name", default="localhost")
    ap.add_argument("--alpn", default="")
    ap.add_argument("--timeout", type=float, default=60)
    args = ap.parse_args()
    if args.cmd == "transfer":
        args.bytes = int(args.amount)
        return cmd_transfer(args)
    args.seconds = args.amount
    return cmd_idle(args)


if __name__ == "__main__":
    sys.exit(main())
