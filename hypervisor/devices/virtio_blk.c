/* virtio-blk over virtio-mmio, backed by a raw image file.
 *
 * Requests run synchronously in the vCPU thread that kicked the queue. A
 * FLUSH completes only after fdatasync(), so a write the guest has flushed
 * survives the VMM being killed; plain writes are in the host page cache as
 * soon as they complete, which also survives a kill -9 of vmlite. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "device.h"
#include "error.h"
#include "virtio/virtio_mmio.h"
#include "vm.h"

#define VIRTIO_ID_BLOCK       2
#define VIRTIO_BLK_F_SEG_MAX  (1ull << 2)
#define VIRTIO_BLK_F_RO       (1ull << 5)
#define VIRTIO_BLK_F_BLK_SIZE (1ull << 6)
#define VIRTIO_BLK_F_FLUSH    (1ull << 9)

#define VIRTIO_BLK_T_IN       0
#define VIRTIO_BLK_T_OUT      1
#define VIRTIO_BLK_T_FLUSH    4
#define VIRTIO_BLK_T_GET_ID   8
#define VIRTIO_BLK_S_OK       0
#define VIRTIO_BLK_S_IOERR    1
#define VIRTIO_BLK_S_UNSUPP   2

#define SECTOR 512ull

struct blk_config {
	uint64_t capacity;
	uint32_t size_max;
	uint32_t seg_max;
	uint16_t cylinders;
	uint8_t heads, sectors;
	uint32_t blk_size;
} __attribute__((packed));

struct vblk {
	struct virtio_mmio *t;
	struct virtio_dev_ops ops;
	int fd;
	bool readonly;
	uint64_t bytes;
	struct blk_config cfg;
	char serial[20];
	uint64_t reads, writes, flushes;
};

static void blk_config_rw(void *opaque, uint32_t off, unsigned size, bool is_write, uint8_t *data)
{
	struct vblk *b = opaque;
	if (!is_write && off + size <= sizeof(b->cfg))
		memcpy(data, (uint8_t *)&b->cfg + off, size);
}

static uint8_t blk_rw(struct vblk *b, struct virtq_elem *e, uint64_t sector, bool write,
		      uint32_t *written)
{
	/* Data lives between the 16-byte header (out) and the status byte (in). */
	uint64_t off = sector * SECTOR;
	ssize_t len;
	if (write) {
		if (b->readonly)
			return VIRTIO_BLK_S_IOERR;
		size_t n = iov_size(e->out, e->nout) - 16;
		if (off + n > b->bytes || off + n < off)
			return VIRTIO_BLK_S_IOERR;
		size_t pos = 0;
		for (int i = 0; i < e->nout; i++) {
			const uint8_t *p = e->out[i].iov_base;
			size_t l = e->out[i].iov_len;
			if (pos + l <= 16) {
				pos += l;
				continue;
			}
			size_t skip = pos < 16 ? 16 - pos : 0;
			len = pwrite(b->fd, p + skip, l - skip, (off_t)(off + pos + skip - 16));
			if (len != (ssize_t)(l - skip))
				return VIRTIO_BLK_S_IOERR;
			pos += l;
		}
		b->writes++;
		return VIRTIO_BLK_S_OK;
	}
	size_t n = iov_size(e->in, e->nin) - 1;
	if (off + n > b->bytes || off + n < off)
		return VIRTIO_BLK_S_IOERR;
	size_t done = 0;
	for (int i = 0; i < e->nin && done < n; i++) {
		size_t chunk = e->in[i].iov_len;
		if (chunk > n - done)
			chunk = n - done;
		len = pread(b->fd, e->in[i].iov_base, chunk, (off_t)(off + done));
		if (len != (ssize_t)chunk)
			return VIRTIO_BLK_S_IOERR;
		done += chunk;
	}
	*written = (uint32_t)n;
	b->reads++;
	return VIRTIO_BLK_S_OK;
}

static uint8_t blk_request(struct vblk *b, struct virtq_elem *e, uint32_t *written)
{
	struct { uint32_t type, reserved; uint64_t sector; } hdr;
	if (iov_to_buf(e->out, e->nout, 0, &hdr, sizeof(hdr)) != sizeof(hdr))
		return VIRTIO_BLK_S_IOERR;
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
		return blk_rw(b, e, hdr.sector, false, written);
	case VIRTIO_BLK_T_OUT:
		return blk_rw(b, e, hdr.sector, true, written);
	case VIRTIO_BLK_T_FLUSH:
		b->flushes++;
		return fdatasync(b->fd) == 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
	case VIRTIO_BLK_T_GET_ID:
		*written = (uint32_t)iov_from_buf(e->in, e->nin, 0, b->serial, sizeof(b->serial));
		return VIRTIO_BLK_S_OK;
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

static void blk_notify(struct virtio_mmio *t, void *opaque, int qi)
{
	struct vblk *b = opaque;
	struct virtq *q = &t->vq[qi];
	struct virtq_elem e;
	int r;
	bool any = false;
	while ((r = virtq_pop(q, &e)) == 1) {
		uint32_t written = 0;
		uint8_t status = VIRTIO_BLK_S_IOERR;
		/* The status byte is the last byte of the writable part. */
		if (e.nin > 0 && e.in[e.nin - 1].iov_len > 0 && e.nout > 0) {
			status = blk_request(b, &e, &written);
			struct iovec *last = &e.in[e.nin - 1];
			((uint8_t *)last->iov_base)[last->iov_len - 1] = status;
			written++;
		}
		virtq_push(q, &e, written);
		any = true;
	}
	if (r < 0)
		virtio_mmio_fail(t, err_msg());
	if (any)
		virtio_mmio_used(t, qi);
}

static int blk_open(struct vblk *b, const struct disk_config *d)
{
	b->readonly = d->readonly;
	b->fd = open(d->path, (d->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (b->fd < 0)
		return err_set("--disk %s: %s; give an existing raw image (create one with "
			       "truncate -s 64M FILE)", d->path, strerror(errno));
	/* Two writers on one image corrupt it; a reader beside a writer is the user's call. */
	if (flock(b->fd, (d->readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0)
		return err_set("--disk %s: image is in use by another process; stop it or use "
			       "readonly=on", d->path);
	struct stat st;
	if (fstat(b->fd, &st) < 0 || !S_ISREG(st.st_mode))
		return err_set("--disk %s: not a regular file; give a raw disk image", d->path);
	if (st.st_size == 0 || st.st_size % SECTOR)
		return err_set("--disk %s: size %lld is not a non-zero multiple of 512 bytes; "
			       "resize it with truncate -s", d->path, (long long)st.st_size);
	b->bytes = (uint64_t)st.st_size;
	return 0;
}

static void virtio_blk_destroy(struct vm *vm)
{
	for (int i = 0; i < CONFIG_MAX_DISKS; i++) {
		struct vblk *b = vm->blk[i];
		if (!b)
			continue;
		if (b->fd >= 0)
			close(b->fd);
		virtio_mmio_destroy(b->t);
		free(b);
		vm->blk[i] = NULL;
	}
}

static int virtio_blk_init(struct vm *vm)
{
	for (int i = 0; i < vm->cfg->ndisks; i++) {
		const struct disk_config *d = &vm->cfg->disks[i];
		struct vblk *b = calloc(1, sizeof(*b));
		if (!b)
			return err_set("out of memory");
		vm->blk[i] = b;
		b->fd = -1;
		if (blk_open(b, d) < 0)
			goto fail;
		b->cfg.capacity = b->bytes / SECTOR;
		b->cfg.seg_max = VIRTQ_MAX_SEGS - 2;
		b->cfg.blk_size = SECTOR;
		snprintf(b->serial, sizeof(b->serial), "vmlite-disk%d", i);
		b->ops = (struct virtio_dev_ops){
			.name = "blk", .device_id = VIRTIO_ID_BLOCK,
			.features = VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH |
				    (d->readonly ? VIRTIO_BLK_F_RO : 0),
			.nqueues = 1, .config_len = sizeof(b->cfg),
			.config_rw = blk_config_rw, .notify = blk_notify,
		};
		if (virtio_mmio_create(vm, &b->ops, b, &b->t) < 0) {
			err_wrap("--disk %s", d->path);
			goto fail;
		}
	}
	return 0;
fail:
	virtio_blk_destroy(vm);
	return -1;
}

static const struct device_ops virtio_blk_ops = {
	.name = "virtio-blk",
	.order = 60,
	.init = virtio_blk_init,
	.destroy = virtio_blk_destroy,
};
DEVICE_REGISTER(virtio_blk_ops)
