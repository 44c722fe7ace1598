// SPDX-License-Identifier: GPL-2.0
/*
 * The drainer on its own: kernel events in, what it did on the bus, the sys
 * and kernel layers faked, a real loopback TCP connection as the owner's
 * socket. A cancel closes through the owner (the peer reads EOF), a drain
 * closes only while nothing moved since the kernel judged it, a socket gone
 * first is ENDED, a timeout is an rst-timeout, a deleted rule's connections
 * are forgotten. A drain with no callbacks (outside --cgroup) is judged by
 * sock_diag looks: closed when the server answered last and all went quiet,
 * left alone while the peer waits for its answer, its namespace walked only
 * when the two fell in the same millisecond.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include "engine/drainer.h"
#include "fakes/fakes.h"

struct fixture {
	struct loop		loop;
	struct bus		bus;
	struct fake_sink	sink;
	struct drainer		d;
	int			client, owner;	/* a loopback connection */
};

static int tcp_pair(int *client, int *server)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&sa, &len))
		return -1;
	*client = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(*client, (struct sockaddr *)&sa, sizeof(sa)))
		return -1;
	*server = accept(l, NULL, NULL);
	close(l);
	return *server < 0 ? -1 : 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	memset(&fake_kernel, 0, sizeof(fake_kernel));
	memset(&fake_sys, 0, sizeof(fake_sys));
	if (loop_open(&f->loop) || tcp_pair(&f->client, &f->owner))
		return -1;
	fake_sys.owner_fd = f->owner;
	fake_sink_init(&f->sink, &f->bus);
	if (drainer_open(&f->d, &f->loop, NULL, NULL, &f->bus))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	drainer_close(&f->d);
	loop_close(&f->loop);
	close(f->client);
	close(f->owner);
	free(f);
	return 0;
}

/* An event as the kernel reports a connection of rule 3. */
static struct connctl_event event(enum connctl_event_type type, enum connctl_action action,
				  const struct fixture *f)
{
	struct connctl_event ev = { .type = type, .rule_id = 3, .action = action,
				    .role = CONNCTL_ROLE_PASSIVE };
	socklen_t len = sizeof(ev.cookie);
	struct tcp_info ti;

	/* The agent checks the owner's fd is this very socket, by its cookie. */
	assert_int_equal(getsockopt(f->owner, SOL_SOCKET, SO_COOKIE, &ev.cookie, &len), 0);
	len = sizeof(ti);

	/* What the kernel saw: the socket's counters as they are now. */
	if (!getsockopt(f->owner, IPPROTO_TCP, TCP_INFO, &ti, &len)) {
		ev.bytes_received = ti.tcpi_bytes_received;
		ev.bytes_acked = ti.tcpi_bytes_acked;
		ev.bytes_written = ti.tcpi_bytes_acked;
	}
	return ev;
}

static bool peer_reads_eof(int fd)
{
	char c;

	return recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

static void test_cancel_closes_through_the_owner(void **state)
{
	struct fixture *f = *state;
	struct connctl_event ev = event(CONNCTL_EV_MATCH, CONNCTL_ACTION_CANCEL, f);
	const struct seen_event *closed;

	drainer_on_event(&f->d, &ev);
	assert_non_null(fake_sink_find(&f->sink, BUS_TAGGED, 0));
	closed = fake_sink_find(&f->sink, BUS_CLOSED, 0);
	assert_non_null(closed);
	assert_int_equal(closed->outcome, CLOSE_FIN);
	assert_true(closed->was_waiting);
	assert_true(peer_reads_eof(f->client));
	assert_int_equal(f->d.tracked.n, 0);
}

static void test_drain_waits_while_something_moved(void **state)
{
	struct fixture *f = *state;
	struct connctl_event ev = event(CONNCTL_EV_READY, CONNCTL_ACTION_DRAIN, f);
	struct connctl_event stale = ev;

	/* The kernel judged a boundary, but a request arrived since: no close. */
	stale.bytes_received += 5;
	drainer_on_event(&f->d, &stale);
	assert_null(fake_sink_find(&f->sink, BUS_CLOSED, 0));
	assert_false(peer_reads_eof(f->client));
	assert_int_equal(f->d.tracked.n, 1);
	/* The peer's data, held back for the look, flows again. */
	assert_false(fake_kernel.held);
	/* Judged again, with nothing moved: closed with a FIN, the peer held back. */
	drainer_on_event(&f->d, &ev);
	assert_int_equal(fake_sink_find(&f->sink, BUS_CLOSED, 0)->outcome, CLOSE_FIN);
	assert_true(peer_reads_eof(f->client));
	assert_true(fake_kernel.held);
}

static void test_drain_waits_for_new_writes(void **state)
{
	struct fixture *f = *state;
	struct connctl_event ev = event(CONNCTL_EV_READY, CONNCTL_ACTION_DRAIN, f);

	/* The owner wrote since the boundary was judged: an answer on its way. */
	ev.bytes_written -= 7;
	drainer_on_event(&f->d, &ev);
	assert_null(fake_sink_find(&f->sink, BUS_CLOSED, 0));
	assert_false(peer_reads_eof(f->client));
	assert_false(fake_kernel.held);
}

/* The kernel's inode finds the owner with no sock_diag lookup; the cookie must agree. */
static void test_owner_by_inode(void **state)
{
	struct fixture *f = *state;
	struct connctl_event ev = event(CONNCTL_EV_READY, CONNCTL_ACTION_CANCEL, f);
	struct connctl_event other = ev;

	fake_sys.gone = true;		/* sock_diag would say it is gone */
	other.inode = 1;
	other.cookie = ev.cookie + 1;	/* another socket had this inode */
	drainer_on_event(&f->d, &other);
	assert_null(fake_sink_find(&f->sink, BUS_CLOSED, 0));
	assert_false(peer_reads_eof(f->client));
	ev.inode = 1;
	drainer_on_event(&f->d, &ev);
	assert_int_equal(fake_sink_find(&f->sink, BUS_CLOSED, 0)->outcome, CLOSE_FIN);
	assert_true(peer_reads_eof(f->client));
}

static void test_gone_first_is_ended(void **state)
{
	struct fixture *f = *state;
	struct connctl_event ev = event(CONNCTL_EV_READY, CONNCTL_ACTION_DRAIN, f);

	fake_sys.gone = true;
	drainer_on_event(&f->d, &ev);
	assert_non_null(fake_sink_find(&f->sink, BUS_ENDED, 0));
	assert_null(fake_sink_find(&f->sink, BUS_CLOSED, 0));
	assert_int_equal(f->d.tracked.n, 0);
}

static void test_timeout(void **state)
{
	struct fixture *f = *state;
	struct connctl_event tagged = event(CONNCTL_EV_TAGGED, CONNCTL_ACTION_DRAIN, f);
	struct connctl_event timeout = event(CONNCTL_EV_TIMEOUT, CONNCTL_ACTION_DRAIN, f);
	const struct seen_event *closed;

	drainer_on_event(&f->d, &tagged);
	drainer_on_event(&f->d, &timeout);
	closed = fake_sink_find(&f->sink, BUS_CLOSED, 0);
	assert_non_null(closed);
	assert_int_equal(closed->outcome, CLOSE_RST_TIMEOUT);
	assert_true(closed->was_waiting);
	assert_int_equal(f->d.tracked.n, 0);
}

static void test_deleted_rule_forgotten(void **state)
{
	struct fixture *f = *state;
	struct connctl_event tagged = event(CONNCTL_EV_TAGGED, CONNCTL_ACTION_DRAIN, f);
	struct bus_event removed = { .kind = BUS_RULE_REMOVED, .rule_id = 3,
				     .action = CONNCTL_ACTION_DRAIN, .removed = REMOVED_DELETED };

	drainer_on_event(&f->d, &tagged);
	bus_emit(&f->bus, &removed);
	assert_non_null(fake_sink_find(&f->sink, BUS_FORGOTTEN, 0));
	assert_int_equal(fake_kernel.untagged, 3);
	assert_int_equal(f->d.tracked.n, 0);
	assert_false(peer_reads_eof(f->client));
}

/* The timer's turn, once a look is due: at most 2 s. */
static void run_until(struct fixture *f, bool (*done)(struct fixture *f))
{
	for (int i = 0; i < 200 && !done(f); i++)
		loop_run_once(&f->loop, 10);
}

static bool closed_or_walked(struct fixture *f)
{
	return fake_sink_find(&f->sink, BUS_CLOSED, 0) || fake_kernel.walked;
}

/* Outside --cgroup: no boundary of it is reported (no callbacks flag). */
static struct connctl_event blind_tagged(const struct fixture *f)
{
	struct connctl_event ev = event(CONNCTL_EV_TAGGED, CONNCTL_ACTION_DRAIN, f);

	ev.quiet_ms = 20;
	ev.deadline_ns = 0;
	return ev;
}

static void answer(struct fixture *f, bool request_first)
{
	char buf[16];

	/* Apart by more than a tick, so the milliseconds each way differ. */
	if (request_first) {
		assert_int_equal(send(f->client, "GET", 3, 0), 3);
		assert_int_equal(recv(f->owner, buf, sizeof(buf), 0), 3);
		usleep(30000);
	}
	assert_int_equal(send(f->owner, "200 OK", 6, 0), 6);
	assert_int_equal(recv(f->client, buf, sizeof(buf), 0), 6);
	if (!request_first) {
		usleep(30000);
		assert_int_equal(send(f->client, "GET", 3, 0), 3);
		assert_int_equal(recv(f->owner, buf, sizeof(buf), 0), 3);
	}
}

/* Busy when tagged, answered since, then quiet: the agent's own look closes it. */
static void test_blind_drain_closed_by_its_look(void **state)
{
	struct fixture *f = *state;
	struct connctl_event ev = blind_tagged(f);

	drainer_on_event(&f->d, &ev);
	drainer_schedule(&f->d);
	assert_int_equal(f->d.tracked.n, 1);
	answer(f, true);
	run_until(f, closed_or_walked);
	assert_non_null(fake_sink_find(&f->sink, BUS_CLOSED, 0));
	assert_int_equal(fake_sink_find(&f->sink, BUS_CLOSED, 0)->outcome, CLOSE_FIN);
	assert_true(peer_reads_eof(f->client));
	assert_int_equal(fake_kernel.walked, 0);
	assert_int_equal(f->d.sweeps, 0);
}

/* The peer asked last (the server is thinking): left open, no walk. */
static void test_blind_drain_waits_for_its_answer(void **state)
{
	struct fixture *f = *state;
	struct connctl_event ev = blind_tagged(f);

	drainer_on_event(&f->d, &ev);
	drainer_schedule(&f->d);
	answer(f, false);
	run_until(f, closed_or_walked);
	assert_null(fake_sink_find(&f->sink, BUS_CLOSED, 0));
	assert_false(peer_reads_eof(f->client));
	assert_int_equal(fake_kernel.walked, 0);
	assert_int_equal(f->d.tracked.n, 1);
}

/* Request and answer in the same millisecond: the kernel is asked, by a walk. */
static void test_blind_drain_tie_walks_its_namespace(void **state)
{
	struct fixture *f = *state;
	struct connctl_event ev = blind_tagged(f);
	char buf[16];

	drainer_on_event(&f->d, &ev);
	drainer_schedule(&f->d);
	assert_int_equal(send(f->client, "GET", 3, 0), 3);
	assert_int_equal(recv(f->owner, buf, sizeof(buf), 0), 3);
	assert_int_equal(send(f->owner, "200 OK", 6, 0), 6);
	assert_int_equal(recv(f->client, buf, sizeof(buf), 0), 6);
	run_until(f, closed_or_walked);
	/* The same jiffy both ways, most runs; a tick between them closes it. */
	if (fake_kernel.walked) {
		assert_null(fake_sink_find(&f->sink, BUS_CLOSED, 0));
		assert_int_equal(fake_kernel.walked, 1);
		assert_int_equal(f->d.sweeps, 1);
	} else {
		assert_non_null(fake_sink_find(&f->sink, BUS_CLOSED, 0));
	assert_int_equal(fake_sink_find(&f->sink, BUS_CLOSED, 0)->outcome, CLOSE_FIN);
	}
}

/* Nothing moved since the kernel judged it busy: still busy, no walk. */
static void test_blind_drain_kernel_word_holds(void **state)
{
	struct fixture *f = *state;
	struct connctl_event ev = blind_tagged(f);

	drainer_on_event(&f->d, &ev);
	drainer_schedule(&f->d);
	for (int i = 0; i < 10; i++)
		loop_run_once(&f->loop, 10);
	assert_null(fake_sink_find(&f->sink, BUS_CLOSED, 0));
	assert_int_equal(fake_kernel.walked, 0);
	/* The kernel's BOUNDARY, nothing moved since: closed at its look. */
	ev.type = CONNCTL_EV_BOUNDARY;
	ev.due_ns = 1;
	drainer_on_event(&f->d, &ev);
	drainer_schedule(&f->d);
	run_until(f, closed_or_walked);
	assert_non_null(fake_sink_find(&f->sink, BUS_CLOSED, 0));
	assert_int_equal(fake_sink_find(&f->sink, BUS_CLOSED, 0)->outcome, CLOSE_FIN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cancel_closes_through_the_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_waits_while_something_moved, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_drain_waits_for_new_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner_by_inode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gone_first_is_ended, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deleted_rule_forgotten, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blind_drain_closed_by_its_look, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_blind_drain_waits_for_its_answer, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_blind_drain_tie_walks_its_namespace, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_blind_drain_kernel_word_holds, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("drainer", tests, NULL, NULL);
}
