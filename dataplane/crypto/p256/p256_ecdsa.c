/* ECDSA over P-256 (FIPS 186-5 §6.4) with hedged RFC 6979 nonces, DER signature encoding, and
 * verification. */
#include <string.h>

#include "common/err.h"
#include "crypto/hash.h"
#include "p256_internal.h"

/* RFC 6979 §3.2 with the §3.6 additional data: the HMAC-SHA256 DRBG seeded with
 * int2octets(d) || bits2octets(h) || extra. For a 256-bit curve and hash, bits2int is the
 * plain big-endian reading, and bits2octets(h) = h mod n. */
typedef struct nonce_gen {
    uint8_t k[32], v[32];
    int drawn; /* a candidate was taken: step past it before the next */
} nonce_gen_t;

static void hmac_kv(nonce_gen_t *g, uint8_t out[32], const uint8_t *msg, size_t len)
{
    etls_hmac(ETLS_HASH_SHA256, g->k, 32, msg, len, out);
}

static void nonce_init(nonce_gen_t *g, const uint8_t x[32], const uint8_t h[32],
                       const uint8_t extra[32])
{
    uint8_t m[32 + 1 + 96];
    memset(g->v, 0x01, 32);
    memset(g->k, 0x00, 32);
    g->drawn = 0;
    memcpy(m + 33, x, 32);
    memcpy(m + 65, h, 32);
    memcpy(m + 97, extra, 32);
    for (uint8_t sep = 0; sep < 2; sep++) { /* steps d-g */
        memcpy(m, g->v, 32);
        m[32] = sep;
        hmac_kv(g, g->k, m, sizeof m);
        hmac_kv(g, g->v, g->v, 32);
    }
    etls_wipe(m, sizeof m);
}

/* Step h: the next candidate k (tested by the caller). K and V are stepped past a rejected
 * candidate (step h.3) only when another is asked for, which is rare (probability ~2^-32): the
 * candidates are RFC 6979's, two HMACs cheaper for the common first one. */
static void nonce_next(nonce_gen_t *g, uint64_t k[4])
{
    if (g->drawn) {
        uint8_t m[33];
        memcpy(m, g->v, 32);
        m[32] = 0x00;
        hmac_kv(g, g->k, m, sizeof m);
        hmac_kv(g, g->v, g->v, 32);
        etls_wipe(m, sizeof m);
    }
    hmac_kv(g, g->v, g->v, 32);
    etls_p256_from_be(k, g->v);
    g->drawn = 1;
}

/* One attempt with nonce k (1 <= k < n): r = x(kG) mod n, s = k^-1 (e + r d). Returns 0, or -1
 * when r or s came out zero (probability ~2^-256; the caller draws another k). r and s are
 * public outputs and are declassified before the zero tests. */
static int sign_with(const etls_p256_arith_t *ar, uint8_t sig[64], const uint64_t d[4],
                     const uint64_t e[4], const uint64_t k[4])
{
    etls_p256_pt_t kg;
    uint64_t x[4], y[4], r[4], s[4], t[4], u[4];
    ar->mul_base(&kg, k);
    ar->to_affine(x, y, &kg);
    etls_sc_reduce(r, x);
    etls_ct_declassify(r, sizeof r);
    int rc = (r[0] | r[1] | r[2] | r[3]) ? 0 : -1;
    ar->sc_to_mont(t, r);
    ar->sc_to_mont(u, d);
    ar->sc_mul_m(t, t, u); /* r d */
    ar->sc_to_mont(u, e);
    etls_mod_add(t, t, u, etls_p256_n); /* e + r d */
    ar->sc_to_mont(u, k);
    ar->sc_inv_m(u, u);
    ar->sc_mul_m(t, t, u);
    ar->sc_from_mont(s, t);
    etls_ct_declassify(s, sizeof s);
    if ((s[0] | s[1] | s[2] | s[3]) == 0)
        rc = -1;
    etls_p256_to_be(sig, r);
    etls_p256_to_be(sig + 32, s);
    etls_wipe(&kg, sizeof kg);
    etls_wipe(x, sizeof x);
    etls_wipe(y, sizeof y);
    etls_wipe(t, sizeof t);
    etls_wipe(u, sizeof u);
    return rc;
}

int etls_p256_sign_one(const etls_p256_arith_t *ar, uint8_t sig[ETLS_P256_SIG_LEN],
                       const etls_p256_sk_t *sk, const uint8_t digest[32], const uint8_t extra[32])
{
    nonce_gen_t g;
    uint64_t e[4], k[4];
    uint8_t x[32], h[32];
    etls_p256_from_be(e, digest);
    etls_sc_reduce(e, e);
    etls_p256_to_be(h, e);
    etls_p256_sk_store(x, sk);
    nonce_init(&g, x, h, extra);
    for (;;) {
        nonce_next(&g, k);
        /* A candidate outside [1, n-1] (probability ~2^-32) is discarded; only that fact is
         * revealed, never the candidate. */
        uint64_t ok = etls_sc_in_range(k);
        etls_ct_declassify(&ok, sizeof ok);
        if (ok && sign_with(ar, sig, sk->d, e, k) == 0)
            break;
    }
    etls_wipe(&g, sizeof g);
    etls_wipe(k, sizeof k);
    etls_wipe(x, sizeof x);
    return 0;
}

void etls_p256_sign_det(uint8_t sig[ETLS_P256_SIG_LEN], const etls_p256_sk_t *sk,
                        const uint8_t digest[32], const uint8_t extra[32])
{
    etls_p256_sign_one(etls_p256_arith_best(), sig, sk, digest, extra);
}

int etls_p256_sign(uint8_t sig[ETLS_P256_SIG_LEN], const etls_p256_sk_t *sk, const uint8_t digest[32],
                   etls_rand_t *rng)
{
    uint8_t extra[32];
    int rc = etls_rand_bytes(rng, extra, sizeof extra);
    if (rc < 0) {
        memset(sig, 0, ETLS_P256_SIG_LEN);
        return rc;
    }
    etls_p256_sign_one(etls_p256_arith_best(), sig, sk, digest, extra);
    etls_wipe(extra, sizeof extra);
    return 0;
}

/* ---- DER ---- */

/* INTEGER holding the 32-byte big-endian v (nonzero): minimal, with a 0x00 sign byte when the
 * top bit is set. Returns the bytes written (at most 35). */
static size_t der_int(uint8_t *out, const uint8_t v[32])
{
    size_t skip = 0;
    while (skip < 31 && v[skip] == 0)
        skip++;
    size_t len = 32 - skip, pad = v[skip] >> 7;
    out[0] = 0x02;
    out[1] = (uint8_t)(len + pad);
    out[2] = 0;
    memcpy(out + 2 + pad, v + skip, len);
    return 2 + pad + len;
}

void etls_p256_sig_to_der(uint8_t der[ETLS_P256_DER_MAX], size_t *der_len,
                          const uint8_t sig[ETLS_P256_SIG_LEN])
{
    size_t n = der_int(der + 2, sig);
    n += der_int(der + 2 + n, sig + 32);
    der[0] = 0x30;
    der[1] = (uint8_t)n;
    *der_len = n + 2;
}

/* One strict DER INTEGER at in[*pos..end) into 32 big-endian bytes. */
static int der_get_int(uint8_t out[32], const uint8_t *in, size_t *pos, size_t end)
{
    size_t p = *pos;
    if (end - p < 2 || in[p] != 0x02)
        return ETLS_ERR_INVALID;
    size_t len = in[p + 1];
    p += 2;
    /* short-form length only (every valid value is below 128 bytes), content present */
    if (len == 0 || len > 33 || len > end - p)
        return ETLS_ERR_INVALID;
    const uint8_t *v = in + p;
    if (v[0] & 0x80)
        return ETLS_ERR_INVALID; /* negative */
    if (len > 1 && v[0] == 0 && !(v[1] & 0x80))
        return ETLS_ERR_INVALID; /* non-minimal */
    if (len == 33) {
        if (v[0] != 0)
            return ETLS_ERR_INVALID; /* >= 2^256 */
        v++, len--;
    }
    memset(out, 0, 32);
    memcpy(out + 32 - len, v, len);
    *pos = p + (size_t)(v - (in + p)) + len;
    return 0;
}

int etls_p256_sig_from_der(uint8_t sig[ETLS_P256_SIG_LEN], const uint8_t *der, size_t len)
{
    if (len < 2 || der[0] != 0x30 || der[1] >= 0x80 || (size_t)der[1] + 2 != len)
        return ETLS_ERR_INVALID;
    size_t pos = 2;
    ETLS_GUARD(der_get_int(sig, der, &pos, len));
    ETLS_GUARD(der_get_int(sig + 32, der, &pos, len));
    return pos == len ? 0 : ETLS_ERR_INVALID;
}

/* ---- verification (public data: variable time is fine) ---- */

int etls_p256_verify(const uint8_t *pub, size_t pub_len, const uint8_t digest[32],
                     const uint8_t sig[ETLS_P256_SIG_LEN])
{
    const etls_p256_arith_t *ar = etls_p256_arith_best();
    etls_p256_pt_t q, a, b;
    uint64_t r[4], s[4], e[4], w[4], u1[4], u2[4], x[4];
    ETLS_GUARD(ar->decode(&q, pub, pub_len));
    etls_p256_from_be(r, sig);
    etls_p256_from_be(s, sig + 32);
    if (!etls_sc_in_range(r) || !etls_sc_in_range(s))
        return ETLS_ERR_AUTH;
    etls_p256_from_be(e, digest);
    etls_sc_reduce(e, e);
    ar->sc_to_mont(w, s);
    ar->sc_inv_m(w, w);
    ar->sc_to_mont(u1, e);
    ar->sc_mul_m(u1, u1, w);
    ar->sc_from_mont(u1, u1); /* may be 0: mul_base gives infinity */
    ar->sc_to_mont(u2, r);
    ar->sc_mul_m(u2, u2, w);
    ar->sc_from_mont(u2, u2); /* r, w != 0: 1 <= u2 < n, as mul needs */
    /* u1 G + u2 Q with the constant-time multipliers (fast enough for a server that verifies
     * rarely; a Shamir/wNAF double multiplication would be ~1.6x quicker); the sum through the
     * complete formulas, since u1 G = u2 Q is possible with chosen inputs */
    ar->mul_base(&a, u1);
    ar->mul(&b, &q, u2);
    if (ar->sum_x(x, &a, &b))
        return ETLS_ERR_AUTH;
    etls_sc_reduce(x, x);
    return memcmp(x, r, sizeof x) == 0 ? 0 : ETLS_ERR_AUTH;
}

int etls_p256_verify_der(const uint8_t *pub, size_t pub_len, const uint8_t digest[32],
                         const uint8_t *der, size_t der_len)
{
    uint8_t sig[ETLS_P256_SIG_LEN];
    if (etls_p256_sig_from_der(sig, der, der_len) < 0) {
        /* a bad public key is still reported as such */
        etls_p256_pt_t q;
        ETLS_GUARD(etls_p256_arith_best()->decode(&q, pub, pub_len));
        return ETLS_ERR_AUTH;
    }
    return etls_p256_verify(pub, pub_len, digest, sig);
}
