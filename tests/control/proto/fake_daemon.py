#!/usr/bin/env python3
"""A stand-in for edgetls-control's admin socket, for edgetlsctl's tests: reads one request per
connection (line, then the @LEN payloads), stores its raw bytes as DIR/req-N, and answers with a
canned reply chosen by the command words, so every reply status reaches the CLI."""
import os
import re
import socket
import sys
import time

EXPORT = (b"edgetls-ticket-keys 1\n"
          b"key active 1700000000 1700000000 " + b"ab" * 48 + b"\n"
          b"key decrypt-only 1690000000 1690000000 " + b"cd" * 48 + b"\n"
          b"end\n")
REPLIES = {
    "status": ("ok", b"version 3\n"),
    "cert list": ("ok", b"NAME  NAMES\nwww   www.example.com\n"),
    "cert add": ("refused", b"refused: the key does not match the certificate"),
    "cert replace": ("ok", b'{"version":4,"warnings":[]}\n'),
    "ticket export": ("ok", EXPORT),
    "ticket import": ("ok", b"version 5\n"),
    "rollback": ("usage", b"no version 99\n"),
    "stats": ("weird", b"?\n"),
    "history": ("denied", b"denied: uid 1000 is not in group edgetls\n"),
    "drain": ("error", b""),
}


def read_request(conn):
    data = b""
    while b"\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None, None
        data += chunk
    line = data.split(b"\n", 1)[0]
    need = len(line) + 1 + sum(int(m) for m in re.findall(rb"=@(\d+)", line))
    while len(data) < need:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return line.decode(), data


def main():
    path, outdir = sys.argv[1], sys.argv[2]
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(8)
    open(os.path.join(outdir, "ready"), "w").close()
    n = 0
    while True:
        conn, _ = srv.accept()
        line, raw = read_request(conn)
        if line is None:
            conn.close()
            continue
        n += 1
        with open(os.path.join(outdir, "req-%d" % n), "wb") as f:
            f.write(raw)
        words = [w for w in line.split() if not w.startswith("--")]
        key = " ".join(words[:2]) if " ".join(words[:2]) in REPLIES else words[0]
        if key == "log-level":
            time.sleep(5)  # never answers in time: the CLI's --timeout 1 must fire
        else:
            status, body = REPLIES.get(key, ("ok", b""))
            conn.sendall(b"%s %d\n" % (status.encode(), len(body)) + body)
        conn.close()


main()
