// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stdbool.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "base/clock.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/parse.h"
#include "sys/netns.h"
#include "sys/sock_diag.h"

#define NETNS_RUN_DIR	"/var/run/netns"

/*
 * Where a network namespace may be named: /proc/PID/ns/net (PID digits or
 * "self") or a name under /var/run/netns or /run/netns. Nothing else is
 * opened, so a request cannot make the agent open (or probe) any file.
 */
static bool netns_path_allowed(const char *s)
{
	static const char *const run_dirs[] = { "/var/run/netns/", "/run/netns/" };
	const char *p;

	if (!strncmp(s, "/proc/", 6)) {
		p = s + 6;
		if (!strncmp(p, "self/", 5)) {
			p += 5;
		} else {
			if (*p < '1' || *p > '9')
				return false;
			while (*p >= '0' && *p <= '9')
				p++;
			if (*p++ != '/')
				return false;
		}
		return !strcmp(p, "ns/net");
	}
	for (size_t i = 0; i < sizeof(run_dirs) / sizeof(run_dirs[0]); i++) {
		size_t len = strlen(run_dirs[i]);

		if (strncmp(s, run_dirs[i], len))
			continue;
		p = s + len;
		return *p && *p != '.' && !strchr(p, '/');
	}
	return false;
}

int netns_parse(const char *s, uint32_t *ino, char *err)
{
	size_t len = strlen(s);
	struct stat st;
	uint64_t n;
	int fd;

	if (!strncmp(s, "net:[", 5) && len > 6 && s[len - 1] == ']') {
		if (parse_uint(s + 5, len - 6, UINT32_MAX, &n) || !n) {
			snprintf(err, ERRLEN, "netns '%.64s': not a namespace inode", s);
			return -EINVAL;
		}
		*ino = (uint32_t)n;
		return 0;
	}
	if (!netns_path_allowed(s)) {
		snprintf(err, ERRLEN, "netns '%.64s': expected /var/run/netns/NAME, "
			 "/proc/PID/ns/net or net:[INODE]", s);
		return -EINVAL;
	}
	/*
	 * /proc/PID/ns/net is a magic link to the namespace itself, and the
	 * names under /var/run/netns are bind mounts: no link to follow there.
	 */
	fd = open(s, O_RDONLY | O_CLOEXEC | O_NONBLOCK |
		  (s[1] == 'p' ? 0 : O_NOFOLLOW));
	if (fd < 0) {
		snprintf(err, ERRLEN, "netns '%.64s': %s", s, strerror(errno));
		return -EINVAL;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET) {
		close(fd);
		snprintf(err, ERRLEN, "netns '%.64s': not a network namespace", s);
		return -EINVAL;
	}
	close(fd);
	*ino = (uint32_t)st.st_ino;
	return 0;
}

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
	s->own_diag_fd = sock_diag_open();
	if (s->own_diag_fd < 0) {
		pr_warn("cannot open a sock_diag socket: %s", strerror(-s->own_diag_fd));
		return s->own_diag_fd;
	}
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
	if (s->own_diag_fd >= 0)
		close(s->own_diag_fd);
	s->own_diag_fd = -1;
	s->v = NULL;
	s->diag = NULL;
	s->n = s->n_diag = 0;
}

const struct netns *netns_find(const struct netns_set *s, uint32_t ino)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].ino == ino)
			return &s->v[i];
	return NULL;
}

static void add(struct netns_set *s, uint32_t ino, const char *name, const char *path)
{
	if (netns_find(s, ino))
		return;
	if (array_grow(&s->v, &s->cap, s->n, sizeof(*s->v)))
		return;
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
		if (sscanf(link, "net:[%lu]", &ino) != 1 || netns_find(s, (uint32_t)ino))
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
		if (netns_find(s, s->diag[i].ino))
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

/*
 * A namespace made where net.ipv4.tcp_child_ehash_entries was 0 (the
 * default) shares the host's table, and reads its size as negative there.
 * /proc/sys/net speaks for the namespace of whoever opens it.
 */
int netns_tcp_table_shared(struct netns_set *s, const struct netns *ns)
{
	bool away = ns && ns->ino != s->own_ino;
	char buf[32];
	ssize_t n = -1;
	int fd, err;

	if (away) {
		err = netns_enter(s, ns);
		if (err)
			return err;
	}
	fd = open("/proc/sys/net/ipv4/tcp_ehash_entries", O_RDONLY | O_CLOEXEC);
	err = fd < 0 ? -errno : 0;
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		if (n < 0)
			err = -errno;
		close(fd);
	}
	if (away)
		netns_leave(s);
	if (err)
		return err;
	return n > 0 && buf[0] == '-';
}

const char *netns_name(const struct netns_set *s, uint32_t ino)
{
	const struct netns *ns = netns_find(s, ino);

	return ns ? ns->name : NULL;
}

int netns_diag_fd(struct netns_set *s, uint32_t ino)
{
	const struct netns *ns = NULL;
	int fd, err;

	if (!ino || ino == s->own_ino)
		return s->own_diag_fd;
	for (size_t i = 0; i < s->n_diag; i++)
		if (s->diag[i].ino == ino)
			return s->diag[i].fd;
	netns_scan(s, NSEC_PER_SEC);
	ns = netns_find(s, ino);
	if (!ns)
		return -ENOENT;
	err = netns_enter(s, ns);
	if (err)
		return err;
	fd = sock_diag_open();
	netns_leave(s);
	if (fd < 0)
		return fd;
	if (array_grow(&s->diag, &s->cap_diag, s->n_diag, sizeof(*s->diag))) {
		close(fd);
		return -ENOMEM;
	}
	s->diag[s->n_diag++] = (struct netns_diag){ .ino = ino, .fd = fd };
	return fd;
}
