/* tls13_server_crypto: every cryptographic operation a server performs for one full TLS 1.3
 * handshake (X25519 key share and shared secret, ECDSA P-256 CertificateVerify, the key
 * schedule, server Finished computed and client Finished checked). Ours runs the X25519 half
 * of `batch` handshakes in one mixed batch, as a worker does; OpenSSL does one handshake at a
 * time through EVP. The figure is the handshake rate our crypto alone allows on one core.
 * tls13_server_crypto_hybrid: the same, with the server's ML-KEM-768 encapsulation of
 * X25519MLKEM768 added on our side for each handshake (against a fresh client key per slot);
 * its key schedule stays over the X25519 secret (the 64-byte hybrid secret costs one more
 * SHA-256 block in HKDF-Extract). OpenSSL 3.0 has no ML-KEM: its side is the X25519 handshake,
 * so the ratio is "our hybrid handshake against OpenSSL's classical one"; the hybrid's cost is
 * cycles_per_op of this row minus tls13_server_crypto's. */
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "common/ct.h"
#include "common/err.h"
#include "crypto/hash.h"
#include "crypto/mlkem.h"
#include "crypto/p256.h"
#include "crypto/rand.h"
#include "crypto/x25519.h"
#include "crypto_cases.h"

#define B ETLS_BENCH_BATCH_MAX

typedef struct srv_state {
    unsigned batch;
    const etls_pkey_t *ours_key;
    EVP_PKEY *ossl_key;
    etls_rand_t rng;
    uint8_t sk[B][32], client_pub[B][32], server_pub[B][32], shared[B][32];
    etls_x25519_op_t ops[2 * B];
    uint8_t cv_msg[ETLS_BENCH_CV_LEN];
    uint8_t sig[ETLS_SIG_MAX_LEN];
    size_t siglen;
    uint8_t client_fin_rx[B][32]; /* what the client sent in its Finished */
    uint8_t s_fin[32], c_fin[32];
    etls_bench_ks_out_t ks;
    unsigned fin_ok; /* client Finished that matched (meaningful only in the setup check) */
    int hybrid;
    uint8_t (*ek)[ETLS_MLKEM768_EK_LEN]; /* hybrid: each slot's client encapsulation key */
    uint8_t ct[ETLS_MLKEM768_CT_LEN], kem_ss[ETLS_MLKEM768_SS_LEN];
    /* OpenSSL side */
    EVP_PKEY_CTX *kg;
    EVP_MD *md;
    EVP_MD_CTX *mdctx;
    EVP_MAC_CTX *mac;
    etls_bench_hkdf_t hkdf;
    uint8_t o_pub[32], o_shared[32], o_sfin[32], o_cfin[32];
    etls_bench_ks_out_t o_ks;
    unsigned o_fin_ok;
} srv_state_t;

static void srv_free(void *p)
{
    srv_state_t *st = p;
    EVP_PKEY_CTX_free(st->kg);
    EVP_MD_CTX_free(st->mdctx);
    EVP_MD_free(st->md);
    EVP_MAC_CTX_free(st->mac);
    etls_bench_hkdf_free(&st->hkdf);
    free(st->ek);
    etls_rand_wipe(&st->rng);
    OPENSSL_cleanse(st, sizeof *st);
    free(st);
}

/* One mixed batch: `batch` key generations and `batch` shared secrets. */
static int ours_x25519(srv_state_t *st)
{
    unsigned n = st->batch;
    for (unsigned i = 0; i < n; i++) {
        st->ops[i] = (etls_x25519_op_t){.sk = st->sk[i], .out = st->server_pub[i]};
        st->ops[n + i] =
            (etls_x25519_op_t){.sk = st->sk[i], .peer = st->client_pub[i], .out = st->shared[i]};
    }
    etls_x25519_batch(NULL, st->ops, 2 * n);
    for (unsigned i = 0; i < 2 * n; i++)
        ETLS_ENSURE(st->ops[i].status == 0, ETLS_ERR_CRYPTO);
    return 0;
}

static int ours_rest(srv_state_t *st, unsigned i)
{
    if (st->hybrid)
        ETLS_GUARD(etls_mlkem768_encaps(st->ct, st->kem_ss, st->ek[i], ETLS_MLKEM768_EK_LEN, &st->rng));
    st->siglen = sizeof st->sig;
    ETLS_GUARD(etls_pkey_sign(st->ours_key, ETLS_SIG_ECDSA_SECP256R1_SHA256, st->cv_msg,
                              sizeof st->cv_msg, st->sig, &st->siglen));
    ETLS_GUARD(etls_bench_ks_ours(st->shared[i], &st->ks));
    etls_hmac(ETLS_HASH_SHA256, st->ks.s_finished_key, 32, etls_bench_th_ch_cv, 32, st->s_fin);
    etls_hmac(ETLS_HASH_SHA256, st->ks.c_finished_key, 32, etls_bench_th_ch_sf, 32, st->c_fin);
    st->fin_ok += (unsigned)etls_ct_memeq(st->c_fin, st->client_fin_rx[i], 32);
    return 0;
}

static int ours_server(void *p, uint64_t calls)
{
    srv_state_t *st = p;
    for (uint64_t c = 0; c < calls; c++) {
        ETLS_GUARD(etls_rand_bytes(&st->rng, st->sk, 32 * (size_t)st->batch));
        ETLS_GUARD(ours_x25519(st));
        for (unsigned i = 0; i < st->batch; i++)
            ETLS_GUARD(ours_rest(st, i));
    }
    return 0;
}

static int ossl_hmac(srv_state_t *st, const uint8_t key[32], const uint8_t th[32], uint8_t out[32])
{
    size_t n = 0;
    ETLS_ENSURE(EVP_MAC_init(st->mac, key, 32, NULL) == 1, ETLS_ERR_CRYPTO);
    ETLS_ENSURE(EVP_MAC_update(st->mac, th, 32) == 1, ETLS_ERR_CRYPTO);
    ETLS_ENSURE(EVP_MAC_final(st->mac, out, &n, 32) == 1 && n == 32, ETLS_ERR_CRYPTO);
    return 0;
}

/* The client's key share arrives as bytes, so the server builds the peer key each time. */
static int ossl_ecdhe(srv_state_t *st, EVP_PKEY *eph, unsigned i)
{
    size_t len = 32, slen = 32;
    ETLS_ENSURE(EVP_PKEY_get_raw_public_key(eph, st->o_pub, &len) == 1, ETLS_ERR_CRYPTO);
    EVP_PKEY *peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, st->client_pub[i], 32);
    EVP_PKEY_CTX *d = EVP_PKEY_CTX_new_from_pkey(NULL, eph, NULL);
    int ok = peer && d && EVP_PKEY_derive_init(d) == 1 && EVP_PKEY_derive_set_peer(d, peer) == 1 &&
             EVP_PKEY_derive(d, st->o_shared, &slen) == 1 && slen == 32;
    EVP_PKEY_CTX_free(d);
    EVP_PKEY_free(peer);
    return ok ? 0 : ETLS_ERR_CRYPTO;
}

static int ossl_handshake(srv_state_t *st, EVP_PKEY *eph, unsigned i)
{
    ETLS_GUARD(ossl_ecdhe(st, eph, i));
    st->siglen = sizeof st->sig;
    ETLS_ENSURE(EVP_DigestSignInit(st->mdctx, NULL, st->md, NULL, st->ossl_key) == 1, ETLS_ERR_CRYPTO);
    ETLS_ENSURE(EVP_DigestSign(st->mdctx, st->sig, &st->siglen, st->cv_msg, sizeof st->cv_msg) == 1,
                ETLS_ERR_CRYPTO);
    ETLS_GUARD(etls_bench_ks_ossl(&st->hkdf, st->o_shared, &st->o_ks));
    ETLS_GUARD(ossl_hmac(st, st->o_ks.s_finished_key, etls_bench_th_ch_cv, st->o_sfin));
    ETLS_GUARD(ossl_hmac(st, st->o_ks.c_finished_key, etls_bench_th_ch_sf, st->o_cfin));
    st->o_fin_ok += CRYPTO_memcmp(st->o_cfin, st->client_fin_rx[i], 32) == 0;
    return 0;
}

static int ossl_server(void *p, uint64_t calls)
{
    srv_state_t *st = p;
    for (uint64_t c = 0; c < calls; c++) {
        EVP_PKEY *eph = NULL;
        ETLS_ENSURE(EVP_PKEY_keygen(st->kg, &eph) == 1, ETLS_ERR_CRYPTO);
        int rc = ossl_handshake(st, eph, (unsigned)(c % st->batch));
        EVP_PKEY_free(eph);
        ETLS_GUARD(rc);
    }
    return 0;
}

static int srv_ossl_init(srv_state_t *st)
{
    st->kg = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);
    ETLS_ENSURE(st->kg && EVP_PKEY_keygen_init(st->kg) == 1, ETLS_ERR_CRYPTO);
    st->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    st->mdctx = EVP_MD_CTX_new();
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    st->mac = mac ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                           OSSL_PARAM_construct_end()};
    ETLS_ENSURE(st->md && st->mdctx && st->mac && EVP_MAC_CTX_set_params(st->mac, params) == 1,
                ETLS_ERR_CRYPTO);
    ETLS_GUARD(etls_bench_hkdf_init(&st->hkdf));
    for (unsigned i = 0; i < st->batch; i++) { /* client key shares */
        EVP_PKEY *k = NULL;
        size_t len = 32;
        ETLS_ENSURE(EVP_PKEY_keygen(st->kg, &k) == 1, ETLS_ERR_CRYPTO);
        int ok = EVP_PKEY_get_raw_public_key(k, st->client_pub[i], &len) == 1;
        EVP_PKEY_free(k);
        ETLS_ENSURE(ok, ETLS_ERR_CRYPTO);
    }
    return 0;
}

static int sig_verifies(srv_state_t *st)
{
    EVP_MD_CTX *v = EVP_MD_CTX_new();
    int ok = v && EVP_DigestVerifyInit(v, NULL, st->md, NULL, st->ossl_key) == 1 &&
             EVP_DigestVerify(v, st->sig, st->siglen, st->cv_msg, sizeof st->cv_msg) == 1;
    EVP_MD_CTX_free(v);
    return ok;
}

/* One handshake on the same ephemeral scalar through both sides: key share, shared secret,
 * every key and both Finished values must agree, and our client-Finished check must accept
 * the value OpenSSL computed. */
static int srv_verify(srv_state_t *st)
{
    ETLS_ENSURE(RAND_bytes(&st->sk[0][0], (int)(32 * st->batch)) == 1, ETLS_ERR_CRYPTO);
    EVP_PKEY *eph = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, st->sk[0], 32);
    ETLS_ENSURE(eph, ETLS_ERR_CRYPTO);
    int rc = ossl_handshake(st, eph, 0);
    EVP_PKEY_free(eph);
    ETLS_GUARD(rc);
    ETLS_ENSURE(sig_verifies(st), ETLS_ERR_AUTH);
    memcpy(st->client_fin_rx[0], st->o_cfin, 32);
    ETLS_GUARD(ours_x25519(st));
    ETLS_GUARD(ours_rest(st, 0));
    ETLS_ENSURE(sig_verifies(st), ETLS_ERR_AUTH);
    ETLS_ENSURE(st->fin_ok == 1, ETLS_ERR_AUTH);
    ETLS_ENSURE(memcmp(st->server_pub[0], st->o_pub, 32) == 0 &&
                    memcmp(st->shared[0], st->o_shared, 32) == 0 &&
                    memcmp(&st->ks, &st->o_ks, sizeof st->ks) == 0 &&
                    memcmp(st->s_fin, st->o_sfin, 32) == 0,
                ETLS_ERR_CRYPTO);
    return 0;
}

/* A client key pair per slot for the hybrid; only the encapsulation keys are kept. */
static int srv_hybrid_init(srv_state_t *st)
{
    static uint8_t dk[ETLS_MLKEM768_DK_LEN];
    st->ek = calloc(B, sizeof *st->ek);
    ETLS_ENSURE(st->ek, ETLS_ERR_NOMEM);
    for (unsigned i = 0; i < st->batch; i++)
        ETLS_GUARD(etls_mlkem768_keygen(st->ek[i], dk, &st->rng));
    OPENSSL_cleanse(dk, sizeof dk);
    return 0;
}

int etls_bench_server_setup(const etls_bench_env_t *env, const void *arg, etls_bench_pair_t *p)
{
    srv_state_t *st = calloc(1, sizeof *st);
    const char *name = arg ? "tls13_server_crypto_hybrid" : "tls13_server_crypto";
    if (!st)
        return etls_bench_fail(name, "out of memory");
    p->st = st;
    p->free_st = srv_free;
    st->hybrid = arg != NULL;
    st->batch = env->batch;
    st->ours_key = env->ec_ours;
    st->ossl_key = env->ec_ossl;
    etls_rand_init(&st->rng);
    etls_bench_cert_verify_msg(st->cv_msg, etls_bench_th_ch_cv);
    if (srv_ossl_init(st) < 0)
        return etls_bench_fail(name, "OpenSSL setup failed");
    if (st->hybrid && srv_hybrid_init(st) < 0)
        return etls_bench_fail(name, "ML-KEM-768 key generation failed");
    if (srv_verify(st) < 0)
        return etls_bench_fail(name, "our handshake crypto differs from OpenSSL's");
    snprintf(p->impl, sizeof p->impl, "x25519 %s batch %u, ecdsa pk.h (p256 %s), sha256 %s%s%s",
             etls_x25519_best()->name, st->batch, etls_p256_best()->name, etls_hash_impl_name(ETLS_HASH_SHA256),
             st->hybrid ? ", + ml-kem-768 encaps keccak " : "",
             st->hybrid ? etls_mlkem_impl_name() : "");
    p->ours = (etls_bench_side_t){.run = ours_server, .st = st, .ops_per_call = st->batch};
    p->ossl = (etls_bench_side_t){.run = ossl_server, .st = st, .ops_per_call = 1};
    return 0;
}
