/* Arithmetic modulo p = 2^255 - 19 in radix 2^51 (five 64-bit limbs, 128-bit products).
 *
 * Internal to dataplane/crypto/x25519: shared by the Montgomery ladder and the Edwards fixed-base
 * code (and usable by SIMD files for their scalar tails). Everything is branch-free and
 * index-free in the values. Bounds, which every caller must respect:
 *   - fe51_mul/fe51_sq/fe51_mul_small/fe51_sub/fe51_carry produce limbs < 2^51 + 2^13
 *     ("reduced");
 *   - fe51_add of two reduced values gives limbs < 2^52 + 2^14;
 *   - fe51_mul/fe51_sq accept limbs < 2^54 (products then fit 128 bits with room to spare);
 *   - fe51_sub accepts a first operand < 2^54 and a second < 2^53 - 76 (it adds 4p first);
 *     fe51_sub_nc skips the carry: from a first operand < 2^52 + 2^14 its limbs stay < 2^54,
 *     so its result may only feed fe51_mul, fe51_sq or fe51_mul_small.
 * Values need not be canonical until fe51_tobytes. */
#ifndef ETLS_CRYPTO_X25519_FE51_H
#define ETLS_CRYPTO_X25519_FE51_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

#include "common/ct.h"

typedef uint64_t fe51[5];
typedef unsigned __int128 fe51_u128;

#define FE51_MASK ((UINT64_C(1) << 51) - 1)

static inline uint64_t fe51_load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return le64toh(v);
}

static inline void fe51_store64(uint8_t *p, uint64_t v)
{
    v = htole64(v);
    memcpy(p, &v, 8);
}

static inline void fe51_copy(fe51 h, const fe51 f)
{
    for (int i = 0; i < 5; i++)
        h[i] = f[i];
}

static inline void fe51_set_small(fe51 h, uint64_t v)
{
    h[0] = v;
    h[1] = h[2] = h[3] = h[4] = 0;
}

/* Loads 255 bits; bit 255 is ignored (RFC 7748 §5 masks it for u-coordinates). Values >= p are
 * accepted and behave as their residue, as RFC 7748 requires for non-canonical inputs. */
static inline void fe51_frombytes(fe51 h, const uint8_t s[32])
{
    uint64_t w0 = fe51_load64(s), w1 = fe51_load64(s + 8);
    uint64_t w2 = fe51_load64(s + 16), w3 = fe51_load64(s + 24);
    h[0] = w0 & FE51_MASK;
    h[1] = (w0 >> 51 | w1 << 13) & FE51_MASK;
    h[2] = (w1 >> 38 | w2 << 26) & FE51_MASK;
    h[3] = (w2 >> 25 | w3 << 39) & FE51_MASK;
    h[4] = (w3 >> 12) & FE51_MASK;
}

/* One carry pass: limbs < 2^51 except limb 1 which may exceed by a tiny amount. */
static inline void fe51_carry(fe51 h)
{
    uint64_t c;
    c = h[0] >> 51, h[0] &= FE51_MASK, h[1] += c;
    c = h[1] >> 51, h[1] &= FE51_MASK, h[2] += c;
    c = h[2] >> 51, h[2] &= FE51_MASK, h[3] += c;
    c = h[3] >> 51, h[3] &= FE51_MASK, h[4] += c;
    c = h[4] >> 51, h[4] &= FE51_MASK, h[0] += 19 * c;
    c = h[0] >> 51, h[0] &= FE51_MASK, h[1] += c;
}

/* Canonical little-endian encoding (fully reduced below p). */
static inline void fe51_tobytes(uint8_t s[32], const fe51 f)
{
    fe51 t;
    uint64_t c, q;
    fe51_copy(t, f);
    fe51_carry(t);
    fe51_carry(t); /* now every limb < 2^51: the value is in [0, 2^255) */
    /* q = 1 exactly when t >= p, i.e. when t + 19 overflows 2^255. */
    q = (t[0] + 19) >> 51;
    q = (t[1] + q) >> 51;
    q = (t[2] + q) >> 51;
    q = (t[3] + q) >> 51;
    q = (t[4] + q) >> 51;
    t[0] += 19 * q; /* t - q*p = t + 19q - q*2^255; the 2^255 falls off the top limb */
    c = t[0] >> 51, t[0] &= FE51_MASK, t[1] += c;
    c = t[1] >> 51, t[1] &= FE51_MASK, t[2] += c;
    c = t[2] >> 51, t[2] &= FE51_MASK, t[3] += c;
    c = t[3] >> 51, t[3] &= FE51_MASK, t[4] += c;
    t[4] &= FE51_MASK;
    fe51_store64(s, t[0] | t[1] << 51);
    fe51_store64(s + 8, t[1] >> 13 | t[2] << 38);
    fe51_store64(s + 16, t[2] >> 26 | t[3] << 25);
    fe51_store64(s + 24, t[3] >> 39 | t[4] << 12);
    etls_wipe(t, sizeof t);
}

static inline void fe51_add(fe51 h, const fe51 f, const fe51 g)
{
    for (int i = 0; i < 5; i++)
        h[i] = f[i] + g[i];
}

/* h = f - g, computed as f + 4p - g so no limb goes negative, then carried. */
static inline void fe51_sub(fe51 h, const fe51 f, const fe51 g)
{
    h[0] = f[0] + (UINT64_C(1) << 53) - 76 - g[0];
    for (int i = 1; i < 5; i++)
        h[i] = f[i] + (UINT64_C(1) << 53) - 4 - g[i];
    fe51_carry(h);
}

/* h = f - g without the carry (see the bounds above). */
static inline void fe51_sub_nc(fe51 h, const fe51 f, const fe51 g)
{
    h[0] = f[0] + (UINT64_C(1) << 53) - 76 - g[0];
    for (int i = 1; i < 5; i++)
        h[i] = f[i] + (UINT64_C(1) << 53) - 4 - g[i];
}

static inline void fe51_neg(fe51 h, const fe51 f)
{
    static const fe51 zero = {0, 0, 0, 0, 0};
    fe51_sub(h, zero, f);
}

/* Carries 128-bit column sums r[0..4] into h. */
static inline void fe51_reduce_wide(fe51 h, fe51_u128 r0, fe51_u128 r1, fe51_u128 r2,
                                    fe51_u128 r3, fe51_u128 r4)
{
    uint64_t c;
    /* Two carry chains (from limb 0 and from limb 3) run interleaved to halve the latency. */
    r1 += (uint64_t)(r0 >> 51);
    h[0] = (uint64_t)r0 & FE51_MASK;
    r4 += (uint64_t)(r3 >> 51);
    h[3] = (uint64_t)r3 & FE51_MASK;
    r2 += (uint64_t)(r1 >> 51);
    h[1] = (uint64_t)r1 & FE51_MASK;
    c = (uint64_t)(r4 >> 51);
    h[4] = (uint64_t)r4 & FE51_MASK;
    h[0] += 19 * c;
    c = (uint64_t)(r2 >> 51);
    h[2] = (uint64_t)r2 & FE51_MASK;
    h[3] += c;
    c = h[0] >> 51;
    h[0] &= FE51_MASK;
    h[1] += c;
    c = h[3] >> 51;
    h[3] &= FE51_MASK;
    h[4] += c;
}

static inline void fe51_mul(fe51 h, const fe51 f, const fe51 g)
{
    uint64_t f0 = f[0], f1 = f[1], f2 = f[2], f3 = f[3], f4 = f[4];
    uint64_t g0 = g[0], g1 = g[1], g2 = g[2], g3 = g[3], g4 = g[4];
    uint64_t g1_19 = 19 * g1, g2_19 = 19 * g2, g3_19 = 19 * g3, g4_19 = 19 * g4;
    fe51_u128 r0, r1, r2, r3, r4;
    r0 = (fe51_u128)f0 * g0 + (fe51_u128)f1 * g4_19 + (fe51_u128)f2 * g3_19 +
         (fe51_u128)f3 * g2_19 + (fe51_u128)f4 * g1_19;
    r1 = (fe51_u128)f0 * g1 + (fe51_u128)f1 * g0 + (fe51_u128)f2 * g4_19 +
         (fe51_u128)f3 * g3_19 + (fe51_u128)f4 * g2_19;
    r2 = (fe51_u128)f0 * g2 + (fe51_u128)f1 * g1 + (fe51_u128)f2 * g0 + (fe51_u128)f3 * g4_19 +
         (fe51_u128)f4 * g3_19;
    r3 = (fe51_u128)f0 * g3 + (fe51_u128)f1 * g2 + (fe51_u128)f2 * g1 + (fe51_u128)f3 * g0 +
         (fe51_u128)f4 * g4_19;
    r4 = (fe51_u128)f0 * g4 + (fe51_u128)f1 * g3 + (fe51_u128)f2 * g2 + (fe51_u128)f3 * g1 +
         (fe51_u128)f4 * g0;
    fe51_reduce_wide(h, r0, r1, r2, r3, r4);
}

static inline void fe51_sq(fe51 h, const fe51 f)
{
    uint64_t f0 = f[0], f1 = f[1], f2 = f[2], f3 = f[3], f4 = f[4];
    uint64_t f0_2 = 2 * f0, f1_2 = 2 * f1, f2_2 = 2 * f2, f3_2 = 2 * f3;
    uint64_t f3_19 = 19 * f3, f4_19 = 19 * f4;
    fe51_u128 r0, r1, r2, r3, r4;
    r0 = (fe51_u128)f0 * f0 + (fe51_u128)f1_2 * f4_19 + (fe51_u128)f2_2 * f3_19;
    r1 = (fe51_u128)f0_2 * f1 + (fe51_u128)f2_2 * f4_19 + (fe51_u128)f3 * f3_19;
    r2 = (fe51_u128)f0_2 * f2 + (fe51_u128)f1 * f1 + (fe51_u128)f3_2 * f4_19;
    r3 = (fe51_u128)f0_2 * f3 + (fe51_u128)f1_2 * f2 + (fe51_u128)f4 * f4_19;
    r4 = (fe51_u128)f0_2 * f4 + (fe51_u128)f1_2 * f3 + (fe51_u128)f2 * f2;
    fe51_reduce_wide(h, r0, r1, r2, r3, r4);
}

/* h = f^(2^n), n >= 1. */
static inline void fe51_sqn(fe51 h, const fe51 f, int n)
{
    fe51_sq(h, f);
    while (--n > 0)
        fe51_sq(h, h);
}

/* h = f * c for a small constant c < 2^20. */
static inline void fe51_mul_small(fe51 h, const fe51 f, uint64_t c)
{
    fe51_reduce_wide(h, (fe51_u128)f[0] * c, (fe51_u128)f[1] * c, (fe51_u128)f[2] * c,
                     (fe51_u128)f[3] * c, (fe51_u128)f[4] * c);
}

/* h = 1/z = z^(p-2) by a fixed chain of 254 squarings and 11 multiplications (0 maps to 0). */
static inline void fe51_invert(fe51 h, const fe51 z)
{
    fe51 z2, z9, z11, z5_0, z10_0, z20_0, z50_0, z100_0, t;
    fe51_sq(z2, z);
    fe51_sqn(t, z2, 2);
    fe51_mul(z9, t, z);
    fe51_mul(z11, z9, z2);
    fe51_sq(t, z11);
    fe51_mul(z5_0, t, z9); /* z^(2^5 - 1) */
    fe51_sqn(t, z5_0, 5);
    fe51_mul(z10_0, t, z5_0);
    fe51_sqn(t, z10_0, 10);
    fe51_mul(z20_0, t, z10_0);
    fe51_sqn(t, z20_0, 20);
    fe51_mul(t, t, z20_0);
    fe51_sqn(t, t, 10);
    fe51_mul(z50_0, t, z10_0);
    fe51_sqn(t, z50_0, 50);
    fe51_mul(z100_0, t, z50_0);
    fe51_sqn(t, z100_0, 100);
    fe51_mul(t, t, z100_0);
    fe51_sqn(t, t, 50);
    fe51_mul(t, t, z50_0); /* z^(2^250 - 1) */
    fe51_sqn(t, t, 5);
    fe51_mul(h, t, z11); /* z^(2^255 - 32 + 11) = z^(p - 2) */
    etls_wipe(z2, sizeof z2);
    etls_wipe(z9, sizeof z9);
    etls_wipe(z11, sizeof z11);
    etls_wipe(z5_0, sizeof z5_0);
    etls_wipe(z10_0, sizeof z10_0);
    etls_wipe(z20_0, sizeof z20_0);
    etls_wipe(z50_0, sizeof z50_0);
    etls_wipe(z100_0, sizeof z100_0);
    etls_wipe(t, sizeof t);
}

/* Swaps f and g when mask is all-ones, leaves them when it is zero. */
static inline void fe51_cswap(fe51 f, fe51 g, uint64_t mask)
{
    mask = etls_ct_barrier_u64(mask);
    for (int i = 0; i < 5; i++) {
        uint64_t x = mask & (f[i] ^ g[i]);
        f[i] ^= x;
        g[i] ^= x;
    }
}

/* h = f when mask is all-ones, unchanged when zero. */
static inline void fe51_cmov(fe51 h, const fe51 f, uint64_t mask)
{
    mask = etls_ct_barrier_u64(mask);
    for (int i = 0; i < 5; i++)
        h[i] ^= mask & (h[i] ^ f[i]);
}

#endif
