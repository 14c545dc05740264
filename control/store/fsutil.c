/* File-system helpers for the store: whole-file reads and writes, hashing, removal, listing. */
#include "store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void etls_store_sha(const void *p, size_t n, uint8_t out[32])
{
    unsigned int len = 32;
    if (!EVP_Digest(p, n, out, &len, EVP_sha256(), NULL))
        memset(out, 0, 32); /* cannot match a real file's hash by accident: caught as mismatch */
}

int etls_store_sha_file(int dfd, const char *name, uint8_t out[32])
{
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ? 0 : -ENOMEM;
    char buf[65536];
    while (rc == 0) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = -errno;
        else if (r == 0)
            break;
        else if (!EVP_DigestUpdate(ctx, buf, (size_t)r))
            rc = -ENOMEM;
    }
    unsigned int len = 32;
    if (rc == 0 && !EVP_DigestFinal_ex(ctx, out, &len))
        rc = -ENOMEM;
    EVP_MD_CTX_free(ctx);
    close(fd);
    return rc;
}

static int read_all(int fd, char *p, size_t n)
{
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -errno : -EIO; /* shorter than fstat said: changed under us */
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int etls_store_read_file(int dfd, const char *name, size_t max, char **buf, size_t *len)
{
    struct stat sb;
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ELOOP ? -EINVAL : -errno;
    int rc = fstat(fd, &sb) ? -errno : 0;
    if (rc == 0 && !S_ISREG(sb.st_mode))
        rc = -EINVAL;
    if (rc == 0 && (uint64_t)sb.st_size > max)
        rc = -EFBIG;
    char *p = rc ? NULL : malloc((size_t)sb.st_size + 1);
    if (rc == 0 && !p)
        rc = -ENOMEM;
    if (rc == 0)
        rc = read_all(fd, p, (size_t)sb.st_size);
    close(fd);
    if (rc) {
        free(p);
        return rc;
    }
    p[sb.st_size] = 0;
    *buf = p;
    *len = (size_t)sb.st_size;
    return 0;
}

int etls_store_write_file(int dfd, const char *name, const void *data, size_t len)
{
    return etls_store_write_file_sync(dfd, name, data, len, 1);
}

int etls_store_write_file_sync(int dfd, const char *name, const void *data, size_t len, int sync)
{
    int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    /* The umask can only take bits away; fchmod makes the mode exact either way. */
    int rc = fchmod(fd, 0600) ? -errno : 0;
    const char *p = data;
    while (rc == 0 && len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            rc = -errno;
        else {
            p += w;
            len -= (size_t)w;
        }
    }
    if (rc == 0 && sync)
        rc = etls_store_fsync_fd(fd);
    if (close(fd) && rc == 0)
        rc = -errno;
    return rc;
}

int etls_store_fsync_fd(int fd)
{
    while (fsync(fd))
        if (errno != EINTR)
            return -errno;
    return 0;
}

int etls_store_list_names(int fd, char ***names, size_t *n)
{
    int dup_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dup_fd < 0 ? NULL : fdopendir(dup_fd);
    if (!d) {
        int e = errno;
        if (dup_fd >= 0)
            close(dup_fd);
        return -e;
    }
    char **v = NULL;
    size_t k = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (k == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                rc = -ENOMEM;
                break;
            }
            v = nv;
        }
        if (!(v[k] = strdup(de->d_name)))
            rc = -ENOMEM;
        else
            k++;
    }
    closedir(d);
    if (rc) {
        etls_store_free_names(v, k);
        return rc;
    }
    *names = v;
    *n = k;
    return 0;
}

void etls_store_free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static int rm_level(int parent, const char *name, int depth)
{
    if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
        return 0;
    if ((errno != EISDIR && errno != EPERM) || depth == 0)
        return -errno;
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    char **names;
    size_t n;
    int rc = etls_store_list_names(fd, &names, &n);
    if (rc == 0) {
        for (size_t i = 0; rc == 0 && i < n; i++)
            rc = rm_level(fd, names[i], depth - 1);
        etls_store_free_names(names, n);
    }
    close(fd);
    if (rc == 0 && unlinkat(parent, name, AT_REMOVEDIR) && errno != ENOENT)
        rc = -errno;
    return rc;
}

int etls_store_rm_tree(int parent, const char *name)
{
    return rm_level(parent, name, 2);
}

int etls_store_parse_version(const char *s, uint64_t *v)
{
    uint64_t x = 0;
    if (!s[0] || s[0] == '0')
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || x > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return -1;
        x = x * 10 + (uint64_t)(*p - '0');
    }
    *v = x;
    return 0;
}

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

int etls_store_list_versions(const etls_store_t *s, uint64_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (s->vfd < 0)
        return 0;
    char **names;
    size_t k;
    int rc = etls_store_list_names(s->vfd, &names, &k);
    if (rc)
        return rc;
    uint64_t *v = malloc((k ? k : 1) * sizeof *v);
    if (!v) {
        etls_store_free_names(names, k);
        return -ENOMEM;
    }
    for (size_t i = 0; i < k; i++)
        if (etls_store_parse_version(names[i], &v[*n]) == 0 && v[*n] <= s->current)
            (*n)++;
    etls_store_free_names(names, k);
    qsort(v, *n, sizeof *v, cmp_desc);
    *out = v;
    return 0;
}
