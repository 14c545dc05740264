/* Many connections on one worker sharing one crypto batch, driven the way the transport does:
 * feed every connection, run the batch once per iteration, resume the ready ones. One
 * connection is torn down while parked (the batch must not touch it afterwards).
 * argv[1] = batch capacity (small values force flushes in the middle of an iteration). */
#include "harness.h"
#include "test.h"

#include "batch/batch.h"
#include "crypto/x25519.h"

#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

#define NCONN 12
#define DATA_LEN 60000

typedef struct conn_state {
    test_pair_t p;
    int parked, dead, done;
    size_t in_off;
    uint8_t *msg;      /* what the client sends */
    size_t msg_off;    /* bytes the client wrote */
    size_t echo_off;   /* bytes of p.got the server echoed back */
    uint8_t *back;     /* what the client read back */
    size_t back_len;
} conn_state_t;

static test_env_t te;
static conn_state_t cs[NCONN];

static void drain_out(test_pair_t *p)
{
    if (p->out.len)
        BIO_write(p->c_rbio, p->out.base, (int)p->out.len);
    p->out.len = 0;
    memcpy(p->got + p->got_len, p->app.base, p->app.len);
    p->got_len += p->app.len;
    p->app.len = 0;
}

/* One engine turn for a connection that is not parked. */
static void serve(conn_state_t *s)
{
    test_pair_t *p = &s->p;
    for (int guard = 0; guard < 1000 && !s->parked && !p->srv_rc; guard++) {
        size_t used = 0;
        int rc = etls_tls_feed(p->conn, p->in + s->in_off, p->in_len - s->in_off, &used, &p->out, &p->app);
        s->in_off += used;
        if (rc == ETLS_ERR_IN_PROGRESS) {
            s->parked = 1;
            return; /* input, out and app are referenced until the batch ran */
        }
        drain_out(p);
        memmove(p->in, p->in + s->in_off, p->in_len - s->in_off);
        p->in_len -= s->in_off;
        s->in_off = 0;
        if (rc < 0 && rc != ETLS_ERR_LIMIT)
            p->srv_rc = rc;
        if (!etls_tls_handshake_done(p->conn) || s->echo_off == p->got_len) {
            if (used == 0)
                return;
            continue;
        }
        rc = etls_tls_send(p->conn, p->got + s->echo_off, p->got_len - s->echo_off, &used, &p->out);
        s->echo_off += used;
        if (rc == ETLS_ERR_IN_PROGRESS) {
            s->parked = 1;
            return;
        }
        if (rc < 0 && rc != ETLS_ERR_LIMIT)
            p->srv_rc = rc;
        drain_out(p);
    }
}

static void client_turn(conn_state_t *s)
{
    test_pair_t *p = &s->p;
    if (!SSL_is_init_finished(p->ssl)) {
        SSL_do_handshake(p->ssl);
    } else if (s->msg_off < DATA_LEN) {
        size_t n = DATA_LEN - s->msg_off < 7000 ? DATA_LEN - s->msg_off : 7000;
        if (SSL_write(p->ssl, s->msg + s->msg_off, (int)n) == (int)n)
            s->msg_off += n;
    }
    int r;
    while (SSL_is_init_finished(p->ssl) &&
           (r = SSL_read(p->ssl, s->back + s->back_len, (int)(DATA_LEN - s->back_len))) > 0)
        s->back_len += (size_t)r;
    if (p->in_len < p->in_cap) {
        int n = BIO_read(p->c_wbio, p->in + p->in_len, (int)(p->in_cap - p->in_len));
        if (n > 0)
            p->in_len += (size_t)n;
    }
}

static conn_state_t *state_of(etls_tls_conn_t *c)
{
    for (int i = 0; i < NCONN; i++)
        if (cs[i].p.conn == c)
            return &cs[i];
    return NULL;
}

static int resumed_by_cb;

static void on_ready(etls_batch_waiter_t *w, void *arg)
{
    (void)arg;
    conn_state_t *s = state_of(etls_tls_conn_from_waiter(w));
    CHECK(s != NULL && !s->dead && s->parked);
    if (!s || s->dead)
        return;
    resumed_by_cb++;
    s->parked = 0;
    serve(s); /* may queue new requests while the batch is still in etls_batch_run */
}

static void run(size_t cap, int use_cb)
{
    etls_tls_server_ctx_t ctx;
    test_cert_t cert;
    etls_test_rng_t r;
    etls_test_rng_seed(&r, 77);
    CHECK(test_env_init(&te, cap) == 0);
    if (use_cb) { /* resume from the batch's callback instead of the ready list */
        etls_batch_config_t bc = {0};
        bc.x25519_cap = bc.p256_cap = bc.sign_cap = bc.aead_cap = cap;
        bc.aead = te.env.aead;
        bc.on_ready = on_ready;
        etls_batch_free(te.env.batch);
        te.env.batch = etls_batch_new(&bc);
    }
    CHECK(test_cert_make(&cert, KEY_ECDSA, "server.example") == 0);
    CHECK(etls_tls_server_ctx_init(&ctx, &te.rng) == 0);
    CHECK(test_ctx_add(&ctx, &cert, NULL, 1) == 0);
    SSL_CTX *cc = test_client_ctx(&cert);
    for (int i = 0; i < NCONN; i++) {
        memset(&cs[i], 0, sizeof cs[i]);
        test_pair_init(&cs[i].p, cc, &ctx, &te);
        SSL_set1_groups_list(cs[i].p.ssl, i % 3 == 2 ? "P-256" : "X25519");
        cs[i].msg = malloc(DATA_LEN);
        cs[i].back = malloc(DATA_LEN);
        etls_test_rng_bytes(&r, cs[i].msg, DATA_LEN);
    }
    int victim = 5, iterations = 0;
    for (; iterations < 5000; iterations++) {
        int busy = 0;
        for (int i = 0; i < NCONN; i++) {
            conn_state_t *s = &cs[i];
            if (s->dead || s->done)
                continue;
            busy = 1;
            client_turn(s);
            if (!s->parked)
                serve(s);
            if (i == victim && s->parked && iterations > 0) { /* torn down while parked */
                etls_tls_conn_wipe(s->p.conn);
                memset(s->p.conn, 0xa5, sizeof *s->p.conn);
                s->dead = 1;
            }
            if (s->back_len == DATA_LEN)
                s->done = 1;
        }
        if (!busy)
            break;
        etls_batch_run(te.env.batch); /* end of the poll iteration */
        etls_batch_waiter_t *w;
        while ((w = etls_batch_pop_ready(te.env.batch))) {
            conn_state_t *s = state_of(etls_tls_conn_from_waiter(w));
            CHECK(s != NULL && !s->dead && s->parked);
            if (!s || s->dead)
                continue;
            s->parked = 0;
            serve(s);
        }
    }
    etls_batch_stats_t st;
    etls_batch_get_stats(te.env.batch, &st);
    printf("cap %zu: %d iterations, %llu runs (%llu full), ops: x25519 %llu p256 %llu sign %llu aead %llu\n",
           cap, iterations, (unsigned long long)st.runs, (unsigned long long)st.full_flushes,
           (unsigned long long)st.x25519_ops, (unsigned long long)st.p256_ops,
           (unsigned long long)st.sign_ops, (unsigned long long)st.aead_ops);
    int ok = 0;
    for (int i = 0; i < NCONN; i++) {
        if (cs[i].dead)
            continue;
        CHECK_MSG(cs[i].p.srv_rc == 0, "conn %d: %d", i, cs[i].p.srv_rc);
        ok += cs[i].back_len == DATA_LEN && memcmp(cs[i].back, cs[i].msg, DATA_LEN) == 0;
    }
    CHECK_MSG(ok == NCONN - 1, "%d of %d connections echoed their data (cap %zu, %d iterations)", ok,
              NCONN - 1, cap, iterations);
    CHECK(cs[victim].dead);
    CHECK(use_cb ? resumed_by_cb > NCONN : resumed_by_cb == 0);
    CHECK(st.x25519_ops >= 2 * (NCONN - 4) && st.p256_ops >= 3 && st.sign_ops >= NCONN - 1);
    CHECK(st.aead_ops >= (uint64_t)(NCONN - 1) * 2 * (DATA_LEN / 16384));
    if (cap >= NCONN) /* real batching: many requests per run */
        CHECK_MSG(st.aead_ops + st.x25519_ops > 3 * st.runs, "runs %llu aead %llu",
                  (unsigned long long)st.runs, (unsigned long long)st.aead_ops);
    if (cap < 4)
        CHECK(st.full_flushes > 0);
    for (int i = 0; i < NCONN; i++) {
        if (cs[i].dead) { /* its memory was scribbled over; give test_pair_free a blank one */
            free(cs[i].p.conn);
            cs[i].p.conn = aligned_alloc(_Alignof(etls_tls_conn_t), sizeof *cs[i].p.conn);
            memset(cs[i].p.conn, 0, sizeof *cs[i].p.conn);
        }
        test_pair_free(&cs[i].p);
        free(cs[i].msg);
        free(cs[i].back);
    }
    SSL_CTX_free(cc);
    etls_tls_server_ctx_free(&ctx);
    test_cert_free(&cert);
    CHECK(test_env_free(&te) == 0); /* every handshake state came back */
}

/* The queue mechanics on their own: status delivery, ready list, flush when full, cancel. */
static void test_queues(void)
{
    etls_batch_config_t cfg = {0};
    cfg.x25519_cap = 2;
    etls_batch_t *b = etls_batch_new(&cfg);
    etls_batch_waiter_t w1 = {0}, w2 = {0};
    uint8_t sk1[32] = {1}, sk2[32] = {2}, pub1[32], pub2[32], ref1[32], ref2[32], zero[32] = {0}, out[32];
    int st1 = 1, st2 = 1, st3 = 1;
    etls_x25519_public(ref1, sk1);
    etls_x25519_public(ref2, sk2);
    etls_x25519_op_t *op = etls_batch_x25519(b, &w1, &st1);
    op->sk = sk1;
    op->out = pub1;
    CHECK(st1 == ETLS_ERR_IN_PROGRESS && w1.pending == 1);
    op = etls_batch_x25519(b, &w2, &st2);
    op->sk = sk2;
    op->out = pub2;
    CHECK(etls_batch_queued(b) == 2);
    op = etls_batch_x25519(b, &w1, &st3); /* full: flushes the first two */
    op->sk = sk1;
    op->peer = zero; /* low-order point: status ETLS_ERR_INVALID */
    op->out = out;
    CHECK(st1 == 0 && st2 == 0 && memcmp(pub1, ref1, 32) == 0 && memcmp(pub2, ref2, 32) == 0);
    CHECK(w1.pending == 1 && w2.pending == 0);
    CHECK(etls_batch_pop_ready(b) == &w2); /* w1 is skipped: it queued more work */
    CHECK(etls_batch_pop_ready(b) == NULL);
    CHECK(etls_batch_run(b) == 1);
    CHECK(st3 == ETLS_ERR_INVALID);
    CHECK(etls_batch_pop_ready(b) == &w1 && etls_batch_pop_ready(b) == NULL);
    /* cancel drops queued requests and the ready-list entry */
    st1 = 1;
    op = etls_batch_x25519(b, &w1, &st1);
    op->sk = sk1;
    op->out = pub1;
    op = etls_batch_x25519(b, &w2, &st2);
    op->sk = sk2;
    op->out = pub2;
    etls_batch_cancel(b, &w1);
    CHECK(etls_batch_queued(b) == 1 && w1.pending == 0);
    CHECK(etls_batch_run(b) == 1 && st1 == ETLS_ERR_IN_PROGRESS);
    CHECK(etls_batch_pop_ready(b) == &w2);
    etls_batch_free(b);
}

int main(int argc, char **argv)
{
    size_t cap = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 64;
    int use_cb = argc > 2 && strcmp(argv[2], "cb") == 0;
    etls_test_seed("tls_batch");
    test_queues();
    run(cap, use_cb);
    ERR_print_errors_fp(stderr);
    return etls_test_summary("tls_batch");
}
