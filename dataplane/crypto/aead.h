/* AEAD for TLS records: AES-128/256-GCM, ChaCha20-Poly1305, AES-128-CCM (16- and 8-byte tags).
 *
 * The backend per algorithm is chosen by measurement (see README, "Crypto backends"): Intel
 * ipsec-mb through one IMB_MGR per worker (its job API), or OpenSSL EVP where that is faster.
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
/* Largest record payload (plaintext) accepted; TLS needs 2^14 + 256. Larger: ETLS_ERR_INVALID. */
#define ETLS_AEAD_MAX_INPUT 65536
/* Largest AAD accepted (TLS uses 5 bytes in 1.3, 13 in 1.2). ipsec-mb's AES-CCM takes at most
 * 46 bytes of AAD and 65534 of payload, so CCM keys on ipsec-mb also carry OpenSSL contexts that
 * serve the rare records beyond that. */
#define ETLS_AEAD_AAD_MAX 65536

/* Caller-owned. Wipe it (etls_aead_key_wipe) when the connection ends and before initialising
 * it again: it may hold OpenSSL context pointers that wipe frees and init does not. Use a key
 * from one thread at a time (those contexts carry per-record state). `impl` records the
 * backend (and ipsec-mb architecture) the key was expanded for; private. */
typedef struct etls_aead_key {
    etls_aead_alg_t alg;
    uint32_t impl;
    _Alignas(64) uint8_t opaque[ETLS_AEAD_KEY_STORAGE];
} etls_aead_key_t;

typedef struct etls_aead_engine etls_aead_engine_t;

typedef enum {
    ETLS_AEAD_BACKEND_AUTO = 0,    /* the measured-fastest backend per algorithm (default) */
    ETLS_AEAD_BACKEND_IPSECMB = 1, /* ipsec-mb for every algorithm */
    ETLS_AEAD_BACKEND_OPENSSL = 2, /* OpenSSL EVP for every algorithm */
    /* Per record by size: ipsec-mb for short records, OpenSSL from ETLS_AEAD_SPLIT_LEN bytes of
     * payload. What AUTO picks for ChaCha20-Poly1305 (ipsec-mb's is faster on short records,
     * OpenSSL's AVX2 Poly1305 on long ones); reported by etls_aead_engine_backend. */
    ETLS_AEAD_BACKEND_BY_SIZE = 3,
} etls_aead_backend_t;
#define ETLS_AEAD_SPLIT_LEN 1536

/* One per worker. Returns NULL (and logs why) when no backend can be initialised. The backend
 * is AUTO unless the environment variable ETLS_AEAD_BACKEND is "ipsec-mb" or "openssl" (tests
 * and benchmarks use it to cover both). The ipsec-mb architecture follows etls_cpu_features(),
 * so ETLS_CPU_DISABLE=avx2 selects the AVX path and "avx,avx2" the SSE path; without AES-NI
 * (or with "aes" masked) ipsec-mb needs its AES emulation, which Debian's build lacks, so every
 * algorithm then runs on OpenSSL. If ipsec-mb cannot start, OpenSSL serves everything. */
etls_aead_engine_t *etls_aead_engine_new(void);
etls_aead_engine_t *etls_aead_engine_new_backend(etls_aead_backend_t backend);
void etls_aead_engine_free(etls_aead_engine_t *e);
/* Which ipsec-mb architecture was chosen ("avx2", "avx512", "sse", ...) and per-algorithm
 * backend, e.g. "ipsec-mb/avx2 aes-128-gcm:ipsec-mb ... chacha20-poly1305:ipsec-mb<1536B<=openssl
 * ...". The string lives in the engine, valid until etls_aead_engine_free. */
const char *etls_aead_engine_describe(const etls_aead_engine_t *e);
/* Backend the engine uses for keys of `alg` it initialises (IPSECMB, OPENSSL or BY_SIZE). */
etls_aead_backend_t etls_aead_engine_backend(const etls_aead_engine_t *e, etls_aead_alg_t alg);

size_t etls_aead_key_len(etls_aead_alg_t alg);
size_t etls_aead_tag_len(etls_aead_alg_t alg);
const char *etls_aead_name(etls_aead_alg_t alg);

/* Maps a family ("aes-gcm", "chacha20-poly1305", "aes-ccm") and key, nonce and tag sizes in
 * bytes to an algorithm. ETLS_ERR_UNSUPPORTED for combinations outside this API (nonces other
 * than 12 bytes, 192-bit keys, AES-256-CCM, truncated GCM tags, ...), ETLS_ERR_INVALID for an
 * unknown family. */
int etls_aead_lookup(const char *family, size_t key_len, size_t nonce_len, size_t tag_len,
                     etls_aead_alg_t *alg);

/* Expands `key` (etls_aead_key_len(alg) bytes) into k for use with any engine of this process.
 * Allocates (OpenSSL contexts: OpenSSL and BY_SIZE backends, and CCM) only here, never per
 * record. On failure k is left wiped. */
int etls_aead_key_init(etls_aead_engine_t *e, etls_aead_key_t *k, etls_aead_alg_t alg, const uint8_t *key);
/* Frees what key_init allocated and wipes k. Safe on a zeroed or already-wiped key. */
void etls_aead_key_wipe(etls_aead_key_t *k);

typedef enum { ETLS_AEAD_SEAL = 0, ETLS_AEAD_OPEN = 1 } etls_aead_dir_t;

/* One record to seal or open. For SEAL, out receives in_len ciphertext bytes followed by the
 * tag (out must have in_len + tag bytes). For OPEN, in is ciphertext||tag (in_len includes the
 * tag) and out receives in_len - tag plaintext bytes; on a bad tag status is ETLS_ERR_AUTH and
 * out is wiped. in and out may be the same buffer (in-place); any other overlap is
 * ETLS_ERR_INVALID. Bad arguments (NULL key or buffers, lengths over the limits, OPEN shorter
 * than the tag, a key expanded for another ipsec-mb architecture) give ETLS_ERR_INVALID; the
 * tag is compared in constant time (ipsec-mb: etls_ct_memeq; OpenSSL: its CRYPTO_memcmp). The
 * engine only reads the op's inputs until the burst returns; all buffers stay owned by the
 * caller. */
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

/* Single-record conveniences over the same engine; return the op status. */
int etls_aead_seal(etls_aead_engine_t *e, const etls_aead_key_t *k, const uint8_t nonce[12],
                   const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out);
int etls_aead_open(etls_aead_engine_t *e, const etls_aead_key_t *k, const uint8_t nonce[12],
                   const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out);

#endif
