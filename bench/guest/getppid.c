/* getppid: cost of the cheapest real system call (entry + exit).
 * syscall(SYS_getppid) bypasses any libc caching of the result. */
#include "bench.h"
#include <sys/syscall.h>
#include <unistd.h>

static int body(uint64_t iters, void *ctx)
{
    (void)ctx;
    for (uint64_t i = 0; i < iters; i++)
        syscall(SYS_getppid);
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t iters, ns;
    bench_parse_iters(argc, argv, &iters);
    if (bench_measure("getppid", body, NULL, &iters, 1, &ns) < 0)
        return 1;
    bench_report("getppid", iters, ns, NULL);
    return 0;
}
