/* Differential test against OpenSSL 3: SHA-256/384 (EVP_Digest), HMAC (EVP_MAC "HMAC") and HKDF
 * (EVP_KDF "HKDF", extract-only, expand-only and both) on random inputs fed in random-size
 * chunks, with transcript peeks in the middle.
 *
 * usage: test_hash_diff [iterations]   (default 100000; a tenth of it under sanitizers) */
#include "common/err.h"
#include "crypto/hash.h"
#include "test.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define ITER_SCALE 10 /* sanitizer builds run a tenth of any count */
#else
#define ITER_SCALE 1
#endif

#define MAX_MSG 10000

static EVP_MAC *ossl_hmac;
static EVP_KDF *ossl_hkdf;
static const EVP_MD *ossl_md[3];

static const char *md_name(etls_hash_alg_t alg)
{
    return alg == ETLS_HASH_SHA256 ? "SHA256" : "SHA384";
}

static size_t rnd(etls_test_rng_t *r, size_t n) /* uniform-ish in [0, n] */
{
    return (size_t)(etls_test_rng_next(r) % (n + 1));
}

/* Message lengths: half anywhere up to MAX_MSG, half near the block sizes where padding and
 * buffering change behaviour. */
static size_t rnd_len(etls_test_rng_t *r)
{
    return etls_test_rng_next(r) & 1 ? rnd(r, MAX_MSG) : rnd(r, 300);
}

static void ossl_digest(etls_hash_alg_t alg, const uint8_t *m, size_t len, uint8_t *out)
{
    unsigned ol = 0;
    if (!EVP_Digest(m, len, out, &ol, ossl_md[alg], NULL) || ol != etls_hash_len(alg))
        abort();
}

static void ossl_mac(etls_hash_alg_t alg, const uint8_t *key, size_t kl, const uint8_t *m,
                     size_t len, uint8_t *out)
{
    OSSL_PARAM p[2] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)md_name(alg), 0),
        OSSL_PARAM_construct_end()};
    EVP_MAC_CTX *c = EVP_MAC_CTX_new(ossl_hmac);
    size_t ol = 0;
    /* OpenSSL's HMAC rejects a NULL key even when empty; any valid pointer will do. */
    if (!c || !EVP_MAC_init(c, kl ? key : (const uint8_t *)"", kl, p) ||
        !EVP_MAC_update(c, m, len) || !EVP_MAC_final(c, out, &ol, 64) || ol != etls_hash_len(alg))
        abort();
    EVP_MAC_CTX_free(c);
}

/* Returns 1 on success, 0 when OpenSSL refused (e.g. output too long). */
static int ossl_kdf(etls_hash_alg_t alg, int mode, const uint8_t *salt, size_t sl,
                    const uint8_t *key, size_t kl, const uint8_t *info, size_t il, uint8_t *out,
                    size_t ol)
{
    OSSL_PARAM p[6], *q = p;
    *q++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    *q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md_name(alg), 0);
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, kl);
    if (sl)
        *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, sl);
    if (il)
        *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, il);
    *q = OSSL_PARAM_construct_end();
    EVP_KDF_CTX *c = EVP_KDF_CTX_new(ossl_hkdf);
    if (!c)
        abort();
    int ok = EVP_KDF_derive(c, out, ol, p) > 0;
    EVP_KDF_CTX_free(c);
    return ok;
}

/* Feeds m to our hash in random chunks, peeking at a random point. */
static void check_hash(etls_test_rng_t *r, etls_hash_alg_t alg, const uint8_t *m, size_t len)
{
    uint8_t got[64], want[64], peeked[64];
    size_t hl = etls_hash_len(alg), peek_at = rnd(r, len), off = 0;
    int peeked_done = 0;
    etls_hash_ctx_t c;
    etls_hash_init(&c, alg);
    while (off < len || !peeked_done) {
        if (off == peek_at && !peeked_done) {
            etls_hash_peek(&c, peeked);
            ossl_digest(alg, m, peek_at, want);
            CHECK_MSG(memcmp(peeked, want, hl) == 0, "peek alg %d at %zu of %zu", alg, peek_at,
                      len);
            peeked_done = 1;
            continue;
        }
        size_t limit = (peeked_done ? len : peek_at) - off;
        size_t n = etls_test_rng_next(r) & 3 ? rnd(r, limit < 200 ? limit : 200) : rnd(r, limit);
        etls_hash_update(&c, m + off, n);
        off += n;
    }
    etls_hash_final(&c, got);
    ossl_digest(alg, m, len, want);
    CHECK_MSG(memcmp(got, want, hl) == 0, "hash alg %d len %zu", alg, len);
}

static void check_hmac(etls_test_rng_t *r, etls_hash_alg_t alg, const uint8_t *m, size_t len)
{
    uint8_t key[400], got[64], want[64];
    /* Key lengths around and beyond the block size (keys > block are hashed first). */
    size_t kl = etls_test_rng_next(r) % 4 == 0 ? rnd(r, sizeof key) : rnd(r, 140);
    size_t hl = etls_hash_len(alg), off = 0;
    etls_test_rng_bytes(r, key, kl);
    etls_hmac_ctx_t c;
    etls_hmac_init(&c, alg, key, kl);
    while (off < len) {
        size_t n = rnd(r, len - off < 300 ? len - off : 300);
        etls_hmac_update(&c, m + off, n);
        off += n;
    }
    etls_hmac_final(&c, got);
    ossl_mac(alg, key, kl, m, len, want);
    CHECK_MSG(memcmp(got, want, hl) == 0, "hmac alg %d keylen %zu len %zu", alg, kl, len);
    memset(got, 0, sizeof got);
    etls_hmac(alg, key, kl, m, len, got);
    CHECK_MSG(memcmp(got, want, hl) == 0, "one-shot hmac alg %d keylen %zu", alg, kl);

    /* One key setup, the message split into up to four segments, used twice: the keyed
     * context must come out unchanged. */
    etls_hmac_ctx_t keyed, before;
    etls_hmac_init(&keyed, alg, key, kl);
    before = keyed;
    etls_hmac_seg_t segs[4];
    size_t nsegs = 1 + etls_test_rng_next(r) % 4, cut = 0;
    for (size_t i = 0; i < nsegs; i++) {
        size_t n = i + 1 == nsegs ? len - cut : rnd(r, len - cut);
        segs[i].p = m + cut;
        segs[i].n = n;
        cut += n;
    }
    for (int rep = 0; rep < 2; rep++) {
        memset(got, 0, sizeof got);
        etls_hmac_keyed(&keyed, segs, nsegs, got);
        CHECK_MSG(memcmp(got, want, hl) == 0, "keyed hmac alg %d segs %zu rep %d", alg, nsegs, rep);
    }
    CHECK(memcmp(&keyed, &before, sizeof keyed) == 0);
}

static void check_hkdf(etls_test_rng_t *r, etls_hash_alg_t alg, const uint8_t *ikm, size_t ikmlen)
{
    static uint8_t got[255 * 48 + 64], want[255 * 48 + 64];
    uint8_t salt[200], info[300], prk[64], prk_want[64];
    size_t hl = etls_hash_len(alg), sl = rnd(r, sizeof salt), il = rnd(r, sizeof info);
    /* Mostly short outputs (what TLS uses); sometimes up to the 255 * HashLen limit. */
    size_t ol = etls_test_rng_next(r) % 64 ? rnd(r, 3 * hl) : rnd(r, 255 * hl);
    etls_test_rng_bytes(r, salt, sl);
    etls_test_rng_bytes(r, info, il);

    etls_hkdf_extract(alg, salt, sl, ikm, ikmlen, prk);
    CHECK(ossl_kdf(alg, EVP_KDF_HKDF_MODE_EXTRACT_ONLY, salt, sl, ikm, ikmlen, NULL, 0, prk_want,
                   hl));
    CHECK_MSG(memcmp(prk, prk_want, hl) == 0, "extract alg %d salt %zu ikm %zu", alg, sl, ikmlen);

    memset(got, 0xa5, ol + 1);
    CHECK(etls_hkdf_expand(alg, prk, hl, info, il, got, ol) == 0);
    CHECK_MSG(got[ol] == 0xa5, "expand wrote past outlen %zu", ol);
    if (ol <= 3 * hl) { /* the keyed form agrees (long outputs are covered by the OpenSSL check) */
        static uint8_t again[3 * 48 + 1];
        etls_hmac_ctx_t keyed;
        etls_hmac_init(&keyed, alg, prk, hl);
        memset(again, 0xa5, ol + 1);
        CHECK(etls_hkdf_expand_keyed(&keyed, info, il, again, ol) == 0);
        CHECK(memcmp(again, got, ol + 1) == 0);
        CHECK(etls_hkdf_expand_keyed(&keyed, info, il, again, 255 * hl + 1) == ETLS_ERR_INVALID);
    }
    if (ol) {
        CHECK(ossl_kdf(alg, EVP_KDF_HKDF_MODE_EXPAND_ONLY, NULL, 0, prk, hl, info, il, want, ol));
        CHECK_MSG(memcmp(got, want, ol) == 0, "expand alg %d info %zu out %zu", alg, il, ol);
        /* extract-and-expand in one OpenSSL call must agree with our two steps */
        CHECK(ossl_kdf(alg, EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND, salt, sl, ikm, ikmlen, info, il,
                       want, ol));
        CHECK_MSG(memcmp(got, want, ol) == 0, "extract+expand alg %d out %zu", alg, ol);
    }
    /* Longer than 255 * HashLen: both sides refuse, and we leave out untouched. */
    size_t too_long = 255 * hl + 1 + rnd(r, 40);
    memset(got, 0x5a, too_long);
    CHECK(etls_hkdf_expand(alg, prk, hl, info, il, got, too_long) == ETLS_ERR_INVALID);
    CHECK(got[0] == 0x5a && got[too_long - 1] == 0x5a);
    CHECK(
        !ossl_kdf(alg, EVP_KDF_HKDF_MODE_EXPAND_ONLY, NULL, 0, prk, hl, info, il, want, too_long));
}

int main(int argc, char **argv)
{
    long iters = (argc > 1 ? atol(argv[1]) : 100000) / ITER_SCALE;
    etls_test_rng_t rng;
    etls_test_rng_seed(&rng, etls_test_seed("hash_diff"));
    ossl_md[ETLS_HASH_SHA256] = EVP_sha256();
    ossl_md[ETLS_HASH_SHA384] = EVP_sha384();
    ossl_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    ossl_hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    CHECK(ossl_hmac && ossl_hkdf);
    if (!ossl_hmac || !ossl_hkdf)
        return etls_test_summary("hash_diff");

    static uint8_t msg[MAX_MSG];
    unsigned long before = etls_test_failures;
    for (long i = 0; i < iters && etls_test_failures - before < 20; i++) {
        etls_hash_alg_t alg = etls_test_rng_next(&rng) & 1 ? ETLS_HASH_SHA256 : ETLS_HASH_SHA384;
        size_t len = rnd_len(&rng);
        etls_test_rng_bytes(&rng, msg, len);
        check_hash(&rng, alg, msg, len);
        check_hmac(&rng, alg, msg, len);
        check_hkdf(&rng, alg, msg, len < 600 ? len : rnd(&rng, 600));
    }
    printf("%ld iterations (hash, HMAC, HKDF each)\n", iters);
    EVP_MAC_free(ossl_hmac);
    EVP_KDF_free(ossl_hkdf);
    return etls_test_summary("hash_diff");
}
