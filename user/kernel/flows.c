// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "kernel/loader.h"
#include "kernel/flows.h"
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

static int flows_fd(const struct datapath *dp)
{
	return bpf_map__fd(dp->sockops->maps.flows);
}

const char *flow_state_name(enum connctl_flow_state state)
{
	return (unsigned int)state < sizeof(state_names) / sizeof(state_names[0]) ?
	       state_names[state] : "?";
}

void flows_each(const struct datapath *dp, flow_fn *fn, void *ctx)
{
	struct connctl_flow_key key, next;
	struct connctl_flow flow;
	int fd = flows_fd(dp);
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &flow))
			continue;	/* removed while we walk */
		fn(ctx, &key, &flow);
	}
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

void tc_rule_counters(const struct datapath *dp, uint32_t id,
		      struct connctl_rule_counters *pcpu, int ncpu,
		      struct connctl_rule_counters *sum)
{
	int fd = bpf_map__fd(dp->sockops->maps.rule_stats);

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
		sum->blocked_packets += pcpu[c].blocked_packets;
		sum->blocked_bytes += pcpu[c].blocked_bytes;
		sum->dropped_xdp += pcpu[c].dropped_xdp;
	}
}

size_t tc_flow_count(const struct datapath *dp)
{
	return count_entries(flows_fd(dp), sizeof(struct connctl_flow_key));
}

size_t tc_flow_miss_count(const struct datapath *dp)
{
	return count_entries(bpf_map__fd(dp->sockops->maps.flow_miss),
			     sizeof(struct connctl_flow_key));
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

void flows_collect(const struct datapath *dp)
{
	struct connctl_flow_key key, next, *over = NULL;
	struct connctl_flow flow;
	uint64_t now = monotonic_ns();
	size_t n = 0, cap = 0;
	int fd = flows_fd(dp);
	void *prev = NULL;

	/* Collect first: deleting the key a walk stands on restarts the walk. */
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &flow) || !flow_is_over(&flow, now))
			continue;
		if (array_grow(&over, &cap, n, sizeof(*over)))
			break;
		over[n++] = key;
	}
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(fd, &over[i]);
	if (n)
		pr_debug("flows: %zu over and removed", n);
	free(over);
}
