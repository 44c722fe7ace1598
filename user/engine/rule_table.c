// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>
#include "base/buf.h"
#include "engine/rule_table.h"

void rule_table_free(struct rule_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].extra);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

/* Index of the first entry with an id >= id. */
static size_t lower_bound(const struct rule_table *t, uint32_t id)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct rule_entry *rule_table_find(const struct rule_table *t, uint32_t id)
{
	size_t i = lower_bound(t, id);

	if (i < t->n && t->v[i].id == id)
		return &t->v[i];
	return NULL;
}

static bool needs_extra(const struct rule_spec *spec)
{
	return spec->ttl_ns || spec->rule.expires_ns || spec->cgroup;
}

struct rule_entry *rule_table_insert(struct rule_table *t, const struct rule_spec *spec,
				     uint32_t listing)
{
	struct rule_extra *extra = NULL;
	uint32_t id = spec->rule.id;
	size_t i;

	if (needs_extra(spec)) {
		extra = calloc(1, sizeof(*extra));
		if (!extra)
			return NULL;
		extra->ttl_ns = spec->ttl_ns;
		extra->expires_ns = spec->rule.expires_ns;
		extra->cgroup = spec->cgroup;
	}
	if (array_grow(&t->v, &t->cap, t->n, sizeof(*t->v))) {
		free(extra);
		return NULL;
	}
	/* Ids mostly arrive in order: appending is the common case. */
	i = (t->n && t->v[t->n - 1].id < id) ? t->n : lower_bound(t, id);
	memmove(&t->v[i + 1], &t->v[i], (t->n - i) * sizeof(*t->v));
	t->v[i] = (struct rule_entry){
		.id = id, .listing = listing, .extra = extra,
		.action = (uint8_t)spec->rule.action, .flags = (uint8_t)spec->rule.flags,
		.proto = (uint8_t)spec->rule.proto,
	};
	t->n++;
	rule_table_claim_id(t, id);
	if (spec->rule.expires_ns &&
	    (!t->expiry_bound_ns || spec->rule.expires_ns < t->expiry_bound_ns))
		t->expiry_bound_ns = spec->rule.expires_ns;
	return &t->v[i];
}

void rule_table_remove(struct rule_table *t, uint32_t id)
{
	struct rule_entry *e = rule_table_find(t, id);
	size_t i;

	if (!e)
		return;
	i = (size_t)(e - t->v);
	free(e->extra);
	memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(*t->v));
	t->n--;
}

/*
 * One above every id given out while there is one; past the top, the lowest
 * id no standing rule holds (an id chosen by hand may be the highest).
 */
uint32_t rule_table_next_id(const struct rule_table *t)
{
	uint32_t want = 1;

	if (t->last_id != UINT32_MAX)
		return t->last_id + 1;
	for (size_t i = 0; i < t->n; i++) {
		if (t->v[i].id > want)
			return want;
		if (t->v[i].id == UINT32_MAX)
			return 0;
		want = t->v[i].id + 1;
	}
	return want;
}

void rule_table_claim_id(struct rule_table *t, uint32_t id)
{
	if (id > t->last_id)
		t->last_id = id;
}

const struct rule_stats *rule_stats_of(const struct rule_entry *e)
{
	static const struct rule_stats none;

	return e->extra ? &e->extra->stats : &none;
}

struct rule_stats *rule_stats_edit(struct rule_table *t, struct rule_entry *e)
{
	if (!e->extra) {
		e->extra = calloc(1, sizeof(*e->extra));
		if (!e->extra)
			return NULL;
	}
	rule_stats_changed(t, e);
	return &e->extra->stats;
}

void rule_entry_spec(const struct rule_entry *e, struct rule_spec *spec)
{
	spec->ttl_ns = e->extra ? e->extra->ttl_ns : 0;
	spec->cgroup = rule_cgroup_path(e);
}
