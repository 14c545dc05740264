/* The key wrapper: type checks, per-key operation templates, sign and verify. ECDSA P-256
 * signatures come from crypto/p256 with the scalar held in the key; everything else (and every
 * verification) is OpenSSL's. */
#include "crypto/pk/pk_internal.h"

#include "common/ct.h"
#include "common/err.h"
#include "crypto/hash.h"
#include "crypto/p256.h"
#include "crypto/rand.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#define SHA256_LEN ETLS_SHA256_LEN

/* RFC 8446 §4.2.3: RSASSA-PSS salt length equals the digest length, MGF1 with the same hash. */
static int set_pss(EVP_PKEY_CTX *pc)
{
    return EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) > 0 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, SHA256_LEN) > 0 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha256()) > 0;
}

static EVP_PKEY_CTX *digest_tmpl(EVP_PKEY *pkey, uint16_t scheme, int sign)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    int ok = pc && (sign ? EVP_PKEY_sign_init(pc) : EVP_PKEY_verify_init(pc)) > 0 &&
             EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) > 0 &&
             (scheme != ETLS_SIG_RSA_PSS_RSAE_SHA256 || set_pss(pc));
    if (!ok) {
        EVP_PKEY_CTX_free(pc);
        return NULL;
    }
    return pc;
}

static EVP_MD_CTX *message_tmpl(EVP_PKEY *pkey, int sign)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int ok = m && (sign ? EVP_DigestSignInit_ex(m, NULL, NULL, NULL, NULL, pkey, NULL)
                        : EVP_DigestVerifyInit_ex(m, NULL, NULL, NULL, NULL, pkey, NULL)) > 0;
    if (!ok) {
        EVP_MD_CTX_free(m);
        return NULL;
    }
    return m;
}

/* Which scheme a key signs with; 0 and a reason in err when none. */
static uint16_t classify(EVP_PKEY *pkey, char *err, size_t errlen, int *rc)
{
    *rc = ETLS_ERR_UNSUPPORTED;
    if (EVP_PKEY_is_a(pkey, "ED25519"))
        return ETLS_SIG_ED25519;
    if (EVP_PKEY_is_a(pkey, "EC")) {
        char group[64] = "";
        if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                            sizeof group, NULL)) {
            etls_pk_errf(err, errlen, "EC key with explicit or unnamed curve parameters is not "
                                      "supported (only named curve P-256)");
            return 0;
        }
        if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
            return ETLS_SIG_ECDSA_SECP256R1_SHA256;
        etls_pk_errf(err, errlen, "EC curve %s is not supported (only P-256)", group);
        return 0;
    }
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        int bits = EVP_PKEY_get_bits(pkey);
        if (bits >= ETLS_RSA_MIN_BITS && bits <= ETLS_RSA_MAX_BITS)
            return ETLS_SIG_RSA_PSS_RSAE_SHA256;
        etls_pk_errf(err, errlen, "RSA key of %d bits is not supported (%s %d bits)", bits,
                     bits < ETLS_RSA_MIN_BITS ? "too small, minimum" : "too large, maximum",
                     bits < ETLS_RSA_MIN_BITS ? ETLS_RSA_MIN_BITS : ETLS_RSA_MAX_BITS);
        return 0;
    }
    const char *name = EVP_PKEY_get0_type_name(pkey);
    etls_pk_errf(err, errlen, "%s keys are not supported (use EC P-256, RSA 2048-4096 or Ed25519)",
                 name ? name : "this type of");
    return 0;
}

static int build_tmpls(etls_pkey_t *k)
{
    if (k->scheme == ETLS_SIG_ED25519) {
        k->dverify_tmpl = message_tmpl(k->pkey, 0);
        k->dsign_tmpl = k->has_private ? message_tmpl(k->pkey, 1) : NULL;
        return k->dverify_tmpl && (k->dsign_tmpl || !k->has_private);
    }
    k->verify_tmpl = digest_tmpl(k->pkey, k->scheme, 0);
    int ossl_signs = k->has_private && !k->has_p256;
    k->sign_tmpl = ossl_signs ? digest_tmpl(k->pkey, k->scheme, 1) : NULL;
    if (k->has_private && k->scheme == ETLS_SIG_RSA_PSS_RSAE_SHA256) {
        k->decrypt_tmpl = etls_pk_rsa_decrypt_tmpl(k->pkey);
        if (!k->decrypt_tmpl)
            return 0;
    }
    return k->verify_tmpl && (k->sign_tmpl || !ossl_signs);
}

/* The private scalar of an EC P-256 key into our format, once. The bytes pass through a
 * stack buffer that is wiped; OpenSSL's BIGNUM is cleared when freed. */
static int load_p256_scalar(etls_pkey_t *k)
{
    BIGNUM *bn = NULL;
    uint8_t d[32];
    int ok = EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_PRIV_KEY, &bn) == 1 &&
             BN_bn2binpad(bn, d, sizeof d) == (int)sizeof d && etls_p256_sk_load(&k->p256, d) == 0;
    BN_clear_free(bn);
    etls_wipe(d, sizeof d);
    k->has_p256 = ok;
    return ok ? 0 : ETLS_ERR_INVALID;
}

static __thread etls_rand_t tl_rng;
static __thread int tl_rng_ready;

etls_rand_t *etls_pk_thread_rng(void)
{
    if (!tl_rng_ready) {
        etls_rand_init(&tl_rng);
        tl_rng_ready = 1;
    }
    return &tl_rng;
}

/* Catches a private key whose public half does not belong to it (a damaged or hand-edited file)
 * at load time rather than as handshake failures on every client. */
static int self_test(const etls_pkey_t *k)
{
    static const uint8_t msg[] = "edgetls key self-test";
    uint8_t sig[ETLS_SIG_MAX_LEN];
    size_t siglen = sizeof sig;
    if (etls_pkey_sign(k, k->scheme, msg, sizeof msg, sig, &siglen) != 0)
        return 0;
    return etls_pkey_verify(k, k->scheme, msg, sizeof msg, sig, siglen) == 0;
}

int etls_pk_wrap(etls_pkey_t **out, EVP_PKEY *pkey, int has_private, char *err, size_t errlen)
{
    *out = NULL;
    int rc;
    uint16_t scheme = classify(pkey, err, errlen, &rc);
    if (!scheme) {
        EVP_PKEY_free(pkey);
        return rc;
    }
    etls_pkey_t *k = calloc(1, sizeof *k);
    if (!k) {
        EVP_PKEY_free(pkey);
        etls_pk_errf(err, errlen, "out of memory");
        return ETLS_ERR_NOMEM;
    }
    k->pkey = pkey;
    k->scheme = scheme;
    k->has_private = has_private;
    k->sig_max = (size_t)EVP_PKEY_get_size(pkey);
    if (has_private && scheme == ETLS_SIG_ECDSA_SECP256R1_SHA256 && load_p256_scalar(k) < 0) {
        etls_pk_errf(err, errlen, "EC P-256 private scalar cannot be read (0 or not below the "
                                  "group order?)");
        rc = ETLS_ERR_INVALID;
    } else if (k->sig_max == 0 || k->sig_max > ETLS_SIG_MAX_LEN || !build_tmpls(k)) {
        etls_pk_errf(err, errlen, "cannot set up %s operations in OpenSSL",
                     EVP_PKEY_get0_type_name(pkey));
        rc = ETLS_ERR_CRYPTO;
    } else if (has_private && !self_test(k)) {
        etls_pk_errf(err, errlen, "private key fails its sign/verify self-test (damaged key?)");
        rc = ETLS_ERR_INVALID;
    } else {
        *out = k;
        return 0;
    }
    ERR_clear_error();
    etls_pkey_free(k);
    return rc;
}

void etls_pkey_free(etls_pkey_t *k)
{
    if (!k)
        return;
    EVP_PKEY_CTX_free(k->sign_tmpl);
    EVP_PKEY_CTX_free(k->verify_tmpl);
    EVP_MD_CTX_free(k->dsign_tmpl);
    EVP_MD_CTX_free(k->dverify_tmpl);
    EVP_PKEY_CTX_free(k->decrypt_tmpl);
    EVP_PKEY_free(k->pkey); /* OpenSSL wipes the private components */
    etls_p256_sk_wipe(&k->p256);
    free(k);
}

uint16_t etls_pkey_scheme(const etls_pkey_t *k)
{
    return k ? k->scheme : 0;
}

/* The TLS 1.2-only RSA schemes: digest and padding. 0 for anything else. */
static etls_hash_alg_t alt_scheme(const etls_pkey_t *k, uint16_t scheme, int *pss)
{
    if (!k || k->scheme != ETLS_SIG_RSA_PSS_RSAE_SHA256)
        return 0;
    *pss = scheme == ETLS_SIG_RSA_PSS_RSAE_SHA384;
    switch (scheme) {
    case ETLS_SIG_RSA_PSS_RSAE_SHA384:
    case ETLS_SIG_RSA_PKCS1_SHA384:
        return ETLS_HASH_SHA384;
    case ETLS_SIG_RSA_PKCS1_SHA256:
        return ETLS_HASH_SHA256;
    default:
        return 0;
    }
}

int etls_pkey_can_sign(const etls_pkey_t *k, uint16_t scheme)
{
    int pss;
    return k && (scheme == k->scheme || alt_scheme(k, scheme, &pss) != 0);
}

/* A fresh context for an extra RSA scheme (rare: TLS 1.2 clients that refuse RSA-PSS-SHA256). */
static EVP_PKEY_CTX *alt_ctx(const etls_pkey_t *k, etls_hash_alg_t h, int pss, int sign)
{
    const EVP_MD *md = h == ETLS_HASH_SHA384 ? EVP_sha384() : EVP_sha256();
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
    int ok = pc && (sign ? EVP_PKEY_sign_init(pc) : EVP_PKEY_verify_init(pc)) > 0 &&
             EVP_PKEY_CTX_set_signature_md(pc, md) > 0 &&
             EVP_PKEY_CTX_set_rsa_padding(pc, pss ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING) > 0 &&
             (!pss || (EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, (int)etls_hash_len(h)) > 0 &&
                       EVP_PKEY_CTX_set_rsa_mgf1_md(pc, md) > 0));
    if (!ok) {
        EVP_PKEY_CTX_free(pc);
        return NULL;
    }
    return pc;
}

static int alt_sign(const etls_pkey_t *k, uint16_t scheme, const uint8_t *msg, size_t len,
                    uint8_t *sig, size_t *siglen)
{
    int pss = 0;
    etls_hash_alg_t h = alt_scheme(k, scheme, &pss);
    uint8_t d[ETLS_HASH_MAX_LEN];
    ETLS_ENSURE(h && k->has_private && *siglen >= k->sig_max, ETLS_ERR_INVALID);
    etls_hash(h, msg ? msg : (const uint8_t *)"", len, d);
    EVP_PKEY_CTX *pc = alt_ctx(k, h, pss, 1);
    int ok = pc && EVP_PKEY_sign(pc, sig, siglen, d, etls_hash_len(h)) == 1;
    EVP_PKEY_CTX_free(pc);
    if (ok)
        return 0;
    ERR_clear_error();
    return ETLS_ERR_CRYPTO;
}

static int alt_verify(const etls_pkey_t *k, uint16_t scheme, const uint8_t *msg, size_t len,
                      const uint8_t *sig, size_t siglen)
{
    int pss = 0;
    etls_hash_alg_t h = alt_scheme(k, scheme, &pss);
    uint8_t d[ETLS_HASH_MAX_LEN];
    ETLS_ENSURE(h, ETLS_ERR_INVALID);
    ETLS_ENSURE(siglen > 0 && siglen <= k->sig_max, ETLS_ERR_AUTH);
    etls_hash(h, msg ? msg : (const uint8_t *)"", len, d);
    EVP_PKEY_CTX *pc = alt_ctx(k, h, pss, 0);
    int ok = pc && EVP_PKEY_verify(pc, sig, siglen, d, etls_hash_len(h)) == 1;
    EVP_PKEY_CTX_free(pc);
    if (ok)
        return 0;
    ERR_clear_error();
    return ETLS_ERR_AUTH;
}

/* ECDSA P-256 natively: SHA-256, the hedged-nonce signature, DER (RFC 8446 §4.2.3). */
static int p256_sign(const etls_pkey_t *k, const uint8_t *msg, size_t len, uint8_t *sig,
                     size_t *siglen)
{
    uint8_t h[SHA256_LEN], rs[ETLS_P256_SIG_LEN];
    size_t der_len;
    ETLS_ENSURE(*siglen >= ETLS_P256_DER_MAX, ETLS_ERR_INVALID);
    etls_hash(ETLS_HASH_SHA256, msg, len, h);
    ETLS_GUARD(etls_p256_sign(rs, &k->p256, h, etls_pk_thread_rng()));
    etls_p256_sig_to_der(sig, &der_len, rs);
    *siglen = der_len;
    return 0;
}

const etls_p256_sk_t *etls_pkey_p256_sk(const etls_pkey_t *k)
{
    return k && k->has_p256 ? &k->p256 : NULL;
}

int etls_pkey_sign(const etls_pkey_t *k, uint16_t scheme, const uint8_t *msg, size_t len,
                   uint8_t *sig, size_t *siglen)
{
    ETLS_ENSURE(k && sig && siglen && (msg || !len), ETLS_ERR_INVALID);
    if (scheme != k->scheme)
        return alt_sign(k, scheme, msg, len, sig, siglen);
    ETLS_ENSURE(scheme == k->scheme && k->has_private && *siglen >= k->sig_max, ETLS_ERR_INVALID);
    if (!msg)
        msg = (const uint8_t *)""; /* an empty message is valid; OpenSSL wants a pointer */
    int ok;
    if (k->has_p256)
        return p256_sign(k, msg, len, sig, siglen);
    if (k->scheme == ETLS_SIG_ED25519) {
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        ok = m && EVP_MD_CTX_copy_ex(m, k->dsign_tmpl) &&
             EVP_DigestSign(m, sig, siglen, msg, len) == 1;
        EVP_MD_CTX_free(m);
    } else {
        /* Our SHA-256 (SHA-NI when present): OpenSSL's one-shot SHA256() fetches the digest
         * through the provider layer on every call, a few times the cost of the hash itself. */
        uint8_t h[SHA256_LEN];
        etls_hash(ETLS_HASH_SHA256, msg, len, h);
        EVP_PKEY_CTX *pc = EVP_PKEY_CTX_dup(k->sign_tmpl);
        ok = pc && EVP_PKEY_sign(pc, sig, siglen, h, sizeof h) == 1;
        EVP_PKEY_CTX_free(pc);
    }
    if (ok)
        return 0;
    ERR_clear_error(); /* the worker thread's error queue must not fill up */
    return ETLS_ERR_CRYPTO;
}

int etls_pkey_verify(const etls_pkey_t *k, uint16_t scheme, const uint8_t *msg, size_t len,
                     const uint8_t *sig, size_t siglen)
{
    ETLS_ENSURE(k && (sig || !siglen) && (msg || !len), ETLS_ERR_INVALID);
    if (scheme != k->scheme)
        return alt_verify(k, scheme, msg, len, sig, siglen);
    ETLS_ENSURE(siglen > 0 && siglen <= k->sig_max, ETLS_ERR_AUTH);
    if (!msg)
        msg = (const uint8_t *)"";
    int ok;
    if (k->scheme == ETLS_SIG_ED25519) {
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        ok = m && EVP_MD_CTX_copy_ex(m, k->dverify_tmpl) &&
             EVP_DigestVerify(m, sig, siglen, msg, len) == 1;
        EVP_MD_CTX_free(m);
    } else {
        uint8_t h[SHA256_LEN];
        etls_hash(ETLS_HASH_SHA256, msg, len, h);
        EVP_PKEY_CTX *pc = EVP_PKEY_CTX_dup(k->verify_tmpl);
        ok = pc && EVP_PKEY_verify(pc, sig, siglen, h, sizeof h) == 1;
        EVP_PKEY_CTX_free(pc);
    }
    if (ok)
        return 0;
    ERR_clear_error();
    return ETLS_ERR_AUTH;
}
