/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Maps shared by every connctl BPF object. Each object that includes this
 * header declares the same maps; libbpf pins them by name under the agent's
 * pin directory, so the sockops, iterator and tc objects share one instance.
 */
#ifndef CONNCTL_MAPS_BPF_H
#define CONNCTL_MAPS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "connctl.h"

/* Holds the layout version of the pinned maps beside it; see CONNCTL_LAYOUT. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct connctl_layout);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} layout SEC(".maps");

/* The standing rules, by id: what `bpftool map dump` shows operators. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CONNCTL_MAX_RULES);
	__type(key, __u32);
	__type(value, struct connctl_rule);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rules SEC(".maps");

/* Standing rule ids, packed: see struct connctl_rule_index. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct connctl_rule_index);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rule_index SEC(".maps");

/* Rule ids by remote prefix: see struct connctl_rule_bucket. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, CONNCTL_MAX_RULES + 1);
	__type(key, struct connctl_lpm_key);
	__type(value, struct connctl_rule_bucket);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rule_lpm SEC(".maps");

/* Rule ids by a port. */
struct rule_port_buckets {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CONNCTL_MAX_RULES);
	__type(key, __u32);
	__type(value, struct connctl_rule_bucket);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
};

/* By local port, for rules with no remote prefix and one local port. */
struct rule_port_buckets rule_ports SEC(".maps");

/* Rule ids by cgroup, for rules with a cgroup, no remote prefix and not by port. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CONNCTL_MAX_RULES);
	__type(key, __u64);
	__type(value, struct connctl_rule_bucket);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rule_cgroups SEC(".maps");

/* By remote port, for rules listed by none of the above and one remote port. */
struct rule_port_buckets rule_rports SEC(".maps");

/* How many rules rule_rports lists: with none, a connection skips its lookup. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rport_rules SEC(".maps");

/*
 * The rest of a bucket's ids, past its own: see struct connctl_chunk_key.
 * A bucket of n rules has n / 7 chunks at most.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CONNCTL_MAX_RULES / 4);
	__type(key, struct connctl_chunk_key);
	__type(value, struct connctl_rule_chunk);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rule_chunks SEC(".maps");

/* Per-socket tag: cannot go stale, it dies with the socket. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct connctl_sk_tag);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sk_tags SEC(".maps");

/*
 * The UDP sockets of the --cgroup subtree that connected, by cookie: the
 * namespace each is in. Added as they connect (bpf/sock_addr.bpf.c) or, for
 * those older than that hook, by one walk of each namespace; removed as
 * they are released. A UDP rule walks only the namespaces named here. Key
 * 0 (no socket's cookie) counts the sockets there was no room for.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CONNCTL_MAX_UDP_CONNS);
	__type(key, __u64);
	__type(value, __u64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udp_conns SEC(".maps");

#ifndef EEXIST
#define EEXIST	17
#endif

/* A connected UDP socket listed in udp_conns; the count of those lost when full. */
static __always_inline void udp_conn_add(__u64 cookie, __u64 netns_ino)
{
	__u64 lost_key = 0, one = 1, *lost;
	long err = bpf_map_update_elem(&udp_conns, &cookie, &netns_ino, BPF_NOEXIST);

	if (!err || err == -EEXIST)
		return;
	lost = bpf_map_lookup_elem(&udp_conns, &lost_key);
	if (lost)
		__sync_fetch_and_add(lost, 1);
	else
		bpf_map_update_elem(&udp_conns, &lost_key, &one, BPF_NOEXIST);
}

/* Kernel to agent: struct connctl_event records. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, CONNCTL_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} events SEC(".maps");

/* Flows a rule matched, as tc sees them; closed flows are removed. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CONNCTL_MAX_FLOWS);
	__type(key, struct connctl_flow_key);
	__type(value, struct connctl_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} flows SEC(".maps");

/* Flows no rule matched, with the rule_index gen that said so. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CONNCTL_MAX_FLOWS);
	__type(key, struct connctl_flow_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} flow_miss SEC(".maps");

/* Per-rule tc counters, by rule id. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, CONNCTL_MAX_RULES);
	__type(key, __u32);
	__type(value, struct connctl_rule_counters);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rule_stats SEC(".maps");

/* Interfaces with our tc filters, by ifindex: written by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CONNCTL_MAX_TC_IFACES);
	__type(key, __u32);
	__type(value, struct connctl_tc_iface);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tc_ifaces SEC(".maps");

/* The agent's per-rule counts, by rule id: written by the agent only. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CONNCTL_MAX_RULES);
	__type(key, __u32);
	__type(value, struct connctl_rule_tally);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rule_tally SEC(".maps");

/* Settings for, and counts kept for, the agent: struct connctl_agent_state. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct connctl_agent_state);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} agent_state SEC(".maps");

static __always_inline struct connctl_agent_state *agent_state_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&agent_state, &zero);
}

/* A rule's per-CPU tc and XDP counters, made at its first count. */
static __always_inline struct connctl_rule_counters *rule_counters_of(__u32 rule_id)
{
	struct connctl_rule_counters *c, zero = {};

	c = bpf_map_lookup_elem(&rule_stats, &rule_id);
	if (c)
		return c;
	bpf_map_update_elem(&rule_stats, &rule_id, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&rule_stats, &rule_id);
}

/* An event the ring buffer had no room for: the agent catches up by a sweep. */
static __always_inline void count_lost_event(void)
{
	struct connctl_agent_state *st = agent_state_get();

	if (st)
		__sync_fetch_and_add(&st->events_lost, 1);
}

#endif /* CONNCTL_MAPS_BPF_H */
