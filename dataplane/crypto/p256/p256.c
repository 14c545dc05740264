/* P-256 keys, ECDH and the implementation dispatch (the portable implementation loops over the
 * single operations; vector lanes will register beside it). */
#include <pthread.h>
#include <string.h>

#include "common/cpu.h"
#include "common/err.h"
#include "p256_internal.h"

int etls_p256_sk_load(etls_p256_sk_t *sk, const uint8_t in[32])
{
    etls_p256_from_be(sk->d, in);
    uint64_t ok = etls_sc_in_range(sk->d);
    etls_ct_declassify(&ok, sizeof ok); /* only "in range or not" is revealed */
    if (!ok) {
        etls_p256_sk_wipe(sk);
        return ETLS_ERR_INVALID;
    }
    return 0;
}

void etls_p256_sk_store(uint8_t out[32], const etls_p256_sk_t *sk)
{
    etls_p256_to_be(out, sk->d);
}

void etls_p256_sk_wipe(etls_p256_sk_t *sk)
{
    etls_wipe(sk, sizeof *sk);
}

void etls_p256_public(uint8_t pub[ETLS_P256_PUB_LEN], const etls_p256_sk_t *sk)
{
    const etls_p256_arith_t *ar = etls_p256_arith_best();
    etls_p256_pt_t p;
    ar->mul_base(&p, sk->d);
    ar->encode(pub, &p); /* d in [1, n-1]: never infinity */
    etls_wipe(&p, sizeof p);
}

int etls_p256_generate(etls_p256_sk_t *sk, uint8_t pub[ETLS_P256_PUB_LEN], etls_rand_t *rng)
{
    uint8_t buf[32];
    int rc;
    /* Rejection sampling: a draw >= n (probability ~2^-32) is discarded, so d is uniform. */
    while ((rc = etls_rand_bytes(rng, buf, sizeof buf)) == 0 && etls_p256_sk_load(sk, buf) < 0)
        ;
    etls_wipe(buf, sizeof buf);
    if (rc < 0) {
        etls_p256_sk_wipe(sk);
        memset(pub, 0, ETLS_P256_PUB_LEN);
        return rc;
    }
    etls_p256_public(pub, sk);
    return 0;
}

static int ecdh_with(const etls_p256_arith_t *ar, uint8_t out[ETLS_P256_SECRET_LEN],
                     const etls_p256_sk_t *sk, const uint8_t *peer, size_t peer_len)
{
    etls_p256_pt_t q, r;
    uint64_t x[4], y[4];
    if (ar->decode(&q, peer, peer_len) < 0) {
        memset(out, 0, ETLS_P256_SECRET_LEN);
        return ETLS_ERR_INVALID;
    }
    ar->mul(&r, &q, sk->d);
    uint64_t inf = ar->to_affine(x, y, &r);
    /* Infinity cannot come out of a valid point of prime order and d < n; the check is kept
     * as the last line of defence, and its outcome is public (the handshake fails). */
    etls_ct_declassify(&inf, sizeof inf);
    if (inf)
        memset(x, 0, sizeof x);
    etls_p256_to_be(out, x);
    etls_wipe(&r, sizeof r);
    etls_wipe(x, sizeof x);
    etls_wipe(y, sizeof y);
    return inf ? ETLS_ERR_INVALID : 0;
}

int etls_p256_ecdh(uint8_t out[ETLS_P256_SECRET_LEN], const etls_p256_sk_t *sk, const uint8_t *peer,
                   size_t peer_len)
{
    return ecdh_with(etls_p256_arith_best(), out, sk, peer, peer_len);
}

/* ---- implementations ---- */

static void sign_batch_with(const etls_p256_arith_t *ar, etls_p256_sign_op_t *ops, size_t n)
{
    etls_p256_sign_many(ar, ops, n);
}

static void ecdh_batch_with(const etls_p256_arith_t *ar, etls_p256_ecdh_op_t *ops, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ops[i].status = ecdh_with(ar, ops[i].out, ops[i].sk, ops[i].peer, ops[i].peer_len);
}

static void portable_sign_batch(etls_p256_sign_op_t *ops, size_t n)
{
    sign_batch_with(&etls_p256_arith_c, ops, n);
}

static void portable_ecdh_batch(etls_p256_ecdh_op_t *ops, size_t n)
{
    ecdh_batch_with(&etls_p256_arith_c, ops, n);
}

static void adx_sign_batch(etls_p256_sign_op_t *ops, size_t n)
{
    sign_batch_with(&etls_p256_arith_adx, ops, n);
}

static void adx_ecdh_batch(etls_p256_ecdh_op_t *ops, size_t n)
{
    ecdh_batch_with(&etls_p256_arith_adx, ops, n);
}

static const etls_p256_impl_t portable_impl = {
    .name = "portable",
    .lanes = 1,
    .sign_batch = portable_sign_batch,
    .ecdh_batch = portable_ecdh_batch,
};

static const etls_p256_impl_t adx_impl = {
    .name = "adx",
    .lanes = 1,
    .sign_batch = adx_sign_batch,
    .ecdh_batch = adx_ecdh_batch,
};

const etls_p256_impl_t *etls_p256_portable_get(void)
{
    return &portable_impl;
}

const etls_p256_impl_t *etls_p256_adx_get(void)
{
    return etls_cpu_has(ETLS_CPU_BMI2 | ETLS_CPU_ADX) ? &adx_impl : NULL;
}

static const etls_p256_impl_t *best_impl;
static const etls_p256_arith_t *best_arith;
static pthread_once_t best_once = PTHREAD_ONCE_INIT;

/* The fastest implementation the CPU runs. */
static void best_init(void)
{
    const etls_p256_impl_t *adx = etls_p256_adx_get();
    best_impl = adx ? adx : etls_p256_portable_get();
    best_arith = adx ? &etls_p256_arith_adx : &etls_p256_arith_c;
}

const etls_p256_impl_t *etls_p256_best(void)
{
    pthread_once(&best_once, best_init);
    return best_impl;
}

const etls_p256_arith_t *etls_p256_arith_best(void)
{
    pthread_once(&best_once, best_init);
    return best_arith;
}

void etls_p256_sign_batch(const etls_p256_impl_t *impl, etls_p256_sign_op_t *ops, size_t n)
{
    if (n)
        (impl ? impl : etls_p256_best())->sign_batch(ops, n);
}

void etls_p256_ecdh_batch(const etls_p256_impl_t *impl, etls_p256_ecdh_op_t *ops, size_t n)
{
    if (n)
        (impl ? impl : etls_p256_best())->ecdh_batch(ops, n);
}
