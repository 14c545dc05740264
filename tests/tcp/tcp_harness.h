/* Packet-level harness for the userspace TCP tests: the server stack under test, a scripted
 * client that hand-builds segments, and a capture of every segment the stack emits (parsed by
 * an independent parser here, so header layout errors cannot hide behind shared code).
 * Addresses are plain numbers; nothing is ever sent on a network. */
#ifndef ETLS_TESTS_TCP_HARNESS_H
#define ETLS_TESTS_TCP_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tcp/tcp.h"
#include "test.h"

#define SRV_ADDR 0x0a000001u
#define CLI_ADDR 0x0a000002u
#define SRV_PORT 443
#define MS 1000ull

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

typedef struct {
    uint32_t saddr, daddr;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t wnd;
    uint32_t hlen;
    int has_mss, has_ws, sack_ok, has_ts, bad;
    uint16_t mss;
    uint8_t ws;
    uint32_t tsval, tsecr;
    uint32_t nsack, sack[4][2]; /* SACK blocks [start, end) */
    uint32_t len;
    uint8_t data[9000];
} seg_t;

#define CAP_MAX 128
typedef struct {
    seg_t segs[CAP_MAX];
    size_t n;
    int refuse;
} capture_t;

typedef struct {
    uint16_t port;
    uint32_t isn, nxt; /* our next sequence number */
    uint32_t rcv;      /* next byte expected from the server */
    uint32_t srv_isn;
    int ts;            /* send timestamps */
    uint32_t tsval;    /* our clock (bumped by the test as it likes) */
    uint32_t ts_recent;
    uint16_t wnd;      /* window field we send */
} client_t;

typedef struct {
    etls_tcp_config_t cfg;
    etls_tcp_stack_t *s;
    capture_t cap;
    uint64_t now;
    client_t cli;
    etls_tcp_conn_t *conn;
} env_t;

void env_config(etls_tcp_config_t *cfg);
/* Builds a stack (cfg NULL = env_config defaults) listening on SRV_PORT at SRV_ADDR. */
void env_init(env_t *e, const etls_tcp_config_t *cfg);
void env_fini(env_t *e);
void cap_clear(env_t *e);
const seg_t *cap_get(env_t *e, size_t i);

/* Raw client segment with arbitrary fields; opts may be NULL. Returns etls_tcp_input's result. */
/* A segment CLI_ADDR:sport -> SRV_ADDR:dport into the stack under test (checksum left 0). */
int seg_in(env_t *e, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
           uint16_t wnd, const uint8_t *opts, uint32_t optlen, const void *data, uint32_t len);
int cli_raw(env_t *e, uint16_t sport, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd,
            const uint8_t *opts, uint32_t optlen, const void *data, uint32_t len);
/* Segment from the client state: seq = cli.nxt, ack = cli.rcv, window cli.wnd, timestamps if
 * cli.ts; advances cli.nxt over data, SYN and FIN. */
int cli_send(env_t *e, uint8_t flags, const void *data, uint32_t len);
/* Like cli_send with an explicit sequence number (does not advance cli.nxt). */
int cli_send_at(env_t *e, uint32_t seq, uint8_t flags, const void *data, uint32_t len);

/* SYN with MSS 1460, WS 7, SACK-permitted and timestamps (ts=1) or MSS only (ts=0). */
int cli_syn(env_t *e, uint16_t port, uint32_t isn, int full_opts);
/* SYN → SYN-ACK → ACK; returns the accepted connection (checks the steps). */
etls_tcp_conn_t *handshake(env_t *e, uint16_t port, int full_opts);

/* Drains events, returns the bits for conn c (0 if none) and checks no other conn had any. */
uint32_t events_for(env_t *e, etls_tcp_conn_t *c);

void advance(env_t *e, uint64_t us); /* moves the clock and runs the timers */
void fill_pattern(uint8_t *p, size_t n, uint32_t start);
bool check_pattern(const uint8_t *p, size_t n, uint32_t start);

/* A named group of checks; run_groups runs the one named by argv[1] (every one for "all" or
 * no argument) and returns the exit status: the summary "<prefix><group>", or 2 for a group
 * that does not exist. */
typedef struct {
    const char *name;
    void (*fn)(void);
} group_t;
int run_groups(const group_t *groups, size_t n, const char *prefix, int argc, char **argv);

#endif
