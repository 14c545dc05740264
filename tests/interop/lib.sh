# shellcheck shell=bash
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
declare -A LOG_OF # edgetls pid -> its log
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
# $PKI/NAME.key. SAN entries are DNS names, or IP:addr. Signed by $PKI/$ISSUER.pem (default ca).
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
    local issuer=${ISSUER:-ca}
    openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$issuer.pem" -CAkey "$PKI/$issuer.key" \
        -CAcreateserial -out "$PKI/$name.pem" -days 2 -extfile "$PKI/$name.ext" 2>/dev/null ||
        fail "cert for $name"
}

# make_intermediate NAME: an intermediate CA (RSA-2048, pathlen 0) signed by the demo CA, in
# $PKI/NAME.pem / NAME.key. make_leaf signs with the CA named by ISSUER (default: the demo CA).
make_intermediate() {
    local name=$1
    openssl req -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -out "$PKI/$name.csr" \
        -subj "/O=edgetls interop/CN=edgetls interop intermediate" 2>/dev/null || fail "key for $name"
    printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$PKI/$name.ext"
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
    : >"$TMP/$name.log" # emptied here, not by the background redirection (a restart could race)
    "$EDGETLS" --workers 1 "$@" 2>>"$TMP/$name.log" &
    EPID=$!
    PIDS+=("$EPID")
    LOG_OF[$EPID]=$TMP/$name.log
    for i in $(seq 1 $((150 * SLOW))); do
        grep -q "listening on" "$TMP/$name.log" 2>/dev/null && return 0
        kill -0 "$EPID" 2>/dev/null || fail "edgetls ($name) exited during start-up"
        sleep 0.1
    done
    fail "edgetls ($name) did not start"
}

# stop_edgetls PID [LIMIT_S]: SIGTERM, wait; ESTATUS = exit status (124 when it did not exit).
# Fails the test when the log holds a sanitizer report (UBSan may report and carry on).
stop_edgetls() {
    local pid=$1 limit=${2:-10} i log=${LOG_OF[$1]:-}
    ESTATUS=124
    kill -TERM "$pid" 2>/dev/null || ESTATUS=125
    for i in $(seq 1 $((limit * 10 * SLOW))); do
        if ! kill -0 "$pid" 2>/dev/null; then
            ESTATUS=0
            wait "$pid" || ESTATUS=$?
            break
        fi
        sleep 0.1
    done
    if [ -n "$log" ] && grep -qE "Sanitizer|runtime error:" "$log"; then
        LAST_LOG=$log
        fail "sanitizer report in $log: $(grep -m1 -E 'Sanitizer|runtime error:' "$log")"
    fi
    return 0
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

# An HTTP/1.1 request for / that asks the responder to close afterwards.
http_get() { printf 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'; }

# sclient OUTFILE ARGS...: openssl s_client to 127.0.0.1:$PORT that sends one HTTP request and
# waits for the server to close; verification failures abort the handshake. Output (stdout and
# stderr) in OUTFILE; returns s_client's status.
sclient() {
    local out=$1
    shift
    http_get | timeout $((20 * SLOW)) openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$CA" \
        -verify_return_error -ign_eof "$@" >"$out" 2>&1
}

# ---- matrices of client runs ------------------------------------------------------------------
# A matrix test runs one function per combination, each writing "ok" or its reason to a .res
# file; matrix_run starts them in the background, at most 3 at once (the machine is shared), and
# matrix_results waits for them all and checks every result.

# want_lines RES FILE STRING...: "ok" into RES when FILE holds every fixed STRING, else the
# first one missing.
want_lines() {
    local res=$1 file=$2 w
    shift 2
    for w in "$@"; do
        grep -qF -- "$w" "$file" || { echo "missing '$w'" >"$res"; return; }
    done
    echo ok >"$res"
}

MATRIX_JOBS=()
matrix_run() {
    "$@" &
    MATRIX_JOBS+=($!)
    if [ ${#MATRIX_JOBS[@]} -ge 3 ]; then
        wait "${MATRIX_JOBS[@]}"
        MATRIX_JOBS=()
    fi
}

# matrix_results N SHOW 'GLOB': after the last job, exactly N result files match GLOB (quoted:
# expanded only once every job is done), each "ok"; each failure is printed with the output of
# `SHOW RESFILE` and the test fails with the count.
matrix_results() {
    local want=$1 show=$2 glob=$3 r n=0 bad=0
    [ ${#MATRIX_JOBS[@]} = 0 ] || wait "${MATRIX_JOBS[@]}"
    MATRIX_JOBS=()
    for r in $glob; do
        [ -f "$r" ] || continue
        n=$((n + 1))
        if [ "$(cat "$r")" != ok ]; then
            echo "combination ${r##*/}: $(cat "$r")" >&2
            "$show" "$r" >&2
            bad=$((bad + 1))
        fi
    done
    [ "$n" = "$want" ] || fail "expected $want combinations, got $n results"
    [ "$bad" = 0 ] || fail "$bad of $n combinations failed"
}

# start_backend NAME MODE [ARGS]: tests/interop/backend.py on a free loopback port; sets BPORT
# and BACKEND_PID.
start_backend() {
    local name=$1
    shift
    start_bg "$name" python3 "$IDIR/backend.py" "$@"
    BACKEND_PID=$BGPID
    wait_for_output "$name" ready
    BPORT=$(awk '/^ready/ {print $2; exit}' "$TMP/$name.out")
}

# build_goclient: builds tests/interop/goclient.go into $TMP/goclient with the Debian Go
# toolchain and nothing fetched (private caches, no proxy, no toolchain switch); sets GOCLIENT.
build_goclient() {
    mkdir -p "$TMP/go/home" "$TMP/go/cache" "$TMP/go/path"
    HOME=$TMP/go/home GOCACHE=$TMP/go/cache GOPATH=$TMP/go/path GOFLAGS=-mod=mod GOPROXY=off \
        GOTOOLCHAIN=local GOTELEMETRY=off \
        timeout $((240 * SLOW)) go build -o "$TMP/goclient" "$IDIR/goclient.go" >"$TMP/gobuild.out" 2>&1 ||
        fail "go build: $(cat "$TMP/gobuild.out")"
    GOCLIENT=$TMP/goclient
}
