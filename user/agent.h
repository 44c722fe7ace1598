/* SPDX-License-Identifier: GPL-2.0 */
/* The agent's state, shared by the files that make up connctld. */
#ifndef CONNCTL_AGENT_H
#define CONNCTL_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <stddef.h>
#include <sys/socket.h>
#include <jansson.h>
#include "engine/drainer.h"
#include "kernel/loader.h"
#include "kernel/tc.h"
#include "base/log.h"
#include "front/protocol.h"
#include "engine/rule_table.h"
#include "kernel/passes.h"
#include "engine/journal.h"
#include "front/metrics.h"
#include "sys/netns.h"

#define DEFAULT_SOCKET_PATH	"/run/connctl/connctl.sock"
#define DEFAULT_PIN_DIR		"/sys/fs/bpf/connctl"

struct agent_config {
	const char	*socket_path;
	const char	*rules_dir;	/* --rules-dir; NULL: none */
	const char	*metrics_listen;	/* --metrics; NULL: off */
	const char	*pin_dir;
	char		cgroup_path[4096];
	char		state_file[4096];	/* "": none */
	char		*ifaces[MAX_IFACES];	/* --iface */
	size_t		n_ifaces;
	uint32_t	max_rules;
	gid_t		reader_gid;	/* --group: may read; (gid_t)-1: none */
	const char	*reader_group;
	uint32_t	client_idle_s;	/* --client-idle-timeout */
	uint64_t	held_ns;	/* --held-timeout */
	bool		held_pass;	/* --held-then pass */
	enum log_level	log_level;
};

struct server;
struct MHD_Daemon;

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

/*
 * A rate: up to burst at once, refilled at per_s a second. What a reader's
 * expensive request (a dry run walks every connection) draws from, so reads
 * cannot starve root's changes.
 */
struct token_bucket {
	double		tokens;
	double		per_s;
	double		burst;
	uint64_t	last_ns;	/* CLOCK_MONOTONIC of the last refill */
};

/* Takes one token; false when none is left (and *retry_ms says when one is). */
bool token_take(struct token_bucket *b, uint64_t now_ns, uint32_t *retry_ms);

/* Who sent a request, from SO_PEERCRED (and SO_PEERGROUPS). */
struct peer {
	pid_t	pid;
	uid_t	uid;
	gid_t	gid;
	bool	reader;		/* root, or in --group */
};

/* A rule.add between its request and the walk that applies it. */
struct pending_add {
	struct rule_spec	spec;
	struct peer		peer;
	void			*client;	/* where the response goes; NULL: nowhere */
	json_t			*error;		/* the response, when it failed already */
	bool			restored;	/* from the state file, not a request */
	uint32_t		slot;		/* its rule's index in the walk's batch */
};

/* The rule.adds of one turn of the event loop, applied by one walk. */
struct add_queue {
	struct pending_add	v[CONNCTL_APPLY_BATCH];
	uint32_t		n;
	struct apply_batch	batch;		/* the walk's input and output */
};

/* A standing rule of --rules-dir, and the file it came from. */
struct rule_owner {
	uint32_t	id;
	char		file[256];
};

/* --rules-dir: its inotify watch, and which file each of its rules is from. */
struct rules_dir {
	struct watch		w;
	struct agent		*agent;
	struct rule_owner	*owners;
	size_t			n_owners, cap_owners;
};

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
	uint32_t		max_clients;	/* root's clients at once */
	uint32_t		max_reader_clients;	/* everyone else's */
	struct token_bucket	reader_dry_runs;	/* dry runs of non-root readers */
	bool			stopping;
	struct add_queue	adds;
	struct rules_dir	rules_dir;
	struct netns_set	netns;		/* --netns */
	struct metrics		metrics;
	struct MHD_Daemon	*metrics_daemon;	/* --metrics */
	struct sockaddr_storage	metrics_addr;
	uint64_t		metrics_retry_ns;	/* its port was taken: try then; 0: no */
	struct watch		metrics_watch;
	struct state_journal	journal;	/* the state file, and what it lags */
	uint64_t		state_logged_ns;	/* last warning of a failing one */
	uint64_t		lost_logged_ns;	/* last warning of events lost */
};

/*
 * handlers.c: carry out one validated request; returns the response, or NULL
 * for a rule.add, whose response agent_apply_adds gives to server_deliver.
 */
json_t *agent_handle(struct agent *agent, const struct request *req,
		     const struct peer *peer, void *client);
/* handlers.c: the answer to a peer that may not even read. */
json_t *agent_refuse(const struct agent *agent, const struct peer *peer);
/* handlers.c: the queued rule.adds, applied by one walk; their responses out. */
int agent_apply_adds(struct agent *agent);
/* handlers.c: no room for another rule.add before agent_apply_adds. */
bool agent_adds_full(const struct agent *agent);
/* handlers.c: a rule of --rules-dir, queued as a rule.add with no client; its id, 0: refused. */
uint32_t agent_queue_add(struct agent *agent, const struct rule_spec *spec);
/* handlers.c: a standing rule removed, for reason (the event says it). */
void agent_remove_rule(struct agent *agent, uint32_t id, enum rule_removal why);
/* handlers.c: client is gone: its queued responses go nowhere. */
void agent_forget_client(struct agent *agent, const void *client);
/*
 * handlers.c: at start, when the pins hold no rules (after a reboot), bring
 * back those of the state file; when they do, rewrite the file from them.
 */
int agent_restore_rules(struct agent *agent);
/* handlers.c: the turn's changes of the rules to the state file, durably. */
void agent_save_state(struct agent *agent);
/* handlers.c: drop rules whose ttl ran out; returns ms to the next expiry or -1. */
int agent_expire_rules(struct agent *agent);

/*
 * A sock_diag socket for a connection's namespace (its tuple's netns_ino);
 * -ENOENT when that namespace is gone.
 */
static inline int agent_diag_fd(struct agent *agent, uint32_t netns_ino)
{
	return netns_diag_fd(&agent->netns, netns_ino, agent->diag_fd);
}

/* server.c: the control socket. */
int server_open(struct agent *agent, const char *path);
/*
 * server.c: an event (its reference taken) to the clients watching events
 * of rule_id; a watcher that reads too slowly loses events, and is told.
 * server_watching first: an event nobody watches is not worth building.
 */
bool server_watching(const struct agent *agent, uint32_t rule_id);
void server_publish(struct agent *agent, uint32_t rule_id, json_t *event);
/* server.c: a deferred response, to the client agent_handle was given. */
void server_deliver(void *client, json_t *resp);
/*
 * server.c: end of a turn of the event loop: queued rule.adds applied, the
 * state file written, then the responses sent; true when requests remain
 * buffered (the loop should not wait for more input).
 */
bool server_commit(struct agent *agent);
/* server.c: close clients silent for --client-idle-timeout; ms to the next check. */
void server_expire_idle(struct agent *agent);
void server_close(struct agent *agent);

/* events.c */
int events_open(struct agent *agent);
int events_poll(struct agent *agent);
void events_close(struct agent *agent);

#endif /* CONNCTL_AGENT_H */
