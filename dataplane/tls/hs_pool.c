/* Per-worker pool of handshake states: a connection borrows one from its first record to the
 * end of its handshake, so idle established connections do not carry ~1.4 KiB each. */
#include "tls/tls_internal.h"

#include <stdlib.h>

struct etls_tls_hs_pool {
    size_t n, n_free, in_use;
    etls_tls_hs_t *states; /* n states, one allocation */
    etls_tls_hs_t **free;  /* stack of n_free available states */
};

etls_tls_hs_pool_t *etls_tls_hs_pool_new(size_t n)
{
    etls_tls_hs_pool_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->states = calloc(n ? n : 1, sizeof *p->states);
    p->free = calloc(n ? n : 1, sizeof *p->free);
    if (!p->states || !p->free) {
        etls_tls_hs_pool_free(p);
        return NULL;
    }
    p->n = p->n_free = n;
    for (size_t i = 0; i < n; i++)
        p->free[i] = &p->states[n - 1 - i];
    return p;
}

void etls_tls_hs_pool_free(etls_tls_hs_pool_t *p)
{
    if (!p)
        return;
    if (p->states)
        etls_wipe(p->states, p->n * sizeof *p->states);
    free(p->states);
    free(p->free);
    free(p);
}

size_t etls_tls_hs_pool_in_use(const etls_tls_hs_pool_t *p)
{
    return p->in_use;
}

static int from_pool(const etls_tls_hs_pool_t *p, const etls_tls_hs_t *hs)
{
    return p && hs >= p->states && hs < p->states + p->n;
}

/* States in the pool's free stack are all zero: calloc'd, and wiped by etls_tls_hs_release
 * before they go back; so only a malloc'd state needs clearing here. */
int etls_tls_hs_acquire(etls_tls_conn_t *c)
{
    etls_tls_hs_pool_t *p = c->env->hs_pool;
    etls_tls_hs_t *hs = (p && p->n_free) ? p->free[--p->n_free] : NULL;
    if (!hs) {
        hs = malloc(sizeof *hs);
        ETLS_ENSURE(hs, ALERT(INTERNAL_ERROR));
        memset(hs, 0, sizeof *hs);
    }
    if (p)
        p->in_use++;
    hs->w.rec_start = SIZE_MAX;
    c->hs = hs;
    return 0;
}

void etls_tls_hs_release(etls_tls_conn_t *c)
{
    etls_tls_hs_t *hs = c->hs;
    if (!hs)
        return;
    etls_tls_hs_pool_t *p = c->env ? c->env->hs_pool : NULL;
    c->hs = NULL;
    free(hs->big);
    etls_wipe(hs, sizeof *hs); /* secrets: key schedule, ephemeral key, shared secret */
    if (p)
        p->in_use--;
    if (from_pool(p, hs))
        p->free[p->n_free++] = hs;
    else
        free(hs);
}
