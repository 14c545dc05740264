/* libFuzzer harness: the client's Certificate and CertificateVerify (client_auth.c).
 * Input: byte 0 flags (bit 0: trust the last certificate of the input's chain, so a seed's own
 * CA makes the verifier walk a real chain; bit 1: client_auth optional instead of required),
 * bytes 1-2 the Certificate body length L, L bytes of Certificate body, the rest the
 * CertificateVerify body. The body is parsed directly, then a hand-built client (mini_client)
 * takes a server connection up to the CertificateRequest and sends both messages and its
 * Finished as protected records: every outcome must be success or an alert, never a crash. */
#include "fuzz_common.h"

#include "../tests/tls/mini_client.h"
#include "tls/tls_internal.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

/* A throw-away CA for inputs that do not bring their own (generated once, never stored). */
static etls_tls_client_auth_t *base_policy(int mode)
{
    static etls_tls_client_auth_t *pol[3];
    if (pol[mode])
        return pol[mode];
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    FUZZ_ASSERT(k && x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, k);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"fuzz client CA", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    FUZZ_ASSERT(X509_sign(x, k, EVP_sha256()) > 0);
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char *pem, err[256];
    long n = BIO_get_mem_data(b, &pem);
    FUZZ_ASSERT(etls_tls_client_auth_new_pem(&pol[mode], mode, pem, (size_t)n, NULL, 0, 4, err, sizeof err) == 0);
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(k);
    return pol[mode];
}

/* A policy trusting der (NULL when it does not parse or make a policy). */
static etls_tls_client_auth_t *own_policy(const uint8_t *der, size_t len, int mode)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (!x)
        return NULL;
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char *pem, err[256];
    long n = BIO_get_mem_data(b, &pem);
    etls_tls_client_auth_t *a = NULL;
    if (etls_tls_client_auth_new_pem(&a, mode, pem, (size_t)n, NULL, 0, 4, err, sizeof err) != 0)
        a = NULL;
    BIO_free(b);
    X509_free(x);
    return a;
}

/* One handshake message as protected records of at most 16 KiB, hashed into m's transcript. */
static int send(fuzz_srv_t *s, mini_t *m, const uint8_t *msg, size_t n)
{
    static uint8_t rec[5 * (ETLS_TLS_CLIENT_CERT_MSG_MAX / 16000 + 2) + ETLS_TLS_CLIENT_CERT_MSG_MAX + 4096];
    size_t rl = 0;
    etls_hash_update(&m->th, msg, n);
    for (size_t off = 0; off < n; off += 16000)
        rl += mini_seal(m, 22, msg + off, n - off < 16000 ? n - off : 16000, 0, rec + rl);
    return fuzz_feed(s, rec, rl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mini_t m;
    static uint8_t ch[4096], rec[8192], msg[ETLS_TLS_CLIENT_CERT_MSG_MAX + 8];
    if (size < 3 || size > 3 + ETLS_TLS_CLIENT_CERT_MSG_MAX + 600)
        return 0;
    int mode = data[0] & 2 ? ETLS_TLS_CLIENT_AUTH_OPTIONAL : ETLS_TLS_CLIENT_AUTH_REQUIRED;
    size_t cl = (size_t)data[1] << 8 | data[2];
    if (cl > size - 3)
        cl = size - 3;
    const uint8_t *cert = data + 3, *cv = data + 3 + cl;
    size_t cvl = size - 3 - cl;
    const uint8_t *certs[ETLS_TLS_CLIENT_CHAIN_MAX];
    size_t lens[ETLS_TLS_CLIENT_CHAIN_MAX];
    int n = etls_tls_ca_parse_certificate(cert, cl, certs, lens, ETLS_TLS_CLIENT_CHAIN_MAX);
    FUZZ_ASSERT(n >= 0 ? n <= ETLS_TLS_CLIENT_CHAIN_MAX : ETLS_ERR_IS_ALERT(n));
    for (int i = 0; i < n; i++)
        FUZZ_ASSERT(lens[i] > 0 && certs[i] >= cert && certs[i] + lens[i] <= cert + cl);
    etls_tls_client_auth_t *own = (data[0] & 1) && n > 0 ? own_policy(certs[n - 1], lens[n - 1], mode) : NULL;
    etls_tls_server_ctx_t *ctx = fuzz_ctx();
    etls_tls_server_ctx_set_client_auth(ctx, 0, own ? own : base_policy(mode));

    fuzz_srv_t *s = fuzz_srv_new();
    mini_init(&m, fuzz_env()->aead, 11);
    ch_opts_t o;
    memset(&o, 0, sizeof o);
    size_t chl = mini_build_ch(&m, &o, ch, sizeof ch);
    int rc = fuzz_feed(s, rec, mini_records(22, ch, chl, 0, rec));
    FUZZ_ASSERT(rc == 0 && mini_read_flight(&m, ch, chl, s->out.base, s->out.len) == 0);
    s->out.len = 0;
    rc = send(s, &m, msg, mini_hs_msg(HT_CERTIFICATE, cert, cl, msg));
    if (rc == 0 && n > 0 && cvl <= 4 + ETLS_SIG_MAX_LEN)
        rc = send(s, &m, msg, mini_hs_msg(HT_CERTIFICATE_VERIFY, cv, cvl, msg));
    if (rc == 0) { /* Finished over what the client sent */
        uint8_t th[ETLS_HASH_MAX_LEN], vd[ETLS_HASH_MAX_LEN];
        etls_hash_peek(&m.th, th);
        etls_tls13_finished(m.hash, m.c_hs, th, vd);
        rc = send(s, &m, msg, mini_hs_msg(HT_FINISHED, vd, etls_hash_len(m.hash), msg));
    }
    FUZZ_ASSERT(rc == 0 || ETLS_ERR_IS_ALERT(rc));
    if (n < 0) /* a Certificate the parser refuses is refused by the engine */
        FUZZ_ASSERT(rc < 0);
    if (rc == 0 && etls_tls_handshake_done(&s->c)) /* only with a verified chain, or none when optional */
        FUZZ_ASSERT(etls_tls_peer_id(&s->c) ? n > 0 : n == 0 && mode == ETLS_TLS_CLIENT_AUTH_OPTIONAL);
    fuzz_srv_free(s);
    mini_free(&m);
    etls_tls_server_ctx_set_client_auth(ctx, 0, NULL);
    etls_tls_client_auth_free(own);
    return 0;
}
