/* Differential test of the native P-256 (crypto/p256.h) against OpenSSL 3.0 on seeded
 * pseudo-random and edge inputs.
 *
 * usage: test_p256_diff <mode> [count]
 *   sign    our signatures (batches of 1..17, hedged and deterministic) verify with OpenSSL's
 *           EVP_PKEY_verify, and with ours
 *   verify  OpenSSL's signatures (EVP_PKEY_sign) verify with ours; a changed digest does not
 *   ecdh    our shared secret (batches of 1..17) equals OpenSSL's EVP_PKEY_derive from the
 *           other side; peers include points with edge x coordinates (0, 5, 6, p-3, p-4)
 *   keygen  our sk * G equals OpenSSL's for random and edge scalars (1, 2, n-1, n-2, powers of
 *           two, long runs of zero and one bits), and etls_p256_generate's output
 * count defaults to 25,000 operations per mode (four modes: 100,000), 1,500 under sanitizers;
 * meson splits each mode over several tests (ETLS_P256_DIFF_COUNT).
 * Edge scalars and digests are mixed into every mode. Reproduce with ETLS_TEST_SEED. */
#define OPENSSL_SUPPRESS_DEPRECATED /* EC_POINT_mul: the reference for sk * G */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "common/err.h"
#include "crypto/p256.h"
#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
#define DEFAULT_COUNT 1500
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DEFAULT_COUNT 1500
#endif
#endif
#ifndef DEFAULT_COUNT
#define DEFAULT_COUNT 25000
#endif

#define BATCH_MAX 17

static const uint8_t n_be[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
                                 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};

static EC_GROUP *grp;
static BN_CTX *bnctx;
static etls_test_rng_t trng;

/* ---- edge scalars ---- */

#define MAX_EDGE 1200
static uint8_t edge[MAX_EDGE][32];
static size_t n_edge;

/* big-endian a - small (a >= small) */
static void be_sub_small(uint8_t out[32], const uint8_t a[32], unsigned small)
{
    unsigned borrow = small;
    for (int i = 31; i >= 0; i--) {
        int v = (int)a[i] - (int)(borrow & 0xff);
        borrow >>= 8;
        if (v < 0) {
            v += 256;
            borrow++;
        }
        out[i] = (uint8_t)v;
    }
}

static int be_in_range(const uint8_t v[32])
{
    int nz = 0;
    for (int i = 0; i < 32; i++)
        nz |= v[i];
    return nz && memcmp(v, n_be, 32) < 0;
}

static void add_edge(const uint8_t v[32])
{
    if (n_edge < MAX_EDGE && be_in_range(v))
        memcpy(edge[n_edge++], v, 32);
}

static void make_edges(void)
{
    uint8_t v[32];
    for (unsigned s = 1; s <= 4; s++) {
        memset(v, 0, 32);
        v[31] = (uint8_t)s;
        add_edge(v); /* 1..4 */
        be_sub_small(v, n_be, s);
        add_edge(v); /* n-1..n-4 */
    }
    for (int k = 0; k < 256; k++) {
        memset(v, 0, 32);
        v[31 - k / 8] = (uint8_t)(1u << (k % 8));
        add_edge(v); /* 2^k */
        memset(v, 0, 32);
        for (int j = 0; j < k; j++)
            v[31 - j / 8] |= (uint8_t)(1u << (j % 8));
        add_edge(v); /* 2^k - 1: a run of k ones */
        uint8_t w[32];
        for (int i = 0; i < 32; i++)
            w[i] = (uint8_t)~v[i];
        add_edge(w); /* ones above a run of k zeros */
    }
    memset(v, 0x55, 32);
    add_edge(v);
    memset(v, 0xaa, 32);
    v[0] = 0x7a;
    add_edge(v);
    memset(v, 0x84, 32); /* base-32 digits near 16: the signed recoding's carries */
    for (int i = 0; i < 32; i++)
        v[i] = (uint8_t)(i % 5 == 0 ? 0x84 : i % 5 == 1 ? 0x21 : i % 5 == 2 ? 0x08 : i % 5 == 3 ? 0x42 : 0x10);
    add_edge(v);
}

/* A scalar in [1, n-1]: every 16th from the edge list, else random (rejection sampled). */
static void gen_scalar(uint8_t out[32], unsigned long i)
{
    if (i % 16 == 7) {
        memcpy(out, edge[(i / 16) % n_edge], 32);
        return;
    }
    do
        etls_test_rng_bytes(&trng, out, 32);
    while (!be_in_range(out));
}

/* Digests: mostly random, sometimes 0, all-ones, n, n-1, n+1 (reduced mod n in ECDSA). */
static void gen_digest(uint8_t out[32], unsigned long i)
{
    etls_test_rng_bytes(&trng, out, 32);
    switch (i % 64) {
    case 3: memset(out, 0, 32); break;
    case 11: memset(out, 0xff, 32); break;
    case 19: memcpy(out, n_be, 32); break;
    case 27: be_sub_small(out, n_be, 1); break;
    case 35: memcpy(out, n_be, 32); out[31]++; break;
    default: break;
    }
}

/* ---- OpenSSL reference ---- */

static void ossl_pub(uint8_t pub[65], const uint8_t sk[32])
{
    BIGNUM *d = BN_bin2bn(sk, 32, NULL);
    EC_POINT *p = EC_POINT_new(grp);
    int ok = d && p && EC_POINT_mul(grp, p, d, NULL, NULL, bnctx) == 1 &&
             EC_POINT_point2oct(grp, p, POINT_CONVERSION_UNCOMPRESSED, pub, 65, bnctx) == 65;
    CHECK(ok);
    if (!ok)
        memset(pub, 0, 65);
    EC_POINT_free(p);
    BN_free(d);
}

/* An EVP key pair (sk, pub) or a public key (sk NULL). */
static EVP_PKEY *ossl_key(const uint8_t *sk, const uint8_t pub[65])
{
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    BIGNUM *d = sk ? BN_bin2bn(sk, 32, NULL) : NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (b && pc && OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
        OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pub, 65) &&
        (!sk || OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, d)) &&
        (params = OSSL_PARAM_BLD_to_param(b)) && EVP_PKEY_fromdata_init(pc) > 0)
        EVP_PKEY_fromdata(pc, &k, sk ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    BN_clear_free(d);
    EVP_PKEY_CTX_free(pc);
    CHECK(k != NULL);
    return k;
}

static int ossl_verify(EVP_PKEY *k, const uint8_t digest[32], const uint8_t *der, size_t len)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    int ok = c && EVP_PKEY_verify_init(c) == 1 && EVP_PKEY_verify(c, der, len, digest, 32) == 1;
    EVP_PKEY_CTX_free(c);
    return ok;
}

/* ---- modes ---- */

typedef struct keyset {
    uint8_t skb[BATCH_MAX][32], pub[BATCH_MAX][65];
    etls_p256_sk_t sk[BATCH_MAX];
} keyset_t;

static void make_keys(keyset_t *ks, size_t b, unsigned long base)
{
    for (size_t j = 0; j < b; j++) {
        gen_scalar(ks->skb[j], base + j);
        CHECK(etls_p256_sk_load(&ks->sk[j], ks->skb[j]) == 0);
        ossl_pub(ks->pub[j], ks->skb[j]);
    }
}

static void mode_sign(unsigned long count)
{
    static keyset_t ks;
    uint8_t digest[BATCH_MAX][32], extra[BATCH_MAX][32], sig[BATCH_MAX][64];
    etls_p256_sign_op_t ops[BATCH_MAX];
    etls_rand_t rng;
    uint8_t seed[32];
    etls_test_rng_bytes(&trng, seed, sizeof seed);
    etls_rand_init_seeded(&rng, seed);
    unsigned long done = 0;
    for (size_t b = 1; done < count; b = b % BATCH_MAX + 1) {
        make_keys(&ks, b, done);
        for (size_t j = 0; j < b; j++) {
            gen_digest(digest[j], done + j);
            etls_test_rng_bytes(&trng, extra[j], 32);
            int hedged = (done + j) % 2 == 0;
            ops[j] = (etls_p256_sign_op_t){.sk = &ks.sk[j], .digest = digest[j],
                                           .extra = hedged ? NULL : extra[j], .rng = &rng,
                                           .sig = sig[j], .status = 99};
        }
        etls_p256_sign_batch(NULL, ops, b);
        for (size_t j = 0; j < b; j++) {
            uint8_t der[ETLS_P256_DER_MAX], back[64];
            size_t len;
            CHECK(ops[j].status == 0);
            etls_p256_sig_to_der(der, &len, sig[j]);
            CHECK(etls_p256_sig_from_der(back, der, len) == 0 && memcmp(back, sig[j], 64) == 0);
            EVP_PKEY *k = ossl_key(NULL, ks.pub[j]);
            CHECK_MSG(k && ossl_verify(k, digest[j], der, len), "op %lu: OpenSSL rejects ours",
                      done + j);
            EVP_PKEY_free(k);
            if ((done + j) % 8 == 0)
                CHECK(etls_p256_verify(ks.pub[j], 65, digest[j], sig[j]) == 0);
        }
        done += b;
    }
    etls_rand_wipe(&rng);
}

static void mode_verify(unsigned long count)
{
    static keyset_t ks;
    unsigned long done = 0;
    for (size_t b = 1; done < count; b = b % BATCH_MAX + 1) {
        make_keys(&ks, 1, done);
        EVP_PKEY *k = ossl_key(ks.skb[0], ks.pub[0]);
        EVP_PKEY_CTX *c = k ? EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL) : NULL;
        CHECK(c && EVP_PKEY_sign_init(c) == 1);
        for (size_t j = 0; j < b && c; j++) { /* b signatures under one key */
            uint8_t digest[32], der[80];
            size_t len = sizeof der;
            gen_digest(digest, done + j);
            CHECK(EVP_PKEY_sign(c, der, &len, digest, 32) == 1);
            CHECK_MSG(etls_p256_verify_der(ks.pub[0], 65, digest, der, len) == 0,
                      "op %lu: ours rejects OpenSSL's", done + j);
            if ((done + j) % 4 == 0) {
                digest[(done + j) % 32] ^= 0x10;
                CHECK(etls_p256_verify_der(ks.pub[0], 65, digest, der, len) == ETLS_ERR_AUTH);
            }
        }
        EVP_PKEY_CTX_free(c);
        EVP_PKEY_free(k);
        done += b;
    }
}

/* Peers with edge x coordinates (on the curve), and their negatives. */
static const char *const edge_x_hex[][2] = {
    {"0000000000000000000000000000000000000000000000000000000000000000",
     "66485c780e2f83d72433bd5d84a06bb6541c2af31dae871728bf856a174f93f4"},
    {"0000000000000000000000000000000000000000000000000000000000000005",
     "459243b9aa581806fe913bce99817ade11ca503c64d9a3c533415c083248fbcc"},
    {"0000000000000000000000000000000000000000000000000000000000000006",
     "36b24c2c54250ac2466985e533720047dcd102b80fe7c0e9220d5128828223cb"},
    {"ffffffff00000001000000000000000000000000fffffffffffffffffffffffc",
     "19719bebf6aea13f25c96dfd7c71f5225d4c8fc09eb5a0ab9f39e9178e55c121"},
    {"ffffffff00000001000000000000000000000000fffffffffffffffffffffffb",
     "de998cb9ed8a12d7f706cf79349a0621142af47f9faba77e895e9177392eefb7"},
};

static void edge_peer(uint8_t pub[65], unsigned long i)
{
    static const uint8_t p_be[32] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
                                     0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff};
    const char *const *e = edge_x_hex[(i / 2) % 5];
    pub[0] = 4;
    etls_hex_decode(e[0], 64, pub + 1, 32);
    etls_hex_decode(e[1], 64, pub + 33, 32);
    if (i % 2) { /* y -> p - y */
        int borrow = 0;
        for (int j = 31; j >= 0; j--) {
            int v = p_be[j] - pub[33 + j] - borrow;
            borrow = v < 0;
            pub[33 + j] = (uint8_t)(v + (borrow ? 256 : 0));
        }
    }
}

static void mode_ecdh(unsigned long count)
{
    static keyset_t ours, peers;
    uint8_t out[BATCH_MAX][32], want[32];
    etls_p256_ecdh_op_t ops[BATCH_MAX];
    unsigned long done = 0;
    for (size_t b = 1; done < count; b = b % BATCH_MAX + 1) {
        make_keys(&ours, b, done);
        make_keys(&peers, b, done + 3);
        for (size_t j = 0; j < b; j++)
            ops[j] = (etls_p256_ecdh_op_t){.sk = &ours.sk[j], .peer = peers.pub[j],
                                           .peer_len = 65, .out = out[j], .status = 99};
        etls_p256_ecdh_batch(NULL, ops, b);
        for (size_t j = 0; j < b; j++) {
            /* OpenSSL from the other side: peer's private key, our public key */
            EVP_PKEY *pk = ossl_key(peers.skb[j], peers.pub[j]), *ok = ossl_key(NULL, ours.pub[j]);
            EVP_PKEY_CTX *c = pk ? EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL) : NULL;
            size_t len = 32;
            int r = c && ok && EVP_PKEY_derive_init(c) == 1 && EVP_PKEY_derive_set_peer(c, ok) == 1 &&
                    EVP_PKEY_derive(c, want, &len) == 1 && len == 32;
            CHECK(r);
            CHECK_MSG(ops[j].status == 0 && memcmp(out[j], want, 32) == 0, "op %lu differs",
                      done + j);
            EVP_PKEY_CTX_free(c);
            EVP_PKEY_free(pk);
            EVP_PKEY_free(ok);
        }
        done += b;
    }
    /* edge-x peers: sk * P through OpenSSL's EC_POINT_mul */
    for (unsigned long i = 0; i < 10 * 8; i++) {
        uint8_t peer[65], skb[32], got[32], ref[65];
        etls_p256_sk_t sk;
        edge_peer(peer, i);
        gen_scalar(skb, i * 3 + 7);
        CHECK(etls_p256_sk_load(&sk, skb) == 0);
        CHECK(etls_p256_ecdh(got, &sk, peer, 65) == 0);
        EC_POINT *p = EC_POINT_new(grp), *q = EC_POINT_new(grp);
        BIGNUM *d = BN_bin2bn(skb, 32, NULL);
        CHECK(p && q && d);
        CHECK(EC_POINT_oct2point(grp, p, peer, 65, bnctx) == 1);
        CHECK(EC_POINT_mul(grp, q, NULL, p, d, bnctx) == 1);
        CHECK(EC_POINT_point2oct(grp, q, POINT_CONVERSION_UNCOMPRESSED, ref, 65, bnctx) == 65);
        CHECK_MSG(memcmp(got, ref + 1, 32) == 0, "edge peer %lu", i);
        EC_POINT_free(p);
        EC_POINT_free(q);
        BN_free(d);
        etls_p256_sk_wipe(&sk);
    }
}

static void mode_keygen(unsigned long count)
{
    uint8_t skb[32], want[65], got[65];
    etls_p256_sk_t sk;
    for (size_t e = 0; e < n_edge; e++) { /* every edge scalar once */
        CHECK(etls_p256_sk_load(&sk, edge[e]) == 0);
        etls_p256_public(got, &sk);
        ossl_pub(want, edge[e]);
        CHECK_MSG(memcmp(got, want, 65) == 0, "edge scalar %zu", e);
    }
    etls_rand_t rng;
    uint8_t seed[32];
    etls_test_rng_bytes(&trng, seed, sizeof seed);
    etls_rand_init_seeded(&rng, seed);
    for (unsigned long i = 0; i < count; i++) {
        if (i % 2) {
            gen_scalar(skb, i);
            CHECK(etls_p256_sk_load(&sk, skb) == 0);
            etls_p256_public(got, &sk);
        } else {
            CHECK(etls_p256_generate(&sk, got, &rng) == 0);
            etls_p256_sk_store(skb, &sk);
            CHECK(be_in_range(skb));
        }
        ossl_pub(want, skb);
        CHECK_MSG(memcmp(got, want, 65) == 0, "key %lu", i);
    }
    etls_rand_wipe(&rng);
    etls_p256_sk_wipe(&sk);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s sign|verify|ecdh|keygen [count]\n", argv[0]);
        return 2;
    }
    /* ETLS_P256_DIFF_COUNT splits a mode over several meson tests; sanitizer builds keep their
     * smaller default. */
    const char *env = getenv("ETLS_P256_DIFF_COUNT");
    unsigned long count = argc > 2 ? strtoul(argv[2], NULL, 10)
                          : env && DEFAULT_COUNT > 6250 ? strtoul(env, NULL, 10)
                                                         : DEFAULT_COUNT;
    etls_test_rng_seed(&trng, etls_test_seed("test_p256_diff"));
    grp = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    bnctx = BN_CTX_new();
    CHECK(grp && bnctx);
    make_edges();
    CHECK(n_edge > 500);
    printf("%s: %lu operations, %zu edge scalars, impl %s\n", argv[1], count, n_edge,
           etls_p256_best()->name);
    if (strcmp(argv[1], "sign") == 0)
        mode_sign(count);
    else if (strcmp(argv[1], "verify") == 0)
        mode_verify(count);
    else if (strcmp(argv[1], "ecdh") == 0)
        mode_ecdh(count);
    else if (strcmp(argv[1], "keygen") == 0)
        mode_keygen(count);
    else
        return 2;
    EC_GROUP_free(grp);
    BN_CTX_free(bnctx);
    return etls_test_summary("test_p256_diff");
}
