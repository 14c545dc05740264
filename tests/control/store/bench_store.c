/* A benchmark, not a test (built by meson, never run by it): what control/store costs with many
 * certificate entries. For each size it commits N synthetic entries (a ~1.5 KB PEM-like chain
 * and a ~250-byte key each: the store does not parse them), then times a one-entry replace
 * commit (the path of `cert replace`; 10 versions kept, so the replaced objects are collected
 * once pruned), a state copy, a verifying load (and one with ETLS_STORE_LOAD_TRUST_VERIFIED),
 * and an open.
 *
 *   bench_store [--dir PARENT] [--replaces R] [SIZE...]      (default sizes: 1000 10000 100000)
 *
 * PARENT (default /tmp) must be on the file system whose fsync cost you want to see. */
#include "store.h"

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHAIN_LEN 1500
#define KEY_LEN 250

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

/* Base64-looking lines between PEM markers, unique per (entry, generation). */
static void payload(char *buf, size_t len, const char *kind, size_t entry, unsigned gen)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int n = snprintf(buf, len, "-----BEGIN %s-----\n%zu.%u\n", kind, entry, gen);
    uint64_t x = entry * 0x9e3779b97f4a7c15ull + gen * 0xbf58476d1ce4e5b9ull + 1;
    for (size_t i = (size_t)n; i < len - 1; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (i - (size_t)n) % 65 == 64 ? '\n' : b64[x & 63];
    }
    buf[len - 1] = '\n';
}

static int set_entry_cert(etls_store_entry_t *e, size_t i, unsigned gen)
{
    char chain[CHAIN_LEN], key[KEY_LEN];
    payload(chain, sizeof chain, "CERTIFICATE", i, gen);
    payload(key, sizeof key, "PRIVATE KEY", i, gen);
    return etls_store_cert_set(&e->certs[0], chain, sizeof chain, key, sizeof key, "ecdsa-p256");
}

static size_t count_objects(const char *dir)
{
    char p[600];
    snprintf(p, sizeof p, "%s/objects", dir);
    DIR *d = opendir(p);
    size_t n = 0;
    for (struct dirent *de; d && (de = readdir(d));)
        n += de->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int run(const char *parent, size_t n, unsigned replaces)
{
    char dir[512], err[512];
    snprintf(dir, sizeof dir, "%s/etls-bench-store-%zu-%d", parent, n, (int)getpid());
    etls_store_t *s;
    if (etls_store_open(&s, dir, 10, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    etls_store_state_t st = {0};
    st.entries = calloc(n, sizeof *st.entries);
    if (!st.entries)
        return -1;
    char host[64];
    for (size_t i = 0; i < n; i++, st.n_entries++) {
        etls_store_entry_t *e = &st.entries[i];
        snprintf(e->name, sizeof e->name, "e%zu", i);
        snprintf(host, sizeof host, "h%zu.example.test", i);
        e->names = malloc(sizeof *e->names);
        e->names[0] = strdup(host);
        e->n_names = 1;
        e->n_certs = 1;
        e->since = 1;
        if (set_entry_cert(e, i, 0))
            return -1;
    }
    double t0 = now_ms();
    if (etls_store_commit(s, &st, NULL, 0, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    double t_first = now_ms() - t0;
    size_t objs_before = count_objects(dir);
    double *t = calloc(replaces, sizeof *t);
    for (unsigned r = 0; r < replaces; r++) {
        size_t i = (r * 7919u) % n;
        if (set_entry_cert(&st.entries[i], i, r + 1))
            return -1;
        st.entries[i].since = etls_store_version(s) + 1;
        snprintf(st.comment, sizeof st.comment, "cert replace e%zu", i);
        t0 = now_ms();
        if (etls_store_commit(s, &st, NULL, 0, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            return -1;
        }
        t[r] = now_ms() - t0;
    }
    size_t objs_after = count_objects(dir);
    qsort(t, replaces, sizeof *t, cmp_double);
    etls_store_state_t copy;
    t0 = now_ms();
    if (etls_store_state_copy(&copy, &st))
        return -1;
    double t_copy = now_ms() - t0;
    etls_store_state_free(&copy);
    etls_store_state_t back;
    t0 = now_ms();
    if (etls_store_load(s, 0, &back, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    double t_load = now_ms() - t0;
    etls_store_state_free(&back);
    t0 = now_ms();
    if (etls_store_load_opts(s, 0, &back, ETLS_STORE_LOAD_TRUST_VERIFIED, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    double t_load_trusted = now_ms() - t0;
    etls_store_state_free(&back);
    etls_store_close(s);
    t0 = now_ms();
    if (etls_store_open(&s, dir, 10, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    double t_open = now_ms() - t0;
    etls_store_close(s);
    printf("%7zu entries: first commit %.0f ms; one-entry replace commit (%u) p50 %.2f ms, max %.2f ms; "
           "objects %zu -> %zu; state copy %.2f ms; load %.0f ms (trusting verified objects %.0f ms); open %.0f ms\n",
           n, t_first, replaces, t[replaces / 2], t[replaces - 1], objs_before, objs_after, t_copy, t_load, t_load_trusted, t_open);
    fflush(stdout);
    free(t);
    etls_store_state_free(&st);
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

int main(int argc, char **argv)
{
    const char *parent = "/tmp";
    unsigned replaces = 20;
    size_t sizes[16], n_sizes = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            parent = argv[++i];
        else if (!strcmp(argv[i], "--replaces") && i + 1 < argc && (replaces = (unsigned)atoi(argv[++i])) >= 1)
            ;
        else if (n_sizes < 16 && atol(argv[i]) > 0 && atol(argv[i]) <= 200000)
            sizes[n_sizes++] = (size_t)atol(argv[i]);
        else {
            fprintf(stderr, "usage: bench_store [--dir PARENT] [--replaces R] [SIZE (1..200000)...]\n");
            return 2;
        }
    }
    if (n_sizes == 0) {
        sizes[0] = 1000, sizes[1] = 10000, sizes[2] = 100000;
        n_sizes = 3;
    }
    for (size_t i = 0; i < n_sizes; i++)
        if (run(parent, sizes[i], replaces))
            return 1;
    return 0;
}
