// SPDX-License-Identifier: GPL-2.0
/*
 * XDP on the --iface interfaces, before the stack sees a packet: a peer a
 * block rule matches is dropped here (its SYNs never reach the listener),
 * and so are the stray segments of a flow a reset rule ended (the flows
 * map tc keeps). Counted per rule, in rule_stats.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "connctl.h"
#include "maps.bpf.h"
#include "match.bpf.h"
#include "packet.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* The agent's network namespace, whose interfaces this program is on. */
const volatile __u32 own_netns_ino;

/* A packet as the local socket would see it: laddr is its destination. */
struct packet {
	struct connctl_flow_key	key;
	__u16			family;
	__u8			l4;	/* IPPROTO_TCP_NR or IPPROTO_UDP_NR */
	__u8			tcp_flags;
};

static __always_inline bool parse_l4(void *l4, void *end, __u8 proto, struct packet *p)
{
	if (proto == IPPROTO_TCP_NR) {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > end)
			return false;
		p->key.lport = bpf_ntohs(th->dest);
		p->key.rport = bpf_ntohs(th->source);
		p->tcp_flags = ((__u8 *)th)[13];
	} else if (proto == IPPROTO_UDP_NR) {
		struct udphdr *uh = l4;

		if ((void *)(uh + 1) > end)
			return false;
		p->key.lport = bpf_ntohs(uh->dest);
		p->key.rport = bpf_ntohs(uh->source);
	} else {
		return false;
	}
	p->l4 = proto;
	return true;
}

/* IPv4 and IPv6 (no extension headers), TCP or UDP, over Ethernet; else false. */
static __always_inline bool parse(struct xdp_md *ctx, struct packet *p)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return false;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end || ip->ihl < 5)
			return false;
		/* Later fragments carry no ports. */
		if (ip->frag_off & bpf_htons(0x1fff))
			return false;
		addr_set_v4(p->key.laddr, ip->daddr);
		addr_set_v4(p->key.raddr, ip->saddr);
		p->family = AF_INET;
		return parse_l4((void *)ip + ip->ihl * 4, end, ip->protocol, p);
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end)
			return false;
		__builtin_memcpy(p->key.laddr, &ip6->daddr, 16);
		__builtin_memcpy(p->key.raddr, &ip6->saddr, 16);
		p->family = AF_INET6;
		return parse_l4(ip6 + 1, end, ip6->nexthdr, p);
	}
	return false;
}

/* A segment of a flow a reset rule ended, not its RST: tc's verdict, earlier. */
static __always_inline bool stray(const struct packet *p)
{
	struct connctl_rule_counters *c;
	struct connctl_flow *flow;

	if (p->l4 != IPPROTO_TCP_NR || (p->tcp_flags & TCP_RST))
		return false;
	flow = bpf_map_lookup_elem(&flows, &p->key);
	if (!flow || flow->state != CONNCTL_FLOW_RESET)
		return false;
	__sync_fetch_and_add(&flow->dropped, 1);
	c = rule_counters_of(flow->rule_id);
	if (c) {
		c->dropped++;
		c->dropped_xdp++;
	}
	return true;
}

/* From a peer a block rule matches: dropped, counted against the rule. */
static __always_inline bool blocked(const struct packet *p, __u32 len)
{
	struct best_match best = { .need_flags = CONNCTL_RULE_BLOCK };
	struct connctl_rule_index *index = rule_index_get();
	struct connctl_rule_counters *c;

	if (!index || !index->block_rules || !index->count)
		return false;
	tuple_from_flow(&p->key, p->family,
			p->l4 == IPPROTO_UDP_NR ? CONNCTL_PROTO_UDP : CONNCTL_PROTO_TCP,
			own_netns_ino, &best.tuple);
	find_best_rule(&best, index->count);
	if (!best.rule.id)
		return false;
	c = rule_counters_of(best.rule.id);
	if (c) {
		c->blocked_packets++;
		c->blocked_bytes += len;
	}
	return true;
}

SEC("xdp")
int connctl_xdp(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;
	struct packet p = {};

	if (!parse(ctx, &p))
		return XDP_PASS;
	if (blocked(&p, len) || stray(&p))
		return XDP_DROP;
	return XDP_PASS;
}
