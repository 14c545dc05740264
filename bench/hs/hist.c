/* Log-bucketed histogram: bucket = (exponent, top ETLS_HIST_SUB_BITS bits below the leading one).
 * Values under ETLS_HIST_SUB map to themselves, so small values lose nothing. */
#include "hist.h"

#include <string.h>

void etls_hist_init(etls_hist_t *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

size_t etls_hist_index(uint64_t v)
{
    if (v < ETLS_HIST_SUB)
        return (size_t)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v); /* >= ETLS_HIST_SUB_BITS */
    unsigned shift = msb - ETLS_HIST_SUB_BITS;
    /* v >> shift is in [SUB, 2*SUB): its low bits are the sub-bucket. */
    return (size_t)(shift + 1) * ETLS_HIST_SUB + (size_t)((v >> shift) - ETLS_HIST_SUB);
}

void etls_hist_bucket_range(size_t idx, uint64_t *lo, uint64_t *hi)
{
    if (idx < ETLS_HIST_SUB) {
        *lo = *hi = idx;
        return;
    }
    unsigned shift = (unsigned)(idx / ETLS_HIST_SUB) - 1;
    uint64_t base = (uint64_t)(ETLS_HIST_SUB + idx % ETLS_HIST_SUB) << shift;
    *lo = base;
    *hi = base + ((UINT64_C(1) << shift) - 1);
}

void etls_hist_record(etls_hist_t *h, uint64_t v)
{
    h->n[etls_hist_index(v)]++;
    h->count++;
    h->sum += (double)v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void etls_hist_merge(etls_hist_t *h, const etls_hist_t *o)
{
    for (size_t i = 0; i < ETLS_HIST_BUCKETS; i++)
        h->n[i] += o->n[i];
    h->count += o->count;
    h->sum += o->sum;
    if (o->count && o->min < h->min)
        h->min = o->min;
    if (o->count && o->max > h->max)
        h->max = o->max;
}

uint64_t etls_hist_percentile(const etls_hist_t *h, double p)
{
    if (!h->count)
        return 0;
    if (p <= 0)
        return h->min;
    if (p >= 100)
        return h->max;
    /* rank of the wanted value, 1-based (nearest-rank definition) */
    double r = p / 100.0 * (double)h->count;
    uint64_t rank = (uint64_t)r;
    if ((double)rank < r)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < ETLS_HIST_BUCKETS; i++) {
        seen += h->n[i];
        if (seen >= rank) {
            uint64_t lo, hi;
            etls_hist_bucket_range(i, &lo, &hi);
            if (hi > h->max)
                hi = h->max;
            if (hi < h->min)
                hi = h->min;
            return hi;
        }
    }
    return h->max;
}

double etls_hist_mean(const etls_hist_t *h)
{
    return h->count ? h->sum / (double)h->count : 0.0;
}
