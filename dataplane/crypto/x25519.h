/* X25519 (RFC 7748): variable-base shared secrets and fixed-base key generation.
 *
 * Several implementations exist (BearSSL style): each has a _get() that returns NULL when the
 * running CPU lacks what it needs. etls_x25519_best() picks the widest available once, at first
 * use. Everything here is constant-time in the secret scalar. Callers own all buffers; nothing
 * allocates, nothing keeps a pointer after returning, and intermediate secrets (clamped scalars,
 * ladder and Edwards state) are wiped before returning. All functions are thread-safe (the
 * key-generation table, 32 KiB, is built once under pthread_once at first use, ~0.2 ms; with
 * AVX-512 IFMA a 30 KiB radix-2^52 copy of it too).
 *
 * Owners: portable ladder, key generation and dispatch in dataplane/crypto/x25519/
 * (x25519_portable.c, x25519_base.c, x25519.c); the AVX2 lanes in x25519_avx2.c; the AVX-512
 * IFMA lanes in x25519_ifma.c. */
#ifndef ETLS_CRYPTO_X25519_H
#define ETLS_CRYPTO_X25519_H

#include <stddef.h>
#include <stdint.h>

#define ETLS_X25519_LEN 32

/* One request in a batch. peer == NULL means fixed-base key generation (out = sk * 9).
 * status is 0 on success or ETLS_ERR_INVALID when a shared secret is all zero (RFC 7748 §6.1:
 * the peer sent a low-order point; TLS 1.3 requires aborting). */
typedef struct etls_x25519_op {
    const uint8_t *sk;   /* 32-byte scalar; clamped internally, caller's copy untouched */
    const uint8_t *peer; /* 32-byte u-coordinate, or NULL for key generation */
    uint8_t *out;        /* 32 bytes */
    int status;
} etls_x25519_op_t;

typedef struct etls_x25519_impl {
    const char *name; /* "portable", "avx2", "ifma" */
    unsigned lanes;   /* how many variable-base multiplications run side by side */
    /* Runs n variable-base multiplications (all ops have peer != NULL). */
    void (*shared_batch)(etls_x25519_op_t *ops, size_t n);
} etls_x25519_impl_t;

const etls_x25519_impl_t *etls_x25519_portable_get(void);
const etls_x25519_impl_t *etls_x25519_avx2_get(void);       /* NULL without AVX2 */
/* NULL without AVX-512 F + VL + IFMA (and OS-enabled zmm state). */
const etls_x25519_impl_t *etls_x25519_ifma_get(void);
const etls_x25519_impl_t *etls_x25519_best(void);

/* Runs a mixed batch: key generations through the fixed-base table (eight keys at a time on
 * AVX-512 IFMA lanes when the CPU has them, else one shared field inversion per 16 keys; the
 * key-generation route depends on the CPU only, not on `impl`), shared secrets through `impl`
 * (NULL = best). Every op's out and status are written; key generations always get status 0.
 * Order of execution is unspecified, so an op's out must not overlap another op's inputs. */
void etls_x25519_batch(const etls_x25519_impl_t *impl, etls_x25519_op_t *ops, size_t n);

/* Single operations (portable shared secret, table-based key generation). etls_x25519_shared
 * returns 0 or ETLS_ERR_INVALID (all-zero secret, out is then all zero); out may alias sk or
 * peer. The scalar is clamped internally (RFC 7748 §5); bit 255 of peer is ignored and peer
 * values >= p are reduced, as RFC 7748 requires. */
int etls_x25519_shared(uint8_t out[32], const uint8_t sk[32], const uint8_t peer[32]);
void etls_x25519_public(uint8_t pub[32], const uint8_t sk[32]);

#endif
