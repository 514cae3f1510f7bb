#include "console_log.h"

#include <string.h>

void console_log_init(struct console_log *c, void (*on_panic_done)(void *), void *opaque)
{
	memset(c, 0, sizeof(*c));
	c->on_panic_done = on_panic_done;
	c->opaque = opaque;
}

static void line_done(struct console_log *c)
{
	c->cur[c->curlen] = 0;
	memcpy(c->lines[c->next], c->cur, c->curlen + 1);
	c->next = (c->next + 1) % CONSOLE_LOG_LINES;
	if (c->count < CONSOLE_LOG_LINES)
		c->count++;
	if (!c->panic && strstr(c->cur, "Kernel panic - not syncing")) {
		c->panic = true;
	} else if (c->panic) {
		/* Linux ends its panic report with this marker, then spins. */
		if (strstr(c->cur, "---[ end Kernel panic") ||
		    ++c->lines_since_panic >= CONSOLE_PANIC_TAIL) {
			if (c->on_panic_done)
				c->on_panic_done(c->opaque);
			c->on_panic_done = NULL;
		}
	}
	c->curlen = 0;
}

void console_log_put(void *opaque, uint8_t b)
{
	struct console_log *c = opaque;
	if (b == '\n') {
		line_done(c);
		return;
	}
	if (b == '\r' || b == 0)
		return;
	if (c->curlen < CONSOLE_LOG_WIDTH - 1)
		c->cur[c->curlen++] = (char)b;
}

void console_log_dump(const struct console_log *c, FILE *out, unsigned max_lines)
{
	unsigned n = c->count < max_lines ? c->count : max_lines;
	for (unsigned i = 0; i < n; i++) {
		unsigned slot = (c->next + CONSOLE_LOG_LINES - n + i) % CONSOLE_LOG_LINES;
		fprintf(out, "  | %s\n", c->lines[slot]);
	}
	if (c->curlen)
		fprintf(out, "  | %.*s\n", (int)c->curlen, c->cur);
}
