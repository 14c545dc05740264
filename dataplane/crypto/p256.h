/* Native NIST P-256 (secp256r1): ECDSA with SHA-256 digests (FIPS 186-5) and ECDH (SEC 1,
 * RFC 8446 §4.2.8.2 key shares), with no OpenSSL underneath.
 *
 * Constant time: everything that touches a private scalar or a nonce (key loading, key
 * generation, signing, ECDH) runs without branches or memory indexes on secret data; table
 * reads scan every entry with masks. Verification handles public data only. Field arithmetic is
 * Montgomery form in 64-bit limbs; points use the complete formulas of Renes, Costello and
 * Batina (a = -3), so doubling, equal inputs and infinity need no special cases.
 *
 * Ownership: callers own every buffer; nothing allocates and nothing keeps a pointer after
 * returning. Secret intermediates (nonce, HMAC state, scalar multiples) are wiped before
 * returning; an etls_p256_sk_t holds the private scalar until etls_p256_sk_wipe. Every function
 * is thread-safe: the only shared state is the fixed-base table (52 KiB of public multiples of
 * G), built once under pthread_once at first use.
 *
 * Naming: crypto/pk.h has etls_p256_key_t / etls_p256_keygen / etls_p256_shared(_len) /
 * etls_p256_key_wipe for the TLS engine, implemented on top of these; the names here avoid
 * those (etls_p256_sk_t, etls_p256_generate, etls_p256_ecdh).
 *
 * Implementations (BearSSL style): an etls_p256_impl_t runs batches of signatures and shared
 * secrets. "portable" runs the arithmetic in 64-bit C; "adx" the same code with mulx/adcx/adox
 * field multiplications (etls_p256_adx_get() is NULL without BMI2 and ADX). Both sign in groups
 * of up to 16 that share one inversion mod p and one mod n. Vector implementations (AVX-512
 * IFMA, eight lanes) would slot in behind the same batch calls; etls_p256_best() picks once.
 *
 * Owners: dataplane/crypto/p256/ (p256_fe.h field and scalar limbs, p256_fe_adx.h their
 * mulx/adx forms, p256_scalar.c inversions, p256_point.c group law and scalar multiplication --
 * both compiled into p256_arith_c.c and p256_arith_adx.c --, p256_ecdsa.c signatures, batches
 * and DER, p256.c keys, ECDH and dispatch). */
#ifndef ETLS_CRYPTO_P256_H
#define ETLS_CRYPTO_P256_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/rand.h"

#define ETLS_P256_PUB_LEN 65    /* 0x04 || x || y, big-endian */
#define ETLS_P256_SECRET_LEN 32 /* shared secret: big-endian x coordinate */
#define ETLS_P256_SIG_LEN 64    /* r || s, 32 bytes big-endian each (IEEE P1363) */
#define ETLS_P256_DER_MAX 72    /* DER ECDSA-Sig-Value of two 256-bit integers, at most */

/* A private scalar d, 1 <= d < n, as little-endian 64-bit limbs. Wipe with etls_p256_sk_wipe. */
typedef struct etls_p256_sk {
    uint64_t d[4];
} etls_p256_sk_t;

/* Loads 32 big-endian bytes; ETLS_ERR_INVALID (and sk wiped) for 0 or >= n. The range check is
 * constant time; only its outcome is revealed. */
int etls_p256_sk_load(etls_p256_sk_t *sk, const uint8_t in[32]);
void etls_p256_sk_store(uint8_t out[32], const etls_p256_sk_t *sk);
void etls_p256_sk_wipe(etls_p256_sk_t *sk);

/* Key generation: sk uniform in [1, n-1] from rng (rejection sampling), pub = sk * G.
 * Returns 0 or the RNG's error (ETLS_ERR_IO; sk and pub are then zeroed). */
int etls_p256_generate(etls_p256_sk_t *sk, uint8_t pub[ETLS_P256_PUB_LEN], etls_rand_t *rng);
/* pub = sk * G (uncompressed). */
void etls_p256_public(uint8_t pub[ETLS_P256_PUB_LEN], const etls_p256_sk_t *sk);

/* ECDH: out = x(sk * peer). peer must be an uncompressed point (peer_len 65, 0x04, x and y
 * < p, on the curve); otherwise, or if the product is infinity, ETLS_ERR_INVALID and out is
 * zeroed. out may alias peer. */
int etls_p256_ecdh(uint8_t out[ETLS_P256_SECRET_LEN], const etls_p256_sk_t *sk, const uint8_t *peer,
                   size_t peer_len);

/* ECDSA signature of a 32-byte digest (SHA-256 of the message) with a hedged nonce: k comes
 * from the RFC 6979 HMAC-SHA256 generator over (key, digest, 32 bytes of fresh randomness from
 * rng as the §3.6 additional data k'), so a broken RNG degrades to deterministic RFC 6979
 * instead of leaking the key, and a fault attack on the deterministic path meets fresh
 * randomness. Writes r || s. Returns 0 or the RNG's error (sig then zeroed). */
int etls_p256_sign(uint8_t sig[ETLS_P256_SIG_LEN], const etls_p256_sk_t *sk, const uint8_t digest[32],
                   etls_rand_t *rng);
/* The same with the extra randomness given: same inputs, same signature (tests, known answers).
 * extra must be fresh randomness in production use. */
void etls_p256_sign_det(uint8_t sig[ETLS_P256_SIG_LEN], const etls_p256_sk_t *sk,
                        const uint8_t digest[32], const uint8_t extra[32]);

/* r || s as a DER ECDSA-Sig-Value (RFC 8446 §4.2.3 / RFC 5480): writes *der_len bytes, at most
 * ETLS_P256_DER_MAX. r and s must be in [1, n-1] (what etls_p256_sign writes). */
void etls_p256_sig_to_der(uint8_t der[ETLS_P256_DER_MAX], size_t *der_len,
                          const uint8_t sig[ETLS_P256_SIG_LEN]);
/* Strict DER back to r || s: minimal lengths, no negative or zero-padded integers beyond the one
 * sign byte, nothing trailing, each value below 2^256. 0 or ETLS_ERR_INVALID. */
int etls_p256_sig_from_der(uint8_t sig[ETLS_P256_SIG_LEN], const uint8_t *der, size_t len);

/* Verification (variable time: public inputs). pub is a 65-byte uncompressed point.
 * 0 for a valid signature; ETLS_ERR_AUTH for a bad one (r or s outside [1, n-1], malformed
 * DER, wrong equation); ETLS_ERR_INVALID for a public key that is not a valid point. */
int etls_p256_verify(const uint8_t *pub, size_t pub_len, const uint8_t digest[32],
                     const uint8_t sig[ETLS_P256_SIG_LEN]);
int etls_p256_verify_der(const uint8_t *pub, size_t pub_len, const uint8_t digest[32],
                         const uint8_t *der, size_t der_len);

/* ---- batches ---- */

/* One signature. extra == NULL means "draw 32 bytes from rng" (production); non-NULL makes the
 * op deterministic (tests). status: 0, or the RNG's error with sig zeroed. */
typedef struct etls_p256_sign_op {
    const etls_p256_sk_t *sk;
    const uint8_t *digest; /* 32 bytes */
    const uint8_t *extra;  /* 32 bytes or NULL */
    etls_rand_t *rng;      /* used when extra == NULL */
    uint8_t *sig;          /* 64 bytes r || s */
    int status;
} etls_p256_sign_op_t;

/* One shared secret; status as etls_p256_ecdh returns. */
typedef struct etls_p256_ecdh_op {
    const etls_p256_sk_t *sk;
    const uint8_t *peer;
    size_t peer_len;
    uint8_t *out; /* 32 bytes */
    int status;
} etls_p256_ecdh_op_t;

typedef struct etls_p256_impl {
    const char *name; /* "portable", "adx" */
    unsigned lanes;   /* operations run side by side */
    void (*sign_batch)(etls_p256_sign_op_t *ops, size_t n);
    void (*ecdh_batch)(etls_p256_ecdh_op_t *ops, size_t n);
} etls_p256_impl_t;

/* portable: 64-bit C (unsigned __int128) field code. adx: the same operations with
 * mulx/adcx/adox field multiplications; NULL when the CPU lacks BMI2 or ADX (or ETLS_CPU_DISABLE
 * masks them). etls_p256_best() is the fastest present; the single-operation calls use it. */
const etls_p256_impl_t *etls_p256_portable_get(void);
const etls_p256_impl_t *etls_p256_adx_get(void);
const etls_p256_impl_t *etls_p256_best(void);

/* Run n operations through impl (NULL = best); every op's output and status are written. The
 * order of execution is unspecified, so an op's outputs must not overlap another op's inputs. */
void etls_p256_sign_batch(const etls_p256_impl_t *impl, etls_p256_sign_op_t *ops, size_t n);
void etls_p256_ecdh_batch(const etls_p256_impl_t *impl, etls_p256_ecdh_op_t *ops, size_t n);

#endif
