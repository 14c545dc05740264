/* ECDSA over P-256 (FIPS 186-5 §6.4) with hedged RFC 6979 nonces, DER signature encoding, and
 * verification. */
#include <string.h>

#include "common/err.h"
#include "crypto/hash.h"
#include "crypto/rand.h"
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

/* ---- batches: one inversion mod p and one mod n for the whole group ---- */

#define SIGN_GROUP 16

static const uint64_t plain_one[4] = {1, 0, 0, 0};

/* Montgomery's trick: inv[i] = a[i]^-1 for every i with one inversion and 3 (n - 1)
 * multiplications; mul/inv are the field's or the scalars' (Montgomery form). Inputs must be
 * non-zero; straight-line in the values. */
static void batch_invert(uint64_t inv[][4], const uint64_t a[][4], size_t n,
                         void (*mul)(uint64_t *, const uint64_t *, const uint64_t *),
                         void (*invert)(uint64_t *, const uint64_t *))
{
    uint64_t acc[SIGN_GROUP][4], t[4], u[4];
    memcpy(acc[0], a[0], 32);
    for (size_t i = 1; i < n; i++)
        mul(acc[i], acc[i - 1], a[i]);
    invert(t, acc[n - 1]);
    for (size_t i = n - 1; i > 0; i--) {
        mul(inv[i], t, acc[i - 1]);
        mul(u, t, a[i]);
        memcpy(t, u, 32);
    }
    memcpy(inv[0], t, 32);
    etls_wipe(acc, sizeof acc);
    etls_wipe(t, sizeof t);
    etls_wipe(u, sizeof u);
}

/* Signs ops[0..n) (n <= SIGN_GROUP, every extra given): the nonces and k G one by one, then the
 * affine x of every k G and every k^-1 through batch_invert. An op whose r or s comes out zero
 * (probability ~2^-256) is redone alone, which moves on to the next RFC 6979 candidate. */
static void sign_group(const etls_p256_arith_t *ar, etls_p256_sign_op_t *ops,
                       const uint8_t *const *extra, size_t n)
{
    uint64_t k[SIGN_GROUP][4], z[SIGN_GROUP][4], zi[SIGN_GROUP][4], e[SIGN_GROUP][4];
    etls_p256_pt_t kg[SIGN_GROUP];
    for (size_t i = 0; i < n; i++) {
        nonce_gen_t g;
        uint8_t x[32], h[32];
        etls_p256_from_be(e[i], ops[i].digest);
        etls_sc_reduce(e[i], e[i]);
        etls_p256_to_be(h, e[i]);
        etls_p256_sk_store(x, ops[i].sk);
        nonce_init(&g, x, h, extra[i]);
        for (;;) {
            nonce_next(&g, k[i]);
            uint64_t ok = etls_sc_in_range(k[i]);
            etls_ct_declassify(&ok, sizeof ok);
            if (ok)
                break;
        }
        etls_wipe(&g, sizeof g);
        etls_wipe(x, sizeof x);
        ar->mul_base(&kg[i], k[i]);
        memcpy(z[i], kg[i].z, 32);
        ar->sc_to_mont(k[i], k[i]); /* from here on k is in Montgomery form mod n */
    }
    batch_invert(zi, (const uint64_t(*)[4])z, n, ar->fe_mul, ar->fe_inv);
    batch_invert(z, (const uint64_t(*)[4])k, n, ar->sc_mul_m, ar->sc_inv_m); /* z = k^-1 */
    for (size_t i = 0; i < n; i++) {
        uint64_t zz[4], x[4], r[4], sv[4], t[4], u[4];
        ar->fe_mul(zz, zi[i], zi[i]);
        ar->fe_mul(x, kg[i].x, zz);
        ar->fe_mul(x, x, plain_one); /* out of Montgomery form */
        etls_sc_reduce(r, x);
        etls_ct_declassify(r, sizeof r);
        ar->sc_to_mont(t, r);
        ar->sc_to_mont(u, ops[i].sk->d);
        ar->sc_mul_m(t, t, u);
        ar->sc_to_mont(u, e[i]);
        etls_mod_add(t, t, u, etls_p256_n);
        ar->sc_mul_m(t, t, z[i]);
        ar->sc_from_mont(sv, t);
        etls_ct_declassify(sv, sizeof sv);
        if ((r[0] | r[1] | r[2] | r[3]) == 0 || (sv[0] | sv[1] | sv[2] | sv[3]) == 0) {
            ops[i].status = etls_p256_sign_one(ar, ops[i].sig, ops[i].sk, ops[i].digest, extra[i]);
        } else {
            etls_p256_to_be(ops[i].sig, r);
            etls_p256_to_be(ops[i].sig + 32, sv);
            ops[i].status = 0;
        }
        etls_wipe(zz, sizeof zz);
        etls_wipe(x, sizeof x);
        etls_wipe(t, sizeof t);
        etls_wipe(u, sizeof u);
    }
    etls_wipe(k, sizeof k);
    etls_wipe(z, sizeof z);
    etls_wipe(zi, sizeof zi);
    etls_wipe(kg, sizeof kg);
}

void etls_p256_sign_many(const etls_p256_arith_t *ar, etls_p256_sign_op_t *ops, size_t n)
{
    etls_p256_sign_op_t *grp[SIGN_GROUP];
    etls_p256_sign_op_t dense[SIGN_GROUP];
    uint8_t drawn[SIGN_GROUP][32];
    const uint8_t *extra[SIGN_GROUP];
    size_t m = 0;
    for (size_t i = 0; i <= n; i++) {
        if (m == SIGN_GROUP || (i == n && m > 0)) {
            sign_group(ar, dense, extra, m);
            for (size_t j = 0; j < m; j++)
                grp[j]->status = dense[j].status;
            m = 0;
        }
        if (i == n)
            break;
        etls_p256_sign_op_t *op = &ops[i];
        if (!op->extra) {
            op->status = etls_rand_bytes(op->rng, drawn[m], 32);
            if (op->status < 0) {
                memset(op->sig, 0, ETLS_P256_SIG_LEN);
                continue;
            }
        }
        extra[m] = op->extra ? op->extra : drawn[m];
        dense[m] = *op;
        grp[m++] = op;
    }
    etls_wipe(drawn, sizeof drawn);
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
