/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Whether a rule matches a connection: one definition for the BPF programs
 * (bpf/match.bpf.h) and for the agent's connection index, so the index
 * finds exactly what the kernel's walk would.
 */
#ifndef CONNCTL_MATCH_H
#define CONNCTL_MATCH_H

#include "connctl.h"

#ifdef __bpf__
#include <bpf/bpf_endian.h>
#define MATCH_HTONL(x)	bpf_htonl(x)
#define MATCH_INLINE	static __always_inline
#define MATCH_UNROLL	_Pragma("unroll")
#else
#include <arpa/inet.h>
#include <stdbool.h>
#define MATCH_HTONL(x)	htonl(x)
#define MATCH_INLINE	static inline
#define MATCH_UNROLL
#endif

MATCH_INLINE bool addr_is_v4(const __u8 *addr)
{
	const __u32 *w = (const __u32 *)addr;

	return w[0] == 0 && w[1] == 0 && w[2] == MATCH_HTONL(0x0000ffff);
}

MATCH_INLINE bool prefix_match(const struct connctl_prefix *p, const __u8 *addr)
{
	const __u32 *net = (const __u32 *)p->addr;
	const __u32 *a = (const __u32 *)addr;
	__u32 len = p->len;

	MATCH_UNROLL
	for (int i = 0; i < 4; i++) {
		__u32 bits = len > 32 ? 32 : len;
		__u32 mask;

		if (!bits)
			break;
		len -= bits;
		mask = MATCH_HTONL(~0u << (32 - bits));
		if ((a[i] & mask) != net[i])
			return false;
	}
	return true;
}

MATCH_INLINE bool port_match(const struct connctl_port_range *r, __u16 port)
{
	return port >= r->min && port <= r->max;
}

/* The chunk key of the prefix bucket (plen, addr): addr's bits past plen zero. */
MATCH_INLINE void chunk_key_prefix(struct connctl_chunk_key *k, const __u8 *addr, __u32 plen)
{
	const __u32 *a = (const __u32 *)addr;
	__u32 *w = (__u32 *)(k->key + 4);

	k->kind = CONNCTL_BUCKET_PREFIX;
	*(__u32 *)k->key = plen;
	MATCH_UNROLL
	for (int i = 0; i < 4; i++) {
		int bits = (int)plen - 32 * i;

		if (bits >= 32)
			w[i] = a[i];
		else if (bits <= 0)
			w[i] = 0;
		else
			w[i] = a[i] & MATCH_HTONL(~0u << (32 - bits));
	}
}

/* The chunk key of a bucket by port or by cgroup. */
MATCH_INLINE void chunk_key_id(struct connctl_chunk_key *k, __u32 kind, __u64 id)
{
	__u32 *w = (__u32 *)k->key;

	k->kind = kind;
	MATCH_UNROLL
	for (int i = 0; i < 5; i++)
		w[i] = 0;
	if (kind == CONNCTL_BUCKET_CGROUP)
		*(__u64 *)k->key = id;
	else
		w[0] = (__u32)id;
}

MATCH_INLINE bool rule_matches(const struct connctl_rule *r, const struct connctl_tuple *t)
{
	if (r->proto != t->proto)
		return false;
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
	if ((r->match & CONNCTL_MATCH_NETNS) && r->netns_ino != t->netns_ino)
		return false;
	if (r->match & CONNCTL_MATCH_CGROUP) {
		__u32 level = r->cgroup_level;

		if (level >= CONNCTL_CGROUP_LEVELS || t->cgroup_ids[level] != r->cgroup_id)
			return false;
	}
	return true;
}

/* When several rules match, the strongest action wins, then the oldest rule. */
MATCH_INLINE bool rule_beats(const struct connctl_rule *r, __u32 best_id,
			     enum connctl_action best)
{
	if (r->action != best)
		return r->action > best;
	return r->id < best_id;
}

#endif /* CONNCTL_MATCH_H */
