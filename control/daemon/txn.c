/* Transactions on the admin socket (docs/control-protocol.md: begin / commit / abort): changes
 * staged in a private copy of the state, validated one by one as they come, committed as one
 * version. Loading 100,000 certificates is one transaction, so every per-change step here is
 * O(1) expected: entry names and served names are found through hash indexes over the staged
 * state, not by scanning it.
 *
 * The indexes hold entry indexes and compare against the staged state's current strings, so an
 * entry whose names change only needs its new names inserted: an older slot for the same entry
 * still answers correctly for any name the entry serves now, and misses otherwise. A removal
 * frees the entry in place and leaves it as a tombstone (an empty name, which no valid entry
 * name equals, and no served names), so entry indexes never shift while the transaction is
 * open; cd_txn_take squeezes the tombstones out once, at commit. */
#include "daemon.h"

#include <stdlib.h>
#include <string.h>

typedef struct slot {
    uint32_t hash; /* 0: empty */
    uint32_t entry;
    uint16_t name; /* for the served-names index: which of the entry's names */
} slot_t;

typedef struct index {
    slot_t *s;
    size_t mask, used;
} index_t;

struct cd_txn {
    etls_store_state_t st;
    uint64_t base;  /* the version the transaction started from */
    size_t changes;
    size_t dead;    /* tombstones in st (removed entries) */
    uint64_t bytes; /* PEM bytes staged (a bound on the memory a transaction can pin) */
    index_t entries, names;
};

static int is_dead(const etls_store_entry_t *e) { return !e->name[0]; }

static uint32_t hash_str(const char *s)
{
    uint64_t h = cd_hash_str(s);
    uint32_t r = (uint32_t)(h ^ (h >> 32));
    return r ? r : 1; /* 0 marks an empty slot */
}

static int index_init(index_t *x, size_t want)
{
    size_t cap = 64;
    while (cap < want * 2)
        cap *= 2;
    free(x->s);
    x->s = calloc(cap, sizeof *x->s);
    x->mask = cap - 1;
    x->used = 0;
    return x->s ? 0 : -1;
}

static void index_put(index_t *x, uint32_t hash, uint32_t entry, uint16_t name)
{
    size_t i = hash & x->mask;
    while (x->s[i].hash)
        i = (i + 1) & x->mask;
    x->s[i] = (slot_t){hash, entry, name};
    x->used++;
}

static int reindex(cd_txn_t *t, size_t extra)
{
    size_t n_names = 0;
    for (size_t i = 0; i < t->st.n_entries; i++)
        n_names += t->st.entries[i].n_names;
    if (index_init(&t->entries, t->st.n_entries + extra) < 0 || index_init(&t->names, n_names + extra) < 0)
        return -1;
    for (size_t i = 0; i < t->st.n_entries; i++) {
        const etls_store_entry_t *e = &t->st.entries[i];
        if (is_dead(e))
            continue;
        index_put(&t->entries, hash_str(e->name), (uint32_t)i, 0);
        for (size_t k = 0; k < e->n_names; k++)
            index_put(&t->names, hash_str(e->names[k]), (uint32_t)i, (uint16_t)k);
    }
    return 0;
}

/* Room for one more entry with n names at a load of at most one half. */
static int room(cd_txn_t *t, size_t n)
{
    if ((t->entries.used + 1) * 2 <= t->entries.mask + 1 && (t->names.used + n) * 2 <= t->names.mask + 1)
        return 0;
    return reindex(t, t->st.n_entries + n + 64);
}

cd_txn_t *cd_txn_begin(const cd_t *d)
{
    cd_txn_t *t = calloc(1, sizeof *t);
    if (!t || etls_store_state_copy(&t->st, &d->cur) < 0 || reindex(t, 1024) < 0) {
        cd_txn_free(t);
        return NULL;
    }
    t->base = d->cur.version;
    return t;
}

void cd_txn_free(cd_txn_t *t)
{
    if (!t)
        return;
    etls_store_state_free(&t->st);
    free(t->entries.s);
    free(t->names.s);
    free(t);
}

etls_store_state_t *cd_txn_state(cd_txn_t *t) { return &t->st; }
uint64_t cd_txn_base(const cd_txn_t *t) { return t->base; }
size_t cd_txn_changes(const cd_txn_t *t) { return t->changes; }
uint64_t cd_txn_bytes(const cd_txn_t *t) { return t->bytes; }
size_t cd_txn_entries(const cd_txn_t *t) { return t->st.n_entries - t->dead; }
void cd_txn_note(cd_txn_t *t) { t->changes++; }

etls_store_entry_t *cd_txn_find(cd_txn_t *t, const char *name)
{
    uint32_t h = hash_str(name);
    for (size_t i = h & t->entries.mask; t->entries.s[i].hash; i = (i + 1) & t->entries.mask) {
        const slot_t *s = &t->entries.s[i];
        if (s->hash == h && s->entry < t->st.n_entries && !strcmp(t->st.entries[s->entry].name, name))
            return &t->st.entries[s->entry];
    }
    return NULL;
}

const char *cd_txn_claimed(cd_txn_t *t, const char *self, char *const *names, size_t n, const char **which)
{
    for (size_t m = 0; m < n; m++) {
        uint32_t h = hash_str(names[m]);
        for (size_t i = h & t->names.mask; t->names.s[i].hash; i = (i + 1) & t->names.mask) {
            const slot_t *s = &t->names.s[i];
            if (s->hash != h || s->entry >= t->st.n_entries)
                continue;
            const etls_store_entry_t *e = &t->st.entries[s->entry];
            if (s->name < e->n_names && !strcmp(e->names[s->name], names[m]) && strcmp(e->name, self)) {
                *which = names[m];
                return e->name;
            }
        }
    }
    return NULL;
}

int cd_txn_changed(cd_txn_t *t, const char *entry, size_t bytes)
{
    etls_store_entry_t *e = cd_txn_find(t, entry);
    t->changes++;
    t->bytes += bytes;
    if (!e) { /* added: the last entry */
        if (!t->st.n_entries || strcmp(t->st.entries[t->st.n_entries - 1].name, entry))
            return reindex(t, 1024);
        e = &t->st.entries[t->st.n_entries - 1];
        if (room(t, e->n_names) < 0)
            return -1;
        if (cd_txn_find(t, entry)) /* room() rebuilt the index with it */
            return 0;
        index_put(&t->entries, hash_str(e->name), (uint32_t)(t->st.n_entries - 1), 0);
    } else if (room(t, e->n_names) < 0) {
        return -1;
    } else {
        e = cd_txn_find(t, entry); /* room() may have rebuilt */
    }
    size_t idx = (size_t)(e - t->st.entries);
    for (size_t k = 0; k < e->n_names; k++)
        index_put(&t->names, hash_str(e->names[k]), (uint32_t)idx, (uint16_t)k);
    return 0;
}

void cd_txn_remove(cd_txn_t *t, etls_store_entry_t *e)
{
    etls_store_entry_free(e); /* leaves it zeroed: a tombstone that no lookup matches */
    t->dead++;
    t->changes++;
}

void cd_txn_take(cd_txn_t *t, etls_store_state_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < t->st.n_entries; i++)
        if (!is_dead(&t->st.entries[i]))
            t->st.entries[n++] = t->st.entries[i]; /* a move: the slot left behind is not freed */
    t->st.n_entries = n;
    t->dead = 0;
    *out = t->st;
    memset(&t->st, 0, sizeof t->st);
}
