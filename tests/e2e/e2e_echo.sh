#!/usr/bin/env bash
# Echo mode over plaintext (the io_uring plumbing alone) and over TLS: 64 MiB byte-exact plus
# many small concurrent connections; FIN / close_notify answered in kind.
source "$(dirname "$0")/lib.sh" "$@"
make_certs
BIG=$((64 << 20))
[ "$SANITIZED" = 1 ] && BIG=$((16 << 20))
PPORT=$(free_port)
TPORT=$(free_port)
[ "$PPORT" != "$TPORT" ] || TPORT=$(free_port)
cat >"$TMP/e.conf" <<CONF
mode echo
workers 2
[listener]
address 127.0.0.1:$PPORT
tls off
[listener]
address 127.0.0.1:$TPORT
[cert]
chain $CERT
key $KEY
CONF
start_edgetls --config "$TMP/e.conf"
python3 "$E2E_DIR/client.py" transfer $PPORT $BIG --plain >"$TMP/p.out" 2>&1 || fail "plaintext: $(cat "$TMP/p.out")"
python3 "$E2E_DIR/client.py" transfer $PPORT 30000 --plain --conns 30 >"$TMP/p30.out" 2>&1 || fail "plaintext x30: $(cat "$TMP/p30.out")"
pass "plaintext echo: $BIG bytes and 30 concurrent connections byte-exact, FIN answered"
python3 "$E2E_DIR/client.py" transfer $TPORT $BIG --cafile "$CA" >"$TMP/t.out" 2>&1 || fail "TLS: $(cat "$TMP/t.out")"
python3 "$E2E_DIR/client.py" transfer $TPORT 30000 --cafile "$CA" --conns 30 >"$TMP/t30.out" 2>&1 || fail "TLS x30: $(cat "$TMP/t30.out")"
cat "$TMP/t.out"
pass "TLS echo: $BIG bytes and 30 concurrent connections byte-exact, close_notify answered"
stop_edgetls 10
[ "$ESTATUS" = 0 ] || fail "exit status $ESTATUS"
pass "SIGTERM: exit 0"
