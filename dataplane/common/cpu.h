/* CPU feature detection for run-time selection of SIMD paths.
 *
 * Paths are chosen at run time from these flags, never at build time. Features the OS does not
 * enable (XSAVE state for YMM/ZMM) are reported absent. Setting the environment variable
 * ETLS_CPU_DISABLE to a comma-separated list of feature names (e.g. "avx2,sha_ni") masks them,
 * so tests and benchmarks can force every path on one machine. */
#ifndef ETLS_COMMON_CPU_H
#define ETLS_COMMON_CPU_H

#include <stdint.h>

enum {
    ETLS_CPU_SSSE3 = 1u << 0,
    ETLS_CPU_SSE41 = 1u << 1,
    ETLS_CPU_AESNI = 1u << 2,
    ETLS_CPU_PCLMUL = 1u << 3,
    ETLS_CPU_AVX = 1u << 4,
    ETLS_CPU_AVX2 = 1u << 5,
    ETLS_CPU_BMI2 = 1u << 6,
    ETLS_CPU_ADX = 1u << 7,
    ETLS_CPU_SHA_NI = 1u << 8,
    ETLS_CPU_VAES = 1u << 9,
    ETLS_CPU_VPCLMUL = 1u << 10,
    ETLS_CPU_GFNI = 1u << 11,
    ETLS_CPU_AVX512F = 1u << 12,
    ETLS_CPU_AVX512VL = 1u << 13,
    ETLS_CPU_AVX512BW = 1u << 14,
    ETLS_CPU_AVX512IFMA = 1u << 15,
};

/* Detected features minus those masked by ETLS_CPU_DISABLE; computed once, thread-safe. */
uint32_t etls_cpu_features(void);

static inline int etls_cpu_has(uint32_t features)
{
    return (etls_cpu_features() & features) == features;
}

/* Space-separated names of the features in `features`, for logs and benchmark reports. */
const char *etls_cpu_describe(uint32_t features, char *buf, unsigned buflen);

#endif
