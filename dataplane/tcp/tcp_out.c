/* Output: header construction, the send loop (flow control, congestion control, sender SWS
 * avoidance), window advertisement (receiver SWS avoidance), and the timer handlers
 * (RFC 6298 retransmission, delayed ACK, zero-window probe, TIME-WAIT/FIN-WAIT-2). */
#include "tcp/tcp_int.h"

int tcp_xmit_raw(etls_tcp_stack_t *s, const etls_tcp_seg_t *tuple, uint32_t seq, uint32_t ack,
                 uint8_t flags, uint16_t wnd, const uint8_t *opts, uint32_t optlen,
                 const uint8_t *d0, uint32_t l0, const uint8_t *d1, uint32_t l1)
{
    uint8_t hdr[ETLS_TCP_MAX_HDR];
    uint32_t hlen = 20 + optlen;
    wr16(hdr, tuple->sport), wr16(hdr + 2, tuple->dport);
    wr32(hdr + 4, seq), wr32(hdr + 8, (flags & TH_ACK) ? ack : 0);
    hdr[12] = (uint8_t)(hlen / 4 << 4), hdr[13] = flags;
    wr16(hdr + 14, wnd), wr16(hdr + 16, 0), wr16(hdr + 18, 0);
    if (optlen)
        memcpy(hdr + 20, opts, optlen);
    etls_tcp_seg_t seg = *tuple;
    seg.hdr = hdr, seg.hdr_len = hlen;
    seg.data[0] = d0, seg.data_len[0] = l0, seg.data[1] = d1, seg.data_len[1] = l1;
    if (s->output(s->output_ctx, &seg) < 0) {
        s->stats.output_refused++;
        return ETLS_ERR_LIMIT;
    }
    s->stats.segs_out++;
    s->stats.bytes_out += l0 + l1;
    return 0;
}

uint32_t tcp_tsnow(const etls_tcp_conn_t *c, uint64_t now) { return (uint32_t)(now / 1000) + c->ts_off; }

uint32_t tcp_rto_current(const etls_tcp_conn_t *c)
{
    uint64_t rto = c->rto_us, max = c->stack->cfg.rto_max_us;
    for (uint32_t i = 0; i < c->backoff && rto < max; i++)
        rto <<= 1;
    return (uint32_t)(rto < max ? rto : max);
}

/* RFC 6298 §2. */
void tcp_rtt_sample(etls_tcp_conn_t *c, uint32_t r)
{
    const etls_tcp_config_t *cfg = &c->stack->cfg;
    if (!(c->flags & CF_RTT_SAMPLED)) {
        c->srtt_us = r, c->rttvar_us = r / 2;
        c->flags |= CF_RTT_SAMPLED;
    } else {
        uint32_t d = c->srtt_us > r ? c->srtt_us - r : r - c->srtt_us;
        c->rttvar_us = (uint32_t)(((uint64_t)c->rttvar_us * 3 + d) / 4);
        c->srtt_us = (uint32_t)(((uint64_t)c->srtt_us * 7 + r) / 8);
    }
    uint64_t var = (uint64_t)c->rttvar_us * 4, rto = c->srtt_us + (var > TCP_TICK_US ? var : TCP_TICK_US);
    c->rto_us = (uint32_t)(rto < cfg->rto_min_us ? cfg->rto_min_us : rto > cfg->rto_max_us ? cfg->rto_max_us : rto);
}

/* The window field, with receiver SWS avoidance (RFC 9293 §3.8.6.2.2): the right edge moves
 * only by at least min(half the buffer, one MSS), and it never moves left, even by the rounding
 * of window scaling (RFC 7323 §2.4). Records the advertised edge in rcv_adv. */
static uint16_t wnd_field(etls_tcp_conn_t *c)
{
    const etls_tcp_stack_t *s = c->stack;
    if (seq_lt(c->rcv_adv, c->rcv_nxt))
        c->rcv_adv = c->rcv_nxt;
    uint32_t edge = c->rcv_nxt + tcp_rcv_space(c);
    uint32_t thresh = s->cfg.rcvbuf / 2 < s->cfg.mss ? s->cfg.rcvbuf / 2 : s->cfg.mss;
    if (!seq_gt(edge, c->rcv_adv) || edge - c->rcv_adv < thresh)
        edge = c->rcv_adv;
    uint32_t wnd = edge - c->rcv_nxt;
    uint32_t field = wnd >> c->rcv_wscale;
    if (seq_lt(c->rcv_nxt + (field << c->rcv_wscale), c->rcv_adv))
        field++; /* rounding down would pull the edge back; input trims to the ring anyway */
    if (field > 65535)
        field = 65535;
    uint32_t adv = c->rcv_nxt + (field << c->rcv_wscale);
    if (seq_gt(adv, c->rcv_adv))
        c->rcv_adv = adv;
    return (uint16_t)field;
}

static uint32_t ts_opts(const etls_tcp_conn_t *c, uint8_t *o, uint64_t now)
{
    if (!c->ts_ok)
        return 0;
    o[0] = 1, o[1] = 1, o[2] = 8, o[3] = 10;
    wr32(o + 4, tcp_tsnow(c, now)), wr32(o + 8, c->ts_recent);
    return TCP_TS_OPT_LEN;
}

/* SACK blocks (RFC 2018 §4) on pure ACKs while ranges wait beyond a hole: the range holding
 * the newest segment first, then the others from the highest down, as many as fit (3 with
 * timestamps). Data segments carry none: their payload is sized to the MSS with timestamps
 * only, and while we receive out of order we send pure duplicate ACKs anyway. */
static uint32_t sack_opts(const etls_tcp_conn_t *c, uint8_t *o, uint32_t room)
{
    if (!c->sack_ok || !c->n_ooo || room < 12)
        return 0;
    uint32_t max = (room - 4) / 8, n = 0, first = c->n_ooo;
    for (uint32_t k = 0; k < c->n_ooo; k++)
        if (seq_geq(c->sack_recent, c->ooo[k].start) && seq_lt(c->sack_recent, c->ooo[k].end))
            first = k;
    o[0] = 1, o[1] = 1, o[2] = 5;
    if (first < c->n_ooo)
        wr32(o + 4, c->ooo[first].start), wr32(o + 8, c->ooo[first].end), n++;
    for (uint32_t k = c->n_ooo; k-- > 0 && n < max;)
        if (k != first)
            wr32(o + 4 + 8 * n, c->ooo[k].start), wr32(o + 8 + 8 * n, c->ooo[k].end), n++;
    o[3] = (uint8_t)(2 + 8 * n);
    return 4 + 8 * n;
}

static void after_ack_sent(etls_tcp_conn_t *c)
{
    c->last_ack_sent = c->rcv_nxt;
    c->delack_at = 0;
    c->unacked_bytes = 0;
    c->flags &= ~CF_ACKNOW;
}

/* One segment of this connection: [seq, seq+len) from the send ring, plus flags. */
static int xmit(etls_tcp_conn_t *c, uint32_t seq, uint32_t len, uint8_t flags, uint64_t now)
{
    etls_tcp_stack_t *s = c->stack;
    uint8_t opts[40];
    uint32_t olen = ts_opts(c, opts, now);
    if (!len && (flags & (TH_ACK | TH_RST | TH_FIN)) == TH_ACK)
        olen += sack_opts(c, opts + olen, sizeof opts - olen);
    const uint8_t *d0 = NULL, *d1 = NULL;
    uint32_t l0 = 0, l1 = 0;
    if (len) {
        uint32_t off = (seq - c->iss - 1) & s->smask;
        l0 = s->cfg.sndbuf - off < len ? s->cfg.sndbuf - off : len;
        d0 = c->sbuf + off;
        l1 = len - l0;
        d1 = l1 ? c->sbuf : NULL;
    }
    etls_tcp_seg_t t = {.saddr = c->laddr, .daddr = c->raddr, .sport = c->lport, .dport = c->rport};
    uint16_t wnd = (flags & TH_RST) ? 0 : wnd_field(c);
    int rc = tcp_xmit_raw(s, &t, seq, c->rcv_nxt, flags, wnd, opts, olen, d0, l0, d1, l1);
    if (rc == 0 && (flags & TH_ACK))
        after_ack_sent(c);
    return rc;
}

int tcp_send_ctl(etls_tcp_conn_t *c, uint32_t seq, uint8_t flags, uint64_t now)
{
    return xmit(c, seq, 0, flags, now);
}

/* Retransmission of [seq, seq+len) (+FIN) outside the send loop: fast retransmit and NewReno
 * partial ACKs resend the head without moving snd_nxt. */
void tcp_send_range(etls_tcp_conn_t *c, uint32_t seq, uint32_t len, bool fin, uint64_t now)
{
    if (xmit(c, seq, len, TH_ACK | (len ? TH_PSH : 0) | (fin ? TH_FIN : 0), now) == 0 && !c->rto_at)
        c->rto_at = now + tcp_rto_current(c);
}

int tcp_send_synack(etls_tcp_conn_t *c, uint64_t now)
{
    etls_tcp_stack_t *s = c->stack;
    uint8_t opts[40];
    uint32_t olen = tcp_synack_opts(s, opts, s->cfg.mss, c->ts_ok, c->sack_ok, c->ws_ok,
                                    tcp_tsnow(c, now), c->ts_recent);
    uint32_t wnd = s->cfg.rcvbuf > 65535 ? 65535 : s->cfg.rcvbuf; /* SYNs are never scaled */
    etls_tcp_seg_t t = {.saddr = c->laddr, .daddr = c->raddr, .sport = c->lport, .dport = c->rport};
    c->rcv_adv = c->rcv_nxt + wnd;
    int rc = tcp_xmit_raw(s, &t, c->iss, c->rcv_nxt, TH_SYN | TH_ACK, (uint16_t)wnd, opts, olen,
                          NULL, 0, NULL, 0);
    if (rc == 0)
        after_ack_sent(c);
    return rc;
}

/* RFC 9293 §3.10.7.1: the reply to a segment no connection wants. */
void tcp_send_rst_for(etls_tcp_stack_t *s, const tcp_seg_in_t *sg)
{
    if (sg->flags & TH_RST)
        return;
    etls_tcp_seg_t t = {.saddr = sg->daddr, .daddr = sg->saddr, .sport = sg->dport, .dport = sg->sport};
    int rc;
    if (sg->flags & TH_ACK) {
        rc = tcp_xmit_raw(s, &t, sg->ack, 0, TH_RST, 0, NULL, 0, NULL, 0, NULL, 0);
    } else {
        uint32_t ack = sg->seq + sg->len + !!(sg->flags & TH_SYN) + !!(sg->flags & TH_FIN);
        rc = tcp_xmit_raw(s, &t, 0, ack, TH_RST | TH_ACK, 0, NULL, 0, NULL, 0, NULL, 0);
    }
    if (rc == 0)
        s->stats.rst_sent++;
}

/* RFC 5961 §3.2, §4.2, §5.2; limited per connection (not per stack: a shared counter lets an
 * off-path attacker observe other connections, CVE-2016-5696). */
void tcp_send_challenge_ack(etls_tcp_conn_t *c, uint64_t now)
{
    if (now - c->challenge_window >= 1000000 || !c->challenge_window) {
        c->challenge_window = now ? now : 1;
        c->challenge_count = 0;
    }
    if (c->challenge_count >= TCP_CHALLENGE_PER_SEC)
        return;
    c->challenge_count++;
    if (tcp_send_ctl(c, c->snd_nxt, TH_ACK, now) == 0)
        c->stack->stats.challenge_acks++;
}

static uint32_t min3(uint32_t a, uint32_t b, uint32_t c)
{
    uint32_t m = a < b ? a : b;
    return m < c ? m : c;
}

/* Sends what flow and congestion control allow from snd_nxt. Nagle is off (TLS writes whole
 * records); sender SWS avoidance (RFC 9293 §3.8.6.2.1) still holds back a runt when more data
 * waits and the window is merely crowded, unless nothing is in flight. */
static void send_data(etls_tcp_conn_t *c, uint64_t now)
{
    etls_tcp_stack_t *s = c->stack;
    for (;;) {
        uint32_t avail = seq_gt(c->wr_seq, c->snd_nxt) ? c->wr_seq - c->snd_nxt : 0;
        bool fin = (c->flags & CF_FIN_QUEUED) && seq_leq(c->snd_nxt, c->wr_seq);
        if (!avail && !fin)
            return;
        uint32_t inflight = c->snd_nxt - c->snd_una;
        /* RFC 3042 limited transmit: each of the first two duplicate ACKs lets one new segment
         * out, so a small window can still collect the three that trigger fast retransmit. */
        uint32_t lt = (c->flags & CF_RECOVERY) ? 0 : (c->dupacks < 2 ? c->dupacks : 2) * c->mss;
        uint32_t cw = c->cwnd + lt;
        uint32_t wnd = c->snd_wnd < cw ? c->snd_wnd : cw;
        uint32_t usable = wnd > inflight ? wnd - inflight : 0;
        uint32_t len = min3(avail, c->mss, usable);
        if (len < avail && len < c->mss && !(len && (inflight == 0 || len >= c->max_snd_wnd / 2)))
            return;
        bool send_fin = fin && len == avail && c->snd_wnd > inflight + len;
        if (!len && !send_fin)
            return;
        uint32_t seq = c->snd_nxt;
        uint8_t fl = TH_ACK | (len == avail && len ? TH_PSH : 0) | (send_fin ? TH_FIN : 0);
        if (xmit(c, seq, len, fl, now) < 0) {
            tcp_mark_dirty(c); /* retried at the next flush */
            return;
        }
        if (seq_lt(seq, c->snd_max)) {
            c->retransmits++;
            s->stats.retransmits++;
        } else if (!c->ts_ok && !(c->flags & CF_RTT_TIMING) && len) {
            c->flags |= CF_RTT_TIMING; /* Karn: time only new data */
            c->rtt_seq = seq, c->rtt_start = now;
        }
        c->snd_nxt = seq + len + send_fin;
        if (seq_gt(c->snd_nxt, c->snd_max))
            c->snd_max = c->snd_nxt;
        if (!c->rto_at)
            c->rto_at = now + tcp_rto_current(c);
        c->persist_at = 0;
        if (send_fin)
            return;
    }
}

static bool wnd_update_due(const etls_tcp_conn_t *c)
{
    const etls_tcp_stack_t *s = c->stack;
    if (c->state != ETLS_TCP_S_ESTABLISHED && c->state != ETLS_TCP_S_FIN_WAIT_1 &&
        c->state != ETLS_TCP_S_FIN_WAIT_2)
        return false;
    uint32_t cur = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
    uint32_t space = tcp_rcv_space(c);
    uint32_t thresh = s->cfg.rcvbuf / 2 < s->cfg.mss ? s->cfg.rcvbuf / 2 : s->cfg.mss;
    return space > cur && space - cur >= thresh && space >= 2 * cur;
}

static bool sends_data(uint8_t st)
{
    return st == ETLS_TCP_S_ESTABLISHED || st == ETLS_TCP_S_CLOSE_WAIT || st == ETLS_TCP_S_FIN_WAIT_1 ||
           st == ETLS_TCP_S_LAST_ACK || st == ETLS_TCP_S_CLOSING;
}

static void output(etls_tcp_conn_t *c, uint64_t now, bool after_input)
{
    if (c->state == ETLS_TCP_S_CLOSED || c->state == ETLS_TCP_S_LISTEN)
        return;
    if (sends_data(c->state))
        send_data(c, now);
    if ((c->flags & CF_ACKNOW) || wnd_update_due(c)) {
        if (after_input && c->stack->cfg.acks_at_flush)
            tcp_mark_dirty(c); /* the flush sends it, unless data or a FIN carries it first */
        else
            tcp_send_ctl(c, c->snd_nxt, TH_ACK, now);
    }
    /* Persist (RFC 9293 §3.8.6.1): data waits, the peer's window is shut, nothing in flight
     * that a retransmission timer would cover. */
    bool waiting = seq_gt(c->wr_seq, c->snd_nxt) ||
                   ((c->flags & CF_FIN_QUEUED) && seq_leq(c->snd_nxt, c->wr_seq));
    if (sends_data(c->state) && waiting && c->snd_una == c->snd_max && c->snd_wnd == 0) {
        if (!c->persist_at)
            c->persist_at = now + tcp_rto_current(c);
    } else {
        c->persist_at = 0;
    }
    tcp_timer_update(c);
}

void tcp_output(etls_tcp_conn_t *c, uint64_t now) { output(c, now, false); }

/* After an accepted segment. With acks_at_flush the ACK it calls for waits for this round's
 * etls_tcp_flush, so that what the application writes or closes in between (the TLS reply to
 * a request, close_notify and FIN after the peer's FIN, the ClientHello after the SYN-ACK)
 * carries it: one segment instead of a bare ACK and then the data. The ACK is late by the rest
 * of the poll iteration at most, far below the delayed-ACK bound. */
void tcp_output_after_input(etls_tcp_conn_t *c, uint64_t now) { output(c, now, true); }

/* ---- timers ---- */

static bool on_rto(etls_tcp_conn_t *c, uint64_t now)
{
    etls_tcp_stack_t *s = c->stack;
    const etls_tcp_config_t *cfg = &s->cfg;
    if (c->state == ETLS_TCP_S_SYN_SENT)
        return tcp_syn_sent_rto(c, now);
    if (c->state == ETLS_TCP_S_SYN_RECEIVED) {
        if (++c->retries > cfg->syn_retries) {
            tcp_conn_free(c); /* never accepted: nobody to tell */
            return false;
        }
        c->backoff++;
        c->flags |= CF_SYN_REXMIT;
        s->stats.retransmits++;
        tcp_send_synack(c, now);
        c->rto_at = now + tcp_rto_current(c);
        return true;
    }
    if (c->snd_una == c->snd_max || !sends_data(c->state))
        return true;
    if (++c->retries > cfg->max_retries) {
        tcp_send_ctl(c, c->snd_nxt, TH_RST | TH_ACK, now);
        s->stats.rst_sent++;
        tcp_conn_reset(c, ETLS_TCP_REASON_TIMEOUT);
        return false;
    }
    s->stats.rto_fired++;
    if (!c->backoff) { /* RFC 5681 §3.1 (4): halve once per loss event, not per backoff */
        uint32_t flight = c->snd_max - c->snd_una;
        c->ssthresh = flight / 2 > 2 * c->mss ? flight / 2 : 2 * c->mss;
    }
    c->cwnd = c->mss;
    c->recover = c->snd_max; /* RFC 6582 §3.2 (step 4 after a timeout) */
    c->flags &= ~(CF_RECOVERY | CF_RTT_TIMING);
    c->dupacks = 0;
    if (tcp_rto_current(c) < cfg->rto_max_us)
        c->backoff++;
    c->snd_nxt = c->snd_una; /* go back N: the ACK clock rebuilds from slow start */
    c->rto_at = 0;
    send_data(c, now);
    if (!c->rto_at)
        c->rto_at = now + tcp_rto_current(c);
    return true;
}

static bool on_persist(etls_tcp_conn_t *c, uint64_t now)
{
    etls_tcp_stack_t *s = c->stack;
    if (c->snd_wnd != 0 || c->snd_una != c->snd_max)
        return true;
    if (++c->probes > s->cfg.max_retries) {
        tcp_send_ctl(c, c->snd_nxt, TH_RST | TH_ACK, now);
        s->stats.rst_sent++;
        tcp_conn_reset(c, ETLS_TCP_REASON_TIMEOUT);
        return false;
    }
    /* An old sequence number: the peer must answer with an ACK carrying its window, and the
     * probe never adds to what it has to buffer. */
    tcp_send_ctl(c, c->snd_una - 1, TH_ACK, now);
    s->stats.zwp_sent++;
    if (tcp_rto_current(c) < s->cfg.rto_max_us)
        c->backoff++;
    c->persist_at = now + tcp_rto_current(c);
    return true;
}

void tcp_timer_fire(etls_tcp_conn_t *c, uint64_t now)
{
    if (c->misc_at && c->misc_at <= now) {
        c->misc_at = 0;
        /* TIME-WAIT over, or FIN-WAIT-2 after close() with a silent peer. */
        tcp_conn_finish(c);
        return;
    }
    if (c->delack_at && c->delack_at <= now) {
        c->delack_at = 0;
        tcp_send_ctl(c, c->snd_nxt, TH_ACK, now);
    }
    if (c->rto_at && c->rto_at <= now) {
        c->rto_at = 0;
        if (!on_rto(c, now))
            return;
    }
    if (c->persist_at && c->persist_at <= now) {
        c->persist_at = 0;
        if (!on_persist(c, now))
            return;
    }
    tcp_timer_update(c);
}
