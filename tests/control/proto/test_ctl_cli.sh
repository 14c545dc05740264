#!/bin/bash
# edgetlsctl without edgetls-control: its usage handling and local errors (exit 2 / exit 1 and
# the message), then against fake_daemon.py the exact bytes each command sends and how each
# reply status maps to output and exit status.
# usage: test_ctl_cli.sh EDGETLSCTL FAKE_DAEMON_PY
set -u
CTL=$1
FAKE=$2
T=$(mktemp -d)
FAKE_PID=
cleanup() {
    [ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
fails=0
checks=0

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# expect RC STDERR_SUBSTRING CMD... : runs CMD, checks its exit status and stderr
expect() {
    local want=$1 msg=$2
    shift 2
    checks=$((checks + 1))
    "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    [ "$rc" = "$want" ] || fail "$* exited $rc, want $want (stderr: $(cat "$T/err"))"
    if [ -n "$msg" ] && ! grep -qF -- "$msg" "$T/err"; then
        fail "$*: stderr lacks '$msg': $(cat "$T/err")"
    fi
}

# stdout_has SUBSTRING: the last command's stdout
stdout_has() {
    checks=$((checks + 1))
    grep -qF -- "$1" "$T/out" || fail "stdout lacks '$1': $(cat "$T/out")"
}

export EDGETLS_ADMIN_SOCKET=$T/none.sock

# ---- usage, no daemon ----
expect 0 "" "$CTL" --help
stdout_has "usage: edgetlsctl [--socket PATH] [--json] [--timeout SECONDS] COMMAND"
stdout_has "log-level LEVEL"
expect 0 "" "$CTL" cert --help
stdout_has "cert add NAME --chain FILE --key FILE"
expect 0 "" "$CTL" cert add --help
stdout_has "--names a,b,..."
expect 0 "" "$CTL" help cert add
stdout_has "usage: edgetlsctl cert add NAME"
expect 0 "" "$CTL" help
expect 0 "" "$CTL" ticket export --help
expect 0 "" "$CTL" drain --help
expect 2 "no command given" "$CTL"
expect 2 "unknown command 'frobnicate' (see 'edgetlsctl --help')" "$CTL" frobnicate
expect 2 "cert: unknown command 'frob'" "$CTL" cert frob
expect 2 "cert: which cert command?" "$CTL" cert
expect 2 "cert add: --chain FILE is required (see 'edgetlsctl cert add --help')" \
    "$CTL" cert add www --key k.pem
expect 2 "cert add: --key FILE is required" "$CTL" cert add www --chain c.pem
expect 2 "cert add: missing NAME" "$CTL" cert add --chain c.pem --key k.pem
expect 2 "cert add: unknown option '--bogus'" "$CTL" cert add www --bogus
expect 2 "cert add: --chain given twice" "$CTL" cert add www --chain a --chain b
expect 2 "cert add: --force takes no value" "$CTL" cert add www --force=1
expect 2 "cert remove: unexpected argument 'b'" "$CTL" cert remove a b
expect 2 "cert show: '@x' cannot be sent" "$CTL" cert show @x
expect 2 "rollback: VERSION must be digits, got '7a'" "$CTL" rollback 7a
expect 2 "rollback: unknown option '-1'" "$CTL" rollback -1
expect 2 "log-level: LEVEL must be error, warn, info or debug, got 'loud'" "$CTL" log-level loud
expect 2 "drain: --timeout wants whole seconds" "$CTL" drain --timeout 1x
expect 2 "--timeout wants whole seconds 1..86400, got '0'" "$CTL" --timeout 0 status
expect 2 "--socket needs a value" "$CTL" --socket
expect 2 "unknown option '--jsn'" "$CTL" --jsn status
expect 2 "no help for 'nope'" "$CTL" help nope

# ---- local errors: exit 1, before any connection ----
expect 1 "cannot connect to $T/none.sock: No such file or directory" "$CTL" status
expect 1 "cannot connect to $T/other.sock: " "$CTL" --socket "$T/other.sock" --json cert list
expect 1 "cannot connect to $T/eq.sock: " "$CTL" --socket="$T/eq.sock" stats
expect 1 "cannot read $T/missing.pem: No such file or directory" \
    "$CTL" cert add www --chain "$T/missing.pem" --key "$T/missing.pem"
head -c 1048577 /dev/zero >"$T/big.pem"
printf 'KEY' >"$T/k.pem"
expect 1 "$T/big.pem is larger than the limit of 1048576 bytes" \
    "$CTL" cert add www --chain "$T/big.pem" --key "$T/k.pem"
printf 'edgetls-ticket-keys 1\nend\n' >"$T/keys"
chmod 644 "$T/keys"
expect 1 "$T/keys is readable by group or others (mode 0644)" "$CTL" ticket import "$T/keys"
touch "$T/plain.sock"
expect 1 "cannot connect to $T/plain.sock: Connection refused" "$CTL" --socket "$T/plain.sock" status

# ---- against the fake daemon ----
S=$T/admin.sock
python3 "$FAKE" "$S" "$T" &
FAKE_PID=$!
for _ in $(seq 100); do [ -e "$T/ready" ] && break; sleep 0.05; done
export EDGETLS_ADMIN_SOCKET=$S
n=0
# sent EXPECTED_BYTES_FILE: the last request the fake daemon stored equals the file
sent() {
    n=$((n + 1))
    checks=$((checks + 1))
    cmp -s "$1" "$T/req-$n" || fail "request $n: got $(od -c "$T/req-$n" | head -5), want $(od -c "$1" | head -5)"
}

expect 0 "" "$CTL" status
stdout_has "version 3"
printf 'status\n' >"$T/want"; sent "$T/want"

expect 0 "" "$CTL" --json cert list
stdout_has "www   www.example.com"
printf 'cert list --json\n' >"$T/want"; sent "$T/want"

printf 'CHAIN\n\0x' >"$T/c.pem"
expect 1 "refused: the key does not match the certificate" \
    "$CTL" cert add www --names=a.example,b.example --chain "$T/c.pem" --key "$T/k.pem" --default --force
{ printf 'cert add www --chain=@8 --key=@3 --names=a.example,b.example --force --default\n'; cat "$T/c.pem" "$T/k.pem"; } >"$T/want"
sent "$T/want"

expect 0 "" "$CTL" cert replace www --chain="$T/c.pem" --key "$T/k.pem" --json
stdout_has '{"version":4,"warnings":[]}'
{ printf 'cert replace www --chain=@8 --key=@3 --json\n'; cat "$T/c.pem" "$T/k.pem"; } >"$T/want"
sent "$T/want"

expect 0 "wrote 2 ticket keys to $T/keys.out (secret: keep it 0600)" "$CTL" ticket export "$T/keys.out"
printf 'ticket export\n' >"$T/want"; sent "$T/want"
checks=$((checks + 1))
[ "$(stat -c %a "$T/keys.out")" = 600 ] && [ ! -e "$T/keys.out.tmp" ] && head -1 "$T/keys.out" | grep -qx 'edgetls-ticket-keys 1' ||
    fail "export file: mode $(stat -c %a "$T/keys.out"), first line $(head -1 "$T/keys.out")"
touch "$T/keys.out.tmp"
expect 1 "cannot create $T/keys.out.tmp: File exists" "$CTL" ticket export "$T/keys.out"
n=$((n + 1))
rm -f "$T/keys.out.tmp"

expect 0 "" "$CTL" ticket import "$T/keys.out"
{ printf 'ticket import --data=@%d\n' "$(stat -c %s "$T/keys.out")"; cat "$T/keys.out"; } >"$T/want"
sent "$T/want"

expect 2 "no version 99" "$CTL" rollback 99
printf 'rollback 99\n' >"$T/want"; sent "$T/want"
expect 1 "unknown reply status 'weird'" "$CTL" stats
n=$((n + 1))
expect 1 "denied: uid 1000 is not in group edgetls" "$CTL" history
n=$((n + 1))
expect 1 "the daemon replied 'error'" "$CTL" drain --timeout 5
printf 'drain --timeout=5\n' >"$T/want"; sent "$T/want"
expect 1 "$S: timed out waiting for the reply" "$CTL" --timeout 1 log-level debug

echo "test_ctl_cli: $checks checks, $fails failed"
[ "$fails" = 0 ] && [ "$checks" -gt 0 ]
