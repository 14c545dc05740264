/* AEAD seal cases: a burst of records under different keys, as a worker's crypto batch hands
 * them to etls_aead_burst, against OpenSSL sealing the same records one by one with
 * pre-keyed EVP_CIPHER_CTXs (only the nonce changes per record, as in a TLS stack). */
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "crypto_cases.h"

#define RECS 8
#define AAD_LEN 5 /* TLS 1.3 record header */

typedef struct aead_state {
    etls_aead_key_t keys[RECS];
    etls_aead_op_t ops[RECS];
    etls_aead_engine_t *eng;
    size_t len, taglen;
    uint64_t seq_ours, seq_ossl;
    int ccm;
    uint8_t raw_keys[RECS][ETLS_AEAD_KEY_MAX];
    uint8_t iv[RECS][ETLS_AEAD_NONCE_LEN];
    uint8_t aad[RECS][AAD_LEN];
    uint8_t *in, *out_ours, *out_ossl; /* RECS records each; outputs have room for the tag */
    EVP_CIPHER_CTX *ctx[RECS];
} aead_state_t;

static void aead_free(void *p)
{
    aead_state_t *st = p;
    for (int i = 0; i < RECS; i++) {
        etls_aead_key_wipe(&st->keys[i]);
        EVP_CIPHER_CTX_free(st->ctx[i]);
    }
    free(st->in);
    free(st->out_ours);
    free(st->out_ossl);
    OPENSSL_cleanse(st, sizeof *st);
    free(st);
}

/* TLS 1.3 per-record nonce (RFC 8446 §5.3): the static IV XOR the sequence number. */
static void record_nonce(uint8_t nonce[12], const uint8_t iv[12], uint64_t seq)
{
    memcpy(nonce, iv, 12);
    for (int b = 0; b < 8; b++)
        nonce[11 - b] ^= (uint8_t)(seq >> (8 * b));
}

static int ours_seal(void *p, uint64_t calls)
{
    aead_state_t *st = p;
    for (uint64_t c = 0; c < calls; c++) {
        uint64_t seq = st->seq_ours++;
        for (int i = 0; i < RECS; i++)
            record_nonce(st->ops[i].nonce, st->iv[i], seq);
        ETLS_ENSURE(etls_aead_burst(st->eng, st->ops, RECS) == 0, ETLS_ERR_CRYPTO);
    }
    return 0;
}

static int ossl_seal_one(aead_state_t *st, int i, const uint8_t nonce[12])
{
    EVP_CIPHER_CTX *ctx = st->ctx[i];
    uint8_t *out = st->out_ossl + (size_t)i * (st->len + st->taglen);
    const uint8_t *in = st->in + (size_t)i * st->len;
    int n = 0, fin = 0;
    ETLS_ENSURE(EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) == 1, ETLS_ERR_CRYPTO);
    if (st->ccm) /* CCM needs the message length before the AAD */
        ETLS_ENSURE(EVP_EncryptUpdate(ctx, NULL, &n, NULL, (int)st->len) == 1, ETLS_ERR_CRYPTO);
    ETLS_ENSURE(EVP_EncryptUpdate(ctx, NULL, &n, st->aad[i], AAD_LEN) == 1, ETLS_ERR_CRYPTO);
    ETLS_ENSURE(EVP_EncryptUpdate(ctx, out, &n, in, (int)st->len) == 1, ETLS_ERR_CRYPTO);
    ETLS_ENSURE(EVP_EncryptFinal_ex(ctx, out + n, &fin) == 1, ETLS_ERR_CRYPTO);
    ETLS_ENSURE((size_t)(n + fin) == st->len, ETLS_ERR_CRYPTO);
    ETLS_ENSURE(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, (int)st->taglen, out + st->len) == 1,
                ETLS_ERR_CRYPTO);
    return 0;
}

static int ossl_seal(void *p, uint64_t calls)
{
    aead_state_t *st = p;
    uint8_t nonce[12];
    for (uint64_t c = 0; c < calls; c++) {
        uint64_t seq = st->seq_ossl++;
        for (int i = 0; i < RECS; i++) {
            record_nonce(nonce, st->iv[i], seq);
            ETLS_GUARD(ossl_seal_one(st, i, nonce));
        }
    }
    return 0;
}

static const EVP_CIPHER *ossl_cipher(etls_aead_alg_t alg)
{
    switch (alg) {
    case ETLS_AEAD_AES128GCM: return EVP_aes_128_gcm();
    case ETLS_AEAD_AES256GCM: return EVP_aes_256_gcm();
    case ETLS_AEAD_CHACHA20POLY1305: return EVP_chacha20_poly1305();
    case ETLS_AEAD_AES128CCM:
    case ETLS_AEAD_AES128CCM8: return EVP_aes_128_ccm();
    }
    return NULL;
}

static int ossl_key(aead_state_t *st, int i, etls_aead_alg_t alg)
{
    EVP_CIPHER_CTX *ctx = st->ctx[i] = EVP_CIPHER_CTX_new();
    ETLS_ENSURE(ctx && EVP_EncryptInit_ex(ctx, ossl_cipher(alg), NULL, NULL, NULL) == 1,
                ETLS_ERR_CRYPTO);
    ETLS_ENSURE(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) == 1, ETLS_ERR_CRYPTO);
    if (st->ccm)
        ETLS_ENSURE(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, (int)st->taglen, NULL) == 1,
                    ETLS_ERR_CRYPTO);
    ETLS_ENSURE(EVP_EncryptInit_ex(ctx, NULL, NULL, st->raw_keys[i], NULL) == 1, ETLS_ERR_CRYPTO);
    return 0;
}

static int aead_keys(aead_state_t *st, etls_aead_alg_t alg)
{
    size_t rec_out = st->len + st->taglen;
    st->in = malloc(RECS * st->len);
    st->out_ours = calloc(RECS, rec_out);
    st->out_ossl = calloc(RECS, rec_out);
    ETLS_ENSURE(st->in && st->out_ours && st->out_ossl, ETLS_ERR_NOMEM);
    ETLS_ENSURE(RAND_bytes(st->in, (int)(RECS * st->len)) == 1, ETLS_ERR_CRYPTO);
    ETLS_ENSURE(RAND_bytes(&st->raw_keys[0][0], sizeof st->raw_keys) == 1, ETLS_ERR_CRYPTO);
    ETLS_ENSURE(RAND_bytes(&st->iv[0][0], sizeof st->iv) == 1, ETLS_ERR_CRYPTO);
    for (int i = 0; i < RECS; i++) {
        st->aad[i][0] = 23; /* application_data, legacy version 0x0303, length */
        st->aad[i][1] = 3;
        st->aad[i][2] = 3;
        st->aad[i][3] = (uint8_t)(rec_out >> 8);
        st->aad[i][4] = (uint8_t)rec_out;
        ETLS_GUARD(etls_aead_key_init(st->eng, &st->keys[i], alg, st->raw_keys[i]));
        ETLS_GUARD(ossl_key(st, i, alg));
        st->ops[i] = (etls_aead_op_t){.key = &st->keys[i], .dir = ETLS_AEAD_SEAL, .aad = st->aad[i],
                                      .aad_len = AAD_LEN, .in = st->in + (size_t)i * st->len,
                                      .in_len = st->len, .out = st->out_ours + (size_t)i * rec_out};
    }
    return 0;
}

/* Two bursts each (the second reuses every key), compared byte for byte. */
static int aead_verify(aead_state_t *st)
{
    for (int round = 0; round < 2; round++) {
        ETLS_GUARD(ours_seal(st, 1));
        ETLS_GUARD(ossl_seal(st, 1));
        ETLS_ENSURE(memcmp(st->out_ours, st->out_ossl, RECS * (st->len + st->taglen)) == 0,
                    ETLS_ERR_CRYPTO);
    }
    return 0;
}

/* A size-dependent backend reads "A<NB<=B" (A below N bytes, B from N up); pick the one that
 * seals records of len bytes. Anything else is returned whole. */
static void pick_backend(const char *b, size_t blen, size_t len, const char **out, size_t *outlen)
{
    const char *lt = memchr(b, '<', blen);
    char *end = NULL;
    *out = b;
    *outlen = blen;
    if (!lt)
        return;
    unsigned long n = strtoul(lt + 1, &end, 10);
    if (!end || end > b + blen || strncmp(end, "B<=", 3) != 0)
        return;
    if (len < n) {
        *outlen = (size_t)(lt - b);
    } else {
        *out = end + 3;
        *outlen = blen - (size_t)(*out - b);
    }
}

/* The engine describes itself as "<ipsec-mb arch> <alg>:<backend> ...", e.g.
 * "ipsec-mb/avx2 aes-128-gcm:ipsec-mb chacha20-poly1305:ipsec-mb<1536B<=openssl"; report the
 * backend that seals this line's records (with the ipsec-mb architecture), or the whole
 * string when the format is not recognised. */
static void aead_impl(const aead_state_t *st, etls_aead_alg_t alg, char *buf, size_t len)
{
    const char *d = etls_aead_engine_describe(st->eng), *name = etls_aead_name(alg);
    size_t nlen = strlen(name), arch_len = strcspn(d, " ");
    for (const char *t = d; *t;) {
        size_t n = strcspn(t, " ");
        if (n > nlen && t[nlen] == ':' && !strncmp(t, name, nlen)) {
            const char *b;
            size_t blen;
            pick_backend(t + nlen + 1, n - nlen - 1, st->len, &b, &blen);
            if (blen == 8 && !strncmp(b, "ipsec-mb", 8) && !strncmp(d, "ipsec-mb/", 9))
                snprintf(buf, len, "%.*s, burst %d", (int)arch_len, d, RECS);
            else
                snprintf(buf, len, "%.*s, burst %d", (int)blen, b, RECS);
            return;
        }
        t += n + (t[n] == ' ');
    }
    snprintf(buf, len, "%s, burst %d", d, RECS);
}

int etls_bench_aead_setup(const etls_bench_env_t *env, const void *arg, etls_bench_pair_t *p)
{
    const etls_bench_aead_cfg_t *cfg = arg;
    const char *name = etls_aead_name(cfg->alg);
    if (!env->aead)
        return etls_bench_fail(name, "no AEAD engine");
    aead_state_t *st = NULL;
    if (posix_memalign((void **)&st, 64, sizeof *st) != 0)
        return etls_bench_fail(name, "out of memory");
    memset(st, 0, sizeof *st);
    p->st = st;
    p->free_st = aead_free;
    st->eng = env->aead;
    st->len = cfg->len;
    st->taglen = etls_aead_tag_len(cfg->alg);
    st->ccm = cfg->alg == ETLS_AEAD_AES128CCM || cfg->alg == ETLS_AEAD_AES128CCM8;
    if (aead_keys(st, cfg->alg) < 0)
        return etls_bench_fail(name, "key setup failed");
    if (aead_verify(st) < 0)
        return etls_bench_fail(name, "our records differ from OpenSSL's");
    aead_impl(st, cfg->alg, p->impl, sizeof p->impl);
    p->bytes_per_op = cfg->len;
    p->ours = (etls_bench_side_t){.run = ours_seal, .st = st, .ops_per_call = RECS};
    p->ossl = (etls_bench_side_t){.run = ossl_seal, .st = st, .ops_per_call = RECS};
    return 0;
}
