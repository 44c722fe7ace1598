// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include "log.h"
#include "mounts.h"

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
