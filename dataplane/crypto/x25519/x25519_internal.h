/* Internal to dataplane/crypto/x25519: pieces shared by the implementations (portable ladder,
 * AVX2 lanes, fixed-base key generation) and the dispatcher in x25519.c. Not a public API. */
#ifndef ETLS_CRYPTO_X25519_INTERNAL_H
#define ETLS_CRYPTO_X25519_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/ct.h"
#include "common/err.h"
#include "crypto/x25519.h"

/* RFC 7748 §5 decodeScalar25519: clear the 3 low bits, clear bit 255, set bit 254. The result
 * is secret; callers wipe it. */
static inline void etls_x25519_clamp(uint8_t k[32], const uint8_t sk[32])
{
    for (int i = 0; i < 32; i++)
        k[i] = sk[i];
    k[0] &= 248;
    k[31] &= 127;
    k[31] |= 64;
}

/* 0, or ETLS_ERR_INVALID when out is all zero (RFC 7748 §6.1: a low-order peer point). The
 * test runs in constant time; its outcome is public by protocol (the handshake aborts), so it
 * is declassified before anyone branches on it. */
static inline int etls_x25519_zero_status(const uint8_t out[32])
{
    uint64_t acc = 0;
    for (int i = 0; i < 32; i++)
        acc |= out[i];
    int is_zero = (int)(etls_ct_is_zero_mask(acc) & 1);
    etls_ct_declassify(&is_zero, sizeof is_zero);
    return is_zero ? ETLS_ERR_INVALID : 0;
}

/* Portable Montgomery ladder (x25519_portable.c): out = X25519(sk, peer); returns the status
 * above. sk is the raw scalar (clamped here). */
int etls_x25519_portable_one(uint8_t out[32], const uint8_t sk[32], const uint8_t peer[32]);

/* Fixed-base key generation on Edwards25519 (x25519_base.c). etls_x25519_base_batch takes the
 * ops whose peer is NULL (n of them, any n) and shares one field inversion per chunk. */
void etls_x25519_base_one(uint8_t pub[32], const uint8_t sk[32]);
void etls_x25519_base_batch(etls_x25519_op_t *const *ops, size_t n);

/* The fixed-base table (public data), for implementations that keep it in their own radix:
 * entry (row, col) = (col + 1) * 256^row * B as canonical encodings of y + x, y - x, 2dxy.
 * Rows 0..31, columns 0..7; builds the table on first use. */
void etls_x25519_base_table_entry(int row, int col, uint8_t ypx[32], uint8_t ymx[32],
                                  uint8_t xy2d[32]);

/* The same key generation on eight lanes with AVX-512 IFMA (x25519_ifma.c): ops[0..n), n <= 8
 * (lanes beyond n repeat op 0). Only when etls_x25519_ifma_get() is not NULL. */
void etls_x25519_ifma_base_group(etls_x25519_op_t *const *ops, size_t n);

#endif
