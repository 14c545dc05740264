/* Internal to dataplane/crypto/p256: points, scalars and the pieces shared between the group
 * code (p256_point.c), scalar arithmetic (p256_scalar.c), ECDSA (p256_ecdsa.c) and the public
 * entry points (p256.c). Not a public API. Field elements are in Montgomery form throughout;
 * scalars mod n are plain limbs except where a name says _m (Montgomery form mod n). */
#ifndef ETLS_CRYPTO_P256_INTERNAL_H
#define ETLS_CRYPTO_P256_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "crypto/p256.h"
#include "p256_fe.h"

/* Homogeneous projective point (X:Y:Z), x = X/Z, y = Y/Z; infinity is (0:1:0). The complete
 * formulas of Renes, Costello and Batina (2016, a = -3) handle every input, doubling and
 * infinity included, without branches. */
typedef struct etls_p256_pt {
    etls_p256_fe x, y, z;
} etls_p256_pt_t;

/* Affine point with Montgomery coordinates (table entries; never infinity). */
typedef struct etls_p256_aff {
    etls_p256_fe x, y;
} etls_p256_aff_t;

/* ---- field (p256_scalar.c) ---- */
void etls_fe_inv(etls_p256_fe r, const etls_p256_fe a); /* a^(p-2); 0 -> 0 */
void etls_fe_to_mont(etls_p256_fe r, const uint64_t a[4]);
void etls_fe_from_mont(uint64_t r[4], const etls_p256_fe a);

/* ---- scalars mod n (p256_scalar.c) ---- */
void etls_sc_to_mont(uint64_t r[4], const uint64_t a[4]);
void etls_sc_from_mont(uint64_t r[4], const uint64_t a[4]);
void etls_sc_mul_m(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]);
void etls_sc_inv_m(uint64_t r[4], const uint64_t a[4]); /* Montgomery in and out */
/* a mod n for any 256-bit a (one conditional subtraction: 2^256 < 2n). */
void etls_sc_reduce(uint64_t r[4], const uint64_t a[4]);
/* All-ones when 1 <= a < n, else 0; constant time. */
uint64_t etls_sc_in_range(const uint64_t a[4]);

/* ---- points (p256_point.c) ---- */
extern const etls_p256_fe etls_p256_b_m;
void etls_p256_pt_add(etls_p256_pt_t *r, const etls_p256_pt_t *p, const etls_p256_pt_t *q);
void etls_p256_pt_dbl(etls_p256_pt_t *r, const etls_p256_pt_t *p);
/* r = k * G for a scalar k < 2^256 (plain limbs), constant time in k. */
void etls_p256_mul_base(etls_p256_pt_t *r, const uint64_t k[4]);
/* r = k * p for k < 2^256, constant time in k (p is taken as public). */
void etls_p256_mul(etls_p256_pt_t *r, const etls_p256_pt_t *p, const uint64_t k[4]);
/* Affine coordinates as plain limbs; returns all-ones when r is infinity (x, y then 0). */
uint64_t etls_p256_to_affine(uint64_t x[4], uint64_t y[4], const etls_p256_pt_t *p);
/* Decodes a 65-byte uncompressed point with full validation (0x04, coordinates < p, on the
 * curve); 0 or ETLS_ERR_INVALID. Public data: variable time. */
int etls_p256_decode(etls_p256_pt_t *r, const uint8_t *in, size_t len);
/* 0x04 || x || y of a finite point; returns all-ones when p is infinity (out then zero). */
uint64_t etls_p256_encode(uint8_t out[ETLS_P256_PUB_LEN], const etls_p256_pt_t *p);

/* ---- ECDSA (p256_ecdsa.c) ---- */
int etls_p256_sign_one(uint8_t sig[ETLS_P256_SIG_LEN], const etls_p256_sk_t *sk,
                       const uint8_t digest[32], const uint8_t extra[32]);

#endif
