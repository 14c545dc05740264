/* libFuzzer harness: the userspace TCP stack (dataplane/tcp) driven by a script of operations
 * against a small stack (4 slots, 8 KiB rings, 3 out-of-order ranges, SYN backlog 2, cookies).
 *
 * The input is a list of operations; op = byte % 8:
 *   0, 1  structured segment from client slot (b0 & 1), 8 bytes: b0 flags (bits 1..6 =
 *         FIN SYN RST PSH ACK URG), b1 b2 = int16 offset of seq from what the server last
 *         acknowledged (or from the slot's ISN), b3 b4 = int16 offset of ack from the server's
 *         next sequence number, b5 window, b6 payload length / 8-byte units, b7 option bits
 *         (MSS, WS, SACK-permitted, TS, stale TS). Payload bytes are a function of their absolute
 *         sequence number, so every byte the application reads can be checked.
 *   2     application action on slot (b0 & 1): read all / read some / write / shutdown / close /
 *         abort / in-place write
 *   3     raw segment: length byte, then that many bytes straight into etls_tcp_input
 *   4     advance the clock by b0 * 1 ms, or b0 * 250 ms when b0 & 0x80
 *   5     flush
 *   6     toggle refusing output (a full tx ring)
 *   7     rekey
 * After each operation the stack's invariants are checked (through the internal header); at the
 * end every handle is closed and the clock runs on until every slot must be free again. */
#include "tcp/tcp_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TCP_ASSERT(cond)                                                                          \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fprintf(stderr, "fuzz_tcp: %s:%d: %s\n", __FILE__, __LINE__, #cond);                  \
            abort();                                                                              \
        }                                                                                         \
    } while (0)

#define SRV 0x0a000001u
#define CLI 0x0a000002u
#define PORT 443

typedef struct {
    uint32_t isn;          /* last SYN we sent */
    uint32_t srv_nxt;      /* server's next sequence number as last seen */
    uint32_t srv_ack;      /* what the server last acknowledged */
    int seen;
    etls_tcp_conn_t *conn; /* handle held by the application */
} slot_t;

typedef struct {
    etls_tcp_stack_t *s;
    etls_tcp_config_t cfg;
    uint64_t now;
    int refuse;
    slot_t slot[2];
} fz_t;

static uint8_t pat(uint32_t seq) { return (uint8_t)(seq * 0x9e3779b1u >> 24); }

static int out_cb(void *ctx, const etls_tcp_seg_t *g)
{
    fz_t *f = ctx;
    TCP_ASSERT(g->hdr_len >= 20 && g->hdr_len <= ETLS_TCP_MAX_HDR && g->hdr_len % 4 == 0);
    TCP_ASSERT((uint32_t)(g->hdr[12] >> 4) * 4 == g->hdr_len);
    TCP_ASSERT(g->saddr == SRV && g->daddr == CLI);
    uint32_t len = g->data_len[0] + g->data_len[1];
    TCP_ASSERT(len <= f->cfg.mss && (g->data_len[1] == 0 || g->data_len[0] > 0));
    if (f->refuse)
        return -1;
    uint16_t dport = (uint16_t)(g->hdr[2] << 8 | g->hdr[3]);
    if (dport == 1000 || dport == 1001) {
        slot_t *s = &f->slot[dport - 1000];
        uint8_t fl = g->hdr[13];
        s->srv_nxt = rd32(g->hdr + 4) + len + !!(fl & TH_SYN) + !!(fl & TH_FIN);
        if (fl & TH_ACK)
            s->srv_ack = rd32(g->hdr + 8);
        s->seen = 1;
    }
    return 0;
}

/* Every delivered byte must be what the client sent for that sequence number. */
static void check_read(etls_tcp_conn_t *c, size_t max)
{
    while (max) {
        const uint8_t *p;
        size_t n = etls_tcp_peek(c, &p);
        if (!n)
            return;
        if (n > max)
            n = max;
        for (size_t i = 0; i < n; i++)
            TCP_ASSERT(p[i] == pat(c->rd_seq + (uint32_t)i));
        etls_tcp_consume(c, n);
        max -= n;
    }
}

static void invariants(fz_t *f)
{
    etls_tcp_stack_t *s = f->s;
    TCP_ASSERT(s->n_conns <= f->cfg.max_conns && s->n_half_open <= f->cfg.syn_backlog);
    for (uint32_t i = 0; i < f->cfg.max_conns; i++) {
        const etls_tcp_conn_t *c = &s->conns[i];
        if (c->state == ETLS_TCP_S_CLOSED)
            continue;
        TCP_ASSERT(seq_leq(c->snd_una, c->snd_nxt) && seq_leq(c->snd_nxt, c->snd_max));
        TCP_ASSERT(seq_leq(c->snd_max, c->wr_seq + 1));
        TCP_ASSERT(tcp_snd_buffered(c) <= s->cfg.sndbuf);
        TCP_ASSERT(c->rcv_nxt - c->rd_seq <= s->cfg.rcvbuf + 1);
        TCP_ASSERT(c->n_ooo <= f->cfg.ooo_max_ranges && c->ooo_bytes <= f->cfg.ooo_max_bytes);
        uint32_t sum = 0;
        for (uint32_t k = 0; k < c->n_ooo; k++) {
            TCP_ASSERT(seq_gt(c->ooo[k].start, c->rcv_nxt) && seq_lt(c->ooo[k].start, c->ooo[k].end));
            TCP_ASSERT(seq_leq(c->ooo[k].end, c->rd_seq + s->cfg.rcvbuf));
            if (k)
                TCP_ASSERT(seq_gt(c->ooo[k].start, c->ooo[k - 1].end));
            sum += c->ooo[k].end - c->ooo[k].start;
        }
        TCP_ASSERT(sum == c->ooo_bytes);
        TCP_ASSERT(c->cwnd >= c->mss || c->state == ETLS_TCP_S_SYN_RECEIVED);
    }
}

static void drain_events(fz_t *f)
{
    etls_tcp_event_t ev[8];
    size_t n;
    while ((n = etls_tcp_events(f->s, ev, 8)) > 0)
        for (size_t i = 0; i < n; i++) {
            etls_tcp_conn_info_t ci;
            etls_tcp_conn_info(ev[i].conn, &ci);
            TCP_ASSERT(ci.rport == 1000 || ci.rport == 1001);
            slot_t *sl = &f->slot[ci.rport - 1000];
            if (ev[i].events & ETLS_TCP_EV_ACCEPTED) {
                if (sl->conn && sl->conn != ev[i].conn)
                    etls_tcp_close(sl->conn); /* an older incarnation still held */
                sl->conn = ev[i].conn;
                etls_tcp_conn_set_user(sl->conn, sl);
            } else {
                TCP_ASSERT(ev[i].conn == sl->conn && ev[i].user == sl);
            }
        }
}

static size_t op_segment(fz_t *f, const uint8_t *p, size_t n)
{
    if (n < 8)
        return n;
    slot_t *sl = &f->slot[p[0] & 1];
    uint8_t flags = (uint8_t)(p[0] >> 1) & 0x3f;
    int16_t dseq = (int16_t)(p[1] << 8 | p[2]), dack = (int16_t)(p[3] << 8 | p[4]);
    uint32_t base = sl->seen ? sl->srv_ack : sl->isn + 1;
    uint32_t seq = (flags & TH_SYN) && !(flags & TH_ACK) ? sl->isn + (uint32_t)(int32_t)dseq * 977u
                                                          : base + (uint32_t)(int32_t)dseq;
    if ((flags & TH_SYN) && !(flags & TH_ACK))
        sl->isn = seq;
    uint32_t ack = sl->srv_nxt + (uint32_t)(int32_t)dack;
    uint32_t len = (uint32_t)p[6] * 8;
    uint8_t b[20 + 40 + 2040], *o = b + 20;
    uint32_t ol = 0;
    if (p[7] & 1)
        o[ol++] = 2, o[ol++] = 4, wr16(o + ol, (uint16_t)(100 + p[5] * 8)), ol += 2;
    if (p[7] & 2)
        o[ol++] = 3, o[ol++] = 3, o[ol++] = p[7] >> 5, o[ol++] = 1;
    if (p[7] & 4)
        o[ol++] = 4, o[ol++] = 2, o[ol++] = 1, o[ol++] = 1;
    if (p[7] & 24) {
        uint32_t tsv = (uint32_t)(f->now / 1000) - ((p[7] & 16) ? 100000u : 0);
        o[ol++] = 1, o[ol++] = 1, o[ol++] = 8, o[ol++] = 10;
        wr32(o + ol, tsv), wr32(o + ol + 4, (uint32_t)(f->now / 1000)), ol += 8;
    }
    wr16(b, (uint16_t)(1000 + (p[0] & 1))), wr16(b + 2, PORT), wr32(b + 4, seq), wr32(b + 8, ack);
    b[12] = (uint8_t)((20 + ol) / 4 << 4), b[13] = flags;
    wr16(b + 14, (uint16_t)(p[5] << 8 | p[5])), wr16(b + 16, 0), wr16(b + 18, 0);
    for (uint32_t i = 0; i < len; i++)
        b[20 + ol + i] = pat(seq + !!(flags & TH_SYN) + i);
    TCP_ASSERT(etls_tcp_input(f->s, CLI, SRV, b, 20 + ol + len, f->now) == 0);
    return 8;
}

static size_t op_app(fz_t *f, const uint8_t *p, size_t n)
{
    if (n < 2)
        return n;
    slot_t *sl = &f->slot[p[0] & 1];
    etls_tcp_conn_t *c = sl->conn;
    if (!c)
        return 2;
    static uint8_t buf[4096];
    uint8_t *w;
    size_t k;
    switch ((p[0] >> 1) % 7) {
    case 0:
        check_read(c, SIZE_MAX);
        break;
    case 1:
        check_read(c, p[1]);
        break;
    case 2:
        k = etls_tcp_write(c, buf, (size_t)p[1] * 16);
        TCP_ASSERT(k <= (size_t)p[1] * 16);
        break;
    case 3:
        (void)etls_tcp_shutdown(c);
        break;
    case 4:
        etls_tcp_close(c);
        sl->conn = NULL;
        break;
    case 5:
        etls_tcp_abort(c);
        sl->conn = NULL;
        break;
    default:
        k = etls_tcp_write_reserve(c, &w);
        TCP_ASSERT(k <= etls_tcp_send_space(c));
        k = k < p[1] ? k : p[1];
        memset(w, 0xab, k);
        etls_tcp_commit(c, k);
        break;
    }
    return 2;
}

static void finish(fz_t *f)
{
    f->refuse = 0;
    drain_events(f);
    for (int i = 0; i < 2; i++)
        if (f->slot[i].conn) {
            check_read(f->slot[i].conn, SIZE_MAX);
            etls_tcp_close(f->slot[i].conn);
            f->slot[i].conn = NULL;
        }
    /* With short timers every connection must be gone within simulated minutes. */
    for (int i = 0; i < 400 && etls_tcp_conn_count(f->s); i++) {
        f->now += 500000;
        etls_tcp_timers(f->s, f->now);
        etls_tcp_flush(f->s, f->now);
        invariants(f);
        TCP_ASSERT(etls_tcp_events(f->s, (etls_tcp_event_t[1]){0}, 1) == 0);
    }
    TCP_ASSERT(etls_tcp_conn_count(f->s) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fz_t f;
    memset(&f, 0, sizeof f);
    etls_tcp_config_default(&f.cfg);
    f.cfg.max_conns = 4;
    f.cfg.syn_backlog = 2;
    f.cfg.sndbuf = f.cfg.rcvbuf = 8192;
    f.cfg.ooo_max_bytes = 6000;
    f.cfg.ooo_max_ranges = 3;
    f.cfg.mss = 1000;
    f.cfg.rto_max_us = 2000000;
    f.cfg.max_retries = 3;
    f.cfg.syn_retries = 2;
    f.cfg.time_wait_us = 1000000;
    f.cfg.fin_wait2_us = 1000000;
    f.cfg.cookie_period_s = 4;
    f.cfg.sack_permitted = 1;
    TCP_ASSERT(etls_tcp_create(&f.s, &f.cfg, out_cb, &f) == 0);
    TCP_ASSERT(etls_tcp_listen(f.s, SRV, PORT) == 0);
    f.now = 1000000;
    f.slot[0].isn = 1000, f.slot[1].isn = 0xfffff000u;
    const uint8_t *p = data;
    size_t n = size;
    while (n) {
        uint8_t op = p[0];
        p++, n--;
        size_t used = 0;
        switch (op % 8) {
        case 0:
        case 1:
            used = op_segment(&f, p, n);
            break;
        case 2:
            used = op_app(&f, p, n);
            break;
        case 3: {
            size_t len = n ? p[0] : 0;
            used = n ? 1 + (len < n - 1 ? len : n - 1) : 0;
            if (n)
                (void)etls_tcp_input(f.s, CLI, SRV, p + 1, used - 1, f.now);
            break;
        }
        case 4:
            if (n) {
                f.now += (p[0] & 0x80) ? (uint64_t)(p[0] & 0x7f) * 250000 : (uint64_t)p[0] * 1000;
                etls_tcp_timers(f.s, f.now);
                used = 1;
            }
            break;
        case 5:
            etls_tcp_flush(f.s, f.now);
            break;
        case 6:
            f.refuse = !f.refuse;
            break;
        default: {
            uint8_t k[ETLS_TCP_SECRET_LEN] = {op, (uint8_t)n};
            etls_tcp_rekey(f.s, k);
            break;
        }
        }
        p += used, n -= used;
        drain_events(&f);
        invariants(&f);
    }
    finish(&f);
    etls_tcp_destroy(f.s);
    return 0;
}
