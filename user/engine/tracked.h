/* SPDX-License-Identifier: GPL-2.0 */
/* The connections the agent waits to close, in a hash table by socket cookie. */
#ifndef CONNCTL_TRACKED_H
#define CONNCTL_TRACKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "connctl.h"

/* A tagged connection the agent waits to close. */
struct tracked {
	uint64_t		cookie;		/* 0: free slot */
	struct connctl_tuple	tuple;
	uint32_t		rule_id;
	enum connctl_action	action;
	uint64_t		no_owner_since_ns;
	uint64_t		cgroup_id;	/* the socket's; 0: not known */
	uint64_t		due_ns;		/* look again then (a quiet run out, a retry); 0: no */
	uint64_t		deadline_ns;	/* a drain's timeout: reset then */
	bool			callbacks;	/* sockops reports its boundaries */
	bool			own_judgement;	/* found moved: the agent judges it at due_ns */
	/* No callbacks: at due_ns, looked at by sock_diag, not through its owner. */
	bool			diag_look;
	struct connctl_event	ev;		/* the kernel's last word on it */
};

/* Open addressing with linear probing; a cookie is never 0. */
struct tracked_table {
	struct tracked	*slots;
	size_t		cap;	/* a power of two, or 0 */
	size_t		n;
};

struct tracked *tracked_find(struct tracked_table *d, uint64_t cookie);
/* A zeroed entry with the cookie set, or NULL without memory. */
struct tracked *tracked_insert(struct tracked_table *d, uint64_t cookie);
/* Entries after t may move into its slot: re-read the slot after. */
void tracked_remove(struct tracked_table *d, struct tracked *t);
/*
 * Fewer slots once most are free: the table follows the connections
 * waiting now, not the most that ever waited. Moves every entry: never
 * while a caller walks the slots or holds an entry.
 */
void tracked_settle(struct tracked_table *d);
void tracked_table_free(struct tracked_table *d);

#endif /* CONNCTL_TRACKED_H */
