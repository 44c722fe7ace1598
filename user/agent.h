/* SPDX-License-Identifier: GPL-2.0 */
/* The agent's state, shared by the files that make up connctld. */
#ifndef CONNCTL_AGENT_H
#define CONNCTL_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <stddef.h>
#include <jansson.h>
#include "drain.h"
#include "loader.h"
#include "tc.h"
#include "log.h"
#include "protocol.h"
#include "rules.h"

#define DEFAULT_SOCKET_PATH	"/run/connctl/connctl.sock"
#define DEFAULT_PIN_DIR		"/sys/fs/bpf/connctl"

struct agent_config {
	const char	*socket_path;
	const char	*pin_dir;
	char		cgroup_path[4096];
	char		state_file[4096];	/* "": none */
	char		*ifaces[MAX_IFACES];	/* --iface */
	size_t		n_ifaces;
	uint32_t	max_rules;
	gid_t		reader_gid;	/* --group: may read; (gid_t)-1: none */
	const char	*reader_group;
	uint32_t	client_idle_s;	/* --client-idle-timeout */
	enum log_level	log_level;
};

struct server;

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* Something the event loop watches: every epoll entry points to one. */
struct watch {
	int	fd;
	void	(*handle)(struct watch *w, uint32_t events);
};

int watch_add(int epoll_fd, struct watch *w, uint32_t events);
int watch_mod(int epoll_fd, struct watch *w, uint32_t events);
void watch_del(int epoll_fd, struct watch *w);

struct agent {
	struct agent_config	cfg;
	struct datapath		dp;
	struct rule_table	rules;
	struct ring_buffer	*events;
	int			diag_fd;	/* NETLINK_SOCK_DIAG, for SOCK_DESTROY */
	int			epoll_fd;
	struct server		*server;
	struct drainer		drain;
	struct watch		drain_watch;	/* its sweep timer */
	uint32_t		max_clients;
	bool			stopping;
	bool			state_dirty;	/* the state file lags the rules */
};

/* Who sent a request, from SO_PEERCRED (and SO_PEERGROUPS). */
struct peer {
	pid_t	pid;
	uid_t	uid;
	gid_t	gid;
	bool	reader;		/* root, or in --group */
};

/* handlers.c: carry out one validated request; returns the response. */
json_t *agent_handle(struct agent *agent, const struct request *req,
		     const struct peer *peer);
/*
 * handlers.c: at start, when the pins hold no rules (after a reboot), bring
 * back those of the state file; when they do, rewrite the file from them.
 */
int agent_restore_rules(struct agent *agent);
/* handlers.c: write the state file if the rules changed since the last write. */
void agent_save_state(struct agent *agent);
/* handlers.c: drop rules whose ttl ran out; returns ms to the next expiry or -1. */
int agent_expire_rules(struct agent *agent);

/* server.c: the control socket. */
int server_open(struct agent *agent, const char *path);
/* server.c: close clients silent for --client-idle-timeout; ms to the next check. */
void server_expire_idle(struct agent *agent);
void server_close(struct agent *agent);

/* events.c */
int events_open(struct agent *agent);
int events_poll(struct agent *agent);
void events_close(struct agent *agent);

#endif /* CONNCTL_AGENT_H */
