// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "base/clock.h"
#include "agent.h"
#include "kernel/flows.h"
#include "sys/cgroup.h"
#include "sockops.skel.h"

/* How long a flow stays once it is over, or once nothing has crossed it. */
#define RESET_LINGER_NS		(10 * NSEC_PER_SEC)	/* strays still drop */
#define CLOSING_LINGER_NS	(5 * NSEC_PER_SEC)
#define IDLE_LIMIT_NS		(600 * NSEC_PER_SEC)

static const char *const state_names[] = {
	[CONNCTL_FLOW_OPEN]	= "open",
	[CONNCTL_FLOW_FIN_IN]	= "fin-in",
	[CONNCTL_FLOW_FIN_OUT]	= "fin-out",
	[CONNCTL_FLOW_CLOSING]	= "closing",
	[CONNCTL_FLOW_RESET]	= "reset",
};

static int flows_fd(struct agent *agent)
{
	return bpf_map__fd(agent->dp.sockops->maps.flows);
}

static json_t *flow_to_json(const struct agent *agent, const struct connctl_flow_key *k,
			    const struct connctl_flow *f, uint64_t now)
{
	char l[PREFIX_STRLEN], r[PREFIX_STRLEN];
	const char *state = (unsigned int)f->state < sizeof(state_names) / sizeof(state_names[0]) ?
			    state_names[f->state] : "?";
	json_t *obj;

	format_addr(k->laddr, l, sizeof(l));
	format_addr(k->raddr, r, sizeof(r));
	obj = json_pack("{s:s, s:i, s:s, s:i, s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, "
			"s:I, s:I}",
			"local", l, "lport", k->lport, "remote", r, "rport", k->rport,
			"rule", (json_int_t)f->rule_id, "action", action_name(f->action),
			"state", state, "mark", (json_int_t)f->mark,
			"packets_in", (json_int_t)f->packets_in,
			"packets_out", (json_int_t)f->packets_out,
			"bytes_in", (json_int_t)f->bytes_in,
			"bytes_out", (json_int_t)f->bytes_out,
			"dropped", (json_int_t)f->dropped,
			"age_ms", (json_int_t)((now - f->first_seen_ns) / NSEC_PER_MSEC),
			"idle_ms", (json_int_t)((now - f->last_seen_ns) / NSEC_PER_MSEC));
	/* tc is on the agent's own interfaces: the flows are its namespace's. */
	netns_to_json(obj, &agent->netns, agent->netns.own_ino);
	if (obj && f->cgroup_id)
		json_object_set_new(obj, "cgroup", json_string(cgroup2_name(f->cgroup_id)));
	return obj;
}

json_t *flows_to_json(struct agent *agent, bool one_rule, uint32_t rule_id)
{
	struct connctl_flow_key key, next;
	struct connctl_flow flow;
	json_t *arr = json_array();
	uint64_t now = monotonic_ns();
	int fd = flows_fd(agent);
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &flow))
			continue;	/* removed while we walk */
		if (one_rule && flow.rule_id != rule_id)
			continue;
		json_array_append_new(arr, flow_to_json(agent, &key, &flow, now));
	}
	return arr;
}

static size_t count_entries(int fd, size_t key_size)
{
	char key[64], next[64];
	void *prev = NULL;
	size_t n = 0;

	if (key_size > sizeof(key))
		return 0;
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, key_size);
		prev = key;
		n++;
	}
	return n;
}

struct connctl_rule_counters *tc_counters_buffer(int *ncpu)
{
	*ncpu = libbpf_num_possible_cpus();
	return *ncpu > 0 ? calloc((size_t)*ncpu, sizeof(struct connctl_rule_counters)) : NULL;
}

void tc_rule_counters(struct agent *agent, uint32_t id, struct connctl_rule_counters *pcpu,
		      int ncpu, struct connctl_rule_counters *sum)
{
	int fd = bpf_map__fd(agent->dp.sockops->maps.rule_stats);

	memset(sum, 0, sizeof(*sum));
	if (!pcpu || bpf_map_lookup_elem(fd, &id, pcpu))
		return;
	for (int c = 0; c < ncpu; c++) {
		sum->flows += pcpu[c].flows;
		sum->packets_in += pcpu[c].packets_in;
		sum->packets_out += pcpu[c].packets_out;
		sum->bytes_in += pcpu[c].bytes_in;
		sum->bytes_out += pcpu[c].bytes_out;
		sum->dropped += pcpu[c].dropped;
	}
}

size_t tc_flow_count(struct agent *agent)
{
	return count_entries(flows_fd(agent), sizeof(struct connctl_flow_key));
}

json_t *tc_stats_to_json(struct agent *agent)
{
	struct connctl_rule_counters sum, *pcpu;
	json_t *rules = json_array();
	int ncpu;

	pcpu = tc_counters_buffer(&ncpu);
	for (size_t i = 0; pcpu && i < agent->rules.n; i++) {
		const struct connctl_rule *rule = &agent->rules.v[i].spec.rule;

		tc_rule_counters(agent, rule->id, pcpu, ncpu, &sum);
		json_array_append_new(rules, json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}",
			"flows", (json_int_t)sum.flows,
			"packets_in", (json_int_t)sum.packets_in,
			"packets_out", (json_int_t)sum.packets_out,
			"bytes_in", (json_int_t)sum.bytes_in,
			"bytes_out", (json_int_t)sum.bytes_out,
			"dropped", (json_int_t)sum.dropped,
			"rule", (json_int_t)rule->id, "action", action_name(rule->action)));
	}
	free(pcpu);
	return json_pack("{s:o, s:I, s:I, s:I}", "rules", rules,
			 "flows", (json_int_t)tc_flow_count(agent),
			 "unmatched_flows_cached",
			 (json_int_t)count_entries(bpf_map__fd(agent->dp.sockops->maps.flow_miss),
						   sizeof(struct connctl_flow_key)),
			 "interfaces", (json_int_t)agent->cfg.n_ifaces);
}

static bool flow_is_over(const struct connctl_flow *f, uint64_t now)
{
	uint64_t idle = now > f->last_seen_ns ? now - f->last_seen_ns : 0;

	switch (f->state) {
	case CONNCTL_FLOW_RESET:
		return idle > RESET_LINGER_NS;
	case CONNCTL_FLOW_OPEN:
		return idle > IDLE_LIMIT_NS;
	default:
		return idle > CLOSING_LINGER_NS;
	}
}

void flows_collect(struct agent *agent)
{
	struct connctl_flow_key key, next, *over = NULL, *grown;
	struct connctl_flow flow;
	uint64_t now = monotonic_ns();
	size_t n = 0, cap = 0;
	int fd = flows_fd(agent);
	void *prev = NULL;

	/* Collect first: deleting the key a walk stands on restarts the walk. */
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &flow) || !flow_is_over(&flow, now))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			grown = realloc(over, cap * sizeof(*over));
			if (!grown)
				break;
			over = grown;
		}
		over[n++] = key;
	}
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(fd, &over[i]);
	if (n)
		pr_debug("flows: %zu over and removed", n);
	free(over);
}
