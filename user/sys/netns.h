/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --netns: the network namespaces the agent acts in. A tcp iterator walks
 * the namespace of the task that creates it, and a sock_diag socket speaks
 * for the namespace it was opened in, so the agent enters each namespace
 * (setns) to create them, and comes back to its own.
 */
#ifndef CONNCTL_NETNS_H
#define CONNCTL_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NETNS_NAME_LEN		64
#define NETNS_PATHS_MAX		64

struct netns {
	uint32_t	ino;
	char		name[NETNS_NAME_LEN];	/* NAME of /var/run/netns, "pid N", a path */
	char		path[288];		/* what to open to enter it */
};

/* A sock_diag socket opened in a namespace not the agent's own. */
struct netns_diag {
	uint32_t	ino;
	int		fd;
};

struct netns_set {
	bool			all;		/* --netns all */
	const char		*paths[NETNS_PATHS_MAX];	/* --netns PATH */
	size_t			n_paths;
	uint32_t		own_ino;
	int			own_fd;		/* to come back to */
	int			own_diag_fd;	/* NETLINK_SOCK_DIAG here, for SOCK_DESTROY */
	struct netns		*v;		/* own first */
	size_t			n, cap;
	uint64_t		scanned_ns;	/* CLOCK_MONOTONIC of the last scan */
	struct netns_diag	*diag;
	size_t			n_diag, cap_diag;
};

/*
 * A network namespace as a rule names it: a path to one (/var/run/netns/NAME,
 * /proc/PID/ns/net), opened to check it is one, or net:[INODE].
 */
int netns_parse(const char *s, uint32_t *ino, char *err);
/* The inode of the agent's own network namespace: how rules name one. */
uint32_t netns_self_ino(void);
int netns_init(struct netns_set *s);
void netns_free(struct netns_set *s);
/* Only the agent's own namespace, unless --netns was given. */
static inline bool netns_many(const struct netns_set *s)
{
	return s->all || s->n_paths;
}
/* Find the namespaces again if the last look is older than fresh_ns. */
int netns_scan(struct netns_set *s, uint64_t fresh_ns);
/* Into ns (-ENOENT if it is gone), and back. */
int netns_enter(struct netns_set *s, const struct netns *ns);
void netns_leave(struct netns_set *s);
/*
 * 1 when the namespace's TCP hash table is the host's, shared with others
 * (every walk of it visits every bucket and socket of the host); 0 when it
 * has its own; -errno when it cannot say (gone, or a kernel before 6.1).
 */
int netns_tcp_table_shared(struct netns_set *s, const struct netns *ns);
/* The namespace with this inode, or NULL if it is not one the agent acts in. */
const struct netns *netns_find(const struct netns_set *s, uint32_t ino);
/* A name for the namespace with this inode, or NULL if it is not known. */
const char *netns_name(const struct netns_set *s, uint32_t ino);
/*
 * A sock_diag socket for the namespace with this inode (a connection's
 * tuple's netns_ino): the agent's own, else one opened there (kept until
 * the namespace is gone); -ENOENT when that namespace is gone.
 */
int netns_diag_fd(struct netns_set *s, uint32_t ino);


#endif /* CONNCTL_NETNS_H */
