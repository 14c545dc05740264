/* Sign/verify round trips for every scheme with keys generated here and loaded from PEM files,
 * cross-checked against OpenSSL in both directions; tampering rejected; public keys from
 * certificates and SPKI; concurrent signing with one shared key. */
#include "crypto/pk.h"

#include "common/err.h"
#include "pk_testutil.h"
#include "test.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#if defined(__SANITIZE_ADDRESS__)
#define ROUNDS 4
#else
#define ROUNDS 40
#endif

static etls_test_rng_t rng;
static char dir[256];

/* OpenSSL's own verify/sign with the TLS parameters of the scheme (salt 32 for PSS unless
 * salt says otherwise, to build wrong-salt signatures). */
static int ossl_sig(EVP_PKEY *k, uint16_t scheme, int sign, const uint8_t *msg, size_t len,
                    uint8_t *sig, size_t *siglen, int salt)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    const EVP_MD *md = scheme == ETLS_SIG_ED25519 ? NULL : EVP_sha256();
    int ok = m && (sign ? EVP_DigestSignInit(m, &pc, md, NULL, k)
                        : EVP_DigestVerifyInit(m, &pc, md, NULL, k)) == 1;
    if (ok && scheme == ETLS_SIG_RSA_PSS_RSAE_SHA256)
        ok = EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) > 0 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, salt) > 0 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha256()) > 0;
    if (ok)
        ok = (sign ? EVP_DigestSign(m, sig, siglen, msg, len)
                   : EVP_DigestVerify(m, sig, *siglen, msg, len)) == 1;
    EVP_MD_CTX_free(m);
    return ok;
}

/* ECDSA signatures must be a DER ECDSA-Sig-Value with nothing after it. */
static int is_der_ecdsa(const uint8_t *sig, size_t len)
{
    const unsigned char *p = sig;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)len);
    int ok = s && p == sig + len && sig[0] == 0x30 && len <= 72;
    ECDSA_SIG_free(s);
    return ok;
}

static void tamper_checks(const etls_pkey_t *k, uint16_t scheme, uint8_t *msg, size_t len,
                          uint8_t *sig, size_t siglen)
{
    size_t bit = etls_test_rng_next(&rng) % (siglen * 8);
    sig[bit / 8] ^= (uint8_t)(1 << (bit % 8));
    CHECK(etls_pkey_verify(k, scheme, msg, len, sig, siglen) == ETLS_ERR_AUTH);
    sig[bit / 8] ^= (uint8_t)(1 << (bit % 8));
    if (len) {
        bit = etls_test_rng_next(&rng) % (len * 8);
        msg[bit / 8] ^= (uint8_t)(1 << (bit % 8));
        CHECK(etls_pkey_verify(k, scheme, msg, len, sig, siglen) == ETLS_ERR_AUTH);
        msg[bit / 8] ^= (uint8_t)(1 << (bit % 8));
    }
    CHECK(etls_pkey_verify(k, scheme, msg, len, sig, siglen - 1) == ETLS_ERR_AUTH);
    CHECK(etls_pkey_verify(k, scheme, msg, len, sig, 0) == ETLS_ERR_AUTH);
    uint16_t other =
        scheme == ETLS_SIG_ED25519 ? ETLS_SIG_ECDSA_SECP256R1_SHA256 : ETLS_SIG_ED25519;
    CHECK(etls_pkey_verify(k, other, msg, len, sig, siglen) == ETLS_ERR_INVALID);
    CHECK(etls_pkey_verify(k, scheme, msg, len, sig, siglen) == 0); /* restored */
}

/* One round: our signature verified by us and by OpenSSL, OpenSSL's verified by us. */
static void round_trip(const etls_pkey_t *k, EVP_PKEY *ref, uint16_t scheme)
{
    uint8_t msg[300], sig[ETLS_SIG_MAX_LEN], osig[ETLS_SIG_MAX_LEN];
    size_t len = etls_test_rng_next(&rng) % sizeof msg, siglen = sizeof sig, olen = sizeof osig;
    etls_test_rng_bytes(&rng, msg, len);
    CHECK(etls_pkey_sign(k, scheme, msg, len, sig, &siglen) == 0);
    CHECK(etls_pkey_verify(k, scheme, msg, len, sig, siglen) == 0);
    CHECK(ossl_sig(ref, scheme, 0, msg, len, sig, &siglen, 32));
    if (scheme == ETLS_SIG_ECDSA_SECP256R1_SHA256)
        CHECK(is_der_ecdsa(sig, siglen));
    else
        CHECK(siglen == (size_t)EVP_PKEY_get_size(ref));
    CHECK(ossl_sig(ref, scheme, 1, msg, len, osig, &olen, 32));
    CHECK(etls_pkey_verify(k, scheme, msg, len, osig, olen) == 0);
    tamper_checks(k, scheme, msg, len, sig, siglen);
}

/* TLS 1.3 fixes the PSS salt at the hash length: other salt lengths must not verify. */
static void pss_salt_checks(const etls_pkey_t *k, EVP_PKEY *ref)
{
    static const uint8_t msg[] = "salt";
    int salts[] = {0, 20, 31, 33, RSA_PSS_SALTLEN_MAX};
    for (size_t i = 0; i < sizeof salts / sizeof salts[0]; i++) {
        uint8_t sig[ETLS_SIG_MAX_LEN];
        size_t siglen = sizeof sig;
        CHECK(ossl_sig(ref, ETLS_SIG_RSA_PSS_RSAE_SHA256, 1, msg, sizeof msg, sig, &siglen,
                       salts[i]));
        CHECK_MSG(etls_pkey_verify(k, ETLS_SIG_RSA_PSS_RSAE_SHA256, msg, sizeof msg, sig,
                                   siglen) == ETLS_ERR_AUTH, "salt %d accepted", salts[i]);
    }
}

/* API misuse: short buffer, wrong scheme, NULL message with length, verify-only keys. */
static void misuse_checks(const etls_pkey_t *k, EVP_PKEY *ref, uint16_t scheme)
{
    uint8_t sig[ETLS_SIG_MAX_LEN];
    size_t siglen = (size_t)EVP_PKEY_get_size(ref) - 1;
    CHECK(etls_pkey_sign(k, scheme, (const uint8_t *)"m", 1, sig, &siglen) == ETLS_ERR_INVALID);
    siglen = sizeof sig;
    uint16_t other = scheme == ETLS_SIG_RSA_PSS_RSAE_SHA256 ? ETLS_SIG_ED25519 : 0x0804;
    CHECK(etls_pkey_sign(k, other, (const uint8_t *)"m", 1, sig, &siglen) == ETLS_ERR_INVALID);
    CHECK(etls_pkey_sign(k, scheme, NULL, 5, sig, &siglen) == ETLS_ERR_INVALID);
    CHECK(etls_pkey_sign(k, scheme, NULL, 0, sig, &siglen) == 0); /* empty message is fine */
    CHECK(etls_pkey_verify(k, scheme, NULL, 0, sig, siglen) == 0);

    /* The same public key from a certificate and from SPKI: verifies, cannot sign. */
    X509 *x = pkt_cert(ref, NULL, NULL, "pub.test", NULL);
    size_t dlen = 0;
    unsigned char *der = x ? pkt_cert_der(x, &dlen) : NULL;
    unsigned char *spki = NULL;
    int slen = i2d_PUBKEY(ref, &spki);
    etls_pkey_t *pc = NULL, *ps = NULL;
    CHECK(der && etls_pkey_from_cert_der(&pc, der, dlen) == 0 && etls_pkey_scheme(pc) == scheme);
    CHECK(slen > 0 && etls_pkey_from_spki_der(&ps, spki, (size_t)slen) == 0);
    CHECK(etls_pkey_verify(pc, scheme, NULL, 0, sig, siglen) == 0);
    CHECK(etls_pkey_verify(ps, scheme, NULL, 0, sig, siglen) == 0);
    size_t l2 = sizeof sig;
    CHECK(etls_pkey_sign(pc, scheme, (const uint8_t *)"m", 1, sig, &l2) == ETLS_ERR_INVALID);
    etls_pkey_free(ps);
    etls_pkey_free(pc);
    CHECK(der && etls_pkey_from_cert_der(&pc, der, dlen - 1) == ETLS_ERR_INVALID && !pc);
    CHECK(slen > 0 && etls_pkey_from_spki_der(&ps, spki, (size_t)slen - 1) == ETLS_ERR_INVALID);
    CHECK(!ps);
    free(der);
    OPENSSL_free(spki);
    X509_free(x);
}

static void run_scheme(const char *kind, int form, uint16_t scheme)
{
    char path[512], name[64], err[256] = "";
    EVP_PKEY *ref = pkt_keygen(kind);
    snprintf(name, sizeof name, "%s-%d.pem", kind, form);
    CHECK(ref && pkt_write_key(pkt_path(path, sizeof path, dir, name), ref, form) == 0);
    etls_pkey_t *k = NULL;
    int rc = etls_pkey_load_file(&k, path, err, sizeof err);
    CHECK_MSG(rc == 0 && k, "%s form %d: %d %s", kind, form, rc, err);
    if (!k) {
        EVP_PKEY_free(ref);
        return;
    }
    CHECK(etls_pkey_scheme(k) == scheme);
    for (int i = 0; i < ROUNDS; i++)
        round_trip(k, ref, scheme);
    if (scheme == ETLS_SIG_RSA_PSS_RSAE_SHA256)
        pss_salt_checks(k, ref);
    misuse_checks(k, ref, scheme);
    etls_pkey_free(k);
    EVP_PKEY_free(ref);
}

/* Workers sign concurrently with one loaded key; every signature must verify. */
typedef struct {
    const etls_pkey_t *k;
    uint16_t scheme;
    int bad;
} worker_t;

static void *worker(void *arg)
{
    worker_t *w = arg;
    for (int i = 0; i < ROUNDS; i++) {
        uint8_t msg[64], sig[ETLS_SIG_MAX_LEN];
        size_t siglen = sizeof sig;
        memset(msg, i, sizeof msg);
        if (etls_pkey_sign(w->k, w->scheme, msg, sizeof msg, sig, &siglen) != 0 ||
            etls_pkey_verify(w->k, w->scheme, msg, sizeof msg, sig, siglen) != 0)
            w->bad++;
    }
    return NULL;
}

static void run_threads(const char *kind, uint16_t scheme)
{
    char path[512], err[256];
    EVP_PKEY *ref = pkt_keygen(kind);
    pkt_path(path, sizeof path, dir, "shared.pem");
    CHECK(ref && pkt_write_key(path, ref, PKT_PKCS8) == 0);
    etls_pkey_t *k = NULL;
    CHECK(etls_pkey_load_file(&k, path, err, sizeof err) == 0);
    pthread_t t[4];
    worker_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker_t){.k = k, .scheme = scheme};
        CHECK(pthread_create(&t[i], NULL, worker, &w[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK_MSG(w[i].bad == 0, "%s thread %d: %d failures", kind, i, w[i].bad);
    }
    etls_pkey_free(k);
    EVP_PKEY_free(ref);
}

int main(void)
{
    etls_test_rng_seed(&rng, etls_test_seed("test_pk_sign"));
    if (pkt_tmpdir(dir, sizeof dir) != 0) {
        perror("mkdtemp");
        return 1;
    }
    run_scheme("ec", PKT_PKCS8, ETLS_SIG_ECDSA_SECP256R1_SHA256);
    run_scheme("ec", PKT_TRAD, ETLS_SIG_ECDSA_SECP256R1_SHA256); /* SEC1 */
    run_scheme("rsa2048", PKT_PKCS8, ETLS_SIG_RSA_PSS_RSAE_SHA256);
    run_scheme("rsa2048", PKT_TRAD, ETLS_SIG_RSA_PSS_RSAE_SHA256); /* PKCS#1 */
    run_scheme("ed25519", PKT_PKCS8, ETLS_SIG_ED25519);
    run_threads("ec", ETLS_SIG_ECDSA_SECP256R1_SHA256);
    run_threads("ed25519", ETLS_SIG_ED25519);
    run_threads("rsa2048", ETLS_SIG_RSA_PSS_RSAE_SHA256);
    pkt_rmdir(dir);
    return etls_test_summary("test_pk_sign");
}
