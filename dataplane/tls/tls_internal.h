/* Private to the TLS engine: the bounded cursor every parser reads through, the wire
 * constants, and the functions the engine's files share. */
#ifndef ETLS_TLS_INTERNAL_H
#define ETLS_TLS_INTERNAL_H

#include "tls/tls.h"

#include "common/ct.h"

#include <string.h>

/* Record content types (RFC 8446 §5.1). */
enum {
    CT_CHANGE_CIPHER_SPEC = 20,
    CT_ALERT = 21,
    CT_HANDSHAKE = 22,
    CT_APPLICATION_DATA = 23,
};

/* Handshake message types (RFC 8446 §4). */
enum {
    HT_CLIENT_HELLO = 1,
    HT_SERVER_HELLO = 2,
    HT_NEW_SESSION_TICKET = 4,
    HT_END_OF_EARLY_DATA = 5,
    HT_ENCRYPTED_EXTENSIONS = 8,
    HT_CERTIFICATE = 11,
    HT_SERVER_KEY_EXCHANGE = 12, /* TLS 1.2 (RFC 5246 §7.4) */
    HT_CERTIFICATE_REQUEST = 13,
    HT_SERVER_HELLO_DONE = 14,
    HT_CERTIFICATE_VERIFY = 15,
    HT_CLIENT_KEY_EXCHANGE = 16,
    HT_FINISHED = 20,
    HT_KEY_UPDATE = 24,
    HT_MESSAGE_HASH = 254,
};

/* Extension types (RFC 8446 §4.2, RFC 6066, RFC 7301, RFC 8449). */
enum {
    EXT_SERVER_NAME = 0,
    EXT_SUPPORTED_GROUPS = 10,
    EXT_EC_POINT_FORMATS = 11,          /* RFC 8422 §5.1.2 (TLS 1.2) */
    EXT_SIGNATURE_ALGORITHMS = 13,
    EXT_ALPN = 16,
    EXT_EXTENDED_MASTER_SECRET = 23,    /* RFC 7627 (TLS 1.2) */
    EXT_RECORD_SIZE_LIMIT = 28,
    EXT_SESSION_TICKET = 35,            /* RFC 5077 (TLS 1.2) */
    EXT_PRE_SHARED_KEY = 41,
    EXT_EARLY_DATA = 42,
    EXT_SUPPORTED_VERSIONS = 43,
    EXT_COOKIE = 44,
    EXT_CERTIFICATE_AUTHORITIES = 47,
    EXT_PSK_KEY_EXCHANGE_MODES = 45,
    EXT_SIGNATURE_ALGORITHMS_CERT = 50,
    EXT_KEY_SHARE = 51,
    EXT_RENEGOTIATION_INFO = 0xff01,    /* RFC 5746 (TLS 1.2) */
};

/* Connection states; the handshake table (hs_server.c) says which message each expects. */
enum {
    ST_CLIENT_HELLO = 0, /* expect ClientHello */
    ST_CLIENT_HELLO2,    /* HelloRetryRequest sent; expect the second ClientHello */
    ST_KEY_EXCHANGE,     /* parked: ephemeral key generation + shared secret */
    ST_SIGN,             /* parked: CertificateVerify signature */
    ST_CLIENT_FINISHED,  /* server flight sent; expect client Finished */
    ST_CLIENT_CERT,      /* CertificateRequest sent: expect the client's Certificate */
    ST_CLIENT_CV,        /* non-empty client Certificate: expect its CertificateVerify */
    ST12_CLIENT_KEY_EXCHANGE, /* TLS 1.2 (tls12_hs.c): ServerHelloDone sent */
    ST12_CHANGE_CIPHER_SPEC,  /* TLS 1.2: expect the client's change_cipher_spec */
    ST12_FINISHED,            /* TLS 1.2: expect the client's (protected) Finished */
    ST_ESTABLISHED,      /* application data; expect KeyUpdate */
    ST_FAILED,
};

#define ALERT(desc) ETLS_ERR_ALERT(ETLS_ALERT_##desc)

/* ---- bounded cursor ------------------------------------------------------------------------
 * Every received byte is read through this: each read checks the remaining length, and
 * length-prefixed vectors become sub-cursors that cannot read past their own end. A short read
 * is a decode_error (RFC 8446 §6.2: "a message could not be decoded"). */
typedef struct etls_cur {
    const uint8_t *p;
    size_t left;
} etls_cur_t;

static inline etls_cur_t etls_cur(const uint8_t *p, size_t n)
{
    etls_cur_t c = {p, n};
    return c;
}

ETLS_WARN_UNUSED static inline int etls_cur_u8(etls_cur_t *c, uint8_t *v)
{
    ETLS_ENSURE(c->left >= 1, ALERT(DECODE_ERROR));
    *v = c->p[0];
    c->p++;
    c->left--;
    return 0;
}

ETLS_WARN_UNUSED static inline int etls_cur_u16(etls_cur_t *c, uint16_t *v)
{
    ETLS_ENSURE(c->left >= 2, ALERT(DECODE_ERROR));
    *v = (uint16_t)(c->p[0] << 8 | c->p[1]);
    c->p += 2;
    c->left -= 2;
    return 0;
}

ETLS_WARN_UNUSED static inline int etls_cur_u24(etls_cur_t *c, uint32_t *v)
{
    ETLS_ENSURE(c->left >= 3, ALERT(DECODE_ERROR));
    *v = (uint32_t)c->p[0] << 16 | (uint32_t)c->p[1] << 8 | c->p[2];
    c->p += 3;
    c->left -= 3;
    return 0;
}

ETLS_WARN_UNUSED static inline int etls_cur_bytes(etls_cur_t *c, size_t n, const uint8_t **out)
{
    ETLS_ENSURE(c->left >= n, ALERT(DECODE_ERROR));
    *out = c->p;
    c->p += n;
    c->left -= n;
    return 0;
}

/* A vector with a `width`-byte length prefix whose length lies in [min, max]. */
ETLS_WARN_UNUSED static inline int etls_cur_vec(etls_cur_t *c, int width, size_t min, size_t max,
                                                etls_cur_t *sub)
{
    uint32_t n = 0;
    uint8_t b8;
    uint16_t b16;
    if (width == 1) {
        ETLS_GUARD(etls_cur_u8(c, &b8));
        n = b8;
    } else if (width == 2) {
        ETLS_GUARD(etls_cur_u16(c, &b16));
        n = b16;
    } else {
        ETLS_GUARD(etls_cur_u24(c, &n));
    }
    ETLS_ENSURE(n >= min && n <= max, ALERT(DECODE_ERROR));
    const uint8_t *p;
    ETLS_GUARD(etls_cur_bytes(c, n, &p));
    *sub = etls_cur(p, n);
    return 0;
}

/* The whole input must have been read. */
static inline int etls_cur_end(const etls_cur_t *c)
{
    return c->left == 0 ? 0 : ALERT(DECODE_ERROR);
}

/* ---- bounded writer (messages built in a local buffer) --------------------------------- */
typedef struct etls_wr {
    uint8_t *p;
    size_t len, cap;
    int overflow;
} etls_wr_t;

static inline void etls_wr_bytes(etls_wr_t *w, const void *src, size_t n)
{
    if (w->cap - w->len < n) {
        w->overflow = 1;
        return;
    }
    memcpy(w->p + w->len, src, n);
    w->len += n;
}

static inline void etls_wr_u8(etls_wr_t *w, uint8_t v)
{
    etls_wr_bytes(w, &v, 1);
}

static inline void etls_wr_u16(etls_wr_t *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    etls_wr_bytes(w, b, 2);
}

static inline void etls_wr_u24(etls_wr_t *w, uint32_t v)
{
    uint8_t b[3] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    etls_wr_bytes(w, b, 3);
}

static inline void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* ---- parsed ClientHello (ext.c fills it, hs_server.c decides) ----------------------------- */
/* Cipher suites and groups the engine implements (ctx.c): what a configuration may enable and
 * what the ClientHello parser must never drop from a long client list. */
int etls_tls_suite_known(uint16_t id);
int etls_tls_group_known(uint16_t id);

#define CH_MAX_LIST 64 /* entries kept from each client list (see ext.c: selectable values are
                        * always kept, other values only while room remains) */
#define CH_RESERVED 16 /* slots kept free for selectable values (at most 5 + 8 suites (TLS 1.3
                        * and 1.2), 3 groups, 6 signature schemes) */
#define CH_MAX_SHARE_ENTRIES 64 /* key_share entries of any group; more: illegal_parameter */
#define CH_MAX_SHARES 8         /* shares kept: one per group we implement (ext.c) */

typedef struct etls_ch {
    uint16_t legacy_version;
    const uint8_t *random;
    const uint8_t *comp; /* legacy_compression_methods */
    size_t comp_len;
    const uint8_t *session_id;
    uint8_t session_id_len;
    uint16_t suites[CH_MAX_LIST];
    size_t n_suites;
    uint8_t has_versions, has_tls13;
    /* TLS 1.2: supported_versions lists 0x0303; TLS_FALLBACK_SCSV / TLS_EMPTY_RENEGOTIATION_INFO_SCSV
     * among the suites; extended_master_secret, renegotiation_info (its renegotiated_connection
     * length), session_ticket (its contents), ec_point_formats (whether it lists uncompressed) */
    uint8_t has_tls12, fallback_scsv, reneg_scsv, has_ems, has_reneg_info, reneg_info_len;
    uint8_t has_ticket_ext, has_point_formats, point_uncompressed;
    const uint8_t *ticket;
    size_t ticket_len;
    uint8_t has_groups, has_key_share, has_sigalgs, has_psk_modes, has_psk, early_data;
    uint16_t groups[CH_MAX_LIST]; /* every group we implement, others while room remains */
    size_t n_groups;
    uint16_t sigalgs[CH_MAX_LIST];
    size_t n_sigalgs;
    struct {
        uint16_t group;
        const uint8_t *key;
        uint16_t len;
    } shares[CH_MAX_SHARES]; /* shares for groups we implement, in the client's order */
    size_t n_shares;
    size_t n_share_entries;  /* entries in the key_share list, every group */
    const uint8_t *sni;
    size_t sni_len;
    const uint8_t *alpn; /* ProtocolNameList contents */
    size_t alpn_len;
    uint8_t has_alpn;
    uint16_t record_size_limit; /* 0 = absent */
    const uint8_t *cookie;
    size_t cookie_len;
    uint8_t has_cookie;
    uint8_t psk_modes; /* bit 0: psk_ke, bit 1: psk_dhe_ke */
    const uint8_t *body;        /* the ClientHello body (binder transcript) */
    const uint8_t *psk_id;      /* first PskIdentity */
    size_t psk_id_len;
    uint32_t psk_age;           /* its obfuscated_ticket_age */
    const uint8_t *psk_binder;  /* first binder */
    size_t psk_binder_len;
    size_t psk_binders_off;     /* offset in body of the binders list (truncation point) */
} etls_ch_t;

/* ext.c: parses the ClientHello body (RFC 8446 §4.1.2) and its extensions into ch. */
int etls_tls_parse_client_hello(const uint8_t *body, size_t len, etls_ch_t *ch);

/* ---- record layer (record.c) -------------------------------------------------------------- */
void etls_tls_nonce(const etls_tls_dir_t *d, uint64_t seq, uint8_t nonce[ETLS_AEAD_NONCE_LEN]);
/* Installs a traffic secret as the key of one direction (RFC 8446 §7.3); fin_key not NULL:
 * also the secret's finished_key (§4.4.4) from the same HMAC key setup. */
int etls_tls_dir_set(etls_tls_conn_t *c, etls_tls_dir_t *d, const uint8_t *secret);
int etls_tls_dir_set_fin(etls_tls_conn_t *c, etls_tls_dir_t *d, const uint8_t *secret,
                         uint8_t *fin_key);
/* Appends one record of `type` (sealed inline when the write key is active). */
int etls_tls_write_record(etls_tls_conn_t *c, etls_tls_buf_t *out, uint8_t type,
                          const uint8_t *data, size_t len);
/* Seals, in place, a record whose header starts at rec and whose inner plaintext (content
 * plus type byte plus padding) is `inner` bytes long, using the next write sequence number. */
int etls_tls_seal_inplace(etls_tls_conn_t *c, uint8_t *rec, size_t inner);
/* Inner plaintext length (content + type byte + padding) for len content bytes. */
size_t etls_tls_inner_len(const etls_tls_conn_t *c, size_t len);
/* Strips TLSInnerPlaintext padding; returns the content length and sets *type, or an alert. */
int etls_tls_inner_type(const uint8_t *pt, size_t len, uint8_t *type);
/* Records a fatal error: appends the alert (if there is room) and makes the error sticky. */
int etls_tls_fail(etls_tls_conn_t *c, etls_tls_buf_t *out, int err);

/* ---- handshake (hs_server.c, flight.c, hs_pool.c) ------------------------------------------- */
/* Borrows the handshake state (from env->hs_pool, else malloc) / wipes and returns it. */
int etls_tls_hs_acquire(etls_tls_conn_t *c);
void etls_tls_hs_release(etls_tls_conn_t *c);
/* Reassembly buffer of len bytes for the message being received (hs->big; the pool's cap on
 * large ones: tls.h etls_tls_hs_pool_set_big_max) / its release once the message is handled. */
int etls_tls_msg_buf_get(etls_tls_conn_t *c, uint32_t len, uint8_t **dst);
void etls_tls_msg_buf_put(etls_tls_conn_t *c);
/* Checks a handshake message header against the state table before its body is buffered:
 * unexpected type -> unexpected_message, bad or excessive length -> an alert. */
int etls_tls_handshake_check(const etls_tls_conn_t *c, uint8_t type, uint32_t len);
/* One complete handshake message (4-byte header, body) in the current state. */
int etls_tls_handshake_msg(etls_tls_conn_t *c, const uint8_t *hdr, const uint8_t *body,
                           size_t len, etls_tls_buf_t *out);
/* Messages after which the peer's keys change, so they must end their record (§5.1). */
static inline int etls_tls_key_change_msg(uint8_t type)
{
    /* TLS 1.2: ClientKeyExchange parks the ECDH, and change_cipher_spec follows it */
    return type == HT_CLIENT_HELLO || type == HT_FINISHED || type == HT_KEY_UPDATE ||
           type == HT_CLIENT_KEY_EXCHANGE;
}
/* Continues a handshake that was parked (ST_KEY_EXCHANGE / ST_SIGN). */
int etls_tls_handshake_resume(etls_tls_conn_t *c, etls_tls_buf_t *out);
/* flight.c: the server flight after key exchange (ServerHello .. Certificate, then park the
 * signature) and after the signature (CertificateVerify, Finished). */
int etls_tls_flight_hello(etls_tls_conn_t *c, etls_tls_buf_t *out);
int etls_tls_flight_finish(etls_tls_conn_t *c, etls_tls_buf_t *out);
int etls_tls_write_hrr(etls_tls_conn_t *c, etls_tls_buf_t *out, uint16_t group,
                       const uint8_t *cookie, size_t cookie_len);
/* Adds a handshake message to the transcript. */
static inline void etls_tls_transcript(etls_tls_conn_t *c, const void *p, size_t n)
{
    etls_hash_update(&c->hs->transcript, p, n);
}

/* ticket.c: the resumption state a ticket carries. */
typedef struct etls_tls_ticket {
    uint16_t suite;
    uint64_t issued_ms;
    uint32_t age_add;
    uint8_t sni_hash[8]; /* first bytes of SHA-256(SNI): resumption only for the same name */
    uint8_t psk_len;
    uint8_t psk[ETLS_HASH_MAX_LEN]; /* TLS 1.2: the master secret */
    uint16_t version; /* ETLS_TLS_VERSION_13 (format 1, or 3 with a client identity) or _12
                       * (format 2, one more byte) */
    uint8_t ems;      /* TLS 1.2: the session used extended_master_secret */
    /* Format 3: the client identity (peer.flags has ETLS_TLS_PEER_VERIFIED) and the tag of the
     * client_auth policy that verified it. */
    etls_tls_peer_id_t peer;
    uint8_t ca_tag[8];
} etls_tls_ticket_t;

/* Format 3's identity: flags, tag, CN length, CN, fingerprint. */
#define ETLS_TLS_TICKET_ID_MAX (1 + 8 + 1 + ETLS_TLS_CLIENT_CN_MAX + 32)
#define ETLS_TLS_TICKET_MAX (16 + 16 + 25 + ETLS_HASH_MAX_LEN + 32 + ETLS_TLS_TICKET_ID_MAX)

uint64_t etls_tls_now_ms(const etls_tls_server_ctx_t *ctx);
/* Seals t with the current key into out (ETLS_TLS_TICKET_MAX bytes). */
int etls_tls_ticket_seal(const etls_tls_server_ctx_t *ctx, etls_rand_t *rng,
                         const etls_tls_ticket_t *t, uint8_t *out, size_t *len);
/* 0 and t filled, or negative for an unknown key name, a bad tag or a malformed ticket. */
int etls_tls_ticket_open(const etls_tls_server_ctx_t *ctx, const uint8_t *in, size_t len,
                         etls_tls_ticket_t *t);
/* hs_server.c: sends one NewSessionTicket after the client's Finished (if tickets are on). */
int etls_tls_send_ticket(etls_tls_conn_t *c, const uint8_t *hdr, const uint8_t *body, size_t len,
                         etls_tls_buf_t *out);

/* client_auth.c: the policy that applies to c (its certificate's, else its listener's; NULL
 * when client_auth is off), its prebuilt CertificateRequest message (4-byte header included)
 * and tag; the handlers the state table calls; what a resumption may keep. */
const etls_tls_client_auth_t *etls_tls_ca_policy(const etls_tls_conn_t *c);
const uint8_t *etls_tls_ca_request(const etls_tls_client_auth_t *a, size_t *len);
const uint8_t *etls_tls_ca_tag(const etls_tls_client_auth_t *a);
int etls_tls_ca_on_certificate(etls_tls_conn_t *c, const uint8_t *hdr, const uint8_t *body,
                               size_t len, etls_tls_buf_t *out);
int etls_tls_ca_on_cert_verify(etls_tls_conn_t *c, const uint8_t *hdr, const uint8_t *body,
                               size_t len, etls_tls_buf_t *out);
/* 1 when ticket t may resume under c's policy (then c->peer takes its identity), 0 for a full
 * handshake. */
int etls_tls_ca_resume_ok(etls_tls_conn_t *c, const etls_tls_ticket_t *t);
/* The client Certificate parse (§4.4.2) alone, for the fuzz harness and tests: certs[] point
 * into body; returns the number of entries or an alert. */
int etls_tls_ca_parse_certificate(const uint8_t *body, size_t len, const uint8_t **certs,
                                  size_t *cert_lens, size_t max);

/* sni.c: the SNI index of a context (tls.h etls_tls_sni_index_t). */
uint32_t etls_sni_hash(uint64_t seed, const char *p, size_t len);
int etls_sni_reserve(etls_tls_sni_index_t *x, size_t n_names);
int etls_sni_add(etls_tls_server_ctx_t *ctx, uint32_t idx);
/* Removes certs[idx]'s names from the tables (before that certificate changes). */
void etls_sni_del(etls_tls_server_ctx_t *ctx, uint32_t idx);
/* certs[idx] becomes cert (its names indexed in place of the old one's; the no-match lists
 * rebuilt when a default mark or the scheme changes). References are the caller's. */
int etls_sni_replace(etls_tls_server_ctx_t *ctx, uint32_t idx, etls_tls_cert_t *cert);
/* dst (freed first) = a copy of src's tables and lists. */
int etls_sni_copy(etls_tls_sni_index_t *dst, const etls_tls_sni_index_t *src);
void etls_sni_free(etls_tls_sni_index_t *x);

/* ctx.c */
/* etls_tls_server_ctx_select_cert, also saying whether the name (not the default) matched. */
const etls_tls_cert_t *etls_tls_select_cert(const etls_tls_server_ctx_t *ctx, const char *name,
                                            size_t name_len, const uint16_t *schemes,
                                            size_t n_schemes, int *by_name);


/* ---- TLS 1.2 (RFC 5246; tls12_*.c) --------------------------------------------------------- */
#define ETLS_TLS_NEED_ROOM 1 /* conn.c's NEED_ROOM: `app` has no room for the next record */
#define ETLS_TLS12_VERIFY_LEN 12
/* The version the ClientHello negotiates with ctx->protocols (RFC 8446 §4.2.1, RFC 5246
 * §7.4.1.2, RFC 7507 fallback SCSV); an alert when none. */
int etls_tls12_choose_version(const etls_tls_conn_t *c, const etls_ch_t *ch, uint16_t *version);
/* The rest of a ClientHello that negotiated TLS 1.2 (hdr/body: the message for the transcript). */
int etls_tls12_client_hello(etls_tls_conn_t *c, const etls_ch_t *ch, const uint8_t *hdr,
                            const uint8_t *body, size_t len, etls_tls_buf_t *out);
int etls_tls12_on_client_key_exchange(etls_tls_conn_t *c, const uint8_t *hdr, const uint8_t *body,
                                      size_t len, etls_tls_buf_t *out);
int etls_tls12_on_finished(etls_tls_conn_t *c, const uint8_t *hdr, const uint8_t *body, size_t len,
                           etls_tls_buf_t *out);
/* A ClientHello on an established TLS 1.2 connection: refused with no_renegotiation. */
int etls_tls12_on_renegotiation(etls_tls_conn_t *c, etls_tls_buf_t *out);
/* Continues a parked TLS 1.2 step (ST_KEY_EXCHANGE / ST_SIGN). */
int etls_tls12_resume(etls_tls_conn_t *c, etls_tls_buf_t *out);
/* hs_server.c helpers shared with TLS 1.2: certificate by SNI among `schemes`, ALPN. */
int etls_tls_hs_select_cert(etls_tls_conn_t *c, const etls_ch_t *ch, const uint16_t *schemes,
                            size_t n_schemes);
int etls_tls_hs_select_alpn(etls_tls_conn_t *c, const etls_ch_t *ch);
/* conn.c: one record's content after decryption (handshake reassembly, alerts, data). */
int etls_tls_content(etls_tls_conn_t *c, uint8_t type, const uint8_t *p, size_t n,
                     etls_tls_buf_t *out, etls_tls_buf_t *app, int prot);

/* tls12_record.c: the TLS 1.2 record layer (RFC 5246 §6.2, RFC 5288, RFC 7905). */
int etls_tls12_check_header(const etls_tls_conn_t *c, const uint8_t *rec, size_t len);
/* One record once TLS 1.2 is negotiated; ETLS_TLS_NEED_ROOM when `app` is too full. */
int etls_tls12_record(etls_tls_conn_t *c, const uint8_t *rec, size_t len, etls_tls_buf_t *out,
                      etls_tls_buf_t *app);
/* Appends protected records of `type` (fragmented at 2^14); ETLS_ERR_LIMIT writes nothing. */
int etls_tls12_write_record(etls_tls_conn_t *c, etls_tls_buf_t *out, uint8_t type,
                            const uint8_t *data, size_t len);
/* Application data: as many whole records as fit (sealed inline). */
int etls_tls12_send(etls_tls_conn_t *c, const uint8_t *data, size_t len, size_t *consumed,
                    etls_tls_buf_t *out);
/* Installs both directions' keys from the key block (not yet active). */
int etls_tls12_install_keys(etls_tls_conn_t *c, const uint8_t *key_block);
size_t etls_tls12_key_block_len(const etls_tls_conn_t *c);

/* IANA name of a TLS 1.2 suite we implement, "unknown" otherwise. */
const char *etls_tls12_suite_name(uint16_t id);

/* tls12_ks.c: PRF (RFC 5246 §5) and what is derived from it. */
int etls_tls12_prf(etls_hash_alg_t hash, const uint8_t *secret, size_t secret_len,
                   const char *label, const uint8_t *seed1, size_t seed1_len,
                   const uint8_t *seed2, size_t seed2_len, uint8_t *out, size_t out_len);
#endif
