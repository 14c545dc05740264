# Shared helpers for the end-to-end tests (sourced). Loopback only. Every process a test
# starts is recorded and killed on exit, pass or fail, and the scratch directory removed.
#   usage in a test: source "$(dirname "$0")/lib.sh" "$@"
#   arguments: EDGETLS_BINARY E2E_SOURCE_DIR [SANITIZED(0|1)]
set -euo pipefail
KEEP=${KEEP_E2E:-0}

EDGETLS=${1:?path to edgetls}
E2E_DIR=${2:?tests/e2e source dir}
SANITIZED=${3:-0}
TMP=$(mktemp -d /tmp/etls-e2e-XXXXXX)
PIDS=()
EPID=

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    [ "$KEEP" = 1 ] || rm -rf "$TMP"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    if [ -f "$TMP/edgetls.log" ]; then
        echo "--- edgetls log (last 30 lines)" >&2
        tail -30 "$TMP/edgetls.log" >&2
    fi
    exit 1
}

pass() { echo "ok: $*"; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# A throw-away ECDSA P-256 CA and a leaf for localhost / 127.0.0.1 in $TMP/certs.
make_certs() {
    local d=$TMP/certs
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca.key" \
        -out "$d/ca.pem" -days 2 -subj "/CN=edgetls e2e CA" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/leaf.key" \
        -out "$d/leaf.csr" -subj "/CN=localhost" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' >"$d/ext.cnf"
    openssl x509 -req -in "$d/leaf.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
        -out "$d/leaf.pem" -days 2 -extfile "$d/ext.cnf" 2>/dev/null
    CA=$d/ca.pem
    CERT=$d/leaf.pem
    KEY=$d/leaf.key
}

# Starts edgetls with the given arguments and waits (up to 15 s) for its "listening on" line.
# ETLS_E2E_ARGS adds flags to every start (meson registers some scripts a second time with
# --crypto-batch 1 so the worker is tested unbatched as well as batched).
start_edgetls() {
    # Empty the log first, here: the background job's own redirection may truncate it only after
    # the wait below has already seen a previous instance's "listening on" line (a restart).
    : >"$TMP/edgetls.log"
    # shellcheck disable=SC2086
    "$EDGETLS" "$@" ${ETLS_E2E_ARGS:-} 2>>"$TMP/edgetls.log" &
    EPID=$!
    PIDS+=("$EPID")
    local i
    for i in $(seq 1 150); do
        grep -q "listening on" "$TMP/edgetls.log" 2>/dev/null && return 0
        kill -0 "$EPID" 2>/dev/null || fail "edgetls exited during start-up"
        sleep 0.1
    done
    fail "edgetls did not start within 15 s"
}

# SIGTERM, then wait up to $1 seconds; sets ESTATUS to the exit status (124 when it hung).
stop_edgetls() {
    local limit=${1:-10} i
    kill -TERM "$EPID"
    for i in $(seq 1 $((limit * 10))); do
        if ! kill -0 "$EPID" 2>/dev/null; then
            ESTATUS=0
            wait "$EPID" || ESTATUS=$?
            return 0
        fi
        sleep 0.1
    done
    ESTATUS=124
}

# Background helper process whose pid is tracked for cleanup; stdout to $TMP/$1.out.
start_bg() {
    local name=$1
    shift
    "$@" >"$TMP/$name.out" 2>&1 &
    PIDS+=("$!")
    BGPID=$!
}

# Waits (up to 15 s) until the file $TMP/$1.out contains the word $2.
wait_for_output() {
    local i
    for i in $(seq 1 150); do
        grep -q "$2" "$TMP/$1.out" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "$1: no '$2' within 15 s: $(cat "$TMP/$1.out" 2>/dev/null)"
}

# Runs edgetls with the given arguments and expects a configuration error: exit status 2 and
# a message containing the first argument.
expect_config_error() { # want-substring, args...
    local want=$1 rc=0
    shift
    "$EDGETLS" "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
    [ "$rc" = 2 ] || fail "exit status $rc (want 2) for: $* ($(cat "$TMP/err"))"
    grep -qF -- "$want" "$TMP/err" || fail "message '$(cat "$TMP/err")' lacks '$want'"
}
