#!/usr/bin/env python3
"""`edgetls-bench hs --sni-file` and `edgetls-bench certs` against a spawned edgetls (no control plane).

usage: hs_sni.py EDGETLS_BENCH EDGETLS

`certs --count 4` makes a CA and four leaves (the first a wildcard); edgetls serves three of them
(--cert/--sni pairs, h1 the default) so that the fourth name gets a certificate that does not cover
it. Checks: the generator's files (modes, lists, chains under the CA, distinct keys from its two
jobs); a 3-name file with --verify gives 0 failures over every name; with the uncovered name
added, exactly its share of the handshakes (round-robin, one thread) fails verification; malformed,
oversized and conflicting inputs exit 2 with a message naming the problem. Processes are killed
and the scratch directory removed on any exit (including SIGTERM from meson's timeout).
"""
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

BENCH, EDGETLS = sys.argv[1], sys.argv[2]
TMP = tempfile.mkdtemp(prefix="etls-hs-sni-")
PROCS = []
FAILS = []
CHECKS = 0


def cleanup():
    for p in PROCS:
        if p.poll() is None:
            p.kill()
            p.wait()
    shutil.rmtree(TMP, ignore_errors=True)


def on_signal(signum, frame):
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, on_signal)


def check(cond, what):
    global CHECKS
    CHECKS += 1
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, file=sys.stderr)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def bench(*args, timeout=25):
    return subprocess.run([BENCH] + list(args), capture_output=True, text=True, timeout=timeout)


def openssl(*args):
    return subprocess.run(["openssl"] + list(args), capture_output=True, text=True, timeout=10)


CERTS = os.path.join(TMP, "c")
NAMES = ["x.w0.bench.test", "h1.bench.test", "h2.bench.test", "h3.bench.test"]


def test_generator():
    r = bench("certs", "--count", "4", "--wildcard-share", "25", "--jobs", "2", "--out", CERTS)
    check(r.returncode == 0, "certs --count 4: exit %d %s" % (r.returncode, r.stderr))
    sni = open(os.path.join(CERTS, "sni.txt")).read().split()
    check(sni == NAMES, "sni.txt %r" % sni)
    batch = open(os.path.join(CERTS, "batch.txt")).read().splitlines()
    check(batch[3] == "cert add e3 --chain certs/3.pem --key certs/3.key" and len(batch) == 4,
          "batch.txt %r" % batch)
    pubkeys = set()
    for i in range(4):
        key = os.path.join(CERTS, "certs", "%d.key" % i)
        check(stat.S_IMODE(os.stat(key).st_mode) == 0o600, "%s not 0600" % key)
        pem = os.path.join(CERTS, "certs", "%d.pem" % i)
        v = openssl("verify", "-CAfile", os.path.join(CERTS, "ca.pem"), pem)
        check(v.returncode == 0, "leaf %d does not verify under ca.pem: %s" % (i, v.stdout + v.stderr))
        san = openssl("x509", "-in", pem, "-noout", "-ext", "subjectAltName").stdout
        want = "*.w0.bench.test" if i == 0 else "h%d.bench.test" % i
        check("DNS:%s" % want in san, "leaf %d SAN %r" % (i, san))
        pubkeys.add(openssl("pkey", "-in", key, "-pubout").stdout)
        check(openssl("x509", "-in", pem, "-noout", "-pubkey").stdout in pubkeys,
              "leaf %d key does not match its certificate" % i)
    check(len(pubkeys) == 4, "the two jobs drew the same keys (%d distinct of 4)" % len(pubkeys))
    for bad in (["--count", "0", "--out", CERTS], ["--count", "10x", "--out", CERTS],
                ["--count", "3"], ["--count", "3", "--out", CERTS, "--wildcard-share", "101"],
                ["--count", "3", "--out", CERTS, "--jobs", "0"]):
        r = bench("certs", *bad)
        check(r.returncode == 2 and "usage:" in r.stderr, "certs %s: exit %d" % (bad, r.returncode))


def start_edgetls():
    port = free_port()
    log = open(os.path.join(TMP, "edgetls.log"), "w")
    args = [EDGETLS, "--listen", "127.0.0.1:%d" % port, "--workers", "1", "--mode", "responder"]
    # h1 first: without an explicit default the first certificate answers unknown names
    for i, names in ((1, "h1.bench.test"), (0, "*.w0.bench.test"), (2, "h2.bench.test")):
        args += ["--cert", os.path.join(CERTS, "certs", "%d.pem" % i),
                 "--key", os.path.join(CERTS, "certs", "%d.key" % i), "--sni", names]
    p = subprocess.Popen(args, stdout=log, stderr=log)
    PROCS.append(p)
    deadline = time.time() + 10
    while time.time() < deadline and p.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return "127.0.0.1:%d" % port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("edgetls did not start: %s" % open(log.name).read())


def write(name, data):
    path = os.path.join(TMP, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def hs(target, sni_file, count, *extra):
    r = bench("hs", target, "--sni-file", sni_file, "--verify", "--cacert",
              os.path.join(CERTS, "ca.pem"), "--count", str(count), "--concurrency", "3",
              "--json", "--quiet", *extra)
    try:
        return r, json.loads(r.stdout)
    except ValueError:
        return r, {}


def test_served(target):
    good = write("good.txt", ("# the three served names\n\n%s\n%s\r\n%s" % tuple(NAMES[:3])).encode())
    r, j = hs(target, good, 60)
    check(r.returncode == 0 and j.get("handshakes") == 60 and j.get("errors", {}).get("total") == 0,
          "3 served names with --verify: exit %d %s %s" % (r.returncode, r.stdout[-300:], r.stderr[-300:]))
    # h3 is served h1's certificate (the default), which does not cover it: with one thread the
    # names go round-robin, so exactly a quarter of 80 handshakes fail verification
    mixed = write("mixed.txt", ("\n".join(NAMES) + "\n").encode())
    r, j = hs(target, mixed, 80)
    e = j.get("errors", {})
    check(r.returncode == 0 and j.get("handshakes") == 60 and e.get("total") == 20 and
          e.get("protocol") == 20, "uncovered name: exit %d %s" % (r.returncode, r.stdout[-400:]))
    only = write("only.txt", b"h3.bench.test\n")
    r, j = hs(target, only, 10)
    check(r.returncode == 1 and j.get("handshakes") == 0 and j.get("errors", {}).get("total") == 10,
          "only an uncovered name: exit %d %s" % (r.returncode, r.stdout[-300:]))
    # without --verify the same names all complete: the failures above are the name check's
    r = bench("hs", target, "--sni-file", mixed, "--count", "20", "--json", "--quiet")
    j = json.loads(r.stdout) if r.returncode == 0 else {}
    check(j.get("handshakes") == 20, "uncovered name without --verify: %s" % r.stdout[-300:])


def test_refused(target):
    big = os.path.join(TMP, "big.txt")
    with open(big, "wb") as f:
        f.truncate((256 << 20) + 1)  # sparse: refused by its size before anything is read
    cases = [
        ("space.txt", b"h1.bench.test\nbad name\n", "space.txt:2: not a host name"),
        ("long.txt", b"h1.bench.test\n" + b"a" * 254 + b"\n", "long.txt:2: not a host name"),
        ("nul.txt", b"h1.bench.test\nh2\x00x\n", "nul.txt:2: NUL byte"),
        ("empty.txt", b"# nothing\n\n", "empty.txt: no names"),
        ("many.txt", b"a\n" * 1000001, "many.txt:1000001: more than 1,000,000 names"),
    ]
    for name, data, msg in cases:
        path = write(name, data)
        r = bench("hs", target, "--sni-file", path, "--count", "1")
        check(r.returncode == 2 and msg in r.stderr and not r.stdout,
              "%s: exit %d, stderr %r" % (name, r.returncode, r.stderr[:300]))
    r = bench("hs", target, "--sni-file", big, "--count", "1")
    check(r.returncode == 2 and "larger than 256 MiB" in r.stderr, "oversized: %r" % r.stderr[:300])
    r = bench("hs", target, "--sni-file", os.path.join(TMP, "missing.txt"), "--count", "1")
    check(r.returncode == 2 and "missing.txt: No such file" in r.stderr, "missing: %r" % r.stderr[:300])
    good = os.path.join(TMP, "good.txt")
    for args in (["--sni", "a", "--sni-file", good], ["--sni-file", good, "--sni", "a"],
                 ["--sni-file", good, "--sni-file", good]):
        r = bench("hs", target, "--count", "1", *args)
        check(r.returncode == 2 and ("exclude each other" in r.stderr or "given twice" in r.stderr),
              "%s: exit %d %r" % (args, r.returncode, r.stderr[:200]))
    r = bench("hs", "--help")
    check(r.returncode == 0 and "--sni-file" in r.stdout and "mod count" in r.stdout, "hs --help")


def main():
    try:
        test_generator()
        target = start_edgetls()
        test_served(target)
        test_refused(target)
    finally:
        cleanup()
    print("%d passed, %d failed" % (CHECKS - len(FAILS), len(FAILS)))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
