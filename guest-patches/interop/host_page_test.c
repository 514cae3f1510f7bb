// SPDX-License-Identifier: GPL-2.0
/*
 * Interop check: the ABI page built by vmlite (hypervisor/vmi/vmi_page.c)
 * must pass the Linux guest's own page check and give the descriptor kinds
 * the guest acts on; one flipped byte must be refused.
 */
#include <stdio.h>
#include "vmi_host.h"
const char *guest_check(const void *page);
void guest_read(const void *page, uint8_t *kinds, uint32_t *aux);
static int check(enum vmi_backend be, enum vmi_transport tr, const char *name)
{
	static uint8_t page[4096] __attribute__((aligned(4096)));
	uint8_t kinds[41]; uint32_t aux[41];
	const char *why;
	if (vmi_page_build(page, sizeof(page), VMI_VERSION(1, 0), be, tr) < 0) { printf("build failed\n"); return 1; }
	why = guest_check(page);
	printf("%s: guest check: %s\n", name, why ? why : "OK");
	if (why) return 1;
	guest_read(page, kinds, aux);
	printf("  kinds:");
	for (int i = 0; i < 41; i++) printf(" %d", kinds[i]);
	printf("\n  irq group SHARED at offset 0: %s; features %#llx, transport %u\n",
	       kinds[1] == 3 && kinds[2] == 3 && kinds[3] == 3 && kinds[4] == 3 &&
	       !aux[1] && !aux[2] && !aux[3] && !aux[4] ? "yes" : "no",
	       (unsigned long long)((struct vmi_page_header *)page)->features,
	       ((struct vmi_page_header *)page)->transport);
	page[100] ^= 1;
	why = guest_check(page);
	printf("  one flipped byte: %s\n", why ? why : "ACCEPTED (bug)");
	return !why;
}
int main(void)
{
	return check(VMI_BACKEND_BT, VMI_TRANSPORT_VMCALL, "bt/vmcall") |
	       check(VMI_BACKEND_HW, VMI_TRANSPORT_PIO, "hw/pio");
}
