/* Certificate chains from PEM, key/certificate matching, leaf DNS names, public keys from DER. */
#include "crypto/pk/pk_internal.h"
#include "crypto/pk/x509_scan.h"

#include "common/err.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* d2i that must consume exactly len bytes: trailing garbage is a malformed certificate. */
static X509 *parse_x509(const uint8_t *der, size_t len)
{
    const unsigned char *p = der;
    if (!der || len == 0 || len > ETLS_PK_FILE_MAX)
        return NULL;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (x && p != der + len) {
        X509_free(x);
        x = NULL;
    }
    ERR_clear_error();
    return x;
}

int etls_pkey_from_x509(etls_pkey_t **out, const void *x509)
{
    ETLS_ENSURE(out && x509, ETLS_ERR_INVALID);
    *out = NULL;
    EVP_PKEY *pub = X509_get_pubkey((X509 *)x509); /* own reference, outlives the certificate */
    if (!pub) {
        ERR_clear_error();
        return ETLS_ERR_UNSUPPORTED; /* a key type OpenSSL cannot decode */
    }
    return etls_pk_wrap(out, pub, 0, NULL, 0);
}

int etls_pkey_from_cert_der(etls_pkey_t **out, const uint8_t *der, size_t len)
{
    ETLS_ENSURE(out, ETLS_ERR_INVALID);
    *out = NULL;
    X509 *x = parse_x509(der, len);
    ETLS_ENSURE(x, ETLS_ERR_INVALID);
    int rc = etls_pkey_from_x509(out, x);
    X509_free(x);
    return rc;
}

int etls_pkey_from_spki_der(etls_pkey_t **out, const uint8_t *der, size_t len)
{
    ETLS_ENSURE(out, ETLS_ERR_INVALID);
    *out = NULL;
    ETLS_ENSURE(der && len > 0 && len <= ETLS_PK_FILE_MAX, ETLS_ERR_INVALID);
    const unsigned char *p = der;
    EVP_PKEY *pub = d2i_PUBKEY_ex(NULL, &p, (long)len, NULL, NULL);
    ERR_clear_error();
    if (pub && p != der + len) {
        EVP_PKEY_free(pub);
        pub = NULL;
    }
    ETLS_ENSURE(pub, ETLS_ERR_INVALID);
    return etls_pk_wrap(out, pub, 0, NULL, 0);
}

void etls_cert_chain_drop_parsed(etls_cert_chain_t *c)
{
    if (c) {
        X509_free(c->leaf_parsed);
        c->leaf_parsed = NULL;
    }
}

/* The leaf, parsed (the one kept from loading when there is one: *owned = 0). */
static X509 *leaf_of(const etls_cert_chain_t *c, int *owned)
{
    *owned = !c->leaf_parsed;
    return c->leaf_parsed ? (X509 *)c->leaf_parsed : parse_x509(c->der[0], c->der_len[0]);
}

void etls_cert_chain_free(etls_cert_chain_t *c)
{
    if (!c)
        return;
    etls_cert_chain_drop_parsed(c);
    for (size_t i = 0; i < c->n && i < ETLS_CHAIN_MAX; i++)
        free(c->der[i]);
    memset(c, 0, sizeof *c);
}

static const char *type_name(EVP_PKEY *k)
{
    if (EVP_PKEY_is_a(k, "EC"))
        return "EC";
    const char *name = EVP_PKEY_get0_type_name(k);
    return name ? name : "unknown";
}

/* The SubjectPublicKeyInfo of a P-256 key as DER encodes it for a named curve: a fixed prefix
 * (id-ecPublicKey, prime256v1, BIT STRING of 66 bytes) and the uncompressed point. */
#define P256_SPKI_LEN 91
static const uint8_t p256_spki_prefix[26] = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};

static int p256_spki_of(const etls_pkey_t *k, uint8_t out[P256_SPKI_LEN])
{
    char group[32];
    size_t n = 0;
    if (k->scheme != ETLS_SIG_ECDSA_SECP256R1_SHA256 ||
        !EVP_PKEY_get_utf8_string_param(k->pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, NULL) ||
        strcmp(group, "prime256v1") != 0 ||
        !EVP_PKEY_get_octet_string_param(k->pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, out + 26,
                                         P256_SPKI_LEN - 26, &n) ||
        n != P256_SPKI_LEN - 26 || out[26] != 0x04) {
        ERR_clear_error();
        return -1;
    }
    memcpy(out, p256_spki_prefix, sizeof p256_spki_prefix);
    return 0;
}

/* 1 when the leaf's SPKI bytes are exactly the P-256 key's own: the same key, found without
 * d2i_X509 (whose public-key decode is most of a certificate's load time). 0 means "not shown
 * here", never "different": the caller then compares the decoded keys. */
static int same_p256_key(const etls_cert_chain_t *c, const etls_pkey_t *k)
{
    etls_x509_view_t v;
    uint8_t spki[P256_SPKI_LEN];
    return !c->leaf_parsed && etls_x509_scan(c->der[0], c->der_len[0], &v) == 0 &&
           v.spki_len == P256_SPKI_LEN && p256_spki_of(k, spki) == 0 &&
           memcmp(spki, v.spki, P256_SPKI_LEN) == 0;
}

int etls_cert_chain_check_key(const etls_cert_chain_t *c, const etls_pkey_t *k, char *err,
                              size_t errlen)
{
    if (!c || !k || c->n == 0) {
        etls_pk_errf(err, errlen, "certificate/key check: empty chain or no key");
        return ETLS_ERR_INVALID;
    }
    if (same_p256_key(c, k))
        return 0;
    int owned;
    X509 *x = leaf_of(c, &owned);
    EVP_PKEY *pub = x ? X509_get0_pubkey(x) : NULL;
    int rc = pub && EVP_PKEY_eq(pub, k->pkey) == 1 ? 0 : ETLS_ERR_INVALID;
    if (rc < 0 && !pub)
        etls_pk_errf(err, errlen, "leaf certificate: unreadable public key");
    else if (rc < 0 && strcmp(type_name(pub), type_name(k->pkey)) != 0)
        etls_pk_errf(err, errlen, "certificate/key mismatch: the leaf certificate key is %s, "
                                  "the private key is %s", type_name(pub), type_name(k->pkey));
    else if (rc < 0)
        etls_pk_errf(err, errlen, "certificate/key mismatch: the private key is not the one for "
                                  "the leaf certificate (wrong key file, or the leaf is not "
                                  "first in the chain?)");
    if (owned)
        X509_free(x);
    ERR_clear_error();
    return rc;
}

int etls_cert_chain_matches_key(const etls_cert_chain_t *c, const etls_pkey_t *k)
{
    return etls_cert_chain_check_key(c, k, NULL, 0);
}

/* Host names as they may appear in certificates: LDH labels, dots, a wildcard, and '_' which some
 * internal names carry. Anything else (NUL, spaces, '/') could confuse SNI matching. */
static int dns_char_ok(uint8_t ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.' || ch == '*' || ch == '_';
}

/* Appends one lower-cased name and its NUL, keeping room for the list's final empty string. */
static int add_name(char *out, size_t outlen, size_t *pos, const uint8_t *name, int len)
{
    ETLS_ENSURE(name && len > 0, ETLS_ERR_INVALID);
    for (int i = 0; i < len; i++)
        ETLS_ENSURE(dns_char_ok(name[i]), ETLS_ERR_INVALID);
    ETLS_ENSURE((size_t)len + 2 <= outlen - *pos, ETLS_ERR_LIMIT);
    for (int i = 0; i < len; i++)
        out[*pos + (size_t)i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    *pos += (size_t)len;
    out[(*pos)++] = '\0';
    return 0;
}

static int san_names(const GENERAL_NAMES *gens, char *out, size_t outlen, size_t *pos)
{
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type != GEN_DNS)
            continue; /* IP addresses, e-mail, URIs play no part in SNI */
        const ASN1_IA5STRING *s = g->d.dNSName;
        ETLS_GUARD(add_name(out, outlen, pos, ASN1_STRING_get0_data(s), ASN1_STRING_length(s)));
    }
    return 0;
}

/* The most specific (last) commonName, the one that names the host in legacy certificates. */
static int cn_name(X509 *x, char *out, size_t outlen, size_t *pos)
{
    const X509_NAME *subj = X509_get_subject_name(x);
    int idx = -1, last = -1;
    while ((idx = X509_NAME_get_index_by_NID(subj, NID_commonName, idx)) >= 0)
        last = idx;
    if (last < 0)
        return 0;
    unsigned char *utf8 = NULL;
    int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, last)));
    int rc = len < 0 ? ETLS_ERR_INVALID : add_name(out, outlen, pos, utf8, len);
    OPENSSL_free(utf8);
    return rc;
}

/* The names from the leaf's one subjectAltName found by the structural walk, as
 * X509_get_ext_d2i would decode it. 1 when the walk cannot tell (no SAN: the subject CN is
 * needed; or the walk failed: the full parse decides). */
static int san_names_scanned(const etls_cert_chain_t *c, char *out, size_t outlen, size_t *pos)
{
    etls_x509_view_t v;
    if (c->leaf_parsed || etls_x509_scan(c->der[0], c->der_len[0], &v) != 0 || v.n_san == 0)
        return 1;
    if (v.n_san > 1 || v.san_len > LONG_MAX)
        return ETLS_ERR_INVALID;
    const unsigned char *p = v.san;
    GENERAL_NAMES *gens = d2i_GENERAL_NAMES(NULL, &p, (long)v.san_len);
    int rc = gens ? san_names(gens, out, outlen, pos) : ETLS_ERR_INVALID;
    GENERAL_NAMES_free(gens);
    ERR_clear_error();
    return rc;
}

int etls_cert_leaf_dns_names(const etls_cert_chain_t *c, char *out, size_t outlen)
{
    ETLS_ENSURE(c && c->n > 0 && out && outlen > 0, ETLS_ERR_INVALID);
    size_t pos0 = 0;
    int fast = san_names_scanned(c, out, outlen, &pos0);
    if (fast <= 0) {
        out[fast == 0 ? pos0 : 0] = '\0';
        return fast;
    }
    int owned;
    X509 *x = leaf_of(c, &owned);
    ETLS_ENSURE(x, ETLS_ERR_INVALID);
    int crit = 0, rc;
    size_t pos = 0;
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
    if (gens)
        rc = san_names(gens, out, outlen, &pos);
    else if (crit == -1) /* no SAN extension at all: fall back to the subject CN */
        rc = cn_name(x, out, outlen, &pos);
    else
        rc = ETLS_ERR_INVALID; /* SAN present but malformed, or more than one */
    GENERAL_NAMES_free(gens);
    if (owned)
        X509_free(x);
    ERR_clear_error();
    out[rc == 0 ? pos : 0] = '\0';
    return rc;
}

/* Adds one "CERTIFICATE" block to the chain as a private copy of its DER: parsed by OpenSSL,
 * or (validated: the control plane parsed it already) walked for its structure only. */
static int add_cert(etls_cert_chain_t *c, const etls_pem_block_t *b, int validated, char *err,
                    size_t errlen)
{
    if (c->n == ETLS_CHAIN_MAX) {
        etls_pk_errf(err, errlen, "more than %d certificates in the chain", ETLS_CHAIN_MAX);
        return ETLS_ERR_LIMIT;
    }
    size_t len = b->len > 0 ? (size_t)b->len : 0;
    etls_x509_view_t v;
    X509 *x = NULL;
    if (validated ? len > ETLS_PK_FILE_MAX || etls_x509_scan(b->data, len, &v) != 0
                  : !(x = parse_x509(b->data, len))) {
        etls_pk_errf(err, errlen, "certificate %zu: malformed X.509 DER", c->n + 1);
        return ETLS_ERR_INVALID;
    }
    if (!(c->der[c->n] = malloc((size_t)b->len))) {
        X509_free(x);
        etls_pk_errf(err, errlen, "out of memory");
        return ETLS_ERR_NOMEM;
    }
    if (c->n == 0)
        c->leaf_parsed = x;
    else
        X509_free(x);
    memcpy(c->der[c->n], b->data, (size_t)b->len);
    c->der_len[c->n++] = (size_t)b->len;
    return 0;
}

static int read_chain(etls_cert_chain_t *c, BIO *bio, int validated, char *err, size_t errlen)
{
    int rc, blocks = 0, saw_key = 0;
    etls_pem_block_t b;
    while ((rc = etls_pk_pem_next(bio, &b)) == 1) {
        blocks++;
        if (strcmp(b.name, "CERTIFICATE") == 0)
            rc = add_cert(c, &b, validated, err, errlen);
        else
            saw_key |= strstr(b.name, "PRIVATE KEY") != NULL;
        etls_pk_pem_free(&b);
        if (rc < 0)
            return rc;
    }
    if (rc < 0)
        etls_pk_errf(err, errlen, "malformed or truncated PEM block after block %d", blocks);
    else if (c->n == 0 && saw_key)
        etls_pk_errf(err, errlen, "no certificate: the PEM holds a private key (a key file "
                                  "given where the certificate chain was expected?)");
    else if (c->n == 0)
        etls_pk_errf(err, errlen, "no certificate (expected -----BEGIN CERTIFICATE-----)");
    return rc < 0 || c->n == 0 ? ETLS_ERR_INVALID : 0;
}

/* The SNI selector relies on the leaf's names; refuse a leaf whose names it could not match. */
static int check_leaf_names(const etls_cert_chain_t *c, char *err, size_t errlen)
{
    /* Each name costs at least its DER tag and length bytes, so the DER length bounds the list. */
    char *names = malloc(c->der_len[0] + 2);
    if (!names) {
        etls_pk_errf(err, errlen, "out of memory");
        return ETLS_ERR_NOMEM;
    }
    int rc = etls_cert_leaf_dns_names(c, names, c->der_len[0] + 2);
    free(names);
    if (rc < 0)
        etls_pk_errf(err, errlen, "leaf certificate: malformed subjectAltName or a DNS name with "
                                  "characters outside [A-Za-z0-9*._-]");
    return rc < 0 ? ETLS_ERR_INVALID : 0;
}

static int load_pem(etls_cert_chain_t *c, const void *pem, size_t len, int validated, char *err,
                    size_t errlen)
{
    ETLS_ENSURE(c, ETLS_ERR_INVALID);
    memset(c, 0, sizeof *c);
    if (err && errlen)
        err[0] = '\0';
    if (!pem || len == 0) {
        etls_pk_errf(err, errlen, "empty input (no PEM data)");
        return ETLS_ERR_INVALID;
    }
    if (len > ETLS_PK_FILE_MAX) {
        etls_pk_errf(err, errlen, "PEM text too large (%zu bytes)", len);
        return ETLS_ERR_INVALID;
    }
    int rc = ETLS_ERR_NOMEM;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio)
        etls_pk_errf(err, errlen, "out of memory");
    else if ((rc = read_chain(c, bio, validated, err, errlen)) == 0)
        rc = check_leaf_names(c, err, errlen);
    BIO_free(bio);
    ERR_clear_error();
    if (rc < 0)
        etls_cert_chain_free(c);
    return rc;
}

int etls_cert_chain_load_pem(etls_cert_chain_t *c, const void *pem, size_t len, char *err,
                             size_t errlen)
{
    return load_pem(c, pem, len, 0, err, errlen);
}

int etls_cert_chain_load_pem_validated(etls_cert_chain_t *c, const void *pem, size_t len,
                                       char *err, size_t errlen)
{
    return load_pem(c, pem, len, 1, err, errlen);
}

int etls_cert_chain_load_file(etls_cert_chain_t *c, const char *path, char *err, size_t errlen)
{
    ETLS_ENSURE(c && path, ETLS_ERR_INVALID);
    memset(c, 0, sizeof *c);
    uint8_t *buf;
    size_t len;
    ETLS_GUARD(etls_pk_file_read(path, &buf, &len, err, errlen));
    char why[200] = "";
    int rc = etls_cert_chain_load_pem(c, buf, len, why, sizeof why);
    etls_pk_file_free(buf, len); /* a combined file may hold a private key too */
    if (rc < 0)
        etls_pk_errf(err, errlen, "%s: %s", path, why);
    return rc;
}
