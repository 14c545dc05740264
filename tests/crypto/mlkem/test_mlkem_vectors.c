/* ML-KEM-768 known answers: every Wycheproof vector of mlkem_768_keygen_seed (KeyGen from
 * d || z), mlkem_768_encaps (Encaps from m, with the §7.2 modulus and length checks) and
 * mlkem_768 (KeyGen then Decaps, with implicit rejection and the length checks), each result
 * checked exactly as the file says (valid: our outputs equal the vector's; invalid: our call
 * refuses; acceptable: either, consistently).
 *
 * usage: test_mlkem_vectors <mlkem_768_keygen_seed.txt> <mlkem_768_encaps.txt> <mlkem_768.txt>
 * Registered twice: as is (the 4-way AVX2 Keccak on CPUs with AVX2) and with
 * ETLS_CPU_DISABLE=avx2 (portable); the path taken is printed and checked against the mask. */
#include <stdlib.h>
#include <string.h>

#include "common/cpu.h"
#include "common/err.h"
#include "crypto/mlkem.h"
#include "test.h"
#include "vectors.h"

#define BUF 4096

static uint8_t seed[BUF], ek[BUF], dk[BUF], ct[BUF], key[BUF], m[BUF];
static uint8_t our_ek[ETLS_MLKEM768_EK_LEN], our_dk[ETLS_MLKEM768_DK_LEN];
static uint8_t our_ct[ETLS_MLKEM768_CT_LEN], our_ss[ETLS_MLKEM768_SS_LEN];

typedef enum { R_VALID, R_INVALID, R_ACCEPTABLE } result_t;

static result_t result_of(etls_tv_t *tv)
{
    const char *r = etls_tv_str(tv, "result");
    if (r && !strcmp(r, "valid"))
        return R_VALID;
    if (r && !strcmp(r, "acceptable"))
        return R_ACCEPTABLE;
    CHECK_MSG(r && !strcmp(r, "invalid"), "line %lu: unknown result", tv->lineno);
    return R_INVALID;
}

static long hex_field(etls_tv_t *tv, const char *name, uint8_t *out)
{
    long n = etls_tv_hex(tv, name, out, BUF);
    return n < 0 ? 0 : n; /* absent or empty: no bytes */
}

static unsigned run_keygen(const char *path)
{
    etls_tv_t tv;
    unsigned n = 0;
    etls_tv_open(&tv, path);
    while (etls_tv_next(&tv)) {
        long tc = etls_tv_int(&tv, "tcId", -1);
        long sl = hex_field(&tv, "seed", seed), el = hex_field(&tv, "ek", ek),
             dl = hex_field(&tv, "dk", dk);
        result_t want = result_of(&tv);
        int rc = etls_mlkem768_keygen_seed(our_ek, our_dk, seed, (size_t)sl);
        if (want == R_INVALID) {
            CHECK_MSG(rc == ETLS_ERR_INVALID, "keygen tc %ld accepted", tc);
        } else if (want == R_VALID || rc == 0) {
            CHECK_MSG(rc == 0, "keygen tc %ld rc %d", tc, rc);
            CHECK_MSG(el == ETLS_MLKEM768_EK_LEN && !memcmp(our_ek, ek, ETLS_MLKEM768_EK_LEN),
                      "keygen tc %ld ek", tc);
            CHECK_MSG(dl == ETLS_MLKEM768_DK_LEN && !memcmp(our_dk, dk, ETLS_MLKEM768_DK_LEN),
                      "keygen tc %ld dk", tc);
        }
        n++;
    }
    etls_tv_close(&tv);
    return n;
}

static unsigned run_encaps(const char *path)
{
    etls_tv_t tv;
    unsigned n = 0;
    etls_tv_open(&tv, path);
    while (etls_tv_next(&tv)) {
        long tc = etls_tv_int(&tv, "tcId", -1);
        long el = hex_field(&tv, "ek", ek), ml = hex_field(&tv, "m", m), cl = hex_field(&tv, "c", ct),
             kl = hex_field(&tv, "K", key);
        result_t want = result_of(&tv);
        CHECK_MSG(ml == ETLS_MLKEM_MSG_LEN, "encaps tc %ld: m is %ld bytes", tc, ml);
        int rc = etls_mlkem768_encaps_msg(our_ct, our_ss, ek, (size_t)el, m);
        if (want == R_INVALID) {
            CHECK_MSG(rc == ETLS_ERR_INVALID, "encaps tc %ld accepted", tc);
            static const uint8_t zero[ETLS_MLKEM768_CT_LEN];
            CHECK_MSG(!memcmp(our_ct, zero, sizeof our_ct) && !memcmp(our_ss, zero, sizeof our_ss),
                      "encaps tc %ld: outputs not zeroed on error", tc);
        } else if (want == R_VALID || rc == 0) {
            CHECK_MSG(rc == 0, "encaps tc %ld rc %d", tc, rc);
            CHECK_MSG(cl == ETLS_MLKEM768_CT_LEN && !memcmp(our_ct, ct, (size_t)cl), "encaps tc %ld ct", tc);
            CHECK_MSG(kl == 32 && !memcmp(our_ss, key, 32), "encaps tc %ld K", tc);
        }
        n++;
    }
    etls_tv_close(&tv);
    return n;
}

/* The decapsulation file gives the key pair by its seed; an invalid case is one where either the
 * seed (key generation) or the ciphertext (decapsulation) has a wrong length. */
static unsigned run_decaps(const char *path)
{
    etls_tv_t tv;
    unsigned n = 0;
    etls_tv_open(&tv, path);
    while (etls_tv_next(&tv)) {
        long tc = etls_tv_int(&tv, "tcId", -1);
        long sl = hex_field(&tv, "seed", seed), el = hex_field(&tv, "ek", ek),
             cl = hex_field(&tv, "c", ct), kl = hex_field(&tv, "K", key);
        result_t want = result_of(&tv);
        int rc = etls_mlkem768_keygen_seed(our_ek, our_dk, seed, (size_t)sl);
        if (rc == 0 && el > 0)
            CHECK_MSG(el == ETLS_MLKEM768_EK_LEN && !memcmp(our_ek, ek, (size_t)el), "decaps tc %ld ek", tc);
        if (rc == 0)
            rc = etls_mlkem768_decaps(our_ss, our_dk, sizeof our_dk, ct, (size_t)cl);
        if (want == R_INVALID) {
            CHECK_MSG(rc == ETLS_ERR_INVALID, "decaps tc %ld accepted", tc);
        } else if (want == R_VALID || rc == 0) {
            CHECK_MSG(rc == 0, "decaps tc %ld rc %d", tc, rc);
            CHECK_MSG(kl == 32 && !memcmp(our_ss, key, 32), "decaps tc %ld K", tc);
        }
        n++;
    }
    etls_tv_close(&tv);
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s KEYGEN.txt ENCAPS.txt DECAPS.txt\n", argv[0]);
        return 2;
    }
    const char *impl = etls_mlkem_impl_name();
    printf("ml-kem path: %s\n", impl);
    int avx512 = etls_cpu_has(ETLS_CPU_AVX2) && etls_cpu_has(ETLS_CPU_AVX512F) &&
                 etls_cpu_has(ETLS_CPU_AVX512VL);
    CHECK(!strcmp(impl, avx512 ? "avx512" : etls_cpu_has(ETLS_CPU_AVX2) ? "avx2" : "portable"));
    unsigned nk = run_keygen(argv[1]), ne = run_encaps(argv[2]), nd = run_decaps(argv[3]);
    printf("vectors: keygen %u, encaps %u, decaps %u\n", nk, ne, nd);
    /* The files hold 100, 265 and 193 cases: a truncated file must not pass quietly. */
    CHECK(nk == 100 && ne == 265 && nd == 193);
    return etls_test_summary("mlkem_vectors");
}
