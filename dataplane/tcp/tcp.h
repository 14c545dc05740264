/* Userspace TCP, server side, for the DPDK transport (RFC 9293 with RFC 7323, 6298, 5681, 6582,
 * 5961, 4987 SYN cookies).
 *
 * Sans-I/O and per worker: one etls_tcp_stack_t per worker core, never shared, no locks. The
 * stack never reads a clock (the caller passes a monotonic time in microseconds to every call
 * that can start or fire a timer), never opens a socket, and never allocates after
 * etls_tcp_init/etls_tcp_create: connections, send/receive buffers, the lookup table and the
 * timer wheel all live in one block sized from etls_tcp_config_t.
 *
 * Layering (who owns what):
 *   net layer (dataplane/net)          this module                        application (TLS)
 *   ─ parses Ethernet/IPv4, validates  ─ connection table, state machine  ─ reads in-order bytes
 *     the TCP checksum (or offload)      per RFC 9293 §3.10, timers,        (zero-copy view of the
 *   ─ calls etls_tcp_input() with the    retransmission, flow control       receive buffer)
 *     TCP header+payload               ─ builds TCP headers; hands each   ─ writes bytes (copied
 *   ─ gets segments via the output       segment to the output callback     into the send buffer,
 *     callback, prepends IPv4/Ethernet,  (payload points into the send      or sealed in place)
 *     computes the TCP checksum (or      buffer; valid only during the    ─ polls events
 *     programs offload), transmits       callback)
 *
 * One poll iteration of a worker:
 *   rx burst → etls_tcp_input() per TCP segment → etls_tcp_timers(now) →
 *   etls_tcp_events() → application reads/writes/closes → etls_tcp_flush(now) → tx burst.
 * The output callback may be invoked from etls_tcp_input (ACKs unless acks_at_flush, RSTs,
 * SYN-ACKs, data the new ACK allows), etls_tcp_timers (retransmissions, delayed ACKs, probes), etls_tcp_flush (new
 * data, window updates, FINs) and etls_tcp_abort/etls_tcp_close (the RST they may send). Reads,
 * writes, commits and shutdown never transmit by themselves, so several TLS records written in
 * one iteration leave as full-MSS segments at the flush. The callback must not call back into
 * the stack.
 *
 * Byte order: every address and port in this API is in host byte order. Sequence space and
 * wire formats are handled inside.
 *
 * What is implemented: passive open, and active open (etls_tcp_connect, written for the
 * benchmark's kernel-bypass client: SYN-SENT per RFC 9293 §3.10.7.3, SYN retransmission with
 * backoff, a RST believed only when it acknowledges our SYN); MSS, window scale, SACK (RFC 2018:
 * we send SACK blocks for the out-of-order ranges we hold, on pure ACKs, so a SACK peer recovers
 * its losses quickly; SACK blocks the peer sends us are ignored — our own recovery is NewReno on
 * duplicate ACKs), timestamps with PAWS and RTT sampling; SYN cookies beyond the SYN backlog
 * (MSS index, window scale and SACK-permitted survive when the client uses timestamps); RFC 5961 challenge ACKs for RST and in-window SYN;
 * RFC 6298 RTO with exponential backoff; fast retransmit, NewReno (RFC 6582) and limited
 * transmit (RFC 3042); delayed ACKs;
 * receiver and sender silly-window avoidance; zero-window probes; out-of-order reassembly in
 * place in the receive buffer (bounded by bytes and by the number of ranges); TIME-WAIT with a
 * configurable (short) duration and RFC 6191-style reuse by a newer SYN. Nagle is off.
 * Not implemented: simultaneous open (a SYN without ACK in SYN-SENT is dropped and counted),
 * data carried on a SYN-ACK (not taken; the peer retransmits it), randomised ephemeral ports
 * (RFC 6056: ours are handed out in sequence, fine for a benchmark, not for an Internet client),
 * keep-alives, urgent data (URG is ignored), ICMP-driven PMTU discovery, ECN, a SACK scoreboard
 * for our own retransmissions, TSO/LRO, IPv6. */
#ifndef ETLS_TCP_TCP_H
#define ETLS_TCP_TCP_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct etls_tcp_stack etls_tcp_stack_t;
typedef struct etls_tcp_conn etls_tcp_conn_t;

#define ETLS_TCP_SECRET_LEN 32
#define ETLS_TCP_MAX_LISTEN 16
#define ETLS_TCP_MAX_HDR 60 /* TCP header with the largest options block we ever emit */

/* Limits and tunables. Start from etls_tcp_config_default() and change what you need.
 * Buffer sizes are rounded up to a power of two (the rings index by mask). */
typedef struct etls_tcp_config {
    uint32_t max_conns;      /* connection slots: SYN-RECEIVED, open, closing and TIME-WAIT */
    uint32_t syn_backlog;    /* half-open connections held before answering with SYN cookies */
    uint32_t sndbuf;         /* per-connection send buffer bytes (unacked + unsent) */
    uint32_t rcvbuf;         /* per-connection receive buffer bytes = largest advertised window */
    uint32_t ooo_max_bytes;  /* per connection: out-of-order bytes held beyond rcv.nxt */
    uint32_t ooo_max_ranges; /* per connection: disjoint out-of-order ranges (holes) held; <= 8 */
    uint16_t mss;            /* MSS we advertise and the cap on what we send (1460 for 1500 MTU) */
    uint8_t timestamps;      /* 1: negotiate RFC 7323 timestamps */
    uint8_t window_scale;    /* 1: negotiate window scaling */
    uint8_t sack_permitted;  /* 1: negotiate SACK (we send blocks, ignore received ones) */
    uint8_t syn_cookies;     /* 0 never (drop SYNs beyond the backlog), 1 when backlog full,
                              * 2 always (tests) */
    uint8_t acks_at_flush;   /* 1: an ACK owed for a received segment waits for the round's
                              * etls_tcp_flush, where data or a FIN the application wrote in
                              * between carries it (no bare ACK before the reply); 0: it
                              * leaves from etls_tcp_input at once */
    uint32_t rto_initial_us; /* RFC 6298 initial RTO (1 s) */
    uint32_t rto_min_us;     /* lower bound on RTO (200 ms) */
    uint32_t rto_max_us;     /* upper bound on RTO after backoff (60 s) */
    uint32_t delack_us;      /* delayed-ACK timeout (40 ms) */
    uint32_t time_wait_us;   /* TIME-WAIT duration (short; 2 s by default) */
    uint32_t fin_wait2_us;   /* FIN-WAIT-2 timeout after the app closed (30 s) */
    uint32_t syn_retries;    /* SYN-ACK retransmissions before a half-open conn is dropped */
    uint32_t max_retries;    /* data/FIN retransmissions (and zero-window probes without any
                              * answer) before the connection is reset */
    uint32_t cookie_period_s; /* SYN-cookie time step; a cookie is valid for 2 steps (64 s) */
    uint8_t secret[ETLS_TCP_SECRET_LEN]; /* keys ISNs and cookies; fill from a CSPRNG */
} etls_tcp_config_t;

/* Defaults: 512 conns, backlog 128, 64 KiB buffers (64 MiB of rings in all), ooo 64 KiB /
 * 8 ranges, MSS 1460, all options on, cookies when full, RTO 1 s / 200 ms / 60 s, delack 40 ms,
 * TIME-WAIT 2 s, FIN-WAIT-2 30 s, 5 SYN-ACK retries, 12 retries, cookie period 64 s, ACKs from
 * etls_tcp_input (acks_at_flush 0), secret all zero (the caller must fill it). Constraints (else etls_tcp_memsize returns 0): 1 <= max_conns
 * <= 2^22, syn_backlog <= max_conns, buffers 1 KiB..256 MiB, ooo_max_bytes <= rcvbuf,
 * ooo_max_ranges <= 8, mss 128..9000, rto_min <= rto_initial <= rto_max <= 600 s,
 * 1 ms <= delack < rto_min, cookie period 1..3600 s. */
void etls_tcp_config_default(etls_tcp_config_t *cfg);

/* One segment to transmit. The net layer prepends IPv4 (protocol 6, saddr → daddr) and
 * Ethernet, fills the TCP checksum (the checksum field in hdr is zero; compute it over the
 * pseudo-header, hdr and both data pieces, or set up offload), and sends. The payload may wrap
 * around the send ring, hence two pieces (data_len[1] is 0 when it does not). Everything pointed
 * to is owned by the stack and valid only until the callback returns: copy it into the mbuf. */
typedef struct etls_tcp_seg {
    uint32_t saddr, daddr; /* host byte order */
    uint16_t sport, dport; /* host byte order */
    const uint8_t *hdr;    /* TCP header with options */
    uint32_t hdr_len;      /* 20..ETLS_TCP_MAX_HDR, multiple of 4 */
    const uint8_t *data[2];
    uint32_t data_len[2];
} etls_tcp_seg_t;

/* Returns 0 when the segment was taken, negative when it could not be (tx ring or mbuf pool
 * full). A refused data segment is not counted as sent: the connection retries at the next
 * flush. Refused control segments (ACK, RST) are dropped; the peer retransmits. */
typedef int (*etls_tcp_output_fn)(void *ctx, const etls_tcp_seg_t *seg);

/* Memory needed for cfg (the stack, connection slots, buffers, tables); 0 if cfg is invalid.
 * The rings are never zeroed, so pages of a fresh mmap-backed block cost RAM only once used. */
size_t etls_tcp_memsize(const etls_tcp_config_t *cfg);
/* Builds a stack in caller memory (e.g. rte_zmalloc_socket on the worker's NUMA node) of at
 * least etls_tcp_memsize(cfg) bytes, 64-byte aligned. The caller frees mem after the last call.
 * ETLS_ERR_INVALID for a bad cfg or short/misaligned memory. */
int etls_tcp_init(etls_tcp_stack_t **out, void *mem, size_t memlen, const etls_tcp_config_t *cfg,
                  etls_tcp_output_fn output, void *output_ctx) ETLS_WARN_UNUSED;
/* Same with memory from aligned_alloc; release with etls_tcp_destroy (wipes the secrets). */
int etls_tcp_create(etls_tcp_stack_t **out, const etls_tcp_config_t *cfg,
                    etls_tcp_output_fn output, void *output_ctx) ETLS_WARN_UNUSED;
void etls_tcp_destroy(etls_tcp_stack_t *s);
/* Wipes the secrets of a stack built with etls_tcp_init (the caller then frees mem). */
void etls_tcp_fini(etls_tcp_stack_t *s);

/* Accept connections to addr:port (addr 0 = any local address). ETLS_ERR_LIMIT beyond
 * ETLS_TCP_MAX_LISTEN listeners. SYNs to a port nobody listens on get a RST. */
int etls_tcp_listen(etls_tcp_stack_t *s, uint32_t addr, uint16_t port) ETLS_WARN_UNUSED;

/* Active open: a SYN from laddr:lport to raddr:rport leaves at once (through the output
 * callback, from this call; a refused SYN is retransmitted by the timer). lport 0 picks a free
 * ephemeral port (49152..65535, in sequence) for that destination. The handle is the application's from
 * this call (user set as with etls_tcp_conn_set_user): the CONNECTED event reports the
 * handshake's end, RESET with reason REFUSED a RST in answer, or with reason TIMEOUT that
 * syn_retries retransmissions went unanswered. Until CONNECTED, writes return 0; close or abort
 * in SYN-SENT frees the slot without sending anything. ETLS_ERR_LIMIT when no slot (or no
 * ephemeral port) is free, ETLS_ERR_INVALID for a zero address/port or a tuple in use. */
int etls_tcp_connect(etls_tcp_stack_t *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                     uint16_t rport, void *user, uint64_t now_us, etls_tcp_conn_t **out) ETLS_WARN_UNUSED;

/* Rotates the ISN/cookie secret. Cookies issued under the previous secret stay valid (one
 * previous secret is kept). Call every few minutes with fresh random bytes. */
void etls_tcp_rekey(etls_tcp_stack_t *s, const uint8_t secret[ETLS_TCP_SECRET_LEN]);

/* One received TCP segment: saddr/daddr from the IPv4 header (host byte order), seg = TCP header
 * and payload (IPv4 payload, len = total length - IHL), checksum already verified. The bytes are
 * copied where needed; seg is not referenced after return. Returns 0 when processed (including
 * "dropped per RFC", which is counted in the stats) or ETLS_ERR_INVALID for a malformed header. */
int etls_tcp_input(etls_tcp_stack_t *s, uint32_t saddr, uint32_t daddr, const uint8_t *seg,
                   size_t len, uint64_t now_us);

/* Fires due timers (retransmission, delayed ACK, zero-window probe, TIME-WAIT, FIN-WAIT-2,
 * SYN-ACK retransmission) from the per-stack wheel (1 ms ticks). Call every iteration, or at
 * least by etls_tcp_next_deadline(). */
void etls_tcp_timers(etls_tcp_stack_t *s, uint64_t now_us);
/* Earliest time at which etls_tcp_timers has work, or UINT64_MAX when no timer is armed. May
 * be early (a timer re-armed further out), never late. */
uint64_t etls_tcp_next_deadline(const etls_tcp_stack_t *s);

/* Transmits what the application wrote or released since the last flush (new data within the
 * peer's and congestion windows, FINs, window updates after reads). */
void etls_tcp_flush(etls_tcp_stack_t *s, uint64_t now_us);

/* Events. A connection with new events is queued once; its bits accumulate until polled. */
enum {
    ETLS_TCP_EV_ACCEPTED = 1u << 0, /* handshake done: the handle is now the application's */
    ETLS_TCP_EV_READABLE = 1u << 1, /* new in-order bytes to read */
    ETLS_TCP_EV_WRITABLE = 1u << 2, /* send space freed after a write came back short */
    ETLS_TCP_EV_PEER_FIN = 1u << 3, /* peer's FIN reached: no bytes after those in the buffer */
    ETLS_TCP_EV_RESET = 1u << 4,    /* connection is dead (see reason); unread data dropped */
    ETLS_TCP_EV_CLOSED = 1u << 5,   /* both directions finished gracefully (our FIN acked) */
    ETLS_TCP_EV_CONNECTED = 1u << 6, /* active open: the handshake completed (ESTABLISHED) */
};
enum {
    ETLS_TCP_REASON_NONE = 0,
    ETLS_TCP_REASON_PEER_RST = 1, /* peer sent an acceptable RST */
    ETLS_TCP_REASON_TIMEOUT = 2,  /* retransmissions or probes exhausted (SYN ones included) */
    ETLS_TCP_REASON_REFUSED = 3,  /* active open: the peer answered the SYN with a RST */
};
typedef struct etls_tcp_event {
    etls_tcp_conn_t *conn;
    void *user;      /* etls_tcp_conn_set_user value (NULL until set) */
    uint32_t events; /* ETLS_TCP_EV_* bits */
    uint32_t reason; /* ETLS_TCP_REASON_* when RESET is set */
} etls_tcp_event_t;
/* Drains up to max pending events into ev; returns how many. Events of connections the
 * application already closed or aborted are never reported. */
size_t etls_tcp_events(etls_tcp_stack_t *s, etls_tcp_event_t *ev, size_t max);

/* Connection handles. A handle is the application's from its ACCEPTED event until it calls
 * etls_tcp_close or etls_tcp_abort; the slot is never reused before that, even after RESET or
 * CLOSED (the handle then stays valid but inert: reads return what is left, writes return 0).
 * After close/abort the handle must not be used again. */
void etls_tcp_conn_set_user(etls_tcp_conn_t *c, void *user);
void *etls_tcp_conn_user(const etls_tcp_conn_t *c);

/* Zero-copy read: *p is set to the first contiguous run of in-order unread bytes (the receive
 * ring may split the available data in two; call again after consuming). Returns its length
 * (0 when nothing is buffered). The view stays valid until etls_tcp_consume or the next
 * etls_tcp_input/timers call. */
size_t etls_tcp_peek(const etls_tcp_conn_t *c, const uint8_t **p);
/* Total in-order unread bytes (both ring pieces). */
size_t etls_tcp_readable(const etls_tcp_conn_t *c);
/* Marks n bytes (<= etls_tcp_readable) as read, opening the window; the window update (when
 * worth sending, per receiver SWS avoidance) leaves at the next flush. */
void etls_tcp_consume(etls_tcp_conn_t *c, size_t n);
/* Copying read: peek + memcpy + consume across both pieces; returns bytes copied. */
size_t etls_tcp_read(etls_tcp_conn_t *c, void *buf, size_t n);

/* Copies up to n bytes into the send buffer; returns how many fit (0 when full, or after
 * shutdown/close/reset). A short write arms WRITABLE for when space frees. */
size_t etls_tcp_write(etls_tcp_conn_t *c, const void *buf, size_t n);
/* Free bytes in the send buffer. */
size_t etls_tcp_send_space(const etls_tcp_conn_t *c);
/* In-place write (seal TLS records straight into the send ring): *p gets the first contiguous
 * free run, returned as its length; fill some prefix and etls_tcp_commit that many bytes. */
size_t etls_tcp_write_reserve(etls_tcp_conn_t *c, uint8_t **p);
void etls_tcp_commit(etls_tcp_conn_t *c, size_t n);

/* Half-close: a FIN follows the bytes already written (sent at the next flush). Reading goes on.
 * Idempotent; ETLS_ERR_INVALID if the connection is already reset. */
int etls_tcp_shutdown(etls_tcp_conn_t *c);
/* Releases the handle. If the connection is still open it finishes gracefully by itself: FIN
 * after the queued bytes, then FIN-WAIT/TIME-WAIT — except when unread received bytes remain,
 * which aborts with a RST (RFC 9293 §3.10.4 / RFC 2525 2.17), so a peer is never told a
 * request was consumed when it was not. */
void etls_tcp_close(etls_tcp_conn_t *c);
/* Sends a RST (if the connection is not already dead) and releases the handle at once. */
void etls_tcp_abort(etls_tcp_conn_t *c);

typedef struct etls_tcp_conn_info {
    uint32_t laddr, raddr;
    uint16_t lport, rport;
    uint32_t state;     /* ETLS_TCP_S_* below */
    uint32_t mss;       /* effective send MSS (payload bytes per segment) */
    uint32_t srtt_us;   /* 0 before the first sample */
    uint32_t rto_us;
    uint32_t cwnd, ssthresh;
    uint32_t snd_wnd;   /* peer's advertised window, scaled */
    uint32_t rcv_wnd;   /* window we advertise, scaled */
    uint8_t snd_wscale, rcv_wscale, ts_ok, sack_ok;
    uint64_t retransmits;
} etls_tcp_conn_info_t;
enum {
    ETLS_TCP_S_CLOSED = 0,
    ETLS_TCP_S_LISTEN,
    ETLS_TCP_S_SYN_RECEIVED,
    ETLS_TCP_S_ESTABLISHED,
    ETLS_TCP_S_FIN_WAIT_1,
    ETLS_TCP_S_FIN_WAIT_2,
    ETLS_TCP_S_CLOSE_WAIT,
    ETLS_TCP_S_CLOSING,
    ETLS_TCP_S_LAST_ACK,
    ETLS_TCP_S_TIME_WAIT,
    ETLS_TCP_S_SYN_SENT, /* last, so the passive-open values stay as they were */
};
void etls_tcp_conn_info(const etls_tcp_conn_t *c, etls_tcp_conn_info_t *info);
const char *etls_tcp_state_name(uint32_t state);

/* Per-stack counters (monotonic; read any time from the owning worker). */
typedef struct etls_tcp_stats {
    uint64_t segs_in, segs_out, bytes_in, bytes_out;
    uint64_t malformed;      /* etls_tcp_input returned ETLS_ERR_INVALID */
    uint64_t dropped;        /* unacceptable segments (window/PAWS/state) */
    uint64_t rst_sent, rst_recv, challenge_acks;
    uint64_t syn_recv, syn_dropped, cookies_sent, cookies_ok, cookies_bad;
    uint64_t accepted, conn_full; /* conn_full: no slot for a new connection */
    uint64_t retransmits, fast_retransmits, rto_fired, zwp_sent, dup_acks;
    uint64_t ooo_segs, ooo_dropped; /* ooo_dropped: beyond ooo_max_bytes/ranges */
    uint64_t paws_rejected, time_wait_reused, output_refused;
    uint64_t connects, connected, connect_refused, connect_timeouts; /* active open */
} etls_tcp_stats_t;
const etls_tcp_stats_t *etls_tcp_stats(const etls_tcp_stack_t *s);

/* Number of connection slots in use (any state, including TIME-WAIT and released-but-closing). */
uint32_t etls_tcp_conn_count(const etls_tcp_stack_t *s);

#endif
