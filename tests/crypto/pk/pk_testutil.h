/* Test helpers for crypto/pk: a private temp directory, OpenSSL key and certificate generation,
 * and writing them as PEM in every form the loader must accept or refuse. */
#ifndef ETLS_TESTS_PK_TESTUTIL_H
#define ETLS_TESTS_PK_TESTUTIL_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* Key kinds: "ec" (P-256), "ec384", "rsa2048", "rsa1024", "rsa-pss", "ed25519", "ed448",
 * "x25519", "dsa". NULL on failure. */
EVP_PKEY *pkt_keygen(const char *kind);

enum { PKT_PKCS8, PKT_TRAD, PKT_PKCS8_ENC, PKT_TRAD_ENC };
int pkt_write_key(const char *path, EVP_PKEY *k, int form); /* 0 or -1 */
int pkt_write_file(const char *path, const void *data, size_t len);
/* Reads a whole file into a NUL-terminated malloc'd buffer; NULL on failure. */
char *pkt_read_file(const char *path, size_t *len);

/* A certificate for key, signed by issuer_key/issuer (self-signed when issuer is NULL); cn may be
 * NULL; san is an OpenSSL config string ("DNS:a.com,DNS:*.b.com,IP:127.0.0.1") or NULL. */
X509 *pkt_cert(EVP_PKEY *key, EVP_PKEY *issuer_key, X509 *issuer, const char *cn,
               const char *san);
int pkt_write_certs(const char *path, X509 *const *certs, size_t n);
/* DER of one certificate into a malloc'd buffer. */
unsigned char *pkt_cert_der(X509 *x, size_t *len);

/* mkdtemp under $TMPDIR (or /tmp); pkt_rmdir removes the files in it and the directory. */
int pkt_tmpdir(char *dir, size_t len);
void pkt_rmdir(const char *dir);
/* dir/name into buf (static per call site is fine); returns buf. */
const char *pkt_path(char *buf, size_t len, const char *dir, const char *name);

/* The fuzz body (fuzz_pk.c): data tried as PEM key, PEM chain, DER certificate and DER SPKI.
 * Returns a bitmask of PK_FUZZ_* for what parsed, or -1 when an API invariant was broken
 * (success without a result, failure without a one-line message, a loaded key that cannot
 * sign and verify, ...). */
#include <stdint.h>
enum { PK_FUZZ_KEY = 1, PK_FUZZ_CHAIN = 2, PK_FUZZ_CERT_DER = 4, PK_FUZZ_SPKI_DER = 8 };
int pk_fuzz_one(const uint8_t *data, size_t size);

#endif
