/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel side of the agent: BPF objects loaded, maps pinned under the
 * pin directory, sockops attached to the cgroup through a pinned link that a
 * restarted agent adopts instead of attaching twice.
 */
#ifndef CONNCTL_LOADER_H
#define CONNCTL_LOADER_H

#include <stdbool.h>
#include <stdint.h>
#include "connctl.h"
#include "sys/owner.h"
#include "kernel/conns.h"

struct sockops_bpf;
struct cgroup_skb_bpf;
struct iter_bpf;
struct netns_set;
struct tc_bpf;
struct recv_bpf;
struct owner_walker;
struct bpf_link;
struct connctl_rule_index;

/* Programs attached to the cgroup, each through a pinned link. */
enum cgroup_link {
	LINK_SOCKOPS,
	LINK_SKB_IN,
	LINK_SKB_OUT,
	LINK_CONNECT4,
	LINK_CONNECT6,
	LINK_SENDMSG4,
	LINK_SENDMSG6,
	LINK_UDP_CONN4,
	LINK_UDP_CONN6,
	LINK_UDP_GONE,
	NR_CGROUP_LINKS,
};

/*
 * Programs attached only while a standing rule (or a live tag) needs them:
 * cgroup_skb holds TCP reset and drain matches, connect and sendmsg refuse
 * UDP calls to a UDP reset rule's peers, the recv() tracepoint reports
 * client-side drain boundaries, XDP on the --iface interfaces drops a block
 * rule's peers.
 */
enum {
	LINKS_HOLD	= 1,
	LINKS_UDP	= 2,
	LINKS_RECV	= 4,
	LINKS_XDP	= 8,
	LINKS_KINDS	= 4,	/* bits above */
};

/* Parallel APPLY passes at most, each its own iterator object and link. */
#define ITER_SHARDS_MAX		4

struct datapath {
	struct sockops_bpf	*sockops;
	struct cgroup_skb_bpf	*skb;
	struct sock_addr_bpf	*sock_addr;	/* UDP connect() and sendto() */
	struct iter_bpf		*iter[ITER_SHARDS_MAX];
	struct tc_bpf		*tc;
	struct xdp_bpf		*xdp;		/* on the --iface interfaces, with tc */
	struct recv_bpf		*recv;		/* NULL: client sides are swept */
	struct bpf_link		*recv_link;	/* while a drain rule stands; not pinned */
	struct bpf_link		*cgroup_links[NR_CGROUP_LINKS];
	struct bpf_link		*iter_link[ITER_SHARDS_MAX];
	struct bpf_link		*udp_iter_link;	/* iter[0]'s, for connected UDP sockets */
	bool			udp_conns_partial;	/* a walk listing them failed */
	bool			udp_conns_warned;	/* that udp_conns cannot be trusted */
	struct owner_index	udp_owners;	/* who holds the UDP sockets a cancel shuts */
	struct owner_walker	*owners;	/* NULL: owners are found in /proc */
	int			iter_shards;	/* objects loaded, one a CPU */
	struct netns_set	*netns;		/* where the iterators walk */
	struct conn_index	*conns;		/* NULL: passes walk every namespace */
	struct netns_hits	conn_hits;	/* a pass's namespaces to walk */
	/* Walks of a namespace's sockets, by iterator mode (listings for the index apart). */
	uint64_t		walks[CONNCTL_ITER_MARK + 1];
	uint64_t		index_listings;
	uint64_t		index_listings_shared;	/* of a namespace on the host's TCP table */
	uint64_t		index_scanned_ns;	/* the look whose namespaces are listed */
	struct connctl_rule_index *index;	/* rule_index, mmapped */
	struct connctl_agent_state *state;	/* agent_state, mmapped */
	int			lock_fd;	/* flock on the pin dir */
	/*
	 * Called between the namespaces of a pass: the ring buffer is not read
	 * while a walk runs, and a pass over many namespaces can report more
	 * than it holds.
	 */
	void			(*between_walks)(void *ctx);
	void			*between_ctx;
	uint64_t		cgroup_id;	/* where sockops is attached (--cgroup) */
	uint32_t		cgroup_level;
	bool			adopted;	/* found programs already attached */
	__u32			pins_features;	/* CONNCTL_FEATURE_*, as the pins were found */
	int			cgroup_fd;	/* --cgroup, for the links attached on demand */
	const char		*pin_dir;	/* the caller's, as long as the datapath */
	uint32_t		rules_needing[LINKS_KINDS];	/* standing, by kind of link */
	/* The --iface interfaces (kernel/tc.c): XDP there while a block rule stands. */
	int			xdp_ifindex[CONNCTL_MAX_TC_IFACES];
	size_t			n_xdp_ifaces;
	bool			xdp_on;
	unsigned int		release_armed;	/* LINKS_*: not needed at the last tick */
};

/* libbpf's own lines through the agent's logger, at its levels. */
void datapath_log_init(void);
int datapath_open(struct datapath *dp, const char *pin_dir, const char *cgroup,
		  struct netns_set *netns);
/* Closes our handles; pinned maps and links stay, so enforcement stays. */
void datapath_close(struct datapath *dp);
int datapath_events_fd(const struct datapath *dp);
/* The pins are still there; if someone removed them, pin everything again. */
int datapath_check_pins(struct datapath *dp, const char *pin_dir);
/* How long a new reset match is held with no agent, and what then (fail open?). */
void datapath_set_hold(struct datapath *dp, uint64_t hold_ns, bool pass);
/* Client-side drains report their boundaries at recv() (else they are swept). */
bool datapath_watches_recv(const struct datapath *dp);
/*
 * The links a rule needs (LINKS_*), attached before it is written: 0 or
 * -errno. Released (detached, unpinned) once no standing rule needs them
 * (rules_needing, kept by kernel/rule_maps.c) and none is in_use (LINKS_*:
 * drains still followed) at two calls in a row: the agent's ticks.
 */
int datapath_want_links(struct datapath *dp, unsigned int needs);
/* Standing rules that need the links of one need (a LINKS_* bit). */
static inline uint32_t datapath_rules_needing(const struct datapath *dp, unsigned int need)
{
	return dp->rules_needing[__builtin_ctz(need)];
}
/* Whether the links of one need (a LINKS_* bit) are on. */
bool datapath_links_attached(const struct datapath *dp, unsigned int need);
void datapath_release_links(struct datapath *dp, unsigned int in_use);
/*
 * The connection log, readable when it wants reading (-1: there is none);
 * read, it keeps the connection index current.
 */
int datapath_conns_fd(const struct datapath *dp);
void datapath_read_conns(struct datapath *dp);
/* Events lost since the agent last caught up (0: none); marks them caught up. */
uint64_t datapath_take_lost_events(struct datapath *dp);
/* Detach everything pinned under pin_dir and remove the pins. */
int datapath_uninstall(const char *pin_dir);

#endif /* CONNCTL_LOADER_H */
