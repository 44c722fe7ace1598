// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include "engine/counters.h"
#include "engine/drainer.h"
#include "engine/rulebook.h"
#include "front/dispatch.h"
#include "front/http.h"
#include "base/log.h"
#include "base/clock.h"
#include "kernel/flows.h"
#include "kernel/passes.h"
#include "front/metrics.h"
#include "base/parse.h"

/* Scrapers at once, and how long one may sit idle. */
#define METRICS_CONNECTIONS	16
#define METRICS_TIMEOUT_S	10

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void write_rules(FILE *f, const struct metrics_http *mh)
{
	const struct counters *m = mh->counters;
	const struct rule_table *rules = &mh->rb->rules;
	uint64_t standing[NR_ACTIONS][2] = { { 0 } };

	for (size_t i = 0; i < rules->n; i++) {
		enum connctl_action a = rules->v[i].action;

		if (a < NR_ACTIONS)
			standing[a][rules->v[i].proto == CONNCTL_PROTO_UDP]++;
	}
	family(f, "connctl_rules", "gauge", "Rules standing, by action and protocol.");
	for (int a = CONNCTL_ACTION_OBSERVE; a < NR_ACTIONS; a++)
		for (int p = CONNCTL_PROTO_TCP; p <= CONNCTL_PROTO_UDP; p++)
			fprintf(f, "connctl_rules{action=\"%s\",proto=\"%s\"} %llu\n",
				action_name(a), proto_name(p), (unsigned long long)standing[a][p]);
	family(f, "connctl_rules_added_total", "counter", "Rules added (once rules too).");
	fprintf(f, "connctl_rules_added_total %llu\n", (unsigned long long)m->rules_added);
	family(f, "connctl_rules_removed_total", "counter", "Rules removed, by reason.");
	for (int r = 0; r < NR_REMOVALS; r++)
		fprintf(f, "connctl_rules_removed_total{reason=\"%s\"} %llu\n", rule_removal_name(r),
			(unsigned long long)m->rules_removed[r]);
}

static void write_connections(FILE *f, const struct counters *m)
{
	family(f, "connctl_connections_matched_total", "counter",
	       "Connections a rule matched: existing when it was added, or new while it stood.");
	for (int a = CONNCTL_ACTION_OBSERVE; a < NR_ACTIONS; a++) {
		fprintf(f, "connctl_connections_matched_total{action=\"%s\",when=\"existing\"} %llu\n",
			action_name(a), (unsigned long long)m->matched_existing[a]);
		fprintf(f, "connctl_connections_matched_total{action=\"%s\",when=\"new\"} %llu\n",
			action_name(a), (unsigned long long)m->matched_new[a]);
	}
	family(f, "connctl_connections_closed_total", "counter",
	       "Connections the agent closed, by the rule's action and how they ended.");
	for (int a = CONNCTL_ACTION_DRAIN; a < NR_ACTIONS; a++)
		for (int o = 0; o < NR_CLOSE_OUTCOMES; o++)
			fprintf(f, "connctl_connections_closed_total{action=\"%s\",outcome=\"%s\"} %llu\n",
				action_name(a), close_outcome_name(o),
				(unsigned long long)m->closed[a][o]);
	family(f, "connctl_connections_ended_total", "counter",
	       "Connections waiting to close that their owner or peer closed first.");
	for (int a = CONNCTL_ACTION_DRAIN; a < CONNCTL_ACTION_RESET; a++)
		fprintf(f, "connctl_connections_ended_total{action=\"%s\"} %llu\n", action_name(a),
			(unsigned long long)m->ended[a]);
	family(f, "connctl_drain_delay_seconds", "histogram",
	       "From the last ACK of a drained connection's response to its FIN.");
	uint64_t cumulative = 0;

	for (int b = 0; b < DRAIN_DELAY_BUCKETS; b++) {
		cumulative += m->drain_delay[b];
		fprintf(f, "connctl_drain_delay_seconds_bucket{le=\"%g\"} %llu\n", drain_delay_le[b],
			(unsigned long long)cumulative);
	}
	fprintf(f, "connctl_drain_delay_seconds_bucket{le=\"+Inf\"} %llu\n",
		(unsigned long long)m->drain_delay_count);
	fprintf(f, "connctl_drain_delay_seconds_sum %.9f\n", m->drain_delay_sum);
	fprintf(f, "connctl_drain_delay_seconds_count %llu\n",
		(unsigned long long)m->drain_delay_count);
}

/* tc's counters of the standing rules, summed by action: gauges, since a
 * rule removed takes its counts with it. */
static void write_tc(FILE *f, const struct metrics_http *mh)
{
	struct connctl_rule_counters sums[NR_ACTIONS] = { 0 }, blocked = { 0 }, one, *pcpu;
	int ncpu;

	pcpu = tc_counters_buffer(&ncpu);
	for (size_t i = 0; pcpu && i < mh->rb->rules.n; i++) {
		const struct rule_entry *rule = &mh->rb->rules.v[i];
		struct connctl_rule_counters *s = &sums[rule->action % NR_ACTIONS];

		tc_rule_counters(mh->dp, rule->id, pcpu, ncpu, &one);
		s->packets_in += one.packets_in;
		s->packets_out += one.packets_out;
		s->bytes_in += one.bytes_in;
		s->bytes_out += one.bytes_out;
		s->dropped += one.dropped;
		blocked.blocked_packets += one.blocked_packets;
		blocked.blocked_bytes += one.blocked_bytes;
	}
	free(pcpu);
	family(f, "connctl_xdp_blocked_packets", "gauge",
	       "Packets of peers the standing block rules match, dropped at XDP (--iface).");
	fprintf(f, "connctl_xdp_blocked_packets %llu\n",
		(unsigned long long)blocked.blocked_packets);
	family(f, "connctl_xdp_blocked_bytes", "gauge",
	       "Bytes of peers the standing block rules match, dropped at XDP (--iface).");
	fprintf(f, "connctl_xdp_blocked_bytes %llu\n", (unsigned long long)blocked.blocked_bytes);
	family(f, "connctl_tc_interfaces", "gauge", "Interfaces the tc programs are on (--iface).");
	fprintf(f, "connctl_tc_interfaces %zu\n", mh->n_ifaces);
	family(f, "connctl_tc_flows", "gauge", "Flows in the tc flow table.");
	fprintf(f, "connctl_tc_flows %zu\n", tc_flow_count(mh->dp));
	family(f, "connctl_tc_packets", "gauge",
	       "Packets tc counted for the standing rules' flows, by action and direction.");
	family(f, "connctl_tc_bytes", "gauge",
	       "Bytes tc counted for the standing rules' flows, by action and direction.");
	family(f, "connctl_tc_dropped_packets", "gauge",
	       "Packets of the standing rules' reset flows that tc dropped, by action.");
	for (int a = CONNCTL_ACTION_OBSERVE; a < NR_ACTIONS; a++) {
		const struct connctl_rule_counters *s = &sums[a];
		const char *name = action_name(a);

		fprintf(f, "connctl_tc_packets{action=\"%s\",direction=\"in\"} %llu\n", name,
			(unsigned long long)s->packets_in);
		fprintf(f, "connctl_tc_packets{action=\"%s\",direction=\"out\"} %llu\n", name,
			(unsigned long long)s->packets_out);
		fprintf(f, "connctl_tc_bytes{action=\"%s\",direction=\"in\"} %llu\n", name,
			(unsigned long long)s->bytes_in);
		fprintf(f, "connctl_tc_bytes{action=\"%s\",direction=\"out\"} %llu\n", name,
			(unsigned long long)s->bytes_out);
		fprintf(f, "connctl_tc_dropped_packets{action=\"%s\"} %llu\n", name,
			(unsigned long long)s->dropped);
	}
}

static void write_requests(FILE *f, const struct request_counters *m)
{
	family(f, "connctl_control_requests_total", "counter",
	       "Requests on the control socket, by op (\"invalid\": not parsed).");
	for (int op = 0; op <= NR_REQUEST_OPS; op++)
		fprintf(f, "connctl_control_requests_total{op=\"%s\"} %llu\n",
			op < NR_REQUEST_OPS ? request_op_name(op) : "invalid",
			(unsigned long long)m->requests[op]);
	family(f, "connctl_control_errors_total", "counter",
	       "Error responses on the control socket, by code.");
	for (int c = 1; c < NR_PROTO_CODES; c++)
		fprintf(f, "connctl_control_errors_total{code=\"%s\"} %llu\n", proto_code_name(c),
			(unsigned long long)m->errors[c]);
}

/* What an operator should alert on: the state file, events lost. */
static void write_health(FILE *f, const struct counters *m)
{
	family(f, "connctl_state_file_ok", "gauge",
	       "1 when the last write of the state file succeeded (changes are refused while 0).");
	fprintf(f, "connctl_state_file_ok %d\n", m->state_failing ? 0 : 1);
	family(f, "connctl_state_file_errors_total", "counter",
	       "Writes of the state file that failed.");
	fprintf(f, "connctl_state_file_errors_total %llu\n",
		(unsigned long long)m->state_errors);
	family(f, "connctl_events_lost_total", "counter",
	       "Kernel events the ring buffer had no room for (the agent caught up by a sweep).");
	fprintf(f, "connctl_events_lost_total %llu\n", (unsigned long long)m->events_lost);
}

/* udp_conns: what a UDP rule walks (-1 each: it cannot be read). */
static void write_udp_conns(FILE *f, const struct datapath *dp)
{
	struct udp_conns_count count;
	bool ok = !passes_udp_conns(dp, &count);

	family(f, "connctl_udp_connected_sockets", "gauge",
	       "Connected UDP sockets of --cgroup, as udp_conns lists them (-1: unreadable).");
	fprintf(f, "connctl_udp_connected_sockets %lld\n", ok ? (long long)count.sockets : -1LL);
	family(f, "connctl_udp_connected_namespaces", "gauge",
	       "Namespaces holding them: those a UDP rule walks.");
	fprintf(f, "connctl_udp_connected_namespaces %lld\n", ok ? (long long)count.netns : -1LL);
	family(f, "connctl_udp_connected_unlisted", "gauge",
	       "Connected UDP sockets udp_conns had no room for; above 0, UDP rules walk "
	       "every namespace.");
	fprintf(f, "connctl_udp_connected_unlisted %lld\n", ok ? (long long)count.lost : -1LL);
}

/* What the agent's work costs in walks of a namespace's sockets, and the index beside them. */
static void write_walks(FILE *f, const struct datapath *dp)
{
	static const char *const modes[] = {
		[CONNCTL_ITER_APPLY] = "apply", [CONNCTL_ITER_SWEEP] = "sweep",
		[CONNCTL_ITER_UNTAG] = "untag", [CONNCTL_ITER_LIST] = "list",
		[CONNCTL_ITER_CATCH_UP] = "catch_up", [CONNCTL_ITER_MARK] = "udp_mark",
	};

	family(f, "connctl_walks_total", "counter",
	       "Walks of one namespace's sockets, by what they were for "
	       "(index: listing a namespace into the connection index; udp_mark: marking "
	       "a namespace's connected UDP sockets, at each start).");
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		fprintf(f, "connctl_walks_total{for=\"%s\"} %llu\n", modes[i],
			(unsigned long long)dp->walks[i]);
	fprintf(f, "connctl_walks_total{for=\"index\"} %llu\n",
		(unsigned long long)dp->index_listings);
	family(f, "connctl_index_listings_shared_total", "counter",
	       "Listings into the index of a namespace whose TCP hash table is the host's, "
	       "shared (net.ipv4.tcp_child_ehash_entries was 0 where it was made): each "
	       "walked every bucket and socket of the host.");
	fprintf(f, "connctl_index_listings_shared_total %llu\n",
		(unsigned long long)dp->index_listings_shared);
	family(f, "connctl_index_connections", "gauge",
	       "Connections in the agent's connection index (-1: no index; every rule walks).");
	fprintf(f, "connctl_index_connections %lld\n",
		dp->conns ? (long long)conn_index_count(dp->conns) : -1LL);
	family(f, "connctl_index_slots", "gauge",
	       "Slots the connection index holds (its memory, 136 bytes each; halved while a sixteenth full).");
	fprintf(f, "connctl_index_slots %llu\n",
		dp->conns ? (unsigned long long)conn_index_capacity(dp->conns) : 0ULL);
	write_udp_conns(f, dp);
}

/* The programs attached only while a rule needs them (kernel/loader.h). */
/* Owners of drains, UDP cancels and dry runs: walks of one cgroup's processes, and of all. */
static void write_owner_walks(FILE *f, const struct metrics_http *mh)
{
	const struct owner_index *v[] = { &mh->drainer->owners, &mh->dp->udp_owners,
					  mh->dry_run_owners };
	unsigned long long cgroup = 0, all = 0;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		if (!v[i])
			continue;
		cgroup += v[i]->walks_cgroup;
		all += v[i]->walks_all;
	}
	family(f, "connctl_owner_walks_total", "counter",
	       "Walks of file tables for the processes that hold connections "
	       "(of: cgroup, the processes of the socket's cgroup; all, every process).");
	fprintf(f, "connctl_owner_walks_total{of=\"cgroup\"} %llu\n", cgroup);
	fprintf(f, "connctl_owner_walks_total{of=\"all\"} %llu\n", all);
}

static void write_programs(FILE *f, const struct datapath *dp)
{
	static const struct {
		unsigned int	need;
		const char	*name;
	} programs[] = {
		{ LINKS_HOLD, "cgroup_skb" },
		{ LINKS_UDP, "connect_sendmsg" },
		{ LINKS_RECV, "recv" },
		{ LINKS_XDP, "xdp" },
	};

	family(f, "connctl_programs_attached", "gauge",
	       "Programs on only while a rule needs them: cgroup_skb (TCP reset or drain), "
	       "connect_sendmsg (UDP reset), recv (drain), xdp (block, with --iface); "
	       "1 while attached.");
	for (size_t i = 0; i < sizeof(programs) / sizeof(programs[0]); i++)
		fprintf(f, "connctl_programs_attached{program=\"%s\"} %d\n", programs[i].name,
			datapath_links_attached(dp, programs[i].need) ? 1 : 0);
}

/* Connections the agent follows to their close (drains, cancels, held resets). */
static void write_tracked(FILE *f, const struct drainer *d)
{
	family(f, "connctl_tracked_connections", "gauge",
	       "Connections the agent is closing: drains waiting, cancels and resets in flight.");
	fprintf(f, "connctl_tracked_connections %zu\n", d->tracked.n);
	family(f, "connctl_tracked_slots", "gauge",
	       "Slots of the table those connections are kept in (its memory).");
	fprintf(f, "connctl_tracked_slots %zu\n", d->tracked.cap);
}

char *metrics_text(struct metrics_http *mh, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	if (!f)
		return NULL;
	mh->scrapes++;
	write_rules(f, mh);
	write_connections(f, mh->counters);
	write_tc(f, mh);
	write_requests(f, mh->requests);
	write_health(f, mh->counters);
	family(f, "connctl_sweeps_total", "counter",
	       "Walks of the tagged connections: at start, after lost events, and of one "
	       "namespace for a drain outside --cgroup the agent could not judge.");
	fprintf(f, "connctl_sweeps_total %llu\n", (unsigned long long)mh->drainer->sweeps);
	family(f, "connctl_drain_looks_total", "counter",
	       "sock_diag looks at drains outside --cgroup, each when its quiet could have run out.");
	fprintf(f, "connctl_drain_looks_total %llu\n", (unsigned long long)mh->drainer->looks);
	write_walks(f, mh->dp);
	write_owner_walks(f, mh);
	write_programs(f, mh->dp);
	write_tracked(f, mh->drainer);
	family(f, "connctl_metrics_scrapes_total", "counter", "Scrapes of /metrics, this one too.");
	fprintf(f, "connctl_metrics_scrapes_total %llu\n",
		(unsigned long long)mh->scrapes);
	if (fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}

static int on_request(void *ctx, const char *path, struct http_reply *r)
{
	struct metrics_http *mh = ctx;

	if (strcmp(path, "/metrics")) {
		r->status = 404;
		r->type = "text/plain";
		r->body = strdup("not found: try /metrics\n");
		r->len = r->body ? strlen(r->body) : 0;
		return 0;
	}
	r->body = metrics_text(mh, &r->len);
	if (!r->body)
		return -ENOMEM;
	r->status = 200;
	r->type = "text/plain; version=0.0.4; charset=utf-8";
	return 0;
}

/* "PORT", "ADDR:PORT" or "[ADDR6]:PORT"; the default address is loopback. */
static int parse_listen(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	const char *colon = strrchr(s, ':');
	char addr[64] = "127.0.0.1", *end;
	unsigned long port;

	if (colon) {
		size_t n = (size_t)(colon - s);

		if (n >= sizeof(addr))
			return -EINVAL;
		memcpy(addr, s, n);
		addr[n] = '\0';
	}
	port = strtoul(colon ? colon + 1 : s, &end, 10);
	if (*end || end == (colon ? colon + 1 : s) || port == 0 || port > 65535)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (addr[0] == '[' && addr[strlen(addr) - 1] == ']') {
		addr[strlen(addr) - 1] = '\0';
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		return inet_pton(AF_INET6, addr + 1, &in6->sin6_addr) == 1 ? 0 : -EINVAL;
	}
	in->sin_family = AF_INET;
	in->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, addr, &in->sin_addr) == 1 ? 0 : -EINVAL;
}

/* Our own listening socket: a failure names the real address and errno. */
static int listen_socket(const struct sockaddr_storage *ss)
{
	socklen_t len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
						   sizeof(struct sockaddr_in);
	int fd, on = 1;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) ||
	    bind(fd, (const struct sockaddr *)ss, len) || listen(fd, 64)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Metrics are worth retrying this often while their port cannot be had. */
#define METRICS_RETRY_NS	(5 * NSEC_PER_SEC)

static int metrics_start(struct metrics_http *mh)
{
	int fd, err;

	mh->retry_ns = 0;
	fd = listen_socket(&mh->addr);
	if (fd < 0) {
		/* The agent's job is the rules: it serves them, and tries again. */
		pr_warn("--metrics %s: cannot listen: %s; serving rules without metrics, "
			"trying again every %llu s", mh->listen, strerror(-fd),
			(unsigned long long)(METRICS_RETRY_NS / NSEC_PER_SEC));
		mh->retry_ns = monotonic_ns() + METRICS_RETRY_NS;
		return 0;
	}
	err = http_open(&mh->http, mh->loop, fd, METRICS_CONNECTIONS,
			METRICS_TIMEOUT_S * NSEC_PER_SEC, on_request, mh);
	if (err)
		return err;
	mh->serving = true;
	pr_info("serving metrics on http://%s%s/metrics", strchr(mh->listen, ':') ? "" : "127.0.0.1:",
		mh->listen);
	return 0;
}

int metrics_open(struct metrics_http *mh, struct loop *loop, const char *listen)
{
	mh->http.w.fd = -1;
	mh->loop = loop;
	mh->listen = listen;
	if (!listen)
		return 0;
	if (parse_listen(listen, &mh->addr)) {
		pr_warn("--metrics %s: expected PORT, ADDR:PORT or [ADDR6]:PORT", listen);
		return -EINVAL;
	}
	return metrics_start(mh);
}

void metrics_close(struct metrics_http *mh)
{
	if (mh->serving)
		http_close(&mh->http);
	mh->serving = false;
}

void metrics_tick(struct metrics_http *mh)
{
	if (mh->retry_ns && monotonic_ns() >= mh->retry_ns)
		metrics_start(mh);
	if (mh->serving)
		http_tick(&mh->http);
}
