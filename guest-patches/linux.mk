# Linux guest kernel with the VMI backend (included from the top-level Makefile).
.PHONY: guest-linux guest-linux-check
guest-linux:
	@bash scripts/build-guest-linux.sh

# Boots the kernel under QEMU/TCG (no VMI page there: the native paths), with
# and without vmi=off.
guest-linux-check: guest-linux
	@bash guest-patches/qemu-boot-check.sh
