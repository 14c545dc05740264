/* edgetls dataplane configuration: the line-oriented configuration file and the command line.
 *
 * Format (documented for users in conf/edgetls.conf.example):
 *
 *   # comment                     blank lines and '#' comments are ignored
 *   key value...                  global settings before the first section
 *   [listener]                    one per listening address (several allowed)
 *   address 127.0.0.1:8443
 *   [cert]                        one per certificate; selected by SNI (exact, wildcard, default)
 *   names localhost *.example.com default
 *   chain /path/chain.pem
 *   key   /path/key.pem
 *   [backend]                     proxy mode: backends are used round-robin
 *   address 127.0.0.1:8080
 *   proxy_protocol v2
 *
 * Parsing is pure: it never opens certificate files (etls_config_validate only checks they are
 * readable); loading certificates is the caller's job. Every error message starts with
 * "FILE:LINE: " (or "command line: ") so an operator can go straight to the mistake.
 *
 * Ownership: etls_config_t is a fixed-size, self-contained value (no pointers), filled by the
 * caller-owned functions below. It is read-only once the workers start. */
#ifndef ETLS_CONFIG_CONFIG_H
#define ETLS_CONFIG_CONFIG_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define ETLS_CONFIG_MAX_LISTENERS 16
#define ETLS_CONFIG_MAX_CERTS 32
#define ETLS_CONFIG_MAX_BACKENDS 32
#define ETLS_CONFIG_MAX_NAMES 8 /* SNI names per [cert] */
#define ETLS_CONFIG_NAME_MAX 254 /* a DNS name plus NUL */
#define ETLS_CONFIG_PATH_MAX 1024
#define ETLS_CONFIG_MAX_SUITES 16
#define ETLS_CONFIG_MAX_GROUPS 8
#define ETLS_CONFIG_ALPN_MAX 256 /* wire-format protocol_name_list */
#define ETLS_CONFIG_MAX_CPUS 256
#define ETLS_CONFIG_BODY_MAX 4096
#define ETLS_CONFIG_LINE_MAX 4096
#define ETLS_CONFIG_FILE_MAX (1u << 20)

typedef enum {
    ETLS_MODE_RESPONDER = 0, /* built-in static HTTP/1.1 response */
    ETLS_MODE_PROXY = 1,     /* plaintext to a backend over TCP */
    ETLS_MODE_ECHO = 2,      /* application data echoed back */
} etls_mode_t;

typedef enum {
    ETLS_TRANSPORT_IO_URING = 0, /* kernel TCP sockets driven by io_uring (default) */
    ETLS_TRANSPORT_DPDK = 1,     /* kernel bypass (dataplane/dpdk), when built with libdpdk */
} etls_transport_t;

typedef enum {
    ETLS_LOG_ERROR = 0,
    ETLS_LOG_WARN = 1,
    ETLS_LOG_INFO = 2,
    ETLS_LOG_DEBUG = 3,
} etls_log_level_t;

typedef struct etls_config_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    char text[80]; /* as written, normalised: "127.0.0.1:8443", "[::1]:8443" */
} etls_config_addr_t;

/* Client certificates (TLS 1.3): client_auth off|optional|required, client_ca FILE (PEM trust
 * anchors), client_crl FILE (optional PEM CRLs), client_verify_depth N (intermediates, 0..16,
 * default 4), per [listener] and per [cert]; a [cert]'s client_auth wins over the listener's. */
typedef struct etls_config_client_auth {
    int set;   /* client_auth was given in this section (all zero: nothing given) */
    int mode;  /* 0 off, 1 optional, 2 required (tls.h ETLS_TLS_CLIENT_AUTH_* values) */
    int depth_set;
    int depth; /* client_verify_depth when depth_set, else the default (4) */
    char ca[ETLS_CONFIG_PATH_MAX];
    char crl[ETLS_CONFIG_PATH_MAX];
} etls_config_client_auth_t;

typedef struct etls_config_listener {
    etls_config_addr_t addr;
    int tls;  /* 1 (default); 0 = plaintext listener, for tests and debugging */
    int line; /* where it was declared; 0 = command line */
    etls_config_client_auth_t client;
} etls_config_listener_t;

typedef struct etls_config_cert {
    size_t nnames; /* 0 = use the DNS names in the certificate itself */
    char names[ETLS_CONFIG_MAX_NAMES][ETLS_CONFIG_NAME_MAX]; /* "host", "*.domain", "default" */
    char chain[ETLS_CONFIG_PATH_MAX]; /* PEM chain, leaf first */
    char key[ETLS_CONFIG_PATH_MAX];   /* PEM private key */
    int line;
    etls_config_client_auth_t client;
} etls_config_cert_t;

typedef struct etls_config_backend {
    etls_config_addr_t addr;
    int proxy_v2; /* send a PROXY protocol v2 header first */
    int line;
} etls_config_backend_t;

typedef struct etls_config {
    char source[ETLS_CONFIG_PATH_MAX]; /* configuration file name, "" when none */
    etls_mode_t mode;
    etls_transport_t transport;
    etls_log_level_t log_level;

    size_t nlisteners;
    etls_config_listener_t listeners[ETLS_CONFIG_MAX_LISTENERS];
    size_t ncerts;
    etls_config_cert_t certs[ETLS_CONFIG_MAX_CERTS];
    size_t nbackends;
    etls_config_backend_t backends[ETLS_CONFIG_MAX_BACKENDS];

    size_t alpn_len; /* 0 = no ALPN preference (accept without ALPN) */
    uint8_t alpn[ETLS_CONFIG_ALPN_MAX];      /* RFC 7301 wire format: len-prefixed names */
    size_t nsuites;                          /* 0 = engine defaults */
    uint16_t suites[ETLS_CONFIG_MAX_SUITES]; /* IANA cipher-suite code points, preference order */
    size_t ngroups;                          /* 0 = engine defaults */
    uint16_t groups[ETLS_CONFIG_MAX_GROUPS]; /* IANA NamedGroup code points, preference order */

    unsigned workers; /* 0 = one per online CPU */
    size_t ncpus;     /* 0 = worker i on CPU i modulo the CPU count */
    uint16_t cpus[ETLS_CONFIG_MAX_CPUS];

    uint32_t max_connections;   /* per worker */
    uint32_t buffer_size;       /* per connection and direction, bytes */
    uint32_t max_header_size;   /* responder: request head limit, bytes */
    uint32_t handshake_timeout_ms;
    uint32_t idle_timeout_ms;
    uint32_t shutdown_timeout_ms; /* graceful shutdown: bound on the wait for connections */
    uint32_t uring_entries;       /* submission queue size per worker */
    uint32_t crypto_batch;        /* crypto batch queue capacity per worker; 1 = unbatched */

    /* Session tickets (RFC 8446 §4.6.1): on by default. Keys are derived per rotation period
     * from a seed: ticket_key_file's (shared by every process and host that reads it) or a
     * random one per process ("" = random). */
    uint8_t session_tickets;
    /* protocols: bit 0 TLS 1.2, bit 1 TLS 1.3 (tls.h ETLS_TLS_PROTO_*); default both.
     * tls12_require_ems: refuse TLS 1.2 clients without extended_master_secret (RFC 7627). */
    uint8_t protocols;
    uint8_t tls12_require_ems;
    /* tls12_rsa_kx: allow the legacy RSA key exchange suites (TLS_RSA_WITH_AES_128/256_GCM,
     * no forward secrecy); off by default, and listing them in ciphers without it is an error. */
    uint8_t tls12_rsa_kx;
    uint32_t ticket_rotation_s;                /* key period and ticket lifetime */
    char ticket_key_file[ETLS_CONFIG_PATH_MAX];

    /* The control plane (edgetls-control): certificates and ticket keys come from its dataplane
     * socket ("" = none: everything from this configuration, as without a control plane).
     * state_dir is its state directory, read (only) when the socket cannot be reached at
     * start-up, to serve the last committed version. */
    char control_socket[ETLS_CONFIG_PATH_MAX];
    char state_dir[ETLS_CONFIG_PATH_MAX];

    size_t body_len; /* responder: the response body */
    char body[ETLS_CONFIG_BODY_MAX];
    /* responder: synthetic bodies (dataplane/http/http.h). response_size >= 0 replaces body
     * with that many pattern bytes; response_size_max bounds GET /bytes/N. */
    int64_t response_size;        /* -1 = serve body */
    uint64_t response_size_max;
} etls_config_t;

/* Limits enforced by the parser (also documented in the example configuration). */
#define ETLS_CONFIG_MIN_BUFFER 4096u
#define ETLS_CONFIG_MAX_BUFFER (16u << 20)
#define ETLS_CONFIG_MAX_WORKERS 256u
#define ETLS_CONFIG_MAX_CONNECTIONS 1000000u
#define ETLS_CONFIG_MAX_RESPONSE_SIZE (1ull << 40) /* response_size, response_size_max */

void etls_config_defaults(etls_config_t *c);

/* Parses configuration text into c (which holds defaults or earlier values); `name` is used in
 * error messages. On error returns ETLS_ERR_INVALID with "name:line: reason" in err. */
int etls_config_parse_buf(etls_config_t *c, const char *name, const char *buf, size_t len,
                          char *err, size_t errlen);
/* Reads and parses a file (at most ETLS_CONFIG_FILE_MAX bytes). */
int etls_config_load_file(etls_config_t *c, const char *path, char *err, size_t errlen);

/* Semantic checks after everything is parsed: at least one listener, no duplicate listeners,
 * certificates for TLS listeners, backends in proxy mode, readable files, sane timeouts. */
int etls_config_validate(const etls_config_t *c, char *err, size_t errlen);

/* Command line. */
typedef struct etls_cli {
    int help;    /* --help: print usage, exit 0 */
    int version; /* --version */
    int check;   /* --check: validate configuration and exit */
    int rest;    /* index in argv of the first argument after "--" (DPDK EAL and transport
                  * options), 0 when there is none */
} etls_cli_t;

/* Defaults, then --config FILE (when given), then every other flag overriding the file, then
 * etls_config_validate (skipped for --help/--version). Returns 0 or ETLS_ERR_INVALID with a
 * message in err (the caller exits with status 2). */
int etls_config_from_args(etls_config_t *c, etls_cli_t *cli, int argc, char **argv, char *err,
                          size_t errlen);
void etls_config_usage(FILE *f, const char *argv0);

/* One global key as on a configuration line (used by the command line; messages start with
 * "command line: "). */
int etls_config_set_global(etls_config_t *c, const char *key, const char *val, char *err, size_t errlen);
/* Replaces the SNI names of certificate idx (the --sni flag). */
int etls_config_set_cert_names(etls_config_t *c, size_t idx, const char *val, char *err, size_t errlen);

/* Helpers shared with tests and the dataplane. */
int etls_config_parse_addr(etls_config_addr_t *a, const char *text);
const char *etls_mode_name(etls_mode_t m);
const char *etls_suite_name(uint16_t suite); /* NULL when unknown */
const char *etls_group_name(uint16_t group); /* NULL when unknown */

#endif
