/* A load-generator connection's TLS and HTTP side (sess.h), the same for every transport. */
#include "sess.h"

#include "common/ct.h"
#include "crypto/x25519.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void etls_sess_begin(etls_sess_ctx_t *x, etls_sess_t *s, uint64_t intended, uint64_t now)
{
    x->r->started++;
    x->r->late += now > intended + 1000000; /* open loop: began over 1 ms behind schedule */
    s->t0 = intended;
    s->deadline = now + (uint64_t)(x->o->timeout * 1e9);
    s->rx_len = s->tx_len = s->tx_off = 0;
    s->phase = ETLS_SESS_CONNECTING;
}

void etls_sess_fail(etls_sess_ctx_t *x, etls_sess_t *s, etls_hs_err_t kind, int alert)
{
    (void)s;
    x->r->errors++;
    x->r->err[kind]++;
    if (kind == ETLS_HS_ERR_ALERT && alert >= 0 && alert < 256)
        x->r->alerts[alert]++;
    x->sec_err++;
}

void etls_sess_abandon(etls_sess_ctx_t *x, etls_sess_t *s)
{
    (void)s;
    x->r->abandoned++;
}

void etls_sess_release(etls_sess_ctx_t *x, etls_sess_t *s)
{
    if (s->phase >= ETLS_SESS_HANDSHAKE)
        etls_cli_wipe(&s->cli);
    if (!x->o->reuse_keyshare)
        etls_cli_share_wipe(&s->share);
    s->phase = ETLS_SESS_FREE;
}

static int fail(etls_sess_ctx_t *x, etls_sess_t *s, etls_hs_err_t kind)
{
    etls_sess_fail(x, s, kind, -1);
    return ETLS_SESS_FAIL;
}

/* A client error: the alert the server sent, or one we sent (already in tx). */
static int classify(etls_sess_ctx_t *x, etls_sess_t *s, int rc)
{
    if (ETLS_TLS_ERR_IS_PEER_ALERT(rc)) {
        etls_sess_fail(x, s, ETLS_HS_ERR_ALERT, -rc - ETLS_TLS_ERR_PEER_BASE);
        return ETLS_SESS_FAIL;
    }
    return fail(x, s, ETLS_HS_ERR_PROTOCOL);
}

/* Success: close_notify after whatever is still queued; counted, ticket kept. */
static int done(etls_sess_ctx_t *x, etls_sess_t *s, uint64_t now)
{
    etls_tls_buf_t out = {s->tx, s->tx_len, ETLS_SESS_TX_CAP};
    if (s->tx_off == s->tx_len)
        out.len = s->tx_off = s->tx_len = 0;
    if (etls_cli_close(&s->cli, &out) == 0)
        s->tx_len = out.len;
    if (x->o->request)
        etls_hist_record(&x->r->resp_lat, now - s->t0);
    if (s->cli.got_ticket) {
        x->ticket = s->nst;
        x->have_ticket = 1;
    }
    x->r->completed++;
    x->r->suite = s->cli.suite;
    x->last_done = now;
    return ETLS_SESS_DONE;
}

int etls_sess_start(etls_sess_ctx_t *x, etls_sess_t *s)
{
    const etls_hs_opts_t *o = x->o;
    uint8_t rnd[64];
    const etls_cli_share_t *share = x->shared_share;
    (void)etls_rand_bytes(x->rng, rnd, sizeof rnd);
    if (!o->reuse_keyshare) {
        if (etls_cli_share_new(&s->share, o->cli.group, rnd + 32) != 0)
            return fail(x, s, ETLS_HS_ERR_PROTOCOL);
        share = &s->share;
    }
    const char *sni = o->n_sni ? o->sni[x->sni_next++ % o->n_sni] : NULL;
    etls_cli_init(&s->cli, &o->cli, x->eng, share, sni);
    if (o->resume) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
        int fresh = x->have_ticket && now_ms - x->ticket.received_ms < x->ticket.lifetime_s * 1000ull;
        if (fresh)
            s->offer = x->ticket; /* a copy: other connections may replace the context's ticket */
        etls_cli_tickets(&s->cli, fresh ? &s->offer : NULL, now_ms, &s->nst);
    }
    s->phase = ETLS_SESS_HANDSHAKE;
    etls_tls_buf_t out = {s->tx, s->tx_len, ETLS_SESS_TX_CAP};
    if (etls_cli_hello(&s->cli, rnd, &out) != 0)
        return fail(x, s, ETLS_HS_ERR_PROTOCOL);
    s->tx_len = out.len;
    return ETLS_SESS_MORE;
}

static int send_request(etls_sess_ctx_t *x, etls_sess_t *s, etls_tls_buf_t *out)
{
    char req[512];
    const char *host = s->cli.sni[0] ? s->cli.sni : "localhost";
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: edgetls-bench\r\n\r\n",
                     x->o->path ? x->o->path : "/", host);
    memset(&s->http, 0, sizeof s->http);
    s->http.body_left = -1;
    if (n < 0 || (size_t)n >= sizeof req ||
        etls_cli_send(&s->cli, (const uint8_t *)req, (size_t)n, 0, out) != 0)
        return fail(x, s, ETLS_HS_ERR_PROTOCOL);
    s->phase = ETLS_SESS_RESPONSE;
    return ETLS_SESS_MORE;
}

int etls_sess_advance(etls_sess_ctx_t *x, etls_sess_t *s, uint64_t now)
{
    const etls_hs_opts_t *o = x->o;
    etls_tls_buf_t out = {s->tx, s->tx_len, ETLS_SESS_TX_CAP};
    etls_tls_buf_t app = {s->app, 0, ETLS_SESS_APP_CAP};
    size_t used;
    int rc = etls_cli_feed(&s->cli, s->rx, s->rx_len, &used, &out, &app);
    memmove(s->rx, s->rx + used, s->rx_len - used);
    s->rx_len -= used;
    s->tx_len = out.len;
    if (rc < 0 && rc != ETLS_ERR_LIMIT)
        return classify(x, s, rc);
    if (rc == ETLS_CLI_NEED_KX) {
        if (o->cli.group != ETLS_TLS_GROUP_X25519 || x->nkx == ETLS_SESS_KX_MAX) {
            int k = etls_cli_kx_inline(&s->cli, &out);
            s->tx_len = out.len;
            if (k != 0)
                return classify(x, s, -1);
            return etls_sess_advance(x, s, now);
        }
        s->phase = ETLS_SESS_KX_WAIT;
        x->kx[x->nkx++] = s;
        return ETLS_SESS_KX;
    }
    if (s->phase == ETLS_SESS_HANDSHAKE && etls_cli_connected(&s->cli)) {
        etls_hist_record(&x->r->hs_lat, now - s->t0);
        x->r->handshakes++;
        x->r->resumed += s->cli.resumed;
        x->r->in_window += now < x->t_stop;
        x->sec_hs++;
        etls_hist_record(&x->sec_hist, now - s->t0);
        if (!o->request) {
            if (o->resume && !x->have_ticket && !s->cli.got_ticket) {
                s->phase = ETLS_SESS_TICKET; /* read on until the ticket arrives */
                return ETLS_SESS_MORE;
            }
            return done(x, s, now);
        }
        if (send_request(x, s, &out) != ETLS_SESS_MORE)
            return ETLS_SESS_FAIL;
        s->tx_len = out.len;
    }
    if (s->phase == ETLS_SESS_TICKET && (s->cli.got_ticket || x->have_ticket))
        return done(x, s, now);
    if (s->phase == ETLS_SESS_RESPONSE && app.len) {
        int h = etls_http_resp_feed(&s->http, app.base, app.len);
        if (h < 0 || (h == 1 && s->http.status != 200))
            return fail(x, s, ETLS_HS_ERR_HTTP);
        if (h == 1)
            return done(x, s, now);
    }
    if (rc == ETLS_ERR_LIMIT && used && s->rx_len)
        return etls_sess_advance(x, s, now); /* app was full: drained above */
    return ETLS_SESS_MORE;
}

void etls_sess_kx_run(etls_sess_ctx_t *x, uint64_t now,
                      void (*cb)(void *arg, etls_sess_t *s, int outcome), void *arg)
{
    etls_x25519_op_t ops[ETLS_SESS_KX_MAX];
    uint8_t shared[ETLS_SESS_KX_MAX][32];
    etls_sess_t *q[ETLS_SESS_KX_MAX];
    unsigned n = 0;
    /* only the sessions still waiting (the transport may have failed one meanwhile) */
    for (unsigned i = 0; i < x->nkx; i++)
        if (x->kx[i]->phase == ETLS_SESS_KX_WAIT)
            q[n++] = x->kx[i];
    x->nkx = 0;
    for (unsigned i = 0; i < n; i++)
        ops[i] = (etls_x25519_op_t){q[i]->cli.share->sk, q[i]->cli.peer_share, shared[i], 0};
    /* A 4-lane AVX2 group costs about 1.5 single portable ladders (edgetls-bench crypto), so a
     * lone operation left over after the full groups runs on the portable code. */
    const etls_x25519_impl_t *best = etls_x25519_best();
    size_t lone = best->lanes > 1 && n % best->lanes == 1;
    if (n > lone)
        etls_x25519_batch(best, ops, n - lone);
    if (lone)
        ops[n - 1].status = etls_x25519_shared(shared[n - 1], ops[n - 1].sk, ops[n - 1].peer);
    for (unsigned i = 0; i < n; i++) {
        etls_sess_t *s = q[i];
        etls_tls_buf_t out = {s->tx, s->tx_len, ETLS_SESS_TX_CAP};
        int rc = etls_cli_kx_done(&s->cli, shared[i], 32, ops[i].status, &out);
        s->tx_len = out.len;
        s->phase = ETLS_SESS_HANDSHAKE;
        cb(arg, s, rc < 0 ? classify(x, s, rc) : etls_sess_advance(x, s, now));
    }
    etls_wipe(shared, sizeof shared);
}
