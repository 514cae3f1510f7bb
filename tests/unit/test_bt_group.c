/* Probe-group formation (binary-translation/bt_group.c): which accesses of a
 * block may share one soft-TLB check. */
#include <string.h>

#include "bt_group.h"
#include "unit.h"
#include "x86.h"

static struct bt_gacc acc(int base, int32_t disp, int size, bool write)
{
	struct bt_gacc a;
	memset(&a, 0, sizeof(a));
	a.base = (int8_t)base;
	a.adj_reg = -1;
	a.lo = disp;
	a.hi = disp + size;
	a.write = write;
	return a;
}

static struct bt_gacc plain(uint16_t writes)
{
	struct bt_gacc a;
	memset(&a, 0, sizeof(a));
	a.base = -1;
	a.adj_reg = -1;
	a.writes = writes;
	return a;
}

static void test_group_struct_fields(void)
{
	struct bt_gacc a[] = { acc(GPR_RDI, 8, 8, false), plain(1u << GPR_RAX),
			       acc(GPR_RDI, 0, 4, true), acc(GPR_RDI, 16, 8, false) };
	struct bt_group g[4];
	int8_t grp[4];
	int32_t moff[4];
	CU_ASSERT_EQUAL_FATAL(bt_group_form(a, 4, g, 4, grp, moff), 1);
	CU_ASSERT_EQUAL(g[0].leader, 0);
	CU_ASSERT_EQUAL(g[0].last, 3);
	CU_ASSERT_EQUAL(g[0].members, 3);
	CU_ASSERT_EQUAL(g[0].lo, 0);
	CU_ASSERT_EQUAL(g[0].hi, 24);
	CU_ASSERT_TRUE(g[0].write);
	CU_ASSERT_EQUAL(grp[0], 0);
	CU_ASSERT_EQUAL(grp[1], -1);
	CU_ASSERT_EQUAL(grp[3], 0);
}

static void test_group_base_written(void)
{
	/* [rdi]; add rdi, 8; [rdi+8]: the second address is not the first's base. */
	struct bt_gacc a[] = { acc(GPR_RDI, 0, 8, false), plain(1u << GPR_RDI),
			       acc(GPR_RDI, 8, 8, false) };
	struct bt_group g[4];
	int8_t grp[3];
	int32_t moff[3];
	CU_ASSERT_EQUAL(bt_group_form(a, 3, g, 4, grp, moff), 0);
	CU_ASSERT_EQUAL(grp[0], -1);
	CU_ASSERT_EQUAL(grp[2], -1);
}

static void test_group_member_writes_base(void)
{
	/* [rdi+0]; mov rdi, [rdi+8]; [rdi+16]: the load that replaces rdi still
	 * belongs to the first group, the access after it does not. */
	struct bt_gacc a[] = { acc(GPR_RDI, 0, 8, false), acc(GPR_RDI, 8, 8, false),
			       acc(GPR_RDI, 16, 8, false) };
	a[1].writes = 1u << GPR_RDI;
	struct bt_group g[4];
	int8_t grp[3];
	int32_t moff[3];
	CU_ASSERT_EQUAL_FATAL(bt_group_form(a, 3, g, 4, grp, moff), 1);
	CU_ASSERT_EQUAL(g[0].last, 1);
	CU_ASSERT_EQUAL(grp[2], -1);
}

static void test_group_span_and_barrier(void)
{
	struct bt_gacc wide[] = { acc(GPR_RSI, 0, 8, false), acc(GPR_RSI, BT_GROUP_SPAN, 8, false) };
	struct bt_group g[4];
	int8_t grp[3];
	int32_t moff[3];
	CU_ASSERT_EQUAL(bt_group_form(wide, 2, g, 4, grp, moff), 0);
	struct bt_gacc cut[] = { acc(GPR_RSI, 0, 8, false), plain(0), acc(GPR_RSI, 8, 8, false) };
	cut[1].barrier = true;
	CU_ASSERT_EQUAL(bt_group_form(cut, 3, g, 4, grp, moff), 0);
}

static void test_group_slots(void)
{
	/* mpn_add_n's inner loop (three interleaved bases) fits; a fifth
	 * interleaved base finds no free slot and stays ungrouped. */
	struct bt_gacc a[10];
	int bases[5] = { GPR_R10, GPR_R11, GPR_R9, GPR_RSI, GPR_RDI };
	for (int i = 0; i < 10; i++)
		a[i] = acc(bases[i % 5], 8 * (i / 5), 8, i % 5 == 2);
	struct bt_group g[8];
	int8_t grp[10];
	int32_t moff[10];
	CU_ASSERT_EQUAL_FATAL(bt_group_form(a, 10, g, 8, grp, moff), 4);
	bool used[BT_GROUP_SLOTS] = { false };
	for (int k = 0; k < 4; k++) {
		CU_ASSERT_FALSE(used[g[k].slot]);
		used[g[k].slot] = true;
	}
	CU_ASSERT_EQUAL(grp[4], -1);
	CU_ASSERT_EQUAL(grp[9], -1);
	CU_ASSERT_TRUE(g[2].write);
}

static void test_group_stack(void)
{
	/* push rbx; push r12; sub rsp, 16; mov [rsp+8], rax; pop: one group
	 * over RSP as it was at the first push. */
	struct bt_gacc a[5] = { acc(GPR_RSP, -8, 8, true), acc(GPR_RSP, -8, 8, true),
				plain(0), acc(GPR_RSP, 8, 8, true), acc(GPR_RSP, 0, 8, false) };
	a[0].adj_reg = a[1].adj_reg = a[2].adj_reg = a[4].adj_reg = GPR_RSP;
	a[0].adj = a[1].adj = -8;
	a[2].adj = -16;
	a[4].adj = 8;
	struct bt_group g[4];
	int8_t grp[5];
	int32_t moff[5];
	CU_ASSERT_EQUAL_FATAL(bt_group_form(a, 5, g, 4, grp, moff), 1);
	CU_ASSERT_EQUAL(g[0].members, 4);
	CU_ASSERT_EQUAL(g[0].lo, -32);          /* the pop reads rsp0-32 .. rsp0-24 */
	CU_ASSERT_EQUAL(g[0].hi, 0);
	CU_ASSERT_EQUAL(grp[2], -1);
	/* Members find their address from RSP at the leader plus this. */
	CU_ASSERT_EQUAL(moff[0], 0);
	CU_ASSERT_EQUAL(moff[1], -8);
	CU_ASSERT_EQUAL(moff[3], -32);
	CU_ASSERT_EQUAL(moff[4], -32);
	CU_ASSERT_EQUAL(moff[2], 0);            /* not a member */
}

UNIT_SUITE(bt_group,
	UNIT_CASE(test_group_stack),
	UNIT_CASE(test_group_struct_fields),
	UNIT_CASE(test_group_base_written),
	UNIT_CASE(test_group_member_writes_base),
	UNIT_CASE(test_group_span_and_barrier),
	UNIT_CASE(test_group_slots))
