/* SPDX-License-Identifier: GPL-2.0 */
/* The tc side, as the agent shows it: the flow table and per-rule counters. */
#ifndef CONNCTL_FLOWS_H
#define CONNCTL_FLOWS_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

struct agent;

/* Flows a rule matched, all or those of one rule. */
json_t *flows_to_json(struct agent *agent, bool one_rule, uint32_t rule_id);
/* Per-rule tc counters, summed over CPUs, and the tables' sizes. */
json_t *tc_stats_to_json(struct agent *agent);
/*
 * Remove flows that are over but left no last packet to say so: a reset
 * flow once its strays have had time to arrive, a closing flow whose last
 * ACK never passed, a flow idle past any keep-alive.
 */
void flows_collect(struct agent *agent);

#endif /* CONNCTL_FLOWS_H */
