// SPDX-License-Identifier: GPL-2.0
/*
 * The connection log (struct connctl_conn_record): every TCP connection of
 * the agent's namespaces, reported as it is established and as it closes,
 * from the state-change tracepoint, which sees every socket whatever its
 * cgroup. The agent keeps the index; a rule that matches nothing there
 * costs no walk of a namespace's sockets.
 *
 * Records wake the agent only as the ring fills another eighth: it reads
 * the rest before it uses the index. A full ring counts what it lost, and
 * the agent lists the namespaces again.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "connctl.h"
#include "maps.bpf.h"
#include "match.bpf.h"
#include "drain.bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, CONNCTL_CONN_LOG_BYTES);
} conn_log SEC(".maps");

/* The namespaces logged, by inode, unless conns_all_netns (--netns all). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} conn_netns SEC(".maps");

__u32 conns_all_netns;
__u64 conns_lost;	/* records the ring had no room for */

/*
 * A wakeup each time the log fills another eighth, not for every record
 * past it: a wakeup is a self-IPI (an MSR write, a trap on a VM), and a
 * mass reset closes thousands of connections while the agent is busy.
 */
static __always_inline __u64 wakeup_flags(__u64 size)
{
	const __u64 eighth = CONNCTL_CONN_LOG_BYTES / 8;
	__u64 avail = bpf_ringbuf_query(&conn_log, BPF_RB_AVAIL_DATA);

	if (avail / eighth != (avail > size ? avail - size : 0) / eighth)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

/* A record of size bytes (a constant once inlined), kind and cookie set; NULL: counted lost. */
static __always_inline struct connctl_conn_record *reserve(__u32 size, __u32 kind, __u64 cookie)
{
	struct connctl_conn_record *rec = bpf_ringbuf_reserve(&conn_log, size, 0);

	if (!rec) {
		__sync_fetch_and_add(&conns_lost, 1);
		return NULL;
	}
	rec->kind = kind;
	rec->pad = 0;
	rec->cookie = cookie;
	return rec;
}

static __always_inline void log_open(struct sock *sk, __u64 cookie)
{
	struct connctl_conn_record *rec;

	rec = reserve(sizeof(*rec), CONNCTL_CONN_OPEN, cookie);
	if (!rec)
		return;
	__builtin_memset(&rec->tuple, 0, sizeof(rec->tuple));
	tuple_from_skc(&sk->__sk_common, &rec->tuple);
	tuple_set_cgroups(sk, &rec->tuple);
	bpf_ringbuf_submit(rec, wakeup_flags(sizeof(*rec) + 8));
}

static __always_inline void log_close(__u64 cookie)
{
	struct connctl_conn_record *rec;

	rec = reserve(CONNCTL_CONN_CLOSE_BYTES, CONNCTL_CONN_CLOSE, cookie);
	if (!rec)
		return;
	bpf_ringbuf_submit(rec, wakeup_flags(CONNCTL_CONN_CLOSE_BYTES + 8));
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(connctl_conn_state, struct sock *sk, int oldstate, int newstate)
{
	__u16 family = sk->__sk_common.skc_family;
	__u32 netns;

	if (sk->sk_protocol != IPPROTO_TCP || (family != AF_INET && family != AF_INET6))
		return 0;
	/* Established, or closed after it was: what the iterator calls a connection. */
	if (newstate == TCP_ESTABLISHED) {
		if (oldstate != TCP_SYN_SENT && oldstate != TCP_SYN_RECV)
			return 0;
	} else if (newstate != TCP_CLOSE || !state_is_connection(oldstate)) {
		return 0;
	}
	netns = sk->__sk_common.skc_net.net->ns.inum;
	if (!conns_all_netns && !bpf_map_lookup_elem(&conn_netns, &netns))
		return 0;
	if (newstate == TCP_ESTABLISHED)
		log_open(sk, bpf_get_socket_cookie(sk));
	else
		log_close(bpf_get_socket_cookie(sk));
	return 0;
}
