/* Snapshots built from deltas (snap.c): a delta applied to its base equals the full snapshot of
 * the same state (same certificates in the same order, found by SNI), unchanged entries are
 * shared with the base (the same certificate objects, no parsing), replaced entries keep their
 * place, and bad deltas (wrong base, unknown or doubled removals, a broken entry) are refused
 * with a reason and leave the base untouched. Real certificates (OpenSSL, P-256). */
#include "pem_util.h"
#include "snapshot/snapshot.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_entry(etls_snap_buf_t *b, const char *entry, const pem_pair_t *pp)
{
    etls_snap_cert_in_t c = {(const uint8_t *)pp->chain, (uint32_t)pp->chain_len, (const uint8_t *)pp->key,
                             (uint32_t)pp->key_len};
    etls_snap_enc_entry(b, entry, 0, NULL, 0, &c, 1);
}

static uint8_t tk[1][ETLS_SNAP_KEY_LEN];

static const etls_tls_cert_t *sel(const etls_snap_t *s, const char *name)
{
    return etls_tls_server_ctx_select_cert(&s->tls, name, strlen(name), NULL, 0);
}

enum { N = 6 };

int main(void)
{
    etls_rand_t rng;
    etls_rand_init(&rng);
    etls_tls_server_ctx_t tmpl;
    CHECK(etls_tls_server_ctx_init(&tmpl, &rng) == 0);
    CHECK(etls_tls_server_ctx_set_ticket_keys(&tmpl, tk[0], NULL) == 0); /* tickets on */
    pem_pair_t certs[N], repl = make_cert("e2.test"), extra = make_cert("new.test");
    char names[N][16], entries[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "e%d.test", i);
        snprintf(entries[i], sizeof entries[i], "e%d", i);
        certs[i] = make_cert(names[i]);
    }
    char err[512];

    /* version 1: e0..e5 */
    etls_snap_buf_t b = {0};
    etls_snap_enc_begin(&b, 1, 3600, (const uint8_t(*)[ETLS_SNAP_KEY_LEN])tk, NULL, 1);
    for (int i = 0; i < N; i++)
        put_entry(&b, entries[i], &certs[i]);
    CHECK(etls_snap_enc_end(&b) == 0);
    etls_snap_t *v1 = etls_snap_build(&tmpl, NULL, b.p, b.len, err, sizeof err);
    CHECK_MSG(v1 != NULL, "full build: %s", err);
    etls_snap_buf_free(&b);
    CHECK(v1->n_entries == N && v1->tls.n_certs == N && v1->tls.certs[0]->refs == 1);
    CHECK(!strcmp(v1->tls.certs[3]->tag, "e3"));

    /* version 2 as a delta: e2 replaced, e4 removed, "extra" added */
    const char *removed[] = {"e4"};
    etls_snap_enc_begin_delta(&b, 1, 2, 3600, (const uint8_t(*)[ETLS_SNAP_KEY_LEN])tk, NULL, 1, removed, 1);
    put_entry(&b, "e2", &repl);
    put_entry(&b, "extra", &extra);
    CHECK(etls_snap_enc_end(&b) == 0);
    etls_snap_buf_t d2 = b;
    memset(&b, 0, sizeof b);
    etls_snap_t *v2 = etls_snap_build(&tmpl, v1, d2.p, d2.len, err, sizeof err);
    CHECK_MSG(v2 != NULL, "delta build: %s", err);
    CHECK(v2->version == 2 && v2->n_entries == N && v2->tls.n_certs == N);
    /* shared, not parsed again: the very same objects, one more reference each */
    CHECK(v2->tls.certs[0] == v1->tls.certs[0] && v1->tls.certs[0]->refs == 2);
    CHECK(v2->tls.certs[3] == v1->tls.certs[3] && v2->tls.certs[4] == v1->tls.certs[5]);
    /* the replacement keeps e2's place; the new entry comes last; e4 is gone */
    CHECK(!strcmp(v2->tls.certs[2]->tag, "e2") && v2->tls.certs[2] != v1->tls.certs[2]);
    CHECK(!strcmp(v2->tls.certs[N - 1]->tag, "extra"));
    CHECK(sel(v2, "e2.test") == v2->tls.certs[2] && sel(v1, "e2.test") == v1->tls.certs[2]);
    CHECK(sel(v2, "new.test") == v2->tls.certs[N - 1] && sel(v1, "new.test") == v1->tls.certs[0]);
    CHECK(sel(v2, "e4.test") == v2->tls.certs[0] && sel(v1, "e4.test") == v1->tls.certs[4]);
    CHECK(v2->tls.certs[2]->cert_msg_len != v1->tls.certs[2]->cert_msg_len ||
          memcmp(v2->tls.certs[2]->cert_msg, v1->tls.certs[2]->cert_msg, v1->tls.certs[2]->cert_msg_len));

    /* the same state as a full snapshot: same entries, same order, same bytes */
    etls_snap_enc_begin(&b, 2, 3600, (const uint8_t(*)[ETLS_SNAP_KEY_LEN])tk, NULL, 1);
    for (int i = 0; i < N; i++)
        if (i != 4)
            put_entry(&b, entries[i], i == 2 ? &repl : &certs[i]);
    put_entry(&b, "extra", &extra);
    CHECK(etls_snap_enc_end(&b) == 0);
    etls_snap_t *f2 = etls_snap_build(&tmpl, NULL, b.p, b.len, err, sizeof err);
    etls_snap_buf_free(&b);
    CHECK(f2 && f2->tls.n_certs == v2->tls.n_certs);
    for (size_t i = 0; f2 && i < f2->tls.n_certs; i++) {
        CHECK(!strcmp(f2->tls.certs[i]->tag, v2->tls.certs[i]->tag));
        CHECK(f2->tls.certs[i]->cert_msg_len == v2->tls.certs[i]->cert_msg_len &&
              !memcmp(f2->tls.certs[i]->cert_msg, v2->tls.certs[i]->cert_msg, f2->tls.certs[i]->cert_msg_len));
    }
    etls_snap_free(f2);

    /* refusals: wrong base, unknown removal, removal twice, an entry added twice, broken PEM */
    CHECK(etls_snap_build(&tmpl, v2, d2.p, d2.len, err, sizeof err) == NULL);
    CHECK_MSG(strstr(err, "delta from version 1, but this dataplane serves version 2") != NULL, "%s", err);
    CHECK(etls_snap_build(&tmpl, NULL, d2.p, d2.len, err, sizeof err) == NULL);
    const char *nosuch[] = {"nosuch"}, *twice[] = {"e1", "e1"};
    struct {
        const char *const *rm;
        size_t n_rm;
        int dup_add, bad_pem;
        const char *want;
    } bad[] = {
        {nosuch, 1, 0, 0, "delta: removes 1 entries, version 1 holds 0 of them"},
        {twice, 2, 0, 0, "delta: entry e1 removed twice"},
        {NULL, 0, 1, 0, "delta: entry e3 removed and added, or added twice"},
        {NULL, 0, 0, 1, "entry e3: certificate 0"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        etls_snap_enc_begin_delta(&b, 1, 3, 3600, (const uint8_t(*)[ETLS_SNAP_KEY_LEN])tk, NULL, 1, bad[i].rm,
                                  bad[i].n_rm);
        pem_pair_t broken = certs[3];
        broken.chain_len /= 2;
        put_entry(&b, "e3", bad[i].bad_pem ? &broken : &certs[3]);
        if (bad[i].dup_add)
            put_entry(&b, "e3", &certs[3]);
        CHECK(etls_snap_enc_end(&b) == 0);
        CHECK_MSG(etls_snap_build(&tmpl, v1, b.p, b.len, err, sizeof err) == NULL, "bad delta %zu accepted", i);
        CHECK_MSG(strstr(err, bad[i].want) != NULL, "bad delta %zu: got '%s'", i, err);
        etls_snap_buf_free(&b);
    }
    /* The common delta (no removal; replacements with as many certificates, and additions),
     * which starts from a copy of the base's certificate array and SNI index: a chain of them
     * equals the full snapshot of each state — same certificates in the same order, every name
     * selecting the same entry — including a replacement whose certificate serves another name
     * (the old name no longer finds it) and bases freed along the way. */
    {
        enum { M = 40, ROUNDS = 24 };
        pem_pair_t cur[M + ROUNDS];
        char ename[M + ROUNDS][16], sname[M + ROUNDS][24];
        size_t n_ent = M;
        for (int i = 0; i < M; i++) {
            snprintf(ename[i], sizeof ename[i], "f%d", i);
            snprintf(sname[i], sizeof sname[i], "f%d.test", i);
            cur[i] = make_cert(sname[i]);
        }
        etls_snap_enc_begin(&b, 10, 3600, (const uint8_t(*)[ETLS_SNAP_KEY_LEN])tk, NULL, 1);
        for (int i = 0; i < M; i++)
            put_entry(&b, ename[i], &cur[i]);
        CHECK(etls_snap_enc_end(&b) == 0);
        etls_snap_t *base = etls_snap_build(&tmpl, NULL, b.p, b.len, err, sizeof err);
        etls_snap_buf_free(&b);
        CHECK_MSG(base != NULL, "%s", err);
        uint32_t seed = 12345;
        for (int r = 0; base && r < ROUNDS; r++) {
            seed = seed * 1103515245u + 12345u;
            size_t a1 = (seed >> 8) % n_ent, a2 = (seed >> 16) % n_ent;
            /* replace a1 (every fourth round with a certificate for a new name), maybe a2 too,
             * and every third round add an entry */
            if (r % 4 == 0)
                snprintf(sname[a1], sizeof sname[a1], "moved%d.test", r);
            free(cur[a1].chain);
            free(cur[a1].key);
            cur[a1] = make_cert(sname[a1]);
            int two = a2 != a1 && r % 2;
            if (two) {
                free(cur[a2].chain);
                free(cur[a2].key);
                cur[a2] = make_cert(sname[a2]);
            }
            int add = r % 3 == 0;
            if (add) {
                snprintf(ename[n_ent], sizeof ename[n_ent], "g%d", r);
                snprintf(sname[n_ent], sizeof sname[n_ent], "g%d.test", r);
                cur[n_ent] = make_cert(sname[n_ent]);
            }
            uint64_t v = 11 + (uint64_t)r;
            etls_snap_enc_begin_delta(&b, v - 1, v, 3600, (const uint8_t(*)[ETLS_SNAP_KEY_LEN])tk, NULL, 1, NULL, 0);
            put_entry(&b, ename[a1], &cur[a1]);
            if (two)
                put_entry(&b, ename[a2], &cur[a2]);
            if (add)
                put_entry(&b, ename[n_ent], &cur[n_ent]);
            CHECK(etls_snap_enc_end(&b) == 0);
            etls_snap_t *next = etls_snap_build(&tmpl, base, b.p, b.len, err, sizeof err);
            etls_snap_buf_free(&b);
            CHECK_MSG(next != NULL, "round %d: %s", r, err);
            if (!next)
                break;
            n_ent += add;
            etls_snap_enc_begin(&b, v, 3600, (const uint8_t(*)[ETLS_SNAP_KEY_LEN])tk, NULL, 1);
            for (size_t i = 0; i < n_ent; i++)
                put_entry(&b, ename[i], &cur[i]);
            CHECK(etls_snap_enc_end(&b) == 0);
            etls_snap_t *full = etls_snap_build(&tmpl, NULL, b.p, b.len, err, sizeof err);
            etls_snap_buf_free(&b);
            CHECK(full && full->tls.n_certs == next->tls.n_certs && next->n_entries == n_ent);
            for (size_t i = 0; full && i < n_ent && i < next->tls.n_certs; i++) {
                CHECK_MSG(!strcmp(full->tls.certs[i]->tag, next->tls.certs[i]->tag), "round %d: order at %zu", r, i);
                CHECK(next->tls.certs[i]->cert_msg_len == full->tls.certs[i]->cert_msg_len &&
                      !memcmp(next->tls.certs[i]->cert_msg, full->tls.certs[i]->cert_msg, full->tls.certs[i]->cert_msg_len));
                /* every name, and every name ever served, selects the same position in both */
                const etls_tls_cert_t *x = sel(next, sname[i]), *y = sel(full, sname[i]);
                CHECK_MSG(x && y && !strcmp(x->tag, y->tag) && !strcmp(x->tag, ename[i]), "round %d: %s -> %s / %s", r,
                          sname[i], x ? x->tag : "-", y ? y->tag : "-");
                if (i != a1 && i != a2)
                    CHECK(i >= base->tls.n_certs || next->tls.certs[i] == base->tls.certs[i]); /* shared */
            }
            char old[32];
            snprintf(old, sizeof old, "f%zu.test", a1);
            const etls_tls_cert_t *x = sel(next, old), *y = full ? sel(full, old) : NULL;
            CHECK_MSG(x && y && !strcmp(x->tag, y->tag), "round %d: a name given up (%s) selects %s / %s", r, old,
                      x ? x->tag : "-", y ? y->tag : "-");
            CHECK(sel(next, "nothing.test") && !strcmp(sel(next, "nothing.test")->tag, full ? sel(full, "nothing.test")->tag : ""));
            etls_snap_free(full);
            etls_snap_free(base); /* the next round's base is this one: its tags must not point here */
            base = next;
        }
        for (size_t i = 0; base && i < base->tls.n_certs; i++)
            CHECK(base->tls.certs[i]->refs == 1);
        etls_snap_free(base);
        for (size_t i = 0; i < n_ent; i++) {
            free(cur[i].chain);
            free(cur[i].key);
        }
    }

    /* v1 is untouched by all of it: references back to one after v2 goes */
    etls_snap_free(v2);
    for (size_t i = 0; i < v1->tls.n_certs; i++)
        CHECK(v1->tls.certs[i]->refs == 1);
    CHECK(sel(v1, "e4.test") == v1->tls.certs[4]);
    /* a delta removing everything is refused: a snapshot holds at least one certificate */
    const char *all[N];
    for (int i = 0; i < N; i++)
        all[i] = entries[i];
    etls_snap_enc_begin_delta(&b, 1, 4, 3600, (const uint8_t(*)[ETLS_SNAP_KEY_LEN])tk, NULL, 1, all, N);
    CHECK(etls_snap_enc_end(&b) == 0);
    CHECK(etls_snap_build(&tmpl, v1, b.p, b.len, err, sizeof err) == NULL && strstr(err, "no certificates"));
    etls_snap_buf_free(&b);
    etls_snap_free(v1);
    etls_snap_buf_free(&d2);
    for (int i = 0; i < N; i++) {
        free(certs[i].chain);
        free(certs[i].key);
    }
    free(repl.chain);
    free(repl.key);
    free(extra.chain);
    free(extra.key);
    etls_tls_server_ctx_free(&tmpl);
    return etls_test_summary("snap_delta");
}
