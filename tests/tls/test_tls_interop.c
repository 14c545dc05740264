/* Interop: OpenSSL's libssl as the client, over memory BIOs, against the engine as server.
 * argv[1] = batch capacity (0 = inline crypto, 1 = a batch flushed on every request, N). */
#include "harness.h"
#include "test.h"

#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static test_cert_t certs[KEY_COUNT];
static test_env_t te;
static size_t batch_cap;

static const struct {
    uint16_t id;
    const char *name;
} suites[] = {
    {ETLS_TLS_AES_128_GCM_SHA256, "TLS_AES_128_GCM_SHA256"},
    {ETLS_TLS_AES_256_GCM_SHA384, "TLS_AES_256_GCM_SHA384"},
    {ETLS_TLS_CHACHA20_POLY1305_SHA256, "TLS_CHACHA20_POLY1305_SHA256"},
    {ETLS_TLS_AES_128_CCM_SHA256, "TLS_AES_128_CCM_SHA256"},
    {ETLS_TLS_AES_128_CCM_8_SHA256, "TLS_AES_128_CCM_8_SHA256"},
};
static const uint16_t all_suites[] = {0x1301, 0x1302, 0x1303, 0x1304, 0x1305};
static const uint16_t sig_of_key[KEY_COUNT] = {ETLS_SIG_ECDSA_SECP256R1_SHA256,
                                               ETLS_SIG_RSA_PSS_RSAE_SHA256, ETLS_SIG_ED25519};

static void ctx_one(etls_tls_server_ctx_t *ctx, key_type_t kt)
{
    CHECK(etls_tls_server_ctx_init(ctx, &te.rng) == 0);
    CHECK(etls_tls_server_ctx_set_suites(ctx, all_suites, 5) == 0);
    CHECK(test_ctx_add(ctx, &certs[kt], NULL, 1) == 0);
}

/* Sends n bytes each way and checks them byte for byte. */
static void exchange(test_pair_t *p, size_t n, uint64_t seed)
{
    etls_test_rng_t r;
    uint8_t *a = malloc(n), *b = malloc(n), *got = malloc(n);
    etls_test_rng_seed(&r, seed);
    etls_test_rng_bytes(&r, a, n);
    etls_test_rng_bytes(&r, b, n);
    p->got_len = 0;
    for (size_t off = 0; off < n;) { /* client -> server, in uneven writes */
        size_t chunk = 1 + etls_test_rng_next(&r) % 40000;
        chunk = chunk < n - off ? chunk : n - off;
        CHECK(SSL_write(p->ssl, a + off, (int)chunk) == (int)chunk);
        off += chunk;
        CHECK(test_pair_server_step(p) == 0);
    }
    CHECK(test_pair_server_step(p) == 0);
    CHECK_MSG(p->got_len == n, "server got %zu of %zu", p->got_len, n);
    CHECK(p->got_len == n && memcmp(p->got, a, n) == 0);
    for (size_t off = 0; off < n;) { /* server -> client */
        size_t chunk = 1 + etls_test_rng_next(&r) % 70000;
        chunk = chunk < n - off ? chunk : n - off;
        CHECK(test_pair_server_send(p, b + off, chunk) == 0);
        off += chunk;
    }
    CHECK(test_pair_client_read(p, got, n) == 0);
    CHECK_MEM(got, b, n);
    free(a);
    free(b);
    free(got);
}

static void test_matrix(void)
{
    for (int kt = 0; kt < KEY_COUNT; kt++) {
        etls_tls_server_ctx_t ctx;
        ctx_one(&ctx, (key_type_t)kt);
        for (size_t s = 0; s < 5; s++) {
            for (int g = 0; g < 2; g++) {
                SSL_CTX *cc = test_client_ctx(&certs[kt]);
                CHECK(SSL_CTX_set_ciphersuites(cc, suites[s].name) == 1);
                test_pair_t p;
                test_pair_init(&p, cc, &ctx, &te);
                SSL_set1_groups_list(p.ssl, g ? "P-256" : "X25519");
                SSL_set1_host(p.ssl, "server.example");
                int hs = test_pair_handshake(&p);
                CHECK_MSG(hs == 0, "handshake key %d suite %s group %d: %d (srv %d)", kt,
                          suites[s].name, g, hs, p.srv_rc);
                if (hs == 0) {
                    CHECK(etls_tls_cipher(p.conn) == suites[s].id);
                    CHECK((SSL_CIPHER_get_id(SSL_get_current_cipher(p.ssl)) & 0xffff) == suites[s].id);
                    CHECK(etls_tls_group(p.conn) == (g ? ETLS_TLS_GROUP_SECP256R1 : ETLS_TLS_GROUP_X25519));
                    CHECK(etls_tls_sig_scheme(p.conn) == sig_of_key[kt]);
                    CHECK(etls_tls_version(p.conn) == ETLS_TLS_VERSION_13);
                    CHECK(SSL_get_verify_result(p.ssl) == X509_V_OK);
                    exchange(&p, 3000, s * 7 + (size_t)g);
                }
                test_pair_free(&p);
                SSL_CTX_free(cc);
            }
        }
        etls_tls_server_ctx_free(&ctx);
    }
}

static void test_bulk(void)
{
    etls_tls_server_ctx_t ctx;
    ctx_one(&ctx, KEY_ECDSA);
    const char *names[] = {"TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"};
    for (int i = 0; i < 2; i++) {
        SSL_CTX *cc = test_client_ctx(&certs[KEY_ECDSA]);
        SSL_CTX_set_ciphersuites(cc, names[i]);
        test_pair_t p;
        test_pair_init(&p, cc, &ctx, &te);
        CHECK(test_pair_handshake(&p) == 0);
        exchange(&p, 1 << 20, 99 + (uint64_t)i); /* 1 MiB each way, byte-exact */
        test_pair_free(&p);
        SSL_CTX_free(cc);
    }
    etls_tls_server_ctx_free(&ctx);
}

/* Server prefers only X25519; the client offers both groups but a share for P-256 only:
 * HelloRetryRequest with a cookie, then a second ClientHello with an X25519 share. */
static void test_hrr(void)
{
    etls_tls_server_ctx_t ctx;
    ctx_one(&ctx, KEY_ECDSA);
    for (int g = 0; g < 2; g++) {
        uint16_t grp = g ? ETLS_TLS_GROUP_SECP256R1 : ETLS_TLS_GROUP_X25519;
        CHECK(etls_tls_server_ctx_set_groups(&ctx, &grp, 1) == 0);
        for (int compat = 0; compat < 2; compat++) {
            SSL_CTX *cc = test_client_ctx(&certs[KEY_ECDSA]);
            test_pair_t p;
            test_pair_init(&p, cc, &ctx, &te);
            SSL_set1_groups_list(p.ssl, g ? "X25519:P-256" : "P-256:X25519");
            if (!compat)
                SSL_clear_options(p.ssl, SSL_OP_ENABLE_MIDDLEBOX_COMPAT);
            CHECK(test_pair_handshake(&p) == 0);
            CHECK(etls_tls_group(p.conn) == grp);
            CHECK(etls_tls_handshake_done(p.conn) && etls_tls_hrr(p.conn)); /* after exactly one retry */
            exchange(&p, 5000, 5);
            test_pair_free(&p);
            SSL_CTX_free(cc);
        }
    }
    /* No group in common at all: handshake_failure. */
    SSL_CTX *cc = test_client_ctx(NULL);
    test_pair_t p;
    test_pair_init(&p, cc, &ctx, &te);
    SSL_set1_groups_list(p.ssl, "X25519");
    CHECK(test_pair_handshake(&p) != 0);
    CHECK(p.srv_rc == ETLS_ERR_ALERT(ETLS_ALERT_HANDSHAKE_FAILURE));
    CHECK(p.client_alert == ETLS_ALERT_HANDSHAKE_FAILURE);
    test_pair_free(&p);
    SSL_CTX_free(cc);
    etls_tls_server_ctx_free(&ctx);
}

static X509 *sni_handshake(etls_tls_server_ctx_t *ctx, const char *sni, const char **sni_seen)
{
    SSL_CTX *cc = test_client_ctx(NULL);
    test_pair_t p;
    test_pair_init(&p, cc, ctx, &te);
    if (sni)
        SSL_set_tlsext_host_name(p.ssl, sni);
    X509 *peer = NULL;
    if (test_pair_handshake(&p) == 0) {
        peer = SSL_get1_peer_certificate(p.ssl);
        *sni_seen = etls_tls_sni(p.conn) ? strdup(etls_tls_sni(p.conn)) : NULL;
    }
    test_pair_free(&p);
    SSL_CTX_free(cc);
    return peer;
}

static void test_sni(void)
{
    etls_tls_server_ctx_t ctx;
    test_cert_t exact, wild, dflt;
    CHECK(test_cert_make(&exact, KEY_ECDSA, "www.example.com") == 0);
    CHECK(test_cert_make(&wild, KEY_ED25519, "*.example.com") == 0);
    CHECK(test_cert_make(&dflt, KEY_RSA, "default.test") == 0);
    CHECK(etls_tls_server_ctx_init(&ctx, &te.rng) == 0);
    CHECK(test_ctx_add(&ctx, &wild, NULL, 0) == 0);
    CHECK(test_ctx_add(&ctx, &exact, NULL, 0) == 0);
    CHECK(test_ctx_add(&ctx, &dflt, NULL, 1) == 0);
    const struct {
        const char *sni;
        X509 *want;
    } cases[] = {
        {"www.example.com", exact.x509}, {"WWW.Example.COM", exact.x509}, {"api.example.com", wild.x509},
        {"a.b.example.com", dflt.x509},  {"example.com", dflt.x509},      {"other.org", dflt.x509},
        {NULL, dflt.x509},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *seen = NULL;
        X509 *peer = sni_handshake(&ctx, cases[i].sni, &seen);
        CHECK_MSG(peer && X509_cmp(peer, cases[i].want) == 0, "sni case %zu (%s)", i,
                  cases[i].sni ? cases[i].sni : "none");
        CHECK(cases[i].sni ? (seen && strcasecmp(seen, cases[i].sni) == 0) : seen == NULL);
        X509_free(peer);
        free((void *)seen);
    }
    etls_tls_server_ctx_free(&ctx);
    test_cert_free(&exact);
    test_cert_free(&wild);
    test_cert_free(&dflt);
}

static void test_alpn(void)
{
    etls_tls_server_ctx_t ctx;
    ctx_one(&ctx, KEY_ECDSA);
    const char *protos[] = {"h2", "http/1.1"};
    CHECK(etls_tls_server_ctx_set_alpn(&ctx, protos, 2) == 0);
    static const uint8_t both[] = "\x08http/1.1\x02h2", h11[] = "\x08http/1.1", bad[] = "\x03xyz\x02h3";
    const struct {
        const uint8_t *list;
        size_t len;
        const char *want;
    } cases[] = {{both, sizeof both - 1, "h2"}, {h11, sizeof h11 - 1, "http/1.1"}, {NULL, 0, NULL},
                 {bad, sizeof bad - 1, "!"}};
    for (size_t i = 0; i < 4; i++) {
        SSL_CTX *cc = test_client_ctx(NULL);
        test_pair_t p;
        test_pair_init(&p, cc, &ctx, &te);
        if (cases[i].list)
            SSL_set_alpn_protos(p.ssl, cases[i].list, (unsigned)cases[i].len);
        int hs = test_pair_handshake(&p);
        if (cases[i].want && cases[i].want[0] == '!') {
            CHECK(hs != 0);
            CHECK(p.srv_rc == ETLS_ERR_ALERT(ETLS_ALERT_NO_APPLICATION_PROTOCOL));
            CHECK(etls_tls_alert_sent(p.conn) == 120);
            CHECK(p.client_alert == 120);
        } else {
            CHECK(hs == 0);
            size_t l = 0;
            const uint8_t *sel = etls_tls_alpn(p.conn, &l);
            const unsigned char *csel = NULL;
            unsigned cl = 0;
            SSL_get0_alpn_selected(p.ssl, &csel, &cl);
            if (cases[i].want) {
                CHECK(sel && l == strlen(cases[i].want) && memcmp(sel, cases[i].want, l) == 0);
                CHECK(cl == l && csel && memcmp(csel, cases[i].want, l) == 0);
            } else {
                CHECK(sel == NULL && cl == 0);
            }
        }
        test_pair_free(&p);
        SSL_CTX_free(cc);
    }
    etls_tls_server_ctx_free(&ctx);
}

static void test_key_update_and_close(void)
{
    etls_tls_server_ctx_t ctx;
    ctx_one(&ctx, KEY_ECDSA);
    SSL_CTX *cc = test_client_ctx(&certs[KEY_ECDSA]);
    test_pair_t p;
    test_pair_init(&p, cc, &ctx, &te);
    CHECK(test_pair_handshake(&p) == 0);
    uint8_t rd0[48], wr0[48];
    memcpy(rd0, p.conn->rd.secret, 48);
    memcpy(wr0, p.conn->wr.secret, 48);
    /* Client-initiated with update_requested: the server updates both directions. */
    CHECK(SSL_key_update(p.ssl, SSL_KEY_UPDATE_REQUESTED) == 1);
    exchange(&p, 20000, 11);
    CHECK(memcmp(rd0, p.conn->rd.secret, 48) != 0);
    CHECK(memcmp(wr0, p.conn->wr.secret, 48) != 0);
    /* Server-initiated, requesting the client's update too. */
    memcpy(rd0, p.conn->rd.secret, 48);
    memcpy(wr0, p.conn->wr.secret, 48);
    CHECK(etls_tls_key_update(p.conn, 1, &p.out) == 0);
    CHECK(memcmp(wr0, p.conn->wr.secret, 48) != 0);
    exchange(&p, 20000, 12);
    exchange(&p, 100, 14); /* the client answers on its next write */
    CHECK(memcmp(rd0, p.conn->rd.secret, 48) != 0);
    /* Several updates in a row without data between them. */
    for (int i = 0; i < 3; i++)
        CHECK(SSL_key_update(p.ssl, SSL_KEY_UPDATE_NOT_REQUESTED) == 1 && SSL_do_handshake(p.ssl) == 1);
    exchange(&p, 4000, 13);
    /* close_notify from the server: the client sees a clean EOF. */
    CHECK(etls_tls_close(p.conn, &p.out) == 0);
    CHECK(etls_tls_close_sent(p.conn));
    size_t used;
    CHECK(etls_tls_send(p.conn, (const uint8_t *)"x", 1, &used, &p.out) == ETLS_ERR_INVALID);
    test_pair_server_step(&p);
    uint8_t b[8];
    int r = SSL_read(p.ssl, b, sizeof b);
    CHECK(r <= 0 && SSL_get_error(p.ssl, r) == SSL_ERROR_ZERO_RETURN);
    /* close_notify from the client. */
    CHECK(!etls_tls_peer_closed(p.conn));
    SSL_shutdown(p.ssl);
    CHECK(test_pair_server_step(&p) == 0);
    CHECK(etls_tls_peer_closed(p.conn));
    test_pair_free(&p);
    SSL_CTX_free(cc);
    etls_tls_server_ctx_free(&ctx);
}

/* Input delivered in tiny pieces: records split at every byte boundary. */
static void test_trickle(void)
{
    etls_tls_server_ctx_t ctx;
    ctx_one(&ctx, KEY_RSA);
    SSL_CTX *cc = test_client_ctx(&certs[KEY_RSA]);
    test_pair_t p;
    test_pair_init(&p, cc, &ctx, &te);
    p.max_in_chunk = 7;
    CHECK(test_pair_handshake(&p) == 0);
    exchange(&p, 50000, 21);
    test_pair_free(&p);
    SSL_CTX_free(cc);
    etls_tls_server_ctx_free(&ctx);
}

/* Session tickets: a second connection resumes (PSK with ECDHE, no certificate); a ticket
 * survives one key rotation, not two; a different SNI or an expired ticket means a full
 * handshake. */
static uint64_t fake_now;
static uint64_t fake_clock(void *arg)
{
    (void)arg;
    return fake_now;
}

static int resume_once(etls_tls_server_ctx_t *ctx, SSL_CTX *cc, SSL_SESSION *sess, const char *sni,
                       SSL_SESSION **next)
{
    test_pair_t p;
    test_pair_init(&p, cc, ctx, &te);
    if (sni)
        SSL_set_tlsext_host_name(p.ssl, sni);
    if (sess)
        SSL_set_session(p.ssl, sess);
    int resumed = -1;
    if (test_pair_handshake(&p) == 0) {
        exchange(&p, 500, 51); /* the client reads the NewSessionTicket here */
        CHECK(etls_tls_resumed(p.conn) == SSL_session_reused(p.ssl));
        resumed = etls_tls_resumed(p.conn);
        if (next)
            *next = SSL_get1_session(p.ssl);
    }
    /* A client SSL freed without a shutdown marks its session unresumable. */
    SSL_set_shutdown(p.ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    test_pair_free(&p);
    return resumed;
}

/* The binder is the last bytes of the ClientHello (pre_shared_key comes last): flipping one
 * must abort with decrypt_error (RFC 8446 §4.2.11). */
static void bad_binder(etls_tls_server_ctx_t *ctx, SSL_CTX *cc, SSL_SESSION *sess)
{
    test_pair_t p;
    uint8_t buf[8192];
    test_pair_init(&p, cc, ctx, &te);
    SSL_set_tlsext_host_name(p.ssl, "server.example");
    SSL_set_session(p.ssl, sess);
    SSL_do_handshake(p.ssl);
    int n = BIO_read(p.c_wbio, buf, sizeof buf);
    CHECK(n > 100 && buf[0] == 22);
    buf[n - 1] ^= 1;
    BIO_write(p.c_wbio, buf, n);
    CHECK(test_pair_server_step(&p) == ETLS_ERR_ALERT(ETLS_ALERT_DECRYPT_ERROR));
    CHECK(etls_tls_alert_sent(p.conn) == ETLS_ALERT_DECRYPT_ERROR);
    test_pair_free(&p);
}

static void test_resumption(void)
{
    uint8_t k1[ETLS_TLS_TICKET_KEY_LEN], k2[ETLS_TLS_TICKET_KEY_LEN], k3[ETLS_TLS_TICKET_KEY_LEN];
    etls_test_rng_t r;
    etls_test_rng_seed(&r, 61);
    etls_test_rng_bytes(&r, k1, sizeof k1);
    etls_test_rng_bytes(&r, k2, sizeof k2);
    etls_test_rng_bytes(&r, k3, sizeof k3);
    etls_tls_server_ctx_t ctx;
    ctx_one(&ctx, KEY_RSA);
    fake_now = 1700000000000ull;
    ctx.now_ms = fake_clock;
    CHECK(etls_tls_server_ctx_set_ticket_keys(&ctx, k1, NULL) == 0);
    for (int s = 0; s < 2; s++) {
        SSL_CTX *cc = test_client_ctx(&certs[KEY_RSA]);
        SSL_CTX_set_ciphersuites(cc, s ? "TLS_AES_256_GCM_SHA384" : "TLS_CHACHA20_POLY1305_SHA256");
        SSL_SESSION *s1 = NULL, *s2 = NULL, *s3 = NULL;
        CHECK(resume_once(&ctx, cc, NULL, "server.example", &s1) == 0);
        CHECK(s1 && SSL_SESSION_is_resumable(s1));
        CHECK(resume_once(&ctx, cc, s1, "server.example", &s2) == 1);
        CHECK(resume_once(&ctx, cc, s1, "other.example", NULL) == 0); /* other name */
        bad_binder(&ctx, cc, s1);
        { /* HelloRetryRequest, then the binder over message_hash || HRR || ClientHello2 */
            static const uint16_t x_only[] = {ETLS_TLS_GROUP_X25519};
            etls_tls_server_ctx_t c2 = ctx;
            CHECK(etls_tls_server_ctx_set_groups(&c2, x_only, 1) == 0);
            SSL_CTX *cc2 = test_client_ctx(&certs[KEY_RSA]);
            SSL_CTX_set_ciphersuites(cc2, s ? "TLS_AES_256_GCM_SHA384" : "TLS_CHACHA20_POLY1305_SHA256");
            SSL_CTX_set1_groups_list(cc2, "P-256:X25519");
            CHECK(resume_once(&c2, cc2, s1, "server.example", NULL) == 1);
            SSL_CTX_free(cc2);
        }
        CHECK(etls_tls_server_ctx_set_ticket_keys(&ctx, k2, k1) == 0);  /* rotation: still ok */
        CHECK(resume_once(&ctx, cc, s2, "server.example", &s3) == 1);
        CHECK(etls_tls_server_ctx_set_ticket_keys(&ctx, k3, k2) == 0);
        CHECK(resume_once(&ctx, cc, s2, "server.example", NULL) == 0); /* k1 is gone */
        CHECK(resume_once(&ctx, cc, s3, "server.example", NULL) == 1);
        fake_now += 7201ull * 1000;
        CHECK(resume_once(&ctx, cc, s3, "server.example", NULL) == 0); /* expired */
        CHECK(etls_tls_server_ctx_set_ticket_keys(&ctx, k1, NULL) == 0);
        SSL_SESSION_free(s1);
        SSL_SESSION_free(s2);
        SSL_SESSION_free(s3);
        SSL_CTX_free(cc);
    }
    etls_tls_server_ctx_free(&ctx);
}

/* A chain of ~40 KB: the Certificate message spans several records. */
static void test_big_chain(void)
{
    test_cert_t fill[3];
    char names[6000];
    size_t o = 0;
    for (int i = 0; i < 300 && o + 40 < sizeof names; i++)
        o += (size_t)snprintf(names + o, sizeof names - o, "%shost-%03d.filler.example", i ? "," : "", i);
    for (int i = 0; i < 3; i++)
        CHECK(test_cert_make(&fill[i], KEY_ECDSA, names) == 0);
    etls_tls_server_ctx_t ctx;
    CHECK(etls_tls_server_ctx_init(&ctx, &te.rng) == 0);
    CHECK(test_ctx_add_chain(&ctx, &certs[KEY_RSA], fill, 3) == 0);
    CHECK_MSG(ctx.max_flight > 16384 + 4096, "flight bound %zu", ctx.max_flight);
    SSL_CTX *cc = test_client_ctx(&certs[KEY_RSA]);
    test_pair_t p;
    test_pair_init(&p, cc, &ctx, &te);
    CHECK(test_pair_handshake(&p) == 0);
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(p.ssl);
    CHECK(chain && sk_X509_num(chain) == 4);
    exchange(&p, 1000, 41);
    test_pair_free(&p);
    SSL_CTX_free(cc);
    etls_tls_server_ctx_free(&ctx);
    for (int i = 0; i < 3; i++)
        test_cert_free(&fill[i]);
}

int main(int argc, char **argv)
{
    batch_cap = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 0;
    etls_test_seed("tls_interop");
    CHECK(test_env_init(&te, batch_cap) == 0);
    for (int k = 0; k < KEY_COUNT; k++)
        CHECK(test_cert_make(&certs[k], (key_type_t)k, "server.example") == 0);
    test_matrix();
    test_bulk();
    test_hrr();
    test_sni();
    test_alpn();
    test_key_update_and_close();
    test_trickle();
    test_big_chain();
    test_resumption();
    for (int k = 0; k < KEY_COUNT; k++)
        test_cert_free(&certs[k]);
    CHECK(test_env_free(&te) == 0); /* every handshake state came back */
    ERR_print_errors_fp(stderr);
    return etls_test_summary("tls_interop");
}
