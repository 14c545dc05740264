/* Constant-time helpers and secret hygiene, in one place so every module uses the same ones.
 *
 * Rules: a secret never decides a branch or a memory index. Comparisons of tags, MACs and
 * Finished values go through etls_ct_memeq. Secrets are wiped with etls_wipe, which the
 * compiler cannot elide. Where a value derived from a secret is public by protocol (e.g. "the
 * tag matched"), etls_ct_declassify marks that explicitly; under valgrind-based constant-time
 * tests (tests/ct) secret inputs are marked undefined and any branch on them is reported. */
#ifndef ETLS_COMMON_CT_H
#define ETLS_COMMON_CT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(ETLS_HAVE_VALGRIND)
#include <valgrind/memcheck.h>
#define etls_ct_classify(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define etls_ct_declassify(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#else
#define etls_ct_classify(p, n) ((void)(p), (void)(n))
#define etls_ct_declassify(p, n) ((void)(p), (void)(n))
#endif

/* Optimisation barrier: stops the compiler from turning masks back into branches. */
static inline uint64_t etls_ct_barrier_u64(uint64_t x)
{
    __asm__("" : "+r"(x));
    return x;
}

/* Returns 1 when a[0..n) == b[0..n), 0 otherwise; time depends only on n. */
static inline int etls_ct_memeq(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *x = (const volatile uint8_t *)a, *y = (const volatile uint8_t *)b;
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (uint8_t)(x[i] ^ y[i]);
    uint32_t r = (uint32_t)etls_ct_barrier_u64(d);
    int eq = (int)(1 & ((r - 1) >> 8));
    etls_ct_declassify(&eq, sizeof eq);
    return eq;
}

/* All-ones when x == 0, else 0. */
static inline uint64_t etls_ct_is_zero_mask(uint64_t x)
{
    return etls_ct_barrier_u64(((~x & (x - 1)) >> 63)) * UINT64_MAX;
}

/* mask is all-ones or zero; returns a when mask is set, else b. */
static inline uint64_t etls_ct_select_u64(uint64_t mask, uint64_t a, uint64_t b)
{
    return b ^ (mask & (a ^ b));
}

/* Conditional copy: dst = src when mask is all-ones, unchanged when zero. */
static inline void etls_ct_cmov(void *dst, const void *src, size_t n, uint8_t mask)
{
    uint8_t *d = (uint8_t *)dst;
    const uint8_t *s = (const uint8_t *)src;
    for (size_t i = 0; i < n; i++)
        d[i] ^= (uint8_t)(mask & (d[i] ^ s[i]));
}

/* Wipes secrets; explicit_bzero is not removed by dead-store elimination. */
static inline void etls_wipe(void *p, size_t n)
{
    if (p && n)
        explicit_bzero(p, n);
}

#endif
