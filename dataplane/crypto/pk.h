/* Public-key operations behind our own interface, backed by OpenSSL libcrypto: TLS signature
 * schemes (ECDSA P-256/SHA-256, RSA-PSS-RSAE-SHA256, Ed25519), P-256 ECDH, and loading PEM
 * keys and certificate chains. Kept behind this interface so a faster batched signer can
 * replace OpenSSL later without touching the TLS engine. */
#ifndef ETLS_CRYPTO_PK_H
#define ETLS_CRYPTO_PK_H

#include <stddef.h>
#include <stdint.h>

/* TLS SignatureScheme code points (RFC 8446 §4.2.3). */
#define ETLS_SIG_ECDSA_SECP256R1_SHA256 0x0403
#define ETLS_SIG_RSA_PSS_RSAE_SHA256 0x0804
#define ETLS_SIG_ED25519 0x0807

#define ETLS_SIG_MAX_LEN 512 /* RSA-4096 */

typedef struct etls_pkey etls_pkey_t; /* wraps an EVP_PKEY; read-only after load, shareable */

/* Loads a private key from PEM (PKCS#8, SEC1 or PKCS#1). On failure returns a negative code and
 * writes a one-line reason to err. */
int etls_pkey_load_pem(etls_pkey_t **out, const void *pem, size_t len, char *err, size_t errlen);
int etls_pkey_load_file(etls_pkey_t **out, const char *path, char *err, size_t errlen);
/* Public key from a DER certificate (for verifying, e.g. in tests and the bench client). */
int etls_pkey_from_cert_der(etls_pkey_t **out, const uint8_t *der, size_t len);
void etls_pkey_free(etls_pkey_t *k);

/* The one TLS signature scheme this key signs with (ECDSA P-256 -> 0x0403, RSA -> 0x0804,
 * Ed25519 -> 0x0807), or 0 when the key type is not supported. */
uint16_t etls_pkey_scheme(const etls_pkey_t *k);

/* Signs msg (the whole TLS 1.3 CertificateVerify content; hashed inside as the scheme says).
 * *siglen is the buffer size in, the signature length out. Thread-safe on a shared key. */
int etls_pkey_sign(const etls_pkey_t *k, uint16_t scheme, const uint8_t *msg, size_t len,
                   uint8_t *sig, size_t *siglen);
int etls_pkey_verify(const etls_pkey_t *k, uint16_t scheme, const uint8_t *msg, size_t len,
                     const uint8_t *sig, size_t siglen); /* 0 or ETLS_ERR_AUTH */

/* A certificate chain loaded from PEM: DER blobs, leaf first. */
#define ETLS_CHAIN_MAX 8
typedef struct etls_cert_chain {
    size_t n;
    uint8_t *der[ETLS_CHAIN_MAX];
    size_t der_len[ETLS_CHAIN_MAX];
} etls_cert_chain_t;

int etls_cert_chain_load_file(etls_cert_chain_t *c, const char *path, char *err, size_t errlen);
void etls_cert_chain_free(etls_cert_chain_t *c);
/* 0 when the leaf's public key matches the private key, else ETLS_ERR_INVALID. */
int etls_cert_chain_matches_key(const etls_cert_chain_t *c, const etls_pkey_t *k);
/* DNS names of the leaf (subjectAltName dNSName entries; the subject CN only when there is no
 * SAN), lower-cased, as a NUL-separated list ending with an empty string. */
int etls_cert_leaf_dns_names(const etls_cert_chain_t *c, char *out, size_t outlen);

/* P-256 ECDH (secp256r1 key share, RFC 8446 §4.2.8.2: uncompressed points, 65 bytes). */
#define ETLS_P256_POINT_LEN 65
#define ETLS_P256_SHARED_LEN 32
typedef struct etls_p256_key {
    uint8_t priv[32]; /* secret scalar, wiped by etls_p256_key_wipe */
} etls_p256_key_t;

int etls_p256_keygen(etls_p256_key_t *k, uint8_t pub[ETLS_P256_POINT_LEN]);
/* Validates the peer point (on curve, not infinity); ETLS_ERR_INVALID when it is not. */
int etls_p256_shared(const etls_p256_key_t *k, const uint8_t peer[ETLS_P256_POINT_LEN],
                     uint8_t out[ETLS_P256_SHARED_LEN]);
void etls_p256_key_wipe(etls_p256_key_t *k);

#endif
