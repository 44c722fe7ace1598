// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/buf.h"
#include "engine/rule_spec.h"
#include "sys/cgroup.h"
#include "sys/netns.h"

#define PROTO_NAME(name, str) [PROTO_##name] = str,
static const char *const proto_code_names[] = {
	[PROTO_OK] = "ok",
	PROTO_CODES(PROTO_NAME)
};
#undef PROTO_NAME

const char *proto_code_name(enum proto_code code)
{
	if ((unsigned int)code >= sizeof(proto_code_names) / sizeof(proto_code_names[0]))
		return "internal";
	return proto_code_names[code];
}

void proto_vfail(struct proto_error *err, enum proto_code code,
			const char *fmt, va_list ap)
{
	err->code = code;
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
}

int proto_fail(struct proto_error *err, enum proto_code code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	proto_vfail(err, code, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Each object accepts a fixed set of fields: a typo must not pass unnoticed. */
int proto_check_fields(json_t *obj, const char *const *allowed, const char *where,
			struct proto_error *err)
{
	const char *key;
	json_t *val;

	json_object_foreach(obj, key, val) {
		const char *const *a;

		for (a = allowed; *a; a++)
			if (!strcmp(*a, key))
				break;
		if (!*a)
			return proto_fail(err, PROTO_UNKNOWN_FIELD,
					  "unknown field '%.64s' in %s", key, where);
	}
	return 0;
}

int proto_get_id(json_t *v, const char *name, uint32_t *id, struct proto_error *err)
{
	json_int_t n;

	if (!json_is_integer(v))
		return proto_fail(err, PROTO_BAD_REQUEST, "'%s' must be an integer", name);
	n = json_integer_value(v);
	if (n < 1 || n > UINT32_MAX)
		return proto_fail(err, PROTO_BAD_REQUEST,
				  "'%s' must be from 1 to %u", name, UINT32_MAX);
	*id = (uint32_t)n;
	return 0;
}

static int get_ports(json_t *v, const char *name, struct connctl_port_range *r,
		     struct proto_error *err)
{
	char msg[ERRLEN];

	if (json_is_integer(v)) {
		json_int_t n = json_integer_value(v);

		if (n < 1 || n > 65535)
			return proto_fail(err, PROTO_BAD_PORT,
					  "bad port %lld in '%s': ports are 1 to 65535",
					  (long long)n, name);
		r->min = r->max = (uint16_t)n;
		return 0;
	}
	if (!json_is_string(v))
		return proto_fail(err, PROTO_BAD_PORT,
				  "'%s' must be a port number or a string \"P-Q\"", name);
	if (parse_port_range(json_string_value(v), r, msg))
		return proto_fail(err, PROTO_BAD_PORT, "%s", msg);
	return 0;
}

/*
 * A duration is a string with a unit ("30s") or an integer of milliseconds;
 * positive, unless zero_ok.
 */
static int get_duration(json_t *v, const char *name, bool zero_ok, uint64_t *ns,
			struct proto_error *err)
{
	char msg[ERRLEN];

	if (json_is_integer(v)) {
		json_int_t ms = json_integer_value(v);

		if (ms < (zero_ok ? 0 : 1) || (uint64_t)ms > DURATION_MAX_NS / NSEC_PER_MSEC)
			return proto_fail(err, PROTO_BAD_DURATION,
					  "bad duration %lld ms in '%s': must be %s, "
					  "at most 366 days", (long long)ms, name,
					  zero_ok ? "0 or more" : "positive");
		*ns = (uint64_t)ms * NSEC_PER_MSEC;
		return 0;
	}
	if (!json_is_string(v))
		return proto_fail(err, PROTO_BAD_DURATION,
				  "'%s' must be a string like \"30s\" or milliseconds", name);
	if (parse_duration(json_string_value(v), ns, zero_ok, msg))
		return proto_fail(err, PROTO_BAD_DURATION, "%s in '%s'", msg, name);
	return 0;
}

static int get_prefix(json_t *v, const char *name, struct connctl_prefix *p,
		      enum connctl_family *family, struct proto_error *err)
{
	char msg[ERRLEN];

	if (!json_is_string(v))
		return proto_fail(err, PROTO_BAD_PREFIX,
				  "'%s' must be a string like \"10.0.0.0/8\"", name);
	if (parse_prefix(json_string_value(v), p, family, msg))
		return proto_fail(err, PROTO_BAD_PREFIX, "%s", msg);
	return 0;
}

static int set_family(struct connctl_rule *rule, enum connctl_family family,
		      struct proto_error *err)
{
	if (rule->family != CONNCTL_FAMILY_ANY && rule->family != family)
		return proto_fail(err, PROTO_BAD_RULE,
				  "local and remote prefixes are of different families");
	rule->family = family;
	return 0;
}

const char *path_pool_intern(struct path_pool *p, const char *s)
{
	char *copy;

	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->v[i], s))
			return p->v[i];
	if (array_grow(&p->v, &p->cap, p->n, sizeof(*p->v)))
		return NULL;
	copy = strdup(s);
	if (copy)
		p->v[p->n++] = copy;
	return copy;
}

void path_pool_collect(struct path_pool *p, path_in_use_fn *in_use, void *ctx)
{
	size_t kept = 0;

	for (size_t i = 0; i < p->n; i++) {
		if (in_use(ctx, p->v[i]))
			p->v[kept++] = p->v[i];
		else
			free(p->v[i]);
	}
	p->n = kept;
}

void path_pool_free(struct path_pool *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i]);
	free(p->v);
	memset(p, 0, sizeof(*p));
}

static int parse_match(json_t *obj, struct path_pool *paths, struct connctl_rule *rule,
		       const char **cgroup, struct proto_error *err)
{
	enum connctl_family family;
	json_t *v;

	if ((v = json_object_get(obj, "local"))) {
		if (get_prefix(v, "local", &rule->local, &family, err) ||
		    set_family(rule, family, err))
			return -EINVAL;
		rule->match |= CONNCTL_MATCH_LOCAL;
	}
	if ((v = json_object_get(obj, "remote"))) {
		if (get_prefix(v, "remote", &rule->remote, &family, err) ||
		    set_family(rule, family, err))
			return -EINVAL;
		rule->match |= CONNCTL_MATCH_REMOTE;
	}
	if ((v = json_object_get(obj, "lport"))) {
		if (get_ports(v, "lport", &rule->lport, err))
			return -EINVAL;
		rule->match |= CONNCTL_MATCH_LPORT;
	}
	if ((v = json_object_get(obj, "rport"))) {
		if (get_ports(v, "rport", &rule->rport, err))
			return -EINVAL;
		rule->match |= CONNCTL_MATCH_RPORT;
	}
	if ((v = json_object_get(obj, "netns"))) {
		uint32_t ino;

		if (!json_is_string(v))
			return proto_fail(err, PROTO_BAD_RULE, "'netns' must be a string");
		if (netns_parse(json_string_value(v), &ino, err->message)) {
			err->code = PROTO_BAD_RULE;
			return -EINVAL;
		}
		rule->netns_ino = ino;
		rule->match |= CONNCTL_MATCH_NETNS;
	}
	if ((v = json_object_get(obj, "cgroup"))) {
		char path[PATH_MAX];
		uint64_t id;
		uint32_t level;

		if (!json_is_string(v))
			return proto_fail(err, PROTO_BAD_RULE, "'cgroup' must be a string");
		if (cgroup2_resolve(json_string_value(v), &id, &level, path, sizeof(path),
				    err->message, sizeof(err->message))) {
			err->code = PROTO_BAD_RULE;
			return -EINVAL;
		}
		if (level >= CONNCTL_CGROUP_LEVELS)
			return proto_fail(err, PROTO_BAD_RULE, "cgroup '%.64s': %u levels deep; "
					  "a rule may name one %d deep at most", path, level,
					  CONNCTL_CGROUP_LEVELS - 1);
		rule->cgroup_id = id;
		rule->cgroup_level = level;
		rule->match |= CONNCTL_MATCH_CGROUP;
		*cgroup = path_pool_intern(paths, path);
	}
	if (!rule->match)
		return proto_fail(err, PROTO_BAD_RULE, "a rule needs at least one of local, "
				  "remote, lport, rport, netns, cgroup");
	return 0;
}

/* A duration that only a drain rule may carry. */
static int drain_duration(json_t *v, const char *name, enum connctl_action action,
			  bool zero_ok, uint64_t *ns, struct proto_error *err)
{
	if (action != CONNCTL_ACTION_DRAIN)
		return proto_fail(err, PROTO_BAD_RULE, "'%s' applies to drain rules only", name);
	return get_duration(v, name, zero_ok, ns, err);
}

static int parse_options(json_t *obj, struct rule_spec *spec, struct proto_error *err)
{
	struct connctl_rule *rule = &spec->rule;
	uint64_t timeout = DEFAULT_DRAIN_TIMEOUT_NS, quiet = DEFAULT_DRAIN_QUIET_NS;
	json_t *v;

	if ((v = json_object_get(obj, "timeout")) &&
	    drain_duration(v, "timeout", rule->action, false, &timeout, err))
		return -EINVAL;
	/* quiet 0: the FIN follows the ACK that ends a response. */
	if ((v = json_object_get(obj, "quiet")) &&
	    drain_duration(v, "quiet", rule->action, true, &quiet, err))
		return -EINVAL;
	if (rule->action == CONNCTL_ACTION_DRAIN) {
		if (quiet >= timeout)
			return proto_fail(err, PROTO_BAD_RULE,
					  "'quiet' must be shorter than 'timeout': a drain "
					  "that can never be quiet in time only resets");
		rule->timeout_ns = timeout;
		rule->quiet_ns = quiet;
	}
	if ((v = json_object_get(obj, "mark"))) {
		json_int_t mark = json_is_integer(v) ? json_integer_value(v) : -1;

		if (mark < 1 || mark > UINT32_MAX)
			return proto_fail(err, PROTO_BAD_RULE,
					  "'mark' must be an integer from 1 to 4294967295");
		rule->mark = (uint32_t)mark;
	}
	if ((v = json_object_get(obj, "ttl")) &&
	    get_duration(v, "ttl", false, &spec->ttl_ns, err))
		return -EINVAL;
	if ((v = json_object_get(obj, "once"))) {
		if (!json_is_boolean(v))
			return proto_fail(err, PROTO_BAD_REQUEST, "'once' must be true or false");
		if (json_is_true(v))
			rule->flags |= CONNCTL_RULE_ONCE;
	}
	if ((rule->flags & CONNCTL_RULE_ONCE) && (rule->flags & CONNCTL_RULE_BLOCK))
		return proto_fail(err, PROTO_BAD_RULE, "'once' and block exclude each other: "
				  "a block stands to drop the peer's packets; use reset once");
	if ((rule->flags & CONNCTL_RULE_ONCE) && spec->ttl_ns)
		return proto_fail(err, PROTO_BAD_RULE,
				  "'once' and 'ttl' exclude each other: a once rule is not kept");
	return 0;
}

/*
 * tcp (the default) or udp. A UDP rule ends connected sockets: reset or
 * cancel. A drain waits for a response to end, which UDP does not mark;
 * observe counts TCP flows at tc.
 */
static int parse_proto(json_t *v, struct connctl_rule *rule, struct proto_error *err)
{
	if (!v)
		return 0;
	if (!json_is_string(v) || proto_parse(json_string_value(v), &rule->proto))
		return proto_fail(err, PROTO_BAD_RULE, "bad proto: expected tcp or udp");
	if (rule->proto != CONNCTL_PROTO_UDP)
		return 0;
	if (rule->action == CONNCTL_ACTION_DRAIN)
		return proto_fail(err, PROTO_BAD_RULE, "drain cannot apply to proto udp: UDP "
				  "has no response boundary to wait for; use reset or cancel");
	if (rule->action == CONNCTL_ACTION_OBSERVE)
		return proto_fail(err, PROTO_BAD_RULE, "observe counts TCP flows at tc; "
				  "proto udp takes reset or cancel");
	return 0;
}

/*
 * block is a reset whose peer's packets XDP drops too: everywhere else it
 * acts, and beats other rules, as a reset.
 */
static int parse_action(const char *s, struct connctl_rule *rule)
{
	if (!strcmp(s, "block")) {
		rule->action = CONNCTL_ACTION_RESET;
		rule->flags |= CONNCTL_RULE_BLOCK;
		return 0;
	}
	return action_parse(s, &rule->action);
}

const char *rule_action_name(enum connctl_action action, uint32_t flags)
{
	return flags & CONNCTL_RULE_BLOCK ? "block" : action_name(action);
}

static int parse_rule(json_t *obj, struct path_pool *paths, struct rule_spec *spec,
		      struct proto_error *err)
{
	static const char *const fields[] = {
		"id", "action", "local", "remote", "lport", "rport", "netns", "cgroup",
		"timeout", "quiet", "mark", "ttl", "once", "proto", NULL
	};
	struct connctl_rule *rule = &spec->rule;
	json_t *v;

	if (!json_is_object(obj))
		return proto_fail(err, PROTO_BAD_REQUEST, "'rule' must be an object");
	if (proto_check_fields(obj, fields, "rule", err))
		return -EINVAL;
	if ((v = json_object_get(obj, "id")) && proto_get_id(v, "id", &rule->id, err))
		return -EINVAL;
	v = json_object_get(obj, "action");
	if (!v)
		return proto_fail(err, PROTO_BAD_ACTION, "a rule needs an 'action': reset, "
				  "block, drain, cancel or observe");
	if (!json_is_string(v) || parse_action(json_string_value(v), rule))
		return proto_fail(err, PROTO_BAD_ACTION,
				  "bad action: expected reset, block, drain, cancel or observe");
	if (parse_proto(json_object_get(obj, "proto"), rule, err) ||
	    parse_match(obj, paths, rule, &spec->cgroup, err))
		return -EINVAL;
	return parse_options(obj, spec, err);
}

/* A single port reads back as the number it was given, a range as "P-Q". */
static json_t *ports_to_json(const struct connctl_port_range *r)
{
	char buf[16];

	if (r->min == r->max)
		return json_integer(r->min);
	format_port_range(r, buf, sizeof(buf));
	return json_string(buf);
}

json_t *rule_spec_to_json(const struct rule_spec *spec)
{
	const struct connctl_rule *rule = &spec->rule;
	char buf[PREFIX_STRLEN];
	json_t *obj = json_object();

	json_object_set_new(obj, "id", json_integer(rule->id));
	json_object_set_new(obj, "action", json_string(rule_action_name(rule->action, rule->flags)));
	json_object_set_new(obj, "proto", json_string(proto_name(rule->proto)));
	if (rule->match & CONNCTL_MATCH_LOCAL) {
		format_prefix(&rule->local, rule->family, buf, sizeof(buf));
		json_object_set_new(obj, "local", json_string(buf));
	}
	if (rule->match & CONNCTL_MATCH_REMOTE) {
		format_prefix(&rule->remote, rule->family, buf, sizeof(buf));
		json_object_set_new(obj, "remote", json_string(buf));
	}
	if (rule->match & CONNCTL_MATCH_LPORT)
		json_object_set_new(obj, "lport", ports_to_json(&rule->lport));
	if (rule->match & CONNCTL_MATCH_RPORT)
		json_object_set_new(obj, "rport", ports_to_json(&rule->rport));
	if (rule->match & CONNCTL_MATCH_NETNS) {
		snprintf(buf, sizeof(buf), "net:[%llu]", (unsigned long long)rule->netns_ino);
		json_object_set_new(obj, "netns", json_string(buf));
	}
	if (rule->match & CONNCTL_MATCH_CGROUP) {
		snprintf(buf, sizeof(buf), "cgroup:[%llu]", (unsigned long long)rule->cgroup_id);
		json_object_set_new(obj, "cgroup", json_string(spec->cgroup ? spec->cgroup : buf));
	}
	if (rule->action == CONNCTL_ACTION_DRAIN) {
		format_duration(rule->timeout_ns, buf, sizeof(buf));
		json_object_set_new(obj, "timeout", json_string(buf));
		format_duration(rule->quiet_ns, buf, sizeof(buf));
		json_object_set_new(obj, "quiet", json_string(buf));
	}
	if (rule->mark)
		json_object_set_new(obj, "mark", json_integer(rule->mark));
	if (spec->ttl_ns) {
		format_duration(spec->ttl_ns, buf, sizeof(buf));
		json_object_set_new(obj, "ttl", json_string(buf));
	}
	if (rule->flags & CONNCTL_RULE_ONCE)
		json_object_set_new(obj, "once", json_true());
	return obj;
}

int rule_spec_parse(json_t *rule, struct path_pool *paths, struct rule_spec *spec,
		    struct proto_error *err)
{
	memset(spec, 0, sizeof(*spec));
	memset(err, 0, sizeof(*err));
	return parse_rule(rule, paths, spec, err);
}
