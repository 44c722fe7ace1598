// SPDX-License-Identifier: GPL-2.0
/*
 * connctl: the command line client of connctld. Turns `object verb args`
 * into one JSON request on the control socket and prints the response.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "sys/paths.h"
#include "version.h"

enum exit_code {
	EXIT_OK		= 0,
	EXIT_REFUSED	= 1,	/* the agent said no */
	EXIT_USAGE	= 2,
	EXIT_UNREACHABLE = 3,	/* no agent answered */
};

static const char usage_text[] =
"Usage: connctl [--socket PATH] [-j | -p] OBJECT [VERB] [ARGS]\n"
"\n"
"Closes TCP connections, and connected UDP sockets, by rule, through the\n"
"connctld agent.\n"
"\n"
"  connctl rule add action ACTION [MATCH...] [OPTION...] [dry-run]\n"
"      ACTION   reset    RST now, for matches that exist and that come later\n"
"               block    reset, and drop the peer's packets at XDP on connctld's\n"
"                        --iface interfaces: its SYNs never reach the stack\n"
"               drain    FIN once the response in flight is acknowledged and\n"
"                        the connection is quiet (RST after timeout)\n"
"               cancel   FIN now; the owner's blocked reads return 0, writes\n"
"                        fail with EPIPE\n"
"               observe  close nothing: count (and mark) the flows at tc\n"
"      MATCH    (at least one; from the socket's own point of view, so one\n"
"               rule covers server-side and client-side sockets)\n"
"               local PREFIX    local address, IPv4 or IPv6, e.g. 10.0.0.0/8\n"
"               remote PREFIX   remote address, e.g. 2001:db8::/32, 192.0.2.7\n"
"               lport P[-Q]     local port or range\n"
"               rport P[-Q]     remote port or range\n"
"               netns PATH      only in this network namespace (connctld\n"
"                               --netns): /var/run/netns/NAME, /proc/PID/ns/net,\n"
"                               or net:[INODE]\n"
"               cgroup PATH     sockets of processes in this cgroup v2 subtree\n"
"                               (a pod's, a service's): /system.slice/x.service,\n"
"                               or with the mount point, or cgroup:[ID]; 7\n"
"                               levels deep at most\n"
"               proto tcp|udp   tcp (the default), or connected UDP sockets:\n"
"                               reset ends them (ECONNABORTED) and refuses\n"
"                               new connect() and sendto() to the peer\n"
"                               (EPERM); cancel wakes a blocked recv() (0);\n"
"                               unconnected sockets (servers) are never touched\n"
"      OPTION   timeout DUR     drain only: reset what has not drained by then\n"
"                               (default 30s)\n"
"               quiet DUR       drain only: how long a connection must be idle\n"
"                               at a boundary before its FIN (default 500ms);\n"
"                               longer than the pauses of a paced response;\n"
"                               0: the FIN follows the ACK that ends a response\n"
"               mark N          packets of its flows carry skb mark N at tc\n"
"                               (connctld --iface), for tc, nftables, routing\n"
"               ttl DUR         remove the rule after DUR\n"
"               once            apply to existing connections, keep no rule\n"
"               id N            choose the rule's id (default: the next free)\n"
"      dry-run  (last) list the connections the rule would match now, with\n"
"               their owners' pid and command; changes nothing\n"
"      DUR is a whole number with a unit: 500ms, 30s, 5m, 1h.\n"
"      Prints the rule's id and how many existing connections it matched.\n"
"  connctl rule del ID\n"
"      Also leaves alone what the rule tagged and had not closed yet.\n"
"  connctl rule show [ID]\n"
"      Rules with counts: matched when added, new matches, and connections\n"
"      closed by outcome: fin, rst, rst-timeout, rst-no-owner; refused: UDP\n"
"      connect() and sendto() calls a reset rule failed with EPERM.\n"
"  connctl flow show [rule ID]\n"
"      Flows the rules matched, as tc sees them on connctld's --iface\n"
"      interfaces: tuple, rule, state, mark, packets and bytes each way,\n"
"      packets dropped after a reset.\n"
"  connctl stats\n"
"      Per-rule tc counters: flows, packets and bytes each way, dropped.\n"
"  connctl events\n"
"      The last 256 connections the agent closed: rule, tuple, outcome,\n"
"      bytes in and out, time from tag (and from the last ACK) to close.\n"
"  connctl watch [rule ID]\n"
"      Live events until interrupted: rules added (with what they matched)\n"
"      and removed (deleted or expired); connections tagged to close, closed\n"
"      (fin, rst, rst-timeout, rst-no-owner: bytes, time to close) or ended\n"
"      by their owner or peer first. With -j, one JSON object a line. A\n"
"      watcher that reads too slowly is told how many events it lost.\n"
"\n"
"Options:\n"
"  --socket PATH   agent's control socket (default " DEFAULT_SOCKET_PATH ")\n"
"  -j, --json      JSON output (errors too)\n"
"  -p, --pretty    indented JSON output\n"
"  -h, --help      this text\n"
"  -V, --version   the version, and exit\n"
"\n"
"Examples:\n"
"  connctl rule add action reset remote 192.0.2.7       # cut a client off now\n"
"  connctl rule add action drain lport 8080 timeout 1m  # drain a backend\n"
"  connctl rule add action cancel remote 198.51.100.4 rport 51234 once\n"
"                                                       # wake a server stuck on a client\n"
"  connctl rule add action reset lport 6379 once        # like ss -K, once\n"
"  connctl rule add action reset remote 10.1.0.0/16 dry-run  # what would it cut?\n"
"  connctl rule add action observe lport 443 mark 0x10  # mark, count, keep\n"
"  connctl -j rule show\n"
"  connctl watch rule 3                                 # follow a drain\n"
"\n"
"Exit status: 0 done, 1 the agent refused (reason on stderr), 2 usage error,\n"
"3 the agent could not be reached.\n";

static bool json_output;
static size_t json_flags = JSON_COMPACT;

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("connctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'connctl --help'.\n", stderr);
	exit(EXIT_USAGE);
}

static void print_json(json_t *v)
{
	json_dumpf(v, stdout, json_flags);
	fputc('\n', stdout);
}

/* Errors of the CLI itself, in the same shape as the agent's. */
static int fail(int code, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(int code, const char *kind, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (json_output) {
		json_t *err = json_pack("{s:{s:s, s:s}}", "error", "code", kind,
					"message", msg);

		print_json(err);
		json_decref(err);
	} else {
		fprintf(stderr, "connctl: %s\n", msg);
	}
	return code;
}

static int read_line(int fd, char **line)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;
		char *nl;

		if (len == cap) {
			char *p = realloc(buf, cap * 2);

			if (!p) {
				free(buf);
				return -ENOMEM;
			}
			buf = p;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - len, 0);
		if (n <= 0) {
			free(buf);
			return n ? -errno : -ECONNRESET;
		}
		len += (size_t)n;
		nl = memchr(buf, '\n', len);
		if (nl) {
			*nl = '\0';
			*line = buf;
			return 0;
		}
	}
}

/*
 * connctld runs as root. A socket served by anyone else is an impostor's
 * (its path was free for the taking, in a directory others may write):
 * nothing is sent to it.
 */
static int check_peer(const char *path, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
		close(fd);
		return fail(EXIT_UNREACHABLE, "unreachable", "%s: cannot tell who serves it: %s",
			    path, strerror(errno));
	}
	if (cred.uid != 0) {
		close(fd);
		return fail(EXIT_UNREACHABLE, "not_root",
			    "%s is served by pid %d of uid %u, not by root: not connctld; "
			    "nothing was sent (keep the socket in a directory only root "
			    "may write)", path, (int)cred.pid, (unsigned int)cred.uid);
	}
	return EXIT_OK;
}

/* A connection to the agent in *fd, or an exit code. */
static int agent_connect(const char *path, int *fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return fail(EXIT_USAGE, "usage", "socket path %s is too long", path);
	strcpy(sa.sun_path, path);
	*fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*fd < 0 || connect(*fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = errno;
		if (*fd >= 0)
			close(*fd);
		return fail(EXIT_UNREACHABLE, "unreachable",
			    "cannot reach connctld at %s: %s%s", path, strerror(err),
			    err == ENOENT || err == ECONNREFUSED ?
			    " (is connctld running? `make run` starts it)" : "");
	}
	return check_peer(path, *fd);
}

static int send_request(int fd, json_t *req)
{
	char *text = json_dumps(req, JSON_COMPACT);
	int err;

	err = text && send(fd, text, strlen(text), MSG_NOSIGNAL) >= 0 &&
	      send(fd, "\n", 1, MSG_NOSIGNAL) == 1 ? 0 : -errno;
	free(text);
	return err;
}

/* Send one request; *resp is the parsed response. Returns an exit code. */
static int call_agent(const char *path, json_t *req, json_t **resp)
{
	char *line = NULL;
	json_error_t jerr;
	int fd, err;

	err = agent_connect(path, &fd);
	if (err)
		return err;
	/*
	 * Read even when the send failed: an agent that refused us (too many
	 * clients) answered before closing, and that answer says why.
	 */
	err = send_request(fd, req);
	if (!read_line(fd, &line))
		err = 0;
	else if (!err)
		err = -ECONNRESET;
	close(fd);
	if (err)
		return fail(EXIT_UNREACHABLE, "unreachable", "connctld at %s did not answer: %s",
			    path, strerror(-err));
	*resp = json_loads(line, 0, &jerr);
	free(line);
	if (!json_is_object(*resp))
		return fail(EXIT_UNREACHABLE, "unreachable", "connctld sent a malformed response");
	return EXIT_OK;
}

static int agent_refused(json_t *resp)
{
	json_t *err = json_object_get(resp, "error");
	const char *code = json_string_value(json_object_get(err, "code"));
	const char *msg = json_string_value(json_object_get(err, "message"));

	if (json_output) {
		json_t *out = json_pack("{s:O}", "error", err);

		print_json(out);
		json_decref(out);
	} else {
		fprintf(stderr, "connctl: %s (%s)\n", msg ? msg : "refused",
			code ? code : "?");
	}
	return EXIT_REFUSED;
}

/* A number from 1 to 2^32 - 1 in base (0: also 0x...), or 0 if s is none. */
static uint32_t parse_u32(const char *s, int base)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, base);
	if (errno || *end || end == s || v > UINT32_MAX || s[0] == '-')
		return 0;
	return (uint32_t)v;
}

static uint32_t parse_id(const char *s)
{
	uint32_t id = parse_u32(s, 10);

	if (!id)
		usage_error("'%s' is not a rule id (a number from 1)", s);
	return id;
}

static uint32_t parse_mark(const char *s)
{
	uint32_t mark = parse_u32(s, 0);

	if (!mark)
		usage_error("'%s' is not a mark (a number from 1 to 4294967295, or 0x...)", s);
	return mark;
}

static const char *const rule_keywords[] = {
	"action", "local", "remote", "lport", "rport", "netns", "cgroup", "timeout", "quiet",
	"mark", "ttl", "id", "proto", NULL
};

static json_t *build_rule(int argc, char **argv)
{
	json_t *rule = json_object();

	for (int i = 0; i < argc; i++) {
		const char *kw = argv[i];
		const char *const *k;

		if (!strcmp(kw, "once")) {
			json_object_set_new(rule, "once", json_true());
			continue;
		}
		for (k = rule_keywords; *k && strcmp(*k, kw); k++)
			;
		if (!*k)
			usage_error("rule add: unknown keyword '%s'", kw);
		if (json_object_get(rule, kw))
			usage_error("rule add: '%s' given twice", kw);
		if (i + 1 >= argc)
			usage_error("rule add: '%s' needs a value", kw);
		if (!strcmp(kw, "id"))
			json_object_set_new(rule, kw, json_integer(parse_id(argv[++i])));
		else if (!strcmp(kw, "mark"))
			json_object_set_new(rule, kw, json_integer(parse_mark(argv[++i])));
		else
			json_object_set_new(rule, kw, json_string(argv[++i]));
	}
	if (!json_object_get(rule, "action"))
		usage_error("rule add: 'action reset|block|drain|cancel|observe' is required");
	return rule;
}

static void append_field(char *buf, size_t len, json_t *rule, const char *key)
{
	json_t *v = json_object_get(rule, key);
	size_t used = strlen(buf);

	if (!v)
		return;
	if (json_is_integer(v))
		snprintf(buf + used, len - used, "%s%s %lld", used ? " " : "", key,
			 (long long)json_integer_value(v));
	else if (json_is_string(v))
		snprintf(buf + used, len - used, "%s%s %s", used ? " " : "", key,
			 json_string_value(v));
}

static void print_rules_table(json_t *rules)
{
	json_t *r, *udp = json_string("udp");
	size_t i;

	printf("%-6s %-7s %-36s %-28s %7s %7s %7s %7s %7s %7s %7s %7s\n", "ID", "ACTION",
	       "MATCH", "OPTIONS", "MATCHED", "NEW", "PENDING", "FIN", "RST", "RST-TMO",
	       "RST-NOO", "REFUSED");
	json_array_foreach(rules, i, r) {
		json_t *stats = json_object_get(r, "stats");
		char match[256] = "", opts[128] = "";
		json_t *exp = json_object_get(r, "expires_in_ms");

		if (json_equal(json_object_get(r, "proto"), udp))
			append_field(match, sizeof(match), r, "proto");
		append_field(match, sizeof(match), r, "local");
		append_field(match, sizeof(match), r, "remote");
		append_field(match, sizeof(match), r, "lport");
		append_field(match, sizeof(match), r, "rport");
		append_field(match, sizeof(match), r, "netns");
		append_field(match, sizeof(match), r, "cgroup");
		append_field(opts, sizeof(opts), r, "timeout");
		append_field(opts, sizeof(opts), r, "quiet");
		append_field(opts, sizeof(opts), r, "ttl");
		if (exp) {
			size_t used = strlen(opts);

			snprintf(opts + used, sizeof(opts) - used, "%sexpires in %llds",
				 used ? ", " : "", (long long)json_integer_value(exp) / 1000);
		}
		json_t *closed = json_object_get(stats, "closed");

		printf("%-6lld %-7s %-36s %-28s %7lld %7lld %7lld %7lld %7lld %7lld %7lld %7lld\n",
		       (long long)json_integer_value(json_object_get(r, "id")),
		       json_string_value(json_object_get(r, "action")), match,
		       opts[0] ? opts : "-",
		       (long long)json_integer_value(json_object_get(stats, "matched")),
		       (long long)json_integer_value(json_object_get(stats, "new_matches")),
		       (long long)json_integer_value(json_object_get(stats, "pending")),
		       (long long)json_integer_value(json_object_get(closed, "fin")),
		       (long long)json_integer_value(json_object_get(closed, "rst")),
		       (long long)json_integer_value(json_object_get(closed, "rst-timeout")),
		       (long long)json_integer_value(json_object_get(closed, "rst-no-owner")),
		       (long long)json_integer_value(json_object_get(closed, "refused")));
	}
	json_decref(udp);
}

static void print_events_table(json_t *events)
{
	size_t i;
	json_t *ev;

	printf("%-5s %-7s %-13s %-46s %10s %10s %10s\n", "RULE", "ACTION", "OUTCOME",
	       "CONNECTION", "BYTES-IN", "BYTES-OUT", "AFTER-MS");
	json_array_foreach(events, i, ev) {
		char conn[160];

		snprintf(conn, sizeof(conn), "%s:%lld -> %s:%lld",
			 json_string_value(json_object_get(ev, "local")),
			 (long long)json_integer_value(json_object_get(ev, "lport")),
			 json_string_value(json_object_get(ev, "remote")),
			 (long long)json_integer_value(json_object_get(ev, "rport")));
		printf("%-5lld %-7s %-13s %-46s %10lld %10lld %10.1f\n",
		       (long long)json_integer_value(json_object_get(ev, "rule")),
		       json_string_value(json_object_get(ev, "action")),
		       json_string_value(json_object_get(ev, "outcome")), conn,
		       (long long)json_integer_value(json_object_get(ev, "bytes_in")),
		       (long long)json_integer_value(json_object_get(ev, "bytes_out")),
		       json_real_value(json_object_get(ev, "tag_to_close_ms")));
	}
}

static long long jint(json_t *obj, const char *key)
{
	return (long long)json_integer_value(json_object_get(obj, key));
}

static void print_flows_table(json_t *flows)
{
	size_t i;
	json_t *f;

	printf("%-46s %-5s %-7s %-8s %10s %8s %8s %12s %12s %7s\n", "FLOW", "RULE", "ACTION",
	       "STATE", "MARK", "PKTS-IN", "PKTS-OUT", "BYTES-IN", "BYTES-OUT", "DROPPED");
	json_array_foreach(flows, i, f) {
		char flow[160];

		snprintf(flow, sizeof(flow), "%s:%lld -> %s:%lld",
			 json_string_value(json_object_get(f, "local")), jint(f, "lport"),
			 json_string_value(json_object_get(f, "remote")), jint(f, "rport"));
		printf("%-46s %-5lld %-7s %-8s %10lld %8lld %8lld %12lld %12lld %7lld\n", flow,
		       jint(f, "rule"), json_string_value(json_object_get(f, "action")),
		       json_string_value(json_object_get(f, "state")), jint(f, "mark"),
		       jint(f, "packets_in"), jint(f, "packets_out"), jint(f, "bytes_in"),
		       jint(f, "bytes_out"), jint(f, "dropped"));
	}
}

static void print_stats_table(json_t *stats)
{
	json_t *rules = json_object_get(stats, "rules"), *r;
	size_t i;

	printf("%-6s %-7s %8s %10s %10s %14s %14s %8s\n", "RULE", "ACTION", "FLOWS", "PKTS-IN",
	       "PKTS-OUT", "BYTES-IN", "BYTES-OUT", "DROPPED");
	json_array_foreach(rules, i, r)
		printf("%-6lld %-7s %8lld %10lld %10lld %14lld %14lld %8lld\n", jint(r, "rule"),
		       json_string_value(json_object_get(r, "action")), jint(r, "flows"),
		       jint(r, "packets_in"), jint(r, "packets_out"), jint(r, "bytes_in"),
		       jint(r, "bytes_out"), jint(r, "dropped"));
	printf("flows in the table: %lld; unmatched flows cached: %lld; tc interfaces: %lld\n",
	       jint(stats, "flows"), jint(stats, "unmatched_flows_cached"),
	       jint(stats, "interfaces"));
}

static const char *jstr(json_t *obj, const char *key)
{
	const char *v = json_string_value(json_object_get(obj, key));

	return v ? v : "?";
}

static void print_dry_run(json_t *resp)
{
	json_t *conns = json_object_get(resp, "connections"), *c, *owners, *o;
	size_t i, k;

	printf("would match %lld existing connections (a dry run: nothing changed)\n",
	       jint(resp, "matched"));
	if (!json_array_size(conns))
		return;
	printf("%-46s %-12s %s\n", "CONNECTION", "STATE", "OWNERS (PID COMMAND)");
	json_array_foreach(conns, i, c) {
		char conn[160], who[256] = "";

		snprintf(conn, sizeof(conn), "%s:%lld -> %s:%lld", jstr(c, "local"),
			 jint(c, "lport"), jstr(c, "remote"), jint(c, "rport"));
		owners = json_object_get(c, "owners");
		json_array_foreach(owners, k, o) {
			size_t used = strlen(who);

			snprintf(who + used, sizeof(who) - used, "%s%lld %s", used ? ", " : "",
				 jint(o, "pid"), jstr(o, "command"));
		}
		printf("%-46s %-12s %s\n", conn, jstr(c, "state"), who[0] ? who : "-");
	}
	if (json_object_get(resp, "listed"))
		printf("(the first %lld listed)\n", jint(resp, "listed"));
}

static void print_result(const char *verb, json_t *resp)
{
	json_object_del(resp, "ok");
	if (json_output) {
		if (!strcmp(verb, "show"))
			print_json(json_object_get(resp, "rules"));
		else if (!strcmp(verb, "events"))
			print_json(json_object_get(resp, "events"));
		else if (!strcmp(verb, "flows"))
			print_json(json_object_get(resp, "flows"));
		else
			print_json(resp);
		return;
	}
	if (!strcmp(verb, "events")) {
		print_events_table(json_object_get(resp, "events"));
		return;
	}
	if (!strcmp(verb, "flows")) {
		print_flows_table(json_object_get(resp, "flows"));
		return;
	}
	if (!strcmp(verb, "stats")) {
		print_stats_table(resp);
		return;
	}
	if (!strcmp(verb, "add") && json_is_true(json_object_get(resp, "dry_run"))) {
		print_dry_run(resp);
		return;
	}
	if (!strcmp(verb, "add")) {
		json_t *rule = json_object_get(resp, "rule");
		bool once = json_is_true(json_object_get(rule, "once"));

		printf("rule %lld: %s%s, matched %lld existing connections\n",
		       (long long)json_integer_value(json_object_get(resp, "id")),
		       json_string_value(json_object_get(rule, "action")),
		       once ? " once (not kept)" : "",
		       (long long)json_integer_value(json_object_get(resp, "matched")));
	} else if (!strcmp(verb, "del")) {
		printf("rule %lld deleted\n",
		       (long long)json_integer_value(json_object_get(resp, "id")));
	} else {
		print_rules_table(json_object_get(resp, "rules"));
	}
}

static void print_clock(json_t *ev)
{
	long long ms = jint(ev, "time_ms");
	time_t sec = (time_t)(ms / 1000);
	struct tm tm;
	char hms[16] = "??:??:??";

	if (localtime_r(&sec, &tm))
		strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
	printf("%s.%03lld ", hms, ms % 1000);
}

static void print_conn(json_t *ev)
{
	printf("%s:%lld -> %s:%lld", jstr(ev, "local"), jint(ev, "lport"),
	       jstr(ev, "remote"), jint(ev, "rport"));
}

/* One event of `connctl watch`, as a line for people. */
static void print_event(json_t *ev)
{
	const char *type = jstr(ev, "event");

	if (!strcmp(type, "lost")) {
		printf("(%lld events lost: this watcher read too slowly)\n", jint(ev, "count"));
		return;
	}
	print_clock(ev);
	printf("rule %lld ", jint(ev, "rule"));
	if (!strcmp(type, "rule.added")) {
		json_t *spec = json_object_get(ev, "spec");
		char fields[384] = "";
		static const char *const keys[] = { "local", "remote", "lport", "rport", "netns",
						    "cgroup", "timeout", "quiet", "mark", "ttl" };

		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			append_field(fields, sizeof(fields), spec, keys[i]);
		printf("added: %s %s%s, matched %lld\n", jstr(spec, "action"), fields,
		       json_is_true(json_object_get(spec, "once")) ? " once" : "",
		       jint(ev, "matched"));
	} else if (!strcmp(type, "rule.removed")) {
		printf("removed (%s)\n", jstr(ev, "reason"));
	} else if (!strcmp(type, "closed")) {
		printf("%s %-12s ", jstr(ev, "action"), jstr(ev, "outcome"));
		print_conn(ev);
		printf("  %lld B in, %lld B out, %.1f ms after the tag", jint(ev, "bytes_in"),
		       jint(ev, "bytes_out"), json_real_value(json_object_get(ev, "tag_to_close_ms")));
		if (json_object_get(ev, "last_ack_to_close_ms"))
			printf(", %.1f ms after the last ACK",
			       json_real_value(json_object_get(ev, "last_ack_to_close_ms")));
		printf("\n");
	} else {
		/* tagged: waits to close; ended: closed by its owner or peer first */
		printf("%s %-12s ", jstr(ev, "action"), type);
		print_conn(ev);
		printf("\n");
	}
}

/* events.watch: the first line answers the request, then events until EOF. */
static int watch(const char *path, json_t *req)
{
	char *line = NULL;
	size_t cap = 0;
	json_t *ev;
	FILE *f;
	int fd, ret;

	ret = agent_connect(path, &fd);
	if (ret)
		return ret;
	/* A failed send may still have an answer waiting: read it. */
	(void)send_request(fd, req);
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return fail(EXIT_UNREACHABLE, "unreachable", "cannot read from connctld: %s",
			    strerror(errno));
	}
	if (getline(&line, &cap, f) <= 0) {
		ret = fail(EXIT_UNREACHABLE, "unreachable", "connctld at %s did not answer",
			   path);
		goto out;
	}
	ev = json_loads(line, 0, NULL);
	if (!json_is_true(json_object_get(ev, "ok"))) {
		ret = json_is_object(ev) ? agent_refused(ev) :
			fail(EXIT_UNREACHABLE, "unreachable", "connctld sent a malformed response");
		json_decref(ev);
		goto out;
	}
	json_decref(ev);
	/* On stderr, so stdout holds events only; scripts wait for it. */
	if (json_object_get(req, "rule"))
		fprintf(stderr, "connctl: watching the events of rule %lld (Ctrl-C stops)\n",
			jint(req, "rule"));
	else
		fprintf(stderr, "connctl: watching events (Ctrl-C stops)\n");
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (getline(&line, &cap, f) > 0) {
		if (json_output) {
			fputs(line, stdout);
			continue;
		}
		ev = json_loads(line, 0, NULL);
		if (ev)
			print_event(ev);
		json_decref(ev);
	}
	ret = fail(EXIT_UNREACHABLE, "unreachable", "connctld closed the connection");
out:
	free(line);
	fclose(f);
	return ret;
}

static json_t *build_request(int argc, char **argv, const char **verb)
{
	if (argc < 1)
		usage_error("missing object: try 'connctl rule show'");
	if (!strcmp(argv[0], "events") || !strcmp(argv[0], "stats")) {
		if (argc > 1)
			usage_error("usage: connctl %s", argv[0]);
		*verb = argv[0];
		return json_pack("{s:s}", "op", !strcmp(argv[0], "events") ? "events.show" :
							     "stats.show");
	}
	if (!strcmp(argv[0], "watch")) {
		*verb = "watch";
		if (argc != 1 && (argc != 3 || strcmp(argv[1], "rule")))
			usage_error("usage: connctl watch [rule ID]");
		if (argc == 3)
			return json_pack("{s:s, s:I}", "op", "events.watch", "rule",
					 (json_int_t)parse_id(argv[2]));
		return json_pack("{s:s}", "op", "events.watch");
	}
	if (!strcmp(argv[0], "flow")) {
		*verb = "flows";
		if (argc < 2 || strcmp(argv[1], "show") ||
		    (argc != 2 && (argc != 4 || strcmp(argv[2], "rule"))))
			usage_error("usage: connctl flow show [rule ID]");
		if (argc == 4)
			return json_pack("{s:s, s:I}", "op", "flow.show", "rule",
					 (json_int_t)parse_id(argv[3]));
		return json_pack("{s:s}", "op", "flow.show");
	}
	if (strcmp(argv[0], "rule"))
		usage_error("unknown object '%s': expected rule, flow, stats, events or watch",
			    argv[0]);
	if (argc < 2)
		usage_error("rule: missing verb: add, del or show");
	*verb = argv[1];
	if (!strcmp(argv[1], "add")) {
		bool dry_run = argc > 2 && !strcmp(argv[argc - 1], "dry-run");

		if (dry_run)
			return json_pack("{s:s, s:o, s:b}", "op", "rule.add", "rule",
					 build_rule(argc - 3, argv + 2), "dry_run", 1);
		return json_pack("{s:s, s:o}", "op", "rule.add", "rule",
				 build_rule(argc - 2, argv + 2));
	}
	if (!strcmp(argv[1], "del")) {
		if (argc != 3)
			usage_error("usage: connctl rule del ID");
		return json_pack("{s:s, s:I}", "op", "rule.del", "id",
				 (json_int_t)parse_id(argv[2]));
	}
	if (!strcmp(argv[1], "show")) {
		if (argc > 3)
			usage_error("usage: connctl rule show [ID]");
		if (argc == 3)
			return json_pack("{s:s, s:I}", "op", "rule.show", "id",
					 (json_int_t)parse_id(argv[2]));
		return json_pack("{s:s}", "op", "rule.show");
	}
	usage_error("rule: unknown verb '%s': expected add, del or show", argv[1]);
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "socket",	required_argument, NULL, 's' },
		{ "json",	no_argument,	   NULL, 'j' },
		{ "pretty",	no_argument,	   NULL, 'p' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ "version",	no_argument,	   NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *socket_path = DEFAULT_SOCKET_PATH, *verb = NULL;
	json_t *req, *resp = NULL;
	int opt, ret;

	/* '+': stop at the first non-option, so "rule add ... lport 80" stays whole. */
	while ((opt = getopt_long(argc, argv, "+jphV", long_options, NULL)) != -1) {
		switch (opt) {
		case 's':
			socket_path = optarg;
			break;
		case 'p':
			json_flags = JSON_INDENT(2);
			/* fall through */
		case 'j':
			json_output = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return EXIT_OK;
		case 'V':
			puts("connctl " CONNCTL_VERSION);
			return EXIT_OK;
		default:
			fputs("Try 'connctl --help'.\n", stderr);
			return EXIT_USAGE;
		}
	}
	req = build_request(argc - optind, argv + optind, &verb);
	if (!strcmp(verb, "watch")) {
		ret = watch(socket_path, req);
		json_decref(req);
		return ret;
	}
	ret = call_agent(socket_path, req, &resp);
	json_decref(req);
	if (ret == EXIT_OK) {
		if (json_is_true(json_object_get(resp, "ok")))
			print_result(verb, resp);
		else
			ret = agent_refused(resp);
	}
	json_decref(resp);
	return ret;
}
