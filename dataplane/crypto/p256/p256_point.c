/* The P-256 group law and scalar multiplication.
 *
 * Addition and doubling are the complete projective formulas for a = -3 of Renes, Costello and
 * Batina, "Complete addition formulas for prime order elliptic curves" (EUROCRYPT 2016),
 * Algorithms 4, 5 and 6, written from the paper. They are correct for every pair of inputs
 * (equal points, inverses, infinity), so no code path depends on the points' values; the mixed
 * form (Algorithm 5) needs a finite affine second operand, which the table code guarantees by
 * selecting the previous value when the digit is zero.
 *
 * Fixed base: signed 5-bit windows (digits -16..16, 52 of them) and one table row per window,
 * row i holding j * 32^i * G for j = 1..16 in affine form; k * G is then 52 mixed additions and
 * no doublings. Variable base: the same digits over a 16-entry table of multiples of the point,
 * five doublings and one addition per digit. Every table read scans the whole row with masks. */
#include <pthread.h>

#include "p256_internal.h"

/* b in Montgomery form; G's coordinates likewise. */
const etls_p256_fe etls_p256_b_m = {0xd89cdf6229c4bddfULL, 0xacf005cd78843090ULL,
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
    etls_fe_copy(r->y, one_m);
}

/* Algorithm 4: r = p + q. */
void etls_p256_pt_add(etls_p256_pt_t *r, const etls_p256_pt_t *p, const etls_p256_pt_t *q)
{
    etls_p256_fe t0, t1, t2, t3, t4, x3, y3, z3;
    const uint64_t *b = etls_p256_b_m;
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

/* Algorithm 5: r = p + q for an affine (finite) q. */
static void pt_add_mixed(etls_p256_pt_t *r, const etls_p256_pt_t *p, const etls_p256_aff_t *q)
{
    etls_p256_fe t0, t1, t2, t3, t4, x3, y3, z3;
    const uint64_t *b = etls_p256_b_m;
    etls_fe_mul(t0, p->x, q->x);
    etls_fe_mul(t1, p->y, q->y);
    etls_fe_add(t3, q->x, q->y);
    etls_fe_add(t4, p->x, p->y);
    etls_fe_mul(t3, t3, t4);
    etls_fe_add(t4, t0, t1);
    etls_fe_sub(t3, t3, t4);
    etls_fe_mul(t4, q->y, p->z);
    etls_fe_add(t4, t4, p->y);
    etls_fe_mul(y3, q->x, p->z);
    etls_fe_add(y3, y3, p->x);
    etls_fe_mul(z3, b, p->z);
    etls_fe_sub(x3, y3, z3);
    etls_fe_add(z3, x3, x3);
    etls_fe_add(x3, x3, z3);
    etls_fe_sub(z3, t1, x3);
    etls_fe_add(x3, t1, x3);
    etls_fe_mul(y3, b, y3);
    etls_fe_add(t1, p->z, p->z);
    etls_fe_add(t2, t1, p->z);
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

/* Algorithm 6: r = 2p. */
void etls_p256_pt_dbl(etls_p256_pt_t *r, const etls_p256_pt_t *p)
{
    etls_p256_fe t0, t1, t2, t3, x3, y3, z3;
    const uint64_t *b = etls_p256_b_m;
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

/* Affine forms of pts[0..ROW) with one inversion (Montgomery's trick). Public data. */
static void row_to_affine(etls_p256_aff_t out[ROW], const etls_p256_pt_t pts[ROW])
{
    etls_p256_fe acc[ROW], inv;
    etls_fe_copy(acc[0], pts[0].z);
    for (int j = 1; j < ROW; j++)
        etls_fe_mul(acc[j], acc[j - 1], pts[j].z);
    etls_fe_inv(inv, acc[ROW - 1]);
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
            etls_p256_pt_add(&pts[j], &pts[j - 1], &base);
        row_to_affine(base_table[i], pts);
        etls_p256_pt_dbl(&base, &pts[ROW - 1]); /* 32 * 32^i * G */
    }
}

/* out = row[|d| - 1] (d != 0) by a full scan; the caller handles d == 0. */
static void row_select(etls_p256_aff_t *out, const etls_p256_aff_t row[ROW], uint64_t a)
{
    for (int j = 0; j < 4; j++)
        out->x[j] = out->y[j] = 0;
    for (int e = 0; e < ROW; e++) {
        uint64_t m = etls_ct_is_zero_mask(a ^ (uint64_t)(e + 1));
        for (int j = 0; j < 4; j++) {
            out->x[j] |= m & row[e].x[j];
            out->y[j] |= m & row[e].y[j];
        }
    }
}

void etls_p256_mul_base(etls_p256_pt_t *r, const uint64_t k[4])
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
        pt_add_mixed(&sum, &acc, &q);
        uint64_t keep = etls_ct_is_zero_mask(a); /* digit 0: q is not a point; skip it */
        etls_fe_cmov(sum.x, acc.x, keep);
        etls_fe_cmov(sum.y, acc.y, keep);
        etls_fe_cmov(sum.z, acc.z, keep);
        acc = sum;
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
    for (int e = 0; e < ROW; e++) {
        uint64_t m = etls_ct_is_zero_mask(a ^ (uint64_t)(e + 1));
        etls_fe_cmov(out->x, tab[e].x, m);
        etls_fe_cmov(out->y, tab[e].y, m);
        etls_fe_cmov(out->z, tab[e].z, m);
    }
}

void etls_p256_mul(etls_p256_pt_t *r, const etls_p256_pt_t *p, const uint64_t k[4])
{
    int8_t d[NDIGITS];
    etls_p256_pt_t tab[ROW], acc, q;
    recode(d, k);
    tab[0] = *p;
    for (int j = 1; j < ROW; j++) {
        if (j & 1) /* tab[j] = (j + 1) * p, even: double the half */
            etls_p256_pt_dbl(&tab[j], &tab[j / 2]);
        else
            etls_p256_pt_add(&tab[j], &tab[j - 1], p);
    }
    pt_set_inf(&acc);
    for (int i = NDIGITS - 1; i >= 0; i--) {
        for (int s = 0; s < WIN; s++)
            etls_p256_pt_dbl(&acc, &acc);
        uint64_t neg, a = digit_abs(d[i], &neg);
        pt_select(&q, tab, a);
        fe_cneg(q.y, neg);
        etls_p256_pt_add(&acc, &acc, &q);
    }
    *r = acc;
    etls_wipe(d, sizeof d);
    etls_wipe(tab, sizeof tab);
    etls_wipe(&acc, sizeof acc);
    etls_wipe(&q, sizeof q);
}

/* ---- conversions ---- */

uint64_t etls_p256_to_affine(uint64_t x[4], uint64_t y[4], const etls_p256_pt_t *p)
{
    etls_p256_fe zi, t;
    uint64_t inf = etls_fe_is_zero(p->z);
    etls_fe_inv(zi, p->z); /* 0 for infinity, so x = y = 0 */
    etls_fe_mul(t, p->x, zi);
    etls_fe_from_mont(x, t);
    etls_fe_mul(t, p->y, zi);
    etls_fe_from_mont(y, t);
    etls_wipe(zi, sizeof zi);
    etls_wipe(t, sizeof t);
    return inf;
}

int etls_p256_decode(etls_p256_pt_t *r, const uint8_t *in, size_t len)
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
    etls_fe_add(rhs, rhs, etls_p256_b_m);
    etls_fe_sub(t, lhs, rhs);
    return etls_fe_is_zero(t) ? 0 : ETLS_ERR_INVALID;
}

uint64_t etls_p256_encode(uint8_t out[ETLS_P256_PUB_LEN], const etls_p256_pt_t *p)
{
    uint64_t x[4], y[4];
    uint64_t inf = etls_p256_to_affine(x, y, p);
    out[0] = (uint8_t)(0x04 & ~inf);
    etls_p256_to_be(out + 1, x);
    etls_p256_to_be(out + 33, y);
    etls_wipe(x, sizeof x);
    etls_wipe(y, sizeof y);
    return inf;
}
