/* edgetlsctl: the command line of edgetls-control. Each command is a row of a table (its words,
 * arguments, options, help and the function that builds the request line); the protocol, the
 * reply statuses and the exit codes are in docs/control-protocol.md. The CLI does no formatting
 * of its own: the daemon's body is printed as it came. */
#include "ctl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_SOCKET "/run/edgetls/admin.sock"
#define DEFAULT_TIMEOUT_S 30
#define MAX_SECONDS 86400
#define MAX_POS 2
#define MAX_OPTS 8

typedef struct ctl_optspec {
    const char *name; /* without "--" */
    int has_value;
} ctl_optspec_t;

struct ctl_cmd;

typedef struct ctl_args {
    const struct ctl_cmd *cmd;
    const char *pos[MAX_POS];
    int n_pos;
    const char *val[MAX_OPTS]; /* value, or "" for a flag that was given; NULL when absent */
} ctl_args_t;

typedef struct ctl_cmd {
    const char *path;     /* "cert add": what the request starts with */
    const char *word;     /* "add": what selects it in its table */
    const char *synopsis; /* arguments after the command words */
    const char *summary;
    const char *help; /* further lines for COMMAND --help */
    int n_pos;
    const ctl_optspec_t *opts; /* ends with {NULL} */
    int (*build)(const ctl_args_t *a, ctl_req_t *req);
    const struct ctl_cmd *sub; /* a group ("cert"): its commands, ending with {NULL} */
} ctl_cmd_t;

static struct {
    const char *socket;
    int json;
    int timeout_s;
} g = {.timeout_s = DEFAULT_TIMEOUT_S};

/* A local usage error: one line naming the command and where its help is. */
static int usage_error(const ctl_cmd_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const ctl_cmd_t *c, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "edgetlsctl: %s%s", c ? c->path : "", c ? ": " : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'edgetlsctl %s%s--help')\n", c ? c->path : "", c ? " " : "");
    return CTL_EXIT_USAGE;
}

/* ---- building the request line ---- */

static void line_add(ctl_req_t *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line_add(ctl_req_t *req, const char *fmt, ...)
{
    size_t room = ETLS_PROTO_MAX_LINE - req->line_len; /* "\n" is added at the end */
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(req->line + req->line_len, room + 1, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n > room)
        req->overflow = 1;
    else
        req->line_len += (size_t)n;
}

/* A word travels in the line as is: printable ASCII without spaces (proto.h). A leading '@'
 * would announce a payload, a leading "--" an option. */
static int word_ok(const char *s)
{
    if (!*s || *s == '@' || (s[0] == '-' && s[1] == '-'))
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

static const char *arg(const ctl_args_t *a, const char *name)
{
    for (int i = 0; a->cmd->opts && a->cmd->opts[i].name; i++)
        if (strcmp(a->cmd->opts[i].name, name) == 0)
            return a->val[i];
    return NULL;
}

static int digits_ok(const char *s, size_t max_len)
{
    size_t n = strlen(s);
    if (n == 0 || n > max_len)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

static int seconds_ok(const char *s)
{
    return digits_ok(s, 5) && atoi(s) > 0 && atoi(s) <= MAX_SECONDS;
}

/* The command words and its positional arguments, which every command starts with. */
static int build_plain(const ctl_args_t *a, ctl_req_t *req)
{
    line_add(req, "%s", a->cmd->path);
    for (int i = 0; i < a->n_pos; i++) {
        if (!word_ok(a->pos[i]))
            return usage_error(a->cmd, "'%s' cannot be sent (printable ASCII, no spaces, no leading @ or --)",
                               a->pos[i]);
        line_add(req, " %s", a->pos[i]);
    }
    return 0;
}

static int add_payload(ctl_req_t *req, const char *opt, const char *file, int private_only)
{
    ctl_buf_t *b = &req->payload[req->n_payloads];
    if (ctl_read_file(file, ETLS_PROTO_MAX_PAYLOAD, private_only, b) < 0)
        return CTL_EXIT_FAIL;
    req->n_payloads++;
    line_add(req, " --%s=@%zu", opt, b->len);
    return 0;
}

static int build_cert_put(const ctl_args_t *a, ctl_req_t *req)
{
    const char *chain = arg(a, "chain"), *key = arg(a, "key"), *names = arg(a, "names");
    if (!chain || !*chain)
        return usage_error(a->cmd, "--chain FILE is required");
    if (!key || !*key)
        return usage_error(a->cmd, "--key FILE is required");
    if (names && !word_ok(names))
        return usage_error(a->cmd, "--names wants a comma-separated list without spaces");
    int rc = build_plain(a, req);
    if (rc == 0)
        rc = add_payload(req, "chain", chain, 0);
    if (rc == 0)
        rc = add_payload(req, "key", key, 0);
    if (rc == 0 && names)
        line_add(req, " --names=%s", names);
    if (rc == 0 && arg(a, "force"))
        line_add(req, " --force");
    if (rc == 0 && arg(a, "default"))
        line_add(req, " --default");
    return rc;
}

static int build_export(const ctl_args_t *a, ctl_req_t *req)
{
    req->export_file = a->pos[0];
    line_add(req, "%s", a->cmd->path);
    return 0;
}

static int build_import(const ctl_args_t *a, ctl_req_t *req)
{
    line_add(req, "%s", a->cmd->path);
    return add_payload(req, "data", a->pos[0], 1);
}

static int build_rollback(const ctl_args_t *a, ctl_req_t *req)
{
    if (!digits_ok(a->pos[0], 19))
        return usage_error(a->cmd, "VERSION must be digits, got '%s'", a->pos[0]);
    return build_plain(a, req);
}

static int build_drain(const ctl_args_t *a, ctl_req_t *req)
{
    const char *t = arg(a, "timeout");
    if (t && !seconds_ok(t))
        return usage_error(a->cmd, "--timeout wants whole seconds 1..%d, got '%s'", MAX_SECONDS, t);
    line_add(req, "%s", a->cmd->path);
    if (t) {
        line_add(req, " --timeout=%s", t);
        req->wait_s = atoi(t) + 10; /* the daemon answers when the drain is over */
    }
    return 0;
}

static int build_log_level(const ctl_args_t *a, ctl_req_t *req)
{
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (strcmp(a->pos[0], levels[i]) == 0)
            return build_plain(a, req);
    return usage_error(a->cmd, "LEVEL must be error, warn, info or debug, got '%s'", a->pos[0]);
}

/* ---- the tables ---- */

static const ctl_optspec_t cert_put_opts[] = {
    {"chain", 1}, {"key", 1}, {"names", 1}, {"force", 0}, {"default", 0}, {NULL, 0}};
static const ctl_optspec_t drain_opts[] = {{"timeout", 1}, {NULL, 0}};

#define CERT_PUT_HELP                                                                              \
    "  --chain FILE     PEM certificate chain, leaf first (at most 1 MiB)\n"                      \
    "  --key FILE       PEM private key of the leaf (at most 1 MiB)\n"                            \
    "  --names a,b,...  host names to serve it for (default: the certificate's SANs)\n"           \
    "  --force          serve --names the leaf's subjectAltName does not cover (a warning)\n"      \
    "  --default        serve it to clients that send no matching SNI\n"                         \
    "The files are read by edgetlsctl and sent over the socket; the daemon validates the pair\n"  \
    "and replies 'refused' without changing anything when it does not pass.\n"

static const ctl_cmd_t cert_cmds[] = {
    {"cert add", "add", "NAME --chain FILE --key FILE [--names a,b,...] [--force] [--default]",
     "add a certificate and key under a new NAME (or the other key type to NAME)", CERT_PUT_HELP, 1, cert_put_opts, build_cert_put, NULL},
    {"cert replace", "replace", "NAME --chain FILE --key FILE [--names a,b,...] [--force] [--default]",
     "replace NAME's certificate and key of the same key type", CERT_PUT_HELP, 1, cert_put_opts, build_cert_put, NULL},
    {"cert remove", "remove", "NAME", "stop serving NAME", NULL, 1, NULL, build_plain, NULL},
    {"cert list", "list", "", "list the certificates being served", NULL, 0, NULL, build_plain, NULL},
    {"cert show", "show", "NAME", "details of NAME: chain, validity, warnings, dataplanes", NULL, 1,
     NULL, build_plain, NULL},
    {NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL}};

static const ctl_cmd_t ticket_cmds[] = {
    {"ticket list", "list", "", "list the session-ticket keys (names and states, never secrets)",
     NULL, 0, NULL, build_plain, NULL},
    {"ticket rotate", "rotate", "", "add a new key and make it active; the old one decrypts only",
     NULL, 0, NULL, build_plain, NULL},
    {"ticket export", "export", "FILE", "write all ticket keys to FILE (created 0600, atomically)",
     "FILE receives the keys in the export format of docs/control-protocol.md; FILE.tmp must not\n"
     "exist. Keep the file secret: it decrypts every session resumed with these keys.\n",
     1, NULL, build_export, NULL},
    {"ticket import", "import", "FILE", "replace the ticket keys with those in FILE",
     "FILE is in the export format and must not be readable by group or others.\n"
     "It needs exactly one active key.\n",
     1, NULL, build_import, NULL},
    {NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL}};

static const ctl_cmd_t commands[] = {
    {"status", "status", "", "daemon version, state directory and dataplanes", NULL, 0, NULL,
     build_plain, NULL},
    {"cert", "cert", "COMMAND ...", "manage certificates", NULL, 0, NULL, NULL, cert_cmds},
    {"ticket", "ticket", "COMMAND ...", "manage session-ticket keys", NULL, 0, NULL, NULL, ticket_cmds},
    {"stats", "stats", "", "counters gathered from the dataplanes", NULL, 0, NULL, build_plain, NULL},
    {"history", "history", "", "the stored configuration versions", NULL, 0, NULL, build_plain, NULL},
    {"rollback", "rollback", "VERSION", "make a stored version current again", NULL, 1, NULL,
     build_rollback, NULL},
    {"drain", "drain", "[--timeout SECONDS]", "let the dataplanes finish connections and stop",
     "  --timeout SECONDS  give up waiting for connections after this long\n"
     "edgetlsctl waits for the reply at least SECONDS + 10 s.\n",
     0, drain_opts, build_drain, NULL},
    {"log-level", "log-level", "LEVEL", "set the log level: error, warn, info or debug", NULL, 1,
     NULL, build_log_level, NULL},
    {"batch", "batch", "FILE", "apply a file of cert add/replace/remove lines as one version",
     "FILE (or - for standard input) holds one command per line, as on this command line without\n"
     "'edgetlsctl': cert add NAME --chain F --key F [--names a,b] [--force] [--default],\n"
     "cert replace ..., cert remove NAME. Blank lines and lines starting with # are skipped;\n"
     "words are separated by spaces (no quoting); relative paths are relative to FILE's directory.\n"
     "Every line is validated by the daemon in one transaction (begin ... commit): the first\n"
     "refused line is reported as FILE:LINE: reason, nothing is committed, and the exit status\n"
     "is 1. When the state changed meanwhile the commit is refused too: run it again.\n"
     "Lines are sent without waiting for each reply (up to 256 in flight); the commit reply\n"
     "is awaited --timeout plus 4 ms per change. --json prints {\"version\": N, \"changes\": M}.\n",
     1, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL}};

static const ctl_cmd_t *find_cmd(const ctl_cmd_t *table, const char *word)
{
    for (; table->path; table++)
        if (strcmp(table->word, word) == 0)
            return table;
    return NULL;
}

/* ---- help ---- */

static void print_table(const ctl_cmd_t *table, const char *prefix)
{
    for (; table->path; table++) {
        char left[96];
        snprintf(left, sizeof left, "%s%s %s", prefix, table->word, table->synopsis);
        if (strlen(left) > 30)
            printf("  %s\n  %30s  %s\n", left, "", table->summary);
        else
            printf("  %-30s  %s\n", left, table->summary);
    }
}

static int help_main(void)
{
    printf("usage: edgetlsctl [--socket PATH] [--json] [--timeout SECONDS] COMMAND ...\n\n"
           "  --socket PATH      admin socket (default $EDGETLS_ADMIN_SOCKET, else %s)\n"
           "  --json             ask the daemon for JSON instead of text\n"
           "  --timeout SECONDS  give up after this long (default %d)\n\n"
           "commands:\n",
           DEFAULT_SOCKET, DEFAULT_TIMEOUT_S);
    print_table(commands, "");
    printf("  %-30s  %s\n\n", "help [COMMAND]", "this text, or a command's");
    printf("Exit status: 0 ok, 1 refused/denied/error or no connection, 2 usage error.\n");
    return CTL_EXIT_OK;
}

static int help_cmd(const ctl_cmd_t *c)
{
    if (c->sub) {
        printf("usage: edgetlsctl %s COMMAND ...\n\n%s commands:\n", c->path, c->path);
        char prefix[32];
        snprintf(prefix, sizeof prefix, "%s ", c->path);
        print_table(c->sub, prefix);
        return CTL_EXIT_OK;
    }
    printf("usage: edgetlsctl %s%s%s\n\n%s\n", c->path, *c->synopsis ? " " : "", c->synopsis,
           c->summary);
    if (c->help)
        printf("\n%s", c->help);
    printf("\n  --json  reply in JSON (see docs/control-protocol.md)\n");
    return CTL_EXIT_OK;
}

/* "help", "help cert", "help cert add". */
static int help_words(int argc, char **argv)
{
    const ctl_cmd_t *table = commands, *c = NULL;
    for (int i = 0; i < argc; i++) {
        const ctl_cmd_t *next = table ? find_cmd(table, argv[i]) : NULL;
        if (!next)
            return usage_error(NULL, "no help for '%s'", argv[i]);
        c = next;
        table = c->sub;
    }
    return c ? help_cmd(c) : help_main();
}

/* ---- command line ---- */

static int is_help(const char *s)
{
    return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0;
}

/* --name VALUE, --name=VALUE or --flag against the command's spec; --json and --help are
 * accepted everywhere. Returns -1 after --help was printed, else 0 or CTL_EXIT_USAGE. */
static int parse_opt(const ctl_cmd_t *c, ctl_args_t *a, int argc, char **argv, int *i)
{
    const char *s = argv[*i];
    if (is_help(s))
        return help_cmd(c), -1;
    if (strcmp(s, "--json") == 0)
        return g.json = 1, 0;
    const char *eq = s[1] == '-' ? strchr(s, '=') : NULL;
    size_t n = eq ? (size_t)(eq - s - 2) : strlen(s + 2);
    for (int k = 0; s[1] == '-' && c->opts && c->opts[k].name; k++) {
        if (strlen(c->opts[k].name) != n || strncmp(c->opts[k].name, s + 2, n) != 0)
            continue;
        if (a->val[k])
            return usage_error(c, "--%s given twice", c->opts[k].name);
        if (!c->opts[k].has_value && eq)
            return usage_error(c, "--%s takes no value", c->opts[k].name);
        if (c->opts[k].has_value && !eq && *i + 1 >= argc)
            return usage_error(c, "--%s needs a value", c->opts[k].name);
        a->val[k] = !c->opts[k].has_value ? "" : eq ? eq + 1 : argv[++*i];
        return 0;
    }
    return usage_error(c, "unknown option '%s'", s);
}

static int parse_args(const ctl_cmd_t *c, ctl_args_t *a, int argc, char **argv)
{
    *a = (ctl_args_t){.cmd = c};
    for (int i = 0; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1]) {
            int rc = parse_opt(c, a, argc, argv, &i);
            if (rc)
                return rc;
        } else if (a->n_pos < c->n_pos) {
            a->pos[a->n_pos++] = argv[i];
        } else {
            return usage_error(c, "unexpected argument '%s'", argv[i]);
        }
    }
    if (a->n_pos < c->n_pos)
        return usage_error(c, "missing %s", c->synopsis);
    return 0;
}

/* On ok the body is the answer (or the export file); otherwise it explains the refusal. */
static int handle_reply(const ctl_req_t *req, const ctl_reply_t *rep)
{
    const ctl_buf_t *b = &rep->body;
    if (strcmp(rep->status, "ok") == 0 && req->export_file) {
        static const char magic[] = "edgetls-ticket-keys 1\n";
        if (b->len < sizeof magic - 1 || memcmp(b->p, magic, sizeof magic - 1) != 0) {
            fprintf(stderr, "edgetlsctl: the daemon's export is not in the expected format\n");
            return CTL_EXIT_FAIL;
        }
        size_t keys = 0;
        for (size_t i = 0; i + 4 < b->len; i++)
            if (b->p[i] == '\n' && memcmp(b->p + i + 1, "key ", 4) == 0)
                keys++;
        if (ctl_write_atomic(req->export_file, b->p, b->len) < 0)
            return CTL_EXIT_FAIL;
        fprintf(stderr, "wrote %zu ticket keys to %s (secret: keep it 0600)\n", keys, req->export_file);
        return CTL_EXIT_OK;
    }
    int ok = strcmp(rep->status, "ok") == 0;
    FILE *out = ok ? stdout : stderr;
    if (b->len && fwrite(b->p, 1, b->len, out) != b->len)
        return CTL_EXIT_FAIL;
    if (!ok && b->len && b->p[b->len - 1] != '\n')
        fputc('\n', stderr);
    if (fflush(out) != 0) {
        fprintf(stderr, "edgetlsctl: cannot write the reply\n");
        return CTL_EXIT_FAIL;
    }
    if (ok)
        return CTL_EXIT_OK;
    if (strcmp(rep->status, "usage") == 0)
        return CTL_EXIT_USAGE;
    if (strcmp(rep->status, "refused") && strcmp(rep->status, "denied") && strcmp(rep->status, "error"))
        fprintf(stderr, "edgetlsctl: unknown reply status '%s'\n", rep->status);
    else if (!b->len)
        fprintf(stderr, "edgetlsctl: the daemon replied '%s'\n", rep->status);
    return CTL_EXIT_FAIL;
}

/* ---- batch: many changes in one transaction ---- */

#define BATCH_MAX_FILE (256u << 20)
#define BATCH_MAX_WORDS 24

/* Sends a line of its own (begin, commit, abort) and reads the reply. */
static int batch_simple(ctl_conn_t *conn, const char *line, ctl_reply_t *rep)
{
    static ctl_req_t req;
    memset(&req, 0, sizeof req);
    line_add(&req, "%s%s\n", line, g.json ? " --json" : "");
    return ctl_call(conn, &req, rep);
}

/* A path word relative to the batch file's directory; the result lives in buf. */
static const char *batch_path(const char *dir, const char *path, char *buf, size_t cap)
{
    if (path[0] == '/' || !dir[0])
        return path;
    snprintf(buf, cap, "%.2000s/%.2000s", dir, path);
    return buf;
}

/* One batch line: its words into a request. 0, or an exit status after a message. */
static int batch_line(char *line, const char *dir, ctl_req_t *req, const char *where)
{
    char *argv[BATCH_MAX_WORDS], paths[4][4096];
    int argc = 0, n_paths = 0;
    for (char *tok = strtok(line, " \t\r"); tok; tok = strtok(NULL, " \t\r")) {
        if (argc == BATCH_MAX_WORDS) {
            fprintf(stderr, "%s: more than %d words\n", where, BATCH_MAX_WORDS);
            return CTL_EXIT_USAGE;
        }
        argv[argc++] = tok;
    }
    const ctl_cmd_t *c = argc >= 2 && !strcmp(argv[0], "cert") ? find_cmd(cert_cmds, argv[1]) : NULL;
    if (!c || (strcmp(c->word, "add") && strcmp(c->word, "replace") && strcmp(c->word, "remove"))) {
        fprintf(stderr, "%s: only cert add, cert replace and cert remove may be in a batch\n", where);
        return CTL_EXIT_USAGE;
    }
    /* --chain F / --key F (or --chain=F) are relative to the batch file: rewritten into out[] */
    char *out[BATCH_MAX_WORDS * 2], opt[4][16];
    int n_out = 0;
    for (int i = 2; i < argc; i++) {
        int eq = !strncmp(argv[i], "--chain=", 8) ? 8 : !strncmp(argv[i], "--key=", 6) ? 6 : 0;
        int sep = !eq && (!strcmp(argv[i], "--chain") || !strcmp(argv[i], "--key")) && i + 1 < argc;
        if ((eq || sep) && n_paths < 4) {
            snprintf(opt[n_paths], sizeof opt[0], "%.*s", eq ? eq - 1 : (int)strlen(argv[i]), argv[i]);
            const char *path = eq ? argv[i] + eq : argv[++i];
            out[n_out++] = opt[n_paths];
            out[n_out++] = (char *)batch_path(dir, path, paths[n_paths], sizeof paths[0]);
            n_paths++;
        } else {
            out[n_out++] = argv[i];
        }
    }
    ctl_args_t a;
    int rc = parse_args(c, &a, n_out, out);
    if (rc < 0) {
        fprintf(stderr, "%s: --help is not a batch command\n", where);
        return CTL_EXIT_USAGE;
    }
    if (rc)
        return fprintf(stderr, "%s: (see above)\n", where), rc;
    memset(req, 0, sizeof *req);
    rc = c->build(&a, req);
    if (rc == 0 && req->overflow)
        rc = usage_error(c, "the request is longer than %d bytes", ETLS_PROTO_MAX_LINE);
    if (rc) {
        fprintf(stderr, "%s: (see above)\n", where);
        return rc;
    }
    req->line[req->line_len++] = '\n';
    return 0;
}

static int batch_refused(const char *where, const ctl_reply_t *rep)
{
    int len = (int)rep->body.len;
    while (len > 0 && rep->body.p[len - 1] == '\n')
        len--;
    fprintf(stderr, "%s: %.*s\n", where, len, (const char *)rep->body.p);
    return !strcmp(rep->status, "usage") ? CTL_EXIT_USAGE : CTL_EXIT_FAIL;
}

/* The lines are pipelined: up to BATCH_WINDOW requests are in flight before the oldest reply is
 * read, so a batch costs the daemon's validation, not a round trip per line. Replies come back
 * in order, so the ring of line numbers names the line each reply is about. begin is answered
 * before any line goes (a refused begin must not let the lines commit one by one), and commit
 * only goes once every line's reply said staged. */
#define BATCH_WINDOW 256

typedef struct batch {
    ctl_conn_t conn;
    const char *file;
    size_t ring[BATCH_WINDOW]; /* line numbers of the requests in flight, oldest first */
    size_t head, n;
    size_t staged;
    int rc;                    /* the first refusal's exit status (in file order), 0 none */
    int dead;                  /* the connection failed: nothing more to read */
} batch_t;

static void batch_reap(batch_t *b)
{
    size_t line = b->ring[b->head];
    b->head = (b->head + 1) % BATCH_WINDOW;
    b->n--;
    if (b->dead)
        return;
    ctl_reply_t rep;
    if (ctl_recv(&b->conn, g.timeout_s, &rep) < 0) {
        b->dead = 1;
        if (!b->rc)
            b->rc = CTL_EXIT_FAIL;
        return;
    }
    if (strcmp(rep.status, "ok") && !b->rc) {
        char where[4200];
        snprintf(where, sizeof where, "%s:%zu", b->file, line);
        b->rc = batch_refused(where, &rep);
    } else if (!strcmp(rep.status, "ok")) {
        b->staged++;
    }
    ctl_buf_free(&rep.body);
}

/* Sends every change line of text; 0, or the exit status of the first line that failed here
 * (a refusal by the daemon is in b->rc once the replies in flight are read). */
static int batch_send_lines(batch_t *b, ctl_buf_t *text, const char *dir)
{
    static ctl_req_t req;
    size_t lineno = 0;
    char *p = (char *)text->p, *end = p + text->len;
    while (!b->rc && p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char where[4200], line[ETLS_PROTO_MAX_LINE + 1];
        lineno++;
        snprintf(where, sizeof where, "%s:%zu", b->file, lineno);
        if (len > ETLS_PROTO_MAX_LINE)
            return fprintf(stderr, "%s: line longer than %d bytes\n", where, ETLS_PROTO_MAX_LINE), CTL_EXIT_USAGE;
        memcpy(line, p, len);
        line[len] = 0;
        p += len + (nl ? 1 : 0);
        size_t k = strspn(line, " \t\r");
        if (!line[k] || line[k] == '#')
            continue;
        if (memchr(line, 0, len))
            return fprintf(stderr, "%s: NUL byte in the line\n", where), CTL_EXIT_USAGE;
        int rc = batch_line(line, dir, &req, where);
        if (rc)
            return rc;
        while (b->n == BATCH_WINDOW && !b->rc)
            batch_reap(b);
        if (!b->rc) {
            rc = ctl_send(&b->conn, &req) < 0 ? CTL_EXIT_FAIL : 0;
            b->ring[(b->head + b->n++) % BATCH_WINDOW] = lineno;
        }
        for (size_t i = 0; i < req.n_payloads; i++)
            ctl_buf_free(&req.payload[i]);
        if (rc)
            return rc;
    }
    return 0;
}

static int run_batch(const ctl_cmd_t *c, int argc, char **argv)
{
    ctl_args_t a;
    int rc = parse_args(c, &a, argc, argv);
    if (rc)
        return rc < 0 ? CTL_EXIT_OK : rc;
    static batch_t b;
    memset(&b, 0, sizeof b);
    b.file = a.pos[0];
    ctl_buf_t text = {0};
    if (ctl_read_file(strcmp(b.file, "-") ? b.file : "/dev/stdin", BATCH_MAX_FILE, 0, &text) < 0)
        return CTL_EXIT_FAIL;
    char dir[4096] = "";
    const char *slash = strcmp(b.file, "-") ? strrchr(b.file, '/') : NULL;
    if (slash)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - b.file), b.file);
    if (slash && !dir[0])
        snprintf(dir, sizeof dir, "/");
    ctl_reply_t rep = {0};
    if (ctl_open(&b.conn, g.socket, g.timeout_s) < 0) {
        ctl_buf_free(&text);
        return CTL_EXIT_FAIL;
    }
    rc = batch_simple(&b.conn, "begin", &rep) < 0 ? CTL_EXIT_FAIL : strcmp(rep.status, "ok") ? batch_refused(b.file, &rep) : 0;
    ctl_buf_free(&rep.body);
    if (rc) {
        ctl_buf_free(&text);
        ctl_close(&b.conn);
        return rc;
    }
    int local = batch_send_lines(&b, &text, dir);
    ctl_buf_free(&text);
    while (b.n)
        batch_reap(&b);
    rc = b.rc ? b.rc : local; /* a refused line before the one that failed here comes first */
    if (rc == 0) {
        /* Committing N entries writes them all: give it time in proportion (4 ms each). */
        static ctl_req_t req;
        memset(&req, 0, sizeof req);
        line_add(&req, "commit batch%s\n", g.json ? " --json" : "");
        if (ctl_send(&b.conn, &req) < 0 || ctl_recv(&b.conn, g.timeout_s + (int)(b.staged / 250), &rep) < 0)
            rc = CTL_EXIT_FAIL;
        else if (strcmp(rep.status, "ok"))
            rc = batch_refused(b.file, &rep);
        else
            rc = handle_reply(&req, &rep);
        ctl_buf_free(&rep.body);
    } else if (!b.dead) {
        if (batch_simple(&b.conn, "abort", &rep) == 0)
            fprintf(stderr, "edgetlsctl: batch aborted after %zu staged changes: nothing committed\n", b.staged);
        ctl_buf_free(&rep.body);
    } else {
        fprintf(stderr, "edgetlsctl: the connection failed after %zu staged changes: nothing committed\n", b.staged);
    }
    ctl_close(&b.conn);
    return rc;
}

static int run(const ctl_cmd_t *c, int argc, char **argv)
{
    ctl_args_t a;
    int rc = parse_args(c, &a, argc, argv);
    if (rc)
        return rc < 0 ? CTL_EXIT_OK : rc;
    static ctl_req_t req; /* 8 KiB line: not on the stack */
    rc = c->build(&a, &req);
    if (rc == 0 && g.json)
        line_add(&req, " --json");
    if (rc == 0 && req.overflow)
        rc = usage_error(c, "the request is longer than %d bytes", ETLS_PROTO_MAX_LINE);
    if (rc == 0) {
        req.line[req.line_len++] = '\n';
        ctl_reply_t rep;
        int t = req.wait_s > g.timeout_s ? req.wait_s : g.timeout_s;
        rc = ctl_exchange(g.socket, t, &req, &rep) < 0 ? CTL_EXIT_FAIL : handle_reply(&req, &rep);
        ctl_buf_free(&rep.body);
    }
    for (size_t i = 0; i < req.n_payloads; i++)
        ctl_buf_free(&req.payload[i]);
    return rc;
}

/* Options before the command. Returns the index of the command word, or -exit status. */
static int parse_global(int argc, char **argv)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *s = argv[i], *v = NULL;
        if (is_help(s))
            return -help_main();
        if (strcmp(s, "--json") == 0) {
            g.json = 1;
            continue;
        }
        size_t n = strncmp(s, "--socket", 8) == 0 ? 8 : strncmp(s, "--timeout", 9) == 0 ? 9 : 0;
        if (n && s[n] == '=')
            v = s + n + 1;
        else if (n && !s[n] && i + 1 < argc)
            v = argv[++i];
        else if (!n || s[n])
            return -usage_error(NULL, "unknown option '%s'", s);
        if (!v)
            return -usage_error(NULL, "%s needs a value", s);
        if (n == 8 && !*v)
            return -usage_error(NULL, "--socket needs a path");
        if (n == 9 && !seconds_ok(v))
            return -usage_error(NULL, "--timeout wants whole seconds 1..%d, got '%s'", MAX_SECONDS, v);
        if (n == 8)
            g.socket = v;
        else
            g.timeout_s = atoi(v);
    }
    if (i == argc)
        return -usage_error(NULL, "no command given");
    return i;
}

int main(int argc, char **argv)
{
    const char *env = getenv("EDGETLS_ADMIN_SOCKET");
    g.socket = env && *env ? env : DEFAULT_SOCKET;
    int i = parse_global(argc, argv);
    if (i <= 0)
        return -i;
    if (strcmp(argv[i], "help") == 0)
        return help_words(argc - i - 1, argv + i + 1);
    const ctl_cmd_t *c = find_cmd(commands, argv[i]);
    if (!c)
        return usage_error(NULL, "unknown command '%s'", argv[i]);
    if (c->sub) {
        if (i + 1 == argc)
            return usage_error(c, "which %s command?", c->path);
        if (is_help(argv[i + 1]))
            return help_cmd(c);
        const ctl_cmd_t *s = find_cmd(c->sub, argv[i + 1]);
        if (!s)
            return usage_error(c, "unknown command '%s'", argv[i + 1]);
        c = s;
        i++;
    }
    if (!c->build)
        return run_batch(c, argc - i - 1, argv + i + 1);
    return run(c, argc - i - 1, argv + i + 1);
}
