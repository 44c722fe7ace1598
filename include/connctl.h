/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Definitions shared by the BPF programs and userspace: every struct that
 * crosses the boundary, with fixed-width types and explicit padding, so the
 * layout is the same for clang -target bpf and for gcc on the host.
 *
 * Any change to a struct below changes what sits in pinned maps: bump
 * CONNCTL_LAYOUT so an agent never misreads pins left by another layout.
 */
#ifndef CONNCTL_H
#define CONNCTL_H

#ifdef __bpf__
/* vmlinux.h provides the __u* types */
#else
#include <linux/types.h>
#endif

#define CONNCTL_LAYOUT		8

/*
 * Pin names under the pin directory that userspace opens by name (bpftool:
 * <= 15 chars); maps are pinned under their names in bpf/maps.bpf.h.
 */
#define CONNCTL_MAP_LAYOUT	"layout"
#define CONNCTL_MAP_RULES	"rules"
#define CONNCTL_MAP_FLOWS	"flows"
#define CONNCTL_MAP_TC_IFACES	"tc_ifaces"
#define CONNCTL_MAP_AGENT_STATE	"agent_state"
#define CONNCTL_LINK_SOCKOPS	"sockops_link"
#define CONNCTL_LINK_SKB_IN	"skb_in_link"
#define CONNCTL_LINK_SKB_OUT	"skb_out_link"
#define CONNCTL_LINK_CONNECT4	"connect4_link"
#define CONNCTL_LINK_CONNECT6	"connect6_link"
#define CONNCTL_LINK_SENDMSG4	"sendmsg4_link"
#define CONNCTL_LINK_SENDMSG6	"sendmsg6_link"
#define CONNCTL_LINK_UDP_CONN4	"udp_conn4_link"
#define CONNCTL_LINK_UDP_CONN6	"udp_conn6_link"
#define CONNCTL_LINK_UDP_GONE	"udp_gone_link"
#define CONNCTL_MAP_UDP_CONNS	"udp_conns"
/* The XDP link of an --iface interface: "xdp_link_" and its ifindex. */
#define CONNCTL_LINK_XDP_PREFIX	"xdp_link_"

#define CONNCTL_MAX_RULES	131072
/*
 * Connected UDP sockets listed by namespace (udp_conns); past it, every
 * namespace is walked. A read of the list walks every bucket: 65,536 take
 * about 50 us.
 */
#define CONNCTL_MAX_UDP_CONNS	65536
/*
 * The kernel-to-agent ring buffer. Small: a burst that overflows it loses
 * no enforcement (sockops tags all the same, the agent catches up with one
 * sweep), and the agent maps it twice.
 */
#define CONNCTL_EVENTS_BYTES	(1u << 20)
#define CONNCTL_MAX_FLOWS	65536
#define CONNCTL_MAX_TC_IFACES	64
/* Our tc filters on an interface: handle and priority, so we remove only ours. */
#define CONNCTL_TC_HANDLE	0xc0c
#define CONNCTL_TC_PRIORITY	0xc0c

enum connctl_action {
	CONNCTL_ACTION_NONE	= 0,
	CONNCTL_ACTION_OBSERVE	= 1,	/* count and mark at tc, close nothing */
	CONNCTL_ACTION_DRAIN	= 2,
	CONNCTL_ACTION_CANCEL	= 3,
	CONNCTL_ACTION_RESET	= 4,	/* highest wins when rules overlap */
};

/* What a rule ends: TCP connections, or connected UDP sockets. */
enum connctl_proto {
	CONNCTL_PROTO_TCP	= 0,
	CONNCTL_PROTO_UDP	= 1,
};

enum connctl_family {
	CONNCTL_FAMILY_ANY	= 0,
	CONNCTL_FAMILY_IPV4	= 4,
	CONNCTL_FAMILY_IPV6	= 6,
};

/* Which match fields a rule sets; an unset field matches everything. */
enum connctl_match {
	CONNCTL_MATCH_LOCAL	= 1u << 0,
	CONNCTL_MATCH_REMOTE	= 1u << 1,
	CONNCTL_MATCH_LPORT	= 1u << 2,
	CONNCTL_MATCH_RPORT	= 1u << 3,
	CONNCTL_MATCH_CGROUP	= 1u << 4,
	CONNCTL_MATCH_NETNS	= 1u << 5,
};

enum connctl_rule_flags {
	CONNCTL_RULE_ONCE	= 1u << 0,
	CONNCTL_RULE_FROM_DIR	= 1u << 1,	/* from connctld --rules-dir */
	/* block: a reset whose peer's packets XDP also drops (connctld --iface) */
	CONNCTL_RULE_BLOCK	= 1u << 2,
};

/*
 * An address prefix. IPv4 is kept IPv4-mapped (::ffff:a.b.c.d, len + 96) so
 * one comparison serves both families and dual-stack sockets talking IPv4.
 */
struct connctl_prefix {
	__u8	addr[16];	/* network order, host bits zero */
	__u8	len;		/* 0..128 */
	__u8	pad[3];
};

struct connctl_port_range {
	__u16	min;		/* host order, inclusive */
	__u16	max;
};

struct connctl_rule {
	__u32				id;
	enum connctl_action		action;
	__u32				match;		/* enum connctl_match bits */
	enum connctl_family		family;
	struct connctl_prefix		local;
	struct connctl_prefix		remote;
	struct connctl_port_range	lport;
	struct connctl_port_range	rport;
	__u32				mark;
	__u32				flags;		/* enum connctl_rule_flags */
	__u32				cgroup_level;	/* of cgroup_id: 1 under the root */
	enum connctl_proto		proto;
	__u64				cgroup_id;	/* a cgroup v2 subtree (its inode) */
	__u64				netns_ino;
	__u64				timeout_ns;	/* drain: then reset */
	__u64				quiet_ns;	/* drain: idle this long at a boundary */
	__u64				expires_ns;	/* CLOCK_REALTIME; 0: never */
};

/* A rule may name a cgroup this deep at most (the root is level 0). */
#define CONNCTL_CGROUP_LEVELS	8

/* One connection as the rules see it: from the socket's own point of view. */
struct connctl_tuple {
	__u8	laddr[16];	/* IPv4-mapped for IPv4 */
	__u8	raddr[16];
	__u16	lport;		/* host order */
	__u16	rport;
	__u16	sk_family;	/* AF_INET or AF_INET6: what the socket is */
	__u16	proto;		/* enum connctl_proto */
	__u32	netns_ino;	/* the socket's network namespace (its inode) */
	/*
	 * The ids of the socket's cgroup and its ancestors, by level (0: the
	 * root), read only while some rule matches by cgroup; 0: not read.
	 */
	__u64	cgroup_ids[CONNCTL_CGROUP_LEVELS];
};

/* Rules applied to the existing connections by one iterator walk, at most. */
#define CONNCTL_APPLY_BATCH	256

/* What one rule of an APPLY batch did, in one walk. */
struct connctl_apply_result {
	__u64	matched;	/* connections it matched */
	__u64	applied;	/* ... of which it was the strongest rule (not observe) */
	__u64	failed;		/* ... of which could not be reset or tagged */
};

/*
 * One connection an iterator prints, record after record: what a dry run
 * lists, and the UDP sockets an APPLY leaves the agent to cancel.
 */
struct connctl_listed {
	struct connctl_tuple	tuple;
	__u64			cookie;
	__u32			state;	/* TCP_ESTABLISHED, ... */
	__u32			rule;	/* APPLY: the index in the batch of its rule */
};

/*
 * The connection log: a tracepoint at every TCP state change reports each
 * connection of the agent's namespaces as it is established and as it
 * closes, so the agent knows which namespaces a new rule can match without
 * walking them. Only while the agent runs (not pinned): a starting agent
 * lists what exists once.
 */
#define CONNCTL_CONN_LOG_BYTES	(1u << 20)

enum connctl_conn_kind {
	CONNCTL_CONN_OPEN	= 1,	/* established: the record has its tuple */
	CONNCTL_CONN_CLOSE	= 2,	/* closed: the record ends at the cookie */
};

struct connctl_conn_record {
	__u32			kind;	/* enum connctl_conn_kind */
	__u32			pad;
	__u64			cookie;
	struct connctl_tuple	tuple;	/* OPEN only */
};

#define CONNCTL_CONN_CLOSE_BYTES	16

/*
 * A socket fd of a process, as the owners iterator (bpf/owners.bpf.c)
 * writes it: the pid as the agent's pid namespace numbers it.
 */
struct connctl_owner_record {
	__u64	inode;
	__u32	pid;
	__s32	fd;
};

/* What a pass of the tcp iterator does (its iter_mode). */
enum connctl_iter_mode {
	CONNCTL_ITER_APPLY	= 0,	/* new rules, to what exists now */
	CONNCTL_ITER_SWEEP	= 1,	/* tagged drains: boundaries, timeouts */
	CONNCTL_ITER_UNTAG	= 2,	/* forget the tags of a deleted rule */
	CONNCTL_ITER_LIST	= 3,	/* print what a rule would match (dry run) */
	CONNCTL_ITER_CATCH_UP	= 4,	/* a SWEEP that also resets what events lost */
	CONNCTL_ITER_MARK	= 5,	/* iter/udp: list the connected sockets in udp_conns */
};

/* Which side of the connection a socket is: who speaks last at a boundary. */
enum connctl_role {
	CONNCTL_ROLE_UNKNOWN	= 0,
	CONNCTL_ROLE_PASSIVE	= 1,	/* accepted: the server side */
	CONNCTL_ROLE_ACTIVE	= 2,	/* connected: the client side */
};

/*
 * Per-socket state (sk_storage): a socket is tagged by the rule it matched,
 * with what a drain needs after that rule is gone (a `once` rule, a ttl).
 */
/* What a tag knows of its socket. */
enum connctl_tag_flags {
	/*
	 * Its boundaries are reported as they come: the server side of a
	 * connection under --cgroup, whose response ends with the ACK sockops
	 * sees; a client side while the agent watches recv() (its response
	 * ends when its owner has read it, which sockops does not see).
	 */
	CONNCTL_TAG_CALLBACKS	= 1u << 0,
};

struct connctl_sk_tag {
	__u32			rule_id;
	enum connctl_action	action;
	enum connctl_role	role;
	__u32			flags;		/* enum connctl_tag_flags */
	__u64			tagged_ns;	/* CLOCK_MONOTONIC, as all _ns below */
	__u64			deadline_ns;	/* drain: reset at this time */
	__u64			quiet_ns;	/* drain: see connctl_rule */
	__u64			last_ack_ns;	/* drain: all we sent was acked */
	/*
	 * A drained server's conversation, as cgroup_skb and sockops see it
	 * (see bpf/drain.bpf.h). Each field is stored whole, by one aligned
	 * store: the two programs run at once on different CPUs, and no store
	 * loses another field's update.
	 */
	__u64			first_turn_ns;	/* the peer first asked after an answer; 0: not yet */
	__u64			closing_ns;	/* the close was decided then, and the peer's
						 * data is held back; 0: not decided */
	__u32			answered_seq;	/* our write_seq when the peer last spoke */
	__u32			peer_seq;	/* the end of the peer's data seen arriving */
	__u8			at_boundary;	/* a boundary no one has spoken after yet */
	__u8			paused;		/* we spoke again after a boundary: paced */
	__u8			pad[6];
};

enum connctl_event_type {
	CONNCTL_EV_NONE		= 0,
	CONNCTL_EV_MATCH	= 1,	/* a new connection matched a rule */
	CONNCTL_EV_TAGGED	= 2,	/* an existing connection waits to drain */
	CONNCTL_EV_READY	= 3,	/* close it now: a boundary, or cancel */
	CONNCTL_EV_TIMEOUT	= 4,	/* drain timed out: the kernel reset it */
	CONNCTL_EV_END		= 5,	/* a tagged connection closed */
	CONNCTL_EV_CAUGHT	= 6,	/* a reset match the agent never heard of: reset now */
	CONNCTL_EV_BOUNDARY	= 7,	/* a drain at a boundary: close it at due_ns if nothing moves */
	CONNCTL_EV_REFUSED	= 8,	/* a UDP connect() or sendto() to a reset rule's peer: EPERM */
};

struct connctl_event {
	enum connctl_event_type	type;
	__u32			rule_id;
	enum connctl_action	action;
	enum connctl_role	role;
	__u64			cookie;
	__u64			ts_ns;		/* CLOCK_MONOTONIC */
	__u64			tagged_ns;
	__u64			last_ack_ns;
	__u64			bytes_received;	/* as tcp_info's counters */
	__u64			bytes_acked;
	__u64			bytes_written;	/* acked + still queued: all the owner wrote */
	__u64			cgroup_id;	/* the socket's cgroup; 0: not known */
	__u64			inode;		/* its file's inode, for its owner; 0: no file yet */
	__u64			due_ns;		/* a drain's quiet runs out then; 0: not at a boundary */
	__u64			deadline_ns;	/* a drain's timeout */
	__u32			flags;		/* the tag's: enum connctl_tag_flags */
	__u32			quiet_ms;	/* a drain's quiet period */
	struct connctl_tuple	tuple;
};

/*
 * The ids of the standing rules, densely packed, for sockops to walk with
 * bpf_loop: walking the rules hash itself visits every bucket, empty or not.
 * The agent writes it through mmap with single aligned stores: an id before
 * the count that covers it, so a reader never sees an unwritten slot.
 */
struct connctl_rule_index {
	__u32	count;
	__u32	gen;	/* bumped on every change: flow caches revalidate */
	__u32	cgroup_rules;	/* rules matching by cgroup: sockops reads cgroups */
	__u32	block_rules;	/* block rules: XDP matches packets only while there are */
	__u32	ids[CONNCTL_MAX_RULES];
};

/*
 * Rules by remote prefix, for matching a new connection without walking
 * every rule: an LPM trie whose entries hold the ids of the rules with that
 * exact prefix (no remote: ::/0). The matcher looks the remote address up,
 * then again below the prefix found, and so on up to ::/0, trying only the
 * rules listed on the way. Rules with no remote prefix and one local port
 * are listed by that port instead (rule_ports, same buckets): a thousand
 * `lport` rules do not crowd ::/0. Then by cgroup (rule_cgroups), then by
 * one remote port (rule_rports). An entry lists its first
 * CONNCTL_BUCKET_IDS rules itself and the rest in chunks (rule_chunks); a
 * chunk that is missing, or a chain deeper than CONNCTL_LPM_DEPTH, sends
 * the matcher back to walking them all.
 */
#define CONNCTL_BUCKET_IDS	6
#define CONNCTL_LPM_DEPTH	8
#define CONNCTL_CHUNK_IDS	16

struct connctl_lpm_key {
	__u32	prefixlen;	/* 0..128 */
	__u8	addr[16];	/* IPv4-mapped for IPv4, host bits zero */
};

struct connctl_rule_bucket {
	__u32	prefixlen;	/* this entry's own prefix: the walk goes on below it */
	__u32	count;		/* rules listed: ids, then the chunks' */
	__u32	ids[CONNCTL_BUCKET_IDS];
};

/* Which bucket a chunk continues. */
enum connctl_bucket_kind {
	CONNCTL_BUCKET_PREFIX	= 1,	/* key: its struct connctl_lpm_key */
	CONNCTL_BUCKET_PORT	= 2,	/* key: the local port, a __u32 */
	CONNCTL_BUCKET_CGROUP	= 3,	/* key: the cgroup id, a __u64 */
	CONNCTL_BUCKET_RPORT	= 4,	/* key: the remote port, a __u32 */
};

/*
 * Rule n of a bucket, past its own CONNCTL_BUCKET_IDS, is in chunk
 * (n - CONNCTL_BUCKET_IDS) / CONNCTL_CHUNK_IDS. A chunk is written before
 * the count that makes its new id visible, and the last id moves into a
 * deleted one's place before the count drops: a matcher sees every
 * standing rule of a bucket at least once.
 */
struct connctl_chunk_key {
	__u32	kind;		/* enum connctl_bucket_kind */
	__u32	chunk;
	__u8	key[20];	/* the bucket's key, zero after it */
};

struct connctl_rule_chunk {
	__u32	ids[CONNCTL_CHUNK_IDS];
};

/*
 * A flow as tc sees it, from this host's side: local is the destination of
 * an ingress packet and the source of an egress one.
 */
struct connctl_flow_key {
	__u8	laddr[16];	/* IPv4-mapped for IPv4 */
	__u8	raddr[16];
	__u16	lport;		/* host order */
	__u16	rport;
};

enum connctl_flow_state {
	CONNCTL_FLOW_OPEN	= 0,
	CONNCTL_FLOW_FIN_IN	= 1,	/* the peer sent FIN */
	CONNCTL_FLOW_FIN_OUT	= 2,	/* we sent FIN */
	CONNCTL_FLOW_CLOSING	= 3,	/* FIN both ways: the last ACK ends it */
	CONNCTL_FLOW_RESET	= 4,	/* reset: later packets are strays, dropped */
};

/* A flow a rule matched: the flows map, keyed by connctl_flow_key. */
struct connctl_flow {
	__u32			rule_id;
	enum connctl_action	action;
	enum connctl_flow_state	state;
	__u32			mark;
	__u32			rules_gen;	/* the rule_index gen it was matched at */
	__u32			pad;
	__u64			packets_in;
	__u64			packets_out;
	__u64			bytes_in;	/* whole frames, headers included */
	__u64			bytes_out;
	__u64			dropped;	/* strays after a reset */
	__u64			first_seen_ns;	/* CLOCK_MONOTONIC */
	__u64			last_seen_ns;
	__u64			cgroup_id;	/* of its local socket, seen at egress; 0: not yet */
};

/* Per rule, per CPU: what tc saw of the rule's flows. */
struct connctl_rule_counters {
	__u64	flows;
	__u64	packets_in;
	__u64	packets_out;
	__u64	bytes_in;
	__u64	bytes_out;
	__u64	dropped;
	__u64	blocked_packets;	/* XDP: the peer's packets a block rule dropped */
	__u64	blocked_bytes;
	__u64	dropped_xdp;		/* of dropped: by XDP, before tc */
};

/*
 * The agent's own counts for a rule, kept in a pinned map so a restarted
 * agent carries on from them. closed[] is by outcome: fin, rst, rst-timeout,
 * rst-no-owner.
 */
struct connctl_rule_tally {
	__u64	matched;
	__u64	new_matches;
	__u64	closed[5];	/* fin, rst, rst-timeout, rst-no-owner, refused */
	__u64	ended;
};

/*
 * An interface carrying our tc programs, so --uninstall finds them. An
 * ifindex means something only in its network namespace: that is kept too.
 */
struct connctl_tc_iface {
	__u32	ifindex;
	__u32	pad;
	__u64	netns_ino;
	char	name[16];
};

/*
 * Between the agent and the kernel side, outside any rule (the agent_state
 * map, mmapped: each side writes its own fields with aligned stores).
 *
 * A new connection matching a reset rule is held by cgroup_skb (no data
 * either way) until the agent destroys it. With no agent to do so, hold_ns
 * bounds the hold: then the kernel resets it itself (keepalive and user
 * timeouts set on the socket when it is tagged), or with hold_pass lets it
 * through (fail open). events_lost counts events the ring buffer had no
 * room for; the agent, when it sees it pass events_seen, sweeps to catch up.
 */
struct connctl_agent_state {
	__u64	hold_ns;		/* agent */
	__u32	hold_pass;		/* agent: 1 fail open, 0 reset */
	__u32	recv_watch;		/* agent: 1 while bpf/recv.bpf.c reports client sides */
	__u64	events_lost;		/* kernel, atomically */
	__u64	events_seen;		/* agent: events_lost it has caught up with */
};

/*
 * features: what the pins hold beyond the version, set by the agent that
 * keeps them up to date. An agent that does not know a feature writes 0
 * there at its start, and one that does then rebuilds what it covers.
 */
/* rule_chunks, rule_rports and rport_rules list every rule (1: rport_rules not kept) */
#define CONNCTL_FEATURE_CHUNKS	2u

struct connctl_layout {
	__u32	version;
	__u32	features;
};

#define CONNCTL_ASSERT_SIZE(type, size) \
	_Static_assert(sizeof(type) == (size), #type " layout changed: bump CONNCTL_LAYOUT")

CONNCTL_ASSERT_SIZE(enum connctl_action, 4);
CONNCTL_ASSERT_SIZE(enum connctl_family, 4);
CONNCTL_ASSERT_SIZE(enum connctl_proto, 4);
CONNCTL_ASSERT_SIZE(struct connctl_prefix, 20);
CONNCTL_ASSERT_SIZE(struct connctl_port_range, 4);
CONNCTL_ASSERT_SIZE(struct connctl_rule, 120);
CONNCTL_ASSERT_SIZE(struct connctl_tuple, 112);
CONNCTL_ASSERT_SIZE(struct connctl_conn_record, 128);
CONNCTL_ASSERT_SIZE(struct connctl_owner_record, 16);
CONNCTL_ASSERT_SIZE(enum connctl_role, 4);
CONNCTL_ASSERT_SIZE(struct connctl_sk_tag, 80);
CONNCTL_ASSERT_SIZE(struct connctl_event, 224);
CONNCTL_ASSERT_SIZE(struct connctl_layout, 8);
CONNCTL_ASSERT_SIZE(struct connctl_agent_state, 32);
CONNCTL_ASSERT_SIZE(struct connctl_rule_index, 16 + 4 * CONNCTL_MAX_RULES);
CONNCTL_ASSERT_SIZE(struct connctl_flow_key, 36);
CONNCTL_ASSERT_SIZE(struct connctl_lpm_key, 20);
CONNCTL_ASSERT_SIZE(struct connctl_rule_bucket, 32);
CONNCTL_ASSERT_SIZE(struct connctl_chunk_key, 28);
CONNCTL_ASSERT_SIZE(struct connctl_rule_chunk, 64);
CONNCTL_ASSERT_SIZE(struct connctl_flow, 88);
CONNCTL_ASSERT_SIZE(struct connctl_rule_counters, 72);
CONNCTL_ASSERT_SIZE(struct connctl_tc_iface, 32);
CONNCTL_ASSERT_SIZE(struct connctl_rule_tally, 64);

#endif /* CONNCTL_H */
