/* The bench client (bench/hs/cli.c) against the edgetls engine in memory, plus negative tests:
 * hand-made malformed ServerHellos with the alert each must produce, every single-byte
 * corruption of a real server flight (none may complete the handshake), and random records;
 * the TLS 1.2 client (cli12.c) the same way (test_tls12). */
#include "cli.h"
#include "harness.h"
#include "load.h"
#include "test.h"

#include "crypto/x25519.h"

#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUF (64 * 1024)

static test_env_t te;
static etls_tls_server_ctx_t sctx;
static test_cert_t tcert;
static etls_aead_engine_t *ceng;
static uint8_t fixed_random[32] = {7, 7, 7};

typedef struct side {
    uint8_t in[BUF], out[BUF], app[BUF];
    size_t in_len;
    etls_tls_buf_t o, a;
} side_t;

static side_t cs, ss; /* client, server */
/* Resumption: what handshake() and feed_fresh() pass to etls_cli_tickets (NULL = nothing). */
static const etls_cli_ticket_t *g_offer;
static etls_cli_ticket_t *g_ticket_out;

static void side_reset(side_t *s)
{
    s->in_len = 0;
    s->o = (etls_tls_buf_t){s->out, 0, BUF};
    s->a = (etls_tls_buf_t){s->app, 0, BUF};
}

/* Moves `from`'s output to `to`'s input. */
static void move(side_t *from, side_t *to)
{
    memcpy(to->in + to->in_len, from->out, from->o.len);
    to->in_len += from->o.len;
    from->o.len = 0;
}

static int cli_step(etls_cli_conn_t *c)
{
    size_t used;
    int rc;
    do {
        rc = etls_cli_feed(c, cs.in, cs.in_len, &used, &cs.o, &cs.a);
        memmove(cs.in, cs.in + used, cs.in_len - used);
        cs.in_len -= used;
        if (rc == ETLS_CLI_NEED_KX)
            rc = etls_cli_kx_inline(c, &cs.o) == 0 ? ETLS_CLI_NEED_KX : c->err;
    } while (rc == ETLS_CLI_NEED_KX);
    return rc;
}

static int srv_step(etls_tls_conn_t *s)
{
    size_t used;
    int rc = etls_tls_feed(s, ss.in, ss.in_len, &used, &ss.o, &ss.a);
    memmove(ss.in, ss.in + used, ss.in_len - used);
    ss.in_len -= used;
    return rc;
}

/* A full handshake; returns the client's final code (0 = connected). */
static int handshake(etls_cli_conn_t *c, etls_tls_conn_t *s, const etls_cli_cfg_t *cfg,
                     const etls_cli_share_t *sh, const char *sni)
{
    side_reset(&cs);
    side_reset(&ss);
    etls_cli_init(c, cfg, ceng, sh, sni);
    if (g_offer || g_ticket_out)
        etls_cli_tickets(c, g_offer, 1000, g_ticket_out);
    etls_tls_conn_init(s, &sctx, &te.env);
    CHECK(etls_cli_hello(c, fixed_random, &cs.o) == 0);
    int crc = 0;
    for (int round = 0; round < 4 && !etls_cli_connected(c); round++) {
        move(&cs, &ss);
        if (srv_step(s) < 0) { /* the server's alert is the client's answer */
            move(&ss, &cs);
            crc = cli_step(c);
            return crc < 0 ? crc : -1;
        }
        move(&ss, &cs);
        if ((crc = cli_step(c)) < 0)
            return crc;
    }
    move(&cs, &ss);
    CHECK(srv_step(s) == 0);
    return etls_cli_connected(c) ? 0 : crc ? crc : -1;
}

static void cfg_default(etls_cli_cfg_t *cfg, uint16_t group, uint16_t suite)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->group = group;
    cfg->suites[0] = suite;
    cfg->n_suites = 1;
}

/* Handshake, data both ways, server close_notify, for every suite and both groups. */
static void test_positive(void)
{
    static const uint16_t suites[] = {0x1301, 0x1302, 0x1303, 0x1304, 0x1305};
    static const uint16_t groups[] = {ETLS_TLS_GROUP_X25519, ETLS_TLS_GROUP_SECP256R1};
    etls_cli_conn_t *c = calloc(1, sizeof *c);
    etls_tls_conn_t *s = calloc(1, sizeof *s);
    for (size_t g = 0; g < 2; g++)
        for (size_t i = 0; i < 5; i++) {
            etls_cli_cfg_t cfg;
            etls_cli_share_t sh;
            cfg_default(&cfg, groups[g], suites[i]);
            CHECK(etls_cli_share_new(&sh, groups[g], fixed_random) == 0);
            int rc = handshake(c, s, &cfg, &sh, "localhost");
            CHECK_MSG(rc == 0, "suite %04x group %04x: %d", suites[i], groups[g], rc);
            CHECK(c->suite == suites[i] && etls_tls_handshake_done(s));
            /* client -> server */
            CHECK(etls_cli_send(c, (const uint8_t *)"ping", 4, 0, &cs.o) == 0);
            move(&cs, &ss);
            ss.a.len = 0;
            CHECK(srv_step(s) == 0 && ss.a.len == 4 && !memcmp(ss.app, "ping", 4));
            /* server -> client, then close_notify */
            size_t used;
            CHECK(etls_tls_send(s, (const uint8_t *)"pong!", 5, &used, &ss.o) == 0 && used == 5);
            CHECK(etls_tls_close(s, &ss.o) == 0);
            move(&ss, &cs);
            cs.a.len = 0;
            CHECK(cli_step(c) == 0 && cs.a.len == 5 && !memcmp(cs.app, "pong!", 5));
            CHECK(c->peer_closed == 1);
            etls_cli_wipe(c);
            etls_tls_conn_wipe(s);
            etls_cli_share_wipe(&sh);
        }
    free(c);
    free(s);
}

/* Verification against the server's own (self-signed) certificate as the CA. */
static void test_verify(void)
{
    char path[] = "/tmp/etls_bench_ca_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    CHECK(f && PEM_write_X509(f, tcert.x509) == 1);
    if (f)
        fclose(f);
    void *store = etls_hs_verifier_new(path);
    CHECK(store != NULL);
    etls_cli_conn_t *c = calloc(1, sizeof *c);
    etls_tls_conn_t *s = calloc(1, sizeof *s);
    etls_cli_cfg_t cfg;
    etls_cli_share_t sh;
    cfg_default(&cfg, ETLS_TLS_GROUP_X25519, 0x1301);
    cfg.verify_chain = etls_hs_verify_chain;
    cfg.verify_arg = store;
    CHECK(etls_cli_share_new(&sh, cfg.group, fixed_random) == 0);
    CHECK(handshake(c, s, &cfg, &sh, "localhost") == 0);
    etls_cli_wipe(c);
    etls_tls_conn_wipe(s);
    /* a name the certificate does not hold: the server still answers with its default */
    CHECK(handshake(c, s, &cfg, &sh, "other.example") == ETLS_ERR_ALERT(ETLS_ALERT_BAD_CERTIFICATE));
    etls_cli_wipe(c);
    etls_tls_conn_wipe(s);
    etls_hs_verifier_free(store);
    unlink(path);
    CHECK(etls_hs_verifier_new("/nonexistent/ca.pem") == NULL);
    etls_cli_share_wipe(&sh);
    free(c);
    free(s);
}

/* ---- hand-made ServerHellos ---------------------------------------------------------------- */

typedef struct sh_spec {
    int hrr, sid_len, comp, no_ver, no_ks, dup_ver, ks_len, trailing, ext_overrun, extra_msg;
    int psk_sel; /* > 0: a pre_shared_key extension selecting identity psk_sel - 1 */
    uint16_t suite, ks_group, version, extra_ext;
    const uint8_t *ks_key; /* 32-byte X25519 share; NULL = 0x09 bytes */
} sh_spec_t;

static size_t put(uint8_t *p, size_t n, uint32_t v, int w)
{
    for (int i = 0; i < w; i++)
        p[n + (size_t)i] = (uint8_t)(v >> (8 * (w - 1 - i)));
    return n + (size_t)w;
}

static size_t mk_sh(uint8_t *rec, const sh_spec_t *sp)
{
    static const uint8_t hrr[32] = {0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
                                    0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
                                    0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};
    uint8_t *m = rec + 5;
    size_t n = 4;
    n = put(m, n, 0x0303, 2);
    memcpy(m + n, sp->hrr ? hrr : fixed_random, 32);
    n += 32;
    m[n++] = (uint8_t)sp->sid_len;
    memset(m + n, 0xab, (size_t)sp->sid_len);
    n += (size_t)sp->sid_len;
    n = put(m, n, sp->suite ? sp->suite : 0x1301, 2);
    m[n++] = (uint8_t)sp->comp;
    size_t el = n;
    n += 2;
    for (int i = 0; i < 1 + sp->dup_ver && !sp->no_ver; i++) {
        n = put(m, n, 43, 2);
        n = put(m, n, 2, 2);
        n = put(m, n, sp->version ? sp->version : 0x0304, 2);
    }
    if (!sp->no_ks) {
        size_t kl = sp->ks_len ? (size_t)sp->ks_len : 32;
        n = put(m, n, 51, 2);
        n = put(m, n, (uint32_t)(4 + kl), 2);
        n = put(m, n, sp->ks_group ? sp->ks_group : ETLS_TLS_GROUP_X25519, 2);
        n = put(m, n, (uint32_t)kl, 2);
        if (sp->ks_key && kl == 32)
            memcpy(m + n, sp->ks_key, 32);
        else
            memset(m + n, 0x09, kl);
        n += kl;
    }
    if (sp->psk_sel) {
        n = put(m, n, 41, 2);
        n = put(m, n, 2, 2);
        n = put(m, n, (uint32_t)(sp->psk_sel - 1), 2);
    }
    if (sp->extra_ext) {
        n = put(m, n, sp->extra_ext, 2);
        n = put(m, n, 0, 2);
    }
    put(m, el, (uint32_t)(n - el - 2 + (size_t)sp->ext_overrun), 2);
    if (sp->trailing)
        m[n++] = 0;
    m[0] = 2;
    put(m, 1, (uint32_t)(n - 4), 3);
    if (sp->extra_msg) { /* an EncryptedExtensions in the clear after the ServerHello */
        n = put(m, n, 0x08000002, 4);
        n = put(m, n, 0, 2);
    }
    rec[0] = 22;
    put(rec, 1, 0x0303, 2);
    put(rec, 3, (uint32_t)n, 2);
    return 5 + n;
}

/* A fresh client in WAIT_SH, fed `rec`. Returns the feed code. */
static int feed_fresh(etls_cli_conn_t *c, const etls_cli_share_t *sh, uint8_t *rec, size_t len)
{
    etls_cli_cfg_t cfg;
    cfg_default(&cfg, ETLS_TLS_GROUP_X25519, 0x1301);
    etls_cli_init(c, &cfg, ceng, sh, "localhost");
    if (g_offer)
        etls_cli_tickets(c, g_offer, 1000, NULL);
    side_reset(&cs);
    CHECK(etls_cli_hello(c, fixed_random, &cs.o) == 0);
    size_t used;
    int rc = etls_cli_feed(c, rec, len, &used, &cs.o, &cs.a);
    if (rc == ETLS_CLI_NEED_KX)
        rc = etls_cli_kx_inline(c, &cs.o) == 0 ? ETLS_CLI_NEED_KX : c->err;
    etls_cli_wipe(c);
    return rc;
}

static void test_bad_server_hello(void)
{
    static const struct {
        sh_spec_t sp;
        int want;
    } cases[] = {
        {{0}, ETLS_CLI_NEED_KX}, /* the control: well formed */
        {{.hrr = 1}, ETLS_ERR_ALERT(ETLS_ALERT_HANDSHAKE_FAILURE)},
        {{.no_ver = 1}, ETLS_ERR_ALERT(ETLS_ALERT_PROTOCOL_VERSION)},
        {{.version = 0x0303}, ETLS_ERR_ALERT(ETLS_ALERT_ILLEGAL_PARAMETER)},
        {{.dup_ver = 1}, ETLS_ERR_ALERT(ETLS_ALERT_ILLEGAL_PARAMETER)},
        {{.no_ks = 1}, ETLS_ERR_ALERT(ETLS_ALERT_MISSING_EXTENSION)},
        {{.ks_group = ETLS_TLS_GROUP_SECP256R1}, ETLS_ERR_ALERT(ETLS_ALERT_ILLEGAL_PARAMETER)},
        {{.ks_len = 31}, ETLS_ERR_ALERT(ETLS_ALERT_ILLEGAL_PARAMETER)},
        {{.suite = 0x1302}, ETLS_ERR_ALERT(ETLS_ALERT_ILLEGAL_PARAMETER)},
        {{.suite = 0x00ff}, ETLS_ERR_ALERT(ETLS_ALERT_ILLEGAL_PARAMETER)},
        {{.comp = 1}, ETLS_ERR_ALERT(ETLS_ALERT_ILLEGAL_PARAMETER)},
        {{.sid_len = 32}, ETLS_ERR_ALERT(ETLS_ALERT_ILLEGAL_PARAMETER)},
        {{.extra_ext = 0xff01}, ETLS_ERR_ALERT(ETLS_ALERT_UNSUPPORTED_EXTENSION)},
        {{.extra_ext = 41}, ETLS_ERR_ALERT(ETLS_ALERT_UNSUPPORTED_EXTENSION)}, /* PSK not offered */
        {{.ext_overrun = 1}, ETLS_ERR_ALERT(ETLS_ALERT_DECODE_ERROR)},
        {{.trailing = 1}, ETLS_ERR_ALERT(ETLS_ALERT_DECODE_ERROR)},
        {{.extra_msg = 1}, ETLS_ERR_ALERT(ETLS_ALERT_UNEXPECTED_MESSAGE)},
    };
    etls_cli_conn_t *c = calloc(1, sizeof *c);
    etls_cli_share_t sh;
    uint8_t rec[1024];
    CHECK(etls_cli_share_new(&sh, ETLS_TLS_GROUP_X25519, fixed_random) == 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = mk_sh(rec, &cases[i].sp);
        int rc = feed_fresh(c, &sh, rec, n);
        CHECK_MSG(rc == cases[i].want, "case %zu: got %d want %d", i, rc, cases[i].want);
    }
    /* record-level problems */
    sh_spec_t ok = {0};
    size_t n = mk_sh(rec, &ok);
    rec[1] = 4; /* record version major */
    CHECK(feed_fresh(c, &sh, rec, n) == ETLS_ERR_ALERT(ETLS_ALERT_DECODE_ERROR));
    uint8_t big[5] = {22, 3, 3, 0x41, 0x01}; /* 16641 bytes: over 2^14 + 256 */
    CHECK(feed_fresh(c, &sh, big, 5) == ETLS_ERR_ALERT(ETLS_ALERT_RECORD_OVERFLOW));
    uint8_t alert[7] = {21, 3, 3, 0, 2, 2, 40};
    CHECK(feed_fresh(c, &sh, alert, 7) == ETLS_TLS_ERR_PEER_ALERT(40));
    uint8_t app[8] = {23, 3, 3, 0, 3, 1, 2, 3};
    CHECK(feed_fresh(c, &sh, app, 8) == ETLS_ERR_ALERT(ETLS_ALERT_UNEXPECTED_MESSAGE));
    uint8_t empty[5] = {22, 3, 3, 0, 0};
    CHECK(feed_fresh(c, &sh, empty, 5) == ETLS_ERR_ALERT(ETLS_ALERT_UNEXPECTED_MESSAGE));
    uint8_t huge[9] = {22, 3, 3, 0, 4, 2, 0x01, 0x00, 0x01}; /* 65537-byte message announced */
    CHECK(feed_fresh(c, &sh, huge, 9) == ETLS_ERR_ALERT(ETLS_ALERT_UNEXPECTED_MESSAGE));
    uint8_t ccs[6] = {20, 3, 3, 0, 1, 1}; /* change_cipher_spec before ServerHello */
    CHECK(feed_fresh(c, &sh, ccs, 6) == ETLS_ERR_ALERT(ETLS_ALERT_UNEXPECTED_MESSAGE));
    /* a partial record is not an error: nothing consumed, waiting */
    CHECK(feed_fresh(c, &sh, rec, 4) == 0);
    /* an all-zero (low-order) server share: the shared secret is zero, §7.4.2 */
    sh_spec_t zero = {0};
    n = mk_sh(rec, &zero);
    memset(rec + n - 32, 0, 32);
    CHECK(feed_fresh(c, &sh, rec, n) == ETLS_ERR_ALERT(ETLS_ALERT_ILLEGAL_PARAMETER));
    etls_cli_share_wipe(&sh);
    free(c);
}


/* ---- a scripted server: valid keys, arbitrary encrypted messages ---------------------------- */

typedef struct fake {
    etls_hash_ctx_t th;
    etls_tls13_ks_t ks;
    uint8_t c_hs[48], s_hs[48];
    etls_aead_key_t key;
    uint8_t iv[12];
    uint64_t seq;
    uint8_t pt[BUF]; /* plaintext of the next record */
    size_t pt_len;
} fake_t;

static const uint8_t srv_sk[32] = {0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

static void fake_key(fake_t *f, const uint8_t *secret)
{
    uint8_t k[16];
    CHECK(etls_tls13_traffic_keys(ETLS_HASH_SHA256, secret, k, 16, f->iv, 12) == 0);
    etls_aead_key_wipe(&f->key);
    CHECK(etls_aead_key_init(ceng, &f->key, ETLS_AEAD_AES128GCM, k) == 0);
    f->seq = 0;
}

/* Client c sent its hello and accepted our ServerHello; it now waits for EncryptedExtensions. */
static void fake_start(fake_t *f, etls_cli_conn_t *c, const etls_cli_cfg_t *cfg,
                       const etls_cli_share_t *sh)
{
    uint8_t pub[32], rec[512], shared[32], th[32];
    size_t used;
    memset(f, 0, sizeof *f);
    etls_cli_init(c, cfg, ceng, sh, "localhost");
    side_reset(&cs);
    CHECK(etls_cli_hello(c, fixed_random, &cs.o) == 0);
    etls_x25519_public(pub, srv_sk);
    sh_spec_t sp = {.ks_key = pub};
    size_t n = mk_sh(rec, &sp);
    etls_hash_init(&f->th, ETLS_HASH_SHA256);
    etls_hash_update(&f->th, c->ch, c->ch_len);
    etls_hash_update(&f->th, rec + 5, n - 5);
    CHECK(etls_cli_feed(c, rec, n, &used, &cs.o, &cs.a) == ETLS_CLI_NEED_KX && used == n);
    CHECK(etls_cli_kx_inline(c, &cs.o) == 0);
    CHECK(etls_x25519_shared(shared, srv_sk, sh->pub) == 0);
    etls_hash_peek(&f->th, th);
    etls_tls13_ks_init(&f->ks, ETLS_HASH_SHA256, NULL, 0);
    CHECK(etls_tls13_ks_handshake(&f->ks, shared, 32, th, f->c_hs, f->s_hs) == 0);
    fake_key(f, f->s_hs);
}

/* Appends a handshake message (hashed into the transcript) to the pending plaintext. */
static void fake_msg(fake_t *f, uint8_t type, const uint8_t *body, size_t n)
{
    uint8_t *p = f->pt + f->pt_len;
    p[0] = type;
    put(p, 1, (uint32_t)n, 3);
    memcpy(p + 4, body, n);
    etls_hash_update(&f->th, p, 4 + n);
    f->pt_len += 4 + n;
}

static void fake_fin(fake_t *f)
{
    uint8_t th[32], vd[32];
    etls_hash_peek(&f->th, th);
    CHECK(etls_tls13_finished(ETLS_HASH_SHA256, f->s_hs, th, vd) == 0);
    fake_msg(f, 20, vd, 32);
}

/* Seals the pending plaintext as one record of inner `type` and feeds it to c. */
static int fake_send(fake_t *f, etls_cli_conn_t *c, uint8_t type)
{
    uint8_t rec[BUF], nonce[12];
    size_t n = f->pt_len, used;
    rec[0] = 23;
    put(rec, 1, 0x0303, 2);
    put(rec, 3, (uint32_t)(n + 1 + 16), 2);
    memcpy(rec + 5, f->pt, n);
    rec[5 + n] = type;
    memcpy(nonce, f->iv, 12);
    for (int i = 0; i < 8; i++)
        nonce[11 - i] ^= (uint8_t)(f->seq >> (8 * i));
    f->seq++;
    CHECK(etls_aead_seal(ceng, &f->key, nonce, rec, 5, rec + 5, n + 1, rec + 5) == 0);
    f->pt_len = 0;
    cs.a.len = 0;
    return etls_cli_feed(c, rec, 5 + n + 1 + 16, &used, &cs.o, &cs.a);
}

static const uint8_t ee_empty[] = {0, 0};
static const uint8_t cert_ok[] = {0, 0, 0, 10, 0, 0, 5, 1, 2, 3, 4, 5, 0, 0};
static const uint8_t cv_ok[] = {0x04, 0x03, 0, 4, 1, 2, 3, 4};

/* One encrypted flight after the ServerHello: `msgs` as (type, body, len), then an optional
 * valid Finished. Returns the client's code. */
typedef struct hmsg {
    uint8_t type;
    const uint8_t *body;
    size_t len;
} hmsg_t;

static int fake_flight(etls_cli_conn_t *c, const etls_cli_share_t *sh, const hmsg_t *m, size_t n,
                       int fin)
{
    static fake_t f;
    etls_cli_cfg_t cfg;
    cfg_default(&cfg, ETLS_TLS_GROUP_X25519, 0x1301);
    fake_start(&f, c, &cfg, sh);
    for (size_t i = 0; i < n; i++)
        fake_msg(&f, m[i].type, m[i].body, m[i].len);
    if (fin)
        fake_fin(&f);
    int rc = fake_send(&f, c, 22);
    etls_cli_wipe(c);
    etls_aead_key_wipe(&f.key);
    return rc;
}

#define M(t, b) {(t), (b), sizeof(b)}

static void test_bad_encrypted_flight(void)
{
    static const uint8_t ee_unknown[] = {0, 4, 0xff, 0x01, 0, 0};
    static const uint8_t ee_alpn[] = {0, 9, 0, 16, 0, 5, 0, 3, 2, 'h', '2'};
    static const uint8_t ee_dup[] = {0, 8, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t ee_rsl[] = {0, 6, 0, 28, 0, 2, 0, 10};
    static const uint8_t ee_short[] = {0, 5, 0, 0, 0, 0};
    static const uint8_t cr[] = {0, 0, 0};
    static const uint8_t cert_ctx[] = {1, 9, 0, 0, 0};
    static const uint8_t cert_empty[] = {0, 0, 0, 0};
    static const uint8_t cert_zero[] = {0, 0, 0, 5, 0, 0, 0, 0, 0};
    static const uint8_t cert_over[] = {0, 0, 0, 10, 0, 0, 9, 1, 2, 3, 4, 5, 0, 0};
    static const uint8_t cv_scheme[] = {0x04, 0x01, 0, 4, 1, 2, 3, 4}; /* rsa_pkcs1: not offered */
    static const uint8_t cv_empty[] = {0x04, 0x03, 0, 0};
    static const uint8_t fin_bad[32] = {1};
    static const uint8_t fin_short[31] = {0};
    const struct {
        hmsg_t m[4];
        size_t n;
        int fin, want;
    } cases[] = {
        {{M(8, ee_empty), M(11, cert_ok), M(15, cv_ok)}, 3, 1, 0}, /* the control */
        {{M(8, ee_unknown)}, 1, 0, ETLS_ERR_ALERT(ETLS_ALERT_UNSUPPORTED_EXTENSION)},
        {{M(8, ee_alpn)}, 1, 0, ETLS_ERR_ALERT(ETLS_ALERT_UNSUPPORTED_EXTENSION)},
        {{M(8, ee_dup)}, 1, 0, ETLS_ERR_ALERT(ETLS_ALERT_ILLEGAL_PARAMETER)},
        {{M(8, ee_rsl)}, 1, 0, ETLS_ERR_ALERT(ETLS_ALERT_ILLEGAL_PARAMETER)},
        {{M(8, ee_short)}, 1, 0, ETLS_ERR_ALERT(ETLS_ALERT_DECODE_ERROR)},
        {{M(11, cert_ok)}, 1, 0, ETLS_ERR_ALERT(ETLS_ALERT_UNEXPECTED_MESSAGE)}, /* no EE */
        {{M(8, ee_empty), M(13, cr)}, 2, 0, ETLS_ERR_ALERT(ETLS_ALERT_UNEXPECTED_MESSAGE)},
        {{M(8, ee_empty), M(11, cert_ctx)}, 2, 0, ETLS_ERR_ALERT(ETLS_ALERT_ILLEGAL_PARAMETER)},
        {{M(8, ee_empty), M(11, cert_empty)}, 2, 0, ETLS_ERR_ALERT(ETLS_ALERT_DECODE_ERROR)},
        {{M(8, ee_empty), M(11, cert_zero)}, 2, 0, ETLS_ERR_ALERT(ETLS_ALERT_DECODE_ERROR)},
        {{M(8, ee_empty), M(11, cert_over)}, 2, 0, ETLS_ERR_ALERT(ETLS_ALERT_DECODE_ERROR)},
        {{M(8, ee_empty), M(11, cert_ok), M(15, cv_scheme)}, 3, 0,
         ETLS_ERR_ALERT(ETLS_ALERT_ILLEGAL_PARAMETER)},
        {{M(8, ee_empty), M(11, cert_ok), M(15, cv_empty)}, 3, 0,
         ETLS_ERR_ALERT(ETLS_ALERT_DECODE_ERROR)},
        {{M(8, ee_empty), M(11, cert_ok), M(20, fin_bad)}, 3, 0, /* Finished without CV */
         ETLS_ERR_ALERT(ETLS_ALERT_UNEXPECTED_MESSAGE)},
        {{M(8, ee_empty), M(11, cert_ok), M(15, cv_ok), M(20, fin_bad)}, 4, 0,
         ETLS_ERR_ALERT(ETLS_ALERT_DECRYPT_ERROR)},
        {{M(8, ee_empty), M(11, cert_ok), M(15, cv_ok), M(20, fin_short)}, 4, 0,
         ETLS_ERR_ALERT(ETLS_ALERT_DECODE_ERROR)},
    };
    etls_cli_conn_t *c = calloc(1, sizeof *c);
    etls_cli_share_t sh;
    CHECK(etls_cli_share_new(&sh, ETLS_TLS_GROUP_X25519, fixed_random) == 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = fake_flight(c, &sh, cases[i].m, cases[i].n, cases[i].fin);
        CHECK_MSG(rc == cases[i].want, "flight case %zu: got %d want %d", i, rc, cases[i].want);
    }
    etls_cli_share_wipe(&sh);
    free(c);
}

/* After a valid handshake: post-handshake messages and records, good and bad. */
static int fake_after(etls_cli_conn_t *c, const etls_cli_share_t *sh, uint8_t type,
                      const uint8_t *pt, size_t n, int extra_after_fin)
{
    static fake_t f;
    etls_cli_cfg_t cfg;
    uint8_t th[32], c_ap[48], s_ap[48];
    cfg_default(&cfg, ETLS_TLS_GROUP_X25519, 0x1301);
    fake_start(&f, c, &cfg, sh);
    fake_msg(&f, 8, ee_empty, sizeof ee_empty);
    fake_msg(&f, 11, cert_ok, sizeof cert_ok);
    fake_msg(&f, 15, cv_ok, sizeof cv_ok);
    fake_fin(&f);
    if (extra_after_fin) /* a message after Finished in the same record (key change) */
        fake_msg(&f, 4, ee_empty, sizeof ee_empty);
    int rc = fake_send(&f, c, 22);
    if (rc == 0) {
        CHECK(etls_cli_connected(c));
        etls_hash_peek(&f.th, th);
        CHECK(etls_tls13_ks_master(&f.ks, th, c_ap, s_ap, NULL) == 0);
        fake_key(&f, s_ap);
        memcpy(f.pt, pt, n);
        f.pt_len = n;
        rc = fake_send(&f, c, type);
    }
    etls_cli_wipe(c);
    etls_aead_key_wipe(&f.key);
    return rc;
}

static void test_post_handshake(void)
{
    static const uint8_t nst_ok[] = {4, 0, 0, 16, 0, 0, 0, 60, 1, 2, 3, 4, 1, 9, 0, 2, 7, 7, 0, 0};
    static const uint8_t nst_no_ticket[] = {4, 0, 0, 14, 0, 0, 0, 60, 1, 2, 3, 4, 1, 9, 0, 0, 0, 0};
    static const uint8_t ku_ok[] = {24, 0, 0, 1, 0};
    static const uint8_t ku_bad[] = {24, 0, 0, 1, 2};
    static const uint8_t ch_again[] = {1, 0, 0, 0};
    static const uint8_t app[] = {'o', 'k'};
    static const uint8_t alert_fatal[] = {2, 80};
    static const uint8_t close_notify[] = {1, 0};
    etls_cli_conn_t *c = calloc(1, sizeof *c);
    etls_cli_share_t sh;
    CHECK(etls_cli_share_new(&sh, ETLS_TLS_GROUP_X25519, fixed_random) == 0);
    CHECK(fake_after(c, &sh, 23, app, sizeof app, 0) == 0 && cs.a.len == 2 && c->app_bytes == 2);
    CHECK(fake_after(c, &sh, 22, nst_ok, sizeof nst_ok, 0) == 0);
    CHECK(fake_after(c, &sh, 22, ku_ok, sizeof ku_ok, 0) == 0);
    CHECK(fake_after(c, &sh, 21, close_notify, 2, 0) == 0 && c->peer_closed);
    CHECK(fake_after(c, &sh, 22, nst_no_ticket, sizeof nst_no_ticket, 0) ==
          ETLS_ERR_ALERT(ETLS_ALERT_DECODE_ERROR));
    CHECK(fake_after(c, &sh, 22, ku_bad, sizeof ku_bad, 0) == ETLS_ERR_ALERT(ETLS_ALERT_ILLEGAL_PARAMETER));
    CHECK(fake_after(c, &sh, 22, ch_again, sizeof ch_again, 0) ==
          ETLS_ERR_ALERT(ETLS_ALERT_UNEXPECTED_MESSAGE));
    CHECK(fake_after(c, &sh, 21, alert_fatal, 2, 0) == ETLS_TLS_ERR_PEER_ALERT(80));
    CHECK(fake_after(c, &sh, 99, app, sizeof app, 0) == ETLS_ERR_ALERT(ETLS_ALERT_UNEXPECTED_MESSAGE));
    CHECK(fake_after(c, &sh, 22, app, 0, 0) == ETLS_ERR_ALERT(ETLS_ALERT_UNEXPECTED_MESSAGE));
    CHECK(fake_after(c, &sh, 23, app, sizeof app, 1) == ETLS_ERR_ALERT(ETLS_ALERT_UNEXPECTED_MESSAGE));
    etls_cli_share_wipe(&sh);
    free(c);
}

/* Feeds a recorded server flight (optionally with byte `at` flipped, optionally one byte per
 * call) to a fresh client whose ClientHello is identical to the recorded one. Returns 1 when
 * connected, a negative code when the client failed, 0 when it is still waiting. */
static int run_flight(etls_cli_conn_t *c, const etls_cli_cfg_t *cfg, const etls_cli_share_t *sh,
                      const uint8_t *flight, size_t flen, size_t at, int bytewise)
{
    static uint8_t tmp[BUF];
    etls_cli_init(c, cfg, ceng, sh, "localhost");
    side_reset(&cs);
    CHECK(etls_cli_hello(c, fixed_random, &cs.o) == 0);
    memcpy(tmp, flight, flen);
    if (at < flen)
        tmp[at] ^= (uint8_t)(1u << (at % 8));
    int rc = 0;
    for (size_t fed = 0; fed < flen && rc >= 0;) {
        size_t chunk = bytewise ? 1 : flen - fed;
        memcpy(cs.in + cs.in_len, tmp + fed, chunk);
        cs.in_len += chunk;
        fed += chunk;
        rc = cli_step(c);
    }
    int r = etls_cli_connected(c) ? 1 : rc < 0 ? rc : 0;
    etls_cli_wipe(c);
    return r;
}

/* The server's first flight in answer to our (deterministic) ClientHello, into flight (BUF
 * bytes); its length. */
static size_t capture_flight(etls_cli_conn_t *c, etls_tls_conn_t *s, const etls_cli_cfg_t *cfg,
                             const etls_cli_share_t *sh, uint8_t *flight)
{
    side_reset(&cs);
    side_reset(&ss);
    etls_cli_init(c, cfg, ceng, sh, "localhost");
    etls_tls_conn_init(s, &sctx, &te.env);
    CHECK(etls_cli_hello(c, fixed_random, &cs.o) == 0);
    move(&cs, &ss);
    CHECK(srv_step(s) == 0);
    size_t flen = ss.o.len;
    memcpy(flight, ss.out, flen);
    etls_tls_conn_wipe(s);
    etls_cli_wipe(c);
    return flen;
}

/* Every single-byte change of a real server flight must stop the handshake (the transcript,
 * the AEAD and the parsers cover every byte but the unchecked legacy record version). */
static void test_flight_corruption(void)
{
    etls_cli_conn_t *c = calloc(1, sizeof *c);
    etls_tls_conn_t *s = calloc(1, sizeof *s);
    etls_cli_cfg_t cfg;
    etls_cli_share_t sh;
    static uint8_t flight[BUF];
    cfg_default(&cfg, ETLS_TLS_GROUP_X25519, 0x1301);
    CHECK(etls_cli_share_new(&sh, cfg.group, fixed_random) == 0);
    size_t flen = capture_flight(c, s, &cfg, &sh, flight);
    size_t step = 1;
#if defined(__SANITIZE_ADDRESS__)
    step = 7;
#endif
    /* the intact flight, whole and byte by byte (controls), then each corruption */
    CHECK_MSG(run_flight(c, &cfg, &sh, flight, flen, SIZE_MAX, 0) == 1, "intact flight");
    CHECK_MSG(run_flight(c, &cfg, &sh, flight, flen, SIZE_MAX, 1) == 1, "intact flight, bytewise");
    unsigned rejected = 0, tried = 0;
    for (size_t i = 0; i < flen; i += step) {
        if (i == 2) /* the ServerHello record's legacy minor version: not checked (§5.1) */
            continue;
        int r = run_flight(c, &cfg, &sh, flight, flen, i, 0);
        CHECK_MSG(r != 1, "corrupting byte %zu still connected", i);
        rejected += r < 0;
        tried++;
    }
    /* only corrupted length fields can leave the client waiting for more bytes instead */
    CHECK_MSG(rejected * 10 >= tried * 9, "%u of %u corruptions rejected", rejected, tried);
    etls_cli_share_wipe(&sh);
    free(c);
    free(s);
}

/* Random records: never a crash, never a completed handshake. */
static void test_random_records(uint64_t seed)
{
    etls_test_rng_t rng;
    etls_test_rng_seed(&rng, seed);
    etls_cli_conn_t *c = calloc(1, sizeof *c);
    etls_cli_share_t sh;
    static uint8_t rec[2048];
    CHECK(etls_cli_share_new(&sh, ETLS_TLS_GROUP_X25519, fixed_random) == 0);
    int n_iter = 3000, connected = 0;
#if defined(__SANITIZE_ADDRESS__)
    n_iter = 300;
#endif
    for (int it = 0; it < n_iter; it++) {
        size_t len = 5 + etls_test_rng_next(&rng) % 600;
        etls_test_rng_bytes(&rng, rec, len);
        if (it % 2) { /* mostly plausible headers so the parsers get exercised */
            sh_spec_t ok = {0};
            size_t base = mk_sh(rec, &ok);
            size_t k = etls_test_rng_next(&rng) % base;
            rec[k] = (uint8_t)etls_test_rng_next(&rng);
            len = base;
        }
        (void)feed_fresh(c, &sh, rec, len);
        connected += etls_cli_connected(c);
    }
    CHECK(connected == 0);
    etls_cli_share_wipe(&sh);
    free(c);
}

/* Resumption against the engine: a full handshake keeps the NewSessionTicket, the next
 * handshake offers it and resumes (no certificate), data flows; a tampered PSK fails the
 * binder (decrypt_error from the server), a tampered identity falls back to a full handshake;
 * ServerHellos with a pre_shared_key we did not offer, another identity or a suite of another
 * hash are refused. */
static void test_resumption(void)
{
    uint8_t k1[ETLS_TLS_TICKET_KEY_LEN];
    memset(k1, 0x5a, sizeof k1);
    CHECK(etls_tls_server_ctx_set_ticket_keys(&sctx, k1, NULL) == 0);
    etls_cli_conn_t *c = calloc(1, sizeof *c);
    etls_tls_conn_t *s = calloc(1, sizeof *s);
    etls_cli_ticket_t *t = calloc(1, sizeof *t), *t2 = calloc(1, sizeof *t2), *bad = calloc(1, sizeof *bad);
    etls_cli_cfg_t cfg;
    etls_cli_share_t sh;
    cfg_default(&cfg, ETLS_TLS_GROUP_X25519, 0x1301);
    CHECK(etls_cli_share_new(&sh, cfg.group, fixed_random) == 0);
    g_ticket_out = t;
    CHECK(handshake(c, s, &cfg, &sh, "localhost") == 0 && !c->resumed);
    move(&ss, &cs); /* the server's NewSessionTicket */
    CHECK(cli_step(c) == 0 && c->got_ticket && t->id_len > 0 && t->psk_len == 32 && t->suite == 0x1301);
    etls_cli_wipe(c);
    etls_tls_conn_wipe(s);

    g_offer = t;
    g_ticket_out = t2;
    CHECK(handshake(c, s, &cfg, &sh, "localhost") == 0);
    CHECK(c->resumed == 1 && s->resumed == 1);
    CHECK(etls_cli_send(c, (const uint8_t *)"again", 5, 0, &cs.o) == 0);
    move(&cs, &ss);
    ss.a.len = 0;
    CHECK(srv_step(s) == 0 && ss.a.len == 5 && !memcmp(ss.app, "again", 5));
    move(&ss, &cs); /* a fresh ticket after the resumed handshake too */
    CHECK(cli_step(c) == 0 && c->got_ticket && memcmp(t2->id, t->id, t->id_len) != 0);
    etls_cli_wipe(c);
    etls_tls_conn_wipe(s);

    *bad = *t;
    bad->psk[0] ^= 1; /* wrong PSK: the binder does not verify */
    g_offer = bad;
    g_ticket_out = NULL;
    CHECK(handshake(c, s, &cfg, &sh, "localhost") == ETLS_TLS_ERR_PEER_ALERT(ETLS_ALERT_DECRYPT_ERROR));
    etls_cli_wipe(c);
    etls_tls_conn_wipe(s);
    *bad = *t;
    bad->id[bad->id_len / 2] ^= 1; /* unknown ticket: full handshake */
    CHECK(handshake(c, s, &cfg, &sh, "localhost") == 0 && !c->resumed && !s->resumed);
    etls_cli_wipe(c);
    etls_tls_conn_wipe(s);

    /* hand-made ServerHellos */
    g_offer = NULL;
    sh_spec_t sp = {0};
    uint8_t rec[512];
    sp.psk_sel = 1; /* accepted a PSK we never offered */
    CHECK(feed_fresh(c, &sh, rec, mk_sh(rec, &sp)) == ETLS_ERR_ALERT(ETLS_ALERT_UNSUPPORTED_EXTENSION));
    g_offer = t;
    sp.psk_sel = 2; /* identity 1 of our single identity */
    CHECK(feed_fresh(c, &sh, rec, mk_sh(rec, &sp)) == ETLS_ERR_ALERT(ETLS_ALERT_ILLEGAL_PARAMETER));
    *bad = *t;
    bad->suite = 0x1302; /* a SHA-384 ticket cannot resume a SHA-256 suite */
    bad->psk_len = 48;
    g_offer = bad;
    sp.psk_sel = 1;
    CHECK(feed_fresh(c, &sh, rec, mk_sh(rec, &sp)) == ETLS_ERR_ALERT(ETLS_ALERT_ILLEGAL_PARAMETER));
    g_offer = t;
    CHECK(feed_fresh(c, &sh, rec, mk_sh(rec, &sp)) == ETLS_CLI_NEED_KX); /* the well-formed one */

    g_offer = NULL;
    g_ticket_out = NULL;
    etls_cli_share_wipe(&sh);
    free(c);
    free(s);
    free(t);
    free(t2);
    free(bad);
    CHECK(etls_tls_server_ctx_set_ticket_keys(&sctx, NULL, NULL) == 0);
}

/* One TLS 1.2 handshake with the live engine where byte `at` of the server's first flight
 * (ServerHello..ServerHelloDone) is flipped on its way (SIZE_MAX: intact); *flen gets that
 * flight's length (it varies by a byte or two with the ECDSA signature's DER encoding).
 * Returns 1 when both sides completed, 0 when neither did, -1 otherwise. */
static int handshake12_flip(etls_cli_conn_t *c, etls_tls_conn_t *s, const etls_cli_cfg_t *cfg,
                            const etls_cli_share_t *sh, size_t at, size_t *flen)
{
    side_reset(&cs);
    side_reset(&ss);
    etls_cli_init(c, cfg, ceng, sh, "localhost");
    etls_tls_conn_init(s, &sctx, &te.env);
    CHECK(etls_cli_hello(c, fixed_random, &cs.o) == 0);
    int crc = 0, src = 0;
    for (int round = 0; round < 4 && crc >= 0 && src >= 0 && !etls_cli_connected(c); round++) {
        move(&cs, &ss);
        src = srv_step(s);
        if (round == 0) {
            *flen = ss.o.len;
            if (at < ss.o.len)
                ss.out[at] ^= (uint8_t)(1u << (at % 8));
        }
        move(&ss, &cs);
        crc = cli_step(c);
    }
    move(&cs, &ss);
    if (src >= 0)
        src = srv_step(s);
    int cli_ok = etls_cli_connected(c) && crc >= 0, srv_ok = etls_tls_handshake_done(s) && src >= 0;
    etls_cli_wipe(c);
    etls_tls_conn_wipe(s);
    return cli_ok && srv_ok ? 1 : !cli_ok && !srv_ok ? 0 : -1;
}

/* TLS 1.2 (cli12.c) against the engine serving TLS 1.2: each ECDSA suite x group with data
 * both ways and close_notify; RFC 5077 resumption (the session ID echoed, no certificate) and a
 * damaged ticket (a full handshake); every single-byte change of the server's first flight
 * stops both sides (the Finished messages cover it); a TLS 1.3-only server says
 * protocol_version. */
static void test_tls12(void)
{
    static const uint16_t suites[] = {ETLS_TLS_ECDHE_ECDSA_AES_128_GCM_SHA256,
                                      ETLS_TLS_ECDHE_ECDSA_AES_256_GCM_SHA384,
                                      ETLS_TLS_ECDHE_ECDSA_CHACHA20_POLY1305_SHA256};
    static const uint16_t groups[] = {ETLS_TLS_GROUP_X25519, ETLS_TLS_GROUP_SECP256R1};
    etls_cli_conn_t *c = calloc(1, sizeof *c);
    etls_tls_conn_t *s = calloc(1, sizeof *s);
    etls_cli_ticket_t *t = calloc(1, sizeof *t), *bad = calloc(1, sizeof *bad);
    etls_cli_cfg_t cfg;
    etls_cli_share_t sh;
    CHECK(etls_tls_server_ctx_set_protocols(&sctx, ETLS_TLS_PROTO_12 | ETLS_TLS_PROTO_13) == 0);
    for (size_t g = 0; g < 2; g++)
        for (size_t i = 0; i < 3; i++) {
            cfg_default(&cfg, groups[g], suites[i]);
            cfg.tls12 = 1;
            CHECK(etls_cli_share_new(&sh, groups[g], fixed_random) == 0);
            int rc = handshake(c, s, &cfg, &sh, "localhost");
            CHECK_MSG(rc == 0, "TLS 1.2 suite %04x group %04x: %d", suites[i], groups[g], rc);
            CHECK(c->suite == suites[i] && etls_tls_version(s) == ETLS_TLS_VERSION_12 && c->ems);
            CHECK(etls_cli_send(c, (const uint8_t *)"ping12", 6, 0, &cs.o) == 0);
            move(&cs, &ss);
            ss.a.len = 0;
            CHECK(srv_step(s) == 0 && ss.a.len == 6 && !memcmp(ss.app, "ping12", 6));
            size_t used;
            CHECK(etls_tls_send(s, (const uint8_t *)"pong12!", 7, &used, &ss.o) == 0 && used == 7);
            CHECK(etls_tls_close(s, &ss.o) == 0);
            move(&ss, &cs);
            cs.a.len = 0;
            CHECK(cli_step(c) == 0 && cs.a.len == 7 && !memcmp(cs.app, "pong12!", 7) && c->peer_closed);
            etls_cli_wipe(c);
            etls_tls_conn_wipe(s);
            etls_cli_share_wipe(&sh);
        }

    uint8_t k1[ETLS_TLS_TICKET_KEY_LEN];
    memset(k1, 0x3c, sizeof k1);
    CHECK(etls_tls_server_ctx_set_ticket_keys(&sctx, k1, NULL) == 0);
    cfg_default(&cfg, ETLS_TLS_GROUP_X25519, ETLS_TLS_ECDHE_ECDSA_AES_128_GCM_SHA256);
    cfg.tls12 = 1;
    CHECK(etls_cli_share_new(&sh, cfg.group, fixed_random) == 0);
    g_ticket_out = t;
    CHECK(handshake(c, s, &cfg, &sh, "localhost") == 0 && !c->resumed);
    CHECK(c->got_ticket && t->id_len > 0 && t->psk_len == 48 && t->suite == cfg.suites[0]);
    etls_cli_wipe(c);
    etls_tls_conn_wipe(s);
    g_offer = t;
    g_ticket_out = NULL;
    CHECK(handshake(c, s, &cfg, &sh, "localhost") == 0 && c->resumed && s->resumed);
    CHECK(etls_cli_send(c, (const uint8_t *)"again", 5, 0, &cs.o) == 0);
    move(&cs, &ss);
    ss.a.len = 0;
    CHECK(srv_step(s) == 0 && ss.a.len == 5 && !memcmp(ss.app, "again", 5));
    etls_cli_wipe(c);
    etls_tls_conn_wipe(s);
    *bad = *t;
    bad->id[bad->id_len / 2] ^= 1; /* unknown ticket: a full handshake */
    g_offer = bad;
    CHECK(handshake(c, s, &cfg, &sh, "localhost") == 0 && !c->resumed && !s->resumed);
    etls_cli_wipe(c);
    etls_tls_conn_wipe(s);
    g_offer = NULL;
    CHECK(etls_tls_server_ctx_set_ticket_keys(&sctx, NULL, NULL) == 0);

    size_t flen = 0, step = 1, tried = 0;
#if defined(__SANITIZE_ADDRESS__)
    step = 7;
#endif
    CHECK_MSG(handshake12_flip(c, s, &cfg, &sh, SIZE_MAX, &flen) == 1, "intact TLS 1.2 flight");
    CHECK(flen > 300);
    for (size_t i = 0; i < flen; i += step) {
        size_t fl;
        int r = handshake12_flip(c, s, &cfg, &sh, i, &fl);
        if (i >= fl)
            continue; /* this handshake's flight was shorter: nothing was flipped */
        CHECK_MSG(r == 0, "TLS 1.2: flipping byte %zu of %zu: %d", i, fl, r);
        tried++;
    }
    CHECK((tried + 4) * step >= flen); /* every stepped byte but the last few of a longer flight */

    CHECK(etls_tls_server_ctx_set_protocols(&sctx, ETLS_TLS_PROTO_13) == 0);
    CHECK(handshake(c, s, &cfg, &sh, "localhost") == ETLS_TLS_ERR_PEER_ALERT(ETLS_ALERT_PROTOCOL_VERSION));
    etls_cli_wipe(c);
    etls_tls_conn_wipe(s);
    etls_cli_share_wipe(&sh);
    free(c);
    free(s);
    free(t);
    free(bad);
}

/* The TLS 1.2 client's parsers under random damage: a real first server flight with 1-8 random
 * bytes replaced and a random length cut, fed to fresh clients whole or in random pieces;
 * never a crash or a sanitizer report, never connected (no server Finished is ever fed). */
static void test_random_flights12(uint64_t seed)
{
    etls_test_rng_t rng;
    etls_test_rng_seed(&rng, seed ^ 0x1212);
    etls_cli_conn_t *c = calloc(1, sizeof *c);
    etls_tls_conn_t *s = calloc(1, sizeof *s);
    etls_cli_cfg_t cfg;
    etls_cli_share_t sh;
    static uint8_t flight[BUF], tmp[BUF];
    CHECK(etls_tls_server_ctx_set_protocols(&sctx, ETLS_TLS_PROTO_12 | ETLS_TLS_PROTO_13) == 0);
    cfg_default(&cfg, ETLS_TLS_GROUP_X25519, ETLS_TLS_ECDHE_ECDSA_AES_128_GCM_SHA256);
    cfg.tls12 = 1;
    CHECK(etls_cli_share_new(&sh, cfg.group, fixed_random) == 0);
    size_t flen = capture_flight(c, s, &cfg, &sh, flight);
    CHECK(flen > 300);
    int n_iter = 2000, connected = 0, kx = 0;
#if defined(__SANITIZE_ADDRESS__)
    n_iter = 300;
#endif
    for (int it = 0; it < n_iter && flen; it++) {
        memcpy(tmp, flight, flen);
        for (int k = 1 + (int)(etls_test_rng_next(&rng) % 8); k > 0; k--)
            tmp[etls_test_rng_next(&rng) % flen] = (uint8_t)etls_test_rng_next(&rng);
        size_t len = it % 3 ? flen : etls_test_rng_next(&rng) % (flen + 1);
        etls_cli_init(c, &cfg, ceng, &sh, "localhost");
        side_reset(&cs);
        CHECK(etls_cli_hello(c, fixed_random, &cs.o) == 0);
        size_t hello_len = cs.o.len;
        int rc = 0;
        for (size_t fed = 0; fed < len && rc >= 0;) {
            size_t chunk = it % 2 ? len - fed : 1 + etls_test_rng_next(&rng) % (len - fed);
            memcpy(cs.in + cs.in_len, tmp + fed, chunk);
            cs.in_len += chunk;
            fed += chunk;
            rc = cli_step(c);
        }
        kx += cs.o.len >= hello_len + 42; /* our ClientKeyExchange (X25519: 42 bytes) went out */
        connected += etls_cli_connected(c);
        etls_cli_wipe(c);
    }
    CHECK(connected == 0);
    CHECK_MSG(kx > 0, "no damaged flight got as far as the key exchange (%d)", kx);
    CHECK(etls_tls_server_ctx_set_protocols(&sctx, ETLS_TLS_PROTO_13) == 0);
    etls_cli_share_wipe(&sh);
    free(c);
    free(s);
}

int main(void)
{
    uint64_t seed = etls_test_seed("bench_cli");
    static const uint16_t all[] = {0x1301, 0x1302, 0x1303, 0x1304, 0x1305};
    char err[256];
    CHECK(test_env_init(&te, 0) == 0);
    CHECK(etls_tls_server_ctx_init(&sctx, &te.rng) == 0);
    CHECK(etls_tls_server_ctx_set_suites(&sctx, all, 5) == 0);
    CHECK(test_cert_make(&tcert, KEY_ECDSA, "localhost") == 0);
    CHECK(test_ctx_add(&sctx, &tcert, NULL, 1) == 0);
    (void)err;
    ceng = etls_aead_engine_new();
    CHECK(ceng != NULL);
    test_positive();
    test_verify();
    test_bad_server_hello();
    test_bad_encrypted_flight();
    test_post_handshake();
    test_flight_corruption();
    test_random_records(seed);
    test_resumption();
    test_tls12();
    test_random_flights12(seed);
    etls_aead_engine_free(ceng);
    etls_tls_server_ctx_free(&sctx);
    test_cert_free(&tcert);
    test_env_free(&te);
    return etls_test_summary("bench_cli");
}
