/* The `edgetls-bench crypto` cases: each pairs our implementation with the same operation
 * through OpenSSL's EVP interfaces.
 *
 * A case's setup allocates its state, checks once that both sides compute the same result
 * (a benchmark of a wrong answer is worthless) and fills in an etls_bench_pair_t. The state
 * is owned by the pair and released with pair->free_st. */
#ifndef ETLS_BENCH_CRYPTO_CASES_H
#define ETLS_BENCH_CRYPTO_CASES_H

#include <openssl/evp.h>

#include "bench.h"
#include "crypto/aead.h"
#include "crypto/pk.h"

#define ETLS_BENCH_BATCH_MAX 256

/* Shared, read-only inputs for every case; owned by the crypto subcommand. */
typedef struct etls_bench_env {
    unsigned batch;            /* X25519 batch size (--batch) */
    etls_aead_engine_t *aead;  /* NULL when no AEAD backend could start */
    EVP_PKEY *ec_ossl;         /* ECDSA P-256 key generated in-process ... */
    const etls_pkey_t *ec_ours; /* ... and the same key loaded through crypto/pk.h */
} etls_bench_env_t;

typedef struct etls_bench_pair {
    etls_bench_side_t ours, ossl;
    size_t bytes_per_op; /* > 0 for throughput cases: GB/s is reported */
    char impl[128];      /* which of our implementations ran */
    void *st;
    void (*free_st)(void *st);
} etls_bench_pair_t;

typedef int (*etls_bench_setup_fn)(const etls_bench_env_t *env, const void *arg,
                                   etls_bench_pair_t *p);

typedef struct etls_bench_case {
    const char *name;
    etls_bench_setup_fn setup;
    const void *arg;
} etls_bench_case_t;

/* Prints "edgetls-bench crypto: <case>: <why>" to stderr; returns ETLS_ERR_CRYPTO so setup
 * code can `return etls_bench_fail(...)`. */
int etls_bench_fail(const char *what, const char *why);

/* bench/crypto_x25519.c; arg selects keygen / batched shared / portable shared. */
extern const int etls_bench_x25519_keygen, etls_bench_x25519_shared, etls_bench_x25519_portable;
int etls_bench_x25519_setup(const etls_bench_env_t *env, const void *arg, etls_bench_pair_t *p);

/* bench/crypto_aead.c; arg is an etls_bench_aead_cfg_t. */
typedef struct etls_bench_aead_cfg {
    etls_aead_alg_t alg;
    size_t len;
} etls_bench_aead_cfg_t;
int etls_bench_aead_setup(const etls_bench_env_t *env, const void *arg, etls_bench_pair_t *p);

/* bench/crypto_hash.c: SHA-256 of arg bytes (a size_t), HMAC-SHA256 of 64 bytes. */
int etls_bench_sha256_setup(const etls_bench_env_t *env, const void *arg, etls_bench_pair_t *p);
int etls_bench_hmac_setup(const etls_bench_env_t *env, const void *arg, etls_bench_pair_t *p);

/* bench/crypto_ks.c: the TLS 1.3 key schedule, ours and through EVP_KDF "HKDF". */
typedef struct etls_bench_ks_out {
    uint8_t c_hs_key[16], c_hs_iv[12], s_hs_key[16], s_hs_iv[12];
    uint8_t c_finished_key[32], s_finished_key[32];
    uint8_t c_ap_key[16], c_ap_iv[12], s_ap_key[16], s_ap_iv[12];
} etls_bench_ks_out_t;

/* Fixed transcript hashes: ClientHello..ServerHello, ..CertificateVerify, ..server Finished. */
extern const uint8_t etls_bench_th_ch_sh[32], etls_bench_th_ch_cv[32], etls_bench_th_ch_sf[32];

int etls_bench_ks_ours(const uint8_t ecdhe[32], etls_bench_ks_out_t *o);
typedef struct etls_bench_hkdf {
    EVP_KDF_CTX *extract, *expand; /* digest and mode set once */
} etls_bench_hkdf_t;
int etls_bench_hkdf_init(etls_bench_hkdf_t *h);
void etls_bench_hkdf_free(etls_bench_hkdf_t *h);
int etls_bench_ks_ossl(const etls_bench_hkdf_t *h, const uint8_t ecdhe[32], etls_bench_ks_out_t *o);
int etls_bench_ks_setup(const etls_bench_env_t *env, const void *arg, etls_bench_pair_t *p);

/* bench/crypto_pk.c: ECDSA P-256 signing of a CertificateVerify message, P-256 ECDH. */
#define ETLS_BENCH_CV_LEN 130 /* 64 spaces, context string, 0x00, SHA-256 transcript hash */
void etls_bench_cert_verify_msg(uint8_t msg[ETLS_BENCH_CV_LEN], const uint8_t th[32]);
int etls_bench_ecdsa_setup(const etls_bench_env_t *env, const void *arg, etls_bench_pair_t *p);
int etls_bench_p256_setup(const etls_bench_env_t *env, const void *arg, etls_bench_pair_t *p);

/* bench/crypto_p256.c: the native P-256 (crypto/p256.h), same operations as the two above. */
int etls_bench_p256n_sign_setup(const etls_bench_env_t *env, const void *arg, etls_bench_pair_t *p);
int etls_bench_p256n_sign_batch_setup(const etls_bench_env_t *env, const void *arg,
                                      etls_bench_pair_t *p);
int etls_bench_p256n_ecdh_setup(const etls_bench_env_t *env, const void *arg, etls_bench_pair_t *p);

/* bench/crypto_mlkem.c: ML-KEM-768; arg selects keygen / encaps / decaps. The OpenSSL side is
 * X25519 in the same TLS role (OpenSSL 3.0 has no ML-KEM). */
extern const int etls_bench_mlkem_keygen, etls_bench_mlkem_encaps, etls_bench_mlkem_decaps,
    etls_bench_mlkem_hybrid_server;
int etls_bench_mlkem_setup(const etls_bench_env_t *env, const void *arg, etls_bench_pair_t *p);

/* bench/crypto_server.c: all the crypto of one full TLS 1.3 server handshake. */
/* arg NULL: tls13_server_crypto; non-NULL: tls13_server_crypto_hybrid (ours adds the ML-KEM-768
 * encapsulation of X25519MLKEM768 per handshake; OpenSSL 3.0, without ML-KEM, stays X25519). */
int etls_bench_server_setup(const etls_bench_env_t *env, const void *arg, etls_bench_pair_t *p);

#endif
