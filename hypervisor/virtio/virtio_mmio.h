/* virtio-mmio transport, version 2 ("modern", virtio 1.x section 4.2).
 *
 * Why MMIO rather than PCI: no PCI host bridge, config space, BARs or MSI-X
 * have to be emulated, and each register access is a single MMIO exit. Linux
 * finds the devices through the ACPI DSDT (_HID "LNRO0005"), which works for
 * Debian's stock kernel: it builds virtio_mmio as a module without
 * VIRTIO_MMIO_CMDLINE_DEVICES, so a virtio_mmio.device= parameter would not. */
#ifndef VMLITE_VIRTIO_MMIO_H
#define VMLITE_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stdint.h>

#include "virtqueue.h"

struct vm;

#define VIRTIO_MMIO_BASE     0xd0000000ull
#define VIRTIO_MMIO_SIZE     0x1000ull
#define VIRTIO_MMIO_MAX      8
#define VIRTIO_MAX_QUEUES    4

#define VIRTIO_F_VERSION_1   (1ull << 32)

#define VIRTIO_STATUS_ACK         1
#define VIRTIO_STATUS_DRIVER      2
#define VIRTIO_STATUS_DRIVER_OK   4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED      128

struct virtio_mmio;

struct virtio_dev_ops {
	const char *name;
	uint32_t device_id;
	uint64_t features;              /* offered, VIRTIO_F_VERSION_1 is added */
	int nqueues;
	uint32_t config_len;
	/* Device config space accesses (offset within config). */
	void (*config_rw)(void *opaque, uint32_t off, unsigned size, bool is_write, uint8_t *data);
	/* The driver kicked queue q. */
	void (*notify)(struct virtio_mmio *t, void *opaque, int q);
	void (*reset)(void *opaque);
};

struct virtio_mmio {
	struct vm *vm;
	const struct virtio_dev_ops *ops;
	void *opaque;
	uint64_t base;
	unsigned irq;
	uint32_t status;
	uint32_t dev_feat_sel, drv_feat_sel, queue_sel;
	uint64_t drv_features;
	uint32_t isr;
	uint32_t config_gen;
	struct virtq vq[VIRTIO_MAX_QUEUES];
};

/* Claims the next free MMIO slot and IRQ, registers it on vm->mmio and
 * records it in vm->virtio[] for the ACPI tables. */
int virtio_mmio_create(struct vm *vm, const struct virtio_dev_ops *ops, void *opaque,
		       struct virtio_mmio **out);
void virtio_mmio_destroy(struct virtio_mmio *t);
/* After pushing used buffers on queue q: raise the interrupt if wanted. */
void virtio_mmio_used(struct virtio_mmio *t, int q);
/* The driver violated the ring protocol: stop the device until it resets. */
void virtio_mmio_fail(struct virtio_mmio *t, const char *why);

#endif
