// SPDX-License-Identifier: GPL-2.0
#include "engine/counters.h"

const double drain_delay_le[DRAIN_DELAY_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

/* From the last ACK of a response to its FIN. */
static void drain_delay(struct counters *c, uint64_t ns)
{
	double s = ns / 1e9;
	int b = 0;

	while (b < DRAIN_DELAY_BUCKETS && s > drain_delay_le[b])
		b++;
	c->drain_delay[b]++;
	c->drain_delay_count++;
	c->drain_delay_sum += s;
}

static void closed(struct counters *c, const struct close_record *rec)
{
	if (rec->action < NR_ACTIONS && rec->outcome < NR_CLOSE_OUTCOMES)
		c->closed[rec->action][rec->outcome]++;
	if (rec->outcome == CLOSE_FIN && rec->action == CONNCTL_ACTION_DRAIN &&
	    rec->ack_to_close_ns)
		drain_delay(c, rec->ack_to_close_ns);
}

static void emit(struct bus_sink *s, const struct bus_event *ev)
{
	struct counters *c = (struct counters *)s;
	bool known = ev->action < NR_ACTIONS;

	switch (ev->kind) {
	case BUS_RULE_ADDED:
		if (!ev->added.restored)
			c->rules_added++;
		if (known)
			c->matched_existing[ev->action] += ev->added.matched;
		if (known && ev->added.reset)
			c->closed[ev->action][CLOSE_RST] += ev->added.reset;
		if (known && ev->added.shut)
			c->closed[ev->action][CLOSE_FIN] += ev->added.shut;
		break;
	case BUS_RULE_REMOVED:
		if (ev->removed < NR_REMOVALS)
			c->rules_removed[ev->removed]++;
		break;
	case BUS_MATCHED_NEW:
		if (known)
			c->matched_new[ev->action]++;
		break;
	case BUS_CLOSED:
		closed(c, ev->closed.rec);
		break;
	case BUS_ENDED:
		if (known)
			c->ended[ev->action]++;
		break;
	case BUS_STATE_FILE:
		c->state_errors += !ev->state_ok;
		c->state_failing = !ev->state_ok;
		break;
	case BUS_EVENTS_LOST:
		c->events_lost += ev->lost;
		break;
	default:
		break;
	}
}

static bool wants(struct bus_sink *s, enum bus_kind kind, uint32_t rule_id)
{
	return kind != BUS_TAGGED && kind != BUS_FORGOTTEN;
}

void counters_init(struct counters *c, struct bus *bus)
{
	*c = (struct counters){ .sink = { .wants = wants, .emit = emit } };
	bus_subscribe(bus, &c->sink);
}
