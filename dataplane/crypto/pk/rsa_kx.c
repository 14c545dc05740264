/* TLS 1.2 RSA key exchange: the raw RSA private operation (OpenSSL) and our constant-time
 * PKCS#1 v1.5 type 2 check with implicit rejection (RFC 5246 §7.4.7.1). See pk.h. */
#include "crypto/pk/pk_internal.h"

#include "common/ct.h"
#include "common/err.h"

#include <openssl/err.h>
#include <openssl/rsa.h>

EVP_PKEY_CTX *etls_pk_rsa_decrypt_tmpl(EVP_PKEY *pkey)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (pc && EVP_PKEY_decrypt_init(pc) > 0 && EVP_PKEY_CTX_set_rsa_padding(pc, RSA_NO_PADDING) > 0)
        return pc;
    EVP_PKEY_CTX_free(pc);
    return NULL;
}

size_t etls_pkey_rsa_size(const etls_pkey_t *k)
{
    return k && k->scheme == ETLS_SIG_RSA_PSS_RSAE_SHA256 ? k->sig_max : 0;
}

int etls_pkey_rsa_decrypt_raw(const etls_pkey_t *k, const uint8_t *in, size_t len, uint8_t *out)
{
    ETLS_ENSURE(k && k->decrypt_tmpl && in && out, ETLS_ERR_INVALID);
    ETLS_ENSURE(len == k->sig_max, ETLS_ERR_INVALID);
    uint8_t buf[ETLS_SIG_MAX_LEN]; /* out may be in: OpenSSL is not promised that */
    size_t n = sizeof buf;
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_dup(k->decrypt_tmpl);
    int ok = pc && EVP_PKEY_decrypt(pc, buf, &n, in, len) == 1 && n == len;
    EVP_PKEY_CTX_free(pc);
    if (ok) {
        memcpy(out, buf, len);
        etls_wipe(buf, sizeof buf);
        return 0;
    }
    etls_wipe(buf, sizeof buf);
    /* the one failure a peer can cause: a ciphertext not below the modulus (public) */
    unsigned long e = ERR_peek_last_error();
    int reason = ERR_GET_LIB(e) == ERR_LIB_RSA ? ERR_GET_REASON(e) : 0;
    ERR_clear_error();
    return pc && (reason == RSA_R_DATA_TOO_LARGE_FOR_MODULUS || reason == RSA_R_DATA_GREATER_THAN_MOD_LEN)
               ? ETLS_ERR_INVALID
               : ETLS_ERR_CRYPTO;
}

/* 0xff when x == 0, else 0; no branch. */
static inline uint8_t zero_mask8(uint8_t x)
{
    return (uint8_t)etls_ct_is_zero_mask(x);
}

uint8_t etls_rsa_tls12_premaster(const uint8_t *em, size_t k, uint16_t client_version,
                                 uint8_t pms[ETLS_RSA_PMS_LEN])
{
    /* Every position is fixed by k: M must be the last 48 bytes, so the separator is at
     * k - 49 and PS fills bytes 2 .. k - 50 (RFC 8017 §7.2.2 asks at least 8 of them). */
    if (k < ETLS_RSA_PMS_LEN + 11) /* a public length, and below any key we load */
        return 0;
    const uint8_t *m = em + k - ETLS_RSA_PMS_LEN;
    uint8_t good = zero_mask8(em[0]);
    good &= zero_mask8((uint8_t)(em[1] ^ 2));
    for (size_t i = 2; i < k - ETLS_RSA_PMS_LEN - 1; i++)
        good &= (uint8_t)~zero_mask8(em[i]);
    good &= zero_mask8(em[k - ETLS_RSA_PMS_LEN - 1]);
    good &= zero_mask8((uint8_t)(m[0] ^ (client_version >> 8)));
    good &= zero_mask8((uint8_t)(m[1] ^ (client_version & 0xff)));
    good = (uint8_t)etls_ct_barrier_u64(good);
    etls_ct_cmov(pms, m, ETLS_RSA_PMS_LEN, good);
    return good;
}
