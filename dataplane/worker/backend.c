/* Proxy mode: the backend side of a connection, on the worker's ring (connect, multishot recv,
 * send). Decrypted client data is sent to the backend straight from the connection's `app`
 * buffer; backend data is copied into `bk` and encrypted from there by the pump.
 *
 * Backpressure is the buffers being bounded: a full `app` stops decryption, which stops reading
 * the client; a full `bk` stops reading the backend. Half-close is forwarded both ways: the
 * client's close_notify/FIN becomes shutdown(SHUT_WR) towards the backend, the backend's FIN
 * becomes close_notify + FIN towards the client; the connection ends when both are done. */
#include "worker/wk.h"

#include "common/err.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { BK_NONE = 0, BK_CONNECTING, BK_CONNECTED, BK_FAILED };
enum { BKS_IDLE = 0, BKS_APP, BKS_PP2 };

int wk_backend_open(etls_worker_t *w, wk_conn_t *c)
{
    const etls_config_t *cfg = w->cfg;
    c->backend = w->rr++ % (uint32_t)cfg->nbackends;
    const etls_config_backend_t *b = &cfg->backends[c->backend];
    int fd = socket(b->addr.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return ETLS_ERR_IO;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->bfd = fd;
    c->bk_state = BK_CONNECTING;
    /* Connect while the TLS handshake runs, so the backend is ready when data is. */
    struct io_uring_sqe *sqe = etls_io_sqe(&w->ring);
    io_uring_prep_connect(sqe, fd, (const struct sockaddr *)&b->addr.ss, b->addr.len);
    io_uring_sqe_set_data64(sqe, etls_io_ud(ETLS_IO_OP_BK_CONNECT, c->slot, c->gen));
    c->inflight++;
    return 0;
}

void wk_backend_on_connect(etls_worker_t *w, wk_conn_t *c, int res)
{
    if (c->state == CS_DEAD)
        return;
    if (res < 0) {
        c->bk_state = BK_FAILED;
        WK_STAT_ADD(w, bk_errors, 1);
        wk_conn_abort(w, c, "backend connect failed");
        return;
    }
    c->bk_state = BK_CONNECTED;
}

void wk_backend_on_sent(etls_worker_t *w, wk_conn_t *c, int res)
{
    int what = c->bk_send_busy;
    c->bk_send_busy = BKS_IDLE;
    c->s.app_busy = 0;
    if (c->state == CS_DEAD)
        return;
    if (res <= 0) {
        WK_STAT_ADD(w, bk_errors, 1);
        wk_conn_abort(w, c, "backend send failed");
        return;
    }
    if (what == BKS_PP2)
        c->pp2_off = (uint16_t)(c->pp2_off + res);
    else
        c->s.app_off += (size_t)res;
    WK_STAT_ADD(w, bk_bytes_out, res);
}

/* PROXY v2 header with the client's addresses and the negotiated TLS parameters. */
void wk_backend_handshake_done(etls_worker_t *w, wk_conn_t *c)
{
    if (!w->cfg->backends[c->backend].proxy_v2)
        return;
    struct sockaddr_storage peer, local;
    socklen_t pl = sizeof peer, ll = sizeof local;
    etls_pp2_info_t info;
    memset(&info, 0, sizeof info);
    if (getpeername(c->fd, (struct sockaddr *)&peer, &pl) == 0 &&
        getsockname(c->fd, (struct sockaddr *)&local, &ll) == 0) {
        info.src = (const struct sockaddr *)&peer;
        info.dst = (const struct sockaddr *)&local;
    }
    etls_sess_pp2_tls(&c->s, &info);
    int n = etls_pp2_encode(c->pp2, sizeof c->pp2, &info);
    if (n < 0) /* cannot happen with bounded SNI/ALPN; fall back to LOCAL */
        n = etls_pp2_encode(c->pp2, sizeof c->pp2, NULL);
    c->pp2_len = (uint16_t)n;
    c->pp2_off = 0;
}

/* Backend bytes held in provided buffers -> s.bk (not while the engine may be reading bk). */
static int bk_fill(etls_worker_t *w, wk_conn_t *c)
{
    etls_sess_t *s = &c->s;
    int moved = 0;
    if (!s->park)
        etls_buf_compact(&s->bk, &s->bk_off, WK_PBUF_SIZE);
    for (;;) {
        size_t n, room = s->bk.cap - s->bk.len;
        uint8_t *p = wk_held_take(w, &c->bheld, &n);
        if (!p || !room)
            break;
        if (n > room)
            n = room;
        memcpy(s->bk.base + s->bk.len, p, n);
        s->bk.len += n;
        wk_held_consume(w, &c->bheld, n);
        moved = 1;
    }
    etls_sess_bk_written(s);
    return moved;
}

static void bk_send(etls_worker_t *w, wk_conn_t *c)
{
    const uint8_t *p;
    size_t n;
    if (c->pp2_off < c->pp2_len) {
        p = c->pp2 + c->pp2_off;
        n = (size_t)(c->pp2_len - c->pp2_off);
        c->bk_send_busy = BKS_PP2;
    } else if (c->s.hs_done && c->s.app_off < c->s.app.len) {
        p = c->s.app.base + c->s.app_off;
        n = c->s.app.len - c->s.app_off;
        c->bk_send_busy = BKS_APP;
        c->s.app_busy = 1; /* `app` must not move until this completes */
    } else {
        return;
    }
    struct io_uring_sqe *sqe = etls_io_sqe(&w->ring);
    io_uring_prep_send(sqe, c->bfd, p, n, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, etls_io_ud(ETLS_IO_OP_BK_SEND, c->slot, c->gen));
    c->inflight++;
}

/* Half-close and shutdown decisions; returns 1 when the connection state changed. */
static int bk_close_logic(etls_worker_t *w, wk_conn_t *c)
{
    etls_sess_t *s = &c->s;
    int app_empty = s->app_off == s->app.len && c->pp2_off == c->pp2_len && !c->bk_send_busy;
    int bk_empty = s->bk_off == s->bk.len && c->bheld.head == WK_NO_BUF;
    if (!c->bk_wr_shut && app_empty && !s->park &&
        (etls_sess_input_ended(s, wk_transport_eof(c)) || (w->stopping && bk_empty))) {
        shutdown(c->bfd, SHUT_WR);
        c->bk_wr_shut = 1;
    }
    if (!s->closing && bk_empty && !s->park && (c->bk_eof || (w->stopping && app_empty))) {
        s->closing = s->tls ? 1 : 2; /* close_notify, then FIN (conn.c client_io) */
        return 1;
    }
    if (c->wr_shut && c->bk_wr_shut) {
        wk_conn_abort(w, c, "both directions finished"); /* both directions finished: a normal end */
        return 1;
    }
    return 0;
}

int wk_backend_pump(etls_worker_t *w, wk_conn_t *c)
{
    if (c->state != CS_OPEN || c->bk_state != BK_CONNECTED || c->s.abort_after)
        return 0;
    int progress = bk_fill(w, c);
    if (!c->bk_send_busy)
        bk_send(w, c);
    progress |= bk_close_logic(w, c);
    if (c->state == CS_DEAD)
        return 1;
    int want = !c->bk_eof && c->bheld.head == WK_NO_BUF && c->s.closing == 0 &&
               c->s.bk.cap - c->s.bk.len + c->s.bk_off >= WK_PBUF_SIZE;
    if (want && !c->bk_recv_armed)
        wk_arm_recv(w, c, 1);
    else if (!want && c->bk_recv_armed && !c->bk_recv_cancel && !c->bk_eof)
        wk_cancel_recv(w, c, 1);
    return progress;
}
