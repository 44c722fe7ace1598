/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --metrics: the agent's counters in the Prometheus text format, served at
 * /metrics by a small HTTP server in the agent's own event loop (no thread:
 * the handler reads the engines' state as the loop does).
 */
#ifndef CONNCTL_METRICS_H
#define CONNCTL_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "base/loop.h"
#include "front/http.h"

struct counters;
struct datapath;
struct drainer;
struct request_counters;
struct rulebook;

struct metrics_http {
	/* What it reads, set before metrics_open. */
	const struct counters		*counters;
	const struct request_counters	*requests;
	const struct rulebook		*rb;
	const struct datapath		*dp;
	const struct drainer		*drainer;
	const struct owner_index	*dry_run_owners;
	size_t				n_ifaces;
	/* Its own. */
	struct loop			*loop;
	const char			*listen;	/* --metrics; NULL: off */
	struct sockaddr_storage		addr;
	struct http_server		http;
	bool				serving;
	uint64_t			retry_ns;	/* its port was taken: try then; 0: no */
	uint64_t			scrapes;
};

/*
 * "ADDR:PORT", "[ADDR6]:PORT" or "PORT" (loopback) to listen on. A port that
 * cannot be had now is tried again later: only a bad address fails.
 */
int metrics_open(struct metrics_http *mh, struct loop *loop, const char *listen);
void metrics_close(struct metrics_http *mh);
/* Now and then: scrapers that went quiet are timed out, a taken port retried. */
void metrics_tick(struct metrics_http *mh);
/* The text /metrics serves (malloc'd). */
char *metrics_text(struct metrics_http *mh, size_t *len);

#endif /* CONNCTL_METRICS_H */
