/* Userspace TCP, packet by packet: a scripted client drives the server stack and every segment
 * the stack emits is checked field by field. Run with a group name (see main). */
#include <stdio.h>
#include <stdlib.h>

#include "tcp/tcp_int.h"
#include "tcp_harness.h"

static env_t E; /* big (captured segments): static */

/* ---- handshake ---- */

static void test_handshake(void)
{
    env_t *e = &E;
    env_init(e, NULL);
    cap_clear(e);
    CHECK(cli_syn(e, 40000, 0xfffffff0u, 1) == 0); /* ISN near wrap */
    CHECK(e->cap.n == 1);
    const seg_t *sa = cap_get(e, 0);
    CHECK(sa->flags == (F_SYN | F_ACK));
    CHECK(sa->ack == 0xfffffff1u);
    CHECK(sa->sport == SRV_PORT && sa->dport == 40000);
    CHECK(sa->has_mss && sa->mss == 1460);
    CHECK(sa->sack_ok);
    CHECK(sa->has_ts && sa->tsecr == 1000);
    CHECK(sa->has_ws && sa->ws == 1); /* 64 KiB ring needs scale 1 */
    CHECK(sa->wnd == 65535);
    CHECK(sa->hlen == 40);
    CHECK(sa->len == 0);
    uint32_t isn1 = sa->seq;
    CHECK(etls_tcp_conn_count(e->s) == 1);
    CHECK(events_for(e, NULL) == 0);

    /* The SYN again (our SYN-ACK was lost): the same SYN-ACK. */
    cap_clear(e);
    CHECK(cli_syn(e, 40000, 0xfffffff0u, 1) == 0);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->seq == isn1 && cap_get(e, 0)->flags == (F_SYN | F_ACK));
    CHECK(etls_tcp_conn_count(e->s) == 1);

    e->cli.srv_isn = isn1, e->cli.rcv = isn1 + 1, e->cli.ts_recent = sa->tsval;
    cap_clear(e);
    CHECK(cli_send(e, F_ACK, "hello", 5) == 0); /* data on the third segment */
    etls_tcp_event_t ev[2];
    CHECK(etls_tcp_events(e->s, ev, 2) == 1);
    CHECK(ev[0].events == (ETLS_TCP_EV_ACCEPTED | ETLS_TCP_EV_READABLE));
    etls_tcp_conn_info_t ci;
    etls_tcp_conn_info(ev[0].conn, &ci);
    CHECK(ci.state == ETLS_TCP_S_ESTABLISHED);
    CHECK(ci.mss == 1460 - 12);
    CHECK(ci.snd_wscale == 7 && ci.rcv_wscale == 1 && ci.ts_ok && ci.sack_ok);
    CHECK(ci.laddr == SRV_ADDR && ci.raddr == CLI_ADDR && ci.lport == SRV_PORT && ci.rport == 40000);
    char buf[16];
    CHECK(etls_tcp_read(ev[0].conn, buf, sizeof buf) == 5 && memcmp(buf, "hello", 5) == 0);
    CHECK(e->cap.n == 0); /* ACK delayed */
    advance(e, 39 * MS);
    CHECK(e->cap.n == 0);
    advance(e, 1 * MS);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->flags == F_ACK && cap_get(e, 0)->ack == 0xfffffff1u + 5);
    CHECK(cap_get(e, 0)->seq == isn1 + 1);
    CHECK(cap_get(e, 0)->hlen == 32 && cap_get(e, 0)->tsecr == e->cli.tsval);

    etls_tcp_config_t dc;
    etls_tcp_config_default(&dc);
    CHECK(dc.sack_permitted == 1 && dc.timestamps == 1 && dc.window_scale == 1);

    /* ISNs are keyed per tuple: another port gets an unrelated ISN. */
    cap_clear(e);
    CHECK(cli_syn(e, 40001, 0xfffffff0u, 0) == 0);
    CHECK(e->cap.n == 1);
    sa = cap_get(e, 0);
    CHECK(sa->seq != isn1 && sa->seq != isn1 + 1);
    CHECK(sa->has_mss && !sa->has_ts && !sa->has_ws && !sa->sack_ok && sa->hlen == 24);

    /* SYN to a port nobody listens on: RST|ACK, seq 0, ack SEG.SEQ+1. */
    uint8_t b[20] = {0};
    b[0] = 0x9c, b[1] = 0x42, b[2] = 0x00, b[3] = 81; /* dport 81 */
    b[4] = 0, b[5] = 0, b[6] = 0x03, b[7] = 0x09; /* seq 777 */
    b[12] = 5 << 4, b[13] = F_SYN;
    cap_clear(e);
    CHECK(etls_tcp_input(e->s, CLI_ADDR, SRV_ADDR, b, 20, e->now) == 0);
    CHECK(e->cap.n == 1);
    CHECK(cap_get(e, 0)->flags == (F_RST | F_ACK) && cap_get(e, 0)->seq == 0 && cap_get(e, 0)->ack == 778);
    CHECK(cap_get(e, 0)->sport == 81 && cap_get(e, 0)->dport == 40002);

    /* A stray ACK to the listener: RST with seq = SEG.ACK. */
    cap_clear(e);
    CHECK(cli_raw(e, 40003, 5000, 123456, F_ACK, 1000, NULL, 0, NULL, 0) == 0);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->flags == F_RST && cap_get(e, 0)->seq == 123456);
    /* A RST or a bare FIN to the listener: nothing. */
    cap_clear(e);
    CHECK(cli_raw(e, 40003, 5000, 0, F_RST, 1000, NULL, 0, NULL, 0) == 0);
    CHECK(cli_raw(e, 40003, 5000, 0, F_FIN, 1000, NULL, 0, NULL, 0) == 0);
    CHECK(e->cap.n == 0);
    env_fini(e);
}

static void test_synack_retransmit(void)
{
    env_t *e = &E;
    env_init(e, NULL);
    cap_clear(e);
    CHECK(cli_syn(e, 41000, 1, 1) == 0);
    CHECK(e->cap.n == 1);
    uint32_t isn = cap_get(e, 0)->seq;
    uint64_t at = 1000 * MS;
    for (uint32_t i = 0; i < e->cfg.syn_retries; i++) {
        cap_clear(e);
        advance(e, at - 1 * MS);
        CHECK_MSG(e->cap.n == 0, "retry %u early", i);
        advance(e, 1 * MS);
        CHECK_MSG(e->cap.n == 1, "retry %u missing", i);
        CHECK(cap_get(e, 0)->flags == (F_SYN | F_ACK) && cap_get(e, 0)->seq == isn);
        at *= 2;
    }
    CHECK(etls_tcp_conn_count(e->s) == 1);
    cap_clear(e);
    advance(e, at);
    CHECK(e->cap.n == 0);
    CHECK(etls_tcp_conn_count(e->s) == 0); /* given up, silently */
    CHECK(events_for(e, NULL) == 0);

    /* A retransmitted SYN-ACK gives no RTT sample (Karn); RTO starts at 3 s (RFC 6298 §5.7). */
    cap_clear(e);
    CHECK(cli_syn(e, 41002, 77, 1) == 0);
    advance(e, 1000 * MS);
    CHECK(e->cap.n == 2);
    e->cli.srv_isn = cap_get(e, 1)->seq, e->cli.rcv = e->cli.srv_isn + 1;
    e->cli.ts_recent = cap_get(e, 1)->tsval;
    CHECK(cli_send(e, F_ACK, NULL, 0) == 0);
    etls_tcp_event_t ev[2];
    CHECK(etls_tcp_events(e->s, ev, 2) == 1 && ev[0].events == ETLS_TCP_EV_ACCEPTED);
    etls_tcp_conn_info_t ci;
    etls_tcp_conn_info(ev[0].conn, &ci);
    CHECK(ci.rto_us == 3000000 && ci.srtt_us == 0);
    etls_tcp_abort(ev[0].conn);

    /* Wrong ACK number in SYN-RECEIVED: RST seq=SEG.ACK, the half-open conn stays. */
    cap_clear(e);
    CHECK(cli_syn(e, 41001, 1, 1) == 0);
    isn = cap_get(e, 0)->seq;
    cap_clear(e);
    e->cli.rcv = isn + 5;
    e->cli.ts_recent = 0;
    CHECK(cli_send(e, F_ACK, NULL, 0) == 0);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->flags == F_RST && cap_get(e, 0)->seq == isn + 5);
    CHECK(etls_tcp_conn_count(e->s) == 1);
    /* RST in window but not exact: challenge ACK; exact: the half-open conn is gone. */
    cap_clear(e);
    CHECK(cli_send_at(e, e->cli.nxt + 10, F_RST, NULL, 0) == 0);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->flags == F_ACK && cap_get(e, 0)->ack == e->cli.nxt);
    cap_clear(e);
    CHECK(cli_send_at(e, e->cli.nxt, F_RST, NULL, 0) == 0);
    CHECK(e->cap.n == 0 && etls_tcp_conn_count(e->s) == 0);
    CHECK(events_for(e, NULL) == 0);
    env_fini(e);
}

/* ---- data ---- */

static void test_data(void)
{
    env_t *e = &E;
    env_init(e, NULL);
    etls_tcp_conn_t *c = handshake(e, 42000, 1);
    CHECK(c != NULL);
    if (!c)
        return;
    static uint8_t big[200000], rd[200000];
    fill_pattern(big, sizeof big, 0);

    /* One full segment: ACK delayed; the second full segment: ACK at once. */
    cap_clear(e);
    CHECK(cli_send(e, F_ACK, big, 1448) == 0);
    CHECK(e->cap.n == 0);
    CHECK(events_for(e, c) == ETLS_TCP_EV_READABLE);
    CHECK(cli_send(e, F_ACK, big + 1448, 1448) == 0);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->flags == F_ACK && cap_get(e, 0)->ack == e->cli.nxt);
    CHECK(etls_tcp_readable(c) == 2896);
    const uint8_t *p;
    size_t n = etls_tcp_peek(c, &p);
    CHECK(n == 2896 && memcmp(p, big, n) == 0);
    etls_tcp_consume(c, 1000);
    CHECK(etls_tcp_readable(c) == 1896);
    CHECK(etls_tcp_read(c, rd, sizeof rd) == 1896 && memcmp(rd, big + 1000, 1896) == 0);
    CHECK(events_for(e, c) == ETLS_TCP_EV_READABLE);
    /* Consuming 2896 bytes of a 64 KiB window is no reason for a window update. */
    cap_clear(e);
    etls_tcp_flush(e->s, e->now);
    CHECK(e->cap.n == 0);

    /* Writes leave at flush, in MSS segments, PSH on the last, ACK piggybacked. */
    CHECK(etls_tcp_write(c, big, 3000) == 3000);
    CHECK(e->cap.n == 0);
    etls_tcp_flush(e->s, e->now);
    CHECK(e->cap.n == 3);
    uint32_t s0 = e->cli.srv_isn + 1;
    for (int i = 0; i < 3; i++) {
        const seg_t *g = cap_get(e, (size_t)i);
        uint32_t want = i < 2 ? 1448 : 104;
        CHECK(g->len == want && g->seq == s0 + (uint32_t)i * 1448 && g->ack == e->cli.nxt);
        CHECK(g->flags == (F_ACK | (i == 2 ? F_PSH : 0)));
        CHECK(check_pattern(g->data, g->len, (uint32_t)i * 1448));
        CHECK(g->has_ts && g->tsecr == e->cli.tsval);
        CHECK(g->wnd == (65536 - 0) >> 1 || g->wnd == 32767);
    }
    CHECK(etls_tcp_send_space(c) == 65536 - 3000);
    cap_clear(e);
    e->cli.rcv += 3000;
    CHECK(cli_send(e, F_ACK, NULL, 0) == 0);
    CHECK(e->cap.n == 0);
    CHECK(etls_tcp_send_space(c) == 65536);

    /* The congestion window: IW10 (14480) grew by one MSS for the ACK of 3000 bytes (RFC 5681
     * slow start: at most SMSS per ACK), then the ACK clock. */
    cap_clear(e);
    CHECK(etls_tcp_write(c, big, 100000) == 65536);
    CHECK(events_for(e, c) == 0);
    etls_tcp_flush(e->s, e->now);
    CHECK_MSG(e->cap.n == 11, "cwnd %zu", e->cap.n);
    uint32_t base = e->cli.rcv;
    for (size_t i = 0; i < e->cap.n; i++)
        CHECK(cap_get(e, i)->seq == base + (uint32_t)i * 1448 && cap_get(e, i)->len == 1448);
    cap_clear(e);
    e->cli.rcv = base + 2 * 1448; /* ACK 2 segments: slow start sends 2 + 2 */
    CHECK(cli_send(e, F_ACK, NULL, 0) == 0);
    CHECK_MSG(e->cap.n == 3, "after ack %zu", e->cap.n); /* 9 in flight, cwnd 12 */
    /* WRITABLE after a short write once space frees */
    CHECK(events_for(e, c) == ETLS_TCP_EV_WRITABLE);
    CHECK(etls_tcp_send_space(c) == 2 * 1448);

    /* The peer's window limits us: window 2000 bytes (scale 7 → field 15 = 1920). */
    env_fini(e);
    env_init(e, NULL);
    c = handshake(e, 42001, 1);
    e->cli.wnd = 15;
    CHECK(cli_send(e, F_ACK, NULL, 0) == 0);
    cap_clear(e);
    CHECK(etls_tcp_write(c, big, 10000) == 10000);
    etls_tcp_flush(e->s, e->now);
    /* 1448 fits; the 472-byte runt waits (sender SWS: more data queued, window crowded,
     * something in flight, and 472 < half the largest window the peer ever offered). */
    CHECK(e->cap.n == 1 && cap_get(e, 0)->len == 1448);
    cap_clear(e);
    e->cli.rcv += 1448;
    CHECK(cli_send(e, F_ACK, NULL, 0) == 0);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->len == 1448 && cap_get(e, 0)->seq == e->cli.rcv);
    cap_clear(e);
    e->cli.rcv += 1448;
    e->cli.wnd = 1; /* 128 bytes, nothing in flight: the runt goes (no deadlock) */
    CHECK(cli_send(e, F_ACK, NULL, 0) == 0);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->len == 128);
    env_fini(e);
}

/* ---- out of order, duplicates, overlaps ---- */

static void test_ooo(void)
{
    env_t *e = &E;
    etls_tcp_config_t cfg;
    env_config(&cfg);
    cfg.ooo_max_ranges = 2;
    cfg.ooo_max_bytes = 8000;
    env_init(e, &cfg);
    etls_tcp_conn_t *c = handshake(e, 43000, 1);
    if (!c)
        return;
    static uint8_t big[100000];
    fill_pattern(big, sizeof big, 0);
    uint32_t b = e->cli.nxt;
    cap_clear(e);
    /* [1000,2000) before [0,1000): immediate duplicate ACK, nothing readable */
    CHECK(cli_send_at(e, b + 1000, F_ACK, big + 1000, 1000) == 0);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->ack == b && cap_get(e, 0)->len == 0);
    CHECK(etls_tcp_readable(c) == 0 && events_for(e, c) == 0);
    /* a duplicate of it, and an overlap [1500,2500) */
    CHECK(cli_send_at(e, b + 1000, F_ACK, big + 1000, 1000) == 0);
    CHECK(cli_send_at(e, b + 1500, F_ACK, big + 1500, 1000) == 0);
    /* a second hole range [4000,5000), a third [6000,7000) is beyond the 2-range limit */
    CHECK(cli_send_at(e, b + 4000, F_ACK, big + 4000, 1000) == 0);
    CHECK(cli_send_at(e, b + 6000, F_ACK, big + 6000, 1000) == 0);
    CHECK(etls_tcp_stats(e->s)->ooo_dropped == 1);
    CHECK(e->cap.n == 5);
    for (size_t i = 0; i < e->cap.n; i++)
        CHECK(cap_get(e, i)->ack == b && cap_get(e, i)->len == 0);
    /* SACK blocks (RFC 2018): the newest segment's range first */
    CHECK(cap_get(e, 0)->nsack == 1 && cap_get(e, 0)->sack[0][0] == b + 1000 && cap_get(e, 0)->sack[0][1] == b + 2000);
    CHECK(cap_get(e, 2)->nsack == 1 && cap_get(e, 2)->sack[0][0] == b + 1000 && cap_get(e, 2)->sack[0][1] == b + 2500);
    CHECK(cap_get(e, 3)->nsack == 2 && cap_get(e, 3)->sack[0][0] == b + 4000 && cap_get(e, 3)->sack[0][1] == b + 5000);
    CHECK(cap_get(e, 3)->sack[1][0] == b + 1000 && cap_get(e, 3)->sack[1][1] == b + 2500);
    CHECK(cap_get(e, 3)->hlen == 20 + 12 + 4 + 16);
    CHECK(cap_get(e, 4)->nsack == 2 && cap_get(e, 4)->sack[0][0] == b + 4000); /* dropped: unchanged */
    /* fill [0,1000): ACK jumps to 2500, immediately (hole filled) */
    cap_clear(e);
    CHECK(cli_send_at(e, b, F_ACK, big, 1000) == 0);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->ack == b + 2500);
    CHECK(cap_get(e, 0)->nsack == 1 && cap_get(e, 0)->sack[0][0] == b + 4000 && cap_get(e, 0)->sack[0][1] == b + 5000);
    CHECK(etls_tcp_readable(c) == 2500);
    /* [2000,4500) overlaps delivered data and the queued range: ACK to 5000 */
    cap_clear(e);
    CHECK(cli_send_at(e, b + 2000, F_ACK, big + 2000, 2500) == 0);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->ack == b + 5000 && cap_get(e, 0)->nsack == 0);
    CHECK(etls_tcp_readable(c) == 5000);
    /* old duplicate: immediate ACK, nothing changes */
    cap_clear(e);
    CHECK(cli_send_at(e, b + 100, F_ACK, big + 100, 500) == 0);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->ack == b + 5000);
    static uint8_t rd[10000];
    CHECK(etls_tcp_read(c, rd, sizeof rd) == 5000);
    CHECK(memcmp(rd, big, 5000) == 0);
    /* the byte limit: 8000 queued bytes max */
    cap_clear(e);
    uint64_t dropped = etls_tcp_stats(e->s)->ooo_dropped;
    CHECK(cli_send_at(e, b + 6000, F_ACK, big + 6000, 7000) == 0);
    CHECK(etls_tcp_stats(e->s)->ooo_dropped == dropped);
    CHECK(cli_send_at(e, b + 13000, F_ACK, big + 13000, 1001) == 0); /* 8001 bytes: dropped */
    CHECK(etls_tcp_stats(e->s)->ooo_dropped == dropped + 1);
    CHECK(cli_send_at(e, b + 5000, F_ACK, big + 5000, 1000) == 0);
    CHECK(etls_tcp_readable(c) == 8000);
    CHECK(etls_tcp_read(c, rd, sizeof rd) == 8000 && memcmp(rd, big + 5000, 8000) == 0);
    /* OOO FIN: delivered when the hole fills */
    e->cli.nxt = b + 13000;
    (void)events_for(e, c);
    cap_clear(e);
    CHECK(cli_send_at(e, b + 14000, F_ACK | F_FIN, big + 14000, 500) == 0);
    CHECK(events_for(e, c) == 0);
    CHECK(cli_send_at(e, b + 13000, F_ACK, big + 13000, 1000) == 0);
    CHECK(events_for(e, c) == (ETLS_TCP_EV_READABLE | ETLS_TCP_EV_PEER_FIN));
    CHECK(e->cap.n == 2 && cap_get(e, 1)->ack == b + 14501);
    etls_tcp_conn_info_t ci;
    etls_tcp_conn_info(c, &ci);
    CHECK(ci.state == ETLS_TCP_S_CLOSE_WAIT);
    CHECK(etls_tcp_read(c, rd, sizeof rd) == 1500 && memcmp(rd, big + 13000, 1500) == 0);
    env_fini(e);
}


static etls_tcp_conn_info_t info(etls_tcp_conn_t *c)
{
    etls_tcp_conn_info_t i;
    etls_tcp_conn_info(c, &i);
    return i;
}

/* The client acknowledges everything up to ack, echoing the newest TSval it saw. */
static void cli_ack(env_t *e, uint32_t ack)
{
    if (e->cap.n)
        e->cli.ts_recent = e->cap.segs[e->cap.n - 1].tsval;
    e->cli.rcv = ack;
    cap_clear(e);
    CHECK(cli_send(e, F_ACK, NULL, 0) == 0);
}

static etls_tcp_conn_t *open_conn(env_t *e, uint16_t port)
{
    etls_tcp_conn_t *c = handshake(e, port, 1);
    CHECK(c != NULL);
    return c;
}

/* ---- retransmission timer ---- */

static void test_rto(void)
{
    env_t *e = &E;
    static uint8_t big[50000];
    fill_pattern(big, sizeof big, 0);
    env_init(e, NULL);
    etls_tcp_conn_t *c = handshake(e, 44000, 1);
    if (!c)
        return;
    CHECK(info(c).rto_us == 200000); /* sample 0 ms → the 200 ms floor */
    uint32_t b = e->cli.rcv;
    cap_clear(e);
    CHECK(etls_tcp_write(c, big, 1000) == 1000);
    etls_tcp_flush(e->s, e->now);
    CHECK(e->cap.n == 1);
    uint64_t wait = 200 * MS;
    for (int i = 0; i < 3; i++) {
        cap_clear(e);
        advance(e, wait - 1 * MS);
        CHECK_MSG(e->cap.n == 0, "rto %d early", i);
        advance(e, 1 * MS);
        CHECK_MSG(e->cap.n == 1, "rto %d missing", i);
        CHECK(cap_get(e, 0)->seq == b && cap_get(e, 0)->len == 1000 && check_pattern(cap_get(e, 0)->data, 1000, 0));
        wait *= 2; /* exponential backoff */
    }
    CHECK(info(c).retransmits == 3 && etls_tcp_stats(e->s)->rto_fired == 3);
    cli_ack(e, b + 1000);
    CHECK(e->cap.n == 0);
    advance(e, 10000 * MS);
    CHECK(e->cap.n == 0); /* all acked: no timer */
    CHECK(etls_tcp_next_deadline(e->s) == UINT64_MAX);

    /* Go-back-N after a timeout: one segment (cwnd 1 MSS), then slow start resends the rest. */
    env_fini(e);
    env_init(e, NULL);
    c = handshake(e, 44003, 1);
    b = e->cli.rcv;
    cap_clear(e);
    CHECK(etls_tcp_write(c, big, 3 * 1448) == 3 * 1448);
    etls_tcp_flush(e->s, e->now);
    CHECK(e->cap.n == 3);
    CHECK(etls_tcp_next_deadline(e->s) <= e->now + 200 * MS);
    cap_clear(e);
    advance(e, 200 * MS);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->seq == b && cap_get(e, 0)->len == 1448);
    CHECK(info(c).cwnd == 1448 && info(c).ssthresh == 2 * 1448);
    cli_ack(e, b + 1448);
    CHECK(e->cap.n == 2 && cap_get(e, 0)->seq == b + 1448 && cap_get(e, 1)->seq == b + 2896);
    cli_ack(e, b + 3 * 1448);
    env_fini(e);

    /* Retries exhausted: RST, and RESET(TIMEOUT) for the application. */
    etls_tcp_config_t cfg;
    env_config(&cfg);
    cfg.max_retries = 3;
    env_init(e, &cfg);
    c = handshake(e, 44001, 1);
    CHECK(etls_tcp_write(c, big, 100) == 100);
    etls_tcp_flush(e->s, e->now);
    cap_clear(e);
    advance(e, 200 * MS), advance(e, 400 * MS), advance(e, 800 * MS);
    CHECK(e->cap.n == 3);
    advance(e, 1600 * MS);
    CHECK(e->cap.n == 4 && cap_get(e, 3)->flags == (F_RST | F_ACK) && cap_get(e, 3)->seq == e->cli.rcv + 100);
    etls_tcp_event_t ev[2];
    CHECK(etls_tcp_events(e->s, ev, 2) == 1 && ev[0].events == ETLS_TCP_EV_RESET && ev[0].reason == ETLS_TCP_REASON_TIMEOUT);
    CHECK(info(c).state == ETLS_TCP_S_CLOSED && etls_tcp_write(c, big, 10) == 0);
    etls_tcp_close(c);
    CHECK(etls_tcp_conn_count(e->s) == 0);
    env_fini(e);

    /* Without timestamps: RTT timed on one segment at a time (RFC 6298 + Karn). */
    env_config(&cfg);
    cfg.rto_min_us = 10000;
    cfg.delack_us = 5000;
    env_init(e, &cfg);
    cap_clear(e);
    CHECK(cli_syn(e, 44002, 5, 0) == 0);
    e->cli.srv_isn = cap_get(e, 0)->seq, e->cli.rcv = e->cli.srv_isn + 1;
    e->now += 50 * MS;
    CHECK(cli_send(e, F_ACK, NULL, 0) == 0);
    CHECK(etls_tcp_events(e->s, ev, 2) == 1);
    c = ev[0].conn;
    CHECK(info(c).srtt_us == 50000 && info(c).rto_us == 150000);
    cap_clear(e);
    CHECK(etls_tcp_write(c, big, 500) == 500);
    etls_tcp_flush(e->s, e->now);
    e->now += 30 * MS;
    cli_ack(e, e->cli.rcv + 500);
    CHECK_MSG(info(c).srtt_us == 47500 && info(c).rto_us == 47500 + 4 * 23750, "srtt %u rto %u",
              info(c).srtt_us, info(c).rto_us);
    env_fini(e);
}

/* ---- fast retransmit and NewReno ---- */

static void test_fast_retransmit(void)
{
    env_t *e = &E;
    static uint8_t big[50000];
    fill_pattern(big, sizeof big, 0);
    env_init(e, NULL);
    etls_tcp_conn_t *c = handshake(e, 45000, 1);
    if (!c)
        return;
    const uint32_t M = 1448;
    uint32_t b = e->cli.rcv;
    cap_clear(e);
    CHECK(etls_tcp_write(c, big, 10 * M) == 10 * M);
    etls_tcp_flush(e->s, e->now);
    CHECK(e->cap.n == 10);
    cli_ack(e, b + 2 * M);
    CHECK(e->cap.n == 0);
    /* duplicates: two, one with a changed window (not a duplicate), then the third */
    cli_ack(e, b + 2 * M);
    cli_ack(e, b + 2 * M);
    CHECK(e->cap.n == 0);
    e->cli.wnd = 60000;
    cli_ack(e, b + 2 * M);
    CHECK(e->cap.n == 0);
    cli_ack(e, b + 2 * M);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->seq == b + 2 * M && cap_get(e, 0)->len == M);
    CHECK(check_pattern(cap_get(e, 0)->data, M, 2 * M));
    CHECK(etls_tcp_stats(e->s)->fast_retransmits == 1);
    CHECK(info(c).ssthresh == 4 * M && info(c).cwnd == 7 * M);
    cli_ack(e, b + 2 * M); /* inflates, nothing new to send */
    CHECK(e->cap.n == 0 && info(c).cwnd == 8 * M);
    /* partial ACK: next hole resent at once */
    cli_ack(e, b + 5 * M);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->seq == b + 5 * M && cap_get(e, 0)->len == M);
    CHECK(info(c).cwnd == 8 * M - 3 * M + M);
    /* full ACK: out of recovery, cwnd = min(ssthresh, flight + MSS) */
    cli_ack(e, b + 10 * M);
    CHECK(e->cap.n == 0 && info(c).cwnd == 2 * M);
    /* a new burst and three duplicates again: a new recovery (recover was passed) */
    cap_clear(e);
    CHECK(etls_tcp_write(c, big, 4 * M) == 4 * M);
    etls_tcp_flush(e->s, e->now);
    CHECK(e->cap.n == 2); /* cwnd 2 MSS */
    /* limited transmit (RFC 3042): the first two duplicates each release one new segment */
    cli_ack(e, b + 10 * M);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->seq == b + 12 * M);
    cli_ack(e, b + 10 * M);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->seq == b + 13 * M);
    cli_ack(e, b + 10 * M);
    CHECK(etls_tcp_stats(e->s)->fast_retransmits == 2);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->seq == b + 10 * M);
    CHECK(info(c).ssthresh == 2 * M && info(c).cwnd == 5 * M);
    env_fini(e);
}

/* ---- windows ---- */

static void test_windows(void)
{
    env_t *e = &E;
    static uint8_t big[100000];
    fill_pattern(big, sizeof big, 0);
    env_init(e, NULL);
    etls_tcp_conn_t *c = handshake(e, 46000, 1);
    if (!c)
        return;
    uint32_t b = e->cli.rcv;
    cap_clear(e);
    CHECK(etls_tcp_write(c, big, 3000) == 3000);
    etls_tcp_flush(e->s, e->now);
    e->cli.wnd = 0;
    cli_ack(e, b + 3000);
    CHECK(etls_tcp_write(c, big, 1000) == 1000);
    etls_tcp_flush(e->s, e->now);
    CHECK(e->cap.n == 0); /* zero window */
    advance(e, 199 * MS);
    CHECK(e->cap.n == 0);
    advance(e, 1 * MS);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->seq == b + 3000 - 1 && cap_get(e, 0)->len == 0);
    cli_ack(e, b + 3000); /* still zero */
    advance(e, 399 * MS);
    CHECK(e->cap.n == 0);
    advance(e, 1 * MS);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->seq == b + 2999);
    CHECK(etls_tcp_stats(e->s)->zwp_sent == 2);
    e->cli.wnd = 100; /* 12800 bytes */
    cli_ack(e, b + 3000);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->seq == b + 3000 && cap_get(e, 0)->len == 1000);
    cli_ack(e, b + 4000);
    advance(e, 5000 * MS);
    CHECK(e->cap.n == 0);

    /* Our receive window: fill the 64 KiB ring without reading. */
    e->cli.wnd = 65535;
    uint32_t cb = e->cli.nxt, last_edge = 0;
    cap_clear(e);
    for (uint32_t off = 0; off < 65536; off += 1448) {
        uint32_t n = 65536 - off < 1448 ? 65536 - off : 1448;
        CHECK(cli_send(e, F_ACK, big + off, n) == 0);
    }
    advance(e, 40 * MS);
    CHECK(e->cap.n >= 22);
    for (size_t i = 0; i < e->cap.n; i++) {
        const seg_t *g = cap_get(e, i);
        uint32_t edge = g->ack + ((uint32_t)g->wnd << 1);
        CHECK_MSG(edge - cb <= 65536, "window beyond the ring");
        CHECK_MSG(edge >= last_edge, "right edge moved left");
        last_edge = edge;
    }
    const seg_t *g = cap_get(e, e->cap.n - 1);
    CHECK(g->ack == cb + 65536 && g->wnd == 0);
    CHECK(etls_tcp_readable(c) == 65536);
    /* beyond the window: dropped and ACKed with window 0 */
    cap_clear(e);
    CHECK(cli_send_at(e, cb + 65536, F_ACK, big, 100) == 0);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->ack == cb + 65536 && cap_get(e, 0)->wnd == 0);
    CHECK(etls_tcp_readable(c) == 65536);
    /* a zero-window probe from the client (old seq) gets the same answer */
    cap_clear(e);
    CHECK(cli_send_at(e, cb + 65535, F_ACK, NULL, 0) == 0);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->wnd == 0);
    /* reading 100 bytes: no update (receiver SWS) */
    static uint8_t rd[70000];
    cap_clear(e);
    CHECK(etls_tcp_read(c, rd, 100) == 100);
    etls_tcp_flush(e->s, e->now);
    CHECK(e->cap.n == 0);
    CHECK(etls_tcp_read(c, rd + 100, 32668) == 32668);
    etls_tcp_flush(e->s, e->now);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->ack == cb + 65536 && cap_get(e, 0)->wnd == 32768 / 2);
    CHECK(etls_tcp_read(c, rd + 32768, sizeof rd) == 32768);
    CHECK(memcmp(rd, big, 65536) == 0);
    env_fini(e);

    /* A released connection facing a zero window for ever is given up after max_retries
     * probes, answered or not (an open one would keep probing while the peer answers). */
    etls_tcp_config_t cfg;
    env_config(&cfg);
    cfg.max_retries = 3;
    env_init(e, &cfg);
    c = open_conn(e, 46001);
    e->cli.wnd = 0;
    cli_ack(e, e->cli.rcv);
    CHECK(etls_tcp_write(c, big, 1000) == 1000);
    etls_tcp_close(c);
    etls_tcp_flush(e->s, e->now);
    CHECK(e->cap.n == 0);
    for (int i = 0; i < 3; i++) {
        advance(e, (200 * MS) << i);
        CHECK_MSG(e->cap.n == 1 && cap_get(e, 0)->len == 0 && cap_get(e, 0)->seq == e->cli.rcv - 1, "probe %d", i);
        cli_ack(e, e->cli.rcv);
        CHECK(e->cap.n == 0);
    }
    advance(e, 1600 * MS);
    CHECK(e->cap.n == 1 && (cap_get(e, 0)->flags & F_RST));
    CHECK(etls_tcp_conn_count(e->s) == 0);
    env_fini(e);
}

/* ---- connection close in every state ---- */

static void test_close(void)
{
    env_t *e = &E;
    etls_tcp_config_t cfg;
    env_config(&cfg);
    cfg.fin_wait2_us = 3000000;
    env_init(e, &cfg);

    /* passive close: FIN → CLOSE-WAIT → response + FIN → LAST-ACK → CLOSED */
    etls_tcp_conn_t *c = open_conn(e, 47000);
    cap_clear(e);
    CHECK(cli_send(e, F_ACK | F_FIN, "req", 3) == 0);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->ack == e->cli.nxt && cap_get(e, 0)->flags == F_ACK);
    CHECK(events_for(e, c) == (ETLS_TCP_EV_READABLE | ETLS_TCP_EV_PEER_FIN));
    CHECK(info(c).state == ETLS_TCP_S_CLOSE_WAIT);
    char buf[8];
    CHECK(etls_tcp_read(c, buf, 8) == 3 && etls_tcp_readable(c) == 0);
    cap_clear(e);
    CHECK(etls_tcp_write(c, "resp", 4) == 4);
    CHECK(etls_tcp_shutdown(c) == 0);
    CHECK(etls_tcp_write(c, "x", 1) == 0);
    CHECK(info(c).state == ETLS_TCP_S_LAST_ACK);
    etls_tcp_flush(e->s, e->now);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->flags == (F_ACK | F_PSH | F_FIN) && cap_get(e, 0)->len == 4);
    cli_ack(e, e->cli.rcv + 5);
    CHECK(e->cap.n == 0);
    CHECK(events_for(e, c) == ETLS_TCP_EV_CLOSED);
    CHECK(info(c).state == ETLS_TCP_S_CLOSED && etls_tcp_conn_count(e->s) == 1);
    etls_tcp_close(c);
    CHECK(etls_tcp_conn_count(e->s) == 0);

    /* active close: FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT → gone */
    c = open_conn(e, 47001);
    cap_clear(e);
    CHECK(etls_tcp_shutdown(c) == 0);
    etls_tcp_flush(e->s, e->now);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->flags == (F_ACK | F_FIN) && cap_get(e, 0)->seq == e->cli.rcv);
    CHECK(info(c).state == ETLS_TCP_S_FIN_WAIT_1);
    /* the FIN is retransmitted by the timer */
    cap_clear(e);
    advance(e, 200 * MS);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->flags == (F_ACK | F_FIN));
    cli_ack(e, e->cli.rcv + 1);
    CHECK(info(c).state == ETLS_TCP_S_FIN_WAIT_2);
    CHECK(cli_send(e, F_ACK, "late", 4) == 0); /* data still accepted in FIN-WAIT-2 */
    CHECK(etls_tcp_readable(c) == 4);
    cap_clear(e);
    CHECK(cli_send(e, F_ACK | F_FIN, NULL, 0) == 0);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->ack == e->cli.nxt);
    CHECK(info(c).state == ETLS_TCP_S_TIME_WAIT);
    CHECK(events_for(e, c) == (ETLS_TCP_EV_READABLE | ETLS_TCP_EV_PEER_FIN | ETLS_TCP_EV_CLOSED));
    CHECK(etls_tcp_read(c, buf, 8) == 4);
    etls_tcp_close(c); /* handle released; TIME-WAIT continues alone */
    CHECK(etls_tcp_conn_count(e->s) == 1);
    /* a retransmitted FIN is ACKed again */
    cap_clear(e);
    CHECK(cli_send_at(e, e->cli.nxt - 1, F_ACK | F_FIN, NULL, 0) == 0);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->ack == e->cli.nxt);
    advance(e, 1999 * MS);
    CHECK(etls_tcp_conn_count(e->s) == 1);
    advance(e, 1 * MS);
    CHECK(etls_tcp_conn_count(e->s) == 0);
    CHECK(events_for(e, NULL) == 0);

    /* simultaneous close: FIN-WAIT-1 → CLOSING → TIME-WAIT */
    c = open_conn(e, 47002);
    CHECK(etls_tcp_shutdown(c) == 0);
    etls_tcp_flush(e->s, e->now);
    cap_clear(e);
    CHECK(cli_send(e, F_ACK | F_FIN, NULL, 0) == 0); /* does not ack our FIN */
    CHECK(info(c).state == ETLS_TCP_S_CLOSING);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->ack == e->cli.nxt);
    cli_ack(e, e->cli.rcv + 1);
    CHECK(info(c).state == ETLS_TCP_S_TIME_WAIT);
    /* TIME-WAIT reuse: a new SYN with a newer timestamp opens a new connection */
    etls_tcp_close(c);
    (void)events_for(e, NULL);
    cap_clear(e);
    e->cli.tsval += 100;
    uint8_t o[24] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10};
    o[8] = (uint8_t)(e->cli.tsval >> 24), o[9] = (uint8_t)(e->cli.tsval >> 16), o[10] = (uint8_t)(e->cli.tsval >> 8), o[11] = (uint8_t)e->cli.tsval;
    o[16] = 1, o[17] = 3, o[18] = 3, o[19] = 7;
    CHECK(cli_raw(e, 47002, e->cli.nxt + 100000, 0, F_SYN, 65535, o, 20, NULL, 0) == 0);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->flags == (F_SYN | F_ACK));
    CHECK(etls_tcp_stats(e->s)->time_wait_reused == 1 && etls_tcp_conn_count(e->s) == 1);
    cap_clear(e);
    CHECK(cli_raw(e, 47002, e->cli.nxt + 100001, 0, F_RST, 0, NULL, 0, NULL, 0) == 0);
    CHECK(etls_tcp_conn_count(e->s) == 0);

    /* FIN+ACK in FIN-WAIT-1 acking our FIN: straight to TIME-WAIT */
    c = open_conn(e, 47003);
    CHECK(etls_tcp_shutdown(c) == 0);
    etls_tcp_flush(e->s, e->now);
    e->cli.rcv += 1;
    cap_clear(e);
    CHECK(cli_send(e, F_ACK | F_FIN, NULL, 0) == 0);
    CHECK(info(c).state == ETLS_TCP_S_TIME_WAIT && e->cap.n == 1);
    etls_tcp_close(c);
    advance(e, 2000 * MS);
    CHECK(etls_tcp_conn_count(e->s) == 0);

    /* close() with unread data: RST */
    c = open_conn(e, 47004);
    CHECK(cli_send(e, F_ACK, "unread", 6) == 0);
    cap_clear(e);
    etls_tcp_close(c);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->flags == (F_RST | F_ACK) && cap_get(e, 0)->seq == e->cli.rcv);
    CHECK(etls_tcp_conn_count(e->s) == 0);
    CHECK(events_for(e, NULL) == 0);

    /* close() and a silent peer: FIN-WAIT-2 times out */
    c = open_conn(e, 47005);
    etls_tcp_close(c);
    etls_tcp_flush(e->s, e->now);
    cli_ack(e, e->cli.rcv + 1);
    CHECK(etls_tcp_conn_count(e->s) == 1);
    advance(e, 3000 * MS);
    CHECK(etls_tcp_conn_count(e->s) == 0);

    /* new data after close(): RST */
    c = open_conn(e, 47006);
    etls_tcp_close(c);
    etls_tcp_flush(e->s, e->now);
    e->cli.rcv += 1;
    cap_clear(e);
    CHECK(cli_send(e, F_ACK, "more", 4) == 0);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->flags & F_RST);
    CHECK(etls_tcp_conn_count(e->s) == 0);

    /* abort: RST at once */
    c = open_conn(e, 47007);
    cap_clear(e);
    etls_tcp_abort(c);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->flags == (F_RST | F_ACK));
    CHECK(etls_tcp_conn_count(e->s) == 0);
    env_fini(e);
}

/* ---- RST, SYN and ACK validation (RFC 5961) in every state ---- */

static void rst_in_state(env_t *e, uint16_t port, int st)
{
    etls_tcp_conn_t *c = open_conn(e, port);
    if (!c)
        return;
    if (st == ETLS_TCP_S_CLOSE_WAIT || st == ETLS_TCP_S_LAST_ACK)
        CHECK(cli_send(e, F_ACK | F_FIN, NULL, 0) == 0);
    if (st == ETLS_TCP_S_FIN_WAIT_1 || st == ETLS_TCP_S_FIN_WAIT_2 || st == ETLS_TCP_S_LAST_ACK ||
        st == ETLS_TCP_S_CLOSING) {
        CHECK(etls_tcp_shutdown(c) == 0);
        etls_tcp_flush(e->s, e->now);
    }
    if (st == ETLS_TCP_S_FIN_WAIT_2)
        cli_ack(e, e->cli.rcv + 1);
    if (st == ETLS_TCP_S_CLOSING)
        CHECK(cli_send(e, F_ACK | F_FIN, NULL, 0) == 0);
    CHECK_MSG(info(c).state == (uint32_t)st, "in %s, wanted %s", etls_tcp_state_name(info(c).state),
              etls_tcp_state_name((uint32_t)st));
    (void)events_for(e, c);
    /* out of window: ignored */
    cap_clear(e);
    CHECK(cli_send_at(e, e->cli.nxt + 200000, F_RST, NULL, 0) == 0);
    CHECK(e->cap.n == 0 && info(c).state == (uint32_t)st);
    /* in window, not exact: challenge ACK */
    CHECK(cli_send_at(e, e->cli.nxt + 1, F_RST, NULL, 0) == 0);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->flags == F_ACK && cap_get(e, 0)->ack == e->cli.nxt);
    CHECK(info(c).state == (uint32_t)st);
    /* SYN: challenge ACK */
    cap_clear(e);
    CHECK(cli_send_at(e, e->cli.nxt + 5, F_SYN, NULL, 0) == 0);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->flags == F_ACK && cap_get(e, 0)->ack == e->cli.nxt);
    /* exact: the connection is reset */
    cap_clear(e);
    CHECK(cli_send_at(e, e->cli.nxt, F_RST, NULL, 0) == 0);
    CHECK(e->cap.n == 0);
    etls_tcp_event_t ev[2];
    CHECK(etls_tcp_events(e->s, ev, 2) == 1 && ev[0].conn == c && (ev[0].events & ETLS_TCP_EV_RESET) &&
          ev[0].reason == ETLS_TCP_REASON_PEER_RST);
    CHECK(info(c).state == ETLS_TCP_S_CLOSED);
    etls_tcp_close(c);
    CHECK(etls_tcp_conn_count(e->s) == 0);
}

static void test_rst(void)
{
    env_t *e = &E;
    env_init(e, NULL);
    const int states[] = {ETLS_TCP_S_ESTABLISHED, ETLS_TCP_S_CLOSE_WAIT, ETLS_TCP_S_LAST_ACK,
                          ETLS_TCP_S_FIN_WAIT_1, ETLS_TCP_S_FIN_WAIT_2, ETLS_TCP_S_CLOSING};
    for (int i = 0; i < 6; i++)
        rst_in_state(e, (uint16_t)(48000 + i), states[i]);

    /* unread data goes with a reset */
    etls_tcp_conn_t *c = open_conn(e, 48100);
    CHECK(cli_send(e, F_ACK, "abc", 3) == 0);
    CHECK(cli_send_at(e, e->cli.nxt, F_RST, NULL, 0) == 0);
    CHECK(events_for(e, c) == (ETLS_TCP_EV_READABLE | ETLS_TCP_EV_RESET));
    CHECK(etls_tcp_readable(c) == 0);
    etls_tcp_close(c);

    /* challenge ACKs are limited per connection per second */
    c = open_conn(e, 48101);
    cap_clear(e);
    for (int i = 0; i < 15; i++)
        CHECK(cli_send_at(e, e->cli.nxt + 10, F_RST, NULL, 0) == 0);
    CHECK(e->cap.n == 10);
    advance(e, 1000 * MS);
    cap_clear(e);
    CHECK(cli_send_at(e, e->cli.nxt + 10, F_RST, NULL, 0) == 0);
    CHECK(e->cap.n == 1);
    /* ACK validation: acking unsent data → ACK and drop; too old → challenge ACK */
    uint32_t una = e->cli.rcv;
    cap_clear(e);
    e->cli.rcv = una + 10;
    CHECK(cli_send(e, F_ACK, "zz", 2) == 0);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->ack == e->cli.nxt - 2 && etls_tcp_readable(c) == 0);
    e->cli.nxt -= 2;
    cap_clear(e);
    e->cli.rcv = una - 0x40000000u;
    CHECK(cli_send(e, F_ACK, "zz", 2) == 0);
    CHECK(e->cap.n == 1 && etls_tcp_readable(c) == 0);
    e->cli.nxt -= 2;
    e->cli.rcv = una;
    /* an unacceptable (old) segment: ACK, dropped */
    cap_clear(e);
    CHECK(cli_send_at(e, e->cli.nxt - 1000, F_ACK, "old", 3) == 0);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->ack == e->cli.nxt);
    /* TIME-WAIT: RST ends it (RFC 9293), no second CLOSED event */
    CHECK(etls_tcp_shutdown(c) == 0);
    etls_tcp_flush(e->s, e->now);
    e->cli.rcv += 1;
    CHECK(cli_send(e, F_ACK | F_FIN, NULL, 0) == 0);
    CHECK(info(c).state == ETLS_TCP_S_TIME_WAIT);
    CHECK(events_for(e, c) == (ETLS_TCP_EV_PEER_FIN | ETLS_TCP_EV_CLOSED));
    CHECK(cli_send_at(e, e->cli.nxt, F_RST, NULL, 0) == 0);
    CHECK(info(c).state == ETLS_TCP_S_CLOSED && events_for(e, c) == 0);
    etls_tcp_close(c);
    CHECK(etls_tcp_conn_count(e->s) == 0);
    env_fini(e);
}

/* ---- SYN cookies ---- */

static uint32_t syn_opts(uint8_t *o, uint16_t mss, int ts, uint32_t tsval, int ws)
{
    uint32_t n = 0;
    o[n++] = 2, o[n++] = 4, o[n++] = (uint8_t)(mss >> 8), o[n++] = (uint8_t)mss;
    if (ts) {
        o[n++] = 4, o[n++] = 2, o[n++] = 8, o[n++] = 10;
        for (int i = 3; i >= 0; i--)
            o[n++] = (uint8_t)(tsval >> (8 * i));
        for (int i = 0; i < 4; i++)
            o[n++] = 0;
    }
    if (ws >= 0)
        o[n++] = 1, o[n++] = 3, o[n++] = 3, o[n++] = (uint8_t)ws;
    return n;
}

/* SYN from port; returns the SYN-ACK (copied) */
static seg_t *syn_get(env_t *e, uint16_t port, uint32_t isn, uint16_t mss, int ts, int ws)
{
    static seg_t sa;
    uint8_t o[24];
    uint32_t n = syn_opts(o, mss, ts, 7777, ws);
    cap_clear(e);
    CHECK(cli_raw(e, port, isn, 0, F_SYN, 65535, o, n, NULL, 0) == 0);
    CHECK(e->cap.n == 1);
    sa = *cap_get(e, 0);
    return &sa;
}

static int cookie_ack(env_t *e, uint16_t port, uint32_t isn, const seg_t *sa, int ts, uint32_t ackdelta)
{
    uint8_t o[12] = {1, 1, 8, 10};
    o[4] = 0, o[5] = 0, o[6] = 0x1e, o[7] = 0x62; /* 7778 */
    for (int i = 0; i < 4; i++)
        o[8 + i] = (uint8_t)(sa->tsval >> (24 - 8 * i));
    cap_clear(e);
    return cli_raw(e, port, isn + 1, sa->seq + 1 + ackdelta, F_ACK, 1000, o, ts ? 12 : 0, "GET", 3);
}

static void test_cookies(void)
{
    env_t *e = &E;
    etls_tcp_config_t cfg;
    env_config(&cfg);
    cfg.syn_backlog = 2;
    env_init(e, &cfg);
    syn_get(e, 50001, 100, 1460, 1, 7);
    syn_get(e, 50002, 100, 1460, 1, 7);
    CHECK(etls_tcp_conn_count(e->s) == 2 && etls_tcp_stats(e->s)->cookies_sent == 0);
    seg_t *sa = syn_get(e, 50003, 5000, 1400, 1, 5);
    CHECK(etls_tcp_conn_count(e->s) == 2 && etls_tcp_stats(e->s)->cookies_sent == 1);
    CHECK(sa->flags == (F_SYN | F_ACK) && sa->ack == 5001 && sa->mss == 1460);
    CHECK(sa->has_ts && sa->tsecr == 7777 && (sa->tsval & 31) == (16 | 5) && sa->sack_ok && sa->has_ws);
    seg_t keep = *sa;
    /* forged: wrong ack → RST(seq = SEG.ACK), nothing created */
    CHECK(cookie_ack(e, 50003, 5000, &keep, 1, 1) == 0);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->flags == F_RST && cap_get(e, 0)->seq == keep.seq + 2);
    CHECK(etls_tcp_stats(e->s)->cookies_bad == 1 && etls_tcp_conn_count(e->s) == 2);
    /* wrong client ISN (seq) */
    CHECK(cookie_ack(e, 50003, 5001, &keep, 1, 0) == 0);
    CHECK(etls_tcp_stats(e->s)->cookies_bad == 2 && etls_tcp_conn_count(e->s) == 2);
    /* valid: the connection exists with what the cookie carried */
    CHECK(cookie_ack(e, 50003, 5000, &keep, 1, 0) == 0);
    CHECK(etls_tcp_stats(e->s)->cookies_ok == 1 && etls_tcp_conn_count(e->s) == 3);
    etls_tcp_event_t ev[4];
    CHECK(etls_tcp_events(e->s, ev, 4) == 1 && ev[0].events == (ETLS_TCP_EV_ACCEPTED | ETLS_TCP_EV_READABLE));
    etls_tcp_conn_t *c = ev[0].conn;
    CHECK(info(c).mss == 1380 - 12 && info(c).snd_wscale == 5 && info(c).sack_ok && info(c).ts_ok);
    CHECK(info(c).state == ETLS_TCP_S_ESTABLISHED && info(c).snd_wnd == 1000u << 5);
    char buf[4];
    CHECK(etls_tcp_read(c, buf, 4) == 3 && memcmp(buf, "GET", 3) == 0);
    /* the first real TSval is not behind the cookie's */
    cap_clear(e);
    CHECK(etls_tcp_write(c, "HTTP", 4) == 4);
    etls_tcp_flush(e->s, e->now);
    CHECK(e->cap.n == 1 && (int32_t)(cap_get(e, 0)->tsval - keep.tsval) > 0 && cap_get(e, 0)->seq == keep.seq + 1);
    CHECK(cap_get(e, 0)->ack == 5001 + 3);
    /* replaying the same ACK now hits the connection, not the cookie code */
    CHECK(cookie_ack(e, 50003, 5000, &keep, 1, 0) == 0);
    CHECK(etls_tcp_stats(e->s)->cookies_ok == 1);

    /* timestamps but no window scale: the cookie remembers "no scaling" (15 in the low bits) */
    sa = syn_get(e, 50005, 700, 1460, 1, -1);
    CHECK(sa->has_ts && (sa->tsval & 31) == 31 && !sa->has_ws && sa->sack_ok);
    keep = *sa;
    CHECK(cookie_ack(e, 50005, 700, &keep, 1, 0) == 0);
    CHECK(etls_tcp_events(e->s, ev, 4) == 1);
    CHECK(info(ev[0].conn).snd_wscale == 0 && info(ev[0].conn).rcv_wscale == 0 && info(ev[0].conn).sack_ok);
    CHECK(info(ev[0].conn).mss == 1460 - 12 && info(ev[0].conn).snd_wnd == 1000);

    /* without timestamps: MSS only, no scaling */
    sa = syn_get(e, 50004, 9000, 536, 0, 3);
    CHECK(sa->has_mss && !sa->has_ts && !sa->has_ws && !sa->sack_ok);
    keep = *sa;
    CHECK(cookie_ack(e, 50004, 9000, &keep, 0, 0) == 0);
    CHECK(etls_tcp_events(e->s, ev, 4) == 1);
    CHECK(info(ev[0].conn).mss == 536 && info(ev[0].conn).snd_wscale == 0 && !info(ev[0].conn).ts_ok);
    env_fini(e);

    /* expiry and rekeying (cookies always on) */
    env_config(&cfg);
    cfg.syn_cookies = 2;
    env_init(e, &cfg);
    seg_t a = *syn_get(e, 51001, 1, 1460, 1, 7);
    seg_t b = *syn_get(e, 51002, 1, 1460, 1, 7);
    CHECK(etls_tcp_conn_count(e->s) == 0);
    uint8_t k1[32] = {1}, k2[32] = {2};
    etls_tcp_rekey(e->s, k1);
    CHECK(cookie_ack(e, 51001, 1, &a, 1, 0) == 0); /* previous secret still honoured */
    CHECK(etls_tcp_conn_count(e->s) == 1);
    etls_tcp_rekey(e->s, k2);
    CHECK(cookie_ack(e, 51002, 1, &b, 1, 0) == 0); /* two rekeys ago: rejected */
    CHECK(etls_tcp_conn_count(e->s) == 1 && e->cap.n == 1 && cap_get(e, 0)->flags == F_RST);
    seg_t d = *syn_get(e, 51003, 1, 1460, 1, 7);
    e->now += 3ull * 64 * 1000000; /* 3 periods later */
    syn_get(e, 51009, 1, 1460, 1, 7); /* keeps the cookie path active */
    uint64_t bad = etls_tcp_stats(e->s)->cookies_bad;
    CHECK(cookie_ack(e, 51003, 1, &d, 1, 0) == 0);
    CHECK(etls_tcp_stats(e->s)->cookies_bad == bad + 1 && etls_tcp_conn_count(e->s) == 1);
    env_fini(e);

    /* cookies off and the backlog full: SYNs are dropped */
    env_config(&cfg);
    cfg.syn_backlog = 1;
    cfg.syn_cookies = 0;
    env_init(e, &cfg);
    syn_get(e, 52001, 1, 1460, 1, 7);
    cap_clear(e);
    uint8_t o[24];
    CHECK(cli_raw(e, 52002, 1, 0, F_SYN, 65535, o, syn_opts(o, 1460, 1, 1, 7), NULL, 0) == 0);
    CHECK(e->cap.n == 0 && etls_tcp_stats(e->s)->syn_dropped == 1);
    env_fini(e);
}

/* ---- timestamps / PAWS ---- */

static void test_paws(void)
{
    env_t *e = &E;
    env_init(e, NULL);
    etls_tcp_conn_t *c = open_conn(e, 53000);
    if (!c)
        return;
    cap_clear(e);
    e->cli.tsval = 2000;
    CHECK(cli_send(e, F_ACK, "aaaa", 4) == 0);
    CHECK(etls_tcp_readable(c) == 4);
    e->cli.tsval = 1500; /* older: PAWS drops it and ACKs */
    CHECK(cli_send_at(e, e->cli.nxt, F_ACK, "bbbb", 4) == 0);
    CHECK(etls_tcp_readable(c) == 4 && etls_tcp_stats(e->s)->paws_rejected == 1);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->ack == e->cli.nxt && cap_get(e, 0)->tsecr == 2000);
    /* no timestamp at all once negotiated: silently dropped */
    cap_clear(e);
    e->cli.ts = 0;
    CHECK(cli_send_at(e, e->cli.nxt, F_ACK, "cccc", 4) == 0);
    CHECK(etls_tcp_readable(c) == 4 && e->cap.n == 0);
    e->cli.ts = 1;
    e->cli.tsval = 2001;
    CHECK(cli_send(e, F_ACK, "dddd", 4) == 0);
    CHECK(etls_tcp_readable(c) == 8);
    /* RTT from TSecr: 50 ms */
    cap_clear(e);
    CHECK(etls_tcp_write(c, "x", 1) == 1);
    etls_tcp_flush(e->s, e->now);
    e->now += 50 * MS;
    cli_ack(e, e->cli.rcv + 1);
    CHECK_MSG(info(c).srtt_us == 6250, "srtt %u", info(c).srtt_us); /* 0 then 50 ms: 7/8*0 + 50/8 */
    env_fini(e);
}

/* ---- limits ---- */

static int null_out(void *ctx, const etls_tcp_seg_t *s)
{
    (void)ctx, (void)s;
    return 0;
}

static void test_limits(void)
{
    env_t *e = &E;
    etls_tcp_config_t cfg;
    env_config(&cfg);
    cfg.max_conns = 4;
    cfg.syn_backlog = 4;
    cfg.syn_cookies = 0;
    env_init(e, &cfg);
    for (int i = 0; i < 4; i++)
        (void)open_conn(e, (uint16_t)(54000 + i));
    cap_clear(e);
    uint8_t o[24];
    CHECK(cli_raw(e, 54010, 1, 0, F_SYN, 65535, o, syn_opts(o, 1460, 1, 1, 7), NULL, 0) == 0);
    CHECK(e->cap.n == 0 && etls_tcp_stats(e->s)->conn_full == 1);
    env_fini(e);

    /* a full table gives up its oldest TIME-WAIT connection */
    env_config(&cfg);
    cfg.max_conns = 2;
    cfg.syn_backlog = 2;
    env_init(e, &cfg);
    etls_tcp_conn_t *c = open_conn(e, 54100);
    CHECK(etls_tcp_shutdown(c) == 0);
    etls_tcp_flush(e->s, e->now);
    e->cli.rcv += 1;
    CHECK(cli_send(e, F_ACK | F_FIN, NULL, 0) == 0);
    CHECK(info(c).state == ETLS_TCP_S_TIME_WAIT);
    /* still held by the application: not reclaimed */
    CHECK(events_for(e, c) == (ETLS_TCP_EV_PEER_FIN | ETLS_TCP_EV_CLOSED));
    (void)open_conn(e, 54101);
    cap_clear(e);
    uint8_t o2[24];
    CHECK(cli_raw(e, 54109, 1, 0, F_SYN, 65535, o2, syn_opts(o2, 1460, 1, 1, 7), NULL, 0) == 0);
    CHECK(e->cap.n == 0 && info(c).state == ETLS_TCP_S_TIME_WAIT);
    etls_tcp_close(c);
    CHECK(etls_tcp_conn_count(e->s) == 2);
    (void)open_conn(e, 54102);
    CHECK(etls_tcp_conn_count(e->s) == 2 && etls_tcp_stats(e->s)->time_wait_reused == 1);

    env_fini(e);

    /* SYN flood: memory is bounded by the backlog, cookies answer the rest */
    env_config(&cfg);
    cfg.max_conns = 64;
    cfg.syn_backlog = 16;
    env_init(e, &cfg);
    for (uint32_t i = 0; i < 20000; i++) {
        cap_clear(e);
        CHECK(cli_raw(e, (uint16_t)(1024 + i % 60000), i * 7919u, 0, F_SYN, 65535, o,
                      syn_opts(o, 1460, 1, i, 7), NULL, 0) == 0);
    }
    CHECK(etls_tcp_conn_count(e->s) == 16);
    CHECK(etls_tcp_stats(e->s)->cookies_sent == 20000 - 16);
    env_fini(e);

    /* configuration bounds */
    env_config(&cfg);
    CHECK(etls_tcp_memsize(&cfg) > 16 * (64 * 1024 * 2));
    etls_tcp_config_t bad = cfg;
    bad.ooo_max_ranges = 9;
    CHECK(etls_tcp_memsize(&bad) == 0);
    bad = cfg, bad.mss = 50;
    CHECK(etls_tcp_memsize(&bad) == 0);
    bad = cfg, bad.rto_min_us = 2000000;
    CHECK(etls_tcp_memsize(&bad) == 0);
    bad = cfg, bad.ooo_max_bytes = cfg.rcvbuf + 1;
    CHECK(etls_tcp_memsize(&bad) == 0);
    bad = cfg, bad.max_conns = 0;
    CHECK(etls_tcp_memsize(&bad) == 0);
    etls_tcp_stack_t *s = NULL;
    CHECK(etls_tcp_create(&s, &bad, null_out, NULL) == ETLS_ERR_INVALID);
    size_t need = etls_tcp_memsize(&cfg);
    uint8_t *mem = aligned_alloc(64, need + 64);
    CHECK(etls_tcp_init(&s, mem + 8, need, &cfg, null_out, NULL) == ETLS_ERR_INVALID);
    CHECK(etls_tcp_init(&s, mem, need - 1, &cfg, null_out, NULL) == ETLS_ERR_INVALID);
    CHECK(etls_tcp_init(&s, mem, need, &cfg, null_out, NULL) == 0);
    for (int i = 0; i < ETLS_TCP_MAX_LISTEN; i++)
        CHECK(etls_tcp_listen(s, 0, (uint16_t)(1000 + i)) == 0);
    CHECK(etls_tcp_listen(s, 0, 1000) == 0); /* the same again: fine */
    CHECK(etls_tcp_listen(s, 0, 2000) == ETLS_ERR_LIMIT);
    CHECK(etls_tcp_listen(s, 0, 0) == ETLS_ERR_INVALID);
    etls_tcp_fini(s);
    free(mem);
}

/* ---- malformed input ---- */

static void test_malformed(void)
{
    env_t *e = &E;
    env_init(e, NULL);
    uint8_t b[64] = {0};
    b[0] = 0x9c, b[1] = 0x40, b[2] = 0x01, b[3] = 0xbb, b[13] = F_SYN;
    cap_clear(e);
    CHECK(etls_tcp_input(e->s, CLI_ADDR, SRV_ADDR, b, 19, e->now) == ETLS_ERR_INVALID);
    b[12] = 4 << 4; /* data offset 16 */
    CHECK(etls_tcp_input(e->s, CLI_ADDR, SRV_ADDR, b, 40, e->now) == ETLS_ERR_INVALID);
    b[12] = 10 << 4; /* 40 > length */
    CHECK(etls_tcp_input(e->s, CLI_ADDR, SRV_ADDR, b, 36, e->now) == ETLS_ERR_INVALID);
    b[12] = 6 << 4, b[20] = 2, b[21] = 0; /* option length 0 */
    CHECK(etls_tcp_input(e->s, CLI_ADDR, SRV_ADDR, b, 24, e->now) == ETLS_ERR_INVALID);
    b[20] = 2, b[21] = 6; /* runs past the header */
    CHECK(etls_tcp_input(e->s, CLI_ADDR, SRV_ADDR, b, 24, e->now) == ETLS_ERR_INVALID);
    b[20] = 1, b[21] = 1, b[22] = 1, b[23] = 8; /* kind without room for a length */
    CHECK(etls_tcp_input(e->s, CLI_ADDR, SRV_ADDR, b, 24, e->now) == ETLS_ERR_INVALID);
    CHECK(etls_tcp_stats(e->s)->malformed == 6);
    CHECK(e->cap.n == 0 && etls_tcp_conn_count(e->s) == 0);
    /* well-formed but nonsense: SYN+RST, SYN+FIN, port 0 */
    b[12] = 5 << 4;
    b[13] = F_SYN | F_RST;
    CHECK(etls_tcp_input(e->s, CLI_ADDR, SRV_ADDR, b, 20, e->now) == 0);
    b[13] = F_SYN | F_FIN;
    CHECK(etls_tcp_input(e->s, CLI_ADDR, SRV_ADDR, b, 20, e->now) == 0);
    b[13] = F_SYN, b[0] = b[1] = 0;
    CHECK(etls_tcp_input(e->s, CLI_ADDR, SRV_ADDR, b, 20, e->now) == 0);
    CHECK(e->cap.n == 0 && etls_tcp_conn_count(e->s) == 0);
    /* unknown and oddly sized known options are skipped */
    b[0] = 0x9c, b[1] = 0x40;
    b[12] = 7 << 4;
    b[20] = 99, b[21] = 3, b[22] = 0, b[23] = 2, b[24] = 3, b[25] = 1, b[26] = 0, b[27] = 0; /* MSS len 3 */
    CHECK(etls_tcp_input(e->s, CLI_ADDR, SRV_ADDR, b, 28, e->now) == 0);
    CHECK(e->cap.n == 1 && cap_get(e, 0)->flags == (F_SYN | F_ACK));
    env_fini(e);
}

/* ---- SipHash-2-4 known answers (the paper's key 00..0f, messages 00.., lengths 0 and 15) ---- */

static void test_siphash(void)
{
    const uint64_t k[2] = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
    uint8_t m[64];
    for (int i = 0; i < 64; i++)
        m[i] = (uint8_t)i;
    CHECK(tcp_siphash(k, m, 0) == 0x726fdb47dd0e0e31ull);
    CHECK(tcp_siphash(k, m, 15) == 0xa129ca6149be45e5ull);
    CHECK(tcp_siphash(k, m, 8) != tcp_siphash(k, m, 9));
}

static const group_t groups[] = {
    {"handshake", test_handshake},
    {"synack_retransmit", test_synack_retransmit},
    {"data", test_data},
    {"ooo", test_ooo},
    {"rto", test_rto},
    {"fast_retransmit", test_fast_retransmit},
    {"windows", test_windows},
    {"close", test_close},
    {"rst", test_rst},
    {"cookies", test_cookies},
    {"paws", test_paws},
    {"limits", test_limits},
    {"malformed", test_malformed},
    {"siphash", test_siphash},
};

int main(int argc, char **argv)
{
    return run_groups(groups, sizeof groups / sizeof groups[0], "tcp_", argc, argv);
}
