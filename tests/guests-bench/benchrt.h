/* 64-bit runtime for the benchmark guests, on top of tests/guests/rt:
 * our own page tables (identity map of the first 1 GiB with user access,
 * plus 16 MiB at BENCH_TLB_VA mapped with 4 KiB pages), a GDT with user
 * segments and a TSS, SYSCALL/SYSRET, and a way to run a function at CPL3.
 *
 * Selectors: 0x08 code32, 0x10 data, 0x18 code64 (as rt/entry32.S, so the
 * rt exception gates stay valid), 0x20 kernel data (the SS that SYSCALL
 * loads), 0x28 user code32 (unused), 0x30 user data, 0x38 user code64,
 * 0x40 TSS. STAR = 0x28 << 48 | 0x18 << 32 gives SYSRET CS 0x3b, SS 0x33. */
#ifndef VMLITE_BENCHRT_H
#define VMLITE_BENCHRT_H

#include "rt.h"

#define BENCH_TLB_VA    0x40000000ull   /* 1 GiB */
#define BENCH_TLB_PA    0x01000000ull   /* backed by physical [16 MiB, 32 MiB) */
#define BENCH_TLB_PAGES 4096u
#define BENCH_SEL_UDATA 0x33
#define BENCH_SEL_UCODE 0x3b
/* %rax value with which CPL3 code may also SYSCALL back out of cpl3_call(). */
#define BENCH_CPL3_EXIT 0x7e57

/* Installs page tables, GDT/TSS and the SYSCALL MSRs. Needs rt_idt_init(). */
void bench_setup(void);
/* Runs fn(a0, a1, a2, a3) at CPL3 and returns its result. */
uint64_t cpl3_call(uint64_t (*fn)(uint64_t, uint64_t, uint64_t, uint64_t),
		   uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3);
/* The 4 KiB page table entry that maps va (inside the BENCH_TLB region). */
volatile uint64_t *bench_pte(uint64_t va);
/* Points IDT vector v (0..31) at handler (64-bit interrupt gate, DPL 0). */
void bench_set_gate(unsigned v, void (*handler)(void));

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* Marker lines the host harness timestamps: "<tag> k=<name> n=<n> go" and
 * "... done tsc=<ticks>" (see bench/vmlite-bench, differential()). */
void bench_mark_go(const char *tag, const char *name, uint64_t n);
void bench_mark_done(const char *tag, const char *name, uint64_t n, uint64_t tsc);
/* "<tag> k=<name> n/a <why>": a kernel that cannot run here says why, and
 * the harness shows that reason in its cell instead of a number. */
void bench_mark_na(const char *tag, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
