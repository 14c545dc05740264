/* Per-worker crypto batch queues; see batch.h for the model and ownership rules. */
#include "batch/batch.h"

#include "common/ct.h"
#include "common/err.h"
#include "crypto/hash.h"
#include "crypto/p256.h"
#include "crypto/rand.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_CAP 64

/* Per request: who waits for it and where its status goes. Kept apart from the op arrays so
 * the X25519 and AEAD queues stay contiguous arrays the crypto layer can take as they are. */
typedef struct slot {
    etls_batch_waiter_t *w;
    int *status;
} slot_t;

typedef struct queue {
    size_t n, cap;
    slot_t *slots;
} queue_t;

struct etls_batch {
    etls_batch_config_t cfg;
    queue_t qx, qp, qs, qa, qr;
    etls_x25519_op_t *x25519;
    etls_batch_p256_op_t *p256;
    etls_batch_sign_op_t *sign;
    etls_aead_op_t *aead;
    etls_batch_rsa_op_t *rsa;
    etls_batch_waiter_t *ready_head, *ready_tail;
    etls_batch_stats_t st;
    etls_batch_fill_t fill; /* relaxed stores: read by other threads (etls_batch_fill_read) */
    etls_rand_t rng;        /* P-256 key shares and hedged ECDSA nonces */
};

static size_t cap_or_default(size_t cap)
{
    return cap ? cap : DEFAULT_CAP;
}

static int queue_init(queue_t *q, size_t cap, void **ops, size_t opsize)
{
    q->n = 0;
    q->cap = cap;
    q->slots = calloc(cap, sizeof *q->slots);
    *ops = calloc(cap, opsize);
    return (q->slots && *ops) ? 0 : ETLS_ERR_NOMEM;
}

etls_batch_t *etls_batch_new(const etls_batch_config_t *cfg)
{
    etls_batch_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    /* cfg.x25519 stays NULL when not given: etls_x25519_batch then applies its automatic
     * policy per chunk (a lone op left over after full lane groups runs on the portable ladder
     * instead of paying for a whole lane group). Resolving NULL to etls_x25519_best() here
     * would turn that policy off for every worker. */
    b->cfg = *cfg;
    etls_rand_init(&b->rng);
    int rc = queue_init(&b->qx, cap_or_default(cfg->x25519_cap), (void **)&b->x25519, sizeof *b->x25519);
    rc |= queue_init(&b->qp, cap_or_default(cfg->p256_cap), (void **)&b->p256, sizeof *b->p256);
    rc |= queue_init(&b->qs, cap_or_default(cfg->sign_cap), (void **)&b->sign, sizeof *b->sign);
    rc |= queue_init(&b->qa, cap_or_default(cfg->aead_cap), (void **)&b->aead, sizeof *b->aead);
    rc |= queue_init(&b->qr, cap_or_default(cfg->rsa_cap), (void **)&b->rsa, sizeof *b->rsa);
    if (rc) {
        etls_batch_free(b);
        return NULL;
    }
    return b;
}

void etls_batch_free(etls_batch_t *b)
{
    if (!b)
        return;
    free(b->qx.slots);
    free(b->qp.slots);
    free(b->qs.slots);
    free(b->qa.slots);
    free(b->qr.slots);
    free(b->x25519);
    free(b->p256);
    free(b->sign);
    free(b->aead);
    free(b->rsa);
    etls_rand_wipe(&b->rng);
    etls_wipe(b, sizeof *b);
    free(b);
}

static void make_ready(etls_batch_t *b, etls_batch_waiter_t *w)
{
    if (w->on_ready)
        return;
    w->on_ready = 1;
    w->next = NULL;
    if (b->ready_tail)
        b->ready_tail->next = w;
    else
        b->ready_head = w;
    b->ready_tail = w;
}

/* Delivers the statuses of a run queue and releases its waiters. */
static void queue_complete(etls_batch_t *b, queue_t *q, const int *status, size_t stride)
{
    for (size_t i = 0; i < q->n; i++) {
        slot_t *s = &q->slots[i];
        int st = *(const int *)((const uint8_t *)status + i * stride);
        if (s->status)
            *s->status = st;
        if (s->w && --s->w->pending == 0)
            make_ready(b, s->w);
    }
    q->n = 0;
}

static void run_x25519(etls_batch_t *b)
{
    if (!b->qx.n)
        return;
    etls_x25519_batch(b->cfg.x25519, b->x25519, b->qx.n);
    b->st.x25519_ops += b->qx.n;
    b->st.x25519_runs++;
    queue_complete(b, &b->qx, &b->x25519[0].status, sizeof b->x25519[0]);
}

/* Native P-256 work goes in chunks so the per-chunk arrays on the stack stay small whatever the
 * queue capacity (up to 1024). */
#define P256_CHUNK 32

/* P-256 key shares: a fresh key pair each (fixed-base, one by one), then the chunk's shared
 * secrets through one etls_p256_ecdh_batch call. */
static void run_p256_chunk(etls_batch_t *b, size_t base, size_t n, int *st)
{
    etls_p256_sk_t sk[P256_CHUNK];
    etls_p256_ecdh_op_t ops[P256_CHUNK];
    size_t m = 0, where[P256_CHUNK];
    for (size_t i = base; i < base + n; i++) {
        etls_batch_p256_op_t *op = &b->p256[i];
        st[i] = etls_p256_generate(&sk[m], op->pub, &b->rng);
        if (st[i] < 0) {
            etls_wipe(op->shared, ETLS_P256_SHARED_LEN);
            continue;
        }
        ops[m] = (etls_p256_ecdh_op_t){.sk = &sk[m], .peer = op->peer, .peer_len = op->peer_len,
                                       .out = op->shared};
        where[m++] = i;
    }
    etls_p256_ecdh_batch(NULL, ops, m);
    for (size_t j = 0; j < m; j++)
        st[where[j]] = ops[j].status;
    etls_wipe(sk, sizeof sk);
}

static void run_p256(etls_batch_t *b)
{
    size_t n = b->qp.n;
    int st[n ? n : 1];
    for (size_t i = 0; i < n; i += P256_CHUNK)
        run_p256_chunk(b, i, n - i < P256_CHUNK ? n - i : P256_CHUNK, st);
    b->st.p256_ops += n;
    queue_complete(b, &b->qp, st, sizeof st[0]);
}

/* Signatures: ECDSA P-256 requests of keys with a native scalar go through one
 * etls_p256_sign_batch call (digest here, DER after); the rest (RSA, Ed25519) one by one
 * through etls_pkey_sign. */
static void run_sign_chunk(etls_batch_t *b, size_t base, size_t n, int *st)
{
    etls_p256_sign_op_t ops[P256_CHUNK];
    uint8_t digest[P256_CHUNK][32], rs[P256_CHUNK][ETLS_P256_SIG_LEN];
    size_t m = 0, where[P256_CHUNK];
    for (size_t i = base; i < base + n; i++) {
        etls_batch_sign_op_t *op = &b->sign[i];
        const etls_p256_sk_t *sk = etls_pkey_p256_sk(op->key);
        if (sk && op->scheme == ETLS_SIG_ECDSA_SECP256R1_SHA256 && op->sig_cap >= ETLS_P256_DER_MAX) {
            etls_hash(ETLS_HASH_SHA256, op->msg ? op->msg : (const uint8_t *)"", op->msg_len,
                      digest[m]);
            ops[m] = (etls_p256_sign_op_t){.sk = sk, .digest = digest[m], .rng = &b->rng,
                                           .sig = rs[m]};
            where[m++] = i;
            continue;
        }
        size_t len = op->sig_cap;
        st[i] = etls_pkey_sign(op->key, op->scheme, op->msg, op->msg_len, op->sig, &len);
        *op->sig_len = st[i] == 0 ? len : 0;
    }
    etls_p256_sign_batch(NULL, ops, m);
    for (size_t j = 0; j < m; j++) {
        etls_batch_sign_op_t *op = &b->sign[where[j]];
        size_t len = 0;
        st[where[j]] = ops[j].status;
        if (ops[j].status == 0)
            etls_p256_sig_to_der(op->sig, &len, rs[j]);
        *op->sig_len = len;
    }
    etls_wipe(rs, sizeof rs);
}

static void run_sign(etls_batch_t *b)
{
    size_t n = b->qs.n;
    int st[n ? n : 1];
    for (size_t i = 0; i < n; i += P256_CHUNK)
        run_sign_chunk(b, i, n - i < P256_CHUNK ? n - i : P256_CHUNK, st);
    b->st.sign_ops += n;
    queue_complete(b, &b->qs, st, sizeof st[0]);
}

static void run_rsa(etls_batch_t *b)
{
    int st[b->qr.n ? b->qr.n : 1];
    for (size_t i = 0; i < b->qr.n; i++) {
        etls_batch_rsa_op_t *op = &b->rsa[i];
        st[i] = etls_pkey_rsa_decrypt_raw(op->key, op->in, op->len, op->out);
    }
    b->st.rsa_ops += b->qr.n;
    queue_complete(b, &b->qr, st, sizeof st[0]);
}

static void run_aead(etls_batch_t *b)
{
    if (!b->qa.n)
        return;
    etls_aead_burst(b->cfg.aead, b->aead, b->qa.n);
    b->st.aead_ops += b->qa.n;
    queue_complete(b, &b->qa, &b->aead[0].status, sizeof b->aead[0]);
}

static void count_fill(etls_batch_t *b, size_t n)
{
    size_t i = 0;
    while (i < ETLS_BATCH_FILL_BOUNDS && n > etls_batch_fill_bound(i))
        i++;
    __atomic_store_n(&b->fill.runs[i], b->fill.runs[i] + 1, __ATOMIC_RELAXED);
    __atomic_store_n(&b->fill.items, b->fill.items + n, __ATOMIC_RELAXED);
}

static size_t run_queues(etls_batch_t *b)
{
    size_t n = etls_batch_queued(b);
    if (!n)
        return 0;
    b->st.runs++;
    count_fill(b, n);
    run_x25519(b);
    run_p256(b);
    run_sign(b);
    run_rsa(b);
    run_aead(b);
    return n;
}

size_t etls_batch_run(etls_batch_t *b)
{
    size_t n = run_queues(b);
    /* Callbacks run only here, never from the flush inside a slot request: that flush happens
     * while some requester is in the middle of an engine call and must not be re-entered. */
    if (b->cfg.on_ready) {
        etls_batch_waiter_t *w;
        while ((w = etls_batch_pop_ready(b)))
            b->cfg.on_ready(w, b->cfg.on_ready_arg);
    }
    return n;
}

/* Takes the next slot of q, flushing everything first when q is full. */
static size_t take_slot(etls_batch_t *b, queue_t *q, etls_batch_waiter_t *w, int *status)
{
    if (q->n == q->cap) {
        b->st.full_flushes++;
        run_queues(b);
    }
    size_t i = q->n++;
    q->slots[i].w = w;
    q->slots[i].status = status;
    if (status)
        *status = ETLS_ERR_IN_PROGRESS;
    if (w)
        w->pending++;
    return i;
}

etls_x25519_op_t *etls_batch_x25519(etls_batch_t *b, etls_batch_waiter_t *w, int *status)
{
    etls_x25519_op_t *op = &b->x25519[take_slot(b, &b->qx, w, status)];
    memset(op, 0, sizeof *op);
    return op;
}

etls_batch_p256_op_t *etls_batch_p256(etls_batch_t *b, etls_batch_waiter_t *w, int *status)
{
    etls_batch_p256_op_t *op = &b->p256[take_slot(b, &b->qp, w, status)];
    memset(op, 0, sizeof *op);
    return op;
}

etls_batch_sign_op_t *etls_batch_sign(etls_batch_t *b, etls_batch_waiter_t *w, int *status)
{
    etls_batch_sign_op_t *op = &b->sign[take_slot(b, &b->qs, w, status)];
    memset(op, 0, sizeof *op);
    return op;
}

etls_batch_rsa_op_t *etls_batch_rsa(etls_batch_t *b, etls_batch_waiter_t *w, int *status)
{
    etls_batch_rsa_op_t *op = &b->rsa[take_slot(b, &b->qr, w, status)];
    memset(op, 0, sizeof *op);
    return op;
}

etls_aead_op_t *etls_batch_aead(etls_batch_t *b, etls_batch_waiter_t *w, int *status)
{
    if (!b->cfg.aead)
        return NULL;
    etls_aead_op_t *op = &b->aead[take_slot(b, &b->qa, w, status)];
    memset(op, 0, sizeof *op);
    return op;
}

/* Compacts q (and its op array) dropping w's requests, keeping the order of the others. */
static void queue_cancel(queue_t *q, void *ops, size_t opsize, etls_batch_waiter_t *w)
{
    size_t j = 0;
    for (size_t i = 0; i < q->n; i++) {
        if (q->slots[i].w == w)
            continue;
        if (i != j) {
            q->slots[j] = q->slots[i];
            memcpy((uint8_t *)ops + j * opsize, (uint8_t *)ops + i * opsize, opsize);
        }
        j++;
    }
    q->n = j;
}

void etls_batch_cancel(etls_batch_t *b, etls_batch_waiter_t *w)
{
    queue_cancel(&b->qx, b->x25519, sizeof *b->x25519, w);
    queue_cancel(&b->qp, b->p256, sizeof *b->p256, w);
    queue_cancel(&b->qs, b->sign, sizeof *b->sign, w);
    queue_cancel(&b->qa, b->aead, sizeof *b->aead, w);
    queue_cancel(&b->qr, b->rsa, sizeof *b->rsa, w);
    w->pending = 0;
    if (!w->on_ready)
        return;
    etls_batch_waiter_t **pp = &b->ready_head, *prev = NULL;
    while (*pp && *pp != w) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp) {
        *pp = w->next;
        if (b->ready_tail == w)
            b->ready_tail = prev;
    }
    w->on_ready = 0;
    w->next = NULL;
}

etls_batch_waiter_t *etls_batch_pop_ready(etls_batch_t *b)
{
    while (b->ready_head) {
        etls_batch_waiter_t *w = b->ready_head;
        b->ready_head = w->next;
        if (!b->ready_head)
            b->ready_tail = NULL;
        w->next = NULL;
        w->on_ready = 0;
        if (w->pending == 0)
            return w;
    }
    return NULL;
}

size_t etls_batch_queued(const etls_batch_t *b)
{
    return b->qx.n + b->qp.n + b->qs.n + b->qa.n + b->qr.n;
}

void etls_batch_get_stats(const etls_batch_t *b, etls_batch_stats_t *st)
{
    *st = b->st;
}

void etls_batch_fill_read(const etls_batch_t *b, etls_batch_fill_t *out)
{
    for (size_t i = 0; i <= ETLS_BATCH_FILL_BOUNDS; i++)
        out->runs[i] = __atomic_load_n(&b->fill.runs[i], __ATOMIC_RELAXED);
    out->items = __atomic_load_n(&b->fill.items, __ATOMIC_RELAXED);
}
