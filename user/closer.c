// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "closer.h"
#include "iter.skel.h"
#include "log.h"

static const char *const mode_names[] = {
	[CONNCTL_ITER_APPLY] = "apply",
	[CONNCTL_ITER_SWEEP] = "sweep",
	[CONNCTL_ITER_UNTAG] = "untag",
};

static int run_pass(struct datapath *dp, enum connctl_iter_mode mode,
		    const struct connctl_rule *rule, struct pass_result *res)
{
	struct iter_bpf__bss *bss = dp->iter->bss;
	char buf[256];
	ssize_t n;
	int fd;

	/* The agent is single-threaded: one pass at a time owns these globals. */
	bss->iter_mode = mode;
	if (rule)
		bss->iter_rule = *rule;
	bss->iter_matched = 0;
	bss->iter_failed = 0;
	bss->iter_lost = 0;
	bss->iter_pending = 0;
	bss->iter_next_ns = 0;
	memset(bss->iter_listen_ports, 0, sizeof(bss->iter_listen_ports));

	fd = bpf_iter_create(bpf_link__fd(dp->iter_link));
	if (fd < 0) {
		pr_warn("cannot start a tcp iterator (%s): %s", mode_names[mode], strerror(errno));
		return -errno;
	}
	/* The program prints nothing: reading to EOF runs the pass. */
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	close(fd);
	if (n < 0) {
		pr_warn("tcp iterator pass (%s) failed: %s", mode_names[mode], strerror(errno));
		return -errno;
	}
	res->matched = bss->iter_matched;
	res->failed = bss->iter_failed;
	res->lost = bss->iter_lost;
	res->pending = bss->iter_pending;
	res->next_ns = bss->iter_next_ns;
	return 0;
}

int closer_apply_existing(struct datapath *dp, const struct connctl_rule *rule,
			  struct pass_result *res)
{
	return run_pass(dp, CONNCTL_ITER_APPLY, rule, res);
}

int closer_sweep(struct datapath *dp, struct pass_result *res)
{
	return run_pass(dp, CONNCTL_ITER_SWEEP, NULL, res);
}

int closer_untag(struct datapath *dp, uint32_t rule_id, struct pass_result *res)
{
	struct connctl_rule rule = { .id = rule_id };

	return run_pass(dp, CONNCTL_ITER_UNTAG, &rule, res);
}
