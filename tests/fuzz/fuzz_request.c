// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer over what a client or a disk may hand the agent: one control
 * request line, and the same bytes as a state file. A rule that parses must
 * print as JSON that parses back to the same rule.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include "front/protocol.h"
#include "engine/journal.h"

/* The cgroup paths the parsed rules name. */
static struct path_pool test_paths;

static void check_round_trip(struct request *req)
{
	struct proto_error err;
	struct request again;
	json_t *line;
	char *text;

	/* The agent gives a rule its id before it ever prints it. */
	if (!req->spec.rule.id)
		req->spec.rule.id = 1;
	line = json_pack("{s:s, s:o}", "op", "rule.add", "rule", rule_spec_to_json(&req->spec));
	text = json_dumps(line, JSON_COMPACT);
	json_decref(line);
	if (!text)
		abort();
	if (request_parse(text, strlen(text), &test_paths, &again, &err)) {
		fprintf(stderr, "own output refused: %s: %s\n", text, err.message);
		abort();
	}
	again.spec.rule.expires_ns = req->spec.rule.expires_ns;
	if (memcmp(&again.spec.rule, &req->spec.rule, sizeof(again.spec.rule)) ||
	    again.spec.ttl_ns != req->spec.ttl_ns) {
		fprintf(stderr, "rule changed on the way back: %s\n", text);
		abort();
	}
	free(text);
}

static void fuzz_state_file(const uint8_t *data, size_t size)
{
	struct state_loaded st;
	char path[64], msg[512];
	int fd = memfd_create("state", 0);

	if (fd < 0)
		return;
	if (write(fd, data, size) == (ssize_t)size) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (!state_load(path, &test_paths, &st, msg, sizeof(msg)))
			free(st.specs);
	}
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_error err;
	struct request req;

	if (!request_parse((const char *)data, size, &test_paths, &req, &err) && req.op == REQ_RULE_ADD)
		check_round_trip(&req);
	fuzz_state_file(data, size);
	return 0;
}
