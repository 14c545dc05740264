/* SHA-256 compression with the x86 SHA extensions (SHA-NI). Built in its own static library
 * with -msha -msse4.1 and only called when etls_cpu_features() reports SHA_NI and SSE4.1.
 *
 * The SHA-NI round instruction keeps the state as two vectors, ABEF and CDGH (A in the top
 * lane), so the state is permuted on entry and exit of each call, not per block. */
#include "crypto/hash/sha_impl.h"

#include <immintrin.h>

/* W[t..t+3] for t >= 16 in place of W[t-16..t-13]:
 * W[t] = W[t-16] + sigma0(W[t-15]) + W[t-7] + sigma1(W[t-2]); msg1 adds the sigma0 term,
 * alignr supplies W[t-7..t-4], msg2 adds the sigma1 terms (including the in-vector dependency). */
#define SCHED(m0, m1, m2, m3)                                                                      \
    (m0 = _mm_sha256msg2_epu32(                                                                    \
         _mm_add_epi32(_mm_sha256msg1_epu32(m0, m1), _mm_alignr_epi8(m3, m2, 4)), m3))

/* Four rounds with W[t..t+3] in m: two rounds per sha256rnds2, which takes W+K in the low two
 * lanes. After the pair, abef and cdgh are the updated halves again. */
#define ROUNDS4(m, t)                                                                              \
    do {                                                                                           \
        __m128i wk_ = _mm_add_epi32(m, _mm_loadu_si128((const __m128i *)&etls_sha256_k[t]));       \
        cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk_);                                             \
        abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk_, 0x0e));                    \
    } while (0)

void etls_sha256_compress_shani(uint32_t st[8], const uint8_t *p, size_t nblocks)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i badc = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&st[0]), 0xb1);
    __m128i hgfe = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&st[4]), 0x1b);
    __m128i abef = _mm_alignr_epi8(badc, hgfe, 8);
    __m128i cdgh = _mm_blend_epi16(hgfe, badc, 0xf0);
    __m128i m0, m1, m2, m3; /* W[t..t+3], rolling */

    for (; nblocks; nblocks--, p += 64) {
        __m128i abef0 = abef, cdgh0 = cdgh;
        m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 0)), bswap);
        m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), bswap);
        m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), bswap);
        m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), bswap);
        ROUNDS4(m0, 0);
        ROUNDS4(m1, 4);
        ROUNDS4(m2, 8);
        ROUNDS4(m3, 12);
        for (int t = 16; t < 64; t += 16) {
            SCHED(m0, m1, m2, m3);
            ROUNDS4(m0, t);
            SCHED(m1, m2, m3, m0);
            ROUNDS4(m1, t + 4);
            SCHED(m2, m3, m0, m1);
            ROUNDS4(m2, t + 8);
            SCHED(m3, m0, m1, m2);
            ROUNDS4(m3, t + 12);
        }
        abef = _mm_add_epi32(abef, abef0);
        cdgh = _mm_add_epi32(cdgh, cdgh0);
    }

    __m128i feba = _mm_shuffle_epi32(abef, 0x1b);
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xb1);
    _mm_storeu_si128((__m128i *)&st[0], _mm_blend_epi16(feba, dchg, 0xf0));
    _mm_storeu_si128((__m128i *)&st[4], _mm_alignr_epi8(dchg, feba, 8));
}
