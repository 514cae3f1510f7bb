/* forkwait: process creation and teardown without exec (copy of the address
 * space page tables, child exit, parent reaping it). */
#include "bench.h"
#include <sys/wait.h>
#include <unistd.h>

static int body(uint64_t iters, void *ctx)
{
    (void)ctx;
    for (uint64_t i = 0; i < iters; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            bench_fail("forkwait", "fork");
            return -1;
        }
        if (pid == 0)
            _exit(0);
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
            bench_fail("forkwait", "waitpid");
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t iters, ns;
    bench_parse_iters(argc, argv, &iters);
    if (bench_measure("forkwait", body, NULL, &iters, 1, &ns) < 0)
        return 1;
    bench_report("forkwait", iters, ns, NULL);
    return 0;
}
