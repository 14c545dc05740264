/* Not a test: per-segment cost of the userspace TCP stack on this machine, for the report.
 *   tcp_bench            handshakes/s, receive and send cost per 1448-byte segment
 * The output callback copies each segment into a scratch frame, as the DPDK transport does
 * into an mbuf, so the figures include that copy. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tcp/tcp.h"

static uint8_t frame[2048];
static uint64_t out_segs, last_seq, last_ack;
static uint32_t data_end; /* end of the newest data segment */
static uint16_t last_wnd;
static uint8_t last_flags;

static uint32_t g32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void p16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static void p32(uint8_t *p, uint32_t v) { p16(p, v >> 16), p16(p + 2, v & 0xffff); }

static int out(void *ctx, const etls_tcp_seg_t *s)
{
    (void)ctx;
    memcpy(frame, s->hdr, s->hdr_len);
    memcpy(frame + s->hdr_len, s->data[0], s->data_len[0]);
    if (s->data_len[1])
        memcpy(frame + s->hdr_len + s->data_len[0], s->data[1], s->data_len[1]);
    last_seq = g32(s->hdr + 4), last_ack = g32(s->hdr + 8), last_flags = s->hdr[13];
    last_wnd = (uint16_t)(s->hdr[14] << 8 | s->hdr[15]);
    if (s->data_len[0])
        data_end = (uint32_t)last_seq + s->data_len[0] + s->data_len[1];
    out_segs++;
    return 0;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static size_t build(uint8_t *b, uint16_t sport, uint32_t seq, uint32_t ack, uint8_t fl, uint32_t ts,
                    const uint8_t *d, size_t len, int syn)
{
    size_t hl = syn ? 40 : 32;
    p16(b, sport), p16(b + 2, 443), p32(b + 4, seq), p32(b + 8, ack);
    b[12] = (uint8_t)(hl / 4 << 4), b[13] = fl, p16(b + 14, 65535), p16(b + 16, 0), p16(b + 18, 0);
    uint8_t *o = b + 20;
    if (syn) {
        const uint8_t so[20] = {2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7};
        memcpy(o, so, 20);
        p32(o + 8, ts);
    } else {
        o[0] = 1, o[1] = 1, o[2] = 8, o[3] = 10, p32(o + 4, ts), p32(o + 8, 0);
    }
    if (len)
        memcpy(b + hl, d, len);
    return hl + len;
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    etls_tcp_config_t cfg;
    etls_tcp_config_default(&cfg);
    cfg.max_conns = 1024;
    cfg.syn_backlog = 1024;
    cfg.syn_cookies = 0;
    memset(cfg.secret, 7, sizeof cfg.secret);
    etls_tcp_stack_t *s;
    if (etls_tcp_create(&s, &cfg, out, NULL) < 0 || etls_tcp_listen(s, 0, 443) < 0)
        return 1;
    uint8_t b[2048];
    uint64_t t_us = 1000000;
    etls_tcp_event_t ev[16];

    /* handshakes: SYN, SYN-ACK, ACK, accepted event, abort */
    const int N = 200000;
    double t0 = now_s();
    for (int i = 0; i < N; i++) {
        uint16_t port = (uint16_t)(1024 + i % 60000);
        uint32_t isn = (uint32_t)i * 2654435761u;
        etls_tcp_input(s, 0x0a000002, 0x0a000001, b, build(b, port, isn, 0, 0x02, 1, NULL, 0, 1), t_us);
        etls_tcp_input(s, 0x0a000002, 0x0a000001, b,
                       build(b, port, isn + 1, (uint32_t)last_seq + 1, 0x10, 1, NULL, 0, 0), t_us);
        size_t n = etls_tcp_events(s, ev, 16);
        for (size_t k = 0; k < n; k++)
            etls_tcp_abort(ev[k].conn);
        t_us += 1;
    }
    double t1 = now_s();
    printf("handshake (SYN, ACK, accept, abort): %.0f ns each, %.2f M/s\n", (t1 - t0) / N * 1e9, N / (t1 - t0) / 1e6);

    /* receive: in-order 1448-byte segments, application consumes everything */
    uint32_t cisn = 1000;
    etls_tcp_input(s, 0x0a000002, 0x0a000001, b, build(b, 2000, cisn, 0, 0x02, 1, NULL, 0, 1), t_us);
    uint32_t sisn = (uint32_t)last_seq;
    etls_tcp_input(s, 0x0a000002, 0x0a000001, b, build(b, 2000, cisn + 1, sisn + 1, 0x10, 1, NULL, 0, 0), t_us);
    etls_tcp_events(s, ev, 16);
    etls_tcp_conn_t *c = ev[0].conn;
    static uint8_t data[1448];
    const int M = 2000000;
    uint32_t seq = cisn + 1;
    uint64_t segs0 = out_segs;
    t0 = now_s();
    for (int i = 0; i < M; i++) {
        size_t l = build(b, 2000, seq, sisn + 1, 0x10, 2 + (uint32_t)(i >> 10), data, sizeof data, 0);
        etls_tcp_input(s, 0x0a000002, 0x0a000001, b, l, t_us);
        seq += sizeof data;
        const uint8_t *p;
        size_t n;
        while ((n = etls_tcp_peek(c, &p)) > 0)
            etls_tcp_consume(c, n);
        if ((i & 15) == 15) {
            etls_tcp_events(s, ev, 16);
            etls_tcp_flush(s, t_us);
            t_us += 10;
            etls_tcp_timers(s, t_us);
        }
    }
    t1 = now_s();
    printf("receive 1448-byte segments: %.0f ns each (%.1f Gbit/s payload per core), %.2f ACKs per segment\n",
           (t1 - t0) / M * 1e9, (double)M * 1448 * 8 / (t1 - t0) / 1e9, (double)(out_segs - segs0) / M);

    /* send: write 64 KiB, flush, the client ACKs every second segment */
    uint32_t acked = sisn + 1;
    static uint8_t wbuf[65536];
    uint64_t sent0 = out_segs, bytes = 0;
    t0 = now_s();
    while (bytes < (uint64_t)M * 1448) {
        size_t w = etls_tcp_write(c, wbuf, sizeof wbuf);
        bytes += w;
        etls_tcp_flush(s, t_us);
        /* ACK what went out, two segments per ACK (each ACK releases more) */
        while ((int32_t)(data_end - acked) > 0) {
            acked = data_end - acked >= 2 * 1448 ? acked + 2 * 1448 : data_end;
            etls_tcp_input(s, 0x0a000002, 0x0a000001, b, build(b, 2000, seq, acked, 0x10, 100000, NULL, 0, 0), t_us);
        }
        etls_tcp_events(s, ev, 16);
        t_us += 10;
    }
    t1 = now_s();
    uint64_t segs = out_segs - sent0;
    printf("send 1448-byte segments (incl. their ACKs): %.0f ns each (%.1f Gbit/s payload per core)\n",
           (t1 - t0) / (double)segs * 1e9, (double)bytes * 8 / (t1 - t0) / 1e9);
    (void)last_ack, (void)last_wnd;
    etls_tcp_destroy(s);
    return 0;
}
