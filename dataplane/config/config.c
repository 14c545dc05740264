/* Configuration parser: keys in tables (one per section), one small handler per value type.
 * Every error goes through perr(), which prefixes "file:line: ", so messages stay uniform. */
#include "config/config.h"

#include "common/err.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef enum { SEC_GLOBAL = 0, SEC_LISTENER, SEC_CERT, SEC_BACKEND, SEC_COUNT } section_t;

static const char *const section_names[SEC_COUNT] = {"global", "listener", "cert", "backend"};

#define MAX_KEYS 32

typedef struct pstate {
    const char *name; /* file name, or NULL for the command line */
    int line;
    char *err;
    size_t errlen;
    section_t sec;
    int sec_line;
    int seen[SEC_COUNT][MAX_KEYS]; /* line where a key was set in the current section */
} pstate_t;

__attribute__((format(printf, 2, 3))) static int perr(pstate_t *ps, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ps->name)
        snprintf(ps->err, ps->errlen, "%s:%d: %s", ps->name, ps->line, msg);
    else
        snprintf(ps->err, ps->errlen, "command line: %s", msg);
    return ETLS_ERR_INVALID;
}

/* ---- value parsers ------------------------------------------------------------------------ */

static int parse_u64(const char *s, uint64_t *out, const char **rest)
{
    uint64_t v = 0;
    const char *p = s;
    if (!isdigit((unsigned char)*p))
        return -1;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    *rest = p;
    return 0;
}

typedef struct unit {
    const char *suffix;
    uint64_t mult;
} unit_t;

static const unit_t size_units[] = {{"", 1}, {"k", 1024}, {"K", 1024}, {"m", 1 << 20}, {"M", 1 << 20}, {"g", 1 << 30}, {"G", 1 << 30}, {NULL, 0}};
static const unit_t time_units[] = {{"", 1000}, {"s", 1000}, {"ms", 1}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {NULL, 0}};

/* Number with an optional unit; the result is checked against [lo, hi] in base units. */
static int parse_scaled(pstate_t *ps, const char *key, const char *val, const unit_t *units,
                        uint64_t lo, uint64_t hi, uint64_t *out)
{
    uint64_t v;
    const char *rest;
    if (parse_u64(val, &v, &rest) < 0)
        return perr(ps, "%s: bad number '%s'", key, val);
    for (const unit_t *u = units; u->suffix; u++) {
        if (strcmp(rest, u->suffix) != 0)
            continue;
        if (v > UINT64_MAX / u->mult)
            return perr(ps, "%s: value '%s' out of range", key, val);
        v *= u->mult;
        if (v < lo || v > hi)
            return perr(ps, "%s: value '%s' out of range (%llu..%llu %s)", key, val,
                        (unsigned long long)lo, (unsigned long long)hi,
                        units == time_units ? "ms" : "bytes");
        *out = v;
        return 0;
    }
    return perr(ps, "%s: bad number '%s'", key, val);
}

static int parse_range(pstate_t *ps, const char *key, const char *val, uint64_t lo, uint64_t hi,
                       uint64_t *out)
{
    uint64_t v;
    const char *rest;
    if (parse_u64(val, &v, &rest) < 0 || *rest)
        return perr(ps, "%s: bad number '%s'", key, val);
    if (v < lo || v > hi)
        return perr(ps, "%s: value '%s' out of range (%llu..%llu)", key, val,
                    (unsigned long long)lo, (unsigned long long)hi);
    *out = v;
    return 0;
}

int etls_config_parse_addr(etls_config_addr_t *a, const char *text)
{
    char host[64];
    const char *colon, *hs = text;
    size_t hl;
    memset(a, 0, sizeof *a);
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        ETLS_ENSURE(close && close[1] == ':', ETLS_ERR_INVALID);
        hs = text + 1;
        hl = (size_t)(close - hs);
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        ETLS_ENSURE(colon && !memchr(text, ':', (size_t)(colon - text)), ETLS_ERR_INVALID);
        hl = (size_t)(colon - text);
    }
    ETLS_ENSURE(hl > 0 && hl < sizeof host, ETLS_ERR_INVALID);
    memcpy(host, hs, hl);
    host[hl] = 0;
    uint64_t port;
    const char *rest;
    ETLS_ENSURE(parse_u64(colon + 1, &port, &rest) == 0 && !*rest && port >= 1 && port <= 65535,
                ETLS_ERR_INVALID);
    if (text[0] != '[' && strcmp(host, "*") == 0)
        strcpy(host, "0.0.0.0");
    struct sockaddr_in *v4 = (struct sockaddr_in *)&a->ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a->ss;
    if (text[0] != '[' && inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        a->len = sizeof *v4;
        snprintf(a->text, sizeof a->text, "%s:%u", host, (unsigned)port);
    } else if (text[0] == '[' && inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        a->len = sizeof *v6;
        char norm[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &v6->sin6_addr, norm, sizeof norm);
        snprintf(a->text, sizeof a->text, "[%s]:%u", norm, (unsigned)port);
    } else {
        return ETLS_ERR_INVALID;
    }
    return 0;
}

static int parse_onoff(pstate_t *ps, const char *key, const char *val, int *out)
{
    if (!strcmp(val, "on") || !strcmp(val, "yes") || !strcmp(val, "true"))
        *out = 1;
    else if (!strcmp(val, "off") || !strcmp(val, "no") || !strcmp(val, "false"))
        *out = 0;
    else
        return perr(ps, "%s: expected on or off, got '%s'", key, val);
    return 0;
}

/* Splits a list on commas, colons (when allowed) and blanks; calls fn per item. */
typedef int (*item_fn)(etls_config_t *c, pstate_t *ps, const char *item);
static int for_each_item(etls_config_t *c, pstate_t *ps, char *val, const char *seps, item_fn fn)
{
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(val, seps, &save); tok; tok = strtok_r(NULL, seps, &save)) {
        ETLS_GUARD(fn(c, ps, tok));
        n++;
    }
    return n;
}

typedef struct named_code {
    const char *name;
    uint16_t code;
} named_code_t;

/* IANA names; the OpenSSL spellings of the TLS 1.3 suites are the same. */
static const named_code_t suite_table[] = {
    {"TLS_AES_128_GCM_SHA256", 0x1301},
    {"TLS_AES_256_GCM_SHA384", 0x1302},
    {"TLS_CHACHA20_POLY1305_SHA256", 0x1303},
    {"TLS_AES_128_CCM_SHA256", 0x1304},
    {"TLS_AES_128_CCM_8_SHA256", 0x1305},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", 0xc02b},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", 0xc02c},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 0xc02f},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", 0xc030},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 0xcca8},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", 0xcca9},
    /* OpenSSL's spellings of the TLS 1.2 suites */
    {"ECDHE-ECDSA-AES128-GCM-SHA256", 0xc02b},
    {"ECDHE-ECDSA-AES256-GCM-SHA384", 0xc02c},
    {"ECDHE-RSA-AES128-GCM-SHA256", 0xc02f},
    {"ECDHE-RSA-AES256-GCM-SHA384", 0xc030},
    {"ECDHE-RSA-CHACHA20-POLY1305", 0xcca8},
    {"ECDHE-ECDSA-CHACHA20-POLY1305", 0xcca9},
    /* the legacy RSA key exchange: only with tls12_rsa_kx on (etls_config_validate) */
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", 0x009c},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", 0x009d},
    {"AES128-GCM-SHA256", 0x009c},
    {"AES256-GCM-SHA384", 0x009d},
    {NULL, 0},
};

static const named_code_t group_table[] = {
    {"x25519", 0x001d},  {"X25519", 0x001d},    {"secp256r1", 0x0017},
    {"P-256", 0x0017},   {"prime256v1", 0x0017}, {"X25519MLKEM768", 0x11ec},
    {"x25519mlkem768", 0x11ec}, {NULL, 0},
};

static const char *code_name(const named_code_t *t, uint16_t code)
{
    for (; t->name; t++)
        if (t->code == code)
            return t->name;
    return NULL;
}

const char *etls_suite_name(uint16_t suite) { return code_name(suite_table, suite); }
const char *etls_group_name(uint16_t group) { return code_name(group_table, group); }

static int add_code(pstate_t *ps, const named_code_t *t, const char *what, const char *item,
                    uint16_t *list, size_t *n, size_t max)
{
    for (; t->name; t++) {
        if (strcmp(t->name, item) != 0)
            continue;
        for (size_t i = 0; i < *n; i++)
            if (list[i] == t->code)
                return perr(ps, "%s '%s' listed twice", what, item);
        if (*n >= max)
            return perr(ps, "too many %ss (at most %zu)", what, max);
        list[(*n)++] = t->code;
        return 0;
    }
    return perr(ps, "unknown %s '%s'", what, item);
}

static int item_suite(etls_config_t *c, pstate_t *ps, const char *item)
{
    return add_code(ps, suite_table, "cipher suite", item, c->suites, &c->nsuites, ETLS_CONFIG_MAX_SUITES);
}

static int item_group(etls_config_t *c, pstate_t *ps, const char *item)
{
    return add_code(ps, group_table, "group", item, c->groups, &c->ngroups, ETLS_CONFIG_MAX_GROUPS);
}

static int item_alpn(etls_config_t *c, pstate_t *ps, const char *item)
{
    size_t n = strlen(item);
    if (n > 255)
        return perr(ps, "alpn: protocol name longer than 255 bytes");
    if (c->alpn_len + 1 + n > ETLS_CONFIG_ALPN_MAX)
        return perr(ps, "alpn: list longer than %d bytes", ETLS_CONFIG_ALPN_MAX);
    c->alpn[c->alpn_len++] = (uint8_t)n;
    memcpy(c->alpn + c->alpn_len, item, n);
    c->alpn_len += n;
    return 0;
}

static int item_cpu(etls_config_t *c, pstate_t *ps, const char *item)
{
    uint64_t lo, hi;
    const char *rest;
    if (parse_u64(item, &lo, &rest) < 0)
        return perr(ps, "cpus: bad CPU '%s'", item);
    hi = lo;
    if (*rest == '-' && parse_u64(rest + 1, &hi, &rest) < 0)
        return perr(ps, "cpus: bad CPU range '%s'", item);
    if (*rest || hi < lo || hi >= 4096)
        return perr(ps, "cpus: bad CPU range '%s'", item);
    for (uint64_t v = lo; v <= hi; v++) {
        if (c->ncpus >= ETLS_CONFIG_MAX_CPUS)
            return perr(ps, "cpus: more than %d CPUs", ETLS_CONFIG_MAX_CPUS);
        c->cpus[c->ncpus++] = (uint16_t)v;
    }
    return 0;
}

/* DNS name, "*.suffix" wildcard or "default"; stored lower-case. */
static int item_name(etls_config_t *c, pstate_t *ps, const char *item)
{
    etls_config_cert_t *ct = &c->certs[c->ncerts - 1];
    size_t n = strlen(item);
    if (ct->nnames >= ETLS_CONFIG_MAX_NAMES)
        return perr(ps, "names: more than %d names", ETLS_CONFIG_MAX_NAMES);
    if (n == 0 || n >= ETLS_CONFIG_NAME_MAX)
        return perr(ps, "names: bad name '%s'", item);
    size_t start = (n > 2 && item[0] == '*' && item[1] == '.') ? 2 : 0;
    for (size_t i = start; i < n; i++) {
        char ch = item[i];
        if (!(isalnum((unsigned char)ch) || ch == '-' || ch == '.' || ch == '_'))
            return perr(ps, "names: bad name '%s'", item);
    }
    if (item[start] == '.' || item[n - 1] == '.' || strstr(item, ".."))
        return perr(ps, "names: bad name '%s'", item);
    for (size_t i = 0; i <= n; i++)
        ct->names[ct->nnames][i] = (char)tolower((unsigned char)item[i]);
    ct->nnames++;
    return 0;
}

/* ---- key handlers ------------------------------------------------------------------------- */

typedef int (*key_fn)(etls_config_t *c, pstate_t *ps, const char *key, char *val);

static int set_u32(pstate_t *ps, const char *key, const char *val, const unit_t *u, uint64_t lo,
                   uint64_t hi, uint32_t *dst)
{
    uint64_t v = 0;
    ETLS_GUARD(u ? parse_scaled(ps, key, val, u, lo, hi, &v) : parse_range(ps, key, val, lo, hi, &v));
    *dst = (uint32_t)v;
    return 0;
}

static int k_mode(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    for (int m = 0; m <= ETLS_MODE_ECHO; m++)
        if (!strcmp(val, etls_mode_name((etls_mode_t)m))) {
            c->mode = (etls_mode_t)m;
            return 0;
        }
    return perr(ps, "%s: expected proxy, responder or echo, got '%s'", key, val);
}

static int k_transport(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    if (!strcmp(val, "io_uring"))
        c->transport = ETLS_TRANSPORT_IO_URING;
    else if (!strcmp(val, "dpdk"))
        c->transport = ETLS_TRANSPORT_DPDK;
    else
        return perr(ps, "%s: expected io_uring or dpdk, got '%s'", key, val);
    return 0;
}

static int k_log_level(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(val, names[i])) {
            c->log_level = (etls_log_level_t)i;
            return 0;
        }
    return perr(ps, "%s: expected error, warn, info or debug, got '%s'", key, val);
}

static int k_workers(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    if (!strcmp(val, "auto")) {
        c->workers = 0;
        return 0;
    }
    uint64_t v = 0;
    ETLS_GUARD(parse_range(ps, key, val, 1, ETLS_CONFIG_MAX_WORKERS, &v));
    c->workers = (unsigned)v;
    return 0;
}

static int k_cpus(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    c->ncpus = 0;
    int n = for_each_item(c, ps, val, ", \t", item_cpu);
    ETLS_GUARD(n);
    return n ? 0 : perr(ps, "%s: empty list", key);
}

static int k_alpn(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    c->alpn_len = 0;
    int n = for_each_item(c, ps, val, ", \t", item_alpn);
    ETLS_GUARD(n);
    return n ? 0 : perr(ps, "%s: empty list", key);
}

static int k_ciphers(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    c->nsuites = 0;
    int n = for_each_item(c, ps, val, ",: \t", item_suite);
    ETLS_GUARD(n);
    return n ? 0 : perr(ps, "%s: empty list", key);
}

static int k_groups(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    c->ngroups = 0;
    int n = for_each_item(c, ps, val, ",: \t", item_group);
    ETLS_GUARD(n);
    return n ? 0 : perr(ps, "%s: empty list", key);
}

static int k_max_conns(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    return set_u32(ps, key, val, NULL, 1, ETLS_CONFIG_MAX_CONNECTIONS, &c->max_connections);
}

static int k_buffer_size(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    return set_u32(ps, key, val, size_units, ETLS_CONFIG_MIN_BUFFER, ETLS_CONFIG_MAX_BUFFER, &c->buffer_size);
}

static int k_max_header(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    return set_u32(ps, key, val, size_units, 256, 65536, &c->max_header_size);
}

static int k_hs_timeout(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    return set_u32(ps, key, val, time_units, 100, 600000, &c->handshake_timeout_ms);
}

static int k_idle_timeout(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    return set_u32(ps, key, val, time_units, 100, 86400000, &c->idle_timeout_ms);
}

static int k_shutdown_timeout(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    return set_u32(ps, key, val, time_units, 0, 600000, &c->shutdown_timeout_ms);
}

static int k_uring_entries(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    ETLS_GUARD(set_u32(ps, key, val, NULL, 64, 32768, &c->uring_entries));
    if (c->uring_entries & (c->uring_entries - 1))
        return perr(ps, "%s: must be a power of two, got '%s'", key, val);
    return 0;
}

static int k_crypto_batch(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    return set_u32(ps, key, val, NULL, 1, 1024, &c->crypto_batch);
}

static int k_session_tickets(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    if (!strcmp(val, "on") || !strcmp(val, "off")) {
        c->session_tickets = val[1] == 'n';
        return 0;
    }
    return perr(ps, "%s: expected on or off, got '%s'", key, val);
}

/* "tls1.2,tls1.3" (either or both, any order). */
static int item_protocol(etls_config_t *c, pstate_t *ps, const char *item)
{
    uint8_t bit = !strcmp(item, "tls1.2") || !strcmp(item, "TLSv1.2")   ? 1
                  : !strcmp(item, "tls1.3") || !strcmp(item, "TLSv1.3") ? 2
                                                                        : 0;
    if (!bit)
        return perr(ps, "protocols: unknown protocol '%s' (tls1.2, tls1.3)", item);
    if (c->protocols & bit)
        return perr(ps, "protocols: '%s' listed twice", item);
    c->protocols |= bit;
    return 0;
}

static int k_protocols(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    c->protocols = 0;
    int n = for_each_item(c, ps, val, ", \t", item_protocol);
    ETLS_GUARD(n);
    return n ? 0 : perr(ps, "%s: empty list", key);
}

static int k_tls12_require_ems(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    int on = 0;
    ETLS_GUARD(parse_onoff(ps, key, val, &on));
    c->tls12_require_ems = (uint8_t)on;
    return 0;
}

static int k_tls12_rsa_kx(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    int on = 0;
    ETLS_GUARD(parse_onoff(ps, key, val, &on));
    c->tls12_rsa_kx = (uint8_t)on;
    return 0;
}

/* A period from one minute to seven days (RFC 8446 §4.6.1 caps ticket lifetimes at 7 days). */
static int k_ticket_rotation(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    uint32_t ms = 0;
    ETLS_GUARD(set_u32(ps, key, val, time_units, 60000, 604800000, &ms));
    c->ticket_rotation_s = ms / 1000;
    return 0;
}

static int set_path(pstate_t *ps, const char *key, const char *val, char *dst);

static int k_ticket_key_file(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    return set_path(ps, key, val, c->ticket_key_file);
}

static int k_control_socket(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    return set_path(ps, key, val, c->control_socket);
}

static int k_state_dir(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    return set_path(ps, key, val, c->state_dir);
}

/* Synthetic response bodies; sizes take k/m/g suffixes like buffer_size. */
static int k_response_size(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    uint64_t v = 0;
    ETLS_GUARD(parse_scaled(ps, key, val, size_units, 0, ETLS_CONFIG_MAX_RESPONSE_SIZE, &v));
    c->response_size = (int64_t)v;
    return 0;
}

static int k_response_size_max(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    return parse_scaled(ps, key, val, size_units, 0, ETLS_CONFIG_MAX_RESPONSE_SIZE, &c->response_size_max);
}

/* A quoted string with \n, \r, \t, \\ and \" escapes, or a bare word. */
static int k_body(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    size_t n = 0;
    if (val[0] != '"') {
        n = strlen(val);
        if (n >= ETLS_CONFIG_BODY_MAX)
            return perr(ps, "%s: longer than %d bytes", key, ETLS_CONFIG_BODY_MAX - 1);
        memcpy(c->body, val, n + 1);
        c->body_len = n;
        return 0;
    }
    const char *p = val + 1;
    for (; *p && *p != '"'; p++) {
        char ch = *p;
        if (ch == '\\') {
            static const char from[] = "nrt\\\"", to[] = "\n\r\t\\\"";
            const char *e = p[1] ? strchr(from, p[1]) : NULL;
            if (!e)
                return perr(ps, "%s: bad escape in string", key);
            ch = to[e - from];
            p++;
        }
        if (n + 1 >= ETLS_CONFIG_BODY_MAX)
            return perr(ps, "%s: longer than %d bytes", key, ETLS_CONFIG_BODY_MAX - 1);
        c->body[n++] = ch;
    }
    if (*p != '"' || p[1])
        return perr(ps, "%s: unterminated string", key);
    c->body[n] = 0;
    c->body_len = n;
    return 0;
}

static int k_listener_address(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    if (etls_config_parse_addr(&c->listeners[c->nlisteners - 1].addr, val) < 0)
        return perr(ps, "%s: bad address '%s' (expected IPv4:port or [IPv6]:port)", key, val);
    return 0;
}

static int k_listener_tls(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    return parse_onoff(ps, key, val, &c->listeners[c->nlisteners - 1].tls);
}

static int k_cert_names(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    int n = for_each_item(c, ps, val, ", \t", item_name);
    ETLS_GUARD(n);
    return n ? 0 : perr(ps, "%s: empty list", key);
}

static int set_path(pstate_t *ps, const char *key, const char *val, char *dst)
{
    size_t n = strlen(val);
    if (n >= ETLS_CONFIG_PATH_MAX)
        return perr(ps, "%s: path longer than %d bytes", key, ETLS_CONFIG_PATH_MAX - 1);
    memcpy(dst, val, n + 1);
    return 0;
}

static int k_cert_chain(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    return set_path(ps, key, val, c->certs[c->ncerts - 1].chain);
}

static int k_cert_key(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    return set_path(ps, key, val, c->certs[c->ncerts - 1].key);
}

/* client_auth, client_ca, client_crl, client_verify_depth: the same keys in [listener] and
 * [cert]; the section being read owns the values. */
static etls_config_client_auth_t *client_of(etls_config_t *c, pstate_t *ps)
{
    return ps->sec == SEC_LISTENER ? &c->listeners[c->nlisteners - 1].client
                                   : &c->certs[c->ncerts - 1].client;
}

static int k_client_auth(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    static const char *const modes[] = {"off", "optional", "required"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(val, modes[i])) {
            client_of(c, ps)->mode = i;
            client_of(c, ps)->set = 1;
            return 0;
        }
    return perr(ps, "%s: expected off, optional or required, got '%s'", key, val);
}

static int k_client_ca(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    return set_path(ps, key, val, client_of(c, ps)->ca);
}

static int k_client_crl(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    return set_path(ps, key, val, client_of(c, ps)->crl);
}

static int k_client_depth(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    uint64_t v = 0;
    ETLS_GUARD(parse_range(ps, key, val, 0, 16, &v));
    client_of(c, ps)->depth = (int)v;
    client_of(c, ps)->depth_set = 1;
    return 0;
}

#define CLIENT_KEYS                                                                                \
    {"client_auth", k_client_auth, 0}, {"client_ca", k_client_ca, 0},                              \
        {"client_crl", k_client_crl, 0}, {"client_verify_depth", k_client_depth, 0}

static int k_backend_address(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    if (etls_config_parse_addr(&c->backends[c->nbackends - 1].addr, val) < 0)
        return perr(ps, "%s: bad address '%s' (expected IPv4:port or [IPv6]:port)", key, val);
    return 0;
}

static int k_backend_pp(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    int *dst = &c->backends[c->nbackends - 1].proxy_v2;
    if (!strcmp(val, "v2"))
        *dst = 1;
    else if (!strcmp(val, "off") || !strcmp(val, "none"))
        *dst = 0;
    else
        return perr(ps, "%s: expected v2 or off, got '%s'", key, val);
    return 0;
}

typedef struct key_def {
    const char *key;
    key_fn fn;
    int multi; /* value may contain blanks (lists, strings) */
} key_def_t;

static const key_def_t global_keys[] = {
    {"mode", k_mode, 0},
    {"transport", k_transport, 0},
    {"log_level", k_log_level, 0},
    {"workers", k_workers, 0},
    {"cpus", k_cpus, 1},
    {"alpn", k_alpn, 1},
    {"ciphers", k_ciphers, 1},
    {"groups", k_groups, 1},
    {"max_connections", k_max_conns, 0},
    {"buffer_size", k_buffer_size, 0},
    {"max_header_size", k_max_header, 0},
    {"handshake_timeout", k_hs_timeout, 0},
    {"idle_timeout", k_idle_timeout, 0},
    {"shutdown_timeout", k_shutdown_timeout, 0},
    {"uring_entries", k_uring_entries, 0},
    {"crypto_batch", k_crypto_batch, 0},
    {"session_tickets", k_session_tickets, 0},
    {"protocols", k_protocols, 1},
    {"tls12_require_ems", k_tls12_require_ems, 0},
    {"tls12_rsa_kx", k_tls12_rsa_kx, 0},
    {"ticket_rotation", k_ticket_rotation, 0},
    {"ticket_key_file", k_ticket_key_file, 0},
    {"control_socket", k_control_socket, 0},
    {"state_dir", k_state_dir, 0},
    {"response_body", k_body, 1},
    {"response_size", k_response_size, 0},
    {"response_size_max", k_response_size_max, 0},
    {NULL, NULL, 0},
};
static const key_def_t listener_keys[] = {
    {"address", k_listener_address, 0}, {"tls", k_listener_tls, 0}, CLIENT_KEYS, {NULL, NULL, 0}};
static const key_def_t cert_keys[] = {{"names", k_cert_names, 1}, {"chain", k_cert_chain, 0},
                                      {"key", k_cert_key, 0}, CLIENT_KEYS, {NULL, NULL, 0}};
static const key_def_t backend_keys[] = {
    {"address", k_backend_address, 0}, {"proxy_protocol", k_backend_pp, 0}, {NULL, NULL, 0}};

static const key_def_t *const section_keys[SEC_COUNT] = {global_keys, listener_keys, cert_keys,
                                                         backend_keys};

/* ---- sections ----------------------------------------------------------------------------- */

/* Checks the section that just ended is complete; errors point at its header line. */
static int close_section(etls_config_t *c, pstate_t *ps)
{
    int line = ps->line;
    int rc = 0;
    ps->line = ps->sec_line;
    if (ps->sec == SEC_LISTENER && !c->listeners[c->nlisteners - 1].addr.len)
        rc = perr(ps, "[listener] needs 'address'");
    else if (ps->sec == SEC_BACKEND && !c->backends[c->nbackends - 1].addr.len)
        rc = perr(ps, "[backend] needs 'address'");
    else if (ps->sec == SEC_CERT && !c->certs[c->ncerts - 1].chain[0])
        rc = perr(ps, "[cert] needs 'chain'");
    else if (ps->sec == SEC_CERT && !c->certs[c->ncerts - 1].key[0])
        rc = perr(ps, "[cert] needs 'key'");
    ps->line = line;
    return rc;
}

static int open_section(etls_config_t *c, pstate_t *ps, const char *name)
{
    section_t s;
    for (s = SEC_LISTENER; s < SEC_COUNT; s++)
        if (!strcmp(name, section_names[s]))
            break;
    if (s == SEC_COUNT)
        return perr(ps, "unknown section [%s]", name);
    ETLS_GUARD(close_section(c, ps));
    if (s == SEC_LISTENER) {
        if (c->nlisteners >= ETLS_CONFIG_MAX_LISTENERS)
            return perr(ps, "too many listeners (at most %d)", ETLS_CONFIG_MAX_LISTENERS);
        etls_config_listener_t *l = &c->listeners[c->nlisteners++];
        memset(l, 0, sizeof *l);
        l->tls = 1;
        l->line = ps->line;
    } else if (s == SEC_CERT) {
        if (c->ncerts >= ETLS_CONFIG_MAX_CERTS)
            return perr(ps, "too many certificates (at most %d)", ETLS_CONFIG_MAX_CERTS);
        etls_config_cert_t *ct = &c->certs[c->ncerts++];
        memset(ct, 0, sizeof *ct);
        ct->line = ps->line;
    } else {
        if (c->nbackends >= ETLS_CONFIG_MAX_BACKENDS)
            return perr(ps, "too many backends (at most %d)", ETLS_CONFIG_MAX_BACKENDS);
        etls_config_backend_t *b = &c->backends[c->nbackends++];
        memset(b, 0, sizeof *b);
        b->line = ps->line;
    }
    ps->sec = s;
    ps->sec_line = ps->line;
    memset(ps->seen[s], 0, sizeof ps->seen[s]);
    return 0;
}

static int apply_key(etls_config_t *c, pstate_t *ps, const char *key, char *val)
{
    const key_def_t *defs = section_keys[ps->sec];
    for (int i = 0; defs[i].key; i++) {
        if (strcmp(defs[i].key, key) != 0)
            continue;
        if (!*val)
            return perr(ps, "%s: missing value", key);
        if (!defs[i].multi && strpbrk(val, " \t"))
            return perr(ps, "%s: expected one value, got '%s'", key, val);
        if (ps->seen[ps->sec][i]) {
            if (ps->name)
                return perr(ps, "%s: already set at line %d", key, ps->seen[ps->sec][i]);
            return perr(ps, "%s: given twice", key);
        }
        ps->seen[ps->sec][i] = ps->line ? ps->line : 1;
        return defs[i].fn(c, ps, key, val);
    }
    if (ps->sec == SEC_GLOBAL)
        return perr(ps, "unknown key '%s'", key);
    return perr(ps, "unknown key '%s' in [%s]", key, section_names[ps->sec]);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = 0;
    return s;
}

/* Removes a '#' comment that starts a word, outside a quoted string. */
static void strip_comment(char *s)
{
    int quoted = 0;
    for (char *p = s; *p; p++) {
        if (*p == '"' && (p == s || p[-1] != '\\'))
            quoted = !quoted;
        else if (*p == '#' && !quoted && (p == s || p[-1] == ' ' || p[-1] == '\t')) {
            *p = 0;
            return;
        }
    }
}

static int parse_line(etls_config_t *c, pstate_t *ps, char *line)
{
    strip_comment(line);
    char *s = trim(line);
    if (!*s)
        return 0;
    if (*s == '[') {
        size_t n = strlen(s);
        if (s[n - 1] != ']')
            return perr(ps, "bad section header '%s'", s);
        s[n - 1] = 0;
        return open_section(c, ps, trim(s + 1));
    }
    char *val = s + strcspn(s, " \t");
    if (*val)
        *val++ = 0;
    return apply_key(c, ps, s, trim(val));
}

int etls_config_parse_buf(etls_config_t *c, const char *name, const char *buf, size_t len,
                          char *err, size_t errlen)
{
    pstate_t ps = {.name = name ? name : "config", .err = err, .errlen = errlen};
    char line[ETLS_CONFIG_LINE_MAX];
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;
        ps.line++;
        if (n >= sizeof line)
            return perr(&ps, "line longer than %d bytes", ETLS_CONFIG_LINE_MAX - 1);
        if (memchr(buf + pos, 0, n))
            return perr(&ps, "NUL byte in configuration");
        memcpy(line, buf + pos, n);
        line[n] = 0;
        pos += n + 1;
        ETLS_GUARD(parse_line(c, &ps, line));
    }
    return close_section(c, &ps);
}

int etls_config_load_file(etls_config_t *c, const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return ETLS_ERR_INVALID;
    }
    char *buf = malloc(ETLS_CONFIG_FILE_MAX + 1);
    size_t len = 0;
    ssize_t r = 1;
    while (buf && len <= ETLS_CONFIG_FILE_MAX && (r = read(fd, buf + len, ETLS_CONFIG_FILE_MAX + 1 - len)) > 0)
        len += (size_t)r;
    int saved = errno;
    close(fd);
    int rc = ETLS_ERR_INVALID;
    if (!buf)
        snprintf(err, errlen, "%s: out of memory", path);
    else if (r < 0)
        snprintf(err, errlen, "%s: read error: %s", path, strerror(saved));
    else if (len > ETLS_CONFIG_FILE_MAX)
        snprintf(err, errlen, "%s: larger than %u bytes", path, ETLS_CONFIG_FILE_MAX);
    else {
        rc = etls_config_parse_buf(c, path, buf, len, err, errlen);
        if (rc == 0)
            snprintf(c->source, sizeof c->source, "%s", path);
    }
    free(buf);
    return rc;
}

const char *etls_mode_name(etls_mode_t m)
{
    switch (m) {
    case ETLS_MODE_RESPONDER: return "responder";
    case ETLS_MODE_PROXY: return "proxy";
    case ETLS_MODE_ECHO: return "echo";
    }
    return "?";
}

void etls_config_defaults(etls_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->mode = ETLS_MODE_RESPONDER;
    c->log_level = ETLS_LOG_INFO;
    c->max_connections = 8192;
    c->buffer_size = 65536;
    c->max_header_size = 8192;
    c->handshake_timeout_ms = 10000;
    c->idle_timeout_ms = 60000;
    c->shutdown_timeout_ms = 5000;
    c->uring_entries = 4096;
    c->crypto_batch = 64;
    c->session_tickets = 1;
    c->protocols = 3; /* TLS 1.2 and TLS 1.3 */
    c->ticket_rotation_s = 3600;
    snprintf(c->state_dir, sizeof c->state_dir, "%s", "/var/lib/edgetls");
    static const char body[] = "hello from edgetls\n";
    memcpy(c->body, body, sizeof body);
    c->body_len = sizeof body - 1;
    c->response_size = -1;
    c->response_size_max = 1ull << 30;
}

/* The command line sets global keys through the same handlers as the file, so values are
 * checked identically; a flag given twice simply overrides (seen[] is per call). */
int etls_config_set_global(etls_config_t *c, const char *key, const char *val, char *err, size_t errlen)
{
    pstate_t ps = {.name = NULL, .err = err, .errlen = errlen, .sec = SEC_GLOBAL};
    char buf[ETLS_CONFIG_LINE_MAX];
    if (strlen(val) >= sizeof buf)
        return perr(&ps, "%s: value too long", key);
    strcpy(buf, val);
    return apply_key(c, &ps, key, trim(buf));
}

int etls_config_set_cert_names(etls_config_t *c, size_t idx, const char *val, char *err, size_t errlen)
{
    pstate_t ps = {.name = NULL, .err = err, .errlen = errlen, .sec = SEC_CERT};
    char buf[ETLS_CONFIG_LINE_MAX];
    if (idx >= c->ncerts || strlen(val) >= sizeof buf)
        return perr(&ps, "--sni: no certificate to name");
    strcpy(buf, val);
    size_t saved = c->ncerts;
    c->ncerts = idx + 1; /* item_name names the last certificate */
    c->certs[idx].nnames = 0;
    int rc = k_cert_names(c, &ps, "--sni", buf);
    c->ncerts = saved;
    return rc;
}
