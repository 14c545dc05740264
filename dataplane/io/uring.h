/* io_uring transport plumbing for one worker: the ring, a provided-buffer ring for multishot
 * receives, listening sockets, and a start-up probe of the kernel features the worker needs.
 *
 * Completions carry a 64-bit user_data built by etls_io_ud(): the operation kind, the
 * connection (or listener) slot, and the slot's generation, so a completion that arrives for
 * a slot which was recycled is recognised and ignored.
 *
 * Ownership: everything here is per worker (one thread); nothing is shared between rings. */
#ifndef ETLS_IO_URING_H
#define ETLS_IO_URING_H

#include <liburing.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Operation kinds encoded in user_data. */
typedef enum {
    ETLS_IO_OP_NONE = 0,
    ETLS_IO_OP_ACCEPT,     /* multishot accept; slot = listener index */
    ETLS_IO_OP_RECV,       /* client multishot recv */
    ETLS_IO_OP_SEND,       /* client send */
    ETLS_IO_OP_BK_CONNECT, /* backend connect */
    ETLS_IO_OP_BK_RECV,    /* backend multishot recv */
    ETLS_IO_OP_BK_SEND,    /* backend send */
    ETLS_IO_OP_CANCEL,     /* completion of a cancel request: ignored */
    ETLS_IO_OP_CLOSE,      /* completion of a close of a released connection's fd: ignored */
    ETLS_IO_OP_BK_SHUTDOWN, /* backend shutdown(SHUT_WR) (the DPDK transport's proxy mode) */
    ETLS_IO_OP_WAKE,       /* multishot poll of the worker's wake eventfd (a new snapshot) */
} etls_io_op_t;

static inline uint64_t etls_io_ud(etls_io_op_t op, uint32_t slot, uint32_t gen)
{
    return ((uint64_t)gen << 32) | ((uint64_t)(slot & 0xffffff) << 8) | (uint64_t)op;
}
static inline etls_io_op_t etls_io_ud_op(uint64_t ud) { return (etls_io_op_t)(ud & 0xff); }
static inline uint32_t etls_io_ud_slot(uint64_t ud) { return (uint32_t)(ud >> 8) & 0xffffff; }
static inline uint32_t etls_io_ud_gen(uint64_t ud) { return (uint32_t)(ud >> 32); }

/* Provided-buffer ring (IORING_REGISTER_PBUF_RING): the kernel picks a buffer per received
 * chunk; the worker copies the bytes out and hands the buffer back with etls_io_bufs_recycle. */
typedef struct etls_io_bufs {
    struct io_uring_buf_ring *br;
    uint8_t *mem;     /* nbufs * size bytes */
    size_t br_bytes;  /* mmap length of br */
    uint32_t nbufs;   /* power of two */
    uint32_t size;    /* bytes per buffer */
    uint16_t bgid;
    uint32_t pending; /* buffers added since the last advance */
} etls_io_bufs_t;

int etls_io_bufs_init(etls_io_bufs_t *b, struct io_uring *ring, uint16_t bgid, uint32_t nbufs,
                      uint32_t size);
void etls_io_bufs_free(etls_io_bufs_t *b, struct io_uring *ring);
static inline uint8_t *etls_io_buf(const etls_io_bufs_t *b, uint16_t bid)
{
    return b->mem + (size_t)bid * b->size;
}
/* Returns buffer bid to the ring; made visible to the kernel by etls_io_bufs_commit. */
void etls_io_bufs_recycle(etls_io_bufs_t *b, uint16_t bid);
void etls_io_bufs_commit(etls_io_bufs_t *b);

/* A listening TCP socket with SO_REUSEPORT (one per worker and address, so the kernel spreads
 * connections over the workers). Returns the fd or a negative ETLS_ERR_* with a message. */
int etls_io_listen(const struct sockaddr *addr, socklen_t len, int backlog, char *err, size_t errlen);

/* Checks once, at start-up, that the running kernel has what the workers use: io_uring itself
 * (not disabled by sysctl), IORING_FEAT_EXT_ARG/NODROP, the opcodes, provided-buffer rings,
 * multishot accept and multishot recv (exercised on a socketpair). On failure returns
 * ETLS_ERR_UNSUPPORTED with an explanation (what is missing, why, which kernel is needed). */
int etls_io_probe(char *err, size_t errlen);

/* A ring with the flags the workers use (single issuer where supported). */
int etls_io_ring_init(struct io_uring *ring, unsigned entries, char *err, size_t errlen);

/* The same ring for an owner that busy-polls instead of sleeping in io_uring_enter (the DPDK
 * lcores): IORING_SETUP_TASKRUN_FLAG is added, so the kernel raises IORING_SQ_TASKRUN in the
 * shared SQ flags when completions are waiting to be produced, and the owner can tell without
 * a system call whether entering the kernel would yield anything (etls_io_enter_needed). */
int etls_io_ring_init_polled(struct io_uring *ring, unsigned entries, char *err, size_t errlen);

/* Whether a poller has to call io_uring_enter: SQEs not yet submitted, completions waiting
 * for a GETEVENTS enter (deferred task work), or completions held back by a CQ overflow.
 * Reads shared memory only. Rings without DEFER_TASKRUN post completions by themselves, so
 * for them this says 1 only for unsubmitted SQEs and overflows. */
static inline int etls_io_enter_needed(const struct io_uring *ring)
{
    return io_uring_sq_ready(ring) != 0 ||
           (IO_URING_READ_ONCE(*ring->sq.kflags) & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)) != 0;
}

/* Next free SQE, submitting first when the SQ is full (so callers never see NULL). */
struct io_uring_sqe *etls_io_sqe(struct io_uring *ring);

/* Hands every completion already in the CQ to fn, then releases them together; returns how
 * many there were. Inline, so each owner's fn is called directly. */
static inline unsigned etls_io_reap(struct io_uring *ring, void (*fn)(void *owner, struct io_uring_cqe *cqe),
                                    void *owner)
{
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;
    io_uring_for_each_cqe(ring, head, cqe)
    {
        fn(owner, cqe);
        n++;
    }
    io_uring_cq_advance(ring, n);
    return n;
}

#endif
