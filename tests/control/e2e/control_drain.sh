#!/usr/bin/env bash
# edgetlsctl drain [--timeout S] and edgetlsctl log-level reaching a dataplane's workers, on one
# transport (the last argument: io_uring on loopback, or dpdk on a net_tap device whose kernel
# side is in a network namespace this test creates and removes; the clients run there).
#   - log-level: the workers' per-connection debug lines (a refused ClientHello) appear after
#     'log-level debug' and stop after 'log-level warn';
#   - drain with no open connection and no --timeout: the documented default (5 s) replaces
#     shutdown_timeout (60 s here) and the process exits promptly, status 0;
#   - drain --timeout 2 with a busy TLS connection held open (a huge response read slowly):
#     new connections are refused at once, the process exits 0 after ~2 s (not 60), and the held
#     connection was closed by it (EOF or reset seen by the client, not its own timeout).
# arguments: as lib.sh, then the edgetls-bench binary (unused), then io_uring|dpdk
source "$(dirname "$0")/lib.sh" "$@"
TRANSPORT=${7:?io_uring or dpdk}
skip() { echo "SKIP: DPDK cannot run: $*"; exit 77; }

NS=
if [ "$TRANSPORT" = dpdk ]; then
    [ "$(id -u)" = 0 ] || skip "needs root (DPDK EAL, network namespaces)"
    [ -c /dev/net/tun ] || skip "no /dev/net/tun"
    command -v ip >/dev/null || skip "no ip(8)"
    [ "${ETLS_HAVE_DPDK:-0}" = 1 ] || skip "this build has no DPDK transport (meson sets ETLS_HAVE_DPDK)"
    TAG="$$$RANDOM"
    NS="etls-dr$TAG"
    TAP="etdr${TAG:0:10}"
    PREFIX="etlsdr$TAG"
    ip netns add "$NS" || skip "cannot create a network namespace"
    trap 'cleanup; ip netns del "$NS" 2>/dev/null; rm -rf "/var/run/dpdk/$PREFIX"' EXIT
    ip netns exec "$NS" ip link set lo up
    HOST=192.0.2.1
    PORT=8443
else
    HOST=127.0.0.1
    PORT=$(free_port)
fi

# in_client CMD...: a client command where the dataplane's clients live.
in_client() { if [ -n "$NS" ]; then ip netns exec "$NS" "$@"; else "$@"; fi; }

start_dp() {
    if [ "$TRANSPORT" = io_uring ]; then
        start_edgetls --control "$DPSOCK" --state-dir "$STATE" --listen "$HOST:$PORT" --workers 1 \
            --mode responder --shutdown-timeout 60s
    else
        start_edgetls_dpdk "$NS" --control "$DPSOCK" --state-dir "$STATE" \
            --listen "$HOST:$PORT" --mode responder --shutdown-timeout 60s -- -l 0 --no-huge --no-pci -m 512 \
            --file-prefix "$PREFIX" --vdev="net_tap0,iface=$TAP" --log-level=lib.eal:notice \
            -- --addr "$HOST/24" --idle-sleep-us 200
        for _ in $(seq 50); do
            ip netns exec "$NS" ip link show "$TAP" >/dev/null 2>&1 && break
            sleep 0.1
        done
        ip netns exec "$NS" ip addr add 192.0.2.2/24 dev "$TAP"
        ip netns exec "$NS" ip link set "$TAP" up
    fi
    wait_synced
}

# Waits up to $1 s for the dataplane to exit; DP_RC its status (124: still running), DP_MS the
# time since T0 (ns).
wait_exit() {
    local i
    DP_RC=124
    for i in $(seq $(($1 * 20))); do
        if ! kill -0 "$EPID" 2>/dev/null; then
            DP_RC=0
            wait "$EPID" || DP_RC=$?
            break
        fi
        sleep 0.05
    done
    DP_MS=$((($(date +%s%N) - T0) / 1000000))
}

tls_ok() { echo | in_client timeout 5 openssl s_client -connect "$HOST:$PORT" -servername www.example.test -tls1_3 2>/dev/null | grep -q "BEGIN CERTIFICATE"; }

# A ClientHello the engine refuses (decode error): one per-connection debug line at debug.
garbage() {
    in_client python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b"\x16\x03\x01\x00\x05hello")
try:
    s.recv(100)
except OSError:
    pass' "$HOST" "$PORT" 2>/dev/null || true
}
debug_lines() { grep -c "alert sent" "$TMP/edgetls.log" || true; }

make_pki
start_control
ctl cert add www --chain "$TMP/pki/old.pem" --key "$TMP/pki/old.key" >/dev/null || fail "cert add"
start_dp
tls_ok || fail "no TLS handshake with the $TRANSPORT dataplane"

# --- log-level reaches the workers
garbage
sleep 0.2
[ "$(debug_lines)" = 0 ] || fail "debug lines at the default log level"
ctl log-level debug >/dev/null || fail "log-level debug"
sleep 0.3
garbage
for _ in $(seq 20); do [ "$(debug_lines)" -gt 0 ] && break; sleep 0.1; done
n1=$(debug_lines)
[ "$n1" -gt 0 ] || fail "log-level debug did not reach the workers"
ctl log-level warn >/dev/null || fail "log-level warn"
sleep 0.3
garbage
garbage
sleep 0.3
[ "$(debug_lines)" = "$n1" ] || fail "log-level warn did not stop the workers' debug lines ($n1 -> $(debug_lines))"
pass "$TRANSPORT: log-level: the workers' debug lines after 'debug' ($n1), none after 'warn'"

# --- drain, no open connection, no --timeout: the default, and a prompt exit
T0=$(date +%s%N)
ctl drain >/dev/null || fail "drain"
wait_exit 10
[ "$DP_RC" = 0 ] || fail "drained dataplane exit status $DP_RC (124: still running after 10 s)"
[ "$DP_MS" -lt 3000 ] || fail "drain with no open connection took $DP_MS ms"
grep -q "up to 5000 ms for open connections" "$TMP/edgetls.log" ||
    fail "the default drain timeout (5 s) was not applied: $(tail -3 "$TMP/edgetls.log")"
pass "$TRANSPORT: drain with no open connection: exit 0 after $DP_MS ms"

# --- drain --timeout 2 with a busy connection held open
start_dp
in_client python3 - "$HOST" "$PORT" "$TMP/held" >"$TMP/holder.out" 2>&1 <<'PY' &
import os, socket, ssl, sys, time
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
raw = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s = ctx.wrap_socket(raw, server_hostname="www.example.test")
# a response far larger than the socket buffers, read slowly (16 KiB per 50 ms): the connection
# stays busy (a small SO_RCVBUF would make reading the queued rest after the close take minutes)
s.sendall(b"GET /bytes/1000000000 HTTP/1.1\r\nHost: www.example.test\r\n\r\n")
s.recv(1)
open(sys.argv[3], "w").write("open\n")
s.settimeout(20)
# Slowly until the test says the dataplane is gone, then fast: a graceful close leaves what the
# kernel already queued to be read before the EOF.
got, how = 1, "timeout"
try:
    while True:
        d = s.recv(16384)
        if not d:
            how = "EOF"
            break
        got += len(d)
        if not os.path.exists(sys.argv[3] + ".gone"):
            time.sleep(0.05)
except socket.timeout:
    pass
except (OSError, ssl.SSLError) as e:
    how = type(e).__name__
print("ended %s %d %d" % (how, time.time_ns(), got), flush=True)
PY
holder=$!
PIDS+=("$holder")
for _ in $(seq 100); do [ -s "$TMP/held" ] && break; sleep 0.1; done
[ -s "$TMP/held" ] || fail "could not open the connection to hold: $(cat "$TMP/holder.out")"
T0=$(date +%s%N)
ctl drain --timeout 2 >/dev/null || fail "drain --timeout 2"
sleep 0.3
tls_ok && fail "a new connection was served during the drain"
r=$(($(date +%s%N) - T0))
kill -0 "$EPID" 2>/dev/null || fail "the dataplane exited before the open connection's timeout"
wait_exit 10
[ "$DP_RC" = 0 ] || fail "drained dataplane exit status $DP_RC (124: still running after 10 s)"
[ "$DP_MS" -ge 1800 ] && [ "$DP_MS" -lt 5000 ] || fail "drain --timeout 2 took $DP_MS ms (~2 s expected, not 60)"
: >"$TMP/held.gone"
for _ in $(seq 100); do grep -q "^ended" "$TMP/holder.out" && break; sleep 0.1; done
read -r _ how t_end got < <(grep "^ended" "$TMP/holder.out") || fail "the held connection was not closed: $(cat "$TMP/holder.out")"
[ "$how" != timeout ] || fail "the held connection was not closed (the client timed out)"
end_ms=$(((t_end - T0) / 1000000))
[ "$end_ms" -ge 1800 ] && [ "$end_ms" -lt 15000 ] || fail "the held connection ended $end_ms ms after the drain"
[ "$got" -lt 1000000000 ] || fail "the held response completed ($got bytes): it was not cut by the drain"
grep -q "up to 2000 ms for open connections" "$TMP/edgetls.log" ||
    fail "drain timeout not applied: $(tail -3 "$TMP/edgetls.log")"
pass "$TRANSPORT: drain --timeout 2: a new connection refused after $((r / 1000000)) ms, the held one closed ($how after $got bytes, seen at $end_ms ms), exit 0 after $DP_MS ms"
! grep -Eq "runtime error|Sanitizer" "$TMP/edgetls.log" || fail "sanitizer report"
