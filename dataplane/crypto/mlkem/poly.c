/* Arithmetic in R_q = Z_q[X]/(X^256 + 1), q = 3329 (FIPS 203 §4.3): Montgomery and Barrett
 * reduction, the NTT and its inverse, MultiplyNTTs, sampling, and the byte encodings.
 *
 * Coefficients are int16_t. Multiplications by constants use Montgomery form (factor 2^16), so
 * a product costs one 16x16->32 multiply and one reduction; the zeta tables below are
 * 17^BitRev7(i) and 17^(2 BitRev7(i) + 1) times 2^16 mod q, centred. Nothing here branches on
 * or indexes by a coefficient, except rejection sampling, which only sees public bytes. */
#include <string.h>

#include "common/ct.h"
#include "mlkem_internal.h"

#define QINV (-3327) /* q^-1 mod 2^16, as a signed 16-bit value */

const int16_t etls_mlkem_zetas[128] = {
    -1044, -758,  -359,  -1517, 1493,  1422,  287,   202,   -171,  622,   1577,  182,   962,
    -1202, -1474, 1468,  573,   -1325, 264,   383,   -829,  1458,  -1602, -130,  -681,  1017,
    732,   608,   -1542, 411,   -205,  -1571, 1223,  652,   -552,  1015,  -1293, 1491,  -282,
    -1544, 516,   -8,    -320,  -666,  -1618, -1162, 126,   1469,  -853,  -90,   -271,  830,
    107,   -1421, -247,  -951,  -398,  961,   -1508, -725,  448,   -1065, 677,   -1275, -1103,
    430,   555,   843,   -1251, 871,   1550,  105,   422,   587,   177,   -235,  -291,  -460,
    1574,  1653,  -246,  778,   1159,  -147,  -777,  1483,  -602,  1119,  -1590, 644,   -872,
    349,   418,   329,   -156,  -75,   817,   1097,  603,   610,   1322,  -1285, -1465, 384,
    -1215, -136,  1218,  -1335, -874,  220,   -1187, -1659, -1185, -1530, -1278, 794,   -1510,
    -854,  -870,  478,   -108,  -308,  996,   991,   958,   -1460, 1522,  1628};

/* gamma_i = 17^(2 BitRev7(i) + 1): gamma_{2j+1} = -gamma_{2j}, so only even i are stored. */
static const int16_t gammas[64] = {
    -1103, 430,  555,  843,  -1251, 871,  1550,  105,   422,   587,  177,  -235,  -291,
    -460,  1574, 1653, -246, 778,   1159, -147,  -777,  1483,  -602, 1119, -1590, 644,
    -872,  349,  418,  329,  -156,  -75,  817,   1097,  603,   610,  1322, -1285, -1465,
    384,   -1215, -136, 1218, -1335, -874, 220,  -1187, -1659, -1185, -1530, -1278, 794,
    -1510, -854, -870, 478,  -108,  -308, 996,   991,   958,   -1460, 1522, 1628};

/* The reductions are static inline and used under these names inside this file: the exported
 * etls_ versions are interposable in -fPIC code, so GCC would not inline them into the NTT
 * (measured: NTT 3x slower when it calls them). */
static inline int16_t mont_reduce(int32_t a)
{
    int16_t t = (int16_t)((int16_t)a * QINV);
    return (int16_t)((a - (int32_t)t * MLKEM_Q) >> 16);
}

/* 20159 = round(2^26 / q): the quotient estimate is off by at most one, which leaves the
 * result centred. */
static inline int16_t barrett_reduce(int16_t a)
{
    const int32_t v = ((1 << 26) + MLKEM_Q / 2) / MLKEM_Q;
    int16_t t = (int16_t)((v * a + (1 << 25)) >> 26);
    return (int16_t)(a - t * MLKEM_Q);
}

int16_t etls_mlkem_montgomery_reduce(int32_t a)
{
    return mont_reduce(a);
}

int16_t etls_mlkem_barrett_reduce(int16_t a)
{
    return barrett_reduce(a);
}

static inline int16_t fqmul(int16_t a, int16_t b)
{
    return mont_reduce((int32_t)a * b);
}

/* x in (-q, q) -> [0, q): adds q when negative, by mask. */
static inline int16_t caddq(int16_t x)
{
    return (int16_t)(x + ((x >> 15) & MLKEM_Q));
}

void etls_mlkem_poly_reduce(mlkem_poly_t *p)
{
    for (int i = 0; i < MLKEM_N; i++)
        p->c[i] = caddq(barrett_reduce(p->c[i]));
}

/* FIPS 203 Alg. 9. Each layer grows |c| by at most q (fqmul output is < q), so an input below
 * q stays below 8q < 2^15 after seven layers; one Barrett pass at the end brings it back. */
void etls_mlkem_poly_ntt(mlkem_poly_t *p)
{
    int16_t *f = p->c;
    unsigned k = 1;
    for (unsigned len = 128; len >= 2; len >>= 1) {
        for (unsigned start = 0; start < MLKEM_N; start += 2 * len) {
            int16_t zeta = etls_mlkem_zetas[k++];
            for (unsigned j = start; j < start + len; j++) {
                int16_t t = fqmul(zeta, f[j + len]);
                f[j + len] = (int16_t)(f[j] - t);
                f[j] = (int16_t)(f[j] + t);
            }
        }
    }
    for (int i = 0; i < MLKEM_N; i++)
        f[i] = barrett_reduce(f[i]);
}

/* FIPS 203 Alg. 10. The sums are Barrett-reduced as they are formed so they never overflow;
 * the final factor 1441 = 2^32 / 128 mod q multiplies by 128^-1 and undoes the 2^-16 left by
 * MultiplyNTTs (and adds none when the input had none: callers account for it). */
void etls_mlkem_poly_invntt(mlkem_poly_t *p)
{
    const int16_t f128 = 1441;
    int16_t *f = p->c;
    unsigned k = 127;
    for (unsigned len = 2; len <= 128; len <<= 1) {
        for (unsigned start = 0; start < MLKEM_N; start += 2 * len) {
            int16_t zeta = etls_mlkem_zetas[k--];
            for (unsigned j = start; j < start + len; j++) {
                int16_t t = f[j];
                f[j] = barrett_reduce((int16_t)(t + f[j + len]));
                f[j + len] = fqmul(zeta, (int16_t)(f[j + len] - t));
            }
        }
    }
    for (int i = 0; i < MLKEM_N; i++)
        f[i] = fqmul(f[i], f128);
}

void etls_mlkem_poly_tomont(mlkem_poly_t *p)
{
    const int16_t r2 = 1353; /* 2^32 mod q */
    for (int i = 0; i < MLKEM_N; i++)
        p->c[i] = fqmul(p->c[i], r2);
}

/* BaseCaseMultiply (Alg. 12) of every pair, summed over the vector in 32 bits and reduced
 * once: c0 = sum a0 b0 + (a1 b1 2^-16) (gamma 2^16), c1 = sum a0 b1 + a1 b0, every term at the
 * same scale; |sum| < 3 * 2 q^2 is far inside Montgomery reduction's range. */
void etls_mlkem_polyvec_basemul_acc(mlkem_poly_t *r, const mlkem_polyvec_t *a,
                                    const mlkem_polyvec_t *b)
{
    for (int i = 0; i < MLKEM_N / 2; i++) {
        int16_t g = (int16_t)((i & 1) ? -gammas[i >> 1] : gammas[i >> 1]);
        int32_t c0 = 0, c1 = 0;
        for (int v = 0; v < MLKEM_K; v++) {
            int16_t a0 = a->p[v].c[2 * i], a1 = a->p[v].c[2 * i + 1];
            int16_t b0 = b->p[v].c[2 * i], b1 = b->p[v].c[2 * i + 1];
            c0 += (int32_t)a0 * b0 + (int32_t)fqmul(a1, b1) * g;
            c1 += (int32_t)a0 * b1 + (int32_t)a1 * b0;
        }
        r->c[2 * i] = mont_reduce(c0);
        r->c[2 * i + 1] = mont_reduce(c1);
    }
}

static const etls_mlkem_poly_impl_t poly_portable = {"portable", etls_mlkem_poly_ntt,
                                                      etls_mlkem_poly_invntt,
                                                      etls_mlkem_polyvec_basemul_acc};

const etls_mlkem_poly_impl_t *etls_mlkem_poly_portable_get(void)
{
    return &poly_portable;
}

void etls_mlkem_poly_add(mlkem_poly_t *r, const mlkem_poly_t *a)
{
    for (int i = 0; i < MLKEM_N; i++)
        r->c[i] = (int16_t)(r->c[i] + a->c[i]);
}

void etls_mlkem_poly_sub(mlkem_poly_t *r, const mlkem_poly_t *a)
{
    for (int i = 0; i < MLKEM_N; i++)
        r->c[i] = (int16_t)(r->c[i] - a->c[i]);
}

/* ---- sampling ---- */

/* While two more coefficients fit, every candidate is written and the count advances by the
 * comparison, so the ~19% rejected candidates cost no mispredicted branch (one polynomial from
 * 504 bytes: ~5,100 -> ~1,500 TSC ticks measured); a rejected candidate is overwritten by the
 * next one. The last slot is filled the plain way. */
unsigned etls_mlkem_rej_uniform(int16_t *c, unsigned ctr, const uint8_t *buf, size_t len)
{
    size_t i = 0;
    for (; i + 3 <= len && ctr + 2 <= MLKEM_N; i += 3) {
        uint16_t d1 = (uint16_t)(buf[i] | ((buf[i + 1] & 0x0f) << 8));
        uint16_t d2 = (uint16_t)((buf[i + 1] >> 4) | (buf[i + 2] << 4));
        c[ctr] = (int16_t)d1;
        ctr += d1 < MLKEM_Q;
        c[ctr] = (int16_t)d2;
        ctr += d2 < MLKEM_Q;
    }
    for (; i + 3 <= len && ctr < MLKEM_N; i += 3) {
        uint16_t d1 = (uint16_t)(buf[i] | ((buf[i + 1] & 0x0f) << 8));
        uint16_t d2 = (uint16_t)((buf[i + 1] >> 4) | (buf[i + 2] << 4));
        if (d1 < MLKEM_Q)
            c[ctr++] = (int16_t)d1;
        if (d2 < MLKEM_Q && ctr < MLKEM_N)
            c[ctr++] = (int16_t)d2;
    }
    return ctr;
}

/* Eight coefficients per 32-bit word: d holds the pairwise bit sums, so each nibble of d is
 * (x, y) with x = b[4i] + b[4i+1] and y = b[4i+2] + b[4i+3]. */
void etls_mlkem_poly_cbd2(mlkem_poly_t *p, const uint8_t buf[MLKEM_CBD_BYTES])
{
    for (int w = 0; w < MLKEM_N / 8; w++) {
        uint32_t t;
        memcpy(&t, buf + 4 * w, 4);
        uint32_t d = (t & 0x55555555u) + ((t >> 1) & 0x55555555u);
        for (int j = 0; j < 8; j++) {
            int16_t x = (int16_t)((d >> (4 * j)) & 3), y = (int16_t)((d >> (4 * j + 2)) & 3);
            p->c[8 * w + j] = (int16_t)(x - y);
        }
    }
}

/* ---- encodings ---- */

void etls_mlkem_poly_tobytes(uint8_t out[MLKEM_POLY_BYTES], const mlkem_poly_t *p)
{
    for (int i = 0; i < MLKEM_N / 2; i++) {
        uint16_t a = (uint16_t)p->c[2 * i], b = (uint16_t)p->c[2 * i + 1];
        out[3 * i] = (uint8_t)a;
        out[3 * i + 1] = (uint8_t)((a >> 8) | (b << 4));
        out[3 * i + 2] = (uint8_t)(b >> 4);
    }
}

/* x in [0, 4096) -> x mod q, and bit 31 of *bad set when x >= q; no branch. */
static inline int16_t reduce12(uint32_t x, uint32_t *bad)
{
    uint32_t ge = ((uint32_t)MLKEM_Q - 1 - x) >> 31; /* 1 when x >= q */
    *bad |= ge;
    return (int16_t)(x - (ge * MLKEM_Q));
}

uint32_t etls_mlkem_poly_frombytes(mlkem_poly_t *p, const uint8_t in[MLKEM_POLY_BYTES])
{
    uint32_t bad = 0;
    for (int i = 0; i < MLKEM_N / 2; i++) {
        uint32_t b0 = in[3 * i], b1 = in[3 * i + 1], b2 = in[3 * i + 2];
        p->c[2 * i] = reduce12(b0 | ((b1 & 0x0f) << 8), &bad);
        p->c[2 * i + 1] = reduce12((b1 >> 4) | (b2 << 4), &bad);
    }
    return bad - 1; /* all-ones when nothing was out of range */
}

/* Compress_d(x) = round(2^d x / q) mod 2^d for x in [0, q). The division by q is a multiply and
 * shift (exact for every numerator below 2^23, checked exhaustively when the constant was
 * chosen), so its time does not depend on x whatever the compiler does with a `/`. */
static inline uint32_t compress(int16_t x, unsigned d)
{
    uint64_t n = ((uint64_t)(uint16_t)x << d) + MLKEM_Q / 2;
    return (uint32_t)((n * 2580335u) >> 33) & ((1u << d) - 1);
}

static inline int16_t decompress(uint32_t y, unsigned d)
{
    return (int16_t)((y * MLKEM_Q + (1u << (d - 1))) >> d);
}

/* ByteEncode_d: bits go out least significant first, g coefficients (g d bits, a whole number
 * of bytes that fits in 64 bits) at a time: g = 8 for d <= 8, g = 4 for d = 10. */
static inline unsigned group_of(unsigned d)
{
    return d <= 8 ? 8 : 4;
}

void etls_mlkem_poly_compress(uint8_t *out, const mlkem_poly_t *p, unsigned d)
{
    const unsigned g = group_of(d), nbytes = g * d / 8;
    for (unsigned i = 0; i < MLKEM_N; i += g) {
        uint64_t acc = 0;
        for (unsigned j = 0; j < g; j++)
            acc |= (uint64_t)compress(p->c[i + j], d) << (d * j);
        for (unsigned b = 0; b < nbytes; b++)
            out[b] = (uint8_t)(acc >> (8 * b));
        out += nbytes;
    }
}

void etls_mlkem_poly_decompress(mlkem_poly_t *p, const uint8_t *in, unsigned d)
{
    const unsigned g = group_of(d), nbytes = g * d / 8;
    const uint64_t mask = (1u << d) - 1;
    for (unsigned i = 0; i < MLKEM_N; i += g) {
        uint64_t acc = 0;
        for (unsigned b = 0; b < nbytes; b++)
            acc |= (uint64_t)in[b] << (8 * b);
        for (unsigned j = 0; j < g; j++)
            p->c[i + j] = decompress((uint32_t)((acc >> (d * j)) & mask), d);
        in += nbytes;
    }
}
