/* PROXY protocol v2 encoder checked byte by byte against headers written out by hand from the
 * specification (HAProxy proxy-protocol.txt §2.2: signature, ver_cmd, fam, len, addresses,
 * TLVs; §2.2.5 the SSL TLV with its client/verify fields and sub-TLVs). */
#include "proxy/pp2.h"

#include "common/err.h"
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

static struct sockaddr_in v4(const char *ip, uint16_t port)
{
    struct sockaddr_in s;
    memset(&s, 0, sizeof s);
    s.sin_family = AF_INET;
    s.sin_port = htons(port);
    inet_pton(AF_INET, ip, &s.sin_addr);
    return s;
}

static struct sockaddr_in6 v6(const char *ip, uint16_t port)
{
    struct sockaddr_in6 s;
    memset(&s, 0, sizeof s);
    s.sin6_family = AF_INET6;
    s.sin6_port = htons(port);
    inet_pton(AF_INET6, ip, &s.sin6_addr);
    return s;
}

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    char clean[2048];
    size_t n = 0;
    for (; *hex && n < sizeof clean - 1; hex++)
        if (*hex != ' ' && *hex != '\n')
            clean[n++] = *hex;
    long r = etls_hex_decode(clean, n, out, cap);
    return r < 0 ? 0 : (size_t)r;
}

#define SIG "0d0a0d0a000d0a515549540a"

static void test_tcp4_tls(void)
{
    struct sockaddr_in src = v4("192.0.2.1", 56324), dst = v4("127.0.0.1", 443);
    etls_pp2_info_t info = {
        .src = (struct sockaddr *)&src, .dst = (struct sockaddr *)&dst,
        .alpn = (const uint8_t *)"h2", .alpn_len = 2,
        .authority = "example.com", .authority_len = 11,
        .tls = 1, .version = "TLSv1.3", .cipher = "TLS_AES_128_GCM_SHA256", .client_verified = 0,
    };
    uint8_t want[256], out[ETLS_PP2_MAX_LEN];
    size_t wl = unhex(SIG "21 11 004a"                       /* v2 PROXY, TCP over IPv4, 74 bytes */
                      "c0000201 7f000001 dc04 01bb"          /* src, dst, src port, dst port */
                      "01 0002 6832"                         /* ALPN "h2" */
                      "02 000b 6578616d706c652e636f6d"       /* AUTHORITY "example.com" */
                      "20 0028 01 00000001"                  /* SSL: client=SSL, verify!=0 */
                      "21 0007 544c5376312e33"               /* VERSION "TLSv1.3" */
                      "23 0016 544c535f4145535f3132385f47434d5f534841323536", /* CIPHER */
                      want, sizeof want);
    CHECK(wl == 90);
    int n = etls_pp2_encode(out, sizeof out, &info);
    CHECK(n == (int)wl);
    CHECK_MEM(out, want, wl);
    /* a client certificate that was verified makes verify zero; the client field says it was
     * in the session (CERT_SESS) and, when sent on this connection, CERT_CONN */
    info.client_verified = 1;
    n = etls_pp2_encode(out, sizeof out, &info);
    CHECK(n == 90 && out[47] == 0x20 && memcmp(out + 50, "\x05\x00\x00\x00\x00", 5) == 0);
    info.client_cert_conn = 1;
    n = etls_pp2_encode(out, sizeof out, &info);
    CHECK(n == 90 && memcmp(out + 50, "\x07\x00\x00\x00\x00", 5) == 0);
}

/* client_auth: the subject CN sub-TLV (0x22, between VERSION and CIPHER in type order) and the
 * custom TLV 0xE0 with the leaf's SHA-256 after the SSL TLV. */
static void test_client_identity(void)
{
    struct sockaddr_in src = v4("192.0.2.1", 56324), dst = v4("127.0.0.1", 443);
    uint8_t fp[32];
    for (int i = 0; i < 32; i++)
        fp[i] = (uint8_t)i;
    etls_pp2_info_t info = {
        .src = (struct sockaddr *)&src, .dst = (struct sockaddr *)&dst, .tls = 1,
        .version = "TLSv1.3", .cipher = "TLS_AES_128_GCM_SHA256", .client_verified = 1,
        .client_cert_conn = 1, .client_cn = "client-1", .client_cn_len = 8, .client_fp = fp,
    };
    uint8_t want[256], out[ETLS_PP2_MAX_LEN];
    size_t wl = unhex(SIG "21 11 0065"                       /* 101 bytes */
                      "c0000201 7f000001 dc04 01bb"
                      "20 0033 07 00000000"                  /* SSL: SSL|CERT_CONN|CERT_SESS, verified */
                      "21 0007 544c5376312e33"               /* VERSION */
                      "22 0008 636c69656e742d31"             /* CN "client-1" */
                      "23 0016 544c535f4145535f3132385f47434d5f534841323536" /* CIPHER */
                      "e0 0020 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
                      want, sizeof want);
    CHECK(wl == 117);
    int n = etls_pp2_encode(out, sizeof out, &info);
    CHECK_MSG(n == (int)wl, "%d bytes", n);
    CHECK_MEM(out, want, wl);
    /* not verified: neither the CN nor the fingerprint goes out, verify is non-zero */
    info.client_verified = 0;
    n = etls_pp2_encode(out, sizeof out, &info);
    CHECK(n == 117 - 11 - 35 && out[31] == 0x01 && out[35] == 0x01);
}

static void test_tcp6_plain(void)
{
    struct sockaddr_in6 src = v6("2001:db8::1", 1234), dst = v6("::1", 8443);
    etls_pp2_info_t info = {.src = (struct sockaddr *)&src, .dst = (struct sockaddr *)&dst};
    uint8_t want[128], out[128];
    size_t wl = unhex(SIG "21 21 0024"
                      "20010db8000000000000000000000001"
                      "00000000000000000000000000000001"
                      "04d2 20fb",
                      want, sizeof want);
    int n = etls_pp2_encode(out, sizeof out, &info);
    CHECK(wl == 52 && n == 52);
    CHECK_MEM(out, want, wl);
}

/* IPv4 client on an IPv6 listener: both sides expressed as IPv6, the v4 one v4-mapped. */
static void test_mixed(void)
{
    struct sockaddr_in src = v4("10.1.2.3", 80);
    struct sockaddr_in6 dst = v6("::1", 443);
    etls_pp2_info_t info = {.src = (struct sockaddr *)&src, .dst = (struct sockaddr *)&dst};
    uint8_t want[128], out[128];
    size_t wl = unhex(SIG "21 21 0024"
                      "00000000000000000000ffff0a010203"
                      "00000000000000000000000000000001"
                      "0050 01bb",
                      want, sizeof want);
    CHECK(etls_pp2_encode(out, sizeof out, &info) == (int)wl);
    CHECK_MEM(out, want, wl);
}

static void test_local_and_errors(void)
{
    uint8_t want[32], out[ETLS_PP2_MAX_LEN];
    size_t wl = unhex(SIG "20 00 0000", want, sizeof want);
    CHECK(etls_pp2_encode(out, sizeof out, NULL) == 16 && wl == 16);
    CHECK_MEM(out, want, wl);

    struct sockaddr_in src = v4("192.0.2.1", 1), dst = v4("192.0.2.2", 2);
    etls_pp2_info_t info = {.src = (struct sockaddr *)&src, .dst = (struct sockaddr *)&dst, .tls = 1,
                            .version = "TLSv1.3", .cipher = "TLS_AES_256_GCM_SHA384"};
    int full = etls_pp2_encode(out, sizeof out, &info);
    CHECK(full > 28);
    CHECK(etls_pp2_encode(out, (size_t)full - 1, &info) == ETLS_ERR_LIMIT);
    CHECK(etls_pp2_encode(out, (size_t)full, &info) == full);
    /* SSL TLV without sub-TLVs: client + verify only */
    info.version = info.cipher = NULL;
    CHECK(etls_pp2_encode(out, sizeof out, &info) == 16 + 12 + 3 + 5);
    CHECK(memcmp(out + 28, "\x20\x00\x05\x01\x00\x00\x00\x01", 8) == 0);

    uint8_t alpn[256];
    memset(alpn, 'a', sizeof alpn);
    info.alpn = alpn;
    info.alpn_len = 256;
    CHECK(etls_pp2_encode(out, sizeof out, &info) == ETLS_ERR_INVALID);
    info.alpn_len = 255;
    CHECK(etls_pp2_encode(out, sizeof out, &info) == 16 + 12 + 3 + 255 + 8);

    struct sockaddr_un un;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    info.src = (struct sockaddr *)&un;
    CHECK(etls_pp2_encode(out, sizeof out, &info) == ETLS_ERR_INVALID);
    info.src = (struct sockaddr *)&src;
    info.dst = NULL;
    CHECK(etls_pp2_encode(out, sizeof out, &info) == ETLS_ERR_INVALID);
}

int main(void)
{
    test_tcp4_tls();
    test_client_identity();
    test_tcp6_plain();
    test_mixed();
    test_local_and_errors();
    return etls_test_summary("pp2");
}
