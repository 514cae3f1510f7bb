/* Translator microbenchmark kernels, written once and linked unchanged into
 * the host program (bench/micro/micro-host.c) and the long-mode guest
 * (micro-64.c), so "native" and "translated" run the very same bytes.
 * SysV calling convention; every kernel takes the operation count in %rdi
 * and returns a value that depends on all the work (nothing is dead code).
 * Only general-purpose registers: the guest never enables SSE. */
	.text
	.code64

/* uint64_t k_intloop(uint64_t n): one op = add, xor, rol, sub + dec/jnz. */
	.globl k_intloop
	.type k_intloop, @function
k_intloop:
	xorl %eax, %eax
	movl $1, %edx
	movq %rdi, %rcx
	testq %rcx, %rcx
	jz 2f
1:	addq %rdx, %rax
	xorq %rcx, %rax
	rolq $3, %rax
	subq %rcx, %rdx
	decq %rcx
	jnz 1b
2:	ret
	.size k_intloop, .-k_intloop

/* uint64_t k_memrw(uint64_t n, uint64_t *buf512): one op = load, add,
 * store of one quadword of a 4 KiB (L1-resident) buffer. */
	.globl k_memrw
	.type k_memrw, @function
k_memrw:
	xorl %eax, %eax
	testq %rdi, %rdi
	jz 2f
1:	movq (%rsi,%rax,8), %rdx
	addq $1, %rdx
	movq %rdx, (%rsi,%rax,8)
	addl $1, %eax
	andl $511, %eax
	decq %rdi
	jnz 1b
2:	movq (%rsi), %rax
	ret
	.size k_memrw, .-k_memrw

/* uint64_t k_callret(uint64_t n): one op = call + ret of a leaf. */
	.globl k_callret
	.type k_callret, @function
k_callret:
	xorl %eax, %eax
	testq %rdi, %rdi
	jz 2f
1:	call k_leaf
	decq %rdi
	jnz 1b
2:	ret
	.size k_callret, .-k_callret

	.type k_leaf, @function
k_leaf:
	addq $1, %rax
	ret
	.size k_leaf, .-k_leaf

/* uint64_t k_indirect(uint64_t n): one op = an indirect jmp through a
 * 4-entry table (targets rotate, so a translator's inline cache of one
 * target misses 3 times in 4) plus the direct jump back. */
	.globl k_indirect
	.type k_indirect, @function
k_indirect:
	xorl %eax, %eax
	leaq k_itab(%rip), %rsi
	testq %rdi, %rdi
	jz 9f
1:	movl %eax, %edx
	andl $3, %edx
	jmp *(%rsi,%rdx,8)
.Lt0:	addl $1, %eax
	jmp 2f
.Lt1:	addl $1, %eax
	jmp 2f
.Lt2:	addl $1, %eax
	jmp 2f
.Lt3:	addl $1, %eax
2:	decq %rdi
	jnz 1b
9:	ret
	.size k_indirect, .-k_indirect

/* uint64_t k_adc(uint64_t n, uint64_t *d, const uint64_t *a,
 *                const uint64_t *b): d = a + b over 32 limbs with one carry
 * chain (what GMP's mpn_add_n does), n/32 times; one op = one limb.
 * lea and dec keep CF, so the chain spans the whole 32 limbs. */
	.globl k_adc
	.type k_adc, @function
k_adc:
	shrq $5, %rdi
	jz 9f
1:	movq %rsi, %r9
	movq %rdx, %r10
	movq %rcx, %r11
	movl $8, %r8d
	clc
2:	movq (%r10), %rax
	adcq (%r11), %rax
	movq %rax, (%r9)
	movq 8(%r10), %rax
	adcq 8(%r11), %rax
	movq %rax, 8(%r9)
	movq 16(%r10), %rax
	adcq 16(%r11), %rax
	movq %rax, 16(%r9)
	movq 24(%r10), %rax
	adcq 24(%r11), %rax
	movq %rax, 24(%r9)
	leaq 32(%r10), %r10
	leaq 32(%r11), %r11
	leaq 32(%r9), %r9
	decl %r8d
	jnz 2b
	decq %rdi
	jnz 1b
9:	movq (%rsi), %rax
	ret
	.size k_adc, .-k_adc

/* uint64_t k_tlbwalk(uint64_t n, const char *base, uint64_t npages):
 * one op = one 8-byte load from a different 4 KiB page, visiting the
 * npages (a power of two; 4096 = 16 MiB) in an odd stride (1031) so that
 * consecutive loads never share a page and every page is visited before any
 * repeats: far more pages than any TLB holds. The offset inside the page
 * moves too, so the loads do not all hit one cache set. */
	.globl k_tlbwalk
	.type k_tlbwalk, @function
k_tlbwalk:
	xorl %eax, %eax
	xorl %r8d, %r8d
	leaq -1(%rdx), %r9
	testq %rdi, %rdi
	jz 2f
1:	addq $1031, %rax
	andq %r9, %rax
	movq %rax, %rcx
	shlq $12, %rcx
	movl %eax, %r10d
	shll $6, %r10d
	andl $4032, %r10d
	addq %r10, %rcx
	addq (%rsi,%rcx), %r8
	decq %rdi
	jnz 1b
2:	movq %r8, %rax
	ret
	.size k_tlbwalk, .-k_tlbwalk

	.section .rodata
	.balign 8
k_itab:	.quad .Lt0, .Lt1, .Lt2, .Lt3

	.section .note.GNU-stack, "", @progbits
