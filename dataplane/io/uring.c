/* io_uring plumbing: ring set-up, provided-buffer rings, listeners and the start-up probe.
 * liburing 2.3 has no io_uring_setup_buf_ring helper, so the buffer ring is mapped and
 * registered here directly. */
#include "io/uring.h"

#include "common/err.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

static int ring_init(struct io_uring *ring, unsigned entries, unsigned extra, char *err, size_t errlen)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    /* One thread submits and reaps (the worker), and completions are processed only when the
     * worker asks for them: fewer interrupts and no cross-CPU task work (Linux 6.1+). */
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE | extra;
    p.cq_entries = entries * 4;
    int rc = io_uring_queue_init_params(entries, ring, &p);
    if (rc == -EINVAL) { /* older kernel: plain ring (completions are posted without asking) */
        memset(&p, 0, sizeof p);
        p.flags = IORING_SETUP_CQSIZE;
        p.cq_entries = entries * 4;
        rc = io_uring_queue_init_params(entries, ring, &p);
    }
    if (rc < 0) {
        snprintf(err, errlen, "io_uring_queue_init(%u): %s", entries, strerror(-rc));
        return ETLS_ERR_IO;
    }
    return 0;
}

int etls_io_ring_init(struct io_uring *ring, unsigned entries, char *err, size_t errlen)
{
    return ring_init(ring, entries, 0, err, errlen);
}

int etls_io_ring_init_polled(struct io_uring *ring, unsigned entries, char *err, size_t errlen)
{
    return ring_init(ring, entries, IORING_SETUP_TASKRUN_FLAG, err, errlen);
}

struct io_uring_sqe *etls_io_sqe(struct io_uring *ring)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    while (!sqe) {
        io_uring_submit(ring);
        sqe = io_uring_get_sqe(ring);
    }
    return sqe;
}

int etls_io_bufs_init(etls_io_bufs_t *b, struct io_uring *ring, uint16_t bgid, uint32_t nbufs,
                      uint32_t size)
{
    memset(b, 0, sizeof *b);
    ETLS_ENSURE(nbufs && !(nbufs & (nbufs - 1)) && nbufs <= 32768, ETLS_ERR_INVALID);
    b->br_bytes = nbufs * sizeof(struct io_uring_buf);
    void *br = mmap(NULL, b->br_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (br == MAP_FAILED)
        return ETLS_ERR_NOMEM;
    b->br = br;
    void *mem = NULL;
    if (posix_memalign(&mem, 4096, (size_t)nbufs * size) != 0)
        mem = NULL;
    b->mem = mem;
    if (!b->mem) {
        munmap(br, b->br_bytes);
        return ETLS_ERR_NOMEM;
    }
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (unsigned long)(uintptr_t)br;
    reg.ring_entries = nbufs;
    reg.bgid = bgid;
    int rc = io_uring_register_buf_ring(ring, &reg, 0);
    if (rc < 0) {
        free(b->mem);
        munmap(br, b->br_bytes);
        b->br = NULL;
        b->mem = NULL;
        return ETLS_ERR_UNSUPPORTED;
    }
    b->nbufs = nbufs;
    b->size = size;
    b->bgid = bgid;
    io_uring_buf_ring_init(b->br);
    for (uint32_t i = 0; i < nbufs; i++)
        etls_io_bufs_recycle(b, (uint16_t)i);
    etls_io_bufs_commit(b);
    return 0;
}

void etls_io_bufs_free(etls_io_bufs_t *b, struct io_uring *ring)
{
    if (!b->br)
        return;
    io_uring_unregister_buf_ring(ring, b->bgid);
    munmap(b->br, b->br_bytes);
    free(b->mem);
    memset(b, 0, sizeof *b);
}

void etls_io_bufs_recycle(etls_io_bufs_t *b, uint16_t bid)
{
    io_uring_buf_ring_add(b->br, etls_io_buf(b, bid), b->size, bid,
                          io_uring_buf_ring_mask(b->nbufs), (int)b->pending);
    b->pending++;
}

void etls_io_bufs_commit(etls_io_bufs_t *b)
{
    if (b->pending) {
        io_uring_buf_ring_advance(b->br, (int)b->pending);
        b->pending = 0;
    }
}

int etls_io_listen(const struct sockaddr *addr, socklen_t len, int backlog, char *err, size_t errlen)
{
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return ETLS_ERR_IO;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
        (addr->sa_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)) {
        snprintf(err, errlen, "setsockopt: %s", strerror(errno));
        close(fd);
        return ETLS_ERR_IO;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* inherited by accepted sockets */
    if (bind(fd, addr, len) < 0 || listen(fd, backlog) < 0) {
        snprintf(err, errlen, "%s: %s", "bind/listen", strerror(errno));
        close(fd);
        return ETLS_ERR_IO;
    }
    return fd;
}

/* ---- start-up probe ---------------------------------------------------------------------- */

static int probe_fail(char *err, size_t errlen, const char *what)
{
    struct utsname u;
    if (uname(&u) < 0)
        strcpy(u.release, "?");
    snprintf(err, errlen,
             "io_uring: %s (running kernel %s). edgetls needs Linux 6.0 or newer with io_uring "
             "enabled (multishot accept/recv, provided-buffer rings); check that the sysctl "
             "kernel.io_uring_disabled is 0 and that no seccomp policy (e.g. a container "
             "runtime) blocks io_uring_setup",
             what, u.release);
    return ETLS_ERR_UNSUPPORTED;
}

static int probe_opcodes(struct io_uring *ring, char *err, size_t errlen)
{
    static const struct {
        int op;
        const char *name;
    } need[] = {
        {IORING_OP_ACCEPT, "ACCEPT"},         {IORING_OP_RECV, "RECV"},
        {IORING_OP_SEND, "SEND"},             {IORING_OP_CONNECT, "CONNECT"},
        {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"}, {IORING_OP_CLOSE, "CLOSE"},
    };
    struct io_uring_probe *pr = io_uring_get_probe_ring(ring);
    if (!pr)
        return probe_fail(err, errlen, "the opcode probe is not supported");
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        if (!io_uring_opcode_supported(pr, need[i].op)) {
            char what[80];
            snprintf(what, sizeof what, "opcode %s is not supported", need[i].name);
            io_uring_free_probe(pr);
            return probe_fail(err, errlen, what);
        }
    }
    io_uring_free_probe(pr);
    return 0;
}

/* Arms a multishot recv on one end of a socketpair, writes twice, and expects two completions
 * that both say "more to come": the only reliable test for multishot recv (Linux 6.0). */
static int probe_multishot(struct io_uring *ring, char *err, size_t errlen)
{
    etls_io_bufs_t bufs;
    if (etls_io_bufs_init(&bufs, ring, 7, 8, 256) < 0)
        return probe_fail(err, errlen, "provided-buffer rings (IORING_REGISTER_PBUF_RING) are not supported");
    int sv[2], rc = 0, good = 0;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        etls_io_bufs_free(&bufs, ring);
        snprintf(err, errlen, "socketpair: %s", strerror(errno));
        return ETLS_ERR_IO;
    }
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    io_uring_prep_recv_multishot(sqe, sv[0], NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = 7;
    io_uring_submit(ring);
    for (int i = 0; i < 2 && rc == 0; i++) {
        if (write(sv[1], "x", 1) != 1)
            break;
        struct io_uring_cqe *cqe;
        struct __kernel_timespec ts = {.tv_sec = 1, .tv_nsec = 0};
        rc = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
        if (rc == 0) {
            good += cqe->res == 1 && (cqe->flags & IORING_CQE_F_MORE) && (cqe->flags & IORING_CQE_F_BUFFER);
            io_uring_cqe_seen(ring, cqe);
        }
    }
    close(sv[1]);
    close(sv[0]);
    struct io_uring_cqe *cqe;
    struct __kernel_timespec ts = {.tv_sec = 1, .tv_nsec = 0};
    while (io_uring_wait_cqe_timeout(ring, &cqe, &ts) == 0) { /* the final completion */
        int more = cqe->flags & IORING_CQE_F_MORE;
        io_uring_cqe_seen(ring, cqe);
        if (!more)
            break;
    }
    etls_io_bufs_free(&bufs, ring);
    return good == 2 ? 0 : probe_fail(err, errlen, "multishot recv (IORING_RECV_MULTISHOT) does not work");
}

int etls_io_probe(char *err, size_t errlen)
{
    struct io_uring ring;
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    int rc = io_uring_queue_init_params(8, &ring, &p);
    if (rc == -ENOSYS)
        return probe_fail(err, errlen, "io_uring_setup is not implemented by this kernel");
    if (rc == -EPERM)
        return probe_fail(err, errlen, "io_uring_setup was refused (EPERM)");
    if (rc < 0) {
        char what[96];
        snprintf(what, sizeof what, "io_uring_setup failed: %s", strerror(-rc));
        return probe_fail(err, errlen, what);
    }
    if (!(p.features & IORING_FEAT_EXT_ARG) || !(p.features & IORING_FEAT_NODROP)) {
        io_uring_queue_exit(&ring);
        return probe_fail(err, errlen, "IORING_FEAT_EXT_ARG/NODROP missing (kernel older than 5.11)");
    }
    rc = probe_opcodes(&ring, err, errlen);
    if (rc == 0)
        rc = probe_multishot(&ring, err, errlen);
    io_uring_queue_exit(&ring);
    return rc;
}
