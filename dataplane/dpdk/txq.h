/* A DPDK transmit queue for frames built by dataplane/net and dataplane/tcp, shared by the
 * edgetls DPDK worker (lcore.c) and edgetls-bench's DPDK link (bench/dpdk/link.c):
 *
 *   etls_txq_copy     a finished frame (ARP or ICMP reply) copied into a new mbuf and queued
 *   etls_txq_segment  the TCP stack's output callback body: the segment copied behind room for
 *                     Ethernet + IPv4, framed by the net layer (checksums or offload seed, ARP
 *                     for the next hop, whose request is queued too), queued
 *
 * Frames wait in q[] until the owner bursts them (once per poll iteration); a full queue is
 * handed to the owner's burst function first, so it never overflows. */
#ifndef ETLS_DPDK_TXQ_H
#define ETLS_DPDK_TXQ_H

#include "net/net.h"
#include "tcp/tcp.h"

#include <stdint.h>

struct rte_mempool;
struct rte_mbuf;

#define ETLS_TXQ_MAX 256

typedef struct etls_txq {
    struct rte_mempool *pool;
    etls_net_t *net;
    uint64_t ol_flags;          /* TX checksum offload flags for TCP frames (0: software) */
    void (*burst)(void *owner); /* sends q[0..n) and empties the queue */
    void *owner;
    uint64_t now_ms;            /* the owner keeps it current (ARP ages) */
    uint64_t nombuf;            /* mbuf allocation failures */
    unsigned n, cap;            /* cap <= ETLS_TXQ_MAX */
    struct rte_mbuf *q[ETLS_TXQ_MAX];
} etls_txq_t;

void etls_txq_queue(etls_txq_t *t, struct rte_mbuf *m);
/* 0, ETLS_ERR_NOMEM (counted in nombuf) or ETLS_ERR_LIMIT (frame larger than an mbuf). */
int etls_txq_copy(etls_txq_t *t, const uint8_t *frame, size_t len);
/* As an etls_tcp output callback: 0 when queued or lost for want of a neighbour (TCP
 * retransmits once ARP has answered), ETLS_ERR_NOMEM / ETLS_ERR_LIMIT otherwise. */
int etls_txq_segment(etls_txq_t *t, const etls_tcp_seg_t *s);

#endif
