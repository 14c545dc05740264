/* edgetls TLS 1.3 server engine (RFC 8446), sans-I/O.
 *
 * The engine never does I/O, never allocates per record, and never computes expensive crypto
 * inline when a batch is attached: bytes go in, TLS bytes to send and decrypted application
 * data come out in caller-owned buffers, and X25519/P-256/signature/AEAD work is parked in the
 * worker's batch (batch/batch.h). Any transport (io_uring, DPDK, an in-memory pipe in tests and
 * fuzzers, the bench client) drives it the same way.
 *
 * Objects and who owns them
 *   etls_tls_server_ctx_t  shared, read-mostly configuration: suites, groups, ALPN, certificates.
 *                          Built by the config loader (allocates), then read concurrently by
 *                          all workers; must outlive every connection that uses it.
 *   etls_tls_env_t         per worker: RNG, AEAD engine, crypto batch, handshake-state pool.
 *                          Caller-owned.
 *   etls_tls_conn_t        per connection, caller-allocated (sizeof is fixed; pools work;
 *                          _Alignof is 64 because of the AEAD keys: use aligned_alloc),
 *                          etls_tls_conn_init / etls_tls_conn_wipe. Holds protocol state and
 *                          keys, never the I/O buffers.
 *   etls_tls_buf_t         a caller-owned append buffer (base, len, cap): the engine appends at
 *                          base+len and advances len; it never reallocates.
 *
 * Driving a connection (one poll iteration)
 *   rc = etls_tls_feed(c, in, inlen, &used, &out, &app);
 *     consumes whole records from `in` (a trailing partial record is left unconsumed: keep it
 *     and present it again with more bytes appended; so keep room for ETLS_TLS_MAX_RECORD bytes
 *     of unconsumed input), appends records to send to `out` (handshake flight, KeyUpdate,
 *     alerts) and decrypted application data to `app`.
 *   rc = etls_tls_send(c, data, len, &used, &out);   encrypts application data into records.
 *   rc = etls_tls_close(c, &out);                    appends close_notify.
 *   rc = etls_tls_key_update(c, request_peer, &out); appends a KeyUpdate (RFC 8446 §4.6.3).
 *
 * Return codes
 *   0                      progress made (possibly none: need more input / space).
 *   ETLS_ERR_IN_PROGRESS   crypto was parked in env->batch; the connection is "parked". The
 *                          bytes reported consumed are consumed, but the engine still points at
 *                          that input memory and at the free space of `out` / `app` until the
 *                          batch has run: do not reuse them. When the connection's waiter comes
 *                          off the ready list (etls_tls_conn_from_waiter), call etls_tls_feed
 *                          again (with new input or none) with the same `out` and `app` buffers
 *                          whose base and len are unchanged: it completes whatever was parked
 *                          (handshake step, received records, an earlier send's records). Only
 *                          then are the parked send's records part of out->len. While any of its
 *                          requests is queued, every call returns ETLS_ERR_IN_PROGRESS and does
 *                          nothing. (etls_tls_send and the other writers also complete a parked
 *                          send by themselves, so a send-only caller may call send again.)
 *   ETLS_ERR_ALERT(desc)   fatal protocol error. The alert record has already been appended to
 *                          `out` (send it, then close). The connection is dead; later calls
 *                          return the same code.
 *   ETLS_TLS_ERR_PEER_ALERT(desc)  the peer sent a fatal alert; nothing to send; close.
 *   ETLS_ERR_LIMIT         `out` (or `app`) has not enough free space for the next step; make
 *                          room (send / drain) and call again. Not fatal.
 *   ETLS_ERR_INVALID       API misuse (e.g. send before the handshake completed).
 *
 * Space rules: feed needs etls_tls_out_room(c) free bytes in `out` during the handshake (the
 * whole server flight is written at once; else ETLS_ERR_LIMIT before consuming anything) and
 * should have ETLS_TLS_OUT_SMALL afterwards (the NewSessionTicket and an alert that do not fit
 * are dropped; a KeyUpdate answer goes out with the next send, which needs room for it). `app` is required: each record
 * is opened in place in its free space (up to ETLS_TLS_MAX_CIPHERTEXT bytes for the next
 * record), so when `app` is too full feed stops and returns 0 with what it consumed so far. Bytes below out->len
 * and app->len are final whenever a call returns.
 *
 * Session resumption: with ticket keys set, one NewSessionTicket follows the handshake and a
 * ticket comes back as a PSK with (EC)DHE (psk_dhe_ke; RFC 8446 §2.2, §4.6.1). Tickets are
 * self-contained (no server state); see etls_tls_server_ctx_set_ticket_keys.
 *
 * Client certificates: TLS 1.3 only, see "client certificates" below.
 *
 * Not implemented yet: 0-RTT (offered early data is skipped), psk_ke without (EC)DHE,
 * TLS 1.2 client authentication, the client side. */
#ifndef ETLS_TLS_TLS_H
#define ETLS_TLS_TLS_H

#include "batch/batch.h"
#include "common/err.h"
#include "crypto/aead.h"
#include "crypto/hash.h"
#include "crypto/pk.h"
#include "crypto/rand.h"
#include "crypto/tls13_ks.h"

#include <stddef.h>
#include <stdint.h>

/* ---- protocol constants -------------------------------------------------------------------- */

#define ETLS_TLS_VERSION_13 0x0304
#define ETLS_TLS_VERSION_12 0x0303

/* Protocol versions a context serves (etls_tls_server_ctx_set_protocols). */
#define ETLS_TLS_PROTO_12 1
#define ETLS_TLS_PROTO_13 2

/* TLS 1.2 cipher suites (RFC 5289, RFC 7905): ECDHE with an ECDSA or RSA certificate, AEAD only. */
#define ETLS_TLS_ECDHE_ECDSA_AES_128_GCM_SHA256 0xc02b
#define ETLS_TLS_ECDHE_ECDSA_AES_256_GCM_SHA384 0xc02c
#define ETLS_TLS_ECDHE_RSA_AES_128_GCM_SHA256 0xc02f
#define ETLS_TLS_ECDHE_RSA_AES_256_GCM_SHA384 0xc030
#define ETLS_TLS_ECDHE_RSA_CHACHA20_POLY1305_SHA256 0xcca8
#define ETLS_TLS_ECDHE_ECDSA_CHACHA20_POLY1305_SHA256 0xcca9
/* Legacy RSA key exchange (RFC 5288), off unless tls12_rsa_kx is set: no forward secrecy. */
#define ETLS_TLS_RSA_AES_128_GCM_SHA256 0x009c
#define ETLS_TLS_RSA_AES_256_GCM_SHA384 0x009d

/* Cipher suites (RFC 8446 §B.4). */
#define ETLS_TLS_AES_128_GCM_SHA256 0x1301
#define ETLS_TLS_AES_256_GCM_SHA384 0x1302
#define ETLS_TLS_CHACHA20_POLY1305_SHA256 0x1303
#define ETLS_TLS_AES_128_CCM_SHA256 0x1304
#define ETLS_TLS_AES_128_CCM_8_SHA256 0x1305

/* Named groups (RFC 8446 §4.2.7). */
#define ETLS_TLS_GROUP_SECP256R1 0x0017
#define ETLS_TLS_GROUP_X25519 0x001d
/* draft-ietf-tls-ecdhe-mlkem: ML-KEM-768 then X25519, in the shares and in the secret. */
#define ETLS_TLS_GROUP_X25519MLKEM768 0x11ec
#define ETLS_TLS_HYBRID_CLIENT_SHARE_LEN (1184 + 32) /* ML-KEM-768 ek || X25519 public */
#define ETLS_TLS_HYBRID_SERVER_SHARE_LEN (1088 + 32) /* ML-KEM-768 ciphertext || X25519 public */

/* Alert descriptions (RFC 8446 §6, RFC 8449, RFC 7301). */
enum {
    ETLS_ALERT_CLOSE_NOTIFY = 0,
    ETLS_ALERT_UNEXPECTED_MESSAGE = 10,
    ETLS_ALERT_BAD_RECORD_MAC = 20,
    ETLS_ALERT_RECORD_OVERFLOW = 22,
    ETLS_ALERT_HANDSHAKE_FAILURE = 40,
    ETLS_ALERT_BAD_CERTIFICATE = 42,
    ETLS_ALERT_UNSUPPORTED_CERTIFICATE = 43,
    ETLS_ALERT_CERTIFICATE_REVOKED = 44,
    ETLS_ALERT_CERTIFICATE_EXPIRED = 45,
    ETLS_ALERT_ILLEGAL_PARAMETER = 47,
    ETLS_ALERT_UNKNOWN_CA = 48,
    ETLS_ALERT_DECODE_ERROR = 50,
    ETLS_ALERT_DECRYPT_ERROR = 51,
    ETLS_ALERT_PROTOCOL_VERSION = 70,
    ETLS_ALERT_INSUFFICIENT_SECURITY = 71,
    ETLS_ALERT_INTERNAL_ERROR = 80,
    ETLS_ALERT_INAPPROPRIATE_FALLBACK = 86, /* RFC 7507 */
    ETLS_ALERT_USER_CANCELED = 90,
    ETLS_ALERT_NO_RENEGOTIATION = 100, /* RFC 5246 §7.2.2, a warning */
    ETLS_ALERT_MISSING_EXTENSION = 109,
    ETLS_ALERT_UNSUPPORTED_EXTENSION = 110,
    ETLS_ALERT_UNRECOGNIZED_NAME = 112,
    ETLS_ALERT_CERTIFICATE_REQUIRED = 116,
    ETLS_ALERT_NO_APPLICATION_PROTOCOL = 120,
};

/* A fatal alert received from the peer (not to be sent back). Disjoint from ETLS_ERR_ALERT. */
#define ETLS_TLS_ERR_PEER_BASE 0x200
#define ETLS_TLS_ERR_PEER_ALERT(desc) (-(ETLS_TLS_ERR_PEER_BASE + (int)(desc)))
#define ETLS_TLS_ERR_IS_PEER_ALERT(err)                                                           \
    ((err) <= -ETLS_TLS_ERR_PEER_BASE && (err) > -(ETLS_TLS_ERR_PEER_BASE + 256))

/* Record sizes (RFC 8446 §5.1, §5.2). */
#define ETLS_TLS_RECORD_HEADER 5
#define ETLS_TLS_MAX_PLAINTEXT 16384
#define ETLS_TLS_MAX_CIPHERTEXT (16384 + 256)
#define ETLS_TLS_MAX_RECORD (ETLS_TLS_RECORD_HEADER + ETLS_TLS_MAX_CIPHERTEXT)
/* Largest record the engine writes for one application-data record: header + 2^14 + type + tag. */
#define ETLS_TLS_MAX_SEALED (ETLS_TLS_RECORD_HEADER + ETLS_TLS_MAX_PLAINTEXT + 1 + 255 + 16)
/* Free `out` space feed needs after the handshake (alerts, KeyUpdate responses). */
#define ETLS_TLS_OUT_SMALL 256

/* Defaults and bounds for the server context. */
/* Largest handshake message body accepted (a ClientHello; OpenSSL accepts as large ones), and
 * the default of max_hs_msg. Larger: illegal_parameter, what OpenSSL and BoringSSL send for an
 * excessive message size (RFC 8446 names no alert for it; decode_error would claim a malformed
 * message and unexpected_message a wrong type, and the message is neither). */
#define ETLS_TLS_MAX_HS_MSG (128 * 1024)
#define ETLS_TLS_DEFAULT_MAX_HS_MSG ETLS_TLS_MAX_HS_MSG
/* Large reassembly buffers (a handshake message over ETLS_TLS_MAX_PLAINTEXT bytes that spans
 * records) a worker lends at once by default (etls_tls_hs_pool_set_big_max). */
#define ETLS_TLS_DEFAULT_BIG_MAX 16
#define ETLS_TLS_MAX_CERTS 400000 /* 200,000 entries of an ECDSA and an RSA certificate */
#define ETLS_TLS_MAX_NAMES_LEN 4096 /* NUL-separated DNS names of one certificate */
#define ETLS_TLS_MAX_ALPN 16
#define ETLS_TLS_MAX_SUITES 5
#define ETLS_TLS_MAX_SUITES12 8
#define ETLS_TLS_MAX_GROUPS 3
#define ETLS_TLS_MAX_SNI 255
#define ETLS_TLS_MAX_PARKED 16 /* records one feed/send call may park in the AEAD queue */
#define ETLS_TLS_TICKET_KEY_LEN 48 /* 16-byte key name + 32-byte secret */
/* Ticket keys one context holds: the sealing key, then keys that only open (the control plane's
 * pending key, pushed before it becomes active, and the decrypt-only one it replaced). */
#define ETLS_TLS_MAX_TICKET_KEYS 4
/* RFC 8446 §5.5: keys have a usage limit (AES-GCM: 2^24.5 full-size records). The engine sends
 * a KeyUpdate on its own once this many records went out under one key. */
#define ETLS_TLS_KEY_UPDATE_RECORDS (1ull << 23)

/* ---- the shared server context ----------------------------------------------------------- */

/* Client-certificate policy (tls/client_auth.c; declared below). */
typedef struct etls_tls_client_auth etls_tls_client_auth_t;
#define ETLS_TLS_MAX_LISTENERS 16 /* listener indexes a context keeps a client_auth policy for */

/* One certificate: chain + private key + the DNS names it answers for. Contexts hold certificates
 * by reference: a snapshot that changes one entry shares every other certificate with the one
 * before it (refs counts the contexts holding it). */
typedef struct etls_tls_cert {
    etls_cert_chain_t chain; /* leaf first; der[i] point into cert_msg (not separately owned) */
    etls_pkey_t *key;
    uint16_t scheme;   /* the signature scheme of key (etls_pkey_scheme) */
    uint8_t is_default;
    /* Contexts holding it. Not atomic: only the thread that builds and frees contexts touches it
     * (main before the workers start, then the ctl thread); workers never do. */
    uint32_t refs;
    char *tag;         /* the control plane's entry name (malloc'd); NULL from the configuration */
    /* The [cert] section's client_auth policy (wins over the listener's); NULL: the listener's.
     * Not owned (policies live as long as the process's configuration). */
    const etls_tls_client_auth_t *client_auth;
    size_t names_len;  /* bytes of names, including the final empty string */
    char *names;       /* lower-case, NUL-separated, ends with "" (malloc'd) */
    size_t cert_msg_len; /* encoded Certificate handshake body length, precomputed */
    uint8_t *cert_msg;   /* the whole Certificate message (4-byte header, then the body of
                          * cert_msg_len bytes), built once: it is the same for every handshake */
} etls_tls_cert_t;

/* SNI lookup independent of how many certificates are loaded: two open-addressing tables (exact
 * names; wildcards "*.rest" keyed by ".rest") whose slots name a certificate and one of its names.
 * A name claimed by several certificates has several slots, met in the order the certificates were
 * added (linear probing keeps insertion order along a probe run), so selection stays "first added
 * wins" as with a scan. The first default certificate and the first certificate of each scheme are
 * kept apart for the no-match tiers. Built incrementally by _add_cert (tls/sni.c). */
typedef struct etls_tls_sni_slot {
    uint32_t hash;   /* 0: empty */
    uint32_t cert;   /* index into certs */
    uint16_t off;    /* the name's offset in certs[cert]->names */
    uint16_t len;
} etls_tls_sni_slot_t;

typedef struct etls_tls_sni_table {
    etls_tls_sni_slot_t *slots;
    uint32_t mask, used; /* capacity - 1 (a power of two minus one; slots NULL: empty) */
} etls_tls_sni_table_t;

#define ETLS_TLS_SNI_FIRSTS 8
typedef struct etls_tls_sni_index {
    etls_tls_sni_table_t exact, wild;
    uint64_t seed;                        /* keys the hash: names come from certificates only,
                                           * but a random key costs nothing */
    uint32_t defaults[ETLS_TLS_SNI_FIRSTS]; /* the first certificates marked default */
    uint8_t n_defaults;
    uint32_t firsts[ETLS_TLS_SNI_FIRSTS];  /* the first certificate of each scheme, in order */
    uint8_t n_firsts;
} etls_tls_sni_index_t;

/* Fields after etls_tls_server_ctx_init that the loader may set directly: client_order,
 * record_size_limit, pad_to, max_hs_msg, ticket_lifetime, now_ms/now_arg. Everything else goes
 * through the functions below. */
typedef struct etls_tls_server_ctx {
    uint16_t suites[ETLS_TLS_MAX_SUITES]; /* enabled suites, server preference order */
    size_t n_suites;
    uint16_t groups[ETLS_TLS_MAX_GROUPS]; /* enabled groups, preference order */
    size_t n_groups;
    int client_order;                   /* 1: honour the client's suite order instead */
    /* ALPN protocols in preference order, wire form (length byte + name) back to back. */
    uint8_t alpn[ETLS_TLS_MAX_ALPN * 256];
    size_t alpn_len;
    size_t n_alpn;
    etls_tls_cert_t **certs; /* n_certs entries in the order added; allocated by _add_cert */
    size_t n_certs, cap_certs;
    etls_tls_sni_index_t sni; /* exact and wildcard name -> certificate, kept by _add_cert */
    uint16_t record_size_limit;   /* RFC 8449 value we advertise (64..16385; default 16385) */
    uint16_t pad_to;              /* pad application data records to a multiple (0 = off) */
    uint32_t max_hs_msg;          /* bound on one received handshake message body (at most
                                   * ETLS_TLS_MAX_HS_MSG, which also caps larger values) */
    uint8_t cookie_key[32];       /* HMAC key for HelloRetryRequest cookies (per context) */
    /* Session-ticket keys: [0] issues and accepts, the others only accept. */
    uint8_t ticket_keys[ETLS_TLS_MAX_TICKET_KEYS][ETLS_TLS_TICKET_KEY_LEN];
    uint8_t n_ticket_keys;
    /* Rotating keys (etls_tls_server_ctx_set_ticket_seed): when ticket_rotation_s != 0 the two
     * keys are derived from ticket_seed for the current and the previous period at each use,
     * and n_ticket_keys is 2. */
    uint8_t ticket_seed[32];
    uint32_t ticket_rotation_s;
    uint32_t ticket_lifetime;     /* seconds (RFC 8446 §4.6.1: at most 7 days); default 7200 */
    /* Wall clock in milliseconds for ticket ages; tests and fuzzers substitute their own. */
    uint64_t (*now_ms)(void *arg);
    void *now_arg;
    /* Bound on the server flight's bytes (records included, any client record_size_limit),
     * from the certificates: `out` needs this much free space during the handshake. */
    size_t max_flight;
    /* TLS 1.2 (RFC 5246): ETLS_TLS_PROTO_* bits served (default TLS 1.3 only), the TLS 1.2
     * suites in preference order, and tls12_require_ems (the loader may set it): refuse
     * clients without extended_master_secret (RFC 7627) with handshake_failure. */
    uint8_t protocols;
    uint8_t tls12_require_ems;
    /* tls12_rsa_kx (the loader may set it): the RSA key exchange suites (0x009c, 0x009d) may be
     * negotiated; without it they never are, even when listed in suites12. With it and no
     * suites12 list they follow the ECDHE suites in the default order. */
    uint8_t tls12_rsa_kx;
    uint16_t suites12[ETLS_TLS_MAX_SUITES12];
    size_t n_suites12;
    /* Client-certificate policy per listener index (etls_tls_conn_set_listener); NULL: none.
     * Not owned; copied with the settings. */
    const etls_tls_client_auth_t *client_auth[ETLS_TLS_MAX_LISTENERS];
    uint8_t client_auth_any; /* some listener or certificate has a policy (flight room) */
} etls_tls_server_ctx_t;

/* Defaults: suites AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305 (CCM off); groups
 * X25519MLKEM768, X25519, P-256 (the hybrid only when the client sent its share: see
 * hs_server.c select_group); no ALPN; no certificates; record_size_limit 16385; max handshake message 128 KiB. The
 * cookie key is drawn from rng. */
int etls_tls_server_ctx_init(etls_tls_server_ctx_t *ctx, etls_rand_t *rng);
/* Drops its reference to each certificate (freeing those no other context holds) and wipes the
 * cookie and ticket keys. */
void etls_tls_server_ctx_free(etls_tls_server_ctx_t *ctx);

/* Enabled suites in preference order (any of the five above); ETLS_ERR_INVALID for unknown
 * or duplicate ids or n == 0. Same for groups. */
int etls_tls_server_ctx_set_suites(etls_tls_server_ctx_t *ctx, const uint16_t *ids, size_t n);
int etls_tls_server_ctx_set_groups(etls_tls_server_ctx_t *ctx, const uint16_t *ids, size_t n);
/* ETLS_TLS_PROTO_12 and/or ETLS_TLS_PROTO_13 (ETLS_ERR_INVALID for 0 or other bits). A context
 * serves TLS 1.3 only until this enables TLS 1.2. */
int etls_tls_server_ctx_set_protocols(etls_tls_server_ctx_t *ctx, unsigned protocols);
/* TLS 1.2 suites in preference order (the six ETLS_TLS_ECDHE_* above and the two ETLS_TLS_RSA_*,
 * which only count with tls12_rsa_kx; default: ECDSA and RSA with AES-128-GCM, then AES-256-GCM,
 * then ChaCha20-Poly1305). ETLS_ERR_INVALID for unknown or duplicate ids or n == 0. */
int etls_tls_server_ctx_set_suites12(etls_tls_server_ctx_t *ctx, const uint16_t *ids, size_t n);
/* 1 for a TLS 1.2 suite id the engine implements, 0 otherwise. */
int etls_tls_suite_is12(uint16_t id);
/* 1 for the TLS 1.2 RSA key exchange suites (ETLS_TLS_RSA_*), 0 otherwise. */
int etls_tls_suite_is_rsa_kx(uint16_t id);
/* ALPN protocols, preference order (1..255 bytes each, at most ETLS_TLS_MAX_ALPN). With an
 * empty list the server ignores the client's ALPN extension. */
int etls_tls_server_ctx_set_alpn(etls_tls_server_ctx_t *ctx, const char *const *protos, size_t n);

/* Session-ticket keys (ETLS_TLS_TICKET_KEY_LEN bytes each: a public 16-byte name, then a 32-byte
 * secret), normally rotated by the control plane: `current` seals new tickets and opens them;
 * `previous` (may be NULL) only opens them, so tickets survive one rotation. current == NULL
 * disables tickets. Tickets are sealed with keys derived from the secret (HKDF-SHA-256 stream,
 * HMAC-SHA-256 tag: encrypt-then-MAC), which keeps the shared context free of per-worker
 * cipher state. Copies the bytes. */
int etls_tls_server_ctx_set_ticket_keys(etls_tls_server_ctx_t *ctx, const uint8_t *current,
                                        const uint8_t *previous);
/* The same with a whole key set from the control plane: keys[0] seals and opens, keys[1..n-1]
 * only open (n <= ETLS_TLS_MAX_TICKET_KEYS; n == 0 disables tickets). lifetime_s is the
 * advertised ticket lifetime (1..604800). Copies the bytes. */
int etls_tls_server_ctx_set_ticket_key_set(etls_tls_server_ctx_t *ctx,
                                           const uint8_t (*keys)[ETLS_TLS_TICKET_KEY_LEN], size_t n,
                                           uint32_t lifetime_s);

/* Rotating session-ticket keys without any shared state: the key of period
 * e = floor(unix_time / rotation_s) is HKDF-Expand(seed, "etls ticket key" || e, 48); the
 * current period's key seals, it and the previous period's open. Every worker, process and
 * host given the same seed agrees on the keys, and a ticket stays valid for at least one
 * period (the advertised lifetime, ticket_lifetime, is set to rotation_s). rotation_s from 60
 * to 604800 (RFC 8446 §4.6.1's seven days). Copies the seed. */
int etls_tls_server_ctx_set_ticket_seed(etls_tls_server_ctx_t *ctx, const uint8_t seed[32],
                                        uint32_t rotation_s);

/* Adds a certificate; the context takes ownership of *chain's contents (chain is reset to
 * empty) and of key, also on failure. Names come from the leaf (etls_cert_leaf_dns_names).
 * is_default: served when SNI is absent or matches nothing (the first certificate added is
 * the default when none is marked). Checks that key matches the leaf and has a scheme.
 * Returns 0 or a negative code with a one-line reason in err. */
int etls_tls_server_ctx_add_cert(etls_tls_server_ctx_t *ctx, etls_cert_chain_t *chain,
                                 etls_pkey_t *key, int is_default, char *err, size_t errlen);
/* Same with explicit names ("a.example\0*.b.example\0\0" form; NULL = from the leaf). */
int etls_tls_server_ctx_add_cert_names(etls_tls_server_ctx_t *ctx, etls_cert_chain_t *chain,
                                       etls_pkey_t *key, const char *names, int is_default,
                                       char *err, size_t errlen);

/* Same, tagged with the control plane's entry name (copied; NULL none). */
int etls_tls_server_ctx_add_cert_tagged(etls_tls_server_ctx_t *ctx, etls_cert_chain_t *chain,
                                        etls_pkey_t *key, const char *names, int is_default,
                                        const char *tag, char *err, size_t errlen);
/* Adds a certificate another context holds (a snapshot sharing an unchanged entry): one more
 * reference, no copy, no parsing. */
int etls_tls_server_ctx_add_shared(etls_tls_server_ctx_t *ctx, etls_tls_cert_t *cert);
/* dst (settings only, no certificates yet) shares every certificate of src, in its order, with
 * src's SNI index copied, and room for `extra` more: the base of a snapshot that changes a few
 * entries of another, at a cost of copies (no parsing, no indexing). */
int etls_tls_server_ctx_share_all(etls_tls_server_ctx_t *dst, const etls_tls_server_ctx_t *src, size_t extra);
/* certs[idx] becomes cert (shared: one more reference; the old one loses one), its names
 * indexed in place of the old ones, keeping its position (and so "first added wins"). */
int etls_tls_server_ctx_replace_shared(etls_tls_server_ctx_t *ctx, size_t idx, etls_tls_cert_t *cert);
/* Room for n certificates and their names without growing (a hint; 0 or ETLS_ERR_NOMEM). */
int etls_tls_server_ctx_reserve(etls_tls_server_ctx_t *ctx, size_t n_certs, size_t n_names);
/* dst = src's settings (suites, groups, ALPN, limits, cookie and ticket keys) with no
 * certificates: the base of a snapshot. */
void etls_tls_server_ctx_copy_settings(etls_tls_server_ctx_t *dst, const etls_tls_server_ctx_t *src);

/* The certificate SNI selection would pick for `name` (NULL = no SNI) among certificates whose
 * scheme is allowed by `schemes` (NULL = any): exact name, then wildcard "*.rest" matching one
 * label, then the default. NULL when none fits. Exposed for tests and the control plane. */
const etls_tls_cert_t *etls_tls_server_ctx_select_cert(const etls_tls_server_ctx_t *ctx,
                                                       const char *name, size_t name_len,
                                                       const uint16_t *schemes, size_t n_schemes);

/* ---- per worker -------------------------------------------------------------------------- */

/* Handshake states are large (sizeof(etls_tls_hs_t), ~1.7 KiB) and needed only while a
 * handshake runs, so connections borrow them from a per-worker pool: n are allocated up front;
 * beyond that the engine mallocs extra ones (freed when returned), so a full pool slows
 * nothing down but memory. Not thread-safe: one per worker. */
typedef struct etls_tls_hs_pool etls_tls_hs_pool_t;
etls_tls_hs_pool_t *etls_tls_hs_pool_new(size_t n);
void etls_tls_hs_pool_free(etls_tls_hs_pool_t *p); /* every state must have been returned */
size_t etls_tls_hs_pool_in_use(const etls_tls_hs_pool_t *p);
/* A handshake message that spans records is reassembled in a buffer of its size, allocated
 * when its second fragment is needed and freed as soon as the message is handled (a ClientHello
 * in one record, the usual case, is parsed in place: no buffer). One over ETLS_TLS_MAX_PLAINTEXT
 * bytes (up to max_hs_msg) is "large": at most big_max of those are out per worker at once
 * (default ETLS_TLS_DEFAULT_BIG_MAX), so half-sent large hellos hold at most big_max *
 * ETLS_TLS_MAX_HS_MSG bytes; beyond it the connection gets internal_error (RFC 8446 §6.2: a
 * resource problem, not the peer's error) and big_refused counts it. Smaller ones cost no
 * more than the connection's own receive buffer and are not capped. Without a pool (env->hs_pool
 * NULL) nothing is capped. */
void etls_tls_hs_pool_set_big_max(etls_tls_hs_pool_t *p, size_t n);
size_t etls_tls_hs_pool_big_out(const etls_tls_hs_pool_t *p);      /* large buffers lent now */
uint64_t etls_tls_hs_pool_big_refused(const etls_tls_hs_pool_t *p); /* connections refused */

typedef struct etls_tls_env {
    etls_rand_t *rng;         /* server randoms, ephemeral keys */
    etls_aead_engine_t *aead; /* record protection */
    etls_batch_t *batch;      /* NULL: all crypto inline (never ETLS_ERR_IN_PROGRESS) */
    etls_tls_hs_pool_t *hs_pool; /* NULL: each handshake mallocs its state */
} etls_tls_env_t;

/* ---- per connection ---------------------------------------------------------------------- */

typedef struct etls_tls_buf {
    uint8_t *base;
    size_t len; /* bytes in use; the engine appends at base + len */
    size_t cap;
} etls_tls_buf_t;

/* Everything below is private to the engine; use the functions. The layout may change; the
 * size is what a pool needs (sizeof(etls_tls_conn_t)). */
typedef struct etls_tls_dir {
    etls_aead_key_t key;
    uint8_t iv[ETLS_AEAD_NONCE_LEN];
    uint8_t active;                   /* records in this direction are protected */
    uint8_t secret[ETLS_HASH_MAX_LEN]; /* current traffic secret (KeyUpdate) */
    uint64_t seq;
} etls_tls_dir_t;

typedef struct etls_tls_park {
    uint32_t off; /* where the record's plaintext lands, after the app buffer's len */
    uint32_t len; /* ciphertext length incl. tag */
    int status;   /* written by the batch */
} etls_tls_park_t;

/* The handshake writer: records of the server flight being built in `out`'s free space. */
typedef struct etls_tls_hsw {
    size_t pos;       /* bytes staged after out->len */
    size_t rec_start; /* offset of the open record's header, or SIZE_MAX */
    size_t rec_len;   /* plaintext bytes in the open record */
    uint8_t protect;  /* 1: records are sealed with the write key */
} etls_tls_hsw_t;

typedef struct etls_tls_hs {
    etls_hash_ctx_t transcript;
    etls_tls13_ks_t ks;
    uint8_t client_fin_key[ETLS_HASH_MAX_LEN]; /* finished_keys of the handshake traffic */
    uint8_t server_fin_key[ETLS_HASH_MAX_LEN]; /* secrets, derived with their traffic keys */
    uint8_t client_ap[ETLS_HASH_MAX_LEN]; /* installed once the client's Finished verifies */
    uint8_t expect_fin[ETLS_HASH_MAX_LEN]; /* the client Finished verify_data we expect */
    uint8_t session_id[32];
    uint8_t session_id_len;
    uint8_t hrr_sent;
    uint8_t send_ccs;
    uint8_t sni_used;
    uint8_t early_data;       /* client offered 0-RTT: skip undecryptable records */
    uint8_t psk_ok;           /* resuming: a ticket's PSK with a valid binder */
    uint8_t psk[ETLS_HASH_MAX_LEN];
    uint32_t early_skip;      /* bytes of rejected early data skipped so far */
    uint16_t peer_limit;      /* client's record_size_limit, 0 if absent */
    uint16_t peer_share_len;
    uint8_t peer_share[ETLS_P256_POINT_LEN]; /* X25519MLKEM768: its X25519 part only */
    uint8_t my_share[ETLS_TLS_HYBRID_SERVER_SHARE_LEN]; /* ML-KEM ciphertext first (hybrid) */
    uint8_t my_sk[32];
    uint8_t shared[64]; /* (EC)DH result; X25519MLKEM768: ML-KEM secret || X25519 secret;
                         * TLS 1.2 RSA: the 48-byte premaster secret */
    int kx_status[2];
    int sign_status;
    size_t sig_len;
    uint8_t sig[ETLS_SIG_MAX_LEN]; /* TLS 1.2 RSA: the EncryptedPreMasterSecret, decrypted in place */
    uint8_t cv_msg[64 + 34 + ETLS_HASH_MAX_LEN];
    etls_tls_hsw_t w;
    uint8_t *out_buf;     /* out base and len while the signature is parked (checked) */
    size_t out_len;
    uint8_t *big;         /* reassembly buffer of a message spanning records (hs_pool.c) */
    uint8_t big_counted;  /* big is a large one, counted in the pool's big_out */
    struct {              /* TLS 1.2 only (tls12_*.c) */
        uint8_t client_random[32], server_random[32];
        uint8_t master[48];   /* master secret (wiped with the state) */
        uint8_t ems;          /* extended_master_secret negotiated (RFC 7627) */
        uint8_t ticket;       /* the client sent session_ticket and tickets are on: send one */
        uint8_t phase;        /* ST_KEY_EXCHANGE: 0 our key pair, 1 the ClientKeyExchange ECDH
                               * or RSA decryption */
        uint8_t params_len;   /* ServerECDHParams bytes at cv_msg + 64 */
        uint8_t rsa_kx;       /* the suite uses the RSA key exchange (no ServerKeyExchange) */
        uint8_t pms_len;      /* premaster secret bytes in shared (32, or 48 for RSA) */
        uint16_t client_version; /* ClientHello.client_version, checked in the RSA premaster */
        uint8_t point_formats;   /* the client sent ec_point_formats (answered only then) */
    } t12;
    /* Client authentication (client_auth.c): the policy whose CertificateRequest we sent (NULL:
     * none sent), and the client leaf's public key between its Certificate and CertificateVerify
     * (freed with the state). */
    const etls_tls_client_auth_t *ca;
    etls_pkey_t *peer_key;
} etls_tls_hs_t;

/* The client's identity from its certificate (client_auth.c), kept for the connection's life and
 * inside session tickets. */
#define ETLS_TLS_CLIENT_CN_MAX 128 /* UTF-8 bytes of the subject CN kept (longer: no CN) */
#define ETLS_TLS_PEER_VERIFIED 1   /* a client certificate chain and CertificateVerify verified
                                    * (on this connection or the session it resumes) */
#define ETLS_TLS_PEER_CERT_CONN 2  /* ... presented on this connection (not from a ticket) */
typedef struct etls_tls_peer_id {
    uint8_t flags;
    uint8_t cn_len;                     /* 0: no CN (absent or longer than the maximum) */
    char cn[ETLS_TLS_CLIENT_CN_MAX + 1]; /* NUL-terminated */
    uint8_t fp[32];                     /* SHA-256 of the leaf certificate's DER */
} etls_tls_peer_id_t;

typedef struct etls_tls_conn {
    const etls_tls_server_ctx_t *ctx;
    etls_tls_env_t *env;
    etls_batch_waiter_t waiter;
    uint8_t state;
    uint8_t peer_closed;
    uint8_t close_sent;
    uint8_t resumed;          /* the handshake uses a session ticket (set once its PSK and
                               * binder are accepted, so a failure after that knows it too) */
    uint8_t hrr;              /* a HelloRetryRequest was sent (the handshake's kind, for stats) */
    uint8_t ku_owed;          /* KeyUpdate response owed to the peer (sent when out has room) */
    uint8_t rd_changed;       /* the read key changed while completing parked records */
    int err;                  /* sticky fatal error, 0 while healthy */
    int alert_sent;           /* alert description we sent, -1 none */
    int peer_alert;           /* fatal alert received, -1 none */
    uint16_t suite;
    uint16_t version;         /* negotiated: ETLS_TLS_VERSION_13 / _12, 0 before */
    uint16_t group;
    uint16_t sig_scheme;
    uint16_t send_max;        /* plaintext bytes per record we send */
    uint16_t recv_max;        /* inner plaintext bytes per record we accept */
    int16_t alpn;             /* offset of the selected protocol in ctx->alpn, -1 none */
    etls_hash_alg_t hash;
    etls_aead_alg_t aead;
    uint8_t tag_len;
    uint8_t sni_len;
    char sni[ETLS_TLS_MAX_SNI + 1];
    const etls_tls_cert_t *cert;
    etls_tls_dir_t rd, wr;
    /* handshake message reassembly across records */
    uint8_t msg_hdr[4];
    uint8_t msg_hdr_len;
    uint32_t msg_have;
    uint8_t msg_small[8];
    /* records parked in the AEAD queue by the last feed (opens) */
    uint8_t n_open;
    const uint8_t *open_in;   /* first parked record (consecutive records follow) */
    uint8_t *open_buf;        /* app buffer base and len when parking (checked on resume) */
    size_t open_base;
    etls_tls_park_t open[ETLS_TLS_MAX_PARKED];
    /* records parked by the last send (seals), staged in out's free space */
    uint8_t n_seal;
    uint8_t *seal_buf;        /* out buffer base and len when parking (checked on resume) */
    size_t seal_base;
    size_t seal_bytes;
    int seal_status[ETLS_TLS_MAX_PARKED];
    etls_tls_hs_t *hs;        /* handshake-only state, borrowed from env->hs_pool (or malloc)
                               * from the first record until the handshake ends */
    uint8_t listener;         /* index into ctx->client_auth (etls_tls_conn_set_listener) */
    etls_tls_peer_id_t peer;  /* the client's certificate identity (flags 0: none) */
} etls_tls_conn_t;

/* Prepares c for a new server-side connection. ctx and env must outlive c. Returns 0. */
int etls_tls_conn_init(etls_tls_conn_t *c, const etls_tls_server_ctx_t *ctx, etls_tls_env_t *env);
/* Cancels parked crypto, frees the reassembly buffer if any, wipes every secret. */
void etls_tls_conn_wipe(etls_tls_conn_t *c);
/* The connection whose waiter came off etls_batch_pop_ready (or the batch callback). */
etls_tls_conn_t *etls_tls_conn_from_waiter(etls_batch_waiter_t *w);

/* Parking contract for transports (feed, send, close, key_update).
 * - When a call returns ETLS_ERR_IN_PROGRESS its crypto sits in the batch. Records a send or
 *   close sealed are staged in the free space of `out`; records a feed is opening decrypt into
 *   `app`. Until the connection has come off the ready list (etls_batch_pop_ready or the batch
 *   callback) and the results have been published, the caller must not move, compact or reuse
 *   `out`/`app` beyond their current len: the engine records each buffer's base and len when it
 *   parks and returns ETLS_ERR_INVALID if they changed.
 * - A parked feed is resumed by calling feed again with the same out/app (and the unconsumed
 *   input). Parked seals are published by the NEXT writer call on the same unmoved `out`: a
 *   send (len 0 with data NULL is fine), close or key_update.
 * - A KeyUpdate owed to the peer (it set update_requested, §4.6.3) or to the §5.5 record limit
 *   is written only by a send with data (or key_update), right before that data: however many
 *   requests arrived, in however many records or feeds, one KeyUpdate answers them all. A
 *   connection that never sends again never needs to answer.
 * - etls_tls_parked(c) is true while crypto for c is outstanding; writer calls return
 *   ETLS_ERR_IN_PROGRESS until then. */
int etls_tls_feed(etls_tls_conn_t *c, const uint8_t *in, size_t inlen, size_t *consumed,
                  etls_tls_buf_t *out, etls_tls_buf_t *app);
/* Encrypts up to len bytes of application data into whole records (at most ETLS_TLS_MAX_PARKED
 * records per call, and only as many as fit in out); *consumed says how many bytes were taken.
 * Only after the handshake is done (ETLS_ERR_INVALID before, or after close). */
int etls_tls_send(etls_tls_conn_t *c, const uint8_t *data, size_t len, size_t *consumed,
                  etls_tls_buf_t *out);
/* Appends close_notify (RFC 8446 §6.1); afterwards send fails. Idempotent. */
int etls_tls_close(etls_tls_conn_t *c, etls_tls_buf_t *out);
/* Appends a KeyUpdate and switches the sending key; request_peer sets update_requested. */
int etls_tls_key_update(etls_tls_conn_t *c, int request_peer, etls_tls_buf_t *out);

/* Free `out` space feed needs right now (the server flight during the handshake). */
size_t etls_tls_out_room(const etls_tls_conn_t *c);
/* Bytes of `out` one send call needs at most for len bytes of data. */
size_t etls_tls_send_room(const etls_tls_conn_t *c, size_t len);

/* ---- state queries (for the transport, logs and PROXY v2 TLVs) --------------------------- */

int etls_tls_handshake_done(const etls_tls_conn_t *c);
int etls_tls_resumed(const etls_tls_conn_t *c);     /* the handshake resumed a session */
int etls_tls_parked(const etls_tls_conn_t *c);
int etls_tls_peer_closed(const etls_tls_conn_t *c); /* close_notify received */
int etls_tls_close_sent(const etls_tls_conn_t *c);
int etls_tls_alert_sent(const etls_tls_conn_t *c);  /* description, or -1 */
int etls_tls_peer_alert(const etls_tls_conn_t *c);  /* description, or -1 */
int etls_tls_hrr(const etls_tls_conn_t *c);         /* a HelloRetryRequest was sent */
/* RFC 8446 §6 (and RFC 5246 §7.2 for the descriptions only TLS 1.2 peers send) name of an alert
 * description ("handshake_failure"), NULL for a value no RFC names. */
const char *etls_tls_alert_name(int desc);
uint16_t etls_tls_version(const etls_tls_conn_t *c); /* 0x0304 or 0x0303 once negotiated, else 0 */
uint16_t etls_tls_cipher(const etls_tls_conn_t *c);  /* suite id, 0 before ServerHello */
const char *etls_tls_cipher_name(uint16_t suite);     /* IANA name, "unknown" otherwise */
/* A suite's AEAD and hash (ETLS_ERR_UNSUPPORTED for an unknown id); for clients and tools. */
int etls_tls_suite_params(uint16_t suite, etls_aead_alg_t *aead, etls_hash_alg_t *hash);
uint16_t etls_tls_group(const etls_tls_conn_t *c);
uint16_t etls_tls_sig_scheme(const etls_tls_conn_t *c);
/* Negotiated ALPN protocol (not NUL-terminated; points into the context), NULL if none. */
const uint8_t *etls_tls_alpn(const etls_tls_conn_t *c, size_t *len);
/* Server name the client sent (lower-cased, NUL-terminated), NULL if none. */
const char *etls_tls_sni(const etls_tls_conn_t *c);

/* ---- client certificates (RFC 8446 §4.3.2, §4.4.2, §4.4.3; tls/client_auth.c) -------------
 * A policy says whether a CertificateRequest goes out (optional, required) and what the client's
 * chain must verify to: trust anchors (client_ca), an optional CRL file, the largest number of
 * intermediate certificates (depth). Chains are verified with OpenSSL's X509 verifier, purpose
 * sslclient (validity, basicConstraints and path length, extendedKeyUsage clientAuth, the CRL for
 * every certificate when one is given), inline once per handshake (public data, variable time);
 * the client's CertificateVerify is checked inline with the schemes the request offered.
 * Only TLS 1.3 requests certificates; with `required` a TLS 1.2 ClientHello is refused
 * (protocol_version), with `optional` TLS 1.2 proceeds without a client identity.
 * Resumption: a ticket carries the identity and the policy's tag; under a policy, a ticket of
 * another policy (or, when required, one without identity) means a full handshake. */
#define ETLS_TLS_CLIENT_AUTH_OFF 0
#define ETLS_TLS_CLIENT_AUTH_OPTIONAL 1
#define ETLS_TLS_CLIENT_AUTH_REQUIRED 2
#define ETLS_TLS_CLIENT_DEPTH_MAX 16       /* client_verify_depth bound; default 4 */
#define ETLS_TLS_CLIENT_CHAIN_MAX 10       /* certificates one client Certificate may carry */
#define ETLS_TLS_CLIENT_CERT_MSG_MAX 65536 /* bytes of a client Certificate message */
#define ETLS_TLS_CA_NAMES_MAX 8192         /* certificate_authorities bytes in a request */
/* A policy from PEM text: ca_pem (one or more CERTIFICATE blocks), crl_pem (NULL: no CRL; else
 * one or more X509 CRL blocks), mode OPTIONAL or REQUIRED, depth 0..ETLS_TLS_CLIENT_DEPTH_MAX.
 * Returns 0 or a negative code with a one-line reason in err ("no certificate in the CA file",
 * ...). The caller owns *out (etls_tls_client_auth_free) and keeps it alive as long as any
 * context refers to it. */
int etls_tls_client_auth_new_pem(etls_tls_client_auth_t **out, int mode, const char *ca_pem,
                                 size_t ca_len, const char *crl_pem, size_t crl_len, int depth,
                                 char *err, size_t errlen);
/* The same from files (crl_file NULL or "": none); messages start with the file name. */
int etls_tls_client_auth_new_file(etls_tls_client_auth_t **out, int mode, const char *ca_file,
                                  const char *crl_file, int depth, char *err, size_t errlen);
void etls_tls_client_auth_free(etls_tls_client_auth_t *a); /* NULL is fine */
/* A policy that requests nothing: a [cert]'s `client_auth off` over its listener's setting. */
const etls_tls_client_auth_t *etls_tls_client_auth_off(void);
int etls_tls_client_auth_mode(const etls_tls_client_auth_t *a);
/* The policy of listener index l (< ETLS_TLS_MAX_LISTENERS; NULL: none). */
int etls_tls_server_ctx_set_client_auth(etls_tls_server_ctx_t *ctx, unsigned l,
                                        const etls_tls_client_auth_t *a);
/* certs[idx]'s own policy (a [cert] section's setting; NULL: the listener's). */
int etls_tls_server_ctx_set_cert_client_auth(etls_tls_server_ctx_t *ctx, size_t idx,
                                             const etls_tls_client_auth_t *a);
/* Which listener a connection came in on (after etls_tls_conn_init, before the first feed). */
void etls_tls_conn_set_listener(etls_tls_conn_t *c, unsigned l);
/* The verified client identity once the handshake is done (also after resumption, from the
 * ticket), NULL when the client sent no certificate (or none was requested). */
const etls_tls_peer_id_t *etls_tls_peer_id(const etls_tls_conn_t *c);

#endif
