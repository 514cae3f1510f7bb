/* SPDX-License-Identifier: MIT */
/*
 * vmi.h - the vmlite VMI ABI, version 1: the contract between the vmlite
 * hypervisor and paravirtualized x86-64 guests. SPEC.md in this directory is
 * normative; this header only encodes it.
 *
 * Copyright (c) 2026 The vmlite authors
 *
 * Permission is hereby granted, free of charge, to any person obtaining a copy
 * of this software and associated documentation files (the "Software"), to
 * deal in the Software without restriction, including without limitation the
 * rights to use, copy, modify, merge, publish, distribute, sublicense, and/or
 * sell copies of the Software, and to permit persons to whom the Software is
 * furnished to do so, subject to the following conditions:
 *
 * The above copyright notice and this permission notice shall be included in
 * all copies or substantial portions of the Software.
 *
 * THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 * IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 * FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
 * AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 * LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING
 * FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS
 * IN THE SOFTWARE.
 *
 * Usable freestanding (no libc: only <stdint.h>, which every C99 freestanding
 * implementation provides) and inside the Linux tree (define __KERNEL__; the
 * kernel's <linux/types.h> supplies the same fixed-width names).
 */
#ifndef VMI_ABI_VMI_H
#define VMI_ABI_VMI_H

#if defined(__KERNEL__)
#include <linux/types.h>
#else
#include <stdint.h>
#endif

#if defined(__cplusplus) && __cplusplus >= 201103L
#define VMI_STATIC_ASSERT(c, m) static_assert(c, m)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define VMI_STATIC_ASSERT(c, m) _Static_assert(c, m)
#else   /* C89/C99: a negative array size fails the build */
#define VMI_CAT_(a, b) a##b
#define VMI_CAT(a, b) VMI_CAT_(a, b)
#define VMI_STATIC_ASSERT(c, m) \
	typedef char VMI_CAT(vmi_static_assert_, __LINE__)[(c) ? 1 : -1]
#endif

/* ---- Version ---------------------------------------------------------- */

#define VMI_VERSION_MAJOR       1u
#define VMI_VERSION_MINOR       0u      /* highest minor this header describes */
#define VMI_VERSION(maj, min)   ((uint32_t)(((maj) & 0xffffu) << 16 | ((min) & 0xffffu)))
#define VMI_VERSION_MAJ(v)      (((uint32_t)(v) >> 16) & 0xffffu)
#define VMI_VERSION_MIN(v)      ((uint32_t)(v) & 0xffffu)

/* ---- Discovery: CPUID ------------------------------------------------- */

/* Searched at 0x40000000 + 0x100*k, k = 0..255, like other hypervisor leaves. */
#define VMI_CPUID_BASE_FIRST    0x40000000u
#define VMI_CPUID_BASE_LAST     0x4000ff00u
#define VMI_CPUID_BASE_STEP     0x100u
/* base+0: EAX = highest leaf, EBX:ECX:EDX = "vmliteVMIabi" */
#define VMI_CPUID_SIG_EBX       0x696c6d76u     /* "vmli" */
#define VMI_CPUID_SIG_ECX       0x4d566574u     /* "teVM" */
#define VMI_CPUID_SIG_EDX       0x69626149u     /* "Iabi" */
#define VMI_CPUID_LEAVES        3u              /* base+0 .. base+2 */
/* base+1: EAX = offered version, EBX = features (low 32), ECX = features
 *         (high 32), EDX = backend (enum vmi_backend)
 * base+2: EAX = ABI page size in 4 KiB pages, EBX = MSR_VERSION index,
 *         ECX = MSR_PAGE index, EDX = MSR_VCPU_PAGE index */

enum vmi_backend {
	VMI_BACKEND_HW = 0,     /* hardware-assisted (KVM): nested paging */
	VMI_BACKEND_BT = 1      /* binary translation with shadow paging */
};

/* Feature bits (CPUID base+1 EBX/ECX and vmi_page_header.features). A group
 * bit says the call descriptors of that group are worth consulting; a guest
 * treats a whole group alike (SPEC.md 5.4). */
#define VMI_F_IRQ               (1ull << 0)
#define VMI_F_CPU               (1ull << 1)
#define VMI_F_MMU               (1ull << 2)
#define VMI_F_TIME              (1ull << 3)
#define VMI_F_CONSOLE           (1ull << 4)
#define VMI_F_POWER             (1ull << 5)
#define VMI_F_BATCH             (1ull << 6)
#define VMI_F_ALL_V1_0          0x7full

/* ---- Discovery: MSRs -------------------------------------------------- */

/* 'V','M','L' in the top bytes: outside Intel/AMD architectural ranges,
 * outside Hyper-V/Xen (0x40000000-0x400000ff) and KVM (0x4b564d00-ff).
 * On hardware without vmlite these raise #GP. */
#define VMI_MSR_VERSION         0x564d4c00u
#define VMI_MSR_PAGE            0x564d4c01u
#define VMI_MSR_VCPU_PAGE       0x564d4c02u
#define VMI_MSR_ENABLE          0x1ull          /* bit 0 of PAGE/VCPU_PAGE writes */

/* ---- Transports: what a call stub traps with -------------------------- */

enum vmi_transport {
	VMI_TRANSPORT_VMCALL = 1,   /* 0f 01 c1: a translator callout under BT */
	VMI_TRANSPORT_PIO = 2       /* out %eax, $port (port in transport_aux) */
};
#define VMI_PIO_PORT            0xe4u

/* ---- Error codes (returned in RAX as a signed 64-bit value) ----------- */

#define VMI_OK                  0
#define VMI_EPERM               (-1)
#define VMI_E2BIG               (-7)
#define VMI_EFAULT              (-14)
#define VMI_ENODEV              (-19)
#define VMI_EINVAL              (-22)
#define VMI_EOPNOTSUPP          (-95)
#define VMI_ECANCELED           (-125)
#define VMI_ENOSYS              (-1000)
/* Any RAX in [-4095, -1] is an error; other values are results. */
#define VMI_IS_ERROR(rax)       ((uint64_t)(rax) >= (uint64_t)-4095)

/* ---- Call numbers (append-only within major 1) ------------------------ */

enum vmi_call {
	VMI_CALL_VERSION = 0,
	/* interrupt flag (group IRQ) */
	VMI_CALL_IRQ_SAVE_FL = 1,
	VMI_CALL_IRQ_RESTORE_FL = 2,
	VMI_CALL_IRQ_DISABLE = 3,
	VMI_CALL_IRQ_ENABLE = 4,
	VMI_CALL_SAFE_HALT = 5,
	VMI_CALL_HALT = 6,
	/* CPU state (group CPU) */
	VMI_CALL_READ_CR0 = 7,
	VMI_CALL_WRITE_CR0 = 8,
	VMI_CALL_READ_CR2 = 9,
	VMI_CALL_WRITE_CR2 = 10,
	VMI_CALL_READ_CR3 = 11,
	VMI_CALL_WRITE_CR3 = 12,
	VMI_CALL_READ_CR4 = 13,
	VMI_CALL_WRITE_CR4 = 14,
	VMI_CALL_RDMSR = 15,
	VMI_CALL_WRMSR = 16,
	VMI_CALL_LOAD_GDT = 17,
	VMI_CALL_LOAD_IDT = 18,
	VMI_CALL_LOAD_LDT = 19,
	VMI_CALL_LOAD_TR = 20,
	VMI_CALL_WRITE_GDT_ENTRY = 21,
	VMI_CALL_WRITE_LDT_ENTRY = 22,
	VMI_CALL_WRITE_IDT_ENTRY = 23,
	VMI_CALL_LOAD_SP0 = 24,
	VMI_CALL_LOAD_TLS = 25,
	VMI_CALL_WBINVD = 26,
	VMI_CALL_IO_DELAY = 27,
	/* page tables and TLB (group MMU) */
	VMI_CALL_SET_PXE = 28,
	VMI_CALL_ALLOC_PT = 29,
	VMI_CALL_RELEASE_PT = 30,
	VMI_CALL_FLUSH_TLB_ONE = 31,
	VMI_CALL_FLUSH_TLB_USER = 32,
	VMI_CALL_FLUSH_TLB_ALL = 33,
	VMI_CALL_FLUSH_TLB_OTHERS = 34,
	/* lazy-mode queue (group BATCH) */
	VMI_CALL_BATCH_FLUSH = 35,
	/* time (group TIME) */
	VMI_CALL_ALARM_SET = 36,
	VMI_CALL_WALLCLOCK = 37,
	/* console and power */
	VMI_CALL_CONSOLE_WRITE = 38,
	VMI_CALL_SHUTDOWN = 39,
	VMI_CALL_REBOOT = 40,
	VMI_NCALLS_V1_0 = 41
};

/* Page-table levels for SET_PXE / ALLOC_PT / RELEASE_PT. */
#define VMI_PT_LEVEL_PTE        1u
#define VMI_PT_LEVEL_PMD        2u
#define VMI_PT_LEVEL_PUD        3u
#define VMI_PT_LEVEL_P4D        4u
#define VMI_PT_LEVEL_PGD        5u      /* only with 5-level paging (CR4.LA57) */

/* ALARM_SET modes. */
#define VMI_ALARM_OFF           0u
#define VMI_ALARM_ONESHOT       1u
#define VMI_ALARM_PERIODIC      2u
#define VMI_ALARM_MIN_PERIOD_NS 10000ull

#define VMI_CONSOLE_MAX         4096u   /* bytes per CONSOLE_WRITE */
#define VMI_CPUMASK_MAX_WORDS   16u     /* FLUSH_TLB_OTHERS: up to 1024 vCPUs */

/* ---- ABI page --------------------------------------------------------- */

#define VMI_PAGE_MAGIC          0x494c4d56u     /* "VMLI" in memory */
#define VMI_PAGE_SIZE           4096u
#define VMI_STUB_STRIDE         32u

struct vmi_page_header {
	uint32_t magic;         /* VMI_PAGE_MAGIC */
	uint16_t major;
	uint16_t minor;
	uint32_t size;          /* bytes covered by the checksum, multiple of 4096 */
	uint32_t hdr_size;      /* sizeof(struct vmi_page_header) */
	uint32_t ncalls;        /* descriptor count */
	uint32_t desc_size;     /* sizeof(struct vmi_call_desc) */
	uint32_t calls_off;     /* descriptor table offset from the page start */
	uint32_t stubs_off;     /* first stub; stub i at stubs_off + i*stub_stride */
	uint32_t stub_stride;   /* VMI_STUB_STRIDE */
	uint32_t transport;     /* enum vmi_transport used by the stubs */
	uint32_t transport_aux; /* PIO: the port; VMCALL: 0 */
	uint32_t backend;       /* enum vmi_backend */
	uint64_t features;      /* VMI_F_* */
	uint32_t vcpu_page_size;/* bytes of struct vmi_vcpu_page */
	uint32_t checksum;      /* CRC-32 of size bytes, this field taken as 0 */
};
VMI_STATIC_ASSERT(sizeof(struct vmi_page_header) == 64, "vmi header is 64 bytes");

/* How the guest should treat the call sites of one operation. */
enum vmi_kind {
	VMI_KIND_NATIVE = 0,    /* keep the native instruction(s) */
	VMI_KIND_CALL = 1,      /* call the stub (or an equivalent guest thunk) */
	VMI_KIND_NOP = 2,       /* delete the site; the operation has no effect */
	VMI_KIND_SHARED = 3     /* load/store the per-vCPU page at offset aux */
};

/* vmi_call_desc.flags */
#define VMI_DF_BATCHABLE        0x01u   /* may be queued in the lazy queue */
#define VMI_DF_RDX_RESULT       0x02u   /* a second result is returned in RDX */
#define VMI_DF_NORETURN         0x04u   /* does not return on success */

/* Clobber mask bits: bit n = GPR n in x86 encoding order (0 RAX, 1 RCX,
 * 2 RDX, 3 RBX, 4 RSP, 5 RBP, 6 RSI, 7 RDI, 8-15 R8-R15); bit 16 = RFLAGS
 * arithmetic flags (CF PF AF ZF SF OF). */
#define VMI_CLOBBER_RAX         (1u << 0)
#define VMI_CLOBBER_RDX         (1u << 2)
#define VMI_CLOBBER_FLAGS       (1u << 16)

struct vmi_call_desc {
	uint16_t call;          /* enum vmi_call; equals its index in the table */
	uint8_t kind;           /* enum vmi_kind */
	uint8_t flags;          /* VMI_DF_* */
	uint32_t clobbers;      /* registers the stub may change */
	uint32_t stub_off;      /* stub offset from the page start */
	uint32_t aux;           /* SHARED: byte offset in the per-vCPU page */
};
VMI_STATIC_ASSERT(sizeof(struct vmi_call_desc) == 16, "vmi descriptor is 16 bytes");

/* ---- Per-vCPU page ---------------------------------------------------- */

/* Linux's struct pvclock_vcpu_time_info, byte for byte, so the guest can
 * hand &vcpu_page->clock to pvclock_clocksource_read(). */
struct vmi_pvclock {
	uint32_t version;       /* odd while the host updates */
	uint32_t pad0;
	uint64_t tsc_timestamp;
	uint64_t system_time;   /* ns */
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	uint8_t flags;          /* bit 0: TSC stable, as PVCLOCK_TSC_STABLE_BIT */
	uint8_t pad[2];
};
VMI_STATIC_ASSERT(sizeof(struct vmi_pvclock) == 32, "pvclock layout is 32 bytes");

#define VMI_QUEUE_MAX           64u

struct vmi_queue_entry {
	uint64_t call;          /* a call whose descriptor has VMI_DF_BATCHABLE */
	uint64_t args[4];       /* RDI, RSI, RDX, R10 of the equivalent call */
	int64_t result;         /* written by the host */
};
VMI_STATIC_ASSERT(sizeof(struct vmi_queue_entry) == 48, "queue entry is 48 bytes");

struct vmi_vcpu_page {
	uint8_t irq_enabled;    /* 0x000: 1 = interrupts enabled (virtual IF) */
	uint8_t irq_pending;    /* 0x001: host: an interrupt waits for irq_enabled */
	uint8_t reserved0[6];
	uint64_t cr2;           /* 0x008: host writes on #PF delivery */
	uint8_t reserved1[48];
	struct vmi_pvclock clock;       /* 0x040 */
	uint8_t reserved2[160];
	uint32_t queue_count;   /* 0x100: entries the guest filled */
	uint32_t queue_done;    /* 0x104: host: entries executed by the last flush */
	uint8_t reserved3[56];
	struct vmi_queue_entry queue[VMI_QUEUE_MAX];    /* 0x140 */
	uint8_t reserved4[704];
};
VMI_STATIC_ASSERT(sizeof(struct vmi_vcpu_page) == 4096, "vcpu page is one page");

#define VMI_VCPU_OFF_IRQ_ENABLED 0x000u
#define VMI_VCPU_OFF_IRQ_PENDING 0x001u
#define VMI_VCPU_OFF_CR2         0x008u
#define VMI_VCPU_OFF_CLOCK       0x040u
#define VMI_VCPU_OFF_QUEUE_COUNT 0x100u
#define VMI_VCPU_OFF_QUEUE_DONE  0x104u
#define VMI_VCPU_OFF_QUEUE       0x140u

#endif /* VMI_ABI_VMI_H */
