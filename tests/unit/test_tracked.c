// SPDX-License-Identifier: GPL-2.0
/* The tracked-connection table against a plain array, under random churn. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include "engine/tracked.h"

#define KEYS	3000

static void test_insert_find_remove(void **state)
{
	struct tracked_table t = {};
	struct tracked *e;

	assert_null(tracked_find(&t, 1));
	e = tracked_insert(&t, 42);
	assert_non_null(e);
	e->rule_id = 7;
	assert_int_equal(tracked_find(&t, 42)->rule_id, 7);
	assert_null(tracked_find(&t, 43));
	tracked_remove(&t, tracked_find(&t, 42));
	assert_null(tracked_find(&t, 42));
	assert_int_equal(t.n, 0);
	tracked_table_free(&t);
}

static void test_random_churn(void **state)
{
	static bool present[KEYS];
	struct tracked_table t = {};
	size_t live = 0;
	unsigned int seed = 1;

	/* Sequential cookies, as the kernel hands them out, collide the most. */
	for (int round = 0; round < 200000; round++) {
		uint64_t k = (uint64_t)(rand_r(&seed) % KEYS);
		struct tracked *e = tracked_find(&t, k + 1);

		assert_int_equal(e != NULL, present[k]);
		if (present[k]) {
			assert_int_equal(e->rule_id, (uint32_t)k);
			tracked_remove(&t, e);
			present[k] = false;
			live--;
		} else {
			e = tracked_insert(&t, k + 1);
			assert_non_null(e);
			e->rule_id = (uint32_t)k;
			present[k] = true;
			live++;
		}
		assert_int_equal(t.n, live);
	}
	for (uint64_t k = 0; k < KEYS; k++) {
		struct tracked *e = tracked_find(&t, k + 1);

		assert_int_equal(e != NULL, present[k]);
		if (e)
			assert_int_equal(e->rule_id, (uint32_t)k);
	}
	tracked_table_free(&t);
}

/* Removing while walking the slots, as drain_forget_rule does. */
static void test_remove_while_walking(void **state)
{
	struct tracked_table t = {};
	size_t i = 0, kept = 0;

	for (uint64_t k = 1; k <= 1000; k++)
		tracked_insert(&t, k)->rule_id = k % 3 == 0 ? 9 : 1;
	while (i < t.cap) {
		if (t.slots[i].cookie && t.slots[i].rule_id == 9) {
			tracked_remove(&t, &t.slots[i]);
			continue;
		}
		i++;
	}
	for (uint64_t k = 1; k <= 1000; k++) {
		struct tracked *e = tracked_find(&t, k);

		if (k % 3 == 0) {
			assert_null(e);
		} else {
			assert_non_null(e);
			kept++;
		}
	}
	assert_int_equal(t.n, kept);
	tracked_table_free(&t);
}

/* After a peak, the table comes back to the size of what still waits. */
static void test_settle_after_peak(void **state)
{
	struct tracked_table t = {};
	size_t peak;

	for (uint64_t k = 1; k <= 5000; k++)
		tracked_insert(&t, k)->rule_id = (uint32_t)k;
	peak = t.cap;
	assert_true(peak >= 10000);
	tracked_settle(&t);
	assert_int_equal(t.cap, peak);	/* a third full: kept */
	for (uint64_t k = 11; k <= 5000; k++)
		tracked_remove(&t, tracked_find(&t, k));
	tracked_settle(&t);
	assert_int_equal(t.cap, 256);
	for (uint64_t k = 1; k <= 5000; k++) {
		struct tracked *e = tracked_find(&t, k);

		if (k <= 10) {
			assert_non_null(e);
			assert_int_equal(e->rule_id, (uint32_t)k);
		} else {
			assert_null(e);
		}
	}
	/* 200 in 512 slots: more than a sixteenth full, so it stays. */
	for (uint64_t k = 11; k <= 200; k++)
		tracked_insert(&t, k);
	assert_int_equal(t.cap, 512);
	tracked_settle(&t);
	assert_int_equal(t.cap, 512);
	assert_int_equal(t.n, 200);
	tracked_table_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_find_remove),
		cmocka_unit_test(test_random_churn),
		cmocka_unit_test(test_remove_while_walking),
		cmocka_unit_test(test_settle_after_peak),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
