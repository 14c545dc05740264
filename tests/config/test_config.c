/* Configuration parser and command line: accepted inputs give the exact values, every kind of
 * mistake gives the exact message with file and line. */
#include "config/config.h"

#include "common/err.h"
#include "test.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64], chain[128], key[128];
static etls_config_t cfg;
static char err[1024];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

/* Parses text as "t.conf" on top of defaults, then validates; returns the parse/validate rc. */
static int parse(const char *text)
{
    etls_config_defaults(&cfg);
    err[0] = 0;
    int rc = etls_config_parse_buf(&cfg, "t.conf", text, strlen(text), err, sizeof err);
    if (rc == 0) {
        strcpy(cfg.source, "t.conf");
        rc = etls_config_validate(&cfg, err, sizeof err);
    }
    return rc;
}

#define EXPECT_ERR(text, msg)                                                                     \
    do {                                                                                          \
        int rc_ = parse(text);                                                                    \
        CHECK_MSG(rc_ == ETLS_ERR_INVALID && strcmp(err, msg) == 0, "got rc %d '%s', want '%s'", \
                  rc_, err, msg);                                                                 \
    } while (0)

static char *with_cert(const char *prefix, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s[cert]\nchain %s\nkey %s\n", prefix, chain, key);
    return buf;
}

static void test_full(void)
{
    char text[4096];
    snprintf(text, sizeof text,
             "# edge\n"
             "mode proxy   # trailing comment\n"
             "log_level debug\n"
             "workers 2\n"
             "cpus 0,2-3\n"
             "alpn h2, http/1.1\n"
             "ciphers TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256\n"
             "groups x25519,secp256r1\n"
             "max_connections 1000\n"
             "buffer_size 64k\n"
             "max_header_size 16k\n"
             "handshake_timeout 500ms\n"
             "idle_timeout 2m\n"
             "shutdown_timeout 3\n"
             "uring_entries 1024\n"
             "response_body \"hi \\\"there\\\"\\n\"\n"
             "\n"
             "[listener]\n"
             "address 127.0.0.1:8443\n"
             "[listener]\n"
             "address [::1]:8443\n"
             "tls off\n"
             "[ cert ]\n"
             "names Example.COM *.example.com default\n"
             "chain %s\n"
             "key %s\n"
             "[backend]\n"
             "address 127.0.0.1:8080\n"
             "proxy_protocol v2\n"
             "[backend]\n"
             "address [::1]:8081\n",
             chain, key);
    int rc = parse(text);
    CHECK_MSG(rc == 0, "%s", err);
    CHECK(cfg.mode == ETLS_MODE_PROXY);
    CHECK(cfg.log_level == ETLS_LOG_DEBUG);
    CHECK(cfg.workers == 2);
    CHECK(cfg.ncpus == 3 && cfg.cpus[0] == 0 && cfg.cpus[1] == 2 && cfg.cpus[2] == 3);
    CHECK(cfg.alpn_len == 12 && memcmp(cfg.alpn, "\x02h2\x08http/1.1", 12) == 0);
    CHECK(cfg.nsuites == 2 && cfg.suites[0] == 0x1302 && cfg.suites[1] == 0x1301);
    CHECK(cfg.ngroups == 2 && cfg.groups[0] == 0x001d && cfg.groups[1] == 0x0017);
    CHECK(cfg.max_connections == 1000);
    CHECK(cfg.buffer_size == 65536);
    CHECK(cfg.max_header_size == 16384);
    CHECK(cfg.handshake_timeout_ms == 500);
    CHECK(cfg.idle_timeout_ms == 120000);
    CHECK(cfg.shutdown_timeout_ms == 3000);
    CHECK(cfg.uring_entries == 1024);
    CHECK(cfg.body_len == 11 && memcmp(cfg.body, "hi \"there\"\n", 11) == 0);
    CHECK(cfg.nlisteners == 2);
    CHECK(strcmp(cfg.listeners[0].addr.text, "127.0.0.1:8443") == 0 && cfg.listeners[0].tls == 1);
    CHECK(cfg.listeners[0].line == 18);
    CHECK(strcmp(cfg.listeners[1].addr.text, "[::1]:8443") == 0 && cfg.listeners[1].tls == 0);
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)&cfg.listeners[0].addr.ss;
    CHECK(v4->sin_family == AF_INET && ntohs(v4->sin_port) == 8443 && ntohl(v4->sin_addr.s_addr) == 0x7f000001);
    CHECK(cfg.listeners[1].addr.ss.ss_family == AF_INET6);
    CHECK(cfg.ncerts == 1 && cfg.certs[0].nnames == 3);
    CHECK(strcmp(cfg.certs[0].names[0], "example.com") == 0);
    CHECK(strcmp(cfg.certs[0].names[1], "*.example.com") == 0);
    CHECK(strcmp(cfg.certs[0].names[2], "default") == 0);
    CHECK(strcmp(cfg.certs[0].chain, chain) == 0 && strcmp(cfg.certs[0].key, key) == 0);
    CHECK(cfg.nbackends == 2 && cfg.backends[0].proxy_v2 == 1 && cfg.backends[1].proxy_v2 == 0);
    CHECK(strcmp(cfg.backends[1].addr.text, "[::1]:8081") == 0);
}

static void test_defaults(void)
{
    char text[1024];
    int rc = parse(with_cert("[listener]\naddress *:443\n", text, sizeof text));
    CHECK_MSG(rc == 0, "%s", err);
    CHECK(cfg.mode == ETLS_MODE_RESPONDER && cfg.workers == 0 && cfg.ncpus == 0);
    CHECK(cfg.transport == ETLS_TRANSPORT_IO_URING && cfg.max_connections == 8192);
    CHECK(strcmp(cfg.listeners[0].addr.text, "0.0.0.0:443") == 0);
    CHECK(cfg.handshake_timeout_ms == 10000 && cfg.idle_timeout_ms == 60000);
    CHECK(cfg.body_len == strlen("hello from edgetls\n"));
    CHECK(cfg.session_tickets == 1 && cfg.ticket_rotation_s == 3600 && cfg.ticket_key_file[0] == 0);
    rc = parse(with_cert("session_tickets off\nticket_rotation 12h\nticket_key_file /k\n[listener]\naddress *:443\n",
                         text, sizeof text));
    CHECK_MSG(rc == 0, "%s", err);
    CHECK(cfg.session_tickets == 0 && cfg.ticket_rotation_s == 43200 && !strcmp(cfg.ticket_key_file, "/k"));
    /* CRLF line endings and a file without a final newline */
    rc = parse("mode echo\r\n[listener]\r\naddress 127.0.0.1:1\r\ntls off");
    CHECK_MSG(rc == 0, "%s", err);
    CHECK(cfg.mode == ETLS_MODE_ECHO && cfg.listeners[0].tls == 0);
}

static void test_syntax_errors(void)
{
    EXPECT_ERR("mode echo\n\nfoo 1\n", "t.conf:3: unknown key 'foo'");
    EXPECT_ERR("[listener]\naddress 127.0.0.1:1\ncert x\n", "t.conf:3: unknown key 'cert' in [listener]");
    EXPECT_ERR("[frontend]\n", "t.conf:1: unknown section [frontend]");
    EXPECT_ERR("[listener\n", "t.conf:1: bad section header '[listener'");
    EXPECT_ERR("mode\n", "t.conf:1: mode: missing value");
    EXPECT_ERR("mode proxy responder\n", "t.conf:1: mode: expected one value, got 'proxy responder'");
    EXPECT_ERR("mode fast\n", "t.conf:1: mode: expected proxy, responder or echo, got 'fast'");
    EXPECT_ERR("log_level loud\n", "t.conf:1: log_level: expected error, warn, info or debug, got 'loud'");
    EXPECT_ERR("transport netmap\n", "t.conf:1: transport: expected io_uring or dpdk, got 'netmap'");
    EXPECT_ERR("workers 2\nworkers 3\n", "t.conf:2: workers: already set at line 1");
    EXPECT_ERR("[listener]\naddress 127.0.0.1:1\naddress 127.0.0.1:2\n", "t.conf:3: address: already set at line 2");
    EXPECT_ERR("response_body \"abc\n", "t.conf:1: response_body: unterminated string");
    EXPECT_ERR("response_body \"a\\qb\"\n", "t.conf:1: response_body: bad escape in string");
    static const char nul[] = "mode echo\nmo\0de x\n";
    etls_config_defaults(&cfg);
    CHECK(etls_config_parse_buf(&cfg, "t.conf", nul, sizeof nul - 1, err, sizeof err) == ETLS_ERR_INVALID &&
          !strcmp(err, "t.conf:2: NUL byte in configuration"));
    char long_line[ETLS_CONFIG_LINE_MAX + 16];
    memset(long_line, 'a', sizeof long_line - 1);
    long_line[sizeof long_line - 1] = 0;
    EXPECT_ERR(long_line, "t.conf:1: line longer than 4095 bytes");
}

static void test_value_errors(void)
{
    EXPECT_ERR("workers abc\n", "t.conf:1: workers: bad number 'abc'");
    EXPECT_ERR("workers 12x\n", "t.conf:1: workers: bad number '12x'");
    EXPECT_ERR("workers -1\n", "t.conf:1: workers: bad number '-1'");
    EXPECT_ERR("workers 0\n", "t.conf:1: workers: value '0' out of range (1..256)");
    EXPECT_ERR("workers 99999999999999999999999\n", "t.conf:1: workers: bad number '99999999999999999999999'");
    EXPECT_ERR("max_connections 2000000\n", "t.conf:1: max_connections: value '2000000' out of range (1..1000000)");
    EXPECT_ERR("buffer_size 1k\n", "t.conf:1: buffer_size: value '1k' out of range (4096..16777216 bytes)");
    EXPECT_ERR("buffer_size 64q\n", "t.conf:1: buffer_size: bad number '64q'");
    EXPECT_ERR("handshake_timeout 50ms\n", "t.conf:1: handshake_timeout: value '50ms' out of range (100..600000 ms)");
    EXPECT_ERR("idle_timeout 2w\n", "t.conf:1: idle_timeout: bad number '2w'");
    EXPECT_ERR("idle_timeout 2d\n", "t.conf:1: idle_timeout: value '2d' out of range (100..86400000 ms)");
    EXPECT_ERR("session_tickets yes\n", "t.conf:1: session_tickets: expected on or off, got 'yes'");
    EXPECT_ERR("ticket_rotation 30s\n",
               "t.conf:1: ticket_rotation: value '30s' out of range (60000..604800000 ms)");
    EXPECT_ERR("ticket_rotation 8d\n",
               "t.conf:1: ticket_rotation: value '8d' out of range (60000..604800000 ms)");
    EXPECT_ERR("ticket_key_file\n", "t.conf:1: ticket_key_file: missing value");
    EXPECT_ERR("uring_entries 1000\n", "t.conf:1: uring_entries: must be a power of two, got '1000'");
    EXPECT_ERR("cpus 3-1\n", "t.conf:1: cpus: bad CPU range '3-1'");
    EXPECT_ERR("cpus 0,x\n", "t.conf:1: cpus: bad CPU 'x'");
    EXPECT_ERR("ciphers TLS_AES_128_GCM_SHA256:RC4-MD5\n", "t.conf:1: unknown cipher suite 'RC4-MD5'");
    EXPECT_ERR("ciphers TLS_AES_128_GCM_SHA256,TLS_AES_128_GCM_SHA256\n",
               "t.conf:1: cipher suite 'TLS_AES_128_GCM_SHA256' listed twice");
    EXPECT_ERR("groups x448\n", "t.conf:1: unknown group 'x448'");
    EXPECT_ERR("[backend]\naddress 1.2.3.4\n",
               "t.conf:2: address: bad address '1.2.3.4' (expected IPv4:port or [IPv6]:port)");
    EXPECT_ERR("[listener]\naddress 127.0.0.1:0\n",
               "t.conf:2: address: bad address '127.0.0.1:0' (expected IPv4:port or [IPv6]:port)");
    EXPECT_ERR("[listener]\naddress 127.0.0.1:65536\n",
               "t.conf:2: address: bad address '127.0.0.1:65536' (expected IPv4:port or [IPv6]:port)");
    EXPECT_ERR("[listener]\naddress ::1:443\n",
               "t.conf:2: address: bad address '::1:443' (expected IPv4:port or [IPv6]:port)");
    EXPECT_ERR("[listener]\naddress localhost:443\n",
               "t.conf:2: address: bad address 'localhost:443' (expected IPv4:port or [IPv6]:port)");
    EXPECT_ERR("[listener]\naddress 127.0.0.1:1\ntls maybe\n", "t.conf:3: tls: expected on or off, got 'maybe'");
    EXPECT_ERR("[backend]\naddress 127.0.0.1:1\nproxy_protocol v1\n",
               "t.conf:3: proxy_protocol: expected v2 or off, got 'v1'");
    EXPECT_ERR("[cert]\nnames bad..name\n", "t.conf:2: names: bad name 'bad..name'");
    EXPECT_ERR("[cert]\nnames a/b\n", "t.conf:2: names: bad name 'a/b'");
}

static void test_semantic_errors(void)
{
    char text[2048], pre[512];
    EXPECT_ERR("mode echo\n", "t.conf: no listener: add a [listener] section or --listen ADDR");
    EXPECT_ERR("[listener]\n", "t.conf:1: [listener] needs 'address'");
    EXPECT_ERR("[listener]\n[backend]\naddress 127.0.0.1:1\n", "t.conf:1: [listener] needs 'address'");
    EXPECT_ERR("[cert]\nchain /x\n", "t.conf:1: [cert] needs 'key'");
    EXPECT_ERR("[cert]\nkey /x\n[listener]\n", "t.conf:1: [cert] needs 'chain'");
    EXPECT_ERR("[backend]\n", "t.conf:1: [backend] needs 'address'");
    EXPECT_ERR("[listener]\naddress 127.0.0.1:8443\n",
               "t.conf: mode responder with a TLS listener needs a certificate: add a [cert] section "
               "or --cert FILE --key FILE");
    EXPECT_ERR(with_cert("[listener]\naddress 127.0.0.1:8443\n[listener]\naddress 127.0.0.1:8443\n", text, sizeof text),
               "t.conf:3: duplicate listener 127.0.0.1:8443 (first declared at line 1)");
    EXPECT_ERR(with_cert("mode proxy\n[listener]\naddress 127.0.0.1:8443\n", text, sizeof text),
               "t.conf: mode proxy needs a backend: add a [backend] section or --backend ADDR");
    EXPECT_ERR("[listener]\naddress 127.0.0.1:8443\n[cert]\nchain /nonexistent/c.pem\nkey /nonexistent/k.pem\n",
               "t.conf:3: chain: cannot read '/nonexistent/c.pem': No such file or directory");
    snprintf(pre, sizeof pre, "[listener]\naddress 127.0.0.1:1\n[cert]\nnames a.example\nchain %s\nkey %s\n", chain, key);
    snprintf(text, sizeof text, "%s[cert]\nnames b.example A.example\nchain %s\nkey %s\n", pre, chain, key);
    EXPECT_ERR(text, "t.conf:7: name 'a.example' already used by the [cert] at line 3");
    snprintf(text, sizeof text, "handshake_timeout 30s\nidle_timeout 10s\n%s", pre);
    EXPECT_ERR(text, "t.conf: idle_timeout (10000 ms) is shorter than handshake_timeout (30000 ms)");
    /* plaintext-only listeners need no certificate */
    CHECK(parse("mode echo\n[listener]\naddress 127.0.0.1:1\ntls off\n") == 0);
}

/* client_auth, client_ca, client_crl, client_verify_depth in [listener] and [cert]. */
static void test_client_auth(void)
{
    char text[2048];
    snprintf(text, sizeof text, "[listener]\naddress 127.0.0.1:1\nclient_auth required\nclient_ca %s\n"
             "client_crl %s\nclient_verify_depth 2\n[cert]\nchain %s\nkey %s\nclient_auth off\n"
             "[cert]\nnames b.example\nchain %s\nkey %s\nclient_auth optional\nclient_ca %s\n",
             chain, chain, chain, key, chain, key, chain);
    CHECK_MSG(parse(text) == 0, "%s", err);
    const etls_config_client_auth_t *l = &cfg.listeners[0].client, *c0 = &cfg.certs[0].client,
                                    *c1 = &cfg.certs[1].client;
    CHECK(l->set && l->mode == 2 && !strcmp(l->ca, chain) && !strcmp(l->crl, chain) && l->depth_set && l->depth == 2);
    CHECK(c0->set && c0->mode == 0 && !c0->ca[0]);
    CHECK(c1->set && c1->mode == 1 && !strcmp(c1->ca, chain) && !c1->depth_set);
    CHECK(parse(with_cert("[listener]\naddress 127.0.0.1:1\n", text, sizeof text)) == 0 && !cfg.listeners[0].client.set);
    EXPECT_ERR(with_cert("[listener]\naddress 127.0.0.1:1\nclient_auth yes\n", text, sizeof text),
               "t.conf:3: client_auth: expected off, optional or required, got 'yes'");
    EXPECT_ERR(with_cert("[listener]\naddress 127.0.0.1:1\nclient_auth optional\n", text, sizeof text),
               "t.conf:1: [listener] client_auth optional needs client_ca FILE (the trust anchors)");
    EXPECT_ERR(with_cert("[listener]\naddress 127.0.0.1:1\nclient_auth required\nclient_ca /nonexistent/ca.pem\n", text, sizeof text),
               "t.conf:1: client_ca: cannot read '/nonexistent/ca.pem': No such file or directory");
    EXPECT_ERR(with_cert("[listener]\naddress 127.0.0.1:1\nclient_verify_depth 3\n", text, sizeof text),
               "t.conf:1: [listener] client_ca, client_crl or client_verify_depth without client_auth optional or required");
    EXPECT_ERR(with_cert("[listener]\naddress 127.0.0.1:1\nclient_verify_depth -1\n", text, sizeof text),
               "t.conf:3: client_verify_depth: bad number '-1'");
    EXPECT_ERR(with_cert("[listener]\naddress 127.0.0.1:1\nclient_auth off\nclient_auth required\n", text, sizeof text),
               "t.conf:4: client_auth: already set at line 3");
    EXPECT_ERR("client_auth required\n", "t.conf:1: unknown key 'client_auth'");
}

static int args(char *const *argv)
{
    etls_cli_t cli;
    int argc = 0;
    while (argv[argc])
        argc++;
    err[0] = 0;
    return etls_config_from_args(&cfg, &cli, argc, (char **)argv, err, sizeof err);
}

static void test_cli(void)
{
    char path[160];
    snprintf(path, sizeof path, "%s/e.conf", dir);
    char text[1024];
    write_file(path, with_cert("workers 2\nidle_timeout 30s\n[listener]\naddress 127.0.0.1:9000\n", text, sizeof text));
    char *a1[] = {"edgetls", "--config", path, "--workers", "3", "--listen", "127.0.0.1:9443", "--listen",
                  "[::1]:9443", "--idle-timeout", "45s", NULL};
    CHECK_MSG(args(a1) == 0, "%s", err);
    CHECK(cfg.workers == 3 && cfg.idle_timeout_ms == 45000);
    CHECK(cfg.nlisteners == 2 && strcmp(cfg.listeners[0].addr.text, "127.0.0.1:9443") == 0);
    CHECK(cfg.ncerts == 1 && strcmp(cfg.source, path) == 0);

    char *a2[] = {"edgetls", "--listen", "127.0.0.1:8443", "--cert", chain, "--key", key, "--mode", "responder",
                  "--sni", "localhost", NULL};
    CHECK_MSG(args(a2) == 0, "%s", err);
    CHECK(cfg.ncerts == 1 && cfg.certs[0].nnames == 1 && strcmp(cfg.certs[0].names[0], "localhost") == 0);

    char *a3[] = {"edgetls", "--listen", "127.0.0.1:1", "--plaintext", "--mode", "proxy", "--backend",
                  "127.0.0.1:2", "--proxy-protocol", "v2", NULL};
    CHECK_MSG(args(a3) == 0, "%s", err);
    CHECK(cfg.listeners[0].tls == 0 && cfg.nbackends == 1 && cfg.backends[0].proxy_v2 == 1);

    char *b1[] = {"edgetls", "--bogus", NULL};
    CHECK(args(b1) == ETLS_ERR_INVALID && !strcmp(err, "command line: unknown option '--bogus' (see --help)"));
    char *b2[] = {"edgetls", "--listen", "127.0.0.1:1", "--cert", chain, NULL};
    CHECK(args(b2) == ETLS_ERR_INVALID &&
          !strcmp(err, "command line: --cert and --key must be given in pairs (1 --cert, 0 --key)"));
    char *b3[] = {"edgetls", "--listen", "127.0.0.1:1", "--plaintext", "--workers", "0", NULL};
    CHECK(args(b3) == ETLS_ERR_INVALID && !strcmp(err, "command line: workers: value '0' out of range (1..256)"));
    char *b4[] = {"edgetls", "--listen", "nowhere", NULL};
    CHECK(args(b4) == ETLS_ERR_INVALID &&
          !strcmp(err, "command line: --listen: bad address 'nowhere' (expected IPv4:port or [IPv6]:port)"));
    char *b5[] = {"edgetls", "--config", "/nonexistent/edgetls.conf", NULL};
    CHECK(args(b5) == ETLS_ERR_INVALID &&
          !strcmp(err, "/nonexistent/edgetls.conf: cannot open: No such file or directory"));
    char *b6[] = {"edgetls", "--listen", "127.0.0.1:1", NULL};
    CHECK(args(b6) == ETLS_ERR_INVALID &&
          !strncmp(err, "command line: mode responder with a TLS listener needs a certificate", 68));
    char *b7[] = {"edgetls", "--workers", NULL};
    CHECK(args(b7) == ETLS_ERR_INVALID && !strcmp(err, "command line: option '--workers' needs a value"));
    char *b8[] = {"edgetls", "stray", NULL};
    CHECK(args(b8) == ETLS_ERR_INVALID && !strcmp(err, "command line: unexpected argument 'stray'"));
    /* an error in the file named by --config carries the file name and line */
    write_file(path, "log_level info\nworkers x\n");
    char *b9[] = {"edgetls", "-c", path, NULL};
    char want[256];
    snprintf(want, sizeof want, "%s:2: workers: bad number 'x'", path);
    CHECK(args(b9) == ETLS_ERR_INVALID && !strcmp(err, want));
    /* "--" hands the rest to the DPDK transport, and only to it */
    char *d1[] = {"edgetls", "--listen", "127.0.0.1:1", "--plaintext", "--", "-l", "0", NULL};
    CHECK(args(d1) == ETLS_ERR_INVALID &&
          !strcmp(err, "command line: arguments after '--' are for the DPDK transport (--transport dpdk)"));
    char *d2[] = {"edgetls", "--listen", "127.0.0.1:1", "--plaintext", "--transport", "dpdk", "--", "-l", "0", NULL};
    etls_cli_t dc;
    CHECK(etls_config_from_args(&cfg, &dc, 9, d2, err, sizeof err) == 0);
    CHECK(cfg.transport == ETLS_TRANSPORT_DPDK && dc.rest == 7 && !strcmp(d2[dc.rest], "-l"));
    char *h[] = {"edgetls", "--help", NULL};
    etls_cli_t cli;
    CHECK(etls_config_from_args(&cfg, &cli, 2, h, err, sizeof err) == 0 && cli.help == 1);
    unlink(path);
}

/* tls12_rsa_kx: off by default; its suites named in ciphers only with it; flag and key. */
static void test_rsa_kx(void)
{
    char text[1024], pre[512];
    snprintf(pre, sizeof pre, "[listener]\naddress 127.0.0.1:1\n[cert]\nchain %s\nkey %s\n", chain, key);
    CHECK(parse(pre) == 0 && cfg.tls12_rsa_kx == 0);
    snprintf(text, sizeof text, "tls12_rsa_kx on\n%s", pre);
    CHECK_MSG(parse(text) == 0 && cfg.tls12_rsa_kx == 1, "%s", err);
    snprintf(text, sizeof text, "tls12_rsa_kx on\nciphers ECDHE-RSA-AES128-GCM-SHA256:AES128-GCM-SHA256:"
             "TLS_RSA_WITH_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256\n%s", pre);
    CHECK_MSG(parse(text) == 0, "%s", err);
    CHECK(cfg.nsuites == 4 && cfg.suites[1] == 0x009c && cfg.suites[2] == 0x009d);
    snprintf(text, sizeof text, "tls12_rsa_kx on\nciphers TLS_AES_256_GCM_SHA384\n%s", pre);
    CHECK_MSG(parse(text) == 0, "TLS 1.3 names only: TLS 1.2 defaults plus RSA: %s", err);
    static const char need_on[] =
        "t.conf: ciphers: AES128-GCM-SHA256/AES256-GCM-SHA384 (TLS_RSA_WITH_AES_*_GCM_*) are the legacy "
        "RSA key exchange, without forward secrecy: enable them with 'tls12_rsa_kx on' "
        "(--tls12-rsa-kx on) or remove them";
    snprintf(text, sizeof text, "ciphers ECDHE-RSA-AES128-GCM-SHA256:AES256-GCM-SHA384\n%s", pre);
    EXPECT_ERR(text, need_on);
    snprintf(text, sizeof text, "tls12_rsa_kx off\nciphers TLS_RSA_WITH_AES_128_GCM_SHA256\n%s", pre);
    EXPECT_ERR(text, need_on);
    snprintf(text, sizeof text, "tls12_rsa_kx on\nciphers ECDHE-RSA-AES128-GCM-SHA256\n%s", pre);
    EXPECT_ERR(text, "t.conf: tls12_rsa_kx on, but ciphers lists TLS 1.2 suites without AES128-GCM-SHA256 "
                     "or AES256-GCM-SHA384: add them where they belong in the order");
    snprintf(text, sizeof text, "tls12_rsa_kx on\nprotocols tls1.3\n%s", pre);
    EXPECT_ERR(text, "t.conf: tls12_rsa_kx on needs tls1.2 in protocols");
    EXPECT_ERR("tls12_rsa_kx maybe\n", "t.conf:1: tls12_rsa_kx: expected on or off, got 'maybe'");
    EXPECT_ERR("tls12_rsa_kx on\ntls12_rsa_kx off\n", "t.conf:2: tls12_rsa_kx: already set at line 1");
    /* the flag, and a file listing the suites fixed by it */
    char path[160];
    snprintf(path, sizeof path, "%s/r.conf", dir);
    write_file(path, with_cert("ciphers AES128-GCM-SHA256\n[listener]\naddress 127.0.0.1:9000\n", text, sizeof text));
    char *a1[] = {"edgetls", "--config", path, NULL};
    CHECK(args(a1) == ETLS_ERR_INVALID && strstr(err, "tls12_rsa_kx on"));
    char *a2[] = {"edgetls", "--config", path, "--tls12-rsa-kx", "on", NULL};
    CHECK_MSG(args(a2) == 0 && cfg.tls12_rsa_kx == 1, "%s", err);
    char *a3[] = {"edgetls", "--config", path, "--tls12-rsa-kx", NULL};
    CHECK(args(a3) == ETLS_ERR_INVALID && !strcmp(err, "command line: option '--tls12-rsa-kx' needs a value"));
    unlink(path);
}

/* Responder synthetic bodies: response_size (unset = the static body) and response_size_max. */
static void test_response_sizes(void)
{
    char text[1024];
    int rc = parse(with_cert("[listener]\naddress *:443\n", text, sizeof text));
    CHECK_MSG(rc == 0, "%s", err);
    CHECK(cfg.response_size == -1 && cfg.response_size_max == (1ull << 30));
    rc = parse(with_cert("response_size 0\nresponse_size_max 2g\n[listener]\naddress *:443\n", text, sizeof text));
    CHECK_MSG(rc == 0, "%s", err);
    CHECK(cfg.response_size == 0 && cfg.response_size_max == (2ull << 30));
    rc = parse(with_cert("response_size 64m\nresponse_size_max 0\n[listener]\naddress *:443\n", text, sizeof text));
    CHECK_MSG(rc == 0, "%s", err);
    CHECK(cfg.response_size == (64 << 20) && cfg.response_size_max == 0);
    EXPECT_ERR("response_size -1\n", "t.conf:1: response_size: bad number '-1'");
    EXPECT_ERR("response_size 5x\n", "t.conf:1: response_size: bad number '5x'");
    EXPECT_ERR("response_size_max 1025g\n",
               "t.conf:1: response_size_max: value '1025g' out of range (0..1099511627776 bytes)");
    EXPECT_ERR("response_size\n", "t.conf:1: response_size: missing value");
}

int main(void)
{
    strcpy(dir, "/tmp/etls-config-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    snprintf(chain, sizeof chain, "%s/chain.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    write_file(chain, "-----BEGIN CERTIFICATE-----\n");
    write_file(key, "-----BEGIN PRIVATE KEY-----\n");
    test_full();
    test_defaults();
    test_syntax_errors();
    test_value_errors();
    test_semantic_errors();
    test_client_auth();
    test_cli();
    test_rsa_kx();
    test_response_sizes();
    unlink(chain);
    unlink(key);
    rmdir(dir);
    return etls_test_summary("config");
}
