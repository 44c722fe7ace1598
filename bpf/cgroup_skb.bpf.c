// SPDX-License-Identifier: GPL-2.0
/*
 * cgroup_skb ingress and egress, on the same cgroup as sockops: a socket that
 * sockops tagged for reset exchanges no more data, in either direction, from
 * the moment it is tagged until the agent destroys it. Without this, a new
 * connection could be served a whole request in the time the agent takes to
 * act on the event. The RST itself must pass. With no agent, the hold is
 * bounded (see struct connctl_agent_state).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "connctl.h"
#include "maps.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
#define TCP_FLAGS_OFF	13
#define TCP_FLAG_RST	0x04

static __always_inline bool is_rst(struct __sk_buff *skb)
{
	__u32 off;
	__u8 b;

	/* cgroup_skb data starts at the network header. */
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		if (bpf_skb_load_bytes(skb, 0, &b, 1))
			return false;
		off = (b & 0x0f) * 4;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		off = 40;
	} else {
		return false;
	}
	if (bpf_skb_load_bytes(skb, off + TCP_FLAGS_OFF, &b, 1))
		return false;
	return b & TCP_FLAG_RST;
}

static __always_inline int filter(struct __sk_buff *skb)
{
	struct connctl_agent_state *st;
	struct connctl_sk_tag *tag;
	struct bpf_sock *sk;

	sk = skb->sk;
	if (!sk)
		return 1;
	sk = bpf_sk_fullsock(sk);
	if (!sk || sk->protocol != IPPROTO_TCP)
		return 1;
	tag = bpf_sk_storage_get(&sk_tags, sk, NULL, 0);
	if (!tag || tag->action != CONNCTL_ACTION_RESET)
		return 1;
	if (is_rst(skb))
		return 1;
	/* Fail open: no agent came to reset it within the hold. */
	st = agent_state_get();
	if (st && st->hold_pass && st->hold_ns &&
	    bpf_ktime_get_ns() - tag->tagged_ns > st->hold_ns)
		return 1;
	return 0;
}

SEC("cgroup_skb/ingress")
int connctl_skb_in(struct __sk_buff *skb)
{
	return filter(skb);
}

SEC("cgroup_skb/egress")
int connctl_skb_out(struct __sk_buff *skb)
{
	return filter(skb);
}
