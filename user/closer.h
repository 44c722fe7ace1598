/* SPDX-License-Identifier: GPL-2.0 */
/* Where connections are closed: iterator passes over what exists now. */
#ifndef CONNCTL_CLOSER_H
#define CONNCTL_CLOSER_H

#include <stdint.h>
#include "connctl.h"
#include "loader.h"

struct pass_result {
	uint64_t	matched;	/* connections the rule matched */
	uint64_t	failed;		/* matched, but the action failed */
};

/* One tcp iterator pass applying rule to every connection of the namespace. */
int closer_apply_existing(struct datapath *dp, const struct connctl_rule *rule,
			  struct pass_result *res);

#endif /* CONNCTL_CLOSER_H */
