/* SPDX-License-Identifier: GPL-2.0 */
/* Where connections are closed: iterator passes over what exists now. */
#ifndef CONNCTL_CLOSER_H
#define CONNCTL_CLOSER_H

#include <stdint.h>
#include "connctl.h"
#include "loader.h"

struct pass_result {
	uint64_t	matched;	/* connections the rule matched (untag: had its tag) */
	uint64_t	failed;		/* matched, but the action failed */
	uint64_t	lost;		/* events the ring buffer had no room for */
	uint64_t	pending;	/* sweep: tagged connections still open */
	uint64_t	next_ns;	/* sweep: a quiet period runs out; 0: none */
};

/*
 * One tcp iterator pass applying rule to every connection of the namespace:
 * reset now, or tag for drain or cancel (events follow on the ring buffer).
 */
int closer_apply_existing(struct datapath *dp, const struct connctl_rule *rule,
			  struct pass_result *res);
/* A pass over tagged connections: boundaries reached, drains timed out. */
int closer_sweep(struct datapath *dp, struct pass_result *res);
/* A pass that removes the tags of a deleted rule. */
int closer_untag(struct datapath *dp, uint32_t rule_id, struct pass_result *res);

#endif /* CONNCTL_CLOSER_H */
