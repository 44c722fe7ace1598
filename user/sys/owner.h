/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The owner of a socket: a process holding a file descriptor for it. The
 * agent closes a connection gracefully through a duplicate of that fd
 * (pidfd_getfd), so the FIN is the owner's own and its reads wake with EOF.
 */
#ifndef CONNCTL_OWNER_H
#define CONNCTL_OWNER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct owner_fd {
	uint64_t	inode;
	pid_t		pid;
	int		fd;
};

struct owner_index;

/*
 * A walk that fills the index (owner_index_add) faster than /proc can: the
 * kernel layer's iterator. 0, or -errno and /proc is walked instead, from
 * then on.
 */
typedef int owner_walk_fn(void *ctx, struct owner_index *idx);

/* Socket inodes of every process, from one walk, sorted by inode. */
struct owner_index {
	struct owner_fd	*v;
	size_t		n;
	size_t		cap;
	uint64_t	built_ns;	/* CLOCK_MONOTONIC; 0: never */
	owner_walk_fn	*walk;		/* NULL: /proc */
	void		*walk_ctx;
};

/* Its entries freed; the walk it was given stays, to build it again. */
void owner_index_free(struct owner_index *idx);
/* One socket fd of a process, from a walk: 0 or -ENOMEM. */
int owner_index_add(struct owner_index *idx, uint64_t inode, pid_t pid, int fd);
/*
 * Walk the owners now unless the index is younger than fresh_ns, so that the
 * connections a rule just tagged are found at once when they are ready.
 */
int owner_index_warm(struct owner_index *idx, uint64_t fresh_ns);
/*
 * A duplicate of an fd that holds the socket with this inode, or -ENOENT if
 * no process holds one, or -errno. The index is rebuilt on a miss unless it
 * is younger than fresh_ns: a batch of closes shares one walk of /proc.
 */
int owner_take_fd(struct owner_index *idx, uint64_t inode, uint64_t fresh_ns);

/* The processes holding the socket with this inode, as the index knows them. */
size_t owner_pids(const struct owner_index *idx, uint64_t inode, pid_t *pids, size_t max);

#endif /* CONNCTL_OWNER_H */
