/* SPDX-License-Identifier: GPL-2.0 */
/* Files the agent keeps (state file, socket) where no one else can tamper. */
#ifndef CONNCTL_PATHS_H
#define CONNCTL_PATHS_H

#include <stddef.h>

#define DEFAULT_SOCKET_PATH	"/run/connctl/connctl.sock"
#define DEFAULT_PIN_DIR		"/sys/fs/bpf/connctl"
#define DEFAULT_STATE_DIR	"/var/lib/connctl"
#define DEFAULT_STATE_FILE	DEFAULT_STATE_DIR "/rules.json"

/*
 * 0 when the directory that holds path, if it exists, is owned by us and
 * writable by no one else; -EPERM with why written otherwise: another user
 * could plant or replace names in it (a symlink, a socket of their own).
 */
int path_dir_private(const char *path, char *why, size_t why_len);
/*
 * The default state file of an agent pinned at pin_dir: the historic one
 * for the default pin dir, else one named after pin_dir, so two agents
 * never share one by default.
 */
void path_default_state(const char *pin_dir, char *buf, size_t len);

#endif /* CONNCTL_PATHS_H */
