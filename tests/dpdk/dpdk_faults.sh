#!/bin/bash
# TLS transfers survive seeded fault injection on the DPDK data path (--fault, dpdk.h): for
# each setting a TLS 1.3 echo of DPDK_FAULT_MIB MiB (default 4; meson passes 1 under
# sanitizers) must come back byte-exact, every enabled fault must have been injected, corrupted
# frames must be dropped by checksums (ours: drop_tcp_csum; the namespace kernel's:
# InCsumErrors), telemetry must show the counters, and SIGTERM must give a clean exit (no
# sanitizer report). Software checksums (--no-offload), then once with the port's offloads
# (corruption must still be caught). Then malformed --fault options: a clear error, status 2.
. "$(dirname "$0")/lib.sh"

SIZE=$((${DPDK_FAULT_MIB:-4} * 1048576))
SEED=7
make_cert

# The namespace kernel's TCP checksum-error counter (it receives our TX-corrupted frames).
kernel_csum_errors() {
    in_ns awk '/^Tcp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "InCsumErrors") c = i; h = 1 }
                         else print $c }' /proc/net/snmp
}

# run NAME SPEC: one transfer under --fault SPEC; checks the counters of the faults in SPEC.
run() {
    local name=$1 spec=$2 k0 k1 line t0 tel
    k0=$(kernel_csum_errors)
    DPDK_OPTS="${OFFLOAD---no-offload} --fault $spec,seed=$SEED" start_dpdk --listen "$DPDK_ADDR:8443" \
        --cert "$WORK/cert.pem" --key "$WORK/key.pem" --mode echo --max-connections 64
    t0=$(date +%s.%N)
    in_ns timeout 40 python3 "$CLIENT_PY" tls-echo "$DPDK_ADDR" 8443 "$SIZE" || fail "$name: TLS echo"
    tel=$(python3 "$CLIENT_PY" telemetry "$PREFIX" /edgetls/worker,0) || fail "$name: telemetry"
    stop_dpdk > /dev/null
    ! grep -Eq "runtime error|Sanitizer" "$WORK/dpdk.log" || fail "$name: sanitizer report"
    k1=$(kernel_csum_errors)
    line=$(grep "dpdk worker 0: faults" "$WORK/dpdk.log") || fail "$name: no fault counters printed"
    printf '%-8s %5.1f s  %s  kernel_csum_errors %d\n' "$name" \
        "$(echo "$(date +%s.%N) - $t0" | bc)" "${line#*faults }" $((k1 - k0))
    grep -q "errors 0" "$WORK/dpdk.log" || fail "$name: errors counted"
    grep -q "hs_failures 0 " "$WORK/dpdk.log" || fail "$name: handshake failures"
    for f in loss reorder dup corrupt; do
        case ",$spec," in
            *",$f="*)
                echo "$line" | grep -q " $f [1-9]" || fail "$name: no $f fault injected"
                echo "$tel" | grep -q "\"fault_$f\": [1-9]" || fail "$name: fault_$f not in telemetry: $tel" ;;
            *) echo "$line" | grep -q " $f 0 " || fail "$name: $f injected though not enabled" ;;
        esac
    done
    case "$spec" in
        *corrupt=*)
            echo "$line" | grep -q "drop_tcp_csum [1-9]" || fail "$name: no corrupted frame dropped by our checksum"
            case "$spec" in *dir=rx*) ;; *) [ $((k1 - k0)) -gt 0 ] || fail "$name: the kernel saw no corrupted segment" ;; esac ;;
        *)
            echo "$line" | grep -q "drop_tcp_csum 0 " || fail "$name: checksum drops without corruption" ;;
    esac
}

run loss "loss=0.01"
run reorder "reorder=0.02"
run dup "dup=0.02"
run corrupt "corrupt=0.01"
run all "loss=0.01,reorder=0.01,dup=0.01,corrupt=0.01"
# One direction only: nothing sent by us is touched, so the kernel sees no bad checksum.
k0=$(kernel_csum_errors)
run rx-only "corrupt=0.02,dir=rx"
[ "$(kernel_csum_errors)" = "$k0" ] || fail "dir=rx corrupted transmitted frames"
# With the offloads the port has: corrupted received frames must lose the NIC's checksum
# verdict (and TX corruption must turn TX checksum offload off) to be caught.
OFFLOAD= run offload "corrupt=0.02"
grep -q "checksum offload" "$WORK/dpdk.log" && fail "TX checksum offload left on with TX corruption"

# Malformed --fault options: EAL starts (a null device), then the option is refused.
bad() {
    ip netns exec "$NS" timeout 10 "$EDGETLS" --transport dpdk --listen "$DPDK_ADDR:8443" --plaintext -- -l 0 \
        --no-huge --no-pci -m 256 --file-prefix "${PREFIX}b" --vdev=net_null0 -- --fault "$1" \
        > "$WORK/bad.log" 2>&1
    local rc=$?
    grep -q "dpdk option --fault" "$WORK/bad.log" || { cat "$WORK/bad.log"; fail "--fault '$1': no clear error"; }
    [ "$rc" = 2 ] || fail "--fault '$1': status $rc, want 2"
}
for spec in "" "loss" "loss=" "loss=2" "loss=-0.1" "loss=nan" "loss=0.1x" "dup=0.1,bogus=1" \
    "corrupt=0.1,dir=up" "loss=0.1,seed=-1" "loss=0.1,seed=" "loss=0.1,seed=99999999999999999999" \
    "seed=5" "loss=0,dup=0" ",,"; do
    bad "$spec"
done
bad "loss=2"
grep -q "bad item 'loss=2'" "$WORK/bad.log" || fail "the error does not name the bad item"
rm -rf "/var/run/dpdk/${PREFIX}b"
echo "PASS: TLS echo byte-exact under loss, reorder, dup and corruption ($((SIZE >> 20)) MiB each)"
