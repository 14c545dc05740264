/* Client certificates (RFC 8446 §4.3.2, §4.4.2, §4.4.3) against OpenSSL libssl as the client,
 * in memory, and a hand-built client (mini_client) for what libssl will not send: a bad
 * CertificateVerify, a malformed or out-of-order Certificate. Each case checks the alert the
 * engine sends and, for libssl, the alert the client received. argv[1] = batch capacity. */
#include "harness.h"
#include "mini_client.h"
#include "test.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

static test_env_t te;
static test_cert_t server;

/* ---- certificates ------------------------------------------------------------------------ */

typedef struct cert {
    EVP_PKEY *key;
    X509 *x;
} cert_t;

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    CHECK(e != NULL);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
}

/* A certificate for cn issued by `by` (NULL: self-signed); ca > 0: a CA (ca - 1 = pathlen,
 * or no pathlen when ca == 100); eku NULL: no extendedKeyUsage; validity in days from now. */
static cert_t mk(const char *cn, key_type_t kt, const cert_t *by, int ca, const char *eku, long from_d,
                 long to_d, long serial)
{
    cert_t c;
    c.key = kt == KEY_ECDSA ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
            : kt == KEY_RSA ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
                            : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    c.x = X509_new();
    X509_set_version(c.x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c.x), serial);
    X509_gmtime_adj(X509_getm_notBefore(c.x), from_d * 86400);
    X509_gmtime_adj(X509_getm_notAfter(c.x), to_d * 86400);
    X509_set_pubkey(c.x, c.key);
    X509_NAME *nm = X509_get_subject_name(c.x);
    X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC, (const unsigned char *)"edgetls tests", -1, -1, 0);
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509 *issuer = by ? by->x : c.x;
    X509_set_issuer_name(c.x, X509_get_subject_name(issuer));
    if (ca) {
        char bc[64];
        if (ca == 100)
            snprintf(bc, sizeof bc, "critical,CA:TRUE");
        else
            snprintf(bc, sizeof bc, "critical,CA:TRUE,pathlen:%d", ca - 1);
        add_ext(c.x, issuer, NID_basic_constraints, bc);
        add_ext(c.x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(c.x, issuer, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(c.x, issuer, NID_key_usage, "critical,digitalSignature");
    }
    if (eku)
        add_ext(c.x, issuer, NID_ext_key_usage, eku);
    CHECK(X509_sign(c.x, by ? by->key : c.key, (by ? EVP_PKEY_get_id(by->key) : EVP_PKEY_get_id(c.key)) == EVP_PKEY_ED25519 ? NULL : EVP_sha256()) > 0);
    return c;
}

static void cert_free(cert_t *c)
{
    EVP_PKEY_free(c->key);
    X509_free(c->x);
}

static char *pem_of(X509 *x, X509_CRL *crl, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (x)
        PEM_write_bio_X509(b, x);
    if (crl)
        PEM_write_bio_X509_CRL(b, crl);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *out = malloc((size_t)n + 1);
    memcpy(out, p, (size_t)n);
    out[n] = 0;
    *len = (size_t)n;
    BIO_free(b);
    return out;
}

/* A CRL from ca revoking `serial`. */
static X509_CRL *mk_crl(const cert_t *ca, long serial)
{
    X509_CRL *crl = X509_CRL_new();
    X509_CRL_set_version(crl, 1);
    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->x));
    ASN1_TIME *t = ASN1_TIME_adj(NULL, time(NULL), -1, 0);
    X509_CRL_set1_lastUpdate(crl, t);
    ASN1_TIME_adj(t, time(NULL), 30, 0);
    X509_CRL_set1_nextUpdate(crl, t);
    X509_REVOKED *r = X509_REVOKED_new();
    ASN1_INTEGER *s = ASN1_INTEGER_new();
    ASN1_INTEGER_set(s, serial);
    X509_REVOKED_set_serialNumber(r, s);
    ASN1_TIME_adj(t, time(NULL), -1, 0);
    X509_REVOKED_set_revocationDate(r, t);
    X509_CRL_add0_revoked(crl, r);
    ASN1_INTEGER_free(s);
    ASN1_TIME_free(t);
    X509_CRL_sort(crl);
    CHECK(X509_CRL_sign(crl, ca->key, EVP_sha256()) > 0);
    return crl;
}

static cert_t ca, other_ca, inter;
static cert_t good, good_rsa, good_ed, expired, no_eku, server_eku, revoked, unknown, via_inter;
static etls_tls_client_auth_t *pol_req, *pol_opt, *pol_crl, *pol_depth0, *pol_depth1, *pol_other;

static etls_tls_client_auth_t *policy(int mode, const cert_t *anchor, X509_CRL *crl, int depth)
{
    size_t cl = 0, rl = 0;
    char *cp = pem_of(anchor->x, NULL, &cl), *rp = crl ? pem_of(NULL, crl, &rl) : NULL, err[256];
    etls_tls_client_auth_t *a = NULL;
    int rc = etls_tls_client_auth_new_pem(&a, mode, cp, cl, rp, rl, depth, err, sizeof err);
    CHECK_MSG(rc == 0, "policy: %s", err);
    free(cp);
    free(rp);
    return a;
}

static void make_all(void)
{
    long sn = 100;
    ca = mk("edgetls test client CA", KEY_ECDSA, NULL, 100, NULL, -1, 365, sn++);
    other_ca = mk("another CA", KEY_ECDSA, NULL, 100, NULL, -1, 365, sn++);
    inter = mk("intermediate CA", KEY_ECDSA, &ca, 1, NULL, -1, 365, sn++);
    good = mk("client-good", KEY_ECDSA, &ca, 0, "clientAuth", -1, 30, sn++);
    good_rsa = mk("client-rsa", KEY_RSA, &ca, 0, "clientAuth", -1, 30, sn++);
    good_ed = mk("client-ed25519", KEY_ED25519, &ca, 0, "clientAuth", -1, 30, sn++);
    expired = mk("client-expired", KEY_ECDSA, &ca, 0, "clientAuth", -30, -1, sn++);
    no_eku = mk("client-no-eku", KEY_ECDSA, &ca, 0, "emailProtection", -1, 30, sn++);
    server_eku = mk("client-server-eku", KEY_ECDSA, &ca, 0, "serverAuth", -1, 30, sn++);
    revoked = mk("client-revoked", KEY_ECDSA, &ca, 0, "clientAuth", -1, 30, 4242);
    unknown = mk("client-unknown", KEY_ECDSA, &other_ca, 0, "clientAuth", -1, 30, sn++);
    via_inter = mk("client-via-intermediate", KEY_ECDSA, &inter, 0, "clientAuth", -1, 30, sn++);
    X509_CRL *crl = mk_crl(&ca, 4242);
    pol_req = policy(ETLS_TLS_CLIENT_AUTH_REQUIRED, &ca, NULL, 4);
    pol_opt = policy(ETLS_TLS_CLIENT_AUTH_OPTIONAL, &ca, NULL, 4);
    pol_crl = policy(ETLS_TLS_CLIENT_AUTH_REQUIRED, &ca, crl, 4);
    pol_depth0 = policy(ETLS_TLS_CLIENT_AUTH_REQUIRED, &ca, NULL, 0);
    pol_depth1 = policy(ETLS_TLS_CLIENT_AUTH_REQUIRED, &ca, NULL, 1);
    pol_other = policy(ETLS_TLS_CLIENT_AUTH_REQUIRED, &other_ca, NULL, 4);
    X509_CRL_free(crl);
}

static void free_all(void)
{
    cert_t *all[] = {&ca, &other_ca, &inter, &good, &good_rsa, &good_ed, &expired, &no_eku,
                     &server_eku, &revoked, &unknown, &via_inter};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        cert_free(all[i]);
    etls_tls_client_auth_t *ps[] = {pol_req, pol_opt, pol_crl, pol_depth0, pol_depth1, pol_other};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        etls_tls_client_auth_free(ps[i]);
}

/* ---- libssl client ----------------------------------------------------------------------- */

static const uint8_t tkey[ETLS_TLS_TICKET_KEY_LEN] = {7, 7, 7};

static void ctx_with(etls_tls_server_ctx_t *ctx, const etls_tls_client_auth_t *a, int tickets)
{
    CHECK(etls_tls_server_ctx_init(ctx, &te.rng) == 0);
    CHECK(test_ctx_add(ctx, &server, NULL, 1) == 0);
    CHECK(etls_tls_server_ctx_set_client_auth(ctx, 0, a) == 0);
    if (tickets)
        CHECK(etls_tls_server_ctx_set_ticket_keys(ctx, tkey, NULL) == 0);
}

static SSL_CTX *client_with(const cert_t *leaf, const cert_t *extra)
{
    SSL_CTX *cc = test_client_ctx(&server);
    if (leaf) {
        CHECK(SSL_CTX_use_certificate(cc, leaf->x) == 1);
        CHECK(SSL_CTX_use_PrivateKey(cc, leaf->key) == 1);
        if (extra)
            CHECK(SSL_CTX_add1_chain_cert(cc, extra->x) == 1);
    }
    return cc;
}

/* One handshake; want_alert -1: success (then a little data both ways), else that alert. The
 * identity (if any) is copied to id; *sess_out gets the session for resumption. */
static void run(const char *what, const etls_tls_server_ctx_t *ctx, SSL_CTX *cc, SSL_SESSION *sess,
                int want_alert, etls_tls_peer_id_t *id, SSL_SESSION **sess_out, int *resumed)
{
    test_pair_t p;
    test_pair_init(&p, cc, ctx, &te);
    SSL_set_tlsext_host_name(p.ssl, "server.example");
    if (sess)
        SSL_set_session(p.ssl, sess);
    int rc = test_pair_handshake(&p);
    if (want_alert < 0) {
        CHECK_MSG(rc == 0, "%s: handshake %d (server %d, alert %d)", what, rc, p.srv_rc,
                  etls_tls_alert_sent(p.conn));
        uint8_t buf[5];
        CHECK(SSL_write(p.ssl, "ping!", 5) == 5);
        CHECK(test_pair_server_step(&p) == 0);
        CHECK_MSG(p.got_len == 5 && memcmp(p.got, "ping!", 5) == 0, "%s: data", what);
        CHECK(test_pair_server_send(&p, (const uint8_t *)"pong!", 5) == 0);
        CHECK(test_pair_client_read(&p, buf, 5) == 0); /* also reads the NewSessionTicket */
        const etls_tls_peer_id_t *pid = etls_tls_peer_id(p.conn);
        if (id) {
            memset(id, 0, sizeof *id);
            if (pid)
                *id = *pid;
        }
        if (resumed)
            *resumed = etls_tls_resumed(p.conn);
        if (sess_out)
            *sess_out = SSL_get1_session(p.ssl);
    } else {
        CHECK_MSG(rc != 0 && p.srv_rc == ETLS_ERR_ALERT(want_alert), "%s: rc %d server %d, want alert %d",
                  what, rc, p.srv_rc, want_alert);
        CHECK_MSG(etls_tls_alert_sent(p.conn) == want_alert, "%s: sent %d", what, etls_tls_alert_sent(p.conn));
        uint8_t b[16];
        SSL_read(p.ssl, b, sizeof b); /* the client reads our alert */
        CHECK_MSG(p.client_alert == want_alert, "%s: client got alert %d, want %d", what, p.client_alert,
                  want_alert);
    }
    SSL_set_shutdown(p.ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    test_pair_free(&p);
}

static void expect_id(const char *what, const etls_tls_peer_id_t *id, const cert_t *leaf, int conn)
{
    uint8_t fp[32];
    unsigned int n = 0;
    X509_digest(leaf->x, EVP_sha256(), fp, &n);
    char cn[256] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(leaf->x), NID_commonName, cn, sizeof cn);
    CHECK_MSG(id->flags == (ETLS_TLS_PEER_VERIFIED | (conn ? ETLS_TLS_PEER_CERT_CONN : 0)), "%s: flags %d",
              what, id->flags);
    CHECK_MSG(id->cn_len == strlen(cn) && strcmp(id->cn, cn) == 0, "%s: cn '%s'", what, id->cn);
    CHECK_MSG(n == 32 && memcmp(id->fp, fp, 32) == 0, "%s: fingerprint", what);
}

static void test_libssl(void)
{
    etls_tls_server_ctx_t req, opt, crl, d0, d1;
    ctx_with(&req, pol_req, 0);
    ctx_with(&opt, pol_opt, 0);
    ctx_with(&crl, pol_crl, 0);
    ctx_with(&d0, pol_depth0, 0);
    ctx_with(&d1, pol_depth1, 0);
    etls_tls_peer_id_t id;
    struct {
        const char *what;
        etls_tls_server_ctx_t *ctx;
        const cert_t *leaf, *extra;
        int alert;
    } cases[] = {
        {"required, ECDSA", &req, &good, NULL, -1},
        {"required, RSA-PSS", &req, &good_rsa, NULL, -1},
        {"required, Ed25519", &req, &good_ed, NULL, -1},
        {"optional, ECDSA", &opt, &good, NULL, -1},
        {"required, none", &req, NULL, NULL, ETLS_ALERT_CERTIFICATE_REQUIRED},
        {"expired", &req, &expired, NULL, ETLS_ALERT_CERTIFICATE_EXPIRED},
        {"EKU without clientAuth", &req, &no_eku, NULL, ETLS_ALERT_UNSUPPORTED_CERTIFICATE},
        {"EKU serverAuth only", &req, &server_eku, NULL, ETLS_ALERT_UNSUPPORTED_CERTIFICATE},
        {"revoked, with the CRL", &crl, &revoked, NULL, ETLS_ALERT_CERTIFICATE_REVOKED},
        {"revoked, no CRL", &req, &revoked, NULL, -1},
        {"good, with the CRL", &crl, &good, NULL, -1},
        {"unknown CA", &req, &unknown, NULL, ETLS_ALERT_UNKNOWN_CA},
        {"intermediate, not sent", &req, &via_inter, NULL, ETLS_ALERT_UNKNOWN_CA},
        {"intermediate, depth 4", &req, &via_inter, &inter, -1},
        {"intermediate, depth 1", &d1, &via_inter, &inter, -1},
        {"intermediate, depth 0", &d0, &via_inter, &inter, ETLS_ALERT_BAD_CERTIFICATE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        SSL_CTX *cc = client_with(cases[i].leaf, cases[i].extra);
        run(cases[i].what, cases[i].ctx, cc, NULL, cases[i].alert, &id, NULL, NULL);
        if (cases[i].alert < 0)
            expect_id(cases[i].what, &id, cases[i].leaf, 1);
        SSL_CTX_free(cc);
    }
    { /* after a HelloRetryRequest (the client's share is P-256, we prefer X25519) */
        SSL_CTX *cc = client_with(&good, NULL);
        CHECK(SSL_CTX_set1_groups_list(cc, "P-256:X25519") == 1);
        run("required, after HRR", &req, cc, NULL, -1, &id, NULL, NULL);
        expect_id("after HRR", &id, &good, 1);
        SSL_CTX_free(cc);
    }
    { /* optional and no certificate: no identity */
        SSL_CTX *cc = client_with(NULL, NULL);
        run("optional, none", &opt, cc, NULL, -1, &id, NULL, NULL);
        CHECK(id.flags == 0);
        SSL_CTX_free(cc);
    }
    { /* the request lists our CA by name (certificate_authorities): libssl's client callback sees it */
        test_pair_t p;
        SSL_CTX *cc = client_with(&good, NULL);
        test_pair_init(&p, cc, &req, &te);
        CHECK(test_pair_handshake(&p) == 0);
        const STACK_OF(X509_NAME) *names = SSL_get0_peer_CA_list(p.ssl);
        CHECK(names && sk_X509_NAME_num(names) == 1 &&
              X509_NAME_cmp(sk_X509_NAME_value(names, 0), X509_get_subject_name(ca.x)) == 0);
        SSL_set_shutdown(p.ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        test_pair_free(&p);
        SSL_CTX_free(cc);
    }
    { /* off: no request, no identity, even from a client with a certificate */
        etls_tls_server_ctx_t off;
        ctx_with(&off, NULL, 0);
        SSL_CTX *cc = client_with(&good, NULL);
        run("off", &off, cc, NULL, -1, &id, NULL, NULL);
        CHECK(id.flags == 0);
        /* a [cert]'s own setting wins over the listener's */
        CHECK(etls_tls_server_ctx_set_cert_client_auth(&off, 0, pol_req) == 0);
        SSL_CTX *none = client_with(NULL, NULL);
        run("cert-level required", &off, none, NULL, ETLS_ALERT_CERTIFICATE_REQUIRED, NULL, NULL, NULL);
        CHECK(etls_tls_server_ctx_set_client_auth(&req, 0, pol_req) == 0);
        CHECK(etls_tls_server_ctx_set_cert_client_auth(&req, 0, etls_tls_client_auth_off()) == 0);
        run("cert-level off over listener required", &req, none, NULL, -1, &id, NULL, NULL);
        CHECK(id.flags == 0);
        CHECK(etls_tls_server_ctx_set_cert_client_auth(&req, 0, NULL) == 0);
        SSL_CTX_free(none);
        SSL_CTX_free(cc);
        etls_tls_server_ctx_free(&off);
    }
    etls_tls_server_ctx_t *all[] = {&req, &opt, &crl, &d0, &d1};
    for (size_t i = 0; i < 5; i++)
        etls_tls_server_ctx_free(all[i]);
}

/* A resumed session keeps its client identity (from the ticket, format 3); a ticket without
 * one does not resume where a certificate is required, nor one from another policy. */
static void test_resumption(void)
{
    etls_tls_server_ctx_t req, opt, other;
    ctx_with(&req, pol_req, 1);
    ctx_with(&opt, pol_opt, 1);
    ctx_with(&other, pol_other, 1);
    etls_tls_peer_id_t id;
    SSL_SESSION *s1 = NULL, *s2 = NULL, *s0 = NULL;
    int resumed = -1;
    SSL_CTX *cc = client_with(&good, NULL);
    run("first", &req, cc, NULL, -1, &id, &s1, &resumed);
    CHECK(resumed == 0 && s1 && SSL_SESSION_is_resumable(s1));
    expect_id("first", &id, &good, 1);
    run("resumed", &req, cc, s1, -1, &id, &s2, &resumed);
    CHECK(resumed == 1);
    expect_id("resumed", &id, &good, 0); /* verified in the session, not on this connection */
    run("resumed again", &req, cc, s2, -1, &id, NULL, &resumed);
    CHECK(resumed == 1);
    expect_id("resumed again", &id, &good, 0);
    run("other policy: full handshake", &other, cc, s1, ETLS_ALERT_UNKNOWN_CA, NULL, NULL, NULL);
    SSL_CTX *none = client_with(NULL, NULL);
    run("optional, no certificate", &opt, none, NULL, -1, &id, &s0, &resumed);
    CHECK(id.flags == 0 && s0);
    run("no identity, optional: resumes", &opt, none, s0, -1, &id, NULL, &resumed);
    CHECK(resumed == 1 && id.flags == 0);
    run("no identity, required: full handshake", &req, none, s0, ETLS_ALERT_CERTIFICATE_REQUIRED, NULL,
        NULL, NULL);
    SSL_SESSION_free(s0);
    SSL_SESSION_free(s1);
    SSL_SESSION_free(s2);
    SSL_CTX_free(none);
    SSL_CTX_free(cc);
    etls_tls_server_ctx_free(&req);
    etls_tls_server_ctx_free(&opt);
    etls_tls_server_ctx_free(&other);
}

/* TLS 1.2 has no CertificateRequest yet: required refuses it, optional serves it without one. */
static void test_tls12(void)
{
    etls_tls_server_ctx_t req, opt;
    ctx_with(&req, pol_req, 0);
    ctx_with(&opt, pol_opt, 0);
    CHECK(etls_tls_server_ctx_set_protocols(&req, ETLS_TLS_PROTO_12 | ETLS_TLS_PROTO_13) == 0);
    CHECK(etls_tls_server_ctx_set_protocols(&opt, ETLS_TLS_PROTO_12 | ETLS_TLS_PROTO_13) == 0);
    SSL_CTX *cc = client_with(&good, NULL);
    SSL_CTX_set_min_proto_version(cc, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(cc, TLS1_2_VERSION);
    etls_tls_peer_id_t id;
    run("TLS 1.2, required", &req, cc, NULL, ETLS_ALERT_PROTOCOL_VERSION, NULL, NULL, NULL);
    run("TLS 1.2, optional", &opt, cc, NULL, -1, &id, NULL, NULL);
    CHECK(id.flags == 0);
    SSL_CTX_free(cc);
    etls_tls_server_ctx_free(&req);
    etls_tls_server_ctx_free(&opt);
}

/* ---- hand-built client ----------------------------------------------------------------- */

typedef struct srv {
    etls_tls_conn_t c;
    etls_tls_buf_t out, app;
    uint8_t outb[1 << 16];
    uint8_t appb[1 << 17];
} srv_t;

static int srv_feed(srv_t *s, const uint8_t *in, size_t len)
{
    return test_feed_all(&te, &s->c, in, len, NULL, &s->out, &s->app);
}

/* Up to the server flight (with its CertificateRequest) read by m. */
static srv_t *to_request(mini_t *m, const etls_tls_server_ctx_t *ctx)
{
    static uint8_t ch[4096], rec[8192];
    mini_init(m, te.env.aead, 5);
    srv_t *s = aligned_alloc(_Alignof(srv_t), sizeof *s);
    memset(s, 0, sizeof *s);
    etls_tls_conn_init(&s->c, ctx, &te.env);
    s->out = (etls_tls_buf_t){s->outb, 0, sizeof s->outb};
    s->app = (etls_tls_buf_t){s->appb, 0, sizeof s->appb};
    ch_opts_t o = {0};
    size_t n = mini_build_ch(m, &o, ch, sizeof ch);
    CHECK(srv_feed(s, rec, mini_records(22, ch, n, 0, rec)) == 0);
    CHECK(mini_read_flight(m, ch, n, s->out.base, s->out.len) == 0);
    s->out.len = 0;
    return s;
}

static void srv_free(srv_t *s)
{
    etls_tls_conn_wipe(&s->c);
    free(s);
}

/* Sends the handshake message (hashed into m's transcript) in one protected record. */
static int send_msg(srv_t *s, mini_t *m, const uint8_t *msgb, size_t n)
{
    static uint8_t rec[70000];
    etls_hash_update(&m->th, msgb, n);
    return srv_feed(s, rec, mini_seal(m, 22, msgb, n, 0, rec));
}

static int send_cv(srv_t *s, mini_t *m, uint16_t scheme, const cert_t *signer, int corrupt)
{
    static const char label[] = "TLS 1.3, client CertificateVerify";
    uint8_t content[64 + sizeof label + 48], sig[600], body[620], out[640];
    size_t hl = etls_hash_len(m->hash), sl = sizeof sig;
    memset(content, 0x20, 64);
    memcpy(content + 64, label, sizeof label);
    etls_hash_peek(&m->th, content + 64 + sizeof label);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    int ed = EVP_PKEY_get_id(signer->key) == EVP_PKEY_ED25519;
    CHECK(EVP_DigestSignInit(md, &pc, ed ? NULL : EVP_sha256(), NULL, signer->key) == 1);
    if (EVP_PKEY_get_id(signer->key) == EVP_PKEY_RSA) {
        EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING);
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST);
    }
    CHECK(EVP_DigestSign(md, sig, &sl, content, 64 + sizeof label + hl) == 1);
    EVP_MD_CTX_free(md);
    if (corrupt)
        sig[sl / 2] ^= 1;
    body[0] = (uint8_t)(scheme >> 8);
    body[1] = (uint8_t)scheme;
    body[2] = (uint8_t)(sl >> 8);
    body[3] = (uint8_t)sl;
    memcpy(body + 4, sig, sl);
    return send_msg(s, m, out, mini_hs_msg(15, body, 4 + sl, out));
}

static int send_fin(srv_t *s, mini_t *m)
{
    uint8_t th[48], vd[48], out[64];
    size_t hl = etls_hash_len(m->hash);
    etls_hash_peek(&m->th, th);
    etls_tls13_finished(m->hash, m->c_hs, th, vd);
    return send_msg(s, m, out, mini_hs_msg(20, vd, hl, out));
}

static void expect(srv_t *s, int rc, int desc, const char *what)
{
    CHECK_MSG(rc == ETLS_ERR_ALERT(desc), "%s: rc %d, want alert %d", what, rc, desc);
    CHECK_MSG(etls_tls_alert_sent(&s->c) == desc, "%s: sent %d", what, etls_tls_alert_sent(&s->c));
}

static void test_mini(void)
{
    etls_tls_server_ctx_t req;
    ctx_with(&req, pol_req, 0);
    mini_t m;
    memset(&m, 0, sizeof m);
    uint8_t *der = NULL, body[4096], out[4200];
    int dl = i2d_X509(good.x, &der);
    CHECK(dl > 0);
    static const uint8_t one[1] = {1}, ext[4] = {0, 5, 0, 0};
    size_t n;
    /* the whole exchange by hand: Certificate, CertificateVerify, Finished */
    srv_t *s = to_request(&m, &req);
    n = mini_cert_body(NULL, 0, der, (size_t)dl, NULL, 0, body);
    CHECK(send_msg(s, &m, out, mini_hs_msg(11, body, n, out)) == 0);
    CHECK(send_cv(s, &m, ETLS_SIG_ECDSA_SECP256R1_SHA256, &good, 0) == 0);
    CHECK(send_fin(s, &m) == 0);
    CHECK(etls_tls_handshake_done(&s->c) && etls_tls_peer_id(&s->c) != NULL);
    srv_free(s);
    /* bad signature: decrypt_error */
    s = to_request(&m, &req);
    CHECK(send_msg(s, &m, out, mini_hs_msg(11, body, n, out)) == 0);
    expect(s, send_cv(s, &m, ETLS_SIG_ECDSA_SECP256R1_SHA256, &good, 1), ETLS_ALERT_DECRYPT_ERROR, "bad CV");
    srv_free(s);
    /* signed by another key than the leaf's */
    s = to_request(&m, &req);
    CHECK(send_msg(s, &m, out, mini_hs_msg(11, body, n, out)) == 0);
    expect(s, send_cv(s, &m, ETLS_SIG_ECDSA_SECP256R1_SHA256, &unknown, 0), ETLS_ALERT_DECRYPT_ERROR, "other key");
    srv_free(s);
    /* a scheme we did not offer / not the key's */
    s = to_request(&m, &req);
    CHECK(send_msg(s, &m, out, mini_hs_msg(11, body, n, out)) == 0);
    expect(s, send_cv(s, &m, 0x0503, &good, 0), ETLS_ALERT_ILLEGAL_PARAMETER, "scheme not offered");
    srv_free(s);
    s = to_request(&m, &req);
    CHECK(send_msg(s, &m, out, mini_hs_msg(11, body, n, out)) == 0);
    expect(s, send_cv(s, &m, ETLS_SIG_ED25519, &good, 0), ETLS_ALERT_ILLEGAL_PARAMETER, "scheme not the key's");
    srv_free(s);
    /* Finished without Certificate; CertificateVerify before Certificate */
    s = to_request(&m, &req);
    expect(s, send_fin(s, &m), ETLS_ALERT_UNEXPECTED_MESSAGE, "Finished first");
    srv_free(s);
    s = to_request(&m, &req);
    expect(s, send_cv(s, &m, ETLS_SIG_ECDSA_SECP256R1_SHA256, &good, 0), ETLS_ALERT_UNEXPECTED_MESSAGE, "CV first");
    srv_free(s);
    /* Finished right after a non-empty Certificate */
    s = to_request(&m, &req);
    CHECK(send_msg(s, &m, out, mini_hs_msg(11, body, n, out)) == 0);
    expect(s, send_fin(s, &m), ETLS_ALERT_UNEXPECTED_MESSAGE, "no CV");
    srv_free(s);
    /* malformed Certificates */
    struct {
        const char *what;
        size_t len;
        int desc;
    } bad[] = {{"truncated", n - 1, ETLS_ALERT_DECODE_ERROR}, {"empty body", 0, ETLS_ALERT_DECODE_ERROR}};
    for (size_t i = 0; i < 2; i++) {
        s = to_request(&m, &req);
        expect(s, send_msg(s, &m, out, mini_hs_msg(11, body, bad[i].len, out)), bad[i].desc, bad[i].what);
        srv_free(s);
    }
    s = to_request(&m, &req);
    size_t n2 = mini_cert_body(one, 1, der, (size_t)dl, NULL, 0, body);
    expect(s, send_msg(s, &m, out, mini_hs_msg(11, body, n2, out)), ETLS_ALERT_ILLEGAL_PARAMETER, "context");
    srv_free(s);
    s = to_request(&m, &req);
    n2 = mini_cert_body(NULL, 0, der, (size_t)dl, ext, 4, body);
    expect(s, send_msg(s, &m, out, mini_hs_msg(11, body, n2, out)), ETLS_ALERT_UNSUPPORTED_EXTENSION, "entry extension");
    srv_free(s);
    s = to_request(&m, &req);
    uint8_t junk[40];
    memset(junk, 0x30, sizeof junk);
    n2 = mini_cert_body(NULL, 0, junk, sizeof junk, NULL, 0, body);
    expect(s, send_msg(s, &m, out, mini_hs_msg(11, body, n2, out)), ETLS_ALERT_BAD_CERTIFICATE, "not DER");
    srv_free(s);
    s = to_request(&m, &req);
    n2 = mini_cert_body(NULL, 0, der, (size_t)dl - 1, NULL, 0, body);
    expect(s, send_msg(s, &m, out, mini_hs_msg(11, body, n2, out)), ETLS_ALERT_BAD_CERTIFICATE, "DER cut");
    srv_free(s);
    OPENSSL_free(der);
    mini_free(&m);
    etls_tls_server_ctx_free(&req);
}

/* Many CA names (close to the 8 KiB bound) in a flight cut into 64-byte records (RFC 8449):
 * the out room covers it, the client reads it; one CA too many is refused at load. */
static void test_many_cas(void)
{
    static char pem[200000];
    size_t len = 0, n_ok = 0;
    cert_t cas[120];
    size_t n;
    for (n = 0; n < 120; n++) {
        char cn[64];
        snprintf(cn, sizeof cn, "extra CA number %03zu with a longer common name", n);
        cas[n] = mk(cn, KEY_ECDSA, NULL, 100, NULL, -1, 30, 500 + (long)n);
        size_t l;
        char *p = pem_of(cas[n].x, NULL, &l);
        memcpy(pem + len, p, l);
        len += l;
        free(p);
        etls_tls_client_auth_t *a = NULL;
        char err[256];
        if (n < 60) { /* far below the bound: only the sets near it are tried */
            n_ok = n + 1;
            continue;
        }
        if (etls_tls_client_auth_new_pem(&a, 2, pem, len, NULL, 0, 4, err, sizeof err) != 0) {
            CHECK_MSG(strstr(err, "8 KiB") != NULL, "%s", err);
            break;
        }
        etls_tls_client_auth_free(a);
        n_ok = n + 1;
    }
    CHECK_MSG(n_ok > 60 && n_ok < 120, "%zu CA names fit", n_ok);
    /* the largest set that fits, the client asking for 64-byte records */
    len = 0;
    for (size_t i = 0; i < n_ok; i++) {
        size_t l;
        char *p = pem_of(cas[i].x, NULL, &l);
        memcpy(pem + len, p, l);
        len += l;
        free(p);
    }
    etls_tls_client_auth_t *a = NULL;
    char err[256];
    CHECK(etls_tls_client_auth_new_pem(&a, 2, pem, len, NULL, 0, 4, err, sizeof err) == 0);
    etls_tls_server_ctx_t ctx;
    ctx_with(&ctx, a, 0);
    static mini_t m;
    static uint8_t ch[4096], rec[8192];
    mini_init(&m, te.env.aead, 9);
    srv_t *s = aligned_alloc(_Alignof(srv_t), sizeof *s);
    memset(s, 0, sizeof *s);
    etls_tls_conn_init(&s->c, &ctx, &te.env);
    s->out = (etls_tls_buf_t){s->outb, 0, sizeof s->outb};
    s->app = (etls_tls_buf_t){s->appb, 0, sizeof s->appb};
    ch_opts_t o = {0};
    o.rsl = 64;
    size_t chl = mini_build_ch(&m, &o, ch, sizeof ch);
    CHECK(srv_feed(s, rec, mini_records(22, ch, chl, 0, rec)) == 0);
    CHECK_MSG(s->out.len > 8000 && mini_read_flight(&m, ch, chl, s->out.base, s->out.len) == 0,
              "flight of %zu bytes", s->out.len);
    CHECK(m.max_rec_plain <= 63);
    srv_free(s);
    mini_free(&m);
    etls_tls_server_ctx_free(&ctx);
    etls_tls_client_auth_free(a);
    for (size_t i = 0; i <= n && i < 120; i++)
        cert_free(&cas[i]);
}

/* Policy construction: clear errors for empty or wrong files. */
static void test_policy_errors(void)
{
    etls_tls_client_auth_t *a = NULL;
    char err[256];
    size_t cl;
    char *cp = pem_of(ca.x, NULL, &cl);
    CHECK(etls_tls_client_auth_new_pem(&a, 2, "", 0, NULL, 0, 4, err, sizeof err) < 0 && strstr(err, "empty"));
    CHECK(etls_tls_client_auth_new_pem(&a, 2, "hello\n", 6, NULL, 0, 4, err, sizeof err) < 0 &&
          strstr(err, "no CERTIFICATE"));
    CHECK(etls_tls_client_auth_new_pem(&a, 2, cp, cl, "x", 1, 4, err, sizeof err) < 0 && strstr(err, "no X509 CRL"));
    CHECK(etls_tls_client_auth_new_pem(&a, 2, cp, cl, NULL, 0, 17, err, sizeof err) < 0 && strstr(err, "depth"));
    CHECK(etls_tls_client_auth_new_pem(&a, 0, cp, cl, NULL, 0, 4, err, sizeof err) < 0);
    CHECK(etls_tls_client_auth_new_file(&a, 2, "/nonexistent/ca.pem", NULL, 4, err, sizeof err) < 0 &&
          strstr(err, "/nonexistent/ca.pem: cannot open"));
    CHECK(a == NULL);
    free(cp);
}

int main(int argc, char **argv)
{
    size_t cap = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 0;
    etls_test_seed("tls_client_auth");
    CHECK(test_env_init(&te, cap) == 0);
    CHECK(test_cert_make(&server, KEY_ECDSA, "server.example") == 0);
    make_all();
    test_libssl();
    test_resumption();
    test_tls12();
    test_mini();
    test_many_cas();
    test_policy_errors();
    free_all();
    test_cert_free(&server);
    CHECK(test_env_free(&te) == 0);
    return etls_test_summary("tls_client_auth");
}
