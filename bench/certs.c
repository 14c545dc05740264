/* edgetls-bench certs: many certificates for scale benchmarks and tests of the control plane.
 *   edgetls-bench certs --count N --out DIR [--wildcard-share PERCENT] [--jobs J]
 * One P-256 CA, then N leaves each with its own P-256 key and one SAN: h<i>.bench.test, or for
 * the share that is wildcard *.w<i>.bench.test. Writes DIR/ca.pem (and ca.key), for the control
 * plane's --ca-file; DIR/certs/<i>.pem and <i>.key (0600); DIR/batch.txt, the lines for
 * `edgetlsctl batch` (entries e<i>, paths relative to DIR); DIR/sni.txt, one name per leaf for
 * `edgetls-bench hs --sni-file` (x.w<i>.bench.test for a wildcard). The leaves are made by J
 * forked processes (default the online CPUs); the CA is the root, so a chain is the leaf alone. */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CERTS_MAX 1000000
#define CERTS_JOBS_MAX 16

static X509_EXTENSION *ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
    return X509V3_EXT_conf_nid(NULL, &v3, nid, value);
}

/* What every certificate of a run shares, made once rather than per leaf: the extensions parsed
 * from text, the key generation context and SHA-256 (OpenSSL 3.0 looks each up in its provider
 * tables under a lock). With the public key set directly (below), a leaf costs ~80 us of CPU
 * instead of ~170 us. */
typedef struct gen {
    EVP_PKEY_CTX *keygen;
    EVP_MD *sha256;
    EVP_PKEY *ca_key;
    X509 *ca;
    X509_EXTENSION *leaf_ext[3]; /* basicConstraints, keyUsage, extendedKeyUsage */
} gen_t;

/* The subjectPublicKeyInfo of a P-256 key set from its point directly: X509_set_pubkey goes
 * through an OpenSSL 3.0 encoder and back (a quarter of the time per leaf). */
static int set_p256_pubkey(X509 *x, EVP_PKEY *key)
{
    unsigned char pt[65];
    size_t len = 0;
    if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt, &len) != 1 || len != 65)
        return -1;
    unsigned char *copy = OPENSSL_memdup(pt, len);
    if (!copy || !X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), OBJ_nid2obj(NID_X9_62_id_ecPublicKey),
                                         V_ASN1_OBJECT, OBJ_nid2obj(NID_X9_62_prime256v1), copy, (int)len)) {
        OPENSSL_free(copy);
        return -1;
    }
    return 0;
}

static X509 *cert_begin(EVP_PKEY *key, X509 *issuer, const char *cn, long serial)
{
    X509 *x = X509_new();
    if (!x)
        return NULL;
    int ok = X509_set_version(x, 2) && ASN1_INTEGER_set(X509_get_serialNumber(x), serial) &&
             X509_gmtime_adj(X509_getm_notBefore(x), -3600) && X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400) &&
             X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) &&
             X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x)) && !set_p256_pubkey(x, key);
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* The self-signed CA (P-256, valid 30 days) and the shared leaf extensions; -1 on failure. */
static int gen_init(gen_t *g)
{
    memset(g, 0, sizeof *g);
    g->keygen = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    g->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!g->keygen || !g->sha256 || EVP_PKEY_keygen_init(g->keygen) <= 0 ||
        EVP_PKEY_CTX_set_group_name(g->keygen, "P-256") <= 0 || EVP_PKEY_generate(g->keygen, &g->ca_key) <= 0)
        return -1;
    X509 *ca = g->ca = cert_begin(g->ca_key, NULL, "edgetls bench CA", 1);
    if (!ca)
        return -1;
    X509_EXTENSION *bc = ext(ca, ca, NID_basic_constraints, "critical,CA:TRUE");
    X509_EXTENSION *ku = ext(ca, ca, NID_key_usage, "critical,keyCertSign,cRLSign");
    int ok = bc && ku && X509_add_ext(ca, bc, -1) && X509_add_ext(ca, ku, -1) && X509_sign(ca, g->ca_key, g->sha256);
    X509_EXTENSION_free(bc);
    X509_EXTENSION_free(ku);
    g->leaf_ext[0] = ext(NULL, ca, NID_basic_constraints, "CA:FALSE");
    g->leaf_ext[1] = ext(NULL, ca, NID_key_usage, "critical,digitalSignature");
    g->leaf_ext[2] = ext(NULL, ca, NID_ext_key_usage, "serverAuth");
    return ok && g->leaf_ext[0] && g->leaf_ext[1] && g->leaf_ext[2] ? 0 : -1;
}

static void gen_free(gen_t *g)
{
    for (int i = 0; i < 3; i++)
        X509_EXTENSION_free(g->leaf_ext[i]);
    X509_free(g->ca);
    EVP_PKEY_free(g->ca_key);
    EVP_MD_free(g->sha256);
    EVP_PKEY_CTX_free(g->keygen);
}

/* subjectAltName with the one DNS name, built directly rather than parsed from text. */
static int add_san(X509 *x, const char *dns)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
    int ok = gens && gn && ia5 && ASN1_STRING_set(ia5, dns, -1);
    if (ok) {
        GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
        ia5 = NULL;
        ok = sk_GENERAL_NAME_push(gens, gn) > 0;
        if (ok)
            gn = NULL;
    }
    ok = ok && X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1;
    ASN1_IA5STRING_free(ia5);
    GENERAL_NAME_free(gn);
    GENERAL_NAMES_free(gens);
    return ok ? 0 : -1;
}

/* A leaf for key with the one name as CN and SAN, signed by the CA; NULL on failure. */
static X509 *make_leaf(const gen_t *g, EVP_PKEY *key, const char *name, long serial)
{
    X509 *x = cert_begin(key, g->ca, name, serial);
    int ok = x && !add_san(x, name);
    for (int i = 0; ok && i < 3; i++)
        ok = X509_add_ext(x, g->leaf_ext[i], -1);
    if (!ok || !X509_sign(x, g->ca_key, g->sha256)) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static FILE *open_out(const char *dir, const char *name, int private_file)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, private_file ? 0600 : 0644);
    /* an existing file keeps its mode through O_TRUNC: a key file is set to 0600 regardless */
    if (fd >= 0 && private_file && fchmod(fd, 0600)) {
        close(fd);
        fd = -1;
    }
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        fprintf(stderr, "edgetls-bench certs: %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    return f;
}

static int write_pair(const char *dir, const char *base, X509 *x, EVP_PKEY *k)
{
    char name[64];
    snprintf(name, sizeof name, "%s.pem", base);
    FILE *f = open_out(dir, name, 0);
    int ok = f && PEM_write_X509(f, x);
    if (f && fclose(f))
        ok = 0;
    snprintf(name, sizeof name, "%s.key", base);
    f = ok ? open_out(dir, name, 1) : NULL;
    ok = f && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    if (f && fclose(f))
        ok = 0;
    return ok ? 0 : -1;
}

/* A whole decimal number in lo..hi, or -1 (strtol alone takes "10x" as 10). */
static long number(const char *s, long lo, long hi)
{
    char *e;
    errno = 0;
    long v = strtol(s, &e, 10);
    return errno || e == s || *e || v < lo || v > hi ? -1 : v;
}

static int usage(void)
{
    fprintf(stderr, "usage: edgetls-bench certs --count N --out DIR [--wildcard-share PERCENT] [--jobs J]\n"
                    "  N leaves (P-256, one SAN each: h<i>.bench.test, or *.w<i>.bench.test for the first\n"
                    "  PERCENT %% of them) under one P-256 CA, generated by J processes (default: the online\n"
                    "  CPUs, at most 16). Writes in DIR: ca.pem (the root, for --ca-file / --cacert) and\n"
                    "  ca.key, certs/<i>.pem (the leaf; the CA is the root, so the chain is the leaf alone)\n"
                    "  and certs/<i>.key (0600), batch.txt (edgetlsctl batch: cert add e<i>, paths relative\n"
                    "  to DIR) and sni.txt (edgetls-bench hs --sni-file: x.w<i>.bench.test for wildcards)\n");
    return 2;
}

/* Leaves first, first + jobs, ... below count into dir; 0 or 1. */
static int write_leaves(const gen_t *g, const char *dir, long count, long share, long first, long jobs)
{
    for (long i = first; i < count; i += jobs) {
        int wild = i < count * share / 100; /* the first share% of the leaves */
        char name[64], base[32];
        snprintf(name, sizeof name, wild ? "*.w%ld.bench.test" : "h%ld.bench.test", i);
        snprintf(base, sizeof base, "%ld", i);
        EVP_PKEY *k = NULL;
        X509 *x = EVP_PKEY_generate(g->keygen, &k) > 0 ? make_leaf(g, k, name, i + 2) : NULL;
        int rc = !x || write_pair(dir, base, x, k) < 0;
        X509_free(x);
        EVP_PKEY_free(k);
        if (rc)
            return 1;
    }
    return 0;
}

/* The leaves in `jobs` forked processes (each with the CA in memory; OpenSSL 3 reseeds its
 * DRBG in a child after fork, so keys differ); 0 when every one succeeded. */
static int write_leaves_forked(const gen_t *g, const char *dir, long count, long share, long jobs)
{
    if (jobs == 1)
        return write_leaves(g, dir, count, share, 0, 1);
    pid_t pids[CERTS_JOBS_MAX];
    int rc = 0;
    long started = 0;
    fflush(NULL);
    for (; started < jobs; started++) {
        pids[started] = fork();
        if (pids[started] == 0)
            _exit(write_leaves(g, dir, count, share, started, jobs));
        if (pids[started] < 0) {
            fprintf(stderr, "edgetls-bench certs: fork: %s\n", strerror(errno));
            rc = 1;
            break;
        }
    }
    for (long j = 0; j < started; j++) {
        int st;
        while (waitpid(pids[j], &st, 0) < 0 && errno == EINTR) {
        }
        if (!WIFEXITED(st) || WEXITSTATUS(st))
            rc = 1;
    }
    return rc;
}

/* batch.txt and sni.txt: text only, so written here rather than by the jobs. */
static int write_lists(const char *out, long count, long share)
{
    FILE *batch = open_out(out, "batch.txt", 0), *sni = open_out(out, "sni.txt", 0);
    int rc = batch && sni ? 0 : 1;
    for (long i = 0; rc == 0 && i < count; i++) {
        int wild = i < count * share / 100;
        fprintf(batch, "cert add e%ld --chain certs/%ld.pem --key certs/%ld.key\n", i, i, i);
        fprintf(sni, wild ? "x.w%ld.bench.test\n" : "h%ld.bench.test\n", i);
    }
    if (batch && (ferror(batch) | fclose(batch)))
        rc = 1;
    if (sni && (ferror(sni) | fclose(sni)))
        rc = 1;
    return rc;
}

static long default_jobs(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > CERTS_JOBS_MAX ? CERTS_JOBS_MAX : n;
}

int etls_bench_certs_main(int argc, char **argv)
{
    long count = 0, share = 0, jobs = default_jobs();
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--count") && v)
            count = number(argv[++i], 1, CERTS_MAX);
        else if (!strcmp(argv[i], "--out") && v)
            out = argv[++i];
        else if (!strcmp(argv[i], "--wildcard-share") && v)
            share = number(argv[++i], 0, 100);
        else if (!strcmp(argv[i], "--jobs") && v)
            jobs = number(argv[++i], 1, CERTS_JOBS_MAX);
        else
            return usage();
    }
    if (!out || strlen(out) > 3000 || count < 1 || share < 0 || jobs < 1) {
        fprintf(stderr, "edgetls-bench certs: --count 1..%d and --out DIR are required; --wildcard-share 0..100, "
                        "--jobs 1..%d\n", CERTS_MAX, CERTS_JOBS_MAX);
        return usage();
    }
    if (jobs > count)
        jobs = count;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/certs", out);
    if ((mkdir(out, 0755) && errno != EEXIST) || (mkdir(dir, 0755) && errno != EEXIST)) {
        fprintf(stderr, "edgetls-bench certs: %s: %s\n", out, strerror(errno));
        return 1;
    }
    gen_t g;
    int rc = gen_init(&g) || write_pair(out, "ca", g.ca, g.ca_key) < 0 || write_lists(out, count, share) ||
             write_leaves_forked(&g, dir, count, share, jobs);
    gen_free(&g);
    if (rc)
        fprintf(stderr, "edgetls-bench certs: failed\n");
    else
        printf("wrote %ld certificates under %s (ca.pem, certs/, batch.txt, sni.txt)\n", count, out);
    return rc;
}
