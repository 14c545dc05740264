/* Admin clients: SO_PEERCRED check, request framing (control/proto), bounded buffers and a
 * deadline per request, non-blocking replies. */
#include "daemon.h"

#include <errno.h>
#include <poll.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int cd_buf_put(cd_buf_t *b, const void *p, size_t n)
{
    if (b->off && b->off == b->len) {
        if (b->secret)
            explicit_bzero(b->p, b->len);
        b->off = b->len = 0;
    }
    if (b->len + n > (b->max ? b->max : CD_MAX_REPLY + 64))
        return -1;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *q = malloc(cap); /* not realloc: a buffer with keys in it is wiped before it goes */
        if (!q)
            return -1;
        if (b->len)
            memcpy(q, b->p, b->len);
        if (b->p && b->secret)
            explicit_bzero(b->p, b->cap);
        free(b->p);
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

void cd_buf_free(cd_buf_t *b)
{
    if (b->p && b->secret)
        explicit_bzero(b->p, b->cap);
    free(b->p);
    size_t max = b->max;
    int secret = b->secret;
    memset(b, 0, sizeof *b);
    b->max = max;
    b->secret = secret;
}

int cd_buf_flush(cd_buf_t *b, int fd)
{
    while (b->off < b->len) {
        ssize_t n = send(fd, b->p + b->off, b->len - b->off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        if (n <= 0)
            return -1;
        b->off += (size_t)n;
    }
    b->off = b->len = 0;
    return 0;
}

/* root, our own user, or a member (primary or supplementary) of the configured group. */
static int peer_allowed(const cd_t *d, uid_t uid, gid_t gid)
{
    if (uid == 0 || uid == geteuid())
        return 1;
    if (d->admin_gid == (gid_t)-1)
        return 0;
    if (gid == d->admin_gid)
        return 1;
    struct passwd *pw = getpwuid(uid);
    if (!pw)
        return 0;
    gid_t groups[256];
    int ng = 256;
    if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &ng) < 0)
        return 0;
    for (int i = 0; i < ng; i++)
        if (groups[i] == d->admin_gid)
            return 1;
    return 0;
}

void cd_admin_close(cd_admin_t *a)
{
    cd_txn_free(a->txn); /* a connection that goes aborts its transaction */
    a->txn = NULL;
    close(a->fd);
    a->fd = -1;
    etls_proto_reader_free(&a->rd);
    cd_buf_free(&a->out);
}

void cd_reply(cd_admin_t *a, const char *status, const char *body, size_t len)
{
    char hdr[64];
    size_t h = etls_proto_reply_header(hdr, sizeof hdr, status, len);
    if (cd_buf_put(&a->out, hdr, h) < 0 || cd_buf_put(&a->out, body, len) < 0)
        a->closing = 1;
    cd_buf_flush(&a->out, a->fd);
}

void cd_reply_json(cd_admin_t *a, const char *status, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!s) {
        cd_reply(a, "error", "out of memory\n", 14);
        return;
    }
    size_t n = strlen(s);
    s = realloc(s, n + 2);
    s[n] = '\n';
    cd_reply(a, status, s, n + 1);
    free(s);
}

/* One reply to a client we will not serve, then close (best effort: it may not be reading). */
static void say_once(int fd, const char *status, const char *msg)
{
    char buf[256];
    size_t h = etls_proto_reply_header(buf, sizeof buf, status, strlen(msg));
    snprintf(buf + h, sizeof buf - h, "%s", msg);
    if (send(fd, buf, h + strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        /* nothing more to do */
    }
    close(fd);
}

static void accept_one(cd_t *d, int fd);

/* Everything waiting in the backlog at once: a burst of clients is answered (or told to come
 * back) in one pass instead of one per loop iteration. */
void cd_admin_accept(cd_t *d)
{
    for (int i = 0; i < 256; i++) {
        int fd = accept4(d->admin_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        accept_one(d, fd);
    }
}

static void accept_one(cd_t *d, int fd)
{
    struct ucred cr;
    socklen_t cl = sizeof cr;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 || !peer_allowed(d, cr.uid, cr.gid)) {
        cd_log(d, 1, "admin: refused pid %d uid %d gid %d: not root, our user or a member of the admin group",
               (int)cr.pid, (int)cr.uid, (int)cr.gid);
        say_once(fd, "denied", "not allowed: only root, our user or a member of the admin group\n");
        return;
    }
    for (int i = 0; i < CD_MAX_ADMIN; i++) {
        cd_admin_t *a = &d->admins[i];
        if (a->fd >= 0)
            continue;
        memset(a, 0, sizeof *a);
        a->fd = fd;
        a->out.secret = 1; /* `ticket export` replies carry ticket secrets */
        a->uid = cr.uid;
        a->pid = cr.pid;
        etls_proto_reader_init(&a->rd);
        a->deadline_ms = cd_now_ms() + CD_ADMIN_DEADLINE_MS;
        return;
    }
    cd_log(d, 1, "admin: %d clients already connected: refusing pid %d", CD_MAX_ADMIN, (int)cr.pid);
    say_once(fd, "error", "too many admin clients; try again later\n");
}

static void handle_requests(cd_t *d, cd_admin_t *a)
{
    char err[256];
    etls_proto_req_t *req = malloc(sizeof *req);
    if (!req) {
        a->closing = 1;
        return;
    }
    while (!a->closing && !a->stats_id) {
        int rc = etls_proto_next(&a->rd, req, err, sizeof err);
        if (rc == 0)
            break;
        if (rc < 0) { /* the framing is lost: answer and close */
            size_t n = strlen(err);
            err[n] = '\n';
            cd_reply(a, "usage", err, n + 1);
            a->closing = 1;
            break;
        }
        cd_command(d, a, req);
        /* idle time between requests, not the connection's age: a transaction spans many */
        a->deadline_ms = cd_now_ms() + (a->txn ? CD_TXN_IDLE_MS : CD_ADMIN_DEADLINE_MS);
    }
    free(req);
    /* Bytes of the next request already here: it must be complete within CD_ADMIN_DEADLINE_MS,
     * open transaction or not (the deadline only shrinks, so trickling bytes do not extend it). */
    uint64_t req_deadline = cd_now_ms() + CD_ADMIN_DEADLINE_MS;
    if (a->rd.len > a->rd.consumed && a->deadline_ms > req_deadline)
        a->deadline_ms = req_deadline;
}

void cd_admin_io(cd_t *d, cd_admin_t *a, short revents)
{
    if (cd_buf_flush(&a->out, a->fd) < 0) {
        cd_admin_close(a);
        return;
    }
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
        uint8_t tmp[65536];
        size_t room = etls_proto_reader_room(&a->rd);
        /* A full buffer holds a whole request: nothing more to read until it is handled. */
        ssize_t n = room ? recv(a->fd, tmp, room < sizeof tmp ? room : sizeof tmp, MSG_DONTWAIT) : -1;
        if (!room)
            errno = EAGAIN;
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            cd_admin_close(a);
            return;
        }
        if (n > 0) {
            char err[256];
            if (etls_proto_reader_append(&a->rd, tmp, (size_t)n, err, sizeof err) < 0) {
                size_t l = strlen(err);
                err[l] = '\n';
                cd_reply(a, "usage", err, l + 1);
                a->closing = 1;
            } else {
                handle_requests(d, a);
            }
        }
    }
    if (a->closing && a->out.off == a->out.len)
        cd_admin_close(a);
}

void cd_admin_tick(cd_t *d, uint64_t now)
{
    for (int i = 0; i < CD_MAX_ADMIN; i++) {
        cd_admin_t *a = &d->admins[i];
        if (a->fd < 0)
            continue;
        if (a->stats_id && (now >= a->stats_deadline || cd_dp_stats_ready(d, a->stats_id))) {
            cd_stats_finish(d, a);
            a->stats_id = 0;
            handle_requests(d, a); /* requests pipelined behind the stats request */
        }
        /* A client in the middle of a request (bytes buffered) must finish it in time; an idle
         * connection between requests is also closed at the deadline, so slow or silent
         * clients cannot hold slots. */
        if (!a->stats_id && now >= a->deadline_ms) {
            if (a->rd.len > a->rd.consumed) {
                static const char msg[] = "incomplete request: timed out after 10 s\n";
                cd_reply(a, "usage", msg, sizeof msg - 1);
            }
            if (a->txn)
                cd_log(d, 1, "admin: pid %d idle with an open transaction: closed, staged changes dropped",
                       (int)a->pid);
            cd_admin_close(a);
            continue;
        }
        if (a->closing && a->out.off == a->out.len)
            cd_admin_close(a);
    }
}
