/* Probe-group formation (see bt_group.h and docs/binary-translation.md):
 * pure bookkeeping over a block's instruction list, no code emission. */
#include <string.h>

#include "bt_group.h"

#define MAX_CAND 64

int bt_group_form(const struct bt_gacc *a, int n, struct bt_group *g, int maxg, int8_t *grp,
		  int32_t *moff)
{
	struct bt_group cand[MAX_CAND];
	bool open[MAX_CAND];
	int32_t off[MAX_CAND];  /* the base now minus the base at the leader */
	int8_t cgrp[256];
	int32_t coff[256];
	int nc = 0;
	if (n > (int)sizeof(cgrp))
		n = (int)sizeof(cgrp);
	for (int i = 0; i < n; i++) {
		cgrp[i] = -1;
		coff[i] = 0;
		if (a[i].barrier) {
			for (int c = 0; c < nc; c++)
				open[c] = false;
			continue;
		}
		if (a[i].base >= 0) {
			int c = -1;
			for (int k = 0; k < nc; k++)
				if (open[k] && cand[k].base == a[i].base)
					c = k;
			if (c >= 0) {
				int64_t alo = (int64_t)a[i].lo + off[c];
				int64_t ahi = (int64_t)a[i].hi + off[c];
				int64_t lo = alo < cand[c].lo ? alo : cand[c].lo;
				int64_t hi = ahi > cand[c].hi ? ahi : cand[c].hi;
				if (hi - lo <= BT_GROUP_SPAN) {
					cand[c].lo = (int32_t)lo;
					cand[c].hi = (int32_t)hi;
					cand[c].last = i;
					cand[c].members++;
					cand[c].write |= a[i].write;
				} else {
					open[c] = false;
					c = -1;
				}
			}
			if (c < 0 && nc < MAX_CAND && (int64_t)a[i].hi - a[i].lo <= BT_GROUP_SPAN) {
				c = nc++;
				memset(&cand[c], 0, sizeof(cand[c]));
				cand[c].leader = cand[c].last = i;
				cand[c].base = a[i].base;
				cand[c].lo = a[i].lo;
				cand[c].hi = a[i].hi;
				cand[c].write = a[i].write;
				cand[c].members = 1;
				cand[c].slot = -1;
				off[c] = 0;
				open[c] = true;
			}
			if (c >= 0) {
				cgrp[i] = (int8_t)c;
				coff[i] = off[c];
			}
		}
		/* A member may write its own base (mov rdi, [rdi+8]): its
		 * address was formed before the write, later ones are not. */
		for (int c = 0; c < nc; c++) {
			if (open[c] && (a[i].writes & (1u << cand[c].base)))
				open[c] = false;
			/* push/pop/sub rsp: later members see the moved base */
			if (open[c] && a[i].adj_reg == cand[c].base) {
				int64_t moved = (int64_t)off[c] + a[i].adj;
				if (moved < -BT_GROUP_SPAN * 4 || moved > BT_GROUP_SPAN * 4)
					open[c] = false;
				else
					off[c] = (int32_t)moved;
			}
		}
	}
	/* Slots, in leader order (candidates are created in that order): a
	 * slot is free again after its group's last member. */
	int busy_until[BT_GROUP_SLOTS];
	for (int k = 0; k < BT_GROUP_SLOTS; k++)
		busy_until[k] = -1;
	int map[MAX_CAND];
	int ng = 0;
	for (int c = 0; c < nc; c++) {
		map[c] = -1;
		if (cand[c].members < 2 || ng >= maxg)
			continue;
		for (int k = 0; k < BT_GROUP_SLOTS; k++) {
			if (busy_until[k] < cand[c].leader) {
				busy_until[k] = cand[c].last;
				cand[c].slot = k;
				break;
			}
		}
		if (cand[c].slot < 0)
			continue;
		map[c] = ng;
		g[ng++] = cand[c];
	}
	for (int i = 0; i < n; i++) {
		grp[i] = cgrp[i] >= 0 ? (int8_t)map[cgrp[i]] : -1;
		moff[i] = grp[i] >= 0 ? coff[i] : 0;
	}
	return ng;
}
