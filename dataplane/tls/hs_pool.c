/* Per-worker pool of handshake states: a connection borrows one from its first record to the
 * end of its handshake, so idle established connections do not carry ~2.7 KiB each (1.1 KiB of
 * it the X25519MLKEM768 server share). The pool also bounds the worker's large reassembly
 * buffers (ClientHellos over one record's worth). */
#include "tls/tls_internal.h"

#include <stdlib.h>

struct etls_tls_hs_pool {
    size_t n, n_free, in_use;
    etls_tls_hs_t *states; /* n states, one allocation */
    etls_tls_hs_t **free;  /* stack of n_free available states */
    size_t big_max, big_out; /* large reassembly buffers: cap, lent now */
    uint64_t big_refused;    /* connections refused because big_out was at the cap */
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
    p->big_max = ETLS_TLS_DEFAULT_BIG_MAX;
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

void etls_tls_hs_pool_set_big_max(etls_tls_hs_pool_t *p, size_t n)
{
    p->big_max = n;
}

size_t etls_tls_hs_pool_big_out(const etls_tls_hs_pool_t *p)
{
    return p->big_out;
}

uint64_t etls_tls_hs_pool_big_refused(const etls_tls_hs_pool_t *p)
{
    return p->big_refused;
}

/* The buffer is sized to the message, not to the limit, and exists only while the message is
 * incomplete: a connection never carries it past its ClientHello. */
int etls_tls_msg_buf_get(etls_tls_conn_t *c, uint32_t len, uint8_t **dst)
{
    etls_tls_hs_t *hs = c->hs;
    etls_tls_hs_pool_t *p = c->env->hs_pool;
    if (!hs->big) {
        int large = len > ETLS_TLS_MAX_PLAINTEXT;
        if (large && p && p->big_out >= p->big_max) {
            p->big_refused++;
            return ALERT(INTERNAL_ERROR);
        }
        hs->big = malloc(len);
        ETLS_ENSURE(hs->big, ALERT(INTERNAL_ERROR));
        hs->big_counted = (uint8_t)(large && p);
        if (hs->big_counted)
            p->big_out++;
    }
    *dst = hs->big;
    return 0;
}

/* A ClientHello holds nothing secret (the wire carries it in the clear): freed, not wiped. */
static void msg_buf_put(etls_tls_hs_pool_t *p, etls_tls_hs_t *hs)
{
    if (hs->big_counted)
        p->big_out--;
    free(hs->big);
    hs->big = NULL;
    hs->big_counted = 0;
}

void etls_tls_msg_buf_put(etls_tls_conn_t *c)
{
    if (c->hs)
        msg_buf_put(c->env->hs_pool, c->hs);
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
    msg_buf_put(p, hs);
    etls_pkey_free(hs->peer_key); /* a client leaf's key between Certificate and CertificateVerify */
    etls_wipe(hs, sizeof *hs); /* secrets: key schedule, ephemeral key, shared secret */
    if (p)
        p->in_use--;
    if (from_pool(p, hs))
        p->free[p->n_free++] = hs;
    else
        free(hs);
}
