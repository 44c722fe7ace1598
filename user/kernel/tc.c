// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "connctl.h"
#include "base/log.h"
#include "kernel/tc.h"
#include "sys/netns.h"
#include "tc.skel.h"
#include "xdp.skel.h"
#include <linux/if_link.h>

static const enum bpf_tc_attach_point points[] = { BPF_TC_INGRESS, BPF_TC_EGRESS };

/* The clsact qdisc may be there already, ours or someone else's. */
static int create_clsact(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	int err = bpf_tc_hook_create(&hook);

	return err == -EEXIST ? 0 : err;
}

static int attach_one(int ifindex, enum bpf_tc_attach_point point, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = CONNCTL_TC_HANDLE,
		    .priority = CONNCTL_TC_PRIORITY, .prog_fd = prog_fd,
		    .flags = BPF_TC_F_REPLACE);

	return bpf_tc_attach(&hook, &opts);
}

/* The id of a map, from its fd; 0 when it cannot be read. */
static uint32_t map_id(int map_fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(map_fd, &info, &len) ? 0 : info.id;
}

/*
 * Who holds our handle and priority on an interface: FILTER_NONE, ours
 * (the program uses our pinned flows map, flows_id), or another agent's
 * (another pin dir: its own maps).
 */
enum filter_owner { FILTER_NONE, FILTER_OURS, FILTER_OTHER };

static enum filter_owner prog_owner(uint32_t prog_id, uint32_t flows_id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), ids[16];
	enum filter_owner owner = FILTER_OTHER;
	int fd = bpf_prog_get_fd_by_id(prog_id);

	if (fd < 0)
		return FILTER_OTHER;
	info.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	info.map_ids = (__u64)(unsigned long)ids;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len)) {
		for (__u32 i = 0; i < info.nr_map_ids && i < sizeof(ids) / sizeof(ids[0]); i++)
			if (flows_id && ids[i] == flows_id)
				owner = FILTER_OURS;
	}
	close(fd);
	return owner;
}

static enum filter_owner filter_owner(int ifindex, enum bpf_tc_attach_point point,
				      uint32_t flows_id, uint32_t *prog_id)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = CONNCTL_TC_HANDLE,
		    .priority = CONNCTL_TC_PRIORITY);
	if (bpf_tc_query(&hook, &opts))
		return FILTER_NONE;
	*prog_id = opts.prog_id;
	return prog_owner(opts.prog_id, flows_id);
}

/* An XDP program on the interface: none, ours, or someone else's. */
static enum filter_owner xdp_owner(int ifindex, uint32_t flows_id, uint32_t *prog_id,
				   uint32_t *mode_flags)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, opts);

	if (bpf_xdp_query(ifindex, 0, &opts) || opts.attach_mode == XDP_ATTACHED_NONE)
		return FILTER_NONE;
	if (opts.attach_mode == XDP_ATTACHED_DRV) {
		*prog_id = opts.drv_prog_id;
		*mode_flags = XDP_FLAGS_DRV_MODE;
	} else if (opts.attach_mode == XDP_ATTACHED_SKB) {
		*prog_id = opts.skb_prog_id;
		*mode_flags = XDP_FLAGS_SKB_MODE;
	} else {
		*prog_id = opts.prog_id;
		return FILTER_OTHER;	/* hardware offload, or several: not ours */
	}
	return prog_owner(*prog_id, flows_id);
}

/* Our XDP program off the interface; another's stays. */
static void xdp_detach_one(int ifindex, uint32_t flows_id)
{
	uint32_t prog_id = 0, mode = 0;
	enum filter_owner owner = xdp_owner(ifindex, flows_id, &prog_id, &mode);
	int err;

	if (owner == FILTER_NONE)
		return;
	if (owner == FILTER_OTHER) {
		pr_warn("xdp on ifindex %d: the program there (prog id %u) is not ours: left "
			"in place", ifindex, prog_id);
		return;
	}
	err = bpf_xdp_detach(ifindex, mode, NULL);
	if (err && err != -ENODEV)
		pr_warn("cannot detach xdp from ifindex %d: %s", ifindex, strerror(-err));
}

/*
 * Our XDP program on the interface: the driver's (native) mode where it
 * has one, else generic. Replaces an earlier agent's, never another's.
 */
static int xdp_attach_one(int ifindex, const char *name, int prog_fd, uint32_t flows_id)
{
	uint32_t prog_id = 0, mode = 0;
	int err;

	if (xdp_owner(ifindex, flows_id, &prog_id, &mode) == FILTER_OURS) {
		err = bpf_xdp_attach(ifindex, prog_fd, mode, NULL);
		if (!err)
			pr_info("xdp program on %s (%s, replaced)", name,
				mode == XDP_FLAGS_DRV_MODE ? "native" : "generic");
		return err;
	}
	err = bpf_xdp_attach(ifindex, prog_fd, XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST,
			     NULL);
	mode = XDP_FLAGS_DRV_MODE;
	if (err && err != -EBUSY && err != -EEXIST) {
		err = bpf_xdp_attach(ifindex, prog_fd,
				     XDP_FLAGS_SKB_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
		mode = XDP_FLAGS_SKB_MODE;
	}
	if (!err)
		pr_info("xdp program on %s (%s)", name,
			mode == XDP_FLAGS_DRV_MODE ? "native" : "generic");
	return err;
}

/* Ours only: by handle and priority, and our maps; the clsact qdisc stays for others. */
static void detach_one(int ifindex, uint32_t flows_id)
{
	for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = points[i]);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = CONNCTL_TC_HANDLE,
			    .priority = CONNCTL_TC_PRIORITY);
		uint32_t prog_id = 0;
		int err;

		if (filter_owner(ifindex, points[i], flows_id, &prog_id) == FILTER_OTHER) {
			pr_warn("tc on ifindex %d: the filter there (prog id %u) is another "
				"agent's: left in place", ifindex, prog_id);
			continue;
		}
		err = bpf_tc_detach(&hook, &opts);

		if (err && err != -ENOENT && err != -ENODEV && err != -EINVAL)
			pr_warn("cannot detach tc from ifindex %d: %s", ifindex, strerror(-err));
	}
	xdp_detach_one(ifindex, flows_id);
}

static bool named(int ifindex, const int *ifindexes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ifindexes[i] == ifindex)
			return true;
	return false;
}

/*
 * Interfaces recorded by an earlier agent that this one was not asked for.
 * Only in the namespace they were recorded in: elsewhere the same ifindex
 * is another interface. Returns how many were left for that reason.
 */
static int detach_unnamed(int map_fd, uint32_t flows_id, const int *ifindexes, size_t n)
{
	struct connctl_tc_iface stale[MAX_IFACES], rec;
	uint64_t netns = netns_self_ino();
	size_t n_stale = 0;
	__u32 key, next;
	void *prev = NULL;
	int elsewhere = 0;

	while (!bpf_map_get_next_key(map_fd, prev, &next) && n_stale < MAX_IFACES) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(map_fd, &key, &rec) || named((int)key, ifindexes, n))
			continue;
		if (rec.netns_ino != netns) {
			pr_warn("tc programs on %s stay: it is in another network namespace "
				"(run this in the agent's, with nsenter --net=...)", rec.name);
			elsewhere++;
			continue;
		}
		stale[n_stale++] = rec;
	}
	for (size_t i = 0; i < n_stale; i++) {
		detach_one((int)stale[i].ifindex, flows_id);
		bpf_map_delete_elem(map_fd, &stale[i].ifindex);
		pr_info("tc programs removed from %s", stale[i].name);
	}
	return elsewhere;
}

int tc_attach(struct datapath *dp, char *const *ifnames, size_t n)
{
	int map_fd = bpf_map__fd(dp->tc->maps.tc_ifaces);
	uint32_t flows_id = map_id(bpf_map__fd(dp->tc->maps.flows)), prog_id = 0;
	int ifindexes[MAX_IFACES] = { 0 };
	bool xdp_ours = false;
	int err;

	for (size_t i = 0; i < n; i++) {
		ifindexes[i] = (int)if_nametoindex(ifnames[i]);
		if (!ifindexes[i]) {
			pr_warn("--iface %s: no such interface in this network namespace",
				ifnames[i]);
			return -ENODEV;
		}
		/* Never silently take another agent's place: its pins would lose it. */
		for (size_t p = 0; p < 2; p++) {
			if (filter_owner(ifindexes[i], points[p], flows_id, &prog_id) ==
			    FILTER_OTHER) {
				pr_warn("--iface %s: another connctld's tc programs are there "
					"(prog id %u, another pin dir): one agent an interface",
					ifnames[i], prog_id);
				return -EBUSY;
			}
		}
		if (xdp_owner(ifindexes[i], flows_id, &prog_id, &(uint32_t){ 0 }) ==
		    FILTER_OTHER) {
			pr_warn("--iface %s: another XDP program is there (prog id %u): "
				"connctl's cannot share the interface", ifnames[i], prog_id);
			return -EBUSY;
		}
	}
	detach_unnamed(map_fd, flows_id, ifindexes, n);
	dp->n_xdp_ifaces = 0;
	for (size_t i = 0; i < n; i++) {
		struct connctl_tc_iface rec = {
			.ifindex = (__u32)ifindexes[i],
			.netns_ino = netns_self_ino(),
		};
		int progs[] = {
			bpf_program__fd(dp->tc->progs.connctl_tc_in),
			bpf_program__fd(dp->tc->progs.connctl_tc_out),
		};

		snprintf(rec.name, sizeof(rec.name), "%s", ifnames[i]);
		/* Recorded first: a failure half-way still gets cleaned up. */
		if (bpf_map_update_elem(map_fd, &rec.ifindex, &rec, BPF_ANY))
			return -errno;
		err = create_clsact(ifindexes[i]);
		if (err) {
			pr_warn("cannot add a clsact qdisc on %s: %s", ifnames[i], strerror(-err));
			return err;
		}
		for (size_t p = 0; p < 2; p++) {
			err = attach_one(ifindexes[i], points[p], progs[p]);
			if (err) {
				pr_warn("cannot attach tc %s on %s: %s",
					p ? "egress" : "ingress", ifnames[i], strerror(-err));
				return err;
			}
		}
		pr_info("tc programs on %s (ingress and egress)", ifnames[i]);
		dp->xdp_ifindex[dp->n_xdp_ifaces++] = ifindexes[i];
		xdp_ours |= xdp_owner(ifindexes[i], flows_id, &prog_id, &(uint32_t){ 0 }) ==
			    FILTER_OURS;
	}
	/*
	 * A predecessor's XDP stays in force, replaced by ours, until the rules
	 * say otherwise; block rules found standing before the interfaces were
	 * known get it now.
	 */
	if (xdp_ours || datapath_rules_needing(dp, LINKS_XDP))
		return tc_xdp_set(dp, true);
	return 0;
}

/*
 * XDP on every --iface interface, or off them all: it runs at each packet
 * they receive (and on a veth puts each through its own NAPI path), so it
 * is there only while a block rule stands.
 */
int tc_xdp_set(struct datapath *dp, bool on)
{
	uint32_t flows_id = map_id(bpf_map__fd(dp->tc->maps.flows));
	char name[IF_NAMESIZE];
	int err = 0;

	for (size_t i = 0; on && i < dp->n_xdp_ifaces && !err; i++) {
		int ifindex = dp->xdp_ifindex[i];

		if (!if_indextoname((unsigned int)ifindex, name))
			snprintf(name, sizeof(name), "ifindex %d", ifindex);
		err = xdp_attach_one(ifindex, name,
				     bpf_program__fd(dp->xdp->progs.connctl_xdp), flows_id);
		if (err)
			pr_warn("cannot attach xdp on %s: %s", name, strerror(-err));
	}
	/* Off, or on everywhere: never a block that holds on some interfaces only. */
	if (!on || err)
		for (size_t i = 0; i < dp->n_xdp_ifaces; i++)
			xdp_detach_one(dp->xdp_ifindex[i], flows_id);
	dp->xdp_on = on && !err;
	return err;
}

int tc_detach_recorded(const char *tc_ifaces_pin, const char *flows_pin)
{
	int map_fd = bpf_obj_get(tc_ifaces_pin), flows_fd, err;
	uint32_t flows_id = 0;

	if (map_fd < 0)
		return errno == ENOENT ? 0 : -errno;
	flows_fd = bpf_obj_get(flows_pin);
	if (flows_fd >= 0) {
		flows_id = map_id(flows_fd);
		close(flows_fd);
	}
	err = detach_unnamed(map_fd, flows_id, NULL, 0) ? -EXDEV : 0;
	close(map_fd);
	return err;
}
