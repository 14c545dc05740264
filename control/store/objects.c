/* Certificate files stored by content: DIR/objects/<sha256 hex>, written once and shared by
 * every version that holds the same chain or key, so a commit that changes one entry among
 * 100,000 writes two files, not 200,000 links. A version's manifest names its objects by
 * digest (which also checks them on load). Objects no kept version names are removed right
 * after the commit whose prune dropped the last version naming them (in-memory stamps, see
 * etls_objset_t), and at open. Never during a commit: an object is written (and fsynced)
 * before any manifest names it, so a crash leaves at most unreferenced objects, which the
 * collection at the next open removes. */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static size_t home_of(const etls_objset_t *o, const uint8_t d[32])
{
    uint64_t h;
    memcpy(&h, d, sizeof h); /* a digest: its bytes are already uniform */
    return (size_t)h & o->mask;
}

/* The slot holding d, or the empty slot where it would go. */
static size_t slot_of(const etls_objset_t *o, const uint8_t d[32])
{
    size_t i = home_of(o, d);
    while ((o->flags[i] & ETLS_OBJ_USED) && memcmp(o->d[i], d, 32))
        i = (i + 1) & o->mask;
    return i;
}

size_t etls_objset_find(const etls_objset_t *o, const uint8_t d[32])
{
    if (!o->n)
        return ETLS_OBJ_NONE;
    size_t i = slot_of(o, d);
    return o->flags[i] & ETLS_OBJ_USED ? i : ETLS_OBJ_NONE;
}

/* Load factor at most 1/2: probes stay short for 400,000 objects. */
int etls_objset_reserve(etls_objset_t *o, size_t n)
{
    if (o->flags && n * 2 <= o->mask + 1)
        return 0;
    size_t cap = o->flags ? o->mask + 1 : 1024;
    while (n * 2 > cap)
        cap *= 2;
    etls_objset_t g = {.grows = o->grows + 1};
    g.d = malloc(cap * sizeof *g.d);
    g.flags = calloc(cap, 1);
    g.last = malloc(cap * sizeof *g.last);
    if (!g.d || !g.flags || !g.last) {
        etls_objset_free(&g);
        return -1;
    }
    g.mask = cap - 1;
    for (size_t i = 0; o->flags && i <= o->mask; i++)
        if (o->flags[i] & ETLS_OBJ_USED) {
            size_t k = slot_of(&g, o->d[i]);
            memcpy(g.d[k], o->d[i], 32);
            g.flags[k] = o->flags[i];
            g.last[k] = o->last[i];
            g.n++;
        }
    etls_objset_free(o);
    *o = g;
    return 0;
}

int etls_objset_add(etls_objset_t *o, const uint8_t d[32], size_t *slot)
{
    if (etls_objset_reserve(o, o->n + 1) < 0)
        return -1;
    size_t k = slot_of(o, d);
    if (!(o->flags[k] & ETLS_OBJ_USED)) {
        memcpy(o->d[k], d, 32);
        o->flags[k] = ETLS_OBJ_USED;
        o->last[k] = 0;
        o->n++;
    }
    if (slot)
        *slot = k;
    return 0;
}

/* Linear probing's deletion: later members of the cluster that could live in the hole move
 * back into it, so every lookup still finds them without tombstones. */
void etls_objset_del(etls_objset_t *o, size_t i)
{
    if (i > o->mask || !(o->flags[i] & ETLS_OBJ_USED))
        return;
    o->flags[i] = 0;
    o->n--;
    for (size_t j = (i + 1) & o->mask; o->flags[j] & ETLS_OBJ_USED; j = (j + 1) & o->mask) {
        size_t h = home_of(o, o->d[j]);
        /* j's member may move to i unless its home lies cyclically in (i, j] */
        int stays = i <= j ? (h > i && h <= j) : (h > i || h <= j);
        if (stays)
            continue;
        memcpy(o->d[i], o->d[j], 32);
        o->flags[i] = o->flags[j];
        o->last[i] = o->last[j];
        o->flags[j] = 0;
        i = j;
    }
}

void etls_objset_free(etls_objset_t *o)
{
    free(o->d);
    free(o->flags);
    free(o->last);
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
        else if (etls_store_unhex(names[i], len, d) == 0 && etls_objset_add(&s->objs, d, NULL) < 0)
            rc = etls_store_fail(s, err, errlen, "out of memory");
    }
    etls_store_free_names(names, n);
    return rc ? -1 : 0;
}

int etls_store_object_put(etls_store_t *s, const uint8_t d[32], const void *data, size_t len, int sync, int *dirty,
                          size_t *slot)
{
    if ((*slot = etls_objset_find(&s->objs, d)) != ETLS_OBJ_NONE)
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
    if (etls_objset_add(&s->objs, d, slot) < 0)
        return -ENOMEM;
    s->objs.flags[*slot] |= ETLS_OBJ_VERIFIED; /* its digest was taken of these very bytes */
    return 0;
}

/* Stamps the objects version v names with v (the newest wins); -1 when its manifest cannot be
 * read. Objects a manifest names but objects/ lacks are no concern here: loading reports them. */
static int stamp(etls_store_t *s, uint64_t v)
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
    if (rc)
        return -1;
    for (size_t i = 0; i < m.n_objects; i++) {
        size_t k = etls_objset_find(&s->objs, m.objects[i]);
        if (k != ETLS_OBJ_NONE && s->objs.last[k] < v)
            s->objs.last[k] = v;
    }
    etls_store_manifest_free(&m);
    return 0;
}

void etls_store_objects_refs(etls_store_t *s)
{
    uint64_t *v;
    size_t nv;
    if (s->ofd < 0 || s->vfd < 0)
        return;
    if (etls_store_list_versions(s, &v, &nv)) {
        s->refs_unknown_upto = UINT64_MAX;
        return;
    }
    for (size_t i = 0; i < nv; i++)
        if (stamp(s, v[i]) < 0 && v[i] > s->refs_unknown_upto)
            s->refs_unknown_upto = v[i];
    free(v);
}

/* A scan of the table's stamps (a few MB for 200,000 objects), then one unlink per garbage
 * object: after a one-entry replace that is the two objects the pruned version held. */
void etls_store_objects_gc(etls_store_t *s, uint64_t oldest)
{
    if (s->ofd < 0 || !s->objs.n || (s->refs_unknown_upto && oldest <= s->refs_unknown_upto))
        return;
    etls_objset_t *o = &s->objs;
    size_t n = 0, cap = 0;
    uint8_t (*dead)[32] = NULL;
    for (size_t i = 0; i <= o->mask; i++)
        if ((o->flags[i] & ETLS_OBJ_USED) && o->last[i] < oldest) {
            if (n == cap) {
                uint8_t (*g)[32] = realloc(dead, (cap = cap ? cap * 2 : 64) * sizeof *g);
                if (!g)
                    break;
                dead = g;
            }
            memcpy(dead[n++], o->d[i], 32);
        }
    for (size_t i = 0; i < n; i++) {
        char hex[65];
        etls_store_hex(dead[i], hex);
        if (unlinkat(s->ofd, hex, 0) == 0 || errno == ENOENT)
            etls_objset_del(o, etls_objset_find(o, dead[i]));
    }
    free(dead);
}
