#!/usr/bin/env bash
# Session tickets in the executable: real clients (openssl s_client, Python ssl) resume across
# two workers; a ticket_key_file makes tickets survive a restart, the default random seed does
# not; session_tickets off issues none; a bad key file is a configuration error (exit 2).
source "$(dirname "$0")/lib.sh" "$@"
make_certs
openssl rand -hex 32 >"$TMP/ticket.key"
chmod 600 "$TMP/ticket.key"
PORT=$(free_port)
sclient() { # session-flag session-file -> prints the s_client transcript
    (printf 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'; sleep 0.4) |
        timeout 10 openssl s_client -connect 127.0.0.1:$PORT -servername localhost -CAfile "$CA" \
            -verify_return_error "$1" "$2" 2>&1 || true
}
start_edgetls --listen 127.0.0.1:$PORT --cert "$CERT" --key "$KEY" --workers 2 \
    --ticket-key-file "$TMP/ticket.key" --ticket-rotation 2h
sclient -sess_out "$TMP/s1.pem" >"$TMP/first.out"
grep -q "^New, TLSv1.3" "$TMP/first.out" || fail "first connection: $(grep -E 'New|Reused|error' "$TMP/first.out")"
grep -q "lifetime hint: 7200" "$TMP/first.out" || fail "no ticket with the 2h lifetime"
for i in 1 2 3 4; do # two workers: the resumptions land on either
    sclient -sess_in "$TMP/s1.pem" >"$TMP/again.out"
    grep -q "^Reused, TLSv1.3" "$TMP/again.out" || fail "resumption $i: $(grep -E 'New|Reused|error' "$TMP/again.out")"
    grep -q "HTTP/1.1 200" "$TMP/again.out" || fail "no response on resumption $i"
done
pass "openssl s_client resumes with the ticket (4 of 4, two workers)"
python3 - "$PORT" "$CA" <<'PY' >"$TMP/py.out" 2>&1 || fail "python ssl: $(cat "$TMP/py.out")"
import socket, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
def get(session=None):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5),
                        server_hostname="localhost", session=session)
    s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert s.recv(4096).startswith(b"HTTP/1.1 200")
    sess, reused = s.session, s.session_reused
    s.close()
    return sess, reused
sess, reused = get()
assert not reused and sess.has_ticket, "first connection: no ticket"
for i in range(3):
    _, reused = get(sess)
    assert reused, "resumption %d was a full handshake" % i
print("python resumed 3 of 3")
PY
pass "$(cat "$TMP/py.out")"
stop_edgetls 10
[ "$ESTATUS" = 0 ] || fail "exit status $ESTATUS"
# Same key file after a restart: the old ticket still resumes.
start_edgetls --listen 127.0.0.1:$PORT --cert "$CERT" --key "$KEY" --workers 1 \
    --ticket-key-file "$TMP/ticket.key" --ticket-rotation 2h
sclient -sess_in "$TMP/s1.pem" >"$TMP/restart.out"
grep -q "^Reused, TLSv1.3" "$TMP/restart.out" || fail "after restart with the key file: $(grep -E "New|Reused" "$TMP/restart.out"; tail -4 "$TMP/restart.out")"
stop_edgetls 10
pass "tickets survive a restart with the same ticket_key_file"
# Random seed (no file): the old ticket means a full handshake, which still succeeds.
start_edgetls --listen 127.0.0.1:$PORT --cert "$CERT" --key "$KEY" --workers 1
sclient -sess_in "$TMP/s1.pem" >"$TMP/random.out"
grep -q "^New, TLSv1.3" "$TMP/random.out" || fail "a foreign ticket was accepted: $(grep -E 'New|Reused' "$TMP/random.out")"
grep -q "HTTP/1.1 200" "$TMP/random.out" || fail "no response after falling back to a full handshake"
stop_edgetls 10
pass "an unknown ticket falls back to a full handshake"
start_edgetls --listen 127.0.0.1:$PORT --cert "$CERT" --key "$KEY" --workers 1 --session-tickets off
sclient -sess_out "$TMP/s2.pem" >"$TMP/off.out"
grep -q "HTTP/1.1 200" "$TMP/off.out" || fail "session_tickets off: no response"
! grep -q "New Session Ticket arrived" "$TMP/off.out" || fail "session_tickets off still issued a ticket"
stop_edgetls 10
pass "session_tickets off issues no ticket"
base=(--check --listen 127.0.0.1:$PORT --cert "$CERT" --key "$KEY")
chmod 644 "$TMP/ticket.key"
expect_config_error "accessible to every user" "${base[@]}" --ticket-key-file "$TMP/ticket.key"
printf 'abcd\n' >"$TMP/short.key" && chmod 600 "$TMP/short.key"
expect_config_error "expected 64 hex digits" "${base[@]}" --ticket-key-file "$TMP/short.key"
(openssl rand -hex 32; echo extra) >"$TMP/long.key" && chmod 600 "$TMP/long.key"
expect_config_error "expected 64 hex digits" "${base[@]}" --ticket-key-file "$TMP/long.key"
expect_config_error "ticket_key_file" "${base[@]}" --ticket-key-file "$TMP/missing.key"
expect_config_error "ticket_rotation: value '10s' out of range" "${base[@]}" --ticket-rotation 10s
pass "bad ticket key files and rotation periods exit 2"
