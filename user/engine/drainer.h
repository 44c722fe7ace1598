/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Connections the agent is to close gracefully: drains waiting for their
 * response boundary, cancels waiting for their owner. The kernel tags them
 * and reports when one is ready; the agent finds its owner and closes it
 * with shutdown() through a duplicate of the owner's fd, or resets it.
 */
#ifndef CONNCTL_DRAIN_H
#define CONNCTL_DRAIN_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "connctl.h"
#include "sys/owner.h"
#include "engine/tracked.h"

/* How a connection the agent closed ended. */
enum close_outcome {
	CLOSE_FIN,		/* shutdown through the owner: FIN, no RST */
	CLOSE_RST,		/* a reset rule */
	CLOSE_RST_TIMEOUT,	/* a drain that found no boundary in time */
	CLOSE_RST_NO_OWNER,	/* no process holds the socket */
	NR_CLOSE_OUTCOMES,
};

const char *close_outcome_name(enum close_outcome o);

struct close_record {
	uint64_t		realtime_ns;
	uint32_t		rule_id;
	enum connctl_action	action;
	enum close_outcome	outcome;
	struct connctl_tuple	tuple;
	uint64_t		cgroup_id;	/* the socket's; 0: not known */
	uint64_t		bytes_in;	/* received from the peer */
	uint64_t		bytes_out;	/* sent and acknowledged */
	uint64_t		tag_to_close_ns;
	uint64_t		ack_to_close_ns; /* drain: from the last ACK; 0: none */
};

#define CLOSE_RECORDS	256

struct drainer {
	struct tracked_table	tracked;
	struct owner_index	owners;
	struct close_record	records[CLOSE_RECORDS];
	size_t			records_next;
	uint64_t		records_total;
	uint64_t		kernel_pending;	/* tagged and open, at the last sweep */
	uint64_t		next_quiet_ns;	/* CLOCK_MONOTONIC: sweep then; 0: none */
	uint64_t		sweeps;
	int			timer_fd;
};

struct agent;
struct connctl_event;

int drain_open(struct agent *agent);
void drain_close(struct agent *agent);
/* An event about a drain or cancel match, from the ring buffer. */
void drain_on_event(struct agent *agent, const struct connctl_event *ev);
/* Sweep while anything waits; stop when nothing does. */
void drain_schedule(struct agent *agent);
/* A rule was deleted: its connections no longer wait. */
void drain_forget_rule(struct agent *agent, uint32_t rule_id);
/* A connection the agent closed by other means (a reset rule). */
void drain_record(struct agent *agent, const struct connctl_event *ev,
		  enum close_outcome outcome);
json_t *drain_records_to_json(const struct agent *agent);

#endif /* CONNCTL_DRAIN_H */
