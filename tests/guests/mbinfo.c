/* Multiboot information: command line, modules, boot loader name. Run with
 * --cmdline "hello world" --initrd tests/guests/mbinfo.module.
 *
 * GRUB and QEMU put the kernel's path in front of the command line (like
 * argv[0]); a first word ending in ".elf" or ".bin" is therefore skipped, so
 * the output is the same whether or not the loader does this. */
#include "multiboot.h"
#include "rt.h"

static uint32_t slen(const char *s, uint32_t max)
{
	uint32_t n = 0;
	while (n < max && s[n])
		n++;
	return n;
}

static int printable_string(uint32_t addr, uint32_t max)
{
	if (!addr)
		return 0;
	const char *s = (const char *)(uintptr_t)addr;
	uint32_t n = slen(s, max);
	if (n == max)
		return 0;
	for (uint32_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	return 1;
}

static const char *skip_kernel_path(const char *s)
{
	uint32_t n = 0;
	while (s[n] && s[n] != ' ')
		n++;
	if (n >= 4 && s[n - 4] == '.' &&
	    ((s[n - 3] == 'e' && s[n - 2] == 'l' && s[n - 1] == 'f') ||
	     (s[n - 3] == 'b' && s[n - 2] == 'i' && s[n - 1] == 'n'))) {
		s += n;
		while (*s == ' ')
			s++;
	}
	return s;
}

static uint32_t fnv1a(const uint8_t *p, uint32_t len)
{
	uint32_t h = 0x811c9dc5u;
	for (uint32_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x01000193u;
	return h;
}

int guest_main(uint32_t mbi)
{
	const struct mb_info *mb = (const void *)(uintptr_t)mbi;

	rt_check(mbi != 0 && (mbi & 3) == 0, "multiboot info pointer is non-zero and aligned");

	/* Optional; its text differs between loaders, so only validate it. */
	rt_check(!(mb->flags & MBI_FLAG_LOADER) || printable_string(mb->boot_loader_name, 256),
		 "boot loader name absent or a printable string");

	if (rt_check(mb->flags & MBI_FLAG_CMDLINE, "multiboot flags: command line present") &&
	    rt_check(printable_string(mb->cmdline, 4096), "command line is a printable string"))
		rt_printf("cmdline: \"%s\"\n", skip_kernel_path((const char *)(uintptr_t)mb->cmdline));

	if (!rt_check(mb->flags & MBI_FLAG_MODS, "multiboot flags: modules present"))
		return RT_FAIL;
	rt_printf("modules: %u\n", mb->mods_count);
	if (!rt_check(mb->mods_count >= 1 && mb->mods_addr, "at least one module"))
		return RT_FAIL;

	const struct mb_module *m = (const void *)(uintptr_t)mb->mods_addr;
	uint32_t size = m->mod_end - m->mod_start;
	rt_check(m->mod_end >= m->mod_start, "module 0: end >= start");
	rt_check((m->mod_start & 0xfff) == 0, "module 0: page aligned (header flag bit 0)");
	rt_check(m->mod_start >= (uint32_t)(uintptr_t)_end,
		 "module 0: placed above the kernel image");
	rt_check(!m->string || printable_string(m->string, 4096),
		 "module 0: string absent or printable");

	const uint8_t *data = (const uint8_t *)(uintptr_t)m->mod_start;
	rt_printf("module 0: size %u fnv1a 0x%08x\n", size, fnv1a(data, size));
	rt_puts("module 0: first line: ");
	for (uint32_t i = 0; i < size && data[i] != '\n' && i < 80; i++)
		rt_putc((char)data[i]);
	rt_putc('\n');

	rt_printf("mbinfo: %d failure(s)\n", rt_failures);
	return rt_failures ? RT_FAIL : RT_PASS;
}
