/* Test support for the TLS engine: certificates made with OpenSSL at run time (no committed
 * keys), a server context, a per-worker environment with or without a batch, and a pump that
 * moves bytes between an OpenSSL libssl client (memory BIOs) and the engine. */
#ifndef ETLS_TESTS_TLS_HARNESS_H
#define ETLS_TESTS_TLS_HARNESS_H

#include "tls/tls.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

typedef enum { KEY_ECDSA = 0, KEY_RSA = 1, KEY_ED25519 = 2, KEY_COUNT } key_type_t;

/* A generated key and self-signed certificate for `names` (comma-separated DNS names). */
typedef struct test_cert {
    EVP_PKEY *pkey;
    X509 *x509;
    uint8_t *der;
    size_t der_len;
} test_cert_t;

int test_cert_make(test_cert_t *tc, key_type_t type, const char *names);
void test_cert_free(test_cert_t *tc);
/* Adds tc to ctx (copies; ctx owns its copy). names NULL = from the certificate. */
int test_ctx_add(etls_tls_server_ctx_t *ctx, const test_cert_t *tc, const char *names, int is_default);

/* Same, with extra DER certificates after the leaf in the chain (n_extra < ETLS_CHAIN_MAX). */
int test_ctx_add_chain(etls_tls_server_ctx_t *ctx, const test_cert_t *tc, const test_cert_t *extra,
                       size_t n_extra);

/* Per-worker environment: batch_cap 0 = no batch (inline crypto). */
typedef struct test_env {
    etls_rand_t rng;
    etls_tls_env_t env;
} test_env_t;
/* Also a handshake-state pool of 4 (more concurrent handshakes use malloc'd states). */
int test_env_init(test_env_t *te, size_t batch_cap);
/* Returns how many handshake states were still borrowed (0 when every one came back). */
size_t test_env_free(test_env_t *te);
/* Runs the batch and resumes nothing (single-connection tests call feed again themselves). */
void test_env_run(test_env_t *te);
/* Feeds all of in to c, running te's batch whenever the engine parks work, until an error, all
 * input is consumed, or the engine takes nothing more; returns the last code (never
 * ETLS_ERR_IN_PROGRESS) and, if consumed is not NULL, the bytes taken. */
int test_feed_all(test_env_t *te, etls_tls_conn_t *c, const uint8_t *in, size_t len, size_t *consumed,
                  etls_tls_buf_t *out, etls_tls_buf_t *app);

/* One connection: OpenSSL client <-> engine server. */
typedef struct test_pair {
    SSL *ssl;
    BIO *c_rbio, *c_wbio; /* client reads c_rbio, writes c_wbio */
    etls_tls_conn_t *conn;
    test_env_t *te;
    uint8_t *in;
    size_t in_len, in_cap;
    etls_tls_buf_t out, app;
    uint8_t *got; /* application data the server received */
    size_t got_len, got_cap;
    int srv_rc;          /* last error from the engine (0 while healthy) */
    int client_alert;    /* last alert the client received, -1 none */
    size_t max_in_chunk; /* feed at most this many bytes per call (0 = all) */
} test_pair_t;

/* Client SSL_CTX for TLS 1.3 only, trusting `trust` (may be NULL: no verification). */
SSL_CTX *test_client_ctx(const test_cert_t *trust);
int test_pair_init(test_pair_t *p, SSL_CTX *cctx, const etls_tls_server_ctx_t *sctx, test_env_t *te);
void test_pair_free(test_pair_t *p);
/* Moves client output into the engine and engine output to the client. Returns srv_rc. */
int test_pair_server_step(test_pair_t *p);
/* Drives the handshake to completion on both sides; 0 on success. */
int test_pair_handshake(test_pair_t *p);
/* Server sends data (through etls_tls_send) to the client's BIO. */
int test_pair_server_send(test_pair_t *p, const uint8_t *data, size_t len);
/* Client reads exactly len bytes (driving the server as needed). */
int test_pair_client_read(test_pair_t *p, uint8_t *buf, size_t len);

#endif
