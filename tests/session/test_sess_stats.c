/* The session counters behind /metrics (session/stats.h): the dense index tables and their
 * names, latency buckets (bounds inclusive, as Prometheus' "le"), the single-writer updates,
 * the STATS lines they are gathered as, and what the session layer counts for a failed
 * handshake of a plaintext session (labels "none", and the plain hs_failures total too).
 * Real handshakes of every kind are counted end to end in tests/control/e2e/control_metrics.sh. */
#include "session/session.h"
#include "session/stats.h"

#include "test.h"

#include <stdlib.h>
#include <string.h>

static void test_indexes(void)
{
    static const struct {
        uint16_t id;
        const char *name;
    } suites[] = {{0x1301, "TLS_AES_128_GCM_SHA256"}, {0x1302, "TLS_AES_256_GCM_SHA384"},
                  {0x1303, "TLS_CHACHA20_POLY1305_SHA256"}, {0x1304, "TLS_AES_128_CCM_SHA256"},
                  {0x1305, "TLS_AES_128_CCM_8_SHA256"}, {0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
                  {0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
                  {0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
                  {0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}, {0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
                  {0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
                  {0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256"}, {0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384"}},
      groups[] = {{0x001d, "x25519"}, {0x0017, "secp256r1"}, {0x11ec, "x25519mlkem768"}},
      schemes[] = {{0x0403, "ecdsa_secp256r1_sha256"}, {0x0804, "rsa_pss_rsae_sha256"}, {0x0807, "ed25519"},
                   {0x0805, "rsa_pss_rsae_sha384"}, {0x0401, "rsa_pkcs1_sha256"}, {0x0501, "rsa_pkcs1_sha384"}};
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++) {
        size_t x = etls_st_suite_idx(suites[i].id);
        CHECK(x > 0 && x < ETLS_ST_SUITES && !strcmp(etls_st_suite_name(x), suites[i].name));
        /* the table's names are the engine's IANA names */
        CHECK(!strcmp(etls_st_suite_name(x), etls_tls_cipher_name(suites[i].id)));
    }
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        size_t x = etls_st_group_idx(groups[i].id);
        CHECK(x > 0 && x < ETLS_ST_GROUPS && !strcmp(etls_st_group_name(x), groups[i].name));
    }
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t x = etls_st_scheme_idx(schemes[i].id);
        CHECK(x > 0 && x < ETLS_ST_SCHEMES && !strcmp(etls_st_scheme_name(x), schemes[i].name));
    }
    /* not negotiated (0) and values this build does not name are "none" */
    CHECK(etls_st_suite_idx(0) == 0 && etls_st_suite_idx(0x1306) == 0 && etls_st_suite_idx(0xc013) == 0);
    CHECK(etls_st_group_idx(0) == 0 && etls_st_group_idx(0x001e) == 0 && etls_st_group_idx(0x0018) == 0);
    CHECK(etls_st_scheme_idx(0) == 0 && etls_st_scheme_idx(0x0503) == 0 && etls_st_scheme_idx(0x0201) == 0);
    CHECK(!strcmp(etls_st_suite_name(0), "none") && !strcmp(etls_st_group_name(0), "none"));
    CHECK(etls_st_version_idx(0x0304) == 1 && !strcmp(etls_st_version_name(1), "TLSv1.3"));
    CHECK(etls_st_version_idx(0x0303) == 2 && !strcmp(etls_st_version_name(2), "TLSv1.2"));
    CHECK(etls_st_version_idx(0x0302) == 0 && etls_st_version_idx(0) == 0);
    CHECK(!strcmp(etls_st_kind_name(ETLS_ST_FULL), "full") && !strcmp(etls_st_kind_name(ETLS_ST_RESUMED), "resumed") &&
          !strcmp(etls_st_kind_name(ETLS_ST_HRR), "hrr"));
    CHECK(!strcmp(etls_st_suite_name(99), "none")); /* out of range reads no memory past the table */
}

static void test_latency_buckets(void)
{
    CHECK(etls_st_lat_bucket(0) == 0);
    CHECK(etls_st_lat_bucket(100000) == 0); /* le: the bound itself is inside */
    CHECK(etls_st_lat_bucket(100001) == 1);
    CHECK(etls_st_lat_bucket(999999) == 3 && etls_st_lat_bucket(1000000) == 3);
    CHECK(etls_st_lat_bucket(1000000000) == ETLS_ST_LAT_BOUNDS - 1);
    CHECK(etls_st_lat_bucket(1000000001) == ETLS_ST_LAT_BOUNDS); /* +Inf */
    CHECK(etls_st_lat_bucket(UINT64_MAX) == ETLS_ST_LAT_BOUNDS);
    for (size_t i = 0; i < ETLS_ST_LAT_BOUNDS; i++) {
        /* the text Prometheus gets is the same bound */
        double s = strtod(etls_st_lat_bound_text(i), NULL);
        CHECK_MSG((uint64_t)(s * 1e9 + 0.5) == etls_st_lat_bound_ns(i), "bucket %zu: %s", i, etls_st_lat_bound_text(i));
        CHECK(i == 0 || etls_st_lat_bound_ns(i) > etls_st_lat_bound_ns(i - 1));
        CHECK(etls_st_lat_bucket(etls_st_lat_bound_ns(i)) == i);
    }
    CHECK(!strcmp(etls_st_lat_bound_text(ETLS_ST_LAT_BOUNDS), "+Inf"));
}

typedef struct text {
    char buf[65536];
    size_t len;
} text_t;

static void put(void *arg, const char *s, size_t n)
{
    text_t *t = arg;
    if (t->len + n < sizeof t->buf) {
        memcpy(t->buf + t->len, s, n);
        t->len += n;
        t->buf[t->len] = 0;
    }
}

static int has_line(const text_t *t, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = t->buf; (p = strstr(p, line)); p++)
        if ((p == t->buf || p[-1] == '\n') && p[n] == '\n')
            return 1;
    return 0;
}

static size_t count_lines(const text_t *t, const char *prefix)
{
    size_t n = 0, pl = strlen(prefix);
    for (const char *p = t->buf; *p;) {
        if (!strncmp(p, prefix, pl))
            n++;
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    return n;
}

static void test_counting_and_format(void)
{
    etls_sess_stats_t *st = calloc(1, sizeof *st), *copy = malloc(sizeof *st);
    etls_st_hs_t full = {1, (uint8_t)etls_st_suite_idx(0x1303), (uint8_t)etls_st_group_idx(0x0017),
                         (uint8_t)etls_st_scheme_idx(0x0403), ETLS_ST_FULL};
    etls_st_hs_t resumed = {1, (uint8_t)etls_st_suite_idx(0x1301), (uint8_t)etls_st_group_idx(0x001d), 0,
                            ETLS_ST_RESUMED};
    etls_st_hs_t tls12 = {(uint8_t)etls_st_version_idx(0x0303), (uint8_t)etls_st_suite_idx(0xc02f),
                          (uint8_t)etls_st_group_idx(0x001d), (uint8_t)etls_st_scheme_idx(0x0401), ETLS_ST_FULL};
    etls_st_hs_t none = {0, 0, 0, 0, ETLS_ST_FULL}, bad = {1, ETLS_ST_SUITES, 0, 0, 0};
    etls_sess_stats_hs(st, ETLS_ST_OK, &tls12);
    for (int i = 0; i < 12; i++)
        etls_sess_stats_hs(st, ETLS_ST_OK, &full);
    etls_sess_stats_hs(st, ETLS_ST_OK, &resumed);
    etls_sess_stats_hs(st, ETLS_ST_FAILED, &none);
    etls_sess_stats_hs(st, ETLS_ST_FAILED, &bad); /* out of the table: ignored */
    etls_sess_stats_hs(st, 7, &full);
    etls_sess_stats_latency(st, 50000);     /* le 0.0001 */
    etls_sess_stats_latency(st, 150000);    /* le 0.0002 */
    etls_sess_stats_latency(st, 3000000000); /* +Inf */
    etls_sess_stats_alert(st->alerts_sent, ETLS_ALERT_HANDSHAKE_FAILURE);
    etls_sess_stats_alert(st->alerts_sent, ETLS_ALERT_HANDSHAKE_FAILURE);
    etls_sess_stats_alert(st->alerts_sent, -1); /* "no alert" from the engine */
    etls_sess_stats_alert(st->alerts_sent, 256);
    etls_sess_stats_alert(st->alerts_recv, 200); /* no RFC name */
    etls_sess_stats_alert(st->alerts_recv, ETLS_ALERT_CLOSE_NOTIFY);
    CHECK(st->hs[ETLS_ST_OK][1][full.suite][full.group][full.scheme][ETLS_ST_FULL] == 12);
    CHECK(st->lat_sum_ns == 50000 + 150000 + 3000000000ull);
    etls_sess_stats_read(st, copy);
    CHECK(memcmp(st, copy, sizeof *st) == 0);

    text_t *t = calloc(1, sizeof *t);
    size_t n = etls_sess_stats_format(copy, 3, put, t);
    CHECK(n == t->len && n > 0);
    CHECK(has_line(t, "worker.3.hs:ok:TLSv1.3:TLS_CHACHA20_POLY1305_SHA256:secp256r1:ecdsa_secp256r1_sha256:full 12"));
    CHECK(has_line(t, "worker.3.hs:ok:TLSv1.3:TLS_AES_128_GCM_SHA256:x25519:none:resumed 1"));
    CHECK(has_line(t, "worker.3.hs:failed:none:none:none:none:full 1"));
    CHECK(has_line(t, "worker.3.hs:ok:TLSv1.2:TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:x25519:rsa_pkcs1_sha256:full 1"));
    CHECK(count_lines(t, "worker.3.hs:") == 4); /* zero counters are not sent */
    CHECK(has_line(t, "worker.3.hs_seconds_bucket:0.0001 1"));
    CHECK(has_line(t, "worker.3.hs_seconds_bucket:0.0002 2")); /* cumulative */
    CHECK(has_line(t, "worker.3.hs_seconds_bucket:1 2"));
    CHECK(has_line(t, "worker.3.hs_seconds_bucket:+Inf 3"));
    CHECK(count_lines(t, "worker.3.hs_seconds_bucket:") == ETLS_ST_LAT_BOUNDS + 1);
    CHECK(has_line(t, "worker.3.hs_seconds_count 3"));
    CHECK(has_line(t, "worker.3.hs_seconds_sum_ns 3000200000"));
    CHECK(has_line(t, "worker.3.alert_sent:handshake_failure 2"));
    CHECK(count_lines(t, "worker.3.alert_sent:") == 1);
    CHECK(has_line(t, "worker.3.alert_recv:alert_200 1"));
    CHECK(has_line(t, "worker.3.alert_recv:close_notify 1"));
    /* every line is "key value" with a key of at most 127 characters (edgetlsctl stats reads
     * "%127s %llu") */
    for (const char *p = t->buf; *p;) {
        const char *nl = strchr(p, '\n'), *sp = strchr(p, ' ');
        CHECK(nl && sp && sp < nl && sp - p <= 127 && strspn(sp + 1, "0123456789") == (size_t)(nl - sp - 1));
        if (!nl)
            break;
        p = nl + 1;
    }
    free(t);
    free(st);
    free(copy);
}

/* A plaintext session the transport gives up on during the "handshake": the plain total and
 * the labelled table both count it, with every label "none"; no clock is started for it. */
static void test_session_failure(void)
{
    static uint8_t mem[4][4096];
    uint64_t handshakes = 0, hs_failures = 0, errors = 0, requests = 0;
    etls_sess_stats_t *st = calloc(1, sizeof *st);
    etls_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.mode = ETLS_MODE_ECHO;
    cfg.max_header_size = 1024;
    etls_sess_ctx_t x;
    etls_sess_ctx_init(&x, &cfg, NULL, NULL, NULL, "test");
    CHECK(x.stats == NULL); /* counters are the transport's to attach */
    x.handshakes = &handshakes;
    x.hs_failures = &hs_failures;
    x.errors = &errors;
    x.requests = &requests;
    x.stats = st;
    etls_sess_t *s = calloc(1, sizeof *s);
    etls_tls_buf_t *b[4] = {&s->rx, &s->out, &s->app, &s->bk};
    for (int i = 0; i < 4; i++) {
        b[i]->base = mem[i];
        b[i]->cap = sizeof mem[i];
    }
    etls_sess_start(s, &x, 1);
    memcpy(s->rx.base, "hello", 5);
    s->rx.len = 5;
    etls_sess_input(s, &x);
    CHECK(s->hs_done && s->hs_start_ns == 0 && handshakes == 0); /* plaintext: not a TLS handshake */
    etls_sess_hs_failed(s, &x);
    CHECK(hs_failures == 1);
    CHECK(st->hs[ETLS_ST_FAILED][0][0][0][0][ETLS_ST_FULL] == 1);
    uint64_t lat = 0;
    for (size_t i = 0; i <= ETLS_ST_LAT_BOUNDS; i++)
        lat += st->lat[i];
    CHECK(lat == 0);
    etls_sess_end(s);
    free(s);
    free(st);
}

int main(void)
{
    test_indexes();
    test_latency_buckets();
    test_counting_and_format();
    test_session_failure();
    return etls_test_summary("sess_stats");
}
