/* The native runner: the host CPU is the oracle. A forked child maps the code
 * page, data buffer and control page at fixed addresses, loads the case's
 * registers and jumps to the code; every case ends in an exception (the int3
 * trailer at the latest) whose signal frame holds the final state. The child
 * survives every fault (sigaltstack + siglongjmp) and is restarted if it dies. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "difftest.h"
#include "error.h"
#include "native_layout.h"

/* Shared memfd: code page, data buffer, then the request (entry block
 * image) and the reply (struct native_out). The child maps the first two at
 * their fixed addresses and uses the rest through the mapping inherited
 * from the parent. */
#define SHM_CODE 0
#define SHM_DATA DT_CODE_SIZE
#define SHM_REQ  (DT_CODE_SIZE + DT_DATA_SIZE)
#define SHM_OUT  (SHM_REQ + NCTL_SIZE)
#define SHM_SIZE (SHM_OUT + 0x1000)

struct native_out {
	int signo;
	int si_code;
	uint64_t trapno, err, cr2;
	uint64_t gpr[16];
	uint64_t rip, rflags;
	uint32_t mxcsr;
	int has_vec;
	uint8_t xmm[16][16];
	uint8_t ymmh[16][16];
};

_Static_assert(sizeof(struct native_out) <= 0x1000, "native_out does not fit its page");

/* The entry block native_entry.S loads from; the signal handler's output. */
__attribute__((aligned(64))) uint8_t dt_native_ctl[NCTL_SIZE];
static struct native_out child_out;

struct dt_native {
	int shm_fd;
	uint8_t *shm;                   /* parent's view of the memfd */
	pid_t pid;
	int cmd_fd;                     /* parent -> child: run */
	int res_fd;                     /* child -> parent: done */
	int timeout_ms;
};

void dt_native_enter_avx(void) __attribute__((noreturn));
void dt_native_enter_sse(void) __attribute__((noreturn));

bool dt_host_has_avx(void)
{
	return __builtin_cpu_supports("avx2");
}

/* ---- child side ---- */

static sigjmp_buf child_env;

/* Offsets of the ymm upper halves in the signal frame's XSAVE area: Linux
 * writes the standard (non-compacted) format, where AVX state is at 576. */
#define XSTATE_MAGIC1 0x46505853u
#define XSAVE_HDR_OFF 512
#define XSAVE_YMM_OFF 576

static void child_signal(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	struct native_out *o = &child_out;
	const greg_t *g = uc->uc_mcontext.gregs;
	o->signo = sig;
	o->si_code = si->si_code;
	o->trapno = (uint64_t)g[REG_TRAPNO];
	o->err = (uint64_t)g[REG_ERR];
	o->cr2 = (uint64_t)g[REG_CR2];
	static const int map[16] = { REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP,
				     REG_RSI, REG_RDI, REG_R8, REG_R9, REG_R10, REG_R11,
				     REG_R12, REG_R13, REG_R14, REG_R15 };
	for (int i = 0; i < 16; i++)
		o->gpr[i] = (uint64_t)g[map[i]];
	o->rip = (uint64_t)g[REG_RIP];
	o->rflags = (uint64_t)g[REG_EFL];
	o->has_vec = 0;
	const uint8_t *fp = (const uint8_t *)uc->uc_mcontext.fpregs;
	if (fp) {
		memcpy(&o->mxcsr, fp + 24, 4);
		memcpy(o->xmm, fp + 160, 256);
		memset(o->ymmh, 0, sizeof(o->ymmh));
		uint32_t magic;
		memcpy(&magic, fp + 464, 4);
		if (magic == XSTATE_MAGIC1) {
			uint64_t xstate_bv;
			memcpy(&xstate_bv, fp + XSAVE_HDR_OFF, 8);
			if (xstate_bv & 4)
				memcpy(o->ymmh, fp + XSAVE_YMM_OFF, 256);
		}
		o->has_vec = 1;
	}
	siglongjmp(child_env, 1);
}

static int child_map(int fd, uint64_t va, size_t len, off_t off, int prot)
{
	void *p = mmap((void *)va, len, prot, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, off);
	if (p == MAP_FAILED || p != (void *)va)
		return -1;
	return 0;
}

/* A jump into the middle of an instruction can reach bytes that form a
 * syscall; from the code page every system call traps (SIGSYS) instead of
 * running, so generated code can never act on the host. */
static int child_seccomp(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer) + 4),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer)),
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xfffff000u),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)DT_CODE_VA, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static void __attribute__((noreturn)) child_main(int fd, uint8_t *shm, int cmd_fd, int res_fd,
						  int timeout_ms)
{
	if (child_map(fd, DT_CODE_VA, DT_CODE_SIZE, SHM_CODE, PROT_READ | PROT_EXEC) < 0 ||
	    child_map(fd, DT_DATA_VA, DT_DATA_SIZE, SHM_DATA, PROT_READ | PROT_WRITE) < 0) {
		char b = 'M';
		if (write(res_fd, &b, 1) < 0)
			_exit(3);
		_exit(3);
	}
	static uint8_t altstack[65536];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
	sigaltstack(&ss, NULL);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = child_signal;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGALRM, SIGSYS };
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	bool avx = dt_host_has_avx();
	char ready = child_seccomp() == 0 ? 'R' : 'S';
	if (write(res_fd, &ready, 1) != 1)
		_exit(4);
	for (;;) {
		char b;
		if (read(cmd_fd, &b, 1) != 1)
			_exit(0);
		memcpy(dt_native_ctl, shm + SHM_REQ, NCTL_SIZE);
		memset(&child_out, 0, sizeof(child_out));
		struct itimerval it = { { 0, 0 }, { timeout_ms / 1000, (timeout_ms % 1000) * 1000 } };
		setitimer(ITIMER_REAL, &it, NULL);
		if (sigsetjmp(child_env, 1) == 0) {
			if (avx)
				dt_native_enter_avx();
			dt_native_enter_sse();
		}
		struct itimerval off = { { 0, 0 }, { 0, 0 } };
		setitimer(ITIMER_REAL, &off, NULL);
		memcpy(shm + SHM_OUT, &child_out, sizeof(child_out));
		if (write(res_fd, &b, 1) != 1)
			_exit(5);
	}
}

/* ---- parent side ---- */

static void native_kill(struct dt_native *n)
{
	if (n->pid > 0) {
		kill(n->pid, SIGKILL);
		waitpid(n->pid, NULL, 0);
		n->pid = 0;
	}
	if (n->cmd_fd >= 0)
		close(n->cmd_fd);
	if (n->res_fd >= 0)
		close(n->res_fd);
	n->cmd_fd = n->res_fd = -1;
}

static int native_spawn(struct dt_native *n)
{
	int cmd[2], res[2];
	if (pipe2(cmd, O_CLOEXEC) < 0)
		return err_set("pipe: %s", strerror(errno));
	if (pipe2(res, O_CLOEXEC) < 0) {
		close(cmd[0]);
		close(cmd[1]);
		return err_set("pipe: %s", strerror(errno));
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(cmd[0]); close(cmd[1]); close(res[0]); close(res[1]);
		return err_set("fork: %s", strerror(errno));
	}
	if (pid == 0) {
		close(cmd[1]);
		close(res[0]);
		child_main(n->shm_fd, n->shm, cmd[0], res[1], n->timeout_ms);
	}
	close(cmd[0]);
	close(res[1]);
	n->pid = pid;
	n->cmd_fd = cmd[1];
	n->res_fd = res[0];
	char b = 0;
	if (read(n->res_fd, &b, 1) == 1 && b == 'S') {
		native_kill(n);
		return err_set("the native runner could not install its seccomp filter");
	}
	if (b != 'R') {
		native_kill(n);
		return err_set("the native runner could not map its fixed addresses "
			       "(0x%llx, 0x%llx); is something else mapped there?",
			       (unsigned long long)DT_CODE_VA, (unsigned long long)DT_DATA_VA);
	}
	return 0;
}

struct dt_native *dt_native_start(void)
{
	struct dt_native *n = calloc(1, sizeof(*n));
	if (!n) {
		err_set("out of memory");
		return NULL;
	}
	n->cmd_fd = n->res_fd = -1;
	n->timeout_ms = 1000;
	n->shm_fd = memfd_create("difftest-native", MFD_CLOEXEC);
	if (n->shm_fd < 0 || ftruncate(n->shm_fd, SHM_SIZE) < 0) {
		err_set("memfd for the native runner: %s", strerror(errno));
		goto fail;
	}
	n->shm = mmap(NULL, SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, n->shm_fd, 0);
	if (n->shm == MAP_FAILED) {
		n->shm = NULL;
		err_set("mapping the native runner's memory: %s", strerror(errno));
		goto fail;
	}
	/* A dead child must not kill the harness on its next write. */
	signal(SIGPIPE, SIG_IGN);
	if (native_spawn(n) < 0)
		goto fail;
	return n;
fail:
	dt_native_stop(n);
	return NULL;
}

void dt_native_stop(struct dt_native *n)
{
	if (!n)
		return;
	native_kill(n);
	if (n->shm)
		munmap(n->shm, SHM_SIZE);
	if (n->shm_fd >= 0)
		close(n->shm_fd);
	n->shm = NULL;
	n->shm_fd = -1;
	free(n);
}

/* The fxsave image the entry stub restores: default x87 state, the case's
 * MXCSR and xmm registers. */
static void build_fx(uint8_t *fx, const struct dt_cpu *cpu)
{
	memset(fx, 0, 512);
	uint16_t fcw = 0x37f;
	memcpy(fx, &fcw, 2);
	memcpy(fx + 24, &cpu->mxcsr, 4);
	uint32_t mask = 0xffff;
	memcpy(fx + 28, &mask, 4);
	memcpy(fx + 160, cpu->xmm, 256);
}

int dt_native_run(struct dt_native *n, const struct dt_case *c, struct dt_result *r)
{
	memset(r, 0, offsetof(struct dt_result, data));
	if (n->pid <= 0 && native_spawn(n) < 0)
		return -1;
	uint8_t *req = n->shm + SHM_REQ;
	dt_code_page(c, n->shm + SHM_CODE);
	dt_fill_data(c->data_seed, n->shm + SHM_DATA);
	build_fx(req + NCTL_FX, &c->init);
	memcpy(req + NCTL_YMMH, c->init.ymmh, 256);
	memcpy(req + NCTL_GPR, c->init.gpr, 128);
	memcpy(req + NCTL_RIP, &c->init.rip, 8);
	uint64_t fl = (c->init.rflags & DT_FLAGS_CMP) | DT_FLAGS_FIXED;
	memcpy(req + NCTL_RFLAGS, &fl, 8);
	struct native_out *o = (struct native_out *)(n->shm + SHM_OUT);
	memset(o, 0, sizeof(*o));

	char b = 'G';
	struct pollfd p = { .fd = n->res_fd, .events = POLLIN };
	if (write(n->cmd_fd, &b, 1) != 1 || poll(&p, 1, n->timeout_ms * 4 + 2000) != 1 ||
	    read(n->res_fd, &b, 1) != 1) {
		int st = 0;
		pid_t pid = n->pid;
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		n->pid = 0;
		native_kill(n);
		r->status = DT_RUNNER_ERROR;
		snprintf(r->why, sizeof(r->why), "native runner died (%s %d); restarted",
			 WIFSIGNALED(st) ? "signal" : "status",
			 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
		return native_spawn(n) < 0 ? -1 : 0;
	}
	if (o->signo == SIGALRM) {
		r->status = DT_TIMEOUT;
		snprintf(r->why, sizeof(r->why), "still running after %d ms", n->timeout_ms);
	} else {
		r->status = DT_EXCEPTION;
		r->vector = (int)o->trapno;
		r->error_code = (uint32_t)o->err;
		r->cr2 = r->vector == 14 ? o->cr2 : 0;
		if (o->signo == SIGSYS) {
			r->status = DT_RUNNER_ERROR;
			snprintf(r->why, sizeof(r->why), "the code reached a system call (blocked)");
		} else if (o->trapno > 31) {
			r->status = DT_RUNNER_ERROR;
			snprintf(r->why, sizeof(r->why), "signal %d (code %d, trap %llu) is not a CPU exception",
				 o->signo, o->si_code, (unsigned long long)o->trapno);
		}
	}
	memcpy(r->cpu.gpr, o->gpr, sizeof(o->gpr));
	r->cpu.rip = o->rip;
	r->cpu.rflags = o->rflags;
	r->has_vec = o->has_vec;
	r->cpu.mxcsr = o->mxcsr;
	memcpy(r->cpu.xmm, o->xmm, 256);
	memcpy(r->cpu.ymmh, o->ymmh, 256);
	memcpy(r->data, n->shm + SHM_DATA, DT_DATA_SIZE);
	return 0;
}
