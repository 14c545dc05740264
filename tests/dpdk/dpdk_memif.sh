#!/bin/bash
# edgetls-bench and edgetls both kernel-bypass over net_memif (shared memory, a unix socket in a
# temporary directory; no network device, no namespace): the bench's DPDK mode (its own EAL and
# lcore, the project's TCP with active open) runs N TLS 1.3 handshakes with a request each.
# Checks: N handshakes and responses, zero errors, and edgetls' own counters agree (telemetry
# read by the bench, and the exit stats line). Then --resume (session tickets offered and
# accepted, with and without a request, and over TLS 1.2 with --tls12), `record --dpdk` (bulk download of /bytes/N bodies),
# connections to a port nobody listens on are all refused (RST answering the SYN), and edgetls
# saw no handshake for them; SIGUSR1 prints the counters while running.
# With the argument "faults": edgetls injects seeded loss, reordering, duplication and corruption
# (--fault, both directions) and fewer handshakes must still all complete, with every kind of
# fault injected and the corrupted frames dropped by checksum (the bench's TCP, active open
# included, recovers by retransmission).
set -u
MODE=${1:-plain}
: "${EDGETLS:?EDGETLS must point at the edgetls executable}"
: "${BENCH:?BENCH must point at the edgetls-bench executable}"
N=${MEMIF_HANDSHAKES:-300}
FAULT_OPTS=
BENCH_TIMEOUT=5
if [ "$MODE" = faults ]; then
    N=$((N / 3))
    FAULT_OPTS="--fault loss=0.02,reorder=0.02,dup=0.02,corrupt=0.02,seed=7"
    BENCH_TIMEOUT=15
fi

skip() { echo "SKIP: DPDK cannot start: $*"; exit 77; }
fail() {
    echo "FAIL: $*"
    for f in srv.log bench.err; do
        [ -f "$WORK/$f" ] && sed "s/^/  $f: /" "$WORK/$f" | tail -25
    done
    # A crash leaves a core in $WORK (edgetls runs there with cores enabled): its backtrace.
    for core in "$WORK"/core*; do
        [ -f "$core" ] && command -v gdb > /dev/null &&
            gdb -batch -ex "thread apply all bt 12" "$EDGETLS" "$core" 2>&1 | grep -E '^(#|Thread)' | head -60 | sed 's/^/  gdb: /'
    done
    exit 1
}
[ "$(id -u)" = 0 ] || skip "needs root (DPDK EAL)"

TAG="$$$RANDOM"
WORK=$(mktemp -d)
SOCK="$WORK/memif.sock"
SRV_PREFIX="etlsm$TAG"
CLI_PREFIX="etlsb$TAG"
SRV_PID=
cleanup() {
    [ -n "$SRV_PID" ] && kill "$SRV_PID" 2> /dev/null && wait "$SRV_PID" 2> /dev/null
    rm -rf "$WORK" "/var/run/dpdk/$SRV_PREFIX" "/var/run/dpdk/$CLI_PREFIX"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# One CPU each when there are two; on a single CPU both share it (the loops sleep when idle).
SRV_LCORE=0
CLI_LCORE=$(( $(nproc) > 1 ? 1 : 0 ))

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -subj "/CN=localhost" > /dev/null 2>&1 || fail "openssl req"

ulimit -c unlimited 2> /dev/null
(cd "$WORK" && exec "$EDGETLS" --listen 192.0.2.1:8443 --cert "$WORK/cert.pem" --key "$WORK/key.pem" \
    --mode responder --response-body "hello over memif" --transport dpdk -- \
    -l "$SRV_LCORE" --no-huge --no-pci -m 512 --file-prefix "$SRV_PREFIX" \
    --vdev="net_memif0,role=server,socket=$SOCK" --log-level=lib.eal:notice \
    -- --addr 192.0.2.1/24 --idle-sleep-us 100 $FAULT_OPTS > "$WORK/srv.log" 2>&1) &
SRV_PID=$!
for _ in $(seq 100); do
    if ! kill -0 "$SRV_PID" 2> /dev/null; then
        wait "$SRV_PID"; rc=$?; SRV_PID=
        grep -q "EAL cannot start" "$WORK/srv.log" && skip "$(grep -m1 EAL "$WORK/srv.log")"
        fail "edgetls exited with status $rc"
    fi
    grep -q "listening on" "$WORK/srv.log" && break
    sleep 0.1
done
grep -q "net_memif" "$WORK/srv.log" || fail "edgetls did not come up on net_memif"
TELEMETRY="/var/run/dpdk/$SRV_PREFIX/dpdk_telemetry.v2"

# bench_run PORT COUNT [hs options]: the DPDK-mode bench (with --request unless REQ is set
# empty); JSON lines in $WORK/bench.json.
bench_run() {
    timeout 50 "$BENCH" hs "192.0.2.1:$1" --dpdk --count "$2" --concurrency 8 ${REQ---request} \
        "${@:3}" --timeout "$BENCH_TIMEOUT" --json --quiet -- \
        -l "$CLI_LCORE" --no-huge --no-pci -m 256 --file-prefix "$CLI_PREFIX" \
        --vdev="net_memif0,role=client,socket=$SOCK" --log-level=lib.eal:notice \
        -- --addr 192.0.2.2/24 --server-telemetry "$TELEMETRY" > "$WORK/bench.json" 2> "$WORK/bench.err"
}

bench_run 8443 "$N"
rc=$?
grep -q "EAL cannot start" "$WORK/bench.err" && skip "$(grep -m1 EAL "$WORK/bench.err")"
[ "$rc" = 0 ] || fail "edgetls-bench hs --dpdk exited with status $rc"
cat "$WORK/bench.err" | grep -v '^\[' | sed 's/^/  /'
python3 - "$WORK/bench.json" "$N" << 'EOF' || fail "bench figures"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
n = int(sys.argv[2])
main = next(l for l in lines if l["tool"] == "edgetls-bench hs")
dp = next(l for l in lines if l["tool"] == "edgetls-bench hs --dpdk")
def need(cond, what):
    if not cond:
        print("bench:", what, json.dumps(main)[:600], json.dumps(dp))
        sys.exit(1)
need(main["handshakes"] == n, "handshakes != %d" % n)
need(main["completed"] == n, "responses != %d" % n)
need(main["errors"]["total"] == 0, "errors")
need(dp["server_telemetry"], "no server telemetry")
need(dp["server_handshakes"] == n, "edgetls counted %d handshakes" % dp["server_handshakes"])
need(dp["server_busy_cycles"] > 0 and 0 < dp["server_tcp_cycles"] < dp["server_busy_cycles"],
     "cycle counters")
print("memif: %d handshakes, %d responses, 0 errors; edgetls counted %d (%.0f cycles/handshake, tcp %.1f%%)"
      % (main["handshakes"], main["completed"], dp["server_handshakes"], dp["cycles_per_handshake"],
         dp["tcp_share_pct"]))
EOF

SRV_HS=$N
if [ "$MODE" = plain ]; then
# --resume over DPDK: the first connection(s) are full handshakes that keep a ticket, the rest
# offer it and edgetls resumes them; with a request each, and without (the first connection
# then waits for its NewSessionTicket before closing); and TLS 1.2 (--tls12: RFC 5077 tickets).
R=$((N / 3))
R12=0 # TLS 1.2 resumptions: abbreviated handshakes, no key exchange at all
for variant in --request "" "--request --tls12"; do
    req=${variant%% *}
    v12=
    [ "$variant" = "--request --tls12" ] && v12=--tls12
    REQ=$req bench_run 8443 "$R" --resume $v12
    rc=$?
    [ "$rc" = 0 ] || fail "edgetls-bench hs --dpdk --resume $variant exited with status $rc"
    python3 - "$WORK/bench.json" "$R" "$variant" "${v12:+TLSv1.2}" << 'EOF' || fail "resumption over DPDK ($variant)"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
n, req = int(sys.argv[2]), sys.argv[3]
version = sys.argv[4] or "TLSv1.3"
main = next(l for l in lines if l["tool"] == "edgetls-bench hs")
dp = next(l for l in lines if l["tool"] == "edgetls-bench hs --dpdk")
ok = main["handshakes"] == n and main["completed"] == n and main["errors"]["total"] == 0
ok = ok and main.get("resume") is True and 0 < main["resumed"] < n and main["version"] == version
ok = ok and dp["server_handshakes"] == n
if not ok:
    print("resume run:", json.dumps(main)[:800], json.dumps(dp)[:300])
    sys.exit(1)
print("memif --resume %s: %s, %d handshakes, %d resumed, 0 errors; edgetls counted %d"
      % (req or "(no request)", version, main["handshakes"], main["resumed"], dp["server_handshakes"]))
EOF
    SRV_HS=$((SRV_HS + R))
    if [ -n "$v12" ]; then
        R12=$(python3 -c 'import json,sys; print(next(j for j in map(json.loads, filter(str.strip, open(sys.argv[1]))) if j["tool"] == "edgetls-bench hs")["resumed"])' "$WORK/bench.json")
    fi
done

# record --dpdk: bulk download over the same link (GET /bytes/N repeated on 2 connections,
# bodies tracked to their Content-Length); bytes received, zero errors, and edgetls' telemetry
# saw the bytes it sent.
timeout 50 "$BENCH" record 192.0.2.1:8443 --dpdk --mode download --path /bytes/1000000 \
    --connections 2 --duration 0.5 --json -- \
    -l "$CLI_LCORE" --no-huge --no-pci -m 256 --file-prefix "$CLI_PREFIX" \
    --vdev="net_memif0,role=client,socket=$SOCK" --log-level=lib.eal:notice \
    -- --addr 192.0.2.2/24 --server-telemetry "$TELEMETRY" > "$WORK/bench.json" 2> "$WORK/bench.err"
rc=$?
[ "$rc" = 0 ] || fail "edgetls-bench record --dpdk exited with status $rc"
python3 - "$WORK/bench.json" << 'EOF' || fail "record --dpdk figures"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
main = next(l for l in lines if l["tool"] == "edgetls-bench record")
dp = next(l for l in lines if l["tool"] == "edgetls-bench record --dpdk")
ok = main["mode"] == "download" and main["errors"] == 0 and main["bytes_received"] > 0
ok = ok and dp["server_telemetry"] and dp["server_bytes"] > 0 and dp["server_busy_cycles"] > 0
if not ok:
    print("record run:", json.dumps(main), json.dumps(dp))
    sys.exit(1)
print("memif record --dpdk: %d bytes downloaded, 0 errors (%.3f GB/s); edgetls %.3g cycles/GB"
      % (main["bytes_received"], main["gbps_down"], dp["cycles_per_gb"]))
EOF
SRV_HS=$((SRV_HS + 2))

# Nobody listens on 9443: every connection is refused by a RST in SYN-SENT.
bench_run 9443 20
python3 - "$WORK/bench.json" << 'EOF' || fail "refused connections"
import json, sys
main = next(json.loads(l) for l in open(sys.argv[1]) if '"edgetls-bench hs"' in l)
errs = main["errors"]
ok = main["handshakes"] == 0 and main["started"] == 20
ok = ok and errs["total"] == 20 and errs.get("refused", 0) == 20
if not ok:
    print("refused run:", json.dumps(main)[:800])
    sys.exit(1)
print("memif: 20 connections to a closed port, 20 refused")
EOF
grep -q "refused 20" "$WORK/bench.err" || fail "the text summary does not show 20 refused"

# SIGUSR1: the counters (cycle accounting included) are printed while edgetls keeps running.
kill -USR1 "$SRV_PID"
for _ in $(seq 50); do grep -q "busy_cycles" "$WORK/srv.log" && break; sleep 0.1; done
grep -q "dpdk worker 0: .*busy_cycles [1-9]" "$WORK/srv.log" || fail "no counters on SIGUSR1"
kill -0 "$SRV_PID" || fail "edgetls died on SIGUSR1"
fi

kill "$SRV_PID"
wait "$SRV_PID"
rc=$?
SRV_PID=
grep "dpdk worker" "$WORK/srv.log" | sed 's/^/  /'
[ "$rc" = 0 ] || fail "edgetls exited with status $rc after SIGTERM"
grep "dpdk worker 0: rx" "$WORK/srv.log" | tail -1 | grep -q "handshakes $SRV_HS hs_failures 0 " ||
    fail "edgetls' exit counters disagree (expected $SRV_HS handshakes, no failures)"
# Every handshake (full or resumed, both with X25519) queued exactly a key generation and a
# shared secret in the crypto batch, except the TLS 1.2 resumptions (no ECDHE).
grep "dpdk worker 0: crypto" "$WORK/srv.log" | tail -1 | grep -q " x25519_ops $((2 * (SRV_HS - ${R12:-0}))) " ||
    fail "crypto batch counters: expected x25519_ops $((2 * (SRV_HS - ${R12:-0})))"
! grep -Eq "runtime error|Sanitizer" "$WORK/srv.log" "$WORK/bench.err" || fail "sanitizer report"
if [ "$MODE" = faults ]; then
    line=$(grep "dpdk worker 0: faults" "$WORK/srv.log") || fail "no fault counters"
    for f in loss reorder dup corrupt drop_tcp_csum; do
        echo "$line" | grep -Eq " $f [1-9]" || fail "no $f counted: $line"
    done
    echo "PASS: $N handshakes over net_memif with injected faults ($line)"
    exit 0
fi
echo "PASS: $N TLS 1.3 handshakes edgetls-bench --dpdk -> edgetls over net_memif, counters agree; refused connections reported"
