/* Edges of the engine a hostile client reaches, each with the exact outcome RFC 8446 asks
 * for: empty protected alert/handshake records (§5.1, §5.4), KeyUpdate requests coalesced into
 * one answer however they arrive (§4.6.3), key_share lists with many or unknown groups
 * (§4.2.8), the X25519MLKEM768 hybrid (its shares, HelloRetryRequest, bad shares and
 * encapsulation keys), and ClientHellos up to 128 KiB with the per-worker cap on large reassembly buffers
 * (tls.h etls_tls_hs_pool_set_big_max); the large hello also from OpenSSL's libssl.
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

static srv_t *srv_new(void)
{
    srv_t *s = aligned_alloc(_Alignof(srv_t), sizeof *s);
    memset(s, 0, sizeof *s);
    etls_tls_conn_init(&s->c, &ctx, &te.env);
    s->out = (etls_tls_buf_t){s->outb, 0, sizeof s->outb};
    s->app = (etls_tls_buf_t){s->appb, 0, sizeof s->appb};
    return s;
}

static void srv_free(srv_t *s)
{
    etls_tls_conn_wipe(&s->c);
    free(s);
}

/* Feeds everything, resuming parked work (never returns ETLS_ERR_IN_PROGRESS). */
static int srv_feed(srv_t *s, const uint8_t *in, size_t len, size_t *consumed)
{
    return test_feed_all(&te, &s->c, in, len, consumed, &s->out, &s->app);
}

/* Presents `in` as reads of at most `chunk` bytes, keeping unconsumed bytes as a transport does. */
static int srv_feed_chunks(srv_t *s, const uint8_t *in, size_t len, size_t chunk)
{
    static uint8_t buf[1 << 16];
    size_t have = 0, off = 0, used;
    while (off < len) {
        size_t take = len - off < chunk ? len - off : chunk;
        memcpy(buf + have, in + off, take);
        have += take;
        off += take;
        int rc = srv_feed(s, buf, have, &used);
        if (rc != 0)
            return rc;
        memmove(buf, buf + used, have - used);
        have -= used;
    }
    return have ? -1 : 0;
}

static void expect_alert(srv_t *s, int rc, int desc, const char *what)
{
    CHECK_MSG(rc == ETLS_ERR_ALERT(desc), "%s: rc %d, want alert %d", what, rc, desc);
    CHECK_MSG(etls_tls_alert_sent(&s->c) == desc, "%s: sent %d", what, etls_tls_alert_sent(&s->c));
    if (!s->c.wr.active) {
        const uint8_t want[7] = {21, 3, 3, 0, 2, 2, (uint8_t)desc};
        CHECK_MSG(s->out.len >= 7 && memcmp(s->out.base + s->out.len - 7, want, 7) == 0, "%s: alert bytes", what);
    } else {
        CHECK_MSG(s->out.len >= 5 + 3 + 16 && s->out.base[0] == 23, "%s: protected alert written", what);
    }
}

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

/* The ClientHello of the last hello() (the flight check needs it for the transcript). */
static uint8_t ch_buf[ETLS_TLS_MAX_HS_MSG + 64];
static size_t ch_len;
static uint8_t rec_buf[ETLS_TLS_MAX_HS_MSG + 4096];

/* Builds a ClientHello (m already initialised: extras may hold its X25519 key) into ch_buf and
 * its records (frag bytes each, 0 = 16384) into rec_buf; returns the records' length. */
static size_t hello_records(mini_t *m, const ch_opts_t *o, size_t frag)
{
    ch_len = mini_build_ch(m, o, ch_buf, sizeof ch_buf);
    return mini_records(22, ch_buf, ch_len, frag, rec_buf);
}

/* Feeds a ClientHello; desc < 0: the server flight must verify, else that alert. Returns s
 * (flight consumed from out) or NULL after an alert. */
static srv_t *hello(mini_t *m, const ch_opts_t *o, int desc, const char *what)
{
    srv_t *s = srv_new();
    size_t rl = hello_records(m, o, 0);
    int rc = srv_feed(s, rec_buf, rl, NULL);
    if (desc >= 0) {
        expect_alert(s, rc, desc, what);
        srv_free(s);
        return NULL;
    }
    CHECK_MSG(rc == 0 && s->out.len > 0, "%s: rc %d", what, rc);
    int fr = mini_read_flight(m, ch_buf, ch_len, s->out.base, s->out.len);
    CHECK_MSG(fr == 0, "%s: flight %d", what, fr);
    CHECK_MSG(s->c.hs == NULL || s->c.hs->big == NULL, "%s: reassembly buffer kept", what);
    s->out.len = 0;
    return s;
}

static int finish_handshake(srv_t *s, mini_t *m)
{
    uint8_t fin[64], rec[256];
    size_t n = mini_finished_msg(m, fin);
    int rc = srv_feed(s, rec, mini_seal(m, 22, fin, n, 0, rec), NULL);
    if (rc == 0 && etls_tls_handshake_done(&s->c) && mini_switch_app(m) == 0) {
        s->out.len = 0; /* NewSessionTicket, if any */
        return 0;
    }
    return -1;
}

static srv_t *established(mini_t *m)
{
    ch_opts_t o;
    memset(&o, 0, sizeof o);
    mini_init(m, te.env.aead, 3);
    srv_t *s = hello(m, &o, -1, "plain hello");
    CHECK(finish_handshake(s, m) == 0);
    return s;
}

/* ---- 1. empty protected records ------------------------------------------------------------ */

/* §5.1 / §5.4: a zero-length Alert or Handshake fragment, and an inner plaintext without a
 * content type (all padding, or empty: a bare tag), are unexpected_message under handshake and
 * application keys alike; a one-byte alert is a malformed one (decode_error); a bare tag that
 * does not authenticate is bad_record_mac. (Before: decode_error for the empty alert and
 * bad_record_mac for the bare tag.) */
static void test_empty_records(void)
{
    static const uint8_t zeros[32];
    static mini_t m;
    uint8_t rec[256];
    struct {
        const char *what;
        int kind;
        size_t pad;
        int desc;
    } cases[] = {
        {"empty alert", 0, 0, ETLS_ALERT_UNEXPECTED_MESSAGE},
        {"empty alert with padding", 0, 13, ETLS_ALERT_UNEXPECTED_MESSAGE},
        {"empty handshake", 1, 0, ETLS_ALERT_UNEXPECTED_MESSAGE},
        {"empty handshake with padding", 1, 7, ETLS_ALERT_UNEXPECTED_MESSAGE},
        {"all padding, no content type", 2, 20, ETLS_ALERT_UNEXPECTED_MESSAGE},
        {"empty inner plaintext (bare tag)", 3, 0, ETLS_ALERT_UNEXPECTED_MESSAGE},
        {"one-byte alert", 4, 0, ETLS_ALERT_DECODE_ERROR},
        {"bare tag that does not authenticate", 5, 0, ETLS_ALERT_BAD_RECORD_MAC},
    };
    for (int app_keys = 0; app_keys < 2; app_keys++) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            ch_opts_t o;
            memset(&o, 0, sizeof o);
            srv_t *s;
            if (app_keys) {
                s = established(&m);
            } else {
                mini_init(&m, te.env.aead, 3);
                s = hello(&m, &o, -1, "hello");
            }
            size_t rl = 0;
            switch (cases[i].kind) {
            case 0: rl = mini_seal(&m, 21, zeros, 0, cases[i].pad, rec); break;
            case 1: rl = mini_seal(&m, 22, zeros, 0, cases[i].pad, rec); break;
            case 2: rl = mini_seal_inner(&m, zeros, cases[i].pad, rec); break;
            case 3: rl = mini_seal_inner(&m, zeros, 0, rec); break;
            case 4: rl = mini_seal(&m, 21, (const uint8_t *)"\x02", 1, 0, rec); break;
            default:
                rl = mini_seal_inner(&m, zeros, 0, rec);
                rec[5] ^= 1;
                break;
            }
            char what[128];
            snprintf(what, sizeof what, "%s under %s keys", cases[i].what, app_keys ? "application" : "handshake");
            expect_alert(s, srv_feed(s, rec, rl, NULL), cases[i].desc, what);
            srv_free(s);
        }
    }
    /* Application data alone may be empty (§5.1), with or without padding. */
    srv_t *s = established(&m);
    size_t rl = mini_seal(&m, 23, zeros, 0, 0, rec);
    rl += mini_seal(&m, 23, zeros, 0, 9, rec + rl);
    rl += mini_seal(&m, 23, (const uint8_t *)"ok", 2, 0, rec + rl);
    size_t used;
    CHECK(srv_feed(s, rec, rl, &used) == 0 && used == rl && s->app.len == 2);
    srv_free(s);
    mini_free(&m);
}

/* ---- 2. KeyUpdate requests coalesced -------------------------------------------------------- */

static const uint8_t ku_req[5] = {24 /* KeyUpdate */, 0, 0, 1, 1};

/* n KeyUpdate(update_requested), each under the key the one before set; the third one split
 * over two records; with_data: an application data record before every other one. */
static size_t ku_records(mini_t *m, int n, int with_data, uint8_t *rec, size_t *n_data)
{
    size_t rl = 0;
    *n_data = 0;
    for (int i = 0; i < n; i++) {
        if (with_data && i % 2) {
            rl += mini_seal(m, 23, (const uint8_t *)"d", 1, 0, rec + rl);
            ++*n_data;
        }
        if (i == 2) {
            rl += mini_seal(m, 22, ku_req, 2, 0, rec + rl);
            rl += mini_seal(m, 22, ku_req + 2, 3, 0, rec + rl);
        } else {
            rl += mini_seal(m, 22, ku_req, 5, 1, rec + rl);
        }
        CHECK(mini_update_write(m) == 0);
    }
    return rl;
}

/* One record per feed call. */
static int feed_by_record(srv_t *s, const uint8_t *in, size_t len)
{
    for (size_t off = 0; off < len;) {
        size_t rl = 5 + ((size_t)in[off + 3] << 8 | in[off + 4]), used;
        int rc = srv_feed(s, in + off, rl, &used);
        if (rc != 0 || used != rl)
            return rc ? rc : -1;
        off += rl;
    }
    return 0;
}

/* Our next data must be preceded by exactly one KeyUpdate (update_not_requested), and both
 * directions must work afterwards. */
static void expect_one_answer(srv_t *s, mini_t *m, const char *what)
{
    static uint8_t app[4096], rec[256];
    size_t app_len = 0, used;
    int alert = -1;
    m->ku_in = 0;
    m->ku_in_requested = 0;
    CHECK_MSG(srv_send_all(s, (const uint8_t *)"pong", 4) == 0, "%s: send", what);
    size_t first = s->out.len >= 5 ? 5 + ((size_t)s->out.base[3] << 8 | s->out.base[4]) : 0;
    CHECK_MSG(first > 0 && first < s->out.len, "%s: two records expected", what);
    CHECK_MSG(mini_open_all(m, s->out.base, first, app, &app_len, &alert) == 0 && m->ku_in == 1 && app_len == 0,
              "%s: first record is not our KeyUpdate (%zu)", what, m->ku_in);
    CHECK_MSG(mini_open_all(m, s->out.base + first, s->out.len - first, app, &app_len, &alert) == 0,
              "%s: data after our KeyUpdate", what);
    CHECK_MSG(m->ku_in == 1 && !m->ku_in_requested, "%s: %zu KeyUpdates from us", what, m->ku_in);
    CHECK_MSG(app_len == 4 && memcmp(app, "pong", 4) == 0, "%s: data %zu", what, app_len);
    s->out.len = 0;
    s->app.len = 0;
    size_t rl = mini_seal(m, 23, (const uint8_t *)"ping", 4, 0, rec); /* the client's newest key */
    CHECK_MSG(srv_feed(s, rec, rl, &used) == 0 && s->app.len == 4 && memcmp(s->app.base, "ping", 4) == 0,
              "%s: client data after the updates", what);
    s->app.len = 0;
    m->ku_in = 0;
    app_len = 0;
    CHECK(srv_send_all(s, (const uint8_t *)"again", 5) == 0); /* nothing owed any more */
    CHECK_MSG(mini_open_all(m, s->out.base, s->out.len, app, &app_len, &alert) == 0 && m->ku_in == 0 && app_len == 5,
              "%s: second send: %zu KeyUpdates", what, m->ku_in);
    s->out.len = 0;
}

static void test_key_update_coalesced(void)
{
    static mini_t m;
    static uint8_t rec[8192];
    static const char *const how[] = {"all in one read", "one record per read", "7-byte reads",
                                      "50-byte reads"};
    for (int with_data = 0; with_data < 2; with_data++) {
        for (int pattern = 0; pattern < 4; pattern++) {
            char what[96];
            snprintf(what, sizeof what, "%s%s", how[pattern], with_data ? ", data between" : "");
            srv_t *s = established(&m);
            size_t n_data, rl = ku_records(&m, 6, with_data, rec, &n_data), used;
            int rc = pattern == 0 ? srv_feed(s, rec, rl, &used)
                     : pattern == 1 ? feed_by_record(s, rec, rl)
                                    : srv_feed_chunks(s, rec, rl, pattern == 2 ? 7 : 50);
            CHECK_MSG(rc == 0, "%s: rc %d", what, rc);
            CHECK_MSG(s->out.len == 0, "%s: %zu bytes sent while we had nothing to say", what, s->out.len);
            CHECK_MSG(s->app.len == n_data, "%s: data %zu", what, s->app.len);
            expect_one_answer(s, &m, what);
            srv_free(s);
        }
    }
    /* Answer, then more requests: one more answer; an explicit update_not_requested KeyUpdate
     * from the application is the answer itself. */
    srv_t *s = established(&m);
    size_t n_data, rl = ku_records(&m, 3, 0, rec, &n_data);
    CHECK(srv_feed(s, rec, rl, NULL) == 0 && s->out.len == 0);
    expect_one_answer(s, &m, "first round");
    rl = ku_records(&m, 4, 1, rec, &n_data);
    CHECK(feed_by_record(s, rec, rl) == 0 && s->out.len == 0);
    s->app.len = 0;
    expect_one_answer(s, &m, "second round");
    rl = ku_records(&m, 2, 0, rec, &n_data);
    CHECK(srv_feed(s, rec, rl, NULL) == 0);
    CHECK(etls_tls_key_update(&s->c, 0, &s->out) == 0);
    CHECK(srv_send_all(s, (const uint8_t *)"z", 1) == 0);
    static uint8_t app[64];
    size_t app_len = 0;
    int alert = -1;
    m.ku_in = 0;
    CHECK(mini_open_all(&m, s->out.base, s->out.len, app, &app_len, &alert) == 0);
    CHECK_MSG(m.ku_in == 1 && app_len == 1, "explicit update: %zu KeyUpdates", m.ku_in);
    s->out.len = 0;
    /* Two KeyUpdates in one record: the first must have ended it (§5.1). */
    uint8_t two[10];
    memcpy(two, ku_req, 5);
    memcpy(two + 5, ku_req, 5);
    rl = mini_seal(&m, 22, two, 10, 0, rec);
    expect_alert(s, srv_feed(s, rec, rl, NULL), ETLS_ALERT_UNEXPECTED_MESSAGE, "two KeyUpdates in one record");
    srv_free(s);
    mini_free(&m);
}

/* ---- 3. key_share entries -------------------------------------------------------------------- */

static void put16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* A key_share extension with one entry per groups[i]: X25519 carries m's key, other groups
 * share_len bytes. */
static size_t key_share_ext(uint8_t *p, const mini_t *m, const uint16_t *groups, size_t n, size_t share_len)
{
    size_t o = 6;
    for (size_t i = 0; i < n; i++) {
        size_t l = groups[i] == ETLS_TLS_GROUP_X25519 ? 32 : share_len;
        put16(p + o, groups[i]);
        put16(p + o + 2, l);
        if (groups[i] == ETLS_TLS_GROUP_X25519)
            memcpy(p + o + 4, m->pub, 32);
        else
            memset(p + o + 4, 0x42, l);
        o += 4 + l;
    }
    put16(p, 51); /* key_share */
    put16(p + 2, o - 4);
    put16(p + 4, o - 6);
    return o;
}

static void test_key_shares(void)
{
    static uint16_t groups[80], offered[80], suites[2000];
    static uint8_t ext[70000];
    static mini_t m;
    for (int i = 0; i < 80; i++)
        groups[i] = (uint16_t)(i == 0 ? 0x11EB : 0x2000 + i); /* SecP256r1MLKEM768, then unknown */
    for (int i = 0; i < 1999; i++)
        suites[i] = (uint16_t)(0x2000 + i);
    suites[1999] = ETLS_TLS_AES_128_GCM_SHA256;
    struct {
        const char *what;
        size_t n_unknown, share_len;
        int x_first, listed, dup, big, desc;
    } cases[] = {
        /* 40 hybrid-sized shares plus X25519: fine, listed in supported_groups or not. */
        {"40 unknown 1216-byte shares + x25519", 40, 1216, 0, 1, 0, 0, -1},
        {"40 unknown shares not in supported_groups + x25519", 40, 1216, 0, 0, 0, 0, -1},
        {"x25519 first, then 40 unknown", 40, 1216, 1, 0, 0, 0, -1},
        /* The cap: 64 entries of any group pass, 65 do not, wherever X25519 sits. */
        {"63 unknown + x25519 (64 entries)", 63, 1, 0, 0, 0, 0, -1},
        {"64 unknown + x25519 (65 entries)", 64, 1, 0, 0, 0, 0, ETLS_ALERT_ILLEGAL_PARAMETER},
        {"x25519 + 64 unknown (65 entries)", 64, 1, 1, 0, 0, 0, ETLS_ALERT_ILLEGAL_PARAMETER},
        {"an unknown group twice", 10, 8, 0, 1, 1, 0, ETLS_ALERT_ILLEGAL_PARAMETER},
        /* key_share near its 64 KiB wire maximum in a ClientHello over 64 KiB. */
        {"52 unknown 1216-byte shares in a 66 KB ClientHello", 52, 1216, 0, 1, 0, 1, -1},
        /* Only unknown shares: a HelloRetryRequest for X25519, not a failure. */
        {"only unknown shares", 20, 1216, 0, 1, 0, 0, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t n = 0, no = 0;
        if (cases[k].x_first)
            offered[n++] = ETLS_TLS_GROUP_X25519;
        for (size_t i = 0; i < cases[k].n_unknown; i++)
            offered[n++] = groups[i];
        if (cases[k].dup)
            offered[n++] = groups[3];
        if (!cases[k].x_first && cases[k].desc != 1)
            offered[n++] = ETLS_TLS_GROUP_X25519;
        /* supported_groups: the unknown ones (listed) and X25519 */
        uint16_t sg[80];
        if (cases[k].listed)
            for (size_t i = 0; i < cases[k].n_unknown; i++)
                sg[no++] = groups[i];
        sg[no++] = ETLS_TLS_GROUP_X25519;
        mini_init(&m, te.env.aead, 3);
        ch_opts_t o;
        memset(&o, 0, sizeof o);
        o.no_key_share = 1;
        o.groups = sg;
        o.n_groups = no;
        o.extra = ext;
        o.extra_len = key_share_ext(ext, &m, offered, n, cases[k].share_len);
        if (cases[k].big) {
            o.sid_len = 32;
            o.suites = suites;
            o.n_suites = 2000;
        }
        if (cases[k].desc == 1) { /* HelloRetryRequest */
            srv_t *s = srv_new();
            size_t rl = hello_records(&m, &o, 0);
            CHECK_MSG(srv_feed(s, rec_buf, rl, NULL) == 0, "%s", cases[k].what);
            CHECK_MSG(mini_read_flight(&m, ch_buf, ch_len, s->out.base, s->out.len) == 1 &&
                          m.hrr_group == ETLS_TLS_GROUP_X25519, "%s: no HRR", cases[k].what);
            srv_free(s);
            continue;
        }
        srv_t *s = hello(&m, &o, cases[k].desc, cases[k].what);
        if (cases[k].big)
            CHECK_MSG(ch_len > 4 + 65536, "%s: ClientHello of %zu bytes", cases[k].what, ch_len);
        if (s) {
            CHECK_MSG(etls_tls_group(&s->c) == ETLS_TLS_GROUP_X25519, "%s: group", cases[k].what);
            CHECK_MSG(finish_handshake(s, &m) == 0, "%s: handshake", cases[k].what);
            srv_free(s);
        }
    }
    mini_free(&m);
}

/* ---- 3b. X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem) ------------------------------------------
 * The client side is mini_client's: our own ML-KEM-768 keygen and decapsulation, and the
 * secret ML-KEM || X25519 into the key schedule, so a completed handshake proves the layout of
 * both shares and of the secret. */
static void hybrid_case(const etls_tls_server_ctx_t *sctx, const ch_opts_t *o, uint16_t want,
                        const char *what)
{
    static mini_t m;
    mini_init(&m, te.env.aead, 5);
    srv_t *s = srv_new();
    etls_tls_conn_init(&s->c, sctx, &te.env);
    size_t rl = hello_records(&m, o, 0);
    int rc = srv_feed(s, rec_buf, rl, NULL);
    CHECK_MSG(rc == 0, "%s: rc %d", what, rc);
    int fr = mini_read_flight(&m, ch_buf, ch_len, s->out.base, s->out.len);
    if (fr == 1) { /* HelloRetryRequest: again with a share for its group and the cookie */
        ch_opts_t o2 = *o;
        CHECK_MSG(m.hrr_group == want, "%s: HRR to %#x", what, m.hrr_group);
        o2.share_group = m.hrr_group == ETLS_TLS_GROUP_X25519 ? 0 : m.hrr_group;
        o2.share_len = 0;
        o2.extra = NULL;
        o2.no_key_share = 0;
        o2.cookie = m.cookie;
        o2.cookie_len = m.cookie_len;
        s->out.len = 0;
        rl = hello_records(&m, &o2, 0);
        rc = srv_feed(s, rec_buf, rl, NULL);
        CHECK_MSG(rc == 0, "%s: second hello rc %d", what, rc);
        fr = mini_read_flight(&m, ch_buf, ch_len, s->out.base, s->out.len);
    }
    CHECK_MSG(fr == 0, "%s: flight %d", what, fr);
    CHECK_MSG(etls_tls_group(&s->c) == want && m.group == want, "%s: group %#x/%#x", what,
              etls_tls_group(&s->c), m.group);
    s->out.len = 0;
    CHECK_MSG(finish_handshake(s, &m) == 0, "%s: handshake", what);
    srv_free(s);
    mini_free(&m);
}

static void test_hybrid(void)
{
    static const uint16_t h_x[] = {ETLS_TLS_GROUP_X25519MLKEM768, ETLS_TLS_GROUP_X25519};
    static const uint16_t x_h[] = {ETLS_TLS_GROUP_X25519, ETLS_TLS_GROUP_X25519MLKEM768};
    static const uint16_t x_only[] = {ETLS_TLS_GROUP_X25519};
    static const uint16_t h_only[] = {ETLS_TLS_GROUP_X25519MLKEM768};
    static uint8_t ext[4096], bad_ek[1184];
    static mini_t m;
    etls_tls_server_ctx_t xctx;
    ch_opts_t o;
    CHECK(ctx.groups[0] == ETLS_TLS_GROUP_X25519MLKEM768); /* the default order leads with it */
    memset(&o, 0, sizeof o);
    o.groups = h_x;
    o.n_groups = 2;
    o.share_group = ETLS_TLS_GROUP_X25519MLKEM768;
    hybrid_case(&ctx, &o, ETLS_TLS_GROUP_X25519MLKEM768, "hybrid share");
    o.groups = x_h; /* server preference, not the client's order */
    hybrid_case(&ctx, &o, ETLS_TLS_GROUP_X25519MLKEM768, "hybrid share, client lists x25519 first");
    o.share_group = 0; /* lists the hybrid, sends X25519 only: X25519 without a round trip */
    hybrid_case(&ctx, &o, ETLS_TLS_GROUP_X25519, "x25519 share, hybrid listed");
    o.groups = h_x; /* both shares (what OpenSSL 3.5 sends): the hybrid */
    o.no_key_share = 1;
    mini_init(&m, te.env.aead, 5); /* the keys hybrid_case's client will have */
    mini_hybrid_keys(&m);
    o.extra = ext;
    o.extra_len = key_share_ext(ext, &m, x_only, 1, 0); /* X25519 entry, then the hybrid's */
    put16(ext + o.extra_len, ETLS_TLS_GROUP_X25519MLKEM768);
    put16(ext + o.extra_len + 2, 1216);
    memcpy(ext + o.extra_len + 4, m.ek, 1184);
    memcpy(ext + o.extra_len + 4 + 1184, m.pub, 32);
    o.extra_len += 4 + 1216;
    put16(ext + 2, o.extra_len - 4);
    put16(ext + 4, o.extra_len - 6);
    mini_free(&m);
    hybrid_case(&ctx, &o, ETLS_TLS_GROUP_X25519MLKEM768, "x25519 and hybrid shares");
    /* HelloRetryRequest towards the hybrid: listed, but only an unknown group's share sent */
    memset(&o, 0, sizeof o);
    o.groups = h_x;
    o.n_groups = 2;
    o.share_group = 0x2a2a;
    o.share_len = 1;
    hybrid_case(&ctx, &o, ETLS_TLS_GROUP_X25519MLKEM768, "HRR to the hybrid");
    /* a server configured without it: a hybrid-only client is asked for X25519 */
    CHECK(etls_tls_server_ctx_init(&xctx, &te.rng) == 0);
    CHECK(test_ctx_add(&xctx, &cert, NULL, 1) == 0);
    CHECK(etls_tls_server_ctx_set_groups(&xctx, x_only, 1) == 0);
    o.share_group = ETLS_TLS_GROUP_X25519MLKEM768;
    o.share_len = 0;
    hybrid_case(&xctx, &o, ETLS_TLS_GROUP_X25519, "hybrid share, server without it: HRR");
    etls_tls_server_ctx_free(&xctx);
    /* bad shares: wrong lengths, then an encapsulation key failing the FIPS 203 §7.2 modulus
     * check (a 12-bit coefficient of 4095 >= q), each illegal_parameter */
    static const size_t bad_len[] = {32, 1184, 1215, 1217, 1120, 2432};
    memset(&o, 0, sizeof o);
    o.groups = h_only;
    o.n_groups = 1;
    o.share_group = ETLS_TLS_GROUP_X25519MLKEM768;
    for (size_t i = 0; i < sizeof bad_len / sizeof bad_len[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "hybrid share of %zu bytes", bad_len[i]);
        o.share_len = bad_len[i];
        mini_init(&m, te.env.aead, 5);
        hello(&m, &o, ETLS_ALERT_ILLEGAL_PARAMETER, what);
    }
    o.share_len = 0;
    for (int k = 0; k < 3; k++) {
        mini_init(&m, te.env.aead, 5);
        mini_hybrid_keys(&m);
        memcpy(bad_ek, m.ek, sizeof bad_ek);
        /* 3 bytes hold two coefficients: c0 = b0 | (b1 & 15) << 8, c1 = b1 >> 4 | b2 << 4 */
        size_t at = k == 0 ? 0 : k == 1 ? 600 : 1149; /* first, middle, last pair (rho after) */
        if (k < 2) { /* c0 = 4095 */
            bad_ek[at] = 0xff;
            bad_ek[at + 1] |= 0x0f;
        } else { /* c1 = 3329 = q exactly */
            bad_ek[at + 1] = (uint8_t)((bad_ek[at + 1] & 0x0f) | 0x10);
            bad_ek[at + 2] = 0xd0;
        }
        o.share_ek = bad_ek;
        hello(&m, &o, ETLS_ALERT_ILLEGAL_PARAMETER, "encapsulation key with a coefficient >= q");
        o.share_ek = NULL;
    }
    mini_free(&m);
}

/* ---- 4. ClientHellos up to 128 KiB ----------------------------------------------------------- */

static uint16_t big_suites[32767], big_sigalgs[32767];

/* A ClientHello whose cipher_suites and signature_algorithms lists are long (our values last),
 * padded with an unknown extension so that its body is `body` bytes when body != 0. */
static void big_opts(ch_opts_t *o, size_t n_suites, size_t n_sigalgs, uint8_t *pad, size_t pad_len)
{
    for (size_t i = 0; i + 1 < n_suites; i++)
        big_suites[i] = (uint16_t)(0x2000 + i);
    big_suites[n_suites - 1] = ETLS_TLS_AES_128_GCM_SHA256;
    for (size_t i = 0; i + 1 < n_sigalgs; i++)
        big_sigalgs[i] = (uint16_t)(0x0900 + i); /* none of ours: 0x0403, 0x0804, 0x0807 */
    big_sigalgs[n_sigalgs - 1] = 0x0403;
    memset(o, 0, sizeof *o);
    o->suites = big_suites;
    o->n_suites = n_suites;
    o->sigalgs = big_sigalgs;
    o->n_sigalgs = n_sigalgs;
    if (pad) {
        memset(pad, 0, pad_len + 4);
        put16(pad, 0xfe77);
        put16(pad + 2, pad_len);
        o->extra = pad;
        o->extra_len = pad_len + 4;
    }
}

static void test_big_hello(void)
{
    static mini_t m;
    static uint8_t pad[65536];
    ch_opts_t o;
    /* 32,000 signature schemes and 20,000 suites: ~104 KB. We pick our scheme, last in both. */
    big_opts(&o, 20000, 32000, NULL, 0);
    mini_init(&m, te.env.aead, 3);
    srv_t *s = hello(&m, &o, -1, "104 KB ClientHello");
    CHECK_MSG(ch_len > 100000, "ClientHello of %zu bytes", ch_len);
    CHECK(etls_tls_sig_scheme(&s->c) == 0x0403 && etls_tls_cipher(&s->c) == ETLS_TLS_AES_128_GCM_SHA256);
    CHECK(etls_tls_hs_pool_big_out(te.env.hs_pool) == 0); /* released once parsed */
    CHECK(finish_handshake(s, &m) == 0);
    srv_free(s);
    /* Exactly ETLS_TLS_MAX_HS_MSG bytes of body: accepted; one more: illegal_parameter, from the
     * header alone (nothing buffered). Sizes found by building once without padding. */
    big_opts(&o, 32748, 3, pad, 0);
    size_t body0 = mini_build_ch(&m, &o, ch_buf, sizeof ch_buf) - 4;
    CHECK(body0 < ETLS_TLS_MAX_HS_MSG);
    big_opts(&o, 32748, 3, pad, ETLS_TLS_MAX_HS_MSG - body0);
    mini_init(&m, te.env.aead, 3);
    s = hello(&m, &o, -1, "ClientHello of exactly 128 KiB");
    CHECK_MSG(ch_len == 4 + ETLS_TLS_MAX_HS_MSG, "built %zu", ch_len);
    if (s) {
        CHECK(finish_handshake(s, &m) == 0);
        srv_free(s);
    }
    big_opts(&o, 32749, 3, pad, ETLS_TLS_MAX_HS_MSG - body0 - 1);
    s = srv_new();
    size_t rl = hello_records(&m, &o, 0);
    CHECK_MSG(ch_len == 5 + ETLS_TLS_MAX_HS_MSG, "built %zu", ch_len);
    expect_alert(s, srv_feed(s, rec_buf, 5 + 16384, NULL), ETLS_ALERT_ILLEGAL_PARAMETER, "128 KiB + 1");
    CHECK(etls_tls_hs_pool_big_out(te.env.hs_pool) == 0);
    srv_free(s);
    (void)rl;
    mini_free(&m);
}

/* At most big_max large reassembly buffers per worker: a flood of half-sent large hellos is
 * refused (internal_error, counted) beyond it, small fragmented hellos still pass, and every
 * buffer comes back when its hello is parsed or its connection goes. */
static void test_big_hello_cap(void)
{
    static mini_t m, m2;
    static uint8_t big_rec[ETLS_TLS_MAX_HS_MSG + 4096];
    etls_tls_hs_pool_t *pool = te.env.hs_pool;
    uint64_t refused0 = etls_tls_hs_pool_big_refused(pool);
    etls_tls_hs_pool_set_big_max(pool, 2);
    ch_opts_t o;
    big_opts(&o, 20000, 20000, NULL, 0);
    mini_init(&m, te.env.aead, 3);
    size_t rl = hello_records(&m, &o, 0), first = 5 + 16384;
    memcpy(big_rec, rec_buf, rl);
    static uint8_t big_ch[ETLS_TLS_MAX_HS_MSG + 64];
    size_t big_ch_len = ch_len;
    memcpy(big_ch, ch_buf, ch_len);
    srv_t *a = srv_new(), *b = srv_new(), *c = srv_new(), *d, *e;
    size_t used;
    CHECK(srv_feed(a, big_rec, first, &used) == 0 && used == first);
    CHECK(srv_feed(b, big_rec, first, &used) == 0 && used == first);
    CHECK(etls_tls_hs_pool_big_out(pool) == 2);
    expect_alert(c, srv_feed(c, big_rec, first, NULL), ETLS_ALERT_INTERNAL_ERROR, "third large hello");
    CHECK(etls_tls_hs_pool_big_refused(pool) == refused0 + 1);
    CHECK(etls_tls_hs_pool_big_out(pool) == 2);
    /* A small hello in 100-byte records is not held to the cap. */
    ch_opts_t so;
    memset(&so, 0, sizeof so);
    mini_init(&m2, te.env.aead, 3);
    d = srv_new();
    size_t srl = hello_records(&m2, &so, 100);
    CHECK(srv_feed(d, rec_buf, srl, NULL) == 0 &&
          mini_read_flight(&m2, ch_buf, ch_len, d->out.base, d->out.len) == 0);
    /* The first large hello completes: its buffer returns at once, a new one may start. */
    CHECK(srv_feed(a, big_rec + first, rl - first, &used) == 0 && used == rl - first);
    CHECK(mini_read_flight(&m, big_ch, big_ch_len, a->out.base, a->out.len) == 0);
    CHECK(etls_tls_hs_pool_big_out(pool) == 1);
    e = srv_new();
    CHECK(srv_feed(e, big_rec, first, NULL) == 0 && etls_tls_hs_pool_big_out(pool) == 2);
    srv_free(b); /* a connection that goes mid-hello returns its buffer */
    CHECK(etls_tls_hs_pool_big_out(pool) == 1);
    srv_free(e);
    CHECK(etls_tls_hs_pool_big_out(pool) == 0);
    srv_free(a);
    srv_free(c);
    srv_free(d);
    etls_tls_hs_pool_set_big_max(pool, ETLS_TLS_DEFAULT_BIG_MAX);
    mini_free(&m);
    mini_free(&m2);
}

/* OpenSSL's client with a ~65 KB custom extension: a ClientHello over 64 KiB, accepted, and the
 * connection carries data both ways. */
static size_t ossl_ext_len;

static int add_big_ext(SSL *s, unsigned int type, unsigned int context, const unsigned char **out,
                       size_t *outlen, X509 *x, size_t chainidx, int *al, void *arg)
{
    (void)s, (void)type, (void)context, (void)x, (void)chainidx, (void)al, (void)arg;
    unsigned char *p = OPENSSL_zalloc(ossl_ext_len);
    if (!p)
        return -1;
    *out = p;
    *outlen = ossl_ext_len;
    return 1;
}

static void free_big_ext(SSL *s, unsigned int type, unsigned int context, const unsigned char *out, void *arg)
{
    (void)s, (void)type, (void)context, (void)arg;
    OPENSSL_free((void *)out);
}

static void test_big_hello_openssl(void)
{
    SSL_CTX *cc = test_client_ctx(&cert);
    CHECK(SSL_CTX_add_custom_ext(cc, 0xfe78, SSL_EXT_CLIENT_HELLO, add_big_ext, free_big_ext, NULL,
                                 NULL, NULL) == 1);
    ossl_ext_len = 65300; /* with OpenSSL's other extensions, just under the 64 KiB block */
    test_pair_t p;
    test_pair_init(&p, cc, &ctx, &te);
    SSL_set_tlsext_host_name(p.ssl, "server.example");
    CHECK(SSL_do_handshake(p.ssl) <= 0); /* the ClientHello is written, nothing to read yet */
    size_t pending = BIO_ctrl_pending(p.c_wbio);
    CHECK_MSG(pending > 5 * 4 + 4 + 65536, "OpenSSL ClientHello records: %zu bytes", pending);
    CHECK(test_pair_handshake(&p) == 0);
    CHECK(etls_tls_handshake_done(p.conn));
    CHECK(test_pair_server_send(&p, (const uint8_t *)"big hello ok", 12) == 0);
    uint8_t b[12];
    CHECK(test_pair_client_read(&p, b, 12) == 0 && memcmp(b, "big hello ok", 12) == 0);
    CHECK(SSL_write(p.ssl, "up", 2) == 2 && test_pair_server_step(&p) == 0);
    CHECK(p.got_len == 2 && memcmp(p.got, "up", 2) == 0);
    test_pair_free(&p);
    SSL_CTX_free(cc);
}

int main(int argc, char **argv)
{
    size_t cap = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 0;
    etls_test_seed("tls_edges");
    CHECK(test_env_init(&te, cap) == 0);
    CHECK(test_cert_make(&cert, KEY_ECDSA, "server.example") == 0);
    CHECK(etls_tls_server_ctx_init(&ctx, &te.rng) == 0);
    CHECK(test_ctx_add(&ctx, &cert, NULL, 1) == 0);
    test_empty_records();
    test_key_update_coalesced();
    test_key_shares();
    test_hybrid();
    test_big_hello();
    test_big_hello_cap();
    test_big_hello_openssl();
    etls_tls_server_ctx_free(&ctx);
    test_cert_free(&cert);
    CHECK(test_env_free(&te) == 0); /* every handshake state came back */
    return etls_test_summary("tls_edges");
}
