/* SHA3-256, SHA3-512, SHAKE128 and SHAKE256 against OpenSSL 3.0's EVP on random inputs of
 * every length 0..1000 (which includes the rate boundaries 71/72/73, 135/136/137 and
 * 167/168/169), absorbed in one piece and in random pieces, and SHAKE output squeezed in one
 * piece and in random pieces across block boundaries. Also the 4-way Keccak permutations
 * (portable, AVX2 and AVX-512VL) and the AVX-512VL single permutation against the portable
 * single one on random states. The hashes run on whichever permutation the CPU mask selects
 * (the meson file runs this with AVX-512 and with AVX2 disabled too). */
#include <openssl/evp.h>
#include <string.h>

#include "crypto/mlkem.h"
#include "mlkem/mlkem_internal.h"
#include "test.h"

#define MAXLEN 1000
#define OUTLEN 700 /* > 4 SHAKE128 blocks */

static void ossl_digest(const EVP_MD *md, const uint8_t *in, size_t len, uint8_t *out, size_t outlen)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestInit_ex(c, md, NULL) == 1 && EVP_DigestUpdate(c, in, len) == 1;
    if (EVP_MD_get_flags(md) & EVP_MD_FLAG_XOF)
        ok = ok && EVP_DigestFinalXOF(c, out, outlen) == 1;
    else
        ok = ok && EVP_DigestFinal_ex(c, out, NULL) == 1;
    CHECK(ok);
    EVP_MD_CTX_free(c);
}

/* Absorbs `in` in random pieces, then squeezes outlen bytes in random pieces. */
static void shake_pieces(int which, const uint8_t *in, size_t len, uint8_t *out, size_t outlen,
                         etls_test_rng_t *rng)
{
    etls_shake_ctx_t c;
    if (which == 128)
        etls_shake128_init(&c);
    else
        etls_shake256_init(&c);
    for (size_t off = 0; off < len;) {
        size_t n = etls_test_rng_next(rng) % 200;
        n = n > len - off ? len - off : n;
        etls_shake_absorb(&c, in + off, n);
        off += n;
    }
    for (size_t off = 0; off < outlen;) {
        size_t n = etls_test_rng_next(rng) % 300;
        n = n > outlen - off ? outlen - off : n;
        etls_shake_squeeze(&c, out + off, n);
        off += n;
    }
    etls_shake_wipe(&c);
}

static void test_hashes(etls_test_rng_t *rng)
{
    static uint8_t in[MAXLEN], ours[OUTLEN], theirs[OUTLEN];
    for (size_t len = 0; len <= MAXLEN; len++) {
        etls_test_rng_bytes(rng, in, len);
        etls_sha3_256(ours, in, len);
        ossl_digest(EVP_sha3_256(), in, len, theirs, 32);
        CHECK_MSG(!memcmp(ours, theirs, 32), "sha3-256 len %zu", len);
        etls_sha3_512(ours, in, len);
        ossl_digest(EVP_sha3_512(), in, len, theirs, 64);
        CHECK_MSG(!memcmp(ours, theirs, 64), "sha3-512 len %zu", len);
        size_t outlen = 1 + etls_test_rng_next(rng) % OUTLEN;
        etls_shake128(ours, outlen, in, len);
        ossl_digest(EVP_shake128(), in, len, theirs, outlen);
        CHECK_MSG(!memcmp(ours, theirs, outlen), "shake128 len %zu out %zu", len, outlen);
        memset(ours, 0, sizeof ours);
        shake_pieces(128, in, len, ours, outlen, rng);
        CHECK_MSG(!memcmp(ours, theirs, outlen), "shake128 pieces len %zu out %zu", len, outlen);
        etls_shake256(ours, outlen, in, len);
        ossl_digest(EVP_shake256(), in, len, theirs, outlen);
        CHECK_MSG(!memcmp(ours, theirs, outlen), "shake256 len %zu out %zu", len, outlen);
        memset(ours, 0, sizeof ours);
        shake_pieces(256, in, len, ours, outlen, rng);
        CHECK_MSG(!memcmp(ours, theirs, outlen), "shake256 pieces len %zu out %zu", len, outlen);
    }
}

/* Squeezing exactly block by block, and a byte at a time, gives the same stream. */
static void test_squeeze_steps(void)
{
    uint8_t a[3 * ETLS_SHAKE128_RATE], b[sizeof a], c[sizeof a];
    etls_shake_ctx_t x;
    etls_shake128(a, sizeof a, "abc", 3);
    etls_shake128_init(&x);
    etls_shake_absorb(&x, "abc", 3);
    for (int i = 0; i < 3; i++)
        etls_shake_squeeze(&x, b + i * ETLS_SHAKE128_RATE, ETLS_SHAKE128_RATE);
    etls_shake128_init(&x);
    etls_shake_absorb(&x, "a", 1);
    etls_shake_absorb(&x, "bc", 2);
    for (size_t i = 0; i < sizeof c; i++)
        etls_shake_squeeze(&x, c + i, 1);
    CHECK_MEM(a, b, sizeof a);
    CHECK_MEM(a, c, sizeof a);
}

static void test_keccak4(const etls_keccak4_impl_t *impl, etls_test_rng_t *rng)
{
    static etls_keccak4_t st;
    uint64_t one[4][25];
    for (int round = 0; round < 200; round++) {
        etls_test_rng_bytes(rng, st.s, sizeof st.s);
        for (int j = 0; j < 4; j++)
            for (int i = 0; i < 25; i++)
                one[j][i] = st.s[4 * i + j];
        impl->permute(&st);
        for (int j = 0; j < 4; j++) {
            etls_keccak_f1600_portable(one[j]);
            for (int i = 0; i < 25; i++)
                CHECK_MSG(one[j][i] == st.s[4 * i + j], "%s lane %d word %d", impl->name, j, i);
        }
    }
}

int main(void)
{
    etls_test_rng_t rng;
    etls_test_rng_seed(&rng, etls_test_seed("sha3_diff"));
    /* Keccak-f[1600] of the zero state, first lane (FIPS 202 known answer). */
    uint64_t z[25] = {0};
    etls_keccak_f1600(z);
    CHECK(z[0] == 0xf1258f7940e1dde7ULL);
    test_hashes(&rng);
    test_squeeze_steps();
    test_keccak4(etls_keccak4_portable_get(), &rng);
    if (etls_keccak4_avx2_get())
        test_keccak4(etls_keccak4_avx2_get(), &rng);
    else
        printf("keccak4 avx2: SKIPPED (no AVX2 or masked)\n");
    if (etls_keccak4_avx512_get())
        test_keccak4(etls_keccak4_avx512_get(), &rng);
    else
        printf("keccak4 avx512: SKIPPED (no AVX-512VL or masked)\n");
    etls_keccak1_fn one = etls_keccak1_avx512_get();
    if (one) {
        uint64_t a[25], b[25];
        for (int round = 0; round < 1000; round++) {
            etls_test_rng_bytes(&rng, a, sizeof a);
            memcpy(b, a, sizeof a);
            one(a);
            etls_keccak_f1600_portable(b);
            CHECK_MSG(!memcmp(a, b, sizeof a), "keccak1 avx512 round %d", round);
        }
    } else {
        printf("keccak1 avx512: SKIPPED (no AVX-512VL or masked)\n");
    }
    return etls_test_summary("sha3_diff");
}
