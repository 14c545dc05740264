/* Session tickets (RFC 8446 §4.6.1) and PSK resumption (§4.2.11): sealing the resumption
 * state into a self-contained ticket, opening it again, and the PSK binder check.
 *
 * Ticket = key name (16) || nonce (16) || ciphertext || tag (32), with
 *   keystream = HKDF-Expand(secret, "etls ticket enc" || nonce, len)
 *   tag       = HMAC-SHA-256(HKDF-Expand(secret, "etls ticket mac", 32), name || nonce || ct)
 * Only hash functions are involved, so the read-only context can be shared by all workers. */
#include "tls/tls_internal.h"

#include <time.h>

#define NAME_LEN 16
#define NONCE_LEN 16
#define TAG_LEN 32
#define PLAIN_MAX (1 + 2 + 8 + 4 + 8 + 1 + ETLS_HASH_MAX_LEN + 1 + ETLS_TLS_TICKET_ID_MAX)

static uint64_t clock_ms(void *arg)
{
    struct timespec ts;
    (void)arg;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t etls_tls_now_ms(const etls_tls_server_ctx_t *ctx)
{
    return ctx->now_ms ? ctx->now_ms(ctx->now_arg) : clock_ms(NULL);
}

int etls_tls_server_ctx_set_ticket_keys(etls_tls_server_ctx_t *ctx, const uint8_t *current,
                                        const uint8_t *previous)
{
    etls_wipe(ctx->ticket_keys, sizeof ctx->ticket_keys);
    etls_wipe(ctx->ticket_seed, sizeof ctx->ticket_seed);
    ctx->ticket_rotation_s = 0;
    ctx->n_ticket_keys = 0;
    if (!current)
        return previous ? ETLS_ERR_INVALID : 0;
    memcpy(ctx->ticket_keys[0], current, ETLS_TLS_TICKET_KEY_LEN);
    ctx->n_ticket_keys = 1;
    if (previous) {
        memcpy(ctx->ticket_keys[1], previous, ETLS_TLS_TICKET_KEY_LEN);
        ctx->n_ticket_keys = 2;
    }
    if (!ctx->ticket_lifetime)
        ctx->ticket_lifetime = 7200;
    return 0;
}

int etls_tls_server_ctx_set_ticket_key_set(etls_tls_server_ctx_t *ctx,
                                           const uint8_t (*keys)[ETLS_TLS_TICKET_KEY_LEN], size_t n,
                                           uint32_t lifetime_s)
{
    ETLS_ENSURE(n <= ETLS_TLS_MAX_TICKET_KEYS, ETLS_ERR_INVALID);
    ETLS_ENSURE(!n || (lifetime_s >= 1 && lifetime_s <= 604800), ETLS_ERR_INVALID);
    ETLS_GUARD(etls_tls_server_ctx_set_ticket_keys(ctx, NULL, NULL));
    if (n)
        memcpy(ctx->ticket_keys, keys, n * ETLS_TLS_TICKET_KEY_LEN);
    ctx->n_ticket_keys = (uint8_t)n;
    if (n)
        ctx->ticket_lifetime = lifetime_s;
    return 0;
}

int etls_tls_server_ctx_set_ticket_seed(etls_tls_server_ctx_t *ctx, const uint8_t seed[32],
                                        uint32_t rotation_s)
{
    ETLS_ENSURE(rotation_s >= 60 && rotation_s <= 604800, ETLS_ERR_INVALID);
    ETLS_GUARD(etls_tls_server_ctx_set_ticket_keys(ctx, NULL, NULL));
    memcpy(ctx->ticket_seed, seed, sizeof ctx->ticket_seed);
    ctx->ticket_rotation_s = rotation_s;
    ctx->ticket_lifetime = rotation_s;
    ctx->n_ticket_keys = 2;
    return 0;
}

/* The first n keys in use now: [0] seals and opens, [1] only opens. Fixed keys are copied;
 * rotating ones are derived for this period and the previous one (sealing needs only the
 * first). The caller wipes keys. */
static int keys_now(const etls_tls_server_ctx_t *ctx, uint8_t keys[ETLS_TLS_MAX_TICKET_KEYS][ETLS_TLS_TICKET_KEY_LEN],
                    unsigned n)
{
    if (!ctx->ticket_rotation_s) {
        memcpy(keys, ctx->ticket_keys, sizeof ctx->ticket_keys);
        return 0;
    }
    uint64_t period = etls_tls_now_ms(ctx) / 1000 / ctx->ticket_rotation_s;
    for (unsigned k = 0; k < n; k++) {
        uint8_t info[15 + 8];
        uint64_t e = period - k;
        memcpy(info, "etls ticket key", 15);
        for (int i = 0; i < 8; i++)
            info[15 + i] = (uint8_t)(e >> (56 - 8 * i));
        if (etls_hkdf_expand(ETLS_HASH_SHA256, ctx->ticket_seed, sizeof ctx->ticket_seed, info,
                             sizeof info, keys[k], ETLS_TLS_TICKET_KEY_LEN) != 0)
            return ETLS_ERR_CRYPTO;
    }
    return 0;
}

/* XORs data with the keystream for this nonce (encrypts and decrypts). */
static int keystream_xor(const uint8_t *key, const uint8_t *nonce, uint8_t *data, size_t len)
{
    uint8_t info[15 + NONCE_LEN], ks[PLAIN_MAX];
    memcpy(info, "etls ticket enc", 15);
    memcpy(info + 15, nonce, NONCE_LEN);
    int rc = etls_hkdf_expand(ETLS_HASH_SHA256, key + NAME_LEN, 32, info, sizeof info, ks, len);
    for (size_t i = 0; i < len; i++)
        data[i] ^= ks[i];
    etls_wipe(ks, sizeof ks);
    return rc ? ETLS_ERR_CRYPTO : 0;
}

/* The tag covers the ciphertext, so it is computed after encrypting and before decrypting. */
static void tag_of(const uint8_t *key, const uint8_t *nonce, const uint8_t *ct, size_t len,
                   uint8_t tag[TAG_LEN])
{
    uint8_t mk[32];
    etls_hkdf_expand(ETLS_HASH_SHA256, key + NAME_LEN, 32, "etls ticket mac", 15, mk, sizeof mk);
    etls_hmac_ctx_t h;
    etls_hmac_init(&h, ETLS_HASH_SHA256, mk, sizeof mk);
    etls_hmac_update(&h, key, NAME_LEN);
    etls_hmac_update(&h, nonce, NONCE_LEN);
    etls_hmac_update(&h, ct, len);
    etls_hmac_final(&h, tag);
    etls_wipe(mk, sizeof mk);
}

/* Format 3's tail: flags, policy tag, CN length, CN, leaf fingerprint. */
static size_t encode_id(const etls_tls_ticket_t *t, uint8_t *p)
{
    size_t n = 0;
    p[n++] = t->peer.flags & ETLS_TLS_PEER_VERIFIED;
    memcpy(p + n, t->ca_tag, sizeof t->ca_tag);
    n += sizeof t->ca_tag;
    p[n++] = t->peer.cn_len;
    memcpy(p + n, t->peer.cn, t->peer.cn_len);
    n += t->peer.cn_len;
    memcpy(p + n, t->peer.fp, sizeof t->peer.fp);
    return n + sizeof t->peer.fp;
}

static int decode_id(const uint8_t *p, size_t n, etls_tls_ticket_t *t)
{
    ETLS_ENSURE(n >= 1 + 8 + 1 + 32 && p[0] == ETLS_TLS_PEER_VERIFIED, ETLS_ERR_INVALID);
    uint8_t cl = p[9];
    ETLS_ENSURE(cl <= ETLS_TLS_CLIENT_CN_MAX && n == 1 + 8 + 1 + (size_t)cl + 32, ETLS_ERR_INVALID);
    t->peer.flags = p[0];
    memcpy(t->ca_tag, p + 1, 8);
    t->peer.cn_len = cl;
    memcpy(t->peer.cn, p + 10, cl);
    t->peer.cn[cl] = 0;
    memcpy(t->peer.fp, p + 10 + cl, 32);
    return 0;
}

static size_t encode(const etls_tls_ticket_t *t, uint8_t *p)
{
    size_t n = 0;
    int v12 = t->version == ETLS_TLS_VERSION_12;
    int id = !v12 && (t->peer.flags & ETLS_TLS_PEER_VERIFIED);
    /* format: 1 TLS 1.3, 2 TLS 1.2 (a flags byte at the end), 3 TLS 1.3 with a client identity */
    p[n++] = v12 ? 2 : id ? 3 : 1;
    put_u16(p + n, t->suite);
    n += 2;
    for (int i = 7; i >= 0; i--)
        p[n++] = (uint8_t)(t->issued_ms >> (8 * i));
    for (int i = 3; i >= 0; i--)
        p[n++] = (uint8_t)(t->age_add >> (8 * i));
    memcpy(p + n, t->sni_hash, 8);
    n += 8;
    p[n++] = t->psk_len;
    memcpy(p + n, t->psk, t->psk_len);
    n += t->psk_len;
    if (v12)
        p[n++] = t->ems ? 1 : 0;
    if (id)
        n += encode_id(t, p + n);
    return n;
}

int etls_tls_ticket_seal(const etls_tls_server_ctx_t *ctx, etls_rand_t *rng,
                         const etls_tls_ticket_t *t, uint8_t *out, size_t *len)
{
    uint8_t keys[ETLS_TLS_MAX_TICKET_KEYS][ETLS_TLS_TICKET_KEY_LEN];
    const uint8_t *key = keys[0];
    ETLS_ENSURE(ctx->n_ticket_keys, ETLS_ERR_INVALID);
    int rc = keys_now(ctx, keys, 1);
    if (rc == 0) {
        memcpy(out, key, NAME_LEN);
        rc = etls_rand_bytes(rng, out + NAME_LEN, NONCE_LEN);
    }
    uint8_t *ct = out + NAME_LEN + NONCE_LEN;
    size_t n = 0;
    if (rc == 0) {
        n = encode(t, ct);
        rc = keystream_xor(key, out + NAME_LEN, ct, n);
    }
    if (rc == 0) {
        tag_of(key, out + NAME_LEN, ct, n, ct + n);
        *len = NAME_LEN + NONCE_LEN + n + TAG_LEN;
    }
    etls_wipe(keys, sizeof keys);
    return rc;
}

static int decode(const uint8_t *p, size_t n, etls_tls_ticket_t *t)
{
    ETLS_ENSURE(n >= 24 && p[0] >= 1 && p[0] <= 3, ETLS_ERR_INVALID);
    size_t extra = p[0] == 2; /* TLS 1.2: flags */
    memset(&t->peer, 0, sizeof t->peer);
    memset(t->ca_tag, 0, sizeof t->ca_tag);
    t->version = extra ? ETLS_TLS_VERSION_12 : ETLS_TLS_VERSION_13;
    t->suite = (uint16_t)(p[1] << 8 | p[2]);
    t->issued_ms = 0;
    for (int i = 0; i < 8; i++)
        t->issued_ms = t->issued_ms << 8 | p[3 + i];
    t->age_add = (uint32_t)p[11] << 24 | (uint32_t)p[12] << 16 | (uint32_t)p[13] << 8 | p[14];
    memcpy(t->sni_hash, p + 15, 8);
    t->psk_len = p[23];
    ETLS_ENSURE(t->psk_len <= ETLS_HASH_MAX_LEN, ETLS_ERR_INVALID);
    if (p[0] == 3) { /* the identity follows the PSK */
        ETLS_ENSURE(n > 24u + t->psk_len, ETLS_ERR_INVALID);
        ETLS_GUARD(decode_id(p + 24 + t->psk_len, n - 24 - t->psk_len, t));
    } else {
        ETLS_ENSURE(n == 24u + t->psk_len + extra, ETLS_ERR_INVALID);
    }
    memcpy(t->psk, p + 24, t->psk_len);
    t->ems = extra && (p[24 + t->psk_len] & 1);
    return 0;
}

int etls_tls_ticket_open(const etls_tls_server_ctx_t *ctx, const uint8_t *in, size_t len,
                         etls_tls_ticket_t *t)
{
    uint8_t buf[PLAIN_MAX], tag[TAG_LEN];
    ETLS_ENSURE(len > NAME_LEN + NONCE_LEN + TAG_LEN, ETLS_ERR_INVALID);
    size_t n = len - NAME_LEN - NONCE_LEN - TAG_LEN;
    ETLS_ENSURE(n <= sizeof buf, ETLS_ERR_INVALID);
    uint8_t keys[ETLS_TLS_MAX_TICKET_KEYS][ETLS_TLS_TICKET_KEY_LEN];
    int rc = keys_now(ctx, keys, ctx->n_ticket_keys);
    for (unsigned k = 0; rc == 0 && k < ctx->n_ticket_keys; k++) {
        const uint8_t *key = keys[k];
        if (memcmp(in, key, NAME_LEN) != 0) /* the name is public */
            continue;
        tag_of(key, in + NAME_LEN, in + NAME_LEN + NONCE_LEN, n, tag);
        if (!etls_ct_memeq(tag, in + len - TAG_LEN, TAG_LEN)) {
            rc = ETLS_ERR_AUTH;
            break;
        }
        memcpy(buf, in + NAME_LEN + NONCE_LEN, n);
        rc = keystream_xor(key, in + NAME_LEN, buf, n);
        if (rc == 0)
            rc = decode(buf, n, t);
        etls_wipe(buf, sizeof buf);
        etls_wipe(keys, sizeof keys);
        return rc;
    }
    etls_wipe(keys, sizeof keys);
    return rc ? rc : ETLS_ERR_INVALID;
}
