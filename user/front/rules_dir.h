/* SPDX-License-Identifier: GPL-2.0 */
/* --rules-dir: rules kept in force from the *.json files of a directory. */
#ifndef CONNCTL_RULES_DIR_H
#define CONNCTL_RULES_DIR_H

#include <stddef.h>
#include <stdint.h>
#include "base/loop.h"

struct rulebook;

/* A standing rule of --rules-dir, and the file it came from. */
struct rule_owner {
	uint32_t	id;
	char		file[256];
};

/* Its inotify watch, and which file each of its rules is from. */
struct rules_dir {
	struct watch		w;
	struct rulebook		*rb;
	const char		*path;
	struct rule_owner	*owners;
	size_t			n_owners, cap_owners;
};

/*
 * Reads the directory, puts its rules in force and follows its changes;
 * without one (path NULL), removes the rules an earlier run took from one.
 */
int rules_dir_open(struct rules_dir *rd, struct loop *loop, struct rulebook *rb,
		   const char *path);
void rules_dir_close(struct rules_dir *rd);

#endif /* CONNCTL_RULES_DIR_H */
