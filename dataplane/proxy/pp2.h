/* PROXY protocol version 2 header encoder (HAProxy "The PROXY protocol", section 2.2), sent
 * to a backend before the plaintext so it learns the client's address and TLS parameters.
 *
 * Layout: 12-byte signature, ver_cmd 0x21 (v2, PROXY), family/transport (0x11 TCP/IPv4,
 * 0x21 TCP/IPv6), 16-bit big-endian length of what follows, the addresses, then TLVs:
 * ALPN (0x01), AUTHORITY (0x02, the SNI host name) and SSL (0x20) whose value is
 * client flags (1 byte), verify (4 bytes) and sub-TLVs VERSION (0x21), CN (0x22, the verified
 * client certificate's subject CN) and CIPHER (0x23); then, with a verified client certificate,
 * the custom TLV 0xE0 (PP2_TYPE_MIN_CUSTOM) holding the SHA-256 fingerprint of its DER (32 bytes).
 *
 * Pure function over caller-owned memory: no allocation. */
#ifndef ETLS_PROXY_PP2_H
#define ETLS_PROXY_PP2_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ETLS_PP2_SIG "\r\n\r\n\0\r\nQUIT\n"
#define ETLS_PP2_SIG_LEN 12
#define ETLS_PP2_CMD_LOCAL 0x20
#define ETLS_PP2_CMD_PROXY 0x21
#define ETLS_PP2_TCP4 0x11
#define ETLS_PP2_TCP6 0x21
#define ETLS_PP2_TYPE_ALPN 0x01
#define ETLS_PP2_TYPE_AUTHORITY 0x02
#define ETLS_PP2_TYPE_SSL 0x20
#define ETLS_PP2_SUBTYPE_SSL_VERSION 0x21
#define ETLS_PP2_SUBTYPE_SSL_CN 0x22
#define ETLS_PP2_SUBTYPE_SSL_CIPHER 0x23
#define ETLS_PP2_TYPE_CLIENT_CERT_SHA256 0xE0 /* edgetls: PP2_TYPE_MIN_CUSTOM, 32 bytes */
#define ETLS_PP2_CLIENT_SSL 0x01
#define ETLS_PP2_CLIENT_CERT_CONN 0x02 /* a client certificate on this connection */
#define ETLS_PP2_CLIENT_CERT_SESS 0x04 /* ... in this TLS session (also when resumed) */

#define ETLS_PP2_MAX_LEN 1024 /* bound used by callers for the output buffer */

typedef struct etls_pp2_info {
    const struct sockaddr *src; /* client address as seen by edgetls */
    const struct sockaddr *dst; /* the listener address the client connected to */
    const uint8_t *alpn;        /* negotiated protocol (no length prefix), NULL when none */
    size_t alpn_len;
    const char *authority; /* SNI host name, NULL when the client sent none */
    size_t authority_len;
    int tls;              /* 1: add the SSL TLV */
    const char *version;  /* e.g. "TLSv1.3" */
    const char *cipher;   /* e.g. "TLS_AES_128_GCM_SHA256" */
    int client_verified;  /* a client certificate was presented and verified (this session) */
    int client_cert_conn; /* ... on this connection (not only by the resumed session) */
    const char *client_cn; /* its subject CN, NULL when none */
    size_t client_cn_len;
    const uint8_t *client_fp; /* SHA-256 of its DER (32 bytes), NULL when none */
} etls_pp2_info_t;

/* Writes the header into out[0..cap); returns its length, or ETLS_ERR_INVALID for unsupported
 * address families / oversized values and ETLS_ERR_LIMIT when cap is too small. A v4 and a v6
 * address together are both expressed as IPv6 (v4-mapped). With src == NULL a LOCAL header
 * (no addresses, no TLVs) is written. */
int etls_pp2_encode(uint8_t *out, size_t cap, const etls_pp2_info_t *info);

#endif
