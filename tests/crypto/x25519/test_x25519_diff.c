/* Differential test of X25519 against OpenSSL (EVP_PKEY_X25519) on seeded pseudo-random and
 * adversarial inputs: u >= p, bit 255 set, zero, small-order points, degenerate scalars.
 *
 * usage: test_x25519_diff <mode> [count]
 *   portable  the portable ladder through its impl entry point and etls_x25519_shared
 *   avx2      the AVX2 impl, batch sizes 1..9 in turn (skipped, exit 77, without AVX2)
 *   ifma      the AVX-512 IFMA impl, batch sizes 1..17 in turn (skipped, exit 77, without it)
 *   keygen    fixed-base key generation: single and batched (sizes 1..20) for every key
 *   mixed     etls_x25519_batch with key generations and shared secrets interleaved, through
 *             best (NULL) and each implementation
 * count defaults to 100,000 (10,000 under sanitizers). Reproduce with ETLS_TEST_SEED. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/cpu.h"
#include "common/err.h"
#include "crypto/x25519.h"
#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
#define DEFAULT_COUNT 10000
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DEFAULT_COUNT 10000
#endif
#endif
#ifndef DEFAULT_COUNT
#define DEFAULT_COUNT 100000
#endif

/* The canonical low-order u-coordinates (orders 1, 2, 4, 8) and the non-canonical p, p + 1. */
static const char *const low_order_hex[] = {
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
};
#define N_LOW_ORDER (sizeof low_order_hex / sizeof low_order_hex[0])
static uint8_t low_order[N_LOW_ORDER][32];

static unsigned long n_zero_seen, n_noncanon_seen, n_topbit_seen;

/* OpenSSL's X25519; returns 0, or -1 when it refuses (all-zero result). Bit 255 of the peer
 * value is masked first, as RFC 7748 §5 requires of the receiver, so both sides agree.
 * Creating an X25519 private key in OpenSSL costs a scalar multiplication plus provider
 * look-ups, so contexts for recent scalars are cached; gen_scalar repeats each lane's scalar a
 * few times to benefit (peers are always fresh, and lanes of one batch never share one). */
#define OSSL_CACHE 16
static struct {
    uint8_t sk[32];
    EVP_PKEY_CTX *ctx;
} ossl_cache[OSSL_CACHE];
static unsigned ossl_cache_next;

static EVP_PKEY_CTX *ossl_ctx_for(const uint8_t sk[32])
{
    for (int i = 0; i < OSSL_CACHE; i++)
        if (ossl_cache[i].ctx && memcmp(ossl_cache[i].sk, sk, 32) == 0)
            return ossl_cache[i].ctx;
    unsigned slot = ossl_cache_next++ % OSSL_CACHE;
    EVP_PKEY_CTX_free(ossl_cache[slot].ctx);
    EVP_PKEY *priv = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk, 32);
    EVP_PKEY_CTX *ctx = priv ? EVP_PKEY_CTX_new(priv, NULL) : NULL;
    EVP_PKEY_free(priv); /* the context holds its own reference */
    if (!ctx || EVP_PKEY_derive_init(ctx) <= 0) {
        fprintf(stderr, "OpenSSL X25519 context failed\n");
        exit(2);
    }
    memcpy(ossl_cache[slot].sk, sk, 32);
    ossl_cache[slot].ctx = ctx;
    return ctx;
}

static void ossl_cache_free(void)
{
    for (int i = 0; i < OSSL_CACHE; i++) {
        EVP_PKEY_CTX_free(ossl_cache[i].ctx);
        ossl_cache[i].ctx = NULL;
    }
}

static int ossl_shared(uint8_t out[32], const uint8_t sk[32], const uint8_t peer[32])
{
    EVP_PKEY_CTX *ctx = ossl_ctx_for(sk);
    uint8_t u[32];
    size_t len = 32;
    int rc = -1;
    memcpy(u, peer, 32);
    u[31] &= 0x7f;
    EVP_PKEY *pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, u, 32);
    if (pub && EVP_PKEY_derive_set_peer(ctx, pub) > 0 && EVP_PKEY_derive(ctx, out, &len) > 0 &&
        len == 32)
        rc = 0;
    EVP_PKEY_free(pub);
    return rc;
}

static void ossl_public(uint8_t pub[32], const uint8_t sk[32])
{
    size_t len = 32;
    EVP_PKEY *priv = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk, 32);
    int ok = priv && EVP_PKEY_get_raw_public_key(priv, pub, &len) > 0 && len == 32;
    EVP_PKEY_free(priv);
    if (!ok) {
        fprintf(stderr, "OpenSSL could not derive a public key\n");
        exit(2);
    }
}

/* Scalars: random, all-zero, all-ones or a single bit. */
static void gen_scalar_fresh(etls_test_rng_t *r, uint8_t sk[32])
{
    uint64_t kind = etls_test_rng_next(r) % 32;
    etls_test_rng_bytes(r, sk, 32);
    if (kind == 0)
        memset(sk, 0, 32);
    else if (kind == 1)
        memset(sk, 0xff, 32);
    else if (kind == 2) { /* one bit */
        unsigned bit = (unsigned)(etls_test_rng_next(r) % 256);
        memset(sk, 0, 32);
        sk[bit / 8] = (uint8_t)(1u << (bit % 8));
    }
}

/* The scalar for lane `lane` (< OSSL_CACHE): kept for about 4 consecutive inputs of that lane. */
static void gen_scalar(etls_test_rng_t *r, uint8_t sk[32], size_t lane)
{
    static uint8_t last[OSSL_CACHE][32];
    static int have[OSSL_CACHE];
    if (!have[lane] || etls_test_rng_next(r) % 4 == 0) {
        gen_scalar_fresh(r, last[lane]);
        have[lane] = 1;
    }
    memcpy(sk, last[lane], 32);
}

static void gen_peer(etls_test_rng_t *r, uint8_t u[32])
{
    uint64_t kind = etls_test_rng_next(r) % 16;
    etls_test_rng_bytes(r, u, 32);
    switch (kind) {
    case 0: /* p .. 2^255 - 1: non-canonical encodings of 0 .. 18 */
        memset(u, 0xff, 32);
        u[0] = (uint8_t)(0xed + etls_test_rng_next(r) % 19);
        u[31] = 0x7f;
        break;
    case 1: /* a low-order point */
        memcpy(u, low_order[etls_test_rng_next(r) % N_LOW_ORDER], 32);
        break;
    case 2: /* a small integer */
        memset(u, 0, 32);
        u[0] = (uint8_t)etls_test_rng_next(r);
        break;
    case 3: /* just below p: the top limb saturated */
        memset(u + 8, 0xff, 24);
        u[31] = 0x7f;
        break;
    default: /* random, bit 255 as the generator left it */
        break;
    }
    if (kind <= 3 && (etls_test_rng_next(r) & 1))
        u[31] |= 0x80; /* the same value with bit 255 set must give the same result */
    n_topbit_seen += (u[31] & 0x80) != 0;
    n_noncanon_seen += kind == 0;
}

/* Compares one of our results with OpenSSL's for the same inputs. */
static void compare_shared(const uint8_t sk[32], const uint8_t peer[32], const uint8_t *got,
                           int status, const char *via)
{
    uint8_t want[32];
    unsigned long failures_before = etls_test_failures;
    int ref = ossl_shared(want, sk, peer);
    if (ref < 0) {
        static const uint8_t zero[32];
        n_zero_seen++;
        CHECK_MSG(status == ETLS_ERR_INVALID && memcmp(got, zero, 32) == 0,
                  "%s: OpenSSL refused (zero secret) but we returned %d", via, status);
    } else {
        CHECK_MSG(status == 0 && memcmp(got, want, 32) == 0, "%s: mismatch (status %d)", via,
                  status);
    }
    if (etls_test_failures != failures_before && etls_test_failures <= 5) {
        etls_hex_print(stderr, "sk", sk, 32);
        etls_hex_print(stderr, "peer", peer, 32);
    }
}

static void check_low_order(const etls_x25519_impl_t *impl)
{
    uint8_t sk[32], out[32];
    memset(sk, 0x42, sizeof sk);
    for (size_t i = 0; i < N_LOW_ORDER; i++) {
        for (int top = 0; top < 2; top++) {
            uint8_t u[32];
            memcpy(u, low_order[i], 32);
            u[31] |= (uint8_t)(top << 7);
            etls_x25519_op_t op = {.sk = sk, .peer = u, .out = out, .status = 5};
            impl->shared_batch(&op, 1);
            CHECK_MSG(op.status == ETLS_ERR_INVALID, "%s: low-order point %zu", impl->name, i);
        }
    }
}

static void run_portable(etls_test_rng_t *r, unsigned long count)
{
    const etls_x25519_impl_t *impl = etls_x25519_portable_get();
    uint8_t sk[32], u[32], out[32], out2[32];
    check_low_order(impl);
    for (unsigned long i = 0; i < count; i++) {
        gen_scalar(r, sk, 0);
        gen_peer(r, u);
        etls_x25519_op_t op = {.sk = sk, .peer = u, .out = out, .status = 5};
        impl->shared_batch(&op, 1);
        compare_shared(sk, u, out, op.status, "portable");
        if (i % 16 == 0) { /* the single-shot API is the same ladder; spot-check it agrees */
            int st = etls_x25519_shared(out2, sk, u);
            CHECK(st == op.status && memcmp(out, out2, 32) == 0);
        }
    }
}

/* A SIMD implementation through its own entry point, every batch size 1..maxb in turn (full
 * lane groups and each remainder). Returns 77 (meson: skipped) when the CPU lacks it. */
static int run_lanes(etls_test_rng_t *r, unsigned long count, const etls_x25519_impl_t *impl,
                     uint32_t cpu_bits, const char *what, size_t maxb)
{
    if (!impl) {
        CHECK_MSG(!etls_cpu_has(cpu_bits), "%s present but its _get() is NULL", what);
        if (!etls_cpu_has(cpu_bits)) {
            printf("no %s on this CPU (or masked): SKIPPED\n", what);
            return 77;
        }
        return -1;
    }
    enum { MAXB = 17 };
    uint8_t sk[MAXB][32], u[MAXB][32], out[MAXB][32];
    etls_x25519_op_t ops[MAXB];
    check_low_order(impl);
    for (unsigned long done = 0, round = 0; done < count; round++) {
        size_t n = 1 + round % maxb; /* every size in turn, about count/maxb ops each */
        for (size_t j = 0; j < n; j++) {
            gen_scalar(r, sk[j], j % OSSL_CACHE);
            gen_peer(r, u[j]);
            ops[j] = (etls_x25519_op_t){.sk = sk[j], .peer = u[j], .out = out[j], .status = 5};
        }
        impl->shared_batch(ops, n);
        for (size_t j = 0; j < n; j++)
            compare_shared(sk[j], u[j], out[j], ops[j].status, impl->name);
        done += n;
    }
    return 0;
}

static void run_keygen(etls_test_rng_t *r, unsigned long count)
{
    enum { MAXB = 20 };
    uint8_t sk[MAXB][32], want[MAXB][32], out[MAXB][32], single[32];
    etls_x25519_op_t ops[MAXB];
    for (unsigned long done = 0, round = 0; done < count; round++) {
        size_t n = 1 + round % MAXB;
        for (size_t j = 0; j < n; j++) {
            gen_scalar_fresh(r, sk[j]);
            ossl_public(want[j], sk[j]);
            etls_x25519_public(single, sk[j]);
            CHECK_MSG(memcmp(single, want[j], 32) == 0, "single key generation");
            ops[j] = (etls_x25519_op_t){.sk = sk[j], .peer = NULL, .out = out[j], .status = 5};
        }
        etls_x25519_batch(NULL, ops, n);
        for (size_t j = 0; j < n; j++)
            CHECK_MSG(ops[j].status == 0 && memcmp(out[j], want[j], 32) == 0,
                      "batched key generation, batch of %zu, op %zu", n, j);
        done += n;
    }
}

static void run_mixed(etls_test_rng_t *r, unsigned long count)
{
    enum { MAXB = 37 };
    uint8_t sk[MAXB][32], u[MAXB][32], out[MAXB][32], want[32];
    etls_x25519_op_t ops[MAXB];
    /* NULL (best) most of the time, each concrete implementation now and then. */
    const etls_x25519_impl_t *impls[5] = {NULL, NULL, etls_x25519_portable_get(),
                                          etls_x25519_avx2_get(), etls_x25519_ifma_get()};
    for (unsigned long done = 0; done < count;) {
        size_t n = 1 + etls_test_rng_next(r) % MAXB;
        const etls_x25519_impl_t *impl = impls[etls_test_rng_next(r) % 5];
        for (size_t j = 0; j < n; j++) {
            int gen = (etls_test_rng_next(r) % 3) == 0;
            gen_scalar(r, sk[j], j % OSSL_CACHE);
            gen_peer(r, u[j]);
            ops[j] = (etls_x25519_op_t){
                .sk = sk[j], .peer = gen ? NULL : u[j], .out = out[j], .status = 5};
        }
        etls_x25519_batch(impl, ops, n);
        for (size_t j = 0; j < n; j++) {
            if (ops[j].peer) {
                compare_shared(sk[j], u[j], out[j], ops[j].status, "mixed batch");
            } else {
                ossl_public(want, sk[j]);
                CHECK_MSG(ops[j].status == 0 && memcmp(out[j], want, 32) == 0, "mixed keygen");
            }
        }
        done += n;
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s portable|avx2|ifma|keygen|mixed [count]\n", argv[0]);
        return 2;
    }
    unsigned long count = argc > 2 ? strtoul(argv[2], NULL, 10) : DEFAULT_COUNT;
    etls_test_rng_t r;
    etls_test_rng_seed(&r, etls_test_seed("test_x25519_diff"));
    for (size_t i = 0; i < N_LOW_ORDER; i++)
        if (etls_hex_decode(low_order_hex[i], 64, low_order[i], 32) != 32)
            return 2;

    const char *mode = argv[1];
    if (strcmp(mode, "portable") == 0) {
        run_portable(&r, count);
    } else if (strcmp(mode, "avx2") == 0 || strcmp(mode, "ifma") == 0) {
        int avx2 = strcmp(mode, "avx2") == 0;
        int rc = avx2 ? run_lanes(&r, count, etls_x25519_avx2_get(), ETLS_CPU_AVX2, "AVX2", 9)
                      : run_lanes(&r, count, etls_x25519_ifma_get(),
                                  ETLS_CPU_AVX512F | ETLS_CPU_AVX512VL | ETLS_CPU_AVX512IFMA,
                                  "AVX-512 IFMA", 17);
        if (rc == 77)
            return 77;
    } else if (strcmp(mode, "keygen") == 0) {
        run_keygen(&r, count);
    } else if (strcmp(mode, "mixed") == 0) {
        run_mixed(&r, count);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    ossl_cache_free();
    printf("%s: %lu inputs; %lu zero secrets, %lu u >= p, %lu with bit 255 set\n", mode, count,
           n_zero_seen, n_noncanon_seen, n_topbit_seen);
    /* The adversarial generators must actually have produced their cases. */
    if (strcmp(mode, "keygen") != 0)
        CHECK(n_zero_seen > 0 && n_noncanon_seen > 0 && n_topbit_seen > 0);
    return etls_test_summary(mode);
}
