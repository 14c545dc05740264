/* X25519 with AVX2: four independent variable-base scalar multiplications, one per 64-bit lane.
 *
 * A field element of the four lanes is ten __m256i: limb i of every lane, radix 2^25.5 (limbs
 * alternate 26 and 25 bits, limb i at bit ceil(25.5 i)). Products use vpmuludq (32x32->64 per
 * lane), so every multiplicand must stay below 2^32; the bounds below are what keeps them there.
 *
 * Limb bounds (even limb / odd limb), derived by hand and checked with extreme limbs against
 * a bignum reference:
 *   carried (output of fe4_carry and of decoding): < 2^26 + 2^12     / < 2^25 + 2^16
 *   sum of two carried:                            < 2^27 + 2^13     / < 2^26 + 2^17
 *   difference a + 2p - b of two carried:          < 3 * 2^26 + 2^12 / < 3 * 2^25 + 2^16
 * Multiplication and squaring accept any of these (19 * (3 * 2^26 + 2^12) < 2^32, and the
 * largest column, h0, stays below 2^62.2), and always return carried elements. Everything runs
 * the same instruction stream in all lanes; the per-lane scalar bit only becomes a swap mask. */
#include "crypto/x25519.h"
#include "common/cpu.h"
#include "common/ct.h"
#include "common/err.h"

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define LANES 4
#define NLIMB 10

typedef struct {
    __m256i v[NLIMB];
} fe4_t;

/* Bit position and width of each limb. */
static const unsigned limb_pos[NLIMB] = {0, 26, 51, 77, 102, 128, 153, 179, 204, 230};
static const unsigned limb_bits[NLIMB] = {26, 25, 26, 25, 26, 25, 26, 25, 26, 25};

#define M(a, b) _mm256_mul_epu32((a), (b))

/* Limb loops are unrolled so that limb indices, and with them the per-limb constants and the
 * choice of operand variants, are compile-time constants. */
#define UNROLL _Pragma("GCC unroll 10")

static inline __m256i splat(uint64_t x)
{
    return _mm256_set1_epi64x((long long)x);
}

/* x * 19 for x < 2^60 (carries), with shifts and adds. */
static inline __m256i times19(__m256i x)
{
    return _mm256_add_epi64(_mm256_add_epi64(x, _mm256_slli_epi64(x, 1)), _mm256_slli_epi64(x, 4));
}

/* x * 19 for limbs (x < 2^32): one multiplier uop is cheaper than four ALU uops here because
 * the ladder is bound by total vector uops, not by the two multiplier pipes. */
static inline __m256i limb19(__m256i x)
{
    return _mm256_mul_epu32(x, splat(19));
}

/* Moves limb i's bits above its width (26 or 25) into limb i+1. */
#define CARRY(h, i, bits, mask)                                                                    \
    do {                                                                                           \
        (h)[(i) + 1] = _mm256_add_epi64((h)[(i) + 1], _mm256_srli_epi64((h)[i], (bits)));          \
        (h)[i] = _mm256_and_si256((h)[i], (mask));                                                 \
    } while (0)

/* Brings column sums below 2^63 back to carried form. Three interleaved chains (from limbs 0,
 * 3 and 6) shorten the dependency path; limbs 3 and 6 are carried twice, which leaves at most
 * a 13-bit excess in limbs 4 and 7. The carry out of limb 9 re-enters limb 0 times 19 because
 * 2^255 = 19 mod p, and is small enough after one more carry into limb 1. */
static inline void fe4_carry(__m256i h[NLIMB])
{
    const __m256i m26 = splat((1u << 26) - 1), m25 = splat((1u << 25) - 1);
    CARRY(h, 0, 26, m26);
    CARRY(h, 3, 25, m25);
    CARRY(h, 6, 26, m26);
    CARRY(h, 1, 25, m25);
    CARRY(h, 4, 26, m26);
    CARRY(h, 7, 25, m25);
    CARRY(h, 2, 26, m26);
    CARRY(h, 5, 25, m25);
    CARRY(h, 8, 26, m26);
    CARRY(h, 3, 25, m25);
    CARRY(h, 6, 26, m26);
    __m256i c = _mm256_srli_epi64(h[9], 25);
    h[9] = _mm256_and_si256(h[9], m25);
    h[0] = _mm256_add_epi64(h[0], times19(c));
    CARRY(h, 0, 26, m26);
}

/* acc += a * (*g) and acc = a * (*g), in 64-bit lanes. These two are asm only to pin the
 * schedule: with plain intrinsics GCC keeps all of g in registers and spills the ten column
 * accumulators instead, which doubles the cost of a multiplication. Taking g as a memory
 * operand leaves the ten accumulators, at most four multiplier variants and a temporary in the
 * sixteen ymm registers. */
static inline __attribute__((always_inline)) void mac(__m256i *acc, __m256i a, const __m256i *g)
{
    __m256i t;
    __asm__("vpmuludq %[g], %[a], %[t]\n\tvpaddq %[t], %[acc], %[acc]"
            : [acc] "+x"(*acc), [t] "=&x"(t)
            : [a] "x"(a), [g] "m"(*g));
}

static inline __attribute__((always_inline)) void mul1(__m256i *acc, __m256i a, const __m256i *g)
{
    __asm__("vpmuludq %[g], %[a], %[acc]" : [acc] "=x"(*acc) : [a] "x"(a), [g] "m"(*g));
}

/* out = f * g. Operand scanning: row i holds f[i] in registers, premultiplied by 2 where both
 * limb indices are odd (their positions sum to one bit more than the product limb's) and by 19
 * where the product wraps past 2^255. Bounds: 38 * (3 * 2^25 + 2^16) and 19 * (3 * 2^26 + 2^12)
 * are below 2^32, as vpmuludq needs; column sums stay below 2^62.2. */
static inline void fe4_mul(fe4_t *out, const fe4_t *fe, const fe4_t *ge)
{
    const __m256i *f = fe->v, *g = ge->v;
    __m256i h[NLIMB];

    UNROLL
    for (int i = 0; i < NLIMB; i++) {
        __m256i fi = f[i];
        __m256i fi_2 = (i & 1) ? _mm256_add_epi64(fi, fi) : fi;
        __m256i fi_19 = limb19(fi);
        __m256i fi_38 = (i & 1) ? _mm256_add_epi64(fi_19, fi_19) : fi_19;
        UNROLL
        for (int j = 0; j < NLIMB; j++) {
            int odd = i & j & 1, k = i + j;
            __m256i a = k >= NLIMB ? (odd ? fi_38 : fi_19) : (odd ? fi_2 : fi);
            if (i == 0)
                mul1(&h[j], a, &g[j]);
            else
                mac(&h[k >= NLIMB ? k - NLIMB : k], a, &g[j]);
        }
    }
    fe4_carry(h);
    memcpy(out->v, h, sizeof h);
}

/* out = f^2: each product f[i] f[j] with i < j is taken once, with a factor 2. The factor
 * c = 2 (i != j) * 2 (both odd) * 19 (wraps) is split between the register side (f[i] times
 * 1, 2, 19 or 38; 38 only for odd i) and the memory side (f[j] or 2 f[j]) so that both stay
 * below 2^32. */
static inline void fe4_sq(fe4_t *out, const fe4_t *fe)
{
    const __m256i *f = fe->v;
    __m256i f2[NLIMB], h[NLIMB];

    UNROLL
    for (int j = 0; j < NLIMB; j++)
        f2[j] = _mm256_add_epi64(f[j], f[j]);
    UNROLL
    for (int i = 0; i < NLIMB; i++) {
        __m256i fi = f[i], fi_2 = f2[i];
        __m256i fi_19 = limb19(fi);
        __m256i fi_38 = _mm256_add_epi64(fi_19, fi_19);
        UNROLL
        for (int j = i; j < NLIMB; j++) {
            int k = i + j, wrap = k >= NLIMB, both_odd = i & j & 1;
            int c = (i == j ? 1 : 2) * (both_odd ? 2 : 1) * (wrap ? 19 : 1);
            const __m256i *m = &f[j];
            __m256i a;
            if (c == 1)
                a = fi;
            else if (c == 2)
                a = fi_2;
            else if (c == 4)
                a = fi_2, m = &f2[j];
            else if (c == 19)
                a = fi_19;
            else if (c == 38 && (i & 1))
                a = fi_38;
            else if (c == 38)
                a = fi_19, m = &f2[j];
            else /* 76: i and j odd */
                a = fi_38, m = &f2[j];
            if (i == 0)
                mul1(&h[j], a, m);
            else
                mac(&h[k >= NLIMB ? k - NLIMB : k], a, m);
        }
    }
    fe4_carry(h);
    memcpy(out->v, h, sizeof h);
}

static inline void fe4_sqn(fe4_t *out, const fe4_t *f, int n)
{
    fe4_sq(out, f);
    for (int i = 1; i < n; i++)
        fe4_sq(out, out);
}

static inline void fe4_add(fe4_t *out, const fe4_t *a, const fe4_t *b)
{
    UNROLL
    for (int i = 0; i < NLIMB; i++)
        out->v[i] = _mm256_add_epi64(a->v[i], b->v[i]);
}

/* Limb i of 2p, added before subtracting so that limbs never go negative. */
static inline __m256i two_p_limb(int i)
{
    if (i == 0)
        return splat(2 * ((1u << 26) - 19));
    return splat((i & 1) ? 2 * ((1u << 25) - 1) : 2 * ((1u << 26) - 1));
}

/* a - b computed as a + 2p - b (b must be carried, so each limb of b is below that of 2p). */
static inline void fe4_sub(fe4_t *out, const fe4_t *a, const fe4_t *b)
{
    UNROLL
    for (int i = 0; i < NLIMB; i++)
        out->v[i] = _mm256_sub_epi64(_mm256_add_epi64(a->v[i], two_p_limb(i)), b->v[i]);
}

/* out = f * 121665 + g, where 121665 = (A - 2) / 4 for curve25519's A = 486662. */
static inline void fe4_mul_a24_add(fe4_t *out, const fe4_t *f, const fe4_t *g)
{
    const __m256i a24 = splat(121665);
    __m256i h[NLIMB];
    UNROLL
    for (int i = 0; i < NLIMB; i++)
        h[i] = _mm256_add_epi64(M(f->v[i], a24), g->v[i]);
    fe4_carry(h);
    memcpy(out->v, h, sizeof h);
}

/* Swaps a and b in the lanes where mask is all-ones. */
static inline void fe4_cswap(fe4_t *a, fe4_t *b, __m256i mask)
{
    UNROLL
    for (int i = 0; i < NLIMB; i++) {
        __m256i t = _mm256_and_si256(mask, _mm256_xor_si256(a->v[i], b->v[i]));
        a->v[i] = _mm256_xor_si256(a->v[i], t);
        b->v[i] = _mm256_xor_si256(b->v[i], t);
    }
}

/* out = z^(p - 2) = z^-1 (0 stays 0), by the usual 254-squaring, 11-multiplication chain. */
static void fe4_invert(fe4_t *out, const fe4_t *z)
{
    fe4_t z2, z9, z11, t, z5_0, z10_0, z20_0, z50_0, z100_0;

    fe4_sq(&z2, z);            /* 2 */
    fe4_sqn(&t, &z2, 2);       /* 8 */
    fe4_mul(&z9, &t, z);       /* 9 */
    fe4_mul(&z11, &z9, &z2);   /* 11 */
    fe4_sq(&t, &z11);          /* 22 */
    fe4_mul(&z5_0, &t, &z9);   /* 2^5 - 1 */
    fe4_sqn(&t, &z5_0, 5);
    fe4_mul(&z10_0, &t, &z5_0); /* 2^10 - 1 */
    fe4_sqn(&t, &z10_0, 10);
    fe4_mul(&z20_0, &t, &z10_0); /* 2^20 - 1 */
    fe4_sqn(&t, &z20_0, 20);
    fe4_mul(&t, &t, &z20_0); /* 2^40 - 1 */
    fe4_sqn(&t, &t, 10);
    fe4_mul(&z50_0, &t, &z10_0); /* 2^50 - 1 */
    fe4_sqn(&t, &z50_0, 50);
    fe4_mul(&z100_0, &t, &z50_0); /* 2^100 - 1 */
    fe4_sqn(&t, &z100_0, 100);
    fe4_mul(&t, &t, &z100_0); /* 2^200 - 1 */
    fe4_sqn(&t, &t, 50);
    fe4_mul(&t, &t, &z50_0); /* 2^250 - 1 */
    fe4_sqn(&t, &t, 5);
    fe4_mul(out, &t, &z11); /* 2^255 - 21 */

    etls_wipe(&z2, sizeof z2);
    etls_wipe(&z9, sizeof z9);
    etls_wipe(&z11, sizeof z11);
    etls_wipe(&t, sizeof t);
    etls_wipe(&z5_0, sizeof z5_0);
    etls_wipe(&z10_0, sizeof z10_0);
    etls_wipe(&z20_0, sizeof z20_0);
    etls_wipe(&z50_0, sizeof z50_0);
    etls_wipe(&z100_0, sizeof z100_0);
}

/* Montgomery ladder state of four lanes: (x2:z2) = k * P, (x3:z3) = (k + 1) * P, plus the
 * step's temporaries, kept here rather than on the stack so that one wipe clears them all. */
typedef struct {
    fe4_t x1;
    fe4_t x2, z2, x3, z3;
    fe4_t a, b, c, d, aa, bb, e, da, cb, t, u;
} ladder4_t;

/* One ladder step (RFC 7748 §5): differential addition into (x3:z3), doubling into (x2:z2).
 * The conditional swap that precedes it is folded into the first additions: x2, z2, x3, z3
 * are all overwritten by the step, so only their swapped sums and differences are needed. */
static void ladder4_step(ladder4_t *s, __m256i mask)
{
    UNROLL
    for (int i = 0; i < NLIMB; i++) {
        __m256i x2 = s->x2.v[i], x3 = s->x3.v[i], z2 = s->z2.v[i], z3 = s->z3.v[i];
        __m256i tx = _mm256_and_si256(mask, _mm256_xor_si256(x2, x3));
        __m256i tz = _mm256_and_si256(mask, _mm256_xor_si256(z2, z3));
        x2 = _mm256_xor_si256(x2, tx);
        x3 = _mm256_xor_si256(x3, tx);
        z2 = _mm256_xor_si256(z2, tz);
        z3 = _mm256_xor_si256(z3, tz);
        s->a.v[i] = _mm256_add_epi64(x2, z2);
        s->b.v[i] = _mm256_sub_epi64(_mm256_add_epi64(x2, two_p_limb(i)), z2);
        s->c.v[i] = _mm256_add_epi64(x3, z3);
        s->d.v[i] = _mm256_sub_epi64(_mm256_add_epi64(x3, two_p_limb(i)), z3);
    }
    fe4_sq(&s->aa, &s->a);                /* AA = A^2 */
    fe4_sq(&s->bb, &s->b);                /* BB = B^2 */
    fe4_mul(&s->da, &s->d, &s->a);        /* DA = D * A */
    fe4_mul(&s->cb, &s->c, &s->b);        /* CB = C * B */
    fe4_add(&s->t, &s->da, &s->cb);
    fe4_sub(&s->u, &s->da, &s->cb);
    fe4_sub(&s->e, &s->aa, &s->bb);       /* E = AA - BB */
    fe4_sq(&s->x3, &s->t);                /* x3 = (DA + CB)^2 */
    fe4_sq(&s->u, &s->u);
    fe4_mul(&s->z3, &s->u, &s->x1);       /* z3 = x1 * (DA - CB)^2 */
    fe4_mul(&s->x2, &s->aa, &s->bb);      /* x2 = AA * BB */
    fe4_mul_a24_add(&s->t, &s->e, &s->aa);
    fe4_mul(&s->z2, &s->e, &s->t);        /* z2 = E * (AA + a24 * E) */
}

/* Runs the 255-step ladder; k[l] are the four clamped scalars. As in RFC 7748, the swap mask
 * is the XOR of consecutive scalar bits, so one conditional swap per step suffices. */
static void ladder4_run(ladder4_t *s, const uint8_t k[LANES][32])
{
    const __m256i one = splat(1);
    __m256i prev = _mm256_setzero_si256();

    for (int t = 254; t >= 0; t--) {
        __m256i bit = _mm256_set_epi64x(k[3][t >> 3] >> (t & 7), k[2][t >> 3] >> (t & 7),
                                        k[1][t >> 3] >> (t & 7), k[0][t >> 3] >> (t & 7));
        bit = _mm256_and_si256(bit, one);
        ladder4_step(s, _mm256_sub_epi64(_mm256_setzero_si256(), _mm256_xor_si256(bit, prev)));
        prev = bit;
    }
    __m256i mask = _mm256_sub_epi64(_mm256_setzero_si256(), prev);
    fe4_cswap(&s->x2, &s->x3, mask);
    fe4_cswap(&s->z2, &s->z3, mask);
}

/* Loads four u-coordinates (top bit ignored, RFC 7748 §5) into carried limbs. Values >= p are
 * fine: the arithmetic is mod p and the limbs still fit. */
static void fe4_load(fe4_t *out, const uint8_t *const u[LANES])
{
    uint64_t w[LANES][4], limb[LANES];

    for (int l = 0; l < LANES; l++) {
        memcpy(w[l], u[l], 32);
        w[l][3] &= 0x7fffffffffffffffull;
    }
    for (int i = 0; i < NLIMB; i++) {
        unsigned pos = limb_pos[i], word = pos / 64, sh = pos % 64;
        for (int l = 0; l < LANES; l++) {
            uint64_t x = w[l][word] >> sh;
            if (sh + limb_bits[i] > 64)
                x |= w[l][word + 1] << (64 - sh);
            limb[l] = x & ((1ull << limb_bits[i]) - 1);
        }
        out->v[i] = _mm256_set_epi64x((long long)limb[3], (long long)limb[2], (long long)limb[1],
                                      (long long)limb[0]);
    }
    etls_wipe(w, sizeof w);
    etls_wipe(limb, sizeof limb);
}

/* Encodes one lane of a carried element as 32 bytes, fully reduced mod p. */
static void fe_store_lane(uint8_t out[32], const uint64_t h_in[NLIMB])
{
    uint64_t h[NLIMB], w[4] = {0, 0, 0, 0};

    memcpy(h, h_in, sizeof h);
    /* Two carry passes leave every limb exact-width except limb 0, which may hold up to
     * 2^26 + 18: the value V is below 2^255 + 19 < 2p. */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < NLIMB - 1; i++) {
            h[i + 1] += h[i] >> limb_bits[i];
            h[i] &= (1ull << limb_bits[i]) - 1;
        }
        h[0] += 19 * (h[9] >> 25);
        h[9] &= (1ull << 25) - 1;
    }
    unsigned __int128 acc = 0;
    unsigned bits = 0, word = 0;
    for (int i = 0; i < NLIMB; i++) {
        acc += (unsigned __int128)h[i] << bits;
        bits += limb_bits[i];
        if (bits >= 64) {
            w[word++] = (uint64_t)acc;
            acc >>= 64;
            bits -= 64;
        }
    }
    w[word] = (uint64_t)acc; /* word == 3: the last 63 bits */
    /* V >= p exactly when V + 19 reaches bit 255; then subtract p by adding 19 mod 2^255. */
    uint64_t t[4];
    unsigned __int128 c = (unsigned __int128)w[0] + 19;
    t[0] = (uint64_t)c;
    for (int i = 1; i < 4; i++) {
        c = (c >> 64) + w[i];
        t[i] = (uint64_t)c;
    }
    uint64_t q = t[3] >> 63;
    c = (unsigned __int128)w[0] + (19 & (0 - q));
    w[0] = (uint64_t)c;
    for (int i = 1; i < 4; i++) {
        c = (c >> 64) + w[i];
        w[i] = (uint64_t)c;
    }
    w[3] &= 0x7fffffffffffffffull;
    memcpy(out, w, 32);
    etls_wipe(h, sizeof h);
    etls_wipe(w, sizeof w);
    etls_wipe(t, sizeof t);
}

/* Up to four operations; lanes beyond n repeat op 0 and their results are dropped. */
static void x25519_avx2_group(etls_x25519_op_t *ops, size_t n)
{
    uint8_t k[LANES][32];
    const uint8_t *u[LANES];
    ladder4_t s;
    fe4_t zi;
    uint64_t lanes[NLIMB][LANES];
    uint8_t out[32];

    for (size_t l = 0; l < LANES; l++) {
        const etls_x25519_op_t *op = &ops[l < n ? l : 0];
        memcpy(k[l], op->sk, 32);
        k[l][0] &= 248;
        k[l][31] &= 127;
        k[l][31] |= 64;
        u[l] = op->peer;
    }
    fe4_load(&s.x1, u);
    for (int i = 0; i < NLIMB; i++) {
        s.x2.v[i] = splat(i == 0);
        s.z2.v[i] = _mm256_setzero_si256();
        s.x3.v[i] = s.x1.v[i];
        s.z3.v[i] = splat(i == 0);
    }
    ladder4_run(&s, (const uint8_t(*)[32])k);
    fe4_invert(&zi, &s.z2);
    fe4_mul(&zi, &s.x2, &zi);
    for (int i = 0; i < NLIMB; i++)
        _mm256_storeu_si256((__m256i *)lanes[i], zi.v[i]);

    for (size_t l = 0; l < n; l++) {
        uint64_t h[NLIMB];
        for (int i = 0; i < NLIMB; i++)
            h[i] = lanes[i][l];
        fe_store_lane(out, h);
        etls_wipe(h, sizeof h);
        uint8_t acc = 0;
        for (int i = 0; i < 32; i++)
            acc |= out[i];
        uint64_t zero = etls_ct_is_zero_mask(acc);
        etls_ct_declassify(&zero, sizeof zero);
        memcpy(ops[l].out, out, 32);
        ops[l].status = zero ? ETLS_ERR_INVALID : 0;
    }
    etls_wipe(k, sizeof k);
    etls_wipe(&s, sizeof s);
    etls_wipe(&zi, sizeof zi);
    etls_wipe(lanes, sizeof lanes);
    etls_wipe(out, sizeof out);
}

/* The field arithmetic leaves secret limbs in its own stack frames (register spills, the
 * doubled copy in squaring) below the group's frame, whose named state is wiped explicitly.
 * Wiping a region larger than that whole call tree (under 10 KiB with GCC -O2) clears them
 * once per batch instead of once per multiplication. */
static __attribute__((noinline)) void x25519_avx2_scrub_stack(void)
{
    uint8_t area[16384];
    etls_wipe(area, sizeof area);
    __asm__ volatile("" : : "r"(area) : "memory");
}

static void x25519_avx2_shared_batch(etls_x25519_op_t *ops, size_t n)
{
    for (size_t i = 0; i < n; i += LANES)
        x25519_avx2_group(ops + i, n - i < LANES ? n - i : LANES);
    if (n)
        x25519_avx2_scrub_stack();
}

static const etls_x25519_impl_t x25519_avx2_impl = {
    .name = "avx2",
    .lanes = LANES,
    .shared_batch = x25519_avx2_shared_batch,
};

/* This file is built with -mavx2 only (no -mbmi2), so AVX2 is the one feature it needs. */
const etls_x25519_impl_t *etls_x25519_avx2_get(void)
{
    return etls_cpu_has(ETLS_CPU_AVX2) ? &x25519_avx2_impl : NULL;
}
