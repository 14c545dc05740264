/* P-256 ECDH for the secp256r1 key share (RFC 8446 §4.2.8.2, §7.4.2).
 *
 * Built on OpenSSL 3.0's EC_GROUP/EC_POINT API (not deprecated, unlike EC_KEY): one shared,
 * read-only group object, the scalar in a constant-time, secure-heap BIGNUM. This is the same
 * multiplication OpenSSL's own ECDH runs (nistz256 or the Montgomery ladder, both constant-time
 * in the scalar), minus building two EVP_PKEYs from OSSL_PARAMs per handshake. */
#include "crypto/pk/pk_internal.h"

#include "common/ct.h"
#include "common/err.h"

#include <pthread.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/rand.h>

/* The group order n, big-endian. */
static const uint8_t p256_n[32] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};

static EC_GROUP *p256_group;
static pthread_once_t p256_once = PTHREAD_ONCE_INIT;

/* Created once and never freed: EC_GROUP is read-only in use and shared by every worker. */
static void p256_init(void)
{
    p256_group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
}

static const EC_GROUP *p256(void)
{
    pthread_once(&p256_once, p256_init);
    return p256_group;
}

/* 1 when 0 < s < n, computed without branching on s (a borrow chain over s - n). */
int etls_p256_scalar_in_range(const uint8_t s[32])
{
    uint32_t borrow = 0, nz = 0;
    for (int i = 31; i >= 0; i--) {
        uint32_t d = (uint32_t)s[i] - p256_n[i] - borrow;
        borrow = (d >> 8) & 1;
        nz |= s[i];
    }
    int ok = (int)(borrow & ((nz | (0u - nz)) >> 31));
    etls_ct_declassify(&ok, sizeof ok); /* only "retry" is revealed, never the kept scalar */
    return ok;
}

/* The scalar as a BIGNUM that OpenSSL treats as secret and clears when freed. */
static BIGNUM *scalar_bn(const uint8_t priv[32])
{
    BIGNUM *s = BN_secure_new();
    if (s && !BN_bin2bn(priv, 32, s)) {
        BN_clear_free(s);
        return NULL;
    }
    if (s)
        BN_set_flags(s, BN_FLG_CONSTTIME);
    return s;
}

int etls_p256_keygen(etls_p256_key_t *k, uint8_t pub[ETLS_P256_POINT_LEN])
{
    ETLS_ENSURE(k && pub, ETLS_ERR_INVALID);
    const EC_GROUP *g = p256();
    ETLS_ENSURE(g, ETLS_ERR_CRYPTO);
    /* Rejection sampling: a candidate >= n happens with probability about 2^-32. */
    do {
        if (RAND_priv_bytes(k->priv, sizeof k->priv) != 1) {
            etls_p256_key_wipe(k);
            ERR_clear_error();
            return ETLS_ERR_CRYPTO;
        }
    } while (!etls_p256_scalar_in_range(k->priv));
    BN_CTX *ctx = BN_CTX_secure_new();
    BIGNUM *s = scalar_bn(k->priv);
    EC_POINT *p = EC_POINT_new(g);
    int ok = ctx && s && p && EC_POINT_mul(g, p, s, NULL, NULL, ctx) &&
             EC_POINT_point2oct(g, p, POINT_CONVERSION_UNCOMPRESSED, pub, ETLS_P256_POINT_LEN,
                                ctx) == ETLS_P256_POINT_LEN;
    EC_POINT_free(p);
    BN_clear_free(s);
    BN_CTX_free(ctx);
    if (ok)
        return 0;
    etls_p256_key_wipe(k);
    ERR_clear_error();
    return ETLS_ERR_CRYPTO;
}

/* Decodes and validates the peer point: oct2point rejects coordinates >= p and off-curve
 * points; the explicit checks keep that true whatever OpenSSL version does the decoding. */
static int peer_point(const EC_GROUP *g, EC_POINT *q, const uint8_t *peer, BN_CTX *ctx)
{
    if (!EC_POINT_oct2point(g, q, peer, ETLS_P256_POINT_LEN, ctx))
        return ETLS_ERR_INVALID;
    if (EC_POINT_is_at_infinity(g, q) || EC_POINT_is_on_curve(g, q, ctx) != 1)
        return ETLS_ERR_INVALID;
    return 0;
}

static int multiply(const EC_GROUP *g, const uint8_t priv[32], const uint8_t *peer,
                    uint8_t out[ETLS_P256_SHARED_LEN], BN_CTX *ctx)
{
    EC_POINT *q = EC_POINT_new(g), *r = EC_POINT_new(g);
    BIGNUM *s = scalar_bn(priv);
    BN_CTX_start(ctx);
    BIGNUM *x = BN_CTX_get(ctx); /* from a secure BN_CTX: cleared when the context is freed */
    int rc = ETLS_ERR_CRYPTO;
    if (q && r && s && x && (rc = peer_point(g, q, peer, ctx)) == 0) {
        if (!EC_POINT_mul(g, r, NULL, q, s, ctx))
            rc = ETLS_ERR_CRYPTO;
        else if (EC_POINT_is_at_infinity(g, r)) /* scalar 0 mod n: never from etls_p256_keygen */
            rc = ETLS_ERR_INVALID;
        else if (!EC_POINT_get_affine_coordinates(g, r, x, NULL, ctx) ||
                 BN_bn2binpad(x, out, ETLS_P256_SHARED_LEN) != ETLS_P256_SHARED_LEN)
            rc = ETLS_ERR_CRYPTO;
    }
    BN_CTX_end(ctx);
    BN_clear_free(s);
    EC_POINT_clear_free(r);
    EC_POINT_free(q);
    return rc;
}

int etls_p256_shared_len(const etls_p256_key_t *k, const uint8_t *peer, size_t peerlen,
                         uint8_t out[ETLS_P256_SHARED_LEN])
{
    ETLS_ENSURE(k && out, ETLS_ERR_INVALID);
    const EC_GROUP *g = p256();
    BN_CTX *ctx = NULL;
    int rc = ETLS_ERR_INVALID;
    /* TLS 1.3 allows only the uncompressed form (RFC 8446 §4.2.8.2). */
    if (!peer || peerlen != ETLS_P256_POINT_LEN || peer[0] != 0x04)
        rc = ETLS_ERR_INVALID;
    else if (!g || !(ctx = BN_CTX_secure_new()))
        rc = g ? ETLS_ERR_NOMEM : ETLS_ERR_CRYPTO;
    else
        rc = multiply(g, k->priv, peer, out, ctx);
    BN_CTX_free(ctx);
    if (rc < 0) { /* never leave a partial or stale secret for a caller that ignores rc */
        etls_wipe(out, ETLS_P256_SHARED_LEN);
        ERR_clear_error();
    }
    return rc;
}

int etls_p256_shared(const etls_p256_key_t *k, const uint8_t peer[ETLS_P256_POINT_LEN],
                     uint8_t out[ETLS_P256_SHARED_LEN])
{
    return etls_p256_shared_len(k, peer, ETLS_P256_POINT_LEN, out);
}

void etls_p256_key_wipe(etls_p256_key_t *k)
{
    etls_wipe(k, sizeof *k);
}
