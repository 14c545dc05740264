/* Server cost of full TLS 1.3 handshakes as the worker serves them, in memory (a tool, and with
 * a small count a test): the bench client (bench/hs/cli.c: X25519, TLS_AES_128_GCM_SHA256,
 * SNI localhost) against the engine with a crypto batch, CONC connections in lock step like a
 * busy worker's poll iterations, each one full handshake (ECDSA P-256 certificate, no tickets),
 * one `GET /` answered by the HTTP responder, the client's close_notify and ours.
 *
 * Every server-side call goes through a srv_* function, so the server's share can be measured
 * apart from the client's:
 *   hs_cost [handshakes]          prints server TSC cycles per handshake (rdtsc around srv_*)
 *   valgrind --tool=callgrind --toggle-collect='srv_*' hs_cost 2000
 *                                 instruction counts of the server's side only.
 * Exits non-zero when any handshake, request or response goes wrong. */
#include "cli.h"
#include "harness.h"
#include "load.h"

#include "common/ct.h"
#include "crypto/x25519.h"
#include "http/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>

#define CONC 16
#define BODY "hello from the edge"
#define IO_CAP 32768

typedef struct slot {
    etls_tls_conn_t s;
    etls_cli_conn_t cli;
    etls_http_parser_t hp;
    etls_http_reply_t rep;
    etls_http_resp_t resp;
    size_t s_in_len, c_in_len, app_off;
    etls_tls_buf_t s_out, s_app, c_out;
    uint8_t s_in[IO_CAP], s_outb[IO_CAP], s_appb[IO_CAP];
    uint8_t c_in[IO_CAP], c_outb[IO_CAP], c_app[IO_CAP];
} slot_t;

static test_env_t te;
static etls_tls_server_ctx_t sctx;
static etls_http_responder_t resp;
static etls_aead_engine_t *ceng;
static etls_cli_cfg_t ccfg;
static etls_cli_share_t cshare; /* reused by every connection, as compare-dpdk's bench does */
static uint64_t srv_cycles; /* TSC cycles inside srv_* (includes any preemption) */
static uint8_t scratch[ETLS_TLS_MAX_PLAINTEXT];
static int failures;

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "hs_cost: " __VA_ARGS__);                                                  \
        fputc('\n', stderr);                                                                       \
        failures++;                                                                                \
    } while (0)

/* ---- the server's side: every call the worker makes per connection ------------------------- */

#define SRV_TIMED(expr)                                                                            \
    ({                                                                                             \
        uint64_t t0_ = __rdtsc();                                                                  \
        __typeof__(expr) r_ = (expr);                                                              \
        srv_cycles += __rdtsc() - t0_;                                                             \
        r_;                                                                                        \
    })

__attribute__((noinline)) static void srv_open(slot_t *x)
{
    etls_tls_conn_init(&x->s, &sctx, &te.env);
    etls_http_parser_init(&x->hp, 8192);
    x->s_out = (etls_tls_buf_t){x->s_outb, 0, IO_CAP};
    x->s_app = (etls_tls_buf_t){x->s_appb, 0, IO_CAP};
    x->app_off = 0;
}

static int feed(slot_t *x)
{
    size_t used = 0;
    int rc = etls_tls_feed(&x->s, x->s_in, x->s_in_len, &used, &x->s_out, &x->s_app);
    memmove(x->s_in, x->s_in + used, x->s_in_len - used);
    x->s_in_len -= used;
    return rc;
}

/* (callgrind's toggles do not nest: srv_batch feeds through feed(), not srv_feed) */
__attribute__((noinline)) static int srv_feed(slot_t *x)
{
    return feed(x);
}

/* One poll iteration's crypto: the batch, then each connection it finished is fed again. */
__attribute__((noinline)) static int srv_batch(void)
{
    int bad = 0;
    etls_batch_run(te.env.batch);
    etls_batch_waiter_t *w;
    while ((w = etls_batch_pop_ready(te.env.batch))) {
        slot_t *x = (slot_t *)(void *)etls_tls_conn_from_waiter(w);
        int rc = feed(x);
        bad |= rc < 0 && rc != ETLS_ERR_IN_PROGRESS;
    }
    return bad;
}

/* Requests in the decrypted data: parse, then start the reply and send it. */
__attribute__((noinline)) static int srv_http(slot_t *x)
{
    etls_http_req_t req;
    size_t used = 0;
    etls_http_result_t r = etls_http_parse(&x->hp, x->s_app.base + x->app_off,
                                           x->s_app.len - x->app_off, &used, &req);
    x->app_off += used;
    if (r != ETLS_HTTP_REQUEST)
        return -1;
    etls_http_reply_start(&resp, r, &req, &x->rep);
    const uint8_t *p;
    size_t n = etls_http_reply_next(&resp, &x->rep, scratch, sizeof scratch, &p);
    int rc = etls_tls_send(&x->s, p, n, &used, &x->s_out);
    if (rc == 0 || rc == ETLS_ERR_IN_PROGRESS)
        etls_http_reply_consume(&x->rep, used);
    return rc == ETLS_ERR_IN_PROGRESS ? 0 : rc;
}

/* Publishes a parked send: a len-0 writer call. */
__attribute__((noinline)) static int srv_publish(slot_t *x)
{
    size_t used;
    return etls_tls_send(&x->s, NULL, 0, &used, &x->s_out);
}

/* The client closed: our close_notify. */
__attribute__((noinline)) static int srv_close(slot_t *x)
{
    return etls_tls_close(&x->s, &x->s_out);
}

__attribute__((noinline)) static void srv_end(slot_t *x)
{
    etls_tls_conn_wipe(&x->s);
    etls_wipe(x->s_appb, x->s_app.len);
}

/* ---- plumbing and the client ------------------------------------------------------------- */

static void to_client(slot_t *x)
{
    memcpy(x->c_in + x->c_in_len, x->s_out.base, x->s_out.len);
    x->c_in_len += x->s_out.len;
    x->s_out.len = 0;
}

static void to_server(slot_t *x)
{
    memcpy(x->s_in + x->s_in_len, x->c_out.base, x->c_out.len);
    x->s_in_len += x->c_out.len;
    x->c_out.len = 0;
}

static int cli_step(slot_t *x, etls_tls_buf_t *app)
{
    size_t used;
    int rc = etls_cli_feed(&x->cli, x->c_in, x->c_in_len, &used, &x->c_out, app);
    memmove(x->c_in, x->c_in + used, x->c_in_len - used);
    x->c_in_len -= used;
    return rc;
}

/* The clients' X25519 in one batch, as the bench does (etls_sess_kx_run), so that the client's
 * cost does not swamp a profile of the whole process. */
static void cli_kx(slot_t *slots, size_t k)
{
    etls_x25519_op_t ops[CONC];
    uint8_t shared[CONC][32];
    size_t n = 0, idx[CONC];
    for (size_t i = 0; i < k; i++) {
        etls_tls_buf_t capp = {slots[i].c_app, 0, IO_CAP};
        int rc = cli_step(&slots[i], &capp);
        if (rc != ETLS_CLI_NEED_KX) {
            FAIL("client: ServerHello: %d", rc);
            continue;
        }
        idx[n] = i;
        ops[n++] = (etls_x25519_op_t){cshare.sk, slots[i].cli.peer_share, shared[i], 0};
    }
    etls_x25519_batch(NULL, ops, n);
    for (size_t j = 0; j < n; j++) {
        slot_t *x = &slots[idx[j]];
        if (etls_cli_kx_done(&x->cli, shared[idx[j]], 32, ops[j].status, &x->c_out) != 0)
            FAIL("client: key exchange");
    }
    etls_wipe(shared, sizeof shared);
}

static void run_batches(size_t k, slot_t *slots)
{
    for (int round = 0; round < 8; round++) {
        int pending = 0;
        for (size_t i = 0; i < k; i++)
            pending |= etls_tls_parked(&slots[i].s);
        if (!pending)
            return;
        if (SRV_TIMED(srv_batch()))
            FAIL("a resumed feed failed");
    }
}

static const char request[] = "GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: edgetls-bench\r\n\r\n";

/* k connections through one full exchange in lock step. */
static void round_of(slot_t *slots, size_t k)
{
    uint8_t rnd[32] = {9};
    for (size_t i = 0; i < k; i++) {
        slot_t *x = &slots[i];
        x->s_in_len = x->c_in_len = 0;
        x->c_out = (etls_tls_buf_t){x->c_outb, 0, IO_CAP};
        etls_cli_init(&x->cli, &ccfg, ceng, &cshare, "localhost");
        if (etls_cli_hello(&x->cli, rnd, &x->c_out) != 0)
            FAIL("client hello");
        to_server(x);
        SRV_TIMED((srv_open(x), 0));
        int rc = SRV_TIMED(srv_feed(x));
        if (rc != ETLS_ERR_IN_PROGRESS && rc != 0)
            FAIL("ClientHello: %d", rc);
    }
    run_batches(k, slots); /* key exchange, then the signatures */
    for (size_t i = 0; i < k; i++)
        to_client(&slots[i]);
    cli_kx(slots, k);
    for (size_t i = 0; i < k; i++) {
        slot_t *x = &slots[i];
        etls_tls_buf_t capp = {x->c_app, 0, IO_CAP};
        if (cli_step(x, &capp) != 0 || !etls_cli_connected(&x->cli))
            FAIL("client handshake: %d", x->cli.err);
        if (etls_cli_send(&x->cli, (const uint8_t *)request, sizeof request - 1, 0, &x->c_out) != 0)
            FAIL("client request");
        to_server(x);
        int rc = SRV_TIMED(srv_feed(x));
        if (rc != ETLS_ERR_IN_PROGRESS && rc != 0)
            FAIL("client Finished: %d", rc);
    }
    run_batches(k, slots); /* the request record's open */
    for (size_t i = 0; i < k; i++) {
        slot_t *x = &slots[i];
        if (!etls_tls_handshake_done(&x->s) || SRV_TIMED(srv_http(x)) != 0)
            FAIL("server: handshake not done or no request");
    }
    run_batches(k, slots); /* the response record's seal */
    for (size_t i = 0; i < k; i++) {
        slot_t *x = &slots[i];
        if (SRV_TIMED(srv_publish(x)) != 0)
            FAIL("server: response not published");
        to_client(x);
        etls_tls_buf_t capp = {x->c_app, 0, IO_CAP};
        x->resp.head_len = 0; /* not a memset: the struct holds an 8 KiB head buffer */
        x->resp.head_done = 0;
        x->resp.status = 0;
        x->resp.body_left = -1;
        if (cli_step(x, &capp) != 0 || etls_http_resp_feed(&x->resp, capp.base, capp.len) != 1 ||
            x->resp.status != 200 || capp.len < sizeof BODY - 1 ||
            memcmp(capp.base + capp.len - (sizeof BODY - 1), BODY, sizeof BODY - 1) != 0)
            FAIL("client: bad response");
        if (etls_cli_close(&x->cli, &x->c_out) != 0) /* the bench closes first */
            FAIL("client close");
        to_server(x);
        int rc = SRV_TIMED(srv_feed(x));
        if (rc != 0 && rc != ETLS_ERR_IN_PROGRESS)
            FAIL("server: client close_notify: %d", rc);
    }
    run_batches(k, slots); /* the close_notify record's open */
    for (size_t i = 0; i < k; i++) {
        slot_t *x = &slots[i];
        if (!etls_tls_peer_closed(&x->s) || SRV_TIMED(srv_close(x)) != 0)
            FAIL("server: close_notify not seen or ours not sent");
        to_client(x);
        etls_tls_buf_t capp = {x->c_app, 0, IO_CAP};
        if (cli_step(x, &capp) != 0 || !x->cli.peer_closed)
            FAIL("client: no close_notify from the server");
        SRV_TIMED((srv_end(x), 0));
        etls_cli_wipe(&x->cli);
    }
}

static int setup(void)
{
    static test_cert_t tc;
    uint8_t r[32] = {5, 4, 3};
    if (test_env_init(&te, 64) != 0 || etls_tls_server_ctx_init(&sctx, &te.rng) != 0)
        return -1;
    /* the worker's pool holds a state per concurrent handshake */
    etls_tls_hs_pool_free(te.env.hs_pool);
    te.env.hs_pool = etls_tls_hs_pool_new(CONC);
    const uint16_t groups[] = {ETLS_TLS_GROUP_X25519};
    if (!te.env.hs_pool || etls_tls_server_ctx_set_groups(&sctx, groups, 1) != 0 ||
        test_cert_make(&tc, KEY_ECDSA, "localhost") != 0 || test_ctx_add(&sctx, &tc, NULL, 1) != 0)
        return -1;
    if (etls_http_responder_init(&resp, BODY, sizeof BODY - 1) != 0)
        return -1;
    ceng = etls_aead_engine_new();
    ccfg.group = ETLS_TLS_GROUP_X25519;
    ccfg.suites[0] = ETLS_TLS_AES_128_GCM_SHA256;
    ccfg.n_suites = 1;
    return ceng && etls_cli_share_new(&cshare, ETLS_TLS_GROUP_X25519, r) == 0 ? 0 : -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000;
    slot_t *slots = aligned_alloc(64, CONC * sizeof *slots);
    if (!slots || n == 0 || setup() != 0) {
        fprintf(stderr, "hs_cost: setup failed\n");
        return 1;
    }
    memset(slots, 0, CONC * sizeof *slots);
    /* per full round, the server's cycles per handshake; the median ignores rounds in which the
     * process was preempted (the machine is shared) */
    size_t nr = 0, rounds = n / CONC;
    double *per = calloc(rounds + 1, sizeof *per);
    for (size_t done = 0; done < n && failures < 10 && per;) {
        size_t k = n - done < CONC ? n - done : CONC;
        uint64_t before = srv_cycles;
        round_of(slots, k);
        if (k == CONC)
            per[nr++] = (double)(srv_cycles - before) / CONC;
        done += k;
    }
    qsort(per, nr, sizeof *per, cmp_double);
    size_t leaked = etls_tls_hs_pool_in_use(te.env.hs_pool);
    if (leaked)
        FAIL("%zu handshake states not returned", leaked);
    printf("hs_cost: %zu handshakes, %d failures, server TSC cycles per handshake: median of "
           "rounds %.0f, mean %.0f\n", n, failures, nr ? per[nr / 2] : 0.0,
           (double)srv_cycles / (double)n);
    free(per);
    etls_http_responder_free(&resp);
    etls_tls_server_ctx_free(&sctx);
    etls_aead_engine_free(ceng);
    etls_cli_share_wipe(&cshare);
    test_env_free(&te);
    free(slots);
    return failures ? 1 : 0;
}
