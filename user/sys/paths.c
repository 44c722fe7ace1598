// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sys/paths.h"

int path_dir_private(const char *path, char *why, size_t why_len)
{
	char dir[PATH_MAX];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	if (stat(dirname(dir), &st)) {
		if (errno == ENOENT)
			return 0;	/* we create it, ours alone */
		snprintf(why, why_len, "%s: %s", dir, strerror(errno));
		return -errno;
	}
	if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		snprintf(why, why_len, "its directory %s (owner uid %u, mode %04o) may be "
			 "written by others, who could replace it: use a directory only "
			 "root may write", dir, (unsigned int)st.st_uid,
			 (unsigned int)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

void path_default_state(const char *pin_dir, char *buf, size_t len)
{
	char name[NAME_MAX - 5];
	size_t n = 0;

	if (!strcmp(pin_dir, DEFAULT_PIN_DIR)) {
		snprintf(buf, len, "%s", DEFAULT_STATE_FILE);
		return;
	}
	/* /sys/fs/bpf/demo -> sys-fs-bpf-demo */
	for (const char *p = pin_dir; *p && n < sizeof(name) - 1; p++) {
		if (*p == '/') {
			if (n && name[n - 1] != '-' && p[1])
				name[n++] = '-';
			continue;
		}
		name[n++] = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-' ?
			    *p : '_';
	}
	name[n] = '\0';
	snprintf(buf, len, "%s/%s.json", DEFAULT_STATE_DIR, name);
}
