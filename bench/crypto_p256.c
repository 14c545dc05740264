/* Native P-256 cases (crypto/p256.h) against OpenSSL's EVP: ECDSA signing of the TLS 1.3
 * CertificateVerify message (ours: SHA-256 + etls_p256_sign, hedged nonce from our RNG;
 * OpenSSL: EVP_DigestSignInit + EVP_DigestSign, as crypto_pk.c's ecdsa case) with the same key,
 * and P-256 ECDH with a peer point that each side validates (ours: etls_p256_ecdh; OpenSSL:
 * derive init + set peer + derive). */
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "crypto/hash.h"
#include "crypto/p256.h"
#include "crypto_cases.h"

typedef struct p256n_state {
    etls_p256_sk_t sk;
    etls_rand_t rng;
    EVP_PKEY *ossl_key; /* env's ECDSA key (not owned) */
    EVP_MD *md;
    EVP_MD_CTX *mdctx;
    uint8_t msg[ETLS_BENCH_CV_LEN];
    uint8_t pub[ETLS_P256_PUB_LEN], sig[ETLS_P256_SIG_LEN];
    uint8_t ossl_sig[ETLS_SIG_MAX_LEN];
    size_t ossl_siglen;
    /* ECDH: our scalar with the peer's point; the peer (OpenSSL) with ours */
    EVP_PKEY *peer;
    EVP_PKEY *ours_pub_pk;
    EVP_PKEY_CTX *dctx;
    uint8_t peer_pub[ETLS_P256_PUB_LEN], out_ours[32], out_ossl[32];
} p256n_state_t;

static void p256n_free(void *p)
{
    p256n_state_t *st = p;
    EVP_MD_CTX_free(st->mdctx);
    EVP_MD_free(st->md);
    EVP_PKEY_CTX_free(st->dctx);
    EVP_PKEY_free(st->peer);
    EVP_PKEY_free(st->ours_pub_pk);
    etls_p256_sk_wipe(&st->sk);
    etls_rand_wipe(&st->rng);
    OPENSSL_cleanse(st, sizeof *st);
    free(st);
}

/* Private scalar and encoded public point of an OpenSSL EC key. */
static int key_export(EVP_PKEY *k, uint8_t d[32], uint8_t pub[ETLS_P256_PUB_LEN])
{
    BIGNUM *bn = NULL;
    size_t len = 0;
    int ok = EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &bn) == 1 &&
             BN_bn2binpad(bn, d, 32) == 32 &&
             EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub,
                                             ETLS_P256_PUB_LEN, &len) == 1 &&
             len == ETLS_P256_PUB_LEN;
    BN_clear_free(bn);
    return ok ? 0 : ETLS_ERR_CRYPTO;
}

static p256n_state_t *p256n_new(etls_bench_pair_t *p, EVP_PKEY *k)
{
    p256n_state_t *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    p->st = st;
    p->free_st = p256n_free;
    uint8_t d[32], pub[ETLS_P256_PUB_LEN];
    int ok = key_export(k, d, pub) == 0 && etls_p256_sk_load(&st->sk, d) == 0;
    OPENSSL_cleanse(d, sizeof d);
    etls_rand_init(&st->rng);
    if (!ok)
        return NULL;
    etls_p256_public(st->pub, &st->sk);
    return memcmp(pub, st->pub, sizeof pub) == 0 ? st : NULL; /* same scalar, same point */
}

static int ours_sign(void *p, uint64_t calls)
{
    p256n_state_t *st = p;
    for (uint64_t c = 0; c < calls; c++) {
        uint8_t digest[32];
        etls_hash(ETLS_HASH_SHA256, st->msg, sizeof st->msg, digest);
        ETLS_GUARD(etls_p256_sign(st->sig, &st->sk, digest, &st->rng));
    }
    return 0;
}

static int ossl_sign(void *p, uint64_t calls)
{
    p256n_state_t *st = p;
    for (uint64_t c = 0; c < calls; c++) {
        st->ossl_siglen = sizeof st->ossl_sig;
        ETLS_ENSURE(EVP_DigestSignInit(st->mdctx, NULL, st->md, NULL, st->ossl_key) == 1,
                    ETLS_ERR_CRYPTO);
        ETLS_ENSURE(EVP_DigestSign(st->mdctx, st->ossl_sig, &st->ossl_siglen, st->msg,
                                   sizeof st->msg) == 1,
                    ETLS_ERR_CRYPTO);
    }
    return 0;
}

/* Each side's signature must verify with the other side's verifier. */
static int cross_verify(p256n_state_t *st)
{
    uint8_t digest[32], der[ETLS_P256_DER_MAX];
    size_t len;
    etls_hash(ETLS_HASH_SHA256, st->msg, sizeof st->msg, digest);
    etls_p256_sig_to_der(der, &len, st->sig);
    EVP_MD_CTX *v = EVP_MD_CTX_new();
    int ok = v && EVP_DigestVerifyInit(v, NULL, st->md, NULL, st->ossl_key) == 1 &&
             EVP_DigestVerify(v, der, len, st->msg, sizeof st->msg) == 1;
    EVP_MD_CTX_free(v);
    ok = ok && etls_p256_verify_der(st->pub, sizeof st->pub, digest, st->ossl_sig,
                                    st->ossl_siglen) == 0;
    return ok ? 0 : ETLS_ERR_AUTH;
}

int etls_bench_p256n_sign_setup(const etls_bench_env_t *env, const void *arg, etls_bench_pair_t *p)
{
    (void)arg;
    p256n_state_t *st = p256n_new(p, env->ec_ossl);
    if (!st)
        return etls_bench_fail("ecdsa_p256_sign_native", "key setup failed");
    st->ossl_key = env->ec_ossl;
    st->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    st->mdctx = EVP_MD_CTX_new();
    if (!st->md || !st->mdctx)
        return etls_bench_fail("ecdsa_p256_sign_native", "OpenSSL setup failed");
    etls_bench_cert_verify_msg(st->msg, etls_bench_th_ch_cv);
    if (ours_sign(st, 1) < 0 || ossl_sign(st, 1) < 0 || cross_verify(st) < 0)
        return etls_bench_fail("ecdsa_p256_sign_native", "a signature does not verify");
    snprintf(p->impl, sizeof p->impl, "p256.h %s", etls_p256_best()->name);
    p->ours = (etls_bench_side_t){.run = ours_sign, .st = st, .ops_per_call = 1};
    p->ossl = (etls_bench_side_t){.run = ossl_sign, .st = st, .ops_per_call = 1};
    return 0;
}

/* The batch (what the worker's signature queue runs): 16 signatures of 16 digests per call,
 * one mod-p and one mod-n inversion for all of them; reported per signature. */
#define SIGN_BATCH 16

static int ours_sign_batch(void *p, uint64_t calls)
{
    p256n_state_t *st = p;
    uint8_t digest[SIGN_BATCH][32], sig[SIGN_BATCH][ETLS_P256_SIG_LEN];
    etls_p256_sign_op_t ops[SIGN_BATCH];
    for (uint64_t c = 0; c < calls; c++) {
        for (int i = 0; i < SIGN_BATCH; i++) {
            st->msg[0] = (uint8_t)i;
            etls_hash(ETLS_HASH_SHA256, st->msg, sizeof st->msg, digest[i]);
            ops[i] = (etls_p256_sign_op_t){.sk = &st->sk, .digest = digest[i], .rng = &st->rng,
                                           .sig = sig[i]};
        }
        etls_p256_sign_batch(NULL, ops, SIGN_BATCH);
        for (int i = 0; i < SIGN_BATCH; i++)
            ETLS_GUARD(ops[i].status);
    }
    st->msg[0] = 0x20;
    memcpy(st->sig, sig[0], sizeof st->sig);
    return 0;
}

int etls_bench_p256n_sign_batch_setup(const etls_bench_env_t *env, const void *arg,
                                      etls_bench_pair_t *p)
{
    ETLS_GUARD(etls_bench_p256n_sign_setup(env, arg, p));
    p256n_state_t *st = p->st;
    uint8_t digest[32];
    if (ours_sign_batch(st, 1) < 0)
        return etls_bench_fail("ecdsa_p256_sign_batch", "batch failed");
    st->msg[0] = 0; /* the first op signed this message */
    etls_hash(ETLS_HASH_SHA256, st->msg, sizeof st->msg, digest);
    st->msg[0] = 0x20;
    if (etls_p256_verify(st->pub, sizeof st->pub, digest, st->sig) != 0)
        return etls_bench_fail("ecdsa_p256_sign_batch", "a batched signature does not verify");
    snprintf(p->impl, sizeof p->impl, "p256.h %s, batch %d", etls_p256_best()->name, SIGN_BATCH);
    p->ours = (etls_bench_side_t){.run = ours_sign_batch, .st = st, .ops_per_call = SIGN_BATCH};
    return 0;
}

static int ours_ecdh(void *p, uint64_t calls)
{
    p256n_state_t *st = p;
    for (uint64_t c = 0; c < calls; c++)
        ETLS_GUARD(etls_p256_ecdh(st->out_ours, &st->sk, st->peer_pub, sizeof st->peer_pub));
    return 0;
}

static int ossl_ecdh(void *p, uint64_t calls)
{
    p256n_state_t *st = p;
    for (uint64_t c = 0; c < calls; c++) {
        size_t len = sizeof st->out_ossl;
        ETLS_ENSURE(EVP_PKEY_derive_init(st->dctx) == 1, ETLS_ERR_CRYPTO);
        ETLS_ENSURE(EVP_PKEY_derive_set_peer(st->dctx, st->ours_pub_pk) == 1, ETLS_ERR_CRYPTO);
        ETLS_ENSURE(EVP_PKEY_derive(st->dctx, st->out_ossl, &len) == 1 && len == 32,
                    ETLS_ERR_CRYPTO);
    }
    return 0;
}

/* Our key is env's ECDSA key; the peer a fresh OpenSSL key. Each multiplies its scalar by the
 * other's point. */
static int ecdh_keys(p256n_state_t *st, EVP_PKEY *own)
{
    uint8_t d[32];
    st->peer = EVP_EC_gen("P-256");
    ETLS_ENSURE(st->peer, ETLS_ERR_CRYPTO);
    int rc = key_export(st->peer, d, st->peer_pub);
    OPENSSL_cleanse(d, sizeof d);
    ETLS_GUARD(rc);
    st->ours_pub_pk = EVP_PKEY_new();
    ETLS_ENSURE(st->ours_pub_pk && EVP_PKEY_copy_parameters(st->ours_pub_pk, own) == 1 &&
                    EVP_PKEY_set1_encoded_public_key(st->ours_pub_pk, st->pub, sizeof st->pub) == 1,
                ETLS_ERR_CRYPTO);
    st->dctx = EVP_PKEY_CTX_new_from_pkey(NULL, st->peer, NULL);
    return st->dctx ? 0 : ETLS_ERR_CRYPTO;
}

int etls_bench_p256n_ecdh_setup(const etls_bench_env_t *env, const void *arg, etls_bench_pair_t *p)
{
    (void)arg;
    p256n_state_t *st = p256n_new(p, env->ec_ossl);
    if (!st || ecdh_keys(st, env->ec_ossl) < 0)
        return etls_bench_fail("p256_ecdh_native", "key setup failed");
    if (ours_ecdh(st, 1) < 0 || ossl_ecdh(st, 1) < 0 ||
        memcmp(st->out_ours, st->out_ossl, 32) != 0)
        return etls_bench_fail("p256_ecdh_native", "our shared secret differs from OpenSSL's");
    snprintf(p->impl, sizeof p->impl, "p256.h %s", etls_p256_best()->name);
    p->ours = (etls_bench_side_t){.run = ours_ecdh, .st = st, .ops_per_call = 1};
    p->ossl = (etls_bench_side_t){.run = ossl_ecdh, .st = st, .ops_per_call = 1};
    return 0;
}
