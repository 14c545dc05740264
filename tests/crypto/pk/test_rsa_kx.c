/* The TLS 1.2 RSA key exchange primitives (crypto/pk rsa_kx.c): the raw RSA private operation
 * against OpenSSL's public one, and the constant-time PKCS#1 v1.5 premaster check with implicit
 * rejection against a plain reference parser and against OpenSSL's own TLS padding mode
 * (RSA_PKCS1_WITH_TLS_PADDING, what libssl uses). With argument "ct" (suite 'ct', under
 * valgrind) only the premaster check runs, on encoded messages and R marked secret: any branch
 * or index on them is reported; the verdict is declassified after the call. */
#include "crypto/pk.h"

#include "common/ct.h"
#include "common/err.h"
#include "pk_testutil.h"
#include "test.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <string.h>

#define K_MAX 512

/* RFC 8017 §7.2.2 the obvious way, with the RFC 5246 §7.4.7.1 length and version checks:
 * 1 when em carries a 48-byte M starting with version (copied to m). */
static int reference(const uint8_t *em, size_t k, uint16_t version, uint8_t m[48])
{
    if (em[0] != 0 || em[1] != 2)
        return 0;
    size_t i = 2;
    while (i < k && em[i] != 0)
        i++;
    if (i == k || i - 2 < 8 || k - i - 1 != 48)
        return 0;
    if (em[i + 1] != version >> 8 || em[i + 2] != (version & 0xff))
        return 0;
    memcpy(m, em + i + 1, 48);
    return 1;
}

/* A well-formed EM for a 48-byte M starting with version, then damaged as `kind` says. */
static void make_em(etls_test_rng_t *r, uint8_t *em, size_t k, uint16_t version, int kind)
{
    em[0] = 0;
    em[1] = 2;
    for (size_t i = 2; i < k - 49; i++) {
        do
            em[i] = (uint8_t)etls_test_rng_next(r);
        while (!em[i]);
    }
    em[k - 49] = 0;
    etls_test_rng_bytes(r, em + k - 48, 48);
    em[k - 48] = (uint8_t)(version >> 8);
    em[k - 47] = (uint8_t)version;
    size_t at = 2 + etls_test_rng_next(r) % (k - 51);
    switch (kind) {
    case 0: break;                                    /* valid */
    case 1: em[0] = 1; break;                         /* leading byte */
    case 2: em[1] = (uint8_t)(1 + etls_test_rng_next(r) % 2 * 2); break; /* block type 1 or 3 */
    case 3: em[at] = 0; break;                        /* a zero inside PS: M longer than 48 */
    case 4: em[k - 49] = 0x5a; break;                 /* no separator where 48 bytes need it */
    case 5: em[k - 49] = 0x5a; em[k - 48 + 5] = 0; break; /* M of 42 bytes */
    case 6: em[k - 48] ^= 1; break;                   /* client_version major */
    case 7: em[k - 47] ^= 3; break;                   /* client_version minor (0x0300) */
    case 8: em[2 + 7] = 0; break;                     /* PS of 7 bytes (and M too long) */
    case 9: etls_test_rng_bytes(r, em, k); break;     /* noise */
    default: memset(em, 0, k); break;                 /* all zero */
    }
}
#define N_KINDS 11

static void premaster_cases(int ct)
{
    etls_test_rng_t r;
    etls_test_rng_seed(&r, etls_test_seed("rsa_kx premaster"));
    static const size_t ks[] = {256, 384, 512};
    static const uint16_t versions[] = {0x0303, 0x0302};
    for (size_t ki = 0; ki < 3; ki++) {
        for (int kind = 0; kind < N_KINDS; kind++) {
            for (int rep = 0; rep < (ct ? 2 : 40); rep++) {
                uint8_t em[K_MAX], sec[K_MAX], pms[48], R[48], want[48];
                size_t k = ks[ki];
                uint16_t v = versions[rep % 2];
                make_em(&r, em, k, v, kind);
                etls_test_rng_bytes(&r, R, 48);
                int ok = reference(em, k, v, want);
                if (!ok)
                    memcpy(want, R, 48);
                memcpy(sec, em, k);
                memcpy(pms, R, 48);
                etls_ct_classify(sec, k);
                etls_ct_classify(pms, 48);
                uint8_t mask = etls_rsa_tls12_premaster(sec, k, v, pms);
                etls_ct_declassify(&mask, 1);
                etls_ct_declassify(pms, 48);
                CHECK_MSG(mask == (ok ? 0xff : 0) && memcmp(pms, want, 48) == 0,
                          "k %zu kind %d rep %d: verdict %02x, want %d", k, kind, rep, mask, ok);
                CHECK(kind != 0 || ok); /* the valid encoding is valid */
            }
        }
    }
    uint8_t tiny[58] = {0, 2}, pms[48] = {7};
    CHECK(etls_rsa_tls12_premaster(tiny, sizeof tiny, 0x0303, pms) == 0 && pms[0] == 7);
}

static etls_pkey_t *wrap(EVP_PKEY *pk)
{
    BIO *b = BIO_new(BIO_s_mem());
    CHECK(PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL) == 1);
    char *pem;
    long n = BIO_get_mem_data(b, &pem);
    etls_pkey_t *k = NULL;
    char err[256];
    CHECK_MSG(etls_pkey_load_pem(&k, pem, (size_t)n, err, sizeof err) == 0, "%s", err);
    BIO_free(b);
    return k;
}

static void raw_encrypt(EVP_PKEY *pk, const uint8_t *m, size_t k, uint8_t *c)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    size_t n = k;
    CHECK(pc && EVP_PKEY_encrypt_init(pc) == 1 && EVP_PKEY_CTX_set_rsa_padding(pc, RSA_NO_PADDING) == 1);
    CHECK(EVP_PKEY_encrypt(pc, c, &n, m, k) == 1 && n == k);
    EVP_PKEY_CTX_free(pc);
}

/* OpenSSL's TLS padding mode (implicit rejection inside): 0 and out = its premaster. */
static int ossl_tls_decrypt(EVP_PKEY *pk, const uint8_t *c, size_t k, uint16_t version, uint8_t out[48])
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    unsigned int cv = version, nv = version;
    OSSL_PARAM ps[] = {
        OSSL_PARAM_construct_uint(OSSL_ASYM_CIPHER_PARAM_TLS_CLIENT_VERSION, &cv),
        OSSL_PARAM_construct_uint(OSSL_ASYM_CIPHER_PARAM_TLS_NEGOTIATED_VERSION, &nv),
        OSSL_PARAM_construct_end(),
    };
    uint8_t buf[K_MAX];
    size_t n = sizeof buf;
    int ok = pc && EVP_PKEY_decrypt_init(pc) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_WITH_TLS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_params(pc, ps) == 1 && EVP_PKEY_decrypt(pc, buf, &n, c, k) == 1 && n == 48;
    EVP_PKEY_CTX_free(pc);
    if (ok)
        memcpy(out, buf, 48);
    return ok ? 0 : -1;
}

static void with_keys(void)
{
    etls_test_rng_t r;
    etls_test_rng_seed(&r, etls_test_seed("rsa_kx keys"));
    EVP_PKEY *pk = pkt_keygen("rsa2048");
    CHECK(pk != NULL);
    etls_pkey_t *k = wrap(pk);
    CHECK(k && etls_pkey_rsa_size(k) == 256);
    uint8_t m[256], c[256], out[256], em[256];
    for (int i = 0; i < 20; i++) { /* raw round trips, also in place */
        etls_test_rng_bytes(&r, m, sizeof m);
        m[0] = (uint8_t)(m[0] & 0x3f); /* below n (n's top bit is set) */
        raw_encrypt(pk, m, 256, c);
        CHECK(etls_pkey_rsa_decrypt_raw(k, c, 256, out) == 0 && memcmp(out, m, 256) == 0);
        CHECK(etls_pkey_rsa_decrypt_raw(k, c, 256, c) == 0 && memcmp(c, m, 256) == 0);
    }
    memset(c, 0xff, sizeof c); /* >= n: public, refused */
    CHECK(etls_pkey_rsa_decrypt_raw(k, c, 256, out) == ETLS_ERR_INVALID);
    CHECK(etls_pkey_rsa_decrypt_raw(k, c, 255, out) == ETLS_ERR_INVALID);
    CHECK(etls_pkey_rsa_decrypt_raw(k, c, 257, out) == ETLS_ERR_INVALID);
    CHECK(ERR_peek_error() == 0);
    /* the whole path against OpenSSL's TLS padding mode: same M for every valid encoding, and
     * for an invalid one never M (OpenSSL answers a random premaster, as we answer R) */
    for (int kind = 0; kind < N_KINDS; kind++) {
        for (int rep = 0; rep < 10; rep++) {
            uint8_t R[48], pms[48], want[48], theirs[48];
            make_em(&r, em, 256, 0x0303, kind);
            int ok = reference(em, 256, 0x0303, want);
            if (em[0] != 0 || memcmp(em, (uint8_t[256]){0}, 256) == 0)
                continue; /* >= n possible for noise; zero encrypts to zero: both uninteresting */
            raw_encrypt(pk, em, 256, c);
            etls_test_rng_bytes(&r, R, 48);
            memcpy(pms, R, 48);
            CHECK(etls_pkey_rsa_decrypt_raw(k, c, 256, out) == 0);
            (void)etls_rsa_tls12_premaster(out, 256, 0x0303, pms);
            CHECK(memcmp(pms, ok ? want : R, 48) == 0);
            CHECK(ossl_tls_decrypt(pk, c, 256, 0x0303, theirs) == 0);
            CHECK_MSG(ok ? memcmp(theirs, want, 48) == 0 : memcmp(theirs, em + 208, 48) != 0,
                      "kind %d: OpenSSL disagrees (valid %d)", kind, ok);
        }
    }
    ERR_clear_error();
    etls_pkey_free(k);
    /* not an RSA key */
    EVP_PKEY *ec = pkt_keygen("ec");
    etls_pkey_t *e = wrap(ec);
    CHECK(etls_pkey_rsa_size(e) == 0 && etls_pkey_rsa_decrypt_raw(e, c, 256, out) == ETLS_ERR_INVALID);
    etls_pkey_free(e);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(pk);
}

int main(int argc, char **argv)
{
    int ct = argc > 1 && strcmp(argv[1], "ct") == 0;
    premaster_cases(ct);
    if (!ct)
        with_keys();
    return etls_test_summary(ct ? "test_rsa_kx ct" : "test_rsa_kx");
}
