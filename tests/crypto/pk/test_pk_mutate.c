/* Robustness of the pk parsers: valid keys, chains and DER mutated at random (flips, truncation,
 * insertion, deletion, PEM punctuation) and fed through the fuzz body (fuzz_pk.c), which checks
 * the API invariants. Under ASan this doubles as a memory-safety run over malformed input. */
#include "crypto/pk.h"

#include "pk_testutil.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#if defined(__SANITIZE_ADDRESS__)
#define MUTATIONS 60
#else
#define MUTATIONS 600
#endif

static etls_test_rng_t rng;

typedef struct {
    const char *name;
    uint8_t *data;
    size_t len;
    int want; /* PK_FUZZ_* bits the unmutated input must give */
} seed_t;

static size_t pick(size_t n)
{
    return n ? (size_t)(etls_test_rng_next(&rng) % n) : 0;
}

/* One random edit of buf[0..*len) (capacity cap). */
static void mutate(uint8_t *buf, size_t *len, size_t cap)
{
    static const char punct[] = "-\n=A+/ \r";
    size_t at = pick(*len), n;
    switch (pick(6)) {
    case 0:
        buf[at] ^= (uint8_t)(1 + pick(255));
        break;
    case 1:
        *len = at;
        break;
    case 2:
        if (*len < cap) {
            memmove(buf + at + 1, buf + at, *len - at);
            buf[at] = (uint8_t)etls_test_rng_next(&rng);
            (*len)++;
        }
        break;
    case 3:
        n = pick(*len - at + 1);
        memmove(buf + at, buf + at + n, *len - at - n);
        *len -= n;
        break;
    case 4:
        buf[at] = (uint8_t)punct[pick(sizeof punct - 1)];
        break;
    default: /* duplicate a chunk: repeated blocks, lines, DER elements */
        n = pick(*len - at + 1);
        if (n && *len + n <= cap) {
            memmove(buf + at + n, buf + at, *len - at);
            (*len) += n;
        }
        break;
    }
}

static void run_seed(const seed_t *s)
{
    CHECK_MSG(s->data && s->len, "%s: no seed", s->name);
    if (!s->data)
        return;
    int got = pk_fuzz_one(s->data, s->len);
    CHECK_MSG(got == s->want, "%s: unmutated input gives %d, want %d", s->name, got, s->want);
    size_t cap = s->len * 2 + 64;
    uint8_t *buf = malloc(cap);
    unsigned long parsed = 0;
    for (int i = 0; i < MUTATIONS; i++) {
        size_t len = s->len;
        memcpy(buf, s->data, len);
        for (size_t edits = 1 + pick(3); edits > 0; edits--)
            mutate(buf, &len, cap);
        int rc = pk_fuzz_one(buf, len);
        CHECK_MSG(rc >= 0, "%s: mutation %d broke an invariant", s->name, i);
        parsed += rc > 0;
    }
    printf("%-22s %d mutations, %lu still parsed\n", s->name, MUTATIONS, parsed);
    free(buf);
}

static uint8_t *pem_of(EVP_PKEY *k, int trad, X509 *const *certs, size_t n, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    int ok = b != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = PEM_write_bio_X509(b, certs[i]);
    if (ok && k)
        ok = trad ? PEM_write_bio_PrivateKey_traditional(b, k, NULL, NULL, 0, NULL, NULL)
                  : PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    char *p = NULL;
    long l = ok ? BIO_get_mem_data(b, &p) : 0;
    uint8_t *out = l > 0 ? malloc((size_t)l) : NULL;
    if (out)
        memcpy(out, p, (size_t)l);
    *len = out ? (size_t)l : 0;
    BIO_free(b);
    return out;
}

static uint8_t *spki_of(EVP_PKEY *k, size_t *len)
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(k, &der);
    uint8_t *out = n > 0 ? malloc((size_t)n) : NULL;
    if (out)
        memcpy(out, der, (size_t)n);
    OPENSSL_free(der);
    *len = out ? (size_t)n : 0;
    return out;
}

int main(void)
{
    etls_test_rng_seed(&rng, etls_test_seed("test_pk_mutate"));
    EVP_PKEY *ec = pkt_keygen("ec"), *ed = pkt_keygen("ed25519"), *rsa = pkt_keygen("rsa2048");
    EVP_PKEY *ca = pkt_keygen("ec");
    X509 *chain[3] = {NULL, NULL, NULL};
    chain[2] = pkt_cert(ca, NULL, NULL, "root", NULL);
    chain[1] = pkt_cert(ca, ca, chain[2], "ca", NULL);
    chain[0] = pkt_cert(ec, ca, chain[1], "Leaf", "DNS:leaf.test,DNS:*.Leaf.Test,IP:::1");
    CHECK(ec && ed && rsa && ca && chain[0] && chain[1] && chain[2]);
    seed_t seeds[] = {
        {"ec pkcs8", NULL, 0, PK_FUZZ_KEY},    {"ec sec1", NULL, 0, PK_FUZZ_KEY},
        {"ed25519 pkcs8", NULL, 0, PK_FUZZ_KEY}, {"rsa pkcs1", NULL, 0, PK_FUZZ_KEY},
        {"chain + key", NULL, 0, PK_FUZZ_KEY | PK_FUZZ_CHAIN},
        {"certificate der", NULL, 0, PK_FUZZ_CERT_DER},
        {"ec spki der", NULL, 0, PK_FUZZ_SPKI_DER}, {"rsa spki der", NULL, 0, PK_FUZZ_SPKI_DER},
    };
    seeds[0].data = pem_of(ec, 0, NULL, 0, &seeds[0].len);
    seeds[1].data = pem_of(ec, 1, NULL, 0, &seeds[1].len);
    seeds[2].data = pem_of(ed, 0, NULL, 0, &seeds[2].len);
    seeds[3].data = pem_of(rsa, 1, NULL, 0, &seeds[3].len);
    seeds[4].data = pem_of(ec, 0, chain, 3, &seeds[4].len);
    seeds[5].data = chain[0] ? pkt_cert_der(chain[0], &seeds[5].len) : NULL;
    seeds[6].data = spki_of(ec, &seeds[6].len);
    seeds[7].data = spki_of(rsa, &seeds[7].len);
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        run_seed(&seeds[i]);
        free(seeds[i].data);
    }
    for (int i = 0; i < 3; i++)
        X509_free(chain[i]);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(ed);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ca);
    return etls_test_summary("test_pk_mutate");
}
