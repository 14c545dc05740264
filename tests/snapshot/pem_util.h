/* Test helper: a self-signed P-256 certificate and its key as PEM text, for snapshot tests and
 * the snapshot scale benchmark. */
#ifndef ETLS_TESTS_SNAPSHOT_PEM_UTIL_H
#define ETLS_TESTS_SNAPSHOT_PEM_UTIL_H

#include <stddef.h>

typedef struct pem_pair {
    char *chain, *key;
    size_t chain_len, key_len;
} pem_pair_t;

/* A leaf for `name` (its only SAN), valid for a day; aborts the test on failure. */
pem_pair_t make_cert(const char *name);
void pem_pair_free(pem_pair_t *pp);

#endif
