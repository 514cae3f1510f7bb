/* fileops: kernel-heavy file system macro workload. In a private directory
 * under DIR (default /tmp, a tmpfs in the guest) it repeatedly creates a batch
 * of small files, writes them, reads them back and deletes them. One op is the
 * whole life of one file: open(O_CREAT)+write+close+open+read+close+unlink.
 *   fileops [files] [dir] [file_bytes] */
#include "bench.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define BATCH 128

struct ctx {
    char dir[4096];
    size_t bytes;
    char *buf;
};

static void file_name(char *out, size_t n, const char *dir, unsigned i)
{
    snprintf(out, n, "%s/f%04u", dir, i);
}

static int body(uint64_t iters, void *vctx)
{
    struct ctx *c = vctx;
    char path[4200];
    for (uint64_t done = 0; done < iters; done += BATCH) {
        for (unsigned i = 0; i < BATCH; i++) {
            file_name(path, sizeof path, c->dir, i);
            int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
            if (fd < 0 || write(fd, c->buf, c->bytes) != (ssize_t)c->bytes) {
                bench_fail("fileops", "create/write %s", path);
                return -1;
            }
            close(fd);
        }
        for (unsigned i = 0; i < BATCH; i++) {
            file_name(path, sizeof path, c->dir, i);
            int fd = open(path, O_RDONLY);
            if (fd < 0 || read(fd, c->buf, c->bytes) != (ssize_t)c->bytes) {
                bench_fail("fileops", "open/read %s", path);
                return -1;
            }
            close(fd);
        }
        for (unsigned i = 0; i < BATCH; i++) {
            file_name(path, sizeof path, c->dir, i);
            if (unlink(path) < 0) {
                bench_fail("fileops", "unlink %s", path);
                return -1;
            }
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t iters, ns;
    int a = bench_parse_iters(argc, argv, &iters);
    const char *base = a < argc ? argv[a] : "/tmp";
    static struct ctx c;
    c.bytes = (a + 1 < argc && atol(argv[a + 1]) > 0) ? (size_t)atol(argv[a + 1]) : 1024;
    c.buf = malloc(c.bytes);
    if (!c.buf)
        return 1;
    memset(c.buf, 'v', c.bytes);
    snprintf(c.dir, sizeof c.dir, "%s/vmlite-fileops.%d", base, (int)getpid());
    if (mkdir(c.dir, 0755) < 0) {
        bench_fail("fileops", "mkdir %s (pass a writable directory)", c.dir);
        return 1;
    }
    int rc = bench_measure("fileops", body, &c, &iters, BATCH, &ns);
    rmdir(c.dir);
    if (rc < 0)
        return 1;
    char extra[4200];
    snprintf(extra, sizeof extra, "file_bytes=%zu dir=%s", c.bytes, base);
    bench_report("fileops", iters, ns, extra);
    return 0;
}
