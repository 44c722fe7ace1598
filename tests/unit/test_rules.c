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

	assert_non_null(rule_table_insert(t, &spec));
}

static void test_sorted_find_remove(void **state)
{
	struct rule_table t = {};
	uint32_t ids[] = { 5, 1, 9, 3, 7, 200, 2 };

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		insert(&t, ids[i]);
	assert_int_equal(t.n, 7);
	for (size_t i = 1; i < t.n; i++)
		assert_true(t.v[i - 1].spec.rule.id < t.v[i].spec.rule.id);
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
		assert_int_equal(rule_table_find(&t, id)->spec.rule.id, id);
	rule_table_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sorted_find_remove),
		cmocka_unit_test(test_next_id),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
