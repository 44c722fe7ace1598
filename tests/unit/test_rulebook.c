// SPDX-License-Identifier: GPL-2.0
/*
 * The rule book on its own: the kernel layer faked, a sink on the bus.
 * Adds answered through their completion in the order asked, refusals that
 * touch nothing, durable-or-refused changes, removals and expiries
 * published, per-rule counts kept from the bus.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "base/clock.h"
#include "engine/rulebook.h"
#include "fakes/fakes.h"

struct answers {
	struct proto_error	v[8];
	uint32_t		ids[8];
	uint64_t		matched[8];
	size_t			n;
};

static void answered(void *ctx, const struct add_result *res)
{
	struct answers *a = ctx;

	a->v[a->n] = res->error;
	a->ids[a->n] = res->spec->rule.id;
	a->matched[a->n] = res->matched;
	a->n++;
}

struct fixture {
	struct bus		bus;
	struct fake_sink	sink;
	struct rulebook		rb;
	char			dir[64];
	char			state[96];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	memset(&fake_kernel, 0, sizeof(fake_kernel));
	snprintf(f->dir, sizeof(f->dir), "/tmp/connctl-unit-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->state, sizeof(f->state), "%s/rules.json", f->dir);
	fake_sink_init(&f->sink, &f->bus);
	rulebook_init(&f->rb, NULL, NULL, &f->bus, f->state, 8);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char lock[128];

	rulebook_close(&f->rb);
	snprintf(lock, sizeof(lock), "%s.lock", f->state);
	unlink(f->state);
	unlink(lock);
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct rule_spec drain_port(uint16_t port)
{
	struct rule_spec spec = { .rule = {
		.action = CONNCTL_ACTION_DRAIN, .match = CONNCTL_MATCH_LPORT,
		.lport = { port, port }, .timeout_ns = 30 * NSEC_PER_SEC,
	} };

	return spec;
}

static void test_adds_answered_in_order(void **state)
{
	struct fixture *f = *state;
	struct rule_spec a = drain_port(80), b = drain_port(81);
	struct answers ans = { 0 };

	fake_kernel.matched = 3;
	b.rule.id = 7;
	assert_int_equal(rulebook_queue_add(&f->rb, &a, NULL, answered, &ans), 1);
	assert_int_equal(rulebook_queue_add(&f->rb, &b, NULL, answered, &ans), 7);
	/* Standing at once: new connections meet them before the walk. */
	assert_true(fake_kernel_has(1) && fake_kernel_has(7));
	assert_int_equal(ans.n, 0);
	assert_int_equal(rulebook_apply(&f->rb), 0);
	assert_int_equal(fake_kernel.walks, 1);	/* one walk for the batch */
	assert_int_equal(ans.n, 2);
	assert_int_equal(ans.v[0].code, PROTO_OK);
	assert_int_equal(ans.ids[0], 1);
	assert_int_equal(ans.ids[1], 7);
	assert_int_equal(ans.matched[1], 3);
	assert_non_null(fake_sink_find(&f->sink, BUS_RULE_ADDED, 1));
	assert_int_equal(fake_sink_find(&f->sink, BUS_RULE_ADDED, 0)->matched, 3);
	/* The counts follow the bus: matched when added. */
	assert_int_equal(rule_stats_of(rule_table_find(&f->rb.rules, 7))->matched, 3);
}

static void test_refused_touches_nothing(void **state)
{
	struct fixture *f = *state;
	struct rule_spec a = drain_port(80);
	struct answers ans = { 0 };

	a.rule.id = 5;
	rulebook_queue_add(&f->rb, &a, NULL, answered, &ans);
	assert_int_equal(rulebook_queue_add(&f->rb, &a, NULL, answered, &ans), 0);
	rulebook_apply(&f->rb);
	assert_int_equal(ans.n, 2);
	assert_int_equal(ans.v[0].code, PROTO_OK);
	assert_int_equal(ans.v[1].code, PROTO_DUPLICATE_ID);
	assert_null(fake_sink_find(&f->sink, BUS_RULE_ADDED, 1));
	assert_int_equal(f->rb.rules.n, 1);
}

static void test_not_durable(void **state)
{
	struct fixture *f = *state;
	struct rule_spec a = drain_port(80);
	struct answers ans = { 0 };
	const struct seen_event *st;

	/* A state file that cannot be written: its directory is a file. */
	f->rb.state_file = "/proc/version/rules.json";
	rulebook_queue_add(&f->rb, &a, NULL, answered, &ans);
	rulebook_apply(&f->rb);
	assert_int_equal(ans.n, 1);
	assert_int_equal(ans.v[0].code, PROTO_NOT_DURABLE);
	/* Undone before any walk: out of the table and of the kernel. */
	assert_int_equal(fake_kernel.walks, 0);
	assert_int_equal(f->rb.rules.n, 0);
	assert_false(fake_kernel_has(1));
	st = fake_sink_find(&f->sink, BUS_STATE_FILE, 0);
	assert_non_null(st);
	assert_false(st->state_ok);
	assert_null(fake_sink_find(&f->sink, BUS_RULE_ADDED, 0));
}

static void test_delete_and_expire(void **state)
{
	struct fixture *f = *state;
	struct rule_spec a = drain_port(80), b = drain_port(81);
	struct proto_error err = { 0 };
	struct requester who = { .pid = 1, .uid = 0 };
	const struct seen_event *ev;

	b.ttl_ns = 1;	/* expires at once */
	rulebook_queue_add(&f->rb, &a, NULL, NULL, NULL);
	rulebook_queue_add(&f->rb, &b, NULL, NULL, NULL);
	rulebook_apply(&f->rb);
	assert_int_equal(rulebook_delete(&f->rb, 1, &who, &err), 0);
	ev = fake_sink_find(&f->sink, BUS_RULE_REMOVED, 0);
	assert_non_null(ev);
	assert_int_equal(ev->rule_id, 1);
	assert_int_equal(ev->removed, REMOVED_DELETED);
	assert_false(fake_kernel_has(1));
	assert_int_not_equal(rulebook_delete(&f->rb, 1, &who, &err), 0);
	assert_int_equal(err.code, PROTO_UNKNOWN_RULE);
	usleep(1000);
	assert_int_equal(rulebook_expire(&f->rb), -1);
	ev = fake_sink_find(&f->sink, BUS_RULE_REMOVED, 1);
	assert_non_null(ev);
	assert_int_equal(ev->rule_id, 2);
	assert_int_equal(ev->removed, REMOVED_EXPIRED);
	assert_int_equal(f->rb.rules.n, 0);
}

/*
 * The loop asks every turn which rule expires next: answered from a bound,
 * the rules looked at only once it has passed; a deleted rule's ttl leaves
 * the bound early, and the look then finds the next one.
 */
static void test_expiry_bound(void **state)
{
	struct fixture *f = *state;
	struct rule_spec a = drain_port(80), b = drain_port(81), c = drain_port(82);
	struct proto_error err = { 0 };
	struct requester who = { .pid = 1, .uid = 0 };
	int ms;

	rulebook_queue_add(&f->rb, &a, NULL, NULL, NULL);
	rulebook_apply(&f->rb);
	assert_int_equal(rulebook_expire(&f->rb), -1);
	assert_int_equal(f->rb.rules.expiry_bound_ns, 0);
	b.ttl_ns = 30 * NSEC_PER_MSEC;
	c.ttl_ns = 20 * NSEC_PER_SEC;
	rulebook_queue_add(&f->rb, &b, NULL, NULL, NULL);
	rulebook_queue_add(&f->rb, &c, NULL, NULL, NULL);
	rulebook_apply(&f->rb);
	ms = rulebook_expire(&f->rb);
	assert_true(ms > 0 && ms <= 30);
	/* Rule 2 deleted: the bound is its expiry still, then moves on. */
	assert_int_equal(rulebook_delete(&f->rb, 2, &who, &err), 0);
	usleep(40000);
	ms = rulebook_expire(&f->rb);
	assert_true(ms > 1000);
	assert_int_equal(f->rb.rules.n, 2);
	assert_null(fake_sink_find(&f->sink, BUS_RULE_REMOVED, 1));
	assert_true(f->rb.rules.expiry_bound_ns > realtime_ns() + NSEC_PER_SEC);
}

/* What others publish about a rule's connections, counted on the rule. */
static void test_counts_from_the_bus(void **state)
{
	struct fixture *f = *state;
	struct rule_spec a = drain_port(80);
	struct bus_conn conn = { 0 };
	struct close_record rec = { .rule_id = 1, .outcome = CLOSE_FIN };
	struct bus_event tagged = { .kind = BUS_TAGGED, .rule_id = 1, .conn = &conn };
	struct bus_event closed = { .kind = BUS_CLOSED, .rule_id = 1,
				    .closed = { .rec = &rec, .was_waiting = true } };
	struct bus_event ended = { .kind = BUS_ENDED, .rule_id = 1, .conn = &conn };
	struct bus_event matched = { .kind = BUS_MATCHED_NEW, .rule_id = 1 };
	const struct rule_stats *s;

	rulebook_queue_add(&f->rb, &a, NULL, NULL, NULL);
	rulebook_apply(&f->rb);
	bus_emit(&f->bus, &matched);
	bus_emit(&f->bus, &tagged);
	bus_emit(&f->bus, &tagged);
	bus_emit(&f->bus, &closed);
	bus_emit(&f->bus, &ended);
	s = rule_stats_of(rule_table_find(&f->rb.rules, 1));
	assert_int_equal(s->new_matches, 1);
	assert_int_equal(s->closed[CLOSE_FIN], 1);
	assert_int_equal(s->ended, 1);
	assert_int_equal(s->pending, 0);
	assert_true(f->rb.rules.stats_dirty);
}

static bool in_use_none(void *ctx, const char *path)
{
	return false;
}

/* The pool of cgroup paths: one copy each, and freed once no rule names it. */
static void test_paths_collected(void **state)
{
	struct fixture *f = *state;
	struct rule_spec a = drain_port(80);
	const char *p = path_pool_intern(&f->rb.paths, "/web");

	assert_ptr_equal(path_pool_intern(&f->rb.paths, "/web"), p);
	path_pool_intern(&f->rb.paths, "/gone");	/* a dry run's, say */
	a.cgroup = p;
	rulebook_queue_add(&f->rb, &a, NULL, NULL, NULL);
	rulebook_apply(&f->rb);
	rulebook_collect_paths(&f->rb);
	assert_int_equal(f->rb.paths.n, 1);		/* /web stays, /gone went */
	assert_string_equal(f->rb.paths.v[0], "/web");
	rulebook_remove(&f->rb, 1, REMOVED_DELETED);
	rulebook_collect_paths(&f->rb);
	assert_int_equal(f->rb.paths.n, 0);
	path_pool_intern(&f->rb.paths, "/x");
	path_pool_collect(&f->rb.paths, in_use_none, NULL);
	assert_int_equal(f->rb.paths.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_adds_answered_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_touches_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_durable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_and_expire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counts_from_the_bus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paths_collected, setup, teardown),
	};

	return cmocka_run_group_tests_name("rulebook", tests, NULL, NULL);
}
