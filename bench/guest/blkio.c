/* blkio: sequential block I/O throughput. Writes SIZE MiB in 1 MiB requests
 * and fsyncs, drops the cached pages, then reads them back sequentially.
 *   blkio [MiB] PATH [MiB]      (default 32 MiB)
 * PATH may be a block device (overwritten!) or a regular file (created and
 * removed). One op is one MiB written and read back; the line also carries
 * write_MBps (including the fsync) and read_MBps. */
#include "bench.h"
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (1u << 20)

static void fill(unsigned char *buf, uint64_t chunk)
{
    for (size_t i = 0; i < CHUNK; i += 8)
        memcpy(buf + i, &chunk, 8);
}

int main(int argc, char **argv)
{
    uint64_t mib;
    int a = bench_parse_iters(argc, argv, &mib);
    if (a >= argc) {
        errno = 0;
        bench_fail("blkio", "usage: blkio [MiB] PATH [MiB]");
        return 2;
    }
    const char *path = argv[a];
    if (a + 1 < argc && atol(argv[a + 1]) > 0)
        mib = (uint64_t)atol(argv[a + 1]);
    if (mib == 0)
        mib = 32;

    struct stat st;
    int is_dev = stat(path, &st) == 0 && S_ISBLK(st.st_mode);
    int fd = open(path, is_dev ? O_RDWR : O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        bench_fail("blkio", "open %s", path);
        return 1;
    }
    if (is_dev) {
        uint64_t bytes = 0;
        if (ioctl(fd, BLKGETSIZE64, &bytes) == 0 && bytes / CHUNK < mib)
            mib = bytes / CHUNK;
        if (mib == 0) {
            errno = 0;
            bench_fail("blkio", "%s is smaller than 1 MiB", path);
            return 1;
        }
    }
    unsigned char *buf = aligned_alloc(4096, CHUNK);
    if (!buf)
        return 1;

    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < mib; i++) {
        fill(buf, i);
        if (write(fd, buf, CHUNK) != (ssize_t)CHUNK) {
            bench_fail("blkio", "write %s", path);
            return 1;
        }
    }
    if (fsync(fd) < 0) {
        bench_fail("blkio", "fsync %s", path);
        return 1;
    }
    uint64_t t1 = bench_now_ns();

    /* Make the read come from the device, not from the page cache we just
     * filled (no effect on tmpfs, where the cache is the storage). */
    posix_fadvise(fd, 0, (off_t)(mib * CHUNK), POSIX_FADV_DONTNEED);
    if (lseek(fd, 0, SEEK_SET) != 0) {
        bench_fail("blkio", "lseek");
        return 1;
    }
    uint64_t t2 = bench_now_ns();
    for (uint64_t i = 0; i < mib; i++) {
        if (read(fd, buf, CHUNK) != (ssize_t)CHUNK) {
            bench_fail("blkio", "read %s", path);
            return 1;
        }
        uint64_t tag;
        memcpy(&tag, buf + CHUNK - 8, 8);
        if (tag != i) {
            errno = 0;
            bench_fail("blkio", "read back wrong data at MiB %llu", (unsigned long long)i);
            return 1;
        }
    }
    uint64_t t3 = bench_now_ns();
    close(fd);
    if (!is_dev)
        unlink(path);

    double w = (double)mib / ((double)(t1 - t0) / 1e9);
    double r = (double)mib / ((double)(t3 - t2) / 1e9);
    char extra[256];
    snprintf(extra, sizeof extra, "write_MBps=%.1f read_MBps=%.1f device=%d", w, r, is_dev);
    bench_report("blkio", mib, (t1 - t0) + (t3 - t2), extra);
    free(buf);
    return 0;
}
