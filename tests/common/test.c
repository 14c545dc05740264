#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

unsigned long etls_test_checks, etls_test_failures;

int etls_test_summary(const char *name)
{
    printf("%s: %lu checks, %lu failed\n", name, etls_test_checks, etls_test_failures);
    if (etls_test_checks == 0) {
        fprintf(stderr, "%s: no checks ran\n", name);
        return 1;
    }
    return etls_test_failures ? 1 : 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long etls_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t cap)
{
    if (hexlen % 2 || hexlen / 2 > cap)
        return -1;
    for (size_t i = 0; i < hexlen / 2; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return (long)(hexlen / 2);
}

void etls_hex_print(FILE *f, const char *label, const uint8_t *p, size_t n)
{
    fprintf(f, "%s: ", label);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", p[i]);
    fputc('\n', f);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void etls_test_rng_seed(etls_test_rng_t *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) { /* splitmix64 expands the seed */
        uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        r->s[i] = z ^ (z >> 31);
    }
}

uint64_t etls_test_rng_next(etls_test_rng_t *r)
{
    uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

void etls_test_rng_bytes(etls_test_rng_t *r, void *out, size_t n)
{
    uint8_t *p = out;
    while (n) {
        uint64_t v = etls_test_rng_next(r);
        size_t k = n < 8 ? n : 8;
        memcpy(p, &v, k);
        p += k;
        n -= k;
    }
}

uint64_t etls_test_seed(const char *name)
{
    const char *env = getenv("ETLS_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)clock() << 20);
    printf("%s: seed %llu (set ETLS_TEST_SEED to reproduce)\n", name, (unsigned long long)seed);
    return seed;
}
