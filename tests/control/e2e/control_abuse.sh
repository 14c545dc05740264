#!/usr/bin/env bash
# The admin protocol under bad input (abuse.py): unknown commands, an oversized line and
# payload, binary garbage, half a command then silence, 200 concurrent clients. Clear errors,
# the daemon keeps serving, the stored version never moves (and under ASan nothing leaks: the
# daemon is stopped with SIGTERM and must exit 0).
source "$(dirname "$0")/lib.sh" "$@"
make_pki
D=$TMP/pki
start_control
ctl cert add www --chain "$D/old.pem" --key "$D/old.key" >/dev/null || fail "cert add"
v=$(ctl --json status | json_field '["version"]')
python3 "$CTEST_DIR/abuse.py" "$ADMIN" || { tail -20 "$TMP/control.log" >&2; fail "abuse.py"; }
[ "$(ctl --json status | json_field '["version"]')" = "$v" ] || fail "bad input changed the version"
kill -TERM "$CPID"
rc=0; wait "$CPID" || rc=$?
[ "$rc" = 0 ] || { tail -40 "$TMP/control.log" >&2; fail "edgetls-control exited $rc after SIGTERM (leak or crash?)"; }
pass "bad admin input: clear answers, version $v unchanged, clean exit"
