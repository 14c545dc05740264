#!/usr/bin/env python3
"""Smoke tests for edgetls-bench (no speed assertions: this only checks the tool's contract).

  bench_smoke.py EXE crypto   short `crypto --json` run: every required line exactly once,
                              finite positive numbers, ratio == ours / openssl
  bench_smoke.py EXE usage    bad subcommands, options and values exit 2 with a usage message
"""
import json
import math
import subprocess
import sys

REQUIRED = [
    "x25519_keygen", "x25519_shared", "x25519_shared_portable",
    "aes128gcm_seal_16k", "aes128gcm_seal_1k", "aes256gcm_seal_16k",
    "chacha20poly1305_seal_16k", "chacha20poly1305_seal_1k", "aes128ccm_seal_16k",
    "tls13_key_schedule", "tls13_server_crypto",
    "sha256_64", "sha256_16k", "hmac_sha256_64", "ecdsa_p256_sign", "p256_ecdh",
    "ecdsa_p256_sign_native", "ecdsa_p256_sign_batch", "p256_ecdh_native",
    "mlkem768_keygen", "mlkem768_encaps", "mlkem768_decaps",
    "tls13_server_crypto_hybrid", "x25519mlkem768_server",
]
AEAD = [n for n in REQUIRED if "_seal_" in n]
NUMBERS = ["ops_per_s", "openssl_ops_per_s", "ratio", "cycles_per_op", "openssl_cycles_per_op"]

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL: " + msg, file=sys.stderr)


def positive(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def check_line(r):
    name = r["name"]
    for k in NUMBERS:
        check(positive(r.get(k)), f"{name}: {k} = {r.get(k)!r} is not a finite number > 0")
    check(isinstance(r.get("impl"), str) and r["impl"] != "", f"{name}: impl missing")
    if all(positive(r.get(k)) for k in NUMBERS):
        want = r["ops_per_s"] / r["openssl_ops_per_s"]
        check(abs(r["ratio"] - want) <= 1e-4 * want + 1e-6,
              f"{name}: ratio {r['ratio']} != {r['ops_per_s']} / {r['openssl_ops_per_s']} = {want}")
    if name in AEAD:
        for k in ("gbps", "openssl_gbps", "bytes_per_op"):
            check(positive(r.get(k)), f"{name}: {k} = {r.get(k)!r} is not a finite number > 0")
        if positive(r.get("gbps")) and positive(r.get("bytes_per_op")):
            want = r["ops_per_s"] * r["bytes_per_op"] / 1e9
            check(abs(r["gbps"] - want) <= 1e-4 * want + 1e-6, f"{name}: gbps {r['gbps']} != {want}")


def run_json(exe, args):
    p = subprocess.run([exe, "crypto", "--json"] + args, capture_output=True, text=True,
                       timeout=600)
    sys.stderr.write(p.stderr)
    check(p.returncode == 0, f"crypto --json {args} exited {p.returncode}")
    records = []
    for l in p.stdout.splitlines():
        try:
            records.append(json.loads(l))
        except ValueError:
            check(False, f"not a JSON object: {l!r}")
    headers = [r for r in records if "header" in r]
    check(len(headers) == 1 and records and "header" in records[0], "expected one header line first")
    if headers:
        for k in ("cpu_model", "cpu_features", "cycles", "x25519", "aead", "sha256", "openssl"):
            check(isinstance(headers[0]["header"].get(k), str), f"header: {k} missing")
    results = [r for r in records if "name" in r]
    check(len(results) + len(headers) == len(records), "a line is neither header nor result")
    for r in results:
        check_line(r)
    return [r["name"] for r in results]


def crypto(exe):
    names = run_json(exe, ["--seconds", "0.05"])
    for n in REQUIRED:
        check(names.count(n) == 1, f"{n} appears {names.count(n)} times, want exactly once")
    check(len(names) == len(REQUIRED), f"unexpected lines: {sorted(set(names) - set(REQUIRED))}")
    # Odd batch sizes (a single op in a 4-lane batch) and a single round.
    want = ["x25519_keygen", "x25519_shared", "x25519_shared_portable", "tls13_server_crypto"]
    names = run_json(exe, ["--seconds", "0.02", "--rounds", "1", "--batch", "1",
                           "--filter", "x25519_*,tls13_server_crypto"])
    check(names == want, f"--batch 1 run printed {names}")
    names = run_json(exe, ["--seconds", "0.02", "--batch", "7", "--filter", "x25519_shared"])
    check(names == ["x25519_shared"], f"--batch 7 run printed {names}")
    # The human table: header lines, then one aligned row per benchmark.
    p = subprocess.run([exe, "crypto", "--seconds", "0.02", "--filter", "sha256_64,hmac*"],
                       capture_output=True, text=True, timeout=600)
    rows = [l.split() for l in p.stdout.splitlines()]
    check(p.returncode == 0 and any(r[:1] == ["openssl:"] for r in rows), "table header missing")
    check([r[0] for r in rows if r and r[0] in ("sha256_64", "hmac_sha256_64")] ==
          ["sha256_64", "hmac_sha256_64"], f"table rows: {p.stdout!r}")


def expect_usage(exe, args, stream="stderr"):
    p = subprocess.run([exe] + args, capture_output=True, text=True, timeout=60)
    out = p.stderr if stream == "stderr" else p.stdout
    check(p.returncode == 2, f"{args}: exit {p.returncode}, want 2")
    check("usage:" in out, f"{args}: no usage message on {stream}")
    check(p.stdout == "" or stream == "stdout", f"{args}: wrote to stdout: {p.stdout!r}")


def usage(exe):
    expect_usage(exe, [])
    expect_usage(exe, ["nosuchcommand"])
    expect_usage(exe, ["--nosuchoption"])
    for bad in (["--nosuchoption"], ["--seconds"], ["--seconds", "0"], ["--seconds", "nan"],
                ["--seconds", "1x"], ["--batch", "0"], ["--batch", "257"], ["--batch", "2.5"],
                ["--rounds", "0"], ["--cpu", "abc"], ["stray"]):
        expect_usage(exe, ["crypto"] + bad)
    p = subprocess.run([exe, "crypto", "--filter", "no_such_benchmark"], capture_output=True,
                       text=True, timeout=60)
    check(p.returncode == 2, f"--filter with no match: exit {p.returncode}, want 2")
    # The valid forms still work: --help succeeds, --list names exactly the required set.
    p = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    check(p.returncode == 0 and "crypto" in p.stdout, "--help should list the crypto subcommand")
    p = subprocess.run([exe, "crypto", "--help"], capture_output=True, text=True, timeout=60)
    check(p.returncode == 0 and "usage:" in p.stdout, "crypto --help should print usage, exit 0")
    p = subprocess.run([exe, "crypto", "--list"], capture_output=True, text=True, timeout=60)
    check(p.returncode == 0 and sorted(p.stdout.split()) == sorted(REQUIRED),
          f"crypto --list: {p.stdout.split()}")
    p = subprocess.run([exe, "crypto", "--list", "--filter", "x25519_*,sha256_64"],
                       capture_output=True, text=True, timeout=60)
    check(p.stdout.split() == ["x25519_keygen", "x25519_shared", "x25519_shared_portable",
                               "sha256_64"], f"--filter patterns: {p.stdout.split()}")


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in ("crypto", "usage"):
        print(__doc__, file=sys.stderr)
        return 2
    {"crypto": crypto, "usage": usage}[sys.argv[2]](sys.argv[1])
    print(f"bench_smoke {sys.argv[2]}: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
