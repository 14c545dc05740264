/* TLS 1.2 (RFC 5246) against OpenSSL's libssl as a TLS 1.2 client in memory: every suite x group
 * x certificate type with and without extended_master_secret, the downgrade sentinel, fallback
 * SCSV, renegotiation, require_ems, the PRF against OpenSSL's TLS1-PRF, and negative cases with
 * exact alerts made by rewriting the client's records on their way to the engine.
 * argv[1] = batch capacity (0 = inline crypto, 1, 16). */
#include "harness.h"
#include "test.h"
#include "tls/tls_internal.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static test_cert_t cert_ec, cert_rsa;
static test_env_t te;

static const struct {
    uint16_t id;
    const char *ossl;
    int ecdsa;
} suites[] = {
    {0xc02b, "ECDHE-ECDSA-AES128-GCM-SHA256", 1}, {0xc02c, "ECDHE-ECDSA-AES256-GCM-SHA384", 1},
    {0xcca9, "ECDHE-ECDSA-CHACHA20-POLY1305", 1}, {0xc02f, "ECDHE-RSA-AES128-GCM-SHA256", 0},
    {0xc030, "ECDHE-RSA-AES256-GCM-SHA384", 0},   {0xcca8, "ECDHE-RSA-CHACHA20-POLY1305", 0},
};

static void ctx_make(etls_tls_server_ctx_t *ctx, const test_cert_t *tc, unsigned protocols)
{
    CHECK(etls_tls_server_ctx_init(ctx, &te.rng) == 0);
    CHECK(etls_tls_server_ctx_set_protocols(ctx, protocols) == 0);
    CHECK(test_ctx_add(ctx, tc, NULL, 1) == 0);
}

static SSL_CTX *client12(const test_cert_t *trust, int max13)
{
    SSL_CTX *c = test_client_ctx(trust);
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(c, max13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    return c;
}

/* Data both ways through the established connection. */
static void exchange(test_pair_t *p, size_t n)
{
    uint8_t *a = malloc(n), *b = malloc(n);
    for (size_t i = 0; i < n; i++) {
        a[i] = (uint8_t)(i * 7 + 1);
        b[i] = (uint8_t)(i * 13 + 5);
    }
    p->got_len = 0;
    CHECK(SSL_write(p->ssl, a, (int)n) == (int)n);
    CHECK(test_pair_server_step(p) == 0);
    CHECK_MSG(p->got_len == n && memcmp(p->got, a, n) == 0, "server got %zu of %zu", p->got_len, n);
    CHECK(test_pair_server_send(p, b, n) == 0);
    uint8_t *got = malloc(n);
    CHECK(test_pair_client_read(p, got, n) == 0 && memcmp(got, b, n) == 0);
    free(a);
    free(b);
    free(got);
}

static void one_handshake(size_t si, const char *group, int ems)
{
    etls_tls_server_ctx_t ctx;
    const test_cert_t *tc = suites[si].ecdsa ? &cert_ec : &cert_rsa;
    ctx_make(&ctx, tc, ETLS_TLS_PROTO_12 | ETLS_TLS_PROTO_13);
    SSL_CTX *cc = client12(tc, 0);
    CHECK(SSL_CTX_set_cipher_list(cc, suites[si].ossl) == 1);
    CHECK(SSL_CTX_set1_groups_list(cc, group) == 1);
    if (!ems)
        SSL_CTX_set_options(cc, SSL_OP_NO_EXTENDED_MASTER_SECRET);
    test_pair_t p;
    test_pair_init(&p, cc, &ctx, &te);
    int rc = test_pair_handshake(&p);
    CHECK_MSG(rc == 0, "%s %s ems=%d: handshake %d (srv %d, alert %d)", suites[si].ossl, group,
              ems, rc, p.srv_rc, p.client_alert);
    if (rc == 0) {
        uint16_t g = strncmp(group, "X25519", 6) == 0 ? ETLS_TLS_GROUP_X25519 : ETLS_TLS_GROUP_SECP256R1;
        CHECK(etls_tls_version(p.conn) == ETLS_TLS_VERSION_12);
        CHECK(SSL_version(p.ssl) == TLS1_2_VERSION);
        CHECK(etls_tls_cipher(p.conn) == suites[si].id);
        CHECK((SSL_CIPHER_get_id(SSL_get_current_cipher(p.ssl)) & 0xffff) == suites[si].id);
        CHECK(etls_tls_group(p.conn) == g);
        CHECK(SSL_get_extms_support(p.ssl) == ems);
        exchange(&p, 40000);
    }
    test_pair_free(&p);
    SSL_CTX_free(cc);
    etls_tls_server_ctx_free(&ctx);
}

static void test_matrix(void)
{
    /* an ECDSA P-256 certificate needs P-256 among the client's groups (RFC 8422 §5.1.1) */
    static const char *const groups[] = {"X25519:P-256", "P-256"};
    for (size_t s = 0; s < sizeof suites / sizeof suites[0]; s++)
        for (int g = 0; g < 2; g++)
            for (int ems = 0; ems < 2; ems++)
                one_handshake(s, groups[g], ems);
}

/* The RSA certificate with each RSA scheme a TLS 1.2 client may insist on. */
static void test_rsa_schemes(void)
{
    static const char *const sigalgs[] = {"rsa_pss_rsae_sha256", "rsa_pss_rsae_sha384",
                                          "RSA+SHA256", "RSA+SHA384"};
    static const uint16_t want[] = {0x0804, 0x0805, 0x0401, 0x0501};
    for (int i = 0; i < 4; i++) {
        etls_tls_server_ctx_t ctx;
        ctx_make(&ctx, &cert_rsa, ETLS_TLS_PROTO_12);
        SSL_CTX *cc = client12(&cert_rsa, 0);
        CHECK(SSL_CTX_set1_sigalgs_list(cc, sigalgs[i]) == 1);
        test_pair_t p;
        test_pair_init(&p, cc, &ctx, &te);
        CHECK_MSG(test_pair_handshake(&p) == 0, "%s", sigalgs[i]);
        CHECK_MSG(etls_tls_sig_scheme(p.conn) == want[i], "%s: scheme %04x", sigalgs[i],
                  etls_tls_sig_scheme(p.conn));
        test_pair_free(&p);
        SSL_CTX_free(cc);
        etls_tls_server_ctx_free(&ctx);
    }
}

/* Runs a handshake expected to fail with our alert `desc`. */
static void expect_alert(SSL_CTX *cc, const etls_tls_server_ctx_t *ctx, int desc, const char *what)
{
    test_pair_t p;
    test_pair_init(&p, cc, ctx, &te);
    CHECK_MSG(test_pair_handshake(&p) != 0, "%s: handshake succeeded", what);
    CHECK_MSG(p.srv_rc == ETLS_ERR_ALERT(desc), "%s: server %d, want alert %d", what, p.srv_rc, desc);
    CHECK_MSG(p.client_alert == desc, "%s: client saw alert %d, want %d", what, p.client_alert, desc);
    test_pair_free(&p);
}

static void test_versions(void)
{
    etls_tls_server_ctx_t only13, both, only12;
    ctx_make(&only13, &cert_ec, ETLS_TLS_PROTO_13);
    ctx_make(&both, &cert_ec, ETLS_TLS_PROTO_12 | ETLS_TLS_PROTO_13);
    ctx_make(&only12, &cert_ec, ETLS_TLS_PROTO_12);
    SSL_CTX *c12 = client12(&cert_ec, 0), *c13 = client12(&cert_ec, 1);
    expect_alert(c12, &only13, ETLS_ALERT_PROTOCOL_VERSION, "1.2 client, 1.3-only server");
    /* A 1.2 client of a 1.3-capable server sees the sentinel; of a 1.2-only one, not. */
    for (int k = 0; k < 3; k++) {
        const etls_tls_server_ctx_t *ctx = k == 0 ? &both : &only12;
        SSL_CTX *cc = k == 2 ? c13 : c12;
        test_pair_t p;
        test_pair_init(&p, cc, ctx, &te);
        CHECK(test_pair_handshake(&p) == 0);
        uint8_t sr[32];
        CHECK(SSL_get_server_random(p.ssl, sr, 32) == 32);
        int sentinel = memcmp(sr + 24, "DOWNGRD\x01", 8) == 0;
        CHECK_MSG(sentinel == (k == 0), "case %d: sentinel %d", k, sentinel);
        CHECK(SSL_version(p.ssl) == TLS1_2_VERSION);
        test_pair_free(&p);
    }
    /* RFC 7507: a fallback retry at 1.2 to a server that does 1.3. */
    SSL_CTX *fb = client12(&cert_ec, 0);
    SSL_CTX_set_mode(fb, SSL_MODE_SEND_FALLBACK_SCSV);
    expect_alert(fb, &both, ETLS_ALERT_INAPPROPRIATE_FALLBACK, "fallback SCSV");
    test_pair_t p; /* ... but a 1.2-only server has nothing better: fine */
    test_pair_init(&p, fb, &only12, &te);
    CHECK(test_pair_handshake(&p) == 0);
    test_pair_free(&p);
    /* require_ems */
    both.tls12_require_ems = 1;
    SSL_CTX *noems = client12(&cert_ec, 0);
    SSL_CTX_set_options(noems, SSL_OP_NO_EXTENDED_MASTER_SECRET);
    expect_alert(noems, &both, ETLS_ALERT_HANDSHAKE_FAILURE, "require_ems");
    test_pair_init(&p, c12, &both, &te);
    CHECK(test_pair_handshake(&p) == 0 && SSL_get_extms_support(p.ssl) == 1);
    test_pair_free(&p);
    /* the TLS 1.3 path is unchanged for 1.3 clients */
    test_pair_init(&p, c13, &both, &te);
    CHECK(test_pair_handshake(&p) == 0 && etls_tls_version(p.conn) == ETLS_TLS_VERSION_13);
    test_pair_free(&p);
    SSL_CTX_free(c12);
    SSL_CTX_free(c13);
    SSL_CTX_free(fb);
    SSL_CTX_free(noems);
    etls_tls_server_ctx_free(&only13);
    etls_tls_server_ctx_free(&both);
    etls_tls_server_ctx_free(&only12);
}

/* ---- the downgrade sentinel seen by a TLS 1.3 client whose supported_versions an attacker
 * removed: it must abort (RFC 8446 §4.1.3). ---------------------------------------------------- */

/* Offset of extension `type` in a ClientHello record, or 0. */
static size_t find_ext(const uint8_t *r, size_t n, uint16_t type)
{
    size_t o = 5 + 4 + 2 + 32;
    o += 1 + r[o];
    o += 2 + (size_t)(r[o] << 8 | r[o + 1]);
    o += 1 + r[o];
    size_t end = o + 2 + (size_t)(r[o] << 8 | r[o + 1]);
    for (o += 2; o + 4 <= end && end <= n;) {
        if ((r[o] << 8 | r[o + 1]) == type)
            return o;
        o += 4 + (size_t)(r[o + 2] << 8 | r[o + 3]);
    }
    return 0;
}

/* Client output so far, whole. */
static size_t take_client(test_pair_t *p, uint8_t *buf, size_t cap)
{
    int n = BIO_read(p->c_wbio, buf, (int)cap);
    return n > 0 ? (size_t)n : 0;
}

static void put_client(test_pair_t *p, const uint8_t *buf, size_t n)
{
    BIO_write(p->c_wbio, buf, (int)n);
}

static void test_downgrade_attack(void)
{
    etls_tls_server_ctx_t both;
    ctx_make(&both, &cert_ec, ETLS_TLS_PROTO_12 | ETLS_TLS_PROTO_13);
    SSL_CTX *c13 = client12(&cert_ec, 1);
    test_pair_t p;
    test_pair_init(&p, c13, &both, &te);
    static uint8_t buf[65536];
    CHECK(SSL_do_handshake(p.ssl) <= 0);
    size_t n = take_client(&p, buf, sizeof buf);
    size_t at = find_ext(buf, n, EXT_SUPPORTED_VERSIONS);
    CHECK(n > 0 && at > 0);
    buf[at] = 0xfa; /* now an unknown extension: the server sees a TLS 1.2 ClientHello */
    buf[at + 1] = 0xfa;
    put_client(&p, buf, n);
    CHECK(test_pair_server_step(&p) == 0);
    CHECK(etls_tls_version(p.conn) == ETLS_TLS_VERSION_12);
    CHECK(SSL_do_handshake(p.ssl) <= 0);
    unsigned long e = ERR_peek_last_error();
    CHECK_MSG(ERR_GET_REASON(e) == SSL_R_INAPPROPRIATE_FALLBACK, "client error %lu", e);
    ERR_clear_error();
    CHECK(test_pair_server_step(&p) == ETLS_TLS_ERR_PEER_ALERT(ETLS_ALERT_ILLEGAL_PARAMETER));
    test_pair_free(&p);
    SSL_CTX_free(c13);
    etls_tls_server_ctx_free(&both);
}

/* ---- renegotiation --------------------------------------------------------------------------- */

static void test_renegotiation(void)
{
    etls_tls_server_ctx_t ctx;
    ctx_make(&ctx, &cert_ec, ETLS_TLS_PROTO_12);
    SSL_CTX *cc = client12(&cert_ec, 0);
    test_pair_t p;
    test_pair_init(&p, cc, &ctx, &te);
    CHECK(test_pair_handshake(&p) == 0);
    CHECK(SSL_get_secure_renegotiation_support(p.ssl) == 1); /* RFC 5746 extension echoed */
    CHECK(SSL_renegotiate(p.ssl) == 1);
    SSL_do_handshake(p.ssl); /* sends the ClientHello */
    CHECK(test_pair_server_step(&p) == 0);
    CHECK(etls_tls_handshake_done(p.conn)); /* no new handshake on our side */
    /* exactly one protected alert record went out (AES-128-GCM: 5 + 8 + 2 + 16 bytes) */
    CHECK_MSG(BIO_ctrl_pending(p.c_rbio) == 31, "server sent %zu bytes", (size_t)BIO_ctrl_pending(p.c_rbio));
    CHECK(SSL_do_handshake(p.ssl) <= 0);
    CHECK(ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_NO_RENEGOTIATION);
    ERR_clear_error();
    test_pair_free(&p);
    SSL_CTX_free(cc);
    etls_tls_server_ctx_free(&ctx);
}

/* ---- negative cases: the client's second flight rewritten ------------------------------------ */

typedef void (*mutate_fn)(uint8_t *buf, size_t *n);

/* Offsets of the records in buf. */
static size_t records(const uint8_t *buf, size_t n, size_t *at, size_t max)
{
    size_t k = 0;
    for (size_t o = 0; o + 5 <= n && k < max; o += 5 + (size_t)(buf[o + 3] << 8 | buf[o + 4]))
        at[k++] = o;
    return k;
}

/* Full handshake up to the client's ClientKeyExchange/CCS/Finished, which `mutate` rewrites
 * (buf holds exactly those records); the server must then send `desc`. mutate_ch may rewrite
 * the ClientHello first. */
static void second_flight(const char *what, const char *group, int ems, mutate_fn mutate_ch,
                          mutate_fn mutate, int desc)
{
    etls_tls_server_ctx_t ctx;
    ctx_make(&ctx, &cert_ec, ETLS_TLS_PROTO_12);
    SSL_CTX *cc = client12(NULL, 0);
    CHECK(SSL_CTX_set1_groups_list(cc, strcmp(group, "X25519") == 0 ? "X25519:P-256" : group) == 1);
    if (!ems)
        SSL_CTX_set_options(cc, SSL_OP_NO_EXTENDED_MASTER_SECRET);
    test_pair_t p;
    test_pair_init(&p, cc, &ctx, &te);
    static uint8_t buf[65536];
    int x = strcmp(group, "X25519") == 0;
    SSL_do_handshake(p.ssl);
    size_t n = take_client(&p, buf, sizeof buf - 64);
    if (mutate_ch)
        mutate_ch(buf, &n);
    put_client(&p, buf, n);
    CHECK_MSG(test_pair_server_step(&p) == 0, "%s: ClientHello refused (%d)", what, p.srv_rc);
    CHECK(etls_tls_group(p.conn) == (x ? ETLS_TLS_GROUP_X25519 : ETLS_TLS_GROUP_SECP256R1));
    SSL_do_handshake(p.ssl);
    n = take_client(&p, buf, sizeof buf - 64);
    CHECK(n > 0);
    mutate(buf, &n);
    put_client(&p, buf, n);
    test_pair_server_step(&p);
    CHECK_MSG(p.srv_rc == ETLS_ERR_ALERT(desc) && etls_tls_alert_sent(p.conn) == desc,
              "%s: server %d (alert %d), want alert %d", what, p.srv_rc, etls_tls_alert_sent(p.conn), desc);
    ERR_clear_error();
    test_pair_free(&p);
    SSL_CTX_free(cc);
    etls_tls_server_ctx_free(&ctx);
}

/* The ClientKeyExchange record is the first; its point starts at 5 + 4 + 1. */
static void cke_short_point(uint8_t *b, size_t *n)
{
    /* drop the point's last byte: lengths made consistent, so the size itself is wrong */
    size_t len = (size_t)(b[3] << 8 | b[4]);
    memmove(b + 5 + len - 1, b + 5 + len, *n - (5 + len));
    *n -= 1;
    put_u16(b + 3, (uint16_t)(len - 1));
    b[8] = (uint8_t)(b[8] - 1);
    b[9] = (uint8_t)(b[9] - 1);
}

static void cke_bad_vector(uint8_t *b, size_t *n)
{
    (void)n;
    b[9] = (uint8_t)(b[9] + 1); /* vector longer than the message */
}

static void cke_off_curve(uint8_t *b, size_t *n)
{
    (void)n;
    b[5 + 4 + 1 + 64] ^= 1; /* last byte of Y */
}

static void cke_zero(uint8_t *b, size_t *n)
{
    (void)n;
    memset(b + 5 + 4 + 1, 0, 32); /* u = 0: the all-zero shared secret */
}

static void cke_compressed(uint8_t *b, size_t *n)
{
    (void)n;
    b[5 + 4 + 1] = 2;
}

static void cke_version(uint8_t *b, size_t *n)
{
    (void)n;
    b[2] = 1; /* record version 0x0301 */
}

static void ccs_first(uint8_t *b, size_t *n)
{
    size_t at[8];
    size_t k = records(b, *n, at, 8);
    if (k < 3)
        return;
    uint8_t tmp[128];
    size_t l0 = at[1];
    memcpy(tmp, b, l0); /* CKE */
    memmove(b, b + at[1], 6); /* CCS first */
    memcpy(b + 6, tmp, l0);
}

static void ccs_twice(uint8_t *b, size_t *n)
{
    size_t at[8];
    size_t k = records(b, *n, at, 8);
    if (k < 3)
        return;
    memmove(b + at[2] + 6, b + at[2], *n - at[2]);
    memcpy(b + at[2], b + at[1], 6);
    *n += 6;
}

static void ccs_bad_byte(uint8_t *b, size_t *n)
{
    size_t at[8];
    if (records(b, *n, at, 8) >= 2)
        b[at[1] + 5] = 2;
}

static void fin_flip(uint8_t *b, size_t *n)
{
    size_t at[8];
    size_t k = records(b, *n, at, 8);
    if (k >= 3)
        b[*n - 1] ^= 0x80; /* Finished ciphertext: the record does not open */
}

/* Finished as the first message, plaintext: not what ServerHelloDone is answered with. */
static void fin_instead_of_cke(uint8_t *b, size_t *n)
{
    static const uint8_t rec[] = {22, 3, 3, 0, 16, 20, 0, 0, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    memcpy(b, rec, sizeof rec);
    *n = sizeof rec;
}

static void data_before_ccs(uint8_t *b, size_t *n)
{
    static const uint8_t rec[] = {23, 3, 3, 0, 3, 'a', 'b', 'c'};
    memmove(b + sizeof rec, b, *n);
    memcpy(b, rec, sizeof rec);
    *n += sizeof rec;
}

/* A cipher suite the server never picks, renamed in the ClientHello: the transcripts differ, so
 * (without EMS, whose keys would differ too) the client's Finished decrypts and is wrong. */
static void ch_other_suite(uint8_t *b, size_t *n)
{
    (void)n;
    size_t o = 5 + 4 + 2 + 32;
    o += 1 + b[o];
    size_t len = (size_t)(b[o] << 8 | b[o + 1]);
    for (size_t i = o + 2; i < o + 2 + len; i += 2) {
        if (b[i] == 0x00 && b[i + 1] == 0x9f) { /* DHE-RSA-AES256-GCM-SHA384 */
            b[i + 1] = 0x9e;
            return;
        }
    }
    b[o + 2 + len - 1] ^= 1; /* else the last one (the SCSV when sent) */
}

static void nothing(uint8_t *b, size_t *n)
{
    (void)b;
    (void)n;
}

static void test_negative(void)
{
    second_flight("CKE point 31 bytes", "X25519", 1, NULL, cke_short_point, ETLS_ALERT_ILLEGAL_PARAMETER);
    second_flight("CKE point 64 bytes", "P-256", 1, NULL, cke_short_point, ETLS_ALERT_ILLEGAL_PARAMETER);
    second_flight("CKE vector overruns", "X25519", 1, NULL, cke_bad_vector, ETLS_ALERT_DECODE_ERROR);
    second_flight("CKE point off the curve", "P-256", 1, NULL, cke_off_curve, ETLS_ALERT_ILLEGAL_PARAMETER);
    second_flight("CKE compressed point", "P-256", 1, NULL, cke_compressed, ETLS_ALERT_ILLEGAL_PARAMETER);
    second_flight("CKE x25519 zero secret", "X25519", 1, NULL, cke_zero, ETLS_ALERT_ILLEGAL_PARAMETER);
    second_flight("record version 0x0301", "X25519", 1, NULL, cke_version, ETLS_ALERT_PROTOCOL_VERSION);
    second_flight("CCS before CKE", "X25519", 1, NULL, ccs_first, ETLS_ALERT_UNEXPECTED_MESSAGE);
    /* once the client's keys are on, a plaintext CCS is just a record that does not open */
    second_flight("CCS twice", "X25519", 1, NULL, ccs_twice, ETLS_ALERT_BAD_RECORD_MAC);
    second_flight("CCS byte 2", "X25519", 1, NULL, ccs_bad_byte, ETLS_ALERT_UNEXPECTED_MESSAGE);
    second_flight("Finished tampered", "X25519", 1, NULL, fin_flip, ETLS_ALERT_BAD_RECORD_MAC);
    second_flight("Finished instead of CKE", "X25519", 1, NULL, fin_instead_of_cke, ETLS_ALERT_UNEXPECTED_MESSAGE);
    second_flight("data before CCS", "X25519", 1, NULL, data_before_ccs, ETLS_ALERT_UNEXPECTED_MESSAGE);
    second_flight("wrong verify_data", "P-256", 0, ch_other_suite, nothing, ETLS_ALERT_DECRYPT_ERROR);
}

/* ---- the legacy RSA key exchange (tls12_rsa_kx) ------------------------------------------------ */

static void ctx_rsa_kx(etls_tls_server_ctx_t *ctx, int on)
{
    ctx_make(ctx, &cert_rsa, ETLS_TLS_PROTO_12 | ETLS_TLS_PROTO_13);
    ctx->tls12_rsa_kx = (uint8_t)on;
}

/* Both suites, with and without EMS; the server's own preference (ECDHE first) when the
 * client offers both kinds; RSA when the client has no group in common. */
static void test_rsa_kx(void)
{
    static const struct {
        const char *ciphers, *groups;
        uint16_t want;
    } cases[] = {
        {"AES128-GCM-SHA256", NULL, ETLS_TLS_RSA_AES_128_GCM_SHA256},
        {"AES256-GCM-SHA384", NULL, ETLS_TLS_RSA_AES_256_GCM_SHA384},
        {"AES128-GCM-SHA256:AES256-GCM-SHA384", NULL, ETLS_TLS_RSA_AES_128_GCM_SHA256},
        {"AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384", NULL, ETLS_TLS_ECDHE_RSA_AES_256_GCM_SHA384},
        {"AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384", "P-384", ETLS_TLS_RSA_AES_256_GCM_SHA384},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int ems = 0; ems < 2; ems++) {
            etls_tls_server_ctx_t ctx;
            ctx_rsa_kx(&ctx, 1);
            SSL_CTX *cc = client12(&cert_rsa, 0);
            CHECK(SSL_CTX_set_cipher_list(cc, cases[i].ciphers) == 1);
            if (cases[i].groups)
                CHECK(SSL_CTX_set1_groups_list(cc, cases[i].groups) == 1);
            if (!ems)
                SSL_CTX_set_options(cc, SSL_OP_NO_EXTENDED_MASTER_SECRET);
            test_pair_t p;
            test_pair_init(&p, cc, &ctx, &te);
            int rc = test_pair_handshake(&p);
            CHECK_MSG(rc == 0, "%s/%s ems=%d: handshake %d (srv %d, alert %d)", cases[i].ciphers,
                      cases[i].groups ? cases[i].groups : "-", ems, rc, p.srv_rc, p.client_alert);
            if (rc == 0) {
                CHECK_MSG(etls_tls_cipher(p.conn) == cases[i].want, "%s: suite %04x", cases[i].ciphers,
                          etls_tls_cipher(p.conn));
                CHECK((SSL_CIPHER_get_id(SSL_get_current_cipher(p.ssl)) & 0xffff) == cases[i].want);
                CHECK(etls_tls_group(p.conn) == (etls_tls_suite_is_rsa_kx(cases[i].want) ? 0 : ETLS_TLS_GROUP_X25519));
                CHECK(SSL_get_extms_support(p.ssl) == ems);
                exchange(&p, 20000);
            }
            test_pair_free(&p);
            SSL_CTX_free(cc);
            etls_tls_server_ctx_free(&ctx);
        }
    }
    /* off (the default), even when the suite list names them: never negotiated */
    for (int listed = 0; listed < 2; listed++) {
        etls_tls_server_ctx_t ctx;
        ctx_rsa_kx(&ctx, 0);
        static const uint16_t s12[] = {ETLS_TLS_RSA_AES_128_GCM_SHA256, ETLS_TLS_ECDHE_RSA_AES_128_GCM_SHA256};
        if (listed)
            CHECK(etls_tls_server_ctx_set_suites12(&ctx, s12, 2) == 0);
        SSL_CTX *cc = client12(&cert_rsa, 0);
        CHECK(SSL_CTX_set_cipher_list(cc, "AES128-GCM-SHA256:AES256-GCM-SHA384") == 1);
        expect_alert(cc, &ctx, ETLS_ALERT_HANDSHAKE_FAILURE, "rsa_kx off");
        SSL_CTX_free(cc);
        etls_tls_server_ctx_free(&ctx);
    }
    if (te.env.batch) { /* the decryptions parked in the batch's RSA queue */
        etls_batch_stats_t st;
        etls_batch_get_stats(te.env.batch, &st);
        CHECK(st.rsa_ops >= 8);
    }
    /* on, but only an ECDSA certificate: nothing to decrypt with */
    etls_tls_server_ctx_t ctx;
    ctx_make(&ctx, &cert_ec, ETLS_TLS_PROTO_12);
    ctx.tls12_rsa_kx = 1;
    SSL_CTX *cc = client12(&cert_ec, 0);
    CHECK(SSL_CTX_set_cipher_list(cc, "AES128-GCM-SHA256") == 1);
    expect_alert(cc, &ctx, ETLS_ALERT_HANDSHAKE_FAILURE, "rsa_kx with an ECDSA certificate");
    SSL_CTX_free(cc);
    etls_tls_server_ctx_free(&ctx);
}

/* Raw RSA with the test certificate's key, both ways. */
static void rsa_raw(int enc, const uint8_t *in, uint8_t *out, size_t k)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, cert_rsa.pkey, NULL);
    size_t n = k;
    CHECK(pc && (enc ? EVP_PKEY_encrypt_init(pc) : EVP_PKEY_decrypt_init(pc)) == 1);
    CHECK(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_NO_PADDING) == 1);
    CHECK((enc ? EVP_PKEY_encrypt(pc, out, &n, in, k) : EVP_PKEY_decrypt(pc, out, &n, in, k)) == 1 && n == k);
    EVP_PKEY_CTX_free(pc);
}

/* Re-encodings of the client's own premaster M (decrypted with the server key). Every one is
 * answered exactly as a valid one is: nothing after ClientKeyExchange and change_cipher_spec,
 * and the failure comes only with the client's Finished (the rewritten ClientKeyExchange is in
 * our transcript, not the client's). Without EMS the keys come from the premaster and the
 * randoms alone, which tells which premaster we took: a fresh valid padding gives the client's
 * M, so its Finished opens and its verify_data is wrong (decrypt_error); a damaged one gives R,
 * so the Finished does not open (bad_record_mac; RFC 5246 §7.4.7.1, §7.2.2, as OpenSSL). With
 * EMS the session hash differs too: bad_record_mac for all. */
enum { RE_VALID, RE_LEAD, RE_TYPE1, RE_PS_ZERO, RE_SEP, RE_SHORT_M, RE_VMAJOR, RE_VMINOR, RE_PS7,
       RE_NOISE, RE_COUNT };
static const char *const re_names[RE_COUNT] = {
    "fresh valid padding", "first byte 1", "block type 1", "zero inside PS", "no separator",
    "47-byte M", "client_version 0x0203", "client_version 0x0300", "PS 7 bytes", "noise below n"};

static void reencode(uint8_t *em, size_t k, int kind, uint32_t salt)
{
    for (size_t i = 2; i < k - 49; i++)
        em[i] = (uint8_t)(1 + (i * 131 + salt) % 255);
    switch (kind) {
    case RE_LEAD: em[0] = 1; break;
    case RE_TYPE1: em[1] = 1; break;
    case RE_PS_ZERO: em[2 + salt % (k - 51)] = 0; break;
    case RE_SEP: em[k - 49] = 7; break;
    case RE_SHORT_M: em[k - 49] = 7; em[k - 48] = 0; break;
    case RE_VMAJOR: em[k - 48] = 2; break;
    case RE_VMINOR: em[k - 47] = 0; break;
    case RE_PS7: em[9] = 0; break;
    case RE_NOISE:
        for (size_t i = 1; i < k; i++)
            em[i] = (uint8_t)(i * 7 + salt);
        break;
    default: break;
    }
}

static void rsa_padding_case(int kind, int ems)
{
    etls_tls_server_ctx_t ctx;
    ctx_rsa_kx(&ctx, 1);
    SSL_CTX *cc = client12(&cert_rsa, 0);
    if (!ems)
        SSL_CTX_set_options(cc, SSL_OP_NO_EXTENDED_MASTER_SECRET);
    CHECK(SSL_CTX_set_cipher_list(cc, kind % 2 ? "AES256-GCM-SHA384" : "AES128-GCM-SHA256") == 1);
    test_pair_t p;
    test_pair_init(&p, cc, &ctx, &te);
    static uint8_t buf[65536];
    SSL_do_handshake(p.ssl);
    put_client(&p, buf, take_client(&p, buf, sizeof buf));
    CHECK(test_pair_server_step(&p) == 0);
    SSL_do_handshake(p.ssl);
    size_t n = take_client(&p, buf, sizeof buf), at[8];
    CHECK(records(buf, n, at, 8) == 3 && buf[5] == HT_CLIENT_KEY_EXCHANGE);
    size_t k = 256;
    uint8_t *c = buf + 5 + 4 + 2, em[256];
    CHECK((buf[9] << 8 | buf[10]) == (int)k);
    rsa_raw(0, c, em, k);
    CHECK(em[0] == 0 && em[1] == 2 && em[k - 49] == 0 && em[k - 48] == 3 && em[k - 47] == 3);
    reencode(em, k, kind, (uint32_t)(kind * 977 + ems));
    rsa_raw(1, em, c, k);
    put_client(&p, buf, at[2]); /* ClientKeyExchange and change_cipher_spec */
    CHECK_MSG(test_pair_server_step(&p) == 0 && BIO_ctrl_pending(p.c_rbio) == 0,
              "%s: answered before Finished (srv %d)", re_names[kind], p.srv_rc);
    put_client(&p, buf + at[2], n - at[2]);
    test_pair_server_step(&p);
    int want = kind == RE_VALID && !ems ? ETLS_ALERT_DECRYPT_ERROR : ETLS_ALERT_BAD_RECORD_MAC;
    CHECK_MSG(p.srv_rc == ETLS_ERR_ALERT(want) &&
                  BIO_ctrl_pending(p.c_rbio) == 7, /* one plaintext alert record, nothing else */
              "%s ems=%d: server %d, %zu bytes, want alert %d", re_names[kind], ems, p.srv_rc,
              (size_t)BIO_ctrl_pending(p.c_rbio), want);
    ERR_clear_error();
    test_pair_free(&p);
    SSL_CTX_free(cc);
    etls_tls_server_ctx_free(&ctx);
}

static void test_rsa_kx_negative(void)
{
    for (int kind = 0; kind < RE_COUNT; kind++)
        for (int ems = 0; ems < 2; ems++)
            rsa_padding_case(kind, ems);
    /* publicly malformed ClientKeyExchanges: test_tls12_negative */
}

/* ---- PRF against OpenSSL's TLS1-PRF -------------------------------------------------------- */

static int ossl_prf(const char *md, const uint8_t *sec, size_t sl, const char *label,
                    const uint8_t *seed, size_t seedl, uint8_t *out, size_t outl)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
    EVP_KDF_CTX *kc = EVP_KDF_CTX_new(kdf);
    uint8_t full[512];
    size_t ll = strlen(label);
    memcpy(full, label, ll);
    memcpy(full + ll, seed, seedl);
    OSSL_PARAM ps[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, (void *)sec, sl),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, full, ll + seedl),
        OSSL_PARAM_construct_end(),
    };
    int ok = kc && EVP_KDF_derive(kc, out, outl, ps) == 1;
    EVP_KDF_CTX_free(kc);
    EVP_KDF_free(kdf);
    return ok ? 0 : -1;
}

static void test_prf(void)
{
    etls_test_rng_t r;
    etls_test_rng_seed(&r, 12);
    for (int i = 0; i < 200; i++) {
        uint8_t sec[100], s1[64], s2[64], a[300], b[300];
        size_t sl = 1 + etls_test_rng_next(&r) % 100, l1 = etls_test_rng_next(&r) % 64;
        size_t l2 = etls_test_rng_next(&r) % 64, ol = 1 + etls_test_rng_next(&r) % 300;
        etls_hash_alg_t h = i % 2 ? ETLS_HASH_SHA384 : ETLS_HASH_SHA256;
        const char *label = i % 3 ? "key expansion" : "extended master secret";
        etls_test_rng_bytes(&r, sec, sl);
        etls_test_rng_bytes(&r, s1, sizeof s1);
        etls_test_rng_bytes(&r, s2, sizeof s2);
        uint8_t seed[128];
        memcpy(seed, s1, l1);
        memcpy(seed + l1, s2, l2);
        CHECK(etls_tls12_prf(h, sec, sl, label, s1, l1, s2, l2, a, ol) == 0);
        CHECK(ossl_prf(i % 2 ? "SHA384" : "SHA256", sec, sl, label, seed, l1 + l2, b, ol) == 0);
        CHECK_MSG(memcmp(a, b, ol) == 0, "PRF case %d (out %zu)", i, ol);
    }
    uint8_t out[8];
    CHECK(etls_tls12_prf(ETLS_HASH_SHA256, out, 8, "x", out, 0, out, 0, NULL, 32 * 256) == ETLS_ERR_INVALID);
}

/* ---- session tickets (RFC 5077) ----------------------------------------------------------- */

static const uint8_t tkey[ETLS_TLS_TICKET_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

/* A full handshake, then one offering its session: resumed (or not) as `want`. */
static void resume_cert(const char *what, const test_cert_t *tc, const char *cipher, int ems1,
                        int ems2, int want)
{
    etls_tls_server_ctx_t ctx;
    ctx_make(&ctx, tc, ETLS_TLS_PROTO_12 | ETLS_TLS_PROTO_13);
    ctx.tls12_rsa_kx = tc == &cert_rsa;
    CHECK(etls_tls_server_ctx_set_ticket_keys(&ctx, tkey, NULL) == 0);
    SSL_CTX *cc = client12(tc, 0);
    SSL_CTX_set_session_cache_mode(cc, SSL_SESS_CACHE_CLIENT);
    if (cipher)
        CHECK(SSL_CTX_set_cipher_list(cc, cipher) == 1);
    test_pair_t p;
    test_pair_init(&p, cc, &ctx, &te);
    if (!ems1)
        SSL_set_options(p.ssl, SSL_OP_NO_EXTENDED_MASTER_SECRET);
    CHECK(test_pair_handshake(&p) == 0 && !etls_tls_resumed(p.conn));
    exchange(&p, 100); /* the client reads the NewSessionTicket on the way */
    SSL_SESSION *sess = SSL_get1_session(p.ssl);
    CHECK(sess != NULL);
    CHECK_MSG(SSL_SESSION_has_ticket(sess) == ems1, "%s: ticket issued %d", what,
              SSL_SESSION_has_ticket(sess));
    SSL_set_shutdown(p.ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN); /* keeps it resumable */
    test_pair_free(&p);
    test_pair_init(&p, cc, &ctx, &te);
    if (!ems2)
        SSL_set_options(p.ssl, SSL_OP_NO_EXTENDED_MASTER_SECRET);
    CHECK(SSL_set_session(p.ssl, sess) == 1);
    CHECK_MSG(test_pair_handshake(&p) == 0, "%s: second handshake (srv %d)", what, p.srv_rc);
    CHECK_MSG(SSL_session_reused(p.ssl) == want && etls_tls_resumed(p.conn) == want,
              "%s: reused %d/%d, want %d", what, SSL_session_reused(p.ssl), etls_tls_resumed(p.conn), want);
    CHECK(etls_tls_version(p.conn) == ETLS_TLS_VERSION_12);
    CHECK(!ctx.tls12_rsa_kx || etls_tls_suite_is_rsa_kx(etls_tls_cipher(p.conn)));
    exchange(&p, 3000);
    test_pair_free(&p);
    SSL_SESSION_free(sess);
    SSL_CTX_free(cc);
    etls_tls_server_ctx_free(&ctx);
}

static void resume_case(const char *what, const char *cipher, int ems1, int ems2, int want)
{
    resume_cert(what, &cert_ec, cipher, ems1, ems2, want);
}

static void test_tickets(void)
{
    resume_cert("RSA key exchange", &cert_rsa, "AES256-GCM-SHA384", 1, 1, 1);
    resume_case("ems", NULL, 1, 1, 1);
    resume_case("aes256", "ECDHE-ECDSA-AES256-GCM-SHA384", 1, 1, 1);
    resume_case("chacha", "ECDHE-ECDSA-CHACHA20-POLY1305", 1, 1, 1);
    resume_case("no ems: no ticket", NULL, 0, 0, 0);
    resume_case("ems dropped on resumption", NULL, 1, 0, 0);
    /* the ticket format keeps the version apart (a TLS 1.3 handshake checks it, ticket.c) */
    etls_tls_server_ctx_t ctx;
    CHECK(etls_tls_server_ctx_init(&ctx, &te.rng) == 0);
    CHECK(etls_tls_server_ctx_set_ticket_keys(&ctx, tkey, NULL) == 0);
    for (int v = 0; v < 2; v++) {
        etls_tls_ticket_t t, u;
        memset(&t, 0, sizeof t);
        t.suite = v ? 0xc02b : 0x1301;
        t.version = v ? ETLS_TLS_VERSION_12 : 0;
        t.ems = (uint8_t)v;
        t.psk_len = v ? 48 : 32;
        uint8_t buf[ETLS_TLS_TICKET_MAX];
        size_t n = 0;
        CHECK(etls_tls_ticket_seal(&ctx, &te.rng, &t, buf, &n) == 0 && n <= sizeof buf);
        CHECK(etls_tls_ticket_open(&ctx, buf, n, &u) == 0);
        CHECK(u.version == (v ? ETLS_TLS_VERSION_12 : ETLS_TLS_VERSION_13) && u.ems == v && u.suite == t.suite);
    }
    etls_tls_server_ctx_free(&ctx);
}

int main(int argc, char **argv)
{
    size_t batch_cap = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 0;
    etls_test_seed("tls12");
    CHECK(test_env_init(&te, batch_cap) == 0);
    CHECK(test_cert_make(&cert_ec, KEY_ECDSA, "server.example") == 0);
    CHECK(test_cert_make(&cert_rsa, KEY_RSA, "server.example") == 0);
    test_prf();
    test_matrix();
    test_rsa_schemes();
    test_versions();
    test_downgrade_attack();
    test_renegotiation();
    test_negative();
    test_rsa_kx();
    test_rsa_kx_negative();
    test_tickets();
    test_cert_free(&cert_ec);
    test_cert_free(&cert_rsa);
    CHECK(test_env_free(&te) == 0);
    ERR_print_errors_fp(stderr);
    return etls_test_summary("tls12");
}
