// SPDX-License-Identifier: GPL-2.0
/* The agent's rule table: sorted by id, ids not reused until they run out. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "engine/rule_table.h"

static void insert(struct rule_table *t, uint32_t id)
{
	struct rule_spec spec = { .rule = { .id = id } };

	assert_non_null(rule_table_insert(t, &spec, id % 3));
}

static void test_sorted_find_remove(void **state)
{
	struct rule_table t = {};
	uint32_t ids[] = { 5, 1, 9, 3, 7, 200, 2 };

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		insert(&t, ids[i]);
	assert_int_equal(t.n, 7);
	for (size_t i = 1; i < t.n; i++)
		assert_true(t.v[i - 1].id < t.v[i].id);
	assert_non_null(rule_table_find(&t, 9));
	assert_null(rule_table_find(&t, 4));
	rule_table_remove(&t, 9);
	rule_table_remove(&t, 4);
	assert_int_equal(t.n, 6);
	assert_null(rule_table_find(&t, 9));
	assert_non_null(rule_table_find(&t, 200));
	rule_table_free(&t);
}

static void test_next_id(void **state)
{
	struct rule_table t = {};

	assert_int_equal(rule_table_next_id(&t), 1);
	insert(&t, 1);
	insert(&t, 10);
	rule_table_remove(&t, 10);
	/* A removed id is not handed out again: clients may still hold it. */
	assert_int_equal(rule_table_next_id(&t), 11);
	/* Nor is the id of a `once` rule, which was never kept. */
	rule_table_claim_id(&t, 11);
	assert_int_equal(rule_table_next_id(&t), 12);
	/*
	 * Past the top (an id chosen by hand), the lowest free id: never
	 * "exhausted" while one is free, even once the top one is deleted.
	 */
	insert(&t, UINT32_MAX);
	assert_int_equal(rule_table_next_id(&t), 2);
	insert(&t, 2);
	insert(&t, 3);
	assert_int_equal(rule_table_next_id(&t), 4);
	rule_table_remove(&t, UINT32_MAX);
	rule_table_remove(&t, 1);
	assert_int_equal(rule_table_next_id(&t), 1);
	rule_table_free(&t);
}

static void test_many(void **state)
{
	struct rule_table t = {};

	for (uint32_t id = 1; id <= 100000; id++)
		insert(&t, id);
	for (uint32_t id = 1; id <= 100000; id += 997)
		assert_int_equal(rule_table_find(&t, id)->id, id);
	rule_table_free(&t);
}

/*
 * A rule that matches nothing costs the table 24 bytes (100,000 rules in
 * 2.4 MB); a ttl, a cgroup path or counts cost an extra, made when needed.
 */
static void test_extras_only_when_needed(void **state)
{
	struct rule_spec plain = { .rule = { .id = 1, .action = CONNCTL_ACTION_DRAIN } };
	struct rule_spec timed = { .rule = { .id = 2, .expires_ns = 5 }, .ttl_ns = 3 };
	struct rule_spec named = { .rule = { .id = 3 }, .cgroup = "a/b" };
	struct rule_table t = {};
	struct rule_entry *e;
	struct rule_spec back;

	assert_true(sizeof(struct rule_entry) <= 24);
	e = rule_table_insert(&t, &plain, 7);
	assert_null(e->extra);
	assert_int_equal(e->action, CONNCTL_ACTION_DRAIN);
	assert_int_equal(e->listing, 7);
	assert_int_equal(rule_stats_of(e)->matched, 0);
	assert_false(t.stats_dirty);
	rule_stats_edit(&t, e)->new_matches++;
	assert_non_null(e->extra);
	assert_true(e->stats_dirty && t.stats_dirty);
	assert_int_equal(rule_stats_of(e)->new_matches, 1);

	e = rule_table_insert(&t, &timed, 0);
	assert_non_null(e->extra);
	assert_int_equal(rule_expires_ns(e), 5);
	rule_entry_spec(e, &back);
	assert_int_equal(back.ttl_ns, 3);
	assert_null(back.cgroup);

	e = rule_table_insert(&t, &named, 0);
	assert_string_equal(rule_cgroup_path(e), "a/b");
	assert_int_equal(rule_expires_ns(e), 0);
	rule_table_remove(&t, 2);
	assert_string_equal(rule_cgroup_path(rule_table_find(&t, 3)), "a/b");
	rule_table_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sorted_find_remove),
		cmocka_unit_test(test_next_id),
		cmocka_unit_test(test_extras_only_when_needed),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
