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

/* The table and key of the name at names + off: wildcards are keyed by ".rest", what a client
 * name holds from its first dot on. */
static etls_tls_sni_table_t *key_of(etls_tls_sni_index_t *x, const char *names, size_t off, size_t *koff,
                                    size_t *klen)
{
    const char *n = names + off;
    size_t len = strlen(n);
    int wild = len > 2 && n[0] == '*' && n[1] == '.';
    *koff = off + (wild ? 1 : 0);
    *klen = len - (wild ? 1 : 0);
    return wild ? &x->wild : &x->exact;
}

static int add_names(etls_tls_server_ctx_t *ctx, uint32_t idx)
{
    etls_tls_sni_index_t *x = &ctx->sni;
    const etls_tls_cert_t *cert = ctx->certs[idx];
    for (size_t off = 0; cert->names[off]; off += strlen(cert->names + off) + 1) {
        size_t koff, klen;
        etls_tls_sni_table_t *t = key_of(x, cert->names, off, &koff, &klen);
        ETLS_GUARD(table_reserve(t, (size_t)t->used + 1));
        place(t, (etls_tls_sni_slot_t){etls_sni_hash(x->seed, cert->names + koff, klen), idx, (uint16_t)koff,
                                       (uint16_t)klen});
    }
    return 0;
}

/* Linear probing's deletion: later members of the run that may live in the hole move back into
 * it, so every lookup still finds them (no tombstones). */
static void table_del(etls_tls_sni_table_t *t, uint32_t i)
{
    t->slots[i].hash = 0;
    t->used--;
    for (uint32_t j = (i + 1) & t->mask; t->slots[j].hash; j = (j + 1) & t->mask) {
        uint32_t home = t->slots[j].hash & t->mask;
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j); /* home in (i, j] */
        if (stays)
            continue;
        t->slots[i] = t->slots[j];
        t->slots[j].hash = 0;
        i = j;
    }
}

void etls_sni_del(etls_tls_server_ctx_t *ctx, uint32_t idx)
{
    etls_tls_sni_index_t *x = &ctx->sni;
    const etls_tls_cert_t *cert = ctx->certs[idx];
    for (size_t off = 0; cert->names[off]; off += strlen(cert->names + off) + 1) {
        size_t koff, klen;
        etls_tls_sni_table_t *t = key_of(x, cert->names, off, &koff, &klen);
        if (!t->used)
            continue;
        uint32_t h = etls_sni_hash(x->seed, cert->names + koff, klen);
        for (uint32_t i = h & t->mask; t->slots[i].hash; i = (i + 1) & t->mask)
            if (t->slots[i].hash == h && t->slots[i].cert == idx && t->slots[i].off == koff) {
                table_del(t, i);
                break;
            }
    }
}

static int table_copy(etls_tls_sni_table_t *dst, const etls_tls_sni_table_t *src)
{
    *dst = *src;
    if (!src->slots)
        return 0;
    dst->slots = malloc(((size_t)src->mask + 1) * sizeof *dst->slots);
    ETLS_ENSURE(dst->slots, ETLS_ERR_NOMEM);
    memcpy(dst->slots, src->slots, ((size_t)src->mask + 1) * sizeof *dst->slots);
    return 0;
}

int etls_sni_copy(etls_tls_sni_index_t *dst, const etls_tls_sni_index_t *src)
{
    etls_sni_free(dst);
    *dst = *src;
    dst->exact.slots = dst->wild.slots = NULL;
    if (table_copy(&dst->exact, &src->exact) < 0 || table_copy(&dst->wild, &src->wild) < 0) {
        etls_sni_free(dst);
        return ETLS_ERR_NOMEM;
    }
    return 0;
}

/* The no-match tiers' lists of certs[idx]: its default mark, the first of its scheme. */
static void add_lists(etls_tls_server_ctx_t *ctx, uint32_t idx)
{
    etls_tls_sni_index_t *x = &ctx->sni;
    const etls_tls_cert_t *cert = ctx->certs[idx];
    if (cert->is_default && x->n_defaults < ETLS_TLS_SNI_FIRSTS)
        x->defaults[x->n_defaults++] = idx;
    int seen = 0;
    for (unsigned i = 0; i < x->n_firsts; i++)
        seen |= ctx->certs[x->firsts[i]]->scheme == cert->scheme;
    if (!seen && x->n_firsts < ETLS_TLS_SNI_FIRSTS)
        x->firsts[x->n_firsts++] = idx;
}

/* Indexes certs[idx] (already in ctx->certs): each of its names, its default mark, its scheme. */
int etls_sni_add(etls_tls_server_ctx_t *ctx, uint32_t idx)
{
    ETLS_GUARD(add_names(ctx, idx));
    add_lists(ctx, idx);
    return 0;
}

int etls_sni_replace(etls_tls_server_ctx_t *ctx, uint32_t idx, etls_tls_cert_t *cert)
{
    const etls_tls_cert_t *old = ctx->certs[idx];
    etls_sni_del(ctx, idx);
    int lists = old->is_default || cert->is_default || old->scheme != cert->scheme;
    ctx->certs[idx] = cert;
    ETLS_GUARD(add_names(ctx, idx));
    if (lists) { /* the no-match tiers may change: rebuilt (a scan of the certificates) */
        ctx->sni.n_defaults = ctx->sni.n_firsts = 0;
        for (uint32_t i = 0; i < ctx->n_certs; i++)
            add_lists(ctx, i);
    }
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
