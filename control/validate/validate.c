/* Load-time validation of one certificate entry (validate.h), on OpenSSL 3.
 *
 * Messages (each starts with "cert NAME: "):
 *   chain: no PEM certificate found / chain: bad PEM or DER in certificate N
 *   chain: more than 16 certificates
 *   key: no PEM private key found (or it is encrypted)
 *   key: private key does not match the leaf certificate
 *   chain: certificate N+1 (SUBJ) does not sign certificate N (SUBJ): chain out of order
 *   missing intermediate: no certificate for issuer ISSUER (add it to the chain)
 *   chain: certificate at depth D (SUBJ): <X509 verify error>
 *   certificate N (SUBJ) expired on DATE / is not valid before DATE
 *   weak key: RSA N bits (at least 2048) / unsupported key type or curve
 *   keyUsage forbids TLS server use (no digitalSignature)
 *   extendedKeyUsage forbids TLS server use (no serverAuth)
 *   leaf has no DNS subjectAltName / name X is not covered by the leaf's subjectAltName */
#include "validate.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <limits.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define MAX_CHAIN 16

__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t errlen, const char *entry,
                                                      const char *fmt, ...)
{
    char msg[ETLS_VAL_MSG];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (err && errlen)
        snprintf(err, errlen, "cert %s: %s", entry, msg);
    ERR_clear_error();
    return -1;
}

static void name_str(const X509_NAME *n, char *out, size_t cap)
{
    BIO *b = BIO_new(BIO_s_mem());
    out[0] = 0;
    if (!b)
        return;
    X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253);
    int len = BIO_read(b, out, (int)cap - 1);
    out[len > 0 ? len : 0] = 0;
    BIO_free(b);
}

static void time_str(const ASN1_TIME *t, char *out, size_t cap)
{
    struct tm tm;
    if (t && ASN1_TIME_to_tm(t, &tm))
        strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
    else
        snprintf(out, cap, "?");
}

static time_t time_t_of(const ASN1_TIME *t)
{
    struct tm tm;
    return t && ASN1_TIME_to_tm(t, &tm) ? timegm(&tm) : 0;
}

/* Reads up to MAX_CHAIN certificates; -1 on PEM/DER errors. */
static int read_chain(const char *entry, const char *pem, size_t len, X509 **chain, size_t *n, char *err,
                      size_t errlen)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    *n = 0;
    if (!b)
        return fail(err, errlen, entry, "out of memory");
    for (;;) {
        X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
        if (!x) {
            unsigned long e = ERR_peek_last_error();
            int eof = ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
            ERR_clear_error();
            BIO_free(b);
            if (!eof)
                return fail(err, errlen, entry, "chain: bad PEM or DER in certificate %zu", *n + 1);
            if (!*n)
                return fail(err, errlen, entry, "chain: no PEM certificate found");
            return 0;
        }
        if (*n == MAX_CHAIN) {
            X509_free(x);
            BIO_free(b);
            return fail(err, errlen, entry, "chain: more than %d certificates", MAX_CHAIN);
        }
        chain[(*n)++] = x;
    }
}

/* OpenSSL 3.0 builds a decoder context (a walk over every provider's decoders under locks) for
 * each PEM_read_bio_PrivateKey: ~300 us, most of validating a certificate, and a batch validates
 * 100,000. The daemon is single-threaded, so one context is kept and reused; whatever it does not
 * decode (an encrypted key, an odd PEM layout) goes the one-shot way, so the answers are the same. */
static EVP_PKEY *cached_decode(const char *key_pem, size_t key_len)
{
    static OSSL_DECODER_CTX *dc;
    static EVP_PKEY *out;
    if (!dc)
        dc = OSSL_DECODER_CTX_new_for_pkey(&out, "PEM", NULL, NULL, EVP_PKEY_KEYPAIR, NULL, NULL);
    if (!dc)
        return NULL;
    const unsigned char *p = (const unsigned char *)key_pem;
    size_t left = key_len;
    out = NULL;
    EVP_PKEY *k = OSSL_DECODER_from_data(dc, &p, &left) ? out : NULL;
    if (!k)
        EVP_PKEY_free(out);
    out = NULL;
    ERR_clear_error();
    return k;
}

static EVP_PKEY *read_key(const char *key_pem, size_t key_len)
{
    EVP_PKEY *k = cached_decode(key_pem, key_len);
    if (k)
        return k;
    BIO *b = BIO_new_mem_buf(key_pem, (int)key_len);
    if (!b)
        return NULL;
    /* no passphrase callback: an encrypted key fails instead of prompting */
    k = PEM_read_bio_PrivateKey(b, NULL, NULL, (void *)"");
    BIO_free(b);
    ERR_clear_error();
    return k;
}

static int key_type(EVP_PKEY *k, char *out, size_t cap, char *why, size_t whylen)
{
    int bits = EVP_PKEY_get_bits(k);
    switch (EVP_PKEY_get_base_id(k)) {
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
        snprintf(out, cap, "rsa-%d", bits);
        if (bits < 2048)
            return snprintf(why, whylen, "weak key: RSA %d bits (at least 2048)", bits), -1;
        return 0;
    case EVP_PKEY_EC: {
        char curve[64] = "";
        size_t cl = 0;
        EVP_PKEY_get_utf8_string_param(k, "group", curve, sizeof curve, &cl);
        if (!strcmp(curve, "prime256v1") || !strcmp(curve, "P-256"))
            return snprintf(out, cap, "ecdsa-p256"), 0;
        if (!strcmp(curve, "secp384r1") || !strcmp(curve, "P-384"))
            return snprintf(out, cap, "ecdsa-p384"), 0;
        snprintf(out, cap, "ecdsa-%s", curve);
        return snprintf(why, whylen, "unsupported EC curve %s (P-256 or P-384)", curve[0] ? curve : "?"), -1;
    }
    case EVP_PKEY_ED25519: return snprintf(out, cap, "ed25519"), 0;
    default: snprintf(out, cap, "unknown"); return snprintf(why, whylen, "unsupported key type"), -1;
    }
}


int etls_val_name_covered(const char *pattern, const char *name)
{
    size_t pl = strlen(pattern), nl = strlen(name);
    if (!pl || !nl || pattern[pl - 1] == '.' || name[nl - 1] == '.')
        return 0;
    if (name[0] == '*') /* a requested wildcard is covered only by the identical wildcard */
        return pl == nl && !strcasecmp(pattern, name);
    if (pattern[0] != '*')
        return pl == nl && !strcasecmp(pattern, name);
    /* "*.rest": the '*' is the whole left-most label and rest has at least two labels */
    if (pl < 3 || pattern[1] != '.' || strchr(pattern + 2, '*') || !strchr(pattern + 2, '.'))
        return 0;
    const char *dot = strchr(name, '.');
    if (!dot || dot == name) /* the '*' matches one non-empty label */
        return 0;
    return !strcasecmp(dot, pattern + 1);
}

static int check_usage(X509 *leaf, char *why, size_t whylen)
{
    uint32_t ku = X509_get_key_usage(leaf), xku = X509_get_extended_key_usage(leaf);
    if ((X509_get_extension_flags(leaf) & EXFLAG_KUSAGE) && !(ku & KU_DIGITAL_SIGNATURE))
        return snprintf(why, whylen, "keyUsage forbids TLS server use (no digitalSignature)"), -1;
    if ((X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE) && !(xku & (XKU_SSL_SERVER | XKU_ANYEKU)))
        return snprintf(why, whylen, "extendedKeyUsage forbids TLS server use (no serverAuth)"), -1;
    return 0;
}

static void fill_sans(X509 *leaf, etls_val_info_t *info)
{
    GENERAL_NAMES *g = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    info->n_sans = 0;
    for (int i = 0; g && i < sk_GENERAL_NAME_num(g) && info->n_sans < ETLS_VAL_MAX_NAMES; i++) {
        GENERAL_NAME *gn = sk_GENERAL_NAME_value(g, i);
        if (gn->type != GEN_DNS)
            continue;
        const unsigned char *s = ASN1_STRING_get0_data(gn->d.dNSName);
        int l = ASN1_STRING_length(gn->d.dNSName);
        if (l <= 0 || l >= 256 || memchr(s, 0, (size_t)l))
            continue;
        char *o = info->sans[info->n_sans++];
        for (int k = 0; k < l; k++)
            o[k] = (char)tolower(s[k]);
        o[l] = 0;
    }
    GENERAL_NAMES_free(g);
}

static void fill_brief(X509 *leaf, etls_val_brief_t *b)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    snprintf(b->serial, sizeof b->serial, "%s", hex ? hex : "?");
    OPENSSL_free(hex);
    BN_free(bn);
    time_str(X509_get0_notAfter(leaf), b->not_after, sizeof b->not_after);
    b->not_after_t = time_t_of(X509_get0_notAfter(leaf));
    unsigned char md[32];
    unsigned int mdl = 0;
    X509_digest(leaf, EVP_sha256(), md, &mdl);
    for (unsigned i = 0; i < mdl && i < 32; i++)
        sprintf(b->fingerprint + 2 * i, "%02x", md[i]);
}

/* The next TLV at *p (within *left bytes): its tag, and *len its content's length; *p moves to
 * the content. Definite lengths only (DER), each within what is left. */
static int der_next(const unsigned char **p, long *left, int *tag, long *len)
{
    const unsigned char *q = *p;
    int cls, r = ASN1_get_object(&q, len, tag, &cls, *left);
    if ((r & 0x80) || r == 0x21 || *len < 0 || *len > *left - (q - *p))
        return -1;
    *left -= q - *p;
    *p = q;
    return cls == V_ASN1_UNIVERSAL || cls == V_ASN1_CONTEXT_SPECIFIC ? 0 : -1;
}

static int der_skip(const unsigned char **p, long *left)
{
    int tag;
    long len;
    if (der_next(p, left, &tag, &len))
        return -1;
    *p += len;
    *left -= len;
    return 0;
}

/* serialNumber and notAfter from the TBSCertificate of a DER certificate, each TLV handed to
 * OpenSSL's own decoder (d2i_X509 would also decode the public key through a provider
 * decoder, which is most of its cost: ~30 ms per 100 certificates in OpenSSL 3.0). */
static int der_brief(const unsigned char *der, long n, etls_val_brief_t *out)
{
    const unsigned char *p = der;
    long left = n, len;
    int tag;
    if (der_next(&p, &left, &tag, &len) || tag != V_ASN1_SEQUENCE) /* Certificate */
        return -1;
    left = len;
    if (der_next(&p, &left, &tag, &len) || tag != V_ASN1_SEQUENCE) /* TBSCertificate */
        return -1;
    left = len;
    const unsigned char *at = p;
    long at_left = left;
    if (der_next(&p, &left, &tag, &len))
        return -1;
    if (tag == 0) { /* [0] version */
        p += len;
        left -= len;
        at = p;
        at_left = left;
    } else {
        p = at;
        left = at_left;
    }
    ASN1_INTEGER *serial = d2i_ASN1_INTEGER(NULL, &p, left);
    if (!serial)
        return -1;
    left = at_left - (p - at);
    BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
    ASN1_INTEGER_free(serial);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    snprintf(out->serial, sizeof out->serial, "%s", hex ? hex : "?");
    OPENSSL_free(hex);
    BN_free(bn);
    if (der_skip(&p, &left) || der_skip(&p, &left)) /* signature, issuer */
        return -1;
    if (der_next(&p, &left, &tag, &len) || tag != V_ASN1_SEQUENCE) /* Validity */
        return -1;
    left = len;
    if (der_skip(&p, &left)) /* notBefore */
        return -1;
    ASN1_TIME *na = d2i_ASN1_TIME(NULL, &p, left);
    if (!na)
        return -1;
    time_str(na, out->not_after, sizeof out->not_after);
    out->not_after_t = time_t_of(na);
    ASN1_TIME_free(na);
    unsigned char md[32];
    if (!EVP_Digest(der, (size_t)n, md, NULL, EVP_sha256(), NULL))
        return -1;
    for (unsigned i = 0; i < 32; i++)
        sprintf(out->fingerprint + 2 * i, "%02x", md[i]);
    return 0;
}

int etls_val_brief(const char *chain_pem, size_t chain_len, etls_val_brief_t *out)
{
    memset(out, 0, sizeof *out);
    if (chain_len > INT_MAX)
        return -1;
    BIO *b = BIO_new_mem_buf(chain_pem, (int)chain_len);
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    long n = 0;
    int rc = -1;
    /* the first CERTIFICATE block, armour and base64 only (no X509 object) */
    while (b && rc < 0 && PEM_read_bio(b, &name, &header, &der, &n) == 1) {
        if (!strcmp(name, PEM_STRING_X509) || !strcmp(name, PEM_STRING_X509_OLD))
            rc = der_brief(der, n, out) == 0 ? 0 : -2;
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(der);
        name = header = NULL;
        der = NULL;
    }
    BIO_free(b);
    ERR_clear_error();
    if (rc)
        memset(out, 0, sizeof *out);
    return rc ? -1 : 0;
}

static void fill_info(X509 **chain, size_t n, EVP_PKEY *key, etls_val_info_t *info)
{
    X509 *leaf = chain[0];
    name_str(X509_get_subject_name(leaf), info->subject, sizeof info->subject);
    name_str(X509_get_issuer_name(leaf), info->issuer, sizeof info->issuer);
    etls_val_brief_t brief;
    fill_brief(leaf, &brief);
    memcpy(info->serial, brief.serial, sizeof info->serial);
    memcpy(info->not_after, brief.not_after, sizeof info->not_after);
    memcpy(info->fingerprint, brief.fingerprint, sizeof info->fingerprint);
    info->not_after_t = brief.not_after_t;
    time_str(X509_get0_notBefore(leaf), info->not_before, sizeof info->not_before);
    info->n_chain = n;
    for (size_t i = 0; i < n && i < 8; i++)
        name_str(X509_get_subject_name(chain[i]), info->chain_subjects[i], sizeof info->chain_subjects[i]);
    fill_sans(leaf, info);
    ASN1_OBJECT *tf = OBJ_nid2obj(NID_tlsfeature);
    info->must_staple = tf && X509_get_ext_by_OBJ(leaf, tf, -1) >= 0;
    if (key && !info->key_type[0]) {
        char why[128];
        key_type(key, info->key_type, sizeof info->key_type, why, sizeof why);
    }
}

__attribute__((format(printf, 2, 3))) static void warn(etls_val_info_t *info, const char *fmt, ...)
{
    if (!info || info->n_warnings >= ETLS_VAL_MAX_WARN)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(info->warnings[info->n_warnings++], ETLS_VAL_MSG, fmt, ap);
    va_end(ap);
}

static X509_STORE *load_store(const etls_val_opts_t *o)
{
    X509_STORE *st = X509_STORE_new();
    if (!st)
        return NULL;
    if (o->ca_file || o->ca_path) {
        if (!X509_STORE_load_locations(st, o->ca_file, o->ca_path))
            ERR_clear_error(); /* a missing bundle: nothing but in-file roots is trusted */
    } else {
        X509_STORE_set_default_paths(st);
    }
    return st;
}

/* The bundle's store, kept while the same bundle (path, inode, size, mtime) is asked for. The
 * daemon is single-threaded; the store is never changed after loading. */
static X509_STORE *shared_store(const etls_val_opts_t *o)
{
    static X509_STORE *st;
    static char file[1024], path[1024];
    static struct stat seen;
    static int have;
    struct stat now = {0};
    int ok = o->ca_file ? stat(o->ca_file, &now) == 0 : 1;
    const char *f = o->ca_file ? o->ca_file : "", *p = o->ca_path ? o->ca_path : "";
    if (st && have && ok && !strcmp(f, file) && !strcmp(p, path) && now.st_ino == seen.st_ino &&
        now.st_size == seen.st_size && now.st_mtim.tv_sec == seen.st_mtim.tv_sec &&
        now.st_mtim.tv_nsec == seen.st_mtim.tv_nsec)
        return st;
    X509_STORE_free(st);
    st = load_store(o);
    snprintf(file, sizeof file, "%s", f);
    snprintf(path, sizeof path, "%s", p);
    seen = now;
    have = ok && !o->ca_path; /* a directory of hashes can change without a stat we see */
    return st;
}

/* The path from the leaf to an anchor (the CA bundle, or a self-signed root in the file). */
static int verify_path(const char *entry, X509 **chain, size_t n, const etls_val_opts_t *o, time_t now,
                       char *err, size_t errlen)
{
    /* A root in the file is an anchor for this check only: such chains get a store of their
     * own; the others share one store of the bundle, loaded again only when the file changes. */
    int own_root = n > 1 && X509_check_issued(chain[n - 1], chain[n - 1]) == X509_V_OK;
    ERR_clear_error();
    X509_STORE *st = own_root ? load_store(o) : shared_store(o);
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    int rc = -1;
    if (!st || !ctx || !untrusted) {
        fail(err, errlen, entry, "out of memory");
        goto out;
    }
    for (size_t i = 1; i < n; i++) {
        if (own_root && i == n - 1)
            X509_STORE_add_cert(st, chain[i]);
        else
            sk_X509_push(untrusted, chain[i]);
    }
    if (!X509_STORE_CTX_init(ctx, st, chain[0], untrusted)) {
        fail(err, errlen, entry, "out of memory");
        goto out;
    }
    X509_STORE_CTX_set_time(ctx, 0, now);
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
    if (X509_verify_cert(ctx) == 1) {
        rc = 0;
        goto out;
    }
    int e = X509_STORE_CTX_get_error(ctx), depth = X509_STORE_CTX_get_error_depth(ctx);
    X509 *bad = X509_STORE_CTX_get_current_cert(ctx);
    char subj[256] = "?", iss[256] = "?";
    if (bad)
        name_str(X509_get_subject_name(bad), subj, sizeof subj);
    name_str(X509_get_issuer_name(chain[n - 1]), iss, sizeof iss);
    if (e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY || e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
        e == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN || e == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT)
        fail(err, errlen, entry, e == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT || e == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
                                     ? "chain: self-signed certificate %s is not a trusted anchor"
                                     : "missing intermediate: no certificate for issuer %s (add it to the chain)",
             e == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT || e == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ? subj : iss);
    else
        fail(err, errlen, entry, "chain: certificate at depth %d (%s): %s", depth, subj, X509_verify_cert_error_string(e));
out:
    sk_X509_free(untrusted);
    X509_STORE_CTX_free(ctx);
    if (own_root)
        X509_STORE_free(st);
    return rc;
}

int etls_val_check(const char *entry, const char *chain_pem, size_t chain_len, const char *key_pem,
                   size_t key_len, const char *const *names, size_t n_names,
                   const etls_val_opts_t *opts, etls_val_info_t *info, char *err, size_t errlen)
{
    static const etls_val_opts_t none = {0};
    const etls_val_opts_t *o = opts ? opts : &none;
    time_t now = o->now ? o->now : time(NULL);
    X509 *chain[MAX_CHAIN];
    size_t n = 0;
    EVP_PKEY *key = NULL;
    char why[ETLS_VAL_MSG];
    int rc = -1;
    if (info)
        memset(info, 0, sizeof *info);
    if (chain_len > (1u << 24) || key_len > (1u << 24))
        return fail(err, errlen, entry, "input too large");
    if (read_chain(entry, chain_pem, chain_len, chain, &n, err, errlen) < 0) {
        for (size_t i = 0; i < n; i++) /* the certificates read before the bad one */
            X509_free(chain[i]);
        return -1;
    }
    if (info)
        fill_info(chain, n, NULL, info);
    if (!(key = read_key(key_pem, key_len))) {
        fail(err, errlen, entry, "key: no PEM private key found (or it is encrypted)");
        goto out;
    }
    char kt[16];
    if (key_type(key, kt, sizeof kt, why, sizeof why) < 0) {
        fail(err, errlen, entry, "%s", why);
        goto out;
    }
    if (info)
        snprintf(info->key_type, sizeof info->key_type, "%s", kt);
    if (X509_check_private_key(chain[0], key) != 1) {
        fail(err, errlen, entry, "key: private key does not match the leaf certificate");
        goto out;
    }
    for (size_t i = 0; i + 1 < n; i++)
        if (X509_check_issued(chain[i + 1], chain[i]) != X509_V_OK) {
            char a[256], b[256];
            name_str(X509_get_subject_name(chain[i + 1]), a, sizeof a);
            name_str(X509_get_subject_name(chain[i]), b, sizeof b);
            fail(err, errlen, entry, "chain: certificate %zu (%s) does not sign certificate %zu (%s): chain out of order",
                 i + 2, a, i + 1, b);
            goto out;
        }
    for (size_t i = 0; i < n; i++) {
        char d[32], s[256];
        name_str(X509_get_subject_name(chain[i]), s, sizeof s);
        if (X509_cmp_time(X509_get0_notAfter(chain[i]), &now) < 0) {
            time_str(X509_get0_notAfter(chain[i]), d, sizeof d);
            fail(err, errlen, entry, "certificate %zu (%s) expired on %s", i + 1, s, d);
            goto out;
        }
        if (X509_cmp_time(X509_get0_notBefore(chain[i]), &now) > 0) {
            time_str(X509_get0_notBefore(chain[i]), d, sizeof d);
            fail(err, errlen, entry, "certificate %zu (%s) is not valid before %s", i + 1, s, d);
            goto out;
        }
    }
    EVP_PKEY *pub = X509_get0_pubkey(chain[0]);
    if (pub && key_type(pub, kt, sizeof kt, why, sizeof why) < 0) {
        fail(err, errlen, entry, "%s", why);
        goto out;
    }
    if (check_usage(chain[0], why, sizeof why) < 0) {
        fail(err, errlen, entry, "%s", why);
        goto out;
    }
    if (verify_path(entry, chain, n, o, now, err, errlen) < 0)
        goto out;
    etls_val_info_t *inf = info;
    static etls_val_info_t scratch; /* names need the SANs even when the caller passed no info */
    if (!inf) {
        memset(&scratch, 0, sizeof scratch);
        fill_sans(chain[0], &scratch);
        inf = &scratch;
    }
    if (n_names && !inf->n_sans && !o->force) {
        fail(err, errlen, entry, "leaf has no DNS subjectAltName");
        goto out;
    }
    for (size_t i = 0; i < n_names; i++) {
        size_t k = 0;
        while (k < inf->n_sans && !etls_val_name_covered(inf->sans[k], names[i]))
            k++;
        if (k == inf->n_sans) {
            if (!o->force) {
                fail(err, errlen, entry, "name %s is not covered by the leaf's subjectAltName", names[i]);
                goto out;
            }
            warn(info, "name %s is not covered by the leaf's subjectAltName (accepted with --force)", names[i]);
        }
    }
    time_t na = time_t_of(X509_get0_notAfter(chain[0]));
    if (o->warn_days && na && na - now < (time_t)o->warn_days * 86400)
        warn(info, "certificate expires in %ld days (%s)", (long)((na - now) / 86400), info ? info->not_after : "");
    if (info && info->must_staple)
        warn(info, "must-staple (TLS Feature status_request): OCSP stapling is not implemented yet");
    rc = 0;
out:
    EVP_PKEY_free(key);
    for (size_t i = 0; i < n; i++)
        X509_free(chain[i]);
    ERR_clear_error();
    return rc;
}
