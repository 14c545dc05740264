/* The per-connection pump: received bytes -> TLS engine -> mode (echo, responder, proxy) ->
 * TLS engine -> bytes to send. It runs whenever the connection had an I/O completion or its
 * parked crypto finished, and stops when nothing moves (waiting for I/O or the batch).
 *
 * The session itself (engine calls, modes, closing) is dataplane/session, shared with the DPDK
 * transport; this file moves bytes between it and the ring, and owns the connection's states
 * (handshake, open, linger, dead) and timers. */
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
    /* A slot freed and reused within one iteration may still be on the dirty list. */
    uint8_t dirty = c->dirty;
    wk_conn_t *dnext = c->dnext;
    memset(c, 0, offsetof(wk_conn_t, s));
    c->dirty = dirty;
    c->dnext = dnext;
    c->slot = slot;
    c->gen = gen;
    c->fd = fd;
    c->bfd = -1;
    c->listener = (uint8_t)listener;
    c->held.head = c->held.tail = c->bheld.head = c->bheld.tail = WK_NO_BUF;
    c->state = CS_HANDSHAKE;
    etls_sess_start(&c->s, &w->sx, tls);
    if (c->s.tls) /* the listener's client_auth policy */
        etls_tls_conn_set_listener(&c->s.tc, listener);
    wk_timer_set(w, c, TL_HS);
}

/* Held provided buffers -> s.rx (or discarded while lingering). */
static int rx_fill(etls_worker_t *w, wk_conn_t *c)
{
    etls_sess_t *s = &c->s;
    int moved = 0;
    if (!s->park)
        etls_buf_compact(&s->rx, &s->rx_off, WK_PBUF_SIZE);
    for (;;) {
        size_t n, room = s->rx.cap - s->rx.len;
        uint8_t *p = wk_held_take(w, &c->held, &n);
        if (!p || (room == 0 && c->state != CS_LINGER))
            break;
        if (c->state == CS_LINGER) {
            wk_held_consume(w, &c->held, n);
            continue;
        }
        if (n > room)
            n = room;
        memcpy(s->rx.base + s->rx.len, p, n);
        s->rx.len += n;
        wk_held_consume(w, &c->held, n);
        moved = 1;
    }
    return moved;
}

/* The client's FIN arrived and every byte before it left the provided buffers. */
int wk_transport_eof(const wk_conn_t *c) { return c->rd_eof && c->held.head == WK_NO_BUF; }

/* After a session call: a failure with nothing to flush (no alert queued) ends the connection
 * now; one with an alert to send closes once `out` is flushed (client_io). Returns 1 if dead. */
static int failed(etls_worker_t *w, wk_conn_t *c)
{
    if (c->state == CS_DEAD)
        return 1;
    if (!c->s.fail || !c->s.fail_now)
        return 0;
    wk_conn_abort(w, c, "TLS error");
    return 1;
}

static void on_established(etls_worker_t *w, wk_conn_t *c)
{
    c->state = CS_OPEN;
    wk_timer_set(w, c, TL_IDLE);
    if (w->cfg->mode == ETLS_MODE_PROXY)
        wk_backend_handshake_done(w, c);
}

/* ---- I/O towards the client ------------------------------------------------------------- */

static void client_io(etls_worker_t *w, wk_conn_t *c)
{
    etls_sess_t *s = &c->s;
    if (!s->out_busy && s->out.len > s->out_off) {
        struct io_uring_sqe *sqe = etls_io_sqe(&w->ring);
        io_uring_prep_send(sqe, c->fd, s->out.base + s->out_off, s->out.len - s->out_off, MSG_NOSIGNAL);
        io_uring_sqe_set_data64(sqe, etls_io_ud(ETLS_IO_OP_SEND, c->slot, c->gen));
        s->out_busy = 1;
        c->inflight++;
    }
    if (s->closing == 2 && !s->out_busy && s->out_off == s->out.len && !s->park && !c->wr_shut) {
        int linger = w->cfg->mode != ETLS_MODE_PROXY || !s->hs_done || s->abort_after;
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
    int room = wk_buf_room(&s->rx) >= (int)WK_PBUF_SIZE || (size_t)s->rx_off >= WK_PBUF_SIZE;
    int reading = !s->abort_after && (s->closing == 0 || w->cfg->mode == ETLS_MODE_PROXY);
    int want = !c->rd_eof && (c->state == CS_LINGER || (reading && c->held.head == WK_NO_BUF && room));
    if (want && !c->recv_armed)
        wk_arm_recv(w, c, 0);
    else if (!want && c->recv_armed && !c->recv_cancel && !c->rd_eof)
        wk_cancel_recv(w, c, 0);
}

void wk_conn_on_sent(etls_worker_t *w, wk_conn_t *c, int res)
{
    c->s.out_busy = 0;
    if (c->state == CS_DEAD)
        return;
    if (res <= 0) { /* EPIPE, ECONNRESET: the client is gone */
        WK_STAT_ADD(w, resets, 1);
        wk_conn_abort(w, c, "client send failed");
        return;
    }
    c->s.out_off += (size_t)res;
    WK_STAT_ADD(w, bytes_out, res);
}

/* ---- the pump ------------------------------------------------------------------------------ */

static int pump_once(etls_worker_t *w, wk_conn_t *c)
{
    etls_sess_t *s = &c->s;
    int progress = rx_fill(w, c);
    if (c->state == CS_LINGER)
        return 0;
    int in = etls_sess_input(s, &w->sx);
    if (failed(w, c))
        return 0;
    progress |= in & ETLS_SESS_PROGRESS;
    if (in & ETLS_SESS_ESTABLISHED)
        on_established(w, c);
    if (!s->hs_done) {
        /* After the client's FIN nothing more arrives: the handshake is over once everything
         * buffered was consumed, or once the engine makes no progress with what is left (a
         * partial record can never complete) while nothing is parked or still being sent. */
        int stuck = !progress && !s->out_busy && s->out_off == s->out.len;
        if (wk_transport_eof(c) && !s->park && (s->rx_off == s->rx.len || stuck)) {
            etls_sess_hs_failed(s, &w->sx); /* the client left during the handshake */
            wk_conn_abort(w, c, "client left during the handshake");
        }
        return progress;
    }
    if (w->cfg->mode == ETLS_MODE_RESPONDER)
        progress |= etls_sess_http(s, &w->sx);
    else if (w->cfg->mode == ETLS_MODE_PROXY)
        progress |= wk_backend_pump(w, c);
    if (c->state == CS_DEAD)
        return 0;
    progress |= etls_sess_output(s, &w->sx, wk_transport_eof(c), w->stopping);
    return failed(w, c) ? 0 : progress;
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
    if (c->state == CS_OPEN && !w->stopping && (!c->s.closing || w->cfg->mode == ETLS_MODE_PROXY))
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
    etls_sess_resume(&c->s, &w->sx);
    if (!failed(w, c))
        wk_conn_pump(w, c);
}

/* Idle timeout: say goodbye with close_notify when the connection is quiet enough to do so
 * (nothing parked, nothing unsent), otherwise just close it. */
void wk_conn_idle_close(etls_worker_t *w, wk_conn_t *c)
{
    const etls_sess_t *s = &c->s;
    if (c->state != CS_OPEN || s->park || s->out_busy || s->out_off != s->out.len || s->closing) {
        wk_conn_abort(w, c, "idle timeout");
        return;
    }
    etls_sess_start_close(&c->s);
    wk_timer_set(w, c, TL_LINGER); /* bounds the goodbye as well */
    wk_mark_dirty(w, c);
}

/* Worker shutdown: connections still in the handshake are dropped; established ones close
 * with close_notify as soon as they are idle (the session's close policy and the backend pump
 * check w->stopping). */
void wk_conn_shutdown(etls_worker_t *w, wk_conn_t *c)
{
    if (c->state == CS_HANDSHAKE && !c->s.park) {
        wk_conn_abort(w, c, "shutdown during the handshake");
        return;
    }
    wk_mark_dirty(w, c);
}
