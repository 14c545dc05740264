/* One load-generator connection seen from TLS and HTTP only, shared by the transports of
 * `edgetls-bench hs`: kernel sockets + epoll (load.c) and DPDK + the project's TCP
 * (bench/dpdk/hs_dpdk.c). The transport moves bytes between its connection and s->rx / s->tx
 * and decides how a connection ends on the wire; this module runs the client over those bytes
 * and does everything else the same way for both:
 *   starting the client (key share, SNI in turn, the thread's latest ticket offered with
 *   --resume), advancing on received bytes, handing X25519 to the batch of the poll iteration,
 *   the request and its response, keeping received tickets, classifying the outcome into
 *   etls_hs_result_t and recording latencies.
 *
 * Phases: CONNECTING (transport) -> HANDSHAKE -> KX (queued for etls_sess_kx_run) ->
 *   RESPONSE (--request) / TICKET (--resume without --request: connected, waiting for the
 *   NewSessionTicket the next connections will offer) -> done.
 *
 * Outcomes (etls_sess_start / _advance / the kx_run callback):
 *   ETLS_SESS_MORE  keep going: send what is in tx, read on
 *   ETLS_SESS_KX    queued for the batched key exchange: do not feed it until kx_run
 *   ETLS_SESS_DONE  success, already counted; tx ends with close_notify: send it, close, release
 *   ETLS_SESS_FAIL  failure, already counted; tx may hold our alert: send it (best effort),
 *                   close, release
 * Transport failures (refused, reset, EOF, timeout) are counted with etls_sess_fail.
 *
 * Ownership: the context (one per thread or lcore) borrows the options, the result, the
 * engine, the rng and the shared key share; a session owns its key share and client keys until
 * etls_sess_release wipes them. */
#ifndef ETLS_BENCH_HS_SESS_H
#define ETLS_BENCH_HS_SESS_H

#include "load.h"

#include "crypto/rand.h"

#define ETLS_SESS_RX_CAP (2 * ETLS_TLS_MAX_RECORD)
#define ETLS_SESS_TX_CAP 4096
#define ETLS_SESS_APP_CAP (ETLS_TLS_MAX_CIPHERTEXT + 64)
#define ETLS_SESS_KX_MAX 256

enum { ETLS_SESS_MORE = 0, ETLS_SESS_KX, ETLS_SESS_DONE, ETLS_SESS_FAIL };

enum { ETLS_SESS_FREE = 0, ETLS_SESS_CONNECTING, ETLS_SESS_HANDSHAKE, ETLS_SESS_KX_WAIT,
       ETLS_SESS_RESPONSE, ETLS_SESS_TICKET };

typedef struct etls_sess {
    uint8_t phase;
    uint64_t t0, deadline; /* intended start (latency base), timeout */
    size_t rx_len, tx_len, tx_off;
    etls_http_resp_t http;
    etls_cli_share_t share; /* this connection's key share (without --reuse-keyshare) */
    etls_cli_conn_t cli;
    etls_cli_ticket_t offer, nst; /* --resume: the ticket offered (a copy), the one received */
    uint8_t rx[ETLS_SESS_RX_CAP];
    uint8_t tx[ETLS_SESS_TX_CAP];
    uint8_t app[ETLS_SESS_APP_CAP];
} etls_sess_t;

typedef struct etls_sess_ctx {
    const etls_hs_opts_t *o;
    etls_hs_result_t *r;               /* this thread's totals */
    etls_aead_engine_t *eng;
    etls_rand_t *rng;
    const etls_cli_share_t *shared_share; /* --reuse-keyshare */
    uint64_t t_stop;                   /* end of --duration (in_window) */
    uint64_t sni_next;
    etls_cli_ticket_t ticket; /* --resume: the latest ticket any connection of this context got */
    int have_ticket;
    etls_sess_t *kx[ETLS_SESS_KX_MAX];
    unsigned nkx;
    uint64_t sec_hs, sec_err; /* this second's figures (the transport publishes and resets) */
    etls_hist_t sec_hist;
    uint64_t last_done; /* time of the last success */
} etls_sess_ctx_t;

/* A connection begins (before the transport connects): counts it as started, late when it
 * began over 1 ms after `intended`, and sets its deadline. Phase CONNECTING. */
void etls_sess_begin(etls_sess_ctx_t *x, etls_sess_t *s, uint64_t intended, uint64_t now);
/* The transport connected: key share, client, ticket offer, ClientHello into tx. */
int etls_sess_start(etls_sess_ctx_t *x, etls_sess_t *s);
/* Runs the client over s->rx (consumed bytes removed). */
int etls_sess_advance(etls_sess_ctx_t *x, etls_sess_t *s, uint64_t now);
/* X25519 for every session queued in this iteration in one batch, then each one advanced;
 * done(arg, s, outcome) tells the transport what became of it. */
void etls_sess_kx_run(etls_sess_ctx_t *x, uint64_t now,
                      void (*done)(void *arg, etls_sess_t *s, int outcome), void *arg);
/* Counts a failure of kind (alert: the description with ETLS_HS_ERR_ALERT, else -1). */
void etls_sess_fail(etls_sess_ctx_t *x, etls_sess_t *s, etls_hs_err_t kind, int alert);
/* Counts the connection as abandoned at the end of the run. */
void etls_sess_abandon(etls_sess_ctx_t *x, etls_sess_t *s);
/* Wipes the session's keys; phase FREE. */
void etls_sess_release(etls_sess_ctx_t *x, etls_sess_t *s);

#endif
