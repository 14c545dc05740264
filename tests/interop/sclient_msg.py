#!/usr/bin/env python3
"""Summarises `openssl s_client -msg` output (read from a file) as one line of words:
  ch=N        ClientHellos sent
  hrr=N       received ServerHellos whose random is the HelloRetryRequest constant (RFC 8446 4.1.3)
  sh=N        all received ServerHellos (HRR included)
  ku_out=N    KeyUpdate messages sent       ku_in=N   received
  ku_req_out=N / ku_req_in=N                  of those, with update_requested (1)
  hrr_group=0xNNNN                            the group the HelloRetryRequest asked for
s_client prints each message as a header line ("<<< TLS 1.3, Handshake [length 00a3], ServerHello")
followed by a hex dump ("    02 00 00 a3 03 03 cf 21 ..."); the dump is the handshake message
itself (type, 24-bit length, body)."""
import re
import sys

HRR_RANDOM = bytes.fromhex(
    "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
HEADER = re.compile(r"^(<<<|>>>) .*?, Handshake \[length [0-9a-f]+\], (\w+)")
DUMP = re.compile(r"^\s+([0-9a-f]{2}(?: [0-9a-f]{2})*)\s*$")


def messages(lines):
    """Yields (direction, name, bytes) for every handshake message with its dump."""
    cur = None
    for line in lines:
        m = HEADER.match(line)
        if m:
            if cur:
                yield cur
            cur = (m.group(1), m.group(2), bytearray())
            continue
        d = DUMP.match(line)
        if d and cur:
            cur[2].extend(bytes.fromhex(d.group(1).replace(" ", "")))
            continue
        if cur:
            yield cur
            cur = None
    if cur:
        yield cur


def hrr_group(body):
    """The key_share group a HelloRetryRequest selects (0 when absent). body: message bytes."""
    p = 4 + 2 + 32  # header, legacy_version, random
    p += 1 + body[p]  # legacy_session_id_echo
    p += 2 + 1  # cipher_suite, legacy_compression_method
    end = p + 2 + int.from_bytes(body[p:p + 2], "big")
    p += 2
    while p + 4 <= end:
        etype = int.from_bytes(body[p:p + 2], "big")
        elen = int.from_bytes(body[p + 2:p + 4], "big")
        if etype == 51 and elen == 2:
            return int.from_bytes(body[p + 4:p + 6], "big")
        p += 4 + elen
    return 0


def main():
    c = dict(ch=0, sh=0, hrr=0, ku_out=0, ku_in=0, ku_req_out=0, ku_req_in=0)
    group = 0
    with open(sys.argv[1], errors="replace") as f:
        for direction, name, body in messages(f):
            inbound = direction == "<<<"
            if name == "ClientHello" and not inbound:
                c["ch"] += 1
            elif name == "ServerHello" and inbound:
                c["sh"] += 1
                if body[6:38] == HRR_RANDOM:
                    c["hrr"] += 1
                    group = hrr_group(body)
            elif name == "KeyUpdate":
                side = "in" if inbound else "out"
                c["ku_" + side] += 1
                if len(body) >= 5 and body[4] == 1:
                    c["ku_req_" + side] += 1
    print(" ".join("%s=%d" % kv for kv in c.items()), "hrr_group=0x%04x" % group)


if __name__ == "__main__":
    main()
