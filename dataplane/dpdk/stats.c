/* The DPDK workers' counters for other threads: the control plane's STATS (etls_dpdk_stats_format,
 * called on the ctl thread) and DPDK telemetry (telemetry.c).
 *
 * The workers live from make_workers to free_workers (eal.c) while the ctl thread runs before,
 * during and after that, so readers only see workers between dp_readers_set(n) and
 * dp_readers_set(0). A mutex orders the readers against that withdrawal: teardown waits for a
 * STATS answer being formatted instead of freeing the worker under it. Only readers and the
 * start-up/teardown path take it; the poll loops never do. */
#include "dpdk/dp.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t readers_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned readers_n; /* workers readable now; under readers_mu */

void dp_readers_set(unsigned n)
{
    pthread_mutex_lock(&readers_mu);
    readers_n = n;
    pthread_mutex_unlock(&readers_mu);
}

unsigned dp_readers_enter(void)
{
    pthread_mutex_lock(&readers_mu);
    return readers_n;
}

void dp_readers_leave(void)
{
    pthread_mutex_unlock(&readers_mu);
}

static uint64_t load(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Worker w's counters in the io_uring workers' shape, so that both transports share one
 * formatter and the control plane sees the same keys. bk_* are not among the STATS keys but
 * are filled for completeness. */
static void read_worker(const dp_worker_t *w, etls_worker_stats_t *st)
{
    const dp_stats_t *s = &w->st;
    memset(st, 0, sizeof *st);
    st->accepted = load(&s->accepted);
    st->active = load(&s->active);
    st->rejected = load(&s->rejected);
    st->handshakes = load(&s->handshakes);
    st->hs_failures = load(&s->hs_failures);
    st->timeouts = load(&s->timeouts);
    st->bytes_in = load(&s->bytes_in);
    st->bytes_out = load(&s->bytes_out);
    st->bk_bytes_in = load(&s->bk_bytes_in);
    st->bk_bytes_out = load(&s->bk_bytes_out);
    st->bk_errors = load(&s->bk_errors);
    st->requests = load(&s->requests);
    st->errors = load(&s->errors);
    st->resets = load(&s->resets);
    st->crypto_runs = load(&s->crypto_runs);
    if (w->batch) /* NULL without a TLS listener: an empty histogram */
        etls_batch_fill_read(w->batch, &st->batch_fill);
    etls_sess_stats_read(&w->sess, &st->sess);
}

void etls_dpdk_stats_format(etls_st_put_fn *put, void *arg)
{
    etls_worker_stats_t *st = malloc(sizeof *st); /* ~40 KiB: off the caller's stack */
    if (!st)
        return;
    unsigned n = dp_readers_enter();
    for (unsigned i = 0; i < n; i++) {
        read_worker(etls_dp_workers[i], st);
        etls_worker_stats_format(st, i, put, arg);
    }
    dp_readers_leave();
    free(st);
}
