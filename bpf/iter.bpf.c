// SPDX-License-Identifier: GPL-2.0
/*
 * iter/tcp: one pass over the TCP sockets of the agent's network namespace,
 * applying one rule (set by the agent in iter_rule before the pass) to the
 * connections that exist now.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "connctl.h"
#include "maps.bpf.h"
#include "match.bpf.h"

char LICENSE[] SEC("license") = "GPL";

extern int bpf_sock_destroy(struct sock_common *sk) __ksym;

/* Written by the agent before a pass, read back after it. */
struct connctl_rule iter_rule;
__u64 iter_matched;
__u64 iter_failed;

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
}

SEC("iter/tcp")
int connctl_iter_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct connctl_tuple t = {};

	if (!skc || !state_is_connection(skc->skc_state))
		return 0;
	if (skc->skc_family != AF_INET && skc->skc_family != AF_INET6)
		return 0;
	tuple_from_skc(skc, &t);
	if (!rule_matches(&iter_rule, &t))
		return 0;

	iter_matched++;
	switch (iter_rule.action) {
	case CONNCTL_ACTION_RESET:
		if (bpf_sock_destroy(skc))
			iter_failed++;
		break;
	default:
		break;
	}
	return 0;
}
