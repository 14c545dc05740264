/* HTTP/1.x request parsing per RFC 9112 (message syntax) and RFC 9110 (semantics), reduced to
 * what a static responder needs: method, version, Host, Connection, Content-Length,
 * Transfer-Encoding. Anything ambiguous is rejected (400) rather than guessed, because a
 * lenient parser in front of a backend is how request smuggling starts. */
#include "http/http.h"

#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void etls_http_parser_init(etls_http_parser_t *p, uint32_t max_header)
{
    memset(p, 0, sizeof *p);
    p->max_header = max_header;
}

/* RFC 9110 §5.6.2 tchar. */
static int is_tchar(uint8_t c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

typedef struct cursor {
    const uint8_t *p, *end;
} cursor_t;

/* Next line without its terminator (LF or CRLF; RFC 9112 §2.2 allows a bare LF). A bare CR
 * inside a line is invalid. Returns -1 on a bad line. */
static int next_line(cursor_t *c, const uint8_t **line, size_t *n)
{
    const uint8_t *lf = memchr(c->p, '\n', (size_t)(c->end - c->p));
    if (!lf)
        return -1;
    size_t len = (size_t)(lf - c->p);
    if (len && c->p[len - 1] == '\r')
        len--;
    if (memchr(c->p, '\r', len))
        return -1;
    *line = c->p;
    *n = len;
    c->p = lf + 1;
    return 0;
}

/* "/bytes/N" with an optional query: the size a benchmark client asks for. Anything after
 * "/bytes/" that is not digits up to the end or a '?' is a bad size (400), not another path. */
static void parse_target(const uint8_t *s, size_t n, etls_http_req_t *req)
{
    static const char prefix[] = "/bytes/";
    const size_t pl = sizeof prefix - 1;
    if (n < pl || memcmp(s, prefix, pl) != 0)
        return;
    size_t i = pl;
    uint64_t v = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        v = i - pl < 18 ? v * 10 + (uint64_t)(s[i] - '0') : UINT64_MAX; /* saturate: over any limit */
        i++;
    }
    if (i == pl || (i < n && s[i] != '?')) {
        req->target = ETLS_HTTP_T_BAD_SIZE;
        return;
    }
    req->target = ETLS_HTTP_T_BYTES;
    req->size = v;
}

static etls_http_result_t parse_request_line(const uint8_t *s, size_t n, etls_http_req_t *req)
{
    size_t i = 0;
    while (i < n && is_tchar(s[i]))
        i++;
    if (i == 0 || i >= n || s[i] != ' ')
        return ETLS_HTTP_BAD;
    req->head = (i == 4 && !memcmp(s, "HEAD", 4));
    size_t t = ++i;
    while (i < n && s[i] > ' ' && s[i] < 0x7f)
        i++;
    if (i == t || i >= n || s[i] != ' ')
        return ETLS_HTTP_BAD;
    parse_target(s + t, i - t, req);
    const uint8_t *v = s + i + 1;
    if (n - (i + 1) != 8 || memcmp(v, "HTTP/", 5) || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
        v[7] < '0' || v[7] > '9')
        return ETLS_HTTP_BAD;
    if (v[5] != '1' || v[7] > '1')
        return ETLS_HTTP_VERSION;
    req->version_minor = (uint8_t)(v[7] - '0');
    req->keep_alive = req->version_minor == 1; /* RFC 9112 §9.3: 1.1 persists by default */
    return ETLS_HTTP_REQUEST;
}

static int token_eq(const uint8_t *s, size_t n, const char *tok)
{
    return strlen(tok) == n && !strncasecmp((const char *)s, tok, n);
}

/* Connection: comma-separated tokens; "close" wins over "keep-alive". */
static void parse_connection(const uint8_t *v, size_t n, etls_http_req_t *req, int *close_seen)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
            i++;
        if (token_eq(v + s, i - s, "close"))
            *close_seen = 1;
        else if (token_eq(v + s, i - s, "keep-alive"))
            req->keep_alive = 1;
    }
}

static int parse_content_length(const uint8_t *v, size_t n, uint64_t *out)
{
    uint64_t x = 0;
    if (n == 0 || n > 18) /* below 10^18: never overflows */
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    *out = x;
    return 0;
}

typedef struct head_state {
    int have_host, have_cl, close_seen;
} head_state_t;

static etls_http_result_t parse_header(const uint8_t *s, size_t n, etls_http_req_t *req, head_state_t *hs)
{
    size_t i = 0;
    while (i < n && is_tchar(s[i]))
        i++;
    if (i == 0 || i >= n || s[i] != ':') /* no blank before ':' (RFC 9112 §5.1) */
        return ETLS_HTTP_BAD;
    const uint8_t *name = s;
    size_t nlen = i++;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    size_t e = n;
    while (e > i && (s[e - 1] == ' ' || s[e - 1] == '\t'))
        e--;
    for (size_t k = i; k < e; k++)
        if (s[k] == 0 || s[k] == 0x7f || (s[k] < ' ' && s[k] != '\t'))
            return ETLS_HTTP_BAD;
    const uint8_t *v = s + i;
    size_t vlen = e - i;
    if (token_eq(name, nlen, "host")) {
        if (hs->have_host++)
            return ETLS_HTTP_BAD; /* RFC 9112 §3.2: more than one Host is a 400 */
    } else if (token_eq(name, nlen, "connection")) {
        parse_connection(v, vlen, req, &hs->close_seen);
    } else if (token_eq(name, nlen, "content-length")) {
        uint64_t cl;
        if (parse_content_length(v, vlen, &cl) < 0 || (hs->have_cl && cl != req->content_length))
            return ETLS_HTTP_BAD;
        req->content_length = cl;
        hs->have_cl = 1;
    } else if (token_eq(name, nlen, "transfer-encoding")) {
        return ETLS_HTTP_NOT_IMPL;
    }
    return ETLS_HTTP_REQUEST;
}

static etls_http_result_t parse_head(const uint8_t *buf, size_t len, etls_http_req_t *req)
{
    cursor_t c = {buf, buf + len};
    const uint8_t *line;
    size_t n;
    head_state_t hs = {0, 0, 0};
    memset(req, 0, sizeof *req);
    do { /* RFC 9112 §2.2: ignore empty lines before the request line */
        if (next_line(&c, &line, &n) < 0)
            return ETLS_HTTP_BAD;
    } while (n == 0);
    etls_http_result_t r = parse_request_line(line, n, req);
    if (r != ETLS_HTTP_REQUEST)
        return r;
    for (;;) {
        if (next_line(&c, &line, &n) < 0)
            return ETLS_HTTP_BAD;
        if (n == 0)
            break;
        if ((r = parse_header(line, n, req, &hs)) != ETLS_HTTP_REQUEST)
            return r;
    }
    if (req->version_minor == 1 && !hs.have_host)
        return ETLS_HTTP_BAD;
    if (hs.close_seen)
        req->keep_alive = 0;
    return ETLS_HTTP_REQUEST;
}

/* Finds the end of the head (an empty line) at or after `from`; returns its length or 0. Leading
 * empty lines belong to the head but do not end it. */
static size_t find_head_end(const uint8_t *buf, size_t len, size_t from)
{
    size_t start = 0;
    while (start < len && (buf[start] == '\r' || buf[start] == '\n'))
        start++;
    if (from < start)
        from = start;
    for (size_t i = from; i < len; i++) {
        if (buf[i] != '\n' || i == start)
            continue;
        if (i + 1 < len && buf[i + 1] == '\n')
            return i + 2;
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

static etls_http_result_t take_body(etls_http_parser_t *p, size_t avail, size_t *consumed,
                                    etls_http_req_t *req)
{
    uint64_t take = p->body_left < avail ? p->body_left : avail;
    p->body_left -= take;
    *consumed += (size_t)take;
    if (p->body_left)
        return ETLS_HTTP_NEED_MORE;
    p->in_body = 0;
    *req = p->req;
    return ETLS_HTTP_REQUEST;
}

etls_http_result_t etls_http_parse(etls_http_parser_t *p, const uint8_t *buf, size_t len,
                                   size_t *consumed, etls_http_req_t *req)
{
    *consumed = 0;
    if (p->in_body)
        return take_body(p, len, consumed, req);
    size_t scan_len = len < p->max_header ? len : p->max_header;
    size_t end = find_head_end(buf, scan_len, p->scanned > 2 ? p->scanned - 2 : 0);
    if (!end) {
        p->scanned = scan_len;
        return len >= p->max_header ? ETLS_HTTP_TOO_LARGE : ETLS_HTTP_NEED_MORE;
    }
    p->scanned = 0;
    etls_http_result_t r = parse_head(buf, end, &p->req);
    if (r != ETLS_HTTP_REQUEST)
        return r;
    *consumed = end;
    p->body_left = p->req.content_length;
    p->in_body = 1;
    return take_body(p, len - end, consumed, req);
}

/* ---- responses ---------------------------------------------------------------------------- */

enum { R_KA11, R_KA10, R_CLOSE, R_KA11_HEAD, R_KA10_HEAD, R_CLOSE_HEAD, R_400, R_431, R_501, R_505, R_N };

static size_t build(uint8_t *out, const char *status, const char *conn, const char *body,
                    size_t body_len, int with_body)
{
    int n = sprintf((char *)out,
                    "HTTP/1.1 %s\r\nServer: edgetls\r\nContent-Type: text/plain\r\n"
                    "Content-Length: %zu\r\n%s\r\n",
                    status, body_len, conn);
    if (with_body) {
        memcpy(out + n, body, body_len);
        n += (int)body_len;
    }
    return (size_t)n;
}

int etls_http_responder_init(etls_http_responder_t *r, const char *body, size_t body_len)
{
    static const struct {
        const char *status, *conn, *body;
        int head;
    } v[R_N] = {
        [R_KA11] = {"200 OK", "", NULL, 0},
        [R_KA10] = {"200 OK", "Connection: keep-alive\r\n", NULL, 0},
        [R_CLOSE] = {"200 OK", "Connection: close\r\n", NULL, 0},
        [R_KA11_HEAD] = {"200 OK", "", NULL, 1},
        [R_KA10_HEAD] = {"200 OK", "Connection: keep-alive\r\n", NULL, 1},
        [R_CLOSE_HEAD] = {"200 OK", "Connection: close\r\n", NULL, 1},
        [R_400] = {"400 Bad Request", "Connection: close\r\n", "bad request\n", 0},
        [R_431] = {"431 Request Header Fields Too Large", "Connection: close\r\n", "request head too large\n", 0},
        [R_501] = {"501 Not Implemented", "Connection: close\r\n", "transfer-encoding not implemented\n", 0},
        [R_505] = {"505 HTTP Version Not Supported", "Connection: close\r\n", "HTTP version not supported\n", 0},
    };
    size_t cap = R_N * (256 + body_len);
    memset(r, 0, sizeof *r);
    r->mem = malloc(cap);
    r->pattern = malloc(ETLS_HTTP_SPAN_MAX + ETLS_HTTP_PATTERN_LEN);
    if (!r->mem || !r->pattern) {
        etls_http_responder_free(r);
        return ETLS_ERR_NOMEM;
    }
    for (size_t i = 0; i < ETLS_HTTP_SPAN_MAX + ETLS_HTTP_PATTERN_LEN; i++)
        r->pattern[i] = (uint8_t)ETLS_HTTP_PATTERN[i % ETLS_HTTP_PATTERN_LEN];
    r->size_max = ETLS_HTTP_DEFAULT_SIZE_MAX;
    size_t off = 0;
    for (int i = 0; i < R_N; i++) {
        const char *b = v[i].body ? v[i].body : body;
        size_t bl = v[i].body ? strlen(v[i].body) : body_len;
        r->resp[i] = r->mem + off;
        r->resp_len[i] = build(r->mem + off, v[i].status, v[i].conn, b, bl, !v[i].head);
        off += r->resp_len[i];
    }
    return 0;
}

void etls_http_responder_set_sizes(etls_http_responder_t *r, int64_t default_size, uint64_t size_max)
{
    r->default_synthetic = default_size >= 0;
    r->default_size = default_size >= 0 ? (uint64_t)default_size : 0;
    r->size_max = size_max;
}

void etls_http_responder_free(etls_http_responder_t *r)
{
    free(r->mem);
    free(r->pattern);
    memset(r, 0, sizeof *r);
}

const uint8_t *etls_http_response(const etls_http_responder_t *r, etls_http_result_t res,
                                  const etls_http_req_t *req, size_t *len, int *close)
{
    int i;
    *close = 1;
    switch (res) {
    case ETLS_HTTP_REQUEST:
        *close = !req->keep_alive;
        i = !req->keep_alive ? R_CLOSE : req->version_minor == 1 ? R_KA11 : R_KA10;
        if (req->head)
            i += R_KA11_HEAD;
        break;
    case ETLS_HTTP_TOO_LARGE: i = R_431; break;
    case ETLS_HTTP_NOT_IMPL: i = R_501; break;
    case ETLS_HTTP_VERSION: i = R_505; break;
    default: i = R_400; break;
    }
    *len = r->resp_len[i];
    return r->resp[i];
}

/* ---- replies: prebuilt, or a head built per request followed by synthetic bytes ---------- */

/* Heads built per request keep the connection as the request asked, unlike the prebuilt error
 * responses: a wrong size is a well-framed request, so the next one can follow. */
static void reply_build(etls_http_reply_t *rep, const etls_http_req_t *req, const char *status,
                        uint64_t body_len, const char *text)
{
    const char *conn = !req->keep_alive ? "Connection: close\r\n"
                       : req->version_minor == 0 ? "Connection: keep-alive\r\n" : "";
    size_t tl = text ? strlen(text) : 0;
    int n = snprintf((char *)rep->hbuf, sizeof rep->hbuf,
                     "HTTP/1.1 %s\r\nServer: edgetls\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %llu\r\n%s\r\n%s",
                     status, (unsigned long long)(text ? tl : body_len), conn,
                     text && !req->head ? text : "");
    /* every status, header and text here is a constant well below ETLS_HTTP_HEAD_MAX */
    rep->head = rep->hbuf;
    rep->head_len = n > 0 && (size_t)n < sizeof rep->hbuf ? (uint32_t)n : 0;
    rep->body_len = text || req->head ? 0 : body_len;
    rep->close = !req->keep_alive;
}

void etls_http_reply_start(const etls_http_responder_t *r, etls_http_result_t res,
                           const etls_http_req_t *req, etls_http_reply_t *rep)
{
    rep->head_off = 0;
    rep->body_len = rep->body_off = 0;
    rep->active = 1;
    rep->error = res != ETLS_HTTP_REQUEST;
    if (res == ETLS_HTTP_REQUEST && req->target == ETLS_HTTP_T_BAD_SIZE) {
        rep->error = 1;
        reply_build(rep, req, "400 Bad Request", 0, "bad size: expected /bytes/N with N a decimal number\n");
    } else if (res == ETLS_HTTP_REQUEST && req->target == ETLS_HTTP_T_BYTES && req->size > r->size_max) {
        rep->error = 1;
        reply_build(rep, req, "403 Forbidden", 0, "requested size over the limit (response_size_max)\n");
    } else if (res == ETLS_HTTP_REQUEST && req->target == ETLS_HTTP_T_BYTES) {
        reply_build(rep, req, "200 OK", req->size, NULL);
    } else if (res == ETLS_HTTP_REQUEST && r->default_synthetic) {
        reply_build(rep, req, "200 OK", r->default_size, NULL);
    } else {
        size_t len;
        int close;
        rep->head = etls_http_response(r, res, req, &len, &close);
        rep->head_len = (uint32_t)len;
        rep->close = (uint8_t)close;
    }
    if (rep->head_len == 0 && rep->body_len == 0)
        rep->active = 0; /* cannot happen with the constant heads above; never send nothing forever */
}

static void pattern_copy(const etls_http_responder_t *r, uint64_t off, uint8_t *dst, size_t n)
{
    memcpy(dst, r->pattern + off % ETLS_HTTP_PATTERN_LEN, n); /* n <= ETLS_HTTP_SPAN_MAX */
}

size_t etls_http_reply_next(const etls_http_responder_t *r, const etls_http_reply_t *rep,
                            uint8_t *scratch, size_t scratch_len, const uint8_t **p)
{
    size_t head_left = rep->head_len - rep->head_off;
    uint64_t body_left = rep->body_len - rep->body_off;
    *p = NULL;
    if (!rep->active)
        return 0;
    if (head_left && body_left && scratch && scratch_len > head_left) {
        size_t nb = body_left < scratch_len - head_left ? (size_t)body_left : scratch_len - head_left;
        if (nb > ETLS_HTTP_SPAN_MAX)
            nb = ETLS_HTTP_SPAN_MAX;
        memcpy(scratch, rep->head + rep->head_off, head_left);
        pattern_copy(r, rep->body_off, scratch + head_left, nb);
        *p = scratch;
        return head_left + nb;
    }
    if (head_left) {
        *p = rep->head + rep->head_off;
        return head_left;
    }
    *p = r->pattern + rep->body_off % ETLS_HTTP_PATTERN_LEN;
    return body_left < ETLS_HTTP_SPAN_MAX ? (size_t)body_left : ETLS_HTTP_SPAN_MAX;
}

void etls_http_reply_consume(etls_http_reply_t *rep, size_t n)
{
    size_t head_left = rep->head_len - rep->head_off;
    size_t h = n < head_left ? n : head_left;
    rep->head_off += (uint32_t)h;
    rep->body_off += n - h;
    if (rep->head_off == rep->head_len && rep->body_off >= rep->body_len)
        rep->active = 0;
}
