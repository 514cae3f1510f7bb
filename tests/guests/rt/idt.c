/* Exception IDT and the C side of the exception stubs (isr32.S / isr64.S).
 * Compiled once per mode; the gate format and frame layout differ. */
#include "rt.h"

volatile struct rt_exception rt_exc;
volatile uintptr_t rt_recover;
volatile uintptr_t rt_fault_site;

#ifdef __x86_64__
struct frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t ip, cs, flags, sp, ss;         /* pushed by the CPU */
};

struct gate {
	uint16_t off0;
	uint16_t sel;
	uint8_t ist;
	uint8_t type;
	uint16_t off1;
	uint32_t off2;
	uint32_t zero;
} __attribute__((packed));

extern const uint64_t rt64_isr_table[32];
#define ISR_TABLE rt64_isr_table
#else
struct frame {
	uint32_t edi, esi, ebp, esp_unused, ebx, edx, ecx, eax;  /* pushal */
	uint32_t vector, error;
	uint32_t ip, cs, flags;                 /* pushed by the CPU (same CPL) */
};

struct gate {
	uint16_t off0;
	uint16_t sel;
	uint8_t zero;
	uint8_t type;
	uint16_t off1;
} __attribute__((packed));

extern const uint32_t rt_isr_table[32];
#define ISR_TABLE rt_isr_table
#endif

struct idt_ptr {
	uint16_t limit;
	uintptr_t base;
} __attribute__((packed));

static struct gate idt[32] __attribute__((aligned(16)));

void rt_isr_dispatch(struct frame *f);

void rt_idt_init(void)
{
	for (int i = 0; i < 32; i++) {
		uintptr_t h = (uintptr_t)ISR_TABLE[i];
		idt[i].off0 = (uint16_t)h;
		idt[i].off1 = (uint16_t)(h >> 16);
#ifdef __x86_64__
		idt[i].sel = RT_SEL_CODE64;
		idt[i].off2 = (uint32_t)(h >> 32);
#else
		idt[i].sel = RT_SEL_CODE32;
#endif
		idt[i].type = 0x8E;     /* present, DPL 0, interrupt gate */
	}
	struct idt_ptr p = { sizeof(idt) - 1, (uintptr_t)idt };
	__asm__ volatile("lidt %0" : : "m"(p));
}

void rt_isr_dispatch(struct frame *f)
{
	uintptr_t cr2;
	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	rt_exc.count++;
	rt_exc.vector = (uint32_t)f->vector;
	rt_exc.error = f->error;
	rt_exc.cr2 = cr2;
	rt_exc.ip = f->ip;
	if (!rt_recover) {
		rt_printf("unexpected exception: vector %u error 0x%lx ip 0x%lx cr2 0x%lx\n",
			  (unsigned)f->vector, (unsigned long)f->error,
			  (unsigned long)f->ip, (unsigned long)cr2);
		rt_exit(RT_FAIL_EXCEPTION);
	}
	rt_exc.resume = rt_recover;
	f->ip = rt_recover;
	rt_recover = 0;
}

int rt_exc_check(const char *what, uint32_t count_before, uint32_t vector,
		 uint64_t error, int check_cr2, uint64_t cr2, int trap)
{
	uintptr_t want_ip = trap ? (uintptr_t)rt_exc.resume : rt_fault_site;
	int ip_ok = rt_exc.ip == want_ip;
	int good = rt_exc.count == count_before + 1 && rt_exc.vector == vector &&
		   rt_exc.error == error && (!check_cr2 || rt_exc.cr2 == cr2) && ip_ok;

	if (rt_exc.count == count_before) {
		rt_printf("%s: no exception: FAIL\n", what);
	} else {
		rt_printf("%s: vector %u error 0x%lx", what, (unsigned)rt_exc.vector,
			  (unsigned long)rt_exc.error);
		if (check_cr2)
			rt_printf(" cr2 0x%lx", (unsigned long)rt_exc.cr2);
		rt_printf(" ip %s: %s\n", ip_ok ? "ok" : "WRONG", good ? "ok" : "FAIL");
	}
	if (!good)
		rt_failures++;
	return good;
}
