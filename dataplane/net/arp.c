/* ARP (RFC 826) for Ethernet/IPv4: answering requests for our address, learning neighbours,
 * and resolving next hops with a small table.
 *
 * The table is a flat array scanned linearly: 64 entries of 32 bytes are two cache lines per
 * eight entries, cheaper to scan than a hash table is to maintain at this size, and a worker
 * only talks to a handful of next hops (clients on the link, or one gateway). */
#include "common/err.h"
#include "net/net_internal.h"

#include <string.h>

static const uint8_t eth_bcast[ETLS_NET_ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static etls_net_arp_entry_t *arp_find(etls_net_t *n, etls_ipv4_t ip)
{
    for (size_t i = 0; i < ETLS_NET_ARP_ENTRIES; i++)
        if (n->arp[i].ip == ip)
            return &n->arp[i];
    return NULL;
}

/* A free slot, else the least recently confirmed entry. Fresh pending entries are kept (their
 * request is in flight) unless allow_pending: learning a real answer beats a guess. */
static etls_net_arp_entry_t *arp_victim(etls_net_t *n, uint64_t now_ms, int allow_pending)
{
    etls_net_arp_entry_t *best = NULL;
    for (size_t i = 0; i < ETLS_NET_ARP_ENTRIES; i++) {
        etls_net_arp_entry_t *e = &n->arp[i];
        if (!e->ip)
            return e;
        if (!e->resolved && !allow_pending && now_ms - e->requested_ms < ETLS_NET_ARP_RETRY_MS)
            continue;
        if (!best || e->updated_ms < best->updated_ms)
            best = e;
    }
    return best;
}

void etls_net_arp_learn(etls_net_t *n, etls_ipv4_t ip, const uint8_t mac[ETLS_NET_ETH_ALEN],
                        uint64_t now_ms, int create)
{
    etls_net_arp_entry_t *e = arp_find(n, ip);
    if (!e) {
        if (!create || !ip)
            return;
        e = arp_victim(n, now_ms, 1);
        memset(e, 0, sizeof *e);
        e->ip = ip;
    }
    memcpy(e->mac, mac, ETLS_NET_ETH_ALEN);
    e->resolved = 1;
    e->updated_ms = now_ms;
}

static void arp_write(const etls_net_t *n, uint8_t *f, const uint8_t *eth_dst, uint16_t op,
                      const uint8_t *tha, etls_ipv4_t tpa)
{
    memcpy(f, eth_dst, ETLS_NET_ETH_ALEN);
    memcpy(f + 6, n->mac, ETLS_NET_ETH_ALEN);
    etls_net_put16(f + 12, ETLS_NET_ETHERTYPE_ARP);
    uint8_t *a = f + ETLS_NET_ETH_HLEN;
    etls_net_put16(a, 1);                      /* htype: Ethernet */
    etls_net_put16(a + 2, ETLS_NET_ETHERTYPE_IPV4);
    a[4] = ETLS_NET_ETH_ALEN;
    a[5] = 4;
    etls_net_put16(a + 6, op);
    memcpy(a + 8, n->mac, ETLS_NET_ETH_ALEN);
    etls_net_put32(a + 14, n->ip);
    memcpy(a + 18, tha, ETLS_NET_ETH_ALEN);
    etls_net_put32(a + 24, tpa);
}

int etls_net_arp_resolve(etls_net_t *n, etls_ipv4_t ip, uint64_t now_ms,
                         uint8_t mac[ETLS_NET_ETH_ALEN], uint8_t *req, size_t *req_len)
{
    static const uint8_t zero[ETLS_NET_ETH_ALEN];
    *req_len = 0;
    etls_net_arp_entry_t *e = arp_find(n, ip);
    int rc = ETLS_ERR_IN_PROGRESS;
    if (e && e->resolved) {
        memcpy(mac, e->mac, ETLS_NET_ETH_ALEN);
        if (now_ms - e->updated_ms < ETLS_NET_ARP_TTL_MS)
            return 0;
        rc = 0; /* stale: keep using it while a request re-confirms it */
    }
    if (!e) {
        e = arp_victim(n, now_ms, 0);
        if (!e)
            return ETLS_ERR_LIMIT;
        memset(e, 0, sizeof *e);
        e->ip = ip;
        e->updated_ms = now_ms;
    } else if (e->requested_ms && now_ms - e->requested_ms < ETLS_NET_ARP_RETRY_MS) {
        return rc;
    }
    e->requested_ms = now_ms ? now_ms : 1; /* 0 means "never asked" */
    arp_write(n, req, eth_bcast, 1, zero, ip);
    *req_len = ETLS_NET_ETH_HLEN + ETLS_NET_ARP_LEN;
    n->st.tx_arp_request++;
    return rc;
}

etls_net_rx_result_t etls_net_arp_input(etls_net_t *n, const uint8_t *f, size_t len,
                                        uint64_t now_ms, uint8_t *reply, size_t cap,
                                        size_t *reply_len)
{
    const uint8_t *a = f + ETLS_NET_ETH_HLEN;
    if (len < ETLS_NET_ETH_HLEN + ETLS_NET_ARP_LEN) {
        n->st.drop_short++;
        return ETLS_NET_RX_DROP;
    }
    if (memcmp(f, n->mac, ETLS_NET_ETH_ALEN) && memcmp(f, eth_bcast, ETLS_NET_ETH_ALEN)) {
        n->st.drop_mac++;
        return ETLS_NET_RX_DROP;
    }
    uint16_t op = etls_net_get16(a + 6);
    const uint8_t *sha = a + 8;
    etls_ipv4_t spa = etls_net_get32(a + 14), tpa = etls_net_get32(a + 24);
    if (etls_net_get16(a) != 1 || etls_net_get16(a + 2) != ETLS_NET_ETHERTYPE_IPV4 ||
        a[4] != ETLS_NET_ETH_ALEN || a[5] != 4 || (op != 1 && op != 2) || (sha[0] & 1) ||
        spa == n->ip) {
        n->st.drop_arp++; /* not Ethernet/IPv4, a multicast sender, or someone claiming our IP */
        return ETLS_NET_RX_DROP;
    }
    /* RFC 826 merge: refresh a known sender; add it only when the packet is meant for us. */
    if (spa)
        etls_net_arp_learn(n, spa, sha, now_ms, tpa == n->ip);
    if (tpa != n->ip) {
        n->st.drop_arp++;
        return ETLS_NET_RX_DROP;
    }
    n->st.rx_arp++;
    if (op != 1 || cap < ETLS_NET_ETH_HLEN + ETLS_NET_ARP_LEN)
        return ETLS_NET_RX_DROP;
    arp_write(n, reply, sha, 2, sha, spa);
    *reply_len = ETLS_NET_ETH_HLEN + ETLS_NET_ARP_LEN;
    n->st.tx_arp_reply++;
    return ETLS_NET_RX_REPLY;
}
