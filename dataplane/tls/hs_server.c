/* The server handshake as a table (s2n style): state -> expected message -> handler, with the
 * RFC 8446 section each handler implements. Handlers turn messages into state and decide;
 * records, buffering and I/O live in conn.c, message encoding in flight.c. */
#include "tls/tls_internal.h"

#include "crypto/mlkem.h"

#include <stdlib.h>

typedef int (*hs_handler_t)(etls_tls_conn_t *c, const uint8_t *hdr, const uint8_t *body,
                            size_t len, etls_tls_buf_t *out);

static int on_client_hello(etls_tls_conn_t *c, const uint8_t *hdr, const uint8_t *body, size_t len,
                           etls_tls_buf_t *out);
static int on_finished(etls_tls_conn_t *c, const uint8_t *hdr, const uint8_t *body, size_t len,
                       etls_tls_buf_t *out);
static int on_key_update(etls_tls_conn_t *c, const uint8_t *hdr, const uint8_t *body, size_t len,
                         etls_tls_buf_t *out);
static int on_renegotiation(etls_tls_conn_t *c, const uint8_t *hdr, const uint8_t *body, size_t len,
                            etls_tls_buf_t *out);

static const struct hs_rule {
    uint8_t state;
    uint8_t type;
    hs_handler_t handle;
    const char *rfc;
} hs_table[] = {
    {ST_CLIENT_HELLO, HT_CLIENT_HELLO, on_client_hello, "RFC 8446 §4.1.2"},
    {ST_CLIENT_HELLO2, HT_CLIENT_HELLO, on_client_hello, "RFC 8446 §4.1.4 (after HRR)"},
    {ST_CLIENT_FINISHED, HT_FINISHED, on_finished, "RFC 8446 §4.4.4"},
    /* client authentication (client_auth.c), after our CertificateRequest */
    {ST_CLIENT_CERT, HT_CERTIFICATE, etls_tls_ca_on_certificate, "RFC 8446 §4.4.2, §4.4.2.4"},
    {ST_CLIENT_CV, HT_CERTIFICATE_VERIFY, etls_tls_ca_on_cert_verify, "RFC 8446 §4.4.3"},
    {ST_ESTABLISHED, HT_KEY_UPDATE, on_key_update, "RFC 8446 §4.6.3"},
    /* TLS 1.2 (tls12_hs.c) */
    {ST12_CLIENT_KEY_EXCHANGE, HT_CLIENT_KEY_EXCHANGE, etls_tls12_on_client_key_exchange,
     "RFC 5246 §7.4.7, RFC 8422 §5.7"},
    {ST12_FINISHED, HT_FINISHED, etls_tls12_on_finished, "RFC 5246 §7.4.9"},
    {ST_ESTABLISHED, HT_CLIENT_HELLO, on_renegotiation, "RFC 5746 §4.4 (refused)"},
};

static const struct hs_rule *find_rule(uint8_t state, uint8_t type)
{
    for (size_t i = 0; i < sizeof hs_table / sizeof hs_table[0]; i++)
        if (hs_table[i].state == state && hs_table[i].type == type)
            return &hs_table[i];
    return NULL;
}

int etls_tls_handshake_check(const etls_tls_conn_t *c, uint8_t type, uint32_t len)
{
    ETLS_ENSURE(find_rule(c->state, type), ALERT(UNEXPECTED_MESSAGE));
    if (type == HT_CLIENT_HELLO) /* too big: illegal_parameter, see ETLS_TLS_MAX_HS_MSG */
        ETLS_ENSURE(len <= c->ctx->max_hs_msg && len <= ETLS_TLS_MAX_HS_MSG, ALERT(ILLEGAL_PARAMETER));
    if (type == HT_FINISHED)
        ETLS_ENSURE(len == (c->version == ETLS_TLS_VERSION_12 ? ETLS_TLS12_VERIFY_LEN : etls_hash_len(c->hash)),
                    ALERT(DECODE_ERROR));
    if (type == HT_KEY_UPDATE)
        ETLS_ENSURE(len == 1, ALERT(DECODE_ERROR));
    if (type == HT_CLIENT_KEY_EXCHANGE) /* RFC 8422 §5.7 point<1..255>, or an RSA-4096 ciphertext */
        ETLS_ENSURE(len <= 2 + ETLS_SIG_MAX_LEN, ALERT(DECODE_ERROR));
    if (type == HT_CERTIFICATE) /* bounded before it is buffered: a resource bound, not malformed */
        ETLS_ENSURE(len <= ETLS_TLS_CLIENT_CERT_MSG_MAX, ALERT(BAD_CERTIFICATE));
    if (type == HT_CERTIFICATE_VERIFY)
        ETLS_ENSURE(len >= 4 && len <= 4 + ETLS_SIG_MAX_LEN, ALERT(DECODE_ERROR));
    return 0;
}

int etls_tls_handshake_msg(etls_tls_conn_t *c, const uint8_t *hdr, const uint8_t *body,
                           size_t len, etls_tls_buf_t *out)
{
    const struct hs_rule *r = find_rule(c->state, hdr[0]);
    ETLS_ENSURE(r, ALERT(UNEXPECTED_MESSAGE));
    return r->handle(c, hdr, body, len, out);
}

/* ---- ClientHello: checks and choices -------------------------------------------------------- */

/* §4.2.1: TLS 1.3 is negotiated only through supported_versions; §4.1.2: legacy_version is
 * 0x0303 and the only compression method is null. TLS 1.2 fallback is not implemented. */
static int check_versions(const etls_ch_t *ch)
{
    ETLS_ENSURE(ch->has_tls13, ALERT(PROTOCOL_VERSION));
    ETLS_ENSURE(ch->legacy_version == 0x0303, ALERT(PROTOCOL_VERSION));
    ETLS_ENSURE(ch->comp_len == 1 && ch->comp[0] == 0, ALERT(ILLEGAL_PARAMETER));
    return 0;
}

/* §9.2: certificate authentication needs signature_algorithms; (EC)DHE needs supported_groups
 * and key_share together; §4.2.9: a PSK offer needs psk_key_exchange_modes. */
static int check_mandatory(const etls_ch_t *ch)
{
    ETLS_ENSURE(ch->has_sigalgs, ALERT(MISSING_EXTENSION));
    ETLS_ENSURE(ch->has_groups && ch->has_key_share, ALERT(MISSING_EXTENSION));
    ETLS_ENSURE(!ch->has_psk || ch->has_psk_modes, ALERT(MISSING_EXTENSION));
    return 0;
}

static int in_list(uint16_t v, const uint16_t *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == v)
            return 1;
    return 0;
}

/* §4.1.1: server preference order unless the context honours the client's. */
static int select_suite(const etls_tls_conn_t *c, const etls_ch_t *ch, uint16_t *suite)
{
    const etls_tls_server_ctx_t *ctx = c->ctx;
    if (ctx->client_order) {
        for (size_t i = 0; i < ch->n_suites; i++)
            if (in_list(ch->suites[i], ctx->suites, ctx->n_suites))
                return *suite = ch->suites[i], 0;
    } else {
        for (size_t i = 0; i < ctx->n_suites; i++)
            if (in_list(ctx->suites[i], ch->suites, ch->n_suites))
                return *suite = ctx->suites[i], 0;
    }
    return ALERT(HANDSHAKE_FAILURE);
}

/* §4.2.8.2 (P-256: uncompressed point), RFC 7748 (X25519: 32 bytes) and
 * draft-ietf-tls-ecdhe-mlkem (X25519MLKEM768: 1184-byte ML-KEM-768 encapsulation key, then 32
 * bytes of X25519; the key's FIPS 203 §7.2 modulus check comes with the encapsulation). */
static int share_ok(uint16_t group, uint16_t len, const uint8_t *key)
{
    if (group == ETLS_TLS_GROUP_X25519)
        return len == 32;
    if (group == ETLS_TLS_GROUP_X25519MLKEM768)
        return len == ETLS_TLS_HYBRID_CLIENT_SHARE_LEN;
    return len == ETLS_P256_POINT_LEN && key[0] == 4;
}

/* §4.2.8: the most preferred mutual group for which the client sent a share; *share = -1 and
 * *group = the most preferred mutual group when a HelloRetryRequest is needed. No mutual group
 * at all: handshake_failure. */
static int select_group(const etls_tls_conn_t *c, const etls_ch_t *ch, uint16_t *group, int *share)
{
    const etls_tls_server_ctx_t *ctx = c->ctx;
    /* Each share must be for an offered group (§4.2.8, a check servers MAY make). The parser
     * keeps only shares of groups we implement, and always keeps those groups from
     * supported_groups, so the check is exact; shares of other groups were skipped. */
    for (size_t i = 0; i < ch->n_shares; i++)
        ETLS_ENSURE(in_list(ch->shares[i].group, ch->groups, ch->n_groups), ALERT(ILLEGAL_PARAMETER));
    *share = -1;
    *group = 0;
    for (size_t g = 0; g < ctx->n_groups; g++) {
        if (!in_list(ctx->groups[g], ch->groups, ch->n_groups))
            continue;
        if (!*group)
            *group = ctx->groups[g];
        for (size_t i = 0; i < ch->n_shares; i++) {
            if (ch->shares[i].group != ctx->groups[g])
                continue;
            ETLS_ENSURE(share_ok(ch->shares[i].group, ch->shares[i].len, ch->shares[i].key),
                        ALERT(ILLEGAL_PARAMETER));
            *group = ctx->groups[g];
            *share = (int)i;
            return 0;
        }
    }
    return *group ? 0 : ALERT(HANDSHAKE_FAILURE);
}

/* RFC 6066 §3 selects the certificate; §4.2.3 / §4.4.3: its scheme must be one the client
 * offered in signature_algorithms, otherwise handshake_failure. */
int etls_tls_hs_select_cert(etls_tls_conn_t *c, const etls_ch_t *ch, const uint16_t *schemes,
                            size_t n_schemes)
{
    int by_name = 0;
    c->sni_len = 0;
    c->sni[0] = 0;
    if (ch->sni) {
        for (size_t i = 0; i < ch->sni_len; i++) {
            char x = (char)ch->sni[i];
            c->sni[i] = (x >= 'A' && x <= 'Z') ? (char)(x - 'A' + 'a') : x;
        }
        c->sni_len = (uint8_t)ch->sni_len;
        c->sni[c->sni_len] = 0;
    }
    c->cert = etls_tls_select_cert(c->ctx, ch->sni ? c->sni : NULL, c->sni_len, schemes,
                                   n_schemes, &by_name);
    ETLS_ENSURE(c->cert, ALERT(HANDSHAKE_FAILURE));
    c->sig_scheme = c->cert->scheme;
    c->hs->sni_used = (uint8_t)by_name;
    return 0;
}

static int select_cert(etls_tls_conn_t *c, const etls_ch_t *ch)
{
    return etls_tls_hs_select_cert(c, ch, ch->sigalgs, ch->n_sigalgs);
}

/* RFC 7301 §3.2: our most preferred protocol the client offered; none -> alert 120. */
int etls_tls_hs_select_alpn(etls_tls_conn_t *c, const etls_ch_t *ch)
{
    const etls_tls_server_ctx_t *ctx = c->ctx;
    c->alpn = -1;
    if (!ctx->n_alpn || !ch->has_alpn)
        return 0;
    for (size_t s = 0; s < ctx->alpn_len; s += 1u + ctx->alpn[s]) {
        for (size_t i = 0; i < ch->alpn_len; i += 1u + ch->alpn[i]) {
            if (ch->alpn[i] == ctx->alpn[s] && memcmp(ch->alpn + i + 1, ctx->alpn + s + 1, ch->alpn[i]) == 0) {
                c->alpn = (int16_t)s;
                return 0;
            }
        }
    }
    return ALERT(NO_APPLICATION_PROTOCOL);
}

/* ---- HelloRetryRequest with a stateless cookie (§4.1.4, §4.2.2) ---------------------------
 * cookie = suite (2) || group (2) || hash length (1) || Hash(ClientHello1) || HMAC-SHA256 over
 * the preceding bytes with the context's cookie key. It carries everything needed to resume
 * from the second ClientHello, so a server could drop its state after sending the HRR. */
#define COOKIE_MAX (5 + ETLS_HASH_MAX_LEN + ETLS_SHA256_LEN)

static size_t make_cookie(const etls_tls_conn_t *c, const uint8_t *ch1_hash, uint8_t *cookie)
{
    size_t hl = etls_hash_len(c->hash);
    put_u16(cookie, c->suite);
    put_u16(cookie + 2, c->group);
    cookie[4] = (uint8_t)hl;
    memcpy(cookie + 5, ch1_hash, hl);
    etls_hmac(ETLS_HASH_SHA256, c->ctx->cookie_key, sizeof c->ctx->cookie_key, cookie, 5 + hl,
              cookie + 5 + hl);
    return 5 + hl + ETLS_SHA256_LEN;
}

static int check_cookie(const etls_tls_conn_t *c, const etls_ch_t *ch)
{
    uint8_t mac[ETLS_SHA256_LEN];
    size_t hl = etls_hash_len(c->hash);
    ETLS_ENSURE(ch->has_cookie, ALERT(ILLEGAL_PARAMETER));
    ETLS_ENSURE(ch->cookie_len == 5 + hl + ETLS_SHA256_LEN, ALERT(ILLEGAL_PARAMETER));
    etls_hmac(ETLS_HASH_SHA256, c->ctx->cookie_key, sizeof c->ctx->cookie_key, ch->cookie, 5 + hl, mac);
    ETLS_ENSURE(etls_ct_memeq(mac, ch->cookie + 5 + hl, sizeof mac), ALERT(ILLEGAL_PARAMETER));
    uint16_t suite = (uint16_t)(ch->cookie[0] << 8 | ch->cookie[1]);
    uint16_t group = (uint16_t)(ch->cookie[2] << 8 | ch->cookie[3]);
    ETLS_ENSURE(suite == c->suite && group == c->group && ch->cookie[4] == hl, ALERT(ILLEGAL_PARAMETER));
    return 0;
}

/* §4.4.1: after an HRR the transcript restarts with message_hash(Hash(ClientHello1)). */
static int send_hrr(etls_tls_conn_t *c, const uint8_t *hdr, const uint8_t *body, size_t len,
                    etls_tls_buf_t *out)
{
    uint8_t h1[ETLS_HASH_MAX_LEN], cookie[COOKIE_MAX];
    size_t hl = etls_hash_len(c->hash);
    uint8_t mh[4] = {HT_MESSAGE_HASH, 0, 0, (uint8_t)hl};
    etls_hash_init(&c->hs->transcript, c->hash);
    etls_tls_transcript(c, hdr, 4);
    etls_tls_transcript(c, body, len);
    etls_hash_final(&c->hs->transcript, h1);
    size_t cl = make_cookie(c, h1, cookie);
    etls_hash_init(&c->hs->transcript, c->hash);
    etls_tls_transcript(c, mh, 4);
    etls_tls_transcript(c, h1, hl);
    c->hs->hrr_sent = 1;
    c->hrr = 1;
    c->state = ST_CLIENT_HELLO2;
    return etls_tls_write_hrr(c, out, c->group, cookie, cl);
}

/* ---- PSK resumption (§4.2.11, §4.6.1) -------------------------------------------------------- */

static void sni_hash(const etls_tls_conn_t *c, uint8_t out[8])
{
    uint8_t h[ETLS_SHA256_LEN];
    etls_hash(ETLS_HASH_SHA256, c->sni, c->sni_len, h);
    memcpy(out, h, 8);
}

/* binder = HMAC(finished_key(Derive-Secret(Early Secret, "res binder", "")),
 *               Transcript-Hash(ClientHello truncated before the binders)). */
static int check_binder(const etls_tls_conn_t *c, const etls_ch_t *ch, const uint8_t *hdr,
                        const etls_tls_ticket_t *t)
{
    size_t hl = etls_hash_len(c->hash);
    uint8_t th[ETLS_HASH_MAX_LEN], empty[ETLS_HASH_MAX_LEN], bk[ETLS_HASH_MAX_LEN], want[ETLS_HASH_MAX_LEN];
    etls_hash_ctx_t h;
    etls_tls13_ks_t ks;
    if (c->state == ST_CLIENT_HELLO2)
        h = c->hs->transcript; /* message_hash(ClientHello1) || HelloRetryRequest */
    else
        etls_hash_init(&h, c->hash);
    etls_hash_update(&h, hdr, 4);
    etls_hash_update(&h, ch->body, ch->psk_binders_off);
    etls_hash_final(&h, th);
    etls_hash(c->hash, "", 0, empty);
    etls_tls13_ks_init(&ks, c->hash, t->psk, t->psk_len);
    int rc = etls_tls13_derive_secret(c->hash, ks.secret, "res binder", empty, bk);
    if (rc == 0)
        rc = etls_tls13_finished(c->hash, bk, th, want);
    etls_tls13_ks_wipe(&ks);
    etls_wipe(bk, sizeof bk);
    ETLS_ENSURE(rc == 0, ALERT(INTERNAL_ERROR));
    ETLS_ENSURE(ch->psk_binder_len == hl && etls_ct_memeq(want, ch->psk_binder, hl), ALERT(DECRYPT_ERROR));
    return 0;
}

/* Resumes when the first identity is one of our tickets, unexpired, for the negotiated hash
 * and the same server name, offered with psk_dhe_ke; then its binder must verify. Any other
 * ticket problem just means a full handshake. */
static int try_psk(etls_tls_conn_t *c, const etls_ch_t *ch, const uint8_t *hdr)
{
    etls_tls_ticket_t t;
    etls_aead_alg_t aead;
    etls_hash_alg_t hash;
    uint8_t sh[8];
    c->hs->psk_ok = 0;
    if (!c->ctx->n_ticket_keys || !ch->has_psk || !(ch->psk_modes & 2))
        return 0;
    if (etls_tls_ticket_open(c->ctx, ch->psk_id, ch->psk_id_len, &t) != 0)
        return 0;
    uint64_t now = etls_tls_now_ms(c->ctx);
    sni_hash(c, sh);
    int ok = t.version == ETLS_TLS_VERSION_13 && /* a TLS 1.2 ticket never resumes 1.3 */
             etls_tls_suite_params(t.suite, &aead, &hash) == 0 && hash == c->hash &&
             t.psk_len == etls_hash_len(hash) && memcmp(sh, t.sni_hash, 8) == 0 &&
             now >= t.issued_ms && now - t.issued_ms <= (uint64_t)c->ctx->ticket_lifetime * 1000;
    int rc = ok ? check_binder(c, ch, hdr, &t) : 0;
    if (ok && rc == 0)
        ok = etls_tls_ca_resume_ok(c, &t); /* the ticket's client identity and policy */
    if (ok && rc == 0) {
        c->hs->psk_ok = 1;
        c->resumed = 1;
        memcpy(c->hs->psk, t.psk, t.psk_len);
    }
    etls_wipe(&t, sizeof t);
    return rc;
}

/* §4.6.1: one ticket after the handshake; the PSK is derived from the resumption master
 * secret over the transcript through the client's Finished. Skipped when out is full. */
int etls_tls_send_ticket(etls_tls_conn_t *c, const uint8_t *hdr, const uint8_t *body, size_t len,
                         etls_tls_buf_t *out)
{
    static const uint8_t nonce[1] = {0};
    uint8_t th[ETLS_HASH_MAX_LEN], res[ETLS_HASH_MAX_LEN], ticket[ETLS_TLS_TICKET_MAX];
    uint8_t msg[32 + ETLS_TLS_TICKET_MAX];
    etls_tls_ticket_t t;
    size_t hl = etls_hash_len(c->hash), tlen = 0;
    if (!c->ctx->n_ticket_keys)
        return 0;
    etls_tls_transcript(c, hdr, 4);
    etls_tls_transcript(c, body, len);
    etls_hash_peek(&c->hs->transcript, th);
    memset(&t, 0, sizeof t);
    t.suite = c->suite;
    t.issued_ms = etls_tls_now_ms(c->ctx);
    t.psk_len = (uint8_t)hl;
    sni_hash(c, t.sni_hash);
    if (c->peer.flags & ETLS_TLS_PEER_VERIFIED) { /* the session keeps its client identity */
        const etls_tls_client_auth_t *a = c->hs->ca ? c->hs->ca : etls_tls_ca_policy(c);
        t.peer = c->peer;
        if (a)
            memcpy(t.ca_tag, etls_tls_ca_tag(a), sizeof t.ca_tag);
    }
    int rc = etls_tls13_ks_resumption(&c->hs->ks, th, res);
    if (rc == 0)
        rc = etls_tls13_expand_label(c->hash, res, "resumption", nonce, 1, t.psk, hl);
    if (rc == 0)
        rc = etls_rand_bytes(c->env->rng, &t.age_add, sizeof t.age_add);
    if (rc == 0)
        rc = etls_tls_ticket_seal(c->ctx, c->env->rng, &t, ticket, &tlen);
    uint32_t age_add = t.age_add, life = c->ctx->ticket_lifetime;
    etls_wipe(res, sizeof res);
    etls_wipe(&t, sizeof t);
    ETLS_ENSURE(rc == 0, ALERT(INTERNAL_ERROR));
    etls_wr_t m = {msg, 0, sizeof msg, 0};
    etls_wr_u8(&m, HT_NEW_SESSION_TICKET);
    etls_wr_u24(&m, (uint32_t)(4 + 4 + 2 + 2 + tlen + 2));
    etls_wr_u16(&m, (uint16_t)(life >> 16));
    etls_wr_u16(&m, (uint16_t)life);
    etls_wr_u16(&m, (uint16_t)(age_add >> 16));
    etls_wr_u16(&m, (uint16_t)age_add);
    etls_wr_u8(&m, sizeof nonce);
    etls_wr_bytes(&m, nonce, sizeof nonce);
    etls_wr_u16(&m, (uint16_t)tlen);
    etls_wr_bytes(&m, ticket, tlen);
    etls_wr_u16(&m, 0); /* no extensions: no early data */
    ETLS_ENSURE(!m.overflow, ALERT(INTERNAL_ERROR));
    rc = etls_tls_write_record(c, out, CT_HANDSHAKE, msg, m.len);
    return rc == ETLS_ERR_LIMIT ? 0 : rc;
}

/* ---- key exchange --------------------------------------------------------------------------- */

/* draft-ietf-tls-ecdhe-mlkem: the ML-KEM half of X25519MLKEM768, run inline (the X25519 half
 * goes to the batch like a plain X25519 exchange). Ciphertext to the front of our share, the
 * ML-KEM secret to the front of the shared secret. An encapsulation key that fails the FIPS 203
 * §7.2 modulus check is the client's error: illegal_parameter. The encapsulation wipes its
 * randomness; the secret is wiped with the rest of the handshake secrets (flight.c). */
static int hybrid_encaps(etls_tls_conn_t *c, const uint8_t *ek)
{
    int rc = etls_mlkem768_encaps(c->hs->my_share, c->hs->shared, ek, ETLS_MLKEM768_EK_LEN,
                                  c->env->rng);
    ETLS_ENSURE(rc != ETLS_ERR_INVALID, ALERT(ILLEGAL_PARAMETER));
    ETLS_ENSURE(rc == 0, ALERT(INTERNAL_ERROR));
    return 0;
}

static int start_key_exchange(etls_tls_conn_t *c, etls_tls_buf_t *out)
{
    etls_batch_t *b = c->env->batch;
    c->state = ST_KEY_EXCHANGE;
    c->hs->kx_status[0] = c->hs->kx_status[1] = 0;
    if (c->group == ETLS_TLS_GROUP_X25519 || c->group == ETLS_TLS_GROUP_X25519MLKEM768) {
        int hybrid = c->group == ETLS_TLS_GROUP_X25519MLKEM768;
        uint8_t *pub = c->hs->my_share + (hybrid ? ETLS_MLKEM768_CT_LEN : 0);
        uint8_t *shared = c->hs->shared + (hybrid ? ETLS_MLKEM768_SS_LEN : 0);
        ETLS_GUARD(etls_rand_bytes(c->env->rng, c->hs->my_sk, 32));
        if (!b) {
            etls_x25519_public(pub, c->hs->my_sk);
            c->hs->kx_status[1] = etls_x25519_shared(shared, c->hs->my_sk, c->hs->peer_share);
            return etls_tls_handshake_resume(c, out);
        }
        etls_x25519_op_t *gen = etls_batch_x25519(b, &c->waiter, &c->hs->kx_status[0]);
        gen->sk = c->hs->my_sk;
        gen->out = pub;
        etls_x25519_op_t *dh = etls_batch_x25519(b, &c->waiter, &c->hs->kx_status[1]);
        dh->sk = c->hs->my_sk;
        dh->peer = c->hs->peer_share;
        dh->out = shared;
        return ETLS_ERR_IN_PROGRESS;
    }
    if (!b) {
        etls_p256_key_t k;
        c->hs->kx_status[0] = etls_p256_keygen(&k, c->hs->my_share);
        if (c->hs->kx_status[0] == 0)
            c->hs->kx_status[1] = etls_p256_shared_len(&k, c->hs->peer_share, c->hs->peer_share_len,
                                                      c->hs->shared);
        etls_p256_key_wipe(&k);
        return etls_tls_handshake_resume(c, out);
    }
    etls_batch_p256_op_t *op = etls_batch_p256(b, &c->waiter, &c->hs->kx_status[0]);
    op->peer = c->hs->peer_share;
    op->peer_len = c->hs->peer_share_len;
    op->pub = c->hs->my_share;
    op->shared = c->hs->shared;
    return ETLS_ERR_IN_PROGRESS;
}

int etls_tls_handshake_resume(etls_tls_conn_t *c, etls_tls_buf_t *out)
{
    if (c->version == ETLS_TLS_VERSION_12)
        return etls_tls12_resume(c, out);
    if (c->state == ST_SIGN)
        return etls_tls_flight_finish(c, out);
    ETLS_ENSURE(c->state == ST_KEY_EXCHANGE, ETLS_ERR_INVALID);
    etls_wipe(c->hs->my_sk, sizeof c->hs->my_sk);
    for (int i = 0; i < 2; i++) {
        /* RFC 8446 §7.4.2 (all-zero X25519 result) and §4.2.8.2 (invalid point). */
        ETLS_ENSURE(c->hs->kx_status[i] != ETLS_ERR_INVALID, ALERT(ILLEGAL_PARAMETER));
        ETLS_ENSURE(c->hs->kx_status[i] == 0, ALERT(INTERNAL_ERROR));
    }
    return etls_tls_flight_hello(c, out);
}

/* ---- handlers ------------------------------------------------------------------------------ */

/* Choices common to both ClientHellos; on the second one they must repeat the first's. */
static int negotiate(etls_tls_conn_t *c, const etls_ch_t *ch, int *share)
{
    uint16_t suite, group;
    ETLS_GUARD(check_versions(ch));
    ETLS_GUARD(check_mandatory(ch));
    ETLS_GUARD(select_suite(c, ch, &suite));
    ETLS_GUARD(select_group(c, ch, &group, share));
    if (c->state == ST_CLIENT_HELLO2) { /* §4.1.4: same suite, a share for the HRR's group */
        ETLS_ENSURE(suite == c->suite, ALERT(ILLEGAL_PARAMETER));
        ETLS_ENSURE(*share >= 0 && group == c->group && ch->n_share_entries == 1, ALERT(ILLEGAL_PARAMETER));
        ETLS_GUARD(check_cookie(c, ch));
    }
    c->suite = suite;
    c->group = group;
    ETLS_GUARD(etls_tls_suite_params(suite, &c->aead, &c->hash));
    c->tag_len = (uint8_t)etls_aead_tag_len(c->aead);
    ETLS_GUARD(select_cert(c, ch));
    c->hs->ca = etls_tls_ca_policy(c); /* §4.3.2: requested unless a PSK resumes (flight.c) */
    return etls_tls_hs_select_alpn(c, ch);
}

static int on_client_hello(etls_tls_conn_t *c, const uint8_t *hdr, const uint8_t *body, size_t len,
                           etls_tls_buf_t *out)
{
    etls_ch_t ch;
    int share;
    uint16_t version;
    ETLS_GUARD(etls_tls_parse_client_hello(body, len, &ch));
    ETLS_GUARD(etls_tls12_choose_version(c, &ch, &version));
    if (version == ETLS_TLS_VERSION_12) {
        /* No CertificateRequest in TLS 1.2 yet: a required client certificate refuses it
         * (the certificate it would select, any scheme, says which policy applies). */
        ETLS_GUARD(etls_tls_hs_select_cert(c, &ch, NULL, 0));
        ETLS_ENSURE(etls_tls_client_auth_mode(etls_tls_ca_policy(c)) != ETLS_TLS_CLIENT_AUTH_REQUIRED,
                    ALERT(PROTOCOL_VERSION));
        return etls_tls12_client_hello(c, &ch, hdr, body, len, out);
    }
    c->version = ETLS_TLS_VERSION_13;
    ETLS_GUARD(negotiate(c, &ch, &share));
    c->hs->session_id_len = ch.session_id_len;
    memcpy(c->hs->session_id, ch.session_id, ch.session_id_len);
    c->hs->send_ccs = ch.session_id_len > 0; /* §D.4 middlebox compatibility mode */
    c->hs->early_data = ch.early_data;
    c->hs->peer_limit = ch.record_size_limit;
    if (ch.record_size_limit) { /* RFC 8449 §4: the limit counts the inner content type */
        size_t lim = (size_t)ch.record_size_limit - 1;
        c->send_max = (uint16_t)(lim < ETLS_TLS_MAX_PLAINTEXT ? lim : ETLS_TLS_MAX_PLAINTEXT);
        uint16_t ours = c->ctx->record_size_limit; /* a field the loader sets: clamp it */
        c->recv_max = (uint16_t)(ours >= 64 && ours <= ETLS_TLS_MAX_PLAINTEXT + 1 ? ours - 1 : ETLS_TLS_MAX_PLAINTEXT);
    }
    if (share < 0)
        return send_hrr(c, hdr, body, len, out);
    ETLS_GUARD(try_psk(c, &ch, hdr));
    if (c->state == ST_CLIENT_HELLO)
        etls_hash_init(&c->hs->transcript, c->hash);
    etls_tls_transcript(c, hdr, 4);
    etls_tls_transcript(c, body, len);
    const uint8_t *key = ch.shares[share].key;
    uint16_t key_len = ch.shares[share].len;
    if (c->group == ETLS_TLS_GROUP_X25519MLKEM768) { /* ek || X25519: keep the X25519 part */
        ETLS_GUARD(hybrid_encaps(c, key));
        key += ETLS_MLKEM768_EK_LEN;
        key_len = 32;
    }
    c->hs->peer_share_len = key_len;
    memcpy(c->hs->peer_share, key, key_len);
    return start_key_exchange(c, out);
}

/* §4.4.4: verify_data compared in constant time; a mismatch is decrypt_error. Then the
 * client's application traffic key (§7.1) and the handshake state goes away. */
static int on_finished(etls_tls_conn_t *c, const uint8_t *hdr, const uint8_t *body, size_t len,
                       etls_tls_buf_t *out)
{
    ETLS_ENSURE(etls_ct_memeq(body, c->hs->expect_fin, len), ALERT(DECRYPT_ERROR));
    ETLS_GUARD(etls_tls_send_ticket(c, hdr, body, len, out));
    ETLS_GUARD(etls_tls_dir_set(c, &c->rd, c->hs->client_ap));
    c->resumed = c->hs->psk_ok;
    etls_tls_hs_release(c); /* an idle connection keeps only etls_tls_conn_t */
    c->state = ST_ESTABLISHED;
    return 0;
}

/* §4.6.3: next read key; a requested update is answered before our next application data
 * (conn.c flush_owed: one KeyUpdate however many requests arrived meanwhile). */
static int on_key_update(etls_tls_conn_t *c, const uint8_t *hdr, const uint8_t *body, size_t len,
                         etls_tls_buf_t *out)
{
    (void)hdr;
    (void)len;
    (void)out;
    ETLS_ENSURE(c->version != ETLS_TLS_VERSION_12, ALERT(UNEXPECTED_MESSAGE)); /* no KeyUpdate in 1.2 */
    ETLS_ENSURE(body[0] <= 1, ALERT(ILLEGAL_PARAMETER));
    ETLS_ENSURE(etls_tls13_update_secret(c->hash, c->rd.secret) == 0, ALERT(INTERNAL_ERROR));
    ETLS_GUARD(etls_tls_dir_set(c, &c->rd, c->rd.secret));
    c->rd_changed = 1;
    if (body[0] == 1 && !c->close_sent)
        c->ku_owed = 1;
    return 0;
}

/* RFC 8446 §4.1.2 forbids a ClientHello after the handshake; TLS 1.2 answers no_renegotiation. */
static int on_renegotiation(etls_tls_conn_t *c, const uint8_t *hdr, const uint8_t *body, size_t len,
                            etls_tls_buf_t *out)
{
    (void)hdr;
    (void)body;
    (void)len;
    ETLS_ENSURE(c->version == ETLS_TLS_VERSION_12, ALERT(UNEXPECTED_MESSAGE));
    return etls_tls12_on_renegotiation(c, out);
}
