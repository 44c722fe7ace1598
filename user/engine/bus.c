// SPDX-License-Identifier: GPL-2.0
#include "base/clock.h"
#include "engine/bus.h"

static const char *const removal_names[NR_REMOVALS] = {
	[REMOVED_DELETED]	= "deleted",
	[REMOVED_EXPIRED]	= "expired",
	[REMOVED_RULES_DIR]	= "rules-dir",
};

const char *rule_removal_name(enum rule_removal why)
{
	return why < NR_REMOVALS ? removal_names[why] : "?";
}

static const char *const outcome_names[NR_CLOSE_OUTCOMES] = {
	[CLOSE_FIN]		= "fin",
	[CLOSE_RST]		= "rst",
	[CLOSE_RST_TIMEOUT]	= "rst-timeout",
	[CLOSE_RST_NO_OWNER]	= "rst-no-owner",
	[CLOSE_REFUSED]		= "refused",
};

const char *close_outcome_name(enum close_outcome o)
{
	return o < NR_CLOSE_OUTCOMES ? outcome_names[o] : "?";
}

void bus_subscribe(struct bus *b, struct bus_sink *s)
{
	struct bus_sink **p = &b->sinks;

	/* In order: the first subscribed hears first. */
	while (*p)
		p = &(*p)->next;
	s->next = NULL;
	*p = s;
}

void bus_unsubscribe(struct bus *b, struct bus_sink *s)
{
	for (struct bus_sink **p = &b->sinks; *p; p = &(*p)->next) {
		if (*p == s) {
			*p = s->next;
			return;
		}
	}
}

bool bus_wanted(const struct bus *b, enum bus_kind kind, uint32_t rule_id)
{
	for (struct bus_sink *s = b->sinks; s; s = s->next)
		if (!s->wants || s->wants(s, kind, rule_id))
			return true;
	return false;
}

void bus_emit(struct bus *b, struct bus_event *ev)
{
	if (!ev->realtime_ns)
		ev->realtime_ns = realtime_ns();
	for (struct bus_sink *s = b->sinks; s; s = s->next)
		if (!s->wants || s->wants(s, ev->kind, ev->rule_id))
			s->emit(s, ev);
}
