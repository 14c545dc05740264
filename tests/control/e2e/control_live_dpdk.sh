#!/usr/bin/env bash
# Live replace under load on the DPDK transport: edgetls --transport dpdk --control on a
# net_memif port, driven by edgetls-bench hs --dpdk --verify on the other side of the memif
# (both kernel-bypass, shared memory and a Unix socket in the scratch directory: no network
# device, no namespace). At full load (closed loop) for 12 s the certificate of the name under
# load is replaced 50 times and the ticket key rotated: no failed handshake (with --verify a
# mixed chain/key fails CertificateVerify or the chain check), every replace done while the
# bench still runs. The two generations come from two CAs, so "only the last chain after the
# last commit" is checked over memif too: a run trusting only the last chain's CA verifies every
# handshake, a run trusting only the other CA verifies none. Prints the commit -> last-worker
# propagation p50/p99 (status --json). Exit 77 where DPDK cannot run (not root, no DPDK build,
# EAL refuses to start).
# arguments: as lib.sh, then the edgetls-bench binary
source "$(dirname "$0")/lib.sh" "$@"
BENCH=${6:?edgetls-bench}
skip() { echo "SKIP: DPDK cannot run: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (DPDK EAL)"
[ "${ETLS_HAVE_DPDK:-0}" = 1 ] || skip "this build has no DPDK transport (meson sets ETLS_HAVE_DPDK)"

TAG="$$$RANDOM"
SOCK=$TMP/memif.sock
SRV_PREFIX="etlscs$TAG"
CLI_PREFIX="etlscb$TAG"
trap 'cleanup; rm -rf "/var/run/dpdk/$SRV_PREFIX" "/var/run/dpdk/$CLI_PREFIX"' EXIT
SRV_LCORE=0
CLI_LCORE=$(($(nproc) > 1 ? 1 : 0))

make_pki
D=$TMP/pki
# The second generation under a CA of its own (same names), so that the CA a client trusts
# tells the generations apart.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$D/ca2.key" \
    -out "$D/ca2.pem" -days 3 -subj "/CN=edgetls control test CA 2" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$D/new2.key" \
    -out "$D/new2.csr" -subj "/CN=www.example.test" 2>/dev/null
openssl x509 -req -in "$D/new2.csr" -CA "$D/ca2.pem" -CAkey "$D/ca2.key" -CAcreateserial \
    -out "$D/new2.pem" -days 2 -extfile "$D/new.cnf" 2>/dev/null
chmod 600 "$D/new2.key"
CA1=$CA
cat "$CA1" "$D/ca2.pem" >"$D/both.pem"
CA=$D/both.pem # the control plane validates against both
MPORT=$(free_port)
start_control --metrics-listen "127.0.0.1:$MPORT"
ctl cert add www --chain "$D/old.pem" --key "$D/old.key" >/dev/null || fail "cert add"

start_edgetls_dpdk "" --control "$DPSOCK" --state-dir "$STATE" --listen 192.0.2.1:8443 \
    --mode responder -- -l "$SRV_LCORE" --no-huge --no-pci -m 512 --file-prefix "$SRV_PREFIX" \
    --vdev="net_memif0,role=server,socket=$SOCK" --log-level=lib.eal:notice \
    -- --addr 192.0.2.1/24 --idle-sleep-us 100
grep -q "net_memif" "$TMP/edgetls.log" || fail "edgetls did not come up on net_memif"
wait_synced

# bench SECONDS CAFILE OUT: the DPDK-mode bench, closed loop, --verify against CAFILE.
bench() {
    timeout $(($1 + 40)) "$BENCH" hs 192.0.2.1:8443 --dpdk --sni www.example.test --verify --cacert "$2" \
        --concurrency 16 --duration "$1" --timeout 5 --json --quiet -- \
        -l "$CLI_LCORE" --no-huge --no-pci -m 256 --file-prefix "$CLI_PREFIX" \
        --vdev="net_memif0,role=client,socket=$SOCK" --log-level=lib.eal:notice \
        -- --addr 192.0.2.2/24 >"$3" 2>"$3.err"
}
# counts OUT: "handshakes errors rate completed suite" of a run's main JSON line (handshakes:
# the client sent its Finished; completed: it also said close_notify).
counts() {
    python3 - "$1" <<'PY'
import json, sys
m = next(json.loads(l) for l in open(sys.argv[1]) if '"edgetls-bench hs"' in l)
print(m["handshakes"], m["errors"]["total"], "%.0f" % (m["handshakes"] / m["elapsed_s"]), m["completed"], m["suite"])
PY
}

# telemetry FIELD: edgetls' /edgetls/workers counter FIELD summed over its workers (DPDK telemetry).
telemetry() {
    python3 - "/var/run/dpdk/$SRV_PREFIX/dpdk_telemetry.v2" "$1" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(3)
s.connect(sys.argv[1])
s.recv(4096)  # the greeting
s.send(b"/edgetls/workers")
d = json.loads(s.recv(65536))["/edgetls/workers"]
print(sum(d[sys.argv[2]]))
PY
}

# Under ASan the 50 commits take longer (edgetls-control, edgetlsctl and two busy-polling DPDK
# processes share two cores): the load lasts long enough that every replace happens under it.
secs=12
[ "$SANITIZED" = 1 ] && secs=20
bench "$secs" "$D/both.pem" "$TMP/load.json" &
BPID=$!
PIDS+=("$BPID")
# Replaces start once the bench's handshakes reach edgetls (its EAL takes a moment to start).
for _ in $(seq 150); do
    grep -q "EAL cannot start" "$TMP/load.json.err" 2>/dev/null && skip "$(grep -m1 EAL "$TMP/load.json.err")"
    kill -0 "$BPID" 2>/dev/null || break
    [ "$(telemetry handshakes)" -gt 0 ] 2>/dev/null && break
    sleep 0.1
done
kill -0 "$BPID" 2>/dev/null || fail "edgetls-bench --dpdk ended before the replaces: $(tail -5 "$TMP/load.json.err")"
n=0
for i in $(seq 1 50); do
    g=new2; [ $((i % 2)) = 0 ] && g=old
    ctl cert replace www --chain "$D/$g.pem" --key "$D/$g.key" >/dev/null || fail "replace $i"
    n=$((n + 1))
    [ "$i" = 25 ] && { ctl ticket rotate >/dev/null || fail "ticket rotate"; }
    sleep 0.08
done
# The last commit (old, CA 1) is in; the bench must still be running for "under load" to hold.
kill -0 "$BPID" 2>/dev/null || fail "the bench ended before the last replace (the replaces were not all under load)"
rc=0; wait "$BPID" || rc=$?
grep -q "EAL cannot start" "$TMP/load.json.err" && skip "$(grep -m1 EAL "$TMP/load.json.err")"
[ "$rc" = 0 ] || fail "edgetls-bench hs --dpdk exited with status $rc: $(tail -5 "$TMP/load.json.err")"
read -r hs errs rate done0 suite < <(counts "$TMP/load.json") || fail "no bench figures: $(cat "$TMP/load.json")"
echo "bench over memif: $hs handshakes in ${secs} s ($rate/s), $errs errors, during $n replaces"
[ "$hs" -gt 0 ] && [ "$errs" = 0 ] || fail "handshakes failed during live replaces: $(head -c 800 "$TMP/load.json")"

wait_synced
# After the last commit only its chain (CA 1): all verify against CA 1, none against CA 2.
bench 1 "$CA1" "$TMP/last.json" || fail "bench after the last commit: $(tail -5 "$TMP/last.json.err")"
read -r hs1 errs1 _ done1 _ < <(counts "$TMP/last.json")
[ "$hs1" -gt 0 ] && [ "$errs1" = 0 ] || fail "after the last commit: $hs1 handshakes verified against its CA, $errs1 failed"
# Every handshake so far succeeded on edgetls' side too (the run below fails them on purpose).
[ "$(telemetry hs_failures)" = 0 ] || fail "edgetls counted $(telemetry hs_failures) failed handshakes"
bench 1 "$D/ca2.pem" "$TMP/other.json" || true
read -r hs2 errs2 _ done2 _ < <(counts "$TMP/other.json")
[ "$hs2" = 0 ] && [ "$errs2" -gt 0 ] || fail "after the last commit the previous chain still verifies ($hs2 handshakes against CA 2)"
pass "after the last commit: $hs1 handshakes all with the last chain, 0 of $errs2 with the previous"

# The DPDK workers answer STATS like io_uring ones (`edgetlsctl --json stats`, /metrics). edgetls
# is idle now and saw only the three bench runs (this script makes no other TLS connection):
# it completed at least every handshake a client completed (close_notify said) and at most
# every one whose Finished a client sent (the bench's "handshakes"), all TLS 1.3 full
# handshakes with the bench's suite, x25519 and the ECDSA P-256 leaf; the detail adds up.
ctl --json stats >"$TMP/stats.json" || fail "edgetlsctl --json stats"
curl -sf "http://127.0.0.1:$MPORT/metrics" >"$TMP/metrics" || fail "GET /metrics"
read -r srv_hs srv_fail < <(python3 - "$TMP/stats.json" "$TMP/metrics" "$EPID" "$((done0 + done1 + done2))" \
    "$((hs + hs1 + hs2))" "$suite" "$(telemetry handshakes)" "$(telemetry hs_failures)" <<'PY'
import json, re, sys
stats, metrics, pid, lo, hi, suite, tel_hs, tel_fail = sys.argv[1:]
lo, hi, tel_hs, tel_fail = int(lo), int(hi), int(tel_hs), int(tel_fail)
def need(ok, what):
    if not ok:
        sys.exit("STATS: " + what)
dp = [p for p in json.load(open(stats))["dataplanes"] if p["pid"] == int(pid)]
need(len(dp) == 1 and dp[0]["answered"], "the DPDK dataplane %s did not answer: %s" % (pid, open(stats).read()[:600]))
ws = dp[0]["workers"]
need(list(ws) == ["0"], "want one DPDK worker (one lcore), got %s" % sorted(ws))
w = ws["0"]
hs, fail = w.get("handshakes", -1), w.get("hs_failures", -1)
need(lo <= hs <= hi, "handshakes %d, want %d..%d (bench: completed..handshakes)" % (hs, lo, hi))
need(hs == tel_hs and fail == tel_fail, "STATS %d/%d handshakes/failures, telemetry %d/%d" % (hs, fail, tel_hs, tel_fail))
def hsum(prefix):
    return sum(v for k, v in w.items() if k.startswith("hs:" + prefix))
need(hsum("ok:TLSv1.3:") == hs, "hs:ok:TLSv1.3:* = %d, handshakes %d" % (hsum("ok:TLSv1.3:"), hs))
full = "ok:TLSv1.3:%s:x25519:ecdsa_secp256r1_sha256:full" % suite
need(w.get("hs:" + full, 0) == hs, "hs:%s = %d, want %d" % (full, w.get("hs:" + full, 0), hs))
need(hsum("failed:") == fail, "hs:failed:* = %d, hs_failures %d" % (hsum("failed:"), fail))
need(w.get("hs_seconds_count") == hs and w.get("hs_seconds_bucket:+Inf") == hs,
     "latency histogram count %s, +Inf %s, want %d" % (w.get("hs_seconds_count"), w.get("hs_seconds_bucket:+Inf"), hs))
need(0 < w.get("hs_seconds_sum_ns", 0) < hs * 5 * 10**9, "latency sum %s ns" % w.get("hs_seconds_sum_ns"))
need(w.get("accepted", 0) >= hs + fail and w.get("active", -1) == 0, "accepted %s active %s" % (w.get("accepted"), w.get("active")))
need(w.get("batch_fill_count", 0) > 0 and w.get("batch_fill_sum", 0) >= w["batch_fill_count"], "no crypto batch fill")
# Every completed client said close_notify before its FIN.
need(w.get("alert_recv:close_notify", 0) >= lo, "close_notify received %s, want >= %d" % (w.get("alert_recv:close_notify"), lo))
# /metrics renders the same worker (pid and worker labels).
ok = 0
for line in open(metrics):
    m = re.match(r'^edgetls_handshakes_total\{(.*)\} (\S+)$', line.strip())
    if m:
        l = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if l.get("pid") == pid and l.get("worker") == "0" and l.get("outcome") == "ok":
            ok += float(m.group(2))
need(ok == hs, "/metrics edgetls_handshakes_total{pid=%s,outcome=ok} = %g, want %d" % (pid, ok, hs))
print(hs, fail)
PY
) || fail "the DPDK dataplane's STATS do not match the bench"
ctl stats | grep -qE '^  worker\.0\.hs:ok:TLSv1\.3:'"$suite"':x25519:ecdsa_secp256r1_sha256:full +'"$srv_hs"'$' ||
    fail "edgetlsctl stats: no DPDK worker line: $(ctl stats | head -20)"
pass "STATS/metrics from the DPDK worker: $srv_hs handshakes ($suite) for the bench's $((done0 + done1 + done2)) completed .. $((hs + hs1 + hs2)) sent; $srv_fail failed (bench errors: $errs2)"

ctl --json status | python3 -c '
import json, sys
p = json.load(sys.stdin)["propagation_ms"]
print("propagation commit -> last DPDK worker: %d samples, p50 %.1f ms, p99 %.1f ms" % (p["samples"], p["p50"], p["p99"]))
# The first sample is the commit made before edgetls started (its EAL start-up included); the
# others are the 51 commits under load (50 replaces and the rotation). A commit the next one
# overtook before the worker adopted it gives no sample (only the newest is timed), so under
# ASan or on a busy machine some are missing: half of them are enough to report.
k = min(51, p["samples"] - 1)
r = sorted(p["recent"][-k:]) if k > 0 else []
if r:
    print("  the %d commits under load timed: p50 %.1f ms, p99 %.1f ms, max %.1f ms"
          % (k, r[len(r) // 2], r[min(len(r) - 1, len(r) * 99 // 100)], r[-1]))
sys.exit(0 if k >= 25 else 1)' || fail "propagation not measured (fewer than 25 of the 51 commits timed)"

stop_edgetls 15
[ "$ESTATUS" = 0 ] || fail "edgetls (DPDK) exit status $ESTATUS after SIGTERM"
! grep -Eq "runtime error|Sanitizer" "$TMP/edgetls.log" || fail "sanitizer report"
pass "DPDK/memif: $n live replaces + a ticket rotation under load: 0 failed handshakes"
