/* Minimal HTTP/1.x request parser and responder for the `responder` mode.
 *
 * The parser is incremental and allocation-free: the caller keeps the unconsumed bytes of the
 * current request head in its own buffer and calls etls_http_parse again with more data; the
 * parser remembers how far it has scanned, so a head arriving byte by byte costs O(n). Bodies
 * (Content-Length) are consumed and discarded as they stream, without being buffered.
 * Pipelined requests are handled by calling again on the bytes after `consumed`.
 *
 * What the responder answers (the benchmark target: any body size without any file):
 *   GET /bytes/N[?...]  200 with N bytes of the synthetic pattern below (N <= the configured
 *                       maximum; above it 403, a malformed N 400; both keep the connection)
 *   any other target    200 with the configured body: response_body (static text, at most
 *                       4 KiB) or, when response_size is set, that many synthetic bytes
 *   HEAD                the same heads without the body
 * A synthetic body is never materialised: etls_http_reply_next hands out windows of one
 * shared pattern buffer, so a 1 GiB body costs the same memory as a 1 KiB one and the
 * transport pulls bytes only as fast as its send side drains (backpressure for free).
 *
 * Ownership: etls_http_parser_t and etls_http_reply_t are small caller-owned values, one per
 * connection; etls_http_responder_t holds prebuilt responses and the pattern, built once and
 * shared read-only by workers. */
#ifndef ETLS_HTTP_HTTP_H
#define ETLS_HTTP_HTTP_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    ETLS_HTTP_NEED_MORE = 0, /* feed more bytes (some may have been consumed: body bytes) */
    ETLS_HTTP_REQUEST = 1,   /* one complete request (head and body); *req is filled */
    ETLS_HTTP_BAD = 2,       /* malformed: answer 400 and close */
    ETLS_HTTP_TOO_LARGE = 3, /* head longer than the limit: 431 and close */
    ETLS_HTTP_NOT_IMPL = 4,  /* Transfer-Encoding we do not implement: 501 and close */
    ETLS_HTTP_VERSION = 5,   /* well-formed but not HTTP/1.0 or 1.1: 505 and close */
} etls_http_result_t;

typedef enum {
    ETLS_HTTP_T_DEFAULT = 0, /* any target but /bytes/...: the configured body */
    ETLS_HTTP_T_BYTES = 1,   /* /bytes/N: req->size synthetic bytes */
    ETLS_HTTP_T_BAD_SIZE = 2 /* /bytes/ followed by something that is not a decimal number */
} etls_http_target_t;

typedef struct etls_http_req {
    uint8_t version_minor; /* 0 or 1 */
    uint8_t keep_alive;    /* after the response, keep reading requests */
    uint8_t head;          /* HEAD: the response has no body */
    uint8_t target;        /* etls_http_target_t */
    uint64_t size;         /* ETLS_HTTP_T_BYTES: the N asked for (UINT64_MAX past 18 digits) */
    uint64_t content_length;
} etls_http_req_t;

typedef struct etls_http_parser {
    uint32_t max_header;  /* bound on the request head (request line + headers + blank line) */
    uint8_t in_body;      /* head parsed, discarding body bytes */
    size_t scanned;       /* head bytes already searched for the blank line */
    uint64_t body_left;
    etls_http_req_t req;
} etls_http_parser_t;

void etls_http_parser_init(etls_http_parser_t *p, uint32_t max_header);

/* Parses from buf[0..len): in the head state buf must start at the first byte of the request
 * head not yet consumed (the same bytes as before plus new ones). Sets *consumed to how many
 * bytes the caller may drop. Returns an etls_http_result_t. */
etls_http_result_t etls_http_parse(etls_http_parser_t *p, const uint8_t *buf, size_t len,
                                   size_t *consumed, etls_http_req_t *req);

/* Synthetic bodies: byte i of every one is ETLS_HTTP_PATTERN[i % ETLS_HTTP_PATTERN_LEN]. The
 * period is prime (61) so that a lost or repeated record (16384 bytes) or chunk shows in a
 * content check, and the bytes are printable so `curl .../bytes/100` is readable. */
#define ETLS_HTTP_PATTERN "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX\n"
#define ETLS_HTTP_PATTERN_LEN 61
/* Largest window etls_http_reply_next returns: 16 full TLS records, what one etls_tls_send
 * call can seal in one AEAD burst. */
#define ETLS_HTTP_SPAN_MAX (16u * 16384u)
/* Bound on a reply head built per request (status line, headers, a short error body). */
#define ETLS_HTTP_HEAD_MAX 256
/* Default bound on /bytes/N (response_size_max). */
#define ETLS_HTTP_DEFAULT_SIZE_MAX (1ull << 30)

/* Prebuilt responses: 200 with the configured body in every keep-alive/close/HEAD variant, and
 * the error responses (which always close); the synthetic pattern; the size settings. */
typedef struct etls_http_responder {
    uint8_t *mem; /* one allocation holding every response */
    const uint8_t *resp[12];
    size_t resp_len[12];
    uint8_t *pattern; /* ETLS_HTTP_SPAN_MAX + ETLS_HTTP_PATTERN_LEN bytes of the pattern */
    uint64_t size_max; /* bound on /bytes/N */
    uint64_t default_size; /* the body of other targets when synthetic */
    uint8_t default_synthetic; /* 1: other targets get default_size synthetic bytes */
} etls_http_responder_t;

/* Static body for every target but /bytes/N, which is bounded by ETLS_HTTP_DEFAULT_SIZE_MAX. */
int etls_http_responder_init(etls_http_responder_t *r, const char *body, size_t body_len);
/* Size settings (config keys response_size and response_size_max): default_size >= 0 makes
 * every other target a synthetic body of that many bytes instead of the static one; size_max
 * bounds /bytes/N. */
void etls_http_responder_set_sizes(etls_http_responder_t *r, int64_t default_size, uint64_t size_max);
void etls_http_responder_free(etls_http_responder_t *r);

/* One response in progress on a connection: a head (prebuilt, or built in hbuf), then
 * body_len synthetic bytes. Fill it with etls_http_reply_start, send what
 * etls_http_reply_next offers, report what was taken with etls_http_reply_consume; it is
 * finished when `active` drops to 0. */
typedef struct etls_http_reply {
    const uint8_t *head;
    uint32_t head_len, head_off;
    uint8_t active;
    uint8_t close;     /* close the connection once the reply is sent */
    uint8_t error;     /* a 4xx/5xx (for statistics) */
    uint64_t body_len, body_off;
    uint8_t hbuf[ETLS_HTTP_HEAD_MAX];
} etls_http_reply_t;

/* Starts the reply to a parse result (`req` is used for ETLS_HTTP_REQUEST only). */
void etls_http_reply_start(const etls_http_responder_t *r, etls_http_result_t res,
                           const etls_http_req_t *req, etls_http_reply_t *rep);
/* Next bytes to send (at most ETLS_HTTP_SPAN_MAX), 0 when the reply is complete. While part
 * of the head is unsent and a body follows, head and the first body bytes are copied together
 * into scratch (scratch_len bytes; pass one TLS record's worth) so that a small reply is one
 * record, not a tiny head record plus a body record; scratch may be NULL. *p stays valid until
 * the responder is freed or scratch is reused. */
size_t etls_http_reply_next(const etls_http_responder_t *r, const etls_http_reply_t *rep,
                            uint8_t *scratch, size_t scratch_len, const uint8_t **p);
/* n bytes of what etls_http_reply_next offered were sent. */
void etls_http_reply_consume(etls_http_reply_t *rep, size_t n);
/* The prebuilt response for a parse result, ignoring the target (`req` is used for
 * ETLS_HTTP_REQUEST only); *close is set when the connection must be closed after sending it.
 * Transports use etls_http_reply_start, which also serves /bytes/N and response_size. */
const uint8_t *etls_http_response(const etls_http_responder_t *r, etls_http_result_t res,
                                  const etls_http_req_t *req, size_t *len, int *close);

#endif
