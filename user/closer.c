// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "closer.h"
#include "iter.skel.h"
#include "log.h"

/* Below this many TCP sockets in the namespace, an APPLY walk runs on one thread. */
#define SHARD_MIN_SOCKETS	4096

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
	char			*out;		/* LIST: what the program printed */
	size_t			out_len;
	size_t			out_cap;
};

static void pass_setup(struct pass *p, const struct connctl_rule *rule,
		       const struct apply_batch *batch, uint32_t shard, uint32_t shards)
{
	struct iter_bpf__bss *bss = p->iter->bss;

	bss->iter_mode = p->mode;
	if (rule)
		bss->iter_rule = *rule;
	bss->iter_nrules = 0;
	if (batch) {
		memcpy(bss->iter_rules, batch->rules, batch->n * sizeof(batch->rules[0]));
		memset(bss->iter_results, 0, batch->n * sizeof(bss->iter_results[0]));
		bss->iter_nrules = batch->n;
	}
	bss->iter_shard = shard;
	bss->iter_shards = shards;
	bss->iter_matched = 0;
	bss->iter_seen = 0;
	bss->iter_lost = 0;
	bss->iter_pending = 0;
	bss->iter_next_ns = 0;
	memset(bss->iter_listen_ports, 0, sizeof(bss->iter_listen_ports));
}

static void *pass_run(void *arg)
{
	struct pass *p = arg;
	char buf[4096];
	ssize_t n;
	int fd;

	fd = bpf_iter_create(bpf_link__fd(p->link));
	if (fd < 0) {
		p->err = -errno;
		pr_warn("cannot start a tcp iterator (%s): %s", mode_names[p->mode],
			strerror(errno));
		return NULL;
	}
	/* Reading to EOF runs the pass; only a LIST prints anything. */
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (p->mode != CONNCTL_ITER_LIST)
			continue;
		if (p->out_len + (size_t)n > p->out_cap) {
			size_t cap = 2 * (p->out_len + (size_t)n);
			char *grown = realloc(p->out, cap);

			if (!grown) {
				n = -1;
				errno = ENOMEM;
				break;
			}
			p->out = grown;
			p->out_cap = cap;
		}
		memcpy(p->out + p->out_len, buf, (size_t)n);
		p->out_len += (size_t)n;
	}
	p->err = n < 0 ? -errno : 0;
	close(fd);
	if (p->err)
		pr_warn("tcp iterator pass (%s) failed: %s", mode_names[p->mode],
			strerror(-p->err));
	return NULL;
}

static void pass_add_result(const struct pass *p, struct pass_result *res,
			    struct apply_batch *batch)
{
	const struct iter_bpf__bss *bss = p->iter->bss;

	res->matched += bss->iter_matched;
	res->lost += bss->iter_lost;
	res->pending += bss->iter_pending;
	if (bss->iter_next_ns && (!res->next_ns || bss->iter_next_ns < res->next_ns))
		res->next_ns = bss->iter_next_ns;
	if (!batch)
		return;
	for (uint32_t i = 0; i < batch->n; i++) {
		batch->results[i].matched += bss->iter_results[i].matched;
		batch->results[i].applied += bss->iter_results[i].applied;
		batch->results[i].failed += bss->iter_results[i].failed;
	}
}

/*
 * shards passes at once, shard 0 on this thread and the others on threads of
 * their own; a thread that cannot start leaves its shard to this thread.
 */
static int run_passes(struct datapath *dp, enum connctl_iter_mode mode,
		      const struct connctl_rule *rule, struct apply_batch *batch,
		      int shards, struct pass_result *res)
{
	struct pass passes[ITER_SHARDS_MAX];
	pthread_t threads[ITER_SHARDS_MAX];
	bool started[ITER_SHARDS_MAX] = { false };
	int err = 0;

	for (int i = 0; i < shards; i++) {
		passes[i] = (struct pass){ .iter = dp->iter[i], .link = dp->iter_link[i],
					   .mode = mode };
		pass_setup(&passes[i], rule, batch, i, shards);
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
	if (batch)
		memset(batch->results, 0, batch->n * sizeof(batch->results[0]));
	for (int i = 0; i < shards; i++) {
		if (passes[i].err && !err)
			err = passes[i].err;
		pass_add_result(&passes[i], res, batch);
	}
	/* Every shard walks every connection: one count is the namespace's. */
	res->seen = passes[0].iter->bss->iter_seen;
	return err;
}

/*
 * TCP sockets in use in this namespace, from /proc/net/sockstat: a walk
 * that closes a few connections gains nothing from threads.
 */
static long tcp_sockets_in_use(void)
{
	char line[256];
	long inuse = -1;
	FILE *f = fopen("/proc/self/net/sockstat", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "TCP: inuse %ld", &inuse) == 1)
			break;
	fclose(f);
	return inuse;
}

static int apply_shards(const struct datapath *dp)
{
	long inuse = tcp_sockets_in_use();

	return inuse >= 0 && inuse < SHARD_MIN_SOCKETS ? 1 : dp->iter_shards;
}

int closer_apply_batch(struct datapath *dp, struct apply_batch *batch, struct pass_result *res)
{
	if (batch->n > CONNCTL_APPLY_BATCH)
		return -E2BIG;
	return run_passes(dp, CONNCTL_ITER_APPLY, NULL, batch, apply_shards(dp), res);
}

int closer_sweep(struct datapath *dp, struct pass_result *res)
{
	return run_passes(dp, CONNCTL_ITER_SWEEP, NULL, NULL, 1, res);
}

int closer_untag(struct datapath *dp, uint32_t rule_id, struct pass_result *res)
{
	struct connctl_rule rule = { .id = rule_id };

	return run_passes(dp, CONNCTL_ITER_UNTAG, &rule, NULL, 1, res);
}

int closer_list(struct datapath *dp, const struct connctl_rule *rule,
		struct connctl_listed **listed, size_t *n)
{
	struct pass p = { .iter = dp->iter[0], .link = dp->iter_link[0],
			  .mode = CONNCTL_ITER_LIST };

	pass_setup(&p, rule, NULL, 0, 1);
	pass_run(&p);
	if (p.err) {
		free(p.out);
		return p.err;
	}
	*listed = (struct connctl_listed *)p.out;
	*n = p.out_len / sizeof(**listed);
	return 0;
}
