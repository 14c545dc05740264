/* dataplane/net: checksums against known values and a naive reference, ARP request -> reply,
 * ARP resolution and its rate limit, ICMP echo -> reply, TCP framing between two stacks, and
 * every malformed-packet drop with its counter. */
#include "common/err.h"
#include "net/net.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

#define IP(a, b, c, d) ((etls_ipv4_t)(a) << 24 | (etls_ipv4_t)(b) << 16 | (etls_ipv4_t)(c) << 8 | (d))

static const uint8_t srv_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
static const uint8_t cli_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const etls_ipv4_t srv_ip = IP(192, 0, 2, 1), cli_ip = IP(192, 0, 2, 2);

/* Two bytes at a time, straight from RFC 1071: the reference for the 8-byte implementation. */
static uint16_t ref_csum(uint32_t sum, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static uint64_t total_outcomes(const etls_net_stats_t *s)
{
    return s->rx_arp + s->rx_icmp_echo + s->rx_tcp + s->drop_short + s->drop_mac +
           s->drop_ethertype + s->drop_arp + s->drop_ip_version + s->drop_ip_ihl + s->drop_ip_len +
           s->drop_ip_csum + s->drop_ip_frag + s->drop_ip_addr + s->drop_proto + s->drop_icmp +
           s->drop_tcp + s->drop_tcp_csum;
}

static void test_csum_known(void)
{
    /* RFC 1071 §3 numerical example: the sum of these words is 0xddf2. */
    static const uint8_t rfc[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    CHECK(etls_net_csum_fold(etls_net_csum_add(0, rfc, sizeof rfc)) == (uint16_t)~0xddf2);
    /* A real IPv4 header (UDP 192.168.0.1 -> 192.168.0.199) whose checksum is 0xb861. */
    uint8_t ip[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                    0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    CHECK(etls_net_csum_fold(etls_net_csum_add(0, ip, sizeof ip)) == 0);
    ip[10] = ip[11] = 0;
    CHECK(etls_net_csum_fold(etls_net_csum_add(0, ip, sizeof ip)) == 0xb861);
    /* Odd length: the last byte is the high half of a word. */
    static const uint8_t odd[] = {0x12, 0x34, 0x56};
    CHECK(etls_net_csum_fold(etls_net_csum_add(0, odd, 3)) == (uint16_t)~(0x1234 + 0x5600));
    CHECK(etls_net_csum_fold(etls_net_csum_add(0, odd, 0)) == 0xffff);
}

static void test_csum_reference(etls_test_rng_t *r)
{
    static uint8_t buf[1700];
    unsigned rounds = 3000;
#ifdef __SANITIZE_ADDRESS__
    rounds /= 10;
#endif
    for (unsigned i = 0; i < rounds; i++) {
        size_t len = etls_test_rng_next(r) % 1600, off = etls_test_rng_next(r) % 8;
        etls_test_rng_bytes(r, buf, sizeof buf);
        if (i % 7 == 0)
            memset(buf + off, 0xff, len); /* many carries */
        uint16_t want = ref_csum(0, buf + off, len);
        CHECK_MSG(etls_net_csum_fold(etls_net_csum_add(0, buf + off, len)) == want, "len %zu", len);
        size_t cut = (etls_test_rng_next(r) % (len / 2 + 1)) * 2; /* chained: even first chunk */
        uint32_t s = etls_net_csum_add(0, buf + off, cut);
        s = etls_net_csum_add(s, buf + off + cut, len - cut);
        CHECK_MSG(etls_net_csum_fold(s) == want, "len %zu cut %zu", len, cut);
    }
}

static void test_tcp_csum(etls_test_rng_t *r)
{
    uint8_t seg[600], pseudo[12];
    etls_net_t n;
    CHECK(etls_net_init(&n, srv_mac, srv_ip, 24, 0) == 0);
    for (size_t len = 20; len < sizeof seg; len += 37) {
        etls_test_rng_bytes(r, seg, len);
        seg[12] = 5 << 4;
        etls_net_tcp_fill_csum(&n, srv_ip, cli_ip, seg, len);
        CHECK(etls_net_tcp_csum(srv_ip, cli_ip, seg, len) == 0);
        /* Same value as the reference over pseudo-header + segment with the field zeroed. */
        uint16_t got = etls_net_get16(seg + 16);
        etls_net_put32(pseudo, srv_ip);
        etls_net_put32(pseudo + 4, cli_ip);
        pseudo[8] = 0;
        pseudo[9] = 6;
        etls_net_put16(pseudo + 10, (uint16_t)len);
        seg[16] = seg[17] = 0;
        uint8_t all[620];
        memcpy(all, pseudo, 12);
        memcpy(all + 12, seg, len);
        CHECK(got == ref_csum(0, all, len + 12));
        seg[20 % len] ^= 1; /* any flipped bit breaks it */
        etls_net_put16(seg + 16, got);
        CHECK(etls_net_tcp_csum(srv_ip, cli_ip, seg, len) != 0);
    }
    /* Offload seed: the folded, uncomplemented pseudo-header sum (what DPDK's
     * rte_ipv4_phdr_cksum gives). */
    n.offload = ETLS_NET_OFFLOAD_TX_TCP_CSUM;
    etls_net_tcp_fill_csum(&n, srv_ip, cli_ip, seg, 100);
    etls_net_put32(pseudo, srv_ip);
    etls_net_put32(pseudo + 4, cli_ip);
    etls_net_put16(pseudo + 10, 100);
    unsigned seed = 0xffffu - (unsigned)ref_csum(0, pseudo, 12);
    CHECK((unsigned)etls_net_get16(seg + 16) == seed);
}

static void test_parse(void)
{
    etls_ipv4_t ip;
    unsigned p;
    char buf[20];
    CHECK(etls_net_parse_ipv4("192.0.2.1/24", &ip, &p) == 0 && ip == srv_ip && p == 24);
    CHECK(etls_net_parse_ipv4("192.0.2.1", &ip, &p) == 0 && p == 32);
    CHECK(etls_net_parse_ipv4("192.0.2.1", &ip, NULL) == 0 && ip == srv_ip);
    CHECK(strcmp(etls_net_ipv4_str(IP(198, 51, 100, 254), buf, sizeof buf), "198.51.100.254") == 0);
    static const char *bad[] = {"", "/24", "192.0.2.1/", "192.0.2.1/33", "192.0.2.1/0",
                                "192.0.2.1/x", "192.0.2.1/24x", "1.2.3", "256.0.0.1",
                                "192.0.2.1/-1", "192.0.2.1/ 8", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_MSG(etls_net_parse_ipv4(bad[i], &ip, &p) == ETLS_ERR_INVALID, "%s", bad[i]);
    CHECK(etls_net_parse_ipv4("192.0.2.1/24", &ip, NULL) == ETLS_ERR_INVALID);
    etls_net_t n;
    CHECK(etls_net_init(&n, srv_mac, srv_ip, 0, 0) == ETLS_ERR_INVALID);
    CHECK(etls_net_init(&n, srv_mac, 0, 24, 0) == ETLS_ERR_INVALID);
    CHECK(etls_net_init(&n, bcast, srv_ip, 24, 0) == ETLS_ERR_INVALID);
    CHECK(etls_net_init(&n, srv_mac, srv_ip, 24, IP(192, 0, 2, 254)) == 0);
    CHECK(n.mask == 0xffffff00u);
    CHECK(etls_net_next_hop(&n, cli_ip) == cli_ip);
    CHECK(etls_net_next_hop(&n, IP(198, 51, 100, 7)) == IP(192, 0, 2, 254));
    n.gateway = 0;
    CHECK(etls_net_next_hop(&n, IP(198, 51, 100, 7)) == 0);
}

static size_t arp_frame(uint8_t *f, const uint8_t *eth_dst, uint16_t op, const uint8_t *sha,
                        etls_ipv4_t spa, const uint8_t *tha, etls_ipv4_t tpa)
{
    memcpy(f, eth_dst, 6);
    memcpy(f + 6, sha, 6);
    etls_net_put16(f + 12, 0x0806);
    uint8_t *a = f + 14;
    etls_net_put16(a, 1);
    etls_net_put16(a + 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    etls_net_put16(a + 6, op);
    memcpy(a + 8, sha, 6);
    etls_net_put32(a + 14, spa);
    memcpy(a + 18, tha, 6);
    etls_net_put32(a + 24, tpa);
    return 42;
}

static etls_net_rx_result_t rx(etls_net_t *n, const uint8_t *f, size_t len, uint8_t *reply,
                               size_t *rlen, etls_net_rx_t *t)
{
    return etls_net_rx(n, f, len, 0, 1000, t, reply, ETLS_NET_FRAME_MAX, rlen);
}

static void test_arp_reply(void)
{
    static const uint8_t zero[6];
    etls_net_t n;
    uint8_t f[64], reply[ETLS_NET_FRAME_MAX], mac[6], req[64];
    size_t rlen, qlen;
    etls_net_rx_t t;
    CHECK(etls_net_init(&n, srv_mac, srv_ip, 24, 0) == 0);
    size_t len = arp_frame(f, bcast, 1, cli_mac, cli_ip, zero, srv_ip);
    CHECK(rx(&n, f, len, reply, &rlen, &t) == ETLS_NET_RX_REPLY);
    CHECK(rlen == 42);
    uint8_t want[64];
    arp_frame(want, cli_mac, 2, srv_mac, srv_ip, cli_mac, cli_ip);
    memcpy(want + 6, srv_mac, 6);
    CHECK_MEM(reply, want, 42);
    CHECK(n.st.rx_arp == 1 && n.st.tx_arp_reply == 1);
    /* The requester is now a known neighbour. */
    CHECK(etls_net_arp_resolve(&n, cli_ip, 1500, mac, req, &qlen) == 0 && qlen == 0);
    CHECK_MEM(mac, cli_mac, 6);

    /* A request for someone else: dropped, and its sender is not added (RFC 826). */
    etls_ipv4_t other = IP(192, 0, 2, 9);
    len = arp_frame(f, bcast, 1, cli_mac, other, zero, IP(192, 0, 2, 3));
    CHECK(rx(&n, f, len, reply, &rlen, &t) == ETLS_NET_RX_DROP && n.st.drop_arp == 1);
    CHECK(etls_net_arp_resolve(&n, other, 1500, mac, req, &qlen) == ETLS_ERR_IN_PROGRESS);
    /* ...but a reply to us from it resolves the pending entry. */
    len = arp_frame(f, srv_mac, 2, cli_mac, other, srv_mac, srv_ip);
    CHECK(rx(&n, f, len, reply, &rlen, &t) == ETLS_NET_RX_DROP && rlen == 0);
    CHECK(n.st.rx_arp == 2);
    CHECK(etls_net_arp_resolve(&n, other, 1500, mac, req, &qlen) == 0);

    /* Malformed or hostile ARP. */
    uint64_t before = n.st.drop_arp;
    len = arp_frame(f, bcast, 1, cli_mac, cli_ip, zero, srv_ip);
    f[15] = 6; /* htype 6 */
    CHECK(rx(&n, f, len, reply, &rlen, &t) == ETLS_NET_RX_DROP);
    arp_frame(f, bcast, 1, cli_mac, cli_ip, zero, srv_ip);
    f[18] = 8; /* hlen 8 */
    CHECK(rx(&n, f, len, reply, &rlen, &t) == ETLS_NET_RX_DROP);
    arp_frame(f, bcast, 3, cli_mac, cli_ip, zero, srv_ip); /* op 3 */
    CHECK(rx(&n, f, len, reply, &rlen, &t) == ETLS_NET_RX_DROP);
    arp_frame(f, bcast, 1, bcast, cli_ip, zero, srv_ip); /* multicast sender */
    CHECK(rx(&n, f, len, reply, &rlen, &t) == ETLS_NET_RX_DROP);
    arp_frame(f, bcast, 1, cli_mac, srv_ip, zero, srv_ip); /* claims our address */
    CHECK(rx(&n, f, len, reply, &rlen, &t) == ETLS_NET_RX_DROP);
    CHECK(n.st.drop_arp == before + 5);
    arp_frame(f, cli_mac, 1, cli_mac, cli_ip, zero, srv_ip); /* unicast to someone else */
    CHECK(rx(&n, f, len, reply, &rlen, &t) == ETLS_NET_RX_DROP && n.st.drop_mac == 1);
    CHECK(rx(&n, f, 41, reply, &rlen, &t) == ETLS_NET_RX_DROP && n.st.drop_short == 1);
    CHECK(rx(&n, f, 13, reply, &rlen, &t) == ETLS_NET_RX_DROP && n.st.drop_short == 2);
    CHECK(n.st.tx_arp_reply == 1);
    CHECK(total_outcomes(&n.st) == n.st.rx_frames);
}

static void test_arp_resolve(void)
{
    etls_net_t n;
    uint8_t mac[6], req[64];
    size_t qlen;
    CHECK(etls_net_init(&n, srv_mac, srv_ip, 16, 0) == 0);
    CHECK(etls_net_arp_resolve(&n, cli_ip, 10, mac, req, &qlen) == ETLS_ERR_IN_PROGRESS);
    CHECK(qlen == 42);
    static const uint8_t zero[6];
    uint8_t want[64];
    arp_frame(want, bcast, 1, srv_mac, srv_ip, zero, cli_ip);
    CHECK_MEM(req, want, 42);
    /* Rate limit: no second request within a second, one after. */
    CHECK(etls_net_arp_resolve(&n, cli_ip, 500, mac, req, &qlen) == ETLS_ERR_IN_PROGRESS && qlen == 0);
    CHECK(etls_net_arp_resolve(&n, cli_ip, 1010, mac, req, &qlen) == ETLS_ERR_IN_PROGRESS && qlen == 42);
    CHECK(n.st.tx_arp_request == 2);
    etls_net_arp_learn(&n, cli_ip, cli_mac, 2000, 0);
    CHECK(etls_net_arp_resolve(&n, cli_ip, 2000, mac, req, &qlen) == 0 && qlen == 0);
    /* Stale: still usable, and a confirmation request goes out. */
    uint64_t later = 2000 + ETLS_NET_ARP_TTL_MS;
    CHECK(etls_net_arp_resolve(&n, cli_ip, later, mac, req, &qlen) == 0 && qlen == 42);
    CHECK_MEM(mac, cli_mac, 6);
    /* A table full of fresh pending entries refuses new ones; learned ones evict the oldest. */
    etls_net_init(&n, srv_mac, srv_ip, 16, 0);
    for (unsigned i = 0; i < ETLS_NET_ARP_ENTRIES; i++)
        CHECK(etls_net_arp_resolve(&n, IP(192, 0, 3, i + 1), 100, mac, req, &qlen) == ETLS_ERR_IN_PROGRESS);
    CHECK(etls_net_arp_resolve(&n, IP(192, 0, 4, 1), 100, mac, req, &qlen) == ETLS_ERR_LIMIT);
    CHECK(etls_net_arp_resolve(&n, IP(192, 0, 4, 1), 1100, mac, req, &qlen) == ETLS_ERR_IN_PROGRESS);
    etls_net_arp_learn(&n, IP(192, 0, 4, 2), cli_mac, 1200, 1);
    CHECK(etls_net_arp_resolve(&n, IP(192, 0, 4, 2), 1200, mac, req, &qlen) == 0);
}

/* An IPv4 frame from the client to the server with a payload of plen bytes. */
static size_t ip_frame(uint8_t *f, uint8_t proto, const uint8_t *payload, size_t plen)
{
    memcpy(f, srv_mac, 6);
    memcpy(f + 6, cli_mac, 6);
    etls_net_put16(f + 12, 0x0800);
    uint8_t *ip = f + 14;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    etls_net_put16(ip + 2, (uint16_t)(20 + plen));
    etls_net_put16(ip + 4, 0x1234);
    etls_net_put16(ip + 6, 0x4000);
    ip[8] = 63;
    ip[9] = proto;
    etls_net_put32(ip + 12, cli_ip);
    etls_net_put32(ip + 16, srv_ip);
    etls_net_put16(ip + 10, etls_net_csum_fold(etls_net_csum_add(0, ip, 20)));
    memcpy(ip + 20, payload, plen);
    return 34 + plen;
}

static void ip_recsum(uint8_t *f)
{
    uint8_t *ip = f + 14;
    size_t ihl = (size_t)(ip[0] & 0xf) * 4;
    etls_net_put16(ip + 10, 0);
    etls_net_put16(ip + 10, etls_net_csum_fold(etls_net_csum_add(0, ip, ihl)));
}

static size_t echo_request(uint8_t *f, size_t data_len)
{
    uint8_t icmp[1500];
    icmp[0] = 8;
    icmp[1] = 0;
    etls_net_put16(icmp + 2, 0);
    etls_net_put16(icmp + 4, 0xbeef); /* identifier */
    etls_net_put16(icmp + 6, 7);      /* sequence */
    for (size_t i = 0; i < data_len; i++)
        icmp[8 + i] = (uint8_t)(i * 7 + 1);
    etls_net_put16(icmp + 2, etls_net_csum_fold(etls_net_csum_add(0, icmp, 8 + data_len)));
    return ip_frame(f, 1, icmp, 8 + data_len);
}

static void test_icmp(void)
{
    etls_net_t n;
    uint8_t f[ETLS_NET_FRAME_MAX + 64], reply[ETLS_NET_FRAME_MAX];
    size_t rlen;
    etls_net_rx_t t;
    CHECK(etls_net_init(&n, srv_mac, srv_ip, 24, 0) == 0);
    size_t len = echo_request(f, 56);
    CHECK(rx(&n, f, len, reply, &rlen, &t) == ETLS_NET_RX_REPLY);
    CHECK(rlen == len);
    CHECK_MEM(reply, cli_mac, 6);
    CHECK_MEM(reply + 6, srv_mac, 6);
    const uint8_t *ip = reply + 14, *icmp = reply + 34;
    CHECK(ip[0] == 0x45 && ip[8] == 64 && ip[9] == 1 && etls_net_get16(ip + 2) == 20 + 64);
    CHECK(etls_net_get32(ip + 12) == srv_ip && etls_net_get32(ip + 16) == cli_ip);
    CHECK(etls_net_csum_fold(etls_net_csum_add(0, ip, 20)) == 0);
    CHECK(icmp[0] == 0 && icmp[1] == 0);
    CHECK(etls_net_csum_fold(etls_net_csum_add(0, icmp, 64)) == 0);
    CHECK_MEM(icmp + 4, f + 34 + 4, 60); /* identifier, sequence and data echoed */
    CHECK(n.st.rx_icmp_echo == 1);
    /* Odd-sized and maximal payloads; a reply that does not fit the buffer is dropped. */
    len = echo_request(f, 1);
    CHECK(rx(&n, f, len, reply, &rlen, &t) == ETLS_NET_RX_REPLY && rlen == len);
    CHECK(etls_net_csum_fold(etls_net_csum_add(0, reply + 34, 9)) == 0);
    len = echo_request(f, 1472);
    CHECK(rx(&n, f, len, reply, &rlen, &t) == ETLS_NET_RX_REPLY && rlen == 1514);
    CHECK(etls_net_rx(&n, f, len, 0, 1, &t, reply, 1000, &rlen) == ETLS_NET_RX_DROP);
    CHECK(n.st.drop_icmp == 1);
    /* Bad ICMP checksum, echo reply, unknown type, truncated header. */
    len = echo_request(f, 10);
    f[40] ^= 0x55;
    CHECK(rx(&n, f, len, reply, &rlen, &t) == ETLS_NET_RX_DROP);
    len = echo_request(f, 10);
    f[34] = 0;
    etls_net_put16(f + 36, 0);
    etls_net_put16(f + 36, etls_net_csum_fold(etls_net_csum_add(0, f + 34, 18)));
    CHECK(rx(&n, f, len, reply, &rlen, &t) == ETLS_NET_RX_DROP);
    uint8_t tiny[4] = {8, 0, 0xf7, 0xff};
    len = ip_frame(f, 1, tiny, 4);
    CHECK(rx(&n, f, len, reply, &rlen, &t) == ETLS_NET_RX_DROP);
    CHECK(n.st.drop_icmp == 4);
    /* A ping to the broadcast MAC is not answered. */
    len = echo_request(f, 10);
    memcpy(f, bcast, 6);
    CHECK(rx(&n, f, len, reply, &rlen, &t) == ETLS_NET_RX_DROP && n.st.drop_mac == 1);
    CHECK(total_outcomes(&n.st) == n.st.rx_frames);
}

/* Each malformation is dropped by exactly the counter that names it. */
static void test_malformed(void)
{
    etls_net_t n;
    uint8_t f[2000], reply[ETLS_NET_FRAME_MAX], seg[40] = {0};
    size_t rlen, len;
    etls_net_rx_t t;
    CHECK(etls_net_init(&n, srv_mac, srv_ip, 24, 0) == 0);
    seg[12] = 5 << 4;
#define EXPECT_DROP(counter)                                                                      \
    do {                                                                                          \
        uint64_t c0 = n.st.counter;                                                               \
        CHECK(rx(&n, f, len, reply, &rlen, &t) == ETLS_NET_RX_DROP);                              \
        CHECK_MSG(n.st.counter == c0 + 1, "%s", #counter);                                        \
    } while (0)
    len = ip_frame(f, 6, seg, 20);
    len = 33; /* truncated IPv4 header */
    EXPECT_DROP(drop_short);
    len = ip_frame(f, 6, seg, 20);
    f[14] = 0x65; /* version 6 */
    ip_recsum(f);
    EXPECT_DROP(drop_ip_version);
    len = ip_frame(f, 6, seg, 20);
    f[14] = 0x44; /* IHL 4 */
    EXPECT_DROP(drop_ip_ihl);
    len = ip_frame(f, 6, seg, 20);
    f[14] = 0x4f; /* IHL 15 = 60 bytes > the 40 present */
    EXPECT_DROP(drop_ip_ihl);
    len = ip_frame(f, 6, seg, 20);
    etls_net_put16(f + 16, 19); /* total length below the header */
    ip_recsum(f);
    EXPECT_DROP(drop_ip_len);
    len = ip_frame(f, 6, seg, 20);
    etls_net_put16(f + 16, 41); /* one byte more than the frame has */
    ip_recsum(f);
    EXPECT_DROP(drop_ip_len);
    len = ip_frame(f, 6, seg, 20);
    f[24] ^= 1; /* header checksum */
    EXPECT_DROP(drop_ip_csum);
    len = ip_frame(f, 6, seg, 20);
    etls_net_put16(f + 20, 0x2000); /* MF: first fragment */
    ip_recsum(f);
    EXPECT_DROP(drop_ip_frag);
    len = ip_frame(f, 6, seg, 20);
    etls_net_put16(f + 20, 0x0010); /* a later fragment */
    ip_recsum(f);
    EXPECT_DROP(drop_ip_frag);
    static const etls_ipv4_t bad_src[] = {0, 0xffffffffu, IP(127, 0, 0, 1), IP(224, 0, 0, 1),
                                          IP(240, 0, 0, 1), IP(192, 0, 2, 255), IP(192, 0, 2, 1)};
    for (size_t i = 0; i < sizeof bad_src / sizeof *bad_src; i++) {
        len = ip_frame(f, 6, seg, 20);
        etls_net_put32(f + 26, bad_src[i]);
        ip_recsum(f);
        EXPECT_DROP(drop_ip_addr);
    }
    len = ip_frame(f, 6, seg, 20);
    etls_net_put32(f + 30, IP(192, 0, 2, 77)); /* not our address */
    ip_recsum(f);
    EXPECT_DROP(drop_ip_addr);
    len = ip_frame(f, 17, seg, 20); /* UDP */
    EXPECT_DROP(drop_proto);
    len = ip_frame(f, 6, seg, 20);
    etls_net_put16(f + 12, 0x86dd); /* IPv6 */
    EXPECT_DROP(drop_ethertype);
    etls_net_put16(f + 12, 0x8100); /* VLAN tag */
    EXPECT_DROP(drop_ethertype);
    len = ip_frame(f, 6, seg, 19); /* TCP header cut short */
    EXPECT_DROP(drop_tcp);
    seg[12] = 4 << 4; /* data offset 4 */
    len = ip_frame(f, 6, seg, 20);
    EXPECT_DROP(drop_tcp);
    seg[12] = 6 << 4; /* data offset 6 = 24 bytes > 20 */
    len = ip_frame(f, 6, seg, 20);
    EXPECT_DROP(drop_tcp);
    seg[12] = 5 << 4;
    len = ip_frame(f, 6, seg, 20); /* checksum field 0: wrong */
    EXPECT_DROP(drop_tcp_csum);
    /* The NIC's "checksum good" flags skip both verifications. */
    len = ip_frame(f, 6, seg, 20);
    f[24] ^= 1;
    CHECK(etls_net_rx(&n, f, len, ETLS_NET_RX_IP_CSUM_GOOD | ETLS_NET_RX_L4_CSUM_GOOD, 1, &t,
                      reply, sizeof reply, &rlen) == ETLS_NET_RX_TCP);
    /* Ethernet padding after the IPv4 total length is ignored. */
    etls_net_tcp_fill_csum(&n, cli_ip, srv_ip, seg, 20);
    len = ip_frame(f, 6, seg, 20);
    memset(f + len, 0xee, 6);
    CHECK(rx(&n, f, len + 6, reply, &rlen, &t) == ETLS_NET_RX_TCP && t.seg_len == 20);
    /* IP options are skipped. */
    uint8_t opt[64];
    memcpy(opt, f, 34);
    opt[14] = 0x46;
    etls_net_put16(opt + 16, 44);
    memset(opt + 34, 1, 4); /* four NOPs */
    memcpy(opt + 38, seg, 20);
    ip_recsum(opt);
    CHECK(rx(&n, opt, 58, reply, &rlen, &t) == ETLS_NET_RX_TCP && t.seg == opt + 38);
    CHECK(total_outcomes(&n.st) == n.st.rx_frames);
#undef EXPECT_DROP
}

/* Two stacks talk: the client frames a TCP segment (ARP first), the server receives it and
 * answers without an ARP round trip (it learned the client's MAC from the segment). */
static void test_tcp_exchange(void)
{
    etls_net_t s, c;
    uint8_t f[ETLS_NET_FRAME_MAX], reply[ETLS_NET_FRAME_MAX], arp[64];
    size_t rlen, alen;
    etls_net_rx_t t;
    CHECK(etls_net_init(&s, srv_mac, srv_ip, 24, 0) == 0);
    CHECK(etls_net_init(&c, cli_mac, cli_ip, 24, 0) == 0);
    uint8_t *seg = f + ETLS_NET_TCP_OVERHEAD;
    memset(seg, 0, 20);
    etls_net_put16(seg, 40000);
    etls_net_put16(seg + 2, 443);
    seg[12] = 5 << 4;
    seg[13] = 0x02; /* SYN */
    memcpy(seg + 20, "hello", 5);
    CHECK(etls_net_tcp_frame(&c, f, srv_ip, 25, 0, arp, &alen) == ETLS_ERR_IN_PROGRESS);
    CHECK(alen == 42 && c.st.arp_miss == 1);
    CHECK(etls_net_rx(&s, arp, alen, 0, 0, &t, reply, sizeof reply, &rlen) == ETLS_NET_RX_REPLY);
    CHECK(etls_net_rx(&c, reply, rlen, 0, 0, &t, arp, sizeof arp, &alen) == ETLS_NET_RX_DROP);
    CHECK(c.st.rx_arp == 1);
    int flen = etls_net_tcp_frame(&c, f, srv_ip, 25, 0, arp, &alen);
    CHECK(flen == 34 + 25 && alen == 0);
    CHECK(etls_net_rx(&s, f, (size_t)flen, 0, 0, &t, reply, sizeof reply, &rlen) == ETLS_NET_RX_TCP);
    CHECK(t.src == cli_ip && t.dst == srv_ip && t.seg == f + 34 && t.seg_len == 25);
    CHECK_MEM(t.src_mac, cli_mac, 6);
    /* A second server stack that only ever saw the segment can answer directly. */
    etls_net_t s2;
    CHECK(etls_net_init(&s2, srv_mac, srv_ip, 24, 0) == 0);
    CHECK(etls_net_rx(&s2, f, (size_t)flen, 0, 0, &t, reply, sizeof reply, &rlen) == ETLS_NET_RX_TCP);
    uint8_t g[ETLS_NET_FRAME_MAX];
    memset(g + 34, 0, 20);
    g[34 + 12] = 5 << 4;
    CHECK(etls_net_tcp_frame(&s2, g, cli_ip, 20, 0, arp, &alen) == 54 && alen == 0);
    CHECK(etls_net_rx(&c, g, 54, 0, 0, &t, reply, sizeof reply, &rlen) == ETLS_NET_RX_TCP);
    /* Offloads: the IPv4 checksum is left for the NIC and the TCP field holds the seed. */
    s2.offload = ETLS_NET_OFFLOAD_TX_IP_CSUM | ETLS_NET_OFFLOAD_TX_TCP_CSUM;
    CHECK(etls_net_tcp_frame(&s2, g, cli_ip, 20, 0, arp, &alen) == 54);
    CHECK(etls_net_get16(g + 24) == 0);
    CHECK(etls_net_rx(&c, g, 54, ETLS_NET_RX_IP_CSUM_GOOD, 0, &t, reply, sizeof reply, &rlen) ==
          ETLS_NET_RX_DROP);
    CHECK(c.st.drop_tcp_csum == 1);
    /* Bounds: oversize segments and unreachable destinations. */
    CHECK(etls_net_tcp_frame(&s2, g, cli_ip, 1481, 0, arp, &alen) == ETLS_ERR_INVALID);
    CHECK(etls_net_tcp_frame(&s2, g, cli_ip, 19, 0, arp, &alen) == ETLS_ERR_INVALID);
    CHECK(etls_net_tcp_frame(&s2, g, IP(198, 51, 100, 1), 20, 0, arp, &alen) == ETLS_ERR_INVALID);
}

/* Random corruption of valid frames: never a crash or overread (ASan), and every frame lands in
 * exactly one outcome counter. */
static void test_random(etls_test_rng_t *r)
{
    etls_net_t n;
    uint8_t f[ETLS_NET_FRAME_MAX], reply[ETLS_NET_FRAME_MAX], seg[64] = {0};
    static const uint8_t zero[6];
    size_t rlen;
    etls_net_rx_t t;
    CHECK(etls_net_init(&n, srv_mac, srv_ip, 24, 0) == 0);
    unsigned rounds = 20000;
#ifdef __SANITIZE_ADDRESS__
    rounds /= 10;
#endif
    for (unsigned i = 0; i < rounds; i++) {
        size_t len;
        switch (i % 3) {
        case 0: len = arp_frame(f, bcast, 1, cli_mac, cli_ip, zero, srv_ip); break;
        case 1: len = echo_request(f, etls_test_rng_next(r) % 100); break;
        default:
            seg[12] = 5 << 4;
            etls_net_tcp_fill_csum(&n, cli_ip, srv_ip, seg, 40);
            len = ip_frame(f, 6, seg, 40);
        }
        unsigned flips = (unsigned)(etls_test_rng_next(r) % 4);
        for (unsigned k = 0; k < flips; k++)
            f[etls_test_rng_next(r) % len] ^= (uint8_t)(1u << (etls_test_rng_next(r) % 8));
        len -= etls_test_rng_next(r) % 3 == 0 ? etls_test_rng_next(r) % len : 0;
        uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan sees any overread */
        memcpy(copy, f, len);
        etls_net_rx(&n, copy, len, 0, i, &t, reply, sizeof reply, &rlen);
        free(copy);
    }
    CHECK(n.st.rx_frames == rounds);
    CHECK(total_outcomes(&n.st) == rounds);
    CHECK(n.st.rx_arp > 0 && n.st.rx_icmp_echo > 0 && n.st.rx_tcp > 0 && n.st.drop_ip_csum > 0);
}

int main(void)
{
    etls_test_rng_t r;
    etls_test_rng_seed(&r, etls_test_seed("net"));
    test_csum_known();
    test_csum_reference(&r);
    test_tcp_csum(&r);
    test_parse();
    test_arp_reply();
    test_arp_resolve();
    test_icmp();
    test_malformed();
    test_tcp_exchange();
    test_random(&r);
    return etls_test_summary("net");
}
