/* Public-key operations behind our own interface: TLS signature schemes (ECDSA P-256/SHA-256,
 * RSA-PSS-RSAE-SHA256, Ed25519), P-256 ECDH, and loading PEM keys and certificate chains.
 * ECDSA P-256 signing and P-256 ECDH run on our crypto/p256 (the private scalar is read from
 * OpenSSL's key once at load and held in the key object); RSA, Ed25519, verification and
 * parsing are OpenSSL libcrypto's.
 *
 * Ownership: every etls_pkey_t and every etls_cert_chain_t belongs to whoever loaded it and is
 * released with the matching _free. A loaded key is read-only: workers may sign and verify with
 * one shared key concurrently. Loading allocates; signing allocates only inside OpenSSL. */
#ifndef ETLS_CRYPTO_PK_H
#define ETLS_CRYPTO_PK_H

#include <stddef.h>
#include <stdint.h>

/* TLS SignatureScheme code points (RFC 8446 §4.2.3). */
#define ETLS_SIG_ECDSA_SECP256R1_SHA256 0x0403
#define ETLS_SIG_RSA_PSS_RSAE_SHA256 0x0804
#define ETLS_SIG_ED25519 0x0807
/* Schemes only TLS 1.2 ServerKeyExchange uses with an RSA key (RFC 5246 §7.4.1.4.1, RFC 8446
 * §4.2.3 code points); the TLS 1.3 engine never asks for them (it signs with etls_pkey_scheme). */
#define ETLS_SIG_RSA_PSS_RSAE_SHA384 0x0805
#define ETLS_SIG_RSA_PKCS1_SHA256 0x0401
#define ETLS_SIG_RSA_PKCS1_SHA384 0x0501

#define ETLS_SIG_MAX_LEN 512 /* RSA-4096 */
#define ETLS_RSA_MIN_BITS 2048
#define ETLS_RSA_MAX_BITS 4096 /* bounded so a signature always fits ETLS_SIG_MAX_LEN */

typedef struct etls_pkey etls_pkey_t; /* wraps an EVP_PKEY; read-only after load, shareable */

/* Loads an unencrypted private key from PEM: PKCS#8 "PRIVATE KEY", SEC1 "EC PRIVATE KEY" or
 * PKCS#1 "RSA PRIVATE KEY" (other blocks such as "EC PARAMETERS" before it are skipped). Only
 * keys with a supported scheme load: EC P-256, RSA (rsaEncryption) of 2048..4096 bits, Ed25519.
 * On failure returns a negative code and writes a one-line reason to err (for _load_file the
 * path comes first):
 *   ETLS_ERR_INVALID      empty, malformed or truncated PEM/DER, no private key in the text
 *                         (e.g. a certificate), an encrypted key, a key that fails its self-test
 *   ETLS_ERR_UNSUPPORTED  key type, curve or size without a supported scheme, or a PEM key
 *                         format other than the three above (e.g. OPENSSH PRIVATE KEY)
 *   ETLS_ERR_IO           the file cannot be read (or is larger than 1 MiB)
 *   ETLS_ERR_NOMEM, ETLS_ERR_CRYPTO  out of memory, OpenSSL failed internally
 * The caller owns *out (etls_pkey_free). The PEM text is not kept; the caller wipes its copy. */
int etls_pkey_load_pem(etls_pkey_t **out, const void *pem, size_t len, char *err, size_t errlen);
int etls_pkey_load_file(etls_pkey_t **out, const char *path, char *err, size_t errlen);
/* Checks a private key file's permissions before a server loads it. Keys belong to one user
 * (0600) or, Debian-style, to a trusted group such as ssl-cert (0640). Returns 0 when tight;
 * 1 when the group may read it (msg says so: worth a warning); ETLS_ERR_INVALID when others may
 * read or write it or the group may write it (msg says why and how to fix); ETLS_ERR_IO when it
 * cannot be examined. msg is always a one-line text starting with the path. */
int etls_pkey_file_check_mode(const char *path, char *msg, size_t msglen);
/* Verify-only public key from a DER certificate or a DER SubjectPublicKeyInfo (TLS client side,
 * bench client, tests). The same key-type rules apply (ETLS_ERR_UNSUPPORTED otherwise);
 * ETLS_ERR_INVALID when the DER is malformed or has trailing bytes. */
int etls_pkey_from_cert_der(etls_pkey_t **out, const uint8_t *der, size_t len);
int etls_pkey_from_spki_der(etls_pkey_t **out, const uint8_t *der, size_t len);
/* The same from an already parsed OpenSSL X509 (passed as void *: this header stays free of
 * OpenSSL's), so a caller that verified the certificate does not decode it twice. */
int etls_pkey_from_x509(etls_pkey_t **out, const void *x509);
void etls_pkey_free(etls_pkey_t *k); /* NULL is fine */

/* The one TLS signature scheme this key signs with (ECDSA P-256 -> 0x0403, RSA -> 0x0804,
 * Ed25519 -> 0x0807), or 0 when the key type is not supported. */
uint16_t etls_pkey_scheme(const etls_pkey_t *k);

/* Signs msg (the whole TLS 1.3 CertificateVerify content; hashed inside as the scheme says:
 * SHA-256 for ECDSA and RSA-PSS with salt length 32 and MGF1-SHA-256, nothing for Ed25519).
 * ECDSA signatures are DER-encoded (RFC 8446 §4.2.3). *siglen is the buffer size in, the
 * signature length out (ETLS_SIG_MAX_LEN always suffices). ETLS_ERR_INVALID for a scheme the
 * key does not have, a verify-only key or a short buffer. Thread-safe on a shared key. */
int etls_pkey_sign(const etls_pkey_t *k, uint16_t scheme, const uint8_t *msg, size_t len,
                   uint8_t *sig, size_t *siglen);
/* The native P-256 scalar of an ECDSA P-256 private key (for batched signing through
 * crypto/p256.h's etls_p256_sign_batch), or NULL for any other key. Owned by k. */
struct etls_p256_sk;
const struct etls_p256_sk *etls_pkey_p256_sk(const etls_pkey_t *k);
/* 1 when k signs with scheme: its own scheme, and for RSA keys also the TLS 1.2-only schemes
 * RSA-PSS-RSAE-SHA384 and PKCS#1 v1.5 with SHA-256/SHA-384. etls_pkey_sign and _verify accept
 * these extra schemes for RSA keys (hashing with the scheme's digest; PSS salt = digest length);
 * they set up an OpenSSL context per call, slower than the key's own scheme. */
int etls_pkey_can_sign(const etls_pkey_t *k, uint16_t scheme);
/* 0 when sig is a valid signature of msg; ETLS_ERR_AUTH for any bad signature (including a
 * malformed encoding or wrong length); ETLS_ERR_INVALID when scheme is not the key's scheme. */
int etls_pkey_verify(const etls_pkey_t *k, uint16_t scheme, const uint8_t *msg, size_t len,
                     const uint8_t *sig, size_t siglen);

/* ---- TLS 1.2 RSA key exchange (RFC 5246 §7.4.7.1; rsa_kx.c) ---------------------------------
 * Only the raw private operation comes from OpenSSL (with its blinding); the PKCS#1 v1.5
 * padding check and the implicit rejection are ours, constant-time, so no padding oracle
 * (Bleichenbacher, ROBOT, Marvin) exists on our side of the call. */
#define ETLS_RSA_PMS_LEN 48 /* the PreMasterSecret: client_version (2) || random (46) */

/* Modulus length in bytes of an RSA key (the EncryptedPreMasterSecret length), 0 for others. */
size_t etls_pkey_rsa_size(const etls_pkey_t *k);
/* out = in^d mod n (RSA_NO_PADDING), len == etls_pkey_rsa_size(k) bytes each way; out may be
 * in. ETLS_ERR_INVALID for a key that is not an RSA private key, a wrong length, or in >= n
 * (all public facts about the input); ETLS_ERR_CRYPTO when OpenSSL fails. Thread-safe on a
 * shared key. out holds a secret: the caller wipes it. */
int etls_pkey_rsa_decrypt_raw(const etls_pkey_t *k, const uint8_t *in, size_t len, uint8_t *out);
/* The premaster secret from em, the k-byte result of the raw decryption (RFC 5246 §7.4.7.1
 * with RFC 8017 §7.2.2): pms holds 48 random bytes R on entry and keeps them unless em is
 * 0x00 || 0x02 || PS (k - 51 non-zero bytes) || 0x00 || M with M 48 bytes long starting with
 * client_version, in which case pms = M. Time and memory accesses depend only on k; nothing
 * is reported (the handshake fails later, at the client's Finished, when R was used). Returns
 * the verdict as a mask (0xff: M was taken) for tests only: callers must not branch on it. */
uint8_t etls_rsa_tls12_premaster(const uint8_t *em, size_t k, uint16_t client_version,
                                 uint8_t pms[ETLS_RSA_PMS_LEN]);

/* A certificate chain loaded from PEM: DER blobs, leaf first. Owned by the caller; released
 * with etls_cert_chain_free (which also resets it to empty). */
#define ETLS_CHAIN_MAX 8
typedef struct etls_cert_chain {
    size_t n;
    uint8_t *der[ETLS_CHAIN_MAX];
    size_t der_len[ETLS_CHAIN_MAX];
    /* The leaf as parsed while loading (an X509 *), kept so the checks that follow (names, key
     * match) do not parse it again: in OpenSSL 3.0 each parse costs ~80 us, most of a
     * 100,000-entry snapshot's load time. Freed by etls_cert_chain_free or _drop_parsed. */
    void *leaf_parsed;
} etls_cert_chain_t;

/* Reads every "CERTIFICATE" block of the file in order (other blocks are ignored). Fails with a
 * one-line reason in err: ETLS_ERR_IO unreadable file, ETLS_ERR_INVALID no certificate,
 * malformed PEM or X.509, a leaf DNS name with characters outside [A-Za-z0-9*._-],
 * ETLS_ERR_LIMIT more than ETLS_CHAIN_MAX certificates. Nothing is allocated on failure. */
int etls_cert_chain_load_file(etls_cert_chain_t *c, const char *path, char *err, size_t errlen);
/* Frees the parsed leaf kept from loading (the DER stays); later checks parse it again. */
void etls_cert_chain_drop_parsed(etls_cert_chain_t *c);
/* The same from PEM text in memory (e.g. pushed by the control plane); err without a path. */
int etls_cert_chain_load_pem(etls_cert_chain_t *c, const void *pem, size_t len, char *err,
                             size_t errlen);
/* The same for PEM the control plane has validated (parsed each certificate with OpenSSL, built
 * the chain): each certificate's DER is walked for its structure (every TLV bounded by its
 * container) instead of being decoded by d2i_X509, whose public-key decode costs ~1.4 million
 * instructions a certificate in OpenSSL 3.0. The leaf's names and the key match then come from
 * the walk too (the subjectAltName decoded alone; the SPKI bytes compared with a P-256 key's),
 * falling back to a full parse where the walk cannot decide. Malformed input is still refused,
 * never read out of bounds; contents the walk does not look into are the control plane's check. */
int etls_cert_chain_load_pem_validated(etls_cert_chain_t *c, const void *pem, size_t len,
                                       char *err, size_t errlen);
void etls_cert_chain_free(etls_cert_chain_t *c);
/* 0 when the leaf's public key matches the private key, else ETLS_ERR_INVALID. */
int etls_cert_chain_matches_key(const etls_cert_chain_t *c, const etls_pkey_t *k);
/* The same with a one-line reason in err (key types differ, or same type but another key). */
int etls_cert_chain_check_key(const etls_cert_chain_t *c, const etls_pkey_t *k, char *err,
                              size_t errlen);
/* DNS names of the leaf (subjectAltName dNSName entries; the subject CN only when there is no
 * SAN), lower-cased, as a NUL-separated list ending with an empty string ("a.com\0*.b.com\0\0";
 * just "\0" when there are none). Wildcards stay as written ("*.example.com"); matching them is
 * the SNI selector's job. ETLS_ERR_LIMIT when out is too small, ETLS_ERR_INVALID for a
 * malformed certificate or a name with characters outside [A-Za-z0-9*._-]. */
int etls_cert_leaf_dns_names(const etls_cert_chain_t *c, char *out, size_t outlen);

/* P-256 ECDH (secp256r1 key share, RFC 8446 §4.2.8.2: uncompressed points, 65 bytes). */
#define ETLS_P256_POINT_LEN 65
#define ETLS_P256_SHARED_LEN 32
typedef struct etls_p256_key {
    uint8_t priv[32]; /* secret scalar, big-endian, 1 <= priv < n; wiped by etls_p256_key_wipe */
} etls_p256_key_t;

/* Random scalar from this thread's RNG (crypto/rand, getrandom) and its public point
 * (0x04 || X || Y), on crypto/p256. Thread-safe; ETLS_ERR_IO when the kernel has no entropy. */
int etls_p256_keygen(etls_p256_key_t *k, uint8_t pub[ETLS_P256_POINT_LEN]);
/* Shared secret = x coordinate of priv * peer. Validates the peer point: format byte 0x04,
 * coordinates below p, on the curve, result not infinity; ETLS_ERR_INVALID when it is not.
 * On any failure out is zeroed. Thread-safe; constant-time in the scalar (crypto/p256). */
int etls_p256_shared(const etls_p256_key_t *k, const uint8_t peer[ETLS_P256_POINT_LEN],
                     uint8_t out[ETLS_P256_SHARED_LEN]);
/* Same, for a peer key share of any length straight off the wire: everything but 65 bytes
 * starting with 0x04 (compressed and hybrid points, the 1-byte infinity) is ETLS_ERR_INVALID. */
int etls_p256_shared_len(const etls_p256_key_t *k, const uint8_t *peer, size_t peerlen,
                         uint8_t out[ETLS_P256_SHARED_LEN]);
void etls_p256_key_wipe(etls_p256_key_t *k);

#endif
