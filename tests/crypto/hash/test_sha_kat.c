/* SHA-256 / SHA-384 known answers (FIPS 180-2 appendix examples) through the incremental API
 * with several chunkings, and through each compression implementation directly (portable,
 * SHA-NI, AVX2 for SHA-256 and SHA-384), plus SIMD-vs-portable cross-checks on random
 * multi-block inputs. Registered three times: all paths, SHA-NI masked (AVX2 SHA-256 through
 * the API) and SHA-NI+AVX2 masked (portable everywhere).
 *
 * usage: test_sha_kat [expect=portable|auto]
 *   The registration with ETLS_CPU_DISABLE=sha_ni,avx2 passes expect=portable so the test
 *   proves the masked run really exercised the portable paths through the whole API. */
#include "common/cpu.h"
#include "crypto/hash.h"
#include "crypto/hash/sha_impl.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

static const char msg448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
static const char msg896[] = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                             "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";

static const struct kat {
    etls_hash_alg_t alg;
    const char *msg; /* NULL: one million 'a' */
    const char *digest;
} kats[] = {
    {ETLS_HASH_SHA256, "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {ETLS_HASH_SHA256, "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {ETLS_HASH_SHA256, msg448, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    {ETLS_HASH_SHA256, msg896, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    {ETLS_HASH_SHA256, NULL, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
    {ETLS_HASH_SHA384, "abc",
     "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"},
    {ETLS_HASH_SHA384, "",
     "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b"},
    {ETLS_HASH_SHA384, msg448,
     "3391fdddfc8dc7393707a65b1b4709397cf8b1d162af05abfe8f450de5f36bc6b0455a8520bc4e6f5fe95b1fe3c8452b"},
    {ETLS_HASH_SHA384, msg896,
     "09330c33f71147e83d192fc782cd1b4753111b173b3b05d22fa08086e3b0f712fcc7c71a557e2db966c3e9fa91746039"},
    {ETLS_HASH_SHA384, NULL,
     "9d0e1809716474cb086e834e310a4a1ced149e9c00f248527972cec5704c2a5b07b8b3dc38ecc4ebae97ddd87f3d8985"},
};

static uint8_t *million_a;

static const uint8_t *kat_msg(const struct kat *k, size_t *len)
{
    if (k->msg) {
        *len = strlen(k->msg);
        return (const uint8_t *)k->msg;
    }
    *len = 1000000;
    return million_a;
}

/* One-shot, byte-at-a-time (short messages), 1000-byte and 7-byte chunks, peek before final. */
static void check_api(const struct kat *k)
{
    uint8_t want[ETLS_HASH_MAX_LEN], got[ETLS_HASH_MAX_LEN], peeked[ETLS_HASH_MAX_LEN];
    size_t hl = etls_hash_len(k->alg), len;
    const uint8_t *m = kat_msg(k, &len);
    CHECK(etls_hex_decode(k->digest, strlen(k->digest), want, sizeof want) == (long)hl);

    memset(got, 0, sizeof got);
    etls_hash(k->alg, m, len, got);
    CHECK_MSG(memcmp(got, want, hl) == 0, "one-shot alg %d len %zu", k->alg, len);

    static const size_t chunks[] = {1, 7, 1000, 64, 127};
    for (size_t ci = 0; ci < sizeof chunks / sizeof chunks[0]; ci++) {
        if (chunks[ci] == 1 && len > 1000)
            continue;
        etls_hash_ctx_t c;
        etls_hash_init(&c, k->alg);
        for (size_t off = 0; off < len; off += chunks[ci])
            etls_hash_update(&c, m + off, len - off < chunks[ci] ? len - off : chunks[ci]);
        etls_hash_peek(&c, peeked);
        etls_hash_final(&c, got);
        CHECK_MSG(memcmp(got, want, hl) == 0, "chunk %zu alg %d len %zu", chunks[ci], k->alg, len);
        CHECK_MSG(memcmp(peeked, want, hl) == 0, "peek chunk %zu alg %d", chunks[ci], k->alg);
        static const etls_hash_ctx_t zero;
        CHECK_MSG(memcmp(&c, &zero, sizeof c) == 0, "final did not wipe the context");
    }
}

/* Runs one SHA-256 compression implementation over a padded message, bypassing hash.c. */
static void sha256_with(etls_sha256_compress_fn *fn, const uint8_t *m, size_t len, uint8_t *out)
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    size_t full = len / 64, rest = len % 64;
    if (full)
        fn(h, m, full);
    uint8_t tail[128] = {0};
    memcpy(tail, m + full * 64, rest);
    tail[rest] = 0x80;
    size_t tl = rest + 1 + 8 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++)
        tail[tl - 1 - i] = (uint8_t)(bits >> (8 * i));
    fn(h, tail, tl / 64);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++)
            out[4 * i + j] = (uint8_t)(h[i] >> (24 - 8 * j));
}

/* Same for SHA-384 (SHA-512 compression, SHA-384 IV, 128-bit length field). */
static void sha384_with(etls_sha512_compress_fn *fn, const uint8_t *m, size_t len, uint8_t *out)
{
    uint64_t h[8] = {0xcbbb9d5dc1059ed8ULL, 0x629a292a367cd507ULL, 0x9159015a3070dd17ULL,
                     0x152fecd8f70e5939ULL, 0x67332667ffc00b31ULL, 0x8eb44a8768581511ULL,
                     0xdb0c2e0d64f98fa7ULL, 0x47b5481dbefa4fa4ULL};
    size_t full = len / 128, rest = len % 128;
    if (full)
        fn(h, m, full);
    uint8_t tail[256] = {0};
    memcpy(tail, m + full * 128, rest);
    tail[rest] = 0x80;
    size_t tl = rest + 1 + 16 <= 128 ? 128 : 256;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++)
        tail[tl - 1 - i] = (uint8_t)(bits >> (8 * i));
    fn(h, tail, tl / 128);
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 8; j++)
            out[8 * i + j] = (uint8_t)(h[i] >> (56 - 8 * j));
}

static void check_impl384(const char *name, etls_sha512_compress_fn *fn)
{
    for (size_t i = 0; i < sizeof kats / sizeof kats[0]; i++) {
        if (kats[i].alg != ETLS_HASH_SHA384)
            continue;
        uint8_t want[48], got[48] = {0};
        size_t len;
        const uint8_t *m = kat_msg(&kats[i], &len);
        CHECK(etls_hex_decode(kats[i].digest, 96, want, sizeof want) == 48);
        sha384_with(fn, m, len, got);
        CHECK_MSG(memcmp(got, want, 48) == 0, "%s: kat %zu", name, i);
    }
}

static void cross_check_impls384(uint64_t seed)
{
    etls_test_rng_t rng;
    etls_test_rng_seed(&rng, seed);
    static uint8_t blocks[128 * 20];
    for (int iter = 0; iter < 2000; iter++) {
        uint64_t a[8], b[8];
        size_t n = etls_test_rng_next(&rng) % 20 + 1;
        etls_test_rng_bytes(&rng, a, sizeof a);
        memcpy(b, a, sizeof a);
        etls_test_rng_bytes(&rng, blocks, n * 128);
        etls_sha512_compress_portable(a, blocks, n);
        etls_sha512_compress_avx2(b, blocks, n);
        CHECK_MSG(memcmp(a, b, sizeof a) == 0, "avx2 != portable, %zu blocks", n);
    }
}

static void check_impl(const char *name, etls_sha256_compress_fn *fn)
{
    for (size_t i = 0; i < sizeof kats / sizeof kats[0]; i++) {
        if (kats[i].alg != ETLS_HASH_SHA256)
            continue;
        uint8_t want[32], got[32] = {0};
        size_t len;
        const uint8_t *m = kat_msg(&kats[i], &len);
        CHECK(etls_hex_decode(kats[i].digest, 64, want, sizeof want) == 32);
        sha256_with(fn, m, len, got);
        CHECK_MSG(memcmp(got, want, 32) == 0, "%s: kat %zu", name, i);
    }
}

/* A SIMD SHA-256 against portable on random multi-block inputs and random starting states. */
static void cross_check_impls(uint64_t seed, etls_sha256_compress_fn *fn)
{
    etls_test_rng_t rng;
    etls_test_rng_seed(&rng, seed);
    static uint8_t blocks[64 * 40];
    for (int iter = 0; iter < 2000; iter++) {
        uint32_t a[8], b[8];
        size_t n = etls_test_rng_next(&rng) % 40 + 1;
        etls_test_rng_bytes(&rng, a, sizeof a);
        memcpy(b, a, sizeof a);
        etls_test_rng_bytes(&rng, blocks, n * 64);
        etls_sha256_compress_portable(a, blocks, n);
        fn(b, blocks, n);
        CHECK_MSG(memcmp(a, b, sizeof a) == 0, "SIMD != portable, %zu blocks", n);
    }
}

int main(int argc, char **argv)
{
    const char *expect = argc > 1 ? argv[1] : "expect=auto";
    million_a = malloc(1000000);
    if (!million_a)
        return 2;
    memset(million_a, 'a', 1000000);

    int has_ni = etls_cpu_has(ETLS_CPU_SHA_NI | ETLS_CPU_SSE41);
    int has_avx2 = etls_cpu_has(ETLS_CPU_AVX2 | ETLS_CPU_BMI2);
    const char *impl = etls_hash_impl_name(ETLS_HASH_SHA256);
    const char *impl384 = etls_hash_impl_name(ETLS_HASH_SHA384);
    printf("sha256 implementation: %s, sha384: %s\n", impl, impl384);
    if (strcmp(expect, "expect=portable") == 0) {
        CHECK(strcmp(impl, "portable") == 0 && !has_ni);
        CHECK(strcmp(impl384, "portable") == 0 && !has_avx2);
    } else {
        CHECK(strcmp(impl, has_ni ? "sha_ni" : has_avx2 ? "avx2" : "portable") == 0);
        CHECK(strcmp(impl384, has_avx2 ? "avx2" : "portable") == 0);
    }
    CHECK(etls_hash_len(ETLS_HASH_SHA256) == 32 && etls_hash_len(ETLS_HASH_SHA384) == 48);
    CHECK(etls_hash_block_len(ETLS_HASH_SHA256) == 64 &&
          etls_hash_block_len(ETLS_HASH_SHA384) == 128);
    CHECK(etls_hash_len((etls_hash_alg_t)0) == 0 && etls_hash_len((etls_hash_alg_t)3) == 0);

    for (size_t i = 0; i < sizeof kats / sizeof kats[0]; i++)
        check_api(&kats[i]);
    check_impl("portable", etls_sha256_compress_portable);
    if (has_ni) {
        check_impl("sha_ni", etls_sha256_compress_shani);
        cross_check_impls(etls_test_seed("sha_kat"), etls_sha256_compress_shani);
    } else {
        printf("SHA-NI absent or masked: direct SHA-NI checks skipped\n");
    }
    check_impl384("portable", etls_sha512_compress_portable);
    if (has_avx2) {
        check_impl("avx2", etls_sha256_compress_avx2);
        cross_check_impls(etls_test_seed("sha_kat"), etls_sha256_compress_avx2);
        check_impl384("avx2", etls_sha512_compress_avx2);
        cross_check_impls384(etls_test_seed("sha_kat"));
    } else {
        printf("AVX2/BMI2 absent or masked: direct AVX2 checks skipped\n");
    }
    free(million_a);
    return etls_test_summary("sha_kat");
}
