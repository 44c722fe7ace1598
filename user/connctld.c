// SPDX-License-Identifier: GPL-2.0
/*
 * connctld: the connctl agent. Loads the BPF programs, keeps the rules in
 * pinned maps, closes matching connections, and serves the control socket.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include "agent.h"
#include "base/clock.h"
#include "kernel/flows.h"
#include "kernel/rule_maps.h"
#include "sys/cgroup.h"
#include "front/rules_dir.h"
#include "sys/paths.h"
#include "engine/journal.h"

#define EPOLL_BATCH	64
/* Dry runs of readers that are not root: a walk of every connection each. */
#define READER_DRY_RUNS_PER_S	4.0
#define READER_DRY_RUNS_BURST	4.0
/* Flows that ended without a last packet to say so are removed this often. */
#define FLOWS_COLLECT_NS	(1 * NSEC_PER_SEC)

static const char usage_text[] =
"Usage: connctld [OPTIONS]\n"
"\n"
"The connctl agent: closes TCP connections that match rules pushed over its\n"
"control socket (see `connctl --help`). It acts on the network namespace it\n"
"is started in; start it in another with `nsenter --net=/var/run/netns/NAME`\n"
"(not `ip netns exec`, which hides /sys/fs/bpf and the cgroup mount).\n"
"\n"
"Options:\n"
"  --socket PATH     control socket (default " DEFAULT_SOCKET_PATH ")\n"
"  --pin-dir DIR     bpffs directory for maps and links, mounting bpffs on its\n"
"                    parent if needed (default " DEFAULT_PIN_DIR ")\n"
"  --cgroup DIR      cgroup v2 directory whose sockets are watched for new\n"
"                    connections (default: the cgroup v2 root, from /proc/mounts)\n"
"  --iface IF        attach the tc programs (ingress and egress) on this\n"
"                    interface of the namespace: flows of every packet crossing\n"
"                    it are counted, marked, and stray packets of reset flows\n"
"                    dropped. Repeatable; interfaces an earlier run had but\n"
"                    this one does not name are released\n"
"  --state-file PATH the standing rules (a journal: every change is on disk\n"
"                    before it is acknowledged), read at start when no rules\n"
"                    are pinned (after a reboot)\n"
"                    (default " DEFAULT_STATE_FILE " with the default\n"
"                    --pin-dir, else " DEFAULT_STATE_DIR "/<pin dir with - for\n"
"                    />.json; \"\" for none). Locked: one agent a file. Its\n"
"                    directory must be writable by root alone\n"
"  --rules-dir DIR   keep the rules of every *.json file in DIR in force, and\n"
"                    follow the files as they change (inotify): a file holds a\n"
"                    rule object, as in rule.add, or an array of them, without\n"
"                    id, ttl or once. How a fleet is driven (a Kubernetes\n"
"                    ConfigMap, any configuration tool). While a file does not\n"
"                    parse, nothing changes. These rules cannot be deleted over\n"
"                    the socket, and are not in --state-file\n"
"  --metrics [ADDR:]PORT\n"
"                    serve Prometheus metrics at http://ADDR:PORT/metrics\n"
"                    (ADDR: 127.0.0.1 when left out; [::1] style for IPv6).\n"
"                    Off by default\n"
"  --netns all       act in every network namespace of the host, not only its\n"
"                    own: those under /var/run/netns and those of running\n"
"                    processes, found again as rules come (new ones too)\n"
"  --netns PATH      act in this namespace too (/var/run/netns/NAME,\n"
"                    /proc/PID/ns/net); repeatable. New connections are seen\n"
"                    in any namespace for processes of --cgroup\n"
"  --max-rules N     standing rules at most (default 131072)\n"
"  --max-clients N   control socket clients of root at once (default 64)\n"
"  --max-reader-clients N\n"
"                    clients of other users at once (default 16), counted\n"
"                    apart so readers never lock root out\n"
"  --group NAME      members of this group may read (rule show, flow show,\n"
"                    stats, events) through the socket, which becomes theirs\n"
"                    (0660); only root may change rules. Default: root only\n"
"  --client-idle-timeout S\n"
"                    close a client silent for S seconds, with an\n"
"                    idle_timeout error line (default 300)\n"
"  --held-timeout DURATION\n"
"                    a new connection matching a reset rule is held by the\n"
"                    kernel (no data either way) until the agent resets it,\n"
"                    within a millisecond. With no agent running, it is held\n"
"                    this long at most (default 10s; 1s to 9h)\n"
"  --held-then reset|pass\n"
"                    what the kernel does then: reset it (the default: fail\n"
"                    closed), or let it through (fail open)\n"
"  --uninstall       detach the programs pinned under --pin-dir, remove the\n"
"                    pins and exit (drops enforcement)\n"
"  -v, --verbose     debug logs; twice (-vv) adds libbpf's own\n"
"  -h, --help        this text\n"
"\n"
"Stopping connctld (SIGTERM, SIGINT) keeps the programs and rules pinned and\n"
"in force; a restarted connctld adopts them.\n"
"\n"
"Examples:\n"
"  connctld --rules-dir /etc/connctl/rules.d --metrics 9540\n"
"      the host's agent: rules from files (and the socket), metrics on\n"
"      http://127.0.0.1:9540/metrics\n"
"  nsenter --net=/var/run/netns/demo connctld --cgroup /sys/fs/cgroup/demo \\\n"
"      --pin-dir /sys/fs/bpf/demo --socket /run/connctl-demo/connctl.sock \\\n"
"      --state-file \"\"\n"
"      a trial in a namespace of its own, leaving the host alone\n"
"  connctld --uninstall\n"
"      end enforcement: detach everything and remove the pins\n";

enum {
	OPT_SOCKET = 256,
	OPT_PIN_DIR,
	OPT_CGROUP,
	OPT_MAX_RULES,
	OPT_MAX_CLIENTS,
	OPT_UNINSTALL,
	OPT_IFACE,
	OPT_STATE_FILE,
	OPT_GROUP,
	OPT_CLIENT_IDLE,
	OPT_RULES_DIR,
	OPT_METRICS,
	OPT_NETNS,
	OPT_MAX_READERS,
	OPT_HELD_TIMEOUT,
	OPT_HELD_THEN,
};

static const struct option long_options[] = {
	{ "socket",	 required_argument, NULL, OPT_SOCKET },
	{ "pin-dir",	 required_argument, NULL, OPT_PIN_DIR },
	{ "cgroup",	 required_argument, NULL, OPT_CGROUP },
	{ "max-rules",	 required_argument, NULL, OPT_MAX_RULES },
	{ "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
	{ "max-reader-clients", required_argument, NULL, OPT_MAX_READERS },
	{ "held-timeout", required_argument, NULL, OPT_HELD_TIMEOUT },
	{ "held-then",	 required_argument, NULL, OPT_HELD_THEN },
	{ "uninstall",	 no_argument,	    NULL, OPT_UNINSTALL },
	{ "iface",	 required_argument, NULL, OPT_IFACE },
	{ "state-file",	 required_argument, NULL, OPT_STATE_FILE },
	{ "rules-dir",	 required_argument, NULL, OPT_RULES_DIR },
	{ "metrics",	 required_argument, NULL, OPT_METRICS },
	{ "netns",	 required_argument, NULL, OPT_NETNS },
	{ "group",	 required_argument, NULL, OPT_GROUP },
	{ "client-idle-timeout", required_argument, NULL, OPT_CLIENT_IDLE },
	{ "verbose",	 no_argument,	    NULL, 'v' },
	{ "help",	 no_argument,	    NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int watch_add(int epoll_fd, struct watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, w->fd, &ev);
}

int watch_mod(int epoll_fd, struct watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(epoll_fd, EPOLL_CTL_MOD, w->fd, &ev);
}

void watch_del(int epoll_fd, struct watch *w)
{
	epoll_ctl(epoll_fd, EPOLL_CTL_DEL, w->fd, NULL);
}

static int parse_count(const char *opt, const char *s, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v == 0 || v > max) {
		fprintf(stderr, "connctld: %s: '%s' is not a number from 1 to %u\n",
			opt, s, max);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

/* TCP's keepalive idle time, which bounds the hold, is 32767 s at most. */
#define HELD_TIMEOUT_MAX_NS	(9ULL * 3600 * NSEC_PER_SEC)

static int parse_held_timeout(const char *s, uint64_t *ns)
{
	char err[ERRLEN];

	if (parse_duration(s, ns, false, err)) {
		fprintf(stderr, "connctld: --held-timeout: %s\n", err);
		return -EINVAL;
	}
	if (*ns < NSEC_PER_SEC || *ns > HELD_TIMEOUT_MAX_NS) {
		fprintf(stderr, "connctld: --held-timeout %s: from 1s to 9h\n", s);
		return -EINVAL;
	}
	return 0;
}

/* 0 to run, 1 to exit 0 (help), -1 to exit with a usage error. */
static int parse_options(int argc, char **argv, struct agent *agent, bool *uninstall)
{
	struct agent_config *cfg = &agent->cfg;
	bool state_file_set = false;
	int opt;

	while ((opt = getopt_long(argc, argv, "vh", long_options, NULL)) != -1) {
		switch (opt) {
		case OPT_SOCKET:
			cfg->socket_path = optarg;
			break;
		case OPT_PIN_DIR:
			cfg->pin_dir = optarg;
			break;
		case OPT_CGROUP:
			if (!realpath(optarg, cfg->cgroup_path)) {
				fprintf(stderr, "connctld: --cgroup %s: %s\n", optarg,
					strerror(errno));
				return -1;
			}
			break;
		case OPT_MAX_RULES:
			if (parse_count("--max-rules", optarg, CONNCTL_MAX_RULES,
					&cfg->max_rules))
				return -1;
			break;
		case OPT_MAX_CLIENTS:
			if (parse_count("--max-clients", optarg, 4096, &agent->max_clients))
				return -1;
			break;
		case OPT_MAX_READERS:
			if (parse_count("--max-reader-clients", optarg, 4096,
					&agent->max_reader_clients))
				return -1;
			break;
		case OPT_HELD_TIMEOUT:
			if (parse_held_timeout(optarg, &cfg->held_ns))
				return -1;
			break;
		case OPT_HELD_THEN:
			if (strcmp(optarg, "reset") && strcmp(optarg, "pass")) {
				fprintf(stderr, "connctld: --held-then: 'reset' or 'pass', not "
					"'%s'\n", optarg);
				return -1;
			}
			cfg->held_pass = !strcmp(optarg, "pass");
			break;
		case OPT_UNINSTALL:
			*uninstall = true;
			break;
		case OPT_GROUP: {
			struct group *gr = getgrnam(optarg);

			if (!gr) {
				fprintf(stderr, "connctld: --group %s: no such group\n", optarg);
				return -1;
			}
			cfg->reader_gid = gr->gr_gid;
			cfg->reader_group = optarg;
			break;
		}
		case OPT_CLIENT_IDLE:
			if (parse_count("--client-idle-timeout", optarg, 86400,
					&cfg->client_idle_s))
				return -1;
			break;
		case OPT_STATE_FILE:
			state_file_set = true;
			if (strlen(optarg) >= sizeof(cfg->state_file)) {
				fprintf(stderr, "connctld: --state-file: path too long\n");
				return -1;
			}
			snprintf(cfg->state_file, sizeof(cfg->state_file), "%s", optarg);
			break;
		case OPT_RULES_DIR:
			cfg->rules_dir = optarg;
			break;
		case OPT_METRICS:
			cfg->metrics_listen = optarg;
			break;
		case OPT_NETNS:
			if (!strcmp(optarg, "all")) {
				agent->netns.all = true;
			} else if (agent->netns.n_paths == NETNS_PATHS_MAX) {
				fprintf(stderr, "connctld: --netns: %d paths at most\n",
					NETNS_PATHS_MAX);
				return -1;
			} else {
				agent->netns.paths[agent->netns.n_paths++] = optarg;
			}
			break;
		case OPT_IFACE:
			if (cfg->n_ifaces == MAX_IFACES) {
				fprintf(stderr, "connctld: --iface: %d interfaces at most\n",
					MAX_IFACES);
				return -1;
			}
			if (strlen(optarg) >= IF_NAMESIZE) {
				fprintf(stderr, "connctld: --iface %s: not an interface name\n",
					optarg);
				return -1;
			}
			cfg->ifaces[cfg->n_ifaces++] = optarg;
			break;
		case 'v':
			if (cfg->log_level < LOG_LIBBPF)
				cfg->log_level++;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 1;
		default:
			fputs("Try 'connctld --help'.\n", stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "connctld: unexpected argument '%s'\nTry 'connctld --help'.\n",
			argv[optind]);
		return -1;
	}
	/* Two agents with their own pin dirs never meet in one state file. */
	if (!state_file_set)
		path_default_state(cfg->pin_dir, cfg->state_file, sizeof(cfg->state_file));
	return 0;
}

/*
 * The state file is this agent's alone, in a directory no one else may
 * write: another agent appending to it, or a user planting a link where it
 * is rewritten, would lose or forge acknowledged rules.
 */
static int take_state_file(struct agent *agent)
{
	const char *path = agent->cfg.state_file;
	char why[PATH_MAX + 160];
	int err;

	if (!path[0])
		return 0;
	err = path_dir_private(path, why, sizeof(why));
	if (err) {
		pr_warn("--state-file %s: %s", path, why);
		return err;
	}
	err = state_lock(&agent->journal, path);
	if (err == -EWOULDBLOCK)
		pr_warn("--state-file %s is in use by another running connctld: give each "
			"agent its own (by default it follows --pin-dir)", path);
	else if (err)
		pr_warn("--state-file %s: cannot lock %s.lock: %s", path, path, strerror(-err));
	return err;
}

static int resolve_cgroup(struct agent_config *cfg)
{
	int err;

	if (!cfg->cgroup_path[0]) {
		err = cgroup2_find_root(cfg->cgroup_path, sizeof(cfg->cgroup_path));
		if (err) {
			pr_warn("no cgroup v2 mount in /proc/mounts (under `ip netns exec`? it "
				"remounts /sys: use `nsenter --net=/var/run/netns/NAME`)");
			return err;
		}
	}
	err = cgroup2_check(cfg->cgroup_path);
	if (err == -EMEDIUMTYPE)
		pr_warn("%s is not a cgroup v2 directory", cfg->cgroup_path);
	else if (err)
		pr_warn("cgroup %s: %s", cfg->cgroup_path, strerror(-err));
	return err;
}

/* Rules pinned by an earlier run stay in force: take them over, same ids. */
static int adopt_rules(struct agent *agent)
{
	int err = kernel_rules_adopt(&agent->dp, &agent->rules);

	if (!err && agent->rules.n)
		pr_info("adopted %zu standing rules from %s", agent->rules.n,
			agent->cfg.pin_dir);
	return err;
}

struct agent_watch {
	struct watch	w;
	struct agent	*agent;
};

static void on_events(struct watch *w, uint32_t events)
{
	struct agent_watch *aw = (struct agent_watch *)w;

	if (events_poll(aw->agent))
		pr_warn("reading events failed");
}

static void on_signal(struct watch *w, uint32_t events)
{
	struct agent_watch *aw = (struct agent_watch *)w;
	struct signalfd_siginfo si;

	if (read(w->fd, &si, sizeof(si)) == sizeof(si)) {
		pr_info("signal %u: stopping; rules stay pinned and in force", si.ssi_signo);
		aw->agent->stopping = true;
	}
}

static int open_signals(struct agent_watch *aw)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	aw->w.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (aw->w.fd < 0)
		return -errno;
	aw->w.handle = on_signal;
	return watch_add(aw->agent->epoll_fd, &aw->w, EPOLLIN) ? -errno : 0;
}

static int run(struct agent *agent)
{
	struct epoll_event evs[EPOLL_BATCH];

	uint64_t next_collect = 0;
	bool backlog = false;

	while (!agent->stopping) {
		int timeout = agent_expire_rules(agent);
		uint64_t now = monotonic_ns();

		if (now >= next_collect) {
			flows_collect(agent);
			datapath_check_pins(&agent->dp, agent->cfg.pin_dir);
			server_expire_idle(agent);
			metrics_tick(agent);
			next_collect = now + FLOWS_COLLECT_NS;
		}
		if (timeout < 0 || timeout > (int)(FLOWS_COLLECT_NS / NSEC_PER_MSEC))
			timeout = (int)(FLOWS_COLLECT_NS / NSEC_PER_MSEC);
		/* Requests are buffered still: look at the others, do not wait. */
		if (backlog)
			timeout = 0;
		/* What the last turn changed reaches the disk before we wait again. */
		agent_save_state(agent);
		int n = epoll_wait(agent->epoll_fd, evs, EPOLL_BATCH, timeout);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_warn("epoll_wait: %s", strerror(errno));
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			struct watch *w = evs[i].data.ptr;

			w->handle(w, evs[i].events);
		}
		backlog = server_commit(agent);
	}
	/* What the last turn changed, before the agent goes. */
	agent_save_state(agent);
	return 0;
}

static int start(struct agent *agent, struct agent_watch *events_w,
		 struct agent_watch *signal_w)
{
	int err;

	err = resolve_cgroup(&agent->cfg);
	if (err)
		return err;
	err = take_state_file(agent);
	if (err)
		return err;
	agent->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (agent->epoll_fd < 0)
		return -errno;
	err = netns_init(&agent->netns);
	if (err) {
		pr_warn("cannot read the network namespaces: %s", strerror(-err));
		return err;
	}
	err = datapath_open(&agent->dp, agent->cfg.pin_dir, agent->cfg.cgroup_path);
	if (err)
		return err;
	agent->dp.netns = &agent->netns;
	datapath_set_hold(&agent->dp, agent->cfg.held_ns, agent->cfg.held_pass);
	err = adopt_rules(agent);
	if (err)
		return err;
	err = tc_attach(&agent->dp, agent->cfg.ifaces, agent->cfg.n_ifaces);
	if (err)
		return err;
	err = events_open(agent);
	if (err)
		return err;
	events_w->w.fd = ring_buffer__epoll_fd(agent->events);
	events_w->w.handle = on_events;
	if (watch_add(agent->epoll_fd, &events_w->w, EPOLLIN))
		return -errno;
	err = open_signals(signal_w);
	if (err)
		return err;
	err = drain_open(agent);
	if (err)
		return err;
	err = agent_restore_rules(agent);
	if (err)
		return err;
	err = rules_dir_open(agent);
	if (err)
		return err;
	/* What happened while no agent ran is handled before anyone is served. */
	events_poll(agent);
	err = metrics_open(agent, agent->cfg.metrics_listen);
	if (err)
		return err;
	/* Last: a client that finds the socket finds an agent ready to serve. */
	err = server_open(agent, agent->cfg.socket_path);
	if (err)
		return err;
	pr_info("serving %s (pin dir %s, cgroup %s, state file %s)", agent->cfg.socket_path,
		agent->cfg.pin_dir, agent->cfg.cgroup_path,
		agent->cfg.state_file[0] ? agent->cfg.state_file : "none");
	return 0;
}

int main(int argc, char **argv)
{
	struct agent agent = {
		.cfg = {
			.socket_path	= DEFAULT_SOCKET_PATH,
			.pin_dir	= DEFAULT_PIN_DIR,
			.max_rules	= CONNCTL_MAX_RULES,
			.log_level	= LOG_INFO,
			.state_file	= DEFAULT_STATE_FILE,
			.reader_gid	= (gid_t)-1,
			.client_idle_s	= 300,
			.held_ns	= 10 * NSEC_PER_SEC,
		},
		.max_clients	= 64,
		.max_reader_clients = 16,
		.reader_dry_runs = { .per_s = READER_DRY_RUNS_PER_S,
				     .burst = READER_DRY_RUNS_BURST },
		.diag_fd	= -1,
		.epoll_fd	= -1,
		.drain		= { .timer_fd = -1 },
		.journal	= { .fd = -1, .lock_fd = -1 },
		.rules_dir	= { .w.fd = -1 },
		.metrics_watch	= { .fd = -1 },
		.netns		= { .own_fd = -1 },
	};
	struct agent_watch events_w = { .w.fd = -1, .agent = &agent };
	struct agent_watch signal_w = { .w.fd = -1, .agent = &agent };
	bool uninstall = false;
	int err;

	err = parse_options(argc, argv, &agent, &uninstall);
	if (err)
		return err > 0 ? 0 : 2;
	log_init("connctld", agent.cfg.log_level);

	if (uninstall) {
		err = datapath_uninstall(agent.cfg.pin_dir);
		if (!err)
			pr_info("uninstalled %s", agent.cfg.pin_dir);
		return err ? 1 : 0;
	}

	err = start(&agent, &events_w, &signal_w);
	if (!err)
		err = run(&agent);

	server_close(&agent);
	metrics_close(&agent);
	rules_dir_close(&agent);
	if (signal_w.w.fd >= 0)
		close(signal_w.w.fd);
	drain_close(&agent);
	events_close(&agent);
	datapath_close(&agent.dp);
	rule_table_free(&agent.rules);
	state_journal_close(&agent.journal);
	netns_free(&agent.netns);
	if (agent.epoll_fd >= 0)
		close(agent.epoll_fd);
	return err ? 1 : 0;
}
