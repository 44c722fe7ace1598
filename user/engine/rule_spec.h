/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The rule model: a rule as a client, a rules file and the state file give
 * it, validated into a typed struct (the rest of the agent trusts it), and
 * back. Errors carry the stable codes of the protocol.
 */
#ifndef CONNCTL_RULE_SPEC_H
#define CONNCTL_RULE_SPEC_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "connctl.h"
#include "base/parse.h"

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

/* A rule as a client asked for it. */
struct rule_spec {
	struct connctl_rule	rule;	/* id 0 when the agent is to pick it */
	uint64_t		ttl_ns;	/* 0: no ttl */
	const char		*cgroup;	/* its path under the cgroup v2 root, in a
						 * path pool; NULL: as cgroup:[ID] */
};

/*
 * The cgroup paths rules name, one copy of each: rules are copied by value
 * (queues, the table, the state file) and point into it. Its owner (the rule
 * book) drops the paths no standing rule names any more.
 */
struct path_pool {
	char	**v;
	size_t	n, cap;
};

typedef bool path_in_use_fn(void *ctx, const char *path);

const char *path_pool_intern(struct path_pool *p, const char *s);
/* Keep the paths in_use says are; free the others (no rule may point to them). */
void path_pool_collect(struct path_pool *p, path_in_use_fn *in_use, void *ctx);
void path_pool_free(struct path_pool *p);

/* A rule object (the "rule" of a rule.add), checked as rule.add checks it. */
int rule_spec_parse(json_t *rule, struct path_pool *paths, struct rule_spec *spec,
		    struct proto_error *err);
/* As clients name it: reset, block, drain, cancel, observe. */
const char *rule_action_name(enum connctl_action action, uint32_t flags);
/* The rule's fields as a client gives them, so `rule show` reads like `rule add`. */
json_t *rule_spec_to_json(const struct rule_spec *spec);
int proto_fail(struct proto_error *err, enum proto_code code,
	       const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void proto_vfail(struct proto_error *err, enum proto_code code, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
const char *proto_code_name(enum proto_code code);
/* Each object accepts a fixed set of fields: a typo must not pass unnoticed. */
int proto_check_fields(json_t *obj, const char *const *allowed, const char *where,
		       struct proto_error *err);
/* A rule id (1 ... 2^32-1) from a JSON integer. */
int proto_get_id(json_t *v, const char *name, uint32_t *id, struct proto_error *err);

#endif /* CONNCTL_RULE_SPEC_H */
