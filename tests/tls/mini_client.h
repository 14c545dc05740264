/* A minimal TLS 1.3 client written for tests: builds ClientHellos byte by byte (so negative
 * tests can break any field), derives keys with our own crypto, reads the server flight and
 * sends records with arbitrary content, fragmentation or corruption. Not for production. */
#ifndef ETLS_TESTS_TLS_MINI_CLIENT_H
#define ETLS_TESTS_TLS_MINI_CLIENT_H

#include "tls/tls.h"

typedef struct ch_opts {
    uint16_t legacy_version; /* 0 = 0x0303 */
    const uint16_t *suites;  /* NULL = {0x1301} */
    size_t n_suites;
    size_t sid_len;          /* legacy_session_id length (0..32; more is malformed) */
    const uint8_t *comp;     /* NULL = {0} */
    size_t comp_len;
    int no_versions, no_groups, no_key_share, no_sigalgs;
    uint16_t version;        /* offered in supported_versions; 0 = 0x0304 */
    const uint16_t *groups;  /* NULL = {x25519} */
    size_t n_groups;
    uint16_t share_group;    /* 0 = x25519 with our real key; X25519MLKEM768: our real
                              * ML-KEM-768 ek || X25519 key (share_len 0) */
    size_t share_len;        /* for a non-x25519 (dummy) share; 0 = 65 */
    const uint8_t *share_key; /* override the X25519 public value (e.g. a low-order point) */
    const uint8_t *share_ek;  /* hybrid: override the 1184-byte ML-KEM encapsulation key */
    const uint16_t *sigalgs; /* NULL = {0x0403, 0x0804, 0x0807} */
    size_t n_sigalgs;
    const char *sni;
    uint16_t rsl;            /* record_size_limit to offer (0 = none) */
    const uint8_t *extra;    /* raw extensions appended (type, len, data ...) */
    size_t extra_len;
    const uint8_t *cookie;   /* cookie extension content (opaque, without its length) */
    size_t cookie_len;
    int dup_groups;          /* send supported_groups twice */
} ch_opts_t;

typedef struct mini {
    uint8_t sk[32], pub[32];
    uint8_t ek[1184], dk[2400]; /* ML-KEM-768 key pair, made on the first hybrid share */
    int have_mlkem;
    uint16_t group;             /* the ServerHello's key_share group */
    uint16_t suite;
    etls_hash_alg_t hash;
    etls_aead_alg_t aead;
    size_t tag;
    etls_hash_ctx_t th;
    etls_tls13_ks_t ks;
    uint8_t c_hs[48], s_hs[48], c_ap[48], s_ap[48];
    etls_aead_key_t wkey, rkey;
    uint8_t wiv[12], riv[12];
    uint64_t wseq, rseq;
    int hrr;                /* the server answered with HelloRetryRequest */
    uint16_t hrr_group;
    uint8_t cookie[256];
    size_t cookie_len;
    uint8_t ch1_hash[48];
    size_t ch1_hash_len;
    uint8_t client_fin[48];
    int ccs_seen;
    uint16_t ee_rsl;        /* record_size_limit in EncryptedExtensions */
    size_t max_rec_plain;   /* largest handshake/app record plaintext seen from the server */
    size_t ku_in;           /* KeyUpdates from the server that mini_open_all applied */
    int ku_in_requested;    /* one of them set update_requested */
    etls_aead_engine_t *eng;
} mini_t;

/* m must be zeroed or previously initialised (its keys are released first). */
void mini_init(mini_t *m, etls_aead_engine_t *eng, uint64_t seed);
void mini_free(mini_t *m);
/* Makes m's ML-KEM-768 key pair (ek, dk) from its X25519 key, once (hybrid shares). */
void mini_hybrid_keys(mini_t *m);
/* ClientHello message (with its 4-byte header) into buf; returns its length. */
size_t mini_build_ch(mini_t *m, const ch_opts_t *o, uint8_t *buf, size_t cap);
/* Wraps data in plaintext records of at most frag bytes (0 = 16384) of the given type. */
size_t mini_records(uint8_t type, const uint8_t *data, size_t len, size_t frag, uint8_t *out);
/* Processes the server's first flight (ServerHello/HRR ...). The ClientHello bytes are needed
 * for the transcript. Returns 0, 1 for HRR, negative on any inconsistency. */
int mini_read_flight(mini_t *m, const uint8_t *ch, size_t ch_len, const uint8_t *in, size_t len);
/* Encrypts content of `type` into one record (client handshake key before mini_switch_app). */
size_t mini_seal(mini_t *m, uint8_t type, const uint8_t *data, size_t len, size_t pad, uint8_t *out);
/* Encrypts inner (len bytes, possibly 0) as the whole TLSInnerPlaintext, no type byte added. */
size_t mini_seal_inner(mini_t *m, const uint8_t *inner, size_t len, uint8_t *out);
/* The client Finished message (header + verify_data). */
size_t mini_finished_msg(const mini_t *m, uint8_t *out);
/* Switches both directions to application traffic keys. */
int mini_switch_app(mini_t *m);
/* Opens server records in `in`, appending application data to app; 0 or negative. Handshake
 * messages (KeyUpdate) are applied. */
int mini_open_all(mini_t *m, const uint8_t *in, size_t len, uint8_t *app, size_t *app_len,
                  int *alert);
/* Updates the client write key (after it sent a KeyUpdate). */
int mini_update_write(mini_t *m);
/* A handshake message: 4-byte header (type, 24-bit length) then body; returns its length. */
size_t mini_hs_msg(uint8_t type, const uint8_t *body, size_t len, uint8_t *out);
/* A client Certificate body (RFC 8446 §4.4.2): certificate_request_context ctx, then one entry
 * (der, entry extensions ext) or none when der is NULL; returns its length. */
size_t mini_cert_body(const uint8_t *ctx, size_t ctx_len, const uint8_t *der, size_t der_len,
                      const uint8_t *ext, size_t ext_len, uint8_t *out);

#endif
