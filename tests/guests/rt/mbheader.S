/* The multiboot v1 header. Assembled twice: the normal build asks for page-
 * aligned modules and memory info (flags bits 0 and 1) and lets the loader use
 * the ELF program headers; with -DMB_AOUT it also sets bit 16 and fills in the
 * a.out-kludge address fields, for the flat-binary guest (hello-aout). */
#define MB_MAGIC        0x1BADB002
#define MB_PAGE_ALIGN   (1 << 0)
#define MB_MEMORY_INFO  (1 << 1)
#define MB_AOUT_KLUDGE  (1 << 16)
#ifdef MB_AOUT
#define MB_FLAGS        (MB_PAGE_ALIGN | MB_MEMORY_INFO | MB_AOUT_KLUDGE)
#else
#define MB_FLAGS        (MB_PAGE_ALIGN | MB_MEMORY_INFO)
#endif

	.section .multiboot, "a"
	.code32
	.align 4
	.globl mb_header
mb_header:
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)
#ifdef MB_AOUT
	.long mb_header         /* header_addr */
	.long __image_start     /* load_addr: first byte of the file */
	.long _edata            /* load_end_addr: end of the file's data */
	.long _end              /* bss_end_addr: loader zeroes [_edata, _end) */
	.long _start            /* entry_addr */
#endif
