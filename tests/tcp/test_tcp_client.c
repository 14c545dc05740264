/* Active open (etls_tcp_connect, SYN-SENT) packet by packet: the stack under test connects from
 * SRV_ADDR to a scripted peer at CLI_ADDR:PEER_PORT, and every segment it emits is checked.
 * Groups: open, bad_ack, rst, syn_retransmit, simultaneous_close, close_early. */
#include <stdio.h>
#include <stdlib.h>

#include "tcp_harness.h"

#define PEER_PORT 8443
#define PEER_ISN 0x7ffffff0u

static env_t E;

static void p16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static void p32(uint8_t *p, uint32_t v) { p16(p, (uint16_t)(v >> 16)), p16(p + 2, (uint16_t)v); }

/* A segment from the peer (CLI_ADDR:PEER_PORT) to our local port. */
static int peer_raw(env_t *e, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                    uint16_t wnd, const uint8_t *opts, uint32_t optlen, const void *data, uint32_t len)
{
    return seg_in(e, PEER_PORT, dport, seq, ack, flags, wnd, opts, optlen, data, len);
}

/* SYN-ACK options: MSS 1400, SACK-permitted, timestamps (tsval 500, tsecr), window scale 3. */
static uint32_t synack_opts(uint8_t *o, uint32_t tsecr)
{
    uint32_t n = 0;
    o[n++] = 2, o[n++] = 4, p16(o + n, 1400), n += 2;
    o[n++] = 4, o[n++] = 2;
    o[n++] = 8, o[n++] = 10, p32(o + n, 500), p32(o + n + 4, tsecr), n += 8;
    o[n++] = 1, o[n++] = 3, o[n++] = 3, o[n++] = 3;
    return n;
}

static uint32_t ts_only(uint8_t *o, uint32_t tsval, uint32_t tsecr)
{
    o[0] = 1, o[1] = 1, o[2] = 8, o[3] = 10;
    p32(o + 4, tsval), p32(o + 8, tsecr);
    return 12;
}

static uint32_t state_of(etls_tcp_conn_t *c)
{
    etls_tcp_conn_info_t i;
    etls_tcp_conn_info(c, &i);
    return i.state;
}

/* connect() and check the SYN; returns the handle, the SYN in *syn. */
static etls_tcp_conn_t *start(env_t *e, seg_t *syn)
{
    etls_tcp_conn_t *c = NULL;
    cap_clear(e);
    CHECK(etls_tcp_connect(e->s, SRV_ADDR, 0, CLI_ADDR, PEER_PORT, (void *)e, e->now, &c) == 0);
    CHECK(c != NULL && e->cap.n == 1);
    *syn = *cap_get(e, 0);
    CHECK(syn->flags == F_SYN && syn->ack == 0 && syn->len == 0);
    CHECK(syn->dport == PEER_PORT && syn->sport >= 49152);
    return c;
}

/* The full handshake with options; returns the established connection. */
static etls_tcp_conn_t *open_conn(env_t *e, seg_t *syn)
{
    etls_tcp_conn_t *c = start(e, syn);
    uint8_t o[40];
    uint32_t ol = synack_opts(o, syn->tsval);
    cap_clear(e);
    CHECK(peer_raw(e, syn->sport, PEER_ISN, syn->seq + 1, F_SYN | F_ACK, 65535, o, ol, NULL, 0) == 0);
    CHECK(e->cap.n == 1);
    CHECK(cap_get(e, 0)->flags == F_ACK && cap_get(e, 0)->ack == PEER_ISN + 1);
    CHECK(events_for(e, c) == ETLS_TCP_EV_CONNECTED);
    return c;
}

static void test_open(void)
{
    env_t *e = &E;
    env_init(e, NULL);
    seg_t syn;
    etls_tcp_conn_t *c = start(e, &syn);
    /* Our SYN offers everything the configuration enables. */
    CHECK(syn.has_mss && syn.mss == 1460 && syn.sack_ok && syn.has_ts && syn.tsecr == 0);
    CHECK(syn.has_ws && syn.ws == 1 && syn.wnd == 65535);
    CHECK(state_of(c) == ETLS_TCP_S_SYN_SENT);
    CHECK(!strcmp(etls_tcp_state_name(ETLS_TCP_S_SYN_SENT), "SYN-SENT"));
    CHECK(etls_tcp_conn_user(c) == (void *)e);
    CHECK(etls_tcp_write(c, "x", 1) == 0); /* nothing can be written before ESTABLISHED */
    CHECK(events_for(e, c) == 0);
    CHECK(etls_tcp_conn_count(e->s) == 1);

    /* The same tuple cannot be opened twice; another connect gets another port. */
    etls_tcp_conn_t *c2 = NULL;
    CHECK(etls_tcp_connect(e->s, SRV_ADDR, syn.sport, CLI_ADDR, PEER_PORT, NULL, e->now, &c2) ==
          ETLS_ERR_INVALID);
    cap_clear(e);
    CHECK(etls_tcp_connect(e->s, SRV_ADDR, 0, CLI_ADDR, PEER_PORT, NULL, e->now, &c2) == 0);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->sport != syn.sport && cap_get(e, 0)->seq != syn.seq);
    etls_tcp_abort(c2);
    CHECK(e->cap.n == 1); /* no RST for a connection the peer never heard of */

    /* SYN-ACK: ESTABLISHED, one ACK, options as negotiated. */
    uint8_t o[40];
    uint32_t ol = synack_opts(o, syn.tsval);
    e->now += 3 * MS;
    cap_clear(e);
    CHECK(peer_raw(e, syn.sport, PEER_ISN, syn.seq + 1, F_SYN | F_ACK, 65535, o, ol, NULL, 0) == 0);
    CHECK(e->cap.n == 1);
    const seg_t *a = cap_get(e, 0);
    CHECK(a->flags == F_ACK && a->seq == syn.seq + 1 && a->ack == PEER_ISN + 1);
    CHECK(a->has_ts && a->tsecr == 500 && a->len == 0);
    CHECK(events_for(e, c) == ETLS_TCP_EV_CONNECTED);
    etls_tcp_conn_info_t ci;
    etls_tcp_conn_info(c, &ci);
    CHECK(ci.state == ETLS_TCP_S_ESTABLISHED && ci.mss == 1400 - 12);
    CHECK(ci.snd_wscale == 3 && ci.rcv_wscale == 1 && ci.ts_ok && ci.sack_ok);
    CHECK(ci.snd_wnd == 65535); /* the SYN-ACK's window is not scaled */
    CHECK(ci.srtt_us == 3000);  /* RTT sampled from the SYN */
    CHECK(ci.lport == syn.sport && ci.rport == PEER_PORT && ci.raddr == CLI_ADDR);

    /* Data both ways. */
    CHECK(etls_tcp_write(c, "GET", 3) == 3);
    cap_clear(e);
    etls_tcp_flush(e->s, e->now);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->len == 3 && cap_get(e, 0)->seq == syn.seq + 1);
    CHECK(memcmp(cap_get(e, 0)->data, "GET", 3) == 0);
    uint32_t tsv = cap_get(e, 0)->tsval;
    ol = ts_only(o, 501, tsv);
    cap_clear(e);
    CHECK(peer_raw(e, syn.sport, PEER_ISN + 1, syn.seq + 4, F_ACK | F_PSH, 1000, o, ol, "OK", 2) == 0);
    CHECK(events_for(e, c) == ETLS_TCP_EV_READABLE);
    char buf[8];
    CHECK(etls_tcp_read(c, buf, sizeof buf) == 2 && memcmp(buf, "OK", 2) == 0);
    etls_tcp_conn_info(c, &ci);
    CHECK(ci.snd_wnd == 8000); /* scaled by 3 from now on */

    const etls_tcp_stats_t *st = etls_tcp_stats(e->s);
    CHECK(st->connects == 2 && st->connected == 1 && st->connect_refused == 0);
    etls_tcp_abort(c);

    /* A SYN-ACK without options: no timestamps, no scaling, the default MSS. */
    c = start(e, &syn);
    cap_clear(e);
    CHECK(peer_raw(e, syn.sport, 9, syn.seq + 1, F_SYN | F_ACK, 4000, NULL, 0, NULL, 0) == 0);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->flags == F_ACK && !cap_get(e, 0)->has_ts);
    CHECK(cap_get(e, 0)->hlen == 20 && cap_get(e, 0)->ack == 10);
    etls_tcp_conn_info(c, &ci);
    CHECK(ci.mss == 536 && !ci.ts_ok && !ci.sack_ok && ci.snd_wscale == 0 && ci.rcv_wscale == 0);
    CHECK(events_for(e, c) == ETLS_TCP_EV_CONNECTED);
    etls_tcp_abort(c);
    env_fini(e);
}

static void test_bad_ack(void)
{
    env_t *e = &E;
    env_init(e, NULL);
    seg_t syn;
    etls_tcp_conn_t *c = start(e, &syn);
    uint8_t o[40];
    uint32_t ol = synack_opts(o, syn.tsval);
    /* SYN-ACK acknowledging nothing we sent (ISS itself, or beyond SND.NXT): RST seq = SEG.ACK,
     * the connection waits on. */
    uint32_t bad[2] = {syn.seq, syn.seq + 5};
    for (int i = 0; i < 2; i++) {
        cap_clear(e);
        CHECK(peer_raw(e, syn.sport, PEER_ISN, bad[i], F_SYN | F_ACK, 65535, o, ol, NULL, 0) == 0);
        CHECK(e->cap.n == 1 && cap_get(e, 0)->flags == F_RST && cap_get(e, 0)->seq == bad[i]);
        CHECK(state_of(c) == ETLS_TCP_S_SYN_SENT);
    }
    /* A bare ACK (acceptable or not) and a bare SYN (simultaneous open): dropped. */
    uint64_t dropped = etls_tcp_stats(e->s)->dropped;
    cap_clear(e);
    CHECK(peer_raw(e, syn.sport, PEER_ISN, syn.seq + 1, F_ACK, 65535, NULL, 0, NULL, 0) == 0);
    CHECK(peer_raw(e, syn.sport, PEER_ISN, 0, F_SYN, 65535, o, ol, NULL, 0) == 0);
    CHECK(e->cap.n == 0 && state_of(c) == ETLS_TCP_S_SYN_SENT);
    CHECK(etls_tcp_stats(e->s)->dropped == dropped + 2);
    CHECK(events_for(e, c) == 0);
    /* The right SYN-ACK still works, data on it is not taken (the peer resends it). */
    cap_clear(e);
    CHECK(peer_raw(e, syn.sport, PEER_ISN, syn.seq + 1, F_SYN | F_ACK, 65535, o, ol, "early", 5) == 0);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->ack == PEER_ISN + 1);
    CHECK(events_for(e, c) == ETLS_TCP_EV_CONNECTED);
    CHECK(etls_tcp_readable(c) == 0);
    etls_tcp_abort(c);
    env_fini(e);
}

static void test_rst(void)
{
    env_t *e = &E;
    env_init(e, NULL);
    seg_t syn;
    etls_tcp_conn_t *c = start(e, &syn);
    cap_clear(e);
    /* RST without ACK, and RST|ACK with an unacceptable ACK: ignored, never answered. */
    CHECK(peer_raw(e, syn.sport, 0, 0, F_RST, 0, NULL, 0, NULL, 0) == 0);
    CHECK(peer_raw(e, syn.sport, 0, syn.seq + 7, F_RST | F_ACK, 0, NULL, 0, NULL, 0) == 0);
    CHECK(e->cap.n == 0 && state_of(c) == ETLS_TCP_S_SYN_SENT && events_for(e, c) == 0);
    /* RST|ACK covering our SYN: connection refused. */
    CHECK(peer_raw(e, syn.sport, 0, syn.seq + 1, F_RST | F_ACK, 0, NULL, 0, NULL, 0) == 0);
    CHECK(e->cap.n == 0);
    etls_tcp_event_t ev[4];
    CHECK(etls_tcp_events(e->s, ev, 4) == 1);
    CHECK(ev[0].conn == c && ev[0].events == ETLS_TCP_EV_RESET && ev[0].reason == ETLS_TCP_REASON_REFUSED);
    CHECK(ev[0].user == (void *)e);
    CHECK(state_of(c) == ETLS_TCP_S_CLOSED);
    CHECK(etls_tcp_stats(e->s)->connect_refused == 1);
    CHECK(etls_tcp_conn_count(e->s) == 1); /* held until the application lets go */
    etls_tcp_close(c);
    CHECK(etls_tcp_conn_count(e->s) == 0);
    /* The timer of the dead connection never fires. */
    cap_clear(e);
    advance(e, 5000 * MS);
    CHECK(e->cap.n == 0);
    env_fini(e);
}

static void test_syn_retransmit(void)
{
    env_t *e = &E;
    env_init(e, NULL);
    seg_t syn;
    etls_tcp_conn_t *c = start(e, &syn);
    uint64_t at = 1000 * MS;
    for (uint32_t i = 0; i < e->cfg.syn_retries; i++) {
        cap_clear(e);
        advance(e, at - 1 * MS);
        CHECK_MSG(e->cap.n == 0, "retry %u early", i);
        advance(e, 1 * MS);
        CHECK_MSG(e->cap.n == 1, "retry %u missing", i);
        CHECK(cap_get(e, 0)->flags == F_SYN && cap_get(e, 0)->seq == syn.seq);
        CHECK(cap_get(e, 0)->has_mss && cap_get(e, 0)->has_ts);
        at *= 2;
    }
    cap_clear(e);
    advance(e, at);
    CHECK(e->cap.n == 0);
    etls_tcp_event_t ev[4];
    CHECK(etls_tcp_events(e->s, ev, 4) == 1);
    CHECK(ev[0].conn == c && ev[0].events == ETLS_TCP_EV_RESET && ev[0].reason == ETLS_TCP_REASON_TIMEOUT);
    CHECK(etls_tcp_stats(e->s)->connect_timeouts == 1);
    etls_tcp_close(c);
    CHECK(etls_tcp_conn_count(e->s) == 0);

    /* A SYN the output refused leaves with the timer; the SYN-ACK after a retransmission gives
     * no RTT sample (Karn) and the RTO falls back to 3 s (RFC 6298 §5.7). */
    e->cap.refuse = 1;
    CHECK(etls_tcp_connect(e->s, SRV_ADDR, 50000, CLI_ADDR, PEER_PORT, NULL, e->now, &c) == 0);
    e->cap.refuse = 0;
    CHECK(e->cap.n == 0);
    advance(e, 1000 * MS);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->flags == F_SYN && cap_get(e, 0)->sport == 50000);
    syn = *cap_get(e, 0);
    cap_clear(e);
    CHECK(peer_raw(e, 50000, PEER_ISN, syn.seq + 1, F_SYN | F_ACK, 65535, NULL, 0, NULL, 0) == 0);
    CHECK(events_for(e, c) == ETLS_TCP_EV_CONNECTED);
    etls_tcp_conn_info_t ci;
    etls_tcp_conn_info(c, &ci);
    CHECK(ci.srtt_us == 0 && ci.rto_us == 3000000);
    etls_tcp_abort(c);
    env_fini(e);
}

static void test_simultaneous_close(void)
{
    env_t *e = &E;
    env_init(e, NULL);
    seg_t syn;
    etls_tcp_conn_t *c = open_conn(e, &syn);
    uint32_t my = syn.seq + 1, peer = PEER_ISN + 1;
    /* Both sides close at once: our FIN leaves, the peer's FIN crosses it (acking only the SYN). */
    CHECK(etls_tcp_shutdown(c) == 0);
    cap_clear(e);
    etls_tcp_flush(e->s, e->now);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->flags == (F_FIN | F_ACK) && cap_get(e, 0)->seq == my);
    uint32_t tsv = cap_get(e, 0)->tsval;
    CHECK(state_of(c) == ETLS_TCP_S_FIN_WAIT_1);
    uint8_t o[12];
    uint32_t ol = ts_only(o, 502, tsv);
    cap_clear(e);
    CHECK(peer_raw(e, syn.sport, peer, my, F_FIN | F_ACK, 65535, o, ol, NULL, 0) == 0);
    CHECK(state_of(c) == ETLS_TCP_S_CLOSING);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->flags == F_ACK && cap_get(e, 0)->ack == peer + 1);
    CHECK(events_for(e, c) == ETLS_TCP_EV_PEER_FIN);
    /* The peer's ACK of our FIN: TIME-WAIT, CLOSED reported. */
    ol = ts_only(o, 503, tsv);
    cap_clear(e);
    CHECK(peer_raw(e, syn.sport, peer + 1, my + 1, F_ACK, 65535, o, ol, NULL, 0) == 0);
    CHECK(e->cap.n == 0);
    CHECK(state_of(c) == ETLS_TCP_S_TIME_WAIT);
    CHECK(events_for(e, c) == ETLS_TCP_EV_CLOSED);
    etls_tcp_close(c);
    CHECK(etls_tcp_conn_count(e->s) == 1);
    advance(e, e->cfg.time_wait_us + 2 * MS);
    CHECK(etls_tcp_conn_count(e->s) == 0);
    env_fini(e);
}

static void test_close_early(void)
{
    env_t *e = &E;
    env_init(e, NULL);
    seg_t syn;
    etls_tcp_conn_t *c = start(e, &syn);
    cap_clear(e);
    etls_tcp_close(c); /* in SYN-SENT: gone at once, nothing sent */
    CHECK(e->cap.n == 0 && etls_tcp_conn_count(e->s) == 0);
    advance(e, 2000 * MS);
    CHECK(e->cap.n == 0);
    /* A late SYN-ACK finds no connection: RST (seq = SEG.ACK). */
    CHECK(peer_raw(e, syn.sport, PEER_ISN, syn.seq + 1, F_SYN | F_ACK, 65535, NULL, 0, NULL, 0) == 0);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->flags == F_RST && cap_get(e, 0)->seq == syn.seq + 1);
    CHECK(events_for(e, NULL) == 0);
    /* Arguments. */
    etls_tcp_conn_t *x = NULL;
    CHECK(etls_tcp_connect(e->s, 0, 0, CLI_ADDR, PEER_PORT, NULL, e->now, &x) == ETLS_ERR_INVALID);
    CHECK(etls_tcp_connect(e->s, SRV_ADDR, 0, CLI_ADDR, 0, NULL, e->now, &x) == ETLS_ERR_INVALID);
    /* Slots run out: LIMIT, nothing sent. */
    cap_clear(e);
    etls_tcp_conn_t *all[16];
    for (uint32_t i = 0; i < e->cfg.max_conns; i++)
        CHECK(etls_tcp_connect(e->s, SRV_ADDR, 0, CLI_ADDR, PEER_PORT, NULL, e->now, &all[i]) == 0);
    CHECK(e->cap.n == e->cfg.max_conns);
    CHECK(etls_tcp_connect(e->s, SRV_ADDR, 0, CLI_ADDR, PEER_PORT, NULL, e->now, &x) == ETLS_ERR_LIMIT);
    for (uint32_t i = 0; i < e->cfg.max_conns; i++)
        etls_tcp_abort(all[i]);
    CHECK(etls_tcp_conn_count(e->s) == 0);
    env_fini(e);
}

static const group_t groups[] = {
    {"open", test_open},
    {"bad_ack", test_bad_ack},
    {"rst", test_rst},
    {"syn_retransmit", test_syn_retransmit},
    {"simultaneous_close", test_simultaneous_close},
    {"close_early", test_close_early},
};

int main(int argc, char **argv)
{
    return run_groups(groups, sizeof groups / sizeof groups[0], "tcp_client_", argc, argv);
}
