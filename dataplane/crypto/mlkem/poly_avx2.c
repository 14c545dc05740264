/* The NTT, its inverse and MultiplyNTTs on AVX2, sixteen coefficients per register. Compiled
 * with -mavx2 and reached only through etls_mlkem_poly_avx2_get(), which checks the CPU first.
 *
 * Bit for bit the portable code of poly.c (the differential test compares the outputs, not
 * just their values mod q): the same butterflies in the same order of layers, Montgomery
 * products from mullo/mulhi (the low halves of a*b and t*q are equal, so the high halves
 * subtract exactly), the same Barrett quotient, and MultiplyNTTs summed in 32 bits (madd)
 * with one Montgomery reduction per coefficient.
 *
 * Layout: the seven layers split in two. Layers with len >= 16 pair whole registers. For
 * len 8, 4 and 2 the polynomial's 16 registers are transposed as a 16 x 16 matrix, so that lane
 * i of row l holds coefficient 16 i + l: those butterflies then pair whole rows, with a zeta
 * per lane (the tables below, arranged for that view from etls_mlkem_zetas); a second transpose
 * restores the order. No branch or index depends on a coefficient. */
#include <immintrin.h>

#include "common/cpu.h"
#include "mlkem_internal.h"

#define QINV (-3327)

/* Transposed-view zetas. Forward: [0, 16) len 8, lane i: zeta 16 + i; [16, 48) len 4, half h
 * (rows 0-3 / 8-11): zeta 32 + 2 i + h; [48, 112) len 2, quarter g (rows 4g, 4g+1): zeta
 * 64 + 4 i + g. Inverse (zetas in descending order): [0, 64) len 2: 127 - 4 i - g; [64, 96)
 * len 4: 63 - 2 i - h; [96, 112) len 8: 31 - i. gamma_odd: the MultiplyNTTs gamma of pair i in
 * lane 2 i + 1 (17^(2 BitRev7(i) + 1) times 2^16, centred), 0 in the even lanes. Generated
 * from etls_mlkem_zetas and the gammas of poly.c, checked by the differential test. */
static const int16_t zt_fwd[112] __attribute__((aligned(32))) = {
    573, -1325, 264, 383, -829, 1458, -1602, -130, -681, 1017, 732, 608, -1542, 411, -205, -1571,
    1223, -552, -1293, -282, 516, -320, -1618, 126, -853, -271, 107, -247, -398, -1508, 448, 677,
    652, 1015, 1491, -1544, -8, -666, -1162, 1469, -90, 830, -1421, -951, 961, -725, -1065, -1275,
    -1103, -1251, 422, -291, -246, -777, -1590, 418, 817, 1322, -1215, -874, -1185, -1510, -108, 958,
    430, 871, 587, -460, 778, 1483, 644, 329, 1097, -1285, -136, 220, -1530, -854, -308, -1460,
    555, 1550, 177, 1574, 1159, -602, -872, -156, 603, -1465, 1218, -1187, -1278, -870, 996, 1522,
    843, 105, -235, 1653, -147, 1119, 349, -75, 610, 384, -1335, -1659, 794, 478, 991, 1628,
};
static const int16_t zt_inv[112] __attribute__((aligned(32))) = {
    1628, 991, 478, 794, -1659, -1335, 384, 610, -75, 349, 1119, -147, 1653, -235, 105, 843,
    1522, 996, -870, -1278, -1187, 1218, -1465, 603, -156, -872, -602, 1159, 1574, 177, 1550, 555,
    -1460, -308, -854, -1530, 220, -136, -1285, 1097, 329, 644, 1483, 778, -460, 587, 871, 430,
    958, -108, -1510, -1185, -874, -1215, 1322, 817, 418, -1590, -777, -246, -291, 422, -1251, -1103,
    -1275, -1065, -725, 961, -951, -1421, 830, -90, 1469, -1162, -666, -8, -1544, 1491, 1015, 652,
    677, 448, -1508, -398, -247, 107, -271, -853, 126, -1618, -320, 516, -282, -1293, -552, 1223,
    -1571, -205, 411, -1542, 608, 732, 1017, -681, -130, -1602, 1458, -829, 383, 264, -1325, 573,
};
static const int16_t gamma_odd[256] __attribute__((aligned(32))) = {
    0, -1103, 0, 1103, 0, 430, 0, -430, 0, 555, 0, -555, 0, 843, 0, -843,
    0, -1251, 0, 1251, 0, 871, 0, -871, 0, 1550, 0, -1550, 0, 105, 0, -105,
    0, 422, 0, -422, 0, 587, 0, -587, 0, 177, 0, -177, 0, -235, 0, 235,
    0, -291, 0, 291, 0, -460, 0, 460, 0, 1574, 0, -1574, 0, 1653, 0, -1653,
    0, -246, 0, 246, 0, 778, 0, -778, 0, 1159, 0, -1159, 0, -147, 0, 147,
    0, -777, 0, 777, 0, 1483, 0, -1483, 0, -602, 0, 602, 0, 1119, 0, -1119,
    0, -1590, 0, 1590, 0, 644, 0, -644, 0, -872, 0, 872, 0, 349, 0, -349,
    0, 418, 0, -418, 0, 329, 0, -329, 0, -156, 0, 156, 0, -75, 0, 75,
    0, 817, 0, -817, 0, 1097, 0, -1097, 0, 603, 0, -603, 0, 610, 0, -610,
    0, 1322, 0, -1322, 0, -1285, 0, 1285, 0, -1465, 0, 1465, 0, 384, 0, -384,
    0, -1215, 0, 1215, 0, -136, 0, 136, 0, 1218, 0, -1218, 0, -1335, 0, 1335,
    0, -874, 0, 874, 0, 220, 0, -220, 0, -1187, 0, 1187, 0, -1659, 0, 1659,
    0, -1185, 0, 1185, 0, -1530, 0, 1530, 0, -1278, 0, 1278, 0, 794, 0, -794,
    0, -1510, 0, 1510, 0, -854, 0, 854, 0, -870, 0, 870, 0, 478, 0, -478,
    0, -108, 0, 108, 0, -308, 0, 308, 0, 996, 0, -996, 0, 991, 0, -991,
    0, 958, 0, -958, 0, -1460, 0, 1460, 0, 1522, 0, -1522, 0, 1628, 0, -1628,
};

static inline __m256i fqmul(__m256i a, __m256i b, __m256i bqinv)
{
    const __m256i q = _mm256_set1_epi16(MLKEM_Q);
    __m256i hi = _mm256_mulhi_epi16(a, b);
    __m256i t = _mm256_mullo_epi16(a, bqinv); /* = (a b mod 2^16) q^-1 mod 2^16 */
    return _mm256_sub_epi16(hi, _mm256_mulhi_epi16(t, q));
}

static inline __m256i qinv_of(__m256i z)
{
    return _mm256_mullo_epi16(z, _mm256_set1_epi16(QINV));
}

/* a - round(a 20159 / 2^26) q, the quotient as (mulhi(a, 20159) + 2^9) >> 10 (the same floor) */
static inline __m256i barrett(__m256i a)
{
    __m256i t = _mm256_mulhi_epi16(a, _mm256_set1_epi16(20159));
    t = _mm256_srai_epi16(_mm256_add_epi16(t, _mm256_set1_epi16(512)), 10);
    return _mm256_sub_epi16(a, _mm256_mullo_epi16(t, _mm256_set1_epi16(MLKEM_Q)));
}

static inline void bf(__m256i *a, __m256i *b, __m256i z, __m256i zq)
{
    __m256i t = fqmul(*b, z, zq);
    *b = _mm256_sub_epi16(*a, t);
    *a = _mm256_add_epi16(*a, t);
}

static inline void ibf(__m256i *a, __m256i *b, __m256i z, __m256i zq)
{
    __m256i t = *a;
    *a = barrett(_mm256_add_epi16(t, *b));
    *b = fqmul(_mm256_sub_epi16(*b, t), z, zq);
}

/* Row i of the 16 x 16 matrix of int16 becomes column i: 16-, 32- and 64-bit unpacks
 * transpose each 128-bit half as 16 x 8, then the halves are recombined. */
static void transpose(__m256i r[16])
{
    __m256i b[16], c[16], p[8], q[8];
    for (int i = 0; i < 8; i++) {
        b[2 * i] = _mm256_unpacklo_epi16(r[2 * i], r[2 * i + 1]);
        b[2 * i + 1] = _mm256_unpackhi_epi16(r[2 * i], r[2 * i + 1]);
    }
    for (int j = 0; j < 4; j++) { /* c[4j + k]: columns 2k, 2k+1 of rows 4j .. 4j+3 */
        c[4 * j] = _mm256_unpacklo_epi32(b[4 * j], b[4 * j + 2]);
        c[4 * j + 1] = _mm256_unpackhi_epi32(b[4 * j], b[4 * j + 2]);
        c[4 * j + 2] = _mm256_unpacklo_epi32(b[4 * j + 1], b[4 * j + 3]);
        c[4 * j + 3] = _mm256_unpackhi_epi32(b[4 * j + 1], b[4 * j + 3]);
    }
    for (int k = 0; k < 4; k++) { /* p: rows 0-7 of a column per half; q: rows 8-15 */
        p[2 * k] = _mm256_unpacklo_epi64(c[k], c[4 + k]);
        p[2 * k + 1] = _mm256_unpackhi_epi64(c[k], c[4 + k]);
        q[2 * k] = _mm256_unpacklo_epi64(c[8 + k], c[12 + k]);
        q[2 * k + 1] = _mm256_unpackhi_epi64(c[8 + k], c[12 + k]);
    }
    for (int k = 0; k < 8; k++) {
        r[k] = _mm256_permute2x128_si256(p[k], q[k], 0x20);
        r[8 + k] = _mm256_permute2x128_si256(p[k], q[k], 0x31);
    }
}

static inline void load(__m256i r[16], const mlkem_poly_t *p)
{
    for (int i = 0; i < 16; i++)
        r[i] = _mm256_loadu_si256((const __m256i *)(p->c + 16 * i));
}

static inline void store(mlkem_poly_t *p, const __m256i r[16])
{
    for (int i = 0; i < 16; i++)
        _mm256_storeu_si256((__m256i *)(p->c + 16 * i), r[i]);
}

static inline __m256i zv(const int16_t *t)
{
    return _mm256_load_si256((const __m256i *)t);
}

/* Butterflies of one layer between registers lo and lo + len / 16, with one zeta. */
static inline void layer_pair(__m256i r[16], int lo, int dist, int n, int16_t zeta)
{
    __m256i z = _mm256_set1_epi16(zeta), zq = qinv_of(z);
    for (int i = 0; i < n; i++)
        bf(&r[lo + i], &r[lo + i + dist], z, zq);
}

static inline void ilayer_pair(__m256i r[16], int lo, int dist, int n, int16_t zeta)
{
    __m256i z = _mm256_set1_epi16(zeta), zq = qinv_of(z);
    for (int i = 0; i < n; i++)
        ibf(&r[lo + i], &r[lo + i + dist], z, zq);
}

static void ntt_avx2(mlkem_poly_t *p)
{
    const int16_t *zt = etls_mlkem_zetas;
    __m256i r[16], z, zq;
    load(r, p);
    layer_pair(r, 0, 8, 8, zt[1]); /* len 128 */
    for (int m = 0; m < 2; m++)    /* len 64 */
        layer_pair(r, 8 * m, 4, 4, zt[2 + m]);
    for (int m = 0; m < 4; m++)    /* len 32 */
        layer_pair(r, 4 * m, 2, 2, zt[4 + m]);
    for (int m = 0; m < 8; m++)    /* len 16 */
        layer_pair(r, 2 * m, 1, 1, zt[8 + m]);
    transpose(r);
    z = zv(zt_fwd), zq = qinv_of(z); /* len 8 */
    for (int l = 0; l < 8; l++)
        bf(&r[l], &r[l + 8], z, zq);
    for (int h = 0; h < 2; h++) { /* len 4 */
        z = zv(zt_fwd + 16 + 16 * h), zq = qinv_of(z);
        for (int l = 8 * h; l < 8 * h + 4; l++)
            bf(&r[l], &r[l + 4], z, zq);
    }
    for (int g = 0; g < 4; g++) { /* len 2 */
        z = zv(zt_fwd + 48 + 16 * g), zq = qinv_of(z);
        for (int l = 4 * g; l < 4 * g + 2; l++)
            bf(&r[l], &r[l + 2], z, zq);
    }
    for (int i = 0; i < 16; i++)
        r[i] = barrett(r[i]);
    transpose(r);
    store(p, r);
}

static void invntt_avx2(mlkem_poly_t *p)
{
    const int16_t *zt = etls_mlkem_zetas;
    __m256i r[16], z, zq;
    load(r, p);
    transpose(r);
    for (int g = 0; g < 4; g++) { /* len 2 */
        z = zv(zt_inv + 16 * g), zq = qinv_of(z);
        for (int l = 4 * g; l < 4 * g + 2; l++)
            ibf(&r[l], &r[l + 2], z, zq);
    }
    for (int h = 0; h < 2; h++) { /* len 4 */
        z = zv(zt_inv + 64 + 16 * h), zq = qinv_of(z);
        for (int l = 8 * h; l < 8 * h + 4; l++)
            ibf(&r[l], &r[l + 4], z, zq);
    }
    z = zv(zt_inv + 96), zq = qinv_of(z); /* len 8 */
    for (int l = 0; l < 8; l++)
        ibf(&r[l], &r[l + 8], z, zq);
    transpose(r);
    for (int m = 0; m < 8; m++) /* len 16 */
        ilayer_pair(r, 2 * m, 1, 1, zt[15 - m]);
    for (int m = 0; m < 4; m++) /* len 32 */
        ilayer_pair(r, 4 * m, 2, 2, zt[7 - m]);
    for (int m = 0; m < 2; m++) /* len 64 */
        ilayer_pair(r, 8 * m, 4, 4, zt[3 - m]);
    ilayer_pair(r, 0, 8, 8, zt[1]); /* len 128 */
    z = _mm256_set1_epi16(1441), zq = qinv_of(z);
    for (int i = 0; i < 16; i++)
        r[i] = fqmul(r[i], z, zq);
    store(p, r);
}

/* (x (int16) q^-1 mod 2^16 ... ) on 32-bit lanes: (a - t q) >> 16 with t the low half of
 * a q^-1, sign-extended. */
static inline __m256i mont32(__m256i a)
{
    __m256i t = _mm256_mullo_epi32(a, _mm256_set1_epi32(QINV));
    t = _mm256_srai_epi32(_mm256_slli_epi32(t, 16), 16);
    return _mm256_srai_epi32(_mm256_sub_epi32(a, _mm256_mullo_epi32(t, _mm256_set1_epi32(MLKEM_Q))), 16);
}

static void basemul_acc_avx2(mlkem_poly_t *r, const mlkem_polyvec_t *a, const mlkem_polyvec_t *b)
{
    const __m256i swap = _mm256_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13, 2,
                                          3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    const __m256i qinv = _mm256_set1_epi16(QINV);
    for (int o = 0; o < MLKEM_N; o += 16) {
        __m256i g = zv(gamma_odd + o), c0 = _mm256_setzero_si256(), c1 = c0;
        for (int v = 0; v < MLKEM_K; v++) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(a->p[v].c + o));
            __m256i y = _mm256_loadu_si256((const __m256i *)(b->p[v].c + o));
            __m256i m = fqmul(x, y, _mm256_mullo_epi16(y, qinv)); /* odd lanes: a1 b1 2^-16 */
            /* c0 += a0 b0 + (a1 b1 2^-16) gamma; c1 += a0 b1 + a1 b0 */
            c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(_mm256_blend_epi16(x, m, 0xaa),
                                                        _mm256_blend_epi16(y, g, 0xaa)));
            c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(x, _mm256_shuffle_epi8(y, swap)));
        }
        c0 = _mm256_and_si256(mont32(c0), _mm256_set1_epi32(0xffff));
        c1 = _mm256_slli_epi32(mont32(c1), 16);
        _mm256_storeu_si256((__m256i *)(r->c + o), _mm256_or_si256(c0, c1));
    }
}

static const etls_mlkem_poly_impl_t poly_avx2 = {"avx2", ntt_avx2, invntt_avx2, basemul_acc_avx2};

const etls_mlkem_poly_impl_t *etls_mlkem_poly_avx2_get(void)
{
    return etls_cpu_has(ETLS_CPU_AVX2) ? &poly_avx2 : NULL;
}
