/* Input: parsing, demultiplexing, and segment arrival per RFC 9293 §3.10.7, with PAWS
 * (RFC 7323 §5), RST/SYN/ACK hardening (RFC 5961), NewReno (RFC 5681, RFC 6582) and in-place
 * out-of-order reassembly. The steps keep the RFC's numbering so they can be read side by side. */
#include "tcp/tcp_int.h"

static void parse_opts(tcp_seg_in_t *sg, const uint8_t *o, size_t n, int *bad)
{
    size_t i = 0;
    while (i < n) {
        uint8_t kind = o[i];
        if (kind == 0)
            break;
        if (kind == 1) {
            i++;
            continue;
        }
        if (i + 1 >= n || o[i + 1] < 2 || i + o[i + 1] > n) {
            *bad = 1; /* a length that runs off the header: the segment is garbage */
            return;
        }
        uint8_t len = o[i + 1];
        const uint8_t *v = o + i + 2;
        if (kind == 2 && len == 4)
            sg->has_mss = 1, sg->mss = rd16(v);
        else if (kind == 3 && len == 3)
            sg->has_ws = 1, sg->ws = v[0];
        else if (kind == 4 && len == 2)
            sg->sack_ok = 1;
        else if (kind == 8 && len == 10)
            sg->has_ts = 1, sg->tsval = rd32(v), sg->tsecr = rd32(v + 4);
        i += len; /* unknown kinds are skipped (RFC 9293 MUST-6) */
    }
}

int tcp_parse(tcp_seg_in_t *sg, uint32_t saddr, uint32_t daddr, const uint8_t *p, size_t len)
{
    memset(sg, 0, sizeof *sg);
    ETLS_ENSURE(p && len >= 20 && len <= 65535, ETLS_ERR_INVALID);
    size_t doff = (size_t)(p[12] >> 4) * 4;
    ETLS_ENSURE(doff >= 20 && doff <= len, ETLS_ERR_INVALID);
    sg->saddr = saddr, sg->daddr = daddr;
    sg->sport = rd16(p), sg->dport = rd16(p + 2);
    sg->seq = rd32(p + 4), sg->ack = rd32(p + 8);
    sg->flags = p[13] & 0x3f;
    sg->wnd = rd16(p + 14);
    int bad = 0;
    parse_opts(sg, p + 20, doff - 20, &bad);
    ETLS_ENSURE(!bad, ETLS_ERR_INVALID);
    sg->data = p + doff;
    sg->len = (uint32_t)(len - doff);
    return 0;
}

/* ---- helpers ---- */

static bool acceptable(uint32_t seq, uint32_t slen, uint32_t nxt, uint32_t wnd)
{
    bool first = seq_geq(seq, nxt) && seq_lt(seq, nxt + wnd);
    if (slen == 0)
        return wnd == 0 ? seq == nxt : first;
    if (wnd == 0)
        return false;
    uint32_t last = seq + slen - 1;
    return first || (seq_geq(last, nxt) && seq_lt(last, nxt + wnd));
}

static void ring_put(etls_tcp_conn_t *c, uint32_t seq, const uint8_t *d, uint32_t len)
{
    uint32_t size = c->stack->cfg.rcvbuf, off = (seq - c->irs - 1) & c->stack->rmask;
    uint32_t a = size - off < len ? size - off : len;
    memcpy(c->rbuf + off, d, a);
    if (len > a)
        memcpy(c->rbuf, d + a, len - a);
}

static bool fin_acked(const etls_tcp_conn_t *c)
{
    return (c->flags & CF_FIN_QUEUED) && seq_gt(c->snd_una, c->wr_seq);
}

static void enter_time_wait(etls_tcp_conn_t *c, uint64_t now)
{
    tcp_set_state(c, ETLS_TCP_S_TIME_WAIT);
    c->rto_at = c->persist_at = 0;
    c->misc_at = now + c->stack->cfg.time_wait_us;
    if ((c->flags & CF_APP) && !(c->flags & CF_CLOSED_EV)) {
        c->flags |= CF_CLOSED_EV;
        tcp_event(c, ETLS_TCP_EV_CLOSED, 0);
    }
}

/* ---- ACK processing (step 5) ---- */

/* Retransmits the first unacknowledged segment (fast retransmit, NewReno partial ACK). */
static void retransmit_head(etls_tcp_conn_t *c, uint64_t now)
{
    uint32_t data = seq_gt(c->wr_seq, c->snd_una) ? c->wr_seq - c->snd_una : 0;
    uint32_t out = c->snd_max - c->snd_una, len = data < c->mss ? data : c->mss;
    if (len > out)
        len = out;
    bool fin = (c->flags & CF_FIN_QUEUED) && c->snd_una + len == c->wr_seq && seq_gt(c->snd_max, c->wr_seq);
    if (!len && !fin)
        return;
    tcp_send_range(c, c->snd_una, len, fin, now);
    c->retransmits++;
    c->stack->stats.retransmits++;
    c->flags &= ~CF_RTT_TIMING; /* Karn */
}

static void cwnd_cap(etls_tcp_conn_t *c)
{
    uint32_t cap = 2 * c->stack->cfg.sndbuf + 4 * c->mss; /* more is never usable */
    if (c->cwnd > cap)
        c->cwnd = cap;
}

static void on_new_ack(etls_tcp_conn_t *c, const tcp_seg_in_t *sg, uint64_t now)
{
    etls_tcp_stack_t *s = c->stack;
    uint32_t acked = sg->ack - c->snd_una;
    c->snd_una = sg->ack;
    if (seq_lt(c->snd_nxt, c->snd_una))
        c->snd_nxt = c->snd_una;
    if (c->ts_ok && sg->has_ts && sg->tsecr) {
        int32_t ms = (int32_t)(tcp_tsnow(c, now) - sg->tsecr);
        if (ms >= 0 && (uint32_t)ms * 1000ull < s->cfg.rto_max_us)
            tcp_rtt_sample(c, (uint32_t)ms * 1000), c->backoff = 0;
    } else if ((c->flags & CF_RTT_TIMING) && seq_gt(sg->ack, c->rtt_seq)) {
        c->flags &= ~CF_RTT_TIMING;
        tcp_rtt_sample(c, (uint32_t)(now - c->rtt_start));
        c->backoff = 0;
    }
    c->retries = 0;
    bool restart_rto = true;
    if (c->flags & CF_RECOVERY) {
        if (seq_geq(sg->ack, c->recover)) { /* full ACK: RFC 6582 §3.2 step 3 */
            uint32_t flight = c->snd_max - c->snd_una;
            uint32_t alt = (flight > c->mss ? flight : c->mss) + c->mss;
            c->cwnd = c->ssthresh < alt ? c->ssthresh : alt;
            c->flags &= ~CF_RECOVERY;
            c->dupacks = 0;
        } else { /* partial ACK: retransmit the next hole, deflate, keep going */
            retransmit_head(c, now);
            c->cwnd = c->cwnd > acked ? c->cwnd - acked : c->mss;
            if (acked >= c->mss)
                c->cwnd += c->mss;
            restart_rto = !(c->flags & CF_PARTIAL_SEEN); /* Impatient variant: first only */
            c->flags |= CF_PARTIAL_SEEN;
        }
    } else {
        c->dupacks = 0;
        if (c->cwnd < c->ssthresh)
            c->cwnd += acked < c->mss ? acked : c->mss;
        else
            c->cwnd += c->mss * c->mss >= c->cwnd ? c->mss * c->mss / c->cwnd : 1;
        if (seq_lt(c->recover, c->snd_una))
            c->recover = c->snd_una; /* keep it near snd_una so the comparison never wraps */
    }
    cwnd_cap(c);
    if (c->snd_una == c->snd_max)
        c->rto_at = 0, c->backoff = 0;
    else if (restart_rto)
        c->rto_at = now + tcp_rto_current(c);
    if ((c->flags & CF_WANT_WRITE) && etls_tcp_send_space(c) > 0) {
        c->flags &= ~CF_WANT_WRITE;
        tcp_event(c, ETLS_TCP_EV_WRITABLE, 0);
    }
}

static void on_dup_ack(etls_tcp_conn_t *c, uint64_t now)
{
    etls_tcp_stack_t *s = c->stack;
    s->stats.dup_acks++;
    if (c->flags & CF_RECOVERY) {
        c->cwnd += c->mss; /* RFC 5681 §3.2 step 4: inflate per segment that left the network */
        cwnd_cap(c);
        return;
    }
    if (c->dupacks < 255)
        c->dupacks++;
    if (c->dupacks != 3 || seq_lt(c->snd_una, c->recover))
        return; /* RFC 6582 §3.2 step 2: no new recovery for data sent before the last one */
    uint32_t flight = c->snd_max - c->snd_una;
    c->ssthresh = flight / 2 > 2 * c->mss ? flight / 2 : 2 * c->mss;
    c->recover = c->snd_max;
    c->flags = (c->flags | CF_RECOVERY) & ~CF_PARTIAL_SEEN;
    s->stats.fast_retransmits++;
    retransmit_head(c, now);
    c->cwnd = c->ssthresh + 3 * c->mss;
    c->dupacks = 0;
}

/* SYN-RECEIVED → ESTABLISHED on the ACK of our SYN. */
static bool establish(etls_tcp_conn_t *c, const tcp_seg_in_t *sg, uint64_t now)
{
    etls_tcp_stack_t *s = c->stack;
    if (!(seq_gt(sg->ack, c->snd_una) && seq_leq(sg->ack, c->snd_max))) {
        tcp_send_rst_for(s, sg);
        return false;
    }
    c->snd_una = sg->ack;
    c->snd_wnd = c->max_snd_wnd = (uint32_t)sg->wnd << c->snd_wscale;
    c->snd_wl1 = sg->seq, c->snd_wl2 = sg->ack;
    int32_t ts_ms = (int32_t)(tcp_tsnow(c, now) - sg->tsecr);
    if (c->ts_ok && sg->tsecr && !(c->flags & CF_SYN_REXMIT)) {
        if (ts_ms >= 0 && ts_ms < 600000)
            tcp_rtt_sample(c, (uint32_t)ts_ms * 1000);
    } else if (!(c->flags & CF_SYN_REXMIT))
        tcp_rtt_sample(c, (uint32_t)(now - c->rtt_start));
    else if (c->rto_us < TCP_RTO_SYN_FALLBACK_US)
        c->rto_us = TCP_RTO_SYN_FALLBACK_US; /* RFC 6298 §5.7 */
    c->backoff = 0, c->retries = 0, c->rto_at = 0;
    tcp_set_state(c, ETLS_TCP_S_ESTABLISHED);
    s->stats.accepted++;
    tcp_event(c, ETLS_TCP_EV_ACCEPTED, 0);
    return true;
}

/* Step 5. Returns false when the segment is finished with (dropped, or the connection ended). */
static bool ack_in(etls_tcp_conn_t *c, const tcp_seg_in_t *sg, uint64_t now)
{
    if (c->state == ETLS_TCP_S_SYN_RECEIVED && !establish(c, sg, now))
        return false;
    if (seq_gt(sg->ack, c->snd_max)) { /* acks something never sent */
        c->flags |= CF_ACKNOW;
        tcp_output(c, now);
        return false;
    }
    if (seq_lt(sg->ack, c->snd_una - c->max_snd_wnd)) { /* RFC 5961 §5.2 */
        tcp_send_challenge_ack(c, now);
        return false;
    }
    uint32_t wnd = (uint32_t)sg->wnd << c->snd_wscale, una_before = c->snd_una;
    if (seq_gt(sg->ack, c->snd_una))
        on_new_ack(c, sg, now);
    else if (sg->ack == c->snd_una && !sg->len && !(sg->flags & (TH_SYN | TH_FIN)) &&
             c->snd_una != c->snd_max && wnd == c->snd_wnd)
        on_dup_ack(c, now);
    if (seq_lt(c->snd_wl1, sg->seq) || (c->snd_wl1 == sg->seq && seq_leq(c->snd_wl2, sg->ack))) {
        if (!c->snd_wnd && wnd)
            c->backoff = 0; /* persist state over */
        c->snd_wnd = wnd, c->snd_wl1 = sg->seq, c->snd_wl2 = sg->ack;
        if (wnd > c->max_snd_wnd)
            c->max_snd_wnd = wnd;
    }
    /* A peer that answers probes keeps the connection while someone holds it; a released
     * (orphaned) one must make progress, or a zero-window peer could pin its slot forever. */
    if ((c->flags & CF_APP) || seq_gt(sg->ack, una_before))
        c->probes = 0;
    if (!fin_acked(c))
        return true;
    switch (c->state) {
    case ETLS_TCP_S_FIN_WAIT_1:
        tcp_set_state(c, ETLS_TCP_S_FIN_WAIT_2);
        c->rto_at = 0;
        if (!(c->flags & CF_APP))
            c->misc_at = now + c->stack->cfg.fin_wait2_us;
        break;
    case ETLS_TCP_S_CLOSING:
        enter_time_wait(c, now);
        break;
    case ETLS_TCP_S_LAST_ACK:
        tcp_conn_finish(c);
        return false;
    default:
        break;
    }
    return true;
}

/* ---- data and FIN (steps 7, 8) ---- */

static bool ooo_insert(etls_tcp_conn_t *c, uint32_t seq, const uint8_t *d, uint32_t len)
{
    const etls_tcp_config_t *cfg = &c->stack->cfg;
    tcp_range_t tmp[TCP_MAX_OOO_RANGES + 1], m = {seq, seq + len};
    uint32_t n = 0, bytes = 0;
    bool placed = false;
    for (uint32_t i = 0; i < c->n_ooo; i++) {
        tcp_range_t r = c->ooo[i];
        if (seq_lt(r.end, m.start)) {
            tmp[n++] = r;
        } else if (seq_gt(r.start, m.end)) {
            if (!placed)
                tmp[n++] = m, placed = true;
            tmp[n++] = r;
        } else {
            m.start = seq_min(m.start, r.start), m.end = seq_max(m.end, r.end);
        }
    }
    if (!placed)
        tmp[n++] = m;
    for (uint32_t i = 0; i < n; i++)
        bytes += tmp[i].end - tmp[i].start;
    if (n > cfg->ooo_max_ranges || bytes > cfg->ooo_max_bytes) {
        c->stack->stats.ooo_dropped++;
        return false;
    }
    ring_put(c, seq, d, len);
    c->sack_recent = seq;
    memcpy(c->ooo, tmp, n * sizeof tmp[0]);
    c->n_ooo = (uint8_t)n, c->ooo_bytes = bytes;
    return true;
}

/* In-order delivery reached the first queued range(s): move rcv.nxt over them. */
static void ooo_advance(etls_tcp_conn_t *c)
{
    uint32_t k = 0;
    while (k < c->n_ooo && seq_leq(c->ooo[k].start, c->rcv_nxt)) {
        c->rcv_nxt = seq_max(c->rcv_nxt, c->ooo[k].end);
        c->ooo_bytes -= c->ooo[k].end - c->ooo[k].start;
        k++;
    }
    if (!k)
        return;
    memmove(c->ooo, c->ooo + k, (c->n_ooo - k) * sizeof c->ooo[0]);
    c->n_ooo = (uint8_t)(c->n_ooo - k);
    c->flags |= CF_ACKNOW; /* RFC 5681 §4.2: ACK at once when a hole is filled */
}

static void fin_in(etls_tcp_conn_t *c, uint32_t fin_seq, uint64_t now)
{
    c->peer_fin_seq = fin_seq;
    c->rcv_nxt = fin_seq + 1;
    c->n_ooo = 0, c->ooo_bytes = 0; /* anything queued beyond the FIN is not part of the stream */
    c->flags = (c->flags | CF_PEER_FIN | CF_ACKNOW) & ~CF_OOO_FIN;
    tcp_event(c, ETLS_TCP_EV_PEER_FIN, 0);
    switch (c->state) {
    case ETLS_TCP_S_ESTABLISHED:
        tcp_set_state(c, ETLS_TCP_S_CLOSE_WAIT);
        break;
    case ETLS_TCP_S_FIN_WAIT_1:
        tcp_set_state(c, ETLS_TCP_S_CLOSING);
        break;
    case ETLS_TCP_S_FIN_WAIT_2:
        enter_time_wait(c, now);
        break;
    default:
        break;
    }
}

static void data_in_order(etls_tcp_conn_t *c, uint32_t seq, const uint8_t *d, uint32_t len,
                          bool fin, uint64_t now)
{
    ring_put(c, seq, d, len);
    c->rcv_nxt += len;
    c->unacked_bytes += len;
    if (len > c->rcv_mss)
        c->rcv_mss = len;
    uint32_t fin_seq = seq + len;
    ooo_advance(c);
    if (fin && c->rcv_nxt == fin_seq)
        fin_in(c, fin_seq, now);
    else if ((c->flags & CF_OOO_FIN) && c->rcv_nxt == c->ooo_fin_seq)
        fin_in(c, c->ooo_fin_seq, now);
    if (len)
        tcp_event(c, ETLS_TCP_EV_READABLE, 0);
    if (c->unacked_bytes >= 2 * c->rcv_mss)
        c->flags |= CF_ACKNOW; /* RFC 5681 §4.2: every second full-sized segment */
    else if (len && !c->delack_at)
        c->delack_at = now + c->stack->cfg.delack_us;
}

/* Step 7/8 for the states that still receive. Returns false when the connection is gone. */
static bool data_in(etls_tcp_conn_t *c, const tcp_seg_in_t *sg, uint64_t now)
{
    etls_tcp_stack_t *s = c->stack;
    uint32_t seq = sg->seq, len = sg->len;
    const uint8_t *d = sg->data;
    bool fin = sg->flags & TH_FIN;
    if (!len && !fin)
        return true;
    if (c->state != ETLS_TCP_S_ESTABLISHED && c->state != ETLS_TCP_S_FIN_WAIT_1 &&
        c->state != ETLS_TCP_S_FIN_WAIT_2) {
        c->flags |= CF_ACKNOW; /* after the peer's FIN: only a retransmission, re-ACK it */
        if (c->state == ETLS_TCP_S_TIME_WAIT && fin)
            c->misc_at = now + s->cfg.time_wait_us;
        return true;
    }
    if (seq_lt(seq, c->rcv_nxt)) { /* left trim: already have it */
        uint32_t dup = c->rcv_nxt - seq;
        c->flags |= CF_ACKNOW;
        if (dup > len) {
            return true; /* old data, and any FIN with it is old too */
        }
        seq += dup, d += dup, len -= dup;
    }
    uint32_t wnd_edge = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv : c->rcv_nxt;
    uint32_t cap_edge = c->rcv_nxt + tcp_rcv_space(c);
    uint32_t right = seq_lt(wnd_edge, cap_edge) ? wnd_edge : cap_edge;
    if (seq_gt(seq + len, right) || (fin && seq + len == right)) { /* right trim */
        len = seq_gt(right, seq) ? right - seq : 0;
        fin = false;
        c->flags |= CF_ACKNOW;
    }
    if (len && !(c->flags & CF_APP)) {
        /* New data after the application closed: nobody will read it (RFC 9293 §3.10.7.4). */
        tcp_send_ctl(c, c->snd_nxt, TH_RST | TH_ACK, now);
        s->stats.rst_sent++;
        tcp_conn_free(c);
        return false;
    }
    if (seq == c->rcv_nxt) {
        data_in_order(c, seq, d, len, fin, now);
        return true;
    }
    c->flags |= CF_ACKNOW; /* RFC 5681 §4.2: out of order → immediate duplicate ACK */
    s->stats.ooo_segs++;
    if (len && (!c->stack->cfg.ooo_max_ranges || !ooo_insert(c, seq, d, len)))
        return true;
    if (fin && !(c->flags & CF_OOO_FIN)) {
        c->flags |= CF_OOO_FIN;
        c->ooo_fin_seq = seq + len;
    }
    return true;
}

/* ---- segment arrival ---- */

static bool paws_reject(etls_tcp_conn_t *c, const tcp_seg_in_t *sg, uint64_t now)
{
    if (!(c->flags & CF_TS_RECENT) || (int32_t)(sg->tsval - c->ts_recent) >= 0)
        return false;
    if (now - c->ts_recent_at > TCP_PAWS_IDLE_US) { /* RFC 7323 §5.5: ts_recent too old to trust */
        c->flags &= ~CF_TS_RECENT;
        return false;
    }
    return true;
}

static void rst_in(etls_tcp_conn_t *c, const tcp_seg_in_t *sg, uint64_t now)
{
    if (sg->seq != c->rcv_nxt) { /* RFC 5961 §3.2: in window but not exact */
        tcp_send_challenge_ack(c, now);
        return;
    }
    c->stack->stats.rst_recv++;
    switch (c->state) {
    case ETLS_TCP_S_SYN_RECEIVED:
        tcp_conn_free(c); /* passive open: back to LISTEN, which has nothing to undo */
        break;
    case ETLS_TCP_S_TIME_WAIT:
        tcp_conn_finish(c);
        break;
    default:
        tcp_conn_reset(c, ETLS_TCP_REASON_PEER_RST);
        break;
    }
}

/* Steps 1–4: sequence test, RST, SYN. Returns false when the segment is done with. */
static bool check_seq(etls_tcp_conn_t *c, const tcp_seg_in_t *sg, uint64_t now)
{
    etls_tcp_stack_t *s = c->stack;
    bool rst = sg->flags & TH_RST;
    if (c->ts_ok && !rst) {
        if (!sg->has_ts) { /* RFC 7323 §3.2 */
            s->stats.dropped++;
            return false;
        }
        if (paws_reject(c, sg, now)) {
            s->stats.paws_rejected++;
            c->flags |= CF_ACKNOW;
            tcp_output(c, now);
            return false;
        }
    }
    uint32_t wnd = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
    uint32_t slen = sg->len + !!(sg->flags & TH_SYN) + !!(sg->flags & TH_FIN);
    if (!acceptable(sg->seq, slen, c->rcv_nxt, wnd) && !(wnd == 0 && sg->seq == c->rcv_nxt)) {
        s->stats.dropped++;
        if (!rst) {
            if (c->state == ETLS_TCP_S_TIME_WAIT && (sg->flags & TH_FIN))
                c->misc_at = now + s->cfg.time_wait_us; /* FIN retransmitted: restart 2MSL */
            c->flags |= CF_ACKNOW;
            tcp_output(c, now);
        }
        return false;
    }
    if (rst) {
        rst_in(c, sg, now);
        return false;
    }
    if (c->ts_ok && seq_leq(sg->seq, c->last_ack_sent) && (int32_t)(sg->tsval - c->ts_recent) >= 0) {
        c->ts_recent = sg->tsval; /* RFC 7323 §4.3 */
        c->ts_recent_at = now;
        c->flags |= CF_TS_RECENT;
    }
    if (sg->flags & TH_SYN) { /* RFC 5961 §4.2: any SYN here gets a challenge ACK */
        tcp_send_challenge_ack(c, now);
        return false;
    }
    if (!(sg->flags & TH_ACK)) {
        s->stats.dropped++;
        return false;
    }
    return true;
}

static void conn_input(etls_tcp_conn_t *c, const tcp_seg_in_t *sg, uint64_t now)
{
    if (c->state == ETLS_TCP_S_SYN_SENT) {
        tcp_syn_sent_input(c, sg, now);
        return;
    }
    if (c->state == ETLS_TCP_S_SYN_RECEIVED && (sg->flags & (TH_SYN | TH_ACK | TH_RST)) == TH_SYN) {
        if (sg->seq == c->irs)
            tcp_send_synack(c, now); /* our SYN-ACK was lost: say it again */
        else
            tcp_conn_free(c); /* the client restarted: RFC 9293 back to LISTEN */
        return;
    }
    if (!check_seq(c, sg, now) || !ack_in(c, sg, now) || !data_in(c, sg, now))
        return;
    tcp_output_after_input(c, now);
}

/* TIME-WAIT reuse (RFC 6191): a new SYN whose sequence or timestamp is beyond the old
 * incarnation's may open a new connection at once. */
static bool time_wait_reuse(etls_tcp_conn_t *c, const tcp_seg_in_t *sg)
{
    if (c->state != ETLS_TCP_S_TIME_WAIT || (sg->flags & (TH_SYN | TH_ACK | TH_RST)) != TH_SYN)
        return false;
    bool newer = c->ts_ok && sg->has_ts ? (int32_t)(sg->tsval - c->ts_recent) > 0
                                        : seq_gt(sg->seq, c->rcv_nxt);
    if (!newer)
        return false;
    c->stack->stats.time_wait_reused++;
    tcp_conn_finish(c);
    return true;
}

static void listen_input(etls_tcp_stack_t *s, const tcp_seg_in_t *sg, uint64_t now)
{
    if (!tcp_listener_find(s, sg->daddr, sg->dport)) {
        tcp_send_rst_for(s, sg); /* CLOSED */
        return;
    }
    if (sg->flags & TH_RST) {
        s->stats.dropped++;
        return;
    }
    if (sg->flags & TH_ACK) {
        etls_tcp_conn_t *c = (sg->flags & TH_SYN) ? NULL : tcp_syn_cookie_check(s, sg, now);
        if (c)
            conn_input(c, sg, now);
        else
            tcp_send_rst_for(s, sg);
        return;
    }
    if (sg->flags & TH_SYN) {
        tcp_syn_accept(s, sg, now);
        return;
    }
    s->stats.dropped++;
}

int etls_tcp_input(etls_tcp_stack_t *s, uint32_t saddr, uint32_t daddr, const uint8_t *seg,
                   size_t len, uint64_t now_us)
{
    if (now_us > s->now)
        s->now = now_us;
    tcp_seg_in_t sg;
    if (tcp_parse(&sg, saddr, daddr, seg, len) < 0) {
        s->stats.malformed++;
        return ETLS_ERR_INVALID;
    }
    s->stats.segs_in++;
    s->stats.bytes_in += sg.len;
    if (!sg.sport || !sg.dport || ((sg.flags & TH_SYN) && (sg.flags & (TH_RST | TH_FIN)))) {
        s->stats.dropped++; /* nonsense combinations no stack sends */
        return 0;
    }
    etls_tcp_conn_t *c = tcp_conn_lookup(s, daddr, sg.dport, saddr, sg.sport);
    if (c && time_wait_reuse(c, &sg))
        c = NULL;
    if (c)
        conn_input(c, &sg, now_us);
    else
        listen_input(s, &sg, now_us);
    return 0;
}
