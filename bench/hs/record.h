/* `edgetls-bench record`: what its transports share. The kernel-socket transport is record.c's
 * own (epoll threads); `record --dpdk` (bench/dpdk/record_dpdk.c) drives the same connections
 * over a DPDK port and the project's TCP. A connection's TLS and HTTP side (start, feed, the
 * next request, records to send) is here and does no I/O: the transport moves c->rx / c->tx. */
#ifndef ETLS_BENCH_HS_RECORD_H
#define ETLS_BENCH_HS_RECORD_H

#include "load.h"

#include "crypto/rand.h"

#include <stdio.h>

#define ETLS_REC_RX (16 * ETLS_TLS_MAX_RECORD) /* large recv()s: fewer syscalls per GB */
#define ETLS_REC_TX (8 * (ETLS_TLS_MAX_PLAINTEXT + 32))
#define ETLS_REC_WINDOW (4u << 20) /* echo: bytes sent but not yet echoed back, per connection */
#define ETLS_REC_MAX_CONN 1024

enum { ETLS_REC_ECHO = 0, ETLS_REC_DOWNLOAD, ETLS_REC_UPLOAD };

typedef struct etls_rec_cfg {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char target[128];
    int mode;
    unsigned conns, threads;
    int cpus[ETLS_HS_MAX_THREADS];
    size_t ncpus;
    double duration;
    size_t rec;
    const char *path, *sni;
    int json;
    int dpdk; /* --dpdk: one DPDK lcore instead of the threads (etls_rec_dpdk_run) */
    etls_cli_cfg_t cli;
} etls_rec_cfg_t;

typedef struct etls_rec_conn {
    int fd, dead;
    size_t rx_len, tx_len, tx_off;
    uint64_t sent, echoed_base; /* plaintext bytes handed to the transport; app bytes at start */
    etls_http_resp_t http;
    etls_cli_share_t share;
    etls_cli_conn_t cli;
    uint8_t rx[ETLS_REC_RX];
    uint8_t tx[ETLS_REC_TX];
} etls_rec_conn_t;

/* Key share, client, ClientHello into c->tx. */
int etls_rec_start(const etls_rec_cfg_t *cfg, etls_rec_conn_t *c, etls_aead_engine_t *eng,
                   etls_rand_t *rng);
/* Runs the client over c->rx (X25519 inline). dl: the configuration in download mode once the
 * first request is out (responses tracked, the next request queued after each body), else
 * NULL (application data only counted). 0 or a negative code (the connection is lost). */
int etls_rec_feed(const etls_rec_cfg_t *dl, etls_rec_conn_t *c);
/* Download: the next GET into c->tx. */
int etls_rec_request(const etls_rec_cfg_t *cfg, etls_rec_conn_t *c);
/* Echo and upload: tops c->tx up with sealed records. */
void etls_rec_fill(const etls_rec_cfg_t *cfg, etls_rec_conn_t *c);
/* The text or JSON summary (plaintext bytes each way over the measured duration). */
void etls_rec_report(const etls_rec_cfg_t *cfg, uint64_t up, uint64_t down, uint64_t errors,
                     double cpu_u, double cpu_s, double warmup);

/* What a transport run measured. */
typedef struct etls_rec_result {
    uint64_t up, down, errors;
    double cpu_u, cpu_s, warmup;
    int setup_rc;
} etls_rec_result_t;

/* `record --dpdk`: argv as for etls_hs_dpdk_run (bench/dpdk/hs_dpdk.h). Weak: linked only
 * when the build found DPDK. 0 or a negative code (a message printed). */
int etls_rec_dpdk_run(const etls_rec_cfg_t *cfg, int argc, char **argv, etls_rec_result_t *res)
    __attribute__((weak));
/* After etls_rec_report: the DPDK-mode lines (bench loop, server cycles per GB) to txt, and
 * with json != NULL one more JSON object on its own line. */
void etls_rec_dpdk_report(FILE *txt, FILE *json, const etls_rec_cfg_t *cfg,
                          const etls_rec_result_t *res) __attribute__((weak));

#endif
