/* The per-connection pump: received bytes -> TLS engine -> mode (echo, responder, proxy) ->
 * TLS engine -> bytes to send. It runs whenever the connection had an I/O completion or its
 * parked crypto finished, and stops when nothing moves (waiting for I/O or the batch).
 *
 * Buffer rules from tls.h that shape this file: while the engine is parked it still points at
 * the consumed input and at the free space of `out`/`app`, so no buffer is compacted and the
 * parked call is the first one made on resume. A buffer with a send in flight is never moved
 * either. Plaintext listeners (tests) go through the same pump with a copying shim. */
#include "worker/wk.h"

#include "common/err.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int wk_buf_room(const etls_tls_buf_t *b) { return (int)(b->cap - b->len); }

void wk_conn_init(etls_worker_t *w, wk_conn_t *c, int fd, unsigned listener, int tls)
{
    uint32_t slot = c->slot, gen = c->gen;
    etls_tls_buf_t rx = c->rx, out = c->out, app = c->app, bk = c->bk;
    /* A slot freed and reused within one iteration may still be on the dirty list. */
    uint8_t dirty = c->dirty;
    wk_conn_t *dnext = c->dnext;
    memset(c, 0, offsetof(wk_conn_t, tc));
    c->dirty = dirty;
    c->dnext = dnext;
    c->slot = slot;
    c->gen = gen;
    c->rx = rx;
    c->out = out;
    c->app = app;
    c->bk = bk;
    c->rx.len = c->out.len = c->app.len = c->bk.len = 0;
    c->fd = fd;
    c->bfd = -1;
    c->listener = (uint8_t)listener;
    c->tls = (uint8_t)tls;
    c->held.head = c->held.tail = c->bheld.head = c->bheld.tail = WK_NO_BUF;
    etls_http_parser_init(&c->http, w->cfg->max_header_size);
    c->state = CS_HANDSHAKE;
    if (tls)
        etls_tls_conn_init(&c->tc, w->sh->tls, &w->env);
    wk_timer_set(w, c, TL_HS);
}

/* ---- buffers ------------------------------------------------------------------------------- */

/* Drops consumed bytes at the front, unless the engine or the kernel may be looking. */
static void compact(etls_tls_buf_t *b, size_t *off, size_t need)
{
    if (*off == 0)
        return;
    if (*off == b->len) {
        b->len = *off = 0;
    } else if (b->cap - b->len < need) {
        memmove(b->base, b->base + *off, b->len - *off);
        b->len -= *off;
        *off = 0;
    }
}

/* Held provided buffers -> rx (or discarded while lingering). */
static int rx_fill(etls_worker_t *w, wk_conn_t *c)
{
    int moved = 0;
    if (!c->park)
        compact(&c->rx, &c->rx_off, WK_PBUF_SIZE);
    for (;;) {
        size_t n, room = c->rx.cap - c->rx.len;
        uint8_t *p = wk_held_take(w, &c->held, &n);
        if (!p || (room == 0 && c->state != CS_LINGER))
            break;
        if (c->state == CS_LINGER) {
            wk_held_consume(w, &c->held, n);
            continue;
        }
        if (n > room)
            n = room;
        memcpy(c->rx.base + c->rx.len, p, n);
        c->rx.len += n;
        wk_held_consume(w, &c->held, n);
        moved = 1;
    }
    return moved;
}

/* ---- failure and closing ------------------------------------------------------------------- */

static void conn_fail(etls_worker_t *w, wk_conn_t *c, int rc)
{
    if (w->cfg->log_level >= ETLS_LOG_DEBUG)
        fprintf(stderr, "edgetls: worker %u: connection %u: %s (%d%s)\n", w->index, c->slot,
                ETLS_ERR_IS_ALERT(rc) ? "alert sent" : ETLS_TLS_ERR_IS_PEER_ALERT(rc) ? "peer alert" : etls_strerror(rc),
                ETLS_ERR_IS_ALERT(rc) ? ETLS_ERR_ALERT_DESC(rc) : rc, c->hs_done ? "" : ", in the handshake");
    if (!c->hs_done)
        WK_STAT_ADD(w, hs_failures, 1);
    else
        WK_STAT_ADD(w, errors, 1);
    if (ETLS_ERR_IS_ALERT(rc) && c->out.len > c->out_off) {
        c->closing = 2; /* the alert is in `out`: send it, FIN, then close */
        c->abort_after_flush = 1;
        return;
    }
    wk_conn_abort(w, c, "TLS error");
}

static void start_close(wk_conn_t *c)
{
    if (!c->closing)
        c->closing = c->tls && c->hs_done ? 1 : 2;
}

/* closing == 1: close_notify still to be appended (it may park like any other record). */
static int close_step(etls_worker_t *w, wk_conn_t *c, int resume)
{
    if (!resume && (c->closing != 1 || c->park))
        return 0;
    if (!resume && !c->send_busy)
        compact(&c->out, &c->out_off, ETLS_TLS_OUT_SMALL);
    int rc = etls_tls_close(&c->tc, &c->out);
    if (rc == ETLS_ERR_IN_PROGRESS) {
        c->park = PARK_CLOSE;
        return 1;
    }
    if (rc == ETLS_ERR_LIMIT)
        return 0;
    if (rc < 0) {
        conn_fail(w, c, rc);
        return 1;
    }
    c->closing = 2;
    return 1;
}

/* ---- TLS in ----------------------------------------------------------------------------------- */

static int plain_feed(wk_conn_t *c, size_t *used)
{
    size_t n = c->rx.len - c->rx_off, room = c->app.cap - c->app.len;
    if (n > room)
        n = room;
    memcpy(c->app.base + c->app.len, c->rx.base + c->rx_off, n);
    c->app.len += n;
    *used = n;
    return 0;
}

static int tls_in(etls_worker_t *w, wk_conn_t *c, int resume)
{
    /* A resumed call always runs: the engine publishes the parked results (and checks that
     * the buffers did not move) only inside the repeated call. */
    if (!resume && (c->park || c->abort_after_flush || (c->closing && w->cfg->mode != ETLS_MODE_PROXY) ||
                    c->state != (c->hs_done ? CS_OPEN : CS_HANDSHAKE)))
        return 0;
    size_t avail = c->rx.len - c->rx_off;
    if (!avail && !resume)
        return 0;
    if (!resume) {
        if (!c->app_sending)
            compact(&c->app, &c->app_off, ETLS_TLS_MAX_CIPHERTEXT);
        if (!c->send_busy)
            compact(&c->out, &c->out_off,
                    c->hs_done || !c->tls ? ETLS_TLS_MAX_SEALED : etls_tls_out_room(&c->tc));
    }
    size_t used = 0, out0 = c->out.len, app0 = c->app.len;
    int rc = c->tls ? etls_tls_feed(&c->tc, c->rx.base + c->rx_off, avail, &used, &c->out, &c->app)
                    : plain_feed(c, &used);
    c->rx_off += used;
    if (rc == ETLS_ERR_IN_PROGRESS) {
        c->park = PARK_FEED;
        return 1;
    }
    if (rc < 0 && rc != ETLS_ERR_LIMIT) {
        conn_fail(w, c, rc);
        return 1;
    }
    return used || c->out.len != out0 || c->app.len != app0;
}

/* ---- modes: where plaintext to encrypt comes from, and what consumes decrypted data ------ */

/* Where a reply's head and first body bytes are joined into one record's plaintext. The
 * engine copies what it takes before etls_tls_send returns, so one buffer per thread serves
 * every connection of the worker. */
static _Thread_local uint8_t reply_scratch[ETLS_TLS_MAX_PLAINTEXT];

static void tx_source(const etls_worker_t *w, const wk_conn_t *c, const uint8_t **p, size_t *n)
{
    *p = NULL;
    *n = 0;
    switch (w->cfg->mode) {
    case ETLS_MODE_ECHO:
        *p = c->app.base + c->app_off;
        *n = c->app.len - c->app_off;
        break;
    case ETLS_MODE_RESPONDER:
        *n = etls_http_reply_next(w->sh->http, &c->reply, reply_scratch, sizeof reply_scratch, p);
        break;
    case ETLS_MODE_PROXY:
        *p = c->bk.base + c->bk_off;
        *n = c->bk.len - c->bk_off;
        break;
    }
}

static void tx_consume(etls_worker_t *w, wk_conn_t *c, size_t n)
{
    switch (w->cfg->mode) {
    case ETLS_MODE_ECHO: c->app_off += n; break;
    case ETLS_MODE_PROXY: c->bk_off += n; break;
    case ETLS_MODE_RESPONDER:
        if (!c->reply.active)
            break;
        etls_http_reply_consume(&c->reply, n);
        if (!c->reply.active && c->reply.close)
            start_close(c);
        break;
    }
}

static int plain_send(wk_conn_t *c, const uint8_t *p, size_t n, size_t *used)
{
    size_t room = c->out.cap - c->out.len;
    if (n > room)
        n = room;
    memcpy(c->out.base + c->out.len, p, n);
    c->out.len += n;
    *used = n;
    return n ? 0 : ETLS_ERR_LIMIT;
}

static int tls_out(etls_worker_t *w, wk_conn_t *c, int resume)
{
    if (!resume && (c->park || !c->hs_done || c->closing || c->state != CS_OPEN))
        return 0;
    const uint8_t *p;
    size_t n, used = 0;
    tx_source(w, c, &p, &n);
    if (!n && !resume)
        return 0;
    static const uint8_t none[1];
    if (!p)
        p = none; /* resuming with nothing new to send: the engine wants a valid pointer */
    if (!resume && !c->send_busy)
        compact(&c->out, &c->out_off, ETLS_TLS_MAX_SEALED);
    int rc = c->tls ? etls_tls_send(&c->tc, p, n, &used, &c->out) : plain_send(c, p, n, &used);
    tx_consume(w, c, used);
    if (rc == ETLS_ERR_IN_PROGRESS) {
        c->park = PARK_SEND;
        return 1;
    }
    if (rc < 0 && rc != ETLS_ERR_LIMIT) {
        conn_fail(w, c, rc);
        return 1;
    }
    return used > 0;
}

/* Responder: answer every complete request in order; one response in flight at a time. */
static int http_in(etls_worker_t *w, wk_conn_t *c)
{
    int progress = 0;
    while (!c->reply.active && !c->http_done && !c->closing && c->app_off < c->app.len) {
        size_t used;
        etls_http_req_t req;
        etls_http_result_t r = etls_http_parse(&c->http, c->app.base + c->app_off,
                                               c->app.len - c->app_off, &used, &req);
        c->app_off += used;
        progress |= used > 0;
        if (r == ETLS_HTTP_NEED_MORE)
            break;
        etls_http_reply_start(w->sh->http, r, &req, &c->reply);
        c->http_done = c->reply.close;
        WK_STAT_ADD(w, requests, 1);
        if (c->reply.error)
            WK_STAT_ADD(w, errors, 1);
        progress = 1;
    }
    return progress;
}

/* The client will send nothing more that we can use: close_notify, or FIN with every byte
 * before it processed (a trailing partial record after FIN can never complete). */
int wk_input_ended(const wk_conn_t *c)
{
    if (c->tls && c->hs_done && etls_tls_peer_closed(&c->tc))
        return 1;
    if (!c->rd_eof || c->held.head != WK_NO_BUF || c->park)
        return 0;
    size_t avail = c->rx.len - c->rx_off;
    if (avail == 0)
        return 1;
    if (!c->tls)
        return 0;
    const uint8_t *h = c->rx.base + c->rx_off;
    return avail < ETLS_TLS_RECORD_HEADER || avail < ETLS_TLS_RECORD_HEADER + ((size_t)h[3] << 8 | h[4]);
}

/* When echo and responder connections end: after the peer's close_notify or FIN once our
 * output for it is queued, or during a worker shutdown once the connection is idle. */
static void close_policy(etls_worker_t *w, wk_conn_t *c)
{
    if (c->closing || c->park || w->cfg->mode == ETLS_MODE_PROXY)
        return;
    int idle = w->cfg->mode == ETLS_MODE_ECHO ? c->app_off == c->app.len : !c->reply.active;
    if (idle && (wk_input_ended(c) || w->stopping || c->http_done))
        start_close(c);
}

static void on_established(etls_worker_t *w, wk_conn_t *c)
{
    c->hs_done = 1;
    c->state = CS_OPEN;
    if (c->tls)
        WK_STAT_ADD(w, handshakes, 1);
    wk_timer_set(w, c, TL_IDLE);
    if (w->cfg->mode == ETLS_MODE_PROXY)
        wk_backend_handshake_done(w, c);
}

/* ---- I/O towards the client ------------------------------------------------------------- */

static void client_io(etls_worker_t *w, wk_conn_t *c)
{
    if (!c->send_busy && c->out.len > c->out_off) {
        struct io_uring_sqe *sqe = etls_io_sqe(&w->ring);
        c->out_sending = c->out.len - c->out_off;
        io_uring_prep_send(sqe, c->fd, c->out.base + c->out_off, c->out_sending, MSG_NOSIGNAL);
        io_uring_sqe_set_data64(sqe, etls_io_ud(ETLS_IO_OP_SEND, c->slot, c->gen));
        c->send_busy = 1;
        c->inflight++;
    }
    if (c->closing == 2 && !c->send_busy && c->out_off == c->out.len && !c->park && !c->wr_shut) {
        int linger = w->cfg->mode != ETLS_MODE_PROXY || !c->hs_done || c->abort_after_flush;
        /* FIN after the last byte (close_notify or alert). When the client has closed too, the
         * caller closes the socket right away and close() sends that FIN: no shutdown call. */
        if (!(linger && c->rd_eof))
            shutdown(c->fd, SHUT_WR);
        c->wr_shut = 1;
        if (linger) {
            c->state = CS_LINGER;
            wk_timer_set(w, c, TL_LINGER);
        }
    }
    int room = wk_buf_room(&c->rx) >= (int)WK_PBUF_SIZE || (size_t)c->rx_off >= WK_PBUF_SIZE;
    int reading = !c->abort_after_flush && (c->closing == 0 || w->cfg->mode == ETLS_MODE_PROXY);
    int want = !c->rd_eof && (c->state == CS_LINGER || (reading && c->held.head == WK_NO_BUF && room));
    if (want && !c->recv_armed)
        wk_arm_recv(w, c, 0);
    else if (!want && c->recv_armed && !c->recv_cancel && !c->rd_eof)
        wk_cancel_recv(w, c, 0);
}

void wk_conn_on_sent(etls_worker_t *w, wk_conn_t *c, int res)
{
    c->send_busy = 0;
    if (c->state == CS_DEAD)
        return;
    if (res <= 0) { /* EPIPE, ECONNRESET: the client is gone */
        WK_STAT_ADD(w, resets, 1);
        wk_conn_abort(w, c, "client send failed");
        return;
    }
    c->out_off += (size_t)res;
    WK_STAT_ADD(w, bytes_out, res);
}

/* ---- the pump ------------------------------------------------------------------------------ */

static int pump_once(etls_worker_t *w, wk_conn_t *c)
{
    int progress = rx_fill(w, c);
    if (c->state == CS_LINGER)
        return 0;
    progress |= tls_in(w, c, 0);
    if (c->state == CS_DEAD)
        return 0;
    if (!c->hs_done && (!c->tls || etls_tls_handshake_done(&c->tc))) {
        on_established(w, c);
        progress = 1;
    }
    if (!c->hs_done) {
        /* After the client's FIN nothing more arrives: the handshake is over once everything
         * buffered was consumed, or once the engine makes no progress with what is left (a
         * partial record can never complete) while nothing is parked or still being sent. */
        int stuck = !progress && !c->send_busy && c->out_off == c->out.len;
        if (c->rd_eof && !c->park && c->held.head == WK_NO_BUF && (c->rx_off == c->rx.len || stuck)) {
            WK_STAT_ADD(w, hs_failures, 1); /* the client left during the handshake */
            wk_conn_abort(w, c, "client left during the handshake");
        }
        return progress;
    }
    if (w->cfg->mode == ETLS_MODE_RESPONDER)
        progress |= http_in(w, c);
    else if (w->cfg->mode == ETLS_MODE_PROXY)
        progress |= wk_backend_pump(w, c);
    if (c->state == CS_DEAD)
        return 0;
    progress |= tls_out(w, c, 0);
    close_policy(w, c);
    progress |= close_step(w, c, 0);
    return progress;
}

void wk_conn_pump(etls_worker_t *w, wk_conn_t *c)
{
    for (int i = 0; i < 32 && c->state != CS_DEAD; i++)
        if (!pump_once(w, c))
            break;
    if (c->state == CS_DEAD)
        return;
    if (c->state == CS_LINGER && c->rd_eof) {
        wk_conn_abort(w, c, "closed after linger"); /* the peer closed too: done */
        return;
    }
    if (c->state == CS_OPEN && !w->stopping && (!c->closing || w->cfg->mode == ETLS_MODE_PROXY))
        wk_timer_set(w, c, TL_IDLE);
    client_io(w, c);
    /* The client closed first (keep-alive clients usually do) and our FIN has just gone out:
     * there is nothing left to drain, so waiting out the linger timer would only hold the slot. */
    if (c->state == CS_LINGER && c->rd_eof) {
        wk_conn_abort(w, c, "closed after the client");
        return;
    }
    if (w->cfg->mode == ETLS_MODE_PROXY && c->state != CS_DEAD)
        wk_backend_pump(w, c);
}

/* The batch finished the parked call's crypto: repeat that call first, then pump. */
void wk_conn_resume(etls_worker_t *w, wk_conn_t *c)
{
    park_op_t op = (park_op_t)c->park;
    c->park = PARK_NONE;
    if (op == PARK_FEED)
        tls_in(w, c, 1);
    else if (op == PARK_SEND)
        tls_out(w, c, 1);
    else if (op == PARK_CLOSE)
        close_step(w, c, 1);
    if (c->state != CS_DEAD)
        wk_conn_pump(w, c);
}

/* Idle timeout: say goodbye with close_notify when the connection is quiet enough to do so
 * (nothing parked, nothing unsent), otherwise just close it. */
void wk_conn_idle_close(etls_worker_t *w, wk_conn_t *c)
{
    if (c->state != CS_OPEN || c->park || c->send_busy || c->out_off != c->out.len || c->closing) {
        wk_conn_abort(w, c, "idle timeout");
        return;
    }
    start_close(c);
    wk_timer_set(w, c, TL_LINGER); /* bounds the goodbye as well */
    wk_mark_dirty(w, c);
}

/* Worker shutdown: connections still in the handshake are dropped; established ones close
 * with close_notify as soon as they are idle (close_policy and the backend pump check
 * w->stopping). */
void wk_conn_shutdown(etls_worker_t *w, wk_conn_t *c)
{
    if (c->state == CS_HANDSHAKE && !c->park) {
        wk_conn_abort(w, c, "shutdown during the handshake");
        return;
    }
    wk_mark_dirty(w, c);
}
