/* Devices register themselves (kvmtool style): each device file declares a
 * struct device_ops with DEVICE_REGISTER() and the vm creates them in order. */
#ifndef VMLITE_DEVICE_H
#define VMLITE_DEVICE_H

struct vm;

struct device_ops {
	const char *name;
	int order;                      /* lower initialises first */
	int (*init)(struct vm *vm);     /* registers bus ranges; -1 + err_set on failure */
	void (*destroy)(struct vm *vm);
};

void device_register(const struct device_ops *ops);
int devices_init(struct vm *vm);
void devices_destroy(struct vm *vm);

#define DEVICE_REGISTER(ops) \
	static void __attribute__((constructor)) ops##_register(void) \
	{ device_register(&(ops)); }

/* Indices into vm->devices[] for devices others need to reach. */
enum device_id { DEV_UART0, DEV_DEBUG_EXIT, DEV_POST, DEV_I8042, DEV_ACPI_PM,
		 DEV_CLOCK, DEV_PIC, DEV_PIT, DEV_RTC, DEV_IOAPIC, DEV_LAPIC, DEV_ID_MAX };

#endif
