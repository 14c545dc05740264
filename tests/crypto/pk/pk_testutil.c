#include "pk_testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/dsa.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

static EVP_PKEY *dsa_keygen(void)
{
    EVP_PKEY *params = NULL, *k = NULL;
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "DSA", NULL);
    if (pc && EVP_PKEY_paramgen_init(pc) > 0 && EVP_PKEY_CTX_set_dsa_paramgen_bits(pc, 1024) > 0 &&
        EVP_PKEY_paramgen(pc, &params) > 0) {
        EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_from_pkey(NULL, params, NULL);
        if (kc && EVP_PKEY_keygen_init(kc) > 0)
            EVP_PKEY_keygen(kc, &k);
        EVP_PKEY_CTX_free(kc);
    }
    EVP_PKEY_free(params);
    EVP_PKEY_CTX_free(pc);
    return k;
}

static EVP_PKEY *rsa_pss_keygen(void)
{
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "RSA-PSS", NULL);
    if (pc && EVP_PKEY_keygen_init(pc) > 0 && EVP_PKEY_CTX_set_rsa_keygen_bits(pc, 2048) > 0)
        EVP_PKEY_keygen(pc, &k);
    EVP_PKEY_CTX_free(pc);
    return k;
}

EVP_PKEY *pkt_keygen(const char *kind)
{
    if (strcmp(kind, "ec") == 0)
        return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (strcmp(kind, "ec384") == 0)
        return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    if (strcmp(kind, "rsa2048") == 0)
        return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    if (strcmp(kind, "rsa1024") == 0)
        return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    if (strcmp(kind, "rsa-pss") == 0)
        return rsa_pss_keygen();
    if (strcmp(kind, "ed25519") == 0)
        return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (strcmp(kind, "ed448") == 0)
        return EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
    if (strcmp(kind, "x25519") == 0)
        return EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    if (strcmp(kind, "dsa") == 0)
        return dsa_keygen();
    return NULL;
}

int pkt_write_key(const char *path, EVP_PKEY *k, int form)
{
    BIO *b = BIO_new_file(path, "w");
    if (!b)
        return -1;
    unsigned char pw[] = "secret";
    int ok = 0;
    switch (form) {
    case PKT_PKCS8:
        ok = PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
        break;
    case PKT_TRAD:
        ok = PEM_write_bio_PrivateKey_traditional(b, k, NULL, NULL, 0, NULL, NULL);
        break;
    case PKT_PKCS8_ENC:
        ok = PEM_write_bio_PKCS8PrivateKey(b, k, EVP_aes_128_cbc(), (char *)pw, 6, NULL, NULL);
        break;
    case PKT_TRAD_ENC:
        ok = PEM_write_bio_PrivateKey_traditional(b, k, EVP_aes_128_cbc(), pw, 6, NULL, NULL);
        break;
    }
    BIO_free(b);
    return ok == 1 ? 0 : -1;
}

int pkt_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = len ? fwrite(data, 1, len, f) : 0;
    return fclose(f) == 0 && n == len ? 0 : -1;
}

char *pkt_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n + 4096 + 1 > cap) {
            char *nb = realloc(buf, cap = n + 8192);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        got = fread(buf + n, 1, 4096, f);
        n += got;
    } while (got > 0);
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int add_san(X509 *x, X509 *issuer, const char *san)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
    int ok = ext && X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

X509 *pkt_cert(EVP_PKEY *key, EVP_PKEY *issuer_key, X509 *issuer, const char *cn,
               const char *san)
{
    static long serial = 1;
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    EVP_PKEY *signer = issuer_key ? issuer_key : key;
    int ok = x && name && X509_set_version(x, X509_VERSION_3) &&
             ASN1_INTEGER_set(X509_get_serialNumber(x), serial++) &&
             X509_gmtime_adj(X509_getm_notBefore(x), -60) &&
             X509_gmtime_adj(X509_getm_notAfter(x), 86400) && X509_set_pubkey(x, key) &&
             X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                        (const unsigned char *)"edgetls test", -1, -1, 0) &&
             (!cn || X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                                (const unsigned char *)cn, -1, -1, 0)) &&
             X509_set_subject_name(x, name) &&
             X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) &&
             (!san || add_san(x, issuer, san));
    int raw = EVP_PKEY_is_a(signer, "ED25519") || EVP_PKEY_is_a(signer, "ED448");
    ok = ok && X509_sign(x, signer, raw ? NULL : EVP_sha256()) > 0;
    X509_NAME_free(name);
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

int pkt_write_certs(const char *path, X509 *const *certs, size_t n)
{
    BIO *b = BIO_new_file(path, "w");
    int ok = b != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = PEM_write_bio_X509(b, certs[i]) == 1;
    BIO_free(b);
    return ok ? 0 : -1;
}

unsigned char *pkt_cert_der(X509 *x, size_t *len)
{
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    if (n <= 0)
        return NULL;
    unsigned char *copy = malloc((size_t)n);
    if (copy)
        memcpy(copy, der, (size_t)n);
    OPENSSL_free(der);
    *len = (size_t)n;
    return copy;
}

int pkt_tmpdir(char *dir, size_t len)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, len, "%s/etls-pk-XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

void pkt_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            unlink(pkt_path(path, sizeof path, dir, e->d_name));
    closedir(d);
    rmdir(dir);
}

const char *pkt_path(char *buf, size_t len, const char *dir, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
    return buf;
}
