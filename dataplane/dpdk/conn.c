/* The per-connection pump over the userspace TCP stack: in-order bytes -> TLS engine -> mode
 * (echo, responder, proxy) -> TLS engine -> TCP send ring. It runs when the connection had a
 * TCP event or its parked crypto finished, and stops when nothing moves.
 *
 * tls.h's parking rule shapes this file: while the engine is parked it still points at the
 * consumed input and at the free space of `out`/`app`, so no buffer is compacted while
 * c->park is set, and the parked call is the first one made on resume. Writing to TCP copies
 * into its send ring, so unlike the io_uring pump there is never a send "in flight" that pins
 * a buffer. */
#include "dpdk/dp.h"

#include "common/ct.h"
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
        c->rx.base = p;
        c->rx.cap = w->rx_cap;
        c->out.base = p += w->rx_cap;
        c->out.cap = w->out_cap;
        c->app.base = p += w->out_cap;
        c->app.cap = w->app_cap;
        c->bk.base = p + w->app_cap;
        c->bk.cap = w->bk_cap;
        c->slot = slot;
        w->conns[slot] = c;
    }
    return c;
}

static int listener_tls(const dp_worker_t *w, uint16_t port)
{
    for (size_t l = 0; l < w->cfg->nlisteners; l++) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&w->cfg->listeners[l].addr.ss;
        if (sin->sin_family == AF_INET && ntohs(sin->sin_port) == port)
            return w->cfg->listeners[l].tls;
    }
    return 1;
}

void dp_conn_on_accept(dp_worker_t *w, etls_tcp_conn_t *tcp)
{
    dp_conn_t *c = conn_alloc(w);
    if (!c) {
        DP_STAT_ADD(w, rejected, 1);
        etls_tcp_abort(tcp);
        return;
    }
    /* Keep the buffers and slot; reset everything else. */
    etls_tls_buf_t rx = c->rx, out = c->out, app = c->app, bk = c->bk;
    uint32_t slot = c->slot;
    /* A slot freed and reused within one iteration may still be on the dirty list. */
    uint8_t dirty = c->dirty;
    dp_conn_t *dnext = c->dnext;
    memset(c, 0, offsetof(dp_conn_t, tc));
    c->dirty = dirty;
    c->dnext = dnext;
    c->rx = rx;
    c->out = out;
    c->app = app;
    c->bk = bk;
    c->rx.len = c->out.len = c->app.len = c->bk.len = 0;
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
    c->tls = (uint8_t)(listener_tls(w, info.lport) && w->sh->tls);
    if (c->tls)
        etls_tls_conn_init(&c->tc, w->sh->tls, &w->env);
    etls_http_parser_init(&c->http, w->cfg->max_header_size);
    c->hs_deadline_us = w->now_us + (uint64_t)w->cfg->handshake_timeout_ms * 1000;
    c->last_us = w->now_us;
    etls_tcp_conn_set_user(tcp, c);
    DP_STAT_ADD(w, accepted, 1);
    DP_STAT_ADD(w, active, 1);
    if (w->cfg->mode == ETLS_MODE_PROXY && !c->tls)
        dp_backend_open(w, c);
}

void dp_conn_on_event(dp_worker_t *w, dp_conn_t *c, uint32_t ev)
{
    if (ev & ETLS_TCP_EV_PEER_FIN)
        c->peer_fin = 1;
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
    if (c->tls) {
        if (w->batch)
            etls_batch_cancel(w->batch, &c->tc.waiter);
        etls_tls_conn_wipe(&c->tc);
    }
    /* Decrypted data and plaintext from the backend are wiped with the keys (up to where
     * they ever reached: a handshake-only connection costs a few hundred bytes, not 128 KiB). */
    etls_wipe(c->app.base, c->app_hw);
    etls_wipe(c->bk.base, c->bk_hw);
    c->app_hw = c->bk_hw = 0;
    c->in_use = 0;
    c->park = DP_PARK_NONE;
    w->free_slots[w->nfree++] = c->slot;
    DP_STAT_ADD(w, active, -1);
}

static void conn_fail(dp_worker_t *w, dp_conn_t *c, int rc)
{
    if (w->cfg->log_level >= ETLS_LOG_DEBUG)
        fprintf(stderr, "edgetls: dpdk worker %u: connection %u: %s (%d)\n", w->index, c->slot,
                ETLS_ERR_IS_ALERT(rc) ? "alert sent" : ETLS_TLS_ERR_IS_PEER_ALERT(rc) ? "peer alert" : etls_strerror(rc),
                ETLS_ERR_IS_ALERT(rc) ? ETLS_ERR_ALERT_DESC(rc) : rc);
    if (!c->hs_done)
        DP_STAT_ADD(w, hs_failures, 1);
    else
        DP_STAT_ADD(w, errors, 1);
    c->closing = 2;      /* an alert, if any, is in `out`: flush it, then FIN */
    c->abort_after = 1;
}

void dp_conn_start_close(dp_conn_t *c)
{
    if (!c->closing)
        c->closing = c->tls && c->hs_done ? 1 : 2;
}

/* ---- buffers --------------------------------------------------------------------------------- */

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

/* TCP receive ring -> rx. */
static int rx_fill(dp_worker_t *w, dp_conn_t *c)
{
    if (!c->tcp || c->dead)
        return 0;
    if (!c->park)
        compact(&c->rx, &c->rx_off, ETLS_TLS_MAX_RECORD);
    size_t n = etls_tcp_read(c->tcp, c->rx.base + c->rx.len, c->rx.cap - c->rx.len);
    c->rx.len += n;
    DP_STAT_ADD(w, bytes_in, n);
    return n > 0;
}

/* out -> TCP send ring. */
static int tx_drain(dp_worker_t *w, dp_conn_t *c)
{
    if (!c->tcp || c->dead || c->out_off == c->out.len)
        return 0;
    size_t n = etls_tcp_write(c->tcp, c->out.base + c->out_off, c->out.len - c->out_off);
    c->out_off += n;
    DP_STAT_ADD(w, bytes_out, n);
    if (!c->park && c->out_off == c->out.len)
        c->out.len = c->out_off = 0;
    return n > 0;
}

/* ---- TLS in and out ---------------------------------------------------------------------------- */

static int plain_move(etls_tls_buf_t *dst, const uint8_t *src, size_t n, size_t *used)
{
    size_t room = dst->cap - dst->len;
    if (n > room)
        n = room;
    memcpy(dst->base + dst->len, src, n);
    dst->len += n;
    *used = n;
    return 0;
}

static int tls_in(dp_worker_t *w, dp_conn_t *c, int resume)
{
    if (!resume && (c->park || c->closing || c->abort_after))
        return 0;
    size_t avail = c->rx.len - c->rx_off;
    if (!avail && !resume)
        return 0;
    if (!resume) {
        compact(&c->app, &c->app_off, ETLS_TLS_MAX_CIPHERTEXT);
        compact(&c->out, &c->out_off, c->hs_done || !c->tls ? ETLS_TLS_MAX_SEALED : etls_tls_out_room(&c->tc));
    }
    size_t used = 0, out0 = c->out.len, app0 = c->app.len;
    int rc = c->tls ? etls_tls_feed(&c->tc, c->rx.base + c->rx_off, avail, &used, &c->out, &c->app)
                    : plain_move(&c->app, c->rx.base + c->rx_off, avail, &used);
    c->rx_off += used;
    /* Records are opened in place in app's free space: at most `used` bytes beyond app0. */
    if (app0 + used > c->app_hw)
        c->app_hw = app0 + used < c->app.cap ? app0 + used : c->app.cap;
    if (c->app.len > c->app_hw)
        c->app_hw = c->app.len;
    if (rc == ETLS_ERR_IN_PROGRESS) {
        c->park = DP_PARK_FEED;
        return 1;
    }
    if (rc < 0 && rc != ETLS_ERR_LIMIT) {
        conn_fail(w, c, rc);
        return 1;
    }
    return used || c->out.len != out0 || c->app.len != app0;
}

/* Where a reply's head and first body bytes are joined into one record's plaintext (the
 * engine copies what it takes before etls_tls_send returns; one buffer per lcore thread). */
static _Thread_local uint8_t reply_scratch[ETLS_TLS_MAX_PLAINTEXT];

static void tx_source(const dp_worker_t *w, const dp_conn_t *c, const uint8_t **p, size_t *n)
{
    *p = NULL;
    *n = 0;
    if (w->cfg->mode == ETLS_MODE_ECHO) {
        *p = c->app.base + c->app_off;
        *n = c->app.len - c->app_off;
    } else if (w->cfg->mode == ETLS_MODE_RESPONDER) {
        *n = etls_http_reply_next(w->sh->http, &c->reply, reply_scratch, sizeof reply_scratch, p);
    } else if (w->cfg->mode == ETLS_MODE_PROXY) {
        *p = c->bk.base + c->bk_off;
        *n = c->bk.len - c->bk_off;
    }
}

static void tx_consume(const dp_worker_t *w, dp_conn_t *c, size_t n)
{
    if (w->cfg->mode == ETLS_MODE_ECHO) {
        c->app_off += n;
    } else if (w->cfg->mode == ETLS_MODE_PROXY) {
        c->bk_off += n; /* bk is rewound by from_backend, never while a send is parked on it */
    } else if (c->reply.active) {
        etls_http_reply_consume(&c->reply, n);
        if (!c->reply.active && c->reply.close)
            dp_conn_start_close(c);
    }
}

static int tls_out(dp_worker_t *w, dp_conn_t *c, int resume)
{
    if (!resume && (c->park || !c->hs_done || c->closing))
        return 0;
    const uint8_t *p;
    size_t n, used = 0;
    tx_source(w, c, &p, &n);
    if (!n && !resume)
        return 0;
    static const uint8_t none[1];
    if (!p)
        p = none;
    if (!resume)
        compact(&c->out, &c->out_off, ETLS_TLS_MAX_SEALED);
    int rc = c->tls ? etls_tls_send(&c->tc, p, n, &used, &c->out) : plain_move(&c->out, p, n, &used);
    tx_consume(w, c, used);
    if (rc == ETLS_ERR_IN_PROGRESS) {
        c->park = DP_PARK_SEND;
        return 1;
    }
    if (rc < 0 && rc != ETLS_ERR_LIMIT) {
        conn_fail(w, c, rc);
        return 1;
    }
    return used > 0;
}

/* closing == 1: close_notify still to be appended (it may park like any record). */
static int close_step(dp_worker_t *w, dp_conn_t *c, int resume)
{
    if (!resume && (c->closing != 1 || c->park))
        return 0;
    if (!resume)
        compact(&c->out, &c->out_off, ETLS_TLS_OUT_SMALL);
    int rc = etls_tls_close(&c->tc, &c->out);
    if (rc == ETLS_ERR_IN_PROGRESS) {
        c->park = DP_PARK_CLOSE;
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

/* ---- modes ------------------------------------------------------------------------------------- */

static int http_in(dp_worker_t *w, dp_conn_t *c)
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
        DP_STAT_ADD(w, requests, 1);
        if (c->reply.error)
            DP_STAT_ADD(w, errors, 1);
        progress = 1;
    }
    return progress;
}

/* The client will send nothing more we can use: close_notify, or FIN with every complete
 * record before it processed. */
static int input_ended(const dp_conn_t *c)
{
    if (c->tls && c->hs_done && etls_tls_peer_closed(&c->tc))
        return 1;
    if (!c->peer_fin || c->park || (c->tcp && etls_tcp_readable(c->tcp)))
        return 0;
    size_t avail = c->rx.len - c->rx_off;
    if (avail == 0)
        return 1;
    if (!c->tls)
        return 0;
    const uint8_t *h = c->rx.base + c->rx_off;
    return avail < ETLS_TLS_RECORD_HEADER || avail < ETLS_TLS_RECORD_HEADER + ((size_t)h[3] << 8 | h[4]);
}

static void close_policy(dp_worker_t *w, dp_conn_t *c)
{
    if (c->closing || c->park || w->cfg->mode == ETLS_MODE_PROXY)
        return;
    int idle = w->cfg->mode == ETLS_MODE_ECHO ? c->app_off == c->app.len : !c->reply.active;
    if (idle && (input_ended(c) || c->http_done))
        dp_conn_start_close(c);
}

static int pump_once(dp_worker_t *w, dp_conn_t *c)
{
    int progress = rx_fill(w, c);
    progress |= tls_in(w, c, 0);
    if (!c->hs_done && !c->abort_after && (!c->tls || etls_tls_handshake_done(&c->tc))) {
        c->hs_done = 1;
        if (c->tls)
            DP_STAT_ADD(w, handshakes, 1);
        if (w->cfg->mode == ETLS_MODE_PROXY && c->tls)
            dp_backend_open(w, c);
        progress = 1;
    }
    if (!c->hs_done) {
        if (c->peer_fin && !c->park && c->rx_off == c->rx.len && !c->abort_after) {
            DP_STAT_ADD(w, hs_failures, 1); /* the client left during the handshake */
            c->closing = 2;
            c->abort_after = 1;
        }
        return progress | tx_drain(w, c);
    }
    if (w->cfg->mode == ETLS_MODE_RESPONDER)
        progress |= http_in(w, c);
    else if (w->cfg->mode == ETLS_MODE_PROXY)
        progress |= dp_backend_pump(w, c);
    progress |= tls_out(w, c, 0);
    close_policy(w, c);
    progress |= close_step(w, c, 0);
    progress |= tx_drain(w, c);
    return progress;
}

/* Done with the connection once everything for the client is in the TCP send ring. */
static int finish(dp_worker_t *w, dp_conn_t *c)
{
    if (c->dead && !c->park) {
        dp_conn_release(w, c, 1);
        return 1;
    }
    if (c->closing == 2 && !c->park && c->out_off == c->out.len) {
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
    dp_park_t op = (dp_park_t)c->park;
    c->park = DP_PARK_NONE;
    if (op == DP_PARK_FEED)
        tls_in(w, c, 1);
    else if (op == DP_PARK_SEND)
        tls_out(w, c, 1);
    else if (op == DP_PARK_CLOSE)
        close_step(w, c, 1);
    dp_conn_pump(w, c);
}

/* Handshake timeout: drop. Idle timeout: close_notify when nothing is pending, else drop.
 * A parked connection is never timed out (its crypto finishes within the iteration). */
void dp_conn_check_timeout(dp_worker_t *w, dp_conn_t *c)
{
    if (c->park)
        return;
    if (!c->hs_done) {
        if (w->now_us >= c->hs_deadline_us) {
            DP_STAT_ADD(w, hs_failures, 1);
            dp_conn_release(w, c, 1);
        }
        return;
    }
    uint64_t idle = (uint64_t)w->cfg->idle_timeout_ms * 1000;
    if (!idle || w->now_us - c->last_us < idle)
        return;
    if (c->closing || c->out_off != c->out.len) {
        dp_conn_release(w, c, 1); /* even the goodbye did not get through in time */
        return;
    }
    dp_conn_start_close(c);
    c->last_us = w->now_us;
    dp_mark_dirty(w, c);
}

/* Worker shutdown: handshakes are dropped; established connections say close_notify as soon
 * as they are idle (echo/responder) or at once (proxy: the backend is cut). */
void dp_conn_shutdown(dp_worker_t *w, dp_conn_t *c)
{
    if (!c->hs_done && !c->park) {
        dp_conn_release(w, c, 1);
        return;
    }
    if (w->cfg->mode == ETLS_MODE_PROXY)
        dp_conn_start_close(c);
    c->http_done = 1;
    dp_mark_dirty(w, c);
}
