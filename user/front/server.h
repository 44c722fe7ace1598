/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control socket: a Unix stream socket, one JSON request a line, one
 * response a line, watchers of events. Non-blocking throughout, so a slow or
 * stuck client never holds up the others. Responses leave when the loop's
 * turn flushes them, after what they changed is on disk.
 */
#ifndef CONNCTL_SERVER_H
#define CONNCTL_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "base/loop.h"
#include "engine/bus.h"

struct dispatch;
struct server;

struct server_config {
	const char	*path;
	uint32_t	max_clients;		/* root's, at once */
	uint32_t	max_reader_clients;	/* everyone else's */
	gid_t		reader_gid;		/* --group: may read; (gid_t)-1: none */
	uint32_t	client_idle_s;		/* 0: never closed for idleness */
};

/* Last at start: a client that finds the socket finds an agent ready to serve. */
int server_open(struct server **out, const struct server_config *cfg, struct loop *loop,
		struct dispatch *dispatch, struct bus *bus);
void server_close(struct server *s);
/* Serve the requests still buffered (held behind adds, or over the output mark). */
bool server_serve_buffered(struct server *s);
/* Send what is queued; drop the clients that are done. */
void server_flush(struct server *s);
/* Now and then: idle clients closed, a pause in accepting ended. */
void server_tick(struct server *s);

#endif /* CONNCTL_SERVER_H */
