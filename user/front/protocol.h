/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control protocol: one JSON object a line each way. This is where a
 * request is validated into a typed struct; the agent trusts the struct.
 */
#ifndef CONNCTL_PROTOCOL_H
#define CONNCTL_PROTOCOL_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "connctl.h"
#include "base/parse.h"

#define PROTO_MAX_LINE		(64 * 1024)	/* bytes, newline excluded */
#define DEFAULT_DRAIN_TIMEOUT_NS (30 * NSEC_PER_SEC)
/*
 * How long a drained connection must sit idle at a boundary before its FIN.
 * Longer than the pauses of a paced response (nginx's limit_rate sends a
 * socket buffer, then sleeps for it: 320 ms at 200 KiB/s).
 */
#define DEFAULT_DRAIN_QUIET_NS	(500 * NSEC_PER_MSEC)

/* Stable error codes: clients may rely on these names. */
#define PROTO_CODES(X)					\
	X(BAD_JSON,		"bad_json")		\
	X(LINE_TOO_LONG,	"line_too_long")	\
	X(BAD_REQUEST,		"bad_request")		\
	X(UNKNOWN_OP,		"unknown_op")		\
	X(UNKNOWN_FIELD,	"unknown_field")	\
	X(BAD_ACTION,		"bad_action")		\
	X(BAD_PREFIX,		"bad_prefix")		\
	X(BAD_PORT,		"bad_port")		\
	X(BAD_DURATION,		"bad_duration")		\
	X(BAD_RULE,		"bad_rule")		\
	X(UNKNOWN_RULE,		"unknown_rule")		\
	X(DUPLICATE_ID,		"duplicate_id")		\
	X(TOO_MANY_RULES,	"too_many_rules")	\
	X(PERMISSION_DENIED,	"permission_denied")	\
	X(TOO_MANY_CLIENTS,	"too_many_clients")	\
	X(IDLE_TIMEOUT,		"idle_timeout")		\
	X(RATE_LIMITED,		"rate_limited")		\
	X(NOT_DURABLE,		"not_durable")		\
	X(INTERNAL,		"internal")

#define PROTO_ENUM(name, str) PROTO_##name,
enum proto_code {
	PROTO_OK = 0,
	PROTO_CODES(PROTO_ENUM)
	NR_PROTO_CODES
};
#undef PROTO_ENUM

struct proto_error {
	enum proto_code	code;
	char		message[ERRLEN];
};

enum request_op {
	REQ_RULE_ADD,
	REQ_RULE_DEL,
	REQ_RULE_SHOW,
	REQ_EVENTS_SHOW,
	REQ_EVENTS_WATCH,
	REQ_FLOW_SHOW,
	REQ_STATS_SHOW,
};
#define NR_REQUEST_OPS	(REQ_STATS_SHOW + 1)

/* A rule as a client asked for it. */
struct rule_spec {
	struct connctl_rule	rule;	/* id 0 when the agent is to pick it */
	uint64_t		ttl_ns;	/* 0: no ttl */
	const char		*cgroup;	/* its path under the cgroup v2 root,
						 * interned; NULL: as cgroup:[ID] */
};

struct request {
	enum request_op		op;
	bool			has_id;	/* rule.del, rule.show, flow.show, events.watch */
	uint32_t		id;
	struct rule_spec	spec;	/* rule.add */
	bool			dry_run;	/* rule.add: report matches, change nothing */
};

int request_parse(const char *line, size_t len, struct request *req,
		  struct proto_error *err);
/* A rule object (the "rule" of a rule.add), checked as rule.add checks it. */
int rule_spec_parse(json_t *rule, struct rule_spec *spec, struct proto_error *err);
int proto_fail(struct proto_error *err, enum proto_code code,
	       const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *proto_code_name(enum proto_code code);
/* The code of an error response's "error":{"code":...}, PROTO_OK for none. */
enum proto_code proto_code_of(json_t *resp);
const char *request_op_name(enum request_op op);

/* The rule's fields as a client gives them, so `rule show` reads like `rule add`. */
json_t *rule_spec_to_json(const struct rule_spec *spec);
json_t *error_to_json(const struct proto_error *err);
/* An error response built in one step: {"ok":false,"error":{...}}. */
json_t *error_response(enum proto_code code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* CONNCTL_PROTOCOL_H */
