// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <pthread.h>
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

/* One pass over one iterator object, which it owns until it returns. */
struct pass {
	struct iter_bpf		*iter;
	struct bpf_link		*link;
	enum connctl_iter_mode	mode;
	int			err;
};

static void pass_setup(struct pass *p, const struct connctl_rule *rule,
		       uint32_t shard, uint32_t shards)
{
	struct iter_bpf__bss *bss = p->iter->bss;

	bss->iter_mode = p->mode;
	if (rule)
		bss->iter_rule = *rule;
	bss->iter_shard = shard;
	bss->iter_shards = shards;
	bss->iter_matched = 0;
	bss->iter_failed = 0;
	bss->iter_lost = 0;
	bss->iter_pending = 0;
	bss->iter_next_ns = 0;
	memset(bss->iter_listen_ports, 0, sizeof(bss->iter_listen_ports));
}

static void *pass_run(void *arg)
{
	struct pass *p = arg;
	char buf[256];
	ssize_t n;
	int fd;

	fd = bpf_iter_create(bpf_link__fd(p->link));
	if (fd < 0) {
		p->err = -errno;
		pr_warn("cannot start a tcp iterator (%s): %s", mode_names[p->mode],
			strerror(errno));
		return NULL;
	}
	/* The program prints nothing: reading to EOF runs the pass. */
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	p->err = n < 0 ? -errno : 0;
	close(fd);
	if (p->err)
		pr_warn("tcp iterator pass (%s) failed: %s", mode_names[p->mode],
			strerror(-p->err));
	return NULL;
}

static void pass_add_result(const struct pass *p, struct pass_result *res)
{
	const struct iter_bpf__bss *bss = p->iter->bss;

	res->matched += bss->iter_matched;
	res->failed += bss->iter_failed;
	res->lost += bss->iter_lost;
	res->pending += bss->iter_pending;
	if (bss->iter_next_ns && (!res->next_ns || bss->iter_next_ns < res->next_ns))
		res->next_ns = bss->iter_next_ns;
}

/*
 * shards passes at once, shard 0 on this thread and the others on threads of
 * their own; a thread that cannot start leaves its shard to this thread.
 */
static int run_passes(struct datapath *dp, enum connctl_iter_mode mode,
		      const struct connctl_rule *rule, int shards, struct pass_result *res)
{
	struct pass passes[ITER_SHARDS_MAX];
	pthread_t threads[ITER_SHARDS_MAX];
	bool started[ITER_SHARDS_MAX] = { false };
	int err = 0;

	for (int i = 0; i < shards; i++) {
		passes[i] = (struct pass){ .iter = dp->iter[i], .link = dp->iter_link[i],
					   .mode = mode };
		pass_setup(&passes[i], rule, i, shards);
	}
	for (int i = 1; i < shards; i++)
		started[i] = !pthread_create(&threads[i], NULL, pass_run, &passes[i]);
	pass_run(&passes[0]);
	for (int i = 1; i < shards; i++) {
		if (started[i])
			pthread_join(threads[i], NULL);
		else
			pass_run(&passes[i]);
	}
	memset(res, 0, sizeof(*res));
	for (int i = 0; i < shards; i++) {
		if (passes[i].err && !err)
			err = passes[i].err;
		pass_add_result(&passes[i], res);
	}
	return err;
}

int closer_apply_existing(struct datapath *dp, const struct connctl_rule *rule,
			  struct pass_result *res)
{
	return run_passes(dp, CONNCTL_ITER_APPLY, rule, dp->iter_shards, res);
}

int closer_sweep(struct datapath *dp, struct pass_result *res)
{
	return run_passes(dp, CONNCTL_ITER_SWEEP, NULL, 1, res);
}

int closer_untag(struct datapath *dp, uint32_t rule_id, struct pass_result *res)
{
	struct connctl_rule rule = { .id = rule_id };

	return run_passes(dp, CONNCTL_ITER_UNTAG, &rule, 1, res);
}
