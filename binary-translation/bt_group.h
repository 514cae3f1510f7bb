/* Probe groups: memory accesses of one block that share a base register the
 * block does not change in between, checked against the soft TLB once. */
#ifndef VMLITE_BT_GROUP_H
#define VMLITE_BT_GROUP_H

#include <stdbool.h>
#include <stdint.h>

/* Groups live at once (each keeps the host address its base register had
 * at the leader in a slot of the vCPU block), and the widest byte span one group may cover: wider spans
 * cross a page more often and then take the ungrouped copy every time. */
#define BT_GROUP_SLOTS 4
#define BT_GROUP_SPAN  512

/* One guest instruction as the grouping sees it. */
struct bt_gacc {
	int8_t base;            /* base GPR of a groupable memory operand, or -1 */
	bool write;             /* that operand is written */
	bool barrier;           /* ends every open group (not plain straight-line code) */
	int32_t lo, hi;         /* bytes [base+lo, base+hi) are accessed */
	uint16_t writes;        /* GPRs the instruction writes (other than by adj) */
	int8_t adj_reg;         /* a GPR it moves by a known amount (push, pop, */
	int32_t adj;            /* sub rsp, imm: RSP), or -1; applied after the access */
};

struct bt_group {
	int leader, last;       /* first and last member (instruction indices) */
	int base, slot, members;
	int32_t lo, hi;         /* span of all members, relative to the base's
				 * value at the leader */
	bool write;             /* some member writes: probe the write tag */
};

/* Forms groups of >= 2 members over a[0..n-1]; grp[i] is the group of
 * instruction i or -1, and moff[i] what its group's base register has moved
 * by since the leader (push/pop/sub rsp before it), 0 outside groups.
 * Returns the number of groups (at most maxg). */
int bt_group_form(const struct bt_gacc *a, int n, struct bt_group *g, int maxg, int8_t *grp,
		  int32_t *moff);

#endif
