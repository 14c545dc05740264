/* Reads test vectors flattened by tests/vectors/flatten.py: one case per line, key=value pairs. */
#ifndef ETLS_TESTS_VECTORS_H
#define ETLS_TESTS_VECTORS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    FILE *f;
    char *line;
    size_t cap;
    unsigned long lineno;
} etls_tv_t;

/* Opens a vector file; exits the test with a message when it is missing. */
void etls_tv_open(etls_tv_t *tv, const char *path);
/* Next case; 0 at end of file. */
int etls_tv_next(etls_tv_t *tv);
void etls_tv_close(etls_tv_t *tv);
/* Field value as a NUL-terminated string in a static buffer, or NULL when absent. */
const char *etls_tv_str(etls_tv_t *tv, const char *key);
/* Field hex-decoded into out; returns the length, or -1 when absent or malformed. */
long etls_tv_hex(etls_tv_t *tv, const char *key, uint8_t *out, size_t cap);
long etls_tv_int(etls_tv_t *tv, const char *key, long dflt);
/* True when the comma-separated "flags" field contains flag. */
int etls_tv_has_flag(etls_tv_t *tv, const char *flag);

#endif
