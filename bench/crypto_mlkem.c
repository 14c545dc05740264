/* ML-KEM-768 cases: key generation (client), encapsulation (server) and decapsulation (client),
 * and x25519mlkem768_server: the server side of one X25519MLKEM768 exchange (encapsulation,
 * X25519 key generation and shared secret, one at a time, unbatched).
 *
 * OpenSSL 3.0 has no ML-KEM, so the "openssl" column is X25519 through EVP doing the same role
 * in a TLS key exchange: keygen = X25519 key generation with the public key extracted;
 * encaps = what a server does for an X25519 share (ephemeral keygen + derive against the
 * client's key); decaps = the client's derive against the server's share. The ratio then reads
 * as "ML-KEM cost relative to the classical half of X25519MLKEM768", not as a comparison of two
 * ML-KEM implementations; the impl column says so. */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "crypto/mlkem.h"
#include "crypto/rand.h"
#include "crypto/x25519.h"
#include "crypto_cases.h"

const int etls_bench_mlkem_keygen = 1, etls_bench_mlkem_encaps = 2, etls_bench_mlkem_decaps = 3,
          etls_bench_mlkem_hybrid_server = 4;

typedef struct mk_state {
    etls_rand_t rng;
    uint8_t ek[ETLS_MLKEM768_EK_LEN], dk[ETLS_MLKEM768_DK_LEN], ct[ETLS_MLKEM768_CT_LEN];
    uint8_t ss[ETLS_MLKEM768_SS_LEN], ss2[ETLS_MLKEM768_SS_LEN];
    uint8_t out_ek[ETLS_MLKEM768_EK_LEN], out_dk[ETLS_MLKEM768_DK_LEN];
    EVP_PKEY_CTX *kg;   /* X25519 keygen context */
    EVP_PKEY *own, *peer;
    EVP_PKEY_CTX *dctx; /* derive context on `own` */
    uint8_t x_out[32];
    uint8_t x_sk[32], x_pub[32], x_peer[32], x_shared[32]; /* ours, hybrid server */
} mk_state_t;

static void mk_free(void *p)
{
    mk_state_t *st = p;
    EVP_PKEY_CTX_free(st->kg);
    EVP_PKEY_CTX_free(st->dctx);
    EVP_PKEY_free(st->own);
    EVP_PKEY_free(st->peer);
    etls_rand_wipe(&st->rng);
    OPENSSL_cleanse(st, sizeof *st);
    free(st);
}

static int ours_keygen(void *p, uint64_t calls)
{
    mk_state_t *st = p;
    for (uint64_t c = 0; c < calls; c++)
        ETLS_GUARD(etls_mlkem768_keygen(st->out_ek, st->out_dk, &st->rng));
    return 0;
}

static int ours_encaps(void *p, uint64_t calls)
{
    mk_state_t *st = p;
    for (uint64_t c = 0; c < calls; c++)
        ETLS_GUARD(etls_mlkem768_encaps(st->ct, st->ss, st->ek, sizeof st->ek, &st->rng));
    return 0;
}

static int ours_decaps(void *p, uint64_t calls)
{
    mk_state_t *st = p;
    for (uint64_t c = 0; c < calls; c++)
        ETLS_GUARD(etls_mlkem768_decaps(st->ss2, st->dk, sizeof st->dk, st->ct, sizeof st->ct));
    return 0;
}

/* draft-ietf-tls-ecdhe-mlkem server: ciphertext and ML-KEM secret, then X25519 share and secret */
static int ours_hybrid(void *p, uint64_t calls)
{
    mk_state_t *st = p;
    for (uint64_t c = 0; c < calls; c++) {
        ETLS_GUARD(etls_mlkem768_encaps(st->ct, st->ss, st->ek, sizeof st->ek, &st->rng));
        ETLS_GUARD(etls_rand_bytes(&st->rng, st->x_sk, 32));
        etls_x25519_public(st->x_pub, st->x_sk);
        ETLS_GUARD(etls_x25519_shared(st->x_shared, st->x_sk, st->x_peer));
    }
    return 0;
}

static int x_keygen_one(mk_state_t *st)
{
    EVP_PKEY *k = NULL;
    size_t len = 32;
    ETLS_ENSURE(EVP_PKEY_keygen(st->kg, &k) == 1, ETLS_ERR_CRYPTO);
    int ok = EVP_PKEY_get_raw_public_key(k, st->x_out, &len) == 1 && len == 32;
    EVP_PKEY_free(k);
    return ok ? 0 : ETLS_ERR_CRYPTO;
}

static int x_derive_one(mk_state_t *st)
{
    size_t len = 32;
    ETLS_ENSURE(EVP_PKEY_derive_init(st->dctx) == 1, ETLS_ERR_CRYPTO);
    ETLS_ENSURE(EVP_PKEY_derive_set_peer(st->dctx, st->peer) == 1, ETLS_ERR_CRYPTO);
    ETLS_ENSURE(EVP_PKEY_derive(st->dctx, st->x_out, &len) == 1 && len == 32, ETLS_ERR_CRYPTO);
    return 0;
}

static int ossl_keygen(void *p, uint64_t calls)
{
    for (uint64_t c = 0; c < calls; c++)
        ETLS_GUARD(x_keygen_one(p));
    return 0;
}

static int ossl_server(void *p, uint64_t calls)
{
    for (uint64_t c = 0; c < calls; c++) {
        ETLS_GUARD(x_keygen_one(p));
        ETLS_GUARD(x_derive_one(p));
    }
    return 0;
}

static int ossl_derive(void *p, uint64_t calls)
{
    for (uint64_t c = 0; c < calls; c++)
        ETLS_GUARD(x_derive_one(p));
    return 0;
}

static int x_init(mk_state_t *st)
{
    st->kg = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);
    if (!st->kg || EVP_PKEY_keygen_init(st->kg) != 1)
        return ETLS_ERR_CRYPTO;
    if (EVP_PKEY_keygen(st->kg, &st->own) != 1 || EVP_PKEY_keygen(st->kg, &st->peer) != 1)
        return ETLS_ERR_CRYPTO;
    st->dctx = EVP_PKEY_CTX_new_from_pkey(NULL, st->own, NULL);
    return st->dctx ? 0 : ETLS_ERR_CRYPTO;
}

/* Our side must be right before it is timed: a fresh key pair, encapsulation and
 * decapsulation agree, and a changed ciphertext does not give the same secret. */
static int mk_verify(mk_state_t *st)
{
    ETLS_GUARD(etls_mlkem768_keygen(st->ek, st->dk, &st->rng));
    ETLS_GUARD(ours_encaps(st, 1));
    ETLS_GUARD(ours_decaps(st, 1));
    ETLS_ENSURE(memcmp(st->ss, st->ss2, 32) == 0, ETLS_ERR_CRYPTO);
    st->ct[0] ^= 1;
    ETLS_GUARD(ours_decaps(st, 1));
    st->ct[0] ^= 1;
    ETLS_ENSURE(memcmp(st->ss, st->ss2, 32) != 0, ETLS_ERR_CRYPTO);
    ETLS_GUARD(etls_rand_bytes(&st->rng, st->x_sk, 32));
    etls_x25519_public(st->x_peer, st->x_sk);
    return x_derive_one(st);
}

int etls_bench_mlkem_setup(const etls_bench_env_t *env, const void *arg, etls_bench_pair_t *p)
{
    (void)env;
    int kind = *(const int *)arg;
    mk_state_t *st = calloc(1, sizeof *st);
    if (!st)
        return etls_bench_fail("mlkem", "out of memory");
    p->st = st;
    p->free_st = mk_free;
    etls_rand_init(&st->rng);
    if (x_init(st) < 0)
        return etls_bench_fail("mlkem", "OpenSSL X25519 setup failed");
    if (mk_verify(st) < 0)
        return etls_bench_fail("mlkem", "ML-KEM-768 round trip failed");
    static const char *const ossl_role[] = {"", "x25519 keygen", "x25519 keygen+derive",
                                            "x25519 derive", "x25519 keygen+derive"};
    snprintf(p->impl, sizeof p->impl, "keccak %s; openssl side: %s (no ML-KEM in 3.0)",
             etls_mlkem_impl_name(), ossl_role[kind]);
    p->ours = (etls_bench_side_t){.run = kind == etls_bench_mlkem_keygen   ? ours_keygen
                                         : kind == etls_bench_mlkem_encaps ? ours_encaps
                                         : kind == etls_bench_mlkem_decaps ? ours_decaps
                                                                           : ours_hybrid,
                                  .st = st,
                                  .ops_per_call = 1};
    p->ossl = (etls_bench_side_t){.run = kind == etls_bench_mlkem_keygen ? ossl_keygen
                                         : kind == etls_bench_mlkem_decaps ? ossl_derive
                                                                           : ossl_server,
                                  .st = st,
                                  .ops_per_call = 1};
    return 0;
}
