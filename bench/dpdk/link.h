/* The bench's end of a DPDK link, shared by `edgetls-bench hs --dpdk` (hs_dpdk.c) and
 * `edgetls-bench record --dpdk` (record_dpdk.c): EAL, one port with one queue pair, an mbuf
 * pool, the project's net layer (dataplane/net: ARP, IPv4, software checksums) and TCP
 * (dataplane/tcp, active open), all polled from the calling thread (the EAL main lcore).
 *
 *   etls_blink_open     EAL arguments (argv[0] the program name), then optionally "--" and the
 *                       DPDK-mode options below; pool, port, net
 *   etls_blink_tcp      the TCP stack with the caller's configuration (secret filled here)
 *   etls_blink_resolve  ARP for the target (waits up to 10 s for the other side)
 *   per iteration       etls_blink_rx (frames in, ARP answered, segments to TCP), TCP timers
 *                       and events (the caller's), etls_tcp_flush, etls_blink_tx
 *   etls_blink_close    everything above, EAL included
 * DPDK-mode options: --addr A.B.C.D/P (default: the target + 1, /24), --port N (0),
 *   --mbufs N (8191), --server-telemetry PATH (edgetls' dpdk_telemetry.v2 socket),
 *   --crypto-bound R (hs only: kept in the options for the caller). */
#ifndef ETLS_BENCH_DPDK_LINK_H
#define ETLS_BENCH_DPDK_LINK_H

#include "crypto/rand.h"
#include "dpdk/txq.h"
#include "net/net.h"
#include "tcp/tcp.h"

#include <stdint.h>
#include <sys/socket.h>

typedef struct etls_blink_opts {
    etls_ipv4_t addr;
    unsigned prefix;
    uint16_t port;
    uint32_t mbufs;
    const char *telemetry;
    double crypto_bound;
} etls_blink_opts_t;

struct rte_mempool;
struct rte_mbuf;

typedef struct etls_blink {
    const char *tool; /* message prefix, e.g. "edgetls-bench hs --dpdk" */
    etls_blink_opts_t d;
    etls_ipv4_t dst;
    uint16_t dport;
    int eal_up, port_up;
    struct rte_mempool *pool;
    etls_net_t net;
    etls_tcp_stack_t *tcp;
    etls_txq_t tx;   /* tx.now_ms: the caller keeps it current (ARP ages); tx.nombuf */
    uint64_t tx_dropped;
    uint8_t scratch[ETLS_NET_FRAME_MAX];
} etls_blink_t;

/* target must be IPv4. 0, or a negative code with a message printed (close anyway). */
int etls_blink_open(etls_blink_t *l, const char *tool, const struct sockaddr_storage *target,
                    int argc, char **argv);
int etls_blink_tcp(etls_blink_t *l, etls_tcp_config_t *tc, etls_rand_t *rng);
int etls_blink_resolve(etls_blink_t *l);
/* One receive burst; returns the frames received. */
unsigned etls_blink_rx(etls_blink_t *l, uint64_t now_us);
/* Sends the queued frames (what the port refuses is counted in tx_dropped). */
void etls_blink_tx(etls_blink_t *l);
/* TCP stack, port, pool, EAL. */
void etls_blink_close(etls_blink_t *l);

/* edgetls' counters over DPDK telemetry (/edgetls/workers, summed over its workers). */
typedef struct etls_blink_srv {
    uint64_t handshakes, busy_cycles, tcp_cycles, busy_us, tsc_hz, busy_cpu_ns;
    uint64_t clean_cycles, clean_tcp_cycles, bytes_in, bytes_out;
    int ok;
} etls_blink_srv_t;

/* path NULL: nothing read (ok 0). A message is printed when the socket cannot be read. */
void etls_blink_server_snapshot(const char *tool, const char *path, etls_blink_srv_t *s);

#endif
