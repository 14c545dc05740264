#!/usr/bin/env python3
"""Smoke test of `edgetls-bench hs` and `record` against a spawned edgetls on loopback.

usage: hs_smoke.py EDGETLS_BENCH EDGETLS

Checks the output contract, never speed: 200 handshakes with 0 errors, the JSON object and its
required fields, --request responses, --verify against the generated CA, the HTML report, a
refused port counted as errors, a short `record` echo run, and --tls12 (every ECDSA suite x
group, --verify, --resume, a TLS 1.3-only server refusing it, suite/version mismatches). Every process started here is
killed and the scratch directory removed on any exit (including SIGTERM from meson's timeout).
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BENCH, EDGETLS = sys.argv[1], sys.argv[2]
TMP = tempfile.mkdtemp(prefix="etls-hs-smoke-")
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


def make_certs():
    run = lambda *a: subprocess.run(a, check=True, capture_output=True, cwd=TMP)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=edgetls bench CA")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost")
    with open(os.path.join(TMP, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n")
    run("openssl", "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "leaf.pem", "-days", "2", "-extfile", "ext.cnf")


def start_edgetls(mode, *extra):
    port = free_port()
    log = open(os.path.join(TMP, "edgetls-%s%s.log" % (mode, "".join(extra))), "w")
    p = subprocess.Popen([EDGETLS, "--listen", "127.0.0.1:%d" % port, "--cert",
                          os.path.join(TMP, "leaf.pem"), "--key", os.path.join(TMP, "leaf.key"),
                          "--workers", "1", "--mode", mode] + list(extra), stdout=log, stderr=log)
    PROCS.append(p)
    deadline = time.time() + 10
    while time.time() < deadline:
        if p.poll() is not None:
            break
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("edgetls did not start (see %s)" % log.name)


def bench(*args, timeout=25):
    return subprocess.run([BENCH] + list(args), capture_output=True, text=True, timeout=timeout)


def test_hs(port):
    target = "127.0.0.1:%d" % port
    report = os.path.join(TMP, "report.html")
    r = bench("hs", target, "--count", "200", "--concurrency", "8", "--json", "--quiet",
              "--report", report)
    check(r.returncode == 0, "hs --count 200 exit %d: %s" % (r.returncode, r.stderr[-400:]))
    try:
        j = json.loads(r.stdout)
    except ValueError:
        j = {}
        check(False, "hs --json is not one JSON object: %r" % r.stdout[:200])
    for key in ("handshakes", "handshakes_per_s", "latency_us", "errors", "cpu", "timeline",
                "elapsed_s", "suite", "group"):
        check(key in j, "JSON field %s missing" % key)
    check(j.get("handshakes") == 200, "handshakes %r != 200" % j.get("handshakes"))
    check(j.get("errors", {}).get("total") == 0, "errors %r" % j.get("errors"))
    lat = j.get("latency_us", {}).get("handshake", {})
    for key in ("p50", "p90", "p99", "p99_9", "max"):
        check(key in lat, "latency field %s missing" % key)
    check(0 < lat.get("p50", 0) <= lat.get("p99", 0) <= lat.get("max", 0),
          "latency percentiles not ordered: %r" % lat)
    check(j.get("suite") == "TLS_AES_128_GCM_SHA256", "suite %r" % j.get("suite"))
    check(j.get("cpu", {}).get("us_per_handshake", 0) > 0, "bench CPU not measured")
    html = open(report).read() if os.path.exists(report) else ""
    check(html.count("<svg") >= 2 and "</html>" in html, "HTML report without its plots")
    check("src=" not in html and "href=" not in html and "<script" not in html,
          "HTML report refers to external resources")

    r = bench("hs", target, "--count", "50", "--request", "--sni", "localhost", "--verify",
              "--cacert", os.path.join(TMP, "ca.pem"), "--group", "p256", "--json", "--quiet")
    j = json.loads(r.stdout) if r.returncode == 0 else {}
    check(j.get("completed") == 50 and j.get("errors", {}).get("total") == 0,
          "--request --verify --group p256: %s %s" % (r.stdout[-300:], r.stderr[-300:]))
    check("response" in j.get("latency_us", {}), "no response latency with --request")

    # the wrong CA: every handshake fails with a certificate error we raise (protocol)
    r = bench("hs", target, "--count", "5", "--concurrency", "1", "--verify", "--cacert",
              os.path.join(TMP, "leaf.pem"), "--sni", "localhost", "--json", "--quiet")
    j = json.loads(r.stdout) if r.stdout.strip() else {}
    check(r.returncode == 1 and j.get("errors", {}).get("protocol") == 5,
          "wrong CA not rejected: %s" % r.stdout[-300:])

    # resumption: the first connections per thread are full and wait for their ticket, the
    # rest offer it and the server (tickets on by default) accepts; with --verify too
    for extra in ([], ["--request"], ["--request", "--verify", "--cacert", os.path.join(TMP, "ca.pem")]):
        r = bench("hs", target, "--count", "120", "--concurrency", "4", "--resume", "--sni",
                  "localhost", "--json", "--quiet", *extra)
        j = json.loads(r.stdout) if r.returncode == 0 else {}
        check(j.get("completed") == 120 and j.get("errors", {}).get("total") == 0 and
              j.get("resume") is True and 100 <= j.get("resumed", 0) <= 116,
              "--resume %s: %s %s" % (" ".join(extra), r.stdout[-300:], r.stderr[-300:]))
    r = bench("hs", target, "--count", "20", "--request", "--json", "--quiet")
    j = json.loads(r.stdout) if r.returncode == 0 else {}
    check(j.get("resumed") == 0, "full handshakes counted as resumed: %r" % j.get("resumed"))

    r = bench("hs", target, "--rate", "200", "--duration", "1", "--json", "--quiet")
    j = json.loads(r.stdout) if r.returncode == 0 else {}
    check(j.get("model") == "open" and j.get("handshakes", 0) > 20 and
          j.get("errors", {}).get("total") == 0, "open loop: %s" % r.stdout[-300:])


def test_tls12(port, port13):
    """--tls12 against an edgetls serving both versions, and one serving TLS 1.3 only."""
    target = "127.0.0.1:%d" % port
    ca = os.path.join(TMP, "ca.pem")
    for suite in ("ECDHE-ECDSA-AES128-GCM-SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                  "ECDHE-ECDSA-CHACHA20-POLY1305"):
        for group in ("x25519", "p256"):
            r = bench("hs", target, "--tls12", "--suite", suite, "--group", group, "--count", "30",
                      "--concurrency", "4", "--request", "--sni", "localhost", "--verify",
                      "--cacert", ca, "--json", "--quiet")
            j = json.loads(r.stdout) if r.returncode == 0 else {}
            check(j.get("completed") == 30 and j.get("errors", {}).get("total") == 0 and
                  j.get("version") == "TLSv1.2" and j.get("suite", "").startswith("TLS_ECDHE_ECDSA_WITH_") and
                  j.get("resumed") == 0,
                  "--tls12 %s %s: %s %s" % (suite, group, r.stdout[-300:], r.stderr[-300:]))
    r = bench("hs", target, "--tls12", "--count", "120", "--concurrency", "4", "--resume",
              "--request", "--sni", "localhost", "--json", "--quiet")
    j = json.loads(r.stdout) if r.returncode == 0 else {}
    check(j.get("completed") == 120 and j.get("errors", {}).get("total") == 0 and
          100 <= j.get("resumed", 0) <= 116 and
          j.get("suite") == "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
          "--tls12 --resume: %s %s" % (r.stdout[-300:], r.stderr[-300:]))
    r = bench("hs", "127.0.0.1:%d" % port13, "--tls12", "--count", "5", "--concurrency", "1",
              "--json", "--quiet")
    j = json.loads(r.stdout) if r.stdout.strip() else {}
    check(r.returncode == 1 and j.get("errors", {}).get("alerts", {}).get("70") == 5,
          "--tls12 against --protocols tls1.3: %s" % r.stdout[-300:])
    for bad in (["--tls12", "--suite", "TLS_AES_128_GCM_SHA256"],
                ["--suite", "ECDHE-ECDSA-AES128-GCM-SHA256"]):
        r = bench("hs", target, "--count", "1", *bad)
        check(r.returncode == 2 and "TLS 1." in r.stderr and "usage:" in r.stderr,
              "%s: exit %d, want 2 naming the version" % (bad, r.returncode))


def test_bad_peers():
    """A silent listener (timeouts) and a plaintext HTTP server (protocol errors)."""
    import threading
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    r = bench("hs", "127.0.0.1:%d" % silent.getsockname()[1], "--count", "3", "--timeout", "0.5",
              "--json", "--quiet")
    j = json.loads(r.stdout) if r.stdout.strip() else {}
    check(j.get("errors", {}).get("timeout") == 3, "silent peer: %s" % r.stdout[-300:])
    silent.close()

    plain = socket.socket()
    plain.bind(("127.0.0.1", 0))
    plain.listen(16)

    def serve():
        for _ in range(3):
            try:
                conn, _ = plain.accept()
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                conn.close()
            except OSError:
                return
    th = threading.Thread(target=serve, daemon=True)
    th.start()
    r = bench("hs", "127.0.0.1:%d" % plain.getsockname()[1], "--count", "3", "--concurrency", "1",
              "--json", "--quiet")
    j = json.loads(r.stdout) if r.stdout.strip() else {}
    check(j.get("errors", {}).get("protocol") == 3, "plaintext peer: %s" % r.stdout[-300:])
    plain.close()


def test_refused():
    r = bench("hs", "127.0.0.1:%d" % free_port(), "--count", "5", "--concurrency", "1",
              "--json", "--quiet")
    j = json.loads(r.stdout) if r.stdout.strip() else {}
    check(r.returncode == 1 and j.get("errors", {}).get("refused") == 5,
          "closed port: %s" % r.stdout[-300:])
    for bad in (["hs", "not-an-address"], ["hs"], ["hs", "127.0.0.1:1", "--concurrency", "0"],
                ["hs", "127.0.0.1:1", "--group", "x448"], ["hs", "127.0.0.1:1", "--suite", "RC4"],
                ["hs", "127.0.0.1:1", "--rate", "-1"], ["hs", "127.0.0.1:1", "--verify"],
                ["hs", "127.0.0.1:1", "--close", "maybe"], ["record", "127.0.0.1:1", "--mode", "x"],
                ["record", "127.0.0.1:1", "--record-size", "16385"], ["record"]):
        r = bench(*bad)
        check(r.returncode == 2 and "usage:" in r.stderr and not r.stdout,
              "%s: exit %d, want 2 with usage on stderr" % (bad, r.returncode))
    r = bench("hs", "--help")
    check(r.returncode == 0 and "--concurrency" in r.stdout, "hs --help")


def test_record(port):
    r = bench("record", "127.0.0.1:%d" % port, "--mode", "echo", "--connections", "2",
              "--duration", "1", "--json")
    j = json.loads(r.stdout) if r.returncode == 0 else {}
    check(j.get("bytes_sent", 0) > 0 and j.get("bytes_received", 0) > 0 and
          j.get("errors", 1) == 0, "record echo: %s %s" % (r.stdout[-300:], r.stderr[-300:]))
    for key in ("gbps_up", "gbps_down", "record_size", "suite"):
        check(key in j, "record JSON field %s missing" % key)


def main():
    try:
        make_certs()
        port = start_edgetls("responder")
        test_hs(port)
        test_tls12(port, start_edgetls("responder", "--protocols", "tls1.3"))
        test_refused()
        test_bad_peers()
        test_record(start_edgetls("echo"))
    finally:
        cleanup()
    print("%d passed, %d failed" % (CHECKS - len(FAILS), len(FAILS)))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
