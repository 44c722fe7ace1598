// SPDX-License-Identifier: GPL-2.0
/*
 * Events from the kernel: connections that matched a standing rule, drains
 * at their boundary or out of time, tagged connections that closed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "agent.h"
#include "base/clock.h"
#include "kernel/passes.h"
#include "engine/drainer.h"
#include "sys/sock_diag.h"

static void reset_new_match(struct agent *agent, const struct connctl_event *ev)
{
	int err;

	err = sock_diag_destroy(agent_diag_fd(agent, ev->tuple.netns_ino), &ev->tuple, ev->cookie);
	if (err == -ENOENT) {
		/* Closed already, or reset by the pass that came with the rule. */
		pr_debug("rule %u: a new match is gone already", ev->rule_id);
		return;
	}
	if (err) {
		pr_warn("rule %u: cannot reset a new match: %s", ev->rule_id, strerror(-err));
		return;
	}
	drain_record(agent, ev, CLOSE_RST);
}

static void count_new_match(struct agent *agent, const struct connctl_event *ev)
{
	struct rule_entry *e = rule_table_find(&agent->rules, ev->rule_id);

	if (e) {
		e->stats.new_matches++;
		rule_stats_changed(&agent->rules, e);
	}
	if (ev->action < NR_ACTIONS)
		agent->metrics.matched_new[ev->action]++;
}

static int handle_event(void *ctx, void *data, size_t size)
{
	const struct connctl_event *ev = data;
	struct agent *agent = ctx;

	if (size < sizeof(*ev))
		return 0;
	if (ev->type == CONNCTL_EV_CAUGHT) {
		/* A new match whose event was lost, reset by the catch-up sweep. */
		count_new_match(agent, ev);
		drain_record(agent, ev, CLOSE_RST);
		return 0;
	}
	if (ev->type == CONNCTL_EV_MATCH) {
		count_new_match(agent, ev);
		if (ev->action == CONNCTL_ACTION_RESET) {
			reset_new_match(agent, ev);
			return 0;
		}
	}
	drain_on_event(agent, ev);
	return 0;
}

int events_open(struct agent *agent)
{
	agent->events = ring_buffer__new(datapath_events_fd(&agent->dp), handle_event,
					 agent, NULL);
	if (!agent->events)
		return -errno;
	agent->diag_fd = sock_diag_open();
	if (agent->diag_fd < 0) {
		pr_warn("cannot open a sock_diag socket: %s", strerror(-agent->diag_fd));
		return agent->diag_fd;
	}
	return 0;
}

/* Lost events are logged when they start, then this often at most. */
#define LOST_LOG_NS	(10 * NSEC_PER_SEC)

/*
 * The ring buffer was full (the agent stopped, or a flood): the kernel
 * tagged what it could not report. One sweep finds it all: reset matches
 * are reset, drains and cancels reported again.
 */
static void catch_up(struct agent *agent)
{
	uint64_t lost = datapath_take_lost_events(&agent->dp), now;
	struct pass_result res;

	if (!lost)
		return;
	agent->metrics.events_lost += lost;
	now = monotonic_ns();
	if (!agent->lost_logged_ns || now - agent->lost_logged_ns >= LOST_LOG_NS) {
		pr_warn("%llu kernel events lost to a full ring buffer (%llu in all); "
			"catching up with a sweep", (unsigned long long)lost,
			(unsigned long long)agent->metrics.events_lost);
		agent->lost_logged_ns = now;
	}
	if (closer_catch_up(&agent->dp, &res))
		return;
	if (res.pending > agent->drain.kernel_pending)
		agent->drain.kernel_pending = res.pending;
	ring_buffer__consume(agent->events);
}

int events_poll(struct agent *agent)
{
	int n = ring_buffer__consume(agent->events);

	catch_up(agent);
	drain_schedule(agent);
	return n < 0 ? n : 0;
}

void events_close(struct agent *agent)
{
	ring_buffer__free(agent->events);
	agent->events = NULL;
	if (agent->diag_fd >= 0)
		close(agent->diag_fd);
	agent->diag_fd = -1;
}
