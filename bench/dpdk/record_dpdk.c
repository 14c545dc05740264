/* `edgetls-bench record --dpdk` (record.h): bulk TLS throughput on one DPDK lcore, over the
 * bench's DPDK link (link.h: EAL, port, net, our TCP) with record.h's connections (start, feed,
 * requests, records to send: the same code as the kernel-socket transport in record.c).
 *
 * One poll loop: rx burst -> TCP input -> timers -> TCP events (CONNECTED: ClientHello;
 * READABLE: feed; WRITABLE: more records) -> TCP flush -> tx burst. Connections are set up
 * (handshakes, untimed) first; then 0.3 s of warm-up and --duration measured seconds, as in
 * record.c. With --server-telemetry, edgetls' worker counters before and after the measured
 * part give its cycles per GB sent (download) or received (echo, upload). */
#include "../hs/record.h"
#include "link.h"

#include "common/ct.h"

#include <rte_cycles.h>

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define NEV 64
#define TOOL "edgetls-bench record --dpdk"

typedef struct rd {
    const etls_rec_cfg_t *cfg;
    etls_blink_t l;
    etls_rand_t rng;
    etls_aead_engine_t *eng;
    etls_rec_conn_t *c;
    etls_tcp_conn_t **tcp;
    uint8_t *streaming; /* handshake done (and, in download mode, the first request queued) */
    unsigned n, ready;
    uint64_t errors, busy_cycles;
} rd_t;

/* The last run's figures for etls_rec_dpdk_report. */
static struct {
    int have;
    etls_blink_srv_t before, after;
    uint64_t bench_cycles, bench_hz, tx_dropped, nombuf;
    etls_tcp_stats_t tcp;
    double measured_s;
} last;

static void kill_conn(rd_t *d, unsigned i)
{
    etls_rec_conn_t *c = &d->c[i];
    if (!c->dead)
        d->errors++;
    c->dead = 1;
    if (d->tcp[i]) {
        etls_tcp_abort(d->tcp[i]);
        d->tcp[i] = NULL;
    }
}

/* c->tx into the TCP send buffer; echo and upload top it up with records first. */
static void push(rd_t *d, unsigned i)
{
    etls_rec_conn_t *c = &d->c[i];
    if (!d->tcp[i] || c->dead)
        return;
    for (;;) {
        if (d->streaming[i] && d->cfg->mode != ETLS_REC_DOWNLOAD && c->tx_off == c->tx_len) {
            c->tx_off = c->tx_len = 0;
            etls_rec_fill(d->cfg, c);
        }
        if (c->tx_off == c->tx_len)
            break;
        size_t w = etls_tcp_write(d->tcp[i], c->tx + c->tx_off, c->tx_len - c->tx_off);
        c->tx_off += w;
        if (c->tx_off == c->tx_len)
            c->tx_off = c->tx_len = 0;
        if (!w || d->cfg->mode == ETLS_REC_DOWNLOAD)
            break;
    }
}

static void on_readable(rd_t *d, unsigned i)
{
    etls_rec_conn_t *c = &d->c[i];
    while (!c->dead && d->tcp[i]) {
        if (c->rx_len == ETLS_REC_RX) { /* cannot happen: feeding leaves less than one record */
            kill_conn(d, i);
            return;
        }
        size_t n = etls_tcp_read(d->tcp[i], c->rx + c->rx_len, ETLS_REC_RX - c->rx_len);
        if (!n)
            return;
        c->rx_len += n;
        int dl = d->streaming[i] && d->cfg->mode == ETLS_REC_DOWNLOAD;
        if (etls_rec_feed(dl ? d->cfg : NULL, c) < 0 || c->cli.peer_closed) {
            kill_conn(d, i);
            return;
        }
        if (!d->streaming[i] && etls_cli_connected(&c->cli)) {
            if (d->cfg->mode == ETLS_REC_DOWNLOAD && etls_rec_request(d->cfg, c) < 0) {
                kill_conn(d, i);
                return;
            }
            c->echoed_base = c->cli.app_bytes;
            d->streaming[i] = 1;
            d->ready++;
        }
        push(d, i);
    }
}

static unsigned events(rd_t *d)
{
    etls_tcp_event_t ev[NEV];
    size_t n;
    unsigned total = 0;
    while ((n = etls_tcp_events(d->l.tcp, ev, NEV)) > 0) {
        total += (unsigned)n;
        for (size_t k = 0; k < n; k++) {
            if (!ev[k].user)
                continue;
            unsigned i = (unsigned)((etls_rec_conn_t *)ev[k].user - d->c);
            etls_rec_conn_t *c = &d->c[i];
            if (c->dead || !d->tcp[i])
                continue;
            if (ev[k].events & ETLS_TCP_EV_RESET) {
                kill_conn(d, i);
                continue;
            }
            if ((ev[k].events & ETLS_TCP_EV_CONNECTED) && etls_rec_start(d->cfg, c, d->eng, &d->rng) < 0) {
                kill_conn(d, i);
                continue;
            }
            if (ev[k].events & ETLS_TCP_EV_READABLE)
                on_readable(d, i);
            push(d, i);
            if (!c->dead && (ev[k].events & (ETLS_TCP_EV_PEER_FIN | ETLS_TCP_EV_CLOSED)) &&
                !(d->tcp[i] && etls_tcp_readable(d->tcp[i])))
                kill_conn(d, i);
        }
    }
    return total;
}

/* One poll iteration; returns the work done (frames, events, frames sent). */
static unsigned poll_once(rd_t *d)
{
    uint64_t now = etls_hs_now_ns(), now_us = now / 1000;
    d->l.tx.now_ms = now / 1000000;
    unsigned work = etls_blink_rx(&d->l, now_us);
    etls_tcp_timers(d->l.tcp, now_us);
    work += events(d);
    etls_tcp_flush(d->l.tcp, now_us);
    work += d->l.tx.n;
    etls_blink_tx(&d->l);
    return work;
}

static void totals(const rd_t *d, uint64_t *up, uint64_t *down)
{
    *up = *down = 0;
    for (unsigned i = 0; i < d->n; i++) {
        *up += d->c[i].sent;
        *down += d->c[i].cli.app_bytes;
    }
}

static double tv_s(const struct timeval *tv)
{
    return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static int run(rd_t *d, etls_rec_result_t *res)
{
    const etls_rec_cfg_t *cfg = d->cfg;
    etls_tcp_config_t tc;
    etls_tcp_config_default(&tc);
    tc.max_conns = d->n + 16;
    tc.syn_backlog = 0;
    tc.rcvbuf = 512u << 10; /* bulk: a window of many records per connection */
    tc.sndbuf = 256u << 10;
    tc.ooo_max_bytes = tc.rcvbuf;
    tc.mss = ETLS_NET_MTU - ETLS_NET_IPV4_HLEN - ETLS_NET_TCP_HLEN;
    tc.time_wait_us = 200000;
    tc.syn_cookies = 0;
    ETLS_GUARD(etls_blink_tcp(&d->l, &tc, &d->rng));
    ETLS_GUARD(etls_blink_resolve(&d->l));
    /* set-up: every connection through its handshake (untimed, at most 10 s) */
    uint64_t now = etls_hs_now_ns();
    for (unsigned i = 0; i < d->n; i++)
        if (etls_tcp_connect(d->l.tcp, d->l.d.addr, 0, d->l.dst, d->l.dport, &d->c[i], now / 1000,
                             &d->tcp[i]) < 0) {
            d->tcp[i] = NULL;
            kill_conn(d, i);
            res->setup_rc = ETLS_ERR_IO;
        }
    uint64_t limit = now + 10000000000ull;
    while (d->ready + d->errors < d->n && etls_hs_now_ns() < limit)
        poll_once(d);
    if (d->ready < d->n)
        res->setup_rc = ETLS_ERR_IO;
    for (unsigned i = 0; i < d->n; i++)
        if (!d->streaming[i] && !d->c[i].dead)
            kill_conn(d, i);
    etls_blink_server_snapshot(TOOL, d->l.d.telemetry, &last.before);
    /* warm-up, then the measured part (bytes before it are subtracted) */
    struct rusage u0, u1;
    getrusage(RUSAGE_SELF, &u0);
    res->warmup = 0.3;
    uint64_t t_go = etls_hs_now_ns();
    uint64_t t_count = t_go + (uint64_t)(res->warmup * 1e9);
    uint64_t t_end = t_count + (uint64_t)(cfg->duration * 1e9);
    uint64_t up0 = 0, down0 = 0, srv_at_count = 0;
    int counting = 0;
    for (unsigned i = 0; i < d->n; i++)
        push(d, i);
    for (;;) {
        uint64_t c0 = rte_rdtsc();
        now = etls_hs_now_ns();
        if (!counting && now >= t_count) {
            counting = 1;
            totals(d, &up0, &down0);
            etls_blink_server_snapshot(TOOL, d->l.d.telemetry, &last.before);
            srv_at_count = etls_hs_now_ns();
        }
        if (now >= t_end)
            break;
        if (poll_once(d) && counting)
            d->busy_cycles += rte_rdtsc() - c0;
    }
    uint64_t up1, down1;
    totals(d, &up1, &down1);
    etls_blink_server_snapshot(TOOL, d->l.d.telemetry, &last.after);
    last.measured_s = (double)(etls_hs_now_ns() - srv_at_count) / 1e9;
    getrusage(RUSAGE_SELF, &u1);
    res->up = up1 - up0;
    res->down = down1 - down0;
    res->errors = d->errors;
    res->cpu_u = tv_s(&u1.ru_utime) - tv_s(&u0.ru_utime);
    res->cpu_s = tv_s(&u1.ru_stime) - tv_s(&u0.ru_stime);
    /* close_notify and FIN, and 100 ms for the last segments */
    for (unsigned i = 0; i < d->n; i++) {
        etls_rec_conn_t *c = &d->c[i];
        if (c->dead || !d->tcp[i])
            continue;
        etls_tls_buf_t out = {c->tx, 0, ETLS_REC_TX};
        c->tx_off = c->tx_len = 0;
        if (etls_cli_close(&c->cli, &out) == 0)
            (void)etls_tcp_write(d->tcp[i], c->tx, out.len);
        etls_tcp_consume(d->tcp[i], etls_tcp_readable(d->tcp[i]));
        etls_tcp_close(d->tcp[i]);
        d->tcp[i] = NULL;
        c->dead = 1;
    }
    uint64_t drain = etls_hs_now_ns() + 100000000;
    while (etls_hs_now_ns() < drain)
        poll_once(d);
    last.have = 1;
    last.bench_cycles = d->busy_cycles;
    last.bench_hz = rte_get_tsc_hz();
    last.tx_dropped = d->l.tx_dropped;
    last.nombuf = d->l.tx.nombuf;
    last.tcp = *etls_tcp_stats(d->l.tcp);
    return 0;
}

int etls_rec_dpdk_run(const etls_rec_cfg_t *cfg, int argc, char **argv, etls_rec_result_t *res)
{
    rd_t *d = calloc(1, sizeof *d);
    if (!d)
        return ETLS_ERR_NOMEM;
    d->cfg = cfg;
    d->n = cfg->conns;
    d->c = calloc(d->n, sizeof *d->c);
    d->tcp = calloc(d->n, sizeof *d->tcp);
    d->streaming = calloc(d->n, 1);
    etls_rand_init(&d->rng);
    d->eng = etls_aead_engine_new();
    int rc = d->c && d->tcp && d->streaming && d->eng ? 0 : ETLS_ERR_NOMEM;
    if (rc == 0)
        rc = etls_blink_open(&d->l, TOOL, &cfg->addr, argc, argv);
    if (rc == 0)
        rc = run(d, res);
    for (unsigned i = 0; d->c && i < d->n; i++) {
        if (d->tcp && d->tcp[i])
            etls_tcp_abort(d->tcp[i]);
        if (d->c[i].cli.cfg) /* started */
            etls_cli_wipe(&d->c[i].cli);
        etls_cli_share_wipe(&d->c[i].share);
    }
    etls_blink_close(&d->l);
    if (d->eng)
        etls_aead_engine_free(d->eng);
    etls_rand_wipe(&d->rng);
    free(d->streaming);
    free(d->tcp);
    free(d->c);
    free(d);
    return rc;
}

void etls_rec_dpdk_report(FILE *txt, FILE *json, const etls_rec_cfg_t *cfg, const etls_rec_result_t *res)
{
    if (!last.have)
        return;
    /* the server's work is per byte it sent (download) or received (echo and upload) */
    int dl = cfg->mode == ETLS_REC_DOWNLOAD;
    uint64_t bench_bytes = dl ? res->down : res->up;
    const etls_blink_srv_t *a = &last.before, *z = &last.after;
    int srv = a->ok && z->ok;
    uint64_t bytes = srv ? (dl ? z->bytes_out - a->bytes_out : z->bytes_in - a->bytes_in) : 0;
    uint64_t busy = srv ? z->busy_cycles - a->busy_cycles : 0;
    uint64_t cpu_ns = srv ? z->busy_cpu_ns - a->busy_cpu_ns : 0;
    double hz = srv ? (double)z->tsc_hz : 0;
    double gb = (double)bytes / 1e9;
    double cpgb = gb > 0 ? (double)busy / gb : 0;
    double cpu_s_gb = gb > 0 ? (double)cpu_ns / 1e9 / gb : 0;
    double busy_pct = hz > 0 && last.measured_s > 0 ? 100.0 * (double)busy / hz / last.measured_s : 0;
    double bench_cpgb = bench_bytes ? (double)last.bench_cycles / ((double)bench_bytes / 1e9) : 0;
    fprintf(txt, "dpdk       bench loop %.0f cycles/GB busy; tcp: connects %llu retransmits %llu "
            "rst_recv %llu; tx_dropped %llu nombuf %llu\n",
            bench_cpgb, (unsigned long long)last.tcp.connects, (unsigned long long)last.tcp.retransmits,
            (unsigned long long)last.tcp.rst_recv, (unsigned long long)last.tx_dropped,
            (unsigned long long)last.nombuf);
    if (srv)
        fprintf(txt, "server     %s %llu bytes over %.2f s; worker busy %.3f Gcycles (%.0f%% of one "
                "core): %.3g cycles/GB (TSC), %.3f s/GB on CPU = %.3g cycles/GB\n",
                dl ? "sent" : "received", (unsigned long long)bytes, last.measured_s, busy / 1e9,
                busy_pct, cpgb, cpu_s_gb, cpu_s_gb * hz);
    else
        fprintf(txt, "server     no telemetry (--server-telemetry PATH): worker cycles not known\n");
    if (json)
        fprintf(json, "{\"tool\":\"edgetls-bench record --dpdk\",\"mode\":\"%s\",\"bench_bytes\":%llu,"
                "\"bench_cycles_per_gb\":%.0f,\"retransmits\":%llu,\"server_telemetry\":%s,"
                "\"server_bytes\":%llu,\"server_busy_cycles\":%llu,\"server_busy_cpu_ns\":%llu,"
                "\"tsc_hz\":%.0f,\"server_busy_pct\":%.1f,\"cycles_per_gb\":%.0f,"
                "\"cpu_s_per_gb\":%.4f,\"cpu_cycles_per_gb\":%.0f}\n",
                dl ? "download" : cfg->mode == ETLS_REC_ECHO ? "echo" : "upload",
                (unsigned long long)bench_bytes, bench_cpgb, (unsigned long long)last.tcp.retransmits,
                srv ? "true" : "false", (unsigned long long)bytes, (unsigned long long)busy,
                (unsigned long long)cpu_ns, hz, busy_pct, cpgb, cpu_s_gb, cpu_s_gb * hz);
}
