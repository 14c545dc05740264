/* Speed of crypto/pk: sign and verify per scheme through etls_pkey_*, P-256 ECDH, and the
 * OpenSSL calling strategies the implementation chose between (fresh EVP_DigestSign context,
 * SHA-256 + fresh EVP_PKEY_CTX, SHA-256 + duplicated template = ours for ECDSA/RSA, duplicated
 * EVP_DigestSign template = ours for Ed25519; ECDH through EVP_PKEY_derive vs ours).
 * Items of a group run interleaved in slices and the best slice is reported (shared machine).
 *   pk_bench [seconds per item, default 1] [threads for the shared-key sign run, default 2] */
#include "crypto/pk.h"

#include "pk_testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

static double seconds = 1.0;
static uint8_t msg[130]; /* a TLS 1.3 CertificateVerify content is 64 + 34 + 32 bytes */

/* CPU time of the calling thread: on a shared, oversubscribed machine, wall time mostly measures
 * the other processes. Thread rates are therefore per-thread CPU rates, summed. */
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef int (*op_fn)(void *arg);

/* Runs op until the time is up; ops/s, or -1 when an operation failed. */
static double rate(op_fn op, void *arg)
{
    double t0 = now(), t;
    long n = 0;
    do {
        for (int i = 0; i < 8; i++, n++)
            if (op(arg) != 0)
                return -1;
    } while ((t = now() - t0) < seconds);
    return (double)n / t;
}

typedef struct {
    EVP_PKEY *ref;
    etls_pkey_t *k;
    uint16_t scheme;
    EVP_PKEY_CTX *tmpl;
    EVP_MD_CTX *mtmpl;
    uint8_t sig[ETLS_SIG_MAX_LEN];
    size_t siglen;
} bench_key_t;

static int op_sign(void *a)
{
    bench_key_t *k = a;
    uint8_t sig[ETLS_SIG_MAX_LEN]; /* k->sig stays the one op_verify checks */
    size_t len = sizeof sig;
    return etls_pkey_sign(k->k, k->scheme, msg, sizeof msg, sig, &len);
}

static int op_verify(void *a)
{
    bench_key_t *k = a;
    return etls_pkey_verify(k->k, k->scheme, msg, sizeof msg, k->sig, k->siglen);
}

static void pss(EVP_PKEY_CTX *pc, uint16_t scheme)
{
    if (scheme != ETLS_SIG_RSA_PSS_RSAE_SHA256)
        return;
    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 32);
    EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha256());
}

/* A: a fresh EVP_DigestSign context per signature. */
static int op_fresh_digestsign(void *a)
{
    bench_key_t *k = a;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    const EVP_MD *md = k->scheme == ETLS_SIG_ED25519 ? NULL : EVP_sha256();
    uint8_t sig[ETLS_SIG_MAX_LEN];
    size_t len = sizeof sig;
    int ok = EVP_DigestSignInit(m, &pc, md, NULL, k->ref) == 1;
    if (ok)
        pss(pc, k->scheme);
    ok = ok && EVP_DigestSign(m, sig, &len, msg, sizeof msg) == 1;
    EVP_MD_CTX_free(m);
    return ok ? 0 : -1;
}

/* B: SHA-256 ourselves, a fresh EVP_PKEY_CTX, EVP_PKEY_sign on the digest. */
static int op_fresh_pkeysign(void *a)
{
    bench_key_t *k = a;
    uint8_t h[32];
    SHA256(msg, sizeof msg, h);
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, k->ref, NULL);
    uint8_t sig[ETLS_SIG_MAX_LEN];
    size_t len = sizeof sig;
    int ok = pc && EVP_PKEY_sign_init(pc) == 1 &&
             EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) == 1;
    if (ok)
        pss(pc, k->scheme);
    ok = ok && EVP_PKEY_sign(pc, sig, &len, h, 32) == 1;
    EVP_PKEY_CTX_free(pc);
    return ok ? 0 : -1;
}

/* D: a duplicated, already initialised EVP_DigestSign context (for ECDSA/RSA as a comparison). */
static int op_dup_digestsign(void *a)
{
    bench_key_t *k = a;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    uint8_t sig[ETLS_SIG_MAX_LEN];
    size_t len = sizeof sig;
    int ok = m && EVP_MD_CTX_copy_ex(m, k->mtmpl) &&
             EVP_DigestSign(m, sig, &len, msg, sizeof msg) == 1;
    EVP_MD_CTX_free(m);
    return ok ? 0 : -1;
}

typedef struct {
    const char *name;
    op_fn op;
} item_t;

#define SLICES 10

static void print(const char *what, double r);

/* The machine is shared, so each item runs in SLICES short slices interleaved with the others and
 * the best slice counts: slow slices are other processes' load, not the code under test. */
static void compare(const item_t *items, size_t n, void *arg)
{
    double best[8] = {0}, full = seconds;
    seconds = full / SLICES;
    for (int s = 0; s < SLICES; s++)
        for (size_t i = 0; i < n && i < 8; i++) {
            double r = rate(items[i].op, arg);
            best[i] = r < 0 || best[i] < 0 ? -1 : (r > best[i] ? r : best[i]);
        }
    seconds = full;
    for (size_t i = 0; i < n && i < 8; i++)
        print(items[i].name, best[i]);
}

static void print(const char *what, double r)
{
    if (r < 0)
        printf("  %-48s FAILED\n", what);
    else
        printf("  %-48s %10.0f ops/s  %8.1f us/op\n", what, r, 1e6 / r);
}

static int load_key(bench_key_t *k, const char *kind, uint16_t scheme)
{
    memset(k, 0, sizeof *k);
    k->ref = pkt_keygen(kind);
    k->scheme = scheme;
    BIO *b = BIO_new(BIO_s_mem());
    char *pem = NULL, err[256];
    long len = 0;
    if (!k->ref || !b || !PEM_write_bio_PrivateKey(b, k->ref, NULL, NULL, 0, NULL, NULL) ||
        (len = BIO_get_mem_data(b, &pem)) <= 0 ||
        etls_pkey_load_pem(&k->k, pem, (size_t)len, err, sizeof err) != 0) {
        BIO_free(b);
        return -1;
    }
    BIO_free(b);
    k->siglen = sizeof k->sig;
    EVP_PKEY_CTX *pc = NULL;
    k->mtmpl = EVP_MD_CTX_new();
    EVP_DigestSignInit(k->mtmpl, &pc, scheme == ETLS_SIG_ED25519 ? NULL : EVP_sha256(), NULL,
                       k->ref);
    pss(pc, scheme);
    return etls_pkey_sign(k->k, scheme, msg, sizeof msg, k->sig, &k->siglen);
}

static void *sign_thread(void *a)
{
    bench_key_t copy = *(bench_key_t *)a; /* own output buffer, same shared etls key */
    double *r = malloc(sizeof *r);
    if (r)
        *r = rate(op_sign, &copy);
    return r;
}

static void bench_scheme(const char *kind, const char *label, uint16_t scheme, int threads)
{
    bench_key_t k;
    if (load_key(&k, kind, scheme) != 0) {
        printf("%s: key setup failed\n", label);
        return;
    }
    printf("%s (0x%04x, signature %zu bytes)\n", label, scheme, k.siglen);
    const item_t items[] = {
        {scheme == ETLS_SIG_ED25519 ? "etls_pkey_sign (dup DigestSign template)"
                                    : "etls_pkey_sign (SHA-256 + dup PKEY template)",
         op_sign},
        {"etls_pkey_verify", op_verify},
        {"A: fresh EVP_DigestSign ctx", op_fresh_digestsign},
        {"B: SHA-256 + fresh EVP_PKEY_CTX + PKEY_sign", op_fresh_pkeysign},
        {"D: dup EVP_DigestSign template", op_dup_digestsign},
    };
    /* B is not defined for Ed25519 (it signs the message, not a digest); D is what we use. */
    compare(items, scheme == ETLS_SIG_ED25519 ? 3 : 5, &k);
    pthread_t t[16];
    double total = 0;
    int ok = 1;
    for (int i = 0; i < threads; i++)
        ok &= pthread_create(&t[i], NULL, sign_thread, &k) == 0;
    for (int i = 0; i < threads && ok; i++) {
        void *r;
        pthread_join(t[i], &r);
        total += r ? *(double *)r : 0;
        free(r);
    }
    char what[64];
    snprintf(what, sizeof what, "etls_pkey_sign, %d threads sharing the key (sum)", threads);
    print(what, ok ? total : -1);
    EVP_MD_CTX_free(k.mtmpl);
    etls_pkey_free(k.k);
    EVP_PKEY_free(k.ref);
}

typedef struct {
    etls_p256_key_t k;
    uint8_t pub[65], peer[65], out[32];
    EVP_PKEY *mine;
} ecdh_t;

static int op_keygen(void *a)
{
    ecdh_t *e = a;
    return etls_p256_keygen(&e->k, e->pub);
}

static int op_shared(void *a)
{
    ecdh_t *e = a;
    return etls_p256_shared(&e->k, e->peer, e->out);
}

/* What a server pays per P-256 handshake: a fresh key share and one shared secret. */
static int op_handshake(void *a)
{
    ecdh_t *e = a;
    return etls_p256_keygen(&e->k, e->pub) || etls_p256_shared(&e->k, e->peer, e->out) ? -1 : 0;
}

/* The EVP alternative: peer point into an EVP_PKEY via OSSL_PARAM, EVP_PKEY_derive. */
static int op_evp_derive(void *a)
{
    ecdh_t *e = a;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, e->peer, 65),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY *peer = NULL;
    EVP_PKEY_CTX *fc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    int ok = fc && EVP_PKEY_fromdata_init(fc) == 1 &&
             EVP_PKEY_fromdata(fc, &peer, EVP_PKEY_PUBLIC_KEY, params) == 1;
    EVP_PKEY_CTX *dc = ok ? EVP_PKEY_CTX_new_from_pkey(NULL, e->mine, NULL) : NULL;
    size_t len = 32;
    ok = ok && dc && EVP_PKEY_derive_init(dc) == 1 && EVP_PKEY_derive_set_peer(dc, peer) == 1 &&
         EVP_PKEY_derive(dc, e->out, &len) == 1;
    EVP_PKEY_CTX_free(dc);
    EVP_PKEY_free(peer);
    EVP_PKEY_CTX_free(fc);
    return ok ? 0 : -1;
}

static void bench_ecdh(void)
{
    ecdh_t e;
    etls_p256_key_t peer;
    if (etls_p256_keygen(&peer, e.peer) != 0 || etls_p256_keygen(&e.k, e.pub) != 0)
        return;
    e.mine = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    printf("P-256 ECDH\n");
    const item_t items[] = {
        {"etls_p256_keygen", op_keygen},
        {"etls_p256_shared (EC_POINT API)", op_shared},
        {"keygen + shared (one handshake)", op_handshake},
        {"EVP_PKEY_fromdata + EVP_PKEY_derive", op_evp_derive},
    };
    compare(items, 4, &e);
    EVP_PKEY_free(e.mine);
    etls_p256_key_wipe(&e.k);
    etls_p256_key_wipe(&peer);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        seconds = atof(argv[1]);
    int threads = argc > 2 ? atoi(argv[2]) : 2;
    if (seconds <= 0 || threads < 1 || threads > 16) {
        fprintf(stderr, "usage: %s [seconds per item] [threads 1..16]\n", argv[0]);
        return 2;
    }
    memset(msg, 0x20, 64);
    bench_scheme("ec", "ECDSA P-256 / SHA-256", 0x0403, threads);
    bench_scheme("rsa2048", "RSA-PSS-RSAE-SHA256, RSA-2048", 0x0804, threads);
    bench_scheme("ed25519", "Ed25519", 0x0807, threads);
    bench_ecdh();
    return 0;
}
