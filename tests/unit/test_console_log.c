#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console_log.h"
#include "unit.h"

static int panics;

static void on_panic(void *opaque)
{
	(void)opaque;
	panics++;
}

static void feed(struct console_log *c, const char *s)
{
	while (*s)
		console_log_put(c, (uint8_t)*s++);
}

static void test_console_panic_marker(void)
{
	struct console_log c;
	panics = 0;
	console_log_init(&c, on_panic, NULL);
	feed(&c, "[    0.1] booting\r\n[    0.2] Kernel panic - not syncing: no init\r\n");
	CU_ASSERT_TRUE(c.panic);
	CU_ASSERT_EQUAL(panics, 0);                     /* waits for the report's end */
	feed(&c, "Call Trace:\n---[ end Kernel panic - not syncing: no init ]---\n");
	CU_ASSERT_EQUAL(panics, 1);
	feed(&c, "more\n");
	CU_ASSERT_EQUAL(panics, 1);                     /* reported once */
}

static void test_console_panic_without_marker(void)
{
	struct console_log c;
	panics = 0;
	console_log_init(&c, on_panic, NULL);
	feed(&c, "Kernel panic - not syncing: x\n");
	for (int i = 0; i < CONSOLE_PANIC_TAIL - 1; i++)
		feed(&c, "trace line\n");
	CU_ASSERT_EQUAL(panics, 0);
	feed(&c, "trace line\n");
	CU_ASSERT_EQUAL(panics, 1);
}

static void test_console_ring(void)
{
	struct console_log c;
	console_log_init(&c, NULL, NULL);
	char line[32];
	for (int i = 0; i < CONSOLE_LOG_LINES + 5; i++) {
		snprintf(line, sizeof(line), "line %d\n", i);
		feed(&c, line);
	}
	feed(&c, "partial");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	console_log_dump(&c, f, 3);
	fclose(f);
	char want[128];
	snprintf(want, sizeof(want), "  | line %d\n  | line %d\n  | line %d\n  | partial\n",
		 CONSOLE_LOG_LINES + 2, CONSOLE_LOG_LINES + 3, CONSOLE_LOG_LINES + 4);
	CU_ASSERT_STRING_EQUAL(buf, want);
	free(buf);
	CU_ASSERT_FALSE(c.panic);
}

UNIT_SUITE(console_log,
	UNIT_CASE(test_console_panic_marker),
	UNIT_CASE(test_console_panic_without_marker),
	UNIT_CASE(test_console_ring))
