#!/usr/bin/env bash
# The daemon killed (-9) at random moments while edgetlsctl commits: after each restart the
# state loads (the manifest and the files agree: the daemon refuses to start otherwise), keys
# are 0600, and the version is at least the last one acknowledged to the client. The store's
# own test (control_store_crash) does the same 1,000 times in-process; this is the real daemon.
source "$(dirname "$0")/lib.sh" "$@"
make_pki
D=$TMP/pki
ROUNDS=${CONTROL_CRASH_ROUNDS:-25}
seed=${ETLS_TEST_SEED:-$RANDOM}
echo "seed $seed"
RANDOM=$seed
start_control
ctl cert add www --chain "$D/old.pem" --key "$D/old.key" >/dev/null || fail "cert add"
acked=1
for r in $(seq 1 "$ROUNDS"); do
    # commits back to back; each acknowledged version is appended to acked.log
    ( while true; do
        g=new; [ $((RANDOM % 2)) = 0 ] && g=old
        if out=$(ctl --json cert replace www --chain "$D/$g.pem" --key "$D/$g.key" 2>/dev/null); then
            echo "$out" | json_field '["version"]' >>"$TMP/acked.log"
        fi
        [ $((RANDOM % 5)) = 0 ] && ctl ticket rotate >/dev/null 2>&1
      done ) &
    loader=$!
    sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
    kill -9 "$CPID"; wait "$CPID" 2>/dev/null || true
    kill "$loader" 2>/dev/null; wait "$loader" 2>/dev/null || true
    last=$(tail -1 "$TMP/acked.log" 2>/dev/null || echo 1)
    [ -n "$last" ] && acked=$last
    start_control
    v=$(ctl --json status | json_field '["version"]')
    [ "$v" -ge "$acked" ] || fail "round $r: version $v after restart, but $acked was acknowledged"
    for k in "$STATE"/objects/* "$STATE"/current/tickets.key; do
        [ "$(stat -c %a "$k")" = 600 ] || fail "round $r: $k mode $(stat -c %a "$k")"
    done
    ctl cert show www >/dev/null || fail "round $r: entry lost"
done
pass "$ROUNDS kills during commits: state loads, version >= last acknowledged ($acked), keys 0600"
