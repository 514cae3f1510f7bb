/* pagefault: anonymous page faults. Maps a region, writes one byte per page
 * (each write is a first-touch fault that allocates and zeroes a page),
 * unmaps it. Reports ns per page, including the amortized mmap/munmap.
 *   pagefault [pages] [region_pages]   (default region 1024 pages = 4 MiB) */
#include "bench.h"
#include <sys/mman.h>
#include <unistd.h>

struct region {
    size_t pages;
    size_t page_size;
};

static int body(uint64_t iters, void *ctx)
{
    struct region *r = ctx;
    for (uint64_t done = 0; done < iters; done += r->pages) {
        size_t len = r->pages * r->page_size;
        volatile char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            bench_fail("pagefault", "mmap %zu bytes", len);
            return -1;
        }
        /* Huge pages would turn 512 faults into one: measure 4K faults. */
        madvise((void *)p, len, MADV_NOHUGEPAGE);
        for (size_t off = 0; off < len; off += r->page_size)
            p[off] = 1;
        munmap((void *)p, len);
    }
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t iters, ns;
    int a = bench_parse_iters(argc, argv, &iters);
    struct region r = { .pages = 1024, .page_size = (size_t)sysconf(_SC_PAGESIZE) };
    if (a < argc && atol(argv[a]) > 0)
        r.pages = (size_t)atol(argv[a]);
    if (bench_measure("pagefault", body, &r, &iters, r.pages, &ns) < 0)
        return 1;
    char extra[64];
    snprintf(extra, sizeof extra, "region_pages=%zu", r.pages);
    bench_report("pagefault", iters, ns, extra);
    return 0;
}
