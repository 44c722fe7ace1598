/* SPDX-License-Identifier: GPL-2.0 */
/* What the packet programs (tc, XDP) share: header constants, a flow as a tuple. */
#ifndef CONNCTL_PACKET_BPF_H
#define CONNCTL_PACKET_BPF_H

#include "vmlinux.h"
#include "connctl.h"

#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
#define IPPROTO_TCP_NR	6
#define IPPROTO_UDP_NR	17
#define TCP_FIN		0x01
#define TCP_RST		0x04

/* A packet's flow as its local socket sees it: the tuple the rules match. */
static __always_inline void tuple_from_flow(const struct connctl_flow_key *k, __u16 family,
					    enum connctl_proto proto, __u32 netns_ino,
					    struct connctl_tuple *t)
{
	__builtin_memcpy(t->laddr, k->laddr, 16);
	__builtin_memcpy(t->raddr, k->raddr, 16);
	t->lport = k->lport;
	t->rport = k->rport;
	t->sk_family = family;
	t->proto = proto;
	t->netns_ino = netns_ino;
}

#endif /* CONNCTL_PACKET_BPF_H */
