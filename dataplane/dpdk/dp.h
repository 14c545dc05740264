/* DPDK transport internals shared by eal.c (start-up, options, lcores), port.c (ethdev set-up),
 * lcore.c (the poll loop: rx -> net -> TCP, tx), conn.c (TCP <-> the shared TLS session),
 * backend.c (proxy mode: kernel sockets to backends, driven by one io_uring per worker from
 * the same poll loop) and telemetry.c. Private to dataplane/dpdk. */
#ifndef ETLS_DPDK_DP_H
#define ETLS_DPDK_DP_H

#include "batch/batch.h"
#include "config/config.h"
#include "crypto/rand.h"
#include "dpdk/dpdk.h"
#include "dpdk/txq.h"
#include "http/http.h"
#include "io/uring.h"
#include "net/net.h"
#include "proxy/pp2.h"
#include "session/session.h"
#include "tcp/tcp.h"
#include "tls/tls.h"

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <stdatomic.h>
#include <stdint.h>

#define DP_RX_BURST 32
#define DP_TX_MAX 128      /* frames queued per iteration before a mid-iteration burst */
#define DP_RX_DESC 1024
#define DP_TX_DESC 1024
#define DP_EVENTS 64
#define DP_MAX_WORKERS 64
#define DP_IDLE_POLLS 1024 /* consecutive empty polls before the optional sleep */
#define DP_FAULT_HOLD_US 1000 /* a frame held back for reordering leaves by then when idle */
#define DP_FAULT_OUT(n) (3 * (n) + 1) /* dp_fault_apply's output bound for n input frames */

/* --fault (fault.c): probabilities as thresholds on a 32-bit draw (p * 2^32). */
enum { DP_FAULT_LOSS, DP_FAULT_REORDER, DP_FAULT_DUP, DP_FAULT_CORRUPT, DP_FAULT_KINDS };
typedef struct dp_fault_cfg {
    double p[DP_FAULT_KINDS];
    uint64_t thr[DP_FAULT_KINDS];
    uint64_t seed;
    uint8_t rx, tx, enabled;
} dp_fault_cfg_t;

/* One direction of one worker: its PRNG stream and the frame held back for reordering. */
typedef struct dp_fault_dir {
    uint64_t s;
    struct rte_mbuf *held;
    uint64_t held_us;
    uint8_t on;
} dp_fault_dir_t;

typedef struct dp_opts {
    etls_ipv4_t addr;
    unsigned prefix;
    etls_ipv4_t gateway;
    uint16_t port;
    uint32_t mbufs;
    uint32_t idle_sleep_us;
    int no_offload;
    dp_fault_cfg_t fault;
} dp_opts_t;

/* Per-worker counters: written only by the worker (relaxed stores), read by telemetry. */
typedef struct dp_stats {
    uint64_t rx_packets, tx_packets;
    uint64_t rx_dropped;  /* frames the net layer dropped (its counters say why) + multi-seg */
    uint64_t tx_dropped;  /* frames the TX queue would not take (freed) */
    uint64_t nombuf;      /* mbuf allocation failures */
    uint64_t busy_polls, idle_polls;
    uint64_t busy_us;     /* time spent in iterations that did work (load = busy_us / uptime) */
    /* Cycle accounting (TSC, rte_rdtsc): busy_cycles over the iterations that did work;
     * tcp_cycles inside them spent in the TCP stack proper (etls_tcp_input, etls_tcp_timers,
     * etls_tcp_flush, the flush including the framing of each segment into its mbuf). The
     * application's reads and writes on TCP buffers are counted with TLS, not here. tsc_hz
     * converts both to time. Cycles per handshake = busy_cycles / handshakes. */
    uint64_t busy_cycles, tcp_cycles, tsc_hz;
    /* The same busy iterations in the worker thread's CPU time (CLOCK_THREAD_CPUTIME_ID, from
     * the first sign of work to the end of the iteration): unlike TSC cycles it excludes time
     * the thread was preempted, which on a shared machine can dwarf the work itself. The clock
     * starts at received frames, dirty connections or queued crypto (whichever comes first);
     * timer- and backend-driven work is timed from after the step that found it. Each reading
     * costs ~0.5 us (a system call), two per busy iteration. */
    uint64_t busy_cpu_ns;
    /* busy_cycles and tcp_cycles of the busy iterations that ran without being preempted
     * (wall time close to CPU time): clean_tcp_cycles / clean_cycles is the TCP share. */
    uint64_t clean_cycles, clean_tcp_cycles;
    uint64_t accepted, rejected, active;
    uint64_t handshakes, hs_failures, errors, requests;
    uint64_t timeouts; /* handshake and idle timeouts */
    uint64_t resets;   /* clients gone without a goodbye: TCP reset (their RST, or our
                        * retransmissions exhausted) */
    uint64_t bytes_in, bytes_out;       /* TLS bytes from / to clients */
    uint64_t bk_bytes_in, bk_bytes_out, bk_errors;
    /* System calls made for backend I/O: io_uring_enter (submit / collect completions),
     * socket + setsockopt per backend connection, synchronous cancels. Iterations with
     * nothing queued and nothing completed make none. */
    uint64_t bk_syscalls;
    uint64_t bk_cancels; /* backend sockets closed with operations in flight (cancelled) */
    uint64_t crypto_runs;
    uint64_t fault_loss, fault_reorder, fault_dup, fault_corrupt; /* --fault, both directions */
} dp_stats_t;

#define DP_STAT_ADD(w, f, n) __atomic_store_n(&(w)->st.f, (w)->st.f + (uint64_t)(n), __ATOMIC_RELAXED)

typedef struct dp_conn {
    struct dp_worker *w;
    etls_tcp_conn_t *tcp; /* NULL once released to the stack */
    uint32_t slot;
    uint8_t in_use;
    uint8_t peer_fin;    /* TCP FIN from the client */
    uint8_t dead;        /* reset or closed by the stack */
    uint8_t dirty;
    struct dp_conn *dnext;
    uint64_t hs_deadline_us;
    uint64_t last_us; /* last progress (idle timeout) */
    uint16_t lport;
    uint32_t raddr;
    uint16_t rport;
    /* proxy (backend.c): the backend socket's operations run on the worker's ring; while a
     * send from s.app is in flight, s.app_busy keeps the session from moving s.app */
    int bfd;
    uint8_t bk_state; /* 0 none, 1 connecting, 2 connected, 3 failed */
    uint8_t bk_eof, bk_wr_shut;
    uint8_t bk_ops;       /* operations queued or in the kernel (their completions are due) */
    uint8_t bk_send_busy; /* a send is in flight (1: from pp2, 2: from app) */
    uint8_t bk_recv_busy; /* a recv into bk's free space is in flight */
    uint32_t bk_gen;      /* this backend session's generation, in every user_data */
    uint16_t pp2_len, pp2_off;
    uint8_t pp2[ETLS_PP2_MAX_LEN];
    etls_sess_t s; /* the TLS session and its buffers (dataplane/session); last: large */
} dp_conn_t;

typedef struct dp_worker {
    unsigned index, lcore;
    uint16_t port, queue;
    const etls_worker_shared_t *sh;
    const etls_config_t *cfg;
    const dp_opts_t *opts;
    struct rte_mempool *pool;
    uint64_t rx_csum_offload;  /* the port checks IPv4/TCP checksums */

    etls_net_t net;
    etls_tcp_stack_t *tcp;
    etls_txq_t txq; /* frames waiting for this iteration's burst (ol_flags set by port.c) */
    uint64_t now_us, now_ms;
    uint8_t scratch[ETLS_NET_FRAME_MAX];

    etls_rand_t rng;
    etls_aead_engine_t *aead;
    etls_batch_t *batch;
    etls_tls_hs_pool_t *hs_pool;
    etls_tls_env_t env;
    etls_sess_ctx_t sx; /* what every session of this worker shares */

    dp_conn_t **conns;
    uint32_t *free_slots;
    uint32_t nfree, nslots;
    size_t rx_cap, out_cap, app_cap, bk_cap;
    dp_conn_t *dirty;
    uint32_t rr; /* proxy: round-robin backend cursor */
    struct io_uring ring; /* proxy: backend sockets (created on the lcore thread) */
    int ring_ok;
    uint32_t bk_gen; /* proxy: last backend session generation handed out */
    uint64_t hz; /* timer cycles per second */
    uint64_t tcp_cyc; /* this iteration's TSC cycles in the TCP stack (cycle accounting) */
    uint64_t cpu0;    /* thread CPU ns when this iteration's work began (0: none yet) */
    dp_fault_dir_t frx, ftx;

    int failed;
    char err[256];
    dp_stats_t st;
    etls_sess_stats_t sess; /* the sessions' detail (sx.stats): handshakes by parameters,
                             * latency, alerts; one writer, like st */
} dp_worker_t;

extern atomic_int etls_dp_stop;
extern atomic_int etls_dp_dump; /* SIGUSR1: worker 0 prints every worker's counters */
extern dp_worker_t *etls_dp_workers[DP_MAX_WORKERS];
extern unsigned etls_dp_nworkers;

/* eal.c */
void dp_print_stats(void);

/* port.c */
int dp_port_setup(const dp_opts_t *o, dp_worker_t **ws, unsigned n, char *err, size_t errlen);
void dp_port_close(uint16_t port);

/* lcore.c */
int dp_worker_init(dp_worker_t *w, char *err, size_t errlen);
void dp_worker_fini(dp_worker_t *w);
int dp_lcore_main(void *arg);
void dp_mark_dirty(dp_worker_t *w, dp_conn_t *c);

/* conn.c */
void dp_conn_on_accept(dp_worker_t *w, etls_tcp_conn_t *tc);
void dp_conn_on_event(dp_worker_t *w, dp_conn_t *c, uint32_t events);
void dp_conn_pump(dp_worker_t *w, dp_conn_t *c);
void dp_conn_resume(dp_worker_t *w, dp_conn_t *c);
void dp_conn_release(dp_worker_t *w, dp_conn_t *c, int abort);
void dp_conn_check_timeout(dp_worker_t *w, dp_conn_t *c);
void dp_conn_shutdown(dp_worker_t *w, dp_conn_t *c);
int dp_conn_transport_eof(const dp_conn_t *c); /* the client's FIN, and no unread byte in TCP */

/* backend.c */
int dp_backend_start(dp_worker_t *w); /* on the lcore thread, proxy mode only; sets w->err */
void dp_backend_stop(dp_worker_t *w); /* on the lcore thread, after every connection released */
int dp_backend_open(dp_worker_t *w, dp_conn_t *c);
int dp_backend_pump(dp_worker_t *w, dp_conn_t *c); /* 1 on progress */
void dp_backend_close(dp_worker_t *w, dp_conn_t *c);
unsigned dp_backend_poll(dp_worker_t *w); /* submits, reaps; returns the completions handled */

/* fault.c */
int dp_fault_parse(dp_fault_cfg_t *f, const char *spec, char *err, size_t errlen);
void dp_fault_print(const dp_fault_cfg_t *f);
void dp_fault_init(dp_worker_t *w);
void dp_fault_fini(dp_worker_t *w); /* frees held frames */
/* Applies the faults to n frames in `in` (taking ownership); the frames to pass on are written
 * to out (room for DP_FAULT_OUT(n)); returns their count. n = 0 releases a long-held frame. */
unsigned dp_fault_apply(dp_worker_t *w, dp_fault_dir_t *d, struct rte_mbuf **in, unsigned n,
                        struct rte_mbuf **out);

/* telemetry.c */
void dp_telemetry_register(void);

/* stats.c: which workers other threads (telemetry, the control plane's STATS) may read.
 * dp_readers_set(n) publishes etls_dp_workers[0..n) once they are set up, and n = 0 withdraws
 * them before teardown, waiting for a reader still at work. A reader brackets its reads with
 * dp_readers_enter (returns how many workers it may read) and dp_readers_leave. The workers
 * themselves never take part: their counters stay plain relaxed stores. */
void dp_readers_set(unsigned n);
unsigned dp_readers_enter(void);
void dp_readers_leave(void);

#endif
