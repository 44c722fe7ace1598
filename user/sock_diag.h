/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Destroying one known socket through NETLINK_SOCK_DIAG: a hash lookup in the
 * kernel, where an iterator pass would walk every socket of the namespace.
 */
#ifndef CONNCTL_SOCK_DIAG_H
#define CONNCTL_SOCK_DIAG_H

#include <stdint.h>
#include "connctl.h"

int sock_diag_open(void);
/* 0, or -ENOENT if the socket is gone (or its cookie differs), or -errno. */
int sock_diag_destroy(int fd, const struct connctl_tuple *t, uint64_t cookie);

#endif /* CONNCTL_SOCK_DIAG_H */
