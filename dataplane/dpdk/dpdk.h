/* The DPDK kernel-bypass transport (DESIGN.md, "Transports"): EAL, one RX/TX queue pair per
 * worker lcore with RSS where the PMD has it, per-lcore mempools, and the per-lcore poll loop
 *   rte_eth_rx_burst -> net (Ethernet/ARP/IPv4/ICMP) -> TCP -> TLS engine -> crypto batch
 *   -> TCP flush -> rte_eth_tx_burst (unsent mbufs freed)
 * serving the same modes as the io_uring workers (responder, echo, proxy; proxy backends are
 * reached over kernel TCP sockets from the same loop).
 *
 * Command line (after the configuration flags main.c parses):
 *   edgetls [config flags] --transport dpdk -- [EAL args] [-- transport options]
 * EAL args as for any DPDK application, e.g. for a machine without a DPDK NIC:
 *   -l 0-1 --no-huge --no-pci -m 512 --vdev=net_tap0,iface=etls0 --file-prefix etls
 * Transport options:
 *   --addr A.B.C.D/P    our IPv4 address and prefix (default: the first listener's address /24)
 *   --gateway A.B.C.D   next hop for off-link clients (default: none)
 *   --port N            DPDK port id (default 0)
 *   --mbufs N           mbufs per lcore pool (default 8191)
 *   --idle-sleep-us N   sleep this long after ~1000 consecutive empty polls (default 100; 0 =
 *                       pure busy polling, lowest latency, one full core per lcore)
 *   --no-offload        no checksum offloads (software checksums both ways)
 *   --fault loss=P,reorder=P,dup=P,corrupt=P,seed=N[,dir=rx|tx|both]
 *                       testing only: seeded fault injection on IPv4 TCP frames in the poll
 *                       loop (fault.c). P is a fraction 0..1 (items may be left out; at least
 *                       one P > 0); loss drops the frame, dup passes a copy too, reorder holds
 *                       it back until after the next frame (at most one held per direction,
 *                       released after 1 ms idle), corrupt flips one bit of the TCP header or
 *                       payload (the receiver's checksum drops it; TX corruption turns TX
 *                       checksum offload off). Each worker draws from its own PRNG seeded from
 *                       seed + lcore (default seed 1, dir both), so a run is reproducible for a
 *                       given packet sequence. Counted per worker (fault_* counters).
 * Every EAL lcore (the main one included) runs one worker on its own queue pair.
 *
 * Telemetry (dpdk-telemetry.py, socket under the EAL runtime directory):
 *   /edgetls/workers   every per-worker counter as an array indexed by worker (packets,
 *                      drops, busy/idle polls, busy time, handshakes, active connections, ...)
 *   /edgetls/worker,N  worker N's counters
 *   /edgetls/net,N     worker N's net-layer counters (ARP/ICMP/TCP, drops by reason)
 * The same counters are printed to stderr at exit and on SIGUSR1.
 *
 * Control plane (edgetls --control): etls_dpdk_stats_format answers STATS with the io_uring
 * workers' keys (etls_worker_stats_format: the plain counters, the batch fill histogram and the
 * sessions' handshakes by parameters, latency and alerts), so `edgetlsctl stats` and /metrics
 * show DPDK workers the same way. Cycle accounting per worker:
 * busy_cycles (TSC cycles of the poll iterations that did work), tcp_cycles (the part of them
 * inside the TCP stack: input, timers, flush with segment framing), tsc_hz, and busy_cpu_ns (the
 * same iterations in thread CPU time, which leaves out preemption by other work on the machine);
 * the worker's cost per handshake is busy_cycles / handshakes, or busy_cpu_ns / handshakes on
 * CPU (edgetls-bench hs --dpdk prints both); clean_cycles and clean_tcp_cycles repeat busy and
 * TCP cycles for the busy iterations that were not preempted, whose ratio is the TCP share.
 *
 * Virtual devices without offloads or RSS (net_memif, net_af_packet): checksums are computed and
 * verified in software (the port advertises no checksum offload) and with one lcore there is a
 * single queue pair, so no RSS is needed; several lcores need a PMD with as many queues (memif:
 * one queue pair per lcore, but without RSS a flow lands on whichever queue the peer chose).
 * net_af_packet on a veth whose peer is a local kernel stack: that peer must not use TX checksum
 * offload (ethtool -K <peer> tx off), or its TCP segments arrive with the checksum left for a NIC
 * to fill (the PMD does not report CHECKSUM_PARTIAL) and are dropped as corrupt (drop_tcp_csum).
 *
 * Connections: TCP buffers per connection follow buffer_size (16 KiB..1 MiB); at most 4096
 * connections per worker (max_connections is capped there); handshake and idle timeouts and
 * the graceful shutdown (close_notify, bounded by shutdown_timeout) behave as with io_uring.
 * Only IPv4 listeners are served (their ports, on --addr).
 *
 * Ownership: sh (configuration, TLS context, HTTP responses) is the caller's and must outlive
 * the call. Runs until SIGINT/SIGTERM; returns the process exit status (0 clean, 1 runtime
 * failure or EAL cannot start, 2 bad transport options). */
#ifndef ETLS_DPDK_DPDK_H
#define ETLS_DPDK_DPDK_H

#include "worker/worker.h"

int etls_dpdk_run(const etls_worker_shared_t *sh, int argc, char **argv);

/* Puts every DPDK worker's STATS lines ("worker.N.key value\n", docs/control-protocol.md) from
 * any thread, read with relaxed loads (the workers never wait). Puts nothing before the workers
 * are set up or once their teardown began, so it may be called at any time around
 * etls_dpdk_run, from the control thread's stats hook. */
void etls_dpdk_stats_format(etls_st_put_fn *put, void *arg);

#endif
