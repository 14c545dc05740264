/* Seeded fault injection on the data path (the --fault transport option, dpdk.h): a test tool
 * that makes the link lossy on purpose so the TCP and TLS recovery paths run under a real
 * transfer. Each worker has one PRNG stream per direction seeded from seed + lcore, so a run
 * is reproducible given the same packet sequence; the faults act only on IPv4 TCP frames
 * (ARP and ICMP pass untouched: a test measures TCP's recovery, not ARP retry timers). */
#include "dpdk/dp.h"

#include "common/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAULT_SPEC_MAX 256

/* splitmix64: every seed (0 and neighbouring seeds included) gives an independent stream. */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A disabled fault draws nothing, so enabling one fault leaves the others' decisions alone. */
static int hit(uint64_t *s, uint64_t threshold)
{
    return threshold && (next_u64(s) >> 32) < threshold;
}

static int parse_prob(const char *v, double *p, uint64_t *threshold)
{
    char *end;
    double x = strtod(v, &end);
    ETLS_ENSURE(end != v && !*end && x >= 0.0 && x <= 1.0, ETLS_ERR_INVALID); /* NaN fails too */
    *p = x;
    *threshold = (uint64_t)(x * 4294967296.0);
    return 0;
}

static int parse_item(dp_fault_cfg_t *f, const char *k, const char *v)
{
    if (!strcmp(k, "loss"))
        return parse_prob(v, &f->p[DP_FAULT_LOSS], &f->thr[DP_FAULT_LOSS]);
    if (!strcmp(k, "reorder"))
        return parse_prob(v, &f->p[DP_FAULT_REORDER], &f->thr[DP_FAULT_REORDER]);
    if (!strcmp(k, "dup"))
        return parse_prob(v, &f->p[DP_FAULT_DUP], &f->thr[DP_FAULT_DUP]);
    if (!strcmp(k, "corrupt"))
        return parse_prob(v, &f->p[DP_FAULT_CORRUPT], &f->thr[DP_FAULT_CORRUPT]);
    if (!strcmp(k, "seed")) {
        char *end;
        ETLS_ENSURE(v[0] >= '0' && v[0] <= '9', ETLS_ERR_INVALID);
        errno = 0;
        f->seed = strtoull(v, &end, 10);
        return *end || errno ? ETLS_ERR_INVALID : 0;
    }
    if (!strcmp(k, "dir")) {
        f->rx = !strcmp(v, "rx") || !strcmp(v, "both");
        f->tx = !strcmp(v, "tx") || !strcmp(v, "both");
        return f->rx || f->tx ? 0 : ETLS_ERR_INVALID;
    }
    return ETLS_ERR_INVALID;
}

int dp_fault_parse(dp_fault_cfg_t *f, const char *spec, char *err, size_t errlen)
{
    char buf[FAULT_SPEC_MAX], *save = NULL;
    memset(f, 0, sizeof *f);
    f->rx = f->tx = 1;
    f->seed = 1;
    if (strlen(spec) >= sizeof buf) {
        snprintf(err, errlen, "dpdk option --fault: longer than %d characters", FAULT_SPEC_MAX - 1);
        return ETLS_ERR_INVALID;
    }
    strcpy(buf, spec);
    for (char *it = strtok_r(buf, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(it, '=');
        if (eq)
            *eq = 0;
        if (!eq || parse_item(f, it, eq + 1) < 0) {
            snprintf(err, errlen, "dpdk option --fault %s: bad item '%s%s%s' (want loss=P, "
                     "reorder=P, dup=P, corrupt=P with P a fraction 0..1, seed=N, dir=rx|tx|both)",
                     spec, it, eq ? "=" : "", eq ? eq + 1 : "");
            return ETLS_ERR_INVALID;
        }
    }
    for (int i = 0; i < DP_FAULT_KINDS; i++)
        f->enabled |= f->thr[i] != 0;
    if (!f->enabled) {
        snprintf(err, errlen, "dpdk option --fault %s: no fault enabled (give loss, reorder, dup "
                 "or corrupt > 0)", spec);
        return ETLS_ERR_INVALID;
    }
    return 0;
}

void dp_fault_init(dp_worker_t *w)
{
    const dp_fault_cfg_t *f = &w->opts->fault;
    memset(&w->frx, 0, sizeof w->frx);
    memset(&w->ftx, 0, sizeof w->ftx);
    w->frx.on = f->enabled && f->rx;
    w->ftx.on = f->enabled && f->tx;
    w->frx.s = f->seed + w->lcore;
    w->ftx.s = next_u64(&w->frx.s); /* a second stream, still a function of seed + lcore */
    w->frx.s = f->seed + w->lcore;
}

void dp_fault_fini(dp_worker_t *w)
{
    rte_pktmbuf_free(w->frx.held); /* NULL-safe */
    rte_pktmbuf_free(w->ftx.held);
    w->frx.held = w->ftx.held = NULL;
}

/* The TCP segment of an IPv4 TCP frame: its offset (0 when the frame is not one) and length. */
static size_t tcp_span(const struct rte_mbuf *m, size_t *len)
{
    const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *), *ip = f + ETLS_NET_ETH_HLEN;
    if (m->nb_segs != 1 || m->data_len < ETLS_NET_TCP_OVERHEAD + ETLS_NET_TCP_HLEN ||
        etls_net_get16(f + 12) != ETLS_NET_ETHERTYPE_IPV4 || ip[9] != ETLS_NET_PROTO_TCP)
        return 0;
    size_t ihl = (size_t)(ip[0] & 0xf) * 4, tot = etls_net_get16(ip + 2);
    if (ihl < ETLS_NET_IPV4_HLEN || tot < ihl + ETLS_NET_TCP_HLEN ||
        ETLS_NET_ETH_HLEN + tot > m->data_len)
        return 0;
    *len = tot - ihl;
    return ETLS_NET_ETH_HLEN + ihl;
}

/* One bit of the TCP header or payload: the TCP checksum always catches a single flipped bit.
 * The NIC vouched for the bytes before we changed them, so its verdict is dropped and the net
 * layer checks in software (and counts the drop in drop_tcp_csum). On TX the checksum is
 * already final here: port.c turns TX checksum offload off when TX corruption is on. */
static void corrupt(dp_fault_dir_t *d, struct rte_mbuf *m, size_t off, size_t len)
{
    uint64_t bit = next_u64(&d->s) % (len * 8);
    uint8_t *p = rte_pktmbuf_mtod_offset(m, uint8_t *, off + bit / 8);
    *p ^= (uint8_t)(1u << (bit % 8));
    m->ol_flags &= ~(RTE_MBUF_F_RX_IP_CKSUM_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK);
}

/* Decides m's fate; writes what goes on now to out (at most 2) and returns how many. */
static unsigned fault_one(dp_worker_t *w, dp_fault_dir_t *d, struct rte_mbuf *m, int can_hold,
                          struct rte_mbuf **out)
{
    const uint64_t *thr = w->opts->fault.thr;
    size_t len = 0, off = tcp_span(m, &len);
    if (!off) {
        out[0] = m;
        return 1;
    }
    if (hit(&d->s, thr[DP_FAULT_LOSS])) {
        DP_STAT_ADD(w, fault_loss, 1);
        rte_pktmbuf_free(m);
        return 0;
    }
    if (hit(&d->s, thr[DP_FAULT_CORRUPT])) {
        corrupt(d, m, off, len);
        DP_STAT_ADD(w, fault_corrupt, 1);
    }
    unsigned k = 0;
    if (hit(&d->s, thr[DP_FAULT_DUP])) {
        struct rte_mbuf *c = rte_pktmbuf_copy(m, w->pool, 0, UINT32_MAX);
        if (c) {
            out[k++] = c;
            DP_STAT_ADD(w, fault_dup, 1);
        } else {
            DP_STAT_ADD(w, nombuf, 1);
        }
    }
    if (can_hold && hit(&d->s, thr[DP_FAULT_REORDER])) {
        d->held = m;
        d->held_us = w->now_us;
        DP_STAT_ADD(w, fault_reorder, 1);
        return k;
    }
    out[k++] = m;
    return k;
}

unsigned dp_fault_apply(dp_worker_t *w, dp_fault_dir_t *d, struct rte_mbuf **in, unsigned n,
                        struct rte_mbuf **out)
{
    unsigned k = 0;
    if (!n && d->held && w->now_us - d->held_us >= DP_FAULT_HOLD_US) {
        out[k++] = d->held; /* idle: nothing came to overtake it */
        d->held = NULL;
    }
    for (unsigned i = 0; i < n; i++) {
        /* A held frame goes out right after the next one; while one is held nothing else is,
         * so at most one frame is ever held per direction. */
        struct rte_mbuf *prev = d->held;
        d->held = NULL;
        k += fault_one(w, d, in[i], prev == NULL, out + k);
        if (prev)
            out[k++] = prev;
    }
    return k;
}

void dp_fault_print(const dp_fault_cfg_t *f)
{
    if (!f->enabled)
        return;
    fprintf(stderr, "edgetls: dpdk: fault injection (testing only): loss %g reorder %g dup %g "
                    "corrupt %g seed %llu dir %s\n",
            f->p[DP_FAULT_LOSS], f->p[DP_FAULT_REORDER], f->p[DP_FAULT_DUP],
            f->p[DP_FAULT_CORRUPT], (unsigned long long)f->seed,
            f->rx && f->tx ? "both" : f->rx ? "rx" : "tx");
}
