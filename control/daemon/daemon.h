/* edgetls-control internals: one single-threaded poll loop owns everything (the store, the
 * current state, admin clients, dataplane sessions), so nothing here needs a lock.
 *   main.c   options, sockets, the loop, ticket rotation schedule
 *   admin.c  admin clients: peer check, framing (control/proto), deadlines, replies
 *   cmds.c   the commands: validate, commit, push; text tables and JSON
 *   dp.c     dataplane sessions: snapshots out, acks/refusals/stats in */
#ifndef ETLS_CONTROL_DAEMON_H
#define ETLS_CONTROL_DAEMON_H

#include "proto.h"
#include "snapshot/codec.h"
#include "store.h"
#include "validate.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CD_MAX_ADMIN 64
#define CD_MAX_DP 64
#define CD_ADMIN_DEADLINE_MS 10000
#define CD_STATS_WAIT_MS 2000
#define CD_MAX_REPLY (64u << 20)
/* The journal is cut (a whole snapshot.bin stored again) past these. */
#define CD_JOURNAL_MAX (8u << 20)
#define CD_JOURNAL_FRAMES 1024

typedef struct cd_buf {
    uint8_t *p;
    size_t len, off, cap; /* bytes [off, len) still to send */
    size_t max;           /* bound on len (0: CD_MAX_REPLY) */
    int secret;           /* holds private keys: wiped when reused, grown or freed */
} cd_buf_t;

typedef struct cd_txn cd_txn_t;

typedef struct cd_admin {
    int fd;
    cd_txn_t *txn;          /* an open transaction (begin), NULL none; closing aborts it */
    uid_t uid;
    pid_t pid;
    etls_proto_reader_t rd;
    cd_buf_t out;
    uint64_t deadline_ms;   /* a request must complete by then */
    int closing;            /* close once out is flushed */
    /* a stats request waiting for the dataplanes' answers */
    uint32_t stats_id;
    uint64_t stats_deadline;
    int stats_json;
} cd_admin_t;

typedef struct cd_dp {
    int fd;
    pid_t pid;              /* from SO_PEERCRED */
    unsigned workers;
    int transport;          /* 0 io_uring, 1 dpdk */
    int hello;              /* HELLO received */
    uint64_t version;       /* last version acknowledged */
    uint64_t adopted;       /* last version every worker adopted */
    uint64_t sent;          /* last version pushed */
    uint64_t sent_ms, acked_ms, adopted_ms;
    int sent_delta;         /* the last push was a delta: a refusal gets a whole snapshot */
    uint64_t n_delta, n_full; /* pushes of each kind (status --json "pushes") */
    char refused[512];      /* reason of the last refusal ("" none) */
    etls_snap_buf_t in;
    cd_buf_t out;
    uint32_t stats_id;      /* id of the last stats reply */
    char *stats;            /* its text (malloc), NULL none */
} cd_dp_t;

#define CD_MAX_METRICS 16

typedef struct cd_metrics_client {
    int fd;
    char req[4096];
    size_t len;
    uint64_t deadline;
    uint32_t stats_id;      /* waiting for the dataplanes' counters */
    uint64_t stats_deadline;
    int done;               /* response queued */
    cd_buf_t out;
} cd_metrics_client_t;

typedef struct cd {
    /* options */
    char state_dir[1024], admin_path[108], dp_path[108];
    char ca_file[1024];
    char metrics_spec[64];  /* --metrics-listen ADDR:PORT, "" off */
    gid_t admin_gid;        /* (gid_t)-1: none configured */
    unsigned warn_days, keep;
    unsigned ticket_rotation_s;
    int log_level;          /* 0 error, 1 warn, 2 info, 3 debug */
    /* state */
    etls_store_t *store;
    etls_store_state_t cur;
    /* What dataplanes and the state directory get (snapenc.c): the last commit's delta payload
     * (from version delta_base; empty when the commit needed a whole snapshot), and the journal
     * of DELTA frames stored as snapshot.delta over the last whole snapshot.bin. */
    etls_snap_buf_t delta;
    uint64_t delta_base;
    etls_snap_buf_t journal;
    size_t journal_frames;
    int base_stored;        /* the current version's snapshot.bin is the journal's base */
    int admin_lfd, dp_lfd, metrics_lfd;
    cd_metrics_client_t metrics[CD_MAX_METRICS];
    cd_admin_t admins[CD_MAX_ADMIN];
    cd_dp_t dps[CD_MAX_DP];
    uint32_t next_stats_id;
    unsigned txn_max_changes; /* staged changes per transaction (--txn-max-changes) */
    int stop;
    /* propagation: commit -> every worker of every dataplane adopted, in ms */
    uint64_t commit_ms;
    double prop_ms[1024];
    size_t n_prop;
    /* `cert list`'s leaf facts by PEM block id (etls_store_cert_id: blocks are immutable and ids
     * never reused), so a listing of 100,000 entries parses only certificates it has not seen:
     * open addressing, holding what the last listing showed plus what commits added since. */
    struct cd_brief *briefs;   /* id -> index in brief_v */
    size_t brief_mask;
    etls_val_brief_t *brief_v; /* dense: ~190 bytes per listed certificate */
    size_t n_briefs, cap_briefs;
} cd_t;

typedef struct cd_brief {
    uint64_t id; /* 0: empty */
    size_t idx;
} cd_brief_t;

uint64_t cd_now_ms(void);
/* FNV-1a of a NUL-terminated name: the daemon's hash indexes (txn.c, snapenc.c). */
static inline uint64_t cd_hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}
__attribute__((format(printf, 3, 4))) void cd_log(const cd_t *d, int level, const char *fmt, ...);

/* buffers */
int cd_buf_put(cd_buf_t *b, const void *p, size_t n);
void cd_buf_free(cd_buf_t *b);
/* flushes what it can without blocking: 0, or -1 when the peer is gone */
int cd_buf_flush(cd_buf_t *b, int fd);

/* admin.c */
void cd_admin_accept(cd_t *d);
void cd_admin_io(cd_t *d, cd_admin_t *a, short revents);
void cd_admin_tick(cd_t *d, uint64_t now);
void cd_admin_close(cd_admin_t *a);
void cd_reply(cd_admin_t *a, const char *status, const char *body, size_t len);
void cd_reply_json(cd_admin_t *a, const char *status, json_t *j); /* steals j */

/* cmds.c */
void cd_command(cd_t *d, cd_admin_t *a, const etls_proto_req_t *req);
int cd_state_init(cd_t *d, char *err, size_t errlen); /* load current, ensure ticket keys */
int cd_tickets_due(cd_t *d, uint64_t now_s);          /* rotate when the schedule says so */
void cd_stats_finish(cd_t *d, cd_admin_t *a);          /* reply with what arrived */

/* txn.c: a transaction's staged state with hash indexes (entry names, served names). Bounds:
 * changes and PEM bytes per transaction, transactions open at once (docs/control-protocol.md). */
#define CD_TXN_MAX_CHANGES 200000u
#define CD_TXN_MAX_BYTES (1ull << 30)
#define CD_MAX_TXN 4
/* Between two requests of a connection with an open transaction (instead of
 * CD_ADMIN_DEADLINE_MS): long enough for a script that works between its changes, short enough
 * that an abandoned transaction gives its memory back. */
#define CD_TXN_IDLE_MS 60000
cd_txn_t *cd_txn_begin(const cd_t *d);
void cd_txn_free(cd_txn_t *t);
/* The staged state, changed in place by the commands; removed entries are tombstones (empty
 * name) until cd_txn_take, so only use it through cd_txn_find. */
etls_store_state_t *cd_txn_state(cd_txn_t *t);
uint64_t cd_txn_base(const cd_txn_t *t);
size_t cd_txn_changes(const cd_txn_t *t);
uint64_t cd_txn_bytes(const cd_txn_t *t);
size_t cd_txn_entries(const cd_txn_t *t); /* live entries in the staged state */
etls_store_entry_t *cd_txn_find(cd_txn_t *t, const char *name);
const char *cd_txn_claimed(cd_txn_t *t, const char *self, char *const *names, size_t n, const char **which);
int cd_txn_changed(cd_txn_t *t, const char *entry, size_t bytes); /* after an add/replace of entry */
void cd_txn_remove(cd_txn_t *t, etls_store_entry_t *e);          /* removes a staged entry */
void cd_txn_note(cd_txn_t *t);                                    /* another change (ticket rotate) */
/* Moves the staged state (tombstones squeezed out) into *out; t keeps nothing. */
void cd_txn_take(cd_txn_t *t, etls_store_state_t *out);

/* metrics.c */
int cd_metrics_listen(cd_t *d, const char *spec, char *err, size_t errlen);
void cd_metrics_accept(cd_t *d);
void cd_metrics_io(cd_t *d, cd_metrics_client_t *m, short revents);
void cd_metrics_tick(cd_t *d, uint64_t now);

/* snapenc.c: 0 / -1 (too large); the delta returns entries changed or removed, -1 out of memory,
 * -2 when only a whole snapshot can say it */
int cd_snap_full(const cd_t *d, const etls_store_state_t *st, uint64_t version, etls_snap_buf_t *b);
long cd_snap_delta(const cd_t *d, const etls_store_state_t *old, const etls_store_state_t *next,
                   uint64_t version, etls_snap_buf_t *b);
/* Sets each entry's `since`: kept from old when unchanged, else version. */
/* The delta from d->cur's version to `version` that changes (or appends) entry e alone, e
 * being d->cur's own entry changed in place: 1, or -1 (b then holds nothing usable). */
long cd_snap_delta_one(const cd_t *d, const etls_store_entry_t *e, uint64_t version, etls_snap_buf_t *b);
void cd_mark_changes(const etls_store_state_t *old, etls_store_state_t *next, uint64_t version);

/* dp.c */
void cd_dp_accept(cd_t *d);
void cd_dp_io(cd_t *d, cd_dp_t *p, short revents);
void cd_dp_push_all(cd_t *d);                 /* every attached dataplane gets the new version */
int cd_dp_count(const cd_t *d);
int cd_dp_stats_request(cd_t *d, uint32_t id); /* how many were asked */
int cd_dp_stats_ready(const cd_t *d, uint32_t id);
void cd_dp_send_all(cd_t *d, uint8_t type, const void *p, size_t n);
void cd_dp_close(cd_dp_t *p);

#endif
