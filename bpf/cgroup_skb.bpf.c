// SPDX-License-Identifier: GPL-2.0
/*
 * cgroup_skb ingress and egress, on the same cgroup as sockops.
 *
 * Reset: a socket that sockops tagged for reset exchanges no more data, in
 * either direction, from the moment it is tagged until the agent destroys
 * it. Without this, a new connection could be served a whole request in the
 * time the agent takes to act on the event. The RST itself must pass. With
 * no agent, the hold is bounded (see struct connctl_agent_state).
 *
 * Drain: the turns of a drained server's conversation are seen here, as its
 * segments arrive and leave (see bpf/drain.bpf.h), and once its close is
 * decided the peer's data is held back, so a request that crosses the FIN
 * never reaches the owner.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "connctl.h"
#include "maps.bpf.h"
#include "match.bpf.h"
#include "drain.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
#define NEXTHDR_TCP	6
#define TCP_FLAG_RST	0x04
#define TCP_FLAG_ACK	0x10
/* A decided close with no agent to make it lets the peer's data through then. */
#define CLOSING_HOLD_NS	(10 * NSEC_PER_SEC)

/* What a TCP segment says of itself. */
struct segment {
	__u32	seq;
	__u32	ack_seq;
	__u32	payload;	/* bytes of data: all of a GSO packet's */
	__u8	flags;
};

/* The first 14 bytes of a TCP header, as on the wire. */
struct tcp_head {
	__be16	source;
	__be16	dest;
	__be32	seq;
	__be32	ack_seq;
	__u8	doff;		/* data offset in the high nibble */
	__u8	flags;
};

/* cgroup_skb data starts at the network header. */
static __always_inline int read_segment(struct __sk_buff *skb, struct segment *seg)
{
	struct tcp_head th;
	__u32 off, hlen;
	__u8 b;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		if (bpf_skb_load_bytes(skb, 0, &b, 1))
			return -1;
		off = (b & 0x0f) * 4;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		/* Extension headers before TCP: not a segment we judge. */
		if (bpf_skb_load_bytes(skb, 6, &b, 1) || b != NEXTHDR_TCP)
			return -1;
		off = 40;
	} else {
		return -1;
	}
	if (bpf_skb_load_bytes(skb, off, &th, sizeof(th)))
		return -1;
	hlen = off + (th.doff >> 4) * 4;
	seg->seq = bpf_ntohl(th.seq);
	seg->ack_seq = bpf_ntohl(th.ack_seq);
	seg->flags = th.flags;
	seg->payload = skb->len > hlen ? skb->len - hlen : 0;
	return 0;
}

/*
 * The peer asks again after an answer: the segment acknowledges all we
 * wrote, the owner has read all before it, and we wrote since the peer
 * last spoke.
 */
static __always_inline bool is_turn(const struct segment *seg, const struct tcp_sock *tp,
				    const struct connctl_sk_tag *tag)
{
	return (seg->flags & TCP_FLAG_ACK) && seg->ack_seq == tp->write_seq &&
	       tp->copied_seq == tp->rcv_nxt && tp->write_seq != tag->answered_seq &&
	       tp->inet_conn.icsk_inet.sk.__sk_common.skc_state == TCP_ESTABLISHED;
}

/*
 * A turn taken. True when this request should be held back and the
 * connection closed before it: the peer has taken turns for a quiet period
 * and never once left a bare boundary to close at.
 */
static __always_inline bool take_turn(struct connctl_sk_tag *tag, __u64 now)
{
	if (!tag->first_turn_ns) {
		tag->first_turn_ns = now;
		return !tag->quiet_ns;
	}
	return now - tag->first_turn_ns >= tag->quiet_ns;
}

/* The close before this request: held back, and the agent told to close now. */
static __always_inline void close_before(struct __sk_buff *skb, struct connctl_sk_tag *tag,
					 struct tcp_sock *tp, __u64 now)
{
	struct connctl_tuple t = {};

	tag->last_ack_ns = now;
	tag->closing_ns = now;
	tuple_from_skc(&tp->inet_conn.icsk_inet.sk.__sk_common, &t);
	emit_event(CONNCTL_EV_READY, tag, tp, bpf_get_socket_cookie(skb), &t, 0);
}

/*
 * Held back while the close is made, and after it: data arriving once the
 * owner has shut its socket down would be answered with an RST. Only a
 * connection still established when no agent came lets it through.
 */
static __always_inline bool still_holding(struct connctl_sk_tag *tag, const struct tcp_sock *tp,
					  __u64 now)
{
	if (tp->inet_conn.icsk_inet.sk.__sk_common.skc_state == TCP_ESTABLISHED &&
	    now - tag->closing_ns > CLOSING_HOLD_NS) {
		tag->closing_ns = 0;
		return false;
	}
	return true;
}

static __always_inline int drain_in(struct __sk_buff *skb, struct bpf_sock *sk,
				    struct connctl_sk_tag *tag)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
	struct segment seg;
	__u64 now;

	if (!tp || read_segment(skb, &seg) || !seg.payload)
		return 1;
	now = bpf_ktime_get_ns();
	if (tag->closing_ns)
		return still_holding(tag, tp, now) ? 0 : 1;
	if (seg.seq != tp->rcv_nxt)
		return 1;
	/* The peer spoke after the last boundary: that was no pause of ours. */
	tag->at_boundary = 0;
	if (tag->role == CONNCTL_ROLE_PASSIVE && is_turn(&seg, tp, tag) &&
	    take_turn(tag, now)) {
		close_before(skb, tag, tp, now);
		return 0;
	}
	tag->answered_seq = tp->write_seq;
	tag->peer_seq = seg.seq + seg.payload;
	return 1;
}

/* Our own data after a boundary: that boundary was a pause mid-answer. */
static __always_inline int drain_out(struct __sk_buff *skb, struct connctl_sk_tag *tag)
{
	struct segment seg;

	if (!tag->at_boundary || read_segment(skb, &seg) || !seg.payload)
		return 1;
	tag->paused = 1;
	tag->at_boundary = 0;
	return 1;
}

static __always_inline int reset_hold(struct __sk_buff *skb, struct connctl_sk_tag *tag)
{
	struct connctl_agent_state *st;
	struct segment seg;

	if (!read_segment(skb, &seg) && (seg.flags & TCP_FLAG_RST))
		return 1;
	/* Fail open: no agent came to reset it within the hold. */
	st = agent_state_get();
	if (st && st->hold_pass && st->hold_ns &&
	    bpf_ktime_get_ns() - tag->tagged_ns > st->hold_ns)
		return 1;
	return 0;
}

static __always_inline int filter(struct __sk_buff *skb, bool ingress)
{
	struct connctl_sk_tag *tag;
	struct bpf_sock *sk;

	sk = skb->sk;
	if (!sk)
		return 1;
	/*
	 * One helper call a packet, not two: only TCP sockets are tagged
	 * (sockops, iter/tcp), and the lookup finds nothing for a request or
	 * timewait socket.
	 */
	tag = bpf_sk_storage_get(&sk_tags, sk, NULL, 0);
	if (!tag)
		return 1;
	if (tag->action == CONNCTL_ACTION_DRAIN)
		return ingress ? drain_in(skb, sk, tag) : drain_out(skb, tag);
	if (tag->action == CONNCTL_ACTION_RESET)
		return reset_hold(skb, tag);
	return 1;
}

SEC("cgroup_skb/ingress")
int connctl_skb_in(struct __sk_buff *skb)
{
	return filter(skb, true);
}

SEC("cgroup_skb/egress")
int connctl_skb_out(struct __sk_buff *skb)
{
	return filter(skb, false);
}
