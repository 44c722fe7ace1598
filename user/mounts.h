/* SPDX-License-Identifier: GPL-2.0 */
/* Where the cgroup v2 and bpf filesystems are on this host. */
#ifndef CONNCTL_MOUNTS_H
#define CONNCTL_MOUNTS_H

#include <stddef.h>
#include <stdint.h>

/* First cgroup2 mount in /proc/mounts; -ENOENT if there is none. */
int cgroup2_find_root(char *buf, size_t len);
/* 0 if path is a directory of a cgroup v2 hierarchy. */
int cgroup2_check(const char *path);
/* The cgroup id the kernel reports for a cgroup v2 directory. */
int cgroup2_id(const char *path, uint64_t *id);
/* Make sure the directory that holds pin_dir is on bpffs, mounting it if needed. */
int bpffs_prepare(const char *pin_dir);

#endif /* CONNCTL_MOUNTS_H */
