/* edgetls-control: the control-plane daemon (README "Operating the control plane").
 * Exit status: 0 after SIGTERM/SIGINT, 1 on a runtime failure (state directory, sockets),
 * 2 on bad options. */
#include "daemon.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got_signal;
static void on_signal(int sig) { got_signal = sig; }

uint64_t cd_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void cd_log(const cd_t *d, int level, const char *fmt, ...)
{
    if (level > d->log_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "edgetls-control: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: edgetls-control [options]\n"
            "  --state-dir DIR          certificates, ticket keys, versions (/var/lib/edgetls)\n"
            "  --admin-socket PATH      edgetlsctl's socket, mode 0660 (/run/edgetls/admin.sock)\n"
            "  --admin-group GROUP      group allowed on the admin socket besides root and our user\n"
            "  --dataplane-socket PATH  edgetls --control PATH attaches here, mode 0600\n"
            "                           (/run/edgetls/dp.sock)\n"
            "  --ca-file FILE           trust anchors for chain validation (system bundle)\n"
            "  --warn-days N            warn when a certificate expires within N days (30)\n"
            "  --ticket-rotation T      session-ticket key period in seconds (3600; 60..604800)\n"
            "  --history N              versions kept in the state directory (10; 2..1000)\n"
            "  --metrics-listen A:P     serve /metrics (Prometheus text format) on A:P, e.g.\n"
            "                           127.0.0.1:9469 (off)\n"
            "  --log-level LEVEL        error|warn|info|debug (info)\n"
            "  --txn-max-changes N      staged changes per transaction (200000; 1..200000)\n"
            "  -h, --help\n");
}

static int parse_level(const char *s)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -1;
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi || *s == '-')
        return -1;
    *out = (unsigned)v;
    return 0;
}

static int parse_args(cd_t *d, int argc, char **argv)
{
    static const struct option opts[] = {
        {"state-dir", required_argument, NULL, 's'},      {"admin-socket", required_argument, NULL, 'a'},
        {"admin-group", required_argument, NULL, 'g'},    {"dataplane-socket", required_argument, NULL, 'd'},
        {"ca-file", required_argument, NULL, 'C'},        {"warn-days", required_argument, NULL, 'w'},
        {"ticket-rotation", required_argument, NULL, 't'}, {"history", required_argument, NULL, 'H'},
        {"log-level", required_argument, NULL, 'L'},      {"help", no_argument, NULL, 'h'},
        {"metrics-listen", required_argument, NULL, 'M'}, {"txn-max-changes", required_argument, NULL, 'X'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        const char *bad = NULL;
        switch (c) {
        case 's': snprintf(d->state_dir, sizeof d->state_dir, "%s", optarg); break;
        case 'a':
            if (strlen(optarg) >= sizeof d->admin_path)
                bad = "--admin-socket: path too long";
            memset(d->admin_path, 0, sizeof d->admin_path);
            memcpy(d->admin_path, optarg, strnlen(optarg, sizeof d->admin_path - 1));
            break;
        case 'd':
            if (strlen(optarg) >= sizeof d->dp_path)
                bad = "--dataplane-socket: path too long";
            memset(d->dp_path, 0, sizeof d->dp_path);
            memcpy(d->dp_path, optarg, strnlen(optarg, sizeof d->dp_path - 1));
            break;
        case 'g': {
            struct group *g = getgrnam(optarg);
            if (!g)
                bad = "--admin-group: no such group";
            else
                d->admin_gid = g->gr_gid;
            break;
        }
        case 'C': snprintf(d->ca_file, sizeof d->ca_file, "%s", optarg); break;
        case 'w': if (parse_uint(optarg, 0, 3650, &d->warn_days) < 0) bad = "--warn-days: 0..3650"; break;
        case 't':
            if (parse_uint(optarg, 60, 604800, &d->ticket_rotation_s) < 0)
                bad = "--ticket-rotation: seconds, 60..604800";
            break;
        case 'H': if (parse_uint(optarg, 2, 1000, &d->keep) < 0) bad = "--history: 2..1000"; break;
        case 'X':
            if (parse_uint(optarg, 1, CD_TXN_MAX_CHANGES, &d->txn_max_changes) < 0)
                bad = "--txn-max-changes: 1..200000";
            break;
        case 'L':
            if ((d->log_level = parse_level(optarg)) < 0)
                bad = "--log-level: error|warn|info|debug";
            break;
        case 'M':
            if (strlen(optarg) >= sizeof d->metrics_spec)
                bad = "--metrics-listen: too long";
            snprintf(d->metrics_spec, sizeof d->metrics_spec, "%.63s", optarg);
            break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
        if (bad) {
            fprintf(stderr, "edgetls-control: %s\n", bad);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "edgetls-control: unexpected argument '%s' (see --help)\n", argv[optind]);
        return -1;
    }
    return 0;
}

/* A Unix stream socket at path with mode; a stale socket file is replaced, anything else
 * refused. The parent directory is created 0755 when missing (like RuntimeDirectory=). */
static int listen_unix(const char *path, mode_t mode, gid_t gid, char *err, size_t errlen)
{
    char dir[108];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: %s", dir, strerror(errno));
            return -1;
        }
    }
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "%s: exists and is not a socket", path);
            return -1;
        }
        unlink(path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    mode_t old = umask(0177); /* no window in which the socket is more open than mode */
    int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc < 0 || listen(fd, 128) < 0 || chmod(path, mode) < 0 ||
        (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void loop(cd_t *d)
{
    enum { SLOTS = 3 + CD_MAX_ADMIN + CD_MAX_DP + CD_MAX_METRICS };
    struct pollfd pf[SLOTS];
    void *who[SLOTS];
    int kind[SLOTS];
    while (!got_signal) {
        size_t n = 0;
        pf[n] = (struct pollfd){.fd = d->admin_lfd, .events = POLLIN};
        kind[n++] = 0;
        pf[n] = (struct pollfd){.fd = d->dp_lfd, .events = POLLIN};
        kind[n++] = 1;
        for (int i = 0; i < CD_MAX_ADMIN; i++) {
            cd_admin_t *a = &d->admins[i];
            if (a->fd < 0)
                continue;
            pf[n] = (struct pollfd){.fd = a->fd, .events = (short)(POLLIN | (a->out.off < a->out.len ? POLLOUT : 0))};
            who[n] = a;
            kind[n++] = 2;
        }
        if (d->metrics_lfd >= 0) {
            pf[n] = (struct pollfd){.fd = d->metrics_lfd, .events = POLLIN};
            kind[n++] = 4;
        }
        for (int i = 0; i < CD_MAX_METRICS; i++) {
            cd_metrics_client_t *m = &d->metrics[i];
            if (m->fd < 0)
                continue;
            pf[n] = (struct pollfd){.fd = m->fd, .events = (short)(POLLIN | (m->out.off < m->out.len ? POLLOUT : 0))};
            who[n] = m;
            kind[n++] = 5;
        }
        for (int i = 0; i < CD_MAX_DP; i++) {
            cd_dp_t *p = &d->dps[i];
            if (p->fd < 0)
                continue;
            pf[n] = (struct pollfd){.fd = p->fd, .events = (short)(POLLIN | (p->out.off < p->out.len ? POLLOUT : 0))};
            who[n] = p;
            kind[n++] = 3;
        }
        int rc = poll(pf, n, 100);
        if (rc < 0 && errno != EINTR)
            break;
        /* Clients first, listeners last: slots freed by clients that just left are free for
         * the connections accepted in the same pass. */
        for (size_t k = 0; rc > 0 && k < n; k++) {
            size_t i = (k + 2) % n;
            if (!pf[i].revents)
                continue;
            switch (kind[i]) {
            case 0: cd_admin_accept(d); break;
            case 1: cd_dp_accept(d); break;
            case 2: cd_admin_io(d, who[i], pf[i].revents); break;
            case 4: cd_metrics_accept(d); break;
            case 5: cd_metrics_io(d, who[i], pf[i].revents); break;
            default: cd_dp_io(d, who[i], pf[i].revents); break;
            }
        }
        uint64_t now = cd_now_ms();
        cd_admin_tick(d, now);
        cd_metrics_tick(d, now);
        cd_tickets_due(d, (uint64_t)time(NULL));
    }
}

int main(int argc, char **argv)
{
    static cd_t d; /* large */
    snprintf(d.state_dir, sizeof d.state_dir, "/var/lib/edgetls");
    snprintf(d.admin_path, sizeof d.admin_path, "/run/edgetls/admin.sock");
    snprintf(d.dp_path, sizeof d.dp_path, "/run/edgetls/dp.sock");
    d.admin_gid = (gid_t)-1;
    d.warn_days = 30;
    d.keep = 10;
    d.ticket_rotation_s = 3600;
    d.log_level = 2;
    d.admin_lfd = d.dp_lfd = d.metrics_lfd = -1;
    for (int i = 0; i < CD_MAX_METRICS; i++)
        d.metrics[i].fd = -1;
    for (int i = 0; i < CD_MAX_ADMIN; i++)
        d.admins[i].fd = -1;
    for (int i = 0; i < CD_MAX_DP; i++)
        d.dps[i].fd = -1;
    if (parse_args(&d, argc, argv) < 0)
        return 2;
    char err[1400];
    if (etls_store_open(&d.store, d.state_dir, d.keep, err, sizeof err) < 0 || cd_state_init(&d, err, sizeof err) < 0) {
        fprintf(stderr, "edgetls-control: %s\n", err);
        return 1;
    }
    d.admin_lfd = listen_unix(d.admin_path, 0660, d.admin_gid, err, sizeof err);
    if (d.admin_lfd >= 0)
        d.dp_lfd = listen_unix(d.dp_path, 0600, (gid_t)-1, err, sizeof err);
    if (d.dp_lfd >= 0 && d.metrics_spec[0] && cd_metrics_listen(&d, d.metrics_spec, err, sizeof err) < 0) {
        close(d.dp_lfd);
        d.dp_lfd = -1;
    }
    if (d.dp_lfd < 0) {
        fprintf(stderr, "edgetls-control: %s\n", err);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    cd_log(&d, 2, "version %llu from %s (%zu entries); admin %s, dataplanes %s",
           (unsigned long long)d.cur.version, d.state_dir, d.cur.n_entries, d.admin_path, d.dp_path);
    loop(&d);
    cd_log(&d, 2, "stopping");
    for (int i = 0; i < CD_MAX_ADMIN; i++)
        if (d.admins[i].fd >= 0)
            cd_admin_close(&d.admins[i]);
    for (int i = 0; i < CD_MAX_DP; i++)
        if (d.dps[i].fd >= 0)
            cd_dp_close(&d.dps[i]);
    close(d.admin_lfd);
    close(d.dp_lfd);
    unlink(d.admin_path);
    unlink(d.dp_path);
    etls_snap_buf_free(&d.delta);
    etls_snap_buf_free(&d.journal);
    free(d.briefs);
    free(d.brief_v);
    etls_store_state_free(&d.cur);
    etls_store_close(d.store);
    return 0;
}
