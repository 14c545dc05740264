/* Every Wycheproof HMAC-SHA256/384 and HKDF-SHA256/384 vector, with its expected result.
 *
 * usage: test_hash_wycheproof hmac_sha256.txt hmac_sha384.txt hkdf_sha256.txt hkdf_sha384.txt
 * HMAC groups may truncate tags (g_tagSize, bits): the tag is compared as a prefix, and an
 * "invalid" vector's tag must not match. HKDF "invalid" vectors ask for more than
 * 255 * HashLen bytes and must be rejected. */
#include "common/ct.h"
#include "common/err.h"
#include "crypto/hash.h"
#include "test.h"
#include "vectors.h"

#include <stdlib.h>
#include <string.h>

static uint8_t buf_key[4096], buf_msg[8192], buf_tag[64], buf_salt[4096], buf_info[4096];
static uint8_t buf_okm[255 * 48 + 1], buf_out[255 * 48 + 64];

static int is_valid(etls_tv_t *tv)
{
    const char *res = etls_tv_str(tv, "result");
    CHECK(res && (strcmp(res, "valid") == 0 || strcmp(res, "invalid") == 0));
    return res && strcmp(res, "valid") == 0;
}

static unsigned run_hmac(const char *path, etls_hash_alg_t alg)
{
    etls_tv_t tv;
    unsigned n = 0, n_invalid = 0;
    etls_tv_open(&tv, path);
    while (etls_tv_next(&tv)) {
        long kl = etls_tv_hex(&tv, "key", buf_key, sizeof buf_key);
        long ml = etls_tv_hex(&tv, "msg", buf_msg, sizeof buf_msg);
        long tl = etls_tv_hex(&tv, "tag", buf_tag, sizeof buf_tag);
        long tag_bits = etls_tv_int(&tv, "g_tagSize", -1);
        long id = etls_tv_int(&tv, "tcId", -1);
        int valid = is_valid(&tv);
        CHECK_MSG(kl >= 0 && ml >= 0 && tl >= 0 && tag_bits > 0 && tag_bits % 8 == 0 &&
                      (size_t)tag_bits / 8 <= etls_hash_len(alg) && tl == tag_bits / 8,
                  "%s tcId %ld: malformed vector", path, id);
        if (kl < 0 || ml < 0 || tl < 0 || tag_bits <= 0 ||
            (size_t)tag_bits / 8 > etls_hash_len(alg))
            continue;
        uint8_t mac[64];
        etls_hmac(alg, buf_key, (size_t)kl, buf_msg, (size_t)ml, mac);
        int match = etls_ct_memeq(mac, buf_tag, (size_t)tl);
        CHECK_MSG(match == valid, "%s tcId %ld: tag %s but vector is %s", path, id,
                  match ? "matches" : "differs", valid ? "valid" : "invalid");
        n++;
        n_invalid += !valid;
    }
    etls_tv_close(&tv);
    printf("%s: %u vectors (%u invalid)\n", path, n, n_invalid);
    CHECK(n_invalid > 0); /* the file must exercise rejection too */
    return n;
}

static unsigned run_hkdf(const char *path, etls_hash_alg_t alg)
{
    etls_tv_t tv;
    unsigned n = 0, n_invalid = 0;
    size_t hl = etls_hash_len(alg);
    etls_tv_open(&tv, path);
    while (etls_tv_next(&tv)) {
        long il = etls_tv_hex(&tv, "ikm", buf_key, sizeof buf_key);
        long sl = etls_tv_hex(&tv, "salt", buf_salt, sizeof buf_salt);
        long fl = etls_tv_hex(&tv, "info", buf_info, sizeof buf_info);
        long ol = etls_tv_hex(&tv, "okm", buf_okm, sizeof buf_okm);
        long size = etls_tv_int(&tv, "size", -1);
        long id = etls_tv_int(&tv, "tcId", -1);
        int valid = is_valid(&tv);
        CHECK_MSG(il >= 0 && sl >= 0 && fl >= 0 && ol >= 0 && size >= 0,
                  "%s tcId %ld: malformed vector", path, id);
        if (il < 0 || sl < 0 || fl < 0 || ol < 0 || size < 0 || (size_t)size > sizeof buf_out)
            continue;
        uint8_t prk[64];
        etls_hkdf_extract(alg, buf_salt, (size_t)sl, buf_key, (size_t)il, prk);
        memset(buf_out, 0x3c, sizeof buf_out);
        int rc = etls_hkdf_expand(alg, prk, hl, buf_info, (size_t)fl, buf_out, (size_t)size);
        if (valid) {
            CHECK_MSG(rc == 0 && ol == size && memcmp(buf_out, buf_okm, (size_t)size) == 0,
                      "%s tcId %ld: okm differs (rc %d)", path, id, rc);
        } else {
            CHECK_MSG(rc == ETLS_ERR_INVALID && (size_t)size > 255 * hl && buf_out[0] == 0x3c,
                      "%s tcId %ld: invalid size %ld accepted", path, id, size);
        }
        n++;
        n_invalid += !valid;
    }
    etls_tv_close(&tv);
    printf("%s: %u vectors (%u invalid)\n", path, n, n_invalid);
    CHECK(n_invalid > 0);
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s hmac256 hmac384 hkdf256 hkdf384\n", argv[0]);
        return 2;
    }
    /* Counts from the vector files' numberOfTests: every vector must be read and run. */
    CHECK(run_hmac(argv[1], ETLS_HASH_SHA256) == 174);
    CHECK(run_hmac(argv[2], ETLS_HASH_SHA384) == 174);
    CHECK(run_hkdf(argv[3], ETLS_HASH_SHA256) == 86);
    CHECK(run_hkdf(argv[4], ETLS_HASH_SHA384) == 83);
    return etls_test_summary("hash_wycheproof");
}
