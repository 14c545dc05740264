/* Negative (and byte-level positive) tests of the engine with a hand-built client: every
 * malformed or out-of-order input must end with the exact alert RFC 8446 asks for.
 * argv[1] = batch capacity (0 = inline crypto). */
#include "harness.h"
#include "mini_client.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

static test_env_t te;
static etls_tls_server_ctx_t ctx;
static test_cert_t cert;

typedef struct srv {
    etls_tls_conn_t c;
    etls_tls_buf_t out, app;
    uint8_t outb[1 << 16];
    uint8_t appb[1 << 17];
} srv_t;

static srv_t *srv_new(const etls_tls_server_ctx_t *sctx)
{
    srv_t *s = aligned_alloc(_Alignof(srv_t), sizeof *s);
    memset(s, 0, sizeof *s);
    etls_tls_conn_init(&s->c, sctx ? sctx : &ctx, &te.env);
    s->out = (etls_tls_buf_t){s->outb, 0, sizeof s->outb};
    s->app = (etls_tls_buf_t){s->appb, 0, sizeof s->appb};
    return s;
}

static void srv_free(srv_t *s)
{
    etls_tls_conn_wipe(&s->c);
    free(s);
}

/* Feeds everything, resuming parked work; returns the last code and the bytes consumed. */
static int srv_feed(srv_t *s, const uint8_t *in, size_t len, size_t *consumed)
{
    return test_feed_all(&te, &s->c, in, len, consumed, &s->out, &s->app);
}

/* The exact alert was returned, recorded, and written as the last record of out. */
static void expect_alert(srv_t *s, int rc, int desc, const char *what)
{
    CHECK_MSG(rc == ETLS_ERR_ALERT(desc), "%s: rc %d, want alert %d", what, rc, desc);
    CHECK_MSG(etls_tls_alert_sent(&s->c) == desc, "%s: sent %d", what, etls_tls_alert_sent(&s->c));
    if (!s->c.wr.active) {
        const uint8_t want[7] = {21, 3, 3, 0, 2, 2, (uint8_t)desc};
        CHECK_MSG(s->out.len >= 7 && memcmp(s->out.base + s->out.len - 7, want, 7) == 0, "%s: alert bytes", what);
    } else {
        CHECK_MSG(s->out.len >= 5 + 3 + 8 && s->out.base[0] == 23, "%s: protected alert written", what);
    }
    size_t used;
    CHECK(etls_tls_feed(&s->c, NULL, 0, &used, &s->out, &s->app) == rc); /* sticky */
}

/* Sends all of d, resuming parked seals; the records end up in s->out. */
static int srv_send_all(srv_t *s, const uint8_t *d, size_t len)
{
    size_t off = 0, used;
    for (;;) {
        int rc = etls_tls_send(&s->c, d + off, len - off, &used, &s->out);
        off += used;
        if (rc == ETLS_ERR_IN_PROGRESS) {
            test_env_run(&te);
            continue;
        }
        if (rc != 0 || off == len)
            return rc;
    }
}

static int feed_ch(srv_t *s, mini_t *m, const ch_opts_t *o, uint8_t *ch, size_t *ch_len)
{
    uint8_t rec[70000];
    *ch_len = mini_build_ch(m, o, ch, 66000);
    size_t n = mini_records(22, ch, *ch_len, 0, rec);
    return srv_feed(s, rec, n, NULL);
}

static void ch_case(const char *what, const ch_opts_t *o, int desc)
{
    static mini_t m;
    uint8_t ch[66000];
    size_t ch_len;
    mini_init(&m, te.env.aead, 1);
    srv_t *s = srv_new(NULL);
    int rc = feed_ch(s, &m, o, ch, &ch_len);
    if (desc < 0) {
        CHECK_MSG(rc == 0 && s->out.len > 0, "%s: rc %d", what, rc);
        CHECK_MSG(mini_read_flight(&m, ch, ch_len, s->out.base, s->out.len) == 0, "%s: flight", what);
    } else {
        expect_alert(s, rc, desc, what);
    }
    srv_free(s);
    mini_free(&m);
}

static void test_client_hello_fields(void)
{
    static const uint16_t no_common[] = {0x1399, 0x00ff};
    static const uint16_t g384[] = {0x0018};
    static const uint16_t g_p256_only[] = {ETLS_TLS_GROUP_SECP256R1};
    static const uint16_t sig_sha1[] = {0x0201};
    static const uint8_t comp_deflate[] = {1}, comp_two[] = {0, 1};
    static const uint8_t zero32[32];
    static const uint8_t psk_first[] = {0, 41, 0, 44, 0, 7, 0, 1, 'x', 0, 0, 0, 0, 0, 33, 32, 1, 2, 3,
                                        4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
                                        20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
    static const uint8_t psk_ok[] = {0, 45, 0, 2, 1, 1, 0, 41, 0, 44, 0, 7, 0, 1, 'x', 0, 0, 0, 0,
                                     0, 33, 32, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                     16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
    static const uint8_t unknown_ext[] = {0xfe, 0xfe, 0, 3, 1, 2, 3, 0x0a, 0x0a, 0, 0};
    static const uint8_t dup_unknown[] = {0xfe, 0xfe, 0, 0, 0xfe, 0xfe, 0, 0};
    static const uint8_t bad_versions[] = {0, 43, 0, 2, 1, 3}; /* inner length 1: odd */
    static uint8_t two_shares[4 + 2 + 2 * 36] = {0, 51, 0, 74, 0, 72, 0, 0x1d, 0, 32};
    memcpy(two_shares + 6 + 36, "\x00\x1d\x00\x20", 4);
    two_shares[10] = 9; /* non-zero public values */
    two_shares[46] = 9;
    ch_opts_t o;
#define CASE(what, desc, ...)                                                                    \
    do {                                                                                         \
        memset(&o, 0, sizeof o);                                                                 \
        __VA_ARGS__;                                                                             \
        ch_case(what, &o, desc);                                                                 \
    } while (0)
    CASE("valid", -1, (void)0);
    CASE("valid with session id and SNI", -1, o.sid_len = 32, o.sni = "server.example");
    CASE("unknown extensions ignored", -1, o.extra = unknown_ext, o.extra_len = sizeof unknown_ext);
    CASE("psk ignored when last", -1, o.extra = psk_ok, o.extra_len = sizeof psk_ok);
    CASE("no supported_versions", ETLS_ALERT_PROTOCOL_VERSION, o.no_versions = 1);
    CASE("only TLS 1.2 offered", ETLS_ALERT_PROTOCOL_VERSION, o.version = 0x0303);
    CASE("legacy_version 0x0301", ETLS_ALERT_PROTOCOL_VERSION, o.legacy_version = 0x0301);
    CASE("no common suite", ETLS_ALERT_HANDSHAKE_FAILURE, o.suites = no_common, o.n_suites = 2);
    CASE("no common group", ETLS_ALERT_HANDSHAKE_FAILURE, o.groups = g384, o.n_groups = 1,
         o.share_group = 0x0018, o.share_len = 97);
    CASE("share not in supported_groups", ETLS_ALERT_ILLEGAL_PARAMETER, o.groups = g_p256_only,
         o.n_groups = 1);
    CASE("bad x25519 share length", ETLS_ALERT_ILLEGAL_PARAMETER, o.share_group = ETLS_TLS_GROUP_X25519,
         o.share_len = 31);
    CASE("low-order x25519 share", ETLS_ALERT_ILLEGAL_PARAMETER, o.share_key = zero32);
    CASE("compression deflate", ETLS_ALERT_ILLEGAL_PARAMETER, o.comp = comp_deflate, o.comp_len = 1);
    CASE("two compression methods", ETLS_ALERT_ILLEGAL_PARAMETER, o.comp = comp_two, o.comp_len = 2);
    CASE("no signature_algorithms", ETLS_ALERT_MISSING_EXTENSION, o.no_sigalgs = 1);
    CASE("no key_share", ETLS_ALERT_MISSING_EXTENSION, o.no_key_share = 1);
    CASE("no supported_groups", ETLS_ALERT_MISSING_EXTENSION, o.no_groups = 1);
    CASE("no usable signature scheme", ETLS_ALERT_HANDSHAKE_FAILURE, o.sigalgs = sig_sha1, o.n_sigalgs = 1);
    CASE("duplicate extension", ETLS_ALERT_ILLEGAL_PARAMETER, o.dup_groups = 1);
    CASE("duplicate unknown extension", ETLS_ALERT_ILLEGAL_PARAMETER, o.extra = dup_unknown,
         o.extra_len = sizeof dup_unknown);
    CASE("pre_shared_key without psk_key_exchange_modes", ETLS_ALERT_MISSING_EXTENSION,
         o.extra = psk_first, o.extra_len = sizeof psk_first);
    CASE("record_size_limit below 64", ETLS_ALERT_ILLEGAL_PARAMETER, o.rsl = 63);
    CASE("duplicate supported_versions", ETLS_ALERT_ILLEGAL_PARAMETER, o.extra = bad_versions,
         o.extra_len = sizeof bad_versions);
    CASE("session id of 33 bytes", ETLS_ALERT_DECODE_ERROR, o.sid_len = 33);
    CASE("P-256 share not on the curve", ETLS_ALERT_ILLEGAL_PARAMETER, o.groups = g_p256_only,
         o.n_groups = 1, o.share_group = ETLS_TLS_GROUP_SECP256R1);
    CASE("P-256 share compressed", ETLS_ALERT_ILLEGAL_PARAMETER, o.groups = g_p256_only,
         o.n_groups = 1, o.share_group = ETLS_TLS_GROUP_SECP256R1, o.share_len = 33);
    CASE("two key shares for one group", ETLS_ALERT_ILLEGAL_PARAMETER, o.no_key_share = 1,
         o.extra = two_shares, o.extra_len = sizeof two_shares);
#undef CASE
}

/* §4.2: duplicates are refused however many extension types a ClientHello carries (the parser
 * keeps a short list of types above 255 and moves to a full map beyond it). */
static void test_many_extensions(void)
{
    static uint8_t ext[4 * 40 + 4];
    ch_opts_t o;
    for (int i = 0; i < 40; i++) { /* 40 distinct empty extensions 0x1000.. 0x1027 */
        ext[4 * i] = 0x10;
        ext[4 * i + 1] = (uint8_t)i;
    }
    memset(&o, 0, sizeof o);
    o.extra = ext;
    o.extra_len = 4 * 40;
    ch_case("40 distinct unknown extensions", &o, -1);
    ext[4 * 40] = 0x10; /* then 0x1003 again */
    ext[4 * 40 + 1] = 3;
    o.extra_len = 4 * 41;
    ch_case("duplicate unknown extension after 40", &o, ETLS_ALERT_ILLEGAL_PARAMETER);
    ext[4 * 40] = 0; /* then supported_groups (10), sent before the extras, again */
    ext[4 * 40 + 1] = 10;
    ch_case("duplicate supported_groups after 40 unknown extensions", &o,
            ETLS_ALERT_ILLEGAL_PARAMETER);
    o.extra_len = 4 * 10 + 4; /* 10 unknown ones (the short list), then supported_groups */
    memcpy(ext + 4 * 10, ext + 4 * 40, 4);
    ch_case("duplicate supported_groups after 10 unknown extensions", &o,
            ETLS_ALERT_ILLEGAL_PARAMETER);
}

/* §4.2.11: pre_shared_key must be the last extension. */
static void test_psk_position(void)
{
    static const uint8_t psk_then_other[] = {0, 45, 0, 2, 1, 1, 0, 41, 0, 44, 0, 7, 0, 1, 'x', 0, 0,
                                             0, 0, 0, 33, 32, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                             13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,
                                             27, 28, 29, 30, 31, 32, 0xfe, 0xfd, 0, 0};
    ch_opts_t o;
    memset(&o, 0, sizeof o);
    o.extra = psk_then_other;
    o.extra_len = sizeof psk_then_other;
    ch_case("psk followed by another extension", &o, ETLS_ALERT_ILLEGAL_PARAMETER);
}

/* Raw byte surgery on a valid ClientHello. */
static void test_client_hello_encoding(void)
{
    ch_opts_t o;
    memset(&o, 0, sizeof o);
    static mini_t m;
    uint8_t ch[4096], rec[5000];
    mini_init(&m, te.env.aead, 2);
    size_t n = mini_build_ch(&m, &o, ch, sizeof ch);
    const size_t suites_at = 4 + 2 + 32 + 1;
    struct {
        const char *what;
        int kind;
        int desc;
    } cases[] = {
        {"odd cipher_suites length", 0, ETLS_ALERT_DECODE_ERROR},
        {"truncated extensions", 1, ETLS_ALERT_DECODE_ERROR},
        {"trailing byte", 2, ETLS_ALERT_DECODE_ERROR},
        {"empty cipher_suites", 3, ETLS_ALERT_DECODE_ERROR},
        {"ClientHello then another message in the same record", 4, ETLS_ALERT_UNEXPECTED_MESSAGE},
        {"Finished instead of ClientHello", 5, ETLS_ALERT_UNEXPECTED_MESSAGE},
        {"ClientHello larger than the bound", 6, ETLS_ALERT_ILLEGAL_PARAMETER},
        {"body shorter than the fixed fields", 7, ETLS_ALERT_DECODE_ERROR},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t b[4200];
        size_t l = n;
        memcpy(b, ch, n);
        switch (cases[i].kind) {
        case 0:
            b[suites_at + 1] = 3;
            break;
        case 1: /* drop the last 3 bytes, fix the message length only */
            l -= 3;
            b[3] = (uint8_t)(l - 4);
            b[2] = (uint8_t)((l - 4) >> 8);
            break;
        case 2:
            b[l++] = 0;
            b[3] = (uint8_t)(l - 4);
            b[2] = (uint8_t)((l - 4) >> 8);
            break;
        case 3:
            b[suites_at + 1] = 0;
            break;
        case 4:
            memcpy(b + l, "\x14\x00\x00\x00", 4);
            l += 4;
            break;
        case 5:
            b[0] = 20;
            break;
        case 6: /* 2^17 + 1: one byte over ETLS_TLS_MAX_HS_MSG */
            b[1] = 2;
            b[2] = 0;
            b[3] = 1;
            l = 4;
            break;
        case 7:
            l = 4 + 20;
            b[1] = 0;
            b[2] = 0;
            b[3] = 20;
            break;
        }
        srv_t *s = srv_new(NULL);
        size_t rl = mini_records(22, b, l, 0, rec);
        expect_alert(s, srv_feed(s, rec, rl, NULL), cases[i].desc, cases[i].what);
        srv_free(s);
    }
    mini_free(&m);
}

static void test_records(void)
{
    struct {
        const char *what;
        const uint8_t *bytes;
        size_t len;
        int desc;
    } cases[] = {
        {"garbage (HTTP)", (const uint8_t *)"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, ETLS_ALERT_UNEXPECTED_MESSAGE},
        {"content type 0", (const uint8_t *)"\x00\x03\x03\x00\x01\x00", 6, ETLS_ALERT_UNEXPECTED_MESSAGE},
        {"content type 24 (heartbeat)", (const uint8_t *)"\x18\x03\x03\x00\x01\x00", 6, ETLS_ALERT_UNEXPECTED_MESSAGE},
        {"plaintext record overflow", (const uint8_t *)"\x16\x03\x01\x40\x01", 5, ETLS_ALERT_RECORD_OVERFLOW},
        {"empty handshake record", (const uint8_t *)"\x16\x03\x01\x00\x00", 5, ETLS_ALERT_UNEXPECTED_MESSAGE},
        {"application data before handshake", (const uint8_t *)"\x17\x03\x03\x00\x02hi", 7, ETLS_ALERT_UNEXPECTED_MESSAGE},
        {"change_cipher_spec before ClientHello", (const uint8_t *)"\x14\x03\x03\x00\x01\x01", 6, ETLS_ALERT_UNEXPECTED_MESSAGE},
        {"alert of 3 bytes", (const uint8_t *)"\x15\x03\x03\x00\x03\x02\x28\x00", 8, ETLS_ALERT_DECODE_ERROR},
        {"empty alert record", (const uint8_t *)"\x15\x03\x03\x00\x00", 5, ETLS_ALERT_UNEXPECTED_MESSAGE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        srv_t *s = srv_new(NULL);
        expect_alert(s, srv_feed(s, cases[i].bytes, cases[i].len, NULL), cases[i].desc, cases[i].what);
        srv_free(s);
    }
    /* A truncated record is not consumed and produces nothing until it completes. */
    srv_t *s = srv_new(NULL);
    size_t used = 99;
    CHECK(srv_feed(s, (const uint8_t *)"\x16\x03\x01\x00\x30\x01\x00", 7, &used) == 0);
    CHECK(used == 0 && s->out.len == 0);
    CHECK(srv_feed(s, (const uint8_t *)"\x16\x03", 2, &used) == 0 && used == 0);
    srv_free(s);
    /* A fatal alert from the client: reported, nothing sent back. */
    s = srv_new(NULL);
    CHECK(srv_feed(s, (const uint8_t *)"\x15\x03\x03\x00\x02\x02\x28", 7, NULL) == ETLS_TLS_ERR_PEER_ALERT(40));
    CHECK(etls_tls_peer_alert(&s->c) == 40 && etls_tls_alert_sent(&s->c) == -1 && s->out.len == 0);
    srv_free(s);
    /* close_notify before anything else: the peer is done, later bytes are ignored. */
    s = srv_new(NULL);
    CHECK(srv_feed(s, (const uint8_t *)"\x15\x03\x03\x00\x02\x01\x00\x16\x03\x01\x00\x01\x01", 13, &used) == 0);
    CHECK(etls_tls_peer_closed(&s->c) && used == 13 && s->out.len == 0);
    srv_free(s);
}

/* Runs a handshake with the mini client up to (not including) the client Finished. */
static srv_t *to_finished(mini_t *m, const ch_opts_t *o, const etls_tls_server_ctx_t *sctx, size_t frag)
{
    uint8_t ch[70000], rec[72000];
    mini_init(m, te.env.aead, 3);
    srv_t *s = srv_new(sctx);
    size_t n = mini_build_ch(m, o, ch, sizeof ch);
    size_t rl = mini_records(22, ch, n, frag, rec);
    int rc = srv_feed(s, rec, rl, NULL);
    CHECK_MSG(rc == 0, "hello: %d", rc);
    int fr = mini_read_flight(m, ch, n, s->out.base, s->out.len);
    CHECK_MSG(fr == 0, "flight: %d", fr);
    s->out.len = 0;
    return s;
}

static int send_finished(srv_t *s, mini_t *m, int corrupt, size_t frag)
{
    uint8_t fin[64], rec[256];
    size_t n = mini_finished_msg(m, fin), rl = 0;
    if (corrupt)
        fin[4] ^= 0x80;
    if (!frag) {
        rl = mini_seal(m, 22, fin, n, 0, rec);
    } else {
        for (size_t off = 0; off < n; off += frag)
            rl += mini_seal(m, 22, fin + off, n - off < frag ? n - off : frag, 3, rec + rl);
    }
    return srv_feed(s, rec, rl, NULL);
}

static void test_after_server_flight(void)
{
    ch_opts_t o;
    memset(&o, 0, sizeof o);
    static mini_t m;
    uint8_t rec[20000];
    srv_t *s;

    s = to_finished(&m, &o, NULL, 0);
    expect_alert(s, send_finished(s, &m, 1, 0), ETLS_ALERT_DECRYPT_ERROR, "bad client Finished");
    srv_free(s);

    s = to_finished(&m, &o, NULL, 0);
    uint8_t fin[64];
    size_t fl = mini_finished_msg(&m, fin);
    fin[3]++;
    expect_alert(s, srv_feed(s, rec, mini_seal(&m, 22, fin, fl + 1, 0, rec), NULL), ETLS_ALERT_DECODE_ERROR,
                 "Finished of the wrong length");
    srv_free(s);

    s = to_finished(&m, &o, NULL, 0);
    expect_alert(s, srv_feed(s, rec, mini_seal(&m, 23, (const uint8_t *)"early", 5, 0, rec), NULL),
                 ETLS_ALERT_UNEXPECTED_MESSAGE, "application data before Finished");
    srv_free(s);

    s = to_finished(&m, &o, NULL, 0);
    size_t rl = mini_seal(&m, 22, (const uint8_t *)"\x0b\x00\x00\x00", 4, 0, rec);
    expect_alert(s, srv_feed(s, rec, rl, NULL), ETLS_ALERT_UNEXPECTED_MESSAGE, "Certificate from client");
    srv_free(s);

    s = to_finished(&m, &o, NULL, 0);
    rl = mini_seal(&m, 22, fin, fl, 0, rec);
    rec[rl - 1] ^= 1;
    expect_alert(s, srv_feed(s, rec, rl, NULL), ETLS_ALERT_BAD_RECORD_MAC, "corrupted record");
    srv_free(s);

    s = to_finished(&m, &o, NULL, 0);
    static const uint8_t zeros[40];
    rl = mini_seal(&m, 0, zeros, sizeof zeros, 0, rec);
    expect_alert(s, srv_feed(s, rec, rl, NULL), ETLS_ALERT_UNEXPECTED_MESSAGE, "all-zero inner plaintext");
    srv_free(s);

    s = to_finished(&m, &o, NULL, 0);
    expect_alert(s, srv_feed(s, (const uint8_t *)"\x16\x03\x03\x00\x04\x01\x00\x00\x00", 9, NULL),
                 ETLS_ALERT_UNEXPECTED_MESSAGE, "plaintext handshake after ServerHello");
    srv_free(s);

    s = to_finished(&m, &o, NULL, 0);
    static uint8_t big[16390];
    rl = mini_seal(&m, 23, big, 16385, 0, rec);
    expect_alert(s, srv_feed(s, rec, rl, NULL), ETLS_ALERT_RECORD_OVERFLOW, "inner plaintext over 2^14+1");
    srv_free(s);

    s = to_finished(&m, &o, NULL, 0);
    expect_alert(s, srv_feed(s, (const uint8_t *)"\x14\x03\x03\x00\x01\x02", 6, NULL),
                 ETLS_ALERT_UNEXPECTED_MESSAGE, "change_cipher_spec with value 2");
    srv_free(s);
    mini_free(&m);
}

/* Positive byte-level paths: CCS accepted, Finished split over records with padding, then
 * data, KeyUpdate with update_requested, alerts after the handshake. */
static void test_established(void)
{
    ch_opts_t o;
    memset(&o, 0, sizeof o);
    o.sid_len = 32;
    static mini_t m;
    static uint8_t rec[70000], app[100000];
    size_t rl, app_len = 0, used;
    int alert = -1;
    srv_t *s = to_finished(&m, &o, NULL, 0);
    CHECK(m.ccs_seen); /* middlebox compatibility: CCS after ServerHello */
    CHECK(srv_feed(s, (const uint8_t *)"\x14\x03\x03\x00\x01\x01", 6, NULL) == 0);
    CHECK(send_finished(s, &m, 0, 7) == 0);
    CHECK(etls_tls_handshake_done(&s->c));
    CHECK(s->c.hs == NULL); /* the handshake state went back to the pool */
    CHECK(mini_switch_app(&m) == 0);
    /* Two records and a zero-length one, padded, in one feed. */
    rl = mini_seal(&m, 23, (const uint8_t *)"hello ", 6, 10, rec);
    rl += mini_seal(&m, 23, (const uint8_t *)"", 0, 0, rec + rl);
    rl += mini_seal(&m, 23, (const uint8_t *)"world", 5, 300, rec + rl);
    CHECK(srv_feed(s, rec, rl, &used) == 0 && used == rl);
    CHECK(s->app.len == 11 && memcmp(s->app.base, "hello world", 11) == 0);
    s->app.len = 0;
    /* KeyUpdate(update_requested) followed, in the same feed, by data under the new key. */
    rl = mini_seal(&m, 22, (const uint8_t *)"\x18\x00\x00\x01\x01", 5, 0, rec);
    CHECK(mini_update_write(&m) == 0);
    rl += mini_seal(&m, 23, (const uint8_t *)"after", 5, 0, rec + rl);
    CHECK(srv_feed(s, rec, rl, &used) == 0 && used == rl);
    CHECK(s->app.len == 5 && memcmp(s->app.base, "after", 5) == 0);
    s->app.len = 0;
    CHECK(s->out.len == 0); /* our KeyUpdate answer waits for our next data (§4.6.3) */
    CHECK(srv_send_all(s, (const uint8_t *)"pong", 4) == 0);
    CHECK(mini_open_all(&m, s->out.base, s->out.len, app, &app_len, &alert) == 0);
    CHECK(app_len == 4 && memcmp(app, "pong", 4) == 0);
    s->out.len = 0;
    /* §5.5: near the key usage limit the engine sends a KeyUpdate by itself. Both sides jump
     * their sequence numbers there (the nonces must still agree). */
    uint8_t wr0[48];
    memcpy(wr0, s->c.wr.secret, 48);
    s->c.wr.seq = m.rseq = ETLS_TLS_KEY_UPDATE_RECORDS - 2;
    static uint8_t bulk[3 * 16384];
    memset(bulk, 'k', sizeof bulk);
    CHECK(srv_send_all(s, bulk, sizeof bulk) == 0);
    app_len = 0;
    CHECK(mini_open_all(&m, s->out.base, s->out.len, app, &app_len, &alert) == 0);
    CHECK_MSG(app_len == sizeof bulk && m.rseq < 16 && s->c.wr.seq < 16, "app %zu rseq %llu wseq %llu", app_len, (unsigned long long)m.rseq, (unsigned long long)s->c.wr.seq);
    CHECK(memcmp(wr0, s->c.wr.secret, 48) != 0);
    s->out.len = 0;
    /* A KeyUpdate split across two records, then a bad KeyUpdate value. */
    rl = mini_seal(&m, 22, (const uint8_t *)"\x18\x00", 2, 0, rec);
    rl += mini_seal(&m, 22, (const uint8_t *)"\x00\x01\x00", 3, 0, rec + rl);
    CHECK(srv_feed(s, rec, rl, NULL) == 0);
    CHECK(mini_update_write(&m) == 0);
    rl = mini_seal(&m, 22, (const uint8_t *)"\x18\x00\x00\x01\x02", 5, 0, rec);
    expect_alert(s, srv_feed(s, rec, rl, NULL), ETLS_ALERT_ILLEGAL_PARAMETER, "KeyUpdate value 2");
    srv_free(s);

    /* Unexpected messages and records once established. */
    const char *what[] = {"ClientHello after handshake", "CCS after handshake", "plaintext alert after handshake",
                          "interleaved fragment", "protected CCS"};
    for (int k = 0; k < 5; k++) {
        s = to_finished(&m, &o, NULL, 0);
        CHECK(send_finished(s, &m, 0, 0) == 0);
        CHECK(mini_switch_app(&m) == 0);
        if (k == 0)
            rl = mini_seal(&m, 22, (const uint8_t *)"\x01\x00\x00\x00", 4, 0, rec);
        else if (k == 1)
            rl = mini_records(20, (const uint8_t *)"\x01", 1, 0, rec);
        else if (k == 2)
            rl = mini_records(21, (const uint8_t *)"\x02\x28", 2, 0, rec);
        else if (k == 3) {
            rl = mini_seal(&m, 22, (const uint8_t *)"\x18\x00", 2, 0, rec);
            rl += mini_seal(&m, 23, (const uint8_t *)"x", 1, 0, rec + rl);
        } else
            rl = mini_seal(&m, 20, (const uint8_t *)"\x01", 1, 0, rec);
        expect_alert(s, srv_feed(s, rec, rl, NULL), ETLS_ALERT_UNEXPECTED_MESSAGE, what[k]);
        srv_free(s);
    }
    /* close_notify, then data that must be ignored. */
    s = to_finished(&m, &o, NULL, 0);
    CHECK(send_finished(s, &m, 0, 0) == 0);
    CHECK(mini_switch_app(&m) == 0);
    rl = mini_seal(&m, 21, (const uint8_t *)"\x01\x00", 2, 0, rec);
    rl += mini_seal(&m, 23, (const uint8_t *)"late", 4, 0, rec + rl);
    CHECK(srv_feed(s, rec, rl, &used) == 0 && used == rl);
    CHECK(etls_tls_peer_closed(&s->c) && s->app.len == 0);
    srv_free(s);
    mini_free(&m);
}

/* A ClientHello of ~20 KB split over several records, and one in 100-byte fragments. */
static void test_fragmented_hello(void)
{
    static uint8_t pad[20000];
    pad[0] = 0;
    pad[1] = 21; /* padding extension (RFC 7685) */
    pad[2] = (uint8_t)((sizeof pad - 4) >> 8);
    pad[3] = (uint8_t)(sizeof pad - 4);
    ch_opts_t o;
    memset(&o, 0, sizeof o);
    o.extra = pad;
    o.extra_len = sizeof pad;
    static mini_t m;
    srv_t *s = to_finished(&m, &o, NULL, 0);
    CHECK(send_finished(s, &m, 0, 0) == 0 && etls_tls_handshake_done(&s->c));
    srv_free(s);
    memset(&o, 0, sizeof o);
    s = to_finished(&m, &o, NULL, 100);
    CHECK(send_finished(s, &m, 0, 0) == 0 && etls_tls_handshake_done(&s->c));
    srv_free(s);
    mini_free(&m);
}

/* RFC 8449 both ways: the client's limit caps our records; ours caps the client's. */
static void test_record_size_limit(void)
{
    etls_tls_server_ctx_t c2;
    CHECK(etls_tls_server_ctx_init(&c2, &te.rng) == 0);
    CHECK(test_ctx_add(&c2, &cert, NULL, 1) == 0);
    c2.record_size_limit = 1024;
    ch_opts_t o;
    memset(&o, 0, sizeof o);
    o.rsl = 256;
    static mini_t m;
    static uint8_t rec[40000], data[5000], app[10000];
    srv_t *s = to_finished(&m, &o, &c2, 0);
    CHECK(m.ee_rsl == 1024);
    CHECK(m.max_rec_plain <= 255);
    CHECK(send_finished(s, &m, 0, 0) == 0);
    CHECK(mini_switch_app(&m) == 0);
    size_t app_len = 0;
    int alert = -1;
    memset(data, 'd', sizeof data);
    CHECK(srv_send_all(s, data, sizeof data) == 0);
    m.max_rec_plain = 0;
    CHECK(mini_open_all(&m, s->out.base, s->out.len, app, &app_len, &alert) == 0);
    CHECK(app_len == sizeof data && m.max_rec_plain == 255);
    size_t rl = mini_seal(&m, 23, data, 1023, 0, rec);
    CHECK(srv_feed(s, rec, rl, NULL) == 0); /* 1023 + type = 1024: at the limit */
    rl = mini_seal(&m, 23, data, 1024, 0, rec);
    expect_alert(s, srv_feed(s, rec, rl, NULL), ETLS_ALERT_RECORD_OVERFLOW, "over our record_size_limit");
    srv_free(s);
    mini_free(&m);
    etls_tls_server_ctx_free(&c2);
}

/* HelloRetryRequest: the cookie must come back intact with a share for the selected group. */
static void test_hrr(void)
{
    etls_tls_server_ctx_t c2;
    static const uint16_t x_only[] = {ETLS_TLS_GROUP_X25519};
    static const uint16_t both[] = {ETLS_TLS_GROUP_SECP256R1, ETLS_TLS_GROUP_X25519};
    static const uint16_t suite256[] = {ETLS_TLS_AES_256_GCM_SHA384};
    CHECK(etls_tls_server_ctx_init(&c2, &te.rng) == 0);
    CHECK(test_ctx_add(&c2, &cert, NULL, 1) == 0);
    CHECK(etls_tls_server_ctx_set_groups(&c2, x_only, 1) == 0);
    for (int k = 0; k < 6; k++) {
        static mini_t m;
        uint8_t ch[4096], rec[5000];
        ch_opts_t o;
        memset(&o, 0, sizeof o);
        o.groups = both;
        o.n_groups = 2;
        o.share_group = ETLS_TLS_GROUP_SECP256R1;
        mini_init(&m, te.env.aead, 4);
        srv_t *s = srv_new(&c2);
        size_t n = mini_build_ch(&m, &o, ch, sizeof ch);
        CHECK(srv_feed(s, rec, mini_records(22, ch, n, 0, rec), NULL) == 0);
        CHECK(mini_read_flight(&m, ch, n, s->out.base, s->out.len) == 1);
        uint8_t hrr_rand[32]; /* §4.1.3: SHA-256("HelloRetryRequest") at the random's place */
        etls_hash(ETLS_HASH_SHA256, "HelloRetryRequest", 17, hrr_rand);
        CHECK(s->out.len > 43 && memcmp(s->out.base + 5 + 4 + 2, hrr_rand, 32) == 0);
        CHECK(m.hrr && m.hrr_group == ETLS_TLS_GROUP_X25519 && m.cookie_len > 32);
        s->out.len = 0;
        o.share_group = 0;
        o.cookie = m.cookie;
        o.cookie_len = m.cookie_len;
        if (k == 1)
            o.cookie = NULL;
        if (k == 2)
            m.cookie[10] ^= 1;
        if (k == 3)
            o.share_group = ETLS_TLS_GROUP_SECP256R1;
        if (k == 4)
            o.suites = suite256, o.n_suites = 1;
        if (k == 5) /* a second HelloRetryRequest is never sent: same answer as no share */
            o.no_key_share = 0, o.share_group = ETLS_TLS_GROUP_SECP256R1, o.cookie = NULL;
        n = mini_build_ch(&m, &o, ch, sizeof ch);
        int rc = srv_feed(s, rec, mini_records(22, ch, n, 0, rec), NULL);
        if (k == 0) {
            CHECK(rc == 0 && mini_read_flight(&m, ch, n, s->out.base, s->out.len) == 0);
            CHECK(send_finished(s, &m, 0, 0) == 0 && etls_tls_handshake_done(&s->c));
        } else {
            expect_alert(s, rc, ETLS_ALERT_ILLEGAL_PARAMETER, "bad second ClientHello");
        }
        srv_free(s);
        mini_free(&m);
    }
    etls_tls_server_ctx_free(&c2);
}

/* §4.1.1 suite choice: server preference by default, the client's when configured. */
static void test_suite_order(void)
{
    static const uint16_t client[] = {ETLS_TLS_CHACHA20_POLY1305_SHA256, ETLS_TLS_AES_128_GCM_SHA256};
    for (int order = 0; order < 2; order++) {
        etls_tls_server_ctx_t c2;
        CHECK(etls_tls_server_ctx_init(&c2, &te.rng) == 0);
        CHECK(test_ctx_add(&c2, &cert, NULL, 1) == 0);
        c2.client_order = order;
        ch_opts_t o;
        memset(&o, 0, sizeof o);
        o.suites = client;
        o.n_suites = 2;
        static mini_t m;
        srv_t *s = to_finished(&m, &o, &c2, 0);
        CHECK(etls_tls_cipher(&s->c) == (order ? ETLS_TLS_CHACHA20_POLY1305_SHA256 : ETLS_TLS_AES_128_GCM_SHA256));
        CHECK(send_finished(s, &m, 0, 0) == 0 && etls_tls_handshake_done(&s->c));
        srv_free(s);
        mini_free(&m);
        etls_tls_server_ctx_free(&c2);
    }
}

/* Optional record padding (pad_to): every record we send carries a padded inner plaintext. */
static void test_padding(void)
{
    etls_tls_server_ctx_t c2;
    CHECK(etls_tls_server_ctx_init(&c2, &te.rng) == 0);
    CHECK(test_ctx_add(&c2, &cert, NULL, 1) == 0);
    c2.pad_to = 64;
    ch_opts_t o;
    memset(&o, 0, sizeof o);
    static mini_t m;
    uint8_t app[64];
    size_t app_len = 0;
    int alert = -1;
    srv_t *s = to_finished(&m, &o, &c2, 0);
    CHECK(send_finished(s, &m, 0, 0) == 0 && mini_switch_app(&m) == 0);
    CHECK(srv_send_all(s, (const uint8_t *)"abc", 3) == 0);
    CHECK(s->out.len == 5 + 64 + 16);
    CHECK(mini_open_all(&m, s->out.base, s->out.len, app, &app_len, &alert) == 0);
    CHECK(app_len == 3 && memcmp(app, "abc", 3) == 0);
    srv_free(s);
    mini_free(&m);
    etls_tls_server_ctx_free(&c2);
}

/* §4.2.10: offered 0-RTT is rejected (no PSK); records that fail to open are skipped until
 * the client's Finished. Without early_data they are fatal. */
static void test_early_data_skipped(void)
{
    static const uint8_t early_ext[] = {0, 42, 0, 0};
    static mini_t m;
    uint8_t junk[5 + 100];
    for (int offered = 0; offered < 2; offered++) {
        ch_opts_t o;
        memset(&o, 0, sizeof o);
        if (offered) {
            o.extra = early_ext;
            o.extra_len = sizeof early_ext;
        }
        srv_t *s = to_finished(&m, &o, NULL, 0);
        memcpy(junk, "\x17\x03\x03\x00\x64", 5);
        memset(junk + 5, 0x5a, 100);
        int rc = srv_feed(s, junk, sizeof junk, NULL);
        if (offered) {
            CHECK(rc == 0 && srv_feed(s, junk, sizeof junk, NULL) == 0);
            CHECK(send_finished(s, &m, 0, 0) == 0 && etls_tls_handshake_done(&s->c));
        } else {
            expect_alert(s, rc, ETLS_ALERT_BAD_RECORD_MAC, "undecryptable record without 0-RTT");
        }
        srv_free(s);
    }
    mini_free(&m);
}

/* Client lists longer than the parser keeps (CH_MAX_LIST): the suite or group we can select
 * comes last after 69 unknown ones and must still be found (found by review: the lists were
 * truncated and the handshake failed with 40 / 47). */
static void test_long_client_lists(void)
{
    static uint16_t suites[70], groups[70];
    for (int i = 0; i < 69; i++) {
        suites[i] = (uint16_t)(0xc000 + i);
        groups[i] = (uint16_t)(0x0100 + i);
    }
    suites[69] = ETLS_TLS_AES_128_GCM_SHA256;
    groups[69] = ETLS_TLS_GROUP_X25519;
    static mini_t m;
    uint8_t *ch = malloc(66000);
    size_t ch_len;
    for (int which = 0; which < 2; which++) {
        ch_opts_t o;
        memset(&o, 0, sizeof o);
        if (which == 0) {
            o.suites = suites;
            o.n_suites = 70;
        } else {
            o.groups = groups;
            o.n_groups = 70;
        }
        mini_init(&m, te.env.aead, 1);
        srv_t *s = srv_new(NULL);
        int rc = feed_ch(s, &m, &o, ch, &ch_len);
        CHECK_MSG(rc == 0 && etls_tls_alert_sent(&s->c) == -1, "%s list: rc=%d alert=%d",
                  which ? "groups" : "suites", rc, etls_tls_alert_sent(&s->c));
        srv_free(s);
        mini_free(&m);
    }
    free(ch);
}

/* A NewSessionTicket (138+ bytes) under the smallest legal record_size_limit (64) must be
 * split over several records, not written past one (found by review: out-of-bounds write). */
static void test_ticket_small_record_limit(void)
{
    etls_tls_server_ctx_t c2;
    static const uint8_t k1[ETLS_TLS_TICKET_KEY_LEN] = {1, 2, 3};
    CHECK(etls_tls_server_ctx_init(&c2, &te.rng) == 0);
    CHECK(test_ctx_add(&c2, &cert, NULL, 1) == 0);
    CHECK(etls_tls_server_ctx_set_ticket_keys(&c2, k1, NULL) == 0);
    ch_opts_t o;
    memset(&o, 0, sizeof o);
    o.rsl = 64;
    static mini_t m;
    srv_t *s = to_finished(&m, &o, &c2, 0);
    size_t before = s->out.len;
    int rc = send_finished(s, &m, 0, 0);
    CHECK_MSG(rc == 0 && etls_tls_handshake_done(&s->c) == 1, "rc=%d", rc);
    CHECK(s->out.len > before); /* the ticket was written */
    /* every record after the flight respects the limit: 64 bytes of inner plaintext + tag */
    for (size_t off = before; off + 5 <= s->out.len;) {
        size_t rlen = (size_t)s->out.base[off + 3] << 8 | s->out.base[off + 4];
        CHECK_MSG(rlen <= 64 + 16, "record of %zu bytes", rlen);
        off += 5 + rlen;
    }
    srv_free(s);
    mini_free(&m);
    etls_tls_server_ctx_free(&c2);
}

int main(int argc, char **argv)
{
    size_t cap = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 0;
    etls_test_seed("tls_negative");
    CHECK(test_env_init(&te, cap) == 0);
    CHECK(test_cert_make(&cert, KEY_ECDSA, "server.example") == 0);
    CHECK(etls_tls_server_ctx_init(&ctx, &te.rng) == 0);
    CHECK(test_ctx_add(&ctx, &cert, NULL, 1) == 0);
    test_client_hello_fields();
    test_many_extensions();
    test_psk_position();
    test_client_hello_encoding();
    test_records();
    test_after_server_flight();
    test_established();
    test_fragmented_hello();
    test_record_size_limit();
    test_hrr();
    test_padding();
    test_suite_order();
    test_early_data_skipped();
    test_long_client_lists();
    test_ticket_small_record_limit();
    etls_tls_server_ctx_free(&ctx);
    test_cert_free(&cert);
    CHECK(test_env_free(&te) == 0); /* every handshake state came back */
    return etls_test_summary("tls_negative");
}
