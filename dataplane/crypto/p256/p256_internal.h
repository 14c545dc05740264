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

/* A point (X, Y, Z) in Montgomery coordinates. The scalar multiplications take and return
 * Jacobian coordinates (x = X/Z^2, y = Y/Z^3; an affine point has Z = 1; infinity has Z = 0);
 * p256_point.c also uses homogeneous projective ones (x = X/Z) inside the complete formulas. */
typedef struct etls_p256_pt {
    etls_p256_fe x, y, z;
} etls_p256_pt_t;

/* Affine point with Montgomery coordinates (table entries; never infinity). */
typedef struct etls_p256_aff {
    etls_p256_fe x, y;
} etls_p256_aff_t;

/* The arithmetic behind every operation: p256_scalar.c + p256_point.c compiled twice, with the
 * portable 64-bit field code (p256_arith_c.c) and with mulx/adcx/adox (p256_arith_adx.c, used
 * only after a CPU check). Scalars mod n are plain limbs except where a name says _m (Montgomery
 * form mod n). Everything is constant time in its secret inputs except sum_x and decode, which
 * serve verification and peer points (public data). */
typedef struct etls_p256_arith {
    const char *name;
    void (*sc_to_mont)(uint64_t r[4], const uint64_t a[4]);
    void (*sc_from_mont)(uint64_t r[4], const uint64_t a[4]);
    void (*sc_mul_m)(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]);
    void (*sc_inv_m)(uint64_t r[4], const uint64_t a[4]); /* Montgomery in and out */
    void (*fe_mul)(etls_p256_fe r, const etls_p256_fe a, const etls_p256_fe b);
    void (*fe_inv)(etls_p256_fe r, const etls_p256_fe a); /* a^(p-2); 0 -> 0 */
    /* r = k * G for k < n (plain limbs). */
    void (*mul_base)(etls_p256_pt_t *r, const uint64_t k[4]);
    /* r = k * p for 1 <= k < n and a decoded (affine, on-curve) p. */
    void (*mul)(etls_p256_pt_t *r, const etls_p256_pt_t *p, const uint64_t k[4]);
    /* Affine coordinates as plain limbs; all-ones when p is infinity (x, y then 0). */
    uint64_t (*to_affine)(uint64_t x[4], uint64_t y[4], const etls_p256_pt_t *p);
    /* x(a + b) as plain limbs for any a, b; all-ones when the sum is infinity. */
    uint64_t (*sum_x)(uint64_t x[4], const etls_p256_pt_t *a, const etls_p256_pt_t *b);
    /* A 65-byte uncompressed point with full validation (0x04, coordinates < p, on the curve);
     * 0 or ETLS_ERR_INVALID; r is affine (Z = 1). */
    int (*decode)(etls_p256_pt_t *r, const uint8_t *in, size_t len);
    /* 0x04 || x || y of a finite point; all-ones when p is infinity (out then zero). */
    uint64_t (*encode)(uint8_t out[ETLS_P256_PUB_LEN], const etls_p256_pt_t *p);
} etls_p256_arith_t;

extern const etls_p256_arith_t etls_p256_arith_c;
extern const etls_p256_arith_t etls_p256_arith_adx; /* needs BMI2 + ADX */
/* The copy an implementation uses (portable: C; the others: ADX when the CPU has it). */
const etls_p256_arith_t *etls_p256_arith_best(void);

/* a mod n for any 256-bit a (one conditional subtraction: 2^256 < 2n). */
static inline void etls_sc_reduce(uint64_t r[4], const uint64_t a[4])
{
    etls_mod_final_sub(r, a, 0, etls_p256_n);
}

/* All-ones when 1 <= a < n, else 0; constant time. */
static inline uint64_t etls_sc_in_range(const uint64_t a[4])
{
    uint64_t nonzero = ~etls_ct_is_zero_mask(a[0] | a[1] | a[2] | a[3]);
    return nonzero & etls_p256_lt(a, etls_p256_n);
}

/* ---- ECDSA (p256_ecdsa.c) ---- */
/* The batch behind every implementation's sign_batch: groups of up to 16 share one inversion
 * mod p (the affine x of k G) and one mod n (k^-1). Statuses as etls_p256_sign_op_t says. */
void etls_p256_sign_many(const etls_p256_arith_t *ar, etls_p256_sign_op_t *ops, size_t n);
int etls_p256_sign_one(const etls_p256_arith_t *ar, uint8_t sig[ETLS_P256_SIG_LEN],
                       const etls_p256_sk_t *sk, const uint8_t digest[32], const uint8_t extra[32]);

#endif
