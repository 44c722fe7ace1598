/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The state file: the standing rules on disk, so they come back after a
 * reboot, when the pins are gone. One JSON object per line, after a header
 * line {"connctl_state":3,"last_id":N} (the highest id given out when the
 * file was written whole, so none is given twice), then a journal:
 *   {"rule":{...},"expires_at_ms":N}	a rule added (expires_at_ms 0: no ttl)
 *   {"del":ID}				a rule removed
 *   {"last_id":N}			an id given to a `once` rule
 * Blank lines end the file: changes are written over them, one write and
 * one fdatasync a turn of the event loop, so a change costs the size of its
 * line, not of the whole table, and no change of the file's size. When the
 * journal outgrows the rules it describes, the file is written whole again:
 * a temporary file, fsync, rename, fsync of the directory. Version 3 is
 * version 2 with the blank lines (an agent that reads only up to 2 says so
 * at the header, rather than stumble on them); versions 1 (rules only) and
 * 2 read as 3.
 */
#ifndef CONNCTL_STATE_H
#define CONNCTL_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "engine/rule_spec.h"

#define STATE_VERSION		3

/* The file as the agent writes it, and the changes not in it yet. */
struct state_journal {
	int	fd;		/* open for writing; -1: write it whole first */
	size_t	end;		/* where the next change goes: blank lines from here */
	size_t	size;		/* the file's size */
	int	lock_fd;	/* flock on PATH.lock: one agent a state file */
	size_t	lines;		/* in the file */
	char	*pending;	/* lines to append */
	size_t	pending_len;
	size_t	pending_cap;
	size_t	pending_lines;
	bool	dirty;		/* something to commit */
	bool	rewrite;	/* the next commit writes the file whole */
	bool	failed;		/* out of memory noting a change: rewrite */
};

/* The standing rules, as the file is written whole from them. */
struct rule_source {
	size_t		n;
	uint32_t	last_id;	/* the highest id given out */
	/* The i-th rule, 0 <= i < n; -errno when it cannot be had. */
	int		(*get)(void *ctx, size_t i, struct rule_spec *spec);
	void		*ctx;
};

void state_journal_init(struct state_journal *j);
/*
 * Take the state file for this agent alone (a lock on PATH.lock, held until
 * state_journal_close); -EWOULDBLOCK when another agent holds it.
 */
int state_lock(struct state_journal *j, const char *path);
void state_journal_close(struct state_journal *j);
void state_note_add(struct state_journal *j, const struct rule_spec *spec);
void state_note_del(struct state_journal *j, uint32_t id);
void state_note_last_id(struct state_journal *j, uint32_t id);
/* The file no longer follows the table (it was restored, or adopted). */
void state_note_rewrite(struct state_journal *j);
/*
 * The noted changes to path, durably; the whole table when it is time. On
 * failure nothing is lost from memory: the next commit writes the file
 * whole, and until one succeeds every commit fails again.
 */
int state_commit(struct state_journal *j, const char *path, const struct rule_source *rules);

/* What a state file holds, once its journal is played. */
struct state_loaded {
	struct rule_spec	*specs;	/* malloc'd, sorted by id */
	size_t			n;
	uint32_t		last_id;
	bool			torn;	/* the last line was cut short, and dropped */
};

/*
 * The rules of a state file. -ENOENT if there is no file; -EINVAL with
 * "PATH:LINE: what" in msg if it is corrupt. A last line without its end
 * is a change that was being written when the machine stopped, and never
 * acknowledged: it is dropped, with torn set and msg saying where.
 */
int state_load(const char *path, struct path_pool *paths, struct state_loaded *out, char *msg,
	       size_t msg_len);

#endif /* CONNCTL_STATE_H */
