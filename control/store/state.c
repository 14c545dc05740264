/* In-memory state: deep copies, release (wiping key material), entry helpers, and the checks
 * that keep every committed state expressible in the manifest format. */
#include "store_int.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int name_char_ok(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == '-';
}

/* A leading '.' is refused too: it keeps ".", ".." and hidden files out of the directory. */
int etls_store_name_ok(const char *name)
{
    size_t n = name ? strnlen(name, ETLS_STORE_NAME_MAX + 1) : 0;
    if (n == 0 || n > ETLS_STORE_NAME_MAX || name[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!name_char_ok(name[i]))
            return 0;
    return 1;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Suffixes reserved for entry files and for the temporaries recovery deletes. */
int etls_store_blob_name_ok(const char *name)
{
    return etls_store_name_ok(name) && strcmp(name, ETLS_MANIFEST_NAME) != 0 &&
           strcmp(name, ETLS_MANIFEST_TICKETS) != 0 && !has_suffix(name, ".chain.pem") &&
           !has_suffix(name, ".key.pem") && !has_suffix(name, ".tmp");
}

static int cerr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int cerr(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int sni_ok(const char *s)
{
    size_t n = s ? strnlen(s, ETLS_MANIFEST_SNI_MAX + 1) : 0;
    if (n == 0 || n > ETLS_MANIFEST_SNI_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == ',')
            return 0;
    return 1;
}

/* Empty is written as "-", so "-" itself could not round-trip. */
static int key_type_ok(const char *t, size_t cap)
{
    size_t n = strnlen(t, cap);
    if (n == cap || strcmp(t, "-") == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!name_char_ok(t[i]))
            return 0;
    return 1;
}

static int entry_check(const etls_store_entry_t *e, char *err, size_t errlen)
{
    if (!memchr(e->name, 0, sizeof e->name) || !etls_store_name_ok(e->name))
        return cerr(err, errlen, "bad entry name (want [A-Za-z0-9._-]{1,64}, not starting with '.')");
    if (e->n_certs == 0 || e->n_certs > ETLS_STORE_MAX_CERTS)
        return cerr(err, errlen, "entry %s: %zu certs (want 1..%d)", e->name, e->n_certs,
                    ETLS_STORE_MAX_CERTS);
    if (e->n_names > ETLS_MANIFEST_MAX_NAMES || (e->n_names && !e->names))
        return cerr(err, errlen, "entry %s: more than %d names", e->name, ETLS_MANIFEST_MAX_NAMES);
    for (size_t i = 0; i < e->n_names; i++)
        if (!sni_ok(e->names[i]))
            return cerr(err, errlen, "entry %s: bad name #%zu (1..%d printable bytes, no ',')",
                        e->name, i, ETLS_MANIFEST_SNI_MAX);
    for (size_t i = 0; i < e->n_certs; i++)
        if (!key_type_ok(e->certs[i].key_type, sizeof e->certs[i].key_type))
            return cerr(err, errlen, "entry %s: bad key type on cert %zu", e->name, i);
    return 0;
}

uint64_t etls_store_name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

/* A hash set of entry indices: the duplicate check is O(n) for 200,000 entries (a commit of
 * one change at 100,000 entries must not pay for a sort). Names were checked before. */
static int dup_check(const etls_store_state_t *st, char *err, size_t errlen)
{
    if (st->n_entries < 2)
        return 0;
    size_t cap = 1024;
    while (cap < st->n_entries * 2)
        cap *= 2;
    size_t *slot = malloc(cap * sizeof *slot);
    if (!slot)
        return cerr(err, errlen, "out of memory");
    memset(slot, 0xff, cap * sizeof *slot);
    int rc = 0;
    for (size_t i = 0; i < st->n_entries && rc == 0; i++) {
        size_t k = (size_t)etls_store_name_hash(st->entries[i].name) & (cap - 1);
        while (slot[k] != (size_t)-1 && strcmp(st->entries[slot[k]].name, st->entries[i].name))
            k = (k + 1) & (cap - 1);
        if (slot[k] != (size_t)-1)
            rc = cerr(err, errlen, "entry %s listed twice", st->entries[i].name);
        slot[k] = i;
    }
    free(slot);
    return rc;
}

static int tickets_check(const etls_store_state_t *st, char *err, size_t errlen)
{
    size_t active = 0;
    if (st->n_tickets > ETLS_STORE_MAX_TICKETS)
        return cerr(err, errlen, "%zu tickets (at most %d)", st->n_tickets, ETLS_STORE_MAX_TICKETS);
    for (size_t i = 0; i < st->n_tickets; i++) {
        etls_ticket_state_t s = st->tickets[i].state;
        if (s != ETLS_TICKET_PENDING && s != ETLS_TICKET_ACTIVE && s != ETLS_TICKET_DECRYPT)
            return cerr(err, errlen, "ticket %zu: state %d cannot be stored", i, (int)s);
        active += s == ETLS_TICKET_ACTIVE;
    }
    if (active > 1)
        return cerr(err, errlen, "%zu active tickets (at most one seals)", active);
    return 0;
}

int etls_store_state_check(const etls_store_state_t *st, char *err, size_t errlen)
{
    if (!memchr(st->comment, 0, sizeof st->comment))
        return cerr(err, errlen, "comment not terminated");
    for (const char *p = st->comment; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return cerr(err, errlen, "control character in comment");
    if (st->n_entries > ETLS_MANIFEST_MAX_ENTRIES || (st->n_entries && !st->entries))
        return cerr(err, errlen, "%zu entries (at most %d)", st->n_entries, ETLS_MANIFEST_MAX_ENTRIES);
    for (size_t i = 0; i < st->n_entries; i++)
        if (entry_check(&st->entries[i], err, errlen))
            return -1;
    return dup_check(st, err, errlen) || tickets_check(st, err, errlen) ? -1 : 0;
}

struct etls_store_pem {
    unsigned refs;
    uint64_t id; /* its content's identity (blocks are immutable): see etls_store_cert_id */
    int has_sha;
    uint8_t chain_sha[32], key_sha[32];
    size_t size;
    char data[]; /* chain, NUL, key, NUL */
};

static void pem_unref(etls_store_pem_t *p)
{
    if (p && --p->refs == 0) {
        OPENSSL_cleanse(p->data, p->size);
        free(p);
    }
}

static etls_store_pem_t *pem_new(const char *chain, size_t chain_len, const char *key, size_t key_len)
{
    if (chain_len > ETLS_STORE_PEM_MAX || key_len > ETLS_STORE_PEM_MAX)
        return NULL;
    etls_store_pem_t *p = malloc(sizeof *p + chain_len + key_len + 2);
    if (!p)
        return NULL;
    static uint64_t next_id;
    p->refs = 1;
    p->id = __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);
    p->has_sha = 0;
    p->size = chain_len + key_len + 2;
    if (chain_len)
        memcpy(p->data, chain, chain_len);
    p->data[chain_len] = 0;
    if (key_len)
        memcpy(p->data + chain_len + 1, key, key_len);
    p->data[chain_len + 1 + key_len] = 0;
    return p;
}

static void cert_free(etls_store_cert_t *c)
{
    if (c->pem) {
        pem_unref(c->pem);
    } else {
        free(c->chain_pem);
        if (c->key_pem) {
            OPENSSL_cleanse(c->key_pem, c->key_len);
            free(c->key_pem);
        }
    }
    memset(c, 0, sizeof *c);
}

static void cert_point(etls_store_cert_t *c, etls_store_pem_t *p, size_t chain_len, size_t key_len)
{
    c->pem = p;
    c->chain_pem = p->data;
    c->chain_len = chain_len;
    c->key_pem = p->data + chain_len + 1;
    c->key_len = key_len;
}

int etls_store_cert_set(etls_store_cert_t *c, const char *chain, size_t chain_len, const char *key, size_t key_len,
                        const char *key_type)
{
    etls_store_pem_t *p = pem_new(chain, chain_len, key, key_len);
    if (!p)
        return -1;
    char kt[sizeof c->key_type];
    snprintf(kt, sizeof kt, "%s", key_type ? key_type : c->key_type);
    cert_free(c);
    cert_point(c, p, chain_len, key_len);
    memcpy(c->key_type, kt, sizeof kt);
    return 0;
}

uint64_t etls_store_cert_id(const etls_store_cert_t *c)
{
    return c->pem ? c->pem->id : 0;
}

void etls_store_cert_digests(etls_store_cert_t *c, uint8_t chain[32], uint8_t key[32])
{
    if (c->pem && c->pem->has_sha) {
        memcpy(chain, c->pem->chain_sha, 32);
        memcpy(key, c->pem->key_sha, 32);
        return;
    }
    etls_store_sha(c->chain_pem, c->chain_len, chain);
    etls_store_sha(c->key_pem, c->key_len, key);
    if (c->pem) {
        memcpy(c->pem->chain_sha, chain, 32);
        memcpy(c->pem->key_sha, key, 32);
        c->pem->has_sha = 1;
    }
}

/* Loading: the digests were just checked against the manifest. */
void etls_store_cert_known_digests(etls_store_cert_t *c, const uint8_t chain[32], const uint8_t key[32])
{
    if (c->pem) {
        memcpy(c->pem->chain_sha, chain, 32);
        memcpy(c->pem->key_sha, key, 32);
        c->pem->has_sha = 1;
    }
}

void etls_store_entry_free(etls_store_entry_t *e)
{
    for (size_t i = 0; i < e->n_names && e->names; i++)
        free(e->names[i]);
    free(e->names);
    for (size_t i = 0; i < ETLS_STORE_MAX_CERTS; i++)
        cert_free(&e->certs[i]);
    memset(e, 0, sizeof *e);
}

void etls_store_state_free(etls_store_state_t *st)
{
    for (size_t i = 0; i < st->n_entries && st->entries; i++)
        etls_store_entry_free(&st->entries[i]);
    free(st->entries);
    OPENSSL_cleanse(st->tickets, sizeof st->tickets);
    memset(st, 0, sizeof *st);
}

static int entry_copy(etls_store_entry_t *d, const etls_store_entry_t *s)
{
    memset(d, 0, sizeof *d);
    memcpy(d->name, s->name, sizeof d->name);
    d->name[ETLS_STORE_NAME_MAX] = 0;
    d->is_default = s->is_default;
    d->since = s->since;
    if (s->n_certs > ETLS_STORE_MAX_CERTS || s->n_names > ETLS_MANIFEST_MAX_NAMES ||
        (s->n_names && !s->names))
        return -1;
    if (s->n_names && !(d->names = calloc(s->n_names, sizeof *d->names)))
        return -1;
    for (; d->n_names < s->n_names; d->n_names++)
        if (!(d->names[d->n_names] = strdup(s->names[d->n_names])))
            goto fail;
    for (; d->n_certs < s->n_certs; d->n_certs++) {
        const etls_store_cert_t *sc = &s->certs[d->n_certs];
        etls_store_cert_t *dc = &d->certs[d->n_certs];
        memcpy(dc->key_type, sc->key_type, sizeof dc->key_type);
        dc->key_type[sizeof dc->key_type - 1] = 0;
        /* shared bytes are shared again; a caller's own buffers are copied into a block */
        etls_store_pem_t *p = sc->pem ? sc->pem : pem_new(sc->chain_pem, sc->chain_len, sc->key_pem, sc->key_len);
        if (!p)
            goto fail;
        if (sc->pem)
            p->refs++;
        cert_point(dc, p, sc->chain_len, sc->key_len);
    }
    return 0;
fail:
    etls_store_entry_free(d);
    return -1;
}

int etls_store_entry_add(etls_store_state_t *st, const etls_store_entry_t *e)
{
    etls_store_entry_t *n = realloc(st->entries, (st->n_entries + 1) * sizeof *n);
    if (!n)
        return -1;
    st->entries = n;
    if (entry_copy(&n[st->n_entries], e))
        return -1;
    st->n_entries++;
    return 0;
}

void etls_store_entry_remove(etls_store_state_t *st, size_t index)
{
    if (index >= st->n_entries)
        return;
    etls_store_entry_free(&st->entries[index]);
    memmove(&st->entries[index], &st->entries[index + 1],
            (st->n_entries - index - 1) * sizeof st->entries[0]);
    st->n_entries--;
}

etls_store_entry_t *etls_store_entry_find(etls_store_state_t *st, const char *name)
{
    for (size_t i = 0; i < st->n_entries; i++)
        if (strcmp(st->entries[i].name, name) == 0)
            return &st->entries[i];
    return NULL;
}

int etls_store_entry_copy(etls_store_entry_t *dst, const etls_store_entry_t *src)
{
    if (entry_copy(dst, src) == 0)
        return 0;
    etls_store_entry_free(dst);
    return -1;
}

int etls_store_state_copy(etls_store_state_t *dst, const etls_store_state_t *src)
{
    memset(dst, 0, sizeof *dst);
    dst->version = src->version;
    dst->time = src->time;
    memcpy(dst->comment, src->comment, sizeof dst->comment);
    dst->comment[sizeof dst->comment - 1] = 0;
    memcpy(dst->tickets, src->tickets, sizeof dst->tickets);
    dst->n_tickets = src->n_tickets;
    if (src->n_entries && !(dst->entries = calloc(src->n_entries, sizeof *dst->entries)))
        return -1;
    for (; dst->n_entries < src->n_entries; dst->n_entries++)
        if (entry_copy(&dst->entries[dst->n_entries], &src->entries[dst->n_entries])) {
            etls_store_state_free(dst);
            return -1;
        }
    return 0;
}
