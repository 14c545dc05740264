/* Crash consistency of control/store: a child commits random changes as fast as it can and
 * reports every version commit() acknowledged on a pipe; the parent kills it with SIGKILL
 * after a random 0..20 ms, reopens the store and checks that it opens, that the current
 * version is internally consistent (every sha256, and the entry count and content hash the
 * child wrote into the comment before committing), that no acknowledged version was lost,
 * and that key files are 0600.
 *   crash_store [ITERATIONS [BASEDIR]]   (1000 and $TMPDIR or /tmp by default; seed from
 *   ETLS_TEST_SEED) */
#include "store.h"
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KEEP 3
#define MAX_ENTRIES 40

static char dir[256];

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

/* The content hash both sides compute: everything a version carries except the files'
 * names and the commit metadata. */
static uint64_t state_hash(const etls_store_state_t *st)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < st->n_entries; i++) {
        const etls_store_entry_t *e = &st->entries[i];
        h = fnv(h, e->name, strlen(e->name) + 1);
        h = fnv(h, &e->is_default, sizeof e->is_default);
        for (size_t k = 0; k < e->n_names; k++)
            h = fnv(h, e->names[k], strlen(e->names[k]) + 1);
        for (size_t k = 0; k < e->n_certs; k++) {
            h = fnv(h, e->certs[k].chain_pem, e->certs[k].chain_len);
            h = fnv(h, e->certs[k].key_pem, e->certs[k].key_len);
            h = fnv(h, e->certs[k].key_type, strlen(e->certs[k].key_type) + 1);
        }
    }
    for (size_t i = 0; i < st->n_tickets; i++) {
        const etls_store_ticket_t *t = &st->tickets[i];
        h = fnv(h, t->key, sizeof t->key);
        h = fnv(h, &t->state, sizeof t->state);
        h = fnv(h, &t->created, sizeof t->created);
        h = fnv(h, &t->activated, sizeof t->activated);
    }
    return h;
}

static size_t rnd(etls_test_rng_t *r, size_t n)
{
    return (size_t)(etls_test_rng_next(r) % n);
}

static char *fake_pem(etls_test_rng_t *r, size_t *len)
{
    size_t n = 100 + rnd(r, 7901);
    char *p = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        p[i] = (char)('A' + rnd(r, 26));
    p[n] = 0;
    *len = n;
    return p;
}

/* New random content for c, through the store's API: a stored cert's bytes are shared. */
static void fake_cert(etls_test_rng_t *r, etls_store_cert_t *c)
{
    size_t cl, kl;
    char *chain = fake_pem(r, &cl), *key = fake_pem(r, &kl);
    CHECK(etls_store_cert_set(c, chain, cl, key, kl, rnd(r, 2) ? "ecdsa-p256" : "rsa-2048") == 0);
    free(chain);
    free(key);
}

static void add_random(etls_store_state_t *st, etls_test_rng_t *r)
{
    etls_store_entry_t e;
    char sni[3][96];
    char *names[3] = {sni[0], sni[1], sni[2]};
    memset(&e, 0, sizeof e);
    snprintf(e.name, sizeof e.name, "e%zu", rnd(r, 100));
    if (etls_store_entry_find(st, e.name) || st->n_entries >= MAX_ENTRIES)
        return;
    e.n_names = rnd(r, 4);
    for (size_t i = 0; i < e.n_names; i++)
        snprintf(sni[i], sizeof sni[i], "h%zu.%s.example", i, e.name);
    e.names = names;
    e.n_certs = 1 + rnd(r, 2);
    for (size_t i = 0; i < e.n_certs; i++)
        fake_cert(r, &e.certs[i]);
    etls_store_entry_add(st, &e);
    e.names = NULL;
    e.n_names = 0;
    etls_store_entry_free(&e);
}

/* Pending keys are added, promoted to active (the old active becomes decrypt-only), and
 * decrypt-only keys retired, as the daemon's rotation does. */
static void change_tickets(etls_store_state_t *st, etls_test_rng_t *r)
{
    size_t op = rnd(r, 3);
    if (op == 0 && st->n_tickets < ETLS_STORE_MAX_TICKETS) {
        etls_store_ticket_t *t = &st->tickets[st->n_tickets++];
        etls_test_rng_bytes(r, t->key, sizeof t->key);
        t->state = ETLS_TICKET_PENDING;
        t->created = 1700000000 + rnd(r, 1000);
        t->activated = 0;
        return;
    }
    for (size_t i = 0; i < st->n_tickets; i++) {
        etls_store_ticket_t *t = &st->tickets[i];
        if (op == 1 && t->state == ETLS_TICKET_PENDING) {
            for (size_t k = 0; k < st->n_tickets; k++)
                if (st->tickets[k].state == ETLS_TICKET_ACTIVE)
                    st->tickets[k].state = ETLS_TICKET_DECRYPT;
            t->state = ETLS_TICKET_ACTIVE;
            t->activated = t->created + 1;
            return;
        }
        if (op == 2 && t->state == ETLS_TICKET_DECRYPT) {
            t->state = ETLS_TICKET_RETIRED;
            return;
        }
    }
}

static void mutate(etls_store_state_t *st, etls_test_rng_t *r)
{
    size_t op = rnd(r, 10);
    if (op < 4)
        add_random(st, r);
    else if (op < 6 && st->n_entries)
        etls_store_entry_remove(st, rnd(r, st->n_entries));
    else if (op < 8 && st->n_entries) {
        etls_store_entry_t *e = &st->entries[rnd(r, st->n_entries)];
        fake_cert(r, &e->certs[rnd(r, e->n_certs)]);
    } else if (op < 9)
        change_tickets(st, r);
    else if (st->n_entries)
        st->entries[rnd(r, st->n_entries)].is_default ^= 1;
}

static void child(uint64_t seed, int wfd)
{
    char err[512];
    etls_store_t *s;
    etls_store_state_t st;
    etls_test_rng_t r;
    etls_test_rng_seed(&r, seed);
    if (etls_store_open(&s, dir, KEEP, err, sizeof err) || etls_store_load(s, 0, &st, err, sizeof err)) {
        fprintf(stderr, "child: %s\n", err);
        _exit(2);
    }
    char blob[512];
    for (;;) {
        mutate(&st, &r);
        /* The commit drops retired keys; hash what will be stored. */
        etls_store_state_t probe;
        etls_store_state_copy(&probe, &st);
        size_t k = 0;
        for (size_t i = 0; i < probe.n_tickets; i++)
            if (probe.tickets[i].state != ETLS_TICKET_RETIRED)
                probe.tickets[k++] = probe.tickets[i];
        probe.n_tickets = k;
        snprintf(st.comment, sizeof st.comment, "v=%" PRIu64 " entries=%zu hash=%016" PRIx64,
                 etls_store_version(s) + 1, st.n_entries, state_hash(&probe));
        etls_store_state_free(&probe);
        etls_test_rng_bytes(&r, blob, sizeof blob);
        etls_store_blob_t b = {"snapshot.bin", blob, rnd(&r, sizeof blob)};
        if (etls_store_commit(s, &st, &b, rnd(&r, 2), err, sizeof err)) {
            fprintf(stderr, "child: %s\n", err);
            _exit(3);
        }
        uint64_t v = st.version;
        if (write(wfd, &v, sizeof v) != (ssize_t)sizeof v)
            _exit(4);
    }
}

static void check_key_modes(uint64_t v)
{
    char path[512];
    snprintf(path, sizeof path, "%s/versions/%" PRIu64, dir, v);
    DIR *d = opendir(path);
    CHECK(d != NULL);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char file[800];
        struct stat sb;
        snprintf(file, sizeof file, "%s/%s", path, de->d_name);
        CHECK_MSG(stat(file, &sb) == 0 && (sb.st_mode & 07777) == 0600, "%s", file);
    }
    if (d)
        closedir(d);
}

/* Reopens after the kill and checks the version found against what was acknowledged. */
static void verify(uint64_t acked, uint64_t iter)
{
    char err[512];
    etls_store_t *s;
    etls_store_state_t st;
    if (etls_store_open(&s, dir, KEEP, err, sizeof err)) {
        CHECK_MSG(0, "iteration %" PRIu64 ": open: %s", iter, err);
        return;
    }
    uint64_t v = etls_store_version(s);
    CHECK_MSG(v >= acked, "iteration %" PRIu64 ": version %" PRIu64 " < acknowledged %" PRIu64,
              iter, v, acked);
    if (etls_store_load(s, 0, &st, err, sizeof err) == 0) {
        char want[256];
        snprintf(want, sizeof want, "v=%" PRIu64 " entries=%zu hash=%016" PRIx64, v, st.n_entries,
                 state_hash(&st));
        CHECK_MSG(v == 0 || strcmp(st.comment, want) == 0, "iteration %" PRIu64 ": '%s' != '%s'",
                  iter, st.comment, want);
        etls_store_state_free(&st);
    } else {
        CHECK_MSG(0, "iteration %" PRIu64 ": load: %s", iter, err);
    }
    etls_store_version_info_t h[KEEP + 2];
    CHECK(etls_store_history(s, h, KEEP + 2) <= KEEP);
    if (v)
        check_key_modes(v);
    etls_store_close(s);
}

static uint64_t run_child(uint64_t seed, etls_test_rng_t *r, uint64_t iter)
{
    int p[2];
    if (pipe(p)) {
        perror("pipe");
        exit(1);
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        child(seed, p[1]);
    }
    close(p[1]);
    struct timespec delay = {0, (long)(etls_test_rng_next(r) % 20001) * 1000};
    nanosleep(&delay, NULL);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
              "iteration %" PRIu64 ": child exited on its own (status %d)", iter, status);
    uint64_t v, last = 0;
    while (read(p[0], &v, sizeof v) == (ssize_t)sizeof v)
        last = v;
    close(p[0]);
    return last;
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 1000;
    const char *tmp = argc > 2 ? argv[2] : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char base[200];
    snprintf(base, sizeof base, "%s/etls-crash-XXXXXX", tmp);
    if (!mkdtemp(base)) {
        perror(base);
        return 1;
    }
    snprintf(dir, sizeof dir, "%s/state", base);
    uint64_t seed = etls_test_seed("crash_store");
    etls_test_rng_t r;
    etls_test_rng_seed(&r, seed);
    uint64_t acked_total = 0, max_version = 0;
    for (long i = 0; i < iters; i++) {
        uint64_t acked = run_child(seed + (uint64_t)i + 1, &r, (uint64_t)i);
        acked_total += acked != 0;
        max_version = acked > max_version ? acked : max_version;
        verify(acked, (uint64_t)i);
        if (etls_test_failures)
            break;
    }
    printf("crash_store: %ld kills, %" PRIu64 " with acknowledged commits, up to version %" PRIu64 "\n",
           iters, acked_total, max_version);
    nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return etls_test_summary("control_store_crash");
}
