// SPDX-License-Identifier: GPL-2.0
/*
 * The state file's journal: changes appended and played back, the file
 * written whole when the journal outgrows the rules, a torn last line
 * dropped, a corrupt one refused with its line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "engine/journal.h"

/* The cgroup paths the parsed rules name. */
static struct path_pool test_paths;

struct fixture {
	char			dir[64];
	char			path[96];
	struct rule_table	rules;
	struct state_journal	journal;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/connctl-state-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/rules.json", f->dir);
	state_journal_init(&f->journal);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char tmp[128];

	state_journal_close(&f->journal);
	rule_table_free(&f->rules);
	unlink(f->path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
	unlink(tmp);
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct rule_spec reset_rule(uint32_t id, uint16_t port)
{
	struct rule_spec spec = { .rule = {
		.id = id, .action = CONNCTL_ACTION_RESET, .match = CONNCTL_MATCH_LPORT,
		.lport = { .min = port, .max = port } } };

	return spec;
}

static void add(struct fixture *f, uint32_t id)
{
	struct rule_spec spec = reset_rule(id, (uint16_t)(1000 + id % 60000));

	assert_non_null(rule_table_insert(&f->rules, &spec));
	state_note_add(&f->journal, &spec);
}

static void del(struct fixture *f, uint32_t id)
{
	rule_table_remove(&f->rules, id);
	state_note_del(&f->journal, id);
}

static size_t file_lines(const char *path)
{
	FILE *fp = fopen(path, "r");
	size_t n = 0;
	int c;

	assert_non_null(fp);
	while ((c = fgetc(fp)) != EOF)
		n += c == '\n';
	fclose(fp);
	return n;
}

static void append(const char *path, const char *text)
{
	FILE *fp = fopen(path, "a");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void test_journal_played_back(void **state)
{
	struct fixture *f = *state;
	struct state_loaded st;
	char msg[512];

	add(f, 1);
	assert_int_equal(state_commit(&f->journal, f->path, &f->rules), 0);
	assert_int_equal(file_lines(f->path), 2);
	/* Appended from here: three adds, a delete, an id for a `once` rule. */
	add(f, 2);
	add(f, 3);
	add(f, 4);
	del(f, 2);
	state_note_last_id(&f->journal, 9);
	f->rules.last_id = 9;
	assert_int_equal(state_commit(&f->journal, f->path, &f->rules), 0);
	assert_int_equal(file_lines(f->path), 7);

	assert_int_equal(state_load(f->path, &test_paths, &st, msg, sizeof(msg)), 0);
	assert_false(st.torn);
	assert_int_equal(st.n, 3);
	assert_int_equal(st.specs[0].rule.id, 1);
	assert_int_equal(st.specs[1].rule.id, 3);
	assert_int_equal(st.specs[2].rule.id, 4);
	assert_int_equal(st.specs[2].rule.lport.min, 1004);
	assert_int_equal(st.last_id, 9);
	free(st.specs);
}

static void test_nothing_noted_nothing_written(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(state_commit(&f->journal, f->path, &f->rules), 0);
	assert_int_equal(access(f->path, F_OK), -1);
}

static void test_journal_compacted(void **state)
{
	struct fixture *f = *state;
	struct state_loaded st;
	char msg[512];

	add(f, 1);
	assert_int_equal(state_commit(&f->journal, f->path, &f->rules), 0);
	/* Churn: the journal would grow without end, the rules do not. */
	for (uint32_t id = 2; id < 5000; id++) {
		add(f, id);
		del(f, id);
		assert_int_equal(state_commit(&f->journal, f->path, &f->rules), 0);
		assert_true(file_lines(f->path) <= 2 * f->rules.n + 1024 + 3);
	}
	assert_int_equal(state_load(f->path, &test_paths, &st, msg, sizeof(msg)), 0);
	assert_int_equal(st.n, 1);
	assert_int_equal(st.specs[0].rule.id, 1);
	free(st.specs);
}

static void test_torn_last_line_dropped(void **state)
{
	struct fixture *f = *state;
	struct state_loaded st;
	char msg[512];

	add(f, 1);
	add(f, 2);
	assert_int_equal(state_commit(&f->journal, f->path, &f->rules), 0);
	append(f->path, "{\"rule\":{\"id\":3,\"act");

	assert_int_equal(state_load(f->path, &test_paths, &st, msg, sizeof(msg)), 0);
	assert_true(st.torn);
	assert_int_equal(st.n, 2);
	assert_non_null(strstr(msg, ":4: the last change was cut short"));
	free(st.specs);
}

static void test_corrupt_line_refused(void **state)
{
	struct fixture *f = *state;
	struct state_loaded st;
	char msg[512], where[128];

	add(f, 1);
	assert_int_equal(state_commit(&f->journal, f->path, &f->rules), 0);
	append(f->path, "{\"del\":\"two\"}\n");
	add(f, 3);
	assert_int_equal(state_commit(&f->journal, f->path, &f->rules), 0);

	assert_int_equal(state_load(f->path, &test_paths, &st, msg, sizeof(msg)), -EINVAL);
	snprintf(where, sizeof(where), "%s:3: ", f->path);
	assert_non_null(strstr(msg, where));
	assert_null(st.specs);
}

static void test_version_1_read(void **state)
{
	struct fixture *f = *state;
	struct state_loaded st;
	char msg[512];

	append(f->path, "{\"connctl_state\":1,\"last_id\":7}\n"
	       "{\"rule\":{\"id\":5,\"action\":\"reset\",\"lport\":80},\"expires_at_ms\":0}\n");
	assert_int_equal(state_load(f->path, &test_paths, &st, msg, sizeof(msg)), 0);
	assert_int_equal(st.n, 1);
	assert_int_equal(st.specs[0].rule.id, 5);
	assert_int_equal(st.last_id, 7);
	free(st.specs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_journal_played_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_noted_nothing_written, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_compacted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_last_line_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_line_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version_1_read, setup, teardown),
	};

	return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}
