/* Internal to control/store: the handle, and the file-system helpers shared by store.c,
 * load.c and commit.c. Helpers returning int give 0 or -errno unless they say otherwise. */
#ifndef ETLS_CONTROL_STORE_INT_H
#define ETLS_CONTROL_STORE_INT_H

#include "manifest.h"

#include <stddef.h>
#include <stdint.h>

#define ETLS_STORE_PEM_MAX ((size_t)1 << 20) /* per chain or key file */

/* A set of object digests (objects/<hex>) present on disk. */
typedef struct etls_objset {
    uint8_t (*d)[32];
    uint8_t *used;
    size_t mask, n;
} etls_objset_t;

struct etls_store {
    char *dir;
    int ofd;             /* DIR/objects: certificate files by SHA-256, shared by versions */
    etls_objset_t objs;  /* what objects/ holds */
    size_t objs_added;   /* since the last garbage collection */
    int dfd; /* DIR, flock'ed for the handle's lifetime */
    int vfd; /* DIR/versions, -1 until the first commit creates it */
    unsigned keep;
    uint64_t current; /* 0: nothing committed yet */
    /* The current version's files, sorted by name, so a commit can hard-link the files whose
     * content did not change instead of writing and fsyncing them again. */
    etls_manifest_file_t *files;
    size_t n_files;
};

/* Writes "state directory DIR: " and the message to err; returns -1. */
int etls_store_fail(const etls_store_t *s, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

void etls_store_sha(const void *p, size_t n, uint8_t out[32]);
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
 * receives the manifest's file list. -1 with err naming the file. */
int etls_store_load_version(etls_store_t *s, uint64_t v, etls_store_state_t *st,
                            etls_manifest_file_t **files, size_t *n_files, char *err, size_t errlen);
/* Takes ownership of files (sorting them) as the current version's file list. */
void etls_store_set_files(etls_store_t *s, etls_manifest_file_t *files, size_t n);
int etls_store_file_cmp(const void *a, const void *b);
/* Removes versions beyond the newest `keep`; failures only delay the removal to a later call. */
void etls_store_prune(etls_store_t *s);

/* objects.c: the content-addressed certificate files. */
int etls_objset_has(const etls_objset_t *o, const uint8_t d[32]);
int etls_objset_add(etls_objset_t *o, const uint8_t d[32]);
void etls_objset_free(etls_objset_t *o);
/* Opens (creating) DIR/objects, removes temporaries, reads what it holds. */
int etls_store_objects_open(etls_store_t *s, char *err, size_t errlen);
/* Writes objects/<hex of d> unless present (temp file, fsync unless !sync, rename); *dirty is
 * set when the directory needs an fsync. 0 or -errno. */
int etls_store_object_put(etls_store_t *s, const uint8_t d[32], const void *data, size_t len, int sync, int *dirty);
/* Removes objects no kept version references (after prunes; at open). Failures only delay it. */
void etls_store_objects_gc(etls_store_t *s);
void etls_store_objects_maybe_gc(etls_store_t *s); /* after a commit, once enough came in */

#endif
