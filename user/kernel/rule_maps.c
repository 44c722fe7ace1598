// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kernel/rule_maps.h"
#include "base/buf.h"
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

/* The bucket that lists a rule, and its key there. */
static int bucket_of(struct datapath *dp, const struct connctl_rule *rule,
		     struct listing_key *lk, struct connctl_lpm_key *lpm, const void **key)
{
	*lk = listing_of(rule);
	if (lk->by != BY_PREFIX)
		return listing_map(dp, lk, key);
	lpm_key_of(rule, lpm);
	*key = lpm;
	return bpf_map__fd(dp->sockops->maps.rule_lpm);
}

static bool same_bucket(const struct connctl_rule *a, const struct connctl_rule *b)
{
	struct listing_key ka = listing_of(a), kb = listing_of(b);
	struct connctl_lpm_key la, lb;

	if (!same_listing(&ka, &kb))
		return false;
	if (ka.by != BY_PREFIX)
		return true;
	lpm_key_of(a, &la);
	lpm_key_of(b, &lb);
	return !memcmp(&la, &lb, sizeof(la));
}

uint32_t kernel_rule_listing(const struct connctl_rule *rule)
{
	struct listing_key k = listing_of(rule);
	struct connctl_lpm_key lpm = {};
	const unsigned char *p;
	uint32_t h = 2166136261u;	/* FNV-1a */

	if (k.by == BY_PREFIX)
		lpm_key_of(rule, &lpm);
	p = (const unsigned char *)&k;
	for (size_t i = 0; i < sizeof(k); i++)
		h = (h ^ p[i]) * 16777619u;
	p = (const unsigned char *)&lpm;
	for (size_t i = 0; i < sizeof(lpm); i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* The ids a bucket lists, without id; false when id was not among them. */
static bool bucket_drop(struct connctl_rule_bucket *b, __u32 id)
{
	for (__u32 i = 0; i < b->count && i < CONNCTL_BUCKET_IDS; i++) {
		if (b->ids[i] != id)
			continue;
		memmove(&b->ids[i], &b->ids[i + 1], (CONNCTL_BUCKET_IDS - i - 1) * sizeof(b->ids[0]));
		b->count--;
		return true;
	}
	return false;
}

/* The bucket listed again from the rules beside it (it lists all of them once more). */
static void bucket_relist(struct datapath *dp, const struct connctl_rule *rule,
			  struct connctl_rule_bucket *b, rule_peer_fn *peers, void *ctx)
{
	struct connctl_rule peer;
	__u32 id;

	b->count = 0;
	while (peers(ctx, &id)) {
		if (kernel_rule_get(dp, id, &peer) || !same_bucket(&peer, rule))
			continue;
		if (b->count < CONNCTL_BUCKET_IDS)
			b->ids[b->count] = id;
		b->count++;
	}
}

/*
 * A rule left: out of its bucket. A bucket lists every rule up to
 * CONNCTL_BUCKET_IDS, past that only counts them; only when it drops back
 * to a full list are the rules beside it read again.
 */
static void unlist(struct datapath *dp, const struct connctl_rule *rule,
		   rule_peer_fn *peers, void *ctx)
{
	struct connctl_rule_bucket b = {};
	struct connctl_lpm_key lpm;
	struct listing_key lk;
	const void *key;
	int fd = bucket_of(dp, rule, &lk, &lpm, &key), err;
	bool found;

	found = lk.by == BY_PREFIX ? lpm_lookup_exact(fd, &lpm, &b) :
		!bpf_map_lookup_elem(fd, key, &b);
	if (!found)
		return;
	if (b.count > CONNCTL_BUCKET_IDS + 1)
		b.count--;
	else if (b.count > CONNCTL_BUCKET_IDS || !bucket_drop(&b, rule->id))
		bucket_relist(dp, rule, &b, peers, ctx);
	if (b.count)
		err = bpf_map_update_elem(fd, key, &b, BPF_ANY);
	else
		err = bpf_map_delete_elem(fd, key) && errno != ENOENT;
	if (err)
		pr_warn("rule %u: cannot update the rule listing: %s", rule->id, strerror(errno));
}

static int clear_map(int fd, void *key)
{
	while (!bpf_map_get_next_key(fd, NULL, key))
		if (bpf_map_delete_elem(fd, key))
			return -errno;
	return 0;
}

static int relist_one(void *ctx, const struct connctl_rule *rule,
		      const struct connctl_rule_tally *tally)
{
	return lpm_add(ctx, rule);
}

/* From the rules map, whatever the trie and hashes held before (a crash mid-update). */
static int lpm_rebuild(struct datapath *dp)
{
	struct connctl_lpm_key key;
	__u64 cgroup;
	__u32 port;
	int err;

	err = clear_map(bpf_map__fd(dp->sockops->maps.rule_lpm), &key);
	if (!err)
		err = clear_map(bpf_map__fd(dp->sockops->maps.rule_ports), &port);
	if (!err)
		err = clear_map(bpf_map__fd(dp->sockops->maps.rule_cgroups), &cgroup);
	if (!err)
		err = kernel_rules_read(dp, relist_one, dp);
	return err;
}

unsigned int kernel_rule_links(const struct connctl_rule *rule)
{
	if (rule->proto == CONNCTL_PROTO_UDP)
		return rule->action == CONNCTL_ACTION_RESET ? LINKS_UDP : 0;
	if (rule->action == CONNCTL_ACTION_RESET)
		return rule->flags & CONNCTL_RULE_BLOCK ? LINKS_HOLD | LINKS_XDP : LINKS_HOLD;
	if (rule->action == CONNCTL_ACTION_DRAIN)
		return LINKS_HOLD | LINKS_RECV;
	return 0;
}

/* Standing rules by the links they need, one more or one fewer. */
static void count_needs(uint32_t *rules_needing, unsigned int needs, bool more)
{
	for (int k = 0; k < LINKS_KINDS; k++) {
		if (!(needs & (1u << k)))
			continue;
		if (more)
			rules_needing[k]++;
		else if (rules_needing[k])
			rules_needing[k]--;
	}
}

static unsigned int needed_links(const uint32_t *rules_needing)
{
	unsigned int needs = 0;

	for (int k = 0; k < LINKS_KINDS; k++)
		if (rules_needing[k])
			needs |= 1u << k;
	return needs;
}

int kernel_rule_add(struct datapath *dp, const struct connctl_rule *rule)
{
	__u32 id = rule->id;
	int err;

	/* Before it can match: a match is held from the moment it is tagged. */
	err = datapath_want_links(dp, kernel_rule_links(rule));
	if (err)
		return err;
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
	if (rule->flags & CONNCTL_RULE_BLOCK)
		__atomic_add_fetch(&dp->index->block_rules, 1, __ATOMIC_RELEASE);
	count_needs(dp->rules_needing, kernel_rule_links(rule), true);
	index_append(dp->index, id);
	index_bump_gen(dp->index);
	return 0;
}

int kernel_rule_get(struct datapath *dp, uint32_t id, struct connctl_rule *rule)
{
	return bpf_map_lookup_elem(bpf_map__fd(dp->sockops->maps.rules), &id, rule) ? -errno : 0;
}

int kernel_rule_del(struct datapath *dp, uint32_t id, rule_peer_fn *peers, void *ctx,
		    struct connctl_rule *rule)
{
	int err = kernel_rule_get(dp, id, rule);

	index_remove(dp->index, id);
	/* Not in the rules map: never listed either (an add writes that first). */
	if (err) {
		pr_warn("rule %u: not in the rules map: %s", id, strerror(-err));
		index_bump_gen(dp->index);
		return err;
	}
	if ((rule->match & CONNCTL_MATCH_CGROUP) && dp->index->cgroup_rules)
		__atomic_sub_fetch(&dp->index->cgroup_rules, 1, __ATOMIC_RELEASE);
	if ((rule->flags & CONNCTL_RULE_BLOCK) && dp->index->block_rules)
		__atomic_sub_fetch(&dp->index->block_rules, 1, __ATOMIC_RELEASE);
	count_needs(dp->rules_needing, kernel_rule_links(rule), false);
	unlist(dp, rule, peers, ctx);
	if (bpf_map_delete_elem(bpf_map__fd(dp->sockops->maps.rules), &id) &&
	    errno != ENOENT)
		pr_warn("rule %u: cannot remove it from the rules map: %s", id,
			strerror(errno));
	index_bump_gen(dp->index);
	bpf_map_delete_elem(bpf_map__fd(dp->sockops->maps.rule_stats), &id);
	bpf_map_delete_elem(bpf_map__fd(dp->sockops->maps.rule_tally), &id);
	return 0;
}

int kernel_tally_write(struct datapath *dp, uint32_t id, const struct connctl_rule_tally *tally)
{
	return bpf_map_update_elem(bpf_map__fd(dp->sockops->maps.rule_tally), &id, tally,
				   BPF_ANY) ? -errno : 0;
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

/* The ids and the count of cgroup rules in the rules map. */
struct map_census {
	__u32	*ids;
	size_t	n, cap;
	__u32	cgroup_rules;
	__u32	block_rules;
	uint32_t rules_needing[LINKS_KINDS];
};

static int census_one(void *ctx, const struct connctl_rule *rule,
		      const struct connctl_rule_tally *tally)
{
	struct map_census *c = ctx;

	if (array_grow(&c->ids, &c->cap, c->n, sizeof(*c->ids)))
		return -ENOMEM;
	c->ids[c->n++] = rule->id;
	c->cgroup_rules += !!(rule->match & CONNCTL_MATCH_CGROUP);
	c->block_rules += !!(rule->flags & CONNCTL_RULE_BLOCK);
	count_needs(c->rules_needing, kernel_rule_links(rule), true);
	return 0;
}

static int id_cmp(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

static bool index_lists_exactly(const struct connctl_rule_index *index,
				const struct map_census *c)
{
	__u32 n = index_count(index);

	if (n != c->n)
		return false;
	for (__u32 i = 0; i < n; i++)
		if (!bsearch(&index->ids[i], c->ids, c->n, sizeof(*c->ids), id_cmp))
			return false;
	return true;
}

int kernel_rules_reindex(struct datapath *dp)
{
	struct map_census c = {};
	int err = kernel_rules_read(dp, census_one, &c);

	if (err)
		goto out;
	/* The links as the standing rules need them, whatever an older agent left. */
	memcpy(dp->rules_needing, c.rules_needing, sizeof(c.rules_needing));
	err = datapath_want_links(dp, needed_links(c.rules_needing));
	if (err)
		goto out;
	/*
	 * Normally the pinned index and trie are right. An add writes the rules
	 * map, the trie, then the index; a delete the reverse: a crash between
	 * any two leaves the index unlike the rules map, and both are rebuilt.
	 */
	qsort(c.ids, c.n, sizeof(*c.ids), id_cmp);
	__atomic_store_n(&dp->index->cgroup_rules, c.cgroup_rules, __ATOMIC_RELEASE);
	__atomic_store_n(&dp->index->block_rules, c.block_rules, __ATOMIC_RELEASE);
	if (index_lists_exactly(dp->index, &c))
		goto out;
	pr_info("rebuilding the rule index from the rules map");
	__atomic_store_n(&dp->index->count, 0, __ATOMIC_RELEASE);
	for (size_t i = 0; i < c.n; i++)
		index_append(dp->index, c.ids[i]);
	index_bump_gen(dp->index);
	err = lpm_rebuild(dp);
out:
	free(c.ids);
	return err;
}
