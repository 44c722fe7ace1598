/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Requests carried out: each validated request handed to the engine that
 * owns what it asks about, and its answer rendered. Who may do what is
 * decided here.
 */
#ifndef CONNCTL_DISPATCH_H
#define CONNCTL_DISPATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include "engine/rulebook.h"
#include "front/protocol.h"
#include "sys/owner.h"

struct close_records;
struct datapath;
struct netns_set;

/* Who sent a request, from SO_PEERCRED (and SO_PEERGROUPS). */
struct peer {
	pid_t	pid;
	uid_t	uid;
	gid_t	gid;
	bool	reader;		/* root, or in --group */
};

/*
 * A rate: up to burst at once, refilled at per_s a second. What a reader's
 * expensive request (a dry run walks every connection) draws from, so reads
 * cannot starve root's changes.
 */
struct token_bucket {
	double		tokens;
	double		per_s;
	double		burst;
	uint64_t	last_ns;	/* CLOCK_MONOTONIC of the last refill */
};

/* Takes one token; false when none is left (and *retry_ms says when one is). */
bool token_take(struct token_bucket *b, uint64_t now_ns, uint32_t *retry_ms);

/* Requests served, by op (the last: did not parse); errors by code. */
struct request_counters {
	uint64_t	requests[NR_REQUEST_OPS + 1];
	uint64_t	errors[NR_PROTO_CODES];
};

struct dispatch {
	struct rulebook		*rb;
	struct close_records	*records;
	struct datapath		*dp;
	struct netns_set	*netns;
	const char		*reader_group;	/* --group; NULL: none */
	size_t			n_ifaces;	/* --iface: for stats */
	struct owner_index	owners;		/* dry runs' owners, fresh each time */
	struct token_bucket	reader_dry_runs;
	struct request_counters	counters;
};

void dispatch_close(struct dispatch *d);
/* The answer to a peer that may not even read. */
json_t *dispatch_refuse(const struct dispatch *d, const struct peer *peer);
/*
 * One request's answer, or NULL for a rule.add: that one waits for the
 * walk, and done(ctx, ...) gets its outcome.
 */
json_t *dispatch_request(struct dispatch *d, const struct request *req,
			 const struct peer *peer, add_done_fn *done, void *ctx);
/*
 * rule.show of every rule (of a reader), its response line appended to out
 * a rule at a time: as one JSON tree, 100,000 rules would take 270 MB for a
 * 19 MB answer. 0; or -errno, out as it was and *error the response.
 */
int dispatch_rule_show_all(struct dispatch *d, char **out, size_t *len, size_t *cap,
			   json_t **error);

#endif /* CONNCTL_DISPATCH_H */
