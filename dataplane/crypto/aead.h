/* AEAD for TLS records: AES-128/256-GCM, ChaCha20-Poly1305, AES-128-CCM (16- and 8-byte tags).
 *
 * The backend per algorithm is chosen by measurement (see README, "Crypto backends"): Intel
 * ipsec-mb through one IMB_MGR per worker (its job/burst API), or OpenSSL where that is faster.
 * The burst call is the fast path: it seals or opens many records of different connections and
 * keys at once, which is what the worker's crypto batch hands it (DESIGN.md, step 4).
 *
 * Ownership: keys are caller-owned, fixed-size and hold expanded key material; nothing here
 * allocates per record. An engine is per worker (not thread-safe), created at start-up. */
#ifndef ETLS_CRYPTO_AEAD_H
#define ETLS_CRYPTO_AEAD_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    ETLS_AEAD_AES128GCM = 1,
    ETLS_AEAD_AES256GCM = 2,
    ETLS_AEAD_CHACHA20POLY1305 = 3,
    ETLS_AEAD_AES128CCM = 4,  /* 16-byte tag */
    ETLS_AEAD_AES128CCM8 = 5, /* 8-byte tag */
} etls_aead_alg_t;

#define ETLS_AEAD_NONCE_LEN 12
#define ETLS_AEAD_TAG_MAX 16
#define ETLS_AEAD_KEY_MAX 32
#define ETLS_AEAD_KEY_STORAGE 1024 /* expanded key material; checked against the backend at build */

typedef struct etls_aead_key {
    etls_aead_alg_t alg;
    _Alignas(64) uint8_t opaque[ETLS_AEAD_KEY_STORAGE];
} etls_aead_key_t;

typedef struct etls_aead_engine etls_aead_engine_t;

/* One per worker. Returns NULL (and logs why) when no backend can be initialised. */
etls_aead_engine_t *etls_aead_engine_new(void);
void etls_aead_engine_free(etls_aead_engine_t *e);
/* Which ipsec-mb architecture was chosen ("avx2", "avx512", "sse", ...) and per-algorithm
 * backend, e.g. "aes-gcm:ipsec-mb/avx2 chacha20-poly1305:openssl". */
const char *etls_aead_engine_describe(const etls_aead_engine_t *e);

size_t etls_aead_key_len(etls_aead_alg_t alg);
size_t etls_aead_tag_len(etls_aead_alg_t alg);
const char *etls_aead_name(etls_aead_alg_t alg);

int etls_aead_key_init(etls_aead_engine_t *e, etls_aead_key_t *k, etls_aead_alg_t alg, const uint8_t *key);
void etls_aead_key_wipe(etls_aead_key_t *k);

typedef enum { ETLS_AEAD_SEAL = 0, ETLS_AEAD_OPEN = 1 } etls_aead_dir_t;

/* One record to seal or open. For SEAL, out receives in_len ciphertext bytes followed by the
 * tag (out must have in_len + tag bytes). For OPEN, in is ciphertext||tag (in_len includes the
 * tag) and out receives in_len - tag plaintext bytes; on a bad tag status is ETLS_ERR_AUTH and
 * out is wiped. in and out may be the same buffer (in-place). */
typedef struct etls_aead_op {
    const etls_aead_key_t *key;
    uint8_t nonce[ETLS_AEAD_NONCE_LEN];
    etls_aead_dir_t dir;
    const uint8_t *aad;
    size_t aad_len;
    const uint8_t *in;
    size_t in_len;
    uint8_t *out;
    int status; /* set by the engine */
    void *user; /* caller's cookie, untouched */
} etls_aead_op_t;

/* Runs all n ops (any mix of keys, algorithms and directions); sets each op's status.
 * Returns the number of ops that failed. */
size_t etls_aead_burst(etls_aead_engine_t *e, etls_aead_op_t *ops, size_t n);

/* Single-record conveniences over the same engine. */
int etls_aead_seal(etls_aead_engine_t *e, const etls_aead_key_t *k, const uint8_t nonce[12],
                   const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out);
int etls_aead_open(etls_aead_engine_t *e, const etls_aead_key_t *k, const uint8_t nonce[12],
                   const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out);

#endif
