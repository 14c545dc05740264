/* Constant-time check for ML-KEM-768, meant to run under valgrind memcheck (suite 'ct'): the
 * secret inputs are marked undefined with etls_ct_classify before each call, so any branch or
 * memory index that depends on them makes valgrind report an error (and exit non-zero).
 *   KeyGen: d and z secret. Encaps: m secret. Decaps: the secret part of dk (the encoded s) and z
 *   secret, for a valid ciphertext and for a tampered one (implicit rejection), so neither
 *   which secret is returned nor the re-encryption comparison may branch.
 * The ek inside dk, H(ek) and ct are public by protocol and stay defined. Outputs are
 * declassified only after each call, to compare them with an unmarked reference run. Run
 * outside valgrind it still checks the results. */
#include <string.h>

#include "common/ct.h"
#include "common/err.h"
#include "crypto/mlkem.h"
#include "test.h"

#define DK_S_LEN 1152 /* ByteEncode12(s) at the start of dk */
#define DK_Z_OFF (ETLS_MLKEM768_DK_LEN - 32)

static uint8_t seed[64], m[32];
static uint8_t ek[ETLS_MLKEM768_EK_LEN], dk[ETLS_MLKEM768_DK_LEN], ct[ETLS_MLKEM768_CT_LEN];
static uint8_t ref_ek[ETLS_MLKEM768_EK_LEN], ref_dk[ETLS_MLKEM768_DK_LEN];
static uint8_t ref_ct[ETLS_MLKEM768_CT_LEN], ref_ss[32], ss[32], bad_ct[ETLS_MLKEM768_CT_LEN];
static uint8_t ref_bad_ss[32];

static void references(void)
{
    CHECK(etls_mlkem768_keygen_seed(ref_ek, ref_dk, seed, sizeof seed) == 0);
    CHECK(etls_mlkem768_encaps_msg(ref_ct, ref_ss, ref_ek, sizeof ref_ek, m) == 0);
    memcpy(bad_ct, ref_ct, sizeof bad_ct);
    bad_ct[100] ^= 0x10;
    CHECK(etls_mlkem768_decaps(ref_bad_ss, ref_dk, sizeof ref_dk, bad_ct, sizeof bad_ct) == 0);
    CHECK(memcmp(ref_bad_ss, ref_ss, 32) != 0);
}

static void test_keygen(void)
{
    etls_ct_classify(seed, sizeof seed);
    CHECK(etls_mlkem768_keygen_seed(ek, dk, seed, sizeof seed) == 0);
    etls_ct_declassify(ek, sizeof ek); /* public */
    etls_ct_declassify(dk, sizeof dk); /* for the comparison below only */
    etls_ct_declassify(seed, sizeof seed);
    CHECK_MEM(ek, ref_ek, sizeof ek);
    CHECK_MEM(dk, ref_dk, sizeof dk);
}

static void test_encaps(void)
{
    etls_ct_classify(m, sizeof m);
    CHECK(etls_mlkem768_encaps_msg(ct, ss, ek, sizeof ek, m) == 0);
    etls_ct_declassify(ct, sizeof ct); /* public */
    etls_ct_declassify(ss, sizeof ss);
    etls_ct_declassify(m, sizeof m);
    CHECK_MEM(ct, ref_ct, sizeof ct);
    CHECK_MEM(ss, ref_ss, sizeof ss);
}

static void decaps_secret(const uint8_t *c, const uint8_t want[32])
{
    memset(ss, 0, sizeof ss);
    etls_ct_classify(dk, DK_S_LEN);
    etls_ct_classify(dk + DK_Z_OFF, 32);
    CHECK(etls_mlkem768_decaps(ss, dk, sizeof dk, c, ETLS_MLKEM768_CT_LEN) == 0);
    etls_ct_declassify(ss, sizeof ss);
    etls_ct_declassify(dk, sizeof dk);
    CHECK_MEM(ss, want, 32);
}

int main(void)
{
    for (int i = 0; i < 64; i++)
        seed[i] = (uint8_t)(7 * i + 1);
    for (int i = 0; i < 32; i++)
        m[i] = (uint8_t)(0xa5 ^ (3 * i));
    printf("ml-kem path: %s\n", etls_mlkem_impl_name());
    references();
    test_keygen();
    test_encaps();
    decaps_secret(ct, ref_ss);
    decaps_secret(bad_ct, ref_bad_ss);
    return etls_test_summary("mlkem_ct");
}
