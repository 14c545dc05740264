/* Per-worker session counters (stats.h): index tables, the single-writer updates and the STATS
 * text they are gathered as. */
#include "session/stats.h"

#include "tls/tls.h"

#include <stdarg.h>
#include <stdio.h>

/* Index 0 of every table is "none". The ids are the wire values (RFC 8446 §4.2.3, §4.2.7, §B.4;
 * RFC 5289 and RFC 7905 for the TLS 1.2 suites). */
static const uint16_t suite_ids[ETLS_ST_SUITES] = {
    0, ETLS_TLS_AES_128_GCM_SHA256, ETLS_TLS_AES_256_GCM_SHA384, ETLS_TLS_CHACHA20_POLY1305_SHA256,
    ETLS_TLS_AES_128_CCM_SHA256, ETLS_TLS_AES_128_CCM_8_SHA256,
    ETLS_TLS_ECDHE_ECDSA_AES_128_GCM_SHA256, ETLS_TLS_ECDHE_ECDSA_AES_256_GCM_SHA384,
    ETLS_TLS_ECDHE_ECDSA_CHACHA20_POLY1305_SHA256, ETLS_TLS_ECDHE_RSA_AES_128_GCM_SHA256,
    ETLS_TLS_ECDHE_RSA_AES_256_GCM_SHA384, ETLS_TLS_ECDHE_RSA_CHACHA20_POLY1305_SHA256,
    ETLS_TLS_RSA_AES_128_GCM_SHA256, ETLS_TLS_RSA_AES_256_GCM_SHA384,
};
static const char *const suite_names[ETLS_ST_SUITES] = {
    "none", "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_256_GCM_SHA384",
};
static const uint16_t group_ids[ETLS_ST_GROUPS] = {0, ETLS_TLS_GROUP_X25519, ETLS_TLS_GROUP_SECP256R1,
                                                   ETLS_TLS_GROUP_X25519MLKEM768};
static const char *const group_names[ETLS_ST_GROUPS] = {"none", "x25519", "secp256r1", "x25519mlkem768"};
static const uint16_t scheme_ids[ETLS_ST_SCHEMES] = {0, 0x0403, 0x0804, 0x0807, 0x0805, 0x0401, 0x0501};
static const char *const scheme_names[ETLS_ST_SCHEMES] = {
    "none", "ecdsa_secp256r1_sha256", "rsa_pss_rsae_sha256", "ed25519",
    "rsa_pss_rsae_sha384", "rsa_pkcs1_sha256", "rsa_pkcs1_sha384",
};
/* TLS 1.2 after TLS 1.3 so that the 1.3 indexes (and STATS lines) stay what they were. */
static const char *const version_names[ETLS_ST_VERSIONS] = {"none", "TLSv1.3", "TLSv1.2"};
static const char *const kind_names[ETLS_ST_KINDS] = {"full", "resumed", "hrr"};
static const char *const outcome_names[ETLS_ST_OUTCOMES] = {"ok", "failed"};

static const uint64_t lat_ns[ETLS_ST_LAT_BOUNDS] = {
    100000,    200000,    500000,    1000000,   2000000,   5000000,   10000000,
    20000000,  50000000,  100000000, 200000000, 500000000, 1000000000,
};
static const char *const lat_text[ETLS_ST_LAT_BOUNDS + 1] = {
    "0.0001", "0.0002", "0.0005", "0.001", "0.002", "0.005", "0.01",
    "0.02",   "0.05",   "0.1",    "0.2",   "0.5",   "1",     "+Inf",
};

static size_t find(const uint16_t *ids, size_t n, uint16_t id)
{
    for (size_t i = 1; i < n; i++)
        if (ids[i] == id)
            return i;
    return 0;
}

size_t etls_st_version_idx(uint16_t version)
{
    return version == ETLS_TLS_VERSION_13 ? 1 : version == ETLS_TLS_VERSION_12 ? 2 : 0;
}

size_t etls_st_suite_idx(uint16_t suite)
{
    return find(suite_ids, ETLS_ST_SUITES, suite);
}

size_t etls_st_group_idx(uint16_t group)
{
    return find(group_ids, ETLS_ST_GROUPS, group);
}

size_t etls_st_scheme_idx(uint16_t scheme)
{
    return find(scheme_ids, ETLS_ST_SCHEMES, scheme);
}

#define NAME(table, n, i) ((i) < (n) ? (table)[i] : "none")
const char *etls_st_version_name(size_t i) { return NAME(version_names, ETLS_ST_VERSIONS, i); }
const char *etls_st_suite_name(size_t i) { return NAME(suite_names, ETLS_ST_SUITES, i); }
const char *etls_st_group_name(size_t i) { return NAME(group_names, ETLS_ST_GROUPS, i); }
const char *etls_st_scheme_name(size_t i) { return NAME(scheme_names, ETLS_ST_SCHEMES, i); }
const char *etls_st_kind_name(size_t i) { return NAME(kind_names, ETLS_ST_KINDS, i); }

size_t etls_st_lat_bucket(uint64_t ns)
{
    size_t i = 0;
    while (i < ETLS_ST_LAT_BOUNDS && ns > lat_ns[i])
        i++;
    return i;
}

uint64_t etls_st_lat_bound_ns(size_t i)
{
    return i < ETLS_ST_LAT_BOUNDS ? lat_ns[i] : UINT64_MAX;
}

const char *etls_st_lat_bound_text(size_t i)
{
    return i <= ETLS_ST_LAT_BOUNDS ? lat_text[i] : "+Inf";
}

/* The single writer's increment: a relaxed store, so a concurrent reader sees either value. */
static inline void bump(uint64_t *c, uint64_t n)
{
    __atomic_store_n(c, *c + n, __ATOMIC_RELAXED);
}

void etls_sess_stats_hs(etls_sess_stats_t *st, int outcome, const etls_st_hs_t *h)
{
    if (outcome < 0 || outcome >= ETLS_ST_OUTCOMES || h->version >= ETLS_ST_VERSIONS || h->suite >= ETLS_ST_SUITES ||
        h->group >= ETLS_ST_GROUPS || h->scheme >= ETLS_ST_SCHEMES || h->kind >= ETLS_ST_KINDS)
        return;
    bump(&st->hs[outcome][h->version][h->suite][h->group][h->scheme][h->kind], 1);
}

void etls_sess_stats_latency(etls_sess_stats_t *st, uint64_t ns)
{
    bump(&st->lat[etls_st_lat_bucket(ns)], 1);
    bump(&st->lat_sum_ns, ns);
}

void etls_sess_stats_alert(uint64_t *table, int desc)
{
    if (desc >= 0 && desc < 256)
        bump(&table[desc], 1);
}

void etls_sess_stats_read(const etls_sess_stats_t *src, etls_sess_stats_t *dst)
{
    const uint64_t *s = (const uint64_t *)src;
    uint64_t *d = (uint64_t *)dst;
    for (size_t i = 0; i < sizeof *src / sizeof(uint64_t); i++)
        d[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
}

typedef struct out {
    etls_st_put_fn *put;
    void *arg;
    size_t n;
} out_t;

__attribute__((format(printf, 2, 3))) static void line(out_t *o, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof buf) {
        o->put(o->arg, buf, (size_t)n);
        o->n += (size_t)n;
    }
}

static void format_hs(const etls_sess_stats_t *st, unsigned w, out_t *o)
{
    for (size_t oc = 0; oc < ETLS_ST_OUTCOMES; oc++)
        for (size_t v = 0; v < ETLS_ST_VERSIONS; v++)
            for (size_t s = 0; s < ETLS_ST_SUITES; s++)
                for (size_t g = 0; g < ETLS_ST_GROUPS; g++)
                    for (size_t sc = 0; sc < ETLS_ST_SCHEMES; sc++)
                        for (size_t k = 0; k < ETLS_ST_KINDS; k++) {
                            uint64_t n = st->hs[oc][v][s][g][sc][k];
                            if (n)
                                line(o, "worker.%u.hs:%s:%s:%s:%s:%s:%s %llu\n", w, outcome_names[oc],
                                     version_names[v], suite_names[s], group_names[g], scheme_names[sc],
                                     kind_names[k], (unsigned long long)n);
                        }
}

static void format_alerts(const uint64_t *table, const char *key, unsigned w, out_t *o)
{
    for (int d = 0; d < 256; d++) {
        if (!table[d])
            continue;
        const char *name = etls_tls_alert_name(d);
        if (name)
            line(o, "worker.%u.%s:%s %llu\n", w, key, name, (unsigned long long)table[d]);
        else
            line(o, "worker.%u.%s:alert_%d %llu\n", w, key, d, (unsigned long long)table[d]);
    }
}

size_t etls_sess_stats_format(const etls_sess_stats_t *st, unsigned w, etls_st_put_fn *put, void *arg)
{
    out_t o = {put, arg, 0};
    format_hs(st, w, &o);
    uint64_t cum = 0;
    for (size_t i = 0; i <= ETLS_ST_LAT_BOUNDS; i++) {
        cum += st->lat[i];
        line(&o, "worker.%u.hs_seconds_bucket:%s %llu\n", w, lat_text[i], (unsigned long long)cum);
    }
    line(&o, "worker.%u.hs_seconds_sum_ns %llu\nworker.%u.hs_seconds_count %llu\n", w,
         (unsigned long long)st->lat_sum_ns, w, (unsigned long long)cum);
    format_alerts(st->alerts_sent, "alert_sent", w, &o);
    format_alerts(st->alerts_recv, "alert_recv", w, &o);
    return o.n;
}
