/* Command-line flags and semantic validation of a parsed configuration. */
#include "config/config.h"

#include "common/err.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* "file:line: " for items from the file, "command line: " for items from flags. */
__attribute__((format(printf, 5, 6))) static int verr(const etls_config_t *c, int line, char *err,
                                                      size_t errlen, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(err, errlen, "%s:%d: %s", c->source, line, msg);
    else if (c->source[0] && line < 0)
        snprintf(err, errlen, "%s: %s", c->source, msg);
    else
        snprintf(err, errlen, "command line: %s", msg);
    return ETLS_ERR_INVALID;
}

static int check_file(const etls_config_t *c, int line, const char *what, const char *path,
                      char *err, size_t errlen)
{
    if (access(path, R_OK) != 0)
        return verr(c, line, err, errlen, "%s: cannot read '%s': %s", what, path, strerror(errno));
    return 0;
}

static int validate_listeners(const etls_config_t *c, char *err, size_t errlen)
{
    if (c->nlisteners == 0)
        return verr(c, -1, err, errlen, "no listener: add a [listener] section or --listen ADDR");
    for (size_t i = 0; i < c->nlisteners; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->listeners[i].addr.text, c->listeners[j].addr.text))
                return verr(c, c->listeners[i].line, err, errlen,
                            "duplicate listener %s (first declared %s%d)", c->listeners[i].addr.text,
                            c->listeners[j].line ? "at line " : "on the command line", c->listeners[j].line);
    return 0;
}

static int validate_certs(const etls_config_t *c, char *err, size_t errlen)
{
    int need = 0;
    for (size_t i = 0; i < c->nlisteners; i++)
        need |= c->listeners[i].tls;
    if (need && c->ncerts == 0 && !c->control_socket[0])
        return verr(c, -1, err, errlen,
                    "mode %s with a TLS listener needs a certificate: add a [cert] section or "
                    "--cert FILE --key FILE",
                    etls_mode_name(c->mode));
    for (size_t i = 0; i < c->ncerts; i++) {
        const etls_config_cert_t *ct = &c->certs[i];
        ETLS_GUARD(check_file(c, ct->line, "chain", ct->chain, err, errlen));
        ETLS_GUARD(check_file(c, ct->line, "key", ct->key, err, errlen));
        for (size_t n = 0; n < ct->nnames; n++)
            for (size_t j = 0; j <= i; j++)
                for (size_t m = 0; m < (j == i ? n : c->certs[j].nnames); m++)
                    if (!strcmp(ct->names[n], c->certs[j].names[m]))
                        return verr(c, ct->line, err, errlen, "name '%s' already used by the [cert] %s%d",
                                    ct->names[n], c->certs[j].line ? "at line " : "from the command line ",
                                    c->certs[j].line);
    }
    return 0;
}

static int is_rsa_kx(uint16_t suite)
{
    return suite == 0x009c || suite == 0x009d;
}

/* The legacy RSA key exchange is opt-in twice over: tls12_rsa_kx on, and (when ciphers names
 * TLS 1.2 suites at all) its suites in ciphers; each without the other is a mistake. */
static int validate_tls12(const etls_config_t *c, char *err, size_t errlen)
{
    int rsa = 0, other12 = 0;
    for (size_t i = 0; i < c->nsuites; i++) {
        rsa |= is_rsa_kx(c->suites[i]);
        other12 |= !is_rsa_kx(c->suites[i]) && !(c->suites[i] >= 0x1301 && c->suites[i] <= 0x1305);
    }
    if (rsa && !c->tls12_rsa_kx)
        return verr(c, -1, err, errlen,
                    "ciphers: AES128-GCM-SHA256/AES256-GCM-SHA384 (TLS_RSA_WITH_AES_*_GCM_*) are the "
                    "legacy RSA key exchange, without forward secrecy: enable them with "
                    "'tls12_rsa_kx on' (--tls12-rsa-kx on) or remove them");
    if (c->tls12_rsa_kx && !(c->protocols & 1))
        return verr(c, -1, err, errlen, "tls12_rsa_kx on needs tls1.2 in protocols");
    if (c->tls12_rsa_kx && other12 && !rsa)
        return verr(c, -1, err, errlen,
                    "tls12_rsa_kx on, but ciphers lists TLS 1.2 suites without AES128-GCM-SHA256 or "
                    "AES256-GCM-SHA384: add them where they belong in the order");
    return 0;
}

/* A section's client certificate keys: a CA file with optional/required, readable files, and
 * no CA or CRL where nothing requests certificates (a likely mistake). The files' contents are
 * checked when they load (main.c, also under --check). */
static int validate_client(const etls_config_t *c, int line, const char *sec,
                           const etls_config_client_auth_t *a, char *err, size_t errlen)
{
    int on = a->mode > 0;
    if (on && !a->ca[0])
        return verr(c, line, err, errlen, "[%s] client_auth %s needs client_ca FILE (the trust anchors)",
                    sec, a->mode == 2 ? "required" : "optional");
    if (!on && (a->ca[0] || a->crl[0] || a->depth_set))
        return verr(c, line, err, errlen, "[%s] client_ca, client_crl or client_verify_depth without "
                    "client_auth optional or required", sec);
    if (on)
        ETLS_GUARD(check_file(c, line, "client_ca", a->ca, err, errlen));
    if (on && a->crl[0])
        ETLS_GUARD(check_file(c, line, "client_crl", a->crl, err, errlen));
    return 0;
}

static int validate_clients(const etls_config_t *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < c->nlisteners; i++)
        ETLS_GUARD(validate_client(c, c->listeners[i].line, "listener", &c->listeners[i].client, err, errlen));
    for (size_t i = 0; i < c->ncerts; i++)
        ETLS_GUARD(validate_client(c, c->certs[i].line, "cert", &c->certs[i].client, err, errlen));
    return 0;
}

int etls_config_validate(const etls_config_t *c, char *err, size_t errlen)
{
    ETLS_GUARD(validate_listeners(c, err, errlen));
    ETLS_GUARD(validate_tls12(c, err, errlen));
    ETLS_GUARD(validate_certs(c, err, errlen));
    ETLS_GUARD(validate_clients(c, err, errlen));
    if (c->mode == ETLS_MODE_PROXY && c->nbackends == 0)
        return verr(c, -1, err, errlen, "mode proxy needs a backend: add a [backend] section or --backend ADDR");
    if (c->idle_timeout_ms < c->handshake_timeout_ms)
        return verr(c, -1, err, errlen, "idle_timeout (%u ms) is shorter than handshake_timeout (%u ms)",
                    c->idle_timeout_ms, c->handshake_timeout_ms);
    return 0;
}

/* ---- command line ------------------------------------------------------------------------- */

enum {
    OPT_PLAINTEXT = 256,
    OPT_CERT,
    OPT_KEY,
    OPT_SNI,
    OPT_BACKEND,
    OPT_PROXY_PROTOCOL,
    OPT_CHECK,
    OPT_CONTROL, /* --control PATH: the config key control_socket */
    OPT_GLOBAL, /* flags at and after this map onto a global configuration key */
};

/* Long flags that are plain global keys: --max-connections N is "max_connections N". */
static const char *const global_flags[] = {
    "mode", "workers", "cpus", "alpn", "ciphers", "groups", "max-connections", "buffer-size",
    "max-header-size", "handshake-timeout", "idle-timeout", "shutdown-timeout", "uring-entries",
    "log-level", "response-body", "transport", "crypto-batch", "session-tickets",
    "ticket-rotation", "ticket-key-file", "response-size", "response-size-max", "control-socket",
    "state-dir", "protocols", "tls12-require-ems", "tls12-rsa-kx", NULL,
};
#define N_GLOBAL_FLAGS 27

static void build_options(struct option *o)
{
    static const struct option fixed[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'},
        {"plaintext", no_argument, NULL, OPT_PLAINTEXT},
        {"cert", required_argument, NULL, OPT_CERT},
        {"key", required_argument, NULL, OPT_KEY},
        {"sni", required_argument, NULL, OPT_SNI},
        {"backend", required_argument, NULL, OPT_BACKEND},
        {"proxy-protocol", required_argument, NULL, OPT_PROXY_PROTOCOL},
        {"check", no_argument, NULL, OPT_CHECK},
        {"control", required_argument, NULL, OPT_CONTROL},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
    };
    size_t n = sizeof fixed / sizeof fixed[0];
    memcpy(o, fixed, sizeof fixed);
    for (int i = 0; global_flags[i]; i++)
        o[n++] = (struct option){global_flags[i], required_argument, NULL, OPT_GLOBAL + i};
    o[n] = (struct option){NULL, 0, NULL, 0};
}

typedef struct cli_state {
    int listeners_reset, certs_reset, backends_reset, plaintext;
    size_t first_cli_cert, ncerts_cli, nkeys_cli;
    int proxy_v2; /* -1 = as configured */
} cli_state_t;

static int cli_listen(etls_config_t *c, cli_state_t *st, const char *arg, char *err, size_t errlen)
{
    if (!st->listeners_reset) {
        c->nlisteners = 0; /* --listen replaces the file's listeners */
        st->listeners_reset = 1;
    }
    if (c->nlisteners >= ETLS_CONFIG_MAX_LISTENERS)
        return verr(c, 0, err, errlen, "too many listeners (at most %d)", ETLS_CONFIG_MAX_LISTENERS);
    etls_config_listener_t *l = &c->listeners[c->nlisteners];
    memset(l, 0, sizeof *l);
    l->tls = 1;
    if (etls_config_parse_addr(&l->addr, arg) < 0)
        return verr(c, 0, err, errlen, "--listen: bad address '%s' (expected IPv4:port or [IPv6]:port)", arg);
    c->nlisteners++;
    return 0;
}

static int cli_backend(etls_config_t *c, cli_state_t *st, const char *arg, char *err, size_t errlen)
{
    if (!st->backends_reset) {
        c->nbackends = 0;
        st->backends_reset = 1;
    }
    if (c->nbackends >= ETLS_CONFIG_MAX_BACKENDS)
        return verr(c, 0, err, errlen, "too many backends (at most %d)", ETLS_CONFIG_MAX_BACKENDS);
    etls_config_backend_t *b = &c->backends[c->nbackends];
    memset(b, 0, sizeof *b);
    if (etls_config_parse_addr(&b->addr, arg) < 0)
        return verr(c, 0, err, errlen, "--backend: bad address '%s' (expected IPv4:port or [IPv6]:port)", arg);
    c->nbackends++;
    return 0;
}

/* --cert and --key pair up in order; the first one replaces the file's certificates. */
static int cli_cert(etls_config_t *c, cli_state_t *st, int is_key, const char *arg, char *err, size_t errlen)
{
    if (!st->certs_reset) {
        c->ncerts = 0;
        st->certs_reset = 1;
    }
    size_t *count = is_key ? &st->nkeys_cli : &st->ncerts_cli;
    size_t idx = (*count)++;
    if (idx >= ETLS_CONFIG_MAX_CERTS)
        return verr(c, 0, err, errlen, "too many certificates (at most %d)", ETLS_CONFIG_MAX_CERTS);
    if (idx >= c->ncerts) {
        memset(&c->certs[idx], 0, sizeof c->certs[idx]);
        c->ncerts = idx + 1;
    }
    char *dst = is_key ? c->certs[idx].key : c->certs[idx].chain;
    if (strlen(arg) >= ETLS_CONFIG_PATH_MAX)
        return verr(c, 0, err, errlen, "%s: path too long", is_key ? "--key" : "--cert");
    strcpy(dst, arg);
    return 0;
}

static int cli_apply(etls_config_t *c, etls_cli_t *cli, cli_state_t *st, int opt, const char *arg,
                     char *err, size_t errlen)
{
    switch (opt) {
    case 'c': return 0; /* handled in the first pass */
    case 'l': return cli_listen(c, st, arg, err, errlen);
    case OPT_PLAINTEXT: st->plaintext = 1; return 0;
    case OPT_CERT: return cli_cert(c, st, 0, arg, err, errlen);
    case OPT_KEY: return cli_cert(c, st, 1, arg, err, errlen);
    case OPT_SNI:
        if (st->ncerts_cli == 0)
            return verr(c, 0, err, errlen, "--sni must follow --cert");
        return etls_config_set_cert_names(c, st->ncerts_cli - 1, arg, err, errlen);
    case OPT_BACKEND: return cli_backend(c, st, arg, err, errlen);
    case OPT_PROXY_PROTOCOL:
        if (strcmp(arg, "v2") && strcmp(arg, "off"))
            return verr(c, 0, err, errlen, "--proxy-protocol: expected v2 or off, got '%s'", arg);
        st->proxy_v2 = !strcmp(arg, "v2");
        return 0;
    case OPT_CHECK: cli->check = 1; return 0;
    case OPT_CONTROL: return etls_config_set_global(c, "control_socket", arg, err, errlen);
    case 'h': cli->help = 1; return 0;
    case 'V': cli->version = 1; return 0;
    default: break;
    }
    if (opt >= OPT_GLOBAL && opt < OPT_GLOBAL + N_GLOBAL_FLAGS) {
        char key[32];
        snprintf(key, sizeof key, "%s", global_flags[opt - OPT_GLOBAL]);
        for (char *p = key; *p; p++)
            if (*p == '-')
                *p = '_';
        return etls_config_set_global(c, key, arg, err, errlen);
    }
    return ETLS_ERR_INVALID;
}

static int cli_finish(etls_config_t *c, cli_state_t *st, char *err, size_t errlen)
{
    if (st->ncerts_cli != st->nkeys_cli)
        return verr(c, 0, err, errlen, "--cert and --key must be given in pairs (%zu --cert, %zu --key)",
                    st->ncerts_cli, st->nkeys_cli);
    if (st->plaintext) {
        if (!st->listeners_reset)
            return verr(c, 0, err, errlen, "--plaintext applies to --listen addresses; none given");
        for (size_t i = 0; i < c->nlisteners; i++)
            c->listeners[i].tls = 0;
    }
    if (st->proxy_v2 >= 0)
        for (size_t i = 0; i < c->nbackends; i++)
            c->backends[i].proxy_v2 = st->proxy_v2;
    return 0;
}

/* Pass 1 finds --config; pass 2 applies every other flag on top of the file. */
int etls_config_from_args(etls_config_t *c, etls_cli_t *cli, int argc, char **argv, char *err,
                          size_t errlen)
{
    struct option opts[40];
    build_options(opts);
    const char *shortopts = ":c:l:hV";
    memset(cli, 0, sizeof *cli);
    etls_config_defaults(c);
    cli_state_t st = {.proxy_v2 = -1};
    const char *config = NULL;
    int opt;
    opterr = 0;
    for (int pass = 0; pass < 2; pass++) {
        optind = 0;
        while ((opt = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
            if (opt == '?')
                return verr(c, 0, err, errlen, "unknown option '%s' (see --help)", argv[optind - 1]);
            if (opt == ':')
                return verr(c, 0, err, errlen, "option '%s' needs a value", argv[optind - 1]);
            if (pass == 0 && opt == 'c')
                config = optarg;
            if (pass == 1)
                ETLS_GUARD(cli_apply(c, cli, &st, opt, optarg, err, errlen));
        }
        if (optind < argc && strcmp(argv[optind - 1], "--") != 0)
            return verr(c, 0, err, errlen, "unexpected argument '%s'", argv[optind]);
        cli->rest = optind < argc ? optind : 0;
        if (pass == 0 && config)
            ETLS_GUARD(etls_config_load_file(c, config, err, errlen));
    }
    ETLS_GUARD(cli_finish(c, &st, err, errlen));
    if (cli->rest && c->transport != ETLS_TRANSPORT_DPDK)
        return verr(c, 0, err, errlen, "arguments after '--' are for the DPDK transport (--transport dpdk)");
    if (cli->help || cli->version)
        return 0;
    return etls_config_validate(c, err, errlen);
}

void etls_config_usage(FILE *f, const char *argv0)
{
    fprintf(f,
            "usage: %s [--config FILE] [options]\n"
            "TLS termination dataplane (io_uring workers). Flags override the configuration file.\n"
            "  -c, --config FILE          configuration file (see conf/edgetls.conf.example)\n"
            "  -l, --listen ADDR          listen on IPv4:port or [IPv6]:port (repeatable)\n"
            "      --plaintext            --listen addresses speak plaintext (testing only)\n"
            "      --cert FILE --key FILE certificate chain and key in PEM (repeatable pairs)\n"
            "      --sni NAMES            SNI names for the preceding --cert (default: its SANs)\n"
            "      --mode MODE            responder | proxy | echo\n"
            "      --backend ADDR         proxy mode backend (repeatable, round-robin)\n"
            "      --proxy-protocol v2|off  PROXY protocol v2 header towards backends\n"
            "      --workers N            worker threads, one per core (default: CPU count)\n"
            "      --cpus LIST            CPUs to pin workers to, e.g. 0,2-3\n"
            "      --alpn LIST --ciphers LIST --groups LIST\n"
            "      --protocols LIST       tls1.2,tls1.3 (default both)\n"
            "      --tls12-require-ems on|off  refuse TLS 1.2 clients without EMS (off)\n"
            "      --tls12-rsa-kx on|off  allow the legacy RSA key exchange suites (off)\n"
            "      --max-connections N --buffer-size SIZE --max-header-size SIZE\n"
            "      --handshake-timeout T --idle-timeout T --shutdown-timeout T  (e.g. 10s, 500ms)\n"
            "      --uring-entries N --log-level error|warn|info|debug --response-body TEXT\n"
            "      --response-size N      responder: N synthetic bytes instead of the body (e.g. 64m)\n"
            "      --response-size-max N  responder: largest GET /bytes/N served (1g; 0..1024g)\n"
            "      --crypto-batch N       crypto batch queue size per worker (1 = unbatched; 64)\n"
            "      --session-tickets on|off  issue and accept TLS 1.3 session tickets (on)\n"
            "      --ticket-rotation T    ticket key period and ticket lifetime (1h; 60s..7d)\n"
            "      --ticket-key-file F    seed for ticket keys (64 hex digits, mode 0600); shared by\n"
            "                             every process reading it (default: random per process)\n"
            "      --control PATH         certificates and ticket keys from edgetls-control's\n"
            "                             dataplane socket (config key control_socket)\n"
            "      --state-dir DIR        its state directory, served read-only when the socket\n"
            "                             is down at start-up (/var/lib/edgetls)\n"
            "      --check                validate the configuration and exit\n"
            "      --transport io_uring|dpdk  (dpdk: edgetls [flags] --transport dpdk -- [EAL args]\n"
            "                             [-- transport options]; see dataplane/dpdk/dpdk.h)\n"
            "  -h, --help  -V, --version\n"
            "Signals: SIGTERM/SIGINT graceful shutdown, SIGUSR1 prints per-worker stats.\n"
            "Exit status: 0 ok, 1 runtime failure, 2 bad configuration.\n",
            argv0);
}
