/* Shared set-up for the TLS engine fuzz harnesses: one server context with a generated ECDSA
 * certificate, an inline (batch-less) environment with a seeded RNG, and checks of the
 * engine's contract after every call (a violated invariant aborts, which libFuzzer and the
 * replay driver both report). */
#ifndef ETLS_FUZZ_COMMON_H
#define ETLS_FUZZ_COMMON_H

#include "tls/tls.h"

#include <stddef.h>
#include <stdint.h>

#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(__FILE__, __LINE__, #cond);                                                  \
    } while (0)

void fuzz_fail(const char *file, int line, const char *what) __attribute__((noreturn));

typedef struct fuzz_srv {
    etls_tls_conn_t c;
    etls_tls_buf_t out, app;
    uint8_t outb[1 << 16];
    uint8_t appb[1 << 16];
} fuzz_srv_t;

/* Process-wide context and environment (created on first use). */
etls_tls_server_ctx_t *fuzz_ctx(void);
etls_tls_env_t *fuzz_env(void);
fuzz_srv_t *fuzz_srv_new(void);
void fuzz_srv_free(fuzz_srv_t *s);
/* Feeds in, checking the contract; drains out/app as they fill. Returns the last code. */
int fuzz_feed(fuzz_srv_t *s, const uint8_t *in, size_t len);
/* Feeds the bytes in pieces of `piece`, keeping unconsumed input and presenting it again with
 * the next piece, as a transport would; stops at the first error. */
void fuzz_feed_pieces(fuzz_srv_t *s, const uint8_t *p, size_t n, size_t piece);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
