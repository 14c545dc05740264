/* X25519 known answers: RFC 7748 §5.2 (single and 1,000-fold iterated) and §6.1, and every
 * Wycheproof x25519 vector, through every implementation the CPU offers, through the
 * single-shot calls and through etls_x25519_batch in mixed batches (key generations
 * interleaved with shared secrets, many batch sizes).
 *
 * usage: test_x25519_vectors <wycheproof x25519 .txt>
 * ETLS_TEST_SLOW=1 adds RFC 7748's 1,000,000-fold iteration (about a minute per implementation).
 * Also cross-checks every implementation against the portable ladder on random and adversarial
 * inputs, and runs every vector through each implementation in every batch size 1..17 (full
 * lane groups plus each remainder), in file order and interleaved.
 * Registered three times: as is, with ETLS_CPU_DISABLE=avx512ifma (best falls back to AVX2) and
 * with avx2 masked too (portable); paths the run cannot cover are printed as SKIPPED. */
#include <stdlib.h>
#include <string.h>

#include "common/cpu.h"
#include "common/err.h"
#include "crypto/x25519.h"
#include "test.h"
#include "vectors.h"

#define MAX_VECTORS 1024

/* Random inputs per SIMD implementation for the cross-check against the portable ladder. */
/* BATCH_ORDERS: test_batch_sizes runs file order and interleaved order, or under sanitizers
 * (unoptimised, several times slower) only the interleaved one. */
#if defined(__SANITIZE_ADDRESS__)
#define RANDOM_COUNT 2000
#define BATCH_ORDERS 1
#else
#define RANDOM_COUNT 10000
#define BATCH_ORDERS 2
#endif

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

/* "name" appears as a whole item of the comma/space-separated ETLS_CPU_DISABLE list. */
static int cpu_disabled(const char *name)
{
    const char *dis = getenv("ETLS_CPU_DISABLE");
    size_t len = strlen(name);
    for (const char *p = dis; p && (p = strstr(p, name)) != NULL; p += len) {
        int starts = p == dis || p[-1] == ',' || p[-1] == ' ';
        int ends = p[len] == '\0' || p[len] == ',' || p[len] == ' ';
        if (starts && ends)
            return 1;
    }
    return dis && strstr(dis, "all") != NULL;
}

static void test_dispatch(void)
{
    const etls_x25519_impl_t *p = etls_x25519_portable_get(), *a = etls_x25519_avx2_get();
    const etls_x25519_impl_t *f = etls_x25519_ifma_get();
    const uint32_t ifma_bits = ETLS_CPU_AVX512F | ETLS_CPU_AVX512VL | ETLS_CPU_AVX512IFMA;
    CHECK(p != NULL && strcmp(p->name, "portable") == 0 && p->lanes == 1);
    CHECK(etls_x25519_best() == (f ? f : a ? a : p));
    CHECK(etls_x25519_best() == etls_x25519_best());
    if (a) {
        CHECK(strcmp(a->name, "avx2") == 0 && a->lanes >= 2 && a->shared_batch != NULL);
        CHECK(etls_cpu_has(ETLS_CPU_AVX2));
    }
    if (f) {
        CHECK(strcmp(f->name, "ifma") == 0 && f->lanes == 8 && f->shared_batch != NULL);
        CHECK(etls_cpu_has(ifma_bits));
    }
    CHECK_MSG(a != NULL || !etls_cpu_has(ETLS_CPU_AVX2),
              "the CPU reports AVX2 but etls_x25519_avx2_get() returned NULL");
    CHECK_MSG(f != NULL || !etls_cpu_has(ifma_bits),
              "the CPU reports AVX-512 IFMA but etls_x25519_ifma_get() returned NULL");
    if (cpu_disabled("avx2"))
        CHECK(a == NULL);
    if (cpu_disabled("avx512ifma") || cpu_disabled("avx512f") || cpu_disabled("avx512vl"))
        CHECK(f == NULL);
    impls[nimpls++] = p;
    if (a)
        impls[nimpls++] = a;
    if (f)
        impls[nimpls++] = f;
    printf("best: %s; testing %zu implementation(s):", etls_x25519_best()->name, nimpls);
    for (size_t i = 0; i < nimpls; i++)
        printf(" %s", impls[i]->name);
    printf("\n");
    /* Paths this run cannot cover are named, so a pass here is not mistaken for coverage. */
    if (!a)
        printf("avx2: SKIPPED (CPU lacks AVX2 or ETLS_CPU_DISABLE masks it)\n");
    if (!f)
        printf("ifma: SKIPPED (CPU lacks AVX-512 F/VL/IFMA or ETLS_CPU_DISABLE masks it)\n");
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

/* Every vector through impl in batches of exactly n (the last one shorter), for n = 1..17:
 * full lane groups and every remainder, lanes mixing low-order and ordinary points. Order is
 * the file's, then a stride permutation that scatters the low-order vectors among the others.
 * Both the implementation's own entry point and etls_x25519_batch (impl named, and NULL for
 * the automatic policy on the first pass) are checked. */
static void test_batch_sizes(const etls_x25519_impl_t *impl, int with_auto)
{
    enum { MAXN = 17 };
    etls_x25519_op_t ops[MAXN];
    uint8_t outs[MAXN][32];
    const wp_vector_t *which[MAXN];
    size_t stride = 97;
    while (nvectors % stride == 0)
        stride += 2;
    for (int order = 2 - BATCH_ORDERS; order < 2; order++) {
        for (size_t n = 1; n <= MAXN; n++) {
            for (int route = 0; route < (with_auto ? 3 : 2); route++) {
                for (size_t i = 0; i < nvectors;) {
                    size_t m = 0;
                    for (; m < n && i < nvectors; m++, i++) {
                        which[m] = &vectors[order ? (i * stride) % nvectors : i];
                        ops[m] = (etls_x25519_op_t){.sk = which[m]->priv, .peer = which[m]->pub,
                                                    .out = outs[m], .status = 999};
                    }
                    memset(outs, 0xa5, sizeof outs);
                    if (route == 0)
                        impl->shared_batch(ops, m);
                    else
                        etls_x25519_batch(route == 1 ? impl : NULL, ops, m);
                    for (size_t j = 0; j < m; j++) {
                        char via[64];
                        snprintf(via, sizeof via, "%s, batch %zu lane %zu",
                                 route == 2 ? "batch(best)" : impl->name, n, j);
                        check_vector(which[j], ops[j].out, ops[j].status, via);
                    }
                }
            }
        }
    }
}

/* Random and adversarial inputs through impl in random batch sizes 1..17, compared with the
 * portable ladder (etls_x25519_shared; itself checked against RFC 7748, Wycheproof and OpenSSL
 * elsewhere). */
static void test_random_cross(const etls_x25519_impl_t *impl, etls_test_rng_t *rng,
                              unsigned long count)
{
    enum { MAXN = 17 };
    etls_x25519_op_t ops[MAXN];
    uint8_t sk[MAXN][32], u[MAXN][32], outs[MAXN][32], want[32];
    unsigned long done = 0, zeros = 0;
    while (done < count) {
        size_t n = 1 + (size_t)(etls_test_rng_next(rng) % MAXN);
        for (size_t j = 0; j < n; j++) {
            etls_test_rng_bytes(rng, sk[j], 32);
            etls_test_rng_bytes(rng, u[j], 32);
            switch (etls_test_rng_next(rng) % 8) {
            case 0: /* a low-order or non-canonical point taken from the vectors */
                memcpy(u[j], vectors[etls_test_rng_next(rng) % nvectors].pub, 32);
                break;
            case 1: /* u in [p, 2^255), possibly with bit 255 set */
                memset(u[j], 0xff, 32);
                u[j][0] = (uint8_t)(0xed + etls_test_rng_next(rng) % 19);
                u[j][31] = (etls_test_rng_next(rng) & 1) ? 0xff : 0x7f;
                break;
            case 2: /* extreme scalars */
                memset(sk[j], (etls_test_rng_next(rng) & 1) ? 0xff : 0x00, 32);
                break;
            default:
                break;
            }
            ops[j] = (etls_x25519_op_t){.sk = sk[j], .peer = u[j], .out = outs[j], .status = 999};
        }
        impl->shared_batch(ops, n);
        for (size_t j = 0; j < n; j++) {
            int st = etls_x25519_shared(want, sk[j], u[j]);
            zeros += st != 0;
            CHECK_MSG(ops[j].status == st && memcmp(outs[j], want, 32) == 0,
                      "%s vs portable: batch %zu lane %zu (status %d, want %d)", impl->name, n, j,
                      ops[j].status, st);
        }
        done += n;
    }
    printf("%s: %lu random inputs agree with the portable ladder (%lu zero secrets)\n",
           impl->name, done, zeros);
    CHECK(zeros > 0);
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
    for (size_t i = 0; i < nimpls; i++)
        test_batch_sizes(impls[i], i == 0);
    for (size_t i = 1; i < nimpls; i++)
        test_random_cross(impls[i], &rng, RANDOM_COUNT);
    return etls_test_summary("test_x25519_vectors");
}
