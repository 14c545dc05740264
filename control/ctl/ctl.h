/* edgetlsctl internals: the request it sends, the reply it gets, and the I/O around them
 * (ctl_io.c). Every function that fails prints its own "edgetlsctl: ..." line on stderr, so
 * callers only map the failure to an exit status. */
#ifndef ETLS_CONTROL_CTL_H
#define ETLS_CONTROL_CTL_H

#include "proto.h"

#include <stddef.h>
#include <stdint.h>

/* Exit statuses scripts rely on (docs/control-protocol.md). */
#define CTL_EXIT_OK 0
#define CTL_EXIT_FAIL 1  /* refused, error, denied, unknown status, connection or file problem */
#define CTL_EXIT_USAGE 2 /* bad command line, or the daemon replied "usage" */

#define CTL_MAX_REPLY_BODY (64u << 20)
#define CTL_MAX_PAYLOADS 2

/* A heap buffer that may hold a key; ctl_buf_free wipes it. */
typedef struct ctl_buf {
    uint8_t *p;
    size_t len;
} ctl_buf_t;

typedef struct ctl_req {
    char line[ETLS_PROTO_MAX_LINE + 2]; /* with its "\n" */
    size_t line_len;
    int overflow;                       /* the line did not fit: a usage error */
    ctl_buf_t payload[CTL_MAX_PAYLOADS]; /* owned; sent after the line, in order */
    size_t n_payloads;
    const char *export_file;            /* ticket export: where the ok body goes */
    int wait_s;                         /* reply timeout when longer than --timeout (drain) */
} ctl_req_t;

typedef struct ctl_reply {
    char status[16];
    ctl_buf_t body;
} ctl_reply_t;

void ctl_buf_free(ctl_buf_t *b);

/* Reads a whole file of at most max bytes. private_only refuses a file readable by group or
 * others (ticket secrets). */
int ctl_read_file(const char *path, size_t max, int private_only, ctl_buf_t *out);

/* Writes path atomically: path.tmp created O_EXCL 0600, fsync, rename, fsync of the directory. */
int ctl_write_atomic(const char *path, const uint8_t *p, size_t n);

/* Connects to the socket, sends the request, reads one reply; timeout_s bounds the whole
 * exchange (connect included). */
int ctl_exchange(const char *socket_path, int timeout_s, const ctl_req_t *req, ctl_reply_t *rep);

/* One connection for a sequence of requests, each answered before the next is sent (a
 * transaction: edgetlsctl batch). timeout_s bounds the connect and each exchange. */
typedef struct ctl_conn {
    int fd;
    const char *path;
    int timeout_s;
    /* Bytes received past the reply being read: with requests pipelined they are the start of
     * the next reply, so they must be kept, not dropped with a read-sized header buffer. */
    uint8_t in[16384];
    size_t in_off, in_len;
} ctl_conn_t;
int ctl_open(ctl_conn_t *c, const char *socket_path, int timeout_s);
int ctl_call(ctl_conn_t *c, const ctl_req_t *req, ctl_reply_t *rep);
void ctl_close(ctl_conn_t *c);
/* Pipelining on the same connection: requests sent without waiting, replies read back in the
 * order the requests went. The daemon reads every request it is sent whether or not its
 * replies have been read, so a sender that keeps at most a window of replies unread (a few
 * KiB, far below the socket buffer) cannot deadlock against it. */
int ctl_send(ctl_conn_t *c, const ctl_req_t *req);
int ctl_recv(ctl_conn_t *c, int timeout_s, ctl_reply_t *rep);

#endif
