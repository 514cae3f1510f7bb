/* Runtime shared by the freestanding test guests.
 *
 * The same C files are compiled twice: once as 32-bit protected-mode code and
 * once as 64-bit long-mode code, and both copies are linked into one image.
 * So that they do not clash, every public name of the 64-bit copy is renamed
 * below (rt_printf -> rt64_printf); guest code always writes rt_printf. */
#ifndef VMLITE_GUEST_RT_H
#define VMLITE_GUEST_RT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __x86_64__
#define rt_serial_init  rt64_serial_init
#define rt_putc         rt64_putc
#define rt_puts         rt64_puts
#define rt_printf       rt64_printf
#define rt_vprintf      rt64_vprintf
#define rt_exit         rt64_exit
#define rt_idt_init     rt64_idt_init
#define rt_isr_dispatch rt64_isr_dispatch
#define rt_exc          rt64_exc
#define rt_recover      rt64_recover
#define rt_fault_site   rt64_fault_site
#define rt_check        rt64_check
#define rt_failures     rt64_failures
#define rt_exc_check    rt64_exc_check
#define RT_SYM(s)       "rt64_" s
#else
#define RT_SYM(s)       "rt_" s
#endif

/* Exit values a guest passes to rt_exit(); the VMM exits with (v << 1) | 1. */
#define RT_PASS             0x00    /* status 1 */
#define RT_FAIL             0x7f    /* status 255: a check failed */
#define RT_FAIL_MAGIC       0x7e    /* status 253: EAX was not 0x2BADB002 */
#define RT_FAIL_EXCEPTION   0x7d    /* status 251: an exception nobody expected */

#define MULTIBOOT_BOOT_MAGIC    0x2BADB002u

/* GDT selectors (rt/entry32.S). */
#define RT_SEL_CODE32   0x08
#define RT_SEL_DATA     0x10
#define RT_SEL_CODE64   0x18

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void rt_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

static inline uint64_t rt_rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void rt_wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v),
			 "d"((uint32_t)(v >> 32)));
}

#define RT_MSR_EFER     0xC0000080u

/* COM1 and the debug-exit port. */
#define RT_COM1         0x3f8
#define RT_DEBUG_EXIT   0xf4

void rt_serial_init(void);
void rt_putc(char c);
void rt_puts(const char *s);
/* %c %s %d %i %u %x %X %p with optional '0' flag, width and l/ll/z length. */
void rt_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rt_vprintf(const char *fmt, va_list ap);
__attribute__((noreturn)) void rt_exit(uint32_t v);

/* Prints "ok: what" or "FAIL: what" and counts failures in rt_failures. */
int rt_check(int cond, const char *what);
extern int rt_failures;

/* What the last exception looked like. The handlers fill it in and, if
 * rt_recover is non-zero, resume there (clearing rt_recover). Without a
 * recovery point an exception is unexpected: it is printed and the guest
 * exits with RT_FAIL_EXCEPTION. */
struct rt_exception {
	uint32_t count;         /* exceptions taken so far */
	uint32_t vector;
	uint64_t error;         /* 0 for vectors without an error code */
	uint64_t cr2;
	uint64_t ip;            /* saved EIP/RIP as pushed by the CPU */
	uint64_t resume;        /* the recovery point used */
};
extern volatile struct rt_exception rt_exc;
extern volatile uintptr_t rt_recover;
extern volatile uintptr_t rt_fault_site;

/* After an RT_TRY: checks that exactly one exception was taken since
 * count_before, with this vector and error code (and CR2 if check_cr2), and
 * that the saved IP is the faulting instruction (or, for a trap, the next
 * one). Prints one line "<what>: vector V error E [cr2 C] ip ok: ok|FAIL". */
int rt_exc_check(const char *what, uint32_t count_before, uint32_t vector,
		 uint64_t error, int check_cr2, uint64_t cr2, int trap);

/* Loads an IDT with handlers for the 32 exception vectors (32-bit gates in
 * the 32-bit copy, 64-bit gates in the 64-bit copy). */
void rt_idt_init(void);

/* Inline-assembly fragment that runs INSN with recovery: label 2 marks the
 * instruction (stored in rt_fault_site), label 1 the point after it (stored in
 * rt_recover). A fault reports ip == label 2; a trap (int3) reports label 1. */
#ifdef __x86_64__
#define RT_TRY(insn) \
	"movq $1f, " RT_SYM("recover") "(%%rip)\n\t" \
	"movq $2f, " RT_SYM("fault_site") "(%%rip)\n" \
	"2:\n\t" insn "\n1:\n\t"
#else
#define RT_TRY(insn) \
	"movl $1f, " RT_SYM("recover") "\n\t" \
	"movl $2f, " RT_SYM("fault_site") "\n" \
	"2:\n\t" insn "\n1:\n\t"
#endif

#ifndef __x86_64__
/* Switches to long mode (identity map of the first 1 GiB with 2 MiB pages,
 * PAE, EFER.LME, CR0.PG, far jump to the 64-bit code segment) and calls the
 * 64-bit function at entry64 with arg in EDI/RDI. If that function returns,
 * its return value is passed to the 64-bit rt_exit(). */
__attribute__((noreturn)) void rt_enter_long_mode(uint32_t entry64, uint32_t arg);
#endif

/* Each guest defines this; its return value is passed to rt_exit().
 * Called in 32-bit protected mode with the serial port initialised, the
 * runtime's own GDT and stack loaded and the exception IDT installed. */
int guest_main(uint32_t mbi);

/* Linker-script symbols. */
extern char __image_start[], _edata[], _end[];

#endif
