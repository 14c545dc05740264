/* Keccak-f[1600] and the sponge modes of FIPS 202 used by ML-KEM: SHA3-256 (H), SHA3-512 (G),
 * SHAKE128 (XOF) and SHAKE256 (PRF, J). The state is 25 little-endian 64-bit lanes; bytes are
 * absorbed by XOR straight into the lanes' memory (little-endian CPU, see mlkem_internal.h). */
#include <pthread.h>
#include <string.h>

#include "common/ct.h"
#include "mlkem_internal.h"

const uint64_t etls_keccak_rc[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

static inline uint64_t rol(uint64_t x, unsigned n)
{
    return (x << n) | (x >> ((64 - n) & 63));
}

/* One round on lanes a[] into a[]. rho and pi are written out lane by lane (b[y + 5(2x+3y)] =
 * rol(a[x + 5y], r[x][y])) so every rotation count is a constant. */
static inline void keccak_round(uint64_t a[25], uint64_t rc)
{
    uint64_t c[5], d[5], b[25];
    for (int x = 0; x < 5; x++)
        c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
    for (int x = 0; x < 5; x++)
        d[x] = c[(x + 4) % 5] ^ rol(c[(x + 1) % 5], 1);
    for (int i = 0; i < 25; i++)
        a[i] ^= d[i % 5];
    b[0] = a[0];
    b[10] = rol(a[1], 1);
    b[20] = rol(a[2], 62);
    b[5] = rol(a[3], 28);
    b[15] = rol(a[4], 27);
    b[16] = rol(a[5], 36);
    b[1] = rol(a[6], 44);
    b[11] = rol(a[7], 6);
    b[21] = rol(a[8], 55);
    b[6] = rol(a[9], 20);
    b[7] = rol(a[10], 3);
    b[17] = rol(a[11], 10);
    b[2] = rol(a[12], 43);
    b[12] = rol(a[13], 25);
    b[22] = rol(a[14], 39);
    b[23] = rol(a[15], 41);
    b[8] = rol(a[16], 45);
    b[18] = rol(a[17], 15);
    b[3] = rol(a[18], 21);
    b[13] = rol(a[19], 8);
    b[14] = rol(a[20], 18);
    b[24] = rol(a[21], 2);
    b[9] = rol(a[22], 61);
    b[19] = rol(a[23], 56);
    b[4] = rol(a[24], 14);
    for (int y = 0; y < 25; y += 5)
        for (int x = 0; x < 5; x++)
            a[y + x] = b[y + x] ^ (~b[y + (x + 1) % 5] & b[y + (x + 2) % 5]);
    a[0] ^= rc;
}

void etls_keccak_f1600_portable(uint64_t s[25])
{
    uint64_t a[25];
    memcpy(a, s, sizeof a);
    for (int r = 0; r < 24; r++)
        keccak_round(a, etls_keccak_rc[r]);
    memcpy(s, a, sizeof a);
    etls_wipe(a, sizeof a);
}

static etls_keccak1_fn f1600_impl;
static pthread_once_t f1600_once = PTHREAD_ONCE_INIT;

static void f1600_init(void)
{
    f1600_impl = etls_keccak1_avx512_get();
    if (!f1600_impl)
        f1600_impl = etls_keccak_f1600_portable;
}

void etls_keccak_f1600(uint64_t s[25])
{
    pthread_once(&f1600_once, f1600_init);
    f1600_impl(s);
}

static void sponge_init(etls_shake_ctx_t *c, uint32_t rate, uint8_t pad)
{
    memset(c, 0, sizeof *c);
    c->rate = rate;
    c->pad = pad;
}

void etls_shake128_init(etls_shake_ctx_t *c)
{
    sponge_init(c, ETLS_SHAKE128_RATE, 0x1f);
}

void etls_shake256_init(etls_shake_ctx_t *c)
{
    sponge_init(c, ETLS_SHAKE256_RATE, 0x1f);
}

static void xor_bytes(etls_shake_ctx_t *c, const uint8_t *in, size_t n)
{
    uint8_t *st = (uint8_t *)c->s + c->pos;
    size_t i = 0;
    if (c->pos % 8 == 0) /* whole lanes (H(ek) absorbs 1184 bytes) */
        for (; i + 8 <= n; i += 8) {
            uint64_t w;
            memcpy(&w, in + i, 8);
            c->s[(c->pos + i) / 8] ^= w;
        }
    for (; i < n; i++)
        st[i] ^= in[i];
    c->pos += (uint32_t)n;
}

void etls_shake_absorb(etls_shake_ctx_t *c, const void *data, size_t len)
{
    const uint8_t *in = data;
    if (c->squeezing)
        return;
    while (len > 0) {
        size_t n = c->rate - c->pos;
        if (n > len)
            n = len;
        xor_bytes(c, in, n);
        in += n;
        len -= n;
        if (c->pos == c->rate) {
            etls_keccak_f1600(c->s);
            c->pos = 0;
        }
    }
}

/* pad10*1 with the domain bits; after it the whole first block is unread output. */
static void sponge_pad(etls_shake_ctx_t *c)
{
    uint8_t *st = (uint8_t *)c->s;
    st[c->pos] ^= c->pad;
    st[c->rate - 1] ^= 0x80;
    etls_keccak_f1600(c->s);
    c->pos = 0;
    c->squeezing = 1;
}

void etls_shake_squeeze(etls_shake_ctx_t *c, uint8_t *out, size_t len)
{
    if (!c->squeezing)
        sponge_pad(c);
    while (len > 0) {
        if (c->pos == c->rate) {
            etls_keccak_f1600(c->s);
            c->pos = 0;
        }
        size_t n = c->rate - c->pos;
        if (n > len)
            n = len;
        memcpy(out, (const uint8_t *)c->s + c->pos, n);
        c->pos += (uint32_t)n;
        out += n;
        len -= n;
    }
}

void etls_shake_wipe(etls_shake_ctx_t *c)
{
    etls_wipe(c, sizeof *c);
}

static void sponge_oneshot(uint32_t rate, uint8_t pad, uint8_t *out, size_t outlen, const void *in,
                           size_t inlen)
{
    etls_shake_ctx_t c;
    sponge_init(&c, rate, pad);
    etls_shake_absorb(&c, in, inlen);
    etls_shake_squeeze(&c, out, outlen);
    etls_shake_wipe(&c);
}

void etls_shake128(uint8_t *out, size_t outlen, const void *in, size_t inlen)
{
    sponge_oneshot(ETLS_SHAKE128_RATE, 0x1f, out, outlen, in, inlen);
}

void etls_shake256(uint8_t *out, size_t outlen, const void *in, size_t inlen)
{
    sponge_oneshot(ETLS_SHAKE256_RATE, 0x1f, out, outlen, in, inlen);
}

/* SHA3-256 and SHA3-512: rate 200 - 2 * digest length, domain bits 01. */
void etls_sha3_256(uint8_t out[ETLS_SHA3_256_LEN], const void *in, size_t inlen)
{
    sponge_oneshot(200 - 2 * ETLS_SHA3_256_LEN, 0x06, out, ETLS_SHA3_256_LEN, in, inlen);
}

void etls_sha3_512(uint8_t out[ETLS_SHA3_512_LEN], const void *in, size_t inlen)
{
    sponge_oneshot(200 - 2 * ETLS_SHA3_512_LEN, 0x06, out, ETLS_SHA3_512_LEN, in, inlen);
}

/* ---- four states at a time, portable: one after the other through etls_keccak_f1600 ---- */

static void keccak4_portable_permute(etls_keccak4_t *st)
{
    uint64_t one[25];
    for (int j = 0; j < 4; j++) {
        for (int i = 0; i < 25; i++)
            one[i] = st->s[4 * i + j];
        etls_keccak_f1600(one);
        for (int i = 0; i < 25; i++)
            st->s[4 * i + j] = one[i];
    }
    etls_wipe(one, sizeof one);
}

static const etls_keccak4_impl_t keccak4_portable = {"portable", keccak4_portable_permute};

const etls_keccak4_impl_t *etls_keccak4_portable_get(void)
{
    return &keccak4_portable;
}
