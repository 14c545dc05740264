/* Private to dataplane/crypto/aead: the engine layout and the two backends' entry points.
 *
 * aead.c validates every op and routes it by the key's `impl` (fixed when the key was
 * expanded) to aead_imb.c (Intel ipsec-mb job API) or aead_ossl.c (OpenSSL EVP). Both backends
 * may serve one burst: OpenSSL ops run synchronously while ipsec-mb jobs stay queued in the
 * manager, which is what lets mixed bursts keep ipsec-mb's multi-buffer lanes full. */
#ifndef ETLS_CRYPTO_AEAD_INTERNAL_H
#define ETLS_CRYPTO_AEAD_INTERNAL_H

#include "crypto/aead.h"

#include <stdint.h>

#define AEAD_ALG_COUNT 6 /* indexes 1..5 are etls_aead_alg_t values */
/* Computed tags of OPEN jobs still inside the ipsec-mb manager. ipsec-mb keeps at most
 * IMB_MAX_JOBS (256) jobs; the submit path flushes before the ring could wrap. */
#define AEAD_TAG_RING 256

/* key->impl: backend in the low byte, ipsec-mb architecture (IMB_ARCH) in the next one, so a
 * key expanded for one architecture's GCM table layout is never used with another's; flags
 * above. An ipsec-mb key may also carry an OpenSSL context pair at AEAD_OSSL_OFFSET (after the
 * round keys; OpenSSL keys keep theirs at offset 0), used for what ipsec-mb cannot do (CCM
 * limits below) or does slower (BY_SIZE: records of ETLS_AEAD_SPLIT_LEN bytes and more). */
#define AEAD_IMPL(backend, arch) ((uint32_t)(backend) | ((uint32_t)(arch) << 8))
#define AEAD_IMPL_BACKEND(impl) ((etls_aead_backend_t)((impl)&0xff))
#define AEAD_IMPL_BASE(impl) ((impl)&0xffff)
#define AEAD_IMPL_OSSL_CTX (1u << 16) /* OpenSSL contexts at AEAD_OSSL_OFFSET */
#define AEAD_IMPL_SPLIT (1u << 17)    /* records >= ETLS_AEAD_SPLIT_LEN go to OpenSSL */
#define AEAD_OSSL_OFFSET 512

/* ipsec-mb 1.3's CCM limits: AAD up to 46 bytes (it builds the B_1..B_3 blocks itself) and,
 * found by test, payloads up to 65534 bytes (its job check rejects longer ones). */
#define AEAD_IMB_CCM_AAD_MAX 46
#define AEAD_IMB_CCM_LEN_MAX 65534

static inline int etls_aead_is_ccm(etls_aead_alg_t alg)
{
    return alg == ETLS_AEAD_AES128CCM || alg == ETLS_AEAD_AES128CCM8;
}

struct IMB_MGR;
struct evp_cipher_st;

struct etls_aead_engine {
    struct IMB_MGR *mgr; /* NULL when ipsec-mb could not be initialised */
    int imb_arch;        /* IMB_ARCH_* in use */
    etls_aead_backend_t backend[AEAD_ALG_COUNT];
    struct evp_cipher_st *evp[AEAD_ALG_COUNT]; /* fetched once per engine */
    unsigned ring_next, in_flight;
    uint8_t dummy[16]; /* stands in for NULL buffers of zero length; backends reject NULL */
    char desc[320];
    _Alignas(64) uint8_t tags[AEAD_TAG_RING][ETLS_AEAD_TAG_MAX];
};

/* ipsec-mb (aead_imb.c) */
int etls_aead_imb_init(struct etls_aead_engine *e);
void etls_aead_imb_free(struct etls_aead_engine *e);
const char *etls_aead_imb_arch_name(int arch);
int etls_aead_imb_key_init(struct etls_aead_engine *e, etls_aead_key_t *k, etls_aead_alg_t alg,
                           const uint8_t *key);
/* Queues one validated op (ct_len = payload bytes); completions already due are finished. */
void etls_aead_imb_submit(struct etls_aead_engine *e, etls_aead_op_t *op, size_t ct_len);
/* Completes every queued job. */
void etls_aead_imb_flush(struct etls_aead_engine *e);

/* OpenSSL (aead_ossl.c) */
int etls_aead_ossl_init(struct etls_aead_engine *e);
void etls_aead_ossl_free(struct etls_aead_engine *e);
/* Creates the key's OpenSSL context pair at opaque + offset. */
int etls_aead_ossl_key_init(struct etls_aead_engine *e, etls_aead_key_t *k, etls_aead_alg_t alg,
                            const uint8_t *key, size_t offset);
void etls_aead_ossl_key_free(etls_aead_key_t *k, size_t offset);
/* Runs one validated op to completion with the contexts at opaque + offset; returns its status. */
int etls_aead_ossl_run(struct etls_aead_engine *e, const etls_aead_op_t *op, size_t ct_len, size_t offset);

#endif
