/* MC146818 RTC and CMOS RAM (ports 0x70/0x71), IRQ 8. */
#ifndef VMLITE_RTC_CMOS_H
#define VMLITE_RTC_CMOS_H

struct vm;

int rtc_vm_init(struct vm *vm);
void rtc_vm_destroy(struct vm *vm);

#endif
