/* One-byte ping-pong between two processes over a pair of pipes; shared by
 * the pipe and ctxsw benchmarks, which differ only in CPU placement. */
#ifndef VMLITE_PINGPONG_H
#define VMLITE_PINGPONG_H

#include "bench.h"
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

struct pingpong {
    int to_child;
    int from_child;
};

static int pingpong_body(uint64_t round_trips, void *ctx)
{
    struct pingpong *pp = ctx;
    char c = 'x';
    for (uint64_t i = 0; i < round_trips; i++) {
        if (write(pp->to_child, &c, 1) != 1 || read(pp->from_child, &c, 1) != 1) {
            bench_fail("pingpong", "pipe I/O");
            return -1;
        }
    }
    return 0;
}

/* Counting a context switch as half a round trip needs the two processes to
 * take turns on one CPU; with pin == 0 they may run on different CPUs and the
 * number is the cross-CPU wakeup latency instead. */
static int pingpong_main(const char *name, int argc, char **argv, int pin)
{
    uint64_t iters, ns;
    bench_parse_iters(argc, argv, &iters);
    if (pin) {
        cpu_set_t set;
        CPU_ZERO(&set);
        int cpu = sched_getcpu();
        CPU_SET(cpu < 0 ? 0 : cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) < 0) {
            bench_fail(name, "sched_setaffinity");
            return 1;
        }
    }
    int down[2], up[2];
    if (pipe(down) < 0 || pipe(up) < 0) {
        bench_fail(name, "pipe");
        return 1;
    }
    pid_t pid = fork(); /* inherits the affinity mask */
    if (pid < 0) {
        bench_fail(name, "fork");
        return 1;
    }
    if (pid == 0) {
        close(down[1]);
        close(up[0]);
        char c;
        while (read(down[0], &c, 1) == 1)
            if (write(up[1], &c, 1) != 1)
                break;
        _exit(0);
    }
    close(down[0]);
    close(up[1]);
    struct pingpong pp = { .to_child = down[1], .from_child = up[0] };
    int rc = bench_measure(name, pingpong_body, &pp, &iters, 1, &ns);
    close(down[1]);
    close(up[0]);
    waitpid(pid, NULL, 0);
    if (rc < 0)
        return 1;
    if (pin) /* two switches per round trip */
        bench_report(name, iters * 2, ns, "unit=switch pinned=1");
    else
        bench_report(name, iters, ns, "unit=round_trip");
    return 0;
}

#endif
