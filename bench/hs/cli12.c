/* The bench client's TLS 1.2 half (cli.h): RFC 5246 with ECDHE (RFC 8422), AEAD records
 * (RFC 5288 AES-GCM with an explicit nonce, RFC 7905 ChaCha20-Poly1305), extended master secret
 * (RFC 7627) and ticket resumption (RFC 5077). Section numbers refer to RFC 5246.
 *
 * Full handshake:  ClientHello -> ServerHello, Certificate, ServerKeyExchange, ServerHelloDone
 *                  (NEED_KX: the caller computes the ECDHE secret) -> ClientKeyExchange,
 *                  ChangeCipherSpec, Finished -> [NewSessionTicket], ChangeCipherSpec, Finished.
 * Resumed:         ClientHello (ticket + our session ID) -> ServerHello echoing the session ID,
 *                  [NewSessionTicket], ChangeCipherSpec, Finished -> ChangeCipherSpec, Finished.
 * Every message is parsed with bounds and must be consumed exactly; anything out of order is
 * unexpected_message. */
#include "cli_internal.h"

#include "common/ct.h"

#include <string.h>

/* Offered to TLS 1.2 servers (§7.4.1.4.1): ECDSA P-256, RSA-PSS and PKCS#1 v1.5 for RSA. */
static const uint16_t sig12[] = {ETLS_SIG_ECDSA_SECP256R1_SHA256, ETLS_SIG_RSA_PSS_RSAE_SHA256,
                                 ETLS_SIG_RSA_PKCS1_SHA256};
#define N_SIG12 (sizeof sig12 / sizeof sig12[0])

enum { EXT_SNI = 0, EXT_GROUPS = 10, EXT_POINT_FORMATS = 11, EXT_SIGALGS = 13, EXT_ALPN = 16,
       EXT_EMS = 23, EXT_TICKET = 35, EXT_RENEG = 0xff01 };

static int fail(etls_cli_conn_t *c, uint8_t desc, etls_tls_buf_t *out)
{
    return etls_cli_fail(c, desc, out);
}

static size_t ext_put(uint8_t *b, size_t n, uint16_t type, const uint8_t *data, size_t len)
{
    put_u(b + n, type, 2);
    put_u(b + n + 2, (uint32_t)len, 2);
    if (len)
        memcpy(b + n + 4, data, len);
    return n + 4 + len;
}

/* Record size added to a plaintext: header, explicit nonce (GCM), tag. */
size_t etls_cli12_overhead(const etls_cli_conn_t *c)
{
    return 5u + c->explicit_nonce + c->tag_len;
}

int etls_cli12_hello(etls_cli_conn_t *c, const uint8_t random[32], etls_tls_buf_t *out)
{
    uint8_t *b = c->ch;
    const etls_cli_ticket_t *t = c->offer;
    if (t && (t->suite == 0 || !etls_cli_suite_is12(t->suite) || t->psk_len != 48 || t->id_len > 1024))
        t = c->offer = NULL; /* not a TLS 1.2 ticket: a full handshake */
    memcpy(c->c_random, random, 32);
    c->sid_len = 0;
    if (t) { /* RFC 5077 §3.4: a session ID of our own, echoed when the ticket is accepted */
        etls_hash(ETLS_HASH_SHA256, random, 32, c->sid);
        c->sid_len = 32;
    }
    size_t el = etls_cli_hello_head(c, random, c->sid, c->sid_len);
    size_t n = etls_cli_ext_sni_alpn(c, b, el + 2);
    /* RFC 8422 §5.1.1: supported_groups also names the curves of ECDSA certificates we accept,
     * so P-256 is listed after X25519; the server must pick our key-share group (the first). */
    uint8_t v[2 + 2 * N_SIG12];
    size_t ng = c->cfg->group == ETLS_TLS_GROUP_SECP256R1 ? 1 : 2;
    put_u(v, (uint32_t)(2 * ng), 2);
    put_u(v + 2, c->cfg->group, 2);
    put_u(v + 4, ETLS_TLS_GROUP_SECP256R1, 2);
    n = ext_put(b, n, EXT_GROUPS, v, 2 + 2 * ng);
    v[0] = 1; /* RFC 8422 §5.1.2: uncompressed only */
    v[1] = 0;
    n = ext_put(b, n, EXT_POINT_FORMATS, v, 2);
    put_u(v, 2 * N_SIG12, 2);
    for (size_t i = 0; i < N_SIG12; i++)
        put_u(v + 2 + 2 * i, sig12[i], 2);
    n = ext_put(b, n, EXT_SIGALGS, v, sizeof v);
    n = ext_put(b, n, EXT_EMS, NULL, 0);
    v[0] = 0; /* RFC 5746 §3.4: empty renegotiated_connection */
    n = ext_put(b, n, EXT_RENEG, v, 1);
    if (t)
        n = ext_put(b, n, EXT_TICKET, t->id, t->id_len);
    else if (c->ticket_out)
        n = ext_put(b, n, EXT_TICKET, NULL, 0);
    etls_cli_hello_lengths(c, el, n);
    return etls_cli_hello_out(c, n, out);
}

/* Keys from the master secret (§6.3): client_write_key, server_write_key, client_write_IV,
 * server_write_IV; GCM takes a 4-byte salt (RFC 5288 §3), ChaCha20 a 12-byte IV (RFC 7905). */
static int install_keys(etls_cli_conn_t *c)
{
    size_t kl = etls_aead_key_len(c->aead), il = c->explicit_nonce ? 4 : 12;
    uint8_t kb[2 * ETLS_AEAD_KEY_MAX + 24];
    int rc = etls_tls12_prf(c->hash, c->master, 48, "key expansion", c->s_random, 32, c->c_random,
                            32, kb, 2 * kl + 2 * il);
    memset(c->wr.iv, 0, sizeof c->wr.iv);
    memset(c->rd.iv, 0, sizeof c->rd.iv);
    memcpy(c->wr.iv, kb + 2 * kl, il);
    memcpy(c->rd.iv, kb + 2 * kl + il, il);
    if (rc == 0)
        rc = etls_aead_key_init(c->eng, &c->wr.key, c->aead, kb);
    if (rc == 0)
        rc = etls_aead_key_init(c->eng, &c->rd.key, c->aead, kb + kl);
    c->wr.seq = c->rd.seq = 0;
    etls_wipe(kb, sizeof kb);
    return rc;
}

/* ServerHello (§7.4.1.3): an offered suite, null compression, only extensions we offered. */
static int on_sh(etls_cli_conn_t *c, rd_t *m, etls_tls_buf_t *out)
{
    uint16_t ver = (uint16_t)rd_u(m, 2);
    const uint8_t *random = rd_take(m, 32);
    rd_t sid = rd_vec(m, 1);
    uint16_t suite = (uint16_t)rd_u(m, 2);
    uint8_t comp = (uint8_t)rd_u(m, 1);
    rd_t ext = m->n ? rd_vec(m, 2) : (rd_t){NULL, 0, 0};
    if (m->bad || ext.bad || m->n || sid.n > 32)
        return fail(c, ETLS_ALERT_DECODE_ERROR, out);
    int offered = 0;
    for (size_t i = 0; i < c->cfg->n_suites; i++)
        offered |= c->cfg->suites[i] == suite;
    if (ver != ETLS_TLS_VERSION_12)
        return fail(c, ETLS_ALERT_PROTOCOL_VERSION, out);
    if (comp != 0 || !offered || !etls_cli_suite_is12(suite))
        return fail(c, ETLS_ALERT_ILLEGAL_PARAMETER, out);
    uint32_t seen = 0;
    while (ext.n) {
        uint16_t t = (uint16_t)rd_u(&ext, 2);
        rd_t d = rd_vec(&ext, 2);
        if (ext.bad)
            return fail(c, ETLS_ALERT_DECODE_ERROR, out);
        uint32_t bit = t == EXT_SNI ? 1 : t == EXT_POINT_FORMATS ? 2 : t == EXT_ALPN ? 4
                     : t == EXT_EMS ? 8 : t == EXT_TICKET ? 16 : t == EXT_RENEG ? 32 : 0;
        if (!bit || (t == EXT_ALPN && !c->cfg->alpn_len) || (t == EXT_TICKET && !c->offer && !c->ticket_out))
            return fail(c, ETLS_ALERT_UNSUPPORTED_EXTENSION, out);
        if (seen & bit)
            return fail(c, ETLS_ALERT_ILLEGAL_PARAMETER, out);
        seen |= bit;
        if ((t == EXT_SNI || t == EXT_EMS || t == EXT_TICKET) && d.n)
            return fail(c, ETLS_ALERT_DECODE_ERROR, out);
        if (t == EXT_RENEG && (d.n != 1 || d.p[0] != 0)) /* RFC 5746 §3.4 */
            return fail(c, ETLS_ALERT_HANDSHAKE_FAILURE, out);
        if (t == EXT_ALPN && etls_cli_take_alpn(c, &d, out) < 0)
            return c->err;
    }
    if (!(seen & 32)) /* RFC 5746 §3.4: we refuse servers without secure renegotiation */
        return fail(c, ETLS_ALERT_HANDSHAKE_FAILURE, out);
    memcpy(c->s_random, random, 32);
    c->suite = suite;
    c->ems = (seen & 8) != 0;
    c->ticket_ext = (seen & 16) != 0;
    ETLS_GUARD(etls_cli_suite_params(suite, &c->aead, &c->hash));
    c->tag_len = (uint8_t)etls_aead_tag_len(c->aead);
    c->explicit_nonce = c->aead == ETLS_AEAD_CHACHA20POLY1305 ? 0 : 8;
    etls_hash_init(&c->th, c->hash);
    etls_hash_update(&c->th, c->ch, c->ch_len);
    c->resumed = c->offer && sid.n == c->sid_len && c->sid_len && !memcmp(sid.p, c->sid, sid.n);
    if (!c->resumed) {
        c->state = S_WAIT_CERT;
        return 0;
    }
    /* RFC 7627 §5.3: a session with the extended master secret resumes only with it */
    if (c->offer->suite != suite || !c->ems)
        return fail(c, ETLS_ALERT_HANDSHAKE_FAILURE, out);
    memcpy(c->master, c->offer->psk, 48);
    if (install_keys(c) != 0)
        return fail(c, ETLS_ALERT_INTERNAL_ERROR, out);
    c->state = c->ticket_ext ? S12_WAIT_NST : S12_WAIT_CCS;
    return 0;
}

/* Certificate (§7.4.2): a non-empty chain, each entry non-empty; verified when asked. */
static int on_cert(etls_cli_conn_t *c, rd_t *m, etls_tls_buf_t *out)
{
    rd_t list = rd_vec(m, 3);
    if (m->bad || m->n)
        return fail(c, ETLS_ALERT_DECODE_ERROR, out);
    ETLS_GUARD(etls_cli_take_chain(c, &list, 0, out));
    c->state = S12_WAIT_SKE;
    return 0;
}

/* ServerKeyExchange (RFC 8422 §5.4): named_curve, our group, a point of its size, a scheme we
 * offered and (verify mode) its signature over client_random || server_random || params. */
static int on_ske(etls_cli_conn_t *c, rd_t *m, etls_tls_buf_t *out)
{
    const uint8_t *params = m->p;
    uint8_t type = (uint8_t)rd_u(m, 1);
    uint16_t group = (uint16_t)rd_u(m, 2);
    rd_t point = rd_vec(m, 1);
    size_t params_len = (size_t)(m->p - params);
    uint16_t scheme = (uint16_t)rd_u(m, 2);
    rd_t sig = rd_vec(m, 2);
    if (m->bad || m->n || !sig.n)
        return fail(c, ETLS_ALERT_DECODE_ERROR, out);
    int offered = 0;
    for (size_t i = 0; i < N_SIG12; i++)
        offered |= sig12[i] == scheme;
    if (type != 3 || group != c->cfg->group || point.n != c->share->pub_len || !offered)
        return fail(c, ETLS_ALERT_ILLEGAL_PARAMETER, out);
    if (c->leaf) {
        uint8_t content[64 + 4 + ETLS_P256_POINT_LEN];
        memcpy(content, c->c_random, 32);
        memcpy(content + 32, c->s_random, 32);
        memcpy(content + 64, params, params_len);
        int rc = etls_pkey_verify(c->leaf, scheme, content, 64 + params_len, sig.p, sig.n);
        etls_pkey_free(c->leaf);
        c->leaf = NULL;
        if (rc != 0)
            return fail(c, ETLS_ALERT_DECRYPT_ERROR, out);
    }
    memcpy(c->peer_share, point.p, point.n);
    c->peer_share_len = (uint8_t)point.n;
    c->state = S12_WAIT_SHD;
    return 0;
}

/* ServerHelloDone (§7.4.5): empty; the caller computes the ECDHE secret next. */
static int on_shd(etls_cli_conn_t *c, rd_t *m, etls_tls_buf_t *out)
{
    if (m->n)
        return fail(c, ETLS_ALERT_DECODE_ERROR, out);
    c->state = S_NEED_KX;
    return ETLS_CLI_NEED_KX;
}

/* NewSessionTicket (RFC 5077 §3.3): kept, with this session's master secret, when asked for. */
static int on_nst(etls_cli_conn_t *c, rd_t *m, etls_tls_buf_t *out)
{
    uint32_t lifetime = rd_u(m, 4);
    rd_t ticket = rd_vec(m, 2);
    if (m->bad || m->n)
        return fail(c, ETLS_ALERT_DECODE_ERROR, out);
    etls_cli_ticket_t *t = c->ticket_out;
    c->state = S12_WAIT_CCS;
    if (!t || !ticket.n || ticket.n > ETLS_CLI_TICKET_MAX || !c->ems)
        return 0; /* an empty ticket: the server will not resume us (§3.3) */
    t->suite = c->suite;
    t->psk_len = 48;
    memcpy(t->psk, c->master, 48);
    t->age_add = 0;
    t->lifetime_s = lifetime ? lifetime : 300; /* §3.3: 0 = unspecified */
    t->received_ms = c->offer_now_ms;
    t->id_len = (uint16_t)ticket.n;
    memcpy(t->id, ticket.p, ticket.n);
    c->got_ticket = 1;
    return 0;
}

/* verify_data (§7.4.9) over the transcript so far. */
static int finished_vd(etls_cli_conn_t *c, const char *label, uint8_t vd[ETLS_TLS12_VERIFY_LEN])
{
    uint8_t th[ETLS_HASH_MAX_LEN];
    etls_hash_peek(&c->th, th);
    return etls_tls12_prf(c->hash, c->master, 48, label, th, etls_hash_len(c->hash), (const uint8_t *)"", 0, vd,
                          ETLS_TLS12_VERIFY_LEN);
}

/* ChangeCipherSpec, then our Finished under the new keys (part of the transcript). */
static int write_ccs_finished(etls_cli_conn_t *c, etls_tls_buf_t *out)
{
    static const uint8_t ccs[1] = {1};
    uint8_t fin[4 + ETLS_TLS12_VERIFY_LEN] = {HS_FIN, 0, 0, ETLS_TLS12_VERIFY_LEN};
    ETLS_ENSURE(buf_room(out) >= 6 + 4 + sizeof fin + etls_cli12_overhead(c), ETLS_ERR_LIMIT);
    ETLS_GUARD(etls_cli_put_record(c, CT_CCS, ccs, 1, out));
    ETLS_GUARD(finished_vd(c, "client finished", fin + 4));
    etls_hash_update(&c->th, fin, sizeof fin);
    c->wr.active = 1;
    int rc = etls_cli_put_record(c, CT_HS, fin, sizeof fin, out);
    etls_wipe(fin, sizeof fin);
    return rc;
}

/* Server Finished: checked in constant time; a resumed handshake answers with ours. */
static int on_fin(etls_cli_conn_t *c, rd_t *m, etls_tls_buf_t *out)
{
    uint8_t vd[ETLS_TLS12_VERIFY_LEN];
    if (m->n != ETLS_TLS12_VERIFY_LEN)
        return fail(c, ETLS_ALERT_DECODE_ERROR, out);
    if (finished_vd(c, "server finished", vd) != 0)
        return fail(c, ETLS_ALERT_INTERNAL_ERROR, out);
    int ok = etls_ct_memeq(vd, m->p, sizeof vd);
    etls_wipe(vd, sizeof vd);
    if (!ok)
        return fail(c, ETLS_ALERT_DECRYPT_ERROR, out);
    if (c->resumed) {
        etls_hash_update(&c->th, m->p - 4, 4 + ETLS_TLS12_VERIFY_LEN);
        if (write_ccs_finished(c, out) != 0)
            return fail(c, ETLS_ALERT_INTERNAL_ERROR, out);
    }
    c->state = S_CONNECTED;
    return 0;
}

typedef int (*hs12_fn)(etls_cli_conn_t *c, rd_t *m, etls_tls_buf_t *out);

/* state -> the message it accepts; the transcript takes each message after its handler except
 * Finished (checked against the hash without it). After the handshake: nothing (renegotiation
 * is not supported: a HelloRequest is unexpected). */
static const struct {
    uint8_t state, type;
    hs12_fn fn;
} hs12_table[] = {
    {S_WAIT_SH, HS_SH, on_sh},        {S_WAIT_CERT, HS_CERT, on_cert}, {S12_WAIT_SKE, HS12_SKE, on_ske},
    {S12_WAIT_SHD, HS12_SHD, on_shd}, {S12_WAIT_NST, HS_NST, on_nst},  {S_WAIT_FIN, HS_FIN, on_fin},
};

int etls_cli12_dispatch(etls_cli_conn_t *c, const uint8_t *msg, size_t len, etls_tls_buf_t *out)
{
    for (size_t i = 0; i < sizeof hs12_table / sizeof hs12_table[0]; i++) {
        if (hs12_table[i].state != c->state || hs12_table[i].type != msg[0])
            continue;
        rd_t m = {msg + 4, len - 4, 0};
        int rc = hs12_table[i].fn(c, &m, out);
        if (rc >= 0 && msg[0] != HS_FIN)
            etls_hash_update(&c->th, msg, len);
        return rc;
    }
    return fail(c, ETLS_ALERT_UNEXPECTED_MESSAGE, out);
}

int etls_cli12_kx_done(etls_cli_conn_t *c, const uint8_t *shared, size_t len, etls_tls_buf_t *out)
{
    uint8_t cke[4 + 1 + ETLS_P256_POINT_LEN];
    size_t pl = c->share->pub_len;
    cke[0] = HS12_CKE;
    put_u(cke + 1, (uint32_t)(1 + pl), 3);
    cke[4] = (uint8_t)pl;
    memcpy(cke + 5, c->share->pub, pl);
    ETLS_ENSURE(buf_room(out) >= 5 + 5 + pl, ETLS_ERR_LIMIT);
    ETLS_GUARD(etls_cli_put_record(c, CT_HS, cke, 5 + pl, out));
    etls_hash_update(&c->th, cke, 5 + pl);
    int rc;
    if (c->ems) { /* RFC 7627 §4: over the session hash up to ClientKeyExchange */
        uint8_t th[ETLS_HASH_MAX_LEN];
        etls_hash_peek(&c->th, th);
        rc = etls_tls12_prf(c->hash, shared, len, "extended master secret", th,
                            etls_hash_len(c->hash), (const uint8_t *)"", 0, c->master, 48);
    } else {
        rc = etls_tls12_prf(c->hash, shared, len, "master secret", c->c_random, 32, c->s_random, 32,
                            c->master, 48);
    }
    if (rc == 0)
        rc = install_keys(c);
    if (rc == 0)
        rc = write_ccs_finished(c, out);
    if (rc != 0)
        return fail(c, ETLS_ALERT_INTERNAL_ERROR, out);
    c->state = c->ticket_ext ? S12_WAIT_NST : S12_WAIT_CCS;
    return 0;
}

/* The per-record nonce: GCM salt || explicit (our sequence number), ChaCha20 IV ^ sequence. */
static void nonce12(const etls_cli_conn_t *c, const etls_cli_dir_t *d, const uint8_t *explicit,
                    uint8_t n[12])
{
    memcpy(n, d->iv, 12);
    if (c->explicit_nonce) {
        memcpy(n + 4, explicit, 8);
        return;
    }
    for (int i = 0; i < 8; i++)
        n[11 - i] ^= (uint8_t)(d->seq >> (8 * i));
}

/* additional_data (§6.2.3.3): seq_num || type || version || plaintext length. */
static void aad12(uint64_t seq, uint8_t type, size_t len, uint8_t aad[13])
{
    put_u(aad, (uint32_t)(seq >> 32), 4);
    put_u(aad + 4, (uint32_t)seq, 4);
    aad[8] = type;
    aad[9] = 3;
    aad[10] = 3;
    put_u(aad + 11, (uint32_t)len, 2);
}

int etls_cli12_seal(etls_cli_conn_t *c, uint8_t type, const uint8_t *data, size_t len,
                    etls_tls_buf_t *out)
{
    size_t ex = c->explicit_nonce;
    ETLS_ENSURE(buf_room(out) >= etls_cli12_overhead(c) + len, ETLS_ERR_LIMIT);
    uint8_t *r = out->base + out->len, n[12], aad[13];
    memmove(r + 5 + ex, data, len);
    r[0] = type;
    r[1] = 3;
    r[2] = 3;
    put_u(r + 3, (uint32_t)(ex + len + c->tag_len), 2);
    if (ex) { /* the explicit nonce (GCM): our sequence number */
        put_u(r + 5, (uint32_t)(c->wr.seq >> 32), 4);
        put_u(r + 9, (uint32_t)c->wr.seq, 4);
    }
    nonce12(c, &c->wr, r + 5, n);
    aad12(c->wr.seq++, type, len, aad);
    ETLS_GUARD(etls_aead_seal(c->eng, &c->wr.key, n, aad, 13, r + 5 + ex, len, r + 5 + ex));
    out->len += etls_cli12_overhead(c) + len;
    return 0;
}

/* One protected record opened in place (the plaintext at rec + 5 + explicit nonce). */
static int open12(etls_cli_conn_t *c, uint8_t *rec, size_t rl, const uint8_t **pt, size_t *len,
                  etls_tls_buf_t *out)
{
    size_t ex = c->explicit_nonce;
    uint8_t n[12], aad[13];
    if (rl < ex + c->tag_len)
        return fail(c, ETLS_ALERT_BAD_RECORD_MAC, out);
    size_t l = rl - ex - c->tag_len;
    if (l > ETLS_TLS_MAX_PLAINTEXT)
        return fail(c, ETLS_ALERT_RECORD_OVERFLOW, out);
    nonce12(c, &c->rd, rec + 5, n);
    aad12(c->rd.seq++, rec[0], l, aad);
    if (etls_aead_open(c->eng, &c->rd.key, n, aad, 13, rec + 5 + ex, rl - ex, rec + 5 + ex) != 0)
        return fail(c, ETLS_ALERT_BAD_RECORD_MAC, out);
    *pt = rec + 5 + ex;
    *len = l;
    return 0;
}

int etls_cli12_on_record(etls_cli_conn_t *c, uint8_t *rec, size_t rl, etls_tls_buf_t *out,
                         etls_tls_buf_t *app)
{
    uint8_t type = rec[0];
    const uint8_t *pt = rec + 5;
    size_t l = rl;
    if (rec[2] != 3 && !(c->state == S_WAIT_SH && rec[2] <= 3))
        return fail(c, ETLS_ALERT_PROTOCOL_VERSION, out);
    if (type == CT_CCS) { /* §7.1: only where the server's keys change, never inside a message */
        if (c->state != S12_WAIT_CCS || rl != 1 || rec[5] != 1 || c->hs_len)
            return fail(c, ETLS_ALERT_UNEXPECTED_MESSAGE, out);
        c->rd.active = 1;
        c->state = S_WAIT_FIN;
        return 0;
    }
    if (c->rd.active)
        ETLS_GUARD(open12(c, rec, rl, &pt, &l, out));
    return etls_cli_on_content(c, type, pt, l, out, app);
}
