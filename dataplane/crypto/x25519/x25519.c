/* X25519 dispatch: picks the implementation once, splits mixed batches into fixed-base key
 * generations and variable-base shared secrets, and offers single-shot calls. */
#include <pthread.h>

#include "x25519_internal.h"

static const etls_x25519_impl_t *best_impl;
static pthread_once_t best_once = PTHREAD_ONCE_INIT;

static void best_init(void)
{
    const etls_x25519_impl_t *ifma = etls_x25519_ifma_get(), *avx2 = etls_x25519_avx2_get();
    best_impl = ifma ? ifma : avx2 ? avx2 : etls_x25519_portable_get();
}

const etls_x25519_impl_t *etls_x25519_best(void)
{
    pthread_once(&best_once, best_init);
    return best_impl;
}

/* Ops are gathered in chunks so the work arrays stay on the stack (no allocation) while each
 * implementation still sees enough lanes: 16 is a multiple of every lane count we have. */
#define BATCH_CHUNK 16

/* A lone op in a lane group pays for every lane (4-lane AVX2: ~4 x 44k cycles, 8-lane IFMA:
 * ~150k, against ~95k for one portable ladder), so when the implementation was chosen
 * automatically a leftover single op goes to the portable ladder. Two or more leftovers are
 * cheapest as one padded group of the chosen implementation (measured on Zen 4: a padded IFMA
 * group beats AVX2 groups for every remainder 2..7, and two portable ladders). A caller that
 * names an implementation gets exactly it (tests rely on that to exercise lane padding). */
static void run_chunk(const etls_x25519_impl_t *impl, int auto_impl, etls_x25519_op_t *dense, size_t m)
{
    if (auto_impl && impl->lanes > 1 && m % impl->lanes == 1) {
        etls_x25519_portable_get()->shared_batch(&dense[m - 1], 1);
        m--;
    }
    if (m)
        impl->shared_batch(dense, m);
}

/* Runs the shared-secret ops among ops[0..n) through impl, BATCH_CHUNK at a time. The
 * implementation wants a dense array, so the op descriptors (pointers and status, no secret
 * bytes) are copied in and the status copied back. */
static void batch_shared(const etls_x25519_impl_t *impl, int auto_impl, etls_x25519_op_t *ops, size_t n)
{
    etls_x25519_op_t dense[BATCH_CHUNK];
    size_t where[BATCH_CHUNK];
    size_t m = 0;
    for (size_t i = 0; i <= n; i++) {
        if (m == BATCH_CHUNK || (i == n && m > 0)) {
            run_chunk(impl, auto_impl, dense, m);
            for (size_t j = 0; j < m; j++)
                ops[where[j]].status = dense[j].status;
            m = 0;
        }
        if (i < n && ops[i].peer != NULL) {
            dense[m] = ops[i];
            where[m++] = i;
        }
    }
}

/* Key generations of one chunk. With IFMA, a group of eight lanes of the vector fixed-base code
 * costs about 55k cycles on Zen 4, two keys on the scalar table (x25519_base.c) about as much,
 * so groups of at least IFMA_KEYGEN_MIN keys go to the lanes and fewer to the scalar table. */
#define IFMA_KEYGEN_MIN 3

static void keygen_chunk(etls_x25519_op_t **gen, size_t m)
{
    if (etls_x25519_ifma_get() != NULL) {
        while (m >= IFMA_KEYGEN_MIN) {
            size_t g = m < 8 ? m : 8;
            etls_x25519_ifma_base_group(gen, g);
            gen += g;
            m -= g;
        }
    }
    if (m)
        etls_x25519_base_batch(gen, m);
}

static void batch_keygen(etls_x25519_op_t *ops, size_t n)
{
    etls_x25519_op_t *gen[BATCH_CHUNK];
    size_t m = 0;
    for (size_t i = 0; i <= n; i++) {
        if (m == BATCH_CHUNK || (i == n && m > 0)) {
            keygen_chunk(gen, m);
            m = 0;
        }
        if (i < n && ops[i].peer == NULL)
            gen[m++] = &ops[i];
    }
}

void etls_x25519_batch(const etls_x25519_impl_t *impl, etls_x25519_op_t *ops, size_t n)
{
    int auto_impl = impl == NULL;
    if (auto_impl)
        impl = etls_x25519_best();
    batch_keygen(ops, n);
    batch_shared(impl, auto_impl, ops, n);
}

int etls_x25519_shared(uint8_t out[32], const uint8_t sk[32], const uint8_t peer[32])
{
    return etls_x25519_portable_one(out, sk, peer);
}

void etls_x25519_public(uint8_t pub[32], const uint8_t sk[32])
{
    etls_x25519_base_one(pub, sk);
}
