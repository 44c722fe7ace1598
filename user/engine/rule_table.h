/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The agent's table of standing rules, sorted by id: what it must know of a
 * rule without asking the kernel. A rule's body is the kernel's copy, in the
 * pinned rules map; the agent keeps about 24 bytes a rule, more only for a
 * rule with a ttl, a cgroup path or counts (its extra).
 */
#ifndef CONNCTL_RULES_H
#define CONNCTL_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "engine/bus.h"
#include "engine/rule_spec.h"

/* The per-rule counts the kernel does not keep. */
struct rule_stats {
	uint64_t	matched;	/* connections that existed when it was added */
	uint64_t	new_matches;	/* connections established while it stood */
	uint64_t	closed[NR_CLOSE_OUTCOMES];	/* by how they ended */
	uint64_t	ended;		/* closed by owner or peer while waiting */
	uint64_t	pending;	/* waiting to drain or be cancelled */
};

/* What few rules have: a hundred thousand rules that match nothing have none. */
struct rule_extra {
	uint64_t		ttl_ns;		/* as given; 0: none, or adopted */
	uint64_t		expires_ns;	/* CLOCK_REALTIME; 0: never */
	const char		*cgroup;	/* its path, in the rule book's pool */
	struct rule_stats	stats;
};

struct rule_entry {
	uint32_t		id;
	uint32_t		listing;	/* where the kernel lists it: kernel_rule_listing() */
	struct rule_extra	*extra;		/* NULL: no ttl, no cgroup path, no counts */
	uint8_t			action;		/* enum connctl_action */
	uint8_t			flags;		/* enum connctl_rule_flags */
	uint8_t			proto;		/* enum connctl_proto */
	bool			stats_dirty;	/* not yet in the pinned rule_tally */
};

struct rule_table {
	struct rule_entry	*v;
	size_t			n;
	size_t			cap;
	uint32_t		last_id;	/* highest id ever given out */
	bool			stats_dirty;	/* some entry's stats_dirty is set */
	/*
	 * CLOCK_REALTIME: no standing rule expires before this (a removal may
	 * leave it early); 0: none expires. Spares a look at every rule.
	 */
	uint64_t		expiry_bound_ns;
};

/* Its counts changed: the pinned rule_tally must follow. */
static inline void rule_stats_changed(struct rule_table *t, struct rule_entry *e)
{
	e->stats_dirty = true;
	t->stats_dirty = true;
}

static inline uint64_t rule_expires_ns(const struct rule_entry *e)
{
	return e->extra ? e->extra->expires_ns : 0;
}

static inline const char *rule_cgroup_path(const struct rule_entry *e)
{
	return e->extra ? e->extra->cgroup : NULL;
}

void rule_table_free(struct rule_table *t);
struct rule_entry *rule_table_find(const struct rule_table *t, uint32_t id);
/*
 * spec->rule.id must be set and not in the table; listing is where the
 * kernel lists the rule.
 */
struct rule_entry *rule_table_insert(struct rule_table *t, const struct rule_spec *spec,
				     uint32_t listing);
void rule_table_remove(struct rule_table *t, uint32_t id);
/* A free id: after every id seen, else the lowest free; 0 when none is. */
uint32_t rule_table_next_id(const struct rule_table *t);
/* Count id as given out without keeping a rule (a `once` rule). */
void rule_table_claim_id(struct rule_table *t, uint32_t id);
/* Its counts, all zero when it has none. */
const struct rule_stats *rule_stats_of(const struct rule_entry *e);
/* Its counts to change, made when it has none; NULL when out of memory. */
struct rule_stats *rule_stats_edit(struct rule_table *t, struct rule_entry *e);
/* The table's part of a rule's spec: its ttl and cgroup path (the rest is the kernel's). */
void rule_entry_spec(const struct rule_entry *e, struct rule_spec *spec);

#endif /* CONNCTL_RULES_H */
