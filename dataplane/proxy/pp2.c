/* PROXY protocol v2 encoding. Section numbers refer to HAProxy's proxy-protocol.txt. */
#include "proxy/pp2.h"

#include "common/err.h"

#include <netinet/in.h>
#include <string.h>

typedef struct wbuf {
    uint8_t *p;
    size_t len, cap;
    int overflow;
} wbuf_t;

static void put(wbuf_t *w, const void *src, size_t n)
{
    if (w->len + n > w->cap) {
        w->overflow = 1;
        return;
    }
    memcpy(w->p + w->len, src, n);
    w->len += n;
}

static void put_u8(wbuf_t *w, uint8_t v) { put(w, &v, 1); }

static void put_u16(wbuf_t *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(w, b, 2);
}

static void put_tlv(wbuf_t *w, uint8_t type, const void *val, size_t n)
{
    put_u8(w, type);
    put_u16(w, (uint16_t)n);
    put(w, val, n);
}

/* 16-byte form of an address: IPv6 as is, IPv4 as ::ffff:a.b.c.d. */
static void addr6(const struct sockaddr *sa, uint8_t out[16], uint16_t *port_be)
{
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        memcpy(out, &s6->sin6_addr, 16);
        *port_be = s6->sin6_port;
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &s4->sin_addr, 4);
        *port_be = s4->sin_port;
    }
}

/* §2.2: addresses in network byte order, source first, then the ports. */
static int put_addresses(wbuf_t *w, const struct sockaddr *src, const struct sockaddr *dst)
{
    ETLS_ENSURE(src->sa_family == AF_INET || src->sa_family == AF_INET6, ETLS_ERR_INVALID);
    ETLS_ENSURE(dst->sa_family == AF_INET || dst->sa_family == AF_INET6, ETLS_ERR_INVALID);
    if (src->sa_family == AF_INET && dst->sa_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)src, *d = (const struct sockaddr_in *)dst;
        put(w, &s->sin_addr, 4);
        put(w, &d->sin_addr, 4);
        put(w, &s->sin_port, 2);
        put(w, &d->sin_port, 2);
        return ETLS_PP2_TCP4;
    }
    uint8_t a[16], b[16];
    uint16_t sp, dp;
    addr6(src, a, &sp);
    addr6(dst, b, &dp);
    put(w, a, 16);
    put(w, b, 16);
    put(w, &sp, 2);
    put(w, &dp, 2);
    return ETLS_PP2_TCP6;
}

/* §2.2.5: the SSL TLV. "verify" is zero only when a client certificate was presented and
 * verified (client_auth); the client flags say whether on this connection or in the session. */
static int put_ssl_tlv(wbuf_t *w, const etls_pp2_info_t *in)
{
    size_t vlen = in->version ? strlen(in->version) : 0;
    size_t clen = in->cipher ? strlen(in->cipher) : 0;
    size_t nlen = in->client_verified && in->client_cn ? in->client_cn_len : 0;
    ETLS_ENSURE(vlen < 256 && clen < 256 && nlen < 256, ETLS_ERR_INVALID);
    size_t total = 1 + 4 + (vlen ? 3 + vlen : 0) + (nlen ? 3 + nlen : 0) + (clen ? 3 + clen : 0);
    uint8_t client = ETLS_PP2_CLIENT_SSL;
    if (in->client_verified)
        client |= ETLS_PP2_CLIENT_CERT_SESS | (in->client_cert_conn ? ETLS_PP2_CLIENT_CERT_CONN : 0);
    put_u8(w, ETLS_PP2_TYPE_SSL);
    put_u16(w, (uint16_t)total);
    put_u8(w, client);
    uint8_t verify[4] = {0, 0, 0, in->client_verified ? 0 : 1};
    put(w, verify, 4);
    if (vlen)
        put_tlv(w, ETLS_PP2_SUBTYPE_SSL_VERSION, in->version, vlen);
    if (nlen)
        put_tlv(w, ETLS_PP2_SUBTYPE_SSL_CN, in->client_cn, nlen);
    if (clen)
        put_tlv(w, ETLS_PP2_SUBTYPE_SSL_CIPHER, in->cipher, clen);
    if (in->client_verified && in->client_fp)
        put_tlv(w, ETLS_PP2_TYPE_CLIENT_CERT_SHA256, in->client_fp, 32);
    return 0;
}

int etls_pp2_encode(uint8_t *out, size_t cap, const etls_pp2_info_t *info)
{
    wbuf_t w = {out, 0, cap, 0};
    put(&w, ETLS_PP2_SIG, ETLS_PP2_SIG_LEN);
    if (!info || !info->src) { /* LOCAL: the receiver uses the real connection endpoints */
        put_u8(&w, ETLS_PP2_CMD_LOCAL);
        put_u8(&w, 0);
        put_u16(&w, 0);
        return w.overflow ? ETLS_ERR_LIMIT : (int)w.len;
    }
    ETLS_ENSURE(info->dst, ETLS_ERR_INVALID);
    ETLS_ENSURE(info->alpn_len < 256 && info->authority_len < 256, ETLS_ERR_INVALID);
    put_u8(&w, ETLS_PP2_CMD_PROXY);
    size_t fam_at = w.len;
    put_u8(&w, 0);
    size_t len_at = w.len;
    put_u16(&w, 0);
    int fam = put_addresses(&w, info->src, info->dst);
    ETLS_GUARD(fam);
    if (info->alpn && info->alpn_len)
        put_tlv(&w, ETLS_PP2_TYPE_ALPN, info->alpn, info->alpn_len);
    if (info->authority && info->authority_len)
        put_tlv(&w, ETLS_PP2_TYPE_AUTHORITY, info->authority, info->authority_len);
    if (info->tls)
        ETLS_GUARD(put_ssl_tlv(&w, info));
    if (w.overflow)
        return ETLS_ERR_LIMIT;
    size_t body = w.len - (len_at + 2);
    out[fam_at] = (uint8_t)fam;
    out[len_at] = (uint8_t)(body >> 8);
    out[len_at + 1] = (uint8_t)body;
    return (int)w.len;
}
