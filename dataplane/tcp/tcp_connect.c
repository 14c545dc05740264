/* Active open (RFC 9293 §3.5, §3.10.7.3): etls_tcp_connect and the SYN-SENT state.
 *
 * Written for the benchmark's kernel-bypass client (bench/dpdk), so it shares everything after
 * ESTABLISHED with the passive side: once the SYN-ACK is in, the connection is indistinguishable
 * from an accepted one (same send/receive paths, timers and close states). What SYN-SENT adds:
 * our SYN with the options the configuration enables, its retransmission with exponential
 * backoff (syn_retries, then a RESET event with reason TIMEOUT), the acceptability test for the
 * SYN-ACK's acknowledgment, and RST handling: a RST is believed only when its ACK covers our SYN
 * (RFC 5961 §3.2 / RFC 9293: otherwise it is dropped), which reports REFUSED. Simultaneous open
 * (a bare SYN crossing ours) is not supported: such a SYN is dropped and counted. */
#include "tcp/tcp_int.h"

#define EPH_LO 49152u /* RFC 6335 dynamic ports */
#define EPH_N 16384u

/* A port not in use towards raddr:rport (TIME-WAIT included: reusing one would have the peer
 * take our SYN for an old duplicate) and not one we listen on. */
static uint16_t pick_port(etls_tcp_stack_t *s, uint32_t laddr, uint32_t raddr, uint16_t rport)
{
    for (uint32_t i = 0; i < EPH_N; i++) {
        uint16_t p = (uint16_t)(EPH_LO + (s->eph_next + i) % EPH_N);
        if (!tcp_conn_lookup(s, laddr, p, raddr, rport) && !tcp_listener_find(s, laddr, p)) {
            s->eph_next = (uint16_t)((s->eph_next + i + 1) % EPH_N);
            return p;
        }
    }
    return 0;
}

int tcp_send_syn(etls_tcp_conn_t *c, uint64_t now)
{
    etls_tcp_stack_t *s = c->stack;
    const etls_tcp_config_t *cfg = &s->cfg;
    uint8_t opts[40];
    uint32_t olen = tcp_synack_opts(s, opts, cfg->mss, cfg->timestamps, cfg->sack_permitted,
                                    cfg->window_scale, tcp_tsnow(c, now), 0);
    uint32_t wnd = cfg->rcvbuf > 65535 ? 65535 : cfg->rcvbuf; /* SYNs are never scaled */
    etls_tcp_seg_t t = {.saddr = c->laddr, .daddr = c->raddr, .sport = c->lport, .dport = c->rport};
    return tcp_xmit_raw(s, &t, c->iss, 0, TH_SYN, (uint16_t)wnd, opts, olen, NULL, 0, NULL, 0);
}

int etls_tcp_connect(etls_tcp_stack_t *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                     uint16_t rport, void *user, uint64_t now_us, etls_tcp_conn_t **out)
{
    ETLS_ENSURE(s && out && laddr && raddr && rport, ETLS_ERR_INVALID);
    if (now_us > s->now)
        s->now = now_us;
    if (!lport) {
        lport = pick_port(s, laddr, raddr, rport);
        ETLS_ENSURE(lport, ETLS_ERR_LIMIT);
    } else {
        ETLS_ENSURE(!tcp_conn_lookup(s, laddr, lport, raddr, rport), ETLS_ERR_INVALID);
    }
    /* The tuple as a segment from the peer would carry it: tcp_conn_alloc and the keyed
     * hashes take the local side from the destination fields. */
    tcp_seg_in_t sg;
    memset(&sg, 0, sizeof sg);
    sg.saddr = raddr, sg.sport = rport, sg.daddr = laddr, sg.dport = lport;
    etls_tcp_conn_t *c = tcp_conn_alloc(s, &sg);
    if (!c) {
        s->stats.conn_full++;
        return ETLS_ERR_LIMIT;
    }
    const etls_tcp_config_t *cfg = &s->cfg;
    c->iss = tcp_isn(s, &sg, now_us);
    c->snd_una = c->recover = c->iss;
    c->snd_nxt = c->snd_max = c->wr_seq = c->iss + 1;
    c->mss = cfg->mss;
    c->rto_us = cfg->rto_initial_us;
    c->ts_off = tcp_ts_offset(s, laddr, lport, raddr, rport);
    c->user = user;
    c->flags |= CF_APP;
    c->rtt_start = now_us;
    tcp_set_state(c, ETLS_TCP_S_SYN_SENT);
    s->stats.connects++;
    (void)tcp_send_syn(c, now_us); /* refused: the timer sends it again */
    c->rto_at = now_us + c->rto_us;
    tcp_timer_update(c);
    *out = c;
    return 0;
}

/* The SYN-ACK: what it settles (tcp_conn_from_peer_syn), then ESTABLISHED and the ACK of the
 * peer's SYN. */
static void establish_active(etls_tcp_conn_t *c, const tcp_seg_in_t *sg, uint64_t now)
{
    etls_tcp_stack_t *s = c->stack;
    tcp_conn_from_peer_syn(c, sg, now);
    c->snd_una = sg->ack;
    c->snd_wnd = c->max_snd_wnd = sg->wnd; /* the window of a SYN is never scaled */
    c->snd_wl1 = sg->seq, c->snd_wl2 = sg->ack;
    if (!(c->flags & CF_SYN_REXMIT))
        tcp_rtt_sample(c, (uint32_t)(now - c->rtt_start));
    else if (c->rto_us < TCP_RTO_SYN_FALLBACK_US)
        c->rto_us = TCP_RTO_SYN_FALLBACK_US; /* RFC 6298 §5.7 */
    c->backoff = 0, c->retries = 0, c->rto_at = 0;
    tcp_set_state(c, ETLS_TCP_S_ESTABLISHED);
    s->stats.connected++;
    tcp_event(c, ETLS_TCP_EV_CONNECTED, 0);
    /* Data or a FIN on the SYN-ACK is not taken (rcv_nxt stays at IRS+1): the peer resends. */
    c->flags |= CF_ACKNOW;
    tcp_output_after_input(c, now); /* with acks_at_flush, the first request can carry it */
}

/* RFC 9293 §3.10.7.3, "If the state is SYN-SENT". */
void tcp_syn_sent_input(etls_tcp_conn_t *c, const tcp_seg_in_t *sg, uint64_t now)
{
    etls_tcp_stack_t *s = c->stack;
    bool ack = sg->flags & TH_ACK, rst = sg->flags & TH_RST;
    if (ack && (seq_leq(sg->ack, c->iss) || seq_gt(sg->ack, c->snd_max))) {
        s->stats.dropped++;
        if (!rst)
            tcp_send_rst_for(s, sg); /* an old connection's segment: tell it to go away */
        return;
    }
    if (rst) {
        if (!ack) { /* cannot be an answer to our SYN (blind reset) */
            s->stats.dropped++;
            return;
        }
        s->stats.rst_recv++;
        s->stats.connect_refused++;
        tcp_conn_reset(c, ETLS_TCP_REASON_REFUSED);
        return;
    }
    if (!(sg->flags & TH_SYN) || !ack) { /* a bare ACK, or simultaneous open (unsupported) */
        s->stats.dropped++;
        return;
    }
    establish_active(c, sg, now);
}

/* Retransmission timer in SYN-SENT. Returns false when the connection is dead. */
bool tcp_syn_sent_rto(etls_tcp_conn_t *c, uint64_t now)
{
    etls_tcp_stack_t *s = c->stack;
    if (++c->retries > s->cfg.syn_retries) {
        s->stats.connect_timeouts++;
        tcp_conn_reset(c, ETLS_TCP_REASON_TIMEOUT);
        return false;
    }
    if (tcp_rto_current(c) < s->cfg.rto_max_us)
        c->backoff++;
    c->flags |= CF_SYN_REXMIT;
    s->stats.retransmits++;
    (void)tcp_send_syn(c, now);
    c->rto_at = now + tcp_rto_current(c);
    return true;
}
