/* Stack construction, connection table, events and the application-side calls.
 *
 * Memory: one block holds the stack, the connection slots, the lookup buckets, the timer wheel
 * and every connection's two rings, so after init nothing is allocated and a flood can only
 * fill slots that were already paid for. Rings are powers of two: byte `seq` of a direction
 * lives at (seq - ISN - 1) & mask, which stays consistent across sequence wrap. */
#include <stdlib.h>

#include "tcp/tcp_int.h"

void etls_tcp_config_default(etls_tcp_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max_conns = 512;
    cfg->syn_backlog = 128;
    cfg->sndbuf = 64 * 1024;
    cfg->rcvbuf = 64 * 1024;
    cfg->ooo_max_bytes = 64 * 1024;
    cfg->ooo_max_ranges = TCP_MAX_OOO_RANGES;
    cfg->mss = 1460;
    cfg->timestamps = cfg->window_scale = cfg->sack_permitted = 1;
    cfg->syn_cookies = 1;
    cfg->rto_initial_us = 1000000;
    cfg->rto_min_us = 200000;
    cfg->rto_max_us = 60000000;
    cfg->delack_us = 40000;
    cfg->time_wait_us = 2000000;
    cfg->fin_wait2_us = 30000000;
    cfg->syn_retries = 5;
    cfg->max_retries = 12;
    cfg->cookie_period_s = 64;
}

static uint32_t pow2_up(uint32_t v)
{
    uint32_t p = 1;
    while (p < v)
        p <<= 1;
    return p;
}

static bool config_ok(const etls_tcp_config_t *c)
{
    return c->max_conns >= 1 && c->max_conns <= (1u << 22) && c->syn_backlog <= c->max_conns &&
           c->sndbuf >= 1024 && c->sndbuf <= (1u << 28) && c->rcvbuf >= 1024 &&
           c->rcvbuf <= (1u << 28) && c->ooo_max_bytes <= c->rcvbuf &&
           c->ooo_max_ranges <= TCP_MAX_OOO_RANGES && c->mss >= 128 && c->mss <= 9000 &&
           c->rto_min_us >= 1000 && c->rto_min_us <= c->rto_initial_us &&
           c->rto_initial_us <= c->rto_max_us && c->rto_max_us <= 600000000 &&
           c->delack_us >= TCP_TICK_US && c->delack_us < c->rto_min_us &&
           c->time_wait_us >= TCP_TICK_US && c->fin_wait2_us >= TCP_TICK_US &&
           c->syn_cookies <= 2 && c->cookie_period_s >= 1 && c->cookie_period_s <= 3600;
}

typedef struct layout {
    size_t conns, hash, wheel, bufs, total;
    uint32_t nbuckets, sbuf, rbuf;
} layout_t;

static size_t align64(size_t v) { return (v + 63) & ~(size_t)63; }

static bool layout_of(const etls_tcp_config_t *cfg, layout_t *l)
{
    if (!config_ok(cfg))
        return false;
    l->sbuf = pow2_up(cfg->sndbuf);
    l->rbuf = pow2_up(cfg->rcvbuf);
    l->nbuckets = pow2_up(cfg->max_conns * 2);
    size_t per = (size_t)l->sbuf + l->rbuf, bufs;
    if (__builtin_mul_overflow(per, (size_t)cfg->max_conns, &bufs))
        return false;
    l->conns = align64(sizeof(etls_tcp_stack_t));
    l->hash = l->conns + align64(sizeof(etls_tcp_conn_t) * cfg->max_conns);
    l->wheel = l->hash + align64(sizeof(etls_tcp_conn_t *) * l->nbuckets);
    l->bufs = l->wheel + align64(sizeof(tcp_link_t) * TCP_WHEEL_SLOTS);
    return !__builtin_add_overflow(l->bufs, bufs, &l->total);
}

size_t etls_tcp_memsize(const etls_tcp_config_t *cfg)
{
    layout_t l;
    return layout_of(cfg, &l) ? l.total : 0;
}

int etls_tcp_init(etls_tcp_stack_t **out, void *mem, size_t memlen, const etls_tcp_config_t *cfg,
                  etls_tcp_output_fn output, void *output_ctx)
{
    layout_t l;
    ETLS_ENSURE(out && mem && output && layout_of(cfg, &l), ETLS_ERR_INVALID);
    ETLS_ENSURE(memlen >= l.total && ((uintptr_t)mem & 63) == 0, ETLS_ERR_INVALID);
    uint8_t *base = mem;
    memset(base, 0, l.bufs); /* the rings need no zeroing: only written bytes are ever read */
    etls_tcp_stack_t *s = mem;
    s->cfg = *cfg;
    s->cfg.sndbuf = l.sbuf, s->cfg.rcvbuf = l.rbuf;
    s->smask = l.sbuf - 1, s->rmask = l.rbuf - 1;
    s->output = output, s->output_ctx = output_ctx;
    s->conns = (etls_tcp_conn_t *)(void *)(base + l.conns);
    s->hash = (etls_tcp_conn_t **)(void *)(base + l.hash);
    s->hash_mask = l.nbuckets - 1;
    s->wheel = (tcp_link_t *)(void *)(base + l.wheel);
    for (uint32_t i = 0; i < TCP_WHEEL_SLOTS; i++)
        link_init(&s->wheel[i]);
    link_init(&s->evq), link_init(&s->dirty), link_init(&s->timewait);
    while (s->rcv_wscale < 14 && (l.rbuf >> s->rcv_wscale) > 65535)
        s->rcv_wscale++;
    uint8_t *buf = base + l.bufs;
    for (uint32_t i = cfg->max_conns; i-- > 0;) {
        etls_tcp_conn_t *c = &s->conns[i];
        c->stack = s;
        c->sbuf = buf + (size_t)i * (l.sbuf + l.rbuf);
        c->rbuf = c->sbuf + l.sbuf;
        c->hnext = s->free_list;
        s->free_list = c;
    }
    tcp_keys_derive(s, cfg->secret, false);
    memset(s->cfg.secret, 0, sizeof s->cfg.secret); /* only the derived keys are needed */
    *out = s;
    return 0;
}

int etls_tcp_create(etls_tcp_stack_t **out, const etls_tcp_config_t *cfg, etls_tcp_output_fn output,
                    void *output_ctx)
{
    size_t n = etls_tcp_memsize(cfg);
    ETLS_ENSURE(n && out, ETLS_ERR_INVALID);
    void *mem = aligned_alloc(64, (n + 63) & ~(size_t)63);
    ETLS_ENSURE(mem, ETLS_ERR_NOMEM);
    int rc = etls_tcp_init(out, mem, n, cfg, output, output_ctx);
    if (rc < 0) {
        free(mem);
        return rc;
    }
    (*out)->owned_mem = mem;
    return 0;
}

void etls_tcp_fini(etls_tcp_stack_t *s)
{
    if (!s)
        return;
    volatile uint8_t *k = (volatile uint8_t *)s->isn_key;
    size_t n = (size_t)((uint8_t *)(s->cookie_key + 2) - (uint8_t *)s->isn_key);
    for (size_t i = 0; i < n; i++)
        k[i] = 0;
}

void etls_tcp_destroy(etls_tcp_stack_t *s)
{
    if (!s)
        return;
    void *mem = s->owned_mem;
    etls_tcp_fini(s);
    free(mem);
}

int etls_tcp_listen(etls_tcp_stack_t *s, uint32_t addr, uint16_t port)
{
    ETLS_ENSURE(port != 0, ETLS_ERR_INVALID);
    for (int i = 0; i < ETLS_TCP_MAX_LISTEN; i++)
        if (s->listeners[i].used && s->listeners[i].addr == addr && s->listeners[i].port == port)
            return 0;
    for (int i = 0; i < ETLS_TCP_MAX_LISTEN; i++)
        if (!s->listeners[i].used) {
            s->listeners[i] = (tcp_listener_t){.addr = addr, .port = port, .used = 1};
            return 0;
        }
    return ETLS_ERR_LIMIT;
}

const tcp_listener_t *tcp_listener_find(const etls_tcp_stack_t *s, uint32_t addr, uint16_t port)
{
    for (int i = 0; i < ETLS_TCP_MAX_LISTEN; i++) {
        const tcp_listener_t *l = &s->listeners[i];
        if (l->used && l->port == port && (l->addr == 0 || l->addr == addr))
            return l;
    }
    return NULL;
}

void etls_tcp_rekey(etls_tcp_stack_t *s, const uint8_t secret[ETLS_TCP_SECRET_LEN])
{
    /* The lookup hash key must not change under live connections: keep it. */
    uint64_t hk[2] = {s->hash_key[0], s->hash_key[1]};
    tcp_keys_derive(s, secret, true);
    s->hash_key[0] = hk[0], s->hash_key[1] = hk[1];
}

/* ---- connection table ---- */

static etls_tcp_conn_t **bucket(etls_tcp_stack_t *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                                uint16_t rport)
{
    return &s->hash[tcp_hash_tuple(s, laddr, lport, raddr, rport) & s->hash_mask];
}

etls_tcp_conn_t *tcp_conn_lookup(etls_tcp_stack_t *s, uint32_t laddr, uint16_t lport,
                                 uint32_t raddr, uint16_t rport)
{
    for (etls_tcp_conn_t *c = *bucket(s, laddr, lport, raddr, rport); c; c = c->hnext)
        if (c->raddr == raddr && c->rport == rport && c->laddr == laddr && c->lport == lport)
            return c;
    return NULL;
}

static void conn_unhash(etls_tcp_conn_t *c)
{
    etls_tcp_stack_t *s = c->stack;
    for (etls_tcp_conn_t **pp = bucket(s, c->laddr, c->lport, c->raddr, c->rport); *pp;
         pp = &(*pp)->hnext)
        if (*pp == c) {
            *pp = c->hnext;
            c->hnext = NULL;
            return;
        }
}

etls_tcp_conn_t *tcp_conn_alloc(etls_tcp_stack_t *s, const tcp_seg_in_t *sg)
{
    if (!s->free_list) {
        /* Out of slots: the oldest TIME-WAIT connection nobody holds is the cheapest to give up. */
        for (tcp_link_t *l = s->timewait.next; l != &s->timewait; l = l->next) {
            etls_tcp_conn_t *tw = link_entry(l, etls_tcp_conn_t, twlink);
            if (!(tw->flags & CF_APP)) {
                tcp_conn_free(tw);
                s->stats.time_wait_reused++;
                break;
            }
        }
    }
    etls_tcp_conn_t *c = s->free_list;
    if (!c)
        return NULL;
    s->free_list = c->hnext;
    uint8_t *sb = c->sbuf, *rb = c->rbuf;
    memset(c, 0, sizeof *c);
    c->stack = s, c->sbuf = sb, c->rbuf = rb;
    c->laddr = sg->daddr, c->lport = sg->dport, c->raddr = sg->saddr, c->rport = sg->sport;
    etls_tcp_conn_t **b = bucket(s, c->laddr, c->lport, c->raddr, c->rport);
    c->hnext = *b;
    *b = c;
    c->state = ETLS_TCP_S_CLOSED;
    s->n_conns++;
    return c;
}

void tcp_conn_free(etls_tcp_conn_t *c)
{
    etls_tcp_stack_t *s = c->stack;
    conn_unhash(c);
    tcp_set_state(c, ETLS_TCP_S_CLOSED);
    tcp_timer_cancel_all(c);
    link_del(&c->evlink), link_del(&c->dlink), link_del(&c->twlink);
    c->flags = 0;
    c->hnext = s->free_list;
    s->free_list = c;
    s->n_conns--;
}

void tcp_set_state(etls_tcp_conn_t *c, uint8_t st)
{
    etls_tcp_stack_t *s = c->stack;
    if (c->state == ETLS_TCP_S_SYN_RECEIVED)
        s->n_half_open--;
    if (st == ETLS_TCP_S_SYN_RECEIVED)
        s->n_half_open++;
    if (c->state == ETLS_TCP_S_TIME_WAIT)
        link_del(&c->twlink);
    if (st == ETLS_TCP_S_TIME_WAIT)
        link_add_tail(&s->timewait, &c->twlink);
    c->state = st;
}

void tcp_event(etls_tcp_conn_t *c, uint32_t bits, uint32_t reason)
{
    if (bits & ETLS_TCP_EV_ACCEPTED)
        c->flags |= CF_APP;
    if (!(c->flags & CF_APP))
        return;
    c->ev_bits |= bits;
    if (reason)
        c->ev_reason = reason;
    if (!link_linked(&c->evlink))
        link_add_tail(&c->stack->evq, &c->evlink);
}

/* Terminal transitions. The slot stays while the application holds the handle. */
static void conn_dead(etls_tcp_conn_t *c, uint32_t ev, uint32_t reason)
{
    if (!(c->flags & CF_APP)) {
        tcp_conn_free(c);
        return;
    }
    conn_unhash(c);
    tcp_set_state(c, ETLS_TCP_S_CLOSED);
    tcp_timer_cancel_all(c);
    link_del(&c->dlink);
    c->flags &= ~(CF_ACKNOW | CF_WANT_WRITE);
    if (!(c->flags & CF_CLOSED_EV) || ev == ETLS_TCP_EV_RESET) {
        c->flags |= CF_CLOSED_EV;
        tcp_event(c, ev, reason);
    }
}

void tcp_conn_reset(etls_tcp_conn_t *c, uint32_t reason)
{
    /* Data the application has not read is gone with the connection (RFC 9293 §3.10.7.4). */
    c->rd_seq = (c->flags & CF_PEER_FIN) ? c->peer_fin_seq : c->rcv_nxt;
    conn_dead(c, ETLS_TCP_EV_RESET, reason);
}

void tcp_conn_finish(etls_tcp_conn_t *c)
{
    conn_dead(c, ETLS_TCP_EV_CLOSED, 0);
}

void tcp_mark_dirty(etls_tcp_conn_t *c)
{
    if (!link_linked(&c->dlink))
        link_add_tail(&c->stack->dirty, &c->dlink);
}

size_t etls_tcp_events(etls_tcp_stack_t *s, etls_tcp_event_t *ev, size_t max)
{
    size_t n = 0;
    while (n < max && !link_empty(&s->evq)) {
        etls_tcp_conn_t *c = link_entry(s->evq.next, etls_tcp_conn_t, evlink);
        link_del(&c->evlink);
        ev[n++] = (etls_tcp_event_t){.conn = c, .user = c->user, .events = c->ev_bits, .reason = c->ev_reason};
        c->ev_bits = c->ev_reason = 0;
    }
    return n;
}

void etls_tcp_flush(etls_tcp_stack_t *s, uint64_t now_us)
{
    if (now_us > s->now)
        s->now = now_us;
    if (link_empty(&s->dirty))
        return;
    /* Take the list as it is: a connection whose output the callback refused marks itself
     * dirty again and waits for the next flush instead of spinning here. */
    tcp_link_t work = s->dirty;
    work.next->prev = &work, work.prev->next = &work;
    link_init(&s->dirty);
    while (!link_empty(&work)) {
        etls_tcp_conn_t *c = link_entry(work.next, etls_tcp_conn_t, dlink);
        link_del(&c->dlink);
        tcp_output(c, now_us);
    }
}

/* ---- application side ---- */

void etls_tcp_conn_set_user(etls_tcp_conn_t *c, void *user) { c->user = user; }
void *etls_tcp_conn_user(const etls_tcp_conn_t *c) { return c->user; }

static uint32_t rcv_data_end(const etls_tcp_conn_t *c)
{
    return (c->flags & CF_PEER_FIN) ? c->peer_fin_seq : c->rcv_nxt;
}

size_t etls_tcp_readable(const etls_tcp_conn_t *c)
{
    return rcv_data_end(c) - c->rd_seq;
}

/* Free receive space counted from rcv_nxt: the ring minus what the application has not read. */
uint32_t tcp_rcv_space(const etls_tcp_conn_t *c)
{
    return c->stack->cfg.rcvbuf - (rcv_data_end(c) - c->rd_seq);
}

size_t etls_tcp_peek(const etls_tcp_conn_t *c, const uint8_t **p)
{
    size_t avail = etls_tcp_readable(c);
    uint32_t off = (c->rd_seq - c->irs - 1) & c->stack->rmask;
    size_t run = c->stack->cfg.rcvbuf - off;
    *p = c->rbuf + off;
    return avail < run ? avail : run;
}

void etls_tcp_consume(etls_tcp_conn_t *c, size_t n)
{
    size_t avail = etls_tcp_readable(c);
    if (n > avail)
        n = avail;
    if (!n)
        return;
    c->rd_seq += (uint32_t)n;
    if (c->state != ETLS_TCP_S_CLOSED)
        tcp_mark_dirty(c); /* a window update may be due */
}

size_t etls_tcp_read(etls_tcp_conn_t *c, void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        const uint8_t *p;
        size_t run = etls_tcp_peek(c, &p);
        if (!run)
            break;
        if (run > n - done)
            run = n - done;
        memcpy((uint8_t *)buf + done, p, run);
        etls_tcp_consume(c, run);
        done += run;
    }
    return done;
}

uint32_t tcp_snd_buffered(const etls_tcp_conn_t *c)
{
    return seq_gt(c->wr_seq, c->snd_una) ? c->wr_seq - c->snd_una : 0;
}

static bool can_write(const etls_tcp_conn_t *c)
{
    return (c->state == ETLS_TCP_S_ESTABLISHED || c->state == ETLS_TCP_S_CLOSE_WAIT) &&
           !(c->flags & CF_FIN_QUEUED);
}

size_t etls_tcp_send_space(const etls_tcp_conn_t *c)
{
    return can_write(c) ? c->stack->cfg.sndbuf - tcp_snd_buffered(c) : 0;
}

size_t etls_tcp_write_reserve(etls_tcp_conn_t *c, uint8_t **p)
{
    size_t space = etls_tcp_send_space(c);
    uint32_t off = (c->wr_seq - c->iss - 1) & c->stack->smask;
    size_t run = c->stack->cfg.sndbuf - off;
    *p = c->sbuf + off;
    if (!space && can_write(c))
        c->flags |= CF_WANT_WRITE;
    return space < run ? space : run;
}

void etls_tcp_commit(etls_tcp_conn_t *c, size_t n)
{
    size_t space = etls_tcp_send_space(c);
    if (n > space)
        n = space;
    if (!n)
        return;
    c->wr_seq += (uint32_t)n;
    tcp_mark_dirty(c);
}

size_t etls_tcp_write(etls_tcp_conn_t *c, const void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        uint8_t *p;
        size_t run = etls_tcp_write_reserve(c, &p);
        if (!run)
            break;
        if (run > n - done)
            run = n - done;
        memcpy(p, (const uint8_t *)buf + done, run);
        etls_tcp_commit(c, run);
        done += run;
    }
    if (done < n && can_write(c))
        c->flags |= CF_WANT_WRITE;
    return done;
}

int etls_tcp_shutdown(etls_tcp_conn_t *c)
{
    ETLS_ENSURE(c->state != ETLS_TCP_S_CLOSED, ETLS_ERR_INVALID);
    if (c->flags & CF_FIN_QUEUED)
        return 0;
    if (c->state == ETLS_TCP_S_ESTABLISHED)
        tcp_set_state(c, ETLS_TCP_S_FIN_WAIT_1);
    else if (c->state == ETLS_TCP_S_CLOSE_WAIT)
        tcp_set_state(c, ETLS_TCP_S_LAST_ACK);
    else
        return 0;
    c->flags |= CF_FIN_QUEUED;
    tcp_mark_dirty(c);
    return 0;
}

static void release(etls_tcp_conn_t *c)
{
    c->flags &= ~(CF_APP | CF_WANT_WRITE);
    link_del(&c->evlink);
    c->ev_bits = c->ev_reason = 0;
    c->user = NULL;
}

void etls_tcp_abort(etls_tcp_conn_t *c)
{
    etls_tcp_stack_t *s = c->stack;
    /* SYN-SENT: the peer holds no state for us yet, so there is nothing to reset. */
    if (c->state != ETLS_TCP_S_CLOSED && c->state != ETLS_TCP_S_TIME_WAIT &&
        c->state != ETLS_TCP_S_SYN_SENT) {
        tcp_send_ctl(c, c->snd_nxt, TH_RST | TH_ACK, s->now);
        s->stats.rst_sent++;
    }
    release(c);
    tcp_conn_free(c);
}

void etls_tcp_close(etls_tcp_conn_t *c)
{
    if (c->state == ETLS_TCP_S_CLOSED || c->state == ETLS_TCP_S_SYN_SENT) {
        release(c);
        tcp_conn_free(c);
        return;
    }
    if (etls_tcp_readable(c) > 0) { /* RFC 9293 §3.10.4: unread data → RST */
        etls_tcp_abort(c);
        return;
    }
    (void)etls_tcp_shutdown(c);
    release(c);
    if (c->state == ETLS_TCP_S_FIN_WAIT_2) {
        c->misc_at = c->stack->now + c->stack->cfg.fin_wait2_us;
        tcp_timer_update(c);
    }
}

void etls_tcp_conn_info(const etls_tcp_conn_t *c, etls_tcp_conn_info_t *i)
{
    memset(i, 0, sizeof *i);
    i->laddr = c->laddr, i->raddr = c->raddr, i->lport = c->lport, i->rport = c->rport;
    i->state = c->state, i->mss = c->mss, i->srtt_us = c->srtt_us, i->rto_us = c->rto_us;
    i->cwnd = c->cwnd, i->ssthresh = c->ssthresh, i->snd_wnd = c->snd_wnd;
    i->rcv_wnd = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
    i->snd_wscale = c->snd_wscale, i->rcv_wscale = c->rcv_wscale;
    i->ts_ok = c->ts_ok, i->sack_ok = c->sack_ok, i->retransmits = c->retransmits;
}

const char *etls_tcp_state_name(uint32_t st)
{
    static const char *const names[] = {"CLOSED",     "LISTEN",     "SYN-RECEIVED", "ESTABLISHED",
                                        "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT",   "CLOSING",
                                        "LAST-ACK",   "TIME-WAIT",  "SYN-SENT"};
    return st < sizeof names / sizeof names[0] ? names[st] : "?";
}

const etls_tcp_stats_t *etls_tcp_stats(const etls_tcp_stack_t *s) { return &s->stats; }
uint32_t etls_tcp_conn_count(const etls_tcp_stack_t *s) { return s->n_conns; }
