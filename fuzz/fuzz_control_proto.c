/* libFuzzer harness for the admin protocol (control/proto). Input: a byte stream from an admin
 * client (the corpus files are plain protocol text). The stream is parsed twice: with
 * etls_proto_parse over the whole buffer, request after request, and through an
 * etls_proto_reader fed in chunks whose sizes come from a hash of the input. Contract checked:
 *   - no crash, no read outside the input (ASan), fields in their ranges: words and option
 *     names non-empty printable ASCII, payloads inside the input and within the limits;
 *   - both runs give the same requests (words, options, payload bytes) and the same final
 *     outcome (need more, or the same error message): the framing does not depend on how the
 *     bytes arrived;
 *   - etls_proto_reply_parse on the same bytes: an accepted header is canonical (re-encoding it
 *     gives the same bytes) and no shorter prefix of it is accepted.
 * Also replayed without libFuzzer by fuzz/replay.c over fuzz/corpus/control_proto. */
#include "proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_REQS 64

typedef struct outcome {
    etls_proto_req_t req[MAX_REQS]; /* the whole run's only */
    size_t n;
    int last_rc; /* 0 or -1 */
    char err[256];
} outcome_t;

static outcome_t whole, chunked;

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_control_proto: contract violated: %s\n", what);
        abort();
    }
}

static void check_word(const char *w)
{
    check(w[0] != 0, "words are not empty");
    for (; *w; w++)
        check(*w >= 0x21 && *w <= 0x7e, "words are printable ASCII");
}

static void check_req(const etls_proto_req_t *r, const uint8_t *data, size_t size)
{
    size_t total = 0;
    check(r->n_words <= ETLS_PROTO_MAX_WORDS && r->n_opts <= ETLS_PROTO_MAX_OPTS &&
              r->n_payloads <= ETLS_PROTO_MAX_PAYLOADS, "counts within the limits");
    for (size_t i = 0; i < r->n_words; i++) {
        check(r->words[i][0] != '-' || r->words[i][1] != '-', "positional words are not options");
        check_word(r->words[i]);
    }
    for (size_t i = 0; i < r->n_opts; i++) {
        const etls_proto_opt_t *o = &r->opts[i];
        check_word(o->name);
        check(o->payload >= -1 && o->payload < (int)r->n_payloads, "payload index in range");
        check(o->payload < 0 || o->value == NULL, "payload options have no value");
        check(etls_proto_opt(r, o->name) == o, "option names are unique");
    }
    for (size_t i = 0; i < r->n_payloads; i++) {
        check(r->payload_len[i] <= ETLS_PROTO_MAX_PAYLOAD, "payload within its limit");
        check(r->payload[i] >= data && r->payload[i] + r->payload_len[i] <= data + size,
              "payload inside the input");
        total += r->payload_len[i];
    }
    check(total <= ETLS_PROTO_MAX_TOTAL, "payloads within the total");
}

static int same_req(const etls_proto_req_t *a, const etls_proto_req_t *b)
{
    if (a->n_words != b->n_words || a->n_opts != b->n_opts || a->n_payloads != b->n_payloads)
        return 0;
    for (size_t i = 0; i < a->n_words; i++)
        if (strcmp(a->words[i], b->words[i]))
            return 0;
    for (size_t i = 0; i < a->n_opts; i++) {
        const etls_proto_opt_t *x = &a->opts[i], *y = &b->opts[i];
        if (strcmp(x->name, y->name) || x->payload != y->payload || !x->value != !y->value ||
            (x->value && strcmp(x->value, y->value)))
            return 0;
    }
    for (size_t i = 0; i < a->n_payloads; i++)
        if (a->payload_len[i] != b->payload_len[i])
            return 0;
    return 1;
}

static void run_whole(const uint8_t *data, size_t size)
{
    static etls_proto_req_t scratch; /* requests past MAX_REQS are checked, not compared */
    size_t off = 0, used;
    whole.n = 0;
    for (;;) {
        etls_proto_req_t *r = whole.n < MAX_REQS ? &whole.req[whole.n] : &scratch;
        int rc = etls_proto_parse(data + off, size - off, r, &used, whole.err, sizeof whole.err);
        check(rc >= -1 && rc <= 1, "parse result in range");
        check(rc < 0 || used <= size - off, "used within the input");
        if (rc != 1) {
            whole.last_rc = rc;
            return;
        }
        check(used > 0, "a request uses bytes");
        check_req(r, data + off, size - off);
        whole.n++;
        off += used;
    }
}

/* The reader's requests are compared as they come: they point into its buffer and line, which
 * its next call reuses. */
static void compare_with_whole(const etls_proto_req_t *r, const uint8_t *base, size_t size)
{
    check_req(r, base, size);
    if (chunked.n < whole.n && chunked.n < MAX_REQS) {
        const etls_proto_req_t *w = &whole.req[chunked.n];
        check(same_req(r, w), "same requests");
        for (size_t i = 0; i < r->n_payloads; i++)
            check(memcmp(r->payload[i], w->payload[i], r->payload_len[i]) == 0, "same payload bytes");
    }
    chunked.n++;
}

static void run_chunked(const uint8_t *data, size_t size)
{
    static etls_proto_req_t r;
    etls_proto_reader_t rd;
    etls_proto_reader_init(&rd);
    uint64_t h = 1469598103934665603ull; /* FNV-1a of the input seeds the chunk sizes */
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211ull;
    chunked.n = 0;
    chunked.last_rc = 0;
    for (size_t off = 0; off < size && chunked.last_rc == 0;) {
        h ^= h << 13, h ^= h >> 7, h ^= h << 17;
        size_t n = 1 + (size_t)(h % ((h >> 32) % 4 == 0 ? 4096 : 64));
        n = n > size - off ? size - off : n;
        check(etls_proto_reader_append(&rd, data + off, n, chunked.err, sizeof chunked.err) == 0,
              "small inputs fit the reader");
        off += n;
        int rc;
        while ((rc = etls_proto_next(&rd, &r, chunked.err, sizeof chunked.err)) == 1) {
            compare_with_whole(&r, rd.buf, rd.len);
        }
        check(rc == 0 || rc == -1, "next result in range");
        chunked.last_rc = rc;
    }
    etls_proto_reader_free(&rd);
}

static void check_reply(const uint8_t *data, size_t size)
{
    char st[16], hdr[64];
    size_t body, hl;
    int rc = etls_proto_reply_parse(data, size, st, sizeof st, &body, &hl);
    check(rc >= -1 && rc <= 1, "reply parse result in range");
    if (rc != 1)
        return;
    check(hl <= size, "header within the input");
    size_t n = etls_proto_reply_header(hdr, sizeof hdr, st, body);
    check(n == hl && memcmp(hdr, data, n) == 0, "accepted headers are canonical");
    check(etls_proto_reply_parse(data, hl - 1, st, sizeof st, &body, &hl) == 0,
          "a header's prefix needs more");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run_whole(data, size);
    run_chunked(data, size);
    check(whole.n == chunked.n, "same number of requests");
    check(whole.last_rc == chunked.last_rc, "same final outcome");
    check(whole.last_rc == 0 || strcmp(whole.err, chunked.err) == 0, "same error message");
    check_reply(data, size);
    return 0;
}
