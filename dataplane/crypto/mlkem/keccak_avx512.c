/* Keccak-f[1600] with AVX-512VL: one state (a lane per xmm register, for SHA3-256/512 and
 * single SHAKE instances) and four states side by side (a lane per ymm register, the
 * etls_keccak4_t layout of keccak_avx2.c). Compiled with -mavx512f -mavx512vl and reached only
 * through etls_keccak1_avx512_get() / etls_keccak4_avx512_get(), which check the CPU first.
 *
 * What AVX-512 adds over the AVX2 code: 32 vector registers (the 25 lanes and the theta
 * temporaries stay in registers), a rotate (vprolq) instead of two shifts and an OR, and
 * three-input logic (vpternlogq) for theta's five-way XOR (two ops instead of four) and chi's
 * a ^ (~b & c) (one op instead of two). The round is the one of keccak.c written once as a
 * macro over the vector type. */
#include <immintrin.h>

#include "common/cpu.h"
#include "mlkem_internal.h"

/* ternlog truth tables over (a, b, c): 0x96 = a ^ b ^ c, 0xd2 = a ^ (~b & c) */
#define KECCAK_ROUND(T, XOR3, XOR, ROL, CHI, a, rc)                                              \
    do {                                                                                          \
        T c0 = XOR3(XOR3(a[0], a[5], a[10]), a[15], a[20]);                                       \
        T c1 = XOR3(XOR3(a[1], a[6], a[11]), a[16], a[21]);                                       \
        T c2 = XOR3(XOR3(a[2], a[7], a[12]), a[17], a[22]);                                       \
        T c3 = XOR3(XOR3(a[3], a[8], a[13]), a[18], a[23]);                                       \
        T c4 = XOR3(XOR3(a[4], a[9], a[14]), a[19], a[24]);                                       \
        T d0 = XOR(c4, ROL(c1, 1)), d1 = XOR(c0, ROL(c2, 1)), d2 = XOR(c1, ROL(c3, 1));           \
        T d3 = XOR(c2, ROL(c4, 1)), d4 = XOR(c3, ROL(c0, 1));                                     \
        T b[25];                                                                                  \
        b[0] = XOR(a[0], d0);                                                                     \
        b[10] = ROL(XOR(a[1], d1), 1);                                                            \
        b[20] = ROL(XOR(a[2], d2), 62);                                                           \
        b[5] = ROL(XOR(a[3], d3), 28);                                                            \
        b[15] = ROL(XOR(a[4], d4), 27);                                                           \
        b[16] = ROL(XOR(a[5], d0), 36);                                                           \
        b[1] = ROL(XOR(a[6], d1), 44);                                                            \
        b[11] = ROL(XOR(a[7], d2), 6);                                                            \
        b[21] = ROL(XOR(a[8], d3), 55);                                                           \
        b[6] = ROL(XOR(a[9], d4), 20);                                                            \
        b[7] = ROL(XOR(a[10], d0), 3);                                                            \
        b[17] = ROL(XOR(a[11], d1), 10);                                                          \
        b[2] = ROL(XOR(a[12], d2), 43);                                                           \
        b[12] = ROL(XOR(a[13], d3), 25);                                                          \
        b[22] = ROL(XOR(a[14], d4), 39);                                                          \
        b[23] = ROL(XOR(a[15], d0), 41);                                                          \
        b[8] = ROL(XOR(a[16], d1), 45);                                                           \
        b[18] = ROL(XOR(a[17], d2), 15);                                                          \
        b[3] = ROL(XOR(a[18], d3), 21);                                                           \
        b[13] = ROL(XOR(a[19], d4), 8);                                                           \
        b[14] = ROL(XOR(a[20], d0), 18);                                                          \
        b[24] = ROL(XOR(a[21], d1), 2);                                                           \
        b[9] = ROL(XOR(a[22], d2), 61);                                                           \
        b[19] = ROL(XOR(a[23], d3), 56);                                                          \
        b[4] = ROL(XOR(a[24], d4), 14);                                                           \
        for (int y = 0; y < 25; y += 5) {                                                         \
            a[y + 0] = CHI(b[y + 0], b[y + 1], b[y + 2]);                                         \
            a[y + 1] = CHI(b[y + 1], b[y + 2], b[y + 3]);                                         \
            a[y + 2] = CHI(b[y + 2], b[y + 3], b[y + 4]);                                         \
            a[y + 3] = CHI(b[y + 3], b[y + 4], b[y + 0]);                                         \
            a[y + 4] = CHI(b[y + 4], b[y + 0], b[y + 1]);                                         \
        }                                                                                         \
        a[0] = XOR(a[0], rc);                                                                     \
    } while (0)

#define X1_XOR3(x, y, z) _mm_ternarylogic_epi64((x), (y), (z), 0x96)
#define X1_CHI(x, y, z) _mm_ternarylogic_epi64((x), (y), (z), 0xd2)
#define X1_ROL(x, n) _mm_rol_epi64((x), (n))
#define X4_XOR3(x, y, z) _mm256_ternarylogic_epi64((x), (y), (z), 0x96)
#define X4_CHI(x, y, z) _mm256_ternarylogic_epi64((x), (y), (z), 0xd2)
#define X4_ROL(x, n) _mm256_rol_epi64((x), (n))

static void keccak1_avx512_permute(uint64_t s[25])
{
    __m128i a[25];
    for (int i = 0; i < 25; i++)
        a[i] = _mm_cvtsi64_si128((long long)s[i]);
    for (int r = 0; r < 24; r++) {
        __m128i rc = _mm_cvtsi64_si128((long long)etls_keccak_rc[r]);
        KECCAK_ROUND(__m128i, X1_XOR3, _mm_xor_si128, X1_ROL, X1_CHI, a, rc);
    }
    for (int i = 0; i < 25; i++)
        s[i] = (uint64_t)_mm_cvtsi128_si64(a[i]);
    /* The registers may have held secrets (seeds, the message); clear the stack copies. */
    volatile __m128i *v = a;
    for (int i = 0; i < 25; i++)
        v[i] = _mm_setzero_si128();
}

static void keccak4_avx512_permute(etls_keccak4_t *st)
{
    __m256i a[25];
    for (int i = 0; i < 25; i++)
        a[i] = _mm256_load_si256((const __m256i *)&st->s[4 * i]);
    for (int r = 0; r < 24; r++) {
        __m256i rc = _mm256_set1_epi64x((long long)etls_keccak_rc[r]);
        KECCAK_ROUND(__m256i, X4_XOR3, _mm256_xor_si256, X4_ROL, X4_CHI, a, rc);
    }
    for (int i = 0; i < 25; i++)
        _mm256_store_si256((__m256i *)&st->s[4 * i], a[i]);
    volatile __m256i *v = a;
    for (int i = 0; i < 25; i++)
        v[i] = _mm256_setzero_si256();
}

static const etls_keccak4_impl_t keccak4_avx512 = {"avx512", keccak4_avx512_permute};

/* AVX2 too: every AVX-512 CPU has it, and ETLS_CPU_DISABLE=avx2 then means "portable only". */
static int have_avx512vl(void)
{
    return etls_cpu_has(ETLS_CPU_AVX512F) && etls_cpu_has(ETLS_CPU_AVX512VL) &&
           etls_cpu_has(ETLS_CPU_AVX2);
}

const etls_keccak4_impl_t *etls_keccak4_avx512_get(void)
{
    return have_avx512vl() ? &keccak4_avx512 : NULL;
}

etls_keccak1_fn etls_keccak1_avx512_get(void)
{
    return have_avx512vl() ? keccak1_avx512_permute : NULL;
}
