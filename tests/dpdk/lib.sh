# Shared set-up for the DPDK transport tests (sourced). Creates a private network namespace,
# starts the DPDK transport inside it on a net_tap device (so the tap's kernel side, every
# client and every backend live in that namespace), and removes it all on any exit.
# Addresses: 192.0.2.0/24 (TEST-NET-1) on the tap only; nothing is routed anywhere.
set -u

DPDK_ADDR=192.0.2.1
CLIENT_ADDR=192.0.2.2
: "${EDGETLS:?EDGETLS must point at the edgetls executable}"
: "${ETLS_SRC:?ETLS_SRC must point at the source tree}"
CLIENT_PY="$ETLS_SRC/tests/dpdk/dpdk_client.py"

skip() { echo "SKIP: DPDK cannot start: $*"; exit 77; }
fail() { echo "FAIL: $*"; [ -f "${WORK:-/nonexistent}/dpdk.log" ] && sed 's/^/  dpdk: /' "$WORK/dpdk.log" | tail -40; exit 1; }

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, tap devices)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
command -v ip > /dev/null || skip "no ip(8)"

TAG="$$$RANDOM"
NS="etls-dp$TAG"
TAP="etap${TAG:0:10}"
PREFIX="etls$TAG"
WORK=$(mktemp -d)
DPDK_PID=
BG_PIDS=

cleanup() {
    [ -n "$DPDK_PID" ] && kill "$DPDK_PID" 2> /dev/null && wait "$DPDK_PID" 2> /dev/null
    for p in $BG_PIDS; do kill "$p" 2> /dev/null; wait "$p" 2> /dev/null; done
    ip netns del "$NS" 2> /dev/null
    rm -rf "$WORK" "/var/run/dpdk/$PREFIX"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

in_ns() { ip netns exec "$NS" "$@"; }

ip netns add "$NS" || skip "cannot create a network namespace"
in_ns ip link set lo up

# start_dpdk [edgetls flags...]: runs the driver in the namespace with one lcore and waits for
# the tap to appear; configures the kernel side of the tap. DPDK_OPTS: more transport options
# (split on spaces).
start_dpdk() {
    : > "$WORK/dpdk.log" # emptied before the start, so a restart cannot see the old "listening on"
    ip netns exec "$NS" "$EDGETLS" --transport dpdk "$@" -- -l "${DPDK_LCORES:-0}" --no-huge --no-pci -m 512 --file-prefix "$PREFIX" \
        --vdev="net_tap0,iface=$TAP${DPDK_TAP_ARGS:-}" --log-level=lib.eal:notice \
        -- --addr "$DPDK_ADDR/24" --idle-sleep-us "${DPDK_IDLE_SLEEP_US:-200}" ${DPDK_OPTS:-} >> "$WORK/dpdk.log" 2>&1 &
    DPDK_PID=$!
    for _ in $(seq 100); do
        if ! kill -0 "$DPDK_PID" 2> /dev/null; then
            wait "$DPDK_PID"
            rc=$?
            DPDK_PID=
            if grep -q "EAL cannot start" "$WORK/dpdk.log"; then
                skip "$(grep -m1 'EAL' "$WORK/dpdk.log")"
            fi
            fail "the DPDK process exited with status $rc"
        fi
        grep -q "listening on" "$WORK/dpdk.log" && in_ns ip link show "$TAP" > /dev/null 2>&1 && break
        sleep 0.1
    done
    grep -q "listening on" "$WORK/dpdk.log" || fail "the DPDK transport did not come up"
    in_ns ip addr add "$CLIENT_ADDR/24" dev "$TAP"
    in_ns ip link set "$TAP" up
    DPDK_MAC=$(sed -n 's/.* MAC \([0-9a-f:]*\),.*/\1/p' "$WORK/dpdk.log" | head -1)
}

# A throw-away self-signed ECDSA P-256 certificate for "localhost" and 192.0.2.1 in $WORK.
make_cert() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
        -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -subj "/CN=localhost" \
        -addext "subjectAltName=DNS:localhost,IP:$DPDK_ADDR" > /dev/null 2>&1 || fail "openssl req"
}

# stop_dpdk: SIGTERM, expect a clean exit; prints the final counters.
stop_dpdk() {
    kill "$DPDK_PID"
    wait "$DPDK_PID"
    local rc=$?
    DPDK_PID=
    grep "dpdk worker" "$WORK/dpdk.log"
    [ "$rc" = 0 ] || fail "the DPDK process exited with status $rc after SIGTERM"
}
