/* TLS 1.2 key derivation: the PRF (RFC 5246 §5) with P_SHA256 or P_SHA384 as the suite says,
 * the master secret (§8.1, or RFC 7627 §4 with extended_master_secret), the key block (§6.3) and
 * Finished (§7.4.9). The HMAC key is set up once per PRF call and reused for every block. */
#include "tls/tls_internal.h"

/* P_hash(secret, label || seed1 || seed2): A(i) = HMAC(secret, A(i-1)), A(0) = the seed; each
 * output block is HMAC(secret, A(i) || seed). */
int etls_tls12_prf(etls_hash_alg_t hash, const uint8_t *secret, size_t secret_len,
                   const char *label, const uint8_t *seed1, size_t seed1_len,
                   const uint8_t *seed2, size_t seed2_len, uint8_t *out, size_t out_len)
{
    size_t hl = etls_hash_len(hash);
    ETLS_ENSURE(hl && out_len <= 255 * hl, ETLS_ERR_INVALID);
    uint8_t a[ETLS_HASH_MAX_LEN], block[ETLS_HASH_MAX_LEN];
    etls_hmac_ctx_t key;
    etls_hmac_init(&key, hash, secret, secret_len);
    etls_hmac_seg_t seed[3] = {{label, strlen(label)}, {seed1, seed1_len}, {seed2, seed2_len}};
    etls_hmac_keyed(&key, seed, 3, a); /* A(1) */
    for (size_t off = 0; off < out_len; off += hl) {
        etls_hmac_seg_t segs[4] = {{a, hl}, seed[0], seed[1], seed[2]};
        etls_hmac_keyed(&key, segs, 4, block);
        size_t take = out_len - off < hl ? out_len - off : hl;
        memcpy(out + off, block, take);
        etls_hmac_seg_t next = {a, hl};
        etls_hmac_keyed(&key, &next, 1, a);
    }
    etls_wipe(a, sizeof a);
    etls_wipe(block, sizeof block);
    etls_wipe(&key, sizeof key);
    return 0;
}
