/* The session layer (dataplane/session) driven directly, as a transport would: plaintext
 * sessions (no TLS context), so every byte and flag is predictable. The engine side of a
 * session (parking, alerts) is exercised by the tls, e2e and dpdk suites through both
 * transports; this checks the transport-independent rules themselves:
 *   - echo: bytes in come back out; FIN (transport_eof) with everything echoed starts the close
 *   - responder: pipelined requests answered in order, one response in flight at a time,
 *     "Connection: close" and errors end the session, counters counted once per request
 *   - closing: a plaintext session goes straight to closing == 2 (no close_notify to send)
 *   - buffers: out is not compacted while out_busy, app not while app_busy
 *   - etls_sess_input_ended, etls_sess_end wiping plaintext up to its high-water mark */
#include "session/session.h"

#include "test.h"

#include <stdlib.h>
#include <string.h>

#define CAP 65536

static uint8_t mem[4][CAP];
static uint64_t handshakes, hs_failures, errors, requests;

static void ctx(etls_sess_ctx_t *x, etls_mode_t mode, const etls_http_responder_t *http)
{
    etls_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.mode = mode;
    cfg.max_header_size = 8192;
    etls_sess_ctx_init(x, &cfg, NULL, http, NULL, "test");
    x->handshakes = &handshakes;
    x->hs_failures = &hs_failures;
    x->errors = &errors;
    x->requests = &requests;
    handshakes = hs_failures = errors = requests = 0;
}

static void start(etls_sess_t *s, const etls_sess_ctx_t *x)
{
    memset(s, 0, sizeof *s);
    etls_tls_buf_t *b[4] = {&s->rx, &s->out, &s->app, &s->bk};
    for (int i = 0; i < 4; i++) {
        b[i]->base = mem[i];
        b[i]->cap = CAP;
    }
    etls_sess_start(s, x, 1); /* asks for TLS, but the context has none: plaintext */
}

static void feed(etls_sess_t *s, const char *text)
{
    size_t n = strlen(text);
    memcpy(s->rx.base + s->rx.len, text, n);
    s->rx.len += n;
}

/* What a transport's pump does with one batch of input; returns the progress flags. */
static int pump(etls_sess_t *s, const etls_sess_ctx_t *x, int eof)
{
    int r = 0;
    for (int i = 0; i < 16; i++) {
        int p = etls_sess_input(s, x) & ETLS_SESS_PROGRESS;
        if (x->mode == ETLS_MODE_RESPONDER)
            p |= etls_sess_http(s, x);
        p |= etls_sess_output(s, x, eof, 0);
        r |= p;
        if (!p)
            break;
    }
    return r;
}

static size_t out_pending(const etls_sess_t *s) { return s->out.len - s->out_off; }

static void test_echo(void)
{
    etls_sess_ctx_t x;
    etls_sess_t s;
    ctx(&x, ETLS_MODE_ECHO, NULL);
    start(&s, &x);
    CHECK(s.tls == 0 && !s.hs_done);
    int in = etls_sess_input(&s, &x);
    CHECK(in & ETLS_SESS_ESTABLISHED); /* plaintext: established at once, not a TLS handshake */
    CHECK(s.hs_done && handshakes == 0);
    CHECK((etls_sess_input(&s, &x) & ETLS_SESS_ESTABLISHED) == 0); /* reported once */

    feed(&s, "hello, ");
    feed(&s, "world");
    CHECK(pump(&s, &x, 0));
    CHECK(out_pending(&s) == 12 && memcmp(s.out.base + s.out_off, "hello, world", 12) == 0);
    CHECK(s.closing == 0);
    CHECK(!etls_sess_input_ended(&s, 0));

    /* The transport sends it, then the client's FIN: echo has nothing left, so it closes, and
     * a plaintext session has no close_notify to append (closing goes to 2 directly). */
    s.out_off = s.out.len;
    CHECK(etls_sess_input_ended(&s, 1));
    pump(&s, &x, 1);
    CHECK(s.closing == 2 && !s.abort_after && !s.fail);
    CHECK(s.app_hw >= 12);

    /* End: plaintext wiped up to the high-water mark. */
    CHECK(memcmp(mem[2], "hello, world", 12) == 0);
    etls_sess_end(&s);
    uint8_t zero[12] = {0};
    CHECK(memcmp(mem[2], zero, 12) == 0 && s.app_hw == 0);
}

static void test_pinned_buffers(void)
{
    etls_sess_ctx_t x;
    etls_sess_t s;
    ctx(&x, ETLS_MODE_ECHO, NULL);
    start(&s, &x);
    feed(&s, "abcdef");
    pump(&s, &x, 0);
    CHECK(out_pending(&s) == 6);
    /* Nearly full, so the next append would move the unsent bytes to the front, except that
     * a send from `out` is in flight: 3 bytes went, the rest is still being sent. */
    memset(s.out.base + s.out.len, 'x', CAP - 2000 - s.out.len);
    s.out.len = CAP - 2000;
    s.out_off = 3;
    s.out_busy = 1;
    feed(&s, "gh");
    pump(&s, &x, 0);
    CHECK(s.out_off == 3 && memcmp(s.out.base + 3, "def", 3) == 0);
    CHECK(s.out.len == CAP - 1998 && memcmp(s.out.base + CAP - 2000, "gh", 2) == 0);
    /* The send completed: now the unsent rest is moved down before the next append. */
    s.out_busy = 0;
    feed(&s, "i");
    pump(&s, &x, 0);
    CHECK(s.out_off == 0 && memcmp(s.out.base, "def", 3) == 0);
    CHECK(s.out.len == CAP - 1998 - 3 + 1 && s.out.base[s.out.len - 1] == 'i');
    etls_sess_end(&s);
}

static void test_responder(void)
{
    etls_http_responder_t r;
    CHECK(etls_http_responder_init(&r, "body!", 5) == 0);
    etls_sess_ctx_t x;
    etls_sess_t s;
    ctx(&x, ETLS_MODE_RESPONDER, &r);
    start(&s, &x);
    etls_sess_input(&s, &x);

    /* Two pipelined requests and half of a third: two responses, in order, nothing more. */
    feed(&s, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTT");
    pump(&s, &x, 0);
    CHECK(requests == 2 && errors == 0);
    size_t n = out_pending(&s);
    const char *o = (const char *)s.out.base + s.out_off;
    const char *first = memmem(o, n, "HTTP/1.1 200", 12);
    CHECK(first == o);
    CHECK(first && memmem(first + 12, n - (size_t)(first + 12 - o), "HTTP/1.1 200", 12) != NULL);
    CHECK(s.closing == 0 && !s.http_done);

    /* The rest of the third with "Connection: close": answered, then the session closes. */
    feed(&s, "P/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    pump(&s, &x, 0);
    CHECK(requests == 3 && s.http_done && s.closing == 2);
    /* Nothing after a closing request is parsed. */
    size_t out0 = out_pending(&s);
    feed(&s, "GET /d HTTP/1.1\r\nHost: x\r\n\r\n");
    pump(&s, &x, 0);
    CHECK(requests == 3 && out_pending(&s) == out0);
    etls_sess_end(&s);

    /* A malformed request: an error response, counted as a request and an error, and the
     * session closes after it. */
    requests = errors = 0;
    start(&s, &x);
    etls_sess_input(&s, &x);
    feed(&s, "NONSENSE\r\n\r\n");
    pump(&s, &x, 0);
    CHECK_MSG(requests == 1 && errors == 1 && s.closing == 2 && s.http_done, "req %lu err %lu closing %d done %d", (unsigned long)requests, (unsigned long)errors, s.closing, s.http_done);
    CHECK(out_pending(&s) > 9 && memcmp(s.out.base + s.out_off, "HTTP/1.1 4", 10) == 0);
    etls_sess_end(&s);
    etls_http_responder_free(&r);
}

static void test_proxy_closing(void)
{
    etls_sess_ctx_t x;
    etls_sess_t s;
    ctx(&x, ETLS_MODE_PROXY, NULL);
    start(&s, &x);
    etls_sess_input(&s, &x);
    /* Backend plaintext goes out; the session never closes by itself in proxy mode (the
     * backend side decides), even after the client's FIN. */
    memcpy(s.bk.base, "from backend", 12);
    s.bk.len = 12;
    etls_sess_bk_written(&s);
    pump(&s, &x, 1);
    CHECK(out_pending(&s) == 12 && s.bk_off == 12 && s.closing == 0);
    /* Client bytes still reach app after our close started (half-close: the backend finished
     * first, the client may still send). */
    etls_sess_start_close(&s);
    CHECK(s.closing == 2);
    feed(&s, "late");
    pump(&s, &x, 1);
    CHECK(s.app.len - s.app_off == 4 && memcmp(s.app.base + s.app_off, "late", 4) == 0);
    /* app nearly full and pinned by a backend send (2 bytes went, the rest is in flight):
     * not compacted under it; once the send completed, it is. */
    memset(s.app.base + s.app.len, 'y', CAP - 2000 - s.app.len);
    s.app.len = CAP - 2000;
    s.app_off = 2;
    s.app_busy = 1;
    feed(&s, "r");
    pump(&s, &x, 1);
    CHECK(s.app_off == 2 && memcmp(s.app.base + 2, "te", 2) == 0 && s.app.base[CAP - 2000] == 'r');
    s.app_busy = 0;
    feed(&s, "s");
    pump(&s, &x, 1);
    CHECK(s.app_off == 0 && memcmp(s.app.base, "te", 2) == 0 && s.app.base[s.app.len - 1] == 's');
    CHECK(s.bk_hw == 12);
    etls_sess_end(&s);
    uint8_t zero[12] = {0};
    CHECK(memcmp(mem[3], zero, 12) == 0);
}

int main(void)
{
    test_echo();
    test_pinned_buffers();
    test_responder();
    test_proxy_closing();
    return etls_test_summary("session");
}
