/* edgetls-bench certs: many certificates for scale benchmarks and tests of the control plane.
 *   edgetls-bench certs --count N --out DIR [--wildcard-share PERCENT]
 * One P-256 CA, then N leaves each with its own P-256 key and one SAN: h<i>.bench.test, or for
 * the share that is wildcard *.w<i>.bench.test. Writes DIR/ca.pem (and ca.key), for the control
 * plane's --ca-file; DIR/certs/<i>.pem and <i>.key (0600); DIR/batch.txt, the lines for
 * `edgetlsctl batch` (entries e<i>, paths relative to DIR); DIR/sni.txt, one name per leaf for
 * `edgetls-bench hs --sni-file` (x.w<i>.bench.test for a wildcard). */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CERTS_MAX 1000000

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    int ok = e && X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok ? 0 : -1;
}

/* A certificate for key signed by ca_key (self-signed when ca is NULL), valid for 30 days. */
static X509 *make(EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key, const char *cn, const char *san, long serial)
{
    X509 *x = X509_new();
    if (!x)
        return NULL;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(ca ? ca : x));
    X509_set_pubkey(x, key);
    int rc = ca ? add_ext(x, ca, NID_subject_alt_name, san) | add_ext(x, ca, NID_basic_constraints, "CA:FALSE") |
                      add_ext(x, ca, NID_key_usage, "critical,digitalSignature") |
                      add_ext(x, ca, NID_ext_key_usage, "serverAuth")
                : add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") |
                      add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
    if (rc || !X509_sign(x, ca_key, EVP_sha256())) {
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

static int usage(void)
{
    fprintf(stderr, "usage: edgetls-bench certs --count N --out DIR [--wildcard-share PERCENT]\n"
                    "  N leaves (P-256, one SAN each) under one CA; writes ca.pem, certs/, batch.txt\n"
                    "  (for edgetlsctl batch) and sni.txt (for edgetls-bench hs --sni-file) in DIR\n");
    return 2;
}

int etls_bench_certs_main(int argc, char **argv)
{
    long count = 0, share = 0;
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--count") && v)
            count = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--out") && v)
            out = argv[++i];
        else if (!strcmp(argv[i], "--wildcard-share") && v)
            share = strtol(argv[++i], NULL, 10);
        else
            return usage();
    }
    if (!out || count < 1 || count > CERTS_MAX || share < 0 || share > 100) {
        fprintf(stderr, "edgetls-bench certs: --count 1..%d and --out are required; --wildcard-share 0..100\n",
                CERTS_MAX);
        return usage();
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/certs", out);
    if ((mkdir(out, 0755) && errno != EEXIST) || (mkdir(dir, 0755) && errno != EEXIST)) {
        fprintf(stderr, "edgetls-bench certs: %s: %s\n", out, strerror(errno));
        return 1;
    }
    EVP_PKEY *ca_key = EVP_EC_gen("P-256");
    X509 *ca = ca_key ? make(ca_key, NULL, ca_key, "edgetls bench CA", NULL, 1) : NULL;
    FILE *batch = open_out(out, "batch.txt", 0), *sni = open_out(out, "sni.txt", 0);
    int rc = ca && batch && sni && !write_pair(out, "ca", ca, ca_key) ? 0 : 1;
    for (long i = 0; rc == 0 && i < count; i++) {
        int wild = i < count * share / 100; /* the first share% of the leaves */
        char cn[64], san[80], base[32];
        snprintf(cn, sizeof cn, wild ? "*.w%ld.bench.test" : "h%ld.bench.test", i);
        snprintf(san, sizeof san, "DNS:%s", cn);
        snprintf(base, sizeof base, "%ld", i);
        EVP_PKEY *k = EVP_EC_gen("P-256");
        X509 *x = k ? make(k, ca, ca_key, cn, san, i + 2) : NULL;
        if (!x || write_pair(dir, base, x, k) < 0)
            rc = 1;
        fprintf(batch, "cert add e%ld --chain certs/%ld.pem --key certs/%ld.key\n", i, i, i);
        fprintf(sni, wild ? "x.w%ld.bench.test\n" : "h%ld.bench.test\n", i);
        X509_free(x);
        EVP_PKEY_free(k);
    }
    if (batch && fclose(batch))
        rc = 1;
    if (sni && fclose(sni))
        rc = 1;
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    if (rc)
        fprintf(stderr, "edgetls-bench certs: failed\n");
    else
        printf("wrote %ld certificates under %s (ca.pem, certs/, batch.txt, sni.txt)\n", count, out);
    return rc;
}
