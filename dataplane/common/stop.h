/* Run-time settings the control plane changes in a running dataplane.
 *
 * How long a graceful stop waits for open connections before closing them: the configuration's
 * shutdown_timeout, unless a drain from the control plane asked for its own (edgetlsctl drain
 * --timeout), stored before the stop begins. Read once per worker when its stop begins. */
#ifndef ETLS_COMMON_STOP_H
#define ETLS_COMMON_STOP_H

#include <stdatomic.h>
#include <stdint.h>

/* 0: none asked; else the drain's timeout in ms plus one (so a drain of 0 ms can be told apart). */
extern _Atomic uint32_t etls_drain_timeout_ms_plus1;

static inline void etls_drain_set_timeout(uint32_t ms)
{
    atomic_store_explicit(&etls_drain_timeout_ms_plus1, ms < UINT32_MAX ? ms + 1 : ms, memory_order_relaxed);
}

static inline uint32_t etls_stop_timeout_ms(uint32_t configured)
{
    uint32_t d = atomic_load_explicit(&etls_drain_timeout_ms_plus1, memory_order_relaxed);
    return d ? d - 1 : configured;
}

/* The log level the control plane set (edgetlsctl log-level), over the configuration's: workers
 * read it where they decide whether to log, so a change reaches them at once. */
extern _Atomic int etls_log_level_plus1; /* 0: the configuration's */

static inline void etls_log_level_set(int level)
{
    atomic_store_explicit(&etls_log_level_plus1, level + 1, memory_order_relaxed);
}

static inline int etls_log_level_now(int configured)
{
    int l = atomic_load_explicit(&etls_log_level_plus1, memory_order_relaxed);
    return l ? l - 1 : configured;
}

#endif
