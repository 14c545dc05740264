/* X25519 key generation: fixed-base scalar multiplication on the birationally equivalent
 * twisted Edwards curve -x^2 + y^2 = 1 + d x^2 y^2 (Edwards25519), then u = (1 + y) / (1 - y).
 *
 * Why Edwards: with the base point fixed, a table of its multiples turns 255 ladder steps into
 * 64 mixed additions and 4 doublings. The scalar is recoded into 64 signed radix-16 digits
 * e_i in [-8, 8]; table[j][k-1] = k * 256^j * B in affine "niels" form (y+x, y-x, 2dxy), so
 *   k*B = sum_j e_{2j+1} 256^j B * 16 + sum_j e_{2j} 256^j B.
 * Each lookup reads all 8 entries of its row and keeps one with a mask, and a negative digit
 * is applied by a masked swap and negation, so neither time nor addresses depend on the digits.
 *
 * The table (32 x 8 points, 36 KiB) is computed from the base point at first use (about
 * 0.2 ms) under pthread_once: no generated source to keep in sync, no run-time cost after.
 *
 * Secrets: everything derived from the scalar lives in a base_ctx_t (or the caller's batch
 * arrays) that is wiped once at the end; no allocation. */
#include <pthread.h>

#include "x25519_fe51.h"
#include "x25519_internal.h"

typedef struct {
    fe51 X, Y, Z, T; /* extended coordinates: x = X/Z, y = Y/Z, T = XY/Z */
} ge_p3_t;

/* Affine "niels" form: y + x, y - x, 2*d*x*y. Each element is padded to 6 words (48 bytes) so
 * that table selection and the conditional negation can run on 16-byte vectors (GCC/Clang
 * vector extensions: SSE2 on x86-64, NEON on arm64, plain words elsewhere). */
typedef struct {
    fe51 ypx;
    uint64_t pad0;
    fe51 ymx;
    uint64_t pad1;
    fe51 xy2d;
    uint64_t pad2;
} ge_niels_t;

typedef uint64_t v2u64_t __attribute__((vector_size(16)));
typedef union {
    ge_niels_t p;
    v2u64_t v[9]; /* v[0..2] = ypx, v[3..5] = ymx, v[6..8] = xy2d */
} ge_slot_t;

typedef struct {
    fe51 ypx, ymx, z, t2d; /* projective version of niels, for general additions */
} ge_cached_t;

#define BASE_ROWS 32
#define BASE_COLS 8

static ge_slot_t base_table[BASE_ROWS][BASE_COLS] __attribute__((aligned(64)));
static pthread_once_t base_table_once = PTHREAD_ONCE_INIT;

/* Edwards25519 base point B (x even, y = 4/5), the image of u = 9; little-endian. */
static const uint8_t base_x[32] = {
    0x1a, 0xd5, 0x25, 0x8f, 0x60, 0x2d, 0x56, 0xc9, 0xb2, 0xa7, 0x25, 0x95, 0x60, 0xc7, 0x2c, 0x69,
    0x5c, 0xdc, 0xd6, 0xfd, 0x31, 0xe2, 0xa4, 0xc0, 0xfe, 0x53, 0x6e, 0xcd, 0xd3, 0x36, 0x69, 0x21,
};
static const uint8_t base_y[32] = {
    0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
    0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
};

static void ge_identity(ge_p3_t *p)
{
    fe51_set_small(p->X, 0);
    fe51_set_small(p->Y, 1);
    fe51_set_small(p->Z, 1);
    fe51_set_small(p->T, 0);
}

/* Temporaries of the point formulas. They are derived from the secret scalar, so they live in
 * the caller's context, which is wiped once at the end instead of after every operation. */
typedef struct {
    fe51 a, b, c, d, e, f, g, h;
} ge_tmp_t;

/* r = 2p (dbl-2008-hwcd with a = -1, every intermediate negated, which cancels in the
 * products). with_t = 0 skips T when the next operation is another doubling. r may alias p. */
static void ge_dbl(ge_p3_t *r, const ge_p3_t *p, ge_tmp_t *w, int with_t)
{
    fe51_sq(w->a, p->X);
    fe51_sq(w->b, p->Y);
    fe51_sq(w->c, p->Z);
    fe51_add(w->c, w->c, w->c);
    fe51_add(w->h, w->a, w->b);
    fe51_add(w->e, p->X, p->Y);
    fe51_sq(w->e, w->e);
    fe51_sub_nc(w->e, w->h, w->e);
    fe51_sub(w->g, w->a, w->b);
    fe51_add(w->f, w->c, w->g);
    fe51_mul(r->X, w->e, w->f);
    fe51_mul(r->Y, w->g, w->h);
    if (with_t)
        fe51_mul(r->T, w->e, w->h);
    fe51_mul(r->Z, w->f, w->g);
}

/* r = p + q given w->a = (Y1-X1)(y2-x2), w->b = (Y1+X1)(y2+x2), w->c = T1*2d*T2 and
 * w->d = 2*Z1*Z2 (add-2008-hwcd-3). The differences only feed products, so they skip the
 * carry. r may alias p. */
static void ge_finish_add(ge_p3_t *r, ge_tmp_t *w)
{
    fe51_sub_nc(w->e, w->b, w->a);
    fe51_add(w->h, w->b, w->a);
    fe51_sub_nc(w->f, w->d, w->c);
    fe51_add(w->g, w->d, w->c);
    fe51_mul(r->X, w->e, w->f);
    fe51_mul(r->Y, w->g, w->h);
    fe51_mul(r->T, w->e, w->h);
    fe51_mul(r->Z, w->f, w->g);
}

/* r = p + q with q affine (Z = 1). */
static void ge_madd(ge_p3_t *r, const ge_p3_t *p, const ge_niels_t *q, ge_tmp_t *w)
{
    fe51_sub_nc(w->a, p->Y, p->X);
    fe51_mul(w->a, w->a, q->ymx);
    fe51_add(w->b, p->Y, p->X);
    fe51_mul(w->b, w->b, q->ypx);
    fe51_mul(w->c, p->T, q->xy2d);
    fe51_add(w->d, p->Z, p->Z);
    ge_finish_add(r, w);
}

static void ge_to_cached(ge_cached_t *r, const ge_p3_t *p, const fe51 d2)
{
    fe51_add(r->ypx, p->Y, p->X);
    fe51_carry(r->ypx);
    fe51_sub(r->ymx, p->Y, p->X);
    fe51_copy(r->z, p->Z);
    fe51_mul(r->t2d, p->T, d2);
}

/* r = p + q, general case; used only to build the table from public points. */
static void ge_add(ge_p3_t *r, const ge_p3_t *p, const ge_cached_t *q, ge_tmp_t *w)
{
    fe51_sub_nc(w->a, p->Y, p->X);
    fe51_mul(w->a, w->a, q->ymx);
    fe51_add(w->b, p->Y, p->X);
    fe51_mul(w->b, w->b, q->ypx);
    fe51_mul(w->c, p->T, q->t2d);
    fe51_mul(w->d, p->Z, q->z);
    fe51_add(w->d, w->d, w->d);
    ge_finish_add(r, w);
}

/* Inverts z[0..n) in place with one field inversion (Montgomery's trick); scratch holds n
 * elements. No z may be zero (each would zero the whole batch). */
static void fe51_batch_invert(fe51 *z, fe51 *scratch, size_t n)
{
    fe51 inv, t;
    fe51_copy(scratch[0], z[0]);
    for (size_t i = 1; i < n; i++)
        fe51_mul(scratch[i], scratch[i - 1], z[i]); /* scratch[i] = z[0] * ... * z[i] */
    fe51_invert(inv, scratch[n - 1]);
    for (size_t i = n - 1; i > 0; i--) {
        fe51_mul(t, inv, scratch[i - 1]); /* 1/z[i] */
        fe51_mul(inv, inv, z[i]);         /* 1/(z[0] * ... * z[i-1]) */
        fe51_copy(z[i], t);
    }
    fe51_copy(z[0], inv);
    etls_wipe(inv, sizeof inv);
    etls_wipe(t, sizeof t);
}

/* Builds base_table from B alone: row j holds 1..8 times 256^j B, normalised to affine with
 * one batched inversion. Public data only. */
static void base_table_init(void)
{
    static ge_p3_t pts[BASE_ROWS * BASE_COLS];
    static fe51 zs[BASE_ROWS * BASE_COLS], scratch[BASE_ROWS * BASE_COLS];
    fe51 d2, t;
    ge_p3_t row;
    ge_cached_t rowc;
    ge_tmp_t w;

    fe51_set_small(t, 121666); /* d = -121665 / 121666 */
    fe51_invert(t, t);
    fe51_mul_small(d2, t, 2 * 121665);
    fe51_neg(d2, d2);

    fe51_frombytes(row.X, base_x);
    fe51_frombytes(row.Y, base_y);
    fe51_set_small(row.Z, 1);
    fe51_mul(row.T, row.X, row.Y);
    for (int j = 0; j < BASE_ROWS; j++) {
        if (j > 0)
            for (int i = 0; i < 8; i++)
                ge_dbl(&row, &row, &w, 1);
        ge_to_cached(&rowc, &row, d2);
        pts[j * BASE_COLS] = row;
        for (int k = 1; k < BASE_COLS; k++)
            ge_add(&pts[j * BASE_COLS + k], &pts[j * BASE_COLS + k - 1], &rowc, &w);
    }
    for (int i = 0; i < BASE_ROWS * BASE_COLS; i++)
        fe51_copy(zs[i], pts[i].Z);
    fe51_batch_invert(zs, scratch, BASE_ROWS * BASE_COLS);
    for (int i = 0; i < BASE_ROWS * BASE_COLS; i++) {
        ge_niels_t *n = &base_table[i / BASE_COLS][i % BASE_COLS].p;
        fe51 x, y;
        fe51_mul(x, pts[i].X, zs[i]);
        fe51_mul(y, pts[i].Y, zs[i]);
        fe51_add(n->ypx, y, x);
        fe51_carry(n->ypx);
        fe51_sub(n->ymx, y, x);
        fe51_mul(n->xy2d, x, y);
        fe51_mul(n->xy2d, n->xy2d, d2);
    }
}

void etls_x25519_base_table_entry(int row, int col, uint8_t ypx[32], uint8_t ymx[32],
                                  uint8_t xy2d[32])
{
    pthread_once(&base_table_once, base_table_init);
    const ge_niels_t *n = &base_table[row][col].p;
    fe51_tobytes(ypx, n->ypx);
    fe51_tobytes(ymx, n->ymx);
    fe51_tobytes(xy2d, n->xy2d);
}

/* All-ones when a == b (both small non-negative), else zero. */
static uint64_t eq_mask(uint64_t a, uint64_t b)
{
    return etls_ct_barrier_u64(0 - (((a ^ b) - 1) >> 63));
}

/* Everything the fixed-base multiplication derives from the scalar, wiped once at the end. */
typedef struct {
    uint8_t k[32];
    int8_t e[64];
    ge_p3_t h;
    ge_slot_t t;
    ge_tmp_t w;
} base_ctx_t;

/* c->t = e * table[row] for a digit e in [-8, 8]. Reads the whole row; the running choice
 * and its conditional negation stay in vector registers. */
static void base_select(base_ctx_t *c, int row, int8_t e)
{
    uint64_t neg = (uint64_t)((uint8_t)e >> 7);
    uint64_t abs = (uint64_t)(uint8_t)(e - (int8_t)((-(int)neg & e) * 2));
    static const ge_slot_t neutral = {.p = {.ypx = {1}, .ymx = {1}}}; /* x = 0, y = 1 */
    /* 4p limb by limb: -z = 4p - z, left uncarried (limbs < 2^53 feed only fe51_mul). */
    static const v2u64_t four_p[3] = {
        {(UINT64_C(1) << 53) - 76, (UINT64_C(1) << 53) - 4},
        {(UINT64_C(1) << 53) - 4, (UINT64_C(1) << 53) - 4},
        {(UINT64_C(1) << 53) - 4, 0},
    };
    v2u64_t acc[9], m, t;
#pragma GCC unroll 9
    for (int i = 0; i < 9; i++)
        acc[i] = neutral.v[i];
    for (int k = 0; k < BASE_COLS; k++) {
        uint64_t m1 = eq_mask(abs, (uint64_t)k + 1);
        const ge_slot_t *s = &base_table[row][k];
        m = (v2u64_t){m1, m1};
#pragma GCC unroll 9 /* keeps acc[] in registers instead of a store/load chain */
        for (int i = 0; i < 9; i++)
            acc[i] ^= m & (acc[i] ^ s->v[i]);
    }
    /* -(x, y) = (-x, y): swap y+x with y-x, negate 2dxy. */
    uint64_t mn = etls_ct_barrier_u64(0 - neg);
    m = (v2u64_t){mn, mn};
#pragma GCC unroll 3
    for (int i = 0; i < 3; i++) {
        t = m & (acc[i] ^ acc[3 + i]);
        acc[i] ^= t;
        acc[3 + i] ^= t;
        acc[6 + i] ^= m & (acc[6 + i] ^ (four_p[i] - acc[6 + i]));
    }
#pragma GCC unroll 9
    for (int i = 0; i < 9; i++)
        c->t.v[i] = acc[i];
}

/* c->h = k * B for the clamped scalar c->k (k < 2^255, so the top digit stays <= 8). */
static void ge_scalarmult_base(base_ctx_t *c)
{
    int8_t *e = c->e, carry = 0;
    for (int i = 0; i < 32; i++) {
        e[2 * i] = (int8_t)(c->k[i] & 15);
        e[2 * i + 1] = (int8_t)(c->k[i] >> 4);
    }
    for (int i = 0; i < 63; i++) { /* recode digits 0..15 into -8..7, carrying upward */
        e[i] = (int8_t)(e[i] + carry);
        carry = (int8_t)((e[i] + 8) >> 4);
        e[i] = (int8_t)(e[i] - carry * 16);
    }
    e[63] = (int8_t)(e[63] + carry);

    ge_identity(&c->h);
    for (int i = 1; i < 64; i += 2) {
        base_select(c, i / 2, e[i]);
        ge_madd(&c->h, &c->h, &c->t.p, &c->w);
    }
    for (int i = 0; i < 4; i++)
        ge_dbl(&c->h, &c->h, &c->w, i == 3);
    for (int i = 0; i < 64; i += 2) {
        base_select(c, i / 2, e[i]);
        ge_madd(&c->h, &c->h, &c->t.p, &c->w);
    }
}

/* num/den of u = (Z + Y) / (Z - Y) for pub = clamp(sk) * B. den is never zero: a clamped
 * scalar is a multiple of 8 below 2^255 < 8 * order(B), so the point is never the identity. */
static void base_fraction(base_ctx_t *c, fe51 num, fe51 den, const uint8_t sk[32])
{
    pthread_once(&base_table_once, base_table_init);
    etls_x25519_clamp(c->k, sk);
    ge_scalarmult_base(c);
    fe51_add(num, c->h.Z, c->h.Y);
    fe51_sub(den, c->h.Z, c->h.Y);
}

void etls_x25519_base_one(uint8_t pub[32], const uint8_t sk[32])
{
    base_ctx_t c;
    fe51 num, den;
    base_fraction(&c, num, den, sk);
    fe51_invert(den, den);
    fe51_mul(num, num, den);
    fe51_tobytes(pub, num);
    etls_wipe(&c, sizeof c);
    etls_wipe(num, sizeof num);
    etls_wipe(den, sizeof den);
}

/* Chunk size for the shared inversion: the inversion costs about 265 multiplications, the trick
 * 3 per key, so 16 keys already make it a small share; bounded stack. */
#define BASE_CHUNK 16

void etls_x25519_base_batch(etls_x25519_op_t *const *ops, size_t n)
{
    base_ctx_t c;
    fe51 num[BASE_CHUNK], den[BASE_CHUNK], scratch[BASE_CHUNK];
    while (n > 0) {
        size_t m = n < BASE_CHUNK ? n : BASE_CHUNK;
        for (size_t i = 0; i < m; i++)
            base_fraction(&c, num[i], den[i], ops[i]->sk);
        fe51_batch_invert(den, scratch, m);
        for (size_t i = 0; i < m; i++) {
            fe51_mul(num[i], num[i], den[i]);
            fe51_tobytes(ops[i]->out, num[i]);
            ops[i]->status = 0;
        }
        ops += m;
        n -= m;
    }
    etls_wipe(&c, sizeof c);
    etls_wipe(num, sizeof num);
    etls_wipe(den, sizeof den);
    etls_wipe(scratch, sizeof scratch);
}
