/* Internal to control/store: the handle, and the file-system helpers shared by store.c,
 * load.c and commit.c. Helpers returning int give 0 or -errno unless they say otherwise. */
#ifndef ETLS_CONTROL_STORE_INT_H
#define ETLS_CONTROL_STORE_INT_H

#include "manifest.h"

#include <stddef.h>
#include <stdint.h>

#define ETLS_STORE_PEM_MAX ((size_t)1 << 20) /* per chain or key file */

/* The objects in DIR/objects/, by digest (open addressing, linear probing), each with the newest
 * version that names it: an object is garbage exactly when that version is older than the oldest
 * kept version (kept versions are a contiguous range ending at `current`, so any version naming
 * it would be <= last < oldest, i.e. pruned). This is the in-memory reference count: a commit
 * stamps its objects, a prune moves `oldest`, nothing re-reads manifests. */
#define ETLS_OBJ_USED 1
#define ETLS_OBJ_VERIFIED 2 /* its bytes were hashed by this process (written or loaded) */
#define ETLS_OBJ_PART 4     /* a part (format 3) whose certificates are counted in refs */
#define ETLS_OBJ_NONE ((size_t)-1)
typedef struct etls_objset {
    uint8_t (*d)[32];
    uint8_t *flags;
    uint64_t *last; /* newest version naming it; 0: none seen */
    /* Certificates: how many parts in objects/ name it. A format-3 version names its
     * certificates through parts, and a commit that keeps a part stamps only the part, so a
     * certificate is garbage when no part names it any more and no version named it directly
     * (formats 1-2, `last`) since the oldest kept one. */
    uint32_t *refs;
    size_t mask, n;
    unsigned grows; /* bumped when slots move (a rehash) */
} etls_objset_t;

/* One part of the last commit: the fingerprint of its entries and its digest (commit.c). */
typedef struct etls_part_memo {
    uint64_t fp[2];
    uint8_t d[32];
    int used;
} etls_part_memo_t;

struct etls_store {
    char *dir;
    int ofd;             /* DIR/objects: certificate files by SHA-256, shared by versions */
    etls_objset_t objs;  /* what objects/ holds */
    /* Versions <= this had a manifest that could not be read at open: what they name is
     * unknown, so nothing is collected while one of them is kept. */
    uint64_t refs_unknown_upto;
    int dfd; /* DIR, flock'ed for the handle's lifetime */
    int vfd; /* DIR/versions, -1 until the first commit creates it */
    unsigned keep;
    uint64_t current; /* 0: nothing committed yet */
    /* The current version's files, sorted by name, so a commit can hard-link the files whose
     * content did not change instead of writing and fsyncing them again. */
    etls_manifest_file_t *files;
    size_t n_files;
    etls_part_memo_t *memo; /* open addressing by fp[0]; NULL before the first commit */
    size_t memo_mask;
};

/* Writes "state directory DIR: " and the message to err; returns -1. */
int etls_store_fail(const etls_store_t *s, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

void etls_store_sha(const void *p, size_t n, uint8_t out[32]);
/* FNV-1a of an entry name: the duplicate check's table, and where a commit cuts parts (a
 * property of the name alone, so a change to one entry moves no other part boundary). */
uint64_t etls_store_name_hash(const char *s);
/* Records digests just verified against a manifest in c's shared block. */
void etls_store_cert_known_digests(etls_store_cert_t *c, const uint8_t chain[32], const uint8_t key[32]);
/* Streams a file through SHA-256 (blobs can be large). */
int etls_store_sha_file(int dfd, const char *name, uint8_t out[32]);
/* Reads a regular file (no symlinks) of at most max bytes into a malloc'd, NUL-terminated
 * buffer; -EFBIG when larger, -EINVAL when not a regular file. */
int etls_store_read_file(int dfd, const char *name, size_t max, char **buf, size_t *len);
/* Creates name (O_EXCL, 0600), writes it whole and fsyncs it. */
int etls_store_write_file(int dfd, const char *name, const void *data, size_t len);
/* The same, fsynced only when sync (a caller that writes many syncs the file system once). */
int etls_store_write_file_sync(int dfd, const char *name, const void *data, size_t len, int sync);
int etls_store_fsync_fd(int fd);
/* Removes a file, or a directory and what it holds (two levels at most: the store never
 * nests deeper). ENOENT counts as success. */
int etls_store_rm_tree(int parent, const char *name);
/* The names in a directory, without "." and "..", as one malloc'd array of malloc'd names. */
int etls_store_list_names(int fd, char ***names, size_t *n);
void etls_store_free_names(char **names, size_t n);
/* Decimal version directory names, no leading zeros, >= 1: returns 0 and *v, else -1. */
int etls_store_parse_version(const char *s, uint64_t *v);
/* The numbered directories in versions/ that are <= current, newest first (malloc'd). */
int etls_store_list_versions(const etls_store_t *s, uint64_t **out, size_t *n);

/* Loads and verifies version v (>= 1). st and files may be NULL (open only verifies); files
 * receives the manifest's file list; flags as etls_store_load_opts. -1 with err naming the file. */
int etls_store_load_version(etls_store_t *s, uint64_t v, etls_store_state_t *st, unsigned flags,
                            etls_manifest_file_t **files, size_t *n_files, char *err, size_t errlen);
/* Takes ownership of files (sorting them) as the current version's file list. */
void etls_store_set_files(etls_store_t *s, etls_manifest_file_t *files, size_t n);
int etls_store_file_cmp(const void *a, const void *b);
/* Removes versions beyond the newest `keep`; failures only delay the removal to a later call.
 * Returns the oldest version still kept (UINT64_MAX when none is). */
uint64_t etls_store_prune(etls_store_t *s);

/* objects.c: the content-addressed certificate files. */
size_t etls_objset_find(const etls_objset_t *o, const uint8_t d[32]); /* slot or ETLS_OBJ_NONE */
/* Adds d (if absent) and gives its slot; -1 on allocation failure. */
int etls_objset_add(etls_objset_t *o, const uint8_t d[32], size_t *slot);
/* Makes room for n objects in all, so the next adds move no slot. -1 on allocation failure. */
int etls_objset_reserve(etls_objset_t *o, size_t n);
void etls_objset_del(etls_objset_t *o, size_t slot);
void etls_objset_free(etls_objset_t *o);
/* Opens (creating) DIR/objects, removes temporaries, reads what it holds. */
int etls_store_objects_open(etls_store_t *s, char *err, size_t errlen);
/* Writes objects/<hex of d> unless present (temp file, fsync unless !sync, rename); *dirty is
 * set when the directory needs an fsync; *slot receives its slot. 0 or -errno. */
int etls_store_object_put(etls_store_t *s, const uint8_t d[32], const void *data, size_t len, int sync, int *dirty,
                          size_t *slot);
/* At open: stamps every object with the newest kept version whose manifest names it, and
 * counts each part's certificates (refs). */
void etls_store_objects_refs(etls_store_t *s);
/* commit.c: after loading the current version (format 3) into st, remembers its parts as the
 * last commit's, so the first commit after a restart does not format and hash all of them. */
void etls_store_memo_loaded(etls_store_t *s, const etls_store_state_t *st, const uint8_t (*parts)[32],
                            const uint32_t *counts, size_t n);
/* A part just written (its object new): its certificates (digests) gain a reference. */
void etls_store_part_added(etls_store_t *s, size_t part_slot, const uint8_t (*objects)[32], size_t n);
/* Removes the objects no version >= oldest names (after a prune; at open): first the parts
 * (their certificates losing a reference each), then the certificates no part and no kept
 * version names. Failures only delay a removal. */
void etls_store_objects_gc(etls_store_t *s, uint64_t oldest);

#endif
