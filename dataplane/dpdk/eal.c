/* DPDK start-up: EAL from the command line, transport options, workers on every lcore, the
 * port, signals, telemetry, and an orderly teardown. */
#include "dpdk/dp.h"

#include "common/err.h"

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

atomic_int etls_dp_stop;
atomic_int etls_dp_dump;
dp_worker_t *etls_dp_workers[DP_MAX_WORKERS];
unsigned etls_dp_nworkers;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&etls_dp_stop, 1);
}

static int parse_u32(const char *s, uint32_t max, uint32_t *v)
{
    char *end;
    unsigned long x = strtoul(s, &end, 10);
    ETLS_ENSURE(s[0] >= '0' && s[0] <= '9' && !*end && x <= max, ETLS_ERR_INVALID);
    *v = (uint32_t)x;
    return 0;
}

/* Our address defaults to the first IPv4 listener's (when it names one). */
static void default_addr(const etls_config_t *cfg, dp_opts_t *o)
{
    for (size_t i = 0; i < cfg->nlisteners; i++) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&cfg->listeners[i].addr.ss;
        if (sin->sin_family == AF_INET && sin->sin_addr.s_addr) {
            o->addr = ntohl(sin->sin_addr.s_addr);
            o->prefix = 24;
            return;
        }
    }
}

static int parse_opts(dp_opts_t *o, int argc, char **argv, char *err, size_t errlen)
{
    for (int i = 0; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint32_t x = 0;
        int rc = ETLS_ERR_INVALID;
        if (!strcmp(k, "--no-offload")) {
            o->no_offload = 1;
            continue;
        }
        if (!v) {
            snprintf(err, errlen, "dpdk option %s: missing value", k);
            return ETLS_ERR_INVALID;
        }
        if (!strcmp(k, "--addr"))
            rc = etls_net_parse_ipv4(v, &o->addr, &o->prefix);
        else if (!strcmp(k, "--gateway"))
            rc = etls_net_parse_ipv4(v, &o->gateway, NULL);
        else if (!strcmp(k, "--port") && (rc = parse_u32(v, RTE_MAX_ETHPORTS - 1, &x)) == 0)
            o->port = (uint16_t)x;
        else if (!strcmp(k, "--mbufs") && (rc = parse_u32(v, 1u << 22, &o->mbufs)) == 0)
            rc = o->mbufs >= 1024 ? 0 : ETLS_ERR_INVALID;
        else if (!strcmp(k, "--idle-sleep-us"))
            rc = parse_u32(v, 100000, &o->idle_sleep_us);
        else if (!strcmp(k, "--fault") && dp_fault_parse(&o->fault, v, err, errlen) < 0)
            return ETLS_ERR_INVALID; /* its own message says which item is wrong */
        else if (!strcmp(k, "--fault"))
            rc = 0;
        if (rc < 0) {
            snprintf(err, errlen, "dpdk option %s %s: %s", k, v,
                     strncmp(k, "--", 2) ? "not an option" : "bad or unknown");
            return ETLS_ERR_INVALID;
        }
        i++;
    }
    if (!o->addr) {
        snprintf(err, errlen, "dpdk: no IPv4 address: give --addr A.B.C.D/P or a listener address");
        return ETLS_ERR_INVALID;
    }
    return 0;
}

static void free_workers(void)
{
    dp_readers_set(0); /* waits for a STATS or telemetry reader still looking at them */
    for (unsigned i = 0; i < etls_dp_nworkers; i++) {
        if (etls_dp_workers[i]) {
            dp_worker_fini(etls_dp_workers[i]);
            rte_free(etls_dp_workers[i]);
            etls_dp_workers[i] = NULL;
        }
    }
    etls_dp_nworkers = 0;
}

static int make_workers(const etls_worker_shared_t *sh, const dp_opts_t *o, char *err, size_t errlen)
{
    unsigned lcore, n = 0;
    RTE_LCORE_FOREACH(lcore) {
        if (n == DP_MAX_WORKERS)
            break;
        dp_worker_t *w = rte_zmalloc_socket("etls_worker", sizeof *w, RTE_CACHE_LINE_SIZE,
                                            (int)rte_lcore_to_socket_id(lcore));
        if (!w) {
            snprintf(err, errlen, "dpdk: out of memory for worker %u", n);
            return ETLS_ERR_NOMEM;
        }
        w->index = n;
        w->lcore = lcore;
        w->sh = sh;
        w->cfg = sh->cfg;
        w->opts = o;
        w->port = o->port;
        w->queue = (uint16_t)n;
        etls_dp_workers[n++] = w;
        etls_dp_nworkers = n;
    }
    return 0;
}

static void on_usr1(int sig)
{
    (void)sig;
    atomic_store(&etls_dp_dump, 1);
}

void dp_print_stats(void)
{
    for (unsigned i = 0; i < etls_dp_nworkers; i++) {
        const dp_stats_t *s = &etls_dp_workers[i]->st;
        fprintf(stderr,
                "edgetls: dpdk worker %u: rx %lu tx %lu rx_dropped %lu tx_dropped %lu busy %lu idle %lu "
                "busy_ms %lu accepted %lu handshakes %lu hs_failures %lu active %lu errors %lu "
                "busy_cycles %lu tcp_cycles %lu tsc_hz %lu busy_cpu_us %lu clean_cycles %lu "
                "clean_tcp_cycles %lu\n",
                i, (unsigned long)s->rx_packets, (unsigned long)s->tx_packets,
                (unsigned long)s->rx_dropped, (unsigned long)s->tx_dropped,
                (unsigned long)s->busy_polls, (unsigned long)s->idle_polls,
                (unsigned long)(s->busy_us / 1000),
                (unsigned long)s->accepted, (unsigned long)s->handshakes,
                (unsigned long)s->hs_failures, (unsigned long)s->active, (unsigned long)s->errors,
                (unsigned long)s->busy_cycles, (unsigned long)s->tcp_cycles,
                (unsigned long)s->tsc_hz, (unsigned long)(s->busy_cpu_ns / 1000),
                (unsigned long)s->clean_cycles, (unsigned long)s->clean_tcp_cycles);
        const etls_tcp_stats_t *t = etls_tcp_stats(etls_dp_workers[i]->tcp);
        fprintf(stderr,
                "edgetls: dpdk worker %u: tcp segs_in %lu segs_out %lu retransmits %lu fast %lu rto %lu "
                "dup_acks %lu ooo %lu dropped %lu refused %lu rst_sent %lu\n",
                i, (unsigned long)t->segs_in, (unsigned long)t->segs_out,
                (unsigned long)t->retransmits, (unsigned long)t->fast_retransmits,
                (unsigned long)t->rto_fired, (unsigned long)t->dup_acks, (unsigned long)t->ooo_segs,
                (unsigned long)t->dropped, (unsigned long)t->output_refused,
                (unsigned long)t->rst_sent);
        if (etls_dp_workers[i]->batch) {
            /* Mean X25519 batch = x25519_ops / x25519_runs: the vector code computes 8 (IFMA)
             * or 4 (AVX2) lanes at once, so half-empty batches cost up to twice per op. */
            etls_batch_stats_t b;
            etls_batch_get_stats(etls_dp_workers[i]->batch, &b);
            fprintf(stderr, "edgetls: dpdk worker %u: crypto runs %lu full_flushes %lu x25519_ops %lu "
                    "x25519_runs %lu sign_ops %lu aead_ops %lu\n",
                    i, (unsigned long)b.runs, (unsigned long)b.full_flushes, (unsigned long)b.x25519_ops,
                    (unsigned long)b.x25519_runs, (unsigned long)b.sign_ops, (unsigned long)b.aead_ops);
        }
        if (etls_dp_workers[i]->opts->fault.enabled)
            fprintf(stderr, "edgetls: dpdk worker %u: faults loss %lu reorder %lu dup %lu corrupt %lu "
                    "drop_tcp_csum %lu drop_ip_csum %lu\n",
                    i, (unsigned long)s->fault_loss, (unsigned long)s->fault_reorder,
                    (unsigned long)s->fault_dup, (unsigned long)s->fault_corrupt,
                    (unsigned long)etls_dp_workers[i]->net.st.drop_tcp_csum,
                    (unsigned long)etls_dp_workers[i]->net.st.drop_ip_csum);
    }
}

static int start(const etls_worker_shared_t *sh, dp_opts_t *o, char *err, size_t errlen)
{
    ETLS_GUARD(make_workers(sh, o, err, errlen));
    if (sh->cfg->workers && sh->cfg->workers != etls_dp_nworkers)
        fprintf(stderr, "edgetls: dpdk: workers %u ignored: one worker runs on each EAL lcore (-l), "
                        "%u here\n", sh->cfg->workers, etls_dp_nworkers);
    for (unsigned i = 0; i < etls_dp_nworkers; i++)
        ETLS_GUARD(dp_worker_init(etls_dp_workers[i], err, errlen));
    ETLS_GUARD(dp_port_setup(o, etls_dp_workers, etls_dp_nworkers, err, errlen));
    dp_readers_set(etls_dp_nworkers); /* set up: STATS and telemetry may read them from now on */
    dp_telemetry_register();
    char a[20];
    fprintf(stderr, "edgetls: dpdk: %s mode, %u worker%s on port %u, %s/%u, listening on",
            etls_mode_name(sh->cfg->mode), etls_dp_nworkers, etls_dp_nworkers > 1 ? "s" : "",
            o->port, etls_net_ipv4_str(o->addr, a, sizeof a), o->prefix);
    for (size_t l = 0; l < sh->cfg->nlisteners; l++)
        fprintf(stderr, " port %u%s",
                ntohs(((const struct sockaddr_in *)&sh->cfg->listeners[l].addr.ss)->sin_port),
                sh->cfg->listeners[l].tls ? "" : " (plaintext)");
    fprintf(stderr, "\n");
    dp_fault_print(&o->fault);
    fflush(stderr);
    return 0;
}

int etls_dpdk_run(const etls_worker_shared_t *sh, int argc, char **argv)
{
    char err[512];
    dp_opts_t o = {.mbufs = 8191, .idle_sleep_us = 100};
    default_addr(sh->cfg, &o);
    int used = rte_eal_init(argc, argv);
    if (used < 0) {
        fprintf(stderr, "edgetls: dpdk: EAL cannot start: %s\n", rte_strerror(rte_errno));
        return 1;
    }
    /* rte_eal_init consumed argv[1..used]; what follows a "--" is ours. */
    int rest = argc - used - 1;
    char **rargv = argv + used + 1;
    if (rest > 0 && !strcmp(rargv[0], "--")) {
        rargv++;
        rest--;
    }
    if (parse_opts(&o, rest, rargv, err, sizeof err) < 0) {
        fprintf(stderr, "edgetls: %s\n", err);
        rte_eal_cleanup();
        return 2;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGUSR1, on_usr1);
    int status = 0;
    if (start(sh, &o, err, sizeof err) < 0) {
        fprintf(stderr, "edgetls: %s\n", err);
        status = 1;
    } else {
        if (sh->snap) /* before any worker attaches: reclaiming waits for all of them */
            sh->snap->n_workers = etls_dp_nworkers;
        rte_eal_mp_remote_launch(dp_lcore_main, NULL, CALL_MAIN);
        rte_eal_mp_wait_lcore();
        for (unsigned i = 0; i < etls_dp_nworkers; i++)
            if (etls_dp_workers[i]->failed) {
                fprintf(stderr, "edgetls: %s\n", etls_dp_workers[i]->err);
                status = 1;
            }
        dp_print_stats();
        dp_port_close(o.port);
    }
    free_workers();
    rte_eal_cleanup();
    return status;
}
