/* Certificate files stored by content: DIR/objects/<sha256 hex>, written once and shared by
 * every version that holds the same chain or key, so a commit that changes one entry among
 * 100,000 writes two files, not 200,000 links. A version's manifest names its objects by
 * digest (which also checks them on load). Objects no kept version names are removed by a
 * garbage collection that runs at open and after enough new objects, never during a commit:
 * an object is written (and fsynced) before any manifest names it, so a crash leaves at most
 * unreferenced objects, which the next collection removes. */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GC_MIN_ADDED 4096

static size_t slot_of(const etls_objset_t *o, const uint8_t d[32])
{
    uint64_t h;
    memcpy(&h, d, sizeof h); /* a digest: its bytes are already uniform */
    size_t i = (size_t)h & o->mask;
    while (o->used[i] && memcmp(o->d[i], d, 32))
        i = (i + 1) & o->mask;
    return i;
}

int etls_objset_has(const etls_objset_t *o, const uint8_t d[32])
{
    return o->n && o->used[slot_of(o, d)];
}

int etls_objset_add(etls_objset_t *o, const uint8_t d[32])
{
    if (!o->used || (o->n + 1) * 2 > o->mask + 1) {
        etls_objset_t g = {0};
        size_t cap = o->used ? (o->mask + 1) * 2 : 1024;
        g.d = malloc(cap * sizeof *g.d);
        g.used = calloc(cap, 1);
        if (!g.d || !g.used) {
            free(g.d);
            free(g.used);
            return -1;
        }
        g.mask = cap - 1;
        for (size_t i = 0; o->used && i <= o->mask; i++)
            if (o->used[i]) {
                size_t k = slot_of(&g, o->d[i]);
                memcpy(g.d[k], o->d[i], 32);
                g.used[k] = 1;
                g.n++;
            }
        etls_objset_free(o);
        *o = g;
    }
    size_t k = slot_of(o, d);
    if (!o->used[k]) {
        memcpy(o->d[k], d, 32);
        o->used[k] = 1;
        o->n++;
    }
    return 0;
}

void etls_objset_free(etls_objset_t *o)
{
    free(o->d);
    free(o->used);
    memset(o, 0, sizeof *o);
}

int etls_store_objects_open(etls_store_t *s, char *err, size_t errlen)
{
    int made = mkdirat(s->dfd, "objects", 0700) == 0;
    if (!made && errno != EEXIST)
        return etls_store_fail(s, err, errlen, "objects/: %s", strerror(errno));
    s->ofd = openat(s->dfd, "objects", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (s->ofd < 0)
        return etls_store_fail(s, err, errlen, "objects/: %s", strerror(errno));
    int rc = made ? etls_store_fsync_fd(s->dfd) : 0; /* the directory outlives a crash */
    if (rc)
        return etls_store_fail(s, err, errlen, "fsync: %s", strerror(-rc));
    char **names;
    size_t n;
    if ((rc = etls_store_list_names(s->ofd, &names, &n)))
        return etls_store_fail(s, err, errlen, "objects/: %s", strerror(-rc));
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint8_t d[32];
        size_t len = strlen(names[i]);
        if (len > 4 && !strcmp(names[i] + len - 4, ".tmp"))
            unlinkat(s->ofd, names[i], 0); /* a write cut short */
        else if (etls_store_unhex(names[i], len, d) == 0 && etls_objset_add(&s->objs, d) < 0)
            rc = etls_store_fail(s, err, errlen, "out of memory");
    }
    etls_store_free_names(names, n);
    return rc ? -1 : 0;
}

int etls_store_object_put(etls_store_t *s, const uint8_t d[32], const void *data, size_t len, int sync, int *dirty)
{
    if (etls_objset_has(&s->objs, d))
        return 0;
    char hex[65], tmp[72];
    etls_store_hex(d, hex);
    snprintf(tmp, sizeof tmp, "%s.tmp", hex);
    unlinkat(s->ofd, tmp, 0);
    int rc = etls_store_write_file_sync(s->ofd, tmp, data, len, sync);
    if (rc == 0 && renameat(s->ofd, tmp, s->ofd, hex))
        rc = -errno;
    if (rc) {
        unlinkat(s->ofd, tmp, 0);
        return rc;
    }
    *dirty = 1;
    s->objs_added++;
    return etls_objset_add(&s->objs, d) < 0 ? -ENOMEM : 0;
}

/* Adds every object version v names to set; -1 when its manifest cannot be read (then nothing
 * may be collected: it could name anything). */
static int referenced(etls_store_t *s, uint64_t v, etls_objset_t *set)
{
    char name[40], *text;
    size_t len;
    snprintf(name, sizeof name, "%llu/%s", (unsigned long long)v, ETLS_MANIFEST_NAME);
    if (etls_store_read_file(s->vfd, name, ETLS_MANIFEST_SIZE_MAX, &text, &len))
        return -1;
    etls_manifest_t m;
    char why[200];
    int rc = etls_store_manifest_parse(text, len, &m, why, sizeof why);
    free(text);
    for (size_t i = 0; rc == 0 && i < m.n_objects; i++)
        rc = etls_objset_add(set, m.objects[i]);
    if (rc == 0)
        etls_store_manifest_free(&m);
    return rc;
}

void etls_store_objects_gc(etls_store_t *s)
{
    if (s->ofd < 0 || s->vfd < 0)
        return;
    uint64_t *v;
    size_t nv;
    if (etls_store_list_versions(s, &v, &nv))
        return;
    etls_objset_t keep = {0};
    int ok = 1;
    for (size_t i = 0; ok && i < nv; i++)
        ok = referenced(s, v[i], &keep) == 0;
    free(v);
    char **names;
    size_t n;
    if (ok && etls_store_list_names(s->ofd, &names, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            uint8_t d[32];
            if (etls_store_unhex(names[i], strlen(names[i]), d) == 0 && !etls_objset_has(&keep, d))
                unlinkat(s->ofd, names[i], 0);
        }
        etls_store_free_names(names, n);
        etls_objset_free(&s->objs);
        s->objs = keep; /* what is left on disk */
        s->objs_added = 0;
        return;
    }
    etls_objset_free(&keep);
}

/* After a commit: collect once enough objects came in that pruned versions left some behind. */
void etls_store_objects_maybe_gc(etls_store_t *s)
{
    size_t threshold = s->objs.n / 4 > GC_MIN_ADDED ? s->objs.n / 4 : GC_MIN_ADDED;
    if (s->objs_added >= threshold)
        etls_store_objects_gc(s);
}
