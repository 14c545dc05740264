/* Proxy mode over DPDK: the backend side of a connection is a non-blocking kernel TCP socket
 * driven from the same lcore loop (one edge-triggered epoll set per worker, polled with a zero
 * timeout each iteration). Decrypted client data goes to the backend straight from `app`;
 * backend data lands in `bk` and is encrypted from there by the pump.
 *
 * Backpressure is the bounded buffers: a full `app` stops decryption, which stops reading TCP
 * (and closes the client's window); a full `bk` stops reading the backend. Half-close is
 * forwarded both ways: the client's close_notify/FIN becomes shutdown(SHUT_WR) towards the
 * backend, the backend's FIN becomes close_notify + FIN towards the client. */
#include "dpdk/dp.h"

#include "common/err.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { BK_NONE = 0, BK_CONNECTING, BK_CONNECTED, BK_FAILED };

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
    if (c->s.tls) {
        info.tls = 1;
        info.alpn = etls_tls_alpn(&c->s.tc, &info.alpn_len);
        info.authority = etls_tls_sni(&c->s.tc);
        info.authority_len = info.authority ? strlen(info.authority) : 0;
        info.version = "TLSv1.3";
        info.cipher = etls_tls_cipher_name(etls_tls_cipher(&c->s.tc));
    }
    int n = etls_pp2_encode(c->pp2, sizeof c->pp2, &info);
    c->pp2_len = (uint16_t)(n > 0 ? n : 0);
    c->pp2_off = 0;
}

int dp_backend_open(dp_worker_t *w, dp_conn_t *c)
{
    const etls_config_t *cfg = w->cfg;
    uint32_t bi = w->rr++ % (uint32_t)cfg->nbackends;
    const etls_config_backend_t *b = &cfg->backends[bi];
    int fd = socket(b->addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        c->bk_state = BK_FAILED;
        DP_STAT_ADD(w, bk_errors, 1);
        return ETLS_ERR_IO;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->bfd = fd;
    c->bk_state = BK_CONNECTING;
    if (b->proxy_v2)
        build_pp2(w, c);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ||
        (connect(fd, (const struct sockaddr *)&b->addr.ss, b->addr.len) < 0 && errno != EINPROGRESS)) {
        c->bk_state = BK_FAILED;
        DP_STAT_ADD(w, bk_errors, 1);
        return ETLS_ERR_IO;
    }
    return 0;
}

void dp_backend_close(dp_worker_t *w, dp_conn_t *c)
{
    if (c->bfd < 0)
        return;
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->bfd, NULL);
    close(c->bfd);
    c->bfd = -1;
}

void dp_backend_poll(dp_worker_t *w)
{
    struct epoll_event ev[64];
    int n = epoll_wait(w->epfd, ev, 64, 0);
    for (int i = 0; i < n; i++) {
        dp_conn_t *c = ev[i].data.ptr;
        if (!c->in_use || c->bfd < 0)
            continue;
        if (c->bk_state == BK_CONNECTING) {
            int err = 0;
            socklen_t len = sizeof err;
            if (getsockopt(c->bfd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                err = errno;
            if (err) {
                c->bk_state = BK_FAILED;
                DP_STAT_ADD(w, bk_errors, 1);
            } else if (ev[i].events & EPOLLOUT) {
                c->bk_state = BK_CONNECTED;
            }
        }
        dp_mark_dirty(w, c);
    }
}

static int bk_send(dp_worker_t *w, dp_conn_t *c, const uint8_t *p, size_t n, size_t *sent)
{
    *sent = 0;
    if (!n)
        return 0;
    ssize_t r = send(c->bfd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : ETLS_ERR_IO;
    *sent = (size_t)r;
    DP_STAT_ADD(w, bk_bytes_out, r);
    return 0;
}

static int to_backend(dp_worker_t *w, dp_conn_t *c)
{
    size_t sent;
    int progress = 0;
    if (c->pp2_off < c->pp2_len) {
        if (bk_send(w, c, c->pp2 + c->pp2_off, c->pp2_len - c->pp2_off, &sent) < 0)
            return -1;
        c->pp2_off = (uint16_t)(c->pp2_off + sent);
        if (c->pp2_off < c->pp2_len)
            return sent > 0;
    }
    if (bk_send(w, c, c->s.app.base + c->s.app_off, c->s.app.len - c->s.app_off, &sent) < 0)
        return -1;
    c->s.app_off += sent;
    progress |= sent > 0;
    return progress;
}

static int from_backend(dp_worker_t *w, dp_conn_t *c)
{
    if (c->bk_eof)
        return 0;
    if (!c->s.park && c->s.bk_off == c->s.bk.len)
        c->s.bk.len = c->s.bk_off = 0;
    size_t room = c->s.bk.cap - c->s.bk.len;
    if (!room)
        return 0;
    ssize_t r = recv(c->bfd, c->s.bk.base + c->s.bk.len, room, MSG_DONTWAIT);
    if (r < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    if (r == 0) {
        c->bk_eof = 1;
        return 1;
    }
    c->s.bk.len += (size_t)r;
    if (c->s.bk.len > c->s.bk_hw)
        c->s.bk_hw = c->s.bk.len;
    DP_STAT_ADD(w, bk_bytes_in, r);
    return 1;
}

/* Client side finished sending (close_notify, or FIN after the last whole record)? */
static int client_done(const dp_conn_t *c)
{
    if (c->s.tls && etls_tls_peer_closed(&c->s.tc))
        return 1;
    return c->peer_fin && !c->s.park && (!c->tcp || !etls_tcp_readable(c->tcp)) &&
           c->s.rx_off == c->s.rx.len;
}

int dp_backend_pump(dp_worker_t *w, dp_conn_t *c)
{
    if (c->s.closing || c->s.abort_after)
        return 0;
    if (c->bk_state == BK_FAILED) {
        DP_STAT_ADD(w, errors, 1);
        c->s.closing = 2; /* no backend: close the client (after anything already queued) */
        c->s.abort_after = 1;
        return 1;
    }
    if (c->bk_state != BK_CONNECTED)
        return 0;
    int a = to_backend(w, c), b = from_backend(w, c);
    if (a < 0 || b < 0) {
        DP_STAT_ADD(w, bk_errors, 1);
        c->bk_state = BK_FAILED;
        return 1;
    }
    int progress = a | b;
    if (!c->bk_wr_shut && client_done(c) && c->s.app_off == c->s.app.len && c->pp2_off == c->pp2_len) {
        shutdown(c->bfd, SHUT_WR);
        c->bk_wr_shut = 1;
        progress = 1;
    }
    if (c->bk_eof && c->s.bk_off == c->s.bk.len && !c->s.park) {
        etls_sess_start_close(&c->s); /* backend finished: close_notify + FIN to the client */
        progress = 1;
    }
    return progress;
}
