/* Per-worker crypto batch queues (DESIGN.md, "Inside a worker", steps 3-5).
 *
 * A connection that needs expensive crypto does not compute it inline: it takes a slot in one of
 * the worker's queues (X25519, P-256 ECDH, signature, AEAD), fills in the request, and returns
 * ETLS_ERR_IN_PROGRESS to its caller. The worker runs every queue with etls_batch_run() -- when a
 * queue is full (the next slot request flushes it) and at the end of each poll iteration -- and
 * then resumes each connection whose requests have all completed, taking them from the ready list
 * (etls_batch_pop_ready) or through the optional callback.
 *
 *   X25519    etls_x25519_batch (fixed-base keygen + lanes of variable-base multiplications)
 *   AEAD      etls_aead_burst (ipsec-mb burst API across connections and keys)
 *   P-256     etls_p256_generate each, then etls_p256_ecdh_batch over the queue (crypto/p256)
 *   signature ECDSA P-256: etls_p256_sign_batch over the queue; others etls_pkey_sign each
 *   RSA       etls_pkey_rsa_decrypt_raw, one by one (TLS 1.2 RSA key exchange)
 *
 * Nothing here knows about TLS or about the transport: io_uring and DPDK workers and the bench
 * client all drive the same batch. A capacity of 1 is valid (every request flushes the previous
 * one), which is how tests exercise the unbatched path.
 *
 * Ownership: the batch is per worker and not thread-safe. The memory a request points at
 * (keys, inputs, outputs, the status word, the waiter) belongs to the requester and must stay
 * valid until the waiter is resumed or etls_batch_cancel() removed its requests. The batch
 * itself allocates only in etls_batch_new(). */
#ifndef ETLS_BATCH_BATCH_H
#define ETLS_BATCH_BATCH_H

#include "crypto/aead.h"
#include "crypto/pk.h"
#include "crypto/x25519.h"

#include <stddef.h>
#include <stdint.h>

/* Embedded in each requester (a TLS connection). pending counts its queued requests; when it
 * reaches zero after a run the waiter is appended to the ready list. */
typedef struct etls_batch_waiter {
    struct etls_batch_waiter *next; /* ready-list link (batch-owned) */
    uint32_t pending;               /* requests queued and not yet run (batch-owned) */
    uint8_t on_ready;               /* linked into the ready list (batch-owned) */
    void *user;                     /* requester's cookie, e.g. the connection; untouched */
} etls_batch_waiter_t;

/* P-256 ephemeral ECDH for one key share: generate a key pair, write the public point and the
 * shared secret with the peer's point. The private key is wiped after use. */
typedef struct etls_batch_p256_op {
    const uint8_t *peer; /* ETLS_P256_POINT_LEN bytes, untrusted */
    size_t peer_len;
    uint8_t *pub;    /* out: ETLS_P256_POINT_LEN */
    uint8_t *shared; /* out: ETLS_P256_SHARED_LEN */
} etls_batch_p256_op_t;

/* One signature with a (shared, read-only) private key. */
typedef struct etls_batch_sign_op {
    const etls_pkey_t *key;
    uint16_t scheme;
    const uint8_t *msg;
    size_t msg_len;
    uint8_t *sig;     /* out: the signature */
    size_t sig_cap;   /* capacity of sig */
    size_t *sig_len;  /* out: signature length (requester's memory, like sig) */
} etls_batch_sign_op_t;

/* One raw RSA private operation (TLS 1.2 RSA key exchange): out = in^d mod n, len bytes each;
 * out may be in. The status is etls_pkey_rsa_decrypt_raw's. */
typedef struct etls_batch_rsa_op {
    const etls_pkey_t *key;
    const uint8_t *in;
    size_t len;
    uint8_t *out;
} etls_batch_rsa_op_t;

typedef struct etls_batch_config {
    size_t x25519_cap; /* queue capacities; 0 selects the default (64); 1 = unbatched */
    size_t p256_cap;
    size_t sign_cap;
    size_t aead_cap;
    size_t rsa_cap;
    etls_aead_engine_t *aead;           /* the worker's engine (required for AEAD requests) */
    const etls_x25519_impl_t *x25519;   /* NULL = automatic (best lanes, lone ops portable) */
    /* Optional: called for each waiter that became ready, at the end of etls_batch_run()
     * (after every queue ran), instead of leaving it on the ready list. Never called from the
     * flush inside a slot request (the requester is busy then): such waiters wait for the next
     * etls_batch_run. The callback may queue new requests. */
    void (*on_ready)(etls_batch_waiter_t *w, void *arg);
    void *on_ready_arg;
} etls_batch_config_t;

typedef struct etls_batch etls_batch_t;

/* Allocates a batch (NULL on allocation failure). The config is copied. */
etls_batch_t *etls_batch_new(const etls_batch_config_t *cfg);
void etls_batch_free(etls_batch_t *b); /* pending requests are dropped; NULL is fine */

/* Request slots. Each returns a slot to fill completely before the next call on this batch, or
 * NULL only on misuse (no AEAD engine configured). When the queue is full every queue is run
 * first (waiters become ready, no callback is called), so the returned slot is always valid. After the run, *status receives the
 * request's result (0 or a negative ETLS_ERR_*) and w->pending is decremented. */
etls_x25519_op_t *etls_batch_x25519(etls_batch_t *b, etls_batch_waiter_t *w, int *status);
etls_batch_p256_op_t *etls_batch_p256(etls_batch_t *b, etls_batch_waiter_t *w, int *status);
etls_batch_sign_op_t *etls_batch_sign(etls_batch_t *b, etls_batch_waiter_t *w, int *status);
etls_batch_rsa_op_t *etls_batch_rsa(etls_batch_t *b, etls_batch_waiter_t *w, int *status);
etls_aead_op_t *etls_batch_aead(etls_batch_t *b, etls_batch_waiter_t *w, int *status);

/* Runs every queued request; returns how many ran. Waiters whose last request completed go to
 * the ready list (or the callback). Safe to call with empty queues. */
size_t etls_batch_run(etls_batch_t *b);

/* Next waiter to resume, or NULL. A waiter that queued new requests since it became ready is
 * skipped (it comes back after those run). */
etls_batch_waiter_t *etls_batch_pop_ready(etls_batch_t *b);

/* Removes every queued request of w and unlinks it from the ready list; used when a
 * connection is torn down while parked. After this no request writes to w's memory. */
void etls_batch_cancel(etls_batch_t *b, etls_batch_waiter_t *w);

/* Number of requests currently queued (all queues). */
size_t etls_batch_queued(const etls_batch_t *b);

/* Counters since etls_batch_new, for stats and benchmarks. */
typedef struct etls_batch_stats {
    uint64_t runs;           /* etls_batch_run calls that ran at least one request */
    uint64_t full_flushes;   /* runs forced by a full queue */
    uint64_t x25519_ops, p256_ops, sign_ops, aead_ops, rsa_ops;
    uint64_t x25519_runs;    /* runs with X25519 work: x25519_ops / x25519_runs is the mean
                              * batch, against the lanes the vector code fills at once */
} etls_batch_stats_t;
void etls_batch_get_stats(const etls_batch_t *b, etls_batch_stats_t *st);

/* How full the batch was when it ran: every run that did work (at the end of an iteration or
 * forced by a full queue) counted by the requests it ran over all queues, in buckets with
 * upper bounds 1, 2, 4 .. 256 and one above. Written by the batch's thread with relaxed
 * stores; etls_batch_fill_read may be called from any thread while it runs. */
#define ETLS_BATCH_FILL_BOUNDS 9
typedef struct etls_batch_fill {
    uint64_t runs[ETLS_BATCH_FILL_BOUNDS + 1]; /* per bucket, not cumulative */
    uint64_t items;                           /* requests run, the sum of the histogram */
} etls_batch_fill_t;
void etls_batch_fill_read(const etls_batch_t *b, etls_batch_fill_t *out);
/* Bucket i's upper bound (1 << i). */
static inline uint64_t etls_batch_fill_bound(size_t i)
{
    return (uint64_t)1 << i;
}

#endif
