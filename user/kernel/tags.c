// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "base/clock.h"
#include "connctl.h"
#include "kernel/loader.h"
#include "kernel/tags.h"
#include "sockops.skel.h"

/*
 * Read, changed, written back: a field the kernel changes in between (a
 * turn counted) is lost, which only delays a judgement. The hold itself is
 * the agent's alone to end.
 */
int tags_hold_peer(struct datapath *dp, int sock_fd, bool hold)
{
	int map = bpf_map__fd(dp->sockops->maps.sk_tags);
	struct connctl_sk_tag tag;

	if (bpf_map_lookup_elem(map, &sock_fd, &tag))
		return -errno;
	if (tag.action != CONNCTL_ACTION_DRAIN || !!tag.closing_ns == hold)
		return 0;
	tag.closing_ns = hold ? monotonic_ns() : 0;
	if (bpf_map_update_elem(map, &sock_fd, &tag, BPF_EXIST))
		return -errno;
	return 0;
}
