#!/usr/bin/env bash
# Many concurrent handshakes of mixed kinds (Python ssl, 40 threads): server names selecting an
# ECDSA, an RSA and an Ed25519 certificate, X25519 and P-256-only clients interleaved, each a
# full handshake (verified) plus one request -- so the workers' crypto batches mix X25519,
# P-256 and three signature types. Every connection must succeed and every name must always get
# its own certificate. Two workers (SO_REUSEPORT) share the load. Run with the default crypto
# batch and again unbatched (--crypto-batch 1).
source "$(dirname "$0")/lib.sh" "$@"
make_ca
make_leaf ec ec ec.example.test ec.example.test
make_leaf rsa rsa rsa.example.test rsa.example.test
make_leaf ed ed25519 ed.example.test ed.example.test
PER=15
[ "$SANITIZED" = 1 ] && PER=6
TOTAL=$((40 * PER))
for batch in 64 1; do
    PORT=$(free_port)
    start_edgetls "srv-$batch" --listen "127.0.0.1:$PORT" --mode responder --workers 2 --crypto-batch "$batch" \
        --cert "$PKI/ec.pem" --key "$PKI/ec.key" --cert "$PKI/rsa.pem" --key "$PKI/rsa.key" \
        --cert "$PKI/ed.pem" --key "$PKI/ed.key"
    out=$TMP/storm-$batch.out
    PYCLIENT_TIMEOUT=$((30 * SLOW)) timeout $((100 * SLOW)) python3 "$IDIR/pyclient.py" storm "$PORT" "$CA" 40 "$PER" \
        ec.example.test rsa.example.test ed.example.test >"$out" 2>&1 || fail "storm (batch $batch): $(cat "$out")"
    cat "$out"
    grep -q "storm: $TOTAL handshakes+requests" "$out" || fail "storm (batch $batch): expected $TOTAL"
    for k in ec rsa ed; do
        grep -q "^  $k.example.test -> CN $k.example.test: $((TOTAL / 3))\$" "$out" ||
            fail "batch $batch: $k.example.test did not always get its certificate"
    done
    pass "crypto batch $batch: $TOTAL concurrent handshakes (3 key types x 2 groups), each name its own certificate"
    stop_edgetls "$EPID" 10
    [ "$ESTATUS" = 0 ] || fail "exit status $ESTATUS on SIGTERM"
    python3 - "$TMP/srv-$batch.log" "$TOTAL" <<'PY' || fail "worker stats: $(grep 'worker' "$TMP/srv-$batch.log")"
import re, sys
hs = [int(m) for m in re.findall(r"worker \d+: accepted \d+ active 0 rejected 0 handshakes (\d+) hs_failures 0 ",
                                  open(sys.argv[1]).read())]
assert len(hs) == 2 and sum(hs) == int(sys.argv[2]), hs
print("per-worker handshakes:", hs)
PY
    pass "SIGTERM: exit 0; both workers' handshake counts add up"
done
