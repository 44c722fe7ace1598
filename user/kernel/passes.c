// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "base/buf.h"
#include "base/clock.h"
#include "kernel/passes.h"
#include "kernel/rule_maps.h"
#include "iter.skel.h"
#include "base/log.h"
#include "sys/netns.h"
#include "kernel/conns.h"
#include "connctl_match.h"
#include "sys/owner.h"
#include "sys/sock_diag.h"

/* Sweeps run often: they look for new namespaces at most this often. */
#define NETNS_SWEEP_FRESH_NS	(1000 * 1000 * 1000ULL)

/* Listings of the namespaces that a full connection log spoilt, at most. */
#define INDEX_TRIES		3

/* Below this many TCP sockets in the namespace, an APPLY walk runs on one thread. */
#define SHARD_MIN_SOCKETS	4096

static const char *const mode_names[] = {
	[CONNCTL_ITER_APPLY] = "apply",
	[CONNCTL_ITER_SWEEP] = "sweep",
	[CONNCTL_ITER_UNTAG] = "untag",
	[CONNCTL_ITER_LIST] = "list",
	[CONNCTL_ITER_CATCH_UP] = "catch-up",
	[CONNCTL_ITER_MARK] = "udp listing",
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
	cpu_set_t		allowed;	/* a shard thread's CPUs once it runs */
	struct conn_index	*log;		/* set aside as the pass reads (this thread's) */
};

static void pass_setup(struct pass *p, const struct connctl_rule *rule,
		       const struct apply_batch *batch, uint32_t shard, uint32_t shards)
{
	struct iter_bpf__bss *bss = p->iter->bss;

	bss->iter_mode = p->mode;
	if (rule)
		bss->iter_rule = *rule;
	bss->iter_nrules = 0;
	/* A listing of everything feeds the index, which matches cgroups later. */
	bss->iter_want_cgroups = rule && (!rule->match || (rule->match & CONNCTL_MATCH_CGROUP));
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
	/* Reading to EOF runs the pass; a LIST prints, an APPLY marks its resets. */
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (p->log)
			conn_index_stash(p->log);
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
		pr_warn("iterator pass (%s) failed: %s", mode_names[p->mode],
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
		pr_warn("cannot start an iterator (%s): %s", mode_names[passes[0].mode],
			strerror(-err));
		while (i-- > 0)
			close(passes[i].fd);
	}
	return err;
}

/*
 * Where shard i > 0 starts: the i-th CPU this thread may use, after its
 * own. Left to the scheduler, a shard thread shared its maker's CPU for the
 * first 20 ms of a 40 ms pass while the other CPU idled (perf, 10,000
 * resets). Once it runs, it may use them all again (shard_main).
 */
static void shard_cpu(pthread_attr_t *attr, struct pass *p, int shard)
{
	int here = sched_getcpu(), n = 0;
	cpu_set_t one;

	if (here < 0 || sched_getaffinity(0, sizeof(p->allowed), &p->allowed))
		return;
	for (int k = 1; k < CPU_SETSIZE; k++) {
		int cpu = (here + k) % CPU_SETSIZE;

		if (!CPU_ISSET(cpu, &p->allowed) || ++n != shard)
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		pthread_attr_setaffinity_np(attr, sizeof(one), &one);
		return;
	}
}

static void *shard_main(void *arg)
{
	struct pass *p = arg;

	if (CPU_COUNT(&p->allowed))
		pthread_setaffinity_np(pthread_self(), sizeof(p->allowed), &p->allowed);
	return pass_run(p);
}

/* A shard's thread joined; the log set aside meanwhile, every millisecond. */
static void join_stashing(pthread_t thread, struct conn_index *log)
{
	struct timespec until;

	if (!log) {
		pthread_join(thread, NULL);
		return;
	}
	for (;;) {
		conn_index_stash(log);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 1000 * 1000;
		if (until.tv_nsec >= 1000 * 1000 * 1000) {
			until.tv_sec++;
			until.tv_nsec -= 1000 * 1000 * 1000;
		}
		if (pthread_timedjoin_np(thread, NULL, &until) != ETIMEDOUT)
			break;
	}
	conn_index_stash(log);
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
	/*
	 * A reset of 50,000 connections closes 100,000 sockets here, 2.4 MB
	 * of records for a 1 MiB log: set aside as they come, they spare the
	 * next rule a listing of every namespace.
	 */
	if (mode == CONNCTL_ITER_APPLY)
		passes[0].log = dp->conns;
	err = create_iterators(dp, passes, shards, ns);
	if (err)
		return err;
	for (int i = 1; i < shards; i++) {
		pthread_attr_t attr;

		if (pthread_attr_init(&attr))
			continue;
		shard_cpu(&attr, &passes[i], i);
		started[i] = !pthread_create(&threads[i], &attr, shard_main, &passes[i]);
		pthread_attr_destroy(&attr);
	}
	pass_run(&passes[0]);
	for (int i = 1; i < shards; i++) {
		if (started[i])
			join_stashing(threads[i], passes[0].log);
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

/* A listing of everything: what the index first knows of a namespace. */
static int list_into_index(struct datapath *dp, const struct netns *ns, uint32_t ino)
{
	const size_t rec = sizeof(struct connctl_listed);
	struct connctl_rule all = { 0 };
	struct listing out = { 0 };
	struct pass_result res = { 0 };
	int err;

	err = conn_index_begin_listing(dp->conns, ino);
	dp->index_listings++;
	if (!err)
		err = run_in(dp, CONNCTL_ITER_LIST, &all, NULL, 1, &res, ns, &out);
	for (size_t off = 0; !err && off + rec <= out.len; off += rec) {
		const struct connctl_listed *l = (const void *)(out.buf + off);

		err = conn_index_add(dp->conns, l->cookie, &l->tuple);
	}
	free(out.buf);
	/* Gone: nothing of it to match. */
	if (err == -ENOENT)
		err = 0;
	/* Rare (a namespace's first, or after a lost log): what it cost, for the operator. */
	if (!err && netns_tcp_table_shared(dp->netns, ns) == 1)
		dp->index_listings_shared++;
	return err ? err : conn_index_end_listing(dp->conns, ino);
}

/*
 * Namespaces met for the first time are listed once. Nothing to do while
 * no new look at the namespaces was taken and the index was not emptied:
 * a rule's cost does not grow with the namespaces it does not match.
 */
static int index_list_new(struct datapath *dp)
{
	struct netns_set *set = dp->netns;
	int err = 0;

	if (!netns_many(set))
		return conn_index_listed(dp->conns, set->own_ino) ? 0 :
		       list_into_index(dp, NULL, set->own_ino);
	if (set->scanned_ns == dp->index_scanned_ns &&
	    conn_index_listed(dp->conns, set->own_ino))
		return 0;
	for (size_t k = 0; k < set->n && !err; k++) {
		const struct netns *ns = &set->v[k];

		if (!conn_index_listed(dp->conns, ns->ino))
			err = list_into_index(dp, ns->ino == set->own_ino ? NULL : ns, ns->ino);
	}
	if (!err)
		dp->index_scanned_ns = set->scanned_ns;
	return err;
}

/*
 * The index current: the log read, new namespaces listed. Records lost to
 * a full log empty the index, and it lists the namespaces again.
 */
static int index_ready(struct datapath *dp)
{
	int err = -ESTALE;

	for (int tries = 0; tries < INDEX_TRIES && err; tries++) {
		err = conn_index_read(dp->conns);
		if (!err)
			err = index_list_new(dp);
		if (!err)
			err = conn_index_read(dp->conns);
	}
	return err;
}

/*
 * The namespaces where the rules match something now, from the index;
 * NULL when it cannot say (then every namespace is walked).
 */
static struct netns_hits *index_hits(struct datapath *dp, const struct connctl_rule *rules,
				     size_t n)
{
	int err;

	if (!dp->conns || !dp->netns)
		return NULL;
	err = index_ready(dp);
	if (!err)
		err = conn_index_match(dp->conns, rules, n, &dp->conn_hits);
	if (err) {
		pr_warn("connection index: %s; walking every namespace", strerror(-err));
		return NULL;
	}
	return &dp->conn_hits;
}

/*
 * One connection the index matched, without a walk: every rule of the
 * batch that matches it counted, the strongest applied as the iterator
 * would (reset: SOCK_DESTROY by tuple and cookie; observe: nothing).
 */
static void apply_direct_one(struct datapath *dp, struct apply_batch *batch, uint32_t slot,
			     int diag_fd)
{
	const struct connctl_tuple *t;
	const struct connctl_rule *best = NULL;
	uint64_t cookie;
	int err = 0;

	t = conn_index_tuple(dp->conns, slot, &cookie);
	for (uint32_t i = 0; i < batch->n; i++) {
		const struct connctl_rule *r = &batch->rules[i];

		if (rule_matches(r, t) && (!best || rule_beats(r, best->id, best->action)))
			best = r;
	}
	if (!best)
		return;
	if (best->action == CONNCTL_ACTION_RESET) {
		err = sock_diag_destroy(diag_fd, t, cookie);
		/* Closed since it was logged: a walk would not have met it either. */
		if (err == -ENOENT)
			return;
	}
	for (uint32_t i = 0; i < batch->n; i++)
		if (rule_matches(&batch->rules[i], t))
			batch->results[i].matched++;
	if (best->action == CONNCTL_ACTION_OBSERVE)
		return;
	batch->results[best - batch->rules].applied++;
	if (err)
		batch->results[best - batch->rules].failed++;
}

/* The few connections the batch matches in one namespace. */
static int apply_direct(struct datapath *dp, struct apply_batch *batch,
			const struct netns_hits *hits, const struct netns_hit *h)
{
	int fd = netns_diag_fd(dp->netns, h->ino);

	if (fd < 0)
		return fd;
	for (size_t i = h->first; i < h->first + h->n_slots; i++)
		apply_direct_one(dp, batch, hits->slots[i], fd);
	return 0;
}

static int apply_shards(const struct datapath *dp);

/*
 * One namespace of a pass: walked, or, where the index found only a few
 * connections for rules that need no tag, those connections alone.
 */
static int run_at(struct datapath *dp, enum connctl_iter_mode mode,
		  const struct connctl_rule *rule, struct apply_batch *batch, int shards,
		  struct pass_result *res, const struct netns *ns, uint32_t ino,
		  struct listing *listing, struct netns_hits *hits)
{
	const struct netns_hit *h = hits ? netns_hits_find(hits, ino) : NULL;
	int err;

	if (hits && !h)
		return 0;
	if (h && mode == CONNCTL_ITER_APPLY && !h->walk)
		return apply_direct(dp, batch, hits, h);
	err = run_in(dp, mode, rule, batch, shards ? shards : apply_shards(dp), res, ns, listing);
	/* Gone: not walked. */
	if (err != -ENOENT)
		dp->walks[mode]++;
	return err;
}

/*
 * How recent a look at the namespaces will do. A rule meets the namespaces
 * of now; sweeps may use a recent look. With --netns all and the index
 * listing them, a rule need not look either: the connection log reports
 * every namespace's connections from its birth, and a look (every process's
 * /proc entry) costs what the host runs, not what the rule matches.
 */
static uint64_t scan_freshness(const struct datapath *dp, enum connctl_iter_mode mode)
{
	if (mode != CONNCTL_ITER_APPLY && mode != CONNCTL_ITER_LIST && mode != CONNCTL_ITER_UNTAG)
		return NETNS_SWEEP_FRESH_NS;
	if (dp->netns->all && dp->conns && conn_index_listed(dp->conns, dp->netns->own_ino))
		return NETNS_SWEEP_FRESH_NS;
	return 0;
}

static bool hits_all_known(const struct netns_hits *hits, const struct netns_set *set)
{
	for (size_t i = 0; i < hits->n; i++)
		if (!netns_name(set, hits->v[i].ino))
			return false;
	return true;
}

/*
 * A pass in every namespace the agent acts in (--netns), or in its own;
 * for rules, only where the index says they match something. A namespace
 * gone since it was found is skipped.
 */
static int run_passes(struct datapath *dp, enum connctl_iter_mode mode,
		      const struct connctl_rule *rule, struct apply_batch *batch,
		      int shards, struct pass_result *res, struct listing *listing)
{
	struct netns_set *set = dp->netns;
	struct netns_hits *hits = NULL;
	uint64_t before[CONNCTL_APPLY_BATCH];
	int err = 0;

	if (set && netns_many(set))
		netns_scan(set, scan_freshness(dp, mode));
	if (mode == CONNCTL_ITER_APPLY)
		hits = index_hits(dp, batch->rules, batch->n);
	else if (mode == CONNCTL_ITER_LIST || mode == CONNCTL_ITER_UNTAG)
		hits = index_hits(dp, rule, 1);
	/* A namespace born since the last look holds a match: look again. */
	if (hits && set && netns_many(set) && !hits_all_known(hits, set))
		netns_scan(set, 0);
	if (!set || !netns_many(set))
		return run_at(dp, mode, rule, batch, shards, res, NULL, set ? set->own_ino : 0,
			      listing, hits);
	for (size_t k = 0; k < set->n; k++) {
		const struct netns *ns = &set->v[k];
		int e;

		if (hits && !netns_hits_find(hits, ns->ino))
			continue;
		for (uint32_t i = 0; batch && i < batch->n; i++)
			before[i] = batch->results[i].matched;
		e = run_at(dp, mode, rule, batch, shards, res, ns, ns->ino, listing, hits);
		if (dp->between_walks)
			dp->between_walks(dp->between_ctx);
		if (e == -ENOENT)
			continue;
		if (e && !err)
			err = e;
		if (batch)
			count_by_netns(batch, before, ns->ino);
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

/*
 * --- connected UDP sockets: no tags; a walk of the UDP table in each
 * namespace that udp_conns says holds one ---
 */

/* A cancel's owner index may be this old: a batch of cancels shares one walk of /proc. */
#define UDP_OWNERS_FRESH_NS	(100 * 1000 * 1000ULL)

/*
 * A connected UDP socket's owner wakes from recv() with 0: the socket shut
 * down through a duplicate of its fd. 0, or -errno (-ENOENT: no owner).
 */
static int udp_cancel_one(struct datapath *dp, const struct connctl_listed *l)
{
	struct sock_diag_info info;
	int fd = dp->netns ? netns_diag_fd(dp->netns, l->tuple.netns_ino) : -ENOENT;
	int err, owned;

	if (fd < 0)
		return fd;
	err = sock_diag_lookup(fd, &l->tuple, l->cookie, &info);
	if (err)
		return err;
	if (!info.inode)
		return -ENOENT;
	owned = owner_take_fd_in(&dp->udp_owners, info.inode, info.cgroup_id,
				 UDP_OWNERS_FRESH_NS);
	if (owned < 0)
		return owned;
	err = shutdown(owned, SHUT_RDWR) ? -errno : 0;
	close(owned);
	return err;
}

static void udp_cancel(struct datapath *dp, struct apply_batch *batch,
		       const struct listing *printed)
{
	const size_t rec = sizeof(struct connctl_listed);

	for (size_t off = 0; off + rec <= printed->len; off += rec) {
		const struct connctl_listed *l = (const void *)(printed->buf + off);
		uint32_t i = l->rule;
		int err;

		if (i >= batch->n)
			continue;
		batch->results[i].applied++;
		err = udp_cancel_one(dp, l);
		if (err) {
			batch->results[i].failed++;
			pr_debug("rule %u: cannot cancel a UDP socket (port %u): %s",
				 batch->rules[i].id, l->tuple.lport, strerror(-err));
		}
	}
}

/*
 * One walk of a namespace's UDP sockets (its own iterator, on one thread):
 * resets done in the kernel, cancels printed and done here, a dry run's
 * matches printed into listing.
 */
static int udp_at(struct datapath *dp, enum connctl_iter_mode mode,
		  const struct connctl_rule *rule, struct apply_batch *batch,
		  struct pass_result *res, const struct netns *ns, struct listing *listing)
{
	struct listing cancels = { 0 };
	struct pass p = { .iter = dp->iter[0], .link = dp->udp_iter_link, .mode = mode,
			  .fd = -1, .dp_cgroup_id = dp->cgroup_id,
			  .dp_cgroup_level = dp->cgroup_level };
	int err;

	pass_setup(&p, rule, batch, 0, 1);
	p.out = mode == CONNCTL_ITER_LIST ? listing : &cancels;
	err = create_iterators(dp, &p, 1, ns);
	if (err)
		return err;
	dp->walks[mode]++;
	pass_run(&p);
	pass_add_result(&p, res, batch);
	if (batch && !p.err)
		udp_cancel(dp, batch, &cancels);
	free(cancels.buf);
	return p.err;
}

/* Entries of udp_conns read a call. */
#define UDP_CONNS_BATCH		1024

static int ino_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* Whether ino is in the sorted set v of n. */
static bool ino_in(const uint32_t *v, size_t n, uint32_t ino)
{
	return n && bsearch(&ino, v, n, sizeof(*v), ino_cmp);
}

/* The sorted v of *n, each value once. */
static void ino_unique(uint32_t *v, size_t *n)
{
	size_t k = 0;

	if (!*n)
		return;
	qsort(v, *n, sizeof(*v), ino_cmp);
	for (size_t i = 1; i < *n; i++)
		if (v[i] != v[k])
			v[++k] = v[i];
	*n = k + 1;
}

/*
 * The namespaces where a connected UDP socket of --cgroup is listed, each
 * once, sorted (count->netns of them); how many sockets there are, and were lost.
 */
static int udp_conn_netns(const struct datapath *dp, uint32_t **inos,
			  struct udp_conns_count *count)
{
	static __u64 keys[UDP_CONNS_BATCH], values[UDP_CONNS_BATCH];
	int fd = bpf_map__fd(dp->iter[0]->maps.udp_conns);
	size_t cap = 0;
	__u64 token = 0;
	bool first = true;

	*inos = NULL;
	*count = (struct udp_conns_count){ 0 };
	for (;;) {
		__u32 got = UDP_CONNS_BATCH;
		int done;

		done = bpf_map_lookup_batch(fd, first ? NULL : &token, &token, keys, values,
					    &got, NULL);
		if (done && errno != ENOENT)
			return -errno;
		for (__u32 i = 0; i < got; i++) {
			if (!keys[i]) {
				count->lost = values[i];
				continue;
			}
			if (array_grow((void **)inos, &cap, count->sockets, sizeof(**inos)))
				return -ENOMEM;
			(*inos)[count->sockets++] = (uint32_t)values[i];
		}
		if (done)
			break;
		first = false;
	}
	count->netns = count->sockets;
	ino_unique(*inos, &count->netns);
	return 0;
}

int passes_udp_conns(const struct datapath *dp, struct udp_conns_count *count)
{
	uint32_t *inos;
	int err = udp_conn_netns(dp, &inos, count);

	free(inos);
	return err;
}

static bool netns_all_known(const struct netns_set *set, const uint32_t *inos, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!netns_find(set, inos[i]))
			return false;
	return true;
}

/*
 * The UDP walk in the namespaces the agent acts in that hold a connected
 * socket of --cgroup (udp_conns), or in every one when it cannot say.
 */
static int udp_passes(struct datapath *dp, enum connctl_iter_mode mode,
		      const struct connctl_rule *rule, struct apply_batch *batch,
		      struct pass_result *res, struct listing *listing)
{
	struct netns_set *set = dp->netns;
	uint64_t before[CONNCTL_APPLY_BATCH];
	struct udp_conns_count count;
	uint32_t *inos;
	bool known;
	int err;

	err = udp_conn_netns(dp, &inos, &count);
	known = !err && !count.lost && !dp->udp_conns_partial;
	if (!known && !dp->udp_conns_warned) {
		pr_warn("the list of connected UDP sockets is %s; UDP rules walk every namespace",
			err ? strerror(-err) :
			count.lost ? "incomplete (it was full)" :
				     "incomplete (a walk at the start failed)");
		dp->udp_conns_warned = true;
	}
	err = 0;
	if (!set || !netns_many(set)) {
		if (!known || ino_in(inos, count.netns, set ? set->own_ino : netns_self_ino()))
			err = udp_at(dp, mode, rule, batch, res, NULL, listing);
		goto out;
	}
	/* Born since the last look: look again. With no socket listed, no look. */
	if (!known || !netns_all_known(set, inos, count.netns))
		netns_scan(set, 0);
	for (size_t k = 0; k < set->n; k++) {
		int e;

		if (known && !ino_in(inos, count.netns, set->v[k].ino))
			continue;
		for (uint32_t i = 0; batch && i < batch->n; i++)
			before[i] = batch->results[i].matched;
		e = udp_at(dp, mode, rule, batch, res, &set->v[k], listing);
		if (e == -ENOENT)
			continue;
		if (e && !err)
			err = e;
		if (batch)
			count_by_netns(batch, before, set->v[k].ino);
	}
out:
	free(inos);
	return err;
}

/*
 * The connected UDP sockets of --cgroup that may have connected with no
 * hook there to list them (before the first agent, or outside the
 * namespaces an earlier one acted in): listed by one walk of each
 * namespace at every start, as TCP's index lists them.
 */
static void udp_list_existing(struct datapath *dp)
{
	struct netns_set *set = dp->netns;
	struct pass_result res = { 0 };
	uint64_t t0 = monotonic_ns();
	size_t walked = 0;
	int err;

	/* Without --netns, the set is the agent's own namespace alone. */
	for (size_t k = 0; set && k < set->n; k++) {
		err = udp_at(dp, CONNCTL_ITER_MARK, NULL, NULL, &res, &set->v[k], NULL);
		if (!err)
			walked++;
		else if (err != -ENOENT)
			dp->udp_conns_partial = true;
	}
	pr_info("connected UDP sockets: listed those of %zu namespaces (%.1f ms)", walked,
		(double)(monotonic_ns() - t0) / 1e6);
}

static bool batch_has(const struct apply_batch *batch, enum connctl_proto proto)
{
	for (uint32_t i = 0; i < batch->n; i++)
		if (batch->rules[i].proto == proto)
			return true;
	return false;
}

/*
 * A `once` drain never stands, yet cgroup_skb and recv() follow the tags its
 * walk makes from the start. A reset needs neither: the walk destroys.
 */
static int batch_links(struct datapath *dp, const struct apply_batch *batch)
{
	unsigned int needs = 0;

	for (uint32_t i = 0; i < batch->n; i++)
		if (batch->rules[i].action == CONNCTL_ACTION_DRAIN)
			needs |= kernel_rule_links(&batch->rules[i]);
	return datapath_want_links(dp, needs);
}

int passes_apply_batch(struct datapath *dp, struct apply_batch *batch, struct pass_result *res)
{
	int err = 0, e;

	if (batch->n > CONNCTL_APPLY_BATCH)
		return -E2BIG;
	err = batch_links(dp, batch);
	if (err)
		return err;
	memset(res, 0, sizeof(*res));
	memset(batch->results, 0, batch->n * sizeof(batch->results[0]));
	batch->n_by_netns = 0;
	/* 0: chosen at the first walk, if there is one (the index may spare it). */
	if (batch_has(batch, CONNCTL_PROTO_TCP))
		err = run_passes(dp, CONNCTL_ITER_APPLY, NULL, batch, 0, res, NULL);
	if (batch_has(batch, CONNCTL_PROTO_UDP)) {
		e = udp_passes(dp, CONNCTL_ITER_APPLY, NULL, batch, res, NULL);
		if (e && !err)
			err = e;
	}
	return err;
}

int passes_index_start(struct datapath *dp)
{
	uint64_t t0;
	int err;

	if (dp->netns && netns_many(dp->netns))
		netns_scan(dp->netns, 0);
	udp_list_existing(dp);
	if (!dp->conns || !dp->netns)
		return 0;
	t0 = monotonic_ns();
	err = index_ready(dp);
	if (err) {
		pr_warn("connection index: %s; rules will walk every namespace", strerror(-err));
		return err;
	}
	pr_info("connection index: %zu connections in %llu namespaces (%.1f ms)",
		conn_index_count(dp->conns), (unsigned long long)dp->index_listings,
		(double)(monotonic_ns() - t0) / 1e6);
	/* One walk of the host's table is the least any agent pays: many are the news. */
	if (dp->index_listings_shared > 1)
		pr_info("connection index: %llu of these namespaces share the host's TCP hash "
			"table, so each listing walked all of it; namespaces made where "
			"net.ipv4.tcp_child_ehash_entries is set have their own (README, "
			"\"Containers\")", (unsigned long long)dp->index_listings_shared);
	return 0;
}

int passes_sweep(struct datapath *dp, struct pass_result *res)
{
	memset(res, 0, sizeof(*res));
	return run_passes(dp, CONNCTL_ITER_SWEEP, NULL, NULL, 1, res, NULL);
}

int passes_sweep_in(struct datapath *dp, const uint32_t *inos, size_t n,
		    struct pass_result *res)
{
	struct netns_set *set = dp->netns;
	int err = 0;

	memset(res, 0, sizeof(*res));
	for (size_t i = 0; i < n; i++) {
		const struct netns *ns = NULL;
		int e;

		if (set && netns_many(set) && inos[i] != set->own_ino) {
			ns = netns_find(set, inos[i]);
			/* Not one the agent acts in (any more): nothing of ours there. */
			if (!ns)
				continue;
		}
		e = run_at(dp, CONNCTL_ITER_SWEEP, NULL, NULL, 1, res, ns, inos[i], NULL, NULL);
		if (dp->between_walks)
			dp->between_walks(dp->between_ctx);
		if (e && e != -ENOENT && !err)
			err = e;
	}
	return err;
}

int passes_catch_up(struct datapath *dp, struct pass_result *res)
{
	memset(res, 0, sizeof(*res));
	return run_passes(dp, CONNCTL_ITER_CATCH_UP, NULL, NULL, 1, res, NULL);
}

int passes_untag(struct datapath *dp, const struct connctl_rule *rule, struct pass_result *res)
{
	memset(res, 0, sizeof(*res));
	/* A UDP rule tags nothing. */
	if (rule->proto == CONNCTL_PROTO_UDP)
		return 0;
	return run_passes(dp, CONNCTL_ITER_UNTAG, rule, NULL, 1, res, NULL);
}

int passes_list(struct datapath *dp, const struct connctl_rule *rule,
		struct connctl_listed **listed, size_t *n)
{
	struct listing out = { 0 };
	struct pass_result res;
	int err;

	memset(&res, 0, sizeof(res));
	if (rule->proto == CONNCTL_PROTO_UDP)
		err = udp_passes(dp, CONNCTL_ITER_LIST, rule, NULL, &res, &out);
	else
		err = run_passes(dp, CONNCTL_ITER_LIST, rule, NULL, 1, &res, &out);
	if (err) {
		free(out.buf);
		return err;
	}
	*listed = (struct connctl_listed *)out.buf;
	*n = out.len / sizeof(**listed);
	return 0;
}
