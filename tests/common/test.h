/* Minimal test harness: CHECK macros that count failures and report file:line, and hex helpers.
 * Every test program ends with `return etls_test_summary("name");` so meson sees the result. */
#ifndef ETLS_TESTS_TEST_H
#define ETLS_TESTS_TEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

extern unsigned long etls_test_checks, etls_test_failures;

#define CHECK(cond)                                                                               \
    do {                                                                                          \
        etls_test_checks++;                                                                       \
        if (!(cond)) {                                                                            \
            etls_test_failures++;                                                                 \
            if (etls_test_failures <= 20)                                                         \
                fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);         \
        }                                                                                         \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                      \
    do {                                                                                          \
        etls_test_checks++;                                                                       \
        if (!(cond)) {                                                                            \
            etls_test_failures++;                                                                 \
            if (etls_test_failures <= 20) {                                                       \
                fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);         \
                fprintf(stderr, __VA_ARGS__);                                                     \
                fputc('\n', stderr);                                                              \
            }                                                                                     \
        }                                                                                         \
    } while (0)

#define CHECK_MEM(a, b, n) CHECK_MSG(memcmp((a), (b), (n)) == 0, "%zu bytes differ", (size_t)(n))

/* Prints "<name>: N checks, N failed" and returns the process exit status (0 = pass).
 * A test that ran zero checks fails: it asserted nothing. */
int etls_test_summary(const char *name);

/* Decodes hex into out (at most cap bytes); returns the byte count or -1 on bad hex/overflow. */
long etls_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t cap);
void etls_hex_print(FILE *f, const char *label, const uint8_t *p, size_t n);

/* A fast deterministic PRNG for differential tests (xoshiro256**), seeded from a number so any
 * failure can be reproduced with the printed seed. Not for anything secret. */
typedef struct {
    uint64_t s[4];
} etls_test_rng_t;
void etls_test_rng_seed(etls_test_rng_t *r, uint64_t seed);
uint64_t etls_test_rng_next(etls_test_rng_t *r);
void etls_test_rng_bytes(etls_test_rng_t *r, void *out, size_t n);
/* Seed from ETLS_TEST_SEED when set, else from the clock; printed either way. */
uint64_t etls_test_seed(const char *name);

#endif
