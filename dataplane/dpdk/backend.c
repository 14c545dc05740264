/* Proxy mode over DPDK: the backend side of a connection is a kernel TCP socket driven by the
 * worker's own io_uring from the same lcore loop (connect, send, recv, shutdown, close). The
 * loop stays poll-mode: each iteration submits what the pumps queued and collects completions
 * without blocking, and makes no system call at all when nothing was queued and nothing
 * completed (dp_backend_poll). Decrypted client data goes to the backend straight from `app`;
 * backend data lands in `bk` and is encrypted from there by the pump.
 *
 * Backpressure is the bounded buffers: a full `app` stops decryption, which stops reading TCP
 * (and closes the client's window); a full `bk` stops reading the backend. Half-close is
 * forwarded both ways: the client's close_notify/FIN becomes shutdown(SHUT_WR) towards the
 * backend, the backend's FIN becomes close_notify + FIN towards the client.
 *
 * Completions find their connection by slot and check the backend session's generation
 * (c->bk_gen, from a per-worker counter: the slot's fields are reset by conn.c when it is
 * reused, so the generation cannot live there alone); anything from an earlier session of the
 * slot is ignored. A connection is never released with an operation still in the kernel:
 * dp_backend_close cancels them synchronously, because conn.c frees the slot (and may hand
 * its buffers to a new connection) as soon as it returns. */
#include "dpdk/dp.h"

#include "common/err.h"
#include "common/stop.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

enum { BK_NONE = 0, BK_CONNECTING, BK_CONNECTED, BK_FAILED };
enum { BKS_IDLE = 0, BKS_PP2, BKS_APP };

/* A recv goes straight into bk's free space: one copy (kernel -> bk), one SQE, and nothing to
 * hand back, where a multishot recv with provided buffers would add a copy out of the buffer
 * ring, a per-worker buffer pool and "held" buffers when bk is full. Multishot saves an SQE
 * per chunk, which matters little here: one recv takes everything the socket holds, up to the
 * free space. While bk still holds bytes to encrypt and has less than this much room, the
 * next recv waits until bk is drained and rewound, rather than trickling small reads. */
#define BK_RECV_MIN 4096u

static void count_syscall(dp_worker_t *w) { DP_STAT_ADD(w, bk_syscalls, 1); }

static struct io_uring_sqe *bk_sqe(dp_worker_t *w)
{
    if (!io_uring_sq_space_left(&w->ring))
        count_syscall(w); /* etls_io_sqe submits to make room */
    return etls_io_sqe(&w->ring);
}

static void bk_queue(dp_conn_t *c, struct io_uring_sqe *sqe, etls_io_op_t op)
{
    io_uring_sqe_set_data64(sqe, etls_io_ud(op, c->slot, c->bk_gen));
    c->bk_ops++;
}

static void bk_fail(dp_worker_t *w, dp_conn_t *c)
{
    if (c->bk_state == BK_FAILED)
        return;
    c->bk_state = BK_FAILED; /* the pump closes the client */
    DP_STAT_ADD(w, bk_errors, 1);
}

int dp_backend_start(dp_worker_t *w)
{
    char msg[200];
    if (etls_io_ring_init_polled(&w->ring, w->cfg->uring_entries ? w->cfg->uring_entries : 4096,
                                 msg, sizeof msg) < 0) {
        snprintf(w->err, sizeof w->err, "dpdk worker %u: backend ring: %s", w->index, msg);
        return ETLS_ERR_IO;
    }
    w->ring_ok = 1;
    return 0;
}

void dp_backend_stop(dp_worker_t *w)
{
    if (!w->ring_ok)
        return;
    /* Every connection is released, so nothing is in flight but the closes they queued (a
     * socket's close runs inline at submit). */
    if (io_uring_sq_ready(&w->ring)) {
        io_uring_submit(&w->ring);
        count_syscall(w);
    }
    io_uring_queue_exit(&w->ring);
    w->ring_ok = 0;
}

static void build_pp2(dp_worker_t *w, dp_conn_t *c)
{
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(c->raddr);
    src.sin_port = htons(c->rport);
    dst.sin_addr.s_addr = htonl(w->net.ip);
    dst.sin_port = htons(c->lport);
    etls_pp2_info_t info;
    memset(&info, 0, sizeof info);
    info.src = (const struct sockaddr *)&src;
    info.dst = (const struct sockaddr *)&dst;
    etls_sess_pp2_tls(&c->s, &info);
    int n = etls_pp2_encode(c->pp2, sizeof c->pp2, &info);
    c->pp2_len = (uint16_t)(n > 0 ? n : 0);
    c->pp2_off = 0;
}

int dp_backend_open(dp_worker_t *w, dp_conn_t *c)
{
    const etls_config_t *cfg = w->cfg;
    uint32_t bi = w->rr++ % (uint32_t)cfg->nbackends;
    const etls_config_backend_t *b = &cfg->backends[bi];
    /* A blocking socket: io_uring issues it non-blocking and waits for readiness itself. (The
     * lcore created its ring before its loop, so w->ring is there whenever this runs.) */
    int fd = socket(b->addr.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    count_syscall(w);
    if (fd < 0) {
        bk_fail(w, c);
        return ETLS_ERR_IO;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    count_syscall(w);
    c->bfd = fd;
    c->bk_state = BK_CONNECTING;
    if (++w->bk_gen == 0)
        w->bk_gen = 1; /* 0 marks "no session" */
    c->bk_gen = w->bk_gen;
    if (b->proxy_v2)
        build_pp2(w, c);
    struct io_uring_sqe *sqe = bk_sqe(w);
    io_uring_prep_connect(sqe, fd, (const struct sockaddr *)&b->addr.ss, b->addr.len);
    bk_queue(c, sqe, ETLS_IO_OP_BK_CONNECT);
    return 0;
}

/* Waits for the completions of c's operations (cancelled just before): the slow path for a
 * kernel whose synchronous cancel failed. Other connections' completions are handled on the
 * way as usual. */
static void on_cqe(void *owner, struct io_uring_cqe *cqe);
static void drain(dp_worker_t *w, dp_conn_t *c)
{
    struct io_uring_sqe *sqe = bk_sqe(w);
    io_uring_prep_cancel_fd(sqe, c->bfd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, etls_io_ud(ETLS_IO_OP_CANCEL, 0, 0));
    while (c->bk_ops) {
        int rc = io_uring_submit_and_wait(&w->ring, 1);
        count_syscall(w);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
            break;
        etls_io_reap(&w->ring, on_cqe, w);
    }
}

void dp_backend_close(dp_worker_t *w, dp_conn_t *c)
{
    if (c->bfd < 0)
        return;
    if (c->bk_ops) {
        /* Operations may still read `app`, write `bk` or use the descriptor, and conn.c
         * frees the slot as soon as this returns. Queued SQEs go in first (a cancel only finds
         * submitted requests); the synchronous cancel returns once every request on the fd
         * has completed or been cancelled (a recv whose data arrived but whose deferred task
         * work has not run is cancelled without copying). Their completions, if any, carry a
         * generation that is no longer current and are ignored. One or two system calls, and
         * only for connections that end with something in flight (an abort, a timeout). */
        DP_STAT_ADD(w, bk_cancels, 1);
        if (io_uring_sq_ready(&w->ring)) {
            io_uring_submit(&w->ring);
            count_syscall(w);
        }
        struct io_uring_sync_cancel_reg reg;
        memset(&reg, 0, sizeof reg);
        reg.fd = c->bfd;
        reg.flags = IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ALL;
        reg.timeout.tv_sec = -1; /* no timeout: socket requests cancel at once */
        reg.timeout.tv_nsec = -1;
        int rc = io_uring_register_sync_cancel(&w->ring, &reg);
        count_syscall(w);
        if (rc < 0 && rc != -ENOENT)
            drain(w, c);
        /* A recv may have copied backend plaintext into bk's free space before it was
         * cancelled (or completed unseen): conn.c wipes bk up to bk_hw, so cover all of it. */
        if (c->bk_recv_busy)
            c->s.bk_hw = c->s.bk.cap;
    }
    /* With the next submit, not a close() of its own; nothing refers to the fd any more. */
    struct io_uring_sqe *sqe = bk_sqe(w);
    io_uring_prep_close(sqe, c->bfd);
    io_uring_sqe_set_data64(sqe, etls_io_ud(ETLS_IO_OP_CLOSE, 0, 0));
    c->bfd = -1;
    c->bk_gen = 0;
    c->bk_ops = 0;
    c->bk_send_busy = c->bk_recv_busy = 0;
    c->s.app_busy = 0;
}

/* ---- completions ---------------------------------------------------------------------------- */

static void on_cqe(void *owner, struct io_uring_cqe *cqe)
{
    dp_worker_t *w = owner;
    uint64_t ud = io_uring_cqe_get_data64(cqe);
    etls_io_op_t op = etls_io_ud_op(ud);
    uint32_t slot = etls_io_ud_slot(ud);
    if (op == ETLS_IO_OP_CANCEL || op == ETLS_IO_OP_CLOSE || op == ETLS_IO_OP_NONE)
        return;
    dp_conn_t *c = slot < w->nslots ? w->conns[slot] : NULL;
    if (!c || !c->in_use || c->bfd < 0 || c->bk_gen != etls_io_ud_gen(ud))
        return; /* an earlier session of this slot (cancelled when it was released) */
    c->bk_ops--;
    int res = cqe->res;
    switch (op) {
    case ETLS_IO_OP_BK_CONNECT:
        if (res < 0)
            bk_fail(w, c);
        else if (c->bk_state == BK_CONNECTING)
            c->bk_state = BK_CONNECTED;
        break;
    case ETLS_IO_OP_BK_SEND: {
        int what = c->bk_send_busy;
        c->bk_send_busy = BKS_IDLE;
        c->s.app_busy = 0;
        if (res <= 0) {
            bk_fail(w, c);
            break;
        }
        if (what == BKS_PP2)
            c->pp2_off = (uint16_t)(c->pp2_off + res);
        else
            c->s.app_off += (size_t)res;
        DP_STAT_ADD(w, bk_bytes_out, res);
        c->last_us = w->now_us;
        break;
    }
    case ETLS_IO_OP_BK_RECV:
        c->bk_recv_busy = 0;
        if (res < 0) {
            bk_fail(w, c);
        } else if (res == 0) {
            c->bk_eof = 1;
        } else {
            c->s.bk.len += (size_t)res;
            etls_sess_bk_written(&c->s);
            DP_STAT_ADD(w, bk_bytes_in, res);
            c->last_us = w->now_us;
        }
        break;
    case ETLS_IO_OP_BK_SHUTDOWN:
        break; /* a backend that is gone already shows on the recv side */
    default:
        break;
    }
    dp_mark_dirty(w, c);
}

unsigned dp_backend_poll(dp_worker_t *w)
{
    /* Enter the kernel only with SQEs to submit or completions waiting to be produced (the
     * ring raises IORING_SQ_TASKRUN for those: with DEFER_TASKRUN they only appear in an
     * enter with GETEVENTS, which this is). */
    if (etls_io_enter_needed(&w->ring)) {
        int rc = io_uring_submit_and_get_events(&w->ring);
        count_syscall(w);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY &&
            etls_log_level_now((int)w->cfg->log_level) >= ETLS_LOG_DEBUG)
            fprintf(stderr, "edgetls: dpdk worker %u: backend io_uring_enter: %s\n", w->index, strerror(-rc));
    }
    unsigned n = io_uring_cq_ready(&w->ring);
    if (n)
        etls_io_reap(&w->ring, on_cqe, w);
    return n;
}

/* ---- the pump ------------------------------------------------------------------------------- */

static void bk_send(dp_worker_t *w, dp_conn_t *c)
{
    const uint8_t *p;
    size_t n;
    uint8_t what;
    if (c->pp2_off < c->pp2_len) {
        p = c->pp2 + c->pp2_off;
        n = (size_t)(c->pp2_len - c->pp2_off);
        what = BKS_PP2;
    } else if (c->s.app_off < c->s.app.len) {
        /* Straight from the session's `app`: s.app_busy keeps it from moving meanwhile (the
         * engine only appends behind app.len). */
        p = c->s.app.base + c->s.app_off;
        n = c->s.app.len - c->s.app_off;
        what = BKS_APP;
        c->s.app_busy = 1;
    } else {
        return;
    }
    /* MSG_WAITALL: the kernel completes the whole send (waiting for socket space itself)
     * rather than returning a partial count that would have to be re-sent. */
    struct io_uring_sqe *sqe = bk_sqe(w);
    io_uring_prep_send(sqe, c->bfd, p, n, MSG_NOSIGNAL | MSG_WAITALL);
    bk_queue(c, sqe, ETLS_IO_OP_BK_SEND);
    c->bk_send_busy = what;
}

static void bk_recv(dp_worker_t *w, dp_conn_t *c)
{
    if (c->bk_eof)
        return;
    etls_sess_t *s = &c->s;
    if (!s->park && s->bk_off == s->bk.len) /* all encrypted: start over at the front */
        s->bk.len = s->bk_off = 0;
    size_t room = s->bk.cap - s->bk.len;
    if (!room || (room < BK_RECV_MIN && s->bk_off < s->bk.len))
        return;
    struct io_uring_sqe *sqe = bk_sqe(w);
    io_uring_prep_recv(sqe, c->bfd, s->bk.base + s->bk.len, room, 0);
    bk_queue(c, sqe, ETLS_IO_OP_BK_RECV);
    c->bk_recv_busy = 1;
}

int dp_backend_pump(dp_worker_t *w, dp_conn_t *c)
{
    etls_sess_t *s = &c->s;
    if (s->closing || s->abort_after)
        return 0;
    if (c->bk_state == BK_FAILED) {
        DP_STAT_ADD(w, errors, 1);
        s->closing = 2; /* no backend: close the client (after anything already queued) */
        s->abort_after = 1;
        return 1;
    }
    if (c->bk_state != BK_CONNECTED)
        return 0;
    if (!c->bk_send_busy)
        bk_send(w, c);
    if (!c->bk_recv_busy)
        bk_recv(w, c);
    int progress = 0;
    if (!c->bk_wr_shut && !c->bk_send_busy && etls_sess_input_ended(s, dp_conn_transport_eof(c)) &&
        s->app_off == s->app.len && c->pp2_off == c->pp2_len) {
        struct io_uring_sqe *sqe = bk_sqe(w);
        io_uring_prep_shutdown(sqe, c->bfd, SHUT_WR);
        bk_queue(c, sqe, ETLS_IO_OP_BK_SHUTDOWN);
        c->bk_wr_shut = 1;
        progress = 1;
    }
    if (c->bk_eof && s->bk_off == s->bk.len && !s->park) {
        etls_sess_start_close(s); /* backend finished: close_notify + FIN to the client */
        progress = 1;
    }
    return progress;
}
