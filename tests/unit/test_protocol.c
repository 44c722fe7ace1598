// SPDX-License-Identifier: GPL-2.0
/* Request validation: good requests become typed structs, bad ones get codes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "front/protocol.h"

/* The cgroup paths the parsed rules name. */
static struct path_pool test_paths;

static int parse(const char *line, struct request *req, struct proto_error *err)
{
	return request_parse(line, strlen(line), &test_paths, req, err);
}

static void test_add_full(void **state)
{
	struct proto_error err;
	struct request req;

	assert_int_equal(parse("{\"op\":\"rule.add\",\"rule\":{\"action\":\"drain\","
			       "\"local\":\"10.1.0.0/16\",\"remote\":\"192.0.2.0/24\","
			       "\"lport\":8080,\"rport\":\"1024-65535\",\"timeout\":\"5s\","
			       "\"ttl\":60000,\"id\":7}}", &req, &err), 0);
	assert_int_equal(req.op, REQ_RULE_ADD);
	assert_int_equal(req.spec.rule.id, 7);
	assert_int_equal(req.spec.rule.action, CONNCTL_ACTION_DRAIN);
	assert_int_equal(req.spec.rule.family, CONNCTL_FAMILY_IPV4);
	assert_int_equal(req.spec.rule.match, CONNCTL_MATCH_LOCAL | CONNCTL_MATCH_REMOTE |
			 CONNCTL_MATCH_LPORT | CONNCTL_MATCH_RPORT);
	assert_int_equal(req.spec.rule.lport.min, 8080);
	assert_int_equal(req.spec.rule.rport.min, 1024);
	assert_int_equal(req.spec.rule.rport.max, 65535);
	assert_int_equal(req.spec.rule.timeout_ns, 5 * NSEC_PER_SEC);
	assert_int_equal(req.spec.rule.quiet_ns, DEFAULT_DRAIN_QUIET_NS);
	assert_int_equal(req.spec.ttl_ns, 60 * NSEC_PER_SEC);
}

static void test_add_defaults(void **state)
{
	struct proto_error err;
	struct request req;

	assert_int_equal(parse("{\"op\":\"rule.add\",\"rule\":{\"action\":\"drain\","
			       "\"lport\":80}}", &req, &err), 0);
	assert_int_equal(req.spec.rule.timeout_ns, DEFAULT_DRAIN_TIMEOUT_NS);
	assert_int_equal(req.spec.rule.quiet_ns, DEFAULT_DRAIN_QUIET_NS);
	assert_int_equal(req.spec.rule.family, CONNCTL_FAMILY_ANY);
	assert_int_equal(req.spec.rule.id, 0);
	assert_int_equal(parse("{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\","
			       "\"remote\":\"::1\",\"once\":true}}", &req, &err), 0);
	assert_true(req.spec.rule.flags & CONNCTL_RULE_ONCE);
	assert_int_equal(req.spec.rule.family, CONNCTL_FAMILY_IPV6);
	assert_int_equal(req.spec.rule.timeout_ns, 0);
	assert_int_equal(req.spec.rule.quiet_ns, 0);
	/* quiet 0, given: no idle period, not the default. */
	assert_int_equal(parse("{\"op\":\"rule.add\",\"rule\":{\"action\":\"drain\","
			       "\"lport\":80,\"quiet\":\"0ms\"}}", &req, &err), 0);
	assert_int_equal(req.spec.rule.quiet_ns, 0);
	assert_int_equal(req.spec.rule.timeout_ns, DEFAULT_DRAIN_TIMEOUT_NS);
	assert_int_equal(req.spec.rule.proto, CONNCTL_PROTO_TCP);
	/* Connected UDP sockets: reset and cancel. */
	assert_int_equal(parse("{\"op\":\"rule.add\",\"rule\":{\"action\":\"cancel\","
			       "\"rport\":53,\"proto\":\"udp\"}}", &req, &err), 0);
	assert_int_equal(req.spec.rule.proto, CONNCTL_PROTO_UDP);
	/* block: a reset that XDP also enforces; it reads back as block. */
	assert_int_equal(parse("{\"op\":\"rule.add\",\"rule\":{\"action\":\"block\","
			       "\"remote\":\"192.0.2.0/24\"}}", &req, &err), 0);
	assert_int_equal(req.spec.rule.action, CONNCTL_ACTION_RESET);
	assert_true(req.spec.rule.flags & CONNCTL_RULE_BLOCK);
	assert_string_equal(rule_action_name(req.spec.rule.action, req.spec.rule.flags), "block");
}

static void test_observe_mark(void **state)
{
	struct proto_error err;
	struct request req;

	assert_int_equal(parse("{\"op\":\"rule.add\",\"rule\":{\"action\":\"observe\","
			       "\"lport\":443,\"mark\":4294967295}}", &req, &err), 0);
	assert_int_equal(req.spec.rule.action, CONNCTL_ACTION_OBSERVE);
	assert_int_equal(req.spec.rule.mark, 4294967295u);
	assert_int_equal(req.spec.rule.timeout_ns, 0);
	assert_int_equal(parse("{\"op\":\"flow.show\",\"rule\":9}", &req, &err), 0);
	assert_int_equal(req.op, REQ_FLOW_SHOW);
	assert_true(req.has_id);
	assert_int_equal(req.id, 9);
	assert_int_equal(parse("{\"op\":\"stats.show\"}", &req, &err), 0);
	assert_int_equal(req.op, REQ_STATS_SHOW);
}

static void test_del_show(void **state)
{
	struct proto_error err;
	struct request req;

	assert_int_equal(parse("{\"op\":\"rule.del\",\"id\":3}", &req, &err), 0);
	assert_int_equal(req.op, REQ_RULE_DEL);
	assert_int_equal(req.id, 3);
	assert_int_equal(parse("{\"op\":\"rule.show\"}", &req, &err), 0);
	assert_false(req.has_id);
	assert_int_equal(parse("{\"op\":\"rule.show\",\"id\":4294967295}", &req, &err), 0);
	assert_int_equal(req.id, UINT32_MAX);
}

static const struct {
	const char		*line;
	enum proto_code		code;
} bad_requests[] = {
	{ "{", PROTO_BAD_JSON },
	{ "not json", PROTO_BAD_JSON },
	{ "{\"op\":\"rule.show\"} trailing", PROTO_BAD_JSON },
	{ "{\"op\":\"rule.show\",\"op\":\"rule.show\"}", PROTO_BAD_JSON },
	{ "[]", PROTO_BAD_REQUEST },
	{ "{}", PROTO_BAD_REQUEST },
	{ "{\"op\":7}", PROTO_BAD_REQUEST },
	{ "{\"op\":\"rule.nuke\"}", PROTO_UNKNOWN_OP },
	{ "{\"op\":\"rule.show\",\"verbose\":true}", PROTO_UNKNOWN_FIELD },
	{ "{\"op\":\"rule.del\"}", PROTO_BAD_REQUEST },
	{ "{\"op\":\"rule.del\",\"id\":0}", PROTO_BAD_REQUEST },
	{ "{\"op\":\"rule.del\",\"id\":-1}", PROTO_BAD_REQUEST },
	{ "{\"op\":\"rule.del\",\"id\":4294967296}", PROTO_BAD_REQUEST },
	{ "{\"op\":\"rule.del\",\"id\":\"3\"}", PROTO_BAD_REQUEST },
	{ "{\"op\":\"rule.add\"}", PROTO_BAD_REQUEST },
	{ "{\"op\":\"rule.add\",\"rule\":[]}", PROTO_BAD_REQUEST },
	{ "{\"op\":\"rule.add\",\"rule\":{\"lport\":80}}", PROTO_BAD_ACTION },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"kill\",\"lport\":80}}", PROTO_BAD_ACTION },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":1,\"lport\":80}}", PROTO_BAD_ACTION },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"lprot\":80}}", PROTO_UNKNOWN_FIELD },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\"}}", PROTO_BAD_RULE },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"local\":\"10.0.0.1/8\"}}", PROTO_BAD_PREFIX },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"remote\":\"300.0.0.1\"}}", PROTO_BAD_PREFIX },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"remote\":10}}", PROTO_BAD_PREFIX },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"local\":\"10.0.0.0/8\","
	  "\"remote\":\"::1\"}}", PROTO_BAD_RULE },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"lport\":0}}", PROTO_BAD_PORT },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"lport\":65536}}", PROTO_BAD_PORT },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"rport\":\"9-1\"}}", PROTO_BAD_PORT },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"rport\":1.5}}", PROTO_BAD_PORT },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"drain\",\"lport\":80,\"timeout\":\"30\"}}", PROTO_BAD_DURATION },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"drain\",\"lport\":80,\"timeout\":0}}", PROTO_BAD_DURATION },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"lport\":80,\"ttl\":true}}", PROTO_BAD_DURATION },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"lport\":80,\"timeout\":\"5s\"}}", PROTO_BAD_RULE },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"cancel\",\"lport\":80,\"quiet\":\"1s\"}}", PROTO_BAD_RULE },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"drain\",\"lport\":80,\"quiet\":\"fast\"}}", PROTO_BAD_DURATION },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"drain\",\"lport\":80,\"quiet\":-1}}", PROTO_BAD_DURATION },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"drain\",\"lport\":80,\"quiet\":\"0x\"}}", PROTO_BAD_DURATION },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"lport\":80,\"quiet\":0}}", PROTO_BAD_RULE },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"drain\",\"lport\":80,\"quiet\":\"5s\","
	  "\"timeout\":\"5s\"}}", PROTO_BAD_RULE },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"drain\",\"lport\":80,\"quiet\":\"31s\"}}", PROTO_BAD_RULE },
	{ "{\"op\":\"events.show\",\"id\":1}", PROTO_UNKNOWN_FIELD },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"observe\",\"lport\":80,\"mark\":0}}", PROTO_BAD_RULE },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"observe\",\"lport\":80,\"mark\":4294967296}}", PROTO_BAD_RULE },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"observe\",\"lport\":80,\"mark\":\"42\"}}", PROTO_BAD_RULE },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"observe\",\"lport\":80,\"timeout\":\"1s\"}}", PROTO_BAD_RULE },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"drain\",\"lport\":53,\"proto\":\"udp\"}}", PROTO_BAD_RULE },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"observe\",\"lport\":53,\"proto\":\"udp\"}}", PROTO_BAD_RULE },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"lport\":53,\"proto\":\"sctp\"}}", PROTO_BAD_RULE },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"lport\":53,\"proto\":17}}", PROTO_BAD_RULE },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"block\",\"lport\":53,\"once\":true}}", PROTO_BAD_RULE },
	{ "{\"op\":\"flow.show\",\"rule\":0}", PROTO_BAD_REQUEST },
	{ "{\"op\":\"flow.show\",\"id\":1}", PROTO_UNKNOWN_FIELD },
	{ "{\"op\":\"stats.show\",\"rule\":1}", PROTO_UNKNOWN_FIELD },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"lport\":80,\"once\":true,"
	  "\"ttl\":\"5s\"}}", PROTO_BAD_RULE },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"lport\":80,\"once\":1}}", PROTO_BAD_REQUEST },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"lport\":80,\"id\":0}}", PROTO_BAD_REQUEST },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"netns\":\"net:[0]\"}}", PROTO_BAD_RULE },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"netns\":\"net:[12x]\"}}", PROTO_BAD_RULE },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"netns\":\"pod-a\"}}", PROTO_BAD_RULE },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"netns\":\"/proc/self/ns/mnt\"}}", PROTO_BAD_RULE },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"netns\":7}}", PROTO_BAD_RULE },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"cgroup\":\"/no/such/cgroup\"}}", PROTO_BAD_RULE },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"cgroup\":\"/etc\"}}", PROTO_BAD_RULE },
	/* An unset variable ("$CG") is not the whole cgroup root. */
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"cgroup\":\"\"}}", PROTO_BAD_RULE },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"cgroup\":\"/../../etc\"}}", PROTO_BAD_RULE },
	/* Namespaces are named only where they live: nothing else is opened. */
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"netns\":\"/etc/shadow\"}}", PROTO_BAD_RULE },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"netns\":\"/var/run/netns/../../../etc/shadow\"}}", PROTO_BAD_RULE },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"netns\":\"/proc/1/root/etc/shadow\"}}", PROTO_BAD_RULE },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"netns\":\"/tmp/fifo\"}}", PROTO_BAD_RULE },
	{ "{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\",\"lport\":80},\"dry_run\":1}", PROTO_BAD_REQUEST },
};

/* A namespace by path reads as its inode, and back as net:[INODE]. */
static void test_netns_and_cgroup(void **state)
{
	struct proto_error err;
	struct request req;
	struct stat st;
	json_t *back;

	assert_int_equal(stat("/proc/self/ns/net", &st), 0);
	assert_int_equal(parse("{\"op\":\"rule.add\",\"rule\":{\"action\":\"reset\","
			       "\"netns\":\"/proc/self/ns/net\"}}", &req, &err), 0);
	assert_int_equal(req.spec.rule.match, CONNCTL_MATCH_NETNS);
	assert_int_equal(req.spec.rule.netns_ino, st.st_ino);
	back = rule_spec_to_json(&req.spec);
	assert_int_equal(strncmp(json_string_value(json_object_get(back, "netns")), "net:[", 5), 0);
	json_decref(back);
	/* The cgroup v2 root: level 0, named "/". */
	assert_int_equal(parse("{\"op\":\"rule.add\",\"rule\":{\"action\":\"observe\","
			       "\"cgroup\":\"/\"}}", &req, &err), 0);
	assert_int_equal(req.spec.rule.match, CONNCTL_MATCH_CGROUP);
	assert_int_equal(req.spec.rule.cgroup_level, 0);
	assert_string_equal(req.spec.cgroup, "/");
}

static void test_bad_requests(void **state)
{
	struct proto_error err;
	struct request req;

	for (size_t i = 0; i < sizeof(bad_requests) / sizeof(bad_requests[0]); i++) {
		if (parse(bad_requests[i].line, &req, &err) == 0)
			fail_msg("accepted: %s", bad_requests[i].line);
		if (err.code != bad_requests[i].code)
			fail_msg("%s: got %s (%s), want %s", bad_requests[i].line,
				 proto_code_name(err.code), err.message,
				 proto_code_name(bad_requests[i].code));
		assert_true(strlen(err.message) > 0);
	}
}

static void test_line_too_long(void **state)
{
	size_t len = PROTO_MAX_LINE + 1;
	char *line = malloc(len);
	struct proto_error err;
	struct request req;

	memset(line, ' ', len);
	assert_int_not_equal(request_parse(line, len, &test_paths, &req, &err), 0);
	assert_int_equal(err.code, PROTO_LINE_TOO_LONG);
	free(line);
}

static void test_embedded_nul(void **state)
{
	static const char line[] = "{\"op\":\"rule.show\"}\0{}";
	struct proto_error err;
	struct request req;

	assert_int_not_equal(request_parse(line, sizeof(line) - 1, &test_paths, &req, &err), 0);
	assert_int_equal(err.code, PROTO_BAD_JSON);
}

static void test_rule_json_reads_back(void **state)
{
	static const char line[] = "{\"op\":\"rule.add\",\"rule\":{\"action\":\"drain\","
		"\"local\":\"2001:db8::/32\",\"lport\":443,\"rport\":\"1000-2000\","
		"\"timeout\":\"1m\",\"quiet\":\"250ms\",\"ttl\":\"90s\",\"id\":12}}";
	struct proto_error err;
	struct request req;
	json_t *obj;
	char *text;

	assert_int_equal(parse(line, &req, &err), 0);
	obj = rule_spec_to_json(&req.spec);
	text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(text, "{\"action\":\"drain\",\"id\":12,\"local\":\"2001:db8::/32\","
			    "\"lport\":443,\"proto\":\"tcp\",\"quiet\":\"250ms\",\"rport\":\"1000-2000\","
			    "\"timeout\":\"1m\",\"ttl\":\"90s\"}");
	free(text);
	json_decref(obj);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_full),
		cmocka_unit_test(test_add_defaults),
		cmocka_unit_test(test_del_show),
		cmocka_unit_test(test_observe_mark),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_line_too_long),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_rule_json_reads_back),
		cmocka_unit_test(test_netns_and_cgroup),
	};

	return cmocka_run_group_tests_name("protocol", tests, NULL, NULL);
}
