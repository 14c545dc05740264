/* The snapshot codec (codec.h): bounded decoding, growable encoding, message framing. */
#include "snapshot/codec.h"

#include "common/ct.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

uint32_t etls_snap_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t etls_snap_get_u64(const uint8_t *p)
{
    return (uint64_t)etls_snap_get_u32(p) << 32 | etls_snap_get_u32(p + 4);
}

static int need(const etls_snap_reader_t *r, size_t n)
{
    return (size_t)(r->end - r->p) >= n;
}

int etls_snap_decode(etls_snap_reader_t *r, etls_snap_hdr_t *h, const uint8_t *buf, size_t len,
                     char *err, size_t errlen)
{
    memset(h, 0, sizeof *h);
    r->p = buf;
    r->end = buf + len;
    r->left = 0;
    if (need(r, 4 + 8) && memcmp(buf, "ESD1", 4) == 0) {
        h->is_delta = 1;
        h->base = etls_snap_get_u64(buf + 4);
        r->p += 8; /* the rest is laid out as a full snapshot's, from the version on */
    } else if (!need(r, 4) || memcmp(buf, "ESN1", 4) != 0) {
        return fail(err, errlen, "snapshot: bad magic or truncated header");
    }
    r->p += 4;
    if (!need(r, 8 + 4 + 1))
        return fail(err, errlen, "snapshot: truncated header");
    h->version = etls_snap_get_u64(r->p);
    h->ticket_lifetime = etls_snap_get_u32(r->p + 8);
    h->n_tickets = r->p[12];
    r->p += 13;
    if (h->n_tickets > ETLS_SNAP_MAX_TICKETS)
        return fail(err, errlen, "snapshot: %u ticket keys (at most %u)", h->n_tickets, ETLS_SNAP_MAX_TICKETS);
    for (unsigned i = 0; i < h->n_tickets; i++) {
        if (!need(r, 1 + ETLS_SNAP_KEY_LEN))
            return fail(err, errlen, "snapshot: truncated ticket keys");
        h->ticket_flags[i] = r->p[0];
        h->tickets[i] = r->p + 1;
        r->p += 1 + ETLS_SNAP_KEY_LEN;
    }
    if (h->is_delta) {
        if (!need(r, 4))
            return fail(err, errlen, "snapshot delta: truncated removal count");
        h->n_removed = etls_snap_get_u32(r->p);
        r->p += 4;
        if (h->n_removed > ETLS_SNAP_MAX_ENTRIES)
            return fail(err, errlen, "snapshot delta: %u removals (at most %u)", h->n_removed, ETLS_SNAP_MAX_ENTRIES);
        h->removed = r->p;
        for (uint32_t i = 0; i < h->n_removed; i++) {
            if (!need(r, 1) || !r->p[0] || !need(r, 1u + r->p[0]))
                return fail(err, errlen, "snapshot delta: truncated removed name");
            r->p += 1 + r->p[0];
        }
        h->removed_len = (size_t)(r->p - h->removed);
    }
    if (!need(r, 4))
        return fail(err, errlen, "snapshot: truncated entry count");
    h->n_entries = etls_snap_get_u32(r->p);
    r->p += 4;
    if (h->n_entries > ETLS_SNAP_MAX_ENTRIES)
        return fail(err, errlen, "snapshot: %u entries (at most %u)", h->n_entries, ETLS_SNAP_MAX_ENTRIES);
    r->left = h->n_entries;
    return 0;
}

static int get_blob(etls_snap_reader_t *r, const uint8_t **p, uint32_t *len)
{
    if (!need(r, 4))
        return -1;
    uint32_t l = etls_snap_get_u32(r->p);
    r->p += 4;
    if (l == 0 || l > ETLS_SNAP_MAX_PEM || !need(r, l))
        return -1;
    *p = r->p;
    *len = l;
    r->p += l;
    return 0;
}

int etls_snap_next(etls_snap_reader_t *r, etls_snap_entry_in_t *e, char *err, size_t errlen)
{
    memset(e, 0, sizeof *e);
    if (!r->left)
        return r->p == r->end ? 0 : fail(err, errlen, "snapshot: trailing bytes after the last entry");
    r->left--;
    if (!need(r, 1) || !r->p[0] || !need(r, 1u + r->p[0] + 1 + 2))
        return fail(err, errlen, "snapshot: truncated entry name");
    e->name_len = r->p[0];
    e->name = (const char *)r->p + 1;
    r->p += 1 + e->name_len;
    e->is_default = r->p[0] & 1;
    e->n_names = (uint16_t)(r->p[1] << 8 | r->p[2]);
    r->p += 3;
    e->names = r->p;
    for (unsigned i = 0; i < e->n_names; i++) {
        if (!need(r, 1) || !r->p[0] || !need(r, 1u + r->p[0]))
            return fail(err, errlen, "snapshot: entry %.*s: truncated names", e->name_len, e->name);
        r->p += 1 + r->p[0];
    }
    e->names_len = (size_t)(r->p - e->names);
    if (!need(r, 1) || r->p[0] < 1 || r->p[0] > ETLS_SNAP_MAX_CERTS)
        return fail(err, errlen, "snapshot: entry %.*s: bad certificate count", e->name_len, e->name);
    e->n_certs = *r->p++;
    for (unsigned i = 0; i < e->n_certs; i++) {
        etls_snap_cert_in_t *c = &e->certs[i];
        if (get_blob(r, &c->chain, &c->chain_len) < 0 || get_blob(r, &c->key, &c->key_len) < 0)
            return fail(err, errlen, "snapshot: entry %.*s: truncated certificate", e->name_len, e->name);
    }
    return 1;
}

/* ---- encoding -------------------------------------------------------------------------- */

void etls_snap_buf_free(etls_snap_buf_t *b)
{
    if (b->p)
        etls_wipe(b->p, b->cap);
    free(b->p);
    memset(b, 0, sizeof *b);
}

void etls_snap_put(etls_snap_buf_t *b, const void *data, size_t len)
{
    if (b->failed)
        return;
    if (len > ETLS_SNAP_MAX_FRAME || b->len + len > ETLS_SNAP_MAX_FRAME + 64) {
        b->failed = 1;
        return;
    }
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len)
            cap *= 2;
        /* Grow by copy, not realloc, so the old block (which may hold keys) is wiped. */
        uint8_t *p = malloc(cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        if (b->len)
            memcpy(p, b->p, b->len);
        if (b->p)
            etls_wipe(b->p, b->cap);
        free(b->p);
        b->p = p;
        b->cap = cap;
    }
    if (len)
        memcpy(b->p + b->len, data, len);
    b->len += len;
}

void etls_snap_put_u8(etls_snap_buf_t *b, uint8_t v) { etls_snap_put(b, &v, 1); }

void etls_snap_put_u16(etls_snap_buf_t *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    etls_snap_put(b, x, 2);
}

void etls_snap_put_u32(etls_snap_buf_t *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    etls_snap_put(b, x, 4);
}

void etls_snap_put_u64(etls_snap_buf_t *b, uint64_t v)
{
    etls_snap_put_u32(b, (uint32_t)(v >> 32));
    etls_snap_put_u32(b, (uint32_t)v);
}

static void put_tickets(etls_snap_buf_t *b, uint64_t version, uint32_t ticket_lifetime,
                        const uint8_t (*tickets)[ETLS_SNAP_KEY_LEN], const uint8_t *ticket_flags,
                        size_t n_tickets)
{
    if (n_tickets > ETLS_SNAP_MAX_TICKETS)
        b->failed = 1;
    etls_snap_put_u64(b, version);
    etls_snap_put_u32(b, ticket_lifetime);
    etls_snap_put_u8(b, (uint8_t)n_tickets);
    for (size_t i = 0; i < n_tickets && !b->failed; i++) {
        etls_snap_put_u8(b, ticket_flags ? ticket_flags[i] : 0);
        etls_snap_put(b, tickets[i], ETLS_SNAP_KEY_LEN);
    }
}

static void put_count(etls_snap_buf_t *b)
{
    b->mark = b->len;
    b->count = 0;
    etls_snap_put_u32(b, 0);
}

void etls_snap_enc_begin(etls_snap_buf_t *b, uint64_t version, uint32_t ticket_lifetime,
                         const uint8_t (*tickets)[ETLS_SNAP_KEY_LEN], const uint8_t *ticket_flags,
                         size_t n_tickets)
{
    etls_snap_put(b, "ESN1", 4);
    put_tickets(b, version, ticket_lifetime, tickets, ticket_flags, n_tickets);
    put_count(b);
}

void etls_snap_enc_begin_delta(etls_snap_buf_t *b, uint64_t base, uint64_t version, uint32_t ticket_lifetime,
                               const uint8_t (*tickets)[ETLS_SNAP_KEY_LEN], const uint8_t *ticket_flags,
                               size_t n_tickets, const char *const *removed, size_t n_removed)
{
    etls_snap_put(b, "ESD1", 4);
    etls_snap_put_u64(b, base);
    put_tickets(b, version, ticket_lifetime, tickets, ticket_flags, n_tickets);
    if (n_removed > ETLS_SNAP_MAX_ENTRIES)
        b->failed = 1;
    etls_snap_put_u32(b, (uint32_t)n_removed);
    for (size_t i = 0; i < n_removed && !b->failed; i++) {
        size_t l = strlen(removed[i]);
        if (!l || l > 255)
            b->failed = 1;
        etls_snap_put_u8(b, (uint8_t)l);
        etls_snap_put(b, removed[i], l);
    }
    put_count(b);
}

void etls_snap_enc_entry(etls_snap_buf_t *b, const char *name, int is_default,
                         const char *const *names, size_t n_names, const etls_snap_cert_in_t *certs,
                         size_t n_certs)
{
    size_t nl = strlen(name);
    if (!nl || nl > 255 || n_names > 0xffff || !n_certs || n_certs > ETLS_SNAP_MAX_CERTS ||
        b->count >= ETLS_SNAP_MAX_ENTRIES) {
        b->failed = 1;
        return;
    }
    etls_snap_put_u8(b, (uint8_t)nl);
    etls_snap_put(b, name, nl);
    etls_snap_put_u8(b, is_default ? 1 : 0);
    etls_snap_put_u16(b, (uint16_t)n_names);
    for (size_t i = 0; i < n_names; i++) {
        size_t l = strlen(names[i]);
        if (!l || l > 255) {
            b->failed = 1;
            return;
        }
        etls_snap_put_u8(b, (uint8_t)l);
        etls_snap_put(b, names[i], l);
    }
    etls_snap_put_u8(b, (uint8_t)n_certs);
    for (size_t i = 0; i < n_certs; i++) {
        if (!certs[i].chain_len || certs[i].chain_len > ETLS_SNAP_MAX_PEM || !certs[i].key_len ||
            certs[i].key_len > ETLS_SNAP_MAX_PEM) {
            b->failed = 1;
            return;
        }
        etls_snap_put_u32(b, certs[i].chain_len);
        etls_snap_put(b, certs[i].chain, certs[i].chain_len);
        etls_snap_put_u32(b, certs[i].key_len);
        etls_snap_put(b, certs[i].key, certs[i].key_len);
    }
    b->count++;
}

int etls_snap_enc_end(etls_snap_buf_t *b)
{
    if (b->failed || b->mark + 4 > b->len)
        return -1;
    uint8_t *p = b->p + b->mark;
    p[0] = (uint8_t)(b->count >> 24);
    p[1] = (uint8_t)(b->count >> 16);
    p[2] = (uint8_t)(b->count >> 8);
    p[3] = (uint8_t)b->count;
    return 0;
}

void etls_snap_frame(etls_snap_buf_t *b, uint8_t type, const void *payload, size_t len)
{
    if (len + 1 > ETLS_SNAP_MAX_FRAME) {
        b->failed = 1;
        return;
    }
    etls_snap_put_u32(b, (uint32_t)(len + 1));
    etls_snap_put_u8(b, type);
    etls_snap_put(b, payload, len);
}

int etls_snap_unframe(const uint8_t *buf, size_t len, uint8_t *type, const uint8_t **payload,
                      size_t *plen, size_t *used)
{
    if (len < 4)
        return 0;
    uint32_t l = etls_snap_get_u32(buf);
    if (l < 1 || l > ETLS_SNAP_MAX_FRAME)
        return -1;
    if (len - 4 < l)
        return 0;
    *type = buf[4];
    *payload = buf + 5;
    *plen = l - 1;
    *used = 4 + (size_t)l;
    return 1;
}
