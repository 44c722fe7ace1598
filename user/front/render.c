// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include "base/clock.h"
#include "front/protocol.h"
#include "front/render.h"
#include "kernel/flows.h"
#include "sys/cgroup.h"
#include "sys/netns.h"

void render_netns(json_t *obj, const struct netns_set *ns, uint32_t ino)
{
	const char *name = netns_name(ns, ino);

	if (!obj || !ino)
		return;
	json_object_set_new(obj, "netns", json_integer(ino));
	if (name)
		json_object_set_new(obj, "netns_name", json_string(name));
}

static json_t *render_stats(const struct rule_stats *s)
{
	json_t *closed = json_object();

	for (int o = 0; o < NR_CLOSE_OUTCOMES; o++)
		json_object_set_new(closed, close_outcome_name(o),
				    json_integer((json_int_t)s->closed[o]));
	return json_pack("{s:I, s:I, s:o, s:I, s:I}",
			 "matched", (json_int_t)s->matched,
			 "new_matches", (json_int_t)s->new_matches,
			 "closed", closed,
			 "ended", (json_int_t)s->ended,
			 "pending", (json_int_t)s->pending);
}

json_t *render_rule(const struct rule_spec *spec, const struct rule_stats *stats, uint64_t now)
{
	json_t *obj = rule_spec_to_json(spec);
	uint64_t expires = spec->rule.expires_ns;

	if (expires)
		json_object_set_new(obj, "expires_in_ms",
				    json_integer(expires > now ?
						 (json_int_t)((expires - now) / NSEC_PER_MSEC) : 0));
	if (spec->rule.flags & CONNCTL_RULE_FROM_DIR)
		json_object_set_new(obj, "from_rules_dir", json_true());
	json_object_set_new(obj, "stats", render_stats(stats));
	return obj;
}

/* A connection as events name it: its addresses and ports, its rule. */
static json_t *render_conn(const char *event, uint64_t realtime, uint32_t rule_id,
			   enum connctl_action action, const struct connctl_tuple *t,
			   uint64_t cgroup_id, const struct netns_set *ns)
{
	char l[PREFIX_STRLEN], r[PREFIX_STRLEN];
	json_t *obj;

	format_addr(t->laddr, l, sizeof(l));
	format_addr(t->raddr, r, sizeof(r));
	obj = json_pack("{s:s*, s:I, s:I, s:s, s:s, s:i, s:s, s:i}", "event", event,
			"time_ms", (json_int_t)(realtime / NSEC_PER_MSEC),
			"rule", (json_int_t)rule_id, "action", action_name(action),
			"local", l, "lport", t->lport, "remote", r, "rport", t->rport);
	render_netns(obj, ns, t->netns_ino);
	if (obj && cgroup_id)
		json_object_set_new(obj, "cgroup", json_string(cgroup2_name(cgroup_id)));
	return obj;
}

json_t *render_close_record(const struct close_record *rec, const char *event,
			    const struct netns_set *ns)
{
	json_t *obj = render_conn(event, rec->realtime_ns, rec->rule_id, rec->action,
				  &rec->tuple, rec->cgroup_id, ns);

	if (!obj)
		return NULL;
	json_object_set_new(obj, "outcome", json_string(close_outcome_name(rec->outcome)));
	json_object_set_new(obj, "bytes_in", json_integer((json_int_t)rec->bytes_in));
	json_object_set_new(obj, "bytes_out", json_integer((json_int_t)rec->bytes_out));
	json_object_set_new(obj, "tag_to_close_ms", json_real(rec->tag_to_close_ns / 1e6));
	if (rec->ack_to_close_ns)
		json_object_set_new(obj, "last_ack_to_close_ms",
				    json_real(rec->ack_to_close_ns / 1e6));
	return obj;
}

json_t *render_bus_event(const struct bus_event *ev, const struct netns_set *ns)
{
	json_int_t time_ms = (json_int_t)(ev->realtime_ns / NSEC_PER_MSEC);

	switch (ev->kind) {
	case BUS_RULE_ADDED:
		return json_pack("{s:s, s:I, s:I, s:I, s:o}", "event", "rule.added",
				 "time_ms", time_ms, "rule", (json_int_t)ev->rule_id,
				 "matched", (json_int_t)ev->added.matched,
				 "spec", rule_spec_to_json(ev->added.spec));
	case BUS_RULE_REMOVED:
		return json_pack("{s:s, s:I, s:I, s:s}", "event", "rule.removed",
				 "time_ms", time_ms, "rule", (json_int_t)ev->rule_id,
				 "reason", rule_removal_name(ev->removed));
	case BUS_TAGGED:
	case BUS_ENDED:
		return render_conn(ev->kind == BUS_TAGGED ? "tagged" : "ended",
				   ev->realtime_ns, ev->rule_id, ev->action, &ev->conn->tuple,
				   ev->conn->cgroup_id, ns);
	case BUS_CLOSED:
		return render_close_record(ev->closed.rec, "closed", ns);
	default:
		return NULL;
	}
}

struct flows_out {
	json_t			*arr;
	const struct netns_set	*ns;
	bool			one_rule;
	uint32_t		rule_id;
	uint64_t		now;
};

static void render_flow(void *ctx, const struct connctl_flow_key *k,
			const struct connctl_flow *f)
{
	struct flows_out *out = ctx;
	char l[PREFIX_STRLEN], r[PREFIX_STRLEN];
	json_t *obj;

	if (out->one_rule && f->rule_id != out->rule_id)
		return;
	format_addr(k->laddr, l, sizeof(l));
	format_addr(k->raddr, r, sizeof(r));
	obj = json_pack("{s:s, s:i, s:s, s:i, s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, "
			"s:I, s:I}",
			"local", l, "lport", k->lport, "remote", r, "rport", k->rport,
			"rule", (json_int_t)f->rule_id, "action", action_name(f->action),
			"state", flow_state_name(f->state), "mark", (json_int_t)f->mark,
			"packets_in", (json_int_t)f->packets_in,
			"packets_out", (json_int_t)f->packets_out,
			"bytes_in", (json_int_t)f->bytes_in,
			"bytes_out", (json_int_t)f->bytes_out,
			"dropped", (json_int_t)f->dropped,
			"age_ms", (json_int_t)((out->now - f->first_seen_ns) / NSEC_PER_MSEC),
			"idle_ms", (json_int_t)((out->now - f->last_seen_ns) / NSEC_PER_MSEC));
	/* tc is on the agent's own interfaces: the flows are its namespace's. */
	render_netns(obj, out->ns, out->ns->own_ino);
	if (obj && f->cgroup_id)
		json_object_set_new(obj, "cgroup", json_string(cgroup2_name(f->cgroup_id)));
	json_array_append_new(out->arr, obj);
}

json_t *render_flows(const struct datapath *dp, const struct netns_set *ns, bool one_rule,
		     uint32_t rule_id)
{
	struct flows_out out = { .arr = json_array(), .ns = ns, .one_rule = one_rule,
				 .rule_id = rule_id, .now = monotonic_ns() };

	flows_each(dp, render_flow, &out);
	return out.arr;
}

json_t *render_tc_stats(const struct datapath *dp, const struct rule_table *rules,
			size_t n_ifaces)
{
	struct connctl_rule_counters sum, *pcpu;
	json_t *arr = json_array();
	int ncpu;

	pcpu = tc_counters_buffer(&ncpu);
	for (size_t i = 0; pcpu && i < rules->n; i++) {
		const struct rule_entry *rule = &rules->v[i];

		tc_rule_counters(dp, rule->id, pcpu, ncpu, &sum);
		json_array_append_new(arr, json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}",
			"flows", (json_int_t)sum.flows,
			"dropped_xdp", (json_int_t)sum.dropped_xdp,
			"blocked_packets", (json_int_t)sum.blocked_packets,
			"blocked_bytes", (json_int_t)sum.blocked_bytes,
			"packets_in", (json_int_t)sum.packets_in,
			"packets_out", (json_int_t)sum.packets_out,
			"bytes_in", (json_int_t)sum.bytes_in,
			"bytes_out", (json_int_t)sum.bytes_out,
			"dropped", (json_int_t)sum.dropped,
			"rule", (json_int_t)rule->id, "action",
			rule_action_name(rule->action, rule->flags)));
	}
	free(pcpu);
	return json_pack("{s:o, s:I, s:I, s:I}", "rules", arr,
			 "flows", (json_int_t)tc_flow_count(dp),
			 "unmatched_flows_cached", (json_int_t)tc_flow_miss_count(dp),
			 "interfaces", (json_int_t)n_ifaces);
}

/* With --netns: where a rule of the batch matched, namespace by namespace. */
static json_t *render_by_netns(const struct add_result *res, const struct netns_set *ns)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < res->n_by_netns; i++) {
		json_t *obj;

		if (res->by_netns[i].rule != res->slot)
			continue;
		obj = json_pack("{s:I}", "matched", (json_int_t)res->by_netns[i].matched);
		render_netns(obj, ns, res->by_netns[i].netns_ino);
		json_array_append_new(arr, obj);
	}
	return arr;
}

json_t *render_add_result(const struct add_result *res, const struct netns_set *ns)
{
	json_t *resp;

	if (res->error.code != PROTO_OK)
		return error_to_json(&res->error);
	resp = json_pack("{s:b, s:I, s:I, s:o}", "ok", 1, "id", (json_int_t)res->spec->rule.id,
			 "matched", (json_int_t)res->matched,
			 "rule", rule_spec_to_json(res->spec));
	if (netns_many(ns))
		json_object_set_new(resp, "namespaces", render_by_netns(res, ns));
	if (res->failed)
		json_object_set_new(resp, "failed", json_integer((json_int_t)res->failed));
	return resp;
}
