/* Internal to dataplane/tcp: the stack and connection structures and the helpers the files of
 * this module share. Nothing here is part of the public interface (tcp.h). */
#ifndef ETLS_TCP_TCP_INT_H
#define ETLS_TCP_TCP_INT_H

#include <stdbool.h>
#include <string.h>

#include "tcp/tcp.h"

/* TCP header flags. */
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20

#define TCP_MAX_OOO_RANGES 8
#define TCP_WHEEL_SLOTS 1024u /* 1 ms ticks: about a second per lap */
#define TCP_TICK_US 1000u
#define TCP_DEFAULT_MSS 536u /* RFC 9293 §3.7.1: assumed when the peer sends no MSS option */
#define TCP_TS_OPT_LEN 12u   /* NOP NOP TS(10) on every segment once timestamps are on */
#define TCP_PAWS_IDLE_US (24ull * 24 * 3600 * 1000000) /* RFC 7323 §5.5: 24 days */
#define TCP_CHALLENGE_PER_SEC 10u /* per connection: no shared counter (CVE-2016-5696) */
#define TCP_RTO_SYN_FALLBACK_US 3000000u /* RFC 6298 §5.7 */

/* Sequence-space comparisons (RFC 9293 §3.4: arithmetic modulo 2^32). */
static inline bool seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline bool seq_leq(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline bool seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline bool seq_geq(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }
static inline uint32_t seq_max(uint32_t a, uint32_t b) { return seq_gt(a, b) ? a : b; }
static inline uint32_t seq_min(uint32_t a, uint32_t b) { return seq_lt(a, b) ? a : b; }

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static inline void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* Circular doubly-linked list node (the stack never moves, so plain pointers are fine). */
typedef struct tcp_link {
    struct tcp_link *prev, *next;
} tcp_link_t;
static inline void link_init(tcp_link_t *h) { h->prev = h->next = h; }
static inline bool link_empty(const tcp_link_t *h) { return h->next == h; }
static inline bool link_linked(const tcp_link_t *n) { return n->next != NULL; }
static inline void link_add_tail(tcp_link_t *h, tcp_link_t *n)
{
    n->prev = h->prev, n->next = h;
    h->prev->next = n, h->prev = n;
}
static inline void link_del(tcp_link_t *n)
{
    if (!n->next)
        return;
    n->prev->next = n->next, n->next->prev = n->prev;
    n->prev = n->next = NULL;
}
#define link_entry(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Parsed segment (host order) handed between the input steps. */
typedef struct tcp_seg_in {
    uint32_t saddr, daddr;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint32_t wnd; /* raw 16-bit field */
    uint8_t flags;
    const uint8_t *data;
    uint32_t len; /* payload bytes (SYN/FIN not counted) */
    /* options */
    uint16_t mss;
    uint8_t has_mss, has_ws, ws, sack_ok, has_ts;
    uint32_t tsval, tsecr;
} tcp_seg_in_t;

typedef struct tcp_range {
    uint32_t start, end; /* [start, end) in sequence space, beyond rcv_nxt */
} tcp_range_t;

/* Connection flags. */
enum {
    CF_APP = 1u << 0,        /* the application holds the handle */
    CF_ACKNOW = 1u << 1,     /* send an ACK at the end of this round */
    CF_FIN_QUEUED = 1u << 2, /* shutdown: FIN follows byte wr_seq-1 */
    CF_PEER_FIN = 1u << 3,   /* peer FIN received in order */
    CF_OOO_FIN = 1u << 4,    /* peer FIN seen beyond a hole (ooo_fin_seq) */
    CF_WANT_WRITE = 1u << 5, /* a write came back short: WRITABLE when space frees */
    CF_RECOVERY = 1u << 6,   /* NewReno fast recovery */
    CF_TS_RECENT = 1u << 7,  /* ts_recent holds a value */
    CF_RTT_TIMING = 1u << 8, /* a segment is being timed (no timestamps) */
    CF_CLOSED_EV = 1u << 9,  /* CLOSED/RESET already reported */
    CF_SYN_REXMIT = 1u << 10, /* the SYN-ACK was retransmitted (RFC 6298 §5.7) */
    CF_RTT_SAMPLED = 1u << 11,
    CF_COOKIE = 1u << 12,    /* created from a SYN cookie */
    CF_PARTIAL_SEEN = 1u << 13, /* a partial ACK arrived in this recovery (RFC 6582) */
};

struct etls_tcp_conn {
    etls_tcp_stack_t *stack;
    struct etls_tcp_conn *hnext; /* hash chain / free list */
    tcp_link_t tlink;            /* timer wheel slot */
    tcp_link_t evlink;           /* pending-event queue */
    tcp_link_t dlink;            /* dirty list (output wanted at flush) */
    tcp_link_t twlink;           /* TIME-WAIT FIFO (reclaimed when the pool runs dry) */
    uint32_t laddr, raddr;
    uint16_t lport, rport;
    uint8_t state;
    uint8_t snd_wscale, rcv_wscale;
    uint8_t ts_ok, sack_ok, ws_ok;
    uint8_t backoff;
    uint8_t dupacks;
    uint8_t n_ooo;
    uint32_t flags;
    uint32_t ev_bits, ev_reason;
    void *user;

    /* timers: absolute µs, 0 = off; timer_at is the armed wheel deadline (min of these) */
    uint64_t rto_at, delack_at, persist_at, misc_at, timer_at;
    uint32_t retries; /* consecutive RTO expiries without progress */
    uint32_t probes;  /* zero-window probes without any ACK in reply */

    /* send side */
    uint32_t iss, snd_una, snd_nxt, snd_max, wr_seq;
    uint32_t snd_wnd, max_snd_wnd, snd_wl1, snd_wl2;
    uint32_t mss; /* payload per segment we send (options excluded) */
    uint32_t cwnd, ssthresh, recover;
    uint32_t srtt_us, rttvar_us, rto_us;
    uint32_t rtt_seq;
    uint64_t rtt_start;
    uint64_t retransmits;

    /* receive side */
    uint32_t irs, rcv_nxt, rcv_adv, rd_seq, last_ack_sent;
    uint32_t rcv_mss; /* largest payload seen: "full-sized" for delayed ACKs */
    uint32_t unacked_bytes;
    uint32_t ooo_bytes, ooo_fin_seq;
    uint32_t sack_recent; /* a sequence number of the newest out-of-order segment kept */
    tcp_range_t ooo[TCP_MAX_OOO_RANGES];

    /* timestamps */
    uint32_t ts_off, ts_recent;
    uint64_t ts_recent_at;

    uint64_t challenge_window; /* start of the current 1 s challenge-ACK window */
    uint32_t challenge_count;
    uint32_t peer_fin_seq;

    uint8_t *sbuf, *rbuf;
};

typedef struct tcp_listener {
    uint32_t addr;
    uint16_t port;
    uint8_t used;
} tcp_listener_t;

struct etls_tcp_stack {
    etls_tcp_config_t cfg;
    etls_tcp_output_fn output;
    void *output_ctx;
    void *owned_mem; /* non-NULL when etls_tcp_create allocated the block */

    etls_tcp_conn_t *conns;
    etls_tcp_conn_t *free_list;
    etls_tcp_conn_t **hash;
    uint32_t hash_mask;
    uint32_t n_conns, n_half_open;
    uint32_t smask, rmask; /* ring masks (buffer sizes are powers of two) */
    uint8_t rcv_wscale;    /* the scale we offer: smallest that fits rcvbuf */

    tcp_listener_t listeners[ETLS_TCP_MAX_LISTEN];

    tcp_link_t evq, dirty, timewait;
    tcp_link_t *wheel; /* TCP_WHEEL_SLOTS heads */
    uint64_t wheel_tick; /* last tick processed */
    uint32_t n_timers;

    /* keys: isn, hash, cookie (current and previous) */
    uint64_t isn_key[2], hash_key[2], ts_key[2], cookie_key[2][2];
    uint64_t last_cookie_us; /* when a cookie was last sent (0 = never): ACKs are only tried
                              * as cookies for 2 periods after that */
    uint64_t now; /* latest time seen */
    uint16_t eph_next; /* active open: where the next ephemeral port search starts */

    etls_tcp_stats_t stats;
};

/* tcp.c */
etls_tcp_conn_t *tcp_conn_lookup(etls_tcp_stack_t *s, uint32_t laddr, uint16_t lport,
                                 uint32_t raddr, uint16_t rport);
etls_tcp_conn_t *tcp_conn_alloc(etls_tcp_stack_t *s, const tcp_seg_in_t *sg);
void tcp_conn_free(etls_tcp_conn_t *c);
void tcp_set_state(etls_tcp_conn_t *c, uint8_t st);
void tcp_event(etls_tcp_conn_t *c, uint32_t bits, uint32_t reason);
void tcp_conn_reset(etls_tcp_conn_t *c, uint32_t reason);
void tcp_conn_finish(etls_tcp_conn_t *c);
void tcp_mark_dirty(etls_tcp_conn_t *c);
const tcp_listener_t *tcp_listener_find(const etls_tcp_stack_t *s, uint32_t addr, uint16_t port);
uint32_t tcp_rcv_space(const etls_tcp_conn_t *c);
uint32_t tcp_snd_buffered(const etls_tcp_conn_t *c);

/* tcp_in.c */
int tcp_parse(tcp_seg_in_t *sg, uint32_t saddr, uint32_t daddr, const uint8_t *p, size_t len);

/* tcp_out.c */
void tcp_output(etls_tcp_conn_t *c, uint64_t now);
void tcp_output_after_input(etls_tcp_conn_t *c, uint64_t now); /* honours cfg.acks_at_flush */
int tcp_send_ctl(etls_tcp_conn_t *c, uint32_t seq, uint8_t flags, uint64_t now);
int tcp_send_synack(etls_tcp_conn_t *c, uint64_t now);
void tcp_send_range(etls_tcp_conn_t *c, uint32_t seq, uint32_t len, bool fin, uint64_t now);
void tcp_send_rst_for(etls_tcp_stack_t *s, const tcp_seg_in_t *sg);
void tcp_send_challenge_ack(etls_tcp_conn_t *c, uint64_t now);
void tcp_timer_fire(etls_tcp_conn_t *c, uint64_t now);
uint32_t tcp_tsnow(const etls_tcp_conn_t *c, uint64_t now);
void tcp_rtt_sample(etls_tcp_conn_t *c, uint32_t rtt_us);
uint32_t tcp_rto_current(const etls_tcp_conn_t *c);
int tcp_xmit_raw(etls_tcp_stack_t *s, const etls_tcp_seg_t *seg_hdr, uint32_t seq, uint32_t ack,
                 uint8_t flags, uint16_t wnd, const uint8_t *opts, uint32_t optlen,
                 const uint8_t *d0, uint32_t l0, const uint8_t *d1, uint32_t l1);

/* tcp_syn.c */
uint64_t tcp_siphash(const uint64_t key[2], const void *data, size_t len);
void tcp_keys_derive(etls_tcp_stack_t *s, const uint8_t secret[ETLS_TCP_SECRET_LEN], bool keep_prev);
uint32_t tcp_isn(const etls_tcp_stack_t *s, const tcp_seg_in_t *sg, uint64_t now);
uint32_t tcp_hash_tuple(const etls_tcp_stack_t *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                        uint16_t rport);
uint32_t tcp_ts_offset(const etls_tcp_stack_t *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                       uint16_t rport);
void tcp_syn_cookie_reply(etls_tcp_stack_t *s, const tcp_seg_in_t *sg, uint64_t now);
etls_tcp_conn_t *tcp_syn_cookie_check(etls_tcp_stack_t *s, const tcp_seg_in_t *sg, uint64_t now);
void tcp_syn_accept(etls_tcp_stack_t *s, const tcp_seg_in_t *sg, uint64_t now);
/* Options, MSS, receive sequence, initial window and timestamp state from the peer's SYN or
 * SYN-ACK: the part of a connection's set-up both opens share. */
void tcp_conn_from_peer_syn(etls_tcp_conn_t *c, const tcp_seg_in_t *sg, uint64_t now);
uint32_t tcp_synack_opts(const etls_tcp_stack_t *s, uint8_t *o, uint16_t mss, bool ts, bool sack,
                         bool ws, uint32_t tsval, uint32_t tsecr);

/* tcp_connect.c (active open) */
void tcp_syn_sent_input(etls_tcp_conn_t *c, const tcp_seg_in_t *sg, uint64_t now);
int tcp_send_syn(etls_tcp_conn_t *c, uint64_t now);
bool tcp_syn_sent_rto(etls_tcp_conn_t *c, uint64_t now);

/* tcp_timer.c */
void tcp_timer_update(etls_tcp_conn_t *c);
void tcp_timer_cancel_all(etls_tcp_conn_t *c);

#endif
