/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The response boundary of a drained connection, and the events that carry
 * connections to the agent. Shared by the iterator and sockops so both judge
 * a socket the same way.
 */
#ifndef CONNCTL_DRAIN_BPF_H
#define CONNCTL_DRAIN_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "connctl.h"
#include "maps.bpf.h"

#define NSEC_PER_SEC		1000000000ULL
#define DRAIN_CB_FLAGS		(BPF_SOCK_OPS_RTT_CB_FLAG | BPF_SOCK_OPS_STATE_CB_FLAG)

/*
 * The kernel's tick, for the jiffies stamps in tcp_sock. Where the config
 * cannot be read, 1000 is assumed: time then seems to pass slower, so a
 * drain waits longer rather than cutting in early.
 */
extern unsigned int CONFIG_HZ __kconfig __weak;

static __always_inline __u64 jiffies_age_ns(__u32 stamp)
{
	__u32 hz = CONFIG_HZ ? CONFIG_HZ : 1000;
	__u32 age = (__u32)bpf_jiffies64() - stamp;

	return (__u64)age * (NSEC_PER_SEC / hz);
}

static __always_inline __u64 min_u64(__u64 a, __u64 b)
{
	return a < b ? a : b;
}

/* How long nothing has moved either way: no data, no ACK. */
static __always_inline __u64 idle_ns(const struct tcp_sock *tp,
				     const struct connctl_sk_tag *tag, __u64 now)
{
	__u64 idle = jiffies_age_ns(tp->lsndtime);

	idle = min_u64(idle, jiffies_age_ns(tp->inet_conn.icsk_ack.lrcvtime));
	idle = min_u64(idle, jiffies_age_ns(tp->rcv_tstamp));
	if (tag->last_ack_ns && tag->last_ack_ns <= now)
		idle = min_u64(idle, now - tag->last_ack_ns);
	return idle;
}

/*
 * At a response boundary: everything we wrote is acknowledged, everything
 * the peer sent has been read by the owner, the right side spoke last, and
 * the connection has been quiet for the tag's quiet period.
 *
 * Who spoke last comes from snd_wl1, the sequence number of the last segment
 * from the peer that moved our send window: a server whose response was
 * acked after the request saw that ACK start at rcv_nxt; a request that came
 * after (or with) the last ACK starts below it. A client is the mirror: the
 * response's data segments start below rcv_nxt, a bare ACK of its request
 * at it.
 */
#define DRAIN_BUSY	(~0ULL)

/* What the judgement reads of a socket: sequence numbers, state, idle time. */
struct drain_view {
	__u32	snd_una;
	__u32	write_seq;
	__u32	copied_seq;
	__u32	rcv_nxt;
	__u32	snd_wl1;
	__u32	peer_seq;	/* the end of the peer's data seen arriving */
	__u32	state;		/* TCP_ESTABLISHED, TCP_CLOSE_WAIT, ... */
	__u64	idle_ns;	/* nothing either way for this long */
};

/*
 * The judgement itself, on a view: 0 at a boundary now; DRAIN_BUSY when
 * not at one; else the quiet still due. A pure function, so a test can run
 * it on crafted views (tests/bpf/logic_test.bpf.c).
 */
static __always_inline __u64 drain_judge(const struct drain_view *v,
					 const struct connctl_sk_tag *tag)
{
	bool peer_spoke_last;

	if (v->snd_una != v->write_seq || v->copied_seq != v->rcv_nxt)
		return DRAIN_BUSY;
	/*
	 * The ACK that completes a response can carry the next request: the
	 * ACK is judged before its data is queued, but cgroup_skb saw the data
	 * arrive.
	 */
	if ((__s32)(v->peer_seq - v->rcv_nxt) > 0)
		return DRAIN_BUSY;
	/* The peer has finished sending: nothing more is asked of us. */
	if (v->state == TCP_CLOSE_WAIT)
		return 0;
	if (v->state != TCP_ESTABLISHED)
		return DRAIN_BUSY;
	peer_spoke_last = v->snd_wl1 != v->rcv_nxt;
	if (tag->role == CONNCTL_ROLE_ACTIVE ? !peer_spoke_last : peer_spoke_last)
		return DRAIN_BUSY;
	return v->idle_ns >= tag->quiet_ns ? 0 : tag->quiet_ns - v->idle_ns;
}

/* 0 at a boundary now; DRAIN_BUSY when not at one; else the quiet still due. */
static __always_inline __u64 drain_wait_ns(const struct tcp_sock *tp,
					   const struct connctl_sk_tag *tag, __u64 now)
{
	struct drain_view v = {
		.snd_una	= tp->snd_una,
		.write_seq	= tp->write_seq,
		.copied_seq	= tp->copied_seq,
		.rcv_nxt	= tp->rcv_nxt,
		.snd_wl1	= tp->snd_wl1,
		.peer_seq	= tag->peer_seq,
		.state		= tp->inet_conn.icsk_inet.sk.__sk_common.skc_state,
	};

	/* The idle time costs jiffies reads: only when the rest says boundary. */
	if (v.snd_una != v.write_seq || v.copied_seq != v.rcv_nxt)
		return DRAIN_BUSY;
	v.idle_ns = idle_ns(tp, tag, now);
	return drain_judge(&v, tag);
}

/*
 * What to tell the agent of a drain now: READY at a boundary, BOUNDARY
 * with the time its quiet runs out (the agent closes it then if nothing
 * moved), else TAGGED (or nothing, none_type 0).
 */
static __always_inline enum connctl_event_type drain_event(const struct tcp_sock *tp,
							   const struct connctl_sk_tag *tag,
							   __u64 now, __u64 *due_ns,
							   enum connctl_event_type none_type)
{
	__u64 wait = drain_wait_ns(tp, tag, now);

	*due_ns = 0;
	if (wait == DRAIN_BUSY)
		return none_type;
	if (!wait)
		return CONNCTL_EV_READY;
	*due_ns = now + wait;
	return CONNCTL_EV_BOUNDARY;
}

static __always_inline void tag_from_rule(struct connctl_sk_tag *tag,
					  const struct connctl_rule *rule,
					  enum connctl_role role, __u64 now,
					  const struct tcp_sock *tp)
{
	*tag = (struct connctl_sk_tag){
		.rule_id	= rule->id,
		.action		= rule->action,
		.role		= role,
		.tagged_ns	= now,
		.deadline_ns	= rule->action == CONNCTL_ACTION_DRAIN ? now + rule->timeout_ns : 0,
		.quiet_ns	= rule->quiet_ns,
		/* What was written before the rule came counts as answered: no turn yet. */
		.answered_seq	= tp->write_seq,
		.peer_seq	= tp->rcv_nxt,
	};
}

/*
 * The turns of a drained server's conversation. A protocol where the client
 * asks and waits (HTTP/1.1, most RPC) shows at L4 as turns: a boundary (all
 * we wrote acknowledged, all the peer sent read) followed by the peer's next
 * request. A paced answer shows a boundary followed by more of our own data.
 *
 * - A server whose peer has asked after an answer (a turn) and that never
 *   paused mid-answer is closed at its next boundary, the quiet waived: the
 *   FIN leaves as soon as the agent acts, before a client that thinks at
 *   all asks again.
 * - A busy client whose ACKs ride on its next request shows no bare
 *   boundary: once it has taken turns for a quiet period, its next request
 *   is held back and the connection closed before it (cgroup_skb).
 * - From the decision on (closing_ns) cgroup_skb holds the peer's data back,
 *   so a request that crosses the FIN never reaches the owner. The agent
 *   decides, at its last look before the FIN: a request that comes while
 *   the event travels to it is served, and the next boundary awaited, not
 *   cut.
 *
 * A client-side drain keeps the quiet rule: its turns are its own owner's.
 */
/* What a boundary the judgement found means for a server, given its turns. */
static __always_inline enum connctl_event_type drain_settle(struct connctl_sk_tag *tag,
							    enum connctl_event_type type,
							    __u64 *due_ns)
{
	if (tag->role != CONNCTL_ROLE_PASSIVE ||
	    (type != CONNCTL_EV_READY && type != CONNCTL_EV_BOUNDARY))
		return type;
	tag->at_boundary = 1;
	if (tag->first_turn_ns && !tag->paused) {
		type = CONNCTL_EV_READY;
		*due_ns = 0;
	}
	return type;
}

/*
 * A client side's boundaries are reported at its owner's recv() while the
 * agent has bpf/recv.bpf.c attached; a server side's by sockops, under
 * --cgroup. Either way no sweep need look for them.
 */
static __always_inline bool recv_watched(void)
{
	struct connctl_agent_state *st = agent_state_get();

	return st && st->recv_watch;
}

/*
 * Connections only: a LISTEN socket is a service, not a connection; TIME_WAIT
 * and request sockets are mini-sockets that bpf_sock_destroy must not see;
 * SYN_SENT is not established yet (a standing rule catches it when it is).
 */
static __always_inline bool state_is_connection(int state)
{
	switch (state) {
	case TCP_ESTABLISHED:
	case TCP_FIN_WAIT1:
	case TCP_FIN_WAIT2:
	case TCP_CLOSE_WAIT:
	case TCP_LAST_ACK:
	case TCP_CLOSING:
		return true;
	default:
		return false;
	}
}

/* A socket's tuple from its own point of view, ports in host order. */
static __always_inline void tuple_from_skc(const struct sock_common *skc,
					   struct connctl_tuple *t)
{
	if (skc->skc_family == AF_INET) {
		addr_set_v4(t->laddr, skc->skc_rcv_saddr);
		addr_set_v4(t->raddr, skc->skc_daddr);
	} else {
		addr_set_v6(t->laddr, skc->skc_v6_rcv_saddr.in6_u.u6_addr32);
		addr_set_v6(t->raddr, skc->skc_v6_daddr.in6_u.u6_addr32);
	}
	t->lport = skc->skc_num;
	t->rport = bpf_ntohs(skc->skc_dport);
	t->sk_family = skc->skc_family;
	/* A BTF pointer's loads: cheaper than probe-read helper calls. */
	t->netns_ino = skc->skc_net.net->ns.inum;
}

/*
 * The cgroup a full socket belongs to (its creator's). Direct loads through
 * BTF pointers, not probe-read helper calls: the connection log runs this
 * for every connection of the host.
 */
static __always_inline struct cgroup *sock_cgroup(const struct sock *sk)
{
	return sk->sk_cgrp_data.cgroup;
}

static __always_inline __u64 sock_cgroup_id(const struct sock *sk)
{
	struct cgroup *cg = sock_cgroup(sk);

	return cg ? cg->kn->id : 0;
}

/* A cgroup's parent: its own css's parent css, whose cgroup it is. */
static __always_inline struct cgroup *cgroup_parent_of(const struct cgroup *cg)
{
	struct cgroup_subsys_state *parent = cg->self.parent;

	return parent ? parent->cgroup : NULL;
}

/* The inode of the socket's file: how the agent finds its owner. 0 before accept(). */
static __always_inline __u64 sock_inode(const struct tcp_sock *tp)
{
	struct socket *sock = BPF_CORE_READ(&tp->inet_conn.icsk_inet.sk, sk_socket);

	return sock ? BPF_CORE_READ(sock, file, f_inode, i_ino) : 0;
}

/*
 * The ids of the socket's cgroup and of its ancestors, by level, for rules
 * that match by cgroup subtree: a walk up the parents.
 */
static __always_inline void tuple_set_cgroups(const struct sock *sk, struct connctl_tuple *t)
{
	struct cgroup *cg = sock_cgroup(sk);

	for (int i = 0; i < 32 && cg; i++) {
		int level = cg->level;

		if (level >= 0 && level < CONNCTL_CGROUP_LEVELS)
			t->cgroup_ids[level] = cg->kn->id;
		if (level <= 0)
			break;
		cg = cgroup_parent_of(cg);
	}
}

/* Whether the socket's cgroup is at or below cgroup id (at level): a walk up. */
static __always_inline bool sock_under_cgroup(const struct sock *sk, __u64 id, int level)
{
	struct cgroup *cg = sock_cgroup(sk);

	for (int i = 0; i < 32 && cg; i++) {
		int at = cg->level;

		if (at == level)
			return cg->kn->id == id;
		if (at < level)
			return false;
		cg = cgroup_parent_of(cg);
	}
	return false;
}

/*
 * The ring buffer is full when this fails: counted, and the agent sweeps.
 * due_ns: when a drain's quiet runs out, for a boundary; 0 otherwise.
 */
static __always_inline bool emit_event(enum connctl_event_type type,
				       const struct connctl_sk_tag *tag,
				       const struct tcp_sock *tp, __u64 cookie,
				       const struct connctl_tuple *tuple, __u64 due_ns)
{
	struct connctl_event *ev;

	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		count_lost_event();
		return false;
	}
	ev->type = type;
	ev->rule_id = tag->rule_id;
	ev->action = tag->action;
	ev->role = tag->role;
	ev->cookie = cookie;
	ev->ts_ns = bpf_ktime_get_ns();
	ev->tagged_ns = tag->tagged_ns;
	ev->last_ack_ns = tag->last_ack_ns;
	ev->bytes_received = tp ? tp->bytes_received : 0;
	ev->bytes_acked = tp ? tp->bytes_acked : 0;
	ev->bytes_written = tp ? tp->bytes_acked + (__u32)(tp->write_seq - tp->snd_una) : 0;
	ev->cgroup_id = tp ? sock_cgroup_id(&tp->inet_conn.icsk_inet.sk) : 0;
	ev->inode = tp ? sock_inode(tp) : 0;
	ev->due_ns = due_ns;
	ev->deadline_ns = tag->deadline_ns;
	ev->flags = tag->flags;
	ev->quiet_ms = (__u32)(tag->quiet_ns / 1000000);
	ev->tuple = *tuple;
	bpf_ringbuf_submit(ev, 0);
	return true;
}

/*
 * A drain's boundary, judged now and reported if it is at one: READY, or
 * BOUNDARY with when its quiet runs out. From sockops at an ACK (a server's
 * answer acknowledged), from the recv() tracepoint at a read (a client's
 * answer read).
 */
static __always_inline void report_boundary(struct connctl_sk_tag *tag,
					    const struct tcp_sock *tp, __u64 cookie, __u64 now)
{
	struct connctl_tuple t = {};
	enum connctl_event_type type;
	__u64 due;

	type = drain_settle(tag, drain_event(tp, tag, now, &due, 0), &due);
	if (!type)
		return;
	tuple_from_skc(&tp->inet_conn.icsk_inet.sk.__sk_common, &t);
	emit_event(type, tag, tp, cookie, &t, due);
}

#endif /* CONNCTL_DRAIN_BPF_H */
