/* Building snapshots from the control plane's payload, publishing them, reclaiming old ones. */
#include "snapshot/snapshot.h"

#include "common/ct.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 3, 4))) static void say(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* The engine's "a\0b\0\0" name list from the wire's (len, bytes) list; NULL when empty (the
 * leaf's own names are served). */
static const char *names_list(const etls_snap_entry_in_t *e, char *buf, size_t cap)
{
    size_t n = 0;
    const uint8_t *p = e->names;
    for (unsigned i = 0; i < e->n_names; i++) {
        size_t l = p[0];
        if (n + l + 2 > cap)
            return NULL;
        memcpy(buf + n, p + 1, l);
        buf[n + l] = 0;
        n += l + 1;
        p += 1 + l;
    }
    buf[n] = 0;
    return e->n_names ? buf : NULL;
}

static int add_entry(etls_tls_server_ctx_t *ctx, const etls_snap_entry_in_t *e, char *err, size_t errlen)
{
    char names[ETLS_TLS_MAX_NAMES_LEN + 2], why[256];
    if (e->n_names && !names_list(e, names, sizeof names)) {
        say(err, errlen, "entry %.*s: names longer than %d bytes", e->name_len, e->name, ETLS_TLS_MAX_NAMES_LEN);
        return -1;
    }
    for (unsigned i = 0; i < e->n_certs; i++) {
        etls_cert_chain_t chain;
        etls_pkey_t *key = NULL;
        memset(&chain, 0, sizeof chain);
        if (etls_cert_chain_load_pem_validated(&chain, e->certs[i].chain, e->certs[i].chain_len, why, sizeof why) < 0 ||
            etls_pkey_load_pem(&key, e->certs[i].key, e->certs[i].key_len, why, sizeof why) < 0) {
            etls_cert_chain_free(&chain);
            say(err, errlen, "entry %.*s: certificate %u: %s", e->name_len, e->name, i, why);
            return -1;
        }
        char tag[256];
        snprintf(tag, sizeof tag, "%.*s", e->name_len, e->name);
        if (etls_tls_server_ctx_add_cert_tagged(ctx, &chain, key, e->n_names ? names : NULL, e->is_default, tag,
                                                why, sizeof why) < 0) {
            say(err, errlen, "entry %.*s: certificate %u: %s", e->name_len, e->name, i, why);
            return -1;
        }
    }
    return 0;
}

static int set_tickets(etls_tls_server_ctx_t *ctx, const etls_snap_hdr_t *h, char *err, size_t errlen)
{
    uint8_t keys[ETLS_TLS_MAX_TICKET_KEYS][ETLS_TLS_TICKET_KEY_LEN];
    size_t n = h->n_tickets < ETLS_TLS_MAX_TICKET_KEYS ? h->n_tickets : ETLS_TLS_MAX_TICKET_KEYS;
    /* The first key seals: a pending key may not be first. */
    if (!n || (!ctx->n_ticket_keys && !ctx->ticket_rotation_s))
        return 0; /* none pushed: the configuration's own keys; tickets off: stay off */
    if (n && (h->ticket_flags[0] & 1)) {
        say(err, errlen, "ticket keys: the first (sealing) key is still pending");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        memcpy(keys[i], h->tickets[i], ETLS_TLS_TICKET_KEY_LEN);
    int rc = etls_tls_server_ctx_set_ticket_key_set(ctx, (const uint8_t(*)[ETLS_TLS_TICKET_KEY_LEN])keys, n,
                                                    h->ticket_lifetime ? h->ticket_lifetime : 7200);
    etls_wipe(keys, sizeof keys);
    if (rc < 0)
        say(err, errlen, "ticket keys: lifetime %u s out of range", h->ticket_lifetime);
    return rc;
}

/* Entry names -> a value: the names a delta changes, and each snapshot's entry index. */
typedef etls_snap_names_t name_set_t;

static uint64_t name_hash(const char *p, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)p[i]) * 0x100000001b3ull;
    return h;
}

static int set_init(name_set_t *ns, size_t n)
{
    size_t cap = 16;
    while (cap < n * 2)
        cap *= 2;
    ns->slot = calloc(cap, sizeof *ns->slot);
    ns->mask = cap - 1;
    return ns->slot ? 0 : -1;
}

/* The slot of name: found (p set) or the empty one where it would go. */
static size_t set_find(const name_set_t *ns, const char *p, size_t len)
{
    size_t i = name_hash(p, len) & ns->mask;
    while (ns->slot[i].p && !(ns->slot[i].len == len && !memcmp(ns->slot[i].p, p, len)))
        i = (i + 1) & ns->mask;
    return i;
}

/* 0 added, 1 already there. */
static int set_add(name_set_t *ns, const char *p, size_t len, int32_t val)
{
    size_t i = set_find(ns, p, len);
    if (ns->slot[i].p)
        return 1;
    ns->slot[i].p = p;
    ns->slot[i].len = (uint8_t)len;
    ns->slot[i].val = val;
    return 0;
}

static etls_snap_t *snap_new(const etls_tls_server_ctx_t *tmpl, uint64_t version, char *err, size_t errlen)
{
    etls_snap_t *s = aligned_alloc(64, (sizeof *s + 63) / 64 * 64);
    if (!s) {
        say(err, errlen, "out of memory");
        return NULL;
    }
    memset(s, 0, sizeof *s);
    /* Settings by value; certificates and ticket keys are this snapshot's own. */
    etls_tls_server_ctx_copy_settings(&s->tls, tmpl);
    s->version = version;
    return s;
}

/* The checks every snapshot passes before it is published. */
static int snap_finish(etls_snap_t *s, const etls_snap_hdr_t *h, char *err, size_t errlen)
{
    if (set_tickets(&s->tls, h, err, errlen) < 0)
        return -1;
    if (s->tls.max_flight > ETLS_SNAP_FLIGHT_RESERVE) {
        say(err, errlen, "a certificate chain is too large: its handshake flight needs %zu bytes (at most %u)",
            s->tls.max_flight, ETLS_SNAP_FLIGHT_RESERVE);
        return -1;
    }
    if (!s->tls.n_certs) {
        say(err, errlen, "no certificates: a snapshot must hold at least one");
        return -1;
    }
    s->tls.max_flight = ETLS_SNAP_FLIGHT_RESERVE;
    return 0;
}

/* s->tags from its certificates: each entry's first one (an entry's certificates are adjacent). */
static int index_tags(etls_snap_t *s)
{
    free(s->tags.slot);
    if (set_init(&s->tags, s->n_entries + 1) < 0)
        return -1;
    const char *prev = NULL;
    for (size_t i = 0; i < s->tls.n_certs; i++) {
        const char *tag = s->tls.certs[i]->tag;
        if (tag && (!prev || strcmp(prev, tag)))
            set_add(&s->tags, tag, strlen(tag), (int32_t)i);
        prev = tag;
    }
    return 0;
}

static etls_snap_t *build_full(const etls_tls_server_ctx_t *tmpl, etls_snap_reader_t *r, const etls_snap_hdr_t *h,
                               char *err, size_t errlen)
{
    etls_snap_entry_in_t e;
    etls_snap_t *s = snap_new(tmpl, h->version, err, errlen);
    if (!s)
        return NULL;
    int rc = 1;
    if (etls_tls_server_ctx_reserve(&s->tls, h->n_entries, h->n_entries) < 0) {
        say(err, errlen, "out of memory");
        rc = -1;
    }
    while (rc == 1 && (rc = etls_snap_next(r, &e, err, errlen)) == 1) {
        if (add_entry(&s->tls, &e, err, errlen) < 0) {
            rc = -1;
            break;
        }
        s->n_entries++;
    }
    if (rc == 0 && index_tags(s) < 0) {
        say(err, errlen, "out of memory");
        rc = -1;
    }
    if (rc < 0 || snap_finish(s, h, err, errlen) < 0) {
        etls_snap_free(s);
        return NULL;
    }
    return s;
}

/* Appends every certificate of the staged entry `tag` (consecutive in staged). */
static int add_staged(etls_tls_server_ctx_t *dst, const etls_tls_server_ctx_t *staged, size_t *pos)
{
    const char *tag = staged->certs[*pos]->tag;
    while (*pos < staged->n_certs && !strcmp(staged->certs[*pos]->tag, tag))
        if (etls_tls_server_ctx_add_shared(dst, staged->certs[(*pos)++]) < 0)
            return -1;
    return 0;
}

/* The certificates of base's entry starting at certs[first]. */
static size_t base_run(const etls_snap_t *base, size_t first)
{
    const char *tag = base->tls.certs[first]->tag;
    size_t n = 1;
    while (first + n < base->tls.n_certs && !strcmp(base->tls.certs[first + n]->tag, tag))
        n++;
    return n;
}

/* The common delta: no entry removed, each entry either replacing one of base's with as many
 * certificates, or new. The new snapshot starts as a copy of base's certificate array and SNI
 * index (shared certificates, no parsing, no re-indexing of 100,000 names); a replaced
 * entry's certificates take the place of the old ones in it, new entries are appended. The
 * result is what the general path builds, in the same order. NULL with *fast = 0 when the
 * delta is not of this kind (the general path then runs); NULL with *fast = 1 on failure. */
static etls_snap_t *delta_fast(const etls_tls_server_ctx_t *tmpl, const etls_snap_t *base,
                               const etls_tls_server_ctx_t *staged, const size_t *first, int32_t n,
                               const etls_snap_hdr_t *h, int *fast, char *err, size_t errlen)
{
    *fast = 0;
    if (h->n_removed || !base->tags.slot || n < 0)
        return NULL;
    int32_t *at = malloc(((size_t)n + 1) * sizeof *at); /* base index of each entry, -1: new */
    if (!at)
        return NULL;
    size_t added = 0, added_entries = 0;
    for (int32_t v = 0; v < n; v++) {
        const char *tag = staged->certs[first[v]]->tag;
        size_t slot = set_find(&base->tags, tag, strlen(tag)), count = first[v + 1] - first[v];
        at[v] = base->tags.slot[slot].p ? base->tags.slot[slot].val : -1;
        if (at[v] >= 0 && base_run(base, (size_t)at[v]) != count) {
            free(at);
            return NULL; /* a different number of certificates: the general path */
        }
        if (at[v] < 0) {
            added += count;
            added_entries++;
        }
    }
    *fast = 1;
    etls_snap_t *s = snap_new(tmpl, h->version, err, errlen);
    int ok = s && etls_tls_server_ctx_share_all(&s->tls, &base->tls, added) == 0;
    for (int32_t v = 0; ok && v < n; v++)
        for (size_t k = 0; ok && at[v] >= 0 && k < first[v + 1] - first[v]; k++)
            ok = etls_tls_server_ctx_replace_shared(&s->tls, (size_t)at[v] + k, staged->certs[first[v] + k]) == 0;
    for (int32_t v = 0; ok && v < n; v++)
        for (size_t k = 0; ok && at[v] < 0 && k < first[v + 1] - first[v]; k++)
            ok = etls_tls_server_ctx_add_shared(&s->tls, staged->certs[first[v] + k]) == 0;
    if (ok) {
        s->n_entries = base->n_entries + added_entries;
        /* base's entry index, its names now pointing at the replacing certificates' tags */
        size_t cap = base->tags.mask + 1;
        if ((s->n_entries + 1) * 2 > cap) {
            ok = index_tags(s) == 0;
        } else if ((s->tags.slot = malloc(cap * sizeof *s->tags.slot))) {
            memcpy(s->tags.slot, base->tags.slot, cap * sizeof *s->tags.slot);
            s->tags.mask = base->tags.mask;
            for (int32_t v = 0; v < n; v++) {
                const char *tag = staged->certs[first[v]]->tag;
                size_t slot = set_find(&s->tags, tag, strlen(tag));
                if (at[v] >= 0)
                    s->tags.slot[slot].p = s->tls.certs[at[v]]->tag;
                else
                    set_add(&s->tags, s->tls.certs[s->tls.n_certs - added]->tag, strlen(tag),
                            (int32_t)(s->tls.n_certs - added));
                if (at[v] < 0)
                    added -= first[v + 1] - first[v];
            }
        } else {
            ok = 0;
        }
    }
    free(at);
    if (!ok) {
        if (s)
            say(err, errlen, "out of memory or too many certificates");
        etls_snap_free(s);
        return NULL;
    }
    if (snap_finish(s, h, err, errlen) < 0) {
        etls_snap_free(s);
        return NULL;
    }
    return s;
}

/* base + delta: the entries of the delta are parsed (into a staging context), every other
 * certificate is shared with base (one more reference, no copy and no parsing), and the order
 * stays that of the control plane's state: a replaced entry keeps its place. */
static etls_snap_t *build_delta(const etls_tls_server_ctx_t *tmpl, const etls_snap_t *base, etls_snap_reader_t *r,
                                const etls_snap_hdr_t *h, char *err, size_t errlen)
{
    if (!base || base->version != h->base) {
        say(err, errlen, "delta from version %llu, but this dataplane serves version %llu",
            (unsigned long long)h->base, (unsigned long long)(base ? base->version : 0));
        return NULL;
    }
    etls_tls_server_ctx_t staged;
    etls_tls_server_ctx_copy_settings(&staged, tmpl);
    name_set_t changed = {0};
    etls_snap_t *s = NULL;
    int rc = -1;
    size_t *first = NULL; /* staged index of each delta entry's first certificate */
    if (set_init(&changed, (size_t)h->n_removed + h->n_entries) < 0 ||
        !(first = calloc((size_t)h->n_entries + 1, sizeof *first))) {
        say(err, errlen, "out of memory");
        goto out;
    }
    /* value -1: removed; i >= 0: replaced or added by delta entry i */
    const uint8_t *q = h->removed;
    for (uint32_t i = 0; i < h->n_removed; i++, q += 1 + q[0])
        if (set_add(&changed, (const char *)q + 1, q[0], -1)) {
            say(err, errlen, "delta: entry %.*s removed twice", q[0], q + 1);
            goto out;
        }
    etls_snap_entry_in_t e;
    int32_t n = 0;
    while ((rc = etls_snap_next(r, &e, err, errlen)) == 1) {
        if (set_add(&changed, e.name, e.name_len, n)) {
            say(err, errlen, "delta: entry %.*s removed and added, or added twice", e.name_len, e.name);
            rc = -1;
            break;
        }
        first[n++] = staged.n_certs;
        if ((rc = add_entry(&staged, &e, err, errlen)) < 0)
            break;
    }
    if (rc < 0)
        goto out;
    rc = -1;
    first[n] = staged.n_certs;
    int fast;
    if ((s = delta_fast(tmpl, base, &staged, first, n, h, &fast, err, errlen)) || fast) {
        rc = s ? 0 : -1;
        goto out;
    }
    if (!(s = snap_new(tmpl, h->version, err, errlen)))
        goto out;
    if (etls_tls_server_ctx_reserve(&s->tls, base->tls.n_certs + staged.n_certs,
                                    base->tls.sni.exact.used + staged.sni.exact.used) < 0) {
        say(err, errlen, "out of memory");
        goto out;
    }
    uint8_t *done = calloc((size_t)n + 1, 1); /* delta entries already placed */
    size_t removed = 0;
    const char *prev = NULL;
    int ok = done != NULL;
    for (size_t i = 0; ok && i < base->tls.n_certs; i++) {
        etls_tls_cert_t *c = base->tls.certs[i];
        int new_entry = !prev || strcmp(prev, c->tag);
        prev = c->tag;
        size_t slot = set_find(&changed, c->tag, strlen(c->tag));
        if (!changed.slot[slot].p) {
            ok = etls_tls_server_ctx_add_shared(&s->tls, c) == 0;
            s->n_entries += new_entry;
            continue;
        }
        int32_t v = changed.slot[slot].val;
        removed += new_entry && v < 0;
        if (v >= 0 && !done[v]) {
            done[v] = 1;
            size_t pos = first[v];
            ok = add_staged(&s->tls, &staged, &pos) == 0;
            s->n_entries++;
        }
    }
    for (int32_t v = 0; ok && v < n; v++)
        if (!done[v]) {
            size_t pos = first[v];
            ok = add_staged(&s->tls, &staged, &pos) == 0;
            s->n_entries++;
        }
    free(done);
    if (!ok) {
        say(err, errlen, "out of memory or too many certificates");
        goto out;
    }
    if (removed != h->n_removed) {
        say(err, errlen, "delta: removes %u entries, version %llu holds %zu of them", h->n_removed,
            (unsigned long long)base->version, removed);
        goto out;
    }
    rc = index_tags(s) < 0 ? (say(err, errlen, "out of memory"), -1) : snap_finish(s, h, err, errlen);
out:
    etls_tls_server_ctx_free(&staged); /* the new snapshot holds its own references */
    free(changed.slot);
    free(first);
    if (rc < 0) {
        etls_snap_free(s);
        return NULL;
    }
    return s;
}

etls_snap_t *etls_snap_build(const etls_tls_server_ctx_t *tmpl, const etls_snap_t *base, const uint8_t *payload,
                             size_t len, char *err, size_t errlen)
{
    etls_snap_reader_t r;
    etls_snap_hdr_t h;
    if (etls_snap_decode(&r, &h, payload, len, err, errlen) < 0)
        return NULL;
    return h.is_delta ? build_delta(tmpl, base, &r, &h, err, errlen) : build_full(tmpl, &r, &h, err, errlen);
}

void etls_snap_free(etls_snap_t *s)
{
    if (!s)
        return;
    etls_tls_server_ctx_free(&s->tls);
    free(s->tags.slot);
    etls_wipe(s, sizeof *s);
    free(s);
}

void etls_snap_publish(etls_snap_pub_t *pub, etls_snap_t *s)
{
    etls_snap_t *old = atomic_load_explicit(&pub->current, memory_order_relaxed);
    s->seq = ++pub->next_seq;
    atomic_store_explicit(&pub->current, s, memory_order_release);
    if (old) {
        old->next_retired = pub->retired;
        pub->retired = old;
    }
}

uint64_t etls_snap_min_adopted(const etls_snap_pub_t *pub)
{
    uint64_t m = UINT64_MAX;
    for (unsigned w = 0; w < pub->n_workers; w++) {
        uint64_t v = atomic_load_explicit(&pub->adopted[w], memory_order_acquire);
        if (v < m)
            m = v;
    }
    return pub->n_workers ? m : 0;
}

/* A retired snapshot is unused once every worker serves a newer version (so no new session can
 * start on it: the adoption store follows every increment on that worker) and no session that
 * started on it is left. */
static int unused(const etls_snap_pub_t *pub, etls_snap_t *s)
{
    if (etls_snap_min_adopted(pub) <= s->seq)
        return 0;
    for (unsigned w = 0; w < pub->n_workers; w++)
        if (atomic_load_explicit(&s->users[w], memory_order_acquire))
            return 0;
    return 1;
}

size_t etls_snap_reclaim(etls_snap_pub_t *pub)
{
    size_t left = 0;
    for (etls_snap_t **pp = &pub->retired; *pp;) {
        etls_snap_t *s = *pp;
        if (unused(pub, s)) {
            *pp = s->next_retired;
            etls_snap_free(s);
        } else {
            pp = &s->next_retired;
            left++;
        }
    }
    return left;
}

void etls_snap_pub_free(etls_snap_pub_t *pub)
{
    while (pub->retired) {
        etls_snap_t *s = pub->retired;
        pub->retired = s->next_retired;
        etls_snap_free(s);
    }
    etls_snap_free(atomic_load_explicit(&pub->current, memory_order_relaxed));
    atomic_store_explicit(&pub->current, NULL, memory_order_relaxed);
}
