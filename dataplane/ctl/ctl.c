/* The ctl thread (ctl.h): the dataplane socket's client. */
#include "ctl/ctl.h"

#include "common/ct.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

struct etls_ctl {
    char path[108];
    char state_dir[1024];
    const etls_tls_server_ctx_t *tmpl;
    etls_snap_pub_t *pub;
    unsigned workers;
    int transport;
    int log_level;
    etls_ctl_hooks_t hooks;
    int fd;
    etls_snap_buf_t rbuf;
    uint64_t backoff_ms, next_try_ms;
    int adopt_pending; /* the last snapshot published is not yet adopted by every worker */
    pthread_t thread;
    int started;
    atomic_int stop;
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

__attribute__((format(printf, 2, 3))) static void logf_(const etls_ctl_t *c, const char *fmt, ...)
{
    if (c->log_level < 1) /* ETLS_LOG_WARN */
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "edgetls: control: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
}

static int dial(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    /* Writes are small (acks, stats); a control plane that stops reading must not wedge us. */
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

static int send_frame(etls_ctl_t *c, uint8_t type, const void *payload, size_t len)
{
    etls_snap_buf_t b = {0};
    etls_snap_frame(&b, type, payload, len);
    int rc = b.failed ? -1 : 0;
    for (size_t off = 0; rc == 0 && off < b.len;) {
        ssize_t n = send(c->fd, b.p + off, b.len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = -1;
        else
            off += (size_t)n;
    }
    etls_snap_buf_free(&b);
    return rc;
}

static uint64_t serving_version(const etls_ctl_t *c)
{
    etls_snap_t *s = atomic_load_explicit(&c->pub->current, memory_order_relaxed);
    return s ? s->version : 0;
}

static int send_hello(etls_ctl_t *c)
{
    etls_snap_buf_t b = {0};
    etls_snap_put_u32(&b, (uint32_t)getpid());
    etls_snap_put_u16(&b, (uint16_t)c->workers);
    etls_snap_put_u8(&b, (uint8_t)c->transport);
    etls_snap_put_u64(&b, serving_version(c));
    int rc = b.failed ? -1 : send_frame(c, ETLS_SNAP_MSG_HELLO, b.p, b.len);
    etls_snap_buf_free(&b);
    return rc;
}

static int send_version(etls_ctl_t *c, uint8_t type, uint64_t version, const char *reason)
{
    etls_snap_buf_t b = {0};
    etls_snap_put_u64(&b, version);
    if (reason)
        etls_snap_put(&b, reason, strlen(reason));
    int rc = b.failed ? -1 : send_frame(c, type, b.p, b.len);
    etls_snap_buf_free(&b);
    return rc;
}

/* Builds and publishes a snapshot; the reason for a refusal goes to err. */
static void publish(etls_ctl_t *c, etls_snap_t *s)
{
    etls_snap_publish(c->pub, s);
    c->adopt_pending = 1;
    if (c->hooks.wake)
        c->hooks.wake(c->hooks.arg);
}

/* Builds (a delta on top of what is served) and publishes; the reason for a refusal goes to err. */
static int apply(etls_ctl_t *c, const uint8_t *p, size_t len, char *err, size_t errlen)
{
    etls_snap_t *cur = atomic_load_explicit(&c->pub->current, memory_order_relaxed);
    etls_snap_t *s = etls_snap_build(c->tmpl, cur, p, len, err, errlen);
    if (!s)
        return -1;
    publish(c, s);
    return 0;
}

/* The version a SNAPSHOT or DELTA payload carries (0 when too short to say). */
static uint64_t payload_version(const uint8_t *p, size_t len)
{
    if (len >= 20 && !memcmp(p, "ESD1", 4))
        return etls_snap_get_u64(p + 12);
    return len >= 12 ? etls_snap_get_u64(p + 4) : 0;
}

static void on_snapshot(etls_ctl_t *c, const uint8_t *p, size_t len)
{
    char err[512];
    uint64_t version = payload_version(p, len);
    etls_snap_t *cur = atomic_load_explicit(&c->pub->current, memory_order_relaxed);
    if (cur && cur->version == version && version) {
        send_version(c, ETLS_SNAP_MSG_ACK, version, NULL); /* a resync: already serving it */
        if (!c->adopt_pending)
            send_version(c, ETLS_SNAP_MSG_ADOPTED, version, NULL);
        return;
    }
    if (apply(c, p, len, err, sizeof err) < 0) {
        logf_(c, "refused version %llu: %s", (unsigned long long)version, err);
        send_version(c, ETLS_SNAP_MSG_NACK, version, err);
        return;
    }
    if (c->log_level >= 2)
        logf_(c, "serving version %llu", (unsigned long long)version);
    send_version(c, ETLS_SNAP_MSG_ACK, version, NULL);
}

static void on_stats(etls_ctl_t *c, const uint8_t *p, size_t len)
{
    etls_snap_buf_t b = {0};
    etls_snap_put(&b, p, len >= 4 ? 4 : 0);
    if (len < 4)
        etls_snap_put_u32(&b, 0);
    char line[128];
    snprintf(line, sizeof line, "version %llu\nworkers %u\npid %d\n", (unsigned long long)serving_version(c),
             c->workers, (int)getpid());
    etls_snap_put(&b, line, strlen(line));
    if (c->hooks.stats)
        c->hooks.stats(c->hooks.arg, &b);
    if (!b.failed)
        send_frame(c, ETLS_SNAP_MSG_STATS, b.p, b.len);
    etls_snap_buf_free(&b);
}

static void on_message(etls_ctl_t *c, uint8_t type, const uint8_t *p, size_t len)
{
    switch (type) {
    case ETLS_SNAP_MSG_SNAPSHOT:
    case ETLS_SNAP_MSG_DELTA: on_snapshot(c, p, len); break;
    case ETLS_SNAP_MSG_STATS_REQ: on_stats(c, p, len); break;
    case ETLS_SNAP_MSG_DRAIN:
        if (c->hooks.drain && len >= 4)
            c->hooks.drain(c->hooks.arg, etls_snap_get_u32(p));
        break;
    case ETLS_SNAP_MSG_LOG_LEVEL:
        if (len >= 1) {
            c->log_level = p[0];
            if (c->hooks.log_level)
                c->hooks.log_level(c->hooks.arg, p[0]);
        }
        break;
    default: break; /* newer control planes may send more: ignore what we do not know */
    }
}

static void drop(etls_ctl_t *c, const char *why)
{
    if (c->fd >= 0) {
        logf_(c, "lost %s (%s); serving version %llu, reconnecting", c->path, why,
              (unsigned long long)serving_version(c));
        close(c->fd);
    }
    c->fd = -1;
    c->rbuf.len = 0;
    c->next_try_ms = mono_ms() + c->backoff_ms;
}

/* Reads what arrived and handles every whole frame. */
static void on_readable(etls_ctl_t *c)
{
    uint8_t tmp[65536];
    ssize_t n = recv(c->fd, tmp, sizeof tmp, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        drop(c, n == 0 ? "closed" : strerror(errno));
        return;
    }
    etls_snap_put(&c->rbuf, tmp, (size_t)n);
    if (c->rbuf.failed) {
        etls_snap_buf_free(&c->rbuf);
        drop(c, "message too large");
        return;
    }
    size_t off = 0;
    for (;;) {
        uint8_t type;
        const uint8_t *p;
        size_t plen, used;
        int rc = etls_snap_unframe(c->rbuf.p + off, c->rbuf.len - off, &type, &p, &plen, &used);
        if (rc < 0) {
            drop(c, "bad frame length");
            return;
        }
        if (rc == 0)
            break;
        on_message(c, type, p, plen);
        if (c->fd < 0)
            return;
        off += used;
    }
    if (off) {
        memmove(c->rbuf.p, c->rbuf.p + off, c->rbuf.len - off);
        c->rbuf.len -= off;
    }
}

static void try_connect(etls_ctl_t *c)
{
    char err[256];
    int fd = dial(c->path, err, sizeof err);
    if (fd < 0) {
        c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
        c->next_try_ms = mono_ms() + c->backoff_ms;
        return;
    }
    c->fd = fd;
    c->backoff_ms = BACKOFF_MIN_MS;
    if (send_hello(c) < 0)
        drop(c, "hello failed");
    else
        logf_(c, "attached to %s (serving version %llu)", c->path, (unsigned long long)serving_version(c));
}

static void *run(void *arg)
{
    etls_ctl_t *c = arg;
    while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
        if (c->fd < 0 && mono_ms() >= c->next_try_ms)
            try_connect(c);
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        /* Tight ticks while a new snapshot propagates (its adoption is reported), else 100 ms. */
        int rc = poll(&pfd, c->fd >= 0 ? 1 : 0, c->adopt_pending ? 1 : 100);
        if (rc > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR)))
            on_readable(c);
        etls_snap_t *cur = atomic_load_explicit(&c->pub->current, memory_order_relaxed);
        if (c->adopt_pending && cur && etls_snap_min_adopted(c->pub) >= cur->seq) {
            c->adopt_pending = 0;
            if (c->fd >= 0)
                send_version(c, ETLS_SNAP_MSG_ADOPTED, cur->version, NULL);
        }
        etls_snap_reclaim(c->pub);
    }
    return NULL;
}

/* ---- start-up ------------------------------------------------------------------------- */

/* Waits for the first SNAPSHOT on a fresh connection, answering nothing else. */
static int first_from_socket(etls_ctl_t *c, unsigned wait_ms, char *err, size_t errlen)
{
    c->fd = dial(c->path, err, errlen);
    if (c->fd < 0)
        return -1;
    if (send_hello(c) < 0) {
        snprintf(err, errlen, "%s: hello: %s", c->path, strerror(errno));
        return -1;
    }
    uint64_t deadline = mono_ms() + wait_ms;
    while (!atomic_load_explicit(&c->pub->current, memory_order_relaxed)) {
        uint64_t now = mono_ms();
        if (now >= deadline || c->fd < 0) {
            snprintf(err, errlen, "%s: no snapshot within %u ms", c->path, wait_ms);
            return -1;
        }
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        if (poll(&pfd, 1, (int)(deadline - now)) > 0)
            on_readable(c);
    }
    return 0;
}

/* A whole file of the current version (at most ETLS_SNAP_MAX_FRAME bytes); NULL with err. A
 * missing file is *missing = 1 (not an error for the optional journal). */
static uint8_t *read_state_file(const etls_ctl_t *c, const char *name, size_t *len, int *missing, char *err,
                                size_t errlen)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/current/%s", c->state_dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    *missing = fd < 0 && errno == ENOENT;
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < 0 || (uint64_t)st.st_size > ETLS_SNAP_MAX_FRAME) {
        snprintf(err, errlen, "%s: %s", path, fd < 0 ? strerror(errno) : "too large");
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    *len = (size_t)st.st_size;
    uint8_t *p = malloc(*len ? *len : 1);
    size_t got = 0;
    while (p && got < *len) {
        ssize_t n = read(fd, p + got, *len - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (!p || got != *len) {
        snprintf(err, errlen, "%s: short read", path);
        if (p)
            etls_wipe(p, *len);
        free(p);
        return NULL;
    }
    return p;
}

/* The last committed version: snapshot.bin (a whole snapshot), then the deltas the control plane
 * appended to it since (snapshot.delta: DELTA frames in order). Intermediate versions are built
 * and dropped; only the last one is published. */
static int first_from_state(etls_ctl_t *c, char *err, size_t errlen)
{
    size_t len, jlen = 0;
    int missing;
    uint8_t *p = read_state_file(c, "snapshot.bin", &len, &missing, err, errlen), *j = NULL;
    if (!p)
        return -1;
    etls_snap_t *s = etls_snap_build(c->tmpl, NULL, p, len, err, errlen);
    etls_wipe(p, len);
    free(p);
    if (s && !(j = read_state_file(c, "snapshot.delta", &jlen, &missing, err, errlen)) && !missing) {
        etls_snap_free(s);
        return -1;
    }
    for (size_t off = 0; s && j && off < jlen;) {
        uint8_t type;
        const uint8_t *pl;
        size_t plen, used;
        char why[512];
        if (etls_snap_unframe(j + off, jlen - off, &type, &pl, &plen, &used) != 1 || type != ETLS_SNAP_MSG_DELTA) {
            snprintf(err, errlen, "%s/current/snapshot.delta: bad frame at byte %zu", c->state_dir, off);
            etls_snap_free(s);
            s = NULL;
            break;
        }
        etls_snap_t *next = etls_snap_build(c->tmpl, s, pl, plen, why, sizeof why);
        etls_snap_free(s); /* next holds its own references to what it shares */
        s = next;
        if (!s)
            snprintf(err, errlen, "%.200s/current/snapshot.delta at byte %zu: %.300s", c->state_dir, off, why);
        off += used;
    }
    if (j) {
        etls_wipe(j, jlen);
        free(j);
    }
    if (!s)
        return -1;
    publish(c, s);
    return 0;
}

int etls_ctl_open(etls_ctl_t **out, const char *socket_path, const char *state_dir,
                  const etls_tls_server_ctx_t *tmpl, etls_snap_pub_t *pub, unsigned workers,
                  int transport, unsigned wait_ms, int log_level, char *err, size_t errlen)
{
    etls_ctl_t *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (strlen(socket_path) >= sizeof c->path) {
        snprintf(err, errlen, "control socket path longer than %zu bytes", sizeof c->path - 1);
        free(c);
        return -1;
    }
    snprintf(c->path, sizeof c->path, "%s", socket_path);
    snprintf(c->state_dir, sizeof c->state_dir, "%s", state_dir ? state_dir : "");
    c->tmpl = tmpl;
    c->pub = pub;
    c->workers = workers;
    c->transport = transport;
    c->log_level = log_level;
    c->fd = -1;
    c->backoff_ms = BACKOFF_MIN_MS;
    char e1[1400], e2[1400];
    if (first_from_socket(c, wait_ms, e1, sizeof e1) == 0) {
        *out = c;
        return 0;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (c->state_dir[0] && first_from_state(c, e2, sizeof e2) == 0) {
        logf_(c, "control plane unreachable (%s): serving version %llu from %s (read-only) until it is back",
              e1, (unsigned long long)serving_version(c), c->state_dir);
        *out = c;
        return 0;
    }
    snprintf(err, errlen, "no certificates to serve: control plane: %s; state directory: %s", e1,
             c->state_dir[0] ? e2 : "none configured");
    etls_snap_buf_free(&c->rbuf);
    free(c);
    return -1;
}

int etls_ctl_start(etls_ctl_t *c, const etls_ctl_hooks_t *hooks)
{
    if (hooks)
        c->hooks = *hooks;
    if (pthread_create(&c->thread, NULL, run, c) != 0)
        return -1;
    c->started = 1;
    return 0;
}

void etls_ctl_free(etls_ctl_t *c)
{
    if (!c)
        return;
    atomic_store(&c->stop, 1);
    if (c->started)
        pthread_join(c->thread, NULL);
    if (c->fd >= 0)
        close(c->fd);
    etls_snap_buf_free(&c->rbuf);
    free(c);
}
