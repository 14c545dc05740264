/* Loading a version: the manifest, then every file it lists, each checked against its sha256
 * line. Nothing is returned from a version in which any file disagrees. */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct loader {
    etls_store_t *s;
    uint64_t v;
    int fd; /* versions/<v> */
    unsigned flags;
    char *err;
    size_t errlen;
} loader_t;

static int lfail(const loader_t *l, const char *file, const char *why)
{
    return etls_store_fail(l->s, l->err, l->errlen, "versions/%llu/%s: %s",
                           (unsigned long long)l->v, file, why);
}

static const char *read_error(int rc)
{
    if (rc == -ENOENT)
        return "missing";
    if (rc == -EFBIG)
        return "too large";
    return rc == -EINVAL ? "not a regular file" : strerror(-rc);
}

/* Reads one file and checks it; *out keeps the content (NUL-terminated) when out is set. */
static int read_checked(const loader_t *l, const etls_manifest_file_t *f, size_t max, char **out,
                        size_t *outlen, int secret)
{
    char *buf;
    size_t len;
    uint8_t sha[32];
    int rc = etls_store_read_file(l->fd, f->name, max, &buf, &len);
    if (rc)
        return lfail(l, f->name, read_error(rc));
    etls_store_sha(buf, len, sha);
    rc = memcmp(sha, f->sha256, 32) ? lfail(l, f->name, "sha256 mismatch") : 0;
    if (rc == 0 && out) {
        *out = buf;
        *outlen = len;
        return 0;
    }
    if (secret)
        OPENSSL_cleanse(buf, len);
    free(buf);
    return rc;
}

/* Format 2: objects/<hex>, checked against the digest that names it. */
static int read_object(const loader_t *l, const uint8_t d[32], char **out, size_t *outlen, int secret)
{
    char hex[65], where[80];
    etls_store_hex(d, hex);
    snprintf(where, sizeof where, "objects/%.12s...", hex);
    char *buf;
    size_t len;
    uint8_t sha[32];
    int rc = etls_store_read_file(l->s->ofd, hex, ETLS_STORE_PEM_MAX, &buf, &len);
    if (rc)
        return etls_store_fail(l->s, l->err, l->errlen, "version %llu: %s: %s", (unsigned long long)l->v, where,
                               read_error(rc));
    size_t slot = etls_objset_find(&l->s->objs, d);
    int trusted = (l->flags & ETLS_STORE_LOAD_TRUST_VERIFIED) && slot != ETLS_OBJ_NONE &&
                  (l->s->objs.flags[slot] & ETLS_OBJ_VERIFIED);
    if (trusted)
        memcpy(sha, d, 32);
    else
        etls_store_sha(buf, len, sha);
    if (memcmp(sha, d, 32) == 0 && slot != ETLS_OBJ_NONE)
        l->s->objs.flags[slot] |= ETLS_OBJ_VERIFIED;
    if (memcmp(sha, d, 32)) {
        if (secret)
            OPENSSL_cleanse(buf, len);
        free(buf);
        return etls_store_fail(l->s, l->err, l->errlen, "version %llu: %s: sha256 mismatch", (unsigned long long)l->v,
                               where);
    }
    if (out) {
        *out = buf;
        *outlen = len;
        return 0;
    }
    if (secret)
        OPENSSL_cleanse(buf, len);
    free(buf);
    return 0;
}

static int load_certs(const loader_t *l, etls_manifest_t *m, int keep, size_t *k)
{
    size_t o = 0;
    for (size_t i = 0; i < m->st.n_entries; i++) {
        etls_store_entry_t *e = &m->st.entries[i];
        for (size_t c = 0; c < e->n_certs; c++) {
            etls_store_cert_t *ct = &e->certs[c];
            const uint8_t *dc, *dk;
            if (m->format == 1) {
                const etls_manifest_file_t *fc = &m->files[(*k)++], *fk = &m->files[(*k)++];
                if (read_checked(l, fc, ETLS_STORE_PEM_MAX, keep ? &ct->chain_pem : NULL, &ct->chain_len, 0) ||
                    read_checked(l, fk, ETLS_STORE_PEM_MAX, keep ? &ct->key_pem : NULL, &ct->key_len, 1))
                    return -1;
                dc = fc->sha256;
                dk = fk->sha256;
            } else {
                if (o + 2 > m->n_objects)
                    return lfail(l, ETLS_MANIFEST_NAME, "fewer digests than certificates");
                dc = m->objects[o++];
                dk = m->objects[o++];
                if (read_object(l, dc, keep ? &ct->chain_pem : NULL, &ct->chain_len, 0) ||
                    read_object(l, dk, keep ? &ct->key_pem : NULL, &ct->key_len, 1))
                    return -1;
            }
            /* into one shared block, its digests known: copies and commits reuse both */
            if (keep && etls_store_cert_set(ct, ct->chain_pem, ct->chain_len, ct->key_pem, ct->key_len, NULL) < 0)
                return etls_store_fail(l->s, l->err, l->errlen, "out of memory");
            if (keep)
                etls_store_cert_known_digests(ct, dc, dk);
        }
    }
    return 0;
}

static int unhex(char ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* tickets.key: one line of 2 * ETLS_STORE_TICKET_LEN hex digits per ticket line. */
static int parse_ticket_keys(etls_store_state_t *st, const char *text, size_t len)
{
    const size_t line = 2 * ETLS_STORE_TICKET_LEN + 1;
    if (len != st->n_tickets * line)
        return -1;
    for (size_t t = 0; t < st->n_tickets; t++) {
        const char *p = text + t * line;
        if (p[line - 1] != '\n')
            return -1;
        for (size_t i = 0; i < ETLS_STORE_TICKET_LEN; i++) {
            int hi = unhex(p[2 * i]), lo = unhex(p[2 * i + 1]);
            if (hi < 0 || lo < 0)
                return -1;
            st->tickets[t].key[i] = (uint8_t)(hi << 4 | lo);
        }
    }
    return 0;
}

static int load_tickets(const loader_t *l, etls_manifest_t *m, size_t *k)
{
    if (m->st.n_tickets == 0)
        return 0;
    char *text;
    size_t len;
    if (read_checked(l, &m->files[(*k)++], 4096, &text, &len, 1))
        return -1;
    int rc = parse_ticket_keys(&m->st, text, len);
    OPENSSL_cleanse(text, len);
    free(text);
    return rc ? lfail(l, ETLS_MANIFEST_TICKETS, "malformed (want one 96-hex-digit line per ticket)") : 0;
}

static int check_blobs(const loader_t *l, const etls_manifest_t *m, size_t k)
{
    for (; k < m->n_files; k++) {
        uint8_t sha[32];
        int rc = etls_store_sha_file(l->fd, m->files[k].name, sha);
        if (rc)
            return lfail(l, m->files[k].name, read_error(rc));
        if (memcmp(sha, m->files[k].sha256, 32))
            return lfail(l, m->files[k].name, "sha256 mismatch");
    }
    return 0;
}

/* Format 3: each part's object, checked against its digest (or trusted as read_object does),
 * then its entries parsed in order; the whole state's checks once all are in. */
static int load_parts(const loader_t *l, etls_manifest_t *m)
{
    char why[240];
    for (size_t p = 0; p < m->n_parts; p++) {
        char *text, hex[65], where[80];
        size_t len;
        if (read_object(l, m->parts[p], &text, &len, 0))
            return -1;
        int rc = etls_store_manifest_part(m, text, len, m->part_counts[p], why, sizeof why);
        free(text);
        if (rc) {
            etls_store_hex(m->parts[p], hex);
            snprintf(where, sizeof where, "objects/%.12s... (part %zu)", hex, p + 1);
            return lfail(l, where, why);
        }
    }
    return etls_store_manifest_parts_done(m, why, sizeof why) ? lfail(l, ETLS_MANIFEST_NAME, why) : 0;
}

static int load_manifest(const loader_t *l, etls_manifest_t *m)
{
    char *text, why[240];
    size_t len;
    int rc = etls_store_read_file(l->fd, ETLS_MANIFEST_NAME, ETLS_MANIFEST_SIZE_MAX, &text, &len);
    if (rc)
        return lfail(l, ETLS_MANIFEST_NAME, read_error(rc));
    rc = etls_store_manifest_parse(text, len, m, why, sizeof why);
    free(text);
    if (rc)
        return lfail(l, ETLS_MANIFEST_NAME, why);
    if (m->st.version != l->v) {
        snprintf(why, sizeof why, "says version %llu", (unsigned long long)m->st.version);
        etls_store_manifest_free(m);
        return lfail(l, ETLS_MANIFEST_NAME, why);
    }
    if (m->format == 3 && load_parts(l, m)) {
        etls_store_manifest_free(m);
        return -1;
    }
    return 0;
}

int etls_store_load_version(etls_store_t *s, uint64_t v, etls_store_state_t *st, unsigned flags,
                            etls_manifest_file_t **files, size_t *n_files, char *err, size_t errlen)
{
    char name[24];
    loader_t l = {.s = s, .v = v, .flags = flags, .err = err, .errlen = errlen};
    snprintf(name, sizeof name, "%llu", (unsigned long long)v);
    l.fd = -1;
    if (v <= s->current && s->vfd >= 0)
        l.fd = openat(s->vfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (l.fd < 0)
        return etls_store_fail(s, err, errlen, "version %llu is not kept%s", (unsigned long long)v,
                               v == s->current ? " (versions/ lost the current version)" : "");
    etls_manifest_t m;
    size_t k = 0;
    int rc = load_manifest(&l, &m);
    if (rc == 0 && (load_certs(&l, &m, st != NULL, &k) || load_tickets(&l, &m, &k) ||
                    check_blobs(&l, &m, k))) {
        etls_store_manifest_free(&m);
        rc = -1;
    }
    close(l.fd);
    if (rc)
        return -1;
    if (st && m.format == 3 && v == s->current)
        etls_store_memo_loaded(s, &m.st, (const uint8_t(*)[32])m.parts, m.part_counts, m.n_parts);
    if (st) {
        if (m.format == 1) /* format 1 kept no per-entry version: this one stands in */
            for (size_t i = 0; i < m.st.n_entries; i++)
                m.st.entries[i].since = m.st.version;
        *st = m.st;
        memset(&m.st, 0, sizeof m.st);
    }
    if (files) {
        *files = m.files;
        *n_files = m.n_files;
        m.files = NULL;
    }
    etls_store_manifest_free(&m);
    return 0;
}

int etls_store_load(etls_store_t *s, uint64_t version, etls_store_state_t *st, char *err, size_t errlen)
{
    return etls_store_load_opts(s, version, st, 0, err, errlen);
}

int etls_store_load_opts(etls_store_t *s, uint64_t version, etls_store_state_t *st, unsigned flags, char *err,
                         size_t errlen)
{
    memset(st, 0, sizeof *st);
    if (version == 0)
        version = s->current;
    if (version == 0)
        return 0; /* nothing committed yet: the empty state, version 0 */
    return etls_store_load_version(s, version, st, flags, NULL, NULL, err, errlen);
}

int etls_store_file_cmp(const void *a, const void *b)
{
    return strcmp(((const etls_manifest_file_t *)a)->name, ((const etls_manifest_file_t *)b)->name);
}

void etls_store_set_files(etls_store_t *s, etls_manifest_file_t *files, size_t n)
{
    qsort(files, n, sizeof *files, etls_store_file_cmp);
    free(s->files);
    s->files = files;
    s->n_files = n;
}
