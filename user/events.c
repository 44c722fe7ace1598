// SPDX-License-Identifier: GPL-2.0
/* Events from the kernel: connections that matched a standing rule. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "agent.h"
#include "sock_diag.h"

static void format_tuple(const struct connctl_tuple *t, char *buf, size_t len)
{
	char l[PREFIX_STRLEN], r[PREFIX_STRLEN];

	format_addr(t->laddr, l, sizeof(l));
	format_addr(t->raddr, r, sizeof(r));
	snprintf(buf, len, "%s:%u -> %s:%u", l, t->lport, r, t->rport);
}

static void reset_new_match(struct agent *agent, const struct connctl_event *ev,
			    struct rule_entry *e)
{
	char tuple[2 * PREFIX_STRLEN + 16];
	int err;

	err = sock_diag_destroy(agent->diag_fd, &ev->tuple, ev->cookie);
	format_tuple(&ev->tuple, tuple, sizeof(tuple));
	if (err == -ENOENT) {
		/* Closed already, or reset by the pass that came with the rule. */
		pr_debug("rule %u: %s is gone already", ev->rule_id, tuple);
		return;
	}
	if (err) {
		pr_warn("rule %u: cannot reset %s: %s", ev->rule_id, tuple, strerror(-err));
		return;
	}
	pr_debug("rule %u: reset %s", ev->rule_id, tuple);
	if (e)
		e->stats.resets++;
}

static int handle_event(void *ctx, void *data, size_t size)
{
	const struct connctl_event *ev = data;
	struct agent *agent = ctx;
	struct rule_entry *e;

	if (size < sizeof(*ev) || ev->type != CONNCTL_EV_MATCH)
		return 0;
	e = rule_table_find(&agent->rules, ev->rule_id);
	if (e)
		e->stats.new_matches++;
	if (ev->action == CONNCTL_ACTION_RESET)
		reset_new_match(agent, ev, e);
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

int events_poll(struct agent *agent)
{
	int n = ring_buffer__consume(agent->events);

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
