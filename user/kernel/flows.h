/* SPDX-License-Identifier: GPL-2.0 */
/* The tc side, as the agent shows it: the flow table and per-rule counters. */
#ifndef CONNCTL_FLOWS_H
#define CONNCTL_FLOWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct agent;
struct connctl_rule_counters;

/* Flows a rule matched, all or those of one rule. */
json_t *flows_to_json(struct agent *agent, bool one_rule, uint32_t rule_id);
/* Per-rule tc counters, summed over CPUs, and the tables' sizes. */
json_t *tc_stats_to_json(struct agent *agent);
/* A buffer for one rule's per-CPU counters (ncpu of them); free() it. */
struct connctl_rule_counters *tc_counters_buffer(int *ncpu);
/* A rule's tc counters summed over the CPUs; zeros when it has none. */
void tc_rule_counters(struct agent *agent, uint32_t id, struct connctl_rule_counters *pcpu,
		      int ncpu, struct connctl_rule_counters *sum);
/* Flows in tc's flow table. */
size_t tc_flow_count(struct agent *agent);
/*
 * Remove flows that are over but left no last packet to say so: a reset
 * flow once its strays have had time to arrive, a closing flow whose last
 * ACK never passed, a flow idle past any keep-alive.
 */
void flows_collect(struct agent *agent);

#endif /* CONNCTL_FLOWS_H */
