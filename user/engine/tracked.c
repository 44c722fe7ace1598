// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "engine/tracked.h"

static size_t slot_of(const struct tracked_table *d, uint64_t cookie)
{
	/* Cookies are sequential: mix them before masking. */
	return (size_t)((cookie * 0x9e3779b97f4a7c15ull) >> 17) & (d->cap - 1);
}

struct tracked *tracked_find(struct tracked_table *d, uint64_t cookie)
{
	size_t i;

	if (!d->cap)
		return NULL;
	for (i = slot_of(d, cookie); d->slots[i].cookie; i = (i + 1) & (d->cap - 1))
		if (d->slots[i].cookie == cookie)
			return &d->slots[i];
	return NULL;
}

/* Fewest slots a table holds once it has any. */
#define TRACKED_MIN_CAP	256

static int tracked_rehash(struct tracked_table *d, size_t cap)
{
	struct tracked *old = d->slots;
	size_t old_cap = d->cap, i;

	d->slots = calloc(cap, sizeof(*d->slots));
	if (!d->slots) {
		d->slots = old;
		return -ENOMEM;
	}
	d->cap = cap;
	for (i = 0; i < old_cap; i++) {
		size_t j;

		if (!old[i].cookie)
			continue;
		for (j = slot_of(d, old[i].cookie); d->slots[j].cookie; j = (j + 1) & (d->cap - 1))
			;
		d->slots[j] = old[i];
	}
	free(old);
	return 0;
}

static int tracked_grow(struct tracked_table *d)
{
	return tracked_rehash(d, d->cap ? 2 * d->cap : TRACKED_MIN_CAP);
}

void tracked_settle(struct tracked_table *d)
{
	size_t cap = d->cap;

	/*
	 * Halved while a sixteenth full or less: an eighth full at most after,
	 * far from the half at which it grows, so it does not swing.
	 */
	while (cap > TRACKED_MIN_CAP && 16 * d->n <= cap)
		cap /= 2;
	if (cap != d->cap)
		tracked_rehash(d, cap);	/* without memory, it stays as it is */
}

struct tracked *tracked_insert(struct tracked_table *d, uint64_t cookie)
{
	size_t i;

	if (2 * (d->n + 1) > d->cap && tracked_grow(d))
		return NULL;
	for (i = slot_of(d, cookie); d->slots[i].cookie; i = (i + 1) & (d->cap - 1))
		;
	memset(&d->slots[i], 0, sizeof(d->slots[i]));
	d->slots[i].cookie = cookie;
	d->n++;
	return &d->slots[i];
}

/* Linear probing: shift later entries of the run back over the hole. */
void tracked_remove(struct tracked_table *d, struct tracked *t)
{
	size_t hole = (size_t)(t - d->slots), i = hole;

	for (;;) {
		size_t home;

		i = (i + 1) & (d->cap - 1);
		if (!d->slots[i].cookie)
			break;
		home = slot_of(d, d->slots[i].cookie);
		/* Moves unless its home lies cyclically in (hole, i]. */
		if ((i > hole && (home <= hole || home > i)) ||
		    (i < hole && home <= hole && home > i)) {
			d->slots[hole] = d->slots[i];
			hole = i;
		}
	}
	d->slots[hole].cookie = 0;
	d->n--;
}

void tracked_table_free(struct tracked_table *d)
{
	free(d->slots);
	memset(d, 0, sizeof(*d));
}
