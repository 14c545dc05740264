/* Per-worker RNG: the kernel CSPRNG (getrandom) read 4 KiB at a time, so a handshake's few
 * dozen random bytes cost a memcpy rather than a system call. Bytes are wiped from the buffer
 * as they are handed out, so a later memory disclosure cannot reveal past outputs. */
#include "crypto/rand.h"

#include "common/ct.h"
#include "common/err.h"
#include "crypto/hash.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

void etls_rand_init(etls_rand_t *r)
{
    memset(r, 0, sizeof *r);
    r->pos = ETLS_RAND_BUF; /* empty: the first request fills it */
}

void etls_rand_init_seeded(etls_rand_t *r, const uint8_t seed[32])
{
    etls_rand_init(r);
    r->seeded = 1;
    memcpy(r->seed, seed, sizeof r->seed);
}

/* Loops over EINTR and short reads (getrandom returns at most 32 MiB - 1 per call, and may be
 * interrupted before the pool is initialised). */
static int fill_kernel(uint8_t *buf, size_t n)
{
    while (n) {
        ssize_t k = getrandom(buf, n, 0);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return ETLS_ERR_IO;
        }
        if (k == 0)
            return ETLS_ERR_IO; /* cannot happen per the man page; never spin on it */
        buf += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Deterministic mode: block i is SHA-256(seed || be64(counter + i)). */
static void fill_seeded(etls_rand_t *r)
{
    for (size_t off = 0; off < ETLS_RAND_BUF; off += ETLS_SHA256_LEN) {
        uint8_t in[40];
        memcpy(in, r->seed, 32);
        for (int i = 0; i < 8; i++)
            in[32 + i] = (uint8_t)(r->counter >> (56 - 8 * i));
        r->counter++;
        etls_hash(ETLS_HASH_SHA256, in, sizeof in, r->buf + off);
        etls_wipe(in, sizeof in);
    }
}

static int refill(etls_rand_t *r)
{
    if (r->seeded)
        fill_seeded(r);
    else
        ETLS_GUARD(fill_kernel(r->buf, ETLS_RAND_BUF));
    r->pos = 0;
    return 0;
}

int etls_rand_bytes(etls_rand_t *r, void *out, size_t n)
{
    uint8_t *o = out;
    ETLS_ENSURE(n > 0 && out, ETLS_ERR_INVALID);
    while (n) {
        if (r->pos >= ETLS_RAND_BUF) {
            int rc = refill(r);
            if (rc < 0) {
                etls_wipe(out, (size_t)(o - (uint8_t *)out)); /* no half-random output */
                etls_wipe(r->buf, sizeof r->buf);
                r->pos = ETLS_RAND_BUF;
                return rc;
            }
        }
        size_t k = ETLS_RAND_BUF - r->pos < n ? ETLS_RAND_BUF - r->pos : n;
        memcpy(o, r->buf + r->pos, k);
        etls_wipe(r->buf + r->pos, k);
        r->pos += k;
        o += k;
        n -= k;
    }
    return 0;
}

void etls_rand_wipe(etls_rand_t *r)
{
    etls_wipe(r, sizeof *r);
    r->pos = ETLS_RAND_BUF;
}
