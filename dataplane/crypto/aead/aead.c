/* AEAD public API: engine lifecycle, key set-up, op validation and routing per backend.
 *
 * Validation lives here, once, so neither backend ever sees a length, pointer or key it could
 * mis-handle: ipsec-mb's job checks are a safety net, not the contract. */
#include "aead_internal.h"

#include "common/ct.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ETLS_STR_(x) #x
#define ETLS_STR(x) ETLS_STR_(x)

static const struct {
    const char *name;
    size_t key_len, tag_len;
} alg_info[AEAD_ALG_COUNT] = {
    [ETLS_AEAD_AES128GCM] = {"aes-128-gcm", 16, 16},
    [ETLS_AEAD_AES256GCM] = {"aes-256-gcm", 32, 16},
    [ETLS_AEAD_CHACHA20POLY1305] = {"chacha20-poly1305", 32, 16},
    [ETLS_AEAD_AES128CCM] = {"aes-128-ccm", 16, 16},
    [ETLS_AEAD_AES128CCM8] = {"aes-128-ccm-8", 16, 8},
};

/* Backend per algorithm when AUTO, from measurements on the target CPU (Zen 3, ipsec-mb 1.3
 * AVX2 path, OpenSSL 3.0) through this module's own paths (tests/crypto/aead/aead_speed; full
 * table in the README). GB/s at 16 KiB / 1 KiB, one record per call:
 *   AES-128-GCM  ipsec-mb 3.9 / 2.3   OpenSSL 3.5 / 1.5
 *   AES-256-GCM  ipsec-mb 3.4 / 2.2   OpenSSL 3.3 / 1.5
 *   ChaCha20-P.  ipsec-mb 1.6 / 1.0   OpenSSL 1.9 / 1.0, and at 256 B 0.5 against 0.3: so by
 *                size, switching to OpenSSL (its AVX2 Poly1305) between 1 and 2 KiB
 *   AES-128-CCM  ipsec-mb 0.9 / 0.7   OpenSSL 1.1 / 0.8, but in bursts of 16 ipsec-mb's x8
 *                lanes reach 3.8 / 2.9 against OpenSSL's 1.1 / 0.8, and bursts are the fast path */
static const etls_aead_backend_t auto_backend[AEAD_ALG_COUNT] = {
    [ETLS_AEAD_AES128GCM] = ETLS_AEAD_BACKEND_IPSECMB,
    [ETLS_AEAD_AES256GCM] = ETLS_AEAD_BACKEND_IPSECMB,
    [ETLS_AEAD_CHACHA20POLY1305] = ETLS_AEAD_BACKEND_BY_SIZE,
    [ETLS_AEAD_AES128CCM] = ETLS_AEAD_BACKEND_IPSECMB,
    [ETLS_AEAD_AES128CCM8] = ETLS_AEAD_BACKEND_IPSECMB,
};

static int alg_valid(etls_aead_alg_t alg)
{
    return alg >= ETLS_AEAD_AES128GCM && alg <= ETLS_AEAD_AES128CCM8;
}

size_t etls_aead_key_len(etls_aead_alg_t alg)
{
    return alg_valid(alg) ? alg_info[alg].key_len : 0;
}

size_t etls_aead_tag_len(etls_aead_alg_t alg)
{
    return alg_valid(alg) ? alg_info[alg].tag_len : 0;
}

const char *etls_aead_name(etls_aead_alg_t alg)
{
    return alg_valid(alg) ? alg_info[alg].name : "unknown";
}

int etls_aead_lookup(const char *family, size_t key_len, size_t nonce_len, size_t tag_len,
                     etls_aead_alg_t *alg)
{
    ETLS_ENSURE(family && alg, ETLS_ERR_INVALID);
    int gcm = strcmp(family, "aes-gcm") == 0, ccm = strcmp(family, "aes-ccm") == 0;
    int chacha = strcmp(family, "chacha20-poly1305") == 0;
    ETLS_ENSURE(gcm || ccm || chacha, ETLS_ERR_INVALID);
    ETLS_ENSURE(nonce_len == ETLS_AEAD_NONCE_LEN, ETLS_ERR_UNSUPPORTED);
    for (etls_aead_alg_t a = ETLS_AEAD_AES128GCM; a <= ETLS_AEAD_AES128CCM8; a++) {
        int fam = (a == ETLS_AEAD_AES128GCM || a == ETLS_AEAD_AES256GCM) ? gcm
                  : a == ETLS_AEAD_CHACHA20POLY1305                      ? chacha
                                                                          : ccm;
        if (fam && alg_info[a].key_len == key_len && alg_info[a].tag_len == tag_len) {
            *alg = a;
            return 0;
        }
    }
    return ETLS_ERR_UNSUPPORTED;
}

static etls_aead_backend_t backend_from_env(etls_aead_backend_t requested)
{
    const char *s = getenv("ETLS_AEAD_BACKEND");
    if (requested != ETLS_AEAD_BACKEND_AUTO || !s || !*s || strcmp(s, "auto") == 0)
        return requested;
    if (strcmp(s, "ipsec-mb") == 0)
        return ETLS_AEAD_BACKEND_IPSECMB;
    if (strcmp(s, "openssl") == 0)
        return ETLS_AEAD_BACKEND_OPENSSL;
    fprintf(stderr, "edgetls: ETLS_AEAD_BACKEND: unknown backend '%s' ignored\n", s);
    return requested;
}

static void describe(struct etls_aead_engine *e)
{
    static const char *const names[] = {
        [ETLS_AEAD_BACKEND_IPSECMB] = "ipsec-mb",
        [ETLS_AEAD_BACKEND_OPENSSL] = "openssl",
        [ETLS_AEAD_BACKEND_BY_SIZE] = "ipsec-mb<" ETLS_STR(ETLS_AEAD_SPLIT_LEN) "B<=openssl",
    };
    size_t used = (size_t)snprintf(e->desc, sizeof e->desc, "ipsec-mb/%s",
                                   e->mgr ? etls_aead_imb_arch_name(e->imb_arch) : "unavailable");
    for (etls_aead_alg_t a = ETLS_AEAD_AES128GCM; a <= ETLS_AEAD_AES128CCM8 && used < sizeof e->desc; a++)
        used += (size_t)snprintf(e->desc + used, sizeof e->desc - used, " %s:%s", alg_info[a].name,
                                 names[e->backend[a]]);
}

etls_aead_engine_t *etls_aead_engine_new_backend(etls_aead_backend_t backend)
{
    struct etls_aead_engine *e = aligned_alloc(64, sizeof *e);
    if (!e) {
        fprintf(stderr, "edgetls: aead: out of memory\n");
        return NULL;
    }
    memset(e, 0, sizeof *e);
    backend = backend_from_env(backend);
    if (etls_aead_ossl_init(e) < 0) {
        fprintf(stderr, "edgetls: aead: OpenSSL ciphers unavailable\n");
        free(e);
        return NULL;
    }
    int have_imb = etls_aead_imb_init(e) == 0;
    if (!have_imb)
        fprintf(stderr, "edgetls: aead: ipsec-mb unavailable, using OpenSSL for every AEAD\n");
    for (etls_aead_alg_t a = ETLS_AEAD_AES128GCM; a <= ETLS_AEAD_AES128CCM8; a++) {
        etls_aead_backend_t b = backend == ETLS_AEAD_BACKEND_AUTO ? auto_backend[a] : backend;
        if (b == ETLS_AEAD_BACKEND_BY_SIZE && !etls_aead_is_ccm(a) && a != ETLS_AEAD_CHACHA20POLY1305)
            b = ETLS_AEAD_BACKEND_IPSECMB; /* GCM tables fill the key: no room for OpenSSL's pair */
        e->backend[a] = have_imb ? b : ETLS_AEAD_BACKEND_OPENSSL;
    }
    describe(e);
    return e;
}

etls_aead_engine_t *etls_aead_engine_new(void)
{
    return etls_aead_engine_new_backend(ETLS_AEAD_BACKEND_AUTO);
}

void etls_aead_engine_free(etls_aead_engine_t *e)
{
    if (!e)
        return;
    etls_aead_imb_free(e);
    etls_aead_ossl_free(e);
    etls_wipe(e->tags, sizeof e->tags);
    free(e);
}

const char *etls_aead_engine_describe(const etls_aead_engine_t *e)
{
    return e ? e->desc : "none";
}

etls_aead_backend_t etls_aead_engine_backend(const etls_aead_engine_t *e, etls_aead_alg_t alg)
{
    return e && alg_valid(alg) ? e->backend[alg] : ETLS_AEAD_BACKEND_AUTO;
}

/* ipsec-mb keys get OpenSSL contexts too where some records go to OpenSSL: CCM beyond
 * ipsec-mb's limits, BY_SIZE records of ETLS_AEAD_SPLIT_LEN bytes and more. */
static int key_init_imb(etls_aead_engine_t *e, etls_aead_key_t *k, etls_aead_alg_t alg, const uint8_t *key)
{
    int split = e->backend[alg] == ETLS_AEAD_BACKEND_BY_SIZE;
    ETLS_GUARD(etls_aead_imb_key_init(e, k, alg, key));
    if (split || etls_aead_is_ccm(alg)) {
        ETLS_GUARD(etls_aead_ossl_key_init(e, k, alg, key, AEAD_OSSL_OFFSET));
        k->impl |= AEAD_IMPL_OSSL_CTX | (split ? AEAD_IMPL_SPLIT : 0);
    }
    return 0;
}

int etls_aead_key_init(etls_aead_engine_t *e, etls_aead_key_t *k, etls_aead_alg_t alg, const uint8_t *key)
{
    ETLS_ENSURE(e && k && key && alg_valid(alg), ETLS_ERR_INVALID);
    etls_wipe(k, sizeof *k);
    k->alg = alg;
    int rc;
    if (e->backend[alg] == ETLS_AEAD_BACKEND_OPENSSL) {
        rc = etls_aead_ossl_key_init(e, k, alg, key, 0);
        if (rc == 0)
            k->impl = AEAD_IMPL(ETLS_AEAD_BACKEND_OPENSSL, 0);
    } else {
        rc = key_init_imb(e, k, alg, key);
    }
    if (rc < 0)
        etls_wipe(k, sizeof *k); /* ossl_key_init cleans up after itself; nothing else allocated */
    return rc;
}

void etls_aead_key_wipe(etls_aead_key_t *k)
{
    if (!k)
        return;
    if (AEAD_IMPL_BACKEND(k->impl) == ETLS_AEAD_BACKEND_OPENSSL)
        etls_aead_ossl_key_free(k, 0);
    else if (k->impl & AEAD_IMPL_OSSL_CTX)
        etls_aead_ossl_key_free(k, AEAD_OSSL_OFFSET);
    etls_wipe(k, sizeof *k);
}

/* Distinct buffers must not overlap at all; the same start address is the in-place case. */
static int overlaps(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    if (x == y || alen == 0 || blen == 0)
        return 0;
    return x < y + blen && y < x + alen;
}

/* Checks everything that does not depend on secrets; sets *ct_len to the payload length. */
static int op_check(const struct etls_aead_engine *e, const etls_aead_op_t *op, size_t *ct_len)
{
    const etls_aead_key_t *k = op->key;
    ETLS_ENSURE(k && alg_valid(k->alg), ETLS_ERR_INVALID);
    etls_aead_backend_t b = AEAD_IMPL_BACKEND(k->impl);
    ETLS_ENSURE(b == ETLS_AEAD_BACKEND_OPENSSL ||
                    (b == ETLS_AEAD_BACKEND_IPSECMB && e->mgr &&
                     AEAD_IMPL_BASE(k->impl) == AEAD_IMPL(b, e->imb_arch)),
                ETLS_ERR_INVALID);
    ETLS_ENSURE(op->dir == ETLS_AEAD_SEAL || op->dir == ETLS_AEAD_OPEN, ETLS_ERR_INVALID);
    ETLS_ENSURE(op->aad_len <= ETLS_AEAD_AAD_MAX && (op->aad || op->aad_len == 0), ETLS_ERR_INVALID);
    size_t tag = alg_info[k->alg].tag_len;
    if (op->dir == ETLS_AEAD_OPEN) {
        ETLS_ENSURE(op->in_len >= tag, ETLS_ERR_INVALID);
        *ct_len = op->in_len - tag;
    } else {
        *ct_len = op->in_len;
    }
    ETLS_ENSURE(*ct_len <= ETLS_AEAD_MAX_INPUT, ETLS_ERR_INVALID);
    ETLS_ENSURE(op->in || op->in_len == 0, ETLS_ERR_INVALID);
    size_t out_len = op->dir == ETLS_AEAD_SEAL ? op->in_len + tag : *ct_len;
    ETLS_ENSURE(op->out || out_len == 0, ETLS_ERR_INVALID);
    ETLS_ENSURE(!overlaps(op->in, op->in_len, op->out, out_len), ETLS_ERR_INVALID);
    return 0;
}

/* Routes a validated op: to OpenSSL (contexts at *ossl_at) or to the ipsec-mb queue. */
static int use_openssl(const etls_aead_op_t *op, size_t ct_len, size_t *ossl_at)
{
    uint32_t impl = op->key->impl;
    *ossl_at = AEAD_IMPL_BACKEND(impl) == ETLS_AEAD_BACKEND_OPENSSL ? 0 : AEAD_OSSL_OFFSET;
    if (*ossl_at == 0)
        return 1;
    if ((impl & AEAD_IMPL_SPLIT) && ct_len >= ETLS_AEAD_SPLIT_LEN)
        return 1;
    return etls_aead_is_ccm(op->key->alg) && (op->aad_len > AEAD_IMB_CCM_AAD_MAX || ct_len > AEAD_IMB_CCM_LEN_MAX);
}

size_t etls_aead_burst(etls_aead_engine_t *e, etls_aead_op_t *ops, size_t n)
{
    if (!e || !ops) {
        for (size_t i = 0; ops && i < n; i++)
            ops[i].status = ETLS_ERR_INVALID;
        return n;
    }
    for (size_t i = 0; i < n; i++) {
        etls_aead_op_t *op = &ops[i];
        size_t ct_len = 0;
        int rc = op_check(e, op, &ct_len);
        size_t ossl_at;
        if (rc < 0)
            op->status = rc;
        else if (use_openssl(op, ct_len, &ossl_at))
            op->status = etls_aead_ossl_run(e, op, ct_len, ossl_at);
        else
            etls_aead_imb_submit(e, op, ct_len);
    }
    if (e->mgr)
        etls_aead_imb_flush(e);
    size_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (ops[i].status == ETLS_ERR_IN_PROGRESS) /* a job ipsec-mb never returned */
            ops[i].status = ETLS_ERR_CRYPTO;
        failed += ops[i].status != 0;
    }
    return failed;
}

static int single(etls_aead_engine_t *e, etls_aead_dir_t dir, const etls_aead_key_t *k,
                  const uint8_t nonce[12], const uint8_t *aad, size_t aad_len, const uint8_t *in,
                  size_t in_len, uint8_t *out)
{
    ETLS_ENSURE(e && nonce, ETLS_ERR_INVALID);
    etls_aead_op_t op = {.key = k, .dir = dir, .aad = aad, .aad_len = aad_len, .in = in,
                         .in_len = in_len, .out = out};
    memcpy(op.nonce, nonce, sizeof op.nonce);
    etls_aead_burst(e, &op, 1);
    return op.status;
}

int etls_aead_seal(etls_aead_engine_t *e, const etls_aead_key_t *k, const uint8_t nonce[12],
                   const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out)
{
    return single(e, ETLS_AEAD_SEAL, k, nonce, aad, aad_len, in, in_len, out);
}

int etls_aead_open(etls_aead_engine_t *e, const etls_aead_key_t *k, const uint8_t nonce[12],
                   const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out)
{
    return single(e, ETLS_AEAD_OPEN, k, nonce, aad, aad_len, in, in_len, out);
}
