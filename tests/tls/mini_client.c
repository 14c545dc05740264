#include "mini_client.h"

#include "crypto/mlkem.h"
#include "crypto/x25519.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t hrr_random[32] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};

void mini_init(mini_t *m, etls_aead_engine_t *eng, uint64_t seed)
{
    etls_test_rng_t r;
    mini_free(m);
    etls_test_rng_seed(&r, seed);
    etls_test_rng_bytes(&r, m->sk, 32);
    etls_x25519_public(m->pub, m->sk);
    m->eng = eng;
}

typedef struct {
    uint8_t *p;
    size_t n;
} wb_t;

static void w8(wb_t *w, unsigned v)
{
    w->p[w->n++] = (uint8_t)v;
}
static void w16(wb_t *w, unsigned v)
{
    w8(w, v >> 8);
    w8(w, v);
}
static void wbytes(wb_t *w, const void *d, size_t n)
{
    memcpy(w->p + w->n, d, n);
    w->n += n;
}
/* Opens a length field of `width` bytes; close_len fills it in. */
static size_t open_len(wb_t *w, int width)
{
    size_t at = w->n;
    w->n += (size_t)width;
    return at;
}
static void close_len(wb_t *w, size_t at, int width)
{
    size_t len = w->n - at - (size_t)width;
    for (int i = 0; i < width; i++)
        w->p[at + (size_t)i] = (uint8_t)(len >> (8 * (width - 1 - i)));
}

static void ext_u16_list(wb_t *w, unsigned type, const uint16_t *v, size_t n, int width)
{
    w16(w, type);
    size_t l = open_len(w, 2), l2 = open_len(w, width);
    for (size_t i = 0; i < n; i++)
        w16(w, v[i]);
    close_len(w, l2, width);
    close_len(w, l, 2);
}

void mini_hybrid_keys(mini_t *m)
{
    if (!m->have_mlkem) { /* deterministic: the seed comes from the X25519 key */
        uint8_t seed[64];
        etls_shake256(seed, sizeof seed, m->sk, 32);
        etls_mlkem768_keygen_seed(m->ek, m->dk, seed, sizeof seed);
        m->have_mlkem = 1;
    }
}

static void ch_extensions(mini_t *m, const ch_opts_t *o, wb_t *w)
{
    static const uint16_t d_groups[] = {ETLS_TLS_GROUP_X25519};
    static const uint16_t d_sig[] = {0x0403, 0x0804, 0x0807};
    uint16_t ver = o->version ? o->version : ETLS_TLS_VERSION_13;
    if (o->sni) {
        w16(w, 0);
        size_t l = open_len(w, 2), l2 = open_len(w, 2);
        w8(w, 0);
        w16(w, (unsigned)strlen(o->sni));
        wbytes(w, o->sni, strlen(o->sni));
        close_len(w, l2, 2);
        close_len(w, l, 2);
    }
    if (!o->no_versions)
        ext_u16_list(w, 43, &ver, 1, 1);
    for (int i = 0; i < 1 + (o->dup_groups != 0) && !o->no_groups; i++)
        ext_u16_list(w, 10, o->groups ? o->groups : d_groups, o->groups ? o->n_groups : 1, 2);
    if (!o->no_sigalgs)
        ext_u16_list(w, 13, o->sigalgs ? o->sigalgs : d_sig, o->sigalgs ? o->n_sigalgs : 3, 2);
    if (o->rsl) {
        w16(w, 28);
        w16(w, 2);
        w16(w, o->rsl);
    }
    if (o->cookie) {
        w16(w, 44);
        w16(w, (unsigned)o->cookie_len + 2);
        w16(w, (unsigned)o->cookie_len);
        wbytes(w, o->cookie, o->cookie_len);
    }
    if (!o->no_key_share) {
        w16(w, 51);
        size_t l = open_len(w, 2), l2 = open_len(w, 2);
        uint16_t g = o->share_group ? o->share_group : ETLS_TLS_GROUP_X25519;
        w16(w, g);
        if (g == ETLS_TLS_GROUP_X25519 && !o->share_len) {
            w16(w, 32);
            wbytes(w, o->share_key ? o->share_key : m->pub, 32);
        } else if (g == ETLS_TLS_GROUP_X25519MLKEM768 && !o->share_len) {
            mini_hybrid_keys(m);
            w16(w, 1184 + 32);
            wbytes(w, o->share_ek ? o->share_ek : m->ek, 1184);
            wbytes(w, o->share_key ? o->share_key : m->pub, 32);
        } else {
            size_t n = o->share_len ? o->share_len : 65;
            w16(w, (unsigned)n);
            for (size_t i = 0; i < n; i++)
                w8(w, i == 0 ? 4 : (unsigned)i);
        }
        close_len(w, l2, 2);
        close_len(w, l, 2);
    }
    if (o->extra)
        wbytes(w, o->extra, o->extra_len);
}

size_t mini_build_ch(mini_t *m, const ch_opts_t *o, uint8_t *buf, size_t cap)
{
    static const uint16_t d_suites[] = {ETLS_TLS_AES_128_GCM_SHA256};
    static const uint8_t d_comp[] = {0};
    wb_t w = {buf, 0};
    (void)cap;
    w8(&w, 1);
    size_t ml = open_len(&w, 3);
    w16(&w, o->legacy_version ? o->legacy_version : 0x0303);
    for (int i = 0; i < 32; i++)
        w8(&w, (unsigned)(i * 7));
    w8(&w, (unsigned)o->sid_len);
    for (size_t i = 0; i < o->sid_len; i++)
        w8(&w, 0xaa);
    const uint16_t *s = o->suites ? o->suites : d_suites;
    size_t ns = o->suites ? o->n_suites : 1;
    w16(&w, (unsigned)(2 * ns));
    for (size_t i = 0; i < ns; i++)
        w16(&w, s[i]);
    w8(&w, o->comp ? (unsigned)o->comp_len : 1);
    wbytes(&w, o->comp ? o->comp : d_comp, o->comp ? o->comp_len : 1);
    size_t el = open_len(&w, 2);
    ch_extensions(m, o, &w);
    close_len(&w, el, 2);
    close_len(&w, ml, 3);
    return w.n;
}

size_t mini_records(uint8_t type, const uint8_t *data, size_t len, size_t frag, uint8_t *out)
{
    size_t o = 0;
    frag = frag ? frag : 16384;
    do {
        size_t n = len < frag ? len : frag;
        out[o] = type;
        out[o + 1] = 3;
        out[o + 2] = 3;
        out[o + 3] = (uint8_t)(n >> 8);
        out[o + 4] = (uint8_t)n;
        memcpy(out + o + 5, data, n);
        o += 5 + n;
        data += n;
        len -= n;
    } while (len);
    return o;
}

void mini_free(mini_t *m)
{
    etls_aead_key_wipe(&m->wkey); /* zeroed keys hold nothing */
    etls_aead_key_wipe(&m->rkey);
    memset(m, 0, sizeof *m);
}

static int set_key(mini_t *m, etls_aead_key_t *k, uint8_t *iv, const uint8_t *secret)
{
    uint8_t key[32];
    etls_aead_key_wipe(k);
    if (etls_tls13_traffic_keys(m->hash, secret, key, etls_aead_key_len(m->aead), iv, 12) != 0)
        return -1;
    return etls_aead_key_init(m->eng, k, m->aead, key);
}

static void nonce(const uint8_t *iv, uint64_t seq, uint8_t *n)
{
    memcpy(n, iv, 12);
    for (int i = 0; i < 8; i++)
        n[11 - i] ^= (uint8_t)(seq >> (8 * i));
}

/* Finds extension `type` in a ServerHello body; returns its data or NULL. */
static const uint8_t *sh_ext(const uint8_t *body, size_t len, uint16_t type, size_t *elen)
{
    size_t p = 2 + 32;
    p += 1 + body[p];
    p += 2 + 1;
    size_t end = p + 2 + ((size_t)body[p] << 8 | body[p + 1]);
    for (p += 2; p + 4 <= end && end <= len;) {
        uint16_t t = (uint16_t)(body[p] << 8 | body[p + 1]);
        size_t l = (size_t)body[p + 2] << 8 | body[p + 3];
        if (t == type) {
            *elen = l;
            return body + p + 4;
        }
        p += 4 + l;
    }
    return NULL;
}

static int server_hello(mini_t *m, const uint8_t *ch, size_t ch_len, const uint8_t *sh, size_t sh_len)
{
    const uint8_t *body = sh + 4;
    size_t blen = sh_len - 4, el;
    size_t sp = 2 + 32 + 1 + body[34];
    m->suite = (uint16_t)(body[sp] << 8 | body[sp + 1]);
    if (etls_tls_suite_params(m->suite, &m->aead, &m->hash) != 0)
        return -1;
    m->tag = etls_aead_tag_len(m->aead);
    const uint8_t *ks = sh_ext(body, blen, 51, &el);
    if (!ks)
        return -2;
    if (memcmp(body + 2, hrr_random, 32) == 0) { /* HelloRetryRequest */
        m->hrr = 1;
        m->hrr_group = (uint16_t)(ks[0] << 8 | ks[1]);
        const uint8_t *ck = sh_ext(body, blen, 44, &el);
        if (ck) {
            m->cookie_len = (size_t)ck[0] << 8 | ck[1];
            memcpy(m->cookie, ck + 2, m->cookie_len);
        }
        uint8_t h1[48], mh[4] = {254, 0, 0, (uint8_t)etls_hash_len(m->hash)};
        etls_hash(m->hash, ch, ch_len, h1);
        etls_hash_init(&m->th, m->hash);
        etls_hash_update(&m->th, mh, 4);
        etls_hash_update(&m->th, h1, etls_hash_len(m->hash));
        etls_hash_update(&m->th, sh, sh_len);
        return 1;
    }
    if (!m->hrr)
        etls_hash_init(&m->th, m->hash);
    etls_hash_update(&m->th, ch, ch_len);
    etls_hash_update(&m->th, sh, sh_len);
    uint8_t shared[64], th[48];
    size_t shared_len = 32;
    uint16_t grp = (uint16_t)(ks[0] << 8 | ks[1]);
    size_t klen = (size_t)ks[2] << 8 | ks[3];
    if (grp == ETLS_TLS_GROUP_X25519MLKEM768) { /* ML-KEM ciphertext || X25519, secrets likewise */
        mini_hybrid_keys(m);
        if (klen != 1088 + 32 ||
            etls_mlkem768_decaps(shared, m->dk, sizeof m->dk, ks + 4, 1088) != 0 ||
            etls_x25519_shared(shared + 32, m->sk, ks + 4 + 1088) != 0)
            return -3;
        shared_len = 64;
    } else if (grp != ETLS_TLS_GROUP_X25519 || klen != 32 || etls_x25519_shared(shared, m->sk, ks + 4) != 0) {
        return -3;
    }
    m->group = grp;
    etls_hash_peek(&m->th, th);
    etls_tls13_ks_init(&m->ks, m->hash, NULL, 0);
    if (etls_tls13_ks_handshake(&m->ks, shared, shared_len, th, m->c_hs, m->s_hs) != 0)
        return -4;
    if (set_key(m, &m->wkey, m->wiv, m->c_hs) || set_key(m, &m->rkey, m->riv, m->s_hs))
        return -5;
    m->wseq = m->rseq = 0;
    return 0;
}

/* Opens one protected record; returns the inner content length and type, or -1. */
static int open_record(mini_t *m, const uint8_t *rec, size_t len, uint8_t *pt, uint8_t *type)
{
    uint8_t n[12];
    nonce(m->riv, m->rseq++, n);
    if (etls_aead_open(m->eng, &m->rkey, n, rec, 5, rec + 5, len, pt) != 0)
        return -1;
    size_t l = len - m->tag;
    while (l && pt[l - 1] == 0)
        l--;
    if (!l)
        return -1;
    *type = pt[l - 1];
    if (l - 1 > m->max_rec_plain)
        m->max_rec_plain = l - 1;
    return (int)(l - 1);
}

static void scan_ee(mini_t *m, const uint8_t *msg, size_t len)
{
    for (size_t p = 6; p + 4 <= len;) {
        uint16_t t = (uint16_t)(msg[p] << 8 | msg[p + 1]);
        size_t l = (size_t)msg[p + 2] << 8 | msg[p + 3];
        if (t == 28 && l == 2)
            m->ee_rsl = (uint16_t)(msg[p + 4] << 8 | msg[p + 5]);
        p += 4 + l;
    }
}

int mini_read_flight(mini_t *m, const uint8_t *ch, size_t ch_len, const uint8_t *in, size_t len)
{
    static uint8_t hs[1 << 17], pt[17000];
    size_t hs_len = 0, p = 0;
    while (p + 5 <= len) { /* plaintext handshake records: ServerHello (or HRR) */
        size_t rl = (size_t)in[p + 3] << 8 | in[p + 4];
        if (in[p] == 20) {
            m->ccs_seen = 1;
        } else if (in[p] == 22) {
            memcpy(hs + hs_len, in + p + 5, rl);
            hs_len += rl;
        } else {
            break;
        }
        p += 5 + rl;
    }
    if (hs_len < 4)
        return -10;
    int rc = server_hello(m, ch, ch_len, hs, hs_len);
    if (rc != 0)
        return rc;
    hs_len = 0;
    for (; p + 5 <= len;) {
        size_t rl = (size_t)in[p + 3] << 8 | in[p + 4];
        uint8_t type;
        int n = open_record(m, in + p, rl, pt, &type);
        if (n < 0 || type != 22)
            return -11;
        memcpy(hs + hs_len, pt, (size_t)n);
        hs_len += (size_t)n;
        p += 5 + rl;
    }
    /* EE, Certificate, CertificateVerify, Finished: hash all but the last for its check. */
    size_t hl = etls_hash_len(m->hash), fin = hs_len - 4 - hl;
    if (hs_len < 4 + hl || hs[fin] != 20)
        return -12;
    if (hs[0] == 8)
        scan_ee(m, hs, 4 + ((size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3]));
    uint8_t th[48], vd[48];
    etls_hash_update(&m->th, hs, fin);
    etls_hash_peek(&m->th, th);
    etls_tls13_finished(m->hash, m->s_hs, th, vd);
    if (memcmp(vd, hs + fin + 4, hl) != 0)
        return -13; /* the server's Finished must verify */
    etls_hash_update(&m->th, hs + fin, 4 + hl);
    etls_hash_peek(&m->th, th);
    etls_tls13_finished(m->hash, m->c_hs, th, m->client_fin);
    if (etls_tls13_ks_master(&m->ks, th, m->c_ap, m->s_ap, NULL) != 0)
        return -14;
    return 0;
}

size_t mini_seal(mini_t *m, uint8_t type, const uint8_t *data, size_t len, size_t pad, uint8_t *out)
{
    uint8_t n[12];
    size_t inner = len + 1 + pad;
    memmove(out + 5, data, len);
    out[5 + len] = type;
    memset(out + 6 + len, 0, pad);
    out[0] = 23;
    out[1] = out[2] = 3;
    out[3] = (uint8_t)((inner + m->tag) >> 8);
    out[4] = (uint8_t)(inner + m->tag);
    nonce(m->wiv, m->wseq++, n);
    etls_aead_seal(m->eng, &m->wkey, n, out, 5, out + 5, inner, out + 5);
    return 5 + inner + m->tag;
}

size_t mini_seal_inner(mini_t *m, const uint8_t *inner, size_t len, uint8_t *out)
{
    uint8_t n[12];
    memmove(out + 5, inner, len);
    out[0] = 23;
    out[1] = out[2] = 3;
    out[3] = (uint8_t)((len + m->tag) >> 8);
    out[4] = (uint8_t)(len + m->tag);
    nonce(m->wiv, m->wseq++, n);
    etls_aead_seal(m->eng, &m->wkey, n, out, 5, out + 5, len, out + 5);
    return 5 + len + m->tag;
}

size_t mini_finished_msg(const mini_t *m, uint8_t *out)
{
    size_t hl = etls_hash_len(m->hash);
    out[0] = 20;
    out[1] = 0;
    out[2] = 0;
    out[3] = (uint8_t)hl;
    memcpy(out + 4, m->client_fin, hl);
    return 4 + hl;
}

int mini_switch_app(mini_t *m)
{
    m->wseq = m->rseq = 0;
    return set_key(m, &m->wkey, m->wiv, m->c_ap) | set_key(m, &m->rkey, m->riv, m->s_ap);
}

int mini_update_write(mini_t *m)
{
    m->wseq = 0;
    if (etls_tls13_update_secret(m->hash, m->c_ap) != 0)
        return -1;
    return set_key(m, &m->wkey, m->wiv, m->c_ap);
}

int mini_open_all(mini_t *m, const uint8_t *in, size_t len, uint8_t *app, size_t *app_len,
                  int *alert)
{
    static uint8_t pt[17000];
    for (size_t p = 0; p + 5 <= len;) {
        size_t rl = (size_t)in[p + 3] << 8 | in[p + 4];
        uint8_t type;
        int n = open_record(m, in + p, rl, pt, &type);
        if (n < 0)
            return -1;
        if (type == 23) {
            memcpy(app + *app_len, pt, (size_t)n);
            *app_len += (size_t)n;
        } else if (type == 21 && n == 2) {
            *alert = pt[1];
        } else if (type == 22 && n == 5 && pt[0] == 24) { /* KeyUpdate from the server */
            m->ku_in++;
            m->ku_in_requested |= pt[4] != 0;
            m->rseq = 0;
            if (etls_tls13_update_secret(m->hash, m->s_ap) || set_key(m, &m->rkey, m->riv, m->s_ap))
                return -2;
        } else {
            return -3;
        }
        p += 5 + rl;
    }
    return 0;
}

size_t mini_hs_msg(uint8_t type, const uint8_t *body, size_t len, uint8_t *out)
{
    out[0] = type;
    out[1] = (uint8_t)(len >> 16);
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    if (len)
        memcpy(out + 4, body, len);
    return 4 + len;
}

static size_t put_u24(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 16);
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)v;
    return 3;
}

size_t mini_cert_body(const uint8_t *ctx, size_t ctx_len, const uint8_t *der, size_t der_len,
                      const uint8_t *ext, size_t ext_len, uint8_t *out)
{
    size_t n = 0;
    out[n++] = (uint8_t)ctx_len;
    if (ctx_len)
        memcpy(out + n, ctx, ctx_len);
    n += ctx_len;
    n += put_u24(out + n, der ? 3 + der_len + 2 + ext_len : 0);
    if (!der)
        return n;
    n += put_u24(out + n, der_len);
    memcpy(out + n, der, der_len);
    n += der_len;
    out[n++] = (uint8_t)(ext_len >> 8);
    out[n++] = (uint8_t)ext_len;
    if (ext_len)
        memcpy(out + n, ext, ext_len);
    return n + ext_len;
}
