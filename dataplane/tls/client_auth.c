/* Client authentication for TLS 1.3 (RFC 8446 §4.3.2 CertificateRequest, §4.4.2 Certificate,
 * §4.4.3 CertificateVerify, §4.4.2.4 receiving a certificate).
 *
 * A policy (client_auth, client_ca, client_crl, client_verify_depth) is built once from the
 * configuration: an X509_STORE with the trust anchors (and CRLs), and the CertificateRequest
 * message itself, the same bytes for every handshake. Per handshake the table in hs_server.c
 * calls the two handlers here: the client's chain is verified once, inline, with OpenSSL's
 * verifier (public data, so variable time is fine), and its CertificateVerify inline too.
 * The identity the backend learns (subject CN, SHA-256 of the leaf) lives in the connection
 * and in session tickets. */
#include "tls/tls_internal.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>

struct etls_tls_client_auth {
    uint8_t mode;
    X509_STORE *store;
    uint8_t tag[8];   /* SHA-256 of mode, depth, CA and CRL text: binds tickets to the policy */
    uint8_t *cr_msg;  /* CertificateRequest: header + body */
    size_t cr_len;
};

/* What the request offers and CertificateVerify may use (etls_pkey_verify implements them). */
static const uint16_t offered[] = {ETLS_SIG_ECDSA_SECP256R1_SHA256, ETLS_SIG_RSA_PSS_RSAE_SHA256,
                                   ETLS_SIG_ED25519};

/* ---- building a policy ------------------------------------------------------------------ */

static int fail(char *err, size_t errlen, int rc, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    ERR_clear_error();
    return rc;
}

/* §4.3.2: empty certificate_request_context; signature_algorithms; certificate_authorities
 * (§4.2.4: the DER subjects of the trust anchors). names holds n DER names back to back. */
static int build_request(etls_tls_client_auth_t *a, const uint8_t *names, size_t names_len)
{
    size_t body = 1 + 2 + (4 + 2 + 2 * (sizeof offered / sizeof offered[0])) + (4 + 2 + names_len);
    a->cr_msg = malloc(4 + body);
    ETLS_ENSURE(a->cr_msg, ETLS_ERR_NOMEM);
    etls_wr_t w = {a->cr_msg, 0, 4 + body, 0};
    etls_wr_u8(&w, HT_CERTIFICATE_REQUEST);
    etls_wr_u24(&w, (uint32_t)body);
    etls_wr_u8(&w, 0);
    etls_wr_u16(&w, (uint16_t)(body - 3));
    etls_wr_u16(&w, EXT_SIGNATURE_ALGORITHMS);
    etls_wr_u16(&w, (uint16_t)(2 + 2 * (sizeof offered / sizeof offered[0])));
    etls_wr_u16(&w, (uint16_t)(2 * (sizeof offered / sizeof offered[0])));
    for (size_t i = 0; i < sizeof offered / sizeof offered[0]; i++)
        etls_wr_u16(&w, offered[i]);
    etls_wr_u16(&w, EXT_CERTIFICATE_AUTHORITIES);
    etls_wr_u16(&w, (uint16_t)(2 + names_len));
    etls_wr_u16(&w, (uint16_t)names_len);
    etls_wr_bytes(&w, names, names_len);
    ETLS_ENSURE(!w.overflow && w.len == 4 + body, ETLS_ERR_INVALID);
    a->cr_len = w.len;
    return 0;
}

/* Trust anchors into the store, their subjects (2-byte length + DER each) into names. */
static int load_cas(etls_tls_client_auth_t *a, const char *pem, size_t len, uint8_t *names,
                    size_t *names_len, char *err, size_t errlen)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    ETLS_ENSURE(b, fail(err, errlen, ETLS_ERR_NOMEM, "out of memory"));
    size_t n = 0;
    int rc = 0;
    X509 *x;
    *names_len = 0;
    while (rc == 0 && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        unsigned char *der = NULL;
        int dl = i2d_X509_NAME(X509_get_subject_name(x), &der);
        if (dl <= 0 || !X509_STORE_add_cert(a->store, x))
            rc = fail(err, errlen, ETLS_ERR_INVALID, "cannot add a CA certificate to the trust store");
        else if (*names_len + 2 + (size_t)dl > ETLS_TLS_CA_NAMES_MAX)
            rc = fail(err, errlen, ETLS_ERR_LIMIT, "CA names exceed the 8 KiB certificate_authorities bound");
        else {
            put_u16(names + *names_len, (uint16_t)dl);
            memcpy(names + *names_len + 2, der, (size_t)dl);
            *names_len += 2 + (size_t)dl;
            n++;
        }
        OPENSSL_free(der);
        X509_free(x);
    }
    BIO_free(b);
    ETLS_GUARD(rc);
    ETLS_ENSURE(n, fail(err, errlen, ETLS_ERR_INVALID, "no CERTIFICATE in the CA file"));
    ERR_clear_error(); /* the end of the PEM text */
    return 0;
}

static int load_crls(etls_tls_client_auth_t *a, const char *pem, size_t len, char *err, size_t errlen)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    ETLS_ENSURE(b, fail(err, errlen, ETLS_ERR_NOMEM, "out of memory"));
    size_t n = 0;
    X509_CRL *crl;
    while ((crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL)) != NULL) {
        n += X509_STORE_add_crl(a->store, crl) == 1;
        X509_CRL_free(crl);
    }
    BIO_free(b);
    ETLS_ENSURE(n, fail(err, errlen, ETLS_ERR_INVALID, "no X509 CRL in the CRL file"));
    ERR_clear_error();
    return X509_STORE_set_flags(a->store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL) == 1
               ? 0 : fail(err, errlen, ETLS_ERR_CRYPTO, "cannot enable CRL checks");
}

static void make_tag(etls_tls_client_auth_t *a, int depth, const char *ca, size_t ca_len,
                     const char *crl, size_t crl_len)
{
    uint8_t h[ETLS_SHA256_LEN], head[2] = {a->mode, (uint8_t)depth};
    etls_hash_ctx_t x;
    etls_hash_init(&x, ETLS_HASH_SHA256);
    etls_hash_update(&x, head, 2);
    etls_hash_update(&x, ca, ca_len);
    etls_hash_update(&x, crl ? crl : "", crl_len);
    etls_hash_final(&x, h);
    memcpy(a->tag, h, sizeof a->tag);
}

int etls_tls_client_auth_new_pem(etls_tls_client_auth_t **out, int mode, const char *ca_pem,
                                 size_t ca_len, const char *crl_pem, size_t crl_len, int depth,
                                 char *err, size_t errlen)
{
    static uint8_t names[ETLS_TLS_CA_NAMES_MAX]; /* loading runs on one thread, at start-up */
    size_t names_len = 0;
    *out = NULL;
    ETLS_ENSURE(mode == ETLS_TLS_CLIENT_AUTH_OPTIONAL || mode == ETLS_TLS_CLIENT_AUTH_REQUIRED,
                fail(err, errlen, ETLS_ERR_INVALID, "client_auth must be optional or required"));
    ETLS_ENSURE(depth >= 0 && depth <= ETLS_TLS_CLIENT_DEPTH_MAX,
                fail(err, errlen, ETLS_ERR_INVALID, "client_verify_depth out of range"));
    ETLS_ENSURE(ca_pem && ca_len && ca_len <= (1u << 24),
                fail(err, errlen, ETLS_ERR_INVALID, "empty CA file"));
    etls_tls_client_auth_t *a = calloc(1, sizeof *a);
    ETLS_ENSURE(a, fail(err, errlen, ETLS_ERR_NOMEM, "out of memory"));
    a->mode = (uint8_t)mode;
    a->store = X509_STORE_new();
    int rc = a->store ? 0 : fail(err, errlen, ETLS_ERR_NOMEM, "out of memory");
    if (rc == 0)
        rc = load_cas(a, ca_pem, ca_len, names, &names_len, err, errlen);
    if (rc == 0 && crl_pem)
        rc = crl_len ? load_crls(a, crl_pem, crl_len, err, errlen)
                     : fail(err, errlen, ETLS_ERR_INVALID, "empty CRL file");
    if (rc == 0 && (X509_STORE_set_purpose(a->store, X509_PURPOSE_SSL_CLIENT) != 1 ||
                    X509_STORE_set_depth(a->store, depth) != 1))
        rc = fail(err, errlen, ETLS_ERR_CRYPTO, "cannot set the verification purpose");
    if (rc == 0 && build_request(a, names, names_len) != 0)
        rc = fail(err, errlen, ETLS_ERR_NOMEM, "cannot build the CertificateRequest");
    if (rc != 0) {
        etls_tls_client_auth_free(a);
        return rc;
    }
    make_tag(a, depth, ca_pem, ca_len, crl_pem, crl_pem ? crl_len : 0);
    *out = a;
    return 0;
}

/* Whole small file (at most 16 MiB) into a malloc'd buffer. */
static int read_file(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return ETLS_ERR_IO;
    }
    size_t cap = 1u << 24;
    *buf = malloc(cap + 1);
    *len = *buf ? fread(*buf, 1, cap + 1, f) : 0;
    int bad = !*buf || ferror(f) || *len > cap;
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "%s: cannot read (or larger than 16 MiB)", path);
        free(*buf);
        *buf = NULL;
        return ETLS_ERR_IO;
    }
    return 0;
}

int etls_tls_client_auth_new_file(etls_tls_client_auth_t **out, int mode, const char *ca_file,
                                  const char *crl_file, int depth, char *err, size_t errlen)
{
    char *ca = NULL, *crl = NULL, msg[256];
    size_t ca_len = 0, crl_len = 0;
    int has_crl = crl_file && crl_file[0];
    *out = NULL;
    ETLS_GUARD(read_file(ca_file, &ca, &ca_len, err, errlen));
    int rc = has_crl ? read_file(crl_file, &crl, &crl_len, err, errlen) : 0;
    if (rc == 0) {
        rc = etls_tls_client_auth_new_pem(out, mode, ca, ca_len, has_crl ? crl : NULL, crl_len,
                                          depth, msg, sizeof msg);
        if (rc != 0)
            snprintf(err, errlen, "%s: %s", strstr(msg, "CRL") ? crl_file : ca_file, msg);
    }
    free(ca);
    free(crl);
    return rc;
}

/* client_auth off where a name's setting overrides its listener's: no request. */
static etls_tls_client_auth_t off_policy;

const etls_tls_client_auth_t *etls_tls_client_auth_off(void)
{
    return &off_policy;
}

void etls_tls_client_auth_free(etls_tls_client_auth_t *a)
{
    if (!a || a == &off_policy)
        return;
    X509_STORE_free(a->store);
    free(a->cr_msg);
    free(a);
}

int etls_tls_client_auth_mode(const etls_tls_client_auth_t *a)
{
    return a ? a->mode : ETLS_TLS_CLIENT_AUTH_OFF;
}

int etls_tls_server_ctx_set_client_auth(etls_tls_server_ctx_t *ctx, unsigned l,
                                        const etls_tls_client_auth_t *a)
{
    ETLS_ENSURE(l < ETLS_TLS_MAX_LISTENERS, ETLS_ERR_INVALID);
    ctx->client_auth[l] = a;
    ctx->client_auth_any |= a != NULL;
    return 0;
}

int etls_tls_server_ctx_set_cert_client_auth(etls_tls_server_ctx_t *ctx, size_t idx,
                                             const etls_tls_client_auth_t *a)
{
    ETLS_ENSURE(idx < ctx->n_certs, ETLS_ERR_INVALID);
    ctx->certs[idx]->client_auth = a;
    ctx->client_auth_any |= a != NULL;
    return 0;
}

void etls_tls_conn_set_listener(etls_tls_conn_t *c, unsigned l)
{
    c->listener = (uint8_t)(l < ETLS_TLS_MAX_LISTENERS ? l : 0);
}

const etls_tls_peer_id_t *etls_tls_peer_id(const etls_tls_conn_t *c)
{
    return c->state == ST_ESTABLISHED && (c->peer.flags & ETLS_TLS_PEER_VERIFIED) ? &c->peer : NULL;
}

const etls_tls_client_auth_t *etls_tls_ca_policy(const etls_tls_conn_t *c)
{
    const etls_tls_client_auth_t *a = c->cert ? c->cert->client_auth : NULL;
    if (!a && c->listener < ETLS_TLS_MAX_LISTENERS)
        a = c->ctx->client_auth[c->listener];
    return a && a->mode != ETLS_TLS_CLIENT_AUTH_OFF ? a : NULL;
}

const uint8_t *etls_tls_ca_request(const etls_tls_client_auth_t *a, size_t *len)
{
    *len = a->cr_len;
    return a->cr_msg;
}

const uint8_t *etls_tls_ca_tag(const etls_tls_client_auth_t *a)
{
    return a->tag;
}

/* A ticket under a policy: it must come from the same policy; without an identity it resumes
 * only where the certificate is optional. Without a policy any ticket keeps its identity. */
int etls_tls_ca_resume_ok(etls_tls_conn_t *c, const etls_tls_ticket_t *t)
{
    const etls_tls_client_auth_t *a = etls_tls_ca_policy(c);
    int has_id = (t->peer.flags & ETLS_TLS_PEER_VERIFIED) != 0;
    if (a && has_id && memcmp(t->ca_tag, a->tag, sizeof a->tag) != 0)
        return 0;
    if (a && !has_id && a->mode == ETLS_TLS_CLIENT_AUTH_REQUIRED)
        return 0;
    if (has_id) {
        c->peer = t->peer;
        c->peer.flags = ETLS_TLS_PEER_VERIFIED; /* not presented on this connection */
    }
    return 1;
}

/* ---- the client's Certificate (§4.4.2) --------------------------------------------------- */

int etls_tls_ca_parse_certificate(const uint8_t *body, size_t len, const uint8_t **certs,
                                  size_t *cert_lens, size_t max)
{
    etls_cur_t cur = etls_cur(body, len), ctx, list;
    size_t n = 0;
    ETLS_GUARD(etls_cur_vec(&cur, 1, 0, 255, &ctx));
    ETLS_GUARD(etls_cur_vec(&cur, 3, 0, 0xffffff, &list));
    ETLS_GUARD(etls_cur_end(&cur));
    /* §4.4.2: the context of our request, which was empty */
    ETLS_ENSURE(ctx.left == 0, ALERT(ILLEGAL_PARAMETER));
    while (list.left) {
        etls_cur_t data, exts;
        ETLS_GUARD(etls_cur_vec(&list, 3, 1, 0xffffff, &data));
        ETLS_GUARD(etls_cur_vec(&list, 2, 0, 0xffff, &exts));
        /* §4.4.2: extensions must answer ones in our request, which asked for none */
        ETLS_ENSURE(exts.left == 0, ALERT(UNSUPPORTED_EXTENSION));
        ETLS_ENSURE(n < max, ALERT(BAD_CERTIFICATE)); /* a longer chain than we accept */
        certs[n] = data.p;
        cert_lens[n] = data.left;
        n++;
    }
    return (int)n;
}

/* The verifier's verdict as an alert (§6.2 descriptions; §4.4.2.4). */
static int verify_alert(int e)
{
    switch (e) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CRL_HAS_EXPIRED:
        return ALERT(CERTIFICATE_EXPIRED);
    case X509_V_ERR_CERT_REVOKED:
        return ALERT(CERTIFICATE_REVOKED);
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_UNABLE_TO_GET_CRL:
        return ALERT(UNKNOWN_CA);
    case X509_V_ERR_INVALID_PURPOSE:
        return ALERT(UNSUPPORTED_CERTIFICATE);
    default:
        return ALERT(BAD_CERTIFICATE);
    }
}

/* The chain to the policy's trust anchors; leaf and chain are the client's, untrusted. */
static int verify_chain(const etls_tls_client_auth_t *a, X509 *leaf, STACK_OF(X509) *chain)
{
    X509_STORE_CTX *x = X509_STORE_CTX_new();
    ETLS_ENSURE(x, ALERT(INTERNAL_ERROR));
    int rc = ALERT(INTERNAL_ERROR);
    if (X509_STORE_CTX_init(x, a->store, leaf, chain) == 1)
        rc = X509_verify_cert(x) == 1 ? 0 : verify_alert(X509_STORE_CTX_get_error(x));
    X509_STORE_CTX_free(x);
    ERR_clear_error();
    return rc;
}

/* Subject CN (the last one, the most specific) as UTF-8; too long: none. */
static void take_cn(X509 *leaf, etls_tls_peer_id_t *id)
{
    X509_NAME *nm = X509_get_subject_name(leaf);
    int i = -1, last = -1;
    while ((i = X509_NAME_get_index_by_NID(nm, NID_commonName, i)) >= 0)
        last = i;
    id->cn_len = 0;
    id->cn[0] = 0;
    if (last < 0)
        return;
    unsigned char *u = NULL;
    int n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, last)));
    if (n > 0 && n <= ETLS_TLS_CLIENT_CN_MAX && !memchr(u, 0, (size_t)n)) {
        memcpy(id->cn, u, (size_t)n);
        id->cn[n] = 0;
        id->cn_len = (uint8_t)n;
    }
    OPENSSL_free(u);
}

/* Parses every certificate (malformed DER: bad_certificate), verifies the chain, keeps the leaf's
 * key for CertificateVerify and its identity (flags set once CertificateVerify verifies). */
static int check_chain(etls_tls_conn_t *c, const uint8_t **certs, const size_t *lens, int n)
{
    STACK_OF(X509) *chain = sk_X509_new_null();
    X509 *leaf = NULL;
    int rc = chain ? 0 : ALERT(INTERNAL_ERROR);
    for (int i = 0; rc == 0 && i < n; i++) {
        const unsigned char *p = certs[i];
        X509 *x = d2i_X509(NULL, &p, (long)lens[i]);
        if (!x || p != certs[i] + lens[i])
            rc = ALERT(BAD_CERTIFICATE);
        else if (i == 0)
            leaf = x, x = NULL;
        else if (sk_X509_push(chain, x) > 0)
            x = NULL;
        else
            rc = ALERT(INTERNAL_ERROR);
        X509_free(x);
    }
    if (rc == 0) {
        int k = etls_pkey_from_x509(&c->hs->peer_key, leaf); /* the leaf is decoded once */
        rc = k == 0 ? 0 : k == ETLS_ERR_UNSUPPORTED ? ALERT(UNSUPPORTED_CERTIFICATE) : ALERT(BAD_CERTIFICATE);
    }
    if (rc == 0)
        rc = verify_chain(c->hs->ca, leaf, chain);
    if (rc == 0) {
        take_cn(leaf, &c->peer);
        etls_hash(ETLS_HASH_SHA256, certs[0], lens[0], c->peer.fp);
        c->peer.flags = 0;
    }
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    ERR_clear_error();
    return rc;
}

/* §4.4.4: the client's Finished covers its Certificate (and CertificateVerify). */
static void expect_finished(etls_tls_conn_t *c)
{
    uint8_t th[ETLS_HASH_MAX_LEN];
    etls_hash_peek(&c->hs->transcript, th);
    etls_tls13_finished_mac(c->hash, c->hs->client_fin_key, th, c->hs->expect_fin);
    etls_wipe(c->hs->client_fin_key, sizeof c->hs->client_fin_key);
    c->state = ST_CLIENT_FINISHED;
}

int etls_tls_ca_on_certificate(etls_tls_conn_t *c, const uint8_t *hdr, const uint8_t *body,
                               size_t len, etls_tls_buf_t *out)
{
    const uint8_t *certs[ETLS_TLS_CLIENT_CHAIN_MAX];
    size_t lens[ETLS_TLS_CLIENT_CHAIN_MAX];
    (void)out;
    int n = etls_tls_ca_parse_certificate(body, len, certs, lens, ETLS_TLS_CLIENT_CHAIN_MAX);
    ETLS_GUARD(n);
    if (n == 0) { /* §4.4.2.4: none sent; our policy decides */
        ETLS_ENSURE(c->hs->ca->mode != ETLS_TLS_CLIENT_AUTH_REQUIRED, ALERT(CERTIFICATE_REQUIRED));
        etls_tls_transcript(c, hdr, 4);
        etls_tls_transcript(c, body, len);
        expect_finished(c);
        return 0;
    }
    ETLS_GUARD(check_chain(c, certs, lens, n));
    etls_tls_transcript(c, hdr, 4);
    etls_tls_transcript(c, body, len);
    c->state = ST_CLIENT_CV;
    return 0;
}

/* §4.4.3: scheme, signature over 64 spaces, the client context string, 0, and the transcript
 * hash through the client's Certificate. */
int etls_tls_ca_on_cert_verify(etls_tls_conn_t *c, const uint8_t *hdr, const uint8_t *body,
                               size_t len, etls_tls_buf_t *out)
{
    static const char label[] = "TLS 1.3, client CertificateVerify";
    uint8_t content[64 + sizeof label + ETLS_HASH_MAX_LEN];
    etls_cur_t cur = etls_cur(body, len), sig;
    uint16_t scheme;
    int ok = 0;
    (void)out;
    ETLS_GUARD(etls_cur_u16(&cur, &scheme));
    ETLS_GUARD(etls_cur_vec(&cur, 2, 1, ETLS_SIG_MAX_LEN, &sig));
    ETLS_GUARD(etls_cur_end(&cur));
    for (size_t i = 0; i < sizeof offered / sizeof offered[0]; i++)
        ok |= offered[i] == scheme;
    /* one we offered, and the leaf's key's own scheme */
    ETLS_ENSURE(ok && etls_pkey_scheme(c->hs->peer_key) == scheme, ALERT(ILLEGAL_PARAMETER));
    memset(content, 0x20, 64);
    memcpy(content + 64, label, sizeof label);
    etls_hash_peek(&c->hs->transcript, content + 64 + sizeof label);
    int rc = etls_pkey_verify(c->hs->peer_key, scheme, content,
                              64 + sizeof label + etls_hash_len(c->hash), sig.p, sig.left);
    etls_pkey_free(c->hs->peer_key);
    c->hs->peer_key = NULL;
    ETLS_ENSURE(rc == 0, ALERT(DECRYPT_ERROR));
    c->peer.flags = ETLS_TLS_PEER_VERIFIED | ETLS_TLS_PEER_CERT_CONN;
    etls_tls_transcript(c, hdr, 4);
    etls_tls_transcript(c, body, len);
    expect_finished(c);
    return 0;
}
