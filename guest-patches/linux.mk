# Linux guest kernel with the VMI backend (included from the top-level Makefile).
.PHONY: guest-linux guest-linux-check
guest-linux:
	@bash scripts/build-guest-linux.sh

# Boots the kernel under QEMU/TCG (no VMI page there: the native paths), with
# and without vmi=off.
guest-linux-check: guest-linux
	@bash guest-patches/qemu-boot-check.sh

# The guest's page check (extracted from the patched tree) against vmlite's
# page builder, for both backends.
.PHONY: guest-linux-interop
guest-linux-interop: guest-linux
	@bash guest-patches/interop/run.sh
