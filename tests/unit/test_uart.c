/* The 16550A register model on its own, no vm: what Linux's 8250 driver
 * (and anything else) can observe through the eight registers. */
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "devices/uart16550.h"
#include "unit.h"

static uint8_t in(struct uart *u, unsigned off)
{
	return uart_read(u, off);
}

static void out(struct uart *u, unsigned off, uint8_t v)
{
	uart_write(u, off, v);
}

static void test_uart_dlab(void)
{
	struct uart u;
	uart_init(&u, -1);
	out(&u, UART_IER, 0x05);
	out(&u, UART_LCR, UART_LCR_DLAB | 0x03);
	out(&u, UART_DLL, 0x01);
	out(&u, UART_DLM, 0x02);
	CU_ASSERT_EQUAL(in(&u, UART_DLL), 0x01);
	CU_ASSERT_EQUAL(in(&u, UART_DLM), 0x02);
	CU_ASSERT_EQUAL(u.tx_bytes, 0);         /* the DLL write sent nothing */
	out(&u, UART_LCR, 0x03);
	CU_ASSERT_EQUAL(in(&u, UART_IER), 0x05);  /* offset 1 is IER again */
	CU_ASSERT_EQUAL(in(&u, UART_LCR), 0x03);
	CU_ASSERT_FALSE(in(&u, UART_LSR) & UART_LSR_DR);
	out(&u, UART_LCR, UART_LCR_DLAB);
	CU_ASSERT_EQUAL(in(&u, UART_DLL), 0x01);  /* latch survived */
	CU_ASSERT_EQUAL(in(&u, UART_DLM), 0x02);
	/* DLAB does not hide IIR/FCR, LSR or SCR. */
	CU_ASSERT_EQUAL(in(&u, UART_IIR), UART_IIR_NO_INT);
	CU_ASSERT_EQUAL(in(&u, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
}

static void test_uart_scratch_ier(void)
{
	struct uart u;
	uart_init(&u, -1);
	for (unsigned v = 0; v < 256; v += 0x55) {
		out(&u, UART_SCR, (uint8_t)v);
		CU_ASSERT_EQUAL(in(&u, UART_SCR), v);
	}
	out(&u, UART_IER, 0xff);
	CU_ASSERT_EQUAL(in(&u, UART_IER), 0x0f);
	out(&u, UART_IER, 0x40);
	CU_ASSERT_EQUAL(in(&u, UART_IER), 0x00);
}

static void test_uart_fifo_iir(void)
{
	struct uart u;
	uart_init(&u, -1);
	CU_ASSERT_EQUAL(in(&u, UART_IIR), UART_IIR_NO_INT);     /* 8250 mode at reset */
	out(&u, UART_FCR, 0xe7);
	CU_ASSERT_EQUAL(in(&u, UART_IIR), UART_IIR_FIFO | UART_IIR_NO_INT);
	CU_ASSERT_EQUAL(in(&u, UART_IIR) >> 6, 3);             /* "16550A" */
	/* Bits other than enable do not program without bit 0. */
	out(&u, UART_FCR, 0xc0);
	CU_ASSERT_EQUAL(in(&u, UART_IIR), UART_IIR_NO_INT);
	out(&u, UART_FCR, 0x01);
	CU_ASSERT_EQUAL(in(&u, UART_IIR) & 0xf0, UART_IIR_FIFO);  /* bits 4-5 stay 0 */
}

static void test_uart_loopback(void)
{
	int p[2];
	CU_ASSERT_FATAL(pipe2(p, O_NONBLOCK) == 0);
	struct uart u;
	uart_init(&u, p[1]);
	CU_ASSERT_EQUAL(in(&u, UART_MSR) & 0xf0, UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
	static const struct { uint8_t mcr, msr; } map[] = {
		{ UART_MCR_RTS, UART_MSR_CTS }, { UART_MCR_DTR, UART_MSR_DSR },
		{ UART_MCR_OUT1, UART_MSR_RI }, { UART_MCR_OUT2, UART_MSR_DCD },
		{ 0x0f, 0xf0 }, { 0, 0 },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		out(&u, UART_MCR, UART_MCR_LOOP | map[i].mcr);
		CU_ASSERT_EQUAL(in(&u, UART_MSR) & 0xf0, map[i].msr);
	}
	/* Deltas: raise RTS, then drop OUT1 for the trailing-edge RI bit. */
	in(&u, UART_MSR);
	out(&u, UART_MCR, UART_MCR_LOOP | UART_MCR_RTS | UART_MCR_OUT1);
	CU_ASSERT_EQUAL(in(&u, UART_MSR), UART_MSR_CTS | UART_MSR_RI | UART_MSR_DCTS);
	CU_ASSERT_EQUAL(in(&u, UART_MSR), UART_MSR_CTS | UART_MSR_RI);   /* read cleared them */
	out(&u, UART_MCR, UART_MCR_LOOP | UART_MCR_RTS);
	CU_ASSERT_EQUAL(in(&u, UART_MSR), UART_MSR_CTS | UART_MSR_TERI);
	/* THR data loops back to RBR and does not reach the wire. */
	out(&u, UART_TX, 0x42);
	CU_ASSERT_TRUE(in(&u, UART_LSR) & UART_LSR_DR);
	CU_ASSERT_EQUAL(in(&u, UART_RX), 0x42);
	CU_ASSERT_FALSE(in(&u, UART_LSR) & UART_LSR_DR);
	char c;
	CU_ASSERT_EQUAL(read(p[0], &c, 1), -1);
	/* The host side is disconnected in loopback. */
	CU_ASSERT_EQUAL(uart_rx_space(&u), 0);
	CU_ASSERT_EQUAL(uart_receive(&u, (const uint8_t *)"z", 1), 0);
	CU_ASSERT_FALSE(in(&u, UART_LSR) & UART_LSR_DR);
	/* Leaving loopback: the host's lines come back, with deltas. */
	out(&u, UART_MCR, 0);
	CU_ASSERT_EQUAL(in(&u, UART_MSR), UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS |
			UART_MSR_DDSR | UART_MSR_DDCD);
	out(&u, UART_TX, 'k');
	CU_ASSERT_EQUAL(read(p[0], &c, 1), 1);
	CU_ASSERT_EQUAL(c, 'k');
	close(p[0]);
	close(p[1]);
}

static void test_uart_lsr(void)
{
	struct uart u;
	uart_init(&u, -1);
	CU_ASSERT_EQUAL(in(&u, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	out(&u, UART_TX, 'a');
	/* The transmitter is instantaneous: empty again at once. */
	CU_ASSERT_EQUAL(in(&u, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	CU_ASSERT_EQUAL(u.tx_bytes, 1);
	CU_ASSERT_EQUAL(uart_receive(&u, (const uint8_t *)"b", 1), 1);
	CU_ASSERT_EQUAL(in(&u, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT | UART_LSR_DR);
	CU_ASSERT_EQUAL(in(&u, UART_RX), 'b');
	CU_ASSERT_EQUAL(in(&u, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	CU_ASSERT_EQUAL(in(&u, UART_RX), 'b');  /* RBR holds the last byte */
	CU_ASSERT_EQUAL(in(&u, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
}

static void test_uart_rx_fifo(void)
{
	struct uart u;
	uart_init(&u, -1);
	out(&u, UART_FCR, 0x07);
	uint8_t data[UART_FIFO_SIZE + 1];
	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(0x30 + i);
	CU_ASSERT_EQUAL(uart_rx_space(&u), UART_FIFO_SIZE);
	CU_ASSERT_EQUAL(uart_receive(&u, data, 10), 10);
	CU_ASSERT_EQUAL(uart_rx_space(&u), UART_FIFO_SIZE - 10);
	CU_ASSERT_EQUAL(uart_receive(&u, data + 10, 7), 6);    /* the 17th overruns */
	CU_ASSERT_EQUAL(u.rx_overruns, 1);
	uint8_t lsr = in(&u, UART_LSR);
	CU_ASSERT_TRUE(lsr & UART_LSR_OE);
	CU_ASSERT_TRUE(lsr & UART_LSR_DR);
	CU_ASSERT_FALSE(in(&u, UART_LSR) & UART_LSR_OE);        /* LSR read cleared OE */
	for (unsigned i = 0; i < UART_FIFO_SIZE; i++)
		CU_ASSERT_EQUAL(in(&u, UART_RX), data[i]);
	CU_ASSERT_FALSE(in(&u, UART_LSR) & UART_LSR_DR);
	/* FCR bit 1 empties the receive FIFO. */
	uart_receive(&u, data, 3);
	out(&u, UART_FCR, UART_FCR_ENABLE | UART_FCR_CLR_RX);
	CU_ASSERT_FALSE(in(&u, UART_LSR) & UART_LSR_DR);
	/* Without FIFOs there is one byte, and a new one overwrites it. */
	out(&u, UART_FCR, 0);
	CU_ASSERT_EQUAL(uart_rx_space(&u), 1);
	CU_ASSERT_EQUAL(uart_receive(&u, (const uint8_t *)"xy", 2), 1);
	CU_ASSERT_TRUE(in(&u, UART_LSR) & UART_LSR_OE);
	CU_ASSERT_EQUAL(in(&u, UART_RX), 'y');
	CU_ASSERT_FALSE(in(&u, UART_LSR) & UART_LSR_DR);
}

static void test_uart_irq_priority(void)
{
	struct uart u;
	uart_init(&u, -1);
	CU_ASSERT_EQUAL(uart_irq_level(&u), 0);
	out(&u, UART_FCR, 0x01);                /* trigger level 1 */
	out(&u, UART_IER, 0x0f);                /* THRE pending: THR is empty */
	uint8_t two[2] = { 1, 2 };
	uart_receive(&u, two, 2);
	out(&u, UART_MCR, UART_MCR_LOOP);       /* modem status change */
	out(&u, UART_MCR, 0);
	/* Overrun: leave loopback first, which drops nothing already received. */
	uint8_t fill[UART_FIFO_SIZE];
	memset(fill, 9, sizeof(fill));
	uart_receive(&u, fill, sizeof(fill));
	CU_ASSERT_EQUAL(uart_irq_level(&u), 1);
	CU_ASSERT_EQUAL(in(&u, UART_IIR), UART_IIR_FIFO | UART_IIR_RLSI);
	CU_ASSERT_TRUE(in(&u, UART_LSR) & UART_LSR_OE);
	CU_ASSERT_EQUAL(in(&u, UART_IIR), UART_IIR_FIFO | UART_IIR_RDI);
	/* RDI being reported does not acknowledge the THRE interrupt. */
	while (in(&u, UART_LSR) & UART_LSR_DR)
		in(&u, UART_RX);
	CU_ASSERT_EQUAL(in(&u, UART_IIR), UART_IIR_FIFO | UART_IIR_THRI);
	/* ...but reporting THRE does. */
	CU_ASSERT_EQUAL(in(&u, UART_IIR), UART_IIR_FIFO | UART_IIR_MSI);
	CU_ASSERT_EQUAL(uart_irq_level(&u), 1);
	in(&u, UART_MSR);
	CU_ASSERT_EQUAL(in(&u, UART_IIR), UART_IIR_FIFO | UART_IIR_NO_INT);
	CU_ASSERT_EQUAL(uart_irq_level(&u), 0);
	/* Writing THR re-arms THRE (the byte leaves at once). */
	out(&u, UART_TX, 'x');
	CU_ASSERT_EQUAL(in(&u, UART_IIR), UART_IIR_FIFO | UART_IIR_THRI);
	/* Below the trigger level received data shows as a character timeout. */
	out(&u, UART_FCR, 0x81);                /* trigger 8 */
	uart_receive(&u, two, 2);
	CU_ASSERT_EQUAL(in(&u, UART_IIR), UART_IIR_FIFO | UART_IIR_CTI);
	uart_receive(&u, fill, 6);
	CU_ASSERT_EQUAL(in(&u, UART_IIR), UART_IIR_FIFO | UART_IIR_RDI);
	/* Masked sources do not interrupt. */
	out(&u, UART_IER, 0);
	CU_ASSERT_EQUAL(uart_irq_level(&u), 0);
	CU_ASSERT_EQUAL(in(&u, UART_IIR), UART_IIR_FIFO | UART_IIR_NO_INT);
}

struct edges {
	int levels[16];
	int n;
	void *opaque_seen;
};

static void record_irq(void *opaque, int level)
{
	struct edges *e = opaque;
	if (e->n < 16)
		e->levels[e->n++] = level;
	e->opaque_seen = opaque;
}

static void test_uart_irq_edges(void)
{
	struct uart u;
	struct edges e = { .n = 0 };
	uart_init(&u, -1);
	uart_set_irq(&u, record_irq, &e);
	CU_ASSERT_EQUAL(e.n, 1);                /* told the current level */
	CU_ASSERT_EQUAL(e.levels[0], 0);
	CU_ASSERT_PTR_EQUAL(e.opaque_seen, &e);
	out(&u, UART_IER, UART_IER_THRI);       /* THR empty: rises at once */
	CU_ASSERT_EQUAL(e.n, 2);
	CU_ASSERT_EQUAL(e.levels[1], 1);
	out(&u, UART_IER, UART_IER_THRI);       /* no change, no call */
	CU_ASSERT_EQUAL(e.n, 2);
	in(&u, UART_IIR);                       /* acknowledged */
	CU_ASSERT_EQUAL(e.n, 3);
	CU_ASSERT_EQUAL(e.levels[2], 0);
	out(&u, UART_TX, 'a');                  /* THR empty again */
	CU_ASSERT_EQUAL(e.n, 4);
	CU_ASSERT_EQUAL(e.levels[3], 1);
	out(&u, UART_TX, 'b');                  /* a fresh edge for the next byte */
	CU_ASSERT_EQUAL(e.n, 6);
	CU_ASSERT_EQUAL(e.levels[4], 0);
	CU_ASSERT_EQUAL(e.levels[5], 1);
	out(&u, UART_IER, UART_IER_RDI);
	CU_ASSERT_EQUAL(e.n, 7);
	CU_ASSERT_EQUAL(e.levels[6], 0);
	uart_receive(&u, (const uint8_t *)"q", 1);
	CU_ASSERT_EQUAL(e.n, 8);
	CU_ASSERT_EQUAL(e.levels[7], 1);
	in(&u, UART_RX);
	CU_ASSERT_EQUAL(e.n, 9);
	CU_ASSERT_EQUAL(e.levels[8], 0);
}

static void test_uart_tx_pipe(void)
{
	int p[2];
	CU_ASSERT_FATAL(pipe(p) == 0);
	struct uart u;
	uart_init(&u, p[1]);
	const char *msg = "hello, 16550\r\n";
	for (const char *s = msg; *s; s++) {
		while (!(in(&u, UART_LSR) & UART_LSR_THRE))
			;
		out(&u, UART_TX, (uint8_t)*s);
	}
	char buf[64] = { 0 };
	CU_ASSERT_EQUAL(read(p[0], buf, sizeof(buf) - 1), (ssize_t)strlen(msg));
	CU_ASSERT_STRING_EQUAL(buf, msg);
	CU_ASSERT_EQUAL(u.tx_bytes, strlen(msg));
	close(p[0]);
	close(p[1]);
}

static void *drain_later(void *arg)
{
	int fd = *(int *)arg;
	usleep(50 * 1000);
	static char sink[1 << 17];
	ssize_t total = 0, r;
	while ((r = read(fd, sink + total, sizeof(sink) - (size_t)total)) > 0)
		total += r;
	return (void *)(intptr_t)(total ? sink[total - 1] : 0);
}

/* A full non-blocking sink makes the UART wait, not drop the byte. */
static void test_uart_tx_full_sink(void)
{
	int p[2];
	CU_ASSERT_FATAL(pipe2(p, O_NONBLOCK) == 0);
	char junk[4096];
	memset(junk, '.', sizeof(junk));
	while (write(p[1], junk, sizeof(junk)) > 0)
		;
	while (write(p[1], junk, 1) > 0)
		;
	struct uart u;
	uart_init(&u, p[1]);
	pthread_t t;
	int rfd = p[0];
	int fl = fcntl(rfd, F_GETFL);
	fcntl(rfd, F_SETFL, fl & ~O_NONBLOCK);
	CU_ASSERT_FATAL(pthread_create(&t, NULL, drain_later, &rfd) == 0);
	out(&u, UART_TX, '!');
	close(p[1]);
	void *last;
	pthread_join(t, &last);
	CU_ASSERT_EQUAL((char)(intptr_t)last, '!');
	CU_ASSERT_EQUAL(u.tx_fd, p[1]);         /* the sink was not given up */
	close(p[0]);
}

/* The probe Linux's 8250 driver runs (autoconfig() and autoconfig_16550a()
 * in drivers/tty/serial/8250/8250_port.c), written out register by register;
 * returns the type the driver would settle on. */
static const char *linux_8250_autoconfig(struct uart *u)
{
	uint8_t scratch = in(u, UART_IER);
	out(u, UART_IER, 0);
	uint8_t scratch2 = in(u, UART_IER) & 0x0f;
	out(u, UART_IER, 0x0f);
	uint8_t scratch3 = in(u, UART_IER) & 0x0f;
	out(u, UART_IER, scratch);
	if (scratch2 != 0 || scratch3 != 0x0f)
		return "none (IER test)";
	uint8_t save_mcr = in(u, UART_MCR), save_lcr = in(u, UART_LCR);
	out(u, UART_MCR, UART_MCR_LOOP | 0x0a);
	uint8_t status1 = in(u, UART_MSR) & 0xf0;
	out(u, UART_MCR, save_mcr);
	if (status1 != (UART_MSR_DCD | UART_MSR_CTS))
		return "none (loopback test)";
	/* Zero the EFR of chips that have one (it shares offset 2). */
	out(u, UART_LCR, 0xbf);
	out(u, 2, 0);
	out(u, UART_LCR, 0);
	out(u, UART_FCR, UART_FCR_ENABLE);
	switch (in(u, UART_IIR) >> 6) {
	case 0: {
		/* autoconfig_8250: a scratch register makes it a 16450. */
		uint8_t s = in(u, UART_SCR);
		out(u, UART_SCR, 0xa5);
		uint8_t a = in(u, UART_SCR);
		out(u, UART_SCR, 0x5a);
		uint8_t b = in(u, UART_SCR);
		out(u, UART_SCR, s);
		return (a == 0xa5 && b == 0x5a) ? "16450" : "8250";
	}
	case 1: return "unknown";
	case 2: return "16550";
	}
	/* autoconfig_16550a: rule out the extended chips one by one. */
	out(u, UART_LCR, 0x80);
	if (in(u, 2) == 0)
		return "EFR under DLAB (16C950/16654)";
	out(u, UART_LCR, 0xbf);
	if (in(u, 2) == 0)
		return "16650";
	out(u, UART_LCR, 0);
	status1 = in(u, UART_MCR);
	out(u, UART_LCR, 0xe0);
	uint8_t status2 = in(u, 2);
	if (!((status2 ^ status1) & UART_MCR_LOOP)) {
		out(u, UART_LCR, 0);
		out(u, UART_MCR, status1 ^ UART_MCR_LOOP);
		out(u, UART_LCR, 0xe0);
		status2 = in(u, 2);
		out(u, UART_LCR, 0);
		out(u, UART_MCR, status1);
		if ((status2 ^ status1) & UART_MCR_LOOP)
			return "NS16550A";
	}
	out(u, UART_LCR, 0);
	out(u, UART_FCR, UART_FCR_ENABLE | 0x20);
	status1 = in(u, UART_IIR) & 0x20;
	out(u, UART_FCR, UART_FCR_ENABLE);
	out(u, UART_LCR, 0x80);
	out(u, UART_FCR, UART_FCR_ENABLE | 0x20);
	status2 = in(u, UART_IIR) & 0x20;
	out(u, UART_FCR, UART_FCR_ENABLE);
	out(u, UART_LCR, 0);
	if (status1 == 0 && status2 == 0x20)
		return "16750";
	uint8_t iersave = in(u, UART_IER);
	out(u, UART_IER, iersave & ~0x40);
	if (!(in(u, UART_IER) & 0x40)) {
		out(u, UART_IER, iersave | 0x40);
		if (in(u, UART_IER) & 0x40)
			return "XScale";
	}
	out(u, UART_IER, iersave);
	out(u, UART_LCR, save_lcr);
	/* Reset the UART as the driver leaves it. */
	out(u, UART_MCR, save_mcr);
	out(u, UART_FCR, UART_FCR_ENABLE);
	out(u, UART_FCR, UART_FCR_ENABLE | UART_FCR_CLR_RX | UART_FCR_CLR_TX);
	out(u, UART_FCR, 0);
	in(u, UART_RX);
	out(u, UART_IER, 0);
	return "16550A";
}

static void test_uart_linux_probe(void)
{
	struct uart u;
	uart_init(&u, -1);
	uart_receive(&u, (const uint8_t *)"junk", 4);   /* stale input must not matter */
	const char *type = linux_8250_autoconfig(&u);
	CU_ASSERT_STRING_EQUAL(type, "16550A");
	printf("\n    Linux 8250 autoconfig: %s detected ", type);
	CU_ASSERT_EQUAL(in(&u, UART_LCR), 0);
	CU_ASSERT_EQUAL(in(&u, UART_IER), 0);
	CU_ASSERT_EQUAL(u.tx_bytes, 0);         /* probing transmits nothing */
}

/* serial8250_do_startup's checks for broken THRE behaviour (UART_BUG_THRE,
 * UART_BUG_TXEN); either bug would make Linux poll the transmitter. */
static void test_uart_linux_startup(void)
{
	struct uart u;
	uart_init(&u, -1);
	CU_ASSERT_STRING_EQUAL(linux_8250_autoconfig(&u), "16550A");
	out(&u, UART_FCR, 0x81);
	CU_ASSERT_NOT_EQUAL(in(&u, UART_LSR), 0xff);
	out(&u, UART_LCR, 0x03);
	out(&u, UART_MCR, UART_MCR_OUT2 | UART_MCR_DTR | UART_MCR_RTS);
	in(&u, UART_MSR);
	uint8_t lsr = in(&u, UART_LSR);
	out(&u, UART_IER, UART_IER_THRI);
	uint8_t iir1 = in(&u, UART_IIR);
	out(&u, UART_IER, 0);
	out(&u, UART_IER, UART_IER_THRI);
	uint8_t iir = in(&u, UART_IIR);
	out(&u, UART_IER, 0);
	bool bug_thre = (lsr & UART_LSR_TEMT) && !(iir1 & UART_IIR_NO_INT) && (iir & UART_IIR_NO_INT);
	CU_ASSERT_FALSE(bug_thre);
	CU_ASSERT_FALSE(iir1 & UART_IIR_NO_INT);
	out(&u, UART_IER, UART_IER_THRI);
	lsr = in(&u, UART_LSR);
	iir = in(&u, UART_IIR);
	out(&u, UART_IER, 0);
	bool bug_txen = (lsr & UART_LSR_TEMT) && (iir & UART_IIR_NO_INT);
	CU_ASSERT_FALSE(bug_txen);
}

UNIT_SUITE(uart,
	UNIT_CASE(test_uart_dlab),
	UNIT_CASE(test_uart_scratch_ier),
	UNIT_CASE(test_uart_fifo_iir),
	UNIT_CASE(test_uart_loopback),
	UNIT_CASE(test_uart_lsr),
	UNIT_CASE(test_uart_rx_fifo),
	UNIT_CASE(test_uart_irq_priority),
	UNIT_CASE(test_uart_irq_edges),
	UNIT_CASE(test_uart_tx_pipe),
	UNIT_CASE(test_uart_tx_full_sink),
	UNIT_CASE(test_uart_linux_probe),
	UNIT_CASE(test_uart_linux_startup))
