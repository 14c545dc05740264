#!/usr/bin/env python3
"""Plaintext backends for the proxy-mode interop tests (loopback only). Prints "ready PORT" once
listening, then serves until killed; one thread per connection.
  backend.py http [--proxy-v2]   HTTP/1.1 keep-alive server; every response is a JSON object
                                 describing the request (method, path, headers, body length and
                                 SHA-256, connection number and request number on it) and, with
                                 --proxy-v2, the PROXY protocol v2 header that preceded it
                                 (decoded independently of edgetls, CRC32C checked if present).
                                 A missing or malformed PROXY header closes the connection.
  backend.py echo                sends every byte back; on EOF half-closes its side.
  backend.py banner              speaks first ("220 edgetls-interop banner <n>\r\n", as SMTP or
                                 FTP servers do), then echoes."""
import hashlib
import json
import socket
import struct
import sys
import threading

PP2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
MAX_HEADER = 64 * 1024


def recv_exact(sock, n, buf):
    """Returns n bytes from buf (bytearray of already-read data) plus the socket."""
    while len(buf) < n:
        b = sock.recv(65536)
        if not b:
            raise EOFError("connection closed after %d of %d bytes" % (len(buf), n))
        buf.extend(b)
    out = bytes(buf[:n])
    del buf[:n]
    return out


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def parse_tlvs(data, out, nested=False):
    p = 0
    while p < len(data):
        if p + 3 > len(data):
            raise ValueError("truncated TLV")
        t, n = data[p], struct.unpack(">H", data[p + 1:p + 3])[0]
        v = data[p + 3:p + 3 + n]
        if len(v) != n:
            raise ValueError("TLV 0x%02x overruns the header" % t)
        key = {0x01: "alpn", 0x02: "authority", 0x03: "crc32c", 0x04: "noop", 0x05: "unique_id",
               0x21: "ssl_version", 0x22: "ssl_cn", 0x23: "ssl_cipher", 0x24: "ssl_sig_alg",
               0x25: "ssl_key_alg"}.get(t, "tlv_0x%02x" % t)
        if t == 0x20 and not nested:
            if n < 5:
                raise ValueError("short SSL TLV")
            out["ssl_client"] = v[0]
            out["ssl_verify"] = struct.unpack(">I", v[1:5])[0]
            parse_tlvs(v[5:], out, nested=True)
        elif t in (0x03, 0x04):
            out[key] = v.hex()
        else:
            out[key] = v.decode("ascii", "replace")
        p += 3 + n


def read_proxy_v2(sock, buf):
    hdr = recv_exact(sock, 16, buf)
    if hdr[:12] != PP2_SIG:
        raise ValueError("no PROXY v2 signature: %r" % hdr[:12])
    ver_cmd, fam, length = hdr[12], hdr[13], struct.unpack(">H", hdr[14:16])[0]
    body = recv_exact(sock, length, buf)
    info = {"ver_cmd": ver_cmd, "fam": fam, "len": length}
    if fam == 0x11:
        src, dst, sport, dport = struct.unpack(">4s4sHH", body[:12])
        info.update(src=socket.inet_ntop(socket.AF_INET, src), dst=socket.inet_ntop(socket.AF_INET, dst),
                    src_port=sport, dst_port=dport)
        tlvs = body[12:]
    elif fam == 0x21:
        src, dst, sport, dport = struct.unpack(">16s16sHH", body[:36])
        info.update(src=socket.inet_ntop(socket.AF_INET6, src), dst=socket.inet_ntop(socket.AF_INET6, dst),
                    src_port=sport, dst_port=dport)
        tlvs = body[36:]
    else:
        raise ValueError("unexpected family 0x%02x" % fam)
    parse_tlvs(tlvs, info)
    if "crc32c" in info:
        # RFC-style check: CRC over the whole header with the checksum field zeroed
        whole = bytearray(hdr + body)
        i = whole.find(bytes.fromhex(info["crc32c"]), 16)
        whole[i:i + 4] = b"\0\0\0\0"
        info["crc32c_ok"] = struct.pack(">I", crc32c(bytes(whole))).hex() == info["crc32c"]
    return info


def read_request(sock, buf):
    """Returns (method, path, headers dict lower-cased, body) or None at a clean EOF."""
    while b"\r\n\r\n" not in buf:
        if len(buf) > MAX_HEADER:
            raise ValueError("header too large")
        b = sock.recv(65536)
        if not b:
            if buf:
                raise EOFError("EOF inside a request header")
            return None
        buf.extend(b)
    end = buf.index(b"\r\n\r\n")
    head = bytes(buf[:end]).decode("latin-1").split("\r\n")
    del buf[:end + 4]
    method, path, _ = head[0].split(" ", 2)
    headers = {}
    for line in head[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    body = recv_exact(sock, int(headers.get("content-length", "0")), buf)
    return method, path, headers, body


def serve_http(sock, conn_no, proxy_v2):
    buf = bytearray()
    pp = read_proxy_v2(sock, buf) if proxy_v2 else None
    n = 0
    while True:
        req = read_request(sock, buf)
        if req is None:
            return
        method, path, headers, body = req
        n += 1
        doc = {"conn": conn_no, "request": n, "method": method, "path": path, "headers": headers,
               "body_len": len(body), "body_sha256": hashlib.sha256(body).hexdigest(),
               "proxy": pp}
        out = (json.dumps(doc, sort_keys=True) + "\n").encode()
        close = headers.get("connection", "").lower() == "close"
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
                     % (len(out), b"Connection: close\r\n" if close else b"") + out)
        if close:
            return


def serve_echo(sock):
    while True:
        b = sock.recv(1 << 18)
        if not b:
            sock.shutdown(socket.SHUT_WR)
            return
        sock.sendall(b)


def handle(sock, conn_no, mode, proxy_v2):
    try:
        if mode == "banner":
            sock.sendall(b"220 edgetls-interop banner %d\r\n" % conn_no)
        if mode in ("echo", "banner"):
            serve_echo(sock)
        else:
            serve_http(sock, conn_no, proxy_v2)
    except (OSError, EOFError, ValueError) as e:
        print("conn %d: %s" % (conn_no, e), flush=True)
    finally:
        sock.close()


def main():
    mode = sys.argv[1]
    proxy_v2 = "--proxy-v2" in sys.argv[2:]
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(128)
    print("ready %d" % ls.getsockname()[1], flush=True)
    n = 0
    while True:
        s, _ = ls.accept()
        n += 1
        threading.Thread(target=handle, args=(s, n, mode, proxy_v2), daemon=True).start()


if __name__ == "__main__":
    main()
