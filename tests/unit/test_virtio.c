/* virtio-mmio + virtio-blk driven the way a guest driver does it: registers
 * through the MMIO bus, rings built in guest RAM, requests against a temp image. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "null_engine.h"
#include "unit.h"
#include "virtio/virtio_mmio.h"

#define QSZ 8
#define DESC 0x10000ull
#define AVAIL 0x11000ull
#define USED 0x12000ull
#define HDR 0x20000ull
#define DATA 0x21000ull
#define STATUS 0x30000ull

static struct vm vm;
static struct vm_config cfg;
static char img[64];
static uint16_t avail_idx;

static uint32_t rd(uint64_t off)
{
	uint32_t v;
	bus_access(&vm.mmio, VIRTIO_MMIO_BASE + off, 4, false, (uint8_t *)&v);
	return v;
}

static void wr(uint64_t off, uint32_t v)
{
	bus_access(&vm.mmio, VIRTIO_MMIO_BASE + off, 4, true, (uint8_t *)&v);
}

static int setup(bool readonly)
{
	snprintf(img, sizeof(img), "/tmp/vmlite-vblk-%d.img", (int)getpid());
	int fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, 1 << 20) < 0)
		return -1;
	char pat[512];
	memset(pat, 'D', sizeof(pat));
	pwrite(fd, pat, sizeof(pat), 512 * 5);     /* sector 5 holds 'D's */
	close(fd);
	config_defaults(&cfg);
	cfg.mem_size = 16ull << 20;
	cfg.serial = SERIAL_NONE;
	cfg.disks[0] = (struct disk_config){ img, readonly };
	cfg.ndisks = 1;
	avail_idx = 0;
	return vm_create(&vm, &cfg, &engine_null);
}

static void teardown(void)
{
	vm_destroy(&vm);
	unlink(img);
}

/* Driver initialisation per virtio 1.x 3.1.1. */
static void driver_init(void)
{
	wr(0x70, 0);
	wr(0x70, 1);
	wr(0x70, 1 | 2);
	wr(0x24, 1);
	wr(0x20, 1);                    /* VERSION_1 */
	wr(0x24, 0);
	wr(0x20, 1u << 9);              /* FLUSH */
	wr(0x70, 1 | 2 | 8);
	CU_ASSERT_EQUAL(rd(0x70) & 8, 8);
	wr(0x30, 0);
	CU_ASSERT(rd(0x34) >= QSZ);
	wr(0x38, QSZ);
	wr(0x80, DESC); wr(0x84, 0);
	wr(0x90, AVAIL); wr(0x94, 0);
	wr(0xa0, USED); wr(0xa4, 0);
	wr(0x44, 1);
	wr(0x70, 1 | 2 | 8 | 4);
}

static void put_desc(int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = vm.mem.ram + DESC + 16 * i;
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* One request: header, data (len bytes, device-writable if is_in), status. */
static uint8_t request(uint32_t type, uint64_t sector, uint32_t len, bool is_in)
{
	uint32_t hdr[4] = { type, 0, (uint32_t)sector, (uint32_t)(sector >> 32) };
	memcpy(vm.mem.ram + HDR, hdr, 16);
	vm.mem.ram[STATUS] = 0xee;
	put_desc(0, HDR, 16, 1, 1);
	if (len) {
		put_desc(1, DATA, len, 1 | (is_in ? 2 : 0), 2);
		put_desc(2, STATUS, 1, 2, 0);
	} else {
		put_desc(0, HDR, 16, 1, 2);
		put_desc(2, STATUS, 1, 2, 0);
	}
	uint16_t head = 0;
	memcpy(vm.mem.ram + AVAIL + 4 + 2 * (avail_idx % QSZ), &head, 2);
	avail_idx++;
	memcpy(vm.mem.ram + AVAIL + 2, &avail_idx, 2);
	wr(0x50, 0);
	return vm.mem.ram[STATUS];
}

static void test_virtio_mmio_identity(void)
{
	CU_ASSERT_FATAL(setup(false) == 0);
	CU_ASSERT_EQUAL(rd(0x00), 0x74726976);
	CU_ASSERT_EQUAL(rd(0x04), 2);
	CU_ASSERT_EQUAL(rd(0x08), 2);           /* block device */
	wr(0x14, 1);
	CU_ASSERT_EQUAL(rd(0x10) & 1, 1);       /* VERSION_1 offered */
	uint64_t cap;
	bus_access(&vm.mmio, VIRTIO_MMIO_BASE + 0x100, 8, false, (uint8_t *)&cap);
	CU_ASSERT_EQUAL(cap, (1 << 20) / 512);
	CU_ASSERT_EQUAL(vm.nvirtio, 1);
	CU_ASSERT_EQUAL(vm.virtio[0].base, VIRTIO_MMIO_BASE);
	CU_ASSERT_EQUAL(vm.virtio[0].irq, 5);
	/* A driver that refuses VERSION_1 cannot reach FEATURES_OK. */
	wr(0x70, 3);
	wr(0x24, 1);
	wr(0x20, 0);
	wr(0x70, 3 | 8);
	CU_ASSERT_EQUAL(rd(0x70) & 8, 0);
	teardown();
}

static void test_virtio_blk_io(void)
{
	CU_ASSERT_FATAL(setup(false) == 0);
	driver_init();
	CU_ASSERT_EQUAL(request(0, 5, 512, true), 0);          /* read sector 5 */
	CU_ASSERT_EQUAL(vm.mem.ram[DATA], 'D');
	CU_ASSERT_EQUAL(vm.mem.ram[DATA + 511], 'D');
	uint16_t used_idx;
	memcpy(&used_idx, vm.mem.ram + USED + 2, 2);
	CU_ASSERT_EQUAL(used_idx, 1);
	uint32_t used_len;
	memcpy(&used_len, vm.mem.ram + USED + 8, 4);
	CU_ASSERT_EQUAL(used_len, 513);
	CU_ASSERT_EQUAL(rd(0x60) & 1, 1);                       /* interrupt raised */
	wr(0x64, 1);
	CU_ASSERT_EQUAL(rd(0x60), 0);
	memset(vm.mem.ram + DATA, 'W', 1024);
	CU_ASSERT_EQUAL(request(1, 100, 1024, false), 0);       /* write sectors 100-101 */
	CU_ASSERT_EQUAL(request(4, 0, 0, false), 0);            /* flush */
	int fd = open(img, O_RDONLY);
	char buf[1024];
	CU_ASSERT_EQUAL(pread(fd, buf, 1024, 512 * 100), 1024);
	CU_ASSERT_EQUAL(buf[0], 'W');
	CU_ASSERT_EQUAL(buf[1023], 'W');
	close(fd);
	CU_ASSERT_EQUAL(request(0, 2047, 1024, true), 1);       /* past the end: IOERR */
	CU_ASSERT_EQUAL(request(77, 0, 512, true), 2);          /* unknown type: UNSUPP */
	teardown();
}

static void test_virtio_blk_readonly_and_hostile(void)
{
	CU_ASSERT_FATAL(setup(true) == 0);
	driver_init();
	CU_ASSERT_EQUAL(request(1, 0, 512, false), 1);          /* write to RO: IOERR */
	/* A descriptor pointing outside guest RAM marks the device NEEDS_RESET. */
	put_desc(0, 0x7fff0000000ull, 16, 0, 0);
	uint16_t head = 0;
	memcpy(vm.mem.ram + AVAIL + 4 + 2 * (avail_idx % QSZ), &head, 2);
	avail_idx++;
	memcpy(vm.mem.ram + AVAIL + 2, &avail_idx, 2);
	wr(0x50, 0);
	CU_ASSERT_EQUAL(rd(0x70) & 64, 64);
	CU_ASSERT_FALSE(vm_stopping(&vm));
	teardown();
}

static void test_virtio_blk_bad_image(void)
{
	snprintf(img, sizeof(img), "/tmp/vmlite-vblk-odd-%d.img", (int)getpid());
	int fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CU_ASSERT_EQUAL(write(fd, "abc", 3), 3);
	close(fd);
	config_defaults(&cfg);
	cfg.mem_size = 16ull << 20;
	cfg.serial = SERIAL_NONE;
	cfg.disks[0] = (struct disk_config){ img, false };
	cfg.ndisks = 1;
	CU_ASSERT_EQUAL(vm_create(&vm, &cfg, &engine_null), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_msg(), "multiple of 512"));
	unlink(img);
}

UNIT_SUITE(virtio,
	UNIT_CASE(test_virtio_mmio_identity),
	UNIT_CASE(test_virtio_blk_io),
	UNIT_CASE(test_virtio_blk_readonly_and_hostile),
	UNIT_CASE(test_virtio_blk_bad_image))
