/* Snapshots: the certificates and ticket keys every worker serves, replaced while running
 * (DESIGN.md wave 2, issue #10).
 *
 * A snapshot is an immutable TLS server context built from one version of the control plane's
 * state (codec.h) on top of the configuration's template context (suites, groups, ALPN, the
 * HelloRetryRequest cookie key, which stays the same across versions so cookies survive a swap).
 *
 * Publication is RCU-style, with no lock and no atomic read-modify-write on the handshake path:
 * - the ctl thread builds a snapshot and stores it in pub->current (release);
 * - each worker, at the top of a poll iteration, loads pub->current (acquire) and, when it
 *   changed, adopts it: new sessions start on it, and the worker stores the adopted version in
 *   its own pub->adopted[worker] slot (release);
 * - each session remembers the snapshot it started on, and its worker counts sessions per
 *   snapshot in snap->users[worker] (only that worker writes that slot: a plain increment
 *   published with a relaxed store, not an atomic RMW), so a handshake in flight finishes with
 *   the certificate it started with;
 * - the ctl thread frees a retired snapshot once every worker has adopted a newer one and every
 *   users[] slot reads 0 (etls_snap_reclaim).
 *
 * Ownership: the publication point (etls_snap_pub_t) is owned by main and outlives the workers;
 * snapshots are owned by it (current and the retired list), freed by reclaim or etls_snap_pub_free. */
#ifndef ETLS_SNAPSHOT_SNAPSHOT_H
#define ETLS_SNAPSHOT_SNAPSHOT_H

#include "snapshot/codec.h"
#include "tls/tls.h"

#include <stdatomic.h>
#include <stdint.h>

#define ETLS_SNAP_MAX_WORKERS 128
/* Every snapshot's server flight must fit the `out` buffers the workers sized at start-up:
 * with a control plane the first context is sized for at least this much. */
#define ETLS_SNAP_FLIGHT_RESERVE (96u * 1024)

/* Entry names -> a value (open addressing, FNV-1a); the names are pointed to, not copied. */
typedef struct etls_snap_names {
    struct {
        const char *p;
        uint8_t len;
        int32_t val;
    } *slot;
    size_t mask;
} etls_snap_names_t;

typedef struct etls_snap {
    etls_tls_server_ctx_t tls;
    etls_snap_names_t tags; /* entry name -> index of its first certificate in tls.certs (names
                             * point at the certificates' tags); ctl thread only */
    uint64_t version;  /* the control plane's version */
    uint64_t seq;      /* publication order in this process (versions may go back after a
                        * control plane lost its state; reclaiming relies on seq) */
    size_t n_entries;
    _Atomic uint32_t users[ETLS_SNAP_MAX_WORKERS]; /* sessions on it, per worker (one writer each) */
    struct etls_snap *next_retired;                /* ctl thread only */
} etls_snap_t;

typedef struct etls_snap_pub {
    _Atomic(etls_snap_t *) current;
    _Atomic uint64_t adopted[ETLS_SNAP_MAX_WORKERS]; /* seq each worker serves (its own slot) */
    unsigned n_workers;                              /* set before workers start */
    etls_snap_t *retired;                            /* ctl thread only */
    uint64_t next_seq;                               /* ctl thread only */
} etls_snap_pub_t;

/* Builds a snapshot from a payload: a copy of tmpl's settings (not its certificates), every
 * entry's chains and keys loaded and checked (as at start-up), the ticket keys set (the
 * lifetime from the payload). A delta payload (codec.h) applies to base, which must be the
 * version it names: only the entries it carries are parsed, the others are shared with base.
 * Returns NULL with a one-line reason in err. Called by one thread (the ctl thread). */
etls_snap_t *etls_snap_build(const etls_tls_server_ctx_t *tmpl, const etls_snap_t *base, const uint8_t *payload,
                             size_t len, char *err, size_t errlen);
void etls_snap_free(etls_snap_t *s);

/* ctl thread: makes s current (the previous one goes on the retired list). */
void etls_snap_publish(etls_snap_pub_t *pub, etls_snap_t *s);
/* ctl thread: frees retired snapshots no worker or session uses any more; returns how many are
 * still retired. */
size_t etls_snap_reclaim(etls_snap_pub_t *pub);
/* The lowest seq any worker serves: every worker adopted s once this is >= s->seq. */
uint64_t etls_snap_min_adopted(const etls_snap_pub_t *pub);
/* main at exit, after the workers stopped: frees everything. */
void etls_snap_pub_free(etls_snap_pub_t *pub);

/* Worker side (called by the session layer, etls_sess_ctx_adopt / etls_sess_start / _end). */
static inline etls_snap_t *etls_snap_current(etls_snap_pub_t *pub)
{
    return atomic_load_explicit(&pub->current, memory_order_acquire);
}
static inline void etls_snap_adopted(etls_snap_pub_t *pub, unsigned worker, const etls_snap_t *s)
{
    atomic_store_explicit(&pub->adopted[worker], s->seq, memory_order_release);
}
static inline void etls_snap_use(etls_snap_t *s, unsigned worker, int delta)
{
    uint32_t v = atomic_load_explicit(&s->users[worker], memory_order_relaxed);
    atomic_store_explicit(&s->users[worker], v + (uint32_t)delta, memory_order_release);
}

#endif
