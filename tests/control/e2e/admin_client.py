"""A minimal edgetls-control admin-socket client for the e2e tests (docs/control-protocol.md):
one request line plus payloads, one "<status> <len>" reply. Imported by the tests' inline
Python (control_batch.sh); abuse.py has its own, tolerant of the daemon closing first."""
import socket


def conn(admin):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(admin)
    s.settimeout(20)
    return s


def ask(s, line, payloads=()):
    """Sends line (and payloads); returns (status, body text). Fails on a closed connection."""
    s.sendall(line.encode() + b"\n" + b"".join(payloads))
    head = b""
    while not head.endswith(b"\n"):
        c = s.recv(1)
        assert c, "connection closed waiting for a reply to " + line
        head += c
    status, n = head.decode().split()
    body = b""
    while len(body) < int(n):
        body += s.recv(int(n) - len(body))
    return status, body.decode()
