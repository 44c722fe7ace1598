/* SPDX-License-Identifier: GPL-2.0 */
/* --rules-dir: rules kept in force from the *.json files of a directory. */
#ifndef CONNCTL_RULES_DIR_H
#define CONNCTL_RULES_DIR_H

struct agent;

/*
 * Reads the directory, puts its rules in force and follows its changes;
 * without --rules-dir, removes the rules an earlier run took from one.
 */
int rules_dir_open(struct agent *agent);
void rules_dir_close(struct agent *agent);

#endif /* CONNCTL_RULES_DIR_H */
