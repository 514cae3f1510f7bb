/* A 16550A UART model, independent of the vm so it can be unit-tested alone,
 * plus the COM1 device (port 0x3f8) that wires it to the vm and the host's
 * stdio. Register offsets and bits follow the National Semiconductor PC16550D
 * data sheet; the names below are the ones Linux's 8250 driver uses. */
#ifndef VMLITE_UART16550_H
#define VMLITE_UART16550_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;

#define UART_FIFO_SIZE  16
#define UART_COM1_BASE  0x3f8
#define UART_COM1_IRQ   4

/* Offsets (DLAB=0 / DLAB=1 for 0 and 1). */
enum {
	UART_RX = 0, UART_TX = 0, UART_DLL = 0,
	UART_IER = 1, UART_DLM = 1,
	UART_IIR = 2, UART_FCR = 2,
	UART_LCR = 3, UART_MCR = 4, UART_LSR = 5, UART_MSR = 6, UART_SCR = 7,
};

#define UART_IER_RDI    0x01    /* received data available */
#define UART_IER_THRI   0x02    /* transmit holding register empty */
#define UART_IER_RLSI   0x04    /* receiver line status */
#define UART_IER_MSI    0x08    /* modem status */

#define UART_IIR_NO_INT 0x01
#define UART_IIR_MSI    0x00
#define UART_IIR_THRI   0x02
#define UART_IIR_RDI    0x04
#define UART_IIR_RLSI   0x06
#define UART_IIR_CTI    0x0c    /* character timeout: data below the trigger level */
#define UART_IIR_FIFO   0xc0    /* both bits set: FIFOs enabled (16550A) */

#define UART_FCR_ENABLE 0x01
#define UART_FCR_CLR_RX 0x02
#define UART_FCR_CLR_TX 0x04
#define UART_FCR_TRIG   0xc0

#define UART_LCR_DLAB   0x80

#define UART_MCR_DTR    0x01
#define UART_MCR_RTS    0x02
#define UART_MCR_OUT1   0x04
#define UART_MCR_OUT2   0x08
#define UART_MCR_LOOP   0x10

#define UART_LSR_DR     0x01
#define UART_LSR_OE     0x02
#define UART_LSR_PE     0x04
#define UART_LSR_FE     0x08
#define UART_LSR_BI     0x10
#define UART_LSR_THRE   0x20
#define UART_LSR_TEMT   0x40
#define UART_LSR_ERRORS (UART_LSR_OE | UART_LSR_PE | UART_LSR_FE | UART_LSR_BI)

#define UART_MSR_DCTS   0x01
#define UART_MSR_DDSR   0x02
#define UART_MSR_TERI   0x04
#define UART_MSR_DDCD   0x08
#define UART_MSR_DELTA  0x0f
#define UART_MSR_CTS    0x10
#define UART_MSR_DSR    0x20
#define UART_MSR_RI     0x40
#define UART_MSR_DCD    0x80

typedef void (*uart_irq_fn)(void *opaque, int level);

struct uart {
	uint8_t rx[UART_FIFO_SIZE];     /* ring: in FIFO mode all 16, else only one byte */
	unsigned rx_head, rx_count;
	uint8_t rbr;                    /* last character read, for reads of an empty RBR */
	uint8_t ier, fcr, lcr, mcr, lsr, msr, scr, dll, dlm;
	uint8_t host_msr;               /* modem inputs when not in loopback */
	bool thr_pending;               /* THRE interrupt latched, see uart_write(UART_TX) */
	int tx_fd;                      /* transmit sink, -1 discards */
	uint64_t tx_bytes, rx_bytes, rx_overruns;
	uart_irq_fn irq;
	void *irq_opaque;
	void (*tap)(void *opaque, uint8_t byte);        /* sees every transmitted byte */
	void *tap_opaque;
	int irq_line;                   /* last level reported to irq */
};

/* Power-on state; tx_fd is where transmitted bytes go (-1: nowhere). */
void uart_init(struct uart *u, int tx_fd);
/* The interrupt output; the callback is called only when the level changes,
 * from whatever context changed it (with vm->dev_lock held in the vm). */
void uart_set_irq(struct uart *u, uart_irq_fn fn, void *opaque);
int uart_irq_level(const struct uart *u);

uint8_t uart_read(struct uart *u, unsigned off);
void uart_write(struct uart *u, unsigned off, uint8_t val);

/* Host side of the serial line. uart_receive() puts every byte on the wire:
 * what does not fit overruns (OE) like real hardware. Callers that can wait
 * (the stdin reader) send only uart_rx_space() bytes at a time. */
size_t uart_receive(struct uart *u, const uint8_t *buf, size_t n);
size_t uart_rx_space(const struct uart *u);

/* The console reader feeding COM1. The device starts it itself in its init
 * when --serial stdio (raw terminal mode only if stdin is a foreground tty)
 * and stops it in its destroy; exposed so tests can feed a pipe.
 * interactive: Ctrl-A x stops the VM (STOP_POWEROFF, status 0), Ctrl-A Ctrl-A
 * sends one Ctrl-A. Reading stops at EOF. */
int uart_input_start(struct vm *vm, int fd, bool interactive);
void uart_input_stop(struct vm *vm);

/* COM1's model, for the interrupt controllers to call uart_set_irq() on. */
struct uart *uart_com1(struct vm *vm);

#endif
