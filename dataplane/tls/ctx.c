/* The shared server context: suites, groups, ALPN, certificates and SNI selection. Built once
 * by the config loader (this file may allocate), then read-only for the workers. */
#include "tls/tls_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* A cipher suite is just an AEAD and a hash (RFC 8446 §B.4). */
static const struct suite_desc {
    uint16_t id;
    etls_aead_alg_t aead;
    etls_hash_alg_t hash;
    const char *name;
} suite_table[] = {
    {ETLS_TLS_AES_128_GCM_SHA256, ETLS_AEAD_AES128GCM, ETLS_HASH_SHA256, "TLS_AES_128_GCM_SHA256"},
    {ETLS_TLS_AES_256_GCM_SHA384, ETLS_AEAD_AES256GCM, ETLS_HASH_SHA384, "TLS_AES_256_GCM_SHA384"},
    {ETLS_TLS_CHACHA20_POLY1305_SHA256, ETLS_AEAD_CHACHA20POLY1305, ETLS_HASH_SHA256,
     "TLS_CHACHA20_POLY1305_SHA256"},
    {ETLS_TLS_AES_128_CCM_SHA256, ETLS_AEAD_AES128CCM, ETLS_HASH_SHA256, "TLS_AES_128_CCM_SHA256"},
    {ETLS_TLS_AES_128_CCM_8_SHA256, ETLS_AEAD_AES128CCM8, ETLS_HASH_SHA256, "TLS_AES_128_CCM_8_SHA256"},
};

static const struct suite_desc *suite_find(uint16_t id)
{
    for (size_t i = 0; i < sizeof suite_table / sizeof suite_table[0]; i++)
        if (suite_table[i].id == id)
            return &suite_table[i];
    return NULL;
}

int etls_tls_suite_params(uint16_t suite, etls_aead_alg_t *aead, etls_hash_alg_t *hash)
{
    const struct suite_desc *d = suite_find(suite);
    ETLS_ENSURE(d, ETLS_ERR_UNSUPPORTED);
    *aead = d->aead;
    *hash = d->hash;
    return 0;
}

const char *etls_tls_cipher_name(uint16_t suite)
{
    const struct suite_desc *d = suite_find(suite);
    return d ? d->name : etls_tls12_suite_name(suite);
}

int etls_tls_server_ctx_init(etls_tls_server_ctx_t *ctx, etls_rand_t *rng)
{
    static const uint16_t suites[] = {ETLS_TLS_AES_128_GCM_SHA256, ETLS_TLS_AES_256_GCM_SHA384,
                                      ETLS_TLS_CHACHA20_POLY1305_SHA256};
    static const uint16_t groups[] = {ETLS_TLS_GROUP_X25519MLKEM768, ETLS_TLS_GROUP_X25519,
                                      ETLS_TLS_GROUP_SECP256R1};
    memset(ctx, 0, sizeof *ctx);
    ETLS_GUARD(etls_tls_server_ctx_set_suites(ctx, suites, 3));
    ETLS_GUARD(etls_tls_server_ctx_set_groups(ctx, groups, 3));
    ctx->record_size_limit = ETLS_TLS_MAX_PLAINTEXT + 1;
    ctx->max_hs_msg = ETLS_TLS_DEFAULT_MAX_HS_MSG;
    ctx->ticket_lifetime = 7200;
    ETLS_GUARD(etls_rand_bytes(rng, (uint8_t *)&ctx->sni.seed, sizeof ctx->sni.seed));
    return etls_rand_bytes(rng, ctx->cookie_key, sizeof ctx->cookie_key);
}

static void cert_free(etls_tls_cert_t *c)
{
    etls_pkey_free(c->key);
    free(c->cert_msg); /* the chain's DER lives in it */
    free(c->names);
    free(c->tag);
    free(c);
}

void etls_tls_server_ctx_free(etls_tls_server_ctx_t *ctx)
{
    for (size_t i = 0; i < ctx->n_certs; i++)
        if (--ctx->certs[i]->refs == 0)
            cert_free(ctx->certs[i]);
    free(ctx->certs);
    ctx->certs = NULL;
    ctx->n_certs = ctx->cap_certs = 0;
    etls_sni_free(&ctx->sni);
    etls_wipe(ctx->cookie_key, sizeof ctx->cookie_key);
    etls_wipe(ctx->ticket_keys, sizeof ctx->ticket_keys);
    etls_wipe(ctx->ticket_seed, sizeof ctx->ticket_seed);
}

void etls_tls_server_ctx_copy_settings(etls_tls_server_ctx_t *dst, const etls_tls_server_ctx_t *src)
{
    *dst = *src;
    dst->certs = NULL;
    dst->n_certs = dst->cap_certs = 0;
    dst->max_flight = 0;
    memset(&dst->sni, 0, sizeof dst->sni);
    dst->sni.seed = src->sni.seed;
}

int etls_tls_server_ctx_reserve(etls_tls_server_ctx_t *ctx, size_t n_certs, size_t n_names)
{
    ETLS_ENSURE(n_certs <= ETLS_TLS_MAX_CERTS, ETLS_ERR_LIMIT);
    if (n_certs > ctx->cap_certs) {
        etls_tls_cert_t **arr = realloc(ctx->certs, n_certs * sizeof *arr);
        ETLS_ENSURE(arr, ETLS_ERR_NOMEM);
        ctx->certs = arr;
        ctx->cap_certs = n_certs;
    }
    return etls_sni_reserve(&ctx->sni, n_names);
}

/* The largest handshake flight cert makes: ServerHello, EncryptedExtensions (any ALPN name),
 * Certificate, CertificateVerify, Finished; then record framing at the smallest record a
 * client may ask for (RFC 8449: 64 bytes, so 63 content bytes plus 22 bytes of header, type
 * and tag each). */
static void note_flight(etls_tls_server_ctx_t *ctx, const etls_tls_cert_t *cert)
{
    size_t content = 512 + 300 + 256 + ETLS_TLS_HYBRID_SERVER_SHARE_LEN + 4 + cert->cert_msg_len + 8 + ETLS_SIG_MAX_LEN + 64;
    size_t flight = content + (content / 63 + 4) * (ETLS_TLS_RECORD_HEADER + 1 + 16) + 64;
    if (flight > ctx->max_flight)
        ctx->max_flight = flight;
}

/* Appends cert (its reference already counted by the caller) and indexes its names. */
static int push_cert(etls_tls_server_ctx_t *ctx, etls_tls_cert_t *cert)
{
    ETLS_ENSURE(ctx->n_certs < ETLS_TLS_MAX_CERTS, ETLS_ERR_LIMIT);
    if (ctx->n_certs == ctx->cap_certs)
        ETLS_GUARD(etls_tls_server_ctx_reserve(ctx, ctx->cap_certs ? ctx->cap_certs * 2 : 4, 0));
    ctx->certs[ctx->n_certs] = cert;
    int rc = etls_sni_add(ctx, (uint32_t)ctx->n_certs);
    if (rc < 0)
        return rc;
    ctx->n_certs++;
    note_flight(ctx, cert);
    return 0;
}

int etls_tls_server_ctx_share_all(etls_tls_server_ctx_t *dst, const etls_tls_server_ctx_t *src, size_t extra)
{
    ETLS_GUARD(etls_tls_server_ctx_reserve(dst, src->n_certs + extra, 0));
    ETLS_GUARD(etls_sni_copy(&dst->sni, &src->sni));
    if (src->n_certs)
        memcpy(dst->certs, src->certs, src->n_certs * sizeof *dst->certs);
    for (size_t i = 0; i < src->n_certs; i++)
        src->certs[i]->refs++;
    dst->n_certs = src->n_certs;
    if (src->max_flight > dst->max_flight)
        dst->max_flight = src->max_flight;
    return 0;
}

int etls_tls_server_ctx_replace_shared(etls_tls_server_ctx_t *ctx, size_t idx, etls_tls_cert_t *cert)
{
    ETLS_ENSURE(idx < ctx->n_certs, ETLS_ERR_INVALID);
    etls_tls_cert_t *old = ctx->certs[idx];
    cert->refs++;
    int rc = etls_sni_replace(ctx, (uint32_t)idx, cert);
    if (--old->refs == 0) /* after: the old names were read above */
        cert_free(old);
    note_flight(ctx, cert);
    return rc;
}

int etls_tls_server_ctx_add_shared(etls_tls_server_ctx_t *ctx, etls_tls_cert_t *cert)
{
    int rc = push_cert(ctx, cert);
    if (rc == 0)
        cert->refs++;
    return rc;
}

/* Copies ids into dst after checking each with `known` and rejecting duplicates. */
static int set_list(uint16_t *dst, size_t *n_dst, size_t max, const uint16_t *ids, size_t n,
                    int (*known)(uint16_t))
{
    ETLS_ENSURE(n >= 1 && n <= max, ETLS_ERR_INVALID);
    for (size_t i = 0; i < n; i++) {
        ETLS_ENSURE(known(ids[i]), ETLS_ERR_INVALID);
        for (size_t j = 0; j < i; j++)
            ETLS_ENSURE(ids[j] != ids[i], ETLS_ERR_INVALID);
    }
    memcpy(dst, ids, n * sizeof *ids);
    *n_dst = n;
    return 0;
}

int etls_tls_suite_known(uint16_t id)
{
    return suite_find(id) != NULL;
}

int etls_tls_group_known(uint16_t id)
{
    return id == ETLS_TLS_GROUP_X25519 || id == ETLS_TLS_GROUP_SECP256R1 ||
           id == ETLS_TLS_GROUP_X25519MLKEM768;
}

int etls_tls_server_ctx_set_suites(etls_tls_server_ctx_t *ctx, const uint16_t *ids, size_t n)
{
    return set_list(ctx->suites, &ctx->n_suites, ETLS_TLS_MAX_SUITES, ids, n, etls_tls_suite_known);
}

int etls_tls_server_ctx_set_groups(etls_tls_server_ctx_t *ctx, const uint16_t *ids, size_t n)
{
    return set_list(ctx->groups, &ctx->n_groups, ETLS_TLS_MAX_GROUPS, ids, n, etls_tls_group_known);
}

int etls_tls_server_ctx_set_alpn(etls_tls_server_ctx_t *ctx, const char *const *protos, size_t n)
{
    ETLS_ENSURE(n <= ETLS_TLS_MAX_ALPN, ETLS_ERR_INVALID);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(protos[i]);
        ETLS_ENSURE(l >= 1 && l <= 255, ETLS_ERR_INVALID);
        ctx->alpn[len++] = (uint8_t)l;
        memcpy(ctx->alpn + len, protos[i], l);
        len += l;
    }
    ctx->alpn_len = len;
    ctx->n_alpn = n;
    return 0;
}

__attribute__((format(printf, 4, 5))) static int cert_err(char *err, size_t errlen, int rc,
                                                          const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Lower-cases and validates an explicit name list; returns its length including the final "". */
static int copy_names(char *dst, const char *names, size_t *len)
{
    size_t i = 0;
    for (;;) {
        size_t l = strlen(names + i);
        ETLS_ENSURE(i + l + 1 <= ETLS_TLS_MAX_NAMES_LEN, ETLS_ERR_LIMIT);
        ETLS_ENSURE(l <= ETLS_TLS_MAX_SNI, ETLS_ERR_INVALID);
        for (size_t k = 0; k <= l; k++) {
            char ch = names[i + k];
            dst[i + k] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
        }
        i += l + 1;
        if (l == 0)
            break;
    }
    *len = i;
    return 0;
}

static size_t cert_msg_len(const etls_cert_chain_t *chain)
{
    size_t n = 1 + 3; /* empty certificate_request_context, certificate_list length */
    for (size_t i = 0; i < chain->n; i++)
        n += 3 + chain->der_len[i] + 2; /* cert_data, empty extensions */
    return n;
}

static uint8_t *put_u24(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 16);
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)v;
    return p + 3;
}

/* RFC 8446 §4.4.2: the Certificate message with an empty request context and, for each DER
 * certificate, empty extensions. Returns a malloc'd copy of 4 + body bytes, or NULL. */
static uint8_t *build_cert_msg(const etls_cert_chain_t *chain, size_t body)
{
    uint8_t *m = malloc(4 + body), *p = m;
    if (!m)
        return NULL;
    *p++ = HT_CERTIFICATE;
    p = put_u24(p, body);
    *p++ = 0;
    p = put_u24(p, body - 4);
    for (size_t i = 0; i < chain->n; i++) {
        p = put_u24(p, chain->der_len[i]);
        memcpy(p, chain->der[i], chain->der_len[i]);
        p += chain->der_len[i];
        *p++ = 0;
        *p++ = 0;
    }
    return m;
}

/* The chain's DER copies are freed and chain->der[i] point at the same bytes inside the
 * Certificate message: one copy per certificate (what a 100,000-entry snapshot weighs). */
static void chain_into_msg(etls_cert_chain_t *chain, uint8_t *msg)
{
    uint8_t *p = msg + 4 + 1 + 3;
    for (size_t i = 0; i < chain->n; i++) {
        p += 3;
        free(chain->der[i]);
        chain->der[i] = p;
        p += chain->der_len[i] + 2;
    }
}

int etls_tls_server_ctx_add_cert_tagged(etls_tls_server_ctx_t *ctx, etls_cert_chain_t *chain,
                                        etls_pkey_t *key, const char *names, int is_default,
                                        const char *tag, char *err, size_t errlen)
{
    etls_tls_cert_t *cert = NULL;
    char buf[ETLS_TLS_MAX_NAMES_LEN];
    int rc = ETLS_ERR_NOMEM;
    if (ctx->n_certs >= ETLS_TLS_MAX_CERTS || !chain->n || !key) {
        rc = cert_err(err, errlen, ETLS_ERR_LIMIT, "too many certificates or empty chain/key");
        goto fail;
    }
    cert = calloc(1, sizeof *cert);
    if (!cert)
        goto fail;
    cert->scheme = etls_pkey_scheme(key);
    if (!cert->scheme || etls_cert_chain_matches_key(chain, key) != 0) {
        rc = cert_err(err, errlen, ETLS_ERR_INVALID, "key unsupported or does not match certificate");
        goto fail;
    }
    rc = names ? copy_names(buf, names, &cert->names_len) : etls_cert_leaf_dns_names(chain, buf, sizeof buf);
    if (rc < 0) {
        cert_err(err, errlen, rc, "bad certificate names");
        goto fail;
    }
    if (!names)
        for (cert->names_len = 0; buf[cert->names_len];)
            cert->names_len += strlen(buf + cert->names_len) + 1;
    cert->names_len += names ? 0 : 1;
    cert->names = malloc(cert->names_len);
    cert->tag = tag ? strdup(tag) : NULL;
    cert->cert_msg_len = cert_msg_len(chain);
    cert->cert_msg = build_cert_msg(chain, cert->cert_msg_len);
    rc = ETLS_ERR_NOMEM;
    if (!cert->names || !cert->cert_msg || (tag && !cert->tag))
        goto fail;
    memcpy(cert->names, buf, cert->names_len);
    etls_cert_chain_drop_parsed(chain);
    chain_into_msg(chain, cert->cert_msg);
    cert->chain = *chain;
    memset(chain, 0, sizeof *chain);
    cert->key = key;
    key = NULL;
    cert->is_default = is_default ? 1 : 0;
    cert->refs = 1;
    if ((rc = push_cert(ctx, cert)) < 0) {
        cert_err(err, errlen, rc, "too many certificates or names, or out of memory");
        goto fail;
    }
    return 0;
fail:
    if (cert) {
        cert->key = key;
        key = NULL;
        cert_free(cert);
    }
    etls_cert_chain_free(chain);
    etls_pkey_free(key);
    return rc;
}

int etls_tls_server_ctx_add_cert_names(etls_tls_server_ctx_t *ctx, etls_cert_chain_t *chain,
                                       etls_pkey_t *key, const char *names, int is_default,
                                       char *err, size_t errlen)
{
    return etls_tls_server_ctx_add_cert_tagged(ctx, chain, key, names, is_default, NULL, err, errlen);
}

int etls_tls_server_ctx_add_cert(etls_tls_server_ctx_t *ctx, etls_cert_chain_t *chain,
                                 etls_pkey_t *key, int is_default, char *err, size_t errlen)
{
    return etls_tls_server_ctx_add_cert_names(ctx, chain, key, NULL, is_default, err, errlen);
}

const etls_tls_cert_t *etls_tls_server_ctx_select_cert(const etls_tls_server_ctx_t *ctx,
                                                       const char *name, size_t name_len,
                                                       const uint16_t *schemes, size_t n_schemes)
{
    int by_name;
    return etls_tls_select_cert(ctx, name, name_len, schemes, n_schemes, &by_name);
}
