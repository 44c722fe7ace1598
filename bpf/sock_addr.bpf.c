// SPDX-License-Identifier: GPL-2.0
/*
 * cgroup/connect and cgroup/sendmsg, attached with sockops: while a reset
 * rule with proto udp stands, a UDP socket of the cgroup subtree may not
 * connect() to a peer it matches, nor sendto() one from an unconnected
 * socket. The call fails with EPERM and the agent hears of it. TCP connects
 * pass untouched: sockops meets those once established.
 *
 * Apart from them, for good (like sockops): cgroup/connect lists each UDP
 * socket of the subtree that connects in udp_conns, under its namespace,
 * and cgroup/sock_release takes it out, so that a UDP rule walks only the
 * namespaces that hold one.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "connctl.h"
#include "maps.bpf.h"
#include "match.bpf.h"
#include "drain.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define SOCK_DGRAM	2

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

/* The refused call, for the agent to count against the rule and show in watch. */
static __always_inline void report_refused(struct bpf_sock_addr *ctx,
					   const struct best_match *best, __u64 cgroup_id)
{
	struct connctl_event *ev;

	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		count_lost_event();
		return;
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->type = CONNCTL_EV_REFUSED;
	ev->rule_id = best->rule.id;
	ev->action = best->rule.action;
	ev->role = CONNCTL_ROLE_ACTIVE;
	ev->cookie = bpf_get_socket_cookie(ctx);
	ev->ts_ns = bpf_ktime_get_ns();
	ev->tagged_ns = ev->ts_ns;
	ev->cgroup_id = cgroup_id;
	ev->tuple = best->tuple;
	bpf_ringbuf_submit(ev, 0);
}

/* The call as a connection: the socket's own end as bound now, the peer it names. */
static __always_inline void tuple_of_call(struct bpf_sock_addr *ctx, struct sock *sk,
					  int hook_family, struct connctl_tuple *t)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	if (family == AF_INET) {
		addr_set_v4(t->laddr, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr));
	} else {
		__u32 local[4];

		BPF_CORE_READ_INTO(&local, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32);
		addr_set_v6(t->laddr, local);
	}
	/* Each hook reads its own fields: the verifier refuses a computed ctx offset. */
	if (hook_family == AF_INET) {
		addr_set_v4(t->raddr, ctx->user_ip4);
	} else {
		__u32 peer[4] = { ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2],
				  ctx->user_ip6[3] };

		addr_set_v6(t->raddr, peer);
	}
	t->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	t->rport = bpf_ntohs((__u16)ctx->user_port);
	t->sk_family = family;
	t->proto = CONNCTL_PROTO_UDP;
	t->netns_ino = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* 1: the call goes on; 0: EPERM. */
static __always_inline int udp_call_allowed(struct bpf_sock_addr *ctx, int hook_family)
{
	struct bpf_sock_addr_kern *kctx;
	struct connctl_rule_index *index = rule_index_get();
	struct best_match best = {};
	struct sock *sk;

	if (ctx->type != SOCK_DGRAM || ctx->protocol != IPPROTO_UDP)
		return 1;
	if (!index || !index->count)
		return 1;
	kctx = bpf_cast_to_kern_ctx(ctx);
	sk = kctx->sk;
	if (!sk)
		return 1;
	tuple_of_call(ctx, sk, hook_family, &best.tuple);
	if (index->cgroup_rules)
		tuple_set_cgroups(sk, &best.tuple);
	find_best_rule(&best, index->count);
	if (best.rule.action != CONNCTL_ACTION_RESET)
		return 1;
	report_refused(ctx, &best, sock_cgroup_id(sk));
	return 0;
}

SEC("cgroup/connect4")
int connctl_connect4(struct bpf_sock_addr *ctx)
{
	return udp_call_allowed(ctx, AF_INET);
}

SEC("cgroup/connect6")
int connctl_connect6(struct bpf_sock_addr *ctx)
{
	return udp_call_allowed(ctx, AF_INET6);
}

SEC("cgroup/sendmsg4")
int connctl_sendmsg4(struct bpf_sock_addr *ctx)
{
	return udp_call_allowed(ctx, AF_INET);
}

SEC("cgroup/sendmsg6")
int connctl_sendmsg6(struct bpf_sock_addr *ctx)
{
	return udp_call_allowed(ctx, AF_INET6);
}

/* Listed before the connect: one that fails stays listed until released. */
static __always_inline int list_udp_conn(struct bpf_sock_addr *ctx)
{
	struct bpf_sock_addr_kern *kctx;
	struct sock *sk;

	if (ctx->type != SOCK_DGRAM || ctx->protocol != IPPROTO_UDP)
		return 1;
	kctx = bpf_cast_to_kern_ctx(ctx);
	sk = kctx->sk;
	if (sk)
		udp_conn_add(bpf_get_socket_cookie(ctx),
			     BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum));
	return 1;
}

SEC("cgroup/connect4")
int connctl_udp_conn4(struct bpf_sock_addr *ctx)
{
	return list_udp_conn(ctx);
}

SEC("cgroup/connect6")
int connctl_udp_conn6(struct bpf_sock_addr *ctx)
{
	return list_udp_conn(ctx);
}

SEC("cgroup/sock_release")
int connctl_udp_gone(struct bpf_sock *sk)
{
	__u64 cookie;

	if (sk->type != SOCK_DGRAM || sk->protocol != IPPROTO_UDP)
		return 1;
	cookie = bpf_get_socket_cookie(sk);
	bpf_map_delete_elem(&udp_conns, &cookie);
	return 1;
}
