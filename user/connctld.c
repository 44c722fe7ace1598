// SPDX-License-Identifier: GPL-2.0
/*
 * connctld: the connctl agent. The one place that knows every subsystem: it
 * parses the options, makes each subsystem's context, wires them (the event
 * bus, completions), and owns the turn of the event loop.
 */
#include <errno.h>
#include <malloc.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include "base/clock.h"
#include "base/log.h"
#include "base/loop.h"
#include "engine/bus.h"
#include "engine/counters.h"
#include "engine/drainer.h"
#include "engine/intake.h"
#include "engine/records.h"
#include "engine/rulebook.h"
#include "front/dispatch.h"
#include "front/metrics.h"
#include "front/rules_dir.h"
#include "front/server.h"
#include "kernel/passes.h"
#include "kernel/flows.h"
#include "kernel/loader.h"
#include "kernel/owner_walk.h"
#include "kernel/tc.h"
#include "sys/cgroup.h"
#include "sys/netns.h"
#include "sys/paths.h"
#include "version.h"

/* Flows that ended without a last packet, idle clients, pins: looked at this often. */
#define TICK_NS			(1 * NSEC_PER_SEC)
/* Rounds of served lines per turn, before the loop looks at its other fds. */
#define TURN_ROUNDS_MAX		8
/* Dry runs of readers that are not root: a walk of every connection each. */
#define READER_DRY_RUNS_PER_S	4.0
#define READER_DRY_RUNS_BURST	4.0
/* TCP's keepalive idle time, which bounds the hold, is 32767 s at most. */
#define HELD_TIMEOUT_MAX_NS	(9ULL * 3600 * NSEC_PER_SEC)

struct agent_config {
	const char	*socket_path;
	const char	*pin_dir;
	const char	*rules_dir;		/* --rules-dir; NULL: none */
	const char	*metrics_listen;	/* --metrics; NULL: off */
	char		cgroup_path[PATH_MAX];
	char		state_file[PATH_MAX];	/* "": none */
	bool		state_file_set;
	char		*ifaces[MAX_IFACES];	/* --iface */
	size_t		n_ifaces;
	uint32_t	max_rules;
	uint32_t	max_clients;
	uint32_t	max_reader_clients;
	gid_t		reader_gid;		/* --group: may read; (gid_t)-1: none */
	const char	*reader_group;
	uint32_t	client_idle_s;		/* --client-idle-timeout */
	uint64_t	held_ns;		/* --held-timeout */
	bool		held_pass;		/* --held-then pass */
	int		nice;			/* --nice */
	bool		netns_all;		/* --netns all */
	const char	*netns_paths[NETNS_PATHS_MAX];
	size_t		n_netns_paths;
	bool		uninstall;
	enum log_level	log_level;
};

/* Every subsystem's context; nothing below this file sees them together. */
struct agent {
	struct agent_config	cfg;
	struct loop		loop;
	struct bus		bus;
	struct netns_set	netns;
	struct datapath		dp;
	struct counters		counters;
	struct close_records	records;
	struct rulebook		rb;
	struct drainer		drainer;
	struct intake		intake;
	struct dispatch		dispatch;
	struct rules_dir	rules_dir;
	struct metrics_http	metrics;
	struct server		*server;
	struct watch		signals;
	struct watch		conns;		/* the connection log, when it fills */
	bool			stopping;
};

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
"                    interface of the namespace: flows of every packet\n"
"                    crossing it are counted, marked, stray packets of reset\n"
"                    flows dropped; and, while a block rule stands, the XDP\n"
"                    program, which drops block rules' peers. Repeatable;\n"
"                    interfaces an earlier run had but this one does not name\n"
"                    are released\n"
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
"                    processes, found again as rules come (new ones too).\n"
"                    Each is listed once: cheap where it has hash tables of\n"
"                    its own (sysctl net.ipv4.tcp_child_ehash_entries)\n"
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
"  --nice N          the agent's scheduling priority, -20 to 19 (default\n"
"                    -10). A drain's FIN must leave before a busy client's\n"
"                    next request: on a loaded node, an agent at the usual\n"
"                    priority waits out other tasks' time slices first\n"
"  --uninstall       detach the programs pinned under --pin-dir, remove the\n"
"                    pins and exit (drops enforcement)\n"
"  -v, --verbose     debug logs; twice (-vv) adds libbpf's own\n"
"  -h, --help        this text\n"
"  -V, --version     the version, and exit\n"
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

/* --- options: a table of setters --- */

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

static int set_socket(struct agent_config *c, const char *a) { c->socket_path = a; return 0; }
static int set_pin_dir(struct agent_config *c, const char *a) { c->pin_dir = a; return 0; }
static int set_rules_dir(struct agent_config *c, const char *a) { c->rules_dir = a; return 0; }
static int set_metrics(struct agent_config *c, const char *a) { c->metrics_listen = a; return 0; }
static int set_uninstall(struct agent_config *c, const char *a) { c->uninstall = true; return 0; }

static int set_cgroup(struct agent_config *c, const char *a)
{
	if (realpath(a, c->cgroup_path))
		return 0;
	fprintf(stderr, "connctld: --cgroup %s: %s\n", a, strerror(errno));
	return -errno;
}

static int set_state_file(struct agent_config *c, const char *a)
{
	if (strlen(a) >= sizeof(c->state_file)) {
		fprintf(stderr, "connctld: --state-file: path too long\n");
		return -ENAMETOOLONG;
	}
	snprintf(c->state_file, sizeof(c->state_file), "%s", a);
	c->state_file_set = true;
	return 0;
}

static int set_max_rules(struct agent_config *c, const char *a)
{
	return parse_count("--max-rules", a, CONNCTL_MAX_RULES, &c->max_rules);
}

static int set_max_clients(struct agent_config *c, const char *a)
{
	return parse_count("--max-clients", a, 4096, &c->max_clients);
}

static int set_max_readers(struct agent_config *c, const char *a)
{
	return parse_count("--max-reader-clients", a, 4096, &c->max_reader_clients);
}

static int set_client_idle(struct agent_config *c, const char *a)
{
	return parse_count("--client-idle-timeout", a, 86400, &c->client_idle_s);
}

/*
 * A group of /etc/group, or a number: read from the file itself, since a
 * static connctld has no NSS modules to ask.
 */
static int group_gid(const char *name, gid_t *gid)
{
	struct group *gr;
	unsigned long n;
	int ret = -ENOENT;
	char *end;
	FILE *f;

	n = strtoul(name, &end, 10);
	if (*name && !*end && n < (gid_t)-1) {
		*gid = (gid_t)n;
		return 0;
	}
	f = fopen("/etc/group", "re");
	if (!f)
		return -errno;
	while ((gr = fgetgrent(f))) {
		if (!strcmp(gr->gr_name, name)) {
			*gid = gr->gr_gid;
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

static int set_group(struct agent_config *c, const char *a)
{
	if (group_gid(a, &c->reader_gid)) {
		fprintf(stderr, "connctld: --group %s: no such group in /etc/group\n", a);
		return -ENOENT;
	}
	c->reader_group = a;
	return 0;
}

static int set_held_timeout(struct agent_config *c, const char *a)
{
	char err[ERRLEN];

	if (parse_duration(a, &c->held_ns, false, err)) {
		fprintf(stderr, "connctld: --held-timeout: %s\n", err);
		return -EINVAL;
	}
	if (c->held_ns < NSEC_PER_SEC || c->held_ns > HELD_TIMEOUT_MAX_NS) {
		fprintf(stderr, "connctld: --held-timeout %s: from 1s to 9h\n", a);
		return -EINVAL;
	}
	return 0;
}

static int set_held_then(struct agent_config *c, const char *a)
{
	if (strcmp(a, "reset") && strcmp(a, "pass")) {
		fprintf(stderr, "connctld: --held-then: 'reset' or 'pass', not '%s'\n", a);
		return -EINVAL;
	}
	c->held_pass = !strcmp(a, "pass");
	return 0;
}

static int set_nice(struct agent_config *c, const char *a)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(a, &end, 10);
	if (errno || end == a || *end || n < -20 || n > 19) {
		fprintf(stderr, "connctld: --nice %s: a number from -20 to 19\n", a);
		return -EINVAL;
	}
	c->nice = (int)n;
	return 0;
}

static int set_netns(struct agent_config *c, const char *a)
{
	if (!strcmp(a, "all")) {
		c->netns_all = true;
		return 0;
	}
	if (c->n_netns_paths == NETNS_PATHS_MAX) {
		fprintf(stderr, "connctld: --netns: %d paths at most\n", NETNS_PATHS_MAX);
		return -E2BIG;
	}
	c->netns_paths[c->n_netns_paths++] = a;
	return 0;
}

static int set_iface(struct agent_config *c, const char *a)
{
	if (c->n_ifaces == MAX_IFACES) {
		fprintf(stderr, "connctld: --iface: %d interfaces at most\n", MAX_IFACES);
		return -E2BIG;
	}
	if (strlen(a) >= IF_NAMESIZE) {
		fprintf(stderr, "connctld: --iface %s: not an interface name\n", a);
		return -EINVAL;
	}
	c->ifaces[c->n_ifaces++] = (char *)a;
	return 0;
}

static const struct option_setter {
	struct option	opt;
	int		(*set)(struct agent_config *c, const char *arg);
} option_table[] = {
	{ { "socket",		   required_argument, NULL, 0 }, set_socket },
	{ { "pin-dir",		   required_argument, NULL, 0 }, set_pin_dir },
	{ { "cgroup",		   required_argument, NULL, 0 }, set_cgroup },
	{ { "iface",		   required_argument, NULL, 0 }, set_iface },
	{ { "state-file",	   required_argument, NULL, 0 }, set_state_file },
	{ { "rules-dir",	   required_argument, NULL, 0 }, set_rules_dir },
	{ { "metrics",		   required_argument, NULL, 0 }, set_metrics },
	{ { "netns",		   required_argument, NULL, 0 }, set_netns },
	{ { "max-rules",	   required_argument, NULL, 0 }, set_max_rules },
	{ { "max-clients",	   required_argument, NULL, 0 }, set_max_clients },
	{ { "max-reader-clients",  required_argument, NULL, 0 }, set_max_readers },
	{ { "group",		   required_argument, NULL, 0 }, set_group },
	{ { "client-idle-timeout", required_argument, NULL, 0 }, set_client_idle },
	{ { "held-timeout",	   required_argument, NULL, 0 }, set_held_timeout },
	{ { "held-then",	   required_argument, NULL, 0 }, set_held_then },
	{ { "nice",		   required_argument, NULL, 0 }, set_nice },
	{ { "uninstall",	   no_argument,	      NULL, 0 }, set_uninstall },
};

#define N_SETTERS	(sizeof(option_table) / sizeof(option_table[0]))

/* 0 to run, 1 to exit 0 (help), -1 to exit with a usage error. */
static int parse_options(int argc, char **argv, struct agent_config *cfg)
{
	struct option longopts[N_SETTERS + 4];
	int opt, index;

	for (size_t i = 0; i < N_SETTERS; i++)
		longopts[i] = option_table[i].opt;
	longopts[N_SETTERS] = (struct option){ "verbose", no_argument, NULL, 'v' };
	longopts[N_SETTERS + 1] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[N_SETTERS + 2] = (struct option){ "version", no_argument, NULL, 'V' };
	longopts[N_SETTERS + 3] = (struct option){ NULL, 0, NULL, 0 };
	while ((opt = getopt_long(argc, argv, "vhV", longopts, &index)) != -1) {
		if (opt == 0 && option_table[index].set(cfg, optarg))
			return -1;
		if (opt == 'v' && cfg->log_level < LOG_LIBBPF)
			cfg->log_level++;
		if (opt == 'h' || opt == 'V') {
			fputs(opt == 'h' ? usage_text : "connctld " CONNCTL_VERSION "\n", stdout);
			return 1;
		}
		if (opt == '?') {
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
	if (!cfg->state_file_set)
		path_default_state(cfg->pin_dir, cfg->state_file, sizeof(cfg->state_file));
	return 0;
}

/* --- start --- */

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
	err = state_lock(&agent->rb.journal, path);
	if (err == -EWOULDBLOCK)
		pr_warn("--state-file %s is in use by another running connctld: give each "
			"agent its own (by default it follows --pin-dir)", path);
	else if (err)
		pr_warn("--state-file %s: cannot lock %s.lock: %s", path, path, strerror(-err));
	return err;
}

static void on_signal(struct watch *w, uint32_t events)
{
	struct agent *agent = container_of(w, struct agent, signals);
	struct signalfd_siginfo si;

	if (read(w->fd, &si, sizeof(si)) == sizeof(si)) {
		pr_info("signal %u: stopping; rules stay pinned and in force", si.ssi_signo);
		agent->stopping = true;
	}
}

static int open_signals(struct agent *agent)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	agent->signals.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (agent->signals.fd < 0)
		return -errno;
	agent->signals.handle = on_signal;
	return watch_add(&agent->loop, &agent->signals, EPOLLIN);
}

static int open_netns(struct agent *agent)
{
	struct netns_set *ns = &agent->netns;
	int err;

	ns->all = agent->cfg.netns_all;
	for (size_t i = 0; i < agent->cfg.n_netns_paths; i++)
		ns->paths[ns->n_paths++] = agent->cfg.netns_paths[i];
	err = netns_init(ns);
	if (err)
		pr_warn("cannot read the network namespaces: %s", strerror(-err));
	return err;
}

static void on_conns(struct watch *w, uint32_t events)
{
	struct agent *agent = container_of(w, struct agent, conns);

	datapath_read_conns(&agent->dp);
}

/* The connection index reads its log when the kernel says it fills. */
static int watch_conns(struct agent *agent)
{
	agent->conns = (struct watch){ .fd = datapath_conns_fd(&agent->dp), .handle = on_conns };
	if (agent->conns.fd < 0)
		return 0;
	return watch_add(&agent->loop, &agent->conns, EPOLLIN);
}

/* The engines: the rule book and what closes connections, all on one bus. */
static int open_engines(struct agent *agent)
{
	struct agent_config *cfg = &agent->cfg;
	int err;

	counters_init(&agent->counters, &agent->bus);
	close_records_init(&agent->records, &agent->bus);
	err = rulebook_adopt(&agent->rb);
	if (!err)
		err = watch_conns(agent);
	if (err)
		return err;
	err = tc_attach(&agent->dp, cfg->ifaces, cfg->n_ifaces);
	if (err)
		return err;
	err = drainer_open(&agent->drainer, &agent->loop, &agent->dp, &agent->netns,
			   &agent->bus);
	if (err)
		return err;
	return intake_open(&agent->intake, &agent->loop, &agent->dp, &agent->netns,
			   &agent->bus, &agent->drainer);
}

static int open_front(struct agent *agent)
{
	struct agent_config *cfg = &agent->cfg;
	struct server_config scfg = {
		.path = cfg->socket_path, .max_clients = cfg->max_clients,
		.max_reader_clients = cfg->max_reader_clients, .reader_gid = cfg->reader_gid,
		.client_idle_s = cfg->client_idle_s,
	};
	int err;

	agent->dispatch = (struct dispatch){
		.rb = &agent->rb, .records = &agent->records, .dp = &agent->dp,
		.netns = &agent->netns, .reader_group = cfg->reader_group,
		.n_ifaces = cfg->n_ifaces,
		.reader_dry_runs = { .per_s = READER_DRY_RUNS_PER_S,
				     .burst = READER_DRY_RUNS_BURST },
	};
	datapath_owner_index_init(&agent->dp, &agent->dispatch.owners);
	agent->metrics = (struct metrics_http){
		.counters = &agent->counters, .requests = &agent->dispatch.counters,
		.dry_run_owners = &agent->dispatch.owners,
		.rb = &agent->rb, .dp = &agent->dp, .drainer = &agent->drainer,
		.n_ifaces = cfg->n_ifaces,
	};
	err = metrics_open(&agent->metrics, &agent->loop, cfg->metrics_listen);
	if (err)
		return err;
	/* Last: a client that finds the socket finds an agent ready to serve. */
	return server_open(&agent->server, &scfg, &agent->loop, &agent->dispatch, &agent->bus);
}

static int start(struct agent *agent)
{
	struct agent_config *cfg = &agent->cfg;
	int err;

	rulebook_init(&agent->rb, &agent->dp, &agent->netns, &agent->bus, cfg->state_file,
		      cfg->max_rules);
	err = resolve_cgroup(cfg);
	if (!err)
		err = take_state_file(agent);
	if (!err)
		err = loop_open(&agent->loop);
	if (!err)
		err = open_netns(agent);
	if (!err)
		err = datapath_open(&agent->dp, cfg->pin_dir, cfg->cgroup_path, &agent->netns);
	if (err)
		return err;
	passes_index_start(&agent->dp);
	datapath_set_hold(&agent->dp, cfg->held_ns, cfg->held_pass);
	err = open_engines(agent);
	if (!err)
		err = open_signals(agent);
	if (!err)
		err = rulebook_restore(&agent->rb);
	if (!err)
		err = rules_dir_open(&agent->rules_dir, &agent->loop, &agent->rb, cfg->rules_dir);
	if (err)
		return err;
	/* What happened while no agent ran is handled before anyone is served. */
	intake_poll(&agent->intake);
	err = open_front(agent);
	if (err)
		return err;
	pr_info("serving %s (pin dir %s, cgroup %s, state file %s)", cfg->socket_path,
		cfg->pin_dir, cfg->cgroup_path, cfg->state_file[0] ? cfg->state_file : "none");
	/* Loading the programs (BTF, relocations) left free memory in the heap. */
	malloc_trim(0);
	return 0;
}

/* --- the turn of the loop --- */

/*
 * After the loop's handlers ran: the rule.adds they queued applied by one
 * walk, what the kernel reported of it taken in, the changes on disk, then
 * the responses sent; again for requests still buffered. True when some
 * remain (the loop should not wait for more input).
 */
static bool turn(struct agent *agent)
{
	for (int round = 0; ; round++) {
		rulebook_apply(&agent->rb);
		intake_poll(&agent->intake);
		rulebook_save(&agent->rb);
		server_flush(agent->server);
		if (round == TURN_ROUNDS_MAX)
			return true;
		if (!server_serve_buffered(agent->server))
			return false;
	}
}

static void tick(struct agent *agent)
{
	/* Between turns no request or file holds a rule: only the standing ones count. */
	rulebook_collect_paths(&agent->rb);
	flows_collect(&agent->dp);
	datapath_check_pins(&agent->dp, agent->cfg.pin_dir);
	/* A followed drain is held back (cgroup_skb) and may report at recv(). */
	datapath_release_links(&agent->dp, drainer_idle(&agent->drainer) ? 0 :
					   LINKS_HOLD | LINKS_RECV);
	server_tick(agent->server);
	metrics_tick(&agent->metrics);
}

static int run(struct agent *agent)
{
	uint64_t next_tick = 0;
	bool backlog = false;
	int err;

	while (!agent->stopping) {
		int timeout = rulebook_expire(&agent->rb);
		uint64_t now = monotonic_ns();

		if (now >= next_tick) {
			tick(agent);
			next_tick = now + TICK_NS;
		}
		if (timeout < 0 || timeout > (int)(TICK_NS / NSEC_PER_MSEC))
			timeout = (int)(TICK_NS / NSEC_PER_MSEC);
		/* Requests are buffered still: look at the others, do not wait. */
		if (backlog)
			timeout = 0;
		/* What the last turn changed (a ttl run out) reaches the disk first. */
		rulebook_save(&agent->rb);
		err = loop_run_once(&agent->loop, timeout);
		if (err) {
			pr_warn("epoll_wait: %s", strerror(-err));
			return err;
		}
		backlog = turn(agent);
	}
	rulebook_save(&agent->rb);
	return 0;
}

static void stop(struct agent *agent)
{
	server_close(agent->server);
	metrics_close(&agent->metrics);
	dispatch_close(&agent->dispatch);
	rules_dir_close(&agent->rules_dir);
	if (agent->signals.fd >= 0)
		close(agent->signals.fd);
	intake_close(&agent->intake);
	drainer_close(&agent->drainer);
	datapath_close(&agent->dp);
	rulebook_close(&agent->rb);
	netns_free(&agent->netns);
	loop_close(&agent->loop);
}

int main(int argc, char **argv)
{
	static struct agent agent = {
		.cfg = {
			.socket_path	= DEFAULT_SOCKET_PATH,
			.pin_dir	= DEFAULT_PIN_DIR,
			.max_rules	= CONNCTL_MAX_RULES,
			.max_clients	= 64,
			.max_reader_clients = 16,
			.log_level	= LOG_INFO,
			.reader_gid	= (gid_t)-1,
			.client_idle_s	= 300,
			.held_ns	= 10 * NSEC_PER_SEC,
			.nice		= -10,
		},
		.loop		= { .epoll_fd = -1 },
		.netns		= { .own_fd = -1, .own_diag_fd = -1 },
		.drainer	= { .timer = { .fd = -1 } },
		.rules_dir	= { .w = { .fd = -1 } },
		.metrics	= { .http = { .w = { .fd = -1 } } },
		.signals	= { .fd = -1 },
	};
	int err;

	/*
	 * Tables that grow by doubling (rules, connections) are mapped, not
	 * in the heap: a fixed threshold keeps glibc from raising it as they
	 * are freed, so the copies they leave behind are not resident.
	 */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	err = parse_options(argc, argv, &agent.cfg);
	if (err)
		return err > 0 ? 0 : 2;
	log_init("connctld", agent.cfg.log_level);
	datapath_log_init();
	if (agent.cfg.uninstall) {
		err = datapath_uninstall(agent.cfg.pin_dir);
		if (!err)
			pr_info("uninstalled %s", agent.cfg.pin_dir);
		return err ? 1 : 0;
	}
	/* Not fatal: an unprivileged or confined agent runs at what it has. */
	if (setpriority(PRIO_PROCESS, 0, agent.cfg.nice))
		pr_warn("cannot set priority %d: %s", agent.cfg.nice, strerror(errno));
	err = start(&agent);
	if (!err)
		err = run(&agent);
	stop(&agent);
	return err ? 1 : 0;
}
