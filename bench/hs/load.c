/* The handshake load generator (load.h) over kernel sockets. One epoll loop per pinned thread;
 * each connection is a slot: a socket plus its session (sess.h: CONNECTING -> HANDSHAKE ->
 * (KX: waiting for the batched X25519) -> RESPONSE (with --request) / TICKET -> done). This file
 * only does the socket side (connect, send, recv, close with FIN or RST) and the scheduling;
 * the TLS and HTTP side and its accounting are sess.c's, shared with the DPDK transport. Slots
 * are allocated once at start-up; nothing allocates per connection except OpenSSL in verify
 * mode.
 *
 * Statistics: each thread owns its totals and histograms and merges them into the result
 * when it ends; per-second figures (the progress line and the timeline) go through a small
 * mutex-protected ring, touched once per second per thread. */
#include "load.h"
#include "sess.h"

#include "common/ct.h"
#include "crypto/rand.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#define RING 4

typedef struct slot {
    int fd;
    uint8_t want_out;
    etls_sess_t s; /* the TLS/HTTP side (sess.h) */
} slot_t;

#define SLOT_OF(sp) ((slot_t *)((char *)(sp) - offsetof(slot_t, s)))

typedef struct run run_t;

typedef struct thr {
    run_t *run;
    unsigned idx;
    pthread_t tid;
    int ep;
    etls_rand_t rng;
    slot_t *slots;
    unsigned nslots, active, *free_list, nfree;
    unsigned conc;       /* closed loop target */
    uint64_t interval;   /* open loop: ns between starts */
    uint64_t next_due;   /* open loop: intended start of the next connection */
    etls_sess_ctx_t x;   /* sessions: engine, ticket, KX batch, this second's figures */
    unsigned cur_sec;
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
        run->sec[t->cur_sec].handshakes += t->x.sec_hs;
        run->sec[t->cur_sec].errors += t->x.sec_err;
        etls_hist_merge(&run->ring[t->cur_sec % RING], &t->x.sec_hist);
    }
    pthread_mutex_unlock(&run->mu);
    t->x.sec_hs = t->x.sec_err = 0;
    etls_hist_init(&t->x.sec_hist);
    t->cur_sec = upto;
}

/* ---- finishing a connection ---------------------------------------------------------------- */

static void slot_release(thr_t *t, slot_t *sl, int rst)
{
    if (rst) {
        struct linger lg = {1, 0};
        (void)setsockopt(sl->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(sl->fd); /* also leaves the epoll set */
    sl->fd = -1;
    etls_sess_release(&t->x, &sl->s);
    t->free_list[t->nfree++] = (unsigned)(sl - t->slots);
    t->active--;
}

/* What is still queued (our alert, or the last flight and close_notify), best effort. */
static void send_rest(slot_t *sl)
{
    etls_sess_t *s = &sl->s;
    if (s->tx_len > s->tx_off)
        (void)!send(sl->fd, s->tx + s->tx_off, s->tx_len - s->tx_off, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* A failure already counted (etls_sess_*): our alert if any, then RST. */
static void slot_end_fail(thr_t *t, slot_t *sl)
{
    send_rest(sl);
    slot_release(t, sl, 1);
}

static void slot_fail(thr_t *t, slot_t *sl, etls_hs_err_t kind)
{
    etls_sess_fail(&t->x, &sl->s, kind, -1);
    slot_end_fail(t, sl);
}

static int flush_tx(thr_t *t, slot_t *sl);

/* An outcome of sess.h: MORE and KX keep the slot (0), DONE and FAIL end it (1). */
static int outcome(thr_t *t, slot_t *sl, int oc)
{
    if (oc == ETLS_SESS_DONE) {
        /* success: close_notify, then FIN (or RST with --close rst) */
        send_rest(sl);
        slot_release(t, sl, t->run->o->close_rst);
        return 1;
    }
    if (oc == ETLS_SESS_FAIL) {
        slot_end_fail(t, sl);
        return 1;
    }
    return 0;
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
    slot_t *sl = &t->slots[t->free_list[--t->nfree]];
    t->active++;
    etls_sess_begin(&t->x, &sl->s, intended, now);
    sl->fd = etls_hs_connect(&t->run->o->addr, t->run->o->addrlen);
    if (sl->fd < 0) {
        int e = -sl->fd;
        t->active--;
        t->free_list[t->nfree++] = (unsigned)(sl - t->slots);
        etls_sess_fail(&t->x, &sl->s, e == ECONNREFUSED ? ETLS_HS_ERR_REFUSED : ETLS_HS_ERR_CONNECT, -1);
        etls_sess_release(&t->x, &sl->s);
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)(sl - t->slots)};
    sl->want_out = 1;
    if (epoll_ctl(t->ep, EPOLL_CTL_ADD, sl->fd, &ev) < 0)
        slot_fail(t, sl, ETLS_HS_ERR_CONNECT);
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

static int flush_tx(thr_t *t, slot_t *sl)
{
    etls_sess_t *s = &sl->s;
    while (s->tx_off < s->tx_len) {
        ssize_t n = send(sl->fd, s->tx + s->tx_off, s->tx_len - s->tx_off, MSG_NOSIGNAL);
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
    if (want != sl->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0),
                                 .data.u32 = (uint32_t)(sl - t->slots)};
        (void)epoll_ctl(t->ep, EPOLL_CTL_MOD, sl->fd, &ev);
        sl->want_out = (uint8_t)want;
    }
    return 0;
}

static void on_event(thr_t *t, slot_t *sl, uint32_t ev, uint64_t now)
{
    etls_sess_t *s = &sl->s;
    if (s->phase == ETLS_SESS_CONNECTING) {
        int err = 0;
        socklen_t l = sizeof err;
        if (getsockopt(sl->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
            err = errno;
        if (err) {
            slot_fail(t, sl, err == ECONNREFUSED ? ETLS_HS_ERR_REFUSED : ETLS_HS_ERR_CONNECT);
            return;
        }
        if (!(ev & (EPOLLOUT | EPOLLIN)))
            return;
        if (outcome(t, sl, etls_sess_start(&t->x, s)))
            return;
    }
    if (flush_tx(t, sl) < 0) {
        slot_fail(t, sl, ETLS_HS_ERR_RESET);
        return;
    }
    if (!(ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) || s->phase == ETLS_SESS_KX_WAIT)
        return;
    for (;;) {
        ssize_t n = recv(sl->fd, s->rx + s->rx_len, ETLS_SESS_RX_CAP - s->rx_len, 0);
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            slot_fail(t, sl, n == 0 ? ETLS_HS_ERR_EOF : ETLS_HS_ERR_RESET);
            return;
        }
        s->rx_len += (size_t)n;
        if (outcome(t, sl, etls_sess_advance(&t->x, s, now)) || s->phase == ETLS_SESS_KX_WAIT)
            return;
        if (s->cli.peer_closed) {
            slot_fail(t, sl, ETLS_HS_ERR_EOF);
            return;
        }
        if (s->rx_len == ETLS_SESS_RX_CAP) { /* a record larger than the buffer cannot happen */
            slot_fail(t, sl, ETLS_HS_ERR_PROTOCOL);
            return;
        }
    }
    if (flush_tx(t, sl) < 0)
        slot_fail(t, sl, ETLS_HS_ERR_RESET);
}

/* After the batched X25519 (etls_sess_kx_run): the next flight out, or the end. */
static void after_kx(void *arg, etls_sess_t *s, int oc)
{
    thr_t *t = arg;
    slot_t *sl = SLOT_OF(s);
    if (!outcome(t, sl, oc) && s->phase != ETLS_SESS_KX_WAIT && flush_tx(t, sl) < 0)
        slot_fail(t, sl, ETLS_HS_ERR_RESET);
}

static void expire(thr_t *t, uint64_t now, int all)
{
    for (unsigned i = 0; i < t->nslots; i++) {
        slot_t *sl = &t->slots[i];
        if (sl->s.phase == ETLS_SESS_FREE || (!all && now < sl->s.deadline))
            continue;
        if (all) {
            etls_sess_abandon(&t->x, &sl->s);
            slot_release(t, sl, 1);
        } else {
            slot_fail(t, sl, ETLS_HS_ERR_TIMEOUT);
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
    t->x.eng = etls_aead_engine_new();
    t->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!t->slots || !t->free_list || !t->x.eng || t->ep < 0)
        return ETLS_ERR_NOMEM;
    for (unsigned i = 0; i < t->nslots; i++) {
        t->slots[i].fd = -1;
        t->free_list[t->nfree++] = t->nslots - 1 - i;
    }
    etls_rand_init(&t->rng);
    t->x.o = o;
    t->x.r = t->r;
    t->x.rng = &t->rng;
    t->x.shared_share = &t->run->shared_share;
    t->x.t_stop = t->run->t_stop;
    etls_hist_init(&t->x.sec_hist);
    t->x.sni_next = t->idx;
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
            slot_t *sl = &t->slots[evs[i].data.u32];
            if (sl->s.phase != ETLS_SESS_FREE)
                on_event(t, sl, evs[i].events, now);
        }
        if (t->x.nkx)
            etls_sess_kx_run(&t->x, now, after_kx, t);
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
        if (t->slots[i].s.phase != ETLS_SESS_FREE)
            slot_release(t, &t->slots[i], 1);
    free(t->slots);
    free(t->free_list);
    if (t->x.eng)
        etls_aead_engine_free(t->x.eng);
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
        if (th[i].x.last_done > last)
            last = th[i].x.last_done;
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
