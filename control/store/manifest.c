/* The manifest parser and formatter. The parser accepts exactly what the formatter writes: one
 * space between fields, decimal numbers without leading zeros, lower-case hex, every line ended
 * by '\n', nothing after "end". Being this strict keeps a torn or hand-edited manifest from
 * being half understood, and lets the fuzz harness check format(parse(x)) == x. */
#include "manifest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cursor {
    const char *p, *end;
    const char *line; /* the current line, without its '\n' */
    size_t len;
    size_t lineno;
    int have; /* 1 while line holds a line no stage has consumed yet */
    const char *what; /* "manifest" or "part": the errors' prefix */
} cursor_t;

static int perr(const cursor_t *c, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int perr(const cursor_t *c, char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        int n = snprintf(err, errlen, "%s line %zu: ", c->what, c->lineno);
        if (n >= 0 && (size_t)n < errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

/* Loads the next line unless one is still pending. A line without '\n' means the file was cut
 * short: that is the torn-write case, so it is an error rather than a last line. */
static int peek_line(cursor_t *c, char *err, size_t errlen)
{
    if (c->have)
        return 0;
    c->lineno++;
    if (c->p == c->end)
        return perr(c, err, errlen, "unexpected end of file (no \"end\" line: torn?)");
    size_t avail = (size_t)(c->end - c->p);
    size_t scan = avail < ETLS_MANIFEST_LINE_MAX + 1 ? avail : ETLS_MANIFEST_LINE_MAX + 1;
    const char *nl = memchr(c->p, '\n', scan);
    if (!nl)
        return perr(c, err, errlen, avail > ETLS_MANIFEST_LINE_MAX ? "line too long"
                                                                   : "last line unterminated (torn?)");
    for (const char *q = c->p; q < nl; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            return perr(c, err, errlen, "control character");
    c->line = c->p;
    c->len = (size_t)(nl - c->p);
    c->p = nl + 1;
    c->have = 1;
    return 0;
}

/* 1 when the pending line starts with "word " (the caller has peeked). */
static int starts(const cursor_t *c, const char *word)
{
    size_t n = strlen(word);
    return c->len > n && memcmp(c->line, word, n) == 0 && c->line[n] == ' ';
}

/* Splits s[0..n) at single spaces into at most max fields; empty fields are refused. */
static int split(const char *s, size_t n, const char **f, size_t *fl, size_t max)
{
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != ' ')
            continue;
        if (i == start || k == max)
            return -1;
        f[k] = s + start;
        fl[k++] = i - start;
        start = i + 1;
    }
    return (int)k;
}

static int parse_u64(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int field_is(const char *f, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(f, want, n) == 0;
}

/* Copies a field into a fixed buffer; -1 when it does not fit. */
static int field_copy(char *dst, size_t cap, const char *f, size_t n)
{
    if (n >= cap)
        return -1;
    memcpy(dst, f, n);
    dst[n] = 0;
    return 0;
}

/* "version N", "time T": a keyword and one number. */
static int parse_number_line(cursor_t *c, const char *word, uint64_t *v, char *err, size_t errlen)
{
    if (peek_line(c, err, errlen))
        return -1;
    size_t n = strlen(word);
    if (!starts(c, word) || parse_u64(c->line + n + 1, c->len - n - 1, v))
        return perr(c, err, errlen, "expected \"%s NUMBER\"", word);
    c->have = 0;
    return 0;
}

static int parse_header(cursor_t *c, etls_manifest_t *m, char *err, size_t errlen)
{
    etls_store_state_t *st = &m->st;
    if (peek_line(c, err, errlen))
        return -1;
    m->format = field_is(c->line, c->len, ETLS_MANIFEST_MAGIC)      ? 3
                : field_is(c->line, c->len, ETLS_MANIFEST_MAGIC_V2) ? 2
                : field_is(c->line, c->len, ETLS_MANIFEST_MAGIC_V1) ? 1
                                                                    : 0;
    if (!m->format)
        return perr(c, err, errlen, "expected \"%s\" (or \"%s\", \"%s\")", ETLS_MANIFEST_MAGIC,
                    ETLS_MANIFEST_MAGIC_V2, ETLS_MANIFEST_MAGIC_V1);
    c->have = 0;
    if (parse_number_line(c, "version", &st->version, err, errlen) ||
        parse_number_line(c, "time", &st->time, err, errlen) || peek_line(c, err, errlen))
        return -1;
    /* "comment " then the text, possibly empty; the trailing space is part of the format. */
    if (c->len < 8 || memcmp(c->line, "comment ", 8) != 0)
        return perr(c, err, errlen, "expected \"comment TEXT\"");
    if (field_copy(st->comment, sizeof st->comment, c->line + 8, c->len - 8))
        return perr(c, err, errlen, "comment longer than %zu bytes", sizeof st->comment - 1);
    c->have = 0;
    return 0;
}

/* "names=a,b,c" (possibly "names=") into e->names. */
static int parse_names(etls_store_entry_t *e, const char *f, size_t n)
{
    if (n < 6 || memcmp(f, "names=", 6) != 0)
        return -1;
    f += 6;
    n -= 6;
    if (n == 0)
        return 0;
    size_t count = 1;
    for (size_t i = 0; i < n; i++)
        count += f[i] == ',';
    if (count > ETLS_MANIFEST_MAX_NAMES || !(e->names = calloc(count, sizeof *e->names)))
        return -1;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && f[i] != ',')
            continue;
        size_t len = i - start;
        if (len == 0 || len > ETLS_MANIFEST_SNI_MAX)
            return -1;
        e->names[e->n_names] = strndup(f + start, len);
        if (!e->names[e->n_names])
            return -1;
        e->n_names++;
        start = i + 1;
    }
    return 0;
}

/* Format 1: "entry NAME default=0|1 names=LIST"; format 2 (and 3's parts) add "since=N"
 * before names=. */
static int parse_entry_line(cursor_t *c, int format, etls_store_entry_t *e, char *err, size_t errlen)
{
    const char *f[5];
    size_t fl[5];
    size_t want = format == 1 ? 4 : 5;
    if (split(c->line, c->len, f, fl, want) != (int)want)
        return perr(c, err, errlen, format == 1 ? "expected \"entry NAME default=0|1 names=LIST\""
                                                : "expected \"entry NAME default=0|1 since=N names=LIST\"");
    if (field_copy(e->name, sizeof e->name, f[1], fl[1]) || !etls_store_name_ok(e->name))
        return perr(c, err, errlen, "bad entry name");
    if (field_is(f[2], fl[2], "default=0") || field_is(f[2], fl[2], "default=1"))
        e->is_default = f[2][8] == '1';
    else
        return perr(c, err, errlen, "expected default=0 or default=1");
    if (format != 1 && (fl[3] < 7 || memcmp(f[3], "since=", 6) || parse_u64(f[3] + 6, fl[3] - 6, &e->since)))
        return perr(c, err, errlen, "expected since=VERSION");
    if (parse_names(e, f[want - 1], fl[want - 1]))
        return perr(c, err, errlen, "bad names= list (at most %d names of 1..%d bytes)",
                    ETLS_MANIFEST_MAX_NAMES, ETLS_MANIFEST_SNI_MAX);
    c->have = 0;
    return 0;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

int etls_store_unhex(const char *s, size_t n, uint8_t d[32])
{
    if (n != 64)
        return -1;
    for (size_t k = 0; k < 32; k++) {
        int hi = hexval(s[2 * k]), lo = hexval(s[2 * k + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        d[k] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* Format 1: "cert CHAIN KEY TYPE" where the file names are implied by the entry, so they must
 * be exactly those; a manifest can never point outside its own directory. Format 2: "cert
 * CHAINSHA KEYSHA TYPE", the digests naming objects/<hex> (hex only: no path can be formed). */
static int parse_cert_line(cursor_t *c, etls_manifest_t *m, etls_store_entry_t *e, char *err, size_t errlen)
{
    const char *f[4];
    size_t fl[4];
    char want[ETLS_MANIFEST_FILE_MAX];
    if (e->n_certs == ETLS_STORE_MAX_CERTS)
        return perr(c, err, errlen, "more than %d certs for entry %s", ETLS_STORE_MAX_CERTS, e->name);
    if (split(c->line, c->len, f, fl, 4) != 4)
        return perr(c, err, errlen, m->format == 1 ? "expected \"cert CHAINFILE KEYFILE KEYTYPE\""
                                                   : "expected \"cert CHAINSHA256 KEYSHA256 KEYTYPE\"");
    if (m->format == 1) {
        int idx = (int)(e->n_certs & 1); /* 0 or 1: checked above */
        snprintf(want, sizeof want, "%s.%d.chain.pem", e->name, idx);
        if (!field_is(f[1], fl[1], want))
            return perr(c, err, errlen, "chain file must be %s", want);
        snprintf(want, sizeof want, "%s.%d.key.pem", e->name, idx);
        if (!field_is(f[2], fl[2], want))
            return perr(c, err, errlen, "key file must be %s", want);
    } else {
        if (m->n_objects + 2 > 2 * (size_t)ETLS_MANIFEST_MAX_ENTRIES * ETLS_STORE_MAX_CERTS)
            return perr(c, err, errlen, "too many certificates");
        if (m->n_objects + 2 > m->cap_objects) {
            size_t cap = m->cap_objects ? m->cap_objects * 2 : 16;
            uint8_t (*o)[32] = realloc(m->objects, cap * sizeof *o);
            if (!o)
                return perr(c, err, errlen, "out of memory");
            m->objects = o;
            m->cap_objects = cap;
        }
        if (etls_store_unhex(f[1], fl[1], m->objects[m->n_objects]) ||
            etls_store_unhex(f[2], fl[2], m->objects[m->n_objects + 1]))
            return perr(c, err, errlen, "bad digest (64 lower-case hex digits)");
        m->n_objects += 2;
    }
    etls_store_cert_t *ct = &e->certs[e->n_certs];
    if (!field_is(f[3], fl[3], "-") && field_copy(ct->key_type, sizeof ct->key_type, f[3], fl[3]))
        return perr(c, err, errlen, "key type too long");
    e->n_certs++;
    c->have = 0;
    return 0;
}

/* Entries (and their cert lines) up to the first other line, appended to m->st; at most
 * `max` of them (a part's count). */
static int parse_entries(cursor_t *c, etls_manifest_t *m, size_t max, char *err, size_t errlen)
{
    etls_store_state_t *st = &m->st;
    size_t first = st->n_entries;
    while (!peek_line(c, err, errlen) && starts(c, "entry")) {
        if (st->n_entries == ETLS_MANIFEST_MAX_ENTRIES)
            return perr(c, err, errlen, "more than %d entries", ETLS_MANIFEST_MAX_ENTRIES);
        if (st->n_entries - first == max)
            return perr(c, err, errlen, "more than the %zu entries the manifest gives this part", max);
        if (st->n_entries == m->cap_entries) {
            size_t cap = m->cap_entries ? m->cap_entries * 2 : 16;
            etls_store_entry_t *n = realloc(st->entries, cap * sizeof *n);
            if (!n)
                return perr(c, err, errlen, "out of memory");
            st->entries = n;
            m->cap_entries = cap;
        }
        etls_store_entry_t *e = &st->entries[st->n_entries++];
        memset(e, 0, sizeof *e);
        if (parse_entry_line(c, m->format, e, err, errlen))
            return -1;
        while (!peek_line(c, err, errlen) && starts(c, "cert"))
            if (parse_cert_line(c, m, e, err, errlen))
                return -1;
        if (!c->have)
            return -1;
        if (e->n_certs == 0)
            return perr(c, err, errlen, "entry %s has no cert line", e->name);
    }
    return c->have ? 0 : -1;
}

/* Format 3: "part HEX COUNT", the parts holding the entries in order. */
static int parse_parts(cursor_t *c, etls_manifest_t *m, char *err, size_t errlen)
{
    size_t total = 0, cap = 0;
    while (!peek_line(c, err, errlen) && starts(c, "part")) {
        const char *f[3];
        size_t fl[3];
        uint64_t count;
        if (split(c->line, c->len, f, fl, 3) != 3 || parse_u64(f[2], fl[2], &count))
            return perr(c, err, errlen, "expected \"part SHA256 COUNT\"");
        if (count == 0 || count > ETLS_MANIFEST_PART_ENTRIES)
            return perr(c, err, errlen, "a part holds 1..%d entries", ETLS_MANIFEST_PART_ENTRIES);
        if ((total += count) > ETLS_MANIFEST_MAX_ENTRIES)
            return perr(c, err, errlen, "more than %d entries", ETLS_MANIFEST_MAX_ENTRIES);
        if (m->n_parts == cap) {
            cap = cap ? cap * 2 : 64;
            uint8_t (*p)[32] = realloc(m->parts, cap * sizeof *p);
            if (p)
                m->parts = p;
            uint32_t *n = p ? realloc(m->part_counts, cap * sizeof *n) : NULL;
            if (!n)
                return perr(c, err, errlen, "out of memory");
            m->part_counts = n;
        }
        if (etls_store_unhex(f[1], fl[1], m->parts[m->n_parts]))
            return perr(c, err, errlen, "bad digest (64 lower-case hex digits)");
        m->part_counts[m->n_parts++] = (uint32_t)count;
        c->have = 0;
    }
    return c->have ? 0 : -1;
}

static const char *const state_names[] = {"pending", "active", "decrypt"};

static int parse_tickets(cursor_t *c, etls_store_state_t *st, char *err, size_t errlen)
{
    while (!peek_line(c, err, errlen) && starts(c, "ticket")) {
        const char *f[4];
        size_t fl[4];
        if (st->n_tickets == ETLS_STORE_MAX_TICKETS)
            return perr(c, err, errlen, "more than %d tickets", ETLS_STORE_MAX_TICKETS);
        etls_store_ticket_t *t = &st->tickets[st->n_tickets];
        if (split(c->line, c->len, f, fl, 4) != 4 || parse_u64(f[2], fl[2], &t->created) ||
            parse_u64(f[3], fl[3], &t->activated))
            return perr(c, err, errlen, "expected \"ticket STATE CREATED ACTIVATED\"");
        size_t k = 0;
        while (k < 3 && !field_is(f[1], fl[1], state_names[k]))
            k++;
        if (k == 3)
            return perr(c, err, errlen, "ticket state must be pending, active or decrypt");
        t->state = (etls_ticket_state_t)k;
        st->n_tickets++;
        c->have = 0;
    }
    return c->have ? 0 : -1;
}

static int parse_blobs(cursor_t *c, etls_manifest_t *m, char *err, size_t errlen)
{
    while (!peek_line(c, err, errlen) && starts(c, "blob")) {
        if (m->n_blobs == ETLS_MANIFEST_MAX_BLOBS)
            return perr(c, err, errlen, "more than %d blobs", ETLS_MANIFEST_MAX_BLOBS);
        if (!m->blobs && !(m->blobs = calloc(ETLS_MANIFEST_MAX_BLOBS, sizeof *m->blobs)))
            return perr(c, err, errlen, "out of memory");
        char *b = m->blobs[m->n_blobs];
        if (field_copy(b, sizeof m->blobs[0], c->line + 5, c->len - 5) || !etls_store_blob_name_ok(b))
            return perr(c, err, errlen, "bad blob file name");
        for (size_t i = 0; i < m->n_blobs; i++)
            if (strcmp(m->blobs[i], b) == 0)
                return perr(c, err, errlen, "blob %s listed twice", b);
        m->n_blobs++;
        c->have = 0;
    }
    return c->have ? 0 : -1;
}

/* One "sha256 FILE HEX" line per implied file, in canonical order. */
static int parse_shas(cursor_t *c, etls_manifest_t *m, char *err, size_t errlen)
{
    for (size_t i = 0; i < m->n_files; i++) {
        const char *f[3];
        size_t fl[3];
        etls_manifest_file_t *file = &m->files[i];
        if (peek_line(c, err, errlen))
            return -1;
        if (!starts(c, "sha256") || split(c->line, c->len, f, fl, 3) != 3 || fl[2] != 64)
            return perr(c, err, errlen, "expected \"sha256 %s HEX\"", file->name);
        if (!field_is(f[1], fl[1], file->name))
            return perr(c, err, errlen, "expected the sha256 of %s", file->name);
        if (etls_store_unhex(f[2], fl[2], file->sha256))
            return perr(c, err, errlen, "bad hex (64 lower-case digits)");
        c->have = 0;
    }
    return 0;
}

int etls_store_manifest_parse(const char *text, size_t len, etls_manifest_t *m, char *err,
                              size_t errlen)
{
    cursor_t c = {.p = text, .end = text + len, .what = "manifest"};
    memset(m, 0, sizeof *m);
    if (len > ETLS_MANIFEST_SIZE_MAX)
        return perr(&c, err, errlen, "manifest larger than %zu bytes", ETLS_MANIFEST_SIZE_MAX);
    if (parse_header(&c, m, err, errlen))
        goto fail;
    if (m->format == 3 ? parse_parts(&c, m, err, errlen) : parse_entries(&c, m, SIZE_MAX, err, errlen))
        goto fail;
    if (parse_tickets(&c, &m->st, err, errlen) || parse_blobs(&c, m, err, errlen))
        goto fail;
    char why[256];
    if (etls_store_state_check(&m->st, why, sizeof why)) {
        perr(&c, err, errlen, "%s", why);
        goto fail;
    }
    if (etls_store_manifest_files(&m->st, m->format, m->blobs, m->n_blobs, &m->files, &m->n_files)) {
        perr(&c, err, errlen, "out of memory");
        goto fail;
    }
    if (parse_shas(&c, m, err, errlen) || peek_line(&c, err, errlen))
        goto fail;
    if (!field_is(c.line, c.len, "end")) {
        perr(&c, err, errlen, "expected \"end\"");
        goto fail;
    }
    if (c.p != c.end) {
        c.lineno++;
        perr(&c, err, errlen, "data after \"end\"");
        goto fail;
    }
    return 0;
fail:
    etls_store_manifest_free(m);
    return -1;
}

int etls_store_manifest_part(etls_manifest_t *m, const char *text, size_t len, uint32_t count, char *err,
                             size_t errlen)
{
    cursor_t c = {.p = text, .end = text + len, .what = "part"};
    size_t first = m->st.n_entries;
    if (len > ETLS_MANIFEST_PART_MAX)
        return perr(&c, err, errlen, "part larger than %zu bytes", ETLS_MANIFEST_PART_MAX);
    if (m->format != 3)
        return perr(&c, err, errlen, "parts belong to format 3 manifests");
    if (peek_line(&c, err, errlen))
        return -1;
    if (!field_is(c.line, c.len, ETLS_MANIFEST_PART_MAGIC))
        return perr(&c, err, errlen, "expected \"%s\"", ETLS_MANIFEST_PART_MAGIC);
    c.have = 0;
    if (parse_entries(&c, m, count == ETLS_MANIFEST_PART_ANY ? ETLS_MANIFEST_PART_ENTRIES : count, err, errlen))
        return -1;
    if (count != ETLS_MANIFEST_PART_ANY && m->st.n_entries - first != count)
        return perr(&c, err, errlen, "%zu entries where the manifest gives %u", m->st.n_entries - first, count);
    if (!field_is(c.line, c.len, "end"))
        return perr(&c, err, errlen, "expected \"end\"");
    if (c.p != c.end) {
        c.lineno++;
        return perr(&c, err, errlen, "data after \"end\"");
    }
    return 0;
}

int etls_store_manifest_parts_done(etls_manifest_t *m, char *err, size_t errlen)
{
    return etls_store_state_check(&m->st, err, errlen);
}

void etls_store_manifest_free(etls_manifest_t *m)
{
    etls_store_state_free(&m->st);
    free(m->parts);
    free(m->part_counts);
    free(m->blobs);
    free(m->files);
    free(m->objects);
    memset(m, 0, sizeof *m);
}
