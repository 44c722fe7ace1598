// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "base/clock.h"
#include "base/log.h"
#include "sys/netns.h"
#include "sys/sock_diag.h"

#define NETNS_RUN_DIR	"/var/run/netns"

uint32_t netns_self_ino(void)
{
	struct stat st;

	return stat("/proc/self/ns/net", &st) ? 0 : (uint32_t)st.st_ino;
}

int netns_init(struct netns_set *s)
{
	s->own_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (s->own_fd < 0)
		return -errno;
	s->own_ino = netns_self_ino();
	return netns_scan(s, 0);
}

void netns_free(struct netns_set *s)
{
	for (size_t i = 0; i < s->n_diag; i++)
		close(s->diag[i].fd);
	free(s->diag);
	free(s->v);
	if (s->own_fd >= 0)
		close(s->own_fd);
	s->own_fd = -1;
	s->v = NULL;
	s->diag = NULL;
	s->n = s->n_diag = 0;
}

static bool known(const struct netns_set *s, uint32_t ino)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].ino == ino)
			return true;
	return false;
}

static void add(struct netns_set *s, uint32_t ino, const char *name, const char *path)
{
	if (known(s, ino))
		return;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct netns *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n].ino = ino;
	snprintf(s->v[s->n].name, sizeof(s->v[0].name), "%s", name);
	snprintf(s->v[s->n].path, sizeof(s->v[0].path), "%s", path);
	s->n++;
}

static void add_path(struct netns_set *s, const char *path, const char *name)
{
	struct stat st;

	if (!stat(path, &st))
		add(s, (uint32_t)st.st_ino, name, path);
}

static void scan_run_dir(struct netns_set *s)
{
	DIR *dir = opendir(NETNS_RUN_DIR);
	char path[288];
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), NETNS_RUN_DIR "/%s", de->d_name);
		add_path(s, path, de->d_name);
	}
	closedir(dir);
}

/* The namespaces of running processes: /proc/PID/ns/net reads "net:[INO]". */
static void scan_processes(struct netns_set *s)
{
	DIR *dir = opendir("/proc");
	char path[288], link[64], name[NETNS_NAME_LEN];
	struct dirent *de;
	unsigned long ino;
	ssize_t n;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (sscanf(link, "net:[%lu]", &ino) != 1 || known(s, (uint32_t)ino))
			continue;
		snprintf(name, sizeof(name), "pid %ld", strtol(de->d_name, NULL, 10));
		add(s, (uint32_t)ino, name, path);
	}
	closedir(dir);
}

/* Diag sockets of namespaces gone: they would keep them alive. */
static void drop_stale_diag(struct netns_set *s)
{
	size_t k = 0;

	for (size_t i = 0; i < s->n_diag; i++) {
		if (known(s, s->diag[i].ino))
			s->diag[k++] = s->diag[i];
		else
			close(s->diag[i].fd);
	}
	s->n_diag = k;
}

int netns_scan(struct netns_set *s, uint64_t fresh_ns)
{
	uint64_t now = monotonic_ns();

	if (s->scanned_ns && now - s->scanned_ns < fresh_ns)
		return 0;
	s->n = 0;
	add(s, s->own_ino, "agent", "/proc/self/ns/net");
	for (size_t i = 0; i < s->n_paths; i++) {
		const char *p = s->paths[i];
		size_t dir = strlen(NETNS_RUN_DIR "/");

		/* Named as ip-netns names it, where it is one of its. */
		add_path(s, p, strncmp(p, NETNS_RUN_DIR "/", dir) ? p : p + dir);
	}
	if (s->all) {
		scan_run_dir(s);
		scan_processes(s);
	}
	drop_stale_diag(s);
	s->scanned_ns = now;
	return 0;
}

int netns_enter(struct netns_set *s, const struct netns *ns)
{
	struct stat st;
	int fd, err = 0;

	if (ns->ino == s->own_ino)
		return 0;
	fd = open(ns->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	/* A pid reused, or a name bound to another namespace since the scan. */
	if (fstat(fd, &st) || (uint32_t)st.st_ino != ns->ino)
		err = -ENOENT;
	else if (setns(fd, CLONE_NEWNET))
		err = -errno;
	close(fd);
	return err;
}

void netns_leave(struct netns_set *s)
{
	if (setns(s->own_fd, CLONE_NEWNET))
		pr_warn("cannot come back to the agent's network namespace: %s",
			strerror(errno));
}

const char *netns_name(const struct netns_set *s, uint32_t ino)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].ino == ino)
			return s->v[i].name;
	return NULL;
}

int netns_diag_fd(struct netns_set *s, uint32_t ino, int own_fd)
{
	const struct netns *ns = NULL;
	int fd, err;

	if (!ino || ino == s->own_ino)
		return own_fd;
	for (size_t i = 0; i < s->n_diag; i++)
		if (s->diag[i].ino == ino)
			return s->diag[i].fd;
	netns_scan(s, NSEC_PER_SEC);
	for (size_t i = 0; i < s->n && !ns; i++)
		if (s->v[i].ino == ino)
			ns = &s->v[i];
	if (!ns)
		return -ENOENT;
	err = netns_enter(s, ns);
	if (err)
		return err;
	fd = sock_diag_open();
	netns_leave(s);
	if (fd < 0)
		return fd;
	if (s->n_diag == s->cap_diag) {
		size_t cap = s->cap_diag ? 2 * s->cap_diag : 8;
		struct netns_diag *v = realloc(s->diag, cap * sizeof(*v));

		if (!v) {
			close(fd);
			return -ENOMEM;
		}
		s->diag = v;
		s->cap_diag = cap;
	}
	s->diag[s->n_diag++] = (struct netns_diag){ .ino = ino, .fd = fd };
	return fd;
}

void netns_to_json(json_t *obj, const struct netns_set *s, uint32_t ino)
{
	const char *name = netns_name(s, ino);

	if (!obj || !ino)
		return;
	json_object_set_new(obj, "netns", json_integer(ino));
	if (name)
		json_object_set_new(obj, "netns_name", json_string(name));
}
