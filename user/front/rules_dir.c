// SPDX-License-Identifier: GPL-2.0
/*
 * --rules-dir: the rules of every *.json file in a directory, kept in force
 * as the files change. How a fleet is driven: a Kubernetes ConfigMap mounted
 * into the DaemonSet, or any configuration tool, writes the same files on
 * every node.
 *
 * Every change in the directory (inotify) leads to a scan of all of it, and
 * each file's rules are reconciled with the standing rules that came from
 * it, by content: a rule in both stays as it is (same id, nothing applied
 * again), a rule only in the file is added, a rule only standing is removed.
 * Each file stands alone, and applies whole or not at all: one that does not
 * parse (or names a cgroup that is gone, or would pass --max-rules) is
 * reported and keeps the rules it had, while the others are followed.
 * Scanning it whole is what follows a ConfigMap, whose update swaps a
 * `..data` symlink under files that are themselves symlinks.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include "base/buf.h"
#include "base/log.h"
#include "engine/rulebook.h"
#include "front/rules_dir.h"

/* A rules file larger than this is refused. */
#define RULES_FILE_MAX		(1024 * 1024)

/* One rules file as read: its rules, or why it cannot be used. */
struct dir_file {
	char			name[256];
	struct rule_spec	*specs;
	bool			*kept;		/* found standing already */
	size_t			n, cap;
	bool			bad;		/* its standing rules stay as they are */
	size_t			added, removed;
};

struct dir_scan {
	struct dir_file	*files;
	size_t		n, cap;
};

static void scan_free(struct dir_scan *sc)
{
	for (size_t i = 0; i < sc->n; i++) {
		free(sc->files[i].specs);
		free(sc->files[i].kept);
	}
	free(sc->files);
	memset(sc, 0, sizeof(*sc));
}

static int file_push(struct dir_file *f, const struct rule_spec *spec)
{
	if (array_grow(&f->specs, &f->cap, f->n, sizeof(*f->specs)))
		return -ENOMEM;
	f->specs[f->n++] = *spec;
	return 0;
}

static bool is_rules_file(const char *name)
{
	size_t len = strlen(name);

	/* Hidden names: editors' temporaries, a ConfigMap's ..data directories. */
	return name[0] != '.' && len > 5 && !strcmp(name + len - 5, ".json");
}

/*
 * One rule of a file: checked as a rule.add would be, without id, ttl or
 * once. Only what has an "action" is taken for a rule: what a file that is
 * no rules file holds (a link to a secret) never reaches the log.
 */
static int file_rule(json_t *rule, struct path_pool *paths, struct rule_spec *spec, char *what,
		     size_t what_len)
{
	struct proto_error perr;

	if (!json_is_object(rule) || !json_object_get(rule, "action")) {
		snprintf(what, what_len, "not a rule (an object with an \"action\")");
		return -EINVAL;
	}
	if (json_object_get(rule, "id") || json_object_get(rule, "ttl") ||
	    json_object_get(rule, "once")) {
		snprintf(what, what_len, "id, ttl and once have no place in a rules file: "
			 "the file decides when a rule stands");
		return -EINVAL;
	}
	if (rule_spec_parse(rule, paths, spec, &perr)) {
		snprintf(what, what_len, "%s", perr.message);
		return -EINVAL;
	}
	spec->rule.flags |= CONNCTL_RULE_FROM_DIR;
	return 0;
}

/* The file, opened where it is: a link out of the directory is refused. */
static int open_in_dir(const char *dir, int dir_fd, const char *name, char *what,
		       size_t what_len)
{
	char real_dir[PATH_MAX], real[PATH_MAX], path[PATH_MAX + 256];
	size_t len;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!realpath(dir, real_dir) || !realpath(path, real)) {
		snprintf(what, what_len, "%s", strerror(errno));
		return -errno;
	}
	len = strlen(real_dir);
	if (strncmp(real, real_dir, len) || real[len] != '/') {
		snprintf(what, what_len, "a link out of the directory: not read");
		return -EPERM;
	}
	fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		snprintf(what, what_len, "%s", strerror(errno));
		return -errno;
	}
	return fd;
}

/* A file holds one rule (an object) or several (an array of them). */
static int read_file(const char *dir, int dir_fd, struct path_pool *paths, struct dir_file *f,
		     char *what, size_t what_len)
{
	json_error_t jerr;
	struct stat st;
	json_t *root, *rule;
	size_t i;
	int fd, err = 0;

	fd = open_in_dir(dir, dir_fd, f->name, what, what_len);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > RULES_FILE_MAX) {
		close(fd);
		snprintf(what, what_len, "not a regular file of at most %d bytes", RULES_FILE_MAX);
		return -EINVAL;
	}
	root = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr);
	close(fd);
	if (!root) {
		/* Where, not what: jansson's text quotes the file. */
		snprintf(what, what_len, "not valid JSON (line %d, column %d)", jerr.line,
			 jerr.column);
		return -EINVAL;
	}
	if (json_is_object(root)) {
		struct rule_spec spec;

		err = file_rule(root, paths, &spec, what, what_len);
		if (!err)
			err = file_push(f, &spec);
	} else if (json_is_array(root)) {
		json_array_foreach(root, i, rule) {
			struct rule_spec spec;
			char why[256];

			err = file_rule(rule, paths, &spec, why, sizeof(why));
			if (err) {
				snprintf(what, what_len, "rule %zu: %s", i + 1, why);
				break;
			}
			err = file_push(f, &spec);
			if (err)
				break;
		}
	} else {
		snprintf(what, what_len, "expected a rule (an object) or an array of rules");
		err = -EINVAL;
	}
	json_decref(root);
	return err;
}

static struct dir_file *scan_add(struct dir_scan *sc, const char *name)
{
	if (array_grow(&sc->files, &sc->cap, sc->n, sizeof(*sc->files)))
		return NULL;
	memset(&sc->files[sc->n], 0, sizeof(sc->files[0]));
	snprintf(sc->files[sc->n].name, sizeof(sc->files[0].name), "%s", name);
	return &sc->files[sc->n++];
}

/* Every rules file, each on its own: one that cannot be used is marked bad. */
static int scan(const char *path, struct path_pool *paths, struct dir_scan *sc)
{
	char what[320];
	struct dirent *de;
	DIR *dir;

	dir = opendir(path);
	if (!dir) {
		pr_warn("--rules-dir %s: %s; no change made", path, strerror(errno));
		return -errno;
	}
	while ((de = readdir(dir))) {
		struct dir_file *f;
		int err;

		if (!is_rules_file(de->d_name) || strlen(de->d_name) >= sizeof(f->name))
			continue;
		f = scan_add(sc, de->d_name);
		if (!f) {
			closedir(dir);
			return -ENOMEM;
		}
		what[0] = '\0';
		err = read_file(path, dirfd(dir), paths, f, what, sizeof(what));
		if (err == -ENOMEM) {
			closedir(dir);
			return err;
		}
		if (err) {
			f->bad = true;
			pr_warn("--rules-dir %s/%s: %s; the rules it had stay as they were",
				path, f->name, what[0] ? what : strerror(-err));
		}
	}
	closedir(dir);
	for (size_t i = 0; i < sc->n; i++) {
		sc->files[i].kept = calloc(sc->files[i].n ? sc->files[i].n : 1, sizeof(bool));
		if (!sc->files[i].kept)
			return -ENOMEM;
	}
	return 0;
}

static struct dir_file *scan_find(struct dir_scan *sc, const char *name)
{
	for (size_t i = 0; i < sc->n; i++)
		if (!strcmp(sc->files[i].name, name))
			return &sc->files[i];
	return NULL;
}

static bool scan_has_bad(const struct dir_scan *sc)
{
	for (size_t i = 0; i < sc->n; i++)
		if (sc->files[i].bad)
			return true;
	return false;
}

static struct rule_owner *owner_find(struct rules_dir *rd, uint32_t id)
{
	for (size_t i = 0; i < rd->n_owners; i++)
		if (rd->owners[i].id == id)
			return &rd->owners[i];
	return NULL;
}

static void owner_set(struct rules_dir *rd, uint32_t id, const char *file)
{
	struct rule_owner *o = owner_find(rd, id);

	if (!o) {
		/* Unowned without memory: kept while any file is bad. */
		if (array_grow(&rd->owners, &rd->cap_owners, rd->n_owners, sizeof(*rd->owners)))
			return;
		o = &rd->owners[rd->n_owners++];
		o->id = id;
	}
	snprintf(o->file, sizeof(o->file), "%s", file);
}

static void owner_drop(struct rules_dir *rd, uint32_t id)
{
	struct rule_owner *o = owner_find(rd, id);

	if (o)
		*o = rd->owners[--rd->n_owners];
}

/* Equal but for the id and the deadline (which rules from files lack). */
static bool same_rule(const struct connctl_rule *a, const struct connctl_rule *b)
{
	struct connctl_rule x = *a, y = *b;

	x.id = y.id = 0;
	x.expires_ns = y.expires_ns = 0;
	return !memcmp(&x, &y, sizeof(x));
}

/* A spec of f, not claimed yet, that rule is. */
static bool claim(struct dir_file *f, const struct connctl_rule *rule)
{
	if (!f || f->bad)
		return false;
	for (size_t k = 0; k < f->n; k++) {
		if (!f->kept[k] && same_rule(rule, &f->specs[k].rule)) {
			f->kept[k] = true;
			return true;
		}
	}
	return false;
}

/*
 * Which file a standing rule of the directory belongs to now, NULL when
 * none asks for it. A rule whose file cannot be read stays (reported as
 * "held"); so does one of unknown origin (adopted from the pins) while any
 * file cannot be read: it may be that file's.
 */
static struct dir_file *rule_home(struct rules_dir *rd, struct dir_scan *sc,
				  const struct connctl_rule *rule, bool *held)
{
	struct rule_owner *o = owner_find(rd, rule->id);
	struct dir_file *f = o ? scan_find(sc, o->file) : NULL;

	*held = false;
	if (f && f->bad) {
		*held = true;
		return f;
	}
	if (o)
		return claim(f, rule) ? f : NULL;
	for (size_t i = 0; i < sc->n; i++)
		if (claim(&sc->files[i], rule))
			return &sc->files[i];
	*held = scan_has_bad(sc);
	return NULL;
}

/* What the files ask for: rules to remove (by file), rules to add, counted. */
static void plan(struct rules_dir *rd, struct dir_scan *sc, uint32_t *gone, size_t *n_gone)
{
	const struct rule_table *rules = &rd->rb->rules;
	struct rule_spec spec;

	*n_gone = 0;
	for (size_t i = 0; i < rules->n; i++) {
		const struct connctl_rule *rule = &spec.rule;
		struct rule_owner *o;
		struct dir_file *f;
		bool held;

		if (!(rules->v[i].flags & CONNCTL_RULE_FROM_DIR))
			continue;
		/* Unreadable, it has no home to be found in: it stays. */
		if (rulebook_spec(rd->rb, &rules->v[i], &spec))
			continue;
		f = rule_home(rd, sc, rule, &held);
		if (f) {
			owner_set(rd, rule->id, f->name);
			continue;
		}
		if (held)
			continue;
		o = owner_find(rd, rule->id);
		f = o ? scan_find(sc, o->file) : NULL;
		if (f)
			f->removed++;
		gone[(*n_gone)++] = rule->id;
	}
	for (size_t i = 0; i < sc->n; i++)
		for (size_t k = 0; k < sc->files[i].n; k++)
			sc->files[i].added += !sc->files[i].kept[k];
}

/*
 * A file applies whole or not at all: one whose new rules would pass
 * --max-rules is refused, and what it had stays.
 */
static void check_room(struct rules_dir *rd, struct dir_scan *sc, size_t n_gone)
{
	size_t total = rd->rb->rules.n - n_gone;

	for (size_t i = 0; i < sc->n; i++) {
		struct dir_file *f = &sc->files[i];

		if (f->bad || !f->added)
			continue;
		if (total + f->added > rd->rb->max_rules) {
			pr_warn("--rules-dir %s/%s: its %zu new rules would pass --max-rules %u: "
				"none applied; the rules it had stay as they were",
				rd->path, f->name, f->added, rd->rb->max_rules);
			f->bad = true;
			continue;
		}
		total += f->added;
	}
}

static void remove_gone(struct rules_dir *rd, struct dir_scan *sc, const uint32_t *gone,
			size_t n_gone)
{

	for (size_t i = 0; i < n_gone; i++) {
		struct rule_owner *o = owner_find(rd, gone[i]);
		struct dir_file *f = o ? scan_find(sc, o->file) : NULL;

		/* Its file was refused meanwhile (no room): it stays. */
		if (f && f->bad)
			continue;
		rulebook_remove(rd->rb, gone[i], REMOVED_RULES_DIR);
		owner_drop(rd, gone[i]);
	}
}

static size_t add_new(struct rules_dir *rd, struct dir_scan *sc)
{
	size_t added = 0;

	for (size_t i = 0; i < sc->n; i++) {
		struct dir_file *f = &sc->files[i];

		for (size_t k = 0; k < f->n && !f->bad; k++) {
			uint32_t id;

			if (f->kept[k])
				continue;
			if (rulebook_adds_full(rd->rb))
				rulebook_apply(rd->rb);
			id = rulebook_queue_add(rd->rb, &f->specs[k], NULL, NULL, NULL);
			if (!id) {
				pr_warn("--rules-dir %s/%s: a rule not added", rd->path, f->name);
				continue;
			}
			owner_set(rd, id, f->name);
			added++;
		}
	}
	return added;
}

static int reconcile(struct rules_dir *rd)
{
	const char *path = rd->path;
	struct dir_scan sc = { 0 };
	size_t n_gone, added, before = rd->rb->rules.n;
	uint32_t *gone;
	int err;

	err = scan(path, &rd->rb->paths, &sc);
	gone = calloc(before ? before : 1, sizeof(*gone));
	if (err || !gone) {
		if (!err)
			err = -ENOMEM;
		goto out;
	}
	plan(rd, &sc, gone, &n_gone);
	check_room(rd, &sc, n_gone);
	remove_gone(rd, &sc, gone, n_gone);
	added = add_new(rd, &sc);
	if (added || before != rd->rb->rules.n)
		pr_info("--rules-dir %s: %zu files: %zu rules added, %zu removed", path, sc.n,
			added, before + added - rd->rb->rules.n);
out:
	free(gone);
	scan_free(&sc);
	return err;
}

static void remove_all(struct rulebook *rb)
{
	size_t removed = 0;

	for (size_t i = rb->rules.n; i-- > 0;) {
		const struct rule_entry *e = &rb->rules.v[i];

		if (!(e->flags & CONNCTL_RULE_FROM_DIR))
			continue;
		rulebook_remove(rb, e->id, REMOVED_RULES_DIR);
		removed++;
	}
	if (removed)
		pr_info("removed %zu rules of a --rules-dir this run was not given", removed);
}

static void on_change(struct watch *wt, uint32_t events)
{
	struct rules_dir *rd = container_of(wt, struct rules_dir, w);
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	(void)events;
	/* What changed does not matter: the whole directory is read again. */
	while (read(wt->fd, buf, sizeof(buf)) > 0)
		;
	reconcile(rd);
}

int rules_dir_open(struct rules_dir *rd, struct loop *loop, struct rulebook *rb,
		  const char *path)
{
	int err;

	*rd = (struct rules_dir){ .w.fd = -1, .rb = rb, .path = path };
	if (!path) {
		/* Rules of a directory no longer given: nothing keeps them. */
		remove_all(rb);
		return 0;
	}
	rd->w.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (rd->w.fd < 0)
		return -errno;
	if (inotify_add_watch(rd->w.fd, path,
			      IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO |
			      IN_MOVED_FROM | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF) < 0) {
		err = -errno;
		pr_warn("--rules-dir %s: %s", path, strerror(errno));
		return err;
	}
	rd->w.handle = on_change;
	err = watch_add(loop, &rd->w, EPOLLIN);
	if (err)
		return err;
	/*
	 * A file that does not parse leaves the rules as they stand (pinned,
	 * from an earlier run), as it would later: the agent still starts.
	 */
	reconcile(rd);
	return rulebook_apply(rb);
}

void rules_dir_close(struct rules_dir *rd)
{
	if (rd->w.fd >= 0)
		close(rd->w.fd);
	rd->w.fd = -1;
	free(rd->owners);
	rd->owners = NULL;
	rd->n_owners = rd->cap_owners = 0;
}
