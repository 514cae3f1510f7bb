#include "virtio_mmio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "irq.h"
#include "vm.h"

enum {
	REG_MAGIC = 0x000, REG_VERSION = 0x004, REG_DEVICE_ID = 0x008, REG_VENDOR_ID = 0x00c,
	REG_DEV_FEATURES = 0x010, REG_DEV_FEATURES_SEL = 0x014,
	REG_DRV_FEATURES = 0x020, REG_DRV_FEATURES_SEL = 0x024,
	REG_QUEUE_SEL = 0x030, REG_QUEUE_NUM_MAX = 0x034, REG_QUEUE_NUM = 0x038,
	REG_QUEUE_READY = 0x044, REG_QUEUE_NOTIFY = 0x050,
	REG_INT_STATUS = 0x060, REG_INT_ACK = 0x064, REG_STATUS = 0x070,
	REG_QUEUE_DESC_LO = 0x080, REG_QUEUE_DESC_HI = 0x084,
	REG_QUEUE_DRIVER_LO = 0x090, REG_QUEUE_DRIVER_HI = 0x094,
	REG_QUEUE_DEVICE_LO = 0x0a0, REG_QUEUE_DEVICE_HI = 0x0a4,
	REG_CONFIG_GEN = 0x0fc, REG_CONFIG = 0x100,
};

#define VIRTIO_MAGIC   0x74726976u     /* "virt" */
#define VIRTIO_VENDOR  0x4c4d5600u     /* "\0VML" */
#define INT_USED       1u
#define INT_CONFIG     2u

/* ISA IRQs that nothing else on the platform uses. */
static const unsigned slot_irqs[VIRTIO_MMIO_MAX] = { 5, 10, 11, 7, 14, 15, 3, 6 };

static uint64_t feats(const struct virtio_mmio *t)
{
	return t->ops->features | VIRTIO_F_VERSION_1;
}

/* The line follows "interrupt status is non-zero", so it works whether the
 * guest programmed the pin edge- or level-triggered. */
static void update_irq(struct virtio_mmio *t)
{
	irq_line_set(t->vm, t->irq, t->isr != 0);
}

static void device_reset(struct virtio_mmio *t)
{
	t->status = 0;
	t->drv_features = 0;
	t->dev_feat_sel = t->drv_feat_sel = t->queue_sel = 0;
	t->isr = 0;
	for (int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		virtq_reset(&t->vq[i], &t->vm->mem);
	if (t->ops->reset)
		t->ops->reset(t->opaque);
	update_irq(t);
}

static struct virtq *cur_queue(struct virtio_mmio *t)
{
	return t->queue_sel < (uint32_t)t->ops->nqueues ? &t->vq[t->queue_sel] : NULL;
}

static uint32_t reg_read(struct virtio_mmio *t, uint64_t off)
{
	struct virtq *q = cur_queue(t);
	switch (off) {
	case REG_MAGIC: return VIRTIO_MAGIC;
	case REG_VERSION: return 2;
	case REG_DEVICE_ID: return t->ops->device_id;
	case REG_VENDOR_ID: return VIRTIO_VENDOR;
	case REG_DEV_FEATURES:
		return t->dev_feat_sel < 2 ? (uint32_t)(feats(t) >> (32 * t->dev_feat_sel)) : 0;
	case REG_QUEUE_NUM_MAX: return q ? VIRTQ_MAX_SIZE : 0;
	case REG_QUEUE_READY: return q ? q->ready : 0;
	case REG_INT_STATUS: return t->isr;
	case REG_STATUS: return t->status;
	case REG_CONFIG_GEN: return t->config_gen;
	default: return 0;
	}
}

static void set_half(uint64_t *v, bool high, uint32_t val)
{
	*v = high ? ((*v & 0xffffffffull) | ((uint64_t)val << 32))
		  : ((*v & ~0xffffffffull) | val);
}

static void reg_write(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	struct virtq *q = cur_queue(t);
	switch (off) {
	case REG_DEV_FEATURES_SEL: t->dev_feat_sel = v; break;
	case REG_DRV_FEATURES_SEL: t->drv_feat_sel = v; break;
	case REG_DRV_FEATURES:
		if (t->drv_feat_sel < 2)
			set_half(&t->drv_features, t->drv_feat_sel, v);
		break;
	case REG_QUEUE_SEL: t->queue_sel = v; break;
	case REG_QUEUE_NUM:
		/* Only powers of two up to the maximum keep the ring arithmetic valid. */
		if (q && v && v <= VIRTQ_MAX_SIZE && !(v & (v - 1)))
			q->num = (uint16_t)v;
		break;
	case REG_QUEUE_READY: if (q) q->ready = v & 1; break;
	case REG_QUEUE_NOTIFY:
		if (v < (uint32_t)t->ops->nqueues && (t->status & VIRTIO_STATUS_DRIVER_OK) &&
		    !(t->status & VIRTIO_STATUS_NEEDS_RESET))
			t->ops->notify(t, t->opaque, (int)v);
		break;
	case REG_INT_ACK:
		t->isr &= ~v;
		update_irq(t);
		break;
	case REG_STATUS:
		if (v == 0) {
			device_reset(t);
			break;
		}
		/* FEATURES_OK sticks only if the driver accepted a subset of ours
		 * that includes VERSION_1 (legacy drivers are not supported). */
		if ((v & VIRTIO_STATUS_FEATURES_OK) &&
		    ((t->drv_features & ~feats(t)) || !(t->drv_features & VIRTIO_F_VERSION_1)))
			v &= ~VIRTIO_STATUS_FEATURES_OK;
		t->status = v | (t->status & VIRTIO_STATUS_NEEDS_RESET);
		break;
	case REG_QUEUE_DESC_LO: case REG_QUEUE_DESC_HI:
		if (q) set_half(&q->desc_gpa, off == REG_QUEUE_DESC_HI, v);
		break;
	case REG_QUEUE_DRIVER_LO: case REG_QUEUE_DRIVER_HI:
		if (q) set_half(&q->avail_gpa, off == REG_QUEUE_DRIVER_HI, v);
		break;
	case REG_QUEUE_DEVICE_LO: case REG_QUEUE_DEVICE_HI:
		if (q) set_half(&q->used_gpa, off == REG_QUEUE_DEVICE_HI, v);
		break;
	default: break;
	}
}

static void mmio_rw(void *opaque, uint64_t off, unsigned size, bool is_write, uint8_t *data)
{
	struct virtio_mmio *t = opaque;
	if (off >= REG_CONFIG) {
		uint32_t coff = (uint32_t)(off - REG_CONFIG);
		if (t->ops->config_rw && coff + size <= t->ops->config_len)
			t->ops->config_rw(t->opaque, coff, size, is_write, data);
		else if (!is_write)
			memset(data, 0, size);
		return;
	}
	/* Registers below the config space are 32 bits wide and aligned. */
	if (size != 4 || (off & 3)) {
		if (!is_write)
			memset(data, 0xff, size);
		return;
	}
	uint32_t v;
	if (is_write) {
		memcpy(&v, data, 4);
		reg_write(t, off, v);
	} else {
		v = reg_read(t, off);
		memcpy(data, &v, 4);
	}
}

void virtio_mmio_used(struct virtio_mmio *t, int q)
{
	if (!virtq_wants_interrupt(&t->vq[q]))
		return;
	t->isr |= INT_USED;
	update_irq(t);
}

void virtio_mmio_fail(struct virtio_mmio *t, const char *why)
{
	if (t->vm->cfg->verbose)
		fprintf(stderr, "vmlite: virtio-%s: %s; device needs reset\n", t->ops->name, why);
	t->status |= VIRTIO_STATUS_NEEDS_RESET;
	t->isr |= INT_CONFIG;
	t->config_gen++;
	update_irq(t);
}

int virtio_mmio_create(struct vm *vm, const struct virtio_dev_ops *ops, void *opaque,
		       struct virtio_mmio **out)
{
	int slot = vm->nvirtio;
	if (slot >= VIRTIO_MMIO_MAX)
		return err_set("too many virtio devices (at most %d)", VIRTIO_MMIO_MAX);
	struct virtio_mmio *t = calloc(1, sizeof(*t));
	if (!t)
		return err_set("out of memory");
	t->vm = vm;
	t->ops = ops;
	t->opaque = opaque;
	t->base = VIRTIO_MMIO_BASE + (uint64_t)slot * VIRTIO_MMIO_SIZE;
	t->irq = slot_irqs[slot];
	for (int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		virtq_reset(&t->vq[i], &vm->mem);
	char name[32];
	snprintf(name, sizeof(name), "virtio-mmio%d", slot);
	if (mem_add_region(&vm->mem, t->base, VIRTIO_MMIO_SIZE, MEM_MMIO, NULL, "virtio-mmio") < 0 ||
	    bus_register(&vm->mmio, t->base, VIRTIO_MMIO_SIZE, mmio_rw, t, ops->name) < 0) {
		free(t);
		return -1;
	}
	vm->virtio[slot] = (struct virtio_slot){ t->base, t->irq };
	vm->nvirtio++;
	*out = t;
	return 0;
}

void virtio_mmio_destroy(struct virtio_mmio *t)
{
	free(t);
}
