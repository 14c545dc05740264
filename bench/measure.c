/* Timing core of edgetls-bench: clocks, cycle counters, CPU pinning and interleaved rounds.
 *
 * Rates are per second of this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), not wall time:
 * on a shared machine the thread is sometimes descheduled, and that time says nothing about
 * the code being measured. Cycles come from a perf_event CPU-cycles counter on this thread
 * when the kernel offers one (bare metal, or a VM with a virtual PMU); otherwise from rdtsc,
 * which counts reference cycles at the TSC rate and keeps running while the thread is off
 * the CPU, so it is scaled by the on-CPU share of the round. The header line says which. */
#include "bench.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

static int perf_fd = -1;
static int perf_user_only;
static double tsc_hz;

/* This thread's CPU time in seconds. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
static etls_bench_cyc_src_t cyc_src;

double etls_bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int perf_open(int exclude_kernel)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.type = PERF_TYPE_HARDWARE;
    a.size = sizeof a;
    a.config = PERF_COUNT_HW_CPU_CYCLES;
    a.exclude_kernel = (unsigned)exclude_kernel;
    a.exclude_hv = 1;
    return (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
}

/* TSC rate over a short sleep; the TSC is invariant on every CPU this runs on (constant_tsc). */
static double tsc_estimate(void)
{
    struct timespec d = {.tv_sec = 0, .tv_nsec = 50 * 1000 * 1000};
    double t0 = etls_bench_now();
    uint64_t c0 = __rdtsc();
    nanosleep(&d, NULL);
    uint64_t c1 = __rdtsc();
    double t1 = etls_bench_now();
    return (double)(c1 - c0) / (t1 - t0);
}

etls_bench_cyc_src_t etls_bench_cycles_init(void)
{
    if (cyc_src)
        return cyc_src;
    tsc_hz = tsc_estimate();
    perf_fd = perf_open(0);
    if (perf_fd < 0) {
        perf_fd = perf_open(1); /* perf_event_paranoid may forbid counting kernel time */
        perf_user_only = perf_fd >= 0;
    }
    cyc_src = perf_fd >= 0 ? ETLS_BENCH_CYC_PERF : ETLS_BENCH_CYC_TSC;
    return cyc_src;
}

const char *etls_bench_cycles_describe(char *buf, size_t len)
{
    if (cyc_src == ETLS_BENCH_CYC_PERF)
        snprintf(buf, len, "perf_event cpu-cycles (%s; TSC ~%.3f GHz)",
                 perf_user_only ? "user only" : "user+kernel", tsc_hz * 1e-9);
    else
        snprintf(buf, len,
                 "rdtsc reference cycles scaled to on-CPU time (no perf cpu-cycles counter; "
                 "TSC ~%.3f GHz)",
                 tsc_hz * 1e-9);
    return buf;
}

static uint64_t cycles_now(void)
{
    uint64_t v;
    if (perf_fd >= 0 && read(perf_fd, &v, sizeof v) == (ssize_t)sizeof v)
        return v;
    return __rdtsc();
}

int etls_bench_pin(int cpu)
{
    if (cpu < 0)
        cpu = sched_getcpu();
    if (cpu < 0 || cpu >= CPU_SETSIZE)
        return -EINVAL;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0)
        return -errno;
    return cpu;
}

const char *etls_bench_cpu_model(char *buf, size_t len)
{
    snprintf(buf, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return buf;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) != 0 || !colon)
            continue;
        colon += 1 + (colon[1] == ' ');
        colon[strcspn(colon, "\n")] = '\0';
        snprintf(buf, len, "%s", colon);
        break;
    }
    fclose(f);
    return buf;
}

/* Doubles the call count until one chunk takes `target` seconds, and keeps running for at
 * least `warm` seconds so caches, branch predictors and the clock frequency settle. */
static int warm_up(etls_bench_side_t *s, double target, double warm)
{
    uint64_t calls = 1;
    double spent = 0, dt = 0;
    for (;;) {
        double t0 = cpu_now();
        int rc = s->run(s->st, calls);
        dt = cpu_now() - t0;
        spent += dt;
        if (rc < 0)
            return rc;
        if (dt >= target && spent >= warm)
            break;
        if (dt < target && calls < (UINT64_C(1) << 40))
            calls *= 2;
    }
    double scaled = (double)calls * target / (dt > 0 ? dt : target);
    s->chunk_calls = scaled < 1 ? 1 : (uint64_t)scaled;
    return 0;
}

/* One timed round: whole chunks until round_s of CPU time has passed (at least one chunk). */
static int timed_round(const etls_bench_side_t *s, double round_s, double *ops_s, double *cyc_op)
{
    uint64_t calls = 0;
    double w0 = etls_bench_now(), u0 = cpu_now(), u1;
    uint64_t c0 = cycles_now();
    do {
        int rc = s->run(s->st, s->chunk_calls);
        if (rc < 0)
            return rc;
        calls += s->chunk_calls;
        u1 = cpu_now();
    } while (u1 - u0 < round_s);
    uint64_t c1 = cycles_now();
    double w1 = etls_bench_now();
    double ops = (double)calls * s->ops_per_call, cpu = u1 - u0, wall = w1 - w0;
    double cyc = (double)(c1 - c0);
    if (perf_fd < 0 && wall > cpu && cpu > 0)
        cyc *= cpu / wall; /* TSC ticks while descheduled are not ours */
    if (cyc <= 0)
        cyc = cpu * tsc_hz; /* a perf counter the PMU never scheduled reads 0 */
    *ops_s = ops / cpu;
    *cyc_op = cyc / ops;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define MAX_ROUNDS 64

int etls_bench_measure_pair(etls_bench_side_t *ours, etls_bench_side_t *ossl,
                            const etls_bench_timing_t *t, etls_bench_result_t *r_ours,
                            etls_bench_result_t *r_ossl)
{
    unsigned rounds = t->rounds < 1 ? 1 : t->rounds > MAX_ROUNDS ? MAX_ROUNDS : t->rounds;
    double target = t->round_s / 10, warm = t->round_s;
    double ops[2][MAX_ROUNDS], cyc[2][MAX_ROUNDS];
    etls_bench_side_t *sides[2] = {ours, ossl};
    int rc;

    for (int i = 0; i < 2; i++)
        if ((rc = warm_up(sides[i], target, warm)) < 0)
            return rc;
    for (unsigned r = 0; r < rounds; r++) {
        /* Alternate which side goes first so a slow drift does not favour either. */
        for (int k = 0; k < 2; k++) {
            int i = (int)((r + (unsigned)k) % 2);
            if ((rc = timed_round(sides[i], t->round_s, &ops[i][r], &cyc[i][r])) < 0)
                return rc;
        }
    }
    r_ours->ops_per_s = median(ops[0], rounds);
    r_ours->cycles_per_op = median(cyc[0], rounds);
    r_ossl->ops_per_s = median(ops[1], rounds);
    r_ossl->cycles_per_op = median(cyc[1], rounds);
    return 0;
}
