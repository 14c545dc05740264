/* libFuzzer harness: dataplane/net receive path. Input: byte 0 = receive hints
 * (ETLS_NET_RX_* bits) and byte 1 = reply buffer size selector, the rest is one Ethernet
 * frame, copied into an allocation of exactly its size so any overread is caught. Checks the
 * layer's contract: a reply fits its buffer and is a well-formed frame from our MAC with valid
 * checksums, a TCP result points inside the frame, and every frame ends in exactly one
 * outcome counter. */
#include "net/net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NET_ASSERT(cond)                                                                          \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fprintf(stderr, "fuzz_net: %s:%d: %s\n", __FILE__, __LINE__, #cond);                  \
            abort();                                                                              \
        }                                                                                         \
    } while (0)

static uint64_t outcomes(const etls_net_stats_t *s)
{
    return s->rx_arp + s->rx_icmp_echo + s->rx_tcp + s->drop_short + s->drop_mac +
           s->drop_ethertype + s->drop_arp + s->drop_ip_version + s->drop_ip_ihl + s->drop_ip_len +
           s->drop_ip_csum + s->drop_ip_frag + s->drop_ip_addr + s->drop_proto + s->drop_icmp +
           s->drop_tcp + s->drop_tcp_csum;
}

static void check_reply(const etls_net_t *n, const uint8_t *r, size_t len)
{
    NET_ASSERT(len >= ETLS_NET_ETH_HLEN && !memcmp(r + 6, n->mac, 6));
    if (etls_net_get16(r + 12) == ETLS_NET_ETHERTYPE_ARP) {
        NET_ASSERT(len == ETLS_NET_ETH_HLEN + ETLS_NET_ARP_LEN && etls_net_get16(r + 20) == 2);
        return;
    }
    const uint8_t *ip = r + ETLS_NET_ETH_HLEN;
    NET_ASSERT(etls_net_get16(r + 12) == ETLS_NET_ETHERTYPE_IPV4 && ip[9] == ETLS_NET_PROTO_ICMP);
    NET_ASSERT((size_t)etls_net_get16(ip + 2) + ETLS_NET_ETH_HLEN == len && len <= ETLS_NET_FRAME_MAX);
    NET_ASSERT(etls_net_csum_fold(etls_net_csum_add(0, ip, ETLS_NET_IPV4_HLEN)) == 0);
    NET_ASSERT(etls_net_csum_fold(etls_net_csum_add(0, ip + 20, len - ETLS_NET_TCP_OVERHEAD)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 1};
    static etls_net_t n;
    static uint8_t reply[ETLS_NET_FRAME_MAX];
    if (size < 2)
        return 0;
    if (etls_net_init(&n, mac, 0xc0000201u, 24, 0xc00002feu) < 0) /* 192.0.2.1/24 gw .254 */
        abort();
    size_t cap = data[1] < 128 ? sizeof reply : (size_t)(data[1] - 128) * 12;
    size_t len = size - 2;
    uint8_t *frame = malloc(len ? len : 1);
    NET_ASSERT(frame);
    memcpy(frame, data + 2, len);
    etls_net_rx_t t;
    size_t rlen = 0;
    etls_net_rx_result_t res = etls_net_rx(&n, frame, len, data[0] & 3, 1000, &t, reply, cap, &rlen);
    NET_ASSERT(n.st.rx_frames == 1 && outcomes(&n.st) == 1);
    if (res == ETLS_NET_RX_REPLY) {
        NET_ASSERT(rlen > 0 && rlen <= cap);
        check_reply(&n, reply, rlen);
    } else if (res == ETLS_NET_RX_TCP) {
        NET_ASSERT(t.seg >= frame && t.seg + t.seg_len <= frame + len && t.seg_len >= 20);
        NET_ASSERT(t.dst == n.ip && ((t.seg[12] >> 4) * 4u) <= t.seg_len);
        /* Answer it: framing back to the sender needs no ARP (learned from the segment) when
         * it is on-link. */
        uint8_t out[ETLS_NET_FRAME_MAX], arp[64];
        size_t alen, sl = t.seg_len < 1480 ? t.seg_len : 1480;
        memcpy(out + ETLS_NET_TCP_OVERHEAD, t.seg, sl);
        int fl = etls_net_tcp_frame(&n, out, t.src, sl, 1000, arp, &alen);
        if (etls_net_next_hop(&n, t.src) == t.src)
            NET_ASSERT(fl == (int)(ETLS_NET_TCP_OVERHEAD + sl));
        else
            NET_ASSERT(fl < 0 || fl == (int)(ETLS_NET_TCP_OVERHEAD + sl));
    } else {
        NET_ASSERT(res == ETLS_NET_RX_DROP && rlen == 0);
    }
    free(frame);
    return 0;
}
