/* Load-time validation of one certificate entry before anything is committed (issue #10):
 * PEM/DER errors, key/leaf match, chain order, path to a trust anchor (the configured CA bundle,
 * default the system one, or a self-signed root inside the file), a missing intermediate named by
 * its issuer's subject, validity period (expiring within warn_days is a warning), requested names
 * covered by the leaf's subjectAltName (RFC 6125 wildcard rules; --force skips only this check),
 * weak keys (RSA < 2048), keyUsage/extendedKeyUsage forbidding TLS server use.
 *
 * Messages are single lines that name the entry, e.g.
 *   "cert www: chain: certificate 2 (CN=Example Intermediate) does not sign certificate 1 (CN=www.example.com): chain out of order"
 * The checks run on OpenSSL (X509_verify_cert for the path); nothing here touches the network.
 * Thread-compatible: no global state beyond OpenSSL's. */
#ifndef ETLS_CONTROL_VALIDATE_H
#define ETLS_CONTROL_VALIDATE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define ETLS_VAL_MSG 512
#define ETLS_VAL_MAX_WARN 8
#define ETLS_VAL_MAX_NAMES 256

typedef struct etls_val_opts {
    const char *ca_file;  /* PEM bundle of trust anchors; NULL: OpenSSL's default paths */
    const char *ca_path;  /* hashed directory of anchors (optional, may be NULL) */
    unsigned warn_days;   /* not-after within this many days: a warning (default 30 by callers) */
    int force;            /* skip only the "names not covered by subjectAltName" check */
    time_t now;           /* 0: time(NULL); tests set it */
} etls_val_opts_t;

/* What a validated certificate is, for `cert show` / `cert list`. Strings are NUL-terminated
 * and truncated to fit. */
typedef struct etls_val_info {
    char subject[256];        /* RFC 2253 one-line form of the leaf subject */
    char issuer[256];
    char serial[80];          /* hex, upper case, no separators */
    char not_before[32];      /* "2026-12-07T04:18:12Z" */
    char not_after[32];
    time_t not_after_t;
    char key_type[16];        /* "ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-4096", "ed25519" */
    char fingerprint[65];     /* SHA-256 of the leaf DER, lower-case hex */
    size_t n_chain;           /* certificates in the file, leaf first */
    char chain_subjects[8][256]; /* subjects of the first 8 certificates, leaf first */
    size_t n_sans;
    char sans[ETLS_VAL_MAX_NAMES][256]; /* DNS subjectAltNames of the leaf, lower-case */
    int must_staple;          /* TLS Feature status_request present */
    size_t n_warnings;
    char warnings[ETLS_VAL_MAX_WARN][ETLS_VAL_MSG];
} etls_val_info_t;

/* What `cert list` shows of a certificate, from its leaf alone (no chain building, no key):
 * about a tenth of the cost of etls_val_check. */
typedef struct etls_val_brief {
    char serial[80];
    char not_after[32];
    time_t not_after_t;
    char fingerprint[65];
} etls_val_brief_t;
/* The brief of the first certificate in chain_pem; -1 when it does not parse. */
int etls_val_brief(const char *chain_pem, size_t chain_len, etls_val_brief_t *out);

/* Validates one entry. `entry` names it in messages; chain_pem/key_pem are the file contents
 * (leaf first, then intermediates, optionally the root); names are the SNI names the entry is
 * to serve (NULL/0: the leaf's DNS SANs). Returns 0 (warnings in info->warnings) or -1 with one
 * line in err. info may be NULL. The key bytes are wiped from any temporary copy. */
int etls_val_check(const char *entry, const char *chain_pem, size_t chain_len, const char *key_pem,
                   size_t key_len, const char *const *names, size_t n_names,
                   const etls_val_opts_t *opts, etls_val_info_t *info, char *err, size_t errlen);

/* RFC 6125 §6.4.3 as browsers apply it: does the presented identifier `pattern` (from a SAN,
 * lower-case, maybe "*.example.com") cover the requested name `name` (maybe itself a wildcard
 * "*.example.com", which only an identical wildcard covers)? Case-insensitive. */
int etls_val_name_covered(const char *pattern, const char *name);

#endif
