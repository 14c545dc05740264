/* SHA-256 compression for CPUs without SHA-NI: message schedule in SSE/AVX2 vectors, rounds in
 * scalar code with BMI2 rorx. Built in the AVX2 static library (-mavx2 -mbmi2) and only called
 * when etls_cpu_features() reports AVX2 and BMI2 but not SHA-NI.
 *
 * Same idea as sha512_avx2.c: the schedule does not depend on the round state, so it runs on the
 * vector units, four words per step, interleaved with the integer rounds 16 ahead. In a step,
 * W[t+2] and W[t+3] need sigma1 of W[t] and W[t+1] from the same step, so sigma1 is applied
 * twice: to W[t-2..t-1] for the low lanes, then to the new low lanes for the high ones. */
#include "crypto/hash/sha_impl.h"

#include "common/ct.h"

#include <immintrin.h>

#define ROR32(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define BSIG0(x) (ROR32(x, 2) ^ ROR32(x, 13) ^ ROR32(x, 22))
#define BSIG1(x) (ROR32(x, 6) ^ ROR32(x, 11) ^ ROR32(x, 25))
#define CH(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))

/* sigma0(x) = ROTR7 ^ ROTR18 ^ SHR3 on four lanes. */
static inline __m128i ssig0(__m128i x)
{
    __m128i r = _mm_xor_si128(_mm_srli_epi32(x, 7), _mm_slli_epi32(x, 25));
    r = _mm_xor_si128(r, _mm_xor_si128(_mm_srli_epi32(x, 18), _mm_slli_epi32(x, 14)));
    return _mm_xor_si128(r, _mm_srli_epi32(x, 3));
}

/* sigma1(x) = ROTR17 ^ ROTR19 ^ SHR10 on four lanes. */
static inline __m128i ssig1(__m128i x)
{
    __m128i r = _mm_xor_si128(_mm_srli_epi32(x, 17), _mm_slli_epi32(x, 15));
    r = _mm_xor_si128(r, _mm_xor_si128(_mm_srli_epi32(x, 19), _mm_slli_epi32(x, 13)));
    return _mm_xor_si128(r, _mm_srli_epi32(x, 10));
}

/* x0..x3 hold W[t-16..t-1] in fours (x0 oldest). Replaces x0 with W[t..t+3] and stores W+K
 * for rounds t..t+3. */
#define SCHED4(x0, x1, x2, x3, t)                                                                  \
    do {                                                                                           \
        __m128i s_ = _mm_add_epi32(x0, ssig0(_mm_alignr_epi8(x1, x0, 4)));                         \
        s_ = _mm_add_epi32(s_, _mm_alignr_epi8(x3, x2, 4));                                        \
        /* lanes 0,1 += sigma1(W[t-2], W[t-1]) */                                                  \
        s_ = _mm_add_epi32(s_, _mm_srli_si128(ssig1(x3), 8));                                      \
        /* lanes 2,3 += sigma1(W[t], W[t+1]) */                                                    \
        x0 = _mm_add_epi32(s_, _mm_slli_si128(ssig1(s_), 8));                                      \
        _mm_store_si128((__m128i *)&wk[t],                                                         \
                        _mm_add_epi32(x0, _mm_loadu_si128((const __m128i *)&etls_sha256_k[t])));   \
        __asm__("" : : : "memory"); /* rounds load wk from memory, not via vpextrd */              \
    } while (0)

/* Maj via the carried b ^ c, as in sha512_avx2.c. */
#define ROUND(a, b, c, d, e, f, g, h, t)                                                           \
    do {                                                                                           \
        uint32_t t1_ = h + BSIG1(e) + CH(e, f, g) + wk[t];                                         \
        uint32_t ab_ = a ^ b;                                                                      \
        d += t1_;                                                                                  \
        h = t1_ + BSIG0(a) + (b ^ (ab_ & bc));                                                     \
        bc = ab_;                                                                                  \
    } while (0)

#define ROUNDS4(a, b, c, d, e, f, g, h, t)                                                         \
    do {                                                                                           \
        ROUND(a, b, c, d, e, f, g, h, (t) + 0);                                                    \
        ROUND(h, a, b, c, d, e, f, g, (t) + 1);                                                    \
        ROUND(g, h, a, b, c, d, e, f, (t) + 2);                                                    \
        ROUND(f, g, h, a, b, c, d, e, (t) + 3);                                                    \
    } while (0)

/* Sixteen rounds t..t+15, scheduling W[t+16..t+31] along the way. */
#define ROUNDS16_SCHED(t)                                                                          \
    do {                                                                                           \
        SCHED4(x0, x1, x2, x3, (t) + 16);                                                          \
        ROUNDS4(a, b, c, d, e, f, g, h, (t) + 0);                                                  \
        SCHED4(x1, x2, x3, x0, (t) + 20);                                                          \
        ROUNDS4(e, f, g, h, a, b, c, d, (t) + 4);                                                  \
        SCHED4(x2, x3, x0, x1, (t) + 24);                                                          \
        ROUNDS4(a, b, c, d, e, f, g, h, (t) + 8);                                                  \
        SCHED4(x3, x0, x1, x2, (t) + 28);                                                          \
        ROUNDS4(e, f, g, h, a, b, c, d, (t) + 12);                                                 \
    } while (0)

void etls_sha256_compress_avx2(uint32_t st[8], const uint8_t *p, size_t nblocks)
{
    _Alignas(16) uint32_t wk[64];
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    for (; nblocks; nblocks--, p += 64) {
        __m128i x0, x1, x2, x3;
#define LOADW(x, i)                                                                                \
    do {                                                                                           \
        x = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * (i))), bswap);             \
        _mm_store_si128(                                                                           \
            (__m128i *)&wk[4 * (i)],                                                               \
            _mm_add_epi32(x, _mm_loadu_si128((const __m128i *)&etls_sha256_k[4 * (i)])));          \
    } while (0)
        LOADW(x0, 0);
        LOADW(x1, 1);
        LOADW(x2, 2);
        LOADW(x3, 3);
#undef LOADW
        uint32_t a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], f = st[5], g = st[6],
                 h = st[7], bc = b ^ c;
        ROUNDS16_SCHED(0);
        ROUNDS16_SCHED(16);
        ROUNDS16_SCHED(32);
        ROUNDS4(a, b, c, d, e, f, g, h, 48);
        ROUNDS4(e, f, g, h, a, b, c, d, 52);
        ROUNDS4(a, b, c, d, e, f, g, h, 56);
        ROUNDS4(e, f, g, h, a, b, c, d, 60);
        st[0] += a, st[1] += b, st[2] += c, st[3] += d;
        st[4] += e, st[5] += f, st[6] += g, st[7] += h;
    }
    etls_wipe(wk, sizeof wk); /* W is derived from possibly secret input (HMAC keys) */
}
