// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "front/protocol.h"

json_t *error_response(enum proto_code code, const char *fmt, ...)
{
	struct proto_error err;
	va_list ap;

	va_start(ap, fmt);
	proto_vfail(&err, code, fmt, ap);
	va_end(ap);
	return error_to_json(&err);
}

static const struct {
	const char		*name;
	enum request_op		op;
	const char *const	*fields;
} request_ops[] = {
	{ "rule.add",	REQ_RULE_ADD,	(const char *const[]){ "op", "rule", "dry_run", NULL } },
	{ "rule.del",	REQ_RULE_DEL,	(const char *const[]){ "op", "id", NULL } },
	{ "rule.show",	REQ_RULE_SHOW,	(const char *const[]){ "op", "id", NULL } },
	{ "events.show", REQ_EVENTS_SHOW, (const char *const[]){ "op", NULL } },
	{ "events.watch", REQ_EVENTS_WATCH, (const char *const[]){ "op", "rule", NULL } },
	{ "flow.show",	REQ_FLOW_SHOW,	(const char *const[]){ "op", "rule", NULL } },
	{ "stats.show",	REQ_STATS_SHOW,	(const char *const[]){ "op", NULL } },
};

static int parse_request(json_t *root, struct path_pool *paths, struct request *req,
			 struct proto_error *err)
{
	const char *name;
	json_t *v;
	size_t i;

	if (!json_is_object(root))
		return proto_fail(err, PROTO_BAD_REQUEST, "a request must be a JSON object");
	v = json_object_get(root, "op");
	if (!json_is_string(v))
		return proto_fail(err, PROTO_BAD_REQUEST, "a request needs an 'op' string");
	name = json_string_value(v);
	for (i = 0; i < sizeof(request_ops) / sizeof(request_ops[0]); i++)
		if (!strcmp(request_ops[i].name, name))
			break;
	if (i == sizeof(request_ops) / sizeof(request_ops[0]))
		return proto_fail(err, PROTO_UNKNOWN_OP,
				  "unknown op '%.64s': expected rule.add, rule.del, rule.show, "
				  "events.show, events.watch, flow.show or stats.show",
				  name);
	req->op = request_ops[i].op;
	if (proto_check_fields(root, request_ops[i].fields, "request", err))
		return -EINVAL;

	switch (req->op) {
	case REQ_RULE_ADD:
		v = json_object_get(root, "dry_run");
		if (v && !json_is_boolean(v))
			return proto_fail(err, PROTO_BAD_REQUEST, "'dry_run' must be true or false");
		req->dry_run = json_is_true(v);
		v = json_object_get(root, "rule");
		if (!v)
			return proto_fail(err, PROTO_BAD_REQUEST, "rule.add needs a 'rule' object");
		return rule_spec_parse(v, paths, &req->spec, err);
	case REQ_RULE_DEL:
	case REQ_RULE_SHOW:
		v = json_object_get(root, "id");
		if (!v) {
			if (req->op == REQ_RULE_DEL)
				return proto_fail(err, PROTO_BAD_REQUEST, "rule.del needs an 'id'");
			return 0;
		}
		req->has_id = true;
		return proto_get_id(v, "id", &req->id, err);
	case REQ_FLOW_SHOW:
	case REQ_EVENTS_WATCH:
		v = json_object_get(root, "rule");
		if (!v)
			return 0;
		req->has_id = true;
		return proto_get_id(v, "rule", &req->id, err);
	case REQ_EVENTS_SHOW:
	case REQ_STATS_SHOW:
		break;
	}
	return 0;
}

int request_parse(const char *line, size_t len, struct path_pool *paths,
		  struct request *req, struct proto_error *err)
{
	json_error_t jerr;
	json_t *root;
	int ret;

	memset(req, 0, sizeof(*req));
	memset(err, 0, sizeof(*err));
	if (len > PROTO_MAX_LINE)
		return proto_fail(err, PROTO_LINE_TOO_LONG,
				  "request line over %d bytes", PROTO_MAX_LINE);
	root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return proto_fail(err, PROTO_BAD_JSON, "malformed JSON at column %d: %s",
				  jerr.column, jerr.text);
	ret = parse_request(root, paths, req, err);
	json_decref(root);
	return ret;
}

json_t *error_to_json(const struct proto_error *err)
{
	return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0,
			 "error", "code", proto_code_name(err->code),
			 "message", err->message);
}

enum proto_code proto_code_of(json_t *resp)
{
	const char *code = json_string_value(json_object_get(json_object_get(resp, "error"),
							     "code"));

	for (int c = 1; code && c < NR_PROTO_CODES; c++)
		if (!strcmp(code, proto_code_name(c)))
			return c;
	return PROTO_OK;
}

const char *request_op_name(enum request_op op)
{
	for (size_t i = 0; i < sizeof(request_ops) / sizeof(request_ops[0]); i++)
		if (request_ops[i].op == op)
			return request_ops[i].name;
	return "?";
}

