/* Internal to crypto/hash: the compression functions behind hash.h, exposed so tests can run
 * every implementation against the same vectors (WireGuard/BearSSL habit: each SIMD path meets
 * the portable one). Not part of the engine-facing API.
 *
 * A compress function absorbs nblocks consecutive 64-byte (SHA-256) or 128-byte (SHA-512)
 * blocks into the state h; multi-block calls let long inputs avoid per-block call overhead. */
#ifndef ETLS_CRYPTO_HASH_SHA_IMPL_H
#define ETLS_CRYPTO_HASH_SHA_IMPL_H

#include <stddef.h>
#include <stdint.h>

typedef void etls_sha256_compress_fn(uint32_t h[8], const uint8_t *blocks, size_t nblocks);
typedef void etls_sha512_compress_fn(uint64_t h[8], const uint8_t *blocks, size_t nblocks);

void etls_sha256_compress_portable(uint32_t h[8], const uint8_t *blocks, size_t nblocks);
/* Only call when etls_cpu_has(ETLS_CPU_SHA_NI | ETLS_CPU_SSE41). */
void etls_sha256_compress_shani(uint32_t h[8], const uint8_t *blocks, size_t nblocks);
/* Only call when etls_cpu_has(ETLS_CPU_AVX2 | ETLS_CPU_BMI2); used when SHA-NI is absent. */
void etls_sha256_compress_avx2(uint32_t h[8], const uint8_t *blocks, size_t nblocks);
void etls_sha512_compress_portable(uint64_t h[8], const uint8_t *blocks, size_t nblocks);
/* Only call when etls_cpu_has(ETLS_CPU_AVX2 | ETLS_CPU_BMI2). */
void etls_sha512_compress_avx2(uint64_t h[8], const uint8_t *blocks, size_t nblocks);

/* The implementation hash.h uses, chosen once from etls_cpu_features(). */
etls_sha256_compress_fn *etls_sha256_compress_get(void);
etls_sha512_compress_fn *etls_sha512_compress_get(void);

extern const uint32_t etls_sha256_k[64];
extern const uint64_t etls_sha512_k[80];

#endif
