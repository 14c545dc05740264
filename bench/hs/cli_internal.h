/* Internals shared by the bench client's TLS 1.3 (cli.c) and TLS 1.2 (cli12.c) halves: the
 * connection states, the bounded reader and writer, and the functions each half offers the other.
 * Not part of the client's interface (cli.h). */
#ifndef ETLS_BENCH_HS_CLI_INTERNAL_H
#define ETLS_BENCH_HS_CLI_INTERNAL_H

#include "cli.h"

enum {
    S_START = 0,
    S_WAIT_SH,
    S_NEED_KX,
    S_WAIT_EE,
    S_WAIT_CERT,
    S_WAIT_CV,
    S_WAIT_FIN,
    S_CONNECTED,
    S_FAILED,
    /* TLS 1.2 only (cli12.c); S_WAIT_SH, S_NEED_KX, S_WAIT_CERT, S_WAIT_FIN and S_CONNECTED are
     * shared with TLS 1.3 */
    S12_WAIT_SKE,
    S12_WAIT_SHD,
    S12_WAIT_NST,
    S12_WAIT_CCS,
};

enum { CT_CCS = 20, CT_ALERT = 21, CT_HS = 22, CT_APP = 23 };
enum { HS_SH = 2, HS_NST = 4, HS_EE = 8, HS_CERT = 11, HS_CR = 13, HS_CV = 15, HS_FIN = 20, HS_KU = 24,
       HS12_SKE = 12, HS12_SHD = 14, HS12_CKE = 16 };

/* ---- bounded reader ------------------------------------------------------------------------ */

typedef struct rd {
    const uint8_t *p;
    size_t n;
    int bad;
} rd_t;

static inline uint32_t rd_u(rd_t *r, size_t w)
{
    uint32_t v = 0;
    if (r->n < w) {
        r->bad = 1;
        r->n = 0;
        return 0;
    }
    for (size_t i = 0; i < w; i++)
        v = v << 8 | r->p[i];
    r->p += w;
    r->n -= w;
    return v;
}

static inline const uint8_t *rd_take(rd_t *r, size_t n)
{
    if (r->n < n) {
        r->bad = 1;
        r->n = 0;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->n -= n;
    return p;
}

/* A sub-reader over a vector with a w-byte length prefix. */
static inline rd_t rd_vec(rd_t *r, size_t w)
{
    rd_t s = {NULL, 0, 0};
    size_t n = rd_u(r, w);
    s.p = rd_take(r, n);
    s.n = s.p ? n : 0;
    s.bad = r->bad;
    return s;
}

/* ---- writer -------------------------------------------------------------------------------- */

static inline void put_u(uint8_t *p, uint32_t v, size_t w)
{
    for (size_t i = 0; i < w; i++)
        p[i] = (uint8_t)(v >> (8 * (w - 1 - i)));
}

static inline size_t buf_room(const etls_tls_buf_t *b)
{
    return b->cap - b->len;
}


/* cli.c */
/* Records a fatal error and appends the alert when there is room (best effort). */
int etls_cli_fail(etls_cli_conn_t *c, uint8_t desc, etls_tls_buf_t *out);
/* One record of `type`: plaintext before the write keys are set, else sealed (either version). */
int etls_cli_put_record(etls_cli_conn_t *c, uint8_t type, const uint8_t *data, size_t len,
                        etls_tls_buf_t *out);
/* The server's ALPN extension body (RFC 7301 §3.1): one protocol, one we offered; kept in c. */
int etls_cli_take_alpn(etls_cli_conn_t *c, rd_t *d, etls_tls_buf_t *out);
/* The ClientHello in c->ch (either version): its fixed part (legacy_version 0x0303, random,
 * session ID, the configured suites, null compression) returning where the extensions' length
 * goes; the two lengths once the extensions end at n; the record (version 0x0301) into out. */
size_t etls_cli_hello_head(etls_cli_conn_t *c, const uint8_t random[32], const uint8_t *sid, size_t sid_len);
void etls_cli_hello_lengths(etls_cli_conn_t *c, size_t el, size_t n);
int etls_cli_hello_out(etls_cli_conn_t *c, size_t n, etls_tls_buf_t *out);
/* A Certificate message's certificate_list (RFC 8446 §4.4.2 with per-entry extensions when
 * entry_ext, RFC 5246 §7.4.2 without): non-empty, no empty entry; handed to the verifier (the
 * leaf key kept in c->leaf). */
int etls_cli_take_chain(etls_cli_conn_t *c, rd_t *list, int entry_ext, etls_tls_buf_t *out);
/* One record's alert (either version). */
int etls_cli_on_alert(etls_cli_conn_t *c, const uint8_t *p, size_t n, etls_tls_buf_t *out);
/* One record's plaintext by content type: handshake bytes, an alert, or application data
 * (appended to app; only once connected and with no handshake message pending). */
int etls_cli_on_content(etls_cli_conn_t *c, uint8_t type, const uint8_t *pt, size_t l,
                        etls_tls_buf_t *out, etls_tls_buf_t *app);
/* Handshake bytes of one record: reassembled, every complete message dispatched. */
int etls_cli_on_hs_bytes(etls_cli_conn_t *c, const uint8_t *p, size_t n, etls_tls_buf_t *out);
/* The ClientHello's server_name and ALPN extensions (either version), appended at b + n. */
size_t etls_cli_ext_sni_alpn(const etls_cli_conn_t *c, uint8_t *b, size_t n);

/* The engine's TLS 1.2 PRF (RFC 5246 §5; dataplane/tls/tls12_ks.c, declared in its
 * tls_internal.h, whose record and extension constants clash with the client's own): the one
 * engine function the client links. */
int etls_tls12_prf(etls_hash_alg_t hash, const uint8_t *secret, size_t secret_len,
                   const char *label, const uint8_t *seed1, size_t seed1_len,
                   const uint8_t *seed2, size_t seed2_len, uint8_t *out, size_t out_len);
#define ETLS_TLS12_VERIFY_LEN 12

/* cli12.c */
int etls_cli12_hello(etls_cli_conn_t *c, const uint8_t random[32], etls_tls_buf_t *out);
int etls_cli12_dispatch(etls_cli_conn_t *c, const uint8_t *msg, size_t len, etls_tls_buf_t *out);
int etls_cli12_on_record(etls_cli_conn_t *c, uint8_t *rec, size_t rl, etls_tls_buf_t *out,
                         etls_tls_buf_t *app);
int etls_cli12_kx_done(etls_cli_conn_t *c, const uint8_t *shared, size_t len, etls_tls_buf_t *out);
int etls_cli12_seal(etls_cli_conn_t *c, uint8_t type, const uint8_t *data, size_t len,
                    etls_tls_buf_t *out);
size_t etls_cli12_overhead(const etls_cli_conn_t *c);

#endif
