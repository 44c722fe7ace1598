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

/*
 * The best rule for one connection, and the walk's own state: the stack is
 * short. No pointer in it: match_id, a global function, leaves the
 * verifier knowing nothing of what it held.
 */
struct best_match {
	struct connctl_tuple		tuple;
	struct connctl_rule		rule;	/* id and action 0: none yet */
	__u32				need_flags;	/* only rules with these flags */
	/* The trie's key (struct connctl_lpm_key) in the LPM walk, then a bucket's chunks'. */
	struct connctl_chunk_key	key;
	__u32				left;		/* a bucket's ids still to try */
	__u8				missing;	/* a chunk was not there */
	__u8				complete;	/* tried every rule that can match */
};

static __always_inline struct connctl_rule_index *rule_index_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&rule_index, &zero);
}

/*
 * A global function: the verifier checks it once, not at each of the
 * matcher's many calls (inlined, the matcher would not fit).
 */
__noinline int match_id(struct best_match *best, __u32 id)
{
	struct connctl_rule *rule;

	if (!best)
		return 0;
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
	struct connctl_rule_index *index = rule_index_get();

	if (!index)
		return 1;
	/* The bound checked on the register the index uses, not on a copy. */
	barrier_var(i);
	if (i >= CONNCTL_MAX_RULES)
		return 1;
	match_id(best, index->ids[i]);
	return 0;
}

/* A bucket's chunks, one a step: the ids past the bucket's own. */
static long chunk_step(__u32 i, struct best_match *best)
{
	struct connctl_rule_chunk *chunk;

	best->key.chunk = i;
	chunk = bpf_map_lookup_elem(&rule_chunks, &best->key);
	if (!chunk) {
		best->missing = 1;
		return 1;
	}
	for (int j = 0; j < CONNCTL_CHUNK_IDS; j++) {
		if (!best->left)
			return 1;
		best->left--;
		match_id(best, chunk->ids[j]);
	}
	return 0;
}

/*
 * The rules a bucket lists, its chunks' too (best->key set but for the
 * chunk); false when a chunk is missing: an update under way, or pins an
 * older agent kept.
 */
static __always_inline bool try_bucket(struct best_match *best,
				       const struct connctl_rule_bucket *b)
{
	__u32 n;

	if (!b)
		return true;
	n = b->count;
	for (int j = 0; j < CONNCTL_BUCKET_IDS && j < n; j++)
		match_id(best, b->ids[j]);
	if (n <= CONNCTL_BUCKET_IDS)
		return true;
	best->left = n - CONNCTL_BUCKET_IDS;
	best->missing = 0;
	bpf_loop((n - CONNCTL_BUCKET_IDS + CONNCTL_CHUNK_IDS - 1) / CONNCTL_CHUNK_IDS,
		 chunk_step, best, 0);
	return !best->missing;
}

/*
 * One step of the walk down the prefixes that hold the remote address.
 * best->key holds the trie's key; cut to the bucket found, it is that
 * bucket's key for its chunks, and its first bits look up the next.
 */
static long lpm_step(__u32 i, struct best_match *best)
{
	struct connctl_rule_bucket *b;
	__u32 plen;

	b = bpf_map_lookup_elem(&rule_lpm, best->key.key);
	if (!b) {
		best->complete = 1;
		return 1;
	}
	plen = b->prefixlen;
	chunk_key_prefix(&best->key, best->key.key + 4, plen);
	if (!try_bucket(best, b))
		return 1;	/* not all listed */
	if (!plen || plen > 128) {
		best->complete = 1;
		return 1;
	}
	*(__u32 *)best->key.key = plen - 1;
	return 0;
}

/* One level of the socket's cgroup ancestry: the rules listed by that cgroup. */
static long cgroup_step(__u32 level, struct best_match *best)
{
	__u64 id;

	if (level >= CONNCTL_CGROUP_LEVELS)
		return 1;
	id = best->tuple.cgroup_ids[level];
	/* Filled from the root down to the socket's own cgroup: below it, none. */
	if (!id)
		return 1;
	chunk_key_id(&best->key, CONNCTL_BUCKET_CGROUP, id);
	if (!try_bucket(best, bpf_map_lookup_elem(&rule_cgroups, &id))) {
		best->complete = 0;
		return 1;
	}
	return 0;
}

/*
 * After the prefixes: the rules listed by the connection's local port, by
 * its remote port and, when cgroups were read, by each of its cgroups;
 * best->complete cleared when a list is not whole.
 */
static __always_inline void try_port_and_cgroup_rules(struct best_match *best)
{
	struct connctl_rule_index *index;
	__u32 port = best->tuple.lport, zero = 0, *rport_listed;

	chunk_key_id(&best->key, CONNCTL_BUCKET_PORT, port);
	if (!try_bucket(best, bpf_map_lookup_elem(&rule_ports, &port))) {
		best->complete = 0;
		return;
	}
	/* A lookup in a large hash is a cache miss: none while no rule is listed there. */
	rport_listed = bpf_map_lookup_elem(&rport_rules, &zero);
	port = best->tuple.rport;
	chunk_key_id(&best->key, CONNCTL_BUCKET_RPORT, port);
	if (rport_listed && *rport_listed &&
	    !try_bucket(best, bpf_map_lookup_elem(&rule_rports, &port))) {
		best->complete = 0;
		return;
	}
	index = rule_index_get();
	if (index && index->cgroup_rules)
		bpf_loop(CONNCTL_CGROUP_LEVELS, cgroup_step, best, 0);
}

/*
 * Fills best->rule (id 0 when none matches); best->tuple set.
 * Only the rules whose remote prefix holds the remote address can match:
 * the LPM walk lists them, from the longest prefix to ::/0, then the rules
 * of the local port (rule_ports), of the remote port (rule_rports) and of
 * the socket's cgroups (rule_cgroups). A chunk missing, or too deep a
 * chain, and every rule is tried.
 */
static __always_inline void find_best_rule(struct best_match *best, __u32 count)
{
	best->complete = 0;
	*(__u32 *)best->key.key = 128;
	__builtin_memcpy(best->key.key + 4, best->tuple.raddr, 16);
	bpf_loop(CONNCTL_LPM_DEPTH, lpm_step, best, 0);
	if (best->complete)
		try_port_and_cgroup_rules(best);
	if (!best->complete)
		bpf_loop(count, match_rule, best, 0);
}

#endif /* CONNCTL_MATCH_BPF_H */
