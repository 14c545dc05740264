/* The handshake load generator (load.h). One epoll loop per pinned thread; each connection is
 * a slot that moves CONNECTING -> HANDSHAKE -> (KX: waiting for the batched X25519) ->
 * RESPONSE (with --request) -> done. Slots are allocated once at start-up; nothing allocates
 * per connection except OpenSSL in verify mode.
 *
 * Statistics: each thread owns its totals and histograms and merges them into the result
 * when it ends; per-second figures (the progress line and the timeline) go through a small
 * mutex-protected ring, touched once per second per thread. */
#include "load.h"

#include "common/ct.h"
#include "crypto/rand.h"
#include "crypto/x25519.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#define RX_CAP (2 * ETLS_TLS_MAX_RECORD)
#define TX_CAP 4096
#define APP_CAP (ETLS_TLS_MAX_CIPHERTEXT + 64)
#define RING 4
#define KX_MAX 256

/* P_TICKET: --resume without --request, connected but waiting for the NewSessionTicket that
 * the next connections will offer (only until the thread has a ticket). */
enum { P_FREE = 0, P_CONNECTING, P_HANDSHAKE, P_KX, P_RESPONSE, P_TICKET };

typedef struct slot {
    int fd;
    uint8_t phase;
    uint8_t want_out;
    uint64_t t0, deadline;
    size_t rx_len, tx_len, tx_off;
    etls_http_resp_t http;
    etls_cli_share_t share; /* this connection's key share (without --reuse-keyshare) */
    etls_cli_conn_t cli;
    etls_cli_ticket_t offer, nst; /* --resume: the ticket offered (a copy), the one received */
    uint8_t rx[RX_CAP];
    uint8_t tx[TX_CAP];
    uint8_t app[APP_CAP];
} slot_t;

typedef struct run run_t;

typedef struct thr {
    run_t *run;
    unsigned idx;
    pthread_t tid;
    int ep;
    etls_rand_t rng;
    etls_aead_engine_t *eng;
    slot_t *slots;
    unsigned nslots, active, *free_list, nfree;
    unsigned conc;       /* closed loop target */
    uint64_t interval;   /* open loop: ns between starts */
    uint64_t next_due;   /* open loop: intended start of the next connection */
    uint64_t sni_next;
    unsigned kx[KX_MAX], nkx;
    etls_cli_ticket_t ticket; /* --resume: the latest ticket any of this thread's slots got */
    int have_ticket;
    unsigned cur_sec;
    uint64_t sec_hs, sec_err, last_done;
    etls_hist_t sec_hist;
    etls_hs_result_t *r; /* this thread's totals (merged at the end) */
} thr_t;

struct run {
    const etls_hs_opts_t *o;
    etls_cli_share_t shared_share;
    uint64_t t0, t_stop, t_abandon;
    atomic_uint_fast64_t started;
    pthread_mutex_t mu;
    etls_hist_t ring[RING];
    etls_hs_second_t *sec;
    atomic_uint live_threads;
};

static const char *const err_names[ETLS_HS_ERR_KINDS] = {"refused", "connect", "reset", "eof",
                                                         "timeout", "alert", "protocol", "http"};

const char *etls_hs_err_name(etls_hs_err_t k)
{
    return k < ETLS_HS_ERR_KINDS ? err_names[k] : "?";
}

/* ---- per-second publication ---------------------------------------------------------------- */

static void publish(thr_t *t, unsigned upto)
{
    run_t *run = t->run;
    pthread_mutex_lock(&run->mu);
    if (t->cur_sec < ETLS_HS_MAX_SECONDS) {
        run->sec[t->cur_sec].handshakes += t->sec_hs;
        run->sec[t->cur_sec].errors += t->sec_err;
        etls_hist_merge(&run->ring[t->cur_sec % RING], &t->sec_hist);
    }
    pthread_mutex_unlock(&run->mu);
    t->sec_hs = t->sec_err = 0;
    etls_hist_init(&t->sec_hist);
    t->cur_sec = upto;
}

/* ---- finishing a connection ---------------------------------------------------------------- */

static void slot_release(thr_t *t, slot_t *s, int rst)
{
    if (rst) {
        struct linger lg = {1, 0};
        (void)setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(s->fd); /* also leaves the epoll set */
    s->fd = -1;
    if (s->phase >= P_HANDSHAKE)
        etls_cli_wipe(&s->cli);
    if (!t->run->o->reuse_keyshare)
        etls_cli_share_wipe(&s->share);
    s->phase = P_FREE;
    t->free_list[t->nfree++] = (unsigned)(s - t->slots);
    t->active--;
}

static void slot_fail(thr_t *t, slot_t *s, etls_hs_err_t kind, int alert)
{
    t->r->errors++;
    t->r->err[kind]++;
    if (kind == ETLS_HS_ERR_ALERT && alert >= 0 && alert < 256)
        t->r->alerts[alert]++;
    t->sec_err++;
    if (s->tx_len > s->tx_off) /* our alert, best effort */
        (void)!send(s->fd, s->tx + s->tx_off, s->tx_len - s->tx_off, MSG_NOSIGNAL | MSG_DONTWAIT);
    slot_release(t, s, 1);
}

/* Success: close_notify, then FIN (or RST with --close rst). */
static void slot_done(thr_t *t, slot_t *s, uint64_t now)
{
    etls_tls_buf_t out = {s->tx, s->tx_len, TX_CAP};
    if (s->tx_off == s->tx_len)
        out.len = s->tx_off = s->tx_len = 0;
    if (etls_cli_close(&s->cli, &out) == 0)
        (void)!send(s->fd, s->tx + s->tx_off, out.len - s->tx_off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (t->run->o->request)
        etls_hist_record(&t->r->resp_lat, now - s->t0);
    if (s->cli.got_ticket) {
        t->ticket = s->nst;
        t->have_ticket = 1;
    }
    t->r->completed++;
    t->r->suite = s->cli.suite;
    t->last_done = now;
    slot_release(t, s, t->run->o->close_rst);
}

static void classify(thr_t *t, slot_t *s, int rc)
{
    if (ETLS_TLS_ERR_IS_PEER_ALERT(rc))
        slot_fail(t, s, ETLS_HS_ERR_ALERT, -rc - ETLS_TLS_ERR_PEER_BASE);
    else
        slot_fail(t, s, ETLS_HS_ERR_PROTOCOL, -1);
}

/* ---- starting ------------------------------------------------------------------------------ */

static int claim(thr_t *t, uint64_t now)
{
    const etls_hs_opts_t *o = t->run->o;
    if (now >= t->run->t_stop)
        return 0;
    if (o->count && atomic_fetch_add(&t->run->started, 1) >= o->count)
        return 0;
    if (!o->count)
        atomic_fetch_add(&t->run->started, 1);
    return 1;
}

static void slot_start(thr_t *t, uint64_t intended, uint64_t now)
{
    slot_t *s = &t->slots[t->free_list[--t->nfree]];
    t->active++;
    t->r->started++;
    t->r->late += now > intended + 1000000; /* open loop: began over 1 ms behind schedule */
    s->t0 = intended;
    s->deadline = now + (uint64_t)(t->run->o->timeout * 1e9);
    s->rx_len = s->tx_len = s->tx_off = 0;
    s->phase = P_CONNECTING;
    s->fd = etls_hs_connect(&t->run->o->addr, t->run->o->addrlen);
    if (s->fd < 0) {
        int e = -s->fd;
        t->active--;
        t->free_list[t->nfree++] = (unsigned)(s - t->slots);
        s->phase = P_FREE;
        t->r->errors++;
        t->r->err[e == ECONNREFUSED ? ETLS_HS_ERR_REFUSED : ETLS_HS_ERR_CONNECT]++;
        t->sec_err++;
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)(s - t->slots)};
    s->want_out = 1;
    if (epoll_ctl(t->ep, EPOLL_CTL_ADD, s->fd, &ev) < 0)
        slot_fail(t, s, ETLS_HS_ERR_CONNECT, -1);
}

static void start_due(thr_t *t, uint64_t now)
{
    const etls_hs_opts_t *o = t->run->o;
    if (o->rate <= 0) {
        while (t->active < t->conc && t->nfree && claim(t, now))
            slot_start(t, now, now);
        return;
    }
    while (t->next_due <= now) {
        if (!t->nfree) /* the start waits; its latency still counts from next_due */
            return;
        if (!claim(t, t->next_due))
            return;
        slot_start(t, t->next_due, now);
        t->next_due += t->interval;
    }
}

/* ---- I/O ----------------------------------------------------------------------------------- */

static int flush_tx(thr_t *t, slot_t *s)
{
    while (s->tx_off < s->tx_len) {
        ssize_t n = send(s->fd, s->tx + s->tx_off, s->tx_len - s->tx_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN)
                break;
            return -errno;
        }
        s->tx_off += (size_t)n;
    }
    if (s->tx_off == s->tx_len)
        s->tx_off = s->tx_len = 0;
    int want = s->tx_len > 0;
    if (want != s->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0),
                                 .data.u32 = (uint32_t)(s - t->slots)};
        (void)epoll_ctl(t->ep, EPOLL_CTL_MOD, s->fd, &ev);
        s->want_out = (uint8_t)want;
    }
    return 0;
}

static void on_connected(thr_t *t, slot_t *s)
{
    const etls_hs_opts_t *o = t->run->o;
    uint8_t rnd[64];
    const etls_cli_share_t *share = &t->run->shared_share;
    (void)etls_rand_bytes(&t->rng, rnd, sizeof rnd);
    if (!o->reuse_keyshare) {
        if (etls_cli_share_new(&s->share, o->cli.group, rnd + 32) != 0) {
            slot_fail(t, s, ETLS_HS_ERR_PROTOCOL, -1);
            return;
        }
        share = &s->share;
    }
    const char *sni = o->n_sni ? o->sni[t->sni_next++ % o->n_sni] : NULL;
    etls_cli_init(&s->cli, &o->cli, t->eng, share, sni);
    if (o->resume) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
        int fresh = t->have_ticket && now_ms - t->ticket.received_ms < t->ticket.lifetime_s * 1000ull;
        if (fresh)
            s->offer = t->ticket; /* a copy: other slots may replace the thread's ticket */
        etls_cli_tickets(&s->cli, fresh ? &s->offer : NULL, now_ms, &s->nst);
    }
    s->phase = P_HANDSHAKE;
    etls_tls_buf_t out = {s->tx, s->tx_len, TX_CAP};
    if (etls_cli_hello(&s->cli, rnd, &out) != 0) {
        slot_fail(t, s, ETLS_HS_ERR_PROTOCOL, -1);
        return;
    }
    s->tx_len = out.len;
}

static void send_request(thr_t *t, slot_t *s, etls_tls_buf_t *out)
{
    const etls_hs_opts_t *o = t->run->o;
    char req[512];
    const char *host = s->cli.sni[0] ? s->cli.sni : "localhost";
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: edgetls-bench\r\n\r\n",
                     o->path ? o->path : "/", host);
    memset(&s->http, 0, sizeof s->http);
    s->http.body_left = -1;
    if (n < 0 || (size_t)n >= sizeof req ||
        etls_cli_send(&s->cli, (const uint8_t *)req, (size_t)n, 0, out) != 0) {
        slot_fail(t, s, ETLS_HS_ERR_PROTOCOL, -1);
        return;
    }
    s->phase = P_RESPONSE;
}

/* Runs the client over buffered input. Returns 1 when the slot is finished (released). */
static int advance(thr_t *t, slot_t *s, uint64_t now)
{
    etls_tls_buf_t out = {s->tx, s->tx_len, TX_CAP};
    etls_tls_buf_t app = {s->app, 0, APP_CAP};
    size_t used;
    int rc = etls_cli_feed(&s->cli, s->rx, s->rx_len, &used, &out, &app);
    memmove(s->rx, s->rx + used, s->rx_len - used);
    s->rx_len -= used;
    s->tx_len = out.len;
    if (rc < 0 && rc != ETLS_ERR_LIMIT) {
        classify(t, s, rc);
        return 1;
    }
    if (rc == ETLS_CLI_NEED_KX) {
        if (t->run->o->cli.group != ETLS_TLS_GROUP_X25519 || t->nkx == KX_MAX) {
            if (etls_cli_kx_inline(&s->cli, &out) != 0) {
                s->tx_len = out.len;
                classify(t, s, -1);
                return 1;
            }
            s->tx_len = out.len;
            return advance(t, s, now);
        }
        s->phase = P_KX;
        t->kx[t->nkx++] = (unsigned)(s - t->slots);
        return 0;
    }
    if (s->phase == P_HANDSHAKE && etls_cli_connected(&s->cli)) {
        etls_hist_record(&t->r->hs_lat, now - s->t0);
        t->r->handshakes++;
        t->r->resumed += s->cli.resumed;
        t->r->in_window += now < t->run->t_stop;
        t->sec_hs++;
        etls_hist_record(&t->sec_hist, now - s->t0);
        if (!t->run->o->request) {
            s->tx_len = out.len;
            if (t->run->o->resume && !t->have_ticket && !s->cli.got_ticket) {
                s->phase = P_TICKET; /* read on until the ticket arrives */
                return 0;
            }
            (void)flush_tx(t, s);
            slot_done(t, s, now);
            return 1;
        }
        send_request(t, s, &out);
        if (s->phase != P_RESPONSE)
            return 1;
        s->tx_len = out.len;
    }
    if (s->phase == P_TICKET && (s->cli.got_ticket || t->have_ticket)) {
        (void)flush_tx(t, s);
        slot_done(t, s, now);
        return 1;
    }
    if (s->phase == P_RESPONSE && app.len) {
        int h = etls_http_resp_feed(&s->http, app.base, app.len);
        if (h < 0 || (h == 1 && s->http.status != 200)) {
            slot_fail(t, s, ETLS_HS_ERR_HTTP, -1);
            return 1;
        }
        if (h == 1) {
            slot_done(t, s, now);
            return 1;
        }
    }
    if (rc == ETLS_ERR_LIMIT && used && s->rx_len)
        return advance(t, s, now); /* app was full: drained above */
    return 0;
}

static void on_event(thr_t *t, slot_t *s, uint32_t ev, uint64_t now)
{
    if (s->phase == P_CONNECTING) {
        int err = 0;
        socklen_t l = sizeof err;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
            err = errno;
        if (err) {
            slot_fail(t, s, err == ECONNREFUSED ? ETLS_HS_ERR_REFUSED : ETLS_HS_ERR_CONNECT, -1);
            return;
        }
        if (!(ev & (EPOLLOUT | EPOLLIN)))
            return;
        on_connected(t, s);
        if (s->phase == P_FREE)
            return;
    }
    if (flush_tx(t, s) < 0) {
        slot_fail(t, s, ETLS_HS_ERR_RESET, -1);
        return;
    }
    if (!(ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) || s->phase == P_KX)
        return;
    for (;;) {
        ssize_t n = recv(s->fd, s->rx + s->rx_len, RX_CAP - s->rx_len, 0);
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            slot_fail(t, s, n == 0 ? ETLS_HS_ERR_EOF : ETLS_HS_ERR_RESET, -1);
            return;
        }
        s->rx_len += (size_t)n;
        if (advance(t, s, now) || s->phase == P_KX)
            return;
        if (s->cli.peer_closed) {
            slot_fail(t, s, ETLS_HS_ERR_EOF, -1);
            return;
        }
        if (s->rx_len == RX_CAP) { /* a record larger than the buffer cannot happen */
            slot_fail(t, s, ETLS_HS_ERR_PROTOCOL, -1);
            return;
        }
    }
    if (flush_tx(t, s) < 0)
        slot_fail(t, s, ETLS_HS_ERR_RESET, -1);
}

/* X25519 for every connection whose ServerHello arrived in this iteration, in one batch. */
static void run_kx(thr_t *t, uint64_t now)
{
    etls_x25519_op_t ops[KX_MAX];
    uint8_t shared[KX_MAX][32];
    unsigned n = t->nkx;
    for (unsigned i = 0; i < n; i++) {
        slot_t *s = &t->slots[t->kx[i]];
        ops[i] = (etls_x25519_op_t){s->cli.share->sk, s->cli.peer_share, shared[i], 0};
    }
    /* A 4-lane AVX2 group costs about 1.5 single portable ladders (edgetls-bench crypto), so a
     * lone operation left over after the full groups runs on the portable code. */
    const etls_x25519_impl_t *best = etls_x25519_best();
    size_t lone = best->lanes > 1 && n % best->lanes == 1;
    if (n > lone)
        etls_x25519_batch(best, ops, n - lone);
    if (lone)
        ops[n - 1].status = etls_x25519_shared(shared[n - 1], ops[n - 1].sk, ops[n - 1].peer);
    t->nkx = 0;
    for (unsigned i = 0; i < n; i++) {
        slot_t *s = &t->slots[t->kx[i]];
        etls_tls_buf_t out = {s->tx, s->tx_len, TX_CAP};
        int rc = etls_cli_kx_done(&s->cli, shared[i], 32, ops[i].status, &out);
        s->tx_len = out.len;
        s->phase = P_HANDSHAKE;
        if (rc < 0) {
            classify(t, s, rc);
            continue;
        }
        if (!advance(t, s, now) && s->phase != P_KX && flush_tx(t, s) < 0)
            slot_fail(t, s, ETLS_HS_ERR_RESET, -1);
    }
    etls_wipe(shared, sizeof shared);
}

static void expire(thr_t *t, uint64_t now, int all)
{
    for (unsigned i = 0; i < t->nslots; i++) {
        slot_t *s = &t->slots[i];
        if (s->phase == P_FREE || (!all && now < s->deadline))
            continue;
        if (all) {
            t->r->abandoned++;
            slot_release(t, s, 1);
        } else {
            slot_fail(t, s, ETLS_HS_ERR_TIMEOUT, -1);
        }
    }
}

/* ---- threads ------------------------------------------------------------------------------- */

static int thr_setup(thr_t *t)
{
    const etls_hs_opts_t *o = t->run->o;
    unsigned nt = o->threads;
    if (o->rate > 0) {
        t->nslots = (o->max_inflight + nt - 1 - t->idx) / nt;
        t->interval = (uint64_t)(1e9 * nt / o->rate);
        /* stagger the threads' schedules so starts interleave evenly */
        t->next_due = t->run->t0 + t->interval * t->idx / nt;
    } else {
        t->conc = (o->concurrency + nt - 1 - t->idx) / nt;
        t->nslots = t->conc;
    }
    if (!t->nslots)
        t->nslots = 1;
    t->slots = calloc(t->nslots, sizeof *t->slots);
    t->free_list = calloc(t->nslots, sizeof *t->free_list);
    t->eng = etls_aead_engine_new();
    t->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!t->slots || !t->free_list || !t->eng || t->ep < 0)
        return ETLS_ERR_NOMEM;
    for (unsigned i = 0; i < t->nslots; i++) {
        t->slots[i].fd = -1;
        t->free_list[t->nfree++] = t->nslots - 1 - i;
    }
    etls_rand_init(&t->rng);
    etls_hist_init(&t->sec_hist);
    t->sni_next = t->idx;
    return 0;
}

static void thr_loop(thr_t *t)
{
    run_t *run = t->run;
    struct epoll_event evs[256];
    uint64_t last_scan = 0;
    for (;;) {
        uint64_t now = etls_hs_now_ns();
        unsigned sec = now > run->t0 ? (unsigned)((now - run->t0) / 1000000000u) : 0;
        if (sec != t->cur_sec)
            publish(t, sec);
        if (now >= run->t_abandon) {
            expire(t, now, 1);
            break;
        }
        start_due(t, now);
        int more = now < run->t_stop &&
                   (!run->o->count || atomic_load(&run->started) < run->o->count);
        if (!more && !t->active)
            break;
        /* wake for the next scheduled start, a timeout scan, or the per-second publication */
        uint64_t wait = 10000000;
        if (run->o->rate > 0 && more && t->nfree)
            wait = t->next_due > now ? t->next_due - now : 0;
        if (wait > 10000000)
            wait = 10000000;
        struct timespec ts = {0, (long)wait};
        int n = epoll_pwait2(t->ep, evs, 256, &ts, NULL);
        now = etls_hs_now_ns();
        for (int i = 0; i < n; i++) {
            slot_t *s = &t->slots[evs[i].data.u32];
            if (s->phase != P_FREE)
                on_event(t, s, evs[i].events, now);
        }
        if (t->nkx)
            run_kx(t, now);
        if (now - last_scan > 20000000) {
            expire(t, now, 0);
            last_scan = now;
        }
    }
    publish(t, t->cur_sec);
}

static void *thr_main(void *arg)
{
    thr_t *t = arg;
    const etls_hs_opts_t *o = t->run->o;
    if (o->ncpus) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(o->cpus[t->idx % o->ncpus], &set);
        (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    }
    thr_loop(t);
    atomic_fetch_sub(&t->run->live_threads, 1);
    return NULL;
}

static void thr_free(thr_t *t)
{
    for (unsigned i = 0; t->slots && i < t->nslots; i++)
        if (t->slots[i].phase != P_FREE)
            slot_release(t, &t->slots[i], 1);
    free(t->slots);
    free(t->free_list);
    if (t->eng)
        etls_aead_engine_free(t->eng);
    if (t->ep >= 0)
        close(t->ep);
    etls_rand_wipe(&t->rng);
}

/* The main thread: one progress line per second from the ring, until the threads end. */
static void progress(run_t *run, etls_hs_result_t *r, int print)
{
    unsigned shown = 0;
    while (atomic_load(&run->live_threads)) {
        uint64_t now = etls_hs_now_ns();
        uint64_t next = run->t0 + (uint64_t)(shown + 1) * 1000000000u + 30000000u;
        if (now < next) {
            uint64_t d = next - now;
            if (d > 50000000)
                d = 50000000;
            struct timespec ts = {0, (long)d};
            nanosleep(&ts, NULL);
            continue;
        }
        if (shown >= ETLS_HS_MAX_SECONDS)
            break;
        pthread_mutex_lock(&run->mu);
        etls_hist_t *h = &run->ring[shown % RING];
        etls_hs_second_t *sc = &run->sec[shown];
        sc->p50_ns = etls_hist_percentile(h, 50);
        sc->p99_ns = etls_hist_percentile(h, 99);
        etls_hist_init(h);
        pthread_mutex_unlock(&run->mu);
        if (print)
            fprintf(stderr, "[%4us] %8llu hs/s  errors %llu  p50 %.3f ms  p99 %.3f ms\n", shown + 1,
                    (unsigned long long)sc->handshakes, (unsigned long long)sc->errors,
                    sc->p50_ns / 1e6, sc->p99_ns / 1e6);
        shown++;
    }
    r->n_seconds = shown;
}

static void merge_result(etls_hs_result_t *r, const etls_hs_result_t *x)
{
    r->started += x->started;
    r->handshakes += x->handshakes;
    r->resumed += x->resumed;
    r->in_window += x->in_window;
    r->completed += x->completed;
    r->errors += x->errors;
    for (int k = 0; k < ETLS_HS_ERR_KINDS; k++)
        r->err[k] += x->err[k];
    for (int a = 0; a < 256; a++)
        r->alerts[a] += x->alerts[a];
    r->late += x->late;
    r->abandoned += x->abandoned;
    etls_hist_merge(&r->hs_lat, &x->hs_lat);
    etls_hist_merge(&r->resp_lat, &x->resp_lat);
    if (x->suite)
        r->suite = x->suite;
}

static double cpu_s(const struct rusage *u, int sys)
{
    const struct timeval *tv = sys ? &u->ru_stime : &u->ru_utime;
    return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static int run_threads(run_t *run, thr_t *th, etls_hs_result_t *r)
{
    const etls_hs_opts_t *o = run->o;
    struct rusage u0, u1;
    unsigned started = 0;
    int rc = 0;
    getrusage(RUSAGE_SELF, &u0);
    run->t0 = etls_hs_now_ns() + 20000000; /* threads set up before the clock starts */
    run->t_stop = o->duration > 0 ? run->t0 + (uint64_t)(o->duration * 1e9) : UINT64_MAX;
    uint64_t lim = o->duration > 0 ? (uint64_t)((o->duration + o->grace) * 1e9) : UINT64_MAX;
    run->t_abandon = lim == UINT64_MAX ? UINT64_MAX : run->t0 + lim;
    for (unsigned i = 0; i < o->threads && rc == 0; i++)
        rc = thr_setup(&th[i]);
    if (rc == 0) {
        uint64_t now = etls_hs_now_ns();
        if (now < run->t0) {
            struct timespec ts = {0, (long)(run->t0 - now)};
            nanosleep(&ts, NULL);
        }
        atomic_store(&run->live_threads, o->threads);
        for (; started < o->threads; started++)
            if (pthread_create(&th[started].tid, NULL, thr_main, &th[started]) != 0)
                break;
        atomic_fetch_sub(&run->live_threads, o->threads - started);
        progress(run, r, o->progress);
    }
    uint64_t last = run->t0;
    unsigned last_sec = 0;
    for (unsigned i = 0; i < started; i++) {
        pthread_join(th[i].tid, NULL);
        merge_result(r, th[i].r);
        if (th[i].last_done > last)
            last = th[i].last_done;
        if (th[i].cur_sec > last_sec)
            last_sec = th[i].cur_sec;
    }
    /* the seconds the progress loop had not reached yet (at most RING behind) */
    for (unsigned k = r->n_seconds; k <= last_sec && k < ETLS_HS_MAX_SECONDS; k++) {
        if (!run->sec[k].handshakes && !run->sec[k].errors)
            break;
        run->sec[k].p50_ns = etls_hist_percentile(&run->ring[k % RING], 50);
        run->sec[k].p99_ns = etls_hist_percentile(&run->ring[k % RING], 99);
        r->n_seconds = k + 1;
        if (o->progress)
            fprintf(stderr, "[%4us] %8llu hs/s  errors %llu  p50 %.3f ms  p99 %.3f ms\n",
                    k + 1, (unsigned long long)run->sec[k].handshakes,
                    (unsigned long long)run->sec[k].errors, run->sec[k].p50_ns / 1e6,
                    run->sec[k].p99_ns / 1e6);
    }
    getrusage(RUSAGE_SELF, &u1);
    r->cpu_user_s = cpu_s(&u1, 0) - cpu_s(&u0, 0);
    r->cpu_sys_s = cpu_s(&u1, 1) - cpu_s(&u0, 1);
    uint64_t end = o->duration > 0 && last > run->t_stop ? run->t_stop : last;
    r->elapsed_s = (double)(end - run->t0) / 1e9;
    return rc ? rc : started == o->threads ? 0 : ETLS_ERR_NOMEM;
}

int etls_hs_run(const etls_hs_opts_t *o, etls_hs_result_t *r)
{
    ETLS_ENSURE(o->threads >= 1 && o->threads <= ETLS_HS_MAX_THREADS, ETLS_ERR_INVALID);
    ETLS_ENSURE(o->duration > 0 || o->count > 0, ETLS_ERR_INVALID);
    memset(r, 0, sizeof *r);
    etls_hist_init(&r->hs_lat);
    etls_hist_init(&r->resp_lat);
    run_t *run = calloc(1, sizeof *run);
    thr_t *th = calloc(o->threads, sizeof *th);
    etls_hs_result_t *tr = calloc(o->threads, sizeof *tr);
    int rc = run && th && tr ? 0 : ETLS_ERR_NOMEM;
    if (rc == 0 && o->reuse_keyshare) {
        etls_rand_t rng;
        uint8_t rnd[32];
        etls_rand_init(&rng);
        (void)etls_rand_bytes(&rng, rnd, sizeof rnd);
        etls_rand_wipe(&rng);
        rc = etls_cli_share_new(&run->shared_share, o->cli.group, rnd);
        etls_wipe(rnd, sizeof rnd);
    }
    if (rc == 0) {
        run->o = o;
        run->sec = r->sec;
        pthread_mutex_init(&run->mu, NULL);
        for (int i = 0; i < RING; i++)
            etls_hist_init(&run->ring[i]);
        for (unsigned i = 0; i < o->threads; i++) {
            th[i] = (thr_t){.run = run, .idx = i, .ep = -1, .r = &tr[i]};
            etls_hist_init(&tr[i].hs_lat);
            etls_hist_init(&tr[i].resp_lat);
        }
        rc = run_threads(run, th, r);
        for (unsigned i = 0; i < o->threads; i++)
            thr_free(&th[i]);
        pthread_mutex_destroy(&run->mu);
        etls_cli_share_wipe(&run->shared_share);
    }
    free(tr);
    free(th);
    free(run);
    return rc;
}
