/* Known answers for the native P-256 (crypto/p256.h): Wycheproof ECDSA (DER and P1363) through
 * etls_p256_verify(_der), Wycheproof ECDH through etls_p256_ecdh, hedged-nonce known answers
 * (computed by an independent Python model of the RFC 6979 + extra-data construction, key from
 * RFC 6979 A.2.5), strict-DER negative cases, key loading bounds and point validation.
 * Arguments: the flattened vector files (tests/meson.build wycheproof_vectors) for
 * ecdsa_secp256r1_sha256, ecdsa_secp256r1_sha256_p1363, ecdh_secp256r1_ecpoint. */
#include <string.h>

#include "common/err.h"
#include "crypto/hash.h"
#include "crypto/p256.h"
#include "test.h"
#include "vectors.h"

static void hex(uint8_t *out, size_t n, const char *h)
{
    CHECK(etls_hex_decode(h, strlen(h), out, n) == (long)n);
}

/* Wycheproof results are checked exactly: valid accepted, invalid rejected. Neither file has
 * "acceptable" cases; one would be rejected (strict DER) and is counted apart. */
static void run_sig(const char *path, int p1363)
{
    static uint8_t pub[256], msg[1 << 16], sig[8192];
    unsigned long valid = 0, invalid = 0, acceptable = 0;
    etls_tv_t tv;
    etls_tv_open(&tv, path);
    while (etls_tv_next(&tv)) {
        long plen = etls_tv_hex(&tv, "g_publicKey.uncompressed", pub, sizeof pub);
        long mlen = etls_tv_hex(&tv, "msg", msg, sizeof msg);
        long slen = etls_tv_hex(&tv, "sig", sig, sizeof sig);
        const char *r = etls_tv_str(&tv, "result");
        char res[16];
        snprintf(res, sizeof res, "%s", r ? r : "");
        long id = etls_tv_int(&tv, "tcId", -1);
        CHECK(plen == 65 && mlen >= 0 && slen >= 0 && r);
        if (plen != 65 || mlen < 0 || slen < 0 || !r)
            continue;
        uint8_t digest[32];
        etls_hash(ETLS_HASH_SHA256, msg, (size_t)mlen, digest);
        int rc;
        if (p1363)
            rc = slen == 64 ? etls_p256_verify(pub, 65, digest, sig) : ETLS_ERR_AUTH;
        else
            rc = etls_p256_verify_der(pub, 65, digest, sig, (size_t)slen);
        if (strcmp(res, "valid") == 0) {
            valid++;
            CHECK_MSG(rc == 0, "%s tcId %ld: valid rejected (%d)", path, id, rc);
        } else {
            invalid += strcmp(res, "invalid") == 0;
            acceptable += strcmp(res, "acceptable") == 0;
            CHECK_MSG(rc == ETLS_ERR_AUTH, "%s tcId %ld (%s): rc %d", path, id, res, rc);
        }
    }
    etls_tv_close(&tv);
    printf("%s: valid %lu accepted, invalid %lu rejected, acceptable %lu rejected\n",
           p1363 ? "ecdsa_p1363" : "ecdsa_der", valid, invalid, acceptable);
    CHECK(valid > 150 && invalid > 80);
}

/* Wycheproof private keys are minimal big-endian integers (maybe with a sign byte). */
static int scalar32(const uint8_t *v, long len, uint8_t out[32])
{
    while (len > 32 && v[0] == 0)
        v++, len--;
    if (len > 32 || len < 0)
        return -1;
    memset(out, 0, 32);
    memcpy(out + 32 - len, v, (size_t)len);
    return 0;
}

static void run_ecdh(const char *path)
{
    static uint8_t pub[256], priv[64], want[64];
    unsigned long valid = 0, rejected = 0;
    etls_tv_t tv;
    etls_tv_open(&tv, path);
    while (etls_tv_next(&tv)) {
        long plen = etls_tv_hex(&tv, "public", pub, sizeof pub);
        long klen = etls_tv_hex(&tv, "private", priv, sizeof priv);
        long wlen = etls_tv_hex(&tv, "shared", want, sizeof want);
        const char *r = etls_tv_str(&tv, "result");
        char res[16];
        snprintf(res, sizeof res, "%s", r ? r : "");
        long id = etls_tv_int(&tv, "tcId", -1);
        uint8_t skb[32], out[32];
        etls_p256_sk_t sk;
        CHECK(plen >= 0 && wlen >= 0 && r && scalar32(priv, klen, skb) == 0);
        CHECK_MSG(etls_p256_sk_load(&sk, skb) == 0, "tcId %ld: private key refused", id);
        memset(out, 0xaa, sizeof out);
        int rc = etls_p256_ecdh(out, &sk, pub, (size_t)plen);
        if (strcmp(res, "valid") == 0) {
            valid++;
            CHECK_MSG(rc == 0 && wlen == 32 && memcmp(out, want, 32) == 0, "tcId %ld: rc %d", id, rc);
        } else { /* invalid points; the acceptable one is compressed, which TLS 1.3 forbids */
            rejected++;
            static const uint8_t zero[32];
            CHECK_MSG(rc == ETLS_ERR_INVALID && memcmp(out, zero, 32) == 0, "tcId %ld (%s): rc %d",
                      id, res, rc);
        }
        etls_p256_sk_wipe(&sk);
    }
    etls_tv_close(&tv);
    printf("ecdh: valid %lu matched, %lu invalid/acceptable rejected\n", valid, rejected);
    CHECK(valid > 300 && rejected > 20);
}

/* RFC 6979 A.2.5 key, SHA-256("sample"), extra = 32 zero bytes and 00 01 .. 1f. */
static void test_known_answers(void)
{
    static const char *const want_hex[2] = {
        "f130b9b5e43a35e00437c46d7771b29fe1016d054008b8f12d8f1d2ddcd08320"
        "34ebaf466c60a79c94622f6db59e3aa740391148e166237f919df7fa0db1cc91",
        "25404cfdb1228f680881e195dae0665f43f988c40cbc4e23927810d7c4635d74"
        "8f076e7b9ea4bde92fb16b5cf25d0d3656db01a6e19c885b53cb8754f1b819c3"};
    uint8_t skb[32], pub[65], want_pub[65], digest[32], extra[2][32], sig[64], sig2[64], want[64];
    etls_p256_sk_t sk;
    hex(skb, 32, "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721");
    hex(want_pub, 65, "0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"
                      "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299");
    CHECK(etls_p256_sk_load(&sk, skb) == 0);
    etls_p256_public(pub, &sk);
    CHECK_MEM(pub, want_pub, 65);
    etls_hash(ETLS_HASH_SHA256, "sample", 6, digest);
    memset(extra[0], 0, 32);
    for (int i = 0; i < 32; i++)
        extra[1][i] = (uint8_t)i;
    for (int t = 0; t < 2; t++) {
        hex(want, 64, want_hex[t]);
        etls_p256_sign_det(sig, &sk, digest, extra[t]);
        CHECK_MEM(sig, want, 64);
        etls_p256_sign_det(sig2, &sk, digest, extra[t]); /* same inputs, same signature */
        CHECK_MEM(sig2, sig, 64);
        CHECK(etls_p256_verify(pub, 65, digest, sig) == 0);
    }
    /* different extra randomness: a different k, so a different r */
    etls_p256_sign_det(sig, &sk, digest, extra[0]);
    etls_p256_sign_det(sig2, &sk, digest, extra[1]);
    CHECK(memcmp(sig, sig2, 32) != 0);
    /* the hedged call with a seeded RNG matches the deterministic one fed the same 32 bytes */
    etls_rand_t rng, rng2;
    uint8_t seed[32] = {7}, drawn[32];
    etls_rand_init_seeded(&rng, seed);
    etls_rand_init_seeded(&rng2, seed);
    CHECK(etls_p256_sign(sig, &sk, digest, &rng) == 0);
    CHECK(etls_rand_bytes(&rng2, drawn, 32) == 0);
    etls_p256_sign_det(sig2, &sk, digest, drawn);
    CHECK_MEM(sig, sig2, 64);
    CHECK(etls_p256_sign(sig2, &sk, digest, &rng) == 0); /* fresh randomness: new nonce */
    CHECK(memcmp(sig, sig2, 32) != 0);
    etls_rand_wipe(&rng);
    etls_rand_wipe(&rng2);
    etls_p256_sk_wipe(&sk);
}

static void test_der(void)
{
    uint8_t sig[64], back[64], der[ETLS_P256_DER_MAX];
    size_t len;
    /* small r (leading zero bytes stripped) and s with the top bit set (sign byte added) */
    memset(sig, 0, 64);
    sig[31] = 0x01;
    memset(sig + 32, 0xf0, 32);
    etls_p256_sig_to_der(der, &len, sig);
    static const uint8_t head[] = {0x30, 0x26, 0x02, 0x01, 0x01, 0x02, 0x21, 0x00, 0xf0};
    CHECK(len == 40 && memcmp(der, head, sizeof head) == 0);
    CHECK(etls_p256_sig_from_der(back, der, len) == 0 && memcmp(back, sig, 64) == 0);
    /* strictness: each malformation of a good encoding is refused */
    static const char *const bad[] = {
        "3026020101022100f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f000", /* trailing */
        "302702010102210000f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0", /* len lies */
        "30810602010102010130", /* long-form sequence length */
        "300702020001020101",    /* non-minimal 00 01 */
        "30070202ff01020101",    /* negative, two bytes */
        "3006020181020101",      /* negative r */
        "30060201010201ff",      /* negative s */
        "3005020101020100",      /* length mismatch */
        "30060200020101" "00",   /* empty integer */
        "3007020101020101" "00", /* sequence too long for content */
        "3106020101020101",      /* wrong tag */
        "3006030101020101",      /* wrong integer tag */
        "3027022201" "0000000000000000000000000000000000000000000000000000000000000000" "020101",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t buf[80];
        long n = etls_hex_decode(bad[i], strlen(bad[i]), buf, sizeof buf);
        if (n < 0)
            continue;
        CHECK_MSG(etls_p256_sig_from_der(back, buf, (size_t)n) == ETLS_ERR_INVALID, "bad %zu", i);
    }
    CHECK(etls_p256_sig_from_der(back, (const uint8_t *)"", 0) == ETLS_ERR_INVALID);
    /* r = 0 and s = n parse (they are integers) but do not verify */
    uint8_t skb[32] = {[31] = 1}, pub[65], digest[32] = {0};
    etls_p256_sk_t sk;
    CHECK(etls_p256_sk_load(&sk, skb) == 0);
    etls_p256_public(pub, &sk);
    static const uint8_t zero_r[] = {0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01};
    CHECK(etls_p256_verify_der(pub, 65, digest, zero_r, sizeof zero_r) == ETLS_ERR_AUTH);
    hex(sig, 64, "0000000000000000000000000000000000000000000000000000000000000001"
                 "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    CHECK(etls_p256_verify(pub, 65, digest, sig) == ETLS_ERR_AUTH);
    etls_p256_sk_wipe(&sk);
}

static void test_keys_and_points(void)
{
    uint8_t b[32];
    etls_p256_sk_t sk;
    memset(b, 0, 32);
    CHECK(etls_p256_sk_load(&sk, b) == ETLS_ERR_INVALID);
    hex(b, 32, "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"); /* n */
    CHECK(etls_p256_sk_load(&sk, b) == ETLS_ERR_INVALID);
    CHECK(sk.d[0] == 0 && sk.d[3] == 0); /* wiped on refusal */
    memset(b, 0xff, 32);
    CHECK(etls_p256_sk_load(&sk, b) == ETLS_ERR_INVALID);
    hex(b, 32, "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632550"); /* n-1 */
    CHECK(etls_p256_sk_load(&sk, b) == 0);
    uint8_t out[32], pub[65], bad[65];
    etls_p256_public(pub, &sk);
    CHECK(etls_p256_ecdh(out, &sk, pub, 65) == 0);
    /* point validation: prefix, length, coordinates >= p, off the curve; out zeroed */
    static const uint8_t zero[32];
    const char *p_hex = "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff";
    for (int t = 0; t < 6; t++) {
        memcpy(bad, pub, 65);
        size_t len = 65;
        switch (t) {
        case 0: bad[0] = 0x02; break;
        case 1: len = 64; break;
        case 2: hex(bad + 1, 32, p_hex); break;
        case 3: hex(bad + 33, 32, p_hex); break;
        case 4: bad[64] ^= 1; break;
        case 5: memset(bad + 1, 0, 64); break;
        }
        memset(out, 0x55, 32);
        CHECK_MSG(etls_p256_ecdh(out, &sk, bad, len) == ETLS_ERR_INVALID, "case %d", t);
        CHECK(memcmp(out, zero, 32) == 0);
        uint8_t digest[32] = {1}, sig[64] = {1};
        CHECK(etls_p256_verify(bad, len, digest, sig) == ETLS_ERR_INVALID);
    }
    /* out may alias peer */
    memcpy(bad, pub, 65);
    CHECK(etls_p256_ecdh(out, &sk, pub, 65) == 0);
    CHECK(etls_p256_ecdh(bad, &sk, bad, 65) == 0 && memcmp(bad, out, 32) == 0);
    /* generate: a seeded RNG gives a key whose public point is sk * G */
    etls_rand_t rng;
    uint8_t seed[32] = {1}, pub2[65];
    etls_rand_init_seeded(&rng, seed);
    CHECK(etls_p256_generate(&sk, pub, &rng) == 0);
    etls_p256_public(pub2, &sk);
    CHECK_MEM(pub, pub2, 65);
    etls_rand_wipe(&rng);
    etls_p256_sk_wipe(&sk);
    CHECK(strcmp(etls_p256_portable_get()->name, "portable") == 0 && etls_p256_best() != NULL);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s ecdsa.txt ecdsa_p1363.txt ecdh.txt\n", argv[0]);
        return 2;
    }
    run_sig(argv[1], 0);
    run_sig(argv[2], 1);
    run_ecdh(argv[3]);
    test_known_answers();
    test_der();
    test_keys_and_points();
    return etls_test_summary("test_p256_vectors");
}
