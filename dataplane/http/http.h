/* Minimal HTTP/1.x request parser and static responder for the `responder` mode.
 *
 * The parser is incremental and allocation-free: the caller keeps the unconsumed bytes of the
 * current request head in its own buffer and calls etls_http_parse again with more data; the
 * parser remembers how far it has scanned, so a head arriving byte by byte costs O(n). Bodies
 * (Content-Length) are consumed and discarded as they stream, without being buffered.
 * Pipelined requests are handled by calling again on the bytes after `consumed`.
 *
 * Ownership: etls_http_parser_t is a small caller-owned value, one per connection;
 * etls_http_responder_t holds prebuilt responses, built once and shared read-only by workers. */
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

typedef struct etls_http_req {
    uint8_t version_minor; /* 0 or 1 */
    uint8_t keep_alive;    /* after the response, keep reading requests */
    uint8_t head;          /* HEAD: the response has no body */
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

/* Prebuilt responses: 200 with the configured body in every keep-alive/close/HEAD variant, and
 * the error responses (which always close). */
typedef struct etls_http_responder {
    uint8_t *mem; /* one allocation holding every response */
    const uint8_t *resp[12];
    size_t resp_len[12];
} etls_http_responder_t;

int etls_http_responder_init(etls_http_responder_t *r, const char *body, size_t body_len);
void etls_http_responder_free(etls_http_responder_t *r);
/* The response for a parse result (`req` is used for ETLS_HTTP_REQUEST only); *close is set
 * when the connection must be closed after sending it. */
const uint8_t *etls_http_response(const etls_http_responder_t *r, etls_http_result_t res,
                                  const etls_http_req_t *req, size_t *len, int *close);

#endif
