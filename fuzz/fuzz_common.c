#include "fuzz_common.h"

#include "../tests/tls/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static etls_tls_server_ctx_t ctx;
static test_env_t te;
static test_cert_t cert;
static int ready;

void fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: invariant violated: %s\n", file, line, what);
    abort();
}

static void setup(void)
{
    if (ready)
        return;
    FUZZ_ASSERT(test_env_init(&te, 0) == 0);
    FUZZ_ASSERT(test_cert_make(&cert, KEY_ECDSA, "fuzz.example,*.wild.example") == 0);
    FUZZ_ASSERT(etls_tls_server_ctx_init(&ctx, &te.rng) == 0);
    static const uint16_t suites[] = {0x1301, 0x1302, 0x1303, 0x1304, 0x1305};
    FUZZ_ASSERT(etls_tls_server_ctx_set_suites(&ctx, suites, 5) == 0);
    const char *alpn[] = {"h2", "http/1.1"};
    FUZZ_ASSERT(etls_tls_server_ctx_set_alpn(&ctx, alpn, 2) == 0);
    FUZZ_ASSERT(test_ctx_add(&ctx, &cert, NULL, 1) == 0);
    uint8_t tk[ETLS_TLS_TICKET_KEY_LEN] = {1, 2, 3};
    FUZZ_ASSERT(etls_tls_server_ctx_set_ticket_keys(&ctx, tk, NULL) == 0);
    ready = 1;
}

etls_tls_server_ctx_t *fuzz_ctx(void)
{
    setup();
    return &ctx;
}

etls_tls_env_t *fuzz_env(void)
{
    setup();
    return &te.env;
}

fuzz_srv_t *fuzz_srv_new(void)
{
    setup();
    fuzz_srv_t *s = aligned_alloc(_Alignof(fuzz_srv_t), sizeof *s);
    FUZZ_ASSERT(s != NULL);
    etls_tls_conn_init(&s->c, &ctx, &te.env);
    s->out = (etls_tls_buf_t){s->outb, 0, sizeof s->outb};
    s->app = (etls_tls_buf_t){s->appb, 0, sizeof s->appb};
    return s;
}

void fuzz_srv_free(fuzz_srv_t *s)
{
    etls_tls_conn_wipe(&s->c);
    free(s);
}

/* The contract of etls_tls_feed (tls.h), checked on every call. */
static void check_result(fuzz_srv_t *s, int rc, size_t used, size_t len, size_t out_before)
{
    FUZZ_ASSERT(used <= len);
    FUZZ_ASSERT(s->out.len <= s->out.cap && s->app.len <= s->app.cap);
    FUZZ_ASSERT(rc != ETLS_ERR_IN_PROGRESS); /* no batch attached */
    if (ETLS_ERR_IS_ALERT(rc)) {
        int desc = ETLS_ERR_ALERT_DESC(rc);
        FUZZ_ASSERT(etls_tls_alert_sent(&s->c) == desc || etls_tls_alert_sent(&s->c) == -1);
        FUZZ_ASSERT(s->out.len > out_before || etls_tls_alert_sent(&s->c) == -1);
    } else if (rc < 0) {
        FUZZ_ASSERT(ETLS_TLS_ERR_IS_PEER_ALERT(rc) || rc == ETLS_ERR_LIMIT);
    }
}

int fuzz_feed(fuzz_srv_t *s, const uint8_t *in, size_t len)
{
    size_t off = 0;
    int rc = 0;
    for (int guard = 0; guard < 100000; guard++) {
        size_t used = 0, before = s->out.len;
        rc = etls_tls_feed(&s->c, in + off, len - off, &used, &s->out, &s->app);
        check_result(s, rc, used, len - off, before);
        off += used;
        s->app.len = 0;
        if (rc == ETLS_ERR_LIMIT) {
            s->out.len = 0;
            continue;
        }
        if (rc < 0 || used == 0 || off == len)
            break;
    }
    if (s->out.len > s->out.cap / 2)
        s->out.len = 0;
    return rc;
}

void fuzz_feed_pieces(fuzz_srv_t *s, const uint8_t *p, size_t n, size_t piece)
{
    uint8_t *buf = malloc(n + 1);
    size_t have = 0;
    FUZZ_ASSERT(buf != NULL);
    for (size_t off = 0; off < n && !s->c.err;) {
        size_t l = n - off < piece ? n - off : piece;
        memcpy(buf + have, p + off, l);
        have += l;
        off += l;
        size_t used = 0, before = s->out.len;
        int rc = etls_tls_feed(&s->c, buf, have, &used, &s->out, &s->app);
        FUZZ_ASSERT(used <= have && rc != ETLS_ERR_IN_PROGRESS);
        FUZZ_ASSERT(!ETLS_ERR_IS_ALERT(rc) || s->out.len > before);
        memmove(buf, buf + used, have - used);
        have -= used;
        s->app.len = 0;
        if (s->out.len > s->out.cap / 2)
            s->out.len = 0;
    }
    free(buf);
}
