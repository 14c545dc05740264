/* Per-core poll-mode workers on io_uring (DESIGN.md, "Inside a worker").
 *
 * Each worker is one thread pinned to one CPU with its own ring, its own SO_REUSEPORT
 * listening sockets, provided-buffer ring, connection table, timers, RNG, AEAD engine and
 * crypto batch. Workers share nothing writable: the configuration, the TLS server context and
 * the prebuilt HTTP responses are read-only while they run. One loop iteration:
 *   reap completions -> feed the TLS engines -> etls_batch_run -> resume parked connections
 *   -> queue sends / re-arm receives -> one io_uring submit (which also waits, bounded).
 *
 * Ownership: etls_worker_shared_t is owned by the caller (main) and must outlive the workers.
 * Workers are created by etls_worker_start and freed by etls_worker_join. */
#ifndef ETLS_WORKER_WORKER_H
#define ETLS_WORKER_WORKER_H

#include "config/config.h"
#include "http/http.h"
#include "session/stats.h"
#include "snapshot/snapshot.h"
#include "tls/tls.h"

#include <stdint.h>

typedef struct etls_worker_shared {
    const etls_config_t *cfg;
    const etls_tls_server_ctx_t *tls; /* NULL when no listener uses TLS */
    const etls_http_responder_t *http;
    etls_snap_pub_t *snap; /* with a control plane: the snapshots workers adopt (tls is the first
                            * one's context, used only to size buffers); NULL without */
} etls_worker_shared_t;

/* Counters, written only by their worker (relaxed atomic stores), read by anyone. */
typedef struct etls_worker_stats {
    uint64_t accepted;      /* connections accepted */
    uint64_t active;        /* connections open now */
    uint64_t rejected;      /* accepted but refused: connection table full */
    uint64_t handshakes;    /* TLS handshakes completed */
    uint64_t hs_failures;   /* handshakes that ended in an alert, error or timeout */
    uint64_t timeouts;      /* handshake or idle timeouts */
    uint64_t bytes_in;      /* bytes received from clients (TLS records) */
    uint64_t bytes_out;     /* bytes sent to clients */
    uint64_t bk_bytes_in;   /* bytes received from backends */
    uint64_t bk_bytes_out;  /* bytes sent to backends */
    uint64_t bk_errors;     /* backend connect/send/recv failures */
    uint64_t requests;      /* HTTP requests answered (responder mode) */
    uint64_t errors;        /* connections closed on an error (alerts, bad requests) */
    uint64_t resets;        /* clients gone without a goodbye: a send failed (EPIPE/ECONNRESET);
                             * common and harmless after a client closes with a ticket unread */
    uint64_t crypto_runs;   /* batch runs that did work */
    etls_batch_fill_t batch_fill; /* requests per batch run (kept by the batch itself; filled
                                   * in by etls_worker_stats) */
    etls_sess_stats_t sess; /* handshakes by outcome and parameters, latency, alerts */
} etls_worker_stats_t;

typedef struct etls_worker etls_worker_t;

/* Creates worker `index` and its thread (pinned to `cpu`, or unpinned when cpu < 0), then
 * waits until it has set up its ring and listeners. Returns 0, or a negative code with the
 * reason in err (the worker is already cleaned up). */
int etls_worker_start(etls_worker_t **out, const etls_worker_shared_t *sh, unsigned index, int cpu,
                      char *err, size_t errlen);
/* Asks the worker to shut down gracefully: stop accepting, close idle connections with
 * close_notify, wait for busy ones up to cfg->shutdown_timeout_ms, then close the rest.
 * Async-signal-safe is not required (main calls it from its signal loop). */
void etls_worker_stop(etls_worker_t *w);
/* Wakes the worker's loop (thread-safe): the ctl thread calls it after publishing a snapshot. */
void etls_worker_wake(etls_worker_t *w);
/* Waits for the thread to end, stores its final counters in *final (when not NULL) and frees
 * the worker. */
void etls_worker_join(etls_worker_t *w, etls_worker_stats_t *final);
void etls_worker_stats(const etls_worker_t *w, etls_worker_stats_t *st);
/* Prints one line of counters for worker `index` (stats on SIGUSR1 and at shutdown). */
void etls_worker_stats_print(FILE *f, unsigned index, const etls_worker_stats_t *st);
/* The control plane's STATS lines for worker `index` ("worker.N.key value", see
 * docs/control-protocol.md): the basic counters, the batch fill histogram and the session
 * detail (session/stats.h). Returns the bytes put. */
size_t etls_worker_stats_format(const etls_worker_stats_t *st, unsigned index, etls_st_put_fn *put, void *arg);

#endif
