#!/usr/bin/env python3
"""Drives an interactive `openssl s_client -msg` against edgetls in echo mode: data, then the
s_client commands 'k' (KeyUpdate, update_not_requested) and 'K' (update_requested), each followed
by more data that must come back. s_client acts on a command only when the line it reads starts
with the letter, so every write waits for the previous one to take effect.
  keyupdate.py PORT CAFILE LOGFILE ROUNDS [S_CLIENT_ARGS...]
With ROUNDS 0 it only echoes (64 bytes and 12 kB lines), for record-layer variations selected by
the extra s_client arguments. Exits 0 when every echo came back; the -msg transcript is left in
LOGFILE for the caller."""
import os
import re
import subprocess
import sys
import threading
import time

TIMEOUT = float(os.environ.get("KU_TIMEOUT", "20"))
# A -msg header line and its hex dump; s_client may print one in the middle of echoed data.
MSG_NOISE = re.compile(rb"(?:<<<|>>>) [^\n]*\n(?: +[0-9a-f]{2}(?: [0-9a-f]{2})*\n)*")


class Client:
    def __init__(self, port, cafile, log, extra):
        cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%s" % port, "-servername", "localhost",
               "-CAfile", cafile, "-verify_return_error", "-verify_hostname", "localhost", "-msg"]
        self.p = subprocess.Popen(cmd + extra,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.buf = bytearray()
        self.lock = threading.Lock()
        self.log = open(log, "wb")
        threading.Thread(target=self.reader, daemon=True).start()

    def reader(self):
        while True:
            b = self.p.stdout.read1(65536)
            if not b:
                return
            with self.lock:
                self.buf.extend(b)
            self.log.write(b)
            self.log.flush()

    def wait_for(self, token, start, strip=False):
        """Waits until token appears in the output after offset start (with the -msg lines
        removed when strip is set)."""
        deadline = time.time() + TIMEOUT
        while time.time() < deadline:
            with self.lock:
                out = bytes(self.buf[start:])
            if strip:
                out = MSG_NOISE.sub(b"", out)
            if token in out:
                return
            if self.p.poll() is not None:
                break
            time.sleep(0.02)
        tail = bytes(self.buf[-600:]).decode(errors="replace")
        sys.exit("no %r in s_client output (exit %s); tail:\n%s" % (token[:40], self.p.poll(), tail))

    def send(self, data):
        with self.lock:
            start = len(self.buf)
        self.p.stdin.write(data)
        self.p.stdin.flush()
        return start


def echo(c, tag, size):
    """Sends one line of size bytes and waits for the same line to come back."""
    body = (tag.encode() + b":" + os.urandom(size // 2).hex().encode())[:size]
    start = c.send(body + b"\n")
    # s_client prints what it sends only as -msg headers, never the payload, so the payload
    # appearing in the output is the echo (possibly split by -msg lines between records).
    c.wait_for(body, start, strip=True)


def main():
    port, cafile, log = sys.argv[1], sys.argv[2], sys.argv[3]
    rounds = int(sys.argv[4])
    c = Client(port, cafile, log, sys.argv[5:])
    c.wait_for(b"Verify return code: 0 (ok)", 0)
    echo(c, "before", 64)
    echo(c, "before-big", 12000)
    for r in range(rounds):
        for cmd in (b"k", b"K"):
            start = c.send(cmd + b"\n")
            c.wait_for(b"KEYUPDATE", start)
            echo(c, "after-%s-%d" % (cmd.decode(), r), 64)
            echo(c, "big-%s-%d" % (cmd.decode(), r), 12000)
    c.p.stdin.close()
    try:
        c.p.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        c.p.kill()
        sys.exit("s_client did not finish after stdin closed")
    time.sleep(0.1)
    print("echoes ok, %d x (k, K)" % rounds)


if __name__ == "__main__":
    main()
