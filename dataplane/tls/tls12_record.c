/* The TLS 1.2 record layer (RFC 5246 §6.2) inside the engine's record code: conn.c hands every
 * record of a connection that negotiated TLS 1.2 to etls_tls12_record, and record.c's writer
 * comes here once our keys are on. AEAD only:
 *   AES-GCM (RFC 5288 §3): nonce = 4-byte salt from the key block || 8-byte explicit nonce
 *     carried in the record. We send the sequence number as the explicit nonce (unique per
 *     key) and accept any explicit nonce from the client.
 *   ChaCha20-Poly1305 (RFC 7905 §2): nonce = 12-byte IV XOR the sequence number, as in TLS 1.3.
 *   Additional data: seq_num (8) || type || version (0x0303) || plaintext length (§6.2.3.3).
 * Record types are in the clear (no TLSInnerPlaintext) and there is no padding or KeyUpdate. */
#include "tls/tls_internal.h"

#define AAD_LEN 13
#define MAX_EXPANSION 2048 /* §6.2.3: TLSCiphertext.length <= 2^14 + 2048 */

static size_t explicit_len(const etls_tls_conn_t *c)
{
    return c->aead == ETLS_AEAD_CHACHA20POLY1305 ? 0 : 8;
}

static size_t fixed_iv_len(const etls_tls_conn_t *c)
{
    return c->aead == ETLS_AEAD_CHACHA20POLY1305 ? ETLS_AEAD_NONCE_LEN : 4;
}

static void make_aad(uint8_t aad[AAD_LEN], uint64_t seq, uint8_t type, size_t len)
{
    for (int i = 0; i < 8; i++)
        aad[i] = (uint8_t)(seq >> (56 - 8 * i));
    aad[8] = type;
    aad[9] = 3;
    aad[10] = 3;
    put_u16(aad + 11, (uint16_t)len);
}

size_t etls_tls12_key_block_len(const etls_tls_conn_t *c)
{
    return 2 * (etls_aead_key_len(c->aead) + fixed_iv_len(c));
}

/* §6.3: client_write_key, server_write_key, client_write_IV, server_write_IV (AEAD suites
 * have no MAC keys). The IV lands in d->iv so that etls_tls_nonce(d, seq) is the GCM nonce
 * salt || seq (the last 8 bytes stay zero) or the ChaCha20 nonce IV ^ seq. The directions
 * become active at the change_cipher_spec of each side. */
static int install_dir(etls_tls_conn_t *c, etls_tls_dir_t *d, const uint8_t *key, const uint8_t *iv)
{
    if (d->key.alg)
        etls_aead_key_wipe(&d->key);
    int rc = etls_aead_key_init(c->env->aead, &d->key, c->aead, key);
    ETLS_ENSURE(rc == 0, ALERT(INTERNAL_ERROR));
    memset(d->iv, 0, sizeof d->iv);
    memcpy(d->iv, iv, fixed_iv_len(c));
    d->seq = 0;
    d->active = 0;
    return 0;
}

int etls_tls12_install_keys(etls_tls_conn_t *c, const uint8_t *kb)
{
    size_t kl = etls_aead_key_len(c->aead), il = fixed_iv_len(c);
    ETLS_GUARD(install_dir(c, &c->rd, kb, kb + 2 * kl));
    return install_dir(c, &c->wr, kb + kl, kb + 2 * kl + il);
}

/* Header checks before the body is awaited. After the ServerHello every record carries
 * version 0x0303 (OpenSSL, NSS and Go all send it; a different one is a broken peer). */
int etls_tls12_check_header(const etls_tls_conn_t *c, const uint8_t *rec, size_t len)
{
    uint8_t type = rec[0];
    ETLS_ENSURE(type >= CT_CHANGE_CIPHER_SPEC && type <= CT_APPLICATION_DATA, ALERT(UNEXPECTED_MESSAGE));
    ETLS_ENSURE(rec[1] == 3 && rec[2] == 3, ALERT(PROTOCOL_VERSION));
    if (c->rd.active) {
        ETLS_ENSURE(len <= ETLS_TLS_MAX_PLAINTEXT + MAX_EXPANSION, ALERT(RECORD_OVERFLOW));
        ETLS_ENSURE(len >= explicit_len(c) + c->tag_len, ALERT(BAD_RECORD_MAC));
        return 0;
    }
    ETLS_ENSURE(len <= ETLS_TLS_MAX_PLAINTEXT, ALERT(RECORD_OVERFLOW));
    ETLS_ENSURE(type != CT_APPLICATION_DATA, ALERT(UNEXPECTED_MESSAGE)); /* no keys yet */
    ETLS_ENSURE(len > 0, ALERT(UNEXPECTED_MESSAGE)); /* §6.2.1: no empty non-data fragments */
    return 0;
}

/* §7.1: change_cipher_spec is one byte 1, exactly between ClientKeyExchange (or, resuming, our
 * Finished) and the client's Finished, and never inside a fragmented handshake message. */
static int on_ccs(etls_tls_conn_t *c, const uint8_t *p, size_t n)
{
    ETLS_ENSURE(n == 1 && p[0] == 1, ALERT(UNEXPECTED_MESSAGE));
    ETLS_ENSURE(c->state == ST12_CHANGE_CIPHER_SPEC && c->msg_hdr_len == 0, ALERT(UNEXPECTED_MESSAGE));
    c->rd.active = 1;
    c->rd.seq = 0;
    c->state = ST12_FINISHED;
    return 0;
}

int etls_tls12_record(etls_tls_conn_t *c, const uint8_t *rec, size_t len, etls_tls_buf_t *out,
                      etls_tls_buf_t *app)
{
    uint8_t type = rec[0], nonce[ETLS_AEAD_NONCE_LEN], aad[AAD_LEN];
    const uint8_t *body = rec + ETLS_TLS_RECORD_HEADER;
    if (!c->rd.active) {
        if (type == CT_CHANGE_CIPHER_SPEC)
            return on_ccs(c, body, len);
        return etls_tls_content(c, type, body, len, out, app, 0);
    }
    size_t ex = explicit_len(c), n = len - ex - c->tag_len;
    ETLS_ENSURE(n <= ETLS_TLS_MAX_PLAINTEXT, ALERT(RECORD_OVERFLOW));
    ETLS_ENSURE(app->cap - app->len >= n, ETLS_TLS_NEED_ROOM);
    uint8_t *pt = app->base + app->len;
    etls_tls_nonce(&c->rd, c->rd.seq, nonce);
    if (ex)
        memcpy(nonce + 4, body, 8); /* the client's explicit nonce, whatever it is */
    make_aad(aad, c->rd.seq, type, n);
    if (etls_aead_open(c->env->aead, &c->rd.key, nonce, aad, AAD_LEN, body + ex, len - ex, pt) != 0)
        return ALERT(BAD_RECORD_MAC);
    c->rd.seq++;
    ETLS_ENSURE(type != CT_CHANGE_CIPHER_SPEC, ALERT(UNEXPECTED_MESSAGE));
    return etls_tls_content(c, type, pt, n, out, app, 1);
}

/* Seals one record at rec: header, explicit nonce (GCM), ciphertext and tag. data may be
 * anywhere but inside the record's own bytes before its position. */
static int seal_one(etls_tls_conn_t *c, uint8_t *rec, uint8_t type, const uint8_t *data, size_t n)
{
    uint8_t nonce[ETLS_AEAD_NONCE_LEN], aad[AAD_LEN];
    size_t ex = explicit_len(c);
    rec[0] = type;
    rec[1] = 3;
    rec[2] = 3;
    put_u16(rec + 3, (uint16_t)(ex + n + c->tag_len));
    etls_tls_nonce(&c->wr, c->wr.seq, nonce);
    if (ex)
        memcpy(rec + ETLS_TLS_RECORD_HEADER, nonce + 4, 8); /* = seq: salt || seq is the nonce */
    uint8_t *ct = rec + ETLS_TLS_RECORD_HEADER + ex;
    memmove(ct, data, n);
    make_aad(aad, c->wr.seq, type, n);
    c->wr.seq++;
    int rc = etls_aead_seal(c->env->aead, &c->wr.key, nonce, aad, AAD_LEN, ct, n, ct);
    return rc == 0 ? 0 : ALERT(INTERNAL_ERROR);
}

static size_t record_overhead(const etls_tls_conn_t *c)
{
    return ETLS_TLS_RECORD_HEADER + explicit_len(c) + c->tag_len;
}

int etls_tls12_write_record(etls_tls_conn_t *c, etls_tls_buf_t *out, uint8_t type,
                            const uint8_t *data, size_t len)
{
    size_t per = c->send_max ? c->send_max : ETLS_TLS_MAX_PLAINTEXT;
    size_t records = len ? (len + per - 1) / per : 1;
    ETLS_ENSURE(out->cap - out->len >= len + records * record_overhead(c), ETLS_ERR_LIMIT);
    do {
        size_t chunk = len < per ? len : per;
        ETLS_GUARD(seal_one(c, out->base + out->len, type, data, chunk));
        out->len += chunk + record_overhead(c);
        data += chunk;
        len -= chunk;
    } while (len > 0);
    return 0;
}

int etls_tls12_send(etls_tls_conn_t *c, const uint8_t *data, size_t len, size_t *consumed,
                    etls_tls_buf_t *out)
{
    size_t per = c->send_max ? c->send_max : ETLS_TLS_MAX_PLAINTEXT;
    while (*consumed < len) {
        size_t chunk = len - *consumed < per ? len - *consumed : per;
        if (out->cap - out->len < chunk + record_overhead(c))
            break;
        ETLS_GUARD(seal_one(c, out->base + out->len, CT_APPLICATION_DATA, data + *consumed, chunk));
        out->len += chunk + record_overhead(c);
        *consumed += chunk;
    }
    return (len && !*consumed) ? ETLS_ERR_LIMIT : 0;
}
