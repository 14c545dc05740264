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
    g.refs = malloc(cap * sizeof *g.refs);
    if (!g.d || !g.flags || !g.last || !g.refs) {
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
            g.refs[k] = o->refs[i];
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
        o->refs[k] = 0;
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
        o->refs[i] = o->refs[j];
        o->flags[j] = 0;
        i = j;
    }
}

void etls_objset_free(etls_objset_t *o)
{
    free(o->d);
    free(o->flags);
    free(o->last);
    free(o->refs);
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

/* Reads part d from objects/ into *tm (a format-3 manifest of its own): its entries and the
 * certificate digests it names. -1 when it cannot be read or parsed. */
static int read_part(etls_store_t *s, const uint8_t d[32], uint32_t count, etls_manifest_t *tm)
{
    char hex[65], *text, why[200];
    size_t len;
    memset(tm, 0, sizeof *tm);
    tm->format = 3;
    etls_store_hex(d, hex);
    if (etls_store_read_file(s->ofd, hex, ETLS_MANIFEST_PART_MAX, &text, &len))
        return -1;
    int rc = etls_store_manifest_part(tm, text, len, count, why, sizeof why);
    free(text);
    if (rc)
        etls_store_manifest_free(tm);
    return rc;
}

void etls_store_part_added(etls_store_t *s, size_t part_slot, const uint8_t (*objects)[32], size_t n)
{
    etls_objset_t *o = &s->objs;
    if (part_slot > o->mask || (o->flags[part_slot] & ETLS_OBJ_PART))
        return; /* counted already */
    o->flags[part_slot] |= ETLS_OBJ_PART;
    for (size_t i = 0; i < n; i++) {
        size_t k = etls_objset_find(o, objects[i]);
        if (k != ETLS_OBJ_NONE)
            o->refs[k]++;
    }
}

/* Stamps the objects version v names with v (the newest wins) and counts the certificates of
 * each part the first time it is seen; -1 when what v names cannot be known (its manifest or
 * a part unreadable). Objects a manifest names but objects/ lacks are no concern here:
 * loading reports them. */
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
    etls_objset_t *o = &s->objs;
    for (size_t p = 0; rc == 0 && p < m.n_parts; p++) {
        size_t k = etls_objset_find(o, m.parts[p]);
        if (k == ETLS_OBJ_NONE) {
            rc = -1; /* what it names is unknown */
            break;
        }
        if (o->last[k] < v)
            o->last[k] = v;
        if (o->flags[k] & ETLS_OBJ_PART)
            continue; /* shared with a version seen before */
        etls_manifest_t tm;
        if (read_part(s, m.parts[p], m.part_counts[p], &tm)) {
            rc = -1;
            break;
        }
        etls_store_part_added(s, k, (const uint8_t(*)[32])tm.objects, tm.n_objects);
        etls_store_manifest_free(&tm);
    }
    /* formats 1-2 name their certificates directly */
    for (size_t i = 0; rc == 0 && i < m.n_objects; i++) {
        size_t k = etls_objset_find(o, m.objects[i]);
        if (k != ETLS_OBJ_NONE && o->last[k] < v)
            o->last[k] = v;
    }
    etls_store_manifest_free(&m);
    return rc ? -1 : 0;
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

/* The digests of the objects `pred` picks, copied out (deleting moves slots). */
static size_t pick(const etls_objset_t *o, int (*pred)(const etls_objset_t *, size_t, uint64_t), uint64_t oldest,
                   uint8_t (**out)[32])
{
    size_t n = 0, cap = 0;
    uint8_t (*dead)[32] = NULL;
    for (size_t i = 0; i <= o->mask; i++)
        if ((o->flags[i] & ETLS_OBJ_USED) && pred(o, i, oldest)) {
            if (n == cap) {
                uint8_t (*g)[32] = realloc(dead, (cap = cap ? cap * 2 : 64) * sizeof *g);
                if (!g)
                    break;
                dead = g;
            }
            memcpy(dead[n++], o->d[i], 32);
        }
    *out = dead;
    return n;
}

static int dead_part(const etls_objset_t *o, size_t i, uint64_t oldest)
{
    return (o->flags[i] & ETLS_OBJ_PART) && o->last[i] < oldest;
}

static int dead_object(const etls_objset_t *o, size_t i, uint64_t oldest)
{
    return !(o->flags[i] & ETLS_OBJ_PART) && o->last[i] < oldest && o->refs[i] == 0;
}

static void unlink_object(etls_store_t *s, const uint8_t d[32])
{
    char hex[65];
    etls_store_hex(d, hex);
    if (unlinkat(s->ofd, hex, 0) == 0 || errno == ENOENT)
        etls_objset_del(&s->objs, etls_objset_find(&s->objs, d));
}

/* Scans of the table (a few MB for 200,000 objects), then one unlink per garbage object:
 * after a one-entry replace, the part and the two certificates only the pruned version held.
 * A dead part is read back to release its certificates; one that cannot be read stays (with
 * its certificates), which only delays their collection. */
void etls_store_objects_gc(etls_store_t *s, uint64_t oldest)
{
    if (s->ofd < 0 || !s->objs.n || (s->refs_unknown_upto && oldest <= s->refs_unknown_upto))
        return;
    etls_objset_t *o = &s->objs;
    uint8_t (*dead)[32];
    size_t n = pick(o, dead_part, oldest, &dead);
    for (size_t i = 0; i < n; i++) {
        etls_manifest_t tm;
        if (read_part(s, dead[i], ETLS_MANIFEST_PART_ANY, &tm))
            continue;
        for (size_t j = 0; j < tm.n_objects; j++) {
            size_t k = etls_objset_find(o, tm.objects[j]);
            if (k != ETLS_OBJ_NONE && o->refs[k])
                o->refs[k]--;
        }
        etls_store_manifest_free(&tm);
        unlink_object(s, dead[i]);
    }
    free(dead);
    n = pick(o, dead_object, oldest, &dead);
    for (size_t i = 0; i < n; i++)
        unlink_object(s, dead[i]);
    free(dead);
}
