/* edgetlsctl's I/O: files it reads and writes, and the one request/reply exchange with
 * edgetls-control. All socket waits go through poll() against one deadline, so a daemon that
 * accepts but never answers cannot hang a script. */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define REPLY_HDR_MAX 64 /* > "<15 letters> <20 digits>\n" */

void ctl_buf_free(ctl_buf_t *b)
{
    if (b->p) {
        explicit_bzero(b->p, b->len);
        free(b->p);
    }
    *b = (ctl_buf_t){0};
}

static int read_fd(int fd, const char *path, size_t max, ctl_buf_t *out)
{
    out->p = malloc(max + 1);
    out->len = 0;
    if (!out->p) {
        fprintf(stderr, "edgetlsctl: out of memory reading %s\n", path);
        return -1;
    }
    for (;;) {
        ssize_t n = read(fd, out->p + out->len, max + 1 - out->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "edgetlsctl: cannot read %s: %s\n", path, strerror(errno));
            return -1;
        }
        if (n == 0)
            return 0;
        out->len += (size_t)n;
        if (out->len > max) {
            fprintf(stderr, "edgetlsctl: %s is larger than the limit of %zu bytes\n", path, max);
            return -1;
        }
    }
}

int ctl_read_file(const char *path, size_t max, int private_only, ctl_buf_t *out)
{
    *out = (ctl_buf_t){0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        fprintf(stderr, "edgetlsctl: cannot read %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (private_only && (st.st_mode & (S_IRGRP | S_IROTH))) {
        fprintf(stderr,
                "edgetlsctl: %s is readable by group or others (mode %04o); it holds secret "
                "ticket keys: chmod 600 %s\n",
                path, (unsigned)(st.st_mode & 07777), path);
        close(fd);
        return -1;
    }
    int rc = read_fd(fd, path, max, out);
    close(fd);
    if (rc < 0)
        ctl_buf_free(out);
    return rc;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The rename is only durable once the directory entry is on disk too. */
static void sync_dir(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash == path ? 1 : slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int ctl_write_atomic(const char *path, const uint8_t *p, size_t n)
{
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        fprintf(stderr, "edgetlsctl: %s: path too long\n", path);
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "edgetlsctl: cannot create %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    const char *step = "write";
    int rc = write_all(fd, p, n);
    if (rc == 0 && (step = "fsync", fsync(fd) < 0))
        rc = -1;
    int e = errno;
    if (close(fd) < 0 && rc == 0)
        rc = -1, e = errno, step = "close";
    if (rc == 0 && (step = "rename", rename(tmp, path) < 0))
        rc = -1, e = errno;
    if (rc < 0) {
        fprintf(stderr, "edgetlsctl: cannot write %s (%s): %s\n", path, step, strerror(e));
        unlink(tmp);
        return -1;
    }
    sync_dir(path);
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 ready, 0 deadline passed, -1 poll error (errno). */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd pfd = {.fd = fd, .events = events};
        int n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 ? -1 : n > 0;
    }
}

/* A Unix socket's connect() fails with EAGAIN while the listen backlog is full; that is worth
 * retrying until the deadline, the other errors are final. */
static int connect_unix(const char *path, int64_t deadline, const char **why)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        *why = "socket path too long";
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        *why = strerror(errno);
        return -1;
    }
    for (;;) {
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
            return fd;
        if (errno == EINTR)
            continue;
        if (errno == EINPROGRESS) {
            int err = 0;
            socklen_t len = sizeof err;
            if (wait_fd(fd, POLLOUT, deadline) > 0 &&
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
                return fd;
            errno = err ? err : ETIMEDOUT;
        } else if (errno == EAGAIN && now_ms() < deadline) {
            nanosleep(&(struct timespec){.tv_nsec = 10 * 1000000}, NULL);
            continue;
        }
        *why = errno == EAGAIN ? "timed out (the daemon's backlog is full)" : strerror(errno);
        close(fd);
        return -1;
    }
}

static int send_all(int fd, const uint8_t *p, size_t n, int64_t deadline)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            int r = wait_fd(fd, POLLOUT, deadline);
            if (r <= 0) {
                if (r == 0)
                    errno = ETIMEDOUT;
                return -1;
            }
            continue;
        }
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int send_req(int fd, const ctl_req_t *req, int64_t deadline)
{
    if (send_all(fd, (const uint8_t *)req->line, req->line_len, deadline) < 0)
        return -1;
    for (size_t i = 0; i < req->n_payloads; i++)
        if (send_all(fd, req->payload[i].p, req->payload[i].len, deadline) < 0)
            return -1;
    return 0;
}

/* Reads up to cap bytes into p; returns the count (0 at EOF) or -1 (errno, ETIMEDOUT). */
static ssize_t recv_some(int fd, uint8_t *p, size_t cap, int64_t deadline)
{
    for (;;) {
        ssize_t n = recv(fd, p, cap, 0);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return -1;
        int r = wait_fd(fd, POLLIN, deadline);
        if (r <= 0) {
            if (r == 0)
                errno = ETIMEDOUT;
            return -1;
        }
    }
}

static int reply_fail(const char *path, const char *what)
{
    fprintf(stderr, "edgetlsctl: %s: %s\n", path, what);
    return -1;
}

/* Header first (into a small buffer), then exactly body_len bytes into one allocation. */
static int recv_reply(int fd, const char *path, int64_t deadline, ctl_reply_t *rep)
{
    uint8_t hdr[REPLY_HDR_MAX];
    size_t have = 0, body_len = 0, hdr_len = 0;
    int rc = 0;
    while (rc == 0) {
        if (have == sizeof hdr)
            return reply_fail(path, "malformed reply header");
        ssize_t n = recv_some(fd, hdr + have, sizeof hdr - have, deadline);
        if (n <= 0)
            return reply_fail(path, n == 0 ? "connection closed without a reply"
                                    : errno == ETIMEDOUT ? "timed out waiting for the reply"
                                                         : strerror(errno));
        have += (size_t)n;
        rc = etls_proto_reply_parse(hdr, have, rep->status, sizeof rep->status, &body_len, &hdr_len);
    }
    if (rc < 0)
        return reply_fail(path, "malformed reply header");
    if (body_len > CTL_MAX_REPLY_BODY)
        return reply_fail(path, "reply larger than 64 MiB");
    rep->body.p = malloc(body_len ? body_len : 1);
    if (!rep->body.p)
        return reply_fail(path, "out of memory for the reply");
    size_t got = have - hdr_len < body_len ? have - hdr_len : body_len;
    memcpy(rep->body.p, hdr + hdr_len, got);
    rep->body.len = body_len;
    while (got < body_len) {
        ssize_t n = recv_some(fd, rep->body.p + got, body_len - got, deadline);
        if (n <= 0)
            return reply_fail(path, n == 0 ? "connection closed in the middle of the reply"
                                    : errno == ETIMEDOUT ? "timed out reading the reply"
                                                         : strerror(errno));
        got += (size_t)n;
    }
    return 0;
}

int ctl_exchange(const char *socket_path, int timeout_s, const ctl_req_t *req, ctl_reply_t *rep)
{
    *rep = (ctl_reply_t){0};
    int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;
    const char *why = NULL;
    int fd = connect_unix(socket_path, deadline, &why);
    if (fd < 0) {
        fprintf(stderr, "edgetlsctl: cannot connect to %s: %s\n", socket_path, why);
        return -1;
    }
    /* A daemon that refuses early (denied, usage) may close before taking the payloads; its
     * reply is still worth reading, so a failed send only matters when no reply follows. */
    int send_rc = send_req(fd, req, deadline), send_errno = errno;
    int rc = recv_reply(fd, socket_path, deadline, rep);
    close(fd);
    if (rc < 0 && send_rc < 0)
        fprintf(stderr, "edgetlsctl: sending the request to %s failed: %s\n", socket_path,
                strerror(send_errno));
    if (rc < 0)
        ctl_buf_free(&rep->body);
    return rc;
}

/* ---- one connection for several requests (edgetlsctl batch) ---- */

/* recv_reply for a connection that carries several replies: the header is parsed from the
 * connection's buffer, and only the header and the body are consumed from it. */
static int conn_recv_reply(ctl_conn_t *c, int64_t deadline, ctl_reply_t *rep)
{
    size_t body_len = 0, hdr_len = 0;
    for (;;) {
        size_t have = c->in_len - c->in_off;
        int rc = etls_proto_reply_parse(c->in + c->in_off, have < REPLY_HDR_MAX ? have : REPLY_HDR_MAX, rep->status,
                                        sizeof rep->status, &body_len, &hdr_len);
        if (rc < 0 || (rc == 0 && have >= REPLY_HDR_MAX))
            return reply_fail(c->path, "malformed reply header");
        if (rc > 0)
            break;
        memmove(c->in, c->in + c->in_off, have);
        c->in_off = 0;
        c->in_len = have;
        ssize_t n = recv_some(c->fd, c->in + have, sizeof c->in - have, deadline);
        if (n <= 0)
            return reply_fail(c->path, n == 0 ? "connection closed without a reply"
                                       : errno == ETIMEDOUT ? "timed out waiting for the reply"
                                                            : strerror(errno));
        c->in_len += (size_t)n;
    }
    c->in_off += hdr_len;
    if (body_len > CTL_MAX_REPLY_BODY)
        return reply_fail(c->path, "reply larger than 64 MiB");
    rep->body.p = malloc(body_len ? body_len : 1);
    if (!rep->body.p)
        return reply_fail(c->path, "out of memory for the reply");
    rep->body.len = body_len;
    size_t have = c->in_len - c->in_off, got = have < body_len ? have : body_len;
    memcpy(rep->body.p, c->in + c->in_off, got);
    c->in_off += got;
    while (got < body_len) { /* straight into the body, never past it */
        ssize_t n = recv_some(c->fd, rep->body.p + got, body_len - got, deadline);
        if (n <= 0)
            return reply_fail(c->path, n == 0 ? "connection closed in the middle of the reply"
                                       : errno == ETIMEDOUT ? "timed out reading the reply"
                                                            : strerror(errno));
        got += (size_t)n;
    }
    return 0;
}

int ctl_open(ctl_conn_t *c, const char *socket_path, int timeout_s)
{
    const char *why = NULL;
    c->in_off = c->in_len = 0;
    c->path = socket_path;
    c->timeout_s = timeout_s;
    c->fd = connect_unix(socket_path, now_ms() + (int64_t)timeout_s * 1000, &why);
    if (c->fd < 0)
        fprintf(stderr, "edgetlsctl: cannot connect to %s: %s\n", socket_path, why);
    return c->fd < 0 ? -1 : 0;
}

int ctl_call(ctl_conn_t *c, const ctl_req_t *req, ctl_reply_t *rep)
{
    *rep = (ctl_reply_t){0};
    int64_t deadline = now_ms() + (int64_t)c->timeout_s * 1000;
    if (send_req(c->fd, req, deadline) < 0) {
        fprintf(stderr, "edgetlsctl: sending to %s failed: %s\n", c->path, strerror(errno));
        return -1;
    }
    int rc = conn_recv_reply(c, deadline, rep);
    if (rc < 0)
        ctl_buf_free(&rep->body);
    return rc;
}

int ctl_send(ctl_conn_t *c, const ctl_req_t *req)
{
    if (send_req(c->fd, req, now_ms() + (int64_t)c->timeout_s * 1000) < 0) {
        fprintf(stderr, "edgetlsctl: sending to %s failed: %s\n", c->path, strerror(errno));
        return -1;
    }
    return 0;
}

int ctl_recv(ctl_conn_t *c, int timeout_s, ctl_reply_t *rep)
{
    *rep = (ctl_reply_t){0};
    int rc = conn_recv_reply(c, now_ms() + (int64_t)timeout_s * 1000, rep);
    if (rc < 0)
        ctl_buf_free(&rep->body);
    return rc;
}

void ctl_close(ctl_conn_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}
