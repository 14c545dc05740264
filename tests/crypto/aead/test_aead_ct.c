/* Constant-time check for AEAD (suite 'ct', run under valgrind memcheck).
 *
 * The key, the plaintext and the received tag are marked undefined (etls_ct_classify); any
 * branch or memory index that depends on them is reported by memcheck. Opening a record with a
 * good and with a bad tag then exercises our tag comparison, the wipe on failure and the status
 * path. Only protocol-public results are declassified: the ciphertext body (it goes on the
 * wire) and the plaintext the test compares. See aead_ct.supp for the reports that are not in
 * our code and why they are suppressed. Runs both backends and AUTO's mix, single calls and one
 * mixed burst. */
#include "crypto/aead.h"
#include "common/ct.h"
#include "common/err.h"
#include "test.h"

#include <string.h>

static const etls_aead_alg_t algs[] = {ETLS_AEAD_AES128GCM, ETLS_AEAD_AES256GCM, ETLS_AEAD_CHACHA20POLY1305,
                                       ETLS_AEAD_AES128CCM, ETLS_AEAD_AES128CCM8};
static const size_t lens[] = {0, 1, 16, 77, 1000, ETLS_AEAD_SPLIT_LEN}; /* ChaCha by size: both sides */

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= p[i];
    return d == 0;
}

/* Seals `len` secret bytes, then opens with the tag classified: intact, and with one bit flipped. */
static void one(etls_aead_engine_t *e, const etls_aead_key_t *k, size_t len, uint8_t seed)
{
    static const uint8_t aad[5] = {23, 3, 3, 0, 0};
    uint8_t nonce[12], pt[ETLS_AEAD_SPLIT_LEN], pt_public[ETLS_AEAD_SPLIT_LEN], ct[ETLS_AEAD_SPLIT_LEN + 16];
    uint8_t back[ETLS_AEAD_SPLIT_LEN];
    size_t tag = etls_aead_tag_len(k->alg);
    memset(nonce, seed, sizeof nonce);
    for (size_t i = 0; i < len; i++)
        pt_public[i] = (uint8_t)(i * 7 + seed);
    memcpy(pt, pt_public, len);
    etls_ct_classify(pt, len);
    CHECK(etls_aead_seal(e, k, nonce, aad, sizeof aad, pt, len, ct) == 0);
    etls_ct_declassify(ct, len); /* the ciphertext body is public; the tag stays secret here */
    etls_ct_classify(ct + len, tag);

    int rc = etls_aead_open(e, k, nonce, aad, sizeof aad, ct, len + tag, back);
    CHECK_MSG(rc == 0, "%s len %zu: good tag rejected (%d)", etls_aead_name(k->alg), len, rc);
    etls_ct_declassify(back, len);
    CHECK_MEM(back, pt_public, len);

    ct[len + (seed % tag)] ^= 0x10; /* bad tag; still undefined to memcheck */
    memset(back, 0xee, sizeof back);
    rc = etls_aead_open(e, k, nonce, aad, sizeof aad, ct, len + tag, back);
    CHECK_MSG(rc == ETLS_ERR_AUTH, "%s len %zu: bad tag accepted (%d)", etls_aead_name(k->alg), len, rc);
    etls_ct_declassify(back, len);
    CHECK(all_zero(back, len));
}

/* A burst of good and bad opens over all algorithms, tags classified. */
static void burst(etls_aead_engine_t *e, etls_aead_key_t *keys)
{
    enum { N = 10, LEN = 64 };
    uint8_t pt[LEN], ct[N][LEN + 16], out[N][LEN];
    uint8_t nonce[12] = {9};
    etls_aead_op_t ops[N];
    memset(pt, 0x5a, sizeof pt);
    for (int i = 0; i < N; i++) {
        const etls_aead_key_t *k = &keys[i % 5];
        size_t tag = etls_aead_tag_len(k->alg);
        CHECK(etls_aead_seal(e, k, nonce, NULL, 0, pt, LEN, ct[i]) == 0);
        etls_ct_declassify(ct[i], LEN);
        etls_ct_classify(ct[i] + LEN, tag);
        if (i >= 5)
            ct[i][LEN] ^= 1;
        ops[i] = (etls_aead_op_t){.key = k, .dir = ETLS_AEAD_OPEN, .in = ct[i], .in_len = LEN + tag, .out = out[i]};
        memcpy(ops[i].nonce, nonce, 12);
    }
    CHECK(etls_aead_burst(e, ops, N) == 5);
    for (int i = 0; i < N; i++) {
        etls_ct_declassify(out[i], LEN);
        CHECK(ops[i].status == (i >= 5 ? ETLS_ERR_AUTH : 0));
        CHECK(i >= 5 ? all_zero(out[i], LEN) : memcmp(out[i], pt, LEN) == 0);
    }
}

int main(void)
{
    const etls_aead_backend_t backends[] = {ETLS_AEAD_BACKEND_IPSECMB, ETLS_AEAD_BACKEND_OPENSSL,
                                            ETLS_AEAD_BACKEND_AUTO};
    for (size_t b = 0; b < 3; b++) {
        etls_aead_engine_t *e = etls_aead_engine_new_backend(backends[b]);
        CHECK(e != NULL);
        if (!e)
            break;
        printf("engine: %s\n", etls_aead_engine_describe(e));
        etls_aead_key_t keys[5];
        memset(keys, 0, sizeof keys);
        for (size_t a = 0; a < 5; a++) {
            uint8_t raw[32];
            memset(raw, (int)(a + 1), sizeof raw);
            etls_ct_classify(raw, sizeof raw);
            CHECK(etls_aead_key_init(e, &keys[a], algs[a], raw) == 0);
            for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++)
                one(e, &keys[a], lens[l], (uint8_t)(a * 16 + l));
        }
        burst(e, keys);
        for (size_t a = 0; a < 5; a++)
            etls_aead_key_wipe(&keys[a]);
        etls_aead_engine_free(e);
    }
    return etls_test_summary("aead_ct");
}
