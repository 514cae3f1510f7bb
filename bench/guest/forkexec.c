/* forkexec: fork + execve of a tiny static program + wait.
 *   forkexec [iters] [path [argv0]]
 * Default path /bin/true (the busybox applet inside the guest). Natively,
 * pass /bin/busybox true so both sides exec the same static binary. */
#include "bench.h"
#include <libgen.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct prog {
    const char *path;
    char *argv[2];
};

static int body(uint64_t iters, void *ctx)
{
    struct prog *p = ctx;
    for (uint64_t i = 0; i < iters; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            bench_fail("forkexec", "fork");
            return -1;
        }
        if (pid == 0) {
            execve(p->path, p->argv, environ);
            _exit(127);
        }
        int status;
        if (waitpid(pid, &status, 0) != pid) {
            bench_fail("forkexec", "waitpid");
            return -1;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            errno = 0;
            bench_fail("forkexec", "%s did not exit 0 (status 0x%x)", p->path,
                       status);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t iters, ns;
    int a = bench_parse_iters(argc, argv, &iters);
    struct prog p = { .path = "/bin/true" };
    if (a < argc)
        p.path = argv[a++];
    char *copy = strdup(p.path);
    p.argv[0] = a < argc ? argv[a] : basename(copy);
    p.argv[1] = NULL;
    if (bench_measure("forkexec", body, &p, &iters, 1, &ns) < 0)
        return 1;
    char extra[512];
    snprintf(extra, sizeof extra, "prog=%s", p.path);
    bench_report("forkexec", iters, ns, extra);
    free(copy);
    return 0;
}
