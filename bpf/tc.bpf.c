// SPDX-License-Identifier: GPL-2.0
/*
 * tc clsact ingress and egress: every TCP packet crossing the interface,
 * whichever socket (or host) owns it, is classified against the rules. A
 * flow is matched once, on its first packet or after the rules change, and
 * remembered: the flows map for a match, flow_miss for none. Matched flows
 * are counted (per flow and per rule), marked with their rule's mark, and,
 * once reset, their stray packets are dropped.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "connctl.h"
#include "maps.bpf.h"
#include "match.bpf.h"
#include "packet.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* The agent's network namespace, whose interfaces these programs are on. */
const volatile __u32 own_netns_ino;

#define TC_ACT_OK	0
#define TC_ACT_SHOT	2
#define ETH_HLEN	14

struct packet {
	struct connctl_flow_key	key;
	__u16			family;
	__u8			tcp_flags;
	__u8			has_payload;
};

static __always_inline void set_addrs(struct packet *p, const __u8 *src,
				      const __u8 *dst, bool ingress)
{
	__builtin_memcpy(p->key.laddr, ingress ? dst : src, 16);
	__builtin_memcpy(p->key.raddr, ingress ? src : dst, 16);
}

/* IPv4 and IPv6 (no extension headers) TCP over Ethernet; else false. */
static __always_inline bool parse(struct __sk_buff *skb, bool ingress, struct packet *p)
{
	__u8 src[16] = {}, dst[16] = {};
	__u32 l4, ip_len;
	__u16 ports[2];
	__u8 doff_flags[2];

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) ||
		    ip.protocol != IPPROTO_TCP_NR)
			return false;
		/* Later fragments carry no TCP header. */
		if (ip.frag_off & bpf_htons(0x1fff))
			return false;
		addr_set_v4(src, ip.saddr);
		addr_set_v4(dst, ip.daddr);
		l4 = ETH_HLEN + ip.ihl * 4;
		ip_len = bpf_ntohs(ip.tot_len);
		p->family = AF_INET;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip6, sizeof(ip6)) ||
		    ip6.nexthdr != IPPROTO_TCP_NR)
			return false;
		__builtin_memcpy(src, &ip6.saddr, 16);
		__builtin_memcpy(dst, &ip6.daddr, 16);
		l4 = ETH_HLEN + sizeof(ip6);
		ip_len = sizeof(ip6) + bpf_ntohs(ip6.payload_len);
		p->family = AF_INET6;
	} else {
		return false;
	}
	if (bpf_skb_load_bytes(skb, l4, ports, sizeof(ports)) ||
	    bpf_skb_load_bytes(skb, l4 + 12, doff_flags, sizeof(doff_flags)))
		return false;
	set_addrs(p, src, dst, ingress);
	p->key.lport = bpf_ntohs(ingress ? ports[1] : ports[0]);
	p->key.rport = bpf_ntohs(ingress ? ports[0] : ports[1]);
	p->tcp_flags = doff_flags[1];
	p->has_payload = ip_len > (l4 - ETH_HLEN) + (doff_flags[0] >> 4) * 4;
	return true;
}

/* The best rule for this flow now, 0 if none. */
static __always_inline __u32 best_rule(struct connctl_rule_index *index,
				       const struct packet *p, struct connctl_rule *out)
{
	struct best_match best = {};

	if (!index->count)
		return 0;
	tuple_from_flow(&p->key, p->family, CONNCTL_PROTO_TCP, own_netns_ino, &best.tuple);
	find_best_rule(&best, index->count);
	*out = best.rule;
	return best.rule.id;
}

static __always_inline void adopt_rule(struct connctl_flow *flow,
				       const struct connctl_rule *rule, __u32 gen)
{
	struct connctl_rule_counters *c;

	if (flow->rule_id != rule->id) {
		c = rule_counters_of(rule->id);
		if (c)
			c->flows++;
	}
	flow->rule_id = rule->id;
	flow->action = rule->action;
	flow->mark = rule->mark;
	flow->rules_gen = gen;
}

/* The flow entry for this packet, matching it when new or stale; NULL: no rule. */
static __always_inline struct connctl_flow *lookup_flow(const struct packet *p)
{
	struct connctl_rule_index *index;
	struct connctl_flow *flow, fresh = {};
	struct connctl_rule rule;
	__u32 zero = 0, gen, *miss;

	index = bpf_map_lookup_elem(&rule_index, &zero);
	if (!index)
		return NULL;
	gen = index->gen;
	flow = bpf_map_lookup_elem(&flows, &p->key);
	/* A reset flow keeps its verdict: its strays are dropped whatever the rules say. */
	if (flow && (flow->rules_gen == gen || flow->state == CONNCTL_FLOW_RESET))
		return flow;
	if (!flow) {
		miss = bpf_map_lookup_elem(&flow_miss, &p->key);
		if (miss && *miss == gen)
			return NULL;
	}
	if (!best_rule(index, p, &rule)) {
		if (flow)
			bpf_map_delete_elem(&flows, &p->key);
		bpf_map_update_elem(&flow_miss, &p->key, &gen, BPF_ANY);
		return NULL;
	}
	if (flow) {
		adopt_rule(flow, &rule, gen);
		return flow;
	}
	bpf_map_delete_elem(&flow_miss, &p->key);
	fresh.first_seen_ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&flows, &p->key, &fresh, BPF_NOEXIST);
	flow = bpf_map_lookup_elem(&flows, &p->key);
	if (flow)
		adopt_rule(flow, &rule, gen);
	return flow;
}

static __always_inline void count(struct connctl_flow *flow, __u32 len, bool ingress)
{
	struct connctl_rule_counters *c = rule_counters_of(flow->rule_id);

	if (ingress) {
		__sync_fetch_and_add(&flow->packets_in, 1);
		__sync_fetch_and_add(&flow->bytes_in, len);
	} else {
		__sync_fetch_and_add(&flow->packets_out, 1);
		__sync_fetch_and_add(&flow->bytes_out, len);
	}
	if (!c)
		return;
	if (ingress) {
		c->packets_in++;
		c->bytes_in += len;
	} else {
		c->packets_out++;
		c->bytes_out += len;
	}
}

static __always_inline int classify(struct __sk_buff *skb, bool ingress)
{
	struct connctl_rule_counters *c;
	struct connctl_flow *flow;
	struct packet p = {};

	if (!parse(skb, ingress, &p))
		return TC_ACT_OK;
	flow = lookup_flow(&p);
	if (!flow)
		return TC_ACT_OK;
	if (flow->state == CONNCTL_FLOW_RESET && !(p.tcp_flags & TCP_RST)) {
		__sync_fetch_and_add(&flow->dropped, 1);
		c = rule_counters_of(flow->rule_id);
		if (c)
			c->dropped++;
		return TC_ACT_SHOT;
	}
	count(flow, skb->len, ingress);
	flow->last_seen_ns = bpf_ktime_get_ns();
	/* A packet going out carries its socket: the flow's cgroup. */
	if (!ingress && !flow->cgroup_id)
		flow->cgroup_id = bpf_skb_cgroup_id(skb);
	if (flow->mark)
		skb->mark = flow->mark;

	if (p.tcp_flags & TCP_RST) {
		/* A reset rule's flow stays, to catch its strays; any other is over. */
		if (flow->action == CONNCTL_ACTION_RESET)
			flow->state = CONNCTL_FLOW_RESET;
		else
			bpf_map_delete_elem(&flows, &p.key);
	} else if (p.tcp_flags & TCP_FIN) {
		flow->state |= ingress ? CONNCTL_FLOW_FIN_IN : CONNCTL_FLOW_FIN_OUT;
	} else if (flow->state == CONNCTL_FLOW_CLOSING && !p.has_payload) {
		/* The ACK of the second FIN: the connection is over. */
		bpf_map_delete_elem(&flows, &p.key);
	}
	return TC_ACT_OK;
}

SEC("tc")
int connctl_tc_in(struct __sk_buff *skb)
{
	return classify(skb, true);
}

SEC("tc")
int connctl_tc_out(struct __sk_buff *skb)
{
	return classify(skb, false);
}
