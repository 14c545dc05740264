/* control/store: round trips, history and pruning, recovery of cut-short commits, refusal of
 * damaged versions, permissions, name checks, and the manifest parser's negative cases. */
#include "manifest.h"
#include "store.h"
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/sha.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[64], dir[128];
static char err[512];
static int counter;

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

/* A fresh, not yet existing state directory for each case. */
static const char *fresh(void)
{
    snprintf(dir, sizeof dir, "%s/s%d", base, counter++);
    return dir;
}

static char *path_in(const char *rel)
{
    static char p[4][512];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof p[i], "%s/%s", dir, rel);
    return p[i];
}

static void fill_cert(etls_store_cert_t *c, const char *tag, size_t size, const char *type)
{
    c->chain_pem = malloc(size + 1);
    c->key_pem = malloc(size / 2 + 1);
    for (size_t i = 0; i < size; i++)
        c->chain_pem[i] = (char)('A' + (i + strlen(tag)) % 26);
    memcpy(c->chain_pem, tag, strlen(tag));
    c->chain_len = size;
    c->chain_pem[size] = 0;
    snprintf(c->key_pem, size / 2 + 1, "KEY %s %zu", tag, size);
    c->key_len = strlen(c->key_pem);
    snprintf(c->key_type, sizeof c->key_type, "%s", type);
}

/* Adds entry `name` with n_certs fake certs and the given comma-free names. */
static void add_entry(etls_store_state_t *st, const char *name, size_t n_certs, int def,
                      const char *const *names, size_t n_names)
{
    etls_store_entry_t e;
    memset(&e, 0, sizeof e);
    snprintf(e.name, sizeof e.name, "%s", name);
    e.is_default = def;
    e.names = (char **)names;
    e.n_names = n_names;
    e.n_certs = n_certs;
    for (size_t i = 0; i < n_certs; i++)
        fill_cert(&e.certs[i], name, 300 + 100 * i, i ? "rsa-2048" : "ecdsa-p256");
    CHECK(etls_store_entry_add(st, &e) == 0);
    e.names = NULL;
    e.n_names = 0;
    etls_store_entry_free(&e);
}

static int states_equal(const etls_store_state_t *a, const etls_store_state_t *b)
{
    if (a->version != b->version || a->time != b->time || strcmp(a->comment, b->comment) ||
        a->n_entries != b->n_entries || a->n_tickets != b->n_tickets ||
        memcmp(a->tickets, b->tickets, a->n_tickets * sizeof a->tickets[0]))
        return 0;
    for (size_t i = 0; i < a->n_entries; i++) {
        const etls_store_entry_t *x = &a->entries[i], *y = &b->entries[i];
        if (strcmp(x->name, y->name) || x->is_default != y->is_default ||
            x->n_names != y->n_names || x->n_certs != y->n_certs)
            return 0;
        for (size_t k = 0; k < x->n_names; k++)
            if (strcmp(x->names[k], y->names[k]))
                return 0;
        for (size_t k = 0; k < x->n_certs; k++) {
            const etls_store_cert_t *c = &x->certs[k], *d = &y->certs[k];
            if (c->chain_len != d->chain_len || c->key_len != d->key_len ||
                memcmp(c->chain_pem, d->chain_pem, c->chain_len) ||
                memcmp(c->key_pem, d->key_pem, c->key_len) || strcmp(c->key_type, d->key_type))
                return 0;
        }
    }
    return 1;
}

static unsigned mode_of(const char *p)
{
    struct stat sb;
    return lstat(p, &sb) ? 0 : (unsigned)(sb.st_mode & 07777);
}

static int exists(const char *p)
{
    struct stat sb;
    return lstat(p, &sb) == 0;
}

static void commit_comment(etls_store_t *s, etls_store_state_t *st, const char *comment)
{
    snprintf(st->comment, sizeof st->comment, "%s", comment);
    CHECK_MSG(etls_store_commit(s, st, NULL, 0, err, sizeof err) == 0, "%s", err);
}

static void test_empty(void)
{
    etls_store_t *s;
    etls_store_state_t st;
    etls_store_version_info_t h[4];
    char p[256];
    CHECK_MSG(etls_store_open(&s, fresh(), 3, err, sizeof err) == 0, "%s", err);
    CHECK(mode_of(dir) == 0700);
    CHECK(etls_store_version(s) == 0);
    CHECK(etls_store_load(s, 0, &st, err, sizeof err) == 0 && st.version == 0 && st.n_entries == 0);
    CHECK(etls_store_history(s, h, 4) == 0);
    CHECK(etls_store_current_path(s, "snapshot.bin", p, sizeof p) == -1);
    CHECK(etls_store_load(s, 1, &st, err, sizeof err) == -1 && strstr(err, "not kept"));
    /* Nothing is written before the first commit. */
    CHECK(!exists(path_in("versions")) && !exists(path_in("current")));
    etls_store_close(s);
    CHECK(etls_store_open(&s, dir, 3, err, sizeof err) == 0 && etls_store_version(s) == 0);
    etls_store_close(s);
}

static void build_state(etls_store_state_t *st)
{
    static const char *const www[] = {"www.example.com", "example.com"};
    static const char *const api[] = {"api.example.com"};
    memset(st, 0, sizeof *st);
    add_entry(st, "www", 1, 1, www, 2);
    add_entry(st, "api-2.x_y", 2, 0, api, 1);
    add_entry(st, "bare", 1, 0, NULL, 0);
    for (int i = 0; i < 4; i++) {
        memset(st->tickets[i].key, 0x11 * (i + 1), ETLS_STORE_TICKET_LEN);
        st->tickets[i].created = 1000 + (uint64_t)i;
        st->tickets[i].activated = i == 1 ? 2000 : 0;
    }
    st->tickets[0].state = ETLS_TICKET_PENDING;
    st->tickets[1].state = ETLS_TICKET_ACTIVE;
    st->tickets[2].state = ETLS_TICKET_RETIRED;
    st->tickets[3].state = ETLS_TICKET_DECRYPT;
    st->n_tickets = 4;
}

static void check_perms(uint64_t v)
{
    char rel[128];
    CHECK(mode_of(dir) == 0700);
    CHECK(mode_of(path_in("versions")) == 0700);
    snprintf(rel, sizeof rel, "versions/%llu", (unsigned long long)v);
    CHECK(mode_of(path_in(rel)) == 0700);
    const char *files[] = {"tickets.key", "snapshot.bin", "manifest"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(rel, sizeof rel, "versions/%llu/%s", (unsigned long long)v, files[i]);
        CHECK_MSG(mode_of(path_in(rel)) == 0600, "%s mode %o", rel, mode_of(path_in(rel)));
    }
    /* certificates and keys are objects, by content: every one 0600 */
    CHECK(mode_of(path_in("objects")) == 0700);
    DIR *od = opendir(path_in("objects"));
    size_t n_obj = 0;
    for (struct dirent *de; od && (de = readdir(od));) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(rel, sizeof rel, "objects/%.100s", de->d_name);
        CHECK_MSG(strlen(de->d_name) == 64 && mode_of(path_in(rel)) == 0600, "%s mode %o", rel, mode_of(path_in(rel)));
        n_obj++;
    }
    if (od)
        closedir(od);
    CHECK(n_obj >= 4);
    char link[64] = {0}, want[64];
    snprintf(want, sizeof want, "versions/%llu", (unsigned long long)v);
    CHECK(readlink(path_in("current"), link, sizeof link - 1) > 0 && strcmp(link, want) == 0);
}

static void test_roundtrip(void)
{
    etls_store_t *s;
    etls_store_state_t st, got, copy;
    const char blob[] = "snapshot bytes\0with a NUL";
    etls_store_blob_t b = {"snapshot.bin", blob, sizeof blob};
    build_state(&st);
    snprintf(st.comment, sizeof st.comment, "cert add www\nand\tmore");
    CHECK(etls_store_open(&s, fresh(), 3, err, sizeof err) == 0);
    CHECK_MSG(etls_store_commit(s, &st, &b, 1, err, sizeof err) == 0, "%s", err);
    CHECK(st.version == 1 && etls_store_version(s) == 1 && st.time > 0);
    CHECK(st.n_tickets == 3 && st.tickets[2].state == ETLS_TICKET_DECRYPT); /* retired dropped */
    CHECK(strcmp(st.comment, "cert add www?and?more") == 0);
    CHECK(etls_store_load(s, 0, &got, err, sizeof err) == 0 && states_equal(&st, &got));
    CHECK(got.entries[0].certs[0].chain_pem[got.entries[0].certs[0].chain_len] == 0);
    etls_store_state_free(&got);
    CHECK(etls_store_state_copy(&copy, &st) == 0 && states_equal(&st, &copy));
    CHECK(etls_store_entry_find(&copy, "bare") == &copy.entries[2]);
    CHECK(etls_store_entry_find(&copy, "nope") == NULL);
    etls_store_entry_remove(&copy, 0);
    CHECK(copy.n_entries == 2 && strcmp(copy.entries[0].name, "api-2.x_y") == 0);
    etls_store_state_free(&copy);
    char p[512];
    CHECK(etls_store_current_path(s, "snapshot.bin", p, sizeof p) == 0);
    FILE *f = fopen(p, "rb");
    char rd[64];
    CHECK(f && fread(rd, 1, sizeof rd, f) == sizeof blob && memcmp(rd, blob, sizeof blob) == 0);
    if (f)
        fclose(f);
    CHECK(etls_store_current_path(s, "../x", p, sizeof p) == -1);
    etls_store_close(s);
    check_perms(1);
    CHECK_MSG(etls_store_open(&s, dir, 3, err, sizeof err) == 0, "%s", err);
    CHECK(etls_store_load(s, 1, &got, err, sizeof err) == 0 && states_equal(&st, &got));
    etls_store_state_free(&got);
    etls_store_close(s);
    etls_store_state_free(&st);
}

static ino_t inode_of(const char *rel)
{
    struct stat sb;
    return stat(path_in(rel), &sb) ? 0 : sb.st_ino;
}

static void test_history(void)
{
    etls_store_t *s;
    etls_store_state_t st, got;
    etls_store_version_info_t h[8];
    build_state(&st);
    CHECK(etls_store_open(&s, fresh(), 3, err, sizeof err) == 0);
    for (int i = 1; i <= 6; i++) {
        char c[32];
        snprintf(c, sizeof c, "change %d", i);
        if (i == 4)
            etls_store_entry_remove(&st, 0);
        commit_comment(s, &st, c);
    }
    CHECK(etls_store_version(s) == 6);
    size_t n = etls_store_history(s, h, 8);
    CHECK(n == 3 && h[0].version == 6 && h[1].version == 5 && h[2].version == 4);
    CHECK(strcmp(h[2].comment, "change 4") == 0 && h[2].n_entries == 2 && h[2].time > 0);
    CHECK(etls_store_history(s, h, 1) == 1 && h[0].version == 6);
    CHECK(!exists(path_in("versions/3")) && !exists(path_in("versions/1")));
    CHECK(etls_store_load(s, 3, &got, err, sizeof err) == -1 && strstr(err, "version 3 is not kept"));
    /* Unchanged files are shared with the previous version, not rewritten. */
    CHECK(inode_of("versions/5/bare.0.key.pem") == inode_of("versions/6/bare.0.key.pem"));
    /* Rollback: load an older version and commit it as the newest. */
    CHECK(etls_store_load(s, 4, &got, err, sizeof err) == 0 && got.version == 4);
    snprintf(got.comment, sizeof got.comment, "rollback 4");
    CHECK(etls_store_commit(s, &got, NULL, 0, err, sizeof err) == 0 && got.version == 7);
    etls_store_state_free(&got);
    CHECK(etls_store_load(s, 0, &got, err, sizeof err) == 0 && got.n_entries == 2);
    CHECK(strcmp(got.comment, "rollback 4") == 0);
    etls_store_state_free(&got);
    etls_store_close(s);
    etls_store_state_free(&st);
}

static void touch(const char *rel)
{
    int fd = open(path_in(rel), O_WRONLY | O_CREAT, 0600);
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
}

static void test_recovery(void)
{
    etls_store_t *s;
    etls_store_state_t st;
    build_state(&st);
    CHECK(etls_store_open(&s, fresh(), 3, err, sizeof err) == 0);
    commit_comment(s, &st, "one");
    commit_comment(s, &st, "two");
    etls_store_close(s);
    /* What commits cut short at every stage leave behind. */
    CHECK(mkdir(path_in("versions/3"), 0700) == 0);
    touch("versions/3/manifest");
    CHECK(mkdir(path_in("versions/4.tmp"), 0700) == 0);
    touch("versions/4.tmp/www.0.key.pem");
    CHECK(mkdir(path_in("versions/1.old.tmp"), 0700) == 0);
    CHECK(symlink("versions/3", path_in("current.tmp")) == 0);
    CHECK_MSG(etls_store_open(&s, dir, 3, err, sizeof err) == 0, "%s", err);
    CHECK(etls_store_version(s) == 2);
    CHECK(!exists(path_in("versions/3")) && !exists(path_in("versions/4.tmp")));
    CHECK(!exists(path_in("versions/1.old.tmp")) && !exists(path_in("current.tmp")));
    commit_comment(s, &st, "three");
    CHECK(etls_store_version(s) == 3);
    etls_store_close(s);

    /* The first commit cut short before `current` existed: back to the empty version 0. */
    CHECK(etls_store_open(&s, fresh(), 3, err, sizeof err) == 0);
    etls_store_close(s);
    CHECK(mkdir(path_in("versions"), 0700) == 0 && mkdir(path_in("versions/1"), 0700) == 0);
    CHECK(etls_store_open(&s, dir, 3, err, sizeof err) == 0 && etls_store_version(s) == 0);
    CHECK(!exists(path_in("versions/1")));
    etls_store_close(s);
    /* No current but a later version: refused, never deleted. */
    CHECK(mkdir(path_in("versions/5"), 0700) == 0);
    CHECK(etls_store_open(&s, dir, 3, err, sizeof err) == -1 && strstr(err, "current is missing"));
    CHECK(exists(path_in("versions/5")));
    etls_store_state_free(&st);
}

/* Makes a one-version store, applies damage, expects open() to fail naming what. */
static void expect_damage(void (*damage)(void), const char *want)
{
    etls_store_t *s;
    etls_store_state_t st;
    build_state(&st);
    CHECK(etls_store_open(&s, fresh(), 3, err, sizeof err) == 0);
    commit_comment(s, &st, "x");
    etls_store_close(s);
    etls_store_state_free(&st);
    damage();
    err[0] = 0;
    CHECK(etls_store_open(&s, dir, 3, err, sizeof err) == -1);
    CHECK_MSG(strstr(err, want) != NULL, "got '%s', want '%s'", err, want);
}

static void rewrite(const char *rel, long cut, const char *append)
{
    char *p = path_in(rel);
    FILE *f = fopen(p, "rb");
    char buf[65536];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    n = (size_t)((long)n - cut);
    f = fopen(p, "wb");
    CHECK(f != NULL);
    if (f) {
        fwrite(buf, 1, n, f);
        fputs(append, f);
        fclose(f);
    }
}

static void dmg_truncate(void) { rewrite("versions/1/manifest", 30, ""); }
static void dmg_no_end(void) { rewrite("versions/1/manifest", 4, ""); }
static void dmg_torn_line(void) { rewrite("versions/1/manifest", 1, ""); }
/* The object holding the key of build_state()'s first entry (named by its digest). */
static char *first_key_object(void)
{
    etls_store_state_t st;
    build_state(&st);
    uint8_t c[32], k[32];
    char hex[65], rel[80];
    etls_store_cert_digests(&st.entries[0].certs[0], c, k);
    etls_store_state_free(&st);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", k[i]);
    snprintf(rel, sizeof rel, "objects/%s", hex);
    return path_in(rel) + strlen(dir) + 1;
}
static void dmg_key(void) { rewrite(first_key_object(), 0, "x"); }
static void dmg_missing(void) { CHECK(unlink(path_in(first_key_object())) == 0); }
static void dmg_tickets(void) { rewrite("versions/1/tickets.key", 0, "y"); }
static void dmg_lost_version(void) { CHECK(rename(path_in("versions/1"), path_in("gone")) == 0); }
/* The first part version 1's manifest names: its hex (static). */
static const char *first_part(void)
{
    static char hex[65];
    char line[256];
    FILE *f = fopen(path_in("versions/1/manifest"), "r");
    hex[0] = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "part ", 5) && strlen(line) > 70) {
            snprintf(hex, sizeof hex, "%.64s", line + 5);
            break;
        }
    if (f)
        fclose(f);
    return hex;
}
static void dmg_part(void)
{
    char rel[80];
    snprintf(rel, sizeof rel, "objects/%s", first_part());
    rewrite(rel, 0, "entry x default=0 since=1 names=\n");
}
static void dmg_part_missing(void)
{
    char rel[80];
    snprintf(rel, sizeof rel, "objects/%s", first_part());
    CHECK(unlink(path_in(rel)) == 0);
}
/* The manifest gives the first part one entry more than it holds. */
static void dmg_part_count(void)
{
    char *p = path_in("versions/1/manifest"), buf[8192], out[8300];
    FILE *f = fopen(p, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = 0;
    char *at = strstr(buf, "\npart "), *sp = at ? strchr(at + 7, ' ') : NULL;
    CHECK(sp != NULL);
    if (!sp)
        return;
    long count = strtol(sp + 1, NULL, 10);
    char *eol = strchr(sp, '\n');
    snprintf(out, sizeof out, "%.*s %ld%s", (int)(sp - buf), buf, count + 1, eol);
    f = fopen(p, "w");
    CHECK(f && fputs(out, f) >= 0);
    if (f)
        fclose(f);
}

static void test_damage(void)
{
    expect_damage(dmg_truncate, "versions/1/manifest: manifest line");
    expect_damage(dmg_no_end, "no \"end\" line");
    expect_damage(dmg_torn_line, "last line unterminated");
    char want[160];
    snprintf(want, sizeof want, "version 1: %.20s...: sha256 mismatch", first_key_object());
    expect_damage(dmg_key, want);
    snprintf(want, sizeof want, "version 1: %.20s...: missing", first_key_object());
    expect_damage(dmg_missing, want);
    expect_damage(dmg_tickets, "versions/1/tickets.key: sha256 mismatch");
    expect_damage(dmg_lost_version, "version 1 is not kept");
    /* format 3's parts: named by digest like the certificates, and their counts checked */
    char part[16];
    expect_damage(dmg_part, "sha256 mismatch");
    snprintf(part, sizeof part, "%.12s", first_part());
    CHECK_MSG(strstr(err, part) != NULL, "the damaged part is not named: %s", err);
    expect_damage(dmg_part_missing, "missing");
    CHECK_MSG(strstr(err, part) != NULL, "the missing part is not named: %s", err);
    expect_damage(dmg_part_count, "entries where the manifest gives");
}

static void expect_refused(etls_store_t *s, etls_store_state_t *st, const char *want)
{
    uint64_t v = etls_store_version(s);
    CHECK(etls_store_commit(s, st, NULL, 0, err, sizeof err) == -1);
    CHECK_MSG(strstr(err, want) != NULL, "got '%s', want '%s'", err, want);
    CHECK(etls_store_version(s) == v);
}

static void test_names(void)
{
    CHECK(etls_store_name_ok("www") && etls_store_name_ok("a.b-c_D9"));
    char long_name[80];
    memset(long_name, 'a', sizeof long_name);
    long_name[64] = 0;
    CHECK(etls_store_name_ok(long_name));
    long_name[64] = 'a';
    long_name[65] = 0;
    CHECK(!etls_store_name_ok(long_name));
    const char *bad[] = {"", ".", "..", ".hidden", "a/b", "a b", "ä", "a\n", "x*"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(!etls_store_name_ok(bad[i]), "%s", bad[i]);

    etls_store_t *s;
    etls_store_state_t st;
    build_state(&st);
    CHECK(etls_store_open(&s, fresh(), 3, err, sizeof err) == 0);
    strcpy(st.entries[2].name, "..");
    expect_refused(s, &st, "bad entry name");
    strcpy(st.entries[2].name, "www");
    expect_refused(s, &st, "entry www listed twice");
    strcpy(st.entries[2].name, "bare");
    st.tickets[0].state = ETLS_TICKET_ACTIVE;
    expect_refused(s, &st, "2 active tickets");
    st.tickets[0].state = ETLS_TICKET_PENDING;
    char *saved = st.entries[0].names[0];
    st.entries[0].names[0] = (char *)"a,b";
    expect_refused(s, &st, "bad name #0");
    st.entries[0].names[0] = saved;
    st.entries[1].n_certs = 0;
    expect_refused(s, &st, "0 certs");
    st.entries[1].n_certs = 2;
    strcpy(st.entries[1].certs[0].key_type, "a b");
    expect_refused(s, &st, "bad key type");
    strcpy(st.entries[1].certs[0].key_type, "");
    const etls_store_blob_t blobs[] = {{"manifest", "x", 1}, {"a.key.pem", "x", 1}, {"a/b", "x", 1}};
    for (size_t i = 0; i < 3; i++) {
        CHECK(etls_store_commit(s, &st, &blobs[i], 1, err, sizeof err) == -1 && strstr(err, "bad blob"));
    }
    CHECK_MSG(etls_store_commit(s, &st, NULL, 0, err, sizeof err) == 0, "%s", err);
    etls_store_state_t got;
    CHECK(etls_store_load(s, 0, &got, err, sizeof err) == 0 && got.entries[1].certs[0].key_type[0] == 0);
    etls_store_state_free(&got);
    etls_store_close(s);
    etls_store_state_free(&st);
}

static void test_refuse_dir(void)
{
    etls_store_t *s, *s2;
    CHECK(etls_store_open(&s, fresh(), 1, err, sizeof err) == -1 && strstr(err, "keep must be"));
    CHECK(etls_store_open(&s, dir, 3, err, sizeof err) == 0);
    CHECK(etls_store_open(&s2, dir, 3, err, sizeof err) == -1 && strstr(err, "in use"));
    etls_store_close(s);
    CHECK(chmod(dir, 0770) == 0);
    CHECK(etls_store_open(&s, dir, 3, err, sizeof err) == -1 && strstr(err, "writable (mode 0770)"));
    CHECK(etls_store_open(&s, "/nonexistent/dir/x", 3, err, sizeof err) == -1 &&
          strstr(err, "cannot create"));
}

static const char good_manifest[] =
    "edgetls-state 1\nversion 7\ntime 1700000000\ncomment cert add www\n"
    "entry www default=1 names=www.example.com,example.com\n"
    "cert www.0.chain.pem www.0.key.pem ecdsa-p256\n"
    "ticket active 10 20\nblob snapshot.bin\n"
    "sha256 www.0.chain.pem 0000000000000000000000000000000000000000000000000000000000000000\n"
    "sha256 www.0.key.pem 1111111111111111111111111111111111111111111111111111111111111111\n"
    "sha256 tickets.key 2222222222222222222222222222222222222222222222222222222222222222\n"
    "sha256 snapshot.bin abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcd\n"
    "end\n";

/* A format-2 manifest: certificates named by the digests of their objects. */
static const char good_manifest_v2[] =
    "edgetls-state 2\nversion 9\ntime 1700000000\ncomment cert replace www\n"
    "entry www default=1 since=8 names=www.example.com,example.com\n"
    "cert 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff "
    "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100 ecdsa-p256\n"
    "entry api default=0 since=3 names=api.example.com\n"
    "cert 0101010101010101010101010101010101010101010101010101010101010101 "
    "0202020202020202020202020202020202020202020202020202020202020202 rsa-2048\n"
    "blob snapshot.bin\n"
    "sha256 snapshot.bin abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcd\n"
    "end\n";

/* Replaces the first `from` in base by `to` and expects a parse error. */
static void expect_parse_error_in(const char *base_text, const char *from, const char *to, const char *want)
{
    char text[4096];
    const char *at = strstr(base_text, from);
    CHECK_MSG(at != NULL, "%s", from);
    if (!at)
        return;
    size_t pre = (size_t)(at - base_text);
    snprintf(text, sizeof text, "%.*s%s%s", (int)pre, base_text, to, at + strlen(from));
    etls_manifest_t m;
    err[0] = 0;
    CHECK_MSG(etls_store_manifest_parse(text, strlen(text), &m, err, sizeof err) == -1 &&
                  strstr(err, want),
              "%s -> %s: got '%s'", from, to, err);
}

static void expect_parse_error(const char *from, const char *to, const char *want)
{
    expect_parse_error_in(good_manifest, from, to, want);
}

/* Format 2's grammar: accepted and canonical, since= per entry, and its refusals. */
static void test_manifest_v2(void)
{
    etls_manifest_t m;
    CHECK_MSG(etls_store_manifest_parse(good_manifest_v2, strlen(good_manifest_v2), &m, err, sizeof err) == 0,
              "%s", err);
    CHECK(m.format == 2 && m.st.n_entries == 2 && m.n_objects == 4 && m.n_files == 1);
    CHECK(m.st.entries[0].since == 8 && m.st.entries[1].since == 3 && m.objects[2][0] == 0x01);
    char *text;
    size_t len;
    CHECK(etls_store_manifest_format(&m.st, 2, (const uint8_t(*)[32])m.objects, m.blobs, m.n_blobs, m.files,
                                     m.n_files, &text, &len) == 0);
    CHECK(len == strlen(good_manifest_v2) && memcmp(text, good_manifest_v2, len) == 0);
    free(text);
    etls_store_manifest_free(&m);
    const char *v2 = good_manifest_v2;
    expect_parse_error_in(v2, "edgetls-state 2", "edgetls-state 9", "line 1: expected \"edgetls-state 3\" (or \"edgetls-state 2\"");
    expect_parse_error_in(v2, "edgetls-state 2\n", "", "line 1: expected");
    /* a digest is the only way to name an object: no path can be smuggled in */
    expect_parse_error_in(v2, "cert 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
                          "cert ../../../../etc/shadow", "line 6: bad digest");
    expect_parse_error_in(v2, "cert 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
                          "cert 00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff", "bad digest");
    expect_parse_error_in(v2, "cert 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
                          "cert 00112233445566778899aabbccddeeff00112233445566778899aabbccddee", "bad digest");
    expect_parse_error_in(v2, "since=8 ", "", "line 5: expected \"entry NAME default=0|1 since=N");
    expect_parse_error_in(v2, "since=8", "since=x", "expected since=VERSION");
    expect_parse_error_in(v2, "since=8", "since=", "expected since=VERSION");
    expect_parse_error_in(v2, "entry api", "entry www", "entry www listed twice");
    expect_parse_error_in(v2, "blob snapshot.bin", "blob ../snapshot.bin", "bad blob");
    expect_parse_error_in(v2, "sha256 snapshot.bin", "sha256 ../x", "sha256 of snapshot.bin");
    /* every truncation (a torn write) is refused, with a reason */
    size_t full = strlen(v2), torn_ok = 0;
    for (size_t cut = 0; cut < full; cut++) {
        err[0] = 0;
        torn_ok += etls_store_manifest_parse(v2, cut, &m, err, sizeof err) == -1 && err[0];
    }
    CHECK_MSG(torn_ok == full, "%zu of %zu truncations refused", torn_ok, full);
    CHECK(etls_store_manifest_parse(v2, full - 1, &m, err, sizeof err) == -1 && strstr(err, "torn"));
    expect_parse_error_in(v2, "end\n", "", "no \"end\"");
}

/* Format 3: a manifest naming parts, and the parts holding the entries. */
static const char good_manifest_v3[] =
    "edgetls-state 3\nversion 9\ntime 1700000000\ncomment cert replace www\n"
    "part 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff 1\n"
    "part 0101010101010101010101010101010101010101010101010101010101010101 2\n"
    "ticket active 1700000000 1700000001\n"
    "sha256 tickets.key abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcd\n"
    "end\n";
static const char good_part_a[] =
    "edgetls-part 1\n"
    "entry www default=1 since=8 names=www.example.com,example.com\n"
    "cert 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff "
    "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100 ecdsa-p256\n"
    "end\n";
static const char good_part_b[] =
    "edgetls-part 1\n"
    "entry api default=0 since=3 names=api.example.com\n"
    "cert 0101010101010101010101010101010101010101010101010101010101010101 "
    "0202020202020202020202020202020202020202020202020202020202020202 rsa-2048\n"
    "entry img default=0 since=9 names=*.img.example.com\n"
    "cert 0303030303030303030303030303030303030303030303030303030303030303 "
    "0404040404040404040404040404040404040404040404040404040404040404 ecdsa-p256\n"
    "end\n";

/* Parses good_manifest_v3 and the part text `part` (with `count`), expecting the part refused
 * with `want`. */
static void expect_part_error(const char *part, uint32_t count, const char *want)
{
    etls_manifest_t m;
    CHECK(etls_store_manifest_parse(good_manifest_v3, strlen(good_manifest_v3), &m, err, sizeof err) == 0);
    err[0] = 0;
    CHECK_MSG(etls_store_manifest_part(&m, part, strlen(part), count, err, sizeof err) == -1 && strstr(err, want),
              "part refusal: got '%s', want '%s'", err, want);
    etls_store_manifest_free(&m);
}

static void test_manifest_v3(void)
{
    etls_manifest_t m;
    const char *v3 = good_manifest_v3;
    CHECK_MSG(etls_store_manifest_parse(v3, strlen(v3), &m, err, sizeof err) == 0, "%s", err);
    CHECK(m.format == 3 && m.n_parts == 2 && m.part_counts[0] == 1 && m.part_counts[1] == 2 && m.st.n_entries == 0);
    CHECK(m.n_files == 1 && m.st.n_tickets == 1);
    char *text;
    size_t len;
    CHECK(etls_store_manifest_format_parts(&m.st, (const uint8_t(*)[32])m.parts, m.part_counts, m.n_parts, m.blobs,
                                           m.n_blobs, m.files, m.n_files, &text, &len) == 0);
    CHECK(len == strlen(v3) && memcmp(text, v3, len) == 0);
    free(text);
    CHECK(etls_store_manifest_part(&m, good_part_a, strlen(good_part_a), 1, err, sizeof err) == 0);
    CHECK(etls_store_manifest_part(&m, good_part_b, strlen(good_part_b), 2, err, sizeof err) == 0);
    CHECK(etls_store_manifest_parts_done(&m, err, sizeof err) == 0);
    CHECK(m.st.n_entries == 3 && m.n_objects == 6 && !strcmp(m.st.entries[2].name, "img") &&
          m.st.entries[2].since == 9 && m.objects[4][0] == 0x03);
    /* each part formats back to its text */
    CHECK(etls_store_part_format(&m.st.entries[1], 2, (const uint8_t(*)[32])m.objects + 2, &text, &len) == 0);
    CHECK(len == strlen(good_part_b) && memcmp(text, good_part_b, len) == 0);
    free(text);
    etls_store_manifest_free(&m);

    /* the manifest's refusals */
    expect_parse_error_in(v3, " 1\npart", " 0\npart", "a part holds 1..1024 entries");
    expect_parse_error_in(v3, " 1\npart", " 1025\npart", "a part holds 1..1024 entries");
    expect_parse_error_in(v3, " 1\npart", " 01\npart", "expected \"part SHA256 COUNT\"");
    expect_parse_error_in(v3, "part 0011", "part ../../", "bad digest");
    expect_parse_error_in(v3, "part 0011", "entry www default=1 since=1 names=\npart 0011",
                          "manifest line 5: expected \"end\""); /* entries live in parts only */
    /* the parts' refusals */
    expect_part_error(good_part_b, 1, "more than the 1 entries the manifest gives this part");
    expect_part_error(good_part_b, 3, "2 entries where the manifest gives 3");
    expect_part_error(good_part_a + 15, 1, "part line 1: expected \"edgetls-part 1\"");
    char bad[1024];
    snprintf(bad, sizeof bad, "%sx\n", good_part_a);
    expect_part_error(bad, 1, "data after \"end\"");
    snprintf(bad, sizeof bad, "%.*s", (int)strlen(good_part_a) - 4, good_part_a);
    expect_part_error(bad, 1, "no \"end\" line");
    snprintf(bad, sizeof bad, "edgetls-part 1\nentry www default=1 names=www.example.com\n%s",
             strstr(good_part_a, "cert "));
    expect_part_error(bad, 1, "part line 2: expected \"entry NAME default=0|1 since=N");
    /* the same entry in two parts: the whole state's check, once all parts are in */
    CHECK(etls_store_manifest_parse(v3, strlen(v3), &m, err, sizeof err) == 0);
    CHECK(etls_store_manifest_part(&m, good_part_a, strlen(good_part_a), 1, err, sizeof err) == 0);
    CHECK(etls_store_manifest_part(&m, good_part_a, strlen(good_part_a), 1, err, sizeof err) == 0);
    CHECK(etls_store_manifest_parts_done(&m, err, sizeof err) == -1 && strstr(err, "entry www listed twice"));
    etls_store_manifest_free(&m);
    /* every truncation of a part is refused */
    size_t full = strlen(good_part_b), torn = 0;
    for (size_t cut = 0; cut < full; cut++) {
        CHECK(etls_store_manifest_parse(v3, strlen(v3), &m, err, sizeof err) == 0);
        err[0] = 0;
        torn += etls_store_manifest_part(&m, good_part_b, cut, 2, err, sizeof err) == -1 && err[0];
        etls_store_manifest_free(&m);
    }
    CHECK_MSG(torn == full, "%zu of %zu part truncations refused", torn, full);
}

static void test_manifest_parser(void)
{
    etls_manifest_t m;
    CHECK_MSG(etls_store_manifest_parse(good_manifest, strlen(good_manifest), &m, err, sizeof err) == 0,
              "%s", err);
    CHECK(m.st.version == 7 && m.st.n_entries == 1 && m.st.entries[0].n_names == 2);
    CHECK(m.st.n_tickets == 1 && m.st.tickets[0].state == ETLS_TICKET_ACTIVE && m.n_files == 4);
    char *text;
    size_t len;
    CHECK(etls_store_manifest_format(&m.st, m.format, (const uint8_t(*)[32])m.objects, m.blobs, m.n_blobs, m.files, m.n_files,
                                     &text, &len) == 0);
    CHECK(len == strlen(good_manifest) && memcmp(text, good_manifest, len) == 0);
    free(text);
    etls_store_manifest_free(&m);

    expect_parse_error("edgetls-state 1", "edgetls-state 4", "line 1: expected");
    /* format 2 names certificates by digest: file names are refused there, bad hex too */
    expect_parse_error("edgetls-state 1", "edgetls-state 2", "line 5: expected \"entry NAME default=0|1 since=N");
    expect_parse_error("default=1 names", "default=1 since=07 names", "line 5: expected \"entry NAME");
    expect_parse_error("version 7", "version 07", "line 2");
    expect_parse_error("time 1700000000", "time  1700000000", "line 3");
    expect_parse_error("time 1700000000", "time 99999999999999999999", "line 3");
    expect_parse_error("add www", "add\001www", "control character");
    expect_parse_error("default=1", "default=2", "default=0 or default=1");
    expect_parse_error("names=www.example.com,", "names=,", "bad names");
    expect_parse_error("entry www", "entry ..", "bad entry name");
    expect_parse_error("cert www.0.chain.pem", "cert ../etc/passwd", "chain file must be");
    expect_parse_error("www.0.key.pem ecdsa", "www.1.key.pem ecdsa", "key file must be");
    expect_parse_error("ticket active", "ticket retired", "ticket state");
    expect_parse_error("ticket active 10 20\n", "ticket active 10 20\nticket active 1 1\n",
                       "active tickets");
    expect_parse_error("blob snapshot.bin", "blob manifest", "bad blob");
    expect_parse_error("0000000000000000000000000000000000000000000000000000000000000000",
                       "000000000000000000000000000000000000000000000000000000000000000A", "bad hex");
    expect_parse_error("sha256 www.0.key.pem", "sha256 www.0.chain.pem", "sha256 of www.0.key.pem");
    expect_parse_error("end\n", "end\nextra\n", "data after");
    expect_parse_error("end\n", "", "no \"end\"");
    expect_parse_error("cert www.0.chain.pem www.0.key.pem ecdsa-p256\n", "", "no cert line");
    expect_parse_error("comment cert add www\n", "comment\n", "expected \"comment");
    expect_parse_error("ticket active 10 20\n", "ticket active 10 20\r\n", "control character");
}

static void write_rel(const char *rel, const char *text, mode_t mode)
{
    int fd = open(path_in(rel), O_WRONLY | O_CREAT | O_EXCL, mode);
    CHECK(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    if (fd >= 0)
        close(fd);
}

static void sha_hex(const char *text, char out[65])
{
    unsigned char d[32];
    SHA256((const unsigned char *)text, strlen(text), d);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* 1 when versions/<v>/manifest starts with the line `want` (its format). */
static int manifest_format_is(int v, const char *want)
{
    char rel[48], head[32] = "";
    snprintf(rel, sizeof rel, "versions/%d/manifest", v);
    FILE *f = fopen(path_in(rel), "r");
    int ok = f && fgets(head, sizeof head, f) && !strcmp(head, want);
    if (f)
        fclose(f);
    return ok;
}

/* A state directory written by the format-1 store (certificate files inside each version
 * directory) loads; the next commit writes format 3 (objects and parts), and both versions stay
 * readable: the history spans the upgrade and a rollback to version 1 still finds its files. */
static void test_upgrade(void)
{
    fresh();
    const char *chain = "-----BEGIN CERTIFICATE-----\nv1 chain\n-----END CERTIFICATE-----\n",
               *key = "-----BEGIN PRIVATE KEY-----\nv1 key\n-----END PRIVATE KEY-----\n";
    char hc[65], hk[65], manifest[2048];
    sha_hex(chain, hc);
    sha_hex(key, hk);
    CHECK(mkdir(dir, 0700) == 0 && mkdir(path_in("versions"), 0700) == 0 && mkdir(path_in("versions/1"), 0700) == 0);
    write_rel("versions/1/old.0.chain.pem", chain, 0600);
    write_rel("versions/1/old.0.key.pem", key, 0600);
    snprintf(manifest, sizeof manifest,
             "edgetls-state 1\nversion 1\ntime 1700000000\ncomment made by the format-1 store\n"
             "entry old default=0 names=old.example.test\ncert old.0.chain.pem old.0.key.pem ecdsa-p256\n"
             "sha256 old.0.chain.pem %s\nsha256 old.0.key.pem %s\nend\n", hc, hk);
    write_rel("versions/1/manifest", manifest, 0600);
    CHECK(symlink("versions/1", path_in("current")) == 0);
    etls_store_t *s;
    etls_store_state_t st, again;
    CHECK_MSG(etls_store_open(&s, dir, 3, err, sizeof err) == 0, "%s", err);
    CHECK(etls_store_load(s, 0, &st, err, sizeof err) == 0 && st.n_entries == 1);
    CHECK(st.entries[0].certs[0].chain_len == strlen(chain) && !memcmp(st.entries[0].certs[0].chain_pem, chain, strlen(chain)));
    const char *names[] = {"new.example.test"};
    add_entry(&st, "new", 1, 0, names, 1);
    CHECK(etls_store_commit(s, &st, NULL, 0, err, sizeof err) == 0 && etls_store_version(s) == 2);
    etls_store_close(s);
    CHECK(manifest_format_is(2, "edgetls-state 3\n"));
    snprintf(manifest, sizeof manifest, "objects/%s", hc);
    CHECK(exists(path_in(manifest))); /* the old entry's bytes became an object */
    CHECK_MSG(etls_store_open(&s, dir, 3, err, sizeof err) == 0, "%s", err);
    CHECK(etls_store_load(s, 1, &again, err, sizeof err) == 0 && again.n_entries == 1);
    etls_store_state_free(&again);
    CHECK(etls_store_load(s, 2, &again, err, sizeof err) == 0 && again.n_entries == 2 &&
          !memcmp(again.entries[0].certs[0].key_pem, key, strlen(key)));
    etls_store_state_free(&again);
    etls_store_close(s);
    etls_store_state_free(&st);
}

/* A state directory written by the format-2 store (every entry in the manifest, certificates in
 * objects/) loads; the next commit writes format 3, and the objects the old version names stay
 * for as long as it is kept. */
static void test_upgrade_v2(void)
{
    fresh();
    const char *chain = "-----BEGIN CERTIFICATE-----\nv2 chain\n-----END CERTIFICATE-----\n",
               *key = "-----BEGIN PRIVATE KEY-----\nv2 key\n-----END PRIVATE KEY-----\n";
    char hc[65], hk[65], manifest[2048], rel[96];
    sha_hex(chain, hc);
    sha_hex(key, hk);
    CHECK(mkdir(dir, 0700) == 0 && mkdir(path_in("versions"), 0700) == 0 && mkdir(path_in("versions/1"), 0700) == 0);
    CHECK(mkdir(path_in("objects"), 0700) == 0);
    snprintf(rel, sizeof rel, "objects/%s", hc);
    write_rel(rel, chain, 0600);
    snprintf(rel, sizeof rel, "objects/%s", hk);
    write_rel(rel, key, 0600);
    snprintf(manifest, sizeof manifest,
             "edgetls-state 2\nversion 1\ntime 1700000000\ncomment made by the format-2 store\n"
             "entry old default=0 since=1 names=old.example.test\ncert %s %s ecdsa-p256\nend\n", hc, hk);
    write_rel("versions/1/manifest", manifest, 0600);
    CHECK(symlink("versions/1", path_in("current")) == 0);
    etls_store_t *s;
    etls_store_state_t st, again;
    CHECK_MSG(etls_store_open(&s, dir, 3, err, sizeof err) == 0, "%s", err);
    CHECK(etls_store_load(s, 0, &st, err, sizeof err) == 0 && st.n_entries == 1 && st.entries[0].since == 1);
    const char *names[] = {"new.example.test"};
    add_entry(&st, "new", 1, 0, names, 1);
    CHECK(etls_store_commit(s, &st, NULL, 0, err, sizeof err) == 0 && etls_store_version(s) == 2);
    etls_store_close(s);
    CHECK(manifest_format_is(2, "edgetls-state 3\n"));
    CHECK_MSG(etls_store_open(&s, dir, 3, err, sizeof err) == 0, "%s", err);
    snprintf(rel, sizeof rel, "objects/%s", hk);
    CHECK(exists(path_in(rel)));
    CHECK(etls_store_load(s, 1, &again, err, sizeof err) == 0 && again.n_entries == 1 &&
          !memcmp(again.entries[0].certs[0].key_pem, key, strlen(key)));
    etls_store_state_free(&again);
    CHECK(etls_store_load(s, 2, &again, err, sizeof err) == 0 && again.n_entries == 2);
    etls_store_state_free(&again);
    etls_store_close(s);
    etls_store_state_free(&st);
}

static size_t count_dir(const char *rel)
{
    size_t n = 0;
    DIR *d = opendir(path_in(rel));
    for (struct dirent *de; d && (de = readdir(d));)
        n += de->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static const char *object_rel(const uint8_t d[32])
{
    static char rel[80];
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    snprintf(rel, sizeof rel, "objects/%s", hex);
    return rel;
}

/* The part digests versions/<v>/manifest names (hex, at most cap), as a count. */
static size_t manifest_parts(int v, char (*out)[65], size_t cap)
{
    char rel[48], line[256];
    snprintf(rel, sizeof rel, "versions/%d/manifest", v);
    FILE *f = fopen(path_in(rel), "r");
    size_t n = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "part ", 5) && strlen(line) > 70 && n < cap)
            snprintf(out[n++], 65, "%.64s", line + 5);
    if (f)
        fclose(f);
    return n;
}

/* How many distinct parts the kept versions a..b name together. */
static size_t parts_named(int a, int b)
{
    static char all[4096][65];
    size_t n = 0;
    for (int v = a; v <= b; v++) {
        char got[1024][65];
        size_t k = manifest_parts(v, got, 1024);
        for (size_t i = 0; i < k; i++) {
            size_t j = 0;
            while (j < n && strcmp(all[j], got[i]))
                j++;
            if (j == n && n < 4096)
                memcpy(all[n++], got[i], 65);
        }
    }
    return n;
}

/* At 6,000 entries a one-entry replace writes exactly that entry's two objects, one new part
 * (every other part is shared with the version before) and a version directory holding only
 * the manifest; the replaced objects go as soon as the commit whose prune drops the last
 * version naming them is done (no reopen), those still named stay; the collection at open
 * finds nothing more to remove. */
static void test_objects(void)
{
    enum { N = 6000 };
    fresh();
    etls_store_t *s;
    etls_store_state_t st = {0};
    CHECK(etls_store_open(&s, dir, 2, err, sizeof err) == 0);
    char name[32], host[64];
    st.entries = calloc(N, sizeof *st.entries);
    for (int i = 0; i < N; i++, st.n_entries++) {
        etls_store_entry_t *e = &st.entries[i];
        snprintf(e->name, sizeof e->name, "e%d", i);
        snprintf(host, sizeof host, "h%d.example.test", i);
        e->names = malloc(sizeof *e->names);
        e->names[0] = strdup(host);
        e->n_names = e->n_certs = 1;
        snprintf(name, sizeof name, "chain %d", i);
        snprintf(host, sizeof host, "key %d", i);
        CHECK(etls_store_cert_set(&e->certs[0], name, strlen(name), host, strlen(host), "ecdsa-p256") == 0);
    }
    CHECK_MSG(etls_store_commit(s, &st, NULL, 0, err, sizeof err) == 0, "%s", err);
    size_t n0 = count_dir("objects"), p1 = parts_named(1, 1);
    /* parts of ~256 entries on average: the cut is by name hash, so the count varies a little */
    CHECK_MSG(p1 >= N / 1024 && p1 <= N / 64, "%zu parts for %d entries", p1, N);
    CHECK_MSG(n0 == 2 * N + p1, "%zu objects for %d entries in %zu parts", n0, N, p1);
    uint8_t oc[32], ok_[32], nc[32], nk[32];
    etls_store_cert_digests(&st.entries[7].certs[0], oc, ok_);
    CHECK(etls_store_cert_set(&st.entries[7].certs[0], "CHANGED", 7, "KEY2", 4, NULL) == 0);
    etls_store_cert_digests(&st.entries[7].certs[0], nc, nk);
    CHECK(etls_store_commit(s, &st, NULL, 0, err, sizeof err) == 0);
    size_t n1 = count_dir("objects");
    CHECK_MSG(parts_named(1, 2) == p1 + 1 && parts_named(2, 2) == p1, "one changed entry: %zu parts in all",
              parts_named(1, 2));
    CHECK_MSG(n1 == 2 * N + 2 + p1 + 1, "one changed entry: %zu objects (want %zu)", n1, 2 * N + 2 + p1 + 1);
    CHECK(count_dir("versions/2") == 1 && exists(path_in(object_rel(nc))) && exists(path_in(object_rel(nk))));
    CHECK(mode_of(path_in(object_rel(nk))) == 0600);
    /* version 1 still names the old objects */
    CHECK(exists(path_in(object_rel(oc))) && exists(path_in(object_rel(ok_))));
    st.entries[0].is_default = 1;
    CHECK(etls_store_commit(s, &st, NULL, 0, err, sizeof err) == 0);
    /* with 2 versions kept, version 1 was pruned: its objects went with it, in this process */
    size_t n2 = count_dir("objects");
    CHECK_MSG(n2 == 2 * N + parts_named(2, 3), "after the prune: %zu objects (want %zu)", n2,
              2 * N + parts_named(2, 3));
    CHECK(!exists(path_in(object_rel(oc))) && !exists(path_in(object_rel(ok_))));
    CHECK(exists(path_in(object_rel(nc))));
    /* an entry replaced back to the content of a collected object writes it again */
    CHECK(etls_store_cert_set(&st.entries[7].certs[0], "chain 7", 7, "key 7", 5, NULL) == 0);
    CHECK(etls_store_commit(s, &st, NULL, 0, err, sizeof err) == 0 && exists(path_in(object_rel(oc))));
    size_t n3 = 2 * N + 2 + parts_named(3, 4); /* version 3 still names CHANGED/KEY2 */
    CHECK(count_dir("objects") == n3);
    etls_store_close(s);
    CHECK(etls_store_open(&s, dir, 2, err, sizeof err) == 0);
    CHECK(count_dir("objects") == n3); /* nothing was left for open to collect */
    /* an object a crash left behind (written, never named) is collected at open */
    write_rel("objects/0000000000000000000000000000000000000000000000000000000000000000", "orphan", 0600);
    etls_store_close(s);
    CHECK(etls_store_open(&s, dir, 2, err, sizeof err) == 0);
    CHECK(count_dir("objects") == n3);
    /* removing an entry in the middle rewrites its part (or two, when it ended one), not the
     * ones after it: the cuts follow the names */
    etls_store_state_t rm;
    CHECK(etls_store_state_copy(&rm, &st) == 0);
    etls_store_entry_remove(&rm, N / 2);
    CHECK(etls_store_commit(s, &rm, NULL, 0, err, sizeof err) == 0);
    size_t p4 = parts_named(4, 4), p5 = parts_named(5, 5), both = parts_named(4, 5);
    CHECK_MSG((both == p4 + 1 && p5 == p4) || (both == p4 + 1 && p5 == p4 - 1), "removal: %zu and %zu parts, %zu in all",
              p4, p5, both);
    etls_store_state_free(&rm);
    etls_store_state_t back;
    CHECK(etls_store_load(s, 0, &back, err, sizeof err) == 0 && back.n_entries == N - 1);
    etls_store_state_free(&back);
    CHECK(etls_store_load(s, 4, &back, err, sizeof err) == 0 && back.n_entries == N &&
          !strcmp(back.entries[7].certs[0].chain_pem, "chain 7") && back.entries[0].is_default);
    etls_store_state_free(&back);
    etls_store_close(s);
    etls_store_state_free(&st);
}

/* since= is stored per entry and comes back as committed (the daemon sets it: unchanged
 * entries keep theirs); a format-1 directory loads each entry's as the version's own. */
static void test_since(void)
{
    fresh();
    etls_store_t *s;
    etls_store_state_t st = {0}, back;
    const char *n1[] = {"a.example.test"}, *n2[] = {"b.example.test"};
    CHECK(etls_store_open(&s, dir, 3, err, sizeof err) == 0);
    add_entry(&st, "a", 1, 0, n1, 1);
    add_entry(&st, "b", 1, 0, n2, 1);
    st.entries[0].since = st.entries[1].since = 1;
    CHECK(etls_store_commit(s, &st, NULL, 0, err, sizeof err) == 0);
    CHECK(etls_store_cert_set(&st.entries[1].certs[0], "B2", 2, "K2", 2, NULL) == 0);
    st.entries[1].since = 2;
    CHECK(etls_store_commit(s, &st, NULL, 0, err, sizeof err) == 0);
    etls_store_close(s);
    CHECK(etls_store_open(&s, dir, 3, err, sizeof err) == 0);
    CHECK(etls_store_load(s, 0, &back, err, sizeof err) == 0 && back.version == 2);
    CHECK(back.entries[0].since == 1 && back.entries[1].since == 2);
    etls_store_state_free(&back);
    CHECK(etls_store_load(s, 1, &back, err, sizeof err) == 0 && back.entries[1].since == 1);
    etls_store_state_free(&back);
    etls_store_close(s);
    etls_store_state_free(&st);
}

/* A load checks every object by default, even one this process wrote; with
 * ETLS_STORE_LOAD_TRUST_VERIFIED an object already hashed here is read without hashing again. */
static void test_load_trust(void)
{
    fresh();
    etls_store_t *s;
    etls_store_state_t st = {0}, back;
    const char *n1[] = {"a.example.test"};
    CHECK(etls_store_open(&s, dir, 3, err, sizeof err) == 0);
    add_entry(&st, "a", 1, 0, n1, 1);
    CHECK(etls_store_commit(s, &st, NULL, 0, err, sizeof err) == 0);
    uint8_t dc[32], dk[32];
    etls_store_cert_digests(&st.entries[0].certs[0], dc, dk);
    CHECK(etls_store_load_opts(s, 0, &back, ETLS_STORE_LOAD_TRUST_VERIFIED, err, sizeof err) == 0 &&
          back.n_entries == 1);
    etls_store_state_free(&back);
    rewrite(object_rel(dc), 1, "Z"); /* same length, other bytes */
    CHECK(etls_store_load(s, 0, &back, err, sizeof err) == -1 && strstr(err, "sha256 mismatch"));
    CHECK(etls_store_load_opts(s, 0, &back, ETLS_STORE_LOAD_TRUST_VERIFIED, err, sizeof err) == 0 &&
          back.entries[0].certs[0].chain_pem[back.entries[0].certs[0].chain_len - 1] == 'Z');
    etls_store_state_free(&back);
    etls_store_close(s);
    /* a new handle has verified nothing: the damage is refused at open */
    CHECK(etls_store_open(&s, dir, 3, err, sizeof err) == -1 && strstr(err, "sha256 mismatch"));
    etls_store_state_free(&st);
}

/* Copies share the certificate bytes (a 100,000-entry state copies pointers); changing a copy's
 * certificate through the API leaves the original alone; digests are cached per block. */
static void test_sharing(void)
{
    etls_store_state_t a = {0}, b = {0};
    const char *names[] = {"www.example.test"};
    add_entry(&a, "www", 2, 0, names, 1);
    CHECK(a.entries[0].certs[0].pem != NULL);
    CHECK(etls_store_state_copy(&b, &a) == 0);
    CHECK(b.entries[0].certs[0].chain_pem == a.entries[0].certs[0].chain_pem);
    CHECK(b.entries[0].certs[1].key_pem == a.entries[0].certs[1].key_pem);
    uint8_t c1[32], k1[32], c2[32], k2[32];
    etls_store_cert_digests(&a.entries[0].certs[0], c1, k1);
    etls_store_cert_digests(&b.entries[0].certs[0], c2, k2);
    CHECK(!memcmp(c1, c2, 32) && !memcmp(k1, k2, 32) && memcmp(c1, k1, 32));
    char *old = a.entries[0].certs[0].chain_pem;
    CHECK(etls_store_cert_set(&b.entries[0].certs[0], "NEW", 3, "K", 1, NULL) == 0);
    CHECK(!strcmp(b.entries[0].certs[0].chain_pem, "NEW") && b.entries[0].certs[0].key_len == 1);
    CHECK(!strcmp(b.entries[0].certs[0].key_type, "ecdsa-p256")); /* kept when NULL is given */
    CHECK(a.entries[0].certs[0].chain_pem == old && !strncmp(old, "www", 3));
    etls_store_cert_digests(&b.entries[0].certs[0], c2, k2);
    CHECK(memcmp(c1, c2, 32) != 0);
    etls_store_state_free(&a); /* b still holds the second cert's block */
    CHECK(!strncmp(b.entries[0].certs[1].chain_pem, "www", 3));
    etls_store_state_free(&b);
}

int main(void)
{
    snprintf(base, sizeof base, "/tmp/etls-store-XXXXXX");
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 1;
    }
    test_empty();
    test_roundtrip();
    test_history();
    test_recovery();
    test_damage();
    test_names();
    test_refuse_dir();
    test_manifest_parser();
    test_manifest_v2();
    test_manifest_v3();
    test_sharing();
    test_upgrade();
    test_upgrade_v2();
    test_objects();
    test_since();
    test_load_trust();
    nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return etls_test_summary("control_store");
}
