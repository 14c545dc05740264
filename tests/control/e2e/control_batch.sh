#!/usr/bin/env bash
# Transactions (begin / commit / abort) and `edgetlsctl batch`: 1,000 certificates land as one
# version and are served; a batch with a bad line in the middle commits nothing and names the
# line (also when the refusal comes back while later lines are in flight); a transaction whose
# base moved is refused at commit; abort and a dropped connection discard what was staged;
# protocol misuse and the transaction bounds get clear refusals.
#   arguments: as lib.sh, then the edgetls-bench executable (its `certs` subcommand)
source "$(dirname "$0")/lib.sh" "$@"
BENCH=${6:?path to edgetls-bench}
N=1000
"$BENCH" certs --count "$N" --out "$TMP/many" --wildcard-share 10 >/dev/null || fail "edgetls-bench certs"
CA=$TMP/many/ca.pem
start_control
version() { ctl --json status | json_field '["version"]'; }

# --- 1,000 entries in one version, served by a dataplane
out=$(ctl batch "$TMP/many/batch.txt") || fail "batch: $out"
[ "$out" = "version 1 ($N changes)" ] || fail "batch output: $out"
[ "$(version)" = 1 ] || fail "a batch of $N made version $(version), not 1"
n=$(ctl --json cert list | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["certs"]))')
[ "$n" = "$N" ] || fail "cert list shows $n entries"
PORT=$(free_port)
start_edgetls --control "$DPSOCK" --state-dir "$STATE" --listen "127.0.0.1:$PORT" --workers 1
wait_synced
[ "$(served_fp h777.bench.test)" = "$(fingerprint "$TMP/many/certs/777.pem")" ] || fail "h777 not served"
[ "$(served_fp x.w42.bench.test)" = "$(fingerprint "$TMP/many/certs/42.pem")" ] || fail "wildcard w42 not served"
pass "batch of $N certificates: one version, all listed, served by SNI (exact and wildcard)"

# --- edgetls-bench hs --sni-file: every name, each handshake's chain verified for its name
"$BENCH" hs --sni-file "$TMP/many/sni.txt" --verify --cacert "$CA" --count $((2 * N)) --concurrency 8 --json \
    --quiet "127.0.0.1:$PORT" >"$TMP/hs.json" 2>/dev/null || fail "hs --sni-file failed"
python3 - "$TMP/hs.json" $((2 * N)) <<'PY' || fail "hs --sni-file: $(cat "$TMP/hs.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["handshakes"] == int(sys.argv[2]) and r["errors"]["total"] == 0, r
PY
printf '# a name nobody serves: the default chain fails verification\nnope.example.test\n' >"$TMP/nope.txt"
"$BENCH" hs --sni-file "$TMP/nope.txt" --verify --cacert "$CA" --count 20 --json --quiet "127.0.0.1:$PORT" \
    >"$TMP/hs2.json" 2>/dev/null && fail "hs with an unserved name succeeded"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["handshakes"] == 0 and r["errors"]["total"] == 20, r' \
    "$TMP/hs2.json" || fail "unserved name: $(cat "$TMP/hs2.json")"
printf 'ok.test\nbad name\n' >"$TMP/bad.txt"
rc=0; "$BENCH" hs --sni-file "$TMP/bad.txt" "127.0.0.1:$PORT" >/dev/null 2>"$TMP/err" || rc=$?
[ "$rc" = 2 ] && grep -q "bad.txt:2: not a host name" "$TMP/err" || fail "malformed sni file: exit $rc $(cat "$TMP/err")"
pass "hs --sni-file: $((2 * N)) handshakes over $N names verified; unserved name and malformed file refused"

# --- a bad line in the middle: FILE:LINE, nothing committed
mkdir -p "$TMP/b2"
{
    echo "# replaces, then one line that cannot pass"
    for i in 101 102 103; do echo "cert replace e$i --chain ../many/certs/$((i + 10)).pem --key ../many/certs/$((i + 10)).key --force --names h$i.bench.test"; done
    echo "cert add bad --chain ../many/certs/5.pem --key ../many/certs/6.key"
    echo "cert remove e9"
} >"$TMP/b2/batch.txt"
rc=0; ctl batch "$TMP/b2/batch.txt" 2>"$TMP/err" || rc=$?
[ "$rc" = 1 ] || fail "bad batch: exit $rc"
grep -q "^$TMP/b2/batch.txt:5: cert bad: " "$TMP/err" || fail "bad batch message: $(cat "$TMP/err")"
grep -q "nothing committed" "$TMP/err" || fail "bad batch does not say nothing was committed: $(cat "$TMP/err")"
[ "$(version)" = 1 ] || fail "a refused batch moved the version to $(version)"
[ "$(served_fp h101.bench.test)" = "$(fingerprint "$TMP/many/certs/101.pem")" ] || fail "a refused batch changed what is served"
printf 'cert list\n' >"$TMP/b2/notallowed.txt"
rc=0; ctl batch "$TMP/b2/notallowed.txt" 2>"$TMP/err" || rc=$?
[ "$rc" = 2 ] && grep -q "notallowed.txt:1: only cert add, cert replace and cert remove" "$TMP/err" ||
    fail "non-change line: exit $rc $(cat "$TMP/err")"
rc=0; ctl batch "$TMP/nonexistent" 2>/dev/null || rc=$?
[ "$rc" = 1 ] || fail "missing batch file: exit $rc"
pass "refused batch: FILE:LINE and reason, nothing committed, served set unchanged"

# --- a batch of replaces and a removal from stdin (relative paths: from the current directory)
(cd "$TMP/many" && printf 'cert replace e105 --chain certs/500.pem --key certs/500.key --force --names h105.bench.test\ncert remove e106\n' |
    "$CTL_BIN" --socket "$ADMIN" batch -) >"$TMP/out" || fail "stdin batch: $(cat "$TMP/out")"
[ "$(version)" = 2 ] || fail "stdin batch: version $(version)"
wait_synced
[ "$(served_fp h105.bench.test)" = "$(fingerprint "$TMP/many/certs/500.pem")" ] || fail "replace in a batch not served"
n=$(ctl --json cert list | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["certs"]))')
[ "$n" = $((N - 1)) ] || fail "removal in a batch: $n entries"
pass "batch from stdin: replace and remove in one version, pushed live"

# --- the protocol: conflicts, abort, disconnect, misuse
python3 - "$ADMIN" "$CTL_BIN" "$TMP/many" "$CTEST_DIR" <<'PY' || fail "transaction protocol"
import socket, subprocess, sys, time
admin, ctl, many = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, sys.argv[4])
import admin_client

def conn():
    return admin_client.conn(admin)

ask = admin_client.ask

def add(s, name, i):
    chain = open(f"{many}/certs/{i}.pem", "rb").read()
    key = open(f"{many}/certs/{i}.key", "rb").read()
    return ask(s, f"cert replace {name} --chain=@{len(chain)} --key=@{len(key)} --force --names=h{name[1:]}.bench.test",
               (chain, key))

def version():
    s = conn()
    st, body = ask(s, "status --json")
    import json
    return json.loads(body)["version"]

def check(what, got, status, sub):
    assert got[0] == status and sub in got[1], f"{what}: {got}"

v0 = version()
a = conn()
check("commit without begin", ask(a, "commit"), "refused", "no transaction is open")
check("abort without begin", ask(a, "abort"), "refused", "no transaction is open")
check("begin", ask(a, "begin"), "ok", f"version {v0}")
check("begin twice", ask(a, "begin"), "refused", "already")
check("staged", add(a, "e20", 120), "ok", "staged (1 changes")
check("staged again", add(a, "e21", 121), "ok", "staged (2 changes")
check("staged a third", add(a, "e22", 122), "ok", "staged (3 changes")
assert version() == v0, "staging committed something"
# another client commits meanwhile: the transaction's commit is refused, nothing of it lands
subprocess.run([ctl, "--socket", admin, "cert", "replace", "e30", "--chain", f"{many}/certs/130.pem", "--key",
                f"{many}/certs/130.key", "--force", "--names", "h30.bench.test"], check=True, capture_output=True)
check("stale commit", ask(a, "commit"), "refused", f"state changed since begin (version {v0}, now {v0 + 1})")
assert version() == v0 + 1
check("transaction over after a refused commit", ask(a, "commit"), "refused", "no transaction is open")
# abort drops everything
check("begin 2", ask(a, "begin"), "ok", "transaction open")
check("staged 2", add(a, "e40", 140), "ok", "staged")
check("abort", ask(a, "abort"), "ok", "1 staged changes dropped")
check("commit after abort", ask(a, "commit"), "refused", "no transaction is open")
# a dropped connection drops its transaction
b = conn()
check("begin 3", ask(b, "begin"), "ok", "transaction open")
check("staged 3", add(b, "e41", 141), "ok", "staged")
b.close()
time.sleep(0.3)
assert version() == v0 + 1, "a dropped connection's transaction was committed"
# a name claimed inside the transaction by two entries is refused at the second
c = conn()
check("begin 4", ask(c, "begin"), "ok", "transaction open")
chain = open(f"{many}/certs/150.pem", "rb").read(); key = open(f"{many}/certs/150.key", "rb").read()
put = f"--chain=@{len(chain)} --key=@{len(key)} --force --names=zz.bench.test"
check("new name", ask(c, f"cert add n1 {put}", (chain, key)), "ok", "staged")
check("same name again", ask(c, f"cert add n2 {put}", (chain, key)), "refused",
      "name zz.bench.test is already served by entry n1")
check("remove", ask(c, "cert remove n1"), "ok", "staged")
check("name free again", ask(c, f"cert add n2 {put}", (chain, key)), "ok", "staged")
st, body = ask(c, "commit --comment=several --json")
import json
assert st == "ok" and json.loads(body) == {"version": v0 + 2, "changes": 3}, (st, body)
assert version() == v0 + 2
print("transaction protocol: ok")
PY
n=$(ctl --json cert list | python3 -c 'import json,sys; print(sum(c["name"] == "n2" for c in json.load(sys.stdin)["certs"]))')
[ "$n" = 1 ] || fail "the committed transaction's entry is missing"
pass "transactions: stale commit refused, abort and disconnect discard, names checked across staged entries"

# --- a large batch refused in the middle: the refusal comes back while later lines are still in
# flight (pipelined), and nothing of the lines before or after it is committed
v=$(version)
{
    for i in $(seq 0 999); do
        [ "$i" = 600 ] && { echo "cert replace e600 --chain certs/600.pem --key certs/601.key"; continue; }
        echo "cert replace e$i --chain certs/$i.pem --key certs/$i.key"
    done
} | grep -v "^cert replace e106 " >"$TMP/many/big-bad.txt" # e106 was removed above
rc=0; ctl batch "$TMP/many/big-bad.txt" 2>"$TMP/err" || rc=$?
[ "$rc" = 1 ] || fail "large bad batch: exit $rc $(cat "$TMP/err")"
grep -q "^$TMP/many/big-bad.txt:600: cert e600: " "$TMP/err" || fail "large bad batch message: $(cat "$TMP/err")"
[ "$(grep -c 'big-bad.txt:' "$TMP/err")" = 1 ] || fail "more than one line reported: $(cat "$TMP/err")"
staged=$(sed -n 's/.*batch aborted after \([0-9]*\) staged changes: nothing committed/\1/p' "$TMP/err")
[ -n "$staged" ] && [ "$staged" -ge 599 ] || fail "large bad batch: staged count '$staged': $(cat "$TMP/err")"
[ "$(version)" = "$v" ] || fail "a refused large batch moved the version to $(version)"
sed 600d "$TMP/many/big-bad.txt" >"$TMP/many/big-good.txt"
out=$(ctl --json batch "$TMP/many/big-good.txt") || fail "large good batch: $out"
python3 -c 'import json,sys; assert json.loads(sys.argv[1]) == {"version": int(sys.argv[2]) + 1, "changes": 998}, sys.argv[1]' \
    "$out" "$v" || fail "large good batch --json: $out"
pass "1,000-line batch refused at line 600 while pipelined: FILE:LINE, nothing committed; the good one: one version, --json"

# --- more of the protocol: ticket rotate staged, commands that commit alone, COMMENT words,
# JSON replies, the open-transaction bound, removal then re-add inside one transaction
python3 - "$ADMIN" "$TMP/many" "$CTEST_DIR" <<'PY' || fail "transaction protocol (2)"
import json, socket, sys
admin, many = sys.argv[1], sys.argv[2]
sys.path.insert(0, sys.argv[3])
import admin_client

def conn():
    return admin_client.conn(admin)

ask = admin_client.ask

def pem(i):
    return open(f"{many}/certs/{i}.pem", "rb").read(), open(f"{many}/certs/{i}.key", "rb").read()

def check(what, got, status, sub):
    assert got[0] == status and sub in got[1], f"{what}: {got}"

def one(line):
    s = conn()
    r = ask(s, line)
    s.close()
    return r

def active_ticket():
    return [t["name"] for t in json.loads(one("ticket list --json")[1])["tickets"] if t["state"] == "active"]

v0 = json.loads(one("status --json")[1])["version"]
a = conn()
check("begin --json", ask(a, "begin --json"), "ok", json.dumps({"base": v0}).replace(" ", ""))
act = active_ticket()
check("ticket rotate staged", ask(a, "ticket rotate"), "ok", f"staged (1 changes on version {v0})")
assert active_ticket() == act, "a staged ticket rotation changed the active key"
check("rollback inside", ask(a, f"rollback {v0}"), "refused", "cannot be staged; commit or abort")
check("ticket import inside", ask(a, "ticket import --data=@0"), "refused", "cannot be staged")
check("remove staged", ask(a, "cert remove e200"), "ok", "staged (2 changes")
check("remove twice", ask(a, "cert remove e200"), "refused", "cert e200: no such entry")
chain, key = pem(201)
check("replace removed", ask(a, f"cert replace e200 --chain=@{len(chain)} --key=@{len(key)} --force --names=h200.bench.test",
                              (chain, key)), "refused",
      "no such entry")
st, body = ask(a, f"cert add e200 --chain=@{len(chain)} --key=@{len(key)} --force --names=h200.bench.test --json",
               (chain, key))
j = json.loads(body)
assert st == "ok" and j["staged"] is True and j["changes"] == 3 and j["base"] == v0, (st, body)
# e201 serves h201 today; the staged e200 does not take it away from it
check("name of another entry", ask(a, f"cert add e9999 --chain=@{len(chain)} --key=@{len(key)}", (chain, key)),
      "refused", "name h201.bench.test is already served by entry e201")
# the open-transaction bound: this connection holds one, three more may, a fifth is refused
others = [conn() for _ in range(4)]
for i, o in enumerate(others[:3]):
    check(f"begin other {i}", ask(o, "begin"), "ok", "transaction open")
check("fifth begin", ask(others[3], "begin"), "refused", "4 transactions are open already")
for o in others:
    o.close()
check("commit with a comment", ask(a, "commit nightly certificate load"), "ok", f"version {v0 + 1} (3 changes)")
hist = json.loads(one("history --json")[1])
assert any(h["comment"] == "nightly certificate load (3 changes)" for h in hist["versions"]), hist
assert active_ticket() != act, "the committed ticket rotation did not rotate"
certs = json.loads(one("cert list --json")[1])["certs"]
e200 = [c for c in certs if c["name"] == "e200"]
assert len(e200) == 1 and e200[0]["names"] == ["h200.bench.test"], e200
check("nothing staged", ask(a, "begin"), "ok", "transaction open")
st, body = ask(a, "commit --json")
assert st == "ok" and json.loads(body) == {"version": v0 + 1, "changes": 0}, (st, body)
print("transaction protocol (2): ok")
PY
pass "ticket rotate staged, rollback/import refused inside, COMMENT words, --json replies, 4 open transactions at most"

# --- the staged-changes bound (lowered for the test): the change past it is refused, the
# transaction keeps what it had and still commits
kill "$CPID"; wait "$CPID" 2>/dev/null || true
start_control --txn-max-changes 3
v=$(version)
{
    for i in 300 301 302 303; do echo "cert replace e$i --chain certs/$i.pem --key certs/$i.key"; done
} >"$TMP/many/limit.txt"
rc=0; ctl batch "$TMP/many/limit.txt" 2>"$TMP/err" || rc=$?
[ "$rc" = 1 ] && grep -q "limit.txt:4: cert e303: the transaction already holds 3 staged changes, its limit" "$TMP/err" ||
    fail "staged limit: exit $rc $(cat "$TMP/err")"
[ "$(version)" = "$v" ] || fail "staged limit: version moved"
head -3 "$TMP/many/limit.txt" >"$TMP/many/limit3.txt"
ctl batch "$TMP/many/limit3.txt" >/dev/null || fail "three changes under a limit of three"
[ "$(version)" = $((v + 1)) ] || fail "staged limit: three changes did not commit"
pass "staged-changes bound: refused past it with the limit named, the rest commits"
