/* X25519 cases: key generation and shared secrets, batched the way a worker runs them
 * (DESIGN.md, step 4), against OpenSSL's EVP_PKEY one operation at a time. */
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "crypto/x25519.h"
#include "crypto_cases.h"

const int etls_bench_x25519_keygen = 1, etls_bench_x25519_shared = 2,
          etls_bench_x25519_portable = 3;

typedef struct x_state {
    unsigned batch;
    const etls_x25519_impl_t *impl;
    uint8_t sk[ETLS_BENCH_BATCH_MAX][32], peer[ETLS_BENCH_BATCH_MAX][32];
    uint8_t out[ETLS_BENCH_BATCH_MAX][32];
    etls_x25519_op_t ops[ETLS_BENCH_BATCH_MAX];
    EVP_PKEY_CTX *kg;    /* X25519 keygen context, initialised once */
    EVP_PKEY *own, *peer_pk;
    EVP_PKEY_CTX *dctx;  /* derive context on `own`, re-initialised per operation */
    uint8_t ossl_out[32];
} x_state_t;

static void x_free(void *p)
{
    x_state_t *st = p;
    EVP_PKEY_CTX_free(st->kg);
    EVP_PKEY_CTX_free(st->dctx);
    EVP_PKEY_free(st->own);
    EVP_PKEY_free(st->peer_pk);
    OPENSSL_cleanse(st, sizeof *st);
    free(st);
}

static int ours_keygen(void *p, uint64_t calls)
{
    x_state_t *st = p;
    for (uint64_t c = 0; c < calls; c++) {
        for (unsigned i = 0; i < st->batch; i++)
            st->sk[i][0]++; /* a fresh scalar each time, as each handshake has */
        etls_x25519_batch(st->impl, st->ops, st->batch);
        for (unsigned i = 0; i < st->batch; i++)
            ETLS_ENSURE(st->ops[i].status == 0, ETLS_ERR_CRYPTO);
    }
    return 0;
}

static int ours_shared(void *p, uint64_t calls)
{
    x_state_t *st = p;
    for (uint64_t c = 0; c < calls; c++) {
        etls_x25519_batch(st->impl, st->ops, st->batch);
        for (unsigned i = 0; i < st->batch; i++)
            ETLS_ENSURE(st->ops[i].status == 0, ETLS_ERR_CRYPTO);
    }
    return 0;
}

static int ours_portable(void *p, uint64_t calls)
{
    x_state_t *st = p;
    for (uint64_t c = 0; c < calls; c++)
        ETLS_GUARD(etls_x25519_shared(st->out[0], st->sk[0], st->peer[0]));
    return 0;
}

/* Key generation including getting the public key bytes out, as a server must send them. */
static int ossl_keygen(void *p, uint64_t calls)
{
    x_state_t *st = p;
    for (uint64_t c = 0; c < calls; c++) {
        EVP_PKEY *k = NULL;
        size_t len = 32;
        ETLS_ENSURE(EVP_PKEY_keygen(st->kg, &k) == 1, ETLS_ERR_CRYPTO);
        int ok = EVP_PKEY_get_raw_public_key(k, st->ossl_out, &len) == 1 && len == 32;
        EVP_PKEY_free(k);
        ETLS_ENSURE(ok, ETLS_ERR_CRYPTO);
    }
    return 0;
}

/* Derive init + set peer + derive per operation: what a server does per handshake. */
static int ossl_shared(void *p, uint64_t calls)
{
    x_state_t *st = p;
    for (uint64_t c = 0; c < calls; c++) {
        size_t len = 32;
        ETLS_ENSURE(EVP_PKEY_derive_init(st->dctx) == 1, ETLS_ERR_CRYPTO);
        ETLS_ENSURE(EVP_PKEY_derive_set_peer(st->dctx, st->peer_pk) == 1, ETLS_ERR_CRYPTO);
        ETLS_ENSURE(EVP_PKEY_derive(st->dctx, st->ossl_out, &len) == 1 && len == 32,
                    ETLS_ERR_CRYPTO);
    }
    return 0;
}

static int x_ossl_init(x_state_t *st)
{
    st->kg = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);
    if (!st->kg || EVP_PKEY_keygen_init(st->kg) != 1)
        return ETLS_ERR_CRYPTO;
    st->own = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, st->sk[0], 32);
    st->peer_pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, st->peer[0], 32);
    if (!st->own || !st->peer_pk)
        return ETLS_ERR_CRYPTO;
    st->dctx = EVP_PKEY_CTX_new_from_pkey(NULL, st->own, NULL);
    return st->dctx ? 0 : ETLS_ERR_CRYPTO;
}

/* Random scalars, and peer public keys made by OpenSSL (so ours is not checked by ours). */
static int x_inputs(x_state_t *st)
{
    if (RAND_bytes(&st->sk[0][0], (int)sizeof st->sk) != 1)
        return ETLS_ERR_CRYPTO;
    for (unsigned i = 0; i < st->batch; i++) {
        uint8_t psk[32];
        size_t len = 32;
        if (RAND_bytes(psk, sizeof psk) != 1)
            return ETLS_ERR_CRYPTO;
        EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, psk, 32);
        int ok = k && EVP_PKEY_get_raw_public_key(k, st->peer[i], &len) == 1;
        EVP_PKEY_free(k);
        if (!ok)
            return ETLS_ERR_CRYPTO;
    }
    return 0;
}

/* Both sides must agree: public key of sk[0], and the shared secret of (sk[0], peer[0]). */
static int x_verify(x_state_t *st, int kind)
{
    uint8_t want[32];
    size_t len = 32;
    ETLS_ENSURE(EVP_PKEY_get_raw_public_key(st->own, want, &len) == 1, ETLS_ERR_CRYPTO);
    if (kind == etls_bench_x25519_keygen) {
        etls_x25519_batch(st->impl, st->ops, st->batch);
        ETLS_ENSURE(memcmp(st->out[0], want, 32) == 0, ETLS_ERR_CRYPTO);
        return 0;
    }
    ETLS_GUARD(ossl_shared(st, 1));
    if (kind == etls_bench_x25519_portable)
        ETLS_GUARD(ours_portable(st, 1));
    else
        ETLS_GUARD(ours_shared(st, 1));
    ETLS_ENSURE(memcmp(st->out[0], st->ossl_out, 32) == 0, ETLS_ERR_CRYPTO);
    return 0;
}

static void x_describe(const x_state_t *st, int kind, etls_bench_pair_t *p)
{
    if (kind == etls_bench_x25519_keygen)
        snprintf(p->impl, sizeof p->impl, "fixed-base table%s, batch %u",
                 etls_x25519_ifma_get() ? " ifma 8-lane" : "", st->batch);
    else if (kind == etls_bench_x25519_portable)
        snprintf(p->impl, sizeof p->impl, "portable, single");
    else
        snprintf(p->impl, sizeof p->impl, "%s %u-lane, batch %u", st->impl->name, st->impl->lanes,
                 st->batch);
}

int etls_bench_x25519_setup(const etls_bench_env_t *env, const void *arg, etls_bench_pair_t *p)
{
    int kind = *(const int *)arg;
    x_state_t *st = calloc(1, sizeof *st);
    if (!st)
        return etls_bench_fail("x25519", "out of memory");
    p->st = st;
    p->free_st = x_free;
    st->batch = env->batch;
    st->impl = etls_x25519_best();
    if (x_inputs(st) < 0 || x_ossl_init(st) < 0)
        return etls_bench_fail("x25519", "OpenSSL X25519 setup failed");
    for (unsigned i = 0; i < st->batch; i++)
        st->ops[i] = (etls_x25519_op_t){.sk = st->sk[i],
                                        .peer = kind == etls_bench_x25519_keygen ? NULL : st->peer[i],
                                        .out = st->out[i]};
    if (x_verify(st, kind) < 0)
        return etls_bench_fail("x25519", "our result differs from OpenSSL's");
    x_describe(st, kind, p);
    p->ours = (etls_bench_side_t){
        .run = kind == etls_bench_x25519_keygen    ? ours_keygen
               : kind == etls_bench_x25519_portable ? ours_portable
                                                    : ours_shared,
        .st = st,
        .ops_per_call = kind == etls_bench_x25519_portable ? 1 : st->batch};
    p->ossl = (etls_bench_side_t){
        .run = kind == etls_bench_x25519_keygen ? ossl_keygen : ossl_shared, .st = st, .ops_per_call = 1};
    return 0;
}
