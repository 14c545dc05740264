/* Error codes and guard macros shared by every edgetls module.
 *
 * Functions return 0 on success or a negative code. TLS failures carry the alert to send
 * (ETLS_ERR_ALERT(desc)), so the engine never has to translate an internal error into an
 * alert after the fact: the code that detects the problem knows which alert the RFC wants. */
#ifndef ETLS_COMMON_ERR_H
#define ETLS_COMMON_ERR_H

#include <stdint.h>

#define ETLS_OK 0
#define ETLS_ERR_INVALID (-1)     /* bad argument or malformed input */
#define ETLS_ERR_NOMEM (-2)       /* allocation or a fixed-size pool exhausted */
#define ETLS_ERR_CRYPTO (-3)      /* a crypto backend failed (never a peer-caused condition) */
#define ETLS_ERR_AUTH (-4)        /* authentication failed: bad tag, MAC or signature */
#define ETLS_ERR_UNSUPPORTED (-5) /* algorithm, feature or CPU path not available */
#define ETLS_ERR_IN_PROGRESS (-6) /* work parked in a batch; call again after the batch ran */
#define ETLS_ERR_IO (-7)          /* file or socket error (errno says more) */
#define ETLS_ERR_LIMIT (-8)       /* a configured bound was reached */

/* TLS alert classes: an error code that is an alert to send to the peer. */
#define ETLS_ERR_ALERT_BASE 0x100
#define ETLS_ERR_ALERT(desc) (-(ETLS_ERR_ALERT_BASE + (int)(desc)))
#define ETLS_ERR_IS_ALERT(err) ((err) <= -ETLS_ERR_ALERT_BASE && (err) > -(ETLS_ERR_ALERT_BASE + 256))
#define ETLS_ERR_ALERT_DESC(err) ((uint8_t)(-(err)-ETLS_ERR_ALERT_BASE))

#define ETLS_WARN_UNUSED __attribute__((warn_unused_result))
#define ETLS_LIKELY(x) __builtin_expect(!!(x), 1)
#define ETLS_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* s2n-style guards: keep error paths one line each so the happy path reads straight down. */
#define ETLS_GUARD(expr)                                                                          \
    do {                                                                                          \
        int etls_guard_rc_ = (expr);                                                              \
        if (ETLS_UNLIKELY(etls_guard_rc_ < 0))                                                    \
            return etls_guard_rc_;                                                                \
    } while (0)
#define ETLS_ENSURE(cond, err)                                                                    \
    do {                                                                                          \
        if (ETLS_UNLIKELY(!(cond)))                                                               \
            return (err);                                                                         \
    } while (0)

const char *etls_strerror(int err);

#endif
