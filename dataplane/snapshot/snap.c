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
        if (etls_cert_chain_load_pem(&chain, e->certs[i].chain, e->certs[i].chain_len, why, sizeof why) < 0 ||
            etls_pkey_load_pem(&key, e->certs[i].key, e->certs[i].key_len, why, sizeof why) < 0) {
            etls_cert_chain_free(&chain);
            say(err, errlen, "entry %.*s: certificate %u: %s", e->name_len, e->name, i, why);
            return -1;
        }
        if (etls_tls_server_ctx_add_cert_names(ctx, &chain, key, e->n_names ? names : NULL, e->is_default,
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

etls_snap_t *etls_snap_build(const etls_tls_server_ctx_t *tmpl, const uint8_t *payload, size_t len,
                             char *err, size_t errlen)
{
    etls_snap_reader_t r;
    etls_snap_hdr_t h;
    etls_snap_entry_in_t e;
    if (etls_snap_decode(&r, &h, payload, len, err, errlen) < 0)
        return NULL;
    etls_snap_t *s = aligned_alloc(64, (sizeof *s + 63) / 64 * 64);
    if (!s) {
        say(err, errlen, "out of memory");
        return NULL;
    }
    memset(s, 0, sizeof *s);
    /* Settings by value; certificates and ticket keys are this snapshot's own. */
    s->tls = *tmpl;
    s->tls.certs = NULL;
    s->tls.n_certs = 0;
    s->tls.max_flight = 0;
    s->version = h.version;
    int rc;
    while ((rc = etls_snap_next(&r, &e, err, errlen)) == 1) {
        if (add_entry(&s->tls, &e, err, errlen) < 0) {
            rc = -1;
            break;
        }
        s->n_entries++;
    }
    if (rc == 0 && set_tickets(&s->tls, &h, err, errlen) < 0)
        rc = -1;
    if (rc == 0 && s->tls.max_flight > ETLS_SNAP_FLIGHT_RESERVE) {
        say(err, errlen, "a certificate chain is too large: its handshake flight needs %zu bytes (at most %u)",
            s->tls.max_flight, ETLS_SNAP_FLIGHT_RESERVE);
        rc = -1;
    }
    if (rc == 0 && !s->tls.n_certs) {
        say(err, errlen, "no certificates: a snapshot must hold at least one");
        rc = -1;
    }
    if (rc < 0) {
        etls_snap_free(s);
        return NULL;
    }
    s->tls.max_flight = ETLS_SNAP_FLIGHT_RESERVE;
    return s;
}

void etls_snap_free(etls_snap_t *s)
{
    if (!s)
        return;
    etls_tls_server_ctx_free(&s->tls);
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
