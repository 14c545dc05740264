/* Snapshot scale benchmark (run by hand; not a test): N certificate entries, each its own P-256
 * key and self-signed leaf, built into a whole snapshot as the dataplane's ctl thread does; then
 * one entry replaced by a delta, R times. Prints the build time, the delta apply time, the heap
 * per entry (glibc mallinfo2) and SNI lookups per second with N loaded.
 *   build/tests/snapshot/bench_snap_scale [N=100000] [R=20] */
#include "pem_util.h"
#include "snapshot/snapshot.h"
#include "test.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t heap_bytes(void)
{
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

static void put(etls_snap_buf_t *b, const char *entry, const pem_pair_t *pp)
{
    etls_snap_cert_in_t c = {(const uint8_t *)pp->chain, (uint32_t)pp->chain_len, (const uint8_t *)pp->key,
                             (uint32_t)pp->key_len};
    etls_snap_enc_entry(b, entry, 0, NULL, 0, &c, 1);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000, rounds = argc > 2 ? strtoul(argv[2], NULL, 10) : 20;
    if (n < 2 || rounds < 1 || rounds > 1000) {
        fprintf(stderr, "usage: bench_snap_scale [N >= 2] [ROUNDS 1..1000]\n");
        return 2;
    }
    static uint8_t tk[1][ETLS_SNAP_KEY_LEN];
    etls_rand_t rng;
    etls_rand_init(&rng);
    etls_tls_server_ctx_t tmpl;
    CHECK(etls_tls_server_ctx_init(&tmpl, &rng) == 0);
    double t0 = now_s();
    pem_pair_t *pp = calloc(n, sizeof *pp);
    CHECK(pp != NULL);
    char name[64], entry[32];
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "h%zu.bench.test", i);
        pp[i] = make_cert(name);
    }
    double t_gen = now_s() - t0;
    etls_snap_buf_t b = {0};
    etls_snap_enc_begin(&b, 1, 3600, (const uint8_t(*)[ETLS_SNAP_KEY_LEN])tk, NULL, 1);
    for (size_t i = 0; i < n; i++) {
        snprintf(entry, sizeof entry, "e%zu", i);
        put(&b, entry, &pp[i]);
    }
    CHECK(etls_snap_enc_end(&b) == 0);
    size_t heap0 = heap_bytes();
    char err[512];
    t0 = now_s();
    etls_snap_t *cur = etls_snap_build(&tmpl, NULL, b.p, b.len, err, sizeof err);
    double t_full = now_s() - t0;
    CHECK_MSG(cur != NULL, "%s", err);
    size_t heap1 = heap_bytes();
    printf("entries %zu: certificates generated in %.1f s; whole snapshot %.1f MB built in %.2f s (%.1f us/entry)\n",
           n, t_gen, (double)b.len / 1e6, t_full, t_full * 1e6 / (double)n);
    printf("dataplane heap per entry: %.0f bytes (certificate message, key, names, index)\n",
           (double)(heap1 - heap0) / (double)n);
    etls_snap_buf_free(&b);
    double *t = calloc(rounds, sizeof *t);
    CHECK(t != NULL);
    for (size_t r = 0; r < rounds && cur; r++) {
        size_t k = (r * 7919) % n;
        snprintf(name, sizeof name, "h%zu.bench.test", k);
        snprintf(entry, sizeof entry, "e%zu", k);
        pem_pair_t np = make_cert(name);
        etls_snap_enc_begin_delta(&b, cur->version, cur->version + 1, 3600, (const uint8_t(*)[ETLS_SNAP_KEY_LEN])tk,
                                  NULL, 1, NULL, 0);
        put(&b, entry, &np);
        CHECK(etls_snap_enc_end(&b) == 0);
        t0 = now_s();
        etls_snap_t *next = etls_snap_build(&tmpl, cur, b.p, b.len, err, sizeof err);
        t[r] = (now_s() - t0) * 1e3;
        CHECK_MSG(next != NULL, "%s", err);
        etls_snap_buf_free(&b);
        pem_pair_free(&np);
        etls_snap_free(cur);
        cur = next;
    }
    qsort(t, rounds, sizeof *t, cmp);
    printf("one entry replaced by a delta, %zu rounds: p50 %.2f ms, max %.2f ms to build the new snapshot\n", rounds,
           t[rounds / 2], t[rounds - 1]);
    t0 = now_s();
    size_t hits = 0, q = 1000000;
    for (size_t i = 0; i < q; i++) {
        int len = snprintf(name, sizeof name, "h%zu.bench.test", (i * 104729) % n);
        const etls_tls_cert_t *c = etls_tls_server_ctx_select_cert(&cur->tls, name, (size_t)len, NULL, 0);
        hits += c && !strcmp(c->names, name);
    }
    double t_q = now_s() - t0;
    CHECK(hits == q);
    printf("SNI lookups with %zu loaded: %.0f ns each\n", n, t_q * 1e9 / (double)q);
    etls_snap_free(cur);
    for (size_t i = 0; i < n; i++)
        pem_pair_free(&pp[i]);
    free(pp);
    free(t);
    etls_tls_server_ctx_free(&tmpl);
    return etls_test_summary("bench_snap_scale");
}
