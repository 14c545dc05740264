#!/usr/bin/env python3
"""Loopback backend for the proxy-mode end-to-end tests.

Echoes every byte it receives back on the same connection and forwards half-close (after the
client's FIN it finishes echoing, then shuts down its write side). With --proxy-v2 it first
parses a PROXY protocol v2 header (HAProxy proxy-protocol.txt section 2.2) with an independent
decoder and appends what it found, one JSON object per connection, to --report.
Prints "ready PORT" on stdout once listening."""
import argparse
import json
import socket
import struct
import sys
import threading

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed inside the PROXY header")
        buf += chunk
    return buf


def parse_tlvs(data):
    out = []
    i = 0
    while i < len(data):
        if i + 3 > len(data):
            raise ValueError("truncated TLV header")
        t, ln = data[i], struct.unpack("!H", data[i + 1:i + 3])[0]
        if i + 3 + ln > len(data):
            raise ValueError("TLV overruns the header")
        out.append((t, data[i + 3:i + 3 + ln]))
        i += 3 + ln
    return out


def parse_pp2(conn):
    hdr = recv_exact(conn, 16)
    if hdr[:12] != SIG:
        raise ValueError("bad PROXY v2 signature")
    ver_cmd, fam, ln = hdr[12], hdr[13], struct.unpack("!H", hdr[14:16])[0]
    body = recv_exact(conn, ln)
    info = {"ver_cmd": ver_cmd, "fam": fam, "len": ln}
    if ver_cmd == 0x21 and fam == 0x11:
        info["src"] = socket.inet_ntop(socket.AF_INET, body[0:4])
        info["dst"] = socket.inet_ntop(socket.AF_INET, body[4:8])
        info["src_port"], info["dst_port"] = struct.unpack("!HH", body[8:12])
        rest = body[12:]
    elif ver_cmd == 0x21 and fam == 0x21:
        info["src"] = socket.inet_ntop(socket.AF_INET6, body[0:16])
        info["dst"] = socket.inet_ntop(socket.AF_INET6, body[16:32])
        info["src_port"], info["dst_port"] = struct.unpack("!HH", body[32:36])
        rest = body[36:]
    else:
        rest = b""
    for t, v in parse_tlvs(rest):
        if t == 0x01:
            info["alpn"] = v.decode()
        elif t == 0x02:
            info["authority"] = v.decode()
        elif t == 0x20:
            info["ssl_client"] = v[0]
            info["ssl_verify"] = struct.unpack("!I", v[1:5])[0]
            for st, sv in parse_tlvs(v[5:]):
                if st == 0x21:
                    info["ssl_version"] = sv.decode()
                elif st == 0x22:
                    info["ssl_cn"] = sv.decode()
                elif st == 0x23:
                    info["ssl_cipher"] = sv.decode()
        elif t == 0xE0:  # edgetls: SHA-256 of the verified client certificate
            info["client_sha256"] = v.hex()
    return info


def serve(conn, args, lock):
    try:
        if args.proxy_v2:
            info = parse_pp2(conn)
            with lock, open(args.report, "a") as f:
                f.write(json.dumps(info) + "\n")
        while True:
            data = conn.recv(262144)
            if not data:
                break
            conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
    except (OSError, EOFError, ValueError) as e:
        if args.report:
            with lock, open(args.report, "a") as f:
                f.write(json.dumps({"error": str(e)}) + "\n")
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--proxy-v2", action="store_true")
    ap.add_argument("--report", default="")
    args = ap.parse_args()
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", args.port))
    ls.listen(128)
    print("ready", ls.getsockname()[1], flush=True)
    lock = threading.Lock()
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve, args=(conn, args, lock), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
