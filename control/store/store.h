/* The control plane's state directory (issue #10): certificates (chain and key per entry, key
 * files 0600), session-ticket keys and a manifest with a version number. Every change is one
 * atomic, durable commit: the new version is written into its own directory, every file and the
 * directory fsynced, then the `current` pointer is switched by rename and the state directory
 * fsynced. A crash or kill -9 at any moment leaves exactly the previous or the new version.
 *
 * Layout (documented in README "Operating the control plane"):
 *   DIR/current              symlink -> versions/<N>  (switched by rename(2) of a temporary link)
 *   DIR/objects/<sha256 hex> every certificate chain and key by content (0600), shared by all
 *                            versions; written and fsynced before any manifest names it
 *   DIR/objects/<sha256 hex> also the parts: "edgetls-part 1", then up to 1024 "entry NAME
 *                            default=0|1 since=V names=a,b" lines, each with its "cert CHAINSHA
 *                            KEYSHA key_type" lines, then "end"
 *   DIR/versions/<N>/manifest  text "edgetls-state 3": version, time, comment, "part SHA COUNT"
 *                              lines (the entries, in order), "ticket" lines, "blob FILE" lines,
 *                              "sha256 FILE HEX" of every other file, "end" (grammar: store.c,
 *                              manifest.c)
 *   DIR/versions/<N>/tickets.key (0600) / extra blobs (snapshot.bin, snapshot.delta)
 * Format-1 directories ("edgetls-state 1", chain/key files inside each version) and format-2
 * ones (every entry in the manifest) still load.
 * The last `keep` versions are kept; older directories are removed after a commit, and the
 * objects only they named right after it (in-memory stamps, no manifest re-read). On open,
 * directories of versions above `current` (a commit cut short), temporary files and objects
 * no kept version names are removed.
 * The directory itself is 0700. Not thread-safe: one owner (the daemon's loop). */
#ifndef ETLS_CONTROL_STORE_H
#define ETLS_CONTROL_STORE_H

#include <stddef.h>
#include <stdint.h>

#define ETLS_STORE_NAME_MAX 64      /* entry names: [A-Za-z0-9._-], 1..64 */
#define ETLS_STORE_MAX_CERTS 2      /* per entry: e.g. one ECDSA and one RSA */
#define ETLS_STORE_MAX_TICKETS 8
#define ETLS_STORE_TICKET_LEN 48    /* 16-byte name + 32-byte secret, as the engine wants */

typedef enum {
    ETLS_TICKET_PENDING = 0, /* pushed to dataplanes, opens tickets, does not seal yet */
    ETLS_TICKET_ACTIVE,      /* seals new tickets (exactly one) */
    ETLS_TICKET_DECRYPT,     /* decrypt-only: opens tickets sealed before the rotation */
    ETLS_TICKET_RETIRED,     /* kept in no snapshot; dropped at the next commit */
} etls_ticket_state_t;

/* The bytes of one certificate (chain and key), immutable and shared by every state that holds
 * them: copying a 100,000-entry state copies pointers, and two states' entries compare by
 * address. Single-threaded (the daemon's loop): a plain reference count. */
typedef struct etls_store_pem etls_store_pem_t;

typedef struct etls_store_cert {
    char *chain_pem; size_t chain_len;
    char *key_pem;   size_t key_len;   /* wiped by etls_store_state_free */
    char key_type[16];                 /* e.g. "ecdsa-p256", from validation */
    /* Set by the store (etls_store_cert_set, loading, copies): chain_pem and key_pem point into
     * it. NULL when a caller filled chain_pem/key_pem with its own malloc'd buffers. */
    etls_store_pem_t *pem;
} etls_store_cert_t;

typedef struct etls_store_entry {
    char name[ETLS_STORE_NAME_MAX + 1];
    char **names; size_t n_names;      /* SNI names served (lower-case); malloc'd */
    int is_default;
    uint64_t since;                    /* the version that last changed it (set by the caller
                                        * before a commit; format-1 directories load it as their
                                        * own version) */
    size_t n_certs;
    etls_store_cert_t certs[ETLS_STORE_MAX_CERTS];
} etls_store_entry_t;

typedef struct etls_store_ticket {
    uint8_t key[ETLS_STORE_TICKET_LEN];
    etls_ticket_state_t state;
    uint64_t created;   /* unix seconds */
    uint64_t activated; /* unix seconds it became active (0 while pending) */
} etls_store_ticket_t;

/* One version's whole state. Owned by whoever holds it; etls_store_state_free releases it. */
typedef struct etls_store_state {
    uint64_t version;
    uint64_t time;           /* unix seconds of the commit */
    char comment[256];       /* "cert add www", "rollback 7", ... (one line) */
    etls_store_entry_t *entries; size_t n_entries;
    etls_store_ticket_t tickets[ETLS_STORE_MAX_TICKETS]; size_t n_tickets;
} etls_store_state_t;

typedef struct etls_store_version_info {
    uint64_t version;
    uint64_t time;
    char comment[256];
    size_t n_entries;
} etls_store_version_info_t;

/* An extra file written into the version directory with the commit (e.g. the dataplane's
 * snapshot.bin), 0600, listed with its sha256 in the manifest. */
typedef struct etls_store_blob {
    const char *file; /* plain file name, no '/' */
    const void *data; size_t len;
    int same_as_current; /* carry the current version's file of that name unchanged (data unused):
                          * linked, not rewritten or hashed again; the commit fails if it has none */
} etls_store_blob_t;

typedef struct etls_store etls_store_t;

/* Opens (creating DIR 0700 and an empty version 0 when missing) and recovers DIR. keep >= 2. */
int etls_store_open(etls_store_t **out, const char *dir, unsigned keep, char *err, size_t errlen);
void etls_store_close(etls_store_t *s);
uint64_t etls_store_version(const etls_store_t *s); /* current version (0: empty store) */
/* Reads version `version` (0: current) into *st, checking every file against the manifest's
 * sha256 lines. -1 with a reason when the version is not kept or a file disagrees. */
int etls_store_load(etls_store_t *s, uint64_t version, etls_store_state_t *st, char *err, size_t errlen);
/* The same with flags. ETLS_STORE_LOAD_TRUST_VERIFIED: a certificate object this handle wrote or
 * already checked is read but not hashed again (at 100,000 entries about a third of a load);
 * tickets.key, format-1 files and blobs are always checked. */
#define ETLS_STORE_LOAD_TRUST_VERIFIED 1u
int etls_store_load_opts(etls_store_t *s, uint64_t version, etls_store_state_t *st, unsigned flags, char *err,
                         size_t errlen);
/* Commits st as version current+1 (st->version and st->time are set here; retired tickets are
 * dropped), with blobs. Returns 0 once durable (after the final directory fsync), -1 with a
 * reason and the current version unchanged otherwise. */
int etls_store_commit(etls_store_t *s, etls_store_state_t *st, const etls_store_blob_t *blobs,
                      size_t n_blobs, char *err, size_t errlen);
/* Kept versions, newest first, at most cap. Returns how many were written. */
size_t etls_store_history(etls_store_t *s, etls_store_version_info_t *out, size_t cap);
/* Path of a file in the current version directory (e.g. "snapshot.bin"), for readers. */
int etls_store_current_path(const etls_store_t *s, const char *file, char *path, size_t cap);

/* Deep copy and release. Entry helpers: find by name (NULL), remove by index. */
int etls_store_state_copy(etls_store_state_t *dst, const etls_store_state_t *src);
void etls_store_state_free(etls_store_state_t *st);
etls_store_entry_t *etls_store_entry_find(etls_store_state_t *st, const char *name);
/* Appends a deep copy of e (names and PEMs copied). */
int etls_store_entry_add(etls_store_state_t *st, const etls_store_entry_t *e);
void etls_store_entry_remove(etls_store_state_t *st, size_t index);
void etls_store_entry_free(etls_store_entry_t *e);
/* The id of c's shared PEM block: unique for the process's life and never reused (blocks are
 * immutable), so it names the bytes; 0 if c has none (a caller's own buffers). */
uint64_t etls_store_cert_id(const etls_store_cert_t *c);
/* A deep copy of one entry (its PEM blocks shared); -1 on allocation failure (dst empty). */
int etls_store_entry_copy(etls_store_entry_t *dst, const etls_store_entry_t *src);
/* Gives c new content (copied into a fresh shared block; the old content is released). 0 or -1. */
int etls_store_cert_set(etls_store_cert_t *c, const char *chain, size_t chain_len, const char *key, size_t key_len,
                        const char *key_type);
/* The SHA-256 of c's chain and key, computed once per shared block. */
void etls_store_cert_digests(etls_store_cert_t *c, uint8_t chain[32], uint8_t key[32]);
int etls_store_name_ok(const char *name); /* [A-Za-z0-9._-]{1,64} */

#endif
