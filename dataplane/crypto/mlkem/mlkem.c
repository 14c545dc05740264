/* ML-KEM-768 (FIPS 203): K-PKE (Alg. 13-15) and the KEM around it (Alg. 16-21) with the input
 * checks of §7.2 and §7.3. Hash functions: G = SHA3-512, H = SHA3-256, J = SHAKE256 to 32
 * bytes, PRF = SHAKE256 to 128 bytes, XOF = SHAKE128. Several SHAKE instances of one step
 * (matrix entries, noise polynomials) run four at a time when the 4-way Keccak is available. */
#include <pthread.h>
#include <string.h>

#include "common/ct.h"
#include "common/err.h"
#include "crypto/rand.h"
#include "mlkem_internal.h"

#define PKE_DK_BYTES (MLKEM_K * MLKEM_POLY_BYTES)    /* 1152 */
#define PKE_EK_BYTES (PKE_DK_BYTES + 32)             /* 1184 */
#define CT_U_BYTES (MLKEM_K * 32 * MLKEM_DU)         /* 960 */
#define XOF_BLOCKS 3 /* 504 bytes give 256 coefficients with probability ~0.9997 */

typedef struct {
    mlkem_polyvec_t row[MLKEM_K];
} mlkem_matrix_t;

static const etls_keccak4_impl_t *x4_impl;
static const etls_mlkem_poly_impl_t *poly_impl;
static pthread_once_t x4_once = PTHREAD_ONCE_INIT;

static void x4_init(void)
{
    x4_impl = etls_keccak4_avx512_get();
    if (!x4_impl)
        x4_impl = etls_keccak4_avx2_get();
    poly_impl = etls_mlkem_poly_avx2_get();
    if (!poly_impl)
        poly_impl = etls_mlkem_poly_portable_get();
}

const etls_keccak4_impl_t *etls_mlkem_keccak4(void)
{
    pthread_once(&x4_once, x4_init);
    return x4_impl;
}

const etls_mlkem_poly_impl_t *etls_mlkem_poly(void)
{
    pthread_once(&x4_once, x4_init);
    return poly_impl;
}

const char *etls_mlkem_impl_name(void)
{
    const etls_keccak4_impl_t *x4 = etls_mlkem_keccak4();
    return x4 ? x4->name : "portable";
}

/* ---- SHAKE on 33- and 34-byte inputs, one or four at a time ---- */

/* Loads seed (32 bytes) || tail (tail_len bytes, little-endian in `tail`) into lane j of a
 * zeroed 4-way state with SHAKE padding for the given rate. */
static void x4_load(etls_keccak4_t *st, unsigned j, const uint8_t seed[32], uint64_t tail,
                    unsigned tail_len, unsigned rate)
{
    for (unsigned i = 0; i < 4; i++)
        memcpy(&st->s[4 * i + j], seed + 8 * i, 8);
    st->s[16 + j] = tail | (uint64_t)0x1f << (8 * tail_len);
    st->s[4 * (rate / 8 - 1) + j] ^= (uint64_t)0x80 << 56;
}

static void x4_store(const etls_keccak4_t *st, unsigned j, uint8_t *out, size_t len)
{
    for (size_t i = 0; 8 * i < len; i++)
        memcpy(out + 8 * i, &st->s[4 * i + j], 8);
}

/* ---- matrix expansion (Alg. 13 line 3-7 and Alg. 14 line 4-8), public data ---- */

typedef struct {
    int16_t *c;
    uint8_t x, y; /* the two index bytes after rho */
} sample_job_t;

static void sample_one(const sample_job_t *job, const uint8_t rho[32])
{
    uint8_t in[34], buf[XOF_BLOCKS * ETLS_SHAKE128_RATE];
    etls_shake_ctx_t c;
    memcpy(in, rho, 32);
    in[32] = job->x;
    in[33] = job->y;
    etls_shake128_init(&c);
    etls_shake_absorb(&c, in, sizeof in);
    etls_shake_squeeze(&c, buf, sizeof buf);
    unsigned ctr = etls_mlkem_rej_uniform(job->c, 0, buf, sizeof buf);
    while (ctr < MLKEM_N) {
        etls_shake_squeeze(&c, buf, ETLS_SHAKE128_RATE);
        ctr = etls_mlkem_rej_uniform(job->c, ctr, buf, ETLS_SHAKE128_RATE);
    }
}

/* Four entries: XOF_BLOCKS blocks for everyone, then more blocks until the last one is full. */
static void sample_four(const etls_keccak4_impl_t *x4, const sample_job_t *jobs, const uint8_t rho[32])
{
    etls_keccak4_t st;
    uint8_t buf[4][ETLS_SHAKE128_RATE];
    unsigned ctr[4] = {0, 0, 0, 0}, done = 0;
    memset(&st, 0, sizeof st);
    for (unsigned j = 0; j < 4; j++)
        x4_load(&st, j, rho, (uint64_t)jobs[j].x | (uint64_t)jobs[j].y << 8, 2, ETLS_SHAKE128_RATE);
    for (unsigned blk = 0; done < 4; blk++) {
        x4->permute(&st);
        done = 0;
        for (unsigned j = 0; j < 4; j++) {
            x4_store(&st, j, buf[j], ETLS_SHAKE128_RATE);
            ctr[j] = etls_mlkem_rej_uniform(jobs[j].c, ctr[j], buf[j], ETLS_SHAKE128_RATE);
            done += ctr[j] == MLKEM_N;
        }
    }
}

/* Entry (i, j) of A is SampleNTT(rho || j || i); of A^T, SampleNTT(rho || i || j). */
static void gen_matrix(mlkem_matrix_t *a, const uint8_t rho[32], int transposed)
{
    sample_job_t jobs[MLKEM_K * MLKEM_K];
    const etls_keccak4_impl_t *x4 = etls_mlkem_keccak4();
    unsigned n = 0;
    for (unsigned i = 0; i < MLKEM_K; i++)
        for (unsigned j = 0; j < MLKEM_K; j++)
            jobs[n++] = (sample_job_t){a->row[i].p[j].c, (uint8_t)(transposed ? i : j),
                                       (uint8_t)(transposed ? j : i)};
    unsigned k = 0;
    for (; x4 && k + 4 <= n; k += 4)
        sample_four(x4, &jobs[k], rho);
    for (; k < n; k++)
        sample_one(&jobs[k], rho);
}

/* ---- noise (SamplePolyCBD_2(PRF_2(seed, N))), secret ---- */

static void noise_one(mlkem_poly_t *p, const uint8_t seed[32], uint8_t nonce)
{
    uint8_t in[33], buf[MLKEM_CBD_BYTES];
    memcpy(in, seed, 32);
    in[32] = nonce;
    etls_shake256(buf, sizeof buf, in, sizeof in);
    etls_mlkem_poly_cbd2(p, buf);
    etls_wipe(in, sizeof in);
    etls_wipe(buf, sizeof buf);
}

/* Up to four noise polynomials through one 4-way permutation (unused lanes compute garbage). */
static void noise_four(const etls_keccak4_impl_t *x4, mlkem_poly_t *const *p, unsigned n,
                       const uint8_t seed[32], uint8_t nonce)
{
    etls_keccak4_t st;
    uint8_t buf[MLKEM_CBD_BYTES];
    memset(&st, 0, sizeof st);
    for (unsigned j = 0; j < 4; j++)
        x4_load(&st, j, seed, (uint8_t)(nonce + j), 1, ETLS_SHAKE256_RATE);
    x4->permute(&st);
    for (unsigned j = 0; j < n; j++) {
        x4_store(&st, j, buf, sizeof buf);
        etls_mlkem_poly_cbd2(p[j], buf);
    }
    etls_wipe(&st, sizeof st);
    etls_wipe(buf, sizeof buf);
}

/* p[i] = CBD(PRF(seed, nonce + i)) for i < n. A lone leftover goes to the scalar Keccak, which
 * is cheaper than a 4-way permutation with three idle lanes. */
static void gen_noise(mlkem_poly_t *const *p, unsigned n, const uint8_t seed[32], uint8_t nonce)
{
    const etls_keccak4_impl_t *x4 = etls_mlkem_keccak4();
    unsigned i = 0;
    while (x4 && n - i >= 2) {
        unsigned m = n - i < 4 ? n - i : 4;
        noise_four(x4, p + i, m, seed, (uint8_t)(nonce + i));
        i += m;
    }
    for (; i < n; i++)
        noise_one(p[i], seed, (uint8_t)(nonce + i));
}

/* ---- K-PKE ---- */

static void polyvec_ntt(mlkem_polyvec_t *v)
{
    const etls_mlkem_poly_impl_t *P = etls_mlkem_poly();
    for (unsigned i = 0; i < MLKEM_K; i++)
        P->ntt(&v->p[i]);
}

static void polyvec_tobytes(uint8_t *out, mlkem_polyvec_t *v)
{
    for (unsigned i = 0; i < MLKEM_K; i++) {
        etls_mlkem_poly_reduce(&v->p[i]);
        etls_mlkem_poly_tobytes(out + i * MLKEM_POLY_BYTES, &v->p[i]);
    }
}

/* All-ones when every coefficient was < q. */
static uint32_t polyvec_frombytes(mlkem_polyvec_t *v, const uint8_t *in)
{
    uint32_t ok = UINT32_MAX;
    for (unsigned i = 0; i < MLKEM_K; i++)
        ok &= etls_mlkem_poly_frombytes(&v->p[i], in + i * MLKEM_POLY_BYTES);
    return ok;
}

typedef struct {
    mlkem_polyvec_t s, e, t;
    mlkem_matrix_t a;
} keygen_tmp_t;

/* K-PKE.KeyGen (Alg. 13) from the 64 bytes rho || sigma: ek_pke = t || rho, dk_pke = s. */
static void pke_keygen(uint8_t ek[PKE_EK_BYTES], uint8_t dk[PKE_DK_BYTES], const uint8_t rs[64],
                       keygen_tmp_t *w)
{
    const etls_mlkem_poly_impl_t *P = etls_mlkem_poly();
    mlkem_poly_t *np[2 * MLKEM_K] = {&w->s.p[0], &w->s.p[1], &w->s.p[2],
                                     &w->e.p[0], &w->e.p[1], &w->e.p[2]};
    gen_matrix(&w->a, rs, 0);
    gen_noise(np, 2 * MLKEM_K, rs + 32, 0);
    polyvec_ntt(&w->s);
    polyvec_ntt(&w->e);
    for (unsigned i = 0; i < MLKEM_K; i++) {
        P->basemul_acc(&w->t.p[i], &w->a.row[i], &w->s);
        etls_mlkem_poly_tomont(&w->t.p[i]);
        etls_mlkem_poly_add(&w->t.p[i], &w->e.p[i]);
    }
    polyvec_tobytes(ek, &w->t);
    memcpy(ek + PKE_DK_BYTES, rs, 32);
    polyvec_tobytes(dk, &w->s);
}

typedef struct {
    mlkem_polyvec_t t, r, e1, u;
    mlkem_poly_t e2, v, mu;
    mlkem_matrix_t at;
} encrypt_tmp_t;

/* K-PKE.Encrypt (Alg. 14) with t already decoded from ek. */
static void pke_encrypt(uint8_t ct[ETLS_MLKEM768_CT_LEN], const uint8_t rho[32],
                        const uint8_t m[32], const uint8_t coins[32], encrypt_tmp_t *w)
{
    const etls_mlkem_poly_impl_t *P = etls_mlkem_poly();
    mlkem_poly_t *np[2 * MLKEM_K + 1] = {&w->r.p[0],  &w->r.p[1],  &w->r.p[2], &w->e1.p[0],
                                         &w->e1.p[1], &w->e1.p[2], &w->e2};
    gen_matrix(&w->at, rho, 1);
    gen_noise(np, 2 * MLKEM_K + 1, coins, 0);
    polyvec_ntt(&w->r);
    for (unsigned i = 0; i < MLKEM_K; i++) {
        mlkem_poly_t *u = &w->u.p[i];
        P->basemul_acc(u, &w->at.row[i], &w->r);
        P->invntt(u);
        etls_mlkem_poly_add(u, &w->e1.p[i]);
        etls_mlkem_poly_reduce(u);
        etls_mlkem_poly_compress(ct + i * 32 * MLKEM_DU, u, MLKEM_DU);
    }
    P->basemul_acc(&w->v, &w->t, &w->r);
    P->invntt(&w->v);
    etls_mlkem_poly_decompress(&w->mu, m, 1);
    etls_mlkem_poly_add(&w->v, &w->e2);
    etls_mlkem_poly_add(&w->v, &w->mu);
    etls_mlkem_poly_reduce(&w->v);
    etls_mlkem_poly_compress(ct + CT_U_BYTES, &w->v, MLKEM_DV);
}

typedef struct {
    mlkem_polyvec_t s, u;
    mlkem_poly_t v, w;
} decrypt_tmp_t;

/* K-PKE.Decrypt (Alg. 15). */
static void pke_decrypt(uint8_t m[32], const uint8_t dk[PKE_DK_BYTES],
                        const uint8_t ct[ETLS_MLKEM768_CT_LEN], decrypt_tmp_t *w)
{
    const etls_mlkem_poly_impl_t *P = etls_mlkem_poly();
    for (unsigned i = 0; i < MLKEM_K; i++)
        etls_mlkem_poly_decompress(&w->u.p[i], ct + i * 32 * MLKEM_DU, MLKEM_DU);
    polyvec_ntt(&w->u);
    etls_mlkem_poly_decompress(&w->v, ct + CT_U_BYTES, MLKEM_DV);
    (void)polyvec_frombytes(&w->s, dk); /* reduced mod q; dk integrity is the hash check's job */
    P->basemul_acc(&w->w, &w->s, &w->u);
    P->invntt(&w->w);
    etls_mlkem_poly_sub(&w->v, &w->w);
    etls_mlkem_poly_reduce(&w->v);
    etls_mlkem_poly_compress(m, &w->v, 1);
}

/* ---- ML-KEM ---- */

#define DK_EK_OFF PKE_DK_BYTES                     /* 1152: ek inside dk */
#define DK_H_OFF (DK_EK_OFF + PKE_EK_BYTES)        /* 2336: H(ek) */
#define DK_Z_OFF (DK_H_OFF + 32)                   /* 2368: z */

int etls_mlkem768_keygen_seed(uint8_t ek[ETLS_MLKEM768_EK_LEN], uint8_t dk[ETLS_MLKEM768_DK_LEN],
                              const uint8_t *seed, size_t seed_len)
{
    ETLS_ENSURE(seed != NULL && seed_len == ETLS_MLKEM768_SEED_LEN, ETLS_ERR_INVALID);
    uint8_t in[33], rs[64];
    keygen_tmp_t w;
    memcpy(in, seed, 32);
    in[32] = MLKEM_K;
    etls_sha3_512(rs, in, sizeof in);
    /* rho is published in ek; only sigma stays secret (for the constant-time test). */
    etls_ct_declassify(rs, 32);
    pke_keygen(ek, dk, rs, &w);
    memcpy(dk + DK_EK_OFF, ek, ETLS_MLKEM768_EK_LEN);
    etls_sha3_256(dk + DK_H_OFF, ek, ETLS_MLKEM768_EK_LEN);
    memcpy(dk + DK_Z_OFF, seed + 32, 32);
    etls_wipe(in, sizeof in);
    etls_wipe(rs, sizeof rs);
    etls_wipe(&w, sizeof w);
    return 0;
}

int etls_mlkem768_keygen(uint8_t ek[ETLS_MLKEM768_EK_LEN], uint8_t dk[ETLS_MLKEM768_DK_LEN],
                         struct etls_rand *rng)
{
    uint8_t seed[ETLS_MLKEM768_SEED_LEN];
    int rc = etls_rand_bytes(rng, seed, sizeof seed);
    if (rc == 0)
        rc = etls_mlkem768_keygen_seed(ek, dk, seed, sizeof seed);
    if (rc < 0) {
        memset(ek, 0, ETLS_MLKEM768_EK_LEN);
        etls_wipe(dk, ETLS_MLKEM768_DK_LEN);
    }
    etls_wipe(seed, sizeof seed);
    return rc;
}

/* Encaps_internal (Alg. 17) on a decoded ek: (K, r) = G(m || H(ek)), c = Encrypt(ek, m, r). */
static void encaps_core(uint8_t ct[ETLS_MLKEM768_CT_LEN], uint8_t ss[32], const uint8_t *rho,
                        const uint8_t hek[32], const uint8_t m[32], encrypt_tmp_t *w)
{
    uint8_t in[64], kr[64];
    memcpy(in, m, 32);
    memcpy(in + 32, hek, 32);
    etls_sha3_512(kr, in, sizeof in);
    pke_encrypt(ct, rho, m, kr + 32, w);
    memcpy(ss, kr, 32);
    etls_wipe(in, sizeof in);
    etls_wipe(kr, sizeof kr);
}

int etls_mlkem768_encaps_msg(uint8_t ct[ETLS_MLKEM768_CT_LEN], uint8_t ss[ETLS_MLKEM768_SS_LEN],
                             const uint8_t *ek, size_t ek_len, const uint8_t m[ETLS_MLKEM_MSG_LEN])
{
    encrypt_tmp_t w;
    uint8_t hek[32];
    memset(ct, 0, ETLS_MLKEM768_CT_LEN);
    memset(ss, 0, ETLS_MLKEM768_SS_LEN);
    ETLS_ENSURE(ek != NULL && ek_len == ETLS_MLKEM768_EK_LEN, ETLS_ERR_INVALID);
    /* §7.2 modulus check: ek is public, so the verdict may decide a branch. */
    if (polyvec_frombytes(&w.t, ek) != UINT32_MAX)
        return ETLS_ERR_INVALID;
    etls_sha3_256(hek, ek, ETLS_MLKEM768_EK_LEN);
    encaps_core(ct, ss, ek + PKE_DK_BYTES, hek, m, &w);
    etls_wipe(&w, sizeof w);
    return 0;
}

int etls_mlkem768_encaps(uint8_t ct[ETLS_MLKEM768_CT_LEN], uint8_t ss[ETLS_MLKEM768_SS_LEN],
                         const uint8_t *ek, size_t ek_len, struct etls_rand *rng)
{
    uint8_t m[ETLS_MLKEM_MSG_LEN];
    int rc = etls_rand_bytes(rng, m, sizeof m);
    if (rc == 0)
        rc = etls_mlkem768_encaps_msg(ct, ss, ek, ek_len, m);
    if (rc < 0) {
        memset(ct, 0, ETLS_MLKEM768_CT_LEN);
        memset(ss, 0, ETLS_MLKEM768_SS_LEN);
    }
    etls_wipe(m, sizeof m);
    return rc;
}

/* 0xff when a[0..n) != b[0..n), else 0; no branch, and unlike etls_ct_memeq the verdict stays
 * secret (whether a ciphertext was rejected must not leak). */
static uint8_t ct_differ_mask(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint32_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (uint32_t)(a[i] ^ b[i]);
    d = (uint32_t)etls_ct_barrier_u64(d);
    return (uint8_t)(0u - ((d | (0u - d)) >> 31));
}

typedef struct {
    decrypt_tmp_t dec;
    encrypt_tmp_t enc;
    uint8_t m[32], in[64], kr[64], kbar[32], ct2[ETLS_MLKEM768_CT_LEN];
} decaps_tmp_t;

/* Decaps_internal (Alg. 18): m' = Decrypt(dk_pke, c), (K', r') = G(m' || h), c' = Encrypt(ek,
 * m', r'); K' when c' == c, else J(z || c), chosen by mask. */
static void decaps_core(uint8_t ss[32], const uint8_t *dk, const uint8_t *ct, decaps_tmp_t *w)
{
    etls_shake_ctx_t j;
    pke_decrypt(w->m, dk, ct, &w->dec);
    memcpy(w->in, w->m, 32);
    memcpy(w->in + 32, dk + DK_H_OFF, 32);
    etls_sha3_512(w->kr, w->in, sizeof w->in);
    etls_shake256_init(&j);
    etls_shake_absorb(&j, dk + DK_Z_OFF, 32);
    etls_shake_absorb(&j, ct, ETLS_MLKEM768_CT_LEN);
    etls_shake_squeeze(&j, w->kbar, sizeof w->kbar);
    etls_shake_wipe(&j);
    (void)polyvec_frombytes(&w->enc.t, dk + DK_EK_OFF);
    pke_encrypt(w->ct2, dk + DK_EK_OFF + PKE_DK_BYTES, w->m, w->kr + 32, &w->enc);
    memcpy(ss, w->kr, 32);
    etls_ct_cmov(ss, w->kbar, 32, ct_differ_mask(ct, w->ct2, ETLS_MLKEM768_CT_LEN));
}

int etls_mlkem768_decaps(uint8_t ss[ETLS_MLKEM768_SS_LEN], const uint8_t *dk, size_t dk_len,
                         const uint8_t *ct, size_t ct_len)
{
    uint8_t h[32];
    decaps_tmp_t w;
    memset(ss, 0, ETLS_MLKEM768_SS_LEN);
    ETLS_ENSURE(dk != NULL && dk_len == ETLS_MLKEM768_DK_LEN, ETLS_ERR_INVALID);
    ETLS_ENSURE(ct != NULL && ct_len == ETLS_MLKEM768_CT_LEN, ETLS_ERR_INVALID);
    /* §7.3 hash check: ek and h are public parts of dk, so the verdict may be revealed. */
    etls_sha3_256(h, dk + DK_EK_OFF, PKE_EK_BYTES);
    if (!etls_ct_memeq(h, dk + DK_H_OFF, 32))
        return ETLS_ERR_INVALID;
    decaps_core(ss, dk, ct, &w);
    etls_wipe(&w, sizeof w);
    return 0;
}
