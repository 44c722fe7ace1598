// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "base/buf.h"
#include "base/log.h"
#include "connctl_match.h"
#include "kernel/conns.h"
#include "conns.skel.h"

#define NO_SLOT		0	/* links hold slot + 1 */
#define HASH_MIN	1024
#define SLOTS_MIN	16	/* where array_grow starts */
/* A port range wider than this is matched by looking at every connection. */
#define PORT_SPAN_MAX	1024

struct conn_slot {
	uint64_t		cookie;		/* 0: free */
	struct connctl_tuple	tuple;
	/* Chains of the connections of one local port and of one remote port. */
	uint32_t		lport_next, lport_prev;
	uint32_t		rport_next, rport_prev;
};

struct conn_index {
	struct conns_bpf	*obj;
	struct bpf_link		*link;
	struct ring_buffer	*ring;
	struct conn_slot	*slots;
	size_t			n_slots, cap_slots;
	size_t			n_used;
	uint32_t		free_head;	/* free slots, chained by lport_next */
	uint32_t		*hash;		/* cookie -> slot + 1, linear probing */
	size_t			hash_cap;	/* a power of two */
	uint32_t		lport_head[65536];
	uint32_t		rport_head[65536];
	uint32_t		*listed;	/* namespaces listed, by inode */
	size_t			n_listed, cap_listed;
	uint64_t		lost_seen;
	bool			all_netns;
	int			err;		/* of the last record taken in */
	/* Records set aside during a pass (conn_index_stash): size, then bytes. */
	bool			stashing;
	bool			stash_lost;	/* no memory to set one aside */
	char			*stash;
	size_t			stash_len, stash_cap;
};

static size_t hash_of(uint64_t cookie, size_t cap)
{
	return (size_t)((cookie * 0x9e3779b97f4a7c15ULL) >> 32) & (cap - 1);
}

static uint32_t *hash_find(const struct conn_index *ci, uint64_t cookie)
{
	size_t i = hash_of(cookie, ci->hash_cap);

	for (;;) {
		uint32_t s = ci->hash[i];

		if (s == NO_SLOT || ci->slots[s - 1].cookie == cookie)
			return &ci->hash[i];
		i = (i + 1) & (ci->hash_cap - 1);
	}
}

/* Linear probing's delete: later entries of the run move back, no tombstones. */
static void hash_remove(struct conn_index *ci, uint32_t *at)
{
	size_t mask = ci->hash_cap - 1, i = (size_t)(at - ci->hash), j = i;

	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (ci->hash[j] == NO_SLOT)
			break;
		home = hash_of(ci->slots[ci->hash[j] - 1].cookie, ci->hash_cap);
		/* Stays if its home lies cyclically in (i, j]. */
		if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
			continue;
		ci->hash[i] = ci->hash[j];
		i = j;
	}
	ci->hash[i] = NO_SLOT;
}

static int hash_resize(struct conn_index *ci, size_t cap)
{
	uint32_t *old = ci->hash;
	size_t old_cap = ci->hash_cap;

	ci->hash = calloc(cap, sizeof(*ci->hash));
	if (!ci->hash) {
		ci->hash = old;
		return -ENOMEM;
	}
	ci->hash_cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i] != NO_SLOT)
			*hash_find(ci, ci->slots[old[i] - 1].cookie) = old[i];
	free(old);
	return 0;
}

static void chain_link(struct conn_index *ci, uint32_t s, bool local)
{
	struct conn_slot *c = &ci->slots[s - 1];
	uint32_t *head = local ? &ci->lport_head[c->tuple.lport] : &ci->rport_head[c->tuple.rport];

	if (local) {
		c->lport_prev = NO_SLOT;
		c->lport_next = *head;
		if (*head)
			ci->slots[*head - 1].lport_prev = s;
	} else {
		c->rport_prev = NO_SLOT;
		c->rport_next = *head;
		if (*head)
			ci->slots[*head - 1].rport_prev = s;
	}
	*head = s;
}

static void chain_unlink(struct conn_index *ci, uint32_t s, bool local)
{
	struct conn_slot *c = &ci->slots[s - 1];
	uint32_t next = local ? c->lport_next : c->rport_next;
	uint32_t prev = local ? c->lport_prev : c->rport_prev;

	if (prev) {
		if (local)
			ci->slots[prev - 1].lport_next = next;
		else
			ci->slots[prev - 1].rport_next = next;
	} else if (local) {
		ci->lport_head[c->tuple.lport] = next;
	} else {
		ci->rport_head[c->tuple.rport] = next;
	}
	if (next) {
		if (local)
			ci->slots[next - 1].lport_prev = prev;
		else
			ci->slots[next - 1].rport_prev = prev;
	}
}

static int slot_take(struct conn_index *ci, uint32_t *s)
{
	if (ci->free_head) {
		*s = ci->free_head;
		ci->free_head = ci->slots[*s - 1].lport_next;
		return 0;
	}
	if (array_grow(&ci->slots, &ci->cap_slots, ci->n_slots, sizeof(*ci->slots)))
		return -ENOMEM;
	*s = (uint32_t)++ci->n_slots;
	return 0;
}

int conn_index_add(struct conn_index *ci, uint64_t cookie, const struct connctl_tuple *t)
{
	uint32_t *at, s;
	int err;

	if (!cookie)
		return 0;
	if (!ci->hash)
		return -ENOMEM;
	if ((ci->n_used + 1) * 2 > ci->hash_cap) {
		err = hash_resize(ci, ci->hash_cap * 2);
		if (err)
			return err;
	}
	at = hash_find(ci, cookie);
	if (*at != NO_SLOT) {
		/* Listed and logged both: the same connection, the same tuple. */
		return 0;
	}
	err = slot_take(ci, &s);
	if (err)
		return err;
	ci->slots[s - 1].cookie = cookie;
	ci->slots[s - 1].tuple = *t;
	chain_link(ci, s, true);
	chain_link(ci, s, false);
	*at = s;
	ci->n_used++;
	return 0;
}

void conn_index_remove(struct conn_index *ci, uint64_t cookie)
{
	uint32_t *at = hash_find(ci, cookie), s = *at;

	if (s == NO_SLOT)
		return;
	chain_unlink(ci, s, true);
	chain_unlink(ci, s, false);
	hash_remove(ci, at);
	ci->slots[s - 1].cookie = 0;
	ci->slots[s - 1].lport_next = ci->free_head;
	ci->free_head = s;
	ci->n_used--;
}

/*
 * The connections packed into the first slots, in slots and a hash of the
 * sizes given. Their numbers change, so the chains and the hash are made
 * again; a realloc that fails leaves the slots where they were, packed.
 */
static int index_pack(struct conn_index *ci, size_t cap, size_t hash_cap)
{
	uint32_t *hash = calloc(hash_cap, sizeof(*hash));
	struct conn_slot *slots;
	size_t n = 0;

	if (!hash)
		return -ENOMEM;
	/* The heads point at live slots only: theirs emptied, all are. */
	for (size_t s = 0; s < ci->n_slots; s++) {
		if (!ci->slots[s].cookie)
			continue;
		ci->lport_head[ci->slots[s].tuple.lport] = NO_SLOT;
		ci->rport_head[ci->slots[s].tuple.rport] = NO_SLOT;
		ci->slots[n++] = ci->slots[s];
	}
	if (cap != ci->cap_slots) {
		slots = realloc(ci->slots, cap * sizeof(*slots));
		if (slots) {
			ci->slots = slots;
			ci->cap_slots = cap;
		}
	}
	ci->n_slots = n;
	ci->free_head = NO_SLOT;
	free(ci->hash);
	ci->hash = hash;
	ci->hash_cap = hash_cap;
	for (uint32_t s = 1; s <= n; s++) {
		chain_link(ci, s, true);
		chain_link(ci, s, false);
		*hash_find(ci, ci->slots[s - 1].cookie) = s;
	}
	return 0;
}

int conn_index_settle(struct conn_index *ci)
{
	size_t cap = ci->cap_slots, hash_cap = ci->hash_cap;
	int err;

	/*
	 * Halved while a sixteenth full or less, as the tracked table: an
	 * eighth full at most after, far from where either grows, so a
	 * namespace whose connections come and go does not swing it.
	 */
	while (cap > SLOTS_MIN && 16 * ci->n_used <= cap)
		cap /= 2;
	while (hash_cap > HASH_MIN && 16 * ci->n_used <= hash_cap)
		hash_cap /= 2;
	if (cap == ci->cap_slots && hash_cap == ci->hash_cap)
		return 0;
	err = index_pack(ci, cap, hash_cap);
	/*
	 * The peak's smaller copies, from each doubling below the mmap
	 * threshold, lie free in the heap's middle: their pages go back too.
	 */
	if (!err)
		malloc_trim(0);
	return err;
}

static void index_clear(struct conn_index *ci)
{
	memset(ci->lport_head, 0, sizeof(ci->lport_head));
	memset(ci->rport_head, 0, sizeof(ci->rport_head));
	free(ci->slots);
	ci->slots = NULL;
	ci->cap_slots = 0;
	ci->n_slots = ci->n_used = 0;
	ci->free_head = NO_SLOT;
	free(ci->hash);
	ci->hash = calloc(HASH_MIN, sizeof(*ci->hash));
	ci->hash_cap = ci->hash ? HASH_MIN : 0;
	ci->n_listed = 0;
}

static void stash_free(struct conn_index *ci)
{
	free(ci->stash);
	ci->stash = NULL;
	ci->stash_len = ci->stash_cap = 0;
	ci->stash_lost = false;
}

static int stash_record(struct conn_index *ci, const void *data, size_t size)
{
	uint32_t n = (uint32_t)size;

	if (buf_append(&ci->stash, &ci->stash_len, &ci->stash_cap, (const char *)&n,
		       sizeof(n), false) ||
	    buf_append(&ci->stash, &ci->stash_len, &ci->stash_cap, data, size, false))
		ci->stash_lost = true;
	return 0;
}

static void apply_record(struct conn_index *ci, const void *data, size_t size)
{
	const struct connctl_conn_record *rec = data;
	int err = 0;

	if (rec->kind == CONNCTL_CONN_OPEN && size >= sizeof(*rec))
		err = conn_index_add(ci, rec->cookie, &rec->tuple);
	else if (rec->kind == CONNCTL_CONN_CLOSE)
		conn_index_remove(ci, rec->cookie);
	if (err && !ci->err)
		ci->err = err;
}

static int take_record(void *ctx, void *data, size_t size)
{
	struct conn_index *ci = ctx;

	/* Before the first listing the log has nothing to correct. */
	if (!ci->n_listed || size < CONNCTL_CONN_CLOSE_BYTES)
		return 0;
	if (ci->stashing)
		return stash_record(ci, data, size);
	apply_record(ci, data, size);
	return 0;
}

void conn_index_stash(struct conn_index *ci)
{
	ci->stashing = true;
	ring_buffer__consume(ci->ring);
	ci->stashing = false;
}

/* What a pass set aside, older than what the log holds now. */
static void take_stash(struct conn_index *ci)
{
	uint32_t n;

	for (size_t off = 0; off + sizeof(n) <= ci->stash_len; off += sizeof(n) + n) {
		memcpy(&n, ci->stash + off, sizeof(n));
		if (off + sizeof(n) + n > ci->stash_len)
			break;
		apply_record(ci, ci->stash + off + sizeof(n), n);
	}
	stash_free(ci);
}

static uint64_t lost_now(const struct conn_index *ci)
{
	return __atomic_load_n(&ci->obj->bss->conns_lost, __ATOMIC_ACQUIRE);
}

int conn_index_read(struct conn_index *ci)
{
	uint64_t lost;
	bool stash_lost = ci->stash_lost;

	ci->err = 0;
	take_stash(ci);
	if (ring_buffer__consume(ci->ring) < 0)
		ci->err = -errno;
	lost = lost_now(ci);
	if (stash_lost && !ci->err)
		ci->err = -ENOMEM;
	if (lost != ci->lost_seen || ci->err) {
		if (lost != ci->lost_seen && ci->n_listed)
			pr_info("connection log: %llu records lost; listing the namespaces again",
				(unsigned long long)(lost - ci->lost_seen));
		ci->lost_seen = lost;
		index_clear(ci);
		return ci->err ? ci->err : -ESTALE;
	}
	/* Here, where no match's slots are held: a match is used at once. */
	conn_index_settle(ci);
	return 0;
}

bool conn_index_listed(const struct conn_index *ci, uint32_t netns_ino)
{
	for (size_t i = 0; i < ci->n_listed; i++)
		if (ci->listed[i] == netns_ino)
			return true;
	return false;
}

int conn_index_begin_listing(struct conn_index *ci, uint32_t netns_ino)
{
	uint8_t one = 1;

	if (!ci->all_netns &&
	    bpf_map_update_elem(bpf_map__fd(ci->obj->maps.conn_netns), &netns_ino, &one, 0))
		return -errno;
	if (ci->n_listed)
		return 0;
	/* Dropped: what it says of the namespaces, their listings say. */
	ring_buffer__consume(ci->ring);
	ci->lost_seen = lost_now(ci);
	return 0;
}

int conn_index_end_listing(struct conn_index *ci, uint32_t netns_ino)
{
	if (conn_index_listed(ci, netns_ino))
		return 0;
	if (array_grow(&ci->listed, &ci->cap_listed, ci->n_listed, sizeof(*ci->listed)))
		return -ENOMEM;
	ci->listed[ci->n_listed++] = netns_ino;
	return 0;
}

size_t conn_index_count(const struct conn_index *ci)
{
	return ci->n_used;
}

size_t conn_index_capacity(const struct conn_index *ci)
{
	return ci->cap_slots;
}

const struct netns_hit *netns_hits_find(const struct netns_hits *hits, uint32_t ino)
{
	for (size_t i = 0; i < hits->n; i++)
		if (hits->v[i].ino == ino)
			return &hits->v[i];
	return NULL;
}

void netns_hits_free(struct netns_hits *hits)
{
	free(hits->v);
	free(hits->slots);
	*hits = (struct netns_hits){ 0 };
}

const struct connctl_tuple *conn_index_tuple(const struct conn_index *ci, uint32_t slot,
					     uint64_t *cookie)
{
	*cookie = ci->slots[slot - 1].cookie;
	return &ci->slots[slot - 1].tuple;
}

static struct netns_hit *hit_of(struct netns_hits *hits, uint32_t ino)
{
	struct netns_hit *h = (struct netns_hit *)netns_hits_find(hits, ino);

	if (h)
		return h;
	if (array_grow(&hits->v, &hits->cap, hits->n, sizeof(*hits->v)))
		return NULL;
	h = &hits->v[hits->n++];
	*h = (struct netns_hit){ .ino = ino };
	return h;
}

static bool walk_only(const struct connctl_rule *rule)
{
	return rule->action == CONNCTL_ACTION_DRAIN || rule->action == CONNCTL_ACTION_CANCEL;
}

static int try_slot(const struct conn_index *ci, uint32_t s, const struct connctl_rule *rule,
		    struct netns_hits *hits)
{
	const struct conn_slot *c = &ci->slots[s - 1];
	const struct netns_hit *seen = netns_hits_find(hits, c->tuple.netns_ino);
	struct netns_hit *h;

	/* A walk is due there already: nothing more to learn of it. */
	if ((seen && seen->walk) || !rule_matches(rule, &c->tuple))
		return 0;
	h = hit_of(hits, c->tuple.netns_ino);
	if (!h)
		return -ENOMEM;
	if (walk_only(rule) || h->count == CONN_DIRECT_MAX) {
		h->walk = true;
		return 0;
	}
	if (array_grow(&hits->slots, &hits->cap_slots, hits->n_slots, sizeof(*hits->slots)))
		return -ENOMEM;
	hits->slots[hits->n_slots++] = s;
	h->count++;
	return 0;
}

static int match_ports(const struct conn_index *ci, const struct connctl_rule *rule,
		       bool local, struct netns_hits *hits)
{
	const struct connctl_port_range *r = local ? &rule->lport : &rule->rport;
	int err = 0;

	for (uint32_t port = r->min; port <= r->max && !err; port++) {
		uint32_t s = local ? ci->lport_head[port] : ci->rport_head[port];

		while (s && !err) {
			err = try_slot(ci, s, rule, hits);
			s = local ? ci->slots[s - 1].lport_next : ci->slots[s - 1].rport_next;
		}
	}
	return err;
}

static bool narrow(const struct connctl_rule *rule, uint32_t bit,
		   const struct connctl_port_range *r)
{
	return (rule->match & bit) && r->max >= r->min && r->max - r->min < PORT_SPAN_MAX;
}

/* By namespace, then slot: each namespace's connections side by side, repeats adjacent. */
static int slot_cmp(const void *a, const void *b, void *arg)
{
	const struct conn_index *ci = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	uint32_t nx = ci->slots[x - 1].tuple.netns_ino, ny = ci->slots[y - 1].tuple.netns_ino;

	if (nx != ny)
		return nx < ny ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* The slots sorted, each once, and each namespace told where its own are. */
static void slots_by_netns(const struct conn_index *ci, struct netns_hits *hits)
{
	size_t n = 0;

	qsort_r(hits->slots, hits->n_slots, sizeof(*hits->slots), slot_cmp, (void *)ci);
	for (size_t i = 0; i < hits->n_slots; i++)
		if (!n || hits->slots[i] != hits->slots[n - 1])
			hits->slots[n++] = hits->slots[i];
	hits->n_slots = n;
	for (size_t i = 0; i < n; i++) {
		struct netns_hit *h = (struct netns_hit *)netns_hits_find(hits,
					ci->slots[hits->slots[i] - 1].tuple.netns_ino);

		if (!h->n_slots++)
			h->first = i;
	}
}

/* Through the port chains when the rule names few ports, else every connection. */
int conn_index_match(const struct conn_index *ci, const struct connctl_rule *rules,
		     size_t n_rules, struct netns_hits *hits)
{
	int err = 0;

	hits->n = hits->n_slots = 0;
	for (size_t i = 0; i < n_rules && !err; i++) {
		const struct connctl_rule *rule = &rules[i];

		if (narrow(rule, CONNCTL_MATCH_LPORT, &rule->lport)) {
			err = match_ports(ci, rule, true, hits);
			continue;
		}
		if (narrow(rule, CONNCTL_MATCH_RPORT, &rule->rport)) {
			err = match_ports(ci, rule, false, hits);
			continue;
		}
		for (size_t s = 1; s <= ci->n_slots && !err; s++)
			if (ci->slots[s - 1].cookie)
				err = try_slot(ci, (uint32_t)s, rule, hits);
	}
	if (!err)
		slots_by_netns(ci, hits);
	return err;
}

int conn_index_fd(const struct conn_index *ci)
{
	return ring_buffer__epoll_fd(ci->ring);
}

struct conn_index *conn_index_new(bool all_netns)
{
	struct conn_index *ci = calloc(1, sizeof(*ci));

	if (!ci)
		return NULL;
	ci->all_netns = all_netns;
	index_clear(ci);
	if (!ci->hash) {
		free(ci);
		return NULL;
	}
	return ci;
}

int conn_index_open(struct conn_index **out, const struct bpf_object_open_opts *opts,
		    bool all_netns)
{
	struct conn_index *ci = conn_index_new(all_netns);
	int err;

	if (!ci)
		return -ENOMEM;
	ci->obj = conns_bpf__open_opts(opts);
	if (!ci->obj) {
		err = -errno;
		goto fail;
	}
	ci->obj->bss->conns_all_netns = all_netns;
	err = conns_bpf__load(ci->obj);
	if (err)
		goto fail;
	ci->ring = ring_buffer__new(bpf_map__fd(ci->obj->maps.conn_log), take_record, ci, NULL);
	if (!ci->ring) {
		err = -errno;
		goto fail;
	}
	ci->link = bpf_program__attach_trace(ci->obj->progs.connctl_conn_state);
	if (!ci->link) {
		err = -errno;
		goto fail;
	}
	*out = ci;
	return 0;
fail:
	conn_index_free(ci);
	return err;
}

void conn_index_free(struct conn_index *ci)
{
	if (!ci)
		return;
	bpf_link__destroy(ci->link);
	ring_buffer__free(ci->ring);
	conns_bpf__destroy(ci->obj);
	free(ci->slots);
	free(ci->hash);
	free(ci->listed);
	free(ci->stash);
	free(ci);
}
