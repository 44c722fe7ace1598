// SPDX-License-Identifier: GPL-2.0
/*
 * A client-side drain's boundary comes when its owner has read the whole
 * response: at a recv(), which neither sockops nor cgroup_skb sees. This
 * tracepoint does, for every socket of the host (it is not tied to a
 * cgroup), at the cost of an sk_storage lookup for untagged ones. It reports
 * that boundary as sockops reports a server's, so no sweep of the sockets
 * waits for it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "connctl.h"
#include "maps.bpf.h"
#include "match.bpf.h"
#include "drain.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define MSG_PEEK	2

SEC("tp_btf/sock_recv_length")
int BPF_PROG(connctl_recv, struct sock *sk, int ret, int flags)
{
	struct connctl_sk_tag *tag;
	struct tcp_sock *tp;

	/* Data read, not peeked: the owner has moved on. */
	if (ret <= 0 || (flags & MSG_PEEK) || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	tag = bpf_sk_storage_get(&sk_tags, sk, NULL, 0);
	if (!tag || tag->action != CONNCTL_ACTION_DRAIN || tag->role != CONNCTL_ROLE_ACTIVE)
		return 0;
	tp = bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return 0;
	report_boundary(tag, tp, bpf_get_socket_cookie(sk), bpf_ktime_get_ns());
	return 0;
}
