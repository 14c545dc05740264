/* A minimal TLS 1.2 client written for tests and fuzzing (the TLS 1.3 one is mini_client.h):
 * builds the ClientHello and the second flight byte by byte so that negative tests and fuzzers
 * can break any field, with the RSA key exchange (its PKCS#1 encoding chosen by the caller
 * when asked) or ECDHE over X25519, AES-GCM and ChaCha20-Poly1305. Deterministic for a seed.
 * Not for production: it verifies nothing it does not need. */
#ifndef ETLS_TESTS_TLS_MINI12_H
#define ETLS_TESTS_TLS_MINI12_H

#include "tls/tls.h"

#include <openssl/evp.h>

typedef struct mini12 {
    uint64_t rng;
    etls_aead_engine_t *eng;
    EVP_PKEY *rsa;              /* the server's RSA key (public half used) for the RSA exchange */
    uint8_t client_random[32], server_random[32];
    uint16_t suite;
    etls_hash_alg_t hash;
    etls_aead_alg_t aead;
    int ems;                    /* the server answered extended_master_secret */
    etls_hash_ctx_t th;
    uint8_t sk[32], server_point[65];
    int have_ske;               /* 1: X25519, 2: P-256 (only raw ClientKeyExchanges then) */
    uint8_t pms[48];
    size_t pms_len;
    uint8_t master[48];
    etls_aead_key_t wkey, rkey;
    uint8_t wiv[12], riv[12];
    uint64_t wseq, rseq;
    uint8_t client_fin[12];
    uint8_t ch[512];            /* the ClientHello, hashed once the ServerHello names the hash */
    size_t ch_len;
} mini12_t;

typedef struct mini12_ch {
    const uint16_t *suites; /* NULL = {0x009c}; at most 64 */
    size_t n_suites;
    int no_ems;
    uint16_t client_version; /* 0 = 0x0303 */
    int p256_only;           /* supported_groups lists only secp256r1 (else x25519, secp256r1) */
} mini12_ch_t;

void mini12_init(mini12_t *m, etls_aead_engine_t *eng, EVP_PKEY *rsa, uint64_t seed);
void mini12_free(mini12_t *m);
/* The ClientHello message (with its header) into buf; returns its length. */
size_t mini12_client_hello(mini12_t *m, const mini12_ch_t *o, uint8_t *buf, size_t cap);
/* Reads the server's first flight (plaintext records): 0, or negative when it is not one. */
int mini12_read_flight(mini12_t *m, const uint8_t *in, size_t len);
/* The ClientKeyExchange message for the negotiated exchange; derives the keys. For RSA with
 * em != NULL the caller's k-byte encoded message is encrypted instead of a correct one (the
 * client then keeps its own premaster: the keys disagree unless em carries it validly). */
size_t mini12_client_key_exchange(mini12_t *m, const uint8_t *em, uint8_t *out);
/* A ClientKeyExchange message with the given body, as it is (no keys derived). */
size_t mini12_client_key_exchange_raw(mini12_t *m, const uint8_t *body, size_t len, uint8_t *out);
/* The RSA premaster the client chose, for encodings built by the caller (48 bytes). */
const uint8_t *mini12_premaster(const mini12_t *m);
/* The client Finished message (header + verify_data), added to the transcript. */
size_t mini12_finished(mini12_t *m, uint8_t *out);
/* One protected record of `type` under the client's write key. */
size_t mini12_seal(mini12_t *m, uint8_t type, const uint8_t *data, size_t len, uint8_t *out);
/* Reads the server's change_cipher_spec and Finished (and a NewSessionTicket before them);
 * 0 when its verify_data is right. */
int mini12_read_finished(mini12_t *m, const uint8_t *in, size_t len);
/* Opens one protected server record at in (len bytes available): its content length, or
 * negative; *type and *used are set. */
int mini12_open(mini12_t *m, const uint8_t *in, size_t len, uint8_t *type, uint8_t *pt, size_t *used);

#endif
