/* Format detection and the file-reading front end of the kernel loaders. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "loader_priv.h"

static bool is_bzimage(const struct boot_image *k)
{
	return k->len >= BP_HEADER + 4 && rd16(k->data + BP_BOOT_FLAG) == BP_BOOT_FLAG_MAGIC &&
	       rd32(k->data + BP_HEADER) == BP_HDRS_MAGIC;
}

static bool is_elf64_x86(const struct boot_image *k)
{
	/* Only e_ident and e_machine are needed, so a cut header is still
	 * recognised and elf64_load() can say precisely what is wrong. */
	return elf_is_elf(k) && k->len >= 20 && k->data[EI_CLASS] == ELFCLASS64 &&
	       k->data[EI_DATA] == ELFDATA2LSB && rd16(k->data + 18) == EM_X86_64;
}

/* A multiboot header is the kernel's explicit request for how to be booted,
 * so it wins over the ELF container (ELF32 and ELF64 alike). */
enum kernel_format loader_detect(const struct boot_image *k)
{
	if (!k || !k->data || !k->len)
		return KFMT_UNKNOWN;
	if (multiboot_find_header(k, NULL) >= 0)
		return KFMT_MULTIBOOT;
	if (is_bzimage(k))
		return KFMT_BZIMAGE;
	if (is_elf64_x86(k))
		return KFMT_ELF64;
	return KFMT_UNKNOWN;
}

const char *loader_format_name(enum kernel_format f)
{
	switch (f) {
	case KFMT_MULTIBOOT: return "multiboot";
	case KFMT_BZIMAGE: return "bzImage";
	case KFMT_ELF64: return "ELF64";
	default: return "unknown";
	}
}

/* Says why an image is not a kernel, naming the closest thing it resembles. */
static int explain_unknown(const char *path, const struct boot_image *k)
{
	long bad;
	if (multiboot_find_header(k, &bad) < 0 && bad >= 0)
		return err_set("kernel %s: multiboot header at offset 0x%lx has a bad checksum (magic + flags + checksum must be 0 mod 2^32); fix the kernel's multiboot header",
			       path, bad);
	if (elf_is_elf(k) && k->len >= sizeof(Elf32_Ehdr) && k->data[EI_CLASS] == ELFCLASS32) {
		/* A multiboot header usually sits after the ELF headers, so a cut
		 * file loses it: say so rather than blame the kernel. */
		const uint8_t *d = k->data;
		uint64_t ph_end = (uint64_t)rd32(d + offsetof(Elf32_Ehdr, e_phoff)) +
				  (uint64_t)rd16(d + offsetof(Elf32_Ehdr, e_phnum)) * sizeof(Elf32_Phdr);
		uint64_t sh_end = (uint64_t)rd32(d + offsetof(Elf32_Ehdr, e_shoff)) +
				  (uint64_t)rd16(d + offsetof(Elf32_Ehdr, e_shnum)) * sizeof(Elf32_Shdr);
		uint64_t end = ph_end > sh_end ? ph_end : sh_end;
		if (end > k->len)
			return err_set("kernel %s is a truncated 32-bit ELF (%zu bytes, its headers describe %llu); re-copy the kernel image",
				       path, k->len, (unsigned long long)end);
	}
	if (elf_is_elf(k) && k->len > EI_CLASS && k->data[EI_CLASS] == ELFCLASS32)
		return err_set("kernel %s is a 32-bit ELF without a multiboot header; add a multiboot header or pass a 64-bit kernel with --kernel",
			       path);
	if (elf_is_elf(k) && k->len >= 20)
		return err_set("kernel %s is an ELF for machine %u, not x86-64; pass an x86 kernel image with --kernel",
			       path, rd16(k->data + 18));
	return err_set("kernel %s is not a multiboot, bzImage or ELF64 kernel; pass a kernel image with --kernel",
		       path);
}

/* what: "kernel" or "initrd"; limit: largest size that could ever fit. */
static int file_read(const char *what, const char *path, const char *opt, uint64_t limit,
		     uint64_t ram_size, struct boot_image *out)
{
	out->data = NULL;
	out->len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return err_set("%s %s: file not found; check the %s path", what, path, opt);
		if (errno == EACCES)
			return err_set("%s %s: permission denied; make the file readable or pass another with %s",
				       what, path, opt);
		return err_set("%s %s: cannot open: %s; pass a readable file with %s",
			       what, path, strerror(errno), opt);
	}
	struct stat sb;
	if (fstat(fd, &sb) < 0) {
		err_set("%s %s: cannot stat: %s; pass a readable file with %s", what, path, strerror(errno), opt);
		goto fail;
	}
	if (S_ISDIR(sb.st_mode)) {
		err_set("%s %s is a directory; pass an image file with %s", what, path, opt);
		goto fail;
	}
	if (!S_ISREG(sb.st_mode)) {
		err_set("%s %s is not a regular file; pass an image file with %s", what, path, opt);
		goto fail;
	}
	if (sb.st_size == 0) {
		err_set("%s %s is empty (0 bytes); pass a non-empty image with %s", what, path, opt);
		goto fail;
	}
	if ((uint64_t)sb.st_size > limit) {
		err_set("%s (%llu MiB) does not fit in guest RAM (%llu MiB); raise --memory",
			what, MIB_UP(sb.st_size), MIB(ram_size));
		goto fail;
	}
	uint8_t *buf = malloc((size_t)sb.st_size);
	if (!buf) {
		err_set("%s %s: out of memory reading %llu MiB", what, path, MIB_UP(sb.st_size));
		goto fail;
	}
	size_t got = 0;
	while (got < (size_t)sb.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err_set("%s %s: read failed: %s; check the file", what, path,
				r < 0 ? strerror(errno) : "file shrank while reading");
			free(buf);
			goto fail;
		}
		got += (size_t)r;
	}
	close(fd);
	out->data = buf;
	out->len = got;
	return 0;
fail:
	close(fd);
	return -1;
}

int loader_load(struct guest_memory *m, const char *kernel, const char *initrd,
		const char *cmdline, struct vcpu_state *st)
{
	if (!kernel || !*kernel)
		return err_set("no kernel given; pass a kernel image with --kernel");
	struct boot_args a = { .cmdline = cmdline };
	int rc = -1;
	if (file_read("kernel", kernel, "--kernel", m->ram_size, m->ram_size, &a.kernel) < 0)
		return -1;
	if (initrd && *initrd &&
	    file_read("initrd", initrd, "--initrd", m->ram_size, m->ram_size, &a.initrd) < 0)
		goto out;
	enum kernel_format f = loader_detect(&a.kernel);
	switch (f) {
	case KFMT_MULTIBOOT: rc = multiboot_load(m, &a, st); break;
	case KFMT_BZIMAGE: rc = bzimage_load(m, &a, st); break;
	case KFMT_ELF64: rc = elf64_load(m, &a, st); break;
	default: rc = explain_unknown(kernel, &a.kernel); goto out;
	}
	if (rc < 0)
		err_wrap("kernel %s (%s)", kernel, loader_format_name(f));
out:
	free((void *)a.kernel.data);
	free((void *)a.initrd.data);
	return rc;
}
