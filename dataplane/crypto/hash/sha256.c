/* SHA-256 compression (FIPS 180-4 §6.2): the portable implementation and the run-time choice
 * between it, SHA-NI (sha256_shani.c) and AVX2/BMI2 (sha256_avx2.c), each built with its own
 * ISA flags. Measured on Zen 3: SHA-NI ~105 cycles/block, AVX2 ~385, portable ~640. */
#include "crypto/hash/sha_impl.h"

#include "common/cpu.h"
#include "common/ct.h"

const uint32_t etls_sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR32(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define BSIG0(x) (ROR32(x, 2) ^ ROR32(x, 13) ^ ROR32(x, 22))
#define BSIG1(x) (ROR32(x, 6) ^ ROR32(x, 11) ^ ROR32(x, 25))
#define SSIG0(x) (ROR32(x, 7) ^ ROR32(x, 18) ^ ((x) >> 3))
#define SSIG1(x) (ROR32(x, 17) ^ ROR32(x, 19) ^ ((x) >> 10))
/* Ch in its 3-operation form. Maj(a,b,c) = b ^ ((a ^ b) & (b ^ c)), and this round's b ^ c is
 * the previous round's a ^ b (the variables shift by one each round), carried in bc. */
#define CH(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))

static inline uint32_t load_be32(const uint8_t *p)
{
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return __builtin_bswap32(v);
}

/* The 16-word window w[] holds W[t] at w[t & 15]; the schedule runs in place. Rounds are fully
 * unrolled (eight per macro, variables renamed instead of rotated) so every index is constant
 * and the working variables stay in registers. */
#define ROUND(a, b, c, d, e, f, g, h, t, pre)                                                      \
    do {                                                                                           \
        pre(t);                                                                                    \
        uint32_t t1_ = h + BSIG1(e) + CH(e, f, g) + etls_sha256_k[t] + w[(t)&15];                  \
        uint32_t ab_ = a ^ b;                                                                      \
        d += t1_;                                                                                  \
        h = t1_ + BSIG0(a) + (b ^ (ab_ & bc));                                                     \
        bc = ab_;                                                                                  \
    } while (0)
#define NOSCHED(t) ((void)0)
#define SCHED(t) (w[(t)&15] += SSIG1(w[((t)-2) & 15]) + w[((t)-7) & 15] + SSIG0(w[((t)-15) & 15]))
#define ROUNDS8(t, pre)                                                                            \
    do {                                                                                           \
        ROUND(a, b, c, d, e, f, g, h, (t) + 0, pre);                                               \
        ROUND(h, a, b, c, d, e, f, g, (t) + 1, pre);                                               \
        ROUND(g, h, a, b, c, d, e, f, (t) + 2, pre);                                               \
        ROUND(f, g, h, a, b, c, d, e, (t) + 3, pre);                                               \
        ROUND(e, f, g, h, a, b, c, d, (t) + 4, pre);                                               \
        ROUND(d, e, f, g, h, a, b, c, (t) + 5, pre);                                               \
        ROUND(c, d, e, f, g, h, a, b, (t) + 6, pre);                                               \
        ROUND(b, c, d, e, f, g, h, a, (t) + 7, pre);                                               \
    } while (0)

void etls_sha256_compress_portable(uint32_t st[8], const uint8_t *p, size_t nblocks)
{
    uint32_t w[16];
    for (; nblocks; nblocks--, p += 64) {
        uint32_t a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], f = st[5], g = st[6],
                 h = st[7], bc = b ^ c;
        for (int i = 0; i < 16; i++)
            w[i] = load_be32(p + 4 * i);
        ROUNDS8(0, NOSCHED);
        ROUNDS8(8, NOSCHED);
        ROUNDS8(16, SCHED);
        ROUNDS8(24, SCHED);
        ROUNDS8(32, SCHED);
        ROUNDS8(40, SCHED);
        ROUNDS8(48, SCHED);
        ROUNDS8(56, SCHED);
        st[0] += a, st[1] += b, st[2] += c, st[3] += d;
        st[4] += e, st[5] += f, st[6] += g, st[7] += h;
    }
    /* The message schedule is derived from the (possibly secret, e.g. HMAC key) input. */
    etls_wipe(w, sizeof w);
}

static etls_sha256_compress_fn *select_sha256(void)
{
    if (etls_cpu_has(ETLS_CPU_SHA_NI | ETLS_CPU_SSE41))
        return etls_sha256_compress_shani;
    if (etls_cpu_has(ETLS_CPU_AVX2 | ETLS_CPU_BMI2))
        return etls_sha256_compress_avx2;
    return etls_sha256_compress_portable;
}

static void sha256_resolve(uint32_t st[8], const uint8_t *p, size_t nblocks);
static etls_sha256_compress_fn *sha256_impl = sha256_resolve;

/* First call picks the implementation; racing threads store the same pointer. */
static void sha256_resolve(uint32_t st[8], const uint8_t *p, size_t nblocks)
{
    etls_sha256_compress_fn *fn = select_sha256();
    __atomic_store_n(&sha256_impl, fn, __ATOMIC_RELAXED);
    fn(st, p, nblocks);
}

etls_sha256_compress_fn *etls_sha256_compress_get(void)
{
    etls_sha256_compress_fn *fn = __atomic_load_n(&sha256_impl, __ATOMIC_RELAXED);
    if (fn == sha256_resolve) {
        fn = select_sha256();
        __atomic_store_n(&sha256_impl, fn, __ATOMIC_RELAXED);
    }
    return fn;
}
