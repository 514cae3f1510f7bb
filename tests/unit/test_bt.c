/* The binary translator through the engine interface, with hand-assembled
 * guest code: 64-bit loops/memory/stack/calls with identity paging, flags
 * live across memory accesses, #DE from a natively executed DIV (precise
 * RIP), #PF with CR2 and error code, self-modifying code, and 32-bit port
 * I/O. No /dev/kvm needed. */
#include <stdio.h>
#include <string.h>

#include "bt_cpu.h"
#include "error.h"
#include "loader.h"
#include "unit.h"
#include "vm.h"

#define CODE    0x200000ull
#define HANDLER 0x200800ull
#define DATA    0x300000ull
#define IDT     0x310000ull
#define STACK   0x380000ull

static int make_vm(struct vm *vm, struct vm_config *cfg)
{
	config_defaults(cfg);
	cfg->mem_size = 16ull << 20;
	cfg->serial = SERIAL_NONE;
	if (vm_create(vm, cfg, &engine_bt) < 0) {
		fprintf(stderr, "vm_create: %s\n", err_msg());
		return -1;
	}
	return 0;
}

static void idt_gate64(struct vm *vm, int vec, uint64_t handler)
{
	uint8_t g[16] = { 0 };
	uint64_t lo = (handler & 0xffff) | (0x10ull << 16) | (0x8eull << 40) |
		      (((handler >> 16) & 0xffff) << 48);
	uint64_t hi = handler >> 32;
	memcpy(g, &lo, 8);
	memcpy(g + 8, &hi, 8);
	mem_write(&vm->mem, IDT + 16 * vec, g, 16);
}

/* 64-bit long mode, identity paging of 4 GiB (the loader's helper). */
static int make_vm64(struct vm *vm, struct vm_config *cfg, const uint8_t *code, size_t len)
{
	if (make_vm(vm, cfg) < 0)
		return -1;
	struct vcpu_state st;
	memset(&st, 0, sizeof(st));
	if (loader_setup_longmode(&vm->mem, &st, CODE) < 0)
		return -1;
	st.gpr[GPR_RSP] = STACK;
	st.rflags = X86_RFLAGS_FIXED;
	st.idt.base = IDT;
	st.idt.limit = 0xfff;
	mem_write(&vm->mem, CODE, code, len);
	static const uint8_t handler[] = {      /* rbx=[rsp] rsi=[rsp+8] rdi=cr2 hlt */
		0x48, 0x8b, 0x1c, 0x24, 0x48, 0x8b, 0x74, 0x24, 0x08, 0x0f, 0x20, 0xd7, 0xf4 };
	mem_write(&vm->mem, HANDLER, handler, sizeof(handler));
	for (int v = 0; v < 32; v++)
		idt_gate64(vm, v, HANDLER);
	return engine_bt.set_state(&vm->vcpus[0], &st);
}

/* Runs until an exit that is not port I/O; returns its kind. */
static enum exit_kind run(struct vm *vm, struct vcpu_state *st)
{
	struct vcpu_exit e;
	for (int i = 0; i < 1000; i++) {
		memset(&e, 0, sizeof(e));
		if (engine_bt.vcpu_run(&vm->vcpus[0], &e) < 0)
			return EXIT_KIND_MAX;
		if (e.kind != EXIT_PIO && e.kind != EXIT_INTR)
			break;
	}
	if (e.kind == EXIT_INTERNAL)
		fprintf(stderr, "bt internal: %s\n", e.fail.why);
	engine_bt.get_state(&vm->vcpus[0], st);
	return e.kind;
}

static void test_bt_loop_memory_stack(void)
{
	/* rcx=1000; rax=sum; [DATA]=rax; push r10/pop r11; cmp; load; setz bl
	 * (flags live across the load); call f: rdx=r11+rsi; ret; hlt */
	static const uint8_t code[] = {
		0x48, 0xc7, 0xc1, 0xe8, 0x03, 0x00, 0x00, 0x31, 0xc0, 0x48, 0x01, 0xc8, 0x48,
		0xff, 0xc9, 0x75, 0xf8, 0x48, 0x89, 0x04, 0x25, 0x00, 0x00, 0x30, 0x00, 0x49,
		0xc7, 0xc2, 0x34, 0x12, 0x00, 0x00, 0x41, 0x52, 0x41, 0x5b, 0xb8, 0x03, 0x00,
		0x00, 0x00, 0x83, 0xf8, 0x03, 0x48, 0x8b, 0x34, 0x25, 0x00, 0x00, 0x30, 0x00,
		0x0f, 0x94, 0xc3, 0xe8, 0x01, 0x00, 0x00, 0x00, 0xf4, 0x49, 0x8d, 0x14, 0x33,
		0xc3 };
	struct vm vm;
	struct vm_config cfg;
	CU_ASSERT_FATAL(make_vm64(&vm, &cfg, code, sizeof(code)) == 0);
	struct vcpu_state st;
	CU_ASSERT_EQUAL(run(&vm, &st), EXIT_HLT);
	uint64_t sum = 1000 * 1001 / 2;
	CU_ASSERT_EQUAL(st.gpr[GPR_RSI], sum);
	CU_ASSERT_EQUAL(*(uint64_t *)mem_gpa_to_hva(&vm.mem, DATA, 8), sum);
	CU_ASSERT_EQUAL(st.gpr[GPR_R10], 0x1234);
	CU_ASSERT_EQUAL(st.gpr[GPR_R11], 0x1234);
	CU_ASSERT_EQUAL(st.gpr[GPR_RBX] & 0xff, 1);
	CU_ASSERT_EQUAL(st.gpr[GPR_RDX], 0x1234 + sum);
	CU_ASSERT_EQUAL(st.gpr[GPR_RSP], STACK);
	CU_ASSERT_EQUAL(st.rip, CODE + 61);
	vm_destroy(&vm);
}

static void test_bt_divide_error(void)
{
	/* mov ecx,0; nop; mov eax,5; xor edx,edx; div ecx (at +13); hlt */
	static const uint8_t code[] = { 0xb9, 0x00, 0x00, 0x00, 0x00, 0x90, 0xb8, 0x05, 0x00,
					0x00, 0x00, 0x31, 0xd2, 0xf7, 0xf1, 0xf4 };
	struct vm vm;
	struct vm_config cfg;
	CU_ASSERT_FATAL(make_vm64(&vm, &cfg, code, sizeof(code)) == 0);
	struct vcpu_state st;
	CU_ASSERT_EQUAL(run(&vm, &st), EXIT_HLT);
	CU_ASSERT_EQUAL(st.gpr[GPR_RBX], CODE + 13);      /* faulting RIP in the frame */
	CU_ASSERT_EQUAL(st.gpr[GPR_RSI], 0x10);           /* CS: no error code pushed */
	CU_ASSERT_EQUAL(st.gpr[GPR_RAX], 5);
	CU_ASSERT_EQUAL(st.rip, HANDLER + 13);
	vm_destroy(&vm);
}

static void test_bt_page_fault(void)
{
	/* movabs rax, 4 GiB (not mapped); mov rax,[rax]; hlt */
	static const uint8_t code[] = { 0x48, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
					0x00, 0x48, 0x8b, 0x00, 0xf4 };
	struct vm vm;
	struct vm_config cfg;
	CU_ASSERT_FATAL(make_vm64(&vm, &cfg, code, sizeof(code)) == 0);
	struct vcpu_state st;
	CU_ASSERT_EQUAL(run(&vm, &st), EXIT_HLT);
	CU_ASSERT_EQUAL(st.gpr[GPR_RBX], 0);              /* error code: read, not present */
	CU_ASSERT_EQUAL(st.gpr[GPR_RSI], CODE + 10);      /* RIP of the faulting load */
	CU_ASSERT_EQUAL(st.gpr[GPR_RDI], 0x100000000ull); /* CR2 */
	CU_ASSERT_EQUAL(st.cr2, 0x100000000ull);
	CU_ASSERT_EQUAL(st.gpr[GPR_RAX], 0x100000000ull); /* the load did not happen */
	vm_destroy(&vm);
}

/* Runs 64-bit code to HLT; checks RAX and that the RCX loop count ran out. */
static void run_to_hlt(const uint8_t *code, size_t len, uint64_t rax)
{
	struct vm vm;
	struct vm_config cfg;
	CU_ASSERT_FATAL(make_vm64(&vm, &cfg, code, len) == 0);
	struct vcpu_state st;
	CU_ASSERT_EQUAL(run(&vm, &st), EXIT_HLT);
	CU_ASSERT_EQUAL(st.gpr[GPR_RAX], rax);
	CU_ASSERT_EQUAL(st.gpr[GPR_RCX], 0);
	vm_destroy(&vm);
}

static void test_bt_self_modifying(void)
{
	/* ecx=2; top: mov eax,1; mov byte [rip+imm of that mov],7; dec ecx; jnz top; hlt */
	static const uint8_t code[] = { 0xb9, 0x02, 0x00, 0x00, 0x00, 0xb8, 0x01, 0x00, 0x00,
					0x00, 0xc6, 0x05, 0xf5, 0xff, 0xff, 0xff, 0x07, 0xff,
					0xc9, 0x75, 0xf0, 0xf4 };
	run_to_hlt(code, sizeof(code), 7);
}

static void test_bt_smc_peeked_code(void)
{
	/* The block "xor eax,eax; stc; mov rdx,[DATA]; jmp L" is translated
	 * while L is "xor ebx,ebx", so CF is dead at its end and the load's
	 * probe may clobber it. The code at L then rewrites itself to
	 * "adc eax,eax": a write only to bytes the first block peeked at, not to
	 * its own, must still drop it, or the second pass adds a lost carry.
	 *   ecx=2; jmp top; top: xor eax,eax; stc; mov rdx,[0x300000]; jmp L
	 *   L: xor ebx,ebx; mov word [L],0xc011; dec ecx; jnz top; hlt */
	static const uint8_t code[] = {
		0xb9, 0x02, 0x00, 0x00, 0x00, 0xeb, 0x00, 0x31, 0xc0, 0xf9,
		0x48, 0x8b, 0x14, 0x25, 0x00, 0x00, 0x30, 0x00, 0xeb, 0x00,
		0x31, 0xdb, 0x66, 0xc7, 0x04, 0x25, 0x14, 0x00, 0x20, 0x00, 0x11, 0xc0,
		0xff, 0xc9, 0x75, 0xe3, 0xf4 };
	run_to_hlt(code, sizeof(code), 1);
}

static void test_bt_smc_chained_target(void)
{
	/* S jumps to T and stays valid (it peeks only at T's first, flag-
	 * writing instruction); T rewrites its own immediate. The second pass
	 * enters T through S's linked jump, which must now reach the new T.
	 *   ecx=2; jmp S; S: xor ebx,ebx; jmp T
	 *   T: cmp edx,edx; mov eax,1; mov byte [imm of that mov],7
	 *      dec ecx; jnz S; hlt */
	static const uint8_t code[] = {
		0xb9, 0x02, 0x00, 0x00, 0x00, 0xeb, 0x00, 0x31, 0xdb, 0xeb, 0x00,
		0x39, 0xd2, 0xb8, 0x01, 0x00, 0x00, 0x00,
		0xc6, 0x05, 0xf5, 0xff, 0xff, 0xff, 0x07,
		0xff, 0xc9, 0x75, 0xea, 0xf4 };
	run_to_hlt(code, sizeof(code), 7);
}

/* S (at CODE+7) jumps to T, which starts 8 bytes before a page end and has
 * an instruction straddling it: the dispatcher cannot link S's jmp to T
 * (T's second page is not S's), so it points the jmp at a jump-cache probe.
 * T ends with dec ecx; jnz S. With smc, T rewrites a byte of its own
 * straddling immediate on the second page during the first pass: the probe
 * must not find the old T afterwards. */
static void page_crossing_target(int iters, bool smc, uint64_t rax, uint64_t max_chain)
{
	static uint8_t code[0x1013];
	memset(code, 0xf4, sizeof(code));
	const uint8_t head[] = { 0xb9, (uint8_t)iters, (uint8_t)(iters >> 8), 0, 0, /* mov ecx, n */
				 0x31, 0xc0,                                /* xor eax, eax */
				 0x31, 0xdb,                                /* S: xor ebx, ebx */
				 0xe9, 0xea, 0x0f, 0x00, 0x00 };            /* jmp T (0xff8) */
	memcpy(code, head, sizeof(head));
	const uint8_t t[] = { 0x83, 0xc0, 0x01,                     /* T: add eax, 1 */
			      0x90, 0x90,
			      0x81, 0xc0, 0x00, 0x00, 0x00, 0x00,   /* 0xffd: add eax, 0 */
			      0xc6, 0x05, 0xf6, 0xff, 0xff, 0xff, 0x01, /* mov byte [0x1000], 1 */
			      0xff, 0xc9,                           /* dec ecx */
			      0x0f, 0x85, 0xf5, 0xef, 0xff, 0xff,   /* jnz S */
			      0xf4 };
	memcpy(code + 0xff8, t, sizeof(t));
	if (!smc)
		memset(code + 0x1003, 0x90, 7);
	struct vm vm;
	struct vm_config cfg;
	CU_ASSERT_FATAL(make_vm64(&vm, &cfg, code, sizeof(code)) == 0);
	struct vcpu_state st;
	CU_ASSERT_EQUAL(run(&vm, &st), EXIT_HLT);
	CU_ASSERT_EQUAL(st.gpr[GPR_RAX], rax);
	CU_ASSERT_EQUAL(st.gpr[GPR_RCX], 0);
	struct bt_cpu *c = vm.vcpus[0].priv;
	if (c->n.chain > max_chain)
		fprintf(stderr, "page_crossing_target: %llu dispatcher chain exits\n",
			(unsigned long long)c->n.chain);
	CU_ASSERT(c->n.chain <= max_chain);
	vm_destroy(&vm);
}

static void test_bt_page_crossing_target(void)
{
	/* 1000 passes, a handful of dispatcher visits (was one per pass) */
	page_crossing_target(1000, false, 1000, 10);
}

static void test_bt_page_crossing_target_smc(void)
{
	/* pass 1 adds 1 + 0, then the immediate is 0x100: 1 + 257 + 257 */
	page_crossing_target(3, true, 515, 100);
}

static void test_bt_smc_writable_tlb(void)
{
	/* A page written before it holds code has a writable soft-TLB entry;
	 * translating code there must revoke it, or the later write through
	 * the fast path leaves the old translation running.
	 *   mov byte [L+1],5; ecx=2; top: call L; mov byte [L+1],7; dec ecx;
	 *   jnz top; hlt        L (next page): mov al,imm8; ret */
	static const uint8_t code[] = {
		0xc6, 0x04, 0x25, 0x01, 0x10, 0x20, 0x00, 0x05, 0xb9, 0x02, 0x00, 0x00, 0x00,
		0xe8, 0xee, 0x0f, 0x00, 0x00, 0xc6, 0x04, 0x25, 0x01, 0x10, 0x20, 0x00, 0x07,
		0xff, 0xc9, 0x75, 0xef, 0xf4 };
	static const uint8_t fn[] = { 0xb0, 0x00, 0xc3 };
	struct vm vm;
	struct vm_config cfg;
	CU_ASSERT_FATAL(make_vm64(&vm, &cfg, code, sizeof(code)) == 0);
	mem_write(&vm.mem, CODE + 0x1000, fn, sizeof(fn));
	struct vcpu_state st;
	CU_ASSERT_EQUAL(run(&vm, &st), EXIT_HLT);
	CU_ASSERT_EQUAL(st.gpr[GPR_RAX], 7);
	CU_ASSERT_EQUAL(st.gpr[GPR_RCX], 0);
	vm_destroy(&vm);
}

static void wr_q(struct vm *vm, uint64_t gpa, uint64_t v)
{
	mem_write(&vm->mem, gpa, &v, 8);
}

static void test_bt_sys_in_block(void)
{
	/* INVLPG and MOV CR3 run as helper calls inside the block; the loads
	 * after them in the same block must see the new mappings, where a
	 * stale soft-TLB entry would still give the old page.
	 *   mov rax,[0x400000]            ; 2M page 2 -> 0x400000: 0x11
	 *   mov qword [PDE 2],0x600083    ; now -> 0x600000
	 *   invlpg [0x400000]
	 *   mov rbx,[0x400000]            ; 0x22
	 *   mov rcx,0x320000; mov cr3,rcx ; tables mapping page 2 -> 0x800000
	 *   mov rdx,[0x400000]            ; 0x33
	 *   hlt */
	static const uint8_t code[] = {
		0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00,
		0x48, 0xc7, 0x04, 0x25, 0x10, 0xa0, 0x00, 0x00, 0x83, 0x00, 0x60, 0x00,
		0x0f, 0x01, 0x3c, 0x25, 0x00, 0x00, 0x40, 0x00,
		0x48, 0x8b, 0x1c, 0x25, 0x00, 0x00, 0x40, 0x00,
		0x48, 0xc7, 0xc1, 0x00, 0x00, 0x32, 0x00, 0x0f, 0x22, 0xd9,
		0x48, 0x8b, 0x14, 0x25, 0x00, 0x00, 0x40, 0x00, 0xf4 };
	struct vm vm;
	struct vm_config cfg;
	CU_ASSERT_FATAL(make_vm64(&vm, &cfg, code, sizeof(code)) == 0);
	wr_q(&vm, 0x400000, 0x11);
	wr_q(&vm, 0x600000, 0x22);
	wr_q(&vm, 0x800000, 0x33);
	wr_q(&vm, 0x320000, 0x321003);                  /* PML4[0] -> PDPT */
	wr_q(&vm, 0x321000, 0x322003);                  /* PDPT[0] -> PD */
	for (uint64_t i = 0; i < 8; i++)                /* PD: identity 2M pages... */
		wr_q(&vm, 0x322000 + 8 * i, (i << 21) | 0x83);
	wr_q(&vm, 0x322000 + 8 * 2, 0x800083);          /* ...but page 2 -> 0x800000 */
	struct vcpu_state st;
	CU_ASSERT_EQUAL(run(&vm, &st), EXIT_HLT);
	CU_ASSERT_EQUAL(st.gpr[GPR_RAX], 0x11);
	CU_ASSERT_EQUAL(st.gpr[GPR_RBX], 0x22);
	CU_ASSERT_EQUAL(st.gpr[GPR_RDX], 0x33);
	CU_ASSERT_EQUAL(st.cr3, 0x320000);
	/* and without leaving the block for the emulator */
	CU_ASSERT_EQUAL(((struct bt_cpu *)vm.vcpus[0].priv)->n.sys_direct, 2);
	vm_destroy(&vm);
}

static void test_bt_sys_in_block_fault(void)
{
	/* MOV CR4 clearing PAE in long mode is #GP(0) from the helper: precise
	 * RIP, and the rest of the block does not run.
	 *   xor esi,esi; mov r8d,1; mov cr4,rsi; mov r8d,2; hlt */
	static const uint8_t code[] = { 0x31, 0xf6, 0x41, 0xb8, 0x01, 0x00, 0x00, 0x00,
					0x0f, 0x22, 0xe6, 0x41, 0xb8, 0x02, 0x00, 0x00, 0x00,
					0xf4 };
	struct vm vm;
	struct vm_config cfg;
	CU_ASSERT_FATAL(make_vm64(&vm, &cfg, code, sizeof(code)) == 0);
	struct vcpu_state st;
	CU_ASSERT_EQUAL(run(&vm, &st), EXIT_HLT);
	CU_ASSERT_EQUAL(st.gpr[GPR_RBX], 0);            /* the handler ran: error code */
	CU_ASSERT_EQUAL(st.gpr[GPR_RSI], CODE + 8);     /* and the frame's RIP is the MOV CR4 */
	CU_ASSERT_EQUAL(st.gpr[GPR_R8], 1);
	CU_ASSERT_EQUAL(st.cr4 & X86_CR4_PAE, X86_CR4_PAE);
	vm_destroy(&vm);
}

/* lea r9,[target]; (bts r9,63;) call thunk; hlt; target: mov ebx,0x42; ret
 * thunk: call 1f; pause; lfence; jmp thunk+5; 1: mov [rsp],r9; jmp T; int3
 * T: ret */
static const uint8_t rp_lea[] = { 0x4c, 0x8d, 0x0d, 0x06, 0x00, 0x00, 0x00 };
static const uint8_t rp_bts[] = { 0x49, 0x0f, 0xba, 0xe9, 0x3f };
static const uint8_t rp_rest[] = {
	0xe8, 0x07, 0x00, 0x00, 0x00, 0xf4, 0xbb, 0x42, 0x00, 0x00, 0x00, 0xc3,
	0xe8, 0x07, 0x00, 0x00, 0x00, 0xf3, 0x90, 0x0f, 0xae, 0xe8, 0xeb, 0xf9,
	0x4c, 0x89, 0x0c, 0x24, 0xe9, 0x01, 0x00, 0x00, 0x00, 0xcc, 0xc3 };

static void run_retpoline(bool bad_target, struct vm *vm, struct vcpu_state *st)
{
	uint8_t code[64];
	size_t n = 0;
	memcpy(code, rp_lea, sizeof(rp_lea));
	n += sizeof(rp_lea);
	if (bad_target) {
		memcpy(code + n, rp_bts, sizeof(rp_bts));
		n += sizeof(rp_bts);
	}
	memcpy(code + n, rp_rest, sizeof(rp_rest));
	n += sizeof(rp_rest);
	struct vm_config cfg;
	CU_ASSERT_FATAL(make_vm64(vm, &cfg, code, n) == 0);
	CU_ASSERT_EQUAL(run(vm, st), EXIT_HLT);
	/* translated as one block, not call + mov/jmp + ret */
	CU_ASSERT_EQUAL(((struct bt_cpu *)vm->vcpus[0].priv)->n.retpolines, 1);
}

static void test_bt_retpoline(void)
{
	struct vm vm;
	struct vcpu_state st;
	run_retpoline(false, &vm, &st);
	CU_ASSERT_EQUAL(st.gpr[GPR_RBX], 0x42);         /* reached the target */
	CU_ASSERT_EQUAL(st.gpr[GPR_RSP], STACK);        /* and came back through its RET */
	/* the thunk's store below the stack */
	CU_ASSERT_EQUAL(*(uint64_t *)mem_gpa_to_hva(&vm.mem, STACK - 16, 8), CODE + 0xd);
	vm_destroy(&vm);
	/* A non-canonical target is #GP on the thunk's RET, RSP before its pop. */
	run_retpoline(true, &vm, &st);
	CU_ASSERT_EQUAL(st.gpr[GPR_RBX], 0);            /* error code, from the handler */
	CU_ASSERT_EQUAL(st.gpr[GPR_RSI], CODE + 5 + 0x29); /* RIP: the RET */
	uint64_t *frame = mem_gpa_to_hva(&vm.mem, st.gpr[GPR_RSP], 48);
	CU_ASSERT_FATAL(frame != NULL);
	CU_ASSERT_EQUAL(frame[4], STACK - 16);          /* the frame's RSP */
	vm_destroy(&vm);
}

static void test_bt_pio32(void)
{
	/* 32-bit flat, paging off: mov dx,0x3f8; mov al,'Z'; out dx,al; in al,dx;
	 * mov ebx,eax; hlt */
	static const uint8_t code[] = { 0x66, 0xba, 0xf8, 0x03, 0xb0, 'Z', 0xee, 0xec,
					0x89, 0xc3, 0xf4 };
	struct vm vm;
	struct vm_config cfg;
	CU_ASSERT_FATAL(make_vm(&vm, &cfg) == 0);
	mem_write(&vm.mem, 0x1000, code, sizeof(code));
	struct vcpu_state st;
	memset(&st, 0, sizeof(st));
	x86_seg_flat_code32(&st.cs, 0x10);
	x86_seg_flat_data(&st.ds, 0x18);
	st.es = st.fs = st.gs = st.ss = st.ds;
	st.cr0 = X86_CR0_PE | X86_CR0_ET;
	st.rflags = X86_RFLAGS_FIXED;
	st.rip = 0x1000;
	st.gpr[GPR_RSP] = 0x8000;
	CU_ASSERT_FATAL(engine_bt.set_state(&vm.vcpus[0], &st) == 0);
	struct vcpu *v = &vm.vcpus[0];
	struct vcpu_exit e;
	CU_ASSERT_EQUAL(engine_bt.vcpu_run(v, &e), 0);
	CU_ASSERT_EQUAL(e.kind, EXIT_PIO);
	CU_ASSERT_EQUAL(e.io.port, 0x3f8);
	CU_ASSERT_TRUE(e.io.is_write);
	CU_ASSERT_EQUAL(e.io.size, 1);
	CU_ASSERT_EQUAL(e.io.data[0], 'Z');
	CU_ASSERT_EQUAL(engine_bt.vcpu_run(v, &e), 0);
	CU_ASSERT_EQUAL(e.kind, EXIT_PIO);
	CU_ASSERT_FALSE(e.io.is_write);
	e.io.data[0] = 0xa5;
	CU_ASSERT_EQUAL(engine_bt.vcpu_run(v, &e), 0);
	CU_ASSERT_EQUAL(e.kind, EXIT_HLT);
	CU_ASSERT_EQUAL(engine_bt.get_state(v, &st), 0);
	CU_ASSERT_EQUAL(st.gpr[GPR_RBX] & 0xff, 0xa5);
	CU_ASSERT_EQUAL(st.rip, 0x1000 + sizeof(code));
	vm_destroy(&vm);
}

/* Real mode (CR0.PE=0) at 0x0100:0x0000 with the IVT at 0. */
static int make_vm_real(struct vm *vm, struct vm_config *cfg, const uint8_t *code, size_t len)
{
	if (make_vm(vm, cfg) < 0)
		return -1;
	mem_write(&vm->mem, 0x1000, code, len);
	struct vcpu_state st;
	memset(&st, 0, sizeof(st));
	x86_seg_real(&st.cs, 0x100, 0xb);
	x86_seg_real(&st.ds, 0x200, 0x3);
	st.es = st.fs = st.gs = st.ss = st.ds;
	st.cr0 = X86_CR0_ET;
	st.rflags = X86_RFLAGS_FIXED;
	st.idt.limit = 0x3ff;
	st.gpr[GPR_RSP] = 0x1000;
	return engine_bt.set_state(&vm->vcpus[0], &st);
}

static void test_bt_real_flags(void)
{
	/* stc; mov ax,0xffff; inc ax; pushf; pop bx  (INC keeps CF: CF ZF PF AF)
	 * mov al,0x7f; add al,1; pushf; pop cx       (OF SF AF)
	 * mov ax,0x8000; shl ax,1; pushf; pop dx     (CF ZF PF OF; AF undefined)
	 * mov eax,0x80000000; sub eax,1; pushf; pop si (66 prefix: OF AF PF)
	 * hlt */
	static const uint8_t code[] = {
		0xf9, 0xb8, 0xff, 0xff, 0x40, 0x9c, 0x5b,
		0xb0, 0x7f, 0x04, 0x01, 0x9c, 0x59,
		0xb8, 0x00, 0x80, 0xd1, 0xe0, 0x9c, 0x5a,
		0x66, 0xb8, 0x00, 0x00, 0x00, 0x80, 0x66, 0x83, 0xe8, 0x01, 0x9c, 0x5e,
		0xf4 };
	struct vm vm;
	struct vm_config cfg;
	CU_ASSERT_FATAL(make_vm_real(&vm, &cfg, code, sizeof(code)) == 0);
	struct vcpu_state st;
	CU_ASSERT_EQUAL(run(&vm, &st), EXIT_HLT);
	CU_ASSERT_EQUAL(st.gpr[GPR_RBX] & 0x8d5, 0x55);
	CU_ASSERT_EQUAL(st.gpr[GPR_RCX] & 0x8d5, 0x890);
	CU_ASSERT_EQUAL(st.gpr[GPR_RDX] & 0x8c5, 0x845);     /* AF undefined after SHL */
	CU_ASSERT_EQUAL(st.gpr[GPR_RSI] & 0x8d5, 0x814);
	CU_ASSERT_EQUAL(st.gpr[GPR_RAX], 0x7fffffff);
	CU_ASSERT_EQUAL(st.cs.sel, 0x100);
	CU_ASSERT_EQUAL(st.rip, sizeof(code));
	vm_destroy(&vm);
}

static void test_bt_real_divide_error(void)
{
	/* #DE through IVT vector 0 (handler at 0x0100:0x0040: pop bx; hlt):
	 * xor cl,cl; div cl */
	uint8_t code[0x42] = { 0x30, 0xc9, 0xf6, 0xf1 };
	code[0x40] = 0x5b;
	code[0x41] = 0xf4;
	struct vm vm;
	struct vm_config cfg;
	CU_ASSERT_FATAL(make_vm_real(&vm, &cfg, code, sizeof(code)) == 0);
	uint16_t ivt0[2] = { 0x40, 0x100 };
	mem_write(&vm.mem, 0, ivt0, sizeof(ivt0));
	struct vcpu_state st;
	CU_ASSERT_EQUAL(run(&vm, &st), EXIT_HLT);
	CU_ASSERT_EQUAL(st.gpr[GPR_RBX] & 0xffff, 2);   /* the faulting DIV's IP */
	CU_ASSERT_EQUAL(st.rip, 0x42);
	vm_destroy(&vm);
}

static void test_bt_real_unsupported(void)
{
	/* AAA is not implemented: the VM stops with an error naming it. */
	static const uint8_t code[] = { 0x37, 0xf4 };
	struct vm vm;
	struct vm_config cfg;
	CU_ASSERT_FATAL(make_vm_real(&vm, &cfg, code, sizeof(code)) == 0);
	struct vcpu_exit e;
	memset(&e, 0, sizeof(e));
	CU_ASSERT_EQUAL(engine_bt.vcpu_run(&vm.vcpus[0], &e), 0);
	CU_ASSERT_EQUAL(e.kind, EXIT_INTERNAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.fail.why, "aaa"));
	vm_destroy(&vm);
}

UNIT_SUITE(bt,
	UNIT_CASE(test_bt_loop_memory_stack),
	UNIT_CASE(test_bt_divide_error),
	UNIT_CASE(test_bt_page_fault),
	UNIT_CASE(test_bt_self_modifying),
	UNIT_CASE(test_bt_smc_peeked_code),
	UNIT_CASE(test_bt_smc_chained_target),
	UNIT_CASE(test_bt_page_crossing_target),
	UNIT_CASE(test_bt_page_crossing_target_smc),
	UNIT_CASE(test_bt_smc_writable_tlb),
	UNIT_CASE(test_bt_sys_in_block),
	UNIT_CASE(test_bt_sys_in_block_fault),
	UNIT_CASE(test_bt_retpoline),
	UNIT_CASE(test_bt_pio32),
	UNIT_CASE(test_bt_real_flags),
	UNIT_CASE(test_bt_real_divide_error),
	UNIT_CASE(test_bt_real_unsupported))
