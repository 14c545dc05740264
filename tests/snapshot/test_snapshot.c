/* The snapshot codec (round trips, every truncation and corruption refused cleanly, bounds) and
 * the RCU-style publication: a snapshot is freed only once every worker adopted a newer one and
 * no session that started on it is left. */
#include "snapshot/snapshot.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

static const char chain1[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
static const char key1[] = "-----BEGIN PRIVATE KEY-----\nBBBB\n-----END PRIVATE KEY-----\n";

/* Decodes everything: 0 when the whole snapshot was accepted, -1 when refused. */
static int decode_all(const uint8_t *p, size_t n, char *err, size_t errlen)
{
    etls_snap_reader_t r;
    etls_snap_hdr_t h;
    etls_snap_entry_in_t e;
    int rc = etls_snap_decode(&r, &h, p, n, err, errlen);
    while (rc == 0 && (rc = etls_snap_next(&r, &e, err, errlen)) == 1)
        rc = 0;
    return rc;
}

static void encode_sample(etls_snap_buf_t *b)
{
    uint8_t keys[2][ETLS_SNAP_KEY_LEN], flags[2] = {0, 1};
    memset(keys[0], 0x11, sizeof keys[0]);
    memset(keys[1], 0x22, sizeof keys[1]);
    etls_snap_enc_begin(b, 42, 3600, (const uint8_t(*)[ETLS_SNAP_KEY_LEN])keys, flags, 2);
    const char *names[] = {"www.example.test", "*.img.example.test"};
    etls_snap_cert_in_t certs[2] = {
        {(const uint8_t *)chain1, sizeof chain1 - 1, (const uint8_t *)key1, sizeof key1 - 1},
        {(const uint8_t *)key1, sizeof key1 - 1, (const uint8_t *)chain1, sizeof chain1 - 1},
    };
    etls_snap_enc_entry(b, "www", 1, names, 2, certs, 2);
    etls_snap_enc_entry(b, "api", 0, NULL, 0, certs, 1);
    CHECK(etls_snap_enc_end(b) == 0);
}

static void test_round_trip(void)
{
    etls_snap_buf_t b = {0};
    encode_sample(&b);
    etls_snap_reader_t r;
    etls_snap_hdr_t h;
    etls_snap_entry_in_t e;
    char err[256];
    CHECK(etls_snap_decode(&r, &h, b.p, b.len, err, sizeof err) == 0);
    CHECK(h.version == 42 && h.ticket_lifetime == 3600 && h.n_tickets == 2 && h.n_entries == 2);
    CHECK(h.ticket_flags[0] == 0 && h.ticket_flags[1] == 1 && h.tickets[1][0] == 0x22);
    CHECK(etls_snap_next(&r, &e, err, sizeof err) == 1);
    CHECK(e.name_len == 3 && !memcmp(e.name, "www", 3) && e.is_default && e.n_names == 2 && e.n_certs == 2);
    CHECK(e.names[0] == 16 && !memcmp(e.names + 1, "www.example.test", 16));
    CHECK(e.certs[0].chain_len == sizeof chain1 - 1 && !memcmp(e.certs[0].chain, chain1, sizeof chain1 - 1));
    CHECK(e.certs[1].key_len == sizeof chain1 - 1);
    CHECK(etls_snap_next(&r, &e, err, sizeof err) == 1);
    CHECK(e.name_len == 3 && !memcmp(e.name, "api", 3) && !e.is_default && e.n_names == 0 && e.n_certs == 1);
    CHECK(etls_snap_next(&r, &e, err, sizeof err) == 0);
    etls_snap_buf_free(&b);
}

/* Every prefix of a valid snapshot is refused, reading nothing past it (ASan: exact-size copy). */
static void test_truncations(void)
{
    etls_snap_buf_t b = {0};
    encode_sample(&b);
    for (size_t n = 0; n < b.len; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, b.p, n);
        char err[256];
        CHECK_MSG(decode_all(cut, n, err, sizeof err) < 0, "prefix of %zu bytes accepted", n);
        free(cut);
    }
    /* trailing garbage after the last entry */
    char err[256];
    CHECK(decode_all(b.p, b.len, err, sizeof err) == 0);
    etls_snap_put_u8(&b, 0);
    CHECK(decode_all(b.p, b.len, err, sizeof err) < 0 && strstr(err, "trailing"));
    etls_snap_buf_free(&b);
}

static void test_bounds(void)
{
    char err[256];
    etls_snap_reader_t r;
    etls_snap_hdr_t h;
    uint8_t bad[32] = "ESN0";
    CHECK(etls_snap_decode(&r, &h, bad, sizeof bad, err, sizeof err) < 0 && strstr(err, "magic"));
    memcpy(bad, "ESN1", 4);
    bad[16] = ETLS_SNAP_MAX_TICKETS + 1;
    CHECK(etls_snap_decode(&r, &h, bad, sizeof bad, err, sizeof err) < 0 && strstr(err, "ticket"));
    /* an entry count over the bound */
    etls_snap_buf_t b = {0};
    etls_snap_enc_begin(&b, 1, 60, NULL, NULL, 0);
    b.count = ETLS_SNAP_MAX_ENTRIES + 1;
    CHECK(etls_snap_enc_end(&b) == 0);
    CHECK(etls_snap_decode(&r, &h, b.p, b.len, err, sizeof err) < 0 && strstr(err, "entries"));
    etls_snap_buf_free(&b);
    /* the encoder refuses what the decoder would refuse */
    etls_snap_enc_begin(&b, 1, 60, NULL, NULL, 0);
    etls_snap_cert_in_t empty = {(const uint8_t *)"", 0, (const uint8_t *)"", 0};
    etls_snap_enc_entry(&b, "x", 0, NULL, 0, &empty, 1);
    CHECK(etls_snap_enc_end(&b) < 0);
    etls_snap_buf_free(&b);
    /* framing */
    uint8_t type;
    const uint8_t *p;
    size_t plen, used;
    uint8_t f[8] = {0, 0, 0, 3, 9, 'a', 'b', 'c'};
    CHECK(etls_snap_unframe(f, 3, &type, &p, &plen, &used) == 0);
    CHECK(etls_snap_unframe(f, 6, &type, &p, &plen, &used) == 0);
    CHECK(etls_snap_unframe(f, 8, &type, &p, &plen, &used) == 1 && type == 9 && plen == 2 && used == 7 && p[0] == 'a');
    uint8_t z[5] = {0, 0, 0, 0, 1}, huge[5] = {0xff, 0xff, 0xff, 0xff, 1};
    CHECK(etls_snap_unframe(z, 5, &type, &p, &plen, &used) < 0);
    CHECK(etls_snap_unframe(huge, 5, &type, &p, &plen, &used) < 0);
}

/* Publication and reclaim with two workers, without certificates (snapshots made by hand). */
static etls_snap_t *fake(uint64_t version)
{
    etls_snap_t *s = aligned_alloc(64, (sizeof *s + 63) / 64 * 64);
    memset(s, 0, sizeof *s);
    s->version = version;
    return s;
}

static void test_reclaim(void)
{
    static etls_snap_pub_t pub;
    pub.n_workers = 2;
    etls_snap_t *a = fake(1), *b = fake(2), *c = fake(3);
    etls_snap_publish(&pub, a);
    etls_snap_adopted(&pub, 0, a);
    etls_snap_adopted(&pub, 1, a);
    etls_snap_use(a, 1, 1); /* a handshake on worker 1 started on a */
    etls_snap_publish(&pub, b);
    CHECK(etls_snap_current(&pub) == b);
    CHECK(etls_snap_reclaim(&pub) == 1); /* nobody adopted b yet */
    etls_snap_adopted(&pub, 0, b);
    CHECK(etls_snap_reclaim(&pub) == 1); /* worker 1 still on a */
    etls_snap_adopted(&pub, 1, b);
    CHECK(etls_snap_reclaim(&pub) == 1); /* its session still uses a */
    etls_snap_use(a, 1, -1);
    CHECK(etls_snap_reclaim(&pub) == 0); /* a freed */
    CHECK(pub.retired == NULL);
    etls_snap_publish(&pub, c);
    etls_snap_use(b, 0, 1);
    etls_snap_adopted(&pub, 0, c);
    etls_snap_adopted(&pub, 1, c);
    CHECK(etls_snap_reclaim(&pub) == 1);
    CHECK(etls_snap_min_adopted(&pub) == c->seq);
    etls_snap_use(b, 0, -1);
    CHECK(etls_snap_reclaim(&pub) == 0);
    etls_snap_pub_free(&pub);
    CHECK(etls_snap_current(&pub) == NULL);
}

int main(void)
{
    test_round_trip();
    test_truncations();
    test_bounds();
    test_reclaim();
    return etls_test_summary("snapshot");
}
