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
#include "connctl_match.h"
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
 * (rule_cgroups), else by its one remote port (rule_rports), else under
 * ::/0. A bucket lists its first ids itself, the rest in rule_chunks.
 */
enum listing { BY_PREFIX, BY_PORT, BY_CGROUP, BY_RPORT };

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
	if ((rule->match & CONNCTL_MATCH_RPORT) && rule->rport.min == rule->rport.max)
		return (struct listing_key){ .by = BY_RPORT, .port = rule->rport.min };
	return (struct listing_key){ .by = BY_PREFIX };
}

static void lpm_key_of(const struct connctl_rule *rule, struct connctl_lpm_key *key)
{
	memset(key, 0, sizeof(*key));
	if (rule->match & CONNCTL_MATCH_REMOTE) {
		key->prefixlen = rule->remote.len;
		memcpy(key->addr, rule->remote.addr, sizeof(key->addr));
	}
}

/* A rule's bucket: the map, its key there, and its chunks' key. */
struct bucket_ref {
	int				fd;
	bool				prefix;	/* rule_lpm: a lookup must be exact */
	struct listing_key		lk;
	struct connctl_lpm_key		lpm;
	struct connctl_chunk_key	chunk;
};

static const void *bucket_key(const struct bucket_ref *r)
{
	if (r->prefix)
		return &r->lpm;
	return r->lk.by == BY_CGROUP ? (const void *)&r->lk.cgroup : &r->lk.port;
}

static void bucket_ref_of(struct datapath *dp, const struct connctl_rule *rule,
			  struct bucket_ref *r)
{
	memset(r, 0, sizeof(*r));
	r->lk = listing_of(rule);
	switch (r->lk.by) {
	case BY_PREFIX:
		r->prefix = true;
		r->fd = bpf_map__fd(dp->sockops->maps.rule_lpm);
		lpm_key_of(rule, &r->lpm);
		chunk_key_prefix(&r->chunk, r->lpm.addr, r->lpm.prefixlen);
		break;
	case BY_PORT:
		r->fd = bpf_map__fd(dp->sockops->maps.rule_ports);
		chunk_key_id(&r->chunk, CONNCTL_BUCKET_PORT, r->lk.port);
		break;
	case BY_CGROUP:
		r->fd = bpf_map__fd(dp->sockops->maps.rule_cgroups);
		chunk_key_id(&r->chunk, CONNCTL_BUCKET_CGROUP, r->lk.cgroup);
		break;
	case BY_RPORT:
		r->fd = bpf_map__fd(dp->sockops->maps.rule_rports);
		chunk_key_id(&r->chunk, CONNCTL_BUCKET_RPORT, r->lk.port);
		break;
	}
}

/* The trie's lookup finds the longest prefix that holds the key: exact only if as long. */
static bool bucket_read(const struct bucket_ref *r, struct connctl_rule_bucket *b)
{
	if (bpf_map_lookup_elem(r->fd, bucket_key(r), b))
		return false;
	return !r->prefix || b->prefixlen == r->lpm.prefixlen;
}

static int bucket_write(const struct bucket_ref *r, const struct connctl_rule_bucket *b)
{
	if (b->count)
		return bpf_map_update_elem(r->fd, bucket_key(r), b, BPF_ANY) ? -errno : 0;
	return bpf_map_delete_elem(r->fd, bucket_key(r)) && errno != ENOENT ? -errno : 0;
}

/* Chunk n of a bucket; false when it is missing. */
static bool chunk_read(int fd, struct bucket_ref *r, __u32 n, struct connctl_rule_chunk *c)
{
	r->chunk.chunk = n;
	return !bpf_map_lookup_elem(fd, &r->chunk, c);
}

/* Id pos of a bucket (b in memory, the chunks in the map); false when its chunk is missing. */
static bool id_at(int fd, struct bucket_ref *r, const struct connctl_rule_bucket *b, __u32 pos,
		  __u32 *id)
{
	struct connctl_rule_chunk c;

	if (pos < CONNCTL_BUCKET_IDS) {
		*id = b->ids[pos];
		return true;
	}
	pos -= CONNCTL_BUCKET_IDS;
	if (!chunk_read(fd, r, pos / CONNCTL_CHUNK_IDS, &c))
		return false;
	*id = c.ids[pos % CONNCTL_CHUNK_IDS];
	return true;
}

/* Id pos set: in b (written by the caller), or in its chunk, written now. */
static int set_at(int fd, struct bucket_ref *r, struct connctl_rule_bucket *b, __u32 pos,
		  __u32 id)
{
	struct connctl_rule_chunk c;

	if (pos < CONNCTL_BUCKET_IDS) {
		b->ids[pos] = id;
		return 0;
	}
	pos -= CONNCTL_BUCKET_IDS;
	if (!chunk_read(fd, r, pos / CONNCTL_CHUNK_IDS, &c))
		memset(&c, 0, sizeof(c));
	c.ids[pos % CONNCTL_CHUNK_IDS] = id;
	return bpf_map_update_elem(fd, &r->chunk, &c, BPF_ANY) ? -errno : 0;
}

static __u32 chunks_for(__u32 count)
{
	return count > CONNCTL_BUCKET_IDS ?
	       (count - CONNCTL_BUCKET_IDS + CONNCTL_CHUNK_IDS - 1) / CONNCTL_CHUNK_IDS : 0;
}

/* The chunks a list of had ids needed past those one of count needs: no matcher reads them. */
static void chunks_drop(int fd, struct bucket_ref *r, __u32 count, __u32 had)
{
	for (__u32 n = chunks_for(count); n < chunks_for(had); n++) {
		r->chunk.chunk = n;
		bpf_map_delete_elem(fd, &r->chunk);
	}
}

/*
 * A bucket's whole list, ids[0..n), each chunk written once: the chunks,
 * then the bucket, then the chunks a list of had ids left past it.
 */
static int list_write(int fd, struct bucket_ref *r, struct connctl_rule_bucket *b,
		      const __u32 *ids, __u32 n, __u32 had)
{
	struct connctl_rule_chunk c;
	int err;

	for (__u32 k = 0; k < chunks_for(n); k++) {
		__u32 first = CONNCTL_BUCKET_IDS + k * CONNCTL_CHUNK_IDS;
		__u32 len = n - first < CONNCTL_CHUNK_IDS ? n - first : CONNCTL_CHUNK_IDS;

		memset(&c, 0, sizeof(c));
		memcpy(c.ids, ids + first, len * sizeof(*ids));
		r->chunk.chunk = k;
		if (bpf_map_update_elem(fd, &r->chunk, &c, BPF_ANY))
			return -errno;
	}
	memset(b->ids, 0, sizeof(b->ids));
	memcpy(b->ids, ids, (n < CONNCTL_BUCKET_IDS ? n : CONNCTL_BUCKET_IDS) * sizeof(*ids));
	b->count = n;
	err = bucket_write(r, b);
	if (!err)
		chunks_drop(fd, r, n, had);
	return err;
}

/*
 * The rules listed by remote port, one more or one fewer: the matchers look
 * there only while some are. One more before the rule is listed, one fewer
 * after it is not.
 */
static int rport_listed_add(struct datapath *dp, int delta)
{
	int fd = bpf_map__fd(dp->sockops->maps.rport_rules);
	__u32 zero = 0, n = 0;

	bpf_map_lookup_elem(fd, &zero, &n);
	if (delta < 0 && !n)
		return 0;
	n += delta;
	return bpf_map_update_elem(fd, &zero, &n, BPF_ANY) ? -errno : 0;
}

/* A rule listed where the matchers look for it: its id first, then the count. */
static int lpm_add(struct datapath *dp, const struct connctl_rule *rule)
{
	int chunks = bpf_map__fd(dp->sockops->maps.rule_chunks);
	struct connctl_rule_bucket b;
	struct bucket_ref r;
	int err;

	bucket_ref_of(dp, rule, &r);
	if (r.lk.by == BY_RPORT) {
		err = rport_listed_add(dp, 1);
		if (err)
			return err;
	}
	if (!bucket_read(&r, &b)) {
		memset(&b, 0, sizeof(b));
		b.prefixlen = r.lpm.prefixlen;
	}
	err = set_at(chunks, &r, &b, b.count, rule->id);
	if (!err) {
		b.count++;
		err = bucket_write(&r, &b);
	}
	if (err && r.lk.by == BY_RPORT)
		rport_listed_add(dp, -1);
	return err;
}

static bool same_bucket(const struct connctl_rule *a, const struct connctl_rule *b)
{
	struct listing_key ka = listing_of(a), kb = listing_of(b);
	struct connctl_lpm_key la, lb;

	if (ka.by != kb.by || ka.port != kb.port || ka.cgroup != kb.cgroup)
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

/*
 * The bucket listed again from the rules beside it, when its own list
 * cannot be trusted (a chunk missing: pins an older agent kept).
 */
static int bucket_relist(struct datapath *dp, const struct connctl_rule *rule,
			 struct bucket_ref *r, struct connctl_rule_bucket *b,
			 rule_peer_fn *peers, void *ctx)
{
	struct connctl_rule peer;
	__u32 *ids = NULL, id;
	size_t n = 0, cap = 0;
	int err = 0;

	while (peers(ctx, &id)) {
		if (kernel_rule_get(dp, id, &peer) || !same_bucket(&peer, rule))
			continue;
		if (array_grow(&ids, &cap, n, sizeof(*ids))) {
			err = -ENOMEM;
			goto out;
		}
		ids[n++] = id;
	}
	err = list_write(bpf_map__fd(dp->sockops->maps.rule_chunks), r, b, ids, (__u32)n,
			 b->count);
out:
	free(ids);
	return err;
}

/* Where id is in a bucket's list, each chunk read once; false when not found, or one is missing. */
static bool find_id(int fd, struct bucket_ref *r, const struct connctl_rule_bucket *b, __u32 id,
		    __u32 *pos)
{
	struct connctl_rule_chunk c = { 0 };

	for (*pos = 0; *pos < b->count; (*pos)++) {
		__u32 at = *pos;

		if (at < CONNCTL_BUCKET_IDS) {
			if (b->ids[at] == id)
				return true;
			continue;
		}
		at -= CONNCTL_BUCKET_IDS;
		if (at % CONNCTL_CHUNK_IDS == 0 && !chunk_read(fd, r, at / CONNCTL_CHUNK_IDS, &c))
			return false;
		if (c.ids[at % CONNCTL_CHUNK_IDS] == id)
			return true;
	}
	return false;
}

/*
 * A rule left: the bucket's last id takes its place, then the count drops
 * (a matcher walking the bucket meanwhile sees every other rule at least
 * once), then a chunk left empty goes.
 */
static void unlist(struct datapath *dp, const struct connctl_rule *rule,
		   rule_peer_fn *peers, void *ctx)
{
	int chunks = bpf_map__fd(dp->sockops->maps.rule_chunks);
	struct connctl_rule_bucket b;
	__u32 pos, last, id;
	struct bucket_ref r;
	int err = 0;

	bucket_ref_of(dp, rule, &r);
	if (!bucket_read(&r, &b))
		return;
	last = b.count - 1;
	if (!find_id(chunks, &r, &b, rule->id, &pos) ||
	    (pos != last && !id_at(chunks, &r, &b, last, &id))) {
		err = bucket_relist(dp, rule, &r, &b, peers, ctx);
		goto out;
	}
	if (pos != last)
		err = set_at(chunks, &r, &b, pos, id);
	if (err)
		goto out;
	b.count--;
	err = bucket_write(&r, &b);
	if (!err)
		chunks_drop(chunks, &r, b.count, last + 1);
	/* Only for a rule found and taken out: a count too high costs a lookup, too low a match. */
	if (!err && r.lk.by == BY_RPORT)
		err = rport_listed_add(dp, -1);
out:
	if (err)
		pr_warn("rule %u: cannot update the rule listing: %s", rule->id, strerror(-err));
}

/* Every entry of a map but the ::/0 one's (keep: a trie's). */
static int clear_map(int fd, void *key, size_t key_len, bool keep_root)
{
	__u8 kept[sizeof(struct connctl_chunk_key)];
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, key)) {
		if (keep_root && !((struct connctl_lpm_key *)key)->prefixlen) {
			memcpy(kept, key, key_len);
			prev = kept;
			continue;
		}
		if (bpf_map_delete_elem(fd, key))
			return -errno;
	}
	return 0;
}

/* A rebuild's state: the ids under ::/0, listed last. */
struct rebuild {
	struct datapath	*dp;
	__u32		*root_ids;
	size_t		n_root, cap_root;
};

static int relist_one(void *ctx, const struct connctl_rule *rule,
		      const struct connctl_rule_tally *tally)
{
	struct rebuild *rb = ctx;
	struct bucket_ref r;

	bucket_ref_of(rb->dp, rule, &r);
	if (!r.prefix || r.lpm.prefixlen)
		return lpm_add(rb->dp, rule);
	if (array_grow(&rb->root_ids, &rb->cap_root, rb->n_root, sizeof(*rb->root_ids)))
		return -ENOMEM;
	rb->root_ids[rb->n_root++] = rule->id;
	return 0;
}

/* ::/0's list, chunks first: until its bucket is written, it stays a forced walk. */
static int root_write(struct datapath *dp, const __u32 *ids, size_t n)
{
	struct connctl_rule_bucket b = {};
	struct connctl_rule rule = {};
	struct bucket_ref r;

	bucket_ref_of(dp, &rule, &r);
	return list_write(bpf_map__fd(dp->sockops->maps.rule_chunks), &r, &b, ids, (__u32)n, 0);
}

/*
 * ::/0 while the lists are made again: more rules than its chunks could
 * ever hold, so a matcher always comes to a chunk that is missing.
 */
#define ROOT_FORCED_COUNT \
	(CONNCTL_BUCKET_IDS + CONNCTL_CHUNK_IDS * (CONNCTL_MAX_RULES / CONNCTL_CHUNK_IDS + 1))

/*
 * From the rules map, whatever the trie and hashes held before (a crash
 * mid-update, or pins an agent kept that lists no chunks). Meanwhile ::/0
 * is forced: every matcher's walk ends there, finds a chunk missing and
 * tries every rule, so no new connection misses one.
 */
static int lpm_rebuild(struct datapath *dp)
{
	struct connctl_rule_bucket forced = { .count = ROOT_FORCED_COUNT };
	struct connctl_lpm_key root = {};
	struct connctl_chunk_key chunk;
	struct rebuild rb = { .dp = dp };
	struct connctl_lpm_key key;
	__u64 cgroup;
	__u32 port;
	int err;

	if (bpf_map_update_elem(bpf_map__fd(dp->sockops->maps.rule_lpm), &root, &forced,
				BPF_ANY))
		return -errno;
	err = clear_map(bpf_map__fd(dp->sockops->maps.rule_chunks), &chunk, sizeof(chunk), false);
	if (!err)
		err = clear_map(bpf_map__fd(dp->sockops->maps.rule_lpm), &key, sizeof(key), true);
	if (!err)
		err = clear_map(bpf_map__fd(dp->sockops->maps.rule_ports), &port, sizeof(port), false);
	if (!err)
		err = clear_map(bpf_map__fd(dp->sockops->maps.rule_cgroups), &cgroup, sizeof(cgroup),
				false);
	if (!err)
		err = clear_map(bpf_map__fd(dp->sockops->maps.rule_rports), &port, sizeof(port), false);
	port = 0;
	if (!err && bpf_map_update_elem(bpf_map__fd(dp->sockops->maps.rport_rules), &port, &port,
					BPF_ANY))
		err = -errno;
	if (!err)
		err = kernel_rules_read(dp, relist_one, &rb);
	if (!err)
		err = root_write(dp, rb.root_ids, rb.n_root);
	free(rb.root_ids);
	return err;
}

/* What the pins now hold beyond the layout, once the listing is whole. */
static int features_write(struct datapath *dp, __u32 features)
{
	struct connctl_layout layout = { .version = CONNCTL_LAYOUT, .features = features };
	__u32 key = 0;

	return bpf_map_update_elem(bpf_map__fd(dp->sockops->maps.layout), &key, &layout,
				   BPF_ANY) ? -errno : 0;
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
	if (!index_lists_exactly(dp->index, &c)) {
		pr_info("rebuilding the rule index from the rules map");
		__atomic_store_n(&dp->index->count, 0, __ATOMIC_RELEASE);
		for (size_t i = 0; i < c.n; i++)
			index_append(dp->index, c.ids[i]);
		index_bump_gen(dp->index);
	} else if (dp->pins_features & CONNCTL_FEATURE_CHUNKS) {
		goto listed;
	} else {
		pr_info("listing the %zu rules again: the pins come from an agent that did "
			"not keep rule_chunks, rule_rports and rport_rules", c.n);
	}
	err = lpm_rebuild(dp);
	index_bump_gen(dp->index);
listed:
	if (!err)
		err = features_write(dp, CONNCTL_FEATURE_CHUNKS);
out:
	free(c.ids);
	return err;
}
