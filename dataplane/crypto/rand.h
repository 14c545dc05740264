/* Random bytes for one worker: getrandom() refilled in blocks, consumed bytes wiped.
 *
 * The RNG lives in a caller-owned context (picotls style) so tests and fuzzers can make it
 * deterministic with etls_rand_init_seeded. Not thread-safe: one per worker. */
#ifndef ETLS_CRYPTO_RAND_H
#define ETLS_CRYPTO_RAND_H

#include <stddef.h>
#include <stdint.h>

#define ETLS_RAND_BUF 4096

typedef struct etls_rand {
    size_t pos; /* next unread byte in buf */
    int seeded; /* deterministic mode: buf refilled from SHA-256(seed || counter) */
    uint64_t counter;
    uint8_t seed[32];
    uint8_t buf[ETLS_RAND_BUF];
} etls_rand_t;

/* No system call here: the buffer is filled on first use. */
void etls_rand_init(etls_rand_t *r);
void etls_rand_init_seeded(etls_rand_t *r, const uint8_t seed[32]); /* tests and fuzzing only */
/* Fills out[0..n); returns 0, ETLS_ERR_INVALID for n == 0 or out == NULL (a zero-length
 * request is a caller bug), or ETLS_ERR_IO when the kernel cannot supply entropy (getrandom
 * failed other than EINTR); then the bytes already copied to out are zeroed and the next call
 * tries the kernel again. */
int etls_rand_bytes(etls_rand_t *r, void *out, size_t n);
/* Wipes seed, counter and buffered bytes; r is then an empty kernel-mode RNG. */
void etls_rand_wipe(etls_rand_t *r);

#endif
