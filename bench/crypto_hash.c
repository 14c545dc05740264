/* SHA-256 and HMAC-SHA256 cases, against OpenSSL with pre-fetched algorithms and reused
 * contexts (OpenSSL's best case through EVP). */
#include <openssl/core_names.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "crypto/hash.h"
#include "crypto_cases.h"

typedef struct hash_state {
    size_t len;
    uint8_t *msg;
    uint8_t key[32];
    uint8_t out_ours[32], out_ossl[32];
    EVP_MD *md;
    EVP_MD_CTX *mdctx;
    EVP_MAC *mac;
    EVP_MAC_CTX *macctx; /* digest set once; re-keyed per operation */
} hash_state_t;

static void hash_free(void *p)
{
    hash_state_t *st = p;
    EVP_MD_CTX_free(st->mdctx);
    EVP_MD_free(st->md);
    EVP_MAC_CTX_free(st->macctx);
    EVP_MAC_free(st->mac);
    free(st->msg);
    OPENSSL_cleanse(st, sizeof *st);
    free(st);
}

static int ours_sha(void *p, uint64_t calls)
{
    hash_state_t *st = p;
    for (uint64_t c = 0; c < calls; c++)
        etls_hash(ETLS_HASH_SHA256, st->msg, st->len, st->out_ours);
    return 0;
}

static int ossl_sha(void *p, uint64_t calls)
{
    hash_state_t *st = p;
    for (uint64_t c = 0; c < calls; c++) {
        ETLS_ENSURE(EVP_DigestInit_ex(st->mdctx, st->md, NULL) == 1, ETLS_ERR_CRYPTO);
        ETLS_ENSURE(EVP_DigestUpdate(st->mdctx, st->msg, st->len) == 1, ETLS_ERR_CRYPTO);
        ETLS_ENSURE(EVP_DigestFinal_ex(st->mdctx, st->out_ossl, NULL) == 1, ETLS_ERR_CRYPTO);
    }
    return 0;
}

static int ours_hmac(void *p, uint64_t calls)
{
    hash_state_t *st = p;
    for (uint64_t c = 0; c < calls; c++)
        etls_hmac(ETLS_HASH_SHA256, st->key, sizeof st->key, st->msg, st->len, st->out_ours);
    return 0;
}

static int ossl_hmac(void *p, uint64_t calls)
{
    hash_state_t *st = p;
    for (uint64_t c = 0; c < calls; c++) {
        size_t n = 0;
        ETLS_ENSURE(EVP_MAC_init(st->macctx, st->key, sizeof st->key, NULL) == 1, ETLS_ERR_CRYPTO);
        ETLS_ENSURE(EVP_MAC_update(st->macctx, st->msg, st->len) == 1, ETLS_ERR_CRYPTO);
        ETLS_ENSURE(EVP_MAC_final(st->macctx, st->out_ossl, &n, sizeof st->out_ossl) == 1 && n == 32,
                    ETLS_ERR_CRYPTO);
    }
    return 0;
}

static hash_state_t *hash_state_new(size_t len, etls_bench_pair_t *p)
{
    hash_state_t *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    p->st = st;
    p->free_st = hash_free;
    st->len = len;
    st->msg = malloc(len);
    if (!st->msg || RAND_bytes(st->msg, (int)len) != 1 || RAND_bytes(st->key, sizeof st->key) != 1)
        return NULL;
    return st;
}

static int pair_verify(hash_state_t *st, etls_bench_run_fn ours, etls_bench_run_fn ossl)
{
    ETLS_GUARD(ours(st, 1));
    ETLS_GUARD(ossl(st, 1));
    ETLS_ENSURE(memcmp(st->out_ours, st->out_ossl, 32) == 0, ETLS_ERR_CRYPTO);
    return 0;
}

int etls_bench_sha256_setup(const etls_bench_env_t *env, const void *arg, etls_bench_pair_t *p)
{
    (void)env;
    size_t len = *(const size_t *)arg;
    hash_state_t *st = hash_state_new(len, p);
    if (!st)
        return etls_bench_fail("sha256", "out of memory");
    st->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    st->mdctx = EVP_MD_CTX_new();
    if (!st->md || !st->mdctx)
        return etls_bench_fail("sha256", "OpenSSL SHA256 unavailable");
    if (pair_verify(st, ours_sha, ossl_sha) < 0)
        return etls_bench_fail("sha256", "our digest differs from OpenSSL's");
    snprintf(p->impl, sizeof p->impl, "%s", etls_hash_impl_name(ETLS_HASH_SHA256));
    p->bytes_per_op = len;
    p->ours = (etls_bench_side_t){.run = ours_sha, .st = st, .ops_per_call = 1};
    p->ossl = (etls_bench_side_t){.run = ossl_sha, .st = st, .ops_per_call = 1};
    return 0;
}

int etls_bench_hmac_setup(const etls_bench_env_t *env, const void *arg, etls_bench_pair_t *p)
{
    (void)env;
    size_t len = *(const size_t *)arg;
    hash_state_t *st = hash_state_new(len, p);
    if (!st)
        return etls_bench_fail("hmac", "out of memory");
    st->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    st->macctx = st->mac ? EVP_MAC_CTX_new(st->mac) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                           OSSL_PARAM_construct_end()};
    if (!st->macctx || EVP_MAC_CTX_set_params(st->macctx, params) != 1)
        return etls_bench_fail("hmac", "OpenSSL HMAC unavailable");
    if (pair_verify(st, ours_hmac, ossl_hmac) < 0)
        return etls_bench_fail("hmac", "our MAC differs from OpenSSL's");
    snprintf(p->impl, sizeof p->impl, "%s", etls_hash_impl_name(ETLS_HASH_SHA256));
    p->ours = (etls_bench_side_t){.run = ours_hmac, .st = st, .ops_per_call = 1};
    p->ossl = (etls_bench_side_t){.run = ossl_hmac, .st = st, .ops_per_call = 1};
    return 0;
}
