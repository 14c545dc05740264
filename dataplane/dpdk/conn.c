/* The DPDK transport's side of a client connection: the userspace TCP's in-order bytes into the
 * shared TLS session (dataplane/session) and the session's output into the TCP send ring. It
 * runs when the connection had a TCP event or its parked crypto finished, and stops when nothing
 * moves. Writing to TCP copies into its send ring, so unlike the io_uring worker no send is ever
 * "in flight" from `out`: s.out_busy stays 0. */
#include "dpdk/dp.h"

#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static dp_conn_t *conn_alloc(dp_worker_t *w)
{
    if (!w->nfree)
        return NULL;
    uint32_t slot = w->free_slots[--w->nfree];
    dp_conn_t *c = w->conns[slot];
    if (!c) {
        size_t head = (sizeof *c + 63) & ~(size_t)63;
        size_t total = head + w->rx_cap + w->out_cap + w->app_cap + w->bk_cap;
        c = aligned_alloc(64, (total + 63) & ~(size_t)63);
        if (!c) {
            w->nfree++;
            return NULL;
        }
        memset(c, 0, sizeof *c);
        uint8_t *p = (uint8_t *)c + head;
        etls_sess_t *s = &c->s;
        s->rx.base = p;
        s->rx.cap = w->rx_cap;
        s->out.base = p += w->rx_cap;
        s->out.cap = w->out_cap;
        s->app.base = p += w->out_cap;
        s->app.cap = w->app_cap;
        s->bk.base = p + w->app_cap;
        s->bk.cap = w->bk_cap;
        c->slot = slot;
        w->conns[slot] = c;
    }
    return c;
}

/* The listener index for a local port (its client_auth policy); nlisteners when none matches. */
static unsigned listener_of(const dp_worker_t *w, uint16_t port)
{
    for (size_t l = 0; l < w->cfg->nlisteners; l++) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&w->cfg->listeners[l].addr.ss;
        if (sin->sin_family == AF_INET && ntohs(sin->sin_port) == port)
            return (unsigned)l;
    }
    return (unsigned)w->cfg->nlisteners;
}

static int listener_tls(const dp_worker_t *w, uint16_t port)
{
    unsigned l = listener_of(w, port);
    return l < w->cfg->nlisteners ? w->cfg->listeners[l].tls : 1;
}

void dp_conn_on_accept(dp_worker_t *w, etls_tcp_conn_t *tcp)
{
    /* A graceful stop (SIGTERM, or a drain from the control plane) takes no new connection: the
     * userspace TCP completes handshakes on its own (SYN cookies), so refusing one is a RST
     * here, as soon as it is accepted; the connections already open may finish. */
    int stop = atomic_load_explicit(&etls_dp_stop, memory_order_relaxed);
    dp_conn_t *c = stop ? NULL : conn_alloc(w);
    if (!c) {
        DP_STAT_ADD(w, rejected, 1);
        etls_tcp_abort(tcp);
        return;
    }
    /* Keep the slot (and the session's buffers); reset everything else. */
    uint32_t slot = c->slot;
    /* A slot freed and reused within one iteration may still be on the dirty list. */
    uint8_t dirty = c->dirty;
    dp_conn_t *dnext = c->dnext;
    memset(c, 0, offsetof(dp_conn_t, s));
    c->dirty = dirty;
    c->dnext = dnext;
    c->slot = slot;
    c->w = w;
    c->tcp = tcp;
    c->in_use = 1;
    c->bfd = -1;
    etls_tcp_conn_info_t info;
    etls_tcp_conn_info(tcp, &info);
    c->lport = info.lport;
    c->raddr = info.raddr;
    c->rport = info.rport;
    etls_sess_start(&c->s, &w->sx, listener_tls(w, info.lport));
    if (c->s.tls)
        etls_tls_conn_set_listener(&c->s.tc, listener_of(w, info.lport));
    c->hs_deadline_us = w->now_us + (uint64_t)w->cfg->handshake_timeout_ms * 1000;
    c->last_us = w->now_us;
    etls_tcp_conn_set_user(tcp, c);
    DP_STAT_ADD(w, accepted, 1);
    DP_STAT_ADD(w, active, 1);
    if (w->cfg->mode == ETLS_MODE_PROXY && !c->s.tls)
        dp_backend_open(w, c);
}

void dp_conn_on_event(dp_worker_t *w, dp_conn_t *c, uint32_t ev)
{
    if (ev & ETLS_TCP_EV_PEER_FIN)
        c->peer_fin = 1;
    if ((ev & ETLS_TCP_EV_RESET) && !c->dead)
        DP_STAT_ADD(w, resets, 1); /* the io_uring worker's "resets": the client left abruptly */
    if (ev & (ETLS_TCP_EV_RESET | ETLS_TCP_EV_CLOSED))
        c->dead = 1;
    dp_mark_dirty(w, c);
}

/* Gives the TCP handle back (gracefully, or with a RST) and frees the slot. */
void dp_conn_release(dp_worker_t *w, dp_conn_t *c, int abort)
{
    if (!c->in_use)
        return;
    if (c->tcp) {
        if (abort || c->dead)
            etls_tcp_abort(c->tcp);
        else
            etls_tcp_close(c->tcp);
        c->tcp = NULL;
    }
    if (c->bfd >= 0)
        dp_backend_close(w, c);
    etls_sess_end(&c->s); /* cancels parked crypto; wipes keys and plaintext */
    c->in_use = 0;
    w->free_slots[w->nfree++] = c->slot;
    DP_STAT_ADD(w, active, -1);
}

/* ---- TCP <-> session -------------------------------------------------------------------------- */

/* TCP receive ring -> s.rx. */
static int rx_fill(dp_worker_t *w, dp_conn_t *c)
{
    etls_sess_t *s = &c->s;
    if (!c->tcp || c->dead)
        return 0;
    if (!s->park)
        etls_buf_compact(&s->rx, &s->rx_off, ETLS_TLS_MAX_RECORD);
    size_t n = etls_tcp_read(c->tcp, s->rx.base + s->rx.len, s->rx.cap - s->rx.len);
    s->rx.len += n;
    DP_STAT_ADD(w, bytes_in, n);
    return n > 0;
}

/* s.out -> TCP send ring. */
static int tx_drain(dp_worker_t *w, dp_conn_t *c)
{
    etls_sess_t *s = &c->s;
    if (!c->tcp || c->dead || s->out_off == s->out.len)
        return 0;
    size_t n = etls_tcp_write(c->tcp, s->out.base + s->out_off, s->out.len - s->out_off);
    s->out_off += n;
    DP_STAT_ADD(w, bytes_out, n);
    if (!s->park && s->out_off == s->out.len)
        s->out.len = s->out_off = 0;
    return n > 0;
}

/* The client's FIN arrived and the TCP ring holds none of its bytes any more. */
int dp_conn_transport_eof(const dp_conn_t *c)
{
    return c->peer_fin && (!c->tcp || !etls_tcp_readable(c->tcp));
}

static int pump_once(dp_worker_t *w, dp_conn_t *c)
{
    etls_sess_t *s = &c->s;
    int progress = rx_fill(w, c);
    int in = etls_sess_input(s, &w->sx);
    progress |= in & ETLS_SESS_PROGRESS;
    if ((in & ETLS_SESS_ESTABLISHED) && w->cfg->mode == ETLS_MODE_PROXY && s->tls)
        dp_backend_open(w, c);
    if (!s->hs_done) {
        if (c->peer_fin && !s->park && s->rx_off == s->rx.len && !s->abort_after) {
            etls_sess_hs_failed(s, &w->sx); /* the client left during the handshake */
            s->closing = 2;
            s->abort_after = 1;
        }
        return progress | tx_drain(w, c);
    }
    if (w->cfg->mode == ETLS_MODE_RESPONDER)
        progress |= etls_sess_http(s, &w->sx);
    else if (w->cfg->mode == ETLS_MODE_PROXY)
        progress |= dp_backend_pump(w, c);
    progress |= etls_sess_output(s, &w->sx, dp_conn_transport_eof(c), 0);
    progress |= tx_drain(w, c);
    return progress;
}

/* Done with the connection once everything for the client is in the TCP send ring (a failed
 * session's alert included: the TCP sends it before its FIN). */
static int finish(dp_worker_t *w, dp_conn_t *c)
{
    etls_sess_t *s = &c->s;
    if (c->dead && !s->park) {
        dp_conn_release(w, c, 1);
        return 1;
    }
    if (s->closing == 2 && !s->park && s->out_off == s->out.len) {
        /* Unread input would make etls_tcp_close send a RST: discard it for a clean FIN. */
        if (c->tcp && etls_tcp_readable(c->tcp))
            etls_tcp_consume(c->tcp, etls_tcp_readable(c->tcp));
        dp_conn_release(w, c, 0);
        return 1;
    }
    return 0;
}

void dp_conn_pump(dp_worker_t *w, dp_conn_t *c)
{
    for (int i = 0; i < 32; i++) {
        if (!pump_once(w, c))
            break;
        c->last_us = w->now_us;
    }
    finish(w, c);
}

void dp_conn_resume(dp_worker_t *w, dp_conn_t *c)
{
    etls_sess_resume(&c->s, &w->sx);
    dp_conn_pump(w, c);
}

/* Handshake timeout: drop. Idle timeout: close_notify when nothing is pending, else drop.
 * A parked connection is never timed out (its crypto finishes within the iteration). */
void dp_conn_check_timeout(dp_worker_t *w, dp_conn_t *c)
{
    etls_sess_t *s = &c->s;
    if (s->park)
        return;
    if (!s->hs_done) {
        if (w->now_us >= c->hs_deadline_us) {
            /* counted in hs_failures and in the STATS detail, with what was negotiated */
            DP_STAT_ADD(w, timeouts, 1);
            etls_sess_hs_failed(s, &w->sx);
            dp_conn_release(w, c, 1);
        }
        return;
    }
    uint64_t idle = (uint64_t)w->cfg->idle_timeout_ms * 1000;
    if (!idle || w->now_us - c->last_us < idle)
        return;
    if (!s->closing) /* once: a second pass only cuts a goodbye that did not get through */
        DP_STAT_ADD(w, timeouts, 1);
    if (s->closing || s->out_off != s->out.len) {
        dp_conn_release(w, c, 1); /* even the goodbye did not get through in time */
        return;
    }
    etls_sess_start_close(s);
    c->last_us = w->now_us;
    dp_mark_dirty(w, c);
}

/* Worker shutdown: handshakes are dropped; established connections say close_notify as soon
 * as they are idle (echo/responder) or at once (proxy: the backend is cut). */
void dp_conn_shutdown(dp_worker_t *w, dp_conn_t *c)
{
    if (!c->s.hs_done && !c->s.park) {
        dp_conn_release(w, c, 1);
        return;
    }
    if (w->cfg->mode == ETLS_MODE_PROXY)
        etls_sess_start_close(&c->s);
    c->s.http_done = 1;
    dp_mark_dirty(w, c);
}
