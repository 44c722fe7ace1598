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
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "engine/drainer.h"
#include "kernel/owner_walk.h"
#include "kernel/passes.h"
#include "kernel/tags.h"
#include "sys/netns.h"
#include "sys/sock_diag.h"

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
/* ... looking for it again this often. */
#define OWNER_RETRY_NS		(50 * NSEC_PER_MSEC)
/* A walk of /proc serves every lookup of a batch of closes. */
#define OWNER_INDEX_FRESH_NS	(5 * NSEC_PER_MSEC)
/* A connection the agent judges itself, looked at no more often than this. */
#define JUDGE_AGAIN_MIN_NS	(50 * NSEC_PER_MSEC)

/* --- outcomes, published --- */

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

static void publish_record(struct bus *bus, const struct close_record *rec, bool was_waiting)
{
	struct bus_event ev = {
		.kind = BUS_CLOSED, .rule_id = rec->rule_id, .action = rec->action,
		.realtime_ns = rec->realtime_ns,
		.closed = { .rec = rec, .was_waiting = was_waiting },
	};

	bus_emit(bus, &ev);
}

void publish_close(struct bus *bus, const struct connctl_event *ev,
		   enum close_outcome outcome, bool was_waiting)
{
	struct close_record rec;

	record_from_event(&rec, ev, outcome, monotonic_ns());
	publish_record(bus, &rec, was_waiting);
}

/* A waiting connection's event: TAGGED, ENDED, FORGOTTEN. */
static void publish_tracked(struct drainer *d, enum bus_kind kind, const struct tracked *t)
{
	struct bus_conn conn = { .tuple = t->tuple, .cgroup_id = t->cgroup_id };
	struct bus_event ev = { .kind = kind, .rule_id = t->rule_id, .action = t->action,
				.conn = &conn };

	bus_emit(d->bus, &ev);
}

static void untrack(struct drainer *d, struct tracked *t)
{
	tracked_remove(&d->tracked, t);
}

/* Closed by its owner or its peer before we did. */
static void ended(struct drainer *d, struct tracked *t)
{
	publish_tracked(d, BUS_ENDED, t);
	untrack(d, t);
}

static int diag_fd(struct drainer *d, const struct tracked *t)
{
	return netns_diag_fd(d->netns, t->tuple.netns_ino);
}

static void reset(struct drainer *d, struct tracked *t, const struct connctl_event *ev,
		  enum close_outcome outcome)
{
	int err = sock_diag_destroy(diag_fd(d, t), &t->tuple, t->cookie);

	if (err == -ENOENT) {
		ended(d, t);
		return;
	}
	if (err) {
		pr_warn("rule %u: cannot reset a connection: %s", t->rule_id, strerror(-err));
		return;
	}
	publish_close(d->bus, ev, outcome, true);
	untrack(d, t);
}

/*
 * The kernel judged the boundary an instant ago; the owner may have moved
 * since. Nothing new read, nothing new written, nothing queued to read:
 * still there. What was written may still be queued when the segment that
 * acknowledges it was held back (a busy client's request, cgroup_skb). A
 * server's peer data is held back from before this look, so a request that
 * lands after it never reaches the owner; a client's meets the FIN, as it
 * would with any server closing an idle keep-alive connection.
 */
static bool still_at_boundary(int fd, const struct connctl_event *ev,
			      const struct tcp_info *ti, int *outq)
{
	uint64_t fin = 0;
	int inq = 0;

	*outq = 0;
	if (ti->tcpi_state != TCP_STATE_ESTABLISHED && ti->tcpi_state != TCP_STATE_CLOSE_WAIT)
		return false;
	/* The peer's FIN counts one byte received: it sent no request. */
	if (ti->tcpi_state == TCP_STATE_CLOSE_WAIT &&
	    ti->tcpi_bytes_received == ev->bytes_received + 1)
		fin = 1;
	if (ti->tcpi_bytes_received != ev->bytes_received + fin)
		return false;
	if (ioctl(fd, SIOCINQ, &inq) || ioctl(fd, SIOCOUTQ, outq))
		return false;
	return inq == 0 && ti->tcpi_bytes_acked + (uint64_t)*outq == ev->bytes_written;
}

/* Looked up again at due_ns: an owner found, or the socket found gone. */
static void look_up_later(struct tracked *t, const struct connctl_event *ev, uint64_t due_ns)
{
	t->ev = *ev;
	t->due_ns = due_ns;
}

static void shut_down(struct drainer *d, struct tracked *t, const struct connctl_event *ev,
		      int fd, const struct tcp_info *ti)
{
	struct close_record rec;

	if (shutdown(fd, SHUT_RDWR)) {
		/* Reset since we looked. */
		if (errno == ENOTCONN) {
			look_up_later(t, ev, monotonic_ns() + OWNER_RETRY_NS);
			return;
		}
		/* Kept, it would wait for nothing to come: closed the hard way. */
		pr_warn("rule %u: shutdown failed: %s; resetting", t->rule_id, strerror(errno));
		reset(d, t, ev, CLOSE_RST_NO_OWNER);
		return;
	}
	record_from_event(&rec, ev, CLOSE_FIN, monotonic_ns());
	rec.bytes_in = ti->tcpi_bytes_received;
	rec.bytes_out = ti->tcpi_bytes_acked;
	publish_record(d->bus, &rec, true);
	untrack(d, t);
}

/*
 * The agent's own judgement of a boundary, from tcp_info: nothing moved
 * since the count was taken, nothing queued, the right side spoke last (by
 * the milliseconds since data each way, a tie counting as busy) and nothing
 * either way for the quiet period. Coarser than the kernel's, so used only
 * for a connection found moved whose next boundary no event may report:
 * sockops's event can go with an agent that read it and died.
 */
static bool judged_at_boundary(int fd, const struct tracked *t, const struct tcp_info *ti)
{
	uint32_t idle_ms = ti->tcpi_last_data_sent;
	bool right_side_last;
	int outq;

	if (!still_at_boundary(fd, &t->ev, ti, &outq) || outq)
		return false;
	if (ti->tcpi_state == TCP_STATE_CLOSE_WAIT)
		return true;
	/* A server answered last; a client's peer did. */
	if (t->ev.role == CONNCTL_ROLE_PASSIVE)
		right_side_last = ti->tcpi_last_data_sent < ti->tcpi_last_data_recv;
	else
		right_side_last = ti->tcpi_last_data_recv < ti->tcpi_last_data_sent;
	if (!right_side_last)
		return false;
	if (ti->tcpi_last_data_recv < idle_ms)
		idle_ms = ti->tcpi_last_data_recv;
	if (ti->tcpi_last_ack_recv < idle_ms)
		idle_ms = ti->tcpi_last_ack_recv;
	return idle_ms >= t->ev.quiet_ms;
}

/* Moved since judged: counted afresh, and looked at again a quiet period on. */
static void judge_later(struct tracked *t, const struct connctl_event *ev,
			const struct tcp_info *ti, int outq, uint64_t now)
{
	uint64_t quiet_ns = (uint64_t)ev->quiet_ms * 1000000;

	t->ev = *ev;
	t->ev.bytes_received = ti->tcpi_bytes_received;
	t->ev.bytes_acked = ti->tcpi_bytes_acked;
	t->ev.bytes_written = ti->tcpi_bytes_acked + (uint64_t)outq;
	t->own_judgement = true;
	t->diag_look = !t->callbacks;
	t->due_ns = now + (quiet_ns > JUDGE_AGAIN_MIN_NS ? quiet_ns : JUDGE_AGAIN_MIN_NS);
}

/*
 * The last look before a drain's FIN. A server's peer data is held back
 * first, so what arrived before the look is seen by it and what arrives
 * after never reaches the owner; a busy one is let through again.
 */
static void drain_look(struct drainer *d, struct tracked *t, const struct connctl_event *ev,
		       int fd, uint64_t now)
{
	bool hold = ev->role == CONNCTL_ROLE_PASSIVE;
	socklen_t len = sizeof(struct tcp_info);
	struct tcp_info ti;
	bool ready;
	int outq = 0;

	if (hold)
		tags_hold_peer(d->dp, fd, true);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len)) {
		if (hold)
			tags_hold_peer(d->dp, fd, false);
		return;
	}
	ready = t->own_judgement ? judged_at_boundary(fd, t, &ti) :
				   still_at_boundary(fd, ev, &ti, &outq);
	if (ready) {
		shut_down(d, t, ev, fd, &ti);
		return;
	}
	if (hold)
		tags_hold_peer(d->dp, fd, false);
	/* Counted afresh for the next look: what is queued now too. */
	if (ioctl(fd, SIOCOUTQ, &outq))
		outq = 0;
	pr_debug("rule %u: cookie %llu not at a boundary (in %llu, acked %llu): "
		 "judged again in a quiet period", t->rule_id, (unsigned long long)t->cookie,
		 (unsigned long long)ti.tcpi_bytes_received,
		 (unsigned long long)ti.tcpi_bytes_acked);
	judge_later(t, ev, &ti, outq, now);
}

/*
 * The owner's fd for the socket with this inode, checked to be the tracked
 * socket itself by its cookie (an inode number can be reused); -ENOENT if
 * no process holds it.
 */
static int owner_fd(struct drainer *d, const struct tracked *t, uint64_t inode)
{
	socklen_t len = sizeof(uint64_t);
	uint64_t cookie = 0;
	int fd;

	fd = owner_take_fd_in(&d->owners, inode, t->cgroup_id, OWNER_INDEX_FRESH_NS);
	if (fd < 0)
		return fd;
	if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) || cookie != t->cookie) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

static void close_through(struct drainer *d, struct tracked *t,
			  const struct connctl_event *ev, int fd, uint64_t now)
{
	socklen_t len = sizeof(struct tcp_info);
	struct tcp_info ti;

	if (t->action == CONNCTL_ACTION_DRAIN)
		drain_look(d, t, ev, fd, now);
	else if (!getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		shut_down(d, t, ev, fd, &ti);
	close(fd);
}

static void try_close(struct drainer *d, struct tracked *t, const struct connctl_event *ev)
{
	struct sock_diag_info info;
	uint64_t now = monotonic_ns();
	int fd, err;

	/* The owner straight from the inode the kernel reported, when it has one. */
	fd = ev->inode ? owner_fd(d, t, ev->inode) : -ENOENT;
	if (fd >= 0) {
		close_through(d, t, ev, fd, now);
		return;
	}
	err = sock_diag_lookup(diag_fd(d, t), &t->tuple, t->cookie, &info);
	if (err == -ENOENT) {
		ended(d, t);
		return;
	}
	if (err) {
		pr_warn("rule %u: cannot look a connection up: %s; trying again in a second",
			t->rule_id, strerror(-err));
		look_up_later(t, ev, now + OWNER_WAIT_NS);
		return;
	}
	/*
	 * Closing already: its END will come, but only sockets with callbacks
	 * report it. Looked up again until it is gone, so that none stays.
	 */
	if (info.state != TCP_STATE_ESTABLISHED && info.state != TCP_STATE_CLOSE_WAIT) {
		look_up_later(t, ev, now + OWNER_RETRY_NS);
		return;
	}
	if (!t->cgroup_id)
		t->cgroup_id = info.cgroup_id;
	/*
	 * No inode: no file holds the socket. Established, that is a socket
	 * not accepted yet (an orphan would be closing): give it time.
	 */
	fd = info.inode ? owner_fd(d, t, info.inode) : -ENOENT;
	if (fd < 0) {
		if (!t->no_owner_since_ns)
			t->no_owner_since_ns = now;
		if (now - t->no_owner_since_ns >= OWNER_WAIT_NS) {
			reset(d, t, ev, CLOSE_RST_NO_OWNER);
			return;
		}
		look_up_later(t, ev, now + OWNER_RETRY_NS);
		return;
	}
	close_through(d, t, ev, fd, now);
}

/* Its namespace is walked next, for the kernel's judgement of it. */
static void want_walk(struct drainer *d, uint32_t ino)
{
	for (size_t i = 0; i < d->n_walk; i++)
		if (d->walk_inos[i] == ino)
			return;
	if (array_grow(&d->walk_inos, &d->cap_walk, d->n_walk, sizeof(*d->walk_inos)))
		return;
	d->walk_inos[d->n_walk++] = ino;
}

static uint64_t at_least(uint64_t ns, uint64_t min_ns)
{
	return ns > min_ns ? ns : min_ns;
}

/* Looked at by sock_diag again after_ns from now (a tick at least). */
static void diag_look_after(struct tracked *t, uint64_t now, uint64_t after_ns)
{
	t->diag_look = true;
	t->due_ns = now + at_least(after_ns, SWEEP_SOONEST_NS);
}

/* Nothing either way (data, or an ACK) for this long. */
static uint32_t idle_ms_of(const struct tcp_info *ti)
{
	uint32_t idle_ms = ti->tcpi_last_data_sent;

	if (ti->tcpi_last_data_recv < idle_ms)
		idle_ms = ti->tcpi_last_data_recv;
	if (ti->tcpi_last_ack_recv < idle_ms)
		idle_ms = ti->tcpi_last_ack_recv;
	return idle_ms;
}

/*
 * Quiet for its quiet period, its queues empty: at a boundary if the right
 * side spoke last. Nothing moved since the kernel's last word on it: that
 * word holds, boundary or busy. Moved: the side whose data moved last, by
 * the milliseconds since data each way; the same millisecond decides
 * nothing, and the kernel judges it (snd_wl1) in a walk of its namespace.
 */
static void diag_decide(struct drainer *d, struct tracked *t, const struct sock_diag_info *info,
			uint64_t now)
{
	const struct tcp_info *ti = &info->tcp_info;
	uint64_t quiet_ns = at_least((uint64_t)t->ev.quiet_ms * NSEC_PER_MSEC, JUDGE_AGAIN_MIN_NS);
	uint64_t written = ti->tcpi_bytes_acked + info->wqueue;
	struct connctl_event ev = t->ev;
	bool sent_last, recv_last;

	if (!t->own_judgement && ti->tcpi_bytes_received == ev.bytes_received &&
	    ti->tcpi_bytes_acked == ev.bytes_acked && written == ev.bytes_written) {
		if (ev.type != CONNCTL_EV_BOUNDARY && ev.type != CONNCTL_EV_READY) {
			diag_look_after(t, now, quiet_ns);
			return;
		}
		t->diag_look = false;
		try_close(d, t, &ev);
		return;
	}
	sent_last = ti->tcpi_last_data_sent < ti->tcpi_last_data_recv;
	recv_last = ti->tcpi_last_data_recv < ti->tcpi_last_data_sent;
	if (info->state == TCP_STATE_CLOSE_WAIT ||
	    (ev.role == CONNCTL_ROLE_PASSIVE ? sent_last : recv_last)) {
		/* Counted now: the last look, through the owner, checks nothing moved. */
		ev.bytes_received = ti->tcpi_bytes_received;
		ev.bytes_acked = ti->tcpi_bytes_acked;
		ev.bytes_written = written;
		t->ev = ev;
		t->own_judgement = true;
		t->diag_look = false;
		try_close(d, t, &ev);
		return;
	}
	diag_look_after(t, now, quiet_ns);
	if (!sent_last && !recv_last)
		want_walk(d, t->tuple.netns_ino);
}

/*
 * A drain nothing reports the boundaries of (a server outside --cgroup),
 * looked at with one sock_diag lookup when its quiet could have run out,
 * instead of sweeps that walk the namespace: queues, counts and idle times
 * from its tcp_info. Busy, or not quiet long enough: looked at again when
 * it could be.
 */
static void diag_judge(struct drainer *d, struct tracked *t, uint64_t now)
{
	uint64_t quiet_ns = (uint64_t)t->ev.quiet_ms * NSEC_PER_MSEC;
	struct sock_diag_info info;
	uint32_t idle_ms;
	int err;

	d->looks++;
	err = sock_diag_lookup(diag_fd(d, t), &t->tuple, t->cookie, &info);
	if (err == -ENOENT) {
		ended(d, t);
		return;
	}
	if (err || !info.has_tcp_info) {
		diag_look_after(t, now, OWNER_WAIT_NS);
		return;
	}
	if (info.state != TCP_STATE_ESTABLISHED && info.state != TCP_STATE_CLOSE_WAIT) {
		diag_look_after(t, now, OWNER_RETRY_NS);
		return;
	}
	if (info.rqueue || info.wqueue) {
		diag_look_after(t, now, at_least(quiet_ns, JUDGE_AGAIN_MIN_NS));
		return;
	}
	idle_ms = idle_ms_of(&info.tcp_info);
	if (info.state == TCP_STATE_ESTABLISHED && idle_ms < t->ev.quiet_ms) {
		diag_look_after(t, now, (uint64_t)(t->ev.quiet_ms - idle_ms) * NSEC_PER_MSEC);
		return;
	}
	diag_decide(d, t, &info, now);
}

static struct tracked *track(struct drainer *d, const struct connctl_event *ev)
{
	struct tracked *t = tracked_find(&d->tracked, ev->cookie);

	if (t) {
		/* A sweep's event may not have known it. */
		if (!t->cgroup_id)
			t->cgroup_id = ev->cgroup_id;
		return t;
	}
	t = tracked_insert(&d->tracked, ev->cookie);
	if (!t) {
		pr_warn("rule %u: no memory to track a connection", ev->rule_id);
		return NULL;
	}
	t->tuple = ev->tuple;
	t->cgroup_id = ev->cgroup_id;
	t->rule_id = ev->rule_id;
	t->action = ev->action;
	t->deadline_ns = ev->action == CONNCTL_ACTION_DRAIN ? ev->deadline_ns : 0;
	/* A tag from before an agent that could not watch recv() says otherwise. */
	t->callbacks = (ev->flags & CONNCTL_TAG_CALLBACKS) &&
		       (ev->role == CONNCTL_ROLE_PASSIVE || datapath_watches_recv(d->dp));
	t->ev = *ev;
	publish_tracked(d, BUS_TAGGED, t);
	return t;
}

void drainer_on_event(struct drainer *d, const struct connctl_event *ev)
{
	struct tracked *t;

	switch (ev->type) {
	case CONNCTL_EV_MATCH:
	case CONNCTL_EV_TAGGED:
	case CONNCTL_EV_BOUNDARY:
		t = track(d, ev);
		if (t && ev->action == CONNCTL_ACTION_CANCEL)
			try_close(d, t, ev);
		/* At a boundary: closed when its quiet runs out, if nothing moved. */
		if (t && ev->due_ns) {
			t->due_ns = ev->due_ns;
			t->ev = *ev;
			t->own_judgement = false;
			t->diag_look = false;
		} else if (t && ev->action == CONNCTL_ACTION_DRAIN && !t->callbacks) {
			/* Busy, and no boundary of it will be reported: looked at. */
			t->ev = *ev;
			t->own_judgement = false;
			diag_look_after(t, monotonic_ns(),
					at_least((uint64_t)ev->quiet_ms * NSEC_PER_MSEC,
						 JUDGE_AGAIN_MIN_NS));
		}
		/*
		 * Its owner, known before its close comes, when that is within
		 * the index's freshness: one walk of its cgroup's processes a
		 * batch. A walk for a later close is stale by then, and a paced
		 * answer reports a boundary every burst.
		 */
		if (t && ev->type == CONNCTL_EV_BOUNDARY && ev->action == CONNCTL_ACTION_DRAIN &&
		    ev->due_ns <= monotonic_ns() + OWNER_INDEX_FRESH_NS)
			owner_index_warm_in(&d->owners, t->cgroup_id, OWNER_INDEX_FRESH_NS);
		break;
	case CONNCTL_EV_READY:
		t = track(d, ev);
		if (t) {
			t->due_ns = 0;
			t->own_judgement = false;
			t->diag_look = false;
			try_close(d, t, ev);
		}
		break;
	case CONNCTL_EV_TIMEOUT:
		t = tracked_find(&d->tracked, ev->cookie);
		publish_close(d->bus, ev, CLOSE_RST_TIMEOUT, t != NULL);
		if (t)
			untrack(d, t);
		break;
	case CONNCTL_EV_END:
		t = tracked_find(&d->tracked, ev->cookie);
		if (t)
			ended(d, t);
		break;
	default:
		break;
	}
}

/* Connections that closed with no END (their cgroup runs no sockops). */
static void collect_gone(struct drainer *d)
{
	struct tracked_table *tt = &d->tracked;
	struct sock_diag_info info;
	size_t i = 0;

	while (i < tt->cap) {
		struct tracked *t = &tt->slots[i];

		if (t->cookie &&
		    sock_diag_lookup(diag_fd(d, t), &t->tuple, t->cookie, &info) == -ENOENT) {
			ended(d, t);
			continue;	/* the removal may have shifted another here */
		}
		i++;
	}
}

/*
 * The one-shot timer, at the earliest of: a drain's quiet or timeout
 * running out, a retry, a sweep. Events come in streams: a due time is
 * never pushed later.
 */
static void set_timer(struct drainer *d, uint64_t at)
{
	struct itimerspec its = {}, cur;
	uint64_t now = monotonic_ns(), after;

	/* Most turns have nothing to wait for: no system call then. */
	if (!at && !d->timer_armed)
		return;
	d->timer_armed = at != 0;
	if (at) {
		after = at > now + SWEEP_SOONEST_NS ? at - now : SWEEP_SOONEST_NS;
		if (!timerfd_gettime(d->timer.fd, &cur) &&
		    (cur.it_value.tv_sec || cur.it_value.tv_nsec) &&
		    (uint64_t)cur.it_value.tv_sec * NSEC_PER_SEC +
		    (uint64_t)cur.it_value.tv_nsec <= after)
			return;
		its.it_value.tv_sec = (time_t)(after / NSEC_PER_SEC);
		its.it_value.tv_nsec = (long)(after % NSEC_PER_SEC);
	}
	timerfd_settime(d->timer.fd, 0, &its, NULL);
}

/*
 * A pass over the tagged connections, for those whose boundaries sockops
 * cannot report (outside --cgroup). What it reports arrives on the ring
 * buffer, whose watch hands it back to us: the sweep never calls into the
 * event intake itself.
 */
static void sweep(struct drainer *d)
{
	struct pass_result res;

	d->sweeps++;
	if (passes_sweep(d->dp, &res))
		return;
	d->kernel_pending = res.pending;
	d->next_quiet_ns = res.next_ns;
	if (d->sweeps % SWEEPS_PER_GC == 0)
		collect_gone(d);
}

/*
 * Sweeps are for tagged connections the kernel knows of and the agent
 * does not (events lost): every connection the agent knows of reports its
 * own boundaries, or is looked at alone (diag_judge).
 */
static bool sweeps_needed(const struct drainer *d)
{
	return d->kernel_pending > d->tracked.n;
}

void drainer_schedule(struct drainer *d)
{
	const struct tracked_table *tt = &d->tracked;
	uint64_t next = 0, now = monotonic_ns(), at;

	/* No walk of the slots and no entry held: the one place to shrink it. */
	tracked_settle(&d->tracked);

	for (size_t i = 0; i < tt->cap; i++) {
		const struct tracked *t = &tt->slots[i];

		if (!t->cookie)
			continue;
		if (t->due_ns && (!next || t->due_ns < next))
			next = t->due_ns;
		if (t->deadline_ns && (!next || t->deadline_ns < next))
			next = t->deadline_ns;
	}
	if (sweeps_needed(d)) {
		at = now + SWEEP_INTERVAL_NS;
		if (d->next_quiet_ns && d->next_quiet_ns < at)
			at = d->next_quiet_ns;
		if (!d->sweep_at_ns || at < d->sweep_at_ns)
			d->sweep_at_ns = at;
		if (!next || d->sweep_at_ns < next)
			next = d->sweep_at_ns;
	} else {
		d->sweep_at_ns = 0;
	}
	set_timer(d, next);
}

bool drainer_idle(const struct drainer *d)
{
	return !d->tracked.n && !d->kernel_pending && !d->sweep_at_ns;
}

void drainer_note_pending(struct drainer *d, uint64_t pending)
{
	if (pending > d->kernel_pending)
		d->kernel_pending = pending;
}

/* The waiting connections whose time came: a deadline (reset), a quiet run out (close). */
static void look_again(struct drainer *d, uint64_t now)
{
	struct tracked_table *tt = &d->tracked;
	size_t i = 0;

	while (i < tt->cap) {
		struct tracked *t = &tt->slots[i];
		uint64_t cookie = t->cookie;

		if (cookie && t->deadline_ns && now >= t->deadline_ns) {
			reset(d, t, &t->ev, CLOSE_RST_TIMEOUT);
		} else if (cookie && t->due_ns && now >= t->due_ns) {
			struct connctl_event ev = t->ev;

			t->due_ns = 0;
			if (t->diag_look)
				diag_judge(d, t, now);
			else
				try_close(d, t, &ev);
		}
		/* Removed: another may have moved into this slot. */
		if (!cookie || tt->slots[i].cookie == cookie)
			i++;
	}
}

/*
 * The namespaces of drains the agent could not judge, walked for the
 * kernel's word on each (reported as events, TAGGED when busy).
 */
static void walk_wanted(struct drainer *d)
{
	struct pass_result res;

	if (!d->n_walk)
		return;
	d->sweeps++;
	passes_sweep_in(d->dp, d->walk_inos, d->n_walk, &res);
	d->n_walk = 0;
}

static void on_timer(struct watch *w, uint32_t events)
{
	struct drainer *d = container_of(w, struct drainer, timer);
	uint64_t expirations, now;

	if (read(w->fd, &expirations, sizeof(expirations)) < 0)
		return;
	/* One-shot: it fired, so it is disarmed. */
	d->timer_armed = false;
	now = monotonic_ns();
	look_again(d, now);
	walk_wanted(d);
	if (d->sweep_at_ns && now >= d->sweep_at_ns) {
		d->sweep_at_ns = 0;
		d->next_quiet_ns = 0;
		sweep(d);
	}
	drainer_schedule(d);
}

/* A rule was deleted: its connections no longer wait, in the kernel or here. */
static void forget_rule(struct drainer *d, uint32_t rule_id, const struct connctl_rule *rule)
{
	struct connctl_rule id_only = { .id = rule_id };
	struct tracked_table *tt = &d->tracked;
	struct pass_result res;
	size_t i = 0;

	if (!passes_untag(d->dp, rule ? rule : &id_only, &res) && res.matched)
		pr_info("rule %u: %llu connections no longer wait to close", rule_id,
			(unsigned long long)res.matched);
	while (i < tt->cap) {
		struct tracked *t = &tt->slots[i];

		if (t->cookie && t->rule_id == rule_id) {
			publish_tracked(d, BUS_FORGOTTEN, t);
			untrack(d, t);
			continue;
		}
		i++;
	}
	drainer_schedule(d);
}

static bool wants(struct bus_sink *s, enum bus_kind kind, uint32_t rule_id)
{
	return kind == BUS_RULE_REMOVED;
}

/* Deleted, not expired: what it tagged is left alone, not closed later. */
static void emit(struct bus_sink *s, const struct bus_event *ev)
{
	struct drainer *d = container_of(s, struct drainer, sink);

	if (ev->removed == REMOVED_DELETED || ev->removed == REMOVED_RULES_DIR) {
		/* Only drain and cancel leave tags that wait; a pass for others is wasted. */
		if (ev->action == CONNCTL_ACTION_DRAIN || ev->action == CONNCTL_ACTION_CANCEL)
			forget_rule(d, ev->rule_id, ev->rule);
	}
}

int drainer_open(struct drainer *d, struct loop *loop, struct datapath *dp,
		 struct netns_set *netns, struct bus *bus)
{
	struct pass_result res;
	int err;

	*d = (struct drainer){ .loop = loop, .dp = dp, .netns = netns, .bus = bus,
			       .sink = { .wants = wants, .emit = emit } };
	datapath_owner_index_init(dp, &d->owners);
	d->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->timer.fd < 0)
		return -errno;
	d->timer.handle = on_timer;
	err = watch_add(loop, &d->timer, EPOLLIN);
	if (err)
		return err;
	bus_subscribe(bus, &d->sink);
	/* Drains a previous agent left waiting carry on: each reported, busy or not. */
	if (!passes_sweep(dp, &res) && res.pending) {
		pr_info("%llu tagged connections wait to close",
			(unsigned long long)res.pending);
		d->kernel_pending = res.pending;
	}
	return 0;
}

void drainer_close(struct drainer *d)
{
	if (d->bus)
		bus_unsubscribe(d->bus, &d->sink);
	if (d->timer.fd >= 0)
		close(d->timer.fd);
	d->timer.fd = -1;
	tracked_table_free(&d->tracked);
	owner_index_free(&d->owners);
	free(d->walk_inos);
	d->walk_inos = NULL;
	d->n_walk = d->cap_walk = 0;
}
