/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small HTTP/1.1 server in the agent's own loop, enough for /metrics:
 * one request a connection (Connection: close), GET and HEAD, a header of
 * 8 KiB at most, a bound on connections and on how long one may take.
 * No TLS, no library: the agent links statically.
 */
#ifndef CONNCTL_HTTP_H
#define CONNCTL_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include "base/loop.h"

struct http_reply {
	int		status;		/* 200, 404, ... */
	const char	*type;		/* Content-Type */
	char		*body;		/* malloc'd; the server frees it */
	size_t		len;
};

/* The answer to method and path (GET or HEAD), into reply; -errno: 500. */
typedef int http_handler_fn(void *ctx, const char *path, struct http_reply *reply);

struct http_conn;

struct http_server {
	struct watch		w;		/* the listening socket */
	struct loop		*loop;
	http_handler_fn		*handle;
	void			*ctx;
	struct http_conn	*conns;
	size_t			n_conns, max_conns;
	uint64_t		timeout_ns;	/* a connection's whole life, at most */
};

/* Serve on fd (listening, non-blocking), which the server then owns. */
int http_open(struct http_server *s, struct loop *loop, int fd, size_t max_conns,
	      uint64_t timeout_ns, http_handler_fn *handle, void *ctx);
void http_close(struct http_server *s);
/* Now and then: connections past their time are closed. */
void http_tick(struct http_server *s);

#endif /* CONNCTL_HTTP_H */
