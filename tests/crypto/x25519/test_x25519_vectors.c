/* X25519 known answers: RFC 7748 §5.2 (single and 1,000-fold iterated) and §6.1, and every
 * Wycheproof x25519 vector, through every implementation the CPU offers, through the
 * single-shot calls and through etls_x25519_batch in mixed batches (key generations
 * interleaved with shared secrets, many batch sizes).
 *
 * usage: test_x25519_vectors <wycheproof x25519 .txt>
 * ETLS_TEST_SLOW=1 adds RFC 7748's 1,000,000-fold iteration (about a minute per implementation).
 * Registered twice: as is, and with ETLS_CPU_DISABLE=avx2 so etls_x25519_best() falls back. */
#include <stdlib.h>
#include <string.h>

#include "common/cpu.h"
#include "common/err.h"
#include "crypto/x25519.h"
#include "test.h"
#include "vectors.h"

#define MAX_VECTORS 1024

typedef struct {
    long tc_id;
    uint8_t priv[32], pub[32], shared[32];
    int zero; /* expected shared secret is all zero */
} wp_vector_t;

static wp_vector_t vectors[MAX_VECTORS];
static size_t nvectors;

static const etls_x25519_impl_t *impls[4];
static size_t nimpls;

static void hex32(uint8_t out[32], const char *hex)
{
    if (etls_hex_decode(hex, strlen(hex), out, 32) != 32) {
        fprintf(stderr, "bad hex constant %s\n", hex);
        exit(2);
    }
}

static int is_zero32(const uint8_t *p)
{
    uint8_t acc = 0;
    for (int i = 0; i < 32; i++)
        acc |= p[i];
    return acc == 0;
}

/* One shared secret through impl's batch entry point, with n = 1. */
static int impl_one(const etls_x25519_impl_t *impl, uint8_t out[32], const uint8_t sk[32],
                    const uint8_t peer[32])
{
    etls_x25519_op_t op = {.sk = sk, .peer = peer, .out = out, .status = 12345};
    impl->shared_batch(&op, 1);
    return op.status;
}

static void test_dispatch(void)
{
    const char *dis = getenv("ETLS_CPU_DISABLE");
    const etls_x25519_impl_t *p = etls_x25519_portable_get(), *a = etls_x25519_avx2_get();
    CHECK(p != NULL && strcmp(p->name, "portable") == 0 && p->lanes == 1);
    CHECK(etls_x25519_best() == (a ? a : p));
    CHECK(etls_x25519_best() == etls_x25519_best());
    if (a) {
        CHECK(strcmp(a->name, "avx2") == 0 && a->lanes >= 2 && a->shared_batch != NULL);
        CHECK(etls_cpu_has(ETLS_CPU_AVX2));
    }
    CHECK_MSG(a != NULL || !etls_cpu_has(ETLS_CPU_AVX2),
              "the CPU reports AVX2 but etls_x25519_avx2_get() returned NULL");
    if (dis && strstr(dis, "avx2")) {
        CHECK(a == NULL);
        CHECK(etls_x25519_best() == p);
    }
    impls[nimpls++] = p;
    if (a)
        impls[nimpls++] = a;
    printf("best: %s; testing %zu implementation(s)\n", etls_x25519_best()->name, nimpls);
}

/* RFC 7748 §5.2: two single multiplications, then the iterated one (k, u) <- (X25519(k, u), k). */
static void test_rfc7748_52(const etls_x25519_impl_t *impl)
{
    static const char *const kat[2][3] = {
        {"a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
         "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
         "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
        {"4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
         "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
         "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"},
    };
    uint8_t k[32], u[32], want[32], out[32], k_copy[32];
    for (int i = 0; i < 2; i++) {
        hex32(k, kat[i][0]);
        hex32(u, kat[i][1]);
        hex32(want, kat[i][2]);
        memcpy(k_copy, k, 32);
        memset(out, 0xaa, sizeof out);
        CHECK_MSG(impl_one(impl, out, k, u) == 0, "%s kat %d", impl->name, i);
        CHECK_MEM(out, want, 32);
        CHECK_MEM(k, k_copy, 32); /* the caller's scalar is not clamped in place */
    }

    uint8_t it1[32], it1000[32], tmp[32];
    hex32(it1, "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
    hex32(it1000, "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
    memset(k, 0, 32);
    memset(u, 0, 32);
    k[0] = u[0] = 9;
    for (int i = 1; i <= 1000; i++) {
        CHECK(impl_one(impl, tmp, k, u) == 0);
        memcpy(u, k, 32);
        memcpy(k, tmp, 32);
        if (i == 1)
            CHECK_MSG(memcmp(k, it1, 32) == 0, "%s: 1 iteration", impl->name);
    }
    CHECK_MSG(memcmp(k, it1000, 32) == 0, "%s: 1000 iterations", impl->name);

    /* The RFC's 1,000,000-fold iteration takes about a minute per implementation: only on
     * request (ETLS_TEST_SLOW=1). */
    const char *slow = getenv("ETLS_TEST_SLOW");
    if (!slow || strcmp(slow, "1") != 0)
        return;
    uint8_t it1m[32];
    hex32(it1m, "7c3911e0ab2586fd864497297e575e6f3bc601c0883c30df5f4dd2d24f665424");
    for (int i = 1001; i <= 1000000; i++) {
        CHECK(impl_one(impl, tmp, k, u) == 0);
        memcpy(u, k, 32);
        memcpy(k, tmp, 32);
    }
    CHECK_MSG(memcmp(k, it1m, 32) == 0, "%s: 1,000,000 iterations", impl->name);
}

/* RFC 7748 §6.1: both public keys by every route, and the shared secret both ways. */
static void test_rfc7748_61(void)
{
    uint8_t a[32], b[32], apub[32], bpub[32], k[32], out[32], nine[32] = {9};
    hex32(a, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    hex32(apub, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    hex32(b, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    hex32(bpub, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    hex32(k, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");

    etls_x25519_public(out, a);
    CHECK_MEM(out, apub, 32);
    etls_x25519_public(out, b);
    CHECK_MEM(out, bpub, 32);
    CHECK(etls_x25519_shared(out, a, nine) == 0);
    CHECK_MEM(out, apub, 32);
    CHECK(etls_x25519_shared(out, a, bpub) == 0);
    CHECK_MEM(out, k, 32);
    CHECK(etls_x25519_shared(out, b, apub) == 0);
    CHECK_MEM(out, k, 32);
    memcpy(out, bpub, 32); /* out may alias peer, or sk (x25519.h) */
    CHECK(etls_x25519_shared(out, a, out) == 0);
    CHECK_MEM(out, k, 32);
    memcpy(out, a, 32);
    CHECK(etls_x25519_shared(out, out, bpub) == 0);
    CHECK_MEM(out, k, 32);
    for (size_t i = 0; i < nimpls; i++) {
        CHECK(impl_one(impls[i], out, b, apub) == 0);
        CHECK_MEM(out, k, 32);
        CHECK(impl_one(impls[i], out, b, nine) == 0);
        CHECK_MEM(out, bpub, 32);
    }

    uint8_t outs[4][32];
    etls_x25519_op_t ops[4] = {
        {.sk = a, .peer = NULL, .out = outs[0], .status = 77},
        {.sk = a, .peer = bpub, .out = outs[1], .status = 77},
        {.sk = b, .peer = NULL, .out = outs[2], .status = 77},
        {.sk = b, .peer = apub, .out = outs[3], .status = 77},
    };
    etls_x25519_batch(NULL, ops, 4);
    for (int i = 0; i < 4; i++)
        CHECK(ops[i].status == 0);
    CHECK_MEM(outs[0], apub, 32);
    CHECK_MEM(outs[1], k, 32);
    CHECK_MEM(outs[2], bpub, 32);
    CHECK_MEM(outs[3], k, 32);
}

static void load_wycheproof(const char *path)
{
    etls_tv_t tv;
    size_t zero_flagged = 0;
    etls_tv_open(&tv, path);
    while (etls_tv_next(&tv)) {
        char result_buf[32] = "";
        const char *rs = etls_tv_str(&tv, "result"); /* a static buffer: copy it */
        const char *result = rs ? strncpy(result_buf, rs, sizeof result_buf - 1) : NULL;
        CHECK_MSG(nvectors < MAX_VECTORS, "too many vectors");
        if (nvectors >= MAX_VECTORS)
            break;
        wp_vector_t *v = &vectors[nvectors];
        v->tc_id = etls_tv_int(&tv, "tcId", -1);
        CHECK(result != NULL);
        /* Every x25519 vector with 32-byte inputs has a defined output; "invalid" ones would
         * need malformed lengths, which this API cannot even express. */
        int lens_ok = etls_tv_hex(&tv, "private", v->priv, 32) == 32 &&
                      etls_tv_hex(&tv, "public", v->pub, 32) == 32 &&
                      etls_tv_hex(&tv, "shared", v->shared, 32) == 32;
        if (result && strcmp(result, "invalid") == 0) {
            CHECK_MSG(!lens_ok, "tcId %ld: invalid vector with well-formed inputs", v->tc_id);
            continue;
        }
        CHECK_MSG(lens_ok, "tcId %ld: malformed vector", v->tc_id);
        if (!lens_ok)
            continue;
        CHECK(result && (strcmp(result, "valid") == 0 || strcmp(result, "acceptable") == 0));
        v->zero = is_zero32(v->shared);
        /* Consistency of the file with RFC 7748 §6.1: an all-zero secret comes only from a
         * low-order public key, and such vectors are merely "acceptable". */
        int zflag = etls_tv_has_flag(&tv, "ZeroSharedSecret");
        CHECK_MSG(v->zero == zflag, "tcId %ld: zero secret vs ZeroSharedSecret flag", v->tc_id);
        if (v->zero) {
            CHECK_MSG(etls_tv_has_flag(&tv, "LowOrderPublic"), "tcId %ld", v->tc_id);
            CHECK_MSG(strcmp(result, "acceptable") == 0, "tcId %ld", v->tc_id);
            zero_flagged++;
        }
        nvectors++;
    }
    etls_tv_close(&tv);
    printf("wycheproof: %zu vectors, %zu with an all-zero secret\n", nvectors, zero_flagged);
    CHECK(nvectors >= 500);
    CHECK(zero_flagged >= 20);
}

static void check_vector(const wp_vector_t *v, const uint8_t out[32], int status, const char *via)
{
    CHECK_MSG(memcmp(out, v->shared, 32) == 0, "tcId %ld via %s: wrong secret", v->tc_id, via);
    CHECK_MSG(status == (v->zero ? ETLS_ERR_INVALID : 0), "tcId %ld via %s: status %d",
              v->tc_id, via, status);
}

static void test_wycheproof_single(void)
{
    uint8_t out[32];
    for (size_t i = 0; i < nvectors; i++) {
        const wp_vector_t *v = &vectors[i];
        for (size_t j = 0; j < nimpls; j++) {
            memset(out, 0x55, sizeof out);
            check_vector(v, out, impl_one(impls[j], out, v->priv, v->pub), impls[j]->name);
        }
        memset(out, 0x55, sizeof out);
        check_vector(v, out, etls_x25519_shared(out, v->priv, v->pub), "etls_x25519_shared");
    }
}

/* Every vector again, packed into mixed batches of pseudo-random sizes 1..40: each vector's
 * shared secret next to a key generation for the same private key (expected: the portable
 * ladder on u = 9, itself checked against RFC 7748 above). */
static void test_wycheproof_batches(const etls_x25519_impl_t *impl, etls_test_rng_t *rng)
{
    enum { MAXB = 40 };
    static const uint8_t nine[32] = {9};
    etls_x25519_op_t ops[2 * MAXB];
    uint8_t outs[2 * MAXB][32], pubs[MAXB][32];
    const wp_vector_t *which[MAXB];
    const char *via = impl ? impl->name : "batch(best)";
    size_t i = 0;
    while (i < nvectors) {
        size_t n = 1 + (size_t)(etls_test_rng_next(rng) % MAXB), m = 0;
        if (n > nvectors - i)
            n = nvectors - i;
        for (size_t j = 0; j < n; j++, i++) {
            which[j] = &vectors[i];
            CHECK(etls_x25519_portable_get() != NULL &&
                  impl_one(etls_x25519_portable_get(), pubs[j], vectors[i].priv, nine) == 0);
            int gen_first = (int)(etls_test_rng_next(rng) & 1);
            etls_x25519_op_t sh = {.sk = vectors[i].priv, .peer = vectors[i].pub,
                                   .out = outs[m + !gen_first], .status = 999};
            etls_x25519_op_t gen = {.sk = vectors[i].priv, .peer = NULL,
                                    .out = outs[m + gen_first], .status = 999};
            ops[m + !gen_first] = sh;
            ops[m + gen_first] = gen;
            m += 2;
        }
        memset(outs, 0x5a, sizeof outs);
        etls_x25519_batch(impl, ops, m);
        for (size_t j = 0; j < n; j++) {
            size_t s = 2 * j + (ops[2 * j].peer == NULL), g = 2 * j + (ops[2 * j].peer != NULL);
            check_vector(which[j], ops[s].out, ops[s].status, via);
            CHECK_MSG(ops[g].status == 0 && memcmp(ops[g].out, pubs[j], 32) == 0,
                      "tcId %ld via %s: key generation in batch", which[j]->tc_id, via);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <x25519 vectors .txt>\n", argv[0]);
        return 2;
    }
    etls_test_rng_t rng;
    etls_test_rng_seed(&rng, etls_test_seed("test_x25519_vectors"));
    test_dispatch();
    for (size_t i = 0; i < nimpls; i++)
        test_rfc7748_52(impls[i]);
    test_rfc7748_61();
    load_wycheproof(argv[1]);
    test_wycheproof_single();
    test_wycheproof_batches(NULL, &rng);
    for (size_t i = 0; i < nimpls; i++)
        test_wycheproof_batches(impls[i], &rng);
    return etls_test_summary("test_x25519_vectors");
}
