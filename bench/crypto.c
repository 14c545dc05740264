/* `edgetls-bench crypto`: micro-benchmarks of our crypto against OpenSSL in the same run.
 *
 * Every line measures ours and OpenSSL's EVP doing the same work, in interleaved rounds on one
 * pinned CPU, and reports medians and the ratio ours/openssl (> 1 means ours is faster). */
#include <fnmatch.h>
#include <getopt.h>
#include <math.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cpu.h"
#include "common/err.h"
#include "crypto/hash.h"
#include "crypto/x25519.h"
#include "crypto_cases.h"

static const size_t len_64 = 64, len_16k = 16384;
static const etls_bench_aead_cfg_t gcm128_16k = {ETLS_AEAD_AES128GCM, 16384},
                                   gcm128_1k = {ETLS_AEAD_AES128GCM, 1024},
                                   gcm256_16k = {ETLS_AEAD_AES256GCM, 16384},
                                   chacha_16k = {ETLS_AEAD_CHACHA20POLY1305, 16384},
                                   chacha_1k = {ETLS_AEAD_CHACHA20POLY1305, 1024},
                                   ccm128_16k = {ETLS_AEAD_AES128CCM, 16384};

static const etls_bench_case_t cases[] = {
    {"x25519_keygen", etls_bench_x25519_setup, &etls_bench_x25519_keygen},
    {"x25519_shared", etls_bench_x25519_setup, &etls_bench_x25519_shared},
    {"x25519_shared_portable", etls_bench_x25519_setup, &etls_bench_x25519_portable},
    {"aes128gcm_seal_16k", etls_bench_aead_setup, &gcm128_16k},
    {"aes128gcm_seal_1k", etls_bench_aead_setup, &gcm128_1k},
    {"aes256gcm_seal_16k", etls_bench_aead_setup, &gcm256_16k},
    {"chacha20poly1305_seal_16k", etls_bench_aead_setup, &chacha_16k},
    {"chacha20poly1305_seal_1k", etls_bench_aead_setup, &chacha_1k},
    {"aes128ccm_seal_16k", etls_bench_aead_setup, &ccm128_16k},
    {"tls13_key_schedule", etls_bench_ks_setup, NULL},
    {"tls13_server_crypto", etls_bench_server_setup, NULL},
    {"tls13_server_crypto_hybrid", etls_bench_server_setup, &etls_bench_mlkem_hybrid_server},
    {"sha256_64", etls_bench_sha256_setup, &len_64},
    {"sha256_16k", etls_bench_sha256_setup, &len_16k},
    {"hmac_sha256_64", etls_bench_hmac_setup, &len_64},
    {"ecdsa_p256_sign", etls_bench_ecdsa_setup, NULL},
    {"p256_ecdh", etls_bench_p256_setup, NULL},
    {"ecdsa_p256_sign_native", etls_bench_p256n_sign_setup, NULL},
    {"ecdsa_p256_sign_batch", etls_bench_p256n_sign_batch_setup, NULL},
    {"p256_ecdh_native", etls_bench_p256n_ecdh_setup, NULL},
    {"mlkem768_keygen", etls_bench_mlkem_setup, &etls_bench_mlkem_keygen},
    {"mlkem768_encaps", etls_bench_mlkem_setup, &etls_bench_mlkem_encaps},
    {"mlkem768_decaps", etls_bench_mlkem_setup, &etls_bench_mlkem_decaps},
    {"x25519mlkem768_server", etls_bench_mlkem_setup, &etls_bench_mlkem_hybrid_server},
};
#define NCASES (sizeof cases / sizeof cases[0])

typedef struct opts {
    int json, list, help, cpu;
    const char *filter;
    double seconds;
    unsigned batch, rounds;
} opts_t;

int etls_bench_fail(const char *what, const char *why)
{
    fprintf(stderr, "edgetls-bench crypto: %s: %s\n", what, why);
    return ETLS_ERR_CRYPTO;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: edgetls-bench crypto [--json] [--filter NAME[,NAME...]] [--seconds S]\n"
            "                            [--batch N] [--rounds N] [--cpu N] [--list]\n"
            "  --json         one JSON object per line (a header object, then one per benchmark)\n"
            "  --filter       run only the named benchmarks (comma-separated; shell patterns\n"
            "                 such as 'x25519*' or '*gcm*' work)\n"
            "  --seconds S    measured CPU time per benchmark, both sides together (default 0.5)\n"
            "  --batch N      X25519 batch size, 1..%d (default 16)\n"
            "  --rounds N     interleaved rounds per side; the median is reported (default 5)\n"
            "  --cpu N        pin to CPU N (default: the CPU we start on; -1: do not pin)\n"
            "  --list         print the benchmark names and exit\n"
            "Rates are operations per second of the measuring thread's CPU time (AEAD and\n"
            "SHA-256 also GB/s, 1 GB = 1e9 bytes); ratio = ours / openssl (> 1: ours faster).\n",
            ETLS_BENCH_BATCH_MAX);
}

static int parse_num(const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (!end || end == s || *end || !isfinite(v) || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Returns 0, or ETLS_BENCH_EXIT_USAGE after printing why. */
static int parse_opts(int argc, char **argv, opts_t *o)
{
    static const struct option lo[] = {
        {"json", no_argument, NULL, 'j'},        {"filter", required_argument, NULL, 'f'},
        {"seconds", required_argument, NULL, 's'}, {"batch", required_argument, NULL, 'b'},
        {"rounds", required_argument, NULL, 'r'},  {"cpu", required_argument, NULL, 'c'},
        {"list", no_argument, NULL, 'l'},          {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    *o = (opts_t){.cpu = -2, .seconds = 0.5, .batch = 16, .rounds = 5};
    double v = 0;
    int c;
    optind = 1;
    opterr = 0; /* getopt would name the subcommand as the program; say it ourselves */
    while ((c = getopt_long(argc, argv, "+hjf:s:b:r:c:l", lo, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'j': o->json = 1; break;
        case 'l': o->list = 1; break;
        case 'f': o->filter = optarg; break;
        case 's': bad = parse_num(optarg, 1e-4, 3600, &o->seconds); break;
        case 'b': bad = parse_num(optarg, 1, ETLS_BENCH_BATCH_MAX, &v); o->batch = (unsigned)v; break;
        case 'r': bad = parse_num(optarg, 1, 64, &v); o->rounds = (unsigned)v; break;
        case 'c': bad = parse_num(optarg, -1, 4095, &v); o->cpu = (int)v; break;
        case 'h': o->help = 1; break;
        default: bad = 1; break;
        }
        if (bad || ((c == 'b' || c == 'r' || c == 'c') && v != floor(v))) {
            if (c == '?')
                fprintf(stderr, "edgetls-bench crypto: unknown option or missing value: %s\n",
                        argv[optind - 1]);
            else
                fprintf(stderr, "edgetls-bench crypto: bad option value '%s'\n", optarg);
            usage(stderr);
            return ETLS_BENCH_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "edgetls-bench crypto: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return ETLS_BENCH_EXIT_USAGE;
    }
    return 0;
}

/* --filter: comma-separated names or shell patterns ("x25519*", "*gcm*"); none selects all. */
static int selected(const char *name, const char *filter)
{
    if (!filter)
        return 1;
    for (const char *f = filter; *f;) {
        size_t n = strcspn(f, ",");
        char part[64];
        if (n > 0 && n < sizeof part) {
            memcpy(part, f, n);
            part[n] = '\0';
            if (fnmatch(part, name, 0) == 0)
                return 1;
        }
        f += n + (f[n] == ',');
    }
    return 0;
}

/* ECDSA P-256 key made in-process, handed to pk.h as PEM like a real key file. */
static int make_ec_key(etls_bench_env_t *env, etls_pkey_t **ours)
{
    char err[160] = "";
    env->ec_ossl = EVP_EC_gen("P-256");
    BIO *b = BIO_new(BIO_s_mem());
    char *pem = NULL;
    long len = 0;
    int ok = env->ec_ossl && b && PEM_write_bio_PrivateKey(b, env->ec_ossl, NULL, NULL, 0, NULL, NULL) == 1;
    if (ok)
        len = BIO_get_mem_data(b, &pem);
    ok = ok && len > 0 && etls_pkey_load_pem(ours, pem, (size_t)len, err, sizeof err) == 0;
    if (ok)
        OPENSSL_cleanse(pem, (size_t)len);
    BIO_free(b);
    env->ec_ours = *ours;
    if (!ok)
        etls_bench_fail("ecdsa key", err[0] ? err : "cannot generate a P-256 key");
    return ok ? 0 : ETLS_ERR_CRYPTO;
}

/* ---- output ---- */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

typedef struct header {
    char model[160], features[256], cycles[160], x25519[64];
    const char *aead, *hash, *openssl;
    int cpu;
} header_t;

static void print_header(const header_t *h, const opts_t *o)
{
    if (!o->json) {
        printf("edgetls-bench crypto  (ratio = ours/openssl; medians of %u interleaved rounds;\n"
               "                       rates per second of thread CPU time)\n"
               "cpu:      %s, pinned to %s%d\nfeatures: %s\ncycles:   %s\n"
               "ours:     x25519 %s; aead %s; sha256 %s\nopenssl:  %s\n\n",
               o->rounds, h->model, h->cpu < 0 ? "none " : "cpu ", h->cpu, h->features, h->cycles,
               h->x25519, h->aead, h->hash, h->openssl);
        printf("%-26s %14s %14s %8s %12s %12s  %s\n", "name", "ours", "openssl", "ratio",
               "cyc/op ours", "cyc/op ossl", "impl");
        return;
    }
    const char *keys[] = {"cpu_model", "cpu_features", "cycles", "x25519", "aead", "sha256", "openssl"};
    const char *vals[] = {h->model, h->features, h->cycles, h->x25519, h->aead, h->hash, h->openssl};
    printf("{\"header\":{");
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        printf("\"%s\":", keys[i]);
        json_str(stdout, vals[i]);
        printf(",");
    }
    printf("\"cpu\":%d,\"seconds\":%g,\"rounds\":%u,\"batch\":%u}}\n", h->cpu, o->seconds,
           o->rounds, o->batch);
}

/* "1.234 M/s" for rates, "12.34 GB/s" for throughput cases at or above 1 KiB per op. */
static void fmt_rate(char *buf, size_t len, double ops, size_t bytes)
{
    if (bytes >= 1024)
        snprintf(buf, len, "%.3f GB/s", ops * (double)bytes * 1e-9);
    else if (ops >= 1e6)
        snprintf(buf, len, "%.3f M/s", ops * 1e-6);
    else if (ops >= 1e3)
        snprintf(buf, len, "%.2f k/s", ops * 1e-3);
    else
        snprintf(buf, len, "%.1f /s", ops);
}

static void print_line(const char *name, const etls_bench_pair_t *p, const etls_bench_result_t *a,
                       const etls_bench_result_t *b, int json)
{
    double ratio = a->ops_per_s / b->ops_per_s;
    if (!json) {
        char ra[32], rb[32];
        fmt_rate(ra, sizeof ra, a->ops_per_s, p->bytes_per_op);
        fmt_rate(rb, sizeof rb, b->ops_per_s, p->bytes_per_op);
        printf("%-26s %14s %14s %7.2fx %12.0f %12.0f  %s\n", name, ra, rb, ratio, a->cycles_per_op,
               b->cycles_per_op, p->impl);
        fflush(stdout);
        return;
    }
    printf("{\"name\":\"%s\",\"impl\":", name);
    json_str(stdout, p->impl);
    printf(",\"ops_per_s\":%.3f,\"openssl_ops_per_s\":%.3f,\"ratio\":%.6f,"
           "\"cycles_per_op\":%.1f,\"openssl_cycles_per_op\":%.1f",
           a->ops_per_s, b->ops_per_s, ratio, a->cycles_per_op, b->cycles_per_op);
    if (p->bytes_per_op)
        printf(",\"bytes_per_op\":%zu,\"gbps\":%.6f,\"openssl_gbps\":%.6f", p->bytes_per_op,
               a->ops_per_s * (double)p->bytes_per_op * 1e-9,
               b->ops_per_s * (double)p->bytes_per_op * 1e-9);
    printf("}\n");
    fflush(stdout);
}

/* ---- running ---- */

/* Runs one case; its two results go to res[0] (ours) and res[1] (OpenSSL). */
static int run_case(const etls_bench_case_t *c, const etls_bench_env_t *env, const opts_t *o,
                    etls_bench_result_t res[2])
{
    etls_bench_pair_t p;
    memset(&p, 0, sizeof p);
    int rc = c->setup(env, c->arg, &p);
    if (rc == 0) {
        etls_bench_timing_t t = {.round_s = o->seconds / (2.0 * o->rounds), .rounds = o->rounds};
        rc = etls_bench_measure_pair(&p.ours, &p.ossl, &t, &res[0], &res[1]);
        if (rc == 0)
            print_line(c->name, &p, &res[0], &res[1], o->json);
        else
            etls_bench_fail(c->name, "a result was wrong during the run");
    } else {
        fprintf(stderr, "edgetls-bench crypto: %s: skipped (setup failed)\n", c->name);
    }
    if (p.free_st)
        p.free_st(p.st);
    return rc;
}

static void fill_header(header_t *h, const etls_bench_env_t *env, int cpu)
{
    const etls_x25519_impl_t *x = etls_x25519_best();
    h->cpu = cpu;
    etls_bench_cpu_model(h->model, sizeof h->model);
    etls_cpu_describe(etls_cpu_features(), h->features, sizeof h->features);
    etls_bench_cycles_describe(h->cycles, sizeof h->cycles);
    snprintf(h->x25519, sizeof h->x25519, "%s (lanes: %u)", x->name, x->lanes);
    h->aead = env->aead ? etls_aead_engine_describe(env->aead) : "unavailable";
    h->hash = etls_hash_impl_name(ETLS_HASH_SHA256);
    h->openssl = OpenSSL_version(OPENSSL_VERSION);
}

static int run_all(const opts_t *o, int cpu)
{
    etls_bench_env_t env = {.batch = o->batch};
    etls_pkey_t *ours_key = NULL;
    etls_bench_result_t hs[2] = {{0, 0}, {0, 0}};
    header_t h;
    int failed = 0;
    etls_bench_cycles_init();
    env.aead = etls_aead_engine_new();
    if (make_ec_key(&env, &ours_key) < 0)
        failed = 1;
    fill_header(&h, &env, cpu);
    print_header(&h, o);
    /* A failed case does not stop the others; the exit status reports it. */
    for (size_t i = 0; i < NCASES && ours_key; i++) {
        etls_bench_result_t res[2];
        if (!selected(cases[i].name, o->filter))
            continue;
        if (run_case(&cases[i], &env, o, res) < 0)
            failed = 1;
        else if (!o->json && !strcmp(cases[i].name, "tls13_server_crypto"))
            memcpy(hs, res, sizeof hs);
    }
    if (hs[0].ops_per_s > 0)
        printf("\nfull TLS 1.3 server handshakes/s that the crypto alone allows on one core:\n"
               "  ours %.0f, OpenSSL EVP %.0f (x25519 + ecdsa p-256 + key schedule + Finished)\n",
               hs[0].ops_per_s, hs[1].ops_per_s);
    etls_pkey_free(ours_key);
    EVP_PKEY_free(env.ec_ossl);
    if (env.aead)
        etls_aead_engine_free(env.aead);
    return failed;
}

int etls_bench_crypto_main(int argc, char **argv)
{
    opts_t o;
    int rc = parse_opts(argc, argv, &o);
    if (rc)
        return rc;
    if (o.help) {
        usage(stdout);
        return 0;
    }
    size_t matched = 0;
    for (size_t i = 0; i < NCASES; i++) {
        if (!selected(cases[i].name, o.filter))
            continue;
        matched++;
        if (o.list)
            printf("%s\n", cases[i].name);
    }
    if (o.list)
        return 0;
    if (!matched) {
        fprintf(stderr, "edgetls-bench crypto: no benchmark matches '%s' (see --list)\n", o.filter);
        return ETLS_BENCH_EXIT_USAGE;
    }
    int cpu = -1;
    if (o.cpu != -1 && (cpu = etls_bench_pin(o.cpu < 0 ? -1 : o.cpu)) < 0) {
        fprintf(stderr, "edgetls-bench crypto: cannot pin to cpu %d: %s\n", o.cpu, strerror(-cpu));
        return ETLS_BENCH_EXIT_USAGE;
    }
    return run_all(&o, cpu);
}
