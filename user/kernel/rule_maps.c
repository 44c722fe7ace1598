// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kernel/rule_maps.h"
#include "base/log.h"
#include "sockops.skel.h"

static size_t index_map_len(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (sizeof(struct connctl_rule_index) + page - 1) / page * page;
}

int kernel_rules_open(struct datapath *dp)
{
	void *p;

	p = mmap(NULL, index_map_len(), PROT_READ | PROT_WRITE, MAP_SHARED,
		 bpf_map__fd(dp->sockops->maps.rule_index), 0);
	if (p == MAP_FAILED) {
		pr_warn("cannot map the rule index: %s", strerror(errno));
		return -errno;
	}
	dp->index = p;
	return 0;
}

void kernel_rules_close(struct datapath *dp)
{
	if (dp->index)
		munmap(dp->index, index_map_len());
	dp->index = NULL;
}

static __u32 index_count(const struct connctl_rule_index *index)
{
	return __atomic_load_n(&index->count, __ATOMIC_ACQUIRE);
}

/* The id first, then the count that makes it visible. */
static void index_append(struct connctl_rule_index *index, __u32 id)
{
	__u32 n = index_count(index);

	__atomic_store_n(&index->ids[n], id, __ATOMIC_RELAXED);
	__atomic_store_n(&index->count, n + 1, __ATOMIC_RELEASE);
}

/*
 * The last id moves into the hole before the count drops, so a sockops
 * walk in progress sees every other rule at least once.
 */
static void index_remove(struct connctl_rule_index *index, __u32 id)
{
	__u32 n = index_count(index);

	for (__u32 i = 0; i < n; i++) {
		if (index->ids[i] != id)
			continue;
		__atomic_store_n(&index->ids[i], index->ids[n - 1], __ATOMIC_RELAXED);
		__atomic_store_n(&index->count, n - 1, __ATOMIC_RELEASE);
		return;
	}
}

/* After a change is complete: tc's cached verdicts on flows are now stale. */
static void index_bump_gen(struct connctl_rule_index *index)
{
	__atomic_add_fetch(&index->gen, 1, __ATOMIC_RELEASE);
}

/*
 * Where the matchers find a rule: by its remote prefix (rule_lpm); with
 * none, by its one local port (rule_ports), else by its cgroup
 * (rule_cgroups), else under ::/0.
 */
enum listing { BY_PREFIX, BY_PORT, BY_CGROUP };

struct listing_key {
	enum listing	by;
	__u32		port;
	__u64		cgroup;
};

static struct listing_key listing_of(const struct connctl_rule *rule)
{
	if (rule->match & CONNCTL_MATCH_REMOTE)
		return (struct listing_key){ .by = BY_PREFIX };
	if ((rule->match & CONNCTL_MATCH_LPORT) && rule->lport.min == rule->lport.max)
		return (struct listing_key){ .by = BY_PORT, .port = rule->lport.min };
	if (rule->match & CONNCTL_MATCH_CGROUP)
		return (struct listing_key){ .by = BY_CGROUP, .cgroup = rule->cgroup_id };
	return (struct listing_key){ .by = BY_PREFIX };
}

static bool same_listing(const struct listing_key *a, const struct listing_key *b)
{
	return a->by == b->by && a->port == b->port && a->cgroup == b->cgroup;
}

/* The hash that lists rules by port or cgroup, and the key into it. */
static int listing_map(struct datapath *dp, const struct listing_key *k, const void **key)
{
	if (k->by == BY_PORT) {
		*key = &k->port;
		return bpf_map__fd(dp->sockops->maps.rule_ports);
	}
	*key = &k->cgroup;
	return bpf_map__fd(dp->sockops->maps.rule_cgroups);
}

static int hashed_add(struct datapath *dp, const struct connctl_rule *rule,
		      const struct listing_key *k)
{
	struct connctl_rule_bucket b = {};
	const void *key;
	int fd = listing_map(dp, k, &key);

	bpf_map_lookup_elem(fd, key, &b);
	if (b.count < CONNCTL_BUCKET_IDS)
		b.ids[b.count] = rule->id;
	b.count++;
	return bpf_map_update_elem(fd, key, &b, BPF_ANY) ? -errno : 0;
}

/* A rule left: its port's or cgroup's entry, listed again from the rules that stand. */
static void hashed_del(struct datapath *dp, const struct rule_view *standing,
		       const struct connctl_rule *rule, const struct listing_key *k)
{
	struct connctl_rule_bucket b = {};
	const void *key;
	int fd = listing_map(dp, k, &key), err;

	for (size_t i = 0; i < standing->n; i++) {
		const struct connctl_rule *r = rule_view_at(standing, i);
		struct listing_key rk = listing_of(r);

		if (!same_listing(&rk, k))
			continue;
		if (b.count < CONNCTL_BUCKET_IDS)
			b.ids[b.count] = r->id;
		b.count++;
	}
	if (b.count)
		err = bpf_map_update_elem(fd, key, &b, BPF_ANY);
	else
		err = bpf_map_delete_elem(fd, key) && errno != ENOENT;
	if (err)
		pr_warn("rule %u: cannot update the rule listing: %s", rule->id, strerror(errno));
}

static void lpm_key_of(const struct connctl_rule *rule, struct connctl_lpm_key *key)
{
	memset(key, 0, sizeof(*key));
	if (rule->match & CONNCTL_MATCH_REMOTE) {
		key->prefixlen = rule->remote.len;
		memcpy(key->addr, rule->remote.addr, sizeof(key->addr));
	}
}

/* The trie's lookup finds the longest prefix that holds the key: exact only if as long. */
static bool lpm_lookup_exact(int fd, const struct connctl_lpm_key *key,
			     struct connctl_rule_bucket *b)
{
	return !bpf_map_lookup_elem(fd, key, b) && b->prefixlen == key->prefixlen;
}

/* A rule listed where the matchers look for it. */
static int lpm_add(struct datapath *dp, const struct connctl_rule *rule)
{
	int fd = bpf_map__fd(dp->sockops->maps.rule_lpm);
	struct listing_key k = listing_of(rule);
	struct connctl_rule_bucket b;
	struct connctl_lpm_key key;

	if (k.by != BY_PREFIX)
		return hashed_add(dp, rule, &k);
	lpm_key_of(rule, &key);
	if (!lpm_lookup_exact(fd, &key, &b)) {
		memset(&b, 0, sizeof(b));
		b.prefixlen = key.prefixlen;
	}
	if (b.count < CONNCTL_BUCKET_IDS)
		b.ids[b.count] = rule->id;
	b.count++;
	return bpf_map_update_elem(fd, &key, &b, BPF_ANY) ? -errno : 0;
}

/*
 * A rule left the table: its listing's entry, listed again from the table
 * (the entry may have listed only some of its rules).
 */
static void lpm_del(struct datapath *dp, const struct rule_view *standing,
		    const struct connctl_rule *rule)
{
	int fd = bpf_map__fd(dp->sockops->maps.rule_lpm);
	struct listing_key lk = listing_of(rule);
	struct connctl_rule_bucket b = {};
	struct connctl_lpm_key key, k;
	int err;

	if (lk.by != BY_PREFIX) {
		hashed_del(dp, standing, rule, &lk);
		return;
	}
	lpm_key_of(rule, &key);
	b.prefixlen = key.prefixlen;
	for (size_t i = 0; i < standing->n; i++) {
		const struct connctl_rule *r = rule_view_at(standing, i);

		lpm_key_of(r, &k);
		if (listing_of(r).by != BY_PREFIX || memcmp(&k, &key, sizeof(k)))
			continue;
		if (b.count < CONNCTL_BUCKET_IDS)
			b.ids[b.count] = r->id;
		b.count++;
	}
	if (b.count)
		err = bpf_map_update_elem(fd, &key, &b, BPF_ANY);
	else
		err = bpf_map_delete_elem(fd, &key) && errno != ENOENT;
	if (err)
		pr_warn("rule %u: cannot update the prefix index: %s", rule->id, strerror(errno));
}

/* From the standing rules, whatever the trie held before (a crash mid-update). */
static int lpm_rebuild(struct datapath *dp, const struct rule_view *standing)
{
	int fd = bpf_map__fd(dp->sockops->maps.rule_lpm), err;
	int ports = bpf_map__fd(dp->sockops->maps.rule_ports);
	int cgroups = bpf_map__fd(dp->sockops->maps.rule_cgroups);
	struct connctl_lpm_key key;
	__u64 cgroup;
	__u32 port;

	while (!bpf_map_get_next_key(fd, NULL, &key))
		if (bpf_map_delete_elem(fd, &key))
			return -errno;
	while (!bpf_map_get_next_key(ports, NULL, &port))
		if (bpf_map_delete_elem(ports, &port))
			return -errno;
	while (!bpf_map_get_next_key(cgroups, NULL, &cgroup))
		if (bpf_map_delete_elem(cgroups, &cgroup))
			return -errno;
	for (size_t i = 0; i < standing->n; i++) {
		err = lpm_add(dp, rule_view_at(standing, i));
		if (err)
			return err;
	}
	return 0;
}

int kernel_rule_add(struct datapath *dp, const struct connctl_rule *rule)
{
	__u32 id = rule->id;
	int err;

	if (bpf_map_update_elem(bpf_map__fd(dp->sockops->maps.rules), &id, rule,
				BPF_NOEXIST))
		return -errno;
	if (index_count(dp->index) >= CONNCTL_MAX_RULES) {
		bpf_map_delete_elem(bpf_map__fd(dp->sockops->maps.rules), &id);
		return -E2BIG;
	}
	/* Listed by prefix first: a rule in the index must be findable. */
	err = lpm_add(dp, rule);
	if (err) {
		bpf_map_delete_elem(bpf_map__fd(dp->sockops->maps.rules), &id);
		return err;
	}
	/* Before it is listed: sockops must read cgroups once it can match. */
	if (rule->match & CONNCTL_MATCH_CGROUP)
		__atomic_add_fetch(&dp->index->cgroup_rules, 1, __ATOMIC_RELEASE);
	index_append(dp->index, id);
	index_bump_gen(dp->index);
	return 0;
}

void kernel_rule_del(struct datapath *dp, const struct rule_view *standing,
		     const struct connctl_rule *rule)
{
	__u32 id = rule->id;

	index_remove(dp->index, id);
	if ((rule->match & CONNCTL_MATCH_CGROUP) && dp->index->cgroup_rules)
		__atomic_sub_fetch(&dp->index->cgroup_rules, 1, __ATOMIC_RELEASE);
	lpm_del(dp, standing, rule);
	if (bpf_map_delete_elem(bpf_map__fd(dp->sockops->maps.rules), &id) &&
	    errno != ENOENT)
		pr_warn("rule %u: cannot remove it from the rules map: %s", id,
			strerror(errno));
	index_bump_gen(dp->index);
	bpf_map_delete_elem(bpf_map__fd(dp->sockops->maps.rule_stats), &id);
	bpf_map_delete_elem(bpf_map__fd(dp->sockops->maps.rule_tally), &id);
}

int kernel_tally_write(struct datapath *dp, uint32_t id, const struct connctl_rule_tally *tally)
{
	return bpf_map_update_elem(bpf_map__fd(dp->sockops->maps.rule_tally), &id, tally,
				   BPF_ANY) ? -errno : 0;
}

/* Sorted by id: a binary search. */
static bool view_has(const struct rule_view *v, __u32 id)
{
	size_t lo = 0, hi = v->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		__u32 at = rule_view_at(v, mid)->id;

		if (at == id)
			return true;
		if (at < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static bool index_lists_exactly(const struct connctl_rule_index *index,
				const struct rule_view *standing)
{
	__u32 n = index_count(index);

	if (n != standing->n)
		return false;
	for (__u32 i = 0; i < n; i++)
		if (!view_has(standing, index->ids[i]))
			return false;
	return true;
}

int kernel_rules_read(struct datapath *dp, pinned_rule_fn *fn, void *ctx)
{
	int fd = bpf_map__fd(dp->sockops->maps.rules);
	int tally_fd = bpf_map__fd(dp->sockops->maps.rule_tally);
	__u32 key, next, *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct connctl_rule_tally tally;
		struct connctl_rule rule;
		bool counted;
		int err;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &rule))
			continue;
		counted = !bpf_map_lookup_elem(tally_fd, &key, &tally);
		err = fn(ctx, &rule, counted ? &tally : NULL);
		if (err)
			return err;
	}
	return 0;
}

int kernel_rules_reindex(struct datapath *dp, const struct rule_view *standing)
{
	__u32 cgroup_rules = 0;

	/*
	 * Normally the pinned index and trie are right. An add writes the rules
	 * map, the trie, then the index; a delete the reverse: a crash between
	 * any two leaves the index unlike the rules map, and both are rebuilt.
	 */
	for (size_t i = 0; i < standing->n; i++)
		cgroup_rules += !!(rule_view_at(standing, i)->match & CONNCTL_MATCH_CGROUP);
	__atomic_store_n(&dp->index->cgroup_rules, cgroup_rules, __ATOMIC_RELEASE);
	if (index_lists_exactly(dp->index, standing))
		return 0;
	pr_info("rebuilding the rule index from the rules map");
	__atomic_store_n(&dp->index->count, 0, __ATOMIC_RELEASE);
	for (size_t i = 0; i < standing->n; i++)
		index_append(dp->index, rule_view_at(standing, i)->id);
	index_bump_gen(dp->index);
	return lpm_rebuild(dp, standing);
}
