/* Port I/O: 1/2/4-byte in and out, immediate and DX forms, string I/O, the
 * UART's scratch and line-status registers, and the all-ones value an
 * unclaimed port must return. */
#include "rt.h"

#define UART_SCR        (RT_COM1 + 7)
#define UART_LSR        (RT_COM1 + 5)
#define POST_PORT       0x80
/* Nothing decodes 0x2f0-0x2f7 on a PC (COM2 starts at 0x2f8). */
#define UNCLAIMED       0x2f0

int guest_main(uint32_t mbi)
{
	(void)mbi;

	outb(UART_SCR, 0x5a);
	uint8_t a = inb(UART_SCR);
	outb(UART_SCR, 0xa5);
	uint8_t b = inb(UART_SCR);
	rt_printf("scratch register: wrote 0x5a read 0x%02x, wrote 0xa5 read 0x%02x\n", a, b);
	rt_check(a == 0x5a && b == 0xa5, "UART scratch register round trip");

	uint8_t lsr = inb(UART_LSR);
	rt_check((lsr & 0x60) == 0x60, "UART LSR reports THR and transmitter empty (0x60)");

	uint8_t u8 = inb(UNCLAIMED);
	uint16_t u16 = inw(UNCLAIMED);
	uint32_t u32 = inl(UNCLAIMED);
	rt_printf("unclaimed port 0x%x: inb 0x%x inw 0x%x inl 0x%x\n", UNCLAIMED, u8, u16, u32);
	rt_check(u8 == 0xff && u16 == 0xffff && u32 == 0xffffffffu,
		 "unclaimed port reads all ones at every size");

	/* Writes nobody claims must be dropped, whatever the size. */
	outb(POST_PORT, 0x42);
	outw(UNCLAIMED, 0x1234);
	outl(UNCLAIMED, 0x12345678);
	rt_check(inb(UART_SCR) == 0xa5, "writes to POST and unclaimed ports change nothing");

	/* Same accesses with the port in DX rather than an immediate. */
	uint8_t viadx;
	__asm__ volatile("movw %1, %%dx\n\tinb %%dx, %0" : "=a"(viadx) : "i"(UART_SCR) : "edx");
	rt_check(viadx == 0xa5, "inb through DX");

	static const char msg[] = "string I/O via rep outsb\n";
	const char *src = msg;
	uint32_t count = sizeof(msg) - 1;
	__asm__ volatile("rep outsb" : "+S"(src), "+c"(count) : "d"(RT_COM1) : "memory");
	rt_check(count == 0 && src == msg + sizeof(msg) - 1,
		 "rep outsb leaves ECX 0 and ESI past the string");

	uint8_t buf[8] = { 0, 0, 0, 0, 0, 0, 0, 0x11 };
	uint8_t *dst = buf;
	count = 7;
	__asm__ volatile("rep insb" : "+D"(dst), "+c"(count) : "d"(UNCLAIMED) : "memory");
	int all = 1;
	for (int i = 0; i < 7; i++)
		all &= buf[i] == 0xff;
	rt_check(all && buf[7] == 0x11 && count == 0 && dst == buf + 7,
		 "rep insb from an unclaimed port fills exactly ECX bytes of 0xff");

	uint16_t wbuf[2] = { 0, 0 };
	uint16_t *wdst = wbuf;
	count = 2;
	__asm__ volatile("rep insw" : "+D"(wdst), "+c"(count) : "d"(UNCLAIMED) : "memory");
	rt_check(wbuf[0] == 0xffff && wbuf[1] == 0xffff && wdst == wbuf + 2,
		 "rep insw from an unclaimed port");

	rt_printf("portio: %d failure(s)\n", rt_failures);
	return rt_failures ? RT_FAIL : RT_PASS;
}
