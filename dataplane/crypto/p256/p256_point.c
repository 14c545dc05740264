/* The P-256 group law and scalar multiplication.
 *
 * Two sets of formulas. The complete projective formulas for a = -3 of Renes, Costello and
 * Batina (EUROCRYPT 2016, Algorithms 4 and 6, written from the paper) are correct for every
 * input; they build the fixed-base table and finish verification, where inputs are arbitrary.
 * The scalar multiplications run in Jacobian coordinates (x = X/Z^2, y = Y/Z^3): doubling
 * dbl-2001-b (3M + 5S for a = -3), mixed addition madd-2004-hmv (8M + 3S), addition
 * add-2007-bl (11M + 5S), from the Explicit-Formulas Database. These are not complete: they
 * are wrong when both inputs are the same point. Infinity (Z = 0) on either side is handled
 * with masked selection; the equal-point case cannot occur for the scalars we multiply by:
 *
 *  - fixed base, k < n: the accumulator after rows 0..i-1 is s*G with |s| < 32^i / 1.9 and the
 *    next term is d*32^i*G with 1 <= |d| <= 16, so s = +-d*32^i (mod n) would need
 *    |s -+ d 32^i| >= n, i.e. 32^i > n/17: only the last row (i = 51, d in {1, 2}); there
 *    s + d 2^255 = k, and s = d 2^255 mod n means k = d 2^256 mod n, which is 2^256 - n or
 *    2^257 - 2n (below 2^226), too small to have a non-zero top digit; s = -d 2^255 means
 *    k = 0 mod n.
 *  - variable base, 1 <= k < n, P of order n: before adding digit d the accumulator is 32*S*P
 *    for the digits above it; 32 S = d (mod n) needs |32 S - d| >= n, impossible for a prefix
 *    of a scalar below n except when S = 0 (accumulator infinity, handled).
 *
 * Fixed base: signed 5-bit windows (digits -16..16, 52 of them) and one table row per window,
 * row i holding j * 32^i * G for j = 1..16 in affine form; k * G is then 52 mixed additions and
 * no doublings. Variable base: the same digits over a 16-entry table of multiples of the point,
 * five doublings and one addition per digit. Every table read scans the whole row with masks.
 *
 * This file is compiled twice (p256_arith_c.c, p256_arith_adx.c) with different field code;
 * ETLS_P256_ARITH names the copy. */
#include <emmintrin.h>
#include <pthread.h>

#include "p256_internal.h"

/* b in Montgomery form; G's coordinates likewise. */
static const etls_p256_fe b_m = {0xd89cdf6229c4bddfULL, 0xacf005cd78843090ULL,
                                 0xe5a220abf7212ed6ULL, 0xdc30061d04874834ULL};
static const etls_p256_aff_t g_aff = {
    {0x79e730d418a9143cULL, 0x75ba95fc5fedb601ULL, 0x79fb732b77622510ULL, 0x18905f76a53755c6ULL},
    {0xddf25357ce95560aULL, 0x8b4ab8e4ba19e45cULL, 0xd2e88688dd21f325ULL, 0x8571ff1825885d85ULL}};
/* 1 in Montgomery form (R mod p). */
static const etls_p256_fe one_m = {0x0000000000000001ULL, 0xffffffff00000000ULL,
                                   0xffffffffffffffffULL, 0x00000000fffffffeULL};

#define WIN 5
#define NDIGITS 52 /* ceil(257 / 5): the signed recoding may carry into bit 256 */
#define ROW 16     /* 2^(WIN-1) */

static void pt_set_inf(etls_p256_pt_t *r)
{
    for (int j = 0; j < 4; j++)
        r->x[j] = r->y[j] = r->z[j] = 0;
    etls_fe_copy(r->x, one_m);
    etls_fe_copy(r->y, one_m);
}

static void pt_cmov(etls_p256_pt_t *r, const etls_p256_pt_t *a, uint64_t mask)
{
    etls_fe_cmov(r->x, a->x, mask);
    etls_fe_cmov(r->y, a->y, mask);
    etls_fe_cmov(r->z, a->z, mask);
}

/* ---- complete projective formulas (table building, verification) ---- */

/* Algorithm 4: r = p + q (homogeneous projective). */
static void pt_add_complete(etls_p256_pt_t *r, const etls_p256_pt_t *p, const etls_p256_pt_t *q)
{
    etls_p256_fe t0, t1, t2, t3, t4, x3, y3, z3;
    const uint64_t *b = b_m;
    etls_fe_mul(t0, p->x, q->x);
    etls_fe_mul(t1, p->y, q->y);
    etls_fe_mul(t2, p->z, q->z);
    etls_fe_add(t3, p->x, p->y);
    etls_fe_add(t4, q->x, q->y);
    etls_fe_mul(t3, t3, t4);
    etls_fe_add(t4, t0, t1);
    etls_fe_sub(t3, t3, t4);
    etls_fe_add(t4, p->y, p->z);
    etls_fe_add(x3, q->y, q->z);
    etls_fe_mul(t4, t4, x3);
    etls_fe_add(x3, t1, t2);
    etls_fe_sub(t4, t4, x3);
    etls_fe_add(x3, p->x, p->z);
    etls_fe_add(y3, q->x, q->z);
    etls_fe_mul(x3, x3, y3);
    etls_fe_add(y3, t0, t2);
    etls_fe_sub(y3, x3, y3);
    etls_fe_mul(z3, b, t2);
    etls_fe_sub(x3, y3, z3);
    etls_fe_add(z3, x3, x3);
    etls_fe_add(x3, x3, z3);
    etls_fe_sub(z3, t1, x3);
    etls_fe_add(x3, t1, x3);
    etls_fe_mul(y3, b, y3);
    etls_fe_add(t1, t2, t2);
    etls_fe_add(t2, t1, t2);
    etls_fe_sub(y3, y3, t2);
    etls_fe_sub(y3, y3, t0);
    etls_fe_add(t1, y3, y3);
    etls_fe_add(y3, t1, y3);
    etls_fe_add(t1, t0, t0);
    etls_fe_add(t0, t1, t0);
    etls_fe_sub(t0, t0, t2);
    etls_fe_mul(t1, t4, y3);
    etls_fe_mul(t2, t0, y3);
    etls_fe_mul(y3, x3, z3);
    etls_fe_add(y3, y3, t2);
    etls_fe_mul(x3, x3, t3);
    etls_fe_sub(x3, x3, t1);
    etls_fe_mul(z3, t4, z3);
    etls_fe_mul(t1, t3, t0);
    etls_fe_add(z3, z3, t1);
    etls_fe_copy(r->x, x3);
    etls_fe_copy(r->y, y3);
    etls_fe_copy(r->z, z3);
}

/* Algorithm 6: r = 2p (homogeneous projective). */
static void pt_dbl_complete(etls_p256_pt_t *r, const etls_p256_pt_t *p)
{
    etls_p256_fe t0, t1, t2, t3, x3, y3, z3;
    const uint64_t *b = b_m;
    etls_fe_sqr(t0, p->x);
    etls_fe_sqr(t1, p->y);
    etls_fe_sqr(t2, p->z);
    etls_fe_mul(t3, p->x, p->y);
    etls_fe_add(t3, t3, t3);
    etls_fe_mul(z3, p->x, p->z);
    etls_fe_add(z3, z3, z3);
    etls_fe_mul(y3, b, t2);
    etls_fe_sub(y3, y3, z3);
    etls_fe_add(x3, y3, y3);
    etls_fe_add(y3, x3, y3);
    etls_fe_sub(x3, t1, y3);
    etls_fe_add(y3, t1, y3);
    etls_fe_mul(y3, x3, y3);
    etls_fe_mul(x3, x3, t3);
    etls_fe_add(t3, t2, t2);
    etls_fe_add(t2, t2, t3);
    etls_fe_mul(z3, b, z3);
    etls_fe_sub(z3, z3, t2);
    etls_fe_sub(z3, z3, t0);
    etls_fe_add(t3, z3, z3);
    etls_fe_add(z3, z3, t3);
    etls_fe_add(t3, t0, t0);
    etls_fe_add(t0, t3, t0);
    etls_fe_sub(t0, t0, t2);
    etls_fe_mul(t0, t0, z3);
    etls_fe_add(y3, y3, t0);
    etls_fe_mul(t0, p->y, p->z);
    etls_fe_add(t0, t0, t0);
    etls_fe_mul(z3, t0, z3);
    etls_fe_sub(x3, x3, z3);
    etls_fe_mul(z3, t0, t1);
    etls_fe_add(z3, z3, z3);
    etls_fe_add(z3, z3, z3);
    etls_fe_copy(r->x, x3);
    etls_fe_copy(r->y, y3);
    etls_fe_copy(r->z, z3);
}

/* ---- Jacobian formulas (scalar multiplication) ---- */

/* dbl-2001-b: r = 2p; infinity (Z = 0) stays infinity. r may alias p. */
static void jac_dbl(etls_p256_pt_t *r, const etls_p256_pt_t *p)
{
    etls_p256_fe delta, gamma, beta, alpha, t, u;
    etls_fe_sqr(delta, p->z);
    etls_fe_sqr(gamma, p->y);
    etls_fe_mul(beta, p->x, gamma);
    etls_fe_sub(t, p->x, delta);
    etls_fe_add(u, p->x, delta);
    etls_fe_mul(alpha, t, u);
    etls_fe_add(t, alpha, alpha);
    etls_fe_add(alpha, t, alpha); /* 3 (X - delta)(X + delta) */
    etls_fe_add(t, p->y, p->z);
    etls_fe_sqr(t, t);
    etls_fe_sub(t, t, gamma);
    etls_fe_sub(r->z, t, delta); /* (Y + Z)^2 - gamma - delta */
    etls_fe_add(beta, beta, beta);
    etls_fe_add(beta, beta, beta); /* 4 beta */
    etls_fe_sqr(t, alpha);
    etls_fe_add(u, beta, beta);
    etls_fe_sub(r->x, t, u); /* alpha^2 - 8 beta */
    etls_fe_sub(t, beta, r->x);
    etls_fe_mul(t, alpha, t);
    etls_fe_sqr(gamma, gamma);
    etls_fe_add(gamma, gamma, gamma);
    etls_fe_add(gamma, gamma, gamma);
    etls_fe_add(gamma, gamma, gamma); /* 8 gamma^2 */
    etls_fe_sub(r->y, t, gamma);
}

/* madd-2004-hmv: r = p + q for an affine (finite) q, p != +-q. When p is infinity the result
 * is q, chosen by mask. r may alias p. */
static void jac_madd(etls_p256_pt_t *r, const etls_p256_pt_t *p, const etls_p256_aff_t *q)
{
    etls_p256_fe t1, t2, h, rr, hh, hhh, v, x3, y3, z3;
    uint64_t p_inf = etls_fe_is_zero(p->z);
    etls_fe_sqr(t1, p->z);
    etls_fe_mul(t2, t1, p->z);
    etls_fe_mul(t1, t1, q->x);      /* U2 */
    etls_fe_mul(t2, t2, q->y);      /* S2 */
    etls_fe_sub(h, t1, p->x);       /* H = U2 - X1 */
    etls_fe_sub(rr, t2, p->y);      /* R = S2 - Y1 */
    etls_fe_mul(z3, p->z, h);
    etls_fe_sqr(hh, h);
    etls_fe_mul(hhh, hh, h);
    etls_fe_mul(v, hh, p->x);
    etls_fe_sqr(x3, rr);
    etls_fe_sub(x3, x3, hhh);
    etls_fe_sub(x3, x3, v);
    etls_fe_sub(x3, x3, v);         /* R^2 - H^3 - 2 X1 H^2 */
    etls_fe_sub(v, v, x3);
    etls_fe_mul(y3, rr, v);
    etls_fe_mul(hhh, hhh, p->y);
    etls_fe_sub(y3, y3, hhh);       /* R (X1 H^2 - X3) - Y1 H^3 */
    etls_fe_copy(r->x, x3);
    etls_fe_copy(r->y, y3);
    etls_fe_copy(r->z, z3);
    etls_fe_cmov(r->x, q->x, p_inf);
    etls_fe_cmov(r->y, q->y, p_inf);
    etls_fe_cmov(r->z, one_m, p_inf);
}

/* add-2007-bl: r = p + q, p != +-q unless one is infinity (then the other, by mask). */
static void jac_add(etls_p256_pt_t *r, const etls_p256_pt_t *p, const etls_p256_pt_t *q)
{
    etls_p256_fe z1z1, z2z2, u1, u2, s1, s2, h, i, j, rr, v, t;
    etls_p256_pt_t out;
    uint64_t p_inf = etls_fe_is_zero(p->z), q_inf = etls_fe_is_zero(q->z);
    etls_fe_sqr(z1z1, p->z);
    etls_fe_sqr(z2z2, q->z);
    etls_fe_mul(u1, p->x, z2z2);
    etls_fe_mul(u2, q->x, z1z1);
    etls_fe_mul(s1, p->y, q->z);
    etls_fe_mul(s1, s1, z2z2);
    etls_fe_mul(s2, q->y, p->z);
    etls_fe_mul(s2, s2, z1z1);
    etls_fe_sub(h, u2, u1);
    etls_fe_add(i, h, h);
    etls_fe_sqr(i, i);
    etls_fe_mul(j, h, i);
    etls_fe_sub(rr, s2, s1);
    etls_fe_add(rr, rr, rr);
    etls_fe_mul(v, u1, i);
    etls_fe_sqr(out.x, rr);
    etls_fe_sub(out.x, out.x, j);
    etls_fe_sub(out.x, out.x, v);
    etls_fe_sub(out.x, out.x, v);
    etls_fe_sub(t, v, out.x);
    etls_fe_mul(out.y, rr, t);
    etls_fe_mul(t, s1, j);
    etls_fe_add(t, t, t);
    etls_fe_sub(out.y, out.y, t);
    etls_fe_add(t, p->z, q->z);
    etls_fe_sqr(t, t);
    etls_fe_sub(t, t, z1z1);
    etls_fe_sub(t, t, z2z2);
    etls_fe_mul(out.z, t, h);
    pt_cmov(&out, q, p_inf);
    pt_cmov(&out, p, q_inf);
    *r = out;
}

/* Signed base-32 digits of k: k = sum d[i] * 32^i with -16 <= d[i] <= 16. Arithmetic only, so
 * constant time; the caller wipes d. */
static void recode(int8_t d[NDIGITS], const uint64_t k[4])
{
    uint64_t carry = 0;
    for (int i = 0; i < NDIGITS; i++) {
        int bit = WIN * i, word = bit / 64, sh = bit % 64;
        uint64_t w = word < 4 ? k[word] >> sh : 0;
        if (sh > 64 - WIN && word + 1 < 4)
            w |= k[word + 1] << (64 - sh);
        w = (w & 31) + carry;           /* 0..32 */
        carry = (16 - w) >> 63;          /* w > 16: use w - 32 and carry one */
        d[i] = (int8_t)(w - (carry << WIN));
    }
}

/* |d| and an all-ones mask when d < 0. */
static inline uint64_t digit_abs(int8_t d, uint64_t *neg)
{
    uint64_t v = (uint64_t)(int64_t)d, s = v >> 63;
    *neg = etls_ct_barrier_u64(0 - s);
    return (v ^ *neg) + s;
}

static inline void fe_cneg(etls_p256_fe y, uint64_t mask)
{
    etls_p256_fe ny, zero = {0};
    etls_fe_sub(ny, zero, y);
    etls_fe_cmov(y, ny, mask);
}

/* ---- fixed-base table ---- */

static etls_p256_aff_t base_table[NDIGITS][ROW];
static pthread_once_t base_once = PTHREAD_ONCE_INIT;

/* Affine forms of projective pts[0..ROW) with one inversion (Montgomery's trick). Public. */
static void fe_inv(etls_p256_fe r, const etls_p256_fe a);
static void row_to_affine(etls_p256_aff_t out[ROW], const etls_p256_pt_t pts[ROW])
{
    etls_p256_fe acc[ROW], inv;
    etls_fe_copy(acc[0], pts[0].z);
    for (int j = 1; j < ROW; j++)
        etls_fe_mul(acc[j], acc[j - 1], pts[j].z);
    fe_inv(inv, acc[ROW - 1]);
    for (int j = ROW - 1; j >= 0; j--) {
        etls_p256_fe zi;
        if (j > 0) {
            etls_fe_mul(zi, inv, acc[j - 1]);
            etls_fe_mul(inv, inv, pts[j].z);
        } else {
            etls_fe_copy(zi, inv);
        }
        etls_fe_mul(out[j].x, pts[j].x, zi);
        etls_fe_mul(out[j].y, pts[j].y, zi);
    }
}

static void base_table_build(void)
{
    etls_p256_pt_t base, pts[ROW];
    etls_fe_copy(base.x, g_aff.x);
    etls_fe_copy(base.y, g_aff.y);
    etls_fe_copy(base.z, one_m);
    for (int i = 0; i < NDIGITS; i++) {
        pts[0] = base;
        for (int j = 1; j < ROW; j++)
            pt_add_complete(&pts[j], &pts[j - 1], &base);
        row_to_affine(base_table[i], pts);
        pt_dbl_complete(&base, &pts[ROW - 1]); /* 32 * 32^i * G */
    }
}

/* out = row[|d| - 1] (d != 0) by a full scan; the caller handles d == 0. SSE2 (baseline
 * x86-64) by hand: the file is built without auto-vectorisation (see meson.build), and the
 * table is not freshly stored, so wide loads cost no store-forwarding stalls here. */
static void row_select(etls_p256_aff_t *out, const etls_p256_aff_t row[ROW], uint64_t a)
{
    __m128i acc[4] = {_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128(),
                      _mm_setzero_si128()};
    for (int e = 0; e < ROW; e++) {
        __m128i m = _mm_set1_epi64x((long long)etls_ct_is_zero_mask(a ^ (uint64_t)(e + 1)));
        const __m128i *src = (const __m128i *)&row[e];
        for (int j = 0; j < 4; j++)
            acc[j] = _mm_or_si128(acc[j], _mm_and_si128(m, _mm_loadu_si128(src + j)));
    }
    __m128i *dst = (__m128i *)out;
    for (int j = 0; j < 4; j++)
        _mm_storeu_si128(dst + j, acc[j]);
}

/* r = k * G (Jacobian) for k < n, constant time in k. */
static void mul_base(etls_p256_pt_t *r, const uint64_t k[4])
{
    pthread_once(&base_once, base_table_build);
    int8_t d[NDIGITS];
    etls_p256_pt_t acc, sum;
    etls_p256_aff_t q;
    recode(d, k);
    pt_set_inf(&acc);
    for (int i = 0; i < NDIGITS; i++) {
        uint64_t neg, a = digit_abs(d[i], &neg);
        row_select(&q, base_table[i], a);
        fe_cneg(q.y, neg);
        jac_madd(&sum, &acc, &q);
        pt_cmov(&acc, &sum, ~etls_ct_is_zero_mask(a)); /* digit 0: q is not a point */
    }
    *r = acc;
    etls_wipe(d, sizeof d);
    etls_wipe(&acc, sizeof acc);
    etls_wipe(&sum, sizeof sum);
    etls_wipe(&q, sizeof q);
}

/* ---- variable base ---- */

/* out = tab[a - 1], or infinity when a == 0, by a full scan. */
static void pt_select(etls_p256_pt_t *out, const etls_p256_pt_t tab[ROW], uint64_t a)
{
    pt_set_inf(out);
    for (int e = 0; e < ROW; e++)
        pt_cmov(out, &tab[e], etls_ct_is_zero_mask(a ^ (uint64_t)(e + 1)));
}

/* r = k * p (Jacobian) for 1 <= k < n and p affine (Z = 1, from decode), constant time in k
 * (p is taken as public). */
static void mul_var(etls_p256_pt_t *r, const etls_p256_pt_t *p, const uint64_t k[4])
{
    int8_t d[NDIGITS];
    etls_p256_pt_t tab[ROW], acc, q;
    etls_p256_aff_t pa;
    etls_fe_copy(pa.x, p->x);
    etls_fe_copy(pa.y, p->y);
    recode(d, k);
    tab[0] = *p;
    jac_dbl(&tab[1], p);
    for (int j = 2; j < ROW; j++) /* (j + 1) p = j p + p, j p != +-p */
        jac_madd(&tab[j], &tab[j - 1], &pa);
    uint64_t neg, a = digit_abs(d[NDIGITS - 1], &neg);
    pt_select(&acc, tab, a);
    fe_cneg(acc.y, neg);
    for (int i = NDIGITS - 2; i >= 0; i--) {
        for (int s = 0; s < WIN; s++)
            jac_dbl(&acc, &acc);
        a = digit_abs(d[i], &neg);
        pt_select(&q, tab, a);
        fe_cneg(q.y, neg);
        jac_add(&acc, &acc, &q);
    }
    *r = acc;
    etls_wipe(d, sizeof d);
    etls_wipe(tab, sizeof tab);
    etls_wipe(&acc, sizeof acc);
    etls_wipe(&q, sizeof q);
}

/* ---- conversions ---- */

/* Affine coordinates (plain limbs) of a Jacobian point; all-ones when it is infinity (x, y
 * then 0). */
static uint64_t to_affine(uint64_t x[4], uint64_t y[4], const etls_p256_pt_t *p)
{
    etls_p256_fe zi, z2, t;
    uint64_t inf = etls_fe_is_zero(p->z);
    fe_inv(zi, p->z); /* 0 for infinity, so x = y = 0 */
    etls_fe_sqr(z2, zi);
    etls_fe_mul(t, p->x, z2);
    etls_fe_from_mont(x, t);
    etls_fe_mul(z2, z2, zi);
    etls_fe_mul(t, p->y, z2);
    etls_fe_from_mont(y, t);
    etls_wipe(zi, sizeof zi);
    etls_wipe(z2, sizeof z2);
    etls_wipe(t, sizeof t);
    return inf;
}

/* Jacobian (X, Y, Z) -> homogeneous (X Z, Y, Z^3): the same point, for the complete formulas. */
static void jac_to_proj(etls_p256_pt_t *r, const etls_p256_pt_t *p)
{
    etls_p256_fe z2;
    etls_fe_sqr(z2, p->z);
    etls_fe_mul(r->x, p->x, p->z);
    etls_fe_copy(r->y, p->y);
    etls_fe_mul(r->z, z2, p->z);
}

/* x(a + b) (plain limbs) for Jacobian a, b of any value, infinity or equal points included
 * (verification: public data); returns all-ones when the sum is infinity. A Jacobian infinity
 * (X, Y, 0) with Y != 0 maps to the projective infinity (0 : Y : 0). */
static uint64_t sum_x(uint64_t x[4], const etls_p256_pt_t *a, const etls_p256_pt_t *b)
{
    etls_p256_pt_t pa, pb, s;
    etls_p256_fe zi, t;
    jac_to_proj(&pa, a);
    jac_to_proj(&pb, b);
    pt_add_complete(&s, &pa, &pb);
    if (etls_fe_is_zero(s.z))
        return UINT64_MAX;
    fe_inv(zi, s.z);
    etls_fe_mul(t, s.x, zi);
    etls_fe_from_mont(x, t);
    return 0;
}

static int decode(etls_p256_pt_t *r, const uint8_t *in, size_t len)
{
    uint64_t x[4], y[4];
    if (len != ETLS_P256_PUB_LEN || in[0] != 0x04)
        return ETLS_ERR_INVALID;
    etls_p256_from_be(x, in + 1);
    etls_p256_from_be(y, in + 33);
    if (!etls_p256_lt(x, etls_p256_p) || !etls_p256_lt(y, etls_p256_p))
        return ETLS_ERR_INVALID;
    etls_fe_to_mont(r->x, x);
    etls_fe_to_mont(r->y, y);
    etls_fe_copy(r->z, one_m);
    /* y^2 = x^3 - 3x + b */
    etls_p256_fe lhs, rhs, t;
    etls_fe_sqr(lhs, r->y);
    etls_fe_sqr(rhs, r->x);
    etls_fe_mul(rhs, rhs, r->x);
    etls_fe_add(t, r->x, r->x);
    etls_fe_add(t, t, r->x);
    etls_fe_sub(rhs, rhs, t);
    etls_fe_add(rhs, rhs, b_m);
    etls_fe_sub(t, lhs, rhs);
    return etls_fe_is_zero(t) ? 0 : ETLS_ERR_INVALID;
}

static uint64_t encode(uint8_t out[ETLS_P256_PUB_LEN], const etls_p256_pt_t *p)
{
    uint64_t x[4], y[4];
    uint64_t inf = to_affine(x, y, p);
    out[0] = (uint8_t)(0x04 & ~inf);
    etls_p256_to_be(out + 1, x);
    etls_p256_to_be(out + 33, y);
    etls_wipe(x, sizeof x);
    etls_wipe(y, sizeof y);
    return inf;
}

static void fe_mul_fn(etls_p256_fe r, const etls_p256_fe a, const etls_p256_fe b)
{
    etls_fe_mul(r, a, b);
}

const etls_p256_arith_t ETLS_P256_ARITH = {
    .name = ETLS_P256_ARITH_NAME,
    .sc_to_mont = sc_to_mont,
    .sc_from_mont = sc_from_mont,
    .sc_mul_m = sc_mul_m,
    .sc_inv_m = sc_inv_m,
    .fe_mul = fe_mul_fn,
    .fe_inv = fe_inv,
    .mul_base = mul_base,
    .mul = mul_var,
    .to_affine = to_affine,
    .sum_x = sum_x,
    .decode = decode,
    .encode = encode,
};
