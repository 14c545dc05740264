/* P-256 ECDH for the secp256r1 key share (RFC 8446 §4.2.8.2, §7.4.2) on crypto/p256: the
 * pk.h key type (a big-endian scalar) kept for its callers, the arithmetic native (constant
 * time in the scalar, full validation of the peer point). */
#include "crypto/pk/pk_internal.h"

#include "common/ct.h"
#include "common/err.h"
#include "crypto/p256.h"

/* The group order n, big-endian. */
static const uint8_t p256_n[32] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};

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

int etls_p256_keygen(etls_p256_key_t *k, uint8_t pub[ETLS_P256_POINT_LEN])
{
    ETLS_ENSURE(k && pub, ETLS_ERR_INVALID);
    etls_p256_sk_t sk;
    int rc = etls_p256_generate(&sk, pub, etls_pk_thread_rng());
    if (rc == 0)
        etls_p256_sk_store(k->priv, &sk);
    else
        etls_p256_key_wipe(k);
    etls_p256_sk_wipe(&sk);
    return rc;
}

int etls_p256_shared_len(const etls_p256_key_t *k, const uint8_t *peer, size_t peerlen,
                         uint8_t out[ETLS_P256_SHARED_LEN])
{
    ETLS_ENSURE(k && out, ETLS_ERR_INVALID);
    etls_p256_sk_t sk;
    int rc = ETLS_ERR_INVALID;
    /* TLS 1.3 allows only the uncompressed form (RFC 8446 §4.2.8.2); etls_p256_ecdh checks the
     * length, the 0x04 and the point. A zero or out-of-range scalar is refused too. */
    if (peer && etls_p256_sk_load(&sk, k->priv) == 0)
        rc = etls_p256_ecdh(out, &sk, peer, peerlen);
    etls_p256_sk_wipe(&sk);
    if (rc < 0) /* never leave a partial or stale secret for a caller that ignores rc */
        etls_wipe(out, ETLS_P256_SHARED_LEN);
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
