/* Internal to dataplane/crypto/p256: arithmetic modulo a 256-bit odd modulus m in Montgomery
 * form (R = 2^256), four 64-bit limbs, little-endian. The same inline code serves the field
 * (m = p) and the scalars (m = n); the modulus is a compile-time constant at every call, so the
 * compiler folds its limbs (p's zero and all-ones words) into the multiplication.
 *
 * Every function here runs in constant time: no branch and no memory index depends on limb
 * values; conditional corrections use masks behind an optimisation barrier. Inputs must be
 * fully reduced (< m); outputs are fully reduced. Outputs may alias inputs. */
#ifndef ETLS_CRYPTO_P256_FE_H
#define ETLS_CRYPTO_P256_FE_H

#include <stdint.h>
#include <x86intrin.h> /* _addcarry_u64 / _subborrow_u64: adc and sbb, baseline x86-64 */

#include "common/ct.h"

typedef unsigned __int128 etls_u128;
typedef uint64_t etls_p256_fe[4];

/* p = 2^256 - 2^224 + 2^192 + 2^96 - 1; -p^-1 mod 2^64 = 1. */
static const uint64_t etls_p256_p[4] = {0xffffffffffffffffULL, 0x00000000ffffffffULL, 0,
                                        0xffffffff00000001ULL};
/* n, the order of G; -n^-1 mod 2^64. */
static const uint64_t etls_p256_n[4] = {0xf3b9cac2fc632551ULL, 0xbce6faada7179e84ULL,
                                        0xffffffffffffffffULL, 0xffffffff00000000ULL};
#define ETLS_P256_N0INV 0xccd1c8aaee00bc4fULL

/* r = t[0..4) + hi * 2^256 - m when that is >= 0, else t; needs t + hi*2^256 < 2m. */
static inline void etls_mod_final_sub(uint64_t r[4], const uint64_t t[4], uint64_t hi,
                                      const uint64_t m[4])
{
    unsigned long long d[4], top;
    unsigned char b = _subborrow_u64(0, t[0], m[0], &d[0]);
    b = _subborrow_u64(b, t[1], m[1], &d[1]);
    b = _subborrow_u64(b, t[2], m[2], &d[2]);
    b = _subborrow_u64(b, t[3], m[3], &d[3]);
    _subborrow_u64(b, hi, 0, &top);
    /* top is 0 (keep d) or all-ones (t was already below m) */
    uint64_t keep_t = etls_ct_barrier_u64(top);
    for (int j = 0; j < 4; j++)
        r[j] = d[j] ^ (keep_t & (t[j] ^ d[j]));
}

#ifdef ETLS_P256_ADX
#include "p256_fe_adx.h"
#endif

/* r = a * b * 2^-256 mod m (CIOS); m0inv = -m^-1 mod 2^64. */
static inline void etls_mod_mul_c(uint64_t r[4], const uint64_t a[4], const uint64_t b[4],
                                const uint64_t m[4], uint64_t m0inv)
{
    uint64_t t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4 = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t bi = b[i], t5;
        etls_u128 c = (etls_u128)a[0] * bi + t0;
        t0 = (uint64_t)c;
        c = (etls_u128)a[1] * bi + t1 + (c >> 64);
        t1 = (uint64_t)c;
        c = (etls_u128)a[2] * bi + t2 + (c >> 64);
        t2 = (uint64_t)c;
        c = (etls_u128)a[3] * bi + t3 + (c >> 64);
        t3 = (uint64_t)c;
        c = (etls_u128)t4 + (c >> 64);
        t4 = (uint64_t)c;
        t5 = (uint64_t)(c >> 64);

        uint64_t q = t0 * m0inv;
        c = (etls_u128)q * m[0] + t0;
        c = (etls_u128)q * m[1] + t1 + (c >> 64);
        t0 = (uint64_t)c;
        c = (etls_u128)q * m[2] + t2 + (c >> 64);
        t1 = (uint64_t)c;
        c = (etls_u128)q * m[3] + t3 + (c >> 64);
        t2 = (uint64_t)c;
        c = (etls_u128)t4 + (c >> 64);
        t3 = (uint64_t)c;
        t4 = t5 + (uint64_t)(c >> 64);
    }
    const uint64_t t[4] = {t0, t1, t2, t3};
    etls_mod_final_sub(r, t, t4, m);
}

static inline void etls_mod_mul(uint64_t r[4], const uint64_t a[4], const uint64_t b[4],
                                const uint64_t m[4], uint64_t m0inv)
{
#ifdef ETLS_P256_ADX
    uint64_t t[8];
    etls_adx_prod(t, a, b);
    etls_adx_redc_m(r, t, m, m0inv);
#else
    etls_mod_mul_c(r, a, b, m, m0inv);
#endif
}

static inline void etls_mod_add(uint64_t r[4], const uint64_t a[4], const uint64_t b[4],
                                const uint64_t m[4])
{
    unsigned long long t[4];
    unsigned char c = _addcarry_u64(0, a[0], b[0], &t[0]);
    c = _addcarry_u64(c, a[1], b[1], &t[1]);
    c = _addcarry_u64(c, a[2], b[2], &t[2]);
    c = _addcarry_u64(c, a[3], b[3], &t[3]);
    const uint64_t tt[4] = {t[0], t[1], t[2], t[3]};
    etls_mod_final_sub(r, tt, c, m);
}

static inline void etls_mod_sub(uint64_t r[4], const uint64_t a[4], const uint64_t b[4],
                                const uint64_t m[4])
{
    unsigned long long t[4], o[4];
    unsigned char bw = _subborrow_u64(0, a[0], b[0], &t[0]);
    bw = _subborrow_u64(bw, a[1], b[1], &t[1]);
    bw = _subborrow_u64(bw, a[2], b[2], &t[2]);
    bw = _subborrow_u64(bw, a[3], b[3], &t[3]);
    uint64_t mask = etls_ct_barrier_u64(0 - (uint64_t)bw);
    unsigned char c = _addcarry_u64(0, t[0], m[0] & mask, &o[0]);
    c = _addcarry_u64(c, t[1], m[1] & mask, &o[1]);
    c = _addcarry_u64(c, t[2], m[2] & mask, &o[2]);
    _addcarry_u64(c, t[3], m[3] & mask, &o[3]);
    for (int j = 0; j < 4; j++)
        r[j] = o[j];
}

/* ---- the field: reduction specialised to p ----
 *
 * -p^-1 = 1 mod 2^64, so a Montgomery step's multiplier q is the low word itself, and q * p =
 * q * 2^256 - q * 2^224 + q * 2^192 + q * 2^96 - q needs one real multiplication (q times the
 * top word 2^64 - 2^32 + 1); the rest are shifts. One step maps a 4-word window w to
 * (w + q p) / 2^64 = w1 + q * 2^32 + w2 * 2^64 + (w3 + q * p3) * 2^128, which stays below 2^256
 * because p < 2^256 - 2^224. */
#define ETLS_P256_P3 0xffffffff00000001ULL

static inline void etls_fe_redc_step(uint64_t w[4])
{
    uint64_t q = w[0];
    etls_u128 m = (etls_u128)q * ETLS_P256_P3;
    unsigned long long s0, s1, s2, s3;
    unsigned char c = _addcarry_u64(0, w[1], q << 32, &s0);
    c = _addcarry_u64(c, w[2], q >> 32, &s1);
    c = _addcarry_u64(c, w[3], (uint64_t)m, &s2);
    s3 = (uint64_t)(m >> 64) + c; /* hi(q p3) < 2^64 - 2^32: no carry out */
    w[0] = s0, w[1] = s1, w[2] = s2, w[3] = s3;
}

/* r = t * 2^-256 mod p for an 8-word t < p * 2^256: four steps on the low half give
 * (t_lo + Q p) / 2^256 <= p, the high half is < p, so their sum is below 2p and one
 * conditional subtraction reduces it. */
static inline void etls_fe_redc(etls_p256_fe r, const uint64_t t[8])
{
    uint64_t w[4] = {t[0], t[1], t[2], t[3]};
    etls_fe_redc_step(w);
    etls_fe_redc_step(w);
    etls_fe_redc_step(w);
    etls_fe_redc_step(w);
    unsigned long long s[4];
    unsigned char c = _addcarry_u64(0, w[0], t[4], &s[0]);
    c = _addcarry_u64(c, w[1], t[5], &s[1]);
    c = _addcarry_u64(c, w[2], t[6], &s[2]);
    c = _addcarry_u64(c, w[3], t[7], &s[3]);
    const uint64_t u[4] = {s[0], s[1], s[2], s[3]};
    etls_mod_final_sub(r, u, c, etls_p256_p);
}

/* r = a * b * 2^-256 mod p. */
static inline void etls_fe_mul(etls_p256_fe r, const etls_p256_fe a, const etls_p256_fe b)
{
#ifdef ETLS_P256_ADX
    uint64_t p[8];
    etls_adx_prod(p, a, b);
    etls_adx_redc_p(r, p, etls_p256_p);
#else
    uint64_t t[8];
    etls_u128 c = 0;
    for (int j = 0; j < 4; j++) {
        c = (etls_u128)a[j] * b[0] + (uint64_t)(c >> 64);
        t[j] = (uint64_t)c;
    }
    t[4] = (uint64_t)(c >> 64);
    for (int i = 1; i < 4; i++) {
        c = 0;
        for (int j = 0; j < 4; j++) {
            c = (etls_u128)a[j] * b[i] + t[i + j] + (uint64_t)(c >> 64);
            t[i + j] = (uint64_t)c;
        }
        t[i + 4] = (uint64_t)(c >> 64);
    }
    etls_fe_redc(r, t);
#endif
}

/* r = a^2 * 2^-256 mod p: the six cross products once, doubled, plus the four squares. */
static inline void etls_fe_sqr(etls_p256_fe r, const etls_p256_fe a)
{
#ifdef ETLS_P256_ADX
    uint64_t p[8];
    etls_adx_prod_sqr(p, a);
    etls_adx_redc_p(r, p, etls_p256_p);
#else
    uint64_t t[8];
    etls_u128 c;
    c = (etls_u128)a[0] * a[1];
    t[1] = (uint64_t)c;
    c = (etls_u128)a[0] * a[2] + (uint64_t)(c >> 64);
    t[2] = (uint64_t)c;
    c = (etls_u128)a[0] * a[3] + (uint64_t)(c >> 64);
    t[3] = (uint64_t)c;
    t[4] = (uint64_t)(c >> 64);
    c = (etls_u128)a[1] * a[2] + t[3];
    t[3] = (uint64_t)c;
    c = (etls_u128)a[1] * a[3] + t[4] + (uint64_t)(c >> 64);
    t[4] = (uint64_t)c;
    t[5] = (uint64_t)(c >> 64);
    c = (etls_u128)a[2] * a[3] + t[5];
    t[5] = (uint64_t)c;
    t[6] = (uint64_t)(c >> 64);
    t[7] = t[6] >> 63;
    t[6] = (t[6] << 1) | (t[5] >> 63);
    t[5] = (t[5] << 1) | (t[4] >> 63);
    t[4] = (t[4] << 1) | (t[3] >> 63);
    t[3] = (t[3] << 1) | (t[2] >> 63);
    t[2] = (t[2] << 1) | (t[1] >> 63);
    t[1] = t[1] << 1;
    unsigned long long s[8];
    etls_u128 d0 = (etls_u128)a[0] * a[0], d1 = (etls_u128)a[1] * a[1];
    etls_u128 d2 = (etls_u128)a[2] * a[2], d3 = (etls_u128)a[3] * a[3];
    s[0] = (uint64_t)d0;
    unsigned char k = _addcarry_u64(0, t[1], (uint64_t)(d0 >> 64), &s[1]);
    k = _addcarry_u64(k, t[2], (uint64_t)d1, &s[2]);
    k = _addcarry_u64(k, t[3], (uint64_t)(d1 >> 64), &s[3]);
    k = _addcarry_u64(k, t[4], (uint64_t)d2, &s[4]);
    k = _addcarry_u64(k, t[5], (uint64_t)(d2 >> 64), &s[5]);
    k = _addcarry_u64(k, t[6], (uint64_t)d3, &s[6]);
    _addcarry_u64(k, t[7], (uint64_t)(d3 >> 64), &s[7]);
    const uint64_t u[8] = {s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]};
    etls_fe_redc(r, u);
#endif
}

static inline void etls_fe_add(etls_p256_fe r, const etls_p256_fe a, const etls_p256_fe b)
{
#ifdef ETLS_P256_ADX
    etls_adx_add_p(r, a, b, etls_p256_p);
#else
    etls_mod_add(r, a, b, etls_p256_p);
#endif
}
static inline void etls_fe_sub(etls_p256_fe r, const etls_p256_fe a, const etls_p256_fe b)
{
#ifdef ETLS_P256_ADX
    etls_adx_sub_p(r, a, b, etls_p256_p);
#else
    etls_mod_sub(r, a, b, etls_p256_p);
#endif
}
static inline void etls_fe_copy(etls_p256_fe r, const etls_p256_fe a)
{
    for (int j = 0; j < 4; j++)
        r[j] = a[j];
}

/* All-ones when a == 0 (limbs reduced), else 0. */
static inline uint64_t etls_fe_is_zero(const etls_p256_fe a)
{
    return etls_ct_is_zero_mask(a[0] | a[1] | a[2] | a[3]);
}

/* r = a when mask is all-ones, unchanged when 0. */
static inline void etls_fe_cmov(etls_p256_fe r, const etls_p256_fe a, uint64_t mask)
{
    for (int j = 0; j < 4; j++)
        r[j] ^= mask & (r[j] ^ a[j]);
}

/* Big-endian bytes <-> limbs (no reduction, no Montgomery conversion). */
static inline void etls_p256_from_be(uint64_t r[4], const uint8_t in[32])
{
    for (int j = 0; j < 4; j++) {
        uint64_t w = 0;
        for (int k = 0; k < 8; k++)
            w = (w << 8) | in[(3 - j) * 8 + k];
        r[j] = w;
    }
}
static inline void etls_p256_to_be(uint8_t out[32], const uint64_t a[4])
{
    for (int j = 0; j < 4; j++)
        for (int k = 0; k < 8; k++)
            out[(3 - j) * 8 + k] = (uint8_t)(a[j] >> (56 - 8 * k));
}

/* All-ones when a < m (limbs taken as a 256-bit integer), else 0. */
static inline uint64_t etls_p256_lt(const uint64_t a[4], const uint64_t m[4])
{
    uint64_t borrow = 0;
    for (int j = 0; j < 4; j++) {
        etls_u128 x = (etls_u128)a[j] - m[j] - borrow;
        borrow = (uint64_t)(x >> 64) & 1;
    }
    return etls_ct_barrier_u64(0 - borrow);
}

#endif
