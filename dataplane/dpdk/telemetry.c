/* Counters over DPDK telemetry (usertools/dpdk-telemetry.py, or any client of the
 * dpdk_telemetry.v2 socket in the EAL runtime directory):
 *   /edgetls/workers        every counter as an array indexed by worker
 *   /edgetls/worker,N       worker N's counters
 *   /edgetls/net,N          worker N's net-layer counters (drops by reason)
 * Callbacks run on the telemetry thread and only read: the counters are written with relaxed
 * stores by their worker, so a reading can be a few packets behind, never torn per field on
 * x86-64. */
#include "dpdk/dp.h"

#include <rte_telemetry.h>

#include <stdlib.h>
#include <string.h>

#define FIELD(s, f) {#f, offsetof(s, f)}

typedef struct field {
    const char *name;
    size_t off;
} field_t;

static const field_t worker_fields[] = {
    FIELD(dp_stats_t, rx_packets),   FIELD(dp_stats_t, tx_packets),  FIELD(dp_stats_t, rx_dropped),
    FIELD(dp_stats_t, tx_dropped),   FIELD(dp_stats_t, nombuf),      FIELD(dp_stats_t, busy_polls),
    FIELD(dp_stats_t, idle_polls),   FIELD(dp_stats_t, busy_us),     FIELD(dp_stats_t, accepted),    FIELD(dp_stats_t, rejected),
    FIELD(dp_stats_t, active),       FIELD(dp_stats_t, handshakes),  FIELD(dp_stats_t, hs_failures),
    FIELD(dp_stats_t, errors),       FIELD(dp_stats_t, requests),    FIELD(dp_stats_t, timeouts),
    FIELD(dp_stats_t, resets),       FIELD(dp_stats_t, bytes_in),
    FIELD(dp_stats_t, bytes_out),    FIELD(dp_stats_t, bk_bytes_in), FIELD(dp_stats_t, bk_bytes_out),
    FIELD(dp_stats_t, bk_errors),    FIELD(dp_stats_t, bk_syscalls), FIELD(dp_stats_t, bk_cancels),
    FIELD(dp_stats_t, crypto_runs),  FIELD(dp_stats_t, fault_loss),
    FIELD(dp_stats_t, fault_reorder), FIELD(dp_stats_t, fault_dup), FIELD(dp_stats_t, fault_corrupt),
    FIELD(dp_stats_t, busy_cycles),  FIELD(dp_stats_t, tcp_cycles),  FIELD(dp_stats_t, tsc_hz),
    FIELD(dp_stats_t, busy_cpu_ns),  FIELD(dp_stats_t, clean_cycles), FIELD(dp_stats_t, clean_tcp_cycles),
};

static const field_t net_fields[] = {
    FIELD(etls_net_stats_t, rx_frames),      FIELD(etls_net_stats_t, rx_arp),
    FIELD(etls_net_stats_t, rx_icmp_echo),   FIELD(etls_net_stats_t, rx_tcp),
    FIELD(etls_net_stats_t, tx_arp_reply),   FIELD(etls_net_stats_t, tx_arp_request),
    FIELD(etls_net_stats_t, tx_tcp),         FIELD(etls_net_stats_t, arp_miss),
    FIELD(etls_net_stats_t, drop_short),     FIELD(etls_net_stats_t, drop_mac),
    FIELD(etls_net_stats_t, drop_ethertype), FIELD(etls_net_stats_t, drop_arp),
    FIELD(etls_net_stats_t, drop_ip_version), FIELD(etls_net_stats_t, drop_ip_ihl),
    FIELD(etls_net_stats_t, drop_ip_len),    FIELD(etls_net_stats_t, drop_ip_csum),
    FIELD(etls_net_stats_t, drop_ip_frag),   FIELD(etls_net_stats_t, drop_ip_addr),
    FIELD(etls_net_stats_t, drop_proto),     FIELD(etls_net_stats_t, drop_icmp),
    FIELD(etls_net_stats_t, drop_tcp),       FIELD(etls_net_stats_t, drop_tcp_csum),
};

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t load(const void *base, size_t off)
{
    return __atomic_load_n((const uint64_t *)((const uint8_t *)base + off), __ATOMIC_RELAXED);
}

static int one_dict(const void *base, const field_t *f, size_t n, struct rte_tel_data *d)
{
    rte_tel_data_start_dict(d);
    for (size_t i = 0; i < n; i++)
        rte_tel_data_add_dict_u64(d, f[i].name, load(base, f[i].off));
    return 0;
}

/* Worker `params` when it is one of the n readable ones, else -1. */
static int worker_index(const char *params, unsigned n)
{
    if (!params || !*params)
        return -1;
    char *end;
    unsigned long i = strtoul(params, &end, 10);
    return *end || i >= n ? -1 : (int)i;
}

static int workers_dict(unsigned n, struct rte_tel_data *d)
{
    rte_tel_data_start_dict(d);
    rte_tel_data_add_dict_u64(d, "workers", n);
    for (size_t f = 0; f < NFIELDS(worker_fields); f++) {
        struct rte_tel_data *a = rte_tel_data_alloc();
        if (!a)
            return -1;
        rte_tel_data_start_array(a, RTE_TEL_U64_VAL);
        for (unsigned i = 0; i < n; i++)
            rte_tel_data_add_array_u64(a, load(&etls_dp_workers[i]->st, worker_fields[f].off));
        rte_tel_data_add_dict_container(d, worker_fields[f].name, a, 0);
    }
    return 0;
}

/* Every callback reads inside dp_readers_enter/leave: the telemetry thread outlives the workers
 * (rte_eal_cleanup stops it after they are freed). */
static int cmd_workers(const char *cmd, const char *params, struct rte_tel_data *d)
{
    (void)cmd;
    (void)params;
    int rc = workers_dict(dp_readers_enter(), d);
    dp_readers_leave();
    return rc;
}

static int cmd_worker(const char *cmd, const char *params, struct rte_tel_data *d)
{
    (void)cmd;
    int i = worker_index(params, dp_readers_enter());
    int rc = i < 0 ? -1 : one_dict(&etls_dp_workers[i]->st, worker_fields, NFIELDS(worker_fields), d);
    dp_readers_leave();
    return rc;
}

static int cmd_net(const char *cmd, const char *params, struct rte_tel_data *d)
{
    (void)cmd;
    int i = worker_index(params, dp_readers_enter());
    int rc = i < 0 ? -1 : one_dict(&etls_dp_workers[i]->net.st, net_fields, NFIELDS(net_fields), d);
    dp_readers_leave();
    return rc;
}

void dp_telemetry_register(void)
{
    rte_telemetry_register_cmd("/edgetls/workers", cmd_workers,
                               "Per-worker counters as arrays indexed by worker. No parameters");
    rte_telemetry_register_cmd("/edgetls/worker", cmd_worker,
                               "One worker's counters. Parameter: worker index");
    rte_telemetry_register_cmd("/edgetls/net", cmd_net,
                               "One worker's net-layer counters (drops by reason). Parameter: worker index");
}
