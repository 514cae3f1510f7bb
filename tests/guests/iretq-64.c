/* IRETQ in long mode with hand-built frames: target, flags and SS:RSP must
 * all come from the frame, on the same stack and when switching stacks. */
#include "rt.h"

int iretq_main64(uint32_t failures32);

static uint8_t alt_stack[256] __attribute__((aligned(16)));

int iretq_main64(uint32_t failures32)
{
	rt_idt_init();
	uint64_t flags, rsp_before, rsp_after, reached = 0;
	uint64_t alt_top = (uint64_t)(uintptr_t)(alt_stack + sizeof(alt_stack) - 16);

	/* Same stack: the frame's RSP is the RSP before the five pushes. */
	__asm__ volatile("movq %%rsp, %1\n\t"
			 "movq %%rsp, %%rax\n\t"
			 "pushq $0x10\n\t"
			 "pushq %%rax\n\t"
			 "pushq $0x443\n\t"
			 "pushq $0x18\n\t"
			 "pushq $1f\n\t"
			 "iretq\n\t"
			 "movq $0, %3\n"
			 "1:\tpushfq\n\t"
			 "popq %0\n\t"
			 "cld\n\t"
			 "movq %%rsp, %2\n\t"
			 "movq $1, %3"
			 : "=r"(flags), "=&r"(rsp_before), "=r"(rsp_after), "+m"(reached)
			 : : "rax", "memory", "cc");
	rt_printf("64-bit iretq: flags 0x%lx\n", flags & 0xcd5);
	rt_check(reached, "64-bit iretq: reached the target");
	rt_check((flags & 0xcd5) == 0x441, "64-bit iretq: CF, ZF and DF loaded from the frame");
	rt_check(rsp_after == rsp_before, "64-bit iretq: RSP loaded from the frame");

	/* Stack switch: IRETQ always loads SS:RSP in 64-bit mode. */
	uint64_t rsp_new, rsp_saved;
	__asm__ volatile("movq %%rsp, %1\n\t"
			 "pushq $0x10\n\t"
			 "pushq %2\n\t"
			 "pushq $0x2\n\t"
			 "pushq $0x18\n\t"
			 "pushq $1f\n\t"
			 "iretq\n"
			 "1:\tmovq %%rsp, %0\n\t"
			 "movq %1, %%rsp"
			 : "=&r"(rsp_new), "=&r"(rsp_saved)
			 : "r"(alt_top) : "memory", "cc");
	rt_check(rsp_new == alt_top, "64-bit iretq: switches to the frame's stack");

	int failures = (int)failures32 + rt_failures;
	rt_printf("iretq: %d failure(s)\n", failures);
	return failures ? RT_FAIL : RT_PASS;
}
