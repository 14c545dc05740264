#!/bin/bash
# TLS 1.3 over the DPDK transport on net_af_packet: a veth pair between two network namespaces
# the test creates (edgetls' end in one, with no kernel address on it, so the kernel never
# answers for 192.0.2.1; curl and openssl s_client in the other). Checks: curl gets the body
# three times, s_client completes TLS 1.3 with a verified certificate, a 1 MiB TLS echo is
# byte-exact, and edgetls counts exactly those handshakes. Removes both namespaces on exit.
set -u
: "${EDGETLS:?EDGETLS must point at the edgetls executable}"
: "${ETLS_SRC:?ETLS_SRC must point at the source tree}"
CLIENT_PY="$ETLS_SRC/tests/dpdk/dpdk_client.py"

skip() { echo "SKIP: DPDK cannot start: $*"; exit 77; }
fail() { echo "FAIL: $*"; [ -f "${WORK:-/nonexistent}/dpdk.log" ] && sed 's/^/  dpdk: /' "$WORK/dpdk.log" | tail -30; exit 1; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, AF_PACKET)"
command -v ip > /dev/null || skip "no ip(8)"

TAG="$$$RANDOM"
NS_S="etls-afs$TAG"
NS_C="etls-afc$TAG"
VS="eafs${TAG:0:10}"
VC="eafc${TAG:0:10}"
PREFIX="etlsaf$TAG"
WORK=$(mktemp -d)
DPDK_PID=
cleanup() {
    [ -n "$DPDK_PID" ] && kill "$DPDK_PID" 2> /dev/null && wait "$DPDK_PID" 2> /dev/null
    ip netns del "$NS_S" 2> /dev/null
    ip netns del "$NS_C" 2> /dev/null
    rm -rf "$WORK" "/var/run/dpdk/$PREFIX"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ip netns add "$NS_S" || skip "cannot create a network namespace"
ip netns add "$NS_C" || skip "cannot create a network namespace"
ip -n "$NS_S" link add "$VS" type veth peer name "$VC" netns "$NS_C" || skip "cannot create a veth pair"
ip -n "$NS_S" link set "$VS" up
ip -n "$NS_C" link set lo up
ip -n "$NS_C" addr add 192.0.2.2/24 dev "$VC"
ip -n "$NS_C" link set "$VC" up
# The client's kernel would hand af_packet frames whose TCP checksum is left for the NIC to fill
# (veth TX checksum offload): turn that offload off on the client's end (ETHTOOL_STXCSUM).
ip netns exec "$NS_C" python3 - "$VC" << 'EOF' || fail "cannot turn off TX checksum offload on $VC"
import ctypes, fcntl, socket, struct, sys
val = ctypes.create_string_buffer(struct.pack("II", 0x17, 0))  # ETHTOOL_STXCSUM, off
ifr = struct.pack("16sP", sys.argv[1].encode(), ctypes.addressof(val)).ljust(40, b"\0")
fcntl.ioctl(socket.socket(socket.AF_INET, socket.SOCK_DGRAM), 0x8946, ifr)  # SIOCETHTOOL
EOF

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:192.0.2.1" > /dev/null 2>&1 || fail "openssl req"

# start MODE [flags]: edgetls in NS_S on net_af_packet over $VS.
start() {
    ip netns exec "$NS_S" "$EDGETLS" --listen 192.0.2.1:8443 --cert "$WORK/cert.pem" --key "$WORK/key.pem" \
        "$@" --transport dpdk -- -l 0 --no-huge --no-pci -m 512 --file-prefix "$PREFIX" \
        --vdev="net_af_packet0,iface=$VS" --log-level=lib.eal:notice \
        -- --addr 192.0.2.1/24 --idle-sleep-us 200 > "$WORK/dpdk.log" 2>&1 &
    DPDK_PID=$!
    for _ in $(seq 100); do
        if ! kill -0 "$DPDK_PID" 2> /dev/null; then
            wait "$DPDK_PID"; rc=$?; DPDK_PID=
            grep -q "EAL cannot start" "$WORK/dpdk.log" && skip "$(grep -m1 EAL "$WORK/dpdk.log")"
            fail "edgetls exited with status $rc"
        fi
        grep -q "listening on" "$WORK/dpdk.log" && break
        sleep 0.1
    done
    grep -q "net_af_packet" "$WORK/dpdk.log" || fail "edgetls did not come up on net_af_packet"
}
stop() {
    kill "$DPDK_PID"; wait "$DPDK_PID"; local rc=$?; DPDK_PID=
    grep "dpdk worker" "$WORK/dpdk.log" | sed 's/^/  /'
    [ "$rc" = 0 ] || fail "edgetls exited with status $rc after SIGTERM"
}

start --mode responder --response-body "hello over af_packet"
for i in 1 2 3; do
    body=$(ip netns exec "$NS_C" timeout 15 curl -sS --tlsv1.3 --cacert "$WORK/cert.pem" \
        "https://192.0.2.1:8443/") || fail "curl $i"
    [ "$body" = "hello over af_packet" ] || fail "curl $i: body '$body'"
done
out=$(echo | ip netns exec "$NS_C" timeout 15 openssl s_client -connect 192.0.2.1:8443 -tls1_3 \
    -CAfile "$WORK/cert.pem" -verify_return_error 2>&1)
echo "$out" | grep -q "New, TLSv1.3, Cipher is" || { echo "$out" | tail -20; fail "s_client: no TLS 1.3"; }
echo "$out" | grep -q "Verify return code: 0 (ok)" || fail "s_client: verification"
stop
grep -q "handshakes 4 hs_failures 0 " "$WORK/dpdk.log" || fail "expected 4 handshakes, no failures"

start --mode echo
ip netns exec "$NS_C" timeout 40 python3 "$CLIENT_PY" tls-echo 192.0.2.1 8443 1048576 || fail "TLS echo of 1 MiB"
stop
echo "PASS: curl and openssl s_client (TLS 1.3) and a 1 MiB TLS echo through net_af_packet"
