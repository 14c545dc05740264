/* Parsers in bench/hs/net.c: HTTP/1.1 response tracking (split at every byte, malformed
 * heads), HOST:PORT targets and CPU lists, with negative cases for each. */
#include "load.h"
#include "test.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static const char resp[] = "HTTP/1.1 200 OK\r\nServer: x\r\ncontent-length: 11\r\n\r\nhello world";

static int feed_split(const char *r, size_t len, size_t cut, etls_http_resp_t *h)
{
    memset(h, 0, sizeof *h);
    int a = etls_http_resp_feed(h, (const uint8_t *)r, cut);
    if (a != 0)
        return a == 1 && cut == len ? 1 : -2;
    return etls_http_resp_feed(h, (const uint8_t *)r + cut, len - cut);
}

static void test_http(void)
{
    etls_http_resp_t *h = malloc(sizeof *h);
    size_t n = strlen(resp);
    for (size_t cut = 0; cut <= n; cut++) {
        int rc = feed_split(resp, n, cut, h);
        CHECK_MSG(rc == 1 && h->status == 200 && h->body_left == 0, "cut %zu: %d", cut, rc);
    }
    /* a body that has not fully arrived yet */
    memset(h, 0, sizeof *h);
    CHECK(etls_http_resp_feed(h, (const uint8_t *)resp, n - 3) == 0 && h->body_left == 3);
    /* status other than 200 is reported, not rejected */
    static const char r404[] = "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    CHECK(feed_split(r404, strlen(r404), 5, h) == 1 && h->status == 404);
    static const char *const bad[] = {
        "HTTP/1.1 200 OK\r\n\r\n",                           /* no Content-Length */
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", /* chunked: unsupported */
        "HTTP/2 200 OK\r\nContent-Length: 1\r\n\r\nx",
        "HTTX/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
        "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxy",    /* more than the body */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(h, 0, sizeof *h);
        CHECK_MSG(etls_http_resp_feed(h, (const uint8_t *)bad[i], strlen(bad[i])) == -1, "bad %zu", i);
    }
    /* a head that never ends is bounded */
    char *big = malloc(20000);
    memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
    memset(big + 20, 'a', 20000 - 20);
    memset(h, 0, sizeof *h);
    int rc = 0;
    for (size_t off = 0; off < 20000 && rc == 0; off += 1000)
        rc = etls_http_resp_feed(h, (const uint8_t *)big + off, 1000);
    CHECK(rc == -1);
    free(big);
    free(h);
}

static void test_target(void)
{
    struct sockaddr_storage ss;
    socklen_t len;
    CHECK(etls_hs_parse_target("127.0.0.1:8443", &ss, &len) == 0 && ss.ss_family == AF_INET &&
          ntohs(((struct sockaddr_in *)&ss)->sin_port) == 8443);
    CHECK(etls_hs_parse_target("[::1]:443", &ss, &len) == 0 && ss.ss_family == AF_INET6 &&
          len == sizeof(struct sockaddr_in6));
    CHECK(etls_hs_parse_target("localhost:1", &ss, &len) == 0 && ss.ss_family == AF_INET);
    static const char *const bad[] = {"", ":443", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0",
                                      "127.0.0.1:65536", "127.0.0.1:80x", "::1:443", "[::1:443",
                                      "example.com:443", "[127.0.0.1]x:1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(etls_hs_parse_target(bad[i], &ss, &len) != 0, "accepted '%s'", bad[i]);
}

static void test_cpus(void)
{
    int c[8];
    CHECK(etls_hs_parse_cpus("0", c, 8) == 1 && c[0] == 0);
    CHECK(etls_hs_parse_cpus("1,3-5", c, 8) == 4 && c[0] == 1 && c[1] == 3 && c[3] == 5);
    static const char *const bad[] = {"", "a", "1-", "3-1", "1,,2", "-1", "0-100", "1;2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(etls_hs_parse_cpus(bad[i], c, 8) <= 0, "accepted '%s'", bad[i]);
}

int main(void)
{
    test_http();
    test_target();
    test_cpus();
    return etls_test_summary("bench_net");
}
