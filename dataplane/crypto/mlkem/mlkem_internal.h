/* Internals of dataplane/crypto/mlkem/: parameters, polynomial types and the functions shared
 * between keccak.c, keccak_avx2.c, poly.c and mlkem.c (and the tests that check them one by one).
 * Nothing here allocates; every buffer is the caller's. */
#ifndef ETLS_CRYPTO_MLKEM_INTERNAL_H
#define ETLS_CRYPTO_MLKEM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/mlkem.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the Keccak byte access and the encodings assume a little-endian CPU"
#endif

#define MLKEM_N 256
#define MLKEM_Q 3329
#define MLKEM_K 3
#define MLKEM_POLY_BYTES 384 /* ByteEncode12 of one polynomial */
#define MLKEM_DU 10
#define MLKEM_DV 4
#define MLKEM_CBD_BYTES 128 /* PRF output for eta = 2: 64 * eta */

typedef struct {
    int16_t c[MLKEM_N];
} mlkem_poly_t;

typedef struct {
    mlkem_poly_t p[MLKEM_K];
} mlkem_polyvec_t;

/* ---- Keccak ---- */

extern const uint64_t etls_keccak_rc[24];

/* Four Keccak states interleaved lane by lane: s[4 * i + j] is lane i of state j, the layout the
 * AVX2 permutation loads directly. */
typedef struct {
    uint64_t s[100];
} __attribute__((aligned(32))) etls_keccak4_t;

typedef struct etls_keccak4_impl {
    const char *name;
    void (*permute)(etls_keccak4_t *st);
} etls_keccak4_impl_t;

const etls_keccak4_impl_t *etls_keccak4_avx2_get(void); /* NULL without AVX2 */
const etls_keccak4_impl_t *etls_keccak4_avx512_get(void); /* NULL without AVX-512F+VL */
/* One permutation: the portable one, or AVX-512VL (keccak_avx512.c; NULL without it).
 * etls_keccak_f1600 dispatches to the best one, chosen once. */
typedef void (*etls_keccak1_fn)(uint64_t s[25]);
etls_keccak1_fn etls_keccak1_avx512_get(void);
void etls_keccak_f1600_portable(uint64_t s[25]);
const etls_keccak4_impl_t *etls_keccak4_portable_get(void);
/* What the ML-KEM code uses: AVX-512VL, else AVX2 when available, else NULL (one state at a
 * time). */
const etls_keccak4_impl_t *etls_mlkem_keccak4(void);

/* ---- arithmetic and sampling (poly.c) ---- */

int16_t etls_mlkem_montgomery_reduce(int32_t a); /* a * 2^-16 mod q, in (-q, q) for |a| < q 2^15 */
int16_t etls_mlkem_barrett_reduce(int16_t a);    /* a mod q, centred: in [-(q-1)/2, (q-1)/2] */
void etls_mlkem_poly_reduce(mlkem_poly_t *p);    /* every coefficient to [0, q) */
void etls_mlkem_poly_ntt(mlkem_poly_t *p);       /* input |c| < q; output |c| < q, bit-reversed */
void etls_mlkem_poly_invntt(mlkem_poly_t *p);    /* also removes one Montgomery factor */
void etls_mlkem_poly_tomont(mlkem_poly_t *p);    /* times 2^16 mod q */
/* r = sum_i a[i] o b[i] in the NTT domain (MultiplyNTTs), times 2^-16, |c| < q. */
void etls_mlkem_polyvec_basemul_acc(mlkem_poly_t *r, const mlkem_polyvec_t *a,
                                    const mlkem_polyvec_t *b);
void etls_mlkem_poly_add(mlkem_poly_t *r, const mlkem_poly_t *a); /* r += a, no reduction */

/* 17^BitRev7(i) times 2^16 mod q, centred (FIPS 203 Appendix A in Montgomery form). */
extern const int16_t etls_mlkem_zetas[128];

/* The NTT-domain kernels, one implementation per CPU feature (the BearSSL _get() pattern):
 * portable (the functions above) and AVX2 (poly_avx2.c, compiled with -mavx2; NULL without
 * AVX2). Every implementation gives the same bits as the portable one. */
typedef struct etls_mlkem_poly_impl {
    const char *name;
    void (*ntt)(mlkem_poly_t *p);
    void (*invntt)(mlkem_poly_t *p);
    void (*basemul_acc)(mlkem_poly_t *r, const mlkem_polyvec_t *a, const mlkem_polyvec_t *b);
} etls_mlkem_poly_impl_t;

const etls_mlkem_poly_impl_t *etls_mlkem_poly_portable_get(void);
const etls_mlkem_poly_impl_t *etls_mlkem_poly_avx2_get(void);
/* What ML-KEM uses: AVX2 when available (ETLS_CPU_DISABLE=avx2 forces portable), chosen once. */
const etls_mlkem_poly_impl_t *etls_mlkem_poly(void);
void etls_mlkem_poly_sub(mlkem_poly_t *r, const mlkem_poly_t *a); /* r -= a, no reduction */

/* SampleNTT (Alg. 7) from up to nblocks * 168 bytes of SHAKE128 output already squeezed into
 * buf; returns how many coefficients were filled starting at *ctr. Public data only. */
unsigned etls_mlkem_rej_uniform(int16_t *c, unsigned ctr, const uint8_t *buf, size_t len);
/* SamplePolyCBD_2 (Alg. 8) from 128 bytes. */
void etls_mlkem_poly_cbd2(mlkem_poly_t *p, const uint8_t buf[MLKEM_CBD_BYTES]);

/* ByteEncode12 of coefficients in [0, q) / ByteDecode12; decode returns an all-ones mask when
 * every coefficient was < q (the §7.2 modulus check), zero otherwise, and always reduces the
 * coefficients into [0, q) in constant time, so any bytes are safe to decode. */
void etls_mlkem_poly_tobytes(uint8_t out[MLKEM_POLY_BYTES], const mlkem_poly_t *p);
uint32_t etls_mlkem_poly_frombytes(mlkem_poly_t *p, const uint8_t in[MLKEM_POLY_BYTES]);
/* Compress_d then ByteEncode_d of coefficients in [0, q) (d in 1, 4, 5, 10), and the reverse with
 * Decompress_d; out/in hold 32 * d bytes. */
void etls_mlkem_poly_compress(uint8_t *out, const mlkem_poly_t *p, unsigned d);
void etls_mlkem_poly_decompress(mlkem_poly_t *p, const uint8_t *in, unsigned d);

#endif
