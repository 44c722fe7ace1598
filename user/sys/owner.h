/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The owner of a socket: a process holding a file descriptor for it. The
 * agent closes a connection gracefully through a duplicate of that fd
 * (pidfd_getfd), so the FIN is the owner's own and its reads wake with EOF.
 */
#ifndef CONNCTL_OWNER_H
#define CONNCTL_OWNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct owner_fd {
	uint64_t	inode;
	pid_t		pid;
	int		fd;
};

struct owner_index;
struct owner_cgroup;

/*
 * A walk that fills the index (owner_index_add) faster than /proc can: the
 * kernel layer's iterator. It walks the processes idx->only lists when
 * idx->narrowed (none, if it lists none), else every process. 0, or
 * -errno and /proc is walked instead, from then on.
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
	bool		narrowed;	/* the processes in only alone */
	const pid_t	*only;
	size_t		n_only;
	struct owner_cgroup *cgroups;	/* cgroups looked in lately (owner_take_fd_in) */
	size_t		n_cgroups, cap_cgroups;
	uint64_t	walks_all;	/* walks of every process */
	uint64_t	walks_cgroup;	/* walks of one cgroup's processes */
};

/* One cgroup's processes and their sockets, from its last walk. */
struct owner_cgroup {
	uint64_t		id;		/* 0: free */
	uint64_t		used_ns;
	pid_t			*pids;
	size_t			n_pids, cap_pids;
	struct owner_index	idx;
};

/* Its entries freed; the walk it was given and its counts stay. */
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

/*
 * The same for a socket whose cgroup the kernel told (cgroup_id; 0: as
 * owner_take_fd): the processes of that cgroup are walked, and every
 * process only when none of them holds it. The owner of a connection is
 * nearly always in its socket's cgroup (a listener's connections are in
 * the listener's), so a close costs what the service holds, not the host.
 * -ENOENT without a walk when that cgroup's walk is younger than a
 * millisecond: a socket accepted since is found at the next try.
 */
int owner_take_fd_in(struct owner_index *idx, uint64_t inode, uint64_t cgroup_id,
		     uint64_t fresh_ns);
/* owner_index_warm for the sockets of one cgroup (0: every process). */
int owner_index_warm_in(struct owner_index *idx, uint64_t cgroup_id, uint64_t fresh_ns);

/* The processes holding the socket with this inode, as the index knows them. */
size_t owner_pids(const struct owner_index *idx, uint64_t inode, pid_t *pids, size_t max);
/*
 * The same as a drain would find them now: the processes of its cgroup
 * (cgroup_id; 0: every process), walked unless their walk was done at or
 * after since_ns, and every process only when none of them holds it.
 */
size_t owner_pids_in(struct owner_index *idx, uint64_t inode, uint64_t cgroup_id,
		     uint64_t since_ns, pid_t *pids, size_t max);

#endif /* CONNCTL_OWNER_H */
