/* ipsec-mb backend: one IMB_MGR per engine, records go through the job API.
 *
 * The job API (rather than the direct GCM/ChaCha calls) is what lets one etls_aead_burst fill
 * ipsec-mb's multi-buffer lanes: AES-CCM's CBC-MAC is serial per record, so only interleaving
 * several records (x8 lanes on AVX/AVX2) makes it fast. Jobs complete in submission order. */
#include "aead_internal.h"

#include "common/cpu.h"
#include "common/ct.h"
#include "common/err.h"

#include <assert.h>
#include <intel-ipsec-mb.h>
#include <stdalign.h>
#include <string.h>

/* Key storage layouts inside etls_aead_key_t.opaque. */
struct ccm_keys {
    alignas(16) uint8_t enc[16 * 11];
    alignas(16) uint8_t dec[16 * 11]; /* unused by CCM, but ipsec-mb's key expansion writes it */
};
static_assert(sizeof(struct gcm_key_data) <= ETLS_AEAD_KEY_STORAGE, "gcm key data fits the key");
static_assert(alignof(struct gcm_key_data) <= 64, "key storage is 64-byte aligned");
static_assert(sizeof(struct ccm_keys) <= AEAD_OSSL_OFFSET, "ccm round keys end before the OpenSSL pair");
static_assert(32 <= AEAD_OSSL_OFFSET, "the chacha key ends before the OpenSSL pair");
static_assert(AEAD_TAG_RING >= IMB_MAX_JOBS, "tag ring covers every job in flight");

const char *etls_aead_imb_arch_name(int arch)
{
    switch (arch) {
    case IMB_ARCH_NOAESNI: return "noaesni";
    case IMB_ARCH_SSE: return "sse";
    case IMB_ARCH_AVX: return "avx";
    case IMB_ARCH_AVX2: return "avx2";
    case IMB_ARCH_AVX512: return "avx512";
    default: return "none";
    }
}

/* Highest ipsec-mb architecture that both the CPU (as ipsec-mb sees it) and our feature mask
 * (ETLS_CPU_DISABLE) allow; so tests can force every lower path on one machine. */
static IMB_ARCH pick_arch(uint64_t *flags)
{
    uint32_t f = etls_cpu_features();
    uint64_t imb = imb_get_feature_flags();
    const uint32_t aes = ETLS_CPU_AESNI | ETLS_CPU_PCLMUL;
    const uint32_t avx = aes | ETLS_CPU_AVX, avx2 = avx | ETLS_CPU_AVX2 | ETLS_CPU_BMI2;
    const uint32_t avx512 = avx2 | ETLS_CPU_AVX512F | ETLS_CPU_AVX512VL | ETLS_CPU_AVX512BW;

    *flags = 0;
    if (!(f & ETLS_CPU_SHA_NI))
        *flags |= IMB_FLAG_SHANI_OFF;
    if (!(f & ETLS_CPU_GFNI))
        *flags |= IMB_FLAG_GFNI_OFF;
    if ((f & avx512) == avx512 && (imb & IMB_CPUFLAGS_AVX512) == IMB_CPUFLAGS_AVX512)
        return IMB_ARCH_AVX512;
    if ((f & avx2) == avx2 && (imb & IMB_CPUFLAGS_AVX2) == IMB_CPUFLAGS_AVX2)
        return IMB_ARCH_AVX2;
    if ((f & avx) == avx && (imb & IMB_CPUFLAGS_AVX) == IMB_CPUFLAGS_AVX)
        return IMB_ARCH_AVX;
    if ((f & aes) == aes && (imb & IMB_CPUFLAGS_SSE) == IMB_CPUFLAGS_SSE)
        return IMB_ARCH_SSE;
    /* without AES-NI only a library built with its AES emulation works (Debian's is not: its
     * init_mb_mgr_sse then crashes), so check the library feature first */
    if ((imb & (IMB_CPUFLAGS_NO_AESNI | IMB_FEATURE_AESNI_EMU)) == (IMB_CPUFLAGS_NO_AESNI | IMB_FEATURE_AESNI_EMU)) {
        *flags |= IMB_FLAG_AESNI_OFF;
        return IMB_ARCH_NOAESNI;
    }
    return IMB_ARCH_NONE;
}

int etls_aead_imb_init(struct etls_aead_engine *e)
{
    uint64_t flags;
    IMB_ARCH arch = pick_arch(&flags);
    ETLS_ENSURE(arch != IMB_ARCH_NONE, ETLS_ERR_UNSUPPORTED);
    IMB_MGR *m = alloc_mb_mgr(flags);
    ETLS_ENSURE(m, ETLS_ERR_NOMEM);
    switch (arch) {
    case IMB_ARCH_AVX512: init_mb_mgr_avx512(m); break;
    case IMB_ARCH_AVX2: init_mb_mgr_avx2(m); break;
    case IMB_ARCH_AVX: init_mb_mgr_avx(m); break;
    default: init_mb_mgr_sse(m); break; /* SSE, or NOAESNI through IMB_FLAG_AESNI_OFF */
    }
    if (imb_get_errno(m) != 0) {
        free_mb_mgr(m);
        return ETLS_ERR_UNSUPPORTED;
    }
    e->mgr = m;
    e->imb_arch = arch;
    return 0;
}

void etls_aead_imb_free(struct etls_aead_engine *e)
{
    if (e->mgr) {
        etls_aead_imb_flush(e);
        free_mb_mgr(e->mgr);
        e->mgr = NULL;
    }
}

int etls_aead_imb_key_init(struct etls_aead_engine *e, etls_aead_key_t *k, etls_aead_alg_t alg,
                           const uint8_t *key)
{
    IMB_MGR *m = e->mgr;
    ETLS_ENSURE(m, ETLS_ERR_UNSUPPORTED);
    switch (alg) {
    case ETLS_AEAD_AES128GCM: IMB_AES128_GCM_PRE(m, key, (struct gcm_key_data *)k->opaque); break;
    case ETLS_AEAD_AES256GCM: IMB_AES256_GCM_PRE(m, key, (struct gcm_key_data *)k->opaque); break;
    case ETLS_AEAD_CHACHA20POLY1305: memcpy(k->opaque, key, 32); break;
    case ETLS_AEAD_AES128CCM:
    case ETLS_AEAD_AES128CCM8: {
        struct ccm_keys *ck = (struct ccm_keys *)k->opaque;
        IMB_AES_KEYEXP_128(m, key, ck->enc, ck->dec);
        break;
    }
    default: return ETLS_ERR_INVALID;
    }
    k->impl = AEAD_IMPL(ETLS_AEAD_BACKEND_IPSECMB, e->imb_arch);
    return 0;
}

/* Sets the algorithm-specific job fields: mode, keys, AAD and chain order. */
static void job_alg(IMB_JOB *job, const etls_aead_key_t *k, const uint8_t *aad, size_t aad_len, int seal)
{
    switch (k->alg) {
    case ETLS_AEAD_AES128GCM:
    case ETLS_AEAD_AES256GCM:
        job->cipher_mode = IMB_CIPHER_GCM;
        job->hash_alg = IMB_AUTH_AES_GMAC;
        job->key_len_in_bytes = k->alg == ETLS_AEAD_AES128GCM ? IMB_KEY_128_BYTES : IMB_KEY_256_BYTES;
        job->enc_keys = job->dec_keys = k->opaque;
        job->u.GCM.aad = aad;
        job->u.GCM.aad_len_in_bytes = aad_len;
        job->chain_order = seal ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
        break;
    case ETLS_AEAD_CHACHA20POLY1305:
        job->cipher_mode = IMB_CIPHER_CHACHA20_POLY1305;
        job->hash_alg = IMB_AUTH_CHACHA20_POLY1305;
        job->key_len_in_bytes = IMB_KEY_256_BYTES;
        job->enc_keys = job->dec_keys = k->opaque;
        job->u.CHACHA20_POLY1305.aad = aad;
        job->u.CHACHA20_POLY1305.aad_len_in_bytes = aad_len;
        job->chain_order = seal ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
        break;
    default: { /* CCM: CBC-MAC runs over the plaintext, so MAC first when sealing */
        const struct ccm_keys *ck = (const struct ccm_keys *)k->opaque;
        job->cipher_mode = IMB_CIPHER_CCM;
        job->hash_alg = IMB_AUTH_AES_CCM;
        job->key_len_in_bytes = IMB_KEY_128_BYTES;
        job->enc_keys = ck->enc;
        job->dec_keys = ck->enc; /* CCM only ever runs the forward cipher */
        job->u.CCM.aad = aad;
        job->u.CCM.aad_len_in_bytes = aad_len;
        job->chain_order = seal ? IMB_ORDER_HASH_CIPHER : IMB_ORDER_CIPHER_HASH;
        break;
    }
    }
}

/* Finishes one returned job: for OPEN, the constant-time tag check and the wipe on failure. */
static void job_done(struct etls_aead_engine *e, IMB_JOB *job)
{
    etls_aead_op_t *op = job->user_data;
    uint8_t *tag = job->user_data2;
    size_t tag_len = job->auth_tag_output_len_in_bytes, ct_len = job->msg_len_to_cipher_in_bytes;
    e->in_flight--;
    if (job->status != IMB_STATUS_COMPLETED) {
        op->status = ETLS_ERR_CRYPTO;
        if (op->dir == ETLS_AEAD_OPEN && ct_len)
            etls_wipe(op->out, ct_len);
    } else if (op->dir == ETLS_AEAD_OPEN) {
        int ok = etls_ct_memeq(tag, op->in + ct_len, tag_len);
        if (!ok && ct_len)
            etls_wipe(op->out, ct_len);
        op->status = ok ? 0 : ETLS_ERR_AUTH;
    } else {
        op->status = 0;
    }
    if (op->dir == ETLS_AEAD_OPEN) /* the expected tag of attacker-chosen input is a forgery */
        etls_wipe(tag, tag_len);
}

static void drain(struct etls_aead_engine *e, IMB_JOB *job)
{
    while (job) {
        job_done(e, job);
        job = IMB_GET_COMPLETED_JOB(e->mgr);
    }
}

void etls_aead_imb_submit(struct etls_aead_engine *e, etls_aead_op_t *op, size_t ct_len)
{
    IMB_MGR *m = e->mgr;
    if (e->in_flight >= AEAD_TAG_RING)
        etls_aead_imb_flush(e);
    int seal = op->dir == ETLS_AEAD_SEAL;
    size_t tag_len = etls_aead_tag_len(op->key->alg);
    uint8_t *tag_out = seal ? op->out + ct_len : e->tags[e->ring_next];
    e->ring_next = (e->ring_next + 1) % AEAD_TAG_RING;

    IMB_JOB *job = IMB_GET_NEXT_JOB(m);
    job_alg(job, op->key, op->aad_len ? op->aad : e->dummy, op->aad_len, seal);
    job->cipher_direction = seal ? IMB_DIR_ENCRYPT : IMB_DIR_DECRYPT;
    job->src = ct_len ? op->in : e->dummy;
    job->dst = ct_len ? op->out : e->dummy;
    job->iv = op->nonce;
    job->iv_len_in_bytes = ETLS_AEAD_NONCE_LEN;
    job->cipher_start_src_offset_in_bytes = 0;
    job->msg_len_to_cipher_in_bytes = ct_len;
    job->hash_start_src_offset_in_bytes = 0;
    job->msg_len_to_hash_in_bytes = ct_len;
    job->auth_tag_output = tag_out;
    job->auth_tag_output_len_in_bytes = tag_len;
    job->user_data = op;
    job->user_data2 = tag_out;
    op->status = ETLS_ERR_IN_PROGRESS;
    e->in_flight++;
    drain(e, IMB_SUBMIT_JOB(m));
}

void etls_aead_imb_flush(struct etls_aead_engine *e)
{
    IMB_JOB *job;
    while ((job = IMB_FLUSH_JOB(e->mgr)) != NULL)
        drain(e, job);
}
