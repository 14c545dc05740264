/* Passive open: keyed hashes (ISN, lookup, timestamp offsets), SYN-ACK options, SYN cookies.
 *
 * Keys: a SipHash-2-4 instance keyed from the 32-byte stack secret. ISNs follow RFC 6528:
 * hash(4-tuple) plus a 4 µs clock, so successive incarnations of one tuple move forward while
 * an off-path attacker cannot predict them. Cookies (RFC 4987 §3.6) replace the half-open state
 * when the SYN backlog is full: the SYN-ACK's sequence number carries a time counter, an MSS
 * index and a 24-bit MAC of the tuple, the client's ISN and those fields; when the client uses
 * timestamps, the low 5 bits of our TSval carry its window scale and SACK-permitted so they
 * survive too (the client echoes TSval in TSecr). */
#include "tcp/tcp_int.h"

static inline uint64_t rotl64(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

#define SIPROUND(v0, v1, v2, v3)                                                                  \
    do {                                                                                          \
        v0 += v1, v1 = rotl64(v1, 13), v1 ^= v0, v0 = rotl64(v0, 32);                           \
        v2 += v3, v3 = rotl64(v3, 16), v3 ^= v2;                                                 \
        v0 += v3, v3 = rotl64(v3, 21), v3 ^= v0;                                                 \
        v2 += v1, v1 = rotl64(v1, 17), v1 ^= v2, v2 = rotl64(v2, 32);                           \
    } while (0)

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* SipHash-2-4 (Aumasson and Bernstein), written from the paper's description. */
uint64_t tcp_siphash(const uint64_t key[2], const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t v0 = key[0] ^ 0x736f6d6570736575ull, v1 = key[1] ^ 0x646f72616e646f6dull;
    uint64_t v2 = key[0] ^ 0x6c7967656e657261ull, v3 = key[1] ^ 0x7465646279746573ull;
    size_t full = len & ~(size_t)7;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t m = le64(p + i);
        v3 ^= m;
        SIPROUND(v0, v1, v2, v3);
        SIPROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < (len & 7); i++)
        b |= (uint64_t)p[full + i] << (8 * i);
    v3 ^= b;
    SIPROUND(v0, v1, v2, v3);
    SIPROUND(v0, v1, v2, v3);
    v0 ^= b;
    v2 ^= 0xff;
    for (int i = 0; i < 4; i++)
        SIPROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

/* Each purpose gets its own key, so a value one of them leaks (a timestamp offset, a cookie)
 * says nothing about the others. The first half of the secret keys the derivation; the second
 * half, a label and an index are the message, so every key depends on all 256 bits. */
static void derive(const uint8_t secret[ETLS_TCP_SECRET_LEN], const char label[4], uint64_t out[2])
{
    uint64_t k[2] = {le64(secret), le64(secret + 8)};
    uint8_t msg[16 + 4 + 1];
    memcpy(msg, secret + 16, 16);
    memcpy(msg + 16, label, 4);
    for (int i = 0; i < 2; i++) {
        msg[20] = (uint8_t)i;
        out[i] = tcp_siphash(k, msg, sizeof msg);
    }
    memset(msg, 0, sizeof msg);
    __asm__ volatile("" : : "r"(msg) : "memory");
}

void tcp_keys_derive(etls_tcp_stack_t *s, const uint8_t secret[ETLS_TCP_SECRET_LEN], bool keep_prev)
{
    if (keep_prev)
        memcpy(s->cookie_key[1], s->cookie_key[0], sizeof s->cookie_key[0]);
    derive(secret, "isn0", s->isn_key);
    derive(secret, "hash", s->hash_key);
    derive(secret, "tsof", s->ts_key);
    derive(secret, "cook", s->cookie_key[0]);
    if (!keep_prev)
        memcpy(s->cookie_key[1], s->cookie_key[0], sizeof s->cookie_key[0]);
}

static size_t pack_tuple(uint8_t *b, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport)
{
    wr32(b, laddr), wr16(b + 4, lport), wr32(b + 6, raddr), wr16(b + 10, rport);
    return 12;
}

uint32_t tcp_hash_tuple(const etls_tcp_stack_t *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                        uint16_t rport)
{
    uint8_t b[12];
    return (uint32_t)tcp_siphash(s->hash_key, b, pack_tuple(b, laddr, lport, raddr, rport));
}

uint32_t tcp_ts_offset(const etls_tcp_stack_t *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                       uint16_t rport)
{
    uint8_t b[12];
    return (uint32_t)tcp_siphash(s->ts_key, b, pack_tuple(b, laddr, lport, raddr, rport));
}

uint32_t tcp_isn(const etls_tcp_stack_t *s, const tcp_seg_in_t *sg, uint64_t now)
{
    uint8_t b[12];
    size_t n = pack_tuple(b, sg->daddr, sg->dport, sg->saddr, sg->sport);
    return (uint32_t)tcp_siphash(s->isn_key, b, n) + (uint32_t)(now / 4);
}

/* SYN-ACK options: MSS, then SACK-permitted and timestamps, then window scale, padded with NOPs
 * to 4-byte words (the layout most stacks use, so middleboxes see nothing unusual). */
uint32_t tcp_synack_opts(const etls_tcp_stack_t *s, uint8_t *o, uint16_t mss, bool ts, bool sack,
                         bool ws, uint32_t tsval, uint32_t tsecr)
{
    uint32_t n = 0;
    o[n++] = 2, o[n++] = 4, wr16(o + n, mss), n += 2;
    if (sack && ts)
        o[n++] = 4, o[n++] = 2;
    else if (ts)
        o[n++] = 1, o[n++] = 1;
    else if (sack)
        o[n++] = 1, o[n++] = 1, o[n++] = 4, o[n++] = 2;
    if (ts) {
        o[n++] = 8, o[n++] = 10;
        wr32(o + n, tsval), wr32(o + n + 4, tsecr), n += 8;
    }
    if (ws)
        o[n++] = 1, o[n++] = 3, o[n++] = 3, o[n++] = s->rcv_wscale;
    return n;
}

/* What the peer's SYN (or SYN-ACK) settles, for both opens: options as both sides offered them
 * (RFC 7323 §1.3, RFC 2018: each only when both SYNs carried it), the MSS, the receive
 * sequence, the initial window and the first timestamp to echo. */
void tcp_conn_from_peer_syn(etls_tcp_conn_t *c, const tcp_seg_in_t *sg, uint64_t now)
{
    const etls_tcp_stack_t *s = c->stack;
    const etls_tcp_config_t *cfg = &s->cfg;
    c->ts_ok = cfg->timestamps && sg->has_ts;
    c->sack_ok = cfg->sack_permitted && sg->sack_ok;
    if (cfg->window_scale && sg->has_ws) {
        c->snd_wscale = sg->ws > 14 ? 14 : sg->ws; /* RFC 7323 §2.3 */
        c->rcv_wscale = s->rcv_wscale;
        c->ws_ok = 1;
    }
    uint32_t peer = sg->has_mss ? sg->mss : TCP_DEFAULT_MSS;
    if (peer < 64) /* a tiny MSS would multiply our per-byte costs (CVE-2019-11479) */
        peer = 64;
    uint32_t mss = peer < cfg->mss ? peer : cfg->mss;
    c->mss = mss - (c->ts_ok ? TCP_TS_OPT_LEN : 0);
    c->rcv_mss = TCP_DEFAULT_MSS;
    c->irs = sg->seq;
    c->rcv_nxt = c->rd_seq = c->last_ack_sent = sg->seq + 1;
    uint32_t hi = 2 * c->mss > 14600 ? 2 * c->mss : 14600; /* RFC 6928: IW10 */
    c->cwnd = 10 * c->mss < hi ? 10 * c->mss : hi;
    c->ssthresh = 0x7fffffff;
    if (c->ts_ok) {
        c->ts_recent = sg->tsval;
        c->ts_recent_at = now;
        c->flags |= CF_TS_RECENT;
    }
}

/* The passive side, shared by the stateful and the cookie paths. */
static void conn_setup(etls_tcp_stack_t *s, etls_tcp_conn_t *c, const tcp_seg_in_t *sg,
                       uint32_t iss, uint64_t now)
{
    tcp_conn_from_peer_syn(c, sg, now);
    c->iss = iss;
    c->snd_una = iss;
    c->snd_nxt = c->snd_max = c->wr_seq = iss + 1;
    c->recover = iss;
    c->rto_us = s->cfg.rto_initial_us;
    c->ts_off = tcp_ts_offset(s, c->laddr, c->lport, c->raddr, c->rport);
}

void tcp_syn_accept(etls_tcp_stack_t *s, const tcp_seg_in_t *sg, uint64_t now)
{
    const etls_tcp_config_t *cfg = &s->cfg;
    s->stats.syn_recv++;
    bool full = s->n_half_open >= cfg->syn_backlog;
    if (cfg->syn_cookies == 2 || (cfg->syn_cookies && full)) {
        tcp_syn_cookie_reply(s, sg, now);
        return;
    }
    if (full) {
        s->stats.syn_dropped++;
        return;
    }
    etls_tcp_conn_t *c = tcp_conn_alloc(s, sg);
    if (!c) {
        s->stats.conn_full++;
        s->stats.syn_dropped++;
        return;
    }
    conn_setup(s, c, sg, tcp_isn(s, sg, now), now);
    tcp_set_state(c, ETLS_TCP_S_SYN_RECEIVED);
    c->rtt_start = now;
    tcp_send_synack(c, now);
    c->rto_at = now + c->rto_us;
    tcp_timer_update(c);
}

/* ---- SYN cookies ---- */

/* MSS values a cookie can carry (3 bits): the common path MTUs. */
static const uint16_t cookie_mss[8] = {256, 536, 1200, 1300, 1380, 1440, 1452, 1460};

static uint32_t cookie_mac(const uint64_t key[2], const tcp_seg_in_t *sg, uint32_t cisn,
                           uint32_t count, uint32_t mssidx)
{
    uint8_t b[24];
    size_t n = pack_tuple(b, sg->daddr, sg->dport, sg->saddr, sg->sport);
    wr32(b + n, cisn), wr32(b + n + 4, count), wr32(b + n + 8, mssidx);
    return (uint32_t)tcp_siphash(key, b, n + 12) & 0xffffff;
}

static uint64_t cookie_period_us(const etls_tcp_stack_t *s)
{
    return (uint64_t)s->cfg.cookie_period_s * 1000000u;
}

void tcp_syn_cookie_reply(etls_tcp_stack_t *s, const tcp_seg_in_t *sg, uint64_t now)
{
    const etls_tcp_config_t *cfg = &s->cfg;
    uint32_t peer = sg->has_mss ? sg->mss : TCP_DEFAULT_MSS, idx = 0;
    for (uint32_t i = 1; i < 8; i++)
        if (cookie_mss[i] <= peer && cookie_mss[i] <= cfg->mss)
            idx = i;
    uint32_t count = (uint32_t)(now / cookie_period_us(s));
    uint32_t cookie = (count & 31) << 27 | idx << 24 | cookie_mac(s->cookie_key[0], sg, sg->seq, count, idx);

    bool ts = cfg->timestamps && sg->has_ts;
    bool ws = cfg->window_scale && sg->has_ws;
    bool sack = cfg->sack_permitted && sg->sack_ok;
    uint32_t tsval = 0;
    if (ts) {
        /* Below the connection's clock, so the first real TSval never goes backwards. */
        uint32_t tsnow = (uint32_t)(now / 1000) + tcp_ts_offset(s, sg->daddr, sg->dport, sg->saddr, sg->sport);
        tsval = ((tsnow - 32) & ~31u) | (sack ? 16u : 0) | (ws ? (sg->ws > 14 ? 14u : sg->ws) : 15u);
    }
    uint8_t opts[40];
    uint32_t olen = tcp_synack_opts(s, opts, cfg->mss, ts, sack && ts, ws && ts, tsval, sg->tsval);
    etls_tcp_seg_t h = {.saddr = sg->daddr, .daddr = sg->saddr, .sport = sg->dport, .dport = sg->sport};
    uint32_t wnd = s->cfg.rcvbuf > 65535 ? 65535 : s->cfg.rcvbuf;
    if (tcp_xmit_raw(s, &h, cookie, sg->seq + 1, TH_SYN | TH_ACK, (uint16_t)wnd, opts, olen, NULL, 0, NULL, 0) == 0)
        s->stats.cookies_sent++;
    s->last_cookie_us = now ? now : 1;
}

static bool cookie_valid(const etls_tcp_stack_t *s, const tcp_seg_in_t *sg, uint64_t now,
                         uint32_t *mssidx)
{
    uint32_t cookie = sg->ack - 1, cisn = sg->seq - 1;
    uint32_t count = (uint32_t)(now / cookie_period_us(s));
    *mssidx = cookie >> 24 & 7;
    for (uint32_t age = 0; age < 2; age++) {
        uint32_t cand = count - age;
        if ((cand & 31) != cookie >> 27)
            continue;
        for (int k = 0; k < 2; k++)
            if (cookie_mac(s->cookie_key[k], sg, cisn, cand, *mssidx) == (cookie & 0xffffff))
                return true;
    }
    return false;
}

/* The third segment of a handshake answered with a cookie. NULL with stats updated when it is
 * not a valid cookie (the caller answers as LISTEN does to a stray ACK: RST). */
etls_tcp_conn_t *tcp_syn_cookie_check(etls_tcp_stack_t *s, const tcp_seg_in_t *sg, uint64_t now)
{
    const etls_tcp_config_t *cfg = &s->cfg;
    if (!cfg->syn_cookies || !s->last_cookie_us || now - s->last_cookie_us > 2 * cookie_period_us(s))
        return NULL;
    uint32_t idx;
    if (!cookie_valid(s, sg, now, &idx)) {
        s->stats.cookies_bad++;
        return NULL;
    }
    etls_tcp_conn_t *c = tcp_conn_alloc(s, sg);
    if (!c) {
        s->stats.conn_full++;
        return NULL;
    }
    /* Rebuild the SYN as the client sent it, with what the cookie remembered. */
    tcp_seg_in_t syn = *sg;
    syn.seq = sg->seq - 1;
    syn.has_mss = 1;
    syn.mss = cookie_mss[idx];
    syn.has_ws = syn.sack_ok = 0;
    if (cfg->timestamps && sg->has_ts) {
        uint32_t bits = sg->tsecr & 31;
        syn.has_ws = (bits & 15) != 15;
        syn.ws = (uint8_t)(bits & 15);
        syn.sack_ok = (uint8_t)(bits >> 4);
    }
    conn_setup(s, c, &syn, sg->ack - 1, now);
    c->flags |= CF_COOKIE;
    c->snd_una = sg->ack;
    c->snd_wnd = c->max_snd_wnd = (uint32_t)sg->wnd << c->snd_wscale;
    c->snd_wl1 = sg->seq, c->snd_wl2 = sg->ack;
    c->rcv_adv = c->rcv_nxt + (s->cfg.rcvbuf > 65535 ? 65535 : s->cfg.rcvbuf);
    tcp_set_state(c, ETLS_TCP_S_ESTABLISHED);
    s->stats.cookies_ok++;
    s->stats.accepted++;
    tcp_event(c, ETLS_TCP_EV_ACCEPTED, 0);
    return c;
}
