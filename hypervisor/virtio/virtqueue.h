/* Split virtqueues (virtio 1.x, section 2.7) over guest RAM. */
#ifndef VMLITE_VIRTQUEUE_H
#define VMLITE_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "memory.h"

#define VIRTQ_MAX_SIZE  256
#define VIRTQ_MAX_SEGS  64

struct virtq {
	struct guest_memory *mem;
	uint16_t num;           /* size the driver chose (power of two) */
	bool ready;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t last_avail;    /* next avail ring slot the device will consume */
	uint16_t used_idx;
};

/* One descriptor chain: device-readable (out) and device-writable (in) parts. */
struct virtq_elem {
	uint16_t head;
	int nout, nin;
	struct iovec out[VIRTQ_MAX_SEGS];
	struct iovec in[VIRTQ_MAX_SEGS];
};

void virtq_reset(struct virtq *q, struct guest_memory *mem);
/* 1: a chain was taken; 0: ring empty; -1: the driver broke the ring rules
 * (address outside RAM, loop, too many segments): err_msg() says how. */
int virtq_pop(struct virtq *q, struct virtq_elem *e);
/* Returns the chain to the driver with `written` bytes placed in its in-part. */
void virtq_push(struct virtq *q, const struct virtq_elem *e, uint32_t written);
/* False when the driver asked for no interrupts (VRING_AVAIL_F_NO_INTERRUPT). */
bool virtq_wants_interrupt(const struct virtq *q);
/* Copies up to len bytes from/to a chain part; returns bytes copied. */
size_t iov_to_buf(const struct iovec *iov, int n, size_t skip, void *buf, size_t len);
size_t iov_from_buf(const struct iovec *iov, int n, size_t skip, const void *buf, size_t len);
size_t iov_size(const struct iovec *iov, int n);

#endif
