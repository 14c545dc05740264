/* The per-lcore poll loop (DESIGN.md, "Inside a worker"):
 *   rte_eth_rx_burst -> etls_net_rx (ARP/ICMP answered here) -> etls_tcp_input -> TCP timers and
 *   events -> connection pumps (TLS engine) -> etls_batch_run -> resume parked connections ->
 *   backend ring (proxy: submit, reap; backend.c) -> etls_tcp_flush -> rte_eth_tx_burst; unsent
 *   mbufs are freed.
 * With --fault, fault.c sits right after rte_eth_rx_burst and right before rte_eth_tx_burst.
 * Everything here is owned by one lcore; the only shared writes are the relaxed counter
 * stores read by telemetry. */
#include "dpdk/dp.h"

#include "common/ct.h"
#include "common/stop.h"
#include "common/err.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void clock_update(dp_worker_t *w)
{
    if (!w->hz)
        w->hz = rte_get_timer_hz();
    uint64_t t = rte_get_timer_cycles();
    w->now_us = (uint64_t)((double)t * 1e6 / (double)w->hz);
    w->now_ms = w->now_us / 1000;
    w->txq.now_ms = w->now_ms;
}

/* ---- transmit ---------------------------------------------------------------------------------- */

/* Called every iteration (even with nothing queued) so that a frame --fault held back for
 * reordering leaves once the link is idle; also the queue's burst when it fills up. */
static void tx_burst(void *owner)
{
    dp_worker_t *w = owner;
    struct rte_mbuf *faulted[DP_FAULT_OUT(DP_TX_MAX)], **pkts = w->txq.q;
    unsigned n = w->txq.n;
    w->txq.n = 0;
    if (w->txq.nombuf) {
        DP_STAT_ADD(w, nombuf, w->txq.nombuf);
        w->txq.nombuf = 0;
    }
    if (w->ftx.on) {
        n = dp_fault_apply(w, &w->ftx, w->txq.q, n, faulted);
        pkts = faulted;
    }
    if (!n)
        return;
    uint16_t sent = rte_eth_tx_burst(w->port, w->queue, pkts, (uint16_t)n); /* n <= 385 */
    DP_STAT_ADD(w, tx_packets, sent);
    if (sent < n) {
        DP_STAT_ADD(w, tx_dropped, n - sent);
        rte_pktmbuf_free_bulk(pkts + sent, n - sent);
    }
}

static int tcp_output(void *ctx, const etls_tcp_seg_t *s) { return etls_txq_segment(&((dp_worker_t *)ctx)->txq, s); }

/* ---- receive ----------------------------------------------------------------------------------- */

static void rx_one(dp_worker_t *w, struct rte_mbuf *m)
{
    uint32_t hints = 0;
    if (w->rx_csum_offload) {
        if ((m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
            hints |= ETLS_NET_RX_IP_CSUM_GOOD;
        if ((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
            hints |= ETLS_NET_RX_L4_CSUM_GOOD;
    }
    if (m->nb_segs != 1) { /* MTU 1500 and 2 KiB mbufs: only oversized frames get here */
        DP_STAT_ADD(w, rx_dropped, 1);
        return;
    }
    etls_net_rx_t t;
    size_t rlen;
    uint64_t drops0 = w->net.st.rx_frames - w->net.st.rx_arp - w->net.st.rx_icmp_echo - w->net.st.rx_tcp;
    etls_net_rx_result_t r = etls_net_rx(&w->net, rte_pktmbuf_mtod(m, const uint8_t *), m->data_len,
                                         hints, w->now_ms, &t, w->scratch, sizeof w->scratch, &rlen);
    if (r == ETLS_NET_RX_REPLY)
        etls_txq_copy(&w->txq, w->scratch, rlen);
    else if (r == ETLS_NET_RX_TCP) {
        uint64_t c0 = rte_rdtsc();
        etls_tcp_input(w->tcp, t.src, t.dst, t.seg, t.seg_len, w->now_us);
        w->tcp_cyc += rte_rdtsc() - c0;
    }
    uint64_t drops1 = w->net.st.rx_frames - w->net.st.rx_arp - w->net.st.rx_icmp_echo - w->net.st.rx_tcp;
    if (drops1 != drops0)
        DP_STAT_ADD(w, rx_dropped, drops1 - drops0);
}

/* The worker thread's own CPU time (not vDSO-accelerated: ~0.5 us, so read only at the edges of
 * iterations that do work). */
static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Ends a busy iteration's CPU clock. An iteration whose wall time (TSC) is no more than its CPU
 * time plus a little (the steps before the clock started, 12.5% + 2 us) was not preempted: its
 * cycles and TCP cycles also go to the "clean" pair, whose ratio is the TCP share undisturbed
 * by other work on the machine. */
static void account_cpu(dp_worker_t *w, uint64_t cyc)
{
    uint64_t cpu = thread_cpu_ns() - w->cpu0;
    DP_STAT_ADD(w, busy_cpu_ns, cpu);
    uint64_t mhz = w->st.tsc_hz / 1000000;
    if (mhz && cyc * 1000 / mhz <= cpu + cpu / 8 + 2000) {
        DP_STAT_ADD(w, clean_cycles, cyc);
        DP_STAT_ADD(w, clean_tcp_cycles, w->tcp_cyc);
    }
}

/* Starts this iteration's CPU clock at the first sign of work (once per iteration). */
static void cpu_start(dp_worker_t *w)
{
    if (!w->cpu0)
        w->cpu0 = thread_cpu_ns();
}

static unsigned rx_poll(dp_worker_t *w)
{
    struct rte_mbuf *in[DP_RX_BURST], *faulted[DP_FAULT_OUT(DP_RX_BURST)], **pkts = in;
    unsigned n = rte_eth_rx_burst(w->port, w->queue, in, DP_RX_BURST);
    if (n) {
        DP_STAT_ADD(w, rx_packets, n);
        cpu_start(w);
    }
    if (w->frx.on) { /* every poll: an idle link releases a held frame */
        n = dp_fault_apply(w, &w->frx, in, n, faulted);
        pkts = faulted;
    }
    if (!n)
        return 0;
    for (unsigned i = 0; i < n; i++) {
        if (i + 1 < n)
            rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
        rx_one(w, pkts[i]);
    }
    rte_pktmbuf_free_bulk(pkts, n);
    return n;
}

/* ---- connections ------------------------------------------------------------------------------- */

void dp_mark_dirty(dp_worker_t *w, dp_conn_t *c)
{
    if (c->dirty)
        return;
    c->dirty = 1;
    c->dnext = w->dirty;
    w->dirty = c;
}

static unsigned tcp_events(dp_worker_t *w)
{
    etls_tcp_event_t ev[DP_EVENTS];
    unsigned total = 0;
    size_t n;
    while ((n = etls_tcp_events(w->tcp, ev, DP_EVENTS)) > 0) {
        total += (unsigned)n;
        for (size_t i = 0; i < n; i++) {
            dp_conn_t *c = ev[i].user;
            if (!c && (ev[i].events & ETLS_TCP_EV_ACCEPTED)) {
                dp_conn_on_accept(w, ev[i].conn);
                c = etls_tcp_conn_user(ev[i].conn);
            }
            if (c)
                dp_conn_on_event(w, c, ev[i].events);
        }
    }
    return total;
}

static unsigned pump_dirty(dp_worker_t *w)
{
    unsigned n = 0;
    if (w->dirty)
        cpu_start(w);
    while (w->dirty) {
        dp_conn_t *c = w->dirty;
        w->dirty = c->dnext;
        c->dirty = 0;
        if (c->in_use)
            dp_conn_pump(w, c);
        n++;
    }
    return n;
}

/* Steps 4-5: run the crypto queues, then continue every connection whose requests completed. */
static unsigned run_batch(dp_worker_t *w)
{
    if (!w->batch || etls_batch_queued(w->batch) == 0)
        return 0;
    /* Requests queued by the resumes of the previous iteration (the CertificateVerify
     * signature, typically) run here, often in an iteration that received nothing. */
    cpu_start(w);
    if (etls_batch_run(w->batch))
        DP_STAT_ADD(w, crypto_runs, 1);
    etls_batch_waiter_t *wt;
    unsigned n = 0;
    while ((wt = etls_batch_pop_ready(w->batch))) {
        etls_tls_conn_t *tc = etls_tls_conn_from_waiter(wt);
        dp_conn_t *c = (dp_conn_t *)((uint8_t *)tc - offsetof(dp_conn_t, s.tc));
        if (c->in_use)
            dp_conn_resume(w, c);
        n++;
    }
    return n;
}

/* Handshake and idle deadlines, scanned every 100 ms (the table is small per worker); and a
 * fresh ISN/SYN-cookie secret every 5 minutes (the stack keeps the previous one for cookies
 * in flight). */
static void scan_timeouts(dp_worker_t *w, uint64_t *next_scan, uint64_t *next_rekey)
{
    if (w->now_us < *next_scan)
        return;
    *next_scan = w->now_us + 100000;
    if (w->now_us >= *next_rekey) {
        uint8_t secret[ETLS_TCP_SECRET_LEN];
        if (*next_rekey && etls_rand_bytes(&w->rng, secret, sizeof secret) == 0)
            etls_tcp_rekey(w->tcp, secret);
        etls_wipe(secret, sizeof secret);
        *next_rekey = w->now_us + 300ull * 1000000;
    }
    for (uint32_t i = 0; i < w->nslots; i++)
        if (w->conns[i] && w->conns[i]->in_use)
            dp_conn_check_timeout(w, w->conns[i]);
}

static void idle_wait(dp_worker_t *w, unsigned *idle_run)
{
    if (!w->opts->idle_sleep_us || ++*idle_run < DP_IDLE_POLLS)
        return;
    /* Sleep no longer than the next TCP timer needs. */
    uint64_t until = etls_tcp_next_deadline(w->tcp), us = w->opts->idle_sleep_us;
    if (until > w->now_us && until - w->now_us < us)
        us = until - w->now_us;
    if (until > w->now_us && us > 0) {
        struct timespec ts = {0, (long)(us * 1000)};
        nanosleep(&ts, NULL);
    }
}

static void shutdown_conns(dp_worker_t *w)
{
    for (uint32_t i = 0; i < w->nslots; i++)
        if (w->conns[i] && w->conns[i]->in_use)
            dp_conn_release(w, w->conns[i], 1);
    clock_update(w);
    etls_tcp_flush(w->tcp, w->now_us);
    tx_burst(w);
    dp_fault_fini(w);
}

/* Graceful stop: ask every connection to finish, then keep polling until they have or the
 * shutdown timeout passed. Returns 1 while the loop should go on. */
static int stopping(dp_worker_t *w, uint64_t *deadline)
{
    if (!atomic_load_explicit(&etls_dp_stop, memory_order_relaxed))
        return 0;
    if (!*deadline) {
        /* A drain's own timeout (edgetlsctl drain --timeout) replaces shutdown_timeout; new
         * connections are refused from now on (dp_conn_on_accept). */
        uint32_t ms = etls_stop_timeout_ms(w->cfg->shutdown_timeout_ms);
        *deadline = w->now_us + (uint64_t)ms * 1000 + 1;
        if (w->index == 0 && etls_log_level_now((int)w->cfg->log_level) >= ETLS_LOG_WARN)
            fprintf(stderr, "edgetls: dpdk: shutting down (up to %u ms for open connections)\n", ms);
        for (uint32_t i = 0; i < w->nslots; i++)
            if (w->conns[i] && w->conns[i]->in_use)
                dp_conn_shutdown(w, w->conns[i]);
    }
    return 1;
}

int dp_lcore_main(void *arg)
{
    (void)arg;
    dp_worker_t *w = NULL;
    for (unsigned i = 0; i < etls_dp_nworkers; i++)
        if (etls_dp_workers[i]->lcore == rte_lcore_id())
            w = etls_dp_workers[i];
    if (!w)
        return 0;
    /* The backend ring belongs to this thread (IORING_SETUP_SINGLE_ISSUER). Without it a proxy
     * cannot work: the whole transport stops and reports why. */
    if (w->cfg->mode == ETLS_MODE_PROXY && dp_backend_start(w) < 0) {
        w->failed = 1;
        atomic_store(&etls_dp_stop, 1);
        return -1;
    }
    unsigned idle_run = 0;
    uint64_t next_scan = 0, next_rekey = 0, stop_deadline = 0;
    DP_STAT_ADD(w, tsc_hz, rte_get_tsc_hz());
    for (;;) {
        uint64_t cyc0 = rte_rdtsc(), c1;
        w->tcp_cyc = 0;
        w->cpu0 = 0;
        clock_update(w);
        etls_sess_ctx_adopt(&w->sx); /* a snapshot the control plane pushed since */
        if (stopping(w, &stop_deadline) && (w->st.active == 0 || w->now_us >= stop_deadline))
            break;
        if (w->index == 0 && atomic_load_explicit(&etls_dp_dump, memory_order_relaxed) &&
            atomic_exchange(&etls_dp_dump, 0))
            dp_print_stats();
        unsigned work = rx_poll(w);
        c1 = rte_rdtsc();
        etls_tcp_timers(w->tcp, w->now_us);
        w->tcp_cyc += rte_rdtsc() - c1;
        work += tcp_events(w);
        if (work) /* timer-driven work: its CPU clock starts late, after the timers */
            cpu_start(w);
        work += pump_dirty(w);
        work += run_batch(w);
        work += pump_dirty(w);
        if (w->ring_ok)
            work += dp_backend_poll(w);
        work += pump_dirty(w);
        if (work) /* backend-driven work (proxy): timed from here on */
            cpu_start(w);
        scan_timeouts(w, &next_scan, &next_rekey);
        c1 = rte_rdtsc();
        etls_tcp_flush(w->tcp, w->now_us);
        w->tcp_cyc += rte_rdtsc() - c1;
        work += w->txq.n;
        tx_burst(w);
        if (work) {
            uint64_t t0 = w->now_us;
            clock_update(w);
            DP_STAT_ADD(w, busy_us, w->now_us - t0);
            DP_STAT_ADD(w, busy_polls, 1);
            uint64_t cyc = rte_rdtsc() - cyc0;
            DP_STAT_ADD(w, busy_cycles, cyc);
            DP_STAT_ADD(w, tcp_cycles, w->tcp_cyc);
            if (w->cpu0)
                account_cpu(w, cyc);
            idle_run = 0;
        } else {
            DP_STAT_ADD(w, idle_polls, 1);
            idle_wait(w, &idle_run);
        }
    }
    shutdown_conns(w);
    dp_backend_stop(w);
    return 0;
}

/* ---- set-up ------------------------------------------------------------------------------------ */

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

static int setup_crypto(dp_worker_t *w, char *err, size_t errlen)
{
    etls_rand_init(&w->rng);
    if (!w->sh->tls)
        return 0;
    w->aead = etls_aead_engine_new();
    if (!w->aead) {
        snprintf(err, errlen, "dpdk worker %u: no AEAD backend could be initialised", w->index);
        return ETLS_ERR_CRYPTO;
    }
    etls_batch_config_t bc;
    memset(&bc, 0, sizeof bc);
    bc.aead = w->aead;
    w->batch = etls_batch_new(&bc);
    if (!w->batch) {
        snprintf(err, errlen, "dpdk worker %u: cannot allocate the crypto batch", w->index);
        return ETLS_ERR_NOMEM;
    }
    /* Handshake states are borrowed while a handshake runs: pooled, not malloc'ed each time. */
    uint32_t conns = w->cfg->max_connections ? w->cfg->max_connections : 1024;
    w->hs_pool = etls_tls_hs_pool_new(conns < 1024 ? conns : 1024);
    if (!w->hs_pool) {
        snprintf(err, errlen, "dpdk worker %u: cannot allocate the handshake pool", w->index);
        return ETLS_ERR_NOMEM;
    }
    w->env.rng = &w->rng;
    w->env.aead = w->aead;
    w->env.batch = w->batch;
    w->env.hs_pool = w->hs_pool;
    return 0;
}

static int setup_tcp(dp_worker_t *w, char *err, size_t errlen)
{
    etls_tcp_config_t tc;
    etls_tcp_config_default(&tc);
    uint32_t want = w->cfg->max_connections ? w->cfg->max_connections : 1024;
    tc.max_conns = want < 4096 ? want : 4096;
    if (tc.syn_backlog > tc.max_conns)
        tc.syn_backlog = tc.max_conns;
    tc.mss = ETLS_NET_MTU - ETLS_NET_IPV4_HLEN - ETLS_NET_TCP_HLEN;
    /* The loop flushes once per iteration, after the connections ran: the reply (or our FIN
     * after the client's) carries the ACK, one frame fewer per handshake than a bare ACK. */
    tc.acks_at_flush = 1;
    /* TCP buffers follow the configured per-connection buffer size (its send buffer bounds
     * the bytes in flight, so throughput per connection is about sndbuf / RTT). The rings are
     * never zeroed, so untouched buffer memory costs address space, not RAM. */
    uint32_t buf = w->cfg->buffer_size ? w->cfg->buffer_size : 65536;
    tc.sndbuf = tc.rcvbuf = buf < 16384 ? 16384 : buf > (1u << 20) ? 1u << 20 : buf;
    if (tc.ooo_max_bytes > tc.rcvbuf)
        tc.ooo_max_bytes = tc.rcvbuf;
    if (etls_rand_bytes(&w->rng, tc.secret, sizeof tc.secret) < 0 ||
        etls_tcp_create(&w->tcp, &tc, tcp_output, w) < 0) {
        snprintf(err, errlen, "dpdk worker %u: cannot create the TCP stack (%u connections)",
                 w->index, tc.max_conns);
        return ETLS_ERR_NOMEM;
    }
    for (size_t l = 0; l < w->cfg->nlisteners; l++) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&w->cfg->listeners[l].addr.ss;
        if (sin->sin_family != AF_INET)
            continue; /* IPv6 listeners are for the io_uring transport only */
        if (etls_tcp_listen(w->tcp, w->opts->addr, ntohs(sin->sin_port)) < 0) {
            snprintf(err, errlen, "dpdk worker %u: cannot listen on port %u", w->index,
                     ntohs(sin->sin_port));
            return ETLS_ERR_LIMIT;
        }
    }
    w->nslots = tc.max_conns;
    etls_wipe(tc.secret, sizeof tc.secret);
    return 0;
}

int dp_worker_init(dp_worker_t *w, char *err, size_t errlen)
{
    char name[RTE_MEMPOOL_NAMESIZE];
    snprintf(name, sizeof name, "etls_mb_%u", w->index);
    w->pool = rte_pktmbuf_pool_create(name, w->opts->mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                      (int)rte_lcore_to_socket_id(w->lcore));
    if (!w->pool) {
        snprintf(err, errlen, "dpdk worker %u: mempool of %u mbufs: %s (try more -m memory or fewer --mbufs)",
                 w->index, w->opts->mbufs, rte_strerror(rte_errno));
        return ETLS_ERR_NOMEM;
    }
    dp_fault_init(w);
    w->txq.pool = w->pool;
    w->txq.net = &w->net;
    w->txq.burst = tx_burst;
    w->txq.owner = w;
    w->txq.cap = DP_TX_MAX;
    ETLS_GUARD(setup_crypto(w, err, errlen));
    ETLS_GUARD(setup_tcp(w, err, errlen));
    w->conns = calloc(w->nslots, sizeof *w->conns);
    w->free_slots = calloc(w->nslots, sizeof *w->free_slots);
    if (!w->conns || !w->free_slots) {
        snprintf(err, errlen, "dpdk worker %u: out of memory", w->index);
        return ETLS_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < w->nslots; i++)
        w->free_slots[i] = w->nslots - 1 - i;
    w->nfree = w->nslots;
    size_t buf = w->cfg->buffer_size ? w->cfg->buffer_size : 65536;
    size_t flight = w->sh->tls ? w->sh->tls->max_flight : 0;
    w->rx_cap = max_sz(buf, 2 * ETLS_TLS_MAX_RECORD);
    w->out_cap = max_sz(max_sz(buf, flight + 1024), 2 * ETLS_TLS_MAX_SEALED);
    w->app_cap = max_sz(buf, 2 * ETLS_TLS_MAX_CIPHERTEXT);
    w->bk_cap = max_sz(buf, ETLS_TLS_MAX_PLAINTEXT);
    char sname[32];
    snprintf(sname, sizeof sname, "dpdk worker %u", w->index);
    etls_sess_ctx_init(&w->sx, w->cfg, w->sh->tls, w->sh->http, &w->env, sname);
    w->sx.handshakes = &w->st.handshakes;
    w->sx.hs_failures = &w->st.hs_failures;
    w->sx.errors = &w->st.errors;
    w->sx.requests = &w->st.requests;
    w->sx.stats = &w->sess; /* the STATS detail (stats.c); also starts the handshake clock */
    if (w->sh->snap)
        etls_sess_ctx_attach(&w->sx, w->sh->snap, w->index);
    return 0; /* the proxy's backend ring is created by the lcore itself (dp_backend_start) */
}

void dp_worker_fini(dp_worker_t *w)
{
    if (w->conns) {
        for (uint32_t i = 0; i < w->nslots; i++) {
            dp_conn_t *c = w->conns[i];
            if (c && c->in_use)
                etls_sess_end(&c->s);
            free(c);
        }
    }
    free(w->conns);
    free(w->free_slots);
    if (w->hs_pool)
        etls_tls_hs_pool_free(w->hs_pool); /* after every session returned its state */
    if (w->tcp)
        etls_tcp_destroy(w->tcp);
    if (w->batch)
        etls_batch_free(w->batch);
    if (w->aead)
        etls_aead_engine_free(w->aead);
    etls_rand_wipe(&w->rng);
    if (w->pool)
        rte_mempool_free(w->pool);
}
