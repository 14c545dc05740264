/* /metrics in the Prometheus text format (exposition format 0.0.4) on --metrics-listen ADDR:PORT.
 * A scrape asks every attached dataplane for its counters (the same STATS exchange as
 * `edgetlsctl stats`), waits up to CD_STATS_WAIT_MS for the answers, and renders them per
 * dataplane pid and worker. HTTP/1.0-style: one GET per connection, bounded request, deadline. */
#include "daemon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQ_MAX 4096

/* Worker counters from the dataplanes' STATS lines ("worker.N.KEY[:V1:V2..] VALUE", see
 * docs/control-protocol.md): each family is one metric with its HELP and TYPE, made of series
 * whose wire key is KEY and whose ':'-separated values become the labels named in `labels`.
 * The dataplane's "handshakes" and "hs_failures" totals are not rendered: the labelled "hs"
 * lines are the same handshakes (their sum per outcome equals those totals). */
typedef struct series {
    const char *key;    /* wire key up to the first ':' */
    const char *sample; /* sample name; NULL: the family's name */
    const char *labels; /* names of the ':' values, comma-separated; NULL: none */
    int ns;             /* the value counts nanoseconds: rendered in seconds */
} series_t;

static const struct family {
    const char *name, *type, *help;
    series_t s[3];
} families[] = {
    {"edgetls_handshakes_total", "counter",
     "TLS handshakes by outcome, protocol version, suite, group, signature scheme and kind (full, resumed, hrr).",
     {{"hs", NULL, "outcome,version,suite,group,scheme,kind", 0}}},
    {"edgetls_handshake_duration_seconds", "histogram",
     "Completed handshakes by time from the first ClientHello byte to the handshake's end.",
     {{"hs_seconds_bucket", "edgetls_handshake_duration_seconds_bucket", "le", 0},
      {"hs_seconds_sum_ns", "edgetls_handshake_duration_seconds_sum", NULL, 1},
      {"hs_seconds_count", "edgetls_handshake_duration_seconds_count", NULL, 0}}},
    {"edgetls_alerts_sent_total", "counter", "TLS alerts sent (close_notify included), by description.",
     {{"alert_sent", NULL, "description", 0}}},
    {"edgetls_alerts_received_total", "counter", "TLS alerts received (close_notify included), by description.",
     {{"alert_recv", NULL, "description", 0}}},
    {"edgetls_connections_accepted_total", "counter", "Connections accepted.", {{"accepted", NULL, NULL, 0}}},
    {"edgetls_connections_active", "gauge", "Connections open now.", {{"active", NULL, NULL, 0}}},
    {"edgetls_connections_rejected_total", "counter", "Connections refused: connection table full.",
     {{"rejected", NULL, NULL, 0}}},
    {"edgetls_timeouts_total", "counter", "Handshake or idle timeouts.", {{"timeouts", NULL, NULL, 0}}},
    {"edgetls_bytes_received_total", "counter", "TLS bytes received from clients.", {{"bytes_in", NULL, NULL, 0}}},
    {"edgetls_bytes_sent_total", "counter", "TLS bytes sent to clients.", {{"bytes_out", NULL, NULL, 0}}},
    {"edgetls_http_requests_total", "counter", "HTTP requests answered by the responder.",
     {{"requests", NULL, NULL, 0}}},
    {"edgetls_connection_errors_total", "counter", "Connections closed on an error.", {{"errors", NULL, NULL, 0}}},
    {"edgetls_client_resets_total", "counter", "Clients gone without a goodbye.", {{"resets", NULL, NULL, 0}}},
    {"edgetls_crypto_batch_runs_total", "counter", "Crypto batch runs at the end of a poll iteration that did work.",
     {{"crypto_runs", NULL, NULL, 0}}},
    {"edgetls_crypto_batch_fill", "histogram",
     "Crypto requests per batch run (every run, also those forced by a full queue).",
     {{"batch_fill_bucket", "edgetls_crypto_batch_fill_bucket", "le", 0},
      {"batch_fill_sum", "edgetls_crypto_batch_fill_sum", NULL, 0},
      {"batch_fill_count", "edgetls_crypto_batch_fill_count", NULL, 0}}},
};
#define N_FAMILIES (sizeof families / sizeof families[0])
#define MAX_LABELS 8
#define MAX_VALUE 64

int cd_metrics_listen(cd_t *d, const char *spec, char *err, size_t errlen)
{
    char host[64];
    const char *colon = strrchr(spec, ':');
    unsigned long port = colon ? strtoul(colon + 1, NULL, 10) : 0;
    size_t hl = colon ? (size_t)(colon - spec) : 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (!colon || hl >= sizeof host || !port || port > 65535) {
        snprintf(err, errlen, "--metrics-listen %s: expected ADDRESS:PORT (e.g. 127.0.0.1:9469)", spec);
        return -1;
    }
    memcpy(host, spec, hl);
    host[hl] = 0;
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "--metrics-listen %s: not an IPv4 address", spec);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 64) < 0) {
        snprintf(err, errlen, "--metrics-listen %s: %s", spec, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    d->metrics_lfd = fd;
    return 0;
}

static void mclose(cd_metrics_client_t *m)
{
    close(m->fd);
    m->fd = -1;
    cd_buf_free(&m->out);
}

void cd_metrics_accept(cd_t *d)
{
    int fd = accept4(d->metrics_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    for (int i = 0; i < CD_MAX_METRICS; i++) {
        cd_metrics_client_t *m = &d->metrics[i];
        if (m->fd >= 0)
            continue;
        memset(m, 0, sizeof *m);
        m->fd = fd;
        m->deadline = cd_now_ms() + 5000;
        return;
    }
    close(fd); /* too many scrapers at once */
}

static void respond(cd_metrics_client_t *m, const char *status, const char *type, const char *body, size_t len)
{
    char hdr[256];
    int h = snprintf(hdr, sizeof hdr, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                     status, type, len);
    cd_buf_put(&m->out, hdr, (size_t)h);
    cd_buf_put(&m->out, body, len);
    m->done = 1;
    if (cd_buf_flush(&m->out, m->fd) < 0 || m->out.off == m->out.len)
        mclose(m);
}

typedef struct mtext {
    char *p;
    size_t len, cap;
} mtext_t;

__attribute__((format(printf, 2, 3))) static void mp(mtext_t *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8192;
        while (cap < t->len + (size_t)n + 1)
            cap *= 2;
        char *q = realloc(t->p, cap);
        if (!q)
            return;
        t->p = q;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/* A label value from a dataplane: names and numbers only, so nothing it sends can break the
 * exposition format (no quotes, backslashes, braces or newlines). */
static int value_ok(const char *v, size_t n)
{
    if (!n || n > MAX_VALUE)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '+' || c == '-'))
            return 0;
    }
    return 1;
}

/* "worker.N.KEY[:V1:..] VALUE" of series `se` -> `{pid,worker,labels}` appended to lbl;
 * 0 when the line is another series or malformed. */
static int parse_line(const char *line, const series_t *se, unsigned *w, char *lbl, size_t cap,
                      unsigned long long *v)
{
    int at = 0;
    if (sscanf(line, "worker.%u.%n", w, &at) != 1 || !at)
        return 0;
    const char *k = line + at, *sp = strchr(k, ' ');
    size_t kl = strlen(se->key);
    if (!sp || strncmp(k, se->key, kl) != 0 || (k[kl] != ' ' && k[kl] != ':'))
        return 0;
    char *end;
    errno = 0;
    *v = strtoull(sp + 1, &end, 10);
    if (errno || end == sp + 1 || *end || sp[1] == '-')
        return 0;
    size_t len = 0;
    const char *val = k + kl, *name = se->labels;
    while (name && *name) {
        if (*val != ':')
            return 0;
        val++;
        const char *ve = val;
        while (ve < sp && *ve != ':')
            ve++;
        const char *ne = strchr(name, ',');
        size_t nl = ne ? (size_t)(ne - name) : strlen(name);
        if (!value_ok(val, (size_t)(ve - val)))
            return 0;
        int n = snprintf(lbl + len, cap - len, ",%.*s=\"%.*s\"", (int)nl, name, (int)(ve - val), val);
        if (n < 0 || (size_t)n >= cap - len)
            return 0;
        len += (size_t)n;
        val = ve;
        name = ne ? ne + 1 : name + nl;
    }
    return val == sp; /* every value named, none left over */
}

/* One series' samples in one dataplane's answer. */
static void render_series(const cd_dp_t *p, const struct family *f, const series_t *se, mtext_t *t)
{
    const char *s = p->stats;
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t l = nl ? (size_t)(nl - s) : strlen(s);
        char line[256], lbl[MAX_LABELS * (MAX_VALUE + 16)];
        unsigned w;
        unsigned long long v;
        if (l < sizeof line) {
            memcpy(line, s, l);
            line[l] = 0;
            lbl[0] = 0;
            if (parse_line(line, se, &w, lbl, sizeof lbl, &v)) {
                const char *name = se->sample ? se->sample : f->name;
                if (se->ns)
                    mp(t, "%s{pid=\"%d\",worker=\"%u\"%s} %llu.%09llu\n", name, (int)p->pid, w, lbl,
                       v / 1000000000ull, v % 1000000000ull);
                else
                    mp(t, "%s{pid=\"%d\",worker=\"%u\"%s} %llu\n", name, (int)p->pid, w, lbl, v);
            }
        }
        s += l + (nl ? 1 : 0);
    }
}

/* One family over every dataplane's answer, grouped by dataplane so that a histogram's
 * buckets, sum and count of one dataplane stay together. */
static void render_family(const cd_t *d, const struct family *f, mtext_t *t)
{
    mp(t, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->type);
    for (int i = 0; i < CD_MAX_DP; i++) {
        const cd_dp_t *p = &d->dps[i];
        if (p->fd < 0 || !p->hello || !p->stats)
            continue;
        for (size_t k = 0; k < sizeof f->s / sizeof f->s[0] && f->s[k].key; k++)
            render_series(p, f, &f->s[k], t);
    }
}

static void render(const cd_t *d, mtext_t *t)
{
    mp(t, "# HELP edgetls_control_version The committed state version.\n# TYPE edgetls_control_version gauge\n");
    mp(t, "edgetls_control_version %llu\n", (unsigned long long)d->cur.version);
    mp(t, "# HELP edgetls_control_entries Certificate entries in the current version.\n"
          "# TYPE edgetls_control_entries gauge\nedgetls_control_entries %zu\n", d->cur.n_entries);
    mp(t, "# HELP edgetls_dataplane_version The version each attached dataplane acknowledged.\n"
          "# TYPE edgetls_dataplane_version gauge\n");
    for (int i = 0; i < CD_MAX_DP; i++)
        if (d->dps[i].fd >= 0 && d->dps[i].hello)
            mp(t, "edgetls_dataplane_version{pid=\"%d\"} %llu\n", (int)d->dps[i].pid,
               (unsigned long long)d->dps[i].version);
    for (size_t f = 0; f < N_FAMILIES; f++)
        render_family(d, &families[f], t);
}

static void serve_scrape(cd_t *d, cd_metrics_client_t *m)
{
    mtext_t t = {0};
    render(d, &t);
    respond(m, "200 OK", "text/plain; version=0.0.4; charset=utf-8", t.p ? t.p : "", t.len);
    free(t.p);
}

static void on_request(cd_t *d, cd_metrics_client_t *m)
{
    char path[256];
    if (sscanf(m->req, "GET %255s HTTP/1.", path) != 1) {
        respond(m, "400 Bad Request", "text/plain", "bad request\n", 12);
        return;
    }
    if (strcmp(path, "/metrics") != 0) {
        respond(m, "404 Not Found", "text/plain", "try /metrics\n", 13);
        return;
    }
    m->stats_id = ++d->next_stats_id ? d->next_stats_id : ++d->next_stats_id;
    m->stats_deadline = cd_now_ms() + CD_STATS_WAIT_MS;
    cd_dp_stats_request(d, m->stats_id);
}

void cd_metrics_io(cd_t *d, cd_metrics_client_t *m, short revents)
{
    if (m->done) {
        if (cd_buf_flush(&m->out, m->fd) < 0 || m->out.off == m->out.len)
            mclose(m);
        return;
    }
    if (!(revents & (POLLIN | POLLHUP | POLLERR)) || m->stats_id)
        return;
    ssize_t n = recv(m->fd, m->req + m->len, sizeof m->req - 1 - m->len, MSG_DONTWAIT);
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            mclose(m);
        return;
    }
    m->len += (size_t)n;
    m->req[m->len] = 0;
    if (strstr(m->req, "\r\n\r\n") || strstr(m->req, "\n\n"))
        on_request(d, m);
    else if (m->len >= sizeof m->req - 1)
        respond(m, "431 Request Header Fields Too Large", "text/plain", "request too large\n", 18);
}

void cd_metrics_tick(cd_t *d, uint64_t now)
{
    for (int i = 0; i < CD_MAX_METRICS; i++) {
        cd_metrics_client_t *m = &d->metrics[i];
        if (m->fd < 0)
            continue;
        if (m->stats_id && (now >= m->stats_deadline || cd_dp_stats_ready(d, m->stats_id))) {
            m->stats_id = 0;
            serve_scrape(d, m);
        } else if (!m->done && !m->stats_id && now >= m->deadline) {
            mclose(m);
        }
    }
}
