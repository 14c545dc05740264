/* libFuzzer harness: ClientHello parsing and the server's decisions on it.
 * Input: byte 0 picks the record fragment size, the rest is the ClientHello body. The body is
 * parsed directly, then wrapped in a handshake header and records and fed to a fresh server
 * connection, so every extension parser, the choices (suite, group, certificate, ALPN), HRR
 * and the server flight all run. */
#include "fuzz_common.h"

#include "tls/tls_internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4 + ETLS_TLS_MAX_HS_MSG + 100)
        return 0;
    size_t frag = 1 + (size_t)data[0] * 67;
    const uint8_t *body = data + 1;
    size_t blen = size - 1;
    etls_ch_t ch;
    int rc = etls_tls_parse_client_hello(body, blen, &ch);
    FUZZ_ASSERT(rc == 0 || ETLS_ERR_IS_ALERT(rc));
    if (rc == 0) {
        FUZZ_ASSERT(ch.session_id_len <= 32 && ch.n_suites <= CH_MAX_LIST && ch.n_shares <= CH_MAX_SHARES &&
                    ch.n_shares <= ch.n_share_entries && ch.n_share_entries <= CH_MAX_SHARE_ENTRIES);
        FUZZ_ASSERT(ch.sni_len <= ETLS_TLS_MAX_SNI);
    }
    uint8_t *msg = malloc(blen + 4), *rec = malloc(blen + 4 + (blen + 4 + frag - 1) / frag * 5 + 10);
    FUZZ_ASSERT(msg && rec);
    msg[0] = 1;
    msg[1] = (uint8_t)(blen >> 16);
    msg[2] = (uint8_t)(blen >> 8);
    msg[3] = (uint8_t)blen;
    memcpy(msg + 4, body, blen);
    size_t n = 0;
    frag = frag < 16384 ? frag : 16384;
    for (size_t off = 0; off < blen + 4;) {
        size_t l = blen + 4 - off < frag ? blen + 4 - off : frag;
        rec[n] = 22;
        rec[n + 1] = 3;
        rec[n + 2] = 1;
        rec[n + 3] = (uint8_t)(l >> 8);
        rec[n + 4] = (uint8_t)l;
        memcpy(rec + n + 5, msg + off, l);
        n += 5 + l;
        off += l;
    }
    fuzz_srv_t *s = fuzz_srv_new();
    rc = fuzz_feed(s, rec, n);
    /* A ClientHello the parser rejects must be rejected by the engine with an alert too. */
    if (etls_tls_parse_client_hello(body, blen, &ch) != 0)
        FUZZ_ASSERT(rc < 0);
    fuzz_srv_free(s);
    free(msg);
    free(rec);
    return 0;
}
