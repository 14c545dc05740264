/* The worker thread: ring and resources, the poll loop, completions, accept, timers and the
 * connection table. The per-connection logic lives in conn.c and backend.c. */
#include "worker/wk.h"

#include "common/err.h"
#include "common/stop.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- timers: one FIFO per list; each list has one fixed timeout ---------------------------- */

static uint32_t timer_ms(const etls_worker_t *w, timer_list_t list)
{
    switch (list) {
    case TL_HS: return w->cfg->handshake_timeout_ms;
    case TL_IDLE: return w->cfg->idle_timeout_ms;
    case TL_LINGER: return WK_LINGER_MS;
    default: return 0;
    }
}

static void timer_unlink(etls_worker_t *w, wk_conn_t *c)
{
    if (c->tlist == TL_NONE)
        return;
    if (c->tprev)
        c->tprev->tnext = c->tnext;
    else
        w->thead[c->tlist] = c->tnext;
    if (c->tnext)
        c->tnext->tprev = c->tprev;
    else
        w->ttail[c->tlist] = c->tprev;
    c->tprev = c->tnext = NULL;
    c->tlist = TL_NONE;
}

void wk_timer_set(etls_worker_t *w, wk_conn_t *c, timer_list_t list)
{
    if (c->tlist == list && c->deadline == w->now_ms + timer_ms(w, list))
        return; /* already last in its list with this deadline */
    timer_unlink(w, c);
    if (list == TL_NONE)
        return;
    c->deadline = w->now_ms + timer_ms(w, list);
    c->tlist = (uint8_t)list;
    c->tprev = w->ttail[list];
    if (c->tprev)
        c->tprev->tnext = c;
    else
        w->thead[list] = c;
    w->ttail[list] = c;
}

static void timers_expire(etls_worker_t *w)
{
    for (int l = TL_HS; l < TL_COUNT; l++) {
        wk_conn_t *c;
        while ((c = w->thead[l]) && c->deadline <= w->now_ms) {
            timer_unlink(w, c);
            if (l == TL_IDLE) {
                WK_STAT_ADD(w, timeouts, 1);
                wk_conn_idle_close(w, c);
                continue;
            }
            if (l == TL_HS) {
                WK_STAT_ADD(w, timeouts, 1);
                etls_sess_hs_failed(&c->s, &w->sx);
            }
            wk_conn_abort(w, c, l == TL_HS ? "handshake timeout" : "linger timeout");
        }
    }
}

/* ---- connection table ----------------------------------------------------------------------- */

static wk_conn_t *conn_new(etls_worker_t *w)
{
    wk_conn_t *c = aligned_alloc(64, (sizeof(wk_conn_t) + 63) & ~(size_t)63);
    if (!c)
        return NULL;
    memset(c, 0, sizeof *c);
    size_t total = w->rx_cap + w->out_cap + w->app_cap + w->bk_cap;
    uint8_t *mem = malloc(total);
    if (!mem) {
        free(c);
        return NULL;
    }
    c->s.rx.base = mem;
    c->s.rx.cap = w->rx_cap;
    c->s.out.base = mem + w->rx_cap;
    c->s.out.cap = w->out_cap;
    c->s.app.base = c->s.out.base + w->out_cap;
    c->s.app.cap = w->app_cap;
    c->s.bk.base = w->bk_cap ? c->s.app.base + w->app_cap : NULL;
    c->s.bk.cap = w->bk_cap;
    return c;
}

static wk_conn_t *conn_alloc(etls_worker_t *w)
{
    if (w->nfree == 0)
        return NULL;
    uint32_t slot = w->free_slots[w->nfree - 1];
    wk_conn_t *c = w->conns[slot];
    if (!c) {
        c = conn_new(w); /* once per slot for the life of the worker, never per record */
        if (!c)
            return NULL;
        w->conns[slot] = c;
        c->gen = 0;
    }
    w->nfree--;
    c->slot = slot;
    c->gen++;
    return c;
}

static void held_release(etls_worker_t *w, held_t *h)
{
    for (uint32_t b = h->head; b != WK_NO_BUF;) {
        uint32_t next = w->held_next[b];
        etls_io_bufs_recycle(&w->bufs, (uint16_t)b);
        b = next;
    }
    h->head = h->tail = WK_NO_BUF;
    h->off = 0;
}

/* Closes fd with the next submit instead of a close() syscall of its own (one per connection
 * otherwise). Only for descriptors nothing else in flight refers to; the completion is ignored.
 * A socket has no ->flush, so the kernel runs the close inline at submit, not in a worker. */
static void close_async(etls_worker_t *w, int fd)
{
    struct io_uring_sqe *sqe = etls_io_sqe(&w->ring);
    io_uring_prep_close(sqe, fd);
    io_uring_sqe_set_data64(sqe, etls_io_ud(ETLS_IO_OP_CLOSE, 0, 0));
}

static void conn_release(etls_worker_t *w, wk_conn_t *c)
{
    if (!(c->gen & 1))
        return; /* already released: abort may release before its caller's own check */
    if (c->fd >= 0)
        close_async(w, c->fd);
    if (c->bfd >= 0)
        close_async(w, c->bfd);
    c->fd = c->bfd = -1;
    held_release(w, &c->held);
    held_release(w, &c->bheld);
    c->gen++; /* any late completion for the old connection is now stale */
    w->free_slots[w->nfree++] = c->slot;
}

static void cancel_fd(etls_worker_t *w, int fd)
{
    struct io_uring_sqe *sqe = etls_io_sqe(&w->ring);
    io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, etls_io_ud(ETLS_IO_OP_CANCEL, 0, 0));
}

/* Tears the connection down now: pending operations are cancelled; the slot is reused once
 * their completions have arrived (buffers they point at stay valid until then). */
void wk_conn_abort(etls_worker_t *w, wk_conn_t *c, const char *why)
{
    if (c->state == CS_DEAD)
        return;
    if (etls_log_level_now((int)w->cfg->log_level) >= ETLS_LOG_DEBUG)
        fprintf(stderr, "edgetls: worker %u: connection %u closed: %s\n", w->index, c->slot, why);
    c->state = CS_DEAD;
    timer_unlink(w, c);
    etls_sess_end(&c->s); /* cancels parked crypto, wipes keys and plaintext */
    WK_STAT_ADD(w, active, -1);
    if (c->inflight == 0) {
        conn_release(w, c);
        return;
    }
    if (c->fd >= 0) {
        shutdown(c->fd, SHUT_RDWR);
        cancel_fd(w, c->fd);
    }
    if (c->bfd >= 0) {
        shutdown(c->bfd, SHUT_RDWR);
        cancel_fd(w, c->bfd);
    }
}

void wk_mark_dirty(etls_worker_t *w, wk_conn_t *c)
{
    if (c->dirty || c->state == CS_DEAD)
        return;
    c->dirty = 1;
    c->dnext = w->dirty;
    w->dirty = c;
}

/* ---- receive plumbing ---------------------------------------------------------------------- */

void wk_arm_recv(etls_worker_t *w, wk_conn_t *c, int backend)
{
    struct io_uring_sqe *sqe = etls_io_sqe(&w->ring);
    io_uring_prep_recv_multishot(sqe, backend ? c->bfd : c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = WK_BGID;
    io_uring_sqe_set_data64(sqe, etls_io_ud(backend ? ETLS_IO_OP_BK_RECV : ETLS_IO_OP_RECV, c->slot, c->gen));
    c->inflight++;
    if (backend)
        c->bk_recv_armed = 1;
    else
        c->recv_armed = 1;
}

/* Backpressure: stop the multishot receive until the connection has room again. */
void wk_cancel_recv(etls_worker_t *w, wk_conn_t *c, int backend)
{
    struct io_uring_sqe *sqe = etls_io_sqe(&w->ring);
    io_uring_prep_cancel64(sqe, etls_io_ud(backend ? ETLS_IO_OP_BK_RECV : ETLS_IO_OP_RECV, c->slot, c->gen), 0);
    io_uring_sqe_set_data64(sqe, etls_io_ud(ETLS_IO_OP_CANCEL, 0, 0));
    if (backend)
        c->bk_recv_cancel = 1;
    else
        c->recv_cancel = 1;
}

static void held_push(etls_worker_t *w, held_t *h, uint16_t bid, uint32_t len)
{
    w->held_len[bid] = len;
    w->held_next[bid] = WK_NO_BUF;
    if (h->tail == WK_NO_BUF)
        h->head = bid;
    else
        w->held_next[h->tail] = bid;
    h->tail = bid;
}

uint8_t *wk_held_take(etls_worker_t *w, held_t *h, size_t *len)
{
    if (h->head == WK_NO_BUF) {
        *len = 0;
        return NULL;
    }
    *len = w->held_len[h->head] - h->off;
    return etls_io_buf(&w->bufs, (uint16_t)h->head) + h->off;
}

void wk_held_consume(etls_worker_t *w, held_t *h, size_t n)
{
    h->off += (uint32_t)n;
    if (h->off < w->held_len[h->head])
        return;
    uint32_t b = h->head;
    h->head = w->held_next[b];
    if (h->head == WK_NO_BUF)
        h->tail = WK_NO_BUF;
    h->off = 0;
    etls_io_bufs_recycle(&w->bufs, (uint16_t)b);
}

/* ---- completions --------------------------------------------------------------------------- */

static void on_accept(etls_worker_t *w, unsigned l, struct io_uring_cqe *cqe)
{
    if (!(cqe->flags & IORING_CQE_F_MORE))
        w->accept_armed[l] = 0; /* re-armed by the loop */
    if (cqe->res < 0) {
        /* Out of descriptors: retrying at once would spin; wait a little (the listener
         * keeps queueing connections meanwhile). Other errors: re-arm next iteration. */
        if (cqe->res == -EMFILE || cqe->res == -ENFILE || cqe->res == -ENOMEM)
            w->accept_retry_at[l] = w->now_ms + 100;
        return;
    }
    int fd = cqe->res;
    if (w->stopping) {
        close(fd);
        return;
    }
    WK_STAT_ADD(w, accepted, 1);
    wk_conn_t *c = conn_alloc(w);
    if (!c) {
        WK_STAT_ADD(w, rejected, 1);
        close(fd);
        return;
    }
    WK_STAT_ADD(w, active, 1);
    wk_conn_init(w, c, fd, l, w->cfg->listeners[l].tls);
    if (w->cfg->mode == ETLS_MODE_PROXY && wk_backend_open(w, c) < 0) {
        WK_STAT_ADD(w, bk_errors, 1);
        wk_conn_abort(w, c, "backend socket failed");
        return;
    }
    wk_mark_dirty(w, c);
}

static void on_conn_cqe(etls_worker_t *w, wk_conn_t *c, etls_io_op_t op, struct io_uring_cqe *cqe)
{
    int more = cqe->flags & IORING_CQE_F_MORE;
    int res = cqe->res;
    if (cqe->flags & IORING_CQE_F_BUFFER) {
        uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        if (c->state == CS_DEAD || c->state == CS_LINGER || res <= 0)
            etls_io_bufs_recycle(&w->bufs, bid);
        else
            held_push(w, op == ETLS_IO_OP_RECV ? &c->held : &c->bheld, bid, (uint32_t)res);
    }
    if (!more)
        c->inflight--;
    switch (op) {
    case ETLS_IO_OP_RECV:
        if (!more)
            c->recv_armed = c->recv_cancel = 0;
        if (res > 0)
            WK_STAT_ADD(w, bytes_in, res);
        else if (res == 0 || (res != -ENOBUFS && res != -ECANCELED))
            c->rd_eof = 1;
        break;
    case ETLS_IO_OP_SEND: wk_conn_on_sent(w, c, res); break;
    case ETLS_IO_OP_BK_CONNECT: wk_backend_on_connect(w, c, res); break;
    case ETLS_IO_OP_BK_RECV:
        if (!more)
            c->bk_recv_armed = c->bk_recv_cancel = 0;
        if (res > 0)
            WK_STAT_ADD(w, bk_bytes_in, res);
        else if (res == 0 || (res != -ENOBUFS && res != -ECANCELED))
            c->bk_eof = 1;
        if (res < 0 && res != -ENOBUFS && res != -ECANCELED && c->state != CS_DEAD)
            WK_STAT_ADD(w, bk_errors, 1);
        break;
    case ETLS_IO_OP_BK_SEND: wk_backend_on_sent(w, c, res); break;
    default: break;
    }
    if (c->state == CS_DEAD) {
        if (c->inflight == 0)
            conn_release(w, c);
        return;
    }
    wk_mark_dirty(w, c);
}

static void on_cqe(void *owner, struct io_uring_cqe *cqe)
{
    etls_worker_t *w = owner;
    uint64_t ud = io_uring_cqe_get_data64(cqe);
    etls_io_op_t op = etls_io_ud_op(ud);
    uint32_t slot = etls_io_ud_slot(ud);
    if (op == ETLS_IO_OP_CANCEL || op == ETLS_IO_OP_CLOSE || op == ETLS_IO_OP_NONE)
        return;
    if (op == ETLS_IO_OP_WAKE) { /* the next iteration adopts the new snapshot */
        uint64_t v;
        if (read(w->wake_fd, &v, sizeof v) < 0) {
            /* already drained: nothing to do */
        }
        if (!(cqe->flags & IORING_CQE_F_MORE))
            w->wake_armed = 0;
        return;
    }
    if (op == ETLS_IO_OP_ACCEPT) {
        on_accept(w, slot, cqe);
        return;
    }
    wk_conn_t *c = slot < w->nslots ? w->conns[slot] : NULL;
    if (!c || c->gen != etls_io_ud_gen(ud)) { /* cannot happen while inflight is counted */
        if (cqe->flags & IORING_CQE_F_BUFFER)
            etls_io_bufs_recycle(&w->bufs, (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT));
        return;
    }
    on_conn_cqe(w, c, op, cqe);
}

static unsigned reap(etls_worker_t *w) { return etls_io_reap(&w->ring, on_cqe, w); }

/* ---- the loop -------------------------------------------------------------------------------- */

static void arm_wake(etls_worker_t *w)
{
    if (w->wake_fd < 0 || w->wake_armed)
        return;
    struct io_uring_sqe *sqe = etls_io_sqe(&w->ring);
    io_uring_prep_poll_multishot(sqe, w->wake_fd, POLLIN);
    io_uring_sqe_set_data64(sqe, etls_io_ud(ETLS_IO_OP_WAKE, 0, 0));
    w->wake_armed = 1;
}

static void arm_accepts(etls_worker_t *w)
{
    for (size_t l = 0; l < w->nlisteners; l++) {
        if (w->accept_armed[l] || w->lfd[l] < 0 || w->now_ms < w->accept_retry_at[l])
            continue;
        struct io_uring_sqe *sqe = etls_io_sqe(&w->ring);
        io_uring_prep_multishot_accept(sqe, w->lfd[l], NULL, NULL, SOCK_CLOEXEC);
        io_uring_sqe_set_data64(sqe, etls_io_ud(ETLS_IO_OP_ACCEPT, (uint32_t)l, 0));
        w->accept_armed[l] = 1;
    }
}

static void pump_dirty(etls_worker_t *w)
{
    while (w->dirty) {
        wk_conn_t *c = w->dirty;
        w->dirty = c->dnext;
        c->dirty = 0;
        if (c->state != CS_DEAD)
            wk_conn_pump(w, c);
    }
}

/* Step 4-5 of the pipeline: run the crypto queues, then continue every connection whose
 * requests completed. Resumed connections may queue new work; it runs next iteration. */
static void run_batch(etls_worker_t *w)
{
    if (!w->batch || etls_batch_queued(w->batch) == 0)
        return;
    if (etls_batch_run(w->batch))
        WK_STAT_ADD(w, crypto_runs, 1);
    etls_batch_waiter_t *wt;
    while ((wt = etls_batch_pop_ready(w->batch))) {
        etls_tls_conn_t *tc = etls_tls_conn_from_waiter(wt);
        wk_conn_t *c = (wk_conn_t *)((uint8_t *)tc - offsetof(wk_conn_t, s.tc));
        if (c->state != CS_DEAD)
            wk_conn_resume(w, c);
    }
}

static void begin_stop(etls_worker_t *w)
{
    w->stopping = 1;
    w->stop_deadline = w->now_ms + etls_stop_timeout_ms(w->cfg->shutdown_timeout_ms);
    for (size_t l = 0; l < w->nlisteners; l++) {
        if (w->lfd[l] < 0)
            continue;
        struct io_uring_sqe *sqe = etls_io_sqe(&w->ring);
        io_uring_prep_cancel64(sqe, etls_io_ud(ETLS_IO_OP_ACCEPT, (uint32_t)l, 0), 0);
        io_uring_sqe_set_data64(sqe, etls_io_ud(ETLS_IO_OP_CANCEL, 0, 0));
        close(w->lfd[l]);
        w->lfd[l] = -1;
    }
    for (uint32_t s = 0; s < w->nslots; s++)
        if (w->conns[s] && w->conns[s]->state != CS_DEAD && w->conns[s]->gen & 1)
            wk_conn_shutdown(w, w->conns[s]);
}

static int all_released(const etls_worker_t *w) { return w->nfree == w->nslots; }

static void loop(etls_worker_t *w)
{
    uint64_t hard_deadline = 0;
    for (;;) {
        w->now_ms = now_ms();
        if (!w->stopping && atomic_load_explicit(&w->stop_requested, memory_order_relaxed))
            begin_stop(w);
        if (w->stopping) {
            if (w->now_ms >= w->stop_deadline && !hard_deadline) {
                for (uint32_t s = 0; s < w->nslots; s++)
                    if (w->conns[s] && w->conns[s]->state != CS_DEAD && w->conns[s]->gen & 1)
                        wk_conn_abort(w, w->conns[s], "shutdown deadline");
                hard_deadline = w->now_ms + 1000;
            }
            if (all_released(w) || (hard_deadline && w->now_ms >= hard_deadline))
                break;
        }
        etls_sess_ctx_adopt(&w->sx); /* a snapshot the control plane pushed since */
        timers_expire(w);
        reap(w);
        pump_dirty(w);
        run_batch(w);
        pump_dirty(w);
        if (!w->stopping)
            arm_accepts(w);
        arm_wake(w);
        etls_io_bufs_commit(&w->bufs);
        /* Work left for the next iteration (parked crypto queued, connections to pump): submit
         * and collect whatever completed without sleeping. Otherwise sleep until a completion
         * or 100 ms (timers and the stop flag are checked at least that often). With
         * IORING_SETUP_DEFER_TASKRUN completions are only produced inside a GETEVENTS enter,
         * which both calls make. */
        int busy = w->dirty || (w->batch && etls_batch_queued(w->batch));
        int rc;
        if (busy) {
            rc = io_uring_submit_and_get_events(&w->ring);
        } else {
            struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 100 * 1000000L};
            struct io_uring_cqe *cqe;
            rc = io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
        }
        if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN) {
            fprintf(stderr, "edgetls: worker %u: io_uring_enter: %s\n", w->index, strerror(-rc));
            break;
        }
    }
}

/* ---- set-up and teardown ------------------------------------------------------------------- */

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

static int setup_crypto(etls_worker_t *w)
{
    if (!w->sh->tls)
        return 0;
    etls_rand_init(&w->rng);
    w->aead = etls_aead_engine_new();
    if (!w->aead) {
        snprintf(w->err, sizeof w->err, "worker %u: no AEAD backend could be initialised", w->index);
        return ETLS_ERR_CRYPTO;
    }
    etls_batch_config_t bc;
    memset(&bc, 0, sizeof bc);
    bc.aead = w->aead;
    bc.x25519_cap = bc.p256_cap = bc.sign_cap = bc.aead_cap = bc.rsa_cap = w->cfg->crypto_batch;
    w->batch = etls_batch_new(&bc);
    if (!w->batch) {
        snprintf(w->err, sizeof w->err, "worker %u: cannot allocate the crypto batch", w->index);
        return ETLS_ERR_NOMEM;
    }
    /* Handshake states are borrowed only while a handshake runs: a pool sized for the
     * handshakes a worker has in flight at once (more are malloc'ed by the engine). */
    w->hs_pool = etls_tls_hs_pool_new(w->cfg->max_connections < 1024 ? w->cfg->max_connections : 1024);
    if (!w->hs_pool) {
        snprintf(w->err, sizeof w->err, "worker %u: cannot allocate the handshake pool", w->index);
        return ETLS_ERR_NOMEM;
    }
    w->env.rng = &w->rng;
    w->env.aead = w->aead;
    w->env.batch = w->batch;
    w->env.hs_pool = w->hs_pool;
    return 0;
}

static int setup_table(etls_worker_t *w)
{
    const etls_config_t *cfg = w->cfg;
    size_t bs = cfg->buffer_size;
    size_t flight = w->sh->tls ? w->sh->tls->max_flight : 0;
    w->rx_cap = max_sz(bs, ETLS_TLS_MAX_RECORD + WK_PBUF_SIZE);
    w->out_cap = max_sz(max_sz(bs, flight + 1024), WK_OUT_MIN);
    w->app_cap = max_sz(bs, ETLS_TLS_MAX_CIPHERTEXT + cfg->max_header_size + 1024);
    w->bk_cap = cfg->mode == ETLS_MODE_PROXY ? bs : 0;
    char name[32];
    snprintf(name, sizeof name, "worker %u", w->index);
    etls_sess_ctx_init(&w->sx, cfg, w->sh->tls, w->sh->http, &w->env, name);
    w->sx.handshakes = &w->st.handshakes;
    w->sx.hs_failures = &w->st.hs_failures;
    w->sx.errors = &w->st.errors;
    w->sx.requests = &w->st.requests;
    w->sx.stats = &w->st.sess;
    if (w->sh->snap)
        etls_sess_ctx_attach(&w->sx, w->sh->snap, w->index);
    w->nslots = cfg->max_connections;
    w->conns = calloc(w->nslots, sizeof *w->conns);
    w->free_slots = malloc(w->nslots * sizeof *w->free_slots);
    w->held_next = malloc(WK_PBUF_COUNT * sizeof *w->held_next);
    w->held_len = malloc(WK_PBUF_COUNT * sizeof *w->held_len);
    if (!w->conns || !w->free_slots || !w->held_next || !w->held_len) {
        snprintf(w->err, sizeof w->err, "worker %u: out of memory for %u connections", w->index, w->nslots);
        return ETLS_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < w->nslots; i++)
        w->free_slots[i] = w->nslots - 1 - i; /* slot 0 first */
    w->nfree = w->nslots;
    return 0;
}

static int setup_io(etls_worker_t *w)
{
    char msg[256];
    if (etls_io_ring_init(&w->ring, w->cfg->uring_entries, msg, sizeof msg) < 0) {
        snprintf(w->err, sizeof w->err, "worker %u: %s", w->index, msg);
        return ETLS_ERR_IO;
    }
    w->ring_ok = 1;
    if (etls_io_bufs_init(&w->bufs, &w->ring, WK_BGID, WK_PBUF_COUNT, WK_PBUF_SIZE) < 0) {
        snprintf(w->err, sizeof w->err, "worker %u: cannot register the provided-buffer ring", w->index);
        return ETLS_ERR_IO;
    }
    for (size_t l = 0; l < w->cfg->nlisteners; l++) {
        const etls_config_listener_t *li = &w->cfg->listeners[l];
        int fd = etls_io_listen((const struct sockaddr *)&li->addr.ss, li->addr.len, 4096, msg, sizeof msg);
        if (fd < 0) {
            snprintf(w->err, sizeof w->err, "listener %s: %s", li->addr.text, msg);
            return ETLS_ERR_IO;
        }
        w->lfd[w->nlisteners++] = fd;
    }
    if (w->sh->snap && (w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        snprintf(w->err, sizeof w->err, "worker %u: eventfd: %s", w->index, strerror(errno));
        return ETLS_ERR_IO;
    }
    return 0;
}

static void teardown(etls_worker_t *w)
{
    for (size_t l = 0; l < w->nlisteners; l++)
        if (w->lfd[l] >= 0)
            close(w->lfd[l]);
    for (uint32_t s = 0; w->conns && s < w->nslots; s++) {
        wk_conn_t *c = w->conns[s];
        if (!c)
            continue;
        if (c->gen & 1) { /* still open after the hard deadline */
            if (c->state != CS_DEAD)
                etls_sess_end(&c->s);
            if (c->fd >= 0)
                close(c->fd);
            if (c->bfd >= 0)
                close(c->bfd);
        }
        free(c->s.rx.base);
        free(c);
    }
    if (w->hs_pool)
        etls_tls_hs_pool_free(w->hs_pool); /* after every connection returned its state */
    if (w->bufs.br)
        etls_io_bufs_free(&w->bufs, &w->ring);
    if (w->ring_ok)
        io_uring_queue_exit(&w->ring);
    if (w->wake_fd >= 0)
        close(w->wake_fd);
    etls_batch_free(w->batch);
    if (w->aead)
        etls_aead_engine_free(w->aead);
    if (w->sh->tls)
        etls_rand_wipe(&w->rng);
    free(w->conns);
    free(w->free_slots);
    free(w->held_next);
    free(w->held_len);
}

static void set_ready(etls_worker_t *w, int v)
{
    pthread_mutex_lock(&w->mu);
    w->ready = v;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void *worker_main(void *arg)
{
    etls_worker_t *w = arg;
    if (w->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(w->cpu, &set);
        int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
        if (rc != 0) {
            snprintf(w->err, sizeof w->err, "worker %u: cannot pin to CPU %d: %s", w->index, w->cpu, strerror(rc));
            set_ready(w, -1);
            return NULL;
        }
    }
    /* The ring is created on the worker's own thread: IORING_SETUP_SINGLE_ISSUER ties it to
     * the creating task. */
    if (setup_table(w) < 0 || setup_crypto(w) < 0 || setup_io(w) < 0) {
        set_ready(w, -1);
        return NULL;
    }
    set_ready(w, 1);
    w->now_ms = now_ms();
    loop(w);
    io_uring_submit(&w->ring); /* the closes queued by the last releases */
    return NULL;
}

int etls_worker_start(etls_worker_t **out, const etls_worker_shared_t *sh, unsigned index, int cpu,
                      char *err, size_t errlen)
{
    etls_worker_t *w = calloc(1, sizeof *w);
    if (w)
        w->wake_fd = -1;
    if (!w) {
        snprintf(err, errlen, "worker %u: out of memory", index);
        return ETLS_ERR_NOMEM;
    }
    w->sh = sh;
    w->cfg = sh->cfg;
    w->index = index;
    w->cpu = cpu;
    for (size_t l = 0; l < ETLS_CONFIG_MAX_LISTENERS; l++)
        w->lfd[l] = -1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    int rc = pthread_create(&w->thread, NULL, worker_main, w);
    if (rc != 0) {
        snprintf(err, errlen, "worker %u: pthread_create: %s", index, strerror(rc));
        free(w);
        return ETLS_ERR_IO;
    }
    pthread_mutex_lock(&w->mu);
    while (w->ready == 0)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    if (w->ready < 0) {
        pthread_join(w->thread, NULL);
        snprintf(err, errlen, "%s", w->err);
        teardown(w);
        free(w);
        return ETLS_ERR_IO;
    }
    *out = w;
    return 0;
}

void etls_worker_wake(etls_worker_t *w)
{
    uint64_t one = 1;
    if (w->wake_fd >= 0 && write(w->wake_fd, &one, sizeof one) < 0) {
        /* the counter is saturated: the worker is being woken anyway */
    }
}

void etls_worker_stop(etls_worker_t *w)
{
    atomic_store(&w->stop_requested, 1);
}

void etls_worker_join(etls_worker_t *w, etls_worker_stats_t *final)
{
    pthread_join(w->thread, NULL);
    if (final)
        etls_worker_stats(w, final);
    teardown(w);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

void etls_worker_stats(const etls_worker_t *w, etls_worker_stats_t *st)
{
    const uint64_t *src = (const uint64_t *)&w->st;
    uint64_t *dst = (uint64_t *)st;
    for (size_t i = 0; i < sizeof *st / sizeof(uint64_t); i++)
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
    memset(&st->batch_fill, 0, sizeof st->batch_fill);
    if (w->batch)
        etls_batch_fill_read(w->batch, &st->batch_fill);
}

size_t etls_worker_stats_format(const etls_worker_stats_t *s, unsigned i, etls_st_put_fn *put, void *arg)
{
    static const struct {
        const char *key;
        size_t off;
    } basic[] = {
#define F(k, f) {k, offsetof(etls_worker_stats_t, f)}
        F("accepted", accepted), F("active", active),       F("rejected", rejected),
        F("handshakes", handshakes), F("hs_failures", hs_failures), F("timeouts", timeouts),
        F("bytes_in", bytes_in), F("bytes_out", bytes_out), F("requests", requests),
        F("errors", errors),     F("resets", resets),       F("crypto_runs", crypto_runs),
#undef F
    };
    char line[128];
    size_t total = 0;
    for (size_t k = 0; k < sizeof basic / sizeof basic[0]; k++) {
        uint64_t v = *(const uint64_t *)((const uint8_t *)s + basic[k].off);
        int n = snprintf(line, sizeof line, "worker.%u.%s %llu\n", i, basic[k].key, (unsigned long long)v);
        put(arg, line, (size_t)n);
        total += (size_t)n;
    }
    uint64_t cum = 0;
    for (size_t b = 0; b <= ETLS_BATCH_FILL_BOUNDS; b++) {
        cum += s->batch_fill.runs[b];
        int n = b < ETLS_BATCH_FILL_BOUNDS
                    ? snprintf(line, sizeof line, "worker.%u.batch_fill_bucket:%llu %llu\n", i,
                               (unsigned long long)etls_batch_fill_bound(b), (unsigned long long)cum)
                    : snprintf(line, sizeof line, "worker.%u.batch_fill_bucket:+Inf %llu\n", i, (unsigned long long)cum);
        put(arg, line, (size_t)n);
        total += (size_t)n;
    }
    int n = snprintf(line, sizeof line, "worker.%u.batch_fill_sum %llu\nworker.%u.batch_fill_count %llu\n", i,
                     (unsigned long long)s->batch_fill.items, i, (unsigned long long)cum);
    put(arg, line, (size_t)n);
    return total + (size_t)n + etls_sess_stats_format(&s->sess, i, put, arg);
}

void etls_worker_stats_print(FILE *f, unsigned index, const etls_worker_stats_t *s)
{
    fprintf(f,
            "edgetls: worker %u: accepted %llu active %llu rejected %llu handshakes %llu "
            "hs_failures %llu timeouts %llu requests %llu errors %llu resets %llu bytes_in %llu bytes_out %llu "
            "bk_in %llu bk_out %llu bk_errors %llu crypto_runs %llu\n",
            index, (unsigned long long)s->accepted, (unsigned long long)s->active,
            (unsigned long long)s->rejected, (unsigned long long)s->handshakes,
            (unsigned long long)s->hs_failures, (unsigned long long)s->timeouts,
            (unsigned long long)s->requests, (unsigned long long)s->errors, (unsigned long long)s->resets,
            (unsigned long long)s->bytes_in, (unsigned long long)s->bytes_out,
            (unsigned long long)s->bk_bytes_in, (unsigned long long)s->bk_bytes_out,
            (unsigned long long)s->bk_errors, (unsigned long long)s->crypto_runs);
}
