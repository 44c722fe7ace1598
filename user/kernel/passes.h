/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Passes of the tcp iterator over what exists now, in every namespace the
 * agent acts in: rules applied, drains swept, tags removed, dry runs listed.
 */
#ifndef CONNCTL_PASSES_H
#define CONNCTL_PASSES_H

#include <stddef.h>
#include <stdint.h>
#include "connctl.h"
#include "kernel/loader.h"

struct pass_result {
	uint64_t	matched;	/* untag: connections that had the rule's tag */
	uint64_t	lost;		/* events the ring buffer had no room for */
	uint64_t	pending;	/* sweep: tagged connections still open */
	uint64_t	next_ns;	/* sweep: a quiet period runs out; 0: none */
};

/* How many connections rule (an index in the batch) matched in a namespace. */
struct apply_netns_count {
	uint32_t	rule;
	uint32_t	netns_ino;
	uint64_t	matched;
};

/* Rules to apply to the existing connections in one walk, and what each did. */
struct apply_batch {
	struct connctl_rule		rules[CONNCTL_APPLY_BATCH];
	struct connctl_apply_result	results[CONNCTL_APPLY_BATCH];
	uint32_t			n;
	/* With --netns: each rule's matches, namespace by namespace. */
	struct apply_netns_count	*by_netns;
	size_t				n_by_netns, cap_by_netns;
};

/*
 * One tcp iterator walk applying the batch's rules to every connection of the
 * namespace: each gets the strongest rule that matches it, reset now, or a
 * tag for drain or cancel (events follow on the ring buffer).
 */
int passes_apply_batch(struct datapath *dp, struct apply_batch *batch,
		       struct pass_result *res);
/*
 * The connection index's first listing of the namespaces, at the agent's
 * start, so its first rule does not pay for it. Not fatal: without it,
 * rules walk every namespace.
 */
int passes_index_start(struct datapath *dp);
/*
 * A pass over tagged connections: each drain reported (at a boundary, or
 * busy as TAGGED), drains timed out reset. For tags the agent has not heard
 * of: at its start, and after lost events.
 */
int passes_sweep(struct datapath *dp, struct pass_result *res);
/*
 * The same in these namespaces alone (by inode): the kernel's judgement of
 * drains the agent could not judge itself.
 */
int passes_sweep_in(struct datapath *dp, const uint32_t *inos, size_t n,
		    struct pass_result *res);
/* A sweep that also resets the reset matches whose events were lost. */
int passes_catch_up(struct datapath *dp, struct pass_result *res);
/*
 * A pass that removes the tags of a deleted rule, in the namespaces where
 * it matches a connection (a rule of which only the id is known matches
 * every connection).
 */
int passes_untag(struct datapath *dp, const struct connctl_rule *rule, struct pass_result *res);

/*
 * A dry run: the connections rule would match now (malloc'd, *n of them),
 * from one walk that changes nothing.
 */
int passes_list(struct datapath *dp, const struct connctl_rule *rule,
		struct connctl_listed **listed, size_t *n);

/* What udp_conns lists now: the connected UDP sockets of --cgroup. */
struct udp_conns_count {
	size_t		sockets;
	size_t		netns;		/* holding them: those a UDP rule walks */
	uint64_t	lost;		/* it had no room for (then every namespace is) */
};

int passes_udp_conns(const struct datapath *dp, struct udp_conns_count *count);

#endif /* CONNCTL_PASSES_H */
