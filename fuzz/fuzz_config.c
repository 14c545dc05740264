/* libFuzzer harness for the configuration parser (dataplane/config): arbitrary bytes as a
 * configuration file, then semantic validation. Checks the parser's contract: it never
 * crashes or reads out of bounds, every error message is a NUL-terminated "fuzz.conf:LINE: "
 * (or "fuzz.conf: ") line, and an accepted configuration stays inside every documented bound.
 * Also replayed without libFuzzer by fuzz/replay.c over fuzz/corpus/config. */
#include "config/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_config: contract violated: %s\n", what);
        abort();
    }
}

static void check_accepted(const etls_config_t *c)
{
    check(c->nlisteners <= ETLS_CONFIG_MAX_LISTENERS && c->ncerts <= ETLS_CONFIG_MAX_CERTS &&
              c->nbackends <= ETLS_CONFIG_MAX_BACKENDS,
          "section counts");
    check(c->alpn_len <= ETLS_CONFIG_ALPN_MAX && c->nsuites <= ETLS_CONFIG_MAX_SUITES &&
              c->ngroups <= ETLS_CONFIG_MAX_GROUPS && c->ncpus <= ETLS_CONFIG_MAX_CPUS,
          "list lengths");
    /* the ALPN list is well-formed wire format */
    for (size_t off = 0; off < c->alpn_len; off += 1 + c->alpn[off])
        check(c->alpn[off] > 0 && off + 1 + c->alpn[off] <= c->alpn_len, "alpn wire format");
    check(c->workers <= ETLS_CONFIG_MAX_WORKERS, "workers");
    check(c->max_connections >= 1 && c->max_connections <= ETLS_CONFIG_MAX_CONNECTIONS, "max_connections");
    check(c->buffer_size >= ETLS_CONFIG_MIN_BUFFER && c->buffer_size <= ETLS_CONFIG_MAX_BUFFER, "buffer_size");
    check(c->handshake_timeout_ms >= 100 && c->idle_timeout_ms >= 100, "timeouts");
    check(c->body_len < ETLS_CONFIG_BODY_MAX && c->body[c->body_len] == 0, "body");
    for (size_t i = 0; i < c->nlisteners; i++)
        check(c->listeners[i].addr.len > 0 && memchr(c->listeners[i].addr.text, 0, sizeof c->listeners[i].addr.text),
              "listener address");
    for (size_t i = 0; i < c->ncerts; i++)
        check(c->certs[i].nnames <= ETLS_CONFIG_MAX_NAMES && c->certs[i].chain[0] && c->certs[i].key[0], "cert");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static etls_config_t cfg; /* large: static, reset per input */
    char err[512];
    if (size > ETLS_CONFIG_FILE_MAX)
        return 0;
    etls_config_defaults(&cfg);
    memset(err, 0x55, sizeof err);
    int rc = etls_config_parse_buf(&cfg, "fuzz.conf", (const char *)data, size, err, sizeof err);
    if (rc == 0) {
        check_accepted(&cfg);
        strcpy(cfg.source, "fuzz.conf");
        memset(err, 0x55, sizeof err);
        rc = etls_config_validate(&cfg, err, sizeof err);
    }
    if (rc != 0) {
        check(memchr(err, 0, sizeof err) != NULL, "error message terminated");
        check(strncmp(err, "fuzz.conf:", 10) == 0, "error message names the file");
        check(strchr(err, '\n') == NULL, "error message is one line");
    }
    return 0;
}
