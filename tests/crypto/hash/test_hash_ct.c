/* Constant-time check (suite 'ct', run under valgrind memcheck): secret inputs (HMAC keys,
 * IKM, PSK, ECDHE shared secret, traffic secrets, RNG seed) are marked undefined, so any branch
 * or table index on them is reported by valgrind. Results are then declassified and compared
 * with the same computation on unmarked copies, so the run also checks the answers.
 * Under valgrind CPUID hides SHA-NI, so the portable SHA-256 path is the one checked; the
 * AVX2/BMI2 SHA-512 path runs where the CPU has it. */
#include "common/ct.h"
#include "crypto/hash.h"
#include "crypto/rand.h"
#include "crypto/tls13_ks.h"
#include "test.h"

#include <string.h>

/* Everything the key schedule and HMAC/HKDF do with secrets, into out (public lengths). */
static void run_all(etls_hash_alg_t alg, const uint8_t *secret, size_t n, uint8_t out[1024])
{
    size_t hl = etls_hash_len(alg), o = 0;
    uint8_t th[48];
    memset(th, 0x42, sizeof th);
    etls_hash(alg, secret, n, out + o), o += hl;
    etls_hmac(alg, secret, n, th, hl, out + o), o += hl;
    etls_hmac(alg, secret, 200, th, hl, out + o), o += hl; /* key longer than a block */
    etls_hkdf_extract(alg, th, hl, secret, n, out + o), o += hl;
    (void)etls_hkdf_expand(alg, secret, hl, th, 10, out + o, 3 * hl + 5), o += 3 * hl + 5;

    etls_tls13_ks_t ks;
    uint8_t c[48], s[48];
    etls_tls13_ks_init(&ks, alg, secret, hl); /* as a PSK */
    (void)etls_tls13_ks_handshake(&ks, secret + 1, 32, th, c, s);
    (void)etls_tls13_traffic_keys(alg, c, out + o, 16, out + o + 16, 12), o += 28;
    (void)etls_tls13_finished(alg, s, th, out + o), o += hl;
    (void)etls_tls13_ks_master(&ks, th, c, s, out + o), o += hl;
    (void)etls_tls13_update_secret(alg, c);
    memcpy(out + o, c, hl), o += hl;
    (void)etls_tls13_ks_resumption(&ks, th, out + o), o += hl;
    etls_tls13_ks_wipe(&ks);

    etls_rand_t r;
    etls_rand_init_seeded(&r, secret);
    (void)etls_rand_bytes(&r, out + o, 40), o += 40;
    etls_rand_wipe(&r);
}

int main(void)
{
    const etls_hash_alg_t algs[2] = {ETLS_HASH_SHA256, ETLS_HASH_SHA384};
    for (int a = 0; a < 2; a++) {
        uint8_t secret[200], plain[200], out1[1024], out2[1024];
        for (size_t i = 0; i < sizeof secret; i++)
            secret[i] = plain[i] = (uint8_t)(i * 37 + a);
        memset(out1, 0, sizeof out1);
        memset(out2, 0, sizeof out2);
        etls_ct_classify(secret, sizeof secret);
        run_all(algs[a], secret, 100, out1);
        etls_ct_declassify(out1, sizeof out1);
        run_all(algs[a], plain, 100, out2);
        CHECK_MSG(memcmp(out1, out2, sizeof out1) == 0, "alg %d: results differ", algs[a]);
        CHECK(out1[0] != 0 || out1[1] != 0); /* something was computed */
    }
    return etls_test_summary("hash_ct");
}
