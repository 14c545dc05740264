/* TLS 1.3 key schedule: RFC 8448 §3 "Simple 1-RTT Handshake" (and the §3 -> §4 resumption
 * PSK), KeyUpdate and HKDF-Expand-Label against OpenSSL's independent "TLS13-KDF", and the
 * negative cases (label/context/length limits, calls out of order).
 *
 * usage: test_tls13_ks [iterations] */
#include "common/err.h"
#include "crypto/tls13_ks.h"
#include "test.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <stdlib.h>
#include <string.h>

/* Values exactly as printed in RFC 8448 §3 (and §4 for the PSK-based early secret). */
#define RFC_ECDHE                                                                                  \
    "8b d4 05 4f b5 5b 9d 63 fd fb ac f9 f0 4b 9f 0d 35 e6 d6 3f 53 75 63 ef d4 62 72 90 0f 89 49 2d"
#define RFC_EARLY                                                                                  \
    "33 ad 0a 1c 60 7e c0 3b 09 e6 cd 98 93 68 0c e2 10 ad f3 00 aa 1f 26 60 e1 b2 2e 10 f1 70 f9 2a"
#define RFC_DERIVED_HS                                                                             \
    "6f 26 15 a1 08 c7 02 c5 67 8f 54 fc 9d ba b6 97 16 c0 76 18 9c 48 25 0c eb ea c3 57 6c 36 11 ba"
#define RFC_HS                                                                                     \
    "1d c8 26 e9 36 06 aa 6f dc 0a ad c1 2f 74 1b 01 04 6a a6 b9 9f 69 1e d2 21 a9 f0 ca 04 3f be ac"
#define RFC_TH_CH_SH                                                                               \
    "86 0c 06 ed c0 78 58 ee 8e 78 f0 e7 42 8c 58 ed d6 b4 3f 2c a3 e6 e9 5f 02 ed 06 3c f0 e1 ca d8"
#define RFC_C_HS                                                                                   \
    "b3 ed db 12 6e 06 7f 35 a7 80 b3 ab f4 5e 2d 8f 3b 1a 95 07 38 f5 2e 96 00 74 6a 0e 27 a5 5a 21"
#define RFC_S_HS                                                                                   \
    "b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38"
#define RFC_C_FIN_KEY                                                                              \
    "b8 0a d0 10 15 fb 2f 0b d6 5f f7 d4 da 5d 6b f8 3f 84 82 1d 1f 87 fd c7 d3 c7 5b 5a 7b 42 d9 c4"
#define RFC_S_FIN_KEY                                                                              \
    "00 8d 3b 66 f8 16 ea 55 9f 96 b5 37 e8 85 c3 1f c0 68 bf 49 2c 65 2f 01 f2 88 a1 d8 cd c1 9f c8"
#define RFC_DERIVED_MS                                                                             \
    "43 de 77 e0 c7 77 13 85 9a 94 4d b9 db 25 90 b5 31 90 a6 5b 3e e2 e4 f1 2d d7 a0 bb 7c e2 54 b4"
#define RFC_MASTER                                                                                 \
    "18 df 06 84 3d 13 a0 8b f2 a4 49 84 4c 5f 8a 47 80 01 bc 4d 4c 62 79 84 d5 a4 1d a8 d0 40 29 19"
#define RFC_TH_CH_SF                                                                               \
    "96 08 10 2a 0f 1c cc 6d b6 25 0b 7b 7e 41 7b 1a 00 0e aa da 3d aa e4 77 7a 76 86 c9 ff 83 df 13"
#define RFC_C_AP                                                                                   \
    "9e 40 64 6c e7 9a 7f 9d c0 5a f8 88 9b ce 65 52 87 5a fa 0b 06 df 00 87 f7 92 eb b7 c1 75 04 a5"
#define RFC_S_AP                                                                                   \
    "a1 1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32 82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb 63 16 43"
#define RFC_EXP                                                                                    \
    "fe 22 f8 81 17 6e da 18 eb 8f 44 52 9e 67 92 c5 0c 9a 3f 89 45 2f 68 d8 ae 31 1b 43 09 d3 cf 50"
#define RFC_TH_CH_CF                                                                               \
    "20 91 45 a9 6e e8 e2 a1 22 ff 81 00 47 cc 95 26 84 65 8d 60 49 e8 64 29 42 6d b8 7c 54 ad 14 3d"
#define RFC_RES                                                                                    \
    "7d f2 35 f2 03 1d 2a 05 12 87 d0 2b 02 41 b0 bf da f8 6c c8 56 23 1f 2d 5a ba 46 c4 34 ec 19 6c"
#define RFC_S_HS_KEY "3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc"
#define RFC_S_HS_IV "5d 31 3e b2 67 12 76 ee 13 00 0b 30"
#define RFC_C_HS_KEY "db fa a6 93 d1 76 2c 5b 66 6a f5 d9 50 25 8d 01"
#define RFC_C_HS_IV "5b d3 c7 1b 83 6e 0b 76 bb 73 26 5f"
#define RFC_S_AP_KEY "9f 02 28 3b 6c 9c 07 ef c2 6b b9 f2 ac 92 e3 56"
#define RFC_S_AP_IV "cf 78 2b 88 dd 83 54 9a ad f1 e9 84"
#define RFC_C_AP_KEY "17 42 2d da 59 6e d5 d9 ac d8 90 e3 c6 3f 50 51"
#define RFC_C_AP_IV "5b 78 92 3d ee 08 57 90 33 e5 23 d9"
/* NewSessionTicket with nonce 00 00 -> PSK; §4 early secret and binder key from that PSK. */
#define RFC_PSK                                                                                    \
    "4e cd 0e b6 ec 3b 4d 87 f5 d6 02 8f 92 2c a4 c5 85 1a 27 7f d4 13 11 c9 e6 2d 2c 94 92 e1 c4 f3"
#define RFC_EARLY_PSK                                                                              \
    "9b 21 88 e9 b2 fc 6d 64 d7 1d c3 29 90 0e 20 bb 41 91 50 00 f6 78 aa 83 9c bb 79 7c b7 d8 33 2c"
#define RFC_BINDER                                                                                 \
    "69 fe 13 1a 3b ba d5 d6 3c 64 ee bc c3 0e 39 5b 9d 81 07 72 6a 13 d0 74 e3 89 db c8 a4 e4 72 56"

#define S256 ETLS_HASH_SHA256

/* RFC hex has spaces every byte; returns the decoded length. */
static size_t unhex(const char *s, uint8_t *out)
{
    char compact[256];
    size_t n = 0;
    for (; *s && n < sizeof compact - 1; s++)
        if (*s != ' ')
            compact[n++] = *s;
    long len = etls_hex_decode(compact, n, out, 64);
    if (len < 0) {
        fprintf(stderr, "bad hex in test: %s\n", s);
        exit(2);
    }
    return (size_t)len;
}

static int eq_rfc(const uint8_t *got, const char *rfc_hex, size_t len)
{
    uint8_t want[64];
    return unhex(rfc_hex, want) == len && memcmp(got, want, len) == 0;
}

#define CHECK_RFC(got, hex, len) CHECK_MSG(eq_rfc(got, hex, len), "%s differs from RFC 8448", #hex)

static EVP_KDF *tls13_kdf, *hkdf;
static EVP_MAC *hmac;

static const char *md_name(etls_hash_alg_t alg)
{
    return alg == S256 ? "SHA256" : "SHA384";
}

/* OpenSSL's own HKDF-Expand-Label ("TLS13-KDF", expand-only): an independent implementation. */
static int ossl_expand_label(etls_hash_alg_t alg, const uint8_t *secret, const char *label,
                             const uint8_t *ctx, size_t ctxlen, uint8_t *out, size_t outlen)
{
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
    OSSL_PARAM p[7] = {
        OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md_name(alg), 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, etls_hash_len(alg)),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PREFIX, (void *)"tls13 ", 6),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_LABEL, (void *)label, strlen(label)),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_DATA,
                                          (void *)(ctx ? ctx : (const uint8_t *)""), ctxlen),
        OSSL_PARAM_construct_end()};
    EVP_KDF_CTX *c = EVP_KDF_CTX_new(tls13_kdf);
    int ok = c && EVP_KDF_derive(c, out, outlen, p) > 0;
    EVP_KDF_CTX_free(c);
    return ok;
}

static int ossl_extract(etls_hash_alg_t alg, const uint8_t *salt, const uint8_t *ikm, size_t ikmlen,
                        uint8_t *out)
{
    int mode = EVP_KDF_HKDF_MODE_EXTRACT_ONLY;
    size_t hl = etls_hash_len(alg);
    OSSL_PARAM p[5] = {
        OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md_name(alg), 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikmlen),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, hl),
        OSSL_PARAM_construct_end()};
    EVP_KDF_CTX *c = EVP_KDF_CTX_new(hkdf);
    int ok = c && EVP_KDF_derive(c, out, hl, p) > 0;
    EVP_KDF_CTX_free(c);
    return ok;
}

static int ossl_hmac(etls_hash_alg_t alg, const uint8_t *key, const uint8_t *msg, uint8_t *out)
{
    size_t hl = etls_hash_len(alg), ol = 0;
    OSSL_PARAM p[2] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)md_name(alg), 0),
        OSSL_PARAM_construct_end()};
    EVP_MAC_CTX *c = EVP_MAC_CTX_new(hmac);
    int ok = c && EVP_MAC_init(c, key, hl, p) && EVP_MAC_update(c, msg, hl) &&
             EVP_MAC_final(c, out, &ol, 64) && ol == hl;
    EVP_MAC_CTX_free(c);
    return ok;
}

static void test_rfc8448(void)
{
    uint8_t ecdhe[32], th1[32], th2[32], th3[32], empty_hash[32], x[32], y[32], z[32];
    uint8_t chs[32], shs[32], cap[32], sap[32], exp[32], res[32], key[16], iv[12];
    etls_tls13_ks_t ks;
    unhex(RFC_ECDHE, ecdhe);
    unhex(RFC_TH_CH_SH, th1);
    unhex(RFC_TH_CH_SF, th2);
    unhex(RFC_TH_CH_CF, th3);
    etls_hash(S256, NULL, 0, empty_hash);

    etls_tls13_ks_init(&ks, S256, NULL, 0);
    CHECK_RFC(ks.secret, RFC_EARLY, 32);
    CHECK(etls_tls13_derive_secret(S256, ks.secret, "derived", empty_hash, x) == 0);
    CHECK_RFC(x, RFC_DERIVED_HS, 32);

    CHECK(etls_tls13_ks_handshake(&ks, ecdhe, sizeof ecdhe, th1, chs, shs) == 0);
    CHECK_RFC(ks.secret, RFC_HS, 32);
    CHECK_RFC(chs, RFC_C_HS, 32);
    CHECK_RFC(shs, RFC_S_HS, 32);
    CHECK(etls_tls13_traffic_keys(S256, shs, key, 16, iv, 12) == 0);
    CHECK_RFC(key, RFC_S_HS_KEY, 16);
    CHECK_RFC(iv, RFC_S_HS_IV, 12);
    CHECK(etls_tls13_traffic_keys(S256, chs, key, 16, iv, 12) == 0);
    CHECK_RFC(key, RFC_C_HS_KEY, 16);
    CHECK_RFC(iv, RFC_C_HS_IV, 12);

    /* finished_key = HKDF-Expand-Label(base, "finished", "", HashLen) (§4.4.4) */
    CHECK(etls_tls13_expand_label(S256, chs, "finished", NULL, 0, x, 32) == 0);
    CHECK_RFC(x, RFC_C_FIN_KEY, 32);
    CHECK(etls_tls13_expand_label(S256, shs, "finished", NULL, 0, x, 32) == 0);
    CHECK_RFC(x, RFC_S_FIN_KEY, 32);
    /* verify_data = HMAC(finished_key, transcript hash), checked against OpenSSL's HMAC. */
    CHECK(etls_tls13_finished(S256, shs, th2, y) == 0);
    CHECK(ossl_hmac(S256, x, th2, z) && memcmp(y, z, 32) == 0);
    /* key, IV and finished_key from one key setup, as the TLS engine derives them */
    CHECK(etls_tls13_traffic_keys_fin(S256, shs, key, 16, iv, 12, x) == 0);
    CHECK_RFC(key, RFC_S_HS_KEY, 16);
    CHECK_RFC(iv, RFC_S_HS_IV, 12);
    CHECK_RFC(x, RFC_S_FIN_KEY, 32);
    etls_tls13_finished_mac(S256, x, th2, z);
    CHECK(memcmp(y, z, 32) == 0);

    CHECK(etls_tls13_derive_secret(S256, ks.secret, "derived", empty_hash, x) == 0);
    CHECK_RFC(x, RFC_DERIVED_MS, 32);
    CHECK(etls_tls13_ks_master(&ks, th2, cap, sap, exp) == 0);
    CHECK_RFC(ks.secret, RFC_MASTER, 32);
    CHECK_RFC(cap, RFC_C_AP, 32);
    CHECK_RFC(sap, RFC_S_AP, 32);
    CHECK_RFC(exp, RFC_EXP, 32);
    CHECK(etls_tls13_traffic_keys(S256, sap, key, 16, iv, 12) == 0);
    CHECK_RFC(key, RFC_S_AP_KEY, 16);
    CHECK_RFC(iv, RFC_S_AP_IV, 12);
    CHECK(etls_tls13_traffic_keys(S256, cap, key, 16, iv, 12) == 0);
    CHECK_RFC(key, RFC_C_AP_KEY, 16);
    CHECK_RFC(iv, RFC_C_AP_IV, 12);
    CHECK(etls_tls13_ks_resumption(&ks, th3, res) == 0);
    CHECK_RFC(res, RFC_RES, 32);

    /* exporter is optional */
    etls_tls13_ks_t ks2;
    etls_tls13_ks_init(&ks2, S256, NULL, 0);
    CHECK(etls_tls13_ks_handshake(&ks2, ecdhe, sizeof ecdhe, th1, x, y) == 0);
    CHECK(etls_tls13_ks_master(&ks2, th2, x, y, NULL) == 0);
    CHECK_RFC(x, RFC_C_AP, 32);
    CHECK_RFC(ks2.secret, RFC_MASTER, 32);

    /* Resumption PSK (ticket nonce 00 00), then the §4 early secret and binder key. */
    static const uint8_t nonce[2] = {0, 0};
    uint8_t psk[32];
    CHECK(etls_tls13_expand_label(S256, res, "resumption", nonce, 2, psk, 32) == 0);
    CHECK_RFC(psk, RFC_PSK, 32);
    etls_tls13_ks_init(&ks2, S256, psk, 32);
    CHECK_RFC(ks2.secret, RFC_EARLY_PSK, 32);
    CHECK(ks2.no_psk == 0);
    CHECK(etls_tls13_derive_secret(S256, ks2.secret, "res binder", empty_hash, x) == 0);
    CHECK_RFC(x, RFC_BINDER, 32);

    etls_tls13_ks_wipe(&ks);
    static const etls_tls13_ks_t zero;
    CHECK(memcmp(&ks, &zero, sizeof ks) == 0);
}

/* KeyUpdate (§7.2): application_traffic_secret_N+1, chained, against TLS13-KDF. */
static void test_key_update(etls_test_rng_t *r)
{
    const etls_hash_alg_t algs[2] = {ETLS_HASH_SHA256, ETLS_HASH_SHA384};
    for (int a = 0; a < 2; a++) {
        size_t hl = etls_hash_len(algs[a]);
        uint8_t ours[48], theirs[48], next[48];
        unhex(RFC_C_AP, ours);
        if (hl == 48)
            etls_test_rng_bytes(r, ours, hl);
        memcpy(theirs, ours, hl);
        for (int gen = 0; gen < 50; gen++) {
            CHECK(etls_tls13_update_secret(algs[a], ours) == 0);
            CHECK(ossl_expand_label(algs[a], theirs, "traffic upd", NULL, 0, next, hl));
            memcpy(theirs, next, hl);
            CHECK_MSG(memcmp(ours, theirs, hl) == 0, "KeyUpdate generation %d alg %d", gen, a);
        }
    }
}

/* Random secrets, labels, contexts and lengths: expand-label and the whole schedule (SHA-256
 * and SHA-384) against OpenSSL's HKDF extract + TLS13-KDF expand. */
static void test_random(etls_test_rng_t *r, long iters)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz ";
    for (long i = 0; i < iters; i++) {
        etls_hash_alg_t alg = etls_test_rng_next(r) & 1 ? ETLS_HASH_SHA256 : ETLS_HASH_SHA384;
        size_t hl = etls_hash_len(alg);
        uint8_t secret[48], ctx[255], got[600], want[600];
        char label[250];
        size_t ll = 1 + etls_test_rng_next(r) % 249, cl = etls_test_rng_next(r) % 256;
        size_t ol = 1 + etls_test_rng_next(r) % (etls_test_rng_next(r) & 1 ? hl : sizeof got);
        for (size_t j = 0; j < ll; j++)
            label[j] = alphabet[etls_test_rng_next(r) % (sizeof alphabet - 1)];
        label[ll] = '\0';
        etls_test_rng_bytes(r, secret, hl);
        etls_test_rng_bytes(r, ctx, cl);
        CHECK(etls_tls13_expand_label(alg, secret, label, ctx, cl, got, ol) == 0);
        CHECK(ossl_expand_label(alg, secret, label, ctx, cl, want, ol));
        CHECK_MSG(memcmp(got, want, ol) == 0, "expand_label alg %d label %zu ctx %zu out %zu", alg,
                  ll, cl, ol);
    }
    for (long i = 0; i < iters / 10; i++) {
        etls_hash_alg_t alg = i & 1 ? ETLS_HASH_SHA256 : ETLS_HASH_SHA384;
        size_t hl = etls_hash_len(alg), el = 32 + etls_test_rng_next(r) % 100;
        uint8_t ecdhe[132], th1[48], th2[48], zero[48] = {0}, eh[48];
        uint8_t s[48], d[48], c1[48], c2[48], o1[48], o2[48], o3[48];
        etls_test_rng_bytes(r, ecdhe, el);
        etls_test_rng_bytes(r, th1, hl);
        etls_test_rng_bytes(r, th2, hl);
        etls_hash(alg, NULL, 0, eh);
        etls_tls13_ks_t ks;
        etls_tls13_ks_init(&ks, alg, NULL, 0);
        CHECK(etls_tls13_ks_handshake(&ks, ecdhe, el, th1, c1, c2) == 0);
        CHECK(ossl_extract(alg, zero, zero, hl, s));                /* early */
        CHECK(ossl_expand_label(alg, s, "derived", eh, hl, d, hl)); /* salt */
        CHECK(ossl_extract(alg, d, ecdhe, el, s));                  /* handshake */
        CHECK(memcmp(ks.secret, s, hl) == 0);
        CHECK(ossl_expand_label(alg, s, "c hs traffic", th1, hl, o1, hl) &&
              memcmp(o1, c1, hl) == 0);
        CHECK(ossl_expand_label(alg, s, "s hs traffic", th1, hl, o1, hl) &&
              memcmp(o1, c2, hl) == 0);
        CHECK(etls_tls13_ks_master(&ks, th2, o1, o2, o3) == 0);
        CHECK(ossl_expand_label(alg, s, "derived", eh, hl, d, hl));
        CHECK(ossl_extract(alg, d, zero, hl, s)); /* master */
        CHECK(memcmp(ks.secret, s, hl) == 0);
        CHECK(ossl_expand_label(alg, s, "c ap traffic", th2, hl, c1, hl) &&
              memcmp(o1, c1, hl) == 0);
        CHECK(ossl_expand_label(alg, s, "s ap traffic", th2, hl, c1, hl) &&
              memcmp(o2, c1, hl) == 0);
        CHECK(ossl_expand_label(alg, s, "exp master", th2, hl, c1, hl) && memcmp(o3, c1, hl) == 0);
        uint8_t key[32], iv[12], kw[32], ivw[12];
        CHECK(etls_tls13_traffic_keys(alg, o2, key, 32, iv, 12) == 0);
        CHECK(ossl_expand_label(alg, o2, "key", NULL, 0, kw, 32) && memcmp(key, kw, 32) == 0);
        CHECK(ossl_expand_label(alg, o2, "iv", NULL, 0, ivw, 12) && memcmp(iv, ivw, 12) == 0);
        /* finished with SHA-384 too: HMAC(finished_key, th) */
        CHECK(etls_tls13_finished(alg, o1, th2, c1) == 0);
        CHECK(ossl_expand_label(alg, o1, "finished", NULL, 0, d, hl) && ossl_hmac(alg, d, th2, c2));
        CHECK(memcmp(c1, c2, hl) == 0);
        etls_tls13_ks_wipe(&ks);
    }
}

static void test_negative(void)
{
    uint8_t secret[48] = {1}, out[48 * 256], ctx[256] = {0}, a[48], b[48];
    char label[252];
    memset(label, 'x', sizeof label - 1);
    label[sizeof label - 1] = '\0';
    /* label: 1..249 bytes after "tls13 " (HkdfLabel.label is <7..255>) */
    label[249] = '\0';
    CHECK(etls_tls13_expand_label(S256, secret, label, NULL, 0, out, 32) == 0);
    label[249] = 'x';
    label[250] = '\0';
    CHECK(etls_tls13_expand_label(S256, secret, label, NULL, 0, out, 32) == ETLS_ERR_INVALID);
    CHECK(etls_tls13_expand_label(S256, secret, "", NULL, 0, out, 32) == ETLS_ERR_INVALID);
    /* context: <0..255> */
    CHECK(etls_tls13_expand_label(S256, secret, "k", ctx, 255, out, 32) == 0);
    CHECK(etls_tls13_expand_label(S256, secret, "k", ctx, 256, out, 32) == ETLS_ERR_INVALID);
    /* length: <= 255 * HashLen */
    CHECK(etls_tls13_expand_label(S256, secret, "k", NULL, 0, out, 255 * 32) == 0);
    CHECK(etls_tls13_expand_label(S256, secret, "k", NULL, 0, out, 255 * 32 + 1) ==
          ETLS_ERR_INVALID);
    CHECK(etls_tls13_expand_label(ETLS_HASH_SHA384, secret, "k", NULL, 0, out, 255 * 48 + 1) ==
          ETLS_ERR_INVALID);
    CHECK(etls_tls13_expand_label((etls_hash_alg_t)7, secret, "k", NULL, 0, out, 32) ==
          ETLS_ERR_INVALID);
    CHECK(etls_tls13_traffic_keys(S256, secret, out, 33, out + 64, 12) == ETLS_ERR_INVALID);

    /* Order: handshake before master before resumption, each once. */
    etls_tls13_ks_t ks;
    etls_tls13_ks_init(&ks, S256, NULL, 0);
    CHECK(etls_tls13_ks_master(&ks, ctx, a, b, NULL) == ETLS_ERR_INVALID);
    CHECK(etls_tls13_ks_resumption(&ks, ctx, a) == ETLS_ERR_INVALID);
    CHECK(etls_tls13_ks_handshake(&ks, NULL, 32, ctx, a, b) == ETLS_ERR_INVALID);
    CHECK(etls_tls13_ks_handshake(&ks, secret, 0, ctx, a, b) == ETLS_ERR_INVALID);
    /* no PSK and no (EC)DHE: the handshake secret would be public, refused */
    CHECK(etls_tls13_ks_handshake(&ks, NULL, 0, ctx, a, b) == ETLS_ERR_INVALID);
    CHECK(etls_tls13_ks_handshake(&ks, secret, 32, ctx, NULL, b) == ETLS_ERR_INVALID);
    CHECK(etls_tls13_ks_handshake(&ks, secret, 32, ctx, a, b) == 0);
    CHECK(etls_tls13_ks_handshake(&ks, secret, 32, ctx, a, b) == ETLS_ERR_INVALID);
    CHECK(etls_tls13_ks_resumption(&ks, ctx, a) == ETLS_ERR_INVALID);
    CHECK(etls_tls13_ks_master(&ks, ctx, a, b, NULL) == 0);
    CHECK(etls_tls13_ks_master(&ks, ctx, a, b, NULL) == ETLS_ERR_INVALID);
    CHECK(etls_tls13_ks_resumption(&ks, ctx, a) == 0);
    /* psk_ke: no (EC)DHE, the IKM is HashLen zeros (§7.1). */
    uint8_t zeros[32] = {0}, a2[32], b2[32];
    etls_tls13_ks_t k1, k2;
    etls_tls13_ks_init(&k1, S256, secret, 32);
    etls_tls13_ks_init(&k2, S256, secret, 32);
    CHECK(etls_tls13_ks_handshake(&k1, NULL, 0, ctx, a, b) == 0);
    CHECK(etls_tls13_ks_handshake(&k2, zeros, 32, ctx, a2, b2) == 0);
    CHECK(memcmp(a, a2, 32) == 0 && memcmp(b, b2, 32) == 0 &&
          memcmp(k1.secret, k2.secret, 32) == 0);
    CHECK(memcmp(a, b, 32) != 0);
    etls_tls13_ks_init(&ks, (etls_hash_alg_t)0, NULL, 0);
    CHECK(etls_tls13_ks_handshake(&ks, secret, 32, ctx, a, b) == ETLS_ERR_INVALID);
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 20000;
#if defined(__SANITIZE_ADDRESS__)
    iters /= 10;
#endif
    etls_test_rng_t rng;
    etls_test_rng_seed(&rng, etls_test_seed("tls13_ks"));
    tls13_kdf = EVP_KDF_fetch(NULL, "TLS13-KDF", NULL);
    hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    CHECK(tls13_kdf && hkdf && hmac);
    if (!tls13_kdf || !hkdf || !hmac)
        return etls_test_summary("tls13_ks");

    test_rfc8448();
    test_key_update(&rng);
    test_random(&rng, iters);
    test_negative();
    EVP_KDF_free(tls13_kdf);
    EVP_KDF_free(hkdf);
    EVP_MAC_free(hmac);
    return etls_test_summary("tls13_ks");
}
