/* AEAD tests: Wycheproof vectors (single calls and mixed bursts), differential against OpenSSL
 * EVP on random records, API bounds and error codes.
 *
 * usage: test_aead GCM.txt CHACHA.txt CCM.txt [--cases N] [--expect-arch A] [--expect-backend B]
 *   --cases N         random differential records per algorithm (default 100000; /10 under ASan)
 *   --expect-arch A   the engine must report ipsec-mb/A (checks ETLS_CPU_DISABLE forcing)
 *   --expect-backend  ipsec-mb|openssl: every algorithm must use it (checks ETLS_AEAD_BACKEND) */
#include "crypto/aead.h"
#include "common/err.h"
#include "test.h"
#include "vectors.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define SCALE 10
#else
#define SCALE 1
#endif

#define MAXLEN 20000
#define BATCH_MAX 48

static const etls_aead_alg_t all_algs[] = {ETLS_AEAD_AES128GCM, ETLS_AEAD_AES256GCM,
                                           ETLS_AEAD_CHACHA20POLY1305, ETLS_AEAD_AES128CCM,
                                           ETLS_AEAD_AES128CCM8};
#define NALGS 5

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= p[i];
    return d == 0;
}

/* ---- reference: OpenSSL EVP one-shot with a fresh context, independent of the module ---- */

static const char *evp_name(etls_aead_alg_t a)
{
    switch (a) {
    case ETLS_AEAD_AES128GCM: return "AES-128-GCM";
    case ETLS_AEAD_AES256GCM: return "AES-256-GCM";
    case ETLS_AEAD_CHACHA20POLY1305: return "ChaCha20-Poly1305";
    default: return "AES-128-CCM";
    }
}

/* Seals into out (ct || tag). Returns 1 on success. */
static int ref_seal(etls_aead_alg_t a, const uint8_t *key, const uint8_t *nonce, const uint8_t *aad,
                    size_t aad_len, const uint8_t *pt, size_t len, uint8_t *out)
{
    static uint8_t empty[1];
    static EVP_CIPHER *fetched[8]; /* fetched once per algorithm; kept for the process */
    if (!fetched[a])
        fetched[a] = EVP_CIPHER_fetch(NULL, evp_name(a), NULL);
    EVP_CIPHER *c = fetched[a];
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int ccm = a == ETLS_AEAD_AES128CCM || a == ETLS_AEAD_AES128CCM8, tag = (int)etls_aead_tag_len(a), n;
    int ok = EVP_EncryptInit_ex2(ctx, c, NULL, NULL, NULL) &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) &&
             (!ccm || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, tag, NULL)) &&
             EVP_EncryptInit_ex2(ctx, NULL, key, nonce, NULL) &&
             (!ccm || EVP_EncryptUpdate(ctx, NULL, &n, NULL, (int)len)) &&
             (!aad_len || EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len)) &&
             EVP_EncryptUpdate(ctx, len ? out : empty, &n, len ? pt : empty, (int)len) &&
             EVP_EncryptFinal_ex(ctx, empty, &n) &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, tag, out + len);
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

/* ---- Wycheproof ---- */

typedef struct {
    etls_aead_alg_t alg;
    int valid;
    long tc;
    const char *file;
    uint8_t key[32], nonce[12];
    uint8_t *aad, *msg, *ctag; /* ctag = ct || tag */
    size_t aad_len, msg_len;
} wp_vec_t;

static wp_vec_t *vecs;
static size_t nvecs, wp_out_of_scope, wp_in_scope;

static uint8_t *hexdup(etls_tv_t *tv, const char *field, size_t *len)
{
    const char *s = etls_tv_str(tv, field);
    size_t n = s ? strlen(s) / 2 : 0;
    uint8_t *p = malloc(n + 1);
    long got = s ? etls_hex_decode(s, strlen(s), p, n) : -1;
    CHECK_MSG(got == (long)n, "bad hex in %s line %lu", field, tv->lineno);
    *len = n;
    return p;
}

static void wp_load(const char *path, const char *family)
{
    etls_tv_t tv;
    etls_tv_open(&tv, path);
    while (etls_tv_next(&tv)) {
        uint8_t key[64], iv[1024];
        long klen = etls_tv_hex(&tv, "key", key, sizeof key), ivlen = etls_tv_hex(&tv, "iv", iv, sizeof iv);
        long tag_bits = etls_tv_int(&tv, "g_tagSize", -1);
        const char *res = etls_tv_str(&tv, "result");
        CHECK(klen > 0 && ivlen >= 0 && tag_bits > 0 && res);
        etls_aead_alg_t alg;
        int rc = etls_aead_lookup(family, (size_t)klen, (size_t)ivlen, (size_t)tag_bits / 8, &alg);
        int in_scope = ivlen == 12 && tag_bits == 128 && (klen == 16 || (klen == 32 && strcmp(family, "aes-ccm") != 0));
        in_scope |= ivlen == 12 && tag_bits == 64 && klen == 16 && strcmp(family, "aes-ccm") == 0;
        /* The API must map exactly the supported parameter sets and refuse the rest clearly. */
        CHECK_MSG(in_scope ? rc == 0 : rc == ETLS_ERR_UNSUPPORTED, "%s tc %ld: lookup %d", family,
                  etls_tv_int(&tv, "tcId", 0), rc);
        if (rc != 0) {
            wp_out_of_scope++;
            continue;
        }
        vecs = realloc(vecs, (nvecs + 1) * sizeof *vecs);
        wp_vec_t *v = &vecs[nvecs++];
        memset(v, 0, sizeof *v);
        v->alg = alg;
        v->valid = strcmp(res, "invalid") != 0;
        v->tc = etls_tv_int(&tv, "tcId", 0);
        v->file = family;
        memcpy(v->key, key, (size_t)klen);
        memcpy(v->nonce, iv, 12);
        size_t ct_len, tag_len;
        v->aad = hexdup(&tv, "aad", &v->aad_len);
        v->msg = hexdup(&tv, "msg", &v->msg_len);
        uint8_t *ct = hexdup(&tv, "ct", &ct_len), *tag = hexdup(&tv, "tag", &tag_len);
        CHECK(ct_len == v->msg_len && tag_len == etls_aead_tag_len(alg));
        v->ctag = malloc(ct_len + tag_len + 1);
        memcpy(v->ctag, ct, ct_len);
        memcpy(v->ctag + ct_len, tag, tag_len);
        free(ct);
        free(tag);
        wp_in_scope++;
    }
    etls_tv_close(&tv);
}

/* Single calls: valid vectors seal to ct||tag and open to msg; invalid ones are rejected. */
static void wp_single(etls_aead_engine_t *e)
{
    for (size_t i = 0; i < nvecs; i++) {
        wp_vec_t *v = &vecs[i];
        size_t tag = etls_aead_tag_len(v->alg), n = v->msg_len;
        etls_aead_key_t k;
        memset(&k, 0, sizeof k);
        CHECK(etls_aead_key_init(e, &k, v->alg, v->key) == 0);
        uint8_t *buf = malloc(n + tag + 1);
        int rc = etls_aead_seal(e, &k, v->nonce, v->aad, v->aad_len, v->msg, n, buf);
        CHECK(rc == 0);
        if (v->valid)
            CHECK_MSG(memcmp(buf, v->ctag, n + tag) == 0, "%s tc %ld: seal differs", v->file, v->tc);
        else /* the vector's tag really is wrong: our seal must not reproduce it */
            CHECK_MSG(memcmp(buf, v->ctag, n + tag) != 0, "%s tc %ld: invalid reproduced", v->file, v->tc);
        memset(buf, 0xa5, n + 1);
        rc = etls_aead_open(e, &k, v->nonce, v->aad, v->aad_len, v->ctag, n + tag, buf);
        if (v->valid) {
            CHECK_MSG(rc == 0 && memcmp(buf, v->msg, n) == 0, "%s tc %ld: open %d", v->file, v->tc, rc);
        } else {
            CHECK_MSG(rc == ETLS_ERR_AUTH, "%s tc %ld: invalid vector opened (%d)", v->file, v->tc, rc);
            CHECK_MSG(all_zero(buf, n), "%s tc %ld: plaintext not wiped", v->file, v->tc);
        }
        free(buf);
        etls_aead_key_wipe(&k);
    }
}

/* Builds one seal and one open op per vector, shuffled; half in place. */
static void wp_burst_ops(etls_aead_op_t *ops, etls_aead_key_t *keys, uint8_t **bufs, etls_test_rng_t *rng)
{
    size_t n2 = nvecs * 2, *order = malloc(n2 * sizeof *order);
    for (size_t i = 0; i < n2; i++)
        order[i] = i;
    for (size_t i = n2 - 1; i > 0; i--) {
        size_t j = etls_test_rng_next(rng) % (i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (size_t oi = 0; oi < n2; oi++) {
        size_t vi = order[oi] / 2;
        wp_vec_t *v = &vecs[vi];
        size_t tag = etls_aead_tag_len(v->alg), n = v->msg_len;
        int seal = order[oi] % 2 == 0, inplace = etls_test_rng_next(rng) & 1;
        bufs[oi] = malloc(2 * (n + tag) + 1);
        uint8_t *in = bufs[oi], *out = inplace ? in : in + n + tag;
        memcpy(in, seal ? v->msg : v->ctag, seal ? n : n + tag);
        ops[oi] = (etls_aead_op_t){.key = &keys[vi], .dir = seal ? ETLS_AEAD_SEAL : ETLS_AEAD_OPEN,
                                   .aad = v->aad, .aad_len = v->aad_len, .in = in,
                                   .in_len = seal ? n : n + tag, .out = out, .user = v};
        memcpy(ops[oi].nonce, v->nonce, 12);
    }
    free(order);
}

/* The same vectors through etls_aead_burst in random mixed batches: seal and open ops of all
 * three files interleaved, half of them in place. */
static void wp_burst(etls_aead_engine_t *e, etls_test_rng_t *rng)
{
    size_t n2 = nvecs * 2;
    etls_aead_key_t *keys = calloc(nvecs, sizeof *keys);
    uint8_t **bufs = calloc(n2, sizeof *bufs);
    etls_aead_op_t *ops = calloc(n2, sizeof *ops);
    for (size_t i = 0; i < nvecs; i++)
        CHECK(etls_aead_key_init(e, &keys[i], vecs[i].alg, vecs[i].key) == 0);
    wp_burst_ops(ops, keys, bufs, rng);
    for (size_t done = 0, b; done < n2; done += b) {
        b = 1 + etls_test_rng_next(rng) % 64;
        b = b > n2 - done ? n2 - done : b;
        size_t expect_fail = 0;
        for (size_t i = done; i < done + b; i++)
            expect_fail += ops[i].dir == ETLS_AEAD_OPEN && !((wp_vec_t *)ops[i].user)->valid;
        CHECK(etls_aead_burst(e, ops + done, b) == expect_fail);
    }
    for (size_t oi = 0; oi < n2; oi++) {
        etls_aead_op_t *op = &ops[oi];
        wp_vec_t *v = op->user;
        size_t tag = etls_aead_tag_len(v->alg), n = v->msg_len;
        if (op->dir == ETLS_AEAD_SEAL)
            CHECK_MSG(op->status == 0 && (memcmp(op->out, v->ctag, n + tag) == 0) == v->valid,
                      "burst %s tc %ld: seal", v->file, v->tc);
        else if (v->valid)
            CHECK_MSG(op->status == 0 && memcmp(op->out, v->msg, n) == 0, "burst %s tc %ld: open", v->file, v->tc);
        else
            CHECK_MSG(op->status == ETLS_ERR_AUTH && all_zero(op->out, n), "burst %s tc %ld: invalid", v->file, v->tc);
        free(bufs[oi]);
    }
    for (size_t i = 0; i < nvecs; i++)
        etls_aead_key_wipe(&keys[i]);
    free(keys);
    free(bufs);
    free(ops);
}

/* ---- differential against OpenSSL on random records ---- */

typedef struct {
    etls_aead_alg_t alg;
    uint8_t key[32];
    etls_aead_key_t k;
} dkey_t;

typedef struct {
    dkey_t *key;
    uint8_t nonce[12], aad[300], aad_bad[300];
    size_t aad_len, len;
    uint8_t *pt, *ref, *buf; /* buf: 4 regions of MAXLEN + 16: two ops, each in or out of place */
    int tamper;              /* for the tampered open: 1 tag, 2 ciphertext, 3 AAD */
} dcase_t;

#define KEYS_PER_ALG 4
#define REGION (MAXLEN + 16)

static size_t rnd(etls_test_rng_t *r, size_t n)
{
    return (size_t)(etls_test_rng_next(r) % n);
}

static void dcase_make(dcase_t *c, dkey_t *key, etls_test_rng_t *r)
{
    c->key = key;
    etls_test_rng_bytes(r, c->nonce, 12);
    int ccm = key->alg == ETLS_AEAD_AES128CCM || key->alg == ETLS_AEAD_AES128CCM8;
    /* mostly TLS-sized AAD; sometimes long (beyond ipsec-mb's 46-byte CCM limit) */
    c->aad_len = rnd(r, 8) == 0 ? rnd(r, sizeof c->aad + 1) : rnd(r, ccm ? 47 : 33);
    etls_test_rng_bytes(r, c->aad, c->aad_len);
    c->len = rnd(r, MAXLEN + 1);
    etls_test_rng_bytes(r, c->pt, c->len);
    CHECK(ref_seal(key->alg, key->key, c->nonce, c->aad, c->aad_len, c->pt, c->len, c->ref));
}

/* Builds the seal op for case c in regions slot*2 (input) and slot*2+1 (output unless in place). */
static void seal_op(etls_aead_op_t *op, dcase_t *c, int slot, int inplace)
{
    uint8_t *in = c->buf + 2 * slot * REGION, *out = inplace ? in : in + REGION;
    memcpy(in, c->pt, c->len);
    *op = (etls_aead_op_t){.key = &c->key->k, .dir = ETLS_AEAD_SEAL, .aad = c->aad, .aad_len = c->aad_len,
                           .in = in, .in_len = c->len, .out = out, .user = c};
    memcpy(op->nonce, c->nonce, 12);
}

/* Builds an open op of the reference ciphertext, tampered as `tamper` says (0: intact). */
static void open_op(etls_aead_op_t *op, dcase_t *c, int slot, int tamper, int inplace, etls_test_rng_t *r)
{
    size_t tag = etls_aead_tag_len(c->key->alg), n = c->len;
    uint8_t *in = c->buf + 2 * slot * REGION, *out = inplace ? in : in + REGION;
    memcpy(in, c->ref, n + tag);
    *op = (etls_aead_op_t){.key = &c->key->k, .dir = ETLS_AEAD_OPEN, .aad = c->aad, .aad_len = c->aad_len,
                           .in = in, .in_len = n + tag, .out = out, .user = c};
    memcpy(op->nonce, c->nonce, 12);
    if ((tamper == 2 && n == 0) || (tamper == 3 && c->aad_len == 0))
        tamper = 1;
    uint8_t bit = (uint8_t)(1u << rnd(r, 8));
    if (tamper == 1) {
        in[n + rnd(r, tag)] ^= bit;
    } else if (tamper == 2) {
        in[rnd(r, n)] ^= bit;
    } else if (tamper == 3) {
        memcpy(c->aad_bad, c->aad, c->aad_len);
        c->aad_bad[rnd(r, c->aad_len)] ^= bit;
        op->aad = c->aad_bad;
    }
}

/* Checks a finished op against the case: seal equals OpenSSL's ct||tag, an intact open gives
 * the plaintext back, a tampered one is rejected with the output wiped. */
static void check_op(const etls_aead_op_t *op, int tampered)
{
    const dcase_t *c = op->user;
    const char *name = etls_aead_name(c->key->alg);
    if (op->dir == ETLS_AEAD_SEAL)
        CHECK_MSG(op->status == 0 && memcmp(op->out, c->ref, c->len + etls_aead_tag_len(c->key->alg)) == 0,
                  "%s len %zu aad %zu: seal differs from OpenSSL (%d)", name, c->len, c->aad_len, op->status);
    else if (!tampered)
        CHECK_MSG(op->status == 0 && memcmp(op->out, c->pt, c->len) == 0, "%s len %zu aad %zu: open %d", name,
                  c->len, c->aad_len, op->status);
    else
        CHECK_MSG(op->status == ETLS_ERR_AUTH && all_zero(op->out, c->len), "%s len %zu: tamper %d accepted (%d)",
                  name, c->len, c->tamper, op->status);
}

/* Runs ops as one burst, or one by one through seal/open; checks the burst's failure count. */
static void run_ops(etls_aead_engine_t *e, etls_aead_op_t *ops, size_t n, int single, size_t expect_fail)
{
    if (!single) {
        CHECK(etls_aead_burst(e, ops, n) == expect_fail);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        etls_aead_op_t *o = &ops[i];
        o->status = (o->dir == ETLS_AEAD_SEAL ? etls_aead_seal : etls_aead_open)(e, o->key, o->nonce, o->aad,
                                                                                 o->aad_len, o->in, o->in_len, o->out);
    }
}

/* One batch of b cases: a burst mixing seals and intact opens of every case (shuffled, in place
 * or not), then a burst of tampered opens. Some batches use the single-record calls instead. */
static size_t diff_batch(etls_aead_engine_t *e, dcase_t *cases, size_t b, etls_test_rng_t *r)
{
    etls_aead_op_t ops[2 * BATCH_MAX], t;
    int single = rnd(r, 8) == 0;
    size_t rejected = 0;
    for (size_t i = 0; i < b; i++) {
        seal_op(&ops[2 * i], &cases[i], 0, (int)rnd(r, 2));
        open_op(&ops[2 * i + 1], &cases[i], 1, 0, (int)rnd(r, 2), r);
    }
    for (size_t i = 2 * b - 1; i > 0; i--) {
        size_t j = rnd(r, i + 1);
        t = ops[i], ops[i] = ops[j], ops[j] = t;
    }
    run_ops(e, ops, 2 * b, single, 0);
    for (size_t i = 0; i < 2 * b; i++)
        check_op(&ops[i], 0);
    for (size_t i = 0; i < b; i++)
        open_op(&ops[i], &cases[i], (int)rnd(r, 2), cases[i].tamper, (int)rnd(r, 2), r);
    run_ops(e, ops, b, single, b);
    for (size_t i = 0; i < b; i++) {
        check_op(&ops[i], 1);
        rejected += ops[i].status == ETLS_ERR_AUTH;
    }
    return rejected;
}

static void differential(etls_aead_engine_t *e, etls_test_rng_t *r, size_t per_alg)
{
    dkey_t keys[NALGS * KEYS_PER_ALG];
    dcase_t cases[BATCH_MAX];
    size_t counts[NALGS] = {0}, rejected = 0;
    memset(keys, 0, sizeof keys);
    for (size_t i = 0; i < NALGS * KEYS_PER_ALG; i++) {
        keys[i].alg = all_algs[i % NALGS];
        etls_test_rng_bytes(r, keys[i].key, 32);
        CHECK(etls_aead_key_init(e, &keys[i].k, keys[i].alg, keys[i].key) == 0);
    }
    for (size_t i = 0; i < BATCH_MAX; i++) {
        cases[i].pt = malloc(MAXLEN);
        cases[i].ref = malloc(REGION);
        cases[i].buf = malloc(4 * REGION);
    }
    for (size_t total = 0, seq = 0; total < per_alg * NALGS;) {
        size_t b = 1 + rnd(r, BATCH_MAX);
        if (b > per_alg * NALGS - total)
            b = per_alg * NALGS - total;
        dkey_t *rk = &keys[rnd(r, NALGS * KEYS_PER_ALG)]; /* fresh key material now and then */
        etls_aead_key_wipe(&rk->k);
        etls_test_rng_bytes(r, rk->key, 32);
        CHECK(etls_aead_key_init(e, &rk->k, rk->alg, rk->key) == 0);
        for (size_t i = 0; i < b; i++, seq++) {
            size_t a = seq % NALGS;
            dcase_make(&cases[i], &keys[a + NALGS * rnd(r, KEYS_PER_ALG)], r);
            counts[a]++;
            cases[i].tamper = 1 + (int)(seq / NALGS % 3); /* each algorithm rotates through all 3 */
        }
        rejected += diff_batch(e, cases, b, r);
        total += b;
    }
    for (size_t i = 0; i < NALGS; i++)
        printf("differential %-18s %zu records\n", etls_aead_name(all_algs[i]), counts[i]);
    printf("differential: %zu tampered records rejected\n", rejected);
    CHECK(rejected == per_alg * NALGS);
    for (size_t i = 0; i < NALGS * KEYS_PER_ALG; i++)
        etls_aead_key_wipe(&keys[i].k);
    for (size_t i = 0; i < BATCH_MAX; i++) {
        free(cases[i].pt);
        free(cases[i].ref);
        free(cases[i].buf);
    }
}

/* ---- API bounds and error codes ---- */

static void lookup_tests(void)
{
    static const struct {
        const char *family;
        size_t key, nonce, tag;
        int rc;
        etls_aead_alg_t alg;
    } t[] = {
        {"aes-gcm", 16, 12, 16, 0, ETLS_AEAD_AES128GCM},
        {"aes-gcm", 32, 12, 16, 0, ETLS_AEAD_AES256GCM},
        {"chacha20-poly1305", 32, 12, 16, 0, ETLS_AEAD_CHACHA20POLY1305},
        {"aes-ccm", 16, 12, 16, 0, ETLS_AEAD_AES128CCM},
        {"aes-ccm", 16, 12, 8, 0, ETLS_AEAD_AES128CCM8},
        {"aes-gcm", 24, 12, 16, ETLS_ERR_UNSUPPORTED, 0},
        {"aes-gcm", 16, 8, 16, ETLS_ERR_UNSUPPORTED, 0},
        {"aes-gcm", 16, 12, 12, ETLS_ERR_UNSUPPORTED, 0},
        {"aes-ccm", 32, 12, 16, ETLS_ERR_UNSUPPORTED, 0},
        {"aes-ccm", 16, 13, 16, ETLS_ERR_UNSUPPORTED, 0},
        {"chacha20-poly1305", 16, 12, 16, ETLS_ERR_UNSUPPORTED, 0},
        {"aes-ocb", 16, 12, 16, ETLS_ERR_INVALID, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        etls_aead_alg_t alg = 0;
        int rc = etls_aead_lookup(t[i].family, t[i].key, t[i].nonce, t[i].tag, &alg);
        CHECK_MSG(rc == t[i].rc && (rc != 0 || alg == t[i].alg), "lookup case %zu: %d", i, rc);
    }
    etls_aead_alg_t alg;
    CHECK(etls_aead_lookup(NULL, 16, 12, 16, &alg) == ETLS_ERR_INVALID);
    CHECK(etls_aead_key_len(ETLS_AEAD_AES128CCM8) == 16 && etls_aead_tag_len(ETLS_AEAD_AES128CCM8) == 8);
    CHECK(etls_aead_key_len(ETLS_AEAD_AES256GCM) == 32 && etls_aead_tag_len(ETLS_AEAD_CHACHA20POLY1305) == 16);
    CHECK(etls_aead_key_len(0) == 0 && etls_aead_tag_len(6) == 0 && strcmp(etls_aead_name(9), "unknown") == 0);
}

/* Seals `len` random bytes with `aad_len` random AAD through the API; compares with OpenSSL and
 * opens it back. */
static void roundtrip(etls_aead_engine_t *e, const etls_aead_key_t *k, const uint8_t *raw, size_t len,
                      size_t aad_len, etls_test_rng_t *r)
{
    size_t tag = etls_aead_tag_len(k->alg);
    uint8_t nonce[12], *aad = malloc(aad_len + 1), *pt = malloc(len + 1), *ct = malloc(len + tag),
                       *ref = malloc(len + tag), *back = malloc(len + 1);
    etls_test_rng_bytes(r, nonce, 12);
    etls_test_rng_bytes(r, aad, aad_len);
    etls_test_rng_bytes(r, pt, len);
    CHECK(ref_seal(k->alg, raw, nonce, aad, aad_len, pt, len, ref));
    CHECK_MSG(etls_aead_seal(e, k, nonce, aad, aad_len, pt, len, ct) == 0 && memcmp(ct, ref, len + tag) == 0,
              "%s len %zu aad %zu", etls_aead_name(k->alg), len, aad_len);
    CHECK(etls_aead_open(e, k, nonce, aad, aad_len, ct, len + tag, back) == 0 && memcmp(back, pt, len) == 0);
    free(aad), free(pt), free(ct), free(ref), free(back);
}

static void bounds_tests(etls_aead_engine_t *e, etls_aead_alg_t alg, etls_test_rng_t *r)
{
    uint8_t raw[32], nonce[12] = {0};
    etls_aead_key_t k;
    memset(&k, 0, sizeof k);
    etls_test_rng_bytes(r, raw, sizeof raw);
    CHECK(etls_aead_key_init(e, &k, alg, raw) == 0);
    static const size_t lens[] = {0,    1,     15,    16, 17, 255, ETLS_AEAD_SPLIT_LEN - 1, ETLS_AEAD_SPLIT_LEN,
                                  16640, 65534, 65535, ETLS_AEAD_MAX_INPUT};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
        roundtrip(e, &k, raw, lens[i], 5, r);
    roundtrip(e, &k, raw, 100, 13, r);
    roundtrip(e, &k, raw, 100, 46, r);
    roundtrip(e, &k, raw, 100, 47, r); /* CCM: beyond ipsec-mb's limit, served by OpenSSL */
    roundtrip(e, &k, raw, 1000, 4000, r);

    size_t tag = etls_aead_tag_len(alg), big = ETLS_AEAD_MAX_INPUT + 1;
    uint8_t *buf = calloc(1, 2 * (big + tag)), *out = buf + big + tag;
    CHECK(etls_aead_seal(e, &k, nonce, NULL, 0, buf, big, out) == ETLS_ERR_INVALID);
    CHECK(etls_aead_open(e, &k, nonce, NULL, 0, buf, big + tag, out) == ETLS_ERR_INVALID);
    CHECK(etls_aead_open(e, &k, nonce, NULL, 0, buf, tag - 1, out) == ETLS_ERR_INVALID);
    CHECK(etls_aead_seal(e, &k, nonce, buf, ETLS_AEAD_AAD_MAX + 1, buf, 10, out) == ETLS_ERR_INVALID);
    CHECK(etls_aead_seal(e, &k, nonce, NULL, 5, buf, 10, out) == ETLS_ERR_INVALID);
    CHECK(etls_aead_seal(e, &k, nonce, NULL, 0, NULL, 10, out) == ETLS_ERR_INVALID);
    CHECK(etls_aead_seal(e, &k, nonce, NULL, 0, buf, 10, NULL) == ETLS_ERR_INVALID);
    CHECK(etls_aead_seal(e, NULL, nonce, NULL, 0, buf, 10, out) == ETLS_ERR_INVALID);
    CHECK(etls_aead_seal(e, &k, NULL, NULL, 0, buf, 10, out) == ETLS_ERR_INVALID);
    CHECK(etls_aead_seal(e, &k, nonce, NULL, 0, buf, 100, buf + 1) == ETLS_ERR_INVALID); /* overlap */
    CHECK(etls_aead_seal(e, &k, nonce, NULL, 0, buf + 1, 100, buf) == ETLS_ERR_INVALID);
    CHECK(etls_aead_seal(e, &k, nonce, NULL, 0, NULL, 0, out) == 0); /* empty record: tag only */
    CHECK(etls_aead_open(e, &k, nonce, NULL, 0, out, tag, NULL) == 0);
    out[0] ^= 1;
    CHECK(etls_aead_open(e, &k, nonce, NULL, 0, out, tag, NULL) == ETLS_ERR_AUTH);
    etls_aead_op_t op = {.key = &k, .dir = 7, .in = buf, .in_len = 10, .out = out};
    CHECK(etls_aead_burst(e, &op, 1) == 1 && op.status == ETLS_ERR_INVALID);
    etls_aead_key_wipe(&k);
    CHECK(all_zero((const uint8_t *)&k, sizeof k));
    CHECK(etls_aead_seal(e, &k, nonce, NULL, 0, buf, 10, out) == ETLS_ERR_INVALID); /* wiped key */
    etls_aead_key_wipe(&k); /* idempotent */
    CHECK(etls_aead_key_init(e, &k, 0, raw) == ETLS_ERR_INVALID && all_zero((const uint8_t *)&k, sizeof k));
    CHECK(etls_aead_key_init(e, &k, alg, NULL) == ETLS_ERR_INVALID);
    free(buf);
}

/* More ops than ipsec-mb holds jobs (256), with invalid ops mixed in, keys used by a second
 * engine of the same process, and both backends in one burst. */
static void big_burst(etls_aead_engine_t *e, etls_test_rng_t *r)
{
    enum { N = 700 };
    etls_aead_engine_t *e2 = etls_aead_engine_new_backend(ETLS_AEAD_BACKEND_OPENSSL);
    CHECK(e2 != NULL);
    etls_aead_key_t keys[2 * NALGS];
    uint8_t raw[2 * NALGS][32];
    memset(keys, 0, sizeof keys);
    for (size_t i = 0; i < 2 * NALGS; i++) { /* odd: OpenSSL keys from e2, used through e */
        etls_test_rng_bytes(r, raw[i], 32);
        CHECK(etls_aead_key_init(i % 2 ? e2 : e, &keys[i], all_algs[i / 2], raw[i]) == 0);
    }
    etls_aead_op_t *ops = calloc(N, sizeof *ops);
    uint8_t *pt = malloc(N * 64), *ct = malloc(N * 80), *ref = malloc(80);
    etls_test_rng_bytes(r, pt, N * 64);
    size_t bad = 0;
    for (size_t i = 0; i < N; i++) {
        size_t ki = rnd(r, 2 * NALGS);
        ops[i] = (etls_aead_op_t){.key = &keys[ki], .dir = ETLS_AEAD_SEAL, .in = pt + i * 64,
                                  .in_len = rnd(r, 65), .out = ct + i * 80, .user = raw[ki]};
        etls_test_rng_bytes(r, ops[i].nonce, 12);
        if (i % 97 == 13) { /* invalid: length over the bound */
            ops[i].in_len = ETLS_AEAD_MAX_INPUT + 1;
            bad++;
        }
    }
    CHECK(etls_aead_burst(e, ops, N) == bad);
    for (size_t i = 0; i < N; i++) {
        if (i % 97 == 13) {
            CHECK(ops[i].status == ETLS_ERR_INVALID);
            continue;
        }
        size_t tag = etls_aead_tag_len(ops[i].key->alg);
        CHECK(ref_seal(ops[i].key->alg, ops[i].user, ops[i].nonce, NULL, 0, ops[i].in, ops[i].in_len, ref));
        CHECK_MSG(ops[i].status == 0 && memcmp(ops[i].out, ref, ops[i].in_len + tag) == 0, "big burst op %zu", i);
    }
    for (size_t i = 0; i < 2 * NALGS; i++)
        etls_aead_key_wipe(&keys[i]);
    CHECK(etls_aead_burst(e, NULL, 0) == 0);
    CHECK(etls_aead_burst(NULL, ops, 2) == 2 && ops[0].status == ETLS_ERR_INVALID && ops[1].status == ETLS_ERR_INVALID);
    free(ops), free(pt), free(ct), free(ref);
    etls_aead_engine_free(e2);
}

int main(int argc, char **argv)
{
    const char *files[3] = {0}, *expect_arch = NULL, *expect_backend = NULL;
    size_t cases = 100000, nfiles = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--cases") == 0 && i + 1 < argc)
            cases = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--expect-arch") == 0 && i + 1 < argc)
            expect_arch = argv[++i];
        else if (strcmp(argv[i], "--expect-backend") == 0 && i + 1 < argc)
            expect_backend = argv[++i];
        else if (nfiles < 3)
            files[nfiles++] = argv[i];
    }
    if (nfiles != 3) {
        fprintf(stderr, "usage: %s aes_gcm.txt chacha20_poly1305.txt aes_ccm.txt [--cases N] [--expect-arch A] "
                        "[--expect-backend B]\n", argv[0]);
        return 2;
    }
    etls_test_rng_t rng;
    etls_test_rng_seed(&rng, etls_test_seed("aead"));
    etls_aead_engine_t *e = etls_aead_engine_new();
    CHECK(e != NULL);
    if (!e)
        return etls_test_summary("aead");
    const char *desc = etls_aead_engine_describe(e);
    printf("engine: %s\n", desc);
    if (expect_arch) {
        char want[64];
        snprintf(want, sizeof want, "ipsec-mb/%s ", expect_arch);
        CHECK_MSG(strncmp(desc, want, strlen(want)) == 0, "expected %s", want);
    }
    if (expect_backend) {
        etls_aead_backend_t b = strcmp(expect_backend, "openssl") == 0 ? ETLS_AEAD_BACKEND_OPENSSL
                                                                       : ETLS_AEAD_BACKEND_IPSECMB;
        for (size_t i = 0; i < NALGS; i++)
            CHECK(etls_aead_engine_backend(e, all_algs[i]) == b);
    }

    wp_load(files[0], "aes-gcm");
    wp_load(files[1], "chacha20-poly1305");
    wp_load(files[2], "aes-ccm");
    printf("wycheproof: %zu vectors run, %zu out of scope (nonce not 12 bytes, 192-bit keys, "
           "AES-256-CCM, other tag sizes; refused by etls_aead_lookup)\n", wp_in_scope, wp_out_of_scope);
    CHECK(wp_in_scope > 500 && wp_out_of_scope > 0);
    wp_single(e);
    wp_burst(e, &rng);

    lookup_tests();
    for (size_t i = 0; i < NALGS; i++)
        bounds_tests(e, all_algs[i], &rng);
    big_burst(e, &rng);

    differential(e, &rng, cases / SCALE);

    for (size_t i = 0; i < nvecs; i++)
        free(vecs[i].aad), free(vecs[i].msg), free(vecs[i].ctag);
    free(vecs);
    etls_aead_engine_free(e);
    return etls_test_summary("aead");
}
