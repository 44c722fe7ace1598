/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The rule book: the standing rules, their life (added, applied to what
 * exists by one walk a batch, removed, expired), their persistence (the
 * state file, before anything is acknowledged) and their per-rule counts,
 * kept from the bus. What happens is published; whoever asked for an add is
 * answered through its completion.
 */
#ifndef CONNCTL_RULEBOOK_H
#define CONNCTL_RULEBOOK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "engine/bus.h"
#include "engine/journal.h"
#include "engine/rule_spec.h"
#include "engine/rule_table.h"
#include "kernel/passes.h"

struct datapath;
struct netns_set;

/* Who asked for a change, for the log. */
struct requester {
	pid_t	pid;
	uid_t	uid;
};

/* What became of a rule.add, for whoever asked. */
struct add_result {
	struct proto_error		error;	/* code PROTO_OK: added */
	const struct rule_spec		*spec;	/* with its id */
	uint64_t			matched;
	uint64_t			failed;	/* matched, but could not be closed */
	const struct apply_netns_count	*by_netns;	/* with --netns: where it matched */
	size_t				n_by_netns;
	uint32_t			slot;	/* its rule in by_netns[].rule */
};

typedef void add_done_fn(void *ctx, const struct add_result *res);

/* A rule.add between its request and the walk that applies it. */
struct pending_add {
	struct rule_spec	spec;
	struct requester	who;
	add_done_fn		*done;		/* NULL: nobody waits */
	void			*ctx;
	struct proto_error	error;		/* refused already: its answer */
	bool			restored;	/* from the state file, not a request */
	uint32_t		slot;		/* its rule's index in the walk's batch */
};

struct rulebook {
	struct bus_sink		sink;		/* per-rule counts */
	struct rule_table	rules;
	struct path_pool	paths;		/* the cgroup paths rules name */
	size_t			paths_kept;	/* in the pool after the last collect */
	struct pending_add	adds[CONNCTL_APPLY_BATCH];
	uint32_t		n_adds;
	struct apply_batch	batch;		/* the walk's input and output */
	struct state_journal	journal;
	const char		*state_file;	/* "": none */
	uint32_t		max_rules;
	uint64_t		state_logged_ns;	/* last warning of a failing one */
	struct datapath		*dp;
	struct netns_set	*netns;
	struct bus		*bus;
};

void rulebook_init(struct rulebook *rb, struct datapath *dp, struct netns_set *netns,
		   struct bus *bus, const char *state_file, uint32_t max_rules);
void rulebook_close(struct rulebook *rb);
/* Rules pinned by an earlier run stay in force: taken over, same ids. */
int rulebook_adopt(struct rulebook *rb);
/*
 * At start, when the pins hold no rules (after a reboot), bring back those
 * of the state file; when they do, rewrite the file from them.
 */
int rulebook_restore(struct rulebook *rb);

/* A standing rule whole: its body from the kernel's rules map; -errno when unreadable. */
int rulebook_spec(const struct rulebook *rb, const struct rule_entry *e, struct rule_spec *spec);

bool rulebook_adds_full(const struct rulebook *rb);
/*
 * A rule.add, standing at once and applied to what exists by the next walk
 * (rulebook_apply), which calls done. Refused here, it keeps its place in
 * the queue all the same, so answers keep the order of requests. Returns
 * the rule's id, 0 when refused.
 */
uint32_t rulebook_queue_add(struct rulebook *rb, const struct rule_spec *spec,
			    const struct requester *who, add_done_fn *done, void *ctx);
/* Whoever waited on ctx is gone: its answers go nowhere. */
void rulebook_forget_waiter(struct rulebook *rb, const void *ctx);
/* The queued adds: durable first, then one walk; their completions called. */
int rulebook_apply(struct rulebook *rb);
/* A rule.del: on disk first, then out of force; -errno with err. */
int rulebook_delete(struct rulebook *rb, uint32_t id, const struct requester *who,
		    struct proto_error *err);
/* A rule out of force for why (a rules file changed). */
void rulebook_remove(struct rulebook *rb, uint32_t id, enum rule_removal why);
/* Drop rules whose ttl ran out; ms to the next expiry, or -1. */
int rulebook_expire(struct rulebook *rb);
/* Between turns: the cgroup paths no standing rule names any more, freed. */
void rulebook_collect_paths(struct rulebook *rb);
/* The turn's changes to the state file, the counts to the pinned rule_tally. */
void rulebook_save(struct rulebook *rb);

#endif /* CONNCTL_RULEBOOK_H */
