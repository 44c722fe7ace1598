// SPDX-License-Identifier: GPL-2.0
/*
 * The state file's journal: changes written over the blank lines at its
 * end and played back, the file written whole when the journal outgrows
 * the rules, a torn last line dropped (at the end, or over blank lines), a
 * corrupt one refused with its line.
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
#include <sys/stat.h>
#include <cmocka.h>
#include "engine/journal.h"

/* The cgroup paths the parsed rules name. */
static struct path_pool test_paths;

struct fixture {
	char			dir[64];
	char			path[96];
	struct rule_spec	*specs;	/* the standing rules, sorted by id */
	size_t			n;
	uint32_t		last_id;
	int			get_err;	/* what reading a rule fails with */
	struct rule_source	src;
	struct state_journal	journal;
};

static int spec_at(void *ctx, size_t i, struct rule_spec *spec)
{
	struct fixture *f = ctx;

	if (f->get_err)
		return f->get_err;
	*spec = f->specs[i];
	return 0;
}

/* The rules as the rule book gives them to the journal. */
static const struct rule_source *rules(struct fixture *f)
{
	f->src = (struct rule_source){ .n = f->n, .last_id = f->last_id, .get = spec_at,
				       .ctx = f };
	return &f->src;
}

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
	free(f->specs);
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

	f->specs = realloc(f->specs, (f->n + 1) * sizeof(*f->specs));
	assert_non_null(f->specs);
	f->specs[f->n++] = spec;
	if (id > f->last_id)
		f->last_id = id;
	state_note_add(&f->journal, &spec);
}

static void del(struct fixture *f, uint32_t id)
{
	for (size_t i = 0; i < f->n; i++) {
		if (f->specs[i].rule.id != id)
			continue;
		memmove(&f->specs[i], &f->specs[i + 1], (f->n - i - 1) * sizeof(*f->specs));
		f->n--;
		break;
	}
	state_note_del(&f->journal, id);
}

/* Lines that say something: the blank ones at the end are room for changes. */
static size_t file_lines(const char *path)
{
	FILE *fp = fopen(path, "r");
	size_t n = 0;
	int c, prev = '\n';

	assert_non_null(fp);
	while ((c = fgetc(fp)) != EOF) {
		n += c == '\n' && prev != '\n';
		prev = c;
	}
	fclose(fp);
	return n;
}

/* Where the blank lines begin. */
static long content_end(const char *path)
{
	FILE *fp = fopen(path, "r");
	long end = 0, off = 0;
	int c, prev = '\n';

	assert_non_null(fp);
	while ((c = fgetc(fp)) != EOF) {
		off++;
		if (c == '\n' && prev != '\n')
			end = off;
		prev = c;
	}
	fclose(fp);
	return end;
}

static long file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (long)st.st_size;
}

static void append(const char *path, const char *text)
{
	FILE *fp = fopen(path, "a");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void write_at(const char *path, long off, const char *text)
{
	FILE *fp = fopen(path, "r+");

	assert_non_null(fp);
	assert_int_equal(fseek(fp, off, SEEK_SET), 0);
	fputs(text, fp);
	fclose(fp);
}

/* Written where the journal writes its next change: over the blank lines. */
static void write_over_blank(const char *path, const char *text)
{
	write_at(path, content_end(path), text);
}

static void test_journal_played_back(void **state)
{
	struct fixture *f = *state;
	struct state_loaded st;
	char msg[512];

	add(f, 1);
	assert_int_equal(state_commit(&f->journal, f->path, rules(f)), 0);
	assert_int_equal(file_lines(f->path), 2);
	/* Appended from here: three adds, a delete, an id for a `once` rule. */
	add(f, 2);
	add(f, 3);
	add(f, 4);
	del(f, 2);
	state_note_last_id(&f->journal, 9);
	f->last_id = 9;
	assert_int_equal(state_commit(&f->journal, f->path, rules(f)), 0);
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

	assert_int_equal(state_commit(&f->journal, f->path, rules(f)), 0);
	assert_int_equal(access(f->path, F_OK), -1);
}

static void test_journal_compacted(void **state)
{
	struct fixture *f = *state;
	struct state_loaded st;
	char msg[512];

	add(f, 1);
	assert_int_equal(state_commit(&f->journal, f->path, rules(f)), 0);
	/* Churn: the journal would grow without end, the rules do not. */
	for (uint32_t id = 2; id < 5000; id++) {
		add(f, id);
		del(f, id);
		assert_int_equal(state_commit(&f->journal, f->path, rules(f)), 0);
		assert_true(file_lines(f->path) <= 2 * f->n + 1024 + 3);
	}
	assert_int_equal(state_load(f->path, &test_paths, &st, msg, sizeof(msg)), 0);
	assert_int_equal(st.n, 1);
	assert_int_equal(st.specs[0].rule.id, 1);
	free(st.specs);
}

/* Many changes one at a time: the blank lines run out and are written again. */
static void test_blank_lines_renewed(void **state)
{
	struct fixture *f = *state;
	struct state_loaded st;
	long size = 0;
	int grew = 0;
	char msg[512];

	add(f, 1);
	assert_int_equal(state_commit(&f->journal, f->path, rules(f)), 0);
	for (uint32_t id = 2; id <= 5000; id++) {
		add(f, id);
		assert_int_equal(state_commit(&f->journal, f->path, rules(f)), 0);
		if (file_size(f->path) == size && id % 500)
			continue;
		grew += file_size(f->path) != size;
		size = file_size(f->path);
		/* Always room after the last change, never much more than a pad. */
		assert_true(size > content_end(f->path));
		assert_true(size - content_end(f->path) <= 64 * 1024);
	}
	assert_true(grew >= 3);
	assert_int_equal(file_lines(f->path), 5001);
	assert_int_equal(state_load(f->path, &test_paths, &st, msg, sizeof(msg)), 0);
	assert_false(st.torn);
	assert_int_equal(st.n, 5000);
	assert_int_equal(st.specs[4999].rule.id, 5000);
	free(st.specs);
}

/* A change cut short where the journal writes: over the blank lines. */
static void test_torn_over_blank_dropped(void **state)
{
	struct fixture *f = *state;
	struct state_loaded st;
	char msg[512];
	long end;

	add(f, 1);
	add(f, 2);
	assert_int_equal(state_commit(&f->journal, f->path, rules(f)), 0);
	end = content_end(f->path);
	write_at(f->path, end, "{\"rule\":{\"id\":3,\"act");

	assert_int_equal(state_load(f->path, &test_paths, &st, msg, sizeof(msg)), 0);
	assert_true(st.torn);
	assert_int_equal(st.n, 2);
	assert_non_null(strstr(msg, ":4: the last change was cut short"));
	free(st.specs);
	/* Its end written and its start not: garbage, then blank lines. */
	write_at(f->path, end, "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n");
	write_at(f->path, end + 4, "port\":1003},\"expires_at_ms\":0}\n");
	assert_int_equal(state_load(f->path, &test_paths, &st, msg, sizeof(msg)), 0);
	assert_true(st.torn);
	assert_int_equal(st.n, 2);
	free(st.specs);
}

/* A file without blank lines (an older agent's) cut short at its end. */
static void test_torn_last_line_dropped(void **state)
{
	struct fixture *f = *state;
	struct state_loaded st;
	char msg[512];

	append(f->path, "{\"connctl_state\":2,\"last_id\":2}\n"
	       "{\"rule\":{\"id\":1,\"action\":\"reset\",\"lport\":80},\"expires_at_ms\":0}\n"
	       "{\"rule\":{\"id\":2,\"action\":\"reset\",\"lport\":81},\"expires_at_ms\":0}\n");
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
	assert_int_equal(state_commit(&f->journal, f->path, rules(f)), 0);
	/* Not the last line: a change follows it. */
	write_over_blank(f->path, "{\"del\":\"two\"}\n");
	write_over_blank(f->path, "{\"del\":1}\n");

	assert_int_equal(state_load(f->path, &test_paths, &st, msg, sizeof(msg)), -EINVAL);
	snprintf(where, sizeof(where), "%s:3: ", f->path);
	assert_non_null(strstr(msg, where));
	assert_null(st.specs);
}

/*
 * A rule the rule book cannot read (the kernel's copy) fails the whole
 * write: the file on disk stays as it was rather than lose the rule.
 */
static void test_unreadable_rule_keeps_file(void **state)
{
	struct fixture *f = *state;
	struct state_loaded st;
	char msg[512];

	add(f, 1);
	add(f, 2);
	assert_int_equal(state_commit(&f->journal, f->path, rules(f)), 0);
	state_note_rewrite(&f->journal);
	f->get_err = -ENOENT;
	assert_int_equal(state_commit(&f->journal, f->path, rules(f)), -ENOENT);
	assert_int_equal(state_load(f->path, &test_paths, &st, msg, sizeof(msg)), 0);
	assert_int_equal(st.n, 2);
	free(st.specs);
	f->get_err = 0;
	del(f, 1);
	assert_int_equal(state_commit(&f->journal, f->path, rules(f)), 0);
	assert_int_equal(state_load(f->path, &test_paths, &st, msg, sizeof(msg)), 0);
	assert_int_equal(st.n, 1);
	assert_int_equal(st.specs[0].rule.id, 2);
	free(st.specs);
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

/* A newer agent's file is refused at its header, by name. */
static void test_newer_version_refused(void **state)
{
	struct fixture *f = *state;
	struct state_loaded st;
	char msg[512];

	append(f->path, "{\"connctl_state\":4,\"last_id\":7}\n\n\n");
	assert_int_equal(state_load(f->path, &test_paths, &st, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, ":1: not a connctl state file of version 1 to 3"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_journal_played_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_noted_nothing_written, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_compacted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blank_lines_renewed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_over_blank_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_last_line_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_line_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version_1_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_version_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_rule_keeps_file, setup, teardown),
	};

	return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}
