/* edgetls link and network layer for the kernel-bypass transport: Ethernet II, ARP (RFC 826)
 * reply and resolution with a small per-worker table, IPv4 (RFC 791) parse and build with the
 * header checksum (or hardware offload), ICMP echo reply (RFC 792) and the TCP checksum with
 * its pseudo-header (RFC 9293 §3.1).
 *
 * Like the TLS engine this layer does no I/O and never allocates: frames come in as bytes,
 * replies are written into caller-owned buffers, and the transport (dataplane/dpdk) moves
 * them in and out of mbufs. It also runs in unit tests and under libFuzzer unchanged.
 *
 * What is dropped (and counted): frames not addressed to our MAC (or broadcast for ARP),
 * ethertypes other than IPv4 and ARP (VLAN tags included), IPv4 with a bad version, IHL,
 * total length or header checksum, packets not addressed to our IPv4 address, martian
 * sources, and every IP fragment: we do not reassemble fragments (TCP clients send whole
 * segments below the MSS we announce, so reassembly buys nothing on this path). ICMP other
 * than echo request is dropped; so is every protocol other than ICMP and TCP.
 *
 * Ownership: etls_net_t is one worker's state (address, ARP table, counters), caller-owned,
 * not thread-safe. The counters are plain fields written only by their worker; readers on
 * other threads (telemetry) tolerate torn values, as with every other per-worker counter. */
#ifndef ETLS_NET_NET_H
#define ETLS_NET_NET_H

#include <stddef.h>
#include <stdint.h>

#define ETLS_NET_ETH_ALEN 6
#define ETLS_NET_ETH_HLEN 14
#define ETLS_NET_ETHERTYPE_IPV4 0x0800
#define ETLS_NET_ETHERTYPE_ARP 0x0806
#define ETLS_NET_IPV4_HLEN 20 /* without options; we never send options */
#define ETLS_NET_ARP_LEN 28   /* Ethernet/IPv4 ARP body */
#define ETLS_NET_ICMP_HLEN 8
#define ETLS_NET_TCP_HLEN 20
#define ETLS_NET_PROTO_ICMP 1
#define ETLS_NET_PROTO_TCP 6
#define ETLS_NET_MTU 1500
#define ETLS_NET_FRAME_MAX (ETLS_NET_ETH_HLEN + ETLS_NET_MTU)
/* Ethernet + IPv4 header in front of every TCP segment we send. */
#define ETLS_NET_TCP_OVERHEAD (ETLS_NET_ETH_HLEN + ETLS_NET_IPV4_HLEN)
#define ETLS_NET_DEFAULT_TTL 64

#define ETLS_NET_ARP_ENTRIES 64
#define ETLS_NET_ARP_TTL_MS (300u * 1000u)  /* forget a neighbour after 5 minutes */
#define ETLS_NET_ARP_RETRY_MS 1000u         /* at most one request per second per address */

/* IPv4 addresses are host byte order in this API (192.0.2.1 == 0xc0000201); bytes on the
 * wire are converted at the edges. */
typedef uint32_t etls_ipv4_t;

/* Offloads the port advertises and the transport enabled. */
#define ETLS_NET_OFFLOAD_TX_IP_CSUM 0x1u  /* hardware fills the IPv4 header checksum */
#define ETLS_NET_OFFLOAD_TX_TCP_CSUM 0x2u /* hardware fills the TCP checksum from the pseudo sum */

/* Per-frame receive hints from the NIC (mbuf ol_flags translated by the transport). */
#define ETLS_NET_RX_IP_CSUM_GOOD 0x1u
#define ETLS_NET_RX_L4_CSUM_GOOD 0x2u

typedef struct etls_net_stats {
    uint64_t rx_frames;
    uint64_t rx_arp;          /* ARP frames accepted */
    uint64_t rx_icmp_echo;    /* echo requests answered */
    uint64_t rx_tcp;          /* TCP segments handed to the TCP stack */
    uint64_t tx_arp_reply;
    uint64_t tx_arp_request;
    uint64_t tx_tcp;          /* TCP frames built */
    uint64_t arp_miss;        /* a TCP frame had no neighbour yet (an ARP request went out) */
    /* drops, one counter per reason */
    uint64_t drop_short;      /* frame or header shorter than its minimum */
    uint64_t drop_mac;        /* not our MAC (nor broadcast where that is allowed) */
    uint64_t drop_ethertype;  /* not IPv4 or ARP */
    uint64_t drop_arp;        /* ARP that is not Ethernet/IPv4 or not for us */
    uint64_t drop_ip_version;
    uint64_t drop_ip_ihl;     /* IHL < 5 or beyond the packet */
    uint64_t drop_ip_len;     /* total length < header or > frame */
    uint64_t drop_ip_csum;
    uint64_t drop_ip_frag;    /* fragments: not reassembled */
    uint64_t drop_ip_addr;    /* not to our address, or a martian source */
    uint64_t drop_proto;      /* neither ICMP nor TCP */
    uint64_t drop_icmp;       /* not an echo request, bad checksum, or too big to answer */
    uint64_t drop_tcp;        /* short TCP header or bad data offset */
    uint64_t drop_tcp_csum;
} etls_net_stats_t;

typedef struct etls_net_arp_entry {
    etls_ipv4_t ip;      /* 0 = free */
    uint8_t mac[ETLS_NET_ETH_ALEN];
    uint8_t resolved;      /* 0: a request is outstanding, mac is not valid yet */
    uint64_t updated_ms;   /* last confirmation (resolved) or creation (pending) */
    uint64_t requested_ms; /* last request we sent (rate limit) */
} etls_net_arp_entry_t;

typedef struct etls_net {
    uint8_t mac[ETLS_NET_ETH_ALEN];
    etls_ipv4_t ip;
    etls_ipv4_t mask;    /* on-link prefix, e.g. 0xffffff00 */
    etls_ipv4_t gateway; /* next hop for other destinations, 0 = none (off-link is unreachable) */
    uint32_t offload;    /* ETLS_NET_OFFLOAD_* */
    uint16_t ip_id;      /* next IPv4 identification */
    etls_net_arp_entry_t arp[ETLS_NET_ARP_ENTRIES];
    etls_net_stats_t st;
} etls_net_t;

/* ---- checksums (RFC 1071) ---------------------------------------------------------------- */

/* One's-complement sum of p[0..len) added to sum (not folded, not complemented); chainable
 * as long as every chunk but the last has even length. */
uint32_t etls_net_csum_add(uint32_t sum, const void *p, size_t len);
/* Folds a running sum to 16 bits and complements it: the value to store in a header (host
 * order, store with etls_net_put16). A buffer including a correct checksum folds to 0. */
uint16_t etls_net_csum_fold(uint32_t sum);
/* The IPv4 pseudo-header sum for TCP (src, dst, protocol 6, TCP length), unfolded. */
uint32_t etls_net_tcp_pseudo_sum(etls_ipv4_t src, etls_ipv4_t dst, size_t tcp_len);
/* The checksum of a TCP segment (header with its checksum field as is, plus payload). To fill
 * it: zero the field, then store this. To verify: this is 0 for a correct segment. */
uint16_t etls_net_tcp_csum(etls_ipv4_t src, etls_ipv4_t dst, const uint8_t *seg, size_t len);
/* Fills the checksum of a TCP segment in place: the full checksum, or with
 * ETLS_NET_OFFLOAD_TX_TCP_CSUM in n->offload the folded (not complemented) pseudo-header sum
 * that offloading NICs expect. */
void etls_net_tcp_fill_csum(const etls_net_t *n, etls_ipv4_t src, etls_ipv4_t dst, uint8_t *seg,
                            size_t len);

static inline uint16_t etls_net_get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t etls_net_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void etls_net_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void etls_net_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---- set-up ------------------------------------------------------------------------------ */

/* Our address: mac, ip/prefix_len (1..32), gateway (0 = none). Clears the table and counters. */
int etls_net_init(etls_net_t *n, const uint8_t mac[ETLS_NET_ETH_ALEN], etls_ipv4_t ip,
                  unsigned prefix_len, etls_ipv4_t gateway);
/* "192.0.2.1" or "192.0.2.1/24" (prefix defaults to 32 when absent and prefix is non-NULL). */
int etls_net_parse_ipv4(const char *s, etls_ipv4_t *ip, unsigned *prefix);
/* "192.0.2.1" into buf (at least 16 bytes). */
const char *etls_net_ipv4_str(etls_ipv4_t ip, char *buf, size_t cap);

/* ---- receive ----------------------------------------------------------------------------- */

typedef enum {
    ETLS_NET_RX_DROP = 0,  /* dropped (a counter says why) or consumed without an answer */
    ETLS_NET_RX_REPLY = 1, /* a reply frame (ARP reply, ICMP echo reply) is in the reply buffer */
    ETLS_NET_RX_TCP = 2,   /* a validated TCP segment: see etls_net_rx_t */
} etls_net_rx_result_t;

/* A TCP segment found by etls_net_rx; pointers into the received frame. */
typedef struct etls_net_rx {
    etls_ipv4_t src, dst;
    const uint8_t *seg; /* TCP header + payload (checksum verified unless the NIC did) */
    size_t seg_len;
    const uint8_t *src_mac;
} etls_net_rx_t;

/* Processes one received frame at time now_ms (ARP ageing). rx_flags: ETLS_NET_RX_* hints.
 * reply/reply_cap: where an ARP or ICMP reply frame is written (ETLS_NET_FRAME_MAX is always
 * enough); *reply_len gets its length. Returns an etls_net_rx_result_t. Learns the sender's
 * MAC from ARP and from on-link IPv4 sources, so replies to a client need no ARP round trip
 * even on a worker that never saw the client's ARP traffic. */
etls_net_rx_result_t etls_net_rx(etls_net_t *n, const uint8_t *frame, size_t len, uint32_t rx_flags,
                                 uint64_t now_ms, etls_net_rx_t *tcp, uint8_t *reply,
                                 size_t reply_cap, size_t *reply_len);

/* ---- send -------------------------------------------------------------------------------- */

/* The next hop for dst: dst itself on-link, else the gateway; 0 when unreachable. */
etls_ipv4_t etls_net_next_hop(const etls_net_t *n, etls_ipv4_t dst);

/* Looks up the MAC of next hop `ip`. Returns 0 with mac filled when known. Otherwise returns
 * ETLS_ERR_IN_PROGRESS and, when a request is due (at most one per ETLS_NET_ARP_RETRY_MS),
 * writes an ARP request frame into req (ETLS_NET_ETH_HLEN + ETLS_NET_ARP_LEN bytes) and sets
 * *req_len; *req_len is 0 when no request is due. ETLS_ERR_LIMIT when the table is full of
 * fresh pending entries. */
int etls_net_arp_resolve(etls_net_t *n, etls_ipv4_t ip, uint64_t now_ms, uint8_t mac[ETLS_NET_ETH_ALEN],
                         uint8_t *req, size_t *req_len);
/* Adds or refreshes a neighbour (ARP learning; also for tests and static entries). */
void etls_net_arp_learn(etls_net_t *n, etls_ipv4_t ip, const uint8_t mac[ETLS_NET_ETH_ALEN],
                        uint64_t now_ms, int create);

/* Writes the Ethernet and IPv4 headers (ETLS_NET_TCP_OVERHEAD bytes) in front of a payload of
 * payload_len bytes that the caller already placed at hdr + ETLS_NET_TCP_OVERHEAD: source is
 * our address, TTL 64, DF set, no options; the IPv4 checksum is filled unless offloaded.
 * dst_mac is the next hop's MAC (etls_net_arp_resolve). */
int etls_net_ipv4_build(etls_net_t *n, uint8_t *hdr, const uint8_t dst_mac[ETLS_NET_ETH_ALEN],
                        etls_ipv4_t dst, uint8_t proto, size_t payload_len);

/* Frames a TCP segment that sits at frame + ETLS_NET_TCP_OVERHEAD (seg_len bytes, checksum
 * field arbitrary): fills the TCP checksum (or its offload seed) and the Ethernet/IPv4
 * headers. Returns the frame length, ETLS_ERR_IN_PROGRESS when the neighbour is unknown (an
 * ARP request may have been written to arp_req, see etls_net_arp_resolve; drop the segment:
 * TCP retransmits), or ETLS_ERR_INVALID for an unreachable destination or oversized segment. */
int etls_net_tcp_frame(etls_net_t *n, uint8_t *frame, etls_ipv4_t dst, size_t seg_len,
                       uint64_t now_ms, uint8_t *arp_req, size_t *arp_req_len);

#endif
