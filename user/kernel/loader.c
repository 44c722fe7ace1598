// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "connctl.h"
#include "cgroup_skb.skel.h"
#include "sock_addr.skel.h"
#include "xdp.skel.h"
#include "kernel/tc.h"
#include "tc.skel.h"
#include "recv.skel.h"
#include "kernel/conns.h"
#include "iter.skel.h"
#include "kernel/rule_maps.h"
#include "kernel/loader.h"
#include "kernel/owner_walk.h"
#include "sys/netns.h"
#include "base/log.h"
#include "sys/cgroup.h"
#include "sockops.skel.h"

static const char *const cgroup_link_pins[NR_CGROUP_LINKS] = {
	[LINK_SOCKOPS]	= CONNCTL_LINK_SOCKOPS,
	[LINK_SKB_IN]	= CONNCTL_LINK_SKB_IN,
	[LINK_SKB_OUT]	= CONNCTL_LINK_SKB_OUT,
	[LINK_CONNECT4]	= CONNCTL_LINK_CONNECT4,
	[LINK_CONNECT6]	= CONNCTL_LINK_CONNECT6,
	[LINK_SENDMSG4]	= CONNCTL_LINK_SENDMSG4,
	[LINK_SENDMSG6]	= CONNCTL_LINK_SENDMSG6,
	[LINK_UDP_CONN4] = CONNCTL_LINK_UDP_CONN4,
	[LINK_UDP_CONN6] = CONNCTL_LINK_UDP_CONN6,
	[LINK_UDP_GONE]	= CONNCTL_LINK_UDP_GONE,
};

/* libbpf's debug output only with -vv, its info with -v. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf's lines start "libbpf: " already. */
	log_vmsg(level == LIBBPF_DEBUG ? LOG_LIBBPF : level == LIBBPF_INFO ? LOG_DEBUG :
		 LOG_WARN, "", fmt, ap);
	return 0;
}

void datapath_log_init(void)
{
	libbpf_set_print(libbpf_print);
}

static void pin_path(char *buf, size_t len, const char *pin_dir, const char *name)
{
	snprintf(buf, len, "%s/%s", pin_dir, name);
}

static int lock_pin_dir(struct datapath *dp, const char *pin_dir)
{
	if (mkdir(pin_dir, 0700) && errno != EEXIST) {
		pr_warn("cannot create pin dir %s: %s", pin_dir, strerror(errno));
		return -errno;
	}
	dp->lock_fd = open(pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dp->lock_fd < 0) {
		pr_warn("cannot open pin dir %s: %s", pin_dir, strerror(errno));
		return -errno;
	}
	if (flock(dp->lock_fd, LOCK_EX | LOCK_NB)) {
		int err = -errno;

		if (errno == EWOULDBLOCK)
			pr_warn("pin dir %s is held by another running connctld", pin_dir);
		else
			pr_warn("cannot lock pin dir %s: %s", pin_dir, strerror(errno));
		return err;
	}
	return 0;
}

/*
 * Pins of another layout would be misread: refuse them with a way out.
 * Notes what the pins' features were before this agent writes its own.
 */
static int check_layout(struct datapath *dp, const char *pin_dir)
{
	struct bpf_map_info info = {};
	__u32 info_len = sizeof(info), key = 0;
	struct connctl_layout layout = {};
	char path[PATH_MAX];
	int fd, ret = 0;

	pin_path(path, sizeof(path), pin_dir, CONNCTL_MAP_LAYOUT);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		if (errno != ENOENT)
			return -errno;
		/* No pins: nothing listed yet, nothing to rebuild. */
		dp->pins_features = CONNCTL_FEATURE_CHUNKS;
		pin_path(path, sizeof(path), pin_dir, CONNCTL_MAP_RULES);
		if (access(path, F_OK) == 0) {
			pr_warn("%s holds connctl pins of an unknown layout; remove them with "
				"`connctld --uninstall --pin-dir %s`", pin_dir, pin_dir);
			return -EEXIST;
		}
		return 0;
	}
	if (bpf_obj_get_info_by_fd(fd, &info, &info_len) ||
	    info.value_size != sizeof(layout) ||
	    bpf_map_lookup_elem(fd, &key, &layout)) {
		pr_warn("%s: cannot read the layout of the pinned maps", path);
		ret = -EINVAL;
	} else if (layout.version && layout.version != CONNCTL_LAYOUT) {
		pr_warn("%s holds maps of layout %u, this connctld uses layout %u: run the "
			"matching connctld, or `connctld --uninstall --pin-dir %s` "
			"(drops enforcement)", pin_dir, layout.version, CONNCTL_LAYOUT, pin_dir);
		ret = -EPROTO;
	} else {
		dp->pins_features = layout.features;
	}
	close(fd);
	return ret;
}

/* Features 0 until the rules' listing is checked (kernel_rules_reindex). */
static int write_layout(const struct datapath *dp)
{
	struct connctl_layout layout = { .version = CONNCTL_LAYOUT };
	__u32 key = 0;

	return bpf_map__update_elem(dp->sockops->maps.layout, &key, sizeof(key),
				    &layout, sizeof(layout), BPF_ANY);
}

static int load_error(const char *what, int err)
{
	if (err == -EPERM || err == -EACCES)
		pr_warn("loading %s: %s: connctld needs root (CAP_BPF, CAP_NET_ADMIN, "
			"CAP_SYS_ADMIN)", what, strerror(-err));
	else
		pr_warn("loading %s: %s (run with -vv for libbpf's log)", what,
			strerror(-err));
	return err;
}

static int iter_shard_count(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (cpus < 1)
		return 1;
	return cpus < ITER_SHARDS_MAX ? cpus : ITER_SHARDS_MAX;
}

/* One iterator object a CPU: each has its own globals, so passes can run at once. */
static int load_iterators(struct datapath *dp, const struct bpf_object_open_opts *opts)
{
	int n = iter_shard_count(), err;

	for (int i = 0; i < n; i++) {
		dp->iter[i] = iter_bpf__open_opts(opts);
		if (!dp->iter[i])
			return load_error("tcp iterator", -errno);
		err = iter_bpf__load(dp->iter[i]);
		if (err)
			return load_error("tcp iterator", err);
		dp->iter_link[i] = bpf_program__attach_iter(dp->iter[i]->progs.connctl_iter_tcp,
							    NULL);
		if (!dp->iter_link[i])
			return load_error("tcp iterator link", -errno);
		dp->iter_shards = i + 1;
	}
	dp->udp_iter_link = bpf_program__attach_iter(dp->iter[0]->progs.connctl_iter_udp, NULL);
	if (!dp->udp_iter_link)
		return load_error("udp iterator link", -errno);
	return 0;
}

static size_t agent_state_len(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

static int map_agent_state(struct datapath *dp)
{
	void *p = mmap(NULL, agent_state_len(), PROT_READ | PROT_WRITE, MAP_SHARED,
		       bpf_map__fd(dp->sockops->maps.agent_state), 0);

	if (p == MAP_FAILED) {
		pr_warn("cannot map %s: %s", CONNCTL_MAP_AGENT_STATE, strerror(errno));
		return -errno;
	}
	dp->state = p;
	return 0;
}

void datapath_set_hold(struct datapath *dp, uint64_t hold_ns, bool pass)
{
	__atomic_store_n(&dp->state->hold_pass, pass ? 1 : 0, __ATOMIC_RELAXED);
	__atomic_store_n(&dp->state->hold_ns, hold_ns, __ATOMIC_RELEASE);
}

uint64_t datapath_take_lost_events(struct datapath *dp)
{
	uint64_t lost = __atomic_load_n(&dp->state->events_lost, __ATOMIC_ACQUIRE);
	uint64_t seen = dp->state->events_seen;

	if (lost == seen)
		return 0;
	/* Kept in the pin: a restarted agent does not catch up twice. */
	__atomic_store_n(&dp->state->events_seen, lost, __ATOMIC_RELAXED);
	return lost - seen;
}

/*
 * Client-side drains report their boundaries at recv() (bpf/recv.bpf.c).
 * Loaded now, attached only while a drain rule stands (watch_recv_on): the
 * tracepoint runs at every recv() of the host. Not fatal: without it
 * client-side drains are swept, as before it existed.
 */
static void load_recv(struct datapath *dp, const struct bpf_object_open_opts *opts)
{
	/* A previous agent's word, until ours is given. */
	__atomic_store_n(&dp->state->recv_watch, 0, __ATOMIC_RELEASE);
	dp->recv = recv_bpf__open_opts(opts);
	if (dp->recv && !recv_bpf__load(dp->recv))
		return;
	pr_warn("cannot load the recv tracepoint: client-side drains are swept");
	recv_bpf__destroy(dp->recv);
	dp->recv = NULL;
}

/* Not fatal: without it, client-side drains are swept. */
static void watch_recv_on(struct datapath *dp)
{
	if (!dp->recv || dp->recv_link)
		return;
	dp->recv_link = bpf_program__attach_trace(dp->recv->progs.connctl_recv);
	if (!dp->recv_link) {
		pr_warn("cannot attach the recv tracepoint: %s; client-side drains are swept",
			strerror(errno));
		return;
	}
	__atomic_store_n(&dp->state->recv_watch, 1, __ATOMIC_RELEASE);
}

/* New client-side tags, from here, are swept: no one watches recv(). */
static void watch_recv_off(struct datapath *dp)
{
	if (!dp->recv_link)
		return;
	if (dp->state)
		__atomic_store_n(&dp->state->recv_watch, 0, __ATOMIC_RELEASE);
	bpf_link__destroy(dp->recv_link);
	dp->recv_link = NULL;
}

/*
 * The connection index (kernel/conns.h). Not fatal: without it every pass
 * walks every namespace, as before it existed.
 */
static void watch_conns(struct datapath *dp, const struct bpf_object_open_opts *opts)
{
	int err;

	if (!dp->netns)
		return;
	err = conn_index_open(&dp->conns, opts, dp->netns->all);
	if (err)
		pr_warn("cannot attach the connection log: %s; every rule walks every namespace",
			strerror(-err));
}

int datapath_conns_fd(const struct datapath *dp)
{
	return dp->conns ? conn_index_fd(dp->conns) : -1;
}

void datapath_read_conns(struct datapath *dp)
{
	if (dp->conns)
		conn_index_read(dp->conns);
}

static int load_objects(struct datapath *dp, const char *pin_dir)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir);
	int err;

	dp->sockops = sockops_bpf__open_opts(&opts);
	if (!dp->sockops)
		return load_error("sockops program", -errno);
	err = sockops_bpf__load(dp->sockops);
	if (err)
		return load_error("sockops program", err);
	err = write_layout(dp);
	if (err)
		return load_error("layout map", err);
	err = map_agent_state(dp);
	if (err)
		return err;
	err = kernel_rules_open(dp);
	if (err)
		return err;

	dp->skb = cgroup_skb_bpf__open_opts(&opts);
	if (!dp->skb)
		return load_error("cgroup_skb programs", -errno);
	err = cgroup_skb_bpf__load(dp->skb);
	if (err)
		return load_error("cgroup_skb programs", err);

	dp->sock_addr = sock_addr_bpf__open_opts(&opts);
	if (!dp->sock_addr)
		return load_error("connect and sendmsg programs", -errno);
	err = sock_addr_bpf__load(dp->sock_addr);
	if (err)
		return load_error("connect and sendmsg programs", err);

	err = load_iterators(dp, &opts);
	if (err)
		return err;

	dp->tc = tc_bpf__open_opts(&opts);
	if (!dp->tc)
		return load_error("tc programs", -errno);
	dp->tc->rodata->own_netns_ino = netns_self_ino();
	err = tc_bpf__load(dp->tc);
	if (err)
		return load_error("tc programs", err);
	dp->xdp = xdp_bpf__open_opts(&opts);
	if (!dp->xdp)
		return load_error("xdp program", -errno);
	dp->xdp->rodata->own_netns_ino = netns_self_ino();
	err = xdp_bpf__load(dp->xdp);
	if (err)
		return load_error("xdp program", err);
	load_recv(dp, &opts);
	watch_conns(dp, &opts);
	dp->owners = owner_walker_open();
	owner_walker_use(dp->owners, &dp->udp_owners);
	return 0;
}

static struct bpf_program *cgroup_link_prog(const struct datapath *dp,
					    enum cgroup_link which)
{
	switch (which) {
	case LINK_SOCKOPS:
		return dp->sockops->progs.connctl_sockops;
	case LINK_SKB_IN:
		return dp->skb->progs.connctl_skb_in;
	case LINK_SKB_OUT:
		return dp->skb->progs.connctl_skb_out;
	case LINK_CONNECT4:
		return dp->sock_addr->progs.connctl_connect4;
	case LINK_CONNECT6:
		return dp->sock_addr->progs.connctl_connect6;
	case LINK_SENDMSG4:
		return dp->sock_addr->progs.connctl_sendmsg4;
	case LINK_UDP_CONN4:
		return dp->sock_addr->progs.connctl_udp_conn4;
	case LINK_UDP_CONN6:
		return dp->sock_addr->progs.connctl_udp_conn6;
	case LINK_UDP_GONE:
		return dp->sock_addr->progs.connctl_udp_gone;
	default:
		return dp->sock_addr->progs.connctl_sendmsg6;
	}
}

/* A pinned link from an earlier run: swap in our program, keep the attachment. */
static int adopt_link(struct datapath *dp, enum cgroup_link which, const char *path,
		      const char *cgroup)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	struct bpf_link *link;
	uint64_t cgid;
	int err;

	link = bpf_link__open(path);
	if (!link)
		return -errno;
	dp->cgroup_links[which] = link;
	err = cgroup2_id(cgroup, &cgid);
	if (err)
		return err;
	if (bpf_obj_get_info_by_fd(bpf_link__fd(link), &info, &len))
		return -errno;
	if (info.type != BPF_LINK_TYPE_CGROUP || info.cgroup.cgroup_id != cgid) {
		pr_warn("%s is attached to another cgroup (id %llu) than %s (id %llu); "
			"run `connctld --uninstall` first", path,
			(unsigned long long)info.cgroup.cgroup_id, cgroup,
			(unsigned long long)cgid);
		return -EEXIST;
	}
	err = bpf_link__update_program(link, cgroup_link_prog(dp, which));
	if (err) {
		pr_warn("cannot update the pinned link %s: %s", path, strerror(-err));
		return err;
	}
	dp->adopted = true;
	return 0;
}

static int attach_link(struct datapath *dp, enum cgroup_link which, const char *path,
		       int cg_fd)
{
	struct bpf_link *link;
	int err;

	link = bpf_program__attach_cgroup(cgroup_link_prog(dp, which), cg_fd);
	if (!link) {
		err = -errno;
		pr_warn("cannot attach %s: %s", bpf_program__name(cgroup_link_prog(dp, which)),
			strerror(-err));
		return err;
	}
	dp->cgroup_links[which] = link;
	err = bpf_link__pin(link, path);
	if (err)
		pr_warn("cannot pin %s: %s", path, strerror(-err));
	return err;
}

/*
 * sockops stands for good; the others only while a rule needs them (see
 * datapath_want_links): each program on a cgroup costs every packet or call
 * of its sockets, matched or not. 0: always on.
 */
static unsigned int link_need(enum cgroup_link which)
{
	switch (which) {
	case LINK_SKB_IN:
	case LINK_SKB_OUT:
		return LINKS_HOLD;
	case LINK_SOCKOPS:
	case LINK_UDP_CONN4:
	case LINK_UDP_CONN6:
	case LINK_UDP_GONE:
		return 0;
	default:
		return LINKS_UDP;
	}
}

static int attach_cgroup(struct datapath *dp, const char *pin_dir, const char *cgroup)
{
	char path[PATH_MAX];
	int err = 0;

	dp->pin_dir = pin_dir;
	dp->cgroup_fd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dp->cgroup_fd < 0) {
		err = -errno;
		pr_warn("cannot open cgroup %s: %s", cgroup, strerror(-err));
		return err;
	}
	for (int i = 0; i < NR_CGROUP_LINKS && !err; i++) {
		pin_path(path, sizeof(path), pin_dir, cgroup_link_pins[i]);
		if (access(path, F_OK) == 0)
			err = adopt_link(dp, i, path, cgroup);
		else if (!link_need(i))
			err = attach_link(dp, i, path, dp->cgroup_fd);
	}
	if (!err)
		pr_info("%s programs on %s", dp->adopted ? "adopted the" : "attached",
			cgroup);
	return err;
}

/* What the links of a need are, and the rules that need them: for the log. */
static const char *links_named(unsigned int need, const char **rules)
{
	switch (need) {
	case LINKS_HOLD:
		*rules = "TCP reset or drain rule";
		return "cgroup_skb";
	case LINKS_UDP:
		*rules = "UDP reset rule";
		return "connect and sendmsg";
	case LINKS_XDP:
		*rules = "block rule";
		return "XDP on the --iface interfaces";
	default:
		*rules = "drain rule";
		return "the recv() tracepoint";
	}
}

bool datapath_links_attached(const struct datapath *dp, unsigned int need)
{
	if (need == LINKS_RECV)
		return dp->recv_link != NULL;
	if (need == LINKS_XDP)
		return dp->xdp_on;
	for (int i = 0; i < NR_CGROUP_LINKS; i++)
		if (link_need(i) == need && dp->cgroup_links[i])
			return true;
	return false;
}

static int attach_links(struct datapath *dp, unsigned int need)
{
	char path[PATH_MAX];
	int err = 0;

	if (need == LINKS_RECV) {
		watch_recv_on(dp);
		return 0;
	}
	if (need == LINKS_XDP)
		return tc_xdp_set(dp, true);
	for (int i = 0; i < NR_CGROUP_LINKS && !err; i++) {
		if (link_need(i) != need || dp->cgroup_links[i])
			continue;
		pin_path(path, sizeof(path), dp->pin_dir, cgroup_link_pins[i]);
		err = attach_link(dp, i, path, dp->cgroup_fd);
	}
	return err;
}

int datapath_want_links(struct datapath *dp, unsigned int needs)
{
	int err = 0;

	for (int k = 0; k < LINKS_KINDS && !err; k++) {
		unsigned int need = 1u << k;

		if (!(needs & need))
			continue;
		dp->release_armed &= ~need;
		/* No --iface: nowhere for XDP, and a block is a reset. */
		if (datapath_links_attached(dp, need) ||
		    (need == LINKS_XDP && !dp->n_xdp_ifaces))
			continue;
		err = attach_links(dp, need);
		if (!err) {
			const char *rules, *name = links_named(need, &rules);

			pr_info("attached %s, for a %s", name, rules);
		}
	}
	return err;
}

/* Detached from the cgroup and unpinned: a restarted agent finds it gone too. */
static void release_link(struct datapath *dp, enum cgroup_link which)
{
	char path[PATH_MAX];
	int err;

	pin_path(path, sizeof(path), dp->pin_dir, cgroup_link_pins[which]);
	err = bpf_link__detach(dp->cgroup_links[which]);
	if (err) {
		pr_warn("cannot detach %s: %s", path, strerror(-err));
		return;
	}
	if (unlink(path) && errno != ENOENT)
		pr_warn("cannot remove %s: %s", path, strerror(errno));
	bpf_link__destroy(dp->cgroup_links[which]);
	dp->cgroup_links[which] = NULL;
}

static void release_links(struct datapath *dp, unsigned int need)
{
	if (need == LINKS_RECV) {
		watch_recv_off(dp);
	} else if (need == LINKS_XDP) {
		tc_xdp_set(dp, false);
	} else {
		for (int i = 0; i < NR_CGROUP_LINKS; i++)
			if (link_need(i) == need && dp->cgroup_links[i])
				release_link(dp, i);
	}
	if (!datapath_links_attached(dp, need)) {
		const char *rules, *name = links_named(need, &rules);

		pr_info("detached %s: no %s left", name, rules);
	}
}

/*
 * Released once not needed at two calls in a row, a tick apart: a match
 * tagged as its rule left has been closed by then. in_use (LINKS_*): needed
 * with no rule standing, by drains still followed.
 */
void datapath_release_links(struct datapath *dp, unsigned int in_use)
{
	for (int k = 0; k < LINKS_KINDS; k++) {
		unsigned int need = 1u << k;
		bool idle = !dp->rules_needing[k] && !(in_use & need) &&
			    datapath_links_attached(dp, need);

		if (!idle) {
			dp->release_armed &= ~need;
		} else if (!(dp->release_armed & need)) {
			dp->release_armed |= need;
		} else {
			dp->release_armed &= ~need;
			release_links(dp, need);
		}
	}
}

/* Which sockets sockops sees: the iterator tells the agent of them. */
static int note_cgroup(struct datapath *dp, const char *cgroup)
{
	char path[PATH_MAX], err[256];

	if (cgroup2_resolve(cgroup, &dp->cgroup_id, &dp->cgroup_level, path, sizeof(path),
			    err, sizeof(err))) {
		pr_warn("%s", err);
		return -ENOENT;
	}
	return 0;
}

int datapath_open(struct datapath *dp, const char *pin_dir, const char *cgroup,
		  struct netns_set *netns)
{
	int err;

	memset(dp, 0, sizeof(*dp));
	dp->lock_fd = -1;
	dp->cgroup_fd = -1;
	dp->netns = netns;
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		pr_warn("the kernel has no BTF (/sys/kernel/btf/vmlinux): connctld needs "
			"CONFIG_DEBUG_INFO_BTF=y");
		return -ENOTSUP;
	}
	err = bpffs_prepare(pin_dir);
	if (!err)
		err = lock_pin_dir(dp, pin_dir);
	if (!err)
		err = check_layout(dp, pin_dir);
	if (!err)
		err = load_objects(dp, pin_dir);
	if (!err)
		err = attach_cgroup(dp, pin_dir, cgroup);
	if (!err)
		err = note_cgroup(dp, cgroup);
	if (err)
		datapath_close(dp);
	return err;
}

bool datapath_watches_recv(const struct datapath *dp)
{
	return datapath_links_attached(dp, LINKS_RECV);
}

void datapath_close(struct datapath *dp)
{
	kernel_rules_close(dp);
	watch_recv_off(dp);
	recv_bpf__destroy(dp->recv);
	conn_index_free(dp->conns);
	netns_hits_free(&dp->conn_hits);
	if (dp->state)
		munmap(dp->state, agent_state_len());
	for (int i = 0; i < dp->iter_shards; i++)
		bpf_link__destroy(dp->iter_link[i]);
	bpf_link__destroy(dp->udp_iter_link);
	owner_index_free(&dp->udp_owners);
	owner_walker_close(dp->owners);
	/* Drops only our fds: the pins keep the programs attached. */
	for (int i = 0; i < NR_CGROUP_LINKS; i++)
		bpf_link__destroy(dp->cgroup_links[i]);
	for (int i = 0; i < ITER_SHARDS_MAX; i++)
		iter_bpf__destroy(dp->iter[i]);
	xdp_bpf__destroy(dp->xdp);
	tc_bpf__destroy(dp->tc);
	sock_addr_bpf__destroy(dp->sock_addr);
	cgroup_skb_bpf__destroy(dp->skb);
	sockops_bpf__destroy(dp->sockops);
	if (dp->lock_fd >= 0)
		close(dp->lock_fd);
	if (dp->cgroup_fd >= 0)
		close(dp->cgroup_fd);
	memset(dp, 0, sizeof(*dp));
	dp->lock_fd = -1;
	dp->cgroup_fd = -1;
}

/* Every pin of ours, again: the maps (by name) and the cgroup links. */
static int repin(struct datapath *dp, const char *pin_dir)
{
	char path[PATH_MAX];
	struct bpf_map *map;
	int err = 0;

	bpf_object__for_each_map(map, dp->sockops->obj) {
		if (!bpf_map__pin_path(map))
			continue;	/* not shared: .bss and the like */
		pin_path(path, sizeof(path), pin_dir, bpf_map__name(map));
		if (bpf_obj_pin(bpf_map__fd(map), path) && errno != EEXIST)
			err = -errno;
	}
	for (int i = 0; i < NR_CGROUP_LINKS; i++) {
		pin_path(path, sizeof(path), pin_dir, cgroup_link_pins[i]);
		if (dp->cgroup_links[i] &&
		    bpf_obj_pin(bpf_link__fd(dp->cgroup_links[i]), path) && errno != EEXIST)
			err = -errno;
	}
	return err;
}

int datapath_check_pins(struct datapath *dp, const char *pin_dir)
{
	char path[PATH_MAX];
	int err;

	pin_path(path, sizeof(path), pin_dir, CONNCTL_MAP_LAYOUT);
	if (!access(path, F_OK) || errno != ENOENT)
		return 0;
	pr_warn("the pins under %s are gone (removed by hand?): without them enforcement "
		"would end with this agent; pinning them again", pin_dir);
	if (dp->lock_fd >= 0)
		close(dp->lock_fd);
	dp->lock_fd = -1;
	err = lock_pin_dir(dp, pin_dir);
	if (!err)
		err = repin(dp, pin_dir);
	if (err)
		pr_warn("cannot pin again under %s: %s", pin_dir, strerror(-err));
	else
		pr_info("pinned again under %s", pin_dir);
	return err;
}

int datapath_events_fd(const struct datapath *dp)
{
	return bpf_map__fd(dp->sockops->maps.events);
}

int datapath_uninstall(const char *pin_dir)
{
	char path[PATH_MAX], flows[PATH_MAX];
	struct dirent *de;
	struct datapath dp = { .lock_fd = -1 };
	int err, ret = 0;
	DIR *dir;

	err = lock_pin_dir(&dp, pin_dir);
	if (err)
		return err;
	pin_path(path, sizeof(path), pin_dir, CONNCTL_MAP_TC_IFACES);
	/* Pins removed with tc filters left behind would orphan them: stop. */
	pin_path(flows, sizeof(flows), pin_dir, CONNCTL_MAP_FLOWS);
	err = tc_detach_recorded(path, flows);
	if (err) {
		if (err != -EXDEV)
			pr_warn("cannot read %s: %s", path, strerror(-err));
		ret = err;
		goto out;
	}
	for (int i = 0; i < NR_CGROUP_LINKS; i++) {
		struct bpf_link *link;

		pin_path(path, sizeof(path), pin_dir, cgroup_link_pins[i]);
		/* Links attached on demand are absent while no rule needed them. */
		if (access(path, F_OK))
			continue;
		link = bpf_link__open(path);
		if (!link)
			continue;
		err = bpf_link__detach(link);
		if (err)
			pr_warn("cannot detach %s: %s", path, strerror(-err));
		bpf_link__destroy(link);
	}
	dir = opendir(pin_dir);
	if (!dir) {
		ret = -errno;
		goto out;
	}
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		pin_path(path, sizeof(path), pin_dir, de->d_name);
		if (unlink(path)) {
			pr_warn("cannot remove %s: %s", path, strerror(errno));
			ret = -errno;
		}
	}
	closedir(dir);
	if (!ret && rmdir(pin_dir)) {
		pr_warn("cannot remove %s: %s", pin_dir, strerror(errno));
		ret = -errno;
	}
out:
	close(dp.lock_fd);
	return ret;
}
