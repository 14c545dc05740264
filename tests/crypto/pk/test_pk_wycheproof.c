/* Wycheproof vectors through crypto/pk.h: ECDSA P-256 (DER and P1363), Ed25519, RSA-PSS-2048
 * (SHA-256, MGF1-SHA-256, salt 32) via etls_pkey_verify, and P-256 ECDH via etls_p256_shared.
 * Arguments: the flattened vector files in that order (tests/meson.build wycheproof_vectors). */
#include "crypto/pk.h"

#include "common/err.h"
#include "test.h"
#include "vectors.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    unsigned long valid, invalid, acceptable, acceptable_ok, rejected_encoding;
} counts_t;

static void report(const char *name, const counts_t *c)
{
    printf("%-34s valid %lu, invalid %lu (%lu refused by P1363 length), acceptable %lu "
           "(%lu accepted)\n",
           name, c->valid, c->invalid, c->rejected_encoding, c->acceptable, c->acceptable_ok);
}

/* IEEE P1363 r||s (32 bytes each) as a DER ECDSA-Sig-Value; -1 when the length is not 64, which
 * is how a fixed-width encoding is refused. */
static long p1363_to_der(const uint8_t *sig, long len, uint8_t *der)
{
    if (len != 64)
        return -1;
    uint8_t ints[2][35];
    size_t ilen[2];
    for (int h = 0; h < 2; h++) {
        const uint8_t *v = sig + 32 * h;
        size_t skip = 0;
        while (skip < 31 && v[skip] == 0)
            skip++;
        size_t n = 32 - skip, pad = v[skip] & 0x80 ? 1 : 0;
        ints[h][0] = 0x02;
        ints[h][1] = (uint8_t)(n + pad);
        ints[h][2] = 0;
        memcpy(ints[h] + 2 + pad, v + skip, n);
        ilen[h] = 2 + pad + n;
    }
    der[0] = 0x30;
    der[1] = (uint8_t)(ilen[0] + ilen[1]);
    memcpy(der + 2, ints[0], ilen[0]);
    memcpy(der + 2 + ilen[0], ints[1], ilen[1]);
    return (long)(2 + ilen[0] + ilen[1]);
}

static void check_result(etls_tv_t *tv, const char *result, int rc, counts_t *c)
{
    long id = etls_tv_int(tv, "tcId", -1);
    if (strcmp(result, "valid") == 0) {
        c->valid++;
        CHECK_MSG(rc == 0, "tcId %ld: valid signature rejected (%d)", id, rc);
    } else if (strcmp(result, "invalid") == 0) {
        c->invalid++;
        CHECK_MSG(rc == ETLS_ERR_AUTH || rc == ETLS_ERR_INVALID, "tcId %ld: invalid accepted (%d)",
                  id, rc);
    } else {
        c->acceptable++;
        c->acceptable_ok += rc == 0;
        CHECK_MSG(rc == 0 || rc == ETLS_ERR_AUTH || rc == ETLS_ERR_INVALID, "tcId %ld: rc %d", id,
                  rc);
    }
}

/* One signature file: public key from g_publicKeyDer (SubjectPublicKeyInfo). */
static void run_sig(const char *path, const char *name, uint16_t scheme, int p1363)
{
    static uint8_t spki[1024], msg[1 << 16], sig[8192], der[80];
    counts_t c = {0};
    etls_tv_t tv;
    etls_tv_open(&tv, path);
    while (etls_tv_next(&tv)) {
        long klen = etls_tv_hex(&tv, "g_publicKeyDer", spki, sizeof spki);
        long mlen = etls_tv_hex(&tv, "msg", msg, sizeof msg);
        long slen = etls_tv_hex(&tv, "sig", sig, sizeof sig);
        const char *res = etls_tv_str(&tv, "result");
        CHECK(klen > 0 && mlen >= 0 && slen >= 0 && res);
        if (klen <= 0 || mlen < 0 || slen < 0 || !res)
            continue;
        char result[16];
        snprintf(result, sizeof result, "%s", res);
        etls_pkey_t *k = NULL;
        CHECK(etls_pkey_from_spki_der(&k, spki, (size_t)klen) == 0);
        CHECK(etls_pkey_scheme(k) == scheme);
        const uint8_t *s = sig;
        if (p1363) {
            slen = p1363_to_der(sig, slen, der);
            s = der;
        }
        int rc;
        if (slen < 0) {
            rc = ETLS_ERR_INVALID;
            c.rejected_encoding++;
        } else {
            rc = etls_pkey_verify(k, scheme, msg, (size_t)mlen, s, (size_t)slen);
        }
        check_result(&tv, result, rc, &c);
        etls_pkey_free(k);
    }
    etls_tv_close(&tv);
    CHECK(c.valid > 0 && c.invalid > 0);
    report(name, &c);
}

/* Wycheproof private keys are minimal big-endian integers (maybe with a sign byte): to 32 bytes. */
static int scalar32(const uint8_t *v, long len, uint8_t out[32])
{
    while (len > 32 && v[0] == 0)
        v++, len--;
    if (len > 32 || len < 0)
        return -1;
    memset(out, 0, 32);
    memcpy(out + 32 - len, v, (size_t)len);
    return 0;
}

static void run_ecdh(const char *path)
{
    static uint8_t pub[256], priv[64], want[64];
    counts_t c = {0};
    unsigned long compressed = 0;
    etls_tv_t tv;
    etls_tv_open(&tv, path);
    while (etls_tv_next(&tv)) {
        long plen = etls_tv_hex(&tv, "public", pub, sizeof pub);
        long klen = etls_tv_hex(&tv, "private", priv, sizeof priv);
        long wlen = etls_tv_hex(&tv, "shared", want, sizeof want);
        const char *r = etls_tv_str(&tv, "result"); /* static buffer: copy before the next read */
        char res[16];
        snprintf(res, sizeof res, "%s", r ? r : "");
        long id = etls_tv_int(&tv, "tcId", -1);
        etls_p256_key_t k;
        CHECK(plen >= 0 && wlen >= 0 && r && scalar32(priv, klen, k.priv) == 0);
        if (plen < 0 || wlen < 0 || !r)
            continue;
        uint8_t out[32];
        int rc = etls_p256_shared_len(&k, pub, (size_t)plen, out);
        int is_compressed = plen == 33 && (pub[0] == 2 || pub[0] == 3);
        compressed += (unsigned long)is_compressed;
        if (strcmp(res, "valid") == 0 && !is_compressed) {
            c.valid++;
            CHECK_MSG(rc == 0 && wlen == 32 && memcmp(out, want, 32) == 0,
                      "tcId %ld: rc %d or wrong secret", id, rc);
        } else {
            /* invalid points, and compressed points (valid or acceptable in Wycheproof) that a
             * TLS 1.3 key share must not use */
            c.invalid += strcmp(res, "invalid") == 0;
            c.acceptable += strcmp(res, "acceptable") == 0;
            CHECK_MSG(rc == ETLS_ERR_INVALID, "tcId %ld (%s): rc %d", id, res, rc);
        }
        if (plen == 65 && pub[0] == 4) /* the fixed-length entry point must agree */
            CHECK(etls_p256_shared(&k, pub, out) == rc);
        etls_p256_key_wipe(&k);
    }
    etls_tv_close(&tv);
    printf("%-34s valid %lu matched, invalid %lu rejected, acceptable %lu rejected, "
           "compressed points rejected %lu\n",
           "ecdh_secp256r1_ecpoint", c.valid, c.invalid, c.acceptable, compressed);
    CHECK(c.valid > 300 && c.invalid > 20 && compressed > 0);
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s ecdsa.txt ecdsa_p1363.txt ed25519.txt rsa_pss.txt ecdh.txt\n",
                argv[0]);
        return 2;
    }
    run_sig(argv[1], "ecdsa_secp256r1_sha256", ETLS_SIG_ECDSA_SECP256R1_SHA256, 0);
    run_sig(argv[2], "ecdsa_secp256r1_sha256_p1363", ETLS_SIG_ECDSA_SECP256R1_SHA256, 1);
    run_sig(argv[3], "ed25519", ETLS_SIG_ED25519, 0);
    run_sig(argv[4], "rsa_pss_2048_sha256_mgf1_32", ETLS_SIG_RSA_PSS_RSAE_SHA256, 0);
    run_ecdh(argv[5]);
    return etls_test_summary("test_pk_wycheproof");
}
