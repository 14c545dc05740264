/* ethdev set-up: one RX/TX queue pair per worker, each RX queue fed from its worker's own
 * mempool (so mbufs stay on that lcore's socket and cache), RSS over the queues where the PMD
 * offers it, and the checksum offloads the PMD advertises. */
#include "dpdk/dp.h"

#include "common/err.h"

#include <rte_ethdev.h>
#include <rte_lcore.h>

#include <stdio.h>
#include <string.h>

/* 40-byte Toeplitz key with the repeating 0x6d5a pattern: symmetric, so both directions of a
 * flow hash alike (we only need the client->server direction to be stable per flow). */
static uint8_t rss_key[40] = {
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

static int fail(char *err, size_t errlen, const char *what, uint16_t port, int rc)
{
    snprintf(err, errlen, "dpdk: port %u: %s: %s", port, what, rte_strerror(rc < 0 ? -rc : rc));
    return ETLS_ERR_IO;
}

static void choose_offloads(const struct rte_eth_dev_info *info, const dp_opts_t *o,
                            struct rte_eth_conf *conf, unsigned n)
{
    const uint64_t tx_want = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
    const uint64_t rx_want = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
    /* Injected TX corruption must reach the peer with a checksum that no longer matches, so
     * the checksum is computed (in software) before the frame is corrupted, never after. */
    int tx_corrupt = o->fault.tx && o->fault.thr[DP_FAULT_CORRUPT];
    if (!o->no_offload && !tx_corrupt && (info->tx_offload_capa & tx_want) == tx_want)
        conf->txmode.offloads |= tx_want;
    if (!o->no_offload && (info->rx_offload_capa & rx_want) == rx_want)
        conf->rxmode.offloads |= rx_want;
    if (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE)
        conf->txmode.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
    uint64_t rss = info->flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP);
    if (n > 1 && rss) {
        conf->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf->rx_adv_conf.rss_conf.rss_hf = rss;
        if (info->hash_key_size == sizeof rss_key) {
            conf->rx_adv_conf.rss_conf.rss_key = rss_key;
            conf->rx_adv_conf.rss_conf.rss_key_len = sizeof rss_key;
        }
    }
}

static int setup_queues(dp_worker_t **ws, unsigned n, const struct rte_eth_dev_info *info,
                        const struct rte_eth_conf *conf, char *err, size_t errlen)
{
    uint16_t port = ws[0]->port, nrx = DP_RX_DESC, ntx = DP_TX_DESC;
    int rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrx, &ntx);
    if (rc < 0)
        return fail(err, errlen, "descriptor counts", port, rc);
    for (unsigned q = 0; q < n; q++) {
        int socket = (int)rte_lcore_to_socket_id(ws[q]->lcore);
        struct rte_eth_rxconf rxc = info->default_rxconf;
        struct rte_eth_txconf txc = info->default_txconf;
        rxc.offloads = conf->rxmode.offloads;
        txc.offloads = conf->txmode.offloads;
        rc = rte_eth_rx_queue_setup(port, (uint16_t)q, nrx, (unsigned)socket, &rxc, ws[q]->pool);
        if (rc < 0)
            return fail(err, errlen, "RX queue set-up", port, rc);
        rc = rte_eth_tx_queue_setup(port, (uint16_t)q, ntx, (unsigned)socket, &txc);
        if (rc < 0)
            return fail(err, errlen, "TX queue set-up", port, rc);
    }
    return 0;
}

int dp_port_setup(const dp_opts_t *o, dp_worker_t **ws, unsigned n, char *err, size_t errlen)
{
    uint16_t port = o->port;
    struct rte_eth_dev_info info;
    if (!rte_eth_dev_is_valid_port(port)) {
        snprintf(err, errlen, "dpdk: port %u does not exist (%u ports; give a --vdev or a PCI device)",
                 port, rte_eth_dev_count_avail());
        return ETLS_ERR_INVALID;
    }
    int rc = rte_eth_dev_info_get(port, &info);
    if (rc < 0)
        return fail(err, errlen, "device info", port, rc);
    if (n > info.max_rx_queues || n > info.max_tx_queues) {
        snprintf(err, errlen, "dpdk: port %u (%s) has %u/%u RX/TX queues, %u lcores need one each",
                 port, info.driver_name, info.max_rx_queues, info.max_tx_queues, n);
        return ETLS_ERR_LIMIT;
    }
    struct rte_eth_conf conf;
    memset(&conf, 0, sizeof conf);
    choose_offloads(&info, o, &conf, n);
    rc = rte_eth_dev_configure(port, (uint16_t)n, (uint16_t)n, &conf);
    if (rc < 0)
        return fail(err, errlen, "configure", port, rc);
    ETLS_GUARD(setup_queues(ws, n, &info, &conf, err, errlen));
    struct rte_ether_addr mac;
    if ((rc = rte_eth_macaddr_get(port, &mac)) < 0)
        return fail(err, errlen, "MAC address", port, rc);
    uint32_t off = 0;
    if (conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM)
        off |= ETLS_NET_OFFLOAD_TX_IP_CSUM;
    if (conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_TCP_CKSUM)
        off |= ETLS_NET_OFFLOAD_TX_TCP_CSUM;
    for (unsigned i = 0; i < n; i++) {
        dp_worker_t *w = ws[i];
        if (etls_net_init(&w->net, mac.addr_bytes, o->addr, o->prefix, o->gateway) < 0) {
            snprintf(err, errlen, "dpdk: port %u: unusable MAC address or IPv4 address", port);
            return ETLS_ERR_INVALID;
        }
        w->net.offload = off;
        w->txq.ol_flags = off ? RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM : 0;
        w->rx_csum_offload = !!(conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_TCP_CKSUM);
    }
    if ((rc = rte_eth_dev_start(port)) < 0)
        return fail(err, errlen, "start", port, rc);
    rte_eth_promiscuous_disable(port); /* not all PMDs support it; unicast to our MAC is enough */
    if (n > 1 && conf.rxmode.mq_mode != RTE_ETH_MQ_RX_RSS)
        /* No hardware flow steering (net_memif, net_af_packet): a worker only sees the flows
         * that arrive on its own queue, so those workers whose queue the peer never uses idle. */
        fprintf(stderr, "edgetls: dpdk: port %u (%s) has no RSS: each of the %u queues only gets the "
                "flows the peer puts on it; one lcore is the usual set-up for this device\n",
                port, info.driver_name, n);
    fprintf(stderr, "edgetls: dpdk: port %u (%s) MAC %02x:%02x:%02x:%02x:%02x:%02x, %u queue pair%s%s%s\n",
            port, info.driver_name, mac.addr_bytes[0], mac.addr_bytes[1], mac.addr_bytes[2],
            mac.addr_bytes[3], mac.addr_bytes[4], mac.addr_bytes[5], n, n > 1 ? "s" : "",
            conf.rxmode.mq_mode == RTE_ETH_MQ_RX_RSS ? ", RSS" : "",
            off ? ", checksum offload" : "");
    return 0;
}

void dp_port_close(uint16_t port)
{
    if (rte_eth_dev_is_valid_port(port)) {
        rte_eth_dev_stop(port);
        rte_eth_dev_close(port);
    }
}
