/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Events from the kernel's ring buffer, taken in: new matches of reset rules
 * reset at once (SOCK_DESTROY), drain and cancel events handed to the
 * drainer, events the ring buffer lost caught up with by one sweep.
 */
#ifndef CONNCTL_INTAKE_H
#define CONNCTL_INTAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base/loop.h"
#include "engine/bus.h"

struct datapath;
struct drainer;
struct netns_set;
struct ring_buffer;
struct connctl_event;

struct intake {
	struct watch		w;		/* the ring buffer's fd */
	struct ring_buffer	*ring;
	struct datapath		*dp;
	struct netns_set	*netns;
	struct bus		*bus;
	struct drainer		*drainer;
	uint64_t		lost_logged_ns;	/* last warning of events lost */
	/* Read from the ring buffer during a pass, handled after it, in order. */
	struct connctl_event	*stash;
	size_t			n_stash, cap_stash;
	bool			stashing;
};

int intake_open(struct intake *in, struct loop *loop, struct datapath *dp,
		struct netns_set *netns, struct bus *bus, struct drainer *drainer);
void intake_close(struct intake *in);
/* Take in what the kernel has reported; -errno. */
int intake_poll(struct intake *in);

#endif /* CONNCTL_INTAKE_H */
