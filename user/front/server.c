// SPDX-License-Identifier: GPL-2.0
/*
 * Where the socket protocol is spoken: a Unix stream socket, one JSON request
 * a line, one response a line. Non-blocking throughout, so a slow or stuck
 * client never holds up the others.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "base/clock.h"
#include "base/log.h"
#include "engine/rulebook.h"
#include "front/dispatch.h"
#include "front/render.h"
#include "front/server.h"
#include "base/buf.h"
#include "sys/paths.h"

/* Past this much unsent output, stop reading requests from that client. */
#define CLIENT_OUT_HIGH		(1024 * 1024)
#define CLIENT_IN_SIZE		(PROTO_MAX_LINE + 1)

struct client {
	struct watch	w;
	struct server	*server;
	struct peer	peer;
	struct client	*next;
	char		*in;
	size_t		in_len;
	bool		discarding;	/* skipping the rest of an overlong line */
	bool		read_closed;	/* peer sent EOF: only output is left */
	uint32_t	held;		/* its rule.adds waiting for the walk */
	bool		watching;	/* events.watch: it gets events, no more responses */
	bool		watch_one;	/* ... of watch_rule only */
	uint32_t	watch_rule;
	uint64_t	lost;		/* events dropped while its output was full */
	char		*out;
	size_t		out_len;
	size_t		out_cap;
	uint32_t	events;		/* what epoll watches for now */
	uint64_t	active_ns;	/* CLOCK_MONOTONIC of its last request */
};

struct server {
	struct watch	w;
	struct bus_sink	sink;		/* events for the watchers */
	struct server_config cfg;
	struct loop	*loop;
	struct dispatch	*dispatch;
	struct bus	*bus;
	struct client	*clients;
	size_t		n_root;		/* clients of root, against --max-clients */
	size_t		n_others;	/* everyone else's, against --max-reader-clients */
	int		spare_fd;	/* closed to answer a client at the fd limit */
	uint64_t	fd_limit_hits;	/* clients refused for want of fds, unlogged */
	uint64_t	fd_limit_logged_ns;
	uint64_t	paused_until_ns;	/* not accepting until then; 0: accepting */
	char		path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static void client_free(struct client *c)
{
	struct server *s = c->server;
	struct client **p;

	for (p = &s->clients; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	if (c->peer.uid == 0)
		s->n_root--;
	else
		s->n_others--;
	if (c->held)
		rulebook_forget_waiter(s->dispatch->rb, c);
	watch_del(s->loop, &c->w);
	close(c->w.fd);
	free(c->in);
	free(c->out);
	free(c);
}

static int client_queue_text(struct client *c, const char *text, size_t len)
{
	return buf_append(&c->out, &c->out_len, &c->out_cap, text, len, true);
}

/* Past this, a response's objects are given back to the system once sent. */
#define LARGE_RESPONSE	(1 << 20)

/* A response, its reference taken; an error one is counted by its code. */
static void client_queue(struct client *c, json_t *resp)
{
	char *text = json_dumps(resp, JSON_COMPACT | JSON_REAL_PRECISION(9));
	enum proto_code code = proto_code_of(resp);
	size_t len = text ? strlen(text) : 0;

	json_decref(resp);
	if (code != PROTO_OK)
		c->server->dispatch->counters.errors[code]++;
	if (!text || client_queue_text(c, text, len))
		pr_warn("client pid %d: response dropped: out of memory", c->peer.pid);
	free(text);
	/*
	 * `rule show` of 100,000 rules builds 200 MB of small objects: freed,
	 * they stay resident in the heap's middle unless trimmed.
	 */
	if (len > LARGE_RESPONSE)
		malloc_trim(0);
}

static void client_update_events(struct client *c)
{
	uint32_t events = 0;

	/* A closed read side would report EPOLLIN forever. */
	if (!c->read_closed && c->out_len < CLIENT_OUT_HIGH)
		events |= EPOLLIN;
	if (c->out_len)
		events |= EPOLLOUT;
	if (events != c->events && !watch_mod(c->server->loop, &c->w, events))
		c->events = events;
}

/* 0, or -errno when the client is to be dropped. */
static int client_flush(struct client *c)
{
	while (c->out_len) {
		ssize_t n = send(c->w.fd, c->out, c->out_len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return -errno;
		}
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	client_update_events(c);
	return 0;
}

/* A queued rule.add's outcome, from the walk: its answer, in its place. */
static void add_done(void *ctx, const struct add_result *res)
{
	struct client *c = ctx;

	c->held--;
	client_queue(c, render_add_result(res, c->server->dispatch->netns));
}

/* Past this much unsent output, a watcher's events are dropped (and counted). */
#define WATCH_OUT_HIGH		(256 * 1024)

static void watcher_send(struct client *c, const char *text, size_t len)
{
	char lost[96];

	if (c->out_len + len + sizeof(lost) > WATCH_OUT_HIGH) {
		c->lost++;
		return;
	}
	if (c->lost) {
		int n = snprintf(lost, sizeof(lost), "{\"event\":\"lost\",\"count\":%llu}",
				 (unsigned long long)c->lost);

		if (client_queue_text(c, lost, (size_t)n))
			return;
		c->lost = 0;
	}
	if (client_queue_text(c, text, len))
		c->lost++;
}

static bool watcher_wants(const struct client *c, uint32_t rule_id)
{
	return c->watching && (!c->watch_one || c->watch_rule == rule_id);
}

static bool watching(struct bus_sink *sink, enum bus_kind kind, uint32_t rule_id)
{
	struct server *s = container_of(sink, struct server, sink);

	if (kind != BUS_RULE_ADDED && kind != BUS_RULE_REMOVED && kind != BUS_TAGGED &&
	    kind != BUS_CLOSED && kind != BUS_ENDED)
		return false;
	for (const struct client *c = s->clients; c; c = c->next)
		if (watcher_wants(c, rule_id))
			return true;
	return false;
}

/* An event, to the clients watching events of its rule; rendered once. */
static void publish(struct bus_sink *sink, const struct bus_event *ev)
{
	struct server *s = container_of(sink, struct server, sink);
	json_t *obj = render_bus_event(ev, s->dispatch->netns);
	char *text = obj ? json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;

	json_decref(obj);
	if (!text)
		return;
	for (struct client *c = s->clients; c; c = c->next)
		if (watcher_wants(c, ev->rule_id))
			watcher_send(c, text, strlen(text));
	free(text);
}

/* Every rule, written into the output as it is rendered. */
static void client_show_rules(struct client *c)
{
	struct dispatch *d = c->server->dispatch;
	size_t before = c->out_len;
	json_t *error;

	if (dispatch_rule_show_all(d, &c->out, &c->out_len, &c->out_cap, &error)) {
		client_queue(c, error);
		return;
	}
	if (c->out_len - before > LARGE_RESPONSE)
		malloc_trim(0);
}

/*
 * Serve one line; false when it must wait for the queued rule.adds to be
 * applied: responses leave in the order of the requests, so behind a queued
 * rule.add only another rule.add may go, and only while the queue has room.
 */
static bool client_request(struct client *c, const char *line, size_t len)
{
	struct dispatch *d = c->server->dispatch;
	struct proto_error err;
	struct request req;
	bool parsed, add;
	json_t *resp;

	/* Whoever may not even read gets no further: nothing of it is parsed. */
	if (!c->peer.reader) {
		c->active_ns = monotonic_ns();
		d->counters.requests[NR_REQUEST_OPS]++;
		client_queue(c, dispatch_refuse(d, &c->peer));
		return true;
	}
	parsed = !request_parse(line, len, &d->rb->paths, &req, &err);
	add = parsed && req.op == REQ_RULE_ADD && !req.dry_run;
	if ((c->held && !add) || (add && rulebook_adds_full(d->rb)))
		return false;
	c->active_ns = monotonic_ns();
	if (parsed && req.op == REQ_RULE_SHOW && !req.has_id && !c->watching) {
		client_show_rules(c);
		return true;
	}
	if (c->watching)
		resp = error_response(PROTO_BAD_REQUEST, "this connection watches events; "
				      "send requests on another");
	else if (parsed)
		resp = dispatch_request(d, &req, &c->peer, add_done, c);
	else
		resp = error_to_json(&err);
	if (!parsed)
		d->counters.requests[NR_REQUEST_OPS]++;
	if (!resp) {
		c->held++;
		return true;
	}
	if (parsed && req.op == REQ_EVENTS_WATCH && json_is_true(json_object_get(resp, "ok"))) {
		c->watching = true;
		c->watch_one = req.has_id;
		c->watch_rule = req.id;
	}
	client_queue(c, resp);
	return true;
}

static void client_line_too_long(struct client *c)
{
	c->server->dispatch->counters.requests[NR_REQUEST_OPS]++;
	client_queue(c, error_response(PROTO_LINE_TOO_LONG,
				       "request line over %d bytes: ignored",
				       PROTO_MAX_LINE));
	c->discarding = true;
	c->in_len = 0;
}

static bool has_line(const struct client *c)
{
	return memchr(c->in, '\n', c->in_len) != NULL;
}

/* Serve the complete lines in the input buffer; keep the rest. Lines served. */
static size_t client_process(struct client *c)
{
	size_t start = 0, served = 0;
	char *nl;

	while (c->out_len < CLIENT_OUT_HIGH &&
	       (nl = memchr(c->in + start, '\n', c->in_len - start))) {
		size_t end = (size_t)(nl - c->in);

		if (c->discarding)
			c->discarding = false;
		else if (end > start && !client_request(c, c->in + start, end - start))
			break;
		start = end + 1;
		served++;
	}
	memmove(c->in, c->in + start, c->in_len - start);
	c->in_len -= start;
	if (c->in_len == CLIENT_IN_SIZE && !has_line(c)) {
		if (c->discarding)
			c->in_len = 0;
		else
			client_line_too_long(c);
	}
	return served;
}

/* Lines are left to serve: read no more until they are. */
static bool client_blocked(const struct client *c)
{
	return c->out_len >= CLIENT_OUT_HIGH || c->in_len == CLIENT_IN_SIZE || has_line(c);
}

/*
 * Reads and serves requests; their responses leave at the end of the turn
 * (server_commit), once what they changed is on disk.
 */
static void client_handle(struct watch *w, uint32_t events)
{
	struct client *c = (struct client *)w;

	/* Lines held back while output was over the mark, or behind rule.adds. */
	client_process(c);
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)) || c->read_closed)
		return;
	while (!client_blocked(c)) {
		size_t room = CLIENT_IN_SIZE - c->in_len;
		ssize_t n = recv(w->fd, c->in + c->in_len, room, 0);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			c->read_closed = true;
			break;
		}
		if (n < 0)
			break;
		c->in_len += (size_t)n;
		client_process(c);
		/* Short: nothing was left to read. epoll says when more comes (or EOF). */
		if ((size_t)n < room)
			break;
	}
}

/* Nothing more will come from it, nor go to it. */
static bool client_done(const struct client *c)
{
	return c->read_closed && !c->out_len && !c->held && !has_line(c);
}

void server_flush(struct server *s)
{
	struct client *c, *next;

	for (c = s->clients; c; c = next) {
		next = c->next;
		if (client_flush(c) || client_done(c))
			client_free(c);
	}
}

bool server_serve_buffered(struct server *s)
{
	size_t served = 0;

	for (struct client *c = s->clients; c; c = c->next)
		served += client_process(c);
	return served > 0;
}

static void reject_client(int fd, const char *why)
{
	json_t *resp = error_response(PROTO_TOO_MANY_CLIENTS, "%s", why);
	char *text = json_dumps(resp, JSON_COMPACT);

	json_decref(resp);
	if (text) {
		(void)!send(fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)!send(fd, "\n", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	free(text);
	close(fd);
}

/* Root, or a member of --group by its primary or a supplementary gid. */
static bool peer_may_read(int fd, const struct ucred *cred, gid_t reader_gid)
{
	gid_t groups[256];
	socklen_t len = sizeof(groups);

	if (cred->uid == 0)
		return true;
	if (reader_gid == (gid_t)-1)
		return false;
	if (cred->gid == reader_gid)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len))
		return false;
	for (size_t i = 0; i < len / sizeof(groups[0]); i++)
		if (groups[i] == reader_gid)
			return true;
	return false;
}

/* Root's clients and everyone else's are counted apart: readers cannot lock root out. */
static const char *client_refusal(const struct server *s, uid_t uid)
{
	if (uid == 0)
		return s->n_root >= s->cfg.max_clients ?
		       "too many clients of root at once (--max-clients); try again" : NULL;
	return s->n_others >= s->cfg.max_reader_clients ?
	       "too many clients at once (--max-reader-clients); try again" : NULL;
}

static int client_new(struct server *s, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	const char *refused;
	struct client *c;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return -errno;
	refused = client_refusal(s, cred.uid);
	if (refused) {
		pr_debug("client pid %d uid %u refused: %s", cred.pid, cred.uid, refused);
		reject_client(fd, refused);
		return 0;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->in = malloc(CLIENT_IN_SIZE);
	if (!c->in) {
		free(c);
		return -ENOMEM;
	}
	c->w.fd = fd;
	c->w.handle = client_handle;
	c->server = s;
	c->peer = (struct peer){ .pid = cred.pid, .uid = cred.uid, .gid = cred.gid,
				 .reader = peer_may_read(fd, &cred, s->cfg.reader_gid) };
	c->active_ns = monotonic_ns();
	c->events = EPOLLIN;
	if (watch_add(s->loop, &c->w, c->events)) {
		free(c->in);
		free(c);
		return -errno;
	}
	c->next = s->clients;
	s->clients = c;
	if (cred.uid == 0)
		s->n_root++;
	else
		s->n_others++;
	pr_debug("client pid %d uid %u connected", cred.pid, cred.uid);
	return 0;
}

/* At the fd limit, a warning this often at most, with how many were refused. */
#define FD_LIMIT_LOG_NS		(10 * NSEC_PER_SEC)
/* With not even a spare fd to answer with, stop accepting this long. */
#define ACCEPT_PAUSE_NS		(1 * NSEC_PER_SEC)

static void note_fd_limit(struct server *s)
{
	uint64_t now = monotonic_ns();

	s->fd_limit_hits++;
	if (s->fd_limit_logged_ns && now - s->fd_limit_logged_ns < FD_LIMIT_LOG_NS)
		return;
	pr_warn("out of file descriptors (%s): %llu clients refused; serving the "
		"clients connected", strerror(EMFILE), (unsigned long long)s->fd_limit_hits);
	s->fd_limit_hits = 0;
	s->fd_limit_logged_ns = now;
}

/*
 * No fd to accept with: give up the spare one, accept, answer and close, so
 * the client hears why and the backlog does not wake the loop forever. If
 * even that fails, stop accepting for a while.
 */
static void accept_at_fd_limit(struct server *s)
{
	int fd = -1;

	note_fd_limit(s);
	if (s->spare_fd >= 0) {
		close(s->spare_fd);
		fd = accept4(s->w.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			reject_client(fd, "connctld is out of file descriptors; try again");
		s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0 && !s->paused_until_ns &&
	    !watch_mod(s->loop, &s->w, 0))
		s->paused_until_ns = monotonic_ns() + ACCEPT_PAUSE_NS;
}

static void server_accept(struct watch *w, uint32_t events)
{
	struct server *s = (struct server *)w;

	while (!s->paused_until_ns) {
		int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			int err = errno;

			if (err == EAGAIN || err == EINTR)
				return;
			if (err == EMFILE || err == ENFILE) {
				accept_at_fd_limit(s);
				continue;
			}
			pr_warn("accept: %s", strerror(err));
			return;
		}
		if (client_new(s, fd)) {
			pr_warn("dropping a client: %s", strerror(errno));
			close(fd);
		}
	}
}

/* A socket file left by an agent that died is removed; a live one is not. */
static int clear_stale_socket(const struct sockaddr_un *sa)
{
	int fd, ret = 0;

	if (access(sa->sun_path, F_OK))
		return 0;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0) {
		pr_warn("%s is served by another running connctld", sa->sun_path);
		ret = -EADDRINUSE;
	} else if (unlink(sa->sun_path) && errno != ENOENT) {
		ret = -errno;
	}
	close(fd);
	return ret;
}

/* The directory we create is root's, 0750, and --group's when given. */
static int make_socket_dir(const char *path, gid_t gid)
{
	char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0750)) {
		if (errno != EEXIST)
			return -errno;
		return 0;
	}
	if (gid != (gid_t)-1 && chown(dir, 0, gid))
		return -errno;
	return 0;
}

/* Elsewhere another user could take the path and answer root's requests. */
static int check_socket_dir(const char *path)
{
	char why[PATH_MAX + 160];
	int err = path_dir_private(path, why, sizeof(why));

	if (err)
		pr_warn("--socket %s: %s", path, why);
	return err;
}

static int listen_on(const char *path, gid_t gid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		pr_warn("socket path %s is too long (at most %zu bytes)", path,
			sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	err = check_socket_dir(path);
	if (err)
		return err;
	err = make_socket_dir(path, gid);
	if (err) {
		pr_warn("cannot create the directory of %s: %s", path, strerror(-err));
		return err;
	}
	err = clear_stale_socket(&sa);
	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0660) ||
	    (gid != (gid_t)-1 && chown(path, 0, gid)) || listen(fd, 128)) {
		err = -errno;
		pr_warn("cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return err;
	}
	return fd;
}

int server_open(struct server **out, const struct server_config *cfg, struct loop *loop,
		struct dispatch *dispatch, struct bus *bus)
{
	struct server *s;
	int fd, err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	fd = listen_on(cfg->path, cfg->reader_gid);
	if (fd < 0) {
		free(s);
		return fd;
	}
	s->cfg = *cfg;
	s->w.fd = fd;
	s->w.handle = server_accept;
	s->loop = loop;
	s->dispatch = dispatch;
	s->bus = bus;
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	snprintf(s->path, sizeof(s->path), "%s", cfg->path);
	err = watch_add(loop, &s->w, EPOLLIN);
	if (err) {
		close(s->w.fd);
		unlink(cfg->path);
		free(s);
		return err;
	}
	s->sink = (struct bus_sink){ .wants = watching, .emit = publish };
	bus_subscribe(bus, &s->sink);
	*out = s;
	return 0;
}

/* A pause in accepting (at the fd limit) runs out. */
static void resume_accept(struct server *s)
{
	if (!s->paused_until_ns || monotonic_ns() < s->paused_until_ns)
		return;
	if (!watch_mod(s->loop, &s->w, EPOLLIN))
		s->paused_until_ns = 0;
}

void server_tick(struct server *s)
{
	uint64_t now = monotonic_ns(), limit;
	struct client *c, *next;

	if (!s)
		return;
	resume_accept(s);
	if (!s->cfg.client_idle_s)
		return;
	limit = (uint64_t)s->cfg.client_idle_s * NSEC_PER_SEC;
	for (c = s->clients; c; c = next) {
		next = c->next;
		/* Waiting on us (output pending, or events) is not idle. */
		if (c->out_len || c->held || c->watching || has_line(c) ||
		    now - c->active_ns < limit)
			continue;
		client_queue(c, error_response(PROTO_IDLE_TIMEOUT,
			     "closed after %u s without a request (--client-idle-timeout)",
			     s->cfg.client_idle_s));
		client_flush(c);
		pr_debug("client pid %d: idle, closed", c->peer.pid);
		client_free(c);
	}
}

void server_close(struct server *s)
{
	if (!s)
		return;
	bus_unsubscribe(s->bus, &s->sink);
	while (s->clients) {
		client_flush(s->clients);
		client_free(s->clients);
	}
	watch_del(s->loop, &s->w);
	close(s->w.fd);
	if (s->spare_fd >= 0)
		close(s->spare_fd);
	unlink(s->path);
	free(s);
}
