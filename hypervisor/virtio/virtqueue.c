#include "virtqueue.h"

#include <string.h>

#include "error.h"

#define VRING_DESC_F_NEXT      1
#define VRING_DESC_F_WRITE     2
#define VRING_DESC_F_INDIRECT  4
#define VRING_AVAIL_F_NO_INTERRUPT 1

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
} __attribute__((packed));

void virtq_reset(struct virtq *q, struct guest_memory *mem)
{
	memset(q, 0, sizeof(*q));
	q->mem = mem;
	q->num = VIRTQ_MAX_SIZE;
}

static void *gpa(const struct virtq *q, uint64_t addr, uint64_t len)
{
	return mem_gpa_to_hva(q->mem, addr, len);
}

/* The ring indices are shared with a running guest: acquire/release keep the
 * compiler from reordering ring reads before the index read (x86 is TSO). */
static uint16_t load16(const void *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
}

int virtq_pop(struct virtq *q, struct virtq_elem *e)
{
	uint8_t *avail = gpa(q, q->avail_gpa, 4 + 2u * q->num);
	struct vring_desc *desc = gpa(q, q->desc_gpa, 16ull * q->num);
	if (!q->ready || !avail || !desc)
		return err_set("virtqueue not ready or rings outside guest RAM");
	uint16_t avail_idx = load16(avail + 2);
	if (avail_idx == q->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - q->last_avail) > q->num)
		return err_set("driver advanced the avail index by more than the ring size");
	uint16_t head;
	memcpy(&head, avail + 4 + 2u * (q->last_avail % q->num), 2);
	if (head >= q->num)
		return err_set("avail ring names descriptor %u of %u", head, q->num);
	e->head = head;
	e->nin = e->nout = 0;
	uint16_t i = head;
	for (unsigned hops = 0;; hops++) {
		if (hops >= q->num)
			return err_set("descriptor chain loops");
		struct vring_desc d;
		memcpy(&d, &desc[i], sizeof(d));
		if (d.flags & VRING_DESC_F_INDIRECT)
			return err_set("indirect descriptors were not negotiated");
		void *p = d.len ? gpa(q, d.addr, d.len) : desc;
		if (!p)
			return err_set("descriptor buffer 0x%llx+%u is outside guest RAM",
				       (unsigned long long)d.addr, d.len);
		if (d.flags & VRING_DESC_F_WRITE) {
			if (e->nin == VIRTQ_MAX_SEGS)
				return err_set("descriptor chain has too many segments");
			e->in[e->nin++] = (struct iovec){ p, d.len };
		} else {
			if (e->nin)
				return err_set("readable descriptor after a writable one");
			if (e->nout == VIRTQ_MAX_SEGS)
				return err_set("descriptor chain has too many segments");
			e->out[e->nout++] = (struct iovec){ p, d.len };
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		if (d.next >= q->num)
			return err_set("descriptor next %u out of range", d.next);
		i = d.next;
	}
	q->last_avail++;
	return 1;
}

void virtq_push(struct virtq *q, const struct virtq_elem *e, uint32_t written)
{
	uint8_t *used = gpa(q, q->used_gpa, 4 + 8u * q->num);
	if (!used)
		return;
	uint32_t ent[2] = { e->head, written };
	memcpy(used + 4 + 8u * (q->used_idx % q->num), ent, 8);
	q->used_idx++;
	__atomic_store_n((uint16_t *)(used + 2), q->used_idx, __ATOMIC_RELEASE);
}

bool virtq_wants_interrupt(const struct virtq *q)
{
	const uint8_t *avail = gpa(q, q->avail_gpa, 4);
	return !avail || !(load16(avail) & VRING_AVAIL_F_NO_INTERRUPT);
}

size_t iov_size(const struct iovec *iov, int n)
{
	size_t s = 0;
	for (int i = 0; i < n; i++)
		s += iov[i].iov_len;
	return s;
}

static size_t iov_copy(const struct iovec *iov, int n, size_t skip, void *buf, size_t len,
		       bool to_buf)
{
	size_t done = 0;
	for (int i = 0; i < n && done < len; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		size_t chunk = iov[i].iov_len - skip;
		if (chunk > len - done)
			chunk = len - done;
		uint8_t *g = (uint8_t *)iov[i].iov_base + skip;
		if (to_buf)
			memcpy((uint8_t *)buf + done, g, chunk);
		else
			memcpy(g, (const uint8_t *)buf + done, chunk);
		done += chunk;
		skip = 0;
	}
	return done;
}

size_t iov_to_buf(const struct iovec *iov, int n, size_t skip, void *buf, size_t len)
{
	return iov_copy(iov, n, skip, buf, len, true);
}

size_t iov_from_buf(const struct iovec *iov, int n, size_t skip, const void *buf, size_t len)
{
	return iov_copy(iov, n, skip, (void *)buf, len, false);
}
