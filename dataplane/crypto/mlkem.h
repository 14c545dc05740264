/* ML-KEM-768 (FIPS 203) and the SHA-3 family it is built on (FIPS 202), for the hybrid TLS
 * group X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem, code point 0x11EC).
 *
 * Roles in TLS 1.3: the client generates a key pair and sends the encapsulation key ek; the
 * server encapsulates against it and returns the ciphertext; the client decapsulates. Both ends
 * then hold the same 32-byte shared secret.
 *
 * Ownership: every buffer is the caller's; nothing allocates, nothing keeps a pointer after
 * returning, outputs may not overlap inputs. Intermediate secrets (seeds, noise, the message,
 * decrypted plaintext, Keccak states that absorbed secrets) are wiped before returning; the
 * caller wipes the secrets it holds (dk, the shared secret, the seeds it passed in). All
 * functions are constant-time in secret data (the decapsulation key, seeds, m, the shared
 * secret, and whether a ciphertext was rejected); ek and ct are public. Thread-safe.
 *
 * Implementations: portable C throughout; the matrix expansion (SampleNTT of the 3x3 matrix
 * from rho) and the noise sampling run four SHAKE instances side by side (AVX-512VL, else
 * AVX2), single Keccak permutations use AVX-512VL, and the NTT, its inverse and MultiplyNTTs
 * use AVX2, each when the CPU has it (chosen at first use; ETLS_CPU_DISABLE=avx512f gives the
 * AVX2 paths, ETLS_CPU_DISABLE=avx2 the portable ones).
 *
 * Owners: dataplane/crypto/mlkem/ (keccak.c: Keccak-f[1600], SHA-3, SHAKE; keccak_avx2.c: the
 * 4-way permutation; keccak_avx512.c: the 1- and 4-way AVX-512VL permutations; poly.c:
 * arithmetic mod q, NTT, sampling, encodings; poly_avx2.c: the AVX2 NTT kernels; mlkem.c: K-PKE
 * and ML-KEM). */
#ifndef ETLS_CRYPTO_MLKEM_H
#define ETLS_CRYPTO_MLKEM_H

#include <stddef.h>
#include <stdint.h>

#define ETLS_MLKEM768_EK_LEN 1184
#define ETLS_MLKEM768_DK_LEN 2400
#define ETLS_MLKEM768_CT_LEN 1088
#define ETLS_MLKEM768_SS_LEN 32
#define ETLS_MLKEM768_SEED_LEN 64 /* d || z, the FIPS 203 key-generation seed */
#define ETLS_MLKEM_MSG_LEN 32

struct etls_rand;

/* ---- ML-KEM-768 ---- */

/* ML-KEM.KeyGen_internal(d, z) (FIPS 203 Alg. 16) from seed = d || z. Returns 0, or
 * ETLS_ERR_INVALID when seed_len != 64 (outputs untouched). */
int etls_mlkem768_keygen_seed(uint8_t ek[ETLS_MLKEM768_EK_LEN], uint8_t dk[ETLS_MLKEM768_DK_LEN],
                              const uint8_t *seed, size_t seed_len);
/* ML-KEM.KeyGen (Alg. 19): d and z drawn from rng. Returns 0 or the RNG's error (outputs are
 * then zeroed). */
int etls_mlkem768_keygen(uint8_t ek[ETLS_MLKEM768_EK_LEN], uint8_t dk[ETLS_MLKEM768_DK_LEN],
                         struct etls_rand *rng);

/* ML-KEM.Encaps_internal(ek, m) (Alg. 17) after the input checks of §7.2: ek_len must be 1184
 * and every coefficient of ek must be < q (modulus check); otherwise ETLS_ERR_INVALID with ct
 * and ss zeroed. m is the 32-byte message (tests; real use goes through etls_mlkem768_encaps). */
int etls_mlkem768_encaps_msg(uint8_t ct[ETLS_MLKEM768_CT_LEN], uint8_t ss[ETLS_MLKEM768_SS_LEN],
                             const uint8_t *ek, size_t ek_len, const uint8_t m[ETLS_MLKEM_MSG_LEN]);
/* ML-KEM.Encaps (Alg. 20): m drawn from rng. Returns 0, ETLS_ERR_INVALID (bad ek) or the RNG's
 * error; on error ct and ss are zeroed. */
int etls_mlkem768_encaps(uint8_t ct[ETLS_MLKEM768_CT_LEN], uint8_t ss[ETLS_MLKEM768_SS_LEN],
                         const uint8_t *ek, size_t ek_len, struct etls_rand *rng);

/* ML-KEM.Decaps (Alg. 21) after the checks of §7.3: dk_len 2400, ct_len 1088 and the hash check
 * H(ek part of dk) == h part of dk; a failed check returns ETLS_ERR_INVALID with ss zeroed. A
 * ciphertext that does not re-encrypt to itself is not an error: ss is then the implicit
 * rejection secret J(z || ct), selected in constant time, and 0 is returned. */
int etls_mlkem768_decaps(uint8_t ss[ETLS_MLKEM768_SS_LEN], const uint8_t *dk, size_t dk_len,
                         const uint8_t *ct, size_t ct_len);

/* The 4-way Keccak in use: "avx512", "avx2" or "portable". */
const char *etls_mlkem_impl_name(void);

/* ---- SHA-3 and SHAKE (FIPS 202) ---- */

#define ETLS_SHA3_256_LEN 32
#define ETLS_SHA3_512_LEN 64
#define ETLS_SHAKE128_RATE 168
#define ETLS_SHAKE256_RATE 136

/* Incremental SHAKE: init, any number of absorbs, then any number of squeezes (the first
 * squeeze pads; absorbing after it is a caller bug and is ignored). Plain caller-owned struct;
 * wipe it with etls_shake_wipe when it absorbed a secret. */
typedef struct etls_shake_ctx {
    uint64_t s[25];
    uint32_t pos;  /* absorb: bytes in the current block; squeeze: bytes of it already read */
    uint32_t rate; /* bytes per block */
    uint8_t pad;   /* domain separation and first padding bit: 0x1f SHAKE, 0x06 SHA-3 */
    uint8_t squeezing;
} etls_shake_ctx_t;

void etls_shake128_init(etls_shake_ctx_t *c);
void etls_shake256_init(etls_shake_ctx_t *c);
void etls_shake_absorb(etls_shake_ctx_t *c, const void *data, size_t len);
void etls_shake_squeeze(etls_shake_ctx_t *c, uint8_t *out, size_t len);
void etls_shake_wipe(etls_shake_ctx_t *c);

void etls_shake128(uint8_t *out, size_t outlen, const void *in, size_t inlen);
void etls_shake256(uint8_t *out, size_t outlen, const void *in, size_t inlen);
void etls_sha3_256(uint8_t out[ETLS_SHA3_256_LEN], const void *in, size_t inlen);
void etls_sha3_512(uint8_t out[ETLS_SHA3_512_LEN], const void *in, size_t inlen);

/* Keccak-f[1600] on 25 little-endian lanes (exposed for known-answer tests). */
void etls_keccak_f1600(uint64_t s[25]);

#endif
