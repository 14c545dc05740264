/* Constant-time check for X25519, meant to run under valgrind memcheck (suite 'ct'): every
 * secret scalar is marked undefined with etls_ct_classify before the call, so any branch or
 * memory index that depends on it makes valgrind report an error (and exit non-zero). Results
 * are declassified only after the call, to compare them with an unmarked reference run.
 * Covers the portable ladder, the AVX2 lanes (when the CPU, or valgrind's emulated CPU, has
 * AVX2), single and batched fixed-base key generation, and mixed batches. Run outside
 * valgrind it still checks the results.
 *
 * AVX-512 IFMA: valgrind cannot execute AVX-512 (its CPU reports none), so this program also
 * compiles x25519_ifma.c with -DETLS_X25519_IFMA_EMULATE, where the same source runs on plain
 * C stand-ins for the intrinsics; "ifma-emulated" is that build, checked like the others. The
 * native IFMA path is run too when the CPU has it (i.e. outside valgrind), for its results. */
#include <string.h>

#include "common/ct.h"
#include "common/err.h"
#include "crypto/x25519.h"
#include "test.h"

/* x25519_ifma.c built with ETLS_X25519_IFMA_EMULATE into this program (see above): the
 * shared-secret lanes and the eight-lane fixed-base key generation. */
const etls_x25519_impl_t *etls_x25519_ifma_emulated_get(void);
void etls_x25519_ifma_emulated_base_group(etls_x25519_op_t *const *ops, size_t n);

enum { NOPS = 21 }; /* > 16: crosses the dispatcher's and key generation's chunk boundary */

static uint8_t sk[NOPS][32], peer[NOPS][32], ref[NOPS][32], out[NOPS][32];

static void classify_all(void)
{
    for (int i = 0; i < NOPS; i++)
        etls_ct_classify(sk[i], 32);
}

/* After each call: outputs become comparable, and the scalars public again so that the
 * test's own reference computations are not reported. */
static void declassify_out(int n)
{
    for (int i = 0; i < n; i++)
        etls_ct_declassify(out[i], 32);
    for (int i = 0; i < NOPS; i++)
        etls_ct_declassify(sk[i], 32);
}

/* ref[i] = X25519(sk[i], peer[i]) computed before anything is marked secret. */
static void make_reference(void)
{
    for (int i = 0; i < NOPS; i++)
        CHECK(etls_x25519_shared(ref[i], sk[i], peer[i]) == (i == 3 ? ETLS_ERR_INVALID : 0));
}

static void test_shared_impl(const etls_x25519_impl_t *impl)
{
    etls_x25519_op_t ops[NOPS];
    for (int n = 1; n <= (int)impl->lanes + 1; n += (int)impl->lanes) {
        /* a partial group of lanes, and a full group plus one */
        memset(out, 0, sizeof out);
        for (int i = 0; i < n; i++)
            ops[i] = (etls_x25519_op_t){.sk = sk[i], .peer = peer[i], .out = out[i]};
        classify_all();
        impl->shared_batch(ops, (size_t)n);
        declassify_out(n);
        for (int i = 0; i < n; i++)
            CHECK_MSG(memcmp(out[i], ref[i], 32) == 0, "%s op %d", impl->name, i);
    }
}

static void test_keygen(void)
{
    uint8_t want[NOPS][32];
    etls_x25519_op_t ops[NOPS];
    static const uint8_t nine[32] = {9};
    for (int i = 0; i < NOPS; i++)
        CHECK(etls_x25519_shared(want[i], sk[i], nine) == 0);

    classify_all();
    etls_x25519_public(out[0], sk[0]);
    declassify_out(1);
    CHECK_MEM(out[0], want[0], 32);

    memset(out, 0, sizeof out);
    for (int i = 0; i < NOPS; i++)
        ops[i] = (etls_x25519_op_t){.sk = sk[i], .peer = NULL, .out = out[i]};
    classify_all();
    etls_x25519_batch(NULL, ops, NOPS);
    declassify_out(NOPS);
    for (int i = 0; i < NOPS; i++)
        CHECK_MSG(ops[i].status == 0 && memcmp(out[i], want[i], 32) == 0, "batch keygen %d", i);

    /* The IFMA fixed-base lanes in their emulated build (valgrind can check that one), a
     * partial and a full group. */
    for (int n = 5; n <= 8; n += 3) {
        etls_x25519_op_t *gp[8];
        memset(out, 0, sizeof out);
        for (int i = 0; i < n; i++) {
            ops[i] = (etls_x25519_op_t){.sk = sk[i], .peer = NULL, .out = out[i], .status = 9};
            gp[i] = &ops[i];
        }
        classify_all();
        etls_x25519_ifma_emulated_base_group(gp, (size_t)n);
        declassify_out(n);
        for (int i = 0; i < n; i++)
            CHECK_MSG(ops[i].status == 0 && memcmp(out[i], want[i], 32) == 0,
                      "ifma-emulated keygen, group of %d, op %d", n, i);
    }

    /* Mixed: even ops generate keys, odd ones compute shared secrets (op 3 is low order). */
    memset(out, 0, sizeof out);
    for (int i = 0; i < NOPS; i++)
        ops[i] = (etls_x25519_op_t){.sk = sk[i], .peer = (i & 1) ? peer[i] : NULL, .out = out[i]};
    classify_all();
    etls_x25519_batch(NULL, ops, NOPS);
    declassify_out(NOPS);
    for (int i = 0; i < NOPS; i++) {
        const uint8_t *w = (i & 1) ? ref[i] : want[i];
        CHECK_MSG(memcmp(out[i], w, 32) == 0, "mixed op %d", i);
        CHECK(ops[i].status == (i == 3 ? ETLS_ERR_INVALID : 0));
    }
}

int main(void)
{
    etls_test_rng_t r;
    etls_test_rng_seed(&r, etls_test_seed("test_x25519_ct"));
    etls_test_rng_bytes(&r, sk, sizeof sk);
    etls_test_rng_bytes(&r, peer, sizeof peer);
    memset(peer[3], 0, 32); /* low order: the zero check's declassification is exercised */
    memset(sk[4], 0, 32);   /* degenerate scalars still take the same path */
    memset(sk[5], 0xff, 32);

    make_reference();
    const etls_x25519_impl_t *p = etls_x25519_portable_get(), *a = etls_x25519_avx2_get();
    const etls_x25519_impl_t *f = etls_x25519_ifma_get(), *fe = etls_x25519_ifma_emulated_get();
    CHECK(fe != NULL && strcmp(fe->name, "ifma-emulated") == 0 && fe->lanes == 8);
    test_shared_impl(p);
    if (a)
        test_shared_impl(a);
    test_shared_impl(fe);
    if (f)
        test_shared_impl(f);
    printf("implementations: portable%s, ifma-emulated%s\n", a ? ", avx2" : "", f ? ", ifma" : "");
    if (!a)
        printf("avx2: SKIPPED (not available here; under valgrind its CPU may not report it)\n");
    if (!f)
        printf("ifma (native): SKIPPED (not available here; valgrind has no AVX-512); "
               "its source was checked as ifma-emulated\n");

    /* Single-shot shared secret and its zero status (public by protocol). */
    classify_all();
    int st = etls_x25519_shared(out[3], sk[3], peer[3]);
    CHECK(st == ETLS_ERR_INVALID);
    st = etls_x25519_shared(out[6], sk[6], peer[6]);
    declassify_out(NOPS);
    CHECK(st == 0 && memcmp(out[6], ref[6], 32) == 0);

    test_keygen();
    return etls_test_summary("test_x25519_ct");
}
