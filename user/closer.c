// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "closer.h"
#include "iter.skel.h"
#include "log.h"

int closer_apply_existing(struct datapath *dp, const struct connctl_rule *rule,
			  struct pass_result *res)
{
	struct iter_bpf__bss *bss = dp->iter->bss;
	char buf[256];
	ssize_t n;
	int fd;

	/* The agent is single-threaded: one pass at a time owns these globals. */
	bss->iter_rule = *rule;
	bss->iter_matched = 0;
	bss->iter_failed = 0;

	fd = bpf_iter_create(bpf_link__fd(dp->iter_link));
	if (fd < 0) {
		pr_warn("cannot start a tcp iterator: %s", strerror(errno));
		return -errno;
	}
	/* The program prints nothing: reading to EOF runs the pass. */
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	close(fd);
	if (n < 0) {
		pr_warn("tcp iterator pass failed: %s", strerror(errno));
		return -errno;
	}
	res->matched = bss->iter_matched;
	res->failed = bss->iter_failed;
	return 0;
}
