/* The bench client's TLS 1.3 state machine. Section numbers refer to RFC 8446.
 *
 * Server messages go through one bounded reader (rd_t): every length is checked against what
 * is left before it is used, and a message must be consumed exactly. Handshake states and the
 * message each accepts are a table (hs_table), so the accepted sequence reads like §2's
 * diagram: ServerHello, [key exchange], EncryptedExtensions, Certificate, CertificateVerify,
 * Finished, then post-handshake NewSessionTicket / KeyUpdate. */
#include "cli_internal.h"

#include "common/ct.h"
#include "crypto/x25519.h"

#include <arpa/inet.h>
#include <string.h>

/* The signature schemes pk.h can verify; the only ones offered (§4.2.3). */
static const uint16_t sig_schemes[] = {ETLS_SIG_ECDSA_SECP256R1_SHA256, ETLS_SIG_RSA_PSS_RSAE_SHA256,
                                       ETLS_SIG_ED25519};

static const uint8_t hrr_random[32] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};

/* ---- suites -------------------------------------------------------------------------------- */

static const struct {
    uint16_t id;
    etls_aead_alg_t aead;
    etls_hash_alg_t hash;
    const char *name, *ossl; /* IANA; OpenSSL's name of a TLS 1.2 suite (NULL: TLS 1.3) */
} suite_tab[] = {
    {ETLS_TLS_AES_128_GCM_SHA256, ETLS_AEAD_AES128GCM, ETLS_HASH_SHA256, "TLS_AES_128_GCM_SHA256", NULL},
    {ETLS_TLS_AES_256_GCM_SHA384, ETLS_AEAD_AES256GCM, ETLS_HASH_SHA384, "TLS_AES_256_GCM_SHA384", NULL},
    {ETLS_TLS_CHACHA20_POLY1305_SHA256, ETLS_AEAD_CHACHA20POLY1305, ETLS_HASH_SHA256,
     "TLS_CHACHA20_POLY1305_SHA256", NULL},
    {ETLS_TLS_AES_128_CCM_SHA256, ETLS_AEAD_AES128CCM, ETLS_HASH_SHA256, "TLS_AES_128_CCM_SHA256", NULL},
    {ETLS_TLS_AES_128_CCM_8_SHA256, ETLS_AEAD_AES128CCM8, ETLS_HASH_SHA256, "TLS_AES_128_CCM_8_SHA256",
     NULL},
    {ETLS_TLS_ECDHE_ECDSA_AES_128_GCM_SHA256, ETLS_AEAD_AES128GCM, ETLS_HASH_SHA256,
     "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"},
    {ETLS_TLS_ECDHE_ECDSA_AES_256_GCM_SHA384, ETLS_AEAD_AES256GCM, ETLS_HASH_SHA384,
     "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
    {ETLS_TLS_ECDHE_ECDSA_CHACHA20_POLY1305_SHA256, ETLS_AEAD_CHACHA20POLY1305, ETLS_HASH_SHA256,
     "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"},
    {ETLS_TLS_ECDHE_RSA_AES_128_GCM_SHA256, ETLS_AEAD_AES128GCM, ETLS_HASH_SHA256,
     "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
    {ETLS_TLS_ECDHE_RSA_AES_256_GCM_SHA384, ETLS_AEAD_AES256GCM, ETLS_HASH_SHA384,
     "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
    {ETLS_TLS_ECDHE_RSA_CHACHA20_POLY1305_SHA256, ETLS_AEAD_CHACHA20POLY1305, ETLS_HASH_SHA256,
     "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"},
};
#define N_SUITES (sizeof suite_tab / sizeof suite_tab[0])

int etls_cli_suite_params(uint16_t suite, etls_aead_alg_t *aead, etls_hash_alg_t *hash)
{
    for (size_t i = 0; i < N_SUITES; i++)
        if (suite_tab[i].id == suite) {
            *aead = suite_tab[i].aead;
            *hash = suite_tab[i].hash;
            return 0;
        }
    return ETLS_ERR_UNSUPPORTED;
}

int etls_cli_suite_is12(uint16_t suite)
{
    for (size_t i = 0; i < N_SUITES; i++)
        if (suite_tab[i].id == suite)
            return suite_tab[i].ossl != NULL;
    return 0;
}

const char *etls_cli_suite_name(uint16_t suite)
{
    for (size_t i = 0; i < N_SUITES; i++)
        if (suite_tab[i].id == suite)
            return suite_tab[i].name;
    return "unknown";
}

uint16_t etls_cli_suite_by_name(const char *name)
{
    for (size_t i = 0; i < N_SUITES; i++)
        if (!strcasecmp(suite_tab[i].name, name) || !strcasecmp(suite_tab[i].name + 4, name) ||
            (suite_tab[i].ossl && !strcasecmp(suite_tab[i].ossl, name)))
            return suite_tab[i].id;
    return 0;
}

/* ---- key shares ---------------------------------------------------------------------------- */

int etls_cli_share_new(etls_cli_share_t *s, uint16_t group, const uint8_t random[32])
{
    memset(s, 0, sizeof *s);
    s->group = group;
    if (group == ETLS_TLS_GROUP_X25519) {
        memcpy(s->sk, random, 32);
        etls_x25519_public(s->pub, s->sk);
        s->pub_len = 32;
        return 0;
    }
    ETLS_ENSURE(group == ETLS_TLS_GROUP_SECP256R1, ETLS_ERR_UNSUPPORTED);
    s->pub_len = ETLS_P256_POINT_LEN;
    return etls_p256_keygen(&s->p256, s->pub);
}

void etls_cli_share_wipe(etls_cli_share_t *s)
{
    etls_p256_key_wipe(&s->p256);
    etls_wipe(s, sizeof *s);
}

static void mk_nonce(const etls_cli_dir_t *d, uint8_t n[12])
{
    memcpy(n, d->iv, 12);
    for (int i = 0; i < 8; i++)
        n[11 - i] ^= (uint8_t)(d->seq >> (8 * i));
}

/* One record of `type` from data (§5.1, §5.2): plaintext before keys are set, else sealed. */
static int put_record(etls_cli_conn_t *c, uint8_t type, const uint8_t *data, size_t len,
                      etls_tls_buf_t *out)
{
    if (c->wr.active && c->cfg->tls12)
        return etls_cli12_seal(c, type, data, len, out);
    size_t extra = c->wr.active ? 1u + c->tag_len : 0;
    ETLS_ENSURE(buf_room(out) >= 5 + len + extra, ETLS_ERR_LIMIT);
    uint8_t *r = out->base + out->len;
    memmove(r + 5, data, len);
    r[0] = c->wr.active ? CT_APP : type;
    r[1] = 3;
    r[2] = 3;
    put_u(r + 3, (uint32_t)(len + extra), 2);
    if (c->wr.active) {
        uint8_t n[12];
        r[5 + len] = type;
        mk_nonce(&c->wr, n);
        c->wr.seq++;
        ETLS_GUARD(etls_aead_seal(c->eng, &c->wr.key, n, r, 5, r + 5, len + 1, r + 5));
    }
    out->len += 5 + len + extra;
    return 0;
}

int etls_cli_put_record(etls_cli_conn_t *c, uint8_t type, const uint8_t *data, size_t len,
                        etls_tls_buf_t *out)
{
    return put_record(c, type, data, len, out);
}

/* Records a fatal error and appends the alert when there is room (best effort, §6.2). */
static int fail(etls_cli_conn_t *c, uint8_t desc, etls_tls_buf_t *out)
{
    if (c->err)
        return c->err;
    uint8_t a[2] = {2, desc};
    if (out && !c->close_sent)
        (void)put_record(c, CT_ALERT, a, 2, out);
    c->state = S_FAILED;
    c->err = ETLS_ERR_ALERT(desc);
    return c->err;
}

int etls_cli_fail(etls_cli_conn_t *c, uint8_t desc, etls_tls_buf_t *out)
{
    return fail(c, desc, out);
}

static int set_dir(etls_cli_conn_t *c, etls_cli_dir_t *d, const uint8_t *secret)
{
    uint8_t key[ETLS_AEAD_KEY_MAX];
    size_t hl = etls_hash_len(c->hash);
    memcpy(d->secret, secret, hl);
    etls_aead_key_wipe(&d->key);
    int rc = etls_tls13_traffic_keys(c->hash, secret, key, etls_aead_key_len(c->aead), d->iv, 12);
    if (rc == 0)
        rc = etls_aead_key_init(c->eng, &d->key, c->aead, key);
    etls_wipe(key, sizeof key);
    d->seq = 0;
    d->active = rc == 0;
    return rc;
}

/* ---- ClientHello (§4.1.2) ------------------------------------------------------------------ */

static size_t ext_open(uint8_t *b, size_t *n, uint16_t type)
{
    put_u(b + *n, type, 2);
    *n += 4;
    return *n - 2;
}

static void ext_close(uint8_t *b, size_t n, size_t at)
{
    put_u(b + at, (uint32_t)(n - at - 2), 2);
}

/* RFC 6066 §3: literal IP addresses are not permitted in server_name; such a name is still
 * what verification checks (against the certificate's IP SANs). */
static int is_ip_literal(const char *s)
{
    uint8_t a[16];
    return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

size_t etls_cli_ext_sni_alpn(const etls_cli_conn_t *c, uint8_t *b, size_t n)
{
    size_t at, sl = strlen(c->sni);
    if (sl && !is_ip_literal(c->sni)) {
        at = ext_open(b, &n, 0);
        put_u(b + n, (uint32_t)(sl + 3), 2);
        b[n + 2] = 0;
        put_u(b + n + 3, (uint32_t)sl, 2);
        memcpy(b + n + 5, c->sni, sl);
        n += 5 + sl;
        ext_close(b, n, at);
    }
    if (c->cfg->alpn_len) {
        at = ext_open(b, &n, 16);
        put_u(b + n, (uint32_t)c->cfg->alpn_len, 2);
        memcpy(b + n + 2, c->cfg->alpn, c->cfg->alpn_len);
        n += 2 + c->cfg->alpn_len;
        ext_close(b, n, at);
    }
    return n;
}

static size_t ch_extensions(const etls_cli_conn_t *c, uint8_t *b, size_t n)
{
    size_t at;
    n = etls_cli_ext_sni_alpn(c, b, n);
    at = ext_open(b, &n, 43); /* supported_versions: TLS 1.3 only */
    b[n++] = 2;
    put_u(b + n, ETLS_TLS_VERSION_13, 2);
    n += 2;
    ext_close(b, n, at);
    at = ext_open(b, &n, 10); /* supported_groups */
    put_u(b + n, 2, 2);
    put_u(b + n + 2, c->cfg->group, 2);
    n += 4;
    ext_close(b, n, at);
    at = ext_open(b, &n, 13); /* signature_algorithms */
    put_u(b + n, 2 * 3, 2);
    n += 2;
    for (size_t i = 0; i < 3; i++, n += 2)
        put_u(b + n, sig_schemes[i], 2);
    ext_close(b, n, at);
    at = ext_open(b, &n, 51); /* key_share: one share */
    put_u(b + n, (uint32_t)(4 + c->share->pub_len), 2);
    put_u(b + n + 2, c->share->group, 2);
    put_u(b + n + 4, (uint32_t)c->share->pub_len, 2);
    memcpy(b + n + 6, c->share->pub, c->share->pub_len);
    n += 6 + c->share->pub_len;
    ext_close(b, n, at);
    if (c->offer) {
        at = ext_open(b, &n, 45); /* psk_key_exchange_modes: psk_dhe_ke only */
        b[n++] = 1;
        b[n++] = 1;
        ext_close(b, n, at);
        /* pre_shared_key must be last (§4.2.11); its binder is written by etls_cli_hello */
        const etls_cli_ticket_t *t = c->offer;
        uint32_t age = (uint32_t)(c->offer_now_ms - t->received_ms) + t->age_add;
        at = ext_open(b, &n, 41);
        put_u(b + n, 2u + t->id_len + 4u, 2);
        put_u(b + n + 2, t->id_len, 2);
        memcpy(b + n + 4, t->id, t->id_len);
        n += 4 + t->id_len;
        put_u(b + n, age, 4);
        n += 4;
        put_u(b + n, 1u + t->psk_len, 2);
        b[n + 2] = t->psk_len;
        n += 3 + t->psk_len;
        ext_close(b, n, at);
    }
    return n;
}

/* The PSK binder (§4.2.11.2): HMAC over the ClientHello up to the binders list, keyed from the
 * early secret of the ticket's PSK. */
static int psk_binder(const etls_cli_ticket_t *t, etls_hash_alg_t hash, const uint8_t *ch,
                      size_t truncated_len, uint8_t *binder)
{
    uint8_t th[ETLS_HASH_MAX_LEN], empty[ETLS_HASH_MAX_LEN], bk[ETLS_HASH_MAX_LEN];
    etls_tls13_ks_t ks;
    etls_hash(hash, ch, truncated_len, th);
    etls_hash(hash, "", 0, empty);
    etls_tls13_ks_init(&ks, hash, t->psk, t->psk_len);
    int rc = etls_tls13_derive_secret(hash, ks.secret, "res binder", empty, bk);
    if (rc == 0)
        rc = etls_tls13_finished(hash, bk, th, binder);
    etls_tls13_ks_wipe(&ks);
    etls_wipe(bk, sizeof bk);
    return rc;
}

void etls_cli_tickets(etls_cli_conn_t *c, const etls_cli_ticket_t *t, uint64_t now_ms,
                      etls_cli_ticket_t *out)
{
    c->offer = t;
    c->offer_now_ms = now_ms;
    c->ticket_out = out;
}

int etls_cli_init(etls_cli_conn_t *c, const etls_cli_cfg_t *cfg, etls_aead_engine_t *eng,
                  const etls_cli_share_t *share, const char *sni)
{
    /* Only the header part needs clearing; the buffers are overwritten before use. */
    memset(c, 0, offsetof(etls_cli_conn_t, ch));
    c->cfg = cfg;
    c->eng = eng;
    c->share = share;
    c->peer_alert = -1;
    c->hs_len = 0;
    size_t sl = sni ? strlen(sni) : 0;
    if (sl > 253)
        sl = 0;
    memcpy(c->sni, sni ? sni : "", sl);
    c->sni[sl] = 0;
    return 0;
}

void etls_cli_wipe(etls_cli_conn_t *c)
{
    etls_aead_key_wipe(&c->rd.key);
    etls_aead_key_wipe(&c->wr.key);
    etls_pkey_free(c->leaf);
    c->leaf = NULL;
    etls_tls13_ks_wipe(&c->ks);
    etls_wipe(c->c_hs, sizeof c->c_hs);
    etls_wipe(c->s_hs, sizeof c->s_hs);
    etls_wipe(c->res_secret, sizeof c->res_secret);
    etls_wipe(c->master, sizeof c->master);
    etls_wipe(c->rd.secret, sizeof c->rd.secret);
    etls_wipe(c->wr.secret, sizeof c->wr.secret);
    c->rd.active = c->wr.active = 0;
    c->state = S_FAILED;
}

int etls_cli_hello(etls_cli_conn_t *c, const uint8_t random[32], etls_tls_buf_t *out)
{
    uint8_t *b = c->ch;
    ETLS_ENSURE(c->state == S_START, ETLS_ERR_INVALID);
    if (c->cfg->tls12)
        return etls_cli12_hello(c, random, out);
    /* empty legacy_session_id: no middlebox compatibility mode */
    size_t el = etls_cli_hello_head(c, random, NULL, 0);
    size_t n = ch_extensions(c, b, el + 2);
    etls_cli_hello_lengths(c, el, n);
    if (c->offer) {
        etls_aead_alg_t aead;
        etls_hash_alg_t hash;
        size_t bl = c->offer->psk_len;
        ETLS_GUARD(etls_cli_suite_params(c->offer->suite, &aead, &hash));
        ETLS_GUARD(psk_binder(c->offer, hash, b, n - 3 - bl, b + n - bl));
    }
    return etls_cli_hello_out(c, n, out);
}

size_t etls_cli_hello_head(etls_cli_conn_t *c, const uint8_t random[32], const uint8_t *sid, size_t sid_len)
{
    uint8_t *b = c->ch;
    size_t n = 4;
    b[0] = 1;
    put_u(b + n, 0x0303, 2);
    memcpy(b + n + 2, random, 32);
    b[n + 34] = (uint8_t)sid_len;
    if (sid_len)
        memcpy(b + n + 35, sid, sid_len);
    n += 35 + sid_len;
    put_u(b + n, (uint32_t)(2 * c->cfg->n_suites), 2);
    n += 2;
    for (size_t i = 0; i < c->cfg->n_suites; i++, n += 2)
        put_u(b + n, c->cfg->suites[i], 2);
    b[n++] = 1; /* legacy_compression_methods: null */
    b[n++] = 0;
    return n;
}

void etls_cli_hello_lengths(etls_cli_conn_t *c, size_t el, size_t n)
{
    put_u(c->ch + el, (uint32_t)(n - el - 2), 2);
    put_u(c->ch + 1, (uint32_t)(n - 4), 3);
}

int etls_cli_hello_out(etls_cli_conn_t *c, size_t n, etls_tls_buf_t *out)
{
    ETLS_ENSURE(buf_room(out) >= 5 + n, ETLS_ERR_LIMIT);
    const uint8_t *b = c->ch;
    uint8_t *r = out->base + out->len;
    r[0] = CT_HS;
    put_u(r + 1, 0x0301, 2); /* §5.1: legacy_record_version 0x0301 for the first ClientHello */
    put_u(r + 3, (uint32_t)n, 2);
    memcpy(r + 5, b, n);
    out->len += 5 + n;
    c->ch_len = (uint16_t)n;
    c->state = S_WAIT_SH;
    return 0;
}

/* ---- server messages ----------------------------------------------------------------------- */

/* ServerHello (§4.1.3): TLS 1.3 via supported_versions, our group, an offered suite. */
static int on_server_hello(etls_cli_conn_t *c, rd_t *m, etls_tls_buf_t *out)
{
    uint16_t ver = (uint16_t)rd_u(m, 2);
    const uint8_t *random = rd_take(m, 32);
    rd_t sid = rd_vec(m, 1);
    uint16_t suite = (uint16_t)rd_u(m, 2);
    uint8_t comp = (uint8_t)rd_u(m, 1);
    rd_t ext = rd_vec(m, 2);
    if (m->bad || ext.bad || m->n)
        return fail(c, ETLS_ALERT_DECODE_ERROR, out);
    if (!memcmp(random, hrr_random, 32))
        return fail(c, ETLS_ALERT_HANDSHAKE_FAILURE, out); /* HelloRetryRequest: not supported */
    int offered = 0;
    for (size_t i = 0; i < c->cfg->n_suites; i++)
        offered |= c->cfg->suites[i] == suite;
    if (ver != 0x0303 || sid.n != 0 || comp != 0 || !offered)
        return fail(c, ETLS_ALERT_ILLEGAL_PARAMETER, out);
    int have_ver = 0, have_ks = 0, have_psk = 0;
    while (ext.n) {
        uint16_t t = (uint16_t)rd_u(&ext, 2);
        rd_t d = rd_vec(&ext, 2);
        if (ext.bad)
            return fail(c, ETLS_ALERT_DECODE_ERROR, out);
        if (t == 43 && !have_ver) {
            have_ver = 1;
            if (rd_u(&d, 2) != ETLS_TLS_VERSION_13 || d.bad || d.n)
                return fail(c, ETLS_ALERT_ILLEGAL_PARAMETER, out);
        } else if (t == 51 && !have_ks) {
            have_ks = 1;
            uint16_t g = (uint16_t)rd_u(&d, 2);
            rd_t key = rd_vec(&d, 2);
            if (d.bad || d.n || g != c->cfg->group || key.n != c->share->pub_len)
                return fail(c, ETLS_ALERT_ILLEGAL_PARAMETER, out);
            memcpy(c->peer_share, key.p, key.n);
            c->peer_share_len = (uint8_t)key.n;
        } else if (t == 41 && c->offer && !have_psk) {
            /* §4.2.11: the one identity we offered, with a suite of the ticket's hash */
            have_psk = 1;
            uint16_t sel = (uint16_t)rd_u(&d, 2);
            etls_aead_alg_t a1, a2;
            etls_hash_alg_t h1, h2;
            if (d.bad || d.n || sel != 0 || etls_cli_suite_params(suite, &a1, &h1) != 0 ||
                etls_cli_suite_params(c->offer->suite, &a2, &h2) != 0 || h1 != h2)
                return fail(c, ETLS_ALERT_ILLEGAL_PARAMETER, out);
        } else {
            /* not offered, or a duplicate (§4.2: at most one of each type) */
            return fail(c, t == 43 || t == 51 ? ETLS_ALERT_ILLEGAL_PARAMETER
                                              : ETLS_ALERT_UNSUPPORTED_EXTENSION, out);
        }
    }
    if (!have_ver)
        return fail(c, ETLS_ALERT_PROTOCOL_VERSION, out);
    if (!have_ks)
        return fail(c, ETLS_ALERT_MISSING_EXTENSION, out);
    c->suite = suite;
    c->resumed = (uint8_t)have_psk;
    ETLS_GUARD(etls_cli_suite_params(suite, &c->aead, &c->hash));
    c->tag_len = (uint8_t)etls_aead_tag_len(c->aead);
    etls_hash_init(&c->th, c->hash);
    etls_hash_update(&c->th, c->ch, c->ch_len);
    c->state = S_NEED_KX;
    return ETLS_CLI_NEED_KX;
}

/* RFC 7301 §3.1: exactly one protocol, one we offered. */
int etls_cli_take_alpn(etls_cli_conn_t *c, rd_t *d, etls_tls_buf_t *out)
{
    rd_t list = rd_vec(d, 2);
    rd_t name = rd_vec(&list, 1);
    if (d->bad || d->n || list.n || !name.n)
        return fail(c, ETLS_ALERT_DECODE_ERROR, out);
    int ok = 0;
    for (size_t p = 0; p < c->cfg->alpn_len; p += 1u + c->cfg->alpn[p])
        ok |= c->cfg->alpn[p] == name.n && !memcmp(c->cfg->alpn + p + 1, name.p, name.n);
    if (!ok)
        return fail(c, ETLS_ALERT_ILLEGAL_PARAMETER, out);
    memcpy(c->alpn, name.p, name.n);
    c->alpn_len = (uint8_t)name.n;
    return 0;
}

/* EncryptedExtensions (§4.3.1): only what we offered or what is harmless to ignore. */
static int on_ee(etls_cli_conn_t *c, rd_t *m, etls_tls_buf_t *out)
{
    rd_t ext = rd_vec(m, 2);
    uint32_t seen = 0;
    if (m->bad || m->n)
        return fail(c, ETLS_ALERT_DECODE_ERROR, out);
    while (ext.n) {
        uint16_t t = (uint16_t)rd_u(&ext, 2);
        rd_t d = rd_vec(&ext, 2);
        if (ext.bad)
            return fail(c, ETLS_ALERT_DECODE_ERROR, out);
        uint32_t bit = t == 0 ? 1 : t == 10 ? 2 : t == 16 ? 4 : t == 28 ? 8 : 0;
        if (!bit || (t == 16 && !c->cfg->alpn_len))
            return fail(c, ETLS_ALERT_UNSUPPORTED_EXTENSION, out);
        if (seen & bit)
            return fail(c, ETLS_ALERT_ILLEGAL_PARAMETER, out);
        seen |= bit;
        if (t == 0 && d.n)
            return fail(c, ETLS_ALERT_DECODE_ERROR, out);
        if (t == 28 && (d.n != 2 || rd_u(&d, 2) < 64))
            return fail(c, ETLS_ALERT_ILLEGAL_PARAMETER, out);
        if (t == 16 && etls_cli_take_alpn(c, &d, out) < 0)
            return c->err;
    }
    c->state = c->resumed ? S_WAIT_FIN : S_WAIT_CERT; /* §2.2: no certificate when resuming */
    return 0;
}

int etls_cli_take_chain(etls_cli_conn_t *c, rd_t *list, int entry_ext, etls_tls_buf_t *out)
{
    const uint8_t *der[ETLS_CHAIN_MAX];
    size_t der_len[ETLS_CHAIN_MAX], n = 0;
    while (list->n) {
        rd_t cert = rd_vec(list, 3);
        if (entry_ext)
            (void)rd_vec(list, 2); /* the entry's extensions: none we act on */
        if (list->bad || !cert.n)
            return fail(c, ETLS_ALERT_DECODE_ERROR, out);
        if (n < ETLS_CHAIN_MAX) {
            der[n] = cert.p;
            der_len[n++] = cert.n;
        }
    }
    if (!n)
        return fail(c, ETLS_ALERT_DECODE_ERROR, out); /* §4.4.2.4: empty chain */
    if (c->cfg->verify_chain &&
        c->cfg->verify_chain(c->cfg->verify_arg, der, der_len, n, c->sni, &c->leaf) != 0)
        return fail(c, ETLS_ALERT_BAD_CERTIFICATE, out);
    return 0;
}

/* Certificate (§4.4.2): parsed entry by entry; chain handed to the verifier if any. */
static int on_cert(etls_cli_conn_t *c, rd_t *m, etls_tls_buf_t *out)
{
    rd_t ctx = rd_vec(m, 1);
    rd_t list = rd_vec(m, 3);
    if (m->bad || m->n)
        return fail(c, ETLS_ALERT_DECODE_ERROR, out);
    if (ctx.n)
        return fail(c, ETLS_ALERT_ILLEGAL_PARAMETER, out);
    ETLS_GUARD(etls_cli_take_chain(c, &list, 1, out));
    c->state = S_WAIT_CV;
    return 0;
}

/* CertificateVerify (§4.4.3): scheme must be one we offered; signature checked in verify mode
 * over the transcript up to the Certificate. */
static int on_cv(etls_cli_conn_t *c, rd_t *m, etls_tls_buf_t *out)
{
    static const char label[] = "TLS 1.3, server CertificateVerify";
    uint16_t scheme = (uint16_t)rd_u(m, 2);
    rd_t sig = rd_vec(m, 2);
    if (m->bad || m->n || !sig.n)
        return fail(c, ETLS_ALERT_DECODE_ERROR, out);
    int offered = 0;
    for (size_t i = 0; i < 3; i++)
        offered |= sig_schemes[i] == scheme;
    if (!offered)
        return fail(c, ETLS_ALERT_ILLEGAL_PARAMETER, out);
    if (c->leaf) {
        uint8_t content[64 + sizeof label + ETLS_HASH_MAX_LEN];
        memset(content, 0x20, 64);
        memcpy(content + 64, label, sizeof label); /* with its terminating zero byte */
        etls_hash_peek(&c->th, content + 64 + sizeof label);
        size_t len = 64 + sizeof label + etls_hash_len(c->hash);
        int rc = etls_pkey_verify(c->leaf, scheme, content, len, sig.p, sig.n);
        etls_pkey_free(c->leaf);
        c->leaf = NULL;
        if (rc != 0)
            return fail(c, ETLS_ALERT_DECRYPT_ERROR, out);
    }
    c->state = S_WAIT_FIN;
    return 0;
}

/* Server Finished (§4.4.4), then our Finished and the application keys (§7.1). */
static int on_fin(etls_cli_conn_t *c, rd_t *m, etls_tls_buf_t *out)
{
    size_t hl = etls_hash_len(c->hash);
    uint8_t th[ETLS_HASH_MAX_LEN], vd[ETLS_HASH_MAX_LEN], c_ap[ETLS_HASH_MAX_LEN],
        s_ap[ETLS_HASH_MAX_LEN];
    uint8_t msg[4 + ETLS_HASH_MAX_LEN];
    if (m->n != hl)
        return fail(c, ETLS_ALERT_DECODE_ERROR, out);
    etls_hash_peek(&c->th, th);
    ETLS_GUARD(etls_tls13_finished(c->hash, c->s_hs, th, vd));
    int ok = etls_ct_memeq(vd, m->p, hl);
    if (!ok)
        return fail(c, ETLS_ALERT_DECRYPT_ERROR, out);
    ETLS_ENSURE(buf_room(out) >= 5 + 4 + hl + 1 + c->tag_len, ETLS_ERR_LIMIT);
    etls_hash_update(&c->th, m->p - 4, 4 + hl);
    etls_hash_peek(&c->th, th);
    msg[0] = HS_FIN;
    put_u(msg + 1, (uint32_t)hl, 3);
    ETLS_GUARD(etls_tls13_finished(c->hash, c->c_hs, th, msg + 4));
    int rc = etls_tls13_ks_master(&c->ks, th, c_ap, s_ap, NULL);
    if (rc == 0 && c->ticket_out) { /* §7.1: resumption_master_secret over ClientHello..client Finished */
        etls_hash_update(&c->th, msg, 4 + hl);
        etls_hash_peek(&c->th, th);
        rc = etls_tls13_ks_resumption(&c->ks, th, c->res_secret);
    }
    if (rc == 0)
        rc = put_record(c, CT_HS, msg, 4 + hl, out);
    if (rc == 0)
        rc = set_dir(c, &c->wr, c_ap);
    if (rc == 0)
        rc = set_dir(c, &c->rd, s_ap);
    etls_wipe(c_ap, sizeof c_ap);
    etls_wipe(s_ap, sizeof s_ap);
    etls_tls13_ks_wipe(&c->ks);
    etls_wipe(c->c_hs, sizeof c->c_hs);
    etls_wipe(c->s_hs, sizeof c->s_hs);
    if (rc != 0)
        return fail(c, ETLS_ALERT_INTERNAL_ERROR, out);
    c->state = S_CONNECTED;
    return 0;
}

/* NewSessionTicket (§4.6.1): checked for shape; the first one is kept when asked for (the PSK
 * is HKDF-Expand-Label(resumption_master_secret, "resumption", ticket_nonce)), others dropped. */
static int on_nst(etls_cli_conn_t *c, rd_t *m, etls_tls_buf_t *out)
{
    uint32_t lifetime = rd_u(m, 4);
    uint32_t age_add = rd_u(m, 4);
    rd_t nonce = rd_vec(m, 1);
    rd_t ticket = rd_vec(m, 2);
    rd_t ext = rd_vec(m, 2);
    (void)ext;
    if (m->bad || m->n || !ticket.n)
        return fail(c, ETLS_ALERT_DECODE_ERROR, out);
    if (lifetime > 604800)
        return fail(c, ETLS_ALERT_ILLEGAL_PARAMETER, out);
    etls_cli_ticket_t *t = c->ticket_out;
    if (!t || c->got_ticket || ticket.n > ETLS_CLI_TICKET_MAX || !lifetime)
        return 0;
    size_t hl = etls_hash_len(c->hash);
    if (etls_tls13_expand_label(c->hash, c->res_secret, "resumption", nonce.p, nonce.n, t->psk, hl) != 0)
        return fail(c, ETLS_ALERT_INTERNAL_ERROR, out);
    t->suite = c->suite;
    t->psk_len = (uint8_t)hl;
    t->age_add = age_add;
    t->lifetime_s = lifetime;
    t->received_ms = c->offer_now_ms;
    t->id_len = (uint16_t)ticket.n;
    memcpy(t->id, ticket.p, ticket.n);
    c->got_ticket = 1;
    etls_wipe(c->res_secret, sizeof c->res_secret);
    return 0;
}

/* KeyUpdate (§4.6.3): new read key; answer an update_requested with our own update. */
static int on_ku(etls_cli_conn_t *c, rd_t *m, etls_tls_buf_t *out)
{
    uint8_t req = (uint8_t)rd_u(m, 1);
    if (m->bad || m->n)
        return fail(c, ETLS_ALERT_DECODE_ERROR, out);
    if (req > 1)
        return fail(c, ETLS_ALERT_ILLEGAL_PARAMETER, out);
    if (etls_tls13_update_secret(c->hash, c->rd.secret) != 0 || set_dir(c, &c->rd, c->rd.secret) != 0)
        return fail(c, ETLS_ALERT_INTERNAL_ERROR, out);
    if (req && !c->close_sent) {
        uint8_t ku[5] = {HS_KU, 0, 0, 1, 0};
        ETLS_GUARD(put_record(c, CT_HS, ku, sizeof ku, out));
        if (etls_tls13_update_secret(c->hash, c->wr.secret) != 0 ||
            set_dir(c, &c->wr, c->wr.secret) != 0)
            return fail(c, ETLS_ALERT_INTERNAL_ERROR, out);
    }
    return 0;
}

typedef int (*hs_fn)(etls_cli_conn_t *c, rd_t *m, etls_tls_buf_t *out);

/* When a message joins the transcript: before its handler, after it succeeded (ServerHello:
 * the hash is known only then; CertificateVerify: signed over the transcript without it), by
 * the handler itself (Finished: checked against the hash without it), or never (post-handshake
 * messages). */
enum { TH_NONE = 0, TH_BEFORE, TH_AFTER, TH_SELF };

/* state -> the message it accepts (§2, Figure 1, client side). */
static const struct {
    uint8_t state, type, th;
    hs_fn fn;
} hs_table[] = {
    {S_WAIT_SH, HS_SH, TH_AFTER, on_server_hello},
    {S_WAIT_EE, HS_EE, TH_BEFORE, on_ee},
    {S_WAIT_CERT, HS_CERT, TH_BEFORE, on_cert},
    {S_WAIT_CV, HS_CV, TH_AFTER, on_cv},
    {S_WAIT_FIN, HS_FIN, TH_SELF, on_fin},
    {S_CONNECTED, HS_NST, TH_NONE, on_nst},
    {S_CONNECTED, HS_KU, TH_NONE, on_ku},
};

static int dispatch(etls_cli_conn_t *c, const uint8_t *msg, size_t len, etls_tls_buf_t *out)
{
    if (c->cfg->tls12)
        return etls_cli12_dispatch(c, msg, len, out);
    for (size_t i = 0; i < sizeof hs_table / sizeof hs_table[0]; i++) {
        if (hs_table[i].state != c->state || hs_table[i].type != msg[0])
            continue;
        rd_t m = {msg + 4, len - 4, 0};
        if (hs_table[i].th == TH_BEFORE)
            etls_hash_update(&c->th, msg, len);
        int rc = hs_table[i].fn(c, &m, out);
        if (rc >= 0 && hs_table[i].th == TH_AFTER)
            etls_hash_update(&c->th, msg, len);
        return rc;
    }
    return fail(c, ETLS_ALERT_UNEXPECTED_MESSAGE, out);
}

/* Appends handshake bytes and runs every complete message. Messages that change keys
 * (ServerHello, Finished; TLS 1.2: ServerHelloDone, Finished) must end their record (§5.1). */
int etls_cli_on_hs_bytes(etls_cli_conn_t *c, const uint8_t *p, size_t n, etls_tls_buf_t *out)
{
    if (!n)
        return fail(c, ETLS_ALERT_UNEXPECTED_MESSAGE, out); /* §5.1: no empty handshake records */
    if (c->hs_len + n > sizeof c->hs)
        return fail(c, ETLS_ALERT_UNEXPECTED_MESSAGE, out);
    memcpy(c->hs + c->hs_len, p, n);
    c->hs_len += n;
    size_t off = 0;
    int rc = 0;
    while (rc == 0 && c->hs_len - off >= 4) {
        size_t ml = (size_t)c->hs[off + 1] << 16 | (size_t)c->hs[off + 2] << 8 | c->hs[off + 3];
        if (ml > ETLS_CLI_HS_MAX) {
            rc = fail(c, ETLS_ALERT_UNEXPECTED_MESSAGE, out);
            break;
        }
        if (c->hs_len - off < 4 + ml)
            break;
        uint8_t before = c->state;
        rc = dispatch(c, c->hs + off, 4 + ml, out);
        off += 4 + ml;
        int key_change = c->cfg->tls12 ? c->state == S_NEED_KX || before == S_WAIT_FIN
                                       : before == S_WAIT_SH || (before == S_WAIT_FIN && c->state == S_CONNECTED);
        if (rc >= 0 && key_change && off != c->hs_len)
            rc = fail(c, ETLS_ALERT_UNEXPECTED_MESSAGE, out);
    }
    memmove(c->hs, c->hs + off, c->hs_len - off);
    c->hs_len -= off;
    return rc;
}

int etls_cli_on_alert(etls_cli_conn_t *c, const uint8_t *p, size_t n, etls_tls_buf_t *out)
{
    if (n != 2)
        return fail(c, ETLS_ALERT_DECODE_ERROR, out);
    if (p[1] == ETLS_ALERT_CLOSE_NOTIFY) {
        c->peer_closed = 1;
        return 0;
    }
    c->peer_alert = p[1];
    c->state = S_FAILED;
    c->err = ETLS_TLS_ERR_PEER_ALERT(p[1]);
    return c->err;
}

/* One protected record (§5.2), opened in place; rec points at its header. */
static int on_protected(etls_cli_conn_t *c, uint8_t *rec, size_t rl, etls_tls_buf_t *out,
                        etls_tls_buf_t *app)
{
    uint8_t n[12];
    if (rl < (size_t)c->tag_len + 1)
        return fail(c, ETLS_ALERT_BAD_RECORD_MAC, out);
    mk_nonce(&c->rd, n);
    c->rd.seq++;
    if (etls_aead_open(c->eng, &c->rd.key, n, rec, 5, rec + 5, rl, rec + 5) != 0)
        return fail(c, ETLS_ALERT_BAD_RECORD_MAC, out);
    size_t l = rl - c->tag_len;
    uint8_t *pt = rec + 5;
    while (l && !pt[l - 1])
        l--;
    if (!l)
        return fail(c, ETLS_ALERT_UNEXPECTED_MESSAGE, out); /* no content type */
    uint8_t type = pt[--l];
    if (l > ETLS_TLS_MAX_PLAINTEXT)
        return fail(c, ETLS_ALERT_RECORD_OVERFLOW, out);
    return etls_cli_on_content(c, type, pt, l, out, app);
}

int etls_cli_on_content(etls_cli_conn_t *c, uint8_t type, const uint8_t *pt, size_t l,
                        etls_tls_buf_t *out, etls_tls_buf_t *app)
{
    if (type == CT_HS)
        return etls_cli_on_hs_bytes(c, pt, l, out);
    if (type == CT_ALERT)
        return etls_cli_on_alert(c, pt, l, out);
    if (type != CT_APP || c->state != S_CONNECTED || c->hs_len)
        return fail(c, ETLS_ALERT_UNEXPECTED_MESSAGE, out);
    if (app) {
        memcpy(app->base + app->len, pt, l);
        app->len += l;
    }
    c->app_bytes += l;
    return 0;
}

static int on_record(etls_cli_conn_t *c, uint8_t *rec, size_t rl, etls_tls_buf_t *out,
                     etls_tls_buf_t *app)
{
    uint8_t type = rec[0];
    if (c->cfg->tls12)
        return etls_cli12_on_record(c, rec, rl, out, app);
    if (type == CT_CCS && c->state > S_WAIT_SH && c->state < S_CONNECTED) /* §5: ignored */
        return rl == 1 && rec[5] == 1 ? 0 : fail(c, ETLS_ALERT_UNEXPECTED_MESSAGE, out);
    if (type == CT_ALERT && !c->rd.active)
        return etls_cli_on_alert(c, rec + 5, rl, out);
    if (type == CT_HS && c->state == S_WAIT_SH)
        return etls_cli_on_hs_bytes(c, rec + 5, rl, out);
    if (type == CT_APP && c->rd.active)
        return on_protected(c, rec, rl, out, app);
    return fail(c, ETLS_ALERT_UNEXPECTED_MESSAGE, out);
}

int etls_cli_feed(etls_cli_conn_t *c, uint8_t *in, size_t len, size_t *consumed,
                  etls_tls_buf_t *out, etls_tls_buf_t *app)
{
    size_t p = 0;
    *consumed = 0;
    if (c->err)
        return c->err;
    ETLS_ENSURE(c->state != S_START && c->state != S_NEED_KX, ETLS_ERR_INVALID);
    while (len - p >= 5 && !c->peer_closed) {
        size_t rl = (size_t)in[p + 3] << 8 | in[p + 4];
        if (rl > ETLS_TLS_MAX_CIPHERTEXT)
            return fail(c, ETLS_ALERT_RECORD_OVERFLOW, out);
        if (in[p + 1] != 3)
            return fail(c, ETLS_ALERT_DECODE_ERROR, out);
        if (len - p < 5 + rl)
            break;
        /* room for what this record can produce: our Finished or a KeyUpdate, app data */
        ETLS_ENSURE(buf_room(out) >= 128, ETLS_ERR_LIMIT);
        ETLS_ENSURE(!app || buf_room(app) >= rl, ETLS_ERR_LIMIT);
        int rc = on_record(c, in + p, rl, out, app);
        if (rc < 0)
            return rc;
        p += 5 + rl;
        *consumed = p;
        if (rc == ETLS_CLI_NEED_KX)
            return rc;
    }
    return 0;
}

const uint8_t *etls_cli_kx_peer(const etls_cli_conn_t *c, size_t *len)
{
    *len = c->peer_share_len;
    return c->peer_share;
}

int etls_cli_kx_done(etls_cli_conn_t *c, const uint8_t *shared, size_t len, int status,
                     etls_tls_buf_t *out)
{
    uint8_t th[ETLS_HASH_MAX_LEN];
    ETLS_ENSURE(c->state == S_NEED_KX, ETLS_ERR_INVALID);
    if (status != 0)
        return fail(c, ETLS_ALERT_ILLEGAL_PARAMETER, out); /* §7.4.2: all-zero secret */
    if (c->cfg->tls12)
        return etls_cli12_kx_done(c, shared, len, out);
    etls_hash_peek(&c->th, th);
    if (c->resumed)
        etls_tls13_ks_init(&c->ks, c->hash, c->offer->psk, c->offer->psk_len);
    else
        etls_tls13_ks_init(&c->ks, c->hash, NULL, 0);
    if (etls_tls13_ks_handshake(&c->ks, shared, len, th, c->c_hs, c->s_hs) != 0 ||
        set_dir(c, &c->rd, c->s_hs) != 0 || set_dir(c, &c->wr, c->c_hs) != 0)
        return fail(c, ETLS_ALERT_INTERNAL_ERROR, out);
    c->state = S_WAIT_EE;
    return 0;
}

int etls_cli_kx_inline(etls_cli_conn_t *c, etls_tls_buf_t *out)
{
    uint8_t shared[32];
    int st;
    if (c->share->group == ETLS_TLS_GROUP_X25519)
        st = etls_x25519_shared(shared, c->share->sk, c->peer_share);
    else
        st = etls_p256_shared_len(&c->share->p256, c->peer_share, c->peer_share_len, shared);
    int rc = etls_cli_kx_done(c, shared, 32, st, out);
    etls_wipe(shared, sizeof shared);
    return rc;
}

size_t etls_cli_send_room(const etls_cli_conn_t *c, size_t len, size_t rec)
{
    rec = rec && rec < ETLS_TLS_MAX_PLAINTEXT ? rec : ETLS_TLS_MAX_PLAINTEXT;
    size_t nrec = len ? (len + rec - 1) / rec : 0;
    return len + nrec * (c->cfg->tls12 ? etls_cli12_overhead(c) : 5u + 1u + c->tag_len);
}

int etls_cli_send(etls_cli_conn_t *c, const uint8_t *data, size_t len, size_t rec,
                  etls_tls_buf_t *out)
{
    ETLS_ENSURE(c->state == S_CONNECTED && !c->close_sent && !c->err, ETLS_ERR_INVALID);
    rec = rec && rec < ETLS_TLS_MAX_PLAINTEXT ? rec : ETLS_TLS_MAX_PLAINTEXT;
    ETLS_ENSURE(buf_room(out) >= etls_cli_send_room(c, len, rec), ETLS_ERR_LIMIT);
    for (size_t off = 0; off < len;) {
        size_t n = len - off < rec ? len - off : rec;
        ETLS_GUARD(put_record(c, CT_APP, data + off, n, out));
        off += n;
    }
    return 0;
}

int etls_cli_close(etls_cli_conn_t *c, etls_tls_buf_t *out)
{
    static const uint8_t a[2] = {1, ETLS_ALERT_CLOSE_NOTIFY};
    if (c->close_sent || c->err)
        return 0;
    ETLS_GUARD(put_record(c, CT_ALERT, a, 2, out));
    c->close_sent = 1;
    return 0;
}

int etls_cli_connected(const etls_cli_conn_t *c)
{
    return c->state == S_CONNECTED;
}
