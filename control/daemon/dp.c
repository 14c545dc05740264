/* Dataplane sessions on the dataplane socket (0600, peer checked): each attached edgetls gets
 * the current snapshot after its HELLO unless it already serves that version, then every new
 * version; it answers ACK or NACK (with the reason), ADOPTED once every worker serves it, and
 * STATS when asked. */
#include "daemon.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void cd_dp_close(cd_dp_t *p)
{
    close(p->fd);
    p->fd = -1;
    etls_snap_buf_free(&p->in);
    cd_buf_free(&p->out);
    free(p->stats);
    p->stats = NULL;
}

int cd_dp_count(const cd_t *d)
{
    int n = 0;
    for (int i = 0; i < CD_MAX_DP; i++)
        n += d->dps[i].fd >= 0 && d->dps[i].hello;
    return n;
}

static void send_msg(cd_dp_t *p, uint8_t type, const void *payload, size_t len)
{
    uint8_t hdr[5] = {(uint8_t)((len + 1) >> 24), (uint8_t)((len + 1) >> 16), (uint8_t)((len + 1) >> 8),
                      (uint8_t)(len + 1), type};
    if (cd_buf_put(&p->out, hdr, 5) < 0 || cd_buf_put(&p->out, payload, len) < 0) {
        cd_buf_free(&p->out); /* over the bound: drop the session, it will resync */
        shutdown(p->fd, SHUT_RDWR);
        return;
    }
    if (cd_buf_flush(&p->out, p->fd) < 0)
        shutdown(p->fd, SHUT_RDWR);
}

/* The whole current state, encoded once per push round (*full caches it). */
static void push_full(cd_t *d, cd_dp_t *p, etls_snap_buf_t *full)
{
    if (!full->len && cd_snap_full(d, &d->cur, d->cur.version, full) < 0) {
        cd_log(d, 0, "cannot encode version %llu for pid %d (too large)", (unsigned long long)d->cur.version,
               (int)p->pid);
        return;
    }
    send_msg(p, ETLS_SNAP_MSG_SNAPSHOT, full->p, full->len);
    p->sent_delta = 0;
    p->n_full++;
}

/* A dataplane that was sent the delta's base gets the delta; any other the whole state. */
static void push(cd_t *d, cd_dp_t *p, etls_snap_buf_t *full)
{
    if (!d->cur.n_entries)
        return; /* nothing to serve yet */
    if (d->delta.len && d->delta_base && p->sent == d->delta_base) {
        send_msg(p, ETLS_SNAP_MSG_DELTA, d->delta.p, d->delta.len);
        p->sent_delta = 1;
        p->n_delta++;
    } else {
        push_full(d, p, full);
    }
    p->sent = d->cur.version;
    p->sent_ms = cd_now_ms();
}

void cd_dp_push_all(cd_t *d)
{
    etls_snap_buf_t full = {0};
    d->commit_ms = cd_now_ms();
    for (int i = 0; i < CD_MAX_DP; i++)
        if (d->dps[i].fd >= 0 && d->dps[i].hello)
            push(d, &d->dps[i], &full);
    etls_snap_buf_free(&full);
}

void cd_dp_send_all(cd_t *d, uint8_t type, const void *payload, size_t len)
{
    for (int i = 0; i < CD_MAX_DP; i++)
        if (d->dps[i].fd >= 0 && d->dps[i].hello)
            send_msg(&d->dps[i], type, payload, len);
}

int cd_dp_stats_request(cd_t *d, uint32_t id)
{
    uint8_t b[4] = {(uint8_t)(id >> 24), (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id};
    int n = 0;
    for (int i = 0; i < CD_MAX_DP; i++) {
        cd_dp_t *p = &d->dps[i];
        if (p->fd >= 0 && p->hello) {
            send_msg(p, ETLS_SNAP_MSG_STATS_REQ, b, 4);
            n++;
        }
    }
    return n;
}

int cd_dp_stats_ready(const cd_t *d, uint32_t id)
{
    for (int i = 0; i < CD_MAX_DP; i++)
        if (d->dps[i].fd >= 0 && d->dps[i].hello && d->dps[i].stats_id != id)
            return 0;
    return 1;
}

void cd_dp_accept(cd_t *d)
{
    int fd = accept4(d->dp_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    struct ucred cr;
    socklen_t cl = sizeof cr;
    /* The socket is 0600 already; the check also holds if someone loosens its mode. */
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 || (cr.uid != 0 && cr.uid != geteuid())) {
        cd_log(d, 1, "dataplane socket: refused pid %d uid %d (root or our own user only)", (int)cr.pid, (int)cr.uid);
        close(fd);
        return;
    }
    for (int i = 0; i < CD_MAX_DP; i++) {
        cd_dp_t *p = &d->dps[i];
        if (p->fd >= 0)
            continue;
        memset(p, 0, sizeof *p);
        p->fd = fd;
        p->pid = cr.pid;
        /* whole snapshots (keys included) go out through it: up to the largest frame */
        p->out.max = ETLS_SNAP_MAX_FRAME + 64;
        p->out.secret = 1;
        return;
    }
    cd_log(d, 1, "dataplane socket: %d dataplanes attached already: refusing pid %d", CD_MAX_DP, (int)cr.pid);
    close(fd);
}

static void record_propagation(cd_t *d, cd_dp_t *p)
{
    if (p->adopted != d->cur.version || !d->commit_ms)
        return;
    /* Every attached dataplane serves the version: one sample of commit -> last worker. */
    for (int i = 0; i < CD_MAX_DP; i++) {
        const cd_dp_t *q = &d->dps[i];
        if (q->fd >= 0 && q->hello && q->adopted != d->cur.version)
            return;
    }
    d->prop_ms[d->n_prop++ % (sizeof d->prop_ms / sizeof d->prop_ms[0])] = (double)(cd_now_ms() - d->commit_ms);
    d->commit_ms = 0;
}

static void on_msg(cd_t *d, cd_dp_t *p, uint8_t type, const uint8_t *m, size_t len)
{
    switch (type) {
    case ETLS_SNAP_MSG_HELLO:
        if (len < 4 + 2 + 1 + 8)
            break;
        p->hello = 1;
        p->workers = (unsigned)(m[4] << 8 | m[5]);
        p->transport = m[6];
        p->version = etls_snap_get_u64(m + 7);
        cd_log(d, 2, "dataplane pid %d attached (%u workers, serving version %llu)", (int)p->pid, p->workers,
               (unsigned long long)p->version);
        if (p->version != d->cur.version) {
            etls_snap_buf_t full = {0};
            p->sent = 0; /* whatever it serves came from elsewhere: send it all */
            push(d, p, &full);
            etls_snap_buf_free(&full);
        } else {
            /* serving our version already: it is the base of our next delta (without this
             * the first commit after a control-plane restart sent every dataplane it all) */
            p->adopted = p->sent = p->version;
        }
        break;
    case ETLS_SNAP_MSG_ACK:
        if (len >= 8) {
            p->version = etls_snap_get_u64(m);
            p->acked_ms = cd_now_ms();
            p->refused[0] = 0;
        }
        break;
    case ETLS_SNAP_MSG_ADOPTED:
        if (len >= 8) {
            p->adopted = etls_snap_get_u64(m);
            p->adopted_ms = cd_now_ms();
            record_propagation(d, p);
        }
        break;
    case ETLS_SNAP_MSG_NACK:
        if (len >= 8) {
            size_t n = len - 8 < sizeof p->refused - 1 ? len - 8 : sizeof p->refused - 1;
            memcpy(p->refused, m + 8, n);
            p->refused[n] = 0;
            for (size_t i = 0; i < n; i++)
                if ((unsigned char)p->refused[i] < 0x20)
                    p->refused[i] = '?';
            uint64_t v = etls_snap_get_u64(m);
            if (p->sent_delta && v == p->sent) {
                /* it does not serve the delta's base (it refused or missed one): resync */
                cd_log(d, 2, "dataplane pid %d refused the delta to version %llu (%s): sending it whole", (int)p->pid,
                       (unsigned long long)v, p->refused);
                etls_snap_buf_t full = {0};
                push_full(d, p, &full);
                etls_snap_buf_free(&full);
                break;
            }
            cd_log(d, 1, "dataplane pid %d refused version %llu: %s", (int)p->pid, (unsigned long long)v, p->refused);
        }
        break;
    case ETLS_SNAP_MSG_STATS:
        if (len >= 4) {
            free(p->stats);
            p->stats = malloc(len - 4 + 1);
            if (p->stats) {
                memcpy(p->stats, m + 4, len - 4);
                p->stats[len - 4] = 0;
            }
            p->stats_id = etls_snap_get_u32(m);
        }
        break;
    default: break;
    }
}

void cd_dp_io(cd_t *d, cd_dp_t *p, short revents)
{
    if (cd_buf_flush(&p->out, p->fd) < 0) {
        cd_log(d, 1, "dataplane pid %d detached", (int)p->pid);
        cd_dp_close(p);
        return;
    }
    if (!(revents & (POLLIN | POLLHUP | POLLERR)))
        return;
    uint8_t tmp[65536];
    ssize_t n = recv(p->fd, tmp, sizeof tmp, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        cd_log(d, 1, "dataplane pid %d detached", (int)p->pid);
        cd_dp_close(p);
        return;
    }
    etls_snap_put(&p->in, tmp, (size_t)n);
    size_t off = 0;
    for (;;) {
        uint8_t type;
        const uint8_t *m;
        size_t len, used;
        int rc = p->in.failed ? -1 : etls_snap_unframe(p->in.p + off, p->in.len - off, &type, &m, &len, &used);
        if (rc < 0 || (rc == 1 && len > (1u << 20))) { /* dataplanes only send small messages */
            cd_log(d, 1, "dataplane pid %d: malformed message; dropping the session", (int)p->pid);
            cd_dp_close(p);
            return;
        }
        if (rc == 0)
            break;
        on_msg(d, p, type, m, len);
        off += used;
    }
    if (off) {
        memmove(p->in.p, p->in.p + off, p->in.len - off);
        p->in.len -= off;
    }
}
