/* RNG error handling with getrandom() interposed: this program defines getrandom, so the static
 * RNG library linked into it calls this fake instead of libc's. Covers EINTR, short reads,
 * and a hard failure (ETLS_ERR_IO, output zeroed, the next call retries). */
#include "common/err.h"
#include "crypto/rand.h"
#include "test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>

static enum { FAKE_EINTR_SHORT, FAKE_FAIL } fake_mode;
static unsigned fake_calls;
static uint8_t fake_byte;

ssize_t getrandom(void *buf, size_t len, unsigned int flags)
{
    (void)flags;
    fake_calls++;
    if (fake_mode == FAKE_FAIL) {
        errno = EIO;
        return -1;
    }
    if (fake_calls % 3 == 1) { /* every third call is interrupted */
        errno = EINTR;
        return -1;
    }
    size_t n = len > 1000 ? 1000 : len; /* short reads */
    for (size_t i = 0; i < n; i++)
        ((uint8_t *)buf)[i] = ++fake_byte ? fake_byte : ++fake_byte; /* never 0 */
    return (ssize_t)n;
}

int main(void)
{
    etls_rand_t *r = malloc(sizeof *r);
    static uint8_t out[10000];

    fake_mode = FAKE_EINTR_SHORT;
    etls_rand_init(r);
    CHECK(etls_rand_bytes(r, out, sizeof out) == 0);
    /* 3 buffer fills of 4096 in <= 1000-byte reads plus one EINTR per three calls */
    CHECK_MSG(fake_calls >= 3 * 5, "only %u getrandom calls", fake_calls);
    /* Every byte came from the fake, in order: short reads were stitched, none lost or repeated. */
    int in_order = 1;
    for (size_t i = 0; i < sizeof out; i++)
        in_order &= out[i] == (uint8_t)(i % 255 + 1);
    CHECK(in_order);

    fake_mode = FAKE_FAIL;
    etls_rand_init(r);
    memset(out, 0x77, sizeof out);
    CHECK(etls_rand_bytes(r, out, 100) == ETLS_ERR_IO);
    CHECK(out[0] == 0x77); /* nothing was produced: untouched */
    /* Failure part-way: the bytes already copied out are wiped. */
    fake_mode = FAKE_EINTR_SHORT;
    etls_rand_init(r);
    CHECK(etls_rand_bytes(r, out, 10) == 0);
    fake_mode = FAKE_FAIL;
    memset(out, 0x77, sizeof out);
    CHECK(etls_rand_bytes(r, out, 5000) == ETLS_ERR_IO);
    int zeroed = 1;
    for (size_t i = 0; i < ETLS_RAND_BUF - 10; i++)
        zeroed &= out[i] == 0;
    CHECK(zeroed && out[5000] == 0x77);
    /* Recovers once the kernel does. */
    fake_mode = FAKE_EINTR_SHORT;
    CHECK(etls_rand_bytes(r, out, 5000) == 0);
    free(r);
    return etls_test_summary("rand_fault");
}
