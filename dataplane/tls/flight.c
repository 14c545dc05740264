/* The server's flight (RFC 8446 §2, Figure 1): ServerHello, optional change_cipher_spec,
 * EncryptedExtensions, Certificate, CertificateVerify, Finished; and HelloRetryRequest.
 *
 * Messages are staged in the free space of the caller's `out` buffer through a small record
 * writer that fragments them into records, hashes them into the transcript, and seals each
 * protected record in place once it is full. The flight is published (out->len advanced) only
 * when complete, so a parked signature leaves nothing half-sent. */
#include "tls/tls_internal.h"

#define NO_RECORD SIZE_MAX

/* §4.1.3: the random of a HelloRetryRequest is SHA-256("HelloRetryRequest"). */
static const uint8_t hrr_random[32] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};

static uint8_t *stage(etls_tls_buf_t *out)
{
    return out->base + out->len;
}

static void hsw_begin(etls_tls_conn_t *c, int protect)
{
    c->hs->w.rec_start = NO_RECORD;
    c->hs->w.rec_len = 0;
    c->hs->w.protect = (uint8_t)protect;
}

static size_t hsw_max(const etls_tls_conn_t *c)
{
    return c->hs->w.protect ? c->send_max : ETLS_TLS_MAX_PLAINTEXT;
}

static int hsw_close(etls_tls_conn_t *c, etls_tls_buf_t *out)
{
    etls_tls_hsw_t *w = &c->hs->w;
    if (w->rec_start == NO_RECORD)
        return 0;
    uint8_t *rec = stage(out) + w->rec_start;
    if (w->protect) { /* unpadded, so the flight's size bound (ctx->max_flight) holds */
        size_t inner = w->rec_len + 1;
        rec[ETLS_TLS_RECORD_HEADER + w->rec_len] = CT_HANDSHAKE;
        ETLS_GUARD(etls_tls_seal_inplace(c, rec, inner));
        w->pos += inner - w->rec_len + c->tag_len;
    } else {
        rec[0] = CT_HANDSHAKE;
        rec[1] = 3;
        rec[2] = 3;
        put_u16(rec + 3, (uint16_t)w->rec_len);
    }
    w->rec_start = NO_RECORD;
    w->rec_len = 0;
    return 0;
}

/* Appends handshake bytes: transcript, then records of at most hsw_max() content bytes. The
 * caller checked the room for the whole flight (etls_tls_out_room). */
static int hsw_put(etls_tls_conn_t *c, etls_tls_buf_t *out, const void *data, size_t n)
{
    etls_tls_hsw_t *w = &c->hs->w;
    const uint8_t *p = data;
    etls_tls_transcript(c, p, n);
    while (n) {
        if (w->rec_start == NO_RECORD) {
            w->rec_start = w->pos;
            w->pos += ETLS_TLS_RECORD_HEADER;
        }
        size_t take = hsw_max(c) - w->rec_len;
        take = take < n ? take : n;
        memcpy(stage(out) + w->pos, p, take);
        w->pos += take;
        w->rec_len += take;
        p += take;
        n -= take;
        if (w->rec_len == hsw_max(c))
            ETLS_GUARD(hsw_close(c, out));
    }
    return 0;
}

static int hsw_msg(etls_tls_conn_t *c, etls_tls_buf_t *out, uint8_t type, const etls_wr_t *m)
{
    uint8_t hdr[4] = {type, (uint8_t)(m->len >> 16), (uint8_t)(m->len >> 8), (uint8_t)m->len};
    ETLS_ENSURE(!m->overflow, ALERT(INTERNAL_ERROR));
    ETLS_GUARD(hsw_put(c, out, hdr, 4));
    return hsw_put(c, out, m->p, m->len);
}

/* §D.4: the compatibility change_cipher_spec, sent once, right after our first hello. */
static void stage_ccs(etls_tls_conn_t *c, etls_tls_buf_t *out)
{
    static const uint8_t ccs[6] = {CT_CHANGE_CIPHER_SPEC, 3, 3, 0, 1, 1};
    memcpy(stage(out) + c->hs->w.pos, ccs, sizeof ccs);
    c->hs->w.pos += sizeof ccs;
}

/* ServerHello / HelloRetryRequest common part (§4.1.3). */
static void hello_head(etls_tls_conn_t *c, etls_wr_t *m, const uint8_t *random)
{
    etls_wr_u16(m, 0x0303);
    etls_wr_bytes(m, random, 32);
    etls_wr_u8(m, c->hs->session_id_len);
    etls_wr_bytes(m, c->hs->session_id, c->hs->session_id_len);
    etls_wr_u16(m, c->suite);
    etls_wr_u8(m, 0);
    /* extensions follow: supported_versions first, its content is fixed */
}

int etls_tls_write_hrr(etls_tls_conn_t *c, etls_tls_buf_t *out, uint16_t group,
                       const uint8_t *cookie, size_t cookie_len)
{
    uint8_t buf[256];
    etls_wr_t m = {buf, 0, sizeof buf, 0};
    ETLS_ENSURE(out->cap - out->len >= 512, ETLS_ERR_LIMIT);
    hello_head(c, &m, hrr_random);
    etls_wr_u16(&m, (uint16_t)(6 + 6 + 6 + cookie_len));
    etls_wr_u16(&m, EXT_SUPPORTED_VERSIONS);
    etls_wr_u16(&m, 2);
    etls_wr_u16(&m, ETLS_TLS_VERSION_13);
    etls_wr_u16(&m, EXT_KEY_SHARE); /* §4.2.8: selected_group only */
    etls_wr_u16(&m, 2);
    etls_wr_u16(&m, group);
    etls_wr_u16(&m, EXT_COOKIE);
    etls_wr_u16(&m, (uint16_t)(2 + cookie_len));
    etls_wr_u16(&m, (uint16_t)cookie_len);
    etls_wr_bytes(&m, cookie, cookie_len);
    c->hs->w.pos = 0;
    hsw_begin(c, 0);
    ETLS_GUARD(hsw_msg(c, out, HT_SERVER_HELLO, &m));
    ETLS_GUARD(hsw_close(c, out));
    if (c->hs->send_ccs)
        stage_ccs(c, out);
    out->len += c->hs->w.pos;
    c->hs->w.pos = 0;
    return 0;
}

/* Our key_share (§4.2.8) and the (EC)DHE input to the key schedule (§7.1), per group. */
static size_t server_share_len(uint16_t group)
{
    if (group == ETLS_TLS_GROUP_X25519MLKEM768)
        return ETLS_TLS_HYBRID_SERVER_SHARE_LEN;
    return group == ETLS_TLS_GROUP_X25519 ? 32 : ETLS_P256_POINT_LEN;
}

static size_t shared_secret_len(uint16_t group)
{
    if (group == ETLS_TLS_GROUP_X25519MLKEM768)
        return 64; /* draft-ietf-tls-ecdhe-mlkem: ML-KEM shared secret || X25519 shared secret */
    return group == ETLS_TLS_GROUP_X25519 ? 32 : ETLS_P256_SHARED_LEN;
}

static int write_server_hello(etls_tls_conn_t *c, etls_tls_buf_t *out)
{
    uint8_t buf[256 + ETLS_TLS_HYBRID_SERVER_SHARE_LEN], random[32];
    etls_wr_t m = {buf, 0, sizeof buf, 0};
    size_t share_len = server_share_len(c->group);
    ETLS_GUARD(etls_rand_bytes(c->env->rng, random, sizeof random));
    hello_head(c, &m, random);
    etls_wr_u16(&m, (uint16_t)(6 + 8 + share_len + (c->hs->psk_ok ? 6 : 0)));
    etls_wr_u16(&m, EXT_SUPPORTED_VERSIONS); /* §4.2.1: selected_version */
    etls_wr_u16(&m, 2);
    etls_wr_u16(&m, ETLS_TLS_VERSION_13);
    etls_wr_u16(&m, EXT_KEY_SHARE); /* §4.2.8: KeyShareServerHello */
    etls_wr_u16(&m, (uint16_t)(4 + share_len));
    etls_wr_u16(&m, c->group);
    etls_wr_u16(&m, (uint16_t)share_len);
    etls_wr_bytes(&m, c->hs->my_share, share_len);
    if (c->hs->psk_ok) { /* §4.2.11: selected_identity, always the first */
        etls_wr_u16(&m, EXT_PRE_SHARED_KEY);
        etls_wr_u16(&m, 2);
        etls_wr_u16(&m, 0);
    }
    return hsw_msg(c, out, HT_SERVER_HELLO, &m);
}

/* §4.3.1: the extensions that are not needed to establish keys. */
static int write_encrypted_extensions(etls_tls_conn_t *c, etls_tls_buf_t *out)
{
    uint8_t buf[512];
    etls_wr_t m = {buf, 0, sizeof buf, 0};
    etls_wr_t e = {buf + 2, 0, sizeof buf - 2, 0};
    if (c->alpn >= 0) { /* RFC 7301 §3.1: exactly one protocol */
        uint8_t l = c->ctx->alpn[c->alpn];
        etls_wr_u16(&e, EXT_ALPN);
        etls_wr_u16(&e, (uint16_t)(l + 3));
        etls_wr_u16(&e, (uint16_t)(l + 1));
        etls_wr_bytes(&e, c->ctx->alpn + c->alpn, l + 1u);
    }
    if (c->hs->sni_used) { /* RFC 6066 §3: empty server_name when the name was used */
        etls_wr_u16(&e, EXT_SERVER_NAME);
        etls_wr_u16(&e, 0);
    }
    if (c->hs->peer_limit) { /* RFC 8449 §4: our limit, only when the client offered one */
        etls_wr_u16(&e, EXT_RECORD_SIZE_LIMIT);
        etls_wr_u16(&e, 2);
        etls_wr_u16(&e, (uint16_t)(c->recv_max + 1));
    }
    etls_wr_u16(&m, (uint16_t)e.len);
    m.len += e.len;
    m.overflow |= e.overflow;
    return hsw_msg(c, out, HT_ENCRYPTED_EXTENSIONS, &m);
}

/* §4.4.2: prebuilt per certificate (ctx.c), the same bytes for every handshake. */
static int write_certificate(etls_tls_conn_t *c, etls_tls_buf_t *out)
{
    return hsw_put(c, out, c->cert->cert_msg, 4 + c->cert->cert_msg_len);
}

/* §4.4.3: the signed content is 64 spaces, the context string, a zero byte, and the
 * transcript hash up to and including Certificate. */
static size_t cv_content(etls_tls_conn_t *c)
{
    static const char label[] = "TLS 1.3, server CertificateVerify";
    uint8_t *p = c->hs->cv_msg;
    memset(p, 0x20, 64);
    memcpy(p + 64, label, sizeof label); /* includes the separating zero byte */
    etls_hash_peek(&c->hs->transcript, p + 64 + sizeof label);
    return 64 + sizeof label + etls_hash_len(c->hash);
}

/* After key exchange: handshake keys (§7.1), then ServerHello .. Certificate, then the
 * signature, parked in the batch when there is one. */
int etls_tls_flight_hello(etls_tls_conn_t *c, etls_tls_buf_t *out)
{
    uint8_t th[ETLS_HASH_MAX_LEN], server_hs[ETLS_HASH_MAX_LEN], client_hs[ETLS_HASH_MAX_LEN];
    size_t shared_len = shared_secret_len(c->group);
    ETLS_ENSURE(out->cap - out->len >= etls_tls_out_room(c), ETLS_ERR_LIMIT);
    c->hs->w.pos = 0;
    hsw_begin(c, 0);
    ETLS_GUARD(write_server_hello(c, out));
    ETLS_GUARD(hsw_close(c, out));
    if (c->hs->send_ccs && !c->hs->hrr_sent)
        stage_ccs(c, out);
    etls_hash_peek(&c->hs->transcript, th);
    etls_tls13_ks_init(&c->hs->ks, c->hash, c->hs->psk_ok ? c->hs->psk : NULL,
                       c->hs->psk_ok ? etls_hash_len(c->hash) : 0);
    etls_wipe(c->hs->psk, sizeof c->hs->psk);
    int rc = etls_tls13_ks_handshake(&c->hs->ks, c->hs->shared, shared_len, th, client_hs,
                                     server_hs);
    etls_wipe(c->hs->shared, sizeof c->hs->shared);
    if (rc == 0)
        rc = etls_tls_dir_set_fin(c, &c->wr, server_hs, c->hs->server_fin_key);
    if (rc == 0)
        rc = etls_tls_dir_set_fin(c, &c->rd, client_hs, c->hs->client_fin_key);
    etls_wipe(server_hs, sizeof server_hs);
    etls_wipe(client_hs, sizeof client_hs);
    ETLS_ENSURE(rc == 0, ALERT(INTERNAL_ERROR));
    hsw_begin(c, 1);
    ETLS_GUARD(write_encrypted_extensions(c, out));
    if (c->hs->psk_ok) { /* §2.2: a resumed handshake authenticates with the PSK, no certificate */
        c->hs->ca = NULL; /* §4.3.2: no CertificateRequest with a resumption PSK */
        return etls_tls_flight_finish(c, out);
    }
    if (c->hs->ca) { /* §4.3.2: CertificateRequest, prebuilt per policy (client_auth.c) */
        size_t cr_len;
        const uint8_t *cr = etls_tls_ca_request(c->hs->ca, &cr_len);
        ETLS_GUARD(hsw_put(c, out, cr, cr_len));
    }
    ETLS_GUARD(write_certificate(c, out));
    size_t n = cv_content(c);
    c->hs->sig_len = sizeof c->hs->sig;
    c->state = ST_SIGN;
    if (c->env->batch) {
        etls_batch_sign_op_t *op = etls_batch_sign(c->env->batch, &c->waiter, &c->hs->sign_status);
        op->key = c->cert->key;
        op->scheme = c->sig_scheme;
        op->msg = c->hs->cv_msg;
        op->msg_len = n;
        op->sig = c->hs->sig;
        op->sig_cap = sizeof c->hs->sig;
        op->sig_len = &c->hs->sig_len;
        c->hs->out_buf = out->base;
        c->hs->out_len = out->len;
        return ETLS_ERR_IN_PROGRESS;
    }
    c->hs->sign_status = etls_pkey_sign(c->cert->key, c->sig_scheme, c->hs->cv_msg, n, c->hs->sig,
                                       &c->hs->sig_len);
    return etls_tls_flight_finish(c, out);
}

static int write_cert_verify(etls_tls_conn_t *c, etls_tls_buf_t *out)
{
    uint8_t buf[4 + ETLS_SIG_MAX_LEN];
    etls_wr_t m = {buf, 0, sizeof buf, 0};
    etls_wr_u16(&m, c->sig_scheme);
    etls_wr_u16(&m, (uint16_t)c->hs->sig_len);
    etls_wr_bytes(&m, c->hs->sig, c->hs->sig_len);
    return hsw_msg(c, out, HT_CERTIFICATE_VERIFY, &m);
}

/* §4.4.4 */
static int write_finished(etls_tls_conn_t *c, etls_tls_buf_t *out)
{
    uint8_t th[ETLS_HASH_MAX_LEN], vd[ETLS_HASH_MAX_LEN];
    etls_wr_t m = {vd, etls_hash_len(c->hash), sizeof vd, 0};
    etls_hash_peek(&c->hs->transcript, th);
    etls_tls13_finished_mac(c->hash, c->hs->server_fin_key, th, vd);
    int rc = hsw_msg(c, out, HT_FINISHED, &m);
    etls_wipe(vd, sizeof vd);
    return rc;
}

/* After the signature: CertificateVerify and Finished, then application keys (§7.1): we send
 * with server_application_traffic_secret_0 from here on; the client's Finished is expected
 * with the value computed now over the transcript through our Finished. */
int etls_tls_flight_finish(etls_tls_conn_t *c, etls_tls_buf_t *out)
{
    uint8_t th[ETLS_HASH_MAX_LEN], server_ap[ETLS_HASH_MAX_LEN];
    if (!c->hs->psk_ok) {
        ETLS_ENSURE(c->hs->sign_status == 0, ALERT(INTERNAL_ERROR));
        ETLS_ENSURE(c->env->batch == NULL || (out->base == c->hs->out_buf && out->len == c->hs->out_len),
                    ETLS_ERR_INVALID);
        ETLS_GUARD(write_cert_verify(c, out));
    }
    ETLS_GUARD(write_finished(c, out));
    ETLS_GUARD(hsw_close(c, out));
    etls_hash_peek(&c->hs->transcript, th);
    int rc = etls_tls13_ks_master(&c->hs->ks, th, c->hs->client_ap, server_ap, NULL);
    if (!c->hs->ca) /* else over the client's Certificate too (client_auth.c) */
        etls_tls13_finished_mac(c->hash, c->hs->client_fin_key, th, c->hs->expect_fin);
    if (rc == 0)
        rc = etls_tls_dir_set(c, &c->wr, server_ap);
    etls_wipe(server_ap, sizeof server_ap);
    if (!c->ctx->n_ticket_keys) /* else kept for the resumption master secret */
        etls_tls13_ks_wipe(&c->hs->ks);
    if (!c->hs->ca)
        etls_wipe(c->hs->client_fin_key, sizeof c->hs->client_fin_key);
    etls_wipe(c->hs->server_fin_key, sizeof c->hs->server_fin_key);
    ETLS_ENSURE(rc == 0, ALERT(INTERNAL_ERROR));
    out->len += c->hs->w.pos;
    c->hs->w.pos = 0;
    c->state = c->hs->ca ? ST_CLIENT_CERT : ST_CLIENT_FINISHED;
    return 0;
}

size_t etls_tls_out_room(const etls_tls_conn_t *c)
{
    if (c->state >= ST_CLIENT_FINISHED)
        return ETLS_TLS_OUT_SMALL;
    size_t room = c->ctx->max_flight + 64; /* worst case for any client record_size_limit */
    if (c->ctx->client_auth_any) /* a CertificateRequest, framed in 64-byte records */
        room += ETLS_TLS_CA_NAMES_MAX + 64 + ((ETLS_TLS_CA_NAMES_MAX + 64) / 63 + 1) * 22;
    return room;
}
