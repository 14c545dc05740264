/* Internal to dataplane/crypto/p256: the field and scalar multiplications with mulx/adcx/adox
 * (BMI2 + ADX), included only by p256_arith_adx.c, which runs after a CPU check.
 *
 * Why inline assembly: GCC 12 compiles the unsigned __int128 multiply of p256_fe.h into ~420
 * instructions (it zero-extends every addend and cannot keep a carry across mul, which clobbers
 * the flags); these sequences take ~110. Two carry chains (CF via adcx, OF via adox) run through
 * each row of the schoolbook product; mulx leaves the flags alone.
 *
 * Every sequence is straight-line: no branch, no secret-dependent address; the final correction
 * selects with cmov on the borrow, which has no data-dependent timing. */
#ifndef ETLS_CRYPTO_P256_FE_ADX_H
#define ETLS_CRYPTO_P256_FE_ADX_H

#include <stdint.h>

/* Memory the sequences read. Optimised builds name the arrays exactly (their addresses are
 * registers or stack offsets the asm already has); unoptimised ones (-O0, frame pointer, ASan)
 * have no registers to spare for that and fall back to a memory clobber. */
#ifdef __OPTIMIZE__
#define ETLS_ADX_IN4(p) , "m"(*(const uint64_t(*)[4])(p))
#define ETLS_ADX_CLOBBER "rdx", "cc"
#else
#define ETLS_ADX_IN4(p)
#define ETLS_ADX_CLOBBER "rdx", "cc", "memory"
#endif

/* One row i >= 1 of the product: t[i..i+4) += a * rdx, top word into T4. */
#define ETLS_ADX_ROW(T0, T1, T2, T3, T4)                                                           \
    "xorl %k[lo], %k[lo]\n\t"                                                                      \
    "mulxq 0(%[a]), %[lo], %[hi]\n\t"                                                              \
    "adcxq %[lo], %[" T0 "]\n\t"                                                                   \
    "adoxq %[hi], %[" T1 "]\n\t"                                                                   \
    "mulxq 8(%[a]), %[lo], %[hi]\n\t"                                                              \
    "adcxq %[lo], %[" T1 "]\n\t"                                                                   \
    "adoxq %[hi], %[" T2 "]\n\t"                                                                   \
    "mulxq 16(%[a]), %[lo], %[hi]\n\t"                                                             \
    "adcxq %[lo], %[" T2 "]\n\t"                                                                   \
    "adoxq %[hi], %[" T3 "]\n\t"                                                                   \
    "mulxq 24(%[a]), %[lo], %[" T4 "]\n\t"                                                         \
    "adcxq %[lo], %[" T3 "]\n\t"                                                                   \
    "movl $0, %k[lo]\n\t"                                                                          \
    "adoxq %[lo], %[" T4 "]\n\t"                                                                   \
    "adcxq %[lo], %[" T4 "]\n\t"

/* t = a * b, eight words. */
static inline __attribute__((always_inline)) void etls_adx_prod(uint64_t t[8], const uint64_t a[4], const uint64_t b[4])
{
    uint64_t t0, t1, t2, t3, t4, t5, t6, t7, lo, hi;
    __asm__("movq 0(%[b]), %%rdx\n\t"
            "mulxq 0(%[a]), %[t0], %[t1]\n\t"
            "mulxq 8(%[a]), %[lo], %[t2]\n\t"
            "addq %[lo], %[t1]\n\t"
            "mulxq 16(%[a]), %[lo], %[t3]\n\t"
            "adcq %[lo], %[t2]\n\t"
            "mulxq 24(%[a]), %[lo], %[t4]\n\t"
            "adcq %[lo], %[t3]\n\t"
            "adcq $0, %[t4]\n\t"
            "movq 8(%[b]), %%rdx\n\t" ETLS_ADX_ROW("t1", "t2", "t3", "t4", "t5")
            "movq 16(%[b]), %%rdx\n\t" ETLS_ADX_ROW("t2", "t3", "t4", "t5", "t6")
            "movq 24(%[b]), %%rdx\n\t" ETLS_ADX_ROW("t3", "t4", "t5", "t6", "t7")
            : [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2), [t3] "=&r"(t3), [t4] "=&r"(t4),
              [t5] "=&r"(t5), [t6] "=&r"(t6), [t7] "=&r"(t7), [lo] "=&r"(lo), [hi] "=&r"(hi)
            : [a] "r"(a), [b] "r"(b) ETLS_ADX_IN4(a) ETLS_ADX_IN4(b)
            : ETLS_ADX_CLOBBER);
    t[0] = t0, t[1] = t1, t[2] = t2, t[3] = t3, t[4] = t4, t[5] = t5, t[6] = t6, t[7] = t7;
}

/* t = a^2: the six cross products, doubled on the CF chain while the squares go in on OF. */
static inline __attribute__((always_inline)) void etls_adx_prod_sqr(uint64_t t[8], const uint64_t a[4])
{
    uint64_t t0, t1, t2, t3, t4, t5, t6, t7, lo, hi;
    __asm__("movq 0(%[a]), %%rdx\n\t"
            "mulxq 8(%[a]), %[t1], %[t2]\n\t"
            "mulxq 16(%[a]), %[lo], %[t3]\n\t"
            "addq %[lo], %[t2]\n\t"
            "mulxq 24(%[a]), %[lo], %[t4]\n\t"
            "adcq %[lo], %[t3]\n\t"
            "adcq $0, %[t4]\n\t"
            "movq 8(%[a]), %%rdx\n\t"
            "xorl %k[lo], %k[lo]\n\t"
            "mulxq 16(%[a]), %[lo], %[hi]\n\t"
            "adcxq %[lo], %[t3]\n\t"
            "adoxq %[hi], %[t4]\n\t"
            "mulxq 24(%[a]), %[lo], %[t5]\n\t"
            "adcxq %[lo], %[t4]\n\t"
            "movl $0, %k[lo]\n\t"
            "adoxq %[lo], %[t5]\n\t"
            "adcxq %[lo], %[t5]\n\t"
            "movq 16(%[a]), %%rdx\n\t"
            "mulxq 24(%[a]), %[lo], %[t6]\n\t"
            "addq %[lo], %[t5]\n\t"
            "adcq $0, %[t6]\n\t"
            "xorl %k[t7], %k[t7]\n\t"
            "movq 0(%[a]), %%rdx\n\t"
            "mulxq %%rdx, %[t0], %[hi]\n\t"
            "adcxq %[t1], %[t1]\n\t"
            "adoxq %[hi], %[t1]\n\t"
            "movq 8(%[a]), %%rdx\n\t"
            "mulxq %%rdx, %[lo], %[hi]\n\t"
            "adcxq %[t2], %[t2]\n\t"
            "adoxq %[lo], %[t2]\n\t"
            "adcxq %[t3], %[t3]\n\t"
            "adoxq %[hi], %[t3]\n\t"
            "movq 16(%[a]), %%rdx\n\t"
            "mulxq %%rdx, %[lo], %[hi]\n\t"
            "adcxq %[t4], %[t4]\n\t"
            "adoxq %[lo], %[t4]\n\t"
            "adcxq %[t5], %[t5]\n\t"
            "adoxq %[hi], %[t5]\n\t"
            "movq 24(%[a]), %%rdx\n\t"
            "mulxq %%rdx, %[lo], %[hi]\n\t"
            "adcxq %[t6], %[t6]\n\t"
            "adoxq %[lo], %[t6]\n\t"
            "adcxq %[t7], %[t7]\n\t"
            "adoxq %[hi], %[t7]\n\t"
            : [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2), [t3] "=&r"(t3), [t4] "=&r"(t4),
              [t5] "=&r"(t5), [t6] "=&r"(t6), [t7] "=&r"(t7), [lo] "=&r"(lo), [hi] "=&r"(hi)
            : [a] "r"(a) ETLS_ADX_IN4(a)
            : ETLS_ADX_CLOBBER);
    t[0] = t0, t[1] = t1, t[2] = t2, t[3] = t3, t[4] = t4, t[5] = t5, t[6] = t6, t[7] = t7;
}

/* One reduction step for p on the window (W0..W3): q = W0, (w + q p) / 2^64 lands in
 * (W1, W2, W3, NT); see etls_fe_redc_step in p256_fe.h for the algebra. */
#define ETLS_ADX_REDC_P(W0, W1, W2, W3, NT)                                                        \
    "movq %[" W0 "], %%rdx\n\t"                                                                    \
    "mulxq %[p3], %[lo], %[" NT "]\n\t"                                                            \
    "shlq $32, %%rdx\n\t"                                                                          \
    "shrq $32, %[" W0 "]\n\t"                                                                      \
    "addq %%rdx, %[" W1 "]\n\t"                                                                    \
    "adcq %[" W0 "], %[" W2 "]\n\t"                                                                \
    "adcq %[lo], %[" W3 "]\n\t"                                                                    \
    "adcq $0, %[" NT "]\n\t"

/* One Montgomery step for a general modulus m (q = W0 * m0inv). */
#define ETLS_ADX_REDC_M(W0, W1, W2, W3, NT)                                                        \
    "movq %[" W0 "], %%rdx\n\t"                                                                    \
    "imulq %[m0inv], %%rdx\n\t"                                                                    \
    "xorl %k[lo], %k[lo]\n\t"                                                                      \
    "mulxq 0(%[m]), %[lo], %[" NT "]\n\t"                                                          \
    "adcxq %[lo], %[" W0 "]\n\t"                                                                   \
    "adoxq %[" NT "], %[" W1 "]\n\t"                                                               \
    "mulxq 8(%[m]), %[lo], %[" NT "]\n\t"                                                          \
    "adcxq %[lo], %[" W1 "]\n\t"                                                                   \
    "adoxq %[" NT "], %[" W2 "]\n\t"                                                               \
    "mulxq 16(%[m]), %[lo], %[" NT "]\n\t"                                                         \
    "adcxq %[lo], %[" W2 "]\n\t"                                                                   \
    "adoxq %[" NT "], %[" W3 "]\n\t"                                                               \
    "mulxq 24(%[m]), %[lo], %[" NT "]\n\t"                                                         \
    "adcxq %[lo], %[" W3 "]\n\t"                                                                   \
    "movl $0, %k[lo]\n\t"                                                                          \
    "adoxq %[lo], %[" NT "]\n\t"                                                                   \
    "adcxq %[lo], %[" NT "]\n\t"

/* The tail shared by both reductions: the reduced low half (H0..H3) plus t[4..8), then minus
 * the modulus when that does not borrow past the carry; result in t4..t7. */
#define ETLS_ADX_TAIL(H0, H1, H2, H3, C)                                                           \
    "movl $0, %k[" C "]\n\t"                                                                       \
    "addq %[t4], %[" H0 "]\n\t"                                                                    \
    "adcq %[t5], %[" H1 "]\n\t"                                                                    \
    "adcq %[t6], %[" H2 "]\n\t"                                                                    \
    "adcq %[t7], %[" H3 "]\n\t"                                                                    \
    "adcq $0, %[" C "]\n\t"                                                                        \
    "movq %[" H0 "], %[t4]\n\t"                                                                    \
    "movq %[" H1 "], %[t5]\n\t"                                                                    \
    "movq %[" H2 "], %[t6]\n\t"                                                                    \
    "movq %[" H3 "], %[t7]\n\t"                                                                    \
    "subq 0(%[m]), %[t4]\n\t"                                                                      \
    "sbbq 8(%[m]), %[t5]\n\t"                                                                      \
    "sbbq 16(%[m]), %[t6]\n\t"                                                                     \
    "sbbq 24(%[m]), %[t7]\n\t"                                                                     \
    "sbbq $0, %[" C "]\n\t"                                                                        \
    "cmovcq %[" H0 "], %[t4]\n\t"                                                                  \
    "cmovcq %[" H1 "], %[t5]\n\t"                                                                  \
    "cmovcq %[" H2 "], %[t6]\n\t"                                                                  \
    "cmovcq %[" H3 "], %[t7]\n\t"

/* r = t * 2^-256 mod p (t < p 2^256). */
static inline void etls_adx_redc_p(uint64_t r[4], const uint64_t t[8], const uint64_t p[4])
{
    static const uint64_t p3 = 0xffffffff00000001ULL;
    uint64_t t0 = t[0], t1 = t[1], t2 = t[2], t3 = t[3], t4 = t[4], t5 = t[5], t6 = t[6], t7 = t[7];
    uint64_t lo, hi;
    __asm__(ETLS_ADX_REDC_P("t0", "t1", "t2", "t3", "hi")
            ETLS_ADX_REDC_P("t1", "t2", "t3", "hi", "t0")
            ETLS_ADX_REDC_P("t2", "t3", "hi", "t0", "t1")
            ETLS_ADX_REDC_P("t3", "hi", "t0", "t1", "t2")
            ETLS_ADX_TAIL("hi", "t0", "t1", "t2", "t3")
            : [t0] "+&r"(t0), [t1] "+&r"(t1), [t2] "+&r"(t2), [t3] "+&r"(t3), [t4] "+&r"(t4),
              [t5] "+&r"(t5), [t6] "+&r"(t6), [t7] "+&r"(t7), [lo] "=&r"(lo), [hi] "=&r"(hi)
            : [m] "r"(p), [p3] "m"(p3) ETLS_ADX_IN4(p)
            : ETLS_ADX_CLOBBER);
    r[0] = t4, r[1] = t5, r[2] = t6, r[3] = t7;
}

/* r = t * 2^-256 mod m for an odd m < 2^256 - 2^224 + 2^193 (keeps each step's window within
 * four words; true of p and n), m0inv = -m^-1 mod 2^64. */
static inline void etls_adx_redc_m(uint64_t r[4], const uint64_t t[8], const uint64_t m[4],
                                   uint64_t m0inv)
{
    uint64_t t0 = t[0], t1 = t[1], t2 = t[2], t3 = t[3], t4 = t[4], t5 = t[5], t6 = t[6], t7 = t[7];
    uint64_t lo, hi;
    __asm__(ETLS_ADX_REDC_M("t0", "t1", "t2", "t3", "hi")
            ETLS_ADX_REDC_M("t1", "t2", "t3", "hi", "t0")
            ETLS_ADX_REDC_M("t2", "t3", "hi", "t0", "t1")
            ETLS_ADX_REDC_M("t3", "hi", "t0", "t1", "t2")
            ETLS_ADX_TAIL("hi", "t0", "t1", "t2", "t3")
            : [t0] "+&r"(t0), [t1] "+&r"(t1), [t2] "+&r"(t2), [t3] "+&r"(t3), [t4] "+&r"(t4),
              [t5] "+&r"(t5), [t6] "+&r"(t6), [t7] "+&r"(t7), [lo] "=&r"(lo), [hi] "=&r"(hi)
            : [m] "r"(m), [m0inv] "rm"(m0inv) ETLS_ADX_IN4(m)
            : ETLS_ADX_CLOBBER);
    r[0] = t4, r[1] = t5, r[2] = t6, r[3] = t7;
}

/* r = a + b mod p and r = a - b mod p (inputs < p): add/adc then a conditional subtraction
 * selected by cmov; sub/sbb then p added back under the borrow mask. No multiplications, but
 * in assembly for the same reason as above (GCC's carry handling). */
static inline void etls_adx_add_p(uint64_t r[4], const uint64_t a[4], const uint64_t b[4],
                                  const uint64_t p[4])
{
    uint64_t t0, t1, t2, t3, u0, u1, u2, u3, c;
    __asm__("movq 0(%[a]), %[t0]\n\t"
            "movq 8(%[a]), %[t1]\n\t"
            "movq 16(%[a]), %[t2]\n\t"
            "movq 24(%[a]), %[t3]\n\t"
            "xorl %k[c], %k[c]\n\t"
            "addq 0(%[b]), %[t0]\n\t"
            "adcq 8(%[b]), %[t1]\n\t"
            "adcq 16(%[b]), %[t2]\n\t"
            "adcq 24(%[b]), %[t3]\n\t"
            "adcq $0, %[c]\n\t"
            "movq %[t0], %[u0]\n\t"
            "movq %[t1], %[u1]\n\t"
            "movq %[t2], %[u2]\n\t"
            "movq %[t3], %[u3]\n\t"
            "subq 0(%[p]), %[u0]\n\t"
            "sbbq 8(%[p]), %[u1]\n\t"
            "sbbq 16(%[p]), %[u2]\n\t"
            "sbbq 24(%[p]), %[u3]\n\t"
            "sbbq $0, %[c]\n\t"
            "cmovcq %[t0], %[u0]\n\t"
            "cmovcq %[t1], %[u1]\n\t"
            "cmovcq %[t2], %[u2]\n\t"
            "cmovcq %[t3], %[u3]\n\t"
            : [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2), [t3] "=&r"(t3), [u0] "=&r"(u0),
              [u1] "=&r"(u1), [u2] "=&r"(u2), [u3] "=&r"(u3), [c] "=&r"(c)
            : [a] "r"(a), [b] "r"(b), [p] "r"(p) ETLS_ADX_IN4(a) ETLS_ADX_IN4(b) ETLS_ADX_IN4(p)
            : ETLS_ADX_CLOBBER);
    r[0] = u0, r[1] = u1, r[2] = u2, r[3] = u3;
}

static inline void etls_adx_sub_p(uint64_t r[4], const uint64_t a[4], const uint64_t b[4],
                                  const uint64_t p[4])
{
    uint64_t t0, t1, t2, t3, u0, u1, u2, u3;
    __asm__("movq 0(%[a]), %[t0]\n\t"
            "movq 8(%[a]), %[t1]\n\t"
            "movq 16(%[a]), %[t2]\n\t"
            "movq 24(%[a]), %[t3]\n\t"
            "subq 0(%[b]), %[t0]\n\t"
            "sbbq 8(%[b]), %[t1]\n\t"
            "sbbq 16(%[b]), %[t2]\n\t"
            "sbbq 24(%[b]), %[t3]\n\t"
            "sbbq %[u0], %[u0]\n\t" /* all-ones on borrow */
            "movq %[u0], %[u1]\n\t"
            "movq %[u0], %[u2]\n\t"
            "movq %[u0], %[u3]\n\t"
            "andq 0(%[p]), %[u0]\n\t"
            "andq 8(%[p]), %[u1]\n\t"
            "andq 16(%[p]), %[u2]\n\t"
            "andq 24(%[p]), %[u3]\n\t"
            "addq %[u0], %[t0]\n\t"
            "adcq %[u1], %[t1]\n\t"
            "adcq %[u2], %[t2]\n\t"
            "adcq %[u3], %[t3]\n\t"
            : [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2), [t3] "=&r"(t3), [u0] "=&r"(u0),
              [u1] "=&r"(u1), [u2] "=&r"(u2), [u3] "=&r"(u3)
            : [a] "r"(a), [b] "r"(b), [p] "r"(p) ETLS_ADX_IN4(a) ETLS_ADX_IN4(b) ETLS_ADX_IN4(p)
            : ETLS_ADX_CLOBBER);
    r[0] = t0, r[1] = t1, r[2] = t2, r[3] = t3;
}

#undef ETLS_ADX_ROW
#undef ETLS_ADX_REDC_P
#undef ETLS_ADX_REDC_M
#undef ETLS_ADX_TAIL
#undef ETLS_ADX_IN4
#undef ETLS_ADX_CLOBBER

#endif
