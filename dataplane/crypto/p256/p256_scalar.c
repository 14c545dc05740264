/* Inversions and Montgomery conversions mod p and mod n. Inversion is Fermat's a^(m-2): the
 * exponent is public, so the sequence of squarings and multiplications is fixed and the time is
 * independent of a. Compiled together with p256_point.c into each arithmetic copy. */
#include "p256_internal.h"

/* R^2 mod p and R^2 mod n (R = 2^256), for conversion into Montgomery form. */
static const uint64_t rr_p[4] = {0x0000000000000003ULL, 0xfffffffbffffffffULL,
                                 0xfffffffffffffffeULL, 0x00000004fffffffdULL};
static const uint64_t rr_n[4] = {0x83244c95be79eea2ULL, 0x4699799c49bd6fa6ULL,
                                 0x2845b2392b6bec59ULL, 0x66e12d94f3d95620ULL};
static const uint64_t one[4] = {1, 0, 0, 0};

static void etls_fe_to_mont(etls_p256_fe r, const uint64_t a[4])
{
    etls_fe_mul(r, a, rr_p);
}

static void etls_fe_from_mont(uint64_t r[4], const etls_p256_fe a)
{
    etls_fe_mul(r, a, one);
}

static void fe_sqr_n(etls_p256_fe r, const etls_p256_fe a, int n)
{
    etls_fe_sqr(r, a);
    for (int i = 1; i < n; i++)
        etls_fe_sqr(r, r);
}

/* p - 2 = ffffffff 00000001 00000000 00000000 00000000 ffffffff ffffffff fffffffd (32-bit
 * words, most significant first). xK below is a^(2^K - 1), a run of K one bits; the chain
 * costs 255 squarings and 12 multiplications. */
static void fe_inv(etls_p256_fe r, const etls_p256_fe a)
{
    etls_p256_fe x2, x3, x6, x12, x15, x30, x32, t;
    fe_sqr_n(t, a, 1);
    etls_fe_mul(x2, t, a);
    fe_sqr_n(t, x2, 1);
    etls_fe_mul(x3, t, a);
    fe_sqr_n(t, x3, 3);
    etls_fe_mul(x6, t, x3);
    fe_sqr_n(t, x6, 6);
    etls_fe_mul(x12, t, x6);
    fe_sqr_n(t, x12, 3);
    etls_fe_mul(x15, t, x3);
    fe_sqr_n(t, x15, 15);
    etls_fe_mul(x30, t, x15);
    fe_sqr_n(t, x30, 2);
    etls_fe_mul(x32, t, x2);
    /* ffffffff 00000001 */
    fe_sqr_n(t, x32, 32);
    etls_fe_mul(t, t, a);
    /* 00000000 00000000 00000000 ffffffff */
    fe_sqr_n(t, t, 128);
    etls_fe_mul(t, t, x32);
    /* ffffffff */
    fe_sqr_n(t, t, 32);
    etls_fe_mul(t, t, x32);
    /* fffffffd = 30 ones, then 0, 1 */
    fe_sqr_n(t, t, 30);
    etls_fe_mul(t, t, x30);
    fe_sqr_n(t, t, 2);
    etls_fe_mul(r, t, a);
    etls_wipe(x2, sizeof x2);
    etls_wipe(x3, sizeof x3);
    etls_wipe(x6, sizeof x6);
    etls_wipe(x12, sizeof x12);
    etls_wipe(x15, sizeof x15);
    etls_wipe(x30, sizeof x30);
    etls_wipe(x32, sizeof x32);
    etls_wipe(t, sizeof t);
}

static void sc_to_mont(uint64_t r[4], const uint64_t a[4])
{
    etls_mod_mul(r, a, rr_n, etls_p256_n, ETLS_P256_N0INV);
}

static void sc_from_mont(uint64_t r[4], const uint64_t a[4])
{
    etls_mod_mul(r, a, one, etls_p256_n, ETLS_P256_N0INV);
}

static void sc_mul_m(uint64_t r[4], const uint64_t a[4], const uint64_t b[4])
{
    etls_mod_mul(r, a, b, etls_p256_n, ETLS_P256_N0INV);
}

/* n - 2 with a fixed 4-bit window: the window values come from the public exponent, so the
 * table index is public too. 252 squarings and 63 + 14 multiplications. */
static void sc_inv_m(uint64_t r[4], const uint64_t a[4])
{
    static const uint64_t e[4] = {0xf3b9cac2fc63254fULL, 0xbce6faada7179e84ULL,
                                  0xffffffffffffffffULL, 0xffffffff00000000ULL};
    uint64_t pw[16][4], t[4];
    sc_to_mont(pw[0], one);
    for (int j = 0; j < 4; j++)
        pw[1][j] = a[j];
    for (int i = 2; i < 16; i++)
        sc_mul_m(pw[i], pw[i - 1], a);
    for (int j = 0; j < 4; j++)
        t[j] = pw[e[3] >> 60][j];
    for (int nib = 62; nib >= 0; nib--) {
        for (int s = 0; s < 4; s++)
            sc_mul_m(t, t, t);
        unsigned w = (unsigned)(e[nib / 16] >> (4 * (nib % 16))) & 15;
        sc_mul_m(t, t, pw[w]);
    }
    for (int j = 0; j < 4; j++)
        r[j] = t[j];
    etls_wipe(pw, sizeof pw);
    etls_wipe(t, sizeof t);
}

