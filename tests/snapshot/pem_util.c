/* pem_util.h on OpenSSL 3. */
#include "pem_util.h"
#include "test.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *bio_text(BIO *b, size_t *len)
{
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *out = malloc((size_t)n + 1);
    CHECK(out != NULL);
    memcpy(out, p, (size_t)n);
    out[n] = 0;
    *len = (size_t)n;
    return out;
}

pem_pair_t make_cert(const char *name)
{
    pem_pair_t pp;
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    CHECK(k && x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)name, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, k);
    char san[300];
    snprintf(san, sizeof san, "DNS:%s", name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
    CHECK(ext && X509_add_ext(x, ext, -1));
    X509_EXTENSION_free(ext);
    CHECK(X509_sign(x, k, EVP_sha256()) > 0);
    BIO *bc = BIO_new(BIO_s_mem()), *bk = BIO_new(BIO_s_mem());
    CHECK(PEM_write_bio_X509(bc, x) && PEM_write_bio_PrivateKey(bk, k, NULL, NULL, 0, NULL, NULL));
    pp.chain = bio_text(bc, &pp.chain_len);
    pp.key = bio_text(bk, &pp.key_len);
    BIO_free(bc);
    BIO_free(bk);
    X509_free(x);
    EVP_PKEY_free(k);
    return pp;
}

void pem_pair_free(pem_pair_t *pp)
{
    free(pp->chain);
    free(pp->key);
    pp->chain = pp->key = NULL;
}
