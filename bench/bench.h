/* edgetls-bench: shared declarations for the subcommands and the measurement core.
 *
 * Each subcommand is a main()-like function taking the arguments after its name; it returns
 * the process exit status (0 ok, 1 a run failed, 2 bad usage). The measurement core times
 * callbacks in interleaved rounds and reports medians; it owns no benchmark state. */
#ifndef ETLS_BENCH_BENCH_H
#define ETLS_BENCH_BENCH_H

#include <stddef.h>
#include <stdint.h>

#define ETLS_BENCH_EXIT_USAGE 2

int etls_bench_crypto_main(int argc, char **argv);
/* certs.c: edgetls-bench certs (many certificates for scale benchmarks). */
int etls_bench_certs_main(int argc, char **argv);

/* ---- measurement (bench/measure.c) ---- */

/* Runs `calls` iterations of one benchmarked operation; each call performs ops_per_call
 * operations. Returns 0, or a negative code when a result was wrong (the run aborts). */
typedef int (*etls_bench_run_fn)(void *st, uint64_t calls);

typedef struct etls_bench_side {
    etls_bench_run_fn run;
    void *st;
    unsigned ops_per_call;
    uint64_t chunk_calls; /* calls between clock reads, found by the warm-up */
} etls_bench_side_t;

/* Medians over the rounds for one side. */
typedef struct etls_bench_result {
    double ops_per_s; /* per second of the measuring thread's CPU time */
    double cycles_per_op;
} etls_bench_result_t;

typedef struct etls_bench_timing {
    double round_s; /* CPU time per side per round */
    unsigned rounds;
} etls_bench_timing_t;

/* Where cycle counts come from; set up once per process by etls_bench_cycles_init. */
typedef enum { ETLS_BENCH_CYC_PERF = 1, ETLS_BENCH_CYC_TSC = 2 } etls_bench_cyc_src_t;

etls_bench_cyc_src_t etls_bench_cycles_init(void);
/* Human description, e.g. "perf cpu-cycles (user+kernel)" or "rdtsc (TSC ~2.450 GHz)". */
const char *etls_bench_cycles_describe(char *buf, size_t len);
double etls_bench_now(void); /* CLOCK_MONOTONIC seconds */

/* Pins the calling thread to cpu (cpu < 0: the CPU it is running on now). Returns the CPU
 * pinned to, or a negative errno. */
int etls_bench_pin(int cpu);
/* "model name" from /proc/cpuinfo, or "unknown". */
const char *etls_bench_cpu_model(char *buf, size_t len);

/* Warms both sides up, then times them in alternating rounds (ours, openssl, ours, ...) so
 * that noise from other tenants lands on both. Returns 0 or the first run error. */
int etls_bench_measure_pair(etls_bench_side_t *ours, etls_bench_side_t *ossl,
                            const etls_bench_timing_t *t, etls_bench_result_t *r_ours,
                            etls_bench_result_t *r_ossl);

#endif
