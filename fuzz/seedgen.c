/* Writes the small seed corpora in fuzz/corpus/ (run by hand: seedgen <fuzz/corpus>):
 * ClientHellos built with the test client in several shapes, record-harness inputs, and client
 * Certificate/CertificateVerify inputs (certificates generated here: public data only). */
#include "../tests/tls/harness.h"
#include "../tests/tls/mini_client.h"

#include <stdio.h>
#include <string.h>

static void put(const char *dir, const char *name, const uint8_t *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(p, 1, n, f);
        fclose(f);
    }
}

static void hello(const char *dir, const char *name, const ch_opts_t *o, uint8_t frag)
{
    static mini_t m;
    uint8_t ch[4096], out[4096];
    mini_init(&m, NULL, 7);
    size_t n = mini_build_ch(&m, o, ch, sizeof ch);
    out[0] = frag;
    memcpy(out + 1, ch + 4, n - 4); /* the harness adds the handshake header */
    put(dir, name, out, n - 3);
}

/* fuzz_client_cert input: flags, Certificate body length (2 bytes), body, CertificateVerify. */
static void cert_seed(const char *dir, const char *name, uint8_t flags, const uint8_t *ctx, size_t ctxl,
                      const test_cert_t *tc, uint16_t scheme, size_t sig_len)
{
    static uint8_t b[8192];
    b[0] = flags;
    size_t n = 3 + mini_cert_body(ctx, ctxl, tc ? tc->der : NULL, tc ? tc->der_len : 0, NULL, 0, b + 3);
    b[1] = (uint8_t)((n - 3) >> 8);
    b[2] = (uint8_t)(n - 3);
    b[n++] = (uint8_t)(scheme >> 8);
    b[n++] = (uint8_t)scheme;
    b[n++] = (uint8_t)(sig_len >> 8);
    b[n++] = (uint8_t)sig_len;
    memset(b + n, 0x5a, sig_len);
    put(dir, name, b, n + sig_len);
}

static void client_cert_seeds(const char *dir)
{
    test_cert_t ec, rsa, ed;
    static const uint8_t one[1] = {1};
    if (test_cert_make(&ec, KEY_ECDSA, "client.example") || test_cert_make(&rsa, KEY_RSA, "client.example") ||
        test_cert_make(&ed, KEY_ED25519, "client.example"))
        return;
    cert_seed(dir, "empty_optional", 2, NULL, 0, NULL, 0, 0);
    cert_seed(dir, "empty_required", 0, NULL, 0, NULL, 0, 0);
    cert_seed(dir, "ecdsa_self_trusted", 1, NULL, 0, &ec, 0x0403, 72);
    cert_seed(dir, "rsa_self_trusted", 1, NULL, 0, &rsa, 0x0804, 256);
    cert_seed(dir, "ed25519_self_trusted", 1, NULL, 0, &ed, 0x0807, 64);
    cert_seed(dir, "ecdsa_unknown_ca", 0, NULL, 0, &ec, 0x0403, 72);
    cert_seed(dir, "nonempty_context", 1, one, 1, &ec, 0x0403, 72);
    test_cert_free(&ec);
    test_cert_free(&rsa);
    test_cert_free(&ed);
}

int main(int argc, char **argv)
{
    char d1[256], d2[256];
    static const uint16_t suites[] = {0x1303, 0x1302, 0x1301, 0x1304, 0x1305};
    static const uint16_t groups[] = {0x0017, 0x001d};
    static const uint8_t alpn[] = {0, 16, 0, 11, 0, 9, 2, 'h', '2', 6, 'h', 't', 't', 'p', '/', '1'};
    if (argc < 2)
        return 2;
    snprintf(d1, sizeof d1, "%s/client_hello", argv[1]);
    snprintf(d2, sizeof d2, "%s/record", argv[1]);
    ch_opts_t o;
    memset(&o, 0, sizeof o);
    hello(d1, "basic", &o, 255);
    o.sni = "fuzz.example";
    o.sid_len = 32;
    o.suites = suites;
    o.n_suites = 5;
    o.rsl = 512;
    hello(d1, "sni_sid_suites_rsl", &o, 255);
    o.extra = alpn;
    o.extra_len = sizeof alpn;
    hello(d1, "alpn_fragmented", &o, 0);
    memset(&o, 0, sizeof o);
    o.groups = groups;
    o.n_groups = 2;
    o.share_group = 0x0017;
    hello(d1, "p256_share", &o, 255);
    o.groups = groups + 1;
    o.n_groups = 1;
    o.share_group = 0;
    o.sni = "a.wild.example";
    hello(d1, "wildcard", &o, 3);
    static const uint16_t hybrid[] = {0x11ec, 0x001d}; /* X25519MLKEM768: a 1216-byte share */
    memset(&o, 0, sizeof o);
    o.groups = hybrid;
    o.n_groups = 2;
    o.share_group = 0x11ec;
    hello(d1, "hybrid_share", &o, 255);
    memset(&o, 0, sizeof o);
    o.no_versions = 1;
    hello(d1, "no_versions", &o, 255);
    static const uint8_t psk[] = {0, 45, 0, 2, 1, 1, 0, 41, 0, 44, 0, 7, 0, 1, 'x', 0, 0, 0, 0,
                                  0, 33, 32, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                  16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
    memset(&o, 0, sizeof o);
    o.extra = psk;
    o.extra_len = sizeof psk;
    hello(d1, "psk_offer", &o, 255);
    /* record harness: raw mode (bit 0 set) and operations after a handshake */
    static const uint8_t raw1[] = {0x09, 0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00};
    static const uint8_t raw2[] = {0x01, 0x15, 0x03, 0x03, 0x00, 0x02, 0x01, 0x00};
    static const uint8_t ops1[] = {0x00, 0x5c, 0x00, 0x05, 'h', 'e', 'l', 'l', 'o', 0x02, 0x00, 0x10,
                                   0x83, 0x00, 0x00, 0x5c, 0x00, 0x02, 'o', 'k'};
    static const uint8_t ops2[] = {0x00, 0x58, 0x00, 0x05, 0x18, 0x00, 0x00, 0x01, 0x01, 0x54, 0x00,
                                   0x02, 0x01, 0x00, 0x01, 0x00, 0x03, 0x17, 0x03, 0x03};
    put(d2, "raw_hello_header", raw1, sizeof raw1);
    put(d2, "raw_close_notify", raw2, sizeof raw2);
    put(d2, "ops_data_keyupdate", ops1, sizeof ops1);
    put(d2, "ops_keyupdate_alert", ops2, sizeof ops2);
    snprintf(d1, sizeof d1, "%s/client_cert", argv[1]);
    client_cert_seeds(d1);
    return 0;
}
