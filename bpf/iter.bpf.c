// SPDX-License-Identifier: GPL-2.0
/*
 * iter/tcp: one pass over the TCP sockets of the agent's network namespace.
 * The agent sets iter_mode (and iter_rule or iter_rules) before a pass:
 *   APPLY  new rules, a batch of them, to the connections that exist now:
 *          reset them, or tag them for drain or cancel and report them;
 *   SWEEP  the tagged connections: report each drain (at a boundary, or busy),
 *          reset those whose drain timed out;
 *   UNTAG  the connections tagged by a deleted rule: leave them alone;
 *   LIST   the connections iter_rule would match, printed, nothing changed;
 *   CATCH_UP  a SWEEP that also resets reset matches the agent never heard
 *          of (their events were lost to a full ring buffer).
 * iter/udp: the same for the connected UDP sockets of the --cgroup subtree,
 * APPLY and LIST only (no tags: nothing drains). A reset is udp_abort(); a
 * cancel is printed, for the agent to shut the socket down through its
 * owner. MARK lists them in udp_conns at the agent's start, for those that
 * connected with no hook there to list them. (A socket closing as it is
 * walked may be listed after its release took it out: a stale entry costs
 * a walk of its namespace, no miss.)
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "connctl.h"
#include "maps.bpf.h"
#include "match.bpf.h"
#include "drain.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define SOL_TCP		6

extern int bpf_sock_destroy(struct sock_common *sk) __ksym;

/* Written by the agent before a pass, read back after it. */
__u32 iter_mode;	/* CONNCTL_ITER_* */
struct connctl_rule iter_rule;	/* UNTAG: the deleted rule */
/*
 * APPLY: the rules added since the last pass, applied in one walk (a walk
 * costs the same for one rule as for many: it visits every bucket of the
 * established hash). A connection gets the strongest of them that matches.
 */
struct connctl_rule iter_rules[CONNCTL_APPLY_BATCH];
struct connctl_apply_result iter_results[CONNCTL_APPLY_BATCH];
__u32 iter_nrules;
__u32 iter_want_cgroups;	/* some rule of the pass matches by cgroup */
__u64 iter_matched;	/* UNTAG: connections that had the rule's tag; LIST: listed */
__u64 iter_lost;	/* events the ring buffer had no room for */
__u64 iter_pending;	/* SWEEP: tagged connections still open */
__u64 iter_next_ns;	/* SWEEP: when the next quiet period runs out; 0: none */
/*
 * Local ports with a listener, by bit: the iterator walks listeners before
 * established sockets, so by the time it meets a connection it knows whether
 * the connection's port is a service (the socket is the server side).
 */
__u64 iter_listen_ports[65536 / 64];
/*
 * An APPLY may run as several passes at once, one a CPU, each over the same
 * sockets: this pass takes those whose hash falls in its shard, so a mass
 * reset spreads its tcp_abort()s (and the peers' RST processing) over CPUs.
 */
__u32 iter_shard;
__u32 iter_shards;
/* The cgroup sockops is attached to: a drain tagged under it reports its own boundaries. */
__u64 iter_cb_cgroup_id;
__u32 iter_cb_cgroup_level;

static __always_inline void note_listener(__u16 port)
{
	__u32 word = port / 64;

	if (word < sizeof(iter_listen_ports) / sizeof(iter_listen_ports[0]))
		iter_listen_ports[word] |= 1ULL << (port % 64);
}

static __always_inline enum connctl_role role_of(__u16 lport)
{
	__u32 word = lport / 64;

	if (word < sizeof(iter_listen_ports) / sizeof(iter_listen_ports[0]) &&
	    (iter_listen_ports[word] & (1ULL << (lport % 64))))
		return CONNCTL_ROLE_PASSIVE;
	return CONNCTL_ROLE_ACTIVE;
}

static __always_inline void set_cb_flags(struct tcp_sock *tp, int flags)
{
	bpf_setsockopt(tp, SOL_TCP, TCP_BPF_SOCK_OPS_CB_FLAGS, &flags, sizeof(flags));
}

static __always_inline void report(enum connctl_event_type type,
				   const struct connctl_sk_tag *tag,
				   struct tcp_sock *tp, const struct connctl_tuple *t,
				   __u64 due_ns)
{
	if (!emit_event(type, tag, tp, bpf_get_socket_cookie(tp), t, due_ns))
		iter_lost++;
}

/* A connection's cgroups, from the iterator's sock_common: a full socket's. */
static __always_inline void tuple_set_cgroups_skc(struct sock_common *skc,
						  struct connctl_tuple *t)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(skc);

	if (tp)
		tuple_set_cgroups(&tp->inet_conn.icsk_inet.sk, t);
}

/* Tag a drain or cancel match, unless a stronger rule tagged it already. */
static __always_inline bool apply_tag(struct sock_common *skc, const struct connctl_rule *rule,
				      const struct connctl_tuple *t)
{
	enum connctl_event_type type;
	struct connctl_sk_tag *tag;
	struct tcp_sock *tp;
	__u64 now = bpf_ktime_get_ns(), due;

	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return false;
	tag = bpf_sk_storage_get(&sk_tags, tp, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (!tag)
		return false;

	if (tag->action == CONNCTL_ACTION_NONE ||
	    rule_beats(rule, tag->rule_id, tag->action)) {
		tag_from_rule(tag, rule, role_of(t->lport), now, tp);
		/* Its boundaries reported as they come: see recv_watched(). */
		if (tag->role == CONNCTL_ROLE_PASSIVE ?
		    sock_under_cgroup(&tp->inet_conn.icsk_inet.sk, iter_cb_cgroup_id,
				      iter_cb_cgroup_level) :
		    recv_watched())
			tag->flags |= CONNCTL_TAG_CALLBACKS;
	}
	if (tag->action == CONNCTL_ACTION_CANCEL) {
		report(CONNCTL_EV_READY, tag, tp, t, 0);
		return true;
	}
	set_cb_flags(tp, tp->bpf_sock_ops_cb_flags | DRAIN_CB_FLAGS);
	type = drain_event(tp, tag, now, &due, CONNCTL_EV_TAGGED);
	type = drain_settle(tag, type, &due);
	report(type, tag, tp, t, due);
	return true;
}

/* Which rules of the batch match one connection, and the strongest of them. */
struct batch_match {
	const struct connctl_tuple	*tuple;
	__u32				best;	/* index in iter_rules; BATCH: none */
};

static long batch_match_rule(__u32 i, struct batch_match *m)
{
	const struct connctl_rule *r;
	__u32 best = m->best;

	if (i >= CONNCTL_APPLY_BATCH)
		return 1;
	r = &iter_rules[i];
	if (!rule_matches(r, m->tuple))
		return 0;
	iter_results[i].matched++;
	if (best >= CONNCTL_APPLY_BATCH ||
	    rule_beats(r, iter_rules[best].id, iter_rules[best].action))
		m->best = i;
	return 0;
}

/* The strongest rule of the batch for t, each match counted: its index, or BATCH. */
static __always_inline __u32 best_in_batch(const struct connctl_tuple *t)
{
	struct batch_match m = { .tuple = t, .best = CONNCTL_APPLY_BATCH };

	bpf_loop(iter_nrules, batch_match_rule, &m, 0);
	return m.best;
}

/*
 * A byte written for each reset: a read of the pass returns to the agent
 * every few thousand, so that it sets the connection log's records aside
 * before the closes of a large pass overflow it.
 */
static const char reset_mark = 'r';

static __always_inline void apply(struct seq_file *seq, struct sock_common *skc,
				  const struct connctl_tuple *t)
{
	struct connctl_apply_result *res;
	const struct connctl_rule *rule;
	__u32 best = best_in_batch(t);
	bool done;

	if (best >= CONNCTL_APPLY_BATCH)
		return;
	rule = &iter_rules[best];
	res = &iter_results[best];
	if (rule->action == CONNCTL_ACTION_OBSERVE)
		return;
	res->applied++;
	if (rule->action == CONNCTL_ACTION_RESET) {
		done = !bpf_sock_destroy(skc);
		if (done)
			bpf_seq_write(seq, &reset_mark, 1);
	} else
		done = apply_tag(skc, rule, t);
	if (!done)
		res->failed++;
}

static __always_inline void sweep(struct sock_common *skc, const struct connctl_tuple *t)
{
	enum connctl_event_type type;
	struct connctl_sk_tag *tag;
	struct tcp_sock *tp;
	__u64 now = bpf_ktime_get_ns(), wait, due;
	int state = skc->skc_state;

	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return;
	tag = bpf_sk_storage_get(&sk_tags, tp, NULL, 0);
	if (!tag)
		return;
	/* A reset match whose event was lost is held still: reset it now. */
	if (tag->action == CONNCTL_ACTION_RESET && iter_mode == CONNCTL_ITER_CATCH_UP) {
		report(CONNCTL_EV_CAUGHT, tag, tp, t, 0);
		bpf_sock_destroy(skc);
		return;
	}
	if (tag->action != CONNCTL_ACTION_DRAIN && tag->action != CONNCTL_ACTION_CANCEL)
		return;
	/* Past these two states the connection is closing already. */
	if (state != TCP_ESTABLISHED && state != TCP_CLOSE_WAIT)
		return;
	iter_pending++;
	if (tag->action == CONNCTL_ACTION_CANCEL) {
		/* Not closed yet: its owner was not found; the agent retries. */
		report(CONNCTL_EV_READY, tag, tp, t, 0);
		return;
	}
	if (now >= tag->deadline_ns) {
		/* Event first: once destroyed, the counters read zero. */
		report(CONNCTL_EV_TIMEOUT, tag, tp, t, 0);
		bpf_sock_destroy(skc);
		return;
	}
	wait = drain_wait_ns(tp, tag, now);
	/* Sweeps are for tags the agent has not heard of: busy ones too. */
	if (wait == DRAIN_BUSY) {
		report(CONNCTL_EV_TAGGED, tag, tp, t, 0);
		return;
	}
	due = wait ? now + wait : 0;
	type = drain_settle(tag, wait ? CONNCTL_EV_BOUNDARY : CONNCTL_EV_READY, &due);
	report(type, tag, tp, t, due);
	/* The agent looks again when the quiet runs out (a catch-up needs it). */
	if (due && (!iter_next_ns || due < iter_next_ns))
		iter_next_ns = due;
}

static __always_inline void untag(struct sock_common *skc)
{
	struct connctl_sk_tag *tag;
	struct tcp_sock *tp;

	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return;
	tag = bpf_sk_storage_get(&sk_tags, tp, NULL, 0);
	if (!tag || tag->rule_id != iter_rule.id)
		return;
	iter_matched++;
	if (tag->action == CONNCTL_ACTION_DRAIN)
		set_cb_flags(tp, tp->bpf_sock_ops_cb_flags & ~DRAIN_CB_FLAGS);
	bpf_sk_storage_delete(&sk_tags, tp);
}

/* The connection printed for the agent to read, with its rule's index in the batch. */
static __always_inline void print(struct seq_file *seq, struct sock_common *skc,
				  const struct connctl_tuple *t, __u32 rule)
{
	struct connctl_listed rec = { .tuple = *t, .rule = rule };

	rec.cookie = bpf_get_socket_cookie(skc);
	rec.state = skc->skc_state;
	bpf_seq_write(seq, &rec, sizeof(rec));
}

/* A dry run: print the connection for the agent to read; change nothing. */
static __always_inline void list(struct seq_file *seq, struct sock_common *skc,
				 const struct connctl_tuple *t)
{
	if (!rule_matches(&iter_rule, t))
		return;
	iter_matched++;
	print(seq, skc, t, 0);
}

SEC("iter/tcp")
int connctl_iter_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct connctl_tuple t = {};

	if (!skc)
		return 0;
	if (skc->skc_family != AF_INET && skc->skc_family != AF_INET6)
		return 0;
	if (skc->skc_state == TCP_LISTEN) {
		note_listener(skc->skc_num);
		return 0;
	}
	if (!state_is_connection(skc->skc_state))
		return 0;
	if (iter_mode == CONNCTL_ITER_UNTAG) {
		untag(skc);
		return 0;
	}
	/* Another shard's: not worth reading its addresses. */
	if (iter_mode == CONNCTL_ITER_APPLY && iter_shards > 1 &&
	    skc->skc_hash % iter_shards != iter_shard)
		return 0;
	tuple_from_skc(skc, &t);
	if (iter_want_cgroups)
		tuple_set_cgroups_skc(skc, &t);
	switch (iter_mode) {
	case CONNCTL_ITER_APPLY:
		apply(ctx->meta->seq, skc, &t);
		break;
	case CONNCTL_ITER_SWEEP:
	case CONNCTL_ITER_CATCH_UP:
		sweep(skc, &t);
		break;
	case CONNCTL_ITER_LIST:
		list(ctx->meta->seq, skc, &t);
		break;
	}
	return 0;
}

/*
 * A connected UDP socket the batch's strongest rule matches: reset
 * (udp_abort: the owner's next call fails with ECONNABORTED), or printed
 * for the agent to cancel (shutdown through the owner wakes its recv()).
 */
static __always_inline void apply_udp(struct seq_file *seq, struct sock_common *skc,
				      const struct connctl_tuple *t)
{
	struct connctl_apply_result *res;
	const struct connctl_rule *rule;
	__u32 best = best_in_batch(t);

	if (best >= CONNCTL_APPLY_BATCH)
		return;
	rule = &iter_rules[best];
	res = &iter_results[best];
	if (rule->action == CONNCTL_ACTION_RESET) {
		res->applied++;
		if (bpf_sock_destroy(skc))
			res->failed++;
	} else if (rule->action == CONNCTL_ACTION_CANCEL) {
		print(seq, skc, t, best);
	}
}

SEC("iter/udp")
int connctl_iter_udp(struct bpf_iter__udp *ctx)
{
	struct udp_sock *udp = ctx->udp_sk;
	struct sock_common *skc;
	struct connctl_tuple t = {};

	if (!udp)
		return 0;
	skc = (struct sock_common *)udp;
	if (skc->skc_family != AF_INET && skc->skc_family != AF_INET6)
		return 0;
	/* Connected: it has one peer. An unconnected socket serves every peer. */
	if (skc->skc_state != TCP_ESTABLISHED)
		return 0;
	/* udp_conns knows the subtree's alone: a rule meets no other socket. */
	if (!sock_under_cgroup(&udp->inet.sk, iter_cb_cgroup_id, iter_cb_cgroup_level))
		return 0;
	if (iter_mode == CONNCTL_ITER_MARK) {
		udp_conn_add(bpf_get_socket_cookie(skc), skc->skc_net.net->ns.inum);
		return 0;
	}
	tuple_from_skc(skc, &t);
	t.proto = CONNCTL_PROTO_UDP;
	if (iter_want_cgroups)
		tuple_set_cgroups(&udp->inet.sk, &t);
	if (iter_mode == CONNCTL_ITER_APPLY)
		apply_udp(ctx->meta->seq, skc, &t);
	else if (iter_mode == CONNCTL_ITER_LIST)
		list(ctx->meta->seq, skc, &t);
	return 0;
}
