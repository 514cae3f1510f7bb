/* 16550A UART: the register model (no vm), the COM1 device that puts it on
 * port 0x3f8, and the console reader that feeds it from stdin.
 *
 * Transmission is instantaneous: a byte written to THR goes straight to the
 * sink, so THRE and TEMT read back set at once. The interrupt line still
 * drops and rises again around each THR write, so an edge-triggered PIC sees
 * a fresh THRE edge for every byte, as on hardware. */
#include "uart16550.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "device.h"
#include "error.h"
#include "vm.h"

/* The other end of the cable is always "ready": carrier, DSR and CTS high. */
#define UART_HOST_MSR   (UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS)

static bool uart_fifo_on(const struct uart *u)
{
	return u->fcr & UART_FCR_ENABLE;
}

static unsigned uart_rx_capacity(const struct uart *u)
{
	return uart_fifo_on(u) ? UART_FIFO_SIZE : 1;
}

static unsigned uart_rx_trigger(const struct uart *u)
{
	static const unsigned levels[4] = { 1, 4, 8, 14 };
	return uart_fifo_on(u) ? levels[u->fcr >> 6] : 1;
}

/* The highest-priority pending source, as IIR bits 0-3 (UART_IIR_NO_INT if none). */
static uint8_t uart_iir_id(const struct uart *u)
{
	if ((u->ier & UART_IER_RLSI) && (u->lsr & UART_LSR_ERRORS))
		return UART_IIR_RLSI;
	/* Below the trigger level real hardware waits four character times
	 * before the timeout interrupt; reporting it at once only makes the
	 * guest see its data sooner. */
	if ((u->ier & UART_IER_RDI) && u->rx_count)
		return u->rx_count >= uart_rx_trigger(u) ? UART_IIR_RDI : UART_IIR_CTI;
	if ((u->ier & UART_IER_THRI) && u->thr_pending)
		return UART_IIR_THRI;
	if ((u->ier & UART_IER_MSI) && (u->msr & UART_MSR_DELTA))
		return UART_IIR_MSI;
	return UART_IIR_NO_INT;
}

int uart_irq_level(const struct uart *u)
{
	return uart_iir_id(u) != UART_IIR_NO_INT;
}

static void uart_update_irq(struct uart *u)
{
	int level = uart_irq_level(u);
	if (level == u->irq_line)
		return;
	u->irq_line = level;
	if (u->irq)
		u->irq(u->irq_opaque, level);
}

/* MSR's upper half follows the modem inputs: the host's lines normally, the
 * UART's own MCR outputs in loopback. Changes latch the delta bits. */
static void uart_update_msr(struct uart *u)
{
	uint8_t lines = u->host_msr;
	if (u->mcr & UART_MCR_LOOP)
		lines = ((u->mcr & UART_MCR_RTS) ? UART_MSR_CTS : 0) |
			((u->mcr & UART_MCR_DTR) ? UART_MSR_DSR : 0) |
			((u->mcr & UART_MCR_OUT1) ? UART_MSR_RI : 0) |
			((u->mcr & UART_MCR_OUT2) ? UART_MSR_DCD : 0);
	uint8_t old = u->msr & 0xf0, changed = old ^ lines;
	uint8_t delta = u->msr & UART_MSR_DELTA;
	if (changed & UART_MSR_CTS)
		delta |= UART_MSR_DCTS;
	if (changed & UART_MSR_DSR)
		delta |= UART_MSR_DDSR;
	if (changed & UART_MSR_DCD)
		delta |= UART_MSR_DDCD;
	if ((old & UART_MSR_RI) && !(lines & UART_MSR_RI))
		delta |= UART_MSR_TERI;         /* trailing edge only */
	u->msr = lines | delta;
}

void uart_init(struct uart *u, int tx_fd)
{
	memset(u, 0, sizeof(*u));
	u->tx_fd = tx_fd;
	u->lsr = UART_LSR_THRE | UART_LSR_TEMT;
	u->host_msr = UART_HOST_MSR;
	u->msr = UART_HOST_MSR;
	u->dll = 12;                    /* 9600 baud from the 1.8432 MHz clock */
}

void uart_set_irq(struct uart *u, uart_irq_fn fn, void *opaque)
{
	u->irq = fn;
	u->irq_opaque = opaque;
	u->irq_line = uart_irq_level(u);
	if (fn)
		fn(opaque, u->irq_line);
}

static void uart_rx_clear(struct uart *u)
{
	u->rx_head = u->rx_count = 0;
	u->lsr &= (uint8_t)~UART_LSR_DR;
}

/* One character arriving at the receiver. A full FIFO keeps its contents and
 * loses the new character; without FIFOs the new one overwrites RBR. */
static bool uart_rx_push(struct uart *u, uint8_t b)
{
	u->rx_bytes++;
	if (u->rx_count == uart_rx_capacity(u)) {
		u->lsr |= UART_LSR_OE;
		u->rx_overruns++;
		if (!uart_fifo_on(u))
			u->rx[u->rx_head] = b;
		return false;
	}
	u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = b;
	u->rx_count++;
	u->lsr |= UART_LSR_DR;
	return true;
}

size_t uart_receive(struct uart *u, const uint8_t *buf, size_t n)
{
	if (u->mcr & UART_MCR_LOOP)
		return 0;               /* loopback disconnects the serial input */
	size_t taken = 0;
	for (size_t i = 0; i < n; i++)
		taken += uart_rx_push(u, buf[i]);
	uart_update_irq(u);
	return taken;
}

size_t uart_rx_space(const struct uart *u)
{
	if (u->mcr & UART_MCR_LOOP)
		return 0;
	return uart_rx_capacity(u) - u->rx_count;
}

/* The whole byte or nothing: a console must not lose output to EINTR or a
 * non-blocking descriptor. A dead sink is dropped rather than retried forever. */
static void uart_tx(struct uart *u, uint8_t b)
{
	u->tx_bytes++;
	if (u->tap)
		u->tap(u->tap_opaque, b);
	while (u->tx_fd >= 0) {
		ssize_t r = write(u->tx_fd, &b, 1);
		if (r == 1)
			return;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = { .fd = u->tx_fd, .events = POLLOUT };
			poll(&p, 1, -1);
			continue;
		}
		u->tx_fd = -1;
	}
}

uint8_t uart_read(struct uart *u, unsigned off)
{
	uint8_t v = 0;
	switch (off & 7) {
	case UART_RX:
		if (u->lcr & UART_LCR_DLAB)
			return u->dll;
		if (u->rx_count) {
			v = u->rbr = u->rx[u->rx_head];
			u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
			if (--u->rx_count == 0)
				u->lsr &= (uint8_t)~UART_LSR_DR;
		} else {
			v = u->rbr;             /* RBR keeps the last character */
		}
		break;
	case UART_IER:
		return (u->lcr & UART_LCR_DLAB) ? u->dlm : u->ier;
	case UART_IIR:
		v = uart_iir_id(u);
		/* Reading IIR acknowledges a THRE interrupt it reports (and only then). */
		if (v == UART_IIR_THRI)
			u->thr_pending = false;
		if (uart_fifo_on(u))
			v |= UART_IIR_FIFO;
		break;
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		v = u->lsr;
		u->lsr &= (uint8_t)~UART_LSR_ERRORS;
		break;
	case UART_MSR:
		v = u->msr;
		u->msr &= (uint8_t)~UART_MSR_DELTA;
		break;
	case UART_SCR:
		return u->scr;
	}
	uart_update_irq(u);
	return v;
}

void uart_write(struct uart *u, unsigned off, uint8_t val)
{
	switch (off & 7) {
	case UART_TX:
		if (u->lcr & UART_LCR_DLAB) {
			u->dll = val;
			return;
		}
		u->thr_pending = false;
		uart_update_irq(u);
		if (u->mcr & UART_MCR_LOOP)
			uart_rx_push(u, val);
		else
			uart_tx(u, val);
		/* The byte left at once: THR is empty again. */
		u->lsr |= UART_LSR_THRE | UART_LSR_TEMT;
		u->thr_pending = true;
		break;
	case UART_IER:
		if (u->lcr & UART_LCR_DLAB) {
			u->dlm = val;
			return;
		}
		/* Enabling ETBEI while THR is empty raises THRE at once; Linux's
		 * start_tx and its UART_BUG_THRE/TXEN probes rely on it. */
		if ((val & UART_IER_THRI) && !(u->ier & UART_IER_THRI) &&
		    (u->lsr & UART_LSR_THRE))
			u->thr_pending = true;
		u->ier = val & 0x0f;
		break;
	case UART_FCR:
		/* The other FCR bits only program with bit 0 set; toggling the
		 * enable bit empties both FIFOs. TX is always empty here. */
		if ((val ^ u->fcr) & UART_FCR_ENABLE)
			uart_rx_clear(u);
		if (!(val & UART_FCR_ENABLE)) {
			u->fcr = 0;
			break;
		}
		if (val & UART_FCR_CLR_RX)
			uart_rx_clear(u);
		u->fcr = val & (UART_FCR_TRIG | 0x08 | UART_FCR_ENABLE);
		break;
	case UART_LCR:
		u->lcr = val;
		return;
	case UART_MCR:
		u->mcr = val & 0x1f;
		uart_update_msr(u);
		break;
	case UART_LSR:
	case UART_MSR:
		return;                 /* factory test writes: ignored */
	case UART_SCR:
		u->scr = val;
		return;
	}
	uart_update_irq(u);
}

/* ------------------------------------------------------------------------
 * COM1 on the vm, and the console reader. */

struct uart_dev {
	struct uart uart;
	struct vm *vm;
	int out_fd;
	bool out_owned;
	/* console reader */
	bool reading;
	pthread_t thread;
	int in_fd;
	bool interactive;
	bool escape;                    /* Ctrl-A seen, waiting for the command */
	bool quit;
	int wake[2];                    /* written by uart_input_stop() */
};

struct uart *uart_com1(struct vm *vm)
{
	struct uart_dev *d = vm->devices[DEV_UART0];
	return d ? &d->uart : NULL;
}

static void uart_pio(void *opaque, uint64_t off, unsigned size, bool is_write, uint8_t *data)
{
	struct uart_dev *d = opaque;
	/* A wider access reaches consecutive 8-bit registers, as the ISA bus
	 * splits it; bytes past the last register float high. */
	for (unsigned i = 0; i < size; i++) {
		if (off + i >= 8) {
			if (!is_write)
				data[i] = 0xff;
			continue;
		}
		if (is_write)
			uart_write(&d->uart, (unsigned)off + i, data[i]);
		else
			data[i] = uart_read(&d->uart, (unsigned)off + i);
	}
}

/* Terminal state, process-wide because the terminal is. Restored by the
 * reader's stop, at exit, and from fatal signals (tcsetattr is
 * async-signal-safe), so a dying vmlite never leaves the shell in raw mode. */
static struct termios tty_saved;
static volatile sig_atomic_t tty_raw;

static void tty_restore(void)
{
	if (tty_raw) {
		tcsetattr(STDIN_FILENO, TCSANOW, &tty_saved);
		tty_raw = 0;
	}
}

static void tty_signal(int sig)
{
	tty_restore();
	raise(sig);     /* SA_RESETHAND restored the default action: die as intended */
}

static void tty_catch_signals(void)
{
	/* SIGINT/SIGTERM/SIGHUP are taken over by vm_run() (blocked and
	 * waited for) once the VM runs; until then they kill the process, so
	 * they restore the terminal first. Handlers someone else installed
	 * (e.g. a translator's SIGSEGV) are left alone. */
	static const int sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGABRT,
				    SIGSEGV, SIGBUS, SIGFPE, SIGILL };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction old;
		if (sigaction(sigs[i], NULL, &old) < 0 || old.sa_handler != SIG_DFL ||
		    (old.sa_flags & SA_SIGINFO))
			continue;
		struct sigaction sa = { .sa_handler = tty_signal, .sa_flags = SA_RESETHAND };
		sigemptyset(&sa.sa_mask);
		sigaction(sigs[i], &sa, NULL);
	}
}

/* Raw input (every key goes to the guest, Ctrl-C included), output left
 * cooked so vmlite's own messages still print normally. */
static int tty_make_raw(void)
{
	static bool atexit_done;
	struct termios t;
	if (tcgetattr(STDIN_FILENO, &tty_saved) < 0)
		return err_set("stdin terminal: %s", strerror(errno));
	t = tty_saved;
	t.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
	t.c_cflag |= CS8;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (!atexit_done) {
		atexit(tty_restore);
		atexit_done = true;
	}
	tty_catch_signals();
	tty_raw = 1;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t) < 0) {
		tty_raw = 0;
		return err_set("cannot put the terminal in raw mode: %s (use --serial none or redirect stdin)",
			       strerror(errno));
	}
	return 0;
}

#define CTRL_A 0x01

/* Interactive escapes: Ctrl-A x quits, Ctrl-A Ctrl-A is a literal Ctrl-A,
 * Ctrl-A h prints help. Filters buf in place; returns the bytes to send. */
static size_t uart_escapes(struct uart_dev *d, uint8_t *buf, size_t n)
{
	size_t out = 0;
	for (size_t i = 0; i < n && !d->quit; i++) {
		uint8_t c = buf[i];
		if (!d->escape) {
			if (c == CTRL_A)
				d->escape = true;
			else
				buf[out++] = c;
			continue;
		}
		d->escape = false;
		switch (c) {
		case 'x':
		case 'X':
			/* A user's deliberate quit is a clean stop, like poweroff:
			 * status 0, reason STOP_POWEROFF. */
			d->quit = true;
			if (d->in_fd == STDIN_FILENO && isatty(STDIN_FILENO))
				fprintf(stderr, "\nvmlite: terminated by Ctrl-A x\n");
			vm_request_stop(d->vm, STOP_POWEROFF, VMLITE_EXIT_POWEROFF);
			break;
		case CTRL_A:
			buf[out++] = c;
			break;
		case 'h':
		case 'H':
			fprintf(stderr, "\nvmlite console: Ctrl-A x quit, Ctrl-A Ctrl-A send Ctrl-A, Ctrl-A h this help\n");
			break;
		default:
			break;          /* unknown command: both keys are swallowed */
		}
	}
	return out;
}

/* Waits for input or a stop request; returns true to go on. */
static bool uart_input_wait(struct uart_dev *d, bool want_input, int timeout_ms)
{
	struct pollfd p[2] = {
		{ .fd = d->wake[0], .events = POLLIN },
		{ .fd = d->in_fd, .events = POLLIN },
	};
	int r = poll(p, want_input ? 2 : 1, timeout_ms);
	if (r < 0)
		return errno == EINTR;
	return !(p[0].revents & POLLIN);
}

/* Bytes are handed over only as the RX FIFO has room, so piped input is
 * never lost to overruns however fast it arrives; the wait for the guest
 * to drain the FIFO is a short poll. */
static void *uart_input_thread(void *arg)
{
	struct uart_dev *d = arg;
	struct vm *vm = d->vm;
	uint8_t buf[512];
	size_t len = 0, pos = 0;

	while (!d->quit) {
		if (pos == len) {
			if (!uart_input_wait(d, true, -1))
				break;
			ssize_t r = read(d->in_fd, buf, sizeof(buf));
			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r <= 0)
				break;          /* EOF or a dead terminal: nothing more to read */
			len = d->interactive ? uart_escapes(d, buf, (size_t)r) : (size_t)r;
			pos = 0;
			continue;
		}
		pthread_mutex_lock(&vm->dev_lock);
		/* Once the VM stops, vCPUs (and what an irq would reach) go away. */
		bool stopping = vm_stopping(vm);
		if (!stopping) {
			size_t n = uart_rx_space(&d->uart);
			if (n > len - pos)
				n = len - pos;
			pos += uart_receive(&d->uart, buf + pos, n);
		}
		pthread_mutex_unlock(&vm->dev_lock);
		if (stopping)
			break;
		if (pos < len && !uart_input_wait(d, false, 2))
			break;
	}
	return NULL;
}

int uart_input_start(struct vm *vm, int fd, bool interactive)
{
	struct uart_dev *d = vm->devices[DEV_UART0];
	if (!d)
		return err_set("serial input: COM1 does not exist");
	if (d->reading)
		return err_set("serial input: already reading");
	if (pipe2(d->wake, O_CLOEXEC) < 0)
		return err_set("serial input: pipe: %s", strerror(errno));
	d->in_fd = fd;
	d->interactive = interactive;
	d->escape = d->quit = false;
	/* The reader takes no signals: stop signals belong to vm_run(), and a
	 * thread created before it blocks them would otherwise catch them. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&d->thread, NULL, uart_input_thread, d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		close(d->wake[0]);
		close(d->wake[1]);
		return err_set("serial input: cannot start the reader thread: %s", strerror(rc));
	}
	d->reading = true;
	return 0;
}

void uart_input_stop(struct vm *vm)
{
	struct uart_dev *d = vm->devices[DEV_UART0];
	if (d && d->reading) {
		ssize_t r;
		do
			r = write(d->wake[1], "", 1);
		while (r < 0 && errno == EINTR);
		pthread_join(d->thread, NULL);
		close(d->wake[0]);
		close(d->wake[1]);
		d->reading = false;
	}
	tty_restore();
}

/* stdin feeds COM1 when --serial stdio. A terminal is read raw with the
 * Ctrl-A escapes, but not by a background job of it: that would be stopped by
 * SIGTTIN/SIGTTOU, so it gets no input instead. Input that arrives before the
 * guest's driver sets the UART up is lost when the driver resets the FIFO,
 * as on hardware: feed a guest after it prompts. */
static int uart_stdin_start(struct vm *vm)
{
	if (fcntl(STDIN_FILENO, F_GETFD) < 0)
		return 0;               /* stdin closed */
	if (!isatty(STDIN_FILENO))
		return uart_input_start(vm, STDIN_FILENO, false);
	pid_t fg = tcgetpgrp(STDIN_FILENO);
	if (fg >= 0 && fg != getpgrp())
		return 0;               /* a background job of this terminal */
	if (tty_make_raw() < 0)
		return -1;
	if (uart_input_start(vm, STDIN_FILENO, true) < 0) {
		tty_restore();
		return -1;
	}
	return 0;
}

static void uart_dev_destroy(struct vm *vm)
{
	struct uart_dev *d = vm->devices[DEV_UART0];
	if (!d)
		return;
	uart_input_stop(vm);
	if (d->out_owned)
		close(d->out_fd);
	free(d);
	vm->devices[DEV_UART0] = NULL;
}

static int uart_dev_init(struct vm *vm)
{
	struct uart_dev *d = calloc(1, sizeof(*d));
	if (!d)
		return err_set("out of memory");
	d->vm = vm;
	d->out_fd = -1;
	switch (vm->cfg->serial) {
	case SERIAL_STDIO:
		d->out_fd = STDOUT_FILENO;
		break;
	case SERIAL_FILE:
		d->out_fd = open(vm->cfg->serial_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (d->out_fd < 0) {
			err_set("--serial file:%s: cannot open for writing: %s (check the directory exists and is writable)",
				vm->cfg->serial_path, strerror(errno));
			free(d);
			return -1;
		}
		d->out_owned = true;
		break;
	case SERIAL_NONE:
		break;
	}
	uart_init(&d->uart, d->out_fd);
	d->uart.tap = console_log_put;
	d->uart.tap_opaque = &vm->console;
	vm->devices[DEV_UART0] = d;
	if (bus_register(&vm->pio, UART_COM1_BASE, 8, uart_pio, d, "com1") < 0 ||
	    (vm->cfg->serial == SERIAL_STDIO && uart_stdin_start(vm) < 0)) {
		uart_dev_destroy(vm);
		return -1;
	}
	return 0;
}

static const struct device_ops uart_ops = {
	.name = "com1",
	.order = 20,    /* before the interrupt controllers, which attach to it */
	.init = uart_dev_init,
	.destroy = uart_dev_destroy,
};
DEVICE_REGISTER(uart_ops)
