/* SHA-256, SHA-384, HMAC and HKDF (RFC 2104, RFC 5869), with incremental hashing for TLS
 * transcripts. Compression is chosen once at run time from etls_cpu_features(): SHA-256 uses
 * SHA-NI, SHA-384 an AVX2 schedule with BMI2 rounds, else portable C (ETLS_CPU_DISABLE=sha_ni,avx2
 * forces the portable code).
 * Contexts are plain caller-owned structs (no interior pointers, no allocation, safe to copy
 * to fork a transcript); HMAC and hash contexts hold secrets and are wiped by the _final calls.
 * Functions take the algorithm as given: an etls_hash_alg_t outside the enum is a caller bug
 * (etls_hash_len returns 0 for it; the HKDF calls return ETLS_ERR_INVALID). */
#ifndef ETLS_CRYPTO_HASH_H
#define ETLS_CRYPTO_HASH_H

#include <stddef.h>
#include <stdint.h>

typedef enum { ETLS_HASH_SHA256 = 1, ETLS_HASH_SHA384 = 2 } etls_hash_alg_t;

#define ETLS_SHA256_LEN 32
#define ETLS_SHA384_LEN 48
#define ETLS_HASH_MAX_LEN 48

typedef struct etls_hash_ctx {
    etls_hash_alg_t alg;
    uint64_t nbytes; /* total bytes absorbed (2^64 bytes is far beyond any TLS use) */
    uint32_t buflen;
    union {
        uint32_t s256[8];
        uint64_t s512[8];
    } h;
    uint8_t buf[128];
} etls_hash_ctx_t;

size_t etls_hash_len(etls_hash_alg_t alg);
size_t etls_hash_block_len(etls_hash_alg_t alg);
const char *etls_hash_impl_name(etls_hash_alg_t alg); /* "sha_ni", "avx2" or "portable" */

void etls_hash_init(etls_hash_ctx_t *c, etls_hash_alg_t alg);
void etls_hash_update(etls_hash_ctx_t *c, const void *data, size_t len);
/* Writes the digest and wipes the context. */
void etls_hash_final(etls_hash_ctx_t *c, uint8_t *out);
/* Digest of everything absorbed so far; the context keeps going (transcript hashes). */
void etls_hash_peek(const etls_hash_ctx_t *c, uint8_t *out);
void etls_hash(etls_hash_alg_t alg, const void *data, size_t len, uint8_t *out);

typedef struct etls_hmac_ctx {
    etls_hash_ctx_t inner, outer;
} etls_hmac_ctx_t;

void etls_hmac_init(etls_hmac_ctx_t *c, etls_hash_alg_t alg, const void *key, size_t keylen);
void etls_hmac_update(etls_hmac_ctx_t *c, const void *data, size_t len);
void etls_hmac_final(etls_hmac_ctx_t *c, uint8_t *out); /* wipes c */
/* HMAC of the concatenation of segs[0..nsegs) with a key already set up by etls_hmac_init;
 * keyed is not modified, so one key setup serves many messages (the TLS 1.3 key schedule
 * expands each secret several times). The caller wipes keyed when done. */
typedef struct etls_hmac_seg {
    const void *p;
    size_t n;
} etls_hmac_seg_t;
void etls_hmac_keyed(const etls_hmac_ctx_t *keyed, const etls_hmac_seg_t *segs, size_t nsegs,
                     uint8_t *out);
void etls_hmac(etls_hash_alg_t alg, const void *key, size_t keylen, const void *data, size_t len,
               uint8_t *out);

/* HKDF-Extract: prk = HMAC(salt, ikm); salt NULL/0 means a string of HashLen zeros. */
void etls_hkdf_extract(etls_hash_alg_t alg, const void *salt, size_t saltlen, const void *ikm,
                       size_t ikmlen, uint8_t *prk);
/* HKDF-Expand; returns ETLS_ERR_INVALID when outlen > 255 * HashLen. */
int etls_hkdf_expand(etls_hash_alg_t alg, const uint8_t *prk, size_t prklen, const void *info,
                     size_t infolen, uint8_t *out, size_t outlen);
/* HKDF-Expand with the PRK already set up as an HMAC key (etls_hmac_init), so several expands
 * from one secret pay for the key setup once. prk_hmac is not modified; the caller wipes it. */
int etls_hkdf_expand_keyed(const etls_hmac_ctx_t *prk_hmac, const void *info, size_t infolen,
                           uint8_t *out, size_t outlen);

#endif
