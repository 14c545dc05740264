/* A log-bucketed latency histogram (HDR style) with bounded memory.
 *
 * Values are unsigned 64-bit (the bench records nanoseconds). Each power-of-two range is split
 * into ETLS_HIST_SUB linear sub-buckets, so any recorded value is reported within
 * 1/ETLS_HIST_SUB (1.6 %) of itself; values below ETLS_HIST_SUB are exact. Memory is fixed
 * (ETLS_HIST_BUCKETS counters, ~30 KiB), whatever the range of values.
 *
 * Ownership: plain caller-owned struct; one writer at a time (each load thread owns one and
 * the report merges them at the end). No allocation. */
#ifndef ETLS_BENCH_HS_HIST_H
#define ETLS_BENCH_HS_HIST_H

#include <stddef.h>
#include <stdint.h>

#define ETLS_HIST_SUB_BITS 6
#define ETLS_HIST_SUB (1u << ETLS_HIST_SUB_BITS)
/* Exponents 0..58 above the exact range cover all of uint64_t. */
#define ETLS_HIST_BUCKETS ((64 - ETLS_HIST_SUB_BITS + 1) * ETLS_HIST_SUB)

typedef struct etls_hist {
    uint64_t count;
    uint64_t min, max;
    double sum;
    uint64_t n[ETLS_HIST_BUCKETS];
} etls_hist_t;

void etls_hist_init(etls_hist_t *h);
void etls_hist_record(etls_hist_t *h, uint64_t v);
/* h += o. */
void etls_hist_merge(etls_hist_t *h, const etls_hist_t *o);
/* The value at percentile p (0..100): the upper end of the bucket holding the ceil(p% * count)-th
 * smallest value, clamped to [min, max]. 0 for an empty histogram. */
uint64_t etls_hist_percentile(const etls_hist_t *h, double p);
double etls_hist_mean(const etls_hist_t *h);

/* Bucket index of v and the range [lo, hi] of values that share it (for plots and tests). */
size_t etls_hist_index(uint64_t v);
void etls_hist_bucket_range(size_t idx, uint64_t *lo, uint64_t *hi);

#endif
