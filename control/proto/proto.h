/* The admin protocol of edgetls-control (docs/control-protocol.md), one parser for the daemon,
 * edgetlsctl and the fuzz harness.
 *
 * Request: one line of at most ETLS_PROTO_MAX_LINE bytes ending in "\n" (a "\r\n" is accepted):
 * words separated by single or multiple spaces/tabs, printable ASCII only (0x21..0x7e in words).
 * Words that start with "--" are options: "--json", "--force", "--names=a,b". An option value of
 * the form "@LEN" (decimal, 0..ETLS_PROTO_MAX_PAYLOAD) announces a payload: LEN raw bytes that
 * follow the line, in the order the options appear (e.g. "cert add www --chain=@1234 --key=@241"
 * is followed by 1234 bytes of chain PEM and then 241 bytes of key PEM). The others are
 * positional words: the command ("cert add") and its arguments.
 * Reply: a line "<status> <LEN>\n" then LEN bytes of body, status one of ok, refused (the change
 * was not made), usage (bad command or arguments), denied, error (internal). The body is text,
 * or JSON when the request had --json.
 *
 * Limits: ETLS_PROTO_MAX_WORDS words, ETLS_PROTO_MAX_PAYLOADS payloads, their sum at most
 * ETLS_PROTO_MAX_TOTAL. Anything over a limit, a NUL or control byte in the line, or a malformed
 * "@LEN" is a usage error with a message; the parser never reads past what it was given. */
#ifndef ETLS_CONTROL_PROTO_H
#define ETLS_CONTROL_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define ETLS_PROTO_MAX_LINE 8192
#define ETLS_PROTO_MAX_WORDS 32
#define ETLS_PROTO_MAX_OPTS 16
#define ETLS_PROTO_MAX_PAYLOADS 4
#define ETLS_PROTO_MAX_PAYLOAD (1u << 20)   /* one PEM file */
#define ETLS_PROTO_MAX_TOTAL (4u << 20)

typedef struct etls_proto_opt {
    const char *name;     /* without "--", NUL-terminated (points into the request's line copy) */
    const char *value;    /* after '=', or NULL for a flag; NULL for payload options */
    int payload;          /* index into payloads, or -1 */
} etls_proto_opt_t;

typedef struct etls_proto_req {
    char line[ETLS_PROTO_MAX_LINE + 1]; /* the line, split in place */
    const char *words[ETLS_PROTO_MAX_WORDS]; size_t n_words;
    etls_proto_opt_t opts[ETLS_PROTO_MAX_OPTS]; size_t n_opts;
    size_t payload_len[ETLS_PROTO_MAX_PAYLOADS]; size_t n_payloads;
    const uint8_t *payload[ETLS_PROTO_MAX_PAYLOADS]; /* point into the reader's buffer */
} etls_proto_req_t;

/* Incremental reader for one connection: append received bytes, then ask for a request.
 * Owns a buffer that grows to at most ETLS_PROTO_MAX_LINE + 2 + ETLS_PROTO_MAX_TOTAL bytes. */
typedef struct etls_proto_reader {
    uint8_t *buf; size_t len, cap;
    size_t consumed;        /* bytes of the request last returned (dropped at the next append) */
} etls_proto_reader_t;

void etls_proto_reader_init(etls_proto_reader_t *r);
void etls_proto_reader_free(etls_proto_reader_t *r); /* wipes (payloads may hold keys) */
/* Adds bytes; -1 (with err) when the buffer would exceed its bound. */
int etls_proto_reader_append(etls_proto_reader_t *r, const void *data, size_t len, char *err, size_t errlen);
/* How many bytes append accepts now. A reader that reads at most this much from the socket
 * never gets the bound error for a valid stream (the bound holds one whole request). */
size_t etls_proto_reader_room(const etls_proto_reader_t *r);
/* 1: a whole request is in *req (valid until the next append/next call), 0: need more bytes,
 * -1: malformed (err says why; the connection should get a usage reply and be closed, because
 * the framing is lost). */
int etls_proto_next(etls_proto_reader_t *r, etls_proto_req_t *req, char *err, size_t errlen);

/* Parses one request from a complete buffer (what etls_proto_next does after framing); used by
 * the fuzz harness directly. Same return values; *used is the request's size. Blank lines
 * (empty or only spaces/tabs) before a request are skipped and counted in *used, also when the
 * request after them is still incomplete (0), so a reader can drop them. */
int etls_proto_parse(const uint8_t *data, size_t len, etls_proto_req_t *req, size_t *used,
                     char *err, size_t errlen);

/* Lookups on a parsed request. */
const etls_proto_opt_t *etls_proto_opt(const etls_proto_req_t *req, const char *name);
int etls_proto_flag(const etls_proto_req_t *req, const char *name); /* present as a flag */

/* Reply framing: writes "<status> <len>\n" into hdr (at least 32 bytes); returns its length,
 * or 0 when status is not 1..15 lower-case letters or hdr is too small. */
size_t etls_proto_reply_header(char *hdr, size_t cap, const char *status, size_t body_len);
/* Parses a reply header from the start of buf: 1 with status/body_len/header length, 0 need
 * more, -1 malformed. Exactly "<status> <len>\n": status [a-z]{1,15} (and shorter than
 * status_cap), decimal len without sign or leading zeros that fits in size_t. */
int etls_proto_reply_parse(const uint8_t *buf, size_t len, char *status, size_t status_cap,
                           size_t *body_len, size_t *hdr_len);

#endif
