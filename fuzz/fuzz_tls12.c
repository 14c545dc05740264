/* libFuzzer harness: a TLS 1.2 server (RSA key exchange with tls12_rsa_kx on, ECDHE X25519;
 * ECDSA and RSA certificates; tickets) driven by the hand-built client tests/tls/mini12.c
 * through ClientHello and the server flight, then fed fuzzed second flights and records.
 * byte 0: bits 0-1 the suite (RSA AES-128, RSA AES-256, ECDHE-ECDSA AES-128, ECDHE-ECDSA
 *   ChaCha20), bit 2 no EMS, bit 3 raw mode: the rest is fed as bytes in pieces of
 *   (byte 0 >> 4) + 1 (partial records kept and presented again, as a transport would).
 * Otherwise the rest is operations [op][len_hi][len_lo][bytes...]:
 *   op % 8 == 0  a plaintext record of type 20 + (op >> 3) % 4 with the bytes
 *             1  a record sealed under the client's keys (once derived), same types
 *             2  the real ClientKeyExchange (RSA: the bytes, when 256 of them, are the encoded
 *                message encrypted instead of a correct one), which derives the client keys
 *             3  change_cipher_spec
 *             4  the real Finished, sealed
 *             5  the bytes fed raw
 *             6  the server sends len bytes of application data
 *             7  a ClientKeyExchange with the bytes as its body, in a plaintext record */
#include "fuzz_common.h"

#include "../tests/tls/harness.h"
#include "../tests/tls/mini12.h"
#include "tls/tls_internal.h"

#include <stdlib.h>
#include <string.h>

static etls_tls_server_ctx_t ctx12;
static test_cert_t cert_ec, cert_rsa;

static void setup12(void)
{
    static int ready;
    if (ready)
        return;
    etls_tls_env_t *env = fuzz_env();
    FUZZ_ASSERT(test_cert_make(&cert_ec, KEY_ECDSA, "fuzz.example") == 0);
    FUZZ_ASSERT(test_cert_make(&cert_rsa, KEY_RSA, "fuzz.example") == 0);
    FUZZ_ASSERT(etls_tls_server_ctx_init(&ctx12, env->rng) == 0);
    FUZZ_ASSERT(etls_tls_server_ctx_set_protocols(&ctx12, ETLS_TLS_PROTO_12 | ETLS_TLS_PROTO_13) == 0);
    ctx12.tls12_rsa_kx = 1;
    FUZZ_ASSERT(test_ctx_add(&ctx12, &cert_ec, NULL, 1) == 0);
    FUZZ_ASSERT(test_ctx_add(&ctx12, &cert_rsa, NULL, 0) == 0);
    uint8_t tk[ETLS_TLS_TICKET_KEY_LEN] = {4, 5, 6};
    FUZZ_ASSERT(etls_tls_server_ctx_set_ticket_keys(&ctx12, tk, NULL) == 0);
    ready = 1;
}

static size_t rec(uint8_t type, const uint8_t *d, size_t n, uint8_t *out)
{
    out[0] = type;
    out[1] = out[2] = 3;
    put_u16(out + 3, (uint16_t)n);
    if (n)
        memmove(out + 5, d, n);
    return 5 + n;
}

static fuzz_srv_t *hello(mini12_t *m, uint8_t mode)
{
    static const uint16_t suites[4] = {ETLS_TLS_RSA_AES_128_GCM_SHA256, ETLS_TLS_RSA_AES_256_GCM_SHA384,
                                       ETLS_TLS_ECDHE_ECDSA_AES_128_GCM_SHA256,
                                       ETLS_TLS_ECDHE_ECDSA_CHACHA20_POLY1305_SHA256};
    setup12();
    fuzz_srv_t *s = aligned_alloc(_Alignof(fuzz_srv_t), sizeof *s);
    FUZZ_ASSERT(s != NULL);
    etls_tls_conn_init(&s->c, &ctx12, fuzz_env());
    s->out = (etls_tls_buf_t){s->outb, 0, sizeof s->outb};
    s->app = (etls_tls_buf_t){s->appb, 0, sizeof s->appb};
    mini12_init(m, fuzz_env()->aead, cert_rsa.pkey, 5);
    mini12_ch_t o = {.suites = &suites[mode & 3], .n_suites = 1, .no_ems = (mode >> 2) & 1};
    uint8_t ch[512], r[600];
    size_t n = mini12_client_hello(m, &o, ch, sizeof ch);
    FUZZ_ASSERT(fuzz_feed(s, r, rec(CT_HANDSHAKE, ch, n, r)) == 0);
    FUZZ_ASSERT(mini12_read_flight(m, s->out.base, s->out.len) == 0);
    s->out.len = 0;
    return s;
}

static void run_ops(fuzz_srv_t *s, mini12_t *m, const uint8_t *p, size_t n)
{
    static uint8_t r[20000], msg[20000], zeros[20000];
    int keys = 0;
    while (n >= 3 && !s->c.err) {
        uint8_t op = p[0], type = (uint8_t)(20 + (op >> 3) % 4);
        size_t len = (size_t)p[1] << 8 | p[2], used;
        p += 3;
        n -= 3;
        len = len < n ? len : n;
        switch (op % 8) {
        case 0:
            if (len <= 16384)
                fuzz_feed(s, r, rec(type, p, len, r));
            break;
        case 1:
            if (keys && len <= 16384)
                fuzz_feed(s, r, mini12_seal(m, type, p, len, r));
            break;
        case 2:
            if (!keys) {
                size_t k = mini12_client_key_exchange(m, len >= 256 ? p : NULL, msg);
                keys = k > 0;
                if (k)
                    fuzz_feed(s, r, rec(CT_HANDSHAKE, msg, k, r));
            }
            break;
        case 3:
            fuzz_feed(s, r, rec(CT_CHANGE_CIPHER_SPEC, (const uint8_t *)"\1", 1, r));
            break;
        case 4:
            if (keys) {
                size_t k = mini12_finished(m, msg);
                fuzz_feed(s, r, mini12_seal(m, CT_HANDSHAKE, msg, k, r));
            }
            break;
        case 5:
            fuzz_feed(s, p, len);
            break;
        case 6:
            if (etls_tls_handshake_done(&s->c) && !etls_tls_close_sent(&s->c)) {
                s->out.len = 0;
                int rc = etls_tls_send(&s->c, zeros, len, &used, &s->out);
                FUZZ_ASSERT(rc == 0 && used <= len && s->out.len <= s->out.cap);
            }
            break;
        default:
            if (len <= 16000)
                fuzz_feed(s, r, rec(CT_HANDSHAKE, msg, mini12_client_key_exchange_raw(m, p, len, msg), r));
            break;
        }
        p += len;
        n -= len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static mini12_t m;
    fuzz_srv_t *s = hello(&m, data[0]);
    if (data[0] & 8)
        fuzz_feed_pieces(s, data + 1, size - 1, (size_t)(data[0] >> 4) + 1);
    else
        run_ops(s, &m, data + 1, size - 1);
    fuzz_srv_free(s);
    mini12_free(&m);
    return 0;
}
