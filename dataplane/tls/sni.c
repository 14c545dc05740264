/* SNI lookup in constant expected time (tls.h: etls_tls_sni_index_t).
 *
 * Why open addressing with the hash in the slot: a lookup touches one cache line of slots in the
 * common case and compares a name only on a full 32-bit hash match, so 100,000 certificates cost
 * what one does. The tables are written only while a context is built (main or the ctl thread)
 * and are read-only once workers see the context. */
#include "tls/tls_internal.h"

#include <stdlib.h>

#define SNI_MIN_CAP 16u
#define SNI_MAX_CAP (1u << 24) /* 16M slots: far above ETLS_TLS_MAX_CERTS' names */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* A keyed hash of a lower-case name, 8 bytes per step. Never 0 (0 marks an empty slot). */
uint32_t etls_sni_hash(uint64_t seed, const char *p, size_t len)
{
    uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ull);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = mix64(h ^ w);
        p += 8;
        len -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, len);
    h = mix64(h ^ w ^ 0x5bd1e995u);
    uint32_t r = (uint32_t)(h ^ (h >> 32));
    return r ? r : 1;
}

static void place(etls_tls_sni_table_t *t, etls_tls_sni_slot_t s)
{
    uint32_t i = s.hash & t->mask;
    while (t->slots[i].hash)
        i = (i + 1) & t->mask;
    t->slots[i] = s;
    t->used++;
}

/* Grows t to hold `want` slots at a load of at most one half. */
static int table_reserve(etls_tls_sni_table_t *t, size_t want)
{
    size_t cap = t->slots ? (size_t)t->mask + 1 : 0;
    if (want * 2 <= cap)
        return 0;
    size_t ncap = cap ? cap : SNI_MIN_CAP;
    while (ncap < want * 2)
        ncap *= 2;
    ETLS_ENSURE(ncap <= SNI_MAX_CAP, ETLS_ERR_LIMIT);
    etls_tls_sni_slot_t *old = t->slots;
    t->slots = calloc(ncap, sizeof *t->slots);
    if (!t->slots) {
        t->slots = old;
        return ETLS_ERR_NOMEM;
    }
    t->mask = (uint32_t)(ncap - 1);
    t->used = 0;
    for (size_t i = 0; i < cap; i++)
        if (old[i].hash)
            place(t, old[i]);
    free(old);
    return 0;
}

static void table_free(etls_tls_sni_table_t *t)
{
    free(t->slots);
    memset(t, 0, sizeof *t);
}

int etls_sni_reserve(etls_tls_sni_index_t *x, size_t n_names)
{
    ETLS_GUARD(table_reserve(&x->exact, n_names));
    return table_reserve(&x->wild, n_names / 8 + 1);
}

void etls_sni_free(etls_tls_sni_index_t *x)
{
    table_free(&x->exact);
    table_free(&x->wild);
    x->n_defaults = x->n_firsts = 0;
}

/* Indexes certs[idx] (already in ctx->certs): each of its names, its default mark, its scheme. */
int etls_sni_add(etls_tls_server_ctx_t *ctx, uint32_t idx)
{
    etls_tls_sni_index_t *x = &ctx->sni;
    const etls_tls_cert_t *cert = ctx->certs[idx];
    for (size_t off = 0; cert->names[off]; off += strlen(cert->names + off) + 1) {
        const char *n = cert->names + off;
        size_t len = strlen(n);
        int wild = len > 2 && n[0] == '*' && n[1] == '.';
        etls_tls_sni_table_t *t = wild ? &x->wild : &x->exact;
        /* wildcards are keyed by ".rest", what a client name holds from its first dot on */
        size_t koff = off + (wild ? 1 : 0), klen = len - (wild ? 1 : 0);
        ETLS_GUARD(table_reserve(t, (size_t)t->used + 1));
        place(t, (etls_tls_sni_slot_t){etls_sni_hash(x->seed, cert->names + koff, klen), idx, (uint16_t)koff,
                                       (uint16_t)klen});
    }
    if (cert->is_default && x->n_defaults < ETLS_TLS_SNI_FIRSTS)
        x->defaults[x->n_defaults++] = idx;
    int seen = 0;
    for (unsigned i = 0; i < x->n_firsts; i++)
        seen |= ctx->certs[x->firsts[i]]->scheme == cert->scheme;
    if (!seen && x->n_firsts < ETLS_TLS_SNI_FIRSTS)
        x->firsts[x->n_firsts++] = idx;
    return 0;
}

static int scheme_ok(uint16_t scheme, const uint16_t *schemes, size_t n)
{
    if (!schemes)
        return 1;
    for (size_t i = 0; i < n; i++)
        if (schemes[i] == scheme)
            return 1;
    return 0;
}

/* The earliest-added certificate holding key in t with an allowed scheme; -1 none. The whole
 * probe run is read, so the answer does not depend on where equal names landed. */
static int64_t lookup(const etls_tls_server_ctx_t *ctx, const etls_tls_sni_table_t *t, const char *key,
                      size_t len, const uint16_t *schemes, size_t n_schemes)
{
    if (!t->used)
        return -1;
    uint32_t h = etls_sni_hash(ctx->sni.seed, key, len);
    int64_t best = -1;
    for (uint32_t i = h & t->mask; t->slots[i].hash; i = (i + 1) & t->mask) {
        const etls_tls_sni_slot_t *s = &t->slots[i];
        if (s->hash != h || s->len != len || (best >= 0 && s->cert >= best))
            continue;
        const etls_tls_cert_t *c = ctx->certs[s->cert];
        if (!memcmp(c->names + s->off, key, len) && scheme_ok(c->scheme, schemes, n_schemes))
            best = s->cert;
    }
    return best;
}

const etls_tls_cert_t *etls_tls_select_cert(const etls_tls_server_ctx_t *ctx, const char *name,
                                            size_t name_len, const uint16_t *schemes,
                                            size_t n_schemes, int *by_name)
{
    const etls_tls_sni_index_t *x = &ctx->sni;
    *by_name = 0;
    if (name && name_len) {
        /* Tier 0: the exact name. Tier 1: a wildcard "*.rest" covering one non-empty label
         * (RFC 6125 §6.4.3 as browsers apply it). */
        int64_t i = lookup(ctx, &x->exact, name, name_len, schemes, n_schemes);
        const char *dot = memchr(name, '.', name_len);
        if (i < 0 && dot && dot != name)
            i = lookup(ctx, &x->wild, dot, name_len - (size_t)(dot - name), schemes, n_schemes);
        if (i >= 0) {
            *by_name = 1;
            return ctx->certs[i];
        }
    }
    /* Tier 2: the first default that fits; tier 3: the first added that fits. The short lists
     * hold every answer unless they overflowed, when a scan stands in. */
    for (unsigned k = 0; k < x->n_defaults; k++)
        if (scheme_ok(ctx->certs[x->defaults[k]]->scheme, schemes, n_schemes))
            return ctx->certs[x->defaults[k]];
    if (x->n_defaults == ETLS_TLS_SNI_FIRSTS)
        for (size_t i = 0; i < ctx->n_certs; i++)
            if (ctx->certs[i]->is_default && scheme_ok(ctx->certs[i]->scheme, schemes, n_schemes))
                return ctx->certs[i];
    for (unsigned k = 0; k < x->n_firsts; k++)
        if (scheme_ok(ctx->certs[x->firsts[k]]->scheme, schemes, n_schemes))
            return ctx->certs[x->firsts[k]];
    if (x->n_firsts == ETLS_TLS_SNI_FIRSTS)
        for (size_t i = 0; i < ctx->n_certs; i++)
            if (scheme_ok(ctx->certs[i]->scheme, schemes, n_schemes))
                return ctx->certs[i];
    return NULL;
}
