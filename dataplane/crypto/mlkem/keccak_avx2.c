/* Four Keccak-f[1600] permutations side by side: each 256-bit register holds the same lane of
 * four states (etls_keccak4_t layout). Compiled with -mavx2 and reached only through
 * etls_keccak4_avx2_get(), which checks the CPU first. The round is the one of keccak.c with
 * vector operations; AVX2 has no 64-bit rotate, so rotations are two shifts and an OR, except
 * by 8 and 56 which are byte shuffles. */
#include <immintrin.h>

#include "common/cpu.h"
#include "mlkem_internal.h"

#define ROLV(x, n) _mm256_or_si256(_mm256_slli_epi64((x), (n)), _mm256_srli_epi64((x), 64 - (n)))

static inline __m256i rol8(__m256i x)
{
    const __m256i idx = _mm256_setr_epi8(7, 0, 1, 2, 3, 4, 5, 6, 15, 8, 9, 10, 11, 12, 13, 14, 7, 0,
                                         1, 2, 3, 4, 5, 6, 15, 8, 9, 10, 11, 12, 13, 14);
    return _mm256_shuffle_epi8(x, idx);
}

static inline __m256i rol56(__m256i x)
{
    const __m256i idx = _mm256_setr_epi8(1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12, 13, 14, 15, 8, 1, 2,
                                         3, 4, 5, 6, 7, 0, 9, 10, 11, 12, 13, 14, 15, 8);
    return _mm256_shuffle_epi8(x, idx);
}

static inline __m256i rol1(__m256i x)
{
    return ROLV(x, 1);
}

static inline void round4(__m256i a[25], uint64_t rc)
{
    __m256i c[5], d[5], b[25];
    for (int x = 0; x < 5; x++)
        c[x] = _mm256_xor_si256(_mm256_xor_si256(a[x], a[x + 5]),
                                _mm256_xor_si256(_mm256_xor_si256(a[x + 10], a[x + 15]), a[x + 20]));
    for (int x = 0; x < 5; x++)
        d[x] = _mm256_xor_si256(c[(x + 4) % 5], rol1(c[(x + 1) % 5]));
    for (int i = 0; i < 25; i++)
        a[i] = _mm256_xor_si256(a[i], d[i % 5]);
    b[0] = a[0];
    b[10] = ROLV(a[1], 1);
    b[20] = ROLV(a[2], 62);
    b[5] = ROLV(a[3], 28);
    b[15] = ROLV(a[4], 27);
    b[16] = ROLV(a[5], 36);
    b[1] = ROLV(a[6], 44);
    b[11] = ROLV(a[7], 6);
    b[21] = ROLV(a[8], 55);
    b[6] = ROLV(a[9], 20);
    b[7] = ROLV(a[10], 3);
    b[17] = ROLV(a[11], 10);
    b[2] = ROLV(a[12], 43);
    b[12] = ROLV(a[13], 25);
    b[22] = ROLV(a[14], 39);
    b[23] = ROLV(a[15], 41);
    b[8] = ROLV(a[16], 45);
    b[18] = ROLV(a[17], 15);
    b[3] = ROLV(a[18], 21);
    b[13] = rol8(a[19]);
    b[14] = ROLV(a[20], 18);
    b[24] = ROLV(a[21], 2);
    b[9] = ROLV(a[22], 61);
    b[19] = rol56(a[23]);
    b[4] = ROLV(a[24], 14);
    for (int y = 0; y < 25; y += 5)
        for (int x = 0; x < 5; x++)
            a[y + x] = _mm256_xor_si256(b[y + x],
                                        _mm256_andnot_si256(b[y + (x + 1) % 5], b[y + (x + 2) % 5]));
    a[0] = _mm256_xor_si256(a[0], _mm256_set1_epi64x((long long)rc));
}

static void keccak4_avx2_permute(etls_keccak4_t *st)
{
    __m256i a[25];
    for (int i = 0; i < 25; i++)
        a[i] = _mm256_load_si256((const __m256i *)&st->s[4 * i]);
    for (int r = 0; r < 24; r++)
        round4(a, etls_keccak_rc[r]);
    for (int i = 0; i < 25; i++)
        _mm256_store_si256((__m256i *)&st->s[4 * i], a[i]);
    /* The registers may have held secret noise seeds; clear the stack copies. */
    volatile __m256i *v = a;
    for (int i = 0; i < 25; i++)
        v[i] = _mm256_setzero_si256();
}

static const etls_keccak4_impl_t keccak4_avx2 = {"avx2", keccak4_avx2_permute};

const etls_keccak4_impl_t *etls_keccak4_avx2_get(void)
{
    return etls_cpu_has(ETLS_CPU_AVX2) ? &keccak4_avx2 : NULL;
}
