/* Internal to control/store (and its fuzz harness): the manifest of one version directory.
 * The parser is strict and the formatter canonical, so format(parse(text)) == text for every
 * accepted text; the format itself is described at the top of store.c. The parser never looks
 * at the other files: it only says which files must exist and what their sha256 must be. */
#ifndef ETLS_CONTROL_STORE_MANIFEST_H
#define ETLS_CONTROL_STORE_MANIFEST_H

#include "store.h"

#include <stddef.h>
#include <stdint.h>

#define ETLS_MANIFEST_MAGIC "edgetls-state 3"   /* what commits write: entries in parts */
#define ETLS_MANIFEST_MAGIC_V2 "edgetls-state 2" /* still read: every entry in the manifest */
#define ETLS_MANIFEST_MAGIC_V1 "edgetls-state 1" /* still read: certificate files per version */
#define ETLS_MANIFEST_PART_MAGIC "edgetls-part 1" /* first line of a part object */
#define ETLS_MANIFEST_NAME "manifest"
#define ETLS_MANIFEST_TICKETS "tickets.key"
#define ETLS_MANIFEST_MAX_ENTRIES 200000
#define ETLS_MANIFEST_MAX_NAMES 256  /* SNI names per entry */
#define ETLS_MANIFEST_SNI_MAX 253    /* bytes per SNI name (a DNS name's limit) */
#define ETLS_MANIFEST_MAX_BLOBS 64
/* The longest legal line is an entry line with 256 names of 253 bytes: ~65,150 bytes. */
#define ETLS_MANIFEST_LINE_MAX 66000
#define ETLS_MANIFEST_SIZE_MAX ((size_t)512 << 20)
/* A part (format 3) holds 1..1024 consecutive entries in format 2's entry and cert lines; the
 * commit cuts a part after 1024 entries or 256 KiB, so a part object stays under 1 MiB. */
#define ETLS_MANIFEST_PART_ENTRIES 1024
#define ETLS_MANIFEST_PART_SOFT ((size_t)256 << 10)
#define ETLS_MANIFEST_PART_MAX ((size_t)1 << 20)
#define ETLS_MANIFEST_FILE_MAX 80 /* "<64-byte entry>.<i>.chain.pem" and its NUL fit */

typedef struct etls_manifest_file {
    char name[ETLS_MANIFEST_FILE_MAX];
    uint8_t sha256[32];
} etls_manifest_file_t;

typedef char etls_manifest_blob_t[ETLS_STORE_NAME_MAX + 1];

/* A parsed manifest. st holds everything but the file contents: PEM pointers are NULL and
 * ticket keys zero. files is in canonical order: for each entry and cert the chain then the
 * key, then tickets.key (when there are tickets), then the blobs in order. */
typedef struct etls_manifest {
    int format; /* 1, 2 or 3 */
    etls_store_state_t st;
    size_t cap_entries;
    /* format 3: the parts (objects/<hex>) holding the entries, in order, with their entry
     * counts; st.entries and objects fill as each part is added (etls_store_manifest_part). */
    uint8_t (*parts)[32];
    uint32_t *part_counts;
    size_t n_parts;
    /* format 2: the SHA-256 of each certificate file, which names its object (objects/<hex>):
     * for each entry and cert the chain then the key. Format 1 lists those files in `files`. */
    uint8_t (*objects)[32];
    size_t n_objects, cap_objects;
    etls_manifest_blob_t *blobs;
    size_t n_blobs;
    etls_manifest_file_t *files;
    size_t n_files;
} etls_manifest_t;

/* Parses text (not NUL-terminated) into *m (zeroed first). -1 with "manifest line N: why". */
int etls_store_manifest_parse(const char *text, size_t len, etls_manifest_t *m, char *err,
                              size_t errlen);
void etls_store_manifest_free(etls_manifest_t *m);
/* Format 3: appends the entries of one part's text (its count from the manifest, or
 * ETLS_MANIFEST_PART_ANY) to m, and their certificate digests to m->objects. -1 with "part
 * line N: why" (m stays freeable). */
#define ETLS_MANIFEST_PART_ANY UINT32_MAX
int etls_store_manifest_part(etls_manifest_t *m, const char *text, size_t len, uint32_t count, char *err,
                             size_t errlen);
/* Format 3, once every part is in: the checks the entries of a whole state must pass. */
int etls_store_manifest_parts_done(etls_manifest_t *m, char *err, size_t errlen);
/* Formats st in `format` (objects: format 2's certificate digests), blob names and files
 * (canonical order, as etls_store_manifest_files gives) into a malloc'd text. -1 on allocation
 * failure. */
int etls_store_manifest_format(const etls_store_state_t *st, int format, const uint8_t (*objects)[32],
                               const etls_manifest_blob_t *blobs, size_t n_blobs,
                               const etls_manifest_file_t *files, size_t n_files, char **out, size_t *outlen);
/* Format 3: the text of a part holding entries[0..n) (objects: their certificate digests, two
 * per cert, as format 2); and the manifest naming the parts (st gives the header and tickets,
 * not the entries). -1 on allocation failure. */
int etls_store_part_format(const etls_store_entry_t *entries, size_t n, const uint8_t (*objects)[32], char **out,
                           size_t *outlen);
int etls_store_manifest_format_parts(const etls_store_state_t *st, const uint8_t (*parts)[32],
                                     const uint32_t *counts, size_t n_parts, const etls_manifest_blob_t *blobs,
                                     size_t n_blobs, const etls_manifest_file_t *files, size_t n_files, char **out,
                                     size_t *outlen);
/* The version directory's file list (names, sha256 zero) that st and the blob names imply in
 * `format`, in canonical order (format 2 keeps certificates in objects/, not in the list). */
int etls_store_manifest_files(const etls_store_state_t *st, int format, const etls_manifest_blob_t *blobs,
                              size_t n_blobs, etls_manifest_file_t **files, size_t *n_files);
/* Lower-case hex of a digest into out (65 bytes); and back (-1 unless 64 lower-case digits). */
void etls_store_hex(const uint8_t d[32], char out[65]);
int etls_store_unhex(const char *s, size_t n, uint8_t d[32]);
/* Everything a manifest can carry: names, counts, key types, ticket states (at most one
 * active, none retired), no duplicate entry names. -1 with a reason. */
int etls_store_state_check(const etls_store_state_t *st, char *err, size_t errlen);
/* A blob file name: etls_store_name_ok, and none of the names the store uses itself. */
int etls_store_blob_name_ok(const char *name);

#endif
