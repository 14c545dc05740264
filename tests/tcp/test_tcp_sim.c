/* Long transfers through a simulated link that loses, duplicates, delays and reorders segments:
 * the server stack against a small client-side TCP model, N bytes each way at the same time,
 * checked byte for byte, then both sides close and the stack must end with no connection.
 * Seeded (ETLS_TEST_SEED) so a failure replays exactly. Nothing touches a network.
 *
 * The client model is deliberately simple and independent of the stack: fixed window, go-back-N
 * on timeout, one fast retransmit per window on three duplicate ACKs, an ACK for every segment,
 * a byte map for out-of-order data. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcp/tcp.h"
#include "test.h"

#define SRV 0x0a000001u
#define CLI 0x0a000002u
#define SPORT 443
#define CPORT 50000
#define MSS 1460u
#define PKT_MAX 1600
#define QCAP 4096

typedef struct {
    uint64_t at;
    uint32_t seqno; /* tie-break: stable order for equal times */
    uint8_t to_server;
    uint16_t len;
    uint8_t b[PKT_MAX];
} pkt_t;

typedef struct {
    double loss, dup;
    uint32_t delay_us, jitter_us;
    uint32_t total; /* bytes each way */
    uint32_t bufsz; /* server buffers */
    int ts;         /* client offers timestamps */
    uint32_t slow_reader; /* server app reads at most this many bytes per step (0 = all) */
    uint32_t iss;         /* client ISN (0 = random) */
} scenario_t;

static pkt_t *Q[QCAP];
static pkt_t pool[QCAP];
static pkt_t *freep[QCAP];
static size_t qn, nfree;
static uint32_t pktseq;
static etls_test_rng_t R;
static const scenario_t *SC;
static uint64_t NOW;

static double rnd(void) { return (double)(etls_test_rng_next(&R) >> 11) / 9007199254740992.0; }

static bool before(const pkt_t *a, const pkt_t *b) { return a->at < b->at || (a->at == b->at && a->seqno < b->seqno); }

static void q_push(pkt_t *p)
{
    size_t i = qn++;
    Q[i] = p;
    while (i && before(Q[i], Q[(i - 1) / 2])) {
        pkt_t *t = Q[i];
        Q[i] = Q[(i - 1) / 2], Q[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static pkt_t *q_pop(void)
{
    pkt_t *top = Q[0];
    Q[0] = Q[--qn];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < qn && before(Q[l], Q[m]))
            m = l;
        if (r < qn && before(Q[r], Q[m]))
            m = r;
        if (m == i)
            break;
        pkt_t *t = Q[i];
        Q[i] = Q[m], Q[m] = t;
        i = m;
    }
    return top;
}

static uint64_t link_drops, sack_blocks;

/* The impaired link: maybe lose, maybe duplicate, delay with jitter (which reorders). */
static void link_send(int to_server, const uint8_t *b, size_t len)
{
    int copies = rnd() < SC->dup ? 2 : 1;
    for (int k = 0; k < copies; k++) {
        if (rnd() < SC->loss || !nfree) {
            link_drops++;
            continue;
        }
        pkt_t *p = freep[--nfree];
        p->at = NOW + SC->delay_us + (uint64_t)(rnd() * SC->jitter_us);
        p->seqno = pktseq++;
        p->to_server = (uint8_t)to_server;
        p->len = (uint16_t)len;
        memcpy(p->b, b, len);
        q_push(p);
    }
}

static bool seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static uint16_t g16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t g32(const uint8_t *p) { return (uint32_t)g16(p) << 16 | g16(p + 2); }
static void p16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static void p32(uint8_t *p, uint32_t v) { p16(p, v >> 16), p16(p + 2, v & 0xffff); }

static int srv_out(void *ctx, const etls_tcp_seg_t *s)
{
    (void)ctx;
    uint8_t b[PKT_MAX];
    size_t n = s->hdr_len + s->data_len[0] + s->data_len[1];
    CHECK(n <= PKT_MAX && s->saddr == SRV && s->daddr == CLI);
    if (n > PKT_MAX)
        return 0;
    memcpy(b, s->hdr, s->hdr_len);
    if (s->data_len[0])
        memcpy(b + s->hdr_len, s->data[0], s->data_len[0]);
    if (s->data_len[1])
        memcpy(b + s->hdr_len + s->data_len[0], s->data[1], s->data_len[1]);
    link_send(0, b, n);
    return 0;
}

static uint8_t pat(uint32_t dir, uint32_t i)
{
    uint32_t x = i * 2654435761u + dir;
    return (uint8_t)(x >> 13 ^ x >> 24);
}

/* ---- the client model ---- */

typedef struct {
    int syn_acked, fin_sent, peer_fin;
    uint32_t iss, una, nxt, fin_seq; /* send side, sequence numbers */
    uint32_t irs, rcv_nxt;           /* receive side */
    uint8_t ws;                      /* server's window scale */
    uint32_t wnd;                    /* server's window, scaled */
    uint32_t ts_recent;
    int ts;
    int dupacks;
    uint32_t recover;
    uint64_t rto_at, rto;
    uint8_t *got;     /* byte map of server data */
    uint32_t rx_done; /* contiguous server bytes received */
    uint64_t rexmits;
} client_t;

static client_t C;

static void cli_emit(uint32_t seq, uint8_t flags, const uint8_t *d, uint32_t len)
{
    uint8_t b[PKT_MAX];
    uint32_t hl = 20, o = 20;
    if (flags & 0x02) { /* SYN: MSS, SACK-permitted, TS, WS */
        b[o++] = 2, b[o++] = 4, p16(b + o, MSS), o += 2;
        b[o++] = 1, b[o++] = 3, b[o++] = 3, b[o++] = 6;
        b[o++] = 1, b[o++] = 1, b[o++] = 4, b[o++] = 2; /* SACK-permitted: blocks are ignored */
    }
    if (C.ts) {
        b[o++] = 1, b[o++] = 1, b[o++] = 8, b[o++] = 10;
        p32(b + o, (uint32_t)(NOW / 1000) + 12345), p32(b + o + 4, C.ts_recent), o += 8;
    }
    hl = o;
    p16(b, CPORT), p16(b + 2, SPORT), p32(b + 4, seq), p32(b + 8, (flags & 0x10) ? C.rcv_nxt : 0);
    b[12] = (uint8_t)(hl / 4 << 4), b[13] = flags;
    p16(b + 14, 4096); /* 4096 << 6 = 256 KiB */
    p16(b + 16, 0), p16(b + 18, 0);
    if (len)
        memcpy(b + hl, d, len);
    link_send(1, b, hl + len);
}

static void cli_send_data(void)
{
    if (!C.syn_acked)
        return;
    uint32_t total = SC->total, limit = C.wnd < 48 * MSS ? C.wnd : 48 * MSS;
    uint8_t buf[MSS];
    for (;;) {
        uint32_t off = C.nxt - C.iss - 1;
        uint32_t flight = C.nxt - C.una;
        if (off >= total)
            break;
        if (flight >= limit)
            return;
        uint32_t len = total - off < MSS - 12 ? total - off : MSS - 12;
        if (len > limit - flight)
            len = limit - flight;
        for (uint32_t i = 0; i < len; i++)
            buf[i] = pat(1, off + i);
        cli_emit(C.nxt, 0x10 | (off + len == total ? 0x08 : 0), buf, len);
        C.nxt += len;
        if (!C.rto_at)
            C.rto_at = NOW + C.rto;
    }
    if (C.nxt == C.fin_seq) { /* first time, or again after going back */
        C.fin_sent = 1;
        cli_emit(C.nxt, 0x11, NULL, 0);
        C.nxt = C.fin_seq + 1;
        if (!C.rto_at)
            C.rto_at = NOW + C.rto;
    }
}

static void cli_input(const uint8_t *b, size_t n)
{
    uint32_t hl = (uint32_t)(b[12] >> 4) * 4, seq = g32(b + 4), ack = g32(b + 8);
    uint8_t fl = b[13];
    CHECK(hl >= 20 && hl <= n);
    CHECK_MSG(!(fl & 0x04), "server sent RST");
    uint32_t tsval = 0;
    int has_ts = 0;
    for (uint32_t i = 20; i < hl;) {
        if (b[i] == 0)
            break;
        if (b[i] == 1) {
            i++;
            continue;
        }
        if (b[i] == 8)
            has_ts = 1, tsval = g32(b + i + 2);
        if (b[i] == 5) { /* SACK blocks: each must lie beyond the cumulative ACK */
            CHECK(b[i + 1] >= 10 && (b[i + 1] - 2) % 8 == 0 && !(fl & 0x02));
            for (uint32_t k = 0; k + 8 <= (uint32_t)b[i + 1] - 2; k += 8)
                CHECK(seq_gt(g32(b + i + 2 + k), ack) && seq_gt(g32(b + i + 6 + k), g32(b + i + 2 + k)));
            sack_blocks++;
        }
        if (b[i] == 3 && (fl & 0x02))
            C.ws = b[i + 2];
        i += b[i + 1];
    }
    if (fl & 0x02) { /* SYN-ACK */
        if (!C.syn_acked) {
            C.syn_acked = 1;
            C.irs = seq, C.rcv_nxt = seq + 1, C.una = ack;
            C.ts = C.ts && has_ts;
            C.rto_at = 0;
        }
        if (has_ts)
            C.ts_recent = tsval;
        cli_emit(C.nxt, 0x10, NULL, 0);
        return;
    }
    if (!C.syn_acked)
        return;
    uint32_t len = (uint32_t)n - hl;
    if (has_ts && !seq_gt(seq, C.rcv_nxt))
        C.ts_recent = tsval;
    C.wnd = (uint32_t)g16(b + 14) << C.ws;
    if (seq_gt(ack, C.una)) {
        C.una = ack;
        C.dupacks = 0;
        C.rto = 250000;
        C.rto_at = C.una == C.nxt ? 0 : NOW + C.rto;
    } else if (ack == C.una && !len && C.nxt != C.una && ++C.dupacks == 3 && !seq_gt(C.recover, C.una)) {
        C.recover = C.nxt; /* one fast retransmit per window */
        uint32_t off = C.una - C.iss - 1;
        if (off < SC->total) {
            uint8_t buf[MSS];
            uint32_t l = SC->total - off < MSS - 12 ? SC->total - off : MSS - 12;
            for (uint32_t i = 0; i < l; i++)
                buf[i] = pat(1, off + i);
            cli_emit(C.una, 0x10, buf, l);
            C.rexmits++;
        }
    }
    if (len || (fl & 0x01)) {
        uint32_t off = seq - C.irs - 1;
        for (uint32_t i = 0; i < len; i++) {
            uint32_t o = off + i;
            if (o >= SC->total) {
                CHECK_MSG(0, "server data beyond the stream");
                break;
            }
            if (C.got[o])
                continue;
            CHECK_MSG(b[hl + i] == pat(0, o), "server byte %u wrong", o);
            C.got[o] = 1;
        }
        while (C.rx_done < SC->total && C.got[C.rx_done])
            C.rx_done++;
        C.rcv_nxt = C.irs + 1 + C.rx_done;
        if ((fl & 0x01) && seq + len == C.rcv_nxt)
            C.peer_fin = 1;
        if (C.peer_fin)
            C.rcv_nxt = C.irs + 1 + SC->total + 1;
        cli_emit(C.nxt, 0x10, NULL, 0);
    }
}

static void cli_timers(void)
{
    if (!C.rto_at || NOW < C.rto_at)
        return;
    C.rexmits++;
    C.rto = C.rto * 2 > 8000000 ? 8000000 : C.rto * 2;
    C.rto_at = NOW + C.rto;
    if (!C.syn_acked) {
        cli_emit(C.iss, 0x02, NULL, 0);
        return;
    }
    C.nxt = C.una; /* go back N */
    C.dupacks = 0;
    cli_send_data();
}

/* ---- the server application ---- */

typedef struct {
    etls_tcp_conn_t *c;
    uint32_t rx, tx;
    int shut, peer_fin, closed_ev, released;
} app_t;

static app_t A;

static void app_step(etls_tcp_stack_t *s)
{
    etls_tcp_event_t ev[8];
    size_t n;
    while ((n = etls_tcp_events(s, ev, 8)) > 0)
        for (size_t i = 0; i < n; i++) {
            if (ev[i].events & ETLS_TCP_EV_ACCEPTED) {
                CHECK(A.c == NULL);
                A.c = ev[i].conn;
                etls_tcp_conn_set_user(A.c, &A);
            }
            CHECK(ev[i].conn == A.c && (ev[i].events & ETLS_TCP_EV_ACCEPTED ? 1 : ev[i].user == &A));
            CHECK_MSG(!(ev[i].events & ETLS_TCP_EV_RESET), "connection reset (reason %u)", ev[i].reason);
            if (ev[i].events & ETLS_TCP_EV_PEER_FIN)
                A.peer_fin = 1;
            if (ev[i].events & ETLS_TCP_EV_CLOSED)
                A.closed_ev = 1;
        }
    if (!A.c || A.released)
        return;
    const uint8_t *p;
    size_t got, budget = SC->slow_reader ? SC->slow_reader : SIZE_MAX;
    while (budget && (got = etls_tcp_peek(A.c, &p)) > 0) {
        if (got > budget)
            got = budget;
        for (size_t i = 0; i < got; i++)
            if (p[i] != pat(1, A.rx + (uint32_t)i)) {
                CHECK_MSG(0, "client byte %u wrong", A.rx + (uint32_t)i);
                break;
            }
        etls_tcp_consume(A.c, got);
        A.rx += (uint32_t)got;
        budget -= got;
    }
    while (A.tx < SC->total) {
        uint8_t *w;
        size_t room;
        if (A.tx & 1) { /* alternate the copying and the in-place write paths */
            room = etls_tcp_write_reserve(A.c, &w);
            if (room > SC->total - A.tx)
                room = SC->total - A.tx;
            for (size_t i = 0; i < room; i++)
                w[i] = pat(0, A.tx + (uint32_t)i);
            etls_tcp_commit(A.c, room);
        } else {
            uint8_t buf[5000];
            size_t want = SC->total - A.tx < sizeof buf ? SC->total - A.tx : sizeof buf;
            for (size_t i = 0; i < want; i++)
                buf[i] = pat(0, A.tx + (uint32_t)i);
            room = etls_tcp_write(A.c, buf, want);
        }
        A.tx += (uint32_t)room;
        if (!room)
            break;
    }
    if (A.tx == SC->total && !A.shut) {
        CHECK(etls_tcp_shutdown(A.c) == 0);
        A.shut = 1;
    }
    if (A.shut && A.peer_fin && A.rx == SC->total && A.closed_ev) {
        etls_tcp_close(A.c);
        A.released = 1;
    }
}

static void run(const char *name, const scenario_t *sc, uint64_t seed)
{
    SC = sc;
    etls_test_rng_seed(&R, seed);
    memset(&C, 0, sizeof C);
    memset(&A, 0, sizeof A);
    qn = 0, nfree = 0, link_drops = 0, sack_blocks = 0;
    for (size_t i = 0; i < QCAP; i++)
        freep[nfree++] = &pool[i];
    NOW = 1000000;
    etls_tcp_config_t cfg;
    etls_tcp_config_default(&cfg);
    cfg.max_conns = 4;
    cfg.syn_backlog = 4;
    cfg.sndbuf = cfg.rcvbuf = sc->bufsz;
    cfg.ooo_max_bytes = sc->bufsz;
    cfg.time_wait_us = 500000;
    memset(cfg.secret, 0x5a, sizeof cfg.secret);
    etls_tcp_stack_t *s;
    CHECK(etls_tcp_create(&s, &cfg, srv_out, NULL) == 0);
    CHECK(etls_tcp_listen(s, 0, SPORT) == 0);
    C.got = calloc(sc->total, 1);
    C.ts = sc->ts;
    C.iss = sc->iss ? sc->iss : (uint32_t)etls_test_rng_next(&R);
    C.nxt = C.iss + 1, C.una = C.iss;
    C.rto = 250000;
    C.rto_at = NOW + C.rto;
    C.fin_seq = C.iss + 1 + sc->total;
    cli_emit(C.iss, 0x02, NULL, 0);
    uint64_t limit = NOW + 3600ull * 1000000;
    bool done = false;
    while (NOW < limit) {
        done = C.rx_done == sc->total && C.peer_fin && C.fin_sent && C.una == C.fin_seq + 1 &&
               A.released && etls_tcp_conn_count(s) == 0;
        if (done)
            break;
        uint64_t next = qn ? Q[0]->at : UINT64_MAX;
        uint64_t d = etls_tcp_next_deadline(s);
        if (d < next)
            next = d;
        if (C.rto_at && C.rto_at < next)
            next = C.rto_at;
        if (sc->slow_reader && A.c && !A.released && etls_tcp_readable(A.c) && NOW + 1000 < next)
            next = NOW + 1000; /* the slow reader wakes each ms while data waits */
        if (next == UINT64_MAX)
            break;
        if (next > NOW)
            NOW = next;
        while (qn && Q[0]->at <= NOW) {
            pkt_t *p = q_pop();
            if (p->to_server)
                CHECK(etls_tcp_input(s, CLI, SRV, p->b, p->len, NOW) == 0);
            else
                cli_input(p->b, p->len);
            freep[nfree++] = p;
        }
        etls_tcp_timers(s, NOW);
        app_step(s);
        etls_tcp_flush(s, NOW);
        cli_timers();
        cli_send_data();
    }
    const etls_tcp_stats_t *st = etls_tcp_stats(s);
    CHECK_MSG(done, "%s: not finished: client rx %u/%u fin %d, server rx %u tx %u, conns %u", name,
              C.rx_done, sc->total, C.peer_fin, A.rx, A.tx, etls_tcp_conn_count(s));
    CHECK(A.rx == sc->total && C.rx_done == sc->total);
    if (sc->loss > 0 && sc->total >= (256u << 10)) { /* the impairments really happened */
        CHECK_MSG(st->retransmits > 0 && st->ooo_segs > 0 && st->dup_acks > 0, "%s", name);
        if (sc->total >= (1u << 20)) {
            CHECK(st->fast_retransmits > 0); /* short runs may see only timeouts */
            CHECK(sack_blocks > 0);
        }
    }
    printf("%s: %.1f s simulated, %llu segs in, %llu out, %llu retransmits (%llu fast, %llu rto), "
           "%llu ooo, %llu link drops, client rexmits %llu, %llu ACKs with SACK\n",
           name, (double)(NOW - 1000000) / 1e6, (unsigned long long)st->segs_in,
           (unsigned long long)st->segs_out, (unsigned long long)st->retransmits,
           (unsigned long long)st->fast_retransmits, (unsigned long long)st->rto_fired,
           (unsigned long long)st->ooo_segs, (unsigned long long)link_drops,
           (unsigned long long)C.rexmits, (unsigned long long)sack_blocks);
    etls_tcp_destroy(s);
    free(C.got);
}

int main(int argc, char **argv)
{
    uint64_t seed = etls_test_seed("tcp_sim");
#ifdef __SANITIZE_ADDRESS__
    uint32_t big = 1u << 20;
#else
    uint32_t big = 8u << 20;
#endif
    const char *want = argc > 1 ? argv[1] : "all";
    const scenario_t lossy = {.loss = 0.02, .dup = 0.01, .delay_us = 10000, .jitter_us = 4000,
                              .total = big, .bufsz = 65536, .ts = 1};
    const scenario_t harsh = {.loss = 0.06, .dup = 0.03, .delay_us = 5000, .jitter_us = 8000,
                              .total = big / 4, .bufsz = 16384, .ts = 0};
    const scenario_t clean = {.delay_us = 1000, .total = big, .bufsz = 262144, .ts = 1};
    const scenario_t slow = {.loss = 0.01, .delay_us = 2000, .jitter_us = 1000, .total = big / 16,
                             .bufsz = 8192, .ts = 1, .slow_reader = 700};
    const scenario_t wrap = {.loss = 0.01, .dup = 0.01, .delay_us = 3000, .jitter_us = 2000,
                             .total = big / 4, .bufsz = 65536, .ts = 1, .iss = 0xffffffffu - 300000};
    if (!strcmp(want, "all") || !strcmp(want, "wrap"))
        run("wrap", &wrap, seed + 4);
    if (!strcmp(want, "all") || !strcmp(want, "lossy"))
        run("lossy", &lossy, seed);
    if (!strcmp(want, "all") || !strcmp(want, "harsh"))
        run("harsh", &harsh, seed + 1);
    if (!strcmp(want, "all") || !strcmp(want, "clean"))
        run("clean", &clean, seed + 2);
    if (!strcmp(want, "all") || !strcmp(want, "slow"))
        run("slow", &slow, seed + 3);
    return etls_test_summary("tcp_sim");
}
