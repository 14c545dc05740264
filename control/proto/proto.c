/* The admin line protocol (proto.h, docs/control-protocol.md).
 *
 * Every check is made on the bytes in the order they arrive and never depends on bytes not yet
 * seen, so a request split across any number of reads gives the same request or the same error
 * as the whole buffer (fuzz/fuzz_control_proto.c checks exactly that). */
#include "proto.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest request: a full line, "\r\n", all payloads. A buffer of this size holds either a
 * whole request or a framing error once leading blank lines are dropped. */
#define READER_BOUND ((size_t)ETLS_PROTO_MAX_LINE + 2 + ETLS_PROTO_MAX_TOTAL)
#define READER_MIN_CAP 4096
#define REPLY_MAX_STATUS 16

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int is_space(uint8_t c)
{
    return c == ' ' || c == '\t';
}

/* Finds the end of the line at data[0..len): 1 with *content (bytes before the terminator) and
 * *total (with it), 0 when the terminator has not arrived yet, -1 for a bad byte or a line
 * over the limit. A '\r' is only valid right before the '\n'. */
static int frame_line(const uint8_t *data, size_t len, size_t *content, size_t *total, char *err,
                      size_t errlen)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t c = data[i];
        if (c == '\n' || (c == '\r' && i + 1 < len && data[i + 1] == '\n')) {
            *content = i;
            *total = i + (c == '\r' ? 2 : 1);
            return 1;
        }
        if (c == '\r' && i + 1 == len)
            return 0;
        if (i == ETLS_PROTO_MAX_LINE)
            return fail(err, errlen, "request line too long (limit %d bytes)", ETLS_PROTO_MAX_LINE);
        if (c == 0)
            return fail(err, errlen, "NUL byte in the request line");
        if (c >= 0x80)
            return fail(err, errlen, "non-ASCII byte 0x%02x in the request line", c);
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return fail(err, errlen, "control byte 0x%02x in the request line", c);
    }
    return 0;
}

static int blank(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_space(p[i]))
            return 0;
    return 1;
}

/* "@LEN": decimal, no sign, no leading zeros, at most ETLS_PROTO_MAX_PAYLOAD. Digits are
 * accumulated with a cap so no string of digits can overflow. */
static int payload_len(const char *name, const char *v, size_t *out, char *err, size_t errlen)
{
    const char *d = v + 1;
    size_t n = 0, ndig = 0;
    for (; d[ndig]; ndig++) {
        if (d[ndig] < '0' || d[ndig] > '9')
            break;
        if (n <= ETLS_PROTO_MAX_PAYLOAD)
            n = n * 10 + (size_t)(d[ndig] - '0');
    }
    if (ndig == 0 || d[ndig] || (ndig > 1 && d[0] == '0'))
        return fail(err, errlen, "malformed payload length '%.32s' in --%.64s (want @ and decimal digits)",
                    v, name);
    if (n > ETLS_PROTO_MAX_PAYLOAD)
        return fail(err, errlen, "payload of --%.64s too large (limit %u bytes)", name,
                    ETLS_PROTO_MAX_PAYLOAD);
    *out = n;
    return 0;
}

static int add_option(etls_proto_req_t *req, char *w, size_t *total, char *err, size_t errlen)
{
    char *name = w + 2, *eq = strchr(name, '=');
    if (eq)
        *eq = 0;
    if (!*name)
        return fail(err, errlen, "empty option name");
    if (etls_proto_opt(req, name))
        return fail(err, errlen, "option --%.64s given twice", name);
    if (req->n_opts == ETLS_PROTO_MAX_OPTS)
        return fail(err, errlen, "too many options (limit %d)", ETLS_PROTO_MAX_OPTS);
    etls_proto_opt_t *o = &req->opts[req->n_opts];
    *o = (etls_proto_opt_t){.name = name, .value = eq ? eq + 1 : NULL, .payload = -1};
    if (o->value && o->value[0] == '@') {
        size_t n = 0;
        if (payload_len(name, o->value, &n, err, errlen) < 0)
            return -1;
        if (req->n_payloads == ETLS_PROTO_MAX_PAYLOADS)
            return fail(err, errlen, "too many payloads (limit %d)", ETLS_PROTO_MAX_PAYLOADS);
        if (n > ETLS_PROTO_MAX_TOTAL - *total)
            return fail(err, errlen, "payloads too large in total (limit %u bytes)",
                        ETLS_PROTO_MAX_TOTAL);
        *total += n;
        o->value = NULL;
        o->payload = (int)req->n_payloads;
        req->payload_len[req->n_payloads++] = n;
    }
    req->n_opts++;
    return 0;
}

/* Splits req->line (already checked byte by byte) into positional words and options. */
static int split_line(etls_proto_req_t *req, size_t *total, char *err, size_t errlen)
{
    char *p = req->line;
    *total = 0;
    for (;;) {
        while (is_space((uint8_t)*p))
            p++;
        if (!*p)
            return 0;
        char *w = p;
        while (*p && !is_space((uint8_t)*p))
            p++;
        if (*p)
            *p++ = 0;
        if (w[0] == '-' && w[1] == '-') {
            if (add_option(req, w, total, err, errlen) < 0)
                return -1;
        } else {
            if (req->n_words == ETLS_PROTO_MAX_WORDS)
                return fail(err, errlen, "too many words (limit %d)", ETLS_PROTO_MAX_WORDS);
            req->words[req->n_words++] = w;
        }
    }
}

static void req_reset(etls_proto_req_t *req)
{
    req->line[0] = 0;
    req->n_words = req->n_opts = req->n_payloads = 0;
}

/* Blank lines (empty or only spaces/tabs) before a request are skipped: *used counts them
 * even when the request itself is incomplete (0), so a reader can drop them. */
int etls_proto_parse(const uint8_t *data, size_t len, etls_proto_req_t *req, size_t *used,
                     char *err, size_t errlen)
{
    size_t off = 0, content = 0, total = 0, need = 0;
    req_reset(req);
    *used = 0;
    for (;;) {
        int rc = frame_line(data + off, len - off, &content, &total, err, errlen);
        if (rc <= 0)
            return rc;
        if (!blank(data + off, content))
            break;
        off += total;
        *used = off;
    }
    memcpy(req->line, data + off, content);
    req->line[content] = 0;
    if (split_line(req, &need, err, errlen) < 0)
        return -1;
    off += total;
    if (len - off < need)
        return 0;
    for (size_t i = 0; i < req->n_payloads; i++) {
        req->payload[i] = data + off;
        off += req->payload_len[i];
    }
    *used = off;
    return 1;
}

const etls_proto_opt_t *etls_proto_opt(const etls_proto_req_t *req, const char *name)
{
    for (size_t i = 0; i < req->n_opts; i++)
        if (strcmp(req->opts[i].name, name) == 0)
            return &req->opts[i];
    return NULL;
}

int etls_proto_flag(const etls_proto_req_t *req, const char *name)
{
    const etls_proto_opt_t *o = etls_proto_opt(req, name);
    return o && !o->value && o->payload < 0;
}

void etls_proto_reader_init(etls_proto_reader_t *r)
{
    *r = (etls_proto_reader_t){0};
}

void etls_proto_reader_free(etls_proto_reader_t *r)
{
    if (r->buf) {
        explicit_bzero(r->buf, r->cap);
        free(r->buf);
    }
    *r = (etls_proto_reader_t){0};
}

/* Drops the request returned last; the bytes it leaves behind are wiped, not just abandoned. */
static void reader_drop(etls_proto_reader_t *r)
{
    if (!r->consumed)
        return;
    size_t rest = r->len - r->consumed;
    memmove(r->buf, r->buf + r->consumed, rest);
    explicit_bzero(r->buf + rest, r->len - rest);
    r->len = rest;
    r->consumed = 0;
}

/* Grows by doubling; copies instead of realloc() so the old block is wiped before release. */
static int reader_grow(etls_proto_reader_t *r, size_t need)
{
    size_t cap = r->cap ? r->cap : READER_MIN_CAP;
    while (cap < need)
        cap = cap > READER_BOUND / 2 ? READER_BOUND : cap * 2;
    uint8_t *nb = malloc(cap);
    if (!nb)
        return -1;
    if (r->buf) {
        memcpy(nb, r->buf, r->len);
        explicit_bzero(r->buf, r->cap);
        free(r->buf);
    }
    r->buf = nb;
    r->cap = cap;
    return 0;
}

int etls_proto_reader_append(etls_proto_reader_t *r, const void *data, size_t len, char *err,
                             size_t errlen)
{
    reader_drop(r);
    if (len > READER_BOUND - r->len)
        return fail(err, errlen, "request too large (limit %zu bytes)", READER_BOUND);
    if (r->len + len > r->cap && reader_grow(r, r->len + len) < 0)
        return fail(err, errlen, "out of memory");
    if (len)
        memcpy(r->buf + r->len, data, len);
    r->len += len;
    return 0;
}

size_t etls_proto_reader_room(const etls_proto_reader_t *r)
{
    return READER_BOUND - (r->len - r->consumed);
}

int etls_proto_next(etls_proto_reader_t *r, etls_proto_req_t *req, char *err, size_t errlen)
{
    size_t used = 0;
    reader_drop(r);
    int rc = etls_proto_parse(r->buf ? r->buf : (const uint8_t *)"", r->len, req, &used, err,
                              errlen);
    if (rc >= 0)
        r->consumed = used; /* the request, or only the blank lines before an incomplete one */
    if (rc == 0)
        reader_drop(r);
    return rc;
}

size_t etls_proto_reply_header(char *hdr, size_t cap, const char *status, size_t body_len)
{
    size_t n = strlen(status);
    if (n == 0 || n >= REPLY_MAX_STATUS)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (status[i] < 'a' || status[i] > 'z')
            return 0;
    int w = snprintf(hdr, cap, "%s %zu\n", status, body_len);
    return w > 0 && (size_t)w < cap ? (size_t)w : 0;
}

/* "<status> <len>\n" exactly: status [a-z]{1,15}, one space, decimal without leading zeros
 * that fits in size_t. Prefix-consistent like the request parser. */
int etls_proto_reply_parse(const uint8_t *buf, size_t len, char *status, size_t status_cap,
                           size_t *body_len, size_t *hdr_len)
{
    size_t i = 0, n = 0, ndig = 0;
    for (; i < len && buf[i] >= 'a' && buf[i] <= 'z'; i++)
        if (i + 1 >= REPLY_MAX_STATUS || i + 1 >= status_cap)
            return -1;
    if (i == len)
        return 0;
    if (i == 0 || buf[i] != ' ')
        return -1;
    size_t slen = i++;
    for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++, ndig++) {
        size_t d = (size_t)(buf[i] - '0');
        if ((ndig == 1 && n == 0) || n > (SIZE_MAX - d) / 10)
            return -1;
        n = n * 10 + d;
    }
    if (i == len)
        return 0;
    if (ndig == 0 || buf[i] != '\n')
        return -1;
    memcpy(status, buf, slen);
    status[slen] = 0;
    *body_len = n;
    *hdr_len = i + 1;
    return 1;
}
