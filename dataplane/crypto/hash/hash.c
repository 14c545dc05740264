/* Incremental SHA-256/384, HMAC (RFC 2104) and HKDF (RFC 5869) over the compression functions
 * in sha_impl.h. All state lives in caller-owned contexts; intermediate values that depend on
 * keys are wiped before returning. */
#include "crypto/hash.h"

#include "common/ct.h"
#include "common/err.h"
#include "crypto/hash/sha_impl.h"

#include <string.h>

/* FIPS 180-4 §5.3.3 and §5.3.4 initial hash values. */
static const uint32_t sha256_iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                      0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
static const uint64_t sha384_iv[8] = {
    0xcbbb9d5dc1059ed8ULL, 0x629a292a367cd507ULL, 0x9159015a3070dd17ULL, 0x152fecd8f70e5939ULL,
    0x67332667ffc00b31ULL, 0x8eb44a8768581511ULL, 0xdb0c2e0d64f98fa7ULL, 0x47b5481dbefa4fa4ULL};

size_t etls_hash_len(etls_hash_alg_t alg)
{
    switch (alg) {
    case ETLS_HASH_SHA256:
        return ETLS_SHA256_LEN;
    case ETLS_HASH_SHA384:
        return ETLS_SHA384_LEN;
    }
    return 0;
}

size_t etls_hash_block_len(etls_hash_alg_t alg)
{
    switch (alg) {
    case ETLS_HASH_SHA256:
        return 64;
    case ETLS_HASH_SHA384:
        return 128;
    }
    return 0;
}

const char *etls_hash_impl_name(etls_hash_alg_t alg)
{
    if (alg == ETLS_HASH_SHA256) {
        etls_sha256_compress_fn *fn = etls_sha256_compress_get();
        return fn == etls_sha256_compress_shani  ? "sha_ni"
               : fn == etls_sha256_compress_avx2 ? "avx2"
                                                 : "portable";
    }
    if (alg == ETLS_HASH_SHA384)
        return etls_sha512_compress_get() == etls_sha512_compress_avx2 ? "avx2" : "portable";
    return "none";
}

void etls_hash_init(etls_hash_ctx_t *c, etls_hash_alg_t alg)
{
    c->alg = alg;
    c->nbytes = 0;
    c->buflen = 0;
    if (alg == ETLS_HASH_SHA256)
        memcpy(c->h.s256, sha256_iv, sizeof sha256_iv);
    else
        memcpy(c->h.s512, sha384_iv, sizeof sha384_iv);
}

static void compress_state(etls_hash_alg_t alg, void *h, const uint8_t *p, size_t nblocks)
{
    if (alg == ETLS_HASH_SHA256)
        etls_sha256_compress_get()((uint32_t *)h, p, nblocks);
    else
        etls_sha512_compress_get()((uint64_t *)h, p, nblocks);
}

static void compress(etls_hash_ctx_t *c, const uint8_t *p, size_t nblocks)
{
    compress_state(c->alg, &c->h, p, nblocks);
}

void etls_hash_update(etls_hash_ctx_t *c, const void *data, size_t len)
{
    const uint8_t *p = data;
    size_t bl = c->alg == ETLS_HASH_SHA256 ? 64 : 128;
    if (len == 0) /* data may be NULL then */
        return;
    c->nbytes += len;
    if (c->buflen) {
        size_t take = bl - c->buflen < len ? bl - c->buflen : len;
        memcpy(c->buf + c->buflen, p, take);
        c->buflen += (uint32_t)take;
        p += take;
        len -= take;
        if (c->buflen < bl)
            return;
        compress(c, c->buf, 1);
        c->buflen = 0;
    }
    if (len >= bl) { /* whole blocks straight from the caller's buffer, one call */
        size_t n = len / bl;
        compress(c, p, n);
        p += n * bl;
        len -= n * bl;
    }
    if (len) {
        memcpy(c->buf, p, len);
        c->buflen = (uint32_t)len;
    }
}

static void store_be64(uint8_t *p, uint64_t v)
{
    v = __builtin_bswap64(v);
    memcpy(p, &v, 8);
}

static void store_digest(etls_hash_alg_t alg, const void *h, uint8_t *out)
{
    if (alg == ETLS_HASH_SHA256) {
        for (int i = 0; i < 8; i++) {
            uint32_t v = __builtin_bswap32(((const uint32_t *)h)[i]);
            memcpy(out + 4 * i, &v, 4);
        }
    } else {
        for (int i = 0; i < 6; i++)
            store_be64(out + 8 * i, ((const uint64_t *)h)[i]);
    }
}

/* Pads (FIPS 180-4 §5.1), runs the last block(s) and writes the digest; c is left dirty. */
static void finish(etls_hash_ctx_t *c, uint8_t *out)
{
    size_t bl = c->alg == ETLS_HASH_SHA256 ? 64 : 128, lenbytes = bl / 8;
    size_t n = c->buflen;
    c->buf[n++] = 0x80;
    if (n > bl - lenbytes) {
        memset(c->buf + n, 0, bl - n);
        compress(c, c->buf, 1);
        n = 0;
    }
    memset(c->buf + n, 0, bl - 8 - n);
    /* The SHA-512 length field is 128 bits; its high half is nbytes >> 61 (always 0 in practice,
     * already zeroed above). */
    store_be64(c->buf + bl - 8, c->nbytes << 3);
    compress(c, c->buf, 1);
    store_digest(c->alg, &c->h, out);
}

void etls_hash_final(etls_hash_ctx_t *c, uint8_t *out)
{
    finish(c, out);
    etls_wipe(c, sizeof *c);
}

void etls_hash_peek(const etls_hash_ctx_t *c, uint8_t *out)
{
    etls_hash_ctx_t tmp;
    tmp.alg = c->alg;
    tmp.nbytes = c->nbytes;
    tmp.buflen = c->buflen;
    tmp.h = c->h;
    memcpy(tmp.buf, c->buf, c->buflen); /* the rest of buf is overwritten by the padding */
    finish(&tmp, out);
    etls_wipe(&tmp, sizeof tmp);
}

void etls_hash(etls_hash_alg_t alg, const void *data, size_t len, uint8_t *out)
{
    etls_hash_ctx_t c;
    etls_hash_init(&c, alg);
    etls_hash_update(&c, data, len);
    etls_hash_final(&c, out);
}

/* ---- HMAC ---------------------------------------------------------------------------------- */

/* The pad blocks are built 64 bits at a time; key bytes beyond keylen are zero. */
void etls_hmac_init(etls_hmac_ctx_t *c, etls_hash_alg_t alg, const void *key, size_t keylen)
{
    size_t bl = etls_hash_block_len(alg);
    uint64_t pad[16] = {0};
    if (keylen > bl) { /* RFC 2104 §2: keys longer than a block are hashed first */
        etls_hash(alg, key, keylen, (uint8_t *)pad);
    } else if (keylen) {
        memcpy(pad, key, keylen);
    }
    for (size_t i = 0; i < bl / 8; i++)
        pad[i] ^= 0x3636363636363636ULL;
    etls_hash_init(&c->inner, alg);
    compress(&c->inner, (const uint8_t *)pad, 1);
    c->inner.nbytes = bl;
    for (size_t i = 0; i < bl / 8; i++)
        pad[i] ^= 0x3636363636363636ULL ^ 0x5c5c5c5c5c5c5c5cULL;
    etls_hash_init(&c->outer, alg);
    compress(&c->outer, (const uint8_t *)pad, 1);
    c->outer.nbytes = bl;
    etls_wipe(pad, sizeof pad);
}

void etls_hmac_update(etls_hmac_ctx_t *c, const void *data, size_t len)
{
    etls_hash_update(&c->inner, data, len);
}

void etls_hmac_final(etls_hmac_ctx_t *c, uint8_t *out)
{
    uint8_t ih[ETLS_HASH_MAX_LEN];
    size_t hl = etls_hash_len(c->inner.alg);
    etls_hash_final(&c->inner, ih);
    etls_hash_update(&c->outer, ih, hl);
    etls_hash_final(&c->outer, out);
    etls_wipe(ih, sizeof ih);
}

/* Copies the parts of a hash context that matter (not the unused buffer tail): cloning a keyed
 * HMAC state is on the key schedule's hot path. */
static void hash_clone(etls_hash_ctx_t *dst, const etls_hash_ctx_t *src)
{
    dst->alg = src->alg;
    dst->nbytes = src->nbytes;
    dst->buflen = src->buflen;
    dst->h = src->h;
    memcpy(dst->buf, src->buf, src->buflen);
}

/* Builds the final padded block for a message of total bytes (after the key block) whose tail
 * of n bytes is already at blk[0..n); the whole tail plus padding must fit in one block. */
static void pad_block(uint8_t *blk, size_t n, size_t bl, uint64_t total)
{
    blk[n++] = 0x80;
    memset(blk + n, 0, bl - 8 - n); /* includes the high half of SHA-512's 128-bit length */
    store_be64(blk + bl - 8, total << 3);
}

/* The key schedule's case: the message fits in the inner hash's last block, so HMAC is exactly
 * two compressions from the keyed states, with the blocks built on the stack (no context copies,
 * buffers or wipes of whole contexts). */
static void hmac_keyed_short(const etls_hmac_ctx_t *keyed, const etls_hmac_seg_t *segs,
                             size_t nsegs, size_t total, uint8_t *out)
{
    etls_hash_alg_t alg = keyed->inner.alg;
    size_t bl = etls_hash_block_len(alg), hl = etls_hash_len(alg), n = 0;
    struct {
        uint64_t blk64[16], st[8];
    } w; /* one struct so that one wipe clears both */
    uint64_t *blk64 = w.blk64, *st = w.st;
    uint8_t *blk = (uint8_t *)blk64;
    for (size_t i = 0; i < nsegs; i++) {
        if (segs[i].n)
            memcpy(blk + n, segs[i].p, segs[i].n);
        n += segs[i].n;
    }
    pad_block(blk, n, bl, bl + total);
    memcpy(st, &keyed->inner.h, sizeof w.st);
    compress_state(alg, st, blk, 1);
    store_digest(alg, st, blk);
    pad_block(blk, hl, bl, bl + hl);
    memcpy(st, &keyed->outer.h, sizeof w.st);
    compress_state(alg, st, blk, 1);
    store_digest(alg, st, out);
    etls_wipe(&w, sizeof w);
}

void etls_hmac_keyed(const etls_hmac_ctx_t *keyed, const etls_hmac_seg_t *segs, size_t nsegs,
                     uint8_t *out)
{
    etls_hash_ctx_t c;
    uint8_t ih[ETLS_HASH_MAX_LEN];
    size_t hl = etls_hash_len(keyed->inner.alg), bl = etls_hash_block_len(keyed->inner.alg);
    size_t total = 0;
    for (size_t i = 0; i < nsegs; i++)
        total += segs[i].n;
    /* 8 (SHA-256) or 16 (SHA-384) length bytes plus the 0x80 must follow the message. */
    if (keyed->inner.buflen == 0 && keyed->inner.nbytes == bl && total + 1 + bl / 8 <= bl) {
        hmac_keyed_short(keyed, segs, nsegs, total, out);
        return;
    }
    hash_clone(&c, &keyed->inner);
    for (size_t i = 0; i < nsegs; i++)
        etls_hash_update(&c, segs[i].p, segs[i].n);
    finish(&c, ih);
    hash_clone(&c, &keyed->outer);
    etls_hash_update(&c, ih, hl);
    finish(&c, out);
    etls_wipe(&c, sizeof c);
    etls_wipe(ih, sizeof ih);
}

void etls_hmac(etls_hash_alg_t alg, const void *key, size_t keylen, const void *data, size_t len,
               uint8_t *out)
{
    etls_hmac_ctx_t c;
    etls_hmac_init(&c, alg, key, keylen);
    etls_hmac_update(&c, data, len);
    etls_hmac_final(&c, out);
}

/* ---- HKDF (RFC 5869) ----------------------------------------------------------------------- */

void etls_hkdf_extract(etls_hash_alg_t alg, const void *salt, size_t saltlen, const void *ikm,
                       size_t ikmlen, uint8_t *prk)
{
    /* A missing salt is HashLen zeros (§2.2); HMAC zero-pads keys, so an empty key is the same. */
    etls_hmac(alg, saltlen ? salt : NULL, saltlen, ikm, ikmlen, prk);
}

int etls_hkdf_expand_keyed(const etls_hmac_ctx_t *prk_hmac, const void *info, size_t infolen,
                           uint8_t *out, size_t outlen)
{
    size_t hl = etls_hash_len(prk_hmac->inner.alg);
    ETLS_ENSURE(hl != 0, ETLS_ERR_INVALID);
    ETLS_ENSURE(outlen <= 255 * hl, ETLS_ERR_INVALID);
    uint8_t t[ETLS_HASH_MAX_LEN];
    for (size_t done = 0, i = 1; done < outlen; i++) {
        uint8_t ctr = (uint8_t)i;
        etls_hmac_seg_t segs[3] = {{t, i > 1 ? hl : 0}, {info, infolen}, {&ctr, 1}};
        etls_hmac_keyed(prk_hmac, segs, 3, t);
        size_t n = outlen - done < hl ? outlen - done : hl;
        memcpy(out + done, t, n);
        done += n;
    }
    etls_wipe(t, sizeof t);
    return 0;
}

int etls_hkdf_expand(etls_hash_alg_t alg, const uint8_t *prk, size_t prklen, const void *info,
                     size_t infolen, uint8_t *out, size_t outlen)
{
    size_t hl = etls_hash_len(alg);
    ETLS_ENSURE(hl != 0, ETLS_ERR_INVALID);
    ETLS_ENSURE(outlen <= 255 * hl, ETLS_ERR_INVALID);
    etls_hmac_ctx_t keyed; /* HMAC key set up once for all T(i) */
    etls_hmac_init(&keyed, alg, prk, prklen);
    int rc = etls_hkdf_expand_keyed(&keyed, info, infolen, out, outlen);
    etls_wipe(&keyed, sizeof keyed);
    return rc;
}
