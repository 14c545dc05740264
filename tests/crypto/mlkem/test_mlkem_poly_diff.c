/* The rejection sampling of SampleNTT against a plain Alg. 7, and every NTT-domain
 * implementation against the portable one, bit for bit (not just mod q):
 * NTT, inverse NTT and MultiplyNTTs on random inputs in (-q, q) (the range ML-KEM feeds them)
 * and on the extremes (all q - 1, all -(q - 1), zero, alternating). An implementation the CPU
 * lacks (or ETLS_CPU_DISABLE removes) is reported as skipped; the portable path itself is held
 * to the vectors by test_mlkem_vectors. */
#include <stdio.h>
#include <string.h>

#include "mlkem/mlkem_internal.h"
#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
#define ROUNDS 2000
#else
#define ROUNDS 20000
#endif

static etls_test_rng_t rng;

static void fill(mlkem_poly_t *p, int kind)
{
    for (int i = 0; i < MLKEM_N; i++) {
        int16_t v;
        if (kind == 0)
            v = (int16_t)(etls_test_rng_next(&rng) % (2 * MLKEM_Q - 1)) - (MLKEM_Q - 1);
        else if (kind == 1)
            v = MLKEM_Q - 1;
        else if (kind == 2)
            v = -(MLKEM_Q - 1);
        else if (kind == 3)
            v = 0;
        else
            v = (int16_t)((i & 1) ? MLKEM_Q - 1 : -(MLKEM_Q - 1));
        p->c[i] = v;
    }
}

static void compare(const etls_mlkem_poly_impl_t *ref, const etls_mlkem_poly_impl_t *x)
{
    static mlkem_polyvec_t a, b;
    mlkem_poly_t p1, p2, r1, r2;
    for (int n = 0; n < ROUNDS + 5; n++) {
        int kind = n < 5 ? n + 0 : 0;
        fill(&p1, kind);
        p2 = p1;
        ref->ntt(&p1);
        x->ntt(&p2);
        CHECK_MSG(memcmp(&p1, &p2, sizeof p1) == 0, "%s ntt, round %d", x->name, n);
        fill(&p1, kind);
        p2 = p1;
        ref->invntt(&p1);
        x->invntt(&p2);
        CHECK_MSG(memcmp(&p1, &p2, sizeof p1) == 0, "%s invntt, round %d", x->name, n);
        for (int v = 0; v < MLKEM_K; v++) {
            fill(&a.p[v], kind);
            fill(&b.p[v], n < 5 ? (kind + v) % 5 : 0);
        }
        ref->basemul_acc(&r1, &a, &b);
        x->basemul_acc(&r2, &a, &b);
        CHECK_MSG(memcmp(&r1, &r2, sizeof r1) == 0, "%s basemul_acc, round %d", x->name, n);
    }
}

/* SampleNTT's rejection step against FIPS 203 Alg. 7 written plainly here: random buffers
 * (lengths 0..600, a multiple of 3 or not), random starting counts, then the same coefficients
 * and count; chunks of 168 bytes until full, as the matrix expansion calls it. */
static unsigned rej_ref(int16_t *c, unsigned ctr, const uint8_t *b, size_t len)
{
    for (size_t i = 0; i + 3 <= len && ctr < MLKEM_N; i += 3) {
        unsigned d1 = b[i] + 256u * (b[i + 1] % 16), d2 = b[i + 1] / 16 + 16u * b[i + 2];
        if (d1 < MLKEM_Q)
            c[ctr++] = (int16_t)d1;
        if (d2 < MLKEM_Q && ctr < MLKEM_N)
            c[ctr++] = (int16_t)d2;
    }
    return ctr;
}

static void test_rej_uniform(void)
{
    static uint8_t buf[600];
    for (int n = 0; n < ROUNDS; n++) {
        int16_t a[MLKEM_N], b[MLKEM_N];
        size_t len = etls_test_rng_next(&rng) % sizeof buf;
        unsigned start = (unsigned)(etls_test_rng_next(&rng) % (MLKEM_N + 1));
        etls_test_rng_bytes(&rng, buf, len);
        if (n % 4 == 0) /* mostly rejected candidates */
            for (size_t i = 0; i < len; i++)
                buf[i] |= 0xd0;
        memset(a, 0, sizeof a);
        memset(b, 0, sizeof b);
        unsigned ra = rej_ref(a, start, buf, len), rb = etls_mlkem_rej_uniform(b, start, buf, len);
        CHECK_MSG(ra == rb && memcmp(a + start, b + start, (ra - start) * sizeof a[0]) == 0,
                  "rej_uniform len %zu start %u: %u vs %u", len, start, ra, rb);
    }
    for (int n = 0; n < 200; n++) {
        int16_t a[MLKEM_N], b[MLKEM_N];
        unsigned ra = 0, rb = 0;
        while (ra < MLKEM_N) {
            etls_test_rng_bytes(&rng, buf, 168);
            ra = rej_ref(a, ra, buf, 168);
            rb = etls_mlkem_rej_uniform(b, rb, buf, 168);
            CHECK(ra == rb);
        }
        CHECK_MEM(a, b, sizeof a);
    }
}

int main(void)
{
    etls_test_rng_seed(&rng, etls_test_seed("mlkem_poly_diff"));
    test_rej_uniform();
    const etls_mlkem_poly_impl_t *ref = etls_mlkem_poly_portable_get();
    const etls_mlkem_poly_impl_t *impls[] = {etls_mlkem_poly_avx2_get()};
    const char *names[] = {"avx2"};
    for (size_t i = 0; i < sizeof impls / sizeof impls[0]; i++) {
        if (!impls[i]) {
            printf("mlkem_poly_diff: %s not available here (CPU or ETLS_CPU_DISABLE): skipped\n", names[i]);
            continue;
        }
        compare(ref, impls[i]);
    }
    printf("mlkem_poly_diff: the dispatcher uses %s\n", etls_mlkem_poly()->name);
    CHECK(etls_mlkem_poly() == (impls[0] ? impls[0] : ref));
    return etls_test_summary("mlkem_poly_diff");
}
