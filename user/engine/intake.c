// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <bpf/libbpf.h>
#include "base/clock.h"
#include "base/log.h"
#include "engine/drainer.h"
#include "engine/intake.h"
#include "kernel/loader.h"
#include "kernel/passes.h"
#include "sys/netns.h"
#include "sys/sock_diag.h"

/* Lost events are logged when they start, then this often at most. */
#define LOST_LOG_NS	(10 * NSEC_PER_SEC)

static void publish_matched_new(struct intake *in, const struct connctl_event *ev)
{
	struct bus_event bev = { .kind = BUS_MATCHED_NEW, .rule_id = ev->rule_id,
				 .action = ev->action };

	bus_emit(in->bus, &bev);
}

static void reset_new_match(struct intake *in, const struct connctl_event *ev)
{
	int fd = netns_diag_fd(in->netns, ev->tuple.netns_ino);
	int err = sock_diag_destroy(fd, &ev->tuple, ev->cookie);

	if (err == -ENOENT) {
		/* Closed already, or reset by the pass that came with the rule. */
		pr_debug("rule %u: a new match is gone already", ev->rule_id);
		return;
	}
	if (err) {
		pr_warn("rule %u: cannot reset a new match: %s", ev->rule_id, strerror(-err));
		return;
	}
	publish_close(in->bus, ev, CLOSE_RST, false);
}

/* Kept for after the pass; with no memory left, lost as a full ring would lose it. */
static void stash(struct intake *in, const struct connctl_event *ev)
{
	struct connctl_event *v;
	size_t cap;

	if (in->n_stash == in->cap_stash) {
		cap = in->cap_stash ? 2 * in->cap_stash : 256;
		v = realloc(in->stash, cap * sizeof(*v));
		if (!v) {
			pr_warn("no memory to keep a kernel event");
			return;
		}
		in->stash = v;
		in->cap_stash = cap;
	}
	in->stash[in->n_stash++] = *ev;
}

static void take_in(struct intake *in, const struct connctl_event *ev);

static int handle_event(void *ctx, void *data, size_t size)
{
	const struct connctl_event *ev = data;
	struct intake *in = ctx;

	if (size < sizeof(*ev))
		return 0;
	if (in->stashing)
		stash(in, ev);
	else
		take_in(in, ev);
	return 0;
}

/*
 * Between the namespaces of a pass: the ring buffer emptied into the stash,
 * so a pass over many namespaces loses nothing. Nothing is acted on here:
 * the pass's caller is not done with its rules yet.
 */
static void between_walks(void *ctx)
{
	struct intake *in = ctx;

	in->stashing = true;
	ring_buffer__consume(in->ring);
	in->stashing = false;
}

/* Detached before it is taken in: what that does may run a pass that stashes more. */
static void take_in_stash(struct intake *in)
{
	while (in->n_stash) {
		struct connctl_event *v = in->stash;
		size_t n = in->n_stash;

		in->stash = NULL;
		in->n_stash = in->cap_stash = 0;
		for (size_t i = 0; i < n; i++)
			take_in(in, &v[i]);
		free(v);
	}
}

static void take_in(struct intake *in, const struct connctl_event *ev)
{
	switch (ev->type) {
	case CONNCTL_EV_CAUGHT:
		/* A new match whose event was lost, reset by the catch-up sweep. */
		publish_matched_new(in, ev);
		publish_close(in->bus, ev, CLOSE_RST, false);
		return;
	case CONNCTL_EV_REFUSED:
		/* A UDP connect() or sendto() the kernel failed: nothing to close. */
		publish_matched_new(in, ev);
		publish_close(in->bus, ev, CLOSE_REFUSED, false);
		return;
	case CONNCTL_EV_MATCH:
		publish_matched_new(in, ev);
		if (ev->action == CONNCTL_ACTION_RESET) {
			reset_new_match(in, ev);
			return;
		}
		break;
	default:
		break;
	}
	drainer_on_event(in->drainer, ev);
}

/*
 * The ring buffer was full (the agent stopped, or a flood): the kernel
 * tagged what it could not report. One sweep finds it all: reset matches
 * are reset, drains and cancels reported again.
 */
static void catch_up(struct intake *in)
{
	uint64_t lost = datapath_take_lost_events(in->dp), now;
	struct bus_event ev = { .kind = BUS_EVENTS_LOST };
	struct pass_result res;

	if (!lost)
		return;
	ev.lost = lost;
	bus_emit(in->bus, &ev);
	now = monotonic_ns();
	if (!in->lost_logged_ns || now - in->lost_logged_ns >= LOST_LOG_NS) {
		pr_warn("%llu kernel events lost to a full ring buffer; catching up with a "
			"sweep", (unsigned long long)lost);
		in->lost_logged_ns = now;
	}
	if (passes_catch_up(in->dp, &res))
		return;
	drainer_note_pending(in->drainer, res.pending);
	take_in_stash(in);
	ring_buffer__consume(in->ring);
}

int intake_poll(struct intake *in)
{
	int n;

	take_in_stash(in);
	n = ring_buffer__consume(in->ring);

	catch_up(in);
	drainer_schedule(in->drainer);
	return n < 0 ? n : 0;
}

static void on_ready(struct watch *w, uint32_t events)
{
	struct intake *in = container_of(w, struct intake, w);

	if (intake_poll(in))
		pr_warn("reading events failed");
}

int intake_open(struct intake *in, struct loop *loop, struct datapath *dp,
		struct netns_set *netns, struct bus *bus, struct drainer *drainer)
{
	*in = (struct intake){ .dp = dp, .netns = netns, .bus = bus, .drainer = drainer };
	in->ring = ring_buffer__new(datapath_events_fd(dp), handle_event, in, NULL);
	if (!in->ring)
		return -errno;
	in->w.fd = ring_buffer__epoll_fd(in->ring);
	in->w.handle = on_ready;
	dp->between_walks = between_walks;
	dp->between_ctx = in;
	return watch_add(loop, &in->w, EPOLLIN);
}

void intake_close(struct intake *in)
{
	if (in->dp && in->dp->between_ctx == in)
		in->dp->between_walks = NULL;
	ring_buffer__free(in->ring);
	in->ring = NULL;
	free(in->stash);
	in->stash = NULL;
	in->n_stash = in->cap_stash = 0;
}
