// SPDX-License-Identifier: GPL-2.0
/*
 * sockops, attached to a cgroup v2: every TCP connection established by a
 * socket of that cgroup is matched against the standing rules. A match is
 * tagged (sk_storage) and reported to the agent, which closes it; sockops
 * itself cannot destroy a socket. For tagged drains only, it also notes when
 * the last byte sent is acknowledged, and reports the close.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "connctl.h"
#include "maps.bpf.h"
#include "match.bpf.h"
#include "drain.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define SOL_SOCKET		1
#define SO_KEEPALIVE		9
#define SOL_TCP			6
#define TCP_KEEPIDLE		4
#define TCP_KEEPINTVL		5
#define TCP_KEEPCNT		6
#define TCP_USER_TIMEOUT	18

/*
 * The hold of a reset match, bounded for when no agent comes to destroy it:
 * TCP's own timers end the socket, with an RST, once it has been silent
 * (cgroup_skb lets nothing through) for hold_ns: a keepalive probe after
 * that idle time, and the user timeout should it have data in flight. When
 * the agent is there, it destroys the socket long before. In fail-open mode
 * cgroup_skb lets the connection through instead, and nothing is set here.
 */
static __always_inline void bound_hold(struct bpf_sock_ops *skops)
{
	struct connctl_agent_state *st = agent_state_get();
	int on = 1, secs, ms;

	if (!st || !st->hold_ns || st->hold_pass)
		return;
	secs = (int)((st->hold_ns + NSEC_PER_SEC - 1) / NSEC_PER_SEC);
	ms = (int)(st->hold_ns / 1000000);
	bpf_setsockopt(skops, SOL_TCP, TCP_KEEPIDLE, &secs, sizeof(secs));
	bpf_setsockopt(skops, SOL_TCP, TCP_KEEPINTVL, &on, sizeof(on));
	bpf_setsockopt(skops, SOL_TCP, TCP_KEEPCNT, &on, sizeof(on));
	bpf_setsockopt(skops, SOL_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
	bpf_setsockopt(skops, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
}

static __always_inline void on_established(struct bpf_sock_ops *skops)
{
	struct connctl_rule_index *index;
	struct best_match best = {};
	struct connctl_sk_tag *tag;
	struct tcp_sock *tp;
	struct bpf_sock *sk;
	__u32 zero = 0, count;
	__u64 due = 0;

	if (skops->family != AF_INET && skops->family != AF_INET6)
		return;
	index = bpf_map_lookup_elem(&rule_index, &zero);
	if (!index)
		return;
	count = index->count;
	if (!count)
		return;
	sk = skops->sk;
	tp = sk ? bpf_skc_to_tcp_sock(sk) : NULL;
	if (!tp)
		return;
	tuple_from_skc(&tp->inet_conn.icsk_inet.sk.__sk_common, &best.tuple);
	if (index->cgroup_rules)
		tuple_set_cgroups(&tp->inet_conn.icsk_inet.sk, &best.tuple);
	find_best_rule(&best, count);
	/* An observe rule closes nothing: tc counts and marks its flows. */
	if (best.rule.action == CONNCTL_ACTION_NONE ||
	    best.rule.action == CONNCTL_ACTION_OBSERVE)
		return;

	/*
	 * Tagged whatever happens to the event: a standing rule holds even
	 * when the ring buffer is full (the loss is counted, and the agent's
	 * catch-up sweep finds the tag). A reset match is held by cgroup_skb
	 * from here, for hold_ns at most when no agent comes.
	 */
	tag = bpf_sk_storage_get(&sk_tags, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (!tag)
		return;
	tag_from_rule(tag, &best.rule,
		      skops->op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB ?
		      CONNCTL_ROLE_PASSIVE : CONNCTL_ROLE_ACTIVE, bpf_ktime_get_ns(), tp);
	if (tag->action == CONNCTL_ACTION_DRAIN)
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | DRAIN_CB_FLAGS);
	if (tag->action == CONNCTL_ACTION_RESET)
		bound_hold(skops);
	if (tag->role == CONNCTL_ROLE_PASSIVE || recv_watched())
		tag->flags |= CONNCTL_TAG_CALLBACKS;
	/* A drain may sit at a boundary already: when its quiet runs out, then. */
	if (tag->action == CONNCTL_ACTION_DRAIN)
		drain_event(tp, tag, bpf_ktime_get_ns(), &due, 0);
	emit_event(CONNCTL_EV_MATCH, tag, tp, bpf_get_socket_cookie(skops), &best.tuple, due);
}

/* RTT_CB comes with each ACK that acknowledges new data. */
static __always_inline void on_ack(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk = skops->sk;
	struct connctl_sk_tag *tag;
	struct tcp_sock *tp;
	__u64 now;

	if (!sk)
		return;
	tag = bpf_sk_storage_get(&sk_tags, sk, NULL, 0);
	if (!tag || tag->action != CONNCTL_ACTION_DRAIN)
		return;
	tp = bpf_skc_to_tcp_sock(sk);
	if (!tp || tp->snd_una != tp->write_seq)
		return;
	now = bpf_ktime_get_ns();
	tag->last_ack_ns = now;
	/*
	 * This ACK may end a response: reported now, READY with no quiet
	 * period (or a server that takes turns), else BOUNDARY with when the
	 * quiet runs out, so the agent checks it then, and no sweep walks the
	 * sockets meanwhile. An ACK that carries the next request is no
	 * boundary: cgroup_skb saw the request arrive.
	 */
	report_boundary(tag, tp, bpf_get_socket_cookie(skops), now);
}

static __always_inline void on_state(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk = skops->sk;
	struct connctl_sk_tag *tag;
	struct connctl_tuple t = {};
	struct tcp_sock *tp;

	if (skops->args[1] != TCP_CLOSE || !sk)
		return;
	tag = bpf_sk_storage_get(&sk_tags, sk, NULL, 0);
	if (!tag || (tag->action != CONNCTL_ACTION_DRAIN &&
		     tag->action != CONNCTL_ACTION_CANCEL))
		return;
	tp = bpf_skc_to_tcp_sock(sk);
	/* The agent knows the tuple by the cookie: the END needs none. */
	emit_event(CONNCTL_EV_END, tag, tp, bpf_get_socket_cookie(skops), &t, 0);
}

SEC("sockops")
int connctl_sockops(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		on_established(skops);
		break;
	case BPF_SOCK_OPS_RTT_CB:
		on_ack(skops);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		on_state(skops);
		break;
	default:
		break;
	}
	return 1;
}
