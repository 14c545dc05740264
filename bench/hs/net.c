/* Helpers shared by `hs` and `record`: sockets, target parsing, the optional certificate
 * verifier (OpenSSL X509, only used with --verify) and HTTP/1.1 response tracking. */
#include "load.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

uint64_t etls_hs_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int etls_hs_connect(const struct sockaddr_storage *addr, socklen_t len)
{
    int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (const struct sockaddr *)addr, len) < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int etls_hs_parse_target(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    ETLS_ENSURE(colon && colon > s, ETLS_ERR_INVALID);
    size_t hl = (size_t)(colon - s);
    ETLS_ENSURE(s[0] == '[' || !memchr(s, ':', hl), ETLS_ERR_INVALID); /* IPv6 needs [ ] */
    if (s[0] == '[') {
        ETLS_ENSURE(hl >= 2 && s[hl - 1] == ']', ETLS_ERR_INVALID);
        s++;
        hl -= 2;
    }
    ETLS_ENSURE(hl < sizeof host, ETLS_ERR_INVALID);
    memcpy(host, s, hl);
    host[hl] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    ETLS_ENSURE(*end == 0 && port > 0 && port < 65536, ETLS_ERR_INVALID);
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (!strcmp(host, "localhost"))
        strcpy(host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof *v4;
        return 0;
    }
    ETLS_ENSURE(inet_pton(AF_INET6, host, &v6->sin6_addr) == 1, ETLS_ERR_INVALID);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    *len = sizeof *v6;
    return 0;
}

int etls_hs_split_dpdk_args(int argc, char **argv, int *nrest, char ***rest)
{
    *nrest = 0;
    *rest = NULL;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--")) {
            *nrest = argc - i, *rest = argv + i;
            return i;
        }
    return argc;
}

int etls_hs_parse_cpus(const char *s, int *cpus, size_t cap)
{
    size_t n = 0;
    while (*s) {
        char *end;
        long a = strtol(s, &end, 10), b = a;
        if (end == s || a < 0 || a > 4095)
            return -1;
        if (*end == '-') {
            s = end + 1;
            b = strtol(s, &end, 10);
            if (end == s || b < a || b > 4095)
                return -1;
        }
        for (long c = a; c <= b; c++) {
            if (n == cap)
                return -1;
            cpus[n++] = (int)c;
        }
        if (*end == ',')
            end++;
        else if (*end)
            return -1;
        s = end;
    }
    return (int)n;
}

/* ---- verification (--verify --cacert FILE) ------------------------------------------------ */

void *etls_hs_verifier_new(const char *cafile)
{
    X509_STORE *st = X509_STORE_new();
    if (!st || X509_STORE_load_file(st, cafile) != 1) {
        fprintf(stderr, "edgetls-bench: cannot load CA file %s\n", cafile);
        X509_STORE_free(st);
        return NULL;
    }
    return st;
}

void etls_hs_verifier_free(void *v)
{
    X509_STORE_free(v);
}

static int verify_x509(X509_STORE *st, X509 *leaf, STACK_OF(X509) *rest, const char *host)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int ok = ctx && X509_STORE_CTX_init(ctx, st, leaf, rest) == 1;
    if (ok && host && host[0]) {
        X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(ctx);
        uint8_t ip[16];
        int is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
        ok = (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, host) : X509_VERIFY_PARAM_set1_host(vp, host, 0)) == 1;
    }
    ok = ok && X509_verify_cert(ctx) == 1;
    X509_STORE_CTX_free(ctx);
    return ok ? 0 : ETLS_ERR_AUTH;
}

int etls_hs_verify_chain(void *arg, const uint8_t *const *der, const size_t *der_len, size_t n,
                         const char *host, etls_pkey_t **leaf)
{
    X509 *certs[ETLS_CHAIN_MAX] = {0};
    STACK_OF(X509) *rest = sk_X509_new_null();
    int rc = rest ? 0 : ETLS_ERR_NOMEM;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const unsigned char *p = der[i];
        certs[i] = d2i_X509(NULL, &p, (long)der_len[i]);
        if (!certs[i] || p != der[i] + der_len[i])
            rc = ETLS_ERR_INVALID;
        else if (i > 0 && !sk_X509_push(rest, certs[i]))
            rc = ETLS_ERR_NOMEM;
    }
    if (rc == 0)
        rc = verify_x509(arg, certs[0], rest, host);
    if (rc == 0)
        rc = etls_pkey_from_cert_der(leaf, der[0], der_len[0]);
    sk_X509_free(rest);
    for (size_t i = 0; i < n; i++)
        X509_free(certs[i]);
    return rc;
}

/* ---- HTTP/1.1 responses -------------------------------------------------------------------- */

static int parse_head(etls_http_resp_t *h, size_t end)
{
    h->head[end] = 0;
    if (strncmp(h->head, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)h->head[7]) ||
        h->head[8] != ' ')
        return -1;
    h->status = atoi(h->head + 9);
    for (const char *l = strstr(h->head, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n")) {
        if (strncasecmp(l + 2, "content-length:", 15) == 0) {
            char *e;
            long long v = strtoll(l + 17, &e, 10);
            if (v < 0 || (*e != '\r' && *e != ' '))
                return -1;
            h->body_left = v;
        }
    }
    return h->body_left >= 0 ? 0 : -1;
}

int etls_http_resp_feed(etls_http_resp_t *h, const uint8_t *p, size_t n)
{
    if (!h->head_done) {
        size_t take = n < sizeof h->head - 1 - h->head_len ? n : sizeof h->head - 1 - h->head_len;
        memcpy(h->head + h->head_len, p, take);
        size_t old = h->head_len;
        h->head_len += take;
        h->head[h->head_len] = 0;
        size_t from = old > 3 ? old - 3 : 0;
        char *e = memmem(h->head + from, h->head_len - from, "\r\n\r\n", 4);
        if (!e)
            return h->head_len == sizeof h->head - 1 ? -1 : 0;
        size_t end = (size_t)(e - h->head) + 4;
        h->body_left = -1;
        if (parse_head(h, end) != 0)
            return -1;
        h->head_done = 1;
        size_t used = end - old; /* bytes of p that belonged to the head */
        p += used;
        n -= used;
    }
    if ((int64_t)n > h->body_left)
        return -1; /* more than the body: a pipelining server would be wrong here */
    h->body_left -= (int64_t)n;
    return h->body_left == 0;
}
