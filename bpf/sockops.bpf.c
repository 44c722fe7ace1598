// SPDX-License-Identifier: GPL-2.0
/*
 * sockops, attached to a cgroup v2: every TCP connection established by a
 * socket of that cgroup is matched against the standing rules. A match is
 * tagged (sk_storage) and reported to the agent, which closes it; sockops
 * itself cannot destroy a socket.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "connctl.h"
#include "maps.bpf.h"
#include "match.bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct best_match {
	struct connctl_tuple		tuple;
	struct connctl_rule_index	*index;
	__u32				rule_id;
	enum connctl_action		action;
};

static long match_rule(__u32 i, struct best_match *best)
{
	struct connctl_rule *rule;
	__u32 id;

	if (i >= CONNCTL_MAX_RULES)
		return 1;
	id = best->index->ids[i];
	/* NULL when the rule was deleted while we walk: it no longer applies. */
	rule = bpf_map_lookup_elem(&rules, &id);
	if (rule && rule_matches(rule, &best->tuple) &&
	    rule_beats(rule, best->rule_id, best->action)) {
		best->rule_id = rule->id;
		best->action = rule->action;
	}
	return 0;
}

static __always_inline void tuple_from_sockops(struct bpf_sock_ops *skops,
					       struct connctl_tuple *t)
{
	if (skops->family == AF_INET) {
		addr_set_v4(t->laddr, skops->local_ip4);
		addr_set_v4(t->raddr, skops->remote_ip4);
	} else {
		__u32 l[4] = { skops->local_ip6[0], skops->local_ip6[1],
			       skops->local_ip6[2], skops->local_ip6[3] };
		__u32 r[4] = { skops->remote_ip6[0], skops->remote_ip6[1],
			       skops->remote_ip6[2], skops->remote_ip6[3] };

		addr_set_v6(t->laddr, l);
		addr_set_v6(t->raddr, r);
	}
	t->lport = skops->local_port;
	t->rport = bpf_ntohl(skops->remote_port);
	t->sk_family = skops->family;
}

static __always_inline void fill_event(struct connctl_event *ev,
				       struct bpf_sock_ops *skops,
				       const struct best_match *best)
{
	ev->type = CONNCTL_EV_MATCH;
	ev->rule_id = best->rule_id;
	ev->action = best->action;
	ev->pad = 0;
	ev->cookie = bpf_get_socket_cookie(skops);
	ev->ts_ns = bpf_ktime_get_ns();
	ev->tuple = best->tuple;
}

static __always_inline void on_established(struct bpf_sock_ops *skops)
{
	struct best_match best = {};
	struct connctl_sk_tag *tag;
	struct connctl_event *ev;
	struct bpf_sock *sk;
	__u32 zero = 0, count;

	if (skops->family != AF_INET && skops->family != AF_INET6)
		return;
	best.index = bpf_map_lookup_elem(&rule_index, &zero);
	if (!best.index)
		return;
	count = best.index->count;
	if (!count)
		return;
	tuple_from_sockops(skops, &best.tuple);
	bpf_loop(count, match_rule, &best, 0);
	if (best.action == CONNCTL_ACTION_NONE)
		return;
	sk = skops->sk;
	if (!sk)
		return;

	/*
	 * The event first: a tag makes cgroup_skb freeze a reset flow, and a
	 * frozen flow the agent never hears of would hang until it times out.
	 */
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev)
		return;
	tag = bpf_sk_storage_get(&sk_tags, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (!tag) {
		bpf_ringbuf_discard(ev, 0);
		return;
	}
	tag->rule_id = best.rule_id;
	tag->action = best.action;
	tag->tagged_ns = bpf_ktime_get_ns();
	fill_event(ev, skops, &best);
	bpf_ringbuf_submit(ev, 0);
}

SEC("sockops")
int connctl_sockops(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		on_established(skops);
		break;
	default:
		break;
	}
	return 1;
}
