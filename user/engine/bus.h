/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The event bus: engines publish what happened to rules and connections,
 * typed; subscribers (the counters, the rule book's per-rule counts, the
 * close records, the socket server's watchers) take what they want. No
 * engine knows who listens, and none builds JSON for anyone.
 */
#ifndef CONNCTL_BUS_H
#define CONNCTL_BUS_H

#include <stdbool.h>
#include <stdint.h>
#include "connctl.h"

enum bus_kind {
	BUS_RULE_ADDED,		/* a rule in force, with what it matched of what existed */
	BUS_RULE_REMOVED,
	BUS_MATCHED_NEW,	/* a new connection matched a standing rule */
	BUS_TAGGED,		/* a connection waits to be closed (drain, cancel) */
	BUS_CLOSED,		/* the agent closed a connection */
	BUS_ENDED,		/* a waiting connection closed by its owner or peer first */
	BUS_FORGOTTEN,		/* a waiting connection no longer waits: its rule was deleted */
	BUS_STATE_FILE,		/* a write of the state file, and whether it worked */
	BUS_EVENTS_LOST,	/* kernel events the ring buffer had no room for */
	NR_BUS_KINDS,
};

enum rule_removal {
	REMOVED_DELETED,
	REMOVED_EXPIRED,
	REMOVED_RULES_DIR,
	NR_REMOVALS,
};

/* As events and metrics name it: deleted, expired, rules-dir. */
const char *rule_removal_name(enum rule_removal why);

/* How a connection the agent closed ended. */
enum close_outcome {
	CLOSE_FIN,		/* shutdown through the owner: FIN, no RST */
	CLOSE_RST,		/* a reset rule */
	CLOSE_RST_TIMEOUT,	/* a drain that found no boundary in time */
	CLOSE_RST_NO_OWNER,	/* no process holds the socket */
	CLOSE_REFUSED,		/* a UDP connect() or sendto() failed with EPERM */
	NR_CLOSE_OUTCOMES,
};

const char *close_outcome_name(enum close_outcome o);

struct rule_spec;

/* A connection the agent closed, as `connctl events` lists it. */
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

/* A connection a rule tagged: TAGGED, ENDED, FORGOTTEN. */
struct bus_conn {
	struct connctl_tuple	tuple;
	uint64_t		cgroup_id;
};

struct bus_event {
	enum bus_kind		kind;
	uint32_t		rule_id;
	enum connctl_action	action;
	uint64_t		realtime_ns;
	/* RULE_REMOVED: the rule as it stood (NULL if unknown). */
	const struct connctl_rule *rule;
	union {
		struct {
			const struct rule_spec	*spec;
			uint64_t		matched;	/* existing connections */
			uint64_t		reset;		/* of which reset now */
			uint64_t		shut;		/* UDP cancel: shut down now */
			bool			restored;	/* from the state file */
		} added;
		enum rule_removal		removed;
		const struct bus_conn		*conn;
		struct {
			const struct close_record *rec;
			bool			was_waiting;	/* it had been TAGGED */
		} closed;
		bool				state_ok;
		uint64_t			lost;
	};
};

struct bus_sink {
	/* Whether it wants an event before it is built; NULL: every event. */
	bool	(*wants)(struct bus_sink *s, enum bus_kind kind, uint32_t rule_id);
	void	(*emit)(struct bus_sink *s, const struct bus_event *ev);
	struct bus_sink	*next;
};

struct bus {
	struct bus_sink	*sinks;
};

void bus_subscribe(struct bus *b, struct bus_sink *s);
void bus_unsubscribe(struct bus *b, struct bus_sink *s);
/* Somebody wants it: worth building (a watcher's event costs a lookup or two). */
bool bus_wanted(const struct bus *b, enum bus_kind kind, uint32_t rule_id);
void bus_emit(struct bus *b, struct bus_event *ev);

#endif /* CONNCTL_BUS_H */
