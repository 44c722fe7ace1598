/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The agent's table of standing rules, sorted by id, with the per-rule
 * counters the kernel does not keep. The kernel's copy is the pinned rules map.
 */
#ifndef CONNCTL_RULES_H
#define CONNCTL_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "engine/bus.h"
#include "engine/rule_spec.h"

struct rule_stats {
	uint64_t	matched;	/* connections that existed when it was added */
	uint64_t	new_matches;	/* connections established while it stood */
	uint64_t	closed[NR_CLOSE_OUTCOMES];	/* by how they ended */
	uint64_t	ended;		/* closed by owner or peer while waiting */
	uint64_t	pending;	/* waiting to drain or be cancelled */
};

struct rule_entry {
	struct rule_spec	spec;
	struct rule_stats	stats;
	bool			stats_dirty;	/* not yet in the pinned rule_tally */
};

struct rule_table {
	struct rule_entry	*v;
	size_t			n;
	size_t			cap;
	uint32_t		last_id;	/* highest id ever given out */
	bool			stats_dirty;	/* some entry's stats_dirty is set */
};

/* Its counts changed: the pinned rule_tally must follow. */
static inline void rule_stats_changed(struct rule_table *t, struct rule_entry *e)
{
	e->stats_dirty = true;
	t->stats_dirty = true;
}

void rule_table_free(struct rule_table *t);
struct rule_entry *rule_table_find(const struct rule_table *t, uint32_t id);
/* spec->rule.id must be set and not in the table. */
struct rule_entry *rule_table_insert(struct rule_table *t, const struct rule_spec *spec);
void rule_table_remove(struct rule_table *t, uint32_t id);
/* A free id: after every id seen, else the lowest free; 0 when none is. */
uint32_t rule_table_next_id(const struct rule_table *t);
/* Count id as given out without keeping a rule (a `once` rule). */
void rule_table_claim_id(struct rule_table *t, uint32_t id);

#endif /* CONNCTL_RULES_H */
