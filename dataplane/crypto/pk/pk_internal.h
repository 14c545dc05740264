/* Internals shared by the files of crypto/pk: the key wrapper, error text and PEM/file input.
 * Nothing here is visible outside the pk library. */
#ifndef ETLS_CRYPTO_PK_INTERNAL_H
#define ETLS_CRYPTO_PK_INTERNAL_H

#include "crypto/p256.h"
#include "crypto/pk.h"

#include <openssl/bio.h>
#include <openssl/evp.h>

#define ETLS_PK_FILE_MAX (1u << 20) /* key and chain files are small; bound what we read */

/* Per-key operation templates are initialised once at load; each sign/verify duplicates one,
 * which skips the provider fetch and parameter setting that a fresh context costs, and keeps a
 * shared key free of per-call mutable state (thread safety). ECDSA and RSA-PSS sign a SHA-256
 * digest we compute ourselves (EVP_PKEY_sign); Ed25519 signs the message (EVP_DigestSign). */
struct etls_pkey {
    EVP_PKEY *pkey;
    uint16_t scheme;
    int has_private;
    size_t sig_max;          /* EVP_PKEY_get_size: the longest signature */
    EVP_PKEY_CTX *sign_tmpl; /* ECDSA, RSA-PSS: sign_init + padding/md set */
    EVP_PKEY_CTX *verify_tmpl;
    EVP_MD_CTX *dsign_tmpl; /* Ed25519: DigestSignInit done */
    EVP_MD_CTX *dverify_tmpl;
    EVP_PKEY_CTX *decrypt_tmpl; /* RSA private keys: decrypt_init + RSA_NO_PADDING (rsa_kx.c) */
    /* ECDSA P-256 private keys sign natively (crypto/p256): the scalar, read from OpenSSL's key
     * once at load, wiped in etls_pkey_free. has_p256 says it is set. */
    int has_p256;
    etls_p256_sk_t p256;
};

/* Takes ownership of pkey (freed on failure too). Checks the type, builds the templates and, for
 * private keys, runs a sign/verify self-test. err may be NULL. */
int etls_pk_wrap(etls_pkey_t **out, EVP_PKEY *pkey, int has_private, char *err, size_t errlen);
/* rsa_kx.c: the raw-decryption template of an RSA private key (NULL on failure). */
EVP_PKEY_CTX *etls_pk_rsa_decrypt_tmpl(EVP_PKEY *pkey);

void etls_pk_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reads a whole regular file (at most ETLS_PK_FILE_MAX bytes) into a new buffer; the caller
 * releases it with etls_pk_file_free, which wipes it (it may hold a private key). */
int etls_pk_file_read(const char *path, uint8_t **buf, size_t *len, char *err, size_t errlen);
void etls_pk_file_free(uint8_t *buf, size_t len);

/* One PEM block. data (the decoded DER) lives in OpenSSL's secure heap and is wiped on free. */
typedef struct etls_pem_block {
    char *name, *header;
    unsigned char *data;
    long len;
} etls_pem_block_t;

/* Next PEM block from bio: 1 got one, 0 no more blocks, ETLS_ERR_INVALID malformed or
 * truncated block (bad base64, missing END line). */
int etls_pk_pem_next(BIO *bio, etls_pem_block_t *b);
void etls_pk_pem_free(etls_pem_block_t *b);

/* 1 when 0 < s < n (the P-256 group order), constant-time in s; only the verdict is
 * declassified. Used for rejection sampling in etls_p256_keygen; tested under valgrind (ct). */
int etls_p256_scalar_in_range(const uint8_t s[32]);

/* This thread's RNG for the hedged ECDSA nonces and P-256 key shares (crypto/rand: getrandom
 * in 4 KiB blocks), so the signer needs no context from its caller. */
etls_rand_t *etls_pk_thread_rng(void);

#endif
