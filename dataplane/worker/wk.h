/* Worker internals shared by worker.c (loop, accept, timers, I/O completions), conn.c (the
 * per-connection pump: TLS engine, echo and responder modes) and backend.c (proxy mode).
 * Private to dataplane/worker. */
#ifndef ETLS_WORKER_WK_H
#define ETLS_WORKER_WK_H

#include "io/uring.h"
#include "proxy/pp2.h"
#include "session/session.h"
#include "worker/worker.h"

#include <pthread.h>
#include <stdatomic.h>

#define WK_PBUF_SIZE 16384u /* provided-buffer size: one TLS record's worth */
#define WK_PBUF_COUNT 1024u /* provided buffers per worker */
#define WK_BGID 1
#define WK_LINGER_MS 2000u  /* after our FIN: how long to drain the peer before closing */
#define WK_NO_BUF 0xffffffffu
/* Least `out` capacity: room for one full AEAD burst (16 records, what one etls_tls_send
 * seals) while the previous burst is still in the kernel, so a bulk sender seals up to 16
 * records per call and each send hands the kernel everything sealed so far instead of a few
 * records. Measured on loopback (1 MiB downloads, 4 connections): ~140 KB per send and ~27
 * records per batch run against ~34 KB and ~5 with the 64 KiB buffer; 0.37-0.40 s of server
 * CPU per GB against 0.51-0.52. Pages are only touched by connections that send that much, so
 * handshake-only connections cost no more memory than before. */
#define WK_OUT_MIN (2u * ETLS_TLS_MAX_PARKED * ETLS_TLS_MAX_SEALED)

typedef enum {
    CS_HANDSHAKE = 0, /* TLS handshake in progress */
    CS_OPEN,          /* established: application data flows */
    CS_LINGER,        /* our FIN is sent; draining the peer until EOF or timeout */
    CS_DEAD,          /* closed: waiting for in-flight operations before reuse */
} conn_state_t;

typedef enum { TL_NONE = 0, TL_HS, TL_IDLE, TL_LINGER, TL_COUNT } timer_list_t;

/* Provided buffers a connection received but could not copy yet (its buffer was full): a FIFO
 * linked through the worker's held_next[] array, so holding costs no allocation. */
typedef struct held {
    uint32_t head, tail; /* buffer ids, WK_NO_BUF when empty */
    uint32_t off;        /* bytes of head already taken */
} held_t;

typedef struct wk_conn {
    uint32_t slot, gen;
    int fd, bfd;
    uint8_t state;       /* conn_state_t */
    uint8_t listener;
    uint8_t recv_armed, recv_cancel;
    uint8_t rd_eof;      /* client sent FIN (or reset) */
    uint8_t wr_shut;     /* our FIN to the client is sent */
    /* proxy mode */
    uint8_t bk_state;    /* 0 none, 1 connecting, 2 connected, 3 failed */
    uint8_t bk_recv_armed, bk_recv_cancel, bk_send_busy, bk_eof, bk_wr_shut;
    uint8_t dirty;       /* on the worker's list of connections to pump */
    struct wk_conn *dnext;
    uint32_t inflight;   /* completions still expected for this connection */
    uint32_t backend;    /* index into cfg->backends */
    /* timers: a FIFO per list, deadlines grow along each list because its timeout is fixed */
    struct wk_conn *tprev, *tnext;
    uint8_t tlist;
    uint64_t deadline;
    held_t held, bheld;  /* received provided buffers not yet copied into s.rx / s.bk */
    /* proxy: PROXY v2 header, sent before any application data */
    uint16_t pp2_len, pp2_off;
    uint8_t pp2[ETLS_PP2_MAX_LEN];
    /* the TLS session and its buffers; s.out_busy is set while a send from s.out is in
     * flight, s.app_busy while one from s.app (to the backend) is */
    etls_sess_t s;       /* last: large */
} wk_conn_t;

struct etls_worker {
    const etls_worker_shared_t *sh;
    const etls_config_t *cfg;
    unsigned index;
    int cpu;
    pthread_t thread;
    atomic_int stop_requested;
    /* start-up handshake with etls_worker_start */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready; /* 0 starting, 1 running, <0 failed */
    char err[512];

    struct io_uring ring;
    int ring_ok;
    etls_io_bufs_t bufs;
    uint32_t *held_next; /* per provided buffer: next in a held FIFO */
    uint32_t *held_len;  /* per provided buffer: bytes received into it */
    int lfd[ETLS_CONFIG_MAX_LISTENERS];
    uint8_t accept_armed[ETLS_CONFIG_MAX_LISTENERS];
    uint64_t accept_retry_at[ETLS_CONFIG_MAX_LISTENERS]; /* back-off after EMFILE/ENFILE */
    size_t nlisteners;
    /* With a control plane: an eventfd the ctl thread writes after publishing a snapshot, so an
     * idle worker adopts it at once instead of at the end of its 100 ms wait. */
    int wake_fd;        /* -1 without a control plane */
    uint8_t wake_armed;

    /* connection table: slots with generations; conns are allocated on first use and kept */
    wk_conn_t **conns;
    uint32_t *free_slots;
    uint32_t nfree, nslots;
    size_t rx_cap, out_cap, app_cap, bk_cap;

    wk_conn_t *thead[TL_COUNT], *ttail[TL_COUNT];
    wk_conn_t *dirty; /* connections with new events, pumped once per iteration */
    uint64_t now_ms;
    uint32_t rr; /* round-robin backend cursor */

    etls_rand_t rng;
    etls_aead_engine_t *aead;
    etls_batch_t *batch;
    etls_tls_hs_pool_t *hs_pool;
    etls_tls_env_t env;
    etls_sess_ctx_t sx; /* what every session of this worker shares */

    int stopping;
    uint64_t stop_deadline;
    etls_worker_stats_t st;
};

#define WK_STAT_ADD(w, field, n)                                                                  \
    __atomic_store_n(&(w)->st.field, (w)->st.field + (uint64_t)(n), __ATOMIC_RELAXED)

/* worker.c */
void wk_timer_set(etls_worker_t *w, wk_conn_t *c, timer_list_t list);
void wk_conn_abort(etls_worker_t *w, wk_conn_t *c, const char *why);
void wk_mark_dirty(etls_worker_t *w, wk_conn_t *c);
void wk_arm_recv(etls_worker_t *w, wk_conn_t *c, int backend);
void wk_cancel_recv(etls_worker_t *w, wk_conn_t *c, int backend);
uint8_t *wk_held_take(etls_worker_t *w, held_t *h, size_t *len);
void wk_held_consume(etls_worker_t *w, held_t *h, size_t n);

/* conn.c */
void wk_conn_init(etls_worker_t *w, wk_conn_t *c, int fd, unsigned listener, int tls);
void wk_conn_pump(etls_worker_t *w, wk_conn_t *c);
void wk_conn_resume(etls_worker_t *w, wk_conn_t *c);
void wk_conn_on_sent(etls_worker_t *w, wk_conn_t *c, int res);
void wk_conn_shutdown(etls_worker_t *w, wk_conn_t *c); /* graceful shutdown of the worker */
void wk_conn_idle_close(etls_worker_t *w, wk_conn_t *c);
int wk_buf_room(const etls_tls_buf_t *b);
int wk_transport_eof(const wk_conn_t *c);

/* backend.c */
int wk_backend_open(etls_worker_t *w, wk_conn_t *c);
void wk_backend_on_connect(etls_worker_t *w, wk_conn_t *c, int res);
void wk_backend_on_sent(etls_worker_t *w, wk_conn_t *c, int res);
void wk_backend_handshake_done(etls_worker_t *w, wk_conn_t *c);
int wk_backend_pump(etls_worker_t *w, wk_conn_t *c); /* returns 1 on progress */

#endif
