/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's copy of the rules: the pinned rules hash (what bpftool shows
 * and where programs read a rule's fields), the packed index of ids, and the
 * ids by remote prefix that sockops and tc look up. Only this file writes them.
 */
#ifndef CONNCTL_KERNEL_RULES_H
#define CONNCTL_KERNEL_RULES_H

#include "connctl.h"
#include "kernel/loader.h"
#include "engine/rule_table.h"

int kernel_rules_open(struct datapath *dp);
void kernel_rules_close(struct datapath *dp);
int kernel_rule_add(struct datapath *dp, const struct connctl_rule *rule);
/* rule has left t already: what is left of its prefix is listed from t. */
void kernel_rule_del(struct datapath *dp, const struct rule_table *t,
		     const struct connctl_rule *rule);
/* Read the pinned rules into the table, and make the index list exactly them. */
int kernel_rules_adopt(struct datapath *dp, struct rule_table *t);

/* The counts of rules whose stats changed, into the pinned rule_tally. */
void kernel_rules_save_tallies(struct datapath *dp, struct rule_table *t);

#endif /* CONNCTL_KERNEL_RULES_H */
