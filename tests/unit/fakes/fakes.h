/* SPDX-License-Identifier: GPL-2.0 */
/* Fakes of the kernel and sys layers, and a sink that keeps what the bus said. */
#ifndef CONNCTL_FAKES_H
#define CONNCTL_FAKES_H

#include <stdbool.h>
#include <stdint.h>
#include "engine/bus.h"
#include "kernel/passes.h"
#include "kernel/rule_maps.h"
#include "sys/netns.h"
#include "sys/owner.h"
#include "sys/sock_diag.h"

#define FAKE_RULES_MAX	64

struct fake_kernel {
	struct connctl_rule rules[FAKE_RULES_MAX];	/* the kernel's rule maps */
	size_t		n_rules;
	uint64_t	matched;	/* each rule of a walk matches this many */
	int		walk_err;
	unsigned int	walks;
	uint32_t	untagged;	/* the rule of the last untag pass */
	bool		held;		/* the last hold of a peer's data asked */
	size_t		walked;		/* namespaces walked for the kernel's judgement */
};

struct fake_sys {
	bool	gone;		/* sock_diag: the socket is gone (-ENOENT) */
	int	owner_fd;	/* the owner's socket; -1: no owner */
	int	destroyed;
};

extern struct fake_kernel fake_kernel;
extern struct fake_sys fake_sys;
bool fake_kernel_has(uint32_t id);

/* What the bus said, in order. */
#define SEEN_MAX	64

struct seen_event {
	enum bus_kind		kind;
	uint32_t		rule_id;
	uint64_t		matched;	/* RULE_ADDED */
	enum rule_removal	removed;	/* RULE_REMOVED */
	enum close_outcome	outcome;	/* CLOSED */
	bool			was_waiting;	/* CLOSED */
	bool			state_ok;	/* STATE_FILE */
};

struct fake_sink {
	struct bus_sink		sink;
	struct seen_event	v[SEEN_MAX];
	size_t			n;
};

static inline void fake_sink_emit(struct bus_sink *s, const struct bus_event *ev)
{
	struct fake_sink *f = (struct fake_sink *)s;
	struct seen_event *e;

	if (f->n == SEEN_MAX)
		return;
	e = &f->v[f->n++];
	*e = (struct seen_event){ .kind = ev->kind, .rule_id = ev->rule_id };
	if (ev->kind == BUS_RULE_ADDED)
		e->matched = ev->added.matched;
	if (ev->kind == BUS_RULE_REMOVED)
		e->removed = ev->removed;
	if (ev->kind == BUS_CLOSED) {
		e->outcome = ev->closed.rec->outcome;
		e->was_waiting = ev->closed.was_waiting;
	}
	if (ev->kind == BUS_STATE_FILE)
		e->state_ok = ev->state_ok;
}

static inline void fake_sink_init(struct fake_sink *f, struct bus *bus)
{
	*f = (struct fake_sink){ .sink = { .emit = fake_sink_emit } };
	bus_subscribe(bus, &f->sink);
}

/* The n-th event of a kind, or NULL. */
static inline const struct seen_event *fake_sink_find(const struct fake_sink *f,
						      enum bus_kind kind, size_t nth)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->v[i].kind == kind && !nth--)
			return &f->v[i];
	return NULL;
}

#endif /* CONNCTL_FAKES_H */
