/* The TLS 1.2 server handshake (RFC 5246 §7.3), ECDHE (RFC 8422) and, when tls12_rsa_kx is on,
 * the legacy RSA key exchange (§7.4.7.1), as handlers of the same state table as TLS 1.3
 * (hs_server.c):
 *
 *   ClientHello            -> [park: our ECDHE key pair] -> [park: ServerKeyExchange signature]
 *                          -> ServerHello, Certificate, ServerKeyExchange, ServerHelloDone
 *                             (RSA key exchange: no key pair, no ServerKeyExchange)
 *   ClientKeyExchange      -> [park: ECDH | RSA decryption] -> master secret, key block
 *                                                                        (ST12_CHANGE_CIPHER_SPEC)
 *   change_cipher_spec     -> client keys on (tls12_record.c)            (ST12_FINISHED)
 *   Finished               -> [NewSessionTicket], change_cipher_spec, Finished  (ST_ESTABLISHED)
 *
 * Version negotiation for both versions lives here too (etls_tls12_choose_version). */
#include "tls/tls_internal.h"

#include "crypto/x25519.h"

/* RFC 5289 and RFC 7905 suites: AEAD, PRF hash, and whether the certificate is ECDSA. */
static const struct suite12 {
    uint16_t id;
    etls_aead_alg_t aead;
    etls_hash_alg_t hash;
    uint8_t ecdsa;
    const char *name;
} suites12[] = {
    {ETLS_TLS_ECDHE_ECDSA_AES_128_GCM_SHA256, ETLS_AEAD_AES128GCM, ETLS_HASH_SHA256, 1,
     "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
    {ETLS_TLS_ECDHE_RSA_AES_128_GCM_SHA256, ETLS_AEAD_AES128GCM, ETLS_HASH_SHA256, 0,
     "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
    {ETLS_TLS_ECDHE_ECDSA_AES_256_GCM_SHA384, ETLS_AEAD_AES256GCM, ETLS_HASH_SHA384, 1,
     "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
    {ETLS_TLS_ECDHE_RSA_AES_256_GCM_SHA384, ETLS_AEAD_AES256GCM, ETLS_HASH_SHA384, 0,
     "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
    {ETLS_TLS_ECDHE_ECDSA_CHACHA20_POLY1305_SHA256, ETLS_AEAD_CHACHA20POLY1305, ETLS_HASH_SHA256, 1,
     "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
    {ETLS_TLS_ECDHE_RSA_CHACHA20_POLY1305_SHA256, ETLS_AEAD_CHACHA20POLY1305, ETLS_HASH_SHA256, 0,
     "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
    /* RFC 5288: RSA key exchange, only with tls12_rsa_kx (rsa_kx()) and last by default */
    {ETLS_TLS_RSA_AES_128_GCM_SHA256, ETLS_AEAD_AES128GCM, ETLS_HASH_SHA256, 0,
     "TLS_RSA_WITH_AES_128_GCM_SHA256"},
    {ETLS_TLS_RSA_AES_256_GCM_SHA384, ETLS_AEAD_AES256GCM, ETLS_HASH_SHA384, 0,
     "TLS_RSA_WITH_AES_256_GCM_SHA384"},
};
#define N_SUITES12 (sizeof suites12 / sizeof suites12[0])

/* RFC 8446 §4.1.3: the last 8 bytes of ServerHello.random when a TLS 1.3 server picks 1.2. */
static const uint8_t downgrade_tls12[8] = {'D', 'O', 'W', 'N', 'G', 'R', 'D', 1};

/* RSA schemes in our preference order (the certificate's own, RSA-PSS-SHA256, first). */
static const uint16_t rsa_schemes[] = {ETLS_SIG_RSA_PSS_RSAE_SHA256, ETLS_SIG_RSA_PSS_RSAE_SHA384,
                                       ETLS_SIG_RSA_PKCS1_SHA256, ETLS_SIG_RSA_PKCS1_SHA384};

static const struct suite12 *suite12_find(uint16_t id)
{
    for (size_t i = 0; i < N_SUITES12; i++)
        if (suites12[i].id == id)
            return &suites12[i];
    return NULL;
}

int etls_tls_suite_is12(uint16_t id)
{
    return suite12_find(id) != NULL;
}

static int rsa_kx(uint16_t id)
{
    return id == ETLS_TLS_RSA_AES_128_GCM_SHA256 || id == ETLS_TLS_RSA_AES_256_GCM_SHA384;
}

int etls_tls_suite_is_rsa_kx(uint16_t id)
{
    return rsa_kx(id);
}

const char *etls_tls12_suite_name(uint16_t id)
{
    const struct suite12 *d = suite12_find(id);
    return d ? d->name : "unknown";
}

int etls_tls_server_ctx_set_protocols(etls_tls_server_ctx_t *ctx, unsigned protocols)
{
    ETLS_ENSURE(protocols && !(protocols & ~(unsigned)(ETLS_TLS_PROTO_12 | ETLS_TLS_PROTO_13)),
                ETLS_ERR_INVALID);
    ctx->protocols = (uint8_t)protocols;
    return 0;
}

int etls_tls_server_ctx_set_suites12(etls_tls_server_ctx_t *ctx, const uint16_t *ids, size_t n)
{
    ETLS_ENSURE(n >= 1 && n <= ETLS_TLS_MAX_SUITES12, ETLS_ERR_INVALID);
    for (size_t i = 0; i < n; i++) {
        ETLS_ENSURE(suite12_find(ids[i]), ETLS_ERR_INVALID);
        for (size_t j = 0; j < i; j++)
            ETLS_ENSURE(ids[j] != ids[i], ETLS_ERR_INVALID);
    }
    memcpy(ctx->suites12, ids, n * sizeof *ids);
    ctx->n_suites12 = n;
    return 0;
}

/* The context's TLS 1.2 suites; a context never given any uses the table order. The RSA key
 * exchange suites count only with tls12_rsa_kx, however they got into the list. */
static size_t ctx_suites12(const etls_tls_server_ctx_t *ctx, uint16_t *ids)
{
    size_t n = 0, m = ctx->n_suites12 ? ctx->n_suites12 : N_SUITES12;
    for (size_t i = 0; i < m; i++) {
        uint16_t id = ctx->n_suites12 ? ctx->suites12[i] : suites12[i].id;
        if (!rsa_kx(id) || ctx->tls12_rsa_kx)
            ids[n++] = id;
    }
    return n;
}

static int in_list(uint16_t v, const uint16_t *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == v)
            return 1;
    return 0;
}

/* ---- version ----------------------------------------------------------------------------- */

/* RFC 8446 §4.2.1: with supported_versions only its list counts; without it legacy_version is
 * the client's highest (RFC 5246 §E.1). RFC 7507 §3: TLS_FALLBACK_SCSV from a client whose
 * highest version is below ours is inappropriate_fallback. After a HelloRetryRequest only 1.3. */
int etls_tls12_choose_version(const etls_tls_conn_t *c, const etls_ch_t *ch, uint16_t *version)
{
    unsigned p = c->ctx->protocols ? c->ctx->protocols : ETLS_TLS_PROTO_13;
    uint16_t ours = (p & ETLS_TLS_PROTO_13) ? ETLS_TLS_VERSION_13 : ETLS_TLS_VERSION_12;
    int has12 = ch->has_versions ? ch->has_tls12 : ch->legacy_version >= ETLS_TLS_VERSION_12;
    uint16_t theirs = ch->has_versions && ch->has_tls13 ? ETLS_TLS_VERSION_13
                      : has12                          ? ETLS_TLS_VERSION_12
                                                       : ch->legacy_version;
    ETLS_ENSURE(!ch->fallback_scsv || theirs >= ours, ALERT(INAPPROPRIATE_FALLBACK));
    if (theirs == ETLS_TLS_VERSION_13 && (p & ETLS_TLS_PROTO_13)) {
        *version = ETLS_TLS_VERSION_13;
        return 0;
    }
    ETLS_ENSURE(c->state == ST_CLIENT_HELLO, ALERT(PROTOCOL_VERSION));
    ETLS_ENSURE(has12 && (p & ETLS_TLS_PROTO_12), ALERT(PROTOCOL_VERSION));
    *version = ETLS_TLS_VERSION_12;
    return 0;
}

/* ---- ClientHello choices ------------------------------------------------------------------- */

static int offers_rsa_scheme(const etls_ch_t *ch)
{
    for (size_t i = 0; i < sizeof rsa_schemes / sizeof rsa_schemes[0]; i++)
        if (in_list(rsa_schemes[i], ch->sigalgs, ch->n_sigalgs))
            return 1;
    return 0;
}

/* RFC 6066 §3 selection (the same as TLS 1.3) among the certificate types some mutual suite
 * can use and the client can verify (§7.4.1.4.1: without signature_algorithms only SHA-1
 * would be allowed, which we do not sign with). */
static int select_cert12(etls_tls_conn_t *c, const etls_ch_t *ch)
{
    uint16_t ours[ETLS_TLS_MAX_SUITES12], schemes[2];
    size_t n = ctx_suites12(c->ctx, ours), ns = 0;
    int ecdsa = 0, rsa = 0, rsa_enc = 0;
    for (size_t i = 0; i < n; i++) {
        if (!in_list(ours[i], ch->suites, ch->n_suites))
            continue;
        if (suite12_find(ours[i])->ecdsa)
            ecdsa = 1;
        else if (rsa_kx(ours[i]))
            rsa_enc = 1; /* the certificate's key decrypts: no signature, no scheme needed */
        else
            rsa = 1;
    }
    ETLS_ENSURE(ecdsa || rsa || rsa_enc, ALERT(HANDSHAKE_FAILURE));
    /* RFC 8422 §5.1.1: supported_groups also limits the curve of an ECDSA certificate */
    if (ecdsa && (!ch->has_groups || in_list(ETLS_TLS_GROUP_SECP256R1, ch->groups, ch->n_groups)) &&
        in_list(ETLS_SIG_ECDSA_SECP256R1_SHA256, ch->sigalgs, ch->n_sigalgs))
        schemes[ns++] = ETLS_SIG_ECDSA_SECP256R1_SHA256;
    if ((rsa && offers_rsa_scheme(ch)) || rsa_enc)
        schemes[ns++] = ETLS_SIG_RSA_PSS_RSAE_SHA256; /* what etls_pkey_scheme says for RSA */
    ETLS_ENSURE(ns, ALERT(HANDSHAKE_FAILURE));
    ETLS_GUARD(etls_tls_hs_select_cert(c, ch, schemes, ns));
    if (c->cert->scheme == ETLS_SIG_ECDSA_SECP256R1_SHA256)
        return 0;
    c->sig_scheme = 0; /* none: only the RSA key exchange is left (select_suite12) */
    for (size_t i = 0; i < sizeof rsa_schemes / sizeof rsa_schemes[0]; i++) {
        if (rsa && in_list(rsa_schemes[i], ch->sigalgs, ch->n_sigalgs)) {
            c->sig_scheme = rsa_schemes[i];
            return 0;
        }
    }
    return rsa_enc ? 0 : ALERT(HANDSHAKE_FAILURE);
}

/* A suite the chosen certificate can serve: its key type; for ECDHE a mutual group and (RSA)
 * a signature scheme; for the RSA key exchange neither. */
static int suite_fits(const etls_tls_conn_t *c, uint16_t id, int have_group)
{
    const struct suite12 *d = suite12_find(id);
    uint8_t want_ecdsa = c->cert->scheme == ETLS_SIG_ECDSA_SECP256R1_SHA256;
    if (d->ecdsa != want_ecdsa)
        return 0;
    return rsa_kx(id) || (have_group && (want_ecdsa || c->sig_scheme));
}

/* Server preference order (or the client's with client_order) among suites for the chosen
 * certificate's key type. */
static int select_suite12(etls_tls_conn_t *c, const etls_ch_t *ch, int have_group)
{
    uint16_t ours[ETLS_TLS_MAX_SUITES12];
    size_t n = ctx_suites12(c->ctx, ours);
    const struct suite12 *pick = NULL;
    if (c->ctx->client_order) {
        for (size_t i = 0; i < ch->n_suites && !pick; i++)
            if (in_list(ch->suites[i], ours, n) && suite_fits(c, ch->suites[i], have_group))
                pick = suite12_find(ch->suites[i]);
    } else {
        for (size_t i = 0; i < n && !pick; i++)
            if (in_list(ours[i], ch->suites, ch->n_suites) && suite_fits(c, ours[i], have_group))
                pick = suite12_find(ours[i]);
    }
    ETLS_ENSURE(pick, ALERT(HANDSHAKE_FAILURE));
    if (rsa_kx(pick->id))
        c->group = 0; /* no ephemeral key */
    c->suite = pick->id;
    c->aead = pick->aead;
    c->hash = pick->hash;
    c->tag_len = (uint8_t)etls_aead_tag_len(c->aead);
    return 0;
}

/* RFC 8422 §5.1.1: our preferred mutual curve; a client without supported_groups may get any,
 * so it gets the most widely supported one, P-256, if enabled. */
static int select_group12(etls_tls_conn_t *c, const etls_ch_t *ch)
{
    const etls_tls_server_ctx_t *ctx = c->ctx;
    for (size_t g = 0; g < ctx->n_groups; g++) {
        uint16_t id = ctx->groups[g];
        if (id != ETLS_TLS_GROUP_X25519 && id != ETLS_TLS_GROUP_SECP256R1)
            continue;
        if (!ch->has_groups ? id == ETLS_TLS_GROUP_SECP256R1 : in_list(id, ch->groups, ch->n_groups)) {
            c->group = id;
            return 0;
        }
    }
    return ALERT(HANDSHAKE_FAILURE);
}

/* RFC 5746 §3.6, RFC 8422 §5.1.2, RFC 7627 and RFC 5246 §7.4.1.2 (null compression). */
static int check_hello12(const etls_tls_conn_t *c, const etls_ch_t *ch)
{
    ETLS_ENSURE(memchr(ch->comp, 0, ch->comp_len) != NULL, ALERT(ILLEGAL_PARAMETER));
    ETLS_ENSURE(!ch->has_reneg_info || ch->reneg_info_len == 0, ALERT(HANDSHAKE_FAILURE));
    ETLS_ENSURE(!ch->has_point_formats || ch->point_uncompressed, ALERT(ILLEGAL_PARAMETER));
    ETLS_ENSURE(ch->has_ems || !c->ctx->tls12_require_ems, ALERT(HANDSHAKE_FAILURE));
    return 0;
}

static int start_keygen(etls_tls_conn_t *c, etls_tls_buf_t *out);
static int start_rsa_flight(etls_tls_conn_t *c, etls_tls_buf_t *out);
static int try_ticket(etls_tls_conn_t *c, const etls_ch_t *ch);
static int write_abbreviated(etls_tls_conn_t *c, etls_tls_buf_t *out);

int etls_tls12_client_hello(etls_tls_conn_t *c, const etls_ch_t *ch, const uint8_t *hdr,
                            const uint8_t *body, size_t len, etls_tls_buf_t *out)
{
    c->version = ETLS_TLS_VERSION_12;
    ETLS_GUARD(check_hello12(c, ch));
    ETLS_GUARD(select_cert12(c, ch));
    ETLS_GUARD(select_suite12(c, ch, select_group12(c, ch) == 0));
    ETLS_GUARD(etls_tls_hs_select_alpn(c, ch));
    etls_tls_hs_t *hs = c->hs;
    memcpy(hs->t12.client_random, ch->random, 32);
    ETLS_GUARD(etls_rand_bytes(c->env->rng, hs->t12.server_random, 32));
    unsigned p = c->ctx->protocols ? c->ctx->protocols : ETLS_TLS_PROTO_13;
    if (p & ETLS_TLS_PROTO_13)
        memcpy(hs->t12.server_random + 24, downgrade_tls12, 8);
    hs->t12.ems = ch->has_ems;
    hs->t12.ticket = ch->has_ticket_ext && ch->has_ems && c->ctx->n_ticket_keys;
    hs->send_ccs = ch->reneg_scsv || ch->has_reneg_info; /* reused: echo renegotiation_info */
    hs->session_id_len = 0; /* no session cache: resumption is by ticket only */
    if (try_ticket(c, ch)) {
        hs->session_id_len = ch->session_id_len; /* RFC 5077 §3.4: echoed when resuming */
        memcpy(hs->session_id, ch->session_id, ch->session_id_len);
        hs->t12.ticket = 0; /* not renewed */
    }
    hs->t12.rsa_kx = (uint8_t)rsa_kx(c->suite);
    hs->t12.client_version = ch->legacy_version;
    hs->t12.point_formats = ch->has_point_formats;
    etls_hash_init(&hs->transcript, c->hash);
    etls_tls_transcript(c, hdr, 4);
    etls_tls_transcript(c, body, len);
    if (c->resumed)
        return write_abbreviated(c, out);
    return hs->t12.rsa_kx ? start_rsa_flight(c, out) : start_keygen(c, out);
}

/* ---- key exchange ---------------------------------------------------------------------------- */

static size_t point_len(const etls_tls_conn_t *c)
{
    return c->group == ETLS_TLS_GROUP_X25519 ? 32 : ETLS_P256_POINT_LEN;
}

/* Our ephemeral key pair: X25519 key generation goes to the batch; P-256 runs inline (the
 * batch's P-256 op also needs the peer's point, which TLS 1.2 sends only later). */
static int start_keygen(etls_tls_conn_t *c, etls_tls_buf_t *out)
{
    etls_tls_hs_t *hs = c->hs;
    etls_batch_t *b = c->env->batch;
    c->state = ST_KEY_EXCHANGE;
    hs->t12.phase = 0;
    hs->kx_status[0] = hs->kx_status[1] = 0;
    if (c->group == ETLS_TLS_GROUP_X25519) {
        ETLS_GUARD(etls_rand_bytes(c->env->rng, hs->my_sk, 32));
        if (b) {
            etls_x25519_op_t *gen = etls_batch_x25519(b, &c->waiter, &hs->kx_status[0]);
            gen->sk = hs->my_sk;
            gen->peer = NULL;
            gen->out = hs->my_share;
            return ETLS_ERR_IN_PROGRESS;
        }
        etls_x25519_public(hs->my_share, hs->my_sk);
    } else {
        etls_p256_key_t k;
        hs->kx_status[0] = etls_p256_keygen(&k, hs->my_share);
        memcpy(hs->my_sk, k.priv, sizeof k.priv);
        etls_p256_key_wipe(&k);
    }
    return etls_tls12_resume(c, out);
}

/* RFC 8422 §5.4: ServerECDHParams = named_curve (3), the curve, the point; the signature
 * covers client_random || server_random || params (§5.4, RFC 5246 §7.4.3). */
static int start_sign(etls_tls_conn_t *c, etls_tls_buf_t *out)
{
    etls_tls_hs_t *hs = c->hs;
    ETLS_ENSURE(hs->kx_status[0] == 0, ALERT(INTERNAL_ERROR));
    uint8_t *m = hs->cv_msg;
    size_t pl = point_len(c);
    memcpy(m, hs->t12.client_random, 32);
    memcpy(m + 32, hs->t12.server_random, 32);
    m[64] = 3;
    put_u16(m + 65, c->group);
    m[67] = (uint8_t)pl;
    memcpy(m + 68, hs->my_share, pl);
    hs->t12.params_len = (uint8_t)(4 + pl);
    size_t n = 64 + hs->t12.params_len;
    hs->sig_len = sizeof hs->sig;
    c->state = ST_SIGN;
    if (c->env->batch) {
        etls_batch_sign_op_t *op = etls_batch_sign(c->env->batch, &c->waiter, &hs->sign_status);
        op->key = c->cert->key;
        op->scheme = c->sig_scheme;
        op->msg = hs->cv_msg;
        op->msg_len = n;
        op->sig = hs->sig;
        op->sig_cap = sizeof hs->sig;
        op->sig_len = &hs->sig_len;
        return ETLS_ERR_IN_PROGRESS;
    }
    hs->sign_status = etls_pkey_sign(c->cert->key, c->sig_scheme, hs->cv_msg, n, hs->sig, &hs->sig_len);
    return etls_tls12_resume(c, out);
}

/* ---- the server flight (plaintext records, fragmented at 2^14) ----------------------------- */

typedef struct pw {
    etls_tls_conn_t *c;
    uint8_t *base;
    size_t pos, rec, rec_len;
} pw_t;

static void pw_close(pw_t *w)
{
    if (w->rec == SIZE_MAX)
        return;
    uint8_t *r = w->base + w->rec;
    r[0] = CT_HANDSHAKE;
    r[1] = 3;
    r[2] = 3;
    put_u16(r + 3, (uint16_t)w->rec_len);
    w->rec = SIZE_MAX;
    w->rec_len = 0;
}

static void pw_put(pw_t *w, const void *data, size_t n)
{
    const uint8_t *p = data;
    etls_tls_transcript(w->c, p, n);
    while (n) {
        if (w->rec == SIZE_MAX) {
            w->rec = w->pos;
            w->pos += ETLS_TLS_RECORD_HEADER;
        }
        size_t take = ETLS_TLS_MAX_PLAINTEXT - w->rec_len;
        take = take < n ? take : n;
        memcpy(w->base + w->pos, p, take);
        w->pos += take;
        w->rec_len += take;
        p += take;
        n -= take;
        if (w->rec_len == ETLS_TLS_MAX_PLAINTEXT)
            pw_close(w);
    }
}

static void pw_msg(pw_t *w, uint8_t type, const etls_wr_t *m)
{
    uint8_t hdr[4] = {type, (uint8_t)(m->len >> 16), (uint8_t)(m->len >> 8), (uint8_t)m->len};
    pw_put(w, hdr, 4);
    pw_put(w, m->p, m->len);
}

static void ext_empty(etls_wr_t *e, uint16_t type)
{
    etls_wr_u16(e, type);
    etls_wr_u16(e, 0);
}

/* §7.4.1.3 and the extensions RFC 5746, RFC 7627, RFC 8422 §5.2, RFC 7301, RFC 5077 and
 * RFC 6066 answer with. */
static int write_server_hello(etls_tls_conn_t *c, pw_t *w)
{
    uint8_t buf[512];
    etls_tls_hs_t *hs = c->hs;
    etls_wr_t m = {buf, 0, sizeof buf, 0}, e = {buf + 512 - 300, 0, 300, 0};
    etls_wr_u16(&m, ETLS_TLS_VERSION_12);
    etls_wr_bytes(&m, hs->t12.server_random, 32);
    etls_wr_u8(&m, hs->session_id_len);
    etls_wr_bytes(&m, hs->session_id, hs->session_id_len);
    etls_wr_u16(&m, c->suite);
    etls_wr_u8(&m, 0);
    if (hs->send_ccs) { /* renegotiation_info: empty renegotiated_connection */
        etls_wr_u16(&e, EXT_RENEGOTIATION_INFO);
        etls_wr_u16(&e, 1);
        etls_wr_u8(&e, 0);
    }
    if (hs->t12.ems)
        ext_empty(&e, EXT_EXTENDED_MASTER_SECRET);
    if (!hs->t12.rsa_kx && hs->t12.point_formats) { /* RFC 8422 §5.2: only with an ECC suite,
                                                      * as an answer; uncompressed only */
        etls_wr_u16(&e, EXT_EC_POINT_FORMATS);
        etls_wr_u16(&e, 2);
        etls_wr_u8(&e, 1);
        etls_wr_u8(&e, 0);
    }
    if (hs->sni_used)
        ext_empty(&e, EXT_SERVER_NAME);
    if (hs->t12.ticket)
        ext_empty(&e, EXT_SESSION_TICKET);
    ETLS_ENSURE(!e.overflow, ALERT(INTERNAL_ERROR));
    etls_wr_u16(&m, (uint16_t)(e.len + (c->alpn >= 0 ? 7u + c->ctx->alpn[c->alpn] : 0)));
    etls_wr_bytes(&m, e.p, e.len);
    if (c->alpn >= 0) {
        uint8_t l = c->ctx->alpn[c->alpn];
        etls_wr_u16(&m, EXT_ALPN);
        etls_wr_u16(&m, (uint16_t)(l + 3));
        etls_wr_u16(&m, (uint16_t)(l + 1));
        etls_wr_bytes(&m, c->ctx->alpn + c->alpn, l + 1u);
    }
    ETLS_ENSURE(!m.overflow, ALERT(INTERNAL_ERROR));
    pw_msg(w, HT_SERVER_HELLO, &m);
    return 0;
}

/* §7.4.2: certificate_list<0..2^24-1> of ASN.1Cert<1..2^24-1>, leaf first. */
static void write_certificate(etls_tls_conn_t *c, pw_t *w)
{
    const etls_cert_chain_t *ch = &c->cert->chain;
    size_t list = 0;
    for (size_t i = 0; i < ch->n; i++)
        list += 3 + ch->der_len[i];
    uint8_t h[7] = {HT_CERTIFICATE, (uint8_t)((list + 3) >> 16), (uint8_t)((list + 3) >> 8),
                    (uint8_t)(list + 3), (uint8_t)(list >> 16), (uint8_t)(list >> 8), (uint8_t)list};
    pw_put(w, h, sizeof h);
    for (size_t i = 0; i < ch->n; i++) {
        uint8_t l[3] = {(uint8_t)(ch->der_len[i] >> 16), (uint8_t)(ch->der_len[i] >> 8),
                        (uint8_t)ch->der_len[i]};
        pw_put(w, l, 3);
        pw_put(w, ch->der[i], ch->der_len[i]);
    }
}

static int write_flight(etls_tls_conn_t *c, etls_tls_buf_t *out)
{
    etls_tls_hs_t *hs = c->hs;
    uint8_t buf[4 + 256 + 4 + ETLS_SIG_MAX_LEN];
    ETLS_ENSURE(hs->sign_status == 0, ALERT(INTERNAL_ERROR));
    ETLS_ENSURE(out->cap - out->len >= etls_tls_out_room(c), ETLS_ERR_LIMIT);
    pw_t w = {c, out->base + out->len, 0, SIZE_MAX, 0};
    ETLS_GUARD(write_server_hello(c, &w));
    write_certificate(c, &w);
    etls_wr_t m = {buf, 0, sizeof buf, 0};
    if (!hs->t12.rsa_kx) { /* §7.4.3: not sent with the RSA key exchange */
        etls_wr_bytes(&m, hs->cv_msg + 64, hs->t12.params_len);
        etls_wr_u16(&m, c->sig_scheme); /* §7.4.1.4.1 SignatureAndHashAlgorithm */
        etls_wr_u16(&m, (uint16_t)hs->sig_len);
        etls_wr_bytes(&m, hs->sig, hs->sig_len);
        ETLS_ENSURE(!m.overflow, ALERT(INTERNAL_ERROR));
        pw_msg(&w, HT_SERVER_KEY_EXCHANGE, &m);
    }
    etls_wr_t done = {buf, 0, 0, 0};
    pw_msg(&w, HT_SERVER_HELLO_DONE, &done);
    pw_close(&w);
    out->len += w.pos;
    c->state = ST12_CLIENT_KEY_EXCHANGE;
    return 0;
}

/* ---- the RSA key exchange (RFC 5246 §7.4.7.1) --------------------------------------------------- */

/* No ephemeral key and nothing to sign: the flight goes out at once. */
static int start_rsa_flight(etls_tls_conn_t *c, etls_tls_buf_t *out)
{
    c->state = ST_SIGN;
    c->hs->sign_status = 0;
    return write_flight(c, out);
}

/* EncryptedPreMasterSecret: opaque<0..2^16-1>, exactly as long as the modulus (RFC 8017 §7.2.2
 * step 1) and below it; anything else is publicly malformed: decrypt_error, what OpenSSL sends
 * for a ciphertext it cannot decrypt. The random premaster R is drawn before the decryption so
 * that nothing after it depends on the padding (rsa_premaster). The raw RSA operation parks in
 * the batch like a signature; the ciphertext is copied into the state and decrypted in place. */
static int rsa_client_key_exchange(etls_tls_conn_t *c, const uint8_t *hdr, const uint8_t *body,
                                   size_t len, etls_tls_buf_t *out)
{
    etls_tls_hs_t *hs = c->hs;
    etls_cur_t cur = etls_cur(body, len), v;
    ETLS_GUARD(etls_cur_vec(&cur, 2, 0, 0xffff, &v));
    ETLS_GUARD(etls_cur_end(&cur));
    size_t k = etls_pkey_rsa_size(c->cert->key);
    ETLS_ENSURE(k && k <= sizeof hs->sig && v.left == k, ALERT(DECRYPT_ERROR));
    etls_tls_transcript(c, hdr, 4);
    etls_tls_transcript(c, body, len);
    ETLS_ENSURE(etls_rand_bytes(c->env->rng, hs->shared, ETLS_RSA_PMS_LEN) == 0, ALERT(INTERNAL_ERROR));
    memcpy(hs->sig, v.p, k);
    hs->sig_len = k;
    c->state = ST_KEY_EXCHANGE;
    hs->t12.phase = 1;
    if (c->env->batch) {
        etls_batch_rsa_op_t *op = etls_batch_rsa(c->env->batch, &c->waiter, &hs->kx_status[1]);
        op->key = c->cert->key;
        op->in = hs->sig;
        op->len = k;
        op->out = hs->sig;
        return ETLS_ERR_IN_PROGRESS;
    }
    hs->kx_status[1] = etls_pkey_rsa_decrypt_raw(c->cert->key, hs->sig, k, hs->sig);
    return etls_tls12_resume(c, out);
}

/* The premaster: M when the padding, length and client_version are right, else R, chosen in
 * constant time (crypto/pk rsa_kx.c); a bad one shows only as the client's Finished failing
 * to open (bad_record_mac), exactly as a good padding under another premaster would. */
static int rsa_premaster(etls_tls_conn_t *c)
{
    etls_tls_hs_t *hs = c->hs;
    int st = hs->kx_status[1];
    if (st == 0)
        (void)etls_rsa_tls12_premaster(hs->sig, hs->sig_len, hs->t12.client_version, hs->shared);
    etls_wipe(hs->sig, sizeof hs->sig);
    if (st == 0)
        return 0;
    etls_wipe(hs->shared, sizeof hs->shared);
    return st == ETLS_ERR_INVALID ? ALERT(DECRYPT_ERROR) : ALERT(INTERNAL_ERROR);
}

/* ---- ClientKeyExchange ------------------------------------------------------------------------ */

/* RFC 8422 §5.7: ClientECDiffieHellmanPublic, a point<1..2^8-1>. A point of the wrong size for
 * the curve, not uncompressed (we offered only that format), off the curve, or an X25519
 * share giving the all-zero secret is illegal_parameter (§5.11). */
int etls_tls12_on_client_key_exchange(etls_tls_conn_t *c, const uint8_t *hdr, const uint8_t *body,
                                      size_t len, etls_tls_buf_t *out)
{
    if (c->hs->t12.rsa_kx)
        return rsa_client_key_exchange(c, hdr, body, len, out);
    etls_tls_hs_t *hs = c->hs;
    etls_cur_t cur = etls_cur(body, len), pt;
    ETLS_GUARD(etls_cur_vec(&cur, 1, 1, 255, &pt));
    ETLS_GUARD(etls_cur_end(&cur));
    ETLS_ENSURE(pt.left == point_len(c), ALERT(ILLEGAL_PARAMETER));
    ETLS_ENSURE(c->group == ETLS_TLS_GROUP_X25519 || pt.p[0] == 4, ALERT(ILLEGAL_PARAMETER));
    etls_tls_transcript(c, hdr, 4);
    etls_tls_transcript(c, body, len);
    memcpy(hs->peer_share, pt.p, pt.left);
    hs->peer_share_len = (uint16_t)pt.left;
    c->state = ST_KEY_EXCHANGE;
    hs->t12.phase = 1;
    if (c->group == ETLS_TLS_GROUP_X25519) {
        if (c->env->batch) {
            etls_x25519_op_t *dh = etls_batch_x25519(c->env->batch, &c->waiter, &hs->kx_status[1]);
            dh->sk = hs->my_sk;
            dh->peer = hs->peer_share;
            dh->out = hs->shared;
            return ETLS_ERR_IN_PROGRESS;
        }
        hs->kx_status[1] = etls_x25519_shared(hs->shared, hs->my_sk, hs->peer_share);
    } else {
        etls_p256_key_t k;
        memcpy(k.priv, hs->my_sk, sizeof k.priv);
        hs->kx_status[1] = etls_p256_shared_len(&k, hs->peer_share, hs->peer_share_len, hs->shared);
        etls_p256_key_wipe(&k);
    }
    return etls_tls12_resume(c, out);
}

/* RFC 5246 §8.1 / RFC 7627 §4: the master secret from the ECDH result (§8.1.2, RFC 8422 §5.10:
 * the x coordinate / the X25519 output); §6.3 the key block; and the client Finished we expect
 * (§7.4.9) over the transcript through ClientKeyExchange. */
static int derive_keys(etls_tls_conn_t *c)
{
    etls_tls_hs_t *hs = c->hs;
    uint8_t th[ETLS_HASH_MAX_LEN], kb[2 * (32 + 12)];
    size_t hl = etls_hash_len(c->hash), pl = hs->t12.rsa_kx ? ETLS_RSA_PMS_LEN : 32;
    etls_hash_peek(&hs->transcript, th);
    int rc = hs->t12.ems
                 ? etls_tls12_prf(c->hash, hs->shared, pl, "extended master secret", th, hl,
                                  (const uint8_t *)"", 0, hs->t12.master, 48)
                 : etls_tls12_prf(c->hash, hs->shared, pl, "master secret", hs->t12.client_random,
                                  32, hs->t12.server_random, 32, hs->t12.master, 48);
    etls_wipe(hs->shared, sizeof hs->shared);
    if (rc == 0)
        rc = etls_tls12_prf(c->hash, hs->t12.master, 48, "key expansion", hs->t12.server_random,
                            32, hs->t12.client_random, 32, kb, etls_tls12_key_block_len(c));
    if (rc == 0)
        rc = etls_tls12_install_keys(c, kb);
    etls_wipe(kb, sizeof kb);
    if (rc == 0)
        rc = etls_tls12_prf(c->hash, hs->t12.master, 48, "client finished", th, hl,
                            (const uint8_t *)"", 0, hs->expect_fin, ETLS_TLS12_VERIFY_LEN);
    return rc == 0 ? 0 : (ETLS_ERR_IS_ALERT(rc) ? rc : ALERT(INTERNAL_ERROR));
}

static int finish_kx(etls_tls_conn_t *c)
{
    etls_tls_hs_t *hs = c->hs;
    etls_wipe(hs->my_sk, sizeof hs->my_sk);
    if (hs->t12.rsa_kx) {
        ETLS_GUARD(rsa_premaster(c));
    } else if (hs->kx_status[1] != 0) {
        etls_wipe(hs->shared, sizeof hs->shared);
        return hs->kx_status[1] == ETLS_ERR_INVALID ? ALERT(ILLEGAL_PARAMETER) : ALERT(INTERNAL_ERROR);
    }
    ETLS_GUARD(derive_keys(c));
    c->state = ST12_CHANGE_CIPHER_SPEC;
    return 0;
}

int etls_tls12_resume(etls_tls_conn_t *c, etls_tls_buf_t *out)
{
    if (c->state == ST_SIGN)
        return write_flight(c, out);
    ETLS_ENSURE(c->state == ST_KEY_EXCHANGE, ETLS_ERR_INVALID);
    return c->hs->t12.phase == 0 ? start_sign(c, out) : finish_kx(c);
}

/* ---- Finished ------------------------------------------------------------------------------ */

static void sni_hash12(const etls_tls_conn_t *c, uint8_t out[8])
{
    uint8_t h[ETLS_SHA256_LEN];
    etls_hash(ETLS_HASH_SHA256, c->sni, c->sni_len, h);
    memcpy(out, h, 8);
}

/* RFC 5077 §3.3: NewSessionTicket (lifetime hint, ticket) before our change_cipher_spec, part of
 * the transcript. The ticket (ticket.c, the TLS 1.3 keys) carries the master secret, the suite,
 * the version and the EMS flag; it is issued only for EMS sessions, the only ones we resume. */
static int write_ticket(etls_tls_conn_t *c, etls_tls_buf_t *out)
{
    uint8_t msg[4 + 4 + 2 + ETLS_TLS_TICKET_MAX];
    etls_tls_ticket_t t;
    size_t tlen = 0;
    memset(&t, 0, sizeof t);
    t.suite = c->suite;
    t.version = ETLS_TLS_VERSION_12;
    t.ems = c->hs->t12.ems;
    t.issued_ms = etls_tls_now_ms(c->ctx);
    t.psk_len = 48;
    memcpy(t.psk, c->hs->t12.master, 48);
    sni_hash12(c, t.sni_hash);
    int rc = etls_tls_ticket_seal(c->ctx, c->env->rng, &t, msg + 10, &tlen);
    etls_wipe(&t, sizeof t);
    ETLS_ENSURE(rc == 0, ALERT(INTERNAL_ERROR));
    uint32_t life = c->ctx->ticket_lifetime, body = (uint32_t)(6 + tlen);
    uint8_t head[10] = {HT_NEW_SESSION_TICKET, (uint8_t)(body >> 16), (uint8_t)(body >> 8), (uint8_t)body,
                        (uint8_t)(life >> 24), (uint8_t)(life >> 16), (uint8_t)(life >> 8), (uint8_t)life,
                        (uint8_t)(tlen >> 8), (uint8_t)tlen};
    memcpy(msg, head, sizeof head);
    etls_tls_transcript(c, msg, 10 + tlen);
    return etls_tls_write_record(c, out, CT_HANDSHAKE, msg, 10 + tlen);
}

/* Our Finished (§7.4.9) over the transcript so far, under our new keys. */
static int write_finished12(etls_tls_conn_t *c, etls_tls_buf_t *out)
{
    uint8_t th[ETLS_HASH_MAX_LEN], fin[4 + ETLS_TLS12_VERIFY_LEN] = {HT_FINISHED, 0, 0, ETLS_TLS12_VERIFY_LEN};
    static const uint8_t ccs[1] = {1};
    ETLS_GUARD(etls_tls_write_record(c, out, CT_CHANGE_CIPHER_SPEC, ccs, 1));
    etls_hash_peek(&c->hs->transcript, th);
    int rc = etls_tls12_prf(c->hash, c->hs->t12.master, 48, "server finished", th,
                            etls_hash_len(c->hash), (const uint8_t *)"", 0, fin + 4,
                            ETLS_TLS12_VERIFY_LEN);
    ETLS_ENSURE(rc == 0, ALERT(INTERNAL_ERROR));
    etls_tls_transcript(c, fin, sizeof fin);
    c->wr.active = 1;
    rc = etls_tls12_write_record(c, out, CT_HANDSHAKE, fin, sizeof fin);
    etls_wipe(fin, sizeof fin);
    return rc;
}

/* §7.4.9: the client's verify_data (constant-time compare, decrypt_error), then our flight:
 * [NewSessionTicket], change_cipher_spec, Finished over everything before it. */
int etls_tls12_on_finished(etls_tls_conn_t *c, const uint8_t *hdr, const uint8_t *body, size_t len,
                           etls_tls_buf_t *out)
{
    etls_tls_hs_t *hs = c->hs;
    ETLS_ENSURE(len == ETLS_TLS12_VERIFY_LEN && etls_ct_memeq(body, hs->expect_fin, len),
                ALERT(DECRYPT_ERROR));
    etls_tls_transcript(c, hdr, 4);
    etls_tls_transcript(c, body, len);
    if (!c->resumed) { /* resuming, our Finished went first */
        if (hs->t12.ticket)
            ETLS_GUARD(write_ticket(c, out));
        ETLS_GUARD(write_finished12(c, out));
    }
    etls_tls_hs_release(c); /* wipes the master secret with the rest */
    c->state = ST_ESTABLISHED;
    return 0;
}

/* RFC 5746 §4.4 / RFC 5246 §7.2.2: we never renegotiate; a ClientHello on an established
 * connection gets the warning no_renegotiation and is otherwise ignored (the client decides
 * whether to go on without renegotiating or to close). Dropped when `out` is full. */
int etls_tls12_on_renegotiation(etls_tls_conn_t *c, etls_tls_buf_t *out)
{
    static const uint8_t alert[2] = {1 /* warning */, ETLS_ALERT_NO_RENEGOTIATION};
    int rc = etls_tls_write_record(c, out, CT_ALERT, alert, sizeof alert);
    return rc == ETLS_ERR_LIMIT ? 0 : rc;
}

/* ---- resumption with RFC 5077 tickets ---------------------------------------------------------
 * A ticket resumes when it opens with our keys, is a TLS 1.2 one (ticket.c format 2: never a
 * TLS 1.3 one, and a TLS 1.3 handshake never takes this one), is unexpired, was issued for the
 * same server name, had EMS and the client offers EMS again (RFC 7627 §5.3), and its suite is
 * enabled and offered now. Anything else means a full handshake. */
static int try_ticket(etls_tls_conn_t *c, const etls_ch_t *ch)
{
    etls_tls_ticket_t t;
    uint8_t sh[8];
    uint16_t ours[ETLS_TLS_MAX_SUITES12];
    size_t n = ctx_suites12(c->ctx, ours);
    if (!ch->has_ticket_ext || !ch->ticket_len || !c->ctx->n_ticket_keys || !ch->session_id_len)
        return 0;
    if (etls_tls_ticket_open(c->ctx, ch->ticket, ch->ticket_len, &t) != 0)
        return 0;
    uint64_t now = etls_tls_now_ms(c->ctx);
    sni_hash12(c, sh);
    const struct suite12 *s = suite12_find(t.suite);
    int ok = t.version == ETLS_TLS_VERSION_12 && t.ems && ch->has_ems && s && t.psk_len == 48 &&
             in_list(t.suite, ours, n) && in_list(t.suite, ch->suites, ch->n_suites) &&
             memcmp(sh, t.sni_hash, 8) == 0 && now >= t.issued_ms &&
             now - t.issued_ms <= (uint64_t)c->ctx->ticket_lifetime * 1000;
    if (ok) {
        c->suite = s->id;
        c->aead = s->aead;
        c->hash = s->hash;
        c->tag_len = (uint8_t)etls_aead_tag_len(c->aead);
        memcpy(c->hs->t12.master, t.psk, 48);
        c->resumed = 1;
    }
    etls_wipe(&t, sizeof t);
    return ok;
}

/* §7.3 abbreviated handshake: ServerHello, change_cipher_spec, Finished; then the client's
 * change_cipher_spec and Finished over everything through ours. */
static int write_abbreviated(etls_tls_conn_t *c, etls_tls_buf_t *out)
{
    etls_tls_hs_t *hs = c->hs;
    uint8_t kb[2 * (32 + 12)], th[ETLS_HASH_MAX_LEN];
    ETLS_ENSURE(out->cap - out->len >= etls_tls_out_room(c), ETLS_ERR_LIMIT);
    pw_t w = {c, out->base + out->len, 0, SIZE_MAX, 0};
    ETLS_GUARD(write_server_hello(c, &w));
    pw_close(&w);
    out->len += w.pos;
    int rc = etls_tls12_prf(c->hash, hs->t12.master, 48, "key expansion", hs->t12.server_random,
                            32, hs->t12.client_random, 32, kb, etls_tls12_key_block_len(c));
    if (rc == 0)
        rc = etls_tls12_install_keys(c, kb);
    etls_wipe(kb, sizeof kb);
    ETLS_ENSURE(rc == 0, ALERT(INTERNAL_ERROR));
    ETLS_GUARD(write_finished12(c, out));
    etls_hash_peek(&hs->transcript, th);
    rc = etls_tls12_prf(c->hash, hs->t12.master, 48, "client finished", th, etls_hash_len(c->hash),
                        (const uint8_t *)"", 0, hs->expect_fin, ETLS_TLS12_VERIFY_LEN);
    ETLS_ENSURE(rc == 0, ALERT(INTERNAL_ERROR));
    c->state = ST12_CHANGE_CIPHER_SPEC;
    return 0;
}
