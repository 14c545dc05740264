/* Public-key cases: ECDSA P-256 signing of a TLS 1.3 CertificateVerify message and P-256
 * ECDH, through crypto/pk.h (what the TLS engine calls: native crypto/p256 underneath, with
 * pk.h's key handling and DER) and directly through OpenSSL EVP. */
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "crypto/p256.h"
#include "crypto_cases.h"

void etls_bench_cert_verify_msg(uint8_t msg[ETLS_BENCH_CV_LEN], const uint8_t th[32])
{
    static const char context[] = "TLS 1.3, server CertificateVerify"; /* RFC 8446 §4.4.3 */
    memset(msg, 0x20, 64);
    memcpy(msg + 64, context, sizeof context); /* includes the 0x00 separator */
    memcpy(msg + 64 + sizeof context, th, 32);
}

typedef struct pk_state {
    const etls_pkey_t *ours_key;
    EVP_PKEY *ossl_key;
    EVP_MD *md;
    EVP_MD_CTX *mdctx;
    uint8_t msg[ETLS_BENCH_CV_LEN];
    uint8_t sig[ETLS_SIG_MAX_LEN];
    size_t siglen;
    /* P-256 ECDH: ours (p256_key) with OpenSSL's public point, OpenSSL's key with ours. */
    etls_p256_key_t p256_key;
    uint8_t ours_pub[ETLS_P256_POINT_LEN], ossl_pub[ETLS_P256_POINT_LEN];
    EVP_PKEY *ecdh_own, *ecdh_peer;
    EVP_PKEY_CTX *dctx;
    uint8_t out_ours[32], out_ossl[32];
} pk_state_t;

static void pk_free(void *p)
{
    pk_state_t *st = p;
    EVP_MD_CTX_free(st->mdctx);
    EVP_MD_free(st->md);
    EVP_PKEY_CTX_free(st->dctx);
    EVP_PKEY_free(st->ecdh_own);
    EVP_PKEY_free(st->ecdh_peer);
    etls_p256_key_wipe(&st->p256_key);
    OPENSSL_cleanse(st, sizeof *st);
    free(st);
}

static int ours_sign(void *p, uint64_t calls)
{
    pk_state_t *st = p;
    for (uint64_t c = 0; c < calls; c++) {
        st->siglen = sizeof st->sig;
        ETLS_GUARD(etls_pkey_sign(st->ours_key, ETLS_SIG_ECDSA_SECP256R1_SHA256, st->msg,
                                  sizeof st->msg, st->sig, &st->siglen));
    }
    return 0;
}

static int ossl_sign(void *p, uint64_t calls)
{
    pk_state_t *st = p;
    for (uint64_t c = 0; c < calls; c++) {
        st->siglen = sizeof st->sig;
        ETLS_ENSURE(EVP_DigestSignInit(st->mdctx, NULL, st->md, NULL, st->ossl_key) == 1,
                    ETLS_ERR_CRYPTO);
        ETLS_ENSURE(EVP_DigestSign(st->mdctx, st->sig, &st->siglen, st->msg, sizeof st->msg) == 1,
                    ETLS_ERR_CRYPTO);
    }
    return 0;
}

/* ECDSA signatures are randomised: check each side's signature with OpenSSL's verifier. */
static int sig_ok(pk_state_t *st)
{
    EVP_MD_CTX *v = EVP_MD_CTX_new();
    int ok = v && EVP_DigestVerifyInit(v, NULL, st->md, NULL, st->ossl_key) == 1 &&
             EVP_DigestVerify(v, st->sig, st->siglen, st->msg, sizeof st->msg) == 1;
    EVP_MD_CTX_free(v);
    return ok ? 0 : ETLS_ERR_AUTH;
}

static pk_state_t *pk_state_new(etls_bench_pair_t *p)
{
    pk_state_t *st = calloc(1, sizeof *st);
    if (st) {
        p->st = st;
        p->free_st = pk_free;
    }
    return st;
}

int etls_bench_ecdsa_setup(const etls_bench_env_t *env, const void *arg, etls_bench_pair_t *p)
{
    (void)arg;
    pk_state_t *st = pk_state_new(p);
    if (!st)
        return etls_bench_fail("ecdsa_p256_sign", "out of memory");
    st->ours_key = env->ec_ours;
    st->ossl_key = env->ec_ossl;
    st->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    st->mdctx = EVP_MD_CTX_new();
    if (!st->md || !st->mdctx)
        return etls_bench_fail("ecdsa_p256_sign", "OpenSSL setup failed");
    etls_bench_cert_verify_msg(st->msg, etls_bench_th_ch_cv);
    if (ours_sign(st, 1) < 0 || sig_ok(st) < 0 || ossl_sign(st, 1) < 0 || sig_ok(st) < 0)
        return etls_bench_fail("ecdsa_p256_sign", "a signature does not verify");
    snprintf(p->impl, sizeof p->impl, "pk.h (p256 %s)", etls_p256_best()->name);
    p->ours = (etls_bench_side_t){.run = ours_sign, .st = st, .ops_per_call = 1};
    p->ossl = (etls_bench_side_t){.run = ossl_sign, .st = st, .ops_per_call = 1};
    return 0;
}

static int ours_ecdh(void *p, uint64_t calls)
{
    pk_state_t *st = p;
    for (uint64_t c = 0; c < calls; c++)
        ETLS_GUARD(etls_p256_shared(&st->p256_key, st->ossl_pub, st->out_ours));
    return 0;
}

/* Same shape as x25519_shared: derive init + set peer (which validates the point) + derive. */
static int ossl_ecdh(void *p, uint64_t calls)
{
    pk_state_t *st = p;
    for (uint64_t c = 0; c < calls; c++) {
        size_t len = sizeof st->out_ossl;
        ETLS_ENSURE(EVP_PKEY_derive_init(st->dctx) == 1, ETLS_ERR_CRYPTO);
        ETLS_ENSURE(EVP_PKEY_derive_set_peer(st->dctx, st->ecdh_peer) == 1, ETLS_ERR_CRYPTO);
        ETLS_ENSURE(EVP_PKEY_derive(st->dctx, st->out_ossl, &len) == 1 && len == 32, ETLS_ERR_CRYPTO);
    }
    return 0;
}

/* Our key pair and an OpenSSL key pair; each side multiplies its secret by the other's point,
 * so both must arrive at the same shared secret. */
static int ecdh_keys(pk_state_t *st)
{
    size_t len = 0;
    ETLS_GUARD(etls_p256_keygen(&st->p256_key, st->ours_pub));
    st->ecdh_own = EVP_EC_gen("P-256");
    ETLS_ENSURE(st->ecdh_own, ETLS_ERR_CRYPTO);
    ETLS_ENSURE(EVP_PKEY_get_octet_string_param(st->ecdh_own, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                                st->ossl_pub, sizeof st->ossl_pub, &len) == 1 &&
                    len == ETLS_P256_POINT_LEN,
                ETLS_ERR_CRYPTO);
    st->ecdh_peer = EVP_PKEY_new();
    ETLS_ENSURE(st->ecdh_peer && EVP_PKEY_copy_parameters(st->ecdh_peer, st->ecdh_own) == 1,
                ETLS_ERR_CRYPTO);
    ETLS_ENSURE(EVP_PKEY_set1_encoded_public_key(st->ecdh_peer, st->ours_pub, sizeof st->ours_pub) == 1,
                ETLS_ERR_CRYPTO);
    st->dctx = EVP_PKEY_CTX_new_from_pkey(NULL, st->ecdh_own, NULL);
    return st->dctx ? 0 : ETLS_ERR_CRYPTO;
}

int etls_bench_p256_setup(const etls_bench_env_t *env, const void *arg, etls_bench_pair_t *p)
{
    (void)env;
    (void)arg;
    pk_state_t *st = pk_state_new(p);
    if (!st)
        return etls_bench_fail("p256_ecdh", "out of memory");
    if (ecdh_keys(st) < 0)
        return etls_bench_fail("p256_ecdh", "key setup failed");
    if (ours_ecdh(st, 1) < 0 || ossl_ecdh(st, 1) < 0 ||
        memcmp(st->out_ours, st->out_ossl, 32) != 0)
        return etls_bench_fail("p256_ecdh", "our shared secret differs from OpenSSL's");
    snprintf(p->impl, sizeof p->impl, "pk.h (p256 %s)", etls_p256_best()->name);
    p->ours = (etls_bench_side_t){.run = ours_ecdh, .st = st, .ops_per_call = 1};
    p->ossl = (etls_bench_side_t){.run = ossl_ecdh, .st = st, .ops_per_call = 1};
    return 0;
}
