/* The foundation devices as a guest sees them: a whole vm (null engine, every
 * registered device) driven through its port I/O bus, the way a vCPU exit is. */
#include <fcntl.h>
#include <pty.h>
#include <termios.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/i8042.h"
#include "devices/uart16550.h"
#include "error.h"
#include "null_engine.h"
#include "unit.h"

static void outp(struct vm *vm, uint16_t port, unsigned size, uint32_t v)
{
	uint8_t d[4];
	memcpy(d, &v, 4);
	pthread_mutex_lock(&vm->dev_lock);
	bus_access(&vm->pio, port, size, true, d);
	pthread_mutex_unlock(&vm->dev_lock);
}

static uint32_t inp(struct vm *vm, uint16_t port, unsigned size)
{
	uint8_t d[4] = { 0 };
	pthread_mutex_lock(&vm->dev_lock);
	bus_access(&vm->pio, port, size, false, d);
	pthread_mutex_unlock(&vm->dev_lock);
	uint32_t v = 0;
	memcpy(&v, d, size);
	return v;
}

/* Exit status of a VM whose guest wrote v to the debug-exit port. */
static int debug_exit_status(uint16_t port, unsigned size, uint32_t v, int *reason)
{
	struct vm vm;
	struct vm_config cfg;
	if (null_vm_create_default(&vm, &cfg) < 0)
		return -1;
	outp(&vm, port, size, v);
	*reason = atomic_load(&vm.stop_reason);
	int status = vm_stopping(&vm) ? vm.exit_status : -1;
	vm_destroy(&vm);
	return status;
}

static void test_debug_exit(void)
{
	int why = STOP_NONE;
	CU_ASSERT_EQUAL(debug_exit_status(0xf4, 1, 0, &why), 1);
	CU_ASSERT_EQUAL(why, STOP_DEBUG_EXIT);
	CU_ASSERT_EQUAL(debug_exit_status(0xf4, 1, 0x2a, &why), 85);
	CU_ASSERT_EQUAL(debug_exit_status(0xf4, 2, 0x0031, &why), 99);
	CU_ASSERT_EQUAL(debug_exit_status(0xf4, 4, 0x7f, &why), 255);
	/* Eight bits of status: v=128 wraps to 1, a 4-byte 0x12345678 to 0xf1. */
	CU_ASSERT_EQUAL(debug_exit_status(0xf4, 1, 0x80, &why), 1);
	CU_ASSERT_EQUAL(debug_exit_status(0xf4, 4, 0x12345678, &why), 0xf1);
	CU_ASSERT_EQUAL(why, STOP_DEBUG_EXIT);

	struct vm vm;
	struct vm_config cfg;
	CU_ASSERT_FATAL(null_vm_create_default(&vm, &cfg) == 0);
	CU_ASSERT_EQUAL(inp(&vm, 0xf4, 1), 0xff);
	CU_ASSERT_FALSE(vm_stopping(&vm));      /* reads do not stop the VM */
	outp(&vm, 0xf4, 1, 3);
	outp(&vm, 0xf4, 1, 5);                  /* the first request wins */
	CU_ASSERT_EQUAL(vm.exit_status, 7);
	vm_destroy(&vm);
}

static void test_post(void)
{
	struct vm vm;
	struct vm_config cfg;
	CU_ASSERT_FATAL(null_vm_create_default(&vm, &cfg) == 0);
	outp(&vm, 0x80, 1, 0x42);
	CU_ASSERT_EQUAL(inp(&vm, 0x80, 1), 0x42);
	outp(&vm, 0x80, 1, 0xa5);
	CU_ASSERT_EQUAL(inp(&vm, 0x80, 1), 0xa5);
	CU_ASSERT_EQUAL(inp(&vm, 0x80, 1), 0xa5);
	CU_ASSERT_FALSE(vm_stopping(&vm));
	CU_ASSERT_EQUAL(vm.pio.unhandled, 0);
	vm_destroy(&vm);
}

#define I8042_STATUS    0x64
#define I8042_DATA      0x60

/* i8042_command() as Linux does it: wait for IBF clear, send, collect the
 * answer bytes; -1 on the timeout Linux would hit (nothing in the buffer). */
static int kbc_command(struct vm *vm, uint8_t cmd, const uint8_t *args, int nargs,
		       uint8_t *resp, int nresp, bool *aux)
{
	if (inp(vm, I8042_STATUS, 1) & 0x02)
		return -1;
	outp(vm, I8042_STATUS, 1, cmd);
	for (int i = 0; i < nargs; i++)
		outp(vm, I8042_DATA, 1, args[i]);
	for (int i = 0; i < nresp; i++) {
		uint8_t st = (uint8_t)inp(vm, I8042_STATUS, 1);
		if (!(st & 0x01))
			return -1;
		if (aux)
			*aux = st & 0x20;
		resp[i] = (uint8_t)inp(vm, I8042_DATA, 1);
	}
	return 0;
}

static void test_i8042_probe(void)
{
	struct vm vm;
	struct vm_config cfg;
	CU_ASSERT_FATAL(null_vm_create_default(&vm, &cfg) == 0);
	uint8_t st = (uint8_t)inp(&vm, I8042_STATUS, 1);
	CU_ASSERT_NOT_EQUAL(st, 0xff);          /* Linux: "No controller found" */
	CU_ASSERT_TRUE(st & 0x04);              /* system flag */
	CU_ASSERT_FALSE(st & 0x03);             /* nothing to read, ready for input */
	uint8_t r[3];
	CU_ASSERT_EQUAL(kbc_command(&vm, 0xaa, NULL, 0, r, 1, NULL), 0);
	CU_ASSERT_EQUAL(r[0], 0x55);
	CU_ASSERT_FALSE(inp(&vm, I8042_STATUS, 1) & 0x01);
	/* CTR: read twice (Linux wants a stable value), change, read back. */
	uint8_t ctr, ctr2;
	CU_ASSERT_EQUAL(kbc_command(&vm, 0x20, NULL, 0, &ctr, 1, NULL), 0);
	CU_ASSERT_EQUAL(kbc_command(&vm, 0x20, NULL, 0, &ctr2, 1, NULL), 0);
	CU_ASSERT_EQUAL(ctr, ctr2);
	CU_ASSERT_TRUE(ctr & 0x04);
	uint8_t newctr = (uint8_t)((ctr | 0x10) & ~0x01);
	CU_ASSERT_EQUAL(kbc_command(&vm, 0x60, &newctr, 1, NULL, 0, NULL), 0);
	CU_ASSERT_EQUAL(kbc_command(&vm, 0x20, NULL, 0, &ctr2, 1, NULL), 0);
	CU_ASSERT_EQUAL(ctr2, newctr);
	CU_ASSERT_EQUAL(kbc_command(&vm, 0xab, NULL, 0, r, 1, NULL), 0);
	CU_ASSERT_EQUAL(r[0], 0x00);
	/* No AUX port, and Linux learns it without a timeout. */
	bool aux = true;
	uint8_t loop = 0x5a;
	CU_ASSERT_EQUAL(kbc_command(&vm, 0xd3, &loop, 1, r, 1, &aux), 0);
	CU_ASSERT_FALSE(aux);
	CU_ASSERT_EQUAL(kbc_command(&vm, 0xa9, NULL, 0, r, 1, NULL), 0);
	CU_ASSERT_TRUE(r[0] != 0 && r[0] != 0xfa && r[0] != 0xff);
	/* Keyboard enable/disable lands in the CTR. */
	CU_ASSERT_EQUAL(kbc_command(&vm, 0xae, NULL, 0, NULL, 0, NULL), 0);
	CU_ASSERT_EQUAL(kbc_command(&vm, 0x20, NULL, 0, &ctr2, 1, NULL), 0);
	CU_ASSERT_FALSE(ctr2 & 0x10);
	CU_ASSERT_EQUAL(kbc_command(&vm, 0xad, NULL, 0, NULL, 0, NULL), 0);
	CU_ASSERT_EQUAL(kbc_command(&vm, 0x20, NULL, 0, &ctr2, 1, NULL), 0);
	CU_ASSERT_TRUE(ctr2 & 0x10);
	/* The keyboard behind it answers atkbd's identify. */
	outp(&vm, I8042_DATA, 1, 0xf2);
	for (int i = 0; i < 3; i++) {
		CU_ASSERT_TRUE(inp(&vm, I8042_STATUS, 1) & 0x01);
		r[i] = (uint8_t)inp(&vm, I8042_DATA, 1);
	}
	CU_ASSERT_EQUAL(r[0], 0xfa);
	CU_ASSERT_EQUAL(r[1], 0xab);
	/* Output port and A20, without resetting (bit 0 kept set). */
	uint8_t op = 0x01;
	CU_ASSERT_EQUAL(kbc_command(&vm, 0xd1, &op, 1, NULL, 0, NULL), 0);
	CU_ASSERT_FALSE(i8042_a20(&vm));
	CU_ASSERT_EQUAL(kbc_command(&vm, 0xd0, NULL, 0, r, 1, NULL), 0);
	CU_ASSERT_EQUAL(r[0], 0x01);
	op = 0x03;
	CU_ASSERT_EQUAL(kbc_command(&vm, 0xd1, &op, 1, NULL, 0, NULL), 0);
	CU_ASSERT_TRUE(i8042_a20(&vm));
	CU_ASSERT_FALSE(vm_stopping(&vm));
	vm_destroy(&vm);
}

static int i8042_reset_status(uint8_t cmd, int data, int *reason)
{
	struct vm vm;
	struct vm_config cfg;
	if (null_vm_create_default(&vm, &cfg) < 0)
		return -1;
	outp(&vm, I8042_STATUS, 1, cmd);
	if (data >= 0)
		outp(&vm, I8042_DATA, 1, (uint32_t)data);
	*reason = atomic_load(&vm.stop_reason);
	int status = vm_stopping(&vm) ? vm.exit_status : -1;
	vm_destroy(&vm);
	return status;
}

static void test_i8042_reset(void)
{
	int why = STOP_NONE;
	CU_ASSERT_EQUAL(i8042_reset_status(0xfe, -1, &why), VMLITE_EXIT_RESET);
	CU_ASSERT_EQUAL(why, STOP_RESET);
	why = STOP_NONE;
	CU_ASSERT_EQUAL(i8042_reset_status(0xd1, 0x02, &why), VMLITE_EXIT_RESET);
	CU_ASSERT_EQUAL(why, STOP_RESET);
	/* 0xff pulses nothing; 0xaa is no reset either. */
	CU_ASSERT_EQUAL(i8042_reset_status(0xff, -1, &why), -1);
	CU_ASSERT_EQUAL(i8042_reset_status(0xaa, -1, &why), -1);
	CU_ASSERT_EQUAL(why, STOP_NONE);
}

static void test_com1_bus(void)
{
	char path[] = "/tmp/vmlite-com1-XXXXXX";
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	struct vm vm;
	struct vm_config cfg;
	config_defaults(&cfg);
	cfg.mem_size = 16ull << 20;
	cfg.serial = SERIAL_FILE;
	cfg.serial_path = path;
	CU_ASSERT_FATAL(vm_create(&vm, &cfg, &engine_null) == 0);
	CU_ASSERT_PTR_NOT_NULL(uart_com1(&vm));
	CU_ASSERT_EQUAL(inp(&vm, 0x3fd, 1), 0x60);
	for (const char *s = "hi\n"; *s; s++)
		outp(&vm, 0x3f8, 1, (uint8_t)*s);
	/* A 16-bit access reaches two registers: LSR and MSR. */
	uint32_t w = inp(&vm, 0x3fd, 2);
	CU_ASSERT_EQUAL(w & 0xff, 0x60);
	CU_ASSERT_EQUAL(w >> 8, 0xb0);
	vm_destroy(&vm);
	char buf[16] = { 0 };
	fd = open(path, O_RDONLY);
	CU_ASSERT_EQUAL(read(fd, buf, sizeof(buf)), 3);
	CU_ASSERT_STRING_EQUAL(buf, "hi\n");
	close(fd);
	unlink(path);

	/* An unwritable file fails VM creation with a message naming the fix. */
	cfg.serial_path = "/nonexistent-dir/serial.log";
	CU_ASSERT_EQUAL(vm_create(&vm, &cfg, &engine_null), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_msg(), "/nonexistent-dir/serial.log"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err_msg(), "writable"));
}

/* Reads n bytes as a polling guest driver would; gives up after ~2 s. */
static size_t guest_read(struct vm *vm, uint8_t *buf, size_t n)
{
	size_t got = 0;
	for (int idle = 0; got < n && idle < 20000; idle++) {
		uint32_t lsr = inp(vm, 0x3fd, 1);
		CU_ASSERT_FALSE(lsr & UART_LSR_OE);
		if (lsr & UART_LSR_DR) {
			buf[got++] = (uint8_t)inp(vm, 0x3f8, 1);
			idle = 0;
		} else {
			usleep(100);
		}
	}
	return got;
}

static void test_com1_input_pipe(void)
{
	struct vm vm;
	struct vm_config cfg;
	CU_ASSERT_FATAL(null_vm_create_default(&vm, &cfg) == 0);
	outp(&vm, 0x3fa, 1, 0x07);              /* FIFOs on */
	int p[2];
	CU_ASSERT_FATAL(pipe(p) == 0);
	CU_ASSERT_FATAL(uart_input_start(&vm, p[0], false) == 0);
	CU_ASSERT_EQUAL(uart_input_start(&vm, p[0], false), -1);
	/* Far more than the FIFO holds: flow control, not overruns. */
	uint8_t msg[200], got[200];
	for (unsigned i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7 + 1);
	msg[5] = 0x01;                          /* Ctrl-A is plain data from a pipe */
	msg[6] = 'x';
	CU_ASSERT_EQUAL(write(p[1], msg, sizeof(msg)), (ssize_t)sizeof(msg));
	close(p[1]);                            /* EOF ends the reader */
	CU_ASSERT_EQUAL(guest_read(&vm, got, sizeof(got)), sizeof(got));
	CU_ASSERT_EQUAL(memcmp(got, msg, sizeof(msg)), 0);
	CU_ASSERT_EQUAL(uart_com1(&vm)->rx_overruns, 0);
	CU_ASSERT_FALSE(vm_stopping(&vm));
	uart_input_stop(&vm);
	close(p[0]);
	vm_destroy(&vm);
}

static void test_com1_escapes(void)
{
	struct vm vm;
	struct vm_config cfg;
	CU_ASSERT_FATAL(null_vm_create_default(&vm, &cfg) == 0);
	int p[2];
	CU_ASSERT_FATAL(pipe(p) == 0);
	CU_ASSERT_FATAL(uart_input_start(&vm, p[0], true) == 0);
	const char *keys = "ab\x01\x01" "c\x01zd";  /* Ctrl-A Ctrl-A, unknown Ctrl-A z */
	CU_ASSERT_EQUAL(write(p[1], keys, strlen(keys)), (ssize_t)strlen(keys));
	uint8_t got[5] = { 0 };
	CU_ASSERT_EQUAL(guest_read(&vm, got, 5), 5);
	CU_ASSERT_EQUAL(memcmp(got, "ab\x01" "cd", 5), 0);
	CU_ASSERT_FALSE(vm_stopping(&vm));
	CU_ASSERT_EQUAL(write(p[1], "\x01x", 2), 2);
	for (int i = 0; i < 2000 && !vm_stopping(&vm); i++)
		usleep(1000);
	CU_ASSERT_TRUE(vm_stopping(&vm));
	uart_input_stop(&vm);                   /* joined: its writes are visible */
	CU_ASSERT_EQUAL(atomic_load(&vm.stop_reason), STOP_POWEROFF);
	CU_ASSERT_EQUAL(vm.exit_status, VMLITE_EXIT_POWEROFF);
	vm_destroy(&vm);
	close(p[0]);
	close(p[1]);
}

/* Field by field: the struct has padding that tcgetattr() leaves alone. */
static bool termios_same(const struct termios *a, const struct termios *b)
{
	return a->c_iflag == b->c_iflag && a->c_oflag == b->c_oflag &&
	       a->c_cflag == b->c_cflag && a->c_lflag == b->c_lflag &&
	       !memcmp(a->c_cc, b->c_cc, sizeof(a->c_cc)) &&
	       cfgetispeed(a) == cfgetispeed(b) && cfgetospeed(a) == cfgetospeed(b);
}

/* --serial stdio on a terminal: raw while the VM exists (keys such as Ctrl-C
 * reach the guest), the Ctrl-A escapes work, and destroying the VM puts the
 * terminal back exactly as it was. The pty stands in for the user's tty. */
static void test_com1_stdio_tty(void)
{
	int master, slave;
	CU_ASSERT_FATAL(openpty(&master, &slave, NULL, NULL, NULL) == 0);
	struct termios before, during, after;
	CU_ASSERT_FATAL(tcgetattr(slave, &before) == 0);
	CU_ASSERT_TRUE(before.c_lflag & ICANON);
	int saved_stdin = dup(STDIN_FILENO);
	CU_ASSERT_FATAL(saved_stdin >= 0 && dup2(slave, STDIN_FILENO) == STDIN_FILENO);

	struct vm vm;
	struct vm_config cfg;
	config_defaults(&cfg);
	cfg.mem_size = 16ull << 20;
	cfg.serial = SERIAL_STDIO;
	int rc = vm_create(&vm, &cfg, &engine_null);
	CU_ASSERT_EQUAL(rc, 0);
	if (rc == 0) {
		CU_ASSERT_EQUAL(tcgetattr(slave, &during), 0);
		CU_ASSERT_FALSE(during.c_lflag & (ICANON | ECHO | ISIG));
		CU_ASSERT_FALSE(during.c_iflag & (ICRNL | IXON));
		CU_ASSERT_TRUE(during.c_oflag & OPOST);         /* output stays cooked */
		outp(&vm, 0x3fa, 1, 0x07);
		CU_ASSERT_EQUAL(write(master, "q\x03\r", 3), 3);
		uint8_t got[3] = { 0 };
		CU_ASSERT_EQUAL(guest_read(&vm, got, 3), 3);
		CU_ASSERT_EQUAL(memcmp(got, "q\x03\r", 3), 0);  /* no ICRNL, no SIGINT */
		CU_ASSERT_EQUAL(write(master, "\x01x", 2), 2);
		for (int i = 0; i < 2000 && !vm_stopping(&vm); i++)
			usleep(1000);
		CU_ASSERT_EQUAL(atomic_load(&vm.stop_reason), STOP_POWEROFF);
		vm_destroy(&vm);
	}
	CU_ASSERT_EQUAL(tcgetattr(slave, &after), 0);
	CU_ASSERT_TRUE(termios_same(&after, &before));
	dup2(saved_stdin, STDIN_FILENO);
	close(saved_stdin);
	close(slave);
	close(master);
}

UNIT_SUITE(devices,
	UNIT_CASE(test_debug_exit),
	UNIT_CASE(test_post),
	UNIT_CASE(test_i8042_probe),
	UNIT_CASE(test_i8042_reset),
	UNIT_CASE(test_com1_bus),
	UNIT_CASE(test_com1_input_pipe),
	UNIT_CASE(test_com1_escapes),
	UNIT_CASE(test_com1_stdio_tty))
