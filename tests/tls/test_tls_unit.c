/* Unit tests of the engine's pieces that need no peer: the bounded cursor, the server
 * context's setters and SNI certificate selection, and the memory footprint report. */
#include "harness.h"
#include "test.h"

#include "tls/tls_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_cursor(void)
{
    static const uint8_t b[] = {0x02, 0xaa, 0xbb, 0x00, 0x03, 1, 2};
    etls_cur_t c = etls_cur(b, sizeof b), v;
    uint8_t x;
    uint16_t y;
    uint32_t z;
    CHECK(etls_cur_vec(&c, 1, 1, 2, &v) == 0 && v.left == 2 && v.p == b + 1);
    CHECK(etls_cur_vec(&c, 2, 0, 10, &v) == ETLS_ERR_ALERT(ETLS_ALERT_DECODE_ERROR)); /* 3 > 2 left */
    c = etls_cur(b, sizeof b);
    CHECK(etls_cur_vec(&c, 1, 3, 9, &v) == ETLS_ERR_ALERT(ETLS_ALERT_DECODE_ERROR)); /* below min */
    c = etls_cur(b, sizeof b);
    CHECK(etls_cur_vec(&c, 1, 0, 1, &v) == ETLS_ERR_ALERT(ETLS_ALERT_DECODE_ERROR)); /* above max */
    c = etls_cur(b, 3);
    CHECK(etls_cur_u24(&c, &z) == 0 && z == 0x02aabb && c.left == 0);
    CHECK(etls_cur_u8(&c, &x) != 0 && etls_cur_u16(&c, &y) != 0 && etls_cur_end(&c) == 0);
    c = etls_cur(b, 1);
    CHECK(etls_cur_u16(&c, &y) != 0 && c.left == 1 && etls_cur_end(&c) != 0);
}

static void test_ctx_setters(etls_rand_t *rng)
{
    etls_tls_server_ctx_t ctx;
    CHECK(etls_tls_server_ctx_init(&ctx, rng) == 0);
    CHECK(ctx.n_suites == 3 && ctx.suites[0] == ETLS_TLS_AES_128_GCM_SHA256);
    CHECK(ctx.n_groups == 3 && ctx.groups[0] == ETLS_TLS_GROUP_X25519MLKEM768 &&
          ctx.groups[1] == ETLS_TLS_GROUP_X25519 && ctx.groups[2] == ETLS_TLS_GROUP_SECP256R1);
    const uint16_t bad[] = {0x1301, 0x1301}, unknown[] = {0x1306}, ok[] = {0x1305, 0x1303};
    CHECK(etls_tls_server_ctx_set_suites(&ctx, bad, 2) == ETLS_ERR_INVALID);
    CHECK(etls_tls_server_ctx_set_suites(&ctx, unknown, 1) == ETLS_ERR_INVALID);
    CHECK(etls_tls_server_ctx_set_suites(&ctx, ok, 0) == ETLS_ERR_INVALID);
    CHECK(etls_tls_server_ctx_set_suites(&ctx, ok, 2) == 0 && ctx.suites[0] == 0x1305);
    const uint16_t g[] = {0x0018};
    CHECK(etls_tls_server_ctx_set_groups(&ctx, g, 1) == ETLS_ERR_INVALID);
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    const char *alpn_bad[] = {longname}, *alpn_empty[] = {""}, *alpn_ok[] = {"h2", "http/1.1"};
    CHECK(etls_tls_server_ctx_set_alpn(&ctx, alpn_bad, 1) == ETLS_ERR_INVALID);
    CHECK(etls_tls_server_ctx_set_alpn(&ctx, alpn_empty, 1) == ETLS_ERR_INVALID);
    CHECK(etls_tls_server_ctx_set_alpn(&ctx, alpn_ok, 2) == 0 && ctx.alpn_len == 3 + 9);
    CHECK(strcmp(etls_tls_cipher_name(0x1303), "TLS_CHACHA20_POLY1305_SHA256") == 0);
    CHECK(strcmp(etls_tls_cipher_name(0x1306), "unknown") == 0);
    etls_tls_server_ctx_free(&ctx);
}

static void test_selection(etls_rand_t *rng)
{
    etls_tls_server_ctx_t ctx;
    test_cert_t a, w, d, r;
    CHECK(test_cert_make(&a, KEY_ECDSA, "a.example.com,b.example.com") == 0);
    CHECK(test_cert_make(&w, KEY_ECDSA, "*.example.com") == 0);
    CHECK(test_cert_make(&d, KEY_ED25519, "fallback.test") == 0);
    CHECK(test_cert_make(&r, KEY_RSA, "a.example.com") == 0);
    CHECK(etls_tls_server_ctx_init(&ctx, rng) == 0);
    CHECK(etls_tls_server_ctx_select_cert(&ctx, "x", 1, NULL, 0) == NULL); /* empty context */
    CHECK(test_ctx_add(&ctx, &w, NULL, 0) == 0);
    CHECK(test_ctx_add(&ctx, &a, NULL, 0) == 0);
    CHECK(test_ctx_add(&ctx, &d, NULL, 1) == 0);
    CHECK(test_ctx_add(&ctx, &r, "A.Example.COM\0\0", 0) == 0); /* explicit names, lower-cased */
    const etls_tls_cert_t *cw = ctx.certs[0], *ca = ctx.certs[1], *cd = ctx.certs[2], *cr = ctx.certs[3];
    CHECK(strcmp(cr->names, "a.example.com") == 0);
    const uint16_t ecdsa[] = {ETLS_SIG_ECDSA_SECP256R1_SHA256}, rsa[] = {ETLS_SIG_RSA_PSS_RSAE_SHA256},
                   ed[] = {ETLS_SIG_ED25519}, none[] = {0x0201};
    struct {
        const char *name;
        const uint16_t *schemes;
        const etls_tls_cert_t *want;
    } cases[] = {
        {"a.example.com", NULL, ca},      {"b.example.com", ecdsa, ca},   {"a.example.com", rsa, cr},
        {"zz.example.com", NULL, cw},     {"x.y.example.com", NULL, cd},  {"example.com", NULL, cd},
        {".example.com", NULL, cd},       {"zz.example.com", ed, cd},     {NULL, NULL, cd},
        {"a.example.com", none, NULL},    {"nothing.org", rsa, cr},       {"a.example.co", ecdsa, cw},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *n = cases[i].name;
        const etls_tls_cert_t *got = etls_tls_server_ctx_select_cert(&ctx, n, n ? strlen(n) : 0,
                                                                     cases[i].schemes, cases[i].schemes ? 1 : 0);
        CHECK_MSG(got == cases[i].want, "selection case %zu (%s)", i, n ? n : "none");
    }
    /* Key and certificate must match. */
    test_cert_t other;
    CHECK(test_cert_make(&other, KEY_ECDSA, "m.test") == 0);
    EVP_PKEY *k = other.pkey;
    other.pkey = a.pkey;
    CHECK(test_ctx_add(&ctx, &other, NULL, 0) == ETLS_ERR_INVALID);
    other.pkey = k;
    etls_tls_server_ctx_free(&ctx);
    test_cert_free(&a);
    test_cert_free(&w);
    test_cert_free(&d);
    test_cert_free(&r);
    test_cert_free(&other);
}

/* Tickets: round trip, any flipped bit rejected, rotation (previous key opens, unknown
 * name does not), and the keys are required. */
static void test_tickets(etls_rand_t *rng)
{
    etls_tls_server_ctx_t ctx;
    uint8_t k1[ETLS_TLS_TICKET_KEY_LEN], k2[ETLS_TLS_TICKET_KEY_LEN], tk[ETLS_TLS_TICKET_MAX];
    size_t len = 0;
    CHECK(etls_tls_server_ctx_init(&ctx, rng) == 0);
    CHECK(etls_rand_bytes(rng, k1, sizeof k1) == 0 && etls_rand_bytes(rng, k2, sizeof k2) == 0);
    etls_tls_ticket_t t = {0}, u;
    t.suite = 0x1302;
    t.issued_ms = 123456789;
    t.age_add = 0xdeadbeef;
    memcpy(t.sni_hash, "abcdefgh", 8);
    t.psk_len = 48;
    memset(t.psk, 0x42, 48);
    CHECK(etls_tls_ticket_seal(&ctx, rng, &t, tk, &len) == ETLS_ERR_INVALID); /* no keys */
    CHECK(etls_tls_server_ctx_set_ticket_keys(&ctx, NULL, k1) == ETLS_ERR_INVALID);
    CHECK(etls_tls_server_ctx_set_ticket_keys(&ctx, k1, NULL) == 0);
    CHECK(etls_tls_ticket_seal(&ctx, rng, &t, tk, &len) == 0 && len <= sizeof tk);
    CHECK(etls_tls_ticket_open(&ctx, tk, len, &u) == 0);
    CHECK(u.suite == t.suite && u.issued_ms == t.issued_ms && u.age_add == t.age_add);
    CHECK(u.psk_len == 48 && memcmp(u.psk, t.psk, 48) == 0 && memcmp(u.sni_hash, t.sni_hash, 8) == 0);
    CHECK(memmem(tk, len, t.psk, 8) == NULL); /* the PSK is not in the clear */
    int rejected = 0;
    for (size_t i = 0; i < len; i++) {
        tk[i] ^= 0x10;
        rejected += etls_tls_ticket_open(&ctx, tk, len, &u) != 0;
        tk[i] ^= 0x10;
    }
    CHECK_MSG(rejected == (int)len, "%d of %zu bit flips rejected", rejected, len);
    CHECK(etls_tls_ticket_open(&ctx, tk, len - 1, &u) != 0);
    CHECK(etls_tls_ticket_open(&ctx, tk, 20, &u) != 0);
    CHECK(etls_tls_server_ctx_set_ticket_keys(&ctx, k2, k1) == 0);
    CHECK(etls_tls_ticket_open(&ctx, tk, len, &u) == 0); /* previous key */
    CHECK(etls_tls_server_ctx_set_ticket_keys(&ctx, k2, NULL) == 0);
    CHECK(etls_tls_ticket_open(&ctx, tk, len, &u) != 0);
    etls_tls_server_ctx_free(&ctx);
}

static uint64_t fake_now;
static uint64_t fake_clock(void *arg)
{
    (void)arg;
    return fake_now;
}

/* Rotating keys from a seed: a ticket sealed in period e opens in e and e+1, not in e+2; two
 * contexts with the same seed (two workers, processes or hosts) open each other's tickets,
 * a different seed does not; the advertised lifetime follows the period; bad periods fail. */
static void test_ticket_seed(etls_rand_t *rng)
{
    etls_tls_server_ctx_t a, b, other;
    uint8_t seed[32], seed2[32], tk[ETLS_TLS_TICKET_MAX];
    size_t len = 0;
    CHECK(etls_rand_bytes(rng, seed, sizeof seed) == 0 && etls_rand_bytes(rng, seed2, sizeof seed2) == 0);
    CHECK(etls_tls_server_ctx_init(&a, rng) == 0 && etls_tls_server_ctx_init(&b, rng) == 0 &&
          etls_tls_server_ctx_init(&other, rng) == 0);
    CHECK(etls_tls_server_ctx_set_ticket_seed(&a, seed, 59) == ETLS_ERR_INVALID);
    CHECK(etls_tls_server_ctx_set_ticket_seed(&a, seed, 604801) == ETLS_ERR_INVALID);
    CHECK(etls_tls_server_ctx_set_ticket_seed(&a, seed, 3600) == 0 && a.ticket_lifetime == 3600);
    CHECK(etls_tls_server_ctx_set_ticket_seed(&b, seed, 3600) == 0);
    CHECK(etls_tls_server_ctx_set_ticket_seed(&other, seed2, 3600) == 0);
    a.now_ms = b.now_ms = other.now_ms = fake_clock;
    etls_tls_ticket_t t = {0}, u;
    t.suite = 0x1301;
    t.psk_len = 32;
    memset(t.psk, 0x17, 32);
    const uint64_t period_ms = 3600ull * 1000;
    fake_now = 1000 * period_ms + period_ms - 1; /* the last millisecond of period 1000 */
    CHECK(etls_tls_ticket_seal(&a, rng, &t, tk, &len) == 0);
    CHECK(etls_tls_ticket_open(&a, tk, len, &u) == 0 && u.psk_len == 32 && memcmp(u.psk, t.psk, 32) == 0);
    CHECK(etls_tls_ticket_open(&b, tk, len, &u) == 0);    /* same seed: another worker/host */
    CHECK(etls_tls_ticket_open(&other, tk, len, &u) != 0); /* different seed */
    fake_now = 1001 * period_ms;                           /* next period: previous key */
    CHECK(etls_tls_ticket_open(&b, tk, len, &u) == 0);
    fake_now = 1002 * period_ms - 1;
    CHECK(etls_tls_ticket_open(&a, tk, len, &u) == 0);
    fake_now = 1002 * period_ms; /* two periods on: gone */
    CHECK(etls_tls_ticket_open(&a, tk, len, &u) != 0);
    /* a ticket of the new period differs in its key name (the first 16 bytes) */
    uint8_t tk2[ETLS_TLS_TICKET_MAX];
    size_t len2 = 0;
    CHECK(etls_tls_ticket_seal(&a, rng, &t, tk2, &len2) == 0 && memcmp(tk, tk2, 16) != 0);
    /* fixed keys replace the seed */
    uint8_t k1[ETLS_TLS_TICKET_KEY_LEN];
    CHECK(etls_rand_bytes(rng, k1, sizeof k1) == 0);
    CHECK(etls_tls_server_ctx_set_ticket_keys(&a, k1, NULL) == 0 && a.ticket_rotation_s == 0 && a.n_ticket_keys == 1);
    CHECK(etls_tls_ticket_open(&a, tk2, len2, &u) != 0);
    etls_tls_server_ctx_free(&a);
    etls_tls_server_ctx_free(&b);
    etls_tls_server_ctx_free(&other);
}

/* The footprint the transport pays per connection (reported, and bounded here so growth is
 * noticed). */
static void test_footprint(void)
{
    printf("sizeof(etls_tls_conn_t) = %zu bytes (two AEAD keys %zu); handshake state, pooled: %zu\n",
           sizeof(etls_tls_conn_t), 2 * sizeof(etls_aead_key_t), sizeof(etls_tls_hs_t));
    CHECK(sizeof(etls_tls_conn_t) < 4096);
    /* The pool lends its states first, then mallocs, and takes both back. */
    etls_tls_hs_pool_t *p = etls_tls_hs_pool_new(2);
    etls_tls_env_t env = {0};
    env.hs_pool = p;
    etls_tls_conn_t *c = aligned_alloc(_Alignof(etls_tls_conn_t), 3 * sizeof *c);
    for (int i = 0; i < 3; i++) {
        memset(&c[i], 0, sizeof c[i]);
        c[i].env = &env;
        CHECK(etls_tls_hs_acquire(&c[i]) == 0 && c[i].hs != NULL);
    }
    CHECK(etls_tls_hs_pool_in_use(p) == 3 && c[0].hs != c[1].hs && c[1].hs != c[2].hs);
    for (int i = 0; i < 3; i++) {
        etls_tls_hs_release(&c[i]);
        CHECK(c[i].hs == NULL);
    }
    CHECK(etls_tls_hs_pool_in_use(p) == 0);
    free(c);
    etls_tls_hs_pool_free(p);
}

int main(void)
{
    etls_rand_t rng;
    uint8_t seed[32] = {9};
    etls_rand_init_seeded(&rng, seed);
    test_cursor();
    test_ctx_setters(&rng);
    test_selection(&rng);
    test_tickets(&rng);
    test_ticket_seed(&rng);
    test_footprint();
    return etls_test_summary("tls_unit");
}
