#!/usr/bin/env python3
"""Clients for the DPDK transport tests; run inside the test's network namespace.

  dpdk_client.py ping ADDR COUNT           ICMP echo over a raw socket; checks id, seq, payload
  dpdk_client.py echo ADDR PORT BYTES      plaintext TCP: send BYTES random bytes, expect them back
  dpdk_client.py tls-echo ADDR PORT BYTES  the same over TLS 1.3 (Python ssl = OpenSSL client)
  dpdk_client.py [tls-]wait-close ADDR PORT SECONDS   how the server ends an idle connection
  dpdk_client.py inject IFACE MAC SRC DST  one malformed frame per drop reason (prints the reasons)
  dpdk_client.py telemetry PREFIX CMD      one DPDK telemetry query (JSON answer on stdout)
  dpdk_client.py backend PORT              proxy backend on 127.0.0.1:PORT (see backend())
  dpdk_client.py echo-backend PORT         echoing backend that forwards half-close (see echo_backend())
  dpdk_client.py proxy ADDR PORT UP DOWN   TLS through the proxy: UP bytes up, DOWN bytes down
  dpdk_client.py proxy-churn ADDR PORT N   N short proxied connections, half abandoned with a reset
  dpdk_client.py proxy-stall ADDR PORT S   uploads for S seconds to a backend that does not read, then resets
  dpdk_client.py proxy-halfclose ADDR PORT N   N bytes echoed through the proxy, then close_notify both ways
Exit status 0 when every check passed; the reason is printed otherwise.
"""
import hashlib
import os
import socket
import ssl
import struct
import sys
import time


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ping(addr, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.settimeout(2.0)
    ident = os.getpid() & 0xFFFF
    ok = 0
    for seq in range(1, count + 1):
        payload = os.urandom(56 + seq * 97 % 1000)
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        pkt = hdr[:2] + struct.pack("!H", csum(hdr + payload)) + hdr[4:] + payload
        t0 = time.monotonic()
        s.sendto(pkt, (addr, 0))
        while True:
            try:
                data, src = s.recvfrom(4096)
            except socket.timeout:
                print("ping: seq %d: no reply" % seq)
                return 1
            ihl = (data[0] & 0xF) * 4
            icmp = data[ihl:]
            typ, code, _, rid, rseq = struct.unpack("!BBHHH", icmp[:8])
            if typ != 0 or rid != ident or rseq != seq:
                continue
            if src[0] != addr or icmp[8:] != payload or csum(icmp) != 0:
                print("ping: seq %d: bad reply from %s" % (seq, src[0]))
                return 1
            print("ping: %d bytes from %s: seq=%d time=%.3f ms"
                  % (len(icmp), src[0], seq, (time.monotonic() - t0) * 1000))
            ok += 1
            break
    return 0 if ok == count else 1


def pattern(n, seed):
    out = bytearray()
    block = hashlib.sha256(seed).digest()
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block * 64
    return bytes(out[:n])


def exchange(sock, data):
    """Sends data while reading back the same number of bytes (echo), both bounded."""
    sock.setblocking(True)
    sock.settimeout(20)
    got = bytearray()
    sent = 0
    chunk = 16384
    while sent < len(data) or len(got) < len(data):
        if sent < len(data):
            sock.sendall(data[sent:sent + chunk])
            sent += min(chunk, len(data) - sent)
        while len(got) < len(data) and (len(got) < sent - 4 * chunk or sent == len(data)):
            b = sock.recv(65536)
            if not b:
                raise RuntimeError("connection closed after %d of %d bytes" % (len(got), len(data)))
            got += b
    return bytes(got)


def echo(addr, port, n, use_tls):
    data = pattern(n, b"echo")
    raw = socket.create_connection((addr, port), timeout=10)
    if use_tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        sock = ctx.wrap_socket(raw, server_hostname="localhost")
        if sock.version() != "TLSv1.3":
            print("tls: negotiated %s" % sock.version())
            return 1
    else:
        sock = raw
    got = exchange(sock, data)
    if got != data:
        print("echo: %d bytes came back different" % n)
        return 1
    print("echo: %d bytes back intact%s" % (n, " over " + sock.version() + " " + sock.cipher()[0] if use_tls else ""))
    sock.close()
    return 0


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        b = sock.recv(min(1 << 16, n - len(buf)))
        if not b:
            raise RuntimeError("closed after %d of %d bytes" % (len(buf), n))
        buf += b
    return bytes(buf)


def backend(port):
    """Per connection: an 8-byte length L and a 4-byte reply size R, then L bytes; answers the
    SHA-256 of those L bytes and R bytes of a seeded stream, then closes."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    print("backend: listening on 127.0.0.1:%d" % port, flush=True)
    while True:
        c, _ = ls.accept()
        try:
            total, reply = struct.unpack("!QI", recv_exact(c, 12))
            h = hashlib.sha256()
            left = total
            while left:
                b = c.recv(min(1 << 16, left))
                if not b:
                    raise RuntimeError("short upload")
                h.update(b)
                left -= len(b)
            c.sendall(h.digest() + pattern(reply, b"down"))
        except Exception as e:  # a broken client must not stop the backend
            print("backend: %s" % e, flush=True)
        c.close()


def tls13_connect(addr, port):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx.wrap_socket(socket.create_connection((addr, port), timeout=30),
                           server_hostname="localhost")


def echo_backend(port):
    """Per connection (one thread each): echoes every byte, and after the client's FIN shuts
    down its own write side, so a proxy that forwards half-close both ways ends cleanly."""
    import threading

    def serve(c):
        try:
            while True:
                b = c.recv(1 << 16)
                if not b:
                    break
                c.sendall(b)
            c.shutdown(socket.SHUT_WR)
        except OSError as e:
            print("echo-backend: %s" % e, flush=True)
        finally:
            c.close()

    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    print("echo-backend: listening on 127.0.0.1:%d" % port, flush=True)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def proxy_halfclose(addr, port, n):
    """n bytes through the proxy to the echo backend and back, then our close_notify alone;
    the server's close_notify can only follow if the proxy turned ours into a FIN to the
    backend and the backend's FIN back into close_notify."""
    sock = tls13_connect(addr, port)
    data = pattern(n, b"half")
    if exchange(sock, data) != data:
        print("halfclose: the echo differs")
        return 1
    sock.settimeout(10)
    try:
        sock.unwrap()  # sends close_notify, returns once the server's has arrived
    except (OSError, ValueError) as e:
        print("halfclose: no close_notify back: %r" % e)
        return 1
    print("halfclose: %d bytes echoed; our close_notify became a FIN to the backend, its FIN a "
          "close_notify to us" % n)
    return 0


def proxy_xfer(addr, port, up, down, quiet=False):
    """TLS 1.3 through the proxy: uploads `up` bytes, downloads `down`; both byte-exact."""
    sock = tls13_connect(addr, port)
    data = pattern(up, b"up")
    t0 = time.monotonic()
    sock.sendall(struct.pack("!QI", up, down))
    view = memoryview(data)
    for off in range(0, up, 1 << 16):
        sock.sendall(view[off:off + (1 << 16)])
    t1 = time.monotonic()
    digest = recv_exact(sock, 32)
    if digest != hashlib.sha256(data).digest():
        print("proxy: the backend received different bytes")
        return 1
    h = hashlib.sha256()
    left = down
    while left:
        b = sock.recv(min(1 << 16, left))
        if not b:
            print("proxy: download closed early, %d bytes missing" % left)
            return 1
        h.update(b)
        left -= len(b)
    t2 = time.monotonic()
    if h.digest() != hashlib.sha256(pattern(down, b"down")).digest():
        print("proxy: the download differs")
        return 1
    tail = sock.recv(1)  # then close_notify + FIN once the backend closed
    if tail:
        print("proxy: unexpected bytes after the download")
        return 1
    if not quiet:
        print("proxy: %d bytes up (%.1f MB/s), %d bytes down (%.1f MB/s), byte-exact over %s"
              % (up, up / (t1 - t0) / 1e6, down, down / max(t2 - t1, 1e-6) / 1e6, sock.version()))
    sock.close()
    return 0


def proxy_churn(addr, port, n):
    """n proxied connections one after the other, in turn: a short exchange, an upload
    abandoned with a reset after 64 KiB of a announced 1 MiB, a 300 kB download, and a 4 MiB
    download abandoned with a reset after 10 kB. The completed ones must be byte-exact; the
    abandoned ones end while the proxy has backend operations in flight (a recv waiting for
    the backend, a send of the upload), so their slots are reused with completions due."""
    for i in range(n):
        kind = i % 4
        if kind in (0, 2):
            up, down = 3000 + 17 * i, (5000 if kind == 0 else 300000) + 13 * i
            if proxy_xfer(addr, port, up, down, quiet=True) != 0:
                print("churn: connection %d (%d up, %d down) failed" % (i, up, down))
                return 1
            continue
        sock = tls13_connect(addr, port)
        if kind == 1:
            sock.sendall(struct.pack("!QI", 1 << 20, 0))
            sock.sendall(pattern(1 << 16, b"up"))
        else:
            sock.sendall(struct.pack("!QI", 0, 4 << 20))
            recv_exact(sock, 10000)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # no close_notify; linger 0: a reset
    print("churn: %d proxied connections, %d completed byte-exact, %d reset by the client"
          % (n, (n + 1) // 2, n // 2))
    return 0


def proxy_stall(addr, port, seconds):
    """Announces a 1 GiB upload and sends for `seconds`, then resets the connection. Meant for a
    backend that is not reading (busy with another connection): the proxy's send to it is
    still waiting in the kernel when the reset arrives."""
    sock = tls13_connect(addr, port)
    sock.sendall(struct.pack("!QI", 1 << 30, 0))
    block = pattern(1 << 16, b"up")
    sent = 0
    deadline = time.monotonic() + seconds
    sock.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            sent += sock.send(block)
        except (socket.timeout, ssl.SSLWantWriteError):
            pass
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    print("stall: %d bytes sent before the reset" % sent)
    return 0


def telemetry(prefix, cmd):
    """Prints the JSON answer of one DPDK telemetry command (the v2 socket protocol: the
    server greets with a JSON object, then answers each command with one message)."""
    import json
    path = "/var/run/dpdk/%s/dpdk_telemetry.v2" % prefix
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(5)
    s.connect(path)
    json.loads(s.recv(16384).decode())
    s.send(cmd.encode())
    print(json.dumps(json.loads(s.recv(1 << 16).decode())))
    return 0


def wait_close(addr, port, use_tls, limit):
    """Connects (and handshakes), announces "ready", then waits up to `limit` seconds for the
    server to end the connection. Prints how: close_notify, eof, reset or timeout."""
    raw = socket.create_connection((addr, port), timeout=limit)
    sock = raw
    if use_tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        sock = ctx.wrap_socket(raw, server_hostname="localhost")
    print("ready", flush=True)
    t0 = time.monotonic()
    try:
        data = sock.recv(100)
        how = "close_notify" if use_tls and not data else ("eof" if not data else "data")
    except ssl.SSLZeroReturnError:
        how = "close_notify"
    except (ConnectionResetError, ssl.SSLEOFError):
        how = "reset"
    except socket.timeout:
        how = "timeout"
    print("%s after %.1f s" % (how, time.monotonic() - t0), flush=True)
    return 0


def inject(iface, dst_mac, src_ip, dst_ip):
    """Sends one malformed frame of each kind the net layer must drop (raw AF_PACKET)."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    src_mac = open("/sys/class/net/%s/address" % iface).read().strip()
    eth = bytes.fromhex(dst_mac.replace(":", "")) + bytes.fromhex(src_mac.replace(":", "")) + b"\x08\x00"
    sip, dip = socket.inet_aton(src_ip), socket.inet_aton(dst_ip)
    icmp = bytearray(struct.pack("!BBHHH", 8, 0, 0, 1, 1) + b"x" * 32)
    icmp[2:4] = struct.pack("!H", csum(bytes(icmp)))

    def ip(payload, proto=1, vihl=0x45, frag=0x4000, tot=None, good=True):
        h = bytearray(struct.pack("!BBHHHBBH4s4s", vihl, 0, tot if tot is not None else 20 + len(payload),
                                  7, frag, 64, proto, 0, sip, dip))
        h[10:12] = struct.pack("!H", csum(bytes(h[:20])) ^ (0 if good else 0x5555))
        return bytes(h) + payload

    tcp = bytearray(struct.pack("!HHIIBBHHH", 40000, 8443, 1, 0, 0x50, 0x02, 65535, 0xdead, 0))
    frames = {
        "drop_ip_csum": eth + ip(bytes(icmp), good=False),
        "drop_ip_frag": eth + ip(bytes(icmp), frag=0x2000),
        "drop_ip_ihl": eth + ip(bytes(icmp), vihl=0x44),
        "drop_ip_len": eth + ip(bytes(icmp), tot=400),
        "drop_ip_version": eth + ip(bytes(icmp), vihl=0x65),
        "drop_short": eth + ip(bytes(icmp))[:12],
        "drop_tcp_csum": eth + ip(bytes(tcp), proto=6),
        "drop_proto": eth + ip(b"\0" * 8, proto=17),
    }
    for name, f in frames.items():
        s.send(f)
    print(" ".join(frames))
    return 0


def main():
    cmd = sys.argv[1]
    if cmd == "ping":
        return ping(sys.argv[2], int(sys.argv[3]))
    if cmd in ("echo", "tls-echo"):
        return echo(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), cmd == "tls-echo")
    if cmd in ("wait-close", "tls-wait-close"):
        return wait_close(sys.argv[2], int(sys.argv[3]), cmd == "tls-wait-close", float(sys.argv[4]))
    if cmd == "inject":
        return inject(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    if cmd == "telemetry":
        return telemetry(sys.argv[2], sys.argv[3])
    if cmd == "backend":
        return backend(int(sys.argv[2]))
    if cmd == "proxy":
        return proxy_xfer(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    if cmd == "proxy-churn":
        return proxy_churn(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    if cmd == "echo-backend":
        return echo_backend(int(sys.argv[2]))
    if cmd == "proxy-halfclose":
        return proxy_halfclose(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    if cmd == "proxy-stall":
        return proxy_stall(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    print("unknown command " + cmd)
    return 2


if __name__ == "__main__":
    sys.exit(main())
