/* SHA-512 compression with the message schedule in AVX2/SSE vectors and the rounds in scalar
 * code using BMI2 rorx. Built in its own static library with -mavx2 -mbmi2 and only called
 * when etls_cpu_features() reports both.
 *
 * Why this is faster than the portable code: the schedule (W[16..79]) is about a third of the
 * work and has no dependency on the round state, so it runs on the vector units while the
 * integer units do the rounds. Each schedule step makes W[t], W[t+1] (W[t+1] needs W[t-1],
 * not W[t], so two words is the natural width) and stores W+K for the rounds 16 ahead; the
 * steps are interleaved with the rounds so both kinds of unit stay busy. */
#include "crypto/hash/sha_impl.h"

#include "common/ct.h"

#include <immintrin.h>

#define ROR64(x, n) (((x) >> (n)) | ((x) << (64 - (n))))
#define BSIG0(x) (ROR64(x, 28) ^ ROR64(x, 34) ^ ROR64(x, 39))
#define BSIG1(x) (ROR64(x, 14) ^ ROR64(x, 18) ^ ROR64(x, 41))
#define CH(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))

/* sigma0(x) = ROTR1 ^ ROTR8 ^ SHR7, sigma1(x) = ROTR19 ^ ROTR61 ^ SHR6, on two lanes. */
static inline __m128i ssig0(__m128i x)
{
    __m128i r = _mm_xor_si128(_mm_srli_epi64(x, 1), _mm_slli_epi64(x, 63));
    r = _mm_xor_si128(r, _mm_xor_si128(_mm_srli_epi64(x, 8), _mm_slli_epi64(x, 56)));
    return _mm_xor_si128(r, _mm_srli_epi64(x, 7));
}

static inline __m128i ssig1(__m128i x)
{
    __m128i r = _mm_xor_si128(_mm_srli_epi64(x, 19), _mm_slli_epi64(x, 45));
    r = _mm_xor_si128(r, _mm_xor_si128(_mm_srli_epi64(x, 61), _mm_slli_epi64(x, 3)));
    return _mm_xor_si128(r, _mm_srli_epi64(x, 6));
}

/* x0..x7 hold W[t-16..t-1] in pairs (x0 oldest). Replaces x0 with W[t], W[t+1] and stores
 * W+K for rounds t, t+1. */
#define SCHED2(x0, x1, x4, x5, x7, t)                                                              \
    do {                                                                                           \
        __m128i s_ = _mm_add_epi64(x0, ssig0(_mm_alignr_epi8(x1, x0, 8)));                         \
        s_ = _mm_add_epi64(s_, _mm_alignr_epi8(x5, x4, 8));                                        \
        x0 = _mm_add_epi64(s_, ssig1(x7));                                                         \
        _mm_store_si128((__m128i *)&wk[t],                                                         \
                        _mm_add_epi64(x0, _mm_loadu_si128((const __m128i *)&etls_sha512_k[t])));   \
        __asm__("" : : : "memory"); /* rounds load wk from memory, not via vpextrq */              \
    } while (0)

/* Maj(a,b,c) = b ^ ((a ^ b) & (b ^ c)); this round's b ^ c is the previous round's a ^ b,
 * carried in bc, which saves an operation per round. */
#define ROUND(a, b, c, d, e, f, g, h, t)                                                           \
    do {                                                                                           \
        uint64_t t1_ = h + BSIG1(e) + CH(e, f, g) + wk[t];                                         \
        uint64_t ab_ = a ^ b;                                                                      \
        d += t1_;                                                                                  \
        h = t1_ + BSIG0(a) + (b ^ (ab_ & bc));                                                     \
        bc = ab_;                                                                                  \
    } while (0)

/* Eight rounds t..t+7 with four schedule steps for rounds t+16..t+23 woven in. */
#define ROUNDS8_SCHED(t)                                                                           \
    do {                                                                                           \
        SCHED2(x0, x1, x4, x5, x7, (t) + 16);                                                      \
        ROUND(a, b, c, d, e, f, g, h, (t) + 0);                                                    \
        ROUND(h, a, b, c, d, e, f, g, (t) + 1);                                                    \
        SCHED2(x1, x2, x5, x6, x0, (t) + 18);                                                      \
        ROUND(g, h, a, b, c, d, e, f, (t) + 2);                                                    \
        ROUND(f, g, h, a, b, c, d, e, (t) + 3);                                                    \
        SCHED2(x2, x3, x6, x7, x1, (t) + 20);                                                      \
        ROUND(e, f, g, h, a, b, c, d, (t) + 4);                                                    \
        ROUND(d, e, f, g, h, a, b, c, (t) + 5);                                                    \
        SCHED2(x3, x4, x7, x0, x2, (t) + 22);                                                      \
        ROUND(c, d, e, f, g, h, a, b, (t) + 6);                                                    \
        ROUND(b, c, d, e, f, g, h, a, (t) + 7);                                                    \
    } while (0)
#define ROUNDS8_SCHED_B(t)                                                                         \
    do {                                                                                           \
        SCHED2(x4, x5, x0, x1, x3, (t) + 16);                                                      \
        ROUND(a, b, c, d, e, f, g, h, (t) + 0);                                                    \
        ROUND(h, a, b, c, d, e, f, g, (t) + 1);                                                    \
        SCHED2(x5, x6, x1, x2, x4, (t) + 18);                                                      \
        ROUND(g, h, a, b, c, d, e, f, (t) + 2);                                                    \
        ROUND(f, g, h, a, b, c, d, e, (t) + 3);                                                    \
        SCHED2(x6, x7, x2, x3, x5, (t) + 20);                                                      \
        ROUND(e, f, g, h, a, b, c, d, (t) + 4);                                                    \
        ROUND(d, e, f, g, h, a, b, c, (t) + 5);                                                    \
        SCHED2(x7, x0, x3, x4, x6, (t) + 22);                                                      \
        ROUND(c, d, e, f, g, h, a, b, (t) + 6);                                                    \
        ROUND(b, c, d, e, f, g, h, a, (t) + 7);                                                    \
    } while (0)
#define ROUNDS8(t)                                                                                 \
    do {                                                                                           \
        ROUND(a, b, c, d, e, f, g, h, (t) + 0);                                                    \
        ROUND(h, a, b, c, d, e, f, g, (t) + 1);                                                    \
        ROUND(g, h, a, b, c, d, e, f, (t) + 2);                                                    \
        ROUND(f, g, h, a, b, c, d, e, (t) + 3);                                                    \
        ROUND(e, f, g, h, a, b, c, d, (t) + 4);                                                    \
        ROUND(d, e, f, g, h, a, b, c, (t) + 5);                                                    \
        ROUND(c, d, e, f, g, h, a, b, (t) + 6);                                                    \
        ROUND(b, c, d, e, f, g, h, a, (t) + 7);                                                    \
    } while (0)

void etls_sha512_compress_avx2(uint64_t st[8], const uint8_t *p, size_t nblocks)
{
    _Alignas(16) uint64_t wk[80];
    const __m128i bswap = _mm_set_epi64x(0x08090a0b0c0d0e0fLL, 0x0001020304050607LL);
    for (; nblocks; nblocks--, p += 128) {
        __m128i x0, x1, x2, x3, x4, x5, x6, x7;
#define LOADW(x, i)                                                                                \
    do {                                                                                           \
        x = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * (i))), bswap);             \
        _mm_store_si128(                                                                           \
            (__m128i *)&wk[2 * (i)],                                                               \
            _mm_add_epi64(x, _mm_loadu_si128((const __m128i *)&etls_sha512_k[2 * (i)])));          \
    } while (0)
        LOADW(x0, 0);
        LOADW(x1, 1);
        LOADW(x2, 2);
        LOADW(x3, 3);
        LOADW(x4, 4);
        LOADW(x5, 5);
        LOADW(x6, 6);
        LOADW(x7, 7);
#undef LOADW
        uint64_t a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], f = st[5], g = st[6],
                 h = st[7], bc = b ^ c;
        /* Rounds 0..63 each schedule W 16 ahead; the register roles rotate every 8 rounds. */
        ROUNDS8_SCHED(0);
        ROUNDS8_SCHED_B(8);
        ROUNDS8_SCHED(16);
        ROUNDS8_SCHED_B(24);
        ROUNDS8_SCHED(32);
        ROUNDS8_SCHED_B(40);
        ROUNDS8_SCHED(48);
        ROUNDS8_SCHED_B(56);
        ROUNDS8(64);
        ROUNDS8(72);
        st[0] += a, st[1] += b, st[2] += c, st[3] += d;
        st[4] += e, st[5] += f, st[6] += g, st[7] += h;
    }
    etls_wipe(wk, sizeof wk); /* W is derived from possibly secret input (HMAC keys) */
}
