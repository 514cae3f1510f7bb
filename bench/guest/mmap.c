/* mmap: mmap + munmap of one anonymous page, never touched: VMA bookkeeping
 * and TLB-flush cost without any fault. */
#include "bench.h"
#include <sys/mman.h>
#include <unistd.h>

static int body(uint64_t iters, void *ctx)
{
    size_t len = *(size_t *)ctx;
    for (uint64_t i = 0; i < iters; i++) {
        void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            bench_fail("mmap", "mmap");
            return -1;
        }
        munmap(p, len);
    }
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t iters, ns;
    size_t len = (size_t)sysconf(_SC_PAGESIZE);
    bench_parse_iters(argc, argv, &iters);
    if (bench_measure("mmap", body, &len, &iters, 1, &ns) < 0)
        return 1;
    bench_report("mmap", iters, ns, NULL);
    return 0;
}
