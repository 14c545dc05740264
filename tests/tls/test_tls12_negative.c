/* TLS 1.2 with a hand-built client (mini12.h): the whole handshake byte by byte, for both key
 * exchanges (RSA, ECDHE X25519 / P-256), and every malformed or misplaced TLS 1.2 message with
 * the exact alert RFC 5246 §7.2 asks for: ClientKeyExchange sizes and points, Finished of the
 * wrong length or value, change_cipher_spec with a wrong body or in the wrong place, unexpected
 * messages in each state, bad record versions, records under the wrong keys, renegotiation.
 * argv[1] = batch capacity (0 = inline crypto). */
#include "harness.h"
#include "mini12.h"
#include "test.h"
#include "tls/tls_internal.h"

#include <stdlib.h>
#include <string.h>

static test_env_t te;
static etls_tls_server_ctx_t ctx;
static test_cert_t cert_ec, cert_rsa;

typedef struct h12 {
    etls_tls_conn_t c;
    etls_tls_buf_t out, app;
    mini12_t m;
    uint8_t outb[1 << 16];
    uint8_t appb[1 << 17];
} h12_t;

enum { KX_RSA, KX_RSA256, KX_X25519, KX_CHACHA, KX_P256 };

static const uint16_t kx_suite[] = {ETLS_TLS_RSA_AES_128_GCM_SHA256, ETLS_TLS_RSA_AES_256_GCM_SHA384,
                                    ETLS_TLS_ECDHE_ECDSA_AES_128_GCM_SHA256,
                                    ETLS_TLS_ECDHE_ECDSA_CHACHA20_POLY1305_SHA256,
                                    ETLS_TLS_ECDHE_ECDSA_AES_128_GCM_SHA256};

/* Feeds everything, resuming parked work; returns the last code. */
static int feed(h12_t *h, const uint8_t *in, size_t len)
{
    return test_feed_all(&te, &h->c, in, len, NULL, &h->out, &h->app);
}

static size_t rec(uint8_t type, uint16_t version, const uint8_t *d, size_t n, uint8_t *out)
{
    out[0] = type;
    put_u16(out + 1, version);
    put_u16(out + 3, (uint16_t)n);
    if (n)
        memmove(out + 5, d, n);
    return 5 + n;
}

/* ClientHello and the server flight: the connection waits for ClientKeyExchange. */
static h12_t *start(int kx, int ems)
{
    h12_t *h = aligned_alloc(_Alignof(h12_t), sizeof *h);
    memset(h, 0, sizeof *h);
    etls_tls_conn_init(&h->c, &ctx, &te.env);
    h->out = (etls_tls_buf_t){h->outb, 0, sizeof h->outb};
    h->app = (etls_tls_buf_t){h->appb, 0, sizeof h->appb};
    mini12_init(&h->m, te.env.aead, cert_rsa.pkey, (uint64_t)(kx * 10 + ems));
    mini12_ch_t o = {.suites = &kx_suite[kx], .n_suites = 1, .no_ems = !ems, .p256_only = kx == KX_P256};
    uint8_t ch[512], r[600];
    size_t n = mini12_client_hello(&h->m, &o, ch, sizeof ch);
    CHECK(feed(h, r, rec(CT_HANDSHAKE, 0x0301, ch, n, r)) == 0);
    CHECK_MSG(mini12_read_flight(&h->m, h->out.base, h->out.len) == 0, "kx %d: server flight", kx);
    CHECK(etls_tls_cipher(&h->c) == kx_suite[kx]);
    CHECK(etls_tls_group(&h->c) == (kx < KX_X25519 ? 0 : kx == KX_P256 ? ETLS_TLS_GROUP_SECP256R1 : ETLS_TLS_GROUP_X25519));
    h->out.len = 0;
    return h;
}

static void finish(h12_t *h)
{
    etls_tls_conn_wipe(&h->c);
    mini12_free(&h->m);
    free(h);
}

/* The exact fatal alert was returned, recorded and sent (plaintext or protected). */
static void expect_alert(h12_t *h, int rc, int desc, const char *what)
{
    CHECK_MSG(rc == ETLS_ERR_ALERT(desc) && etls_tls_alert_sent(&h->c) == desc,
              "%s: rc %d (sent %d), want alert %d", what, rc, etls_tls_alert_sent(&h->c), desc);
    if (rc == ETLS_ERR_ALERT(desc) && !h->c.wr.active) {
        const uint8_t want[7] = {21, 3, 3, 0, 2, 2, (uint8_t)desc};
        CHECK_MSG(h->out.len >= 7 && memcmp(h->out.base + h->out.len - 7, want, 7) == 0, "%s: alert bytes", what);
    }
    size_t used;
    CHECK(etls_tls_feed(&h->c, NULL, 0, &used, &h->out, &h->app) == rc); /* sticky */
}

/* ClientKeyExchange + change_cipher_spec (+ Finished when fin) as the client sends them. */
static size_t second_flight(h12_t *h, const uint8_t *em, int fin, uint8_t *out)
{
    uint8_t msg[600];
    size_t n = mini12_client_key_exchange(&h->m, em, msg);
    CHECK(n > 0);
    size_t o = rec(CT_HANDSHAKE, 0x0303, msg, n, out);
    o += rec(CT_CHANGE_CIPHER_SPEC, 0x0303, (const uint8_t *)"\1", 1, out + o);
    if (fin) {
        n = mini12_finished(&h->m, msg);
        o += mini12_seal(&h->m, CT_HANDSHAKE, msg, n, out + o);
    }
    return o;
}

/* The server's CCS + Finished verify (when fin), then data both ways. */
static void check_established(h12_t *h, const char *what, int fin)
{
    CHECK_MSG(etls_tls_handshake_done(&h->c), "%s: not established", what);
    CHECK_MSG(!fin || mini12_read_finished(&h->m, h->out.base, h->out.len) == 0, "%s: server Finished", what);
    h->out.len = 0;
    uint8_t r[200], pt[200], type;
    size_t n = mini12_seal(&h->m, CT_APPLICATION_DATA, (const uint8_t *)"ping", 4, r), used;
    h->app.len = 0;
    CHECK(feed(h, r, n) == 0 && h->app.len == 4 && memcmp(h->app.base, "ping", 4) == 0);
    CHECK(etls_tls_send(&h->c, (const uint8_t *)"pong!", 5, &used, &h->out) == 0 || etls_tls_parked(&h->c));
    if (etls_tls_parked(&h->c)) {
        test_env_run(&te);
        CHECK(etls_tls_send(&h->c, NULL, 0, &used, &h->out) == 0);
    }
    CHECK_MSG(mini12_open(&h->m, h->out.base, h->out.len, &type, pt, &used) == 5 && memcmp(pt, "pong!", 5) == 0,
              "%s: data from the server", what);
    h->out.len = 0;
}

static void test_positive(void)
{
    static const char *const names[] = {"RSA AES-128", "RSA AES-256", "ECDHE X25519", "ECDHE ChaCha"};
    for (int kx = KX_RSA; kx <= KX_CHACHA; kx++) {
        for (int ems = 0; ems < 2; ems++) {
            h12_t *h = start(kx, ems);
            uint8_t b[2000];
            CHECK_MSG(feed(h, b, second_flight(h, NULL, 1, b)) == 0, "%s ems=%d", names[kx], ems);
            CHECK(h->m.ems == ems);
            check_established(h, names[kx], 1);
            finish(h);
        }
    }
    /* a valid encoding of the client's premaster other than the usual one: PS of 0xff bytes */
    h12_t *h = start(KX_RSA, 1);
    uint8_t em[256], b[2000];
    memset(em, 0xff, sizeof em);
    em[0] = 0;
    em[1] = 2;
    em[256 - 49] = 0;
    /* the premaster mini12 will draw next: replay its RNG */
    mini12_t peek = h->m;
    uint8_t tmp[600];
    mini12_client_key_exchange(&peek, NULL, tmp);
    memcpy(em + 256 - 48, mini12_premaster(&peek), 48);
    mini12_free(&peek);
    CHECK(feed(h, b, second_flight(h, em, 1, b)) == 0);
    check_established(h, "RSA, PS of 0xff", 1);
    finish(h);
}

/* ---- second-flight cases: [CKE][CCS][Finished] rewritten ------------------------------------- */

typedef size_t (*build_fn)(h12_t *h, uint8_t *out);

static void flight_case(const char *what, int kx, build_fn build, int desc)
{
    h12_t *h = start(kx, 1);
    static uint8_t b[70000];
    size_t n = build(h, b);
    int rc = feed(h, b, n);
    expect_alert(h, rc, desc, what);
    finish(h);
}

static size_t cke_raw(h12_t *h, const uint8_t *body, size_t len, uint8_t *out)
{
    uint8_t msg[700];
    size_t n = mini12_client_key_exchange_raw(&h->m, body, len, msg);
    return rec(CT_HANDSHAKE, 0x0303, msg, n, out);
}

static size_t x_33(h12_t *h, uint8_t *o) { uint8_t b[34] = {33, 9}; return cke_raw(h, b, 34, o); }
static size_t x_31(h12_t *h, uint8_t *o) { uint8_t b[32] = {31, 9}; return cke_raw(h, b, 32, o); }
static size_t x_empty_point(h12_t *h, uint8_t *o) { uint8_t b[1] = {0}; return cke_raw(h, b, 1, o); }
static size_t cke_empty(h12_t *h, uint8_t *o) { return cke_raw(h, NULL, 0, o); }
static size_t x_trailing(h12_t *h, uint8_t *o) { uint8_t b[34] = {32, 9}; return cke_raw(h, b, 34, o); }
static size_t x_low_order(h12_t *h, uint8_t *o) { uint8_t b[33] = {32, 1}; return cke_raw(h, b, 33, o); } /* u = 1 */

static size_t p_point(h12_t *h, uint8_t *o, uint8_t first, size_t len, uint8_t fill)
{
    uint8_t b[80];
    b[0] = (uint8_t)len;
    memset(b + 1, fill, len);
    if (len)
        b[1] = first;
    return cke_raw(h, b, 1 + len, o);
}
static size_t p_compressed(h12_t *h, uint8_t *o) { return p_point(h, o, 2, 33, 0x11); }
static size_t p_short(h12_t *h, uint8_t *o) { return p_point(h, o, 4, 64, 0x11); }
static size_t p_long(h12_t *h, uint8_t *o) { return p_point(h, o, 4, 66, 0x11); }
static size_t p_infinity(h12_t *h, uint8_t *o) { return p_point(h, o, 0, 1, 0); }
static size_t p_off_curve(h12_t *h, uint8_t *o) { return p_point(h, o, 4, 65, 0x11); }
static size_t p_above_p(h12_t *h, uint8_t *o) { return p_point(h, o, 4, 65, 0xff); } /* x, y >= p */

static size_t r_short(h12_t *h, uint8_t *o) { uint8_t b[2 + 255] = {0, 255}; return cke_raw(h, b, sizeof b, o); }
static size_t r_long(h12_t *h, uint8_t *o) { uint8_t b[2 + 257] = {1, 1}; return cke_raw(h, b, sizeof b, o); }
static size_t r_no_prefix(h12_t *h, uint8_t *o) { uint8_t b[256] = {1}; return cke_raw(h, b, sizeof b, o); }
static size_t r_above_n(h12_t *h, uint8_t *o)
{
    uint8_t b[2 + 256];
    memset(b, 0xff, sizeof b);
    b[0] = 1;
    b[1] = 0;
    return cke_raw(h, b, sizeof b, o);
}
static size_t r_zero(h12_t *h, uint8_t *o) { uint8_t b[2] = {0, 0}; return cke_raw(h, b, 2, o); }
static size_t r_huge(h12_t *h, uint8_t *o) { uint8_t b[2 + 520] = {2, 8}; return cke_raw(h, b, sizeof b, o); }
static size_t r_trailing(h12_t *h, uint8_t *o) { uint8_t b[2 + 256 + 1] = {1, 0, 5}; return cke_raw(h, b, sizeof b, o); }

/* Finished variants, sealed under the right keys after a correct CKE and CCS. */
static size_t fin_body(h12_t *h, uint8_t *o, size_t len, int flip)
{
    size_t n = second_flight(h, NULL, 0, o);
    uint8_t msg[64] = {HT_FINISHED, 0, 0, (uint8_t)len};
    memcpy(msg + 4, h->m.client_fin, 12);
    if (flip)
        msg[4] ^= 1;
    return n + mini12_seal(&h->m, CT_HANDSHAKE, msg, 4 + len, o + n);
}
static size_t fin_short(h12_t *h, uint8_t *o) { return fin_body(h, o, 11, 0); }
static size_t fin_long(h12_t *h, uint8_t *o) { return fin_body(h, o, 13, 0); }
static size_t fin_empty(h12_t *h, uint8_t *o) { return fin_body(h, o, 0, 0); }
static size_t fin_wrong(h12_t *h, uint8_t *o) { return fin_body(h, o, 12, 1); }

static size_t fin_plaintext(h12_t *h, uint8_t *o)
{
    size_t n = second_flight(h, NULL, 0, o);
    uint8_t msg[16];
    mini12_finished(&h->m, msg);
    return n + rec(CT_HANDSHAKE, 0x0303, msg, 16, o + n);
}

/* the Finished under the server's write key instead of the client's */
static size_t fin_wrong_key(h12_t *h, uint8_t *o)
{
    size_t n = second_flight(h, NULL, 0, o);
    uint8_t msg[16];
    mini12_finished(&h->m, msg);
    etls_aead_key_t k = h->m.wkey;
    uint8_t iv[12];
    memcpy(iv, h->m.wiv, 12);
    h->m.wkey = h->m.rkey;
    memcpy(h->m.wiv, h->m.riv, 12);
    n += mini12_seal(&h->m, CT_HANDSHAKE, msg, 16, o + n);
    h->m.wkey = k;
    memcpy(h->m.wiv, iv, 12);
    return n;
}

/* a sequence number skipped: the first protected record claims seq 1 in its additional data */
static size_t fin_seq1(h12_t *h, uint8_t *o)
{
    size_t n = second_flight(h, NULL, 0, o);
    uint8_t msg[16];
    mini12_finished(&h->m, msg);
    h->m.wseq = 1;
    return n + mini12_seal(&h->m, CT_HANDSHAKE, msg, 16, o + n);
}

static size_t fin_version(h12_t *h, uint8_t *o)
{
    size_t n = second_flight(h, NULL, 1, o);
    o[n - (5 + 8 + 16 + 16) + 2] = 1; /* the protected Finished record says 0x0301 */
    return n;
}

static size_t cke_version(h12_t *h, uint8_t *o)
{
    size_t n = second_flight(h, NULL, 1, o);
    o[2] = 2; /* ClientKeyExchange record 0x0302 */
    return n;
}

static size_t ccs_version(h12_t *h, uint8_t *o)
{
    size_t n = second_flight(h, NULL, 1, o);
    size_t ccs = 5 + (size_t)(o[3] << 8 | o[4]);
    o[ccs + 1] = 2; /* change_cipher_spec record 0x0203 */
    return n;
}

static size_t ccs_body(h12_t *h, uint8_t *o, const uint8_t *body, size_t len)
{
    uint8_t msg[600];
    size_t n = mini12_client_key_exchange(&h->m, NULL, msg);
    size_t k = rec(CT_HANDSHAKE, 0x0303, msg, n, o);
    return k + rec(CT_CHANGE_CIPHER_SPEC, 0x0303, body, len, o + k);
}
static size_t ccs_two(h12_t *h, uint8_t *o) { return ccs_body(h, o, (const uint8_t *)"\1\1", 2); }
static size_t ccs_empty(h12_t *h, uint8_t *o) { return ccs_body(h, o, NULL, 0); }
static size_t ccs_zero(h12_t *h, uint8_t *o) { return ccs_body(h, o, (const uint8_t *)"\0", 1); }

/* the CKE split over two records with the CCS between the fragments */
static size_t ccs_inside_msg(h12_t *h, uint8_t *o)
{
    uint8_t msg[600];
    size_t n = mini12_client_key_exchange(&h->m, NULL, msg);
    size_t k = rec(CT_HANDSHAKE, 0x0303, msg, 10, o);
    k += rec(CT_CHANGE_CIPHER_SPEC, 0x0303, (const uint8_t *)"\1", 1, o + k);
    return k + rec(CT_HANDSHAKE, 0x0303, msg + 10, n - 10, o + k);
}

/* a protected change_cipher_spec where the Finished belongs */
static size_t ccs_protected(h12_t *h, uint8_t *o)
{
    size_t n = second_flight(h, NULL, 0, o);
    return n + mini12_seal(&h->m, CT_CHANGE_CIPHER_SPEC, (const uint8_t *)"\1", 1, o + n);
}

/* Unexpected messages: in ST12_CLIENT_KEY_EXCHANGE (plaintext), in ST12_CHANGE_CIPHER_SPEC
 * (after the CKE, plaintext), and in ST12_FINISHED (protected). */
static size_t msg_of(uint8_t type, size_t body, uint8_t *msg)
{
    msg[0] = type;
    msg[1] = 0;
    put_u16(msg + 2, (uint16_t)body);
    memset(msg + 4, 0, body);
    if (type == HT_KEY_UPDATE)
        msg[4] = 0;
    return 4 + body;
}
static uint8_t g_type;
static size_t in_cke_state(h12_t *h, uint8_t *o)
{
    uint8_t msg[64];
    (void)h;
    return rec(CT_HANDSHAKE, 0x0303, msg, msg_of(g_type, g_type == HT_KEY_UPDATE ? 1 : 12, msg), o);
}
static size_t in_ccs_state(h12_t *h, uint8_t *o)
{
    uint8_t msg[600];
    size_t n = mini12_client_key_exchange(&h->m, NULL, msg), k = rec(CT_HANDSHAKE, 0x0303, msg, n, o);
    return k + rec(CT_HANDSHAKE, 0x0303, msg, msg_of(g_type, g_type == HT_KEY_UPDATE ? 1 : 12, msg), o + k);
}
static size_t in_fin_state(h12_t *h, uint8_t *o)
{
    uint8_t msg[64];
    size_t n = second_flight(h, NULL, 0, o);
    return n + mini12_seal(&h->m, CT_HANDSHAKE, msg, msg_of(g_type, g_type == HT_KEY_UPDATE ? 1 : 12, msg), o + n);
}
static size_t data_in_fin_state(h12_t *h, uint8_t *o)
{
    size_t n = second_flight(h, NULL, 0, o);
    return n + mini12_seal(&h->m, CT_APPLICATION_DATA, (const uint8_t *)"early", 5, o + n);
}
static size_t data_plain_in_ccs_state(h12_t *h, uint8_t *o)
{
    uint8_t msg[600];
    size_t n = mini12_client_key_exchange(&h->m, NULL, msg), k = rec(CT_HANDSHAKE, 0x0303, msg, n, o);
    return k + rec(CT_APPLICATION_DATA, 0x0303, (const uint8_t *)"x", 1, o + k);
}
static size_t record_bad_type(h12_t *h, uint8_t *o)
{
    (void)h;
    return rec(24, 0x0303, (const uint8_t *)"\1\2\3", 3, o); /* heartbeat (RFC 6520): not ours */
}
static size_t record_too_long(h12_t *h, uint8_t *o)
{
    (void)h;
    static uint8_t big[16385];
    return rec(CT_HANDSHAKE, 0x0303, big, sizeof big, o);
}

static void test_second_flight(void)
{
    flight_case("X25519 point 33 bytes", KX_X25519, x_33, ETLS_ALERT_ILLEGAL_PARAMETER);
    flight_case("X25519 point 31 bytes", KX_X25519, x_31, ETLS_ALERT_ILLEGAL_PARAMETER);
    flight_case("X25519 empty point", KX_X25519, x_empty_point, ETLS_ALERT_DECODE_ERROR);
    flight_case("X25519 trailing byte", KX_X25519, x_trailing, ETLS_ALERT_DECODE_ERROR);
    flight_case("X25519 low-order point", KX_X25519, x_low_order, ETLS_ALERT_ILLEGAL_PARAMETER);
    flight_case("X25519 empty message", KX_X25519, cke_empty, ETLS_ALERT_DECODE_ERROR);
    flight_case("P-256 compressed point", KX_P256, p_compressed, ETLS_ALERT_ILLEGAL_PARAMETER);
    flight_case("P-256 point 64 bytes", KX_P256, p_short, ETLS_ALERT_ILLEGAL_PARAMETER);
    flight_case("P-256 point 66 bytes", KX_P256, p_long, ETLS_ALERT_ILLEGAL_PARAMETER);
    flight_case("P-256 infinity", KX_P256, p_infinity, ETLS_ALERT_ILLEGAL_PARAMETER);
    flight_case("P-256 off the curve", KX_P256, p_off_curve, ETLS_ALERT_ILLEGAL_PARAMETER);
    flight_case("P-256 coordinates >= p", KX_P256, p_above_p, ETLS_ALERT_ILLEGAL_PARAMETER);
    flight_case("RSA ciphertext 255 bytes", KX_RSA, r_short, ETLS_ALERT_DECRYPT_ERROR);
    flight_case("RSA ciphertext 257 bytes", KX_RSA, r_long, ETLS_ALERT_DECRYPT_ERROR);
    flight_case("RSA ciphertext without its length (SSLv3 style)", KX_RSA, r_no_prefix, ETLS_ALERT_DECODE_ERROR);
    flight_case("RSA ciphertext >= n", KX_RSA, r_above_n, ETLS_ALERT_DECRYPT_ERROR);
    flight_case("RSA trailing byte", KX_RSA, r_trailing, ETLS_ALERT_DECODE_ERROR);
    flight_case("RSA empty ciphertext", KX_RSA, r_zero, ETLS_ALERT_DECRYPT_ERROR);
    flight_case("RSA message over 2 + 512 bytes", KX_RSA, r_huge, ETLS_ALERT_DECODE_ERROR);
    flight_case("RSA empty message", KX_RSA, cke_empty, ETLS_ALERT_DECODE_ERROR);
    for (int kx = KX_RSA; kx <= KX_CHACHA; kx += 2) {
        flight_case("Finished 11 bytes", kx, fin_short, ETLS_ALERT_DECODE_ERROR);
        flight_case("Finished 13 bytes", kx, fin_long, ETLS_ALERT_DECODE_ERROR);
        flight_case("Finished empty", kx, fin_empty, ETLS_ALERT_DECODE_ERROR);
        flight_case("Finished wrong verify_data", kx, fin_wrong, ETLS_ALERT_DECRYPT_ERROR);
        flight_case("Finished in plaintext after CCS", kx, fin_plaintext, ETLS_ALERT_BAD_RECORD_MAC);
        flight_case("Finished under the server's key", kx, fin_wrong_key, ETLS_ALERT_BAD_RECORD_MAC);
        flight_case("Finished with sequence number 1", kx, fin_seq1, ETLS_ALERT_BAD_RECORD_MAC);
        flight_case("protected record version 0x0301", kx, fin_version, ETLS_ALERT_PROTOCOL_VERSION);
        flight_case("CKE record version 0x0302", kx, cke_version, ETLS_ALERT_PROTOCOL_VERSION);
        flight_case("CCS record version 0x0203", kx, ccs_version, ETLS_ALERT_PROTOCOL_VERSION);
        flight_case("CCS body 01 01", kx, ccs_two, ETLS_ALERT_UNEXPECTED_MESSAGE);
        flight_case("CCS empty", kx, ccs_empty, ETLS_ALERT_UNEXPECTED_MESSAGE);
        flight_case("CCS body 00", kx, ccs_zero, ETLS_ALERT_UNEXPECTED_MESSAGE);
        flight_case("CCS inside a fragmented CKE", kx, ccs_inside_msg, ETLS_ALERT_UNEXPECTED_MESSAGE);
        flight_case("protected CCS", kx, ccs_protected, ETLS_ALERT_UNEXPECTED_MESSAGE);
        flight_case("application data before Finished", kx, data_in_fin_state, ETLS_ALERT_UNEXPECTED_MESSAGE);
        flight_case("plaintext application data before CCS", kx, data_plain_in_ccs_state, ETLS_ALERT_UNEXPECTED_MESSAGE);
        flight_case("record type 24", kx, record_bad_type, ETLS_ALERT_UNEXPECTED_MESSAGE);
        flight_case("plaintext record of 2^14 + 1 bytes", kx, record_too_long, ETLS_ALERT_RECORD_OVERFLOW);
    }
    static const uint8_t types[] = {HT_CLIENT_HELLO, HT_SERVER_HELLO, HT_CERTIFICATE, HT_SERVER_KEY_EXCHANGE,
                                    HT_CERTIFICATE_VERIFY, HT_FINISHED, HT_KEY_UPDATE, HT_NEW_SESSION_TICKET, 99};
    char what[96];
    for (size_t i = 0; i < sizeof types; i++) {
        g_type = types[i];
        snprintf(what, sizeof what, "message %u awaiting CKE", types[i]);
        flight_case(what, KX_RSA, in_cke_state, ETLS_ALERT_UNEXPECTED_MESSAGE);
        snprintf(what, sizeof what, "message %u awaiting CCS", types[i]);
        flight_case(what, KX_X25519, in_ccs_state, ETLS_ALERT_UNEXPECTED_MESSAGE);
        if (types[i] != HT_FINISHED) {
            snprintf(what, sizeof what, "message %u awaiting Finished", types[i]);
            flight_case(what, KX_RSA256, in_fin_state, ETLS_ALERT_UNEXPECTED_MESSAGE);
        }
    }
    g_type = HT_CLIENT_KEY_EXCHANGE;
    flight_case("second ClientKeyExchange", KX_X25519, in_ccs_state, ETLS_ALERT_UNEXPECTED_MESSAGE);
    flight_case("ClientKeyExchange after CCS", KX_RSA, in_fin_state, ETLS_ALERT_UNEXPECTED_MESSAGE);
}

/* ---- after the handshake ------------------------------------------------------------------- */

static h12_t *established(int kx)
{
    h12_t *h = start(kx, 1);
    uint8_t b[2000];
    CHECK(feed(h, b, second_flight(h, NULL, 1, b)) == 0);
    CHECK(mini12_read_finished(&h->m, h->out.base, h->out.len) == 0);
    h->out.len = 0;
    return h;
}

static void after_handshake(const char *what, int kx, uint8_t type, const uint8_t *d, size_t n, int desc)
{
    h12_t *h = established(kx);
    uint8_t r[200];
    int rc = feed(h, r, mini12_seal(&h->m, type, d, n, r));
    expect_alert(h, rc, desc, what);
    finish(h);
}

static void test_established(void)
{
    static const uint8_t ku[] = {HT_KEY_UPDATE, 0, 0, 1, 0}, fin[16] = {HT_FINISHED, 0, 0, 12};
    static const uint8_t cke[] = {HT_CLIENT_KEY_EXCHANGE, 0, 0, 2, 0, 0};
    after_handshake("KeyUpdate (none in TLS 1.2)", KX_RSA, CT_HANDSHAKE, ku, sizeof ku, ETLS_ALERT_UNEXPECTED_MESSAGE);
    after_handshake("second Finished", KX_X25519, CT_HANDSHAKE, fin, sizeof fin, ETLS_ALERT_UNEXPECTED_MESSAGE);
    after_handshake("ClientKeyExchange", KX_RSA, CT_HANDSHAKE, cke, sizeof cke, ETLS_ALERT_UNEXPECTED_MESSAGE);
    after_handshake("protected CCS", KX_CHACHA, CT_CHANGE_CIPHER_SPEC, (const uint8_t *)"\1", 1,
                    ETLS_ALERT_UNEXPECTED_MESSAGE);
    /* a record that does not open, and one with a bad version */
    h12_t *h = established(KX_RSA);
    uint8_t r[200];
    size_t n = mini12_seal(&h->m, CT_APPLICATION_DATA, (const uint8_t *)"data", 4, r);
    r[n - 1] ^= 1;
    expect_alert(h, feed(h, r, n), ETLS_ALERT_BAD_RECORD_MAC, "tampered data");
    finish(h);
    h = established(KX_X25519);
    n = mini12_seal(&h->m, CT_APPLICATION_DATA, (const uint8_t *)"data", 4, r);
    r[1] = 2;
    expect_alert(h, feed(h, r, n), ETLS_ALERT_PROTOCOL_VERSION, "data record version 0x0203");
    finish(h);
    /* renegotiation: each ClientHello (RFC 5746 §4.4) gets the warning no_renegotiation and the
     * connection goes on */
    h = established(KX_RSA);
    for (int i = 0; i < 3; i++) {
        uint8_t ch[512], type, pt[64];
        size_t used;
        mini12_t other;
        mini12_init(&other, te.env.aead, NULL, 99);
        size_t cl = mini12_client_hello(&other, NULL, ch, sizeof ch);
        CHECK(feed(h, r, mini12_seal(&h->m, CT_HANDSHAKE, ch, cl, r)) == 0);
        CHECK(mini12_open(&h->m, h->out.base, h->out.len, &type, pt, &used) == 2 && type == CT_ALERT &&
              pt[0] == 1 && pt[1] == ETLS_ALERT_NO_RENEGOTIATION && used == h->out.len);
        h->out.len = 0;
        mini12_free(&other);
    }
    check_established(h, "after renegotiation attempts", 0);
    finish(h);
}

int main(int argc, char **argv)
{
    size_t batch_cap = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 0;
    etls_test_seed("tls12_negative");
    CHECK(test_env_init(&te, batch_cap) == 0);
    CHECK(test_cert_make(&cert_ec, KEY_ECDSA, "server.example") == 0);
    CHECK(test_cert_make(&cert_rsa, KEY_RSA, "server.example") == 0);
    CHECK(etls_tls_server_ctx_init(&ctx, &te.rng) == 0);
    CHECK(etls_tls_server_ctx_set_protocols(&ctx, ETLS_TLS_PROTO_12) == 0);
    ctx.tls12_rsa_kx = 1;
    CHECK(test_ctx_add(&ctx, &cert_ec, NULL, 1) == 0);
    CHECK(test_ctx_add(&ctx, &cert_rsa, NULL, 0) == 0);
    test_positive();
    test_second_flight();
    test_established();
    etls_tls_server_ctx_free(&ctx);
    test_cert_free(&cert_ec);
    test_cert_free(&cert_rsa);
    CHECK(test_env_free(&te) == 0);
    return etls_test_summary("tls12_negative");
}
