/* Handshake load generator behind `edgetls-bench hs`: threads of non-blocking connections
 * driven by epoll, each running the bench client (cli.h), with X25519 batched across the
 * connections of one poll iteration.
 *
 * Load models
 *   closed loop  `concurrency` connections always in flight (split over the threads).
 *   open loop    `rate` new connections per second on a fixed schedule; latency is measured
 *                from each connection's *intended* start, so when the server (or a full slot
 *                table) delays starts, the delay shows up in the latency (no coordinated
 *                omission). Starts more than 1 ms behind schedule are counted as `late`.
 * Stops after `count` connections or `duration` seconds, whichever comes first; in-flight
 * connections then get at most `grace` seconds before they are abandoned (not errors).
 *
 * Ownership: etls_hs_run owns every thread, socket and buffer it creates and releases them
 * before returning; the result is plain data owned by the caller. */
#ifndef ETLS_BENCH_HS_LOAD_H
#define ETLS_BENCH_HS_LOAD_H

#include "cli.h"
#include "hist.h"

#include <sys/socket.h>

#define ETLS_HS_MAX_THREADS 64
#define ETLS_HS_MAX_SNI 64
#define ETLS_HS_MAX_SECONDS 3600

typedef enum {
    ETLS_HS_ERR_REFUSED = 0, /* connection refused */
    ETLS_HS_ERR_CONNECT,     /* other connect failures (e.g. no local port) */
    ETLS_HS_ERR_RESET,       /* reset by the peer */
    ETLS_HS_ERR_EOF,         /* the server closed before we were done */
    ETLS_HS_ERR_TIMEOUT,     /* no completion within the timeout */
    ETLS_HS_ERR_ALERT,       /* the server sent a fatal alert (see alerts[]) */
    ETLS_HS_ERR_PROTOCOL,    /* we rejected a server message (an alert we sent) */
    ETLS_HS_ERR_HTTP,        /* malformed or non-200 HTTP response */
    ETLS_HS_ERR_KINDS
} etls_hs_err_t;

const char *etls_hs_err_name(etls_hs_err_t k);

typedef struct etls_hs_opts {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char target[128]; /* as given, for reports */
    unsigned threads;
    int cpus[ETLS_HS_MAX_THREADS]; /* thread i pinned to cpus[i % ncpus]; ncpus 0 = unpinned */
    size_t ncpus;
    unsigned concurrency; /* closed loop (when rate == 0) */
    double rate;          /* open loop: new connections per second (0 = closed loop) */
    unsigned max_inflight; /* open loop slot table size over all threads */
    double duration;      /* seconds; 0 = until count */
    uint64_t count;       /* connections to start; 0 = until duration */
    double timeout;       /* per connection, seconds */
    double grace;         /* after the end, seconds for in-flight connections */
    etls_cli_cfg_t cli;
    const char *const *sni; /* n_sni names, used round-robin (--sni or --sni-file) */
    size_t n_sni;
    int request;      /* one GET per connection, response read to the end of its body */
    const char *path; /* request path */
    int reuse_keyshare;
    int resume;    /* offer the thread's latest session ticket (PSK-DHE resumption) */
    int close_rst; /* close with RST (SO_LINGER 0) after close_notify instead of FIN */
    int progress;  /* a line per second on stderr */
} etls_hs_opts_t;

typedef struct etls_hs_second {
    uint64_t handshakes, errors;
    uint64_t p50_ns, p99_ns;
} etls_hs_second_t;

typedef struct etls_hs_result {
    uint64_t started, handshakes, completed; /* completed: handshake (+ response) with no error */
    uint64_t resumed; /* handshakes the server completed with our ticket (--resume) */
    uint64_t in_window; /* handshakes completed before the end of --duration (the rate's basis) */
    uint64_t errors, err[ETLS_HS_ERR_KINDS];
    uint64_t alerts[256];
    uint64_t late;      /* open loop: starts over 1 ms behind schedule (no free slot, busy) */
    uint64_t abandoned; /* in flight at the end */
    etls_hist_t hs_lat;   /* start -> handshake complete (ns) */
    etls_hist_t resp_lat; /* start -> end of the response body (ns), with request */
    double elapsed_s;
    double cpu_user_s, cpu_sys_s;
    unsigned n_seconds;
    etls_hs_second_t sec[ETLS_HS_MAX_SECONDS];
    uint16_t suite;  /* negotiated by the last successful connection */
    char alpn[64];
} etls_hs_result_t;

/* Runs the load; returns 0 (even when connections failed: see r->errors) or a negative code
 * when the run could not be set up. r is large (allocate it). */
int etls_hs_run(const etls_hs_opts_t *o, etls_hs_result_t *r);

/* ---- shared with `record` ---- */

uint64_t etls_hs_now_ns(void);
/* Non-blocking TCP socket connecting to addr (TCP_NODELAY set). Returns fd or -errno. */
int etls_hs_connect(const struct sockaddr_storage *addr, socklen_t len);
/* Parses "HOST:PORT" / "[V6]:PORT" with a numeric host or "localhost". 0 or ETLS_ERR_INVALID. */
int etls_hs_parse_target(const char *s, struct sockaddr_storage *ss, socklen_t *len);
/* --dpdk command lines: argv is cut at the first "--" (what follows is for EAL, and that "--"
 * stands in for the program name EAL expects in front). Returns the count before it; *rest and
 * *nrest get the part from the "--" on (NULL and 0 without one). */
int etls_hs_split_dpdk_args(int argc, char **argv, int *nrest, char ***rest);
/* "1,3-4" into cpus; returns the count or -1. */
int etls_hs_parse_cpus(const char *s, int *cpus, size_t cap);
/* A verifier for etls_cli_cfg_t.verify_chain from a PEM CA file (OpenSSL X509 store: chain and
 * host name). Returns the store (pass as verify_arg) or NULL with a reason printed. */
void *etls_hs_verifier_new(const char *cafile);
void etls_hs_verifier_free(void *v);
int etls_hs_verify_chain(void *arg, const uint8_t *const *der, const size_t *der_len, size_t n,
                         const char *host, etls_pkey_t **leaf);

/* HTTP/1.1 response tracking for one connection: feed it decrypted bytes. */
typedef struct etls_http_resp {
    size_t head_len;   /* bytes of the head collected so far */
    int head_done;
    int status;
    int64_t body_left; /* -1 until known */
    char head[8192];
} etls_http_resp_t;
/* Consumes data; returns 1 when the response is complete, 0 when more is needed, -1 on a
 * malformed head (too long, no Content-Length, bad status line). */
int etls_http_resp_feed(etls_http_resp_t *h, const uint8_t *p, size_t n);

#endif
