#!/usr/bin/env bash
# edgetls-control + edgetlsctl + edgetls: live certificate replace, validation refusals that
# change nothing, the control plane killed and restarted, a dataplane started while it is down,
# ticket rotation with resumption across it, and the permission check on the admin socket.
source "$(dirname "$0")/lib.sh" "$@"
make_pki
D=$TMP/pki
start_control
v0=$(ctl --json status | json_field '["version"]')
[ "$v0" = 0 ] || fail "fresh state directory at version $v0"

# --- adding the first certificate and attaching a dataplane
ctl cert add www --chain "$D/old.pem" --key "$D/old.key" >"$TMP/out" || fail "cert add: $(cat "$TMP/out")"
[ "$(ctl --json status | json_field '["version"]')" = 1 ] || fail "cert add did not make version 1"
[ "$(stat -c %a "$STATE")" = 700 ] || fail "state directory mode $(stat -c %a "$STATE")"
# certificates and keys are objects by content (objects/<sha256>), each 0600, and so is the
# part of the manifest listing the entry (format 3)
[ "$(ls "$STATE/objects" | wc -l)" = 3 ] || fail "objects/ holds $(ls "$STATE/objects" | wc -l) files, want 3"
head -1 "$STATE/current/manifest" | grep -qx "edgetls-state 3" || fail "manifest: $(head -1 "$STATE/current/manifest")"
part=$(awk '$1 == "part" {print $2; exit}' "$STATE/current/manifest")
head -1 "$STATE/objects/$part" | grep -qx "edgetls-part 1" || fail "no part object for the manifest's part line"
grep -q "^entry www " "$STATE/objects/$part" || fail "the part does not list entry www"
for k in "$STATE"/objects/* "$STATE"/current/tickets.key; do
    [ "$(stat -c %a "$k")" = 600 ] || fail "$k mode $(stat -c %a "$k")"
done
[ "$(stat -c %a "$DPSOCK")" = 600 ] || fail "dataplane socket mode $(stat -c %a "$DPSOCK")"
[ "$(stat -c %a "$ADMIN")" = 660 ] || fail "admin socket mode $(stat -c %a "$ADMIN")"
PORT=$(free_port)
start_edgetls --control "$DPSOCK" --state-dir "$STATE" --listen "127.0.0.1:$PORT" --workers 2
wait_synced
[ "$(served_fp www.example.test)" = "$FP_OLD" ] || fail "not serving the added certificate"
[ "$(served_fp a.img.example.test)" = "$FP_OLD" ] || fail "wildcard name not served"
pass "cert add: served by a dataplane that attached afterwards"

# --- live replace: new handshakes see the new chain at once
ctl cert replace www --chain "$D/new.pem" --key "$D/new.key" >/dev/null || fail "cert replace"
wait_synced
[ "$(served_fp www.example.test)" = "$FP_NEW" ] || fail "replace not served"
ctl --json cert list | python3 -c '
import json, sys
d = json.load(sys.stdin)
c = d["certs"]
assert len(c) == 1 and c[0]["name"] == "www" and "www.example.test" in c[0]["names"], c
for k in ("serial", "not_after", "key_type", "version"):
    assert k in c[0], k
assert c[0]["key_type"] == "ecdsa-p256", c[0]["key_type"]' || fail "cert list --json"
# cert list describes each certificate from facts kept by id (filled at commit, or parsed on a
# first listing): serial, expiry and fingerprint are the served certificate's, before and
# after another replace, and on a listing that finds them in the table
facts() { # PEM: "SERIAL FINGERPRINT" as cert list --json gives them
    printf '%s %s\n' "$(openssl x509 -in "$1" -noout -serial | cut -d= -f2)" \
        "$(openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)"
}
listed() { ctl --json cert list | python3 -c '
import json, sys
c = json.load(sys.stdin)["certs"][0]
print(c["serial"], c["fingerprint"])'; }
[ "$(listed)" = "$(facts "$D/new.pem")" ] || fail "cert list: $(listed), want $(facts "$D/new.pem")"
ctl cert replace www --chain "$D/old.pem" --key "$D/old.key" >/dev/null || fail "cert replace back"
[ "$(listed)" = "$(facts "$D/old.pem")" ] || fail "cert list after a replace: $(listed), want $(facts "$D/old.pem")"
[ "$(listed)" = "$(facts "$D/old.pem")" ] || fail "cert list (second listing): $(listed)"
ctl cert replace www --chain "$D/new.pem" --key "$D/new.key" >/dev/null || fail "cert replace"
[ "$(listed)" = "$(facts "$D/new.pem")" ] || fail "cert list after the replace: $(listed)"
v_www=$(ctl --json status | json_field '["version"]') # the version that last changed www
wait_synced
ctl --json status | python3 -c '
import json, sys
d = json.load(sys.stdin)["dataplanes"][0]["pushes"]
assert d["full"] == 1 and d["delta"] >= 1, d' || fail "the replace was not pushed as a delta: $(ctl --json status)"
pass "cert replace: live, every worker, pushed as a delta"

# --- refusals leave the version alone
v=$(ctl --json status | json_field '["version"]')
rc=0; ctl cert add api --chain "$D/other.pem" --key "$D/old.key" 2>"$TMP/err" || rc=$?
[ "$rc" = 1 ] || fail "mismatched key: exit $rc"
grep -q "cert api" "$TMP/err" || fail "refusal does not name the entry: $(cat "$TMP/err")"
rc=0; ctl cert add www2 --chain "$D/old.pem" --key "$D/old.key" 2>"$TMP/err" || rc=$?
[ "$rc" = 1 ] && grep -q "already served by entry www" "$TMP/err" || fail "duplicate name: $rc $(cat "$TMP/err")"
rc=0; ctl cert add api --chain "$D/other.pem" --key "$D/other.key" --names www.example.test 2>"$TMP/err" || rc=$?
[ "$rc" = 1 ] || fail "name not covered by the SAN accepted"
rc=0; ctl cert bogus 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "unknown command: exit $rc"
[ "$(ctl --json status | json_field '["version"]')" = "$v" ] || fail "a refused change moved the version"
pass "refused changes: exit 1, the entry named, version unchanged"

# --- a second entry, then rollback to the version before it
ctl cert add api --chain "$D/other.pem" --key "$D/other.key" >/dev/null || fail "cert add api"
wait_synced
[ "$(served_fp api.example.test)" = "$(fingerprint "$D/other.pem")" ] || fail "api not served"
ctl --json cert list | python3 -c '
import json, sys
d = json.load(sys.stdin)
v = {c["name"]: c["version"] for c in d["certs"]}
assert v["api"] == d["version"] and v["www"] == int(sys.argv[1]), (v, d["version"])' "$v_www" || fail "cert list version is not the version that last changed each entry"
ctl rollback "$v" >/dev/null || fail "rollback"
wait_synced
ctl --json cert list | python3 -c '
import json, sys
assert [c["name"] for c in json.load(sys.stdin)["certs"]] == ["www"]' || fail "rollback kept api"
ctl --json history | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["versions"][0]["version"] == d["current"] and "rollback" in d["versions"][0]["comment"], d' || fail "history"
pass "rollback restores a certificate set as a new version"

# --- kill -9 the control plane: serving goes on; restart: state intact, dataplane resyncs
vbefore=$(ctl --json status | json_field '["version"]')
kill -9 "$CPID"; wait "$CPID" 2>/dev/null || true
[ "$(served_fp www.example.test)" = "$FP_NEW" ] || fail "dataplane stopped serving without the control plane"
start_control
[ "$(ctl --json status | json_field '["version"]')" = "$vbefore" ] || fail "state lost across kill -9"
wait_synced
pass "control plane killed: dataplane serves on, resyncs after the restart"

# --- the restarted control plane continues the stored journal: its next commits append deltas,
# snapshot.bin stays the same file (no whole snapshot rewritten)
jlen=$(stat -c %s "$STATE/current/snapshot.delta")
ino=$(stat -c %i "$STATE/current/snapshot.bin")
ctl cert replace www --chain "$D/old.pem" --key "$D/old.key" >/dev/null &&
    ctl cert replace www --chain "$D/new.pem" --key "$D/new.key" >/dev/null || fail "replace after the restart"
wait_synced
[ "$(served_fp www.example.test)" = "$FP_NEW" ] || fail "replace after the restart not served"
[ "$(stat -c %s "$STATE/current/snapshot.delta")" -gt "$jlen" ] || fail "the journal was not continued after the restart"
[ "$(stat -c %i "$STATE/current/snapshot.bin")" = "$ino" ] || fail "a whole snapshot was written after the restart"
# and the dataplane, which reattached serving the current version, got deltas, not it all
ctl --json status | python3 -c '
import json, sys
d = json.load(sys.stdin)["dataplanes"][0]["pushes"]
assert d["full"] == 0 and d["delta"] == 2, d' || fail "after the restart the dataplane was not sent deltas: $(ctl --json status)"
vbefore=$(ctl --json status | json_field '["version"]')
pass "restarted control plane: commits append to the stored journal"

# --- a dataplane started while the control plane is down serves the committed version: the
# whole snapshot.bin of version 1 plus the journal of deltas since (snapshot.delta)
[ -s "$STATE/current/snapshot.delta" ] || fail "no journal of deltas in the state directory"
[ "$(stat -c %i "$STATE/current/snapshot.bin")" = "$(stat -c %i "$STATE/versions/1/snapshot.bin")" ] ||
    fail "snapshot.bin was rewritten, not carried over from version 1"
kill -9 "$CPID"; wait "$CPID" 2>/dev/null || true
stop_edgetls 10
start_edgetls --control "$DPSOCK" --state-dir "$STATE" --listen "127.0.0.1:$PORT" --workers 1
grep -q "serving version $vbefore from" "$TMP/edgetls.log" || fail "no read-only start message: $(cat "$TMP/edgetls.log")"
[ "$(served_fp www.example.test)" = "$FP_NEW" ] || fail "not serving the committed version"
start_control
wait_synced
pass "dataplane started with the control plane down serves the committed version (snapshot + delta journal)"

# --- ticket rotation: a ticket issued before the rotation still resumes after it
# keep the connection open a moment: the NewSessionTicket follows the handshake
(printf 'GET / HTTP/1.1\r\nHost: www.example.test\r\n\r\n'; sleep 0.5) | timeout 10 openssl s_client \
    -connect "127.0.0.1:$PORT" -servername www.example.test -tls1_3 -sess_out "$TMP/sess" >"$TMP/first.out" 2>&1 || true
grep -q "TLS session ticket:" "$TMP/first.out" || fail "no session ticket received before the rotation"
before=$(ctl --json ticket list | python3 -c 'import json,sys; print([t["name"] for t in json.load(sys.stdin)["tickets"] if t["state"]=="active"][0])')
ctl ticket rotate >/dev/null || fail "ticket rotate"
wait_synced
ctl --json ticket list | python3 -c '
import json, sys
t = {k["state"]: k["name"] for k in json.load(sys.stdin)["tickets"]}
assert t.get("decrypt-only") == sys.argv[1] and "active" in t and "pending" in t, t' "$before" || fail "rotation states"
(printf 'GET / HTTP/1.1\r\nHost: www.example.test\r\n\r\n'; sleep 0.3) | timeout 10 openssl s_client \
    -connect "127.0.0.1:$PORT" -servername www.example.test -tls1_3 -sess_in "$TMP/sess" 2>/dev/null |
    grep -q "^Reused" || fail "ticket from before the rotation not accepted"
pass "ticket rotate: active -> decrypt-only, tickets from before still resume"

# --- export / import
ctl ticket export "$TMP/keys" 2>/dev/null || fail "ticket export"
[ "$(stat -c %a "$TMP/keys")" = 600 ] || fail "export file mode"
head -1 "$TMP/keys" | grep -q "^edgetls-ticket-keys 1$" || fail "export format"
ctl ticket import "$TMP/keys" >/dev/null || fail "ticket import"
pass "ticket export (0600) and import"

# --- the admin socket refuses other users
if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
    chmod 711 "$TMP"; chmod 666 "$ADMIN"  # let the kernel through: the peer check must refuse
    rc=0; setpriv --reuid=nobody --regid=nogroup --clear-groups "$CTL_BIN" --socket "$ADMIN" status \
        >/dev/null 2>"$TMP/err" || rc=$?
    chmod 660 "$ADMIN"; chmod 700 "$TMP"
    [ "$rc" = 1 ] || fail "peer without permission: exit $rc"
    grep -q "refused pid" "$TMP/control.log" || fail "no log line for the refused peer"
    pass "admin socket: peer without permission refused, logged"
fi

# --- drain --timeout: the dataplane stops accepting, gives open connections that long (not its
# own shutdown_timeout of 60 s), then exits 0
stop_edgetls 10
PORT=$(free_port)
start_edgetls --control "$DPSOCK" --state-dir "$STATE" --listen "127.0.0.1:$PORT" --workers 1 --shutdown-timeout 60s
wait_synced
# log-level reaches the workers: their per-connection debug lines come and go with it
garbage() { printf 'GET / HTTP/1.0\r\n\r\n' | timeout 3 openssl s_client -connect "127.0.0.1:$PORT" -quiet >/dev/null 2>&1 || true
            python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.sendall(b"\x16\x03\x01\x00\x05hello"); s.recv(100)' "$PORT" 2>/dev/null || true; }
garbage
n0=$(grep -c "closed:" "$TMP/edgetls.log" || true)
[ "$n0" = 0 ] || fail "debug lines at the default log level"
ctl log-level debug >/dev/null || fail "log-level debug"
sleep 0.3
garbage
n1=$(grep -c "closed:" "$TMP/edgetls.log" || true)
[ "$n1" -gt 0 ] || fail "log-level debug did not reach the workers: $(tail -3 "$TMP/edgetls.log")"
ctl log-level warn >/dev/null || fail "log-level warn"
sleep 0.3
garbage
n2=$(grep -c "closed:" "$TMP/edgetls.log" || true)
[ "$n2" = "$n1" ] || fail "log-level warn did not stop the workers' debug lines ($n1 -> $n2)"
pass "log-level: debug lines from the workers after 'debug', none after 'warn'"
python3 - "$PORT" "$TMP/held" <<'PY' &
import socket, ssl, sys, time
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
raw = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s = ctx.wrap_socket(raw, server_hostname="www.example.test")
# a response far larger than the socket buffers, read slowly: the connection stays busy
s.sendall(b"GET /bytes/1000000000 HTTP/1.1\r\nHost: www.example.test\r\n\r\n")
s.recv(1)
open(sys.argv[2], "w").write("open\n")
s.settimeout(30)
try:
    while s.recv(16):
        time.sleep(0.05)
    print("held connection ended: EOF", flush=True)
except Exception as e:
    print("held connection ended:", type(e).__name__, flush=True)
PY
holder=$!
for _ in $(seq 50); do [ -s "$TMP/held" ] && break; sleep 0.1; done
[ -s "$TMP/held" ] || fail "could not open the connection to hold"
t0=$(date +%s%N)
ctl drain --timeout 2 >/dev/null || fail "drain"
sleep 0.5
echo | timeout 3 openssl s_client -connect "127.0.0.1:$PORT" -servername www.example.test >/dev/null 2>&1 &&
    fail "a new connection was served during the drain"
rc=0; wait "$EPID" || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$rc" = 0 ] || fail "drained dataplane exit status $rc"
[ "$ms" -ge 1500 ] && [ "$ms" -lt 8000 ] || fail "drain --timeout 2 took $ms ms (the open connection should hold it ~2 s, not 60)"
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null || true
grep -q "up to 2000 ms for open connections" "$TMP/edgetls.log" || fail "drain timeout not applied: $(tail -3 "$TMP/edgetls.log")"
pass "drain --timeout 2: new connections refused, the open one closed after ~2 s ($ms ms), exit 0"
