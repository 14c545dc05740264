/* Record protection helpers (RFC 8446 §5): per-direction keys and nonces, sealing in place,
 * TLSInnerPlaintext padding, and the alert path every failure takes. */
#include "tls/tls_internal.h"

/* §5.3: the per-record nonce is the static IV XORed with the 64-bit sequence number, left-padded
 * to the IV length. */
void etls_tls_nonce(const etls_tls_dir_t *d, uint64_t seq, uint8_t nonce[ETLS_AEAD_NONCE_LEN])
{
    memcpy(nonce, d->iv, ETLS_AEAD_NONCE_LEN);
    for (int i = 0; i < 8; i++)
        nonce[ETLS_AEAD_NONCE_LEN - 1 - i] ^= (uint8_t)(seq >> (8 * i));
}

/* §7.3: [sender]_write_key / _iv from the traffic secret; the secret is kept for KeyUpdate. */
int etls_tls_dir_set_fin(etls_tls_conn_t *c, etls_tls_dir_t *d, const uint8_t *secret,
                         uint8_t *fin_key)
{
    uint8_t key[ETLS_AEAD_KEY_MAX];
    size_t klen = etls_aead_key_len(c->aead);
    size_t hlen = etls_hash_len(c->hash);
    int rc = etls_tls13_traffic_keys_fin(c->hash, secret, key, klen, d->iv, sizeof d->iv, fin_key);
    if (rc == 0) {
        /* A backend may hold allocated state for an old key; a key never set (alg 0, as
         * etls_tls_conn_init leaves it) holds nothing, and key_init clears the storage. */
        if (d->key.alg)
            etls_aead_key_wipe(&d->key);
        rc = etls_aead_key_init(c->env->aead, &d->key, c->aead, key);
    }
    etls_wipe(key, sizeof key);
    ETLS_ENSURE(rc == 0, ALERT(INTERNAL_ERROR));
    if (d->secret != secret)
        memcpy(d->secret, secret, hlen);
    d->seq = 0;
    d->active = 1;
    return 0;
}

int etls_tls_dir_set(etls_tls_conn_t *c, etls_tls_dir_t *d, const uint8_t *secret)
{
    return etls_tls_dir_set_fin(c, d, secret, NULL);
}

int etls_tls_seal_inplace(etls_tls_conn_t *c, uint8_t *rec, size_t inner)
{
    uint8_t nonce[ETLS_AEAD_NONCE_LEN];
    size_t clen = inner + c->tag_len;
    rec[0] = CT_APPLICATION_DATA; /* §5.2: opaque_type is always application_data */
    rec[1] = 3;
    rec[2] = 3;
    put_u16(rec + 3, (uint16_t)clen);
    etls_tls_nonce(&c->wr, c->wr.seq++, nonce);
    int rc = etls_aead_seal(c->env->aead, &c->wr.key, nonce, rec, ETLS_TLS_RECORD_HEADER,
                            rec + ETLS_TLS_RECORD_HEADER, inner, rec + ETLS_TLS_RECORD_HEADER);
    return rc == 0 ? 0 : ALERT(INTERNAL_ERROR);
}

/* Inner plaintext length for `len` content bytes: content type byte plus optional padding
 * (§5.4), never beyond what the peer's record_size_limit allows. */
size_t etls_tls_inner_len(const etls_tls_conn_t *c, size_t len)
{
    size_t n = len + 1;
    size_t pad = c->ctx->pad_to;
    if (pad > 1 && n % pad)
        n += pad - n % pad;
    if (n > (size_t)c->send_max + 1)
        n = (size_t)c->send_max + 1;
    return n;
}

int etls_tls_write_record(etls_tls_conn_t *c, etls_tls_buf_t *out, uint8_t type,
                          const uint8_t *data, size_t len)
{
    size_t room = out->cap - out->len;
    uint8_t *rec = out->base + out->len;
    if (c->wr.active && c->version == ETLS_TLS_VERSION_12)
        return etls_tls12_write_record(c, out, type, data, len);
    if (!c->wr.active) {
        ETLS_ENSURE(room >= ETLS_TLS_RECORD_HEADER + len, ETLS_ERR_LIMIT);
        rec[0] = type;
        rec[1] = 3;
        rec[2] = 3;
        put_u16(rec + 3, (uint16_t)len);
        memmove(rec + ETLS_TLS_RECORD_HEADER, data, len);
        out->len += ETLS_TLS_RECORD_HEADER + len;
        return 0;
    }
    /* Protected content longer than one record (a NewSessionTicket under a small RFC 8449
     * record_size_limit) goes out as several records of at most send_max bytes each (§5.1
     * allows fragmenting handshake messages). Room for all of them is checked first so a
     * LIMIT error writes nothing. Callers pass data that does not overlap out. */
    size_t need = 0, left = len;
    do {
        size_t chunk = left < c->send_max ? left : c->send_max;
        need += ETLS_TLS_RECORD_HEADER + etls_tls_inner_len(c, chunk) + c->tag_len;
        left -= chunk;
    } while (left > 0);
    ETLS_ENSURE(room >= need, ETLS_ERR_LIMIT);
    do {
        size_t chunk = len < c->send_max ? len : c->send_max;
        size_t inner = etls_tls_inner_len(c, chunk);
        rec = out->base + out->len;
        memmove(rec + ETLS_TLS_RECORD_HEADER, data, chunk);
        rec[ETLS_TLS_RECORD_HEADER + chunk] = type;
        memset(rec + ETLS_TLS_RECORD_HEADER + chunk + 1, 0, inner - chunk - 1);
        ETLS_GUARD(etls_tls_seal_inplace(c, rec, inner));
        out->len += ETLS_TLS_RECORD_HEADER + inner + c->tag_len;
        data += chunk;
        len -= chunk;
    } while (len > 0);
    return 0;
}

/* §5.4: the content type is the last non-zero byte; all-zero plaintext is unexpected_message. */
int etls_tls_inner_type(const uint8_t *pt, size_t len, uint8_t *type)
{
    while (len > 0 && pt[len - 1] == 0)
        len--;
    ETLS_ENSURE(len > 0, ALERT(UNEXPECTED_MESSAGE));
    *type = pt[len - 1];
    return (int)(len - 1);
}

int etls_tls_fail(etls_tls_conn_t *c, etls_tls_buf_t *out, int err)
{
    if (c->err)
        return c->err;
    if (!ETLS_ERR_IS_ALERT(err) && !ETLS_TLS_ERR_IS_PEER_ALERT(err))
        err = ALERT(INTERNAL_ERROR); /* our own failure still tells the peer why we stop */
    c->err = err;
    /* A flight still being staged was never published: the client has no handshake keys yet,
     * so the alert goes out unprotected. */
    if (c->state == ST_KEY_EXCHANGE || c->state == ST_SIGN)
        c->wr.active = 0;
    c->state = ST_FAILED;
    if (ETLS_ERR_IS_ALERT(err)) {
        uint8_t alert[2] = {2 /* fatal */, ETLS_ERR_ALERT_DESC(err)};
        c->alert_sent = alert[1];
        if (out && etls_tls_write_record(c, out, CT_ALERT, alert, 2) != 0)
            c->alert_sent = -1;
    }
    etls_tls_hs_release(c);
    return err;
}
