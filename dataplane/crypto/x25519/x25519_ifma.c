/* X25519 with AVX-512 IFMA: eight independent variable-base scalar multiplications, one per
 * 64-bit lane of a zmm register.
 *
 * A field element of the eight lanes is five v8_t (one zmm each): limb i of every lane, radix
 * 2^52 (limb i at bit 52 i). vpmadd52luq / vpmadd52huq add the low / high 52 bits of the
 * 104-bit product of two 52-bit values to a 64-bit accumulator. They read only bits 0..51 of
 * each multiplicand, so every value that enters a multiplication must be "carried":
 *   limbs 0..3 < 2^52, limb 4 < 2^47 + 2^11   (value < 2^255 + 2^219, not necessarily < p).
 * Limb 4 is carried at bit 255 (47 bits, the excess wraps as 2^255 = 19 mod p) rather than at
 * 2^260: the slack above its 47 bits absorbs the last carry of a chain, so one serial chain
 * ends in a limb that can take it and every limb meets the 52-bit bound exactly.
 *
 * Products: f_i g_j = lo + hi 2^52 lands in columns i+j (lo) and i+j+1 (hi); a column gets at
 * most 9 terms below 2^52, so columns stay below 2^55.2. Columns 5..9 wrap with
 * 2^260 = 2^5 * 2^255 = 608 mod p. 608 times a column would overflow 64 bits, so each upper
 * column is split at bit 52: the top bits (y < 16) are added to the next column and the 52-bit
 * part x is multiplied by 608 with IFMA (lo and hi halves of 608 x, exact). Column 9 is
 * hi(f_4 g_4) < 2^42.1 (limb 4 bound) plus at most 16, so 608 times it stays below 2^52 and
 * one vpmadd52luq is exact.
 *
 * The same arithmetic also runs x25519_base.c's fixed-base key generation on eight lanes
 * (etls_x25519_ifma_base_group, below), which x25519.c uses for groups of keys.
 *
 * Every function that touches zmm registers carries the target attribute, so the file builds
 * without -m flags; etls_x25519_ifma_get() offers it only when cpu.h reports AVX-512 F, VL and
 * IFMA with the OS saving zmm state (cpu.c checks XCR0). Everything runs the same instruction
 * stream in all lanes; the scalar bits only become k-masks for blends. */
#include "common/cpu.h"
#include "common/ct.h"
#include "common/err.h"
#include "crypto/x25519.h"
#include "x25519_internal.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#define LANES 8
#define NL 5

#define MASK52 ((UINT64_C(1) << 52) - 1)
#define MASK47 ((UINT64_C(1) << 47) - 1)

/* The vector operations this file uses, as a small set of names. Normally they are the AVX-512
 * intrinsics. With ETLS_X25519_IFMA_EMULATE (tests only) they are plain C on eight words, so
 * that the constant-time test can run this very source under valgrind memcheck, which cannot
 * execute AVX-512: it then checks that no branch or memory index of the ladder, inversion,
 * encoding and status depends on the scalar. The instructions themselves (vpmadd52*, vpblendmq,
 * vptestmq, shifts, adds) have data-independent timing. */
#ifndef ETLS_X25519_IFMA_EMULATE
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512vl,avx512ifma")))
typedef __m512i v8_t;
typedef __mmask8 mask8_t;
#define MADDLO(acc, a, b) _mm512_madd52lo_epu64((acc), (a), (b))
#define MADDHI(acc, a, b) _mm512_madd52hi_epu64((acc), (a), (b))
#define ADD(a, b) _mm512_add_epi64((a), (b))
#define SUB(a, b) _mm512_sub_epi64((a), (b))
#define AND(a, b) _mm512_and_si512((a), (b))
#define SRL(a, n) _mm512_srli_epi64((a), (n))
#define ZERO() _mm512_setzero_si512()
#define BLEND(k, a, b) _mm512_mask_blend_epi64((k), (a), (b)) /* b where k is set, else a */
#define TESTMASK(a, b) _mm512_test_epi64_mask((a), (b))       /* bit l: (a & b) != 0 in lane l */
#define LOAD(p) _mm512_loadu_si512(p)
#define STORE(p, v) _mm512_storeu_si512((p), (v))
#define SPLAT(x) _mm512_set1_epi64((long long)(x))
#define CMPEQ(a, b) _mm512_cmpeq_epi64_mask((a), (b))                  /* bit l: a == b */
#define MASKSET(src, k, x) _mm512_mask_set1_epi64((src), (k), (long long)(x)) /* x where k */
#else
/* Emulation for the constant-time test: same semantics, lane by lane, branch-free. */
#define TGT
#define etls_x25519_ifma_get etls_x25519_ifma_emulated_get
#define etls_x25519_ifma_base_group etls_x25519_ifma_emulated_base_group
/* declared by the test that uses them */
const etls_x25519_impl_t *etls_x25519_ifma_get(void);
void etls_x25519_ifma_base_group(etls_x25519_op_t *const *ops, size_t n);
typedef struct {
    uint64_t l[LANES];
} v8_t;
typedef uint8_t mask8_t;

static inline v8_t emu_madd(v8_t acc, v8_t a, v8_t b, int hi)
{
    for (int i = 0; i < LANES; i++) {
        unsigned __int128 p = (unsigned __int128)(a.l[i] & MASK52) * (b.l[i] & MASK52);
        acc.l[i] += (uint64_t)(hi ? p >> 52 : p) & MASK52;
    }
    return acc;
}
#define EMU_OP2(name, expr)                                                                        \
    static inline v8_t name(v8_t a, v8_t b)                                                        \
    {                                                                                              \
        for (int i = 0; i < LANES; i++)                                                            \
            a.l[i] = (expr);                                                                       \
        return a;                                                                                  \
    }
EMU_OP2(emu_add, a.l[i] + b.l[i])
EMU_OP2(emu_sub, a.l[i] - b.l[i])
EMU_OP2(emu_and, a.l[i] & b.l[i])
static inline v8_t emu_srl(v8_t a, int n)
{
    for (int i = 0; i < LANES; i++)
        a.l[i] >>= n;
    return a;
}
static inline v8_t emu_splat(uint64_t x)
{
    v8_t r;
    for (int i = 0; i < LANES; i++)
        r.l[i] = x;
    return r;
}
static inline v8_t emu_blend(mask8_t k, v8_t a, v8_t b)
{
    for (int i = 0; i < LANES; i++) {
        uint64_t m = 0 - (uint64_t)((k >> i) & 1);
        a.l[i] ^= m & (a.l[i] ^ b.l[i]);
    }
    return a;
}
static inline mask8_t emu_test(v8_t a, v8_t b)
{
    unsigned k = 0;
    for (int i = 0; i < LANES; i++) {
        uint64_t x = a.l[i] & b.l[i];
        k |= (unsigned)((x | (0 - x)) >> 63) << i;
    }
    return (mask8_t)k;
}
static inline mask8_t emu_cmpeq(v8_t a, v8_t b)
{
    unsigned k = 0;
    for (int i = 0; i < LANES; i++) {
        uint64_t x = a.l[i] ^ b.l[i];
        k |= (unsigned)(1 ^ ((x | (0 - x)) >> 63)) << i;
    }
    return (mask8_t)k;
}
static inline v8_t emu_load(const void *p)
{
    v8_t r;
    memcpy(&r, p, sizeof r);
    return r;
}
#define MADDLO(acc, a, b) emu_madd((acc), (a), (b), 0)
#define MADDHI(acc, a, b) emu_madd((acc), (a), (b), 1)
#define ADD(a, b) emu_add((a), (b))
#define SUB(a, b) emu_sub((a), (b))
#define AND(a, b) emu_and((a), (b))
#define SRL(a, n) emu_srl((a), (n))
#define ZERO() emu_splat(0)
#define BLEND(k, a, b) emu_blend((k), (a), (b))
#define TESTMASK(a, b) emu_test((a), (b))
#define LOAD(p) emu_load(p)
#define STORE(p, v) memcpy((p), &(v), sizeof(v8_t))
#define SPLAT(x) emu_splat(x)
#define CMPEQ(a, b) emu_cmpeq((a), (b))
#define MASKSET(src, k, x) emu_blend((k), (src), emu_splat(x))
#endif

#define INL static inline __attribute__((always_inline)) TGT

typedef struct {
    v8_t v[NL];
} fe8_t;

INL v8_t splat(uint64_t x)
{
    return SPLAT(x);
}

/* Brings limbs below 2^62 to carried form (see the top). One chain: the excess of limb 4 above
 * bit 255 re-enters limb 0 times 19 first, then 0 -> 1 -> 2 -> 3 -> 4; the last carry (< 2^10)
 * lands in limb 4's slack. */
INL void fe8_carry(fe8_t *h, v8_t c0, v8_t c1, v8_t c2, v8_t c3, v8_t c4)
{
    const v8_t m52 = splat(MASK52);
    v8_t t = SRL(c4, 47);
    c4 = AND(c4, splat(MASK47));
    c0 = MADDLO(c0, t, splat(19)); /* t < 2^15: 19 t is exact in the low half */
    c1 = ADD(c1, SRL(c0, 52));
    c0 = AND(c0, m52);
    c2 = ADD(c2, SRL(c1, 52));
    c1 = AND(c1, m52);
    c3 = ADD(c3, SRL(c2, 52));
    c2 = AND(c2, m52);
    c4 = ADD(c4, SRL(c3, 52));
    c3 = AND(c3, m52);
    h->v[0] = c0;
    h->v[1] = c1;
    h->v[2] = c2;
    h->v[3] = c3;
    h->v[4] = c4;
}

/* Folds product columns c[0..9] (c[0..8] < 2^55.4, c[9] < 2^42.1) into a carried element. */
INL void fe8_reduce(fe8_t *h, v8_t c[10])
{
    const v8_t m52 = splat(MASK52), k608 = splat(608);
    /* The bits of column t above 52 (y < 16) move up into column t + 1 (an addition, not a
     * multiplication), so only the 52-bit part x is multiplied by 608. */
#pragma GCC unroll 4
    for (int t = 5; t < 9; t++) {
        v8_t x = AND(c[t], m52);
        c[t + 1] = ADD(c[t + 1], SRL(c[t], 52));
        c[t - 5] = MADDLO(c[t - 5], x, k608);
        c[t - 4] = MADDHI(c[t - 4], x, k608);
    }
    c[4] = MADDLO(c[4], c[9], k608); /* c[9] < 2^42.1 + 16: 608 c[9] < 2^52 */
    /* Now c[0..4] < 10 * 2^52 + 2^14 < 2^62. */
    fe8_carry(h, c[0], c[1], c[2], c[3], c[4]);
}

INL void fe8_mul(fe8_t *h, const fe8_t *f, const fe8_t *g)
{
    v8_t c[10];
    const v8_t z = ZERO();
#pragma GCC unroll 10
    for (int k = 0; k < 10; k++)
        c[k] = z;
#pragma GCC unroll 5
    for (int i = 0; i < NL; i++) {
        v8_t fi = f->v[i];
#pragma GCC unroll 5
        for (int j = 0; j < NL; j++) {
            c[i + j] = MADDLO(c[i + j], fi, g->v[j]);
            c[i + j + 1] = MADDHI(c[i + j + 1], fi, g->v[j]);
        }
    }
    fe8_reduce(h, c);
}

/* h = f^2: the ten cross products once, doubled by an addition, then the five squares. */
INL void fe8_sq(fe8_t *h, const fe8_t *f)
{
    v8_t c[10];
    const v8_t z = ZERO();
#pragma GCC unroll 10
    for (int k = 0; k < 10; k++)
        c[k] = z;
#pragma GCC unroll 5
    for (int i = 0; i < NL; i++) {
#pragma GCC unroll 5
        for (int j = i + 1; j < NL; j++) {
            c[i + j] = MADDLO(c[i + j], f->v[i], f->v[j]);
            c[i + j + 1] = MADDHI(c[i + j + 1], f->v[i], f->v[j]);
        }
    }
#pragma GCC unroll 8
    for (int k = 1; k < 9; k++)
        c[k] = ADD(c[k], c[k]);
#pragma GCC unroll 5
    for (int i = 0; i < NL; i++) {
        c[2 * i] = MADDLO(c[2 * i], f->v[i], f->v[i]);
        c[2 * i + 1] = MADDHI(c[2 * i + 1], f->v[i], f->v[i]);
    }
    fe8_reduce(h, c);
}

/* Limb i of 2p, added before subtracting a carried value so no limb goes negative. */
INL v8_t two_p_limb(int i)
{
    if (i == 0)
        return splat((UINT64_C(1) << 53) - 38);
    if (i == 4)
        return splat((UINT64_C(1) << 48) - 2);
    return splat((UINT64_C(1) << 53) - 2);
}

/* h = f + g and h = f - g (f, g carried), both carried. */
INL void fe8_add(fe8_t *h, const fe8_t *f, const fe8_t *g)
{
    fe8_carry(h, ADD(f->v[0], g->v[0]), ADD(f->v[1], g->v[1]), ADD(f->v[2], g->v[2]),
              ADD(f->v[3], g->v[3]), ADD(f->v[4], g->v[4]));
}

INL void fe8_sub(fe8_t *h, const fe8_t *f, const fe8_t *g)
{
    v8_t c[NL];
#pragma GCC unroll 5
    for (int i = 0; i < NL; i++)
        c[i] = SUB(ADD(f->v[i], two_p_limb(i)), g->v[i]);
    fe8_carry(h, c[0], c[1], c[2], c[3], c[4]);
}

/* h = g + 121665 f, where 121665 = (A - 2) / 4 for curve25519's A = 486662. The high half of
 * limb 4's product sits at 2^260 and wraps times 608 (it is below 2^13). */
INL void fe8_mul_a24_add(fe8_t *h, const fe8_t *f, const fe8_t *g)
{
    const v8_t a24 = splat(121665);
    v8_t c[NL];
#pragma GCC unroll 5
    for (int i = 0; i < NL; i++)
        c[i] = MADDLO(g->v[i], f->v[i], a24);
#pragma GCC unroll 4
    for (int i = 0; i < NL - 1; i++)
        c[i + 1] = MADDHI(c[i + 1], f->v[i], a24);
    v8_t top = MADDHI(ZERO(), f->v[4], a24);
    c[0] = MADDLO(c[0], top, splat(608));
    fe8_carry(h, c[0], c[1], c[2], c[3], c[4]);
}

static TGT void fe8_sqn(fe8_t *h, const fe8_t *f, int n)
{
    fe8_sq(h, f);
    for (int i = 1; i < n; i++)
        fe8_sq(h, h);
}

static TGT __attribute__((noinline)) void fe8_mul_nl(fe8_t *h, const fe8_t *f, const fe8_t *g)
{
    fe8_mul(h, f, g);
}

/* out = z^(p - 2) = 1/z, 0 for z = 0: the same fixed chain of 254 squarings and 11
 * multiplications as the other implementations, in all lanes at once. */
static TGT void fe8_invert(fe8_t *out, const fe8_t *z)
{
    fe8_t z2, z9, z11, t, z5_0, z10_0, z20_0, z50_0, z100_0;

    fe8_sq(&z2, z);                  /* 2 */
    fe8_sqn(&t, &z2, 2);             /* 8 */
    fe8_mul_nl(&z9, &t, z);          /* 9 */
    fe8_mul_nl(&z11, &z9, &z2);      /* 11 */
    fe8_sq(&t, &z11);                /* 22 */
    fe8_mul_nl(&z5_0, &t, &z9);      /* 2^5 - 1 */
    fe8_sqn(&t, &z5_0, 5);
    fe8_mul_nl(&z10_0, &t, &z5_0);   /* 2^10 - 1 */
    fe8_sqn(&t, &z10_0, 10);
    fe8_mul_nl(&z20_0, &t, &z10_0);  /* 2^20 - 1 */
    fe8_sqn(&t, &z20_0, 20);
    fe8_mul_nl(&t, &t, &z20_0);      /* 2^40 - 1 */
    fe8_sqn(&t, &t, 10);
    fe8_mul_nl(&z50_0, &t, &z10_0);  /* 2^50 - 1 */
    fe8_sqn(&t, &z50_0, 50);
    fe8_mul_nl(&z100_0, &t, &z50_0); /* 2^100 - 1 */
    fe8_sqn(&t, &z100_0, 100);
    fe8_mul_nl(&t, &t, &z100_0);     /* 2^200 - 1 */
    fe8_sqn(&t, &t, 50);
    fe8_mul_nl(&t, &t, &z50_0);      /* 2^250 - 1 */
    fe8_sqn(&t, &t, 5);
    fe8_mul_nl(out, &t, &z11);       /* 2^255 - 21 */

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

/* Ladder state of eight lanes: (x2:z2) = k P, (x3:z3) = (k + 1) P, and the step's
 * temporaries, in one struct so that one wipe clears them all. */
typedef struct {
    fe8_t x1;
    fe8_t x2, z2, x3, z3;
    fe8_t a, b, c, d, aa, bb, e, da, cb, t;
} ladder8_t;

/* One ladder step (RFC 7748 §5), preceded by the conditional swap of (x2:z2) and (x3:z3) in
 * the lanes whose bit of `swap` is set. The blends select by k-mask: no branch, no index. */
static TGT void ladder8_step(ladder8_t *s, mask8_t swap)
{
#pragma GCC unroll 5
    for (int i = 0; i < NL; i++) {
        v8_t x2 = s->x2.v[i], x3 = s->x3.v[i], z2 = s->z2.v[i], z3 = s->z3.v[i];
        s->x2.v[i] = BLEND(swap, x2, x3);
        s->x3.v[i] = BLEND(swap, x3, x2);
        s->z2.v[i] = BLEND(swap, z2, z3);
        s->z3.v[i] = BLEND(swap, z3, z2);
    }
    fe8_add(&s->a, &s->x2, &s->z2);      /* A = x2 + z2 */
    fe8_sub(&s->b, &s->x2, &s->z2);      /* B = x2 - z2 */
    fe8_add(&s->c, &s->x3, &s->z3);      /* C = x3 + z3 */
    fe8_sub(&s->d, &s->x3, &s->z3);      /* D = x3 - z3 */
    fe8_sq(&s->aa, &s->a);               /* AA = A^2 */
    fe8_sq(&s->bb, &s->b);               /* BB = B^2 */
    fe8_mul(&s->da, &s->d, &s->a);       /* DA = D * A */
    fe8_mul(&s->cb, &s->c, &s->b);       /* CB = C * B */
    fe8_add(&s->t, &s->da, &s->cb);
    fe8_sub(&s->e, &s->da, &s->cb);
    fe8_sq(&s->x3, &s->t);               /* x3 = (DA + CB)^2 */
    fe8_sq(&s->t, &s->e);
    fe8_mul(&s->z3, &s->t, &s->x1);      /* z3 = x1 * (DA - CB)^2 */
    fe8_sub(&s->e, &s->aa, &s->bb);      /* E = AA - BB */
    fe8_mul(&s->x2, &s->aa, &s->bb);     /* x2 = AA * BB */
    fe8_mul_a24_add(&s->t, &s->e, &s->aa);
    fe8_mul(&s->z2, &s->e, &s->t);       /* z2 = E * (AA + a24 * E) */
}

/* Runs the 255-step ladder. kw[w] holds 64-bit word w of the eight clamped scalars; bit t of
 * every lane becomes a k-mask with one vptestmq (the word and bit positions are public). As in
 * RFC 7748, the swap is the XOR of consecutive bits, so one swap per step suffices. */
static TGT void ladder8_run(ladder8_t *s, const v8_t kw[4])
{
    mask8_t prev = 0;
    for (int t = 254; t >= 0; t--) {
        mask8_t bit = TESTMASK(kw[t >> 6], splat(UINT64_C(1) << (t & 63)));
        ladder8_step(s, (mask8_t)(bit ^ prev));
        prev = bit;
    }
#pragma GCC unroll 5
    for (int i = 0; i < NL; i++) {
        v8_t x2 = s->x2.v[i], x3 = s->x3.v[i], z2 = s->z2.v[i], z3 = s->z3.v[i];
        s->x2.v[i] = BLEND(prev, x2, x3);
        s->x3.v[i] = BLEND(prev, x3, x2);
        s->z2.v[i] = BLEND(prev, z2, z3);
        s->z3.v[i] = BLEND(prev, z3, z2);
    }
}

/* Secret lane material as plain words: scalars, decoded input and output limbs. */
typedef struct {
    uint64_t k[4][LANES];     /* k[w][l]: word w of lane l's clamped scalar */
    uint64_t limb[NL][LANES]; /* limb i of lane l */
    uint64_t w[4];
    uint8_t clamped[32];
    uint8_t out[32];
} lanes_t;

/* Canonical little-endian encoding of one lane's carried limbs (value < 2^256), fully reduced
 * below p without branches. */
static void lane_tobytes(uint8_t out[32], lanes_t *ls, int l)
{
    uint64_t l0 = ls->limb[0][l], l1 = ls->limb[1][l], l2 = ls->limb[2][l];
    uint64_t l3 = ls->limb[3][l], l4 = ls->limb[4][l];
    uint64_t *w = ls->w;
    w[0] = l0 | l1 << 52; /* limbs 0..3 < 2^52, limb 4 < 2^48: the words are exact */
    w[1] = l1 >> 12 | l2 << 40;
    w[2] = l2 >> 24 | l3 << 28;
    w[3] = l3 >> 36 | l4 << 16;
    /* V = lo + 2^255 hi = lo + 19 hi (mod p): now below 2^255 + 19 < 2p. */
    uint64_t hi = w[3] >> 63;
    w[3] &= ~(UINT64_C(1) << 63);
    unsigned __int128 c = (unsigned __int128)w[0] + 19 * hi;
    w[0] = (uint64_t)c;
    for (int i = 1; i < 4; i++) {
        c = (c >> 64) + w[i];
        w[i] = (uint64_t)c;
    }
    /* V >= p exactly when V + 19 reaches bit 255; then V - p = V + 19 - 2^255. */
    uint64_t t[4];
    c = (unsigned __int128)w[0] + 19;
    t[0] = (uint64_t)c;
    for (int i = 1; i < 4; i++) {
        c = (c >> 64) + w[i];
        t[i] = (uint64_t)c;
    }
    uint64_t q = etls_ct_barrier_u64(0 - (t[3] >> 63));
    t[3] &= ~(UINT64_C(1) << 63);
    for (int i = 0; i < 4; i++)
        w[i] ^= q & (w[i] ^ t[i]);
    memcpy(out, w, 32);
    etls_wipe(t, sizeof t);
}

/* Up to eight operations; lanes beyond n repeat op 0 and their results are dropped. */
static TGT void x25519_ifma_group(etls_x25519_op_t *ops, size_t n)
{
    lanes_t ls;
    ladder8_t s;
    fe8_t zi;
    v8_t kw[4];

    for (size_t l = 0; l < LANES; l++) {
        const etls_x25519_op_t *op = &ops[l < n ? l : 0];
        etls_x25519_clamp(ls.clamped, op->sk);
        memcpy(ls.w, ls.clamped, 32);
        for (int w = 0; w < 4; w++)
            ls.k[w][l] = ls.w[w];
        memcpy(ls.w, op->peer, 32); /* u-coordinate; bit 255 dropped below (RFC 7748 §5) */
        ls.limb[0][l] = ls.w[0] & MASK52;
        ls.limb[1][l] = (ls.w[0] >> 52 | ls.w[1] << 12) & MASK52;
        ls.limb[2][l] = (ls.w[1] >> 40 | ls.w[2] << 24) & MASK52;
        ls.limb[3][l] = (ls.w[2] >> 28 | ls.w[3] << 36) & MASK52;
        ls.limb[4][l] = (ls.w[3] >> 16) & MASK47;
    }
    for (int w = 0; w < 4; w++)
        kw[w] = LOAD(ls.k[w]);
    for (int i = 0; i < NL; i++) {
        s.x1.v[i] = LOAD(ls.limb[i]); /* values >= p are fine: all is mod p */
        s.x2.v[i] = splat(i == 0);
        s.z2.v[i] = ZERO();
        s.x3.v[i] = s.x1.v[i];
        s.z3.v[i] = splat(i == 0);
    }
    ladder8_run(&s, kw);
    fe8_invert(&zi, &s.z2); /* z2 = 0 (low-order peer) inverts to 0: the output is all zero */
    fe8_mul_nl(&zi, &s.x2, &zi);
    for (int i = 0; i < NL; i++)
        STORE(ls.limb[i], zi.v[i]);

    for (size_t l = 0; l < n; l++) {
        lane_tobytes(ls.out, &ls, (int)l);
        memcpy(ops[l].out, ls.out, 32);
        ops[l].status = etls_x25519_zero_status(ls.out);
    }
    etls_wipe(&ls, sizeof ls);
    etls_wipe(&s, sizeof s);
    etls_wipe(&zi, sizeof zi);
    etls_wipe(kw, sizeof kw);
}

/* ---- Fixed-base key generation: the scheme of x25519_base.c (signed radix-16 digits, 64
 * mixed additions into extended Edwards coordinates, 4 doublings, u = (Z + Y) / (Z - Y)) on
 * eight lanes. Each lane has its own digits, so a table lookup reads all eight entries of the
 * row and keeps, per lane, the one its digit selects (masked broadcasts); negative digits are
 * applied by masked swap and negation. Addresses depend only on the row. */

/* x25519_base.c's table in radix 2^52, carried: [row][col][y+x, y-x, 2dxy][limb]. Public. */
static uint64_t ifma_table[32][8][3][NL] __attribute__((aligned(64)));
static pthread_once_t ifma_table_once = PTHREAD_ONCE_INIT;

/* 32 little-endian bytes, bit 255 dropped, into carried radix-2^52 limbs. */
static void decode52(uint64_t limb[NL], const uint8_t s[32])
{
    uint64_t w[4];
    memcpy(w, s, 32);
    limb[0] = w[0] & MASK52;
    limb[1] = (w[0] >> 52 | w[1] << 12) & MASK52;
    limb[2] = (w[1] >> 40 | w[2] << 24) & MASK52;
    limb[3] = (w[2] >> 28 | w[3] << 36) & MASK52;
    limb[4] = (w[3] >> 16) & MASK47;
    etls_wipe(w, sizeof w);
}

static void ifma_table_init(void)
{
    uint8_t b[3][32];
    for (int row = 0; row < 32; row++)
        for (int col = 0; col < 8; col++) {
            etls_x25519_base_table_entry(row, col, b[0], b[1], b[2]);
            for (int c = 0; c < 3; c++)
                decode52(ifma_table[row][col][c], b[c]);
        }
}

typedef struct {
    fe8_t X, Y, Z, T; /* extended coordinates: x = X/Z, y = Y/Z, T = XY/Z */
} ge8_t;

/* Everything derived from the eight scalars, wiped once at the end. */
typedef struct {
    uint64_t absd[64][LANES]; /* |digit i| of lane l */
    uint64_t negd[64][LANES]; /* 1 when digit i of lane l is negative */
    int8_t e[64];
    ge8_t p;
    fe8_t ypx, ymx, xy2d;     /* the selected table entry */
    fe8_t a, b, c, d, e_, f, g, h;
    lanes_t ls;
} base8_t;

/* s->ypx/ymx/xy2d = digit i times entry row of the table, per lane. */
static TGT void ge8_select(base8_t *s, int row, int i)
{
    const v8_t absv = LOAD(s->absd[i]), negv = LOAD(s->negd[i]);
    v8_t acc[3][NL];
#pragma GCC unroll 3
    for (int c = 0; c < 3; c++)
#pragma GCC unroll 5
        for (int l = 0; l < NL; l++)
            acc[c][l] = splat(c < 2 && l == 0); /* digit 0: the neutral point (1, 1, 0) */
    for (int k = 0; k < 8; k++) {
        const mask8_t m = CMPEQ(absv, splat((uint64_t)k + 1));
        const uint64_t(*t)[NL] = ifma_table[row][k];
#pragma GCC unroll 3
        for (int c = 0; c < 3; c++)
#pragma GCC unroll 5
            for (int l = 0; l < NL; l++)
                acc[c][l] = MASKSET(acc[c][l], m, t[c][l]);
    }
    /* -(x, y) = (-x, y): swap y+x with y-x, negate 2dxy. */
    const mask8_t nm = CMPEQ(negv, splat(1));
#pragma GCC unroll 5
    for (int l = 0; l < NL; l++) {
        s->ypx.v[l] = BLEND(nm, acc[0][l], acc[1][l]);
        s->ymx.v[l] = BLEND(nm, acc[1][l], acc[0][l]);
        s->xy2d.v[l] = acc[2][l];
    }
    fe8_t zero, neg;
#pragma GCC unroll 5
    for (int l = 0; l < NL; l++)
        zero.v[l] = ZERO();
    fe8_sub(&neg, &zero, &s->xy2d);
#pragma GCC unroll 5
    for (int l = 0; l < NL; l++)
        s->xy2d.v[l] = BLEND(nm, s->xy2d.v[l], neg.v[l]);
}

/* p += selected entry (add-2008-hwcd-3 with Z2 = 1, as ge_madd in x25519_base.c). */
static TGT void ge8_madd(base8_t *s)
{
    ge8_t *p = &s->p;
    fe8_sub(&s->a, &p->Y, &p->X);
    fe8_mul(&s->a, &s->a, &s->ymx);
    fe8_add(&s->b, &p->Y, &p->X);
    fe8_mul(&s->b, &s->b, &s->ypx);
    fe8_mul(&s->c, &p->T, &s->xy2d);
    fe8_add(&s->d, &p->Z, &p->Z);
    fe8_sub(&s->e_, &s->b, &s->a);
    fe8_add(&s->h, &s->b, &s->a);
    fe8_sub(&s->f, &s->d, &s->c);
    fe8_add(&s->g, &s->d, &s->c);
    fe8_mul(&p->X, &s->e_, &s->f);
    fe8_mul(&p->Y, &s->g, &s->h);
    fe8_mul(&p->T, &s->e_, &s->h);
    fe8_mul(&p->Z, &s->f, &s->g);
}

/* p = 2p (dbl-2008-hwcd with a = -1, as ge_dbl in x25519_base.c); T only when with_t. */
static TGT void ge8_dbl(base8_t *s, int with_t)
{
    ge8_t *p = &s->p;
    fe8_sq(&s->a, &p->X);
    fe8_sq(&s->b, &p->Y);
    fe8_sq(&s->c, &p->Z);
    fe8_add(&s->c, &s->c, &s->c);
    fe8_add(&s->h, &s->a, &s->b);
    fe8_add(&s->e_, &p->X, &p->Y);
    fe8_sq(&s->e_, &s->e_);
    fe8_sub(&s->e_, &s->h, &s->e_);
    fe8_sub(&s->g, &s->a, &s->b);
    fe8_add(&s->f, &s->c, &s->g);
    fe8_mul(&p->X, &s->e_, &s->f);
    fe8_mul(&p->Y, &s->g, &s->h);
    if (with_t)
        fe8_mul(&p->T, &s->e_, &s->h);
    fe8_mul(&p->Z, &s->f, &s->g);
}

/* Signed radix-16 digits of lane l's clamped scalar (x25519_base.c's recoding), stored as
 * magnitude and sign words for the vector lookup. */
static void base8_digits(base8_t *s, int l, const uint8_t sk[32])
{
    uint8_t *k = s->ls.clamped;
    int8_t *e = s->e, carry = 0;
    etls_x25519_clamp(k, sk);
    for (int i = 0; i < 32; i++) {
        e[2 * i] = (int8_t)(k[i] & 15);
        e[2 * i + 1] = (int8_t)(k[i] >> 4);
    }
    for (int i = 0; i < 63; i++) { /* digits 0..15 into -8..7, carrying upward */
        e[i] = (int8_t)(e[i] + carry);
        carry = (int8_t)((e[i] + 8) >> 4);
        e[i] = (int8_t)(e[i] - carry * 16);
    }
    e[63] = (int8_t)(e[63] + carry);
    for (int i = 0; i < 64; i++) {
        uint64_t neg = (uint64_t)((uint8_t)e[i] >> 7);
        s->negd[i][l] = neg;
        s->absd[i][l] = (uint64_t)(uint8_t)(e[i] - (int8_t)((-(int)neg & e[i]) * 2));
    }
}

static __attribute__((noinline)) void x25519_ifma_scrub_stack(void);

TGT void etls_x25519_ifma_base_group(etls_x25519_op_t *const *ops, size_t n)
{
    base8_t s;
    pthread_once(&ifma_table_once, ifma_table_init);
    for (size_t l = 0; l < LANES; l++)
        base8_digits(&s, (int)l, ops[l < n ? l : 0]->sk);
    for (int i = 0; i < NL; i++) {
        s.p.X.v[i] = ZERO();
        s.p.Y.v[i] = splat(i == 0);
        s.p.Z.v[i] = splat(i == 0);
        s.p.T.v[i] = ZERO();
    }
    for (int i = 1; i < 64; i += 2) {
        ge8_select(&s, i / 2, i);
        ge8_madd(&s);
    }
    for (int i = 0; i < 4; i++)
        ge8_dbl(&s, i == 3);
    for (int i = 0; i < 64; i += 2) {
        ge8_select(&s, i / 2, i);
        ge8_madd(&s);
    }
    /* u = (Z + Y) / (Z - Y); Z - Y is never zero (see base_fraction in x25519_base.c). */
    fe8_add(&s.a, &s.p.Z, &s.p.Y);
    fe8_sub(&s.b, &s.p.Z, &s.p.Y);
    fe8_invert(&s.c, &s.b);
    fe8_mul_nl(&s.a, &s.a, &s.c);
    for (int i = 0; i < NL; i++)
        STORE(s.ls.limb[i], s.a.v[i]);
    for (size_t l = 0; l < n; l++) {
        lane_tobytes(ops[l]->out, &s.ls, (int)l);
        ops[l]->status = 0;
    }
    etls_wipe(&s, sizeof s);
    x25519_ifma_scrub_stack();
}

/* The arithmetic leaves secret limbs in its own stack frames (spills, the inversion's
 * temporaries) below the caller's frame, whose named state is wiped explicitly. Wiping a region
 * larger than that whole call tree clears them once per batch: with GCC -O2/-O3 the shared
 * path's group frame is ~10.5 KiB plus ~3 KiB for the inversion, the key generation's callees
 * need ~4 KiB below its own frame; 24 KiB leaves room for less optimised builds. */
static __attribute__((noinline)) void x25519_ifma_scrub_stack(void)
{
    uint8_t area[24576];
    etls_wipe(area, sizeof area);
    __asm__ volatile("" : : "r"(area) : "memory");
}

static void x25519_ifma_shared_batch(etls_x25519_op_t *ops, size_t n)
{
    for (size_t i = 0; i < n; i += LANES)
        x25519_ifma_group(ops + i, n - i < LANES ? n - i : LANES);
    if (n)
        x25519_ifma_scrub_stack();
}

static const etls_x25519_impl_t x25519_ifma_impl = {
#ifdef ETLS_X25519_IFMA_EMULATE
    .name = "ifma-emulated",
#else
    .name = "ifma",
#endif
    .lanes = LANES,
    .shared_batch = x25519_ifma_shared_batch,
};

const etls_x25519_impl_t *etls_x25519_ifma_get(void)
{
#ifdef ETLS_X25519_IFMA_EMULATE
    return &x25519_ifma_impl;
#endif
    return etls_cpu_has(ETLS_CPU_AVX512F | ETLS_CPU_AVX512VL | ETLS_CPU_AVX512IFMA)
               ? &x25519_ifma_impl
               : NULL;
}
