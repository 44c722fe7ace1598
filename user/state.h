/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The state file: the standing rules on disk, so they come back after a
 * reboot, when the pins are gone. One JSON object per line, after a header
 * line: {"connctl_state":1,"last_id":N} (the highest id ever given out, so
 * none is given twice), then {"rule":{...},"expires_at_ms":N} per rule
 * (expires_at_ms 0: no ttl). Written whole on every change: a temporary
 * file, fsync, rename, fsync of the directory.
 */
#ifndef CONNCTL_STATE_H
#define CONNCTL_STATE_H

#include <stddef.h>
#include "rules.h"

#define DEFAULT_STATE_FILE	"/var/lib/connctl/rules.json"
#define STATE_VERSION		1

int state_save(const char *path, const struct rule_table *t);
/*
 * The rules of a state file, into specs (malloc'd, *n of them). -ENOENT if
 * there is no file; -EINVAL with "PATH:LINE: what" in msg if it is corrupt.
 */
int state_load(const char *path, struct rule_spec **specs, size_t *n,
	       uint32_t *last_id, char *msg, size_t msg_len);

#endif /* CONNCTL_STATE_H */
