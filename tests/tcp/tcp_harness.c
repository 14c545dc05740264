#include "tcp_harness.h"

#include <stdio.h>
#include <stdlib.h>

static uint16_t g16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t g32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void p16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static void p32(uint8_t *p, uint32_t v) { p16(p, (uint16_t)(v >> 16)), p16(p + 2, (uint16_t)v); }

static void parse_out(seg_t *g, const etls_tcp_seg_t *s)
{
    const uint8_t *h = s->hdr;
    memset(g, 0, offsetof(seg_t, data));
    g->saddr = s->saddr, g->daddr = s->daddr, g->sport = s->sport, g->dport = s->dport;
    g->hlen = s->hdr_len;
    if (s->hdr_len < 20 || s->hdr_len > 60 || s->hdr_len % 4 || (uint32_t)(h[12] >> 4) * 4 != s->hdr_len ||
        g16(h) != s->sport || g16(h + 2) != s->dport || g16(h + 16) != 0 || g16(h + 18) != 0)
        g->bad = 1;
    g->seq = g32(h + 4), g->ack = g32(h + 8), g->flags = h[13], g->wnd = g16(h + 14);
    for (uint32_t i = 20; i < s->hdr_len;) {
        uint8_t k = h[i];
        if (k == 0)
            break;
        if (k == 1) {
            i++;
            continue;
        }
        uint8_t l = h[i + 1];
        if (l < 2 || i + l > s->hdr_len) {
            g->bad = 1;
            break;
        }
        if (k == 2 && l == 4)
            g->has_mss = 1, g->mss = g16(h + i + 2);
        else if (k == 3 && l == 3)
            g->has_ws = 1, g->ws = h[i + 2];
        else if (k == 4 && l == 2)
            g->sack_ok = 1;
        else if (k == 8 && l == 10)
            g->has_ts = 1, g->tsval = g32(h + i + 2), g->tsecr = g32(h + i + 6);
        else if (k == 5 && l >= 10 && (l - 2) % 8 == 0 && l <= 34 && !g->nsack)
            for (uint32_t b = 0; b < (uint32_t)(l - 2) / 8; b++, g->nsack++)
                g->sack[b][0] = g32(h + i + 2 + 8 * b), g->sack[b][1] = g32(h + i + 6 + 8 * b);
        else
            g->bad = 1;
        i += l;
    }
    g->len = s->data_len[0] + s->data_len[1];
    if (g->len > sizeof g->data) {
        g->bad = 1;
        g->len = 0;
        return;
    }
    if (s->data_len[0])
        memcpy(g->data, s->data[0], s->data_len[0]);
    if (s->data_len[1])
        memcpy(g->data + s->data_len[0], s->data[1], s->data_len[1]);
}

static int out_cb(void *ctx, const etls_tcp_seg_t *s)
{
    env_t *e = ctx;
    if (e->cap.refuse)
        return -1;
    CHECK(e->cap.n < CAP_MAX);
    if (e->cap.n >= CAP_MAX)
        return 0;
    seg_t *g = &e->cap.segs[e->cap.n++];
    parse_out(g, s);
    CHECK_MSG(!g->bad, "malformed segment from the stack");
    CHECK(g->saddr == SRV_ADDR && g->daddr == CLI_ADDR);
    return 0;
}

void env_config(etls_tcp_config_t *cfg)
{
    etls_tcp_config_default(cfg);
    cfg->max_conns = 16;
    cfg->syn_backlog = 8;
    for (int i = 0; i < ETLS_TCP_SECRET_LEN; i++)
        cfg->secret[i] = (uint8_t)(i * 7 + 1);
}

void env_init(env_t *e, const etls_tcp_config_t *cfg)
{
    memset(e, 0, sizeof *e);
    if (cfg)
        e->cfg = *cfg;
    else
        env_config(&e->cfg);
    int rc = etls_tcp_create(&e->s, &e->cfg, out_cb, e);
    CHECK(rc == 0);
    if (rc) {
        fprintf(stderr, "etls_tcp_create failed\n");
        exit(1);
    }
    CHECK(etls_tcp_listen(e->s, SRV_ADDR, SRV_PORT) == 0);
    e->now = 5000 * MS; /* not zero: catches code that treats 0 as "unset" */
    etls_tcp_timers(e->s, e->now);
    e->cli.wnd = 65535;
}

void env_fini(env_t *e)
{
    etls_tcp_destroy(e->s);
    e->s = NULL;
}

void cap_clear(env_t *e) { e->cap.n = 0; }

const seg_t *cap_get(env_t *e, size_t i)
{
    static seg_t none;
    CHECK_MSG(i < e->cap.n, "expected segment %zu, only %zu captured", i, e->cap.n);
    return i < e->cap.n ? &e->cap.segs[i] : &none;
}

int seg_in(env_t *e, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
           uint16_t wnd, const uint8_t *opts, uint32_t optlen, const void *data, uint32_t len)
{
    static uint8_t buf[70000];
    uint32_t hl = 20 + optlen;
    p16(buf, sport), p16(buf + 2, dport), p32(buf + 4, seq), p32(buf + 8, ack);
    buf[12] = (uint8_t)(hl / 4 << 4), buf[13] = flags;
    p16(buf + 14, wnd), p16(buf + 16, 0), p16(buf + 18, 0);
    if (optlen)
        memcpy(buf + 20, opts, optlen);
    if (len)
        memcpy(buf + hl, data, len);
    return etls_tcp_input(e->s, CLI_ADDR, SRV_ADDR, buf, hl + len, e->now);
}

int cli_raw(env_t *e, uint16_t sport, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd,
            const uint8_t *opts, uint32_t optlen, const void *data, uint32_t len)
{
    return seg_in(e, sport, SRV_PORT, seq, ack, flags, wnd, opts, optlen, data, len);
}

static uint32_t ts_opt(env_t *e, uint8_t *o)
{
    if (!e->cli.ts)
        return 0;
    o[0] = 1, o[1] = 1, o[2] = 8, o[3] = 10;
    p32(o + 4, e->cli.tsval), p32(o + 8, e->cli.ts_recent);
    return 12;
}

int cli_send_at(env_t *e, uint32_t seq, uint8_t flags, const void *data, uint32_t len)
{
    uint8_t o[12];
    uint32_t ol = ts_opt(e, o);
    return cli_raw(e, e->cli.port, seq, (flags & F_ACK) ? e->cli.rcv : 0, flags, e->cli.wnd, o, ol, data, len);
}

int cli_send(env_t *e, uint8_t flags, const void *data, uint32_t len)
{
    int rc = cli_send_at(e, e->cli.nxt, flags, data, len);
    e->cli.nxt += len + !!(flags & F_SYN) + !!(flags & F_FIN);
    return rc;
}

int cli_syn(env_t *e, uint16_t port, uint32_t isn, int full)
{
    e->cli.port = port, e->cli.isn = isn, e->cli.nxt = isn + 1, e->cli.ts = full;
    if (!e->cli.tsval)
        e->cli.tsval = 1000;
    uint8_t o[24];
    uint32_t n = 0;
    o[n++] = 2, o[n++] = 4, p16(o + n, 1460), n += 2;
    if (full) {
        o[n++] = 4, o[n++] = 2;
        o[n++] = 8, o[n++] = 10, p32(o + n, e->cli.tsval), p32(o + n + 4, 0), n += 8;
        o[n++] = 1, o[n++] = 3, o[n++] = 3, o[n++] = 7;
    }
    return cli_raw(e, port, isn, 0, F_SYN, 65535, o, n, NULL, 0);
}

etls_tcp_conn_t *handshake(env_t *e, uint16_t port, int full)
{
    cap_clear(e);
    CHECK(cli_syn(e, port, 0x10000000u + port * 1000u, full) == 0);
    CHECK(e->cap.n == 1);
    const seg_t *sa = cap_get(e, 0);
    CHECK(sa->flags == (F_SYN | F_ACK));
    CHECK(sa->ack == e->cli.isn + 1);
    e->cli.srv_isn = sa->seq;
    e->cli.rcv = sa->seq + 1;
    if (sa->has_ts)
        e->cli.ts_recent = sa->tsval;
    cap_clear(e);
    CHECK(cli_send(e, F_ACK, NULL, 0) == 0);
    CHECK(e->cap.n == 0);
    etls_tcp_event_t ev[4];
    size_t n = etls_tcp_events(e->s, ev, 4);
    CHECK(n == 1);
    if (n != 1)
        return NULL;
    CHECK(ev[0].events == ETLS_TCP_EV_ACCEPTED);
    e->conn = ev[0].conn;
    return ev[0].conn;
}

uint32_t events_for(env_t *e, etls_tcp_conn_t *c)
{
    etls_tcp_event_t ev[16];
    size_t n = etls_tcp_events(e->s, ev, 16);
    uint32_t bits = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK_MSG(ev[i].conn == c, "event for an unexpected connection");
        if (ev[i].conn == c)
            bits |= ev[i].events;
    }
    return bits;
}

void advance(env_t *e, uint64_t us)
{
    e->now += us;
    etls_tcp_timers(e->s, e->now);
}

void fill_pattern(uint8_t *p, size_t n, uint32_t start)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t x = start + (uint32_t)i;
        p[i] = (uint8_t)(x ^ (x >> 8) ^ (x >> 16) * 7);
    }
}

bool check_pattern(const uint8_t *p, size_t n, uint32_t start)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t x = start + (uint32_t)i;
        if (p[i] != (uint8_t)(x ^ (x >> 8) ^ (x >> 16) * 7))
            return false;
    }
    return true;
}

int run_groups(const group_t *groups, size_t n, const char *prefix, int argc, char **argv)
{
    const char *want = argc > 1 ? argv[1] : "all";
    int ran = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(want, "all") || !strcmp(want, groups[i].name)) {
            groups[i].fn();
            ran++;
        }
    if (!ran) {
        fprintf(stderr, "unknown group %s\n", want);
        return 2;
    }
    char name[64];
    snprintf(name, sizeof name, "%s%s", prefix, want);
    return etls_test_summary(name);
}
