/* The SNI index (tls/sni.c) against the plain scan it replaced, on contexts of synthetic
 * certificates (shared entries need no keys): many names, duplicates across certificates,
 * wildcards, defaults and several schemes, so every tier and tie is exercised. Then a
 * 200,000-certificate context: lookups still find every name, and the time per lookup is printed
 * (not asserted) next to the one-certificate figure. */
#include "test.h"

#include "tls/tls_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The selection rules written as the scan edgetls used before the index: the reference. */
static int ref_match(const char *pat, size_t plen, const char *name, size_t nlen, int wild)
{
    if (!wild)
        return plen == nlen && memcmp(pat, name, nlen) == 0;
    if (plen < 3 || pat[0] != '*' || pat[1] != '.')
        return 0;
    const char *dot = memchr(name, '.', nlen);
    if (!dot || dot == name)
        return 0;
    size_t rest = nlen - (size_t)(dot - name);
    return rest == plen - 1 && memcmp(dot, pat + 1, rest) == 0;
}

static int ref_scheme(uint16_t s, const uint16_t *schemes, size_t n)
{
    if (!schemes)
        return 1;
    for (size_t i = 0; i < n; i++)
        if (schemes[i] == s)
            return 1;
    return 0;
}

static const etls_tls_cert_t *ref_select(const etls_tls_server_ctx_t *ctx, const char *name, size_t len,
                                         const uint16_t *schemes, size_t n)
{
    for (int tier = name ? 0 : 2; tier < 4; tier++)
        for (size_t i = 0; i < ctx->n_certs; i++) {
            const etls_tls_cert_t *c = ctx->certs[i];
            int hit = 0;
            if (tier < 2) {
                for (size_t o = 0; c->names[o]; o += strlen(c->names + o) + 1)
                    hit |= ref_match(c->names + o, strlen(c->names + o), name, len, tier == 1);
            } else {
                hit = tier == 2 ? c->is_default : 1;
            }
            if (hit && ref_scheme(c->scheme, schemes, n))
                return c;
        }
    return NULL;
}

static uint64_t rng_state = 0x1234567;
static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)((rng_state >> 33) % n);
}

static const uint16_t scheme_set[] = {ETLS_SIG_ECDSA_SECP256R1_SHA256, ETLS_SIG_RSA_PSS_RSAE_SHA256,
                                      ETLS_SIG_ED25519};

static etls_tls_cert_t *fake_cert(const char *names, size_t len, uint16_t scheme, int is_default)
{
    etls_tls_cert_t *c = calloc(1, sizeof *c);
    CHECK(c != NULL);
    c->names = malloc(len);
    CHECK(c->names != NULL);
    memcpy(c->names, names, len);
    c->names_len = len;
    c->scheme = scheme;
    c->is_default = (uint8_t)is_default;
    c->refs = 1; /* the test's own reference: contexts never free these */
    return c;
}

static void fake_free(etls_tls_cert_t *c)
{
    CHECK(c->refs == 1);
    free(c->names);
    free(c);
}

/* A random name from a small vocabulary, so names repeat across certificates. */
static size_t rand_name(char *out, int allow_wild)
{
    static const char *const labels[] = {"a", "b", "www", "img", "x1", "api", "cdn"};
    static const char *const zones[] = {"example.com", "example.org", "t.test", "com"};
    int wild = allow_wild && rnd(4) == 0;
    int depth = (int)rnd(2);
    size_t n = 0;
    if (wild)
        n += (size_t)sprintf(out + n, "*.");
    for (int d = 0; d < depth; d++)
        n += (size_t)sprintf(out + n, "%s.", labels[rnd(7)]);
    n += (size_t)sprintf(out + n, "%s", zones[rnd(4)]);
    return n;
}

static void test_against_scan(void)
{
    for (int round = 0; round < 20; round++) {
        etls_tls_server_ctx_t ctx;
        memset(&ctx, 0, sizeof ctx);
        ctx.sni.seed = rng_state;
        size_t n = 1 + rnd(round < 10 ? 8 : 600);
        etls_tls_cert_t **certs = calloc(n, sizeof *certs);
        CHECK(certs != NULL);
        for (size_t i = 0; i < n; i++) {
            char names[1024];
            size_t len = 0;
            for (uint32_t k = 0, nn = 1 + rnd(3); k < nn; k++)
                len += rand_name(names + len, 1) + 1;
            names[len++] = 0;
            certs[i] = fake_cert(names, len, scheme_set[rnd(3)], rnd(10) == 0);
            CHECK(etls_tls_server_ctx_add_shared(&ctx, certs[i]) == 0);
            CHECK(certs[i]->refs == 2);
        }
        for (int q = 0; q < 3000; q++) {
            char name[300];
            size_t len = rand_name(name, 0);
            if (rnd(20) == 0)
                len = (size_t)sprintf(name, ".example.com");
            uint16_t schemes[3];
            size_t ns = rnd(4);
            for (size_t k = 0; k < ns; k++)
                schemes[k] = scheme_set[rnd(3)];
            const uint16_t *sp = ns ? schemes : (rnd(2) ? NULL : schemes);
            int no_sni = rnd(30) == 0;
            const etls_tls_cert_t *want = ref_select(&ctx, no_sni ? NULL : name, len, sp, ns);
            const etls_tls_cert_t *got = etls_tls_server_ctx_select_cert(&ctx, no_sni ? NULL : name, len, sp, ns);
            CHECK_MSG(got == want, "round %d query %s with %zu schemes: index and scan differ", round, name, ns);
        }
        etls_tls_server_ctx_free(&ctx);
        for (size_t i = 0; i < n; i++)
            fake_free(certs[i]);
        free(certs);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ns per lookup over `count` names h<i>.bench.test (every one present). */
static double lookups(const etls_tls_server_ctx_t *ctx, size_t count, size_t iters)
{
    char name[64];
    double t0 = now_s();
    for (size_t i = 0; i < iters; i++) {
        size_t k = (i * 7919) % count;
        int len = snprintf(name, sizeof name, "h%zu.bench.test", k);
        const etls_tls_cert_t *c = etls_tls_server_ctx_select_cert(ctx, name, (size_t)len, NULL, 0);
        CHECK_MSG(c && !strcmp(c->names, name), "name %s not found", name);
    }
    return (now_s() - t0) * 1e9 / (double)iters;
}

static void test_scale(void)
{
    enum { N = 200000 };
    etls_tls_server_ctx_t big, one;
    memset(&big, 0, sizeof big);
    memset(&one, 0, sizeof one);
    etls_tls_cert_t **certs = calloc(N, sizeof *certs);
    CHECK(certs != NULL);
    CHECK(etls_tls_server_ctx_reserve(&big, N, N) == 0);
    for (size_t i = 0; i < N; i++) {
        char names[64];
        int len = snprintf(names, sizeof names, "h%zu.bench.test", i);
        names[len + 1] = 0;
        certs[i] = fake_cert(names, (size_t)len + 2, scheme_set[0], 0);
        CHECK(etls_tls_server_ctx_add_shared(&big, certs[i]) == 0);
    }
    CHECK(etls_tls_server_ctx_add_shared(&one, certs[0]) == 0);
    CHECK(etls_tls_server_ctx_select_cert(&big, "nope.bench.test", 15, NULL, 0) == certs[0]); /* first */
    double t_one = lookups(&one, 1, 200000), t_big = lookups(&big, N, 200000);
    printf("sni lookup: %.0f ns with 1 certificate, %.0f ns with %d (ratio %.2f)\n", t_one, t_big, N,
           t_big / t_one);
    etls_tls_server_ctx_free(&big);
    etls_tls_server_ctx_free(&one);
    for (size_t i = 0; i < N; i++)
        fake_free(certs[i]);
    free(certs);
}

int main(void)
{
    test_against_scan();
    test_scale();
    return etls_test_summary("tls_sni");
}
