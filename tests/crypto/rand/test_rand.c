/* RNG: seeded mode is reproducible and seed-dependent (and is SHA-256(seed || counter));
 * kernel mode gives differing outputs across buffer refills; consumed bytes are wiped from the
 * buffer; zero-length and NULL requests are rejected. */
#include "common/err.h"
#include "crypto/hash.h"
#include "crypto/rand.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

static const size_t sizes[] = {1, 4095, 4096, 4097, 10000, 1, 7, 4096 * 3, 33};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static void test_seeded(void)
{
    static uint8_t a[20000], b[20000];
    uint8_t seed1[32], seed2[32];
    etls_rand_t *r1 = malloc(sizeof *r1), *r2 = malloc(sizeof *r2);
    memset(seed1, 0x11, 32);
    memset(seed2, 0x11, 32);
    seed2[31] ^= 1;

    /* Same seed, different request sizes: the same stream. */
    etls_rand_init_seeded(r1, seed1);
    etls_rand_init_seeded(r2, seed1);
    size_t total = 0;
    for (size_t i = 0; i < NSIZES && total + sizes[i] <= sizeof a; i++) {
        CHECK(etls_rand_bytes(r1, a + total, sizes[i]) == 0);
        total += sizes[i];
    }
    CHECK(etls_rand_bytes(r2, b, total) == 0);
    CHECK_MEM(a, b, total);

    /* The stream is SHA-256(seed || be64 counter) blocks. */
    uint8_t in[40], blk[32];
    memcpy(in, seed1, 32);
    memset(in + 32, 0, 8);
    in[39] = 5;
    etls_hash(ETLS_HASH_SHA256, in, sizeof in, blk);
    CHECK_MEM(a + 5 * 32, blk, 32);

    /* A different seed: a different stream. */
    etls_rand_init_seeded(r2, seed2);
    CHECK(etls_rand_bytes(r2, b, total) == 0);
    CHECK(memcmp(a, b, 64) != 0 && memcmp(a + total - 64, b + total - 64, 64) != 0);
    etls_rand_wipe(r1);
    etls_rand_wipe(r2);
    CHECK(all_zero(r1->seed, sizeof r1->seed) && all_zero(r1->buf, sizeof r1->buf));
    free(r1);
    free(r2);
}

/* Kernel mode across refill boundaries: no two outputs (or 16-byte windows at the boundaries)
 * repeat, consumed bytes are zero in the buffer, unconsumed bytes are not. */
static void test_kernel(void)
{
    static uint8_t out[NSIZES][16384];
    etls_rand_t *r = malloc(sizeof *r);
    etls_rand_init(r);
    for (size_t i = 0; i < NSIZES; i++) {
        memset(out[i], 0, sizeof out[i]);
        CHECK(etls_rand_bytes(r, out[i], sizes[i]) == 0);
        CHECK(r->pos == 0 || r->pos <= ETLS_RAND_BUF);
        CHECK_MSG(all_zero(r->buf, r->pos), "consumed bytes left in the buffer (pos %zu)", r->pos);
        if (r->pos < ETLS_RAND_BUF - 64)
            CHECK(!all_zero(r->buf + r->pos, ETLS_RAND_BUF - r->pos));
        if (sizes[i] >= 32)
            CHECK(!all_zero(out[i] + sizes[i] - 32, 32)); /* the tail was really written */
    }
    for (size_t i = 0; i < NSIZES; i++)
        for (size_t j = i + 1; j < NSIZES; j++) {
            size_t n = sizes[i] < sizes[j] ? sizes[i] : sizes[j];
            if (n >= 16)
                CHECK_MSG(memcmp(out[i], out[j], 16) != 0 &&
                              memcmp(out[i] + n - 16, out[j] + n - 16, 16) != 0,
                          "outputs %zu and %zu repeat", i, j);
        }
    /* Two fresh generators must not produce the same bytes. */
    etls_rand_t *r2 = malloc(sizeof *r2);
    uint8_t x[32], y[32];
    etls_rand_init(r2);
    CHECK(etls_rand_bytes(r, x, 32) == 0 && etls_rand_bytes(r2, y, 32) == 0);
    CHECK(memcmp(x, y, 32) != 0);
    /* Byte-wise requests across a whole buffer: every single byte comes out and is wiped. */
    size_t pos0 = r->pos;
    for (size_t i = 0; i < ETLS_RAND_BUF + 10; i++)
        CHECK(etls_rand_bytes(r, x, 1) == 0);
    CHECK(r->pos == (pos0 + ETLS_RAND_BUF + 10) % ETLS_RAND_BUF || pos0 == ETLS_RAND_BUF);
    CHECK(all_zero(r->buf, r->pos));
    etls_rand_wipe(r);
    etls_rand_wipe(r2);
    free(r);
    free(r2);
}

static void test_negative(void)
{
    etls_rand_t *r = malloc(sizeof *r);
    uint8_t x[4] = {9, 9, 9, 9};
    etls_rand_init(r);
    CHECK(etls_rand_bytes(r, x, 0) == ETLS_ERR_INVALID);
    CHECK(etls_rand_bytes(r, NULL, 4) == ETLS_ERR_INVALID);
    CHECK(x[0] == 9 && r->pos == ETLS_RAND_BUF); /* nothing consumed, nothing fetched */
    free(r);
}

int main(void)
{
    test_seeded();
    test_kernel();
    test_negative();
    return etls_test_summary("rand");
}
