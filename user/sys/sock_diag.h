/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One known socket through NETLINK_SOCK_DIAG, destroyed or looked up: a hash
 * lookup in the kernel, where an iterator pass would walk every socket of the
 * namespace.
 */
#ifndef CONNCTL_SOCK_DIAG_H
#define CONNCTL_SOCK_DIAG_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/tcp.h>	/* tcp_info with byte counters */
#include "connctl.h"

struct sock_diag_info {
	uint64_t	inode;	/* 0: no file holds it (orphaned, or not accepted) */
	uint8_t		state;	/* TCP_* */
	uint32_t	rqueue;	/* TCP: received, not read by the owner yet */
	uint32_t	wqueue;	/* TCP: written, not acknowledged yet */
	uint64_t	cgroup_id;	/* the socket's cgroup v2; 0: not told */
	/* TCP, when has_tcp_info: the kernel's tcp_info, as far as it sent it. */
	bool		has_tcp_info;
	struct tcp_info	tcp_info;
};

int sock_diag_open(void);
/* 0, or -ENOENT if the socket is gone (or its cookie differs), or -errno. */
int sock_diag_destroy(int fd, const struct connctl_tuple *t, uint64_t cookie);
/* Same returns: the socket's inode and state. */
int sock_diag_lookup(int fd, const struct connctl_tuple *t, uint64_t cookie,
		     struct sock_diag_info *info);

#endif /* CONNCTL_SOCK_DIAG_H */
