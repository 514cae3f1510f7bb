/* Shared timing harness for the vmlite micro/macro benchmarks.
 *
 * Each benchmark is one static binary that runs unchanged natively and inside
 * a guest, so the two numbers are directly comparable. Every program prints
 * exactly one machine-readable line:
 *
 *   BENCH name=<name> iters=<N> ns_per_op=<X> [key=value ...]
 *
 * Command line convention (all programs): an optional leading iteration count
 * (a number, or "0"/"auto" to self-calibrate), then program-specific
 * arguments. Self-calibration aims at BENCH_TARGET_NS of measured work, so a
 * slow engine (binary translation, TCG) still finishes in about a second.
 *
 * Header-only on purpose: each benchmark is a single translation unit, which
 * keeps the build rule one line per binary.
 */
#ifndef VMLITE_BENCH_H
#define VMLITE_BENCH_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_TARGET_NS 500000000ull

/* Benchmark body: performs `iters` operations; returns 0 or -1 on failure
 * (after printing why with bench_fail). */
typedef int (*bench_fn)(uint64_t iters, void *ctx);

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void bench_fail(const char *name, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (errno)
        fprintf(stderr, ": %s", strerror(errno));
    fputc('\n', stderr);
}

/* Parses the optional leading iteration count. Returns the index of the first
 * program-specific argument; *iters is 0 when calibration was requested. */
static inline int bench_parse_iters(int argc, char **argv, uint64_t *iters)
{
    *iters = 0;
    if (argc < 2)
        return 1;
    if (strcmp(argv[1], "auto") == 0)
        return 2;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(argv[1], &end, 10);
    if (errno || end == argv[1] || *end != '\0')
        return 1; /* not a number: it is the first specific argument */
    *iters = v;
    return 2;
}

/* Runs fn for `iters` operations, or calibrates first when iters == 0:
 * grows the count until one run takes >= 1/20 of the target, then scales to
 * the target. Only the final run is reported. `quantum` rounds the count for
 * bodies that work in batches (1 = no rounding). */
static inline int bench_measure(const char *name, bench_fn fn, void *ctx,
                                uint64_t *iters, uint64_t quantum, uint64_t *ns)
{
    uint64_t n = *iters;
    if (quantum == 0)
        quantum = 1;
    if (n == 0) {
        n = quantum;
        for (;;) {
            uint64_t t0 = bench_now_ns();
            if (fn(n, ctx) < 0)
                return -1;
            uint64_t dt = bench_now_ns() - t0;
            if (dt >= BENCH_TARGET_NS / 2) {
                /* Already long enough (slow engine): report this run. */
                *iters = n;
                *ns = dt;
                return 0;
            }
            if (dt >= BENCH_TARGET_NS / 20) {
                double scale = (double)BENCH_TARGET_NS / (double)dt;
                n = (uint64_t)((double)n * scale);
                break;
            }
            n *= (dt < BENCH_TARGET_NS / 1000) ? 16 : 4;
        }
    }
    n = (n + quantum - 1) / quantum * quantum;
    uint64_t t0 = bench_now_ns();
    if (fn(n, ctx) < 0) {
        (void)name;
        return -1;
    }
    *ns = bench_now_ns() - t0;
    *iters = n;
    return 0;
}

/* Prints the BENCH line; `extra` is appended verbatim (may be NULL). */
static inline void bench_report(const char *name, uint64_t iters, uint64_t ns,
                                const char *extra)
{
    double per = iters ? (double)ns / (double)iters : 0.0;
    printf("BENCH name=%s iters=%llu ns_per_op=%.1f total_ms=%.1f%s%s\n", name,
           (unsigned long long)iters, per, (double)ns / 1e6,
           extra ? " " : "", extra ? extra : "");
    fflush(stdout);
}

#endif
