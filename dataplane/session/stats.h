/* Per-worker handshake, latency and alert counters of the sessions (the /metrics detail).
 *
 * Each worker owns one etls_sess_stats_t and is its only writer (relaxed atomic stores of
 * value + 1: no lock, no read-modify-write); any thread may read it with etls_sess_stats_read.
 * The hot path touches dense index tables, never strings: a handshake's protocol version,
 * suite, group and signature scheme become small indexes (0 is "none": not negotiated yet, or
 * a value this build does not name), and one counter of the table below is incremented. Names
 * appear only when the counters are formatted on request (etls_sess_stats_format).
 *
 * What is counted where (session.c): a completed handshake when it completes, with its
 * latency from the first ClientHello byte the session saw; a failed one when it fails (alert,
 * peer alert, error, timeout, client gone) with whatever was negotiated by then; alerts when
 * they are written to `out` or read from the peer, close_notify included. */
#ifndef ETLS_SESSION_STATS_H
#define ETLS_SESSION_STATS_H

#include <stddef.h>
#include <stdint.h>

enum { ETLS_ST_OK = 0, ETLS_ST_FAILED, ETLS_ST_OUTCOMES };
/* Handshake kinds: a HelloRetryRequest handshake is "hrr" whether or not it then resumed. */
enum { ETLS_ST_FULL = 0, ETLS_ST_RESUMED, ETLS_ST_HRR, ETLS_ST_KINDS };
#define ETLS_ST_VERSIONS 3 /* none, TLSv1.3, TLSv1.2 */
/* none + the five TLS 1.3 suites + the six TLS 1.2 ECDHE AEAD suites + the two RSA key exchange ones */
#define ETLS_ST_SUITES 14
#define ETLS_ST_GROUPS 4   /* none, x25519, secp256r1, x25519mlkem768 */
/* none (also: resumed, no signature), ECDSA P-256, RSA-PSS-SHA256, Ed25519, and the TLS 1.2
 * RSA schemes: RSA-PSS-SHA384, PKCS#1 v1.5 SHA-256 / SHA-384 */
#define ETLS_ST_SCHEMES 7
/* Upper bounds of the latency buckets, in nanoseconds (100 us .. 1 s); one more bucket above. */
#define ETLS_ST_LAT_BOUNDS 13

typedef struct etls_sess_stats {
    uint64_t hs[ETLS_ST_OUTCOMES][ETLS_ST_VERSIONS][ETLS_ST_SUITES][ETLS_ST_GROUPS][ETLS_ST_SCHEMES]
               [ETLS_ST_KINDS];
    uint64_t lat[ETLS_ST_LAT_BOUNDS + 1]; /* per bucket (not cumulative); the last: above 1 s */
    uint64_t lat_sum_ns;
    uint64_t alerts_sent[256], alerts_recv[256]; /* by description */
} etls_sess_stats_t;

/* The facts of one handshake, as indexes (etls_st_*_idx). */
typedef struct etls_st_hs {
    uint8_t version, suite, group, scheme, kind;
} etls_st_hs_t;

size_t etls_st_version_idx(uint16_t version);
size_t etls_st_suite_idx(uint16_t suite);
size_t etls_st_group_idx(uint16_t group);
size_t etls_st_scheme_idx(uint16_t scheme);
const char *etls_st_version_name(size_t idx);
const char *etls_st_suite_name(size_t idx);
const char *etls_st_group_name(size_t idx);
const char *etls_st_scheme_name(size_t idx);
const char *etls_st_kind_name(size_t idx);
/* The bucket a duration falls in (a bound is inclusive, as Prometheus' "le"). */
size_t etls_st_lat_bucket(uint64_t ns);
/* Bucket i's bound in nanoseconds, and as Prometheus writes it ("0.0001" .. "1"). */
uint64_t etls_st_lat_bound_ns(size_t i);
const char *etls_st_lat_bound_text(size_t i);

/* Writer side (the owning worker only). */
void etls_sess_stats_hs(etls_sess_stats_t *st, int outcome, const etls_st_hs_t *h);
void etls_sess_stats_latency(etls_sess_stats_t *st, uint64_t ns);
void etls_sess_stats_alert(uint64_t *table, int desc); /* alerts_sent or alerts_recv */

/* Reader side (any thread): a copy made with relaxed loads. */
void etls_sess_stats_read(const etls_sess_stats_t *src, etls_sess_stats_t *dst);

/* The STATS lines of worker `w` (docs/control-protocol.md, "STATS"), only nonzero counters
 * (the histogram always, so its series exist from the start):
 *   worker.W.hs:OUTCOME:VERSION:SUITE:GROUP:SCHEME:KIND N
 *   worker.W.hs_seconds_bucket:LE N   (cumulative, LE from 0.0001 to 1, then +Inf)
 *   worker.W.hs_seconds_sum_ns N      worker.W.hs_seconds_count N
 *   worker.W.alert_sent:NAME N        worker.W.alert_recv:NAME N
 * NAME is the RFC name or "alert_D" for a description no RFC names. Returns the bytes put. */
typedef void etls_st_put_fn(void *arg, const char *s, size_t n);
size_t etls_sess_stats_format(const etls_sess_stats_t *st, unsigned w, etls_st_put_fn *put, void *arg);

#endif
