/* SPDX-License-Identifier: GPL-2.0 */
/* A connection's tag (sk_storage), reached through a socket fd the agent holds. */
#ifndef CONNCTL_TAGS_H
#define CONNCTL_TAGS_H

#include <stdbool.h>

struct datapath;

/*
 * A drained server's peer data held back by cgroup_skb (hold), or let
 * through again. Held before the agent's last look at the socket, so a
 * request arriving after that look never reaches the owner; let through
 * when the look finds the connection busy after all. -ENOENT: no tag.
 */
int tags_hold_peer(struct datapath *dp, int sock_fd, bool hold);

#endif /* CONNCTL_TAGS_H */
