// SPDX-License-Identifier: GPL-2.0
/*
 * --rules-dir: the rules of every *.json file in a directory, kept in force
 * as the files change. How a fleet is driven: a Kubernetes ConfigMap mounted
 * into the DaemonSet, or any configuration tool, writes the same files on
 * every node.
 *
 * Every change in the directory (inotify) leads to a scan of all of it, and
 * the rules it asks for are reconciled with the standing rules that came
 * from it, by content: a rule in both stays as it is (same id, nothing
 * applied again), a rule only in the files is added, a rule only standing is
 * removed. A scan is all or nothing: while one file does not parse, nothing
 * changes. Scanning it whole is what follows a ConfigMap, whose update swaps
 * a `..data` symlink under files that are themselves symlinks.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include "agent.h"
#include "kernel_rules.h"
#include "rules_dir.h"

/* A rules file larger than this is refused. */
#define RULES_FILE_MAX		(1024 * 1024)

/* The rules the directory asks for. */
struct wanted {
	struct rule_spec	*specs;
	bool			*kept;		/* found standing already */
	size_t			n, cap;
};

static void wanted_free(struct wanted *w)
{
	free(w->specs);
	free(w->kept);
	memset(w, 0, sizeof(*w));
}

static int wanted_push(struct wanted *w, const struct rule_spec *spec)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 16;
		struct rule_spec *specs = realloc(w->specs, cap * sizeof(*specs));

		if (!specs)
			return -ENOMEM;
		w->specs = specs;
		w->cap = cap;
	}
	w->specs[w->n++] = *spec;
	return 0;
}

static bool is_rules_file(const char *name)
{
	size_t len = strlen(name);

	/* Hidden names: editors' temporaries, a ConfigMap's ..data directories. */
	return name[0] != '.' && len > 5 && !strcmp(name + len - 5, ".json");
}

/* One rule of a file: checked as a rule.add would be, without id, ttl or once. */
static int file_rule(json_t *rule, struct rule_spec *spec, char *what, size_t what_len)
{
	struct proto_error perr;

	if (json_is_object(rule) && (json_object_get(rule, "id") ||
				     json_object_get(rule, "ttl") ||
				     json_object_get(rule, "once"))) {
		snprintf(what, what_len, "id, ttl and once have no place in a rules file: "
			 "the file decides when a rule stands");
		return -EINVAL;
	}
	if (rule_spec_parse(rule, spec, &perr)) {
		snprintf(what, what_len, "%s", perr.message);
		return -EINVAL;
	}
	spec->rule.flags |= CONNCTL_RULE_FROM_DIR;
	return 0;
}

/* A file holds one rule (an object) or several (an array of them). */
static int read_file(int dir_fd, const char *name, struct wanted *w, char *what,
		     size_t what_len)
{
	json_error_t jerr;
	struct stat st;
	json_t *root, *rule;
	size_t i;
	int fd, err = 0;

	fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st)) {
		snprintf(what, what_len, "%s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > RULES_FILE_MAX) {
		close(fd);
		snprintf(what, what_len, "not a regular file of at most %d bytes", RULES_FILE_MAX);
		return -EINVAL;
	}
	root = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr);
	close(fd);
	if (!root) {
		snprintf(what, what_len, "line %d: %s", jerr.line, jerr.text);
		return -EINVAL;
	}
	if (json_is_object(root)) {
		struct rule_spec spec;

		err = file_rule(root, &spec, what, what_len);
		if (!err)
			err = wanted_push(w, &spec);
	} else if (json_is_array(root)) {
		json_array_foreach(root, i, rule) {
			struct rule_spec spec;
			char why[256];

			err = file_rule(rule, &spec, why, sizeof(why));
			if (err) {
				snprintf(what, what_len, "rule %zu: %s", i + 1, why);
				break;
			}
			err = wanted_push(w, &spec);
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

static int scan(const char *path, struct wanted *w)
{
	char what[320];
	struct dirent *de;
	int err = 0;
	DIR *dir;

	dir = opendir(path);
	if (!dir) {
		err = -errno;
		pr_warn("--rules-dir %s: %s; no change made", path, strerror(errno));
		return err;
	}
	while ((de = readdir(dir))) {
		if (!is_rules_file(de->d_name))
			continue;
		what[0] = '\0';
		err = read_file(dirfd(dir), de->d_name, w, what, sizeof(what));
		if (err) {
			pr_warn("--rules-dir %s/%s: %s; no change made until it is fixed",
				path, de->d_name, what[0] ? what : strerror(-err));
			break;
		}
	}
	closedir(dir);
	return err;
}

/* Equal but for the id and the deadline (which rules from files lack). */
static bool same_rule(const struct connctl_rule *a, const struct connctl_rule *b)
{
	struct connctl_rule x = *a, y = *b;

	x.id = y.id = 0;
	x.expires_ns = y.expires_ns = 0;
	return !memcmp(&x, &y, sizeof(x));
}

/* Standing rules from the directory that it no longer asks for: removed. */
static size_t remove_unwanted(struct agent *agent, struct wanted *w)
{
	size_t removed = 0;

	for (size_t i = agent->rules.n; i-- > 0;) {
		const struct connctl_rule *rule = &agent->rules.v[i].spec.rule;
		bool wanted = false;

		if (!(rule->flags & CONNCTL_RULE_FROM_DIR))
			continue;
		for (size_t k = 0; k < w->n && !wanted; k++) {
			if (!w->kept[k] && same_rule(rule, &w->specs[k].rule)) {
				w->kept[k] = true;
				wanted = true;
			}
		}
		if (!wanted) {
			agent_remove_rule(agent, rule->id, REMOVED_RULES_DIR);
			removed++;
		}
	}
	return removed;
}

static void remove_all(struct agent *agent)
{
	struct wanted none = { 0 };
	size_t removed = remove_unwanted(agent, &none);

	if (removed)
		pr_info("removed %zu rules of a --rules-dir this run was not given", removed);
}

static int reconcile(struct agent *agent)
{
	const char *path = agent->cfg.rules_dir;
	struct wanted w = { 0 };
	size_t removed, added = 0;
	int err;

	err = scan(path, &w);
	if (err)
		goto out;
	w.kept = calloc(w.n ? w.n : 1, sizeof(*w.kept));
	if (!w.kept) {
		err = -ENOMEM;
		goto out;
	}
	removed = remove_unwanted(agent, &w);
	for (size_t k = 0; k < w.n; k++) {
		if (w.kept[k])
			continue;
		if (agent_adds_full(agent))
			agent_apply_adds(agent);
		agent_queue_add(agent, &w.specs[k]);
		added++;
	}
	if (added || removed)
		pr_info("--rules-dir %s: %zu rules asked for: %zu added, %zu removed", path,
			w.n, added, removed);
out:
	wanted_free(&w);
	return err;
}

static void on_change(struct watch *wt, uint32_t events)
{
	struct rules_dir *rd = container_of(wt, struct rules_dir, w);
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	(void)events;
	/* What changed does not matter: the whole directory is read again. */
	while (read(wt->fd, buf, sizeof(buf)) > 0)
		;
	reconcile(rd->agent);
}

int rules_dir_open(struct agent *agent)
{
	struct rules_dir *rd = &agent->rules_dir;
	int err;

	rd->w.fd = -1;
	rd->agent = agent;
	if (!agent->cfg.rules_dir) {
		/* Rules of a directory no longer given: nothing keeps them. */
		remove_all(agent);
		return 0;
	}
	rd->w.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (rd->w.fd < 0)
		return -errno;
	if (inotify_add_watch(rd->w.fd, agent->cfg.rules_dir,
			      IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO |
			      IN_MOVED_FROM | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF) < 0) {
		err = -errno;
		pr_warn("--rules-dir %s: %s", agent->cfg.rules_dir, strerror(errno));
		return err;
	}
	rd->w.handle = on_change;
	if (watch_add(agent->epoll_fd, &rd->w, EPOLLIN))
		return -errno;
	/*
	 * A file that does not parse leaves the rules as they stand (pinned,
	 * from an earlier run), as it would later: the agent still starts.
	 */
	reconcile(agent);
	return agent_apply_adds(agent);
}

void rules_dir_close(struct agent *agent)
{
	if (agent->rules_dir.w.fd >= 0)
		close(agent->rules_dir.w.fd);
	agent->rules_dir.w.fd = -1;
}
