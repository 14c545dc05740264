/* Engine micro-benchmark (not a test): server-side handshake cost and record throughput,
 * in-process, no sockets. Usage: bench_tls [handshakes] [MiB]
 * Handshakes: ClientHellos are prepared beforehand by the test client (its cost is excluded);
 * the server does key exchange, the flight and the signature, inline and through a batch of
 * 32 concurrent connections. Records: 16 KiB application-data records sealed (send) and
 * opened (feed) on one established connection, per cipher suite. Rates are per CPU second
 * (process CPU time), so a busy shared machine does not distort them. */
#include "harness.h"
#include "mini_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONC 32

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* the machine is shared: CPU time */
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct hs_slot {
    etls_tls_conn_t c;
    etls_tls_buf_t out, app;
    uint8_t outb[32768], appb[1024];
} hs_slot_t;

static double bench_handshakes(etls_tls_server_ctx_t *ctx, test_env_t *te, const uint8_t *recs,
                               const size_t *lens, size_t n)
{
    static hs_slot_t slots[CONC];
    size_t conc = te->env.batch ? CONC : 1, done = 0;
    double t0 = now_s();
    while (done < n) {
        size_t k = n - done < conc ? n - done : conc;
        for (size_t i = 0; i < k; i++) {
            hs_slot_t *s = &slots[i];
            size_t used;
            etls_tls_conn_init(&s->c, ctx, &te->env);
            s->out = (etls_tls_buf_t){s->outb, 0, sizeof s->outb};
            s->app = (etls_tls_buf_t){s->appb, 0, sizeof s->appb};
            etls_tls_feed(&s->c, recs + (done + i) * 512, lens[done + i], &used, &s->out, &s->app);
        }
        for (int round = 0; round < 3 && te->env.batch; round++) { /* key exchange, signature */
            etls_batch_run(te->env.batch);
            etls_batch_waiter_t *w;
            while ((w = etls_batch_pop_ready(te->env.batch))) {
                hs_slot_t *s = (hs_slot_t *)etls_tls_conn_from_waiter(w);
                size_t used;
                etls_tls_feed(&s->c, NULL, 0, &used, &s->out, &s->app);
            }
        }
        for (size_t i = 0; i < k; i++) {
            if (slots[i].c.state != 4) /* flight sent, waiting for the client's Finished */
                fprintf(stderr, "handshake %zu did not complete its flight\n", done + i);
            etls_tls_conn_wipe(&slots[i].c);
        }
        done += k;
    }
    return (double)n / (now_s() - t0);
}

static void bench_records(test_env_t *te, etls_tls_server_ctx_t *ctx, uint16_t suite, size_t mib)
{
    static mini_t m;
    static uint8_t data[16384], rec[20000];
    static hs_slot_t s;
    static uint8_t big_out[1 << 20], big_app[1 << 20];
    uint8_t ch[2048], fin[64];
    ch_opts_t o = {0};
    o.suites = &suite;
    o.n_suites = 1;
    size_t used, n, recs = mib * 64;
    mini_init(&m, te->env.aead, 5);
    etls_tls_conn_init(&s.c, ctx, &te->env);
    etls_tls_buf_t out = {big_out, 0, sizeof big_out}, app = {big_app, 0, sizeof big_app};
    n = mini_build_ch(&m, &o, ch, sizeof ch);
    etls_tls_feed(&s.c, rec, mini_records(22, ch, n, 0, rec), &used, &out, &app);
    while (etls_tls_feed(&s.c, NULL, 0, &used, &out, &app) == ETLS_ERR_IN_PROGRESS)
        test_env_run(te);
    mini_read_flight(&m, ch, n, out.base, out.len);
    n = mini_finished_msg(&m, fin);
    etls_tls_feed(&s.c, rec, mini_seal(&m, 22, fin, n, 0, rec), &used, &out, &app);
    mini_switch_app(&m);
    double t0 = now_s();
    for (size_t i = 0; i < recs; i++) { /* seal: 16 KiB per record */
        out.len = 0;
        int rc = etls_tls_send(&s.c, data, sizeof data, &used, &out);
        while (rc == ETLS_ERR_IN_PROGRESS) {
            test_env_run(te);
            rc = etls_tls_send(&s.c, NULL, 0, &used, &out);
        }
    }
    double seal = (double)recs * 16384 / (now_s() - t0) / 1e6;
    /* opening needs fresh ciphertext per sequence number: prepare 64 records, feed in turns */
    static uint8_t stream[64 * 16500];
    size_t sl = 0;
    for (int i = 0; i < 64; i++)
        sl += mini_seal(&m, 23, data, sizeof data, 0, stream + sl);
    t0 = now_s();
    size_t opened = 0;
    for (size_t i = 0; i < recs / 64 + 1; i++) {
        size_t off = 0;
        s.c.rd.seq = 0; /* the same 64 records again: rewind the expected sequence number */
        while (off < sl) {
            app.len = 0;
            int rc = etls_tls_feed(&s.c, stream + off, sl - off, &used, &out, &app);
            off += used;
            while (rc == ETLS_ERR_IN_PROGRESS) {
                test_env_run(te);
                rc = etls_tls_feed(&s.c, NULL, 0, &used, &out, &app);
            }
            opened += app.len;
            if (rc < 0) {
                fprintf(stderr, "open failed: %d\n", rc);
                return;
            }
        }
    }
    double open = (double)opened / (now_s() - t0) / 1e6;
    printf("  %-30s seal %7.0f MB/s   open %7.0f MB/s\n", etls_tls_cipher_name(suite), seal, open);
    etls_tls_conn_wipe(&s.c);
    mini_free(&m);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000, mib = argc > 2 ? strtoul(argv[2], NULL, 10) : 256;
    static uint8_t recs[20000 * 512];
    static size_t lens[20000];
    n = n > 20000 ? 20000 : n;
    test_env_t te0, te32;
    test_env_init(&te0, 0);
    test_env_init(&te32, CONC);
    etls_tls_hs_pool_free(te32.env.hs_pool); /* a state per concurrent handshake */
    te32.env.hs_pool = etls_tls_hs_pool_new(CONC);
    static mini_t m;
    for (size_t i = 0; i < n; i++) { /* distinct client key shares */
        uint8_t ch[512];
        ch_opts_t o = {0};
        mini_init(&m, NULL, 1000 + i);
        size_t l = mini_build_ch(&m, &o, ch, sizeof ch);
        lens[i] = mini_records(22, ch, l, 0, recs + i * 512);
    }
    printf("server handshakes (X25519, AES-128-GCM; client cost excluded), %zu each:\n", n);
    for (int kt = 0; kt < KEY_COUNT; kt++) {
        test_cert_t cert;
        etls_tls_server_ctx_t ctx;
        test_cert_make(&cert, (key_type_t)kt, "server.example");
        etls_tls_server_ctx_init(&ctx, &te0.rng);
        test_ctx_add(&ctx, &cert, NULL, 1);
        double a = bench_handshakes(&ctx, &te0, recs, lens, n);
        double b = bench_handshakes(&ctx, &te32, recs, lens, n);
        printf("  %-8s inline %8.0f/s   batch of %d %8.0f/s\n", kt == 0 ? "ECDSA" : kt == 1 ? "RSA-2048" : "Ed25519",
               a, CONC, b);
        if (kt == 0) {
            printf("records, one connection, %zu MiB each way:\n", mib);
            for (uint16_t s = 0x1301; s <= 0x1303; s++)
                bench_records(&te0, &ctx, s, mib);
        }
        etls_tls_server_ctx_free(&ctx);
        test_cert_free(&cert);
    }
    mini_free(&m);
    test_env_free(&te0);
    test_env_free(&te32);
    return 0;
}
