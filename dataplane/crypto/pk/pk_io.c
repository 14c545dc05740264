/* Error text, bounded file input and PEM block iteration for the pk loaders. */
#include "crypto/pk/pk_internal.h"

#include "common/ct.h"
#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

void etls_pk_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int read_all(int fd, uint8_t *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 ? ETLS_ERR_INVALID : ETLS_ERR_IO; /* shrank under us */
        got += (size_t)n;
    }
    return 0;
}

int etls_pk_file_read(const char *path, uint8_t **buf, size_t *len, char *err, size_t errlen)
{
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        etls_pk_errf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return ETLS_ERR_IO;
    }
    struct stat st;
    int rc = ETLS_ERR_IO;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        etls_pk_errf(err, errlen, "%s: not a regular file", path);
    else if ((uint64_t)st.st_size > ETLS_PK_FILE_MAX)
        etls_pk_errf(err, errlen, "%s: file too large (%lld bytes, limit %u)", path,
                     (long long)st.st_size, ETLS_PK_FILE_MAX);
    else if (st.st_size == 0)
        etls_pk_errf(err, errlen, "%s: empty file", path), rc = ETLS_ERR_INVALID;
    else if (!(*buf = malloc((size_t)st.st_size)))
        rc = ETLS_ERR_NOMEM, etls_pk_errf(err, errlen, "%s: out of memory", path);
    else if ((rc = read_all(fd, *buf, (size_t)st.st_size)) < 0) {
        etls_pk_errf(err, errlen, "%s: read failed: %s", path,
                     rc == ETLS_ERR_IO ? strerror(errno) : "file changed while reading");
        free(*buf);
        *buf = NULL;
    } else {
        *len = (size_t)st.st_size;
        rc = 0;
    }
    close(fd);
    return rc;
}

void etls_pk_file_free(uint8_t *buf, size_t len)
{
    etls_wipe(buf, len);
    free(buf);
}

int etls_pk_pem_next(BIO *bio, etls_pem_block_t *b)
{
    memset(b, 0, sizeof *b);
    ERR_set_mark();
    /* PEM_FLAG_SECURE: the decoded bytes and OpenSSL's line buffers are wiped when freed. */
    if (PEM_read_bio_ex(bio, &b->name, &b->header, &b->data, &b->len,
                        PEM_FLAG_SECURE | PEM_FLAG_EAY_COMPATIBLE) == 1) {
        ERR_pop_to_mark();
        return 1;
    }
    unsigned long e = ERR_peek_last_error();
    ERR_pop_to_mark();
    memset(b, 0, sizeof *b);
    /* No further "-----BEGIN" line is the normal end of input; anything else is a broken block. */
    return ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE
               ? 0
               : ETLS_ERR_INVALID;
}

void etls_pk_pem_free(etls_pem_block_t *b)
{
    OPENSSL_secure_free(b->name);
    OPENSSL_secure_free(b->header);
    OPENSSL_secure_clear_free(b->data, b->len > 0 ? (size_t)b->len : 0);
    memset(b, 0, sizeof *b);
}

int etls_pkey_file_check_mode(const char *path, char *msg, size_t msglen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(msg, msglen, "%s: cannot examine the key file: %s", path, strerror(errno));
        return ETLS_ERR_IO;
    }
    unsigned mode = (unsigned)st.st_mode & 07777;
    if (mode & (S_IROTH | S_IWOTH | S_IWGRP)) {
        snprintf(msg, msglen, "%s: private key is %s (mode %04o); run: chmod 600 %s", path,
                 (mode & (S_IROTH | S_IWOTH)) ? "accessible to every user" : "writable by its group",
                 mode, path);
        return ETLS_ERR_INVALID;
    }
    if (mode & S_IRGRP) {
        snprintf(msg, msglen, "%s: private key is readable by group %u (mode %04o)", path,
                 (unsigned)st.st_gid, mode);
        return 1;
    }
    snprintf(msg, msglen, "%s: mode %04o", path, mode);
    return 0;
}
