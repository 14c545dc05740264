/* The bench's end of a DPDK link (link.h). */
#include "link.h"

#include "../hs/load.h" /* etls_hs_now_ns */
#include "common/ct.h"
#include "common/err.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#define BURST 32

/* ---- packets ------------------------------------------------------------------------------- */

void etls_blink_tx(etls_blink_t *l)
{
    unsigned n = l->tx.n;
    l->tx.n = 0;
    if (!n)
        return;
    uint16_t sent = rte_eth_tx_burst(l->d.port, 0, l->tx.q, (uint16_t)n);
    if (sent < n) {
        l->tx_dropped += n - sent;
        rte_pktmbuf_free_bulk(l->tx.q + sent, n - sent);
    }
}

static void tx_burst(void *owner) { etls_blink_tx(owner); }

/* TCP output: framed with software checksums (the bench asks for no offloads). */
static int tcp_out(void *ctx, const etls_tcp_seg_t *s) { return etls_txq_segment(&((etls_blink_t *)ctx)->tx, s); }

unsigned etls_blink_rx(etls_blink_t *l, uint64_t now_us)
{
    struct rte_mbuf *in[BURST];
    unsigned n = rte_eth_rx_burst(l->d.port, 0, in, BURST);
    for (unsigned i = 0; i < n; i++) {
        struct rte_mbuf *m = in[i];
        if (m->nb_segs != 1)
            continue;
        etls_net_rx_t t;
        size_t rlen;
        etls_net_rx_result_t res = etls_net_rx(&l->net, rte_pktmbuf_mtod(m, const uint8_t *), m->data_len,
                                               0, l->tx.now_ms, &t, l->scratch, sizeof l->scratch, &rlen);
        if (res == ETLS_NET_RX_REPLY)
            etls_txq_copy(&l->tx, l->scratch, rlen);
        else if (res == ETLS_NET_RX_TCP && l->tcp)
            etls_tcp_input(l->tcp, t.src, t.dst, t.seg, t.seg_len, now_us);
    }
    if (n)
        rte_pktmbuf_free_bulk(in, n);
    return n;
}

/* ---- set-up -------------------------------------------------------------------------------- */

static int parse_opts(etls_blink_t *l, int argc, char **argv)
{
    etls_blink_opts_t *d = &l->d;
    for (int i = 0; i < argc; i += 2) { /* "--option value" pairs */
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        int ok = v != NULL;
        if (ok && !strcmp(k, "--addr"))
            ok = etls_net_parse_ipv4(v, &d->addr, &d->prefix) == 0;
        else if (ok && !strcmp(k, "--port"))
            d->port = (uint16_t)strtoul(v, &end, 10), ok = *end == 0;
        else if (ok && !strcmp(k, "--mbufs"))
            d->mbufs = (uint32_t)strtoul(v, &end, 10), ok = *end == 0 && d->mbufs >= 1024;
        else if (ok && !strcmp(k, "--server-telemetry"))
            d->telemetry = v;
        else if (ok && !strcmp(k, "--crypto-bound"))
            d->crypto_bound = strtod(v, &end), ok = *end == 0 && d->crypto_bound > 0;
        else
            ok = 0;
        if (!ok) {
            fprintf(stderr, "%s: bad or unknown option %s %s\n", l->tool, k, v ? v : "");
            return ETLS_ERR_INVALID;
        }
    }
    return 0;
}

static int port_setup(etls_blink_t *l)
{
    uint16_t port = l->d.port;
    if (!rte_eth_dev_is_valid_port(port)) {
        fprintf(stderr, "%s: port %u does not exist (give a --vdev)\n", l->tool, port);
        return ETLS_ERR_INVALID;
    }
    l->port_up = 1;
    struct rte_eth_dev_info info;
    struct rte_eth_conf conf;
    memset(&conf, 0, sizeof conf);
    uint16_t nrx = 1024, ntx = 1024;
    int rc = rte_eth_dev_info_get(port, &info);
    if (rc == 0)
        rc = rte_eth_dev_configure(port, 1, 1, &conf);
    if (rc == 0)
        rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrx, &ntx);
    if (rc == 0)
        rc = rte_eth_rx_queue_setup(port, 0, nrx, (unsigned)rte_socket_id(), NULL, l->pool);
    if (rc == 0)
        rc = rte_eth_tx_queue_setup(port, 0, ntx, (unsigned)rte_socket_id(), NULL);
    struct rte_ether_addr mac;
    if (rc == 0)
        rc = rte_eth_macaddr_get(port, &mac);
    if (rc == 0)
        rc = rte_eth_dev_start(port);
    if (rc < 0) {
        fprintf(stderr, "%s: port %u: %s\n", l->tool, port, rte_strerror(-rc));
        return ETLS_ERR_IO;
    }
    if (etls_net_init(&l->net, mac.addr_bytes, l->d.addr, l->d.prefix, 0) < 0) {
        fprintf(stderr, "%s: unusable address\n", l->tool);
        return ETLS_ERR_INVALID;
    }
    char a[20];
    fprintf(stderr, "edgetls-bench: dpdk port %u (%s) %s/%u, lcore %u\n", port, info.driver_name,
            etls_net_ipv4_str(l->d.addr, a, sizeof a), l->d.prefix, rte_lcore_id());
    return 0;
}

int etls_blink_open(etls_blink_t *l, const char *tool, const struct sockaddr_storage *target,
                    int argc, char **argv)
{
    l->tool = tool;
    if (target->ss_family != AF_INET) {
        fprintf(stderr, "%s: the target must be IPv4\n", tool);
        return ETLS_ERR_INVALID;
    }
    const struct sockaddr_in *sin = (const struct sockaddr_in *)target;
    l->dst = ntohl(sin->sin_addr.s_addr);
    l->dport = ntohs(sin->sin_port);
    l->d = (etls_blink_opts_t){.addr = l->dst + 1, .prefix = 24, .mbufs = 8191};
    int used = rte_eal_init(argc, argv);
    if (used < 0) {
        fprintf(stderr, "%s: EAL cannot start: %s\n", tool, rte_strerror(rte_errno));
        return ETLS_ERR_IO;
    }
    l->eal_up = 1;
    int rest = argc - used - 1;
    char **rargv = argv + used + 1;
    if (rest > 0 && !strcmp(rargv[0], "--"))
        rargv++, rest--;
    ETLS_GUARD(parse_opts(l, rest, rargv));
    l->pool = rte_pktmbuf_pool_create("bench_mb", l->d.mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                      (int)rte_socket_id());
    if (!l->pool) {
        fprintf(stderr, "%s: mempool: %s\n", tool, rte_strerror(rte_errno));
        return ETLS_ERR_NOMEM;
    }
    l->tx.pool = l->pool;
    l->tx.net = &l->net;
    l->tx.burst = tx_burst;
    l->tx.owner = l;
    l->tx.cap = ETLS_TXQ_MAX;
    return port_setup(l);
}

int etls_blink_tcp(etls_blink_t *l, etls_tcp_config_t *tc, etls_rand_t *rng)
{
    int rc = etls_rand_bytes(rng, tc->secret, sizeof tc->secret) < 0 ||
                     etls_tcp_create(&l->tcp, tc, tcp_out, l) < 0
                 ? ETLS_ERR_NOMEM
                 : 0;
    etls_wipe(tc->secret, sizeof tc->secret);
    if (rc)
        fprintf(stderr, "%s: cannot create the TCP stack\n", l->tool);
    return rc;
}

/* ARP for the target before the clock starts, so the first SYNs are not lost to resolution.
 * The memif link also needs the server side to be connected: wait up to 10 s. */
int etls_blink_resolve(etls_blink_t *l)
{
    uint64_t end = etls_hs_now_ns() + 10000000000ull;
    uint8_t mac[ETLS_NET_ETH_ALEN], req[64];
    while (etls_hs_now_ns() < end) {
        uint64_t now = etls_hs_now_ns();
        l->tx.now_ms = now / 1000000;
        size_t rl = 0;
        int rc = etls_net_arp_resolve(&l->net, l->dst, l->tx.now_ms, mac, req, &rl);
        if (rc == 0)
            return 0;
        if (rl)
            etls_txq_copy(&l->tx, req, rl);
        etls_blink_tx(l);
        etls_blink_rx(l, now / 1000);
        usleep(1000);
    }
    char a[20];
    fprintf(stderr, "%s: no ARP answer from %s within 10 s (is edgetls up on the other side of "
            "the link?)\n", l->tool, etls_net_ipv4_str(l->dst, a, sizeof a));
    return ETLS_ERR_IO;
}

void etls_blink_close(etls_blink_t *l)
{
    if (l->tcp)
        etls_tcp_destroy(l->tcp);
    l->tcp = NULL;
    if (l->port_up && rte_eth_dev_is_valid_port(l->d.port)) {
        rte_eth_dev_stop(l->d.port);
        rte_eth_dev_close(l->d.port);
    }
    if (l->pool)
        rte_mempool_free(l->pool);
    l->pool = NULL;
    if (l->eal_up)
        rte_eal_cleanup();
    l->eal_up = l->port_up = 0;
}

/* ---- server telemetry ---------------------------------------------------------------------- */

/* Sum of a JSON array of integers named `name` in the reply. */
static uint64_t json_sum(const char *js, const char *name, int *found)
{
    char key[64];
    snprintf(key, sizeof key, "\"%s\":[", name);
    const char *p = strstr(js, key);
    if (!p)
        return 0;
    *found = 1;
    p += strlen(key);
    uint64_t sum = 0;
    while (*p && *p != ']') {
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p)
            break;
        sum += v;
        p = end;
        while (*p == ',' || *p == ' ')
            p++;
    }
    return sum;
}

void etls_blink_server_snapshot(const char *tool, const char *path, etls_blink_srv_t *s)
{
    memset(s, 0, sizeof *s);
    if (!path)
        return;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    static char buf[65536];
    if (fd < 0 || strlen(path) >= sizeof sa.sun_path) {
        if (fd >= 0)
            close(fd);
        return;
    }
    strcpy(sa.sun_path, path);
    struct timeval tv = {2, 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t n;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || read(fd, buf, sizeof buf - 1) <= 0 ||
        write(fd, "/edgetls/workers", 16) != 16 || (n = read(fd, buf, sizeof buf - 1)) <= 0) {
        fprintf(stderr, "%s: cannot read edgetls telemetry at %s\n", tool, path);
        close(fd);
        return;
    }
    close(fd);
    buf[n] = 0;
    int found = 0;
    s->handshakes = json_sum(buf, "handshakes", &found);
    s->busy_cycles = json_sum(buf, "busy_cycles", &found);
    s->tcp_cycles = json_sum(buf, "tcp_cycles", &found);
    s->busy_us = json_sum(buf, "busy_us", &found);
    s->busy_cpu_ns = json_sum(buf, "busy_cpu_ns", &found);
    s->clean_cycles = json_sum(buf, "clean_cycles", &found);
    s->clean_tcp_cycles = json_sum(buf, "clean_tcp_cycles", &found);
    s->bytes_in = json_sum(buf, "bytes_in", &found);
    s->bytes_out = json_sum(buf, "bytes_out", &found);
    int one = 0;
    uint64_t hz = json_sum(buf, "tsc_hz", &one);
    unsigned workers = 0;
    const char *w = strstr(buf, "\"workers\":");
    if (w)
        workers = (unsigned)strtoul(w + 10, NULL, 10);
    s->tsc_hz = workers ? hz / workers : hz;
    s->ok = found && s->tsc_hz > 0;
}
