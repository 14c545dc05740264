/* Constant-time check for the native P-256, meant to run under valgrind memcheck (suite 'ct'):
 * private scalars and the nonce material (the extra randomness fed to the RFC 6979 generator)
 * are marked undefined with etls_ct_classify before each call, so any branch or memory index
 * that depends on them makes valgrind report an error (and exit non-zero). Only public outputs
 * (signatures, public keys, shared secrets) are declassified, after the call, to compare them
 * with a reference run made before anything was marked. Covers key loading, signing (single,
 * hedged through a seeded RNG, and batched), ECDH (single and batched) and key generation.
 * Run outside valgrind it still checks the results. Valgrind's CPUID hides ADX, so the public
 * calls take the portable arithmetic there; test_arith runs the mulx/adcx/adox copy directly
 * (valgrind executes those instructions) when the CPU has it. */
#include <stdio.h>
#include <string.h>

#include "common/ct.h"
#include "common/err.h"
#include "crypto/p256.h"
#include "crypto/p256/p256_internal.h"
#include "test.h"

enum { NOPS = 5 };

static uint8_t skb[NOPS][32], extra[NOPS][32], digest[NOPS][32];
static etls_p256_sk_t sk[NOPS];
static uint8_t pub[NOPS][65], peer[NOPS][65];
static uint8_t ref_sig[NOPS][64], ref_shared[NOPS][32];

static void secret(void)
{
    for (int i = 0; i < NOPS; i++) {
        etls_ct_classify(&sk[i], sizeof sk[i]);
        etls_ct_classify(skb[i], 32);
        etls_ct_classify(extra[i], 32);
    }
}

static void public_again(void)
{
    for (int i = 0; i < NOPS; i++) {
        etls_ct_declassify(&sk[i], sizeof sk[i]);
        etls_ct_declassify(skb[i], 32);
        etls_ct_declassify(extra[i], 32);
    }
}

static void setup(void)
{
    etls_test_rng_t r;
    etls_test_rng_seed(&r, 1234);
    for (int i = 0; i < NOPS; i++) {
        do
            etls_test_rng_bytes(&r, skb[i], 32);
        while (etls_p256_sk_load(&sk[i], skb[i]) < 0);
        etls_test_rng_bytes(&r, extra[i], 32);
        etls_test_rng_bytes(&r, digest[i], 32);
        etls_p256_public(pub[i], &sk[i]);
    }
    for (int i = 0; i < NOPS; i++) {
        memcpy(peer[i], pub[(i + 1) % NOPS], 65);
        etls_p256_sign_det(ref_sig[i], &sk[i], digest[i], extra[i]);
        CHECK(etls_p256_verify(pub[i], 65, digest[i], ref_sig[i]) == 0);
        CHECK(etls_p256_ecdh(ref_shared[i], &sk[i], peer[i], 65) == 0);
    }
}

static void test_load_and_public(void)
{
    for (int i = 0; i < NOPS; i++) {
        etls_p256_sk_t k;
        uint8_t out[65];
        secret();
        int rc = etls_p256_sk_load(&k, skb[i]);
        etls_p256_public(out, &k);
        etls_ct_declassify(out, sizeof out);
        public_again();
        CHECK(rc == 0 && memcmp(out, pub[i], 65) == 0);
        etls_p256_sk_wipe(&k);
    }
}

static void test_sign(void)
{
    uint8_t sig[NOPS][64];
    secret();
    for (int i = 0; i < NOPS; i++)
        etls_p256_sign_det(sig[i], &sk[i], digest[i], extra[i]);
    etls_ct_declassify(sig, sizeof sig);
    public_again();
    for (int i = 0; i < NOPS; i++)
        CHECK_MEM(sig[i], ref_sig[i], 64);

    /* batched, and hedged with the RNG's output secret too */
    etls_p256_sign_op_t ops[NOPS];
    etls_rand_t rng;
    uint8_t seed[32] = {9};
    etls_rand_init_seeded(&rng, seed);
    etls_ct_classify(&rng, sizeof rng);
    memset(sig, 0, sizeof sig);
    for (int i = 0; i < NOPS; i++)
        ops[i] = (etls_p256_sign_op_t){.sk = &sk[i], .digest = digest[i],
                                       .extra = i % 2 ? extra[i] : NULL, .rng = &rng,
                                       .sig = sig[i]};
    secret();
    etls_ct_declassify(&rng.pos, sizeof rng.pos); /* buffer position: public bookkeeping */
    etls_ct_declassify(&rng.seeded, sizeof rng.seeded);
    etls_p256_sign_batch(NULL, ops, NOPS);
    etls_ct_declassify(sig, sizeof sig);
    public_again();
    etls_ct_declassify(&rng, sizeof rng);
    for (int i = 0; i < NOPS; i++) {
        CHECK(ops[i].status == 0);
        CHECK(etls_p256_verify(pub[i], 65, digest[i], sig[i]) == 0);
        if (i % 2)
            CHECK_MEM(sig[i], ref_sig[i], 64);
    }
    etls_rand_wipe(&rng);
}

static void test_ecdh(void)
{
    uint8_t out[NOPS][32];
    secret();
    for (int i = 0; i < NOPS; i++)
        CHECK(etls_p256_ecdh(out[i], &sk[i], peer[i], 65) == 0);
    etls_ct_declassify(out, sizeof out);
    public_again();
    for (int i = 0; i < NOPS; i++)
        CHECK_MEM(out[i], ref_shared[i], 32);

    etls_p256_ecdh_op_t ops[NOPS];
    memset(out, 0, sizeof out);
    for (int i = 0; i < NOPS; i++)
        ops[i] = (etls_p256_ecdh_op_t){.sk = &sk[i], .peer = peer[i], .peer_len = 65,
                                       .out = out[i]};
    secret();
    etls_p256_ecdh_batch(NULL, ops, NOPS);
    etls_ct_declassify(out, sizeof out);
    public_again();
    for (int i = 0; i < NOPS; i++)
        CHECK(ops[i].status == 0 && memcmp(out[i], ref_shared[i], 32) == 0);
}

/* Key generation with the RNG state secret: the drawn scalar stays secret, only the public
 * key and the range-check outcome come out. */
static void test_generate(void)
{
    etls_rand_t rng;
    uint8_t seed[32] = {3}, out[65], again[65];
    etls_p256_sk_t k;
    etls_rand_init_seeded(&rng, seed);
    etls_ct_classify(rng.seed, sizeof rng.seed);
    etls_ct_classify(rng.buf, sizeof rng.buf);
    int rc = etls_p256_generate(&k, out, &rng);
    etls_ct_declassify(out, sizeof out);
    etls_ct_declassify(&rng, sizeof rng);
    etls_ct_declassify(&k, sizeof k);
    CHECK(rc == 0);
    etls_p256_public(again, &k);
    CHECK_MEM(out, again, 65);
    etls_p256_sk_wipe(&k);
    etls_rand_wipe(&rng);
}

/* Signing, public keys and ECDH through each arithmetic copy, called directly. */
static void test_arith(const etls_p256_arith_t *ar)
{
    uint8_t sig[NOPS][64], out[NOPS][65];
    uint64_t x[NOPS][4], y[4];
    secret();
    for (int i = 0; i < NOPS; i++) {
        etls_p256_pt_t p, q;
        etls_p256_sign_one(ar, sig[i], &sk[i], digest[i], extra[i]);
        ar->mul_base(&p, sk[i].d);
        ar->encode(out[i], &p);
        CHECK(ar->decode(&q, peer[i], 65) == 0);
        ar->mul(&p, &q, sk[i].d);
        ar->to_affine(x[i], y, &p);
    }
    uint8_t bsig[NOPS][64];
    etls_p256_sign_op_t ops[NOPS];
    for (int i = 0; i < NOPS; i++)
        ops[i] = (etls_p256_sign_op_t){.sk = &sk[i], .digest = digest[i], .extra = extra[i],
                                       .sig = bsig[i]};
    etls_p256_sign_many(ar, ops, NOPS); /* the grouped inversions */
    etls_ct_declassify(sig, sizeof sig);
    etls_ct_declassify(bsig, sizeof bsig);
    etls_ct_declassify(out, sizeof out);
    etls_ct_declassify(x, sizeof x);
    public_again();
    for (int i = 0; i < NOPS; i++) {
        uint8_t xb[32];
        etls_p256_to_be(xb, x[i]);
        CHECK_MEM(sig[i], ref_sig[i], 64);
        CHECK(ops[i].status == 0);
        CHECK_MEM(bsig[i], ref_sig[i], 64);
        CHECK_MEM(out[i], pub[i], 65);
        CHECK_MEM(xb, ref_shared[i], 32);
    }
}

/* The host's flags from /proc/cpuinfo: under valgrind CPUID hides ADX even where the host has
 * it, and the host is what executes the instructions. */
static int host_has_adx(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[4096];
    int bmi2 = 0, adx = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) != 0)
            continue;
        bmi2 = strstr(line, " bmi2") != NULL;
        adx = strstr(line, " adx") != NULL;
        break;
    }
    if (f)
        fclose(f);
    return bmi2 && adx;
}

int main(void)
{
    setup();
    test_load_and_public();
    test_sign();
    test_ecdh();
    test_generate();
    test_arith(&etls_p256_arith_c);
    if (host_has_adx())
        test_arith(&etls_p256_arith_adx);
    else
        printf("test_p256_ct: ADX arithmetic SKIPPED (no BMI2/ADX)\n");
    return etls_test_summary("test_p256_ct");
}
