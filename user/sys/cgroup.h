/* SPDX-License-Identifier: GPL-2.0 */
/* Where the cgroup v2 and bpf filesystems are on this host. */
#ifndef CONNCTL_MOUNTS_H
#define CONNCTL_MOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* First cgroup2 mount in /proc/mounts; -ENOENT if there is none. */
int cgroup2_find_root(char *buf, size_t len);
/* 0 if path is a directory of a cgroup v2 hierarchy. */
int cgroup2_check(const char *path);
/* The cgroup id the kernel reports for a cgroup v2 directory. */
int cgroup2_id(const char *path, uint64_t *id);
/*
 * A cgroup as a rule names it: a path under the cgroup v2 root (/system.slice/
 * x.service), the same with the root's mount point, or cgroup:[ID]. Gives
 * its id, its level (the root is 0) and its path under the root.
 */
int cgroup2_resolve(const char *s, uint64_t *id, uint32_t *level, char *path, size_t len,
		    char *err, size_t err_len);
/*
 * The processes in the cgroup with this id (its cgroup.procs, not its
 * children's), into *pids (*n of them, *cap allocated); -ENOENT if there
 * is no such cgroup. Found by its file handle: no walk of the tree.
 */
int cgroup2_procs(uint64_t id, pid_t **pids, size_t *n, size_t *cap);
/* The path of the cgroup with this id, by a walk of the tree; -ENOENT. */
int cgroup2_path_of(uint64_t id, char *path, size_t len);
/*
 * A name for the cgroup with this id, as under the root (/system.slice/x),
 * or cgroup:[ID] when it is not found; remembered for the next time.
 */
const char *cgroup2_name(uint64_t id);
/* Make sure the directory that holds pin_dir is on bpffs, mounting it if needed. */
int bpffs_prepare(const char *pin_dir);

#endif /* CONNCTL_MOUNTS_H */
