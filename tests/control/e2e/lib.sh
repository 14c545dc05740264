# Helpers for the control-plane end-to-end tests (sourced): edgetls-control, edgetlsctl and
# edgetls on loopback and Unix sockets in the scratch directory. Builds on tests/e2e/lib.sh
# (process tracking, cleanup, ports, edgetls start/stop).
#   arguments: EDGETLS EDGETLS_CONTROL EDGETLSCTL TESTS_SOURCE_DIR [SANITIZED]
CONTROL_BIN=${2:?path to edgetls-control}
CTL_BIN=${3:?path to edgetlsctl}
CTEST_DIR=${4:?tests/control/e2e source dir}
# shellcheck source=../../e2e/lib.sh
source "$CTEST_DIR/../../e2e/lib.sh" "$1" "$CTEST_DIR/../../e2e" "${5:-0}"

STATE=$TMP/state
ADMIN=$TMP/admin.sock
DPSOCK=$TMP/dp.sock
CPID=

# A CA and leaves for www.example.test (two generations: old and new), their SHA-256
# fingerprints in FP_OLD / FP_NEW.
make_pki() {
    local d=$TMP/pki
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca.key" \
        -out "$d/ca.pem" -days 3 -subj "/CN=edgetls control test CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    local g
    for g in old new other; do
        local cn=www.example.test san="DNS:www.example.test,DNS:*.img.example.test"
        [ "$g" = other ] && { cn=api.example.test; san="DNS:api.example.test"; }
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/$g.key" \
            -out "$d/$g.csr" -subj "/CN=$cn" 2>/dev/null
        printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' \
            "$san" >"$d/$g.cnf"
        openssl x509 -req -in "$d/$g.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
            -out "$d/$g.pem" -days 2 -extfile "$d/$g.cnf" 2>/dev/null
        chmod 600 "$d/$g.key"
    done
    CA=$d/ca.pem
    FP_OLD=$(fingerprint "$d/old.pem")
    FP_NEW=$(fingerprint "$d/new.pem")
}

fingerprint() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f; }

start_control() {
    : >"$TMP/control.log"
    "$CONTROL_BIN" --state-dir "$STATE" --admin-socket "$ADMIN" --dataplane-socket "$DPSOCK" \
        --ca-file "$CA" "$@" 2>>"$TMP/control.log" &
    CPID=$!
    PIDS+=("$CPID")
    local i
    for i in $(seq 1 100); do
        [ -S "$ADMIN" ] && ctl status >/dev/null 2>&1 && return 0
        kill -0 "$CPID" 2>/dev/null || { cat "$TMP/control.log" >&2; fail "edgetls-control exited during start-up"; }
        sleep 0.1
    done
    fail "edgetls-control did not answer within 10 s"
}

ctl() { "$CTL_BIN" --socket "$ADMIN" "$@"; }

# start_edgetls_dpdk NS ARGS...: `edgetls --transport dpdk ARGS` in the background (inside network
# namespace NS, or here when NS is ""), its output in $TMP/edgetls.log, EPID its pid. Waits up to
# 15 s for "listening on"; exits 77 (skipped) when the EAL cannot start on this machine.
start_edgetls_dpdk() {
    local ns=$1 pre=()
    shift
    [ -n "$ns" ] && pre=(ip netns exec "$ns")
    : >"$TMP/edgetls.log"
    "${pre[@]}" "$EDGETLS" --transport dpdk "$@" >>"$TMP/edgetls.log" 2>&1 &
    EPID=$!
    PIDS+=("$EPID")
    local i
    for i in $(seq 150); do
        if ! kill -0 "$EPID" 2>/dev/null; then
            if grep -q "EAL cannot start" "$TMP/edgetls.log"; then
                echo "SKIP: DPDK cannot run: $(grep -m1 EAL "$TMP/edgetls.log")"
                exit 77
            fi
            fail "edgetls (DPDK) exited during start-up: $(tail -3 "$TMP/edgetls.log")"
        fi
        grep -q "listening on" "$TMP/edgetls.log" && return 0
        sleep 0.1
    done
    fail "the DPDK transport did not come up within 15 s"
}

# The SHA-256 fingerprint of the leaf edgetls serves on PORT for SNI $1.
served_fp() {
    echo | openssl s_client -connect "127.0.0.1:$PORT" -servername "$1" -tls1_3 2>/dev/null |
        openssl x509 -noout -fingerprint -sha256 2>/dev/null | sed 's/.*=//; s/://g' | tr A-F a-f
}

json_field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d'+sys.argv[1]))" "$1"; }

# Waits until `status --json` shows every dataplane at the current version (up to 10 s).
wait_synced() {
    local i
    for i in $(seq 1 100); do
        if ctl --json status | python3 -c '
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if d["dataplanes"] and all(p["version"] == d["version"] for p in d["dataplanes"]) else 1)'; then
            return 0
        fi
        sleep 0.1
    done
    fail "dataplanes not synced: $(ctl status 2>&1)"
}
