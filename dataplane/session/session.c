/* The session between a transport and a mode (session.h): the engine calls with their parking
 * and buffer rules, the modes' plaintext sources and sinks, and when a session ends. */
#include "session/session.h"

#include "common/stop.h"

#include "common/ct.h"
#include "common/err.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static inline void count(uint64_t *c, uint64_t n)
{
    if (c)
        __atomic_store_n(c, *c + n, __ATOMIC_RELAXED);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* What the engine knows about this handshake, as stats indexes; all "none" for plaintext. A
 * resumed handshake signs nothing (the PSK authenticates, RFC 8446 §2.2): its scheme is none. */
static void hs_facts(const etls_sess_t *s, etls_st_hs_t *h)
{
    memset(h, 0, sizeof *h);
    if (!s->tls)
        return;
    const etls_tls_conn_t *c = &s->tc;
    h->version = (uint8_t)etls_st_version_idx(etls_tls_version(c));
    h->suite = (uint8_t)etls_st_suite_idx(etls_tls_cipher(c));
    h->group = (uint8_t)etls_st_group_idx(etls_tls_group(c));
    h->scheme = (uint8_t)(etls_tls_resumed(c) ? 0 : etls_st_scheme_idx(etls_tls_sig_scheme(c)));
    h->kind = etls_tls_hrr(c) ? ETLS_ST_HRR : etls_tls_resumed(c) ? ETLS_ST_RESUMED : ETLS_ST_FULL;
}

static void count_hs(const etls_sess_t *s, const etls_sess_ctx_t *x, int outcome)
{
    count(outcome == ETLS_ST_OK ? x->handshakes : x->hs_failures, 1);
    etls_st_hs_t h;
    hs_facts(s, &h);
    /* what was negotiated, for operators (and the interop tests: the group a browser got) */
    if (outcome == ETLS_ST_OK && s->tls &&
        etls_log_level_now(x->debug ? ETLS_LOG_DEBUG : ETLS_LOG_WARN) >= ETLS_LOG_DEBUG)
        fprintf(stderr, "edgetls: %s: handshake done: %s %s group %s %s\n", x->name,
                etls_tls_version(&s->tc) == ETLS_TLS_VERSION_12 ? "TLSv1.2" : "TLSv1.3",
                etls_tls_cipher_name(etls_tls_cipher(&s->tc)), etls_st_group_name(h.group),
                etls_st_kind_name(h.kind));
    if (!x->stats)
        return;
    etls_sess_stats_hs(x->stats, outcome, &h);
    if (outcome == ETLS_ST_OK && s->hs_start_ns)
        etls_sess_stats_latency(x->stats, now_ns() - s->hs_start_ns);
}

void etls_sess_hs_failed(const etls_sess_t *s, const etls_sess_ctx_t *x)
{
    count_hs(s, x, ETLS_ST_FAILED);
}

void etls_sess_ctx_init(etls_sess_ctx_t *x, const etls_config_t *cfg, const etls_tls_server_ctx_t *tls,
                        const etls_http_responder_t *http, etls_tls_env_t *env, const char *name)
{
    memset(x, 0, sizeof *x);
    x->tls = tls;
    x->http = http;
    x->env = env;
    x->mode = cfg->mode;
    x->max_header = cfg->max_header_size;
    x->debug = cfg->log_level >= ETLS_LOG_DEBUG;
    snprintf(x->name, sizeof x->name, "%s", name);
}

void etls_sess_start(etls_sess_t *s, const etls_sess_ctx_t *x, int tls)
{
    etls_tls_buf_t rx = s->rx, out = s->out, app = s->app, bk = s->bk;
    memset(s, 0, offsetof(etls_sess_t, tc));
    s->rx = rx;
    s->out = out;
    s->app = app;
    s->bk = bk;
    s->rx.len = s->out.len = s->app.len = s->bk.len = 0;
    s->tls = (uint8_t)(tls && x->tls);
    if (s->tls)
        etls_tls_conn_init(&s->tc, x->tls, x->env);
    if (s->tls && x->snap) {
        s->snap = x->snap;
        s->worker = x->worker;
        etls_snap_use(s->snap, x->worker, 1);
    }
    etls_http_parser_init(&s->http, x->max_header);
}

void etls_sess_ctx_attach(etls_sess_ctx_t *x, etls_snap_pub_t *pub, unsigned worker)
{
    x->pub = pub;
    x->worker = worker;
    x->snap = NULL;
    etls_sess_ctx_adopt(x);
}

void etls_sess_end(etls_sess_t *s)
{
    if (s->tls)
        etls_tls_conn_wipe(&s->tc); /* cancels parked crypto, wipes keys */
    if (s->snap) { /* after the wipe: the engine no longer looks at the snapshot's context */
        etls_snap_use(s->snap, s->worker, -1);
        s->snap = NULL;
    }
    /* Up to where plaintext ever reached: a handshake-only session wipes a few hundred bytes,
     * not the whole 128 KiB of buffers. */
    etls_wipe(s->app.base, s->app_hw);
    etls_wipe(s->bk.base, s->bk_hw);
    s->app_hw = s->bk_hw = 0;
    s->park = ETLS_SESS_PARK_NONE;
}

void etls_sess_start_close(etls_sess_t *s)
{
    if (!s->closing)
        s->closing = s->tls && s->hs_done ? 1 : 2;
}

/* The engine failed (its alert, if any, is in `out`) or the peer sent an alert. */
static void sess_fail(etls_sess_t *s, const etls_sess_ctx_t *x, int rc)
{
    if (etls_log_level_now(x->debug ? ETLS_LOG_DEBUG : ETLS_LOG_WARN) >= ETLS_LOG_DEBUG)
        fprintf(stderr, "edgetls: %s: %s (%d%s)\n", x->name,
                ETLS_ERR_IS_ALERT(rc) ? "alert sent" : ETLS_TLS_ERR_IS_PEER_ALERT(rc) ? "peer alert" : etls_strerror(rc),
                ETLS_ERR_IS_ALERT(rc) ? ETLS_ERR_ALERT_DESC(rc) : rc, s->hs_done ? "" : ", in the handshake");
    if (s->hs_done)
        count(x->errors, 1);
    else
        count_hs(s, x, ETLS_ST_FAILED);
    if (x->stats && s->tls) {
        etls_sess_stats_alert(x->stats->alerts_sent, etls_tls_alert_sent(&s->tc)); /* -1: none */
        etls_sess_stats_alert(x->stats->alerts_recv, etls_tls_peer_alert(&s->tc));
    }
    s->fail = rc;
    s->fail_now = !(ETLS_ERR_IS_ALERT(rc) && s->out.len > s->out_off);
    s->closing = 2;
    s->abort_after = 1;
}

/* ---- TLS in ------------------------------------------------------------------------------------ */

static int plain_move(etls_tls_buf_t *dst, const uint8_t *src, size_t n, size_t *used)
{
    size_t room = dst->cap - dst->len;
    if (n > room)
        n = room;
    memcpy(dst->base + dst->len, src, n);
    dst->len += n;
    *used = n;
    return n ? 0 : ETLS_ERR_LIMIT;
}

static int tls_in(etls_sess_t *s, const etls_sess_ctx_t *x, int resume)
{
    /* In proxy mode the client may still send after our close_notify (the backend finished
     * first): its data still goes to the backend. */
    if (!resume && (s->park || s->abort_after || (s->closing && x->mode != ETLS_MODE_PROXY)))
        return 0;
    size_t avail = s->rx.len - s->rx_off;
    if (!avail && !resume)
        return 0;
    if (!resume) {
        if (!s->app_busy)
            etls_buf_compact(&s->app, &s->app_off, ETLS_TLS_MAX_CIPHERTEXT);
        if (!s->out_busy)
            etls_buf_compact(&s->out, &s->out_off,
                             s->hs_done || !s->tls ? ETLS_TLS_MAX_SEALED : etls_tls_out_room(&s->tc));
    }
    size_t used = 0, out0 = s->out.len, app0 = s->app.len;
    int rc = s->tls ? etls_tls_feed(&s->tc, s->rx.base + s->rx_off, avail, &used, &s->out, &s->app)
                    : plain_move(&s->app, s->rx.base + s->rx_off, avail, &used);
    s->rx_off += used;
    /* Records are opened in place in app's free space: at most `used` bytes beyond app0. */
    size_t hw = app0 + used < s->app.cap ? app0 + used : s->app.cap;
    if (hw < s->app.len)
        hw = s->app.len;
    if (hw > s->app_hw)
        s->app_hw = hw;
    /* close_notify arrives in application-data records, which may be opened in a batch: seen
     * here after the first feed or after the one that resumed the batch's results. */
    if (x->stats && s->tls && !s->peer_close_counted && etls_tls_peer_closed(&s->tc)) {
        s->peer_close_counted = 1;
        etls_sess_stats_alert(x->stats->alerts_recv, ETLS_ALERT_CLOSE_NOTIFY);
    }
    if (rc == ETLS_ERR_IN_PROGRESS) {
        s->park = ETLS_SESS_PARK_FEED;
        return 1;
    }
    if (rc < 0 && rc != ETLS_ERR_LIMIT) {
        sess_fail(s, x, rc);
        return 1;
    }
    return used || s->out.len != out0 || s->app.len != app0;
}

int etls_sess_input(etls_sess_t *s, const etls_sess_ctx_t *x)
{
    if (ETLS_UNLIKELY(!s->hs_start_ns) && x->stats && s->tls && s->rx.len > s->rx_off)
        s->hs_start_ns = now_ns(); /* the first ClientHello bytes: the latency clock starts */
    int r = tls_in(s, x, 0) ? ETLS_SESS_PROGRESS : 0;
    if (!s->hs_done && !s->abort_after && (!s->tls || etls_tls_handshake_done(&s->tc))) {
        s->hs_done = 1;
        if (s->tls)
            count_hs(s, x, ETLS_ST_OK);
        r |= ETLS_SESS_PROGRESS | ETLS_SESS_ESTABLISHED;
    }
    return r;
}

/* ---- modes: where plaintext to encrypt comes from --------------------------------------------- */

/* Where a reply's head and first body bytes are joined into one record's plaintext. The engine
 * copies what it takes before etls_tls_send returns, so one buffer per thread serves every
 * session of the worker. */
static _Thread_local uint8_t reply_scratch[ETLS_TLS_MAX_PLAINTEXT];

static void tx_source(etls_sess_t *s, const etls_sess_ctx_t *x, const uint8_t **p, size_t *n)
{
    *p = NULL;
    *n = 0;
    switch (x->mode) {
    case ETLS_MODE_ECHO:
        *p = s->app.base + s->app_off;
        *n = s->app.len - s->app_off;
        break;
    case ETLS_MODE_RESPONDER:
        *n = etls_http_reply_next(x->http, &s->reply, reply_scratch, sizeof reply_scratch, p);
        break;
    case ETLS_MODE_PROXY:
        *p = s->bk.base + s->bk_off;
        *n = s->bk.len - s->bk_off;
        break;
    }
}

static void tx_consume(etls_sess_t *s, const etls_sess_ctx_t *x, size_t n)
{
    switch (x->mode) {
    case ETLS_MODE_ECHO: s->app_off += n; break;
    case ETLS_MODE_PROXY: s->bk_off += n; break; /* bk is only rewound while nothing is parked */
    case ETLS_MODE_RESPONDER:
        if (!s->reply.active)
            break;
        etls_http_reply_consume(&s->reply, n);
        if (!s->reply.active && s->reply.close)
            etls_sess_start_close(s);
        break;
    }
}

static int tls_out(etls_sess_t *s, const etls_sess_ctx_t *x, int resume)
{
    if (!resume && (s->park || !s->hs_done || s->closing))
        return 0;
    const uint8_t *p;
    size_t n, used = 0;
    tx_source(s, x, &p, &n);
    if (!n && !resume)
        return 0;
    static const uint8_t none[1];
    if (!p)
        p = none; /* resuming with nothing new to send: the engine wants a valid pointer */
    if (!resume && !s->out_busy)
        etls_buf_compact(&s->out, &s->out_off, ETLS_TLS_MAX_SEALED);
    int rc = s->tls ? etls_tls_send(&s->tc, p, n, &used, &s->out) : plain_move(&s->out, p, n, &used);
    tx_consume(s, x, used);
    if (rc == ETLS_ERR_IN_PROGRESS) {
        s->park = ETLS_SESS_PARK_SEND;
        return 1;
    }
    if (rc < 0 && rc != ETLS_ERR_LIMIT) {
        sess_fail(s, x, rc);
        return 1;
    }
    return used > 0;
}

int etls_sess_http(etls_sess_t *s, const etls_sess_ctx_t *x)
{
    int progress = 0;
    while (!s->reply.active && !s->http_done && !s->closing && s->app_off < s->app.len) {
        size_t used;
        etls_http_req_t req;
        etls_http_result_t r = etls_http_parse(&s->http, s->app.base + s->app_off, s->app.len - s->app_off,
                                               &used, &req);
        s->app_off += used;
        progress |= used > 0;
        if (r == ETLS_HTTP_NEED_MORE)
            break;
        etls_http_reply_start(x->http, r, &req, &s->reply);
        s->http_done = s->reply.close;
        count(x->requests, 1);
        if (s->reply.error)
            count(x->errors, 1);
        progress = 1;
    }
    return progress;
}

/* ---- closing ------------------------------------------------------------------------------------ */

/* closing == 1: close_notify still to be appended (it may park like any other record). */
static int close_step(etls_sess_t *s, const etls_sess_ctx_t *x, int resume)
{
    if (!resume && (s->closing != 1 || s->park))
        return 0;
    if (!resume && !s->out_busy)
        etls_buf_compact(&s->out, &s->out_off, ETLS_TLS_OUT_SMALL);
    int rc = etls_tls_close(&s->tc, &s->out);
    if (rc == ETLS_ERR_IN_PROGRESS) {
        s->park = ETLS_SESS_PARK_CLOSE;
        return 1;
    }
    if (rc == ETLS_ERR_LIMIT)
        return 0;
    if (rc < 0) {
        sess_fail(s, x, rc);
        return 1;
    }
    if (x->stats)
        etls_sess_stats_alert(x->stats->alerts_sent, ETLS_ALERT_CLOSE_NOTIFY);
    s->closing = 2;
    return 1;
}

int etls_sess_input_ended(const etls_sess_t *s, int transport_eof)
{
    if (s->tls && s->hs_done && etls_tls_peer_closed(&s->tc))
        return 1;
    if (!transport_eof || s->park)
        return 0;
    size_t avail = s->rx.len - s->rx_off;
    if (avail == 0)
        return 1;
    if (!s->tls)
        return 0;
    const uint8_t *h = s->rx.base + s->rx_off;
    return avail < ETLS_TLS_RECORD_HEADER || avail < ETLS_TLS_RECORD_HEADER + ((size_t)h[3] << 8 | h[4]);
}

/* When echo and responder sessions end: after the client's close_notify or FIN once our output
 * for it is queued, or during a shutdown once idle. Proxy sessions end from the backend side. */
static void close_policy(etls_sess_t *s, const etls_sess_ctx_t *x, int transport_eof, int stopping)
{
    if (s->closing || s->park || x->mode == ETLS_MODE_PROXY)
        return;
    int idle = x->mode == ETLS_MODE_ECHO ? s->app_off == s->app.len : !s->reply.active;
    if (idle && (etls_sess_input_ended(s, transport_eof) || stopping || s->http_done))
        etls_sess_start_close(s);
}

int etls_sess_output(etls_sess_t *s, const etls_sess_ctx_t *x, int transport_eof, int stopping)
{
    int progress = tls_out(s, x, 0);
    close_policy(s, x, transport_eof, stopping);
    progress |= close_step(s, x, 0);
    return progress;
}

void etls_sess_resume(etls_sess_t *s, const etls_sess_ctx_t *x)
{
    etls_sess_park_t op = (etls_sess_park_t)s->park;
    s->park = ETLS_SESS_PARK_NONE;
    if (op == ETLS_SESS_PARK_FEED)
        tls_in(s, x, 1);
    else if (op == ETLS_SESS_PARK_SEND)
        tls_out(s, x, 1);
    else if (op == ETLS_SESS_PARK_CLOSE)
        close_step(s, x, 1);
}

void etls_sess_pp2_tls(const etls_sess_t *s, etls_pp2_info_t *info)
{
    if (!s->tls)
        return;
    info->tls = 1;
    info->alpn = etls_tls_alpn(&s->tc, &info->alpn_len);
    info->authority = etls_tls_sni(&s->tc);
    info->authority_len = info->authority ? strlen(info->authority) : 0;
    uint16_t v = etls_tls_version(&s->tc);
    info->version = v == ETLS_TLS_VERSION_13 ? "TLSv1.3" : v == ETLS_TLS_VERSION_12 ? "TLSv1.2" : NULL;
    info->cipher = etls_tls_cipher_name(etls_tls_cipher(&s->tc));
    const etls_tls_peer_id_t *id = etls_tls_peer_id(&s->tc);
    if (id) { /* client_auth: the verified client certificate */
        info->client_verified = 1;
        info->client_cert_conn = (id->flags & ETLS_TLS_PEER_CERT_CONN) != 0;
        info->client_cn = id->cn_len ? id->cn : NULL;
        info->client_cn_len = id->cn_len;
        info->client_fp = id->fp;
    }
}
