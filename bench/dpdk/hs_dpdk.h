/* `edgetls-bench hs --dpdk`: the handshake load over a DPDK port instead of kernel sockets, so
 * that edgetls-bench and edgetls (on --transport dpdk) are both kernel-bypass, one core each,
 * typically connected by net_memif shared memory:
 *
 *   edgetls-bench hs 192.0.2.1:8443 --dpdk --count 2000 --request [hs options] \
 *       -- -l 1 --no-huge --no-pci -m 256 --file-prefix bench \
 *          --vdev=net_memif0,role=client,socket=/run/edgetls-x.sock \
 *       -- --addr 192.0.2.2/24 [--server-telemetry PATH] [--crypto-bound HS_PER_S]
 *
 * Everything before the first "--" is the usual `hs` command line (same load models, same
 * report and JSON fields); then EAL arguments; after a second "--" the DPDK-mode options:
 *   --addr A.B.C.D/P          our IPv4 address (default: the target's address + 1, /24)
 *   --port N                  DPDK port id (default 0)
 *   --mbufs N                 mbuf pool size (default 8191)
 *   --server-telemetry PATH   edgetls' DPDK telemetry socket (/var/run/dpdk/<its file prefix>/
 *                             dpdk_telemetry.v2): its /edgetls/workers counters are read before
 *                             and after the run, and the worker's cycles per handshake
 *                             (busy_cycles / handshakes), the TCP share of those cycles and the
 *                             capacity rate (tsc_hz / cycles per handshake) are printed
 *   --crypto-bound R          the handshake rate edgetls' crypto alone allows on one core
 *                             (`edgetls-bench crypto` tls13_server_crypto, "ours"): printed with
 *                             the % of it reached, measured and at capacity
 *
 * One lcore (the EAL main lcore; -l picks its CPU), one queue pair, software checksums, the
 * project's own net layer (dataplane/net: ARP, IPv4) and TCP (dataplane/tcp, active open) set
 * up by link.h (shared with `record --dpdk`, which takes the same arguments), and
 * the bench's sessions (bench/hs/sess.h: the TLS client, X25519 batched per poll iteration, the
 * request, --resume tickets, the accounting), the same as load.c's.
 * Limits: --threads must be 1 (one lcore), --close rst is not offered (connections end with a
 * FIN after close_notify), IPv4 only, the target must be on-link (no gateway). */
#ifndef ETLS_BENCH_DPDK_HS_DPDK_H
#define ETLS_BENCH_DPDK_HS_DPDK_H

#include "../hs/load.h"

#include <stdio.h>

/* Runs the load described by o over DPDK. argv[0] is the program name, then EAL arguments,
 * optionally "--" and DPDK-mode options. r is filled as etls_hs_run fills it. Returns 0, or a
 * negative code when the run could not be set up (a message is printed). Weak: only linked
 * when the build found DPDK. */
int etls_hs_dpdk_run(const etls_hs_opts_t *o, int argc, char **argv, etls_hs_result_t *r)
    __attribute__((weak));
/* The DPDK-mode figures of the last run (server cycles, TCP share, crypto bound): text lines to
 * txt, and with json != NULL one more JSON object on its own line. */
void etls_hs_dpdk_report(FILE *txt, FILE *json, const etls_hs_result_t *r) __attribute__((weak));

#endif
