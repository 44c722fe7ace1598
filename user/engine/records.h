/* SPDX-License-Identifier: GPL-2.0 */
/* The last connections the agent closed (`connctl events`), and the log of each, from the bus. */
#ifndef CONNCTL_RECORDS_H
#define CONNCTL_RECORDS_H

#include <stddef.h>
#include <stdint.h>
#include "engine/bus.h"

#define CLOSE_RECORDS	256

struct close_records {
	struct bus_sink		sink;	/* BUS_CLOSED */
	struct close_record	v[CLOSE_RECORDS];
	size_t			next;
	uint64_t		total;
};

void close_records_init(struct close_records *r, struct bus *bus);
/* How many are kept (at most CLOSE_RECORDS), and the k-th oldest of them. */
size_t close_records_count(const struct close_records *r);
const struct close_record *close_records_get(const struct close_records *r, size_t k);

#endif /* CONNCTL_RECORDS_H */
