/* P-256 ECDH: round trips between etls keys, differential against OpenSSL's EVP_PKEY_derive,
 * key generation range, and rejection of every malformed or invalid peer point. */
#include "crypto/pk.h"

#include "common/err.h"
#include "test.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#if defined(__SANITIZE_ADDRESS__)
#define ROUNDS 20
#else
#define ROUNDS 200
#endif

static const uint8_t p256_p[32] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};
static const uint8_t p256_n[32] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};

static etls_test_rng_t rng;

/* An OpenSSL P-256 public key from an encoded point (NULL when OpenSSL refuses it). */
static EVP_PKEY *ossl_pub(const uint8_t *pt, size_t len)
{
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (b && OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
        OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pt, len) &&
        (params = OSSL_PARAM_BLD_to_param(b)) && pc && EVP_PKEY_fromdata_init(pc) > 0)
        EVP_PKEY_fromdata(pc, &k, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(pc);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    return k;
}

static int ossl_derive(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t out[32])
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
    size_t len = 32;
    int ok = pc && EVP_PKEY_derive_init(pc) > 0 && EVP_PKEY_derive_set_peer(pc, peer) > 0 &&
             EVP_PKEY_derive(pc, out, &len) > 0 && len == 32;
    EVP_PKEY_CTX_free(pc);
    return ok;
}

static void round_trips(void)
{
    for (int i = 0; i < ROUNDS; i++) {
        etls_p256_key_t a, b;
        uint8_t pa[65], pb[65], sa[32], sb[32];
        CHECK(etls_p256_keygen(&a, pa) == 0 && etls_p256_keygen(&b, pb) == 0);
        CHECK(pa[0] == 4 && memcmp(pa, pb, 65) != 0);
        CHECK(memcmp(a.priv, p256_n, 32) < 0 && memcmp(a.priv, (uint8_t[32]){0}, 32) != 0);
        CHECK(etls_p256_shared(&a, pb, sa) == 0 && etls_p256_shared(&b, pa, sb) == 0);
        CHECK_MEM(sa, sb, 32);
        etls_p256_key_wipe(&a);
        etls_p256_key_wipe(&b);
        CHECK(memcmp(a.priv, (uint8_t[32]){0}, 32) == 0);
    }
}

/* Both directions against OpenSSL: our key with its peer, its key with ours. */
static void differential(void)
{
    for (int i = 0; i < ROUNDS; i++) {
        EVP_PKEY *theirs = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        uint8_t tpub[65], mpub[65], s1[32], s2[32], s3[32];
        size_t tlen = 0;
        CHECK(theirs && EVP_PKEY_get_octet_string_param(theirs, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                                        tpub, sizeof tpub, &tlen) &&
              tlen == 65);
        etls_p256_key_t mine;
        CHECK(etls_p256_keygen(&mine, mpub) == 0);
        EVP_PKEY *mine_pub = ossl_pub(mpub, sizeof mpub);
        CHECK(mine_pub != NULL); /* OpenSSL accepts our public point */
        CHECK(etls_p256_shared(&mine, tpub, s1) == 0);
        CHECK(mine_pub && ossl_derive(theirs, mine_pub, s2));
        CHECK_MEM(s1, s2, 32);
        /* Their scalar through our code gives the same secret again. */
        BIGNUM *bn = NULL;
        etls_p256_key_t tk;
        CHECK(EVP_PKEY_get_bn_param(theirs, OSSL_PKEY_PARAM_PRIV_KEY, &bn) &&
              BN_bn2binpad(bn, tk.priv, 32) == 32);
        CHECK(etls_p256_shared(&tk, mpub, s3) == 0);
        CHECK_MEM(s1, s3, 32);
        BN_clear_free(bn);
        etls_p256_key_wipe(&tk);
        etls_p256_key_wipe(&mine);
        EVP_PKEY_free(mine_pub);
        EVP_PKEY_free(theirs);
    }
}

/* Expects ETLS_ERR_INVALID and an output wiped to zeros. */
static void expect_bad(const etls_p256_key_t *k, const uint8_t *pt, size_t len, const char *what)
{
    uint8_t out[32];
    memset(out, 0xaa, sizeof out);
    int rc = etls_p256_shared_len(k, pt, len, out);
    CHECK_MSG(rc == ETLS_ERR_INVALID, "%s: rc %d", what, rc);
    CHECK_MSG(memcmp(out, (uint8_t[32]){0}, 32) == 0, "%s: output not wiped", what);
}

/* y := p - y, big-endian: the negated point, which is valid and has the same x. */
static void negate_y(uint8_t pt[65])
{
    int borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int d = p256_p[i] - pt[33 + i] - borrow;
        borrow = d < 0;
        pt[33 + i] = (uint8_t)d;
    }
}

static void invalid_points(void)
{
    etls_p256_key_t k, peer;
    uint8_t pub[65], pt[70], s[32], s2[32];
    CHECK(etls_p256_keygen(&k, pub) == 0 && etls_p256_keygen(&peer, pt) == 0);
    CHECK(etls_p256_shared(&k, pt, s) == 0);

    expect_bad(&k, (const uint8_t *)"\x00", 1, "infinity (1 byte)");
    expect_bad(&k, NULL, 0, "empty");
    expect_bad(&k, (uint8_t[65]){0}, 65, "all zero");
    expect_bad(&k, pt, 64, "short");
    expect_bad(&k, pt, 66, "long");
    uint8_t comp[33];
    comp[0] = (uint8_t)(2 | (pt[64] & 1));
    memcpy(comp + 1, pt + 1, 32);
    expect_bad(&k, comp, 33, "compressed");
    static const uint8_t formats[] = {0x00, 0x02, 0x03, 0x05, 0x06, 0x07, 0x84, 0xff};
    for (size_t i = 0; i < sizeof formats; i++) {
        uint8_t bad[65];
        memcpy(bad, pt, 65);
        bad[0] = formats[i];
        expect_bad(&k, bad, 65, "format byte");
        CHECK(etls_p256_shared(&k, bad, s2) == ETLS_ERR_INVALID);
    }
    for (int i = 0; i < 64; i++) { /* one flipped coordinate bit: off the curve */
        uint8_t bad[65];
        memcpy(bad, pt, 65);
        size_t bit = etls_test_rng_next(&rng) % 512;
        bad[1 + bit / 8] ^= (uint8_t)(1 << (bit % 8));
        expect_bad(&k, bad, 65, "flipped bit");
    }
    uint8_t bad[65] = {4};
    memcpy(bad + 1, p256_p, 32); /* x = p, y anything: coordinate out of range */
    memcpy(bad + 33, pt + 33, 32);
    expect_bad(&k, bad, 65, "x = p");
    memcpy(bad + 1, pt + 1, 32);
    memcpy(bad + 33, p256_p, 32);
    expect_bad(&k, bad, 65, "y = p");

    /* -P is a valid point with the same x: accepted, same shared secret. */
    negate_y(pt);
    CHECK(etls_p256_shared(&k, pt, s2) == 0);
    CHECK_MEM(s, s2, 32);

    /* Scalars 0 and n give the point at infinity: refused, never a zero "secret". */
    etls_p256_key_t zero = {{0}}, order;
    memcpy(order.priv, p256_n, 32);
    expect_bad(&zero, pt, 65, "zero scalar");
    expect_bad(&order, pt, 65, "scalar n");
    CHECK(etls_p256_keygen(NULL, pub) == ETLS_ERR_INVALID);
    CHECK(etls_p256_shared_len(&k, pt, 65, NULL) == ETLS_ERR_INVALID);
    etls_p256_key_wipe(&k);
    etls_p256_key_wipe(&peer);
}

int main(void)
{
    etls_test_rng_seed(&rng, etls_test_seed("test_pk_ecdh"));
    round_trips();
    differential();
    invalid_points();
    return etls_test_summary("test_pk_ecdh");
}
