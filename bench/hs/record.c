/* `edgetls-bench record HOST:PORT`: bulk TLS record throughput over N established connections.
 *
 * Modes (what each peer can serve):
 *   echo      the client streams records of --record-size bytes and reads them back (edgetls
 *             --mode echo). Reports both directions; the server decrypts and encrypts each byte.
 *   download  the client sends GET --path requests one after another on each connection and
 *             reads the bodies (any HTTP/1.1 server with a large static file: nginx, ...; or
 *             edgetls --mode responder with --path /bytes/N, a synthetic body of N bytes).
 *   upload    the client streams records and discards whatever comes back (an echo or a
 *             discarding peer); reports the upload direction.
 * Connections are set up (handshake, untimed) before the clock starts; the measurement then runs
 * for --duration seconds. Each thread owns its connections and buffers (epoll, no locks). */
#include "hs.h"

#include "record.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include "crypto/rand.h"

#define R_RX ETLS_REC_RX
#define R_TX ETLS_REC_TX
#define R_WINDOW ETLS_REC_WINDOW
#define R_MAX_CONN ETLS_REC_MAX_CONN
#define M_ECHO ETLS_REC_ECHO
#define M_DOWNLOAD ETLS_REC_DOWNLOAD

typedef etls_rec_cfg_t rcfg_t;
typedef etls_rec_conn_t rconn_t;

typedef struct rthr {
    const rcfg_t *cfg;
    unsigned idx, n;
    rconn_t *c;
    pthread_t tid;
    etls_aead_engine_t *eng;
    uint64_t t_start, t_end;
    uint64_t up, down, errors;
    int setup_rc;
} rthr_t;

static const char *const mode_names[] = {"echo", "download", "upload"};
static uint8_t payload[ETLS_TLS_MAX_PLAINTEXT];

/* ---- handshake (untimed, blocking with poll) ----------------------------------------------- */

static int r_wait(int fd, short ev)
{
    struct pollfd p = {fd, ev, 0};
    return poll(&p, 1, 5000) == 1 ? 0 : ETLS_ERR_IO;
}

static int r_flush_blocking(rconn_t *c)
{
    while (c->tx_off < c->tx_len) {
        ssize_t n = send(c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN)
            ETLS_GUARD(r_wait(c->fd, POLLOUT));
        else if (n < 0)
            return ETLS_ERR_IO;
        else
            c->tx_off += (size_t)n;
    }
    c->tx_off = c->tx_len = 0;
    return 0;
}

static int r_send_request(const rcfg_t *cfg, rconn_t *c);

/* Download mode: application data goes through the HTTP response tracker; a complete
 * response triggers the next request on the same connection. */
static int r_sink(const rcfg_t *cfg, rconn_t *c, const uint8_t *p, size_t n)
{
    int h = etls_http_resp_feed(&c->http, p, n);
    if (h < 0 || (h == 1 && c->http.status != 200))
        return ETLS_ERR_INVALID;
    return h == 1 ? r_send_request(cfg, c) : 0;
}

/* Download mode, inside a body: n more body bytes arrived (counted by the client, not copied:
 * only the head needs the bytes themselves). */
static int r_body(const rcfg_t *cfg, rconn_t *c, uint64_t n)
{
    if ((int64_t)n > c->http.body_left)
        return ETLS_ERR_INVALID; /* more than the body: a pipelining server would be wrong here */
    c->http.body_left -= (int64_t)n;
    return c->http.body_left == 0 ? r_send_request(cfg, c) : 0;
}

/* Runs the client over c->rx; with t (download mode) application data goes to r_sink while
 * a response head is expected, and is only counted inside a body (no copy per record: the
 * client's own cost should stay well below the server's). */
int etls_rec_feed(const rcfg_t *t, rconn_t *c)
{
    static __thread uint8_t appbuf[ETLS_TLS_MAX_CIPHERTEXT + 64];
    etls_tls_buf_t app = {appbuf, 0, sizeof appbuf};
    for (;;) {
        etls_tls_buf_t out = {c->tx, c->tx_len, R_TX};
        size_t used;
        int in_body = t && c->http.head_done && c->http.body_left > 0;
        uint64_t before = c->cli.app_bytes;
        int rc = etls_cli_feed(&c->cli, c->rx, c->rx_len, &used, &out, t && !in_body ? &app : NULL);
        if (in_body && c->cli.app_bytes != before) {
            c->tx_len = out.len;
            int r2 = r_body(t, c, c->cli.app_bytes - before);
            out.len = c->tx_len;
            if (r2 < 0) {
                memmove(c->rx, c->rx + used, c->rx_len - used);
                c->rx_len -= used;
                return r2;
            }
        }
        memmove(c->rx, c->rx + used, c->rx_len - used);
        c->rx_len -= used;
        c->tx_len = out.len;
        if (rc == ETLS_CLI_NEED_KX) {
            out.len = c->tx_len;
            ETLS_GUARD(etls_cli_kx_inline(&c->cli, &out));
            c->tx_len = out.len;
            continue;
        }
        if (app.len) {
            ETLS_GUARD(r_sink(t, c, app.base, app.len));
            app.len = 0;
        }
        if (rc == ETLS_ERR_LIMIT && used)
            continue;
        return rc == ETLS_ERR_LIMIT ? 0 : rc;
    }
}

int etls_rec_start(const rcfg_t *cfg, rconn_t *c, etls_aead_engine_t *eng, etls_rand_t *rng)
{
    uint8_t rnd[64];
    (void)etls_rand_bytes(rng, rnd, sizeof rnd);
    ETLS_GUARD(etls_cli_share_new(&c->share, cfg->cli.group, rnd + 32));
    etls_cli_init(&c->cli, &cfg->cli, eng, &c->share, cfg->sni);
    etls_tls_buf_t out = {c->tx, 0, R_TX};
    ETLS_GUARD(etls_cli_hello(&c->cli, rnd, &out));
    c->tx_len = out.len;
    return 0;
}

static int r_handshake(rthr_t *t, rconn_t *c, etls_rand_t *rng)
{
    c->fd = etls_hs_connect(&t->cfg->addr, t->cfg->addrlen);
    ETLS_ENSURE(c->fd >= 0, ETLS_ERR_IO);
    ETLS_GUARD(r_wait(c->fd, POLLOUT));
    ETLS_GUARD(etls_rec_start(t->cfg, c, t->eng, rng));
    while (!etls_cli_connected(&c->cli)) {
        ETLS_GUARD(r_flush_blocking(c));
        ETLS_GUARD(r_wait(c->fd, POLLIN));
        ssize_t n = recv(c->fd, c->rx + c->rx_len, R_RX - c->rx_len, 0);
        if (n <= 0 && !(n < 0 && errno == EAGAIN))
            return ETLS_ERR_IO;
        c->rx_len += n > 0 ? (size_t)n : 0;
        ETLS_GUARD(etls_rec_feed(NULL, c));
    }
    return r_flush_blocking(c);
}

/* ---- streaming ----------------------------------------------------------------------------- */

int etls_rec_request(const rcfg_t *cfg, rconn_t *c)
{
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: edgetls-bench\r\n\r\n",
                     cfg->path, cfg->sni ? cfg->sni : "localhost");
    etls_tls_buf_t out = {c->tx, c->tx_len, R_TX};
    memset(&c->http, 0, sizeof c->http);
    c->http.body_left = -1;
    ETLS_GUARD(etls_cli_send(&c->cli, (const uint8_t *)req, (size_t)n, 0, &out));
    c->tx_len = out.len;
    return 0;
}

static int r_send_request(const rcfg_t *cfg, rconn_t *c)
{
    return etls_rec_request(cfg, c);
}

/* Tops the transmit buffer up with sealed records (echo and upload). */
void etls_rec_fill(const rcfg_t *cfg, rconn_t *c)
{
    size_t rec = cfg->rec;
    if (cfg->mode == M_ECHO && c->sent - (c->cli.app_bytes - c->echoed_base) > R_WINDOW)
        return;
    etls_tls_buf_t out = {c->tx, c->tx_len, R_TX};
    /* keep 512 bytes free: feeding received records needs room for a KeyUpdate or an alert */
    while (out.cap - out.len >= etls_cli_send_room(&c->cli, rec, rec) + 512 &&
           etls_cli_send(&c->cli, payload, rec, rec, &out) == 0)
        c->sent += rec;
    c->tx_len = out.len;
}

static int r_write(rthr_t *t, rconn_t *c)
{
    if (t->cfg->mode != M_DOWNLOAD)
        etls_rec_fill(t->cfg, c);
    while (c->tx_off < c->tx_len) {
        ssize_t n = send(c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN ? 0 : ETLS_ERR_IO;
        c->tx_off += (size_t)n;
    }
    c->tx_off = c->tx_len = 0;
    return 0;
}

static int r_read(rthr_t *t, rconn_t *c)
{
    for (;;) {
        if (c->rx_len == R_RX) /* cannot happen: feeding leaves less than one record */
            return ETLS_ERR_LIMIT;
        ssize_t n = recv(c->fd, c->rx + c->rx_len, R_RX - c->rx_len, 0);
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n <= 0)
            return ETLS_ERR_IO;
        c->rx_len += (size_t)n;
        ETLS_GUARD(etls_rec_feed(t->cfg->mode == M_DOWNLOAD ? t->cfg : NULL, c));
        if (c->cli.peer_closed)
            return ETLS_ERR_IO;
    }
}

/* ---- threads ------------------------------------------------------------------------------- */

typedef struct rshared {
    pthread_barrier_t ready, go;
    uint64_t t_go;
    double warmup;
} rshared_t;

static rshared_t rsh;

static void r_kill(rthr_t *t, rconn_t *c)
{
    if (!c->dead)
        t->errors++;
    c->dead = 1;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static void r_setup(rthr_t *t, int ep)
{
    etls_rand_t rng;
    etls_rand_init(&rng);
    for (unsigned i = 0; i < t->n; i++) {
        rconn_t *c = &t->c[i];
        c->fd = -1;
        int rc = r_handshake(t, c, &rng);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u32 = i};
        if (rc == 0 && t->cfg->mode == M_DOWNLOAD)
            rc = etls_rec_request(t->cfg, c);
        if (rc == 0)
            rc = epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) == 0 ? 0 : ETLS_ERR_IO;
        if (rc != 0) {
            t->setup_rc = rc;
            r_kill(t, c);
        }
    }
    etls_rand_wipe(&rng);
}

static void r_loop(rthr_t *t, int ep)
{
    struct epoll_event evs[64];
    uint64_t t_count = rsh.t_go + (uint64_t)(rsh.warmup * 1e9);
    uint64_t t_end = t_count + (uint64_t)(t->cfg->duration * 1e9);
    int counting = 0;
    for (unsigned i = 0; i < t->n; i++) /* start the flow; later writes follow events */
        if (!t->c[i].dead && r_write(t, &t->c[i]) < 0)
            r_kill(t, &t->c[i]);
    for (;;) {
        uint64_t now = etls_hs_now_ns();
        if (!counting && now >= t_count) { /* snapshot: bytes before this are warm-up */
            counting = 1;
            for (unsigned i = 0; i < t->n; i++) {
                t->up -= t->c[i].sent;
                t->down -= t->c[i].cli.app_bytes;
            }
        }
        if (now >= t_end)
            break;
        int n = epoll_wait(ep, evs, 64, 10);
        for (int i = 0; i < n; i++) {
            rconn_t *c = &t->c[evs[i].data.u32];
            if (c->dead)
                continue;
            if (r_read(t, c) < 0 || r_write(t, c) < 0)
                r_kill(t, c);
        }
    }
    for (unsigned i = 0; i < t->n; i++) {
        t->up += t->c[i].sent;
        t->down += t->c[i].cli.app_bytes;
    }
}

static void *r_thread(void *arg)
{
    rthr_t *t = arg;
    if (t->cfg->ncpus) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(t->cfg->cpus[t->idx % t->cfg->ncpus], &set);
        (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    t->eng = etls_aead_engine_new();
    if (ep >= 0 && t->eng)
        r_setup(t, ep);
    else
        t->setup_rc = ETLS_ERR_NOMEM;
    pthread_barrier_wait(&rsh.ready);
    pthread_barrier_wait(&rsh.go);
    if (ep >= 0 && t->eng)
        r_loop(t, ep);
    for (unsigned i = 0; i < t->n; i++) {
        rconn_t *c = &t->c[i];
        etls_tls_buf_t out = {c->tx, 0, R_TX};
        if (!c->dead && etls_cli_close(&c->cli, &out) == 0)
            (void)!send(c->fd, c->tx, out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (c->fd >= 0)
            close(c->fd);
        etls_cli_wipe(&c->cli);
        etls_cli_share_wipe(&c->share);
    }
    if (ep >= 0)
        close(ep);
    if (t->eng)
        etls_aead_engine_free(t->eng);
    return NULL;
}

/* ---- options and output -------------------------------------------------------------------- */

static void r_usage(FILE *f)
{
    fprintf(f, "usage: edgetls-bench record HOST:PORT [options]\n"
               "Bulk TLS record throughput over established connections (loopback or lab hosts).\n"
               "  --mode echo|download|upload  (default echo: edgetls --mode echo)\n"
               "  --connections N     connections (default 4)\n"
               "  --threads N         threads, each pinned (default 1)\n"
               "  --cpus LIST         CPUs for the threads (default: this process's affinity)\n"
               "  --duration S        measured seconds after a 0.3 s warm-up (default 3)\n"
               "  --record-size B     plaintext bytes per record sent (default 16384)\n"
               "  --path P            download: the large file to GET repeatedly (default /;\n"
               "                      edgetls responder: /bytes/N for an N-byte body)\n"
               "  --suite NAME --group x25519|p256 --sni NAME\n"
               "  --json              one JSON object on stdout\n"
               "  --dpdk              one DPDK lcore over a DPDK port and the project's TCP (as\n"
               "                      `hs --dpdk`): EAL arguments after '--', DPDK-mode options\n"
               "                      after a second '--' (bench/dpdk/hs_dpdk.h); one thread\n");
}

static int r_parse(rcfg_t *cfg, int argc, char **argv)
{
    static const struct option lo[] = {
        {"mode", 1, 0, 'm'}, {"connections", 1, 0, 'c'}, {"threads", 1, 0, 't'},
        {"cpus", 1, 0, 'C'}, {"duration", 1, 0, 'd'}, {"record-size", 1, 0, 'r'},
        {"path", 1, 0, 'p'}, {"suite", 1, 0, 's'}, {"group", 1, 0, 'g'}, {"sni", 1, 0, 'n'},
        {"json", 0, 0, 'j'}, {"dpdk", 0, 0, 'D'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int opt, n;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        char *e = NULL;
        double v = optarg ? strtod(optarg, &e) : 0;
        int bad_num = !optarg || e == optarg || *e;
        switch (opt) {
        case 'm':
            for (n = 0; n < 3 && strcmp(optarg, mode_names[n]); n++)
                ;
            if (n == 3)
                return -1;
            cfg->mode = n;
            break;
        case 'c': if (bad_num || v < 1 || v > R_MAX_CONN) return -1; cfg->conns = (unsigned)v; break;
        case 't': if (bad_num || v < 1 || v > ETLS_HS_MAX_THREADS) return -1; cfg->threads = (unsigned)v; break;
        case 'C':
            n = etls_hs_parse_cpus(optarg, cfg->cpus, ETLS_HS_MAX_THREADS);
            if (n <= 0)
                return -1;
            cfg->ncpus = (size_t)n;
            break;
        case 'd': if (bad_num || v < 0.1 || v > 3600) return -1; cfg->duration = v; break;
        case 'r': if (bad_num || v < 1 || v > ETLS_TLS_MAX_PLAINTEXT) return -1; cfg->rec = (size_t)v; break;
        case 'p': if (optarg[0] != '/' || strlen(optarg) > 255) return -1; cfg->path = optarg; break;
        case 's':
            if (!(cfg->cli.suites[0] = etls_cli_suite_by_name(optarg)))
                return -1;
            break;
        case 'g':
            cfg->cli.group = !strcmp(optarg, "p256") ? ETLS_TLS_GROUP_SECP256R1
                             : !strcmp(optarg, "x25519") ? ETLS_TLS_GROUP_X25519 : 0;
            if (!cfg->cli.group)
                return -1;
            break;
        case 'n': if (strlen(optarg) > 253) return -1; cfg->sni = optarg; break;
        case 'j': cfg->json = 1; break;
        case 'D': cfg->dpdk = 1; break;
        case 'h': return 1;
        default: return -1;
        }
    }
    if (optind != argc - 1 || strlen(argv[optind]) >= sizeof cfg->target ||
        etls_hs_parse_target(argv[optind], &cfg->addr, &cfg->addrlen) != 0)
        return -1;
    strcpy(cfg->target, argv[optind]);
    return 0;
}

static void r_defaults(rcfg_t *cfg)
{
    cpu_set_t set;
    memset(cfg, 0, sizeof *cfg);
    cfg->conns = 4;
    cfg->threads = 1;
    cfg->duration = 3;
    cfg->rec = ETLS_TLS_MAX_PLAINTEXT;
    cfg->path = "/";
    cfg->cli.group = ETLS_TLS_GROUP_X25519;
    cfg->cli.suites[0] = ETLS_TLS_AES_128_GCM_SHA256;
    cfg->cli.n_suites = 1;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        for (int c = 0; c < CPU_SETSIZE && cfg->ncpus < ETLS_HS_MAX_THREADS; c++)
            if (CPU_ISSET(c, &set))
                cfg->cpus[cfg->ncpus++] = c;
}

void etls_rec_report(const rcfg_t *cfg, uint64_t up, uint64_t down, uint64_t errors, double cpu_u,
                     double cpu_s, double warmup)
{
    double d = cfg->duration, pct = 100.0 * (cpu_u + cpu_s) / (d + warmup) / cfg->threads;
    const char *suite = etls_cli_suite_name(cfg->cli.suites[0]);
    if (cfg->json) {
        printf("{\"tool\":\"edgetls-bench record\",\"target\":\"%s\",\"mode\":\"%s\","
               "\"connections\":%u,\"threads\":%u,\"record_size\":%zu,\"suite\":\"%s\","
               "\"duration_s\":%.3f,\"bytes_sent\":%llu,\"bytes_received\":%llu,"
               "\"gbps_up\":%.4f,\"gbps_down\":%.4f,\"errors\":%llu,"
               "\"cpu\":{\"user_s\":%.3f,\"sys_s\":%.3f,\"pct_of_cores\":%.1f}}\n",
               cfg->target, mode_names[cfg->mode], cfg->conns, cfg->threads, cfg->rec, suite, d,
               (unsigned long long)up, (unsigned long long)down, up / d / 1e9, down / d / 1e9,
               (unsigned long long)errors, cpu_u, cpu_s, pct);
        return;
    }
    printf("record %s  %s  %u connections  %zu-byte records  %s  %.1f s\n", cfg->target,
           mode_names[cfg->mode], cfg->conns, cfg->rec, suite, d);
    printf("up   %.3f GB/s (%llu bytes)\ndown %.3f GB/s (%llu bytes)\nerrors %llu\n",
           up / d / 1e9, (unsigned long long)up, down / d / 1e9, (unsigned long long)down,
           (unsigned long long)errors);
    printf("bench cpu  user %.3f s sys %.3f s: %.1f%% of %u core%s\n", cpu_u, cpu_s, pct,
           cfg->threads, cfg->threads > 1 ? "s" : "");
}

static double tv_s(const struct timeval *tv)
{
    return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

/* --dpdk: the run on one DPDK lcore (bench/dpdk/record_dpdk.c). */
static int r_dpdk(rcfg_t *cfg, int argc, char **argv)
{
    if (!etls_rec_dpdk_run) {
        fprintf(stderr, "edgetls-bench record: --dpdk: this build has no DPDK (libdpdk not found)\n");
        return ETLS_BENCH_EXIT_USAGE;
    }
    cfg->threads = 1;
    etls_rec_result_t res;
    memset(&res, 0, sizeof res);
    int rc = etls_rec_dpdk_run(cfg, argc, argv, &res);
    if (rc < 0)
        return 1;
    if (res.setup_rc)
        fprintf(stderr, "edgetls-bench record: some connections could not be set up: %s\n",
                etls_strerror(res.setup_rc));
    etls_rec_report(cfg, res.up, res.down, res.errors, res.cpu_u, res.cpu_s, res.warmup);
    if (etls_rec_dpdk_report)
        etls_rec_dpdk_report(cfg->json ? stderr : stdout, cfg->json ? stdout : NULL, cfg, &res);
    return res.errors || (!res.up && !res.down) ? 1 : 0;
}

int etls_bench_record_main(int argc, char **argv)
{
    rcfg_t cfg;
    r_defaults(&cfg);
    /* --dpdk: what follows the first "--" is for EAL (and then the DPDK mode) */
    int dpdk_argc;
    char **dpdk_argv;
    argc = etls_hs_split_dpdk_args(argc, argv, &dpdk_argc, &dpdk_argv);
    int prc = r_parse(&cfg, argc, argv);
    if (prc == 0 && dpdk_argv && !cfg.dpdk) {
        fprintf(stderr, "edgetls-bench record: arguments after '--' are only for --dpdk\n");
        prc = -1;
    }
    if (prc != 0) {
        r_usage(prc == 1 ? stdout : stderr);
        return prc == 1 ? 0 : ETLS_BENCH_EXIT_USAGE;
    }
    if (cfg.threads > cfg.conns)
        cfg.threads = cfg.conns;
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 31 + 7);
    if (cfg.dpdk) {
        char *only_name[2] = {argv[0], NULL};
        if (!dpdk_argv)
            dpdk_argc = 1, dpdk_argv = only_name;
        dpdk_argv[0] = argv[0];
        return r_dpdk(&cfg, dpdk_argc, dpdk_argv);
    }
    rthr_t *th = calloc(cfg.threads, sizeof *th);
    rconn_t *conns = calloc(cfg.conns, sizeof *conns);
    if (!th || !conns) {
        free(th);
        free(conns);
        return 1;
    }
    rsh.warmup = 0.3;
    pthread_barrier_init(&rsh.ready, NULL, cfg.threads + 1);
    pthread_barrier_init(&rsh.go, NULL, cfg.threads + 1);
    for (unsigned i = 0, off = 0; i < cfg.threads; i++) {
        unsigned n = (cfg.conns + cfg.threads - 1 - i) / cfg.threads;
        th[i] = (rthr_t){.cfg = &cfg, .idx = i, .n = n, .c = conns + off};
        off += n;
        if (pthread_create(&th[i].tid, NULL, r_thread, &th[i]) != 0) {
            fprintf(stderr, "edgetls-bench record: cannot start threads\n");
            exit(1);
        }
    }
    pthread_barrier_wait(&rsh.ready);
    struct rusage u0, u1;
    getrusage(RUSAGE_SELF, &u0);
    rsh.t_go = etls_hs_now_ns();
    pthread_barrier_wait(&rsh.go);
    uint64_t up = 0, down = 0, errors = 0;
    int setup_rc = 0;
    for (unsigned i = 0; i < cfg.threads; i++) {
        pthread_join(th[i].tid, NULL);
        up += th[i].up;
        down += th[i].down;
        errors += th[i].errors;
        if (th[i].setup_rc)
            setup_rc = th[i].setup_rc;
    }
    getrusage(RUSAGE_SELF, &u1);
    if (setup_rc)
        fprintf(stderr, "edgetls-bench record: some connections could not be set up: %s\n",
                etls_strerror(setup_rc));
    etls_rec_report(&cfg, up, down, errors, tv_s(&u1.ru_utime) - tv_s(&u0.ru_utime),
                    tv_s(&u1.ru_stime) - tv_s(&u0.ru_stime), rsh.warmup);
    pthread_barrier_destroy(&rsh.ready);
    pthread_barrier_destroy(&rsh.go);
    free(th);
    free(conns);
    return errors || (!up && !down) ? 1 : 0;
}
