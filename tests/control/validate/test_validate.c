/* Entry validation (control/validate) against a PKI made by make_pki.sh: every refusal with its
 * message, the success cases, and the RFC 6125 name rules. */
#include "test.h"
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *dir;

static char *slurp(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(1);
    }
    char *p = malloc(1 << 20);
    *len = fread(p, 1, 1 << 20, f);
    fclose(f);
    return p;
}

/* Runs one check; want NULL: must pass; else the error must contain want. */
static void run(const char *chain, const char *key, const char *const *names, size_t n, int force, time_t now,
                const char *want, etls_val_info_t *info)
{
    size_t cl, kl;
    char *c = slurp(chain, &cl), *k = slurp(key, &kl), err[600] = "";
    char ca[1024];
    snprintf(ca, sizeof ca, "%s/root.pem", dir);
    etls_val_opts_t o = {.ca_file = ca, .warn_days = 30, .force = force, .now = now};
    int rc = etls_val_check("t", c, cl, k, kl, names, n, &o, info, err, sizeof err);
    if (want)
        CHECK_MSG(rc < 0 && strstr(err, want) && !strncmp(err, "cert t: ", 8), "%s/%s: rc %d err '%s' want '%s'",
                  chain, key, rc, err, want);
    else
        CHECK_MSG(rc == 0, "%s/%s: refused: %s", chain, key, err);
    free(c);
    free(k);
}

static void test_entries(void)
{
    static etls_val_info_t info;
    const char *www[] = {"www.example.test"}, *wild[] = {"a.img.example.test"}, *deep[] = {"a.b.img.example.test"},
               *bare[] = {"img.example.test"}, *other[] = {"api.example.test"};
    run("full.pem", "leaf.key", www, 1, 0, 0, NULL, &info);
    CHECK(!strcmp(info.key_type, "ecdsa-p256") && info.n_chain == 2 && info.n_sans == 2);
    CHECK(strlen(info.fingerprint) == 64 && info.serial[0] && strstr(info.subject, "CN=leaf"));
    CHECK(info.n_warnings == 1 && strstr(info.warnings[0], "expires in")); /* 10 days < warn_days 30 */
    run("withroot.pem", "leaf.key", NULL, 0, 0, 0, NULL, NULL);
    run("full.pem", "leaf.key", wild, 1, 0, 0, NULL, NULL);
    run("full.pem", "leaf.key", deep, 1, 0, 0, "not covered", NULL);
    run("full.pem", "leaf.key", bare, 1, 0, 0, "not covered", NULL);
    run("full.pem", "leaf.key", other, 1, 1, 0, NULL, &info); /* --force: a warning */
    CHECK(info.n_warnings >= 1 && strstr(info.warnings[0], "accepted with --force"));
    run("rsafull.pem", "rsa.key", www, 1, 0, 0, NULL, &info);
    CHECK(!strcmp(info.key_type, "rsa-2048"));
    run("full.pem", "other.key", NULL, 0, 0, 0, "does not match the leaf", NULL);
    run("reversed.pem", "leaf.key", NULL, 0, 0, 0, "key", NULL); /* the first cert is the intermediate */
    run("leaf.pem", "leaf.key", NULL, 0, 0, 0, "missing intermediate: no certificate for issuer CN=Test Intermediate", NULL);
    run("garbage.pem", "leaf.key", NULL, 0, 0, 0, "chain: bad PEM or DER", NULL);
    run("truncated.pem", "leaf.key", NULL, 0, 0, 0, "chain:", NULL);
    run("leaf.key", "leaf.key", NULL, 0, 0, 0, "no PEM certificate found", NULL);
    run("full.pem", "full.pem", NULL, 0, 0, 0, "no PEM private key", NULL);
    run("rsa1024full.pem", "rsa1024.key", NULL, 0, 0, 0, "weak key: RSA 1024 bits", NULL);
    run("clientfull.pem", "client.key", NULL, 0, 0, 0, "extendedKeyUsage forbids TLS server use", NULL);
    run("kencfull.pem", "kenc.key", NULL, 0, 0, 0, "keyUsage forbids TLS server use", NULL);
    run("nosanfull.pem", "nosan.key", www, 1, 0, 0, "leaf has no DNS subjectAltName", NULL);
    time_t now = time(NULL);
    run("full.pem", "leaf.key", NULL, 0, 0, now + 20 * 86400, "expired on", NULL);
    run("full.pem", "leaf.key", NULL, 0, 0, now - 2 * 86400, "is not valid before", NULL);
    run("staplefull.pem", "staple.key", www, 1, 0, 0, NULL, &info);
    CHECK(info.must_staple);
}

static void test_order(void)
{
    /* a chain whose second certificate does not issue the first, with a matching key */
    size_t a, b;
    char *leafp = slurp("leaf.pem", &a), *rsap = slurp("rsa.pem", &b), *key = NULL;
    char *both = malloc(a + b);
    memcpy(both, leafp, a);
    memcpy(both + a, rsap, b);
    size_t kl;
    key = slurp("leaf.key", &kl);
    char err[600];
    etls_val_opts_t o = {.warn_days = 0};
    CHECK(etls_val_check("t", both, a + b, key, kl, NULL, 0, &o, NULL, err, sizeof err) < 0);
    CHECK_MSG(strstr(err, "chain out of order"), "%s", err);
    free(both);
    free(leafp);
    free(rsap);
    free(key);
}

static void test_names(void)
{
    CHECK(etls_val_name_covered("www.example.test", "WWW.Example.test"));
    CHECK(!etls_val_name_covered("www.example.test", "ww.example.test"));
    CHECK(etls_val_name_covered("*.example.test", "a.example.test"));
    CHECK(!etls_val_name_covered("*.example.test", "a.b.example.test"));
    CHECK(!etls_val_name_covered("*.example.test", "example.test"));
    CHECK(!etls_val_name_covered("*.example.test", ".example.test"));
    CHECK(!etls_val_name_covered("*.com", "example.com"));
    CHECK(!etls_val_name_covered("f*.example.test", "foo.example.test"));
    CHECK(!etls_val_name_covered("*", "a"));
    CHECK(!etls_val_name_covered("*.*.example.test", "a.b.example.test"));
    CHECK(etls_val_name_covered("*.example.test", "*.example.test"));
    CHECK(!etls_val_name_covered("a.example.test", "*.example.test"));
    CHECK(!etls_val_name_covered("www.example.test.", "www.example.test"));
    CHECK(!etls_val_name_covered("", "a"));
}

/* etls_val_brief (leaf TLVs through OpenSSL's ASN.1 decoders, no X509 object) says what the
 * full check says of the same leaf; and refuses what is not a certificate. */
static void test_brief(void)
{
    static etls_val_info_t info;
    static const char *const chains[][2] = {{"full.pem", "leaf.key"},           {"rsafull.pem", "rsa.key"},
                                            {"staplefull.pem", "staple.key"},   {"withroot.pem", "leaf.key"},
                                            {"clientfull.pem", "client.key"},   {"nosanfull.pem", "nosan.key"}};
    for (size_t i = 0; i < sizeof chains / sizeof chains[0]; i++) {
        size_t cl, kl;
        char *c = slurp(chains[i][0], &cl), *k = slurp(chains[i][1], &kl), err[600], ca[1024];
        snprintf(ca, sizeof ca, "%s/root.pem", dir);
        etls_val_opts_t o = {.ca_file = ca, .warn_days = 30, .force = 1};
        memset(&info, 0, sizeof info);
        etls_val_check("t", c, cl, k, kl, NULL, 0, &o, &info, err, sizeof err); /* refusals still describe */
        etls_val_brief_t b;
        CHECK_MSG(etls_val_brief(c, cl, &b) == 0, "%s: no brief", chains[i][0]);
        CHECK_MSG(!strcmp(b.serial, info.serial) && !strcmp(b.not_after, info.not_after) &&
                      b.not_after_t == info.not_after_t && !strcmp(b.fingerprint, info.fingerprint),
                  "%s: brief %s %s %s, check %s %s %s", chains[i][0], b.serial, b.not_after, b.fingerprint,
                  info.serial, info.not_after, info.fingerprint);
        CHECK(b.serial[0] && b.not_after_t > 0 && strlen(b.fingerprint) == 64);
        /* every truncation of the armoured leaf is refused or (past its END line) the same */
        for (size_t cut = 0; cut < cl; cut += 7) {
            etls_val_brief_t t;
            int rc = etls_val_brief(c, cut, &t);
            CHECK_MSG(rc < 0 || !strcmp(t.fingerprint, b.fingerprint), "%s cut at %zu: another certificate",
                      chains[i][0], cut);
        }
        free(c);
        free(k);
    }
    etls_val_brief_t b;
    size_t n;
    char *g = slurp("garbage.pem", &n);
    CHECK(etls_val_brief(g, n, &b) == -1 && !b.serial[0]);
    free(g);
    g = slurp("leaf.key", &n);
    CHECK(etls_val_brief(g, n, &b) == -1); /* a key, not a certificate */
    free(g);
    CHECK(etls_val_brief("", 0, &b) == -1);
    /* a CERTIFICATE block whose DER is not a certificate */
    const char *junk = "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n";
    CHECK(etls_val_brief(junk, strlen(junk), &b) == -1);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_validate PKI_DIR\n");
        return 2;
    }
    dir = argv[1];
    test_entries();
    test_order();
    test_names();
    test_brief();
    return etls_test_summary("validate");
}
