/* io_uring plumbing: the kernel probe, user_data packing, SO_REUSEPORT listeners, multishot
 * accept and multishot recv through the provided-buffer ring, buffer recycling and exhaustion
 * (ENOBUFS ends the multishot receive; recycling lets it be re-armed); the polled ring of the
 * DPDK proxy (etls_io_enter_needed says when entering the kernel yields something, and a
 * synchronous cancel stops a recv whose data arrived before it copied anything). Loopback
 * only. */
#include "io/uring.h"

#include "common/err.h"
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct io_uring ring;

static int wait_cqe(struct io_uring_cqe **cqe)
{
    struct __kernel_timespec ts = {.tv_sec = 2, .tv_nsec = 0};
    return io_uring_wait_cqe_timeout(&ring, cqe, &ts);
}

static void test_ud(void)
{
    uint64_t ud = etls_io_ud(ETLS_IO_OP_BK_SEND, 0xabcdef, 0x89abcdef);
    CHECK(etls_io_ud_op(ud) == ETLS_IO_OP_BK_SEND);
    CHECK(etls_io_ud_slot(ud) == 0xabcdef);
    CHECK(etls_io_ud_gen(ud) == 0x89abcdef);
}

static int listen_any(struct sockaddr_in *a)
{
    char err[256];
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = etls_io_listen((struct sockaddr *)a, sizeof *a, 16, err, sizeof err);
    socklen_t l = sizeof *a;
    if (fd >= 0)
        getsockname(fd, (struct sockaddr *)a, &l);
    return fd;
}

static void test_listen(void)
{
    struct sockaddr_in a;
    char err[256];
    int fd = listen_any(&a);
    CHECK(fd >= 0 && a.sin_port != 0);
    /* a second SO_REUSEPORT socket on the same port (the next worker) works */
    int fd2 = etls_io_listen((struct sockaddr *)&a, sizeof a, 16, err, sizeof err);
    CHECK(fd2 >= 0);
    /* a port held by a socket without SO_REUSEPORT is refused with a message */
    int plain = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in b = a;
    b.sin_port = 0;
    CHECK(bind(plain, (struct sockaddr *)&b, sizeof b) == 0 && listen(plain, 1) == 0);
    socklen_t bl = sizeof b;
    getsockname(plain, (struct sockaddr *)&b, &bl);
    err[0] = 0;
    int fd3 = etls_io_listen((struct sockaddr *)&b, sizeof b, 16, err, sizeof err);
    CHECK(fd3 == ETLS_ERR_IO && strstr(err, "Address already in use") != NULL);
    close(plain);
    close(fd2);
    close(fd);
}

/* Accept one connection with multishot accept, then receive through 4 provided buffers of 64
 * bytes: 256+ bytes exhaust them (ENOBUFS ends the multishot recv); recycling and re-arming
 * delivers the rest, in order. */
static void test_accept_recv(void)
{
    etls_io_bufs_t bufs;
    CHECK(etls_io_bufs_init(&bufs, &ring, 3, 6, 64) == ETLS_ERR_INVALID); /* not a power of two */
    CHECK(etls_io_bufs_init(&bufs, &ring, 3, 4, 64) == 0);
    struct sockaddr_in a;
    int lfd = listen_any(&a);
    struct io_uring_sqe *sqe = etls_io_sqe(&ring);
    io_uring_prep_multishot_accept(sqe, lfd, NULL, NULL, 0);
    io_uring_sqe_set_data64(sqe, etls_io_ud(ETLS_IO_OP_ACCEPT, 0, 0));
    io_uring_submit(&ring);
    int cfd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(cfd, (struct sockaddr *)&a, sizeof a) == 0);
    struct io_uring_cqe *cqe;
    CHECK(wait_cqe(&cqe) == 0);
    int sfd = cqe->res;
    CHECK(sfd >= 0 && (cqe->flags & IORING_CQE_F_MORE) && etls_io_ud_op(cqe->user_data) == ETLS_IO_OP_ACCEPT);
    io_uring_cqe_seen(&ring, cqe);

    uint8_t sent[1000], got[1000];
    for (size_t i = 0; i < sizeof sent; i++)
        sent[i] = (uint8_t)(i * 7 + 1);
    CHECK(write(cfd, sent, sizeof sent) == (ssize_t)sizeof sent);
    size_t have = 0;
    int rearms = 0, armed = 0;
    while (have < sizeof sent && rearms < 64) {
        if (!armed) {
            sqe = etls_io_sqe(&ring);
            io_uring_prep_recv_multishot(sqe, sfd, NULL, 0, 0);
            sqe->flags |= IOSQE_BUFFER_SELECT;
            sqe->buf_group = 3;
            io_uring_sqe_set_data64(sqe, etls_io_ud(ETLS_IO_OP_RECV, 5, 1));
            io_uring_submit(&ring);
            armed = 1;
            rearms++;
        }
        if (wait_cqe(&cqe) != 0)
            break;
        if (cqe->res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
            uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
            memcpy(got + have, etls_io_buf(&bufs, bid), (size_t)cqe->res);
            have += (size_t)cqe->res;
            etls_io_bufs_recycle(&bufs, bid);
        } else {
            CHECK_MSG(cqe->res == -ENOBUFS, "res %d", cqe->res);
        }
        if (!(cqe->flags & IORING_CQE_F_MORE)) {
            armed = 0;
            etls_io_bufs_commit(&bufs); /* buffers back before re-arming */
        }
        CHECK(etls_io_ud_slot(cqe->user_data) == 5 && etls_io_ud_gen(cqe->user_data) == 1);
        io_uring_cqe_seen(&ring, cqe);
    }
    CHECK(have == sizeof sent);
    CHECK_MEM(got, sent, sizeof sent);
    CHECK(rearms >= 2); /* 1000 bytes cannot fit 4 x 64-byte buffers in one go */
    close(cfd);
    close(sfd);
    close(lfd);
    /* drain the cancelled/terminated requests */
    struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 200000000};
    while (io_uring_wait_cqe_timeout(&ring, &cqe, &ts) == 0)
        io_uring_cqe_seen(&ring, cqe);
    etls_io_bufs_free(&bufs, &ring);
}

static unsigned reap_all(struct io_uring *r, uint64_t ud, int *res)
{
    struct io_uring_cqe *cqe;
    unsigned head, n = 0, hit = 0;
    io_uring_for_each_cqe(r, head, cqe)
    {
        if (cqe->user_data == ud) {
            *res = cqe->res;
            hit++;
        }
        n++;
    }
    io_uring_cq_advance(r, n);
    return hit;
}

/* The busy-polling owner's view (dataplane/dpdk/backend.c): nothing to do -> no enter needed;
 * a queued SQE -> enter; a submitted recv whose data arrived -> enter (the deferred task work
 * is flagged), and the completion appears only after it. A synchronous cancel of such a recv
 * returns once it is gone: it completes with -ECANCELED, has not touched its buffer, and the
 * data is still in the socket. */
static void test_polled(void)
{
    struct io_uring pr;
    char err[256];
    CHECK_MSG(etls_io_ring_init_polled(&pr, 16, err, sizeof err) == 0, "%s", err);
    int deferred = (pr.flags & IORING_SETUP_DEFER_TASKRUN) != 0;
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    uint8_t buf[64];
    int res = 0;
    CHECK(!etls_io_enter_needed(&pr));

    memset(buf, 0xee, sizeof buf);
    struct io_uring_sqe *sqe = etls_io_sqe(&pr);
    io_uring_prep_recv(sqe, sv[0], buf, sizeof buf, 0);
    io_uring_sqe_set_data64(sqe, 1);
    CHECK(etls_io_enter_needed(&pr)); /* unsubmitted */
    CHECK(io_uring_submit(&pr) == 1);
    CHECK(!etls_io_enter_needed(&pr)); /* waiting: nothing to collect */
    CHECK(write(sv[1], "hello", 5) == 5);
    int flagged = 0;
    for (int i = 0; i < 1000 && !(flagged = etls_io_enter_needed(&pr)) && !io_uring_cq_ready(&pr); i++)
        usleep(1000);
    if (deferred) {
        CHECK(flagged);
        CHECK(io_uring_cq_ready(&pr) == 0); /* not before the enter */
        CHECK(io_uring_submit_and_get_events(&pr) >= 0);
    }
    CHECK(reap_all(&pr, 1, &res) == 1 && res == 5 && memcmp(buf, "hello", 5) == 0);
    CHECK(!etls_io_enter_needed(&pr));

    memset(buf, 0xee, sizeof buf);
    sqe = etls_io_sqe(&pr);
    io_uring_prep_recv(sqe, sv[0], buf, sizeof buf, 0);
    io_uring_sqe_set_data64(sqe, 2);
    CHECK(io_uring_submit(&pr) == 1);
    CHECK(write(sv[1], "world", 5) == 5); /* data in, copy deferred to the next enter */
    struct io_uring_sync_cancel_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.fd = sv[0];
    reg.flags = IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ALL;
    reg.timeout.tv_sec = -1;
    reg.timeout.tv_nsec = -1;
    int rc = io_uring_register_sync_cancel(&pr, &reg);
    CHECK(io_uring_submit_and_get_events(&pr) >= 0);
    res = 0;
    CHECK(reap_all(&pr, 2, &res) == 1);
    if (deferred) { /* without deferral the recv may have completed before the cancel */
        CHECK_MSG(rc == 1 && res == -ECANCELED, "cancel %d, recv %d", rc, res);
        uint8_t untouched[64];
        memset(untouched, 0xee, sizeof untouched);
        CHECK_MEM(buf, untouched, sizeof buf);
        char rest[8];
        CHECK(recv(sv[0], rest, sizeof rest, MSG_DONTWAIT) == 5 && memcmp(rest, "world", 5) == 0);
    }
    close(sv[0]);
    close(sv[1]);
    io_uring_queue_exit(&pr);
}

int main(void)
{
    char err[512];
    int rc = etls_io_probe(err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    test_ud();
    test_listen();
    CHECK(etls_io_ring_init(&ring, 64, err, sizeof err) == 0);
    test_accept_recv();
    io_uring_queue_exit(&ring);
    test_polled();
    return etls_test_summary("uring");
}
