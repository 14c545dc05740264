/* The sans-I/O entry points: records in, records and application data out (RFC 8446 §5).
 * Handshake messages are reassembled here and handed to the state table (hs_server.c). */
#include "tls/tls_internal.h"

#include <stddef.h>
#include <stdlib.h>

#define NEED_ROOM 1 /* internal: stop reading, `app` has no room for the next record */
#define EARLY_SKIP_MAX (64 * 1024)

/* Clears (wipe = 0) or wipes the connection except its two AEAD key structs, which are two
 * thirds of it: a connection serves one short exchange as often as a long one, and these
 * ~2 KiB are cleared by the AEAD calls anyway (etls_aead_key_init clears the storage before
 * use, etls_aead_key_wipe after). */
static void clear_but_keys(etls_tls_conn_t *c, int wipe)
{
    uint8_t *p = (uint8_t *)c;
    size_t r0 = offsetof(etls_tls_conn_t, rd.key), r1 = offsetof(etls_tls_conn_t, wr.key);
    size_t k = sizeof c->rd.key;
    size_t at[3] = {0, r0 + k, r1 + k}, len[3] = {r0, r1 - (r0 + k), sizeof *c - (r1 + k)};
    for (int i = 0; i < 3; i++) {
        if (wipe)
            etls_wipe(p + at[i], len[i]);
        else
            memset(p + at[i], 0, len[i]);
    }
}

int etls_tls_conn_init(etls_tls_conn_t *c, const etls_tls_server_ctx_t *ctx, etls_tls_env_t *env)
{
    clear_but_keys(c, 0);
    /* a key with alg 0 holds nothing: etls_tls_dir_set and etls_aead_key_wipe skip or clear it */
    c->rd.key.alg = c->wr.key.alg = 0;
    c->rd.key.impl = c->wr.key.impl = 0;
    c->ctx = ctx;
    c->env = env;
    c->waiter.user = c;
    c->state = ST_CLIENT_HELLO;
    c->alert_sent = -1;
    c->peer_alert = -1;
    c->alpn = -1;
    c->send_max = ETLS_TLS_MAX_PLAINTEXT;
    c->recv_max = ETLS_TLS_MAX_PLAINTEXT;
    return 0;
}

void etls_tls_conn_wipe(etls_tls_conn_t *c)
{
    if (c->env && c->env->batch)
        etls_batch_cancel(c->env->batch, &c->waiter);
    etls_tls_hs_release(c);
    etls_aead_key_wipe(&c->rd.key); /* wipes the whole key struct */
    etls_aead_key_wipe(&c->wr.key);
    clear_but_keys(c, 1);
}

etls_tls_conn_t *etls_tls_conn_from_waiter(etls_batch_waiter_t *w)
{
    return (etls_tls_conn_t *)w->user;
}

/* Errors that end the connection become sticky and send their alert; the rest are reported
 * as they are (the caller may retry). */
static int finish(etls_tls_conn_t *c, etls_tls_buf_t *out, int rc)
{
    if (rc >= 0 || rc == ETLS_ERR_IN_PROGRESS || rc == ETLS_ERR_LIMIT || rc == ETLS_ERR_INVALID)
        return rc < 0 ? rc : 0;
    return etls_tls_fail(c, out, rc);
}

/* ---- sending helpers ------------------------------------------------------------------------ */

/* §4.6.3 / §7.2: next application traffic secret for our direction. */
static int update_write_key(etls_tls_conn_t *c)
{
    ETLS_ENSURE(etls_tls13_update_secret(c->hash, c->wr.secret) == 0, ALERT(INTERNAL_ERROR));
    return etls_tls_dir_set(c, &c->wr, c->wr.secret);
}

static int write_key_update(etls_tls_conn_t *c, etls_tls_buf_t *out, int request)
{
    const uint8_t msg[5] = {HT_KEY_UPDATE, 0, 0, 1, (uint8_t)(request ? 1 : 0)};
    ETLS_GUARD(etls_tls_write_record(c, out, CT_HANDSHAKE, msg, sizeof msg));
    return update_write_key(c);
}

/* The KeyUpdate owed to the peer (it asked, §4.6.3, or our key is worn, §5.5). Written only
 * right before our next application data, never as a reaction to input: however many
 * update_requested messages arrive, and however they are cut into records and reads, they
 * are answered by one KeyUpdate (§4.6.3 lets a pending request be coalesced). */
static int flush_owed(etls_tls_conn_t *c, etls_tls_buf_t *out)
{
    if (!c->ku_owed || c->state != ST_ESTABLISHED || c->close_sent)
        return 0;
    ETLS_ENSURE(out->cap - out->len >= 64, ETLS_ERR_LIMIT);
    c->ku_owed = 0;
    return write_key_update(c, out, 0);
}

/* Publishes the records an earlier send parked once the batch sealed them. */
static int finalize_seals(etls_tls_conn_t *c, etls_tls_buf_t *out)
{
    if (!c->n_seal)
        return 0;
    ETLS_ENSURE(out->base == c->seal_buf && out->len == c->seal_base, ETLS_ERR_INVALID);
    for (size_t i = 0; i < c->n_seal; i++)
        ETLS_ENSURE(c->seal_status[i] == 0, ALERT(INTERNAL_ERROR));
    out->len += c->seal_bytes;
    c->n_seal = 0;
    c->seal_bytes = 0;
    return 0;
}

/* ---- receiving ----------------------------------------------------------------------------- */

static int alert_input(etls_tls_conn_t *c, const uint8_t *p, size_t n)
{
    ETLS_ENSURE(n == 2, ALERT(DECODE_ERROR));
    if (p[1] == ETLS_ALERT_CLOSE_NOTIFY) { /* §6.1: later data is ignored */
        c->peer_closed = 1;
        return 0;
    }
    if (p[1] == ETLS_ALERT_USER_CANCELED)
        return 0; /* §6.1: a warning; the peer follows it with close_notify */
    c->peer_alert = p[1]; /* §6.2: every other alert is fatal in TLS 1.3 */
    return ETLS_TLS_ERR_PEER_ALERT(p[1]);
}

static int dispatch_msg(etls_tls_conn_t *c, const uint8_t *body, size_t left_in_record,
                        etls_tls_buf_t *out)
{
    uint8_t hdr[4];
    memcpy(hdr, c->msg_hdr, 4);
    uint32_t len = (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    c->msg_hdr_len = 0;
    c->msg_have = 0;
    /* §5.1: a message before a key change must end its record. */
    ETLS_ENSURE(!etls_tls_key_change_msg(hdr[0]) || left_in_record == 0, ALERT(UNEXPECTED_MESSAGE));
    return etls_tls_handshake_msg(c, hdr, body, len, out);
}

/* Buffers part of a message that spans records: tiny post-handshake messages in the
 * connection, a fragmented ClientHello in a buffer lent for that message only (hs_pool.c:
 * sized to it, large ones capped per worker). */
static int buffer_fragment(etls_tls_conn_t *c, uint32_t len, const uint8_t **p, size_t *n,
                           uint8_t **dst)
{
    if (len <= sizeof c->msg_small) {
        *dst = c->msg_small;
    } else {
        ETLS_ENSURE(c->state < ST_ESTABLISHED, ALERT(UNEXPECTED_MESSAGE));
        ETLS_GUARD(etls_tls_msg_buf_get(c, len, dst));
    }
    size_t take = len - c->msg_have < *n ? len - c->msg_have : *n;
    memcpy(*dst + c->msg_have, *p, take);
    c->msg_have += (uint32_t)take;
    *p += take;
    *n -= take;
    return 0;
}

/* §5.1: handshake messages may be coalesced into one record or fragmented across several. */
static int hs_input(etls_tls_conn_t *c, const uint8_t *p, size_t n, etls_tls_buf_t *out)
{
    while (n) {
        if (c->msg_hdr_len < 4) {
            size_t take = 4u - c->msg_hdr_len < n ? 4u - c->msg_hdr_len : n;
            memcpy(c->msg_hdr + c->msg_hdr_len, p, take);
            c->msg_hdr_len = (uint8_t)(c->msg_hdr_len + take);
            p += take;
            n -= take;
            if (c->msg_hdr_len < 4)
                return 0;
            uint32_t l = (uint32_t)c->msg_hdr[1] << 16 | (uint32_t)c->msg_hdr[2] << 8 | c->msg_hdr[3];
            ETLS_GUARD(etls_tls_handshake_check(c, c->msg_hdr[0], l));
        }
        uint32_t len = (uint32_t)c->msg_hdr[1] << 16 | (uint32_t)c->msg_hdr[2] << 8 | c->msg_hdr[3];
        if (c->msg_have == 0 && n >= len) { /* whole message in this record: no copy */
            const uint8_t *body = p;
            p += len;
            n -= len;
            ETLS_GUARD(dispatch_msg(c, body, n, out));
            continue;
        }
        uint8_t *dst;
        ETLS_GUARD(buffer_fragment(c, len, &p, &n, &dst));
        if (c->msg_have < len)
            return 0;
        int rc = dispatch_msg(c, dst, n, out);
        if (dst != c->msg_small) /* the ClientHello was parsed: what it needs is copied */
            etls_tls_msg_buf_put(c);
        ETLS_GUARD(rc);
    }
    return 0;
}

/* One record's content, after decryption and padding removal when protected. */
static int content(etls_tls_conn_t *c, uint8_t type, const uint8_t *p, size_t n,
                   etls_tls_buf_t *out, etls_tls_buf_t *app, int prot)
{
    ETLS_ENSURE(type == CT_HANDSHAKE || c->msg_hdr_len == 0, ALERT(UNEXPECTED_MESSAGE));
    /* §5.1 / §5.4: zero-length Handshake and Alert fragments MUST NOT be sent, protected or
     * not (padding removed): a message of the wrong type, like check_header says for the
     * unprotected ones, not a malformed alert. Only application data may be empty. */
    ETLS_ENSURE(n > 0 || type == CT_APPLICATION_DATA, ALERT(UNEXPECTED_MESSAGE));
    switch (type) {
    case CT_HANDSHAKE:
        return hs_input(c, p, n, out);
    case CT_ALERT:
        return alert_input(c, p, n);
    case CT_CHANGE_CIPHER_SPEC: /* §5: one byte 0x01, unprotected, between the hellos and Finished */
        ETLS_ENSURE(!prot && n == 1 && p[0] == 1, ALERT(UNEXPECTED_MESSAGE));
        ETLS_ENSURE(c->state == ST_CLIENT_HELLO2 || c->state == ST_CLIENT_FINISHED ||
                        c->state == ST_CLIENT_CERT, ALERT(UNEXPECTED_MESSAGE));
        return 0;
    case CT_APPLICATION_DATA:
        ETLS_ENSURE(prot && c->state == ST_ESTABLISHED, ALERT(UNEXPECTED_MESSAGE));
        if (!c->peer_closed) {
            memmove(app->base + app->len, p, n);
            app->len += n;
        }
        return 0;
    default:
        return ALERT(UNEXPECTED_MESSAGE);
    }
}

int etls_tls_content(etls_tls_conn_t *c, uint8_t type, const uint8_t *p, size_t n,
                     etls_tls_buf_t *out, etls_tls_buf_t *app, int prot)
{
    return content(c, type, p, n, out, app, prot);
}

/* §5.1 / §5.2 header checks, before waiting for or touching the body. */
static int check_header(const etls_tls_conn_t *c, uint8_t type, size_t len)
{
    ETLS_ENSURE(type >= CT_CHANGE_CIPHER_SPEC && type <= CT_APPLICATION_DATA, ALERT(UNEXPECTED_MESSAGE));
    if (c->rd.active && type == CT_APPLICATION_DATA) {
        ETLS_ENSURE(len <= ETLS_TLS_MAX_CIPHERTEXT, ALERT(RECORD_OVERFLOW));
        ETLS_ENSURE(len <= (size_t)c->recv_max + 1 + c->tag_len, ALERT(RECORD_OVERFLOW));
        /* Shorter than a tag: cannot authenticate. A bare tag can, and opens to an empty
         * TLSInnerPlaintext with no content type: unexpected_message (§5.4), like all-zero
         * padding, once it has been authenticated. */
        ETLS_ENSURE(len >= c->tag_len, ALERT(BAD_RECORD_MAC));
        return 0;
    }
    ETLS_ENSURE(len <= ETLS_TLS_MAX_PLAINTEXT, ALERT(RECORD_OVERFLOW));
    /* Once the client has handshake keys only change_cipher_spec and, while the handshake
     * lasts, an alert from a client that could not derive keys may come unprotected. */
    ETLS_ENSURE(type != CT_HANDSHAKE || !c->rd.active, ALERT(UNEXPECTED_MESSAGE));
    ETLS_ENSURE(type != CT_ALERT || c->state != ST_ESTABLISHED, ALERT(UNEXPECTED_MESSAGE));
    ETLS_ENSURE(len > 0 || type == CT_APPLICATION_DATA, ALERT(UNEXPECTED_MESSAGE));
    return 0;
}

/* §4.2.10: 0-RTT we did not accept is skipped, bounded. */
static int skip_early(etls_tls_conn_t *c, size_t len)
{
    ETLS_ENSURE(c->hs->early_data && c->hs->early_skip + len <= EARLY_SKIP_MAX, ALERT(BAD_RECORD_MAC));
    c->hs->early_skip += (uint32_t)len;
    return 0;
}

/* A record during the handshake: processed alone and inline, since it may change state. */
static int one_record(etls_tls_conn_t *c, const uint8_t *rec, size_t len, etls_tls_buf_t *out,
                      etls_tls_buf_t *app)
{
    uint8_t nonce[ETLS_AEAD_NONCE_LEN], type = rec[0];
    if (type != CT_APPLICATION_DATA)
        return content(c, type, rec + ETLS_TLS_RECORD_HEADER, len, out, app, 0);
    if (!c->rd.active) { /* no keys yet: only rejected early data after an HRR (§4.2.10) */
        ETLS_ENSURE(c->state == ST_CLIENT_HELLO2, ALERT(UNEXPECTED_MESSAGE));
        return skip_early(c, len);
    }
    ETLS_ENSURE(app->cap - app->len >= len, NEED_ROOM);
    uint8_t *pt = app->base + app->len;
    etls_tls_nonce(&c->rd, c->rd.seq, nonce);
    if (etls_aead_open(c->env->aead, &c->rd.key, nonce, rec, ETLS_TLS_RECORD_HEADER,
                       rec + ETLS_TLS_RECORD_HEADER, len, pt) != 0)
        return c->state == ST_CLIENT_FINISHED || c->state == ST_CLIENT_CERT ? skip_early(c, len)
                                                                              : ALERT(BAD_RECORD_MAC);
    c->hs->early_data = 0; /* the first record that opens ends the 0-RTT window */
    c->rd.seq++;
    int n = etls_tls_inner_type(pt, len - c->tag_len, &type);
    ETLS_GUARD(n);
    return content(c, type, pt, (size_t)n, out, app, 1);
}

/* Application data records: queued in the batch (or opened inline without one). Collects
 * consecutive complete records that fit in `app`; returns the bytes taken. */
static size_t park_opens(etls_tls_conn_t *c, const uint8_t *in, size_t avail, etls_tls_buf_t *app)
{
    size_t pos = 0, off = 0, room = app->cap - app->len;
    unsigned n = 0;
    etls_batch_t *b = c->env->batch;
    c->open_in = in;
    c->open_buf = app->base;
    c->open_base = app->len;
    while (n < ETLS_TLS_MAX_PARKED && avail - pos >= ETLS_TLS_RECORD_HEADER) {
        const uint8_t *rec = in + pos;
        size_t len = (size_t)rec[3] << 8 | rec[4];
        if (rec[0] != CT_APPLICATION_DATA || check_header(c, rec[0], len) != 0)
            break; /* handled in order by the caller's loop once these are done */
        if (avail - pos < ETLS_TLS_RECORD_HEADER + len || room - off < len - c->tag_len)
            break;
        etls_tls_park_t *pk = &c->open[n];
        pk->off = (uint32_t)off;
        pk->len = (uint32_t)len;
        if (b) {
            etls_aead_op_t *op = etls_batch_aead(b, &c->waiter, &pk->status);
            op->key = &c->rd.key;
            etls_tls_nonce(&c->rd, c->rd.seq + n, op->nonce);
            op->dir = ETLS_AEAD_OPEN;
            op->aad = rec;
            op->aad_len = ETLS_TLS_RECORD_HEADER;
            op->in = rec + ETLS_TLS_RECORD_HEADER;
            op->in_len = len;
            op->out = app->base + app->len + off;
        } else {
            uint8_t nonce[ETLS_AEAD_NONCE_LEN];
            etls_tls_nonce(&c->rd, c->rd.seq + n, nonce);
            pk->status = etls_aead_open(c->env->aead, &c->rd.key, nonce, rec, ETLS_TLS_RECORD_HEADER,
                                        rec + ETLS_TLS_RECORD_HEADER, len, app->base + app->len + off);
        }
        off += len - c->tag_len;
        pos += ETLS_TLS_RECORD_HEADER + len;
        n++;
    }
    c->n_open = (uint8_t)n;
    return pos;
}

/* Processes opened records in order. A KeyUpdate among them changes the read key, so the
 * records after it are opened again, inline, with the new key (rare; keeps the batch simple). */
static int complete_opens(etls_tls_conn_t *c, etls_tls_buf_t *out, etls_tls_buf_t *app)
{
    ETLS_ENSURE(app && app->base == c->open_buf && app->len == c->open_base, ETLS_ERR_INVALID);
    const uint8_t *rec = c->open_in;
    unsigned n = c->n_open;
    c->n_open = 0;
    c->rd_changed = 0;
    for (unsigned i = 0; i < n && !c->peer_closed; i++) {
        size_t len = c->open[i].len;
        uint8_t type, *pt = c->open_buf + c->open_base + c->open[i].off;
        int st = c->open[i].status;
        if (c->rd_changed) {
            uint8_t nonce[ETLS_AEAD_NONCE_LEN];
            etls_tls_nonce(&c->rd, c->rd.seq, nonce);
            st = etls_aead_open(c->env->aead, &c->rd.key, nonce, rec, ETLS_TLS_RECORD_HEADER,
                                rec + ETLS_TLS_RECORD_HEADER, len, pt);
        }
        ETLS_ENSURE(st == 0, ALERT(BAD_RECORD_MAC));
        c->rd.seq++;
        int m = etls_tls_inner_type(pt, len - c->tag_len, &type);
        ETLS_GUARD(m);
        ETLS_GUARD(content(c, type, pt, (size_t)m, out, app, 1));
        rec += ETLS_TLS_RECORD_HEADER + len;
    }
    return 0;
}

static int read_records(etls_tls_conn_t *c, const uint8_t *in, size_t inlen, size_t *consumed,
                        etls_tls_buf_t *out, etls_tls_buf_t *app)
{
    size_t pos = 0;
    while (inlen - pos >= ETLS_TLS_RECORD_HEADER) {
        if (c->peer_closed) { /* §6.1: data after close_notify is ignored */
            *consumed = inlen;
            return 0;
        }
        const uint8_t *rec = in + pos;
        size_t len = (size_t)rec[3] << 8 | rec[4];
        int v12 = c->version == ETLS_TLS_VERSION_12; /* tls12_record.c from ServerHello on */
        ETLS_GUARD(v12 ? etls_tls12_check_header(c, rec, len) : check_header(c, rec[0], len));
        if (inlen - pos < ETLS_TLS_RECORD_HEADER + len)
            return 0;
        if ((c->state < ST_CLIENT_FINISHED || (v12 && c->state < ST_ESTABLISHED)) &&
            out->cap - out->len < etls_tls_out_room(c))
            return ETLS_ERR_LIMIT;
        if (!v12 && c->state == ST_ESTABLISHED && rec[0] == CT_APPLICATION_DATA) {
            size_t used = park_opens(c, rec, inlen - pos, app);
            if (!used)
                return 0; /* app is full: the caller drains it and calls again */
            pos += used;
            *consumed = pos;
            if (c->env->batch)
                return ETLS_ERR_IN_PROGRESS;
            ETLS_GUARD(complete_opens(c, out, app));
            continue;
        }
        int rc = v12 ? etls_tls12_record(c, rec, len, out, app) : one_record(c, rec, len, out, app);
        if (rc == NEED_ROOM)
            return 0;
        pos += ETLS_TLS_RECORD_HEADER + len;
        *consumed = pos;
        ETLS_GUARD(rc);
    }
    return 0;
}

/* Completes what a previous call parked, in the order it was started. */
static int resume(etls_tls_conn_t *c, etls_tls_buf_t *out, etls_tls_buf_t *app)
{
    ETLS_GUARD(finalize_seals(c, out));
    if (c->state == ST_KEY_EXCHANGE || c->state == ST_SIGN)
        ETLS_GUARD(etls_tls_handshake_resume(c, out));
    if (c->n_open)
        ETLS_GUARD(complete_opens(c, out, app));
    return 0;
}

int etls_tls_feed(etls_tls_conn_t *c, const uint8_t *in, size_t inlen, size_t *consumed,
                  etls_tls_buf_t *out, etls_tls_buf_t *app)
{
    *consumed = 0;
    if (c->err)
        return c->err;
    if (c->waiter.pending)
        return ETLS_ERR_IN_PROGRESS;
    int rc = c->state < ST_ESTABLISHED && !c->hs ? etls_tls_hs_acquire(c) : 0;
    if (rc == 0)
        rc = resume(c, out, app);
    if (rc == 0)
        rc = read_records(c, in, inlen, consumed, out, app);
    return finish(c, out, rc); /* an owed KeyUpdate waits for our next data (flush_owed) */
}

/* ---- application data out ------------------------------------------------------------------ */

static int seal_records(etls_tls_conn_t *c, const uint8_t *data, size_t len, size_t *consumed,
                        etls_tls_buf_t *out)
{
    etls_batch_t *b = c->env->batch;
    size_t staged = 0, room = out->cap - out->len;
    unsigned n = 0;
    c->seal_buf = out->base;
    c->seal_base = out->len;
    while (*consumed < len && n < ETLS_TLS_MAX_PARKED) {
        if (c->wr.seq >= ETLS_TLS_KEY_UPDATE_RECORDS) /* §5.5: the key is worn; new key first */
            break;
        size_t chunk = len - *consumed < c->send_max ? len - *consumed : c->send_max;
        size_t inner = etls_tls_inner_len(c, chunk);
        size_t need = ETLS_TLS_RECORD_HEADER + inner + c->tag_len;
        if (room - staged < need)
            break;
        uint8_t *rec = out->base + out->len + staged;
        memcpy(rec + ETLS_TLS_RECORD_HEADER, data + *consumed, chunk);
        rec[ETLS_TLS_RECORD_HEADER + chunk] = CT_APPLICATION_DATA;
        memset(rec + ETLS_TLS_RECORD_HEADER + chunk + 1, 0, inner - chunk - 1);
        if (b) {
            rec[0] = CT_APPLICATION_DATA;
            rec[1] = rec[2] = 3;
            put_u16(rec + 3, (uint16_t)(inner + c->tag_len));
            etls_aead_op_t *op = etls_batch_aead(b, &c->waiter, &c->seal_status[n]);
            op->key = &c->wr.key;
            etls_tls_nonce(&c->wr, c->wr.seq++, op->nonce);
            op->dir = ETLS_AEAD_SEAL;
            op->aad = rec;
            op->aad_len = ETLS_TLS_RECORD_HEADER;
            op->in = op->out = rec + ETLS_TLS_RECORD_HEADER;
            op->in_len = inner;
        } else {
            ETLS_GUARD(etls_tls_seal_inplace(c, rec, inner));
        }
        staged += need;
        *consumed += chunk;
        n++;
    }
    if (b && n) {
        c->n_seal = (uint8_t)n;
        c->seal_bytes = staged;
        return ETLS_ERR_IN_PROGRESS;
    }
    out->len += staged;
    return (len && !*consumed) ? ETLS_ERR_LIMIT : 0;
}

/* Common prologue of the writers: sticky errors, parked requests, a parked send to publish,
 * and, when `data` (the writer is about to seal application data), the KeyUpdate owed to the
 * peer: it must precede our next application data (§4.6.3) and need not precede anything
 * else, so a len-0 send (publishing parked records) or close_notify leaves it pending. */
static int writer_begin(etls_tls_conn_t *c, etls_tls_buf_t *out, int data)
{
    if (c->err)
        return c->err;
    if (c->waiter.pending)
        return ETLS_ERR_IN_PROGRESS;
    ETLS_GUARD(finalize_seals(c, out));
    if (c->state == ST_ESTABLISHED && c->wr.seq >= ETLS_TLS_KEY_UPDATE_RECORDS && !c->close_sent &&
        c->version != ETLS_TLS_VERSION_12) /* TLS 1.2 has no KeyUpdate */
        c->ku_owed = 1; /* §5.5 usage limit: the owed KeyUpdate rotates our key */
    return data ? flush_owed(c, out) : 0;
}

int etls_tls_send(etls_tls_conn_t *c, const uint8_t *data, size_t len, size_t *consumed,
                  etls_tls_buf_t *out)
{
    *consumed = 0;
    int rc = writer_begin(c, out, len > 0);
    if (rc == 0 && (c->state != ST_ESTABLISHED || c->close_sent))
        rc = ETLS_ERR_INVALID;
    if (rc == 0)
        rc = c->version == ETLS_TLS_VERSION_12 ? etls_tls12_send(c, data, len, consumed, out)
                                               : seal_records(c, data, len, consumed, out);
    return c->err ? c->err : finish(c, out, rc);
}

int etls_tls_close(etls_tls_conn_t *c, etls_tls_buf_t *out)
{
    static const uint8_t alert[2] = {1, ETLS_ALERT_CLOSE_NOTIFY};
    int rc = writer_begin(c, out, 0); /* no data follows close_notify: nothing owed then */
    if (rc == 0 && !c->close_sent) {
        rc = etls_tls_write_record(c, out, CT_ALERT, alert, sizeof alert);
        c->close_sent = rc == 0;
    }
    return c->err ? c->err : finish(c, out, rc);
}

int etls_tls_key_update(etls_tls_conn_t *c, int request_peer, etls_tls_buf_t *out)
{
    /* An update_not_requested KeyUpdate is itself the answer an owed one would be. */
    int rc = writer_begin(c, out, request_peer);
    if (rc == 0 && (c->state != ST_ESTABLISHED || c->close_sent))
        rc = ETLS_ERR_INVALID;
    if (rc == 0) {
        rc = c->version == ETLS_TLS_VERSION_12 ? ETLS_ERR_INVALID : write_key_update(c, out, request_peer);
        if (rc == 0 && !request_peer)
            c->ku_owed = 0;
    }
    return c->err ? c->err : finish(c, out, rc);
}

size_t etls_tls_send_room(const etls_tls_conn_t *c, size_t len)
{
    size_t per = c->send_max ? c->send_max : ETLS_TLS_MAX_PLAINTEXT;
    size_t records = len / per + 1;
    size_t extra = c->version == ETLS_TLS_VERSION_12 ? 8 : 1 + c->ctx->pad_to; /* explicit nonce */
    return len + records * (ETLS_TLS_RECORD_HEADER + 16 + extra) + 64;
}

/* ---- queries ------------------------------------------------------------------------------- */

int etls_tls_handshake_done(const etls_tls_conn_t *c)
{
    return c->state == ST_ESTABLISHED;
}

int etls_tls_resumed(const etls_tls_conn_t *c)
{
    return c->resumed;
}

int etls_tls_parked(const etls_tls_conn_t *c)
{
    return c->waiter.pending != 0;
}

int etls_tls_peer_closed(const etls_tls_conn_t *c)
{
    return c->peer_closed;
}

int etls_tls_close_sent(const etls_tls_conn_t *c)
{
    return c->close_sent;
}

int etls_tls_alert_sent(const etls_tls_conn_t *c)
{
    return c->alert_sent;
}

int etls_tls_peer_alert(const etls_tls_conn_t *c)
{
    return c->peer_alert;
}

int etls_tls_hrr(const etls_tls_conn_t *c)
{
    return c->hrr;
}

const char *etls_tls_alert_name(int desc)
{
    static const char *const names[] = {
        [0] = "close_notify", [10] = "unexpected_message", [20] = "bad_record_mac",
        [21] = "decryption_failed", [22] = "record_overflow", [30] = "decompression_failure",
        [40] = "handshake_failure", [41] = "no_certificate", [42] = "bad_certificate",
        [43] = "unsupported_certificate", [44] = "certificate_revoked", [45] = "certificate_expired",
        [46] = "certificate_unknown", [47] = "illegal_parameter", [48] = "unknown_ca",
        [49] = "access_denied", [50] = "decode_error", [51] = "decrypt_error",
        [60] = "export_restriction", [70] = "protocol_version", [71] = "insufficient_security",
        [80] = "internal_error", [86] = "inappropriate_fallback", [90] = "user_canceled",
        [100] = "no_renegotiation", [109] = "missing_extension", [110] = "unsupported_extension",
        [111] = "certificate_unobtainable", [112] = "unrecognized_name",
        [113] = "bad_certificate_status_response", [114] = "bad_certificate_hash_value",
        [115] = "unknown_psk_identity", [116] = "certificate_required",
        [120] = "no_application_protocol",
    };
    return desc >= 0 && desc < (int)(sizeof names / sizeof names[0]) ? names[desc] : NULL;
}

uint16_t etls_tls_version(const etls_tls_conn_t *c)
{
    return c->suite ? (c->version ? c->version : ETLS_TLS_VERSION_13) : 0;
}

uint16_t etls_tls_cipher(const etls_tls_conn_t *c)
{
    return c->suite;
}

uint16_t etls_tls_group(const etls_tls_conn_t *c)
{
    return c->group;
}

uint16_t etls_tls_sig_scheme(const etls_tls_conn_t *c)
{
    return c->sig_scheme;
}

const uint8_t *etls_tls_alpn(const etls_tls_conn_t *c, size_t *len)
{
    if (c->alpn < 0)
        return NULL;
    *len = c->ctx->alpn[c->alpn];
    return c->ctx->alpn + c->alpn + 1;
}

const char *etls_tls_sni(const etls_tls_conn_t *c)
{
    return c->sni_len ? c->sni : NULL;
}
