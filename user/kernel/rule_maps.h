/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's copy of the rules: the pinned rules hash (what bpftool shows
 * and where programs read a rule's fields), the packed index of ids, the ids
 * by remote prefix that sockops and tc look up, and the pinned per-rule
 * tallies. Only this file writes them.
 */
#ifndef CONNCTL_RULE_MAPS_H
#define CONNCTL_RULE_MAPS_H

#include <stddef.h>
#include <stdint.h>
#include "connctl.h"
#include "kernel/loader.h"

/*
 * The standing rules as the maps are rebuilt from them, sorted by id: n
 * rules at base, stride bytes apart (a view into whoever keeps them).
 */
struct rule_view {
	const char	*base;
	size_t		n;
	size_t		stride;
};

static inline const struct connctl_rule *rule_view_at(const struct rule_view *v, size_t i)
{
	return (const struct connctl_rule *)(v->base + i * v->stride);
}

int kernel_rules_open(struct datapath *dp);
void kernel_rules_close(struct datapath *dp);
int kernel_rule_add(struct datapath *dp, const struct connctl_rule *rule);
/* rule has left the standing ones already: what is left of its prefix is listed from them. */
void kernel_rule_del(struct datapath *dp, const struct rule_view *standing,
		     const struct connctl_rule *rule);

/* Each pinned rule, with its pinned tally (NULL: none); fn's error stops the walk. */
typedef int pinned_rule_fn(void *ctx, const struct connctl_rule *rule,
			   const struct connctl_rule_tally *tally);
int kernel_rules_read(struct datapath *dp, pinned_rule_fn *fn, void *ctx);
/* Make the index and the prefix trie list exactly the standing rules. */
int kernel_rules_reindex(struct datapath *dp, const struct rule_view *standing);
/* A rule's counts into the pinned rule_tally, so a restarted agent carries on. */
int kernel_tally_write(struct datapath *dp, uint32_t id, const struct connctl_rule_tally *tally);

#endif /* CONNCTL_RULE_MAPS_H */
