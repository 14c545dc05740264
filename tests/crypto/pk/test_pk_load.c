/* Key and certificate-chain loading: every way a configured file can be wrong gives the right
 * code and a one-line message naming the file and the problem; leaf DNS names (SAN, CN
 * fallback, lower-casing, wildcards); key/certificate matching. */
#include "crypto/pk.h"

#include "common/err.h"
#include "pk_testutil.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>

static char dir[256];

static const char *tmp(const char *name)
{
    static char buf[4][512];
    static int i;
    i = (i + 1) % 4;
    return pkt_path(buf[i], sizeof buf[i], dir, name);
}

/* rc must be want, and err one line naming the file (when given) and mentioning what. */
static void expect(int rc, int want, const char *err, const char *path, const char *what,
                   const char *label)
{
    printf("  %-22s -> %s\n", label, err);
    CHECK_MSG(rc == want, "%s: rc %d, want %d (%s)", label, rc, want, err);
    CHECK_MSG(strchr(err, '\n') == NULL && strlen(err) > 10, "%s: message '%s'", label, err);
    CHECK_MSG(strcasestr(err, what) != NULL, "%s: message '%s' lacks '%s'", label, err, what);
    if (path)
        CHECK_MSG(strncmp(err, path, strlen(path)) == 0, "%s: '%s' lacks the path", label, err);
}

static void expect_key_file(const char *path, int want, const char *what, const char *label)
{
    char err[512] = "";
    etls_pkey_t *k = (etls_pkey_t *)&err; /* must be reset to NULL on failure */
    int rc = etls_pkey_load_file(&k, path, err, sizeof err);
    expect(rc, want, err, path, what, label);
    CHECK_MSG(k == NULL, "%s: *out not NULL after failure", label);
    if (rc == 0)
        etls_pkey_free(k);
}

static void expect_key_text(const char *text, size_t len, int want, const char *what,
                            const char *label)
{
    char err[512] = "";
    etls_pkey_t *k = NULL;
    int rc = etls_pkey_load_pem(&k, text, len, err, sizeof err);
    expect(rc, want, err, NULL, what, label);
    CHECK(k == NULL);
}

static void expect_chain_file(const char *path, int want, const char *what, const char *label)
{
    char err[512] = "";
    etls_cert_chain_t c;
    int rc = etls_cert_chain_load_file(&c, path, err, sizeof err);
    expect(rc, want, err, path, what, label);
    CHECK_MSG(c.n == 0, "%s: chain not empty after failure", label);
    etls_cert_chain_free(&c);
}

static void key_file_errors(EVP_PKEY *ec)
{
    size_t len;
    CHECK(pkt_write_key(tmp("ec.pem"), ec, PKT_PKCS8) == 0);
    char *pem = pkt_read_file(tmp("ec.pem"), &len);
    CHECK(pem != NULL);
    if (!pem)
        return;
    expect_key_file(tmp("missing.pem"), ETLS_ERR_IO, "cannot open", "missing file");
    expect_key_file(dir, ETLS_ERR_IO, "not a regular file", "directory");
    CHECK(pkt_write_file(tmp("empty.pem"), "", 0) == 0);
    expect_key_file(tmp("empty.pem"), ETLS_ERR_INVALID, "empty", "empty file");
    expect_key_text(pem, 0, ETLS_ERR_INVALID, "empty", "empty text");
    static const char garbage[] = "this is not a key\n\x01\x02 at all\n";
    CHECK(pkt_write_file(tmp("garbage.pem"), garbage, sizeof garbage - 1) == 0);
    expect_key_file(tmp("garbage.pem"), ETLS_ERR_INVALID, "no PEM data", "garbage");
    CHECK(pkt_write_file(tmp("trunc.pem"), pem, len / 2) == 0);
    expect_key_file(tmp("trunc.pem"), ETLS_ERR_INVALID, "truncated", "truncated PEM");
    expect_key_text(pem, len - 20, ETLS_ERR_INVALID, "truncated", "truncated text");
    char *bad = strdup(pem);
    bad[40] = '!'; /* inside the base64 body */
    expect_key_text(bad, len, ETLS_ERR_INVALID, "malformed", "bad base64");
    free(bad);
    /* The DER itself damaged: a well-formed PEM around a mangled key. */
    static const char junk[] = "-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----\n";
    expect_key_text(junk, sizeof junk - 1, ETLS_ERR_INVALID, "does not parse", "bad DER");
    static const char ssh[] = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
                              "-----END OPENSSH PRIVATE KEY-----\n";
    expect_key_text(ssh, sizeof ssh - 1, ETLS_ERR_UNSUPPORTED, "OPENSSH", "OpenSSH key");
    char *big = calloc(1, (1u << 20) + 10);
    memset(big, 'A', (1u << 20) + 9);
    CHECK(pkt_write_file(tmp("big.pem"), big, (1u << 20) + 9) == 0);
    expect_key_file(tmp("big.pem"), ETLS_ERR_IO, "too large", "oversized file");
    free(big);
    unlink(tmp("big.pem"));
    free(pem);
}

static void key_type_errors(void)
{
    static const struct {
        const char *kind;
        int form, rc;
        const char *what;
    } cases[] = {
        {"ec", PKT_PKCS8_ENC, ETLS_ERR_INVALID, "encrypted"},
        {"ec", PKT_TRAD_ENC, ETLS_ERR_INVALID, "encrypted"},
        {"rsa2048", PKT_TRAD_ENC, ETLS_ERR_INVALID, "encrypted"},
        {"ec384", PKT_PKCS8, ETLS_ERR_UNSUPPORTED, "secp384r1"},
        {"ec384", PKT_TRAD, ETLS_ERR_UNSUPPORTED, "only P-256"},
        {"rsa1024", PKT_PKCS8, ETLS_ERR_UNSUPPORTED, "1024 bits"},
        {"rsa1024", PKT_TRAD, ETLS_ERR_UNSUPPORTED, "minimum 2048"},
        {"rsa-pss", PKT_PKCS8, ETLS_ERR_UNSUPPORTED, "RSA-PSS"},
        {"ed448", PKT_PKCS8, ETLS_ERR_UNSUPPORTED, "ED448"},
        {"x25519", PKT_PKCS8, ETLS_ERR_UNSUPPORTED, "X25519"},
        {"dsa", PKT_PKCS8, ETLS_ERR_UNSUPPORTED, "DSA"},
        {"dsa", PKT_TRAD, ETLS_ERR_UNSUPPORTED, "DSA"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[64], label[96];
        snprintf(name, sizeof name, "type%zu.pem", i);
        snprintf(label, sizeof label, "%s form %d", cases[i].kind, cases[i].form);
        EVP_PKEY *k = pkt_keygen(cases[i].kind);
        CHECK_MSG(k && pkt_write_key(tmp(name), k, cases[i].form) == 0, "%s: keygen", label);
        expect_key_file(tmp(name), cases[i].rc, cases[i].what, label);
        EVP_PKEY_free(k);
    }
}

/* Files that hold the wrong things, or the right things in unusual company. */
static void key_content_cases(EVP_PKEY *ec, X509 *cert)
{
    char err[512];
    etls_pkey_t *k = NULL;
    CHECK(pkt_write_certs(tmp("cert.pem"), &cert, 1) == 0);
    expect_key_file(tmp("cert.pem"), ETLS_ERR_INVALID, "certificate", "certificate as key");
    CHECK(pkt_write_key(tmp("ec.pem"), ec, PKT_PKCS8) == 0);
    expect_chain_file(tmp("ec.pem"), ETLS_ERR_INVALID, "private key", "key as certificate");

    /* Two keys: ambiguous. Key after EC PARAMETERS (openssl ecparam -genkey): fine. */
    BIO *b = BIO_new_file(tmp("two.pem"), "w");
    CHECK(b && PEM_write_bio_PrivateKey(b, ec, NULL, NULL, 0, NULL, NULL) &&
          PEM_write_bio_PrivateKey(b, ec, NULL, NULL, 0, NULL, NULL));
    BIO_free(b);
    expect_key_file(tmp("two.pem"), ETLS_ERR_INVALID, "more than one", "two keys");
    b = BIO_new_file(tmp("params.pem"), "w");
    CHECK(b && PEM_write_bio_Parameters(b, ec) &&
          PEM_write_bio_PrivateKey_traditional(b, ec, NULL, NULL, 0, NULL, NULL));
    BIO_free(b);
    CHECK(etls_pkey_load_file(&k, tmp("params.pem"), err, sizeof err) == 0);
    etls_pkey_free(k);

    /* Certificate and key in one file load as both. */
    b = BIO_new_file(tmp("combined.pem"), "w");
    CHECK(b && PEM_write_bio_X509(b, cert) &&
          PEM_write_bio_PrivateKey(b, ec, NULL, NULL, 0, NULL, NULL));
    BIO_free(b);
    etls_cert_chain_t c;
    CHECK(etls_pkey_load_file(&k, tmp("combined.pem"), err, sizeof err) == 0);
    CHECK(etls_cert_chain_load_file(&c, tmp("combined.pem"), err, sizeof err) == 0 && c.n == 1);
    CHECK(etls_cert_chain_matches_key(&c, k) == 0);
    etls_cert_chain_free(&c);
    etls_pkey_free(k);

    /* A PKCS#8 body under a PKCS#1 label. */
    size_t len;
    char *pem = pkt_read_file(tmp("ec.pem"), &len), *p = pem ? strstr(pem, "PRIVATE KEY") : NULL;
    CHECK(p != NULL);
    if (p) {
        char buf[1024];
        snprintf(buf, sizeof buf, "-----BEGIN RSA %s", pem + 11);
        char *end = strstr(buf, "-----END ");
        if (end)
            snprintf(end, sizeof buf - (size_t)(end - buf), "-----END RSA PRIVATE KEY-----\n");
        expect_key_text(buf, strlen(buf), ETLS_ERR_INVALID, "does not parse", "mislabelled");
    }
    free(pem);
}

/* A SEC1 key whose embedded public point belongs to another key: caught by the load self-test. */
static void mismatched_sec1(EVP_PKEY *ec)
{
    EVP_PKEY *other = pkt_keygen("ec");
    unsigned char *der = NULL;
    uint8_t pub[65], opub[65];
    size_t pl = 0, ol = 0;
    int len = i2d_PrivateKey(ec, &der); /* SEC1 ECPrivateKey with the public key in [1] */
    const char *enc = OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY;
    CHECK(other && len > 0 && EVP_PKEY_get_octet_string_param(ec, enc, pub, sizeof pub, &pl) &&
          EVP_PKEY_get_octet_string_param(other, enc, opub, sizeof opub, &ol) && pl == 65 &&
          ol == 65);
    uint8_t *at = len > 0 ? memmem(der, (size_t)len, pub, 65) : NULL;
    CHECK(at != NULL);
    if (at) {
        memcpy(at, opub, 65);
        BIO *b = BIO_new(BIO_s_mem());
        char *pem = NULL;
        CHECK(b && PEM_write_bio(b, "EC PRIVATE KEY", "", der, len) > 0);
        long plen = b ? BIO_get_mem_data(b, &pem) : 0;
        expect_key_text(pem, (size_t)plen, ETLS_ERR_INVALID, "self-test", "SEC1 wrong public key");
        BIO_free(b);
    }
    OPENSSL_free(der);
    EVP_PKEY_free(other);
}

/* Harmless variations of a valid key file: CRLF line ends, text before the block (openssl
 * pkcs12 "Bag Attributes"), a trailing NUL from a C string. */
static void pem_variants(void)
{
    char err[512];
    etls_pkey_t *k = NULL;
    size_t plen;
    char *text = pkt_read_file(tmp("ec.pem"), &plen);
    CHECK(text != NULL);
    if (!text)
        return;
    char *crlf = malloc(2 * plen + 64), *o = crlf;
    o += sprintf(o, "Bag Attributes\r\n    localKeyID: 01 02 03\r\n");
    for (size_t i = 0; i < plen; i++) {
        if (text[i] == '\n')
            *o++ = '\r';
        *o++ = text[i];
    }
    CHECK(etls_pkey_load_pem(&k, crlf, (size_t)(o - crlf), err, sizeof err) == 0);
    etls_pkey_free(k);
    free(crlf);
    CHECK(etls_pkey_load_pem(&k, text, plen + 1, err, sizeof err) == 0);
    etls_pkey_free(k);
    free(text);
}

/* leaf -> intermediates -> root, each signed by the next. */
static int make_chain(EVP_PKEY *leaf_key, size_t n, X509 **out)
{
    EVP_PKEY *keys[16];
    for (size_t i = 1; i < n; i++)
        keys[i] = pkt_keygen("ec");
    keys[0] = leaf_key;
    out[n - 1] = pkt_cert(keys[n - 1], NULL, NULL, "root", NULL);
    for (size_t i = n - 1; i-- > 0;)
        out[i] = pkt_cert(keys[i], keys[i + 1], out[i + 1], i ? "ca" : "leaf.test",
                          i ? NULL : "DNS:leaf.test");
    int ok = 1;
    for (size_t i = 0; i < n; i++)
        ok &= out[i] != NULL;
    for (size_t i = 1; i < n; i++)
        EVP_PKEY_free(keys[i]);
    return ok ? 0 : -1;
}

static void chain_cases(EVP_PKEY *ec)
{
    X509 *certs[9];
    char err[512];
    CHECK(make_chain(ec, 9, certs) == 0);
    CHECK(pkt_write_certs(tmp("chain9.pem"), certs, 9) == 0);
    expect_chain_file(tmp("chain9.pem"), ETLS_ERR_LIMIT, "more than 8", "9 certificates");
    CHECK(pkt_write_certs(tmp("chain8.pem"), certs + 1, 8) == 0);
    etls_cert_chain_t c;
    CHECK(etls_cert_chain_load_file(&c, tmp("chain8.pem"), err, sizeof err) == 0 && c.n == 8);
    etls_cert_chain_free(&c);
    CHECK(c.n == 0);

    /* Leaf first, kept in file order; the leaf matches its key and no other. */
    CHECK(pkt_write_certs(tmp("chain.pem"), certs, 3) == 0);
    CHECK(etls_cert_chain_load_file(&c, tmp("chain.pem"), err, sizeof err) == 0 && c.n == 3);
    size_t dlen;
    unsigned char *der = pkt_cert_der(certs[0], &dlen);
    CHECK(der && c.der_len[0] == dlen && memcmp(c.der[0], der, dlen) == 0);
    free(der);
    char path[512], keyerr[256];
    etls_pkey_t *mine = NULL, *other = NULL;
    EVP_PKEY *ok2 = pkt_keygen("ec"), *rsa = pkt_keygen("rsa2048");
    CHECK(pkt_write_key(pkt_path(path, sizeof path, dir, "mine.pem"), ec, PKT_PKCS8) == 0);
    CHECK(etls_pkey_load_file(&mine, path, keyerr, sizeof keyerr) == 0);
    CHECK(etls_cert_chain_matches_key(&c, mine) == 0);
    CHECK(pkt_write_key(path, ok2, PKT_PKCS8) == 0);
    CHECK(etls_pkey_load_file(&other, path, keyerr, sizeof keyerr) == 0);
    CHECK(etls_cert_chain_matches_key(&c, other) == ETLS_ERR_INVALID); /* same type, other key */
    char merr[256] = "";
    expect(etls_cert_chain_check_key(&c, other, merr, sizeof merr), ETLS_ERR_INVALID, merr, NULL,
           "not the one for the leaf", "mismatch, same type");
    etls_pkey_free(other);
    CHECK(pkt_write_key(path, rsa, PKT_PKCS8) == 0);
    CHECK(etls_pkey_load_file(&other, path, keyerr, sizeof keyerr) == 0);
    CHECK(etls_cert_chain_matches_key(&c, other) == ETLS_ERR_INVALID); /* other type */
    expect(etls_cert_chain_check_key(&c, other, merr, sizeof merr), ETLS_ERR_INVALID, merr, NULL,
           "certificate key is EC, the private key is RSA", "mismatch, other type");
    merr[0] = '\0';
    CHECK(etls_cert_chain_check_key(&c, mine, merr, sizeof merr) == 0 && merr[0] == '\0');
    etls_pkey_free(other);
    etls_pkey_free(mine);
    etls_cert_chain_free(&c);
    EVP_PKEY_free(ok2);
    EVP_PKEY_free(rsa);

    expect_chain_file(tmp("missing.pem"), ETLS_ERR_IO, "cannot open", "missing chain");
    CHECK(pkt_write_file(tmp("garbage.pem"), "nope\n", 5) == 0);
    expect_chain_file(tmp("garbage.pem"), ETLS_ERR_INVALID, "no certificate", "garbage chain");
    size_t len;
    char *pem = pkt_read_file(tmp("chain.pem"), &len);
    CHECK(pem && pkt_write_file(tmp("trunc.pem"), pem, len - 30) == 0);
    expect_chain_file(tmp("trunc.pem"), ETLS_ERR_INVALID, "truncated", "truncated chain");
    free(pem);
    for (int i = 0; i < 9; i++)
        X509_free(certs[i]);
}

/* The names the SNI selector sees for a leaf with this CN and SAN. */
static int names_of(EVP_PKEY *k, const char *cn, const char *san, char *out, size_t outlen)
{
    X509 *x = pkt_cert(k, NULL, NULL, cn, san);
    etls_cert_chain_t c = {0};
    char err[512] = "";
    int rc = x && pkt_write_certs(tmp("names.pem"), &x, 1) == 0
                 ? etls_cert_chain_load_file(&c, tmp("names.pem"), err, sizeof err)
                 : -100;
    if (rc == 0)
        rc = etls_cert_leaf_dns_names(&c, out, outlen);
    else
        CHECK_MSG(strstr(err, "DNS name") != NULL, "names error message: %s", err);
    etls_cert_chain_free(&c);
    X509_free(x);
    /* The loader for control-plane PEM finds the names by its own walk: the same answer. */
    size_t len;
    char *pem = pkt_read_file(tmp("names.pem"), &len), twin[256];
    int rc2 = pem ? etls_cert_chain_load_pem_validated(&c, pem, len, err, sizeof err) : -100;
    if (rc2 == 0) {
        rc2 = etls_cert_leaf_dns_names(&c, twin, outlen < sizeof twin ? outlen : sizeof twin);
        size_t n = 0;
        while (rc == 0 && n < outlen && out[n])
            n += strlen(out + n) + 1;
        CHECK_MSG(rc2 != 0 || rc != 0 || (n < sizeof twin && memcmp(twin, out, n + 1) == 0),
                  "validated loader: other names");
    }
    CHECK_MSG(rc2 == rc, "validated loader: rc %d, full loader %d", rc2, rc);
    etls_cert_chain_free(&c);
    free(pem);
    return rc;
}

/* PEM text of one DER blob labelled CERTIFICATE (malloc'd, NUL-terminated). */
static char *pem_of(const uint8_t *der, size_t len, size_t *pem_len)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL, *p;
    if (b && PEM_write_bio(b, "CERTIFICATE", "", der, (long)len) > 0) {
        long n = BIO_get_mem_data(b, &p);
        if (n > 0 && (out = malloc((size_t)n + 1))) {
            memcpy(out, p, (size_t)n);
            out[n] = '\0';
            *pem_len = (size_t)n;
        }
    }
    BIO_free(b);
    return out;
}

/* 1 ok, 0 refused by the loader, -1 a wrong answer (refused without a message, a chain left). */
static int load_validated(const uint8_t *der, size_t len)
{
    size_t pl = 0;
    char *pem = pem_of(der, len, &pl), err[256] = "";
    etls_cert_chain_t c;
    int rc = pem ? etls_cert_chain_load_pem_validated(&c, pem, pl, err, sizeof err) : -100;
    int out = rc == 0 ? (c.n == 1 && c.der_len[0] == len && !memcmp(c.der[0], der, len))
              : rc == -100 ? -1 : (c.n == 0 && err[0] ? 0 : -1);
    if (rc < 0 && getenv("ETLS_TEST_VERBOSE"))
        fprintf(stderr, "load_validated: %s\n", err);
    if (rc == 0) {
        char names[4096];
        int nr = etls_cert_leaf_dns_names(&c, names, sizeof names);
        out = out && (nr == 0 || nr == ETLS_ERR_INVALID) ? 1 : -1;
        etls_cert_chain_free(&c);
    }
    free(pem);
    return out;
}

/* The structural walk of the control-plane loader: the same chains, names and key matches as
 * the full loader; broken structure refused; and over random damage to a real certificate,
 * never a crash, and never a refusal of something OpenSSL's d2i_X509 accepts. */
static void validated_cases(EVP_PKEY *ec)
{
    X509 *certs[3];
    CHECK(make_chain(ec, 3, certs) == 0);
    CHECK(pkt_write_certs(tmp("vchain.pem"), certs, 3) == 0);
    size_t len;
    char *pem = pkt_read_file(tmp("vchain.pem"), &len), err[512] = "", path[512], kerr[256];
    etls_cert_chain_t full, fast;
    CHECK(pem && etls_cert_chain_load_pem(&full, pem, len, err, sizeof err) == 0);
    CHECK(pem && etls_cert_chain_load_pem_validated(&fast, pem, len, err, sizeof err) == 0);
    CHECK(fast.n == 3 && full.n == 3 && fast.leaf_parsed == NULL);
    for (size_t i = 0; i < 3 && i < fast.n && i < full.n; i++)
        CHECK(fast.der_len[i] == full.der_len[i] && !memcmp(fast.der[i], full.der[i], full.der_len[i]));
    etls_pkey_t *mine = NULL, *other = NULL, *rsa = NULL;
    EVP_PKEY *k2 = pkt_keygen("ec"), *kr = pkt_keygen("rsa2048");
    CHECK(pkt_write_key(pkt_path(path, sizeof path, dir, "vmine.pem"), ec, PKT_TRAD) == 0);
    CHECK(etls_pkey_load_file(&mine, path, kerr, sizeof kerr) == 0);
    CHECK(pkt_write_key(path, k2, PKT_PKCS8) == 0 && etls_pkey_load_file(&other, path, kerr, sizeof kerr) == 0);
    CHECK(pkt_write_key(path, kr, PKT_PKCS8) == 0 && etls_pkey_load_file(&rsa, path, kerr, sizeof kerr) == 0);
    char m1[256] = "", m2[256] = "";
    CHECK(etls_cert_chain_check_key(&fast, mine, m1, sizeof m1) == 0 && m1[0] == '\0');
    CHECK(etls_cert_chain_check_key(&fast, other, m1, sizeof m1) == ETLS_ERR_INVALID);
    CHECK(etls_cert_chain_check_key(&full, other, m2, sizeof m2) == ETLS_ERR_INVALID);
    CHECK_MSG(strcmp(m1, m2) == 0 && strstr(m1, "not the one for the leaf"), "'%s' vs '%s'", m1, m2);
    CHECK(etls_cert_chain_check_key(&fast, rsa, m1, sizeof m1) == ETLS_ERR_INVALID);
    CHECK_MSG(strstr(m1, "certificate key is EC, the private key is RSA") != NULL, "'%s'", m1);
    etls_pkey_free(mine);
    etls_pkey_free(other);
    etls_pkey_free(rsa);
    EVP_PKEY_free(k2);
    EVP_PKEY_free(kr);
    free(pem);

    /* Broken structure: short, long, wrong tags, an indefinite length. */
    size_t dl = full.der_len[0];
    uint8_t *d = malloc(dl + 1);
    CHECK(d != NULL);
    if (d) {
        memcpy(d, full.der[0], dl);
        CHECK(load_validated(d, dl) == 1);
        CHECK(load_validated(d, dl - 1) == 0);
        d[dl] = 0;
        CHECK(load_validated(d, dl + 1) == 0);
        d[0] = 0x31;
        CHECK(load_validated(d, dl) == 0);
        d[0] = 0x30;
        uint8_t l1 = d[1];
        d[1] = 0x80;
        CHECK(load_validated(d, dl) == 0);
        d[1] = l1;
        /* Random damage: the walk may accept what the full loader (d2i_X509) refuses (it does
         * not read names or times; the control plane does), never the reverse. */
        uint64_t seed = 0x9e3779b97f4a7c15ull;
        unsigned accepted = 0, refused = 0;
        for (int i = 0; i < 3000; i++) {
            memcpy(d, full.der[0], dl);
            for (int f = 0; f < 1 + i % 3; f++) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                d[(seed >> 33) % dl] ^= (uint8_t)(1u << ((seed >> 20) & 7));
            }
            size_t pl = 0;
            char *dp = pem_of(d, dl, &pl), e2[256];
            etls_cert_chain_t c2;
            int full_ok = dp && etls_cert_chain_load_pem(&c2, dp, pl, e2, sizeof e2) == 0;
            if (full_ok)
                etls_cert_chain_free(&c2);
            free(dp);
            int r = load_validated(d, dl);
            if (full_ok && r != 1 && getenv("ETLS_TEST_VERBOSE"))
                for (size_t j = 0; j < dl; j++)
                    if (d[j] != full.der[0][j])
                        fprintf(stderr, "damage %d: byte %zu %02x -> %02x\n", i, j, full.der[0][j], d[j]);
            CHECK_MSG(r >= 0, "damage %d: a wrong answer", i);
            CHECK_MSG(!full_ok || r == 1, "damage %d: the full loader accepts, the walk refuses", i);
            accepted += r == 1;
            refused += r == 0;
        }
        CHECK(accepted > 0 && refused > 0);
    }
    free(d);
    etls_cert_chain_free(&full);
    etls_cert_chain_free(&fast);
    for (int i = 0; i < 3; i++)
        X509_free(certs[i]);
}

static void names_cases(EVP_PKEY *ec)
{
    char out[256];
    static const char want1[] = "www.example.com\0*.example.org\0a-b_c.test\0";
    CHECK(names_of(ec, "Ignored.Example", "DNS:WWW.Example.COM,DNS:*.EXAMPLE.org,IP:127.0.0.1,"
                   "email:a@b.test,DNS:A-b_C.test", out, sizeof out) == 0);
    CHECK_MEM(out, want1, sizeof want1);
    static const char want2[] = "host.example.net\0";
    CHECK(names_of(ec, "Host.Example.NET", NULL, out, sizeof out) == 0);
    CHECK_MEM(out, want2, sizeof want2);
    static const char want3[] = "*.wild.test\0";
    CHECK(names_of(ec, "*.Wild.Test", NULL, out, sizeof out) == 0);
    CHECK_MEM(out, want3, sizeof want3);
    CHECK(names_of(ec, NULL, NULL, out, sizeof out) == 0 && out[0] == '\0');
    /* A SAN without dNSName entries: the CN is not used (RFC 6125 §6.4.4). */
    CHECK(names_of(ec, "cn.test", "IP:10.0.0.1", out, sizeof out) == 0 && out[0] == '\0');
    /* "a.test\0b.test\0\0" is 15 bytes */
    CHECK(names_of(ec, NULL, "DNS:a.test,DNS:b.test", out, 8) == ETLS_ERR_LIMIT);
    CHECK(names_of(ec, NULL, "DNS:a.test,DNS:b.test", out, 14) == ETLS_ERR_LIMIT);
    CHECK(names_of(ec, NULL, "DNS:a.test,DNS:b.test", out, 15) == 0);
    CHECK_MEM(out, "a.test\0b.test\0", 15);
    /* Names the SNI matcher could not handle are refused when the chain loads. */
    CHECK(names_of(ec, NULL, "DNS:bad name.test", out, sizeof out) == ETLS_ERR_INVALID);
    CHECK(names_of(ec, "evil/..", NULL, out, sizeof out) == ETLS_ERR_INVALID);
}

/* etls_pkey_file_check_mode: 0600 fine, 0640 a warning, anything others can touch or the group
 * can write refused with a message that says how to fix it; a missing file is ETLS_ERR_IO. */
static void key_mode_cases(void)
{
    static const struct {
        unsigned mode;
        int want;
        const char *says;
    } cases[] = {
        {0600, 0, "mode 0600"},
        {0400, 0, "mode 0400"},
        {0640, 1, "readable by group"},
        {0644, ETLS_ERR_INVALID, "accessible to every user"},
        {0604, ETLS_ERR_INVALID, "accessible to every user"},
        {0602, ETLS_ERR_INVALID, "accessible to every user"},
        {0660, ETLS_ERR_INVALID, "writable by its group"},
    };
    char path[600], msg[700];
    snprintf(path, sizeof path, "%s/mode.key", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("not a key, only its mode matters\n", f);
    fclose(f);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK(chmod(path, cases[i].mode) == 0);
        int rc = etls_pkey_file_check_mode(path, msg, sizeof msg);
        CHECK_MSG(rc == cases[i].want, "mode %04o: rc %d", cases[i].mode, rc);
        CHECK_MSG(strstr(msg, cases[i].says) && strncmp(msg, path, strlen(path)) == 0,
                  "mode %04o: '%s'", cases[i].mode, msg);
        if (rc == ETLS_ERR_INVALID)
            CHECK(strstr(msg, "chmod 600") != NULL);
    }
    unlink(path);
    CHECK(etls_pkey_file_check_mode(path, msg, sizeof msg) == ETLS_ERR_IO);
    CHECK(strstr(msg, "cannot examine") != NULL);
}

int main(void)
{
    if (pkt_tmpdir(dir, sizeof dir) != 0) {
        perror("mkdtemp");
        return 1;
    }
    EVP_PKEY *ec = pkt_keygen("ec");
    X509 *cert = ec ? pkt_cert(ec, NULL, NULL, "self.test", "DNS:self.test") : NULL;
    CHECK(ec && cert);
    if (ec && cert) {
        key_file_errors(ec);
        key_type_errors();
        key_content_cases(ec, cert);
        pem_variants();
        mismatched_sec1(ec);
        chain_cases(ec);
        names_cases(ec);
        validated_cases(ec);
        key_mode_cases();
    }
    X509_free(cert);
    EVP_PKEY_free(ec);
    pkt_rmdir(dir);
    struct stat st;
    CHECK(stat(dir, &st) != 0); /* temp dir removed */
    return etls_test_summary("test_pk_load");
}
