/* What the dataplanes are sent (dataplane/snapshot/codec.h): a whole snapshot of a state, or the
 * delta between two states — only the entries added or changed, and the names of those removed —
 * so a change of one entry among 100,000 costs one entry on the wire and in the dataplane. */
#include "daemon.h"

#include <stdlib.h>
#include <string.h>

/* The ticket keys a snapshot carries: every key not retired, the active one first. */
static size_t snap_tickets(const etls_store_state_t *st, uint8_t keys[][ETLS_SNAP_KEY_LEN], uint8_t *flags)
{
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < st->n_tickets && n < ETLS_SNAP_MAX_TICKETS; i++) {
            etls_ticket_state_t s = st->tickets[i].state;
            if (s == ETLS_TICKET_RETIRED || (pass == 0) != (s == ETLS_TICKET_ACTIVE))
                continue;
            memcpy(keys[n], st->tickets[i].key, ETLS_SNAP_KEY_LEN);
            flags[n++] = s == ETLS_TICKET_PENDING;
        }
    return n;
}

static void put_entry(etls_snap_buf_t *b, const etls_store_entry_t *e)
{
    etls_snap_cert_in_t certs[ETLS_SNAP_MAX_CERTS];
    size_t n = e->n_certs < ETLS_SNAP_MAX_CERTS ? e->n_certs : ETLS_SNAP_MAX_CERTS;
    for (size_t c = 0; c < n; c++)
        certs[c] = (etls_snap_cert_in_t){(const uint8_t *)e->certs[c].chain_pem, (uint32_t)e->certs[c].chain_len,
                                         (const uint8_t *)e->certs[c].key_pem, (uint32_t)e->certs[c].key_len};
    etls_snap_enc_entry(b, e->name, e->is_default, (const char *const *)e->names, e->n_names, certs, n);
}

int cd_snap_full(const cd_t *d, const etls_store_state_t *st, uint64_t version, etls_snap_buf_t *b)
{
    uint8_t keys[ETLS_SNAP_MAX_TICKETS][ETLS_SNAP_KEY_LEN], flags[ETLS_SNAP_MAX_TICKETS];
    size_t n = snap_tickets(st, keys, flags);
    etls_snap_enc_begin(b, version, d->ticket_rotation_s, (const uint8_t(*)[ETLS_SNAP_KEY_LEN])keys, flags, n);
    explicit_bzero(keys, sizeof keys);
    for (size_t i = 0; i < st->n_entries; i++)
        put_entry(b, &st->entries[i]);
    return etls_snap_enc_end(b);
}

static int same_bytes(const char *a, size_t al, const char *b, size_t bl)
{
    return al == bl && (a == b || !memcmp(a, b, al)); /* shared buffers compare by address */
}

static int same_entry(const etls_store_entry_t *a, const etls_store_entry_t *b)
{
    if (a->is_default != b->is_default || a->n_names != b->n_names || a->n_certs != b->n_certs)
        return 0;
    for (size_t i = 0; i < a->n_names; i++)
        if (strcmp(a->names[i], b->names[i]))
            return 0;
    for (size_t i = 0; i < a->n_certs; i++)
        if (!same_bytes(a->certs[i].chain_pem, a->certs[i].chain_len, b->certs[i].chain_pem, b->certs[i].chain_len) ||
            !same_bytes(a->certs[i].key_pem, a->certs[i].key_len, b->certs[i].key_pem, b->certs[i].key_len))
            return 0;
    return 1;
}

/* Entry name -> index of old's entries, open addressing (single-threaded daemon, short-lived). */
typedef struct {
    int64_t *slot; /* index + 1; 0 empty */
    size_t mask;
} index_t;

static int index_build(index_t *x, const etls_store_state_t *st)
{
    size_t cap = 16;
    while (cap < st->n_entries * 2)
        cap *= 2;
    x->slot = calloc(cap, sizeof *x->slot);
    x->mask = cap - 1;
    if (!x->slot)
        return -1;
    for (size_t i = 0; i < st->n_entries; i++) {
        size_t k = cd_hash_str(st->entries[i].name) & x->mask;
        while (x->slot[k])
            k = (k + 1) & x->mask;
        x->slot[k] = (int64_t)i + 1;
    }
    return 0;
}

static int64_t index_find(const index_t *x, const etls_store_state_t *st, const char *name)
{
    for (size_t k = cd_hash_str(name) & x->mask; x->slot[k]; k = (k + 1) & x->mask)
        if (!strcmp(st->entries[x->slot[k] - 1].name, name))
            return x->slot[k] - 1;
    return -1;
}

/* Number of entries changed or removed, -1 on allocation failure, -2 when only a whole snapshot
 * says it (see the order rule below). */
long cd_snap_delta(const cd_t *d, const etls_store_state_t *old, const etls_store_state_t *next,
                   uint64_t version, etls_snap_buf_t *b)
{
    index_t x;
    if (index_build(&x, old) < 0)
        return -1;
    uint8_t *kept = calloc(old->n_entries + 1, 1);
    const char **removed = calloc(old->n_entries + 1, sizeof *removed);
    size_t *changed = calloc(next->n_entries + 1, sizeof *changed);
    long n_changed = -1;
    if (!kept || !removed || !changed)
        goto out;
    size_t n_ch = 0, n_rm = 0;
    int64_t last = -1;
    int added = 0;
    for (size_t i = 0; i < next->n_entries; i++) {
        int64_t o = index_find(&x, old, next->entries[i].name);
        /* A delta keeps the base's order and appends: a state in another order (a rollback
         * re-adding entries before others) needs a whole snapshot, or dataplanes would disagree
         * on which certificate comes first (the default when none is marked). */
        if (o >= 0 && (o < last || added)) {
            n_changed = -2;
            goto out;
        }
        if (o >= 0) {
            kept[o] = 1;
            last = o;
        } else {
            added = 1;
        }
        if (o < 0 || !same_entry(&old->entries[o], &next->entries[i]))
            changed[n_ch++] = i;
    }
    for (size_t i = 0; i < old->n_entries; i++)
        if (!kept[i])
            removed[n_rm++] = old->entries[i].name;
    uint8_t keys[ETLS_SNAP_MAX_TICKETS][ETLS_SNAP_KEY_LEN], flags[ETLS_SNAP_MAX_TICKETS];
    size_t nt = snap_tickets(next, keys, flags);
    etls_snap_enc_begin_delta(b, old->version, version, d->ticket_rotation_s,
                              (const uint8_t(*)[ETLS_SNAP_KEY_LEN])keys, flags, nt, removed, n_rm);
    explicit_bzero(keys, sizeof keys);
    for (size_t i = 0; i < n_ch; i++)
        put_entry(b, &next->entries[changed[i]]);
    if (etls_snap_enc_end(b) == 0)
        n_changed = (long)(n_ch + n_rm);
out:
    free(x.slot);
    free(kept);
    free(removed);
    free(changed);
    return n_changed;
}

long cd_snap_delta_one(const cd_t *d, const etls_store_entry_t *e, uint64_t version, etls_snap_buf_t *b)
{
    uint8_t keys[ETLS_SNAP_MAX_TICKETS][ETLS_SNAP_KEY_LEN], flags[ETLS_SNAP_MAX_TICKETS];
    size_t nt = snap_tickets(&d->cur, keys, flags);
    etls_snap_enc_begin_delta(b, d->cur.version, version, d->ticket_rotation_s,
                              (const uint8_t(*)[ETLS_SNAP_KEY_LEN])keys, flags, nt, NULL, 0);
    explicit_bzero(keys, sizeof keys);
    put_entry(b, e);
    return etls_snap_enc_end(b) == 0 ? 1 : -1;
}

void cd_mark_changes(const etls_store_state_t *old, etls_store_state_t *next, uint64_t version)
{
    index_t x;
    int have = index_build(&x, old) == 0;
    for (size_t i = 0; i < next->n_entries; i++) {
        etls_store_entry_t *e = &next->entries[i];
        int64_t o = have ? index_find(&x, old, e->name) : -1;
        e->since = o >= 0 && same_entry(&old->entries[o], e) && old->entries[o].since ? old->entries[o].since : version;
    }
    free(x.slot);
}
