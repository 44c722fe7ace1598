// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include "base/buf.h"
#include "base/log.h"
#include "sys/cgroup.h"

int cgroup2_find_root(char *buf, size_t len)
{
	char dev[256], dir[PATH_MAX], type[64];
	int ret = -ENOENT;
	FILE *f;

	f = fopen("/proc/mounts", "re");
	if (!f)
		return -errno;
	while (fscanf(f, "%255s %4095s %63s %*[^\n]\n", dev, dir, type) == 3) {
		if (!strcmp(type, "cgroup2")) {
			snprintf(buf, len, "%s", dir);
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

int cgroup2_check(const char *path)
{
	struct statfs sfs;

	if (statfs(path, &sfs))
		return -errno;
	return sfs.f_type == CGROUP2_SUPER_MAGIC ? 0 : -EMEDIUMTYPE;
}

int cgroup2_id(const char *path, uint64_t *id)
{
	struct stat st;

	/* On cgroup v2 the directory's inode number is the cgroup id. */
	if (stat(path, &st))
		return -errno;
	*id = st.st_ino;
	return 0;
}

static int is_bpffs(const char *path)
{
	struct statfs sfs;

	if (statfs(path, &sfs))
		return -errno;
	return sfs.f_type == BPF_FS_MAGIC;
}

int bpffs_prepare(const char *pin_dir)
{
	char parent[PATH_MAX];
	char *slash;
	int ret;

	snprintf(parent, sizeof(parent), "%s", pin_dir);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent) {
		pr_warn("pin dir %s: must be a directory inside a bpf filesystem", pin_dir);
		return -EINVAL;
	}
	*slash = '\0';
	ret = is_bpffs(parent);
	if (ret < 0) {
		pr_warn("pin dir %s: %s: %s", pin_dir, parent, strerror(-ret));
		return ret;
	}
	if (ret)
		return 0;
	if (mount("bpf", parent, "bpf", 0, "mode=0700")) {
		ret = -errno;
		pr_warn("%s is not a bpf filesystem and mounting one there failed: %s",
			parent, strerror(errno));
		return ret;
	}
	pr_info("mounted a bpf filesystem on %s", parent);
	return 0;
}

/* The level of a path under root: how many names below it. */
static uint32_t level_under(const char *path, const char *root)
{
	uint32_t level = 0;

	for (const char *p = path + strlen(root); *p; p++)
		if (*p == '/' && p[1] && p[1] != '/')
			level++;
	return level;
}

/* Depth first under dir (path) for the cgroup directory whose inode is id. */
static int find_cgroup(int dir_fd, char *path, size_t len, uint64_t id, int depth)
{
	size_t at = strlen(path);
	struct dirent *de;
	int ret = -ENOENT;
	DIR *dir;

	if (depth > 32)
		return -ENOENT;
	dir = fdopendir(dir_fd);
	if (!dir) {
		close(dir_fd);
		return -errno;
	}
	while (ret == -ENOENT && (de = readdir(dir))) {
		struct stat st;
		int fd;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		if (snprintf(path + at, len - at, "/%s", de->d_name) >= (int)(len - at))
			continue;
		if (st.st_ino == id)
			ret = 0;
		else if ((fd = openat(dirfd(dir), de->d_name,
				      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0)
			ret = find_cgroup(fd, path, len, id, depth + 1);
		if (ret)
			path[at] = '\0';
	}
	closedir(dir);
	return ret;
}

/* The handle type of a kernfs node (include/linux/exportfs.h): its id. */
#define FILEID_KERNFS	0xfe

/* The cgroup v2 root, opened once: handles are opened against it. */
static int cgroup2_root_fd(void)
{
	static int root_fd = -1;
	char root[PATH_MAX];

	if (root_fd >= 0)
		return root_fd;
	if (cgroup2_find_root(root, sizeof(root)))
		return -ENOENT;
	root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return root_fd >= 0 ? root_fd : -errno;
}

/* On cgroup v2 a directory's file handle is its id. */
static int cgroup2_open_id(uint64_t id)
{
	struct {
		struct file_handle	fh;
		uint64_t		id;
	} h = { .fh = { .handle_bytes = sizeof(uint64_t), .handle_type = FILEID_KERNFS },
		.id = id };
	int root = cgroup2_root_fd(), fd;

	if (root < 0)
		return root;
	fd = open_by_handle_at(root, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ESTALE ? -ENOENT : -errno;
	return fd;
}

/* Its path from its file handle, as /proc/self/fd names the directory. */
static int path_by_handle(uint64_t id, char *path, size_t len)
{
	char link[64];
	ssize_t n;
	int fd = cgroup2_open_id(id);

	if (fd < 0)
		return fd;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, len - 1);
	close(fd);
	if (n <= 0 || (size_t)n >= len - 1)
		return -ENAMETOOLONG;
	path[n] = '\0';
	return 0;
}

int cgroup2_path_of(uint64_t id, char *path, size_t len)
{
	int ret, fd;
	struct stat st;

	/* No walk of the tree where the kernel opens handles (it does here). */
	ret = path_by_handle(id, path, len);
	if (!ret || ret == -ENOENT)
		return ret;
	ret = cgroup2_find_root(path, len);
	if (ret)
		return ret;
	if (!stat(path, &st) && st.st_ino == id)
		return 0;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return find_cgroup(fd, path, len, id, 0);
}

int cgroup2_procs(uint64_t id, pid_t **pids, size_t *n, size_t *cap)
{
	int dir = cgroup2_open_id(id), fd, pid, err = 0;
	FILE *f;

	*n = 0;
	if (dir < 0)
		return dir;
	fd = openat(dir, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	close(dir);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "r");
	if (!f) {
		err = -errno;
		close(fd);
		return err;
	}
	/* 0: a process our pid namespace does not see. */
	while (!err && fscanf(f, "%d", &pid) == 1) {
		if (pid <= 0)
			continue;
		if (array_grow(pids, cap, *n, sizeof(**pids)))
			err = -ENOMEM;
		else
			(*pids)[(*n)++] = pid;
	}
	fclose(f);
	return err;
}

static bool has_dotdot(const char *s)
{
	for (const char *p = s; (p = strstr(p, "..")); p += 2)
		if ((p == s || p[-1] == '/') && (!p[2] || p[2] == '/'))
			return true;
	return false;
}

int cgroup2_resolve(const char *s, uint64_t *id, uint32_t *level, char *path, size_t len,
		    char *err, size_t err_len)
{
	char root[PATH_MAX], joined[2 * PATH_MAX + 2], real[PATH_MAX];
	unsigned long long n;
	size_t rlen;
	char end;

	/* An unset variable, not a wish for the whole host: "/" says that. */
	if (!s[0]) {
		snprintf(err, err_len, "cgroup '': empty; name a cgroup (\"/\" is the "
			 "whole cgroup v2 root)");
		return -EINVAL;
	}
	/* Only under the cgroup v2 mount: no way up and out of it. */
	if (has_dotdot(s)) {
		snprintf(err, err_len, "cgroup '%.64s': '..' has no place in a cgroup path", s);
		return -EINVAL;
	}
	if (cgroup2_find_root(root, sizeof(root))) {
		snprintf(err, err_len, "cgroup '%.64s': no cgroup v2 on this host", s);
		return -ENOENT;
	}
	if (sscanf(s, "cgroup:[%llu%c", &n, &end) == 2 && end == ']' && !s[strcspn(s, "]") + 1]) {
		if (cgroup2_path_of(n, joined, sizeof(joined))) {
			snprintf(err, err_len, "cgroup '%.64s': no such cgroup", s);
			return -ENOENT;
		}
	} else if (s[0] == '/' && strncmp(s, root, strlen(root))) {
		snprintf(joined, sizeof(joined), "%s%s", root, s);
	} else if (s[0] == '/') {
		snprintf(joined, sizeof(joined), "%s", s);
	} else {
		snprintf(joined, sizeof(joined), "%s/%s", root, s);
	}
	rlen = strlen(root);
	if (!realpath(joined, real) || cgroup2_check(real) ||
	    strncmp(real, root, rlen) || (real[rlen] && real[rlen] != '/')) {
		snprintf(err, err_len, "cgroup '%.64s': not a cgroup v2 directory (under %s)",
			 s, root);
		return -ENOENT;
	}
	if (cgroup2_id(real, id))
		return -ENOENT;
	*level = level_under(real, root);
	/* Named as under the root, as /proc/PID/cgroup names it. */
	snprintf(path, len, "%s", real[rlen] ? real + rlen : "/");
	return 0;
}

#define CGROUP_NAMES	64

const char *cgroup2_name(uint64_t id)
{
	static struct {
		uint64_t	id;
		char		path[256];
	} cache[CGROUP_NAMES];
	static unsigned int next;
	char path[PATH_MAX], root[PATH_MAX];
	size_t rlen = 0;

	for (int i = 0; i < CGROUP_NAMES; i++)
		if (cache[i].id == id)
			return cache[i].path;
	if (cgroup2_path_of(id, path, sizeof(path)) || cgroup2_find_root(root, sizeof(root)))
		snprintf(path, sizeof(path), "cgroup:[%llu]", (unsigned long long)id);
	else
		rlen = strlen(root);
	next = (next + 1) % CGROUP_NAMES;
	cache[next].id = id;
	snprintf(cache[next].path, sizeof(cache[next].path), "%s",
		 path[rlen] ? path + rlen : "/");
	return cache[next].path;
}
