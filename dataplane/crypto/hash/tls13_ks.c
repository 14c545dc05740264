/* TLS 1.3 key schedule (RFC 8446 §7.1-§7.3, §4.4.4) on HMAC/HKDF from hash.c.
 *
 * Cost is counted in compression-function calls. Every secret that is expanded more than once
 * (handshake secret, master secret, traffic secrets) is set up as an HMAC key once and cloned,
 * the empty-string hash is computed once, and the PSK-less early secret and its "derived"
 * secret, which are public constants, are computed (and the latter keyed, as the handshake
 * secret's salt) once per process. Without a PSK, ks_handshake and ks_master cost ten
 * SHA-256 compressions each. */
#include "crypto/tls13_ks.h"

#include "common/ct.h"
#include "common/err.h"

#include <pthread.h>
#include <string.h>

#define LABEL_PREFIX "tls13 "
#define LABEL_PREFIX_LEN 6
/* struct HkdfLabel { uint16 length; opaque label<7..255>; opaque context<0..255>; } */
#define HKDF_LABEL_MAX (2 + 1 + 255 + 1 + 255)

static struct {
    uint8_t empty_hash[ETLS_HASH_MAX_LEN];
    uint8_t early[ETLS_HASH_MAX_LEN];   /* HKDF-Extract(0, 0^HashLen) */
    uint8_t derived[ETLS_HASH_MAX_LEN]; /* Derive-Secret(early, "derived", "") */
    etls_hmac_ctx_t derived_hmac;       /* derived set up as an HMAC key: the salt of every
                                         * PSK-less handshake secret */
} consts[2];
static pthread_once_t consts_once = PTHREAD_ONCE_INIT;

static size_t alg_index(etls_hash_alg_t alg)
{
    return alg == ETLS_HASH_SHA384;
}

static int build_hkdf_label(uint8_t *buf, size_t *buflen, size_t outlen, const char *label,
                            const uint8_t *context, size_t contextlen)
{
    size_t ll = strlen(label);
    ETLS_ENSURE(ll >= 1 && ll <= 255 - LABEL_PREFIX_LEN, ETLS_ERR_INVALID);
    ETLS_ENSURE(contextlen <= 255 && outlen <= 0xffff, ETLS_ERR_INVALID);
    uint8_t *p = buf;
    *p++ = (uint8_t)(outlen >> 8);
    *p++ = (uint8_t)outlen;
    *p++ = (uint8_t)(LABEL_PREFIX_LEN + ll);
    memcpy(p, LABEL_PREFIX, LABEL_PREFIX_LEN);
    memcpy(p + LABEL_PREFIX_LEN, label, ll);
    p += LABEL_PREFIX_LEN + ll;
    *p++ = (uint8_t)contextlen;
    if (contextlen)
        memcpy(p, context, contextlen);
    *buflen = (size_t)(p - buf) + contextlen;
    return 0;
}

/* HKDF-Expand-Label with the secret already keyed; every TLS use has outlen <= HashLen, which
 * is a single HMAC over the label plus the counter byte. */
static int expand_label_keyed(const etls_hmac_ctx_t *keyed, const char *label,
                              const uint8_t *context, size_t contextlen, uint8_t *out,
                              size_t outlen)
{
    uint8_t info[HKDF_LABEL_MAX];
    size_t infolen, hl = etls_hash_len(keyed->inner.alg);
    ETLS_GUARD(build_hkdf_label(info, &infolen, outlen, label, context, contextlen));
    if (outlen > hl)
        return etls_hkdf_expand_keyed(keyed, info, infolen, out, outlen);
    static const uint8_t one = 1;
    const etls_hmac_seg_t segs[2] = {{info, infolen}, {&one, 1}};
    if (outlen == hl) {
        etls_hmac_keyed(keyed, segs, 2, out);
        return 0;
    }
    uint8_t t[ETLS_HASH_MAX_LEN];
    etls_hmac_keyed(keyed, segs, 2, t);
    memcpy(out, t, outlen);
    etls_wipe(t, sizeof t);
    return 0;
}

int etls_tls13_expand_label(etls_hash_alg_t alg, const uint8_t *secret, const char *label,
                            const uint8_t *context, size_t contextlen, uint8_t *out, size_t outlen)
{
    size_t hl = etls_hash_len(alg);
    ETLS_ENSURE(hl != 0, ETLS_ERR_INVALID);
    etls_hmac_ctx_t keyed;
    etls_hmac_init(&keyed, alg, secret, hl);
    int rc = expand_label_keyed(&keyed, label, context, contextlen, out, outlen);
    etls_wipe(&keyed, sizeof keyed);
    return rc;
}

int etls_tls13_derive_secret(etls_hash_alg_t alg, const uint8_t *secret, const char *label,
                             const uint8_t *transcript_hash, uint8_t *out)
{
    size_t hl = etls_hash_len(alg);
    return etls_tls13_expand_label(alg, secret, label, transcript_hash, hl, out, hl);
}

static void init_consts(void)
{
    static const uint8_t zeros[ETLS_HASH_MAX_LEN];
    const etls_hash_alg_t algs[2] = {ETLS_HASH_SHA256, ETLS_HASH_SHA384};
    for (size_t i = 0; i < 2; i++) {
        size_t hl = etls_hash_len(algs[i]);
        etls_hash(algs[i], NULL, 0, consts[i].empty_hash);
        etls_hkdf_extract(algs[i], NULL, 0, zeros, hl, consts[i].early);
        (void)etls_tls13_derive_secret(algs[i], consts[i].early, "derived", consts[i].empty_hash,
                                       consts[i].derived);
        etls_hmac_init(&consts[i].derived_hmac, algs[i], consts[i].derived, hl);
    }
}

static const uint8_t *empty_hash(etls_hash_alg_t alg)
{
    pthread_once(&consts_once, init_consts);
    return consts[alg_index(alg)].empty_hash;
}

void etls_tls13_ks_init(etls_tls13_ks_t *ks, etls_hash_alg_t alg, const uint8_t *psk, size_t psklen)
{
    size_t hl = etls_hash_len(alg);
    memset(ks, 0, sizeof *ks);
    ks->alg = alg;
    pthread_once(&consts_once, init_consts);
    if (psk && psklen) {
        etls_hkdf_extract(alg, NULL, 0, psk, psklen, ks->secret);
    } else if (hl) {
        memcpy(ks->secret, consts[alg_index(alg)].early, hl);
        ks->no_psk = 1;
    }
}

/* §7.1: Derive-Secret(current, "derived", "") is the salt for the next HKDF-Extract; from the
 * handshake secret ks_advance computed it already. */
static int next_salt(const etls_tls13_ks_t *ks, uint8_t *salt)
{
    size_t hl = etls_hash_len(ks->alg);
    if (ks->stage == 1) {
        memcpy(salt, ks->salt, hl);
        return 0;
    }
    return etls_tls13_derive_secret(ks->alg, ks->secret, "derived", empty_hash(ks->alg), salt);
}

/* Extracts the next stage's secret from ikm, then derives two (or three) secrets from it with
 * one HMAC key setup; from the handshake secret also the master secret's salt, so that secret
 * is keyed once in all. */
static int ks_advance(etls_tls13_ks_t *ks, const uint8_t *ikm, size_t ikmlen, const uint8_t *th,
                      const char *const labels[3], uint8_t *const outs[3])
{
    size_t hl = etls_hash_len(ks->alg);
    uint8_t salt[ETLS_HASH_MAX_LEN];
    etls_hmac_ctx_t keyed;
    int rc = 0;
    if (ks->stage == 0 && ks->no_psk) { /* a public salt, keyed once per process */
        const etls_hmac_seg_t seg = {ikm, ikmlen};
        etls_hmac_keyed(&consts[alg_index(ks->alg)].derived_hmac, &seg, 1, ks->secret);
    } else {
        rc = next_salt(ks, salt);
        if (ks->stage == 1)
            etls_wipe(ks->salt, sizeof ks->salt); /* used up */
        if (rc == 0)
            etls_hkdf_extract(ks->alg, salt, hl, ikm, ikmlen, ks->secret);
    }
    if (rc == 0) {
        ks->stage++;
        etls_hmac_init(&keyed, ks->alg, ks->secret, hl);
        for (int i = 0; i < 3 && rc == 0; i++)
            if (outs[i])
                rc = expand_label_keyed(&keyed, labels[i], th, hl, outs[i], hl);
        if (rc == 0 && ks->stage == 1)
            rc = expand_label_keyed(&keyed, "derived", empty_hash(ks->alg), hl, ks->salt, hl);
        etls_wipe(&keyed, sizeof keyed);
    }
    etls_wipe(salt, sizeof salt);
    return rc;
}

int etls_tls13_ks_handshake(etls_tls13_ks_t *ks, const uint8_t *ecdhe, size_t ecdhelen,
                            const uint8_t *th_ch_sh, uint8_t *client_hs, uint8_t *server_hs)
{
    static const char *const labels[3] = {"c hs traffic", "s hs traffic", NULL};
    static const uint8_t zeros[ETLS_HASH_MAX_LEN];
    uint8_t *const outs[3] = {client_hs, server_hs, NULL};
    ETLS_ENSURE(etls_hash_len(ks->alg) != 0 && ks->stage == 0, ETLS_ERR_INVALID);
    ETLS_ENSURE(client_hs && server_hs && (ecdhe != NULL) == (ecdhelen != 0), ETLS_ERR_INVALID);
    /* psk_ke: "the 0-value" of HashLen zero bytes stands in (§7.1). Without a PSK that would
     * make the handshake secret a public constant, so a missing shared secret is refused. */
    if (!ecdhe) {
        ETLS_ENSURE(!ks->no_psk, ETLS_ERR_INVALID);
        return ks_advance(ks, zeros, etls_hash_len(ks->alg), th_ch_sh, labels, outs);
    }
    return ks_advance(ks, ecdhe, ecdhelen, th_ch_sh, labels, outs);
}

int etls_tls13_ks_master(etls_tls13_ks_t *ks, const uint8_t *th_ch_sf, uint8_t *client_ap,
                         uint8_t *server_ap, uint8_t *exporter)
{
    static const char *const labels[3] = {"c ap traffic", "s ap traffic", "exp master"};
    static const uint8_t zeros[ETLS_HASH_MAX_LEN];
    uint8_t *const outs[3] = {client_ap, server_ap, exporter};
    ETLS_ENSURE(etls_hash_len(ks->alg) != 0 && ks->stage == 1, ETLS_ERR_INVALID);
    ETLS_ENSURE(client_ap && server_ap, ETLS_ERR_INVALID);
    return ks_advance(ks, zeros, etls_hash_len(ks->alg), th_ch_sf, labels, outs);
}

int etls_tls13_ks_resumption(const etls_tls13_ks_t *ks, const uint8_t *th_ch_cf,
                             uint8_t *res_master)
{
    ETLS_ENSURE(etls_hash_len(ks->alg) != 0 && ks->stage == 2, ETLS_ERR_INVALID);
    return etls_tls13_derive_secret(ks->alg, ks->secret, "res master", th_ch_cf, res_master);
}

void etls_tls13_ks_wipe(etls_tls13_ks_t *ks)
{
    etls_wipe(ks, sizeof *ks);
}

int etls_tls13_traffic_keys_fin(etls_hash_alg_t alg, const uint8_t *secret, uint8_t *key,
                                size_t keylen, uint8_t *iv, size_t ivlen, uint8_t *finished_key)
{
    size_t hl = etls_hash_len(alg);
    ETLS_ENSURE(hl != 0 && keylen <= hl && ivlen <= hl, ETLS_ERR_INVALID);
    etls_hmac_ctx_t keyed;
    etls_hmac_init(&keyed, alg, secret, hl);
    int rc = expand_label_keyed(&keyed, "key", NULL, 0, key, keylen);
    if (rc == 0)
        rc = expand_label_keyed(&keyed, "iv", NULL, 0, iv, ivlen);
    if (rc == 0 && finished_key)
        rc = expand_label_keyed(&keyed, "finished", NULL, 0, finished_key, hl);
    etls_wipe(&keyed, sizeof keyed);
    return rc;
}

int etls_tls13_traffic_keys(etls_hash_alg_t alg, const uint8_t *secret, uint8_t *key, size_t keylen,
                            uint8_t *iv, size_t ivlen)
{
    return etls_tls13_traffic_keys_fin(alg, secret, key, keylen, iv, ivlen, NULL);
}

int etls_tls13_finished(etls_hash_alg_t alg, const uint8_t *base_key,
                        const uint8_t *transcript_hash, uint8_t *verify_data)
{
    size_t hl = etls_hash_len(alg);
    uint8_t fk[ETLS_HASH_MAX_LEN];
    ETLS_ENSURE(hl != 0, ETLS_ERR_INVALID);
    ETLS_GUARD(etls_tls13_expand_label(alg, base_key, "finished", NULL, 0, fk, hl));
    etls_hmac(alg, fk, hl, transcript_hash, hl, verify_data);
    etls_wipe(fk, sizeof fk);
    return 0;
}

void etls_tls13_finished_mac(etls_hash_alg_t alg, const uint8_t *finished_key,
                             const uint8_t *transcript_hash, uint8_t *verify_data)
{
    size_t hl = etls_hash_len(alg);
    etls_hmac(alg, finished_key, hl, transcript_hash, hl, verify_data);
}

int etls_tls13_update_secret(etls_hash_alg_t alg, uint8_t *secret)
{
    size_t hl = etls_hash_len(alg);
    uint8_t next[ETLS_HASH_MAX_LEN];
    ETLS_ENSURE(hl != 0, ETLS_ERR_INVALID);
    ETLS_GUARD(etls_tls13_expand_label(alg, secret, "traffic upd", NULL, 0, next, hl));
    memcpy(secret, next, hl);
    etls_wipe(next, sizeof next);
    return 0;
}
