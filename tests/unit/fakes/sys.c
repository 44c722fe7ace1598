// SPDX-License-Identifier: GPL-2.0
/*
 * The host, faked for the drainer's unit test: sock_diag answers what the
 * test set, and a socket's owner is a real TCP socket of the test's.
 */
#include <errno.h>
#include <unistd.h>
#include "fakes.h"

struct fake_sys fake_sys;

int netns_diag_fd(struct netns_set *s, uint32_t ino)
{
	return 0;
}

int sock_diag_lookup(int fd, const struct connctl_tuple *t, uint64_t cookie,
		     struct sock_diag_info *info)
{
	if (fake_sys.gone)
		return -ENOENT;
	info->inode = fake_sys.owner_fd >= 0 ? 1 : 0;
	info->state = 1;	/* established */
	return 0;
}

int sock_diag_destroy(int fd, const struct connctl_tuple *t, uint64_t cookie)
{
	if (fake_sys.gone)
		return -ENOENT;
	fake_sys.destroyed++;
	return 0;
}

int owner_take_fd(struct owner_index *idx, uint64_t inode, uint64_t fresh_ns)
{
	return fake_sys.owner_fd >= 0 ? dup(fake_sys.owner_fd) : -ENOENT;
}

int owner_index_warm(struct owner_index *idx, uint64_t fresh_ns)
{
	return 0;
}

void owner_index_free(struct owner_index *idx)
{
}
