#include "common/cpu.h"

#include <cpuid.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    uint32_t bit;
    const char *name;
} feature_names[] = {
    {ETLS_CPU_SSSE3, "ssse3"},         {ETLS_CPU_SSE41, "sse4_1"},     {ETLS_CPU_AESNI, "aes"},
    {ETLS_CPU_PCLMUL, "pclmulqdq"},    {ETLS_CPU_AVX, "avx"},          {ETLS_CPU_AVX2, "avx2"},
    {ETLS_CPU_BMI2, "bmi2"},           {ETLS_CPU_ADX, "adx"},          {ETLS_CPU_SHA_NI, "sha_ni"},
    {ETLS_CPU_VAES, "vaes"},           {ETLS_CPU_VPCLMUL, "vpclmulqdq"}, {ETLS_CPU_GFNI, "gfni"},
    {ETLS_CPU_AVX512F, "avx512f"},     {ETLS_CPU_AVX512VL, "avx512vl"}, {ETLS_CPU_AVX512BW, "avx512bw"},
    {ETLS_CPU_AVX512IFMA, "avx512ifma"},
};

static uint32_t xgetbv0(void)
{
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return eax;
}

static uint32_t detect(void)
{
    unsigned a, b, c, d;
    uint32_t f = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    if (c & bit_SSSE3) f |= ETLS_CPU_SSSE3;
    if (c & bit_SSE4_1) f |= ETLS_CPU_SSE41;
    if (c & bit_AES) f |= ETLS_CPU_AESNI;
    if (c & bit_PCLMUL) f |= ETLS_CPU_PCLMUL;
    /* AVX state must be enabled by the OS (XCR0 bits 1 and 2), not just present in the CPU. */
    int ymm_ok = (c & bit_OSXSAVE) && (xgetbv0() & 0x6) == 0x6;
    int zmm_ok = ymm_ok && (xgetbv0() & 0xe6) == 0xe6;
    if (ymm_ok && (c & bit_AVX)) f |= ETLS_CPU_AVX;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        if (ymm_ok && (b & bit_AVX2)) f |= ETLS_CPU_AVX2;
        if (b & bit_BMI2) f |= ETLS_CPU_BMI2;
        if (b & bit_ADX) f |= ETLS_CPU_ADX;
        if (b & bit_SHA) f |= ETLS_CPU_SHA_NI;
        if (ymm_ok && (c & bit_VAES)) f |= ETLS_CPU_VAES;
        if (ymm_ok && (c & bit_VPCLMULQDQ)) f |= ETLS_CPU_VPCLMUL;
        if (c & bit_GFNI) f |= ETLS_CPU_GFNI;
        if (zmm_ok && (b & bit_AVX512F)) f |= ETLS_CPU_AVX512F;
        if (zmm_ok && (b & bit_AVX512VL)) f |= ETLS_CPU_AVX512VL;
        if (zmm_ok && (b & bit_AVX512BW)) f |= ETLS_CPU_AVX512BW;
        if (zmm_ok && (b & bit_AVX512IFMA)) f |= ETLS_CPU_AVX512IFMA;
    }
    return f;
}

static uint32_t parse_mask(const char *s)
{
    uint32_t m = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        int known = 0;
        for (size_t i = 0; i < sizeof feature_names / sizeof feature_names[0]; i++)
            if (strcmp(tok, feature_names[i].name) == 0) {
                m |= feature_names[i].bit;
                known = 1;
            }
        if (strcmp(tok, "all") == 0) {
            m = UINT32_MAX;
            known = 1;
        }
        if (!known)
            fprintf(stderr, "edgetls: ETLS_CPU_DISABLE: unknown feature '%s' ignored\n", tok);
    }
    return m;
}

static uint32_t features;
static pthread_once_t features_once = PTHREAD_ONCE_INIT;

static void init_features(void)
{
    uint32_t f = detect();
    const char *mask = getenv("ETLS_CPU_DISABLE");
    if (mask)
        f &= ~parse_mask(mask);
    features = f;
}

uint32_t etls_cpu_features(void)
{
    pthread_once(&features_once, init_features);
    return features;
}

const char *etls_cpu_describe(uint32_t f, char *buf, unsigned buflen)
{
    size_t used = 0;
    if (buflen == 0)
        return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof feature_names / sizeof feature_names[0]; i++) {
        if (!(f & feature_names[i].bit))
            continue;
        int n = snprintf(buf + used, buflen - used, "%s%s", used ? " " : "", feature_names[i].name);
        if (n < 0 || (size_t)n >= buflen - used)
            break;
        used += (size_t)n;
    }
    return buf;
}
