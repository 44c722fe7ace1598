// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "base/buf.h"
#include "kernel/passes.h"
#include "iter.skel.h"
#include "base/log.h"
#include "sys/netns.h"

/* Sweeps run often: they look for new namespaces at most this often. */
#define NETNS_SWEEP_FRESH_NS	(1000 * 1000 * 1000ULL)

/* Below this many TCP sockets in the namespace, an APPLY walk runs on one thread. */
#define SHARD_MIN_SOCKETS	4096

static const char *const mode_names[] = {
	[CONNCTL_ITER_APPLY] = "apply",
	[CONNCTL_ITER_SWEEP] = "sweep",
	[CONNCTL_ITER_UNTAG] = "untag",
	[CONNCTL_ITER_LIST] = "list",
	[CONNCTL_ITER_CATCH_UP] = "catch-up",
};

/* One pass over one iterator object, which it owns until it returns. */
/* What LIST passes printed, namespace after namespace. */
struct listing {
	char	*buf;
	size_t	len;
	size_t	cap;
};

struct pass {
	struct iter_bpf		*iter;
	uint64_t		dp_cgroup_id;	/* sockops' cgroup, for the tags' flags */
	uint32_t		dp_cgroup_level;
	struct bpf_link		*link;
	enum connctl_iter_mode	mode;
	int			fd;		/* the iterator, created in its namespace */
	int			err;
	struct listing		*out;		/* LIST: where to keep what it printed */
};

static void pass_setup(struct pass *p, const struct connctl_rule *rule,
		       const struct apply_batch *batch, uint32_t shard, uint32_t shards)
{
	struct iter_bpf__bss *bss = p->iter->bss;

	bss->iter_mode = p->mode;
	if (rule)
		bss->iter_rule = *rule;
	bss->iter_nrules = 0;
	bss->iter_want_cgroups = rule && (rule->match & CONNCTL_MATCH_CGROUP);
	for (uint32_t i = 0; batch && i < batch->n; i++)
		if (batch->rules[i].match & CONNCTL_MATCH_CGROUP)
			bss->iter_want_cgroups = 1;
	if (batch) {
		memcpy(bss->iter_rules, batch->rules, batch->n * sizeof(batch->rules[0]));
		memset(bss->iter_results, 0, batch->n * sizeof(bss->iter_results[0]));
		bss->iter_nrules = batch->n;
	}
	bss->iter_shard = shard;
	bss->iter_shards = shards;
	bss->iter_cb_cgroup_id = p->dp_cgroup_id;
	bss->iter_cb_cgroup_level = p->dp_cgroup_level;
	bss->iter_matched = 0;
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
	int fd = p->fd;

	p->fd = -1;
	/* Reading to EOF runs the pass; only a LIST prints anything. */
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (p->out && buf_append(&p->out->buf, &p->out->len, &p->out->cap, buf,
					 (size_t)n, false)) {
			n = -1;
			errno = ENOMEM;
			break;
		}
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
 * The iterators of one pass, created in ns: an iterator walks the namespace
 * of the task that creates it. NULL: the agent's own.
 */
static int create_iterators(struct datapath *dp, struct pass *passes, int shards,
			    const struct netns *ns)
{
	bool away = ns && ns->ino != dp->netns->own_ino;
	int err = 0, i;

	if (away) {
		err = netns_enter(dp->netns, ns);
		if (err)
			return err;
	}
	for (i = 0; i < shards; i++) {
		passes[i].fd = bpf_iter_create(bpf_link__fd(passes[i].link));
		if (passes[i].fd < 0) {
			err = -errno;
			break;
		}
	}
	if (away)
		netns_leave(dp->netns);
	if (err) {
		pr_warn("cannot start a tcp iterator (%s): %s", mode_names[passes[0].mode],
			strerror(-err));
		while (i-- > 0)
			close(passes[i].fd);
	}
	return err;
}

/*
 * shards passes at once in one namespace, shard 0 on this thread and the
 * others on threads of their own; a thread that cannot start leaves its
 * shard to this thread. Adds to res and the batch's results.
 */
static int run_in(struct datapath *dp, enum connctl_iter_mode mode,
		  const struct connctl_rule *rule, struct apply_batch *batch,
		  int shards, struct pass_result *res, const struct netns *ns,
		  struct listing *listing)
{
	struct pass passes[ITER_SHARDS_MAX];
	pthread_t threads[ITER_SHARDS_MAX];
	bool started[ITER_SHARDS_MAX] = { false };
	int err;

	for (int i = 0; i < shards; i++) {
		passes[i] = (struct pass){ .iter = dp->iter[i], .link = dp->iter_link[i],
					   .mode = mode, .fd = -1, .dp_cgroup_id = dp->cgroup_id,
					   .dp_cgroup_level = dp->cgroup_level };
		pass_setup(&passes[i], rule, batch, i, shards);
	}
	/* A LIST goes on writing where the last namespace's left off. */
	passes[0].out = listing;
	err = create_iterators(dp, passes, shards, ns);
	if (err)
		return err;
	for (int i = 1; i < shards; i++)
		started[i] = !pthread_create(&threads[i], NULL, pass_run, &passes[i]);
	pass_run(&passes[0]);
	for (int i = 1; i < shards; i++) {
		if (started[i])
			pthread_join(threads[i], NULL);
		else
			pass_run(&passes[i]);
	}
	for (int i = 0; i < shards; i++) {
		if (passes[i].err && !err)
			err = passes[i].err;
		pass_add_result(&passes[i], res, batch);
	}
	/* Every shard walks every connection: one count is the namespace's. */
	return err;
}

/* What each rule of the batch matched in this namespace, where it did. */
static void count_by_netns(struct apply_batch *batch, const uint64_t *before, uint32_t ino)
{
	for (uint32_t i = 0; i < batch->n; i++) {
		uint64_t matched = batch->results[i].matched - before[i];

		if (!matched)
			continue;
		if (array_grow(&batch->by_netns, &batch->cap_by_netns, batch->n_by_netns,
			       sizeof(*batch->by_netns)))
			return;
		batch->by_netns[batch->n_by_netns++] =
			(struct apply_netns_count){ .rule = i, .netns_ino = ino, .matched = matched };
	}
}

/*
 * A pass in every namespace the agent acts in (--netns), or in its own.
 * A namespace gone since it was found is skipped.
 */
static int run_passes(struct datapath *dp, enum connctl_iter_mode mode,
		      const struct connctl_rule *rule, struct apply_batch *batch,
		      int shards, struct pass_result *res, struct listing *listing)
{
	struct netns_set *set = dp->netns;
	uint64_t before[CONNCTL_APPLY_BATCH];
	int err = 0;

	memset(res, 0, sizeof(*res));
	if (batch) {
		memset(batch->results, 0, batch->n * sizeof(batch->results[0]));
		batch->n_by_netns = 0;
	}
	if (!set || !netns_many(set))
		return run_in(dp, mode, rule, batch, shards, res, NULL, listing);
	/* A rule meets the namespaces of now; sweeps may use a recent look. */
	netns_scan(set, mode == CONNCTL_ITER_APPLY || mode == CONNCTL_ITER_LIST ?
		   0 : NETNS_SWEEP_FRESH_NS);
	for (size_t k = 0; k < set->n; k++) {
		int e;

		for (uint32_t i = 0; batch && i < batch->n; i++)
			before[i] = batch->results[i].matched;
		e = run_in(dp, mode, rule, batch, shards, res, &set->v[k], listing);
		if (dp->between_walks)
			dp->between_walks(dp->between_ctx);
		if (e == -ENOENT)
			continue;
		if (e && !err)
			err = e;
		if (batch)
			count_by_netns(batch, before, set->v[k].ino);
	}
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

int passes_apply_batch(struct datapath *dp, struct apply_batch *batch, struct pass_result *res)
{
	if (batch->n > CONNCTL_APPLY_BATCH)
		return -E2BIG;
	return run_passes(dp, CONNCTL_ITER_APPLY, NULL, batch, apply_shards(dp), res, NULL);
}

int passes_sweep(struct datapath *dp, struct pass_result *res)
{
	return run_passes(dp, CONNCTL_ITER_SWEEP, NULL, NULL, 1, res, NULL);
}

int passes_catch_up(struct datapath *dp, struct pass_result *res)
{
	return run_passes(dp, CONNCTL_ITER_CATCH_UP, NULL, NULL, 1, res, NULL);
}

int passes_untag(struct datapath *dp, uint32_t rule_id, struct pass_result *res)
{
	struct connctl_rule rule = { .id = rule_id };

	return run_passes(dp, CONNCTL_ITER_UNTAG, &rule, NULL, 1, res, NULL);
}

int passes_list(struct datapath *dp, const struct connctl_rule *rule,
		struct connctl_listed **listed, size_t *n)
{
	struct listing out = { 0 };
	struct pass_result res;
	int err;

	err = run_passes(dp, CONNCTL_ITER_LIST, rule, NULL, 1, &res, &out);
	if (err) {
		free(out.buf);
		return err;
	}
	*listed = (struct connctl_listed *)out.buf;
	*n = out.len / sizeof(**listed);
	return 0;
}
