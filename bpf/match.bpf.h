/* SPDX-License-Identifier: GPL-2.0 */
/* Rule matching, shared by the sockops, iterator and tc programs. */
#ifndef CONNCTL_MATCH_BPF_H
#define CONNCTL_MATCH_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "connctl.h"
#include "maps.bpf.h"
#include "connctl_match.h"

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

/* The best rule for one connection, found by walking the rule index. */
struct best_match {
	struct connctl_tuple		tuple;
	struct connctl_rule_index	*index;
	struct connctl_rule		rule;	/* id and action 0: none yet */
	__u32				need_flags;	/* only rules with these flags */
};

/* A subprogram: inlined at each of its callers, the matcher would not fit. */
static __noinline int match_id(struct best_match *best, __u32 id)
{
	struct connctl_rule *rule;

	/* NULL when the rule was deleted while we walk: it no longer applies. */
	rule = bpf_map_lookup_elem(&rules, &id);
	if (rule && (rule->flags & best->need_flags) == best->need_flags &&
	    rule_matches(rule, &best->tuple) &&
	    rule_beats(rule, best->rule.id, best->rule.action))
		best->rule = *rule;
	return 0;
}

static long match_rule(__u32 i, struct best_match *best)
{
	if (i >= CONNCTL_MAX_RULES)
		return 1;
	match_id(best, best->index->ids[i]);
	return 0;
}

/* One step of the walk down the prefixes that hold the remote address. */
struct lpm_walk {
	struct best_match	*best;
	struct connctl_lpm_key	key;
	bool			complete;	/* tried every rule that can match */
};

static long lpm_step(__u32 i, struct lpm_walk *w)
{
	struct connctl_rule_bucket *b;

	b = bpf_map_lookup_elem(&rule_lpm, &w->key);
	if (!b) {
		w->complete = true;
		return 1;
	}
	if (b->count > CONNCTL_BUCKET_IDS)
		return 1;	/* not all listed */
	for (int j = 0; j < CONNCTL_BUCKET_IDS && j < b->count; j++)
		match_id(w->best, b->ids[j]);
	if (!b->prefixlen || b->prefixlen > 128) {
		w->complete = true;
		return 1;
	}
	w->key.prefixlen = b->prefixlen - 1;
	return 0;
}

/* The rules a bucket lists; false when it cannot list them all. */
static __always_inline bool try_bucket(struct best_match *best,
				       const struct connctl_rule_bucket *b)
{
	if (!b)
		return true;
	if (b->count > CONNCTL_BUCKET_IDS)
		return false;
	for (int j = 0; j < CONNCTL_BUCKET_IDS && j < b->count; j++)
		match_id(best, b->ids[j]);
	return true;
}

/*
 * One level of the socket's cgroup ancestry: the rules listed by that
 * cgroup. The LPM walk's context serves again (stack is short): complete
 * is cleared when a list is not whole.
 */
static long cgroup_step(__u32 level, struct lpm_walk *w)
{
	__u64 id;

	if (level >= CONNCTL_CGROUP_LEVELS)
		return 1;
	id = w->best->tuple.cgroup_ids[level];
	/* Filled from the root down to the socket's own cgroup: below it, none. */
	if (!id)
		return 1;
	if (!try_bucket(w->best, bpf_map_lookup_elem(&rule_cgroups, &id))) {
		w->complete = false;
		return 1;
	}
	return 0;
}

/*
 * After the prefixes: the rules listed by the connection's local port and,
 * when cgroups were read, by each of its cgroups; w->complete cleared when
 * a list is not whole.
 */
static __always_inline void try_port_and_cgroup_rules(struct lpm_walk *w)
{
	struct best_match *best = w->best;
	__u32 port = best->tuple.lport;

	if (!try_bucket(best, bpf_map_lookup_elem(&rule_ports, &port))) {
		w->complete = false;
		return;
	}
	if (best->index->cgroup_rules)
		bpf_loop(CONNCTL_CGROUP_LEVELS, cgroup_step, w, 0);
}

/*
 * Fills best->rule (id 0 when none matches); best->index and tuple set.
 * Only the rules whose remote prefix holds the remote address can match:
 * the LPM walk lists them, from the longest prefix to ::/0, then the rules
 * of the local port (rule_ports) and of the socket's cgroups (rule_cgroups).
 * An entry that lists too many, or too deep a chain, and every rule is
 * tried.
 */
static __always_inline void find_best_rule(struct best_match *best, __u32 count)
{
	struct lpm_walk w = { .best = best, .key = { .prefixlen = 128 } };

	__builtin_memcpy(w.key.addr, best->tuple.raddr, sizeof(w.key.addr));
	bpf_loop(CONNCTL_LPM_DEPTH, lpm_step, &w, 0);
	if (w.complete)
		try_port_and_cgroup_rules(&w);
	if (!w.complete)
		bpf_loop(count, match_rule, best, 0);
}

#endif /* CONNCTL_MATCH_BPF_H */
