// SPDX-License-Identifier: GPL-2.0
/*
 * cgroup_skb programs that pass every packet and do nothing else: what the
 * kernel's hook costs by itself, the floor under connctl's hold
 * (bench/scale.sh).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("cgroup_skb/ingress")
int empty_skb_in(struct __sk_buff *skb)
{
	return 1;
}

SEC("cgroup_skb/egress")
int empty_skb_out(struct __sk_buff *skb)
{
	return 1;
}
