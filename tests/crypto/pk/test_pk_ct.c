/* The one piece of secret-dependent logic crypto/pk implements itself rather than leaving to
 * OpenSSL: the range check behind P-256 rejection sampling. Checked for correctness at the
 * edges and against memcmp, and (suite 'ct', under valgrind) for branches on the secret scalar:
 * the scalar is marked undefined and only the verdict is declassified inside. */
#include "crypto/pk/pk_internal.h"

#include "common/ct.h"
#include "test.h"

#include <string.h>

static const uint8_t n[32] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};

static int in_range(const uint8_t s[32])
{
    uint8_t secret[32];
    memcpy(secret, s, 32);
    etls_ct_classify(secret, sizeof secret);
    int r = etls_p256_scalar_in_range(secret);
    etls_wipe(secret, sizeof secret);
    return r;
}

/* n + delta (delta small, may be negative), big-endian. */
static void n_plus(int delta, uint8_t out[32])
{
    int carry = delta;
    for (int i = 31; i >= 0; i--) {
        int v = n[i] + carry;
        out[i] = (uint8_t)v;
        carry = v < 0 ? -1 : v >> 8;
    }
}

int main(void)
{
    uint8_t s[32];
    etls_test_rng_t rng;
    etls_test_rng_seed(&rng, etls_test_seed("test_pk_ct"));
    memset(s, 0, 32);
    CHECK(in_range(s) == 0);
    s[31] = 1;
    CHECK(in_range(s) == 1);
    memset(s, 0xff, 32);
    CHECK(in_range(s) == 0);
    for (int d = -3; d <= 3; d++) {
        n_plus(d, s);
        CHECK_MSG(in_range(s) == (d < 0), "n%+d", d);
    }
    for (int i = 0; i < 2000; i++) {
        etls_test_rng_bytes(&rng, s, 32);
        if (i % 3 == 0)
            memcpy(s, n, 1 + (size_t)(i % 31)); /* share a prefix with n: the hard cases */
        int want = memcmp(s, n, 32) < 0 && memcmp(s, (uint8_t[32]){0}, 32) != 0;
        CHECK(in_range(s) == want);
    }
    return etls_test_summary("test_pk_ct");
}
