/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The connection index: every TCP connection of the agent's namespaces,
 * kept from the kernel's connection log (bpf/conns.bpf.c) after one
 * listing of each namespace. A pass asks it which namespaces hold a
 * connection its rules match, and walks only those: a rule that matches
 * nothing walks nothing.
 */
#ifndef CONNCTL_CONNS_H
#define CONNCTL_CONNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "connctl.h"

struct conn_index;
struct bpf_object_open_opts;

/* Loads and attaches the tracepoint; all_netns: log every namespace (--netns all). */
int conn_index_open(struct conn_index **out, const struct bpf_object_open_opts *opts,
		    bool all_netns);
/* The table alone, no kernel side: for tests. NULL without memory. */
struct conn_index *conn_index_new(bool all_netns);
void conn_index_free(struct conn_index *ci);
/* Readable when the log is an eighth full. */
int conn_index_fd(const struct conn_index *ci);
/*
 * Takes in what the log holds. -ESTALE when records were lost: the index
 * is then emptied and every namespace must be listed again.
 */
int conn_index_read(struct conn_index *ci);
/*
 * During a pass that may close more connections than the log holds: what
 * the log holds now is set aside, for the next conn_index_read to take in
 * first. The index itself is left as it is, so a match's slots stay valid.
 */
void conn_index_stash(struct conn_index *ci);
bool conn_index_listed(const struct conn_index *ci, uint32_t netns_ino);
/*
 * Before listing a namespace: the kernel logs it from now on (its records
 * read after the listing correct it), and a log read before any listing
 * is dropped, the listings to come hold what it said.
 */
int conn_index_begin_listing(struct conn_index *ci, uint32_t netns_ino);
int conn_index_add(struct conn_index *ci, uint64_t cookie, const struct connctl_tuple *t);
int conn_index_end_listing(struct conn_index *ci, uint32_t netns_ino);
/* A connection closed (what a log record says). */
void conn_index_remove(struct conn_index *ci, uint64_t cookie);
/* Connections in the index; the slots it holds (its memory). */
size_t conn_index_count(const struct conn_index *ci);
size_t conn_index_capacity(const struct conn_index *ci);
/*
 * Gives back the memory of a peak now closed (conn_index_read does, after
 * each read). It renumbers the slots: a match's slots are void after it.
 */
int conn_index_settle(struct conn_index *ci);

/*
 * Where the rules of a pass match something: the namespaces, and in each
 * the connections matched, unless there are more than CONN_DIRECT_MAX or a
 * rule there tags connections (drain, cancel), which only a walk can do.
 */
#define CONN_DIRECT_MAX		256

struct netns_hit {
	uint32_t	ino;
	uint32_t	count;	/* connections matched, a repeat for each rule */
	bool		walk;	/* too many, or a rule only a walk applies */
	/* Where no walk is due: its connections, slots[first] on, n_slots of them. */
	size_t		first, n_slots;
};

struct netns_hits {
	struct netns_hit	*v;
	size_t			n, cap;
	uint32_t		*slots;	/* the connections matched, by namespace, each once */
	size_t			n_slots, cap_slots;
};

int conn_index_match(const struct conn_index *ci, const struct connctl_rule *rules,
		     size_t n_rules, struct netns_hits *hits);
const struct netns_hit *netns_hits_find(const struct netns_hits *hits, uint32_t ino);
void netns_hits_free(struct netns_hits *hits);
/* A connection the match listed, by its slot. */
const struct connctl_tuple *conn_index_tuple(const struct conn_index *ci, uint32_t slot,
					     uint64_t *cookie);

#endif /* CONNCTL_CONNS_H */
