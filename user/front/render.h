/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The JSON the protocol speaks, built from the engines' typed state: rules
 * with their counts, connections, close records, bus events for watchers,
 * flows and tc counters, an add's answer. Only the front builds JSON.
 */
#ifndef CONNCTL_RENDER_H
#define CONNCTL_RENDER_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "engine/bus.h"
#include "engine/rule_table.h"
#include "engine/rulebook.h"

struct datapath;
struct netns_set;

/* "netns": its inode, and "netns_name" where known, into obj. */
void render_netns(json_t *obj, const struct netns_set *ns, uint32_t ino);
json_t *render_rule(const struct rule_spec *spec, const struct rule_stats *stats,
		    uint64_t now_realtime);
json_t *render_close_record(const struct close_record *rec, const char *event,
			    const struct netns_set *ns);
/* A bus event as a watcher reads it; NULL for kinds watchers do not get. */
json_t *render_bus_event(const struct bus_event *ev, const struct netns_set *ns);
json_t *render_flows(const struct datapath *dp, const struct netns_set *ns, bool one_rule,
		     uint32_t rule_id);
json_t *render_tc_stats(const struct datapath *dp, const struct rule_table *rules,
			size_t n_ifaces);
/* The answer to a rule.add. */
json_t *render_add_result(const struct add_result *res, const struct netns_set *ns);

#endif /* CONNCTL_RENDER_H */
