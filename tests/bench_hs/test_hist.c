/* The bench histogram against a sorted reference: every percentile must be the reference
 * value rounded up to its bucket's upper end (so within 1/64 above it, never below). */
#include "hist.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t ref_pct(const uint64_t *sorted, size_t n, double p)
{
    if (p <= 0)
        return sorted[0];
    if (p >= 100)
        return sorted[n - 1];
    double r = p / 100.0 * (double)n;
    size_t rank = (size_t)r;
    if ((double)rank < r)
        rank++;
    return sorted[(rank ? rank : 1) - 1];
}

/* Draws n values: kind 0 uniform small, 1 log-uniform over 2^0..2^40, 2 few distinct values. */
static void draw(etls_test_rng_t *rng, int kind, uint64_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t x = etls_test_rng_next(rng);
        if (kind == 0)
            v[i] = x % 5000;
        else if (kind == 1)
            v[i] = (x >> 24) >> (x % 40); /* spread over many powers of two */
        else
            v[i] = 1000000u * (1 + x % 3);
    }
}

static void check_one(etls_test_rng_t *rng, int kind, size_t n)
{
    static const double ps[] = {0, 1, 10, 50, 90, 99, 99.9, 99.99, 100};
    uint64_t *v = malloc(n * sizeof *v);
    etls_hist_t *h = malloc(sizeof *h), *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    draw(rng, kind, v, n);
    etls_hist_init(h);
    etls_hist_init(a);
    etls_hist_init(b);
    for (size_t i = 0; i < n; i++) {
        etls_hist_record(h, v[i]);
        etls_hist_record(i % 3 ? a : b, v[i]);
    }
    etls_hist_merge(a, b);
    qsort(v, n, sizeof *v, cmp_u64);
    CHECK(h->count == n && h->min == v[0] && h->max == v[n - 1]);
    CHECK(memcmp(a->n, h->n, sizeof h->n) == 0 && a->min == h->min && a->max == h->max);
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        uint64_t ref = ref_pct(v, n, ps[i]), got = etls_hist_percentile(h, ps[i]);
        uint64_t lo, hi;
        etls_hist_bucket_range(etls_hist_index(ref), &lo, &hi);
        CHECK_MSG(got >= ref && got <= hi && got - ref <= ref / 64,
                  "kind %d n %zu p%g: ref %llu got %llu", kind, n, ps[i], (unsigned long long)ref,
                  (unsigned long long)got);
    }
    free(v);
    free(h);
    free(a);
    free(b);
}

static void check_buckets(etls_test_rng_t *rng)
{
    uint64_t edges[] = {0, 1, 63, 64, 65, 127, 128, 129, 1000, UINT64_MAX - 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0] + 2000; i++) {
        uint64_t v = i < sizeof edges / sizeof edges[0] ? edges[i]
                                                       : etls_test_rng_next(rng) >> (i % 64);
        size_t idx = etls_hist_index(v);
        uint64_t lo, hi;
        CHECK(idx < ETLS_HIST_BUCKETS);
        etls_hist_bucket_range(idx, &lo, &hi);
        CHECK_MSG(lo <= v && v <= hi, "v %llu idx %zu", (unsigned long long)v, idx);
        CHECK(etls_hist_index(lo) == idx && etls_hist_index(hi) == idx);
        CHECK(v < 64 ? lo == hi : hi - lo <= lo / 64);
        if (idx + 1 < ETLS_HIST_BUCKETS) { /* buckets tile the range with no gap */
            uint64_t lo2, hi2;
            etls_hist_bucket_range(idx + 1, &lo2, &hi2);
            CHECK(lo2 == hi + 1);
        }
    }
    etls_hist_t *h = malloc(sizeof *h);
    etls_hist_init(h);
    CHECK(etls_hist_percentile(h, 50) == 0 && etls_hist_mean(h) == 0);
    etls_hist_record(h, 12345);
    CHECK(etls_hist_percentile(h, 0) == 12345 && etls_hist_percentile(h, 99.9) == 12345);
    free(h);
}

int main(void)
{
    etls_test_rng_t rng;
    etls_test_rng_seed(&rng, etls_test_seed("bench_hist"));
    check_buckets(&rng);
    for (int kind = 0; kind < 3; kind++) {
        check_one(&rng, kind, 1);
        check_one(&rng, kind, 7);
        check_one(&rng, kind, 1000);
        check_one(&rng, kind, 100000);
    }
    return etls_test_summary("bench_hist");
}
