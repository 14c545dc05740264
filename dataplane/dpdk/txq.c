/* The shared DPDK transmit queue (txq.h). */
#include "dpdk/txq.h"

#include "common/err.h"

#include <rte_mbuf.h>
#include <string.h>

void etls_txq_queue(etls_txq_t *t, struct rte_mbuf *m)
{
    if (t->n == t->cap)
        t->burst(t->owner);
    t->q[t->n++] = m;
}

int etls_txq_copy(etls_txq_t *t, const uint8_t *frame, size_t len)
{
    struct rte_mbuf *m = rte_pktmbuf_alloc(t->pool);
    if (!m) {
        t->nombuf++;
        return ETLS_ERR_NOMEM;
    }
    uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len);
    if (!p) {
        rte_pktmbuf_free(m);
        return ETLS_ERR_LIMIT;
    }
    memcpy(p, frame, len);
    etls_txq_queue(t, m);
    return 0;
}

int etls_txq_segment(etls_txq_t *t, const etls_tcp_seg_t *s)
{
    size_t seg_len = s->hdr_len + s->data_len[0] + s->data_len[1];
    struct rte_mbuf *m = rte_pktmbuf_alloc(t->pool);
    if (!m) {
        t->nombuf++;
        return ETLS_ERR_NOMEM;
    }
    uint8_t *f = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(ETLS_NET_TCP_OVERHEAD + seg_len));
    if (!f) {
        rte_pktmbuf_free(m);
        return ETLS_ERR_LIMIT;
    }
    uint8_t *seg = f + ETLS_NET_TCP_OVERHEAD;
    memcpy(seg, s->hdr, s->hdr_len);
    if (s->data_len[0]) /* data[0] may be NULL for a bare ACK: memcpy(NULL, 0) is UB */
        memcpy(seg + s->hdr_len, s->data[0], s->data_len[0]);
    if (s->data_len[1])
        memcpy(seg + s->hdr_len + s->data_len[0], s->data[1], s->data_len[1]);
    uint8_t arp[64];
    size_t alen = 0;
    int len = etls_net_tcp_frame(t->net, f, s->daddr, seg_len, t->now_ms, arp, &alen);
    if (alen)
        etls_txq_copy(t, arp, alen);
    if (len < 0) {
        /* No neighbour yet (rare for a server: it learns the client's MAC from the client's
         * own segments). Lost on the wire: TCP retransmits once ARP has answered. */
        rte_pktmbuf_free(m);
        return 0;
    }
    if (t->ol_flags) {
        m->ol_flags |= t->ol_flags;
        m->l2_len = ETLS_NET_ETH_HLEN;
        m->l3_len = ETLS_NET_IPV4_HLEN;
    }
    etls_txq_queue(t, m);
    return 0;
}
