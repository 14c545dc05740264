/* libFuzzer harness: the record layer, before and after the handshake.
 * byte 0 bit 0 = 1: the rest is raw bytes fed to a fresh server in pieces of
 *   (byte 0 >> 1) + 1 bytes (partial records, bad headers, garbage).
 * bit 0 = 0: a handshake is completed with the test client, then the rest is a list of
 *   operations [op][len_hi][len_lo][bytes...]: op % 4 == 0 seals the bytes as content type
 *   op / 4 (with op & 0x30 bytes of padding) and feeds the record; 1 feeds the bytes raw;
 *   2 makes the server send len bytes; 3 sends a client KeyUpdate (then switches keys). */
#include "fuzz_common.h"

#include "../tests/tls/mini_client.h"

#include <stdlib.h>
#include <string.h>

static fuzz_srv_t *establish(mini_t *m)
{
    static const ch_opts_t o = {0};
    uint8_t ch[2048], rec[2200], fin[64];
    fuzz_srv_t *s = fuzz_srv_new();
    mini_init(m, fuzz_env()->aead, 42);
    size_t n = mini_build_ch(m, &o, ch, sizeof ch);
    FUZZ_ASSERT(fuzz_feed(s, rec, mini_records(22, ch, n, 0, rec)) == 0);
    FUZZ_ASSERT(mini_read_flight(m, ch, n, s->out.base, s->out.len) == 0);
    s->out.len = 0;
    n = mini_finished_msg(m, fin);
    FUZZ_ASSERT(fuzz_feed(s, rec, mini_seal(m, 22, fin, n, 0, rec)) == 0);
    FUZZ_ASSERT(etls_tls_handshake_done(&s->c) && mini_switch_app(m) == 0);
    return s;
}

static void run_ops(fuzz_srv_t *s, mini_t *m, const uint8_t *p, size_t n)
{
    static uint8_t rec[20000], zeros[20000];
    while (n >= 3 && !s->c.err) {
        uint8_t op = p[0];
        size_t len = (size_t)p[1] << 8 | p[2];
        p += 3;
        n -= 3;
        len = len < n ? len : n;
        size_t used;
        if (op % 4 == 0 && len <= 16400) {
            fuzz_feed(s, rec, mini_seal(m, (uint8_t)(op >> 2), p, len, op & 0x30, rec));
        } else if (op % 4 == 1) {
            fuzz_feed(s, p, len);
        } else if (op % 4 == 2 && etls_tls_handshake_done(&s->c) && !etls_tls_close_sent(&s->c)) {
            s->out.len = 0;
            int rc = etls_tls_send(&s->c, zeros, len, &used, &s->out);
            FUZZ_ASSERT(rc == 0 && used <= len && s->out.len <= s->out.cap);
        } else if (op % 4 == 3) {
            uint8_t ku[5] = {24, 0, 0, 1, (uint8_t)(op >> 7)};
            fuzz_feed(s, rec, mini_seal(m, 22, ku, 5, 0, rec));
            mini_update_write(m);
        }
        p += len;
        n -= len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1) {
        fuzz_srv_t *s = fuzz_srv_new();
        fuzz_feed_pieces(s, data + 1, size - 1, (size_t)(data[0] >> 1) + 1);
        fuzz_srv_free(s);
        return 0;
    }
    static mini_t m;
    fuzz_srv_t *s = establish(&m);
    run_ops(s, &m, data + 1, size - 1);
    fuzz_srv_free(s);
    mini_free(&m);
    return 0;
}
