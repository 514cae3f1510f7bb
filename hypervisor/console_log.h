/* The last lines the guest wrote to its console, kept so that a guest that
 * dies (panic, triple fault, internal error) is reported with its own last
 * words, and a Linux panic — which otherwise spins forever — ends the VM. */
#ifndef VMLITE_CONSOLE_LOG_H
#define VMLITE_CONSOLE_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CONSOLE_LOG_LINES 24
#define CONSOLE_LOG_WIDTH 200
/* After the panic line, how many lines may pass before we stop waiting for
 * the end marker and end the VM anyway. */
#define CONSOLE_PANIC_TAIL 80

struct console_log {
	char lines[CONSOLE_LOG_LINES][CONSOLE_LOG_WIDTH];
	unsigned next;                  /* ring slot for the next line */
	unsigned count;
	char cur[CONSOLE_LOG_WIDTH];
	unsigned curlen;
	bool panic;                     /* "Kernel panic - not syncing" seen */
	unsigned lines_since_panic;
	void (*on_panic_done)(void *opaque);
	void *opaque;
};

void console_log_init(struct console_log *c, void (*on_panic_done)(void *), void *opaque);
void console_log_put(void *opaque, uint8_t byte);
/* Prints the kept lines (and a partial last line), oldest first. */
void console_log_dump(const struct console_log *c, FILE *out, unsigned max_lines);

#endif
