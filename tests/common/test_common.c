/* Tests for dataplane/common: constant-time helpers, error-code encoding, CPU feature masking. */
#include <stdlib.h>
#include <string.h>

#include "common/cpu.h"
#include "common/ct.h"
#include "common/err.h"
#include "test.h"

static void test_ct(void)
{
    uint8_t a[64], b[64];
    for (int i = 0; i < 64; i++)
        a[i] = b[i] = (uint8_t)(i * 7);
    CHECK(etls_ct_memeq(a, b, sizeof a) == 1);
    CHECK(etls_ct_memeq(a, b, 0) == 1);
    for (int i = 0; i < 64; i++) {
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (uint8_t)(1 << bit);
            CHECK(etls_ct_memeq(a, b, sizeof a) == 0);
            b[i] ^= (uint8_t)(1 << bit);
        }
    }
    CHECK(etls_ct_is_zero_mask(0) == UINT64_MAX);
    CHECK(etls_ct_is_zero_mask(1) == 0);
    CHECK(etls_ct_is_zero_mask(UINT64_MAX) == 0);
    CHECK(etls_ct_is_zero_mask(1ULL << 63) == 0);
    CHECK(etls_ct_select_u64(UINT64_MAX, 5, 9) == 5);
    CHECK(etls_ct_select_u64(0, 5, 9) == 9);
    uint8_t d[4] = {1, 2, 3, 4}, s[4] = {9, 9, 9, 9};
    etls_ct_cmov(d, s, 4, 0);
    CHECK(d[0] == 1 && d[3] == 4);
    etls_ct_cmov(d, s, 4, 0xff);
    CHECK(d[0] == 9 && d[3] == 9);
    etls_wipe(d, sizeof d);
    CHECK(d[0] == 0 && d[1] == 0 && d[2] == 0 && d[3] == 0);
}

static void test_err(void)
{
    int e = ETLS_ERR_ALERT(40); /* handshake_failure */
    CHECK(ETLS_ERR_IS_ALERT(e));
    CHECK(ETLS_ERR_ALERT_DESC(e) == 40);
    CHECK(ETLS_ERR_IS_ALERT(ETLS_ERR_ALERT(0)) && ETLS_ERR_ALERT_DESC(ETLS_ERR_ALERT(0)) == 0);
    CHECK(ETLS_ERR_IS_ALERT(ETLS_ERR_ALERT(255)));
    CHECK(!ETLS_ERR_IS_ALERT(ETLS_ERR_AUTH));
    CHECK(!ETLS_ERR_IS_ALERT(0));
    CHECK(strcmp(etls_strerror(ETLS_ERR_AUTH), "authentication failed") == 0);
}

static void test_cpu(void)
{
    char buf[256];
    uint32_t f = etls_cpu_features();
    printf("cpu features: %s\n", etls_cpu_describe(f, buf, sizeof buf));
    /* Implied features must be consistent: AVX2 needs OS YMM support, which AVX also needs. */
    if (f & ETLS_CPU_AVX2)
        CHECK(f & ETLS_CPU_AVX);
    if (f & ETLS_CPU_AVX512IFMA)
        CHECK(f & ETLS_CPU_AVX512F);
    const char *mask = getenv("ETLS_CPU_DISABLE");
    if (mask && strstr(mask, "avx2"))
        CHECK(!(f & ETLS_CPU_AVX2));
    CHECK(strlen(etls_cpu_describe(f, buf, 8)) < 8);
}

int main(void)
{
    test_ct();
    test_err();
    test_cpu();
    return etls_test_summary("test_common");
}
