/* libFuzzer harness for the responder's HTTP/1.x request parser and reply generator
 * (dataplane/http). Input: one byte choosing how the rest is split into arrivals, then a byte
 * stream from a client. The stream is served the way a transport serves it (pipelined requests,
 * a pending buffer the parser consumes from, every reply drained through reply_next/consume),
 * once in one piece and once split into arrivals. Contract checked:
 *   - no crash, no out-of-bounds read (ASan), results and request fields in their ranges,
 *     consumed never beyond what was given;
 *   - the interpretation does not depend on how the bytes arrived (TCP segmentation): both
 *     runs see the same sequence of requests and answers;
 *   - every reply is its head plus exactly body_len pattern bytes (byte i of a body is
 *     ETLS_HTTP_PATTERN[i % 61]), and an error reply closes the connection.
 * Also replayed without libFuzzer by fuzz/replay.c over fuzz/corpus/http. */
#include "http/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HEADER 1024
#define SIZE_MAX_BYTES 70000 /* /bytes/N bound: keeps draining cheap, still several records */
#define MAX_EVENTS 1024 /* > 6000 input bytes / the shortest request (~17 bytes) */

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_http: contract violated: %s\n", what);
        abort();
    }
}

typedef struct event {
    int res;
    etls_http_req_t req;
    uint64_t reply_bytes;
} event_t;

typedef struct run {
    event_t ev[MAX_EVENTS];
    size_t nev;
    int closed;
} run_t;

static etls_http_responder_t responder;
static int responder_ready;

/* Sends the whole reply as a transport would, checking its shape. Returns the bytes sent. */
static uint64_t drain(etls_http_result_t res, const etls_http_req_t *req, int *close)
{
    static etls_http_reply_t rep;
    static uint8_t scratch[16384 + 64];
    etls_http_reply_start(&responder, res, req, &rep);
    uint64_t sent = 0, body_seen = 0, head_len = rep.head_len, body_len = rep.body_len;
    check(rep.active, "a started reply is active");
    for (int guard = 0; rep.active; guard++) {
        const uint8_t *p = NULL;
        uint64_t before = rep.head_off + rep.body_off;
        size_t n = etls_http_reply_next(&responder, &rep, scratch, sizeof scratch, &p);
        check(n > 0 || !rep.active, "an active reply offers bytes");
        if (!n)
            break;
        check(n <= ETLS_HTTP_SPAN_MAX && p != NULL, "window bounded");
        /* body bytes in this window follow the pattern (the head comes first) */
        uint64_t head_left = head_len > before ? head_len - before : 0;
        for (size_t i = head_left < n ? (size_t)head_left : n; i < n; i++, body_seen++) {
            uint64_t at = before + i - head_len;
            check(p[i] == (uint8_t)ETLS_HTTP_PATTERN[at % ETLS_HTTP_PATTERN_LEN], "body pattern");
        }
        /* take it in two steps when possible: partial sends must work */
        size_t first = n > 1 ? n / 2 : n;
        etls_http_reply_consume(&rep, first);
        if (first < n)
            etls_http_reply_consume(&rep, n - first);
        sent += n;
        check(guard < 4096, "reply ends");
        (void)before;
    }
    check(sent == head_len + body_len, "reply is head plus body");
    check(body_seen == body_len, "body length");
    if (res != ETLS_HTTP_REQUEST)
        check(rep.close, "an error reply closes");
    *close = rep.close;
    return sent;
}

static void serve(const uint8_t *data, size_t size, const size_t *cuts, size_t ncuts, run_t *r)
{
    static uint8_t pend[8192];
    static etls_http_parser_t ps;
    size_t plen = 0, at = 0;
    memset(r, 0, sizeof *r);
    etls_http_parser_init(&ps, MAX_HEADER);
    for (size_t k = 0; k <= ncuts && !r->closed; k++) {
        size_t end = k < ncuts ? cuts[k] : size;
        if (end > size)
            end = size;
        if (end < at)
            continue;
        /* the transport bounds what it holds: with no room left the head is too large anyway */
        size_t take = end - at;
        if (take > sizeof pend - plen)
            take = sizeof pend - plen;
        memcpy(pend + plen, data + at, take);
        plen += take;
        at += take;
        for (;;) {
            size_t consumed = 0;
            etls_http_req_t req;
            memset(&req, 0, sizeof req);
            etls_http_result_t res = etls_http_parse(&ps, pend, plen, &consumed, &req);
            check(consumed <= plen, "consumed within the input");
            check(res >= ETLS_HTTP_NEED_MORE && res <= ETLS_HTTP_VERSION, "result in range");
            memmove(pend, pend + consumed, plen - consumed);
            plen -= consumed;
            if (res == ETLS_HTTP_NEED_MORE) {
                check(consumed > 0 || plen <= MAX_HEADER || ps.in_body, "head bounded");
                break;
            }
            if (res == ETLS_HTTP_REQUEST) {
                check(req.version_minor <= 1, "version");
                check(req.target <= ETLS_HTTP_T_BAD_SIZE, "target");
            }
            check(r->nev < MAX_EVENTS, "events bounded by the input");
            event_t *e = &r->ev[r->nev++];
            e->res = res;
            e->req = res == ETLS_HTTP_REQUEST ? req : (etls_http_req_t){0};
            int close = 0;
            e->reply_bytes = drain(res, &req, &close);
            if (close || res != ETLS_HTTP_REQUEST) {
                r->closed = 1;
                break;
            }
            etls_http_parser_init(&ps, MAX_HEADER); /* next pipelined request */
            if (!plen)
                break;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static run_t whole, split;
    size_t cuts[256], ncuts = 0;
    if (size < 1 || size > 6000)
        return 0;
    if (!responder_ready) {
        check(etls_http_responder_init(&responder, "fuzz body\n", 10) == 0, "responder init");
        etls_http_responder_set_sizes(&responder, -1, SIZE_MAX_BYTES);
        responder_ready = 1;
    }
    /* arrivals: every (seed % 7 + 1) bytes, the step varying with the data */
    uint8_t seed = data[0];
    data++;
    size--;
    for (size_t at = 0; at < size && ncuts < 256;) {
        at += (size_t)(seed % 7) + 1 + (at < size ? data[at] % 3 : 0);
        cuts[ncuts++] = at;
    }
    serve(data, size, NULL, 0, &whole);
    serve(data, size, cuts, ncuts, &split);
    /* Same requests in the same order; the split run may still be waiting for the rest of the
     * last request when the whole run already saw it complete -- not when input ended. */
    check(whole.nev == split.nev, "segmentation changes the number of requests");
    for (size_t i = 0; i < whole.nev; i++) {
        check(whole.ev[i].res == split.ev[i].res, "segmentation changes a result");
        check(whole.ev[i].reply_bytes == split.ev[i].reply_bytes, "segmentation changes a reply");
        if (whole.ev[i].res == ETLS_HTTP_REQUEST)
            check(whole.ev[i].req.target == split.ev[i].req.target &&
                      whole.ev[i].req.size == split.ev[i].req.size &&
                      whole.ev[i].req.keep_alive == split.ev[i].req.keep_alive &&
                      whole.ev[i].req.head == split.ev[i].req.head,
                  "segmentation changes a request");
    }
    return 0;
}
