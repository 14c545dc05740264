/* `edgetls-bench hs HOST:PORT [options]`: option parsing and output; the work is in load.c. */
#include "hs.h"

#include "load.h"
#include "report.h"
#include "../dpdk/hs_dpdk.h"

#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void hs_usage(FILE *f)
{
    fprintf(f,
            "usage: edgetls-bench hs HOST:PORT [options]\n"
            "TLS 1.3 (or --tls12: TLS 1.2) handshake load (loopback or your own lab hosts only).\n"
            "  --concurrency C     closed loop: C connections always in flight (default 32)\n"
            "  --rate R            open loop: R new connections/s; latency from the intended start\n"
            "  --max-inflight N    open loop: connection slots over all threads (default 1024)\n"
            "  --duration S        run for S seconds (default 5 when --count is not given)\n"
            "  --count N           stop after N connections (with --duration: whichever first)\n"
            "  --threads N         load threads, each pinned (default 1)\n"
            "  --cpus LIST         CPUs for the threads (default: this process's affinity)\n"
            "  --group x25519|p256 key share group (default x25519)\n"
            "  --suite NAME[,..]   offered suites, e.g. TLS_AES_128_GCM_SHA256 (default that one)\n"
            "  --tls12             TLS 1.2 (ECDHE, extended master secret; --resume: RFC 5077\n"
            "                      tickets); suites IANA or OpenSSL names, default\n"
            "                      ECDHE-ECDSA-AES128-GCM-SHA256,ECDHE-RSA-AES128-GCM-SHA256\n"
            "  --sni a,b,...       server names, spread round-robin over connections\n"
            "  --sni-file FILE     the same from a file: one name per line, '#' comments and blank\n"
            "                      lines skipped; at most 1,000,000 names of 1-253 bytes and 256 MiB;\n"
            "                      thread t's k-th connection sends name (t + k) mod count\n"
            "  --alpn h2,http/1.1  ALPN protocols to offer\n"
            "  --request           one GET per connection, response read to the end of its body\n"
            "  --path P            request path (default /)\n"
            "  --reuse-keyshare    one client key share for every connection (cheaper client)\n"
            "  --resume            resumed handshakes: each thread offers the latest session ticket\n"
            "                      it received (PSK + (EC)DHE; the first connections are full and\n"
            "                      wait for their ticket; the server must issue tickets)\n"
            "  --verify --cacert F verify chain, host name and CertificateVerify against CA file F\n"
            "                      (the leaf must cover the name sent, RFC 6125 wildcards; a\n"
            "                      mismatch is a failed handshake, counted as a protocol error)\n"
            "  --close fin|rst     after close_notify: FIN (default) or RST\n"
            "  --timeout S         per-connection timeout (default 5)\n"
            "  --grace S           time given to in-flight connections at the end (default 1)\n"
            "  --json              print one JSON object on stdout (summary goes to stderr)\n"
            "  --report FILE.html  write a self-contained HTML report\n"
            "  --quiet             no progress line\n"
            "  --dpdk              drive the load from one DPDK lcore over a DPDK port (e.g.\n"
            "                      net_memif) with the project's own TCP: EAL arguments follow a\n"
            "                      '--', DPDK-mode options a second '--' (bench/dpdk/hs_dpdk.h)\n");
}

static int parse_list(const char *s, char *store, size_t cap, const char **items, size_t max)
{
    size_t n = 0;
    if (strlen(s) >= cap)
        return -1;
    strcpy(store, s);
    for (char *save = NULL, *p = strtok_r(store, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        if (n == max)
            return -1;
        items[n++] = p;
    }
    return (int)n;
}

static int parse_suites(etls_cli_cfg_t *c, const char *s)
{
    char buf[256];
    const char *it[ETLS_CLI_MAX_SUITES];
    int n = parse_list(s, buf, sizeof buf, it, ETLS_CLI_MAX_SUITES);
    if (n <= 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (!(c->suites[i] = etls_cli_suite_by_name(it[i])))
            return -1;
    c->n_suites = (size_t)n;
    return 0;
}

static int parse_alpn(etls_cli_cfg_t *c, const char *s)
{
    char buf[ETLS_CLI_ALPN_MAX];
    const char *it[16];
    int n = parse_list(s, buf, sizeof buf, it, 16);
    c->alpn_len = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(it[i]);
        if (!l || l > 255 || c->alpn_len + 1 + l > sizeof c->alpn)
            return -1;
        c->alpn[c->alpn_len] = (uint8_t)l;
        memcpy(c->alpn + c->alpn_len + 1, it[i], l);
        c->alpn_len += 1 + l;
    }
    return n > 0 ? 0 : -1;
}

/* Default CPUs: the process's affinity mask in order (taskset narrows it). */
static void default_cpus(etls_hs_opts_t *o)
{
    cpu_set_t set;
    o->ncpus = 0;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return;
    for (int c = 0; c < CPU_SETSIZE && o->ncpus < ETLS_HS_MAX_THREADS; c++)
        if (CPU_ISSET(c, &set))
            o->cpus[o->ncpus++] = c;
}

enum {
    O_CONC = 256, O_RATE, O_MAXIN, O_DUR, O_COUNT, O_THREADS, O_CPUS, O_GROUP, O_SUITE, O_SNI,
    O_ALPN, O_REQ, O_PATH, O_REUSE, O_VERIFY, O_CACERT, O_CLOSE, O_TIMEOUT, O_GRACE, O_JSON,
    O_REPORT, O_QUIET, O_RESUME, O_HELP, O_DPDK, O_SNI_FILE, O_TLS12
};

static const struct option hs_opts[] = {
    {"concurrency", 1, 0, O_CONC}, {"rate", 1, 0, O_RATE}, {"max-inflight", 1, 0, O_MAXIN},
    {"duration", 1, 0, O_DUR}, {"count", 1, 0, O_COUNT}, {"threads", 1, 0, O_THREADS},
    {"cpus", 1, 0, O_CPUS}, {"group", 1, 0, O_GROUP}, {"suite", 1, 0, O_SUITE},
    {"sni", 1, 0, O_SNI}, {"alpn", 1, 0, O_ALPN}, {"request", 0, 0, O_REQ},
    {"path", 1, 0, O_PATH}, {"reuse-keyshare", 0, 0, O_REUSE}, {"verify", 0, 0, O_VERIFY},
    {"cacert", 1, 0, O_CACERT}, {"close", 1, 0, O_CLOSE}, {"timeout", 1, 0, O_TIMEOUT},
    {"grace", 1, 0, O_GRACE}, {"json", 0, 0, O_JSON}, {"report", 1, 0, O_REPORT},
    {"quiet", 0, 0, O_QUIET}, {"resume", 0, 0, O_RESUME}, {"help", 0, 0, O_HELP}, {"dpdk", 0, 0, O_DPDK},
    {"sni-file", 1, 0, O_SNI_FILE}, {"tls12", 0, 0, O_TLS12}, {0, 0, 0, 0}};

typedef struct hs_cli {
    etls_hs_opts_t o;
    int verify, json, dpdk, suite_given;
    const char *cacert, *report;
    char sni_buf[4096];
    const char *sni_list[ETLS_HS_MAX_SNI];
    char *sni_text;          /* --sni-file: the file, split in place */
    const char **sni_names;  /* --sni-file: pointers into sni_text */
} hs_cli_t;

#define SNI_FILE_MAX_BYTES (256u << 20)
#define SNI_FILE_MAX_NAMES 1000000u

/* --sni-file: one host name per line (blank lines and # comments skipped), each 1..253 bytes of
 * [A-Za-z0-9.-_]; -1 with a message. */
static int read_sni_file(hs_cli_t *c, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "edgetls-bench hs: --sni-file %s: %s\n", path, strerror(errno));
        return -1;
    }
    /* a regular file too large is refused before reading it; pipes are bounded by the loop */
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size > SNI_FILE_MAX_BYTES) {
        fprintf(stderr, "edgetls-bench hs: --sni-file %s: larger than 256 MiB\n", path);
        fclose(f);
        return -1;
    }
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap + 1);
    for (size_t n; text && (n = fread(text + len, 1, cap - len, f)) > 0;) {
        len += n;
        if (len == cap && cap < SNI_FILE_MAX_BYTES) {
            cap *= 2;
            char *t = realloc(text, cap + 1);
            if (!t) {
                free(text);
                text = NULL;
            }
            text = t;
        } else if (len == cap) {
            break;
        }
    }
    int too_big = len == cap && fgetc(f) != EOF;
    fclose(f);
    if (!text || too_big) {
        fprintf(stderr, "edgetls-bench hs: --sni-file %s: %s\n", path,
                !text ? "out of memory" : "larger than 256 MiB");
        free(text);
        return -1;
    }
    text[len] = 0;
    size_t n = 0, lineno = 0;
    const char **names = NULL;
    size_t ncap = 0;
    for (char *p = text, *nl; *p || p < text + len; p = nl + 1) {
        nl = strchr(p, '\n');
        if (!nl)
            nl = p + strlen(p);
        lineno++;
        if (!*nl && nl < text + len) {
            fprintf(stderr, "edgetls-bench hs: --sni-file %s:%zu: NUL byte\n", path, lineno);
            free(names);
            free(text);
            return -1;
        }
        char *e = nl;
        while (e > p && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
            e--;
        int last = !*nl;
        *e = 0;
        if (*p && *p != '#') {
            size_t l = strlen(p), bad = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_");
            if (l > 253 || bad != l || n == SNI_FILE_MAX_NAMES) {
                fprintf(stderr, "edgetls-bench hs: --sni-file %s:%zu: %s\n", path, lineno,
                        n == SNI_FILE_MAX_NAMES ? "more than 1,000,000 names" : "not a host name (1-253 of [A-Za-z0-9.-_])");
                free(names);
                free(text);
                return -1;
            }
            if (n == ncap) {
                ncap = ncap ? ncap * 2 : 1024;
                const char **t = realloc(names, ncap * sizeof *names);
                if (!t) {
                    free(names);
                    free(text);
                    fprintf(stderr, "edgetls-bench hs: --sni-file: out of memory\n");
                    return -1;
                }
                names = t;
            }
            names[n++] = p;
        }
        if (last)
            break;
    }
    if (!n) {
        fprintf(stderr, "edgetls-bench hs: --sni-file %s: no names\n", path);
        free(names);
        free(text);
        return -1;
    }
    c->sni_text = text;
    c->sni_names = names;
    c->o.sni = names;
    c->o.n_sni = n;
    return 0;
}

static int num(const char *s, double lo, double hi, double *v)
{
    char *e;
    *v = strtod(s, &e);
    return *e || e == s || *v < lo || *v > hi ? -1 : 0;
}

/* One option into c; -1 on a bad value. */
static int hs_opt(hs_cli_t *c, int opt, const char *a)
{
    etls_hs_opts_t *o = &c->o;
    double v;
    int cp;
    switch (opt) {
    case O_CONC: return num(a, 1, 100000, &v) ? -1 : (o->concurrency = (unsigned)v, 0);
    case O_RATE: return num(a, 0.001, 1e7, &v) ? -1 : (o->rate = v, 0);
    case O_MAXIN: return num(a, 1, 100000, &v) ? -1 : (o->max_inflight = (unsigned)v, 0);
    case O_DUR: return num(a, 0.01, 86400, &v) ? -1 : (o->duration = v, 0);
    case O_COUNT: return num(a, 1, 1e12, &v) ? -1 : (o->count = (uint64_t)v, 0);
    case O_THREADS: return num(a, 1, ETLS_HS_MAX_THREADS, &v) ? -1 : (o->threads = (unsigned)v, 0);
    case O_CPUS:
        cp = etls_hs_parse_cpus(a, o->cpus, ETLS_HS_MAX_THREADS);
        return cp <= 0 ? -1 : (o->ncpus = (size_t)cp, 0);
    case O_GROUP:
        o->cli.group = !strcmp(a, "x25519") ? ETLS_TLS_GROUP_X25519
                       : !strcmp(a, "p256") || !strcmp(a, "secp256r1") ? ETLS_TLS_GROUP_SECP256R1 : 0;
        return o->cli.group ? 0 : -1;
    case O_SUITE: return c->suite_given = 1, parse_suites(&o->cli, a);
    case O_TLS12: return o->cli.tls12 = 1, 0;
    case O_SNI:
        if (c->sni_text) {
            fprintf(stderr, "edgetls-bench hs: --sni and --sni-file exclude each other\n");
            return -1;
        }
        cp = parse_list(a, c->sni_buf, sizeof c->sni_buf, c->sni_list, ETLS_HS_MAX_SNI);
        return cp <= 0 ? -1 : (o->sni = c->sni_list, o->n_sni = (size_t)cp, 0);
    case O_SNI_FILE:
        if (o->n_sni) {
            fprintf(stderr, "edgetls-bench hs: --sni-file given twice or with --sni\n");
            return -1;
        }
        return read_sni_file(c, a);
    case O_ALPN: return parse_alpn(&o->cli, a);
    case O_REQ: return o->request = 1, 0;
    case O_PATH: return a[0] == '/' && strlen(a) < 256 ? (o->path = a, 0) : -1;
    case O_REUSE: return o->reuse_keyshare = 1, 0;
    case O_RESUME: return o->resume = 1, 0;
    case O_VERIFY: return c->verify = 1, 0;
    case O_CACERT: return c->cacert = a, 0;
    case O_CLOSE: return !strcmp(a, "rst") ? (o->close_rst = 1, 0) : !strcmp(a, "fin") ? 0 : -1;
    case O_TIMEOUT: return num(a, 0.01, 3600, &v) ? -1 : (o->timeout = v, 0);
    case O_GRACE: return num(a, 0, 60, &v) ? -1 : (o->grace = v, 0);
    case O_JSON: return c->json = 1, 0;
    case O_REPORT: return c->report = a, 0;
    case O_QUIET: return o->progress = 0, 0;
    case O_DPDK: return c->dpdk = 1, 0;
    default: return -1;
    }
}

static void hs_defaults(etls_hs_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->threads = 1;
    o->concurrency = 32;
    o->max_inflight = 1024;
    o->timeout = 5;
    o->grace = 1;
    o->progress = 1;
    o->cli.group = ETLS_TLS_GROUP_X25519;
    o->cli.suites[0] = ETLS_TLS_AES_128_GCM_SHA256;
    o->cli.n_suites = 1;
    default_cpus(o);
}

/* Parses argv into c; returns 0, 1 for --help, or -1 (message printed). */
static int hs_parse(hs_cli_t *c, int argc, char **argv)
{
    hs_defaults(&c->o);
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "", hs_opts, NULL)) != -1) {
        if (opt == O_HELP)
            return 1;
        if (opt == '?' || hs_opt(c, opt, optarg) != 0) {
            if (opt != '?')
                fprintf(stderr, "edgetls-bench hs: bad value for --%s: '%s'\n",
                        hs_opts[opt - O_CONC].name, optarg ? optarg : "");
            return -1;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "edgetls-bench hs: expected one HOST:PORT\n");
        return -1;
    }
    const char *t = argv[optind];
    if (strlen(t) >= sizeof c->o.target || etls_hs_parse_target(t, &c->o.addr, &c->o.addrlen) != 0) {
        fprintf(stderr, "edgetls-bench hs: bad target '%s' (numeric IPv4:port or [IPv6]:port)\n", t);
        return -1;
    }
    strcpy(c->o.target, t);
    if (!c->o.duration && !c->o.count)
        c->o.duration = 5;
    if (c->o.cli.tls12 && !c->suite_given) {
        c->o.cli.suites[0] = ETLS_TLS_ECDHE_ECDSA_AES_128_GCM_SHA256;
        c->o.cli.suites[1] = ETLS_TLS_ECDHE_RSA_AES_128_GCM_SHA256;
        c->o.cli.n_suites = 2;
    }
    for (size_t i = 0; i < c->o.cli.n_suites; i++)
        if (etls_cli_suite_is12(c->o.cli.suites[i]) != c->o.cli.tls12) {
            fprintf(stderr, "edgetls-bench hs: --suite %s is a TLS %s suite%s\n",
                    etls_cli_suite_name(c->o.cli.suites[i]), c->o.cli.tls12 ? "1.3" : "1.2",
                    c->o.cli.tls12 ? " (--tls12 takes TLS 1.2 suites)" : " (add --tls12)");
            return -1;
        }
    if (c->verify && !c->cacert) {
        fprintf(stderr, "edgetls-bench hs: --verify needs --cacert FILE\n");
        return -1;
    }
    return 0;
}

int etls_bench_hs_main(int argc, char **argv)
{
    hs_cli_t *c = calloc(1, sizeof *c);
    etls_hs_result_t *r = calloc(1, sizeof *r);
    /* --dpdk: what follows the first "--" is for EAL (and then the DPDK mode) */
    int dpdk_argc;
    char **dpdk_argv;
    argc = etls_hs_split_dpdk_args(argc, argv, &dpdk_argc, &dpdk_argv);
    int rc = c && r ? hs_parse(c, argc, argv) : -1;
    if (rc == 0 && dpdk_argv && !c->dpdk) {
        fprintf(stderr, "edgetls-bench hs: arguments after '--' are only for --dpdk\n");
        rc = -1;
    }
    if (rc != 0) {
        hs_usage(rc == 1 ? stdout : stderr);
        if (c) {
            free(c->sni_names);
            free(c->sni_text);
        }
        free(c);
        free(r);
        return rc == 1 ? 0 : ETLS_BENCH_EXIT_USAGE;
    }
    void *store = NULL;
    if (c->verify) {
        store = etls_hs_verifier_new(c->cacert);
        if (!store) {
            free(c);
            free(r);
            return ETLS_BENCH_EXIT_USAGE;
        }
        c->o.cli.verify_chain = etls_hs_verify_chain;
        c->o.cli.verify_arg = store;
    }
    if (c->dpdk && !etls_hs_dpdk_run) {
        fprintf(stderr, "edgetls-bench hs: --dpdk: this build has no DPDK (libdpdk not found)\n");
        rc = ETLS_ERR_INVALID;
    } else if (c->dpdk) {
        char *only_name[2] = {argv[0], NULL}; /* no EAL arguments given */
        if (!dpdk_argv)
            dpdk_argc = 1, dpdk_argv = only_name;
        dpdk_argv[0] = argv[0];
        rc = etls_hs_dpdk_run(&c->o, dpdk_argc, dpdk_argv, r);
    } else {
        rc = etls_hs_run(&c->o, r);
    }
    int status = 0;
    if (rc != 0) {
        fprintf(stderr, "edgetls-bench hs: run failed: %s\n", etls_strerror(rc));
        status = 1;
    } else {
        etls_hs_report_text(c->json ? stderr : stdout, &c->o, r);
        if (c->json)
            etls_hs_report_json(stdout, &c->o, r);
        if (c->dpdk)
            etls_hs_dpdk_report(c->json ? stderr : stdout, c->json ? stdout : NULL, r);
        if (c->report && etls_hs_report_html(c->report, &c->o, r) != 0) {
            fprintf(stderr, "edgetls-bench hs: cannot write %s\n", c->report);
            status = 1;
        }
        if (!r->handshakes)
            status = 1;
    }
    etls_hs_verifier_free(store);
    free(c->sni_names);
    free(c->sni_text);
    free(c);
    free(r);
    return status;
}
