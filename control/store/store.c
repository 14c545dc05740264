/* The state directory: opening, recovery after a crash, history and paths. Commits are in
 * commit.c, loading and verification in load.c, the manifest text in manifest.c/format.c.
 *
 * Manifest format (DIR/versions/<N>/manifest), version 1. Text, one record per line, every
 * line ended by '\n', fields separated by exactly one space, numbers decimal without leading
 * zeros, hex lower-case; the parser refuses anything else, including control characters:
 *
 *   edgetls-state 1
 *   version N                         N >= 1, equal to the directory name
 *   time T                            unix seconds of the commit
 *   comment TEXT                      one line, <= 255 bytes, control chars were replaced by '?'
 *   entry NAME default=0|1 names=a,b  per entry ([A-Za-z0-9._-]{1,64}, not starting with '.');
 *                                     0..256 SNI names of 1..253 printable bytes, no ','
 *   cert NAME.I.chain.pem NAME.I.key.pem KEYTYPE
 *                                     1..2 per entry, right after it, I = 0, 1; KEYTYPE is
 *                                     [A-Za-z0-9._-]{1,15} or "-" when empty
 *   ticket STATE CREATED ACTIVATED    0..8; STATE pending|active|decrypt (at most one active);
 *                                     the 48-byte keys are in tickets.key, one line of 96 hex
 *                                     digits per ticket, same order
 *   blob FILE                         0..64 extra files (e.g. snapshot.bin)
 *   sha256 FILE HEX                   one per file above, in that order: each cert's chain
 *                                     then key, tickets.key (when there are tickets), blobs
 *   end                               a manifest without it was torn: refused
 *
 * Format 2 ("edgetls-state 2"): "entry NAME default=0|1 since=V names=..." (V: the version
 * that last changed the entry) and "cert CHAINSHA KEYSHA KEYTYPE", the two digests naming
 * objects/<hex> (64 lower-case hex digits: no path can be formed); the sha256 lines then cover
 * only tickets.key and blobs.
 *
 * Format 3 ("edgetls-state 3", what commits write): in place of the entries, "part SHA COUNT"
 * lines naming objects/<SHA>, each a part holding COUNT (1..1024) consecutive entries in
 * format 2's entry and cert lines between "edgetls-part 1" and "end". Commits cut parts after
 * an entry whose name hashes to 1 in 256, or at 1024 entries or ~256 KiB, so a change to one
 * entry among 100,000 writes one ~50 KB part and a ~30 KB manifest, not a 20 MB manifest.
 *
 * Bounds: 200,000 entries, lines of 66,000 bytes, 512 MiB per manifest.
 *
 * Commit protocol (commit.c): versions/<N>.tmp/ is created 0700, every file written O_EXCL
 * 0600 and fsynced (or hard-linked from the current version when its content is unchanged),
 * the manifest last, the directory fsynced, renamed to versions/<N>, versions/ fsynced, then
 * a symlink current.tmp -> versions/<N> is renamed over `current` and DIR fsynced. The
 * rename of `current` is the commit point; everything before it is garbage that open()
 * removes: `*.tmp` anywhere and versions/<M> with M > current. Old versions are pruned by
 * renaming them to versions/<M>.old.tmp first, so a half-removed version is never listed. */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int etls_store_fail(const etls_store_t *s, char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        int n = snprintf(err, errlen, "state directory %s: ", s->dir);
        if (n >= 0 && (size_t)n < errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

/* A freshly created DIR must itself survive a crash, or the first commit could vanish. */
static int fsync_parent(const char *dir)
{
    char *copy = strdup(dir);
    if (!copy)
        return -ENOMEM;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return -errno;
    int rc = etls_store_fsync_fd(fd);
    close(fd);
    return rc;
}

static int open_dir(etls_store_t *s, char *err, size_t errlen)
{
    if (mkdir(s->dir, 0700) == 0) {
        int rc = fsync_parent(s->dir);
        if (rc)
            return etls_store_fail(s, err, errlen, "fsync of the parent: %s", strerror(-rc));
    } else if (errno != EEXIST) {
        return etls_store_fail(s, err, errlen, "cannot create: %s", strerror(errno));
    }
    s->dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dfd < 0)
        return etls_store_fail(s, err, errlen, "cannot open: %s", strerror(errno));
    struct stat sb;
    if (fstat(s->dfd, &sb))
        return etls_store_fail(s, err, errlen, "stat: %s", strerror(errno));
    /* Whoever can write DIR can swap `current` or a key file: refuse rather than trust it. */
    if (sb.st_uid != geteuid())
        return etls_store_fail(s, err, errlen, "owned by uid %u, not by this process (uid %u)",
                               (unsigned)sb.st_uid, (unsigned)geteuid());
    if (sb.st_mode & 022)
        return etls_store_fail(s, err, errlen, "group or world writable (mode %04o); chmod 700 it",
                               (unsigned)(sb.st_mode & 07777));
    /* Two daemons committing into one directory would interleave versions. */
    if (flock(s->dfd, LOCK_EX | LOCK_NB))
        return etls_store_fail(s, err, errlen, "%s", errno == EWOULDBLOCK
                                                         ? "in use by another process (locked)"
                                                         : strerror(errno));
    return 0;
}

static int read_current(etls_store_t *s, char *err, size_t errlen)
{
    char link[64];
    ssize_t n = readlinkat(s->dfd, "current", link, sizeof link - 1);
    if (n < 0 && errno == ENOENT)
        return 0;
    if (n < 0)
        return etls_store_fail(s, err, errlen, "current: %s",
                               errno == EINVAL ? "not a symlink" : strerror(errno));
    link[n] = 0;
    if (strncmp(link, "versions/", 9) != 0 || etls_store_parse_version(link + 9, &s->current))
        return etls_store_fail(s, err, errlen, "current: points to \"%s\", not versions/<N>", link);
    return 0;
}

/* Removes every "*.tmp" in fd: temporaries of a commit or a prune that was cut short. */
static int remove_tmp(etls_store_t *s, int fd, const char *where, char *err, size_t errlen)
{
    char **names;
    size_t n;
    int rc = etls_store_list_names(fd, &names, &n);
    if (rc)
        return etls_store_fail(s, err, errlen, "%s: %s", where, strerror(-rc));
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t len = strlen(names[i]);
        if (len > 4 && strcmp(names[i] + len - 4, ".tmp") == 0 &&
            (rc = etls_store_rm_tree(fd, names[i])))
            etls_store_fail(s, err, errlen, "%s%s: cannot remove: %s", where, names[i], strerror(-rc));
    }
    etls_store_free_names(names, n);
    return rc ? -1 : 0;
}

/* Versions above current were renamed into place but never made current. With no current
 * at all only version 1 can be such a leftover; anything else means `current` was lost, and
 * deleting the versions would destroy the operator's only copy. */
static int remove_future(etls_store_t *s, char *err, size_t errlen)
{
    char **names;
    size_t n;
    int rc = etls_store_list_names(s->vfd, &names, &n);
    if (rc)
        return etls_store_fail(s, err, errlen, "versions/: %s", strerror(-rc));
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint64_t v;
        if (etls_store_parse_version(names[i], &v) || v <= s->current)
            continue;
        if (s->current == 0 && v != 1)
            rc = etls_store_fail(s, err, errlen, "current is missing but versions/%s exists; "
                                 "restore the current symlink by hand", names[i]);
        else if ((rc = etls_store_rm_tree(s->vfd, names[i])))
            rc = etls_store_fail(s, err, errlen, "versions/%s: cannot remove: %s", names[i],
                                 strerror(-rc));
    }
    etls_store_free_names(names, n);
    return rc ? -1 : 0;
}

static int recover(etls_store_t *s, char *err, size_t errlen)
{
    if (remove_tmp(s, s->dfd, "", err, errlen))
        return -1;
    s->vfd = openat(s->dfd, "versions", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (s->vfd < 0 && errno == ENOENT && s->current == 0)
        return 0;
    if (s->vfd < 0)
        return etls_store_fail(s, err, errlen, "versions/: %s", strerror(errno));
    if (remove_tmp(s, s->vfd, "versions/", err, errlen) || remove_future(s, err, errlen))
        return -1;
    /* The removals need not be durable: a repeat after a crash removes the same things. */
    etls_store_prune(s);
    return 0;
}

int etls_store_open(etls_store_t **out, const char *dir, unsigned keep, char *err, size_t errlen)
{
    *out = NULL;
    etls_store_t *s = calloc(1, sizeof *s);
    if (!s || !(s->dir = strdup(dir ? dir : ""))) {
        free(s);
        snprintf(err, errlen, "state directory: out of memory");
        return -1;
    }
    s->dfd = s->vfd = s->ofd = -1;
    s->keep = keep;
    int rc = -1;
    if (!dir || !dir[0])
        etls_store_fail(s, err, errlen, "empty path");
    else if (keep < 2)
        etls_store_fail(s, err, errlen, "keep must be at least 2 (got %u)", keep);
    else if (open_dir(s, err, errlen) == 0 && read_current(s, err, errlen) == 0 &&
             recover(s, err, errlen) == 0 && etls_store_objects_open(s, err, errlen) == 0)
        rc = 0;
    /* Refuse a damaged current version here, before anything is served from it. */
    if (rc == 0 && s->current) {
        etls_manifest_file_t *files;
        size_t n;
        rc = etls_store_load_version(s, s->current, NULL, 0, &files, &n, err, errlen);
        if (rc == 0)
            etls_store_set_files(s, files, n);
    }
    if (rc == 0) { /* objects a crash or pruned versions left behind */
        etls_store_objects_refs(s);
        etls_store_objects_gc(s, etls_store_prune(s));
    }
    if (rc) {
        etls_store_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

void etls_store_close(etls_store_t *s)
{
    if (!s)
        return;
    if (s->vfd >= 0)
        close(s->vfd);
    if (s->ofd >= 0)
        close(s->ofd);
    etls_objset_free(&s->objs);
    if (s->dfd >= 0)
        close(s->dfd); /* releases the flock */
    free(s->files);
    free(s->memo);
    free(s->dir);
    free(s);
}

uint64_t etls_store_version(const etls_store_t *s)
{
    return s->current;
}

static void version_info(etls_store_t *s, uint64_t v, etls_store_version_info_t *info)
{
    char name[32], msg[200], *text = NULL;
    size_t len;
    etls_manifest_t m;
    memset(info, 0, sizeof *info);
    info->version = v;
    snprintf(name, sizeof name, "%llu/%s", (unsigned long long)v, ETLS_MANIFEST_NAME);
    int rc = etls_store_read_file(s->vfd, name, ETLS_MANIFEST_SIZE_MAX, &text, &len);
    if (rc) {
        snprintf(info->comment, sizeof info->comment, "(unreadable manifest: %s)", strerror(-rc));
        return;
    }
    if (etls_store_manifest_parse(text, len, &m, msg, sizeof msg)) {
        snprintf(info->comment, sizeof info->comment, "(damaged manifest: %s)", msg);
    } else {
        info->time = m.st.time;
        info->n_entries = m.st.n_entries; /* formats 1 and 2; format 3 counts its parts' */
        for (size_t p = 0; p < m.n_parts; p++)
            info->n_entries += m.part_counts[p];
        memcpy(info->comment, m.st.comment, sizeof info->comment);
        etls_store_manifest_free(&m);
    }
    free(text);
}

size_t etls_store_history(etls_store_t *s, etls_store_version_info_t *out, size_t cap)
{
    uint64_t *v;
    size_t n;
    if (etls_store_list_versions(s, &v, &n))
        return 0;
    size_t k = 0;
    for (; k < n && k < cap; k++)
        version_info(s, v[k], &out[k]);
    free(v);
    return k;
}

int etls_store_current_path(const etls_store_t *s, const char *file, char *path, size_t cap)
{
    if (s->current == 0 || !etls_store_name_ok(file))
        return -1;
    int n = snprintf(path, cap, "%s/versions/%llu/%s", s->dir, (unsigned long long)s->current, file);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}
