/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The agent's counters since it started, kept from the bus alone: what rules
 * matched and closed, rules added and removed, the drain delay, the state
 * file's and the ring buffer's health. Only this file writes them.
 */
#ifndef CONNCTL_COUNTERS_H
#define CONNCTL_COUNTERS_H

#include <stdbool.h>
#include <stdint.h>
#include "connctl.h"
#include "engine/bus.h"

#define NR_ACTIONS		(CONNCTL_ACTION_RESET + 1)
/* Upper bounds of the drain delay histogram's buckets, in seconds. */
#define DRAIN_DELAY_BUCKETS	14

extern const double drain_delay_le[DRAIN_DELAY_BUCKETS];

struct counters {
	struct bus_sink	sink;
	uint64_t	matched_existing[NR_ACTIONS];
	uint64_t	matched_new[NR_ACTIONS];
	uint64_t	closed[NR_ACTIONS][NR_CLOSE_OUTCOMES];
	uint64_t	ended[NR_ACTIONS];
	uint64_t	drain_delay[DRAIN_DELAY_BUCKETS + 1];	/* the last: +Inf */
	uint64_t	drain_delay_count;
	double		drain_delay_sum;			/* seconds */
	uint64_t	rules_added;
	uint64_t	rules_removed[NR_REMOVALS];
	uint64_t	state_errors;	/* writes of the state file that failed */
	bool		state_failing;	/* the last one did */
	uint64_t	events_lost;
};

void counters_init(struct counters *c, struct bus *bus);

#endif /* CONNCTL_COUNTERS_H */
