// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include "log.h"
#include "protocol.h"
#include "state.h"

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

static int write_rules(FILE *f, const struct rule_table *t)
{
	if (fprintf(f, "{\"connctl_state\":%d,\"last_id\":%u}\n", STATE_VERSION,
		    t->last_id) < 0)
		return -EIO;
	for (size_t i = 0; i < t->n; i++) {
		const struct rule_spec *spec = &t->v[i].spec;
		json_t *line = json_pack("{s:o, s:I}", "rule", rule_spec_to_json(spec),
					 "expires_at_ms",
					 (json_int_t)(spec->rule.expires_ns / NSEC_PER_MSEC));
		int err = json_dumpf(line, f, JSON_COMPACT);

		json_decref(line);
		if (err || fputc('\n', f) == EOF)
			return -EIO;
	}
	return 0;
}

int state_save(const char *path, const struct rule_table *t)
{
	char tmp[PATH_MAX];
	FILE *f;
	int fd, err;

	err = mkdir_parent(path);
	if (err)
		return err;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
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
	return fsync_dir(path);
fail:
	unlink(tmp);
	return err;
}

static int corrupt(char *msg, size_t len, const char *path, size_t line, const char *what)
{
	snprintf(msg, len, "%s:%zu: %s", path, line, what);
	return -EINVAL;
}

/* One rule line: validated as a rule.add request would be, with its id. */
static int parse_line(json_t *obj, struct rule_spec *spec, char *what, size_t what_len)
{
	json_t *rule = json_object_get(obj, "rule"), *exp = json_object_get(obj, "expires_at_ms");
	struct proto_error perr;
	struct request req;
	json_t *copy, *add;
	char *text;
	int err;

	if (!json_is_object(rule) || !json_is_integer(exp) || json_integer_value(exp) < 0 ||
	    json_object_size(obj) != 2 || !json_is_integer(json_object_get(rule, "id"))) {
		snprintf(what, what_len, "expected {\"rule\":{...,\"id\":N}, \"expires_at_ms\":N}");
		return -EINVAL;
	}
	/* The expiry is absolute; a ttl would start again from now. */
	copy = json_deep_copy(rule);
	json_object_del(copy, "ttl");
	add = json_pack("{s:s, s:o}", "op", "rule.add", "rule", copy);
	text = add ? json_dumps(add, JSON_COMPACT) : NULL;
	json_decref(add);
	if (!text) {
		snprintf(what, what_len, "out of memory");
		return -ENOMEM;
	}
	err = request_parse(text, strlen(text), &req, &perr);
	free(text);
	if (err) {
		snprintf(what, what_len, "%s", perr.message);
		return -EINVAL;
	}
	*spec = req.spec;
	spec->rule.expires_ns = (uint64_t)json_integer_value(exp) * NSEC_PER_MSEC;
	return 0;
}

static int check_header(const char *line, uint32_t *last_id, char *what, size_t what_len)
{
	json_t *obj = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
	json_t *v = json_object_get(obj, "connctl_state");
	json_t *last = json_object_get(obj, "last_id");
	int ok = json_is_integer(v) && json_integer_value(v) == STATE_VERSION &&
		 json_is_integer(last) && json_integer_value(last) >= 0 &&
		 json_integer_value(last) <= UINT32_MAX;

	if (ok)
		*last_id = (uint32_t)json_integer_value(last);
	json_decref(obj);
	if (!ok)
		snprintf(what, what_len, "not a connctl state file of version %d", STATE_VERSION);
	return ok ? 0 : -EINVAL;
}

int state_load(const char *path, struct rule_spec **specs, size_t *n,
	       uint32_t *last_id, char *msg, size_t msg_len)
{
	size_t cap = 0, lineno = 0, len = 0;
	char *line = NULL, what[256];
	struct rule_spec *v = NULL;
	ssize_t got;
	int err = 0;
	FILE *f;

	*specs = NULL;
	*n = 0;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while ((got = getline(&line, &len, f)) > 0) {
		json_error_t jerr;
		json_t *obj;

		lineno++;
		if (line[got - 1] != '\n') {
			err = corrupt(msg, msg_len, path, lineno, "truncated: the line has no end");
			break;
		}
		if (lineno == 1) {
			if (check_header(line, last_id, what, sizeof(what))) {
				err = corrupt(msg, msg_len, path, lineno, what);
				break;
			}
			continue;
		}
		obj = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
		if (!obj) {
			snprintf(what, sizeof(what), "malformed JSON at column %d: %s",
				 jerr.column, jerr.text);
			err = corrupt(msg, msg_len, path, lineno, what);
			break;
		}
		if (*n == cap) {
			struct rule_spec *grown;

			cap = cap ? 2 * cap : 64;
			grown = realloc(v, cap * sizeof(*v));
			if (!grown) {
				json_decref(obj);
				err = -ENOMEM;
				break;
			}
			v = grown;
		}
		err = parse_line(obj, &v[*n], what, sizeof(what));
		json_decref(obj);
		if (err) {
			err = corrupt(msg, msg_len, path, lineno, what);
			break;
		}
		(*n)++;
	}
	if (!err && lineno == 0)
		err = corrupt(msg, msg_len, path, 1, "empty: not even a header line");
	free(line);
	fclose(f);
	if (err) {
		free(v);
		*n = 0;
		return err;
	}
	*specs = v;
	return 0;
}
