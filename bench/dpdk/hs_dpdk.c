/* `edgetls-bench hs --dpdk` (hs_dpdk.h): the handshake load generator on one DPDK lcore.
 *
 * One poll loop does everything, like an edgetls DPDK worker seen from the other side:
 *   rte_eth_rx_burst -> etls_net_rx (ARP answered) -> etls_tcp_input -> TCP timers -> TCP events
 *   (CONNECTED: ClientHello; READABLE: feed the client) -> batched X25519 -> new connections
 *   (etls_tcp_connect) -> etls_tcp_flush -> rte_eth_tx_burst.
 * A connection is a slot: our TCP connection plus its session (bench/hs/sess.h, shared with
 * load.c: CONNECTING -> HANDSHAKE -> (KX) -> RESPONSE (--request) / TICKET (--resume) -> done,
 * then close_notify and FIN). This file only moves the session's bytes through our TCP; the
 * statistics go into the same etls_hs_result_t as load.c's, so the text and JSON reports are the
 * `hs` ones. */
#include "hs_dpdk.h"

#include "../hs/sess.h"
#include "link.h"

#include "common/ct.h"
#include "crypto/rand.h"

#include <rte_cycles.h>

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define NEV 64

/* A connection: our TCP connection plus its session (bench/hs/sess.h). */
typedef struct dslot {
    etls_tcp_conn_t *tcp;
    etls_sess_t s;
} dslot_t;

#define DSLOT_OF(sp) ((dslot_t *)((char *)(sp) - offsetof(dslot_t, s)))

typedef struct bctx {
    const etls_hs_opts_t *o;
    etls_blink_t l; /* EAL, port, net, TCP (link.h) */
    etls_rand_t rng;
    etls_cli_share_t shared_share;
    dslot_t *slots;
    unsigned nslots, active, *free_list, nfree;
    uint64_t started;
    uint64_t t0, t_stop, t_abandon, interval, next_due;
    etls_sess_ctx_t x; /* sessions: engine, ticket, KX batch, this second's figures */
    uint64_t kx_now;   /* the time etls_sess_kx_run runs at (for after_kx) */
    unsigned cur_sec;
    uint64_t busy_cycles; /* the bench's own loop: iterations that did work */
    etls_hs_result_t *r;
} bctx_t;

/* The last run's figures for etls_hs_dpdk_report. */
static struct {
    int have;
    etls_blink_srv_t before, after;
    double crypto_bound;
    uint64_t bench_cycles, bench_hz, tx_dropped, nombuf;
    const etls_tcp_stats_t *tcp;
    etls_tcp_stats_t tcp_copy;
} last;

/* ---- connections --------------------------------------------------------------------------- */

static void sec_publish(bctx_t *b, unsigned upto)
{
    etls_hs_result_t *r = b->r;
    if (b->cur_sec < ETLS_HS_MAX_SECONDS) {
        etls_hs_second_t *sc = &r->sec[b->cur_sec];
        sc->handshakes += b->x.sec_hs;
        sc->errors += b->x.sec_err;
        sc->p50_ns = etls_hist_percentile(&b->x.sec_hist, 50);
        sc->p99_ns = etls_hist_percentile(&b->x.sec_hist, 99);
        if (b->o->progress)
            fprintf(stderr, "[%4us] %8llu hs/s  errors %llu  p50 %.3f ms  p99 %.3f ms\n",
                    b->cur_sec + 1, (unsigned long long)sc->handshakes,
                    (unsigned long long)sc->errors, sc->p50_ns / 1e6, sc->p99_ns / 1e6);
        if (r->n_seconds < b->cur_sec + 1)
            r->n_seconds = b->cur_sec + 1;
    }
    b->x.sec_hs = b->x.sec_err = 0;
    etls_hist_init(&b->x.sec_hist);
    b->cur_sec = upto;
}

static void slot_release(bctx_t *b, dslot_t *d, int abort)
{
    if (d->tcp) {
        if (abort) {
            etls_tcp_abort(d->tcp);
        } else {
            etls_tcp_consume(d->tcp, etls_tcp_readable(d->tcp)); /* else close would RST */
            etls_tcp_close(d->tcp);
        }
        d->tcp = NULL;
    }
    etls_sess_release(&b->x, &d->s);
    b->free_list[b->nfree++] = (unsigned)(d - b->slots);
    b->active--;
}

/* Queued client bytes into the TCP send buffer (leaves at the flush). */
static void push_out(dslot_t *d)
{
    etls_sess_t *s = &d->s;
    if (s->tx_off < s->tx_len && d->tcp)
        s->tx_off += etls_tcp_write(d->tcp, s->tx + s->tx_off, s->tx_len - s->tx_off);
    if (s->tx_off == s->tx_len)
        s->tx_off = s->tx_len = 0;
}

/* An outcome of sess.h: MORE and KX keep the slot (0); DONE (close_notify queued) and FAIL
 * (our alert, if any, queued; already counted) end it with a FIN after those bytes (1). */
static int outcome(bctx_t *b, dslot_t *d, int oc)
{
    push_out(d);
    if (oc != ETLS_SESS_DONE && oc != ETLS_SESS_FAIL)
        return 0;
    slot_release(b, d, 0);
    return 1;
}

static void slot_fail(bctx_t *b, dslot_t *d, etls_hs_err_t kind)
{
    etls_sess_fail(&b->x, &d->s, kind, -1);
    (void)outcome(b, d, ETLS_SESS_FAIL);
}

static int claim(bctx_t *b, uint64_t now)
{
    const etls_hs_opts_t *o = b->o;
    if (now >= b->t_stop || (o->count && b->started >= o->count))
        return 0;
    b->started++;
    return 1;
}

static void slot_start(bctx_t *b, uint64_t intended, uint64_t now)
{
    dslot_t *d = &b->slots[b->free_list[--b->nfree]];
    b->active++;
    etls_sess_begin(&b->x, &d->s, intended, now);
    int rc = etls_tcp_connect(b->l.tcp, b->l.d.addr, 0, b->l.dst, b->l.dport, d, now / 1000, &d->tcp);
    if (rc < 0) {
        d->tcp = NULL;
        b->free_list[b->nfree++] = (unsigned)(d - b->slots);
        b->active--;
        etls_sess_fail(&b->x, &d->s, ETLS_HS_ERR_CONNECT, -1);
        etls_sess_release(&b->x, &d->s);
    }
}

static void start_due(bctx_t *b, uint64_t now)
{
    if (b->o->rate <= 0) {
        while (b->active < b->nslots && b->nfree && claim(b, now))
            slot_start(b, now, now);
        return;
    }
    while (b->next_due <= now && b->nfree && claim(b, b->next_due)) {
        slot_start(b, b->next_due, now);
        b->next_due += b->interval;
    }
}

static void on_readable(bctx_t *b, dslot_t *d, uint64_t now)
{
    etls_sess_t *s = &d->s;
    while (s->phase != ETLS_SESS_FREE && s->phase != ETLS_SESS_KX_WAIT && d->tcp) {
        size_t n = etls_tcp_read(d->tcp, s->rx + s->rx_len, ETLS_SESS_RX_CAP - s->rx_len);
        if (!n)
            return;
        s->rx_len += n;
        if (outcome(b, d, etls_sess_advance(&b->x, s, now)) || s->phase == ETLS_SESS_KX_WAIT)
            return;
        if (s->cli.peer_closed) {
            slot_fail(b, d, ETLS_HS_ERR_EOF);
            return;
        }
        if (s->rx_len == ETLS_SESS_RX_CAP) {
            slot_fail(b, d, ETLS_HS_ERR_PROTOCOL);
            return;
        }
    }
}

static void on_event(bctx_t *b, dslot_t *d, const etls_tcp_event_t *ev, uint64_t now)
{
    etls_sess_t *s = &d->s;
    if (s->phase == ETLS_SESS_FREE)
        return;
    if (ev->events & ETLS_TCP_EV_RESET) {
        etls_hs_err_t k = ev->reason == ETLS_TCP_REASON_REFUSED  ? ETLS_HS_ERR_REFUSED
                          : ev->reason == ETLS_TCP_REASON_TIMEOUT && s->phase == ETLS_SESS_CONNECTING
                              ? ETLS_HS_ERR_CONNECT
                              : ETLS_HS_ERR_RESET;
        slot_fail(b, d, k);
        return;
    }
    if ((ev->events & ETLS_TCP_EV_CONNECTED) && outcome(b, d, etls_sess_start(&b->x, s)))
        return;
    if (ev->events & ETLS_TCP_EV_WRITABLE)
        push_out(d);
    if (ev->events & ETLS_TCP_EV_READABLE)
        on_readable(b, d, now);
    if (s->phase != ETLS_SESS_FREE && (ev->events & (ETLS_TCP_EV_PEER_FIN | ETLS_TCP_EV_CLOSED)) &&
        s->phase != ETLS_SESS_KX_WAIT && !(d->tcp && etls_tcp_readable(d->tcp)))
        slot_fail(b, d, ETLS_HS_ERR_EOF);
}

static unsigned tcp_events(bctx_t *b, uint64_t now)
{
    etls_tcp_event_t ev[NEV];
    size_t n;
    unsigned total = 0;
    while ((n = etls_tcp_events(b->l.tcp, ev, NEV)) > 0) {
        total += (unsigned)n;
        for (size_t i = 0; i < n; i++)
            if (ev[i].user)
                on_event(b, ev[i].user, &ev[i], now);
    }
    return total;
}

/* After the batched X25519 (etls_sess_kx_run): the next flight out, then the records that
 * arrived while the key exchange waited. */
static void after_kx(void *arg, etls_sess_t *s, int oc)
{
    bctx_t *b = arg;
    dslot_t *d = DSLOT_OF(s);
    if (!outcome(b, d, oc) && s->phase != ETLS_SESS_KX_WAIT)
        on_readable(b, d, b->kx_now);
}

static void expire(bctx_t *b, uint64_t now, int all)
{
    for (unsigned i = 0; i < b->nslots; i++) {
        dslot_t *d = &b->slots[i];
        if (d->s.phase == ETLS_SESS_FREE || (!all && now < d->s.deadline))
            continue;
        if (all) {
            etls_sess_abandon(&b->x, &d->s);
            slot_release(b, d, 1);
        } else {
            slot_fail(b, d, ETLS_HS_ERR_TIMEOUT);
        }
    }
}

/* ---- set-up -------------------------------------------------------------------------------- */

static int tcp_setup(bctx_t *b)
{
    etls_tcp_config_t tc;
    etls_tcp_config_default(&tc);
    unsigned inflight = b->o->rate > 0 ? b->o->max_inflight : b->o->concurrency;
    /* Slots: the connections in flight plus those in TIME-WAIT (short here; the stack also
     * recycles the oldest TIME-WAIT slot when it runs dry). */
    tc.max_conns = inflight + 4096;
    tc.syn_backlog = 0;
    tc.rcvbuf = 32768;
    tc.sndbuf = 8192;
    tc.ooo_max_bytes = tc.rcvbuf;
    tc.mss = ETLS_NET_MTU - ETLS_NET_IPV4_HLEN - ETLS_NET_TCP_HLEN;
    tc.time_wait_us = 200000;
    tc.syn_cookies = 0;
    ETLS_GUARD(etls_blink_tcp(&b->l, &tc, &b->rng));
    b->nslots = inflight ? inflight : 1;
    b->slots = calloc(b->nslots, sizeof *b->slots);
    b->free_list = calloc(b->nslots, sizeof *b->free_list);
    if (!b->slots || !b->free_list)
        return ETLS_ERR_NOMEM;
    for (unsigned i = 0; i < b->nslots; i++)
        b->free_list[b->nfree++] = b->nslots - 1 - i;
    return 0;
}

/* ---- the run ------------------------------------------------------------------------------- */

static void loop(bctx_t *b)
{
    const etls_hs_opts_t *o = b->o;
    uint64_t last_scan = 0;
    for (;;) {
        uint64_t c0 = rte_rdtsc();
        uint64_t now = etls_hs_now_ns(), now_us = now / 1000;
        b->l.tx.now_ms = now / 1000000;
        unsigned sec = now > b->t0 ? (unsigned)((now - b->t0) / 1000000000u) : 0;
        if (sec != b->cur_sec)
            sec_publish(b, sec);
        if (now >= b->t_abandon) {
            expire(b, now, 1);
            break;
        }
        start_due(b, now);
        int more = now < b->t_stop && (!o->count || b->started < o->count);
        if (!more && !b->active)
            break;
        unsigned work = etls_blink_rx(&b->l, now_us);
        etls_tcp_timers(b->l.tcp, now_us);
        work += tcp_events(b, now);
        if (b->x.nkx) {
            work += b->x.nkx;
            b->kx_now = now;
            etls_sess_kx_run(&b->x, now, after_kx, b);
        }
        if (now - last_scan > 20000000) {
            expire(b, now, 0);
            last_scan = now;
        }
        etls_tcp_flush(b->l.tcp, now_us);
        work += b->l.tx.n;
        etls_blink_tx(&b->l);
        if (work)
            b->busy_cycles += rte_rdtsc() - c0;
    }
    sec_publish(b, b->cur_sec);
    /* Let the last FINs and ACKs out, so the server sees orderly closes. */
    uint64_t end = etls_hs_now_ns() + 100000000;
    while (etls_hs_now_ns() < end) {
        uint64_t now = etls_hs_now_ns();
        b->l.tx.now_ms = now / 1000000;
        etls_blink_rx(&b->l, now / 1000);
        etls_tcp_timers(b->l.tcp, now / 1000);
        (void)tcp_events(b, now);
        etls_tcp_flush(b->l.tcp, now / 1000);
        etls_blink_tx(&b->l);
    }
}

static double cpu_s(const struct rusage *u, int sys)
{
    const struct timeval *tv = sys ? &u->ru_stime : &u->ru_utime;
    return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static int run(bctx_t *b)
{
    const etls_hs_opts_t *o = b->o;
    etls_hs_result_t *r = b->r;
    ETLS_GUARD(tcp_setup(b));
    ETLS_GUARD(etls_blink_resolve(&b->l));
    if (o->reuse_keyshare) {
        uint8_t rnd[32];
        (void)etls_rand_bytes(&b->rng, rnd, sizeof rnd);
        int rc = etls_cli_share_new(&b->shared_share, o->cli.group, rnd);
        etls_wipe(rnd, sizeof rnd);
        ETLS_GUARD(rc);
    }
    etls_blink_server_snapshot("edgetls-bench hs --dpdk", b->l.d.telemetry, &last.before);
    struct rusage u0, u1;
    getrusage(RUSAGE_SELF, &u0);
    b->t0 = etls_hs_now_ns();
    b->t_stop = o->duration > 0 ? b->t0 + (uint64_t)(o->duration * 1e9) : UINT64_MAX;
    b->t_abandon = o->duration > 0 ? b->t0 + (uint64_t)((o->duration + o->grace) * 1e9) : UINT64_MAX;
    if (o->rate > 0) {
        b->interval = (uint64_t)(1e9 / o->rate);
        b->next_due = b->t0;
    }
    b->x = (etls_sess_ctx_t){.o = o, .r = r, .eng = b->x.eng, .rng = &b->rng,
                             .shared_share = &b->shared_share, .t_stop = b->t_stop};
    etls_hist_init(&b->x.sec_hist);
    loop(b);
    getrusage(RUSAGE_SELF, &u1);
    r->cpu_user_s = cpu_s(&u1, 0) - cpu_s(&u0, 0);
    r->cpu_sys_s = cpu_s(&u1, 1) - cpu_s(&u0, 1);
    uint64_t end = etls_hs_now_ns() - 100000000; /* the closing drain is not part of the run */
    if (o->duration > 0 && end > b->t_stop)
        end = b->t_stop;
    r->elapsed_s = end > b->t0 ? (double)(end - b->t0) / 1e9 : 0;
    etls_blink_server_snapshot("edgetls-bench hs --dpdk", b->l.d.telemetry, &last.after);
    last.have = 1;
    last.crypto_bound = b->l.d.crypto_bound;
    last.bench_cycles = b->busy_cycles;
    last.bench_hz = rte_get_tsc_hz();
    last.tx_dropped = b->l.tx_dropped;
    last.nombuf = b->l.tx.nombuf;
    last.tcp_copy = *etls_tcp_stats(b->l.tcp);
    last.tcp = &last.tcp_copy;
    return 0;
}

static void cleanup(bctx_t *b)
{
    for (unsigned i = 0; b->slots && i < b->nslots; i++)
        if (b->slots[i].s.phase != ETLS_SESS_FREE)
            slot_release(b, &b->slots[i], 1);
    free(b->slots);
    free(b->free_list);
    if (b->x.eng)
        etls_aead_engine_free(b->x.eng);
    etls_cli_share_wipe(&b->shared_share);
    etls_rand_wipe(&b->rng);
}

int etls_hs_dpdk_run(const etls_hs_opts_t *o, int argc, char **argv, etls_hs_result_t *r)
{
    if (o->threads != 1) {
        fprintf(stderr, "edgetls-bench hs --dpdk: one lcore drives the load: --threads must be 1\n");
        return ETLS_ERR_INVALID;
    }
    memset(r, 0, sizeof *r);
    etls_hist_init(&r->hs_lat);
    etls_hist_init(&r->resp_lat);
    bctx_t *b = calloc(1, sizeof *b);
    if (!b)
        return ETLS_ERR_NOMEM;
    b->o = o;
    b->r = r;
    etls_rand_init(&b->rng);
    int rc = etls_blink_open(&b->l, "edgetls-bench hs --dpdk", &o->addr, argc, argv);
    b->x.eng = etls_aead_engine_new();
    if (rc == 0 && !b->x.eng)
        rc = ETLS_ERR_NOMEM;
    if (rc == 0)
        rc = run(b);
    cleanup(b);
    etls_blink_close(&b->l);
    free(b);
    return rc;
}

/* ---- report -------------------------------------------------------------------------------- */

void etls_hs_dpdk_report(FILE *txt, FILE *json, const etls_hs_result_t *r)
{
    if (!last.have)
        return;
    double rate = r->elapsed_s > 0 ? (double)r->in_window / r->elapsed_s : 0;
    const etls_blink_srv_t *a = &last.before, *z = &last.after;
    int srv = a->ok && z->ok;
    uint64_t hs = srv ? z->handshakes - a->handshakes : 0;
    uint64_t busy = srv ? z->busy_cycles - a->busy_cycles : 0;
    uint64_t tcp = srv ? z->tcp_cycles - a->tcp_cycles : 0;
    uint64_t cpu_ns = srv ? z->busy_cpu_ns - a->busy_cpu_ns : 0;
    double hz = srv ? (double)z->tsc_hz : 0;
    double cph = hs ? (double)busy / (double)hs : 0;              /* TSC: wall time in busy polls */
    double cpu_us = hs ? (double)cpu_ns / (double)hs / 1e3 : 0;    /* on CPU */
    double cpu_cph = cpu_us * hz / 1e6;
    double oncpu = busy && hz > 0 ? 100.0 * (double)cpu_ns / ((double)busy / hz * 1e9) : 0;
    uint64_t clean = srv ? z->clean_cycles - a->clean_cycles : 0;
    uint64_t clean_tcp = srv ? z->clean_tcp_cycles - a->clean_tcp_cycles : 0;
    /* TCP share from the iterations nothing preempted when they are a fair sample (a tenth of
     * the busy cycles or more), else from all busy cycles (preemption then blurs it). */
    int from_clean = clean > 0 && clean * 10 >= busy;
    double share = from_clean ? 100.0 * (double)clean_tcp / (double)clean
                   : busy     ? 100.0 * (double)tcp / (double)busy
                              : 0;
    double clean_pct = busy ? 100.0 * (double)clean / (double)busy : 0;
    /* The rate one fully busy worker would sustain at this cost: on-CPU figure when known. */
    double cap = cpu_us > 0 ? 1e6 / cpu_us : cph > 0 ? hz / cph : 0;
    double bench_cph = r->handshakes ? (double)last.bench_cycles / (double)r->handshakes : 0;
    double bound = last.crypto_bound;
    fprintf(txt, "dpdk       bench loop %.0f cycles/handshake busy; tcp: connects %llu retransmits %llu "
            "rst_recv %llu; tx_dropped %llu nombuf %llu\n",
            bench_cph, (unsigned long long)last.tcp->connects, (unsigned long long)last.tcp->retransmits,
            (unsigned long long)last.tcp->rst_recv, (unsigned long long)last.tx_dropped,
            (unsigned long long)last.nombuf);
    if (srv) {
        fprintf(txt, "server     handshakes %llu (bench counted %llu); worker busy %.3f Gcycles: "
                "%.0f cycles/handshake (TSC, %.1f us at %.2f GHz)\n",
                (unsigned long long)hs, (unsigned long long)r->handshakes, busy / 1e9, cph,
                hz > 0 ? cph / hz * 1e6 : 0, hz / 1e9);
        fprintf(txt, "server cpu %.1f us/handshake on CPU = %.0f cycles/handshake (the worker was on "
                "its CPU %.0f%% of its busy time; the rest is preemption)\n", cpu_us, cpu_cph, oncpu);
        /* Preemption falls on the TCP sections as on the rest (in proportion to their time),
         * so the share holds for on-CPU cycles too. */
        fprintf(txt, "server tcp %.1f%% of the worker's busy cycles, from %s (%.0f%% of them); about "
                "%.0f cycles/handshake on CPU\n", share,
                from_clean ? "the iterations that were not preempted" : "all busy iterations",
                from_clean ? clean_pct : 100.0, cpu_cph * share / 100.0);
        fprintf(txt, "capacity   %.0f handshakes/s for one fully busy worker at this cost; measured "
                "%.1f/s\n", cap, rate);
    } else {
        fprintf(txt, "server     no telemetry (--server-telemetry PATH): worker cycles not known\n");
    }
    if (bound > 0)
        fprintf(txt, "crypto     bound %.0f handshakes/s (edgetls-bench crypto tls13_server_crypto, one "
                "core): measured %.1f%%, capacity %.1f%% of it\n",
                bound, 100.0 * rate / bound, 100.0 * cap / bound);
    if (json) {
        fprintf(json, "{\"tool\":\"edgetls-bench hs --dpdk\",\"handshakes_per_s\":%.1f,"
                "\"bench_cycles_per_handshake\":%.0f,\"server_telemetry\":%s,\"server_handshakes\":%llu,"
                "\"server_busy_cycles\":%llu,\"server_tcp_cycles\":%llu,\"server_busy_cpu_ns\":%llu,"
                "\"tsc_hz\":%.0f,\"cycles_per_handshake\":%.0f,\"cpu_us_per_handshake\":%.2f,"
                "\"cpu_cycles_per_handshake\":%.0f,\"oncpu_pct\":%.1f,\"tcp_share_pct\":%.2f,"
                "\"tcp_share_from_unpreempted\":%s,\"unpreempted_pct\":%.1f,"
                "\"capacity_hs_per_s\":%.0f,\"crypto_bound_hs_per_s\":%.0f,\"pct_of_crypto_bound\":%.1f,"
                "\"capacity_pct_of_crypto_bound\":%.1f}\n",
                rate, bench_cph, srv ? "true" : "false", (unsigned long long)hs,
                (unsigned long long)busy, (unsigned long long)tcp, (unsigned long long)cpu_ns, hz, cph,
                cpu_us, cpu_cph, oncpu, share, from_clean ? "true" : "false", clean_pct, cap, bound,
                bound > 0 ? 100.0 * rate / bound : 0,
                bound > 0 ? 100.0 * cap / bound : 0);
    }
}
