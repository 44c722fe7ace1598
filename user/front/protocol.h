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
#include "engine/rule_spec.h"

#define PROTO_MAX_LINE		(64 * 1024)	/* bytes, newline excluded */

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

struct request {
	enum request_op		op;
	bool			has_id;	/* rule.del, rule.show, flow.show, events.watch */
	uint32_t		id;
	struct rule_spec	spec;	/* rule.add */
	bool			dry_run;	/* rule.add: report matches, change nothing */
};

/* A request line; cgroup paths of its rule go into paths. */
int request_parse(const char *line, size_t len, struct path_pool *paths,
		  struct request *req, struct proto_error *err);
/* The code of an error response's "error":{"code":...}, PROTO_OK for none. */
enum proto_code proto_code_of(json_t *resp);
const char *request_op_name(enum request_op op);

json_t *error_to_json(const struct proto_error *err);
/* An error response built in one step: {"ok":false,"error":{...}}. */
json_t *error_response(enum proto_code code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* CONNCTL_PROTOCOL_H */
