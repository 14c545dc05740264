/* X25519 variable-base scalar multiplication: the RFC 7748 §5 Montgomery ladder on 64-bit limbs.
 *
 * The ladder runs all 255 steps for every scalar and swaps its two working points with a mask,
 * so time and memory access do not depend on the scalar bits. Works on any 64-bit target with
 * unsigned __int128 (GCC, Clang). */
#include "x25519_fe51.h"
#include "x25519_internal.h"

/* Working points and temporaries together, so one wipe at the end clears every value derived
 * from the scalar. */
typedef struct {
    fe51 x1, x2, z2, x3, z3;
    fe51 a, b, c, d, aa, bb, da, cb, e;
} ladder_state_t;

/* One differential add-and-double step (RFC 7748 §5 pseudo-code, a24 = 121665). */
static void ladder_step(ladder_state_t *s)
{
    fe51_add(s->a, s->x2, s->z2);
    fe51_sub_nc(s->b, s->x2, s->z2);
    fe51_add(s->c, s->x3, s->z3);
    fe51_sub_nc(s->d, s->x3, s->z3);
    fe51_sq(s->aa, s->a);
    fe51_sq(s->bb, s->b);
    fe51_mul(s->da, s->d, s->a);
    fe51_mul(s->cb, s->c, s->b);
    fe51_sub_nc(s->e, s->aa, s->bb);
    fe51_add(s->x3, s->da, s->cb);
    fe51_sq(s->x3, s->x3);
    fe51_sub_nc(s->z3, s->da, s->cb);
    fe51_sq(s->z3, s->z3);
    fe51_mul(s->z3, s->z3, s->x1);
    fe51_mul(s->x2, s->aa, s->bb);
    fe51_mul_small(s->z2, s->e, 121665);
    fe51_add(s->z2, s->z2, s->aa);
    fe51_mul(s->z2, s->z2, s->e);
}

static void ladder(ladder_state_t *s, const uint8_t k[32])
{
    uint64_t swap = 0;
    fe51_set_small(s->x2, 1);
    fe51_set_small(s->z2, 0);
    fe51_copy(s->x3, s->x1);
    fe51_set_small(s->z3, 1);
    for (int t = 254; t >= 0; t--) {
        uint64_t bit = (k[t >> 3] >> (t & 7)) & 1;
        swap ^= bit;
        fe51_cswap(s->x2, s->x3, 0 - swap);
        fe51_cswap(s->z2, s->z3, 0 - swap);
        swap = bit;
        ladder_step(s);
    }
    fe51_cswap(s->x2, s->x3, 0 - swap);
    fe51_cswap(s->z2, s->z3, 0 - swap);
}

int etls_x25519_portable_one(uint8_t out[32], const uint8_t sk[32], const uint8_t peer[32])
{
    uint8_t k[32];
    ladder_state_t s;
    etls_x25519_clamp(k, sk);
    fe51_frombytes(s.x1, peer);
    ladder(&s, k);
    fe51_invert(s.z2, s.z2); /* z2 = 0 (low-order peer) inverts to 0: the output is all zero */
    fe51_mul(s.x2, s.x2, s.z2);
    fe51_tobytes(out, s.x2);
    etls_wipe(k, sizeof k);
    etls_wipe(&s, sizeof s);
    return etls_x25519_zero_status(out);
}

static void portable_shared_batch(etls_x25519_op_t *ops, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ops[i].status = etls_x25519_portable_one(ops[i].out, ops[i].sk, ops[i].peer);
}

static const etls_x25519_impl_t portable_impl = {
    .name = "portable",
    .lanes = 1,
    .shared_batch = portable_shared_batch,
};

const etls_x25519_impl_t *etls_x25519_portable_get(void)
{
    return &portable_impl;
}
