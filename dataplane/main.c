/* edgetls: the dataplane executable. Parses the configuration, builds the shared read-only
 * state (TLS server context, HTTP responses), starts one pinned worker per core and then only
 * handles signals: SIGTERM/SIGINT graceful shutdown, SIGUSR1 stats.
 * Exit status: 0 after a clean shutdown, 1 on a runtime failure, 2 on a bad configuration. */
#include "common/ct.h"
#include "common/err.h"
#include "config/config.h"
#include "common/stop.h"
#include "ctl/ctl.h"
#include "crypto/pk.h"
#include "crypto/rand.h"
#include "http/http.h"
#include "io/uring.h"
#include "tls/tls.h"
#include "worker/worker.h"
#ifdef ETLS_HAVE_DPDK
#include "dpdk/dpdk.h"
#endif

#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#ifndef ETLS_VERSION
#define ETLS_VERSION "dev"
#endif

#define EXIT_CONFIG 2

static int cert_fail(const etls_config_t *cfg, const etls_config_cert_t *ct, const char *what)
{
    if (ct->line)
        fprintf(stderr, "edgetls: %s:%d: [cert]: %s\n", cfg->source, ct->line, what);
    else
        fprintf(stderr, "edgetls: command line: --cert %s: %s\n", ct->chain, what);
    return ETLS_ERR_INVALID;
}

/* "a\0*.b\0\0" from the configured names minus "default"; NULL (names from the leaf) when none. */
static const char *cert_names(const etls_config_cert_t *ct, char *buf, size_t cap, int *is_default)
{
    size_t n = 0;
    *is_default = 0;
    for (size_t i = 0; i < ct->nnames; i++) {
        if (!strcmp(ct->names[i], "default")) {
            *is_default = 1;
            continue;
        }
        size_t l = strlen(ct->names[i]) + 1;
        if (n + l + 1 > cap)
            break;
        memcpy(buf + n, ct->names[i], l);
        n += l;
    }
    buf[n] = 0;
    return n ? buf : NULL;
}

static int load_cert(etls_tls_server_ctx_t *ctx, const etls_config_t *cfg, const etls_config_cert_t *ct)
{
    char err[256], names[ETLS_CONFIG_MAX_NAMES * ETLS_CONFIG_NAME_MAX + 1];
    etls_cert_chain_t chain;
    etls_pkey_t *key = NULL;
    memset(&chain, 0, sizeof chain);
    int perm = etls_pkey_file_check_mode(ct->key, err, sizeof err);
    if (perm < 0)
        return cert_fail(cfg, ct, err);
    if (perm == 1)
        fprintf(stderr, "edgetls: warning: %s\n", err);
    if (etls_cert_chain_load_file(&chain, ct->chain, err, sizeof err) < 0)
        return cert_fail(cfg, ct, err);
    if (etls_pkey_load_file(&key, ct->key, err, sizeof err) < 0) {
        etls_cert_chain_free(&chain);
        return cert_fail(cfg, ct, err);
    }
    int is_default;
    const char *list = cert_names(ct, names, sizeof names, &is_default);
    if (etls_tls_server_ctx_add_cert_names(ctx, &chain, key, list, is_default, err, sizeof err) < 0)
        return cert_fail(cfg, ct, err);
    return 0;
}

/* The ticket seed: 64 hex digits (e.g. `openssl rand -hex 32`) in a file only its owner can
 * read, like a private key; whitespace around them is ignored. */
static int read_ticket_seed(const char *path, uint8_t seed[32], char *err, size_t errlen)
{
    int perm = etls_pkey_file_check_mode(path, err, errlen);
    if (perm < 0)
        return -1;
    if (perm == 1)
        fprintf(stderr, "edgetls: warning: %s\n", err);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char text[130];
    size_t n = fread(text, 1, sizeof text - 1, f);
    int more = fgetc(f) != EOF;
    fclose(f);
    text[n] = 0;
    char *p = text;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    size_t digits = 0;
    while (isxdigit((unsigned char)p[digits]))
        digits++;
    char *rest = p + digits;
    while (*rest == ' ' || *rest == '\t' || *rest == '\n' || *rest == '\r')
        rest++;
    int ok = !more && digits == 64 && *rest == 0;
    for (size_t i = 0; ok && i < 32; i++) {
        unsigned v;
        sscanf(p + 2 * i, "%2x", &v);
        seed[i] = (uint8_t)v;
    }
    etls_wipe(text, sizeof text);
    if (!ok) {
        snprintf(err, errlen, "%s: expected 64 hex digits (32 bytes, e.g. from `openssl rand -hex 32`)", path);
        return -1;
    }
    return 0;
}

/* Session tickets: keys derived per rotation period from a seed (see tls.h), so workers share
 * nothing but the read-only context and restarts or other hosts with the same file agree. */
static int setup_tickets(etls_tls_server_ctx_t *ctx, const etls_config_t *cfg)
{
    uint8_t seed[32];
    char err[300];
    const char *where = cfg->source[0] ? cfg->source : "command line";
    if (!cfg->session_tickets)
        return 0;
    if (cfg->ticket_key_file[0]) {
        if (read_ticket_seed(cfg->ticket_key_file, seed, err, sizeof err) < 0) {
            fprintf(stderr, "edgetls: %s: ticket_key_file: %s\n", where, err);
            return ETLS_ERR_INVALID;
        }
    } else {
        etls_rand_t rng;
        etls_rand_init(&rng);
        int rc = etls_rand_bytes(&rng, seed, sizeof seed);
        etls_rand_wipe(&rng);
        if (rc < 0) {
            fprintf(stderr, "edgetls: session tickets: %s\n", etls_strerror(rc));
            return rc;
        }
    }
    int rc = etls_tls_server_ctx_set_ticket_seed(ctx, seed, cfg->ticket_rotation_s);
    etls_wipe(seed, sizeof seed);
    if (rc < 0)
        fprintf(stderr, "edgetls: %s: ticket_rotation: %s\n", where, etls_strerror(rc));
    return rc;
}

/* `ciphers` lists TLS 1.3 and TLS 1.2 suites together; each version takes its own, in the
 * listed order, and keeps the engine's defaults when the list names none of its suites. */
static int setup_suites(etls_tls_server_ctx_t *ctx, const etls_config_t *cfg, const char *where)
{
    uint16_t s13[ETLS_CONFIG_MAX_SUITES], s12[ETLS_CONFIG_MAX_SUITES];
    size_t n13 = 0, n12 = 0;
    for (size_t i = 0; i < cfg->nsuites; i++) {
        if (etls_tls_suite_is12(cfg->suites[i]))
            s12[n12++] = cfg->suites[i];
        else
            s13[n13++] = cfg->suites[i];
    }
    if (n13 && etls_tls_server_ctx_set_suites(ctx, s13, n13) < 0) {
        fprintf(stderr, "edgetls: %s: ciphers: implemented are the TLS 1.3 suites "
                        "TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256, "
                        "TLS_AES_128_CCM_SHA256, TLS_AES_128_CCM_8_SHA256 and the TLS 1.2 ECDHE-ECDSA/"
                        "ECDHE-RSA suites with AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305\n", where);
        return ETLS_ERR_INVALID;
    }
    if (n12 && etls_tls_server_ctx_set_suites12(ctx, s12, n12) < 0)
        return ETLS_ERR_INVALID;
    if (etls_tls_server_ctx_set_protocols(ctx, cfg->protocols ? cfg->protocols : 3) < 0)
        return ETLS_ERR_INVALID;
    ctx->tls12_require_ems = cfg->tls12_require_ems;
    ctx->tls12_rsa_kx = cfg->tls12_rsa_kx;
    return 0;
}

/* client_auth policies live as long as the process (contexts and snapshots point at them). */
static etls_tls_client_auth_t *client_policies[ETLS_CONFIG_MAX_LISTENERS + ETLS_CONFIG_MAX_CERTS];
static size_t n_client_policies;

static void free_client_policies(void)
{
    for (size_t i = 0; i < n_client_policies; i++)
        etls_tls_client_auth_free(client_policies[i]);
    n_client_policies = 0;
}

/* A section's policy: NULL when it sets nothing, the "off" policy for client_auth off. */
static int client_policy(const etls_config_t *cfg, int line, const etls_config_client_auth_t *ca,
                         const etls_tls_client_auth_t **out)
{
    char err[600];
    etls_tls_client_auth_t *a;
    *out = !ca->set ? NULL : ca->mode == ETLS_TLS_CLIENT_AUTH_OFF ? etls_tls_client_auth_off() : NULL;
    if (!ca->set || ca->mode == ETLS_TLS_CLIENT_AUTH_OFF)
        return 0;
    if (etls_tls_client_auth_new_file(&a, ca->mode, ca->ca, ca->crl, ca->depth_set ? ca->depth : 4,
                                      err, sizeof err) < 0) {
        if (line > 0)
            fprintf(stderr, "edgetls: %s:%d: client_auth: %s\n", cfg->source, line, err);
        else
            fprintf(stderr, "edgetls: client_auth: %s\n", err);
        return ETLS_ERR_INVALID;
    }
    if (!n_client_policies)
        atexit(free_client_policies);
    client_policies[n_client_policies++] = a;
    *out = a;
    return 0;
}

static int setup_client_auth(etls_tls_server_ctx_t *ctx, const etls_config_t *cfg)
{
    const etls_tls_client_auth_t *a;
    for (size_t i = 0; i < cfg->nlisteners && i < ETLS_TLS_MAX_LISTENERS; i++) {
        ETLS_GUARD(client_policy(cfg, cfg->listeners[i].line, &cfg->listeners[i].client, &a));
        ETLS_GUARD(etls_tls_server_ctx_set_client_auth(ctx, (unsigned)i, a));
    }
    /* [cert] settings apply to the configuration's certificates (loaded in order) */
    for (size_t i = 0; !cfg->control_socket[0] && i < cfg->ncerts; i++) {
        ETLS_GUARD(client_policy(cfg, cfg->certs[i].line, &cfg->certs[i].client, &a));
        if (a)
            ETLS_GUARD(etls_tls_server_ctx_set_cert_client_auth(ctx, i, a));
    }
    return 0;
}

static int build_tls(etls_tls_server_ctx_t *ctx, const etls_config_t *cfg)
{
    etls_rand_t rng;
    etls_rand_init(&rng);
    int rc = etls_tls_server_ctx_init(ctx, &rng);
    etls_rand_wipe(&rng);
    if (rc < 0) {
        fprintf(stderr, "edgetls: TLS context: %s\n", etls_strerror(rc));
        return rc;
    }
    const char *where = cfg->source[0] ? cfg->source : "command line";
    if (setup_suites(ctx, cfg, where) < 0)
        return ETLS_ERR_INVALID;
    if (cfg->ngroups && etls_tls_server_ctx_set_groups(ctx, cfg->groups, cfg->ngroups) < 0) {
        fprintf(stderr, "edgetls: %s: groups: only x25519mlkem768, x25519 and secp256r1 are implemented\n", where);
        return ETLS_ERR_INVALID;
    }
    if (cfg->alpn_len) {
        char names[ETLS_TLS_MAX_ALPN][256];
        const char *ptrs[ETLS_TLS_MAX_ALPN];
        size_t n = 0;
        for (size_t off = 0; off < cfg->alpn_len && n < ETLS_TLS_MAX_ALPN; n++) {
            size_t l = cfg->alpn[off];
            memcpy(names[n], cfg->alpn + off + 1, l);
            names[n][l] = 0;
            ptrs[n] = names[n];
            off += 1 + l;
        }
        if (etls_tls_server_ctx_set_alpn(ctx, ptrs, n) < 0) {
            fprintf(stderr, "edgetls: %s: alpn: at most %d protocols\n", where, ETLS_TLS_MAX_ALPN);
            return ETLS_ERR_INVALID;
        }
    }
    /* With a control plane the certificates come from its snapshots; this context is only
     * their template (settings and the ticket policy). */
    for (size_t i = 0; !cfg->control_socket[0] && i < cfg->ncerts; i++)
        ETLS_GUARD(load_cert(ctx, cfg, &cfg->certs[i]));
    ETLS_GUARD(setup_client_auth(ctx, cfg));
    return setup_tickets(ctx, cfg);
}

/* CPUs this process may run on, in order (the affinity mask, e.g. from taskset). */
static size_t allowed_cpus(int *cpus, size_t cap)
{
    cpu_set_t set;
    size_t n = 0;
    if (sched_getaffinity(0, sizeof set, &set) < 0)
        return 0;
    for (int i = 0; i < CPU_SETSIZE && n < cap; i++)
        if (CPU_ISSET(i, &set))
            cpus[n++] = i;
    return n;
}

static void print_stats(etls_worker_t **ws, unsigned n)
{
    etls_worker_stats_t st;
    for (unsigned i = 0; i < n; i++) {
        etls_worker_stats(ws[i], &st);
        etls_worker_stats_print(stderr, i, &st);
    }
    fflush(stderr);
}

/* ctl thread hooks: the workers' counters as "worker.N.key value" lines, and drain. */
struct ctl_arg {
    etls_worker_t **ws;
    unsigned n;
};

static void put_snap(void *out, const char *s, size_t n)
{
    etls_snap_put(out, s, n);
}

/* Gathered on request from the workers' own counters (relaxed loads; the workers never wait). */
static void ctl_stats(void *arg, etls_snap_buf_t *out)
{
    const struct ctl_arg *a = arg;
    etls_worker_stats_t *st = malloc(sizeof *st); /* ~40 KiB: off the ctl thread's stack */
    for (unsigned i = 0; st && i < a->n; i++) {
        etls_worker_stats(a->ws[i], st);
        etls_worker_stats_format(st, i, put_snap, out);
    }
    free(st);
}

static void ctl_log_level(void *arg, int level)
{
    (void)arg;
    if (level >= ETLS_LOG_ERROR && level <= ETLS_LOG_DEBUG)
        etls_log_level_set(level);
}

static void ctl_wake(void *arg)
{
    const struct ctl_arg *a = arg;
    for (unsigned i = 0; i < a->n; i++)
        etls_worker_wake(a->ws[i]);
}

/* A drain pushed by the control plane is a SIGTERM with the drain's timeout in place of
 * shutdown_timeout: the same graceful stop for both transports. */
static void ctl_drain(void *arg, uint32_t timeout_ms)
{
    (void)arg;
    etls_drain_set_timeout(timeout_ms);
    kill(getpid(), SIGTERM);
}

static void announce(const etls_config_t *cfg, unsigned n)
{
    if (cfg->log_level < ETLS_LOG_INFO)
        return;
    fprintf(stderr, "edgetls: %s mode, %u worker%s, listening on", etls_mode_name(cfg->mode), n, n > 1 ? "s" : "");
    for (size_t l = 0; l < cfg->nlisteners; l++)
        fprintf(stderr, " %s%s", cfg->listeners[l].addr.text, cfg->listeners[l].tls ? "" : " (plaintext)");
    fprintf(stderr, "\n");
    fflush(stderr);
}

/* The main thread's only job once the workers run: stats on SIGUSR1, stop on SIGTERM/SIGINT. */
static void serve_signals(const sigset_t *sigs, etls_worker_t **ws, unsigned n)
{
    for (;;) {
        int sig = sigwaitinfo(sigs, NULL);
        if (sig == SIGUSR1)
            print_stats(ws, n);
        else if (sig == SIGTERM || sig == SIGINT)
            return;
    }
}

/* Each connection needs one descriptor (two in proxy mode): raise the soft limit to the hard
 * one and warn when even that cannot cover max_connections on every worker. */
static void raise_fd_limit(const etls_config_t *cfg, unsigned workers)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    uint64_t need = (uint64_t)cfg->max_connections * workers * (cfg->mode == ETLS_MODE_PROXY ? 2 : 1) + 64;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need && cfg->log_level >= ETLS_LOG_WARN)
        fprintf(stderr, "edgetls: warning: open-file limit %llu is below the %llu descriptors that "
                        "max_connections x workers may need; accepts will back off when it is reached\n",
                (unsigned long long)rl.rlim_cur, (unsigned long long)need);
}

unsigned worker_count(const etls_config_t *cfg);
unsigned worker_count(const etls_config_t *cfg)
{
    int cpus[CPU_SETSIZE];
    size_t ncpu = allowed_cpus(cpus, CPU_SETSIZE);
    return cfg->workers ? cfg->workers : (unsigned)(ncpu ? ncpu : 1);
}

static int run(const etls_config_t *cfg, const etls_worker_shared_t *sh, etls_ctl_t *ctl)
{
    int cpus[CPU_SETSIZE];
    size_t ncpu = allowed_cpus(cpus, CPU_SETSIZE);
    unsigned n = worker_count(cfg);
    etls_worker_t **ws = calloc(n, sizeof *ws);
    if (!ws)
        return 1;
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* workers inherit the mask: main handles them */
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit(cfg, n);
    char err[600];
    unsigned started = 0;
    for (; started < n; started++) {
        int cpu = cfg->ncpus ? cfg->cpus[started % cfg->ncpus] : ncpu ? cpus[started % ncpu] : -1;
        if (etls_worker_start(&ws[started], sh, started, cpu, err, sizeof err) < 0) {
            fprintf(stderr, "edgetls: %s\n", err);
            break;
        }
    }
    int status = started < n;
    struct ctl_arg carg = {.ws = ws, .n = n};
    etls_ctl_hooks_t hooks = {.stats = ctl_stats, .drain = ctl_drain, .log_level = ctl_log_level, .wake = ctl_wake,
                              .arg = &carg};
    if (!status && ctl && etls_ctl_start(ctl, &hooks) < 0) {
        fprintf(stderr, "edgetls: cannot start the control thread\n");
        status = 1;
    }
    if (!status) {
        announce(cfg, n);
        serve_signals(&sigs, ws, n);
        fprintf(stderr, "edgetls: shutting down (up to %u ms for open connections)\n",
                etls_stop_timeout_ms(cfg->shutdown_timeout_ms));
    }
    etls_ctl_free(ctl); /* before the workers go: its stats hook reads them */
    for (unsigned i = 0; i < started; i++)
        etls_worker_stop(ws[i]);
    for (unsigned i = 0; i < started; i++) {
        etls_worker_stats_t st;
        etls_worker_join(ws[i], &st); /* final figures, after the worker drained */
        if (status == 0)
            etls_worker_stats_print(stderr, i, &st);
    }
    free(ws);
    return status;
}

/* The DPDK transport gets argv[0] and everything after "--" (EAL arguments, then its own
 * options after a second "--"); it runs its workers and handles signals itself. */
#ifdef ETLS_HAVE_DPDK
/* The DPDK workers' lines, same keys as ctl_stats. The ctl thread runs before the workers exist
 * and after they are freed (etls_ctl_free comes after etls_dpdk_run): the DPDK module puts only
 * the workers it has published as set up, and withdraws them before its teardown. */
static void ctl_stats_dpdk(void *arg, etls_snap_buf_t *out)
{
    (void)arg;
    etls_dpdk_stats_format(put_snap, out);
}
#endif

static int run_dpdk(const etls_worker_shared_t *sh, int argc, char **argv, int rest, etls_ctl_t *ctl)
{
#ifdef ETLS_HAVE_DPDK
    /* No wake hook: the poll loops adopt a new snapshot at their next iteration anyway. */
    etls_ctl_hooks_t hooks = {.stats = ctl_stats_dpdk, .drain = ctl_drain, .log_level = ctl_log_level};
    if (ctl && etls_ctl_start(ctl, &hooks) < 0) {
        fprintf(stderr, "edgetls: cannot start the control thread\n");
        return 1;
    }
    int n = rest ? argc - rest : 0;
    char **args = calloc((size_t)n + 2, sizeof *args);
    if (!args)
        return 1;
    args[0] = argv[0];
    for (int i = 0; i < n; i++)
        args[i + 1] = argv[rest + i];
    int status = etls_dpdk_run(sh, n + 1, args);
    etls_ctl_free(ctl);
    free(args);
    return status;
#else
    etls_ctl_free(ctl);
    (void)sh;
    (void)argc;
    (void)argv;
    (void)rest;
    fprintf(stderr, "edgetls: this build has no DPDK transport (libdpdk was not found when it "
                    "was configured; see meson option -Ddpdk)\n");
    return EXIT_CONFIG;
#endif
}

int main(int argc, char **argv)
{
    static etls_config_t cfg; /* large: not on the stack */
    etls_cli_t cli;
    char err[1024];
    if (etls_config_from_args(&cfg, &cli, argc, argv, err, sizeof err) < 0) {
        fprintf(stderr, "edgetls: %s\n", err);
        return EXIT_CONFIG;
    }
    if (cli.help) {
        etls_config_usage(stdout, argv[0]);
        return 0;
    }
    if (cli.version) {
        printf("edgetls %s\n", ETLS_VERSION);
        return 0;
    }
    int need_tls = 0;
    for (size_t i = 0; i < cfg.nlisteners; i++)
        need_tls |= cfg.listeners[i].tls;
    etls_tls_server_ctx_t *tls = NULL;
    if (need_tls) {
        tls = calloc(1, sizeof *tls);
        if (!tls || build_tls(tls, &cfg) < 0) {
            if (tls)
                etls_tls_server_ctx_free(tls);
            free(tls);
            return EXIT_CONFIG;
        }
    }
    if (cli.check) {
        printf("edgetls: configuration ok\n");
        if (tls)
            etls_tls_server_ctx_free(tls);
        free(tls);
        return 0;
    }
    int status = 1;
    etls_http_responder_t http;
    if (cfg.transport == ETLS_TRANSPORT_IO_URING && etls_io_probe(err, sizeof err) < 0) {
        fprintf(stderr, "edgetls: %s\n", err);
    } else if (etls_http_responder_init(&http, cfg.body, cfg.body_len) < 0) {
        fprintf(stderr, "edgetls: out of memory\n");
    } else {
        etls_http_responder_set_sizes(&http, cfg.response_size, cfg.response_size_max);
        static etls_snap_pub_t pub; /* large, and outlives the workers */
        etls_worker_shared_t sh = {.cfg = &cfg, .tls = tls, .http = &http};
        etls_ctl_t *ctl = NULL;
        if (cfg.control_socket[0] && tls) {
            if (etls_ctl_open(&ctl, cfg.control_socket, cfg.state_dir, tls, &pub, worker_count(&cfg),
                              cfg.transport == ETLS_TRANSPORT_DPDK, 3000, (int)cfg.log_level, err, sizeof err) < 0) {
                fprintf(stderr, "edgetls: %s\n", err);
                etls_http_responder_free(&http);
                etls_tls_server_ctx_free(tls);
                free(tls);
                return 1;
            }
            pub.n_workers = cfg.transport == ETLS_TRANSPORT_DPDK ? 0 : worker_count(&cfg);
            sh.tls = &etls_snap_current(&pub)->tls; /* sizes the workers' buffers */
            sh.snap = &pub;
        }
        status = cfg.transport == ETLS_TRANSPORT_DPDK ? run_dpdk(&sh, argc, argv, cli.rest, ctl)
                                                      : run(&cfg, &sh, ctl);
        etls_snap_pub_free(&pub);
        etls_http_responder_free(&http);
    }
    if (tls)
        etls_tls_server_ctx_free(tls);
    free(tls);
    return status;
}
