// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include "base/log.h"
#include "base/parse.h"
#include "engine/records.h"

static bool wants(struct bus_sink *s, enum bus_kind kind, uint32_t rule_id)
{
	return kind == BUS_CLOSED;
}

/* Each close in the log, as the operator reads it. */
static void log_close(const struct close_record *rec)
{
	char l[PREFIX_STRLEN], r[PREFIX_STRLEN];

	format_addr(rec->tuple.laddr, l, sizeof(l));
	format_addr(rec->tuple.raddr, r, sizeof(r));
	/* A client may retry in a loop: its refusals are counted, not each logged. */
	if (rec->outcome == CLOSE_REFUSED) {
		pr_debug("rule %u: udp %s:%u -> %s:%u refused (EPERM)", rec->rule_id, l,
			 rec->tuple.lport, r, rec->tuple.rport);
		return;
	}
	pr_info("rule %u: %s %s:%u -> %s:%u: %s after %llu ms, %llu bytes in, %llu out",
		rec->rule_id, action_name(rec->action), l, rec->tuple.lport, r,
		rec->tuple.rport, close_outcome_name(rec->outcome),
		(unsigned long long)(rec->tag_to_close_ns / 1000000),
		(unsigned long long)rec->bytes_in, (unsigned long long)rec->bytes_out);
}

static void emit(struct bus_sink *s, const struct bus_event *ev)
{
	struct close_records *r = (struct close_records *)s;

	log_close(ev->closed.rec);
	r->v[r->next] = *ev->closed.rec;
	r->next = (r->next + 1) % CLOSE_RECORDS;
	r->total++;
}

void close_records_init(struct close_records *r, struct bus *bus)
{
	r->sink = (struct bus_sink){ .wants = wants, .emit = emit };
	r->next = 0;
	r->total = 0;
	bus_subscribe(bus, &r->sink);
}

size_t close_records_count(const struct close_records *r)
{
	return r->total < CLOSE_RECORDS ? (size_t)r->total : CLOSE_RECORDS;
}

const struct close_record *close_records_get(const struct close_records *r, size_t k)
{
	size_t n = close_records_count(r);

	return &r->v[(r->next + CLOSE_RECORDS - n + k) % CLOSE_RECORDS];
}
