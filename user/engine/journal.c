// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include "base/buf.h"
#include "base/log.h"
#include "engine/rule_spec.h"
#include "engine/journal.h"
#include "sys/paths.h"

static int mkdir_parent(const char *path)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", path);
	if (mkdir(dirname(dir), 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static int fsync_dir(const char *path)
{
	char dir[PATH_MAX];
	int fd, err = 0;

	snprintf(dir, sizeof(dir), "%s", path);
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd))
		err = -errno;
	close(fd);
	return err;
}

/* A journal past this many lines beyond twice the rules is written whole. */
#define JOURNAL_SLACK	1024

/*
 * Blank lines past the last change, written when the file is: a change
 * overwrites them in place, so its fdatasync writes the data and flushes,
 * with no new size or block of the file's to write (or to commit to the
 * filesystem's journal) as well. The file grows by this much when they run
 * out.
 */
#define JOURNAL_PAD	(64 * 1024)

static int write_all_at(int fd, const char *buf, size_t len, size_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
		off += (size_t)n;
	}
	return 0;
}

/*
 * JOURNAL_PAD blank lines from end on; the file's size after. A disk too
 * full for them only costs the speed they bring: the file ends at end.
 */
static size_t pad_file(int fd, size_t end)
{
	char blank[4096];
	int err = 0;

	memset(blank, '\n', sizeof(blank));
	for (size_t off = end; !err && off < end + JOURNAL_PAD; off += sizeof(blank))
		err = write_all_at(fd, blank, sizeof(blank), off);
	if (!err)
		return end + JOURNAL_PAD;
	if (ftruncate(fd, (off_t)end))
		pr_warn("state file: cannot take back blank lines it had no room for: %s",
			strerror(errno));
	return end;
}

static json_t *rule_line(const struct rule_spec *spec)
{
	return json_pack("{s:o, s:I}", "rule", rule_spec_to_json(spec), "expires_at_ms",
			 (json_int_t)(spec->rule.expires_ns / NSEC_PER_MSEC));
}

static int write_rules(FILE *f, const struct rule_source *t)
{
	if (fprintf(f, "{\"connctl_state\":%d,\"last_id\":%u}\n", STATE_VERSION,
		    t->last_id) < 0)
		return -EIO;
	for (size_t i = 0; i < t->n; i++) {
		struct rule_spec spec;
		json_t *line;
		int err;

		/* A file without one of the rules would lose it: no file. */
		err = t->get(t->ctx, i, &spec);
		if (err)
			return err;
		/* Its directory, not this file, brings such a rule back. */
		if (spec.rule.flags & CONNCTL_RULE_FROM_DIR)
			continue;
		line = rule_line(&spec);
		err = json_dumpf(line, f, JSON_COMPACT);

		json_decref(line);
		if (err || fputc('\n', f) == EOF)
			return -EIO;
	}
	return 0;
}

/* Written whole: *end is where the next change goes, *size the file's size. */
static int write_whole(const char *path, const struct rule_source *t, size_t *end,
		       size_t *size)
{
	long written;
	char tmp[PATH_MAX];
	FILE *f;
	int fd, err;

	err = mkdir_parent(path);
	if (err)
		return err;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	/*
	 * Ours, new: a name planted there (a symlink to a file of root's) is
	 * removed, never followed; one planted again meanwhile fails the write.
	 */
	if (unlink(tmp) && errno != ENOENT)
		return -errno;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		goto fail;
	}
	err = write_rules(f, t);
	if (!err && fflush(f))
		err = -errno;
	written = err ? -1 : ftell(f);
	if (!err && written < 0)
		err = -errno;
	if (!err)
		*size = pad_file(fd, (size_t)written);
	if (!err && fsync(fd))
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	if (err)
		goto fail;
	if (rename(tmp, path)) {
		err = -errno;
		goto fail;
	}
	*end = (size_t)written;
	return fsync_dir(path);
fail:
	unlink(tmp);
	return err;
}

void state_journal_init(struct state_journal *j)
{
	memset(j, 0, sizeof(*j));
	j->fd = -1;
	j->lock_fd = -1;
}

void state_journal_close(struct state_journal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	if (j->lock_fd >= 0)
		close(j->lock_fd);
	free(j->pending);
	state_journal_init(j);
}

int state_lock(struct state_journal *j, const char *path)
{
	char lock[PATH_MAX];
	int err;

	if (snprintf(lock, sizeof(lock), "%s.lock", path) >= (int)sizeof(lock))
		return -ENAMETOOLONG;
	err = mkdir_parent(path);
	if (err)
		return err;
	j->lock_fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (j->lock_fd < 0)
		return -errno;
	if (flock(j->lock_fd, LOCK_EX | LOCK_NB)) {
		err = -errno;
		close(j->lock_fd);
		j->lock_fd = -1;
		return err;
	}
	return 0;
}

static void pending_clear(struct state_journal *j)
{
	j->pending_len = 0;
	j->pending_lines = 0;
	j->failed = false;
}

static void note_line(struct state_journal *j, json_t *line)
{
	char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;

	json_decref(line);
	j->dirty = true;
	if (!text || buf_append(&j->pending, &j->pending_len, &j->pending_cap, text,
				strlen(text), true))
		j->failed = true;
	else
		j->pending_lines++;
	free(text);
}

void state_note_add(struct state_journal *j, const struct rule_spec *spec)
{
	note_line(j, rule_line(spec));
}

void state_note_del(struct state_journal *j, uint32_t id)
{
	note_line(j, json_pack("{s:I}", "del", (json_int_t)id));
}

void state_note_last_id(struct state_journal *j, uint32_t id)
{
	note_line(j, json_pack("{s:I}", "last_id", (json_int_t)id));
}

void state_note_rewrite(struct state_journal *j)
{
	j->rewrite = true;
	j->dirty = true;
}

static int commit_whole(struct state_journal *j, const char *path,
			const struct rule_source *t)
{
	int err;

	if (j->fd >= 0) {
		close(j->fd);
		j->fd = -1;
	}
	pending_clear(j);
	j->rewrite = false;
	err = write_whole(path, t, &j->end, &j->size);
	if (!err) {
		j->fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
		if (j->fd < 0)
			err = -errno;
	}
	/* Failed: the next change writes the whole file again. */
	if (err)
		j->rewrite = true;
	j->lines = t->n + 1;
	return err;
}

/*
 * The pending lines over the blank ones at the end of the file; when they
 * do not fit, fresh blank lines follow them, under the same fdatasync.
 */
static int write_pending(struct state_journal *j)
{
	size_t end = j->end + j->pending_len;
	int err;

	err = write_all_at(j->fd, j->pending, j->pending_len, j->end);
	if (!err && end > j->size)
		j->size = pad_file(j->fd, end);
	return err;
}

int state_commit(struct state_journal *j, const char *path, const struct rule_source *t)
{
	size_t end;
	int err;

	if (!j->dirty)
		return 0;
	if (j->rewrite || j->failed || j->fd < 0 ||
	    j->lines + j->pending_lines > 2 * t->n + JOURNAL_SLACK) {
		err = commit_whole(j, path, t);
		/* Still not on disk: the next commit tries again, and fails as loudly. */
		j->dirty = err != 0;
		return err;
	}
	end = j->end + j->pending_len;
	err = write_pending(j);
	if (!err && fdatasync(j->fd))
		err = -errno;
	if (err) {
		/* A line may be cut short in the file: replace the file next. */
		pending_clear(j);
		close(j->fd);
		j->fd = -1;
		j->rewrite = true;
		return err;
	}
	j->dirty = false;
	j->lines += j->pending_lines;
	j->end = end;
	pending_clear(j);
	return 0;
}

static int corrupt(char *msg, size_t len, const char *path, size_t line, const char *what)
{
	snprintf(msg, len, "%s:%zu: %s", path, line, what);
	return -EINVAL;
}

/* One rule line: validated as a rule.add request would be, with its id. */
static int parse_line(json_t *obj, struct path_pool *paths, struct rule_spec *spec, char *what,
		      size_t what_len)
{
	json_t *rule = json_object_get(obj, "rule"), *exp = json_object_get(obj, "expires_at_ms");
	struct proto_error perr;
	json_t *copy;
	int err;

	if (!json_is_object(rule) || !json_is_integer(exp) || json_integer_value(exp) < 0 ||
	    json_object_size(obj) != 2 || !json_is_integer(json_object_get(rule, "id"))) {
		snprintf(what, what_len, "expected {\"rule\":{...,\"id\":N}, \"expires_at_ms\":N}");
		return -EINVAL;
	}
	/* The expiry is absolute; a ttl would start again from now. */
	copy = json_deep_copy(rule);
	if (!copy) {
		snprintf(what, what_len, "out of memory");
		return -ENOMEM;
	}
	json_object_del(copy, "ttl");
	err = rule_spec_parse(copy, paths, spec, &perr);
	json_decref(copy);
	if (err) {
		snprintf(what, what_len, "%s", perr.message);
		return -EINVAL;
	}
	spec->rule.expires_ns = (uint64_t)json_integer_value(exp) * NSEC_PER_MSEC;
	return 0;
}

static int check_header(const char *line, uint32_t *last_id, char *what, size_t what_len)
{
	json_t *obj = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
	json_t *v = json_object_get(obj, "connctl_state");
	json_t *last = json_object_get(obj, "last_id");
	int ok = json_is_integer(v) && json_integer_value(v) >= 1 &&
		 json_integer_value(v) <= STATE_VERSION &&
		 json_is_integer(last) && json_integer_value(last) >= 0 &&
		 json_integer_value(last) <= UINT32_MAX;

	if (ok)
		*last_id = (uint32_t)json_integer_value(last);
	json_decref(obj);
	if (!ok)
		snprintf(what, what_len, "not a connctl state file of version 1 to %d",
			 STATE_VERSION);
	return ok ? 0 : -EINVAL;
}

/* One change of the journal, in the order of the file. */
struct journal_op {
	uint32_t	id;
	size_t		seq;
	ssize_t		spec;	/* index of the rule added; -1: removed */
};

struct journal {
	struct rule_spec	*specs;
	size_t			n_specs, cap_specs;
	struct journal_op	*ops;
	size_t			n_ops, cap_ops;
	uint32_t		last_id;
};

static int journal_push(struct journal *jr, uint32_t id, ssize_t spec)
{
	if (array_grow(&jr->ops, &jr->cap_ops, jr->n_ops, sizeof(*jr->ops)))
		return -ENOMEM;
	jr->ops[jr->n_ops] = (struct journal_op){ .id = id, .seq = jr->n_ops, .spec = spec };
	jr->n_ops++;
	if (id > jr->last_id)
		jr->last_id = id;
	return 0;
}

/* {"del":ID} or {"last_id":N}: an id, and nothing else in the object. */
static bool id_line(json_t *obj, const char *key, uint32_t *id)
{
	json_t *v = json_object_get(obj, key);

	if (json_object_size(obj) != 1 || !json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > UINT32_MAX)
		return false;
	*id = (uint32_t)json_integer_value(v);
	return true;
}

static int journal_line(struct journal *jr, json_t *obj, struct path_pool *paths, char *what,
			size_t what_len)
{
	uint32_t id;
	int err;

	if (id_line(obj, "del", &id))
		return journal_push(jr, id, -1);
	if (id_line(obj, "last_id", &id)) {
		if (id > jr->last_id)
			jr->last_id = id;
		return 0;
	}
	if (array_grow(&jr->specs, &jr->cap_specs, jr->n_specs, sizeof(*jr->specs)))
		return -ENOMEM;
	err = parse_line(obj, paths, &jr->specs[jr->n_specs], what, what_len);
	if (err)
		return err;
	id = jr->specs[jr->n_specs].rule.id;
	err = journal_push(jr, id, (ssize_t)jr->n_specs);
	if (!err)
		jr->n_specs++;
	return err;
}

static int op_cmp(const void *a, const void *b)
{
	const struct journal_op *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The rules standing at the end of the journal: each id's last change wins. */
static int journal_play(struct journal *jr, struct state_loaded *out)
{
	struct rule_spec *v = NULL;
	size_t n = 0;

	if (jr->n_ops)
		qsort(jr->ops, jr->n_ops, sizeof(*jr->ops), op_cmp);
	if (jr->n_specs) {
		v = malloc(jr->n_specs * sizeof(*v));
		if (!v)
			return -ENOMEM;
	}
	for (size_t i = 0; i < jr->n_ops; i++) {
		const struct journal_op *op = &jr->ops[i];

		if (i + 1 < jr->n_ops && jr->ops[i + 1].id == op->id)
			continue;
		if (op->spec >= 0)
			v[n++] = jr->specs[op->spec];
	}
	out->specs = v;
	out->n = n;
	out->last_id = jr->last_id;
	return 0;
}

/* Nothing but blank lines from here to the end of the file. */
static bool only_blank_left(FILE *f)
{
	int c;

	while ((c = getc(f)) != EOF)
		if (c != '\n')
			return false;
	return true;
}

int state_load(const char *path, struct path_pool *paths, struct state_loaded *out, char *msg,
	       size_t msg_len)
{
	struct journal jr = { 0 };
	size_t lineno = 0, len = 0;
	char *line = NULL, what[256];
	ssize_t got;
	int err = 0, fd;
	FILE *f;

	memset(out, 0, sizeof(*out));
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -errno;
	}
	while ((got = getline(&line, &len, f)) > 0) {
		json_error_t jerr;
		json_t *obj;

		lineno++;
		if (line[got - 1] != '\n') {
			/* getline gives a line without its end only at the end of the file. */
			if (lineno == 1) {
				err = corrupt(msg, msg_len, path, lineno,
					      "truncated: the header has no end");
				break;
			}
			snprintf(msg, msg_len, "%s:%zu: the last change was cut short "
				 "(never acknowledged): dropped", path, lineno);
			out->torn = true;
			break;
		}
		if (lineno == 1) {
			if (check_header(line, &jr.last_id, what, sizeof(what))) {
				err = corrupt(msg, msg_len, path, lineno, what);
				break;
			}
			continue;
		}
		/* The blank lines that changes are written over. */
		if (got == 1)
			continue;
		obj = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
		/* Written over blank lines and cut short: never acknowledged either. */
		if (!obj && only_blank_left(f)) {
			snprintf(msg, msg_len, "%s:%zu: the last change was cut short "
				 "(never acknowledged): dropped", path, lineno);
			out->torn = true;
			break;
		}
		if (!obj) {
			snprintf(what, sizeof(what), "malformed JSON at column %d: %s",
				 jerr.column, jerr.text);
			err = corrupt(msg, msg_len, path, lineno, what);
			break;
		}
		err = journal_line(&jr, obj, paths, what, sizeof(what));
		json_decref(obj);
		if (err) {
			if (err == -EINVAL)
				err = corrupt(msg, msg_len, path, lineno, what);
			break;
		}
	}
	if (!err && lineno == 0)
		err = corrupt(msg, msg_len, path, 1, "empty: not even a header line");
	free(line);
	fclose(f);
	if (!err)
		err = journal_play(&jr, out);
	free(jr.specs);
	free(jr.ops);
	if (err)
		memset(out, 0, sizeof(*out));
	return err;
}
