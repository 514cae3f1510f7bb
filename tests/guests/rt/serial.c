/* COM1 output, the debug-exit port and check reporting. */
#include "rt.h"

#define UART_THR    0   /* transmit holding register (DLAB=0) */
#define UART_DLL    0   /* divisor latch low (DLAB=1) */
#define UART_IER    1
#define UART_DLM    1
#define UART_FCR    2
#define UART_LCR    3
#define UART_MCR    4
#define UART_LSR    5
#define LSR_THRE    0x20

int rt_failures;

/* 115200 8N1 with FIFOs on, as a real driver would program it: the VMM's
 * UART must tolerate (and ignore or honour) every one of these writes. */
void rt_serial_init(void)
{
	outb(RT_COM1 + UART_IER, 0x00);
	outb(RT_COM1 + UART_LCR, 0x80);         /* DLAB on */
	outb(RT_COM1 + UART_DLL, 0x01);         /* 115200 / 1 */
	outb(RT_COM1 + UART_DLM, 0x00);
	outb(RT_COM1 + UART_LCR, 0x03);         /* 8N1, DLAB off */
	outb(RT_COM1 + UART_FCR, 0x07);         /* enable and clear FIFOs */
	outb(RT_COM1 + UART_MCR, 0x03);         /* DTR, RTS */
}

void rt_putc(char c)
{
	/* Bounded so a UART that never reports THR empty cannot hang us. */
	for (int i = 0; i < 100000; i++)
		if (inb(RT_COM1 + UART_LSR) & LSR_THRE)
			break;
	outb(RT_COM1 + UART_THR, (uint8_t)c);
}

void rt_puts(const char *s)
{
	while (*s)
		rt_putc(*s++);
}

void rt_exit(uint32_t v)
{
	outl(RT_DEBUG_EXIT, v);
	for (;;)
		__asm__ volatile("cli; hlt");
}

int rt_check(int cond, const char *what)
{
	rt_printf("%s: %s\n", cond ? "ok" : "FAIL", what);
	if (!cond)
		rt_failures++;
	return cond;
}
