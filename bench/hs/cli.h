/* The bench's own TLS 1.3 client (RFC 8446), and with cfg->tls12 a TLS 1.2 client (RFC 5246,
 * cli12.c), sans-I/O and built for speed rather than breadth.
 *
 * TLS 1.3: full handshakes, or PSK-DHE resumption with a ticket from an earlier connection
 * (etls_cli_tickets); one key share (X25519 or P-256) in the ClientHello, no 0-RTT, no
 * HelloRetryRequest (the server must accept the offered group), no client certificates.
 * TLS 1.2: ECDHE-ECDSA/ECDHE-RSA with AES-GCM or ChaCha20-Poly1305, one group offered, always
 * extended_master_secret (RFC 7627) and renegotiation_info (RFC 5746), RFC 5077 ticket
 * resumption (the ticket's master secret kept in etls_cli_ticket_t.psk); no renegotiation, no
 * session-ID cache, no CBC suites. The same interface: ETLS_CLI_NEED_KX after
 * ServerHelloDone with the ServerKeyExchange's point as the peer share. Server authentication is optional: by default the Certificate and CertificateVerify
 * are parsed (every length checked) but not verified; with a verifier (cfg->verify) the chain
 * and host name are checked against a CA store and the CertificateVerify signature is verified.
 * Every server message is parsed with bounds; any inconsistency ends the connection with the
 * alert RFC 8446 asks for (ETLS_ERR_ALERT(desc), the alert record appended to `out`).
 *
 * Driving one connection
 *   etls_cli_init(c, cfg, engine, share, sni)   caller-owned conn; share may be reused across
 *                                               connections (--reuse-keyshare)
 *   etls_cli_hello(c, out)                      ClientHello record
 *   rc = etls_cli_feed(c, in, len, &used, out, app)
 *      ETLS_CLI_NEED_KX  ServerHello accepted: compute the (EC)DHE secret of share->sk and
 *                        etls_cli_kx_peer(c) (the bench batches X25519 across connections),
 *                        hand it to etls_cli_kx_done, then feed the remaining input again.
 *      0                 progress; etls_cli_connected(c) turns 1 once the server's Finished
 *                        verified (the client Finished is then in `out`).
 *      < 0               fatal (ETLS_ERR_ALERT(desc) we send, ETLS_TLS_ERR_PEER_ALERT(desc) the
 *                        server sent, ETLS_ERR_LIMIT when `app` or `out` lack room: not fatal).
 *   etls_cli_send / etls_cli_close               application data, close_notify.
 * Records are decrypted in place in `in` (the bytes are consumed anyway). Application data is
 * appended to app (app == NULL: counted in c->app_bytes and dropped).
 *
 * Ownership: cfg and share are read-only and shared by all connections of a thread (share:
 * of the whole run); the connection owns its keys and wipes them in etls_cli_wipe. The
 * handshake reassembly buffer is inside the connection (ETLS_CLI_HS_MAX bytes, the bound on one
 * server handshake message, ~48 KiB in all). No allocation except inside OpenSSL in verify mode. */
#ifndef ETLS_BENCH_HS_CLI_H
#define ETLS_BENCH_HS_CLI_H

#include "common/err.h"
#include "crypto/aead.h"
#include "crypto/hash.h"
#include "crypto/pk.h"
#include "crypto/tls13_ks.h"
#include "tls/tls.h" /* protocol constants and etls_tls_buf_t; of the engine only the TLS 1.2 PRF is linked */

#include <stddef.h>
#include <stdint.h>

#define ETLS_CLI_NEED_KX 1
#define ETLS_CLI_HS_MAX 32768 /* largest server handshake message accepted */
#define ETLS_CLI_MAX_SUITES 8
#define ETLS_CLI_ALPN_MAX 256

typedef struct etls_cli_cfg {
    uint16_t suites[ETLS_CLI_MAX_SUITES]; /* offered, in order */
    size_t n_suites;
    uint16_t group; /* ETLS_TLS_GROUP_X25519 or ETLS_TLS_GROUP_SECP256R1 */
    uint8_t tls12;  /* offer TLS 1.2 only (suites must be TLS 1.2 suites) */
    uint8_t alpn[ETLS_CLI_ALPN_MAX]; /* wire form: len-prefixed names; empty = no ALPN */
    size_t alpn_len;
    /* Server authentication (NULL = skip). Called with the DER chain (leaf first) and the SNI;
     * returns 0 and a verify-only leaf key, or a negative code. Owned by the caller. */
    int (*verify_chain)(void *arg, const uint8_t *const *der, const size_t *der_len, size_t n,
                        const char *host, etls_pkey_t **leaf);
    void *verify_arg;
} etls_cli_cfg_t;

typedef struct etls_cli_share {
    uint16_t group;
    uint8_t sk[32];                   /* X25519 scalar */
    etls_p256_key_t p256;             /* P-256 scalar */
    uint8_t pub[ETLS_P256_POINT_LEN]; /* 32 bytes (X25519) or 65 (P-256) */
    size_t pub_len;
} etls_cli_share_t;

/* Fresh key share for group from rng-provided bytes (X25519) or OpenSSL (P-256). */
int etls_cli_share_new(etls_cli_share_t *s, uint16_t group, const uint8_t random[32]);
void etls_cli_share_wipe(etls_cli_share_t *s);

/* A session ticket (§4.6.1) kept for resumption: the PSK derived from the resumption master
 * secret and the ticket's nonce, the opaque identity, and what the obfuscated age needs.
 * TLS 1.2 (RFC 5077): psk is the session's 48-byte master secret, age_add unused. */
#define ETLS_CLI_TICKET_MAX 1024
typedef struct etls_cli_ticket {
    uint16_t suite;
    uint8_t psk_len;
    uint8_t psk[ETLS_HASH_MAX_LEN];
    uint32_t age_add, lifetime_s;
    uint64_t received_ms;
    uint16_t id_len;
    uint8_t id[ETLS_CLI_TICKET_MAX];
} etls_cli_ticket_t;

typedef struct etls_cli_dir {
    etls_aead_key_t key;
    uint8_t iv[ETLS_AEAD_NONCE_LEN];
    uint8_t secret[ETLS_HASH_MAX_LEN];
    uint64_t seq;
    uint8_t active;
} etls_cli_dir_t;

typedef struct etls_cli_conn {
    const etls_cli_cfg_t *cfg;
    etls_aead_engine_t *eng;
    const etls_cli_share_t *share;
    uint8_t state;
    uint8_t peer_closed;
    uint8_t close_sent;
    int err;        /* sticky fatal error */
    int peer_alert; /* description received, -1 none */
    uint16_t suite;
    etls_hash_alg_t hash;
    etls_aead_alg_t aead;
    uint8_t tag_len;
    uint8_t alpn_len; /* selected protocol (0 = none) */
    char alpn[256];
    char sni[256];
    uint64_t app_bytes; /* application data received */
    etls_hash_ctx_t th;
    etls_tls13_ks_t ks;
    uint8_t c_hs[ETLS_HASH_MAX_LEN], s_hs[ETLS_HASH_MAX_LEN];
    uint8_t peer_share[ETLS_P256_POINT_LEN];
    uint8_t peer_share_len;
    etls_pkey_t *leaf; /* verify mode: the server's key until CertificateVerify */
    /* Resumption: offer (a ticket offered in the ClientHello, read-only), resumed (the server
     * accepted it), ticket_out (where the first NewSessionTicket goes; NULL = dropped). */
    const etls_cli_ticket_t *offer;
    uint64_t offer_now_ms;
    uint8_t resumed;
    uint8_t got_ticket;
    etls_cli_ticket_t *ticket_out;
    uint8_t res_secret[ETLS_HASH_MAX_LEN]; /* resumption master secret, with ticket_out */
    etls_cli_dir_t rd, wr;
    /* TLS 1.2: randoms, master secret, what the ServerHello said, our session ID (offered
     * with a ticket: echoed when the server resumes, RFC 5077 §3.4) */
    uint8_t c_random[32], s_random[32], master[48];
    uint8_t ems, ticket_ext, sid_len, explicit_nonce;
    uint8_t sid[32];
    uint16_t ch_len;    /* our ClientHello, kept until the hash is known (ServerHello) */
    uint8_t ch[2048];
    size_t hs_len;      /* bytes of handshake data waiting in hs */
    /* a partial message (< 4 + ETLS_CLI_HS_MAX bytes) plus one record's plaintext */
    uint8_t hs[4 + ETLS_CLI_HS_MAX + ETLS_TLS_MAX_CIPHERTEXT];
} etls_cli_conn_t;

/* sni may be NULL or "" (no server_name extension); an IP literal is not sent as SNI (RFC 6066)
 * but is what verification checks. Always 0. */
int etls_cli_init(etls_cli_conn_t *c, const etls_cli_cfg_t *cfg, etls_aead_engine_t *eng,
                  const etls_cli_share_t *share, const char *sni);
void etls_cli_wipe(etls_cli_conn_t *c);
/* Before etls_cli_hello: offer ticket t for PSK-DHE resumption (psk_dhe_ke, §4.2.9-11;
 * t must stay valid until the handshake is done, now_ms is the wall clock for its age), and/or
 * keep the first NewSessionTicket in *out (got_ticket turns 1). Either may be NULL. */
void etls_cli_tickets(etls_cli_conn_t *c, const etls_cli_ticket_t *t, uint64_t now_ms,
                      etls_cli_ticket_t *out);
/* Appends the ClientHello record; random is the client random. ETLS_ERR_LIMIT without room. */
int etls_cli_hello(etls_cli_conn_t *c, const uint8_t random[32], etls_tls_buf_t *out);
int etls_cli_feed(etls_cli_conn_t *c, uint8_t *in, size_t len, size_t *consumed,
                  etls_tls_buf_t *out, etls_tls_buf_t *app);
/* The server's key share (valid after ETLS_CLI_NEED_KX). */
const uint8_t *etls_cli_kx_peer(const etls_cli_conn_t *c, size_t *len);
/* status: 0, or the error of the shared-secret computation (e.g. a low-order point). */
int etls_cli_kx_done(etls_cli_conn_t *c, const uint8_t *shared, size_t len, int status,
                     etls_tls_buf_t *out);
/* Computes the shared secret itself (P-256, or X25519 one at a time) and calls kx_done. */
int etls_cli_kx_inline(etls_cli_conn_t *c, etls_tls_buf_t *out);
/* Seals len bytes in records of at most rec bytes of plaintext (0 = 16384); all or nothing:
 * ETLS_ERR_LIMIT when out lacks room. */
int etls_cli_send(etls_cli_conn_t *c, const uint8_t *data, size_t len, size_t rec,
                  etls_tls_buf_t *out);
int etls_cli_close(etls_cli_conn_t *c, etls_tls_buf_t *out);
int etls_cli_connected(const etls_cli_conn_t *c);
/* Bytes of out one etls_cli_send of len bytes needs. */
size_t etls_cli_send_room(const etls_cli_conn_t *c, size_t len, size_t rec);
/* Suite id <-> AEAD/hash and IANA name (the client's own table, TLS 1.3 and 1.2 suites; a name
 * also matches without its "TLS_" prefix, and TLS 1.2 suites by their OpenSSL names). */
int etls_cli_suite_params(uint16_t suite, etls_aead_alg_t *aead, etls_hash_alg_t *hash);
int etls_cli_suite_is12(uint16_t suite);
const char *etls_cli_suite_name(uint16_t suite);
uint16_t etls_cli_suite_by_name(const char *name); /* 0 when unknown */

#endif
