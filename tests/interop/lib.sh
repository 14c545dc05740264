# Shared helpers for the interop tests (sourced): real TLS clients (openssl s_client, curl,
# gnutls-cli, Python ssl, Go crypto/tls) against the edgetls executable on loopback.
# Every process a test starts is recorded and killed on exit, pass or fail; the scratch
# directory is removed unless KEEP_INTEROP=1.
#   usage in a test: source "$(dirname "$0")/lib.sh" "$@"
#   arguments: EDGETLS_BINARY INTEROP_SOURCE_DIR [SANITIZED(0|1)]
set -euo pipefail
EDGETLS=${1:?path to edgetls}
IDIR=${2:?tests/interop source dir}
SANITIZED=${3:-0}
TMP=$(mktemp -d /tmp/etls-interop-XXXXXX)
PIDS=()
LAST_LOG=
# Sanitizer builds are several times slower; every wait below is multiplied by SLOW.
SLOW=1
[ "$SANITIZED" = 1 ] && SLOW=4
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

interop_cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    [ "${KEEP_INTEROP:-0}" = 1 ] || rm -rf "$TMP"
}
trap interop_cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    if [ -n "$LAST_LOG" ] && [ -f "$LAST_LOG" ]; then
        echo "--- $LAST_LOG (last 30 lines)" >&2
        tail -30 "$LAST_LOG" >&2
    fi
    exit 1
}

pass() { echo "ok: $*"; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---- certificates -------------------------------------------------------------------------------
# A demo CA (ECDSA P-256) in $TMP/pki; leaves are signed by it. CA=path of the CA certificate.
make_ca() {
    PKI=$TMP/pki
    mkdir -p "$PKI"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$PKI/ca.key" \
        -out "$PKI/ca.pem" -days 2 -subj "/O=edgetls interop/CN=edgetls interop CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        2>/dev/null || fail "CA generation"
    CA=$PKI/ca.pem
}

# make_leaf NAME KEYTYPE(ec|rsa|ed25519) CN SAN...: writes $PKI/NAME.pem (leaf) and
# $PKI/NAME.key. SAN entries are DNS names, or IP:addr.
make_leaf() {
    local name=$1 type=$2 cn=$3 san="" s
    shift 3
    for s in "$@"; do
        case $s in IP:*) san+="${san:+,}$s" ;; *) san+="${san:+,}DNS:$s" ;; esac
    done
    local keyopt
    case $type in
    ec) keyopt=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
    rsa) keyopt=(-newkey rsa:2048) ;;
    ed25519) keyopt=(-newkey ed25519) ;;
    *) fail "make_leaf: key type $type" ;;
    esac
    openssl req "${keyopt[@]}" -nodes -keyout "$PKI/$name.key" -out "$PKI/$name.csr" \
        -subj "/O=edgetls interop/CN=$cn" 2>/dev/null || fail "key for $name"
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' \
        "$san" >"$PKI/$name.ext"
    openssl x509 -req -in "$PKI/$name.csr" -CA "$CA" -CAkey "$PKI/ca.key" -CAcreateserial \
        -out "$PKI/$name.pem" -days 2 -extfile "$PKI/$name.ext" 2>/dev/null || fail "cert for $name"
}

# ---- edgetls ------------------------------------------------------------------------------------
# start_edgetls NAME ARGS...: starts edgetls with --workers 1 plus ARGS, logging to
# $TMP/NAME.log, and waits for its "listening on" line. Sets EPID (and remembers the log for fail).
start_edgetls() {
    local name=$1 i
    shift
    LAST_LOG=$TMP/$name.log
    "$EDGETLS" --workers 1 "$@" 2>"$TMP/$name.log" &
    EPID=$!
    PIDS+=("$EPID")
    for i in $(seq 1 $((150 * SLOW))); do
        grep -q "listening on" "$TMP/$name.log" 2>/dev/null && return 0
        kill -0 "$EPID" 2>/dev/null || fail "edgetls ($name) exited during start-up"
        sleep 0.1
    done
    fail "edgetls ($name) did not start"
}

# stop_edgetls PID [LIMIT_S]: SIGTERM, wait; ESTATUS = exit status (124 when it did not exit).
stop_edgetls() {
    local pid=$1 limit=${2:-10} i
    kill -TERM "$pid" 2>/dev/null || { ESTATUS=125; return 0; }
    for i in $(seq 1 $((limit * 10 * SLOW))); do
        if ! kill -0 "$pid" 2>/dev/null; then
            ESTATUS=0
            wait "$pid" || ESTATUS=$?
            return 0
        fi
        sleep 0.1
    done
    ESTATUS=124
}

# alive PID: edgetls still running (not a zombie)?
alive() { kill -0 "$1" 2>/dev/null; }

# start_bg NAME CMD...: background helper whose pid is tracked; output in $TMP/NAME.out.
start_bg() {
    local name=$1
    shift
    "$@" >"$TMP/$name.out" 2>&1 &
    BGPID=$!
    PIDS+=("$BGPID")
}

# wait_for_output NAME WORD: until $TMP/NAME.out contains WORD (15 s x SLOW).
wait_for_output() {
    local i
    for i in $(seq 1 $((150 * SLOW))); do
        grep -q -- "$2" "$TMP/$1.out" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "$1: no '$2': $(cat "$TMP/$1.out" 2>/dev/null)"
}

# An HTTP/1.1 request that asks the responder to close afterwards.
http_get() { printf 'GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "${1:-/}" "${2:-localhost}"; }

# sclient OUTFILE ARGS...: openssl s_client to 127.0.0.1:$PORT that sends one HTTP request and
# waits for the server to close; verification failures abort the handshake. Output (stdout and
# stderr) in OUTFILE; returns s_client's status.
sclient() {
    local out=$1
    shift
    http_get | timeout $((20 * SLOW)) openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$CA" \
        -verify_return_error -ign_eof "$@" >"$out" 2>&1
}
