/* The manifest formatter: the one writer of the text manifest.c parses (format at the top of
 * store.c). Canonical by construction, so parse and format are inverses. */
#include "manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct buf {
    char *p;
    size_t len, cap;
    int oom;
} buf_t;

static void put(buf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void puts_(buf_t *b, const char *s)
{
    put(b, s, strlen(s));
}

static void put_u64(buf_t *b, const char *word, uint64_t v)
{
    char line[64];
    int n = snprintf(line, sizeof line, "%s %llu\n", word, (unsigned long long)v);
    put(b, line, (size_t)n);
}

void etls_store_hex(const uint8_t d[32], char out[65])
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[64] = 0;
}

static void put_u64_text(buf_t *b, uint64_t v)
{
    char d[20];
    size_t n = 0;
    do
        d[sizeof d - ++n] = (char)('0' + v % 10);
    while ((v /= 10) && n < sizeof d);
    put(b, d + sizeof d - n, n);
}

/* No printf here: at 100,000 entries this is most of a commit's CPU. */
static void put_entry(buf_t *b, const etls_store_entry_t *e, int format, const uint8_t (**objects)[32])
{
    puts_(b, "entry ");
    puts_(b, e->name);
    puts_(b, e->is_default ? " default=1" : " default=0");
    if (format != 1) {
        puts_(b, " since=");
        put_u64_text(b, e->since);
    }
    puts_(b, " names=");
    for (size_t i = 0; i < e->n_names; i++) {
        if (i)
            put(b, ",", 1);
        puts_(b, e->names[i]);
    }
    put(b, "\n", 1);
    for (size_t i = 0; i < e->n_certs; i++) {
        const char *kt = e->certs[i].key_type[0] ? e->certs[i].key_type : "-";
        if (format == 1) {
            char line[256];
            int n = snprintf(line, sizeof line, "cert %s.%zu.chain.pem %s.%zu.key.pem %s\n", e->name, i, e->name, i, kt);
            put(b, line, (size_t)n);
            continue;
        }
        char line[5 + 65 + 65];
        memcpy(line, "cert ", 5);
        etls_store_hex((*objects)[0], line + 5);
        line[69] = ' ';
        etls_store_hex((*objects)[1], line + 70);
        line[134] = ' ';
        *objects += 2;
        put(b, line, sizeof line);
        puts_(b, kt);
        put(b, "\n", 1);
    }
}

static const char *const state_names[] = {"pending", "active", "decrypt"};

static void put_ticket(buf_t *b, const etls_store_ticket_t *t)
{
    char line[96];
    int n = snprintf(line, sizeof line, "ticket %s %llu %llu\n", state_names[t->state],
                     (unsigned long long)t->created, (unsigned long long)t->activated);
    put(b, line, (size_t)n);
}

static void put_sha(buf_t *b, const etls_manifest_file_t *f)
{
    static const char hex[] = "0123456789abcdef";
    char h[65];
    for (size_t i = 0; i < 32; i++) {
        h[2 * i] = hex[f->sha256[i] >> 4];
        h[2 * i + 1] = hex[f->sha256[i] & 15];
    }
    h[64] = '\n';
    puts_(b, "sha256 ");
    puts_(b, f->name);
    put(b, " ", 1);
    put(b, h, 65);
}

static const char *const magics[] = {"", ETLS_MANIFEST_MAGIC_V1, ETLS_MANIFEST_MAGIC_V2, ETLS_MANIFEST_MAGIC};

static void put_header(buf_t *b, const etls_store_state_t *st, int format)
{
    puts_(b, magics[format]);
    put(b, "\n", 1);
    put_u64(b, "version", st->version);
    put_u64(b, "time", st->time);
    puts_(b, "comment ");
    puts_(b, st->comment);
    put(b, "\n", 1);
}

/* Everything after the entries (or parts): tickets, blobs, digests, end. */
static void put_trailer(buf_t *b, const etls_store_state_t *st, const etls_manifest_blob_t *blobs, size_t n_blobs,
                        const etls_manifest_file_t *files, size_t n_files)
{
    for (size_t i = 0; i < st->n_tickets; i++)
        put_ticket(b, &st->tickets[i]);
    for (size_t i = 0; i < n_blobs; i++) {
        puts_(b, "blob ");
        puts_(b, blobs[i]);
        put(b, "\n", 1);
    }
    for (size_t i = 0; i < n_files; i++)
        put_sha(b, &files[i]);
    puts_(b, "end\n");
}

static int done(buf_t *b, char **out, size_t *outlen)
{
    if (b->oom) {
        free(b->p);
        return -1;
    }
    *out = b->p;
    *outlen = b->len;
    return 0;
}

/* Sized for a typical entry up front: growing a 20 MB text by doubling copies it twice. */
static int reserve(buf_t *b, size_t n_entries)
{
    b->cap = 4096 + n_entries * 256;
    return (b->p = malloc(b->cap)) ? 0 : -1;
}

int etls_store_manifest_format(const etls_store_state_t *st, int format, const uint8_t (*objects)[32],
                               const etls_manifest_blob_t *blobs, size_t n_blobs,
                               const etls_manifest_file_t *files, size_t n_files, char **out, size_t *outlen)
{
    buf_t b = {0};
    if (format < 1 || format > 2 || reserve(&b, st->n_entries))
        return -1;
    put_header(&b, st, format);
    for (size_t i = 0; i < st->n_entries; i++)
        put_entry(&b, &st->entries[i], format, &objects);
    put_trailer(&b, st, blobs, n_blobs, files, n_files);
    return done(&b, out, outlen);
}

int etls_store_part_format(const etls_store_entry_t *entries, size_t n, const uint8_t (*objects)[32], char **out,
                           size_t *outlen)
{
    buf_t b = {0};
    if (reserve(&b, n))
        return -1;
    puts_(&b, ETLS_MANIFEST_PART_MAGIC "\n");
    for (size_t i = 0; i < n; i++)
        put_entry(&b, &entries[i], 3, &objects);
    puts_(&b, "end\n");
    return done(&b, out, outlen);
}

int etls_store_manifest_format_parts(const etls_store_state_t *st, const uint8_t (*parts)[32],
                                     const uint32_t *counts, size_t n_parts, const etls_manifest_blob_t *blobs,
                                     size_t n_blobs, const etls_manifest_file_t *files, size_t n_files, char **out,
                                     size_t *outlen)
{
    buf_t b = {0};
    b.cap = 4096 + n_parts * 96;
    if (!(b.p = malloc(b.cap)))
        return -1;
    put_header(&b, st, 3);
    for (size_t i = 0; i < n_parts; i++) {
        char line[5 + 64 + 1];
        memcpy(line, "part ", 5);
        etls_store_hex(parts[i], line + 5);
        line[69] = ' ';
        put(&b, line, sizeof line);
        put_u64_text(&b, counts[i]);
        put(&b, "\n", 1);
    }
    put_trailer(&b, st, blobs, n_blobs, files, n_files);
    return done(&b, out, outlen);
}

int etls_store_manifest_files(const etls_store_state_t *st, int format, const etls_manifest_blob_t *blobs,
                              size_t n_blobs, etls_manifest_file_t **files, size_t *n_files)
{
    size_t n = n_blobs + (st->n_tickets > 0);
    for (size_t i = 0; format == 1 && i < st->n_entries; i++)
        n += 2 * st->entries[i].n_certs;
    etls_manifest_file_t *f = calloc(n ? n : 1, sizeof *f);
    if (!f)
        return -1;
    size_t k = 0;
    for (size_t i = 0; format == 1 && i < st->n_entries; i++)
        for (size_t c = 0; c < st->entries[i].n_certs; c++) {
            /* c is 0 or 1 (ETLS_STORE_MAX_CERTS): the mask tells the compiler the name fits. */
            int idx = (int)(c & 1);
            snprintf(f[k++].name, sizeof f->name, "%s.%d.chain.pem", st->entries[i].name, idx);
            snprintf(f[k++].name, sizeof f->name, "%s.%d.key.pem", st->entries[i].name, idx);
        }
    if (st->n_tickets)
        snprintf(f[k++].name, sizeof f->name, "%s", ETLS_MANIFEST_TICKETS);
    for (size_t i = 0; i < n_blobs; i++)
        snprintf(f[k++].name, sizeof f->name, "%s", blobs[i]);
    *files = f;
    *n_files = n;
    return 0;
}
