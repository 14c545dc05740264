/* The TLS 1.3 server key schedule (RFC 8446 §7.1, §7.3, §4.4.4) for TLS_AES_128_GCM_SHA256,
 * from the ECDHE shared secret to the application traffic keys: ours through crypto/tls13_ks.h,
 * and the same HKDF steps through OpenSSL's EVP_KDF "HKDF" with HkdfLabel built here. */
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "common/ct.h"
#include "common/err.h"
#include "crypto/tls13_ks.h"
#include "crypto_cases.h"

/* Arbitrary fixed values: the schedule's cost does not depend on them. */
const uint8_t etls_bench_th_ch_sh[32] = {0x86, 0x0c, 0x06, 0xed, 0xc0, 0x78, 0x58, 0xee,
                                         0x8e, 0x78, 0xf0, 0xe7, 0x42, 0x8c, 0x58, 0xed,
                                         0xd6, 0xb4, 0x3f, 0x2c, 0xa3, 0xe6, 0xe9, 0x5f,
                                         0x02, 0xed, 0x06, 0x3c, 0xf0, 0xe1, 0xca, 0xd8};
const uint8_t etls_bench_th_ch_cv[32] = {0xed, 0xb7, 0x72, 0x5f, 0xa7, 0xa3, 0x47, 0x3b,
                                         0x03, 0x1e, 0xc8, 0xef, 0x65, 0xa2, 0x48, 0x54,
                                         0x93, 0x90, 0x01, 0x38, 0xa2, 0xb9, 0x12, 0x91,
                                         0x40, 0x7d, 0x79, 0x51, 0xa0, 0x61, 0x10, 0xed};
const uint8_t etls_bench_th_ch_sf[32] = {0x96, 0x08, 0x10, 0x2a, 0x0f, 0x1c, 0xcc, 0x6d,
                                         0xb6, 0x25, 0x0b, 0x7b, 0x7e, 0x41, 0x7b, 0x1a,
                                         0x00, 0x0e, 0xaa, 0xda, 0x3d, 0xaa, 0xe4, 0x77,
                                         0x7a, 0x76, 0x86, 0xc9, 0xff, 0x83, 0xdf, 0x13};

/* SHA-256 of the empty string: the context of every "derived" step. */
static const uint8_t empty_hash[32] = {0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
                                       0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
                                       0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
                                       0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};

/* As the engine does it: key, IV and (handshake secrets) finished key from one keyed secret. */
static int ours_keys(const uint8_t *secret, uint8_t key[16], uint8_t iv[12], uint8_t *fin)
{
    return etls_tls13_traffic_keys_fin(ETLS_HASH_SHA256, secret, key, 16, iv, 12, fin);
}

int etls_bench_ks_ours(const uint8_t ecdhe[32], etls_bench_ks_out_t *o)
{
    etls_tls13_ks_t ks;
    uint8_t chs[32], shs[32], cap[32], sap[32];
    etls_tls13_ks_init(&ks, ETLS_HASH_SHA256, NULL, 0);
    int rc = etls_tls13_ks_handshake(&ks, ecdhe, 32, etls_bench_th_ch_sh, chs, shs);
    if (rc == 0)
        rc = ours_keys(chs, o->c_hs_key, o->c_hs_iv, o->c_finished_key);
    if (rc == 0)
        rc = ours_keys(shs, o->s_hs_key, o->s_hs_iv, o->s_finished_key);
    if (rc == 0)
        rc = etls_tls13_ks_master(&ks, etls_bench_th_ch_sf, cap, sap, NULL);
    if (rc == 0)
        rc = ours_keys(cap, o->c_ap_key, o->c_ap_iv, NULL);
    if (rc == 0)
        rc = ours_keys(sap, o->s_ap_key, o->s_ap_iv, NULL);
    etls_tls13_ks_wipe(&ks);
    etls_wipe(chs, 32);
    etls_wipe(shs, 32);
    etls_wipe(cap, 32);
    etls_wipe(sap, 32);
    return rc;
}

static EVP_KDF_CTX *hkdf_ctx(EVP_KDF *kdf, int mode)
{
    EVP_KDF_CTX *c = EVP_KDF_CTX_new(kdf);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0),
                           OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
                           OSSL_PARAM_construct_end()};
    if (c && EVP_KDF_CTX_set_params(c, params) != 1) {
        EVP_KDF_CTX_free(c);
        c = NULL;
    }
    return c;
}

int etls_bench_hkdf_init(etls_bench_hkdf_t *h)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    if (!kdf)
        return ETLS_ERR_CRYPTO;
    h->extract = hkdf_ctx(kdf, EVP_KDF_HKDF_MODE_EXTRACT_ONLY);
    h->expand = hkdf_ctx(kdf, EVP_KDF_HKDF_MODE_EXPAND_ONLY);
    EVP_KDF_free(kdf); /* the contexts hold their own references */
    return h->extract && h->expand ? 0 : ETLS_ERR_CRYPTO;
}

void etls_bench_hkdf_free(etls_bench_hkdf_t *h)
{
    EVP_KDF_CTX_free(h->extract);
    EVP_KDF_CTX_free(h->expand);
    h->extract = h->expand = NULL;
}

static int ossl_extract(const etls_bench_hkdf_t *h, const uint8_t salt[32], const uint8_t ikm[32],
                        uint8_t prk[32])
{
    OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, 32),
                           OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, 32),
                           OSSL_PARAM_construct_end()};
    return EVP_KDF_derive(h->extract, prk, 32, params) == 1 ? 0 : ETLS_ERR_CRYPTO;
}

/* HKDF-Expand-Label: info is struct { uint16 length; opaque label<7..255> = "tls13 " + label;
 * opaque context<0..255>; } (RFC 8446 §7.1). */
static int ossl_expand_label(const etls_bench_hkdf_t *h, const uint8_t secret[32], const char *label,
                             const uint8_t *ctx, size_t ctxlen, uint8_t *out, size_t outlen)
{
    uint8_t info[2 + 1 + 255 + 1 + 255];
    size_t ll = strlen(label), n = 0;
    ETLS_ENSURE(ll <= 255 - 6 && ctxlen <= 255, ETLS_ERR_INVALID);
    info[n++] = (uint8_t)(outlen >> 8);
    info[n++] = (uint8_t)outlen;
    info[n++] = (uint8_t)(6 + ll);
    memcpy(info + n, "tls13 ", 6);
    memcpy(info + n + 6, label, ll);
    n += 6 + ll;
    info[n++] = (uint8_t)ctxlen;
    if (ctxlen)
        memcpy(info + n, ctx, ctxlen);
    n += ctxlen;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, 32),
                           OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n),
                           OSSL_PARAM_construct_end()};
    return EVP_KDF_derive(h->expand, out, outlen, params) == 1 ? 0 : ETLS_ERR_CRYPTO;
}

static int ossl_keys(const etls_bench_hkdf_t *h, const uint8_t *secret, uint8_t key[16],
                     uint8_t iv[12], uint8_t *fin)
{
    ETLS_GUARD(ossl_expand_label(h, secret, "key", NULL, 0, key, 16));
    ETLS_GUARD(ossl_expand_label(h, secret, "iv", NULL, 0, iv, 12));
    if (fin)
        ETLS_GUARD(ossl_expand_label(h, secret, "finished", NULL, 0, fin, 32));
    return 0;
}

/* secrets: early, derived, handshake, c hs, s hs, derived, master, c ap, s ap. */
static int ossl_ks_steps(const etls_bench_hkdf_t *h, const uint8_t ecdhe[32], uint8_t s[9][32],
                         etls_bench_ks_out_t *o)
{
    static const uint8_t zeros[32];
    ETLS_GUARD(ossl_extract(h, zeros, zeros, s[0]));
    ETLS_GUARD(ossl_expand_label(h, s[0], "derived", empty_hash, 32, s[1], 32));
    ETLS_GUARD(ossl_extract(h, s[1], ecdhe, s[2]));
    ETLS_GUARD(ossl_expand_label(h, s[2], "c hs traffic", etls_bench_th_ch_sh, 32, s[3], 32));
    ETLS_GUARD(ossl_expand_label(h, s[2], "s hs traffic", etls_bench_th_ch_sh, 32, s[4], 32));
    ETLS_GUARD(ossl_keys(h, s[3], o->c_hs_key, o->c_hs_iv, o->c_finished_key));
    ETLS_GUARD(ossl_keys(h, s[4], o->s_hs_key, o->s_hs_iv, o->s_finished_key));
    ETLS_GUARD(ossl_expand_label(h, s[2], "derived", empty_hash, 32, s[5], 32));
    ETLS_GUARD(ossl_extract(h, s[5], zeros, s[6]));
    ETLS_GUARD(ossl_expand_label(h, s[6], "c ap traffic", etls_bench_th_ch_sf, 32, s[7], 32));
    ETLS_GUARD(ossl_expand_label(h, s[6], "s ap traffic", etls_bench_th_ch_sf, 32, s[8], 32));
    ETLS_GUARD(ossl_keys(h, s[7], o->c_ap_key, o->c_ap_iv, NULL));
    ETLS_GUARD(ossl_keys(h, s[8], o->s_ap_key, o->s_ap_iv, NULL));
    return 0;
}

int etls_bench_ks_ossl(const etls_bench_hkdf_t *h, const uint8_t ecdhe[32], etls_bench_ks_out_t *o)
{
    uint8_t s[9][32];
    int rc = ossl_ks_steps(h, ecdhe, s, o);
    OPENSSL_cleanse(s, sizeof s);
    return rc;
}

typedef struct ks_state {
    etls_bench_hkdf_t hkdf;
    uint8_t ecdhe[32];
    etls_bench_ks_out_t out_ours, out_ossl;
} ks_state_t;

static void ks_free(void *p)
{
    ks_state_t *st = p;
    etls_bench_hkdf_free(&st->hkdf);
    OPENSSL_cleanse(st, sizeof *st);
    free(st);
}

static int ours_ks(void *p, uint64_t calls)
{
    ks_state_t *st = p;
    for (uint64_t c = 0; c < calls; c++)
        ETLS_GUARD(etls_bench_ks_ours(st->ecdhe, &st->out_ours));
    return 0;
}

static int ossl_ks(void *p, uint64_t calls)
{
    ks_state_t *st = p;
    for (uint64_t c = 0; c < calls; c++)
        ETLS_GUARD(etls_bench_ks_ossl(&st->hkdf, st->ecdhe, &st->out_ossl));
    return 0;
}

int etls_bench_ks_setup(const etls_bench_env_t *env, const void *arg, etls_bench_pair_t *p)
{
    (void)env;
    (void)arg;
    ks_state_t *st = calloc(1, sizeof *st);
    if (!st)
        return etls_bench_fail("tls13_key_schedule", "out of memory");
    p->st = st;
    p->free_st = ks_free;
    if (etls_bench_hkdf_init(&st->hkdf) < 0 || RAND_bytes(st->ecdhe, 32) != 1)
        return etls_bench_fail("tls13_key_schedule", "OpenSSL HKDF unavailable");
    if (ours_ks(st, 1) < 0 || ossl_ks(st, 1) < 0 ||
        memcmp(&st->out_ours, &st->out_ossl, sizeof st->out_ours) != 0)
        return etls_bench_fail("tls13_key_schedule", "our keys differ from OpenSSL's");
    snprintf(p->impl, sizeof p->impl, "tls13_ks/hkdf, sha256 %s",
             etls_hash_impl_name(ETLS_HASH_SHA256));
    p->ours = (etls_bench_side_t){.run = ours_ks, .st = st, .ops_per_call = 1};
    p->ossl = (etls_bench_side_t){.run = ossl_ks, .st = st, .ops_per_call = 1};
    return 0;
}
