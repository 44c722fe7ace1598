/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The owners of sockets from one in-kernel walk of every process's file
 * table (bpf/owners.bpf.c), for the owner indexes (sys/owner.h) of the
 * drainer, the dry runs and UDP cancels: milliseconds where reading
 * /proc/PID/fd takes a system call a fd (bench/owner_walk.sh).
 */
#ifndef CONNCTL_OWNER_WALK_H
#define CONNCTL_OWNER_WALK_H

struct datapath;
struct owner_index;
struct owner_walker;

/* Loads and attaches the iterator; NULL (said why) if it cannot. */
struct owner_walker *owner_walker_open(void);
void owner_walker_close(struct owner_walker *w);
/* The index walks with w from now on; with none, /proc. */
void owner_walker_use(struct owner_walker *w, struct owner_index *idx);
/* The same with the datapath's walker. */
void datapath_owner_index_init(struct datapath *dp, struct owner_index *idx);

#endif /* CONNCTL_OWNER_WALK_H */
