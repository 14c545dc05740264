/* ML-KEM-768 round trips and negative cases:
 * - ROUNDS random key pairs (seeded RNG, reproducible from the printed seed): Encaps then Decaps
 *   agree; the same ciphertext with one random bit flipped decapsulates to the implicit
 *   rejection secret J(z || c'), recomputed here with our SHAKE256, and never to the real one;
 * - the §7.3 checks (wrong dk/ct lengths, a dk whose ek or H(ek) part was changed) and the §7.2
 *   checks (wrong ek length, a coefficient equal to q, every bit pattern of 12 bits >= q in each
 *   position class) refuse with zeroed outputs; a coefficient of q - 1 is accepted;
 * - the arithmetic on its own: NTT then inverse NTT is the identity, Compress/Decompress stay
 *   within the FIPS 203 error bound, ByteDecode12 of any bytes gives coefficients in [0, q). */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "crypto/mlkem.h"
#include "crypto/rand.h"
#include "mlkem/mlkem_internal.h"
#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
#define ROUNDS 1000 /* unoptimised sanitizer build: ~20x slower */
#else
#define ROUNDS 10000
#endif

static const uint8_t zero[ETLS_MLKEM768_DK_LEN];

static uint8_t ek[ETLS_MLKEM768_EK_LEN], dk[ETLS_MLKEM768_DK_LEN], ct[ETLS_MLKEM768_CT_LEN];

static void rejection_secret(uint8_t out[32], const uint8_t *dkp, const uint8_t *c)
{
    uint8_t in[32 + ETLS_MLKEM768_CT_LEN];
    memcpy(in, dkp + ETLS_MLKEM768_DK_LEN - 32, 32);
    memcpy(in + 32, c, ETLS_MLKEM768_CT_LEN);
    etls_shake256(out, 32, in, sizeof in);
}

static void test_round_trips(etls_test_rng_t *trng)
{
    uint8_t seed[32], ss_e[32], ss_d[32], ss_t[32], want[32];
    etls_rand_t rng;
    etls_test_rng_bytes(trng, seed, sizeof seed);
    etls_rand_init_seeded(&rng, seed);
    unsigned agree = 0, rejected = 0;
    for (int i = 0; i < ROUNDS; i++) {
        CHECK(etls_mlkem768_keygen(ek, dk, &rng) == 0);
        CHECK(etls_mlkem768_encaps(ct, ss_e, ek, sizeof ek, &rng) == 0);
        CHECK(etls_mlkem768_decaps(ss_d, dk, sizeof dk, ct, sizeof ct) == 0);
        agree += memcmp(ss_e, ss_d, 32) == 0;
        uint64_t bit = etls_test_rng_next(trng) % (8 * sizeof ct);
        ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        CHECK(etls_mlkem768_decaps(ss_t, dk, sizeof dk, ct, sizeof ct) == 0);
        rejection_secret(want, dk, ct);
        rejected += memcmp(ss_t, want, 32) == 0 && memcmp(ss_t, ss_e, 32) != 0;
        ct[bit / 8] ^= (uint8_t)(1u << (bit % 8)); /* the next tests want the valid one */
    }
    CHECK_MSG(agree == ROUNDS, "%u of %d round trips agreed", agree, ROUNDS);
    CHECK_MSG(rejected == ROUNDS, "%u of %d tampered ciphertexts rejected", rejected, ROUNDS);
    etls_rand_wipe(&rng);
}

/* dk/ct lengths and the hash check; the key pair in ek/dk/ct comes from the last round trip. */
static void test_decaps_checks(void)
{
    uint8_t ss[32], bad[ETLS_MLKEM768_DK_LEN + 1];
    memset(ss, 0xaa, sizeof ss);
    CHECK(etls_mlkem768_decaps(ss, dk, sizeof dk - 1, ct, sizeof ct) == ETLS_ERR_INVALID);
    CHECK_MEM(ss, zero, 32);
    memcpy(bad, dk, sizeof dk);
    CHECK(etls_mlkem768_decaps(ss, bad, sizeof dk + 1, ct, sizeof ct) == ETLS_ERR_INVALID);
    CHECK(etls_mlkem768_decaps(ss, dk, sizeof dk, ct, sizeof ct - 1) == ETLS_ERR_INVALID);
    CHECK(etls_mlkem768_decaps(ss, dk, sizeof dk, ct, sizeof ct + 1) == ETLS_ERR_INVALID);
    CHECK(etls_mlkem768_decaps(ss, NULL, sizeof dk, ct, sizeof ct) == ETLS_ERR_INVALID);
    /* One byte changed in the ek part (both in t and in rho), then in H(ek): refused. */
    static const size_t where[] = {1152, 2000, 2335, 2336, 2367};
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
        memcpy(bad, dk, sizeof dk);
        bad[where[i]] ^= 1;
        memset(ss, 0xaa, sizeof ss);
        CHECK_MSG(etls_mlkem768_decaps(ss, bad, sizeof dk, ct, sizeof ct) == ETLS_ERR_INVALID,
                  "dk byte %zu changed", where[i]);
        CHECK_MEM(ss, zero, 32);
    }
    /* z is not covered by the hash: a changed z still decapsulates, to the same secret for a
     * valid ciphertext. */
    uint8_t ss2[32];
    CHECK(etls_mlkem768_decaps(ss, dk, sizeof dk, ct, sizeof ct) == 0);
    memcpy(bad, dk, sizeof dk);
    bad[2399] ^= 1;
    CHECK(etls_mlkem768_decaps(ss2, bad, sizeof dk, ct, sizeof ct) == 0);
    CHECK_MEM(ss, ss2, 32);
}

/* Sets 12-bit coefficient i of the encoded t in e to v. */
static void set_coeff(uint8_t *e, unsigned i, unsigned v)
{
    uint8_t *p = e + 3 * (i / 2);
    if (i % 2 == 0) {
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)((p[1] & 0xf0) | (v >> 8));
    } else {
        p[1] = (uint8_t)((p[1] & 0x0f) | ((v & 0x0f) << 4));
        p[2] = (uint8_t)(v >> 4);
    }
}

static void test_encaps_checks(etls_test_rng_t *trng)
{
    uint8_t e[ETLS_MLKEM768_EK_LEN + 1], m[32], c[ETLS_MLKEM768_CT_LEN], ss[32];
    etls_test_rng_bytes(trng, m, sizeof m);
    CHECK(etls_mlkem768_encaps_msg(c, ss, ek, sizeof ek - 1, m) == ETLS_ERR_INVALID);
    memcpy(e, ek, sizeof ek);
    CHECK(etls_mlkem768_encaps_msg(c, ss, e, sizeof ek + 1, m) == ETLS_ERR_INVALID);
    CHECK(etls_mlkem768_encaps_msg(c, ss, NULL, sizeof ek, m) == ETLS_ERR_INVALID);
    for (unsigned k = 0; k < 200; k++) {
        unsigned i = k < 4 ? (k % 2 ? 767 - k : k) : (unsigned)(etls_test_rng_next(trng) % 768);
        unsigned v = MLKEM_Q + (unsigned)(etls_test_rng_next(trng) % (4096 - MLKEM_Q));
        memcpy(e, ek, sizeof ek);
        set_coeff(e, i, k % 3 == 0 ? MLKEM_Q : v);
        memset(ss, 0xaa, sizeof ss);
        CHECK_MSG(etls_mlkem768_encaps_msg(c, ss, e, sizeof ek, m) == ETLS_ERR_INVALID,
                  "coefficient %u = %u accepted", i, k % 3 == 0 ? MLKEM_Q : v);
        CHECK_MEM(ss, zero, 32);
        CHECK_MEM(c, zero, sizeof c);
        set_coeff(e, i, MLKEM_Q - 1);
        CHECK_MSG(etls_mlkem768_encaps_msg(c, ss, e, sizeof ek, m) == 0, "q - 1 at %u refused", i);
    }
}

static void test_ntt(etls_test_rng_t *trng)
{
    mlkem_poly_t p, orig;
    for (int r = 0; r < 100; r++) {
        for (int i = 0; i < MLKEM_N; i++)
            orig.c[i] = (int16_t)(etls_test_rng_next(trng) % MLKEM_Q);
        p = orig;
        etls_mlkem_poly_ntt(&p);
        /* The inverse multiplies by 2^16 (it expects MultiplyNTTs' 2^-16): undo with 2^-16. */
        etls_mlkem_poly_invntt(&p);
        for (int i = 0; i < MLKEM_N; i++)
            p.c[i] = etls_mlkem_montgomery_reduce(p.c[i]);
        etls_mlkem_poly_reduce(&p);
        CHECK_MEM(p.c, orig.c, sizeof p.c);
    }
}

/* |Decompress_d(Compress_d(x)) - x| mod q <= round(q / 2^(d+1)) (FIPS 203 §4.2.1). */
static void test_compress(void)
{
    static const unsigned ds[] = {1, 4, 5, 10};
    for (size_t k = 0; k < sizeof ds / sizeof ds[0]; k++) {
        unsigned d = ds[k], bound = (MLKEM_Q + (1u << d)) >> (d + 1), worst = 0;
        uint8_t buf[320];
        mlkem_poly_t p, back;
        for (int base = 0; base < MLKEM_Q; base += MLKEM_N) {
            for (int i = 0; i < MLKEM_N; i++)
                p.c[i] = (int16_t)((base + i) % MLKEM_Q);
            etls_mlkem_poly_compress(buf, &p, d);
            etls_mlkem_poly_decompress(&back, buf, d);
            for (int i = 0; i < MLKEM_N; i++) {
                int diff = abs(back.c[i] - p.c[i]);
                diff = diff > MLKEM_Q / 2 ? MLKEM_Q - diff : diff;
                worst = (unsigned)diff > worst ? (unsigned)diff : worst;
            }
        }
        CHECK_MSG(worst <= bound, "d %u: error %u > %u", d, worst, bound);
    }
}

static void test_decode_any_bytes(etls_test_rng_t *trng)
{
    uint8_t b[MLKEM_POLY_BYTES];
    mlkem_poly_t p;
    for (int r = 0; r < 100; r++) {
        if (r == 0)
            memset(b, 0xff, sizeof b);
        else
            etls_test_rng_bytes(trng, b, sizeof b);
        uint32_t ok = etls_mlkem_poly_frombytes(&p, b);
        CHECK(ok == 0 || ok == UINT32_MAX);
        int in_range = 1;
        for (int i = 0; i < MLKEM_N; i++)
            in_range &= p.c[i] >= 0 && p.c[i] < MLKEM_Q;
        CHECK(in_range);
        CHECK(r != 0 || ok == 0);
    }
    memset(b, 0, sizeof b);
    CHECK(etls_mlkem_poly_frombytes(&p, b) == UINT32_MAX);
}

int main(void)
{
    etls_test_rng_t trng;
    etls_test_rng_seed(&trng, etls_test_seed("mlkem_roundtrip"));
    printf("ml-kem path: %s, %d rounds\n", etls_mlkem_impl_name(), ROUNDS);
    test_ntt(&trng);
    test_compress();
    test_decode_any_bytes(&trng);
    test_round_trips(&trng);
    test_decaps_checks();
    test_encaps_checks(&trng);
    return etls_test_summary("mlkem_roundtrip");
}
