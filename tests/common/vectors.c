#include "vectors.h"

#include "test.h"

#include <stdlib.h>
#include <string.h>

void etls_tv_open(etls_tv_t *tv, const char *path)
{
    memset(tv, 0, sizeof *tv);
    tv->f = fopen(path, "r");
    if (!tv->f) {
        fprintf(stderr, "cannot open test vectors %s\n", path);
        exit(2);
    }
}

int etls_tv_next(etls_tv_t *tv)
{
    ssize_t n = getline(&tv->line, &tv->cap, tv->f);
    if (n <= 0)
        return 0;
    if (tv->line[n - 1] == '\n')
        tv->line[n - 1] = '\0';
    tv->lineno++;
    return 1;
}

void etls_tv_close(etls_tv_t *tv)
{
    if (tv->f)
        fclose(tv->f);
    free(tv->line);
    memset(tv, 0, sizeof *tv);
}

/* Finds "key=" at the start of a space-separated field; returns the value and its length. */
static const char *find(etls_tv_t *tv, const char *key, size_t *len)
{
    size_t klen = strlen(key);
    for (const char *p = tv->line; p && *p;) {
        if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
            const char *v = p + klen + 1, *end = strchr(v, ' ');
            *len = end ? (size_t)(end - v) : strlen(v);
            return v;
        }
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    return NULL;
}

const char *etls_tv_str(etls_tv_t *tv, const char *key)
{
    static char buf[65536];
    size_t len;
    const char *v = find(tv, key, &len);
    if (!v || len >= sizeof buf)
        return NULL;
    memcpy(buf, v, len);
    buf[len] = '\0';
    return buf;
}

long etls_tv_hex(etls_tv_t *tv, const char *key, uint8_t *out, size_t cap)
{
    size_t len;
    const char *v = find(tv, key, &len);
    if (!v)
        return -1;
    return etls_hex_decode(v, len, out, cap);
}

long etls_tv_int(etls_tv_t *tv, const char *key, long dflt)
{
    const char *s = etls_tv_str(tv, key);
    return s ? strtol(s, NULL, 10) : dflt;
}

int etls_tv_has_flag(etls_tv_t *tv, const char *flag)
{
    const char *s = etls_tv_str(tv, "flags");
    size_t fl = strlen(flag);
    for (const char *p = s; p && *p;) {
        if (strncmp(p, flag, fl) == 0 && (p[fl] == ',' || p[fl] == '\0'))
            return 1;
        p = strchr(p, ',');
        if (p)
            p++;
    }
    return 0;
}
