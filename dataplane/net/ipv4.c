/* Ethernet/IPv4 receive path (RFC 791, RFC 1122 §3.2.1 checks), ICMP echo (RFC 792) and the
 * IPv4 framing of TCP segments we send. */
#include "common/err.h"
#include "net/net_internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int etls_net_init(etls_net_t *n, const uint8_t mac[ETLS_NET_ETH_ALEN], etls_ipv4_t ip,
                  unsigned prefix_len, etls_ipv4_t gateway)
{
    ETLS_ENSURE(ip && prefix_len >= 1 && prefix_len <= 32 && !(mac[0] & 1), ETLS_ERR_INVALID);
    memset(n, 0, sizeof *n);
    memcpy(n->mac, mac, ETLS_NET_ETH_ALEN);
    n->ip = ip;
    n->mask = prefix_len == 32 ? 0xffffffffu : ~(0xffffffffu >> prefix_len);
    n->gateway = gateway;
    n->ip_id = (uint16_t)(ip ^ (ip >> 16)); /* any start works; DF is always set */
    return 0;
}

int etls_net_parse_ipv4(const char *s, etls_ipv4_t *ip, unsigned *prefix)
{
    char buf[24];
    const char *slash = strchr(s, '/');
    size_t len = slash ? (size_t)(slash - s) : strlen(s);
    ETLS_ENSURE(len > 0 && len < sizeof buf, ETLS_ERR_INVALID);
    memcpy(buf, s, len);
    buf[len] = 0;
    struct in_addr a;
    ETLS_ENSURE(inet_pton(AF_INET, buf, &a) == 1, ETLS_ERR_INVALID);
    *ip = ntohl(a.s_addr);
    if (!prefix)
        return slash ? ETLS_ERR_INVALID : 0;
    *prefix = 32;
    if (slash) {
        char *end;
        unsigned long p = strtoul(slash + 1, &end, 10);
        ETLS_ENSURE(slash[1] >= '0' && slash[1] <= '9' && !*end && p >= 1 && p <= 32,
                    ETLS_ERR_INVALID);
        *prefix = (unsigned)p;
    }
    return 0;
}

const char *etls_net_ipv4_str(etls_ipv4_t ip, char *buf, size_t cap)
{
    snprintf(buf, cap, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
    return buf;
}

etls_ipv4_t etls_net_next_hop(const etls_net_t *n, etls_ipv4_t dst)
{
    if (((dst ^ n->ip) & n->mask) == 0)
        return dst;
    return n->gateway;
}

/* Sources we never answer (RFC 1122 §3.2.1.3): unspecified, broadcast, loopback, multicast,
 * reserved class E, our own address, and the directed broadcast of our prefix. */
static int martian(const etls_net_t *n, etls_ipv4_t src)
{
    if (src == 0 || src == n->ip || (src >> 24) == 127 || (src >> 28) >= 0xe)
        return 1;
    return n->mask != 0xffffffffu && n->mask != 0xfffffffeu && (src & ~n->mask) == ~n->mask &&
           ((src ^ n->ip) & n->mask) == 0;
}

static void ip_header(etls_net_t *n, uint8_t *ip, etls_ipv4_t dst, uint8_t proto, size_t payload_len,
                      int offload)
{
    ip[0] = 0x45;
    ip[1] = 0;
    etls_net_put16(ip + 2, (uint16_t)(ETLS_NET_IPV4_HLEN + payload_len));
    etls_net_put16(ip + 4, n->ip_id++);
    etls_net_put16(ip + 6, 0x4000); /* DF: we never fragment; PMTU discovery does the rest */
    ip[8] = ETLS_NET_DEFAULT_TTL;
    ip[9] = proto;
    etls_net_put16(ip + 10, 0);
    etls_net_put32(ip + 12, n->ip);
    etls_net_put32(ip + 16, dst);
    if (!offload)
        etls_net_put16(ip + 10, etls_net_csum_fold(etls_net_csum_add(0, ip, ETLS_NET_IPV4_HLEN)));
}

static void eth_header(const etls_net_t *n, uint8_t *f, const uint8_t *dst_mac, uint16_t type)
{
    memcpy(f, dst_mac, ETLS_NET_ETH_ALEN);
    memcpy(f + 6, n->mac, ETLS_NET_ETH_ALEN);
    etls_net_put16(f + 12, type);
}

int etls_net_ipv4_build(etls_net_t *n, uint8_t *hdr, const uint8_t dst_mac[ETLS_NET_ETH_ALEN],
                        etls_ipv4_t dst, uint8_t proto, size_t payload_len)
{
    ETLS_ENSURE(payload_len <= ETLS_NET_MTU - ETLS_NET_IPV4_HLEN, ETLS_ERR_INVALID);
    eth_header(n, hdr, dst_mac, ETLS_NET_ETHERTYPE_IPV4);
    ip_header(n, hdr + ETLS_NET_ETH_HLEN, dst, proto, payload_len,
              !!(n->offload & ETLS_NET_OFFLOAD_TX_IP_CSUM));
    return 0;
}

int etls_net_tcp_frame(etls_net_t *n, uint8_t *frame, etls_ipv4_t dst, size_t seg_len,
                       uint64_t now_ms, uint8_t *arp_req, size_t *arp_req_len)
{
    uint8_t mac[ETLS_NET_ETH_ALEN];
    *arp_req_len = 0;
    ETLS_ENSURE(seg_len >= ETLS_NET_TCP_HLEN && seg_len <= ETLS_NET_MTU - ETLS_NET_IPV4_HLEN,
                ETLS_ERR_INVALID);
    etls_ipv4_t hop = etls_net_next_hop(n, dst);
    ETLS_ENSURE(hop != 0, ETLS_ERR_INVALID);
    int rc = etls_net_arp_resolve(n, hop, now_ms, mac, arp_req, arp_req_len);
    if (rc < 0) {
        n->st.arp_miss++;
        return rc == ETLS_ERR_LIMIT ? ETLS_ERR_IN_PROGRESS : rc;
    }
    uint8_t *seg = frame + ETLS_NET_TCP_OVERHEAD;
    etls_net_tcp_fill_csum(n, n->ip, dst, seg, seg_len);
    ETLS_GUARD(etls_net_ipv4_build(n, frame, mac, dst, ETLS_NET_PROTO_TCP, seg_len));
    n->st.tx_tcp++;
    return (int)(ETLS_NET_TCP_OVERHEAD + seg_len);
}

/* Echo request -> echo reply to the frame's sender (its MAC: no ARP needed). The reply is
 * rebuilt with a fresh header rather than edited in place: the request's options, TTL and ID
 * are not ours to echo. */
static etls_net_rx_result_t icmp_input(etls_net_t *n, const uint8_t *f, etls_ipv4_t src,
                                       const uint8_t *icmp, size_t len, uint8_t *reply, size_t cap,
                                       size_t *reply_len)
{
    if (len < ETLS_NET_ICMP_HLEN || icmp[0] != 8 || icmp[1] != 0 ||
        etls_net_csum_fold(etls_net_csum_add(0, icmp, len)) != 0 ||
        ETLS_NET_TCP_OVERHEAD + len > cap || ETLS_NET_IPV4_HLEN + len > ETLS_NET_MTU) {
        n->st.drop_icmp++;
        return ETLS_NET_RX_DROP;
    }
    eth_header(n, reply, f + 6, ETLS_NET_ETHERTYPE_IPV4);
    ip_header(n, reply + ETLS_NET_ETH_HLEN, src, ETLS_NET_PROTO_ICMP, len, 0);
    uint8_t *r = reply + ETLS_NET_TCP_OVERHEAD;
    memcpy(r, icmp, len);
    r[0] = 0; /* echo reply */
    etls_net_put16(r + 2, 0);
    etls_net_put16(r + 2, etls_net_csum_fold(etls_net_csum_add(0, r, len)));
    *reply_len = ETLS_NET_TCP_OVERHEAD + len;
    n->st.rx_icmp_echo++;
    return ETLS_NET_RX_REPLY;
}

static etls_net_rx_result_t tcp_input(etls_net_t *n, const uint8_t *f, etls_ipv4_t src,
                                      etls_ipv4_t dst, const uint8_t *seg, size_t len,
                                      uint32_t rx_flags, etls_net_rx_t *out)
{
    if (len < ETLS_NET_TCP_HLEN || (seg[12] >> 4) < 5 || (size_t)(seg[12] >> 4) * 4 > len) {
        n->st.drop_tcp++;
        return ETLS_NET_RX_DROP;
    }
    if (!(rx_flags & ETLS_NET_RX_L4_CSUM_GOOD) && etls_net_tcp_csum(src, dst, seg, len) != 0) {
        n->st.drop_tcp_csum++;
        return ETLS_NET_RX_DROP;
    }
    out->src = src;
    out->dst = dst;
    out->seg = seg;
    out->seg_len = len;
    out->src_mac = f + 6;
    n->st.rx_tcp++;
    return ETLS_NET_RX_TCP;
}

/* Header checks in RFC 791 order, then dispatch on the protocol. */
static etls_net_rx_result_t ipv4_input(etls_net_t *n, const uint8_t *f, size_t len, uint32_t rx_flags,
                                       uint64_t now_ms, etls_net_rx_t *tcp, uint8_t *reply,
                                       size_t cap, size_t *reply_len)
{
    const uint8_t *ip = f + ETLS_NET_ETH_HLEN;
    size_t avail = len - ETLS_NET_ETH_HLEN;
    if (avail < ETLS_NET_IPV4_HLEN) {
        n->st.drop_short++;
        return ETLS_NET_RX_DROP;
    }
    uint64_t *drop = NULL;
    size_t ihl = (size_t)(ip[0] & 0xf) * 4, tot = etls_net_get16(ip + 2);
    if ((ip[0] >> 4) != 4)
        drop = &n->st.drop_ip_version;
    else if (ihl < ETLS_NET_IPV4_HLEN || ihl > avail)
        drop = &n->st.drop_ip_ihl;
    else if (tot < ihl || tot > avail)
        drop = &n->st.drop_ip_len; /* bytes beyond tot are Ethernet padding: ignored */
    else if (!(rx_flags & ETLS_NET_RX_IP_CSUM_GOOD) &&
             etls_net_csum_fold(etls_net_csum_add(0, ip, ihl)) != 0)
        drop = &n->st.drop_ip_csum;
    else if (etls_net_get16(ip + 6) & 0x3fff)
        drop = &n->st.drop_ip_frag; /* MF or a fragment offset: we do not reassemble */
    if (drop) {
        (*drop)++;
        return ETLS_NET_RX_DROP;
    }
    etls_ipv4_t src = etls_net_get32(ip + 12), dst = etls_net_get32(ip + 16);
    if (dst != n->ip || martian(n, src)) {
        n->st.drop_ip_addr++;
        return ETLS_NET_RX_DROP;
    }
    /* The frame's source MAC is the next hop back to an on-link sender. */
    if (etls_net_next_hop(n, src) == src)
        etls_net_arp_learn(n, src, f + 6, now_ms, 1);
    if (ip[9] == ETLS_NET_PROTO_TCP)
        return tcp_input(n, f, src, dst, ip + ihl, tot - ihl, rx_flags, tcp);
    if (ip[9] == ETLS_NET_PROTO_ICMP)
        return icmp_input(n, f, src, ip + ihl, tot - ihl, reply, cap, reply_len);
    n->st.drop_proto++;
    return ETLS_NET_RX_DROP;
}

etls_net_rx_result_t etls_net_rx(etls_net_t *n, const uint8_t *frame, size_t len, uint32_t rx_flags,
                                 uint64_t now_ms, etls_net_rx_t *tcp, uint8_t *reply,
                                 size_t reply_cap, size_t *reply_len)
{
    *reply_len = 0;
    n->st.rx_frames++;
    if (len < ETLS_NET_ETH_HLEN) {
        n->st.drop_short++;
        return ETLS_NET_RX_DROP;
    }
    uint16_t type = etls_net_get16(frame + 12);
    if (type == ETLS_NET_ETHERTYPE_ARP)
        return etls_net_arp_input(n, frame, len, now_ms, reply, reply_cap, reply_len);
    if (type != ETLS_NET_ETHERTYPE_IPV4) {
        n->st.drop_ethertype++;
        return ETLS_NET_RX_DROP;
    }
    if (memcmp(frame, n->mac, ETLS_NET_ETH_ALEN)) {
        n->st.drop_mac++; /* broadcast and multicast IPv4 included: we serve unicast only */
        return ETLS_NET_RX_DROP;
    }
    return ipv4_input(n, frame, len, rx_flags, now_ms, tcp, reply, reply_cap, reply_len);
}
