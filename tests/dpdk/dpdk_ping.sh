#!/bin/bash
# The DPDK transport answers ARP and ICMP echo on a net_tap device: the namespace's kernel
# resolves the DPDK side's MAC, pings of several sizes come back intact, and SIGTERM gives a
# clean exit with the packet counters printed; the counters are also read over DPDK telemetry.

. "$(dirname "$0")/lib.sh"

start_dpdk --listen "$DPDK_ADDR:8443" --plaintext --mode echo
in_ns python3 "$CLIENT_PY" ping "$DPDK_ADDR" 5 || fail "ping"
neigh=$(in_ns ip neigh show "$DPDK_ADDR" dev "$TAP")
echo "neighbour: $neigh"
case "$neigh" in
    *"lladdr $DPDK_MAC"*) ;;
    *) fail "ARP: the kernel did not resolve $DPDK_ADDR to $DPDK_MAC ($neigh)" ;;
esac
# A ping to an address nobody has gets no answer (the transport only answers for its own).
if in_ns timeout 10 python3 "$CLIENT_PY" ping 192.0.2.3 1 > /dev/null 2>&1; then
    fail "an echo request for 192.0.2.3 was answered"
fi
# Malformed frames from the namespace are dropped, each by the counter that names it, and
# the transport keeps answering.
reasons=$(in_ns python3 "$CLIENT_PY" inject "$TAP" "$DPDK_MAC" "$CLIENT_ADDR" "$DPDK_ADDR") || fail "inject"
sleep 0.3
in_ns python3 "$CLIENT_PY" ping "$DPDK_ADDR" 1 > /dev/null || fail "no ping reply after malformed frames"
drops=$(python3 "$CLIENT_PY" telemetry "$PREFIX" /edgetls/net,0) || fail "telemetry /edgetls/net"
for r in $reasons; do
    echo "$drops" | grep -q "\"$r\": [1-9]" || fail "malformed frame for $r not counted: $drops"
done
echo "malformed frames dropped and counted: $reasons"

# Counters over DPDK telemetry.
net=$(python3 "$CLIENT_PY" telemetry "$PREFIX" /edgetls/net,0) || fail "telemetry /edgetls/net"
echo "telemetry /edgetls/net,0: $net"
echo "$net" | grep -q '"rx_icmp_echo": 6,' || fail "telemetry: expected 6 echo requests answered"
echo "$net" | grep -q '"tx_arp_reply": [1-9]' || fail "telemetry: no ARP reply counted"
wk=$(python3 "$CLIENT_PY" telemetry "$PREFIX" /edgetls/workers) || fail "telemetry /edgetls/workers"
echo "telemetry /edgetls/workers: $wk"
echo "$wk" | grep -q '"rx_packets": \[[1-9]' || fail "telemetry: no packets counted"
echo "$wk" | grep -q '"idle_polls": \[[1-9]' || fail "telemetry: no idle polls counted"
stop_dpdk
grep -q "dpdk worker 0: rx [1-9]" "$WORK/dpdk.log" || fail "no packets counted"
# Bad transport options and a missing port are reported, not run with.
bad() {
    local want=$1
    shift
    ip netns exec "$NS" "$EDGETLS" --transport dpdk --listen "$DPDK_ADDR:8443" --plaintext -- -l 0 --no-huge \
        --no-pci -m 256 --file-prefix "${PREFIX}b" "$@" > "$WORK/bad.log" 2>&1
    local rc=$?
    grep -q "$want" "$WORK/bad.log" || { cat "$WORK/bad.log"; fail "expected '$want' (status $rc)"; }
    [ "$rc" != 0 ] || fail "status 0 with $*"
}
bad "dpdk option --addr 192.0.2.1/33" --vdev=net_null0 -- --addr 192.0.2.1/33
bad "dpdk option --gateway" --vdev=net_null0 -- --gateway nowhere
bad "dpdk option --bogus" --vdev=net_null0 -- --bogus 1
bad "port 0 does not exist"
rm -rf "/var/run/dpdk/${PREFIX}b"
echo "PASS: ARP and ICMP echo over net_tap"
