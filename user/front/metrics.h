/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --metrics: the agent's counters in the Prometheus text format, served at
 * /metrics by libmicrohttpd, driven from the agent's own event loop (no
 * thread: the handler reads the agent's state as the loop does).
 */
#ifndef CONNCTL_METRICS_H
#define CONNCTL_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include "connctl.h"
#include "engine/drainer.h"
#include "front/protocol.h"

#define NR_ACTIONS		(CONNCTL_ACTION_RESET + 1)
/* Upper bounds of the drain delay histogram's buckets, in seconds. */
#define DRAIN_DELAY_BUCKETS	14

enum rule_removal {
	REMOVED_DELETED,
	REMOVED_EXPIRED,
	REMOVED_RULES_DIR,
	NR_REMOVALS,
};

/* As events and metrics name it: deleted, expired, rules-dir. */
const char *rule_removal_name(enum rule_removal why);

/* Counters since the agent started: they only grow. */
struct metrics {
	uint64_t	matched_existing[NR_ACTIONS];
	uint64_t	matched_new[NR_ACTIONS];
	uint64_t	closed[NR_ACTIONS][NR_CLOSE_OUTCOMES];
	uint64_t	ended[NR_ACTIONS];
	uint64_t	drain_delay[DRAIN_DELAY_BUCKETS + 1];	/* the last: +Inf */
	uint64_t	drain_delay_count;
	double		drain_delay_sum;			/* seconds */
	uint64_t	rules_added;
	uint64_t	rules_removed[NR_REMOVALS];
	uint64_t	requests[NR_REQUEST_OPS + 1];		/* the last: unparsed */
	uint64_t	errors[NR_PROTO_CODES];
	uint64_t	scrapes;
	uint64_t	state_errors;	/* commits of the state file that failed */
	bool		state_failing;	/* the last one did */
	uint64_t	events_lost;	/* kernel events the ring buffer had no room for */
};

struct agent;

/* From the last ACK of a response to its FIN, in ns. */
void metrics_drain_delay(struct metrics *m, uint64_t ns);
/* A request served, by its op; NULL: one that did not parse. Error
 * responses are counted as they are queued (server.c). */
void metrics_request(struct metrics *m, const struct request *req);
/* "ADDR:PORT", "[ADDR6]:PORT" or "PORT" (loopback) to listen on. */
int metrics_open(struct agent *agent, const char *listen);
void metrics_close(struct agent *agent);
/* Now and then: scrapers that went quiet are timed out. */
void metrics_tick(struct agent *agent);
/* The text /metrics serves (malloc'd). */
char *metrics_text(struct agent *agent, size_t *len);

#endif /* CONNCTL_METRICS_H */
