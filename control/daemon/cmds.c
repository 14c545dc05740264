/* The admin commands (docs/control-protocol.md): each change is validated, committed to the
 * store as one new version (with the dataplane snapshot as snapshot.bin), then pushed. A refused
 * change leaves the version and the stored state as they were. */
#include "daemon.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* ---- small output helpers ----------------------------------------------------------------- */

typedef struct text {
    char *p;
    size_t len, cap;
} text_t;

__attribute__((format(printf, 2, 3))) static void tprintf(text_t *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 1024;
        while (cap < t->len + (size_t)n + 1)
            cap *= 2;
        char *q = realloc(t->p, cap);
        if (!q)
            return;
        t->p = q;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

static void reply_text(cd_admin_t *a, const char *status, text_t *t)
{
    cd_reply(a, status, t->p ? t->p : "", t->len);
    free(t->p);
    memset(t, 0, sizeof *t);
}

__attribute__((format(printf, 4, 5))) static void replyf(cd_admin_t *a, int json, const char *status,
                                                         const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (json) {
        cd_reply_json(a, status, json_pack("{s:s,s:s}", "status", status, "message", msg));
        return;
    }
    size_t n = strlen(msg);
    if (n + 1 < sizeof msg)
        msg[n++] = '\n';
    cd_reply(a, status, msg, n);
}

/* Aligned columns: rows of cells, widths from the widest cell. */
typedef struct table {
    char *cells[4096][8];
    size_t rows, cols;
} table_t;

static void trow(table_t *t, size_t cols, ...)
{
    if (t->rows >= 4096)
        return;
    va_list ap;
    va_start(ap, cols);
    for (size_t c = 0; c < cols && c < 8; c++)
        t->cells[t->rows][c] = strdup(va_arg(ap, const char *));
    va_end(ap);
    t->cols = cols;
    t->rows++;
}

static void tflush(table_t *t, text_t *out)
{
    size_t w[8] = {0};
    for (size_t r = 0; r < t->rows; r++)
        for (size_t c = 0; c < t->cols; c++)
            if (t->cells[r][c] && strlen(t->cells[r][c]) > w[c])
                w[c] = strlen(t->cells[r][c]);
    for (size_t r = 0; r < t->rows; r++) {
        for (size_t c = 0; c < t->cols; c++) {
            const char *s = t->cells[r][c] ? t->cells[r][c] : "";
            if (c + 1 < t->cols)
                tprintf(out, "%-*s  ", (int)w[c], s);
            else
                tprintf(out, "%s\n", s);
            free(t->cells[r][c]);
        }
    }
    t->rows = 0;
}

/* ---- state: tickets, encoding, commit ----------------------------------------------------- */

static const char *ticket_state_name(etls_ticket_state_t s)
{
    switch (s) {
    case ETLS_TICKET_PENDING: return "pending";
    case ETLS_TICKET_ACTIVE: return "active";
    case ETLS_TICKET_DECRYPT: return "decrypt-only";
    default: return "retired";
    }
}

static int new_ticket(etls_store_state_t *st, etls_ticket_state_t state)
{
    if (st->n_tickets >= ETLS_STORE_MAX_TICKETS)
        return -1;
    etls_store_ticket_t *t = &st->tickets[st->n_tickets];
    memset(t, 0, sizeof *t);
    if (getrandom(t->key, sizeof t->key, 0) != (ssize_t)sizeof t->key)
        return -1;
    t->state = state;
    t->created = (uint64_t)time(NULL);
    t->activated = state == ETLS_TICKET_ACTIVE ? t->created : 0;
    st->n_tickets++;
    return 0;
}

static int find_ticket(const etls_store_state_t *st, etls_ticket_state_t s)
{
    for (size_t i = 0; i < st->n_tickets; i++)
        if (st->tickets[i].state == s)
            return (int)i;
    return -1;
}

/* Keeps one active, one pending and at most one decrypt-only key, in that order. */
static void tickets_normalise(etls_store_state_t *st)
{
    etls_store_ticket_t keep[3];
    size_t n = 0;
    static const etls_ticket_state_t order[] = {ETLS_TICKET_ACTIVE, ETLS_TICKET_PENDING, ETLS_TICKET_DECRYPT};
    for (int k = 0; k < 3; k++) {
        int best = -1;
        for (size_t i = 0; i < st->n_tickets; i++)
            if (st->tickets[i].state == order[k] &&
                (best < 0 || st->tickets[i].created > st->tickets[best].created))
                best = (int)i;
        if (best >= 0)
            keep[n++] = st->tickets[best];
    }
    memset(st->tickets, 0, sizeof st->tickets);
    memcpy(st->tickets, keep, n * sizeof keep[0]);
    st->n_tickets = n;
    explicit_bzero(keep, sizeof keep);
}

static int tickets_ensure(etls_store_state_t *st)
{
    if (find_ticket(st, ETLS_TICKET_ACTIVE) < 0 && new_ticket(st, ETLS_TICKET_ACTIVE) < 0)
        return -1;
    if (find_ticket(st, ETLS_TICKET_PENDING) < 0 && new_ticket(st, ETLS_TICKET_PENDING) < 0)
        return -1;
    tickets_normalise(st);
    return 0;
}

/* pending -> active, active -> decrypt-only, the older decrypt-only retired, a new pending. */
static int tickets_rotate(etls_store_state_t *st)
{
    int act = find_ticket(st, ETLS_TICKET_ACTIVE), pend = find_ticket(st, ETLS_TICKET_PENDING);
    for (size_t i = 0; i < st->n_tickets; i++)
        if (st->tickets[i].state == ETLS_TICKET_DECRYPT)
            st->tickets[i].state = ETLS_TICKET_RETIRED;
    if (act >= 0)
        st->tickets[act].state = ETLS_TICKET_DECRYPT;
    if (pend >= 0) {
        st->tickets[pend].state = ETLS_TICKET_ACTIVE;
        st->tickets[pend].activated = (uint64_t)time(NULL);
    }
    tickets_normalise(st);
    return tickets_ensure(st);
}

/* Commits next (consumed: it becomes the current state on success, is freed on failure).
 * The dataplanes get the delta from the current state; the state directory gets it appended
 * to the journal (snapshot.delta) over an unchanged snapshot.bin, or, when the journal is full
 * or a delta cannot say it (see cd_snap_delta), a new snapshot.bin and an empty journal. */
/* The store commit of `next` as version `version` with the delta from the current version
 * (empty when only a whole snapshot says it), the journal and snapshot.bin kept in step. On
 * success d->delta is that delta; next is neither freed nor adopted here. */
static int store_commit(cd_t *d, etls_store_state_t *next, uint64_t version, etls_snap_buf_t *delta, char *err,
                        size_t errlen)
{
    uint64_t old_version = d->cur.version;
    etls_snap_buf_t full = {0};
    size_t jlen = d->journal.len;
    int rebase = !d->base_stored || !delta->len || d->journal_frames >= CD_JOURNAL_FRAMES ||
                 jlen + delta->len + 5 > CD_JOURNAL_MAX;
    if (!rebase) {
        etls_snap_frame(&d->journal, ETLS_SNAP_MSG_DELTA, delta->p, delta->len);
        if (d->journal.failed) {
            etls_snap_buf_free(&d->journal);
            d->journal_frames = 0;
            jlen = 0;
            rebase = 1;
        }
    }
    etls_store_blob_t blobs[2];
    memset(blobs, 0, sizeof blobs);
    size_t nb = 0;
    if (rebase) {
        if (cd_snap_full(d, next, version, &full) < 0) {
            snprintf(err, errlen, "cannot encode the snapshot (too large)");
            goto fail;
        }
        blobs[nb++] = (etls_store_blob_t){.file = "snapshot.bin", .data = full.p, .len = full.len};
    } else {
        blobs[nb++] = (etls_store_blob_t){.file = "snapshot.bin", .same_as_current = 1};
        blobs[nb++] = (etls_store_blob_t){.file = "snapshot.delta", .data = d->journal.p, .len = d->journal.len};
    }
    if (etls_store_commit(d->store, next, blobs, nb, err, errlen) < 0)
        goto fail;
    etls_snap_buf_free(&full);
    if (rebase) {
        etls_snap_buf_free(&d->journal);
        d->journal_frames = 0;
        d->base_stored = 1;
    } else {
        d->journal_frames++;
    }
    etls_snap_buf_free(&d->delta);
    d->delta = *delta;
    memset(delta, 0, sizeof *delta);
    d->delta_base = d->delta.len ? old_version : 0;
    cd_log(d, 2, "version %llu: %s (%s)", (unsigned long long)version, next->comment,
           rebase ? "whole snapshot stored" : "delta appended to the journal");
    return 0;
fail:
    d->journal.len = jlen; /* the frame appended above is not part of any version */
    etls_snap_buf_free(delta);
    etls_snap_buf_free(&full);
    return -1;
}

/* Commits next (a changed copy of the current state), which becomes the current state; the
 * changes are found by comparing the two (a transaction, a rollback, ticket keys). next is
 * consumed either way. */
static int commit(cd_t *d, etls_store_state_t *next, const char *comment, char *err, size_t errlen)
{
    snprintf(next->comment, sizeof next->comment, "%s", comment);
    etls_snap_buf_t delta = {0};
    uint64_t version = etls_store_version(d->store) + 1;
    cd_mark_changes(&d->cur, next, version);
    long nd = d->cur.n_entries ? cd_snap_delta(d, &d->cur, next, version, &delta) : -2;
    if (nd < 0 || delta.failed)
        etls_snap_buf_free(&delta);
    if (store_commit(d, next, version, &delta, err, errlen) < 0) {
        etls_store_state_free(next);
        return -1;
    }
    etls_store_state_free(&d->cur);
    d->cur = *next;
    memset(next, 0, sizeof *next);
    cd_dp_push_all(d);
    return 0;
}

/* Commits the current state as changed in place at entry `name` alone (replaced, or added at
 * the end), so that nothing is copied or compared: at 100,000 entries a copy, the comparison
 * and the free of the old state cost more than the store's commit. On failure the caller puts
 * the entry back as it was. */
static int commit_in_place(cd_t *d, const char *name, const char *comment, char *err, size_t errlen)
{
    uint64_t version = etls_store_version(d->store) + 1;
    char saved[sizeof d->cur.comment];
    memcpy(saved, d->cur.comment, sizeof saved);
    snprintf(d->cur.comment, sizeof d->cur.comment, "%s", comment);
    etls_store_entry_t *e = etls_store_entry_find(&d->cur, name);
    uint64_t since = e ? e->since : 0;
    if (e)
        e->since = version;
    etls_snap_buf_t delta = {0};
    if (e && cd_snap_delta_one(d, e, version, &delta) < 0)
        etls_snap_buf_free(&delta);
    if (store_commit(d, &d->cur, version, &delta, err, errlen) < 0) {
        memcpy(d->cur.comment, saved, sizeof saved);
        if (e)
            e->since = since;
        return -1;
    }
    cd_dp_push_all(d);
    return 0;
}

/* The version a stored snapshot payload (snapshot.bin: "magic, u64 version, ...") is of; 0
 * when it cannot be read. */
static uint64_t stored_snapshot_version(const cd_t *d)
{
    char path[4096];
    uint8_t head[12];
    if (etls_store_current_path(d->store, "snapshot.bin", path, sizeof path) < 0)
        return 0;
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(head, 1, sizeof head, f) : 0;
    if (f)
        fclose(f);
    return n == sizeof head ? etls_snap_get_u64(head + 4) : 0;
}

/* Picks up the journal the current version stored (snapshot.bin and the deltas since, which
 * the loaded state checked against the manifest), so the first commit after a restart appends
 * a delta instead of writing a whole snapshot (85 MB at 100,000 entries). The deltas must
 * chain from snapshot.bin's version to the current one; anything else starts a new journal. */
static void resume_journal(cd_t *d)
{
    uint64_t v = stored_snapshot_version(d);
    if (!v || v > d->cur.version)
        return;
    char path[4096];
    etls_snap_buf_t j = {0};
    size_t frames = 0;
    if (etls_store_current_path(d->store, "snapshot.delta", path, sizeof path) == 0) {
        FILE *f = fopen(path, "rb");
        uint8_t buf[65536];
        for (size_t n; f && (n = fread(buf, 1, sizeof buf, f)) > 0 && j.len + n <= CD_JOURNAL_MAX;)
            etls_snap_put(&j, buf, n);
        int eof = f && feof(f);
        explicit_bzero(buf, sizeof buf); /* deltas carry private keys */
        if (f)
            fclose(f);
        if (f && !eof)
            j.failed = 1; /* larger than a journal may be, or unreadable */
    }
    size_t off = 0;
    while (!j.failed && off < j.len) {
        uint8_t type;
        const uint8_t *p;
        size_t plen, used;
        if (etls_snap_unframe(j.p + off, j.len - off, &type, &p, &plen, &used) != 1 ||
            type != ETLS_SNAP_MSG_DELTA || plen < 20 || etls_snap_get_u64(p + 4) != v) {
            j.failed = 1;
            break;
        }
        v = etls_snap_get_u64(p + 12);
        off += used;
        frames++;
    }
    if (!j.failed && v == d->cur.version && frames < CD_JOURNAL_FRAMES) {
        etls_snap_buf_free(&d->journal);
        d->journal = j;
        d->journal_frames = frames;
        d->base_stored = 1;
        return;
    }
    etls_snap_buf_free(&j);
}

int cd_state_init(cd_t *d, char *err, size_t errlen)
{
    if (etls_store_load(d->store, 0, &d->cur, err, errlen) < 0)
        return -1;
    if (tickets_ensure(&d->cur) < 0) {
        snprintf(err, errlen, "cannot draw session-ticket keys");
        return -1;
    }
    /* Otherwise the first commit stores a whole snapshot.bin to start the journal on. */
    d->base_stored = 0;
    resume_journal(d);
    return 0;
}

int cd_tickets_due(cd_t *d, uint64_t now_s)
{
    static uint64_t next_try;
    int act = find_ticket(&d->cur, ETLS_TICKET_ACTIVE);
    if (act < 0 || now_s < d->cur.tickets[act].activated + d->ticket_rotation_s || now_s < next_try)
        return 0;
    etls_store_state_t next;
    char err[512];
    if (etls_store_state_copy(&next, &d->cur) < 0 || tickets_rotate(&next) < 0) {
        etls_store_state_free(&next);
        return -1;
    }
    if (commit(d, &next, "ticket rotate (schedule)", err, sizeof err) < 0) {
        cd_log(d, 0, "scheduled ticket rotation failed: %s (retrying in 60 s)", err);
        next_try = now_s + 60;
        return -1;
    }
    return 1;
}

/* ---- certificate commands ----------------------------------------------------------------- */

static const char *family(const char *key_type)
{
    return !strncmp(key_type, "rsa", 3) ? "rsa" : !strncmp(key_type, "ecdsa", 5) ? "ecdsa" : key_type;
}

/* "a,b" -> lower-cased names in out (strdup'd); -1 with err on a bad list. */
static int split_names(const char *list, char **out, size_t cap, size_t *n, char *err, size_t errlen)
{
    *n = 0;
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t l = comma ? (size_t)(comma - p) : strlen(p);
        if (l == 0 || l > 253 || *n >= cap) {
            snprintf(err, errlen, "--names: empty name, name over 253 bytes or more than %zu names", cap);
            return -1;
        }
        char *s = strndup(p, l);
        for (char *q = s; q && *q; q++)
            *q = (char)((*q >= 'A' && *q <= 'Z') ? *q - 'A' + 'a' : *q);
        out[(*n)++] = s;
        p += l + (comma ? 1 : 0);
        if (comma && !*p) {
            snprintf(err, errlen, "--names: trailing comma");
            return -1;
        }
    }
    return 0;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
}

static int same_names(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++) {
        size_t j = 0;
        while (j < nb && strcmp(a[i], b[j]))
            j++;
        if (j == nb)
            return 0;
    }
    return 1;
}

static etls_val_opts_t val_opts(const cd_t *d, int force)
{
    return (etls_val_opts_t){.ca_file = d->ca_file[0] ? d->ca_file : NULL, .warn_days = d->warn_days, .force = force};
}

/* The other entry that already serves one of names, for the "same exact name" rule. */
static const char *claimed(const etls_store_state_t *st, const char *self, char *const *names, size_t n,
                           const char **which)
{
    for (size_t i = 0; i < st->n_entries; i++) {
        if (!strcmp(st->entries[i].name, self))
            continue;
        for (size_t k = 0; k < st->entries[i].n_names; k++)
            for (size_t m = 0; m < n; m++)
                if (!strcmp(st->entries[i].names[k], names[m])) {
                    *which = names[m];
                    return st->entries[i].name;
                }
    }
    return NULL;
}

static void reply_done(cd_t *d, cd_admin_t *a, int json, const etls_val_info_t *info)
{
    if (json) {
        json_t *w = json_array();
        for (size_t i = 0; info && i < info->n_warnings; i++)
            json_array_append_new(w, json_string(info->warnings[i]));
        cd_reply_json(a, "ok", json_pack("{s:I,s:o}", "version", (json_int_t)d->cur.version, "warnings", w));
        return;
    }
    text_t t = {0};
    tprintf(&t, "version %llu\n", (unsigned long long)d->cur.version);
    for (size_t i = 0; info && i < info->n_warnings; i++)
        tprintf(&t, "warning: %s\n", info->warnings[i]);
    reply_text(a, "ok", &t);
}

static void reply_staged(cd_admin_t *a, int json, const cd_txn_t *txn, const etls_val_info_t *info);
static void brief_note(cd_t *d, const char *entry, const char *key_type, const etls_val_info_t *info);

/* The bounds of a transaction (docs/control-protocol.md), checked before a change is staged:
 * 0, or -1 with err and the transaction as it was. */
static int txn_room(const cd_t *d, const cd_txn_t *txn, const char *what, size_t bytes, char *err, size_t errlen)
{
    unsigned max = d->txn_max_changes ? d->txn_max_changes : CD_TXN_MAX_CHANGES;
    if (cd_txn_changes(txn) >= max)
        return snprintf(err, errlen, "%s: the transaction already holds %u staged changes, its limit (commit it, "
                        "then begin another)", what, max), -1;
    if (cd_txn_bytes(txn) + bytes > CD_TXN_MAX_BYTES)
        return snprintf(err, errlen, "%s: the transaction would hold more than %llu MiB of certificates and keys "
                        "(commit it, then begin another)", what, (unsigned long long)(CD_TXN_MAX_BYTES >> 20)), -1;
    return 0;
}

/* Puts the validated certificate into next (add or replace rules): into e, next's entry of that
 * name, or a new entry when e is NULL; 0 or -1 with err. */
static int place_cert(etls_store_state_t *next, etls_store_entry_t *e, const char *name, int replace, char **names,
                      size_t n_names, const etls_store_cert_t *cert, int is_default, char *err, size_t errlen)
{
    if (replace && !e)
        return snprintf(err, errlen, "cert %s: no such entry (use cert add)", name), -1;
    if (!e) {
        etls_store_entry_t ne = {0};
        snprintf(ne.name, sizeof ne.name, "%s", name);
        ne.names = names;
        ne.n_names = n_names;
        ne.n_certs = 1;
        ne.certs[0] = *cert;
        return etls_store_entry_add(next, &ne) < 0 ? (snprintf(err, errlen, "out of memory"), -1) : 0;
    }
    size_t slot = e->n_certs;
    for (size_t c = 0; c < e->n_certs; c++)
        if (!strcmp(family(e->certs[c].key_type), family(cert->key_type)))
            slot = c;
    if (!replace && slot < e->n_certs)
        return snprintf(err, errlen, "cert %s: already has a%s %s certificate (use cert replace)", name,
                        family(cert->key_type)[0] == 'e' ? "n" : "", family(cert->key_type)), -1;
    if (replace && slot == e->n_certs)
        return snprintf(err, errlen, "cert %s: has no %s certificate to replace (use cert add)", name,
                        family(cert->key_type)), -1;
    if (slot == ETLS_STORE_MAX_CERTS)
        return snprintf(err, errlen, "cert %s: already holds %d certificates", name, ETLS_STORE_MAX_CERTS), -1;
    if ((e->n_certs > 1 || !replace) && !same_names(e->names, e->n_names, names, n_names))
        return snprintf(err, errlen, "cert %s: an entry's certificates must serve the same names", name), -1;
    if (slot == e->n_certs)
        e->n_certs++;
    if (etls_store_cert_set(&e->certs[slot], cert->chain_pem, cert->chain_len, cert->key_pem, cert->key_len,
                            cert->key_type) < 0)
        return snprintf(err, errlen, "out of memory"), -1;
    free_names(e->names, e->n_names);
    free(e->names);
    e->names = calloc(n_names ? n_names : 1, sizeof *e->names);
    for (size_t i = 0; e->names && i < n_names; i++)
        e->names[i] = strdup(names[i]);
    e->n_names = n_names;
    e->is_default = e->is_default || is_default;
    return 0;
}

static void cmd_cert_put(cd_t *d, cd_admin_t *a, const etls_proto_req_t *r, int json, int replace)
{
    const char *verb = replace ? "replace" : "add";
    const etls_proto_opt_t *chain = etls_proto_opt(r, "chain"), *key = etls_proto_opt(r, "key");
    const etls_proto_opt_t *nm = etls_proto_opt(r, "names");
    if (r->n_words != 3 || !chain || chain->payload < 0 || !key || key->payload < 0 || (nm && !nm->value)) {
        replyf(a, json, "usage", "usage: cert %s NAME --chain=@LEN --key=@LEN [--names=a,b] [--force] [--default]", verb);
        return;
    }
    const char *name = r->words[2];
    if (!etls_store_name_ok(name)) {
        replyf(a, json, "usage", "cert %s: bad entry name '%s' (letters, digits, '.', '_', '-'; 1-64)", verb, name);
        return;
    }
    char err[1024], *names[ETLS_VAL_MAX_NAMES];
    size_t n_names = 0;
    if (nm && split_names(nm->value, names, ETLS_VAL_MAX_NAMES, &n_names, err, sizeof err) < 0) {
        free_names(names, n_names);
        replyf(a, json, "usage", "cert %s: %s", verb, err);
        return;
    }
    etls_val_info_t *info = calloc(1, sizeof *info);
    etls_val_opts_t vo = val_opts(d, etls_proto_flag(r, "force"));
    const char *chain_pem = (const char *)r->payload[chain->payload], *key_pem = (const char *)r->payload[key->payload];
    size_t chain_len = r->payload_len[chain->payload], key_len = r->payload_len[key->payload];
    int rc = info ? etls_val_check(name, chain_pem, chain_len, key_pem, key_len, (const char *const *)names,
                                   n_names, &vo, info, err, sizeof err)
                  : (snprintf(err, sizeof err, "out of memory"), -1);
    if (rc == 0 && !n_names) /* serve the leaf's names: stored explicitly, so duplicates show */
        for (size_t i = 0; i < info->n_sans && n_names < ETLS_VAL_MAX_NAMES; i++)
            names[n_names++] = strdup(info->sans[i]);
    if (rc == 0 && !n_names) {
        snprintf(err, sizeof err, "cert %s: no names to serve (the leaf has no DNS subjectAltName; give --names)", name);
        rc = -1;
    }
    cd_txn_t *txn = a->txn;
    const char *dup_name = NULL, *owner = NULL;
    if (rc == 0)
        owner = txn ? cd_txn_claimed(txn, name, names, n_names, &dup_name)
                    : claimed(&d->cur, name, names, n_names, &dup_name);
    if (owner) {
        snprintf(err, sizeof err, "cert %s: name %s is already served by entry %s", name, dup_name, owner);
        rc = -1;
    }
    char what[96];
    snprintf(what, sizeof what, "cert %s", name);
    if (rc == 0 && txn)
        rc = txn_room(d, txn, what, chain_len + key_len, err, sizeof err);
    /* Outside a transaction the change is made to the current state in place (the entry saved
     * first, and put back if the commit fails) and committed; with --default, which touches
     * every entry's flag, to a copy. Inside a transaction, into the transaction's own state
     * (validated the same way), and staged. */
    int in_place = !txn && !etls_proto_flag(r, "default");
    etls_store_state_t next = {0}, *target = txn ? cd_txn_state(txn) : in_place ? &d->cur : &next;
    etls_store_entry_t undo;
    int have_undo = 0;
    size_t n_before = d->cur.n_entries;
    if (rc == 0 && !txn && !in_place && etls_store_state_copy(&next, &d->cur) < 0) {
        snprintf(err, sizeof err, "out of memory");
        rc = -1;
    }
    if (rc == 0) {
        etls_store_cert_t cert = {(char *)chain_pem, chain_len, (char *)key_pem, key_len, ""};
        snprintf(cert.key_type, sizeof cert.key_type, "%s", info->key_type);
        etls_store_entry_t *e = txn ? cd_txn_find(txn, name) : etls_store_entry_find(target, name);
        if (in_place && e && !(have_undo = etls_store_entry_copy(&undo, e) == 0)) {
            snprintf(err, sizeof err, "out of memory");
            rc = -1;
        }
        /* place_cert copies names and PEMs (etls_store_entry_add deep-copies) */
        if (rc == 0)
            rc = place_cert(target, e, name, replace, names, n_names, &cert, etls_proto_flag(r, "default"), err,
                        sizeof err);
        if (rc == 0 && etls_proto_flag(r, "default"))
            for (size_t i = 0; i < target->n_entries; i++)
                target->entries[i].is_default = !strcmp(target->entries[i].name, name);
        if (rc == 0 && txn && cd_txn_changed(txn, name, chain_len + key_len) < 0) {
            snprintf(err, sizeof err, "out of memory");
            rc = -1;
        }
    }
    char comment[128];
    snprintf(comment, sizeof comment, "cert %s %s", verb, name);
    if (txn) {
        ; /* staged: nothing to commit yet */
    } else if (in_place) {
        if (rc == 0)
            rc = commit_in_place(d, name, comment, err, sizeof err);
        etls_store_entry_t *e = rc ? etls_store_entry_find(&d->cur, name) : NULL;
        if (e && have_undo) { /* back as it was */
            etls_store_entry_free(e);
            *e = undo;
            have_undo = 0;
        } else if (e && d->cur.n_entries > n_before) {
            etls_store_entry_remove(&d->cur, d->cur.n_entries - 1); /* the entry added */
        }
        if (have_undo)
            etls_store_entry_free(&undo);
    } else if (rc == 0) {
        rc = commit(d, &next, comment, err, sizeof err);
    } else {
        etls_store_state_free(&next);
    }
    if (rc == 0 && txn) {
        reply_staged(a, json, txn, info);
    } else if (rc == 0) {
        brief_note(d, name, info->key_type, info);
        reply_done(d, a, json, info);
    } else {
        replyf(a, json, "refused", "%s", err);
    }
    free_names(names, n_names);
    free(info);
}

static void cmd_cert_remove(cd_t *d, cd_admin_t *a, const etls_proto_req_t *r, int json)
{
    if (r->n_words != 3) {
        replyf(a, json, "usage", "usage: cert remove NAME");
        return;
    }
    const char *name = r->words[2];
    char err[512], comment[128];
    cd_txn_t *txn = a->txn;
    etls_store_state_t next = {0}, *target = txn ? cd_txn_state(txn) : &next;
    if (!txn && etls_store_state_copy(&next, &d->cur) < 0) {
        replyf(a, json, "error", "out of memory");
        return;
    }
    etls_store_entry_t *e = txn ? cd_txn_find(txn, name) : etls_store_entry_find(target, name);
    /* in a transaction the last entry may go (others may be added after it): commit checks */
    if (!e || (!txn && next.n_entries == 1)) {
        etls_store_state_free(&next);
        replyf(a, json, "refused", !e ? "cert %s: no such entry"
                                      : "cert %s: it is the last entry; the dataplanes would have nothing to serve",
               name);
        return;
    }
    if (txn) {
        snprintf(comment, sizeof comment, "cert %s", name);
        if (txn_room(d, txn, comment, 0, err, sizeof err) < 0) {
            replyf(a, json, "refused", "%s", err);
            return;
        }
        cd_txn_remove(txn, e); /* O(1): a tombstone until commit */
        reply_staged(a, json, txn, NULL);
        return;
    }
    etls_store_entry_remove(target, (size_t)(e - target->entries));
    snprintf(comment, sizeof comment, "cert remove %s", name);
    if (commit(d, &next, comment, err, sizeof err) < 0)
        replyf(a, json, "refused", "%s", err);
    else
        reply_done(d, a, json, NULL);
}

/* ---- transactions (txn.c holds the staged state and its indexes) ------------------------- */

static void reply_staged(cd_admin_t *a, int json, const cd_txn_t *txn, const etls_val_info_t *info)
{
    if (json) {
        json_t *w = json_array();
        for (size_t i = 0; info && i < info->n_warnings; i++)
            json_array_append_new(w, json_string(info->warnings[i]));
        cd_reply_json(a, "ok", json_pack("{s:b,s:I,s:I,s:o}", "staged", 1, "changes", (json_int_t)cd_txn_changes(txn),
                                         "base", (json_int_t)cd_txn_base(txn), "warnings", w));
        return;
    }
    text_t t = {0};
    tprintf(&t, "staged (%zu changes on version %llu)\n", cd_txn_changes(txn), (unsigned long long)cd_txn_base(txn));
    for (size_t i = 0; info && i < info->n_warnings; i++)
        tprintf(&t, "warning: %s\n", info->warnings[i]);
    reply_text(a, "ok", &t);
}

static void cmd_begin(cd_t *d, cd_admin_t *a, const etls_proto_req_t *r, int json)
{
    if (r->n_words != 1) {
        replyf(a, json, "usage", "usage: begin");
        return;
    }
    if (a->txn) {
        replyf(a, json, "refused", "a transaction is open on this connection already (commit or abort it)");
        return;
    }
    int open_txns = 0; /* each holds a copy of the state and what it staged: a memory bound */
    for (int i = 0; i < CD_MAX_ADMIN; i++)
        open_txns += d->admins[i].fd >= 0 && d->admins[i].txn;
    if (open_txns >= CD_MAX_TXN) {
        replyf(a, json, "refused", "%d transactions are open already (other connections); try again later",
               CD_MAX_TXN);
        return;
    }
    if (!(a->txn = cd_txn_begin(d))) {
        replyf(a, json, "error", "out of memory");
        return;
    }
    if (json)
        cd_reply_json(a, "ok", json_pack("{s:I}", "base", (json_int_t)d->cur.version));
    else
        replyf(a, 0, "ok", "transaction open on version %llu", (unsigned long long)d->cur.version);
}

static void cmd_abort(cd_t *d, cd_admin_t *a, const etls_proto_req_t *r, int json)
{
    (void)d;
    if (r->n_words != 1) {
        replyf(a, json, "usage", "usage: abort");
        return;
    }
    if (!a->txn) {
        replyf(a, json, "refused", "no transaction is open (begin one first)");
        return;
    }
    size_t n = cd_txn_changes(a->txn);
    cd_txn_free(a->txn);
    a->txn = NULL;
    replyf(a, json, "ok", "aborted: %zu staged changes dropped", n);
}

/* "commit [COMMENT]": the comment is the words after commit ("--comment=TEXT" also works, for
 * a comment that starts with "--"); a line of words keeps to what the history shows. */
static int commit_comment(const etls_proto_req_t *r, char *out, size_t cap)
{
    const etls_proto_opt_t *c = etls_proto_opt(r, "comment");
    if (c && (!c->value || r->n_words > 1))
        return -1;
    out[0] = 0;
    if (c)
        snprintf(out, cap, "%s", c->value);
    for (size_t i = 1; i < r->n_words; i++) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s%s", i > 1 ? " " : "", r->words[i]);
    }
    return 0;
}

static void cmd_commit(cd_t *d, cd_admin_t *a, const etls_proto_req_t *r, int json)
{
    if (!a->txn) {
        replyf(a, json, "refused", "no transaction is open (begin one first)");
        return;
    }
    cd_txn_t *txn = a->txn;
    a->txn = NULL; /* whatever happens now, the transaction is over */
    char err[1024], comment[200], text[160];
    size_t n = cd_txn_changes(txn);
    if (cd_txn_base(txn) != d->cur.version)
        snprintf(err, sizeof err, "state changed since begin (version %llu, now %llu): nothing committed",
                 (unsigned long long)cd_txn_base(txn), (unsigned long long)d->cur.version);
    else if (!cd_txn_entries(txn))
        snprintf(err, sizeof err, "the transaction removes every entry; the dataplanes would have nothing to "
                 "serve: nothing committed");
    else if (commit_comment(r, text, sizeof text) < 0)
        snprintf(err, sizeof err, "usage: commit [COMMENT] (or --comment=TEXT): nothing committed");
    else
        err[0] = 0;
    if (err[0]) {
        cd_txn_free(txn);
        replyf(a, json, "refused", "%s", err);
        return;
    }
    if (!n) {
        cd_txn_free(txn);
        if (json)
            cd_reply_json(a, "ok", json_pack("{s:I,s:I}", "version", (json_int_t)d->cur.version, "changes", (json_int_t)0));
        else
            replyf(a, 0, "ok", "nothing staged: version %llu unchanged", (unsigned long long)d->cur.version);
        return;
    }
    snprintf(comment, sizeof comment, "%s (%zu changes)", text[0] ? text : "transaction", n);
    etls_store_state_t next;
    cd_txn_take(txn, &next); /* commit consumes it */
    cd_txn_free(txn);
    if (commit(d, &next, comment, err, sizeof err) < 0) {
        replyf(a, json, "refused", "%s: nothing committed", err);
        return;
    }
    if (json)
        cd_reply_json(a, "ok", json_pack("{s:I,s:I}", "version", (json_int_t)d->cur.version, "changes", (json_int_t)n));
    else
        replyf(a, 0, "ok", "version %llu (%zu changes)", (unsigned long long)d->cur.version, n);
}

/* Facts about a stored certificate (validation re-run in force mode: never refuses). */
static etls_val_info_t *cert_info(const cd_t *d, const etls_store_entry_t *e, size_t c)
{
    etls_val_info_t *info = calloc(1, sizeof *info);
    char err[512];
    etls_val_opts_t vo = val_opts(d, 1);
    if (info)
        etls_val_check(e->name, e->certs[c].chain_pem, e->certs[c].chain_len, e->certs[c].key_pem,
                       e->certs[c].key_len, NULL, 0, &vo, info, err, sizeof err);
    return info;
}

static cd_brief_t *brief_slot(cd_brief_t *t, size_t mask, uint64_t id)
{
    size_t i = (size_t)(id * 0x9e3779b97f4a7c15ull) & mask;
    while (t[i].id && t[i].id != id)
        i = (i + 1) & mask;
    return &t[i];
}

typedef struct briefs {
    cd_brief_t *t;
    size_t mask;
    etls_val_brief_t *v;
    size_t n, cap;
} briefs_t;

static void brief_put(briefs_t *b, uint64_t id, const etls_val_brief_t *x)
{
    cd_brief_t *s = brief_slot(b->t, b->mask, id);
    if (!s->id) {
        if (b->n == b->cap || (b->n + 1) * 2 > b->mask + 1)
            return; /* full: parsed again next time */
        s->id = id;
        s->idx = b->n++;
    }
    b->v[s->idx] = *x;
}

/* Remembers what validation found of the certificate a commit just stored (when the table has
 * room; the next listing parses it otherwise). */
static void brief_note(cd_t *d, const char *entry, const char *key_type, const etls_val_info_t *info)
{
    etls_store_entry_t *e = etls_store_entry_find(&d->cur, entry);
    if (!e || !d->briefs)
        return;
    briefs_t b = {d->briefs, d->brief_mask, d->brief_v, d->n_briefs, d->cap_briefs};
    for (size_t c = 0; c < e->n_certs; c++) {
        uint64_t id = etls_store_cert_id(&e->certs[c]);
        if (!id || strcmp(e->certs[c].key_type, key_type))
            continue;
        etls_val_brief_t x;
        memcpy(x.serial, info->serial, sizeof x.serial);
        memcpy(x.not_after, info->not_after, sizeof x.not_after);
        memcpy(x.fingerprint, info->fingerprint, sizeof x.fingerprint);
        x.not_after_t = info->not_after_t;
        brief_put(&b, id, &x);
    }
    d->n_briefs = b.n;
}

/* The brief of cert: from the last listing's table, or parsed; put in the new table nb. */
static void cert_brief(const cd_t *d, briefs_t *nb, etls_store_cert_t *cert, etls_val_brief_t *out)
{
    uint64_t id = etls_store_cert_id(cert);
    const cd_brief_t *old = id && d->briefs ? brief_slot(d->briefs, d->brief_mask, id) : NULL;
    if (old && old->id)
        *out = d->brief_v[old->idx];
    else if (etls_val_brief(cert->chain_pem, cert->chain_len, out) < 0)
        snprintf(out->serial, sizeof out->serial, "?"); /* cannot be: it was validated */
    if (id && nb->t)
        brief_put(nb, id, out);
}

static json_t *names_json(char *const *names, size_t n)
{
    json_t *j = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(j, json_string(names[i]));
    return j;
}

static void cmd_cert_list(cd_t *d, cd_admin_t *a, int json)
{
    json_t *arr = json_array();
    static table_t t;
    trow(&t, 6, "NAME", "KEY", "NOT AFTER", "SERIAL", "DEFAULT", "NAMES");
    /* The briefs shown become the table (what is no longer listed drops out of it), with room
     * for the commits until the next listing. */
    size_t n_certs = 0, cap = 1024;
    for (size_t i = 0; i < d->cur.n_entries; i++)
        n_certs += d->cur.entries[i].n_certs;
    briefs_t nb = {.cap = n_certs + 1024};
    while (cap < 2 * nb.cap)
        cap *= 2;
    nb.t = calloc(cap, sizeof *nb.t);
    nb.v = malloc(nb.cap * sizeof *nb.v);
    nb.mask = cap - 1;
    if (!nb.t || !nb.v) {
        free(nb.t);
        free(nb.v);
        nb.t = NULL; /* listed all the same, parsing every certificate */
    }
    for (size_t i = 0; i < d->cur.n_entries; i++) {
        etls_store_entry_t *e = &d->cur.entries[i];
        for (size_t c = 0; c < e->n_certs; c++) {
            etls_val_brief_t tmp, *info = &tmp;
            cert_brief(d, &nb, &e->certs[c], &tmp);
            json_array_append_new(arr, json_pack("{s:s,s:o,s:s,s:s,s:s,s:I,s:b,s:s}", "name", e->name, "names",
                                                 names_json(e->names, e->n_names), "serial", info->serial,
                                                 "not_after", info->not_after, "key_type", e->certs[c].key_type,
                                                 "version", (json_int_t)(e->since ? e->since : d->cur.version), "default", e->is_default,
                                                 "fingerprint", info->fingerprint));
            text_t nl = {0};
            for (size_t k = 0; k < e->n_names; k++)
                tprintf(&nl, "%s%s", k ? "," : "", e->names[k]);
            trow(&t, 6, e->name, e->certs[c].key_type, info->not_after, info->serial, e->is_default ? "yes" : "",
                 nl.p ? nl.p : "");
            free(nl.p);
        }
    }
    if (nb.t) {
        free(d->briefs);
        free(d->brief_v);
        d->briefs = nb.t;
        d->brief_mask = nb.mask;
        d->brief_v = nb.v;
        d->n_briefs = nb.n;
        d->cap_briefs = nb.cap;
    }
    if (json) {
        text_t junk = {0};
        tflush(&t, &junk); /* frees the cells */
        free(junk.p);
        cd_reply_json(a, "ok", json_pack("{s:I,s:o}", "version", (json_int_t)d->cur.version, "certs", arr));
        return;
    }
    json_decref(arr);
    text_t out = {0};
    tflush(&t, &out);
    reply_text(a, "ok", &out);
}

static void cmd_cert_show(cd_t *d, cd_admin_t *a, const etls_proto_req_t *r, int json)
{
    if (r->n_words != 3) {
        replyf(a, json, "usage", "usage: cert show NAME");
        return;
    }
    etls_store_entry_t *e = etls_store_entry_find(&d->cur, r->words[2]);
    if (!e) {
        replyf(a, json, "refused", "cert %s: no such entry", r->words[2]);
        return;
    }
    json_t *pids = json_array();
    text_t serving = {0};
    for (int i = 0; i < CD_MAX_DP; i++)
        if (d->dps[i].fd >= 0 && d->dps[i].hello && d->dps[i].version == d->cur.version) {
            json_array_append_new(pids, json_integer(d->dps[i].pid));
            tprintf(&serving, "%s%d", serving.len ? "," : "", (int)d->dps[i].pid);
        }
    json_t *certs = json_array();
    text_t t = {0};
    tprintf(&t, "entry:       %s%s\n", e->name, e->is_default ? " (default)" : "");
    tprintf(&t, "names:       ");
    for (size_t k = 0; k < e->n_names; k++)
        tprintf(&t, "%s%s", k ? "," : "", e->names[k]);
    tprintf(&t, "\nserved by:   %s\n", serving.len ? serving.p : "(no dataplane at this version)");
    for (size_t c = 0; c < e->n_certs; c++) {
        etls_val_info_t *info = cert_info(d, e, c);
        if (!info)
            continue;
        json_t *sans = json_array(), *chain = json_array(), *warn = json_array();
        for (size_t i = 0; i < info->n_sans; i++)
            json_array_append_new(sans, json_string(info->sans[i]));
        for (size_t i = 0; i < info->n_chain && i < 8; i++)
            json_array_append_new(chain, json_string(info->chain_subjects[i]));
        for (size_t i = 0; i < info->n_warnings; i++)
            json_array_append_new(warn, json_string(info->warnings[i]));
        json_array_append_new(certs, json_pack("{s:s,s:s,s:o,s:o,s:s,s:s,s:s,s:s,s:s,s:b,s:o}", "subject",
                                               info->subject, "issuer", info->issuer, "sans", sans, "chain", chain,
                                               "serial", info->serial, "not_before", info->not_before, "not_after",
                                               info->not_after, "key_type", e->certs[c].key_type, "fingerprint",
                                               info->fingerprint, "must_staple", info->must_staple, "warnings", warn));
        tprintf(&t, "certificate %zu:\n  subject:     %s\n  issuer:      %s\n  key:         %s\n", c + 1,
                info->subject, info->issuer, e->certs[c].key_type);
        tprintf(&t, "  serial:      %s\n  not before:  %s\n  not after:   %s\n  sha256:      %s\n", info->serial,
                info->not_before, info->not_after, info->fingerprint);
        tprintf(&t, "  SANs:        ");
        for (size_t i = 0; i < info->n_sans; i++)
            tprintf(&t, "%s%s", i ? "," : "", info->sans[i]);
        tprintf(&t, "\n  chain:\n");
        for (size_t i = 0; i < info->n_chain && i < 8; i++)
            tprintf(&t, "    %zu. %s\n", i, info->chain_subjects[i]);
        if (info->must_staple)
            tprintf(&t, "  WARNING: must-staple (TLS Feature status_request) and OCSP stapling is not implemented yet\n");
        for (size_t i = 0; i < info->n_warnings; i++)
            tprintf(&t, "  warning: %s\n", info->warnings[i]);
        free(info);
    }
    free(serving.p);
    if (json) {
        free(t.p);
        cd_reply_json(a, "ok", json_pack("{s:s,s:o,s:b,s:I,s:o,s:o}", "name", e->name, "names",
                                         names_json(e->names, e->n_names), "default", e->is_default, "version",
                                         (json_int_t)d->cur.version, "certs", certs, "dataplanes", pids));
        return;
    }
    json_decref(certs);
    json_decref(pids);
    reply_text(a, "ok", &t);
}

/* ---- tickets ------------------------------------------------------------------------------ */

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

static void cmd_ticket_list(cd_t *d, cd_admin_t *a, int json)
{
    json_t *arr = json_array();
    static table_t t;
    trow(&t, 4, "NAME", "STATE", "CREATED", "ACTIVATED");
    for (size_t i = 0; i < d->cur.n_tickets; i++) {
        const etls_store_ticket_t *k = &d->cur.tickets[i];
        char name[33], cr[24], ac[24];
        hex(k->key, 16, name); /* the public key name only, never the secret */
        snprintf(cr, sizeof cr, "%llu", (unsigned long long)k->created);
        snprintf(ac, sizeof ac, "%llu", (unsigned long long)k->activated);
        json_array_append_new(arr, json_pack("{s:s,s:s,s:I,s:I}", "name", name, "state", ticket_state_name(k->state),
                                             "created", (json_int_t)k->created, "activated", (json_int_t)k->activated));
        trow(&t, 4, name, ticket_state_name(k->state), cr, k->activated ? ac : "-");
    }
    text_t out = {0};
    tflush(&t, &out);
    if (json) {
        free(out.p);
        cd_reply_json(a, "ok", json_pack("{s:I,s:I,s:o}", "version", (json_int_t)d->cur.version, "rotation_s",
                                         (json_int_t)d->ticket_rotation_s, "tickets", arr));
        return;
    }
    json_decref(arr);
    reply_text(a, "ok", &out);
}

static void cmd_ticket_rotate(cd_t *d, cd_admin_t *a, int json)
{
    etls_store_state_t next;
    char err[512];
    if (a->txn) { /* staged like a certificate change: the keys rotate with the commit */
        etls_store_state_t *st = cd_txn_state(a->txn);
        etls_store_ticket_t keep[ETLS_STORE_MAX_TICKETS];
        size_t n_keep = st->n_tickets;
        memcpy(keep, st->tickets, sizeof keep);
        if (txn_room(d, a->txn, "ticket rotate", 0, err, sizeof err) < 0) {
            replyf(a, json, "refused", "%s", err);
        } else if (tickets_rotate(st) < 0) {
            memcpy(st->tickets, keep, sizeof keep);
            st->n_tickets = n_keep;
            replyf(a, json, "error", "cannot rotate: no randomness");
        } else {
            cd_txn_note(a->txn);
            reply_staged(a, json, a->txn, NULL);
        }
        explicit_bzero(keep, sizeof keep);
        return;
    }
    if (etls_store_state_copy(&next, &d->cur) < 0 || tickets_rotate(&next) < 0) {
        etls_store_state_free(&next);
        replyf(a, json, "error", "cannot rotate: out of memory or no randomness");
        return;
    }
    if (commit(d, &next, "ticket rotate", err, sizeof err) < 0)
        replyf(a, json, "refused", "%s", err);
    else
        reply_done(d, a, json, NULL);
}

/* The export format (docs/control-protocol.md): secrets, for other hosts of the same service. */
static void cmd_ticket_export(cd_t *d, cd_admin_t *a)
{
    text_t t = {0};
    tprintf(&t, "edgetls-ticket-keys 1\n");
    for (size_t i = 0; i < d->cur.n_tickets; i++) {
        const etls_store_ticket_t *k = &d->cur.tickets[i];
        char h[2 * ETLS_STORE_TICKET_LEN + 1];
        hex(k->key, ETLS_STORE_TICKET_LEN, h);
        tprintf(&t, "key %s %llu %llu %s\n", ticket_state_name(k->state), (unsigned long long)k->created,
                (unsigned long long)k->activated, h);
        explicit_bzero(h, sizeof h);
    }
    tprintf(&t, "end\n");
    cd_log(d, 2, "admin: ticket keys exported to pid %d uid %d", (int)a->pid, (int)a->uid);
    cd_reply(a, "ok", t.p, t.len);
    explicit_bzero(t.p, t.cap);
    free(t.p);
}

static int unhex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (!s[2 * i] || !s[2 * i + 1] || sscanf(s + 2 * i, "%2x", &v) != 1 ||
            !strchr("0123456789abcdefABCDEF", s[2 * i]) || !strchr("0123456789abcdefABCDEF", s[2 * i + 1]))
            return -1;
        out[i] = (uint8_t)v;
    }
    return s[2 * n] ? -1 : 0;
}

static int parse_export(const char *p, size_t len, etls_store_state_t *st, char *err, size_t errlen)
{
    char *copy = strndup(p, len), *save = NULL;
    int line = 0, rc = -1, ended = 0, active = 0;
    st->n_tickets = 0;
    for (char *l = copy ? strtok_r(copy, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
        line++;
        char state[16], h[200];
        unsigned long long cr, ac;
        if (line == 1) {
            if (strcmp(l, "edgetls-ticket-keys 1")) {
                snprintf(err, errlen, "ticket import: line 1: expected 'edgetls-ticket-keys 1'");
                goto out;
            }
            continue;
        }
        if (!strcmp(l, "end")) {
            ended = 1;
            break;
        }
        etls_store_ticket_t *k = &st->tickets[st->n_tickets];
        if (st->n_tickets >= 3 || sscanf(l, "key %15s %llu %llu %199s", state, &cr, &ac, h) != 4 ||
            unhex(h, k->key, ETLS_STORE_TICKET_LEN) < 0) {
            snprintf(err, errlen, "ticket import: line %d: expected 'key STATE CREATED ACTIVATED HEX96' (at most 3 keys)", line);
            explicit_bzero(h, sizeof h);
            goto out;
        }
        explicit_bzero(h, sizeof h);
        k->state = !strcmp(state, "active") ? ETLS_TICKET_ACTIVE : !strcmp(state, "pending") ? ETLS_TICKET_PENDING
                 : !strcmp(state, "decrypt-only") ? ETLS_TICKET_DECRYPT : ETLS_TICKET_RETIRED;
        if (k->state == ETLS_TICKET_RETIRED) {
            snprintf(err, errlen, "ticket import: line %d: state must be active, pending or decrypt-only", line);
            goto out;
        }
        active += k->state == ETLS_TICKET_ACTIVE;
        k->created = cr;
        k->activated = ac;
        st->n_tickets++;
    }
    if (!ended)
        snprintf(err, errlen, "ticket import: no 'end' line (truncated file?)");
    else if (active != 1)
        snprintf(err, errlen, "ticket import: exactly one active key required (found %d)", active);
    else
        rc = 0;
out:
    if (copy) {
        explicit_bzero(copy, len);
        free(copy);
    }
    return rc;
}

static void cmd_ticket_import(cd_t *d, cd_admin_t *a, const etls_proto_req_t *r, int json)
{
    const etls_proto_opt_t *o = etls_proto_opt(r, "data");
    if (!o || o->payload < 0) {
        replyf(a, json, "usage", "usage: ticket import --data=@LEN");
        return;
    }
    etls_store_state_t next;
    char err[512];
    if (etls_store_state_copy(&next, &d->cur) < 0) {
        replyf(a, json, "error", "out of memory");
        return;
    }
    if (parse_export((const char *)r->payload[o->payload], r->payload_len[o->payload], &next, err, sizeof err) < 0 ||
        tickets_ensure(&next) < 0) {
        etls_store_state_free(&next);
        replyf(a, json, "refused", "%s", err);
        return;
    }
    if (commit(d, &next, "ticket import", err, sizeof err) < 0) { /* commit freed next */
        replyf(a, json, "refused", "%s", err);
        return;
    }
    reply_done(d, a, json, NULL);
}

/* ---- versions, status, stats, dataplane control ------------------------------------------- */

static void cmd_history(cd_t *d, cd_admin_t *a, int json)
{
    etls_store_version_info_t v[1000];
    size_t n = etls_store_history(d->store, v, 1000);
    json_t *arr = json_array();
    static table_t t;
    trow(&t, 4, "VERSION", "TIME", "ENTRIES", "CHANGE");
    for (size_t i = 0; i < n; i++) {
        char ver[24], when[32], ent[24];
        time_t tt = (time_t)v[i].time;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        snprintf(ver, sizeof ver, "%llu%s", (unsigned long long)v[i].version, v[i].version == d->cur.version ? "*" : "");
        snprintf(ent, sizeof ent, "%zu", v[i].n_entries);
        trow(&t, 4, ver, when, ent, v[i].comment);
        json_array_append_new(arr, json_pack("{s:I,s:I,s:s,s:I}", "version", (json_int_t)v[i].version, "time",
                                             (json_int_t)v[i].time, "comment", v[i].comment, "entries",
                                             (json_int_t)v[i].n_entries));
    }
    text_t out = {0};
    tflush(&t, &out);
    if (json) {
        free(out.p);
        cd_reply_json(a, "ok", json_pack("{s:I,s:o}", "current", (json_int_t)d->cur.version, "versions", arr));
        return;
    }
    json_decref(arr);
    reply_text(a, "ok", &out);
}

static void cmd_rollback(cd_t *d, cd_admin_t *a, const etls_proto_req_t *r, int json)
{
    char *end;
    unsigned long long v = r->n_words == 2 ? strtoull(r->words[1], &end, 10) : 0;
    if (r->n_words != 2 || !v || *end) {
        replyf(a, json, "usage", "usage: rollback VERSION");
        return;
    }
    etls_store_state_t old = {0}, next = {0};
    char err[1024], comment[64];
    /* Objects this process wrote or already hashed are not hashed again (a third of a load at
     * 100,000 entries); the manifest, tickets.key and blobs are still checked. */
    if (etls_store_load_opts(d->store, v, &old, ETLS_STORE_LOAD_TRUST_VERIFIED, err, sizeof err) < 0) {
        replyf(a, json, "refused", "rollback %llu: %s", v, err);
        return;
    }
    if (!old.n_entries) {
        etls_store_state_free(&old);
        replyf(a, json, "refused", "rollback %llu: that version has no certificates", v);
        return;
    }
    /* The certificate set of v, with today's ticket keys (rolling those back would drop keys
     * that sealed tickets still in the field). */
    if (etls_store_state_copy(&next, &d->cur) < 0) {
        etls_store_state_free(&old);
        replyf(a, json, "error", "out of memory");
        return;
    }
    while (next.n_entries)
        etls_store_entry_remove(&next, next.n_entries - 1);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < old.n_entries; i++)
        rc = etls_store_entry_add(&next, &old.entries[i]);
    etls_store_state_free(&old);
    snprintf(comment, sizeof comment, "rollback %llu", v);
    if (rc < 0) {
        etls_store_state_free(&next);
        replyf(a, json, "error", "out of memory");
    } else if (commit(d, &next, comment, err, sizeof err) < 0) {
        replyf(a, json, "refused", "%s", err);
    } else {
        reply_done(d, a, json, NULL);
    }
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static void cmd_status(cd_t *d, cd_admin_t *a, int json)
{
    json_t *arr = json_array();
    static table_t t;
    trow(&t, 6, "PID", "TRANSPORT", "WORKERS", "VERSION", "STATE", "DETAIL");
    for (int i = 0; i < CD_MAX_DP; i++) {
        const cd_dp_t *p = &d->dps[i];
        if (p->fd < 0 || !p->hello)
            continue;
        const char *state = p->refused[0] ? "refused" : p->version == d->cur.version ? "synced" : "pending";
        json_array_append_new(arr, json_pack("{s:i,s:I,s:i,s:s,s:s,s:s,s:I,s:{s:I,s:I}}", "pid", (int)p->pid,
                                             "version", (json_int_t)p->version, "workers", (int)p->workers,
                                             "transport", p->transport ? "dpdk" : "io_uring", "state", state,
                                             "reason", p->refused, "adopted", (json_int_t)p->adopted, "pushes",
                                             "delta", (json_int_t)p->n_delta, "full", (json_int_t)p->n_full));
        char pid[16], w[16], v[24];
        snprintf(pid, sizeof pid, "%d", (int)p->pid);
        snprintf(w, sizeof w, "%u", p->workers);
        snprintf(v, sizeof v, "%llu", (unsigned long long)p->version);
        trow(&t, 6, pid, p->transport ? "dpdk" : "io_uring", w, v, state, p->refused);
    }
    /* commit -> last worker of every dataplane, over the recent commits */
    size_t n = d->n_prop < 1024 ? d->n_prop : 1024;
    double s[1024], p50 = 0, p99 = 0;
    memcpy(s, d->prop_ms, n * sizeof s[0]);
    qsort(s, n, sizeof s[0], cmp_double);
    if (n) {
        p50 = s[n / 2];
        p99 = s[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1];
    }
    if (json) {
        text_t junk = {0};
        tflush(&t, &junk);
        free(junk.p);
        json_t *recent = json_array(); /* the last samples, oldest first */
        size_t cap = sizeof d->prop_ms / sizeof d->prop_ms[0], k = n < 64 ? n : 64;
        for (size_t i = d->n_prop - k; i < d->n_prop; i++)
            json_array_append_new(recent, json_real(d->prop_ms[i % cap]));
        cd_reply_json(a, "ok", json_pack("{s:I,s:s,s:I,s:o,s:{s:I,s:f,s:f,s:o}}", "version", (json_int_t)d->cur.version,
                                         "state_dir", d->state_dir, "entries", (json_int_t)d->cur.n_entries,
                                         "dataplanes", arr, "propagation_ms", "samples", (json_int_t)n, "p50", p50,
                                         "p99", p99, "recent", recent));
        return;
    }
    json_decref(arr);
    text_t out = {0};
    tprintf(&out, "version %llu, %zu entries, state %s\n", (unsigned long long)d->cur.version, d->cur.n_entries,
            d->state_dir);
    tprintf(&out, "propagation (commit to last worker): %zu samples, p50 %.1f ms, p99 %.1f ms\n", n, p50, p99);
    tprintf(&out, "dataplanes: %d\n", cd_dp_count(d));
    tflush(&t, &out);
    reply_text(a, "ok", &out);
}

static void cmd_stats(cd_t *d, cd_admin_t *a, int json)
{
    a->stats_id = ++d->next_stats_id ? d->next_stats_id : ++d->next_stats_id;
    a->stats_json = json;
    a->stats_deadline = cd_now_ms() + CD_STATS_WAIT_MS;
    if (!cd_dp_stats_request(d, a->stats_id))
        a->stats_deadline = 0; /* nobody to ask: answer at the next tick */
}

/* "key value" lines per dataplane, summed over workers for the totals. */
void cd_stats_finish(cd_t *d, cd_admin_t *a)
{
    json_t *arr = json_array();
    text_t out = {0};
    for (int i = 0; i < CD_MAX_DP; i++) {
        cd_dp_t *p = &d->dps[i];
        if (p->fd < 0 || !p->hello)
            continue;
        json_t *obj = json_object(), *workers = json_object();
        json_object_set_new(obj, "pid", json_integer(p->pid));
        int fresh = p->stats_id == a->stats_id && p->stats;
        json_object_set_new(obj, "answered", json_boolean(fresh));
        tprintf(&out, "dataplane %d%s\n", (int)p->pid, fresh ? "" : " (no answer in time)");
        char *save = NULL, *copy = fresh ? strdup(p->stats) : NULL;
        for (char *l = copy ? strtok_r(copy, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
            char key[128];
            unsigned long long v;
            if (sscanf(l, "%127s %llu", key, &v) != 2)
                continue;
            tprintf(&out, "  %-32s %llu\n", key, v);
            unsigned w;
            char field[96];
            if (sscanf(key, "worker.%u.%95s", &w, field) == 2) {
                char wk[16];
                snprintf(wk, sizeof wk, "%u", w);
                json_t *wo = json_object_get(workers, wk);
                if (!wo)
                    json_object_set_new(workers, wk, wo = json_object());
                json_object_set_new(wo, field, json_integer((json_int_t)v));
                json_t *tot = json_object_get(obj, field);
                json_object_set_new(obj, field, json_integer((json_int_t)v + (tot ? json_integer_value(tot) : 0)));
            } else {
                json_object_set_new(obj, key, json_integer((json_int_t)v));
            }
        }
        free(copy);
        json_object_set_new(obj, "workers", workers);
        json_array_append_new(arr, obj);
    }
    if (a->stats_json) {
        free(out.p);
        cd_reply_json(a, "ok", json_pack("{s:I,s:o}", "version", (json_int_t)d->cur.version, "dataplanes", arr));
        return;
    }
    json_decref(arr);
    if (!out.len)
        tprintf(&out, "no dataplane attached\n");
    reply_text(a, "ok", &out);
}

static void cmd_drain(cd_t *d, cd_admin_t *a, const etls_proto_req_t *r, int json)
{
    const etls_proto_opt_t *o = etls_proto_opt(r, "timeout");
    unsigned long secs = 5;
    char *end = NULL;
    if (o && (!o->value || (secs = strtoul(o->value, &end, 10)) > 3600 || *end)) {
        replyf(a, json, "usage", "usage: drain [--timeout=SECONDS] (0..3600)");
        return;
    }
    uint32_t ms = (uint32_t)secs * 1000;
    uint8_t b[4] = {(uint8_t)(ms >> 24), (uint8_t)(ms >> 16), (uint8_t)(ms >> 8), (uint8_t)ms};
    int n = cd_dp_count(d);
    cd_dp_send_all(d, ETLS_SNAP_MSG_DRAIN, b, 4);
    cd_log(d, 2, "admin: drain sent to %d dataplanes", n);
    if (json)
        cd_reply_json(a, "ok", json_pack("{s:i}", "dataplanes", n));
    else
        replyf(a, 0, "ok", "drain sent to %d dataplane%s", n, n == 1 ? "" : "s");
}

static void cmd_log_level(cd_t *d, cd_admin_t *a, const etls_proto_req_t *r, int json)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    int lvl = -1;
    for (int i = 0; r->n_words == 2 && i < 4; i++)
        if (!strcmp(r->words[1], names[i]))
            lvl = i;
    if (lvl < 0) {
        replyf(a, json, "usage", "usage: log-level error|warn|info|debug");
        return;
    }
    d->log_level = lvl;
    uint8_t b = (uint8_t)lvl;
    cd_dp_send_all(d, ETLS_SNAP_MSG_LOG_LEVEL, &b, 1);
    replyf(a, json, "ok", "log level %s", names[lvl]);
}

static const char help_text[] =
    "commands: status | cert add|replace NAME --chain=@LEN --key=@LEN [--names=a,b] [--force] [--default]\n"
    "  | cert remove|show NAME | cert list | ticket list|rotate|export | ticket import --data=@LEN\n"
    "  | stats | history | rollback VERSION | drain [--timeout=S] | log-level LEVEL | help\n"
    "  | begin | commit [COMMENT] | abort   (cert add/replace/remove and ticket rotate between them are staged)\n"
    "every command takes --json; see docs/control-protocol.md\n";

void cd_command(cd_t *d, cd_admin_t *a, const etls_proto_req_t *r)
{
    int json = etls_proto_flag(r, "json");
    const char *w0 = r->n_words ? r->words[0] : "", *w1 = r->n_words > 1 ? r->words[1] : "";
    if (d->log_level >= 3)
        cd_log(d, 3, "admin: pid %d: %s %s", (int)a->pid, w0, w1);
    /* These commit a version of their own: inside a transaction that would make its commit
     * fail (the base moved), or leave the operator unsure what the commit contains. */
    int commits_alone = !strcmp(w0, "rollback") || (!strcmp(w0, "ticket") && !strcmp(w1, "import"));
    if (a->txn && commits_alone)
        replyf(a, json, "refused", "'%s%s%s' cannot be staged; commit or abort the open transaction first", w0,
               *w1 ? " " : "", w1);
    else if (!strcmp(w0, "status") && r->n_words == 1)
        cmd_status(d, a, json);
    else if (!strcmp(w0, "cert") && (!strcmp(w1, "add") || !strcmp(w1, "replace")))
        cmd_cert_put(d, a, r, json, !strcmp(w1, "replace"));
    else if (!strcmp(w0, "cert") && !strcmp(w1, "remove"))
        cmd_cert_remove(d, a, r, json);
    else if (!strcmp(w0, "cert") && !strcmp(w1, "list") && r->n_words == 2)
        cmd_cert_list(d, a, json);
    else if (!strcmp(w0, "cert") && !strcmp(w1, "show"))
        cmd_cert_show(d, a, r, json);
    else if (!strcmp(w0, "ticket") && !strcmp(w1, "list") && r->n_words == 2)
        cmd_ticket_list(d, a, json);
    else if (!strcmp(w0, "ticket") && !strcmp(w1, "rotate") && r->n_words == 2)
        cmd_ticket_rotate(d, a, json);
    else if (!strcmp(w0, "ticket") && !strcmp(w1, "export") && r->n_words == 2)
        cmd_ticket_export(d, a);
    else if (!strcmp(w0, "ticket") && !strcmp(w1, "import") && r->n_words == 2)
        cmd_ticket_import(d, a, r, json);
    else if (!strcmp(w0, "stats") && r->n_words == 1)
        cmd_stats(d, a, json);
    else if (!strcmp(w0, "history") && r->n_words == 1)
        cmd_history(d, a, json);
    else if (!strcmp(w0, "rollback"))
        cmd_rollback(d, a, r, json);
    else if (!strcmp(w0, "drain") && r->n_words == 1)
        cmd_drain(d, a, r, json);
    else if (!strcmp(w0, "log-level"))
        cmd_log_level(d, a, r, json);
    else if (!strcmp(w0, "begin"))
        cmd_begin(d, a, r, json);
    else if (!strcmp(w0, "commit"))
        cmd_commit(d, a, r, json);
    else if (!strcmp(w0, "abort"))
        cmd_abort(d, a, r, json);
    else if (!strcmp(w0, "help"))
        cd_reply(a, "ok", help_text, sizeof help_text - 1);
    else
        replyf(a, json, "usage", "unknown command '%s%s%s' (try: help)", w0, *w1 ? " " : "", w1);
}
