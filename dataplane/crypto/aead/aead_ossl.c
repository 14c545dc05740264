/* OpenSSL EVP backend, for algorithms where it measured faster than ipsec-mb.
 *
 * Each key owns two EVP_CIPHER_CTX, one per direction, created and keyed at key init; a record
 * only re-initialises the nonce, so nothing is allocated per record. One context cannot serve
 * both directions: OpenSSL 3.0's AES-NI CCM picks its encrypt or decrypt routine when the key is
 * set and keeps it when a later init only changes the direction. The tag check on OPEN is
 * OpenSSL's own (CRYPTO_memcmp, constant time): its providers do not hand out the computed tag
 * when decrypting. */
#include "aead_internal.h"

#include "common/ct.h"
#include "common/err.h"

#include <assert.h>
#include <openssl/evp.h>
#include <string.h>

static_assert(AEAD_OSSL_OFFSET + 2 * sizeof(EVP_CIPHER_CTX *) <= ETLS_AEAD_KEY_STORAGE,
              "the context pair fits the key at either offset");

static const char *const evp_names[AEAD_ALG_COUNT] = {
    [ETLS_AEAD_AES128GCM] = "AES-128-GCM",
    [ETLS_AEAD_AES256GCM] = "AES-256-GCM",
    [ETLS_AEAD_CHACHA20POLY1305] = "ChaCha20-Poly1305",
    [ETLS_AEAD_AES128CCM] = "AES-128-CCM",
    [ETLS_AEAD_AES128CCM8] = "AES-128-CCM",
};

int etls_aead_ossl_init(struct etls_aead_engine *e)
{
    for (int a = ETLS_AEAD_AES128GCM; a < AEAD_ALG_COUNT; a++) {
        e->evp[a] = EVP_CIPHER_fetch(NULL, evp_names[a], NULL);
        if (!e->evp[a]) {
            etls_aead_ossl_free(e);
            return ETLS_ERR_UNSUPPORTED;
        }
    }
    return 0;
}

void etls_aead_ossl_free(struct etls_aead_engine *e)
{
    for (int a = 0; a < AEAD_ALG_COUNT; a++) {
        EVP_CIPHER_free(e->evp[a]);
        e->evp[a] = NULL;
    }
}

static EVP_CIPHER_CTX *key_ctx(const etls_aead_key_t *k, size_t offset, int enc)
{
    EVP_CIPHER_CTX *ctx[2];
    memcpy(ctx, k->opaque + offset, sizeof ctx);
    return ctx[enc ? 0 : 1];
}

static EVP_CIPHER_CTX *new_ctx(struct etls_aead_engine *e, etls_aead_alg_t alg, const uint8_t *key, int enc)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return NULL;
    int tag = (int)etls_aead_tag_len(alg);
    /* CCM needs its nonce and tag sizes fixed before the key goes in, in both directions: the
     * key set-up bakes the tag length into OpenSSL's CCM state. */
    int ok = EVP_CipherInit_ex2(ctx, e->evp[alg], NULL, NULL, enc, NULL) == 1 &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, ETLS_AEAD_NONCE_LEN, NULL) == 1 &&
             (!etls_aead_is_ccm(alg) || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, tag, NULL) == 1) &&
             EVP_CipherInit_ex2(ctx, NULL, key, NULL, enc, NULL) == 1;
    if (!ok) {
        EVP_CIPHER_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

int etls_aead_ossl_key_init(struct etls_aead_engine *e, etls_aead_key_t *k, etls_aead_alg_t alg,
                            const uint8_t *key, size_t offset)
{
    EVP_CIPHER_CTX *ctx[2] = {new_ctx(e, alg, key, 1), new_ctx(e, alg, key, 0)};
    if (!ctx[0] || !ctx[1]) {
        EVP_CIPHER_CTX_free(ctx[0]);
        EVP_CIPHER_CTX_free(ctx[1]);
        return ETLS_ERR_CRYPTO;
    }
    memcpy(k->opaque + offset, ctx, sizeof ctx);
    return 0;
}

void etls_aead_ossl_key_free(etls_aead_key_t *k, size_t offset)
{
    EVP_CIPHER_CTX_free(key_ctx(k, offset, 1)); /* cleanses the key schedules */
    EVP_CIPHER_CTX_free(key_ctx(k, offset, 0));
    memset(k->opaque + offset, 0, 2 * sizeof(EVP_CIPHER_CTX *));
}

/* Feeds nonce, (CCM: length,) AAD and payload; CCM decryption verifies the tag right here. */
static int feed(struct etls_aead_engine *e, EVP_CIPHER_CTX *ctx, const etls_aead_op_t *op, size_t ct_len,
                 int enc, int ccm)
{
    int outl = 0, len = (int)ct_len, tag = (int)etls_aead_tag_len(op->key->alg);
    /* never NULL: OpenSSL's CCM treats a NULL input as "finish" and would skip verification */
    const uint8_t *in = ct_len ? op->in : e->dummy;
    uint8_t *out = ct_len ? op->out : e->dummy;
    if (EVP_CipherInit_ex2(ctx, NULL, NULL, op->nonce, -1, NULL) != 1)
        return 0;
    if (ccm && !enc &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, tag, (void *)(op->in + ct_len)) != 1)
        return 0;
    if (ccm && EVP_CipherUpdate(ctx, NULL, &outl, NULL, len) != 1)
        return 0;
    if (op->aad_len && EVP_CipherUpdate(ctx, NULL, &outl, op->aad, (int)op->aad_len) != 1)
        return 0;
    if ((ct_len || ccm) && EVP_CipherUpdate(ctx, out, &outl, in, len) != 1)
        return 0;
    return 1;
}

int etls_aead_ossl_run(struct etls_aead_engine *e, const etls_aead_op_t *op, size_t ct_len, size_t offset)
{
    int enc = op->dir == ETLS_AEAD_SEAL, ccm = etls_aead_is_ccm(op->key->alg), outl = 0;
    EVP_CIPHER_CTX *ctx = key_ctx(op->key, offset, enc);
    int tag = (int)etls_aead_tag_len(op->key->alg);
    uint8_t *tag_at = (uint8_t *)op->in + ct_len; /* OPEN: received tag; OpenSSL copies it */
    int ok = feed(e, ctx, op, ct_len, enc, ccm);
    if (enc) {
        ok = ok && EVP_CipherFinal_ex(ctx, e->dummy, &outl) == 1 &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, tag, op->out + ct_len) == 1;
        return ok ? 0 : ETLS_ERR_CRYPTO;
    }
    if (!ccm)
        ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, tag, tag_at) == 1 &&
             EVP_CipherFinal_ex(ctx, e->dummy, &outl) == 1;
    if (!ok && ct_len)
        etls_wipe(op->out, ct_len);
    return ok ? 0 : ETLS_ERR_AUTH;
}
