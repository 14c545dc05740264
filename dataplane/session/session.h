/* One client connection's TLS session between a transport and a mode, shared by the io_uring
 * worker (dataplane/worker) and the DPDK transport (dataplane/dpdk):
 *
 *     transport bytes -> rx -> TLS engine -> app -> mode (echo | responder | proxy)
 *     mode -> TLS engine -> out -> transport bytes
 *
 * Sans-I/O like the engine it wraps: the transport owns sockets or TCP, timers, the crypto batch
 * wake-ups and the backend; it fills `rx` (and `bk` in proxy mode), drains `out` (and `app` to
 * the backend), and calls in here to move everything in between. Closing and failures are
 * decided here and published in flags (closing, abort_after, fail) that the transport acts on.
 *
 * Buffer rules (tls.h): while the engine is parked in the crypto batch it still points at the
 * consumed input and at the free space of `out`/`app`, so nothing is compacted while parked and
 * the parked call is the first one made on resume. A buffer the transport is sending from
 * (out_busy, app_busy) is not moved either. Plaintext listeners (tests) go through the same
 * code with a copying shim instead of the engine. */
#ifndef ETLS_SESSION_H
#define ETLS_SESSION_H

#include "config/config.h"
#include "http/http.h"
#include "proxy/pp2.h"
#include "session/stats.h"
#include "snapshot/snapshot.h"
#include "tls/tls.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
    ETLS_SESS_PARK_NONE = 0,
    ETLS_SESS_PARK_FEED,  /* etls_tls_feed */
    ETLS_SESS_PARK_SEND,  /* etls_tls_send */
    ETLS_SESS_PARK_CLOSE, /* etls_tls_close */
} etls_sess_park_t;

/* What a worker shares with all its sessions. The counters point into the worker's own
 * statistics (written with relaxed atomic stores, like every worker counter). */
typedef struct etls_sess_ctx {
    const etls_tls_server_ctx_t *tls; /* NULL when no listener speaks TLS; with a control plane
                                       * the adopted snapshot's context */
    const etls_http_responder_t *http;
    etls_snap_pub_t *pub;  /* the control plane's snapshots, NULL without one */
    etls_snap_t *snap;     /* the snapshot new sessions start on (adopted from pub) */
    unsigned worker;       /* this worker's slot in pub */
    etls_tls_env_t *env;
    etls_mode_t mode;
    uint32_t max_header;
    int debug;            /* log failures to stderr */
    char name[32];        /* "worker 0", "dpdk worker 1": log prefix */
    uint64_t *handshakes, *hs_failures, *errors, *requests;
    etls_sess_stats_t *stats; /* handshakes by kind and parameters, latency, alerts (NULL: not
                               * kept, and no clock is read) */
} etls_sess_ctx_t;

typedef struct etls_sess {
    uint8_t tls;         /* TLS listener (0: plaintext, tests) */
    uint8_t hs_done;     /* established (always, at once, for plaintext) */
    uint8_t park;        /* etls_sess_park_t: which engine call waits for the crypto batch */
    uint8_t closing;     /* 1: close_notify still to append; 2: appended (or none): FIN after flush */
    uint8_t abort_after; /* an alert or an error response: close once `out` is flushed */
    uint8_t http_done;   /* responder: no more requests on this connection */
    uint8_t out_busy;    /* set by the transport while a send from `out` is in flight */
    uint8_t app_busy;    /* set by the transport while a send from `app` (proxy) is in flight */
    int fail;            /* the error that ended the session, 0 if none */
    uint8_t fail_now;    /* ...and nothing to flush first: the transport should abort */
    uint16_t worker;     /* its worker (the users[] slot to decrement) */
    etls_snap_t *snap;   /* the snapshot this session's handshake started on (counted in
                          * snap->users until etls_sess_end) */
    uint8_t peer_close_counted; /* the client's close_notify is in x->stats */
    uint64_t hs_start_ns; /* CLOCK_MONOTONIC when the first ClientHello byte reached the session
                           * (kept here, not in the engine: the engine reads no clock) */
    etls_tls_buf_t rx;   /* TLS bytes from the client; rx_off: first unconsumed */
    etls_tls_buf_t out;  /* bytes for the client (records) */
    etls_tls_buf_t app;  /* decrypted bytes */
    etls_tls_buf_t bk;   /* proxy: plaintext from the backend, to encrypt */
    size_t rx_off, out_off, app_off, bk_off;
    size_t app_hw, bk_hw; /* how far app and bk were ever written: what to wipe at the end */
    etls_http_parser_t http;
    etls_http_reply_t reply; /* responder: the response being sent (reply.active) */
    etls_tls_conn_t tc;      /* last: large, and not cleared by etls_sess_start */
} etls_sess_t;

/* Fills x from the configuration; the counters are left NULL (not counted) for the caller. */
void etls_sess_ctx_init(etls_sess_ctx_t *x, const etls_config_t *cfg, const etls_tls_server_ctx_t *tls,
                        const etls_http_responder_t *http, etls_tls_env_t *env, const char *name);

/* Attaches x to the control plane's snapshots (worker < ETLS_SNAP_MAX_WORKERS) and adopts the
 * current one. */
void etls_sess_ctx_attach(etls_sess_ctx_t *x, etls_snap_pub_t *pub, unsigned worker);
/* Top of every poll iteration: adopts a newly published snapshot (one acquire load when nothing
 * changed). Sessions already running keep theirs. */
static inline void etls_sess_ctx_adopt(etls_sess_ctx_t *x)
{
    if (!x->pub)
        return;
    etls_snap_t *s = etls_snap_current(x->pub);
    if (s != x->snap) {
        x->snap = s;
        x->tls = &s->tls;
        etls_snap_adopted(x->pub, x->worker, s);
    }
}

/* Bits of etls_sess_input's result. */
#define ETLS_SESS_PROGRESS 1    /* something moved */
#define ETLS_SESS_ESTABLISHED 2 /* the handshake completed in this call */

/* Drops consumed bytes at the front of b: all of them when everything is consumed, otherwise
 * by moving the rest down when less than `need` bytes are free. Never while the engine or the
 * transport may be looking at b (the caller checks park / *_busy). */
static inline void etls_buf_compact(etls_tls_buf_t *b, size_t *off, size_t need)
{
    if (*off == 0)
        return;
    if (*off == b->len) {
        b->len = *off = 0;
    } else if (b->cap - b->len < need) {
        __builtin_memmove(b->base, b->base + *off, b->len - *off);
        b->len -= *off;
        *off = 0;
    }
}

/* Starts a new session on buffers the transport already attached (rx, out, app, bk: base and
 * cap); everything else is reset. `tls` selects the engine or the plaintext shim. */
void etls_sess_start(etls_sess_t *s, const etls_sess_ctx_t *x, int tls);
/* Ends it: parked crypto is cancelled, keys and every byte of plaintext ever held are wiped. */
void etls_sess_end(etls_sess_t *s);

/* rx -> engine -> app/out, and detection of the handshake's end (counted once). */
int etls_sess_input(etls_sess_t *s, const etls_sess_ctx_t *x);
/* The transport ended a session whose handshake had not completed (timeout, client gone):
 * counted as a failed handshake with whatever the engine had negotiated. */
void etls_sess_hs_failed(const etls_sess_t *s, const etls_sess_ctx_t *x);
/* Responder: answers each complete request in `app`, one response in flight at a time. */
int etls_sess_http(etls_sess_t *s, const etls_sess_ctx_t *x);
/* The mode's plaintext -> engine -> out, then closing: close_notify once the session should
 * end. transport_eof: the client's FIN arrived and the transport holds no more of its bytes;
 * stopping: the worker is shutting down. Returns 1 on progress. */
int etls_sess_output(etls_sess_t *s, const etls_sess_ctx_t *x, int transport_eof, int stopping);
/* The batch finished the parked call's crypto: repeats that call (its results are published
 * only inside the repeated call). */
void etls_sess_resume(etls_sess_t *s, const etls_sess_ctx_t *x);

/* The client will send nothing more that can be used: close_notify, or FIN (transport_eof)
 * with every byte before it processed; a trailing partial record after FIN never completes. */
int etls_sess_input_ended(const etls_sess_t *s, int transport_eof);
/* Ends the session politely: close_notify (if established over TLS), then FIN. */
void etls_sess_start_close(etls_sess_t *s);

/* Proxy: the transport appended to `bk` (tracks how much to wipe at the end). */
static inline void etls_sess_bk_written(etls_sess_t *s)
{
    if (s->bk.len > s->bk_hw)
        s->bk_hw = s->bk.len;
}
/* Proxy: the TLS half of a PROXY v2 header's fields (ALPN, SNI, version, cipher). */
void etls_sess_pp2_tls(const etls_sess_t *s, etls_pp2_info_t *info);

#endif
