/* SPDX-License-Identifier: GPL-2.0 */
/* Rule matching, shared by the sockops, iterator and tc programs. */
#ifndef CONNCTL_MATCH_BPF_H
#define CONNCTL_MATCH_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "connctl.h"
#include "maps.bpf.h"

#define AF_INET		2
#define AF_INET6	10

static __always_inline void addr_set_v4(__u8 *addr, __u32 ip4)
{
	__u32 *w = (__u32 *)addr;

	w[0] = 0;
	w[1] = 0;
	w[2] = bpf_htonl(0x0000ffff);
	w[3] = ip4;
}

static __always_inline void addr_set_v6(__u8 *addr, const __u32 *ip6)
{
	__u32 *w = (__u32 *)addr;

	w[0] = ip6[0];
	w[1] = ip6[1];
	w[2] = ip6[2];
	w[3] = ip6[3];
}

static __always_inline bool addr_is_v4(const __u8 *addr)
{
	const __u32 *w = (const __u32 *)addr;

	return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0x0000ffff);
}

static __always_inline bool prefix_match(const struct connctl_prefix *p,
					 const __u8 *addr)
{
	const __u32 *net = (const __u32 *)p->addr;
	const __u32 *a = (const __u32 *)addr;
	__u32 len = p->len;

#pragma unroll
	for (int i = 0; i < 4; i++) {
		__u32 bits = len > 32 ? 32 : len;
		__u32 mask;

		if (!bits)
			break;
		len -= bits;
		mask = bpf_htonl(~0u << (32 - bits));
		if ((a[i] & mask) != net[i])
			return false;
	}
	return true;
}

static __always_inline bool port_match(const struct connctl_port_range *r,
				       __u16 port)
{
	return port >= r->min && port <= r->max;
}

static __always_inline bool rule_matches(const struct connctl_rule *r,
					 const struct connctl_tuple *t)
{
	if (r->family != CONNCTL_FAMILY_ANY) {
		bool v4 = addr_is_v4(t->laddr);

		if ((r->family == CONNCTL_FAMILY_IPV4) != v4)
			return false;
	}
	if ((r->match & CONNCTL_MATCH_LPORT) && !port_match(&r->lport, t->lport))
		return false;
	if ((r->match & CONNCTL_MATCH_RPORT) && !port_match(&r->rport, t->rport))
		return false;
	if ((r->match & CONNCTL_MATCH_LOCAL) && !prefix_match(&r->local, t->laddr))
		return false;
	if ((r->match & CONNCTL_MATCH_REMOTE) && !prefix_match(&r->remote, t->raddr))
		return false;
	return true;
}

/* When several rules match, the strongest action wins, then the oldest rule. */
static __always_inline bool rule_beats(const struct connctl_rule *r,
				       __u32 best_id, enum connctl_action best)
{
	if (r->action != best)
		return r->action > best;
	return r->id < best_id;
}

/* The best rule for one connection, found by walking the rule index. */
struct best_match {
	struct connctl_tuple		tuple;
	struct connctl_rule_index	*index;
	struct connctl_rule		rule;	/* id and action 0: none yet */
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
	    rule_beats(rule, best->rule.id, best->rule.action))
		best->rule = *rule;
	return 0;
}

/* Fills best->rule (id 0 when none matches); best->index and tuple set. */
static __always_inline void find_best_rule(struct best_match *best, __u32 count)
{
	bpf_loop(count, match_rule, best, 0);
}

#endif /* CONNCTL_MATCH_BPF_H */
