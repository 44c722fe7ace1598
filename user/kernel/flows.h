/* SPDX-License-Identifier: GPL-2.0 */
/* The tc side, read: the flow table and the per-rule counters. */
#ifndef CONNCTL_FLOWS_H
#define CONNCTL_FLOWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "connctl.h"

struct datapath;

typedef void flow_fn(void *ctx, const struct connctl_flow_key *key,
		     const struct connctl_flow *flow);

/* Each flow a rule matched (open, closing, reset). */
void flows_each(const struct datapath *dp, flow_fn *fn, void *ctx);
/* "open", "fin-in", "fin-out", "closing", "reset". */
const char *flow_state_name(enum connctl_flow_state state);
/* A buffer for one rule's per-CPU counters (ncpu of them); free() it. */
struct connctl_rule_counters *tc_counters_buffer(int *ncpu);
/* A rule's tc counters summed over the CPUs; zeros when it has none. */
void tc_rule_counters(const struct datapath *dp, uint32_t id,
		      struct connctl_rule_counters *pcpu, int ncpu,
		      struct connctl_rule_counters *sum);
/* Flows in tc's flow table, and unmatched flows cached. */
size_t tc_flow_count(const struct datapath *dp);
size_t tc_flow_miss_count(const struct datapath *dp);
/*
 * Remove flows that are over but left no last packet to say so: a reset
 * flow once its strays have had time to arrive, a closing flow whose last
 * ACK never passed, a flow idle past any keep-alive.
 */
void flows_collect(const struct datapath *dp);

#endif /* CONNCTL_FLOWS_H */
