// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/tcp.h>	/* tcp_info with byte counters */
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include "base/clock.h"
#include "agent.h"
#include "kernel/passes.h"
#include "engine/drainer.h"
#include "sys/sock_diag.h"
#include "sys/cgroup.h"

/* TCP states as tcp_info and sock_diag number them. */
enum {
	TCP_STATE_ESTABLISHED	= 1,
	TCP_STATE_CLOSE_WAIT	= 8,
};

/*
 * Sweeps find boundaries and timeouts. One comes at least this often while
 * anything waits, and sooner when a quiet period is due to run out.
 */
#define SWEEP_INTERVAL_NS	(20 * NSEC_PER_MSEC)
#define SWEEP_SOONEST_NS	(1 * NSEC_PER_MSEC)
/* Every this many sweeps, forget connections that closed unseen. */
#define SWEEPS_PER_GC		50
/* A socket not yet accepted has no owner: give the owner this long. */
#define OWNER_WAIT_NS		(1 * NSEC_PER_SEC)
/* A walk of /proc serves every lookup of a batch of closes. */
#define OWNER_INDEX_FRESH_NS	(5 * NSEC_PER_MSEC)

static const char *const outcome_names[NR_CLOSE_OUTCOMES] = {
	[CLOSE_FIN]		= "fin",
	[CLOSE_RST]		= "rst",
	[CLOSE_RST_TIMEOUT]	= "rst-timeout",
	[CLOSE_RST_NO_OWNER]	= "rst-no-owner",
};

const char *close_outcome_name(enum close_outcome o)
{
	return o < NR_CLOSE_OUTCOMES ? outcome_names[o] : "?";
}

/* --- outcomes --- */

static void count(struct agent *agent, uint32_t rule_id, enum close_outcome outcome)
{
	struct rule_entry *e = rule_table_find(&agent->rules, rule_id);

	if (e) {
		e->stats.closed[outcome]++;
		rule_stats_changed(&agent->rules, e);
	}
}

static void format_tuple(const struct connctl_tuple *t, char *buf, size_t len)
{
	char l[PREFIX_STRLEN], r[PREFIX_STRLEN];

	format_addr(t->laddr, l, sizeof(l));
	format_addr(t->raddr, r, sizeof(r));
	snprintf(buf, len, "%s:%u -> %s:%u", l, t->lport, r, t->rport);
}

/* A connection as events name it: its addresses and ports, its rule. */
static json_t *conn_to_json(const struct agent *agent, const char *event, uint64_t realtime,
			    uint32_t rule_id, enum connctl_action action,
			    const struct connctl_tuple *t, uint64_t cgroup_id)
{
	char l[PREFIX_STRLEN], r[PREFIX_STRLEN];
	json_t *obj;

	format_addr(t->laddr, l, sizeof(l));
	format_addr(t->raddr, r, sizeof(r));
	obj = json_pack("{s:s*, s:I, s:I, s:s, s:s, s:i, s:s, s:i}", "event", event,
			"time_ms", (json_int_t)(realtime / NSEC_PER_MSEC),
			"rule", (json_int_t)rule_id, "action", action_name(action),
			"local", l, "lport", t->lport, "remote", r, "rport", t->rport);
	netns_to_json(obj, &agent->netns, t->netns_ino);
	if (obj && cgroup_id)
		json_object_set_new(obj, "cgroup", json_string(cgroup2_name(cgroup_id)));
	return obj;
}

static json_t *close_record_to_json(const struct agent *agent, const struct close_record *rec,
				    const char *event)
{
	json_t *obj = conn_to_json(agent, event, rec->realtime_ns, rec->rule_id, rec->action,
				   &rec->tuple, rec->cgroup_id);

	if (!obj)
		return NULL;
	json_object_set_new(obj, "outcome", json_string(close_outcome_name(rec->outcome)));
	json_object_set_new(obj, "bytes_in", json_integer((json_int_t)rec->bytes_in));
	json_object_set_new(obj, "bytes_out", json_integer((json_int_t)rec->bytes_out));
	json_object_set_new(obj, "tag_to_close_ms", json_real(rec->tag_to_close_ns / 1e6));
	if (rec->ack_to_close_ns)
		json_object_set_new(obj, "last_ack_to_close_ms",
				    json_real(rec->ack_to_close_ns / 1e6));
	return obj;
}

/* A waiting connection's event, to those watching its rule. */
static void publish_tracked(struct agent *agent, const char *event, const struct tracked *t)
{
	if (server_watching(agent, t->rule_id))
		server_publish(agent, t->rule_id, conn_to_json(agent, event, realtime_ns(),
							       t->rule_id, t->action, &t->tuple,
							       t->cgroup_id));
}

static void record(struct agent *agent, const struct close_record *rec)
{
	struct drainer *d = &agent->drain;
	char tuple[2 * PREFIX_STRLEN + 16];

	d->records[d->records_next] = *rec;
	d->records_next = (d->records_next + 1) % CLOSE_RECORDS;
	d->records_total++;
	count(agent, rec->rule_id, rec->outcome);
	if (rec->action < NR_ACTIONS)
		agent->metrics.closed[rec->action][rec->outcome]++;
	if (rec->outcome == CLOSE_FIN && rec->action == CONNCTL_ACTION_DRAIN &&
	    rec->ack_to_close_ns)
		metrics_drain_delay(&agent->metrics, rec->ack_to_close_ns);
	if (server_watching(agent, rec->rule_id))
		server_publish(agent, rec->rule_id, close_record_to_json(agent, rec, "closed"));
	format_tuple(&rec->tuple, tuple, sizeof(tuple));
	pr_info("rule %u: %s %s: %s after %llu ms, %llu bytes in, %llu out",
		rec->rule_id, action_name(rec->action), tuple,
		close_outcome_name(rec->outcome),
		(unsigned long long)(rec->tag_to_close_ns / NSEC_PER_MSEC),
		(unsigned long long)rec->bytes_in, (unsigned long long)rec->bytes_out);
}

static void record_from_event(struct close_record *rec, const struct connctl_event *ev,
			      enum close_outcome outcome, uint64_t now)
{
	memset(rec, 0, sizeof(*rec));
	rec->realtime_ns = realtime_ns();
	rec->rule_id = ev->rule_id;
	rec->action = ev->action;
	rec->outcome = outcome;
	rec->tuple = ev->tuple;
	rec->cgroup_id = ev->cgroup_id;
	rec->bytes_in = ev->bytes_received;
	rec->bytes_out = ev->bytes_acked;
	rec->tag_to_close_ns = now > ev->tagged_ns ? now - ev->tagged_ns : 0;
	if (ev->last_ack_ns && now > ev->last_ack_ns)
		rec->ack_to_close_ns = now - ev->last_ack_ns;
}

void drain_record(struct agent *agent, const struct connctl_event *ev,
		  enum close_outcome outcome)
{
	struct close_record rec;

	record_from_event(&rec, ev, outcome, monotonic_ns());
	record(agent, &rec);
}

static void untrack(struct agent *agent, struct tracked *t)
{
	struct rule_entry *e = rule_table_find(&agent->rules, t->rule_id);

	if (e && e->stats.pending)
		e->stats.pending--;
	tracked_remove(&agent->drain.tracked, t);
}

/* Closed by its owner or its peer before we did. */
static void ended(struct agent *agent, struct tracked *t)
{
	struct rule_entry *e = rule_table_find(&agent->rules, t->rule_id);

	if (e) {
		e->stats.ended++;
		rule_stats_changed(&agent->rules, e);
	}
	if (t->action < NR_ACTIONS)
		agent->metrics.ended[t->action]++;
	publish_tracked(agent, "ended", t);
	untrack(agent, t);
}

static void reset(struct agent *agent, struct tracked *t, const struct connctl_event *ev,
		  enum close_outcome outcome)
{
	int err = sock_diag_destroy(agent_diag_fd(agent, t->tuple.netns_ino), &t->tuple, t->cookie);

	if (err == -ENOENT) {
		ended(agent, t);
		return;
	}
	if (err) {
		pr_warn("rule %u: cannot reset a connection: %s", t->rule_id, strerror(-err));
		return;
	}
	drain_record(agent, ev, outcome);
	untrack(agent, t);
}

/*
 * The kernel judged the boundary an instant ago; the owner may have moved
 * since. Nothing new read or acknowledged, nothing queued either way: still
 * there. A request that lands after this check meets the FIN, as it would
 * with any server closing an idle keep-alive connection.
 */
static bool still_at_boundary(int fd, const struct connctl_event *ev,
			      const struct tcp_info *ti)
{
	int inq = 0, outq = 0;

	uint64_t fin = 0;

	if (ti->tcpi_state != TCP_STATE_ESTABLISHED && ti->tcpi_state != TCP_STATE_CLOSE_WAIT)
		return false;
	/* The peer's FIN counts one byte received: it sent no request. */
	if (ti->tcpi_state == TCP_STATE_CLOSE_WAIT &&
	    ti->tcpi_bytes_received == ev->bytes_received + 1)
		fin = 1;
	if (ti->tcpi_bytes_received != ev->bytes_received + fin ||
	    ti->tcpi_bytes_acked != ev->bytes_acked)
		return false;
	if (ioctl(fd, SIOCINQ, &inq) || ioctl(fd, SIOCOUTQ, &outq))
		return false;
	return inq == 0 && outq == 0;
}

static void shut_down(struct agent *agent, struct tracked *t, const struct connctl_event *ev,
		      int fd, const struct tcp_info *ti)
{
	struct close_record rec;
	uint64_t now;

	if (shutdown(fd, SHUT_RDWR)) {
		pr_warn("rule %u: shutdown failed: %s", t->rule_id, strerror(errno));
		return;
	}
	now = monotonic_ns();
	record_from_event(&rec, ev, CLOSE_FIN, now);
	rec.bytes_in = ti->tcpi_bytes_received;
	rec.bytes_out = ti->tcpi_bytes_acked;
	record(agent, &rec);
	untrack(agent, t);
}

static void try_close(struct agent *agent, struct tracked *t, const struct connctl_event *ev)
{
	struct sock_diag_info info;
	struct tcp_info ti;
	uint64_t now = monotonic_ns();
	socklen_t len = sizeof(ti);
	int fd, err;

	err = sock_diag_lookup(agent_diag_fd(agent, t->tuple.netns_ino), &t->tuple, t->cookie, &info);
	if (err == -ENOENT) {
		ended(agent, t);
		return;
	}
	if (err) {
		pr_warn("rule %u: cannot look a connection up: %s", t->rule_id, strerror(-err));
		return;
	}
	if (info.state != TCP_STATE_ESTABLISHED && info.state != TCP_STATE_CLOSE_WAIT)
		return;		/* closing already: its END will come */
	/*
	 * No inode: no file holds the socket. Established, that is a socket
	 * not accepted yet (an orphan would be closing): give it time.
	 */
	fd = info.inode ? owner_take_fd(&agent->drain.owners, info.inode,
					OWNER_INDEX_FRESH_NS) : -ENOENT;
	if (fd < 0) {
		if (!t->no_owner_since_ns)
			t->no_owner_since_ns = now;
		if (now - t->no_owner_since_ns >= OWNER_WAIT_NS)
			reset(agent, t, ev, CLOSE_RST_NO_OWNER);
		return;
	}
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) ||
	    (t->action == CONNCTL_ACTION_DRAIN && !still_at_boundary(fd, ev, &ti))) {
		close(fd);
		return;
	}
	shut_down(agent, t, ev, fd, &ti);
	close(fd);
}

static struct tracked *track(struct agent *agent, const struct connctl_event *ev)
{
	struct tracked *t = tracked_find(&agent->drain.tracked, ev->cookie);
	struct rule_entry *e;

	if (t)
		return t;
	t = tracked_insert(&agent->drain.tracked, ev->cookie);
	if (!t) {
		pr_warn("rule %u: no memory to track a connection", ev->rule_id);
		return NULL;
	}
	t->tuple = ev->tuple;
	t->cgroup_id = ev->cgroup_id;
	t->rule_id = ev->rule_id;
	t->action = ev->action;
	e = rule_table_find(&agent->rules, ev->rule_id);
	if (e)
		e->stats.pending++;
	publish_tracked(agent, "tagged", t);
	return t;
}

void drain_on_event(struct agent *agent, const struct connctl_event *ev)
{
	struct tracked *t;

	switch (ev->type) {
	case CONNCTL_EV_MATCH:
	case CONNCTL_EV_TAGGED:
		t = track(agent, ev);
		if (t && ev->action == CONNCTL_ACTION_CANCEL)
			try_close(agent, t, ev);
		/* Its owner, known before its boundary comes: one walk a batch. */
		if (t && ev->type == CONNCTL_EV_TAGGED && ev->action == CONNCTL_ACTION_DRAIN)
			owner_index_warm(&agent->drain.owners, OWNER_INDEX_FRESH_NS);
		break;
	case CONNCTL_EV_READY:
		t = track(agent, ev);
		if (t)
			try_close(agent, t, ev);
		break;
	case CONNCTL_EV_TIMEOUT:
		drain_record(agent, ev, CLOSE_RST_TIMEOUT);
		t = tracked_find(&agent->drain.tracked, ev->cookie);
		if (t)
			untrack(agent, t);
		break;
	case CONNCTL_EV_END:
		t = tracked_find(&agent->drain.tracked, ev->cookie);
		if (t)
			ended(agent, t);
		break;
	default:
		break;
	}
}

/* Connections that closed with no END (their cgroup runs no sockops). */
static void collect_gone(struct agent *agent)
{
	struct tracked_table *tt = &agent->drain.tracked;
	struct sock_diag_info info;
	size_t i = 0;

	while (i < tt->cap) {
		struct tracked *t = &tt->slots[i];

		if (t->cookie &&
		    sock_diag_lookup(agent_diag_fd(agent, t->tuple.netns_ino), &t->tuple, t->cookie, &info) == -ENOENT) {
			ended(agent, t);
			continue;	/* the removal may have shifted another here */
		}
		i++;
	}
}

static void set_timer(struct drainer *d, bool on)
{
	struct itimerspec its = {};
	uint64_t after = SWEEP_INTERVAL_NS, now;

	if (on && d->next_quiet_ns) {
		now = monotonic_ns();
		after = d->next_quiet_ns > now ? d->next_quiet_ns - now : 0;
		if (after > SWEEP_INTERVAL_NS)
			after = SWEEP_INTERVAL_NS;
		if (after < SWEEP_SOONEST_NS)
			after = SWEEP_SOONEST_NS;
	}
	if (on) {
		struct itimerspec cur;

		/* Events come in streams: never push a due sweep later. */
		if (!timerfd_gettime(d->timer_fd, &cur) &&
		    (cur.it_value.tv_sec || cur.it_value.tv_nsec) &&
		    (uint64_t)cur.it_value.tv_sec * NSEC_PER_SEC +
		    (uint64_t)cur.it_value.tv_nsec <= after)
			return;
		/* One-shot: each sweep sets the next. */
		its.it_value.tv_nsec = (long)after;
	}
	timerfd_settime(d->timer_fd, 0, &its, NULL);
}

static void sweep(struct agent *agent)
{
	struct drainer *d = &agent->drain;
	struct pass_result res;

	if (closer_sweep(&agent->dp, &res))
		return;
	d->kernel_pending = res.pending;
	d->next_quiet_ns = res.next_ns;
	if (res.lost)
		pr_warn("sweep: %llu events lost to a full ring buffer; the next sweep "
			"reports them again", (unsigned long long)res.lost);
	events_poll(agent);
	if (++d->sweeps % SWEEPS_PER_GC == 0)
		collect_gone(agent);
}

void drain_schedule(struct agent *agent)
{
	struct drainer *d = &agent->drain;

	set_timer(d, d->tracked.n || d->kernel_pending);
}

static void on_timer(struct watch *w, uint32_t events)
{
	struct agent *agent = container_of(w, struct agent, drain_watch);
	uint64_t expirations;

	if (read(w->fd, &expirations, sizeof(expirations)) < 0)
		return;
	agent->drain.next_quiet_ns = 0;
	sweep(agent);
	drain_schedule(agent);
}

void drain_forget_rule(struct agent *agent, uint32_t rule_id)
{
	struct tracked_table *tt = &agent->drain.tracked;
	size_t i = 0;

	while (i < tt->cap) {
		if (tt->slots[i].cookie && tt->slots[i].rule_id == rule_id) {
			untrack(agent, &tt->slots[i]);
			continue;
		}
		i++;
	}
	drain_schedule(agent);
}

json_t *drain_records_to_json(const struct agent *agent)
{
	const struct drainer *d = &agent->drain;
	size_t n = d->records_total < CLOSE_RECORDS ? d->records_total : CLOSE_RECORDS;
	json_t *arr = json_array();

	for (size_t k = 0; k < n; k++) {
		size_t i = (d->records_next + CLOSE_RECORDS - n + k) % CLOSE_RECORDS;

		json_array_append_new(arr, close_record_to_json(agent, &d->records[i], NULL));
	}
	return arr;
}

int drain_open(struct agent *agent)
{
	struct drainer *d = &agent->drain;
	struct pass_result res;

	d->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->timer_fd < 0)
		return -errno;
	agent->drain_watch.fd = d->timer_fd;
	agent->drain_watch.handle = on_timer;
	if (watch_add(agent->epoll_fd, &agent->drain_watch, EPOLLIN))
		return -errno;
	/* Drains a previous agent left waiting carry on. */
	if (!closer_sweep(&agent->dp, &res) && res.pending) {
		pr_info("%llu tagged connections wait to close",
			(unsigned long long)res.pending);
		d->kernel_pending = res.pending;
	}
	return 0;
}

void drain_close(struct agent *agent)
{
	struct drainer *d = &agent->drain;

	if (d->timer_fd >= 0)
		close(d->timer_fd);
	d->timer_fd = -1;
	tracked_table_free(&d->tracked);
	owner_index_free(&d->owners);
}
