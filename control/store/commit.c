/* Commits: the protocol at the top of store.c. The only step that changes what open() will
 * find is the rename of current.tmp over `current`; every earlier step writes garbage that
 * recovery removes, so a kill -9 anywhere leaves the old version or the new one. */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct commit {
    etls_store_t *s;
    uint64_t v;
    char tmp[40], final[32]; /* "<N>.tmp" and "<N>" under versions/ */
    int tfd;                 /* versions/<N>.tmp */
    int cfd;                 /* the current version's directory, for hard links; -1 if none */
    etls_manifest_file_t *files;
    size_t n_files, k;
    uint8_t (*objects)[32]; /* each cert's chain and key digest, manifest order */
    size_t *slots;          /* and where each is in s->objs */
    size_t n_objects;
    /* The parts the entries are cut into (format 3): digest, entry count, slot in s->objs, and
     * the text of those not stored yet (NULL for the others). */
    uint8_t (*parts)[32];
    uint32_t *part_counts;
    size_t *part_slots;
    char **part_text;
    size_t *part_len;
    size_t *part_entry, *part_obj; /* its first entry, and its first digest in objects */
    uint64_t (*part_fp)[2];        /* fingerprint (0, 0: uncacheable) */
    uint8_t *part_clean;           /* the last commit's part, unchanged: digests not taken */
    size_t n_parts;
    char *err;
    size_t errlen;
} commit_t;

static int cfail(const commit_t *c, const char *what, int rc)
{
    return etls_store_fail(c->s, c->err, c->errlen, "commit of version %llu: %s: %s",
                           (unsigned long long)c->v, what, strerror(-rc));
}

/* A file whose name and content match the current version's is linked, not rewritten: its
 * content is already durable, and a 100k-entry store then costs a commit per change, not per
 * entry. Any failure just falls back to writing. */
static int try_link(const commit_t *c, const etls_manifest_file_t *f)
{
    if (c->cfd < 0)
        return -1;
    const etls_manifest_file_t *old =
        bsearch(f, c->s->files, c->s->n_files, sizeof *f, etls_store_file_cmp);
    if (!old || memcmp(old->sha256, f->sha256, 32))
        return -1;
    return linkat(c->cfd, f->name, c->tfd, f->name, 0) ? -1 : 0;
}

static int put_file(commit_t *c, const void *data, size_t len)
{
    etls_manifest_file_t *f = &c->files[c->k++];
    etls_store_sha(data, len, f->sha256);
    if (try_link(c, f) == 0)
        return 0;
    int rc = etls_store_write_file(c->tfd, f->name, data, len);
    return rc ? cfail(c, f->name, rc) : 0;
}

/* A blob carried from the current version as it is: linked, its digest taken from the current
 * manifest (a 100k-entry snapshot.bin is neither rewritten nor hashed again). */
static int link_blob(commit_t *c)
{
    etls_manifest_file_t *f = &c->files[c->k++];
    const etls_manifest_file_t *old =
        c->cfd < 0 ? NULL : bsearch(f, c->s->files, c->s->n_files, sizeof *f, etls_store_file_cmp);
    if (!old)
        return etls_store_fail(c->s, c->err, c->errlen, "commit of version %llu: %s: not in the current version",
                               (unsigned long long)c->v, f->name);
    memcpy(f->sha256, old->sha256, 32);
    return linkat(c->cfd, f->name, c->tfd, f->name, 0) ? cfail(c, f->name, -errno) : 0;
}

/* A part's fingerprint: 128 bits mixed from what its text says of each entry, with each
 * certificate by the id of its shared PEM block (never reused, and the block is immutable), so
 * an unchanged part is known without formatting or hashing it. An entry whose PEM is a
 * caller's own buffer (no block) makes its part uncacheable. */
typedef struct fp {
    uint64_t h[2];
    int ok;
} fp_t;

static void fp_u64(fp_t *f, uint64_t x)
{
    f->h[0] = (f->h[0] ^ x) * 0x9e3779b97f4a7c15ull;
    f->h[0] ^= f->h[0] >> 31;
    f->h[1] = (f->h[1] + x) * 0xc2b2ae3d27d4eb4full;
    f->h[1] ^= f->h[1] >> 29;
}

static void fp_str(fp_t *f, const char *s)
{
    size_t n = strlen(s);
    fp_u64(f, n);
    for (size_t i = 0; i < n; i += 8) {
        uint64_t x = 0;
        memcpy(&x, s + i, n - i < 8 ? n - i : 8);
        fp_u64(f, x);
    }
}

static void fp_entry(fp_t *f, const etls_store_entry_t *e)
{
    fp_str(f, e->name);
    fp_u64(f, (uint64_t)e->is_default << 32 | e->n_names);
    fp_u64(f, e->since);
    for (size_t i = 0; i < e->n_names; i++)
        fp_str(f, e->names[i]);
    fp_u64(f, e->n_certs);
    for (size_t k = 0; k < e->n_certs; k++) {
        uint64_t id = etls_store_cert_id(&e->certs[k]);
        f->ok &= id != 0;
        fp_u64(f, id);
        fp_u64(f, e->certs[k].chain_len << 24 ^ e->certs[k].key_len);
        fp_str(f, e->certs[k].key_type);
    }
}

/* What an entry adds to a part's text, near enough to bound a part's size (it depends on the
 * entry alone, so the cuts are a function of the entries). */
static size_t entry_weight(const etls_store_entry_t *e)
{
    size_t w = 48 + strlen(e->name) + e->n_certs * 160;
    for (size_t i = 0; i < e->n_names; i++)
        w += strlen(e->names[i]) + 1;
    return w;
}

static const etls_part_memo_t *memo_find(const etls_store_t *s, const fp_t *f)
{
    if (!s->memo || !f->ok)
        return NULL;
    for (size_t i = (size_t)f->h[0] & s->memo_mask; s->memo[i].used; i = (i + 1) & s->memo_mask)
        if (s->memo[i].fp[0] == f->h[0] && s->memo[i].fp[1] == f->h[1])
            return &s->memo[i];
    return NULL;
}

/* Cuts the entries into parts: after an entry whose name hashes to a boundary (1 in 256, so a
 * part holds ~256 entries on average and a change to one entry, an insertion or a removal
 * touches one part, or two), or when a part reaches 1024 entries or ~256 KiB. At 100,000
 * entries that is ~400 parts of ~50 KB and a manifest of ~35 KB, where format 2 wrote and
 * fsynced 20 MB per commit. A part the last commit wrote with the same fingerprint is taken
 * as it is (clean); the others are formatted and hashed in dirty_parts. -1 on allocation
 * failure. */
static int plan_parts(commit_t *c, const etls_store_state_t *st)
{
    size_t cap = st->n_entries ? st->n_entries : 1; /* at most one part per entry */
    c->parts = malloc(cap * sizeof *c->parts);
    c->part_counts = malloc(cap * sizeof *c->part_counts);
    c->part_slots = malloc(cap * sizeof *c->part_slots);
    c->part_text = calloc(cap, sizeof *c->part_text);
    c->part_len = calloc(cap, sizeof *c->part_len);
    c->part_entry = malloc(cap * sizeof *c->part_entry);
    c->part_obj = malloc(cap * sizeof *c->part_obj);
    c->part_fp = malloc(cap * sizeof *c->part_fp);
    c->part_clean = calloc(cap, 1);
    if (!c->parts || !c->part_counts || !c->part_slots || !c->part_text || !c->part_len || !c->part_entry ||
        !c->part_obj || !c->part_fp || !c->part_clean)
        return -1;
    size_t start = 0, obj = 0, obj_start = 0, weight = 0;
    fp_t f = {{0x6a09e667f3bcc908ull, 0xbb67ae8584caa73bull}, 1};
    for (size_t i = 0; i < st->n_entries; i++) {
        const etls_store_entry_t *e = &st->entries[i];
        weight += entry_weight(e);
        fp_entry(&f, e);
        obj += 2 * e->n_certs;
        size_t count = i + 1 - start;
        if ((etls_store_name_hash(e->name) & 255) != 255 && count < ETLS_MANIFEST_PART_ENTRIES &&
            weight < ETLS_MANIFEST_PART_SOFT && i + 1 < st->n_entries)
            continue;
        size_t p = c->n_parts++;
        fp_u64(&f, count);
        c->part_counts[p] = (uint32_t)count;
        c->part_entry[p] = start;
        c->part_obj[p] = obj_start;
        c->part_fp[p][0] = f.ok ? f.h[0] : 0;
        c->part_fp[p][1] = f.ok ? f.h[1] : 0;
        const etls_part_memo_t *m = memo_find(c->s, &f);
        if (m) {
            memcpy(c->parts[p], m->d, 32);
            c->part_slots[p] = etls_objset_find(&c->s->objs, c->parts[p]);
            c->part_clean[p] = c->part_slots[p] != ETLS_OBJ_NONE; /* else: written again below */
        }
        start = i + 1;
        obj_start = obj;
        weight = 0;
        f = (fp_t){{0x6a09e667f3bcc908ull, 0xbb67ae8584caa73bull}, 1};
    }
    c->n_objects = obj;
    return 0;
}

/* The digests and slots of the certificates of part p; returns how many are not stored. */
static size_t part_objects(commit_t *c, etls_store_state_t *st, size_t p)
{
    size_t fresh = 0, j = c->part_obj[p];
    for (size_t i = c->part_entry[p]; i < c->part_entry[p] + c->part_counts[p]; i++)
        for (size_t k = 0; k < st->entries[i].n_certs; k++, j += 2) {
            etls_store_cert_digests(&st->entries[i].certs[k], c->objects[j], c->objects[j + 1]);
            for (size_t h = j; h < j + 2; h++)
                fresh += (c->slots[h] = etls_objset_find(&c->s->objs, c->objects[h])) == ETLS_OBJ_NONE;
        }
    return fresh;
}

static size_t part_n_objects(const commit_t *c, size_t p)
{
    return (p + 1 < c->n_parts ? c->part_obj[p + 1] : c->n_objects) - c->part_obj[p];
}

/* Every part not clean: its certificates' digests, its text and digest; returns the objects
 * (certificates and parts) not stored yet, or -1 on allocation failure. */
static long dirty_parts(commit_t *c, etls_store_state_t *st)
{
    size_t fresh = 0;
    for (size_t p = 0; p < c->n_parts; p++) {
        if (c->part_clean[p])
            continue;
        fresh += part_objects(c, st, p);
        char *text;
        size_t len;
        if (etls_store_part_format(&st->entries[c->part_entry[p]], c->part_counts[p],
                                   (const uint8_t(*)[32])c->objects + c->part_obj[p], &text, &len))
            return -1;
        etls_store_sha(text, len, c->parts[p]);
        c->part_slots[p] = etls_objset_find(&c->s->objs, c->parts[p]);
        if (c->part_slots[p] == ETLS_OBJ_NONE) {
            c->part_text[p] = text;
            c->part_len[p] = len;
            fresh++;
        } else {
            free(text);
        }
    }
    return (long)fresh;
}

/* After the table grew: the slots of everything this commit names. */
static void find_slots(commit_t *c)
{
    for (size_t p = 0; p < c->n_parts; p++) {
        c->part_slots[p] = etls_objset_find(&c->s->objs, c->parts[p]);
        for (size_t j = c->part_obj[p]; !c->part_clean[p] && j < c->part_obj[p] + part_n_objects(c, p); j++)
            c->slots[j] = etls_objset_find(&c->s->objs, c->objects[j]);
    }
}

/* The certificates of dirty parts, then the parts, as objects: only those not stored yet are
 * written, then objects/ is fsynced once, before any manifest names them. A new part's
 * certificates gain a reference each; what this version names is stamped with it (before
 * the commit point: a commit that fails later only keeps its objects a little longer, never
 * too short). A clean part costs its fingerprint and one lookup: a one-entry replace among
 * 100,000 formats, hashes and writes one part. */
static int put_objects(commit_t *c, etls_store_state_t *st)
{
    size_t n = 0;
    for (size_t i = 0; i < st->n_entries; i++)
        n += 2 * st->entries[i].n_certs;
    c->objects = malloc((n ? n : 1) * sizeof *c->objects);
    c->slots = malloc((n ? n : 1) * sizeof *c->slots);
    if (!c->objects || !c->slots || plan_parts(c, st) < 0)
        return cfail(c, "objects", -ENOMEM);
    long fresh = dirty_parts(c, st);
    if (fresh < 0)
        return cfail(c, "parts", -ENOMEM);
    etls_objset_t *o = &c->s->objs;
    unsigned grows = o->grows;
    if (fresh && etls_objset_reserve(o, o->n + (size_t)fresh) < 0)
        return cfail(c, "objects", -ENOMEM);
    if (o->grows != grows)
        find_slots(c); /* the slots moved */
    /* Many new objects (a batch of certificates) are written unsynced and made durable by one
     * syncfs; a few (a replace) are fsynced one by one, which costs less than flushing a whole
     * file system that may have other writers. Either way before any manifest names them. */
    int sync_each = fresh <= 16, dirty = 0, rc = 0;
    for (size_t p = 0; fresh && p < c->n_parts && rc == 0; p++) {
        size_t j = c->part_obj[p];
        for (size_t i = c->part_entry[p]; !c->part_clean[p] && i < c->part_entry[p] + c->part_counts[p] && rc == 0; i++)
            for (size_t k = 0; k < st->entries[i].n_certs && rc == 0; k++, j += 2) {
                etls_store_cert_t *ct = &st->entries[i].certs[k];
                if (c->slots[j] == ETLS_OBJ_NONE)
                    rc = etls_store_object_put(c->s, c->objects[j], ct->chain_pem, ct->chain_len, sync_each, &dirty,
                                               &c->slots[j]);
                if (rc == 0 && c->slots[j + 1] == ETLS_OBJ_NONE)
                    rc = etls_store_object_put(c->s, c->objects[j + 1], ct->key_pem, ct->key_len, sync_each, &dirty,
                                               &c->slots[j + 1]);
            }
    }
    for (size_t p = 0; p < c->n_parts && rc == 0; p++)
        if (c->part_text[p])
            rc = etls_store_object_put(c->s, c->parts[p], c->part_text[p], c->part_len[p], sync_each, &dirty,
                                       &c->part_slots[p]);
    if (rc == 0 && dirty && !sync_each && syncfs(c->s->ofd))
        rc = -errno;
    if (rc == 0 && dirty)
        rc = etls_store_fsync_fd(c->s->ofd);
    if (rc)
        return cfail(c, "objects/", rc);
    for (size_t p = 0; p < c->n_parts; p++) {
        o->last[c->part_slots[p]] = c->v;
        if (c->part_clean[p])
            continue;
        etls_store_part_added(c->s, c->part_slots[p], (const uint8_t(*)[32])c->objects + c->part_obj[p],
                              part_n_objects(c, p));
        for (size_t j = c->part_obj[p]; j < c->part_obj[p] + part_n_objects(c, p); j++)
            o->last[c->slots[j]] = c->v;
    }
    return 0;
}

/* After the commit point: this commit's parts are what the next one compares against. A
 * failure only loses the memo (the next commit formats every part). */
static void remember_parts(commit_t *c)
{
    etls_store_t *s = c->s;
    free(s->memo);
    s->memo = NULL;
    size_t cap = 64;
    while (cap < c->n_parts * 2)
        cap *= 2;
    if (!(s->memo = calloc(cap, sizeof *s->memo)))
        return;
    s->memo_mask = cap - 1;
    for (size_t p = 0; p < c->n_parts; p++) {
        if (!c->part_fp[p][0] && !c->part_fp[p][1])
            continue; /* uncacheable */
        size_t i = (size_t)c->part_fp[p][0] & s->memo_mask;
        while (s->memo[i].used)
            i = (i + 1) & s->memo_mask;
        s->memo[i] = (etls_part_memo_t){.used = 1, .fp = {c->part_fp[p][0], c->part_fp[p][1]}};
        memcpy(s->memo[i].d, c->parts[p], 32);
    }
}

static void free_parts(commit_t *c)
{
    for (size_t p = 0; c->part_text && p < c->n_parts; p++)
        free(c->part_text[p]);
    free(c->parts);
    free(c->part_counts);
    free(c->part_slots);
    free(c->part_text);
    free(c->part_len);
    free(c->part_entry);
    free(c->part_obj);
    free(c->part_fp);
    free(c->part_clean);
}

void etls_store_memo_loaded(etls_store_t *s, const etls_store_state_t *st, const uint8_t (*parts)[32],
                            const uint32_t *counts, size_t n)
{
    commit_t c = {.s = s};
    etls_part_memo_t *keep = s->memo;
    s->memo = NULL; /* plan against nothing: every part comes out unknown, with its fingerprint */
    int same = plan_parts(&c, st) == 0 && c.n_parts == n;
    for (size_t p = 0; same && p < n; p++)
        same = c.part_counts[p] == counts[p];
    s->memo = keep;
    if (same && n) { /* the cuts agree with the manifest's: these parts are what a commit would write */
        memcpy(c.parts, parts, n * sizeof *parts);
        remember_parts(&c);
    }
    free_parts(&c);
}

static int put_tickets(commit_t *c, const etls_store_state_t *st)
{
    static const char hex[] = "0123456789abcdef";
    const size_t line = 2 * ETLS_STORE_TICKET_LEN + 1;
    char text[ETLS_STORE_MAX_TICKETS * (2 * ETLS_STORE_TICKET_LEN + 1)];
    if (st->n_tickets == 0)
        return 0;
    for (size_t t = 0; t < st->n_tickets; t++) {
        char *p = text + t * line;
        for (size_t i = 0; i < ETLS_STORE_TICKET_LEN; i++) {
            p[2 * i] = hex[st->tickets[t].key[i] >> 4];
            p[2 * i + 1] = hex[st->tickets[t].key[i] & 15];
        }
        p[line - 1] = '\n';
    }
    int rc = put_file(c, text, st->n_tickets * line);
    OPENSSL_cleanse(text, sizeof text);
    return rc;
}

static int put_manifest(commit_t *c, const etls_store_state_t *st, const etls_manifest_blob_t *names,
                        size_t n_blobs)
{
    char *text;
    size_t len;
    if (etls_store_manifest_format_parts(st, (const uint8_t(*)[32])c->parts, c->part_counts, c->n_parts, names,
                                         n_blobs, c->files, c->n_files, &text, &len))
        return cfail(c, ETLS_MANIFEST_NAME, -ENOMEM);
    int rc = etls_store_write_file(c->tfd, ETLS_MANIFEST_NAME, text, len);
    free(text);
    return rc ? cfail(c, ETLS_MANIFEST_NAME, rc) : 0;
}

/* versions/<N>.tmp with every file, manifest last, all fsynced. */
static int build(commit_t *c, etls_store_state_t *st, const etls_store_blob_t *blobs,
                 const etls_manifest_blob_t *names, size_t n_blobs)
{
    int rc;
    etls_store_rm_tree(c->s->vfd, c->tmp); /* a failed commit of this process may have left it */
    etls_store_rm_tree(c->s->vfd, c->final);
    if (mkdirat(c->s->vfd, c->tmp, 0700))
        return cfail(c, c->tmp, -errno);
    c->tfd = openat(c->s->vfd, c->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (c->tfd < 0)
        return cfail(c, c->tmp, -errno);
    if (c->s->current) {
        char cur[32];
        snprintf(cur, sizeof cur, "%llu", (unsigned long long)c->s->current);
        c->cfd = openat(c->s->vfd, cur, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    }
    if (put_objects(c, st))
        return -1;
    if (put_tickets(c, st))
        return -1;
    for (size_t i = 0; i < n_blobs; i++)
        if (blobs[i].same_as_current ? link_blob(c) : put_file(c, blobs[i].data, blobs[i].len))
            return -1;
    if (put_manifest(c, st, names, n_blobs))
        return -1;
    if ((rc = etls_store_fsync_fd(c->tfd)))
        return cfail(c, c->tmp, rc);
    return 0;
}

/* Points `current` at versions/<v> (or removes it for v == 0) by renaming a fresh symlink
 * over it, then makes that durable. */
static int point_current(etls_store_t *s, uint64_t v)
{
    char target[40];
    snprintf(target, sizeof target, "versions/%llu", (unsigned long long)v);
    if (v == 0)
        return unlinkat(s->dfd, "current", 0) ? -errno : etls_store_fsync_fd(s->dfd);
    if (unlinkat(s->dfd, "current.tmp", 0) && errno != ENOENT)
        return -errno;
    if (symlinkat(target, s->dfd, "current.tmp") || renameat(s->dfd, "current.tmp", s->dfd, "current"))
        return -errno;
    return etls_store_fsync_fd(s->dfd);
}

/* Renames the directory into place and switches `current`. On failure after the switch the
 * old pointer is restored as well as can be, so the handle and the disk keep agreeing. */
static int publish(commit_t *c)
{
    int rc;
    if (renameat(c->s->vfd, c->tmp, c->s->vfd, c->final))
        return cfail(c, "rename", -errno);
    if ((rc = etls_store_fsync_fd(c->s->vfd)))
        return cfail(c, "fsync versions/", rc);
    if ((rc = point_current(c->s, c->v))) {
        point_current(c->s, c->s->current);
        return cfail(c, "switching current", rc);
    }
    return 0;
}

static int ensure_versions(etls_store_t *s, char *err, size_t errlen)
{
    if (s->vfd >= 0)
        return 0;
    if (mkdirat(s->dfd, "versions", 0700) && errno != EEXIST)
        return etls_store_fail(s, err, errlen, "versions/: %s", strerror(errno));
    s->vfd = openat(s->dfd, "versions", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (s->vfd < 0)
        return etls_store_fail(s, err, errlen, "versions/: %s", strerror(errno));
    int rc = etls_store_fsync_fd(s->dfd);
    return rc ? etls_store_fail(s, err, errlen, "fsync: %s", strerror(-rc)) : 0;
}

/* Retired keys are in no snapshot any more: dropping them here is what retires them. */
static void normalize(etls_store_state_t *st)
{
    size_t k = 0;
    for (size_t i = 0; i < st->n_tickets && i < ETLS_STORE_MAX_TICKETS; i++)
        if (st->tickets[i].state != ETLS_TICKET_RETIRED)
            st->tickets[k++] = st->tickets[i];
    if (k < ETLS_STORE_MAX_TICKETS)
        OPENSSL_cleanse(&st->tickets[k], (ETLS_STORE_MAX_TICKETS - k) * sizeof st->tickets[0]);
    if (st->n_tickets <= ETLS_STORE_MAX_TICKETS)
        st->n_tickets = k;
    st->comment[sizeof st->comment - 1] = 0;
    for (char *p = st->comment; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

static int check_blobs(const etls_store_t *s, const etls_store_blob_t *blobs, size_t n,
                       etls_manifest_blob_t *names, char *err, size_t errlen)
{
    if (n > ETLS_MANIFEST_MAX_BLOBS)
        return etls_store_fail(s, err, errlen, "%zu blobs (at most %d)", n, ETLS_MANIFEST_MAX_BLOBS);
    for (size_t i = 0; i < n; i++) {
        if (!etls_store_blob_name_ok(blobs[i].file) || (blobs[i].len && !blobs[i].data))
            return etls_store_fail(s, err, errlen, "bad blob \"%s\"", blobs[i].file ? blobs[i].file : "");
        for (size_t k = 0; k < i; k++)
            if (strcmp(names[k], blobs[i].file) == 0)
                return etls_store_fail(s, err, errlen, "blob %s given twice", blobs[i].file);
        snprintf(names[i], sizeof names[i], "%s", blobs[i].file);
    }
    return 0;
}

static int validate(etls_store_t *s, etls_store_state_t *st, const etls_store_blob_t *blobs,
                    size_t n_blobs, etls_manifest_blob_t *names, char *err, size_t errlen)
{
    char why[240];
    normalize(st);
    if (etls_store_state_check(st, why, sizeof why))
        return etls_store_fail(s, err, errlen, "refusing commit: %s", why);
    for (size_t i = 0; i < st->n_entries; i++)
        for (size_t k = 0; k < st->entries[i].n_certs; k++) {
            const etls_store_cert_t *ct = &st->entries[i].certs[k];
            if ((ct->chain_len && !ct->chain_pem) || (ct->key_len && !ct->key_pem) ||
                ct->chain_len > ETLS_STORE_PEM_MAX || ct->key_len > ETLS_STORE_PEM_MAX)
                return etls_store_fail(s, err, errlen, "refusing commit: entry %s cert %zu: bad PEM",
                                       st->entries[i].name, k);
        }
    return check_blobs(s, blobs, n_blobs, names, err, errlen);
}

static void finish(commit_t *c, int ok)
{
    if (c->tfd >= 0)
        close(c->tfd);
    if (c->cfd >= 0)
        close(c->cfd);
    free(c->objects);
    free(c->slots);
    free_parts(c);
    if (!ok) {
        etls_store_rm_tree(c->s->vfd, c->tmp);
        etls_store_rm_tree(c->s->vfd, c->final);
        free(c->files);
    }
}

int etls_store_commit(etls_store_t *s, etls_store_state_t *st, const etls_store_blob_t *blobs,
                      size_t n_blobs, char *err, size_t errlen)
{
    etls_manifest_blob_t names[ETLS_MANIFEST_MAX_BLOBS];
    commit_t c = {.s = s, .v = s->current + 1, .tfd = -1, .cfd = -1, .err = err, .errlen = errlen};
    if (validate(s, st, blobs, n_blobs, names, err, errlen) || ensure_versions(s, err, errlen))
        return -1;
    if (etls_store_manifest_files(st, 2, names, n_blobs, &c.files, &c.n_files))
        return etls_store_fail(s, err, errlen, "out of memory");
    snprintf(c.tmp, sizeof c.tmp, "%llu.tmp", (unsigned long long)c.v);
    snprintf(c.final, sizeof c.final, "%llu", (unsigned long long)c.v);
    uint64_t old_version = st->version, old_time = st->time;
    st->version = c.v;
    st->time = (uint64_t)time(NULL);
    int rc = build(&c, st, blobs, names, n_blobs);
    if (rc == 0)
        rc = publish(&c);
    if (rc == 0)
        remember_parts(&c);
    finish(&c, rc == 0);
    if (rc) {
        st->version = old_version;
        st->time = old_time;
        return -1;
    }
    s->current = c.v;
    etls_store_set_files(s, c.files, c.n_files);
    etls_store_objects_gc(s, etls_store_prune(s));
    return 0;
}

uint64_t etls_store_prune(etls_store_t *s)
{
    uint64_t *v, oldest = UINT64_MAX;
    size_t n;
    if (etls_store_list_versions(s, &v, &n))
        return 0; /* nothing known: nothing may be collected */
    for (size_t i = 0; i < n && i < s->keep; i++)
        oldest = v[i]; /* newest first */
    for (size_t i = s->keep; i < n; i++) {
        char name[32], dead[48];
        snprintf(name, sizeof name, "%llu", (unsigned long long)v[i]);
        snprintf(dead, sizeof dead, "%llu.old.tmp", (unsigned long long)v[i]);
        /* Renamed first, so a prune cut short leaves a *.tmp, never a half version. */
        if (renameat(s->vfd, name, s->vfd, dead) == 0)
            etls_store_rm_tree(s->vfd, dead);
        else
            oldest = v[i]; /* still there, still naming its objects */
    }
    free(v);
    return oldest;
}
