/* The dataplane's side of the control plane (DESIGN.md wave 2): one thread per edgetls process
 * that holds the connection to edgetls-control's dataplane socket, builds each snapshot it is
 * pushed (snapshot/snapshot.h), publishes it for the workers and acknowledges it (or refuses it
 * with the reason), answers stats requests, and frees snapshots no worker uses any more.
 *
 * When the control plane dies or restarts the dataplane keeps serving its last snapshot and
 * reconnects with backoff (100 ms doubling to 5 s), announcing the version it serves so the
 * control plane can resync it. A dataplane started while the control plane is down serves the
 * last committed version from the state directory (DIR/current/snapshot.bin), read-only.
 *
 * Ownership: etls_ctl_t is created and freed by main; the publication point and the template
 * context are main's and outlive it. */
#ifndef ETLS_CTL_CTL_H
#define ETLS_CTL_CTL_H

#include "snapshot/snapshot.h"

#include <stddef.h>
#include <stdint.h>

typedef struct etls_ctl_hooks {
    /* Appends "key value\n" lines (e.g. "worker.0.handshakes 12") to out. Called on the ctl
     * thread; must only read counters. */
    void (*stats)(void *arg, etls_snap_buf_t *out);
    void (*drain)(void *arg, uint32_t timeout_ms);   /* begin a graceful stop */
    void (*log_level)(void *arg, int level);
    void (*wake)(void *arg);                         /* a snapshot was published: wake workers */
    void *arg;
} etls_ctl_hooks_t;

typedef struct etls_ctl etls_ctl_t;

/* Gets the first snapshot: from the control socket (waiting up to wait_ms for it) or else from
 * state_dir, and publishes it in pub. Returns 0, or -1 with the reason in err (neither source
 * had a usable snapshot). tmpl is the configuration's context without certificates. */
int etls_ctl_open(etls_ctl_t **out, const char *socket_path, const char *state_dir,
                  const etls_tls_server_ctx_t *tmpl, etls_snap_pub_t *pub, unsigned workers,
                  int transport, unsigned wait_ms, int log_level, char *err, size_t errlen);
/* Starts the thread (after the workers started: pub->n_workers is set). */
int etls_ctl_start(etls_ctl_t *c, const etls_ctl_hooks_t *hooks);
/* Stops and joins the thread; closes the socket. Snapshots stay in pub (etls_snap_pub_free). */
void etls_ctl_free(etls_ctl_t *c);

#endif
