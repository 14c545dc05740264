#include "harness.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static EVP_PKEY *make_key(key_type_t type)
{
    switch (type) {
    case KEY_ECDSA:
        return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    case KEY_RSA:
        return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    default:
        return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    }
}

int test_cert_make(test_cert_t *tc, key_type_t type, const char *names)
{
    static long serial = 1;
    static char san[16384];
    char cn[256];
    memset(tc, 0, sizeof *tc);
    tc->pkey = make_key(type);
    tc->x509 = X509_new();
    if (!tc->pkey || !tc->x509)
        return -1;
    X509_set_version(tc->x509, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(tc->x509), serial++);
    X509_gmtime_adj(X509_getm_notBefore(tc->x509), -3600);
    X509_gmtime_adj(X509_getm_notAfter(tc->x509), 86400);
    X509_set_pubkey(tc->x509, tc->pkey);
    snprintf(cn, sizeof cn, "%s", names);
    char *comma = strchr(cn, ',');
    if (comma)
        *comma = 0;
    X509_NAME *nm = X509_get_subject_name(tc->x509);
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(tc->x509, nm);
    /* "a,b" -> "DNS:a,DNS:b" */
    size_t o = 0;
    for (const char *s = names; *s && o + 8 < sizeof san;) {
        o += (size_t)snprintf(san + o, sizeof san - o, "%sDNS:", o ? "," : "");
        while (*s && *s != ',' && o + 1 < sizeof san)
            san[o++] = *s++;
        san[o] = 0;
        if (*s == ',')
            s++;
    }
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, tc->x509, tc->x509, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
    if (!ext)
        return -1;
    X509_add_ext(tc->x509, ext, -1);
    X509_EXTENSION_free(ext);
    if (!X509_sign(tc->x509, tc->pkey, type == KEY_ED25519 ? NULL : EVP_sha256()))
        return -1;
    unsigned char *der = NULL;
    int n = i2d_X509(tc->x509, &der);
    if (n <= 0)
        return -1;
    tc->der = malloc((size_t)n);
    memcpy(tc->der, der, (size_t)n);
    tc->der_len = (size_t)n;
    OPENSSL_free(der);
    return 0;
}

void test_cert_free(test_cert_t *tc)
{
    EVP_PKEY_free(tc->pkey);
    X509_free(tc->x509);
    free(tc->der);
    memset(tc, 0, sizeof *tc);
}

static int add(etls_tls_server_ctx_t *ctx, const test_cert_t *tc, const char *names, int is_default,
               const test_cert_t *extra, size_t n_extra)
{
    char err[256];
    BIO *m = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(m, tc->pkey, NULL, NULL, 0, NULL, NULL);
    char *pem;
    long pl = BIO_get_mem_data(m, &pem);
    etls_pkey_t *key = NULL;
    int rc = etls_pkey_load_pem(&key, pem, (size_t)pl, err, sizeof err);
    BIO_free(m);
    if (rc != 0) {
        fprintf(stderr, "load key: %s\n", err);
        return rc;
    }
    etls_cert_chain_t chain = {0};
    chain.n = 1 + n_extra;
    for (size_t i = 0; i < chain.n; i++) {
        const test_cert_t *c = i ? &extra[i - 1] : tc;
        chain.der[i] = malloc(c->der_len);
        memcpy(chain.der[i], c->der, c->der_len);
        chain.der_len[i] = c->der_len;
    }
    rc = etls_tls_server_ctx_add_cert_names(ctx, &chain, key, names, is_default, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "add cert: %s\n", err);
    return rc;
}

int test_ctx_add(etls_tls_server_ctx_t *ctx, const test_cert_t *tc, const char *names, int is_default)
{
    return add(ctx, tc, names, is_default, NULL, 0);
}

int test_ctx_add_chain(etls_tls_server_ctx_t *ctx, const test_cert_t *tc, const test_cert_t *extra,
                       size_t n_extra)
{
    return add(ctx, tc, NULL, 1, extra, n_extra);
}

int test_env_init(test_env_t *te, size_t batch_cap)
{
    uint8_t seed[32] = {1, 2, 3};
    memset(te, 0, sizeof *te);
    etls_rand_init_seeded(&te->rng, seed);
    te->env.rng = &te->rng;
    te->env.aead = etls_aead_engine_new();
    if (!te->env.aead)
        return -1;
    te->env.hs_pool = etls_tls_hs_pool_new(4);
    if (!te->env.hs_pool)
        return -1;
    if (batch_cap) {
        etls_batch_config_t cfg = {0};
        cfg.x25519_cap = cfg.p256_cap = cfg.sign_cap = cfg.aead_cap = cfg.rsa_cap = batch_cap;
        cfg.aead = te->env.aead;
        te->env.batch = etls_batch_new(&cfg);
        if (!te->env.batch)
            return -1;
    }
    return 0;
}

size_t test_env_free(test_env_t *te)
{
    size_t in_use = etls_tls_hs_pool_in_use(te->env.hs_pool);
    etls_tls_hs_pool_free(te->env.hs_pool);
    etls_batch_free(te->env.batch);
    etls_aead_engine_free(te->env.aead);
    etls_rand_wipe(&te->rng);
    return in_use;
}

void test_env_run(test_env_t *te)
{
    if (!te->env.batch)
        return;
    etls_batch_run(te->env.batch);
    while (etls_batch_pop_ready(te->env.batch))
        ;
}

static void info_cb(const SSL *ssl, int where, int ret)
{
    if (where & SSL_CB_READ_ALERT) {
        test_pair_t *p = SSL_get_app_data(ssl);
        if (p)
            p->client_alert = ret & 0xff;
    }
}

SSL_CTX *test_client_ctx(const test_cert_t *trust)
{
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
    SSL_CTX_set_info_callback(c, info_cb);
    if (trust) {
        X509_STORE_add_cert(SSL_CTX_get_cert_store(c), trust->x509);
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
    }
    return c;
}

int test_pair_init(test_pair_t *p, SSL_CTX *cctx, const etls_tls_server_ctx_t *sctx, test_env_t *te)
{
    memset(p, 0, sizeof *p);
    p->ssl = SSL_new(cctx);
    p->c_rbio = BIO_new(BIO_s_mem());
    p->c_wbio = BIO_new(BIO_s_mem());
    SSL_set_bio(p->ssl, p->c_rbio, p->c_wbio);
    SSL_set_connect_state(p->ssl);
    SSL_set_app_data(p->ssl, p);
    p->client_alert = -1;
    p->te = te;
    p->conn = aligned_alloc(_Alignof(etls_tls_conn_t), sizeof *p->conn); /* keys are 64-aligned */
    etls_tls_conn_init(p->conn, sctx, &te->env);
    p->in_cap = 4 * ETLS_TLS_MAX_RECORD;
    p->in = malloc(p->in_cap);
    p->out.cap = 256 * 1024;
    p->out.base = malloc(p->out.cap);
    p->app.cap = 2 * ETLS_TLS_MAX_CIPHERTEXT;
    p->app.base = malloc(p->app.cap);
    p->got_cap = 1 << 20;
    p->got = malloc(p->got_cap);
    return 0;
}

void test_pair_free(test_pair_t *p)
{
    SSL_free(p->ssl);
    etls_tls_conn_wipe(p->conn);
    free(p->conn);
    free(p->in);
    free(p->out.base);
    free(p->app.base);
    free(p->got);
}

static void drain(test_pair_t *p)
{
    if (p->out.len) {
        BIO_write(p->c_rbio, p->out.base, (int)p->out.len);
        p->out.len = 0;
    }
    if (p->app.len) {
        if (p->got_len + p->app.len > p->got_cap) {
            p->got_cap = (p->got_len + p->app.len) * 2;
            p->got = realloc(p->got, p->got_cap);
        }
        memcpy(p->got + p->got_len, p->app.base, p->app.len);
        p->got_len += p->app.len;
        p->app.len = 0;
    }
}

/* Feeds everything buffered in p->in; input, out and app stay untouched while parked. */
static void feed_all(test_pair_t *p)
{
    size_t off = 0;
    for (int guard = 0; guard < 100000; guard++) {
        size_t used = 0;
        int rc = etls_tls_feed(p->conn, p->in + off, p->in_len - off, &used, &p->out, &p->app);
        off += used;
        if (rc == ETLS_ERR_IN_PROGRESS) {
            test_env_run(p->te);
            continue;
        }
        drain(p);
        if (rc == ETLS_ERR_LIMIT)
            continue;
        if (rc < 0) {
            p->srv_rc = rc;
            break;
        }
        if (used == 0)
            break;
    }
    memmove(p->in, p->in + off, p->in_len - off);
    p->in_len -= off;
}

int test_pair_server_step(test_pair_t *p)
{
    /* max_in_chunk models small TCP segments: records arrive a few bytes at a time. */
    for (int guard = 0; guard < 1000000 && !p->srv_rc; guard++) {
        size_t want = p->in_cap - p->in_len;
        if (p->max_in_chunk && want > p->max_in_chunk)
            want = p->max_in_chunk;
        int n = want ? BIO_read(p->c_wbio, p->in + p->in_len, (int)want) : 0;
        if (n > 0)
            p->in_len += (size_t)n;
        feed_all(p);
        if (n <= 0)
            break;
    }
    return p->srv_rc;
}

int test_pair_handshake(test_pair_t *p)
{
    for (int i = 0; i < 50; i++) {
        int r = SSL_do_handshake(p->ssl);
        if (r <= 0 && SSL_get_error(p->ssl, r) != SSL_ERROR_WANT_READ)
            return -1;
        if (test_pair_server_step(p) < 0) {
            SSL_do_handshake(p->ssl); /* let the client read our alert */
            return -2;
        }
        if (r == 1 && etls_tls_handshake_done(p->conn))
            return 0;
    }
    return -3;
}

int test_pair_server_send(test_pair_t *p, const uint8_t *data, size_t len)
{
    size_t off = 0;
    for (int guard = 0; guard < 1000000; guard++) {
        size_t used = 0;
        int rc = etls_tls_send(p->conn, data + off, len - off, &used, &p->out);
        off += used;
        if (rc == ETLS_ERR_IN_PROGRESS) {
            test_env_run(p->te);
            continue; /* the next send call publishes the sealed records */
        }
        if (rc == ETLS_ERR_LIMIT) {
            drain(p);
            continue;
        }
        if (rc < 0)
            return p->srv_rc = rc;
        if (off == len) {
            drain(p);
            return 0;
        }
    }
    return -1;
}

int test_pair_client_read(test_pair_t *p, uint8_t *buf, size_t len)
{
    size_t got = 0;
    for (int guard = 0; got < len && guard < 1000000; guard++) {
        int r = SSL_read(p->ssl, buf + got, (int)(len - got));
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (SSL_get_error(p->ssl, r) != SSL_ERROR_WANT_READ)
            return -1;
        if (test_pair_server_step(p) < 0) /* e.g. to answer a KeyUpdate the client sent */
            return -2;
        if (BIO_ctrl_pending(p->c_rbio) == 0)
            return -3; /* nothing more will come */
    }
    return got == len ? 0 : -4;
}

int test_feed_all(test_env_t *te, etls_tls_conn_t *c, const uint8_t *in, size_t len, size_t *consumed,
                  etls_tls_buf_t *out, etls_tls_buf_t *app)
{
    size_t off = 0, used;
    int rc;
    for (;;) {
        rc = etls_tls_feed(c, in + off, len - off, &used, out, app);
        off += used;
        if (rc == ETLS_ERR_IN_PROGRESS) {
            test_env_run(te);
            continue;
        }
        if (rc != 0 || used == 0 || off == len)
            break;
    }
    if (consumed)
        *consumed = off;
    return rc;
}
