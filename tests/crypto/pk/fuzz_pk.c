/* libFuzzer harness for the crypto/pk parsers (build with -Dfuzz=true and clang), and the body
 * that test_pk_mutate runs over mutated inputs in the ordinary test suite. */
#include "crypto/pk.h"

#include "common/err.h"
#include "pk_testutil.h"

#include <stdlib.h>
#include <string.h>

static int one_line(const char *err)
{
    return err[0] != '\0' && strchr(err, '\n') == NULL;
}

static int try_key(const uint8_t *data, size_t size, etls_pkey_t **k)
{
    char err[256] = "";
    int rc = etls_pkey_load_pem(k, data, size, err, sizeof err);
    if (rc < 0)
        return *k == NULL && one_line(err) ? 0 : -1;
    if (!*k || etls_pkey_scheme(*k) == 0)
        return -1;
    uint8_t sig[ETLS_SIG_MAX_LEN];
    size_t siglen = sizeof sig;
    uint16_t s = etls_pkey_scheme(*k);
    if (etls_pkey_sign(*k, s, data, size, sig, &siglen) != 0 ||
        etls_pkey_verify(*k, s, data, size, sig, siglen) != 0)
        return -1;
    return PK_FUZZ_KEY;
}

/* The control-plane loader (a structural walk, no d2i_X509) on the same text: never refuses
 * what the full loader accepted, and agrees on the DER, the names and the key match. */
static int twin_agrees(const uint8_t *data, size_t size, const etls_cert_chain_t *full, int names_rc,
                       const char *names, const etls_pkey_t *k, int match_rc)
{
    char err[256] = "", tn[4096];
    etls_cert_chain_t c;
    if (etls_cert_chain_load_pem_validated(&c, data, size, err, sizeof err) < 0)
        return 0;
    int ok = c.n == full->n;
    for (size_t i = 0; ok && i < c.n; i++)
        ok = c.der_len[i] == full->der_len[i] && !memcmp(c.der[i], full->der[i], c.der_len[i]);
    int rc = etls_cert_leaf_dns_names(&c, tn, sizeof tn);
    ok &= rc == names_rc;
    if (ok && rc == 0) {
        size_t n = 0;
        while (names[n])
            n += strlen(names + n) + 1;
        ok = !memcmp(tn, names, n + 1);
    }
    if (k)
        ok &= etls_cert_chain_matches_key(&c, k) == match_rc;
    etls_cert_chain_free(&c);
    return ok;
}

static int try_chain(const uint8_t *data, size_t size, const etls_pkey_t *k)
{
    char err[256] = "", names[4096];
    etls_cert_chain_t c;
    int rc = etls_cert_chain_load_pem(&c, data, size, err, sizeof err);
    if (rc < 0)
        return c.n == 0 && one_line(err) ? 0 : -1;
    int ok = c.n >= 1 && c.n <= ETLS_CHAIN_MAX;
    int names_rc = etls_cert_leaf_dns_names(&c, names, sizeof names), match_rc = 0;
    ok &= names_rc == 0 || names_rc == ETLS_ERR_LIMIT;
    if (k)
        rc = match_rc = etls_cert_chain_matches_key(&c, k), ok &= rc == 0 || rc == ETLS_ERR_INVALID;
    ok &= twin_agrees(data, size, &c, names_rc, names, k, match_rc);
    etls_pkey_t *pub = NULL;
    rc = etls_pkey_from_cert_der(&pub, c.der[0], c.der_len[0]);
    ok &= (rc == 0) == (pub != NULL);
    etls_pkey_free(pub);
    etls_cert_chain_free(&c);
    return ok ? PK_FUZZ_CHAIN : -1;
}

static int try_der(const uint8_t *data, size_t size, int spki)
{
    etls_pkey_t *k = NULL;
    int rc = spki ? etls_pkey_from_spki_der(&k, data, size)
                  : etls_pkey_from_cert_der(&k, data, size);
    if ((rc == 0) != (k != NULL)) {
        etls_pkey_free(k);
        return -1;
    }
    if (!k)
        return 0;
    /* A verify-only key refuses to sign and rejects a junk signature. */
    uint8_t sig[ETLS_SIG_MAX_LEN] = {0};
    size_t siglen = sizeof sig;
    uint16_t s = etls_pkey_scheme(k);
    int ok = s != 0 && etls_pkey_sign(k, s, data, size, sig, &siglen) == ETLS_ERR_INVALID &&
             etls_pkey_verify(k, s, data, size, sig, 64) == ETLS_ERR_AUTH;
    etls_pkey_free(k);
    return ok ? (spki ? PK_FUZZ_SPKI_DER : PK_FUZZ_CERT_DER) : -1;
}

int pk_fuzz_one(const uint8_t *data, size_t size)
{
    etls_pkey_t *k = NULL;
    int a = try_key(data, size, &k);
    int b = try_chain(data, size, k);
    int c = try_der(data, size, 0);
    int d = try_der(data, size, 1);
    etls_pkey_free(k);
    if (a < 0 || b < 0 || c < 0 || d < 0)
        return -1;
    return a | b | c | d;
}

#if defined(ETLS_FUZZ_ENTRY)
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (pk_fuzz_one(data, size) < 0)
        abort();
    return 0;
}
#endif
