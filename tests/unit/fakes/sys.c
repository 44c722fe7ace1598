// SPDX-License-Identifier: GPL-2.0
/*
 * The host, faked for the drainer's unit test: sock_diag answers what the
 * test set, or what the owner's real TCP socket says of itself (tcp_info,
 * queues), and a socket's owner is that socket of the test's.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include "fakes.h"

struct fake_sys fake_sys;

int netns_diag_fd(struct netns_set *s, uint32_t ino)
{
	return 0;
}

int sock_diag_lookup(int fd, const struct connctl_tuple *t, uint64_t cookie,
		     struct sock_diag_info *info)
{
	socklen_t len = sizeof(info->tcp_info);
	int q = 0;

	if (fake_sys.gone)
		return -ENOENT;
	memset(info, 0, sizeof(*info));
	info->inode = fake_sys.owner_fd >= 0 ? 1 : 0;
	info->state = 1;	/* established */
	/* What sock_diag tells of the owner's real socket. */
	if (fake_sys.owner_fd >= 0 &&
	    !getsockopt(fake_sys.owner_fd, IPPROTO_TCP, TCP_INFO, &info->tcp_info, &len)) {
		info->has_tcp_info = true;
		info->state = info->tcp_info.tcpi_state;
		if (!ioctl(fake_sys.owner_fd, SIOCINQ, &q))
			info->rqueue = (uint32_t)q;
		if (!ioctl(fake_sys.owner_fd, SIOCOUTQ, &q))
			info->wqueue = (uint32_t)q;
	}
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

int owner_take_fd_in(struct owner_index *idx, uint64_t inode, uint64_t cgroup_id,
		     uint64_t fresh_ns)
{
	return owner_take_fd(idx, inode, fresh_ns);
}

int owner_index_warm_in(struct owner_index *idx, uint64_t cgroup_id, uint64_t fresh_ns)
{
	return 0;
}

int owner_index_warm(struct owner_index *idx, uint64_t fresh_ns)
{
	return 0;
}

void owner_index_free(struct owner_index *idx)
{
}
