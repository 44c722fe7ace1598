/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Connections the agent is to close gracefully: drains waiting for their
 * response boundary, cancels waiting for their owner. The kernel tags them
 * and reports when one is ready; the drainer finds its owner and closes it
 * with shutdown() through a duplicate of the owner's fd, or resets it. What
 * happens is published on the bus.
 */
#ifndef CONNCTL_DRAINER_H
#define CONNCTL_DRAINER_H

#include <stdbool.h>
#include <stdint.h>
#include "connctl.h"
#include "base/loop.h"
#include "engine/bus.h"
#include "engine/tracked.h"
#include "sys/owner.h"

struct datapath;
struct netns_set;

struct drainer {
	struct bus_sink		sink;		/* a deleted rule's connections wait no more */
	struct watch		timer;		/* its looks, retries and sweeps */
	bool			timer_armed;	/* set, and not yet fired or disarmed */
	struct loop		*loop;
	struct datapath		*dp;
	struct netns_set	*netns;
	struct bus		*bus;
	struct tracked_table	tracked;
	struct owner_index	owners;
	uint64_t		kernel_pending;	/* tagged and open, at the last sweep */
	uint64_t		next_quiet_ns;	/* CLOCK_MONOTONIC: sweep then; 0: none */
	uint64_t		sweep_at_ns;	/* the next sweep; 0: none needed */
	uint64_t		sweeps;		/* walks of the tagged connections, so far */
	uint64_t		looks;		/* sock_diag looks at drains outside --cgroup */
	/* Namespaces whose drains the agent cannot judge itself: walked next. */
	uint32_t		*walk_inos;
	size_t			n_walk, cap_walk;
};

/* Also carries on with the drains a previous agent left waiting. */
int drainer_open(struct drainer *d, struct loop *loop, struct datapath *dp,
		 struct netns_set *netns, struct bus *bus);
void drainer_close(struct drainer *d);
/* An event about a drain or cancel match, from the ring buffer. */
void drainer_on_event(struct drainer *d, const struct connctl_event *ev);
/* Sweep while anything waits; stop when nothing does. */
void drainer_schedule(struct drainer *d);
/* Nothing followed, no tag in the kernel unheard of: the hold and recv() may go. */
bool drainer_idle(const struct drainer *d);
/* A catch-up sweep found this many tagged connections waiting. */
void drainer_note_pending(struct drainer *d, uint64_t pending);

/* A close, as the kernel reported the connection, published on the bus. */
void publish_close(struct bus *bus, const struct connctl_event *ev,
		   enum close_outcome outcome, bool was_waiting);

#endif /* CONNCTL_DRAINER_H */
