// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/buf.h"
#include "base/clock.h"
#include "engine/records.h"
#include "front/dispatch.h"
#include "front/render.h"
#include "kernel/flows.h"
#include "kernel/passes.h"
#include "sys/netns.h"
#include "sys/sock_diag.h"

/* A dry run lists this many connections at most; it counts them all. */
#define DRY_RUN_LIST_MAX	1000
#define DRY_RUN_OWNERS_MAX	8

bool token_take(struct token_bucket *b, uint64_t now_ns, uint32_t *retry_ms)
{
	if (b->last_ns && now_ns > b->last_ns)
		b->tokens += (double)(now_ns - b->last_ns) / NSEC_PER_SEC * b->per_s;
	if (!b->last_ns || b->tokens > b->burst)
		b->tokens = b->burst;
	b->last_ns = now_ns;
	if (b->tokens >= 1) {
		b->tokens -= 1;
		return true;
	}
	*retry_ms = (uint32_t)((1 - b->tokens) / b->per_s * 1000) + 1;
	return false;
}

void dispatch_close(struct dispatch *d)
{
	owner_index_free(&d->owners);
}

json_t *dispatch_refuse(const struct dispatch *d, const struct peer *peer)
{
	if (d->reader_group)
		return error_response(PROTO_PERMISSION_DENIED,
				      "needs root, or group %s to read (peer uid %u)",
				      d->reader_group, peer->uid);
	return error_response(PROTO_PERMISSION_DENIED,
			      "needs root (peer uid %u); connctld --group lets a group read",
			      peer->uid);
}

static const char *tcp_state_name(uint32_t state)
{
	static const char *const names[] = {
		[1] = "established", [2] = "syn-sent", [3] = "syn-recv",
		[4] = "fin-wait-1", [5] = "fin-wait-2", [6] = "time-wait", [7] = "close",
		[8] = "close-wait", [9] = "last-ack", [10] = "listen", [11] = "closing",
	};

	return state < sizeof(names) / sizeof(names[0]) && names[state] ? names[state] : "?";
}

static json_t *owner_to_json(pid_t pid)
{
	char path[64], comm[64] = "";
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, comm, sizeof(comm) - 1);
		comm[n > 0 ? n : 0] = '\0';
		comm[strcspn(comm, "\n")] = '\0';
		close(fd);
	}
	return json_pack("{s:i, s:s}", "pid", (int)pid, "command", comm);
}

/* Who holds the socket: as a drain or cancel would find its owner. */
static json_t *owners_to_json(struct dispatch *d, const struct connctl_listed *l,
			      uint64_t since_ns)
{
	pid_t pids[DRY_RUN_OWNERS_MAX];
	struct sock_diag_info info;
	json_t *owners = json_array();
	int fd = netns_diag_fd(d->netns, l->tuple.netns_ino);
	size_t n;

	if (sock_diag_lookup(fd, &l->tuple, l->cookie, &info) || !info.inode)
		return owners;
	n = owner_pids_in(&d->owners, info.inode, info.cgroup_id, since_ns, pids,
			  DRY_RUN_OWNERS_MAX);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(owners, owner_to_json(pids[i]));
	return owners;
}

/* Its owners as walked at since_ns or later. */
static json_t *listed_to_json(struct dispatch *d, const struct connctl_listed *l,
			      uint64_t since_ns)
{
	char local[PREFIX_STRLEN], remote[PREFIX_STRLEN];
	json_t *obj;

	format_addr(l->tuple.laddr, local, sizeof(local));
	format_addr(l->tuple.raddr, remote, sizeof(remote));
	obj = json_pack("{s:s, s:i, s:s, s:i, s:s, s:o}", "local", local,
			"lport", l->tuple.lport, "remote", remote, "rport", l->tuple.rport,
			"state", tcp_state_name(l->state), "owners", owners_to_json(d, l, since_ns));
	render_netns(obj, d->netns, l->tuple.netns_ino);
	return obj;
}

/* rule.add with dry_run: what the rule would match now; nothing changes. */
static json_t *rule_dry_run(struct dispatch *d, const struct request *req,
			    const struct peer *peer)
{
	struct connctl_listed *listed;
	json_t *conns, *resp;
	uint64_t since_ns;
	uint32_t retry_ms;
	size_t n;
	int err;

	if (peer->uid != 0 && !token_take(&d->reader_dry_runs, monotonic_ns(), &retry_ms))
		return error_response(PROTO_RATE_LIMITED, "dry runs of readers are limited to "
				      "%g a second; try again in %u ms",
				      d->reader_dry_runs.per_s, retry_ms);
	err = passes_list(d->dp, &req->spec.rule, &listed, &n);
	if (err)
		return error_response(PROTO_INTERNAL, "cannot walk the connections: %s",
				      strerror(-err));
	/* Owners as they are now: walked afresh for this request, by cgroup. */
	since_ns = monotonic_ns();
	conns = json_array();
	for (size_t i = 0; i < n && i < DRY_RUN_LIST_MAX; i++)
		json_array_append_new(conns, listed_to_json(d, &listed[i], since_ns));
	free(listed);
	resp = json_pack("{s:b, s:b, s:I, s:o, s:o}", "ok", 1, "dry_run", 1,
			 "matched", (json_int_t)n, "connections", conns,
			 "rule", rule_spec_to_json(&req->spec));
	if (n > DRY_RUN_LIST_MAX)
		json_object_set_new(resp, "listed", json_integer(DRY_RUN_LIST_MAX));
	return resp;
}

/* What XDP dropped for a block rule (--iface): its peer's packets and bytes. */
static json_t *blocked_to_json(const struct dispatch *d, uint32_t id,
			       struct connctl_rule_counters *pcpu, int ncpu)
{
	struct connctl_rule_counters sum;

	tc_rule_counters(d->dp, id, pcpu, ncpu, &sum);
	return json_pack("{s:I, s:I}", "packets", (json_int_t)sum.blocked_packets,
			 "bytes", (json_int_t)sum.blocked_bytes);
}

/* A rule as rule show gives it; its body is the kernel's, from the rules map. */
static json_t *show_one(const struct dispatch *d, const struct rule_entry *e, uint64_t now,
			struct connctl_rule_counters *pcpu, int ncpu)
{
	struct rule_spec spec;
	json_t *obj;

	if (rulebook_spec(d->rb, e, &spec))
		return NULL;
	obj = render_rule(&spec, rule_stats_of(e), now);
	if (e->flags & CONNCTL_RULE_BLOCK)
		json_object_set_new(json_object_get(obj, "stats"), "blocked",
				    blocked_to_json(d, e->id, pcpu, ncpu));
	return obj;
}

static json_t *unreadable_rule(void)
{
	return error_response(PROTO_INTERNAL, "a rule cannot be read from the kernel's rules map");
}

/* rule.show with an id; every rule goes through dispatch_rule_show_all. */
static json_t *rule_show(struct dispatch *d, const struct request *req)
{
	const struct rule_entry *e = rule_table_find(&d->rb->rules, req->id);
	struct connctl_rule_counters *pcpu;
	json_t *obj;
	int ncpu;

	if (!e)
		return error_response(PROTO_UNKNOWN_RULE, "no rule with id %u", req->id);
	pcpu = tc_counters_buffer(&ncpu);
	obj = show_one(d, e, realtime_ns(), pcpu, ncpu);
	free(pcpu);
	if (!obj)
		return unreadable_rule();
	return json_pack("{s:b, s:[o]}", "ok", 1, "rules", obj);
}

static int append_text(char **out, size_t *len, size_t *cap, const char *s)
{
	return buf_append(out, len, cap, s, strlen(s), false);
}

/* One rule's JSON onto out, after a comma unless it is the first. */
static int append_rule(const struct dispatch *d, const struct rule_entry *e, uint64_t now,
		       struct connctl_rule_counters *pcpu, int ncpu, bool first,
		       char **out, size_t *len, size_t *cap)
{
	json_t *obj = show_one(d, e, now, pcpu, ncpu);
	char *text;
	int err;

	if (!obj)
		return -EIO;
	text = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(9));
	json_decref(obj);
	if (!text)
		return -ENOMEM;
	err = (!first && append_text(out, len, cap, ",")) || append_text(out, len, cap, text) ?
	      -ENOMEM : 0;
	free(text);
	return err;
}

int dispatch_rule_show_all(struct dispatch *d, char **out, size_t *len, size_t *cap,
			   json_t **error)
{
	const struct rule_table *rules = &d->rb->rules;
	struct connctl_rule_counters *pcpu;
	uint64_t now = realtime_ns();
	size_t start = *len;
	int ncpu, err;

	d->counters.requests[REQ_RULE_SHOW]++;
	*error = NULL;
	pcpu = tc_counters_buffer(&ncpu);
	err = append_text(out, len, cap, "{\"ok\":true,\"rules\":[") ? -ENOMEM : 0;
	for (size_t i = 0; i < rules->n && !err; i++)
		err = append_rule(d, &rules->v[i], now, pcpu, ncpu, i == 0, out, len, cap);
	if (!err)
		err = buf_append(out, len, cap, "]}", 2, true);
	free(pcpu);
	if (err) {
		*len = start;
		*error = err == -EIO ? unreadable_rule() :
			 error_response(PROTO_INTERNAL, "out of memory showing the rules");
	}
	return err;
}

static json_t *events_show(struct dispatch *d)
{
	size_t n = close_records_count(d->records);
	json_t *arr = json_array();

	for (size_t k = 0; k < n; k++)
		json_array_append_new(arr, render_close_record(close_records_get(d->records, k),
							       NULL, d->netns));
	return json_pack("{s:b, s:o}", "ok", 1, "events", arr);
}

static json_t *rule_add(struct dispatch *d, const struct request *req,
			const struct peer *peer, add_done_fn *done, void *ctx)
{
	struct requester who = { .pid = peer->pid, .uid = peer->uid };

	if (rulebook_adds_full(d->rb))
		return error_response(PROTO_INTERNAL, "too many rules added at once");
	rulebook_queue_add(d->rb, &req->spec, &who, done, ctx);
	return NULL;
}

static json_t *rule_del(struct dispatch *d, const struct request *req, const struct peer *peer)
{
	struct requester who = { .pid = peer->pid, .uid = peer->uid };
	struct proto_error err = { 0 };

	if (rulebook_delete(d->rb, req->id, &who, &err))
		return error_to_json(&err);
	return json_pack("{s:b, s:I}", "ok", 1, "id", (json_int_t)req->id);
}

static bool rule_exists(const struct dispatch *d, uint32_t id)
{
	return rule_table_find(&d->rb->rules, id) != NULL;
}

json_t *dispatch_request(struct dispatch *d, const struct request *req,
			 const struct peer *peer, add_done_fn *done, void *ctx)
{
	json_t *resp;

	d->counters.requests[req->op]++;
	if (!peer->reader)
		return dispatch_refuse(d, peer);
	switch (req->op) {
	case REQ_RULE_SHOW:
		return rule_show(d, req);	/* with an id: server.c streams the others */
	case REQ_EVENTS_SHOW:
		return events_show(d);
	case REQ_EVENTS_WATCH:
		if (req->has_id && !rule_exists(d, req->id))
			return error_response(PROTO_UNKNOWN_RULE, "no rule with id %u", req->id);
		return json_pack("{s:b, s:b}", "ok", 1, "watching", 1);
	case REQ_FLOW_SHOW:
		if (req->has_id && !rule_exists(d, req->id))
			return error_response(PROTO_UNKNOWN_RULE, "no rule with id %u", req->id);
		return json_pack("{s:b, s:o}", "ok", 1, "flows",
				 render_flows(d->dp, d->netns, req->has_id, req->id));
	case REQ_STATS_SHOW:
		resp = render_tc_stats(d->dp, &d->rb->rules, d->n_ifaces);
		json_object_set_new(resp, "ok", json_true());
		return resp;
	case REQ_RULE_ADD:
	case REQ_RULE_DEL:
		/* A dry run changes nothing: whoever may read may ask. */
		if (req->op == REQ_RULE_ADD && req->dry_run)
			return rule_dry_run(d, req, peer);
		if (peer->uid != 0)
			return error_response(PROTO_PERMISSION_DENIED,
					      "changing rules needs root (peer uid %u)", peer->uid);
		return req->op == REQ_RULE_ADD ? rule_add(d, req, peer, done, ctx) :
						 rule_del(d, req, peer);
	}
	return error_response(PROTO_INTERNAL, "unhandled request");
}
