/* A minimal TLS 1.2 client for tests and fuzzing; see mini12.h. */
#include "mini12.h"

#include "crypto/x25519.h"
#include "tls/tls_internal.h"

#include <openssl/rsa.h>
#include <string.h>

static uint8_t next_byte(mini12_t *m)
{
    m->rng = m->rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint8_t)(m->rng >> 56);
}

static void rand_bytes(mini12_t *m, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = next_byte(m);
}

void mini12_init(mini12_t *m, etls_aead_engine_t *eng, EVP_PKEY *rsa, uint64_t seed)
{
    memset(m, 0, sizeof *m);
    m->eng = eng;
    m->rsa = rsa;
    m->rng = seed * 2 + 1;
}

void mini12_free(mini12_t *m)
{
    etls_aead_key_wipe(&m->wkey);
    etls_aead_key_wipe(&m->rkey);
}

static void w16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

size_t mini12_client_hello(mini12_t *m, const mini12_ch_t *o, uint8_t *b, size_t cap)
{
    static const uint16_t def[] = {ETLS_TLS_RSA_AES_128_GCM_SHA256};
    const uint16_t *s = o && o->suites ? o->suites : def;
    size_t ns = o && o->suites ? o->n_suites : 1, n = 4;
    if (ns > 64 || cap < 200 + 2 * ns)
        return 0;
    w16(b + n, o && o->client_version ? o->client_version : 0x0303);
    n += 2;
    rand_bytes(m, m->client_random, 32);
    memcpy(b + n, m->client_random, 32);
    n += 32;
    b[n++] = 0; /* no session id */
    w16(b + n, 2 * ns);
    n += 2;
    for (size_t i = 0; i < ns; i++, n += 2)
        w16(b + n, s[i]);
    b[n++] = 1;
    b[n++] = 0;
    uint8_t ext[] = {
        0x00, 0x0a, 0, 6, 0, 4, 0x00, 0x1d, 0x00, 0x17,         /* groups x25519, P-256 */
        0x00, 0x0b, 0, 2, 1, 0,                                 /* point formats: uncompressed */
        0x00, 0x0d, 0, 8, 0, 6, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, /* signature_algorithms */
        0xff, 0x01, 0, 1, 0,                                    /* renegotiation_info */
    };
    if (o && o->p256_only)
        ext[7] = 0x17; /* secp256r1 twice: the server takes the first it knows, either way P-256 */
    size_t el = sizeof ext + (o && o->no_ems ? 0 : 4);
    w16(b + n, el);
    n += 2;
    memcpy(b + n, ext, sizeof ext);
    n += sizeof ext;
    if (!(o && o->no_ems)) {
        static const uint8_t ems[] = {0, 23, 0, 0};
        memcpy(b + n, ems, 4);
        n += 4;
    }
    b[0] = HT_CLIENT_HELLO;
    b[1] = 0;
    w16(b + 2, n - 4);
    memcpy(m->ch, b, n); /* the hash is known only after the ServerHello */
    m->ch_len = n;
    return n;
}

static int suite_setup(mini12_t *m)
{
    switch (m->suite) {
    case 0x009c: case 0xc02b: case 0xc02f: m->aead = ETLS_AEAD_AES128GCM; m->hash = ETLS_HASH_SHA256; break;
    case 0x009d: case 0xc02c: case 0xc030: m->aead = ETLS_AEAD_AES256GCM; m->hash = ETLS_HASH_SHA384; break;
    case 0xcca8: case 0xcca9: m->aead = ETLS_AEAD_CHACHA20POLY1305; m->hash = ETLS_HASH_SHA256; break;
    default: return -1;
    }
    return 0;
}

static int server_hello(mini12_t *m, const uint8_t *p, size_t n)
{
    if (n < 38 || p[0] != 3 || p[1] != 3)
        return -1;
    memcpy(m->server_random, p + 2, 32);
    size_t o = 34 + 1 + p[34];
    if (o + 5 > n)
        return -1;
    m->suite = (uint16_t)(p[o] << 8 | p[o + 1]);
    o += 3;
    size_t end = o + 2 + (size_t)(p[o] << 8 | p[o + 1]);
    for (o += 2; o + 4 <= end && end <= n; o += 4 + (size_t)(p[o + 2] << 8 | p[o + 3]))
        if ((p[o] << 8 | p[o + 1]) == EXT_EXTENDED_MASTER_SECRET)
            m->ems = 1;
    return suite_setup(m);
}

int mini12_read_flight(mini12_t *m, const uint8_t *in, size_t len)
{
    static uint8_t hs[65536];
    size_t hl = 0;
    for (size_t o = 0; o + 5 <= len;) {
        size_t rl = (size_t)(in[o + 3] << 8 | in[o + 4]);
        if (in[o] != CT_HANDSHAKE || o + 5 + rl > len || hl + rl > sizeof hs)
            return -1;
        memcpy(hs + hl, in + o + 5, rl);
        hl += rl;
        o += 5 + rl;
    }
    int done = 0;
    for (size_t o = 0; o + 4 <= hl && !done;) {
        size_t ml = (size_t)hs[o + 1] << 16 | (size_t)hs[o + 2] << 8 | hs[o + 3];
        if (o + 4 + ml > hl)
            return -1;
        const uint8_t *b = hs + o + 4;
        if (hs[o] == HT_SERVER_HELLO) {
            if (server_hello(m, b, ml) != 0)
                return -1;
            etls_hash_init(&m->th, m->hash);
            etls_hash_update(&m->th, m->ch, m->ch_len);
        } else if (hs[o] == HT_SERVER_KEY_EXCHANGE) {
            int x = (b[1] << 8 | b[2]) == ETLS_TLS_GROUP_X25519;
            if (ml < 4 + 32 || b[0] != 3 || b[3] != (x ? 32 : 65) || ml < 4u + b[3])
                return -1;
            memcpy(m->server_point, b + 4, b[3]);
            m->have_ske = x ? 1 : 2;
        } else if (hs[o] == HT_SERVER_HELLO_DONE) {
            done = 1;
        } else if (hs[o] != HT_CERTIFICATE) {
            return -1;
        }
        if (!m->suite)
            return -1;
        etls_hash_update(&m->th, hs + o, 4 + ml);
        o += 4 + ml;
    }
    return done ? 0 : -1;
}

static int derive(mini12_t *m)
{
    uint8_t th[ETLS_HASH_MAX_LEN], kb[2 * (32 + 12)];
    size_t hl = etls_hash_len(m->hash), kl = etls_aead_key_len(m->aead);
    size_t il = m->aead == ETLS_AEAD_CHACHA20POLY1305 ? 12 : 4;
    etls_hash_peek(&m->th, th);
    int rc = m->ems ? etls_tls12_prf(m->hash, m->pms, m->pms_len, "extended master secret", th, hl,
                                     (const uint8_t *)"", 0, m->master, 48)
                    : etls_tls12_prf(m->hash, m->pms, m->pms_len, "master secret", m->client_random, 32,
                                     m->server_random, 32, m->master, 48);
    rc |= etls_tls12_prf(m->hash, m->master, 48, "key expansion", m->server_random, 32,
                         m->client_random, 32, kb, 2 * (kl + il));
    memset(m->wiv, 0, 12);
    memset(m->riv, 0, 12);
    memcpy(m->wiv, kb + 2 * kl, il);
    memcpy(m->riv, kb + 2 * kl + il, il);
    rc |= etls_aead_key_init(m->eng, &m->wkey, m->aead, kb);
    rc |= etls_aead_key_init(m->eng, &m->rkey, m->aead, kb + kl);
    rc |= etls_tls12_prf(m->hash, m->master, 48, "client finished", th, hl, (const uint8_t *)"", 0,
                         m->client_fin, 12);
    return rc ? -1 : 0;
}

const uint8_t *mini12_premaster(const mini12_t *m)
{
    return m->pms;
}

static size_t rsa_cke(mini12_t *m, const uint8_t *em_in, uint8_t *out)
{
    uint8_t em[ETLS_SIG_MAX_LEN];
    size_t k = (size_t)EVP_PKEY_get_size(m->rsa), n = k;
    m->pms[0] = 3;
    m->pms[1] = 3;
    rand_bytes(m, m->pms + 2, 46);
    m->pms_len = 48;
    if (em_in) {
        memcpy(em, em_in, k);
    } else {
        em[0] = 0;
        em[1] = 2;
        for (size_t i = 2; i < k - 49; i++)
            do
                em[i] = next_byte(m);
            while (!em[i]);
        em[k - 49] = 0;
        memcpy(em + k - 48, m->pms, 48);
    }
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, m->rsa, NULL);
    int ok = pc && EVP_PKEY_encrypt_init(pc) == 1 && EVP_PKEY_CTX_set_rsa_padding(pc, RSA_NO_PADDING) == 1 &&
             EVP_PKEY_encrypt(pc, out + 6, &n, em, k) == 1;
    EVP_PKEY_CTX_free(pc);
    if (!ok) /* an encoding >= n: send it as it is (the server refuses it publicly) */
        memcpy(out + 6, em, k);
    w16(out + 4, k);
    return 2 + k;
}

size_t mini12_client_key_exchange(mini12_t *m, const uint8_t *em, uint8_t *out)
{
    size_t bl;
    if (m->have_ske == 2) {
        return 0; /* P-256: raw exchanges only */
    } else if (m->have_ske) {
        rand_bytes(m, m->sk, 32);
        out[4] = 32;
        etls_x25519_public(out + 5, m->sk);
        if (etls_x25519_shared(m->pms, m->sk, m->server_point) != 0)
            return 0;
        m->pms_len = 32;
        bl = 33;
    } else {
        bl = rsa_cke(m, em, out);
    }
    out[0] = HT_CLIENT_KEY_EXCHANGE;
    out[1] = 0;
    w16(out + 2, bl);
    etls_hash_update(&m->th, out, 4 + bl);
    return derive(m) == 0 ? 4 + bl : 0;
}

size_t mini12_client_key_exchange_raw(mini12_t *m, const uint8_t *body, size_t len, uint8_t *out)
{
    out[0] = HT_CLIENT_KEY_EXCHANGE;
    out[1] = (uint8_t)(len >> 16);
    w16(out + 2, len);
    if (len)
        memmove(out + 4, body, len);
    etls_hash_update(&m->th, out, 4 + len);
    return 4 + len;
}

size_t mini12_finished(mini12_t *m, uint8_t *out)
{
    out[0] = HT_FINISHED;
    out[1] = out[2] = 0;
    out[3] = 12;
    memcpy(out + 4, m->client_fin, 12);
    etls_hash_update(&m->th, out, 16);
    return 16;
}

static void nonce_aad(const uint8_t *iv, etls_aead_alg_t aead, uint64_t seq, uint8_t type, size_t len,
                      uint8_t nonce[12], uint8_t aad[13])
{
    memcpy(nonce, iv, 12);
    for (int i = 0; i < 8; i++) {
        uint8_t b = (uint8_t)(seq >> (56 - 8 * i));
        if (aead == ETLS_AEAD_CHACHA20POLY1305)
            nonce[4 + i] ^= b;
        else
            nonce[4 + i] = b;
        aad[i] = b;
    }
    aad[8] = type;
    aad[9] = aad[10] = 3;
    w16(aad + 11, len);
}

size_t mini12_seal(mini12_t *m, uint8_t type, const uint8_t *data, size_t len, uint8_t *out)
{
    uint8_t nonce[12], aad[13];
    size_t ex = m->aead == ETLS_AEAD_CHACHA20POLY1305 ? 0 : 8, tag = etls_aead_tag_len(m->aead);
    nonce_aad(m->wiv, m->aead, m->wseq, type, len, nonce, aad);
    out[0] = type;
    out[1] = out[2] = 3;
    w16(out + 3, ex + len + tag);
    memcpy(out + 5, nonce + 4, ex);
    memmove(out + 5 + ex, data, len);
    etls_aead_seal(m->eng, &m->wkey, nonce, aad, 13, out + 5 + ex, len, out + 5 + ex);
    m->wseq++;
    return 5 + ex + len + tag;
}

int mini12_open(mini12_t *m, const uint8_t *in, size_t len, uint8_t *type, uint8_t *pt, size_t *used)
{
    size_t ex = m->aead == ETLS_AEAD_CHACHA20POLY1305 ? 0 : 8, tag = etls_aead_tag_len(m->aead);
    if (len < 5)
        return -1;
    size_t rl = (size_t)(in[3] << 8 | in[4]);
    if (rl < ex + tag || 5 + rl > len)
        return -1;
    uint8_t nonce[12], aad[13];
    size_t n = rl - ex - tag;
    nonce_aad(m->riv, m->aead, m->rseq, in[0], n, nonce, aad);
    memcpy(nonce + 4, in + 5, ex);
    if (etls_aead_open(m->eng, &m->rkey, nonce, aad, 13, in + 5 + ex, rl - ex, pt) != 0)
        return -1;
    m->rseq++;
    *type = in[0];
    *used = 5 + rl;
    return (int)n;
}

int mini12_read_finished(mini12_t *m, const uint8_t *in, size_t len)
{
    size_t o = 0, used;
    uint8_t type, pt[ETLS_TLS_MAX_CIPHERTEXT], want[12], th[ETLS_HASH_MAX_LEN];
    while (o + 5 <= len && in[o] == CT_HANDSHAKE) { /* NewSessionTicket */
        size_t rl = (size_t)(in[o + 3] << 8 | in[o + 4]);
        etls_hash_update(&m->th, in + o + 5, rl);
        o += 5 + rl;
    }
    if (o + 6 > len || in[o] != CT_CHANGE_CIPHER_SPEC || in[o + 5] != 1)
        return -1;
    o += 6;
    int n = mini12_open(m, in + o, len - o, &type, pt, &used);
    if (n != 16 || type != CT_HANDSHAKE || pt[0] != HT_FINISHED)
        return -1;
    etls_hash_peek(&m->th, th);
    if (etls_tls12_prf(m->hash, m->master, 48, "server finished", th, etls_hash_len(m->hash),
                       (const uint8_t *)"", 0, want, 12) != 0)
        return -1;
    etls_hash_update(&m->th, pt, 16);
    return memcmp(want, pt + 4, 12) == 0 && o + used == len ? 0 : -1;
}
